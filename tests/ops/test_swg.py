import numpy as np
import pytest

from hwgen.cosim import run_stream_test
from hwgen.ops.swg.golden import swg
from hwgen.harness import run_harness
from hwgen.lib.bank import Bank
from hwgen.lib.packing import pack_words
from hwgen.ops.swg.hw import SlidingWindow
from hwgen.ops.swg.layer import ring_rows
from hwgen.ops import SWGLayer, op_for
from hwgen.ops.swg import cost
from hwgen.target import Resources, target
from tests.conftest import AllLogic
from tests.streams import simulate_stream

# (channels, height, width, kernel, stride, padding, simd, elem_bits)
SHAPES = [
    (1, 8, 8, 3, 1, 0, 1, 1),
    (4, 6, 7, (3, 2), (2, 1), (1, 1), 2, 1),
    (2, 9, 5, (4, 3), (3, 2), (2, 0), 2, 1),
    (1, 7, 6, 3, 2, 1, 1, 8),                  # integer pixels
    (3, 5, 4, 1, 1, 0, 3, 1),                  # 1x1: a pointwise layer
    (2, 4, 4, 4, 1, 0, 1, 2),                  # the window is the whole image
    (8, 3, 10, (1, 5), (1, 5), 0, 4, 1),       # rows and columns are unrelated
    (2, 6, 1, 1, 1, 0, 2, 1),                  # a line and a row every transfer
    (3, 2, 5, (2, 3), 1, (0, 1), 1, 1),        # two rows: the writer's next row is its last
    (2, 1, 6, (1, 3), 1, (0, 1), 2, 1),        # one row (a 1-D convolution)
    (1, 8, 5, 3, (2, 1), 0, 1, 1),             # the last row in no window, no padding
]
#: A shape whose reader, done with a frame while the writer still takes its unused last row,
#: starts the next frame at row 0 and waits there for the writer.
READER_AHEAD = SHAPES[-1]


def _layer(shape) -> SWGLayer:
    channels, height, width, kernel, stride, padding, simd, elem_bits = shape
    return SWGLayer("swg", channels, height, width, kernel, stride, padding, simd, elem_bits)


def _vectors(layer, frames, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << layer.elem_bits, (frames, layer.in_elements))
    windows = swg(layer, x).numpy()
    inputs = pack_words(x, width=layer.elem_bits, per_word=layer.simd)
    expected = pack_words(windows, width=layer.elem_bits, per_word=layer.simd)
    return inputs, expected


def test_golden_windows_by_hand():
    layer = SWGLayer("swg", 1, 3, 3, 2, 1, 1, 1, 4)
    image = np.arange(1, 10)[None]                   # 1 2 3 / 4 5 6 / 7 8 9
    windows = swg(layer, image).numpy()[0]
    assert (layer.out_height, layer.out_width) == (4, 4)
    assert windows[0].tolist() == [0, 0, 0, 1]       # padding above and left
    assert windows[5].tolist() == [1, 2, 4, 5]
    assert windows[15].tolist() == [9, 0, 0, 0]


@pytest.mark.parametrize("bad,message", [
    (dict(simd=3), "simd must divide channels=4"),
    (dict(padding=3), "padding must be smaller than the kernel"),
    (dict(kernel=9), "does not fit"),
])
def test_layer_rejects(bad, message):
    arguments = dict(name="s", channels=4, height=6, width=6, kernel=3, stride=1, padding=1, simd=2)
    with pytest.raises(ValueError, match=message):
        SWGLayer(**{**arguments, **bad})


def test_ring_rows():
    assert ring_rows(_layer(SHAPES[0])) == 8       # 3 + 3
    assert ring_rows(_layer(SHAPES[2])) == 8       # 4 + 4
    assert ring_rows(_layer(SHAPES[4])) == 2       # 1 + 1


