"""Channel concatenation of two or more streams of one image size."""
from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...lib.skid import skid_output
from .layer import ConcatLayer

__all__ = ["Concat"]


class Concat(wiring.Component):
    """Channel concatenation: a pixel of every input in, the pixel of all their channels out,
    one pixel a cycle.

    A transfer is taken from every input together, when all offer one and the output can
    take the result.

    Parameters
    ----------
    layer : :class:`hwgen.ops.ConcatLayer`

    Attributes
    ----------
    i0, i1, ... : ``In(stream.Signature(unsigned(channels[k] * bits)))``
        Input ``k``'s image, a whole pixel a transfer, channel ``c``'s element at bits
        ``c*bits ..``. Ready while every other input is valid and the output has room (from
        registers).
    o : ``Out(stream.Signature(unsigned(sum(channels) * bits)))``
        The pixels, input 0's channels at the lowest bits, then input 1's, ...; registered,
        with a skid register behind the output register.
    """

    def __init__(self, layer: ConcatLayer):
        if not isinstance(layer, ConcatLayer):
            raise TypeError(f"layer must be a ConcatLayer, not {layer!r}")
        self.layer = layer
        super().__init__({
            **{f"i{k}": In(stream.Signature(unsigned(channels * layer.bits)))
               for k, channels in enumerate(layer.channels)},
            "o": Out(stream.Signature(unsigned(layer.out_channels * layer.bits)))})

    @property
    def inputs(self) -> list:
        """The input streams ``i0``, ``i1``, ..., in order."""
        return [getattr(self, f"i{k}") for k in range(self.layer.inputs)]

    def expected_cycles(self) -> int:
        return self.layer.expected_cycles()

    def elaborate(self, platform):
        m = Module()
        inputs = self.inputs
        take = Signal()
        advance = Signal()
        for k, i in enumerate(inputs):
            others = advance
            for j, other in enumerate(inputs):
                if j != k:
                    others = others & other.valid
            m.d.comb += i.ready.eq(others)
        every = advance
        for i in inputs:
            every = every & i.valid
        m.d.comb += take.eq(every)
        m.d.comb += advance.eq(skid_output(m, self.o, Cat(*(i.payload for i in inputs)), take))
        return m
