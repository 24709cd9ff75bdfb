"""Running a sweep: its points in parallel (a process per core), each in a folder of its own
under the sweep's output folder (``points/<point>/``, hwgen's keyed products: a point run
again reuses what it made), results streamed as the points finish.

``results.jsonl`` gets a line per finished point (``ok``: its metrics; ``invalid``: the one-line
spec error; ``failed``: the error it stopped with) and ``results.csv`` the table so far (one row
a point: its axis values, status and metrics), rewritten whole after each point, and
``results.parquet`` the same table with typed columns (numbers as numbers; an axis of mixed
values as their text) where pyarrow is installed (the ``sweep`` extra). A sweep run
again skips the points ``results.jsonl`` has as ``ok`` or ``invalid`` (an interrupted sweep
resumes where it stopped; failed points run again).
"""
import concurrent.futures as futures
import csv
import io
import json
import multiprocessing
import os
import time
from pathlib import Path

from ..errors import HwgenError, SpecError
from .plan import METRICS, Sweep

__all__ = ["run_sweep", "point_metrics", "METRICS"]



def point_metrics(run, seconds: float, costs=None) -> dict:
    """The metrics of a finished run of a point's steps (:func:`hwgen.flow.run_steps`);
    ``costs`` (the spec's ``cim`` section) prices a cim network's reads where no report was
    made (a point run to ``export``)."""
    results = run.results
    metrics = {"seconds": round(seconds, 1)}
    train = results.get("train")
    graph = results.get("hardware") or results.get("export")
    if isinstance(train, dict):
        metrics.update({key: train.get(key) for key in ("float_accuracy", "bnn_accuracy")})
    if graph is not None:
        meta = graph.meta
        for key in ("float_accuracy", "bnn_accuracy", "golden_accuracy"):
            if meta.get(key) is not None:
                metrics[key] = meta[key]
        metrics["expected_cycles"] = graph.expected_cycles()
    report = results.get("report")
    if isinstance(report, dict):
        metrics["golden_accuracy"] = report.get("golden_accuracy", metrics.get("golden_accuracy"))
        layers = report.get("layers") or []
        for key in ("luts", "ffs", "brams", "dsps"):
            total = sum(layer["estimate"][key] for layer in layers)
            metrics[f"estimated_{key}"] = round(total, 1) if key == "brams" else round(total)
        cost = report.get("cim_cost")
        if cost and cost.get("layers"):
            metrics.update(cim_energy_pj=cost["energy_pj"], cim_latency_ns=cost["latency_ns"])
    elif graph is not None:                 # run to export: the estimate and the cost model
        from ..estimate import estimate_graph
        estimate = estimate_graph(graph)
        metrics.update(estimated_luts=round(estimate.luts), estimated_ffs=round(estimate.ffs),
                       estimated_brams=round(estimate.brams, 1),
                       estimated_dsps=round(estimate.dsps))
        if any(layer.macro is not None for layer in graph.mvtus()):
            from ..flow.report import cim_costs
            cost = cim_costs(graph, costs)
            metrics.update(cim_energy_pj=cost["energy_pj"], cim_latency_ns=cost["latency_ns"])
    verification = results.get("verify")
    if isinstance(verification, dict):
        metrics.update(rtl_accuracy=verification.get("rtl_accuracy"),
                       rtl_golden_mismatches=verification.get("mismatches"),
                       measured_cycles=verification.get("measured_cycles"))
    build = results.get("build")
    if isinstance(build, dict):
        metrics.update({key: build.get(key) for key in ("luts", "ffs", "brams", "dsps",
                                                        "fmax_mhz")})
        if build.get("fmax_mhz") and metrics.get("expected_cycles"):
            metrics["inferences_per_s"] = round(build["fmax_mhz"] * 1e6 /
                                                metrics["expected_cycles"], 1)
    return {key: metrics[key] for key in METRICS if metrics.get(key) is not None}


