"""Whole-network verification: the generated RTL against the golden model, bit for bit.

When they disagree, :func:`diagnose` says where: it reruns the failing simulation recording
every layer's output stream (:class:`~hwgen.hw.network.Network` ``taps``), compares each
layer's transfers with the golden model's output of that layer, packed as the stream packs it,
and names the first layer whose stream differs, with the frame and the word. That layer's
input matched, so the fault is in it (or in the width converter and FIFO right before it,
which only move words). On request it also writes an FST waveform of a window of cycles
around that first wrong word.
"""
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .errors import HwgenError
from .golden import run_graph, run_layers
from .harness import run_harness
from .ops.label_select.hw import result_layout
from .hw.network import Network
from .ops import op_for
from .lib.packing import pack_words, unpack_words
from .ir import Graph
from .target import DEFAULT_TARGET, Target

__all__ = ["Verification", "Diagnosis", "result_words", "decode_results", "harness_vectors",
           "verify_network", "diagnose", "trace_window", "MISMATCH_TRACE", "FIRST_FRAMES_TRACE"]

#: File names of the waveforms written into the ``trace`` folder of :func:`verify_network`.
MISMATCH_TRACE, FIRST_FRAMES_TRACE = "mismatch.fst", "trace.fst"
#: Frames in the waveform of a run where RTL and golden agree.
TRACED_FRAMES = 2


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
    diagnosis: str | None = None  # where the RTL first differs (see Diagnosis), if it does
    trace: str | None = None    # the FST waveform written, if one was asked for

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


def harness_vectors(network: Network, frames, graph: Graph | None = None):
    """Golden results of ``frames`` on ``graph`` (default: ``network``'s), with the input and
    expected result words the harness streams to ``network``: ``(golden, inputs, expected)``."""
    graph = graph if graph is not None else network.graph
    golden = run_graph(graph, frames)
    inputs = network.input_words(frames)
    expected = result_words(graph, golden.logits, golden.labels, network.logit_bits)
    return golden, inputs, expected


def verify_network(graph: Graph, *, fifo_depth: int, frames: int | None = None, build_root=None,
                   seed: int = 0, progress=None, trace=None, network: Network | None = None,
                   target: Target = DEFAULT_TARGET) -> Verification:
    """Co-simulate the network on the IR's test frames (all, or the first ``frames``).

    Two runs on Verilator in the HDL-side harness (:func:`hwgen.harness.run_harness`): one at
    full rate (measures cycles per frame) and one with random idle cycles and backpressure;
    both must match the golden model on every frame. If one does not, :func:`diagnose` reruns
    it with the layers' streams tapped and ``Verification.diagnosis`` names the first layer,
    frame and word that differ (a run that ends early raises :class:`HwgenError` saying so).

    ``trace``, a folder, asks for an FST waveform there: ``mismatch.fst``, a window around the
    first wrong word (:func:`trace_window`), or where everything matches ``trace.fst``, the
    first ``TRACED_FRAMES`` frames at full rate. Either costs one more Verilator build.
    ``network`` is the hardware to check against ``graph``'s golden model (default:
    ``Network(graph, fifo_depth=fifo_depth, taps=True, target=target)``: the taps cost no
    logic, and one binary serves both the check and, should it fail, the diagnosis); ``target``
    is the FPGA family its blocks are built for (the board's, or
    :data:`hwgen.target.DEFAULT_TARGET` where no board is known).
    """
    say = progress or (lambda message: None)
    count = len(graph.test_frames) if frames is None else min(frames, len(graph.test_frames))
    if network is None:
        network = Network(graph, fifo_depth=fifo_depth, taps=True, target=target)
    test_frames = graph.test_frames[:count]
    golden, inputs, expected = harness_vectors(network, test_frames, graph=graph)
    # Generous: every frame at the slowest layer's rate, four times over, plus pipeline fill.
    timeout = (count + 8) * graph.expected_cycles() * 4 + 4 * len(inputs) + 100_000
    trace = Path(trace) if trace is not None else None
    if trace is not None:       # an earlier run's waveform would read as this one's
        for name in (MISMATCH_TRACE, FIRST_FRAMES_TRACE):
            (trace / name).unlink(missing_ok=True)

    def diagnosed(name, **settings) -> "Diagnosis":
        say(f"diagnosing the {name} run: every layer's stream against the golden model")
        return diagnose(network, graph, test_frames, inputs, expected, build_root=build_root,
                        trace=None if trace is None else trace / MISMATCH_TRACE, **settings)

    def running(what):
        """Progress of a run: frames done of ``count``, cycles and cycles/s."""
        per_frame = max(1, len(expected) // max(1, count))

        def report(outputs, cycles, seconds):
            rate = f", {cycles / seconds / 1000:,.0f}k cycles/s" if seconds > 0 else ""
            say(f"co-simulation ({what}): {outputs // per_frame:,} of {count:,} frames, "
                f"{cycles:,} cycles{rate}, {seconds:.0f} s")
        return report

    say(f"co-simulating {count} frames on Verilator (full rate)")
    full_rate = dict(seed=seed, timeout_cycles=timeout)
    run = run_harness(network, inputs, expected, build_root=build_root, name="full_rate",
                      stop_on_mismatch=False, progress=running("full rate"), **full_rate)
    if len(run.outputs) != count:
        diagnosis = diagnosed("full-rate", **full_rate)
        raise HwgenError(f"co-simulation produced {len(run.outputs)} of {count} results: "
                         f"{run.message}; {diagnosis}")
    labels, logits = decode_results(graph, run.outputs, network.logit_bits)
    say(f"co-simulating {count} frames with random idle cycles and backpressure")
    stressed = dict(idle=0.2, backpressure=0.3, seed=seed + 1, timeout_cycles=4 * timeout)
    stress = run_harness(network, inputs, expected, build_root=build_root, name="stress",
                         progress=running("idle cycles and backpressure"), **stressed)
    diagnosis, waveform = None, None
    if run.mismatches:
        diagnosis = diagnosed("full-rate", **full_rate)
        waveform = diagnosis.trace
    elif not stress.passed:
        diagnosis = diagnosed("stress", **stressed)
        waveform = diagnosis.trace
    elif trace is not None:
        traced = min(TRACED_FRAMES, count)
        waveform = str(trace / FIRST_FRAMES_TRACE)
        say(f"writing a waveform of the first {traced} frames to {waveform}")
        run_harness(_tapped(network), inputs, expected, build_root=build_root, name="trace",
                    trace=(trace / FIRST_FRAMES_TRACE, 0, run.output_cycles[traced - 1]
                           + _TRACE_AFTER), **full_rate)
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
        diagnosis=None if diagnosis is None else str(diagnosis),
        trace=waveform,
    )


