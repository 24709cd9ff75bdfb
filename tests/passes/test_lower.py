"""Training is reproducible, and the exported IR's golden model *is* the trained BNN.

The golden model must agree with the model's binarized inference exactly: the same integer
pre-activation in every layer and the same class, on every test frame.
"""
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from hwgen.data import load_dataset
from hwgen.errors import HwgenError
from hwgen.golden import run_graph
from hwgen.passes.lower import check_export, dot_values, export_graph, fold_threshold
from hwgen.nn import train_model
from hwgen.spec import load_spec
from tests.conftest import assert_export_exact

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits_mlp.yaml"


def _spec(epochs=6, seed=0):
    spec = load_spec(EXAMPLE)
    return dataclasses.replace(spec, seed=seed, train=dataclasses.replace(spec.train, epochs=epochs))


@pytest.fixture(scope="module")
def trained():
    spec = _spec()
    data = load_dataset(spec.data, spec.seed)
    result = train_model(spec, data, progress=False)
    return spec, data, result


@pytest.mark.parametrize("seed", range(6))
def test_fold_threshold_matches_batch_norm_on_every_dot(seed):
    mw, mh = 37, 64
    generator = torch.Generator().manual_seed(seed)
    norm = torch.nn.BatchNorm1d(mh)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(mh, generator=generator) * 2)   # negative gamma: falling
        norm.weight[:4] = 0.0                                          # constant neurons
        norm.bias.copy_(torch.randn(mh, generator=generator) * 3)
        norm.bias[0], norm.bias[1] = 1.0, -1.0
        norm.running_mean.copy_(torch.randn(mh, generator=generator) * mw / 3)
        norm.running_var.copy_(torch.rand(mh, generator=generator) * mw + 0.1)
    norm.eval()
    thresholds, invert = fold_threshold(norm, dot_values("bipolar", 1, mw))
    assert invert.any() and (~invert).any()
    p = np.arange(mw + 1)
    dots = torch.tensor(2 * p - mw, dtype=torch.float64)
    with torch.no_grad():   # float64 batch norm: the model's formula up to rounding
        fires = (norm.double()(dots[:, None].expand(-1, mh).contiguous()) >= 0).numpy()
    folded = ((2 * p - mw)[:, None] >= thresholds[None, :]) ^ invert[None, :]
    np.testing.assert_array_equal(folded, fires)
    assert thresholds.min() >= -mw and thresholds.max() <= mw + 1


def test_golden_equals_trained_model_on_whole_test_set(trained):
    spec, data, result = trained
    golden = assert_export_exact(result.model, spec, data, result.test_accuracy)
    assert len(golden.dots) == len(spec.model.layers)
    assert [d.shape for d in golden.dots] == [(len(data.test_y), 1, 64)] * 2 + [(len(data.test_y), 1, 10)]


def test_check_export_catches_a_wrong_threshold(trained):
    spec, data, result = trained
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    layer = graph.layers[0]
    # the neuron whose output flips on most frames when its threshold moves by one
    hits = (run_graph(graph).dots[0][:, 0] == layer.thresholds[None, :]).sum(axis=0)
    neuron = int(np.argmax(hits))
    assert hits[neuron] > 0
    thresholds = layer.thresholds.copy()
    thresholds[neuron] += 1
    broken = dataclasses.replace(graph, layers=(dataclasses.replace(layer, thresholds=thresholds),
                                                *graph.layers[1:]))
    with pytest.raises(HwgenError, match="export check failed"):
        check_export(result.model, broken)


def test_training_is_reproducible_from_the_seed():
    spec = _spec(epochs=2)
    data = load_dataset(spec.data, spec.seed)
    first = train_model(spec, data, progress=False).model.state_dict()
    second = train_model(spec, data, progress=False).model.state_dict()
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    other = train_model(_spec(epochs=2, seed=1), data, progress=False).model.state_dict()
    assert not torch.equal(first["layers.0.weight"], other["layers.0.weight"])


