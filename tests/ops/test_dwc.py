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


def padded_words(rng, in_elements, out_elements, bits, vector, padded, vectors):
    """Vectors of ``vector`` elements of ``bits`` bits in words of ``in_elements``; the same
    padded with zeros to ``padded`` elements in words of ``out_elements``."""
    x = rng.integers(0, 1 << bits, (vectors, vector))
    pad = np.zeros((vectors, padded - vector), dtype=x.dtype)
    return (pack_words(x, width=bits, per_word=in_elements),
            pack_words(np.concatenate([x, pad], axis=1), width=bits, per_word=out_elements))


#: (in elements, out elements, bits, vector, padded): a cim MVTU's partial wordline group
#: (64 elements in groups of 9, 12; an input of 4 that does not divide its out; one vector a word)
PADDING = [(8, 9, 1, 64, 72), (16, 12, 2, 64, 72), (4, 9, 1, 28, 36), (2, 8, 1, 6, 8),
           (14, 9, 1, 784, 792)]


@pytest.mark.parametrize("case", PADDING)
def test_amaranth_sim_pads_each_vector(case):
    in_elements, out_elements, bits, vector, padded = case
    rng = np.random.default_rng(vector)
    inputs, expected = padded_words(rng, in_elements, out_elements, bits, vector, padded, 6)
    layer = DWCLayer("d", in_elements, out_elements, bits, vector=vector, padded=padded)
    block = op_for(layer).block(layer, target("ecp5"))
    assert simulate_stream(block, inputs, len(expected), idle=0.3, backpressure=0.3) == expected
    # full rate: the busier side moves every cycle
    assert simulate_stream(block, inputs, len(expected)) == expected


def test_padding_layer_rejects_what_it_cannot_pad():
    with pytest.raises(ValueError, match="vector and padded are given together"):
        DWCLayer("d", 8, 9, 1, vector=64)
    with pytest.raises(ValueError, match="whole vectors of 64 elements in transfers of 6"):
        DWCLayer("d", 6, 9, 1, vector=64, padded=72)
    with pytest.raises(ValueError, match="to more, whole transfers of 9, not 64"):
        DWCLayer("d", 8, 9, 1, vector=64, padded=64)


WIDTHS = [(16, 6), (6, 16), (16, 8), (8, 16)]


@pytest.fixture(scope="module")
def bank():
    """Every co-simulated pair of widths in one bank (and a padding converter: 64 elements
    in words of 8 padded to 72 in words of 9): one Verilator build serves them all."""
    return Bank([WidthConverter(in_width=i, out_width=o) for i, o in WIDTHS]
                + [WidthConverter(in_width=8, out_width=9, vector_width=64, pad_width=8)])


@pytest.mark.cocotb
def test_cosim_pads_each_vector(bank, sim_build_root):
    """Thousands of padded vectors under idle cycles and backpressure; a corrupted padding
    element is caught."""
    rng = np.random.default_rng(9)
    inputs, expected = padded_words(rng, 8, 9, 1, 64, 72, 2000)
    run = run_stream_test(bank, inputs, expected, idle=0.3, backpressure=0.3, seed=3,
                          build_root=sim_build_root, name="dwc_pad", select=len(WIDTHS))
    assert run.passed, run.message
    corrupted = list(expected)
    corrupted[8 * 100 + 7] ^= 1 << 8        # the last element of vector 100: padding
    caught = run_stream_test(bank, inputs, corrupted, build_root=sim_build_root,
                             name="dwc_pad", stop_on_mismatch=False, select=len(WIDTHS))
    assert not caught.passed and caught.mismatches == 1


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
