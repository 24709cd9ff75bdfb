"""Graphs that are not chains (``inputs``): a residual add (thresholded, and an integer sum)
and a concatenation on digits train, export exactly into an IR DAG, keep their edges through
an IR file, and stream on Verilator with sized FIFOs at full rate and under stress; the
shortcut's FIFO is what keeps the fork and the join from waiting on each other, and a spec
whose graph cannot be built is one line naming the layer."""
import numpy as np
import pytest

from hwgen.data import load_dataset
from hwgen.nn import train_model
from hwgen.spec import parse_spec
from tests.conftest import assert_export_exact, spec_error

RESIDUAL = {
    "name": "residual", "data": {"dataset": "digits", "input_threshold": 7},
    "model": {"activation": "binary", "layers": [
        {"type": "conv", "out": 16, "kernel": 3, "padding": 1, "pe": 4, "simd": 9},
        {"type": "conv", "out": 16, "kernel": 3, "padding": 1, "pe": 4, "simd": 16},
        {"type": "add", "inputs": ["conv0", "conv1"], "pe": 4},
        {"type": "maxpool", "kernel": 2},
        {"type": "conv", "out": 8, "kernel": 1, "name": "proj", "pe": 4, "simd": 16},
        {"type": "concat", "inputs": ["pool3", "proj"]},
        {"type": "linear", "out": 10, "pe": 2}]},
    "train": {"epochs": 8, "lr": 0.01, "init_scale": 1.0}}

#: An integer sum (0..2, two bits) read by a conv, and a concatenation of two convs' outputs.
SUMS = {**RESIDUAL, "name": "sums", "model": {"activation": "binary", "layers": [
    {"type": "conv", "out": 8, "kernel": 3, "padding": 1, "pe": 4, "simd": 9},
    {"type": "conv", "out": 8, "kernel": 3, "padding": 1, "pe": 4, "simd": 8},
    {"type": "add", "inputs": ["conv0", "conv1"], "threshold": False, "pe": 2},
    {"type": "maxpool", "kernel": 2, "name": "pooled"},
    {"type": "conv", "out": 8, "kernel": 3, "padding": 1, "name": "left", "pe": 2},
    {"type": "conv", "out": 4, "kernel": 1, "name": "right", "inputs": ["pooled"]},
    {"type": "concat", "inputs": ["left", "right"]},
    {"type": "linear", "out": 10, "pe": 2}]}}


@pytest.fixture(scope="module")
def residual():
    spec = parse_spec(RESIDUAL, file="residual.yaml")
    data = load_dataset(spec.data, spec.seed)
    return spec, data, train_model(spec, data, progress=False)


def test_the_spec_names_each_layers_inputs():
    spec = parse_spec(SUMS, file="sums.yaml")
    names = [spec.layer_name(index) for index in range(len(spec.model.layers))]
    assert names == ["conv0", "conv1", "add2", "pooled", "left", "right", "concat6", "fc7"]
    assert [spec.layer_inputs(index) for index in range(8)] == [
        (-1,), (0,), (0, 1), (2,), (3,), (3,), (4, 5), (6,)]
    # The integer sum of two one-bit activations has two bits, and so does its max-pool.
    assert [spec.input_bits(index) for index in range(8)] == [1, 1, 1, 2, 2, 2, 1, 1]
    assert spec.model.layers[6].out_shape == (12, 4, 4) and not spec.is_chain
    assert parse_spec({**RESIDUAL, "model": {"layers": [{"type": "linear", "out": 10}]}}).is_chain


def test_a_residual_network_trains_and_exports_exactly(residual, tmp_path):
    from hwgen.ir import load_ir, save_ir
    from hwgen.passes.lower import export_graph
    spec, data, result = residual
    assert result.test_accuracy > 0.8
    assert_export_exact(result.model, spec, data, result.test_accuracy)
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    assert [(layer.name, layer.op) for layer in graph.layers] == [
        ("conv0_swg", "swg"), ("conv0", "mvtu"), ("conv1_swg", "swg"), ("conv1", "mvtu"),
        ("add2", "add"), ("pool3", "maxpool"), ("proj", "mvtu"), ("concat5", "concat"),
        ("fc6", "mvtu")]
    assert graph.sources[4] == ("conv0", "conv1") and graph.sources[7] == ("pool3", "proj")
    add = graph.layers[4]
    assert add.thresholds.shape == (16, 1) and add.out_encoding == "binary"
    assert [(edge.producer, edge.consumer) for edge in graph.consumers("conv0")] == [
        ("conv0", "conv1_swg"), ("conv0", "add2")]
    save_ir(graph, tmp_path / "residual.ir.npz")
    again = load_ir(tmp_path / "residual.ir.npz")
    assert again.sources == graph.sources and again.version == 6
    assert np.array_equal(again.layers[4].thresholds, add.thresholds)


