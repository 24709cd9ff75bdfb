"""``hwgen.qonnx.import_qonnx``: Brevitas BNNs (both exporters) become hwgen IRs whose golden
model equals qonnx's executor on the model, bit for bit; what has no exact hwgen form is one
error naming the node."""

import numpy as np
import pytest

pytest.importorskip("brevitas")
pytest.importorskip("qonnx")
from qonnx.core.onnx_exec import execute_onnx  # noqa: E402

from hwgen.golden import run_graph  # noqa: E402
from hwgen.qonnx.importer import (QonnxImportError, import_qonnx, input_values,  # noqa: E402
                                  load_qonnx, logits_of)
from tests.qonnx import brevitas_models as models  # noqa: E402


def model_outputs(path, graph, frames) -> np.ndarray:
    """The model's own outputs (qonnx's executor) for hwgen's ``frames``."""
    model = load_qonnx(path)
    x = input_values(graph, frames)
    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    return np.concatenate([execute_onnx(model, {name_in: x[i:i + 1]})[name_out]
                           for i in range(len(x))])


@pytest.fixture(scope="module", params=[False, True], ids=["torchscript", "dynamo"])
def exported(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("brevitas")
    mlp = models.make(models.MLP())
    cnn = models.make(models.CNN(), seed=1)
    return {"mlp": (mlp, models.export(mlp, folder / "mlp.onnx", dynamo=request.param,
                                       shape=(1, 64))),
            "cnn": (cnn, models.export(cnn, folder / "cnn.onnx", dynamo=request.param,
                                       shape=(1, 1, 8, 8)))}


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_a_brevitas_bnn_imports_bit_for_bit(exported, kind):
    import torch
    module, path = exported[kind]
    x, labels = models.frames(24, 64, 1 if kind == "mlp" else 15)
    graph = import_qonnx(path, name=kind, test_frames=x, test_labels=labels)
    layers = [layer.op for layer in graph.layers]
    assert layers == (["mvtu", "mvtu"] if kind == "mlp" else
                      ["swg", "mvtu", "swg", "mvtu", "maxpool", "mvtu"])
    assert (graph.input_encoding, graph.input_bits) == (("bipolar", 1) if kind == "mlp"
                                                        else ("uint", 4))
    # Negative batch-norm scales became inverted neurons.
    assert all(layer.invert.any() and not layer.invert.all() for layer in graph.mvtus()[:-1])
    golden = run_graph(graph)
    outputs = model_outputs(path, graph, x)
    assert np.array_equal(outputs, logits_of(graph, golden.logits))
    assert np.array_equal(outputs.argmax(axis=1), golden.labels)
    with torch.no_grad():                # and the model as Brevitas runs it
        reference = module(torch.from_numpy(input_values(graph, x))).numpy()
    assert np.array_equal(outputs, reference)
    # A threshold one off is caught.
    layer = graph.mvtus()[0]
    hidden = run_graph(graph).dots[0].reshape(-1, layer.mh)
    neuron = int(np.abs((hidden >= layer.thresholds).mean(axis=0) - 0.5).argmin())
    thresholds = layer.thresholds.copy()
    thresholds[neuron] = hidden[:, neuron].max() + 1 if not layer.invert[neuron] else \
        hidden[:, neuron].min()
    broken = graph.with_layers({layer.name: {"thresholds": thresholds}})
    assert not np.array_equal(outputs, logits_of(graph, run_graph(broken).logits))


@pytest.mark.parametrize("dynamo", [False, True])
def test_a_max_pool_before_the_quantizer(dynamo, tmp_path):
    """conv -> batch norm -> max-pool -> quantizer: pooled after the quantizer where every
    channel's activation rises with its dot product (max and activation commute); a channel
    whose falls is one error naming the max-pool."""
    import torch
    x, labels = models.frames(12, 64, 15)
    module = models.make(models.CNN(pool_first=True), seed=2, positive=True)
    path = models.export(module, tmp_path / "rising.onnx", dynamo=dynamo, shape=(1, 1, 8, 8))
    graph = import_qonnx(path, name="cnn", test_frames=x, test_labels=labels)
    assert [layer.op for layer in graph.layers] == ["swg", "mvtu", "swg", "mvtu", "maxpool",
                                                    "mvtu"]
    outputs = model_outputs(path, graph, x)
    assert np.array_equal(outputs, logits_of(graph, run_graph(graph).logits))
    with torch.no_grad():
        assert np.array_equal(outputs, module(torch.from_numpy(input_values(graph, x))).numpy())
    module = models.make(models.CNN(pool_first=True), seed=2)
    path = models.export(module, tmp_path / "falling.onnx", dynamo=dynamo, shape=(1, 1, 8, 8))
    with pytest.raises(QonnxImportError, match=r"^node '[^']+' \(MaxPool\): a max-pool before "
                                               r"the activation quantizer, on channels whose "
                                               r"activation falls"):
        import_qonnx(path, name="cnn", test_frames=x, test_labels=labels)


def test_odd_level_weights_import_as_multi_bit_weights(tmp_path):
    """Weights that are a step times the odd levels +-1, +-3 (float weights, no quantizer)
    import as 2-bit weights, exactly."""
    import torch
    module = models.make(models.MLP(weights=None))
    with torch.no_grad():
        for linear in (module.fc1, module.fc2):
            levels = torch.randint(0, 4, linear.weight.shape, generator=torch.Generator()
                                   .manual_seed(linear.out_features)) * 2 - 3
            linear.weight.copy_(levels * 0.25)
    path = models.export(module, tmp_path / "mlp.onnx", dynamo=False, shape=(1, 64))
    x, labels = models.frames(16, 64, 1)
    graph = import_qonnx(path, name="mlp", test_frames=x, test_labels=labels)
    assert [layer.weight_bits for layer in graph.mvtus()] == [2, 2]
    outputs = model_outputs(path, graph, x)
    assert np.array_equal(outputs, logits_of(graph, run_graph(graph).logits))


def test_scaled_weights_keep_the_integer_logits(tmp_path):
    """Brevitas's default binary weights (scale 0.1): the model's float sums round, the
    integer dot products behind them are the golden model's."""
    from brevitas.quant import SignedBinaryWeightPerTensorConst
    module = models.make(models.MLP(weights=SignedBinaryWeightPerTensorConst))
    path = models.export(module, tmp_path / "mlp.onnx", dynamo=False, shape=(1, 64))
    x, labels = models.frames(16, 64, 1)
    graph = import_qonnx(path, name="mlp", test_frames=x, test_labels=labels)
    info = graph.meta["qonnx"]
    assert info["logits_scale"] == pytest.approx(0.1)
    outputs = model_outputs(path, graph, x)
    recovered = np.rint((outputs - info["logits_offset"]) / info["logits_scale"])
    assert np.array_equal(recovered.astype(np.int64), run_graph(graph).logits)


@pytest.mark.parametrize("case,message", [
    ("padded_bipolar", r"^node '[^']+' \(Conv\): ONNX pads with 0, which is no \+-1 value"),
    ("last_bias", r"^the last matrix product \([^)]+\): its per-class scale or bias is not the "
                  r"same for every class"),
    ("two_bit_weights", r"^node '[^']+' \((MatMul|Gemm)\): its weights must be, per output "
                        r"channel, a scale times odd levels"),
    ("sigmoid", r"^node '[^']+' \(Sigmoid\): no such op in hwgen's import"),
])
def test_what_has_no_exact_form_is_one_error_naming_the_node(case, message, tmp_path):
    import torch
    from brevitas.quant import Int8WeightPerTensorFloat
    if case == "padded_bipolar":
        module = models.make(models.CNN(input_quant=models.BINARY_ACTS))
        shape = (1, 1, 8, 8)
    elif case == "last_bias":
        module, shape = models.make(models.MLP(bias=True)), (1, 64)
        with torch.no_grad():
            module.fc2.bias.uniform_(-1, 1)
    elif case == "two_bit_weights":
        module = models.make(models.MLP(weights=Int8WeightPerTensorFloat.let(bit_width=2)))
        shape = (1, 64)
    else:
        class Squashed(models.MLP):
            def forward(self, x):
                return torch.sigmoid(super().forward(x))
        module, shape = models.make(Squashed()), (1, 64)
    path = models.export(module, tmp_path / "model.onnx", dynamo=False, shape=shape)
    x, labels = models.frames(4, 64, 1)
    with pytest.raises(QonnxImportError, match=message) as caught:
        import_qonnx(path, name="bad", test_frames=x, test_labels=labels)
    assert "\n" not in str(caught.value)


def test_a_file_that_is_no_model_is_one_line(tmp_path):
    from hwgen.errors import HwgenError
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(HwgenError, match=r"bad\.onnx: not an ONNX model") as caught:
        import_qonnx(bad, name="bad", test_frames=np.zeros((1, 64)), test_labels=[0])
    assert "\n" not in str(caught.value)


@pytest.mark.cocotb
def test_an_imported_cnn_runs_on_verilator_as_its_golden_model(exported, sim_build_root,
                                                                request):
    """RTL == golden on Verilator for the imported CNN (full rate, then under idle cycles and
    backpressure), once per exporter's file."""
    from hwgen.passes.fold import auto_fold
    from hwgen.verify import verify_network
    _, path = exported["cnn"]
    x, labels = models.frames(12, 64, 15, seed=3)
    graph = import_qonnx(path, name="cnn", test_frames=x, test_labels=labels)
    graph = auto_fold(graph, target_cycles=600)
    result = verify_network(graph, fifo_depth=4, build_root=sim_build_root)
    assert result.frames == 12 and result.mismatches == 0 and result.stress_passed
    assert np.array_equal(model_outputs(path, graph, x).argmax(axis=1),
                          run_graph(graph).labels)


def _hwgen(*args, cwd):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "hwgen", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def test_hwgen_import_and_a_spec_with_model_qonnx(exported, tmp_path):
    """``hwgen import MODEL --spec SPEC`` imports with the spec's data (its layers and
    training replaced); a spec naming the file in ``model.qonnx`` exports the same IR; data
    the model does not read, and training such a spec, are one line each."""
    import yaml

    from hwgen.ir import load_ir
    _, path = exported["cnn"]
    spec = {"name": "imported", "seed": 0,
            "data": {"dataset": "digits", "test_fraction": 0.2, "input_bits": 4},
            "model": {"layers": [{"type": "linear", "out": 10}]}, "board": "ulx3s"}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    result = _hwgen("import", path, "--spec", "spec.yaml", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "imported IR: 6 layers (conv0_swg, conv0, conv2_swg, conv2, pool4, fc5), golden = " \
        "model (qonnx's executor) on 360 test frames" in result.stderr
    graph = load_ir(tmp_path / "out" / "model.ir.npz")
    assert [layer.op for layer in graph.layers] == ["swg", "mvtu", "swg", "mvtu", "maxpool",
                                                    "mvtu"]
    # The same model named in the spec: the same IR, reused.
    spec["model"] = {"qonnx": str(path)}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    result = _hwgen("export", "spec.yaml", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "reusing IR" in result.stderr and "importing" not in result.stderr
    result = _hwgen("train", "spec.yaml", "--out", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"hwgen: error: {tmp_path / 'spec.yaml'}: model.qonnx: "
                                     f"the model was trained elsewhere: hwgen has nothing to "
                                     f"train (hwgen export imports it)")
    # 1-bit frames for a model that reads 4-bit codes.
    spec["data"]["input_bits"] = 1
    spec["data"]["input_threshold"] = 7
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    result = _hwgen("export", "spec.yaml", "--out", "out1", cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"hwgen: error: {tmp_path / 'spec.yaml'}: model.qonnx: ")
    assert "does not take the data section's frames" in lines[-1]
    assert not (tmp_path / "out1" / "model.ir.npz").exists()
    # A missing file, and a spec with a cim section.
    result = _hwgen("import", "nothing.onnx", "--spec", "spec.yaml", cwd=tmp_path)
    assert result.stderr.strip() == "hwgen: error: MODEL: no such file: nothing.onnx"


def test_the_brevitas_example_imports_and_exports_back(tmp_path):
    """examples/brevitas: its QONNX file imports against its spec (the check on every test
    frame inside), and the IR exports back to QONNX, which runs as the golden model."""
    from pathlib import Path

    from hwgen.flow import Workspace, run_steps
    from hwgen.qonnx import execute, export_qonnx
    from hwgen.spec import load_spec
    spec = load_spec(Path(__file__).resolve().parents[2] / "examples" / "brevitas" /
                     "digits_cnn.yaml")
    workspace = Workspace.create(spec, tmp_path, say=lambda message: None)
    graph = run_steps(workspace, stop="export").results["export"]
    assert graph.meta["golden_accuracy"] > 0.9
    logits, _ = execute(export_qonnx(graph), graph, graph.test_frames[:8])
    assert np.array_equal(logits, run_graph(graph, graph.test_frames[:8]).logits)


def test_an_input_annotated_with_its_datatype_needs_no_quantizer(exported, tmp_path):
    """FINN's convention: the CNN with its input quantizer removed and its input annotated
    UINT4 imports as the same network."""
    from qonnx.core.datatype import DataType
    _, path = exported["cnn"]
    model = load_qonnx(path)
    source = model.graph.input[0].name
    quantizer = next(node for node in model.graph.node if node.input[0] == source)
    for node in model.graph.node:
        node.input[:] = [source if name == quantizer.output[0] else name for name in node.input]
    model.graph.node.remove(quantizer)
    model.set_tensor_datatype(source, DataType["UINT4"])
    model.save(str(tmp_path / "annotated.onnx"))
    x, labels = models.frames(8, 64, 15)
    plain = import_qonnx(path, name="cnn", test_frames=x, test_labels=labels)
    annotated = import_qonnx(tmp_path / "annotated.onnx", name="cnn", test_frames=x,
                             test_labels=labels)
    assert (annotated.input_encoding, annotated.input_bits) == ("uint", 4)
    assert np.array_equal(run_graph(annotated).logits, run_graph(plain).logits)
    assert np.array_equal(model_outputs(tmp_path / "annotated.onnx", annotated, x),
                          logits_of(annotated, run_graph(annotated).logits))


def _mapped(exported, macro):
    from hwgen.passes.cim_map import map_onto_macro
    _, path = exported["mlp"]
    x, labels = models.frames(24, 64, 1, seed=5)
    graph = import_qonnx(path, name="mlp", test_frames=x, test_labels=labels)
    return path, graph, map_onto_macro(graph, ["fc0"], macro)


def test_a_lossless_macro_computes_the_imported_layer_exactly(exported):
    """On a macro with ADC step 1, no clipping and no noise, the mapped layer's code sums are
    its dot products plus the offset: the network is the model's, bit for bit."""
    from hwgen.cim import MacroSpec
    from hwgen.passes.cim_map import lossless
    macro = MacroSpec(wordlines=4, adc_bits=4, adc_range=7.5, noise="none")
    path, graph, mapped = _mapped(exported, macro)
    layer = mapped.layers[0]
    assert layer.macro is not None and layer.simd == 4 and lossless(layer.macro, layer)
    golden = run_graph(mapped)
    assert np.array_equal(golden.dots[0], run_graph(graph).dots[0] +
                          layer.macro.code_offset(layer.mw))
    assert np.array_equal(model_outputs(path, mapped, mapped.test_frames),
                          logits_of(mapped, golden.logits))


@pytest.mark.cocotb
def test_a_noisy_macro_runs_the_imported_layer_as_its_golden_model(exported, sim_build_root):
    """A lossy, noisy macro changes the layer (its accuracy is the golden model's to say);
    the RTL computes it as the golden model does, noise included."""
    from hwgen.cim import MacroSpec
    from hwgen.passes.cim_map import lossless
    from hwgen.verify import verify_network
    macro = MacroSpec(wordlines=8, adc_bits=3, noise="cell", sigma=0.6, seed=9)
    _, graph, mapped = _mapped(exported, macro)
    assert not lossless(mapped.layers[0].macro, mapped.layers[0])
    hidden = run_graph(mapped).dots[0]
    assert not np.array_equal(run_graph(mapped).logits, run_graph(graph).logits)
    assert hidden.max() <= macro.max_code_sum(64)
    result = verify_network(mapped, fifo_depth=4, build_root=sim_build_root)
    assert result.frames == 24 and result.mismatches == 0 and result.stress_passed


def test_model_cim_layers_in_a_spec(exported, tmp_path):
    import yaml
    _, path = exported["mlp"]
    spec = {"name": "oncim", "data": {"dataset": "digits", "input_threshold": 7},
            "model": {"qonnx": str(path), "cim_layers": ["fc0"]},
            "cim": {"wordlines": 8, "adc_bits": 4, "noise": "cell", "sigma": 0.3}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    result = _hwgen("export", "spec.yaml", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "imported IR: 2 layers (fc0, fc1)" in result.stderr
    assert "on the cim macro: fc0; golden accuracy" in result.stderr
    from hwgen.ir import load_ir
    graph = load_ir(tmp_path / "out" / "model.ir.npz")
    assert graph.layers[0].macro.wordlines == 8 and graph.layers[1].macro is None
    for change, message in (
            ({"cim_layers": ["fc9"]}, "model.cim_layers: no layer 'fc9' to map onto the macro "
                                      "(the MVTUs: fc0, fc1)"),
            ({"cim_layers": []}, "cim: no layer of the model.qonnx model runs on the macro")):
        spec["model"].update(change)
        (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
        result = _hwgen("export", "spec.yaml", "--out", "bad", cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr.strip().splitlines()[-1]
        assert not (tmp_path / "bad" / "model.ir.npz").exists()


def test_a_layer_too_wide_to_enumerate_is_one_line(exported, monkeypatch):
    """The thresholds are found on every reachable dot product: a crafted model whose range
    is beyond the bound is refused before anything is allocated."""
    import hwgen.qonnx.importer as importer
    monkeypatch.setattr(importer, "MAX_ENUMERATED", 1000)       # fc1: 32 x 129 values
    _, path = exported["mlp"]
    x, labels = models.frames(4, 64, 1)
    with pytest.raises(QonnxImportError, match=r"^the product '[^']+': its 32 neurons' dot "
                                               r"products range over 129 values each, more "
                                               r"than the import enumerates \(1,000 in all\)$"):
        import_qonnx(path, name="mlp", test_frames=x, test_labels=labels)


def test_external_data_is_refused(exported, tmp_path):
    """A model whose weights point at other files (external data) is refused in one line,
    and nothing outside it is read."""
    import onnx
    _, path = exported["mlp"]
    model = onnx.load(path)
    tensor = model.graph.initializer[0]
    tensor.data_location = onnx.TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../../etc/passwd"
    tensor.ClearField("raw_data")
    onnx.save(model, str(tmp_path / "external.onnx"))
    from hwgen.errors import HwgenError
    with pytest.raises(HwgenError, match=r"external\.onnx: its weights are in external data "
                                         r"files"):
        import_qonnx(tmp_path / "external.onnx", name="x", test_frames=np.zeros((1, 64)),
                     test_labels=[0])
