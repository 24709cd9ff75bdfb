"""A sweep's report (``report.md`` and PNGs beside ``results.csv``): Pareto fronts of accuracy
against each cost or speed figure the points have, and heat maps of accuracy over two axes.

Accuracy is the RTL's where the points co-simulated, else the golden model's. A point is on a
front when no other point is at least as accurate and at least as cheap (or fast) and better
in one of them. The heat maps take the first two axes with numeric values, one panel per
value combination of the others but ``seed`` (over which the cells average; a table gives
each cell's mean, standard deviation over seeds and count). The base spec's own values of
the axes (:meth:`hwgen.sweep.Sweep.base_values`) mark its point: a star on the fronts' plots,
a box in the heat map, and a section saying how the other points compare with it.
"""
import itertools
import math
from pathlib import Path

import numpy as np

__all__ = ["pareto_front", "write_report", "FIGURES"]

#: Figures a front may set accuracy against: (metric, what it is, lower is better).
FIGURES = (("cim_energy_pj", "cim energy per inference (pJ)", True),
           ("estimated_luts", "estimated LUTs", True), ("luts", "placed LUTs", True),
           ("expected_cycles", "cycles per frame", True),
           ("inferences_per_s", "inferences/s at Fmax", False))


def pareto_front(points, *, lower_is_better: bool) -> list[int]:
    """Indices of the ``(cost, accuracy)`` points no other dominates (more accurate and no
    worse in cost, or as accurate and better in cost), by cost."""
    order = sorted(range(len(points)), key=lambda k: (points[k][0] if lower_is_better
                                                      else -points[k][0], -points[k][1]))
    front, best = [], -math.inf
    for k in order:
        if points[k][1] > best:
            front.append(k)
            best = points[k][1]
    return front


def _accuracy(entry) -> float | None:
    metrics = entry.get("metrics", {})
    return metrics.get("rtl_accuracy", metrics.get("golden_accuracy"))


def _label(values: dict) -> str:
    return ", ".join(f"{key.split('.')[-1]}={value}" for key, value in values.items())


def _numeric(values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _is_base(entry, base: dict) -> bool:
    """Whether ``entry`` is the base spec's point (any seed)."""
    return bool(base) and all(entry["values"].get(key) == value
                              for key, value in base.items() if key != "seed")


def _spread(values) -> str:
    """``mean ± std (n)`` of ``values`` (std over them, 0 for one)."""
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.4f} ± {values.std():.4f} ({len(values)})"


def _base_section(ok, base: dict) -> list[str]:
    """How the base spec's point compares: its accuracy over seeds, its energy, and the
    configurations at least as accurate (mean over seeds) at lower energy."""
    mine = [entry for entry in ok if _is_base(entry, base)]
    if not mine:
        return []
    shown = {key: value for key, value in base.items() if key != "seed"}
    lines = [f"## The base spec's point ({_label(shown)})", "",
             f"Accuracy {_spread([_accuracy(entry) for entry in mine])} (mean ± std over "
             f"seeds, count)."]
    configurations = {}
    for entry in ok:
        key = tuple((k, v) for k, v in entry["values"].items() if k != "seed")
        configurations.setdefault(key, []).append(entry)
    energy = [entry["metrics"].get("cim_energy_pj") for entry in mine]
    if all(value is not None for value in energy):
        own_energy, own_accuracy = float(np.mean(energy)), float(np.mean(
            [_accuracy(entry) for entry in mine]))
        better = []
        for key, entries in configurations.items():
            values = [entry["metrics"].get("cim_energy_pj") for entry in entries]
            if any(value is None for value in values):
                continue
            accuracy = float(np.mean([_accuracy(entry) for entry in entries]))
            if np.mean(values) < own_energy and accuracy >= own_accuracy:
                better.append((float(np.mean(values)), accuracy, dict(key)))
        lines += ["", f"CIM energy {own_energy:g} pJ per inference. "
                  f"{len(better)} of {len(configurations) - 1} other configurations are at "
                  f"least as accurate (mean over seeds) for less energy"
                  + (":" if better else ".")]
        if better:
            lines += ["", "| cim energy (pJ) | accuracy | point |", "|---|---|---|"]
            lines += [f"| {cost:g} | {acc:.4f} | {_label(values)} |"
                      for cost, acc, values in sorted(better, key=lambda b: b[0])]
    return lines + [""]


