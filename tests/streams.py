"""Stream helpers for Amaranth's Python simulator (fast unit tests of single blocks)."""
import random

from amaranth.hdl import ClockDomain, Module, Value
from amaranth.sim import Simulator

__all__ = ["simulate_stream", "simulate_after_reset"]


def simulate_stream(dut, inputs, count, *, idle=0.0, backpressure=0.0, seed=0, max_cycles=100_000):
    """Drive ``dut.i`` with ``inputs`` and collect ``count`` raw ``dut.o`` payloads.

    Random idle cycles on the input and random backpressure on the output, seeded.
    """
    rng = random.Random(seed)
    received = []

    async def bench(ctx):
        received.extend(await _stream(ctx, dut, inputs, count, rng, idle=idle,
                                      backpressure=backpressure, max_cycles=max_cycles))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return received


async def _stream(ctx, dut, inputs, count, rng, *, idle, backpressure, max_cycles) -> list:
    """Offer ``inputs`` on ``dut.i`` (a word, once offered, stays until taken; before each,
    idle cycles with probability ``idle``) while ``dut.o`` is not ready with probability
    ``backpressure``; return the first ``count`` raw payloads out, or fewer after
    ``max_cycles`` cycles."""
    # Raw payload bits on both sides, whatever the layout.
    in_payload, out_payload = Value.cast(dut.i.payload), Value.cast(dut.o.payload)
    received, pending, offered, elapsed = [], list(inputs), False, 0
    while len(received) < count and elapsed < max_cycles:
        if not offered:
            offered = bool(pending) and not (idle and rng.random() < idle)
        ctx.set(dut.i.valid, offered)
        if offered:
            ctx.set(in_payload, pending[0])
        ctx.set(dut.o.ready, not (backpressure and rng.random() < backpressure))
        _, _, taken, valid, ready, payload = await ctx.tick().sample(
            dut.i.ready, dut.o.valid, dut.o.ready, out_payload)
        if offered and taken:
            pending.pop(0)
            offered = False
        if valid and ready:
            received.append(payload)
        elapsed += 1
    return received


def simulate_after_reset(dut, before, inputs, count, *, cycles=60, idle=0.0, backpressure=0.0,
                         seed=0, max_cycles=100_000):
    """``count`` raw ``dut.o`` payloads of ``inputs`` sent after a reset in mid-stream.

    For ``cycles`` cycles ``before`` is offered while the output is ready half the time, then
    not at all, so that a vector is part-consumed and results are in flight (in the pipeline,
    the output and skid registers); then the ``sync`` domain is reset for one cycle, and
    ``inputs`` go in with seeded idle cycles and backpressure, as :func:`simulate_stream`.
    Only transfers after the reset are returned: what a unit held before it must not reach
    them.
    """
    rng = random.Random(seed)
    m = Module()
    m.submodules.dut = dut
    m.domains.sync = domain = ClockDomain("sync")
    in_payload = Value.cast(dut.i.payload)
    received = []

    async def bench(ctx):
        pending = list(before)
        for step in range(cycles):
            ctx.set(dut.i.valid, bool(pending))
            if pending:
                ctx.set(in_payload, pending[0])
            # Ready half the time, then never: the pipeline, output and skid registers full.
            ctx.set(dut.o.ready, step < cycles // 2 and rng.random() < 0.5)
            _, _, taken = await ctx.tick().sample(dut.i.ready)
            if pending and taken:
                pending.pop(0)
        assert pending, "the reset should come in mid-stream: give more words before it"
        ctx.set(dut.i.valid, 0)
        ctx.set(dut.o.ready, 0)
        ctx.set(domain.rst, 1)
        await ctx.delay(1.5e-8)     # one clock edge (a tick would raise DomainReset)
        ctx.set(domain.rst, 0)
        received.extend(await _stream(ctx, dut, inputs, count, rng, idle=idle,
                                      backpressure=backpressure, max_cycles=max_cycles))

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return received


def check_block_on_verilator(block, inputs, expected, frames, build_root, *, corrupt=False):
    """A block against its golden transfers on Verilator: under random idle cycles and
    backpressure, at full rate (its cycles per frame equal to ``expected_cycles()``), and for
    eight frames through the cocotb testbench too; with ``corrupt``, a wrong expectation (one
    bit of the middle transfer flipped) must fail."""
    from hwgen.cosim import run_stream_test
    from hwgen.harness import run_harness
    run = run_harness(block, inputs, expected, idle=0.3, backpressure=0.5, seed=4,
                      build_root=build_root, name="stress")
    assert run.passed, run.message
    full = run_harness(block, inputs, expected, build_root=build_root, name="full")
    assert full.passed, full.message
    per_frame = len(expected) // frames
    measured = (full.output_cycles[-1] - full.output_cycles[per_frame - 1]) / (frames - 1)
    assert measured == block.expected_cycles()
    if corrupt:
        wrong = list(expected)
        wrong[len(wrong) // 2] ^= 1
        assert not run_harness(block, inputs, wrong, build_root=build_root, name="full").passed
    some = 8
    slow = run_stream_test(block, inputs[:some * len(inputs) // frames],
                           expected[:some * per_frame], idle=0.3, backpressure=0.5,
                           build_root=build_root, name="cocotb")
    assert slow.passed, slow.message


def check_network_on_verilator(graph, build_root, name: str) -> list[int]:
    """``graph`` as a whole network on Verilator, its FIFOs sized: RTL == golden at full rate
    (cycles per frame within 2 % of the bound) and under random idle cycles and backpressure.
    Returns the expected result words."""
    from hwgen.harness import run_harness
    from hwgen.hw.network import Network
    from hwgen.passes.fifo_sizing import size_fifos
    from hwgen.verify import harness_vectors
    sized = size_fifos(graph, build_root=build_root).graph
    network = Network(sized)
    _golden, inputs, expected = harness_vectors(network, sized.test_frames)
    full = run_harness(network, inputs, expected, build_root=build_root, name=f"{name}_full")
    assert full.passed, full.message
    assert 0.98 <= full.steady_interval(skip=3) / network.expected_cycles() <= 1.02
    stress = run_harness(network, inputs, expected, idle=0.3, backpressure=0.4, seed=5,
                         build_root=build_root, name=f"{name}_stress")
    assert stress.passed, stress.message
    return expected
