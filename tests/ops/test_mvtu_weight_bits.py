"""Digital MVTUs with multi-bit weights (``weight_bits`` 2..4, the odd levels ``2c - (2**b -
1)``): the golden model by hand, the block (one +-1 plane per weight bit, shifted) against it
in every input encoding, folded, fully parallel and from block RAM, with one or more output
bits; on Verilator too; the IR round trip and the estimate's structure."""
import dataclasses

import numpy as np
import pytest
import torch

from hwgen.golden import mvtu
from hwgen.harness import run_harness
from hwgen.lib.packing import pack_words
from hwgen.ops import MVTULayer, op_for
from hwgen.ops.mvtu.golden import mvtu_dot
from hwgen.ops.mvtu.hw import MVTU
from hwgen.target import target
from tests.streams import simulate_stream

ECP5 = target("ecp5")


def weight_layer(rng, *, weight_bits, mw, mh, pe, simd, in_encoding="binary", in_bits=1,
                 act_bits=1, logits=False, name="w") -> MVTULayer:
    """Random codes; thresholds spread around the middle of random inputs' dot products."""
    codes = rng.integers(0, 1 << weight_bits, (mh, mw))
    shape = dict(in_encoding=in_encoding, in_bits=in_bits, weight_bits=weight_bits)
    probe = MVTULayer(name, mw, mh, pe, simd, codes, **shape)
    if logits:
        return probe
    x = rng.integers(0, 1 << in_bits, (200, probe.in_elements))
    dots = mvtu_dot(probe, torch.as_tensor(x)).numpy()
    steps = (1 << act_bits) - 1
    quantiles = np.quantile(dots, np.linspace(0.2, 0.8, steps), axis=0).T.round().astype(int)
    thresholds = quantiles[:, 0] if act_bits == 1 else quantiles
    return MVTULayer(name, mw, mh, pe, simd, codes, thresholds,
                     rng.integers(0, 2, mh).astype(bool),
                     out_encoding="binary" if act_bits == 1 else "uint", act_bits=act_bits,
                     **shape)


def vectors(layer, rng, count):
    x = rng.integers(0, 1 << layer.in_bits, (count, layer.in_elements))
    y = mvtu(layer, x).numpy()
    return (pack_words(x, width=layer.in_bits, per_word=layer.simd // layer.code_bits),
            pack_words(y, width=layer.out_bits, per_word=layer.pe))


def test_multi_bit_weights_by_hand():
    # codes 0..3 are the levels -3, -1, 1, 3; with bipolar inputs -1/+1.
    layer = MVTULayer("h", 4, 2, 1, 2, np.array([[0, 1, 2, 3], [3, 3, 0, 1]]), weight_bits=2,
                      in_encoding="bipolar")
    x = torch.as_tensor([[1, 0, 1, 1]])          # +1, -1, +1, +1
    assert mvtu_dot(layer, x).tolist() == [[-3 + 1 + 1 + 3, 3 - 3 - 3 - 1]]
    assert layer.dot_range == (-12, 12)
    four = MVTULayer("f", 2, 1, 1, 1, np.array([[15, 0]]), weight_bits=4, in_encoding="uint",
                     in_bits=3)
    assert mvtu_dot(four, torch.as_tensor([[7, 2]])).tolist() == [[7 * 15 - 2 * 15]]
    with pytest.raises(ValueError, match="3-bit weights must be raw codes in 0..7"):
        MVTULayer("x", 2, 1, 1, 1, np.array([[8, 0]]), weight_bits=3)
    with pytest.raises(ValueError, match="weight_bits must be an integer in 1..4, not 5"):
        MVTULayer("x", 2, 1, 1, 1, np.array([[0, 0]]), weight_bits=5)


CASES = [  # (weight_bits, in_encoding, in_bits, pe, simd, act_bits, logits)
    (2, "bipolar", 1, 2, 8, 1, False), (3, "bipolar", 1, 4, 4, 1, True),
    (2, "binary", 1, 2, 8, 2, False), (4, "binary", 1, 8, 32, 1, True),
    (3, "uint", 2, 2, 4, 3, False), (4, "uint", 4, 4, 16, 4, False), (2, "uint", 3, 1, 2, 1, True),
    (3, "thermometer", 2, 2, 6, 1, False), (2, "thermometer", 3, 4, 14, 2, True),
]


def _case(weight_bits, encoding, bits, pe, simd, act_bits, logits, seed=0):
    rng = np.random.default_rng(seed + weight_bits * 100 + pe * 10 + simd)
    mw = 12 * ((1 << bits) - 1) if encoding == "thermometer" else 32
    return weight_layer(rng, weight_bits=weight_bits, mw=mw, mh=8, pe=pe, simd=simd,
                        in_encoding=encoding, in_bits=bits, act_bits=act_bits,
                        logits=logits), rng


@pytest.mark.parametrize("case", CASES)
def test_multi_bit_weights_amaranth_sim(case):
    layer, rng = _case(*case)
    inputs, expected = vectors(layer, rng, 30)
    assert simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected), idle=0.3,
                           backpressure=0.3) == expected


