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
