import numpy as np
import pytest

from hwgen.cosim import run_stream_test
from hwgen.lib.bank import Bank
from hwgen.ops import DWCLayer, op_for
from hwgen.ops.dwc import cost
from hwgen.ops.dwc.hw import WidthConverter
from hwgen.target import Resources, target
from tests.conftest import AllLogic
from hwgen.lib.packing import pack_words
from tests.streams import simulate_stream


def bits_and_words(rng, in_width, out_width, frames, frame_bits):
    bits = rng.integers(0, 2, (frames, frame_bits))
    return (pack_words(bits, width=1, per_word=in_width), pack_words(bits, width=1, per_word=out_width))


def test_rejects_bad_width():
    with pytest.raises(ValueError, match="in_width must be a positive integer, not 0"):
        WidthConverter(in_width=0, out_width=4)


@pytest.mark.parametrize("in_width,out_width", [(8, 2), (2, 8), (6, 4), (4, 6), (3, 3)])
def test_amaranth_sim_keeps_bit_order(in_width, out_width):
    rng = np.random.default_rng(in_width * 10 + out_width)
    inputs, expected = bits_and_words(rng, in_width, out_width, 20, 24)
    got = simulate_stream(WidthConverter(in_width=in_width, out_width=out_width), inputs,
                          len(expected), idle=0.3, backpressure=0.3)
    assert got == expected


WIDTHS = [(16, 6), (6, 16), (16, 8), (8, 16)]


@pytest.fixture(scope="module")
def bank():
    """Every co-simulated pair of widths in one bank: one Verilator build serves them all."""
    return Bank([WidthConverter(in_width=i, out_width=o) for i, o in WIDTHS])


@pytest.mark.cocotb
@pytest.mark.parametrize("in_width,out_width", WIDTHS[:2])
def test_cosim(in_width, out_width, bank, sim_build_root):
    rng = np.random.default_rng(in_width + out_width)
    inputs, expected = bits_and_words(rng, in_width, out_width, 5000, 48)
    run = run_stream_test(bank, inputs, expected, idle=0.3, backpressure=0.3,
                          build_root=sim_build_root, name=f"dwc_{in_width}_{out_width}",
                          select=WIDTHS.index((in_width, out_width)))
    assert run.passed, run.message


@pytest.mark.cocotb
@pytest.mark.parametrize("in_width,out_width,frame_bits", [(16, 8, 64), (8, 16, 64),
                                                           (16, 6, 48), (6, 16, 48)])
def test_cosim_full_rate(in_width, out_width, frame_bits, bank, sim_build_root):
    """Without idle or backpressure the narrower side moves a word every cycle, also when
    neither width divides the other (the buffer's extra room)."""
    rng = np.random.default_rng(5)
    inputs, expected = bits_and_words(rng, in_width, out_width, 100, frame_bits)
    run = run_stream_test(bank, inputs, expected, build_root=sim_build_root,
                          name=f"full_rate_{in_width}_{out_width}",
                          select=WIDTHS.index((in_width, out_width)))
    assert run.passed, run.message
    narrow_words = max(len(inputs), len(expected))
    assert run.output_cycles[-1] - run.output_cycles[0] <= narrow_words + 2


# --- cost -------------------------------------------------------------------------------------

def test_cost_model():
    """The op answers with its cost model: no memory, so the same terms on every target;
    nothing for equal widths."""
    ecp5 = target("ecp5")
    split, odd = DWCLayer("d", 32, 9, 1), DWCLayer("d", 4, 9, 4)
    op = op_for(split)
    assert op.resources(split, ecp5) == cost.resources(split, ecp5)
    assert op.resources(split, ecp5) == Resources(1189, 55, 0, 0)
    assert op.terms(odd, ecp5) == {"shift": 208, "capacity": 64, "split": 0, "odd": 64,
                                   "control": 1}
    assert op.resources(odd, ecp5) == Resources(523, 69, 0, 0)
    assert op.resources(DWCLayer("d", 4, 4, 2), ecp5) == Resources(0, 0, 0, 0)
    assert op.terms(split, AllLogic()) == op.terms(split, ecp5)
    assert set(op.terms(split, ecp5)) <= set(ecp5.coefficients["dwc"])
