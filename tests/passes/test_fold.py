"""Auto-folding: every layer meets the target, at the least cost a brute force finds."""
import dataclasses
import itertools

import numpy as np
import pytest

from hwgen.errors import HwgenError
from hwgen.estimate import estimate_graph, estimate_layer
from hwgen.ir import Graph
from hwgen.ops import DWCLayer, MVTULayer, MaxPoolLayer, SWGLayer
from hwgen.passes.fold import (MAX_PE_SIMD, FoldingError, auto_fold, fold_options, fold_report,
                              folding_cost, target_from_fps)
from hwgen.target import target as find_target
from hwgen.target.ecp5 import ECP5 as ECP5Target
from tests.conftest import digits_cnn_chain, random_layer

ECP5 = find_target("ecp5")


def _small_conv(rng) -> Graph:
    layers = (SWGLayer("swg", 4, 4, 4, 3, padding=1),
              random_layer(rng, mw=36, mh=6, pe=1, simd=1, name="conv", pixels=16,
                           in_encoding="binary"),
              MaxPoolLayer("pool", 6, 4, 4, 2),
              random_layer(rng, mw=24, mh=4, pe=1, simd=1, name="fc", logits=True))
    return Graph("small_conv", (4, 4, 4), 4, layers, rng.integers(0, 2, (2, 64)),
                 rng.integers(0, 4, 2), input_encoding="binary")


def _mlp(rng) -> Graph:
    layers = (dataclasses.replace(random_layer(rng, mw=12, mh=8, pe=1, simd=1, name="a"),
                                  out_encoding="binary"),
              random_layer(rng, mw=8, mh=6, pe=1, simd=1, name="b", in_encoding="binary"),
              random_layer(rng, mw=6, mh=4, pe=1, simd=1, name="c", logits=True))
    return Graph("mlp", (12, 1, 1), 4, layers, rng.integers(0, 2, (2, 12)),
                 rng.integers(0, 4, 2))


# --- an independent brute force ---------------------------------------------------------------

def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _every_folding(layer, target, cap=MAX_PE_SIMD):
    if isinstance(layer, MVTULayer):
        fields = [{"pe": p, "simd": s} for p in _divisors(layer.mh) for s in _divisors(layer.mw)
                  if p * s <= cap]
    elif isinstance(layer, SWGLayer):
        fields = [{"simd": s} for s in _divisors(layer.channels)]
    else:
        fields = [{"pe": p} for p in _divisors(layer.channels)]
    folded = [dataclasses.replace(layer, **f) for f in fields]
    return [f for f in folded if f.expected_cycles() <= target]


def _widths(layer):
    """(input, output) bits per transfer."""
    if isinstance(layer, MVTULayer):
        return layer.simd * layer.in_bits, layer.pe * layer.out_bits
    if isinstance(layer, SWGLayer):
        return (layer.simd * layer.elem_bits,) * 2
    return layer.pe, layer.pe


def _brute_force(graph, target, fixed=(), converters=True):
    options = [[layer] if layer.name in fixed else _every_folding(layer, target)
               for layer in graph.layers]
    cost = [{id(o): estimate_layer(o, ECP5).cost(ECP5) for o in opts} for opts in options]
    best = None
    for combo in itertools.product(*options):
        total = sum(cost[i][id(o)] for i, o in enumerate(combo))
        if converters:
            total += sum(estimate_layer(DWCLayer("dwc", _widths(a)[1], _widths(b)[0], 1),
                                        ECP5).cost(ECP5)
                         for a, b in zip(combo, combo[1:]))
        best = total if best is None else min(best, total)
    return best


# --- tests ------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", [200_000, 20_000, 5000, 1500, 1000, 600, 576])
def test_conv_chain_meets_target(target):
    graph = digits_cnn_chain(np.random.default_rng(0))
    folded = auto_fold(graph, target_cycles=target)
    assert all(layer.expected_cycles() <= target for layer in folded.layers)
    assert folded.expected_cycles() <= target
    for layer in folded.layers:
        if isinstance(layer, MVTULayer):
            assert layer.mh % layer.pe == 0 and layer.mw % layer.simd == 0
            assert layer.pe * layer.simd <= MAX_PE_SIMD
        elif isinstance(layer, SWGLayer):
            assert layer.channels % layer.simd == 0
        else:
            assert layer.channels % layer.pe == 0
    # only folding changed: names, shapes, weights and test data are the input's
    for before, after in zip(graph.layers, folded.layers):
        assert type(before) is type(after) and before.name == after.name
        if isinstance(before, MVTULayer):
            assert after.weights is not None
            np.testing.assert_array_equal(before.weights, after.weights)
    np.testing.assert_array_equal(graph.test_frames, folded.test_frames)


