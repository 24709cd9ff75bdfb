"""Sliding-window generator (FINN's ConvolutionInputGenerator) with a ring of line buffers."""
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ...lib.skid import skid_output
from .layer import SWGLayer, ring_rows

__all__ = ["SlidingWindow", "writer_late"]


#: Bits of a window generator's row gap up to which its steps are tables of its bits (in LUTs)
#: rather than adders: 7 for the KWS's 49 rows; a 256-row image's would take 10.
GAP_TABLE_BITS = 8


def writer_late(layer: SWGLayer) -> bool:
    """Whether :class:`SlidingWindow`'s reader sees a written row a cycle late (a shorter path
    into its issue logic): where the reader has more to send than the writer to take by more
    than a cycle for each row and one for the frame, the writer runs ahead at full rate and the
    reader does not wait on it, so the late cycles cost none of the rate; elsewhere it is
    exact."""
    return layer.out_elements // layer.simd > layer.in_elements // layer.simd + layer.height + 1


class SlidingWindow(wiring.Component):
    """Turns an image stream into the stream of its convolution windows.

    Stream orders and padding are those of :class:`hwgen.ir.SWGLayer`. The image is written
    into a ring of :func:`~.layer.ring_rows` line buffers as it arrives; windows are read from
    it, one transfer per cycle. A window is read once all its rows are in; a row is overwritten only
    when no remaining window of the frame needs it. The writer may run one frame ahead of the
    reader, and the reader one frame ahead of the writer (when the last rows of an image fall in
    no window), so consecutive frames overlap; but no window of a frame, padding included, is
    sent before that frame's first transfer has arrived. The read and the output each take a
    register stage: a window transfer leaves two cycles after it is issued; a skid register
    behind the output keeps ``o.ready`` out of the reader's logic.

    Parameters
    ----------
    layer : :class:`hwgen.ir.SWGLayer`

    Attributes
    ----------
    i : ``In(stream.Signature(unsigned(simd * elem_bits)))``
        Image transfers: element ``k`` at bits ``k*elem_bits ..``.
    o : ``Out(stream.Signature(unsigned(simd * elem_bits)))``
        Window transfers; padding elements are zero.
    """

    def __init__(self, layer: SWGLayer):
        if not isinstance(layer, SWGLayer):
            raise TypeError(f"layer must be an SWGLayer, not {layer!r}")
        self.layer = layer
        width = layer.simd * layer.elem_bits
        super().__init__({"i": In(stream.Signature(unsigned(width))),
                          "o": Out(stream.Signature(unsigned(width)))})

    def expected_cycles(self) -> int:
        return self.layer.expected_cycles()

    def elaborate(self, platform):
        layer = self.layer
        (kh, kw), (sh, sw), (ph, pw) = layer.kernel, layer.stride, layer.padding
        height, width, cf_count = layer.height, layer.width, layer.cf
        out_h, out_w = layer.out_height, layer.out_width
        rows = ring_rows(layer)
        row_words = width * cf_count
        m = Module()

        m.submodules.lines = lines = memory.Memory(
            shape=unsigned(layer.simd * layer.elem_bits), depth=rows * row_words, init=[])
        write = lines.write_port()
        read = lines.read_port()

        # Frames the writer is ahead of the reader: -1, 0 or 1.
        ahead = Signal(range(-1, 2))
        writer_done = Signal()
        reader_done = Signal()

        # --- reader ------------------------------------------------------------------------
        # The window element (iy, ix, cf) the counters point at, and its line-buffer address
        # ``(B + iy * RW + ix * CF + cf) mod D`` (B: ring row of the frame's image row 0 times
        # RW = row words; D = ring words), are registers stepped by constants as the counters
        # wrap, so the read needs no adder or multiplier after its registers.
        depth = rows * row_words
        oy = Signal(range(out_h))
        ox = Signal(range(out_w))
        ky = Signal(range(kh))
        kx = Signal(range(kw))
        cf = Signal(range(cf_count))
        # The writer may write image rows below ``limit``: the first row the reader still
        # needs (max(0, oy * SH - PH)) plus the ring's rows; of the next frame, rows below
        # ``limit - height``. Registers, so that the writer's handshake compares registers.
        limit = Signal(range(rows, height + rows + 1), init=rows)
        next_limit = Signal(range(rows - height, rows + 1), init=rows - height)
        iy = Signal(range(-ph, height + kh), init=-ph)
        ix = Signal(range(-pw, width + kw), init=-pw)
        address = Signal(range(depth), init=(-ph * row_words - pw * cf_count) % depth)
        pad = Signal()
        row_ready = Signal()
        advance = Signal()
        issue = Signal()
        read_valid = Signal()           # the read port's data is a window transfer
        read_pad = Signal()
        w_row = Signal(range(height))
        w_started = Signal()            # the writer is inside a frame
        row_in = Signal(init=ph > 0)    # the row the reader points at is written (a cycle late)

        # Whether iy and ix fall in the padding: registers set as iy and ix step (the old value
        # compared with constants), so the reader's issue logic starts at registers.
        row_pad = Signal(init=ph > 0)
        col_pad = Signal(init=pw > 0)

        def outside(value, delta, size):
            """Whether ``value + delta`` is outside ``0 .. size - 1``: ``value`` compared with
            constants (no adder in front of the compares)."""
            return (value < -delta) | (value >= size - delta)

        def move_iy(delta: int):
            m.d.sync += [iy.eq(iy + delta), row_pad.eq(outside(iy, delta, height))]

        def move_ix(delta: int):
            m.d.sync += [ix.eq(ix + delta), col_pad.eq(outside(ix, delta, width))]

        m.d.comb += [
            pad.eq(row_pad | col_pad),
            # Padding needs no row, but waits for its frame to begin: no output before input.
            row_ready.eq((ahead == 1) | ((ahead == 0) & Mux(pad, w_started, row_in))),
            issue.eq(advance & row_ready),
            read.en.eq(advance),
            read.addr.eq(address),
        ]
        # Read, then the padding multiplexer into the output register (a block RAM's output is
        # slow), with a skid register behind it (:func:`skid_output`): the reader moves on
        # ``advance``, a register, not on ``o.ready``.
        with m.If(advance):
            m.d.sync += [read_valid.eq(issue), read_pad.eq(pad)]
        m.d.comb += advance.eq(skid_output(m, self.o, Mux(read_pad, 0, read.data), read_valid))

        last = {"cf": cf == cf_count - 1, "kx": kx == kw - 1, "ky": ky == kh - 1,
                "ox": ox == out_w - 1, "oy": oy == out_h - 1}
        m.d.comb += reader_done.eq(issue & last["cf"] & last["kx"] & last["ky"] & last["ox"]
                                   & last["oy"])
        row_step = -(kw * cf_count) + 1                  # back to the window's column 0, cf 0
        line_step = -((out_w - 1) * sw + kw) * cf_count + 1   # back to image column -PW

        def step(delta: int):
            """``address`` moves by ``delta`` words, modulo the ring."""
            delta %= depth
            moved = address + delta
            m.d.sync += address.eq(Mux(moved >= depth, moved - depth, moved))

        with m.If(issue):
            m.d.sync += cf.eq(Mux(last["cf"], 0, cf + 1))
            with m.If(~last["cf"] | ~last["kx"]):
                step(1)
                with m.If(last["cf"]):
                    m.d.sync += kx.eq(kx + 1)
                    move_ix(1)
            with m.Else():
                m.d.sync += kx.eq(0)
                with m.If(~last["ky"]):
                    m.d.sync += ky.eq(ky + 1)
                    move_iy(1)
                    move_ix(-(kw - 1))
                    step(row_words + row_step)
                with m.Else():
                    m.d.sync += ky.eq(0)
                    with m.If(~last["ox"]):
                        m.d.sync += ox.eq(ox + 1)
                        move_iy(-(kh - 1))
                        move_ix(sw - (kw - 1))
                        step(-(kh - 1) * row_words + (sw - kw) * cf_count + 1)
                    with m.Else():
                        m.d.sync += [ox.eq(0), ix.eq(-pw), col_pad.eq(pw > 0)]
                        with m.If(~last["oy"]):
                            m.d.sync += oy.eq(oy + 1)
                            move_iy(sh - (kh - 1))
                            step((sh - kh + 1) * row_words + line_step)
                        with m.Else():
                            # The next frame's image row 0 is ``height`` rows further round.
                            m.d.sync += [oy.eq(0), iy.eq(-ph), row_pad.eq(ph > 0)]
                            step((height - (out_h - 1) * sh - kh + 1) * row_words + line_step)

        # --- writer ------------------------------------------------------------------------
        w_x = Signal(range(width))
        w_cf = Signal(range(cf_count))
        w_address = Signal(range(rows * row_words))
        allowed = Signal()
        take = Signal()
        # ``allowed`` is a register, computed for the next cycle's state (ahead, w_row, limit,
        # next_limit as the counters set them): the input handshake, which reaches the FIFO
        # before this block, starts at a register, not at the comparators. That state
        # changes only at a writer row's end and a reader line's end, both known late in the
        # cycle; so the comparisons are made for each of the four cases from registers alone,
        # and the two events only pick one.
        row_end = take & (w_cf == cf_count - 1) & (w_x == width - 1)
        line_end = issue & last["cf"] & last["kx"] & last["ky"] & last["ox"]
        # limit and next_limit after a reader line's end (the next frame's after its last): a
        # constant for each output row, so tables indexed by ``oy`` (no adder chain), registered
        # (looked up a cycle after ``oy`` changes, so fresh by the next line end where lines
        # are two or more cycles apart: a line is kw * kh * cf reads per output column; a shape
        # with one-cycle lines keeps them combinational).
        def ahead_of(value, init, events_apart: int, name: str):
            if events_apart < 2:
                return value
            register = Signal.like(value, init=init, name=name)
            m.d.sync += register.eq(value)
            return register

        def after_line(row: int) -> int:
            """The writer's limit after the reader's line end at output row ``row``."""
            return rows if row == out_h - 1 else max(0, (row + 1) * sh - ph) + rows

        limit_table = Array(Const(after_line(row), limit.shape()) for row in range(out_h))
        next_table = Array(Const(after_line(row) - height, next_limit.shape())
                           for row in range(out_h))
        line_limit = ahead_of(limit_table[oy], after_line(0), kw * kh * cf_count * out_w,
                              "line_limit")
        line_next_limit = ahead_of(next_table[oy], after_line(0) - height,
                                   kw * kh * cf_count * out_w, "line_next_limit")
        # w_row after a writer row's end, and whether w_row and it are the last row: registers
        # stepped with w_row (a shape whose rows are one word long ends a row every transfer).
        w_row_step = Signal(range(height), init=1 % height)
        step_last = Signal(init=height <= 2)
        w_last_row = Signal(init=height == 1)
        with m.If(row_end):
            m.d.sync += [w_row_step.eq(Mux(step_last, 0, w_row_step + 1)),
                         step_last.eq(w_row_step == height - 2 if height > 1 else 1),
                         w_last_row.eq(step_last)]
        # ``gap``, ``w_row - iy``, and ``row_in``, ``gap > 0``: registers, so the reader's issue
        # (which the writer's ready waits on at a line end) starts at registers, not at a
        # comparator. Both step by few constants: the writer's (0, 1 or back to row 0) and the
        # reader's (one for each counter that wraps), so ``gap + w - c`` and ``gap + w > c``
        # are computed for each pair from the register alone, and the events (whether a row
        # ends, which counters wrap) only pick one. With :func:`writer_late`
        # the writer's step reaches them a cycle late, from registers: ``gap`` is the writer's
        # row of a cycle ago less iy, a written row shows a cycle later (which only delays the
        # reader), a frame's last row clears ``row_in`` for that cycle (the old row number would
        # overstate it), and only the reader's events come late in the cycle.
        late = writer_late(layer)
        gap = Signal(range(-(height + kh), height + ph + 1), init=ph)
        frame_end = row_end & w_last_row
        w_steps = [(row_end & ~w_last_row, 1), (frame_end, -(height - 1))]
        if late:
            registered = [Signal(name=f"w_step{index}") for index in range(len(w_steps))]
            m.d.sync += [flag.eq(when) for flag, (when, _step) in zip(registered, w_steps)]
            w_steps = [(flag, step) for flag, (_when, step) in zip(registered, w_steps)]
        wrap = last["cf"] & last["kx"]
        iy_steps = [
            (~issue | ~wrap, 0),
            (issue & wrap & ~last["ky"], 1),
            (issue & wrap & last["ky"] & ~last["ox"], -(kh - 1)),
            (issue & wrap & last["ky"] & last["ox"] & ~last["oy"], sh - (kh - 1)),
            (issue & wrap & last["ky"] & last["ox"] & last["oy"],       # to row -PH
             -((out_h - 1) * sh + kh - 1)),
        ]
        when = {}
        for iy_when, iy_step in iy_steps:
            when.setdefault(iy_step, []).append(iy_when)
        # Each ``gap + d`` and ``gap + d > 0`` is a table of the register's bits (a function of
        # a few bits, in LUTs), not an adder: Yosys merges a compare with the subtraction of
        # the same constant into one carry chain and chains those, and a gap through two
        # carry chains and a pick set the KWS top's Fmax on most seeds. A gap of more than
        # GAP_TABLE_BITS bits (a tall image), whose tables would be large: adders.
        bits = len(gap)

        def table(function, width):
            values = [function(u - (1 << bits) if u >> (bits - 1) else u)
                      for u in range(1 << bits)]
            return Array(Const(value, width) for value in values)[gap.as_unsigned()]

        def plus(d):
            """``gap + d`` (its low bits)."""
            if bits > GAP_TABLE_BITS:
                return (gap + d)[:bits]
            return table(lambda v: (v + d) & ((1 << bits) - 1), bits)

        def above(d):
            """``gap + d > 0``."""
            if bits > GAP_TABLE_BITS:
                return gap > -d
            return table(lambda v: int(v + d > 0), 1)

        next_gap, next_in = Const(0, bits), Const(0)
        for index, (iy_step, events) in enumerate(sorted(when.items())):
            # gap + w - c and gap + w - c > 0 for the writer's step w (none: 0).
            moved, moved_in = plus(-iy_step), above(-iy_step)
            for w_when, w_step in w_steps:
                moved = Mux(w_when, plus(w_step - iy_step), moved)
                moved_in = Mux(w_when, above(w_step - iy_step), moved_in)
            chosen = Signal(name=f"gap_step{index}")
            m.d.comb += chosen.eq(Cat(*events).any())
            next_gap = next_gap | Mux(chosen, moved, 0)
            next_in = next_in | (chosen & moved_in)
        m.d.sync += [gap.eq(next_gap), row_in.eq(next_in & ~frame_end if late else next_in)]

        cases = []
        for rows_done in (0, 1):
            for lines_done in (0, 1):
                row = w_row_step if rows_done else w_row
                row_limit = line_limit if lines_done else limit
                row_next_limit = line_next_limit if lines_done else next_limit
                lead = (ahead + (w_last_row if rows_done else 0)
                        - (last["oy"] if lines_done else 0))
                case = Signal(name=f"allowed_{rows_done}{lines_done}")
                row_last = step_last if rows_done else w_last_row
                m.d.comb += case.eq((lead == -1) | ((lead == 0) & (row < row_limit))
                                    | ((lead == 1) & ~row_last
                                       & (row < row_next_limit)))
                cases.append(case)
        m.d.sync += allowed.eq(Array(cases)[Cat(line_end, row_end)])
        m.d.sync += [
            ahead.eq(ahead + writer_done - reader_done),
            w_row.eq(Mux(row_end, w_row_step, w_row)),
            limit.eq(Mux(line_end, line_limit, limit)),
            next_limit.eq(Mux(line_end, line_next_limit, next_limit)),
        ]
        m.d.comb += [
            self.i.ready.eq(allowed),
            take.eq(self.i.valid & allowed),
            write.en.eq(take),
            write.addr.eq(w_address),
            write.data.eq(self.i.payload),
            writer_done.eq(take & w_last_row & (w_x == width - 1) & (w_cf == cf_count - 1)),
        ]
        with m.If(take):
            # w_started a register: set by a frame's first word, cleared by its last.
            m.d.sync += [w_started.eq(~writer_done),
                         w_address.eq(Mux(w_address == rows * row_words - 1, 0, w_address + 1)),
                         w_cf.eq(Mux(w_cf == cf_count - 1, 0, w_cf + 1))]
            with m.If(w_cf == cf_count - 1):
                m.d.sync += w_x.eq(Mux(w_x == width - 1, 0, w_x + 1))
        return m
