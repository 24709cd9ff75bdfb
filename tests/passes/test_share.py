"""The share-results pass: conv MVTUs as shared units computing the same function."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hwgen.golden import run_graph
from hwgen.ir import load_ir
from hwgen.passes.share import share_results

KWS_IR = Path(__file__).resolve().parent.parent.parent / "examples" / "kws" / "model.ir.npz"


def test_sharing_the_kws_convs_keeps_the_network():
    graph = load_ir(KWS_IR)
    graph = dataclasses.replace(graph, test_frames=graph.test_frames[:40],
                                test_labels=graph.test_labels[:40])
    shared = share_results(graph, ["conv0", "conv2"])
    ops = {layer.name: layer.op for layer in shared.layers}
    assert ops["conv0"] == ops["conv2"] == "smvtu" and ops["fc4"] == "mvtu"
    layers = {layer.name: layer for layer in shared.layers}
    assert layers["conv2_swg"].simd == layers["conv2_swg"].channels      # a pixel a transfer
    assert layers["pool3"].pe == layers["pool3"].channels
    assert int(layers["conv2"].counts.sum()) == 512
    before, after = run_graph(graph), run_graph(shared)
    assert np.array_equal(before.logits, after.logits)
    assert all(np.array_equal(a, b) for a, b in zip(before.dots, after.dots))


def test_only_convs_share():
    graph = load_ir(KWS_IR)
    with pytest.raises(ValueError, match="layer 'fc4' is not a digital conv MVTU"):
        share_results(graph, ["fc4"])
    with pytest.raises(ValueError, match="no layers conv9 to share"):
        share_results(graph, ["conv9"])


def test_the_report_shows_what_sharing_would_do_to_convs_built_without_it():
    from hwgen.flow.report import sharing_candidates
    from hwgen.target import target
    graph = load_ir(KWS_IR)
    candidates = sharing_candidates(graph, target("ecp5"))["layers"]
    assert sorted(candidates) == ["conv0", "conv2"]           # fc4 (cim) and fc5 are dense
    conv2 = candidates["conv2"]
    assert (conv2["filters"], conv2["distinct"]) == (16384, 512)
    assert conv2["xnor_popcount_ops_shared"] == 512 * 24          # each distinct once a window
    assert conv2["cycles_built"] == graph.layers[4].expected_cycles() == 9216
    assert conv2["cycles_parallel"] == 24
    from hwgen.flow.report import _markdown
    text = _markdown({"spec": "kws", "expected_cycles_per_frame": 1, "layers": [],
                      "sharing_candidates": {"layers": candidates}})
    assert "## Convolutional result sharing (not built)" in text
    assert "| conv2 | 16384 | 512 | 393216 | 12288 | 96.9% |" in text
    # Once shared, a conv is no candidate.
    assert sorted(sharing_candidates(share_results(graph, ["conv2"]), target("ecp5"))["layers"]) \
        == ["conv0"]
