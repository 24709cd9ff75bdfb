"""Spec validation: every bad input is one line naming file, key path and what is allowed,
exit status 2, and nothing written."""
from pathlib import Path

import pytest
import yaml

from hwgen.cli import main
from hwgen.errors import SpecError
from hwgen.spec import load_spec, parse_spec

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "digits_mlp.yaml"


def _example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def _fail(tmp_path, capsys, mapping, *extra) -> str:
    """Run ``hwgen build`` on ``mapping``; return its one error line after checking the exit
    status and that nothing was written."""
    spec_file = tmp_path / "bad.yaml"
    spec_file.write_text(mapping if isinstance(mapping, str) else yaml.safe_dump(mapping))
    out = tmp_path / "out"
    before = sorted(tmp_path.rglob("*"))
    assert main(["build", *extra, str(spec_file), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert sorted(tmp_path.rglob("*")) == before and not out.exists()
    assert lines[0].startswith(f"hwgen: error: {spec_file}: ")
    return lines[0]


def test_example_loads():
    spec = load_spec(EXAMPLE)
    assert spec.name == "digits_mlp" and spec.path == EXAMPLE.resolve()
    assert [(l.folded_pe, l.folded_simd) for l in spec.model.layers] == [(8, 16), (8, 16), (2, 16)]


def test_minimal_spec_takes_defaults():
    spec = parse_spec({"model": {"layers": [{"type": "linear", "in": 64, "out": 10}]}})
    assert spec.data.dataset == "digits" and spec.train.epochs == 40 and spec.board == "ulx3s"
    # Default folding: the largest divisors up to 4 (PE) and 32 (SIMD).
    assert (spec.model.layers[0].folded_pe, spec.model.layers[0].folded_simd) == (2, 32)


def test_unknown_key(tmp_path, capsys):
    mapping = _example()
    mapping["train"]["epoch"] = 3
    line = _fail(tmp_path, capsys, mapping)
    assert line.endswith("train.epoch: unknown key (allowed: epochs, batch_size, lr, checkpoint)")


def test_unknown_top_level_key(tmp_path, capsys):
    mapping = {**_example(), "modle": {}}
    assert "modle: unknown key (allowed: name, model, seed, data," in _fail(tmp_path, capsys, mapping)


@pytest.mark.parametrize("key,value,message", [
    (("train", "epochs"), "ten", "train.epochs: expected an integer, got 'ten'"),
    (("train", "lr"), "fast", "train.lr: expected a number, got 'fast'"),
    (("train", "epochs"), True, "train.epochs: expected an integer, got True"),
    (("data", "dataset"), "cifar", "data.dataset: unknown value 'cifar' (allowed: digits, mnist5k)"),
    (("model", "layers"), {"type": "linear"}, "model.layers: expected a list"),
])
def test_wrong_type(tmp_path, capsys, key, value, message):
    mapping = _example()
    mapping[key[0]][key[1]] = value
    assert message in _fail(tmp_path, capsys, mapping)


def test_wrong_type_inside_a_layer(tmp_path, capsys):
    mapping = _example()
    mapping["model"]["layers"][1]["out"] = "sixty-four"
    assert "model.layers[1].out: expected an integer, got 'sixty-four'" in _fail(tmp_path, capsys, mapping)


def test_missing_required_key(tmp_path, capsys):
    mapping = _example()
    del mapping["model"]["layers"][0]["in"]
    assert _fail(tmp_path, capsys, mapping).endswith("model.layers[0].in: missing required key")


def test_missing_spec_file(tmp_path, capsys):
    missing = tmp_path / "nowhere.yaml"
    assert main(["build", str(missing), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == f"hwgen: error: {missing}: no such spec file"
    assert list(tmp_path.iterdir()) == []


def test_invalid_yaml(tmp_path, capsys):
    line = _fail(tmp_path, capsys, "model: {layers: [\n")
    assert "invalid YAML at line" in line


def test_unknown_board_on_the_command_line(tmp_path, capsys):
    spec_file = tmp_path / "ok.yaml"
    spec_file.write_text(EXAMPLE.read_text())
    assert main(["build", "--board", "de10", str(spec_file), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "hwgen: error: de10: board: unknown board 'de10' (allowed: ulx3s)"
    assert not (tmp_path / "out").exists()


def test_unknown_board_in_the_spec(tmp_path, capsys):
    mapping = {**_example(), "board": "de10"}
    line = _fail(tmp_path, capsys, mapping)
    assert line.endswith("board: unknown board 'de10' (allowed: ulx3s)")


@pytest.mark.parametrize("key,value,message", [
    ("pe", 3, "model.layers[0].pe: pe must divide out=64, not 3 (allowed: 1, 2, 4, 8, 16, 32, 64)"),
    ("simd", 5, "model.layers[0].simd: simd must divide in=64, not 5 (allowed: 1, 2, 4, 8, 16, 32, 64)"),
    ("pe", 0, "model.layers[0].pe: pe must divide out=64, not 0"),
])
def test_folding_that_does_not_divide(tmp_path, capsys, key, value, message):
    mapping = _example()
    mapping["model"]["layers"][0][key] = value
    assert message in _fail(tmp_path, capsys, mapping)


def test_layer_input_does_not_match_previous_output(tmp_path, capsys):
    mapping = _example()
    mapping["model"]["layers"][1]["in"] = 32
    line = _fail(tmp_path, capsys, mapping)
    assert line.endswith("model.layers[1].in: is 32 but layers[0].out is 64 (allowed: 64)")


def test_first_layer_must_take_the_dataset_features(tmp_path, capsys):
    mapping = _example()
    mapping["model"]["layers"][0]["in"] = 784
    assert "model.layers[0].in: is 784 but the dataset's features is 64" in _fail(tmp_path, capsys, mapping)


def test_last_layer_must_give_the_classes(tmp_path, capsys):
    mapping = _example()
    mapping["model"]["layers"][2]["out"] = 12
    mapping["model"]["layers"][2]["pe"] = 2
    assert "model.layers[2].out: is 12 but dataset 'digits' has 10 classes" in _fail(
        tmp_path, capsys, mapping)


@pytest.mark.parametrize("name", ["../escape", "a/b", ".."])
def test_name_must_be_a_folder_name(name):
    with pytest.raises(SpecError, match="name: must be a plain folder name"):
        parse_spec({**_example(), "name": name})
