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
from hwgen.ir.export import check_export, dot_values, export_graph, fold_threshold
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


def test_two_bit_activations_train_but_do_not_export():
    """IMCQ's 2-bit activations (0..3) train through a cim layer with 2-bit weights; the IR
    carries 1-bit activations, so export refuses them clearly."""
    from hwgen.spec import parse_spec
    spec = parse_spec({
        "name": "w2a2", "data": {"dataset": "digits", "input_bits": 2},
        "model": {"activation": "binary", "act_bits": 2, "layers": [
            {"type": "linear", "in": 64, "out": 32, "backend": "cim"},
            {"type": "linear", "in": 32, "out": 10}]},
        "cim": {"wordlines": 8, "adc_bits": 4, "weight_bits": 2, "act_bits": 2},
        "train": {"epochs": 2}})
    data = load_dataset(spec.data, spec.seed)
    result = train_model(spec, data, progress=False)
    assert result.test_accuracy > 0.5
    model = result.model
    assert set(model.layers[0].weight_codes().unique().tolist()) <= {0, 1, 2, 3}
    with torch.no_grad():
        hidden = model.activation(0, model.layers[0](torch.rand(5, 64) * 3)[:, None, :])
    assert set(hidden.unique().tolist()) <= {0.0, 1.0, 2.0, 3.0}
    with pytest.raises(ValueError, match="only 1-bit activations can be exported"):
        export_graph(model, spec, data.test_x, data.test_y)
