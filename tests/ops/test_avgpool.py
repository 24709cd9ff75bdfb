import numpy as np
import pytest
import torch

from hwgen.lib.bank import Bank
from hwgen.lib.packing import pack_words
from hwgen.ops import Activation, AvgPoolLayer, op_for
from hwgen.ops.avgpool import cost
from hwgen.ops.avgpool.golden import avgpool
from hwgen.ops.avgpool.hw import AvgPool
from hwgen.target import target
from tests.conftest import AllLogic
from tests.streams import (check_block_on_verilator, check_network_on_verilator,
                           simulate_stream)

# (channels, height, width, kernel, pe, elem_bits)
SHAPES = [(1, 8, 8, 2, 1, 1), (4, 7, 9, (2, 3), 2, 1), (6, 5, 5, 5, 3, 1),
          (16, 6, 4, (3, 1), 16, 1), (8, 5, 7, (2, 3), 4, 2), (3, 4, 4, 4, 3, 3),
          (12, 25, 5, (25, 5), 4, 1)]         # global pooling of a DS-CNN's last 25 x 5 map


def _vectors(layer, frames, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << layer.elem_bits, (frames, layer.in_elements))
    inputs = pack_words(x, width=layer.elem_bits, per_word=layer.pe)
    expected = pack_words(avgpool(layer, x).numpy(), width=layer.out_bits, per_word=layer.pe)
    return inputs, expected


def test_golden_by_hand():
    layer = AvgPoolLayer("p", 1, 3, 5, 2)       # the last row and column are dropped
    image = np.array([[0, 0, 1, 0, 1],
                      [0, 1, 1, 1, 1],
                      [1, 1, 1, 1, 1]]).reshape(1, -1)
    assert avgpool(layer, image).tolist() == [[1, 3]]
    assert layer.out_bits == 3                  # 0 .. 4


def test_golden_multi_bit_by_hand():
    layer = AvgPoolLayer("p", 2, 2, 2, 2, elem_bits=2)     # channels innermost
    image = np.array([[1, 0, 3, 2, 0, 1, 2, 3]])
    assert avgpool(layer, image).tolist() == [[6, 6]]
    assert layer.out_bits == 4                  # 0 .. 12


def test_golden_is_torch_average_pooling_times_the_window():
    rng = np.random.default_rng(0)
    layer = AvgPoolLayer("p", 5, 7, 6, (3, 2), elem_bits=2)
    x = rng.integers(0, 4, (4, layer.in_elements))
    image = torch.tensor(x, dtype=torch.float64).reshape(4, 7, 6, 5).permute(0, 3, 1, 2)
    mean = torch.nn.functional.avg_pool2d(image, (3, 2)).permute(0, 2, 3, 1).reshape(4, -1)
    assert torch.equal(avgpool(layer, x).to(torch.float64), mean * 6)


def test_layer_and_op_reject():
    with pytest.raises(ValueError, match="pe must divide channels=4, not 3"):
        AvgPoolLayer("p", 4, 4, 4, 2, pe=3)
    with pytest.raises(ValueError, match="kernel must be positive and fit"):
        AvgPoolLayer("p", 4, 4, 4, 5)
    with pytest.raises(ValueError, match="sums to 18 bits, more than 16"):
        AvgPoolLayer("p", 1, 256, 256, 256, elem_bits=2)
    op = op_for("avgpool")
    layer = AvgPoolLayer("p", 4, 6, 6, 3)
    assert op.output(layer, Activation(4, 6, 6, "binary", 1)) == Activation(4, 2, 2, "uint", 4)
    with pytest.raises(ValueError, match="layer 'p' expects a 4x6x6 image, but its input is 4x6x5"):
        op.output(layer, Activation(4, 6, 5, "binary", 1))
    with pytest.raises(ValueError, match="layer 'p' has elem_bits=1, but its input has 2 bits"):
        op.output(layer, Activation(4, 6, 6, "uint", 2))
    with pytest.raises(ValueError, match="takes an image of activations"):
        op.output(layer, Activation(4, 6, 6, "int", 8))


@pytest.mark.parametrize("shape", SHAPES)
def test_amaranth_sim_matches_golden(shape):
    layer = AvgPoolLayer("p", *shape)
    inputs, expected = _vectors(layer, 3, seed=1)
    assert simulate_stream(AvgPool(layer), inputs, len(expected), idle=0.3,
                           backpressure=0.5) == expected


COSIM = SHAPES[1:]


