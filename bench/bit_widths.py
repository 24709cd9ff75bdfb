"""The bit-width matrix: digital weights W1-W4 and activations A1-A4, every combination, on one
network; accuracy over seeds and the estimated hardware; one ``key: value`` a line.

    python bench/bit_widths.py [--dataset digits|mnist5k] [--seeds 3] [--epochs N]
        [--widths 1-4] [--verify] [--out DIR]

Each run trains the dataset's conv network at ``model.weight_bits = W`` and ``model.act_bits
= A`` (every conv, depthwise conv and linear layer; A on the hidden activations, the input
stays binary),
exports it to the IR (checked equal to the model on the whole test set) and takes the golden
model's test accuracy; the IR is auto-folded to the network's cycle target for ECP5 and
estimated. ``digits``: 8x8 pixels thresholded, conv 3x3 16 -> depthwise 3x3 -> conv 3x3 16
-> maxpool 2 -> linear 10, 30 epochs; ``mnist5k``: 28x28 thresholded, conv 3x3 16 -> maxpool 2 -> conv 3x3 32
-> maxpool 2 -> linear 10, 10 epochs.

Figures (``w<W>a<A>_...``; means over seeds, ``_std`` the standard deviation):

    w<W>a<A>_accuracy[_std]   golden test accuracy (= the model's)
    w<W>a<A>_luts, _ffs, _brams  hwgen's estimate of the folded network on ECP5 (LUT4)
    w<W>a<A>_gain_pt          accuracy - w1a1's, paired by seed, in points
    w<W>a<A>_rtl_golden_mismatches  with --verify: the seed-0 network on Verilator, 40 frames
    cycles_per_frame          the folding target
    seconds                   wall-clock time
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NETWORKS = {
    "digits": ({"dataset": "digits", "input_threshold": 7}, [
        {"type": "conv", "out": 16, "kernel": 3, "padding": 1},
        {"type": "dwconv", "kernel": 3, "padding": 1},
        {"type": "conv", "out": 16, "kernel": 3},
        {"type": "maxpool", "kernel": 2},
        {"type": "linear", "out": 10}], 30, 0.01, 1024),
    "mnist5k": ({"dataset": "mnist5k", "input_threshold": 127}, [
        {"type": "conv", "out": 16, "kernel": 3},
        {"type": "maxpool", "kernel": 2},
        {"type": "conv", "out": 32, "kernel": 3},
        {"type": "maxpool", "kernel": 2},
        {"type": "linear", "out": 10}], 10, 0.005, 4096),
}


def widths(text: str) -> list[int]:
    low, _, high = text.partition("-")
    values = list(range(int(low), int(high or low) + 1))
    if not values or min(values) < 1 or max(values) > 4:
        raise ValueError(text)
    return values


def spec_for(dataset: str, weight_bits: int, act_bits: int, seed: int, epochs: int):
    from hwgen.spec import parse_spec
    data, layers, _, lr, cycles = NETWORKS[dataset]
    return parse_spec({
        "name": f"{dataset}_w{weight_bits}a{act_bits}", "seed": seed, "data": data,
        "model": {"activation": "binary", "weight_bits": weight_bits, "act_bits": act_bits,
                  "layers": layers},
        "train": {"epochs": epochs, "lr": lr, "init_scale": 1.0},
        "hardware": {"target_cycles": cycles}}, file=f"{dataset}_bit_widths")


def run(dataset, weight_bits, act_bits, seed, epochs, data, verify: bool, build_root):
    from hwgen.golden import run_graph
    from hwgen.nn import train_model
    from hwgen.passes.fold import auto_fold
    from hwgen.passes.lower import check_export, export_graph
    from hwgen.estimate import estimate_graph
    spec = spec_for(dataset, weight_bits, act_bits, seed, epochs)
    result = train_model(spec, data, progress=False)
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    check_export(result.model, graph)
    accuracy = run_graph(graph).accuracy(data.test_y)
    folded = auto_fold(graph, target_cycles=spec.hardware.target_cycles)
    estimate = estimate_graph(folded)
    figures = {"accuracy": accuracy, "luts": estimate.luts, "ffs": estimate.ffs,
               "brams": estimate.brams}
    if verify:
        import dataclasses
        from hwgen.verify import verify_network
        small = dataclasses.replace(folded, test_frames=folded.test_frames[:40],
                                    test_labels=folded.test_labels[:40])
        figures["rtl_golden_mismatches"] = verify_network(
            small, fifo_depth=4, build_root=build_root, seed=seed).mismatches
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(NETWORKS), default="digits")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, help="training epochs (default: the dataset's)")
    parser.add_argument("--widths", default="1-4",
                        help="weight and activation bits, a range in 1..4 (default: 1-4)")
    parser.add_argument("--verify", action="store_true",
                        help="verify each seed-0 network's RTL on Verilator (40 frames)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench" / "bit_widths")
    args = parser.parse_args(argv)
    try:
        chosen = widths(args.widths)
    except ValueError:
        parser.error(f"--widths: expected a range within 1-4 such as 1-4 or 2, "
                     f"not {args.widths!r}")
    epochs = args.epochs or NETWORKS[args.dataset][2]
    for name, value in (("seeds", args.seeds), ("epochs", epochs)):
        if value < 1:
            parser.error(f"--{name}: expected a positive integer, not {value}")
    from hwgen.data import load_dataset
    start = time.time()
    results = {}
    for seed in range(args.seeds):
        data = load_dataset(spec_for(args.dataset, 1, 1, seed, epochs).data, seed)
        for w in chosen:
            for a in chosen:
                figures = run(args.dataset, w, a, seed, epochs, data,
                              args.verify and seed == 0, args.out / "sim")
                results.setdefault((w, a), []).append(figures)
                print(f"# seed {seed} w{w}a{a}: accuracy {figures['accuracy']:.4f}, "
                      f"{figures['luts']} LUT4", flush=True)
    print(f"cycles_per_frame: {NETWORKS[args.dataset][4]}")
    base = [f["accuracy"] for f in results.get((1, 1), [])]
    for (w, a), runs in sorted(results.items()):
        key = f"w{w}a{a}"
        accuracy = np.array([f["accuracy"] for f in runs])
        print(f"{key}_accuracy: {accuracy.mean():.4f}")
        print(f"{key}_accuracy_std: {accuracy.std():.4f}")
        if base and (w, a) != (1, 1):
            gain = 100 * (accuracy - np.array(base))
            print(f"{key}_gain_pt: {gain.mean():+.2f}")
        for name in ("luts", "ffs", "brams"):
            print(f"{key}_{name}: {runs[0][name]}")
        if "rtl_golden_mismatches" in runs[0]:
            print(f"{key}_rtl_golden_mismatches: {runs[0]['rtl_golden_mismatches']}")
    print(f"seconds: {time.time() - start:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
