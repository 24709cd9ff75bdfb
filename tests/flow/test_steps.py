"""The steps in one place (hwgen.flow.steps.STEPS) and the slices of them a run takes:
``--to`` stops after a step, ``--from`` starts at one, and the products the steps before it
must give are found saved or the run stops in one line saying which step to run first."""
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from hwgen.board.build import Cancelled
from hwgen.cli import main
from hwgen.errors import HwgenError
from hwgen.flow import STEP_NAMES, STEPS, Run, run_steps
from hwgen.target import DEFAULT_TARGET
from tests.conftest import mlp_spec_file as _spec_file

REPO = Path(__file__).resolve().parents[2]


def test_the_steps_in_order_and_in_the_help():
    assert STEP_NAMES == ("train", "export", "hardware", "verify", "build", "report")
    for command, names in (("build", STEP_NAMES),
                           ("sim", tuple(name for name in STEP_NAMES if name != "build"))):
        result = subprocess.run([sys.executable, "-m", "hwgen", command, "--help"],
                                capture_output=True, text=True, check=True)
        listed = result.stdout.split("steps, in order:\n")[1].splitlines()
        assert [line.split()[0] for line in listed] == list(names)
        summaries = {step.name: step.summary for step in STEPS}
        assert all(line.split(None, 1)[1] == summaries[line.split()[0]] for line in listed)


class Recorder:
    """A workspace whose steps record their calls and give their names as products; export
    and hardware ask for their inputs where they make their products."""
    def __init__(self, make_export=True, make_hardware=True):
        self.calls, self.make_export, self.make_hardware = [], make_export, make_hardware
        self.found_only, self.found_only_reason = frozenset(), ""
        self.targets, self.devices = [], []

    def _call(self, name, *inputs):
        self.calls.append((name, name in self.found_only, *inputs))
        return name

    def train(self, *, force):
        return self._call("train")

    def export(self, *, force, train):
        return self._call("export", train() if self.make_export else None)

    def hardware(self, graph, *, clock_hz, target, device, force):
        self.targets.append(("hardware", target))
        self.devices.append(device)
        return self._call("hardware", graph() if self.make_hardware else None)

    def verify(self, graph, *, frames, trace, target, force):
        self.targets.append(("verify", target))
        return self._call("verify", graph)

    def build(self, graph, board, *, force, cancel):
        return self._call("build", graph)

    def write_report(self, graph, *, verification, build, target):
        self.targets.append(("report", target))
        return self._call("report", graph, verification, build)


def test_run_steps_follows_the_list():
    workspace = Recorder()
    run = run_steps(workspace, board=SimpleNamespace(target="the board's family",
                                                     device="the board's part"))
    # verify and build run side by side (either may call first)
    called = [call[0] for call in workspace.calls]
    assert called[:3] == list(STEP_NAMES[:3]) and called[-1] == "report"
    assert sorted(called[3:5]) == ["build", "verify"]
    assert run.results == {name: name for name in STEP_NAMES}
    assert workspace.calls[-1] == ("report", False, "hardware", "verify", "build")
    assert workspace.found_only == frozenset()           # restored after the run
    # The blocks are built, priced and reported for the board's FPGA family ...
    assert workspace.targets == [(step, "the board's family")
                                 for step in ("hardware", "verify", "report")]
    assert workspace.devices == ["the board's part"]     # what the folding must fit
    # ... and for the default family where no board is known (no device to fit).
    workspace = Recorder()
    run_steps(workspace, skip={"build"})
    assert {target for _, target in workspace.targets} == {DEFAULT_TARGET}
    assert workspace.devices == [None]


