"""The shared convolution unit: each distinct 2-D filter result computed once per window."""
import numpy as np
from amaranth.hdl import Cat, Const, Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...lib.pipeline import delay
from ...lib.popcount import pipelined_sum, pipelined_sum_stages, popcount, tree_sum
from ...lib.skid import skid_output
from ..base import bits_for
from ..mvtu.datapath import SUM_LEVELS_PER_STAGE
from ..mvtu.hw import mvtu_output_shape
from .layer import SharedMVTULayer

__all__ = ["SharedMVTU", "count_offsets", "count_thresholds", "shared_latency"]


def count_offsets(layer: SharedMVTULayer) -> tuple[int, np.ndarray]:
    """``(a, b)`` with ``dot[n] = a * q[n] - b[n]``, ``q[n]`` the XNOR popcount of output channel
    ``n``'s weights and the window's bits (what the unit sums): bipolar ``a = 2``, ``b = mw``;
    binary (and thermometer) values ``a = 1``, ``b[n]`` the number of -1 weights of ``n``."""
    if layer.in_encoding == "bipolar":
        return 2, np.full(layer.mh, layer.mw, dtype=np.int64)
    return 1, (~layer.weights).sum(axis=1).astype(np.int64)


def count_thresholds(layer: SharedMVTULayer) -> np.ndarray:
    """Thresholds (mh, levels - 1) on the popcount: ``dot >= T`` iff ``q >= ceil((T + b) / a)``."""
    a, b = count_offsets(layer)
    thresholds = np.asarray(layer.thresholds, dtype=np.int64).reshape(layer.mh, -1)
    return -((-(thresholds + b[:, None])) // a)


def shared_latency(layer: SharedMVTULayer) -> int:
    """Register stages from the input to the output register's input: the window, the distinct
    results, then the combining sums' registers."""
    return 2 + pipelined_sum_stages(layer.channels, SUM_LEVELS_PER_STAGE, register_terms=False)


class SharedMVTU(wiring.Component):
    """Shared convolution unit: one whole window per transfer, every output channel per cycle.

    The weights are constants in the logic (the sharing saves logic only where no multiplexer
    selects among patterns at run time, ``docs/result-sharing.md``). Per window: the window's
    bits (a thermometer element decoded into its code's values), then, for each channel ``c``
    and each of its distinct patterns ``d``, the XNOR popcount ``u = #{k : bit[k, c] == d[k]}``
    (``0 .. K``), registered once; output channel ``n`` sums, over the channels, ``u`` of its
    pattern, or ``K - u`` where its filter is the pattern's complement: its own XNOR popcount
    ``q[n]``, by a pipelined adder tree (:func:`hwgen.lib.popcount.pipelined_sum`, two levels a
    stage); ``q`` against constant thresholds (:func:`count_thresholds`), or the dot product
    ``a * q - b`` (:func:`count_offsets`), into the output register. A skid register behind it
    (:func:`hwgen.lib.skid.skid_output`) stalls the pipeline on backpressure; one window a cycle
    otherwise.

    Attributes
    ----------
    i : ``In(stream.Signature(unsigned(in_elements * in_bits)))``
        One window: element ``e`` at bits ``e * in_bits ..``, elements in (position, channel)
        order.
    o : ``Out(stream.Signature(mvtu_output_shape(layer.plain)))``
        The window's ``mh`` outputs: bits (``act_bits`` each) or signed dot products.
    """

    def __init__(self, layer: SharedMVTULayer, *, target=None):
        if not isinstance(layer, SharedMVTULayer):
            raise TypeError(f"layer must be a SharedMVTULayer, not {layer!r}")
        self.layer = layer
        super().__init__({
            "i": In(stream.Signature(unsigned(layer.in_width))),
            "o": Out(stream.Signature(mvtu_output_shape(layer.plain))),
        })

    def expected_cycles(self) -> int:
        """Cycles per window at full throughput: 1."""
        return 1

    def elaborate(self, platform):
        layer = self.layer
        m = Module()
        advance = Signal()
        m.d.comb += self.i.ready.eq(advance)

        # --- the window, registered ---------------------------------------------------------
        s1_valid = Signal()
        window = Signal(layer.in_width, reset_less=True)
        with m.If(advance):
            m.d.sync += [s1_valid.eq(self.i.valid), window.eq(self.i.payload)]
        if layer.in_encoding == "thermometer":
            bits, code = layer.in_bits, layer.code_bits
            values = [window[e * bits:(e + 1) * bits] > j
                      for e in range(layer.in_elements) for j in range(code)]
        else:
            values = [window[k] for k in range(layer.mw)]
        channels, positions = layer.channels, layer.positions

        # --- each distinct pattern's XNOR popcount, once ---------------------------------------
        width = bits_for(positions)
        results = []
        for c in range(channels):
            row = [values[k * channels + c] for k in range(positions)]
            results.append([])
            for j in range(int(layer.counts[c])):
                pattern = layer.filters[c, j]
                agree = [row[k] if pattern[k] else ~row[k] for k in range(positions)]
                u = Signal(width, name=f"u{c}_{j}", reset_less=True)
                with m.If(advance):
                    m.d.sync += u.eq(popcount(agree))
                results[-1].append(u)
        s2_valid = Signal()
        with m.If(advance):
            m.d.sync += s2_valid.eq(s1_valid)

        # --- per output channel, the sum of its channels' shared results -------------------------
        sums = []
        for n in range(layer.mh):
            terms = []
            for c in range(channels):
                u = results[c][int(layer.index[n, c])]
                terms.append((Const(positions, width) - u)[:width] if layer.inverse[n, c] else u)
            sums.append(pipelined_sum(m, terms, en=advance, levels=SUM_LEVELS_PER_STAGE,
                                      name=f"q{n}", register_terms=False))
        s3_valid = delay(m, advance, s2_valid, shared_latency(layer) - 2, "q_valid",
                         reset_less=False)

        # --- thresholds (constants) or dot products, into the output register ------------------
        out_bits = layer.out_bits
        result = Signal(layer.mh * out_bits)
        top = positions * channels
        if layer.output == "bits":
            thresholds = count_thresholds(layer)
            outputs = []
            for n in range(layer.mh):
                passed = []
                for t in thresholds[n]:
                    fires = Const(1) if t <= 0 else Const(0) if t > top else sums[n] >= int(t)
                    passed.append(fires ^ int(layer.invert[n]))
                outputs.append(passed[0] if len(passed) == 1
                               else tree_sum(passed)[:layer.act_bits])
            m.d.comb += result.eq(Cat(*outputs))
        else:
            a, b = count_offsets(layer)
            for n in range(layer.mh):
                dot = (sums[n] << (a - 1)) - Const(int(b[n]))
                m.d.comb += result[n * out_bits:(n + 1) * out_bits].eq(dot)
        m.d.comb += advance.eq(skid_output(m, self.o, result, s3_valid))
        return m