@pytest.mark.parametrize("shape", SHAPES)
def test_amaranth_sim_matches_golden(shape):
    layer = _layer(shape)
    inputs, expected = _vectors(layer, 3, seed=sum(map(hash, map(str, shape))) % 1000)
    got = simulate_stream(SlidingWindow(layer), inputs, len(expected), idle=0.3, backpressure=0.3)
    assert got == expected


@pytest.mark.parametrize("shape", SHAPES)
def test_amaranth_sim_with_a_starved_reader(shape):
    # The writer idles most cycles: the reader waits at each row's edge, where whether the
    # row it points at is written must be exact a cycle after every step.
    layer = _layer(shape)
    inputs, expected = _vectors(layer, 2, seed=4)
    assert simulate_stream(SlidingWindow(layer), inputs, len(expected), idle=0.8) == expected


@pytest.mark.parametrize("tables", [True, False])
def test_a_tall_image_steps_its_gap_by_adders(monkeypatch, tables):
    """Beyond GAP_TABLE_BITS the row gap's steps are adders and compares, not tables: both
    forms give the windows (a 140-row image, a 9-bit gap), with a starved writer and
    backpressure."""
    from hwgen.ops.swg import hw
    layer = _layer((1, 140, 2, 3, (2, 1), 1, 1, 1))
    if tables:
        monkeypatch.setattr(hw, "GAP_TABLE_BITS", 9)
    inputs, expected = _vectors(layer, 2, seed=6)
    assert simulate_stream(SlidingWindow(layer), inputs, len(expected), idle=0.6,
                           backpressure=0.3, seed=1) == expected


@pytest.mark.parametrize("shape", [SHAPES[1], SHAPES[3], SHAPES[4]])
def test_pipeline_under_heavy_backpressure(shape):
    # The read and output registers stall with the reader's counters and addresses.
    layer = _layer(shape)
    inputs, expected = _vectors(layer, 3, seed=9)
    for idle, backpressure in ((0.0, 0.7), (0.6, 0.6)):
        got = simulate_stream(SlidingWindow(layer), inputs, len(expected), idle=idle,
                              backpressure=backpressure, seed=2)
        assert got == expected


@pytest.fixture(scope="module")
def bank():
    """Every shape's window generator in one bank: one harness build runs them all."""
    return Bank([SlidingWindow(_layer(shape)) for shape in SHAPES])


@pytest.mark.cocotb
@pytest.mark.parametrize("shape", SHAPES)
def test_cosim_matches_golden(shape, bank, sim_build_root):
    block, run = _cosim(bank, shape, sim_build_root, (("stress", 0.3, 0.4), ("full", 0.0, 0.0)))
    # At full rate the busier side moves every cycle, across frame boundaries too.
    if shape not in SHORT_IMAGES:
        assert _cycles_per_frame(run, block) <= 1.02 * block.expected_cycles()


@pytest.mark.cocotb
def test_a_starved_writer_with_the_reader_a_frame_ahead(bank, sim_build_root):
    """Input words far apart: the reader leaves each frame before its last row is written and
    waits at the next frame's row 0; the frame's end must not read as that row written."""
    _cosim(bank, READER_AHEAD, sim_build_root, (("starved", 0.8, 0.0), ("starved_bp", 0.8, 0.3)))


