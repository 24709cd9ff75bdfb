"""The depthwise convolution unit (VVAU): golden model against torch's grouped convolution,
the block against the golden model (Amaranth and Verilator, idle and backpressure, a corrupted
expectation caught), in a network behind its sliding-window generator, through an IR file,
and its cost model."""
import numpy as np
import pytest
import torch

from hwgen.lib.bank import Bank
from hwgen.lib.packing import pack_words
from hwgen.ops import Activation, SWGLayer, VVAULayer, op_for
from hwgen.ops.swg.golden import swg as swg_golden
from hwgen.ops.vvau import VVAU, vvau, vvau_dots
from hwgen.target import target
from tests.conftest import AllLogic
from tests.streams import (check_block_on_verilator, check_network_on_verilator,
                           simulate_stream)

# (channels, kernel, pixels, pe, in_encoding[, (in_bits, weight_bits, act_bits)])
SHAPES = [(4, 3, 5, 1, "binary"), (8, (3, 1), 7, 4, "bipolar"), (6, (1, 3), 4, 6, "binary"),
          (16, 3, 3, 8, "bipolar"), (3, 1, 6, 3, "binary"),
          (8, 3, 4, 4, "uint", (2, 1, 2)), (6, (3, 1), 5, 3, "binary", (1, 3, 1)),
          (8, 3, 3, 8, "uint", (4, 4, 4)), (4, (1, 5), 4, 2, "bipolar", (1, 2, 3)),
          (6, 3, 3, 2, "uint", (3, 2, 1))]


