"""The shared convolution unit (convolutional result sharing): the sharing found, the operations
counted, the golden model (distinct results once) against the plain evaluation, and the block
against the golden model on the Amaranth simulator and on Verilator."""
import itertools

import numpy as np
import pytest
import torch

from hwgen.cosim import run_stream_test
from hwgen.harness import run_harness
from hwgen.lib.bank import Bank
from hwgen.lib.packing import pack_words, unpack_words
from hwgen.ops import MVTULayer, SharedMVTULayer, op_for
from hwgen.ops.mvtu.golden import mvtu, mvtu_dot
from hwgen.ops.smvtu import SharedMVTU, smvtu, smvtu_dot
from hwgen.ops.smvtu.hw import shared_latency
from hwgen.ops.smvtu.sharing import (cover, exact_sharing, join_filters, op_counts,
                                     split_filters, tie)
from hwgen.target import target
from tests.streams import simulate_stream

ECP5 = target("ecp5")


def shared_weights(rng, mh, channels, positions, patterns=3):
    """Weights (mh, K * C) whose 2-D filters repeat: per channel a few patterns, each filter one
    of them or its complement."""
    bank = rng.integers(0, 2, (channels, patterns, positions)).astype(bool)
    choice = rng.integers(0, patterns, (mh, channels))
    flip = rng.integers(0, 2, (mh, channels)).astype(bool)
    filters = bank[np.arange(channels)[None, :], choice] ^ flip[..., None]
    return join_filters(filters)


def plain_layer(rng, *, positions=3, channels=8, mh=12, encoding="bipolar", bits=1,
                logits=False, act_bits=1, pixels=4):
    code = (1 << bits) - 1 if encoding == "thermometer" else 1
    mw = positions * channels * code
    weights = shared_weights(rng, mh, channels * code, positions)
    shape = dict(in_encoding=encoding, in_bits=bits, pixels=pixels)
    if logits:
        return MVTULayer("conv", mw, mh, mh, mw, weights, **shape)
    low, high = MVTULayer("conv", mw, mh, mh, mw, weights, **shape).dot_range
    spread = max(2, int(np.sqrt(mw)))
    if act_bits == 1:
        thresholds = rng.integers(-spread, spread + 1, mh)
        thresholds[0], thresholds[-1] = low, high + 1      # always and never fires
    else:
        thresholds = np.sort(rng.integers(-spread, spread + 1, (mh, (1 << act_bits) - 1)), axis=1)
    return MVTULayer("conv", mw, mh, mh, mw, weights, thresholds,
                     rng.integers(0, 2, mh).astype(bool), out_encoding="uint" if act_bits > 1
                     else "bipolar", act_bits=act_bits, **shape)


def windows(layer, rng, count):
    x = rng.integers(0, 1 << layer.in_bits, (count, layer.in_elements))
    y = mvtu(layer.plain, x).numpy()
    return (pack_words(x, width=layer.in_bits, per_word=layer.in_elements),
            pack_words(y, width=layer.out_bits, per_word=layer.mh))


# --- the sharing ---------------------------------------------------------------------------------

def test_exact_sharing_by_hand():
    # One channel, K = 3: filters 110, 001 (its inverse), 110 (repeated), 101.
    filters = np.array([[[1, 1, 0]], [[0, 0, 1]], [[1, 1, 0]], [[1, 0, 1]]], dtype=bool)
    sharing = exact_sharing(filters)
    assert sharing.counts.tolist() == [2]
    assert sharing.filters[0, :2].astype(int).tolist() == [[1, 1, 0], [1, 0, 1]]
    assert sharing.index[:, 0].tolist() == [0, 0, 0, 1]
    assert sharing.inverse[:, 0].tolist() == [False, True, False, False]
    assert np.array_equal(sharing.split(), filters)
    counts = op_counts(sharing, pixels=10)
    assert counts["xnor_popcount_ops"] == 40 and counts["xnor_popcount_ops_shared"] == 20
    assert counts["xnor_ops"] == 120 and counts["negations"] == 10
    assert counts["additions"] == 0 and counts["ops_reduction"] == 0.5


def test_split_and_join_follow_the_window_order():
    rng = np.random.default_rng(0)
    weights = rng.integers(0, 2, (5, 3 * 4)).astype(bool)
    filters = split_filters(weights, 3)
    assert filters.shape == (5, 4, 3)
    assert filters[2, 1, 2] == weights[2, 2 * 4 + 1]        # position 2, channel 1
    assert np.array_equal(join_filters(filters), weights)
    assert np.array_equal(exact_sharing(filters).weights(), weights)
    with pytest.raises(ValueError, match="5 kernel positions do not divide the row of 12"):
        split_filters(weights, 5)