def test_dataset_split_is_reproducible():
    spec = _spec()
    a, b = load_dataset(spec.data, 0), load_dataset(spec.data, 0)
    np.testing.assert_array_equal(a.test_x, b.test_x)
    np.testing.assert_array_equal(a.train_y, b.train_y)
    c = load_dataset(spec.data, 1)
    assert not np.array_equal(a.test_y, c.test_y)
    assert set(np.unique(a.test_x)) <= {0, 1}


def test_exported_mlp_names_and_folding(trained):
    spec, data, result = trained
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    assert [(l.name, l.mw, l.mh, l.pe, l.simd, l.pixels) for l in graph.layers] == [
        ("fc0", 64, 64, 8, 16, 1), ("fc1", 64, 64, 8, 16, 1), ("fc2", 64, 10, 2, 16, 1)]
    assert (graph.input_shape, graph.input_encoding, graph.input_bits) == ((1, 8, 8), "bipolar", 1)
    assert graph.meta["fixed_folding"] == ["fc0", "fc1", "fc2"]


W2A2 = {  # conv with 2-bit activations, a multi-bit max-pool, two noisy cim layers (W2A2)
    "name": "w2a2", "data": {"dataset": "digits", "input_bits": 2},
    "model": {"activation": "binary", "act_bits": 2, "norm": "bnfree", "layers": [
        {"type": "conv", "out": 9, "kernel": 3, "padding": 1, "pe": 3, "simd": 9},
        {"type": "maxpool", "kernel": 2},
        {"type": "linear", "out": 36, "pe": 4, "backend": "cim"},
        {"type": "linear", "out": 10, "pe": 2, "backend": "cim"}]},
    "cim": {"rows": 288, "wordlines": 9, "adc_bits": 4, "weight_bits": 2, "act_bits": 2,
            "noise": "cell", "sigma": 0.5, "seed": 3},
    "train": {"epochs": 3}}


@pytest.fixture(scope="module")
def w2a2():
    from hwgen.spec import parse_spec
    spec = parse_spec(W2A2, file="w2a2.yaml")
    data = load_dataset(spec.data, spec.seed)
    result = train_model(spec, data, progress=False)
    return spec, data, result


@pytest.mark.parametrize("kind", ["batchnorm", "bnfree"])
def test_fold_levels_matches_the_units_levels_on_every_dot(kind):
    """Three thresholds per neuron reproduce the 2-bit activation of every dot product, rising
    and falling neurons, constant ones and ones whose outer levels lie outside the range."""
    from hwgen.passes.lower import fold_levels
    from hwgen.nn.layers import BatchNormThreshold, CentredThreshold
    mw, mh = 29, 48
    generator = torch.Generator().manual_seed(5)
    if kind == "batchnorm":
        norm = BatchNormThreshold(mh, shift=0.25)
        with torch.no_grad():
            norm.weight.copy_(torch.randn(mh, generator=generator) * 2)
            norm.weight[:3] = 0.0
            norm.bias.copy_(torch.randn(mh, generator=generator) * 2)
            norm.running_mean.copy_(torch.randn(mh, generator=generator) * mw / 4)
            norm.running_var.copy_(torch.rand(mh, generator=generator) * mw + 0.1)
    else:
        norm = CentredThreshold(mh, mw, shift=0.5)
        with torch.no_grad():
            norm.bias.copy_(torch.randn(mh, generator=generator) * 2)
            norm.log_gain.copy_(torch.randn(mh, generator=generator))
            norm.centre.copy_(torch.randn(mh, generator=generator) * mw / 4)
            norm.spread.copy_(torch.rand(mh, generator=generator) * 6 + 0.5)
    norm.eval()
    dots = dot_values("uint", 2, mw)
    thresholds, invert = fold_levels(norm, dots)
    assert thresholds.shape == (mh, 3)
    if kind == "batchnorm":
        assert invert.any() and (~invert).any()
    levels = norm.levels(torch.as_tensor(dots, dtype=torch.float64)[:, None].expand(-1, mh))
    folded = ((dots[:, None, None] >= thresholds[None]) != invert[None, :, None]).sum(-1)
    np.testing.assert_array_equal(folded, levels.numpy())
    assert len(np.unique(levels.numpy())) == 4          # every level occurs somewhere


