"""Hostile and broken files: a crafted checkpoint never runs code, a damaged or edited file in
the output folder is said to be damaged and made again (never reused, never a traceback), a
crafted IR header is one line before anything is allocated, hwgen writes only under its output
folder, with the user's umask, and an --out naming a file is refused before anything runs."""
import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from hwgen.cli import main
from hwgen.errors import HwgenError
from hwgen.flow import Workspace, read_checkpoint, read_summary
from hwgen.ir import load_ir, save_ir
from hwgen.spec import load_spec
from tests.conftest import mlp_spec_file as _spec_file

REPO = Path(__file__).resolve().parents[2]
KWS = REPO / "examples" / "kws.yaml"


class RunsCode:
    """Pickles as a call of ``os.system(command)``: what a crafted checkpoint runs on load."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def _crafted(path: Path, marker: Path, base: dict | None = None):
    """A checkpoint at ``path`` whose ``key`` (and, with ``base``, an entry added to that
    checkpoint) would create ``marker`` when unpickled."""
    saved = dict(base) if base is not None else {"key": None, "metrics": {}, "state_dict": {}}
    saved["extra" if base is not None else "key"] = RunsCode(f"touch {marker}")
    torch.save(saved, path)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """An output folder as ``hwgen export`` leaves it for the 1-epoch MLP."""
    tmp_path = tmp_path_factory.mktemp("made")
    out = tmp_path / "out"
    assert main(["export", str(_spec_file(tmp_path)), "--out", str(out)]) == 0
    return out


def _error_line(capsys) -> str:
    """stderr's last line, which must be hwgen's one-line error."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("hwgen: error: ")
    return line


def test_the_crafted_checkpoint_runs_code_when_unpickled(tmp_path):
    """The fixture is a real attack: without weights_only it runs its command."""
    marker = tmp_path / "PWNED"
    _crafted(tmp_path / "evil.pt", marker)
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


