"""The report: what a run made and measured, as ``report.md`` (with figures under ``plots/``)
and ``report.json`` (the same figures as data, and the digests of the Markdown and plots).

Rendering only: the figures come from the IR and from what the verify and build steps saved;
the step runner (:mod:`.steps`) hands them over. The report is a product like the others,
keyed by what it shows (the IR, the verification, the build, what the run reused) and the
sources of every module this one can reach, so a run that changes nothing reuses it.
"""
import dataclasses
import hashlib
from pathlib import Path

from ..errors import HwgenError
from ..target import DEFAULT_TARGET, Target
from .cache import Product, Unusable, file_digest, key_digest, read_summary, summary_json, \
    write_atomic
from .sources import source_digest

__all__ = ["report_key", "write_report", "read_report", "noise_sweep", "class_names",
           "SWEEP_FACTORS"]


def report_key(spec, graph, verification: dict | None, build: dict | None,
               reused: list[str], target: Target = DEFAULT_TARGET) -> str | None:
    """The key of the report of ``graph`` with these results; None when the graph carries no
    key of its own (an IR made in memory: its report is always made)."""
    identity = graph.meta.get("hardware_key") or graph.meta.get("key")
    if identity is None:
        return None
    return key_digest({"spec": spec.name, "seed": spec.seed, "graph": identity,
                       "family": target.family,
                       **({"cim_cost": spec.cim.cost_fields()} if spec.cim is not None else {}),
                       "verification": verification, "build": build, "reused": list(reused),
                       "sources": source_digest([__name__])})


def _read_report(path: Path) -> tuple[str | None, dict]:
    """``report.json`` at ``path`` and its key, once it, the Markdown and the plots it names
    are checked against their digests."""
    try:
        saved = read_summary(path)
    except HwgenError as error:
        raise Unusable.damaged(error, path) from None
    root = path.parent
    files = {"report.md": saved.get("markdown_sha256"), **(saved.get("plots_sha256") or {})}
    for name, expected in files.items():
        found = root / name
        digest = file_digest(found) if found.is_file() else None
        if digest != expected:
            raise Unusable(found, "damaged (missing)" if digest is None else
                           "damaged (its content does not match report.json's digest)")
    return saved.get("key"), saved


def write_report(workspace, graph, *, verification: dict | None = None,
                 build: dict | None = None, target: Target = DEFAULT_TARGET) -> dict:
    """The report of ``graph`` with the verification and build summaries given (None: not
    part of this run), made unless one made from the same is saved; the report as data.
    Per-layer estimates and resource units are ``target``'s (the board's FPGA family)."""
    key = report_key(workspace.spec, graph, verification, build, workspace.reused, target)
    root = workspace.root

    def make(stage):
        report, predicted = _report(workspace.spec, graph, verification, build,
                                    workspace.reused, target)
        report["plots"] = _plots(root, graph, report, predicted)
        markdown = _markdown(report).encode()
        write_atomic(root / "report.md", markdown)
        saved = {**report, "key": key, "markdown_sha256": hashlib.sha256(markdown).hexdigest(),
                 "plots_sha256": {name: file_digest(root / name) for name in report["plots"]}}
        stage().write_bytes(summary_json(saved))
        return saved

    product = Product("report", root / "report.json", _read_report)
    return workspace.keep("report", product, key, make).value


def read_report(root: Path) -> str:
    """The Markdown report of the last run in ``root``, checked against the digest
    report.json keeps of it; HwgenError (one line) when there is none or it is damaged."""
    path = root / "report.md"
    if not path.exists():
        raise HwgenError(f"no report in {root}: run hwgen report, sim or build to make it")
    try:
        expected = read_summary(root / "report.json").get("markdown_sha256")
    except HwgenError as error:
        raise HwgenError(f"{path} cannot be checked: {error}; run hwgen sim or build to "
                         f"make it again") from None
    text = path.read_bytes()
    if hashlib.sha256(text).hexdigest() != expected:
        raise HwgenError(f"{path} damaged (its content does not match report.json's digest): "
                         f"run hwgen sim or build to make it again")
    return text.decode()


