# amaranth: UnusedElaboratable=no
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hwgen.lib.packing import pack_words
from hwgen.ops import Activation, AddLayer, Transfer, op_for
from hwgen.ops.add import cost
from hwgen.ops.add.golden import add
from hwgen.ops.add.hw import Add
from hwgen.ops.mvtu.golden import activate
from hwgen.target import target
from tests.conftest import AllLogic
from tests.streams import check_join_on_verilator, simulate_streams

# (channels, height, width, pe, in_bits, steps): steps 0 an integer sum
SHAPES = [(1, 4, 4, 1, (1, 1), 0), (6, 3, 2, 2, (2, 1), 0), (4, 3, 3, 4, (1, 1), 1),
          (6, 2, 3, 3, (2, 2), 3), (8, 2, 2, 2, (3, 1), 7), (5, 2, 2, 1, (4, 4), 1)]


def _layer(channels, height, width, pe, in_bits, steps, seed=0, **more) -> AddLayer:
    """Thresholds spread over the sums (some past both ends), some channels inverted."""
    if not steps:
        return AddLayer("r", channels, height, width, pe, in_bits, **more)
    rng = np.random.default_rng(seed)
    top = sum((1 << bits) - 1 for bits in in_bits)
    thresholds = np.sort(rng.integers(-1, top + 3, (channels, steps)), axis=1)
    thresholds[0, 0] = 0
    return AddLayer("r", channels, height, width, pe, in_bits, thresholds,
                    rng.integers(0, 2, channels).astype(bool), **more)


def _vectors(layer, frames, seed):
    rng = np.random.default_rng(seed)
    a, b = (rng.integers(0, 1 << bits, (frames, layer.elements)) for bits in layer.in_bits)
    words = [pack_words(x, width=bits, per_word=layer.pe) for x, bits in zip((a, b), layer.in_bits)]
    expected = pack_words(add(layer, a, b).numpy(), width=layer.out_bits, per_word=layer.pe)
    return words, expected


def test_golden_by_hand():
    a = np.array([[3, 1, 0, 2]])            # a 1x2 image of 2 channels; in_bits (2, 1)
    b = np.array([[1, 0, 1, 1]])
    assert add(AddLayer("r", 2, 1, 2, 1, (2, 1)), a, b).tolist() == [[4, 1, 1, 3]]
    assert AddLayer("r", 2, 1, 2, 1, (2, 1)).out_bits == 3          # 0 .. 4
    one = AddLayer("r", 2, 1, 2, 1, (2, 1), np.array([[2], [3]]), np.array([False, True]),
                   out_encoding="binary")
    assert add(one, a, b).tolist() == [[1, 1, 0, 0]] and one.out_bits == 1
    three = AddLayer("r", 2, 1, 2, 2, (2, 1), np.array([[1, 2, 4], [0, 3, 5]]),
                     np.array([False, True]))
    assert add(three, a, b).tolist() == [[3, 2, 1, 1]] and three.out_bits == 2
    assert add(three, a, b).dtype == torch.uint8


@pytest.mark.parametrize("shape", SHAPES)
def test_golden_is_numpy_sum_and_the_matrix_layers_threshold_rule(shape):
    layer = _layer(*shape, seed=3)
    rng = np.random.default_rng(1)
    a, b = (rng.integers(0, 1 << bits, (5, layer.elements)) for bits in layer.in_bits)
    sums = a + b
    if layer.thresholds is None:
        assert np.array_equal(add(layer, a, b).numpy(), sums)
        return
    # hwgen.ops.mvtu.golden.activate on the sums as a matrix layer's dot products (one-bit
    # layers hold one threshold a neuron, not a column of one)
    one_bit = layer.steps == 1
    matrix = SimpleNamespace(output="bits", invert=layer.invert, bitsplit=False,
                             thresholds=layer.thresholds[:, 0] if one_bit else layer.thresholds,
                             act_bits=layer.out_bits)
    dots = torch.as_tensor(sums).reshape(5, -1, layer.channels)
    assert torch.equal(add(layer, a, b), activate(matrix, dots).reshape(5, -1))
    fire = (sums.reshape(5, -1, layer.channels, 1) >= layer.thresholds) \
        != layer.invert[:, None]
    assert np.array_equal(add(layer, a, b).numpy(), fire.sum(axis=-1).reshape(5, -1))