#: A mismatch waveform starts this many cycles before the first wrong word (at least, or one
#: frame interval if longer, at most _TRACE_BEFORE_MAX), ends _TRACE_AFTER cycles after the
#: first wrong result and spans at most _TRACE_SPAN cycles.
_TRACE_BEFORE, _TRACE_BEFORE_MAX, _TRACE_AFTER, _TRACE_SPAN = 256, 4096, 64, 10_000


@dataclass(frozen=True)
class Diagnosis:
    """Where the RTL's streams first part from the golden model's (see :func:`diagnose`).

    ``layer`` is the index in ``graph.layers`` of the first layer whose output stream differs
    (None: every layer's matched and the label select's result differs; ``recurred`` False:
    nothing differed when rerun with taps). ``frame`` and ``word`` locate its first wrong
    transfer: word ``word`` of the ``words`` that layer streams per frame. ``got`` is the RTL's
    word (None: the stream stopped before it), ``expected`` the golden one. ``cycle`` is the
    harness cycle of that transfer (of the stream's last one if it stopped), ``output_frame``
    and ``output_cycle`` those of the first wrong or missing result.
    """
    recurred: bool
    layer: int | None = None
    name: str = ""
    op: str = ""
    frame: int = 0
    word: int = 0
    words: int = 0
    got: int | None = None
    expected: int = 0
    cycle: int = 0
    output_frame: int = 0
    output_cycle: int = 0
    trace: str | None = None            # the FST waveform written, if asked for
    trace_cycles: tuple[int, int] | None = None

    def __str__(self) -> str:
        if not self.recurred:
            text = "the mismatch did not recur with every layer's stream tapped"
        elif self.layer is None:
            text = (f"first at frame {self.frame}: every layer's stream matches golden, the "
                    f"label select's result is {_hex(self.got)}, golden {_hex(self.expected)}")
        else:
            where = (f"first at frame {self.frame}: layer {self.layer} {self.name!r} "
                     f"({self.op}) output")
            if self.got is None:
                text = (f"{where} stopped before word {self.word} of {self.words} "
                        f"(golden {_hex(self.expected)})")
            else:
                text = (f"{where} word {self.word} of {self.words} is {_hex(self.got)}, "
                        f"golden {_hex(self.expected)}")
        if self.trace is not None:
            first, last = self.trace_cycles
            text += (f"; waveform of cycles {first}..{last} (that word at cycle "
                     f"{self.cycle}): {self.trace}")
        return text


def _hex(word: int | None) -> str:
    return "nothing" if word is None else f"{word:#x}"


def _tapped(network: Network) -> Network:
    """``network``, or the same network with tap ports if it has none."""
    if network.taps:
        return network
    return Network(network.graph, fifo_depth=network.fifo_depth, monitor=network.monitor,
                   taps=True, target=network.target)


