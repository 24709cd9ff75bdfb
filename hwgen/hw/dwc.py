"""Stream data width converter: ``in_width``-bit transfers to ``out_width``-bit transfers."""
from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["WidthConverter"]


class WidthConverter(wiring.Component):
    """Re-chunks a bit stream; bit order is kept (the first-received bit is bit 0 of the
    first output).

    Frames of ``frame_bits`` bits must be multiples of both widths, so a frame never shares a
    transfer with the next one.

    Parameters
    ----------
    in_width, out_width : int
        Bits per input and per output transfer.

    Attributes
    ----------
    i : ``In(stream.Signature(in_width))``
    o : ``Out(stream.Signature(out_width))``
        Valid once ``out_width`` bits are buffered. Sustains one transfer per cycle on the
        wider side.
    """

    def __init__(self, *, in_width: int, out_width: int):
        for name, value in (("in_width", in_width), ("out_width", out_width)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        self.in_width = in_width
        self.out_width = out_width
        super().__init__({"i": In(stream.Signature(unsigned(in_width))),
                          "o": Out(stream.Signature(unsigned(out_width)))})

    def expected_cycles(self, frame_bits: int) -> int:
        """Transfers on the busier side per frame."""
        return frame_bits // min(self.in_width, self.out_width)

    def elaborate(self, platform):
        m = Module()
        capacity = self.in_width + self.out_width
        buffer = Signal(capacity)
        count = Signal(range(capacity + 1))
        take_out = Signal()
        take_in = Signal()
        remaining = Signal.like(count)
        kept = Signal(capacity)

        m.d.comb += [
            self.o.valid.eq(count >= self.out_width),
            self.o.payload.eq(buffer[:self.out_width]),
            take_out.eq(self.o.valid & self.o.ready),
            remaining.eq(Mux(take_out, count - self.out_width, count)),
            kept.eq(Mux(take_out, buffer >> self.out_width, buffer)),
            # Room for a whole input word once this cycle's output (if any) has left:
            # remaining + in_width <= capacity, as two compares of the register ``count`` that
            # this cycle's output selects between (no adder between o.ready and i.ready).
            self.i.ready.eq(Mux(take_out, count <= capacity - self.in_width + self.out_width,
                                count <= capacity - self.in_width)),
            take_in.eq(self.i.valid & self.i.ready),
        ]
        # Bits at and above ``count`` are always zero, so OR-ing the new word in is enough.
        with m.If(take_in):
            m.d.sync += [buffer.eq(kept | (self.i.payload << remaining)),
                         count.eq(remaining + self.in_width)]
        with m.Else():
            m.d.sync += [buffer.eq(kept), count.eq(remaining)]
        return m