def _report(spec, graph, verification, build, reused, target) -> tuple[dict, list[int]]:
    """The report's figures as data (without its plots), and the golden model's classes of
    the test frames."""
    from ..estimate import estimate_layer
    from ..golden import run_graph
    from ..ops import op_for
    # The depth of the FIFO after each layer: a list where it feeds several.
    after = {}
    for edge, depth in zip(graph.edges(), graph.fifo_depths or ()):
        after.setdefault(edge.producer, []).append(depth)
    depths = [None if layer.name not in after else after[layer.name][0]
              if len(after[layer.name]) == 1 else after[layer.name] for layer in graph.layers]
    layers = [{**layer._meta(), "shape": op_for(layer).describe(layer),
               "inputs": list(sources), "cycles_per_frame": layer.expected_cycles(),
               "fifo_depth": depth, "estimate": dataclasses.asdict(estimate_layer(layer, target))}
              for layer, depth, sources in zip(graph.layers, depths, graph.sources)]
    sizing = graph.meta.get("fifo_sizing")
    golden = run_graph(graph)
    report = {"spec": spec.name, "seed": spec.seed,
              "float_accuracy": graph.meta.get("float_accuracy"),
              "bnn_accuracy": graph.meta.get("bnn_accuracy"),
              "golden_accuracy": golden.accuracy(graph.test_labels),
              "test_frames": len(graph.test_labels),
              "expected_cycles_per_frame": graph.expected_cycles(),
              "fifo_sizing_s": sizing.get("seconds") if sizing else None,
              "family": target.family, "units": dict(target.units),
              "layers": layers, "verification": verification, "build": build,
              "reused": list(reused)}
    if build and build.get("fmax_mhz"):
        report["inferences_per_s_at_fmax"] = build["fmax_mhz"] * 1e6 / graph.expected_cycles()
    if any(layer.macro is not None for layer in graph.mvtus()):
        report["noise_sweep"] = noise_sweep(graph)
        report["cim_cost"] = cim_costs(graph, spec.cim)
    sharing = sharing_figures(graph, target)
    if sharing:
        report["sharing"] = sharing
    candidates = sharing_candidates(graph, target)
    if candidates:
        report["sharing_candidates"] = candidates
    return report, golden.labels


def sharing_figures(graph, target) -> dict | None:
    """Convolutional result sharing of ``graph``'s shared convs: per layer the operation counts
    (:func:`hwgen.ops.smvtu.sharing.op_counts`) and the estimated LUTs shared and as the plain
    MVTU at the same throughput (fully parallel); the network's totals; and what training's
    ties did (its accuracies, from the checkpoint's metrics). None without a shared conv."""
    from ..estimate import estimate_layer
    layers = {}
    for layer in graph.mvtus():
        if getattr(layer, "op", None) != "smvtu":
            continue
        layers[layer.name] = {**_operations(layer), "luts": estimate_layer(layer, target).luts,
                              "luts_unshared": estimate_layer(layer.plain, target).luts}
    if not layers:
        return None
    before = sum(layer["xnor_popcount_ops"] for layer in layers.values())
    after = sum(layer["xnor_popcount_ops_shared"] for layer in layers.values())
    figures = {"layers": layers, "xnor_popcount_ops": before, "xnor_popcount_ops_shared": after,
               "ops_reduction": 1 - after / before}
    trained = {key.removeprefix("share_"): value for key, value in graph.meta.items()
               if key in ("share_accuracy_before", "share_accuracy_tied",
                          "share_accuracy_finetuned", "share_accuracy_reference")}
    if trained:
        figures["training"] = trained
    return figures


def _operations(layer) -> dict:
    """A shared conv's operation counts (:func:`hwgen.ops.smvtu.sharing.op_counts`), its 2-D
    filters and the distinct ones among them."""
    from ..ops.smvtu.sharing import op_counts
    return {**op_counts(layer.sharing, layer.pixels), "filters": layer.mh * layer.channels,
            "distinct": int(layer.counts.sum())}


