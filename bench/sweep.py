"""Figures of ``hwgen sweep``: a small cim sweep run locally (a process per core), interrupted
and resumed, and run again through a local Ray instance; one ``key: value`` a line.

    python bench/sweep.py [--spec SPEC] [--out DIR] [--steps sim]

The sweep is SPEC (default ``examples/digits_cim.yaml``) over ``cim.adc_bits`` {3, 4} x
``cim.sigma`` {0, 0.5} at one training epoch, each point run to ``--steps`` (default ``sim``:
trained, exported, FIFOs sized, co-simulated on Verilator). Everything is made afresh under
``--out`` (default ``build/bench/sweep``); progress goes to stderr, the figures to stdout:

    points               points in the sweep
    points_per_hour      points finished per hour by the uninterrupted local run
    resume_rerun_points  points finished before an interruption that ran again on resume
    resumed_points       points the resumed run ran (those unfinished at the interruption)
    ray_matches_local    1 when the same sweep through Ray gives the local table (but seconds)
"""
import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def _sweep_file(folder: Path, spec: Path, steps: str) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "name": "bench", "base": str(spec), "steps": steps,
        "axes": {"cim.adc_bits": [3, 4], "cim.sigma": [0.0, 0.5], "train.epochs": [1]}},
        sort_keys=False))
    return path


def _hwgen(*args, **options):
    return subprocess.run([sys.executable, "-m", "hwgen", *map(str, args)], text=True,
                          **options)


def _entries(out: Path) -> list[dict]:
    log = out / "results.jsonl"
    if not log.is_file():
        return []
    entries = []
    for line in log.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return entries


def _table(entries) -> dict:
    return {entry["point"]: (entry["status"], {key: value for key, value in
                                               entry.get("metrics", {}).items()
                                               if key != "seconds"})
            for entry in entries}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(REPO / "examples" / "digits_cim.yaml"))
    parser.add_argument("--out", default=str(REPO / "build" / "bench" / "sweep"))
    parser.add_argument("--steps", default="sim")
    args = parser.parse_args(argv)
    folder = Path(args.out).resolve()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sweep = _sweep_file(folder, Path(args.spec).resolve(), args.steps)
    # The uninterrupted local run.
    started = time.monotonic()
    _hwgen("sweep", sweep, "--out", folder / "local", check=True, stdout=sys.stderr)
    seconds = time.monotonic() - started
    local = _entries(folder / "local")
    # Interrupted once the first point has finished, then resumed.
    run = subprocess.Popen([sys.executable, "-m", "hwgen", "sweep", str(sweep), "--out",
                            str(folder / "resumed")], stdout=sys.stderr, text=True,
                           start_new_session=True)
    while run.poll() is None and not _entries(folder / "resumed"):
        time.sleep(0.5)
    if run.poll() is None:
        import os
        os.killpg(run.pid, signal.SIGINT)
    run.wait()
    before = {entry["point"] for entry in _entries(folder / "resumed")
              if entry["status"] in ("ok", "invalid")}
    count = len(_entries(folder / "resumed"))
    _hwgen("sweep", sweep, "--out", folder / "resumed", check=True, stdout=sys.stderr)
    resumed = _entries(folder / "resumed")[count:]
    # Through a local Ray instance.
    ray = _hwgen("sweep", sweep, "--out", folder / "ray", "--ray", "local", "--jobs", "2",
                 stdout=sys.stderr)
    figures = {
        "points": len(local),
        "points_per_hour": round(len(local) / seconds * 3600, 1),
        "resume_rerun_points": sum(entry["point"] in before for entry in resumed),
        "resumed_points": len(resumed),
        "ray_matches_local": int(ray.returncode == 0 and
                                 _table(_entries(folder / "ray")) == _table(local)),
    }
    for key, value in figures.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
