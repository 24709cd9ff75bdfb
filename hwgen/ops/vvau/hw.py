"""The depthwise convolution unit (FINN's VVAU): per channel, the thresholded dot product of
its own channel's window with its own +-1 filter."""
import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ...lib.packing import pack_words
from ...lib.skid import skid_output
from .layer import VVAULayer

__all__ = ["VVAU", "weight_words", "threshold_words"]


def weight_words(layer: VVAULayer) -> list[int]:
    """The weight memory: word ``k * CF + f`` holds the weights of kernel position ``k`` for
    channels ``f * PE ..``, channel ``f * PE + i`` at bit ``i``."""
    return pack_words(layer.weights.T, width=1, per_word=layer.pe)


def threshold_words(layer: VVAULayer) -> list[int]:
    """The threshold memory: word ``f`` holds channels ``f * PE ..``: lane ``i``'s threshold
    (two's complement, ``acc_bits``) at bits ``i * (acc_bits + 1) ..`` and its invert flag
    above it."""
    bits = layer.acc_bits
    lanes = (layer.thresholds & ((1 << bits) - 1)) | (layer.invert.astype(np.int64) << bits)
    return pack_words(lanes, width=bits + 1, per_word=layer.pe)


class VVAU(wiring.Component):
    """Depthwise convolution of a sliding window's stream, ``pe`` channels a cycle.

    A window arrives as ``K * CF`` transfers, kernel position after kernel position, each
    ``pe`` channels of one position. A row of ``CF`` partial dot products (``pe`` lanes of
    ``acc_bits``) is kept: a position's transfer adds each lane's +-1 product (bipolar: +1
    where the input bit equals the weight bit, else -1; binary: the weight's sign where the
    input is 1, else 0) to its channels' partial sums; the last position's transfer leaves as
    the channels' output bits (``(dot >= threshold) != invert``) instead of being written back.

    Parameters
    ----------
    layer : :class:`hwgen.ops.VVAULayer`

    Attributes
    ----------
    i : ``In(stream.Signature(unsigned(pe)))``
        Window transfers: ``pe`` channels of one kernel position, channel ``f * PE + i`` at
        bit ``i``.
    o : ``Out(stream.Signature(unsigned(pe)))``
        Output bits, pixel after pixel, ``pe`` channels a transfer; registered, with a skid
        register behind the output register.
    """

    def __init__(self, layer: VVAULayer):
        if not isinstance(layer, VVAULayer):
            raise TypeError(f"layer must be a VVAULayer, not {layer!r}")
        self.layer = layer
        super().__init__({"i": In(stream.Signature(unsigned(layer.pe))),
                          "o": Out(stream.Signature(unsigned(layer.pe)))})

    def expected_cycles(self) -> int:
        return self.layer.expected_cycles()

    def elaborate(self, platform):
        layer = self.layer
        pe, cf_count, positions, bits = layer.pe, layer.cf, layer.positions, layer.acc_bits
        m = Module()
        m.submodules.partial = partial = memory.Memory(
            shape=unsigned(pe * bits), depth=cf_count, init=[])
        m.submodules.weights = weights = memory.Memory(
            shape=unsigned(pe), depth=positions * cf_count, init=weight_words(layer))
        m.submodules.thresholds = thresholds = memory.Memory(
            shape=unsigned(pe * (bits + 1)), depth=cf_count, init=threshold_words(layer))
        write = partial.write_port()
        read = partial.read_port(domain="comb")
        weight = weights.read_port(domain="comb")
        threshold = thresholds.read_port(domain="comb")

        cf = Signal(range(cf_count))
        k = Signal(range(positions))
        first = Signal()
        last = Signal()
        take = Signal()
        advance = Signal()
        m.d.comb += [
            first.eq(k == 0),
            last.eq(k == positions - 1),
            self.i.ready.eq(~last | advance),
            take.eq(self.i.valid & self.i.ready),
            read.addr.eq(cf),
            weight.addr.eq(k * cf_count + cf),
            threshold.addr.eq(cf),
        ]
        sums, fires = [], []
        for lane in range(pe):
            x, w = self.i.payload[lane], weight.data[lane]
            if layer.in_encoding == "bipolar":
                term = Mux(x == w, Const(1, signed(2)), Const(-1, signed(2)))
            else:
                term = Mux(x, Mux(w, Const(1, signed(2)), Const(-1, signed(2))),
                           Const(0, signed(2)))
            previous = Mux(first, 0, read.data[lane * bits:(lane + 1) * bits].as_signed())
            total = Signal(signed(bits), name=f"sum{lane}")
            m.d.comb += total.eq(previous + term)
            sums.append(total)
            entry = threshold.data[lane * (bits + 1):(lane + 1) * (bits + 1)]
            fires.append((total >= entry[:bits].as_signed()) ^ entry[bits])
        m.d.comb += [write.addr.eq(cf), write.data.eq(Cat(*sums)),
                     write.en.eq(take & ~last)]
        m.d.comb += advance.eq(skid_output(m, self.o, Cat(*fires), take & last))
        with m.If(take):
            m.d.sync += cf.eq(Mux(cf == cf_count - 1, 0, cf + 1))
            with m.If(cf == cf_count - 1):
                m.d.sync += k.eq(Mux(last, 0, k + 1))
        return m