def _run_point(sweep: Sweep, values: dict, folder: str) -> dict:
    """One point, in a worker process: ``{"status": ..., "metrics" | "error": ...}``."""
    import torch

    from ..board.board import load_board
    from ..flow import Workspace, run_steps
    from .plan import Point
    torch.set_num_threads(1)                 # a process per core
    started = time.perf_counter()
    try:
        spec = sweep.spec(Point(values))
    except SpecError as error:
        return {"status": "invalid", "error": str(error)}
    except KeyError as error:
        return {"status": "invalid", "error": f"{sweep.file}: axes: no key {error.args[0]!r} "
                                              f"in the base spec to set"}
    try:
        workspace = Workspace.create(spec, folder, say=lambda message: None)
        workspace.progress = False               # the sweep's own progress line only
        board = None
        if sweep.steps == "build" or spec.hardware.target_fps is not None:
            board = workspace.clocked(load_board(sweep.board or spec.board))
        stop = {"train": "train", "export": "export"}.get(sweep.steps, "report")
        skip = {"build"} if sweep.steps == "sim" else set()
        run = run_steps(workspace, stop=stop, skip=skip, board=board,
                        clock_hz=None if board is None else board.clock_mhz * 1e6)
    except SpecError as error:
        return {"status": "invalid", "error": str(error)}
    except HwgenError as error:
        return {"status": "failed", "error": str(error)}
    except Exception as error:           # a bug in a point must not stop the sweep
        return {"status": "failed", "error": f"{type(error).__name__}: {error}"}
    metrics = point_metrics(run, time.perf_counter() - started, spec.cim)
    if sweep.metrics is not None:
        metrics = {key: value for key, value in metrics.items() if key in sweep.metrics}
    return {"status": "ok", "metrics": metrics}


def _read_done(path: Path) -> dict:
    """The finished points of an earlier run, by name (the last line of each wins)."""
    done = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:      # a line cut short by an interruption
                continue
            if isinstance(entry, dict) and "point" in entry:
                done[entry["point"]] = entry
    return done


def _columns(axes, metrics, rows) -> dict:
    """The table's columns, typed: an axis or metric whose values are all numbers (or all
    booleans) as such, any other as text; a point without a metric has null there."""
    def column(values):
        present = [v for v in values if v is not None]
        if all(isinstance(v, bool) for v in present):
            return values
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            return [None if v is None else float(v) if any(isinstance(u, float) for u in present)
                    else v for v in values]
        return [None if v is None else v if isinstance(v, str) else json.dumps(v)
                for v in values]
    table = {"point": [row["point"] for row in rows]}
    for axis in axes:
        table[axis] = column([row["values"][axis] for row in rows])
    table["status"] = [row["status"] for row in rows]
    for key in metrics:
        table[key] = column([row.get("metrics", {}).get(key) for row in rows])
    table["error"] = [row.get("error") for row in rows]
    return table


def _write_parquet(columns: dict, path: Path) -> bool:
    """``columns`` as a parquet file at ``path`` (atomically); False where pyarrow is not
    installed."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    from ..flow.cache import write_atomic
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink)
    write_atomic(path, sink.getvalue().to_pybytes())
    return True


def _write_table(sweep: Sweep, entries: dict, path: Path):
    from ..flow.cache import write_atomic
    axes = list(sweep.axes)
    rows = [entries[point.name] for point in sweep.points if point.name in entries]
    kept = sweep.metrics or METRICS
    metrics = [key for key in kept if any(key in row.get("metrics", {}) for row in rows)]
    typed = _write_parquet(_columns(axes, metrics, rows), path.with_suffix(".parquet"))
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["point", *axes, "status", *metrics, "error"])
    for row in rows:
        values = row["values"]
        writer.writerow([row["point"], *(json.dumps(values[a]) if isinstance(values[a], (list,
                         dict)) else values[a] for a in axes), row["status"],
                         *(row.get("metrics", {}).get(key, "") for key in metrics),
                         row.get("error", "")])
    write_atomic(path, text.getvalue().encode())
    return typed


def _local(sweep: Sweep, todo, out: Path, jobs: int):
    """Each point's result as it finishes, from a process pool (spawned: no forked torch)."""
    context = multiprocessing.get_context("spawn")
    with futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        running = {pool.submit(_run_point, sweep, point.values,
                               str(out / "points" / point.name)): point for point in todo}
        for future in futures.as_completed(running):
            try:
                result = future.result()
            except Exception as error:      # the worker died (memory, a signal)
                result = {"status": "failed", "error": f"{type(error).__name__}: {error}"}
            yield running[future], result


