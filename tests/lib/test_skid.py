"""The skid register behind a block's output: its ``i.ready`` never follows ``o.ready``."""
import random

import numpy as np
import pytest
from amaranth.hdl import Module, Value, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from hwgen.ops.dwc.hw import WidthConverter
from hwgen.ops.label_select.hw import LabelSelect
from hwgen.ops.maxpool.hw import MaxPool
from hwgen.ops.mvtu.hw import MVTU
from hwgen.ops.swg.hw import SlidingWindow
from hwgen.ops import MaxPoolLayer, SWGLayer
from hwgen.target import target
from tests.conftest import random_layer

ECP5 = target("ecp5")


def ready_follows_output_ready(dut, *, cycles=600, seed=1) -> tuple[bool, int]:
    """Drive ``dut`` with random input words and random ``o.ready``; in every cycle look at
    ``i.ready`` under both values of ``o.ready`` (no clock edge between). Returns whether it
    ever differed, and in how many cycles the output was held (valid and not ready)."""
    rng = random.Random(seed)
    in_payload = Value.cast(dut.i.payload)
    width = len(in_payload)
    found = {"differs": False, "held": 0}

    async def bench(ctx):
        for _ in range(cycles):
            ctx.set(dut.i.valid, rng.random() < 0.8)
            ctx.set(in_payload, rng.getrandbits(width))
            seen = set()
            for ready in (0, 1):
                ctx.set(dut.o.ready, ready)
                seen.add(ctx.get(dut.i.ready))
            found["differs"] |= len(seen) > 1
            ready = rng.random() < 0.4
            ctx.set(dut.o.ready, ready)
            found["held"] += ctx.get(dut.o.valid) and not ready
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return found["differs"], found["held"]


BLOCKS = {
    "mvtu": lambda: MVTU(random_layer(np.random.default_rng(0), mw=32, mh=8, pe=4, simd=16),
                         target=ECP5),
    "mvtu_logits": lambda: MVTU(random_layer(np.random.default_rng(1), mw=16, mh=4, pe=4,
                                             simd=16, logits=True), target=ECP5),
    "swg": lambda: SlidingWindow(SWGLayer("s", 2, 5, 5, 3, padding=1, simd=2)),
    "label_select": lambda: LabelSelect(classes=12, pe=4, logit_bits=8),
    "label_select_pe1": lambda: LabelSelect(classes=3, pe=1, logit_bits=8),
    "maxpool": lambda: MaxPool(MaxPoolLayer("p", 1, 4, 4, 2)),
    "dwc_gather": lambda: WidthConverter(in_width=4, out_width=6),
    "dwc_split": lambda: WidthConverter(in_width=6, out_width=4),
}


class PipelineRegister(wiring.Component):
    """The plain output register: it takes a word while empty or being read, so its i.ready
    is ``~o.valid | o.ready``."""

    def __init__(self, width: int):
        super().__init__({"i": In(stream.Signature(unsigned(width))),
                          "o": Out(stream.Signature(unsigned(width)))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.ready):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        return m


@pytest.mark.parametrize("name", BLOCKS)
def test_input_ready_does_not_follow_output_ready(name):
    differs, held = ready_follows_output_ready(BLOCKS[name]())
    assert held > 20            # the output was held often: the skid register was used
    assert not differs


def test_the_check_sees_a_ready_that_follows():
    differs, held = ready_follows_output_ready(PipelineRegister(4))
    assert held > 20 and differs
