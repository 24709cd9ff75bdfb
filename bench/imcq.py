"""IMC-aware quantization (IMCQ, the IMCAQ thesis) on the CIM macro: what the macro's limits
cost a W2A2 network, and the noise-adaptive Concrete ADC quantizer against the straight-through
one under noise, over seeds; one ``key: value`` a line.

    python bench/imcq.py --dataset mnist5k|digits [--seeds 5] [--epochs N] [--sigma S]
        [--temperature T0:T1] [--repeats 3] [--jobs 2] [--runs a,b] [--sweep] [--verify]
        [--out DIR]

Every run trains the dataset's W2A2 network (2-bit weights {-3, -1, 1, 3}, 2-bit activations
0..3) through the macro's float twin, exports it to the IR (checked equal to the model) and
takes the golden model's test accuracy (with noise: the macro's hashed cell noise, the RTL's,
``--repeats`` noise seeds averaged). Runs of one seed share it, so every difference is paired:

    exact      9 wordlines, an ADC that is exact (5 bits at unit step: code = bitline sum + 16)
    imcq       9 wordlines, a 4-bit ADC over the group's range (step 1.2): the macro's limits
    ste        the 4-bit macro with cell noise --sigma, trained through it, straight-through ADC
    concrete   the same, the Concrete ADC quantizer (codes drawn from their distribution under
               the noise, relaxed gradient), temperature annealed T0 -> T1 (--temperature)
    expected   the same, the noisy read's code forwarded as by ste, the gradient that of the
               code's expectation under the noise (Concrete's without its sampling variance)

Networks: ``mnist5k`` LeNet-like, conv 3x3 16 -> pool -> conv 3x3 36 -> pool -> 900 -> 72
(cim) -> 10 (cim), 5 epochs by default; ``digits`` 64 2-bit pixels -> 144 (digital) -> 144
(cim) -> 10 (cim), 30 epochs. The convolutions are digital W2A2: the macro's float twin
simulates every read of a cim convolution (121 windows a frame here), which made one Concrete
training of the whole LeNet on the macro a matter of hours on one core; ``macro_layers`` says
which layers the ADC and its noise apply to.

Figures (means over seeds; ``_std`` the standard deviation over seeds; ``_pt`` in points):

    <run>_acc[_std]           test accuracy
    imcq_loss_pt[_std]        exact - imcq, paired by seed (goal on mnist5k: <= 0.3)
    ste_noise_loss_pt         imcq - ste: what the noise costs the straight-through network
    unaware_acc[_std]         the imcq network (trained without noise) on the noisy macro
    ste_vs_unaware_pt,        ste (concrete) - unaware, paired by seed: what training through
    concrete_vs_unaware_pt    the noise buys with each quantizer (a noise-unaware baseline is
                              how the thesis's STE figure may read; concrete_gain_pt is the
                              stricter comparison, both trained through the same noise)
    concrete_gain_pt[_std]    concrete - ste, paired by seed (goal: >= 1 where ste loses >= 3)
    expected_gain_pt[_std]    expected - ste, paired by seed: a noise-aware gradient alone
    concrete_vs_expected_pt   concrete - expected: what the Concrete sample's variance costs
    thesis_*                  the IMCAQ thesis's figures for comparison (CIFAR-10 VGG, MNIST
                              LeNet): imcq loss 1.31 / 0.05, Concrete gain 2.92 (CIFAR-10)
    sweep_<sigma>_<T>_gain_pt with --sweep: concrete - ste at half and twice --sigma and at
                              temperatures (2 seeds each), the evidence when the gain is absent
    rtl_golden_mismatches     with --verify: the seed-0 ste network on Verilator, --verify-frames
                              test frames, against the golden model with the noise on (goal 0)
    macro_layers              the layers on the macro (the rest are exact digital W2A2)
    seconds                   wall-clock time

Results are kept in ``--out`` per run and seed (keyed by their spec and the training sources).
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from trainings import REPO, keep, noisy_accuracy, run_all, say

THESIS = {"thesis_imcq_loss_pt_mnist_lenet": 0.05, "thesis_imcq_loss_pt_cifar10_vgg": 1.31,
          "thesis_concrete_gain_pt_cifar10_vgg": 2.92}

NETWORKS = {
    "mnist5k": ({"dataset": "mnist5k", "test_fraction": 0.2, "input_bits": 2}, [
        {"type": "conv", "out": 16, "kernel": 3}, {"type": "maxpool", "kernel": 2},
        {"type": "conv", "out": 36, "kernel": 3},
        {"type": "maxpool", "kernel": 2},
        {"type": "linear", "out": 72, "backend": "cim"},
        {"type": "linear", "out": 10, "backend": "cim"}], 5, 0.005),
    "digits": ({"dataset": "digits", "input_bits": 2}, [
        {"type": "linear", "in": 64, "out": 144},
        {"type": "linear", "in": 144, "out": 144, "backend": "cim"},
        {"type": "linear", "in": 144, "out": 10, "backend": "cim"}], 30, 0.01),
}

#: Each run's macro and training options (the sigma and temperatures filled in per run).
RUNS = {
    "exact": {"adc_bits": 5, "adc_range": 15.5},
    "imcq": {"adc_bits": 4},
    "ste": {"adc_bits": 4, "noisy": True, "quantizer": "ste"},
    "concrete": {"adc_bits": 4, "noisy": True, "quantizer": "concrete"},
    "expected": {"adc_bits": 4, "noisy": True, "quantizer": "expected"},
}


def run_spec(dataset: str, run: str, *, epochs: int, lr: float, sigma: float,
             temperature: tuple[float, float]) -> dict:
    data, layers, _, _ = NETWORKS[dataset]
    options = RUNS[run]
    cim = {"rows": 288, "columns": 256, "wordlines": 9, "adc_bits": options["adc_bits"],
           "weight_bits": 2, "act_bits": 2, "noise": "cell",
           "sigma": sigma if options.get("noisy") else 0.0, "seed": 1}
    if "adc_range" in options:
        cim["adc_range"] = options["adc_range"]
    train = {"epochs": epochs, "lr": lr, "adc_quantizer": options.get("quantizer", "ste")}
    if options.get("quantizer") == "concrete":
        train.update(concrete_temperature=temperature[0],
                     concrete_temperature_final=temperature[1])
    return {"name": f"imcq_{dataset}", "seed": 0, "data": data,
            "model": {"activation": "binary", "act_bits": 2, "layers": layers},
            "cim": cim, "train": train}


def run_job(dataset: str, run: str, seed: int, spec_map: dict, sigma: float, repeats: int,
            path: Path, tag: str) -> dict:
    # The imcq run also measures the noise-unaware figure (a key of its own).
    return keep(path, [spec_map, seed, sigma, repeats] + (["unaware"] if run == "imcq" else []),
                lambda: _measure(dataset, run, seed, spec_map, sigma, repeats, tag))


def _measure(dataset, run, seed, spec_map, sigma, repeats, tag) -> dict:
    import torch
    from hwgen.data import load_dataset
    from hwgen.nn import train_model
    from hwgen.passes.lower import check_export, export_graph
    from hwgen.spec import parse_spec
    torch.set_num_threads(1)
    spec = parse_spec(spec_map, file=f"imcq {dataset}:{run}")
    data = load_dataset(spec.data, spec.seed)
    model = train_model(spec, data, seed=seed, progress=False).model
    graph = export_graph(model, spec, data.test_x, data.test_y)
    check_export(model, graph)
    noisy = RUNS[run].get("noisy", False)
    # The imcq network is also measured on the noisy macro: the noise-unaware baseline a
    # quantizer trained through the noise is measured against too.
    sigmas = [sigma if noisy else 0.0] + ([sigma] if run == "imcq" else [])
    accuracy = noisy_accuracy(graph, sigmas, repeats)
    result = {"dataset": dataset, "run": run, "seed": seed, "tag": tag,
              "sigma": sigmas[0], "accuracy": accuracy[f"{sigmas[0]:g}"]}
    if run == "imcq":
        result["accuracy_noisy"] = accuracy[f"{sigma:g}"]
    return result


def _paired(results, a: str, b: str) -> np.ndarray:
    """Per seed that has both, 100 * (run a's accuracy - run b's)."""
    acc = {(r["run"], r["seed"]): r["accuracy"] for r in results}
    seeds = sorted({seed for run, seed in acc if run == a} & {seed for run, seed in acc if run == b})
    return np.array([100 * (acc[a, s] - acc[b, s]) for s in seeds])


def _verify(graph_job, frames: int, out: Path) -> dict:
    """The job's network exported again (kept checkpoint not needed: training is seeded) and
    verified on Verilator with the noise on."""
    import torch
    from hwgen.data import load_dataset
    from hwgen.nn import train_model
    from hwgen.passes.lower import export_graph
    from hwgen.spec import parse_spec
    from hwgen.verify import verify_network
    dataset, run, seed, spec_map = graph_job[:4]
    torch.set_num_threads(1)
    spec = parse_spec(spec_map, file=f"imcq {dataset}:{run}")
    data = load_dataset(spec.data, spec.seed)
    model = train_model(spec, data, seed=seed, progress=False).model
    graph = export_graph(model, spec, data.test_x[:frames], data.test_y[:frames])
    result = verify_network(graph, fifo_depth=16, build_root=out / "sim")
    return {"rtl_frames": result.frames, "rtl_golden_mismatches": result.mismatches,
            "rtl_noise_acc": f"{result.rtl_accuracy:.4f}",
            "golden_noise_acc": f"{result.golden_accuracy:.4f}"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(NETWORKS), default="mnist5k")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, help="training epochs (default: the dataset's)")
    parser.add_argument("--lr", type=float, help="learning rate (default: the dataset's)")
    parser.add_argument("--sigma", type=float, default=1.0,
                        help="cell noise of the noisy runs (default: 1.0)")
    parser.add_argument("--temperature", default="1.0:0.1",
                        help="Concrete temperature, first:last epoch (default: 1.0:0.1)")
    parser.add_argument("--repeats", type=int, default=3, help="noise seeds (default: 3)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--runs", default=",".join(RUNS),
                        help="comma-separated runs (default: all; a figure needs its runs)")
    parser.add_argument("--sweep", action="store_true",
                        help="also concrete - ste at half and twice --sigma, and at "
                             "temperatures 0.5 (fixed) and 2.0:0.05 (2 seeds each)")
    parser.add_argument("--verify", action="store_true",
                        help="verify the seed-0 ste network's RTL on Verilator")
    parser.add_argument("--verify-frames", type=int, default=100)
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench" / "imcq")
    args = parser.parse_args(argv)
    _, _, epochs, lr = NETWORKS[args.dataset]
    epochs, lr = args.epochs or epochs, args.lr or lr
    try:
        first, last = (float(t) for t in args.temperature.split(":"))
    except ValueError:
        parser.error(f"--temperature: expected FIRST:LAST, not {args.temperature!r}")
    runs = [name for name in args.runs.split(",") if name]
    unknown = sorted(set(runs) - set(RUNS))
    if unknown or not runs:
        parser.error(f"--runs: unknown {', '.join(unknown) or 'none given'} "
                     f"(allowed: {', '.join(RUNS)})")
    for name in ("seeds", "epochs", "repeats", "jobs", "verify_frames"):
        value = getattr(args, name) if name != "epochs" else epochs
        if value < 1:
            parser.error(f"--{name.replace('_', '-')}: expected a positive integer, not {value}")
    if args.sweep and not {"ste", "concrete"} <= set(runs):
        parser.error("--sweep needs the ste and concrete runs")
    start = time.time()
    cache = args.out / args.dataset

    def job(run, seed, sigma=args.sigma, temperature=(first, last), tag=""):
        spec = run_spec(args.dataset, run, epochs=epochs, lr=lr, sigma=sigma,
                        temperature=temperature)
        return (args.dataset, run, seed, spec, sigma, args.repeats,
                cache / f"{tag}{run}_seed{seed}.json", tag)

    jobs = [job(run, seed) for run in runs for seed in range(args.seeds)]
    sweep = []
    if args.sweep:
        for sigma, temperature in ((args.sigma / 2, (first, last)), (args.sigma * 2, (first, last)),
                                   (args.sigma, (0.5, 0.5)), (args.sigma, (2.0, 0.05))):
            tag = f"sweep_{sigma:g}_{temperature[0]:g}_{temperature[1]:g}_"
            sweep.append(tag)
            # STE has no temperature: at --sigma its runs are the main ones.
            pair = ("ste", "concrete") if sigma != args.sigma else ("concrete",)
            jobs += [job(run, seed, sigma, temperature, tag) for run in pair for seed in range(2)]
    say(f"{len(jobs)} trainings of the {args.dataset} W2A2 network, {epochs} epochs each, "
        f"{args.jobs} at a time")
    results = run_all(run_job, jobs, args.jobs,
                      lambda r: f"{r['tag']}{r['run']} seed {r['seed']}: {r['accuracy']:.4f}")
    main_runs = [r for r in results if not r["tag"]]
    figures = {"dataset": args.dataset, "seeds": args.seeds,
               "schedule": f"{epochs} epochs at lr {lr:g}", "sigma": f"{args.sigma:g}",
               "temperature": f"{first:g} -> {last:g}",
               "macro_layers": ", ".join(
                   f"{'fc' if layer['type'] == 'linear' else layer['type']}{index} "
                   f"({layer['out']})"
                   for index, layer in enumerate(NETWORKS[args.dataset][1])
                   if layer.get("backend") == "cim")}
    main_runs += [{**r, "run": "unaware", "accuracy": r["accuracy_noisy"]}
                  for r in main_runs if r["run"] == "imcq"]
    # The imcq runs also give the unaware figures.
    measured = [*runs, "unaware"] if "imcq" in runs else runs
    for run in measured:
        values = np.array([r["accuracy"] for r in main_runs if r["run"] == run])
        figures[f"{run}_acc"] = f"{values.mean():.4f}"
        figures[f"{run}_acc_std"] = f"{values.std():.4f}"
    for key, (a, b) in {"imcq_loss_pt": ("exact", "imcq"), "ste_noise_loss_pt": ("imcq", "ste"),
                        "concrete_gain_pt": ("concrete", "ste"),
                        "expected_gain_pt": ("expected", "ste"),
                        "concrete_vs_expected_pt": ("concrete", "expected"),
                        "ste_vs_unaware_pt": ("ste", "unaware"),
                        "concrete_vs_unaware_pt": ("concrete", "unaware")}.items():
        if a not in measured or b not in measured:
            continue
        diff = _paired(main_runs, a, b)
        figures[key] = f"{diff.mean():+.2f}"
        figures[f"{key}_std"] = f"{diff.std():.2f}"
    if "imcq_loss_pt" in figures:
        figures["goal_imcq_loss"] = "yes" if float(figures["imcq_loss_pt"]) <= 0.3 else "no"
    if "concrete_gain_pt" in figures and "ste_noise_loss_pt" in figures:
        gain = float(figures["concrete_gain_pt"])
        figures["goal_concrete_gain"] = (
            ("yes" if gain >= 1.0 else "no") if float(figures["ste_noise_loss_pt"]) >= 3.0
            else f"not judged (ste loses {figures['ste_noise_loss_pt']} points, < 3)")
    figures.update({key: f"{value:g}" for key, value in THESIS.items()})
    for tag in sweep:
        tagged = [r for r in results if r["tag"] == tag]
        if not any(r["run"] == "ste" for r in tagged):
            tagged += [r for r in main_runs if r["run"] == "ste"]
        diff = _paired(tagged, "concrete", "ste")
        figures[f"{tag}gain_pt"] = f"{diff.mean():+.2f}"
    if args.verify:
        say("verifying the seed-0 ste network on Verilator")
        figures.update(_verify(job("ste", 0), args.verify_frames, cache))
    figures["seconds"] = f"{time.time() - start:.0f}"
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
