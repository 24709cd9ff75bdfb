"""Stream helpers for Amaranth's Python simulator (fast unit tests of single blocks)."""
import random

from amaranth.hdl import Value
from amaranth.sim import Simulator

__all__ = ["simulate_stream"]


def simulate_stream(dut, inputs, count, *, idle=0.0, backpressure=0.0, seed=0, max_cycles=100_000):
    """Drive ``dut.i`` with ``inputs`` and collect ``count`` raw ``dut.o`` payloads.

    Random idle cycles on the input and random backpressure on the output, seeded.
    """
    rng = random.Random(seed)
    received = []
    # Raw payload bits on both sides, whatever the layout.
    in_payload, out_payload = Value.cast(dut.i.payload), Value.cast(dut.o.payload)

    async def source(ctx):
        for word in inputs:
            while idle and rng.random() < idle:
                await ctx.tick()
            ctx.set(in_payload, word)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)

    async def sink(ctx):
        while True:
            ctx.set(dut.o.ready, not (backpressure and rng.random() < backpressure))
            await ctx.tick()

    async def monitor(ctx):
        cycles = 0
        async for _clk, _rst, valid, ready, payload in ctx.tick().sample(
                dut.o.valid, dut.o.ready, out_payload):
            cycles += 1
            if valid and ready:
                received.append(payload)
            if len(received) == count or cycles > max_cycles:
                return

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(source)
    sim.add_process(sink)
    sim.add_testbench(monitor)
    sim.run()
    return received
