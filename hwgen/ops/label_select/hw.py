"""Label select: the index of the largest logit of each frame (FINN's LabelSelect, top-1)."""
from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...lib.skid import skid_output

__all__ = ["LabelSelect", "result_layout", "compare_stages"]

#: Compare levels of the argmax tree between two registers: a compare of two logits and the
#: multiplexers it drives (a carry chain and routing) fill most of a cycle of the KWS goal's
#: clock, so one per stage (``bench/timing.py`` measures it).
COMPARES_PER_STAGE = 1


def greater(a, b):
    """``a > b`` of two signed values of one width, compared as unsigned with their sign bits
    flipped (offset binary): one carry chain, without the signed compare's sign fix-up."""
    top = 1 << (len(a) - 1)
    return (a.as_unsigned() ^ top) > (b.as_unsigned() ^ top)


def result_layout(classes: int, logit_bits: int) -> data.StructLayout:
    """A network's result: the winning class and every logit."""
    return data.StructLayout({
        "label": unsigned(max(1, (classes - 1).bit_length())),
        "logits": data.ArrayLayout(signed(logit_bits), classes),
    })


class LabelSelect(wiring.Component):
    """Collects a frame's logits, ``pe`` per transfer, and emits its argmax with the logits.

    Ties go to the lowest class index (as ``torch.argmax``).

    Parameters
    ----------
    classes : int
        Logits per frame; a multiple of ``pe``.
    pe : int
        Logits per input transfer.
    logit_bits : int
        Width of a signed logit.

    Attributes
    ----------
    i : ``In(stream.Signature(data.ArrayLayout(signed(logit_bits), pe)))``
        Transfer ``k`` of a frame carries classes ``k*pe .. k*pe+pe-1``.
    o : ``Out(stream.Signature(result_layout(classes, logit_bits)))``
        One transfer per frame, registered, :attr:`latency` cycles after the frame's last
        input transfer (first transfer: ``o.valid`` that many cycles after ``i.valid & i.ready``). Input is accepted, and every stage of the pipeline moves, while the
        skid register behind the output register is empty (it fills only when a result meets
        a held output), so one transfer per cycle when not stalled.
    """

    def __init__(self, *, classes: int, pe: int, logit_bits: int):
        if not isinstance(pe, int) or pe < 1:
            raise ValueError(f"pe must be a positive integer, not {pe!r}")
        if not isinstance(classes, int) or classes < 1 or classes % pe:
            raise ValueError(f"classes must be a positive multiple of pe={pe}, not {classes!r}")
        if not isinstance(logit_bits, int) or logit_bits < 2:
            raise ValueError(f"logit_bits must be an integer of at least 2, not {logit_bits!r}")
        self.classes, self.pe, self.logit_bits = classes, pe, logit_bits
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(logit_bits), pe))),
            "o": Out(stream.Signature(result_layout(classes, logit_bits))),
        })

    def expected_cycles(self) -> int:
        return self.classes // self.pe

    @property
    def latency(self) -> int:
        """Cycles from a frame's last input transfer to its result's ``valid``, without stalls:
        the compare tree's register stages, the frame's running best and the output register."""
        return compare_stages(self.pe) + 2

    def elaborate(self, platform):
        m = Module()
        pe, chunks = self.pe, self.classes // self.pe
        label_shape = unsigned(max(1, (self.classes - 1).bit_length()))
        local_shape = unsigned(max(1, (pe - 1).bit_length()))
        advance = Signal()
        take = Signal()
        base = Signal(label_shape)          # class of the transfer's logit 0: a multiple of pe
        m.d.comb += [
            self.i.ready.eq(advance),
            take.eq(self.i.valid & advance),
        ]
        with m.If(take):
            m.d.sync += base.eq(Mux(base == self.classes - pe, 0, base + pe))

        # The transfer's best (earliest wins ties) by a tree of compares over neighbours, a
        # register stage after every COMPARES_PER_STAGE levels; the control and the logits
        # travel beside it. Every stage moves on ``advance``.
        valid, first, last = take, base == 0, base == self.classes - pe
        logits = self.i.payload
        candidates = [(self.i.payload[j], Const(j, local_shape)) for j in range(pe)]
        for stage in range(compare_stages(pe)):
            for _ in range(COMPARES_PER_STAGE):
                candidates = _compare_level(candidates)
            registers = (Signal(name=f"t{stage}_valid"), Signal(name=f"t{stage}_first"),
                         Signal(name=f"t{stage}_last"), Signal(label_shape, name=f"t{stage}_base"),
                         Signal(len(Value.cast(logits)), name=f"t{stage}_logits"))
            best = [(Signal(signed(self.logit_bits), name=f"t{stage}_value{k}"),
                     Signal(local_shape, name=f"t{stage}_index{k}"))
                    for k in range(len(candidates))]
            with m.If(advance):
                m.d.sync += [register.eq(value) for register, value in
                             zip(registers, (valid, first, last, base, logits))]
                m.d.sync += [register.eq(value) for pair, candidate in zip(best, candidates)
                             for register, value in zip(pair, candidate)]
            valid, first, last, base, logits = registers
            candidates = best
        (chunk_value, chunk_index), = candidates

        # Against the running best of the frame: a later transfer replaces it only when strictly
        # larger. The frame's logits gather in a shift register, oldest in the low bits. The
        # result is offered the cycle after the last transfer, from these registers: the
        # compare drives only the running best, not the output and skid registers too (with
        # them, and fc5's output register as its input, it was the KWS top's critical path).
        # A next frame's first transfer in that cycle overwrites them as they are read.
        best_value = Signal(signed(self.logit_bits))
        best_index = Signal(label_shape)
        chunk_bits = pe * self.logit_bits
        frame_logits = Signal(chunks * chunk_bits)
        done = Signal()
        replace = first | greater(chunk_value, best_value)
        with m.If(advance):
            m.d.sync += done.eq(valid & last)
            with m.If(valid):
                with m.If(replace):
                    m.d.sync += [best_value.eq(chunk_value), best_index.eq(base + chunk_index)]
                m.d.sync += frame_logits.eq(Cat(frame_logits[chunk_bits:], logits)
                                            if chunks > 1 else logits)
        result = Signal(self.o.payload.shape())
        m.d.comb += [result.label.eq(best_index), result.logits.eq(frame_logits)]
        # The output register with a skid register behind it (:func:`skid_output`): every stage
        # moves on ``advance``, a register, not on ``o.ready``.
        m.d.comb += advance.eq(skid_output(m, self.o, result, done))
        return m


def _compare_level(candidates: list) -> list:
    """One level of the argmax tree over ``(value, index)`` pairs in index order: of two
    neighbours the later wins only when strictly larger; an odd last one passes on."""
    winners = []
    for (value_a, index_a), (value_b, index_b) in zip(candidates[0::2], candidates[1::2]):
        larger = greater(value_b, value_a)
        winners.append((Mux(larger, value_b, value_a), Mux(larger, index_b, index_a)))
    if len(candidates) % 2:
        winners.append(candidates[-1])
    return winners


def compare_stages(pe: int) -> int:
    """Register stages of the argmax tree over ``pe`` logits: ``ceil(log2(pe))`` compare
    levels, :data:`COMPARES_PER_STAGE` to a stage; at least one, so that with ``pe=1`` the
    running compare reads a register of this block (placed by it), not the producer's output."""
    return max(1, -(-(pe - 1).bit_length() // COMPARES_PER_STAGE))
