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
    channels ``f * PE ..``, channel ``f * PE + i``'s code (``weight_bits`` bits) at bit
    ``i * weight_bits``."""
    return pack_words(layer.weights.T.astype(np.int64), width=layer.weight_bits,
                      per_word=layer.pe)


def threshold_words(layer: VVAULayer) -> list[int]:
    """The threshold memory: word ``f`` holds channels ``f * PE ..``: lane ``i``'s ``T =
    2**act_bits - 1`` thresholds (two's complement, ``acc_bits`` each) from bit ``i * (T *
    acc_bits + 1)``, threshold ``t`` at ``t * acc_bits`` beyond, and its invert flag above
    them."""
    bits, count = layer.acc_bits, layer.levels - 1
    thresholds = layer.thresholds.reshape(layer.channels, count)
    lane = count * bits + 1
    words = []
    for f in range(layer.cf):
        word = 0
        for i in range(layer.pe):
            c = f * layer.pe + i
            for t in range(count):
                word |= (int(thresholds[c, t]) & ((1 << bits) - 1)) << (i * lane + t * bits)
            word |= int(layer.invert[c]) << (i * lane + count * bits)
        words.append(word)
    return words


class VVAU(wiring.Component):
    """Depthwise convolution of a sliding window's stream, ``pe`` channels a cycle.

    A window arrives as ``K * CF`` transfers, kernel position after kernel position, each
    ``pe`` channels of one position. A row of ``CF`` partial dot products (``pe`` lanes of
    ``acc_bits``) is kept: a position's transfer adds each lane's product to its channels'
    partial sums (one-bit inputs and weights: bipolar +1 where the input bit equals the weight
    bit, else -1; binary the weight's sign where the input is 1, else 0; multi-bit: the input
    value times the weight level ``2c - (2**weight_bits - 1)``); the last position's transfer
    leaves as the channels' outputs instead of being written back: ``(dot >= threshold) !=
    invert``, or with ``act_bits > 1`` the count of the ``2**act_bits - 1`` thresholds passed.

    Parameters
    ----------
    layer : :class:`hwgen.ops.VVAULayer`

    Attributes
    ----------
    i : ``In(stream.Signature(unsigned(pe * in_bits)))``
        Window transfers: ``pe`` channels of one kernel position, channel ``f * PE + i`` at
        bit ``i * in_bits``.
    o : ``Out(stream.Signature(unsigned(pe * act_bits)))``
        Outputs, pixel after pixel, ``pe`` channels a transfer, channel ``f * PE + i`` at bit
        ``i * act_bits``; registered, with a skid register behind the output register.
    """

    def __init__(self, layer: VVAULayer):
        if not isinstance(layer, VVAULayer):
            raise TypeError(f"layer must be a VVAULayer, not {layer!r}")
        self.layer = layer
        super().__init__({"i": In(stream.Signature(unsigned(layer.pe * layer.in_bits))),
                          "o": Out(stream.Signature(unsigned(layer.pe * layer.act_bits)))})

    def expected_cycles(self) -> int:
        return self.layer.expected_cycles()

    def _term(self, m, lane, x, code):
        """Lane ``lane``'s product of input ``x`` and weight ``code``."""
        layer = self.layer
        if layer.weight_bits == 1:
            level = Mux(code, Const(1, signed(2)), Const(-1, signed(2)))
        else:
            level = Signal(signed(layer.weight_bits + 1), name=f"weight{lane}")
            m.d.comb += level.eq(code * 2 - layer.weight_max)
        if layer.in_encoding == "bipolar":
            if layer.weight_bits == 1:
                return Mux(x == code, Const(1, signed(2)), Const(-1, signed(2)))
            return Mux(x, level, -level)
        if layer.in_encoding == "binary":
            return Mux(x, level, Const(0, signed(2)))
        # x * level as shifted adds over x's bits: small products in logic, not multipliers.
        return sum(Mux(x[j], level << j, 0) for j in range(layer.in_bits))

    def elaborate(self, platform):
        layer = self.layer
        pe, cf_count, positions, bits = layer.pe, layer.cf, layer.positions, layer.acc_bits
        in_bits, weight_bits, act_bits = layer.in_bits, layer.weight_bits, layer.act_bits
        count = layer.levels - 1
        lane_bits = count * bits + 1
        m = Module()
        m.submodules.partial = partial = memory.Memory(
            shape=unsigned(pe * bits), depth=cf_count, init=[])
        m.submodules.weights = weights = memory.Memory(
            shape=unsigned(pe * weight_bits), depth=positions * cf_count,
            init=weight_words(layer))
        m.submodules.thresholds = thresholds = memory.Memory(
            shape=unsigned(pe * lane_bits), depth=cf_count, init=threshold_words(layer))
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
        sums, outputs = [], []
        for lane in range(pe):
            x = self.i.payload[lane * in_bits:(lane + 1) * in_bits]
            code = weight.data[lane * weight_bits:(lane + 1) * weight_bits]
            previous = Mux(first, 0, read.data[lane * bits:(lane + 1) * bits].as_signed())
            total = Signal(signed(bits), name=f"sum{lane}")
            m.d.comb += total.eq(previous + self._term(m, lane, x, code))
            sums.append(total)
            entry = threshold.data[lane * lane_bits:(lane + 1) * lane_bits]
            fires = [(total >= entry[t * bits:(t + 1) * bits].as_signed()) ^ entry[count * bits]
                     for t in range(count)]
            if act_bits == 1:
                outputs.append(fires[0])
            else:
                level = Signal(act_bits, name=f"level{lane}")
                m.d.comb += level.eq(sum(fires))
                outputs.append(level)
        m.d.comb += [write.addr.eq(cf), write.data.eq(Cat(*sums)),
                     write.en.eq(take & ~last)]
        m.d.comb += advance.eq(skid_output(m, self.o, Cat(*outputs), take & last))
        with m.If(take):
            m.d.sync += cf.eq(Mux(cf == cf_count - 1, 0, cf + 1))
            with m.If(cf == cf_count - 1):
                m.d.sync += k.eq(Mux(last, 0, k + 1))
        return m