class SideBySide(Recorder):
    """A Recorder whose verify and build each wait for the other to start: they finish only
    if they run at the same time. ``fail``: verify fails once both have started, and the
    build then waits for its cancel."""
    def __init__(self, fail=False):
        super().__init__()
        self.fail, self.started = fail, {"verify": threading.Event(), "build": threading.Event()}
        self.threads, self.cancelled = {}, None

    def _meet(self, name, other):
        self.threads[name] = threading.current_thread().name
        self.started[name].set()
        assert self.started[other].wait(timeout=20), f"{other} did not start beside {name}"

    def verify(self, graph, *, frames, trace, target, force):
        self._meet("verify", "build")
        if self.fail:
            raise HwgenError("RTL != golden")
        return super().verify(graph, frames=frames, trace=trace, target=target, force=force)

    def build(self, graph, board, *, force, cancel):
        self._meet("build", "verify")
        if self.fail:
            self.cancelled = cancel.wait(timeout=20)
            raise Cancelled("nextpnr-ecp5 stopped: another step failed")
        return super().build(graph, board, force=force, cancel=cancel)


def test_verify_and_build_run_side_by_side():
    board = SimpleNamespace(target="the board's family", device="the board's part")
    workspace = SideBySide()
    run = run_steps(workspace, board=board)
    assert run.results == {name: name for name in STEP_NAMES}
    assert workspace.threads["verify"] != workspace.threads["build"]
    assert workspace.calls[-1] == ("report", False, "hardware", "verify", "build")
    assert set(run.seconds) == set(STEP_NAMES)
    # A failing verify cancels the build; the run raises verify's error, not the cancel.
    workspace = SideBySide(fail=True)
    with pytest.raises(HwgenError, match=r"^RTL != golden$"):
        run_steps(workspace, board=board)
    assert workspace.cancelled is True
    assert [call[0] for call in workspace.calls] == ["train", "export", "hardware"]


def test_each_step_needs_only_what_it_asks_for():
    """A step's ``needs`` names every product it asks for: the Recorder's steps ask for
    those of the steps before them, one at a time, and a step that runs beside another
    could not find a product that is not made yet."""
    asked = {}

    class Asking(Run):
        current = None

        def product(self, name):
            asked.setdefault(self.current, set()).add(name)
            return super().product(name)

        def _run_step(self, name):
            outer, Asking.current = Asking.current, name
            try:
                return super()._run_step(name)
            finally:
                Asking.current = outer
    import hwgen.flow.steps as steps_module
    original = steps_module.Run
    steps_module.Run = Asking
    try:
        run_steps(Recorder(), board=SimpleNamespace(target="t", device="d"))
    finally:
        steps_module.Run = original
    for step in STEPS:
        assert asked.get(step.name, set()) <= set(step.needs), step.name


def test_the_checkpoint_is_needed_only_to_export():
    workspace = Recorder(make_export=False)               # the IR is saved (or shipped)
    run_steps(workspace, stop="export")
    assert workspace.calls == [("export", False, None)]
    workspace = Recorder()
    run_steps(workspace, stop="hardware")
    assert workspace.calls == [("train", False), ("export", False, "train"),
                               ("hardware", False, "export")]
    workspace = Recorder(make_export=False)
    run_steps(workspace, stop="train")                    # the last step runs
    assert workspace.calls == [("train", False)]


def test_a_slice_finds_only_what_it_needs_before_from():
    workspace = Recorder(make_hardware=False)             # the hardware IR is reused
    run_steps(workspace, start="hardware", stop="verify")
    assert workspace.calls == [("hardware", False, None), ("verify", False, "hardware")]
    workspace = Recorder()                                # made: it asks for the IR
    run_steps(workspace, start="hardware", stop="hardware")
    assert workspace.calls == [("train", True), ("export", True, "train"),
                               ("hardware", False, "export")]
    workspace = Recorder(make_export=False)
    run = run_steps(workspace, start="report", skip={"build"})
    assert workspace.calls == [("export", True, None), ("hardware", True, "export"),
                               ("verify", True, "hardware"),
                               ("report", False, "hardware", "verify", None)]
    assert run.results["build"] is None


