"""``hwgen sweep``: a sweep file's points (grid or a seeded random sample, named by their
values), run in parallel with the results streamed into one table; invalid points reported
with their spec error, failed ones recorded without stopping the others, and a sweep run
again resumes (finished points are not rerun)."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hwgen.errors import SpecError
from hwgen.sweep import load_sweep

BASE = Path(__file__).resolve().parents[2] / "examples" / "digits_mlp.yaml"


def _write(folder: Path, **sweep) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump({"base": str(BASE), **sweep}, sort_keys=False))
    return path


def _hwgen(*args, cwd):
    return subprocess.run([sys.executable, "-m", "hwgen", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def test_the_pareto_front():
    from hwgen.sweep import pareto_front
    # (cost, accuracy): 1 dominates 0 (cheaper, as accurate); 3 is dominated by 2.
    points = [(10, 0.8), (8, 0.8), (12, 0.9), (15, 0.85), (20, 0.95)]
    assert pareto_front(points, lower_is_better=True) == [1, 2, 4]
    # Higher is better (inferences/s): the fastest, then the more accurate ones.
    assert pareto_front(points, lower_is_better=False) == [4]
    assert pareto_front([(1, 0.5), (2, 0.9), (3, 0.7)], lower_is_better=False) == [2, 1]


def test_points_grid_and_random(tmp_path):
    sweep = load_sweep(_write(tmp_path, axes={"train.epochs": [1, 2, 3], "seed": [0, 1]}))
    assert [point.values for point in sweep.points][:3] == [
        {"train.epochs": 1, "seed": 0}, {"train.epochs": 1, "seed": 1},
        {"train.epochs": 2, "seed": 0}]
    assert len(sweep.points) == 6 and len({point.name for point in sweep.points}) == 6
    drawn = load_sweep(_write(tmp_path, axes={"train.epochs": [1, 2, 3], "seed": [0, 1]},
                              points={"random": 4, "seed": 7}))
    again = load_sweep(tmp_path / "sweep.yaml")
    assert [p.values for p in drawn.points] == [p.values for p in again.points]
    assert len(drawn.points) == 4 and {p.name for p in drawn.points} <= \
        {p.name for p in sweep.points}               # a point's name is its values'
    # A random draw from a grid too large to list: drawn without listing it.
    huge = load_sweep(_write(tmp_path, axes={f"k{i}": list(range(10)) for i in range(9)},
                             points={"random": 3, "seed": 1}))
    assert len(huge.points) == 3 and all(len(p.values) == 9 for p in huge.points)
    sweep = load_sweep(_write(tmp_path, axes={"train.epochs": [1, 2, 3], "seed": [0, 1]}))
    spec = sweep.spec(sweep.points[3])
    assert (spec.train.epochs, spec.seed, spec.path) == (2, 1, BASE)


@pytest.mark.parametrize("change,message", [
    ({"steps": "bitstream"}, r"steps: unknown step 'bitstream' \(allowed: train, export, sim, "
                             r"build\)"),
    ({"axes": {}}, r"axes: must map spec keys to lists of values"),
    ({"axes": {"seed": 3}}, r"axes\.seed: must be a list of values"),
    ({"base": "nowhere.yaml"}, r"base: no such spec file"),
    ({"points": {"random": 0}}, r"points: must be grid or \{random: N, seed: S\}"),
    ({"axes": {f"k{i}": list(range(10)) for i in range(6)}},
     r"axes: make 1,000,000 points, more than a sweep runs \(allowed: at most 100,000"),
    ({"colour": "red"}, r"colour: unknown key \(allowed: name, base, axes, points, steps, "
                        r"board, metrics\)"),
    ({"metrics": ["joules"]}, r"metrics: unknown metric 'joules' \(allowed: float_accuracy, "),
])
def test_a_bad_sweep_file_is_one_line(tmp_path, change, message):
    path = _write(tmp_path, **{"axes": {"seed": [0]}, **change})
    with pytest.raises(SpecError, match=message) as caught:
        load_sweep(path)
    assert "\n" not in str(caught.value)


def _rows(out: Path) -> list[dict]:
    with open(out / "results.csv") as table:
        return list(csv.DictReader(table))


def test_a_sweep_runs_reports_and_resumes(tmp_path):
    path = _write(tmp_path, axes={"train.epochs": [1, 2], "model.act_bits": [1, 5]},
                  steps="export")
    result = _hwgen("sweep", path, "--out", "out", "--jobs", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "4 points, 0 finished before, 4 to run on 2 processes (export)" in result.stderr
    assert "sweep sweep: 2 ok, 2 invalid, 0 failed" in result.stderr
    rows = _rows(tmp_path / "out")
    assert [(row["train.epochs"], row["model.act_bits"], row["status"]) for row in rows] == [
        ("1", "1", "ok"), ("1", "5", "invalid"), ("2", "1", "ok"), ("2", "5", "invalid")]
    assert all(0 < float(row["golden_accuracy"]) <= 1 for row in rows if row["status"] == "ok")
    assert rows[1]["error"] == (f"{BASE}: model.act_bits: unknown value 5 (allowed: 1, 2, 3, "
                                f"4)")
    assert float(rows[2]["bnn_accuracy"]) > float(rows[0]["bnn_accuracy"])  # 2 epochs > 1
    # The same table in parquet, typed: numbers as numbers, a missing metric null.
    import pyarrow.parquet as pq
    table = pq.read_table(tmp_path / "out" / "results.parquet").to_pylist()
    assert [(r["train.epochs"], r["model.act_bits"], r["status"]) for r in table] == [
        (1, 1, "ok"), (1, 5, "invalid"), (2, 1, "ok"), (2, 5, "invalid")]
    assert table[0]["golden_accuracy"] == float(rows[0]["golden_accuracy"])
    assert table[1]["golden_accuracy"] is None and table[1]["error"] == rows[1]["error"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "4 points over train.epochs, model.act_bits (export): 2 ok, 2 invalid, 0 failed" \
        in report
    assert "## Accuracy vs cycles per frame" in report and "## Accuracy over train.epochs " \
        "and model.act_bits" in report
    for plot in ("pareto_expected_cycles", "heatmap"):
        assert (tmp_path / "out" / "plots" / f"{plot}.png").read_bytes()[:4] == b"\x89PNG"
    # Run again: nothing to run. Lose a finished point (an interruption): only it runs.
    result = _hwgen("sweep", path, "--out", "out", cwd=tmp_path)
    assert "4 points, 4 finished before, 0 to run" in result.stderr
    log = tmp_path / "out" / "results.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:10])     # and a line cut short
    result = _hwgen("sweep", path, "--out", "out", cwd=tmp_path)
    assert "4 points, 3 finished before, 1 to run" in result.stderr
    assert [row["status"] for row in _rows(tmp_path / "out")] == ["ok", "invalid", "ok",
                                                                  "invalid"]


@pytest.mark.cocotb
def test_the_metrics_kept(tmp_path):
    path = _write(tmp_path, axes={"train.epochs": [1]}, steps="export",
                  metrics=["golden_accuracy", "expected_cycles"])
    result = _hwgen("sweep", path, "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    header = (tmp_path / "out" / "results.csv").read_text().splitlines()[0]
    assert header.split(",")[2:] == ["status", "golden_accuracy", "expected_cycles", "error"]


def test_a_failed_point_is_recorded_and_the_others_run(tmp_path):
    """A point whose folding target cannot be met fails in its hardware step; the other
    co-simulates; the table has both, and the command's status says one failed."""
    path = _write(tmp_path, axes={"hardware.target_cycles": [1, 100000]}, steps="sim")
    result = _hwgen("sweep", path, "--out", "out", "--jobs", "2", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    rows = _rows(tmp_path / "out")
    assert [row["status"] for row in rows] == ["failed", "ok"]
    assert "target 1 cycles/frame cannot be met" in rows[0]["error"]
    assert float(rows[1]["rtl_accuracy"]) == float(rows[1]["golden_accuracy"])
    assert rows[1]["rtl_golden_mismatches"] == "0"
    entries = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text()
               .splitlines()]
    assert sorted(entry["status"] for entry in entries) == ["failed", "ok"]
    # Run again: the failed point runs again (it may have been interrupted), the ok one not.
    result = _hwgen("sweep", path, "--out", "out", cwd=tmp_path)
    assert "2 points, 1 finished before, 1 to run" in result.stderr