def sharing_candidates(graph, target) -> dict | None:
    """What exact result sharing (:func:`hwgen.passes.share.share_results`) would do to each of
    ``graph``'s conv MVTUs built without it: its operation counts, and the estimated LUTs and
    cycles per frame of the layer as built, shared (fully parallel) and as the plain MVTU at
    the shared form's throughput. None where no conv could share."""
    from ..estimate import estimate_layer
    from ..passes.share import share_results
    layers = {}
    for index, layer in enumerate(graph.layers):
        if layer.op != "mvtu":
            continue
        try:
            shared = share_results(graph, [layer.name]).layers[index]
        except ValueError:              # not a digital conv (of one-bit or thermometer inputs)
            continue
        layers[layer.name] = {
            **_operations(shared), "luts_built": estimate_layer(layer, target).luts,
            "cycles_built": layer.expected_cycles(),
            "luts_shared": estimate_layer(shared, target).luts,
            "luts_unshared": estimate_layer(shared.plain, target).luts,
            "cycles_parallel": shared.expected_cycles()}
    return {"layers": layers} if layers else None


def _plots(root: Path, graph, report: dict, predicted) -> list[str]:
    """The report's figures under ``plots/``; their names relative to the output folder."""
    from . import plots
    folder = root / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    verification = report.get("verification") or {}
    made = [plots.plot_cycles(report["layers"], folder / "cycles.png",
                              measured=verification.get("measured_cycles")),
            plots.plot_resources(report["layers"], folder / "resources.png",
                                 total=report.get("build")),
            plots.plot_confusion(graph.test_labels, predicted, folder / "confusion.png",
                                 classes=class_names(graph),
                                 title="golden model (what the RTL computes, seeded noise on), test set")]
    sweep = report.get("noise_sweep")
    if sweep:
        made.append(plots.plot_noise_sweep(sweep["sigmas"], sweep["accuracies"],
                                           folder / "noise.png",
                                           trained_sigma=sweep["built_sigma"]))
    return [str(path.relative_to(root)) for path in made]


def class_names(graph) -> list[str]:
    """Names of the graph's classes: the dataset's, where the IR records them, else numbers."""
    names = graph.meta.get("class_names")
    if names and len(names) == graph.classes:
        return list(names)
    return [str(index) for index in range(graph.classes)]


#: Test frames the cim cost model measures driven wordlines on.
COST_FRAMES = 256


def cim_costs(graph, costs=None, frames: int = COST_FRAMES) -> dict:
    """Per cim layer its cost per inference (:func:`hwgen.cim.cost.layer_cost`: reads, ADC
    conversions, driven wordlines measured on the first ``frames`` test frames, energy,
    latency; ``costs``, the spec's ``cim`` section, gives the constants) and the totals."""
    from ..cim.cost import layer_cost
    from ..golden import run_layers
    from ..ir import GRAPH_INPUT
    x = graph.test_frames[:frames]
    outputs = dict(zip((layer.name for layer in graph.layers), run_layers(graph, x)))
    layers = [layer_cost(layer, x if sources[0] == GRAPH_INPUT else outputs[sources[0]],
                         costs).to_dict()
              for layer, sources in zip(graph.layers, graph.sources)
              if getattr(layer, "macro", None) is not None]
    totals = {key: round(sum(layer[key] for layer in layers), 3)
              for key in ("reads", "conversions", "energy_pj", "latency_ns")}
    return {"layers": layers, **totals,
            "constants": (costs or graph.mvtus()[0].macro).cost_fields() if layers else {}}


#: Noise levels of the report's sweep, as multiples of the sigma a network was built for.
SWEEP_FACTORS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)


def noise_sweep(graph, factors=SWEEP_FACTORS) -> dict:
    """Golden-model test accuracy of a cim network with every macro's sigma scaled by each
    factor (the same seeded noise generator as the RTL; factor 1 is the network as built)."""
    from ..golden import run_graphs
    layers = [layer for layer in graph.layers if getattr(layer, "macro", None) is not None]
    built = max(layer.macro.sigma for layer in layers)
    # The layers before the first macro are the same objects in every variant: run once.
    scaled = [dataclasses.replace(graph, layers=tuple(
        dataclasses.replace(layer, macro=dataclasses.replace(
            layer.macro, sigma=layer.macro.sigma * factor))
        if getattr(layer, "macro", None) is not None else layer for layer in graph.layers))
        for factor in factors]
    accuracies = [result.accuracy(graph.test_labels) for result in run_graphs(scaled)]
    return {"sigmas": [built * factor for factor in factors], "accuracies": accuracies,
            "built_sigma": built, "factors": list(factors)}


