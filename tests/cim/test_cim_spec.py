"""The spec's ``cim`` section and the layers' ``backend``: defaults, the macro a layer gets, and
one-line errors naming file, key path and what is allowed."""
import pytest
import yaml

from hwgen.cim import MacroSpec, layer_macro
from hwgen.cli import main
from hwgen.spec import parse_spec
from tests.conftest import spec_error

CONV = {"type": "conv", "out": 16, "kernel": 2, "backend": "cim"}
FC = {"type": "linear", "out": 10}


def _spec(*layers, **sections) -> dict:
    return {"model": {"layers": list(layers)}, **sections}


_error = spec_error


def test_defaults():
    spec = parse_spec(_spec(FC))
    assert spec.cim is None and spec.model.layers[0].backend == "digital"
    spec = parse_spec(_spec({**FC, "backend": "cim"}, cim={}))
    assert spec.cim == MacroSpec()           # one schema: the spec's cim section is the macro
    cim = spec.cim
    assert (cim.wordlines, cim.adc_bits, cim.noise, cim.sigma) == (16, 5, "cell", 0.0)
    # A cim layer reads one wordline group per cycle.
    assert spec.model.layers[0].simd == 16 and spec.model.layers[0].folded_simd == 16


def test_any_wordline_count_on_any_layer():
    """Wordlines that do not divide a cim layer's width leave its last group partial: 12 on a
    64-wide layer (5 groups of 12 and one of 4), 8 on a 4-wide conv window (one group of 4)."""
    spec = parse_spec(_spec({"type": "linear", "out": 64},
                            {"type": "linear", "out": 10, "backend": "cim"},
                            cim={"wordlines": 12}))
    layer = spec.model.layers[1]
    assert (layer.matrix_width, layer.simd) == (64, 12)
    assert spec.cim.group_rows(64) == (12,) * 5 + (4,)
    spec = parse_spec(_spec(CONV, FC, cim={"wordlines": 8}))
    assert (spec.model.layers[0].matrix_width, spec.model.layers[0].simd) == (4, 8)
    assert spec.cim.group_rows(4) == (4,)
    # an explicit simd on a cim layer is its wordlines, divisor of its width or not
    spec = parse_spec(_spec({"type": "linear", "out": 64},
                            {"type": "linear", "out": 10, "backend": "cim", "simd": 12},
                            cim={"wordlines": 12}))
    assert spec.model.layers[1].simd == 12


def test_layer_macro():
    cim = {"wordlines": 4, "act_bits": 2, "weight_bits": 2, "noise": "read", "sigma": 0.5,
           "seed": 9, "adc_range": 3.5, "adc_bits": 3}
    spec = parse_spec(_spec(CONV, {**FC, "backend": "cim"}, data={"input_bits": 2}, cim=cim))
    first, second = layer_macro(spec, 0), layer_macro(spec, 1)
    # 2-bit unsigned pixels are read as binary planes, bit-serially; hidden bits as bipolar.
    assert first == MacroSpec(rows=256, columns=256, wordlines=4, adc_bits=3, weight_bits=2,
                              act_bits=2, encoding="binary", noise="read", sigma=0.5, seed=9,
                              adc_range=3.5)
    assert (second.encoding, second.act_bits) == ("bipolar", 1)


@pytest.mark.parametrize("mapping,message", [
    (_spec({**FC, "backend": "analog"}),
     "model.layers[0].backend: unknown value 'analog' (allowed: digital, cim)"),
    (_spec({**FC, "backend": "cim"}),
     "model.layers[0].backend: cim needs a top-level cim section (cim: {} for the defaults)"),
    (_spec(FC, cim={"adc_bits": 9}), "cim.adc_bits: must lie in 1..8, not 9"),
    (_spec(FC, cim={"adc_bits": 0}), "cim.adc_bits: must lie in 1..8, not 0"),
    (_spec(FC, cim={"weight_bits": 3}), "cim.weight_bits: must be 1 or 2, not 3 (allowed: 1, 2)"),
    (_spec(FC, cim={"act_bits": 4}), "cim.act_bits: must be 1 or 2, not 4 (allowed: 1, 2)"),
    (_spec(FC, cim={"noise": "thermal"}),
     "cim.noise: unknown value 'thermal' (allowed: none, read, cell)"),
    (_spec(FC, cim={"sigma": -0.5}), "cim.sigma: must be at least 0, not -0.5"),
    (_spec(FC, cim={"sigma": "big"}), "cim.sigma: expected a number, got 'big'"),
    (_spec(FC, cim={"adc_range": 0}), "cim.adc_range: must be positive, not 0.0"),
    (_spec(FC, cim={"wordlines": 0}), "cim.wordlines: must lie in 1..65536, not 0"),
    (_spec(FC, cim={"rows": 48, "wordlines": 64}),
     "cim.wordlines: must be at most rows=48, not 64 (allowed: 1..48)"),
    (_spec(FC, cim={"columns": 1, "weight_bits": 2}),
     "cim.columns: must hold the 2 bit-sliced columns of a weight, not 1"),
    (_spec(FC, cim={"wordline": 8}),
     "cim.wordline: unknown key (allowed: rows, columns, wordlines, adc_bits, weight_bits, "
     "act_bits, noise, sigma, seed, adc_range, adc_fom_fj, wordline_fj, cell_fj, "
     "accumulate_fj, read_ns)"),
    (_spec(FC, cim=[1, 2]), "cim: expected a mapping, got [1, 2]"),
    (_spec({**CONV, "simd": 2}, FC, cim={"wordlines": 4}),
     "model.layers[0].simd: a cim layer reads cim.wordlines=4 elements per cycle, not 2 "
     "(allowed: 4)"),
    (_spec({**CONV, "pe": 8}, FC, cim={"wordlines": 4, "columns": 4}),
     "model.layers[0].pe: pe=8 neurons of 1-bit weights read 8 columns at once, more than "
     "cim.columns=4"),
    (_spec(CONV, FC, cim={"wordlines": 4}, data={"input_bits": 2}),
     "model.layers[0].backend: cim reads at most cim.act_bits=1 bits per input, but this layer's "
     "inputs have 2 (allowed: digital)"),
    (_spec({**FC, "ram_style": "ultra"}),
     "model.layers[0].ram_style: unknown value 'ultra' (allowed: auto, block, distributed)"),
    (_spec({**FC, "backend": "cim", "ram_style": "block"}, cim={}),
     "model.layers[0].ram_style: a cim layer's weights are in the macro, not in a RAM: "
     "'block' does not apply (allowed: auto)"),
])
def test_errors_are_one_line(mapping, message):
    assert message in _error(mapping)


def test_error_through_the_command_line(tmp_path, capsys):
    spec_file = tmp_path / "bad.yaml"
    spec_file.write_text(yaml.safe_dump(_spec({**FC, "backend": "cim"}, cim={"noise": "pink"})))
    out = tmp_path / "out"
    assert main(["build", str(spec_file), "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"hwgen: error: {spec_file}: cim.noise: unknown value 'pink' "
                     f"(allowed: none, read, cell)"]
    assert not out.exists()
