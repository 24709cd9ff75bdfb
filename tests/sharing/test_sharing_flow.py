"""Convolutional result sharing through the flow: the spec asks for it (one-line errors where it
cannot), training ties similar filters and fine-tunes, export builds shared MVTUs that equal the
model, the report counts the operations, and the RTL of a shared network equals its golden
model on Verilator."""
import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hwgen.cli import main
from hwgen.flow.train import train_key
from hwgen.ir import load_ir
from hwgen.nn import BinaryConv2d
from hwgen.ops.smvtu.sharing import exact_sharing
from hwgen.spec import parse_spec

REPO = Path(__file__).resolve().parent.parent.parent

#: A small binarized CNN on 1-bit digits whose convs can share.
SHARED = {
    "name": "shared_cnn", "seed": 0,
    "data": {"dataset": "digits", "test_fraction": 0.2, "input_bits": 1},
    "model": {"activation": "bipolar", "share": {"similar": 1, "finetune_epochs": 1},
              "layers": [{"type": "conv", "out": 8, "kernel": 3, "padding": 1},
                         {"type": "conv", "out": 16, "kernel": 3},
                         {"type": "maxpool", "kernel": 2},
                         {"type": "linear", "out": 10, "pe": 2, "simd": 16}]},
    "train": {"epochs": 2, "batch_size": 64, "lr": 0.05},
    "hardware": {"size_fifos": False},
    "verify": {"frames": 40},
    "board": "ulx3s",
}


def _spec(changes=None, model=None):
    mapping = copy.deepcopy(SHARED)
    mapping.update(changes or {})
    mapping["model"].update(model or {})
    return mapping


def _error(tmp_path, capsys, mapping) -> str:
    spec_file = tmp_path / "bad.yaml"
    spec_file.write_text(yaml.safe_dump(mapping))
    assert main(["export", str(spec_file), "--out", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and not (tmp_path / "out").exists()
    return lines[0]


def test_spec_errors_name_the_key(tmp_path, capsys):
    uint = _spec({"data": {"dataset": "digits", "input_bits": 4}})
    uint["model"]["share"] = None
    uint["model"]["layers"][0]["share"] = {}
    assert "model.layers[0].share: needs one-bit or thermometer inputs" in \
        _error(tmp_path, capsys, uint)
    far = _spec(model={"share": {"similar": 5}})
    assert "model.share.similar: 5 exceeds half the 9 kernel positions of model.layers[0]" \
        " (every filter would share) (allowed: 0..4)" in _error(tmp_path, capsys, far)
    folded = _spec()
    folded["model"]["layers"][1]["pe"] = 4
    assert "model.layers[1].pe: a shared conv computes every output channel and the whole " \
        "window per cycle: pe is 16, not 4 (allowed: 16)" in _error(tmp_path, capsys, folded)
    negative = _spec(model={"share": {"similar": -1}})
    assert "model.share.similar: must be at least 0, not -1" in _error(tmp_path, capsys, negative)


def test_the_model_default_shares_where_it_can():
    mapping = yaml.safe_load((REPO / "examples" / "digits_cnn.yaml").read_text())
    mapping["model"]["share"] = {}
    spec = parse_spec(yaml.safe_load(yaml.safe_dump(mapping)))
    assert list(spec.shared_convs()) == [1]          # conv0 reads 4-bit pixels
    # Exact sharing does not change training: the same train key (a shipped checkpoint
    # stays usable); tying similar filters does.
    plain = parse_spec(yaml.safe_load((REPO / "examples" / "digits_cnn.yaml").read_text()))
    assert train_key(spec) == train_key(plain)
    mapping["model"]["share"] = {"similar": 1}
    assert train_key(parse_spec(yaml.safe_load(yaml.safe_dump(mapping)))) != train_key(plain)


def test_tie_shares_the_leader_and_untie_keeps_the_weights():
    torch.manual_seed(0)
    conv = BinaryConv2d(3, 4, 3)
    filters = conv.weight_codes().reshape(4, 3, 9).numpy()
    filters[1, 0] = filters[0, 0]          # repeated
    filters[2, 0] = ~filters[0, 0]         # inverse
    conv.tie(filters)
    assert np.array_equal(conv.weight_codes().reshape(4, 3, 9).numpy(), filters)
    loss = conv(torch.randn(2, 3, 5, 5)).sum()
    loss.backward()
    grad = conv.weight.grad.reshape(4, 3, 9)
    assert torch.all(grad[1, 0] == 0) and torch.all(grad[2, 0] == 0)   # tied to the leader
    assert torch.any(grad[0, 0] != 0)
    with torch.no_grad():
        conv.weight[0, 0] *= -1            # the leader moves: its followers with it
    moved = conv.weight_codes().reshape(4, 3, 9).numpy()
    assert np.array_equal(moved[1, 0], moved[0, 0]) and np.array_equal(moved[2, 0], ~moved[0, 0])
    conv.untie()
    assert conv.ties is None and np.array_equal(conv.weight_codes().reshape(4, 3, 9).numpy(), moved)


@pytest.mark.slow
def test_train_export_report_and_verify_a_shared_network(tmp_path):
    spec_file = tmp_path / "shared.yaml"
    spec_file.write_text(yaml.safe_dump(_spec()))
    out = tmp_path / "out"
    assert main(["sim", str(spec_file), "--out", str(out)]) == 0
    graph = load_ir(out / "model.ir.npz")
    shared = [layer for layer in graph.mvtus() if layer.op == "smvtu"]
    assert [layer.name for layer in shared] == ["conv0", "conv1"]
    for layer in shared:        # the IR's sharing is the exact sharing of its weights
        exact = exact_sharing(layer.sharing.split())
        assert np.array_equal(exact.counts, layer.counts)
    meta = graph.meta
    assert meta["share_conv1_distinct_tied"] < meta["share_conv1_distinct_exact"]
    assert int(shared[1].counts.sum()) <= meta["share_conv1_distinct_tied"]
    assert meta["share_accuracy_finetuned"] == meta["bnn_accuracy"]
    assert 0 < meta["share_accuracy_reference"] <= 1
    verification = yaml.safe_load((out / "verify.json").read_text())
    assert verification["mismatches"] == 0 and verification["frames"] == 40
    assert verification["cycles_ratio"] <= 1.02
    report = (out / "report.md").read_text()
    assert "## Convolutional result sharing" in report
    assert "similar filters tied in training" in report