def test_crafted_checkpoint_in_the_output_folder_is_made_again(tmp_path, made, capsys):
    marker = tmp_path / "PWNED"
    spec_file = _spec_file(tmp_path)
    out = tmp_path / "out"
    shutil.copytree(made, out)
    _crafted(out / "checkpoint.pt", marker)
    assert main(["train", str(spec_file), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{out / 'checkpoint.pt'} damaged (not a usable checkpoint: it holds what a " \
           f"weights-only load refuses (" in err and "posix.system" in err
    assert "making it again" in err
    assert "training on digits" in err and "Traceback" not in err
    assert not marker.exists()
    assert read_checkpoint(out / "checkpoint.pt")["key"] == \
        Workspace.create(load_spec(spec_file), out).train_key


def test_crafted_shipped_checkpoint_is_made_again(tmp_path, made, capsys):
    marker = tmp_path / "PWNED"
    spec_file = _spec_file(tmp_path, prebuilt="ship")
    (tmp_path / "ship").mkdir()
    _crafted(tmp_path / "ship" / "checkpoint.pt", marker,
             base=torch.load(made / "checkpoint.pt", weights_only=True))
    out = tmp_path / "out"
    assert main(["export", str(spec_file), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"shipped checkpoint {tmp_path / 'ship' / 'checkpoint.pt'} damaged (" in err
    assert "training on digits" in err and not marker.exists()
    assert sorted(p.name for p in (tmp_path / "ship").iterdir()) == ["checkpoint.pt"]


def test_crafted_pinned_checkpoint_is_one_line(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    _crafted(tmp_path / "ckpt.pt", marker)
    spec_file = _spec_file(tmp_path, checkpoint="ckpt.pt")
    out = tmp_path / "out"
    assert main(["export", str(spec_file), "--out", str(out)]) == 2
    line = _error_line(capsys)
    assert line.startswith(f"hwgen: error: {spec_file}: train.checkpoint: "
                           f"{tmp_path / 'ckpt.pt'} damaged (not a usable checkpoint: it holds")
    assert not marker.exists() and not out.exists()


def test_missing_pinned_checkpoint_is_bad_input(tmp_path, capsys):
    spec_file = _spec_file(tmp_path, checkpoint="nowhere.pt")
    out = tmp_path / "out"
    assert main(["export", str(spec_file), "--out", str(out)]) == 2
    assert _error_line(capsys) == (f"hwgen: error: {spec_file}: train.checkpoint: no such file "
                                   f"{tmp_path / 'nowhere.pt'}")
    assert not out.exists()


def _kws_copy(tmp_path) -> Path:
    """examples/kws.yaml and its shipped folder, copied (without the IR, so that the checkpoint
    is what export reads)."""
    shutil.copy(KWS, tmp_path / "kws.yaml")
    (tmp_path / "kws").mkdir()
    shutil.copy(KWS.parent / "kws" / "checkpoint.pt", tmp_path / "kws" / "checkpoint.pt")
    return tmp_path / "kws.yaml"


def _no_training(monkeypatch):
    """Training (the data) raises ``Retrained`` instead of running for hours."""
    class Retrained(Exception):
        pass

    def load_dataset(*args, **kwargs):
        raise Retrained
    monkeypatch.setattr("hwgen.data.load_dataset", load_dataset)
    return Retrained


def test_shipped_kws_checkpoint_loads_as_weights_and_matches_its_spec(tmp_path, monkeypatch):
    spec_file = _kws_copy(tmp_path)
    said = []
    workspace = Workspace.create(load_spec(spec_file), tmp_path / "out", say=said.append)
    saved = read_checkpoint(REPO / "examples" / "kws" / "checkpoint.pt")   # weights_only
    assert saved["key"] == workspace.train_key
    _no_training(monkeypatch)
    assert workspace.train() == saved["metrics"]
    assert said == [f"reusing shipped checkpoint {tmp_path / 'kws' / 'checkpoint.pt'}"]


def test_kws_copy_with_a_pickled_entry_is_not_reused(tmp_path, monkeypatch):
    marker = tmp_path / "PWNED"
    spec_file = _kws_copy(tmp_path)
    shipped = tmp_path / "kws" / "checkpoint.pt"
    _crafted(shipped, marker, base=torch.load(shipped, weights_only=True))
    said = []
    workspace = Workspace.create(load_spec(spec_file), tmp_path / "out", say=said.append)
    retrained = _no_training(monkeypatch)
    with pytest.raises(retrained):
        workspace.train()
    assert not marker.exists()
    assert len(said) == 1 and said[0].startswith(f"shipped checkpoint {shipped} damaged (")
    assert "posix.system" in said[0] and said[0].endswith(": making it")


# --- damaged files in the output folder -------------------------------------------------

def _damage(path: Path, how: str):
    data = path.read_bytes()
    if how == "truncated":
        data = data[:len(data) // 2]
    elif how == "flipped":
        middle = len(data) // 2
        data = data[:middle] + bytes([data[middle] ^ 0x55]) + data[middle + 1:]
    elif how == "garbage":
        data = b"\x00garbage\xff" * 100
    else:
        data = b""
    path.write_bytes(data)


DAMAGE = ("truncated", "flipped", "garbage", "empty")


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_checkpoint_is_made_again(tmp_path, made, capsys, how):
    spec_file = _spec_file(tmp_path)
    out = tmp_path / "out"
    shutil.copytree(made, out)
    _damage(out / "checkpoint.pt", how)
    assert main(["train", str(spec_file), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{out / 'checkpoint.pt'} damaged (" in err and "making it again" in err
    assert "training on digits" in err and "Traceback" not in err
    read_checkpoint(out / "checkpoint.pt")
    assert main(["train", str(spec_file), "--out", str(out)]) == 0        # and now reused
    assert "reusing checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("how", DAMAGE + ("edited",))
def test_damaged_ir_is_exported_again(tmp_path, made, capsys, how):
    spec_file = _spec_file(tmp_path)
    out = tmp_path / "out"
    shutil.copytree(made, out)
    if how == "edited":           # a valid file whose content no longer matches its digest
        _rewrite_header(out / "model.ir.npz", lambda header: header["meta"].update(
            golden_accuracy=1.0))
    else:
        _damage(out / "model.ir.npz", how)
    assert main(["export", str(spec_file), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{out / 'model.ir.npz'} damaged (" in err and "making it again" in err
    assert "exported IR" in err and "training" not in err and "Traceback" not in err
    assert load_ir(out / "model.ir.npz", digest_required=True).meta["golden_accuracy"] < 1


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_hardware_ir_is_made_again(tmp_path, made, how):
    spec_file = _spec_file(tmp_path)
    out = tmp_path / "out"
    shutil.copytree(made, out)
    said = []
    workspace = Workspace.create(load_spec(spec_file), out, say=said.append)
    graph = workspace.hardware(workspace.export())
    _damage(out / "hardware.ir.npz", how)
    said.clear()
    again = workspace.hardware(workspace.export())
    assert f"{out / 'hardware.ir.npz'} damaged (" in said[1] and "making it again" in said[1]
    assert again.fifo_depths == graph.fifo_depths
    load_ir(out / "hardware.ir.npz", digest_required=True)


class FakeVerification:
    """What verify_network returns, for a network that matches golden."""
    mismatches = label_mismatches = logit_mismatches = 0
    stress_passed = True
    frames, measured_cycles, expected_cycles = 20, 64.0, 64

    def to_dict(self):
        return {"frames": self.frames, "mismatches": 0, "rtl_accuracy": 0.5,
                "measured_cycles": self.measured_cycles, "cycles_ratio": 1.0,
                "stress_passed": True}


def _edit_mismatches(path: Path):
    summary = json.loads(path.read_text())
    summary["mismatches"] = 7
    path.write_text(json.dumps(summary, indent=2))


@pytest.mark.parametrize("how", DAMAGE + ("edited",))
def test_damaged_verification_is_made_again(tmp_path, made, monkeypatch, how):
    runs = []

    def verify_network(graph, **kwargs):
        runs.append(graph)
        return FakeVerification()
    monkeypatch.setattr("hwgen.verify.verify_network", verify_network)
    out = tmp_path / "out"
    shutil.copytree(made, out)
    said = []
    workspace = Workspace.create(load_spec(_spec_file(tmp_path)), out, say=said.append)
    graph = workspace.hardware(workspace.export())
    workspace.verify(graph)
    assert read_summary(out / "verify.json")["mismatches"] == 0
    workspace.verify(graph)
    assert len(runs) == 1 and said[-1] == f"reusing verification {out / 'verify.json'}"
    _edit_mismatches(out / "verify.json") if how == "edited" else \
        _damage(out / "verify.json", how)
    summary = workspace.verify(graph)
    assert len(runs) == 2 and summary["mismatches"] == 0
    assert any(line.startswith(f"{out / 'verify.json'} damaged (") for line in said)
    assert read_summary(out / "verify.json")["mismatches"] == 0


@pytest.mark.parametrize("how", DAMAGE + ("edited", "bitstream", "elsewhere"))
def test_damaged_build_is_made_again(tmp_path, monkeypatch, how):
    import hwgen.board.build as board_build
    from hwgen.board.board import load_board
    from tests.conftest import digits_cnn_chain
    builds = []

    class Report:
        def to_dict(self):
            return {"fmax_mhz": 100.0, "clock_mhz": 25.0, "met_timing": True}

    def build_bitstream(top, board, out_dir, *, name, placer, seed, progress, cancel):
        builds.append(out_dir)
        (Path(out_dir) / f"{name}.bit").write_bytes(b"bitstream")
        return Report()
    monkeypatch.setattr(board_build, "build_bitstream", build_bitstream)
    graph = digits_cnn_chain(np.random.default_rng(0))
    said = []
    out = tmp_path / "out"
    workspace = Workspace.create(load_spec(_spec_file(tmp_path)), out, say=said.append)
    board = load_board("ulx3s")
    workspace.build(graph, board)
    workspace.build(graph, board)
    assert len(builds) == 1 and said[-1].startswith("reusing bitstream")
    gateware = out / "gateware"
    if how == "bitstream":
        _damage(gateware / "top.bit", "flipped")
    elif how == "edited":
        summary = json.loads((gateware / "build.json").read_text())
        summary["met_timing"] = not summary["met_timing"]
        (gateware / "build.json").write_text(json.dumps(summary))
    elif how == "elsewhere":        # a crafted, self-consistent build.json naming a file outside
        from hwgen.flow.cache import summary_json
        outside = tmp_path / "outside.bit"
        outside.write_bytes(b"not ours")
        summary = read_summary(gateware / "build.json")
        summary.update(bitstream="../../outside.bit",
                       bitstream_sha256=hashlib.sha256(b"not ours").hexdigest())
        (gateware / "build.json").write_bytes(summary_json(summary))
    else:
        _damage(gateware / "build.json", how)
    assert workspace.build(graph, board)["met_timing"]
    damaged = gateware / ("top.bit" if how == "bitstream" else "build.json")
    assert len(builds) == 2 and any(line.startswith(f"{damaged} damaged (") for line in said)
    if how == "elsewhere":
        assert any("its bitstream '../../outside.bit' is none hwgen writes" in line
                   for line in said)
    assert read_summary(gateware / "build.json")["met_timing"]


# --- crafted IR headers ---------------------------------------------------------------------

def _rewrite_header(path: Path, change):
    """Rewrite the header of the IR file ``path`` with ``change`` (its digest left as it was)."""
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files}
    header = json.loads(arrays["__ir__"].tobytes())
    header = change(header) or header
    arrays["__ir__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez_compressed(path, **arrays)


CRAFTED = {
    "a list for the mapping": (lambda header: [header], "the IR header is a list"),
    "no layers": (lambda header: header.pop("layers") and None, "IR field 'layers' missing"),
    "an unknown field": (lambda header: header.update(extra=1), "unknown IR field 'extra'"),
    "an unknown layer field": (lambda header: header["layers"][0].update(colour="red"),
                               "layer 0 has unknown field 'colour'"),
    "mw 10^9": (lambda header: header["layers"][0].update(mw=10 ** 9),
                "1,000,000,000 weights, more than the 1,073,741,824 bits"),
    "mh 10^9": (lambda header: header["layers"][0].update(mh=10 ** 9),
                "1,000,000,000 x 64 weights"),
    "a string mw": (lambda header: header["layers"][0].update(mw="64"),
                    "mw and mh must be positive integers"),
    "non-dict meta": (lambda header: header.update(meta=[1, 2]), "meta must be a mapping"),
    "a layer that is a number": (lambda header: header["layers"].__setitem__(1, 5),
                                 "layer 1 is a int, not a mapping"),
    "a huge input": (lambda header: header.update(input_shape=[10 ** 6, 10 ** 6, 1]),
                     "input frames of 1,000,000,000,000 elements"),
    "a huge fifo": (lambda header: header.update(fifo_depths=[10 ** 12, 1]),
                    "fifo_depths must be a list of integers in 1..1,048,576"),
    "a macro of many cells": (lambda header: header["layers"][0].update(
        macro={"rows": 10 ** 6, "columns": 10 ** 6}), "a macro of 1,000,000 x 1,000,000 cells"),
    "a macro whose wordlines pad a narrow layer to a huge one": (
        lambda header: header["layers"][0].update(
            mw=1, mh=10 ** 5, macro={"rows": 10 ** 5, "columns": 1, "wordlines": 10 ** 5}),
        "100,000 x 100,000 weights, more than the 1,073,741,824 bits"),
    "bad macro fields": (lambda header: header["layers"][0].update(macro={"banana": 1}),
                         "layer 0: MacroSpec.__init__() got an unexpected keyword"),
    "a meta key of another type": (lambda header: header["meta"].update(key=5),
                                   "meta.key is a int"),
}


@pytest.mark.parametrize("name", CRAFTED)
def test_crafted_ir_header_is_one_line(tmp_path, made, name):
    change, expected = CRAFTED[name]
    path = tmp_path / "model.ir.npz"
    shutil.copy(made / "model.ir.npz", path)
    _rewrite_header(path, change)
    with pytest.raises(HwgenError) as error:
        load_ir(path)
    assert "\n" not in str(error.value) and str(error.value).startswith(f"{path}: ")
    assert expected in str(error.value)


def test_crafted_array_header_is_refused_before_allocating(tmp_path):
    """An array whose .npy header claims 10^12 elements (a few bytes in the file)."""
    import io
    import zipfile
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (10 ** 12,)})
    path = tmp_path / "model.ir.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__ir__.npy", header.getvalue() + b"\0" * 16)
    with pytest.raises(HwgenError, match=r"would take 1,000,000,000,000 bytes, more than the "
                                         r"268,435,456"):
        load_ir(path)


def test_pickled_array_in_an_ir_is_refused(tmp_path):
    path = tmp_path / "model.ir.npz"
    np.savez(path, __ir__=np.array([RunsCode(f"touch {tmp_path / 'PWNED'}")], dtype=object))
    with pytest.raises(HwgenError, match="holds object, not integers"):
        load_ir(path)
    assert not (tmp_path / "PWNED").exists()


def test_crafted_ir_in_the_output_folder_is_exported_again(tmp_path, made, capsys):
    spec_file = _spec_file(tmp_path)
    out = tmp_path / "out"
    shutil.copytree(made, out)
    _rewrite_header(out / "model.ir.npz", CRAFTED["mw 10^9"][0])
    assert main(["export", str(spec_file), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{out / 'model.ir.npz'} damaged (layer 0: 64 x 1,000,000,000 weights" in err
    assert "exported IR" in err


def test_ir_without_digest_is_read_but_not_reused_from_the_output_folder(tmp_path, made):
    path = tmp_path / "old.ir.npz"
    with np.load(made / "model.ir.npz") as npz:
        np.savez_compressed(path, **{key: npz[key] for key in npz.files if key != "__digest__"})
    assert len(load_ir(path).layers) == 3                  # e.g. a shipped IR of an older hwgen
    with pytest.raises(HwgenError, match="no digest"):
        load_ir(path, digest_required=True)


def test_ir_round_trip_keeps_its_digest(tmp_path, made):
    graph = load_ir(made / "model.ir.npz", digest_required=True)
    save_ir(graph, tmp_path / "again.ir.npz")
    assert load_ir(tmp_path / "again.ir.npz", digest_required=True).meta == graph.meta


# --- writing only under --out, with the user's umask ----------------------------------------

def test_force_with_a_pinned_checkpoint_is_refused_and_writes_nothing(tmp_path, made, capsys):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copy(made / "checkpoint.pt", shipped / "ckpt.pt")
    before = (shipped / "ckpt.pt").read_bytes()
    spec_file = _spec_file(tmp_path / "specs", checkpoint="../shipped/ckpt.pt")
    out = tmp_path / "out"
    assert main(["train", str(spec_file), "--out", str(out), "--force"]) == 2
    line = _error_line(capsys)
    assert line.startswith(f"hwgen: error: {spec_file}: train.checkpoint: pins "
                           f"{shipped / 'ckpt.pt'}, used instead of training")
    assert (shipped / "ckpt.pt").read_bytes() == before and not out.exists()
    assert main(["export", str(spec_file), "--out", str(out)]) == 0     # used, not written
    assert (shipped / "ckpt.pt").read_bytes() == before
    assert sorted(p.name for p in shipped.iterdir()) == ["ckpt.pt"]
    assert sorted(p.name for p in out.iterdir()) == ["model.ir.npz"]


def test_out_naming_a_file_is_refused_before_training(tmp_path, monkeypatch, capsys):
    retrained = _no_training(monkeypatch)
    spec_file = _spec_file(tmp_path)
    (tmp_path / "taken").write_text("mine")
    for out in (tmp_path / "taken", tmp_path / "taken" / "below"):
        try:
            assert main(["train", str(spec_file), "--out", str(out)]) == 2
        except retrained:
            pytest.fail("training ran")
        line = _error_line(capsys)
        assert line.startswith(f"hwgen: error: --out: {out} ") and "a file, not a folder" in line
    assert (tmp_path / "taken").read_text() == "mine"


def test_out_naming_the_shipped_folder_is_refused(tmp_path, made, capsys):
    shutil.copytree(made, tmp_path / "ship")
    spec_file = _spec_file(tmp_path, prebuilt="ship")
    assert main(["export", str(spec_file), "--out", str(tmp_path / "ship")]) == 2
    assert "is the spec's train.prebuilt folder" in _error_line(capsys)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_files_get_the_users_umask(tmp_path, made, monkeypatch, umask):
    import hwgen.board.build as board_build
    from hwgen.board.board import load_board
    from tests.conftest import digits_cnn_chain

    class Report:
        def to_dict(self):
            return {"fmax_mhz": 100.0, "clock_mhz": 25.0, "met_timing": True}

    def build_bitstream(top, board, out_dir, *, name, placer, seed, progress, cancel):
        (Path(out_dir) / f"{name}.bit").write_bytes(b"bitstream")
        return Report()
    monkeypatch.setattr(board_build, "build_bitstream", build_bitstream)
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(made / "checkpoint.pt", out / "checkpoint.pt")
    previous = os.umask(umask)
    try:
        workspace = Workspace.create(load_spec(_spec_file(tmp_path)), out, say=lambda m: None)
        workspace.hardware(workspace.export())
        workspace.build(digits_cnn_chain(np.random.default_rng(0)), load_board("ulx3s"))
    finally:
        os.umask(previous)
    for name in ("model.ir.npz", "hardware.ir.npz", "gateware/build.json", "gateware/top.bit"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o666 & ~umask, name
    assert stat.S_IMODE((out / "gateware").stat().st_mode) == 0o777 & ~umask


@pytest.mark.parametrize("how", DAMAGE + ("edited", "no json"))
def test_damaged_report_is_one_line(tmp_path, made, capsys, how):
    spec_file = _spec_file(tmp_path)
    out = tmp_path / "out"
    workspace = Workspace.create(load_spec(spec_file), out, say=lambda message: None)
    workspace.write_report(load_ir(made / "model.ir.npz"))
    assert main(["report", str(spec_file), "--out", str(out)]) == 0
    assert capsys.readouterr().out == (out / "report.md").read_text()
    if how == "edited":
        (out / "report.md").write_text("# all good\n- accuracy: 1.0000\n")
    elif how == "no json":
        (out / "report.json").unlink()
    else:
        _damage(out / "report.md", how)
    assert main(["report", str(spec_file), "--out", str(out)]) == 1
    line = _error_line(capsys)
    assert line.startswith(f"hwgen: error: {out / 'report.md'} ")
    assert line.endswith("run hwgen sim or build to make it again")


# --- the co-simulation's Verilator builds (sim/ in the output folder) -------------------------

@pytest.mark.parametrize("damage", ["binary cut", "binary flipped", "no stamp", "garbage stamp",
                                    "no binary"])
def test_a_damaged_simulator_build_is_built_again(tmp_path, monkeypatch, damage):
    """A harness binary is reused only while built.ok holds its sha256: one cut short or
    changed (which failed every run until deleted by hand) is built again."""
    from hwgen import harness
    builds = []

    def verilator(command, *, cwd, **_):
        builds.append(cwd)
        (Path(cwd) / "obj").mkdir(exist_ok=True)
        (Path(cwd) / "obj" / "harness").write_bytes(b"\x7fELF" + bytes(range(256)) * 64)
        return subprocess.CompletedProcess(command, 0)
    monkeypatch.setattr(harness.subprocess, "run", verilator)
    build_dir = tmp_path / "sim" / "harness-0123"
    binary = harness._build("module top; endmodule", "module harness; endmodule", build_dir)
    assert harness._build("module top; endmodule", "module harness; endmodule",
                          build_dir) == binary and len(builds) == 1
    if damage == "binary cut":
        binary.write_bytes(binary.read_bytes()[:100])
    elif damage == "binary flipped":
        _damage(binary, "flipped")
    elif damage == "no stamp":
        (build_dir / "built.ok").unlink()
    elif damage == "garbage stamp":
        (build_dir / "built.ok").write_bytes(b"\xff\xfe garbage")
    else:
        binary.unlink()
    assert harness._build("module top; endmodule", "module harness; endmodule",
                          build_dir) == binary
    assert len(builds) == 2 and binary.read_bytes().startswith(b"\x7fELF")
