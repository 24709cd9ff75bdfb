"""hwgen.lib.popcount: the sums are right, and a wide XNOR popcount's netlist grows linearly."""
import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from hwgen.lib.popcount import bits_of, chunk_popcounts, popcount, thermometer_count, tree_sum
from hwgen.ops.mvtu import MVTU, MVTULayer
from hwgen.target import target


@pytest.mark.parametrize("form", ["value", "bits"])
def test_popcounts_count_the_ones(form):
    width = 13
    a, b = Signal(width), Signal(width)
    whole, chunks = Signal(4), Signal(4)
    xnor = ~(a ^ b) if form == "value" else [~(a[k] ^ b[k]) for k in range(width)]
    m = Module()
    m.d.comb += [whole.eq(popcount(xnor)), chunks.eq(tree_sum(chunk_popcounts(xnor, 4)))]
    rng = np.random.default_rng(0)
    cases = rng.integers(0, 1 << width, size=(50, 2))

    async def bench(ctx):
        for x, y in cases:
            ctx.set(a, int(x))
            ctx.set(b, int(y))
            expected = width - bin(int(x) ^ int(y)).count("1")
            assert (ctx.get(whole), ctx.get(chunks)) == (expected, expected)

    simulator = Simulator(m)
    simulator.add_testbench(bench)
    simulator.run()


def test_bits_of_takes_values_and_sequences():
    value = Signal(5)
    assert len(bits_of(value)) == 5
    assert all(len(bit) == 1 for bit in bits_of([value[0], ~value[1]]))


def test_mvtu_builds_each_xnor_once():
    # A fully parallel bipolar MVTU: one XOR bit per weight bit (and one per neuron: its
    # output's inversion). Slicing the XNOR of a whole
    # row bit by bit would make Amaranth emit the row's XOR once per bit (simd per weight bit).
    rng = np.random.default_rng(1)
    mw, mh = 64, 4
    layer = MVTULayer(name="wide", mw=mw, mh=mh, pe=mh, simd=mw,
                      weights=rng.integers(0, 2, size=(mh, mw)).astype(bool),
                      thresholds=np.full(mh, 0), invert=np.zeros(mh, bool))
    assert xor_bits(rtlil.convert(MVTU(layer, target=target("ecp5")))) <= mw * mh + mh


def xor_bits(text: str) -> int:
    """Output bits of the $xor cells of an RTLIL netlist."""
    total, cell = 0, None
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["cell"]:
            cell = words[1]
        elif words[:1] == ["end"]:
            cell = None
        elif cell == "$xor" and words[:2] == ["parameter", "\\Y_WIDTH"]:
            total += int(words[2])
    return total


@pytest.mark.parametrize("length", [1, 2, 3, 7, 15, 16, 31])
def test_thermometer_count_counts_a_thermometer_code(length):
    code, count = Signal(length), Signal(8)
    m = Module()
    m.d.comb += count.eq(thermometer_count(code))

    async def bench(ctx):
        for ones in range(length + 1):
            ctx.set(code, (1 << ones) - 1)
            assert ctx.get(count) == ones
        if length >= 3:                 # not a popcount: a code with a gap reads otherwise
            ctx.set(code, 0b101)
            assert ctx.get(count) != 2

    simulator = Simulator(m)
    simulator.add_testbench(bench)
    simulator.run()
