# amaranth: UnusedElaboratable=no
import json

import numpy as np
import pytest
import torch

from hwgen.lib.packing import pack_words
from hwgen.ops import Activation, ConcatLayer, Transfer, op_for
from hwgen.ops.concat import cost
from hwgen.ops.concat.golden import concat
from hwgen.ops.concat.hw import Concat
from hwgen.target import target
from tests.streams import check_join_on_verilator, simulate_streams

# (channels, height, width, bits, encoding)
SHAPES = [((1, 1), 4, 4, 1, "binary"), ((3, 5), 3, 2, 1, "bipolar"),
          ((2, 4, 1), 2, 3, 3, "uint"), ((16, 8, 4, 2), 2, 2, 2, "uint")]


def _vectors(layer, frames, seed):
    rng = np.random.default_rng(seed)
    xs = [rng.integers(0, 1 << layer.bits, (frames, channels * layer.pixels))
          for channels in layer.channels]
    words = [pack_words(x, width=layer.bits, per_word=channels)
             for x, channels in zip(xs, layer.channels)]
    expected = pack_words(concat(layer, xs).numpy(), width=layer.bits,
                          per_word=layer.out_channels)
    return words, expected


def test_golden_by_hand():
    layer = ConcatLayer("c", (2, 1), 1, 2, 2, "uint")        # a 1x2 image; channels innermost
    a = np.array([[1, 2, 3, 0]])
    b = np.array([[3, 1]])
    assert concat(layer, [a, b]).tolist() == [[1, 2, 3, 3, 0, 1]]
    three = ConcatLayer("c", (1, 1, 2), 1, 1, 1, "binary")
    assert concat(three, [[[1]], [[0]], [[0, 1]]]).tolist() == [[1, 0, 0, 1]]


def test_golden_is_torch_cat_along_channels():
    layer = ConcatLayer("c", (3, 5, 2), 4, 3, 2, "uint")
    rng = np.random.default_rng(0)
    xs = [rng.integers(0, 4, (5, c * 12)) for c in layer.channels]
    images = [torch.as_tensor(x).reshape(5, 4, 3, c).permute(0, 3, 1, 2)
              for x, c in zip(xs, layer.channels)]
    joined = torch.cat(images, dim=1).permute(0, 2, 3, 1).reshape(5, -1)
    assert torch.equal(concat(layer, xs), joined)


def test_layer_rejects():
    cases = [
        (dict(channels=(4,)), r"channels must be two or more positive integers, not \(4,\)"),
        (dict(channels=(4, 0)), r"channels must be two or more positive integers, not \(4, 0\)"),
        (dict(channels=4), "channels must be two or more positive integers, not 4"),
        (dict(height=0), "height must be a positive integer, not 0"),
        (dict(encoding="int"), "encoding must be one of bipolar, binary, uint, not 'int'"),
        (dict(encoding="binary", bits=2), "binary elements are one bit, not 2"),
    ]
    good = dict(name="c", channels=(2, 3), height=2, width=2, bits=2, encoding="uint")
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            ConcatLayer(**{**good, **change})
    with pytest.raises(TypeError, match="layer must be a ConcatLayer"):
        Concat("c")
    with pytest.raises(ValueError, match="layer 'c' concatenates 2 images, not 3"):
        concat(ConcatLayer(**good), [np.zeros((1, 8))] * 3)
    with pytest.raises(ValueError, match=r"input 1 must have shape \(1, 12\), not \(1, 8\)"):
        concat(ConcatLayer(**good), [np.zeros((1, 8))] * 2)


def test_op_answers():
    op = op_for("concat")
    assert op.inputs == 0
    layer = ConcatLayer("c", (2, 4, 1), 3, 2, 3, "uint")
    xs = [Activation(c, 3, 2, "uint", 3) for c in layer.channels]
    assert op.output(layer, xs) == Activation(7, 3, 2, "uint", 3)
    assert op.in_transfers(layer) == [Transfer(2, 3), Transfer(4, 3), Transfer(1, 3)]
    assert op.input_count(layer) == 3 and op.in_transfer(layer) == Transfer(2, 3)
    assert op.out_transfer(layer) == Transfer(7, 3)
    assert layer.expected_cycles() == 6 and op.foldings(layer, max_pe_simd=64) == [{}]
    block = op.block(layer, target("ecp5"))
    block._MustUse__silence = True      # never elaborated: no warning when it is collected
    assert [name for name in block.signature.members] == ["i0", "i1", "i2", "o"]
    bad = [(xs[:2], "layer 'c' concatenates 3 images, but has 2 inputs"),
           ([xs[0], Activation(4, 3, 2, "uint", 2), xs[2]],
            "layer 'c' takes images of 3-bit uint elements, but its input 1 is uint of 2 bits"),
           ([xs[0], xs[1], Activation(1, 3, 2, "binary", 1)],
            "its input 2 is binary of 1 bits"),
           ([xs[0], xs[1], Activation(1, 3, 2, "uint", 3, windowed=True)],
            "its input 2 is windows of 3 bits"),
           ([xs[0], Activation(4, 2, 3, "uint", 3), xs[2]],
            "layer 'c' expects a 4x3x2 image on input 1, but it is 4x2x3")]
    for inputs, message in bad:
        with pytest.raises(ValueError, match=message):
            op.output(layer, inputs)


