"""Whole-network verification: the generated RTL against the golden model, bit for bit."""
from dataclasses import asdict, dataclass

import numpy as np

from .errors import HwgenError
from .golden import run_graph
from .harness import run_harness
from .hw.label_select import result_layout
from .hw.network import Network
from .hw.packing import pack_words, unpack_words
from .ir import Graph

__all__ = ["Verification", "result_words", "decode_results", "harness_vectors", "verify_network"]


@dataclass(frozen=True)
class Verification:
    frames: int
    mismatches: int             # frames whose result word (class and logits) differs
    label_mismatches: int
    logit_mismatches: int
    golden_accuracy: float
    rtl_accuracy: float
    expected_cycles: int        # per frame, analytic (the slowest layer's)
    measured_cycles: float      # per frame, steady state, no idle or backpressure
    sim_cycles_per_s: float
    stress_passed: bool         # the same frames under random idle and backpressure

    @property
    def cycles_ratio(self) -> float:
        return self.measured_cycles / self.expected_cycles

    def to_dict(self) -> dict:
        return {**asdict(self), "cycles_ratio": self.cycles_ratio}


def result_words(graph: Graph, logits: np.ndarray, labels: np.ndarray, logit_bits: int) -> list[int]:
    """Raw ``o.payload`` words of :class:`~hwgen.hw.network.Network` for these results."""
    layout = result_layout(graph.classes, logit_bits)
    logit_words = pack_words(logits, width=logit_bits, per_word=graph.classes)
    offset = layout["logits"].offset
    return [int(label) | (word << offset) for label, word in zip(labels, logit_words)]


def decode_results(graph: Graph, words, logit_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels, logits) from raw result words."""
    layout = result_layout(graph.classes, logit_bits)
    label_mask = (1 << layout["label"].shape.width) - 1
    offset = layout["logits"].offset
    labels = np.array([word & label_mask for word in words], dtype=np.int64)
    logits = unpack_words([word >> offset for word in words], width=logit_bits,
                          per_word=graph.classes, signed=True)
    return labels, logits


def harness_vectors(network: Network, frames):
    """Golden results of ``frames`` on ``network``'s graph, with the input and expected result
    words the harness streams: ``(golden, inputs, expected)``."""
    graph = network.graph
    golden = run_graph(graph, frames)
    inputs = network.input_words(frames)
    expected = result_words(graph, golden.logits, golden.labels, network.logit_bits)
    return golden, inputs, expected


def verify_network(graph: Graph, *, fifo_depth: int, frames: int | None = None, build_root=None,
                   seed: int = 0, progress=None) -> Verification:
    """Co-simulate the network on the IR's test frames (all, or the first ``frames``).

    Two runs on Verilator in the HDL-side harness (:func:`hwgen.harness.run_harness`): one at
    full rate (measures cycles per frame) and one with random idle cycles and backpressure;
    both must match the golden model on every frame.
    """
    say = progress or (lambda message: None)
    count = len(graph.test_frames) if frames is None else min(frames, len(graph.test_frames))
    network = Network(graph, fifo_depth=fifo_depth)
    golden, inputs, expected = harness_vectors(network, graph.test_frames[:count])
    # Generous: every frame at the slowest layer's rate, four times over, plus pipeline fill.
    timeout = (count + 8) * graph.expected_cycles() * 4 + 4 * len(inputs) + 100_000

    say(f"co-simulating {count} frames on Verilator (full rate)")
    run = run_harness(network, inputs, expected, build_root=build_root, name="full_rate",
                      seed=seed, stop_on_mismatch=False, timeout_cycles=timeout)
    if len(run.outputs) != count:
        raise HwgenError(f"co-simulation produced {len(run.outputs)} of {count} results: {run.message}")
    labels, logits = decode_results(graph, run.outputs, network.logit_bits)
    say(f"co-simulating {count} frames with random idle cycles and backpressure")
    stress = run_harness(network, inputs, expected, build_root=build_root, name="stress",
                         idle=0.2, backpressure=0.3, seed=seed + 1, timeout_cycles=4 * timeout)
    skip = min(4, count // 4)
    measured = run.steady_interval(skip=skip) if count - skip >= 2 else float("nan")
    return Verification(
        frames=count,
        mismatches=run.mismatches,
        label_mismatches=int(np.sum(labels != golden.labels)),
        logit_mismatches=int(np.sum(np.any(logits != golden.logits, axis=1))),
        golden_accuracy=golden.accuracy(graph.test_labels[:count]),
        rtl_accuracy=float(np.mean(labels == graph.test_labels[:count])),
        expected_cycles=network.expected_cycles(),
        measured_cycles=measured,
        sim_cycles_per_s=run.cycles_per_s,
        stress_passed=stress.passed,
    )