def _sharing_table(layers: dict, more: list[tuple[str, str]]) -> list[str]:
    """A markdown table of shared (or shareable) convs: each layer's 2-D filters, distinct ones,
    operations unshared and shared and the fraction removed, then the ``more`` columns
    (heading, key)."""
    headings = ["layer", "2-D filters", "distinct", "XNOR-popcount ops/frame", "shared",
                "removed"] + [heading for heading, _ in more]
    lines = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    for name, layer in layers.items():
        cells = [name, layer["filters"], layer["distinct"], layer["xnor_popcount_ops"],
                 layer["xnor_popcount_ops_shared"], f"{layer['ops_reduction']:.1%}"]
        lines.append("| " + " | ".join(str(cell) for cell in cells + [layer[key] for _, key in more])
                     + " |")
    return lines


def _markdown(report: dict) -> str:
    lines = [f"# hwgen report: {report['spec']}", ""]
    for key in ("float_accuracy", "bnn_accuracy"):
        if report.get(key) is not None:
            lines.append(f"- {key.replace('_', ' ')}: {report[key]:.4f}")
    if report.get("golden_accuracy") is not None:
        lines.append(f"- golden model (the IR, as the RTL computes it) accuracy: "
                     f"{report['golden_accuracy']:.4f} on {report['test_frames']} test frames")
    lines.append(f"- expected cycles/frame: {report['expected_cycles_per_frame']}")
    if report.get("fifo_sizing_s") is not None:
        lines.append(f"- FIFO sizing: {report['fifo_sizing_s']:.1f} s")
    verification = report.get("verification")
    if verification:
        frames = verification["frames"]
        # On fewer frames than the test set the RTL's accuracy is that subset's: say so, with
        # the golden model's on the same frames (equal wherever there is no mismatch).
        subset = (f" on the {frames} frames co-simulated (golden model on those: "
                  f"{verification['golden_accuracy']:.4f}; verify.frames sets how many)"
                  if frames < report.get("test_frames", frames)
                  and verification.get("golden_accuracy") is not None else "")
        lines += [f"- RTL vs golden: {verification['mismatches']} mismatches on "
                  f"{frames} frames; RTL accuracy {verification['rtl_accuracy']:.4f}{subset}",
                  f"- measured cycles/frame: {verification['measured_cycles']:.2f} "
                  f"(ratio {verification['cycles_ratio']:.3f})"]
    units = {"luts": "LUT4", "ffs": "FF", "brams": "BRAM", "dsps": "DSP",
             **report.get("units", {})}
    build = report.get("build")
    if build:
        lines += [f"- resources ({report.get('family', 'ecp5')}): {build.get('luts')} "
                  f"{units['luts']}, {build.get('ffs')} {units['ffs']}, "
                  f"{build.get('brams')} {units['brams']}, {build.get('dsps')} {units['dsps']}",
                  f"- Fmax {build.get('fmax_mhz', 0):.1f} MHz (requested {build.get('clock_mhz')} MHz)"]
    if report.get("inferences_per_s_at_fmax"):
        lines.append(f"- inferences/s at Fmax: {report['inferences_per_s_at_fmax']:.0f}")
    sweep = report.get("noise_sweep")
    if sweep:
        points = ", ".join(f"{sigma:g}: {accuracy:.4f}"
                           for sigma, accuracy in zip(sweep["sigmas"], sweep["accuracies"]))
        lines.append(f"- golden accuracy by macro noise sigma (built for "
                     f"{sweep['built_sigma']:g}): {points}")
    cost = report.get("cim_cost")
    if cost and cost["layers"]:
        constants = ", ".join(f"{key} {value:g}" for key, value in cost["constants"].items())
        lines += [f"- cim macro per inference: {cost['energy_pj']:.1f} pJ, "
                  f"{cost['latency_ns']:.0f} ns, {cost['reads']} reads, {cost['conversions']} "
                  f"ADC conversions (cost model hwgen.cim.cost; {constants})", "",
                  "| cim layer | reads | ADC conversions | driven rows/read | ADC pJ | array pJ "
                  "| accumulate pJ | energy pJ | latency ns |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {layer['name']} | {layer['reads']} | {layer['conversions']} | "
                  f"{layer['active_rows']:.2f} | {layer['adc_pj']:.1f} | {layer['array_pj']:.1f} "
                  f"| {layer['accumulate_pj']:.1f} | {layer['energy_pj']:.1f} | "
                  f"{layer['latency_ns']:.0f} |" for layer in cost["layers"]]
    lines += ["", "| layer | op | shape | PE | SIMD | cycles/frame | FIFO after | "
                  f"{units['luts']} | {units['ffs']} | {units['brams']} | {units['dsps']} |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    previous = "input"
    for layer in report["layers"]:
        macro = layer.get("macro")
        op = layer["op"] if macro is None else (
            f"{layer['op']} on cim ({macro['wordlines']} WL, {macro['adc_bits']}-bit ADC, "
            f"{macro['noise']} noise sigma {macro['sigma']})")
        reads = layer.get("inputs") or [previous]
        if reads != [previous]:         # a graph's layer that reads others than the one before
            op += f" of {', '.join(reads)}"
        previous = layer["name"]
        estimate = layer.get("estimate") or {}
        lines.append(f"| {layer['name']} | {op} | {layer['shape']} | {layer.get('pe', '')} | "
                     f"{layer.get('simd', '')} | {layer['cycles_per_frame']} | "
                     f"{layer.get('fifo_depth') or ''} | {estimate.get('luts', '')} | "
                     f"{estimate.get('ffs', '')} | {estimate.get('brams', '')} | "
                     f"{estimate.get('dsps', '')} |")
    lines.append("")
    lines.append("Per-layer resources are hwgen.estimate's figures"
                 + (" (the placed totals are above)." if build else
                    "; hwgen build places the design and reports its totals."))
    sharing = report.get("sharing")
    if sharing:
        lines += ["", "## Convolutional result sharing", "",
                  "An XNOR-popcount operation is one 2-D filter (kernel positions) on one channel "
                  "of one window; combining adds the results of each output channel "
                  "(the same in both forms) and negates an inverse filter's.", ""]
        lines += _sharing_table(sharing["layers"], [("negations/frame", "negations"),
                                                    ("LUT est. shared", "luts"),
                                                    ("LUT est. unshared", "luts_unshared")])
        lines += ["", f"- network: {sharing['ops_reduction']:.1%} of the shared convs' "
                      f"XNOR-popcount operations removed ({sharing['xnor_popcount_ops']} -> "
                      f"{sharing['xnor_popcount_ops_shared']} per frame)"]
        trained = sharing.get("training")
        if trained:
            lines.append(f"- similar filters tied in training: test accuracy "
                         f"{trained['accuracy_before']:.4f} before the ties, "
                         f"{trained['accuracy_tied']:.4f} tied, "
                         f"{trained['accuracy_finetuned']:.4f} fine-tuned; the untied network "
                         f"fine-tuned alike {trained.get('accuracy_reference', float('nan')):.4f}")
    candidates = report.get("sharing_candidates")
    if candidates:
        lines += ["", "## Convolutional result sharing (not built)", "",
                  "Exact sharing (repeated and inverse 2-D filters; the same function) of the "
                  "convs built without it: `share: {}` in the spec builds it. Fully parallel is "
                  "the form in which sharing saves logic (docs/result-sharing.md).", ""]
        lines += _sharing_table(candidates["layers"], [
            ("LUT est. as built", "luts_built"), ("cycles/frame as built", "cycles_built"),
            ("LUT est. shared", "luts_shared"), ("LUT est. unshared", "luts_unshared"),
            ("cycles/frame fully parallel", "cycles_parallel")])
    if report.get("plots"):
        lines += ["", "## Plots", ""] + [f"![{Path(name).stem}]({name})" for name in report["plots"]]
    reused = report.get("reused")
    lines += ["", "## Reused", ""]
    lines += [f"- {item}" for item in reused] if reused else ["- nothing: every step ran"]
    return "\n".join(lines) + "\n"