@pytest.mark.parametrize("shape", SHAPES)
def test_ir_round_trip(shape):
    layer = ConcatLayer("c", *shape)
    op = op_for(layer)
    entry = json.loads(json.dumps(op.meta(layer)))
    assert entry.pop("op") == "concat" and op.arrays(layer, "l2") == {}
    assert op.check_entry(entry) is None
    assert op.from_entry(entry, "l2", {}) == layer


@pytest.mark.parametrize("change, message", [
    ({"channels": [8]}, r"channels must be two or more positive integers, not \[8\]"),
    ({"channels": [8, -1]}, r"channels must be two or more positive integers, not \[8, -1\]"),
    ({"channels": "88"}, "channels must be two or more positive integers, not '88'"),
    ({"bits": 0}, "bits must be a positive integer, not 0"),
    ({"encoding": "thermometer"}, "encoding must be one of bipolar, binary, uint"),
])
def test_a_crafted_entry_is_one_line(change, message):
    layer = ConcatLayer("c", (8, 4), 2, 2, 1, "binary")
    op = op_for(layer)
    entry = {**{k: v for k, v in op.meta(layer).items() if k != "op"}, **change}
    with pytest.raises(ValueError, match=message) as error:
        op.from_entry(entry, "l0", {})
    assert "\n" not in str(error.value)


def _simulate(layer, words, count, **stress):
    return simulate_streams(Concat(layer), {f"i{k}": w for k, w in enumerate(words)},
                            {"o": count}, **stress)


@pytest.mark.parametrize("shape", SHAPES)
def test_amaranth_sim_matches_golden(shape):
    """Each input idles on its own, the output is backpressured."""
    layer = ConcatLayer("c", *shape)
    words, expected = _vectors(layer, 4, seed=1)
    run = _simulate(layer, words, len(expected), idle=0.4, backpressure=0.5, seed=3)
    assert run.received["o"] == expected


@pytest.mark.parametrize("shape", SHAPES)
def test_amaranth_sim_full_rate(shape):
    layer = ConcatLayer("c", *shape)
    words, expected = _vectors(layer, 3, seed=1)
    run = _simulate(layer, words, len(expected))
    cycles = run.cycles["o"]
    assert run.received["o"] == expected
    assert cycles == list(range(cycles[0], cycles[0] + len(expected)))      # a pixel a cycle
    assert len(expected) == 3 * layer.expected_cycles()


def test_one_idle_input_stalls_the_others():
    layer = ConcatLayer("c", *SHAPES[2])
    words, _ = _vectors(layer, 1, seed=1)
    run = simulate_streams(Concat(layer), {"i0": words[0], "i1": words[1], "i2": []},
                           {"o": 1}, max_cycles=50)
    assert run.received["o"] == []


@pytest.mark.cocotb
def test_verilator_matches_golden(sim_build_root):
    layer = ConcatLayer("c", (3, 5, 2), 6, 5, 2, "uint")
    frames = 100
    words, expected = _vectors(layer, frames, seed=2)
    check_join_on_verilator(Concat(layer), words, expected, frames, sim_build_root,
                            depths=(3, 8, 5))


def test_cost_model():
    """A data term per output bit, an input term per input; the output and skid registers;
    every term priced by each target."""
    layer = ConcatLayer("c", (16, 8, 4), 2, 2, 2, "uint")
    for family in ("ecp5", "ice40"):
        op, on = op_for(layer), target(family)
        assert op.terms(layer, on) == {"data": 56, "input": 3, "control": 1}
        assert op.resources(layer, on) == cost.resources(layer, on)
        assert op.resources(layer, on).ffs == 2 + 2 * 56
        assert set(op.terms(layer, on)) <= set(on.coefficients["concat"])
