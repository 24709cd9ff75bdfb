"""Spec validation: every bad input is one line naming file, key path and what is allowed,
exit status 2, and nothing written."""
from pathlib import Path

import pytest
import yaml

from hwgen.cli import main
from hwgen.errors import SpecError
from hwgen.spec import load_spec, parse_spec
from tests.conftest import spec_error

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
    assert line.endswith("train.epoch: unknown key (allowed: epochs, batch_size, lr, checkpoint, "
                         "prebuilt, noise_sigma, adc_quantizer, concrete_temperature, "
                         "concrete_temperature_final, init_scale, "
                         "time_shift)")


@pytest.mark.parametrize("section, key, value, problem", [
    ("train", "time_shift", -1, "train.time_shift: must be at least 0, not -1"),
    ("hardware", "clock_mhz", 0.5, "hardware.clock_mhz: must lie in 1..400 MHz, not 0.5"),
    ("hardware", "placer", "annealing",
     "hardware.placer: unknown value 'annealing' (allowed: heap, static, sa)"),
    ("hardware", "seed", -1, "hardware.seed: must lie in 0..2**31-1, not -1"),
    ("hardware", "seed", 1.5, "hardware.seed: expected an integer, got 1.5"),
])
def test_bad_train_and_hardware_values(tmp_path, capsys, section, key, value, problem):
    mapping = _example()
    mapping.setdefault(section, {})[key] = value
    assert _fail(tmp_path, capsys, mapping).endswith(problem)


def test_unknown_top_level_key(tmp_path, capsys):
    mapping = {**_example(), "modle": {}}
    assert "modle: unknown key (allowed: name, model, seed, data," in _fail(tmp_path, capsys, mapping)


