"""The report: per-layer estimates, the noise sweep of a cim network and the plots."""
import dataclasses
import json

import numpy as np

from hwgen.cim import MacroSpec
from hwgen.flow import Workspace
from hwgen.flow.report import noise_sweep
from hwgen.golden import run_graph, run_graphs
from hwgen.ir import Graph
from hwgen.spec import load_spec

from tests.conftest import random_cim_layer, random_layer

PNG = b"\x89PNG\r\n\x1a\n"


def _cim_graph(rng, sigma=2.0, frames=64) -> Graph:
    macro = MacroSpec(wordlines=8, adc_bits=3, noise="cell", sigma=sigma, seed=3,
                      encoding="binary")
    hidden = random_cim_layer(rng, mw=32, mh=16, pe=4, macro=macro, key=0)
    logits = random_layer(rng, mw=16, mh=4, pe=2, simd=8, logits=True, name="fc",
                          in_encoding="binary")
    return Graph("cim", (32, 1, 1), 4, (hidden, logits), rng.integers(0, 2, (frames, 32)),
                 rng.integers(0, 4, frames), input_encoding="binary")


def test_noise_sweep_scales_every_macro_and_keeps_the_built_point():
    graph = _cim_graph(np.random.default_rng(0))
    sweep = noise_sweep(graph, factors=(0.0, 1.0, 4.0))
    assert sweep["built_sigma"] == 2.0 and sweep["sigmas"] == [0.0, 2.0, 8.0]
    built = run_graph(graph)
    assert sweep["accuracies"][1] == built.accuracy(graph.test_labels)
    quiet_layer = dataclasses.replace(graph.layers[0], macro=dataclasses.replace(
        graph.layers[0].macro, sigma=0.0))
    quiet = run_graph(dataclasses.replace(graph, layers=(quiet_layer, graph.layers[1])))
    assert sweep["accuracies"][0] == quiet.accuracy(graph.test_labels)
    assert not np.array_equal(quiet.logits, built.logits)     # the noise matters here


def test_run_graphs_runs_what_variants_share_once(monkeypatch):
    """Variants of a graph that replace its last layer: each result is run_graph's, bit for
    bit (dots included), and the first layer (the same object in each) runs once."""
    import hwgen.golden.network as network
    rng = np.random.default_rng(1)
    graph = _cim_graph(rng)
    other = random_layer(rng, mw=16, mh=4, pe=2, simd=8, logits=True, name="fc",
                         in_encoding="binary")
    variants = [graph, dataclasses.replace(graph, layers=(graph.layers[0], other)), graph]
    expected = [run_graph(variant) for variant in variants]
    ran = []
    real = network.run_layer
    monkeypatch.setattr(network, "run_layer",
                        lambda layer, x, dots=None: ran.append(layer.name) or real(layer, x, dots))
    results = run_graphs(variants)
    assert ran == [graph.layers[0].name, "fc", "fc"]
    for result, want in zip(results, expected):
        assert np.array_equal(result.logits, want.logits)
        assert np.array_equal(result.labels, want.labels)
        assert len(result.dots) == len(want.dots) == 2
        assert all(np.array_equal(a, b) for a, b in zip(result.dots, want.dots))
    # A replaced first layer runs everything after it again.
    first = dataclasses.replace(graph.layers[0], macro=dataclasses.replace(
        graph.layers[0].macro, sigma=0.0))
    ran.clear()
    run_graphs([graph, dataclasses.replace(graph, layers=(first, graph.layers[1]))])
    assert ran == [graph.layers[0].name, "fc", graph.layers[0].name, "fc"]


def test_report_has_estimates_sweep_plots_and_reuse(tmp_path):
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text("name: s\nmodel: {layers: [{type: linear, out: 10}]}\n")
    workspace = Workspace.create(load_spec(spec_file), tmp_path / "out", say=lambda m: None)
    workspace.reused.append("IR somewhere")
    graph = _cim_graph(np.random.default_rng(1))
    report = workspace.write_report(graph)
    assert [layer["estimate"]["luts"] > 0 for layer in report["layers"]] == [True, True]
    assert report["golden_accuracy"] == run_graph(graph).accuracy(graph.test_labels)
    assert len(report["noise_sweep"]["accuracies"]) == 6
    assert report["plots"] == ["plots/cycles.png", "plots/resources.png", "plots/confusion.png",
                               "plots/noise.png"]
    for name in report["plots"]:
        assert (tmp_path / "out" / name).read_bytes().startswith(PNG)
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "![confusion](plots/confusion.png)" in markdown
    assert "## Reused\n\n- IR somewhere" in markdown
    assert "golden accuracy by macro noise sigma (built for 2)" in markdown
    assert json.loads((tmp_path / "out" / "report.json").read_text())["reused"] == ["IR somewhere"]


def test_rtl_accuracy_on_a_subset_says_so():
    """Co-simulated on fewer frames than the test set, the RTL's accuracy is that subset's:
    the report says how many and gives the golden model's on the same frames."""
    from hwgen.flow.report import _markdown
    verification = {"mismatches": 0, "frames": 300, "rtl_accuracy": 0.9233,
                    "golden_accuracy": 0.9233, "measured_cycles": 10.0, "cycles_ratio": 1.0}
    base = {"spec": "kws", "expected_cycles_per_frame": 10, "layers": [],
            "golden_accuracy": 0.9052, "test_frames": 2448}
    text = _markdown({**base, "verification": verification})
    assert ("RTL accuracy 0.9233 on the 300 frames co-simulated (golden model on those: "
            "0.9233; verify.frames sets how many)") in text
    whole = _markdown({**base, "test_frames": 300, "verification": verification})
    assert "RTL accuracy 0.9233\n" in whole
