"""A stream FIFO between layers (block-RAM friendly: :class:`amaranth.lib.fifo.SyncFIFOBuffered`)."""
from amaranth.hdl import Module, Mux, Shape, Signal
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
        The FIFO behaves as one of depth ``limit``, cycle for cycle where ``limit`` is 2 or
        more (at 1 it holds one word, but passes it a cycle later than a FIFO of depth 1). A
        ``SyncFIFOBuffered`` of depth ``d`` is a memory of ``d - 1`` entries and an output
        register, and accepts input while its memory holds fewer than ``d - 1``; so the
        monitored one accepts while its memory holds fewer than ``limit - 1``. (At depth 2
        that memory is one entry, written one cycle and read into the output register the
        next: a FIFO of depth 2 passes one transfer every other cycle, and FIFO sizing must
        see that.)
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
            held = Signal(range(self.depth + 1))         # in the memory, not the register
            accept = Signal()
            m.d.comb += [
                held.eq(queue.level - queue.r_rdy),
                accept.eq(queue.w_rdy & Mux(self.limit == 1, queue.level == 0,
                                            held + 1 < self.limit)),
                self.level.eq(queue.level),
                self.i.ready.eq(accept),
                queue.w_en.eq(self.i.valid & accept),
            ]
        return m