def _stream_words(values: np.ndarray, *, bits: int, per_word: int) -> list[int]:
    """:func:`hwgen.lib.packing.pack_words`, vectorised: rows of ``values`` as stream words."""
    elements = np.asarray(values, dtype=np.int64).reshape(-1, per_word) & ((1 << bits) - 1)
    # Pack up to 62 bits at a time in numpy; join those pieces as Python integers.
    chunk = max(1, 62 // bits)
    pieces = []
    for start in range(0, per_word, chunk):
        part = elements[:, start:start + chunk]
        shifts = np.arange(part.shape[1], dtype=np.int64) * bits
        pieces.append((start * bits, (part << shifts).sum(axis=1)))
    if len(pieces) == 1:
        return [int(word) for word in pieces[0][1]]
    return [sum(int(piece[row]) << offset for offset, piece in pieces)
            for row in range(len(elements))]


def _first_difference(got: list[int], expected: list[int], *, short: bool = True) -> int | None:
    """Index of the first word where ``got`` differs from ``expected`` (or, with ``short``,
    falls short of it)."""
    for index, (word, golden) in enumerate(zip(got, expected)):
        if word != golden:
            return index
    return len(got) if short and len(got) < len(expected) else None


def trace_window(network: Network, cycle: int, output_cycle: int) -> tuple[int, int]:
    """Cycles traced around a mismatch: from before the first wrong word (``cycle``; at least
    one frame interval, so its inputs show) to just after the first wrong result."""
    before = min(_TRACE_BEFORE_MAX, max(_TRACE_BEFORE, network.expected_cycles()))
    first = max(0, cycle - before)
    last = max(cycle, output_cycle) + _TRACE_AFTER
    return first, min(last, first + _TRACE_SPAN)


def diagnose(network: Network, graph: Graph, frames, inputs, expected, *, idle: float = 0.0,
             backpressure: float = 0.0, seed: int = 0, timeout_cycles: int | None = None,
             build_root=None, trace=None) -> Diagnosis:
    """Rerun a failing co-simulation of ``network`` with every layer's output stream tapped
    and find the first layer whose stream differs from ``graph``'s golden model.

    ``frames`` are the input frames (N, elements) whose harness words are ``inputs`` and
    ``expected`` (:func:`harness_vectors`); ``idle``, ``backpressure``, ``seed`` and
    ``timeout_cycles`` those of the failing run, so the rerun sees the same cycles (the harness
    is deterministic, and taps only watch). The run stops at the first wrong result, frame
    ``f``. Each layer's transfers up to there are compared, word by word, with golden's
    output of that layer for frames 0..f, layer by layer in stream order; the first layer with
    a wrong word is named (a wrong result has a cause upstream of it by then, or in the label
    select). Where no word is wrong but a result is missing (the run hung), the first layer
    that streamed less than golden's frames 0..f is named.

    ``trace``, a file name, asks for an FST waveform of :func:`trace_window` around that word
    there: both runs, this one and the one that dumps the window, are then of the tapped
    network built with tracing (the same cycles; one build).
    """
    tapped = _tapped(network)
    settings = dict(idle=idle, backpressure=backpressure, seed=seed,
                    timeout_cycles=timeout_cycles, build_root=build_root)
    run = run_harness(tapped, inputs, expected, name="diagnose", stop_on_mismatch=True,
                      record_taps=True, traceable=trace is not None, **settings)
    output_frame = _first_difference(run.outputs, list(expected))
    if output_frame is None:
        return Diagnosis(recurred=False)
    output_cycle = (run.output_cycles[output_frame] if output_frame < len(run.outputs)
                    else run.cycles)
    frames = np.asarray(frames)[:output_frame + 1]
    streams = []
    for layer, values in zip(graph.layers, run_layers(graph, frames)):
        count, bits = op_for(layer).out_transfer(layer)
        streams.append((values.shape[1] // count,
                        _stream_words(values, bits=bits, per_word=count)))
    found = None
    # Some words of frame f may come after its result (a max-pool drops edge pixels), so a
    # short stream is a fault only when a result is missing and no word is wrong.
    missing = output_frame >= len(run.outputs)
    for short in (False, True) if missing else (False,):
        for index, (layer, (per_frame, golden)) in enumerate(zip(graph.layers, streams)):
            cycles, words = run.taps[index]
            word = _first_difference(words, golden, short=short)
            if word is not None:
                found = dict(layer=index, name=layer.name, op=layer.op, frame=word // per_frame,
                             word=word % per_frame, words=per_frame,
                             got=words[word] if word < len(words) else None,
                             expected=golden[word],
                             cycle=cycles[min(word, len(cycles) - 1)] if cycles else 0)
                break
        if found is not None:
            break
    if found is None:       # every layer streamed what golden did: the label select is wrong
        found = dict(frame=output_frame, words=1, expected=int(expected[output_frame]),
                     got=run.outputs[output_frame] if output_frame < len(run.outputs) else None,
                     cycle=output_cycle, name="label_select", op="label_select")
    diagnosis = Diagnosis(recurred=True, output_frame=output_frame, output_cycle=output_cycle,
                          **found)
    if trace is None:
        return diagnosis
    window = trace_window(network, diagnosis.cycle, output_cycle)
    run_harness(tapped, inputs, expected, name="trace", stop_on_mismatch=False,
                trace=(Path(trace), *window), **settings)
    return replace(diagnosis, trace=str(trace), trace_cycles=window)
