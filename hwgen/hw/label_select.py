"""Label select: the index of the largest logit of each frame (FINN's LabelSelect, top-1)."""
from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["LabelSelect", "result_layout"]


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
        One transfer per frame, registered. Input is accepted every cycle except the last
        transfer of a frame while the previous result is still waiting.
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

    def elaborate(self, platform):
        m = Module()
        chunks = self.classes // self.pe
        label_shape = unsigned(max(1, (self.classes - 1).bit_length()))
        chunk = Signal(range(chunks))
        last = Signal()
        take = Signal()
        m.d.comb += [
            last.eq(chunk == chunks - 1),
            self.i.ready.eq(~last | ~self.o.valid | self.o.ready),
            take.eq(self.i.valid & self.i.ready),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        # Best of this transfer (earliest wins ties), then against the running best:
        # a later transfer replaces it only when strictly larger.
        best_value = Signal(signed(self.logit_bits))
        best_index = Signal(label_shape)
        values = [self.i.payload[j] for j in range(self.pe)]
        value, index = values[0], chunk * self.pe
        for j in range(1, self.pe):
            larger = values[j] > value
            value = Mux(larger, values[j], value)
            index = Mux(larger, chunk * self.pe + j, index)
        chunk_value = Signal(signed(self.logit_bits))
        chunk_index = Signal(label_shape)
        m.d.comb += [chunk_value.eq(value), chunk_index.eq(index)]

        # Earlier transfers of the frame, oldest in the low bits (a shift register).
        chunk_bits = self.pe * self.logit_bits
        earlier = Signal((chunks - 1) * chunk_bits)
        with m.If(take):
            replace = (chunk == 0) | (chunk_value > best_value)
            winner_value = Mux(replace, chunk_value, best_value)
            winner_index = Mux(replace, chunk_index, best_index)
            m.d.sync += [best_value.eq(winner_value), best_index.eq(winner_index)]
            with m.If(last):
                m.d.sync += [chunk.eq(0), self.o.valid.eq(1),
                             self.o.payload.label.eq(winner_index),
                             self.o.payload.logits.eq(Cat(earlier, self.i.payload))]
            with m.Else():
                m.d.sync += chunk.eq(chunk + 1)
                if chunks > 1:
                    m.d.sync += earlier.eq(Cat(earlier[chunk_bits:], self.i.payload))
        return m

