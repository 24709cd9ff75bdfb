"""Depthwise convolutions (``type: dwconv``): a DS-CNN-shaped digits network (conv, depthwise
and pointwise convs twice, one depthwise at stride 2, an average pool, dense; global pooling
of an 8x8 digit loses what tells digits apart) trains, exports exactly (the depthwise conv
a sliding window and a VVAU), verifies on Verilator; a spec that cannot be built is one
line."""
import pytest

from hwgen.data import load_dataset
from hwgen.nn import train_model
from hwgen.spec import parse_spec
from tests.conftest import assert_export_exact, spec_error

DSCNN = {
    "name": "dscnn", "data": {"dataset": "digits", "input_threshold": 7},
    "model": {"activation": "binary", "layers": [
        {"type": "conv", "out": 16, "kernel": 3, "padding": 1, "pe": 4, "simd": 9},
        {"type": "dwconv", "kernel": 3, "padding": 1, "pe": 4},
        {"type": "conv", "out": 32, "kernel": 1, "pe": 8, "simd": 16},
        {"type": "dwconv", "kernel": 3, "stride": 2, "padding": 1, "pe": 8},
        {"type": "conv", "out": 32, "kernel": 1, "pe": 8, "simd": 32},
        {"type": "avgpool", "kernel": 2},
        {"type": "linear", "out": 10, "pe": 2}]},
    "train": {"epochs": 15, "lr": 0.01, "init_scale": 1.0}}


@pytest.fixture(scope="module")
def dscnn():
    spec = parse_spec(DSCNN, file="dscnn.yaml")
    data = load_dataset(spec.data, spec.seed)
    return spec, data, train_model(spec, data, progress=False)


def test_dscnn_trains_and_exports_exactly(dscnn):
    from hwgen.passes.lower import export_graph
    spec, data, result = dscnn
    assert_export_exact(result.model, spec, data, result.test_accuracy)
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    assert [layer.op for layer in graph.layers] == [
        "swg", "mvtu", "swg", "vvau", "mvtu", "swg", "vvau", "mvtu", "avgpool", "mvtu"]
    layers = {layer.name: layer for layer in graph.layers}
    assert (layers["conv1"].channels, layers["conv1"].pixels, layers["conv1"].pe) == (16, 64, 4)
    assert layers["conv3"].pixels == 16 and layers["conv3_swg"].stride == (2, 2)
    assert layers["pool5"].kernel == (2, 2) and layers["fc6"].in_bits == 3     # sums 0..4


@pytest.mark.cocotb
def test_dscnn_rtl_equals_golden(dscnn, sim_build_root):
    from hwgen.passes.lower import export_graph
    from hwgen.verify import verify_network
    spec, data, result = dscnn
    graph = export_graph(result.model, spec, data.test_x[:40], data.test_y[:40])
    run = verify_network(graph, fifo_depth=4, build_root=sim_build_root, seed=3)
    assert run.frames == 40 and run.mismatches == 0


@pytest.mark.parametrize("change,message", [
    ({"norm": "bnfree"}, "model.norm: a dwconv layer (model.layers[1]) needs model.norm: "
                         "batchnorm"),
    ({"act_bits": 2, "bitsplit": True},
     "model.bitsplit: a dwconv layer (model.layers[1]) needs model.bitsplit: false"),
    ({"layers": [{"type": "linear", "out": 16}, {"type": "dwconv", "kernel": 1},
                 {"type": "linear", "out": 10}]},
     "model.layers[1].type: a dwconv convolves an image: it cannot follow a linear layer"),
    ({"layers": [{"type": "conv", "out": 6, "kernel": 3}, {"type": "dwconv", "kernel": 3, "pe": 4},
                 {"type": "linear", "out": 10}]}, "model.layers[1].pe: pe must divide out=6"),
    ({"layers": [{"type": "conv", "out": 4, "kernel": 3}, {"type": "dwconv", "kernel": 7},
                 {"type": "linear", "out": 10}]},
     "model.layers[1].kernel: 7x7 does not fit the 6x6 input padded by 0x0"),
])
def test_dwconv_spec_errors(change, message):
    mapping = {**DSCNN, "model": {**DSCNN["model"], **change}}
    assert message in spec_error(mapping)


def test_a_dwconv_does_not_read_thermometer_codes():
    mapping = {**DSCNN, "data": {"dataset": "digits", "input_bits": 2, "thermometer": True},
               "model": {"activation": "binary", "layers": [
                   {"type": "dwconv", "kernel": 3}, {"type": "linear", "out": 10}]}}
    assert "model.layers[0].type: a dwconv reads its inputs' values, not the 3-value " \
        "thermometer codes of data.thermometer (allowed: conv)" in spec_error(mapping)
