import numpy as np
import pytest
from amaranth.hdl import Const

from hwgen.cosim import run_stream_test
from hwgen.lib.bank import Bank
from hwgen.ops import LabelSelectLayer, op_for
from hwgen.ops.label_select import cost, label_select
from hwgen.target import Resources, target
from hwgen.ops.label_select.hw import LabelSelect, compare_stages, result_layout
from hwgen.lib.packing import pack_words
from tests.ops.test_mvtu import output_latency
from tests.streams import simulate_stream

BITS = 6


def vectors(rng, classes, pe, frames, bits=BITS):
    # Few distinct values, so ties are frequent: the lowest index must win.
    logits = rng.integers(-4, 4, (frames, classes))
    if bits > BITS:     # and the extremes of wide logits
        top = 1 << (bits - 1)
        logits = logits * (top // 4)
        logits[::7, -1] = top - 1
        logits[::5, 0] = -top
    layout = result_layout(classes, bits)
    labels = label_select(logits)
    expected = [Const.cast(layout.const({"label": int(label), "logits": [int(v) for v in row]})).value
                for label, row in zip(labels, logits)]
    return pack_words(logits, width=bits, per_word=pe), expected


def test_rejects_pe_that_does_not_divide():
    with pytest.raises(ValueError, match="classes must be a positive multiple of pe=4, not 10"):
        LabelSelect(classes=10, pe=4, logit_bits=BITS)


@pytest.mark.parametrize("classes,pe", [(10, 2), (10, 10), (12, 1), (1, 1)])
def test_amaranth_sim_matches_golden(classes, pe):
    inputs, expected = vectors(np.random.default_rng(classes + pe), classes, pe, 60)
    got = simulate_stream(LabelSelect(classes=classes, pe=pe, logit_bits=BITS), inputs,
                          len(expected), idle=0.3, backpressure=0.5)
    assert got == expected


COSIM = [(10, 2), (12, 4), (10, 10), (12, 1)]


@pytest.fixture(scope="module")
def bank():
    """Every co-simulated shape in one bank: one Verilator build serves them all."""
    return Bank([LabelSelect(classes=classes, pe=pe, logit_bits=BITS) for classes, pe in COSIM])


@pytest.mark.cocotb
@pytest.mark.parametrize("index", range(len(COSIM)), ids=[f"{c}-{p}" for c, p in COSIM])
def test_cosim(index, bank, sim_build_root):
    classes, pe = COSIM[index]
    inputs, expected = vectors(np.random.default_rng(pe), classes, pe, 5000)
    run = run_stream_test(bank, inputs, expected, idle=0.25, backpressure=0.3,
                          build_root=sim_build_root, name=f"label_{classes}_{pe}", select=index)
    assert run.passed, run.message
    if index == 0:      # a corrupted expectation is caught
        wrong = list(expected[:50])
        wrong[25] ^= 1 << 3
        assert not run_stream_test(bank, inputs[:50 * classes // pe], wrong,
                                   build_root=sim_build_root, name="label_corrupt",
                                   select=index).passed


@pytest.mark.parametrize("classes,pe,bits,stages", [(16, 16, 20, 4), (12, 12, 8, 4), (12, 4, 8, 2),
                                                    (10, 5, 6, 3), (4, 1, 6, 1)])
def test_pipeline_latency_and_backpressure(classes, pe, bits, stages):
    assert compare_stages(pe) == stages           # one compare level a stage, at least one
    block = LabelSelect(classes=classes, pe=pe, logit_bits=bits)
    assert block.latency == stages + 2     # and the running best, the output register
    inputs, expected = vectors(np.random.default_rng(classes * pe), classes, pe, 80, bits)
    assert output_latency(block, inputs[:classes // pe]) == block.latency
    for idle, backpressure in ((0.0, 0.7), (0.5, 0.5), (0.0, 0.0)):
        got = simulate_stream(LabelSelect(classes=classes, pe=pe, logit_bits=bits), inputs,
                              len(expected), idle=idle, backpressure=backpressure, seed=4)
        assert got == expected


# --- cost -------------------------------------------------------------------------------------

def test_cost_is_not_modelled():
    """No synthesised configuration calibrates a label select's estimate: it says so and
    counts nothing."""
    layer = LabelSelectLayer("l", 10, 2, 8)
    op = op_for(layer)
    ecp5 = target("ecp5")
    assert op.resources(layer, ecp5) == Resources() and op.terms(layer, ecp5) == {}
    assert "not modelled" in cost.__doc__ and "not modelled" in op.resources.__doc__
