"""The whole dataflow network on Verilator against the golden model, bit for bit.

A trained digits BNN runs its whole test set (class and logits, 0 mismatches) at full rate and
under random idle cycles and backpressure; measured cycles per frame must equal the analytic
``expected_cycles()``. Random networks cover foldings where the layers' stream widths differ
(width converters) and where the slowest layer is not the first.
"""
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hwgen.cosim import run_stream_test
from hwgen.data import load_dataset
from hwgen.passes.fifo_sizing import size_fifos
from hwgen.harness import run_harness
from hwgen.hw.network import Network
from hwgen.ir import Graph
from hwgen.passes.lower import export_graph
from hwgen.nn import train_model
from hwgen.spec import load_spec
from hwgen.verify import decode_results, harness_vectors, verify_network
from tests.conftest import random_conv_graph, random_layer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits_mlp.yaml"


@pytest.fixture(scope="module")
def digits_graph() -> Graph:
    spec = load_spec(EXAMPLE)
    spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, epochs=8))
    data = load_dataset(spec.data, spec.seed)
    model = train_model(spec, data, progress=False).model
    return export_graph(model, spec, data.test_x, data.test_y)


def _random_graph(rng, folding, sizes, frames=64) -> Graph:
    layers = []
    for index, ((pe, simd), (mw, mh)) in enumerate(zip(folding, zip(sizes, sizes[1:]))):
        last = index == len(folding) - 1
        layers.append(random_layer(rng, mw=mw, mh=mh, pe=pe, simd=simd, logits=last, name=f"l{index}"))
    return Graph(name="random", input_shape=(sizes[0], 1, 1), classes=sizes[-1],
                 layers=tuple(layers),
                 test_frames=rng.integers(0, 2, (frames, sizes[0])).astype(np.uint8),
                 test_labels=rng.integers(0, sizes[-1], frames))


@pytest.mark.cocotb
def test_digits_network_whole_test_set(digits_graph, sim_build_root):
    result = verify_network(digits_graph, fifo_depth=4, build_root=sim_build_root, seed=3)
    assert result.frames == len(digits_graph.test_frames) == 360
    assert result.mismatches == result.label_mismatches == result.logit_mismatches == 0
    assert result.stress_passed
    assert result.rtl_accuracy == result.golden_accuracy
    assert result.expected_cycles == digits_graph.expected_cycles() == 32
    assert result.measured_cycles == pytest.approx(result.expected_cycles, rel=0.02)
    print(f"digits: cycles/frame {result.measured_cycles:.2f} measured vs {result.expected_cycles} "
          f"expected; {result.sim_cycles_per_s:.0f} sim cycles/s")


@pytest.mark.cocotb
@pytest.mark.parametrize("folding,sizes,fifo_depth", [
    ([(4, 8), (2, 6), (5, 3)], [32, 24, 12, 5], 2),     # widths differ: width converters
    ([(1, 16), (6, 2), (3, 4)], [16, 12, 12, 3], 1),    # slowest layer in the middle
    ([(12, 1), (12, 12), (4, 3)], [8, 12, 12, 4], 3),   # one input bit per cycle
])
def test_random_network_under_stress(folding, sizes, fifo_depth, sim_build_root):
    rng = np.random.default_rng(sum(sizes))
    graph = _random_graph(rng, folding, sizes)
    network = Network(graph, fifo_depth=fifo_depth)
    golden, inputs, expected = harness_vectors(network, graph.test_frames)
    labels, logits = decode_results(graph, expected, network.logit_bits)
    np.testing.assert_array_equal(labels, golden.labels)          # the codec is an inverse
    np.testing.assert_array_equal(logits, golden.logits)
    for name, idle, backpressure in (("full", 0.0, 0.0), ("stress", 0.3, 0.4)):
        run = run_stream_test(network, inputs, expected, idle=idle, backpressure=backpressure,
                              seed=7, build_root=sim_build_root, name=name)
        assert run.passed, run.message
    full = run_stream_test(network, inputs, expected, build_root=sim_build_root, name="rate")
    assert full.steady_interval(skip=4) == pytest.approx(network.expected_cycles(), rel=0.02)


@pytest.mark.cocotb
def test_corrupted_expectation_is_caught(digits_graph, sim_build_root):
    """The checker can fail: one flipped logit bit in one frame is reported as one mismatch."""
    count = 40
    graph = digits_graph
    network = Network(graph, fifo_depth=4)
    _golden, inputs, expected = harness_vectors(network, graph.test_frames[:count])
    corrupted = list(expected)
    corrupted[17] ^= 1 << (network.logit_bits + 5)       # a logit bit, the class is unchanged
    run = run_stream_test(network, inputs, corrupted, build_root=sim_build_root, name="corrupt",
                          stop_on_mismatch=False)
    assert not run.passed
    assert run.mismatches == 1
    assert run.outputs == expected


# Conv chains: (keyword arguments of random_conv_graph). Integer, binary and thermometer-coded
# inputs, bipolar and binary activations, rectangular kernels, stride, padding, width converters between SWG and
# MVTU (swg simd != mvtu simd), max-pool, a dense layer on a flattened image.
CONV_CASES = {
    "uint_rect_pool": dict(),
    "bipolar_stride": dict(input_shape=(4, 9, 8), input_encoding="bipolar", input_bits=1,
                           convs=((6, 3, 2, 1, 3, 4, 2),), pool=None, hidden=(8, 4, 6),
                           activation="bipolar", logits_folding=(4, 8)),
    "two_convs": dict(input_shape=(1, 10, 9), input_bits=4,
                      convs=((4, (3, 3), 1, 1, 2, 3, 1), (8, (2, 3), 1, (0, 1), 4, 8, 2)),
                      pool=(2, 3), logits_folding=(1, 16), frames=8),
    # 3-bit input read as 7-value thermometer codes by table lookups: 2 elements a transfer
    "thermometer": dict(input_bits=3, thermometer=True, convs=((8, (3, 2), 1, (1, 0), 2, 14, 1),)),
}


@pytest.mark.cocotb
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_random_conv_network(case, sim_build_root):
    """Bit-exact at full rate and under idle/backpressure; with sized FIFOs, cycles per frame
    at full rate within 2 % of the analytic bound; a corrupted expectation is caught."""
    rng = np.random.default_rng(len(case))
    graph = random_conv_graph(rng, **CONV_CASES[case])
    sizing = size_fifos(graph, build_root=sim_build_root)
    sized = sizing.graph
    assert len(sizing.depths) == len(graph.layers) - 1
    network = Network(sized)
    assert network.fifo_depths() == list(sizing.depths)
    _golden, inputs, expected = harness_vectors(network, sized.test_frames)
    full = run_harness(network, inputs, expected, build_root=sim_build_root, name=f"{case}_full")
    assert full.passed, full.message
    ratio = full.steady_interval(skip=3) / network.expected_cycles()
    assert 0.98 <= ratio <= 1.02, (ratio, sizing.depths)
    stress = run_harness(network, inputs, expected, idle=0.3, backpressure=0.4, seed=5,
                         build_root=sim_build_root, name=f"{case}_stress")
    assert stress.passed, stress.message
    corrupted = list(expected)
    corrupted[len(corrupted) // 2] ^= 1 << network.logit_bits     # one logit bit
    caught = run_harness(network, inputs, corrupted, build_root=sim_build_root,
                         name=f"{case}_corrupt", stop_on_mismatch=False)
    assert not caught.passed and caught.mismatches == 1
