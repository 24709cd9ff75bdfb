"""The bit-width matrix: digital layers of 1- to 4-bit weights (``model.weight_bits``) and 1- to
4-bit activations (``model.act_bits``), every combination, on a small network on digits (a
conv, a depthwise conv, a conv, a max-pool, a dense layer): the golden model of the exported
IR equals the trained model bit for bit for every combination, and the RTL equals the golden
model on Verilator for a covering set (each weight width and each activation width at least
once, wider weights than activations and the reverse, the widest of both): each combination is
its own Verilator build, and the layer units are checked at every width in tests/ops."""
import numpy as np
import pytest

from hwgen.data import load_dataset
from hwgen.nn import train_model
from hwgen.spec import parse_spec
from tests.conftest import assert_export_exact, spec_error

WIDTHS = [(w, a) for w in (1, 2, 3, 4) for a in (1, 2, 3, 4)]
RTL_WIDTHS = [(1, 4), (2, 3), (3, 2), (4, 1), (4, 4)]


def _spec(weight_bits: int, act_bits: int):
    return parse_spec({
        "name": f"w{weight_bits}a{act_bits}",
        "data": {"dataset": "digits", "input_threshold": 7},
        "model": {"activation": "binary", "weight_bits": weight_bits, "act_bits": act_bits,
                  "layers": [
                      {"type": "conv", "out": 8, "kernel": 3, "padding": 1, "pe": 4, "simd": 9},
                      {"type": "dwconv", "kernel": 3, "padding": 1, "pe": 4},
                      {"type": "conv", "out": 8, "kernel": 3, "pe": 2, "simd": 8},
                      {"type": "maxpool", "kernel": 2},
                      {"type": "linear", "out": 10, "pe": 2, "simd": 24}]},
        "train": {"epochs": 8, "lr": 0.01, "init_scale": 1.0}}, file="widths.yaml")


@pytest.fixture(scope="module")
def digits():
    return load_dataset(_spec(1, 1).data, 0)


def test_the_rtl_widths_cover_every_width():
    assert {w for w, _ in RTL_WIDTHS} == {a for _, a in RTL_WIDTHS} == {1, 2, 3, 4}
    assert any(w > a for w, a in RTL_WIDTHS) and any(w < a for w, a in RTL_WIDTHS)
    assert set(RTL_WIDTHS) <= set(WIDTHS) and max(WIDTHS) in RTL_WIDTHS


@pytest.mark.parametrize("weight_bits,act_bits", WIDTHS)
def test_every_bit_width_exports_exactly(weight_bits, act_bits, digits, sim_build_root):
    _export_and_verify(weight_bits, act_bits, digits, sim_build_root, rtl=False)


@pytest.mark.cocotb
@pytest.mark.parametrize("weight_bits,act_bits", RTL_WIDTHS)
def test_bit_widths_verify_on_verilator(weight_bits, act_bits, digits, sim_build_root):
    _export_and_verify(weight_bits, act_bits, digits, sim_build_root, rtl=True)


def _export_and_verify(weight_bits, act_bits, digits, sim_build_root, *, rtl):
    from hwgen.passes.lower import export_graph
    from hwgen.verify import verify_network
    spec = _spec(weight_bits, act_bits)
    result = train_model(spec, digits, progress=False)
    golden = assert_export_exact(result.model, spec, digits, result.test_accuracy)
    assert golden.accuracy(digits.test_y) > 0.5
    graph = export_graph(result.model, spec, digits.test_x[:24], digits.test_y[:24])
    mvtus = graph.mvtus()                          # conv0, the VVAU conv1, conv2, fc4
    assert [layer.op for layer in mvtus] == ["mvtu", "vvau", "mvtu", "mvtu"]
    assert [layer.weight_bits for layer in mvtus] == [weight_bits] * 4
    assert [layer.act_bits for layer in mvtus[:3]] == [act_bits] * 3
    assert [layer.in_bits for layer in mvtus[1:]] == [act_bits] * 3
    if weight_bits > 1:
        for layer in mvtus[1:3]:
            levels = 2 * layer.weights.astype(int) - ((1 << weight_bits) - 1)
            assert len(np.unique(levels)) > 2      # more than two levels in use
    if act_bits > 1:
        from hwgen.golden import run_layers
        outputs = run_layers(graph)
        for name in ("conv0", "conv1"):            # more than two levels in use
            assert outputs[graph.index(name)].max() > 1
    if not rtl:
        return
    run = verify_network(graph, fifo_depth=4, build_root=sim_build_root, seed=weight_bits)
    assert run.frames == 24 and run.mismatches == 0, run


@pytest.mark.parametrize("change,message", [
    ({"weight_bits": 5}, "model.weight_bits: unknown value 5 (allowed: 1, 2, 3, 4)"),
    ({"act_bits": 3, "activation": "bipolar"},
     "model.act_bits: 3-bit activations need activation: binary"),
    ({"act_bits": 2, "bitsplit": True, "weight_bits": 2},
     "model.weight_bits: BitSplit's layers have 1-bit weights"),
])
def test_bit_width_errors_are_one_line(change, message):
    mapping = {"name": "w", "data": {"dataset": "digits", "input_threshold": 7},
               "model": {"activation": "binary", **change,
                         "layers": [{"type": "linear", "out": 10}]}}
    assert message in spec_error(mapping)


def test_a_multi_bit_weight_conv_does_not_share():
    mapping = {"name": "w", "data": {"dataset": "digits", "input_threshold": 7},
               "model": {"activation": "binary", "weight_bits": 2, "layers": [
                   {"type": "conv", "out": 4, "kernel": 3, "share": {}},
                   {"type": "linear", "out": 10}]}}
    assert "model.layers[0].share: needs one-bit or thermometer inputs, 1-bit weights" in \
        spec_error(mapping)
