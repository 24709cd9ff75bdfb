"""Stream data width converter: ``in_width``-bit transfers to ``out_width``-bit transfers."""
import math

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .layer import dwc_capacity

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
    vector_width, pad_width : int or None, int
        With ``vector_width`` (a multiple of ``in_width``), ``pad_width`` zero bits follow
        each vector of that many bits (``vector_width + pad_width`` a multiple of
        ``out_width``, ``pad_width`` of ``gcd(in_width, out_width)``): the fill level jumps
        over them when a vector's last word lands (the bits above the level are zero).

    Attributes
    ----------
    i : ``In(stream.Signature(in_width))``
        Ready while the buffer (:func:`dwc_capacity` bits) has room for a word before this
        cycle's output, if any, leaves: a compare of the fill-level register, so ``i.ready``
        does not follow ``o.ready``. Once the output has been held until the buffer is full,
        input resumes the cycle after the output moves.
    o : ``Out(stream.Signature(out_width))``
        Valid once ``out_width`` bits are buffered. Sustains one transfer per cycle on the
        narrower side while ``o.ready`` stays high.
    """

    def __init__(self, *, in_width: int, out_width: int, vector_width: int | None = None,
                 pad_width: int = 0):
        for name, value in (("in_width", in_width), ("out_width", out_width)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        step = math.gcd(in_width, out_width)
        if pad_width and (vector_width is None or vector_width % in_width or pad_width % step
                          or (vector_width + pad_width) % out_width):
            raise ValueError(f"padding {pad_width} bits after vectors of {vector_width} bits "
                             f"needs whole {in_width}-bit input words, a multiple of {step} "
                             f"bits and whole {out_width}-bit output words")
        self.in_width = in_width
        self.out_width = out_width
        self.vector_width = vector_width if pad_width else None
        self.pad_width = pad_width
        super().__init__({"i": In(stream.Signature(unsigned(in_width))),
                          "o": Out(stream.Signature(unsigned(out_width)))})

    def expected_cycles(self, frame_bits: int) -> int:
        """Transfers on the busier side per frame (of ``frame_bits`` bits before padding)."""
        if self.vector_width is None:
            return frame_bits // min(self.in_width, self.out_width)
        vectors = frame_bits // self.vector_width
        return max(frame_bits // self.in_width,
                   vectors * (self.vector_width + self.pad_width) // self.out_width)

    def elaborate(self, platform):
        m = Module()
        capacity = dwc_capacity(self.in_width, self.out_width, self.pad_width)
        # The fill level counts steps of gcd(in, out) bits, the only levels the buffer takes:
        # a few bits, so each compare below is a LUT, not a carry chain.
        step = math.gcd(self.in_width, self.out_width)
        steps_in, steps_out, steps = self.in_width // step, self.out_width // step, capacity // step
        # A vector's last word brings its padding's steps too (zero bits above the level).
        pad_steps = self.pad_width // step
        if pad_steps:
            words = self.vector_width // self.in_width
            word = Signal(range(words))
            last_word = Signal()
            m.d.comb += last_word.eq(word == words - 1)
        buffer = Signal(capacity)
        count = Signal(range(steps + 1))
        take_out = Signal()
        take_in = Signal()
        merged = Signal(capacity)
        arriving = Signal(capacity)

        m.d.comb += [
            self.o.valid.eq(count >= steps_out),
            self.o.payload.eq(buffer[:self.out_width]),
            take_out.eq(self.o.valid & self.o.ready),
            # Room for a whole input word even if this cycle's output stays: one compare of
            # the register ``count``, no path from o.ready (the producer's output register
            # enables hang on i.ready).
            self.i.ready.eq(Mux(last_word, count <= steps - steps_in - pad_steps,
                                count <= steps - steps_in) if pad_steps
                            else count <= steps - steps_in),
            take_in.eq(self.i.valid & self.i.ready),
        ]
        if pad_steps:
            with m.If(take_in):
                m.d.sync += word.eq(Mux(last_word, 0, word + 1))
        arrive = steps_in + pad_steps
        # The input word lands at the level ``count`` (a register), then the output word, if
        # it leaves, is shifted out: o.ready only selects that shift. Bits at and above the
        # level are always zero, so OR-ing the word in is enough.
        with m.Switch(count):
            for level in range(steps - steps_in + 1):
                with m.Case(level):
                    m.d.comb += arriving.eq(self.i.payload << (level * step))
        m.d.comb += merged.eq(Mux(take_in, buffer | arriving, buffer))
        m.d.sync += buffer.eq(Mux(take_out, merged >> self.out_width, merged))
        # The next level from sums of the register ``count`` and constants, selected by the
        # handshakes: no adder after them.
        if pad_steps:
            grown = Mux(last_word, count + arrive, count + steps_in)
            grown_out = Mux(last_word, count + (arrive - steps_out), count + (steps_in - steps_out))
        else:
            grown, grown_out = count + steps_in, count + (steps_in - steps_out)
        m.d.sync += count.eq(Mux(take_in, Mux(take_out, grown_out, grown),
                                 Mux(take_out, count - steps_out, count)))
        return m