def _brute_force_cover(classes, distance, positions):
    """Fewest canonical patterns within ``distance`` (up to complement) of every class."""
    universe = [code for code in range(1 << positions) if code & 1]

    def near(a, b):
        ones = bin(a ^ b).count("1")
        return min(ones, positions - ones) <= distance
    for size in range(1, len(classes) + 1):
        for chosen in itertools.combinations(universe, size):
            if all(any(near(cls, r) for r in chosen) for cls in classes):
                return size


@pytest.mark.parametrize("positions,distance", [(4, 1), (5, 1), (5, 2), (6, 1)])
def test_cover_is_optimal_and_tie_keeps_its_promises(positions, distance):
    rng = np.random.default_rng(positions * 10 + distance)
    filters = rng.integers(0, 2, (20, 3, positions)).astype(bool)
    chosen = cover(filters, distance)
    assert chosen.gap == 0.0
    tied = tie(filters, chosen)
    moved = (tied != filters).sum(axis=-1)
    assert moved.max() <= distance and moved.sum() == chosen.distortion
    assert np.array_equal(exact_sharing(tied).counts, chosen.counts)
    for c in range(3):
        canonical = filters[:, c] ^ ~filters[:, c, :1]
        classes = sorted(set(int((row.astype(int) << np.arange(positions)).sum())
                             for row in canonical))
        assert chosen.counts[c] == _brute_force_cover(classes, distance, positions)
    assert np.array_equal(cover(filters, 0).counts, exact_sharing(filters).counts)


def test_cover_rejects_a_negative_distance():
    with pytest.raises(ValueError, match="distance must be a non-negative integer, not -1"):
        cover(np.zeros((2, 1, 3), dtype=bool), -1)


# --- the layer and its golden model ---------------------------------------------------------------

ENCODINGS = [("bipolar", 1), ("binary", 1), ("thermometer", 2), ("thermometer", 3)]


@pytest.mark.parametrize("encoding,bits", ENCODINGS)
@pytest.mark.parametrize("logits,act_bits", [(False, 1), (True, 1), (False, 2)])
def test_golden_equals_the_plain_evaluation(encoding, bits, logits, act_bits):
    rng = np.random.default_rng(bits + 10 * act_bits)
    plain = plain_layer(rng, encoding=encoding, bits=bits, logits=logits, act_bits=act_bits)
    layer = SharedMVTULayer.of(plain, 3)
    assert np.array_equal(layer.weights, plain.weights)
    assert layer.counts.max() <= 3                      # the bank's patterns
    x = torch.as_tensor(rng.integers(0, 1 << bits, (64, plain.pixels, plain.in_elements)))
    assert torch.equal(smvtu_dot(layer, x), mvtu_dot(plain, x))
    assert torch.equal(smvtu(layer, x), mvtu(plain, x))
    op = op_for(layer)
    dots = []
    out = op.golden(layer, x.reshape(64, -1), dots)
    assert torch.equal(out, op_for(plain).golden(plain, x.reshape(64, -1)))
    assert np.array_equal(dots[0], mvtu_dot(plain, x).numpy())


def test_layer_refuses_what_it_cannot_share():
    rng = np.random.default_rng(1)
    plain = plain_layer(rng)
    layer = SharedMVTULayer.of(plain, 3)
    with pytest.raises(ValueError, match="in_encoding must be one of bipolar, binary, "
                                         "thermometer, not 'uint'"):
        SharedMVTULayer.of(MVTULayer("u", 24, 4, 4, 24, np.zeros((4, 24)), in_encoding="uint",
                                     in_bits=3), 3)
    index = layer.index.copy()
    index[0, 0] = layer.counts[0]
    with pytest.raises(ValueError, match="an index names a pattern beyond its channel's count"):
        SharedMVTULayer(**{**_fields(layer), "index": index})
    filters = layer.filters.copy()
    filters[0, 0] = ~filters[0, 0]
    with pytest.raises(ValueError, match="patterns must be canonical"):
        SharedMVTULayer(**{**_fields(layer), "filters": filters})


def _fields(layer):
    return {name: getattr(layer, name) for name in (
        "name", "positions", "mh", "pixels", "filters", "counts", "index", "inverse",
        "thresholds", "invert", "in_encoding", "in_bits", "out_encoding", "act_bits")}


def test_ir_arrays_round_trip_and_damage_is_refused():
    rng = np.random.default_rng(2)
    layer = SharedMVTULayer.of(plain_layer(rng, encoding="thermometer", bits=2), 3)
    op = op_for(layer)
    arrays = op.arrays(layer, "l0")
    entry = {k: v for k, v in op.meta(layer).items() if k != "op"}
    assert op.check_entry(entry) is None
    again = op.from_entry(entry, "l0", arrays)
    assert np.array_equal(again.weights, layer.weights)
    assert np.array_equal(again.thresholds, layer.thresholds)
    assert "positions and mh must be positive" in op.check_entry({**entry, "mh": 0})
    with pytest.raises(ValueError, match="its packed filters are"):
        op.from_entry(entry, "l0", {**arrays, "l0.filters": arrays["l0.filters"][:, :, :0]})
    with pytest.raises(ValueError, match="its index are missing"):
        op.from_entry(entry, "l0", {k: v for k, v in arrays.items() if k != "l0.index"})