def _cosim(bank, shape, sim_build_root, runs):
    """Co-simulate the shape's window generator (in ``bank``) for each ``(name, idle,
    backpressure)``; every run must pass. Returns the block and the last run."""
    select = SHAPES.index(shape)
    block = bank.blocks[select]
    layer = block.layer
    frames = max(4, 6000 // (layer.out_elements // layer.simd))
    inputs, expected = _vectors(layer, frames, seed=1)
    for name, idle, backpressure in runs:
        run = run_harness(bank, inputs, expected, idle=idle, backpressure=backpressure, seed=3,
                          build_root=sim_build_root, name=name, select=select)
        assert run.passed, run.message
    wrong = list(expected)
    wrong[len(wrong) // 2] ^= 1                 # a corrupted expectation is caught
    assert not run_harness(bank, inputs, wrong, build_root=sim_build_root, name="corrupt",
                           select=select).passed
    return block, run


# Images of one and two rows miss the cycle model: the writer may run at most one frame ahead
# and never into the last row of that frame, so the next frame's first row is written only once
# the reader has left the current frame (1 row: 23 cycles a frame against 18; 2 rows: 93
# against 90). Known, not yet fixed; strict, so a fix is noticed.
SHORT_IMAGES = [shape for shape in SHAPES if shape[1] <= 2]


def _cycles_per_frame(run, block) -> float:
    per_frame = block.layer.out_elements // block.layer.simd
    frames = len(run.output_cycles) // per_frame
    return (run.output_cycles[-1] - run.output_cycles[per_frame - 1]) / (frames - 1)


@pytest.mark.cocotb
@pytest.mark.xfail(strict=True, reason="the writer cannot start a short image's next frame early")
@pytest.mark.parametrize("shape", SHORT_IMAGES)
def test_short_images_reach_the_cycle_model(shape, bank, sim_build_root):
    block, run = _cosim(bank, shape, sim_build_root, (("full", 0.0, 0.0),))
    assert _cycles_per_frame(run, block) <= 1.02 * block.expected_cycles()


COCOTB = [SHAPES[1], SHAPES[3]]


@pytest.fixture(scope="module")
def cocotb_bank():
    return Bank([SlidingWindow(_layer(shape)) for shape in COCOTB])


@pytest.mark.cocotb
@pytest.mark.parametrize("shape", COCOTB)
def test_cocotb_testbench_matches_golden(shape, cocotb_bank, sim_build_root):
    select = COCOTB.index(shape)
    layer = cocotb_bank.blocks[select].layer
    inputs, expected = _vectors(layer, 12, seed=2)
    run = run_stream_test(cocotb_bank, inputs, expected, idle=0.3, backpressure=0.3, seed=5,
                          build_root=sim_build_root, name="cocotb", select=select)
    assert run.passed, run.message


# --- cost -------------------------------------------------------------------------------------

def test_cost_model():
    """The op answers with its cost model, the line buffer where the target puts it: on ECP5 a
    deep one in block RAM, a shallow one in DPR16X4 cells (synthesised: tests/test_estimate.py);
    every memory in logic on a family without RAM."""
    ecp5, logic = target("ecp5"), AllLogic()
    deep = SWGLayer("s", 64, 16, 16, 3, padding=1)
    shallow = SWGLayer("s", 16, 8, 8, 3, simd=4)
    op = op_for(deep)
    assert op.resources(deep, ecp5) == cost.resources(deep, ecp5)
    assert op.resources(deep, ecp5) == Resources(366, 94, 1, 0)
    assert op.terms(deep, ecp5) == {"counter": 57, "data": 1, "control": 1, "lutram_mux": 0}
    assert op.resources(shallow, ecp5) == Resources(383, 78, 0, 0)
    assert op.terms(shallow, ecp5)["lutram"] == 16
    assert op.resources(deep, logic).brams == 0 and "lutram" not in op.terms(shallow, logic)
    for layer in (deep, shallow):
        assert set(op.terms(layer, ecp5)) <= set(ecp5.coefficients["swg"])


def test_the_shapes_cover_both_writer_forms():
    """The shapes above run both forms of the reader's row check at full rate and under
    stress: the writer's rows seen a cycle late (a reader with more to send) and exact."""
    from hwgen.ops.swg.hw import writer_late
    forms = {shape: writer_late(_layer(shape)) for shape in SHAPES}
    assert set(forms.values()) == {True, False}
    assert forms[(3, 5, 4, 1, 1, 0, 3, 1)] is False          # a pointwise layer: as many out
    assert forms[(1, 8, 8, 3, 1, 0, 1, 1)] is True           # a 3x3 window: nine times as many
