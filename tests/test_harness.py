"""The HDL-side harness: same verdicts as the cocotb testbench, at Verilator's own speed."""
import numpy as np
import pytest

from hwgen.cosim import run_stream_test
from hwgen.golden import mvtu
from hwgen.harness import run_harness
from hwgen.ops.fifo.hw import StreamFIFO
from hwgen.ops.mvtu.hw import MVTU
from hwgen.target import target
from hwgen.lib.packing import pack_words
from tests.conftest import random_layer

pytestmark = pytest.mark.cocotb


def _mvtu_vectors(pe, simd, count, seed=0, wide=False):
    rng = np.random.default_rng(seed)
    layer = random_layer(rng, mw=96 if wide else 32, mh=8, pe=pe, simd=simd, logits=wide)
    x = rng.integers(0, 2, (count, layer.mw))
    inputs = pack_words(x, width=1, per_word=layer.simd)
    expected = pack_words(mvtu(layer, x).numpy(), width=layer.out_bits, per_word=layer.pe)
    return MVTU(layer, target=target("ecp5")), inputs, expected


@pytest.mark.parametrize("pe,simd,idle,backpressure", [
    (2, 8, 0.0, 0.0), (8, 32, 0.3, 0.4), (1, 4, 0.5, 0.1), (8, 96, 0.2, 0.2)])
def test_mvtu_matches_golden(pe, simd, idle, backpressure, sim_build_root):
    block, inputs, expected = _mvtu_vectors(pe, simd, 5000, seed=pe + simd, wide=simd == 96)
    run = run_harness(block, inputs, expected, idle=idle, backpressure=backpressure, seed=pe,
                      build_root=sim_build_root, name=f"mvtu_{pe}_{simd}")
    assert run.passed, run.message
    assert run.outputs == expected and run.mismatches == 0


def test_full_rate_cycles_agree_with_the_cocotb_testbench(sim_build_root):
    block, inputs, expected = _mvtu_vectors(2, 8, 300)
    fast = run_harness(block, inputs, expected, build_root=sim_build_root, name="agree")
    slow = run_stream_test(block, inputs, expected, build_root=sim_build_root, name="agree")
    assert fast.passed and slow.passed
    # The same cycle stamps, up to the testbenches' own start offsets.
    offset = fast.output_cycles[0] - slow.output_cycles[0]
    assert [c - offset for c in fast.output_cycles] == slow.output_cycles
    # NF outputs per vector, one vector every NF * SF cycles.
    assert fast.steady_interval() == slow.steady_interval() == block.expected_cycles() / block.layer.nf


def test_stress_is_reproducible_from_the_seed(sim_build_root):
    block, inputs, expected = _mvtu_vectors(4, 16, 500)
    runs = [run_harness(block, inputs, expected, idle=0.3, backpressure=0.3, seed=seed,
                        build_root=sim_build_root, name=f"seed_{index}")
            for index, seed in enumerate((5, 5, 6))]
    assert all(run.passed for run in runs)
    assert runs[0].output_cycles == runs[1].output_cycles != runs[2].output_cycles


def test_corrupted_expectation_is_caught(sim_build_root):
    block, inputs, expected = _mvtu_vectors(2, 8, 1000)
    corrupted = list(expected)
    corrupted[321] ^= 2
    corrupted[700] ^= 1
    run = run_harness(block, inputs, corrupted, idle=0.2, backpressure=0.2,
                      build_root=sim_build_root, name="corrupt", stop_on_mismatch=False)
    assert not run.passed and run.mismatches == 2
    assert run.message.startswith("2 mismatches, first output #321 at cycle ")
    assert run.outputs == expected
    stopped = run_harness(block, inputs, corrupted, build_root=sim_build_root, name="corrupt")
    assert not stopped.passed and len(stopped.outputs) == 322


def test_missing_and_extra_outputs_are_caught(sim_build_root):
    words = [int(w) for w in np.random.default_rng(1).integers(0, 1 << 12, 100)]
    fifo = StreamFIFO(shape=12, depth=4)
    short = run_harness(fifo, words[:50], words, build_root=sim_build_root, name="short",
                        timeout_cycles=400)
    assert not short.passed and short.message.startswith("timeout after 400 cycles: 50 of 100")
    extra = run_harness(fifo, words, words[:60], build_root=sim_build_root, name="extra")
    assert not extra.passed and extra.message.startswith("unexpected output #60")


def test_rejects_bad_probability(sim_build_root):
    block, inputs, expected = _mvtu_vectors(2, 8, 10)
    block._MustUse__silence = True      # never elaborated: no warning when it is collected
    with pytest.raises(ValueError, match="backpressure must lie in"):
        run_harness(block, inputs, expected, backpressure=1.0, build_root=sim_build_root)


def test_a_long_run_reports_its_progress(sim_build_root):
    """While the simulator runs, ``progress`` gets the outputs and cycles so far (as written
    out: the harness flushes them at least every 2**20 cycles): rising, within the run's."""
    from hwgen.ops.fifo import FIFOLayer
    from hwgen.ops import op_for
    layer = FIFOLayer("f", elements=1, bits=8, depth=4)
    block = op_for(layer).block(layer, target("ecp5"))
    words = list(np.random.default_rng(0).integers(0, 256, 300_000))
    seen = []
    run = run_harness(block, words, words, idle=0.9, build_root=sim_build_root,
                      name="progress", progress=lambda *figures: seen.append(figures),
                      progress_every=0.05)
    assert run.passed and run.cycles > 2 << 20
    counted = [(outputs, cycles) for outputs, cycles, _ in seen if outputs]
    assert counted, seen                       # some flush was seen before the end
    assert counted == sorted(counted) and counted[-1][0] <= len(words)
    assert all(0 < cycles <= run.cycles for _, cycles in counted)