def test_ray_gives_the_local_table(tmp_path):
    """A local Ray instance (two CPUs) runs the same sweep to the same table as the process
    pool (but for the seconds)."""
    ray = pytest.importorskip("ray")
    from hwgen.sweep import run_sweep
    sweep = load_sweep(_write(tmp_path, axes={"train.epochs": [1, 2], "model.act_bits": [1, 5]},
                              steps="export"))
    local = run_sweep(sweep, tmp_path / "local", jobs=2, say=lambda message: None)
    ray.init(num_cpus=2, log_to_driver=False)
    try:
        remote = run_sweep(sweep, tmp_path / "ray", ray="auto", say=lambda message: None)
    finally:
        ray.shutdown()

    def table(entries):
        return {name: (entry["status"], {key: value for key, value in
                                         entry.get("metrics", {}).items() if key != "seconds"},
                       entry.get("error")) for name, entry in entries.items()}
    assert table(remote) == table(local) and len(local) == 4
    assert (tmp_path / "ray" / "results.csv").read_text().count("\n") == 5


CIM_BASE = BASE.parent / "digits_cim.yaml"


def test_the_report_marks_the_base_point_and_gives_the_spread(tmp_path):
    """The base spec's values of the axes (digits_cim: 4-bit ADC, 16 wordlines, sigma 0.5)
    mark its point; cells give mean ± std over seeds; cheaper configurations at least as
    accurate are listed."""
    from hwgen.sweep.report import write_report
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "base": str(CIM_BASE), "steps": "export",
        "axes": {"cim.adc_bits": [3, 4], "cim.wordlines": [12, 16], "cim.sigma": [0.5],
                 "seed": [0, 1]}}, sort_keys=False))
    sweep = load_sweep(path)
    assert sweep.base_values() == {"cim.adc_bits": 4, "cim.wordlines": 16, "cim.sigma": 0.5,
                                   "seed": 0}

    def metrics(values):
        bits, lines, seed = values["cim.adc_bits"], values["cim.wordlines"], values["seed"]
        # 3 bits and 12 wordlines: as accurate as the base, cheaper
        accuracy = 0.8 + 0.01 * seed - (0.1 if (bits, lines) == (3, 16) else 0.0)
        return {"golden_accuracy": accuracy, "cim_energy_pj": 100.0 * bits + lines}

    entries = {point.name: {"point": point.name, "values": point.values, "status": "ok",
                            "metrics": metrics(point.values)} for point in sweep.points}
    report = write_report(sweep, entries, tmp_path / "out").read_text()
    assert "## The base spec's point (adc_bits=4, wordlines=16, sigma=0.5)" in report
    assert "Accuracy 0.8050 ± 0.0050 (2)" in report
    assert "CIM energy 416 pJ per inference. 2 of 3 other configurations" in report
    assert "| 312 | 0.8050 | adc_bits=3, wordlines=12, sigma=0.5 |" in report
    assert "| 16 | 0.7050 ± 0.0050 (2) | 0.8050 ± 0.0050 (2) |" in report   # wordlines 16 row
    assert "The base spec's cell is boxed in red." in report


def test_a_partial_group_point_is_priced(tmp_path):
    """A point run to export on the macro (12 wordlines on the 64-wide layers: partial last
    groups) gets the cost model's energy and latency."""
    path = _write(tmp_path, axes={"cim.wordlines": [12], "train.epochs": [1]}, steps="export")
    text = yaml.safe_load(path.read_text())
    text["base"] = str(CIM_BASE)
    path.write_text(yaml.safe_dump(text, sort_keys=False))
    result = _hwgen("sweep", path, "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (row,) = _rows(tmp_path / "out")
    assert row["status"] == "ok" and float(row["cim_energy_pj"]) > 0
    assert float(row["cim_latency_ns"]) > 0
    # and the resource estimate of the exported network: LUTs, FFs, BRAMs, DSPs
    assert int(row["estimated_luts"]) > 1000 and int(row["estimated_ffs"]) > 500
    assert float(row["estimated_brams"]) >= 0 and int(row["estimated_dsps"]) > 0   # noisy macro