@pytest.mark.parametrize("make,target", [
    (_mlp, 96), (_mlp, 30), (_mlp, 8), (_mlp, 4), (_mlp, 1),
    (_small_conv, 10_000), (_small_conv, 1000), (_small_conv, 300), (_small_conv, 144),
])
@pytest.mark.parametrize("converters", [True, False])
def test_cheapest_by_brute_force(make, target, converters):
    graph = make(np.random.default_rng(1))
    folded = auto_fold(graph, target_cycles=target, converters=converters)
    assert folded.expected_cycles() <= target
    assert folding_cost(folded, converters=converters) == \
        pytest.approx(_brute_force(graph, target, converters=converters))


def test_without_converters_each_layer_is_its_own_cheapest():
    """Without converters the cost is a sum over layers: each is its cheapest alone."""
    graph = digits_cnn_chain(np.random.default_rng(2))
    folded = auto_fold(graph, target_cycles=3000, converters=False)
    for layer in folded.layers:
        alone = min(estimate_layer(o).cost(ECP5) for o in _every_folding(layer, 3000))
        assert estimate_layer(layer).cost(ECP5) == alone


def test_converters_couple_neighbours():
    """Choosing each layer alone ignores the width converters a mismatch costs; the chain's
    optimum is cheaper."""
    graph = _small_conv(np.random.default_rng(1))
    coupled = auto_fold(graph, target_cycles=10_000)
    alone = auto_fold(graph, target_cycles=10_000, converters=False)
    assert folding_cost(coupled) < folding_cost(alone)


def test_fixed_layers_stay():
    graph = digits_cnn_chain(np.random.default_rng(3))
    graph = graph.with_layers({"conv1": {"pe": 8, "simd": 16}, "pool": {"pe": 2}})
    folded = auto_fold(graph, target_cycles=2000, fixed=("conv1", "pool"))
    by_name = {layer.name: layer for layer in folded.layers}
    assert (by_name["conv1"].pe, by_name["conv1"].simd) == (8, 16)
    assert by_name["pool"].pe == 2
    assert folded.expected_cycles() <= 2000


def test_fixed_layers_cheapest_for_the_rest():
    graph = _small_conv(np.random.default_rng(4)).with_layers({"conv": {"pe": 3, "simd": 12}})
    folded = auto_fold(graph, target_cycles=500, fixed=["conv"])
    assert next(l for l in folded.layers if l.name == "conv").simd == 12
    assert folding_cost(folded) == pytest.approx(_brute_force(graph, 500, fixed={"conv"}))


def test_looser_target_never_costs_more():
    graph = digits_cnn_chain(np.random.default_rng(5))
    costs = [folding_cost(auto_fold(graph, target_cycles=t))
             for t in (576, 700, 1000, 2000, 5000, 10_000, 50_000, 200_000)]
    assert all(looser <= tighter for tighter, looser in zip(costs, costs[1:])), costs


@pytest.mark.parametrize("target", [1, 100, 575])
def test_impossible_target_names_the_limit(target):
    graph = digits_cnn_chain(np.random.default_rng(6))
    with pytest.raises(FoldingError) as error:
        auto_fold(graph, target_cycles=target)
    message = str(error.value)
    assert isinstance(error.value, HwgenError) and "\n" not in message
    assert f"target {target} cycles/frame cannot be met" in message
    # the first sliding window reads one element a cycle: 3x3 windows of 64 pixels
    assert "best achievable is 576" in message and "'conv0_swg'" in message


def test_impossible_because_of_a_fixed_layer():
    graph = digits_cnn_chain(np.random.default_rng(7)).with_layers({"fc": {"pe": 1, "simd": 1}})
    with pytest.raises(FoldingError, match=r"best achievable is 2880 \(layer 'fc' fixed at "
                                           r"pe=1, simd=1"):
        auto_fold(graph, target_cycles=1000, fixed=["fc"])


def test_impossible_because_of_the_cap():
    graph = _mlp(np.random.default_rng(8))
    # fully parallel "a" is 96 synapses; capped at 16 it takes at least 6 cycles
    with pytest.raises(FoldingError, match=r"best achievable is 6 \(layer 'a' at .*pe\*simd at "
                                           r"most 16"):
        auto_fold(graph, target_cycles=5, max_pe_simd=16)
    assert auto_fold(graph, target_cycles=6, max_pe_simd=16).expected_cycles() <= 6