def _layer(rng, channels, kernel, pixels, pe, encoding, widths=(1, 1, 1), name="dw"):
    """A VVAU with random weights and thresholds spread over the dot products' range (some
    channels always or never firing)."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    positions = kh * kw
    in_bits, weight_bits, act_bits = widths
    top = positions * ((1 << in_bits) - 1) * ((1 << weight_bits) - 1)
    steps = (1 << act_bits) - 1
    thresholds = np.sort(rng.integers(-top // 2, top // 2 + 2, (channels, steps)), axis=1)
    thresholds[0], thresholds[-1] = -top, top + 1                  # always, never
    weights = rng.integers(0, 1 << weight_bits, (channels, positions))
    return VVAULayer(name, channels, kernel, pixels, pe,
                     weights.astype(bool) if weight_bits == 1 else weights,
                     thresholds[:, 0] if steps == 1 else thresholds,
                     rng.integers(0, 2, channels).astype(bool), in_encoding=encoding,
                     out_encoding="binary" if act_bits == 1 else "uint", in_bits=in_bits,
                     weight_bits=weight_bits, act_bits=act_bits)


def _vectors(layer, frames, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << layer.in_bits, (frames, layer.in_elements))
    return (pack_words(x, width=layer.in_bits, per_word=layer.pe),
            pack_words(vvau(layer, x).numpy(), width=layer.act_bits, per_word=layer.pe))


@pytest.mark.parametrize("encoding,widths", [("binary", (1, 1, 1)), ("bipolar", (1, 1, 1)),
                                              ("uint", (3, 2, 2)), ("bipolar", (1, 4, 1))])
def test_golden_is_a_grouped_convolution(encoding, widths):
    """Behind a sliding-window generator, the dot products are torch's depthwise
    convolution of the decoded image (groups = channels) with the filters' levels, and a
    multi-bit output counts the thresholds passed."""
    rng = np.random.default_rng(0)
    channels, height, width = 5, 6, 7
    in_bits, weight_bits, _ = widths
    window = SWGLayer("w", channels, height, width, 3, padding=0, simd=1, elem_bits=in_bits)
    layer = _layer(rng, channels, 3, window.out_height * window.out_width, 1, encoding, widths)
    image = rng.integers(0, 1 << in_bits, (2, height * width * channels))
    windows = swg_golden(window, torch.as_tensor(image))
    dots = vvau_dots(layer, windows)
    values = torch.as_tensor(image).reshape(2, height, width, channels).permute(0, 3, 1, 2)
    values = (2 * values - 1 if encoding == "bipolar" else values).to(torch.float64)
    levels = 2 * torch.as_tensor(layer.weights.astype(np.int64)) - layer.weight_max
    expected = torch.nn.functional.conv2d(values, levels.to(torch.float64).reshape(
        channels, 1, 3, 3), groups=channels).permute(0, 2, 3, 1).reshape(2, -1, channels)
    assert torch.equal(dots.to(torch.float64), expected)
    thresholds = torch.as_tensor(layer.thresholds).reshape(channels, -1)
    passed = ((expected[..., None] >= thresholds) != torch.as_tensor(layer.invert)[:, None])
    assert torch.equal(vvau(layer, windows), passed.sum(-1).reshape(2, -1).to(torch.int64))


def test_layer_and_op_reject():
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match="pe must divide channels=4, not 3"):
        _layer(rng, 4, 3, 2, 3, "binary")
    with pytest.raises(ValueError, match=r"weights must have shape \(4, 9\)"):
        VVAULayer("dw", 4, 3, 2, 1, np.zeros((4, 8), bool), np.zeros(4, int), np.zeros(4, bool))
    with pytest.raises(ValueError, match="in_encoding must be one of bipolar, binary with "
                                         "in_bits=1, not 'uint'"):
        VVAULayer("dw", 4, 3, 2, 1, np.zeros((4, 9), bool), np.zeros(4, int), np.zeros(4, bool),
                  in_encoding="uint")
    with pytest.raises(ValueError, match="out_encoding must be one of uint with act_bits=2, "
                                         "not 'binary'"):
        VVAULayer("dw", 4, 3, 2, 1, np.zeros((4, 9), bool), np.zeros((4, 3), int),
                  np.zeros(4, bool), act_bits=2)
    with pytest.raises(ValueError, match="thresholds must be 4 x 3 integers, not int64 \\(4,\\)"):
        VVAULayer("dw", 4, 3, 2, 1, np.zeros((4, 9), bool), np.zeros(4, int), np.zeros(4, bool),
                  act_bits=2, out_encoding="uint")
    with pytest.raises(ValueError, match="2-bit weights must be raw codes in 0..3"):
        VVAULayer("dw", 4, 3, 2, 1, np.full((4, 9), 4), np.zeros(4, int), np.zeros(4, bool),
                  weight_bits=2)
    with pytest.raises(ValueError, match="weight_bits must be an integer in 1..4, not 5"):
        VVAULayer("dw", 4, 3, 2, 1, np.zeros((4, 9), int), np.zeros(4, int), np.zeros(4, bool),
                  weight_bits=5)
    layer, op = _layer(rng, 4, 3, 2, 2, "binary"), op_for("vvau")
    assert op.output(layer, Activation(36, 1, 2, "binary", 1, windowed=True)) == \
        Activation(4, 1, 2, "binary", 1)
    with pytest.raises(ValueError, match="layer 'dw' takes 2 windows of 9x4 elements, but its "
                                         "input is 2 pixels of 36 elements"):
        op.output(layer, Activation(36, 1, 2, "binary", 1))
    with pytest.raises(ValueError, match="takes 1-bit binary inputs, but its input is bipolar"):
        op.output(layer, Activation(36, 1, 2, "bipolar", 1, windowed=True))
    wide = _layer(rng, 4, 3, 2, 2, "uint", (2, 3, 3))
    assert op.output(wide, Activation(36, 1, 2, "uint", 2, windowed=True)) == \
        Activation(4, 1, 2, "uint", 3)
    assert (op.in_transfer(wide), op.out_transfer(wide)) == ((2, 2), (2, 3))
    with pytest.raises(ValueError, match="takes 2-bit uint inputs, but its input is uint of 3"):
        op.output(wide, Activation(36, 1, 2, "uint", 3, windowed=True))


@pytest.mark.parametrize("shape", SHAPES)
def test_amaranth_sim_matches_golden(shape):
    layer = _layer(np.random.default_rng(2), *shape)
    inputs, expected = _vectors(layer, 3, seed=1)
    assert simulate_stream(VVAU(layer), inputs, len(expected), idle=0.3,
                           backpressure=0.5) == expected


COSIM = (1, 3, 4, 5, 7, 9)


@pytest.fixture(scope="module")
def bank():
    """Every co-simulated shape in one bank: one Verilator build each for harness and cocotb."""
    return Bank([VVAU(_layer(np.random.default_rng(3), *SHAPES[k])) for k in COSIM])


@pytest.mark.cocotb
@pytest.mark.parametrize("index", range(len(COSIM)), ids=[f"shape{k}" for k in COSIM])
def test_cosim_matches_golden(index, bank, sim_build_root):
    block = bank.blocks[index]
    layer = block.layer
    frames = max(8, 3000 // (layer.out_elements // layer.pe))
    inputs, expected = _vectors(layer, frames, seed=2)
    check_block_on_verilator(block, inputs, expected, frames, sim_build_root, corrupt=True,
                             bank=bank)


def _depthwise_graph(rng, widths=(1, 1, 1)):
    """``in_bits`` 6x7x5 -> SWG 3x3 pad 1 (pads 0) -> VVAU 6 channels, pe 3 -> logits MVTU over
    the flattened 6x7x5 map of ``act_bits`` elements."""
    from hwgen.ir import Graph
    from tests.conftest import random_layer
    in_bits, _, act_bits = widths
    encoding = "binary" if in_bits == 1 else "uint"
    window = SWGLayer("dw_swg", 6, 7, 5, 3, padding=1, simd=3, elem_bits=in_bits)
    depthwise = _layer(rng, 6, 3, window.out_height * window.out_width, 3, encoding, widths)
    logits = random_layer(rng, mw=6 * 7 * 5, mh=4, pe=2, simd=6, logits=True, name="fc",
                          in_encoding=depthwise.out_encoding, in_bits=act_bits)
    return Graph(name="dw", input_shape=(6, 7, 5), classes=4, layers=(window, depthwise, logits),
                 input_encoding=encoding, input_bits=in_bits,
                 test_frames=rng.integers(0, 1 << in_bits, (12, 210)),
                 test_labels=rng.integers(0, 4, 12))


@pytest.mark.parametrize("widths", [(1, 1, 1), (2, 3, 2)])
def test_a_depthwise_graph_round_trips_through_an_ir_file(widths, tmp_path):
    from hwgen.golden import run_graph
    from hwgen.ir import load_ir, save_ir
    graph = _depthwise_graph(np.random.default_rng(5), widths)
    save_ir(graph, tmp_path / "dw.ir.npz")
    again = load_ir(tmp_path / "dw.ir.npz")
    for field in ("weights", "thresholds", "invert", "in_bits", "weight_bits", "act_bits"):
        assert np.array_equal(getattr(again.layers[1], field), getattr(graph.layers[1], field))
    golden = run_graph(graph)
    assert np.array_equal(run_graph(again).logits, golden.logits)
    assert golden.dots[0].shape == (12, 35, 6)           # the VVAU's dot products, then fc's


@pytest.mark.cocotb
@pytest.mark.parametrize("widths", [(1, 1, 1), (2, 3, 2)])
def test_a_depthwise_network_matches_golden_on_verilator(widths, sim_build_root):
    check_network_on_verilator(_depthwise_graph(np.random.default_rng(5), widths),
                               sim_build_root, "dw" + "".join(map(str, widths)))


def test_cost_model():
    ecp5, logic = target("ecp5"), AllLogic()
    three = _layer(np.random.default_rng(4), 48, 3, 10, 16, "binary")     # 3 channel folds
    four = _layer(np.random.default_rng(4), 64, 3, 10, 16, "bipolar")     # 4
    op = op_for(three)
    assert op.terms(three, ecp5)["accumulate"] == 16 * three.acc_bits
    assert op.resources(three, ecp5).dsps == 1 and op.resources(four, ecp5).dsps == 0
    assert op.resources(four, logic).ffs == op.resources(four, ecp5).ffs + 4 * 16 * four.acc_bits
    wide = _layer(np.random.default_rng(4), 48, 3, 10, 16, "uint", (2, 3, 2))
    terms = op.terms(wide, ecp5)
    assert terms["product"] == 16 * 2 * 4 and terms["compare"] == 16 * wide.acc_bits * 2
    assert "product" not in op.terms(three, ecp5) and "compare" not in op.terms(three, ecp5)
    assert op.resources(wide, ecp5).luts > op.resources(three, ecp5).luts
    for layer in (three, four, wide):
        for family in ("ecp5", "ice40"):
            assert set(op.terms(layer, target(family))) <= set(target(family).coefficients["vvau"])


def test_the_report_names_a_vvau():
    layer = _layer(np.random.default_rng(6), 16, (3, 1), 24, 4, "binary")
    assert op_for(layer).describe(layer) == "16 channels, 3x1 kernel x 24 px, depthwise"


@pytest.mark.parametrize("change,message", [
    ({"channels": 10 ** 9}, "1,000,000,000 x 9 weights, more than the 1,073,741,824 bits"),
    ({"kernel": [0, 1]}, "channels must be a positive integer and kernel two, not 6, [0, 1]"),
    ({"kernel": "x"}, "channels must be a positive integer and kernel two, not 6, 'x'"),
    ({"pe": 4}, "pe must divide channels=6, not 4"),
    ({"in_encoding": "uint"}, "in_encoding must be one of bipolar, binary with in_bits=1, "
                              "not 'uint'"),
    ({"weight_bits": 7}, "weight_bits must be an integer in 1..4, not 7"),
    ({"weight_bits": 2}, "its weights (l1.weights1) are missing"),
    ("weights", "its packed weights l1.weights are uint8 (3, 2), not uint8 (6, 2)"),
    ("thresholds", "thresholds must be 6 integers, not int64 (5,)"),
])
def test_a_crafted_vvau_entry_is_one_line(change, message, tmp_path):
    import json
    from hwgen.errors import HwgenError
    from hwgen.ir import load_ir, save_ir
    path = tmp_path / "dw.ir.npz"
    save_ir(_depthwise_graph(np.random.default_rng(5)), path)
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files}
    header = json.loads(arrays["__ir__"].tobytes())
    if change == "weights":
        arrays["l1.weights"] = np.zeros((3, 2), np.uint8)
    elif change == "thresholds":
        arrays["l1.thresholds"] = np.zeros(5, np.int64)
    else:
        header["layers"][1].update(change)
    arrays["__ir__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez_compressed(path, **arrays)
    with pytest.raises(HwgenError) as error:
        load_ir(path)
    assert "\n" not in str(error.value) and f"layer 1: {message}" in str(error.value)