def test_cost_counts_the_distinct_results():
    rng = np.random.default_rng(3)
    plain = plain_layer(rng, channels=16, mh=16)
    shared = SharedMVTULayer.of(plain, 3)
    op = op_for(shared)
    terms = op.terms(shared, ECP5)
    assert terms["result"] > 0 and terms["adder"] > 0
    fewer = SharedMVTULayer.of(MVTULayer("conv", plain.mw, plain.mh, plain.mh, plain.mw,
                                         np.tile(plain.weights[:1], (16, 1)),
                                         plain.thresholds, plain.invert), 3)
    assert op.terms(fewer, ECP5)["result"] < terms["result"]
    assert op.resources(fewer, ECP5).luts < op.resources(shared, ECP5).luts


# --- the block ------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding,bits", ENCODINGS)
@pytest.mark.parametrize("logits,act_bits", [(False, 1), (True, 1), (False, 2)])
def test_amaranth_sim_matches_golden(encoding, bits, logits, act_bits):
    rng = np.random.default_rng(7 * bits + act_bits)
    layer = SharedMVTULayer.of(plain_layer(rng, encoding=encoding, bits=bits, logits=logits,
                                           act_bits=act_bits), 3)
    inputs, expected = windows(layer, rng, 40)
    assert simulate_stream(SharedMVTU(layer), inputs, len(expected), idle=0.3,
                           backpressure=0.3) == expected


def test_one_window_per_cycle_after_the_latency():
    rng = np.random.default_rng(4)
    layer = SharedMVTULayer.of(plain_layer(rng, channels=20), 3)
    inputs, expected = windows(layer, rng, 30)
    block = SharedMVTU(layer)
    assert block.expected_cycles() == 1 and layer.expected_cycles() == layer.pixels
    assert simulate_stream(block, inputs, len(expected)) == expected
    # 20 channels: the window, the results, then three stages of two adder levels.
    assert shared_latency(layer) == 2 + 3


COSIM = [("bipolar", 1, False, 1), ("binary", 1, True, 1), ("thermometer", 3, False, 1),
         ("bipolar", 1, False, 2)]


def _cosim_layer(encoding, bits, logits, act_bits):
    rng = np.random.default_rng(bits * 3 + act_bits)
    return SharedMVTULayer.of(plain_layer(rng, channels=16, mh=24, encoding=encoding, bits=bits,
                                          logits=logits, act_bits=act_bits), 3), rng


def _rate_layer():
    rng = np.random.default_rng(5)
    return SharedMVTULayer.of(plain_layer(rng, channels=16, mh=24), 3), rng


@pytest.fixture(scope="module")
def bank():
    """The harness's blocks in one bank (the last: the full-rate one): one build for them all."""
    layers = [_cosim_layer(*key)[0] for key in COSIM] + [_rate_layer()[0]]
    return Bank([SharedMVTU(layer) for layer in layers])


@pytest.mark.cocotb
@pytest.mark.parametrize("encoding,bits,logits,act_bits", COSIM)
def test_cosim_matches_golden(encoding, bits, logits, act_bits, bank, sim_build_root):
    layer, rng = _cosim_layer(encoding, bits, logits, act_bits)
    inputs, expected = windows(layer, rng, 4000)
    run = run_harness(bank, inputs, expected, idle=0.25, backpressure=0.3, seed=1,
                      build_root=sim_build_root, name=f"smvtu_{encoding}_{logits}_{act_bits}",
                      select=COSIM.index((encoding, bits, logits, act_bits)))
    assert run.passed, run.message
    if not logits and act_bits == 1:
        out = unpack_words(run.outputs, width=1, per_word=layer.mh, signed=False)
        assert 0.2 < out.mean() < 0.8                   # both outputs exercised


@pytest.mark.cocotb
def test_cosim_full_rate_and_a_corrupted_expectation_is_caught(bank, sim_build_root):
    layer, rng = _rate_layer()
    inputs, expected = windows(layer, rng, 300)
    run = run_stream_test(SharedMVTU(layer), inputs, expected, build_root=sim_build_root,
                          name="smvtu_rate")
    assert run.passed, run.message
    assert run.steady_interval() == 1.0                 # one window per cycle
    corrupted = list(expected)
    corrupted[123] ^= 1 << 5
    caught = run_harness(bank, inputs, corrupted, idle=0.25, backpressure=0.3,
                         build_root=sim_build_root, name="smvtu_corrupted",
                         stop_on_mismatch=False, select=len(bank.blocks) - 1)
    assert not caught.passed and caught.mismatches == 1
