"""Accuracy of binarized networks under analog CIM noise: the batch-norm baseline against the
robust recipe (batch-norm-free, zero-raising, threshold shift, noise-aware training); one
``key: value`` a line.

    python bench/robustness.py [--epochs 60] [--seeds 3] [--repeats 10] [--out DIR]

Both networks are the same MLP on scikit-learn's digits (64 input bits -> 256 -> 256 -> 10,
binary {0, 1} activations), trained with ``--seeds`` training seeds on one data split. Noise is
:class:`hwgen.nn.GaussianMVM` ``cell`` noise on every layer's dot products (each driven cell adds
Gaussian noise of std sigma, so a dot product over k driven rows gets sigma * sqrt(k)); each
accuracy is the mean over the training seeds and ``--repeats`` noise seeds, on the whole test
set. Progress goes to stderr, the figures to stdout:

    <name>_acc_sigma_<s>   test accuracy at noise sigma s (baseline, robust: every s;
                           ablations: 0 and the baseline's 10-point sigma)
    zero_fraction          share of zero hidden activations of the robust model (test set)
    baseline_zero_fraction the same for the baseline
    sigma_10pt             the smallest sigma at which the baseline loses >= 10 points
    baseline_loss_pt       points the baseline loses there (from its noise-free accuracy)
    robust_loss_pt         points the robust model loses there (from its noise-free accuracy)
    robust_vs_baseline_pt  baseline noise-free minus robust at sigma_10pt, in points
    goal_met               robust_loss_pt <= 2 where baseline_loss_pt >= 10
    export_exact           the robust models' IR equals them on the whole test set
    plot                   the PNG written (needs matplotlib), or why not
    seconds                wall-clock time of the bench
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hwgen.data import load_dataset
from hwgen.errors import HwgenError
from hwgen.passes.lower import check_export, export_graph
from hwgen.nn import activation_stats, evaluate_under_noise, train_model
from hwgen.spec import parse_spec

REPO = Path(__file__).resolve().parent.parent
SIGMAS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5)

#: (model options, train options) of each network trained.
RECIPES = {
    "baseline": ({}, {}),
    "robust": ({"norm": "bnfree", "zero_raising": 1.0, "threshold_shift": 0.5},
               {"noise_sigma": 1.0}),
    # Ablations: what each ingredient does alone.
    "bnfree": ({"norm": "bnfree"}, {}),
    "bnfree_zero_raising": ({"norm": "bnfree", "zero_raising": 1.0, "threshold_shift": 0.5}, {}),
    "noise_aware": ({}, {"noise_sigma": 1.0}),
}


def _spec(model: dict, train: dict, epochs: int):
    return parse_spec({
        "name": "robustness",
        "data": {"dataset": "digits", "input_bits": 1},
        "model": {"activation": "binary", **model, "layers": [
            {"type": "linear", "out": 256}, {"type": "linear", "out": 256},
            {"type": "linear", "out": 10}]},
        "train": {"epochs": epochs, "lr": 0.01, **train},
    })


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60, help="training epochs (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=10,
                        help="noise seeds per accuracy (default: %(default)s)")
    parser.add_argument("--out", default=str(REPO / "build" / "bench" / "robustness"),
                        help="folder for the plot (default: %(default)s)")
    args = parser.parse_args(argv)
    start = time.time()
    torch.set_num_threads(1)

    def say(message):
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    data = load_dataset(_spec({}, {}, args.epochs).data, 0)
    curves, zeros, exact = {}, {}, True
    for name, (model_options, train_options) in RECIPES.items():
        spec = _spec(model_options, train_options, args.epochs)
        accuracy = np.zeros(len(SIGMAS))
        zero = 0.0
        for seed in range(args.seeds):
            say(f"training {name}, seed {seed}")
            model = train_model(spec, data, seed=seed, progress=False).model
            if name == "robust":
                try:
                    check_export(model, export_graph(model, spec, data.test_x, data.test_y))
                except HwgenError as error:
                    say(str(error))
                    exact = False
            zero += activation_stats(model, data.test_x)["zero_fraction"] / args.seeds
            for i, sigma in enumerate(SIGMAS):
                repeats = 1 if sigma == 0 else args.repeats
                accuracy[i] += np.mean([evaluate_under_noise(model, data, sigma, 1000 * seed + r)
                                        for r in range(repeats)]) / args.seeds
        curves[name], zeros[name] = accuracy, zero

    baseline, robust = curves["baseline"], curves["robust"]
    lost = np.flatnonzero(baseline[0] - baseline >= 0.10)
    key = int(lost[0]) if len(lost) else None
    figures = {}
    for name, accuracy in curves.items():
        shown = range(len(SIGMAS)) if name in ("baseline", "robust") else sorted({0, key or 0})
        for i in shown:
            figures[f"{name}_acc_sigma_{SIGMAS[i]:g}"] = f"{accuracy[i]:.4f}"
    figures["zero_fraction"] = f"{zeros['robust']:.4f}"
    figures["baseline_zero_fraction"] = f"{zeros['baseline']:.4f}"
    if key is None:
        figures["sigma_10pt"] = "none (the baseline never loses 10 points)"
    else:
        baseline_loss = 100 * (baseline[0] - baseline[key])
        robust_loss = 100 * (robust[0] - robust[key])
        figures["sigma_10pt"] = f"{SIGMAS[key]:g}"
        figures["baseline_loss_pt"] = f"{baseline_loss:.1f}"
        figures["robust_loss_pt"] = f"{robust_loss:.1f}"
        figures["robust_vs_baseline_pt"] = f"{100 * (baseline[0] - robust[key]):.1f}"
        figures["goal_met"] = "yes" if robust_loss <= 2.0 else "no"
    figures["export_exact"] = "yes" if exact else "no"
    figures["plot"] = _plot(curves, Path(args.out))
    figures["seconds"] = f"{time.time() - start:.0f}"
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 0


def _plot(curves: dict, out: Path) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "skipped (matplotlib not installed)"
    out.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(6, 4))
    for name, accuracy in curves.items():
        axes.plot(SIGMAS, accuracy, marker="o", label=name,
                  linewidth=2 if name in ("baseline", "robust") else 1)
    axes.set_xlabel("cell noise sigma")
    axes.set_ylabel("test accuracy")
    axes.grid(True, alpha=0.3)
    axes.legend()
    path = out / "robustness.png"
    figure.savefig(path, dpi=120, bbox_inches="tight")
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