# --- through the CLI, on the 1-epoch MLP (co-simulation and bitstream faked) ---------------

class FakeVerification:
    mismatches = label_mismatches = logit_mismatches = 0
    stress_passed = True
    frames, measured_cycles, expected_cycles = 20, 64.0, 64

    def to_dict(self):
        return {"frames": self.frames, "mismatches": 0, "rtl_accuracy": 0.5,
                "measured_cycles": self.measured_cycles, "cycles_ratio": 1.0,
                "stress_passed": True}


@pytest.fixture
def fakes(monkeypatch):
    """The co-simulation and the bitstream build, faked; their runs counted."""
    import hwgen.board.build as fpga_flow
    runs = []

    class Report:
        def to_dict(self):
            return {"fmax_mhz": 100.0, "clock_mhz": 25.0, "met_timing": True, "luts": 1,
                    "ffs": 1, "brams": 0, "dsps": 0}

    def build_bitstream(top, board, out_dir, *, name, placer, seed, progress, cancel):
        runs.append("build")
        (Path(out_dir) / f"{name}.bit").write_bytes(b"bitstream")
        return Report()

    def verify_network(graph, **options):
        runs.append("verify")
        return FakeVerification()
    monkeypatch.setattr(fpga_flow, "build_bitstream", build_bitstream)
    monkeypatch.setattr("hwgen.verify.verify_network", verify_network)
    return runs


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An output folder after ``hwgen build --to export``, and what that printed."""
    tmp_path = tmp_path_factory.mktemp("exported")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "hwgen", "build", "--to", "export",
                             str(_spec_file(tmp_path)), "--out", str(out)],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def _copy(exported, tmp_path) -> tuple[Path, Path]:
    out = tmp_path / "out"
    shutil.copytree(exported[0], out)
    return _spec_file(tmp_path), out


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_to_export_stops_after_export(exported):
    out, printed = exported
    assert printed == f"{out / 'model.ir.npz'}\n"
    assert sorted(path.name for path in out.iterdir()) == ["checkpoint.pt", "model.ir.npz"]


def test_from_a_step_whose_inputs_are_missing_says_what_to_run(tmp_path, capsys):
    spec_file, out = _spec_file(tmp_path), tmp_path / "out"
    assert main(["build", "--from", "hardware", str(spec_file), "--out", str(out)]) == 1
    assert _error_line(capsys) == (
        f"hwgen: error: --from hardware: IR {out / 'model.ir.npz'} is missing; run the steps "
        f"up to export first (--to export)")
    assert not out.exists()
    assert main(["sim", "--from", "report", str(spec_file), "--out", str(out)]) == 1
    assert _error_line(capsys) == (
        f"hwgen: error: --from report: hardware IR {out / 'hardware.ir.npz'} is missing; run "
        f"the steps up to hardware first (--to hardware)")


def test_slices_run_one_after_another(exported, tmp_path, capsys, fakes):
    spec_file, out = _copy(exported, tmp_path)
    arguments = [str(spec_file), "--out", str(out)]
    assert main(["sim", "--from", "hardware", "--to", "hardware", *arguments]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{out / 'hardware.ir.npz'}\n"
    assert f"reusing IR {out / 'model.ir.npz'}" in captured.err
    assert "training" not in captured.err and "exported" not in captured.err
    assert not (out / "verify.json").exists()

    assert main(["build", "--from", "verify", "--to", "verify", *arguments]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["mismatches"] == 0 and fakes == ["verify"]
    assert f"reusing hardware IR {out / 'hardware.ir.npz'}" in captured.err
    assert "reusing IR" not in captured.err          # not needed: the hardware IR was saved

    assert main(["build", "--from", "build", *arguments]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# hwgen report: digits_mlp") and fakes == ["verify", "build"]
    assert f"reusing verification {out / 'verify.json'}" in captured.err
    assert "bitstream: " in captured.err.splitlines()[-1]

    for _ in range(2):
        assert main(["build", "--from", "report", *arguments]) == 0
    captured = capsys.readouterr()
    assert captured.err.count(f"reusing report {out / 'report.json'}") == 1
    assert fakes == ["verify", "build"]
    assert main(["report", *arguments]) == 0
    assert capsys.readouterr().out == (out / "report.md").read_text()


def test_a_build_that_misses_its_clock_reports_then_fails(exported, tmp_path, capsys,
                                                        monkeypatch):
    """A bitstream whose Fmax is below the board's clock: the report is written (saying so),
    then the run fails in one line (a real nextpnr run at such a clock:
    tests/board/test_build.py)."""
    import hwgen.board.build as fpga_flow
    spec_file, out = _copy(exported, tmp_path)

    class Report:
        def to_dict(self):
            return {"fmax_mhz": 61.25, "clock_mhz": 390, "met_timing": False, "luts": 1,
                    "ffs": 1, "brams": 0, "dsps": 0}

    def build_bitstream(top, board, out_dir, *, name, placer, seed, progress, cancel):
        (Path(out_dir) / f"{name}.bit").write_bytes(b"bitstream")
        return Report()
    monkeypatch.setattr(fpga_flow, "build_bitstream", build_bitstream)
    assert main(["build", "--no-verify", str(spec_file), "--out", str(out)]) == 1
    assert _error_line(capsys) == (
        f"hwgen: error: timing failed: Fmax 61.2 MHz < requested 390 MHz (lower clock_mhz in "
        f"the board file, or fold the slowest layer less); see {out / 'report.md'}")
    failed = json.loads((out / "report.json").read_text())["build"]
    assert not failed["met_timing"] and failed["clock_mhz"] == 390


def test_from_finds_only_products_made_for_the_spec(exported, tmp_path, capsys, fakes):
    spec_file, out = _copy(exported, tmp_path)
    arguments = ["--out", str(out)]
    assert main(["sim", "--to", "hardware", str(spec_file), *arguments]) == 0
    other = _spec_file(tmp_path / "other", lr=0.02)        # another checkpoint, IR, hardware
    assert main(["sim", "--from", "verify", str(other), *arguments]) == 1
    assert _error_line(capsys) == (
        f"hwgen: error: --from verify: hardware IR {out / 'hardware.ir.npz'} was made from "
        f"other settings; run the steps up to hardware first (--to hardware)")
    assert main(["sim", "--from", "hardware", str(other), *arguments]) == 1
    assert _error_line(capsys) == (
        f"hwgen: error: --from hardware: IR {out / 'model.ir.npz'} was made from other "
        f"settings; run the steps up to export first (--to export)")
    (out / "hardware.ir.npz").write_bytes(b"cut")
    assert main(["sim", "--from", "verify", str(spec_file), *arguments]) == 1
    line = _error_line(capsys)
    assert line.startswith(f"hwgen: error: --from verify: hardware IR "
                           f"{out / 'hardware.ir.npz'} damaged (")
    assert line.endswith("; run the steps up to hardware first (--to hardware)")
    assert fakes == []


def test_a_slice_that_runs_nothing_is_bad_input(tmp_path, capsys):
    spec_file = _spec_file(tmp_path)
    arguments = [str(spec_file), "--out", str(tmp_path / "out")]
    assert main(["build", "--from", "verify", "--to", "hardware", *arguments]) == 2
    assert _error_line(capsys) == "hwgen: error: --from: verify comes after --to hardware " \
        "(allowed: train, export, hardware, verify, build, report)"
    assert main(["build", "--no-verify", "--from", "verify", *arguments]) == 2
    assert _error_line(capsys).startswith("hwgen: error: --from: verify is not run here")
    with pytest.raises(SystemExit):
        main(["sim", "--from", "build", *arguments])
    assert "invalid choice: 'build'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