def test_an_integer_sum_and_a_concatenation_export_exactly():
    spec = parse_spec(SUMS, file="sums.yaml")
    data = load_dataset(spec.data, spec.seed)
    result = train_model(spec, data, progress=False)
    golden = assert_export_exact(result.model, spec, data, result.test_accuracy)
    assert golden.accuracy(data.test_y) > 0.6


@pytest.mark.cocotb
def test_a_residual_network_streams_on_verilator(residual, sim_build_root):
    """Sized FIFOs: RTL == golden at full rate and under stress; the shortcut's FIFO is the
    deep one; at depth 2 on the shortcut the fork and the join wait on each other (no frame
    comes out), which the default rule avoids; a wrong expectation is caught."""
    from hwgen.harness import run_harness
    from hwgen.hw.network import Network, default_fifo_depths
    from hwgen.passes.fifo_sizing import size_fifos
    from hwgen.passes.lower import export_graph
    from hwgen.verify import harness_vectors
    spec, data, result = residual
    graph = export_graph(result.model, spec, data.test_x[:24], data.test_y[:24])
    sized = size_fifos(graph, build_root=sim_build_root).graph
    network = Network(sized)
    _golden, inputs, expected = harness_vectors(network, sized.test_frames)
    full = run_harness(network, inputs, expected, build_root=sim_build_root, name="residual_full")
    assert full.passed, full.message
    assert 0.98 <= full.steady_interval(skip=3) / network.expected_cycles() <= 1.02
    stress = run_harness(network, inputs, expected, idle=0.3, backpressure=0.4, seed=5,
                         build_root=sim_build_root, name="residual_stress")
    assert stress.passed, stress.message
    edges = graph.edges()
    shortcut = next(k for k, edge in enumerate(edges)
                    if (edge.producer, edge.consumer) == ("conv0", "add2"))
    assert sized.fifo_depths[shortcut] == max(sized.fifo_depths) > 16
    # The shortcut too shallow: a deadlock, not a slowdown.
    shallow = list(sized.fifo_depths)
    shallow[shortcut] = 2
    network = Network(graph.with_fifo_depths(shallow))
    stalled = run_harness(network, inputs, expected, build_root=sim_build_root,
                          name="residual_shallow", timeout_cycles=200_000)
    assert not stalled.passed and len(stalled.outputs) == 0
    # The default rule (no sizing) gives a fork's edges two frames: it runs.
    defaults = graph.with_fifo_depths(default_fifo_depths(graph, 2))
    run = run_harness(Network(defaults), inputs, expected, build_root=sim_build_root,
                      name="residual_defaults")
    assert run.passed, run.message
    wrong = list(expected)
    wrong[5] ^= 1
    assert not run_harness(Network(defaults), inputs, wrong, build_root=sim_build_root,
                           name="residual_defaults").passed


def test_the_auto_folder_folds_every_branch(residual):
    from hwgen.passes.fold import auto_fold, folding_cost
    from hwgen.passes.lower import export_graph
    spec, data, result = residual
    graph = export_graph(result.model, spec, data.test_x[:8], data.test_y[:8])
    for cycles in (4096, 1024, 600):
        folded = auto_fold(graph, target_cycles=cycles)
        assert folded.sources == graph.sources
        assert all(layer.expected_cycles() <= cycles for layer in folded.layers)
        assert folding_cost(folded) <= folding_cost(graph) or graph.expected_cycles() > cycles