def _ray(sweep: Sweep, todo, out: Path, address: str | None):
    """Each point's result as it finishes, from Ray tasks (one CPU each) on the cluster at
    ``address`` (``auto``: the running one; None: the instance this process started)."""
    try:
        import ray
    except ImportError as error:
        raise HwgenError(f"--ray needs the ray extra (pip install -e '.[ray]'): {error}") \
            from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise HwgenError(f"--ray {address}: no Ray cluster there "
                             f"({str(error).splitlines()[0]})") from None
    task = ray.remote(num_cpus=1)(_run_point)
    running = {task.remote(sweep, point.values, str(out / "points" / point.name)): point
               for point in todo}
    while running:
        ready, _ = ray.wait(list(running), num_returns=1)
        point = running.pop(ready[0])
        try:
            result = ray.get(ready[0])
        except Exception as error:          # the task's worker died
            result = {"status": "failed", "error": f"{type(error).__name__}: "
                                                   f"{str(error).splitlines()[0]}"}
        yield point, result


def run_sweep(sweep: Sweep, out, *, jobs: int | None = None, ray: str | None = None,
              say=print) -> dict:
    """Run ``sweep``'s points not finished in ``out`` -- on this machine (``jobs`` processes,
    default one per core), or with ``ray`` (an address, ``auto``, or ``local``: the Ray
    instance this process runs, started with ``jobs`` CPUs unless one is) as Ray tasks --
    and return the results by point name. On a cluster, ``out`` must be a folder every node
    sees and hwgen installed on each."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = out / "results.jsonl"
    done = _read_done(log)
    entries = {name: entry for name, entry in done.items()
               if entry.get("status") in ("ok", "invalid")}
    todo = [point for point in sweep.points if point.name not in entries]
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    where = f"{jobs} processes" if ray is None else f"Ray ({ray})"
    say(f"sweep {sweep.name}: {len(sweep.points)} points, {len(sweep.points) - len(todo)} "
        f"finished before, {len(todo)} to run on {where} ({sweep.steps})")
    if ray == "local":
        import ray as ray_module
        if not ray_module.is_initialized():
            ray_module.init(num_cpus=jobs, log_to_driver=False)
    results = _local(sweep, todo, out, jobs) if ray is None else \
        _ray(sweep, todo, out, None if ray == "local" else ray)
    started, finished, failed = time.monotonic(), 0, 0
    with log.open("a") as stream:
        for point, result in results:
            entry = {"point": point.name, "values": point.values, **result}
            stream.write(json.dumps(entry, default=str) + "\n")
            stream.flush()
            entries[point.name] = entry
            _write_table(sweep, entries, out / "results.csv")
            finished += 1
            failed += result["status"] == "failed"
            left = len(todo) - finished
            eta = (time.monotonic() - started) / finished * left     # at the rate so far
            detail = result.get("error") if result["status"] != "ok" else ", ".join(
                f"{key} {value:.4g}" for key, value in result["metrics"].items()
                if key in ("golden_accuracy", "rtl_accuracy", "luts", "fmax_mhz"))
            say(f"sweep: {finished}/{len(todo)} done, {min(jobs, left)} running, {failed} "
                f"failed, ETA {eta / 60:.1f} min: {point.name} {point.values} "
                f"{result['status']}{': ' + detail if detail else ''}")
    if not _write_table(sweep, entries, out / "results.csv"):
        say("sweep: no results.parquet (pip install pyarrow, or hwgen[sweep]); results.csv "
            "has the table")
    from .report import write_report
    write_report(sweep, entries, out)
    return entries
