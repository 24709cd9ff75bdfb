"""BitSplit's RTL against its golden model, bit for bit: MVTUs whose output bits have their
own thresholds (a first layer), whose 2-bit inputs' bit planes have their own sums (digital and
on the noisy macro), and bitwise max-pools; under idle cycles and backpressure, with a
corrupted expectation caught on Verilator."""
import numpy as np
import pytest

from hwgen.cim import MacroSpec
from hwgen.cosim import run_stream_test
from hwgen.golden import mvtu
from hwgen.ops.maxpool.golden import maxpool
from hwgen.lib.packing import pack_words
from hwgen.ops import MaxPoolLayer, MVTULayer
from hwgen.ops.maxpool.hw import MaxPool
from hwgen.ops.mvtu.datapath import mvtu_latency
from hwgen.ops.mvtu.hw import MVTU
from hwgen.target import target
from tests.streams import simulate_stream

ECP5 = target("ecp5")


def bitsplit_layer(rng, *, mw=36, mh=8, pe=4, simd=12, split=True, macro=None, key=1,
                   in_encoding="uint", in_bits=2):
    """A BitSplit layer with random weights, thresholds near the middle of each bit's dot
    products (edge cases at both ends) and random invert flags per bit."""
    if macro is not None:
        weights = rng.integers(0, 1 << macro.weight_bits, (mh, mw))
        simd = macro.wordlines
    else:
        weights = rng.integers(0, 2, (mh, mw)).astype(bool)
    shape = dict(in_encoding=in_encoding, in_bits=in_bits, macro=macro, macro_key=key,
                 out_encoding="uint", act_bits=2, bitsplit=True, split_input=split)
    probe = MVTULayer("b", mw, mh, pe, simd, weights, np.zeros((mh, 2), dtype=np.int64)
                      + (0 if macro is None else 1), np.zeros((mh, 2), dtype=bool), **shape)
    low, high = probe.dot_range
    middle = (low + high) // 2 if macro is not None else 0
    spread = max(2, (high - low) // 8)
    thresholds = rng.integers(middle - spread, middle + spread + 1, (mh, 2))
    thresholds[0, 0], thresholds[-1, 1] = low, high + 1
    return MVTULayer("b", mw, mh, pe, simd, weights, thresholds,
                     rng.integers(0, 2, (mh, 2)).astype(bool), **shape)


def vectors(layer, rng, count):
    x = rng.integers(0, 1 << layer.in_bits, (count, layer.mw))
    y = mvtu(layer, x).numpy()
    return (pack_words(x, width=layer.in_bits, per_word=layer.simd),
            pack_words(y, width=layer.out_bits, per_word=layer.pe), y)


MACRO = MacroSpec(rows=72, columns=64, wordlines=9, adc_bits=4, weight_bits=2, act_bits=2,
                  encoding="binary", noise="cell", sigma=0.6, seed=5)

CASES = {
    "digital_split": dict(),
    "digital_first": dict(split=False),                      # one sum, two thresholds
    "binary_first": dict(split=False, in_encoding="binary", in_bits=1),
    "cim_split": dict(macro=MACRO),
    "cim_first": dict(macro=MACRO, split=False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bitsplit_amaranth_sim_matches_golden(case):
    rng = np.random.default_rng(len(case))
    layer = bitsplit_layer(rng, **CASES[case])
    inputs, expected, levels = vectors(layer, rng, 40)
    assert set(np.unique(levels)) == {0, 1, 2, 3}
    assert simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected), idle=0.3,
                           backpressure=0.3) == expected


def test_split_sums_are_not_the_merged_sum():
    """A split layer's planes are compared apart: the same layer without split_input (the
    2-bit dot product against the same thresholds) gives other outputs, and the block matches
    only the split golden."""
    import dataclasses
    rng = np.random.default_rng(8)
    layer = bitsplit_layer(rng)
    merged = dataclasses.replace(layer, split_input=False)
    x = rng.integers(0, 4, (40, layer.mw))
    assert (mvtu(layer, x) != mvtu(merged, x)).float().mean() > 0.3
    inputs = pack_words(x, width=2, per_word=layer.simd)
    right = pack_words(mvtu(layer, x).numpy(), width=2, per_word=layer.pe)
    wrong = pack_words(mvtu(merged, x).numpy(), width=2, per_word=layer.pe)
    assert simulate_stream(MVTU(layer, target=ECP5), inputs, len(right)) == right != wrong


@pytest.mark.parametrize("case", ["digital_split", "cim_split"])
def test_bitsplit_latency_is_the_datapaths(case):
    from tests.ops.test_mvtu import output_latency
    rng = np.random.default_rng(3)
    layer = bitsplit_layer(rng, **CASES[case])
    inputs, _, _ = vectors(layer, rng, 1)
    assert output_latency(MVTU(layer, target=ECP5), inputs) == mvtu_latency(layer, ECP5)


def test_bitwise_maxpool_amaranth_sim():
    rng = np.random.default_rng(2)
    layer = MaxPoolLayer(name="p", channels=4, height=6, width=6, kernel=2, pe=2, elem_bits=2,
                         bitwise=True)
    x = rng.integers(0, 4, (6, layer.in_elements))
    y = maxpool(layer, x).numpy()
    plain = maxpool(MaxPoolLayer(name="p", channels=4, height=6, width=6, kernel=2, pe=2,
                                 elem_bits=2), x).numpy()
    assert not np.array_equal(y, plain)
    inputs = pack_words(x.reshape(-1, layer.pe), width=2, per_word=layer.pe)
    expected = pack_words(y.reshape(-1, layer.pe), width=2, per_word=layer.pe)
    assert simulate_stream(MaxPool(layer), inputs, len(expected), idle=0.3,
                           backpressure=0.3) == expected


@pytest.mark.cocotb
@pytest.mark.parametrize("case", ["cim_split"])   # the digital one: in the network's test
def test_bitsplit_cosim_under_stress(case, sim_build_root):
    rng = np.random.default_rng(21)
    layer = bitsplit_layer(rng, **CASES[case])
    inputs, expected, _ = vectors(layer, rng, 800)
    run = run_stream_test(MVTU(layer, target=ECP5), inputs, expected, idle=0.25,
                          backpressure=0.3, seed=4, build_root=sim_build_root,
                          name=f"bitsplit_{case}")
    assert run.passed, run.message
    corrupted = list(expected)
    corrupted[601] ^= 2                                 # one neuron's bit 1
    caught = run_stream_test(MVTU(layer, target=ECP5), inputs, corrupted,
                             build_root=sim_build_root, name=f"bitsplit_{case}",
                             stop_on_mismatch=False)
    assert not caught.passed and caught.mismatches == 1