@pytest.mark.parametrize("layers,message", [
    ([{"type": "conv", "out": 4, "kernel": 3}, {"type": "add", "inputs": ["conv0", "convx"]},
      {"type": "linear", "out": 10}],
     "model.layers[1].inputs: 'convx' is not an earlier layer's name (allowed: conv0)"),
    ([{"type": "conv", "out": 4, "kernel": 3}, {"type": "conv", "out": 4, "kernel": 1},
      {"type": "add", "inputs": ["conv0"]}, {"type": "linear", "out": 10}],
     "model.layers[2].inputs: an add reads two layers, not 1"),
    ([{"type": "conv", "out": 4, "kernel": 3}, {"type": "conv", "out": 4, "kernel": 3},
      {"type": "add", "inputs": ["conv0", "conv1"]}, {"type": "linear", "out": 10}],
     "model.layers[2].inputs: adds 'conv0''s 4x6x6 output to 'conv1''s 4x4x4: they must be of "
     "one shape"),
    ([{"type": "conv", "out": 4, "kernel": 3}, {"type": "conv", "out": 4, "kernel": 3},
      {"type": "linear", "out": 10, "inputs": ["conv0"]}],
     "model.layers[1]: layer 'conv1' feeds no other layer"),
    ([{"type": "conv", "out": 4, "kernel": 3, "name": "a"},
      {"type": "conv", "out": 4, "kernel": 1, "name": "a"}, {"type": "linear", "out": 10}],
     "model.layers[1].name: 'a' is model.layers[0]'s name too"),
    ([{"type": "conv", "out": 4, "kernel": 3, "name": "a_fifo"}, {"type": "linear", "out": 10}],
     "model.layers[0].name: 'a_fifo' ends as the blocks hwgen adds after a layer are named"),
    ([{"type": "conv", "out": 4, "kernel": 3, "name": "Conv 1"}, {"type": "linear", "out": 10}],
     "model.layers[0].name: must be a layer name other than 'input'"),
    ([{"type": "conv", "out": 4, "kernel": 3}, {"type": "conv", "out": 4, "kernel": 1,
                                               "inputs": ["conv0", "input"]},
      {"type": "linear", "out": 10}],
     "model.layers[1].inputs: the input frames are the first layer's"),
    ([{"type": "conv", "out": 4, "kernel": 3, "inputs": ["conv1"]},
      {"type": "conv", "out": 4, "kernel": 1}, {"type": "linear", "out": 10}],
     "model.layers[0].inputs: the first layer reads the input frames, not ['conv1'] "
     "(allowed: [input])"),
    ([{"type": "conv", "out": 4, "kernel": 3}, {"type": "conv", "out": 4, "kernel": 1},
      {"type": "conv", "out": 4, "kernel": 1, "inputs": ["conv0", "conv1"]},
      {"type": "linear", "out": 10}],
     "model.layers[2].inputs: a conv layer reads one layer, not 2"),
    ([{"type": "conv", "out": 4, "kernel": 3}, {"type": "conv", "out": 4, "kernel": 1},
      {"type": "add", "inputs": ["conv0", "conv1"], "threshold": False},
      {"type": "concat", "inputs": ["add2", "conv1"]}, {"type": "linear", "out": 10}],
     "model.layers[3].inputs: concatenates elements of 2 and 1 bits: they must match"),
    ([{"type": "conv", "out": 6, "kernel": 3}, {"type": "conv", "out": 6, "kernel": 1},
      {"type": "add", "inputs": ["conv0", "conv1"], "pe": 4}, {"type": "linear", "out": 10}],
     "model.layers[2].pe: pe must divide out=6"),
])
def test_graph_spec_errors_name_the_layer(layers, message):
    assert message in spec_error({**RESIDUAL, "model": {"activation": "binary",
                                                        "layers": layers}})


@pytest.mark.parametrize("change,message", [
    ({"activation": "bipolar"}, "model.layers[2].type: an add sums {0, 1} activations as "
                                "integers: it needs model.activation: binary"),
    ({"norm": "bnfree"}, "model.layers[2].threshold: an add's threshold unit is a batch norm"),
])
def test_an_add_needs_binary_activations_and_batch_norm(change, message):
    assert message in spec_error({**RESIDUAL, "model": {**RESIDUAL["model"], **change}})


@pytest.mark.cocotb
@pytest.mark.parametrize("weight_bits,act_bits", [(1, 2), (2, 3)])
def test_a_multi_bit_residual_network_exports_exactly(weight_bits, act_bits, sim_build_root):
    """The add of two multi-bit activations (0..3 each: sums 0..6), thresholded to act_bits
    levels again; the concatenation of multi-bit images; RTL == golden on Verilator."""
    spec = parse_spec({**RESIDUAL, "model": {**RESIDUAL["model"], "weight_bits": weight_bits,
                                             "act_bits": act_bits}}, file="residual.yaml")
    assert spec.model.layers[2].sum_bits == act_bits + 1
    data = load_dataset(spec.data, spec.seed)
    result = train_model(spec, data, progress=False)
    assert_export_exact(result.model, spec, data, result.test_accuracy)
    from hwgen.passes.lower import export_graph
    graph = export_graph(result.model, spec, data.test_x[:8], data.test_y[:8])
    add = graph.layers[4]
    assert add.thresholds.shape == (16, (1 << act_bits) - 1) and add.in_bits == (act_bits,) * 2
    from hwgen.verify import verify_network
    run = verify_network(graph, fifo_depth=4, build_root=sim_build_root, seed=act_bits)
    assert run.frames == 8 and run.mismatches == 0, run