@pytest.mark.parametrize("style", ["constant", "block"])
def test_multi_bit_weights_constant_and_in_block_ram(style):
    rng = np.random.default_rng(7)
    if style == "constant":         # fully parallel: the weights are constants in the leaves
        layer = weight_layer(rng, weight_bits=3, mw=16, mh=4, pe=4, simd=16,
                             in_encoding="uint", in_bits=2)
    else:
        layer = dataclasses.replace(weight_layer(rng, weight_bits=2, mw=32, mh=8, pe=2, simd=8,
                                                 in_encoding="bipolar"), ram_style="block")
    inputs, expected = vectors(layer, rng, 30)
    assert simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected), idle=0.3,
                           backpressure=0.3) == expected


@pytest.mark.cocotb
@pytest.mark.parametrize("case", [CASES[0], CASES[4], CASES[7]])
def test_multi_bit_weights_on_verilator(case, sim_build_root):
    layer, rng = _case(*case, seed=1)
    inputs, expected = vectors(layer, rng, 2000)
    block = MVTU(layer, target=ECP5)
    run = run_harness(block, inputs, expected, idle=0.25, backpressure=0.3, seed=3,
                      build_root=sim_build_root, name=f"wbits_{layer.weight_bits}_{case[1]}")
    assert run.passed, run.message
    wrong = list(expected)
    wrong[len(wrong) // 2] ^= 1
    assert not run_harness(block, inputs, wrong, build_root=sim_build_root,
                           name=f"wbits_{layer.weight_bits}_{case[1]}").passed


def test_multi_bit_weights_round_trip_and_estimate():
    rng = np.random.default_rng(3)
    layer = weight_layer(rng, weight_bits=3, mw=32, mh=8, pe=2, simd=8)
    op = op_for(layer)
    arrays = op.arrays(layer, "l0")
    assert sorted(arrays) == ["l0.invert", "l0.thresholds", "l0.weights", "l0.weights1",
                              "l0.weights2"]
    meta = {k: v for k, v in op.meta(layer).items() if k != "op"}
    assert meta["weight_bits"] == 3
    again = op.from_entry(meta, "l0", arrays)
    assert np.array_equal(again.weights, layer.weights) and again.weight_bits == 3
    assert op.check_entry({**meta, "weight_bits": 9}) == \
        "weight_bits must be an integer in 1..4, not 9"
    one = dataclasses.replace(layer, weight_bits=1, weights=layer.weights & 1,
                              thresholds=np.zeros(8, int))
    assert "weight_bits" not in op.meta(one)
    # Three planes' leaves, trees and weight bits: more LUTs and flip-flops than one plane's.
    assert op.resources(layer, ECP5).luts > op.resources(one, ECP5).luts
    assert op.resources(layer, ECP5).ffs > op.resources(one, ECP5).ffs