def test_two_bit_activations_export_exactly(w2a2, tmp_path):
    """IMCQ's 2-bit activations (0..3) fold into multi-thresholds: the golden model (noise off)
    equals the trained model on the whole test set, layer by layer; the IR round-trips."""
    from hwgen.golden.network import run_layer
    from hwgen.ir import load_ir, save_ir
    from hwgen.passes.lower import quiet
    spec, data, result = w2a2
    model = result.model
    assert result.test_accuracy > 0.5
    assert set(model.layers[2].weight_codes().unique().tolist()) <= {0, 1, 2, 3}
    graph = export_graph(model, spec, data.test_x, data.test_y)
    check_export(model, graph)
    conv, pool, fc2, fc3 = graph.layers[1:]
    assert (conv.act_bits, conv.out_encoding, pool.elem_bits) == (2, "uint", 2)
    assert (fc2.backend, fc2.in_encoding, fc2.in_bits, fc2.act_bits) == ("cim", "uint", 2, 2)
    assert fc2.thresholds.shape == (36, 3) and fc3.output == "int"
    assert run_graph(quiet(graph)).accuracy(data.test_y) == pytest.approx(result.test_accuracy)
    x = torch.as_tensor(graph.test_frames.astype(np.int64))
    for layer in graph.layers[:2]:
        x = run_layer(layer, x)
    assert set(np.unique(x.numpy())) == {0, 1, 2, 3}  # the activations really are 2-bit
    save_ir(graph, tmp_path / "w2a2.ir.npz")
    loaded = load_ir(tmp_path / "w2a2.ir.npz")
    for a, b in zip(graph.layers, loaded.layers):
        assert a._meta() == b._meta()
    np.testing.assert_array_equal(loaded.layers[3].thresholds, fc2.thresholds)
    np.testing.assert_array_equal(run_graph(loaded).logits, run_graph(graph).logits)


def test_with_noise_puts_the_network_on_a_noisier_or_quieter_macro(w2a2):
    """``with_noise`` changes the cim macros' sigma (and noise seed) and nothing else: sigma 0
    is the quiet network, the spec's sigma and seed the exported one, another seed other
    samples, a larger sigma logits further from the quiet ones."""
    from hwgen.passes.lower import quiet, with_noise
    spec, data, result = w2a2
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    macros = [layer.macro for layer in graph.mvtus() if layer.macro is not None]
    assert len(macros) == 2 and all(m.sigma == spec.cim.sigma > 0 for m in macros)
    silent = run_graph(quiet(graph)).logits
    np.testing.assert_array_equal(run_graph(with_noise(graph, 0.0)).logits, silent)
    np.testing.assert_array_equal(run_graph(with_noise(graph, spec.cim.sigma, spec.cim.seed)).logits,
                                  run_graph(graph).logits)
    reseeded = with_noise(graph, spec.cim.sigma, spec.cim.seed + 1)
    assert [layer.macro.seed for layer in reseeded.mvtus() if layer.macro] == [spec.cim.seed + 1] * 2
    assert not np.array_equal(run_graph(reseeded).logits, run_graph(graph).logits)
    changed = [np.abs(run_graph(with_noise(graph, sigma, 5)).logits - silent).mean()
               for sigma in (0.25, 2.0)]
    assert 0 < changed[0] < changed[1]
    for a, b in zip(graph.layers, with_noise(graph, 2.0).layers):   # the rest is untouched
        if getattr(a, "macro", None) is None:
            assert a._meta() == b._meta()


