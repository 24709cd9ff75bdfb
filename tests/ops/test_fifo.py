import numpy as np
import pytest

from hwgen.cosim import run_stream_test
from hwgen.lib.bank import Bank
from hwgen.ops import FIFOLayer, op_for
from hwgen.ops.fifo import cost
from hwgen.ops.fifo.hw import StreamFIFO
from hwgen.target import Resources, target
from tests.conftest import AllLogic
from tests.streams import simulate_stream


def test_rejects_bad_depth():
    with pytest.raises(ValueError, match="depth must be a positive integer, not 0"):
        StreamFIFO(shape=8, depth=0)


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_amaranth_sim_keeps_order(depth):
    words = list(np.random.default_rng(depth).integers(0, 256, 200))
    words = [int(w) for w in words]
    assert simulate_stream(StreamFIFO(shape=8, depth=depth), words, len(words),
                           idle=0.4, backpressure=0.4) == words


DEPTHS = [1, 4, 17]


@pytest.fixture(scope="module")
def bank():
    """Every co-simulated depth in one bank: one Verilator build serves them all."""
    return Bank([StreamFIFO(shape=12, depth=depth) for depth in DEPTHS])


@pytest.mark.cocotb
@pytest.mark.parametrize("depth", DEPTHS)
def test_cosim(depth, bank, sim_build_root):
    words = [int(w) for w in np.random.default_rng(depth).integers(0, 1 << 12, 6000)]
    run = run_stream_test(bank, words, words, idle=0.3, backpressure=0.4,
                          build_root=sim_build_root, name=f"fifo_{depth}",
                          select=DEPTHS.index(depth))
    assert run.passed, run.message
    if depth == 4:      # a corrupted expectation is caught
        wrong = words[:100]
        wrong[50] ^= 1 << 11
        assert not run_stream_test(bank, words[:100], wrong, build_root=sim_build_root,
                                   name="fifo_corrupt", select=DEPTHS.index(depth)).passed


@pytest.mark.parametrize("limit", [1, 3, 8])
def test_monitored_fifo_holds_at_most_its_limit(limit):
    """A monitored FIFO of depth 8 with ``limit`` set accepts ``limit`` words while its output
    is blocked, reports its level, and passes every word in order once read."""
    from amaranth.sim import Simulator
    dut = StreamFIFO(shape=8, depth=8, monitored=True)
    seen = {}

    async def bench(ctx):
        ctx.set(dut.limit, limit)
        ctx.set(dut.o.ready, 0)
        accepted = 0
        for word in range(12):
            ctx.set(dut.i.payload, word)
            ctx.set(dut.i.valid, 1)
            _, _, ready = await ctx.tick().sample(dut.i.ready)
            accepted += ready
        ctx.set(dut.i.valid, 0)
        await ctx.tick()
        seen["accepted"], seen["level"] = accepted, ctx.get(dut.level)
        out = []
        ctx.set(dut.o.ready, 1)
        for _ in range(20):
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if valid:
                out.append(payload)
        seen["out"] = out

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen["accepted"] == seen["level"] == limit
    assert seen["out"] == list(range(limit))


def _trace(dut, seed, cycles=300, limit=None, offer=0.8, ready=0.7):
    """Per cycle (i.ready, o.valid, o.payload) of ``dut`` under one seeded pattern of input
    offers and output readiness (drawn every cycle, whatever the FIFO does)."""
    from amaranth.sim import Simulator
    rng = np.random.default_rng(seed)
    offers, readies = rng.random(cycles) < offer, rng.random(cycles) < ready
    trace = []

    async def bench(ctx):
        if limit is not None:
            ctx.set(dut.limit, limit)
        word, pending = 0, False
        for cycle in range(cycles):
            pending = pending or bool(offers[cycle])
            ctx.set(dut.i.valid, pending)
            ctx.set(dut.i.payload, word)
            ctx.set(dut.o.ready, bool(readies[cycle]))
            _, _, ready, valid, payload = await ctx.tick().sample(dut.i.ready, dut.o.valid,
                                                                  dut.o.payload)
            trace.append((ready, valid, payload if valid else None))
            if pending and ready:
                word, pending = (word + 1) & 0xFF, False

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return trace


@pytest.mark.parametrize("depth", [2, 3, 6])
def test_a_monitored_fifo_at_its_limit_is_the_fifo_of_that_depth(depth):
    """Cycle for cycle, what FIFO sizing measures is what the built network runs: a deep
    monitored FIFO limited to ``depth`` accepts and delivers as a FIFO of ``depth`` does (at
    depth 2, one transfer every other cycle)."""
    for seed in range(3):
        real = _trace(StreamFIFO(shape=8, depth=depth), seed)
        assert _trace(StreamFIFO(shape=8, depth=16, monitored=True), seed, limit=depth) == real
    full = _trace(StreamFIFO(shape=8, depth=depth), 0, cycles=40, offer=1, ready=1)
    accepted = sum(ready for ready, _, _ in full)
    assert accepted == 20 if depth == 2 else accepted == 40      # depth 2: half rate


# --- cost -------------------------------------------------------------------------------------

def test_cost_model():
    """The op answers with its cost model: ``depth - 1`` words where the target puts them (a
    deep FIFO in block RAM on ECP5, as synthesised: 125 LUT4s, 1 DP16KD) and an output
    register; a FIFO of one word has no memory."""
    ecp5, logic = target("ecp5"), AllLogic()
    deep, small = FIFOLayer("f", 1, 8, 512), FIFOLayer("f", 4, 4, 32)
    op = op_for(deep)
    assert op.resources(deep, ecp5) == cost.resources(deep, ecp5)
    assert op.resources(deep, ecp5) == Resources(125, 48, 1, 0)
    assert op.terms(deep, ecp5)["bram"] == 1
    assert op.resources(small, ecp5) == Resources(158, 52, 0, 0)
    assert op.resources(FIFOLayer("f", 2, 3, 1), ecp5) == Resources(8, 11, 0, 0)
    assert op.resources(deep, logic).brams == 0 and "bram" not in op.terms(deep, logic)
    for layer in (deep, small):
        assert set(op.terms(layer, ecp5)) <= set(ecp5.coefficients["fifo"])
