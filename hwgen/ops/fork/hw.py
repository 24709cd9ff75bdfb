"""A stream fork (FINN's DuplicateStreams): every transfer of one stream delivered once to each
of several consumers."""
from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .layer import ForkLayer

__all__ = ["Fork"]


class Fork(wiring.Component):
    """One input stream duplicated to ``outputs`` output streams.

    A transfer on ``i`` is offered on every output at once and taken from ``i`` once each
    output has had it; an output that takes it early is marked delivered and offered nothing
    until ``i`` moves on. So the outputs may take a transfer in different cycles, and one
    transfer per cycle flows while every output is ready.

    Parameters
    ----------
    layer : :class:`hwgen.ops.ForkLayer`

    Attributes
    ----------
    i : ``In(stream.Signature(unsigned(elements * bits)))``
        The transfers; ``i.ready`` is high when every output has had the transfer or takes it
        in this cycle (combinationally from the outputs' ``ready``, not from ``i.valid``).
    o0, o1, ... : ``Out(stream.Signature(unsigned(elements * bits)))``
        The same transfers, each once, in order; ``o<k>.valid`` is ``i.valid`` while output
        ``k`` has not had the transfer (from a register, not from ``o<k>.ready``).
    """

    def __init__(self, layer: ForkLayer):
        if not isinstance(layer, ForkLayer):
            raise TypeError(f"layer must be a ForkLayer, not {layer!r}")
        self.layer = layer
        shape = unsigned(layer.width)
        super().__init__({"i": In(stream.Signature(shape)),
                          **{f"o{k}": Out(stream.Signature(shape))
                             for k in range(layer.outputs)}})

    @property
    def outputs(self) -> list:
        """The output streams ``o0``, ``o1``, ..., in order."""
        return [getattr(self, f"o{k}") for k in range(self.layer.outputs)]

    def expected_cycles(self) -> int:
        return 0

    def elaborate(self, platform):
        m = Module()
        done = []
        for k, o in enumerate(self.outputs):
            sent = Signal(name=f"sent{k}")
            m.d.comb += [o.payload.eq(self.i.payload), o.valid.eq(self.i.valid & ~sent)]
            with m.If(self.i.valid & self.i.ready):
                m.d.sync += sent.eq(0)
            with m.Elif(o.valid & o.ready):
                m.d.sync += sent.eq(1)
            done.append(sent | o.ready)
        ready = done[0]
        for more in done[1:]:
            ready = ready & more
        m.d.comb += self.i.ready.eq(ready)
        return m
