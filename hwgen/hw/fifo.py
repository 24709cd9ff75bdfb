"""A stream FIFO between layers (block-RAM friendly: :class:`amaranth.lib.fifo.SyncFIFOBuffered`)."""
from amaranth.hdl import Module, Shape
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StreamFIFO"]


class StreamFIFO(wiring.Component):
    """First-in first-out buffer on a stream.

    Parameters
    ----------
    shape : shape-castable
        Payload shape of ``i`` and ``o``.
    depth : int
        Entries held.

    Attributes
    ----------
    i : ``In(stream.Signature(shape))``
        Accepted while not full.
    o : ``Out(stream.Signature(shape))``
        Valid while not empty; entries leave in arrival order. Latency one cycle more than
        ``SyncFIFO`` (the read is registered), throughput one transfer per cycle.
    """

    def __init__(self, *, shape, depth: int):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive integer, not {depth!r}")
        self.shape = shape
        self.depth = depth
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def expected_cycles(self) -> int:
        return 0

    def elaborate(self, platform):
        m = Module()
        m.submodules.queue = queue = fifo.SyncFIFOBuffered(
            width=Shape.cast(self.shape).width, depth=self.depth)
        m.d.comb += [
            queue.w_data.eq(self.i.payload),
            queue.w_en.eq(self.i.valid),
            self.i.ready.eq(queue.w_rdy),
            self.o.payload.eq(queue.r_data),
            self.o.valid.eq(queue.r_rdy),
            queue.r_en.eq(self.o.ready),
        ]
        return m