def test_layer_rejects():
    good = dict(name="r", channels=4, height=2, width=2, pe=2, in_bits=(1, 2))
    cases = [
        (dict(pe=3), "pe must divide channels=4, not 3"),
        (dict(pe=0), "pe must be a positive integer, not 0"),
        (dict(in_bits=(0, 2)), r"in_bits must be two integers in 1..8, not \(0, 2\)"),
        (dict(in_bits=(1, 9)), r"in_bits must be two integers in 1..8, not \(1, 9\)"),
        (dict(in_bits=(1,)), r"in_bits must be two integers in 1..8, not \(1,\)"),
        (dict(in_bits=3), "in_bits must be two integers in 1..8, not 3"),
        (dict(in_bits=(True, 1)), "in_bits must be two integers"),
        (dict(thresholds=np.zeros(4, int)), r"thresholds must be integers of shape \(4, "
         r"2\*\*out_bits - 1\) with out_bits in 1..8, not int64 \(4,\)"),
        (dict(thresholds=np.zeros((4, 2), int)), r"not int64 \(4, 2\)"),
        (dict(thresholds=np.zeros((3, 3), int)), r"not int64 \(3, 3\)"),
        (dict(thresholds=np.zeros((4, 1))), r"not float64 \(4, 1\)"),
        (dict(thresholds=np.zeros((4, 3), int), out_encoding="binary"),
         "out_encoding binary needs one threshold step, not 3"),
        (dict(out_encoding="binary"), "out_encoding must be uint for an integer sum"),
        (dict(out_encoding="bipolar"), "out_encoding must be one of binary, uint, not 'bipolar'"),
        (dict(invert=np.zeros(4, bool)), "invert is given without thresholds"),
        (dict(thresholds=np.zeros((4, 1), int), invert=np.zeros(3, bool)),
         r"invert must have shape \(4,\), not \(3,\)"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            AddLayer(**{**good, **change})
    with pytest.raises(TypeError, match="layer must be an AddLayer"):
        Add("r")


def test_thresholds_are_clipped_to_the_sums_and_invert_defaults_to_none():
    layer = AddLayer("r", 2, 1, 1, 1, (1, 2), np.array([[-5], [9]]))     # sums 0 .. 4
    assert layer.thresholds.tolist() == [[0], [5]] and layer.threshold_bits == 3
    assert layer.invert.tolist() == [False, False]
    assert add(layer, [[0, 1]], [[0, 3]]).tolist() == [[1, 0]]


def test_op_answers():
    op = op_for("add")
    assert op.inputs == 2 and op.array_fields == ("thresholds", "invert")
    layer = _layer(6, 3, 2, 3, (2, 1), 3)
    assert op.output(layer, [Activation(6, 3, 2, "uint", 2), Activation(6, 3, 2, "binary", 1)]) \
        == Activation(6, 3, 2, "uint", 2)
    assert op.in_transfers(layer) == [Transfer(3, 2), Transfer(3, 1)]
    assert op.input_count(layer) == 2 and op.in_transfer(layer) == Transfer(3, 2)
    assert op.out_transfer(layer) == Transfer(3, 2)
    assert op.out_transfer(AddLayer("r", 6, 3, 2, 3, (2, 1))) == Transfer(3, 3)
    assert layer.expected_cycles() == 3 * 2 * 2
    assert op.folding(layer) == {"pe": 3}
    assert op.foldings(layer, max_pe_simd=2) == [{"pe": 1}, {"pe": 2}, {"pe": 3}, {"pe": 6}]
    block = op.block(layer, target("ecp5"))
    block._MustUse__silence = True      # never elaborated: no warning when it is collected
    assert [name for name in block.signature.members] == ["i0", "i1", "o"]
    x = Activation(6, 3, 2, "uint", 2)
    bad = [([x], "layer 'r' adds two images, but has 1 inputs"),
           ([x, Activation(6, 3, 2, "uint", 2)],
            r"layer 'r' has in_bits\[1\]=1, but its input 1 has 2 bits per element"),
           ([x, Activation(6, 2, 3, "binary", 1)],
            "layer 'r' expects a 6x3x2 image, but its input 1 is 6x2x3"),
           ([Activation(6, 3, 2, "bipolar", 2), x],
            "layer 'r' adds images of binary or uint activations, but its input 0 is bipolar"),
           ([Activation(6, 3, 2, "uint", 2, windowed=True), x], "its input 0 is windows")]
    for xs, message in bad:
        with pytest.raises(ValueError, match=message):
            op.output(layer, xs)


def _round_trip(layer: AddLayer) -> AddLayer:
    """What an IR file gives back: the header entry through JSON, the arrays as they are."""
    op = op_for(layer)
    entry = json.loads(json.dumps(op.meta(layer)))
    assert entry.pop("op") == "add" and op.check_entry(entry) is None
    return op.from_entry(entry, "l3", op.arrays(layer, "l3"))


@pytest.mark.parametrize("shape", SHAPES)
def test_ir_round_trip(shape):
    layer = _layer(*shape, seed=2)
    again = _round_trip(layer)
    assert again.in_bits == layer.in_bits and op_for(again).meta(again) == op_for(layer).meta(layer)
    arrays, back = op_for(layer).arrays(layer, "l3"), op_for(again).arrays(again, "l3")
    assert arrays.keys() == back.keys() == ({"l3.thresholds", "l3.invert"} if shape[-1] else set())
    for name in arrays:
        assert np.array_equal(arrays[name], back[name]) and arrays[name].dtype == back[name].dtype


@pytest.mark.parametrize("change, message", [
    ({"thresholds": np.zeros((6, 2), np.int64)}, r"thresholds must be integers of shape \(6, "),
    ({"thresholds": None}, "invert is given without thresholds"),
    ({"invert": np.zeros(5, bool)}, r"invert must have shape \(6,\), not \(5,\)"),
    ({"pe": 4}, "pe must divide channels=6, not 4"),
    ({"pe": "2"}, "pe must be a positive integer, not '2'"),
    ({"in_bits": [2, 0]}, r"in_bits must be two integers in 1..8, not \[2, 0\]"),
    ({"in_bits": [2, 1, 1]}, r"in_bits must be two integers in 1..8, not \[2, 1, 1\]"),
    ({"out_encoding": "int"}, "out_encoding must be one of binary, uint, not 'int'"),
])
def test_a_crafted_entry_is_one_line(change, message):
    layer = _layer(6, 2, 3, 3, (2, 2), 3)
    op = op_for(layer)
    entry = {key: value for key, value in op.meta(layer).items() if key != "op"}
    arrays = op.arrays(layer, "l0")
    for name, value in change.items():
        if name in op.array_fields:
            arrays.pop(f"l0.{name}")
            if value is not None:
                arrays[f"l0.{name}"] = value
        else:
            entry[name] = value
    with pytest.raises(ValueError, match=message) as error:
        op.from_entry(entry, "l0", arrays)
    assert "\n" not in str(error.value)


def _simulate(layer, words, count, **stress):
    return simulate_streams(Add(layer), {"i0": words[0], "i1": words[1]}, {"o": count},
                            **stress)


@pytest.mark.parametrize("shape", SHAPES)
def test_amaranth_sim_matches_golden(shape):
    """Each input idles on its own, the output is backpressured."""
    layer = _layer(*shape)
    words, expected = _vectors(layer, 3, seed=1)
    run = _simulate(layer, words, len(expected), idle=0.4, backpressure=0.5, seed=2)
    assert run.received["o"] == expected


@pytest.mark.parametrize("shape", SHAPES)
def test_amaranth_sim_full_rate(shape):
    layer = _layer(*shape)
    words, expected = _vectors(layer, 2, seed=1)
    run = _simulate(layer, words, len(expected))
    cycles = run.cycles["o"]
    assert run.received["o"] == expected
    assert cycles == list(range(cycles[0], cycles[0] + len(expected)))      # one per cycle
    assert len(expected) == 2 * layer.expected_cycles()


def test_an_idle_input_stalls_the_other():
    """Only one input offered: nothing is taken from either, nothing comes out."""
    layer = _layer(6, 3, 2, 2, (2, 1), 0)
    words, _ = _vectors(layer, 1, seed=1)
    run = simulate_streams(Add(layer), {"i0": words[0], "i1": []}, {"o": 1}, max_cycles=50)
    assert run.received["o"] == []


@pytest.mark.cocotb
@pytest.mark.parametrize("shape", [SHAPES[1], SHAPES[3]])
def test_verilator_matches_golden(shape, sim_build_root):
    layer = _layer(*shape)
    frames = max(8, 3000 // (layer.elements // layer.pe))
    words, expected = _vectors(layer, frames, seed=2)
    check_join_on_verilator(Add(layer), words, expected, frames, sim_build_root, depths=(3, 8))


def test_cost_model():
    """An integer sum: a sum term per sum bit. Thresholded: a compare term per threshold bit,
    the channel fold counter, and the threshold ROM's terms, or a select term per threshold
    bit and counter bit where the ROM merges into the comparators (a constant with one channel
    group, a few words in logic); the output and skid registers; every term priced by each
    target."""
    ecp5, logic = target("ecp5"), AllLogic()
    plain, one = _layer(6, 2, 2, 3, (2, 1), 0), _layer(6, 2, 2, 6, (1, 1), 1)
    three, deep = _layer(8, 2, 2, 2, (2, 2), 3), _layer(64, 2, 2, 2, (2, 2), 3)
    op = op_for(plain)
    assert op.terms(plain, ecp5) == {"sum": 3 * 3, "control": 1}
    assert op.resources(plain, ecp5).ffs == 2 + 2 * 3 * 3
    assert op.terms(one, ecp5) == {"compare": 6 * 2, "counter": 0, "select": 0, "control": 1}
    assert op.terms(three, logic) == {"compare": 2 * 3 * 3, "counter": 2,
                                      "select": 2 * 3 * 3 * 2, "control": 1}
    terms = op.terms(deep, logic)                  # 32 words: the ROM stays a ROM
    assert "select" not in terms and terms["rom"] == 2 * (3 * 3 + 1) * 2
    assert op.resources(three, ecp5) == cost.resources(three, ecp5)
    assert op.resources(three, ecp5).ffs == 2 + 2 * 2 * 2 + 2
    for layer in (plain, one, three, deep):
        for family in ("ecp5", "ice40"):
            assert set(op.terms(layer, target(family))) <= set(target(family).coefficients["add"])
            assert op.resources(layer, target(family)).brams == 0
