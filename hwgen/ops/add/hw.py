"""Elementwise add of two streams of one image, with an integer or a thresholded result."""
from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ...lib.popcount import popcount
from ...lib.skid import skid_output
from .layer import AddLayer

__all__ = ["Add", "threshold_words"]


def threshold_words(layer: AddLayer) -> list[int]:
    """The threshold memory: word ``g`` holds channels ``g * PE ..``, lane ``i`` (channel
    ``g * PE + i``) at bits ``i * (steps * threshold_bits + 1) ..``: its thresholds
    (``threshold_bits`` each, step ``t`` at ``t * threshold_bits``) and its invert flag above
    them. (Python integers: a word may be wider than 64 bits.)"""
    bits, steps, pe = layer.threshold_bits, layer.steps, layer.pe
    lane_bits = steps * bits + 1
    lanes = [sum(int(value) << (t * bits) for t, value in enumerate(row))
             | (int(flag) << (steps * bits))
             for row, flag in zip(layer.thresholds, layer.invert)]
    return [sum(lane << (i * lane_bits) for i, lane in enumerate(lanes[g * pe:(g + 1) * pe]))
            for g in range(layer.cf)]


class Add(wiring.Component):
    """Elementwise sum of two streams of one image, ``pe`` elements a transfer.

    A transfer is taken from both inputs together, when both offer one and the output can
    take the result; each lane adds its two elements. With thresholds, a channel group's
    thresholds and invert flags are read from a ROM at the channel fold (``CF`` transfers a
    pixel, group ``g`` the ``g``-th), each lane's sum compared against its channel's
    thresholds, and the count of those passed (``!= invert``) leaves.

    Parameters
    ----------
    layer : :class:`hwgen.ops.AddLayer`

    Attributes
    ----------
    i0 : ``In(stream.Signature(unsigned(pe * in_bits[0])))``
        First image: pixels in raster order, ``pe`` channels per transfer, channel ``c``'s
        element at bits ``c*in_bits[0] ..``. Ready while ``i1`` is valid and the output has
        room (from registers).
    i1 : ``In(stream.Signature(unsigned(pe * in_bits[1])))``
        Second image, the same way; ready while ``i0`` is valid and the output has room.
    o : ``Out(stream.Signature(unsigned(pe * out_bits)))``
        Sums (or counts) in the same order, channel ``c``'s at bits ``c*out_bits ..``;
        registered, with a skid register behind the output register: one transfer per cycle
        while both inputs are valid and ``o.ready`` is high.
    """

    def __init__(self, layer: AddLayer):
        if not isinstance(layer, AddLayer):
            raise TypeError(f"layer must be an AddLayer, not {layer!r}")
        self.layer = layer
        a, b = layer.in_bits
        super().__init__({"i0": In(stream.Signature(unsigned(layer.pe * a))),
                          "i1": In(stream.Signature(unsigned(layer.pe * b))),
                          "o": Out(stream.Signature(unsigned(layer.pe * layer.out_bits)))})

    def expected_cycles(self) -> int:
        return self.layer.expected_cycles()

    def elaborate(self, platform):
        layer = self.layer
        (a, b), pe, ob = layer.in_bits, layer.pe, layer.out_bits
        m = Module()
        take = Signal()
        advance = Signal()
        m.d.comb += [
            self.i0.ready.eq(self.i1.valid & advance),
            self.i1.ready.eq(self.i0.valid & advance),
            take.eq(self.i0.valid & self.i1.valid & advance),
        ]
        sums = [self.i0.payload[lane * a:(lane + 1) * a] + self.i1.payload[lane * b:(lane + 1) * b]
                for lane in range(pe)]
        if layer.thresholds is None:
            result = Cat(*(total[:ob] for total in sums))
        else:
            bits, steps = layer.threshold_bits, layer.steps
            entry_bits = steps * bits + 1
            m.submodules.thresholds = thresholds = memory.Memory(
                shape=unsigned(pe * entry_bits), depth=layer.cf, init=threshold_words(layer))
            threshold = thresholds.read_port(domain="comb")
            group = Signal(range(layer.cf))
            m.d.comb += threshold.addr.eq(group)
            with m.If(take):
                m.d.sync += group.eq(Mux(group == layer.cf - 1, 0, group + 1))
            counts = []
            for lane, total in enumerate(sums):
                entry = threshold.data[lane * entry_bits:(lane + 1) * entry_bits]
                invert = entry[steps * bits]
                fires = [(total >= entry[t * bits:(t + 1) * bits]) ^ invert
                         for t in range(steps)]
                counts.append(fires[0] if steps == 1 else popcount(fires)[:ob])
            result = Cat(*counts)
        m.d.comb += advance.eq(skid_output(m, self.o, result, take))
        return m