def write_report(sweep, entries: dict, out: Path) -> Path:
    """Write ``out/report.md`` (and its PNGs under ``out/plots/``) for the finished points."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..flow.cache import write_atomic
    out = Path(out)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    ok = [entry for entry in (entries.get(point.name) for point in sweep.points)
          if entry is not None and entry["status"] == "ok" and _accuracy(entry) is not None]
    base = sweep.base_values()
    counts = {status: sum(entry["status"] == status for entry in entries.values())
              for status in ("ok", "invalid", "failed")}
    lines = [f"# Sweep {sweep.name}", "",
             f"{len(sweep.points)} points over {', '.join(sweep.axes)} ({sweep.steps}): "
             f"{counts['ok']} ok, {counts['invalid']} invalid, {counts['failed']} failed. "
             f"Accuracy: the RTL's where co-simulated, else the golden model's.", ""]
    for metric, what, lower in FIGURES:
        points = [(entry["metrics"][metric], _accuracy(entry), entry) for entry in ok
                  if entry["metrics"].get(metric) is not None]
        if len(points) < 2:
            continue
        front = pareto_front([(cost, acc) for cost, acc, _ in points], lower_is_better=lower)
        figure, axis = plt.subplots(figsize=(6, 4))
        axis.scatter([p[0] for p in points], [p[1] for p in points], s=14, color="0.6",
                     label="points")
        chosen = [points[k] for k in front]
        axis.plot([p[0] for p in chosen], [p[1] for p in chosen], "o-", color="C3",
                  label="Pareto front")
        marked = [p for p in points if _is_base(p[2], base)]
        if marked:
            axis.scatter([p[0] for p in marked], [p[1] for p in marked], s=90, marker="*",
                         color="C0", zorder=3, label="base spec")
        axis.set_xlabel(what)
        axis.set_ylabel("accuracy")
        axis.legend(loc="lower right")
        figure.tight_layout()
        name = f"plots/pareto_{metric}.png"
        figure.savefig(out / name, dpi=110)
        plt.close(figure)
        lines += [f"## Accuracy vs {what}", "", f"![accuracy vs {what}]({name})", "",
                  f"| {what} | accuracy | point |", "|---|---|---|"]
        lines += [f"| {cost:g} | {acc:.4f} | {_label(entry['values'])} |"
                  for cost, acc, entry in chosen] + [""]
    lines += _base_section(ok, base)
    lines += _heat_maps(sweep, ok, out, plt, base)
    path = out / "report.md"
    write_atomic(path, "\n".join(lines).encode())
    return path


def _heat_maps(sweep, ok, out: Path, plt, base: dict) -> list[str]:
    axes = [key for key, values in sweep.axes.items() if _numeric(values) and key != "seed"]
    if len(axes) < 2 or not ok:
        return []
    x_key, y_key = axes[:2]
    rest = [key for key in sweep.axes if key not in (x_key, y_key, "seed")]
    xs, ys = sorted(set(sweep.axes[x_key])), sorted(set(sweep.axes[y_key]))
    panels = list(itertools.product(*(sweep.axes[key] for key in rest))) or [()]
    figure, grid = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6), squeeze=False)
    tables = []
    for axis, panel in zip(grid[0], panels):
        cells = np.full((len(ys), len(xs)), np.nan)
        title = ", ".join(f"{key}={value}" for key, value in zip(rest, panel))
        table = [f"{title or 'accuracy'}: mean ± std over seeds (count)", "",
                 f"| {y_key} / {x_key} | " + " | ".join(str(x) for x in xs) + " |",
                 "|---" * (len(xs) + 1) + "|"]
        for i, y in enumerate(ys):
            row = []
            for j, x in enumerate(xs):
                values = [_accuracy(entry) for entry in ok
                          if entry["values"][x_key] == x and entry["values"][y_key] == y
                          and all(entry["values"][key] == value
                                  for key, value in zip(rest, panel))]
                if values:
                    cells[i, j] = float(np.mean(values))
                row.append(_spread(values) if values else "")
            table.append(f"| {y} | " + " | ".join(row) + " |")
        tables += table + [""]
        image = axis.imshow(cells, origin="lower", cmap="viridis", aspect="auto")
        in_panel = all(base.get(key) == value for key, value in zip(rest, panel))
        if in_panel and base.get(x_key) in xs and base.get(y_key) in ys:
            j, i = xs.index(base[x_key]), ys.index(base[y_key])
            axis.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, color="red",
                                         linewidth=2))
        for i, j in itertools.product(range(len(ys)), range(len(xs))):
            if not math.isnan(cells[i, j]):
                axis.text(j, i, f"{cells[i, j]:.3f}", ha="center", va="center", fontsize=7,
                          color="white")
        axis.set_xticks(range(len(xs)), [str(x) for x in xs])
        axis.set_yticks(range(len(ys)), [str(y) for y in ys])
        axis.set_xlabel(x_key)
        axis.set_ylabel(y_key)
        axis.set_title(", ".join(f"{key}={value}" for key, value in zip(rest, panel)) or
                       "accuracy", fontsize=9)
        figure.colorbar(image, ax=axis)
    figure.tight_layout()
    name = "plots/heatmap.png"
    figure.savefig(out / name, dpi=110)
    plt.close(figure)
    marked = " The base spec's cell is boxed in red." if base else ""
    return [f"## Accuracy over {x_key} and {y_key}", "",
            f"Mean over seeds{', one panel per ' + ', '.join(rest) if rest else ''}.{marked}",
            "", f"![accuracy over {x_key} and {y_key}]({name})", ""] + tables
