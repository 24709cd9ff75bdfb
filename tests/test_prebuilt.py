"""Shipped results (``train.prebuilt``): a checkpoint and IR made from the spec's settings are
used without data, training or export, and said so; missing or stale ones are made again in the
output folder, and the shipped folder is never written."""
import shutil
from pathlib import Path

import pytest
import yaml

from hwgen.cli import main
from hwgen.flow import Workspace
from hwgen.spec import load_spec

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "digits_mlp.yaml"


def _spec_file(tmp_path, **train) -> Path:
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["train"].update(epochs=1, **train)
    path = tmp_path / "mlp.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A folder holding what ``hwgen export`` made for the 1-epoch spec with prebuilt: ship."""
    tmp_path = tmp_path_factory.mktemp("made")
    spec_file = _spec_file(tmp_path, prebuilt="ship")
    out = tmp_path / "out"
    assert main(["export", str(spec_file), "--out", str(out)]) == 0
    ship = tmp_path / "ship"
    ship.mkdir()
    for name in ("checkpoint.pt", "model.ir.npz"):
        shutil.copy(out / name, ship / name)
    return ship


def _workspace(spec_file, out, said):
    return Workspace.create(load_spec(spec_file), out, say=said.append)


def test_shipped_ir_is_used_without_data_or_training(tmp_path, shipped, monkeypatch):
    shutil.copytree(shipped, tmp_path / "ship")
    spec_file = _spec_file(tmp_path, prebuilt="ship")

    def no_data(*args, **kwargs):
        raise AssertionError("the data was loaded")
    monkeypatch.setattr("hwgen.data.load_dataset", no_data)
    said = []
    workspace = _workspace(spec_file, tmp_path / "out", said)
    graph = workspace.export()
    assert any(line.startswith("reusing shipped IR") for line in said)
    assert workspace.reused == [f"shipped IR {tmp_path / 'ship' / 'model.ir.npz'}"]
    assert len(graph.layers) == 3
    assert not (tmp_path / "out" / "model.ir.npz").exists()


def test_shipped_checkpoint_is_used_when_the_ir_is_missing(tmp_path, shipped):
    (tmp_path / "ship").mkdir()
    shutil.copy(shipped / "checkpoint.pt", tmp_path / "ship" / "checkpoint.pt")
    spec_file = _spec_file(tmp_path, prebuilt="ship")
    said = []
    workspace = _workspace(spec_file, tmp_path / "out", said)
    workspace.export()
    assert any(line.startswith("reusing shipped checkpoint") for line in said)
    assert any(line.startswith("no shipped IR") for line in said)
    assert not any(line.startswith("training") for line in said)
    assert (tmp_path / "out" / "model.ir.npz").exists()       # exported into the output folder
    assert sorted(p.name for p in (tmp_path / "ship").iterdir()) == ["checkpoint.pt"]


def test_stale_shipped_results_are_made_again(tmp_path, shipped):
    shutil.copytree(shipped, tmp_path / "ship")
    spec_file = _spec_file(tmp_path, prebuilt="ship", lr=0.02)     # other settings
    said = []
    workspace = _workspace(spec_file, tmp_path / "out", said)
    workspace.export()
    assert any("was made from other settings" in line for line in said)
    assert any(line.startswith("training") for line in said)
    assert workspace.reused == []
    assert (tmp_path / "out" / "checkpoint.pt").exists()


def test_prebuilt_and_checkpoint_together_is_an_error(tmp_path, capsys):
    spec_file = _spec_file(tmp_path, prebuilt="ship", checkpoint="x.pt")
    assert main(["export", str(spec_file), "--out", str(tmp_path / "out")]) == 2
    assert "train.prebuilt: cannot be given together with checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_run_with_a_shipped_ir_needs_no_checkpoint(tmp_path, shipped, monkeypatch, capsys):
    """The checkpoint is needed only to export: ``hwgen sim`` on a shipped IR alone neither
    trains nor looks for one."""
    (tmp_path / "ship").mkdir()
    shutil.copy(shipped / "model.ir.npz", tmp_path / "ship" / "model.ir.npz")
    spec_file = _spec_file(tmp_path, prebuilt="ship")
    spec = yaml.safe_load(spec_file.read_text())
    spec["hardware"] = {"size_fifos": False}
    spec_file.write_text(yaml.safe_dump(spec))

    def no_data(*args, **kwargs):
        raise AssertionError("the data was loaded")
    monkeypatch.setattr("hwgen.data.load_dataset", no_data)
    out = tmp_path / "out"
    assert main(["sim", "--to", "hardware", str(spec_file), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"reusing shipped IR {tmp_path / 'ship' / 'model.ir.npz'}" in err
    assert "checkpoint" not in err
    assert sorted(path.name for path in out.iterdir()) == ["hardware.ir.npz"]
