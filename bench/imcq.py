"""IMC-aware quantization (IMCQ) on the CIM macro: what the macro's limits cost a W2A2 network,
and the noise-adaptive (Concrete) ADC quantizer under noise; one ``key: value`` a line.

    python bench/imcq.py [--epochs 30] [--sigma 0.5] [--repeats 5] [--out DIR]

The network is an MLP on scikit-learn's digits (64 2-bit pixels -> 144 -> 144 -> 10) with 2-bit
weights ({-3, -1, 1, 3}) and 2-bit activations (0..3) on its two cim layers (the first layer,
64 wide, stays digital: 9 wordlines do not divide it). Each network is trained through the
macro's float twin (:func:`hwgen.cim.macro_mvm_float`), so what is trained is what the macro
computes:

    exact_acc          W2A2 with an exact MVM: 16 wordlines and a 6-bit ADC at unit step
                       (every code = bitline sum + 32, nothing clipped or rounded)
    imcq_acc           W2A2 trained under the macro's limits: 9 wordlines per read, a 4-bit ADC
    imcq_loss_pt       exact_acc - imcq_acc, in points (goal <= 1)
    ste_noise_acc      9 wordlines, 4-bit ADC, cell noise --sigma, trained through the noise with
                       the straight-through ADC; accuracy under the noise (mean of --repeats)
    concrete_noise_acc the same trained with the Concrete ADC quantizer (codes drawn from their
                       distribution under the noise, relaxed gradient; IMCAQ-style)
    concrete_gain_pt   concrete_noise_acc - ste_noise_acc, in points
    golden_noise_acc   the STE-trained noisy network exported to the IR (2-bit activations as
                       multi-thresholds): its golden model's accuracy with the macro's seeded
                       hash noise
    rtl_noise_acc      the same network's RTL on Verilator, every test frame
    rtl_golden_mismatches  frames whose RTL logits differ from the golden model's (goal 0)
    plot               the PNG written, or why not
    seconds            wall-clock time
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hwgen.data import load_dataset
from hwgen.passes.lower import check_export, export_graph
from hwgen.nn import train_model
from hwgen.verify import verify_network
from hwgen.spec import parse_spec

REPO = Path(__file__).resolve().parent.parent


def _spec(*, wordlines, adc_bits, adc_range, epochs, sigma=0.0, quantizer="ste"):
    return parse_spec({
        "name": "imcq",
        "data": {"dataset": "digits", "input_bits": 2},
        "model": {"activation": "binary", "act_bits": 2, "layers": [
            {"type": "linear", "in": 64, "out": 144},
            {"type": "linear", "in": 144, "out": 144, "backend": "cim"},
            {"type": "linear", "in": 144, "out": 10, "backend": "cim"}]},
        "cim": {"rows": 288, "columns": 256, "wordlines": wordlines, "adc_bits": adc_bits,
                "adc_range": adc_range, "weight_bits": 2, "act_bits": 2, "noise": "cell",
                "sigma": sigma, "seed": 1},
        "train": {"epochs": epochs, "adc_quantizer": quantizer},
    })


@torch.no_grad()
def _accuracy(model, data, *, noise: bool, repeats: int) -> float:
    model.eval()
    model.macro_noise = noise
    x, y = torch.as_tensor(data.test_x), torch.as_tensor(data.test_y)
    scores = []
    for repeat in range(repeats if noise else 1):
        torch.manual_seed(1000 + repeat)
        scores.append(float((model(x).argmax(1) == y).float().mean()))
    model.macro_noise = False
    return float(np.mean(scores))


def _plot(figures: dict, path: Path) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib)"
    names = ["exact_acc", "imcq_acc", "ste_noise_acc", "concrete_noise_acc"]
    labels = ["W2A2 exact MVM", "IMCQ: 9 WL,\n4-bit ADC", "+ noise, STE ADC",
              "+ noise, Concrete ADC"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    bars = ax.bar(labels, [100 * figures[name] for name in names],
                  color=["#777", "#3a7", "#c64", "#36c"])
    ax.bar_label(bars, fmt="%.1f")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(50, 100)
    ax.set_title("digits MLP on the CIM macro (2-bit weights and activations)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--sigma", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench")
    args = parser.parse_args(argv)
    start = time.time()
    runs = {
        "exact": dict(wordlines=16, adc_bits=6, adc_range=31.5),
        "imcq": dict(wordlines=9, adc_bits=4, adc_range=None),
        "ste_noise": dict(wordlines=9, adc_bits=4, adc_range=None, sigma=args.sigma),
        "concrete_noise": dict(wordlines=9, adc_bits=4, adc_range=None, sigma=args.sigma,
                               quantizer="concrete"),
    }
    figures = {}
    for name, options in runs.items():
        print(f"training {name} ...", file=sys.stderr, flush=True)
        spec = _spec(epochs=args.epochs, **options)
        data = load_dataset(spec.data, spec.seed)
        model = train_model(spec, data, progress=False).model
        figures[f"{name}_acc"] = _accuracy(model, data, noise=options.get("sigma", 0) > 0,
                                           repeats=args.repeats)
        if name == "ste_noise":
            print("exporting and verifying it on Verilator ...", file=sys.stderr, flush=True)
            graph = export_graph(model, spec, data.test_x, data.test_y)
            check_export(model, graph)
            verification = verify_network(graph, fifo_depth=16,
                                          build_root=args.out / "imcq_sim")
            figures["golden_noise_acc"] = verification.golden_accuracy
            figures["rtl_noise_acc"] = verification.rtl_accuracy
            figures["rtl_golden_mismatches"] = verification.mismatches
    figures["imcq_loss_pt"] = 100 * (figures["exact_acc"] - figures["imcq_acc"])
    figures["concrete_gain_pt"] = 100 * (figures["concrete_noise_acc"] - figures["ste_noise_acc"])
    args.out.mkdir(parents=True, exist_ok=True)
    figures["plot"] = _plot(figures, args.out / "imcq.png")
    figures["seconds"] = time.time() - start
    for key, value in figures.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
