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
    monitored : bool
        Add the ``level`` and ``limit`` ports (for FIFO sizing by simulation).

    Attributes
    ----------
    i : ``In(stream.Signature(shape))``
        Accepted while not full.
    o : ``Out(stream.Signature(shape))``
        Valid while not empty; entries leave in arrival order. Latency one cycle more than
        ``SyncFIFO`` (the read is registered), throughput one transfer per cycle.
    level : ``Out(range(depth + 1))``, with ``monitored`` only
        Entries held now.
    limit : ``In(range(depth + 1))``, with ``monitored`` only
        Input is accepted only while fewer than ``limit`` entries are held: the FIFO behaves as
        one of depth ``limit``.
    """

    def __init__(self, *, shape, depth: int, monitored: bool = False):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive integer, not {depth!r}")
        self.shape = shape
        self.depth = depth
        members = {"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))}
        if monitored:
            members["level"] = Out(range(depth + 1))
            members["limit"] = In(range(depth + 1))
        super().__init__(members)

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
        if "level" in self.signature.members:
            m.d.comb += [
                self.level.eq(queue.level),
                self.i.ready.eq(queue.w_rdy & (queue.level < self.limit)),
                queue.w_en.eq(self.i.valid & (queue.level < self.limit)),
            ]
        return m
