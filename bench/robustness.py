"""Accuracy of binarized networks on a noisy CIM macro (the robust-BNN thesis's table): batch
norm against the batch-norm-free unit, noise-aware training, zero-raising and threshold
shifting, over training seeds; one ``key: value`` a line.

    python bench/robustness.py --dataset kws|digits|mnist5k [--seeds 3] [--epochs N]
        [--lr LR] [--repeats 3] [--train-sigma 0.75] [--jobs 2] [--recipes a,b] [--out DIR]
        [--shipped]

Each recipe trains the dataset's network (below) with ``--seeds`` training seeds (one data
split), exports it to the IR (checked equal to the model) and runs the IR's golden model on the
whole test set with the macro's cell noise at each sigma of ``SIGMAS`` (its hashed noise, what
the RTL computes; ``--repeats`` noise seeds each, averaged). Only the cim layers are noisy.
The recipes, each adding to the one before:

    baseline      batch norm, trained without noise
    bn_noise      batch norm, trained through the macro's noise (``--train-sigma``)
    bnfree_clean  the batch-norm-free unit (hwgen.nn.CentredThreshold), trained without noise
    bnfree        the batch-norm-free unit, trained through the noise
    robust        bnfree + zero-raising + threshold shift, trained through the noise
    bn_robust     the same with batch norm (an ablation: the unit's share of ``robust``)
    bitsplit      bn_robust with BitSplit 2-bit activations (model.bitsplit: each bit a binary
                  neuron, each bit plane a binary path and a bit-serial read of the macro)

Networks (binary {0, 1} activations):

    kws      examples/kws.yaml (thermometer MFCCs, conv 128, pool, conv 128, pool, 1536 -> 64 on
             the macro, -> 12); a short schedule by default (--epochs 10 --lr 0.005 against the
             example's 80 at 0.001), said in the output
    digits   examples/digits_cim.yaml (64 -> 64 -> 64 on the macro, -> 10)
    mnist5k  conv 32, pool, conv 64, pool, 1600 -> 64 on the macro, -> 10

Figures (accuracies are means over seeds, each ``_std`` its standard deviation over seeds):

    <recipe>_acc_sigma_<s>[_std]      test accuracy at cell noise sigma s
    <recipe>_zero_fraction_<layer>    share of the hidden layer's activations that are 0
    <recipe>_flip_rate_<layer>        share of a cim layer's output bits that its noise flips
                                      (its clean inputs, at sigma_10pt)
    <recipe>_near_threshold_<layer>   share of its dot products within one noise standard
                                      deviation of their threshold (at sigma_10pt)
    sigma_10pt                        smallest sigma at which the baseline loses >= 10 points
    baseline_loss_pt, robust_loss_pt  points each loses there; goal_robust: robust <= 2
    bnfree_vs_bn_clean_pt             bnfree_clean - baseline without noise (goal >= -1)
    bnfree_vs_bn_noise_pt             bnfree - bn_noise without noise (both noise-trained)
    robust_vs_bn_robust_pt            robust - bn_robust without noise
    best_recipe                       the recipe most accurate at sigma_10pt (or the largest sigma)
    shipped_acc_sigma_<s>             with --shipped (kws): the shipped example's IR
                                      (examples/kws/model.ir.npz, its full schedule) at sigma s
    export_exact                      every model's IR equals it on the whole test set
    table                             the markdown table written
    seconds                           wall-clock time

Trained results are kept in ``--out`` per recipe and seed, keyed by their spec and the sources
that train and measure them: a rerun (or an interrupted one) trains only what is missing.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from trainings import REPO, keep, noisy_accuracy, run_all, say
SIGMAS = (0.0, 0.25, 0.5, 0.75, 1.0)

#: Per dataset: the spec (a mapping), its schedule (epochs, lr) and the robust recipe's
#: zero-raising weight and threshold shift.
def _kws():
    spec = yaml.safe_load((REPO / "examples" / "kws.yaml").read_text())
    spec["train"].pop("prebuilt", None)
    return spec


def _digits():
    return yaml.safe_load((REPO / "examples" / "digits_cim.yaml").read_text())


def _mnist5k():
    return {"name": "mnist5k_cim", "seed": 0,
            "data": {"dataset": "mnist5k", "test_fraction": 0.2, "input_bits": 1},
            "model": {"activation": "binary", "layers": [
                {"type": "conv", "out": 32, "kernel": 3}, {"type": "maxpool", "kernel": 2},
                {"type": "conv", "out": 64, "kernel": 3}, {"type": "maxpool", "kernel": 2},
                {"type": "linear", "out": 64, "backend": "cim"},
                {"type": "linear", "out": 10}]},
            "cim": {"rows": 256, "columns": 256, "wordlines": 16, "adc_bits": 4,
                    "noise": "cell", "sigma": 0.5, "seed": 7},
            "train": {"epochs": 15, "batch_size": 64, "lr": 0.005, "init_scale": 1.0}}


DATASETS = {
    "kws": (_kws, 10, 0.005, 0.02, 0.25),
    "digits": (_digits, 40, 0.01, 0.5, 0.25),
    "mnist5k": (_mnist5k, 15, 0.005, 0.05, 0.25),
}

#: (norm, robust additions, trained through the noise, BitSplit) of each recipe.
RECIPES = {
    "baseline": ("batchnorm", False, False, False),
    "bn_noise": ("batchnorm", False, True, False),
    "bnfree_clean": ("bnfree", False, False, False),
    "bnfree": ("bnfree", False, True, False),
    "robust": ("bnfree", True, True, False),
    # Ablation: the robust recipe with batch norm (what the unit does within it).
    "bn_robust": ("batchnorm", True, True, False),
    # bn_robust with BitSplit 2-bit activations: two binary paths, each bit plane a read.
    "bitsplit": ("batchnorm", True, True, True),
}


def recipe_spec(dataset: str, recipe: str, *, epochs: int, lr: float,
                train_sigma: float) -> dict:
    """The spec mapping of ``recipe`` on ``dataset``."""
    make, _, _, zero_raising, shift = DATASETS[dataset]
    norm, robust, noisy, bitsplit = RECIPES[recipe]
    spec = make()
    spec["model"].update(norm=norm, zero_raising=zero_raising if robust else 0.0,
                         threshold_shift=shift if robust else 0.0)
    if bitsplit:
        spec["model"].update(act_bits=2, bitsplit=True)
        spec["cim"]["act_bits"] = 2
    spec["cim"]["sigma"] = train_sigma if noisy else 0.0
    spec["train"].update(epochs=epochs, lr=lr)
    return spec


def run_job(dataset: str, recipe: str, seed: int, spec_map: dict, repeats: int,
            cache: Path) -> dict:
    """Train, export and measure one (recipe, seed); kept in ``cache``."""
    return keep(cache / f"{recipe}_seed{seed}.json", [spec_map, seed, repeats, SIGMAS],
                lambda: _measure(dataset, recipe, seed, spec_map, repeats))


def _measure(dataset: str, recipe: str, seed: int, spec_map: dict, repeats: int) -> dict:
    import torch
    from hwgen.data import load_dataset
    from hwgen.errors import HwgenError
    from hwgen.golden.network import run_layer
    from hwgen.nn import activation_stats, train_model
    from hwgen.passes.lower import check_export, export_graph
    from hwgen.spec import parse_spec
    torch.set_num_threads(1)
    spec = parse_spec(spec_map, file=f"{dataset}:{recipe}")
    data = load_dataset(spec.data, spec.seed)
    result = train_model(spec, data, seed=seed, progress=False)
    model = result.model
    graph = export_graph(model, spec, data.test_x, data.test_y)
    try:
        check_export(model, graph)
        exact = True
    except HwgenError:
        exact = False
    stats = activation_stats(model, data.test_x)
    names = [layer.name for layer in graph.mvtus()]
    zero = {names[i]: 1.0 - fraction for i, (_, fraction) in
            enumerate(sorted(stats["layers"].items()))}
    x, inputs = torch.as_tensor(graph.test_frames.astype(np.int64)), []
    for layer in graph.layers:                  # each layer's clean input, for the mechanism
        inputs.append(x)
        x = run_layer(layer, x)
    mechanism = {f"{sigma:g}": _mechanism(graph, inputs, sigma) for sigma in SIGMAS if sigma}
    return {"dataset": dataset, "recipe": recipe, "seed": seed,
            "accuracy": noisy_accuracy(graph, SIGMAS, repeats, inputs), "zero_fraction": zero,
            "mechanism": mechanism, "export_exact": exact,
            "model_accuracy": result.test_accuracy}


def _mechanism(graph, inputs, sigma: float) -> dict:
    """Per cim layer, on its clean inputs: the share of output bits the noise flips and of dot
    products within one noise standard deviation of their nearest threshold."""
    from hwgen.golden.network import run_layer
    from hwgen.passes.lower import quiet, with_noise
    figures = {}
    noisy_graph, clean_graph = with_noise(graph, sigma, 1), quiet(graph)
    for index, layer in enumerate(graph.layers):
        if getattr(layer, "macro", None) is None or layer.thresholds is None:
            continue
        clean_dots, noisy_dots = [], []
        clean = run_layer(clean_graph.layers[index], inputs[index], clean_dots).numpy()
        noisy = run_layer(noisy_graph.layers[index], inputs[index], noisy_dots).numpy()
        dot, noise = clean_dots[0].astype(np.float64), noisy_dots[0] - clean_dots[0]
        thresholds = np.asarray(layer.thresholds, dtype=np.float64).reshape(layer.mh, -1)
        # A dot fires from its threshold on: the boundary lies half a step below it. A
        # BitSplit layer's planes each have theirs.
        distance = (np.abs(dot - (thresholds - 0.5)) if layer.split_input else
                    np.min(np.abs(dot[..., None] - (thresholds - 0.5)), axis=-1))
        figures[layer.name] = {"flip_rate": float(np.mean(clean != noisy)),
                               "near_threshold": float(np.mean(distance < noise.std()))}
    return figures


def summarize(results: list[dict], recipes, args) -> dict:
    """The printed figures from every job's result."""
    by = {name: [r for r in results if r["recipe"] == name] for name in recipes}
    figures = {"dataset": args.dataset, "schedule": f"{args.epochs} epochs at lr {args.lr:g}"
               + ("" if args.dataset != "kws" else " (examples/kws.yaml: 80 at 0.001)"),
               "seeds": args.seeds, "noise_repeats": args.repeats,
               "train_sigma": f"{args.train_sigma:g}"}
    mean = {}
    for name, runs in by.items():
        for sigma in SIGMAS:
            values = np.array([r["accuracy"][f"{sigma:g}"] for r in runs])
            mean[name, sigma] = values.mean()
            figures[f"{name}_acc_sigma_{sigma:g}"] = f"{values.mean():.4f}"
            figures[f"{name}_acc_sigma_{sigma:g}_std"] = f"{values.std():.4f}"
    key = None
    if "baseline" in by:
        lost = [s for s in SIGMAS if mean["baseline", 0.0] - mean["baseline", s] >= 0.10]
        key = lost[0] if lost else None
    at = key if key is not None else SIGMAS[-1]
    for name, runs in by.items():
        for layer in runs[0]["zero_fraction"]:
            figures[f"{name}_zero_fraction_{layer}"] = \
                f"{np.mean([r['zero_fraction'][layer] for r in runs]):.4f}"
        for layer in runs[0]["mechanism"][f"{at:g}"]:
            for what in ("flip_rate", "near_threshold"):
                figures[f"{name}_{what}_{layer}"] = \
                    f"{np.mean([r['mechanism'][f'{at:g}'][layer][what] for r in runs]):.4f}"
    figures["mechanism_sigma"] = f"{at:g}"
    if key is None:
        figures["sigma_10pt"] = "none (the baseline never loses 10 points)"
    else:
        figures["sigma_10pt"] = f"{key:g}"
        figures["baseline_loss_pt"] = f"{100 * (mean['baseline', 0.0] - mean['baseline', key]):.1f}"
        if "robust" in by:
            loss = 100 * (mean["robust", 0.0] - mean["robust", key])
            figures["robust_loss_pt"] = f"{loss:.1f}"
            figures["goal_robust"] = "yes" if loss <= 2.0 else "no"
    if "baseline" in by and "bnfree_clean" in by:
        gap = 100 * (mean["bnfree_clean", 0.0] - mean["baseline", 0.0])
        figures["bnfree_vs_bn_clean_pt"] = f"{gap:+.1f}"
        figures["goal_bnfree"] = "yes" if gap >= -1.0 else "no"
    if "bn_robust" in by and "robust" in by:
        figures["robust_vs_bn_robust_pt"] = \
            f"{100 * (mean['robust', 0.0] - mean['bn_robust', 0.0]):+.1f}"
    if "bn_noise" in by and "bnfree" in by:
        figures["bnfree_vs_bn_noise_pt"] = \
            f"{100 * (mean['bnfree', 0.0] - mean['bn_noise', 0.0]):+.1f}"
    figures["best_recipe"] = max(by, key=lambda name: mean[name, at])
    figures["export_exact"] = "yes" if all(r["export_exact"] for r in results) else "no"
    return figures


