"""The report's figures (PNG, matplotlib's Agg backend): where the cycles go, where the
resources go, and what the network gets wrong.

Each function takes the plain data it draws (the report's dictionaries, arrays) and a path, so
that the figures can be redrawn from ``report.json`` without the IR.
"""
from pathlib import Path

import numpy as np

__all__ = ["plot_cycles", "plot_resources", "plot_confusion", "plot_noise_sweep"]


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(figure, path: Path):
    path = Path(path)
    temp = path.with_name(f".{path.name}.tmp")
    figure.savefig(temp, format="png", dpi=110, bbox_inches="tight")
    temp.replace(path)


def plot_cycles(layers: list[dict], path, *, measured: float | None = None) -> Path:
    """Cycles per frame of each layer (bars), the network's bound (the slowest layer) and,
    if given, the measured cycles per frame of the co-simulation."""
    plt = _pyplot()
    names = [layer["name"] for layer in layers]
    cycles = [layer["cycles_per_frame"] for layer in layers]
    figure, axes = plt.subplots(figsize=(max(4.0, 0.8 * len(layers) + 2), 3.2))
    bars = axes.bar(names, cycles, color="#4c72b0")
    slowest = int(np.argmax(cycles))
    bars[slowest].set_color("#c44e52")
    axes.axhline(cycles[slowest], color="#c44e52", linestyle=":", linewidth=1,
                 label=f"bound: {cycles[slowest]} cycles/frame ({names[slowest]})")
    if measured is not None:
        axes.axhline(measured, color="black", linestyle="--", linewidth=1,
                     label=f"measured: {measured:.1f} cycles/frame")
    axes.set_ylabel("cycles / frame")
    axes.set_title("Cycles per frame by layer")
    axes.tick_params(axis="x", rotation=45)
    axes.legend(fontsize=8)
    _save(figure, path)
    plt.close(figure)
    return Path(path)


def plot_resources(layers: list[dict], path, *, total: dict | None = None) -> Path:
    """Estimated LUT4s and block RAMs of each layer (:mod:`hwgen.estimate`), with the placed
    design's totals in the title when given."""
    plt = _pyplot()
    names = [layer["name"] for layer in layers]
    luts = [layer["estimate"]["luts"] for layer in layers]
    brams = [layer["estimate"]["brams"] for layer in layers]
    figure, lut_axes = plt.subplots(figsize=(max(4.0, 0.8 * len(layers) + 2), 3.2))
    x = np.arange(len(names))
    lut_axes.bar(x - 0.2, luts, width=0.4, color="#55a868", label="LUT4 (estimate)")
    lut_axes.set_ylabel("LUT4")
    bram_axes = lut_axes.twinx()
    bram_axes.bar(x + 0.2, brams, width=0.4, color="#8172b2", label="DP16KD (estimate)")
    bram_axes.set_ylabel("block RAMs")
    bram_axes.set_ylim(0, max(1, max(brams)) * 1.15)
    lut_axes.set_xticks(x, names, rotation=45)
    title = "Resources by layer (estimates)"
    if total:
        title += (f"\nplaced design: {total.get('luts')} LUT4, {total.get('brams')} BRAM, "
                  f"{total.get('dsps')} DSP")
    lut_axes.set_title(title, fontsize=10)
    handles = lut_axes.get_legend_handles_labels()[0] + bram_axes.get_legend_handles_labels()[0]
    lut_axes.legend(handles=handles, fontsize=8, loc="upper right")
    _save(figure, path)
    plt.close(figure)
    return Path(path)


def plot_confusion(expected, predicted, path, *, classes: list[str], title: str) -> Path:
    """Confusion matrix (rows: true class, columns: predicted), counts in the cells."""
    plt = _pyplot()
    count = len(classes)
    matrix = np.zeros((count, count), dtype=np.int64)
    np.add.at(matrix, (np.asarray(expected), np.asarray(predicted)), 1)
    figure, axes = plt.subplots(figsize=(0.45 * count + 2.5, 0.45 * count + 2))
    axes.imshow(matrix, cmap="Blues")
    for (row, column), value in np.ndenumerate(matrix):
        if value:
            axes.text(column, row, str(value), ha="center", va="center", fontsize=6,
                      color="white" if value > matrix.max() / 2 else "black")
    axes.set_xticks(range(count), classes, rotation=90, fontsize=7)
    axes.set_yticks(range(count), classes, fontsize=7)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    axes.set_title(f"{title}\naccuracy {accuracy:.4f} on {matrix.sum()} frames", fontsize=9)
    _save(figure, path)
    plt.close(figure)
    return Path(path)


def plot_noise_sweep(sigmas, accuracies, path, *, trained_sigma: float) -> Path:
    """Golden-model test accuracy against the macro's noise sigma (same seeded generator as
    the RTL), with the sigma the network was built for marked."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(4.5, 3.2))
    axes.plot(sigmas, accuracies, marker="o", color="#4c72b0")
    axes.axvline(trained_sigma, color="#c44e52", linestyle=":", linewidth=1,
                 label=f"built for sigma {trained_sigma:g}")
    axes.set_xlabel("cell noise sigma (bitline units)")
    axes.set_ylabel("test accuracy (golden)")
    axes.set_title("Accuracy under CIM noise", fontsize=10)
    axes.legend(fontsize=8)
    _save(figure, path)
    plt.close(figure)
    return Path(path)