def test_fully_parallel_limit():
    graph = _mlp(np.random.default_rng(9))
    folded = auto_fold(graph, target_cycles=1)
    assert [(l.pe, l.simd) for l in folded.layers] == [(8, 12), (6, 8), (4, 6)]


def test_bad_arguments():
    graph = _mlp(np.random.default_rng(10))
    with pytest.raises(FoldingError, match="no such layer"):
        auto_fold(graph, target_cycles=10, fixed=["nope"])
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="target_cycles"):
            auto_fold(graph, target_cycles=bad)


def test_fold_options():
    layer = random_layer(np.random.default_rng(11), mw=12, mh=8, pe=1, simd=1)
    options = fold_options(layer, 24)
    assert options and all(o.expected_cycles() <= 24 for o in options)
    assert {(o.pe, o.simd) for o in options} == {
        (p, s) for p in _divisors(8) for s in _divisors(12) if (8 // p) * (12 // s) <= 24}


def test_target_from_fps():
    assert target_from_fps(1000, 100e6) == 100_000
    assert target_from_fps(3, 10) == 3          # floor
    assert target_from_fps(25e6, 25e6) == 1
    with pytest.raises(FoldingError, match="less than one cycle"):
        target_from_fps(30e6, 25e6)
    for bad in (0, -1, float("nan"), "10"):
        with pytest.raises(ValueError, match="fps"):
            target_from_fps(bad, 25e6)
    with pytest.raises(ValueError, match="clock_hz"):
        target_from_fps(10, 0)


def test_fold_report():
    graph = auto_fold(digits_cnn_chain(np.random.default_rng(12)), target_cycles=2000)
    rows = fold_report(graph)
    assert [row["name"] for row in rows] == [layer.name for layer in graph.layers]
    assert [row["op"] for row in rows] == ["swg", "mvtu", "swg", "mvtu", "maxpool", "mvtu"]
    assert rows[0]["pe"] is None and rows[4]["simd"] is None
    for row, layer in zip(rows, graph.layers):
        assert row["cycles"] == layer.expected_cycles() <= 2000
        resources = estimate_layer(layer)
        assert (row["luts"], row["ffs"], row["brams"], row["dsps"]) == \
            (resources.luts, resources.ffs, resources.brams, resources.dsps)
    assert sum(row["bottleneck"] for row in rows) >= 1
    assert all(row["cycles"] == graph.expected_cycles() for row in rows if row["bottleneck"])


def test_large_mlp_folds():
    """A 784-1024-1024-10 MLP folds to its target (how fast: ``fold_ms`` of
    ``bench/folding.py``; tests check results, not wall time)."""
    rng = np.random.default_rng(13)
    layers = (random_layer(rng, mw=784, mh=1024, pe=1, simd=1, name="fc0"),
              random_layer(rng, mw=1024, mh=1024, pe=1, simd=1, name="fc1"),
              random_layer(rng, mw=1024, mh=10, pe=1, simd=1, name="fc2", logits=True))
    graph = Graph("big", (784, 1, 1), 10, layers, rng.integers(0, 2, (1, 784)), [0])
    folded = auto_fold(graph, target_cycles=4096)
    assert folded.expected_cycles() <= 4096 < auto_fold(graph, target_cycles=8192).expected_cycles()


def test_the_target_prices_the_folding():
    """The target's estimates and cost weights price a folding: where block RAM is dear, the
    auto-folder trades it for LUTs."""
    class DearBlockRam(ECP5Target):
        family = "dear_bram"
        bram_luts = 10 ** 6

    dear_target = DearBlockRam()
    graph = digits_cnn_chain(np.random.default_rng(0))
    cheap = auto_fold(graph, target_cycles=5000, target=ECP5)
    dear = auto_fold(graph, target_cycles=5000, target=dear_target)
    assert estimate_graph(cheap, ECP5).brams > 0 == estimate_graph(dear, ECP5).brams
    assert folding_cost(dear, target=dear_target) < folding_cost(cheap, target=dear_target)
    assert folding_cost(cheap, target=ECP5) < folding_cost(dear, target=ECP5)
    assert fold_report(cheap, dear_target) == fold_report(cheap, ECP5)    # same estimates
