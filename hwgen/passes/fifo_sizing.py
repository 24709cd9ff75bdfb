"""FIFO sizing by simulation, in seconds (FINN's hours-long step, done with the HDL-side harness).

One Verilator build of the network with deep FIFOs that report their peak occupancy and accept
a run-time depth limit (:class:`hwgen.hw.network.Network` ``monitor``; a FIFO so limited runs
cycle for cycle as the FIFO of that depth the network is built with, a depth-2 one at half
rate included), then many short runs:

1. Frames fed at the slowest layer's rate (one every ``expected_cycles``): no FIFO fills, and
   each one's peak is a depth that never stalls the pipeline (an upper bound: a producer faster
   than its consumer runs ahead and fills its FIFO with most of a frame).
2. Full input rate with those depths: the reference cycles per frame.
3. FIFO after FIFO, a binary search for the least depth that keeps the full-rate cycles per
   frame within ``tolerance`` of the reference, the depths already found kept. The last
   accepted run used exactly the final depths, so they are measured, not assumed.

In a graph with reconvergent paths (a fork whose branches meet again at a join, the residual
add's shortcut beside its convolutions) a FIFO too shallow on one branch does not only slow
the network: the fork waits for the full FIFO while the join waits for the other branch,
which waits for the fork. Such a run stops producing; the search counts it as too shallow
(as it counts a slow one), so the depths it keeps are ones that ran every frame.

The verification step measures cycles per frame again in the final network (``cycles_ratio``).
"""
import time
from dataclasses import dataclass

import numpy as np

from ..errors import HwgenError
from ..harness import run_harness
from ..hw.network import LEVEL_BITS, Network, frame_depth
from ..ir import Graph
from ..target import DEFAULT_TARGET, Target
from ..verify import harness_vectors

__all__ = ["FifoSizing", "size_fifos", "deep_depths"]


@dataclass(frozen=True)
class FifoSizing:
    graph: Graph            # the input graph with ``fifo_depths`` set
    depths: tuple           # per FIFO, in the order of the graph's edges
    peaks: tuple            # peak occupancy seen with deep FIFOs
    frames: int
    seconds: float          # wall time of the whole step (Verilator build included)
    sim_cycles: int         # cycles simulated, all runs
    reference_cycles: float  # cycles per frame at full rate with the peak depths


def deep_depths(graph: Graph) -> list[int]:
    """Depths no FIFO fills in a throttled run: two frames of the consumer's input transfers,
    per edge (:func:`hwgen.hw.network.frame_depth`)."""
    activations = graph.activations()
    return [frame_depth(graph, edge, activations) for edge in graph.edges()]


def _pack(values) -> int:
    return sum(int(v) << (LEVEL_BITS * k) for k, v in enumerate(values))


def size_fifos(graph: Graph, *, frames: int = 8, tolerance: float = 0.005, build_root=None,
               seed: int = 0, progress=None, target: Target = DEFAULT_TARGET) -> FifoSizing:
    """``graph`` with its FIFO depths sized by simulation on ``frames`` test frames (repeated
    when the IR holds fewer), its blocks built for ``target`` (the board's, or
    :data:`hwgen.target.DEFAULT_TARGET` where no board is known); see the module docstring."""
    say = progress or (lambda message: None)
    started = time.perf_counter()
    fifos = len(graph.edges())
    if fifos == 0:
        return FifoSizing(graph.with_fifo_depths(()), (), (), 0, 0.0, 0, 0)
    if not len(graph.test_frames):
        raise HwgenError("FIFO sizing needs test frames in the IR")
    count = max(4, frames)
    chosen = graph.test_frames[np.arange(count) % len(graph.test_frames)]
    network = Network(graph.with_fifo_depths(deep_depths(graph)), monitor=True, target=target)
    _golden, inputs, expected = harness_vectors(network, chosen)
    interval = graph.expected_cycles()
    timeout = (count + 4) * interval * 8 + 100_000
    cycles = 0

    def run(name, limits=None, throttle=False, may_stall=False):
        """One run; with ``may_stall``, None where it does not deliver every frame (depths
        too shallow for reconvergent paths) within twice the reference run's cycles: a run
        that slow misses the bound anyway, and a stalled one stops there."""
        nonlocal cycles
        result = run_harness(network, inputs, expected, build_root=build_root, name=name,
                             seed=seed, limits=None if limits is None else _pack(limits),
                             frame_interval=(network.transfers_per_frame, interval) if throttle
                             else None,
                             timeout_cycles=search_timeout if may_stall else timeout)
        cycles += result.cycles
        if may_stall and len(result.outputs) < len(expected):
            return None
        if not result.passed or result.levels is None:
            raise HwgenError(f"FIFO sizing simulation failed ({name}): {result.message}")
        return result

    say(f"sizing {fifos} FIFOs by simulation ({count} frames, Verilator): building the "
        f"simulator, then the peaks at the layers' rate")
    throttled = run("fifo_peaks", throttle=True)
    say(f"FIFO sizing: peaks measured in {time.perf_counter() - started:.1f} s; searching "
        f"each FIFO's least depth that keeps the rate")
    mask = (1 << LEVEL_BITS) - 1
    peaks = tuple((throttled.levels >> (LEVEL_BITS * k)) & mask for k in range(fifos))
    for peak, depth, edge in zip(peaks, network.graph.fifo_depths, graph.edges()):
        if peak >= depth:
            raise HwgenError(f"FIFO from {edge.producer!r} to {edge.consumer!r} filled during "
                             f"sizing ({peak} of {depth}): a layer runs slower than its "
                             f"expected cycles")
    depths = [max(2, peak + 1) for peak in peaks]
    skip = 2
    measured = run("fifo_reference", depths)
    reference = measured.steady_interval(skip=skip)
    search_timeout = 2 * measured.cycles + 1_000
    bound = max(reference, interval) * (1 + tolerance)
    for index, edge in enumerate(graph.edges()):
        low, high = 2, depths[index]          # high is known good
        steps = 0
        while low < high:
            middle = (low + high) // 2
            trial = depths[:index] + [middle] + depths[index + 1:]
            result = run("fifo_search", trial, may_stall=True)
            steps += 1
            if result is not None and result.steady_interval(skip=skip) <= bound:
                high = middle
            else:
                low = middle + 1
        depths[index] = high
        say(f"FIFO {index + 1} of {fifos} ({edge.producer} -> {edge.consumer}): depth {high} "
            f"(peak {peaks[index]} at the layers' rate), {steps} search "
            f"simulation{'s' * (steps != 1)}, {time.perf_counter() - started:.1f} s so far")
    seconds = time.perf_counter() - started
    say(f"FIFO depths {depths} (peaks at the layers' rate {list(peaks)}) in {seconds:.1f} s")
    return FifoSizing(graph.with_fifo_depths(depths), tuple(depths), peaks, count, seconds,
                      cycles, reference)