@pytest.fixture(scope="module")
def bank():
    """Every co-simulated shape in one bank: one Verilator build each for harness and cocotb."""
    return Bank([AvgPool(AvgPoolLayer("p", *shape)) for shape in COSIM])


@pytest.mark.cocotb
@pytest.mark.parametrize("index", range(len(COSIM)),
                         ids=[f"shape{k + 1}" for k in range(len(COSIM))])
def test_cosim_matches_golden(index, bank, sim_build_root):
    block = bank.blocks[index]
    layer = block.layer
    frames = max(8, 5000 // (layer.out_elements // layer.pe))
    inputs, expected = _vectors(layer, frames, seed=2)
    check_block_on_verilator(block, inputs, expected, frames, sim_build_root, corrupt=True,
                             bank=bank)


def test_cost_model():
    """The op answers with its cost model: the partial row of sums (``pe * out_bits`` a word)
    where the target puts it, an adder term per sum bit, a multiplier for the address
    ``column * cf`` unless ``cf`` is a power of two; every term priced by each target."""
    ecp5, logic = target("ecp5"), AllLogic()
    three = AvgPoolLayer("p", 48, 6, 6, 2, pe=16)           # 3 channel folds, 3-bit sums
    four = AvgPoolLayer("p", 64, 16, 16, 2, pe=4)           # 16
    op = op_for(three)
    assert op.resources(three, ecp5) == cost.resources(three, ecp5)
    assert op.terms(three, ecp5)["adder"] == 16 * 3 and op.resources(three, ecp5).dsps == 1
    assert op.resources(four, ecp5).dsps == 0
    assert op.resources(four, ecp5).ffs == op.terms(four, ecp5)["counter"] + 2 + 2 * 4 * 3
    in_logic = op.resources(four, logic)
    assert in_logic.ffs == op.resources(four, ecp5).ffs + 8 * 16 * 4 * 3
    for layer in (three, four):
        for family in ("ecp5", "ice40"):
            assert set(op.terms(layer, target(family))) <= \
                set(target(family).coefficients["avgpool"])


def _pooled_graph(rng):
    """uint 3-bit 2x9x6 -> SWG 3x2 pad (1, 0) -> conv MVTU 12 -> 8 channels (binary, pe 4)
    -> global average pool of the 9x5 map (pe 4: 8 channels of 6-bit sums) -> logits MVTU
    reading the sums as uint elements."""
    from hwgen.ir import Graph
    from hwgen.ops import MVTULayer, SWGLayer
    from tests.conftest import _fields, random_layer
    swg = SWGLayer("c0_swg", 2, 9, 6, (3, 2), 1, (1, 0), simd=2, elem_bits=3)
    conv = random_layer(rng, mw=swg.window_elements, mh=8, pe=4, simd=4, name="c0",
                        in_encoding="uint", in_bits=3, pixels=swg.out_height * swg.out_width)
    conv = MVTULayer(**{**_fields(conv), "out_encoding": "binary"})
    pool = AvgPoolLayer("gap", 8, swg.out_height, swg.out_width,
                        (swg.out_height, swg.out_width), pe=4)
    logits = random_layer(rng, mw=8, mh=4, pe=2, simd=4, logits=True, name="fc",
                          in_encoding="uint", in_bits=pool.out_bits)
    return Graph(name="gap", input_shape=(2, 9, 6), classes=4, layers=(swg, conv, pool, logits),
                 input_encoding="uint", input_bits=3, test_frames=rng.integers(0, 8, (12, 108)),
                 test_labels=rng.integers(0, 4, 12))


def test_a_pooled_graph_round_trips_through_an_ir_file(tmp_path):
    from hwgen.golden import run_graph
    from hwgen.ir import load_ir, save_ir
    graph = _pooled_graph(np.random.default_rng(5))
    assert graph.activations()[3] == Activation(8, 1, 1, "uint", 6)
    save_ir(graph, tmp_path / "gap.ir.npz")
    again = load_ir(tmp_path / "gap.ir.npz")
    assert again.layers[2]._meta() == graph.layers[2]._meta()
    assert np.array_equal(run_graph(again).logits, run_graph(graph).logits)


@pytest.mark.cocotb
def test_a_pooled_network_matches_golden_on_verilator(sim_build_root):
    """A network with a global average pool between a conv and its logits layer: RTL == golden
    at full rate (sized FIFOs, cycles per frame within 2 % of the bound) and under stress."""
    expected = check_network_on_verilator(_pooled_graph(np.random.default_rng(5)),
                                          sim_build_root, "gap")
    assert len(set(expected)) > 1                      # the labels differ between frames
