"""The op registry: every op answers the same questions, and a layer no op answers for is one
clear error wherever it turns up (never a fall-through to another op)."""
import dataclasses

import numpy as np
import pytest

from hwgen.golden import run_graph
from hwgen.golden.network import run_layer
from hwgen.hw.network import Network, default_fifo_depths
from hwgen.ir import Graph
from hwgen.ops import REGISTRY, DWCLayer, FIFOLayer, LabelSelectLayer, Op, UnknownOpError, op_for
from hwgen.passes.fold import auto_fold, fold_report
from tests.conftest import random_conv_graph


@dataclasses.dataclass(frozen=True)
class ConvLayer2D:
    """A layer of an op nobody registered, shaped as a max-pool would be."""
    name: str = "mystery"
    channels: int = 2
    height: int = 4
    width: int = 4
    kernel: tuple = (2, 2)
    pe: int = 1
    elem_bits: int = 1
    op = "conv2d_rs"

    def expected_cycles(self) -> int:
        return 1


@pytest.fixture(scope="module")
def graph():
    return random_conv_graph(np.random.default_rng(4), frames=3)


def _with_foreign(graph: Graph) -> tuple:
    return graph.layers[:1] + (ConvLayer2D(),) + graph.layers[1:]


def test_every_op_answers_every_question():
    for name, op in REGISTRY.items():
        assert isinstance(op, Op) and op.name == name and op.layer.op == name
        methods = ("output", "in_transfer", "out_transfer", "golden", "block") + \
            (("qonnx",) if op.graph_layer else ())       # a graph's layers export to QONNX
        for method in methods:
            assert getattr(type(op), method) is not getattr(Op, method), (name, method)


def test_graph_ops_exclude_what_the_assembly_places(graph):
    fifo = FIFOLayer(name="f", elements=2, bits=1, depth=2)
    with pytest.raises(UnknownOpError, match="placed by the network assembly"):
        Graph(name="g", input_shape=graph.input_shape, classes=graph.classes,
              layers=graph.layers[:1] + (fifo,) + graph.layers[1:],
              test_frames=graph.test_frames, test_labels=graph.test_labels,
              input_encoding=graph.input_encoding, input_bits=graph.input_bits)


@pytest.mark.parametrize("where", ["op_for", "graph", "golden", "network", "fold", "fifos",
                                   "report"])
def test_an_unknown_op_is_one_clear_error_everywhere(graph, where):
    foreign = ConvLayer2D()
    message = r"no op for ConvLayer2D \(ops: mvtu, smvtu, swg, maxpool, avgpool, vvau, add, concat, fifo, dwc, fork, label_select\)"
    # Hand-built graphs that skip the Graph's own check, as a buggy pass would make.
    smuggled = dataclasses.replace(graph)
    object.__setattr__(smuggled, "layers", _with_foreign(graph))
    with pytest.raises(UnknownOpError, match=message):
        if where == "op_for":
            op_for(foreign)
        elif where == "graph":
            Graph(name="g", input_shape=graph.input_shape, classes=graph.classes,
                  layers=_with_foreign(graph), test_frames=graph.test_frames,
                  test_labels=graph.test_labels, input_encoding=graph.input_encoding,
                  input_bits=graph.input_bits)
        elif where == "golden":
            run_layer(foreign, np.zeros((1, 32), dtype=np.int64))
        elif where == "network":
            Network(smuggled).stages()
        elif where == "fold":
            auto_fold(smuggled, target_cycles=10 ** 6)
        elif where == "fifos":
            default_fifo_depths(smuggled, 2)
        else:
            fold_report(smuggled)


def test_op_for_names_and_rejects_a_stranger_with_a_known_name():
    assert op_for("mvtu") is REGISTRY["mvtu"]
    with pytest.raises(UnknownOpError, match="no op for 'nope'"):
        op_for("nope")

    @dataclasses.dataclass(frozen=True)
    class Impostor:
        op = "mvtu"
    with pytest.raises(UnknownOpError, match="no op for Impostor"):
        op_for(Impostor())


def test_assembly_layers_round_trip_their_transfers(graph):
    network = Network(graph, fifo_depth=3)
    layers = network.stage_layers()
    assert [layer.op for layer in layers[:len(graph.layers) * 2:]].count("fifo") >= 1
    assert isinstance(layers[-1], LabelSelectLayer)
    for producer, consumer in zip(layers, layers[1:]):
        out, into = op_for(producer).out_transfer(producer), op_for(consumer).in_transfer(consumer)
        assert out == into, (producer.name, consumer.name)
    converters = [layer for layer in layers if isinstance(layer, DWCLayer)]
    assert all(layer.in_elements != layer.out_elements for layer in converters)
    golden = run_graph(graph)
    assert golden.labels.shape == (len(graph.test_frames),)
