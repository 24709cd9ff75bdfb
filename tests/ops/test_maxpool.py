import numpy as np
import pytest

from hwgen.ops.maxpool.golden import maxpool
from hwgen.ops.maxpool.hw import MaxPool
from hwgen.lib.bank import Bank
from hwgen.lib.packing import pack_words
from hwgen.ops import MaxPoolLayer, op_for
from hwgen.ops.maxpool import cost
from hwgen.target import Resources, target
from tests.conftest import AllLogic
from tests.streams import check_block_on_verilator, simulate_stream

# (channels, height, width, kernel, pe)
SHAPES = [(1, 8, 8, 2, 1), (4, 7, 9, (2, 3), 2), (6, 5, 5, 5, 3), (16, 6, 4, (3, 1), 16)]
# (channels, height, width, kernel, pe, elem_bits): multi-bit (2-bit activation) elements
WIDE = [(2, 6, 6, 2, 1, 2), (8, 5, 7, (2, 3), 4, 2), (3, 4, 4, 4, 3, 3)]


def _vectors(layer, frames, seed, density=0.25):
    rng = np.random.default_rng(seed)
    bits = layer.elem_bits
    if bits == 1:
        x = (rng.random((frames, layer.in_elements)) < density).astype(np.uint8)
    else:   # mostly small values, so that the maximum is often not the top level
        x = rng.integers(0, 1 << bits, (frames, layer.in_elements)) >> rng.integers(
            0, bits + 1, (frames, layer.in_elements))
    inputs = pack_words(x, width=bits, per_word=layer.pe)
    expected = pack_words(maxpool(layer, x).numpy(), width=bits, per_word=layer.pe)
    return inputs, expected


def test_golden_by_hand():
    layer = MaxPoolLayer("p", 1, 3, 5, 2)           # the last row and column are dropped
    image = np.array([[0, 0, 1, 0, 1],
                      [0, 0, 0, 0, 1],
                      [1, 1, 1, 1, 1]]).reshape(1, -1)
    assert maxpool(layer, image).tolist() == [[0, 1]]


def test_layer_rejects():
    with pytest.raises(ValueError, match="pe must divide channels=4, not 3"):
        MaxPoolLayer("p", 4, 4, 4, 2, pe=3)
    with pytest.raises(ValueError, match="kernel must be positive and fit"):
        MaxPoolLayer("p", 4, 4, 4, 5)


def test_golden_multi_bit_by_hand():
    layer = MaxPoolLayer("p", 2, 2, 2, 2, elem_bits=2)   # channels innermost
    image = np.array([[1, 0, 3, 2, 0, 1, 2, 1]])
    assert maxpool(layer, image).tolist() == [[3, 2]]


@pytest.mark.parametrize("shape", SHAPES + WIDE)
def test_amaranth_sim_matches_golden(shape):
    layer = MaxPoolLayer("p", *shape)
    inputs, expected = _vectors(layer, 3, seed=1)
    assert simulate_stream(MaxPool(layer), inputs, len(expected), idle=0.3,
                           backpressure=0.5) == expected


COSIM = SHAPES + WIDE[1:]


@pytest.fixture(scope="module")
def bank():
    """Every co-simulated shape in one bank: one Verilator build each for harness and cocotb."""
    return Bank([MaxPool(MaxPoolLayer("p", *shape)) for shape in COSIM])


@pytest.mark.cocotb
@pytest.mark.parametrize("index", range(len(COSIM)), ids=[f"shape{k}" for k in range(len(COSIM))])
def test_cosim_matches_golden(index, bank, sim_build_root):
    block = bank.blocks[index]
    layer = block.layer
    frames = max(8, 5000 // (layer.out_elements // layer.pe))
    inputs, expected = _vectors(layer, frames, seed=2)
    check_block_on_verilator(block, inputs, expected, frames, sim_build_root, corrupt=True,
                             bank=bank)


# --- cost -------------------------------------------------------------------------------------

def test_cost_model():
    """The op answers with its cost model: the partial row where the target puts it (read
    asynchronously: DPR16X4 cells on ECP5, flip-flops on a family without RAM), a multiplier
    for an address ``column * cf`` unless ``cf`` is a power of two."""
    ecp5, logic = target("ecp5"), AllLogic()
    three = MaxPoolLayer("p", 48, 6, 6, 2, pe=16)           # 3 channel folds
    four = MaxPoolLayer("p", 64, 16, 16, 2, pe=4)           # 16
    op = op_for(three)
    assert op.resources(three, ecp5) == cost.resources(three, ecp5)
    assert op.resources(three, ecp5) == Resources(114, 46, 0, 1)
    assert op.resources(four, ecp5) == Resources(175, 28, 0, 0)
    assert op.terms(four, ecp5) == {"counter": 18, "data": 4, "control": 1, "lutram": 8,
                                    "lutram_mux": 28}
    in_logic = op.resources(four, logic)
    assert in_logic.ffs == 28 + 8 * 16 * 4 and "lutram" not in op.terms(four, logic)
    for layer in (three, four):
        assert set(op.terms(layer, ecp5)) <= set(ecp5.coefficients["maxpool"])
