# amaranth: UnusedElaboratable=no
import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.ops import Activation, ForkLayer, Transfer, graph_ops, op_for
from hwgen.ops.fork import cost
from hwgen.ops.fork.hw import Fork
from hwgen.target import target
from tests.streams import simulate_streams

# (elements, bits, outputs)
SHAPES = [(1, 1, 2), (4, 3, 3), (2, 8, 5)]


def _words(layer, count, seed):
    return [int(w) for w in np.random.default_rng(seed).integers(0, 1 << layer.width, count)]


def test_layer_and_op():
    with pytest.raises(ValueError, match="outputs must be 2 or more, not 1"):
        ForkLayer("f", 4, 1, 1)
    with pytest.raises(ValueError, match="bits must be a positive integer, not 0"):
        ForkLayer("f", 4, 0, 2)
    with pytest.raises(TypeError, match="layer must be a ForkLayer"):
        Fork("f")
    layer = ForkLayer("f", 4, 2, 3)
    op = op_for(layer)
    assert op.name == "fork" and "fork" not in graph_ops()     # the network assembly places it
    x = Activation(8, 2, 2, "uint", 2)
    assert op.output(layer, x) == x
    assert op.in_transfers(layer) == [op.out_transfer(layer)] == [Transfer(4, 2)]
    frames = np.arange(12).reshape(3, 4)
    assert op.golden(layer, frames) is frames
    block = op.block(layer, target("ecp5"))
    block._MustUse__silence = True      # never elaborated: no warning when it is collected
    assert [name for name in block.signature.members] == ["i", "o0", "o1", "o2"]


@pytest.mark.parametrize("shape", SHAPES)
def test_amaranth_sim_delivers_every_transfer_to_every_output(shape):
    """Each output has its own backpressure, the input idles: every output gets every transfer
    once, in order."""
    layer = ForkLayer("f", *shape)
    words = _words(layer, 300, seed=shape[2])
    outputs = {f"o{k}": len(words) for k in range(layer.outputs)}
    run = simulate_streams(Fork(layer), {"i": words}, outputs, idle=0.3, backpressure=0.5)
    assert run.received == {name: words for name in outputs}


@pytest.mark.parametrize("shape", SHAPES)
def test_amaranth_sim_full_rate(shape):
    layer = ForkLayer("f", *shape)
    words = _words(layer, 50, seed=1)
    run = simulate_streams(Fork(layer), {"i": words}, {f"o{k}": 50 for k in range(layer.outputs)})
    for name, cycles in run.cycles.items():
        assert run.received[name] == words
        assert cycles == list(range(cycles[0], cycles[0] + 50))     # one transfer per cycle


def test_outputs_take_a_transfer_in_different_cycles():
    """While ``o1`` is not ready, ``o0`` takes the transfer once and is then offered nothing
    (its ``valid`` from a register, not from its ``ready``), and ``i`` waits; once ``o1``
    takes it, ``i`` moves on."""
    dut = Fork(ForkLayer("f", 1, 8, 2))
    seen = []

    async def bench(ctx):
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.i.payload, 0x5A)
        ctx.set(dut.o1.ready, 0)
        for ready in (0, 1):          # o0.valid does not follow o0.ready
            ctx.set(dut.o0.ready, ready)
            seen.append(("valid", ctx.get(dut.o0.valid), ctx.get(dut.i.ready)))
        for _ in range(4):
            _, _, taken, valid0, valid1 = await ctx.tick().sample(dut.i.ready, dut.o0.valid,
                                                                   dut.o1.valid)
            seen.append(("tick", taken, valid0, valid1))
        ctx.set(dut.o1.ready, 1)
        _, _, taken, valid0, valid1 = await ctx.tick().sample(dut.i.ready, dut.o0.valid,
                                                               dut.o1.valid)
        seen.append(("release", taken, valid0, valid1))
        ctx.set(dut.i.payload, 0x33)
        seen.append(("next", ctx.get(dut.o0.valid), ctx.get(dut.o1.valid)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [("valid", 1, 0), ("valid", 1, 0),
                    ("tick", 0, 1, 1)] + [("tick", 0, 0, 1)] * 3 + [
                    ("release", 1, 0, 1), ("next", 1, 1)]


def test_cost_model():
    """A delivered flag an output, LUTs by the outputs (the payload is wires); every
    term priced by each target."""
    layer = ForkLayer("f", 16, 2, 3)
    for family in ("ecp5", "ice40"):
        op, on = op_for(layer), target(family)
        assert op.resources(layer, on) == cost.resources(layer, on)
        assert op.resources(layer, on).ffs == 3 and op.resources(layer, on).brams == 0
        assert set(op.terms(layer, on)) <= set(on.coefficients["fork"])
        assert op.resources(layer, on).luts > 0
    ecp5 = target("ecp5")
    assert cost.resources(ForkLayer("f", 1, 1, 3), ecp5) == cost.resources(layer, ecp5)
    assert cost.resources(ForkLayer("f", 1, 1, 6), ecp5).luts > cost.resources(layer, ecp5).luts
