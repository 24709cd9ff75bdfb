"""The cim cost model (hwgen.cim.cost): reads, conversions and driven rows counted from the
macro's geometry and the inputs, energy and latency from the cim section's constants, by
hand on small cases; the constants are checked keys that change no checkpoint's key."""
import dataclasses

import numpy as np
import pytest

from hwgen.cim import MacroSpec
from hwgen.cim.cost import layer_cost
from hwgen.errors import SpecError
from hwgen.ops import MVTULayer
from hwgen.spec import parse_spec


def _layer(macro, *, mw=32, mh=16, pixels=2, in_bits=1):
    weights = np.random.default_rng(0).integers(0, 1 << macro.weight_bits, (mh, mw))
    encoding = "uint" if in_bits > 1 else macro.encoding
    return MVTULayer("cim", mw, mh, 1, macro.wordlines, weights, in_encoding=encoding,
                     in_bits=in_bits, pixels=pixels,
                     macro=dataclasses.replace(macro, act_bits=in_bits))


def test_binary_inputs_drive_only_their_ones():
    macro = MacroSpec(wordlines=8, adc_bits=3, encoding="binary", adc_fom_fj=4.0,
                      wordline_fj=20.0, cell_fj=0.5, accumulate_fj=10.0, read_ns=5.0)
    layer = _layer(macro)
    # Two frames of two vectors; per 8-row group 0, 8, 4 and 2 ones in turn.
    group = [np.r_[np.ones(k), np.zeros(8 - k)] for k in (0, 8, 4, 2)]
    vector = np.concatenate(group)
    inputs = np.tile(np.concatenate([vector, vector]), (2, 1)).astype(np.int64)
    cost = layer_cost(layer, inputs)
    assert (cost.reads, cost.conversions) == (2 * 4, 2 * 4 * 16)     # P * S * ab * tiles
    assert cost.active_rows == pytest.approx(3.5)                   # (0 + 8 + 4 + 2) / 4
    assert cost.adc_pj == pytest.approx(128 * 4.0 * 8 / 1000)
    assert cost.array_pj == pytest.approx(8 * 3.5 * (20.0 + 0.5 * 16) / 1000)
    assert cost.accumulate_pj == pytest.approx(128 * 10.0 / 1000)
    assert cost.energy_pj == pytest.approx(cost.adc_pj + cost.array_pj + cost.accumulate_pj)
    assert cost.latency_ns == pytest.approx(8 * 5.0)
    # More ones, more energy; no inputs given: every wordline (the upper bound).
    assert layer_cost(layer, np.ones_like(inputs)).energy_pj > cost.energy_pj
    assert layer_cost(layer).active_rows == 8


def test_bipolar_rows_all_drive_and_bit_slices_multiply_the_reads():
    macro = MacroSpec(wordlines=8, adc_bits=4, columns=16, weight_bits=2, act_bits=2,
                      encoding="binary")
    layer = _layer(macro, in_bits=2)
    cost = layer_cost(layer, np.zeros((1, 2 * 32), dtype=np.int64))
    tiles = 2                                           # 16 neurons x 2 columns on 16 columns
    assert cost.reads == 2 * 4 * 2 * tiles and cost.conversions == 2 * 4 * 2 * 16 * 2
    assert cost.active_rows == 0 and cost.array_pj == 0
    bipolar = _layer(MacroSpec(wordlines=8, encoding="bipolar"))
    assert layer_cost(bipolar, np.zeros((1, 64), dtype=np.int64)).active_rows == 8
    # The section's constants, not the layer's macro's, where given.
    costly = layer_cost(bipolar, costs=MacroSpec(adc_fom_fj=50.0))
    assert costly.adc_pj == pytest.approx(10 * layer_cost(bipolar).adc_pj)


def test_the_constants_are_checked_and_key_no_checkpoint():
    base = {"name": "c", "data": {"dataset": "digits"},
            "model": {"layers": [{"type": "linear", "out": 16, "backend": "cim"},
                                 {"type": "linear", "out": 10}]},
            "cim": {"wordlines": 8}}
    with pytest.raises(SpecError, match=r"cim\.adc_fom_fj: must be a number >= 0, not -1"):
        parse_spec({**base, "cim": {"wordlines": 8, "adc_fom_fj": -1}})
    from hwgen.flow.train import train_key
    plain = parse_spec(base)
    costly = parse_spec({**base, "cim": {"wordlines": 8, "adc_fom_fj": 40, "read_ns": 2}})
    assert costly.cim.adc_fom_fj == 40.0
    assert train_key(costly) == train_key(plain)
