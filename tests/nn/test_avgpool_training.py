"""Average pooling with integer results (``type: avgpool``) and pointwise convolutions, the
DS-CNN's layers but the depthwise one: a network with a 2x2 average pool, a 3x3 conv over its
sums, a pointwise (1x1) conv and a global average pool trains, exports exactly (the layers
after a pool read its window sums as ``uint`` elements; the pointwise conv is an MVTU without
a sliding window), verifies on Verilator; a spec that cannot be built is one line."""
import pytest

from hwgen.data import load_dataset
from hwgen.nn import train_model
from hwgen.spec import parse_spec
from tests.conftest import assert_export_exact, spec_error

POOLED = {  # 1-bit digits -> conv -> avgpool 2 -> conv on 3-bit sums -> pointwise conv
    #           -> global avgpool -> fc
    "name": "pooled", "data": {"dataset": "digits", "input_threshold": 7},
    "model": {"activation": "binary", "layers": [
        {"type": "conv", "out": 16, "kernel": 3, "padding": 1, "pe": 4, "simd": 9},
        {"type": "avgpool", "kernel": 2},
        {"type": "conv", "out": 32, "kernel": 3, "pe": 8, "simd": 16},
        {"type": "conv", "out": 32, "kernel": 1, "pe": 4, "simd": 8},
        {"type": "avgpool"},
        {"type": "linear", "out": 10, "pe": 2}]},
    "train": {"epochs": 12, "lr": 0.01}}


@pytest.fixture(scope="module")
def pooled():
    spec = parse_spec(POOLED, file="pooled.yaml")
    data = load_dataset(spec.data, spec.seed)
    return spec, data, train_model(spec, data, progress=False)


def test_pooled_network_trains_and_exports_exactly(pooled):
    from hwgen.passes.lower import export_graph
    spec, data, result = pooled
    assert spec.input_bits(2) == 3 and spec.input_bits(5) == 3     # sums 0..4, twice
    assert_export_exact(result.model, spec, data, result.test_accuracy)
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    layers = {layer.name: layer for layer in graph.layers}
    assert [layer.op for layer in graph.layers] == [
        "swg", "mvtu", "avgpool", "swg", "mvtu", "mvtu", "avgpool", "mvtu"]
    assert layers["pool1"].kernel == (2, 2) and layers["pool1"].out_bits == 3
    assert layers["pool4"].kernel == (2, 2) and layers["pool4"].pe == 4     # the whole 2x2 map
    assert (layers["conv2"].in_encoding, layers["conv2"].in_bits) == ("uint", 3)
    assert (layers["conv3"].mw, layers["conv3"].pixels) == (32, 4)          # pointwise
    assert (layers["fc5"].in_encoding, layers["fc5"].in_bits) == ("uint", 3)


@pytest.mark.cocotb
def test_pooled_network_rtl_equals_golden(pooled, sim_build_root):
    from hwgen.passes.lower import export_graph
    from hwgen.verify import verify_network
    spec, data, result = pooled
    graph = export_graph(result.model, spec, data.test_x[:40], data.test_y[:40])
    run = verify_network(graph, fifo_depth=4, build_root=sim_build_root, seed=3)
    assert run.frames == 40 and run.mismatches == 0
    assert run.rtl_accuracy == run.golden_accuracy


@pytest.mark.parametrize("change,message", [
    ({"activation": "bipolar"}, "model.layers[1].type: an avgpool sums {0, 1} activations: it "
                                "needs model.activation: binary"),
    ({"layers": [{"type": "avgpool"}, {"type": "linear", "out": 10}]},
     "model.layers[0].type: an avgpool must follow a conv, dwconv, maxpool, avgpool, add or concat layer"),
    ({"layers": [{"type": "conv", "out": 4, "kernel": 3}, {"type": "avgpool", "kernel": 7},
                 {"type": "linear", "out": 10}]},
     "model.layers[1].kernel: 7x7 does not fit the 6x6 input (allowed: at most 6x6)"),
    ({"layers": [{"type": "conv", "out": 4, "kernel": 3}, {"type": "avgpool", "kernel": 0},
                 {"type": "linear", "out": 10}]}, "model.layers[1].kernel"),
])
def test_avgpool_spec_errors(change, message):
    mapping = {**POOLED, "model": {**POOLED["model"], **change}}
    assert message in spec_error(mapping)


@pytest.mark.parametrize("pool", ["avgpool", "maxpool"])
def test_a_pool_after_an_average_pool_exports_exactly(pool):
    """A second pool over window sums: an average pool sums them again (wider elements), a
    max-pool takes their unsigned maximum."""
    from hwgen.passes.lower import check_export, export_graph
    spec = parse_spec({**POOLED, "model": {"activation": "binary", "layers": [
        {"type": "conv", "out": 8, "kernel": 3, "padding": 1},
        {"type": "avgpool", "kernel": 2}, {"type": pool, "kernel": 2},
        {"type": "linear", "out": 10}]}, "train": {"epochs": 2}}, file="pools.yaml")
    assert spec.input_bits(3) == (5 if pool == "avgpool" else 3)
    data = load_dataset(spec.data, spec.seed)
    model = train_model(spec, data, progress=False).model
    graph = export_graph(model, spec, data.test_x, data.test_y)
    check_export(model, graph)
    assert graph.layers[3].op == pool and graph.layers[3].elem_bits == 3