def shipped(dataset: str, repeats: int) -> dict:
    """The shipped example IR's accuracy at each of :data:`SIGMAS` (its own schedule and
    recipe, measured as the recipes are)."""
    from hwgen.ir import load_ir
    if dataset != "kws":
        raise SystemExit("--shipped: only the kws example ships an IR")
    graph = load_ir(REPO / "examples" / "kws" / "model.ir.npz")
    return noisy_accuracy(graph, SIGMAS, repeats)


def table(results: list[dict], recipes, extra: dict | None = None) -> str:
    """A markdown table: per recipe, accuracy mean +- std at each sigma, zero fraction; then
    each of ``extra``'s rows (a name: its accuracy per sigma, one network)."""
    head = "| recipe | " + " | ".join(f"sigma {s:g}" for s in SIGMAS) + " | zeros |"
    lines = [head, "|" + "---|" * (len(SIGMAS) + 2)]
    for name in recipes:
        runs = [r for r in results if r["recipe"] == name]
        cells = []
        for sigma in SIGMAS:
            values = 100 * np.array([r["accuracy"][f"{sigma:g}"] for r in runs])
            cells.append(f"{values.mean():.1f} ± {values.std():.1f}")
        zeros = np.mean([np.mean(list(r["zero_fraction"].values())) for r in runs])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {zeros:.2f} |")
    for name, accuracy in (extra or {}).items():
        cells = [f"{100 * accuracy[f'{sigma:g}']:.1f}" for sigma in SIGMAS]
        lines.append(f"| {name} | " + " | ".join(cells) + " | |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="digits")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds (default: 3)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the dataset's)")
    parser.add_argument("--lr", type=float, help="learning rate (default: the dataset's)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="noise seeds per accuracy (default: 3)")
    parser.add_argument("--train-sigma", type=float, default=0.75,
                        help="cell noise of noise-aware training (default: 0.75)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="trainings run at once (default: one per core)")
    parser.add_argument("--recipes", default=",".join(RECIPES),
                        help="comma-separated recipes (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench" / "robustness")
    parser.add_argument("--shipped", action="store_true",
                        help="also measure the shipped example's IR (kws)")
    args = parser.parse_args(argv)
    _, epochs, lr, _, _ = DATASETS[args.dataset]
    args.epochs = args.epochs or epochs
    args.lr = args.lr or lr
    recipes = [name for name in args.recipes.split(",") if name]
    unknown = sorted(set(recipes) - set(RECIPES))
    if unknown or not recipes:
        parser.error(f"--recipes: unknown {', '.join(unknown) or 'none given'} "
                     f"(allowed: {', '.join(RECIPES)})")
    for name in ("seeds", "epochs", "repeats", "jobs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name}: expected a positive integer, not {getattr(args, name)}")
    start = time.time()
    cache = args.out / args.dataset
    cache.mkdir(parents=True, exist_ok=True)
    jobs = [(args.dataset, name, seed,
             recipe_spec(args.dataset, name, epochs=args.epochs, lr=args.lr,
                         train_sigma=args.train_sigma), args.repeats, cache)
            for name in recipes for seed in range(args.seeds)]

    say(f"{len(jobs)} trainings ({len(recipes)} recipes x {args.seeds} seeds) of {args.dataset}, "
        f"{args.epochs} epochs each, {args.jobs} at a time")
    results = run_all(run_job, jobs, args.jobs,
                      lambda r: f"{r['recipe']} seed {r['seed']}: clean {r['accuracy']['0']:.4f}")
    figures = summarize(results, recipes, args)
    extra = {}
    if args.shipped:
        say("the shipped example's IR at each sigma")
        accuracy = shipped(args.dataset, args.repeats)
        for sigma, value in accuracy.items():
            figures[f"shipped_acc_sigma_{sigma}"] = f"{value:.4f}"
        extra["shipped example"] = accuracy
    path = cache / "table.md"
    path.write_text(table(results, recipes, extra))
    figures["table"] = str(path)
    figures["seconds"] = f"{time.time() - start:.0f}"
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
