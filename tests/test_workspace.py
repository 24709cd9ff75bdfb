"""The hardware step of the flow: auto-folding for a throughput target (explicit folding wins),
FIFO sizing by simulation or by the fixed rule, and an impossible target as one clear line."""
import json
from pathlib import Path

import pytest
import yaml

from hwgen.cli import main
from hwgen.ir import load_ir
from hwgen.ops import MVTULayer

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "digits_cnn.yaml"


def _spec_file(tmp_path, **hardware) -> Path:
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["train"]["epochs"] = 3
    spec["verify"] = {"frames": 40}
    spec["hardware"] = hardware
    spec["model"]["layers"][-1].update(pe=2, simd=16)        # explicit: kept by auto-folding
    path = tmp_path / "cnn.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.cocotb
def test_target_cycles_folds_sizes_and_verifies(tmp_path, capsys):
    target = 600
    out = tmp_path / "out"
    assert main(["sim", str(_spec_file(tmp_path, target_cycles=target)), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"auto-folded for {target} cycles/frame" in err
    graph = load_ir(out / "hardware.ir.npz")
    exported = load_ir(out / "model.ir.npz")
    assert all(layer.expected_cycles() <= target for layer in graph.layers)
    assert exported.expected_cycles() > target                # so the pass had work to do
    fc = graph.layers[-1]
    assert isinstance(fc, MVTULayer) and (fc.pe, fc.simd) == (2, 16)
    assert graph.fifo_depths is not None and len(graph.fifo_depths) == len(graph.layers) - 1
    assert graph.meta["fifo_sizing"]["seconds"] > 0
    verification = json.loads((out / "verify.json").read_text())
    assert verification["mismatches"] == 0 and verification["stress_passed"]
    assert verification["cycles_ratio"] <= 1.02


def test_impossible_target_names_the_best_achievable(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sim", str(_spec_file(tmp_path, target_cycles=100)), "--out", str(out)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("hwgen: error: target 100 cycles/frame cannot be met: "
                                "best achievable is 576 (layer 'conv0_swg'")
    assert not (out / "hardware.ir.npz").exists()


def test_fixed_fifo_depth_rule_without_sizing(tmp_path, capsys):
    out = tmp_path / "out"
    spec_file = _spec_file(tmp_path, size_fifos=False, fifo_depth=3)
    assert main(["export", str(spec_file), "--out", str(out)]) == 0
    from hwgen.flow import Workspace
    from hwgen.spec import load_spec
    workspace = Workspace.create(load_spec(spec_file), out, say=lambda message: None)
    graph = workspace.hardware(load_ir(out / "model.ir.npz"))
    consumers = graph.layers[1:]
    assert list(graph.fifo_depths) == [max(3, getattr(c, "sf", 1) if isinstance(c, MVTULayer) else 1)
                                       for c in consumers]
    assert graph.meta["fifo_sizing"]["rule"] == "fifo_depth"


def test_cim_backend_exports(tmp_path):
    """A ``backend: cim`` layer exports as an MVTU on the spec's macro (simd = wordlines)."""
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["train"]["epochs"] = 1
    spec["model"]["layers"][1]["backend"] = "cim"
    spec["model"]["layers"][1].pop("simd", None)
    spec["cim"] = {"wordlines": 8, "noise": "cell", "sigma": 0.3}
    path = tmp_path / "cim.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    assert main(["export", str(path), "--out", str(out)]) == 0
    graph = load_ir(out / "model.ir.npz")
    backends = [layer.backend for layer in graph.mvtus()]
    assert backends[1] == "cim" and backends.count("cim") == 1
    assert graph.mvtus()[1].simd == 8 and graph.mvtus()[1].macro.sigma == 0.3


def test_ram_style_is_exported_and_kept(tmp_path):
    """A layer's ``ram_style`` reaches its MVTU and survives auto-folding; it is hardware, not
    training: the checkpoint's key ignores it, the IR's does not."""
    from hwgen.flow import Workspace
    from hwgen.passes.fold import auto_fold
    from hwgen.spec import load_spec
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["train"]["epochs"] = 1
    spec["model"]["layers"][1]["ram_style"] = "block"
    path = tmp_path / "styled.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    assert main(["export", str(path), "--out", str(out)]) == 0
    graph = load_ir(out / "model.ir.npz")
    assert [layer.ram_style for layer in graph.mvtus()] == ["auto", "block", "auto"]
    folded = auto_fold(graph, target_cycles=600)
    assert [layer.ram_style for layer in folded.mvtus()] == ["auto", "block", "auto"]
    styled = Workspace.create(load_spec(path), out, say=lambda message: None)
    spec["model"]["layers"][1].pop("ram_style")
    path.write_text(yaml.safe_dump(spec))
    unstyled = Workspace.create(load_spec(path), out, say=lambda message: None)
    assert styled.train_key == unstyled.train_key
    assert styled.ir_key != unstyled.ir_key


def test_placer_and_seed_are_the_bitstreams_alone(tmp_path):
    """Another placer or placement seed rebuilds the bitstream but keeps the sized FIFOs and
    the verification."""
    from hwgen.flow import Workspace
    from hwgen.spec import load_spec
    spec = yaml.safe_load(EXAMPLE.read_text())
    keys = []
    for placer, seed in (("heap", 1), ("static", 1), ("static", 2)):
        spec["hardware"] = {"target_cycles": 600, "placer": placer, "seed": seed}
        path = tmp_path / f"{placer}{seed}.yaml"
        path.write_text(yaml.safe_dump(spec))
        workspace = Workspace.create(load_spec(path), tmp_path, say=lambda message: None)
        keys.append(workspace.hardware_key)
        assert (workspace.spec.hardware.placer, workspace.spec.hardware.seed) == (placer, seed)
    assert keys[0] == keys[1] == keys[2]


def test_build_places_with_the_specs_placer_and_seed(tmp_path, monkeypatch):
    """``hardware.placer`` and ``hardware.seed`` reach nextpnr (``build_bitstream``), and
    another seed rebuilds a bitstream the same seed reuses."""
    import numpy as np

    import hwgen.board.build as board_build
    from hwgen.board.board import load_board
    from hwgen.flow import Workspace
    from hwgen.spec import load_spec
    from tests.conftest import digits_cnn_chain

    calls = []

    class Report:
        def to_dict(self):
            return {"fmax_mhz": 100.0, "clock_mhz": 25.0, "met_timing": True}

    def fake_build(top, board, out_dir, *, name, placer, seed, progress, cancel):
        calls.append((placer, seed))
        (Path(out_dir) / f"{name}.bit").write_bytes(b"bit")
        return Report()

    monkeypatch.setattr(board_build, "build_bitstream", fake_build)
    graph = digits_cnn_chain(np.random.default_rng(0))
    board = load_board("ulx3s")
    spec = yaml.safe_load(EXAMPLE.read_text())
    for seed in (7, 7, 8):
        spec["hardware"] = {"placer": "static", "seed": seed}
        path = tmp_path / "spec.yaml"
        path.write_text(yaml.safe_dump(spec))
        workspace = Workspace.create(load_spec(path), tmp_path / "out", say=lambda message: None)
        summary = workspace.build(graph, board)
        assert summary["met_timing"] and (tmp_path / "out" / "gateware" / "top.bit").is_file()
    assert calls == [("static", 7), ("static", 8)]


def test_another_seed_keeps_its_own_default_folder(tmp_path, monkeypatch):
    """``--seed`` other than the spec's: build/<name>-seed<N>, so a second seed does not
    replace the first one's checkpoint; the spec's own seed keeps build/<name>."""
    from hwgen.flow import Workspace
    from hwgen.spec import load_spec
    monkeypatch.chdir(tmp_path)
    spec = load_spec(REPO / "examples" / "digits_mlp.yaml")
    quiet = dict(say=lambda message: None)
    assert Workspace.create(spec, **quiet).root == tmp_path / "build" / "digits_mlp"
    assert Workspace.create(spec, seed=spec.seed, **quiet).root == \
        tmp_path / "build" / "digits_mlp"
    other = Workspace.create(spec, seed=spec.seed + 3, **quiet)
    assert other.root == tmp_path / "build" / f"digits_mlp-seed{spec.seed + 3}"
    assert other.spec.seed == spec.seed + 3
    assert Workspace.create(spec, tmp_path / "mine", seed=7, **quiet).root == tmp_path / "mine"