@pytest.mark.parametrize("key,value,message", [
    (("train", "epochs"), "ten", "train.epochs: expected an integer, got 'ten'"),
    (("train", "lr"), "fast", "train.lr: expected a number, got 'fast'"),
    (("train", "epochs"), True, "train.epochs: expected an integer, got True"),
    (("data", "dataset"), "cifar", "data.dataset: unknown value 'cifar' (allowed: digits, mnist5k, speech_commands)"),
    (("model", "layers"), {"type": "linear"}, "model.layers: expected a list"),
    (("data", "path"), "/somewhere", "data.path: is for dataset speech_commands, not digits"),
    (("data", "speakers"), 3, "data.speakers: must lie in 10..100000, not 3"),
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
    del mapping["model"]["layers"][0]["out"]
    assert _fail(tmp_path, capsys, mapping).endswith("model.layers[0].out: missing required key")


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
    assert err == "hwgen: error: de10: board: unknown board 'de10' (allowed: icebreaker, ulx3s)"
    assert not (tmp_path / "out").exists()


def test_unknown_variant_on_the_command_line(tmp_path, capsys):
    spec_file = tmp_path / "ok.yaml"
    spec_file.write_text(EXAMPLE.read_text())
    assert main(["build", "--board", "ulx3s", "--variant", "99F", str(spec_file),
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hwgen: error: ") and "\n" not in err
    assert err.endswith("ulx3s.yaml: variant: unknown variant '99F' (allowed: 12F, 25F, 45F, 85F)")
    assert not (tmp_path / "out").exists()


def test_unknown_board_in_the_spec(tmp_path, capsys):
    mapping = {**_example(), "board": "de10"}
    line = _fail(tmp_path, capsys, mapping)
    assert line.endswith("board: unknown board 'de10' (allowed: icebreaker, ulx3s)")


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


# --- convolutional networks ---------------------------------------------------------------

CNN = REPO / "examples" / "digits_cnn.yaml"


def _layers(*layers, **sections) -> dict:
    return {"model": {"layers": list(layers)}, **sections}


_error = spec_error


def test_cnn_example_loads_and_walks_the_shapes():
    spec = load_spec(CNN)
    conv0, conv1, pool, fc = spec.model.layers
    assert spec.data.input_bits == 4 and spec.input_encoding == "uint"
    assert (conv0.in_shape, conv0.out_shape, conv0.matrix_width) == ((1, 8, 8), (16, 8, 8), 9)
    assert (conv1.in_shape, conv1.out_shape, conv1.matrix_width) == ((16, 8, 8), (32, 6, 6), 144)
    assert (pool.in_shape, pool.out_shape) == ((32, 6, 6), (32, 3, 3))
    assert (fc.in_shape, fc.in_features, fc.out_features) == ((32, 3, 3), 288, 10)


def test_conv_defaults_and_rectangular_kernels():
    spec = parse_spec(_layers(
        {"type": "conv", "out": 6, "kernel": [10, 4]},
        {"type": "conv", "out": 8, "kernel": 3, "stride": 2, "padding": [1, 0]},
        {"type": "maxpool", "kernel": [2, 3]},
        {"type": "linear", "out": 10}, data={"dataset": "mnist5k"}))
    conv0, conv1, pool, fc = spec.model.layers
    assert (conv0.kernel, conv0.stride, conv0.padding, conv0.in_channels) == ((10, 4), (1, 1), (0, 0), 1)
    assert conv0.out_shape == (6, 19, 25)
    assert (conv1.kernel, conv1.stride, conv1.padding) == ((3, 3), (2, 2), (1, 0))
    assert conv1.out_shape == (8, 10, 12)
    assert pool.out_shape == (8, 5, 4) and fc.in_features == 160
    # Default folding: PE the largest divisor of out up to 4, SIMD of the matrix width up to 32.
    assert [(l.folded_pe, l.folded_simd) for l in (conv0, conv1, fc)] == [(3, 20), (4, 27), (2, 32)]
    assert spec.model.activation == "bipolar" and spec.input_encoding == "bipolar"
    assert spec.hardware.target_cycles is None and spec.hardware.target_fps is None


def test_input_bits_and_activation_set_the_input_encoding():
    layers = [{"type": "linear", "out": 10}]
    binary = parse_spec({"model": {"layers": layers, "activation": "binary"}})
    assert binary.input_encoding == "binary" and binary.model.layers[0].in_features == 64
    integer = parse_spec({"model": {"layers": layers, "activation": "binary"},
                          "data": {"input_bits": 8}})
    assert integer.input_encoding == "uint"


def test_targets_are_validated():
    spec = parse_spec(_layers({"type": "linear", "out": 10}, hardware={"target_fps": 1e5}))
    assert spec.hardware.target_fps == 100000.0
    spec = parse_spec(_layers({"type": "linear", "out": 10}, hardware={"target_cycles": 500}))
    assert spec.hardware.target_cycles == 500


CONV = {"type": "conv", "out": 16, "kernel": 3}
POOL = {"type": "maxpool", "kernel": 2}
FC = {"type": "linear", "out": 10}


@pytest.mark.parametrize("mapping,message", [
    (_layers({**CONV, "padding": 3}, FC),
     "model.layers[0].padding: must be smaller than the kernel 3x3, not 3x3"),
    (_layers({**CONV, "kernel": [3, 3, 3]}, FC),
     "model.layers[0].kernel: expected an integer or a list of two integers, got [3, 3, 3]"),
    (_layers({**CONV, "kernel": "3x3"}, FC),
     "model.layers[0].kernel: expected an integer or a list, got '3x3'"),
    (_layers({**CONV, "stride": 0}, FC), "model.layers[0].stride: must be at least 1, not 0"),
    (_layers({**CONV, "kernel": 9}, FC),
     "model.layers[0].kernel: 9x9 does not fit the 8x8 input padded by 0x0 (allowed: at most 8x8)"),
    (_layers({**CONV, "kernel": [10, 4], "padding": [1, 0]}, FC), None),
    (_layers({**CONV, "kernel": [10, 4]}, FC),
     "model.layers[0].kernel: 10x4 does not fit the 8x8 input padded by 0x0"),
    (_layers(CONV, {**CONV, "simd": 5}, FC),
     "model.layers[1].simd: simd must divide the matrix width kernel*in=3*3*16=144, not 5 "
     "(allowed: 1, 2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 36, 48, 72, 144)"),
    (_layers({**CONV, "pe": 3}, FC),
     "model.layers[0].pe: pe must divide out=16, not 3 (allowed: 1, 2, 4, 8, 16)"),
    (_layers({**CONV, "in": 3}, FC),
     "model.layers[0].in: is 3 but the dataset's 1x8x8 images have 1 channel (allowed: 1)"),
    (_layers(CONV, {**CONV, "in": 8}, FC),
     "model.layers[1].in: is 8 but layers[0] gives 16 channels (allowed: 16)"),
    (_layers(CONV, POOL, {**FC, "in": 100}, FC),
     "model.layers[2].in: is 100 but layers[1]'s 16x3x3 output flattened is 144 (allowed: 144)"),
    (_layers({**FC, "kernel": 3}),
     "model.layers[0].kernel: unknown key for a linear layer "
     "(allowed: type, name, inputs, in, out, pe, simd, backend, ram_style)"),
    (_layers({**POOL, "stride": 2}, FC),
     "model.layers[0].stride: unknown key for a maxpool layer (allowed: type, name, inputs, kernel)"),
    (_layers(CONV, {**POOL, "pe": 2}, FC),
     "model.layers[1].pe: unknown key for a maxpool layer (allowed: type, name, inputs, kernel)"),
    (_layers({"type": "dense", "out": 10}),
     "model.layers[0].type: unknown value 'dense' (allowed: linear, conv, dwconv, maxpool, avgpool, add, concat)"),
    (_layers({"out": 10}), "model.layers[0].type: missing required key (allowed: linear, conv, dwconv, maxpool, avgpool, add, concat)"),
    (_layers({"type": "conv", "out": 16}, FC), "model.layers[0].kernel: missing required key"),
    (_layers(POOL, FC),
     "model.layers[0].type: a maxpool must follow a conv, dwconv, maxpool, avgpool, add or concat layer"),
    (_layers(CONV, {"type": "maxpool", "kernel": 7}, FC),
     "model.layers[1].kernel: 7x7 does not fit the 6x6 input (allowed: at most 6x6)"),
    (_layers(FC, {**CONV, "out": 10, "kernel": 1}),
     "model.layers[1].type: the last layer gives the class scores and must be linear, not 'conv' "
     "(allowed: linear)"),
    (_layers(CONV, {"type": "linear", "out": 12}),
     "model.layers[1].out: is 12 but dataset 'digits' has 10 classes (allowed: 10)"),
    ({"model": {"layers": [FC], "activation": "ternary"}},
     "model.activation: unknown value 'ternary' (allowed: bipolar, binary)"),
    (_layers(FC, data={"input_bits": 9}), "data.input_bits: must lie in 1..8, not 9"),
    (_layers(FC, data={"input_bits": 0}), "data.input_bits: must lie in 1..8, not 0"),
    (_layers(FC, data={"thermometer": True}),
     "data.thermometer: codes input_bits >= 2 elements, but input_bits is 1"),
    (_layers(FC, hardware={"target_cycles": 100, "target_fps": 1000.0}),
     "hardware.target_fps: cannot be given together with target_cycles"),
    (_layers(FC, hardware={"target_cycles": 0}), "hardware.target_cycles: must be at least 1, not 0"),
    (_layers(FC, hardware={"target_fps": -5}), "hardware.target_fps: must be positive, not -5.0"),
])
def test_layer_errors_are_one_line(mapping, message):
    if message is None:     # the counter-example: the same layer fits once padded
        parse_spec(mapping)
        return
    assert message in _error(mapping)


def test_conv_errors_through_the_command_line(tmp_path, capsys):
    mapping = yaml.safe_load(CNN.read_text())
    mapping["model"]["layers"][1]["padding"] = [0, 4]
    line = _fail(tmp_path, capsys, mapping)
    assert line.endswith("model.layers[1].padding: must be smaller than the kernel 3x3, not 0x4")


def test_imcq_options(tmp_path, capsys):
    mapping = _example()
    mapping["model"]["act_bits"] = 2
    line = _fail(tmp_path, capsys, mapping)
    assert line.endswith("model.act_bits: 2-bit activations need activation: binary (allowed: 1)")
    mapping = _example()
    mapping["train"]["concrete_temperature"] = 0
    line = _fail(tmp_path, capsys, mapping)
    assert line.endswith("train.concrete_temperature: must be positive, not 0.0")
    for value, problem in ((-0.1, "must be positive, not -0.1"),
                           (float("nan"), "expected a number or null, got nan")):
        mapping = _example()
        mapping["train"]["concrete_temperature_final"] = value
        line = _fail(tmp_path, capsys, mapping)
        assert line.endswith(f"train.concrete_temperature_final: {problem}")


def test_speech_data_path_is_relative_to_the_spec(tmp_path):
    from hwgen.spec import load_spec
    folder = tmp_path / "specs"
    folder.mkdir()
    (tmp_path / "speech").mkdir()
    path = folder / "kws.yaml"
    path.write_text(yaml.safe_dump({
        "data": {"dataset": "speech_commands", "path": "../speech", "input_bits": 4},
        "model": {"layers": [{"type": "conv", "out": 8, "kernel": 3}, {"type": "maxpool", "kernel": 2},
                             {"type": "linear", "out": 12}]}}))
    spec = load_spec(path)
    assert spec.data.path == str((tmp_path / "speech").resolve())
    assert spec.data.shape == (1, 49, 10) and spec.data.classes == 12


def test_speech_layout_sequence_sees_coefficients_as_channels(tmp_path):
    from hwgen.spec import load_spec
    path = tmp_path / "kws.yaml"
    path.write_text("name: kws\ndata: {dataset: speech_commands, layout: sequence}\n"
                    "model: {layers: [{type: conv, out: 8, kernel: [3, 1]}, {type: linear, out: 12}]}\n")
    spec = load_spec(path)
    assert spec.data.shape == (10, 49, 1)
    assert spec.model.layers[0].matrix_width == 30               # 3 time steps x 10 coefficients


def test_thermometer_codes_widen_the_channels_into_bits(tmp_path):
    from hwgen.spec import load_spec
    path = tmp_path / "kws.yaml"
    path.write_text("name: kws\ndata: {dataset: speech_commands, layout: sequence, input_bits: 4,"
                    " thermometer: true}\n"
                    "model: {activation: binary, layers: [{type: conv, out: 8, kernel: [3, 1]},"
                    " {type: linear, out: 12}]}\n")
    spec = load_spec(path)
    assert spec.data.shape == (150, 49, 1) and spec.data.features == 49 * 150
    assert (spec.data.levels, spec.data.element_bits, spec.input_encoding) == (15, 1, "binary")
    assert spec.model.layers[0].matrix_width == 450              # 3 time steps x 150 bits


def test_layout_is_for_speech_only(tmp_path, capsys):
    mapping = _example()
    mapping["data"]["layout"] = "sequence"
    assert _fail(tmp_path, capsys, mapping).endswith(
        "data.layout: is for dataset speech_commands, not digits")
