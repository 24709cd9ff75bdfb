"""Auto-folding against a FINN-style greedy folding, in estimated resources.

    python bench/folding.py

Folds a small convolutional chain and a 784-1024-1024-10 MLP at several targets with
:func:`hwgen.passes.fold.auto_fold`, and with the rule of FINN's ``SetFolding`` (per layer, raise
SIMD through the divisors of MW until the target is met, then PE; a sliding window takes its
MVTU's SIMD, a max-pool the PE before it). One ``key: value`` line per figure:

    <graph>_<target>_luts            estimated LUTs of the auto-folded graph (converters included)
                                     on ECP5
    <graph>_<target>_brams           estimated DP16KD block RAMs of the same
    <graph>_<target>_greedy_luts     the same two for the greedy folding
    <graph>_<target>_greedy_brams
    <graph>_<target>_saving          1 - cost / greedy cost (cost: LUTs + weighted BRAM/DSP)
    fold_ms                          milliseconds to auto-fold the MLP
"""
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hwgen.estimate import estimate_graph  # noqa: E402
from hwgen.ir import Graph  # noqa: E402
from hwgen.ops import MVTULayer, MaxPoolLayer, SWGLayer  # noqa: E402
from hwgen.passes.fold import auto_fold, folding_cost  # noqa: E402
from hwgen.target import target as find_target  # noqa: E402
from tests.conftest import digits_cnn_chain, random_layer  # noqa: E402


def mlp(rng) -> Graph:
    layers = (random_layer(rng, mw=784, mh=1024, pe=1, simd=1, name="fc0"),
              random_layer(rng, mw=1024, mh=1024, pe=1, simd=1, name="fc1"),
              random_layer(rng, mw=1024, mh=10, pe=1, simd=1, name="fc2", logits=True))
    return Graph("mlp", (784, 1, 1), 10, layers, rng.integers(0, 2, (1, 784)), [0])


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def greedy_fold(graph: Graph, target: int) -> Graph:
    """FINN ``SetFolding``'s rule: SIMD first, then PE, smallest that meets the target."""
    layers = list(graph.layers)
    for index, layer in enumerate(layers):
        if not isinstance(layer, MVTULayer):
            continue
        pe, simd = 1, 1
        for simd in _divisors(layer.mw):
            if dataclasses.replace(layer, pe=1, simd=simd).expected_cycles() <= target:
                break
        for pe in _divisors(layer.mh):
            if dataclasses.replace(layer, pe=pe, simd=simd).expected_cycles() <= target:
                break
        layers[index] = dataclasses.replace(layer, pe=pe, simd=simd)
    for index, layer in enumerate(layers):
        if isinstance(layer, SWGLayer):
            consumer = layers[index + 1]
            simd = max(d for d in _divisors(layer.channels) if consumer.simd % d == 0)
            while dataclasses.replace(layer, simd=simd).expected_cycles() > target:
                simd = min(d for d in _divisors(layer.channels) if d > simd)
            layers[index] = dataclasses.replace(layer, simd=simd)
        elif isinstance(layer, MaxPoolLayer):
            producer = layers[index - 1]
            pe = max(d for d in _divisors(layer.channels) if producer.pe % d == 0)
            layers[index] = dataclasses.replace(layer, pe=pe)
    return dataclasses.replace(graph, layers=tuple(layers))


def main() -> int:
    ecp5 = find_target("ecp5")
    rng = np.random.default_rng(0)
    figures = {}
    for graph, targets in ((digits_cnn_chain(rng), (20_000, 5000, 1000, 600)),
                           (mlp(rng), (100_000, 10_000, 2048))):
        for cycles in targets:
            folded = auto_fold(graph, target_cycles=cycles, target=ecp5)
            greedy = greedy_fold(graph, cycles)
            assert folded.expected_cycles() <= cycles and greedy.expected_cycles() <= cycles
            key = f"{graph.name}_{cycles}"
            ours, theirs = estimate_graph(folded, ecp5), estimate_graph(greedy, ecp5)
            figures[f"{key}_luts"] = ours.luts
            figures[f"{key}_brams"] = ours.brams
            figures[f"{key}_greedy_luts"] = theirs.luts
            figures[f"{key}_greedy_brams"] = theirs.brams
            saving = 1 - folding_cost(folded, target=ecp5) / folding_cost(greedy, target=ecp5)
            figures[f"{key}_saving"] = f"{saving:.3f}"
    graph = mlp(np.random.default_rng(1))
    started = time.perf_counter()
    auto_fold(graph, target_cycles=4096, target=ecp5)
    figures["fold_ms"] = f"{(time.perf_counter() - started) * 1e3:.0f}"
    for key, value in figures.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
