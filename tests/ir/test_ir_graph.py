"""IR graphs that are not chains: each layer's ``inputs``, the edges the FIFOs sit on, a lossless
round trip, version-5 chains read as before, and one clear line for inputs no graph has."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from hwgen.errors import HwgenError
from hwgen.ir import GRAPH_INPUT, Edge, Graph, load_ir, save_ir
from hwgen.ops import AddLayer, ConcatLayer
from hwgen.golden import run_graph, run_layers
from tests.conftest import random_layer

REPO = Path(__file__).resolve().parents[2]


def _dag(rng, frames=12) -> Graph:
    """16 binary features -> a (8) -> b (8); s = a + b (0..2) -> c (8); the concatenation of
    b and c (16) -> out (4 logits)."""
    def binary(layer):
        return dataclasses.replace(layer, out_encoding="binary")
    a = binary(random_layer(rng, mw=16, mh=8, pe=2, simd=4, name="a", in_encoding="binary"))
    b = binary(random_layer(rng, mw=8, mh=8, pe=4, simd=8, name="b", in_encoding="binary"))
    s = AddLayer("s", 8, 1, 1, 2, (1, 1))
    c = binary(random_layer(rng, mw=8, mh=8, pe=8, simd=2, name="c", in_encoding="uint",
                            in_bits=2))
    cat = ConcatLayer("cat", (8, 8), 1, 1, 1, "binary")
    out = random_layer(rng, mw=16, mh=4, pe=2, simd=16, logits=True, name="out",
                       in_encoding="binary")
    return Graph(name="dag", input_shape=(16, 1, 1), classes=4, input_encoding="binary",
                 layers=(a, b, s, c, cat, out),
                 inputs=((GRAPH_INPUT,), ("a",), ("a", "b"), ("s",), ("b", "c"), ("cat",)),
                 test_frames=rng.integers(0, 2, (frames, 16)), test_labels=rng.integers(0, 4, frames))


def test_a_graph_has_edges_in_consumer_order():
    graph = _dag(np.random.default_rng(1))
    assert not graph.is_chain and graph.inputs == graph.sources
    assert graph.edges() == [Edge("a", "b", 0), Edge("a", "s", 0), Edge("b", "s", 1),
                             Edge("s", "c", 0), Edge("b", "cat", 0), Edge("c", "cat", 1),
                             Edge("cat", "out", 0)]
    assert graph.consumers("b") == [Edge("b", "s", 1), Edge("b", "cat", 0)]
    activations = graph.activations()
    assert (activations[3].encoding, activations[3].bits) == ("uint", 2)
    assert activations[5].channels == 16


def test_the_golden_model_follows_the_edges():
    graph = _dag(np.random.default_rng(2))
    x = graph.test_frames.astype(np.int64)
    outputs = run_layers(graph)
    a, b, s, c, cat, _ = outputs
    np.testing.assert_array_equal(s, a + b)
    np.testing.assert_array_equal(cat, np.concatenate([b, c], axis=1))
    from hwgen.ops.mvtu.golden import mvtu
    import torch
    np.testing.assert_array_equal(a, mvtu(graph.layers[0], torch.as_tensor(x)).numpy())
    np.testing.assert_array_equal(run_graph(graph).logits, outputs[-1])


def test_a_graph_round_trips_through_a_file(tmp_path):
    graph = _dag(np.random.default_rng(3)).with_fifo_depths([2, 9, 3, 2, 17, 2, 4])
    save_ir(graph, tmp_path / "dag.ir.npz")
    again = load_ir(tmp_path / "dag.ir.npz")
    assert again.sources == graph.sources and again.fifo_depths == graph.fifo_depths
    assert again.version == 6
    np.testing.assert_array_equal(run_graph(again).logits, run_graph(graph).logits)
    with pytest.raises(ValueError, match="fifo_depths must hold 7 positive depths"):
        graph.with_fifo_depths([2] * 5)


def test_a_version_5_chain_reads_as_a_chain(tmp_path):
    shipped = REPO / "examples" / "kws" / "model.ir.npz"
    with np.load(shipped) as npz:
        assert json.loads(npz["__ir__"].tobytes())["version"] == 5
    graph = load_ir(shipped)
    assert graph.is_chain and graph.inputs is None and len(graph.edges()) == len(graph.layers) - 1
    save_ir(graph, tmp_path / "again.ir.npz")
    again = load_ir(tmp_path / "again.ir.npz")
    assert again.is_chain and again.version == 6


@pytest.mark.parametrize("inputs,message", [
    ((("a",), ("a",), ("a", "b"), ("s",), ("b", "c"), ("cat",)),
     "layer 'a': the first layer reads the graph's input alone"),
    (((GRAPH_INPUT,), ("a",), ("a", "c"), ("s",), ("b", "c"), ("cat",)),
     "layer 's': its input 'c' is not an earlier layer"),
    (((GRAPH_INPUT,), (GRAPH_INPUT,), ("a", "b"), ("s",), ("b", "c"), ("cat",)),
     "layer 'b': only the first layer reads the graph's input"),
    (((GRAPH_INPUT,), ("a",), ("a",), ("s",), ("b", "c"), ("cat",)),
     "layer 's': an add reads 2 inputs, not 1 (a)"),
    (((GRAPH_INPUT,), ("a",), ("a", "b"), ("s",), ("c",), ("cat",)),
     "layer 'cat': a concat reads 2 inputs, not 1 (c)"),
    (((GRAPH_INPUT,), ("a",), ("a", "a"), ("s",), ("b", "c"), ("cat",)),
     "layer 's' reads 'a' twice"),
    (((GRAPH_INPUT,), ("a",), ("a", "b"), ("b",), ("b", "c"), ("cat",)),
     "layer 's' feeds no other layer"),
    (((GRAPH_INPUT,), ("a",), ("a", "b")), "inputs must name the inputs of 6 layers, not 3"),
])
def test_a_graph_refuses_inputs_no_network_has(inputs, message):
    graph = _dag(np.random.default_rng(4))
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        dataclasses.replace(graph, inputs=inputs)


def test_two_layers_of_one_name_are_refused():
    graph = _dag(np.random.default_rng(5))
    layers = list(graph.layers)
    layers[3] = dataclasses.replace(layers[3], name="a")
    with pytest.raises(ValueError, match="two layers are named 'a'"):
        dataclasses.replace(graph, layers=tuple(layers))


def _rewrite(path, change):
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files}
    header = json.loads(arrays["__ir__"].tobytes())
    change(header)
    arrays["__ir__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    arrays.pop("__digest__")
    np.savez_compressed(path, **arrays)


@pytest.mark.parametrize("change,message", [
    (lambda header: header.update(inputs="a"), "inputs must be a list of 6 lists of layer names"),
    (lambda header: header.update(inputs=[["input"]] * 5), "inputs must be a list of 6 lists"),
    (lambda header: header["inputs"].__setitem__(2, [1, 2]), "inputs must be a list of 6 lists"),
    (lambda header: header["inputs"].__setitem__(2, ["a", "z"]),
     "layer 's': its input 'z' is not an earlier layer"),
    (lambda header: header.update(version=5), "unknown IR field 'inputs'"),
    (lambda header: header.pop("inputs"), "IR field 'inputs' missing"),
    (lambda header: header.update(version=6.0), "IR version 6.0 is not supported"),
])
def test_crafted_inputs_are_one_line(tmp_path, change, message):
    path = tmp_path / "dag.ir.npz"
    save_ir(_dag(np.random.default_rng(6)), path)
    _rewrite(path, change)
    with pytest.raises(HwgenError) as error:
        load_ir(path)
    assert "\n" not in str(error.value) and str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)