@pytest.mark.cocotb
def test_two_bit_network_rtl_equals_golden_with_noise(w2a2, sim_build_root):
    """The W2A2 network on Verilator (2-bit activations through the conv, max-pool and two
    noisy cim layers) equals the noisy golden model on every test frame, full rate and
    stressed, and its RTL accuracy is the golden accuracy exactly."""
    from hwgen.passes.lower import quiet
    from hwgen.verify import verify_network
    spec, data, result = w2a2
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    noisy, silent = run_graph(graph), run_graph(quiet(graph))
    assert np.mean(np.any(noisy.logits != silent.logits, axis=1)) > 0.2
    verification = verify_network(graph, fifo_depth=16, build_root=sim_build_root, seed=2)
    assert verification.frames == len(data.test_y)
    assert verification.mismatches == verification.logit_mismatches == 0
    assert verification.stress_passed
    assert verification.rtl_accuracy == verification.golden_accuracy == noisy.accuracy(
        data.test_y)
    assert verification.measured_cycles == pytest.approx(verification.expected_cycles, rel=0.02)


THERMOMETER = {  # 2-bit pixels read as 3-bit thermometer codes by a conv, or by a linear layer
    "conv": {"name": "thermo_conv", "data": {"dataset": "digits", "input_bits": 2,
                                              "thermometer": True},
             "model": {"activation": "binary", "layers": [
                 {"type": "conv", "out": 8, "kernel": 3, "padding": 1},
                 {"type": "maxpool", "kernel": 2},
                 {"type": "linear", "out": 10}]},
             "train": {"epochs": 6}},
    "linear": {"name": "thermo_fc", "data": {"dataset": "digits", "input_bits": 2,
                                              "thermometer": True},
               "model": {"activation": "binary", "layers": [
                   {"type": "linear", "out": 32, "simd": 12}, {"type": "linear", "out": 10}]},
               "train": {"epochs": 2}},
}


@pytest.mark.parametrize("kind", sorted(THERMOMETER))
def test_thermometer_inputs_export_exactly(kind):
    """With data.thermometer the model codes its uint frames and the IR's first MVTU reads the
    codes (its stream the uint elements, simd whole codes); the golden model equals the trained
    model on the whole test set, layer by layer."""
    from hwgen.spec import parse_spec
    spec = parse_spec(THERMOMETER[kind], file="thermo.yaml")
    data = load_dataset(spec.data, spec.seed)
    assert data.shape == (1, 8, 8) and data.train_x.max() == 3
    result = train_model(spec, data, progress=False)
    assert result.test_accuracy > 0.5
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    check_export(result.model, graph)
    assert (graph.input_shape, graph.input_encoding, graph.input_bits) == ((1, 8, 8), "uint", 2)
    first = graph.mvtus()[0]
    assert (first.in_encoding, first.in_bits, first.code_bits) == ("thermometer", 2, 3)
    assert first.simd % 3 == 0 and first.in_elements * 3 == first.mw
    if kind == "conv":
        assert (graph.layers[0].channels, graph.layers[0].elem_bits) == (1, 2)
        assert first.mw == 27
    else:
        assert (first.mw, first.simd) == (192, 12)
    assert run_graph(graph).accuracy(data.test_y) == pytest.approx(result.test_accuracy)


def test_thermometer_first_layer_is_checked(tmp_path):
    from hwgen.errors import SpecError
    from hwgen.spec import parse_spec
    bad = {**THERMOMETER["linear"], "model": {"activation": "binary", "layers": [
        {"type": "linear", "out": 32, "simd": 8}, {"type": "linear", "out": 10}]}}
    with pytest.raises(SpecError, match="model.layers\\[0\\].simd: must be a multiple of the "
                                        "thermometer code's 3 bits"):
        parse_spec(bad, file="thermo.yaml")
