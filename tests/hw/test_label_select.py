import numpy as np
import pytest
from amaranth.hdl import Const

from hwgen.cosim import run_stream_test
from hwgen.golden.network import label_select
from hwgen.hw.label_select import LabelSelect, result_layout
from hwgen.hw.packing import pack_words
from tests.streams import simulate_stream

BITS = 6


def vectors(rng, classes, pe, frames):
    # Few distinct values, so ties are frequent: the lowest index must win.
    logits = rng.integers(-4, 4, (frames, classes))
    layout = result_layout(classes, BITS)
    labels = label_select(logits)
    expected = [Const.cast(layout.const({"label": int(label), "logits": [int(v) for v in row]})).value
                for label, row in zip(labels, logits)]
    return pack_words(logits, width=BITS, per_word=pe), expected


def test_rejects_pe_that_does_not_divide():
    with pytest.raises(ValueError, match="classes must be a positive multiple of pe=4, not 10"):
        LabelSelect(classes=10, pe=4, logit_bits=BITS)


@pytest.mark.parametrize("classes,pe", [(10, 2), (10, 10), (12, 1), (1, 1)])
def test_amaranth_sim_matches_golden(classes, pe):
    inputs, expected = vectors(np.random.default_rng(classes + pe), classes, pe, 60)
    got = simulate_stream(LabelSelect(classes=classes, pe=pe, logit_bits=BITS), inputs,
                          len(expected), idle=0.3, backpressure=0.5)
    assert got == expected


@pytest.mark.cocotb
@pytest.mark.parametrize("classes,pe", [(10, 2), (12, 4), (10, 10)])
def test_cosim(classes, pe, sim_build_root):
    inputs, expected = vectors(np.random.default_rng(pe), classes, pe, 5000)
    run = run_stream_test(LabelSelect(classes=classes, pe=pe, logit_bits=BITS), inputs, expected,
                          idle=0.25, backpressure=0.3, build_root=sim_build_root,
                          name=f"label_{classes}_{pe}")
    assert run.passed, run.message
