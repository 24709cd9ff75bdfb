import copy
import dataclasses

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import Const, Value
from amaranth.sim import Simulator

from hwgen.cosim import run_stream_test
from hwgen.golden import mvtu
from hwgen.harness import run_harness
from hwgen.estimate import estimate_layer
from hwgen.lib.bank import Bank
from hwgen.lib.packing import pack_words, unpack_words
from hwgen.ops import MVTULayer, op_for
from hwgen.ops.mvtu.datapath import (BLOCK_READ_REGISTERS, macro_latency, mvtu_latency,
                                     sum_latency, weights_in_block_ram)
from hwgen.ops.mvtu.hw import MVTU
from hwgen.target import target
from tests.conftest import AllLogic, random_layer, random_multithreshold_layer
from tests.streams import simulate_after_reset, simulate_stream

ECP5 = target("ecp5")
VECTORS = 5000
MW, MH = 32, 8


def width_for(encoding, bits, elements=12):
    """MW, or ``elements`` thermometer codes' values."""
    return elements * ((1 << bits) - 1) if encoding == "thermometer" else MW


def vectors(layer, rng, count):
    x = rng.integers(0, 1 << layer.in_bits, (count, layer.in_elements))
    y = mvtu(layer, x).numpy()
    inputs = pack_words(x, width=layer.in_bits, per_word=layer.simd // layer.code_bits)
    expected = pack_words(y, width=layer.out_bits, per_word=layer.pe)
    return inputs, expected


def test_rejects_folding_that_does_not_divide():
    with pytest.raises(ValueError, match="pe must divide mh=8, not 3"):
        MVTULayer("x", 32, 8, 3, 8, np.zeros((8, 32)))
    with pytest.raises(ValueError, match="simd must divide mw=32, not 5"):
        MVTULayer("x", 32, 8, 2, 5, np.zeros((8, 32)))


@pytest.mark.parametrize("pe,simd,logits", [(2, 8, False), (8, 32, False), (1, 4, True), (4, 16, True)])
def test_amaranth_sim_matches_golden(pe, simd, logits):
    rng = np.random.default_rng(pe * 100 + simd)
    layer = random_layer(rng, mw=16 if simd < 8 else MW, mh=MH, pe=pe, simd=simd, logits=logits)
    inputs, expected = vectors(layer, rng, 40)
    got = simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected), idle=0.3,
                          backpressure=0.3)
    assert got == expected


# --- Verilator ---------------------------------------------------------------------------------
# Every block a Verilator test below runs sits in one of two banks (hwgen.lib.bank): one build of
# each serves them all, the cocotb testbench's and the harness's. Each layer comes from its own
# function with its own seeded generator, which then makes the test's vectors.

def _threshold_layer(pe, simd):
    rng = np.random.default_rng(pe * 1000 + simd)
    return random_layer(rng, mw=MW, mh=MH, pe=pe, simd=simd), rng


def _logits_layer(pe, simd):
    rng = np.random.default_rng(7 + pe)
    return random_layer(rng, mw=MW, mh=MH, pe=pe, simd=simd, logits=True), rng


def _encoded_layer(encoding, bits, pe, simd, logits):
    rng = np.random.default_rng(pe * 10 + simd + bits)
    return random_layer(rng, mw=width_for(encoding, bits), mh=MH, pe=pe, simd=simd,
                        logits=logits, in_encoding=encoding, in_bits=bits), rng


def _multithreshold_layer(encoding, bits, pe, simd):
    rng = np.random.default_rng(pe * 7 + simd + bits)
    return random_multithreshold_layer(rng, mw=MW, mh=MH, pe=pe, simd=simd,
                                       in_encoding=encoding, in_bits=bits), rng


def _corrupted_layer():
    rng = np.random.default_rng(3)
    return random_layer(rng, mw=MW, mh=MH, pe=2, simd=8), rng


def _cycles_layer(pe, simd):
    rng = np.random.default_rng(11)
    return random_layer(rng, mw=MW, mh=MH, pe=pe, simd=simd), rng


THRESHOLDS = [(8, 32), (2, 8), (4, 4), (1, 16)]
LOGITS = [(2, 8), (8, 4)]
CYCLES = [(2, 8), (8, 32), (1, 16)]


def _constant_layer(encoding, bits, logits, seed):
    rng = np.random.default_rng(seed)
    return random_layer(rng, mw=MW, mh=MH, pe=MH, simd=MW, logits=logits, in_encoding=encoding,
                        in_bits=bits), rng


def _block_layer(encoding, bits, pe, simd, logits):
    rng = np.random.default_rng(pe * 10 + simd + bits + 1)
    layer = random_layer(rng, mw=width_for(encoding, bits), mh=MH, pe=pe, simd=simd,
                         logits=logits, in_encoding=encoding, in_bits=bits)
    return dataclasses.replace(layer, ram_style="block"), rng


CONSTANT_COSIM = [("bipolar", 1, False), ("binary", 1, True), ("uint", 3, False)]


def _cocotb_layers() -> dict:
    """The layers the cocotb testbench runs, by (test, parameters)."""
    return {**{("thresholds", *key): _threshold_layer(*key) for key in THRESHOLDS},
            **{("logits", *key): _logits_layer(*key) for key in LOGITS},
            **{("encodings", *key): _encoded_layer(*key) for key in ENCODED},
            ("corrupted",): _corrupted_layer(),
            **{("cycles", *key): _cycles_layer(*key) for key in CYCLES}}


def _harness_layers() -> dict:
    """The layers the HDL-side harness runs, by (test, parameters)."""
    return {**{("encodings", *key): _encoded_layer(*key) for key in ENCODED},
            **{("constant", *key): _constant_layer(*key, seed=key[1] + 2 * key[2] + 7)
               for key in CONSTANT_COSIM},
            **{("block", *key): _block_layer(*key) for key in (BLOCK[1], BLOCK[3])},
            **{("multi", *key): _multithreshold_layer(*key) for key in MULTI[1:3]}}


class _Banked:
    """A bank of MVTUs, one a key of ``layers``: ``unit(key)`` is the bank, its block, the
    block's ``select`` and a fresh copy of the generator that made the layer."""

    def __init__(self, layers: dict):
        self.keys = list(layers)
        self.rngs = [rng for _layer, rng in layers.values()]
        self.bank = Bank([MVTU(layer, target=ECP5) for layer, _rng in layers.values()])

    def unit(self, *key):
        index = self.keys.index(key)
        return self.bank, self.bank.blocks[index], index, copy.deepcopy(self.rngs[index])


@pytest.fixture(scope="module")
def cocotb_bank():
    return _Banked(_cocotb_layers())


@pytest.fixture(scope="module")
def harness_bank():
    return _Banked(_harness_layers())


@pytest.mark.cocotb
@pytest.mark.parametrize("pe,simd", THRESHOLDS)
def test_cosim_thresholds(pe, simd, cocotb_bank, sim_build_root):
    bank, block, select, rng = cocotb_bank.unit("thresholds", pe, simd)
    inputs, expected = vectors(block.layer, rng, VECTORS)
    run = run_stream_test(bank, inputs, expected, idle=0.25, backpressure=0.3, seed=pe,
                          build_root=sim_build_root, name=f"thr_{pe}_{simd}", select=select)
    assert run.passed, run.message
    bits = unpack_words(run.outputs, width=1, per_word=pe, signed=False)
    assert 0.2 < bits.mean() < 0.8    # the vectors exercise both outputs


@pytest.mark.cocotb
@pytest.mark.parametrize("pe,simd", LOGITS)
def test_cosim_logits(pe, simd, cocotb_bank, sim_build_root):
    bank, block, select, rng = cocotb_bank.unit("logits", pe, simd)
    inputs, expected = vectors(block.layer, rng, VECTORS)
    run = run_stream_test(bank, inputs, expected, idle=0.3, backpressure=0.25, seed=pe,
                          build_root=sim_build_root, name=f"int_{pe}_{simd}", select=select)
    assert run.passed, run.message


ENCODED = [  # (in_encoding, in_bits, pe, simd, logits)
    ("binary", 1, 2, 8, False), ("binary", 1, 4, 32, True),
    ("uint", 8, 2, 4, False), ("uint", 8, 4, 1, True), ("uint", 3, 8, 16, False),
    ("thermometer", 2, 2, 6, False), ("thermometer", 3, 4, 14, True),
]


@pytest.mark.parametrize("encoding,bits,pe,simd,logits", ENCODED)
def test_encodings_amaranth_sim_matches_golden(encoding, bits, pe, simd, logits):
    layer, rng = _encoded_layer(encoding, bits, pe, simd, logits)
    inputs, expected = vectors(layer, rng, 30)
    assert simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected), idle=0.3,
                           backpressure=0.3) == expected


@pytest.mark.cocotb
@pytest.mark.parametrize("encoding,bits,pe,simd,logits", ENCODED)
def test_encodings_cosim(encoding, bits, pe, simd, logits, harness_bank, cocotb_bank,
                         sim_build_root):
    key = ("encodings", encoding, bits, pe, simd, logits)
    bank, block, select, rng = harness_bank.unit(*key)
    layer = block.layer
    inputs, expected = vectors(layer, rng, VECTORS)
    run = run_harness(bank, inputs, expected, idle=0.25, backpressure=0.3, seed=pe,
                      build_root=sim_build_root, name=f"{encoding}_{pe}_{simd}", select=select)
    assert run.passed, run.message
    if not logits:
        bits_out = unpack_words(run.outputs, width=1, per_word=pe, signed=False)
        assert 0.2 < bits_out.mean() < 0.8
    some = 200 * layer.nf                       # and some through the cocotb testbench
    bank, _block, select, _rng = cocotb_bank.unit(*key)
    slow = run_stream_test(bank, inputs[:200 * layer.sf], expected[:some], idle=0.25,
                           backpressure=0.3, build_root=sim_build_root, name=f"{encoding}_cocotb",
                           select=select)
    assert slow.passed, slow.message


CONSTANT = [  # (in_encoding, in_bits, logits): fully parallel, one weight word
    ("bipolar", 1, False), ("bipolar", 1, True), ("binary", 1, False), ("binary", 1, True),
    ("uint", 3, False), ("uint", 8, True),
]


@pytest.mark.parametrize("encoding,bits,logits", CONSTANT)
def test_constant_weights_amaranth_sim(encoding, bits, logits):
    """A layer of one weight word has its weights as constants in the leaves' logic: no
    weight memory, no weight register, the same latency and results."""
    layer, rng = _constant_layer(encoding, bits, logits, seed=bits + 2 * logits)
    block = MVTU(layer, target=ECP5)
    text = rtlil.convert(MVTU(layer, target=ECP5))
    assert "weight_read" not in text and "weight_word" not in text
    inputs, expected = vectors(layer, rng, 40)
    assert simulate_stream(block, inputs, len(expected), idle=0.3, backpressure=0.3) == expected


@pytest.mark.cocotb
@pytest.mark.parametrize("encoding,bits,logits", CONSTANT_COSIM)
def test_constant_weights_cosim(encoding, bits, logits, harness_bank, sim_build_root):
    bank, block, select, rng = harness_bank.unit("constant", encoding, bits, logits)
    inputs, expected = vectors(block.layer, rng, 2000)
    run = run_harness(bank, inputs, expected, idle=0.2, backpressure=0.2, seed=3,
                      build_root=sim_build_root, name=f"constant_{encoding}_{logits}",
                      select=select)
    assert run.passed, run.message
    wrong = list(expected)
    wrong[-1] ^= 1                              # a corrupted expectation is caught
    caught = run_harness(bank, inputs, wrong, build_root=sim_build_root,
                         name=f"constant_{encoding}_{logits}", select=select)
    assert not caught.passed


BLOCK = [  # (in_encoding, in_bits, pe, simd, logits) with ram_style: block
    ("bipolar", 1, 2, 8, False), ("binary", 1, 4, 32, True), ("uint", 3, 2, 4, False),
    ("thermometer", 2, 2, 6, False), ("thermometer", 3, 4, 14, True),
]


@pytest.mark.parametrize("encoding,bits,pe,simd,logits", BLOCK)
def test_block_ram_weights_amaranth_sim(encoding, bits, pe, simd, logits):
    """Weights (tables) in block RAM take more register stages, and give the same results."""
    layer, rng = _block_layer(encoding, bits, pe, simd, logits)
    plain = dataclasses.replace(layer, ram_style="auto")
    assert weights_in_block_ram(layer, ECP5) and not weights_in_block_ram(plain, ECP5)
    assert mvtu_latency(layer, ECP5) == mvtu_latency(plain, ECP5) + BLOCK_READ_REGISTERS
    inputs, expected = vectors(layer, rng, 30)
    assert simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected), idle=0.3,
                           backpressure=0.3) == expected


@pytest.mark.cocotb
@pytest.mark.parametrize("encoding,bits,pe,simd,logits", [BLOCK[1], BLOCK[3]])
def test_block_ram_weights_cosim(encoding, bits, pe, simd, logits, harness_bank, sim_build_root):
    bank, block, select, rng = harness_bank.unit("block", encoding, bits, pe, simd, logits)
    inputs, expected = vectors(block.layer, rng, VECTORS)
    run = run_harness(bank, inputs, expected, idle=0.25, backpressure=0.3, seed=pe,
                      build_root=sim_build_root, name=f"block_{encoding}_{pe}_{simd}",
                      select=select)
    assert run.passed, run.message


# (in_encoding, in_bits, pe, simd): 2-bit activations out (MultiThreshold)
MULTI = [("bipolar", 1, 2, 8), ("binary", 1, 4, 32), ("uint", 2, 8, 4), ("uint", 4, 1, 16)]


def test_multithreshold_golden_by_hand():
    layer = MVTULayer("m", 2, 2, 1, 2, np.ones((2, 2), dtype=bool), [[-1, 0, 2], [-1, 0, 2]],
                      [False, True], in_encoding="binary", out_encoding="uint", act_bits=2)
    # dot = x0 + x1: 0, 1, 2 -> thresholds passed 1, 2, 3; inverted: 3 - that
    assert mvtu(layer, np.array([[0, 0], [1, 0], [1, 1]])).tolist() == [[2, 1], [2, 1], [3, 0]]
    with pytest.raises(ValueError, match=r"thresholds must have shape \(2, 3\)"):
        MVTULayer("m", 2, 2, 1, 2, np.ones((2, 2)), [0, 0], [False, False],
                  in_encoding="binary", out_encoding="uint", act_bits=2)
    with pytest.raises(ValueError, match="out_encoding must be uint for act_bits=2"):
        MVTULayer("m", 2, 2, 1, 2, np.ones((2, 2)), [[0] * 3] * 2, [False, False],
                  in_encoding="binary", act_bits=2)


@pytest.mark.parametrize("encoding,bits,pe,simd", MULTI)
def test_multithreshold_amaranth_sim_matches_golden(encoding, bits, pe, simd):
    rng = np.random.default_rng(pe * 7 + simd + bits)
    layer = random_multithreshold_layer(rng, mw=MW, mh=MH, pe=pe, simd=simd,
                                        in_encoding=encoding, in_bits=bits)
    inputs, expected = vectors(layer, rng, 30)
    assert simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected), idle=0.3,
                           backpressure=0.3) == expected


@pytest.mark.cocotb
@pytest.mark.parametrize("encoding,bits,pe,simd", MULTI[1:3])
def test_multithreshold_cosim(encoding, bits, pe, simd, harness_bank, sim_build_root):
    bank, block, select, rng = harness_bank.unit("multi", encoding, bits, pe, simd)
    inputs, expected = vectors(block.layer, rng, VECTORS)
    run = run_harness(bank, inputs, expected, idle=0.25, backpressure=0.3, seed=pe,
                      build_root=sim_build_root, name=f"multi_{encoding}_{pe}_{simd}",
                      select=select)
    assert run.passed, run.message
    levels = unpack_words(run.outputs, width=2, per_word=pe, signed=False)
    assert set(np.unique(levels)) == {0, 1, 2, 3}       # every level is exercised
    corrupted = list(expected)
    corrupted[777] ^= 2                                 # one neuron's high bit
    caught = run_harness(bank, inputs, corrupted, build_root=sim_build_root,
                         name=f"multi_{encoding}_{pe}_{simd}", stop_on_mismatch=False,
                         select=select)
    assert not caught.passed and caught.mismatches == 1


@pytest.mark.cocotb
def test_cosim_checker_catches_a_corrupted_expectation(cocotb_bank, sim_build_root):
    bank, block, select, rng = cocotb_bank.unit("corrupted")
    inputs, expected = vectors(block.layer, rng, 300)
    corrupted = list(expected)
    corrupted[123] ^= 1
    run = run_stream_test(bank, inputs, corrupted, idle=0.25, backpressure=0.3,
                          build_root=sim_build_root, name="corrupted", select=select)
    assert not run.passed
    assert "output #123" in run.message


@pytest.mark.parametrize("encoding,bits,pe,simd,logits", BLOCK)
def test_the_block_asks_the_target_where_weights_go(encoding, bits, pe, simd, logits):
    """The same layer (``ram_style: block``) built for a target that puts every memory in logic
    reads its weights without the block RAM read registers: its own RTL, a pipeline
    BLOCK_READ_REGISTERS shorter, the same results; and its estimate has no block RAM."""
    layer, rng = _block_layer(encoding, bits, pe, simd, logits)
    logic = AllLogic()
    assert weights_in_block_ram(layer, ECP5) and not weights_in_block_ram(layer, logic)
    assert mvtu_latency(layer, logic) == mvtu_latency(layer, ECP5) - BLOCK_READ_REGISTERS
    one, _ = vectors(layer, rng, 1)
    for placed in (ECP5, logic):
        unit = op_for(layer).block(layer, placed)
        assert unit.target is placed
        assert output_latency(unit, one) == mvtu_latency(layer, placed)
    read_registers = {placed: rtlil.convert(MVTU(layer, target=placed)).count("_read_d1")
                      for placed in (ECP5, logic)}
    assert read_registers[ECP5] > 0 == read_registers[logic]
    inputs, expected = vectors(layer, rng, 30)
    assert simulate_stream(MVTU(layer, target=logic), inputs, len(expected), idle=0.3,
                           backpressure=0.3) == expected
    assert estimate_layer(layer, logic).brams == 0 < estimate_layer(layer, ECP5).brams


def test_block_needs_a_target():
    layer = random_layer(np.random.default_rng(0), mw=MW, mh=MH, pe=2, simd=8)
    with pytest.raises(TypeError, match="target must be a hwgen.target.Target, not 'ecp5'"):
        MVTU(layer, target="ecp5")


@pytest.mark.cocotb
@pytest.mark.parametrize("pe,simd", CYCLES)
def test_cosim_cycles_match_expected(pe, simd, cocotb_bank, sim_build_root):
    bank, block, select, rng = cocotb_bank.unit("cycles", pe, simd)
    layer = block.layer
    inputs, expected = vectors(layer, rng, 200)
    run = run_stream_test(bank, inputs, expected, build_root=sim_build_root,
                          name=f"cycles_{pe}_{simd}", select=select)
    assert run.passed, run.message
    nf = layer.nf
    # One vector every NF*SF cycles: the last output of consecutive vectors.
    per_vector = (run.output_cycles[-1] - run.output_cycles[nf - 1]) / (len(expected) / nf - 1)
    assert per_vector == block.expected_cycles()


def output_latency(dut, inputs) -> int:
    """Cycles from the transfer of the last of ``inputs`` (offered every cycle, the output
    always ready) to the first cycle with ``o.valid``."""
    in_payload = Value.cast(dut.i.payload)
    latency = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        index, last_taken = 0, None
        for cycle in range(1000):
            ctx.set(dut.i.valid, index < len(inputs))
            if index < len(inputs):
                ctx.set(in_payload, inputs[index])
            if ctx.get(dut.o.valid):
                latency.append(cycle - last_taken)
                return
            if index < len(inputs) and ctx.get(dut.i.ready):
                index, last_taken = index + 1, cycle
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return latency[0]


# (in_encoding, in_bits, pe, simd, logits): deep per-cycle sums (SIMD 64: four adder levels)
PIPELINES = [("bipolar", 1, 4, 64, False), ("binary", 1, 2, 64, True), ("uint", 8, 4, 8, False),
             ("uint", 4, 2, 16, True), ("bipolar", 1, 8, 1, True), ("thermometer", 4, 2, 60, True),
             ("thermometer", 2, 4, 12, False)]


def pipeline_width(encoding, bits):
    """128, or 120 values of thermometer codes."""
    return 120 if encoding == "thermometer" else 128


@pytest.mark.parametrize("encoding,bits,pe,simd,logits", PIPELINES)
def test_pipeline_latency(encoding, bits, pe, simd, logits):
    rng = np.random.default_rng(simd + pe)
    layer = random_layer(rng, mw=pipeline_width(encoding, bits), mh=pe, pe=pe, simd=simd,
                         logits=logits, in_encoding=encoding, in_bits=bits)
    inputs, _ = vectors(layer, rng, 1)
    latency = mvtu_latency(layer, ECP5)
    assert latency == sum_latency(layer, ECP5) + 3
    assert output_latency(MVTU(layer, target=ECP5), inputs) == latency
    if simd == 64 and encoding == "bipolar":
        # weights and vector, 11 chunk popcounts, 4 adder levels at 2 a stage; sum, acc, out
        assert sum_latency(layer, ECP5) == 1 + 1 + 2 and latency == 7
    if encoding == "thermometer" and simd == 60:
        # vector, table reads, 4 reads summed (2 adder levels: one stage); sum, acc, out
        assert sum_latency(layer, ECP5) == 1 + 1 + 1 + 1 and latency == 7


@pytest.mark.parametrize("encoding,bits,pe,simd,logits", PIPELINES)
def test_pipeline_under_heavy_backpressure(encoding, bits, pe, simd, logits):
    rng = np.random.default_rng(pe * 3 + simd)
    layer = random_layer(rng, mw=pipeline_width(encoding, bits), mh=2 * pe, pe=pe, simd=simd,
                         logits=logits, in_encoding=encoding, in_bits=bits)
    inputs, expected = vectors(layer, rng, 24)
    for idle, backpressure in ((0.0, 0.7), (0.5, 0.5), (0.0, 0.0)):
        assert simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected), idle=idle,
                               backpressure=backpressure, seed=3) == expected


def test_backpressure_catches_a_pipeline_that_does_not_stall(monkeypatch):
    # The adder tree's registers moving every cycle, not on ``advance``: right while the
    # output is always taken, wrong as soon as it stalls.
    from hwgen.ops.mvtu import hw as mvtu_module
    real = mvtu_module.pipelined_sum
    monkeypatch.setattr(mvtu_module, "pipelined_sum",
                        lambda m, terms, *, en, **kwargs: real(m, terms, en=Const(1), **kwargs))
    rng = np.random.default_rng(5)
    layer = random_layer(rng, mw=128, mh=8, pe=4, simd=64)
    inputs, expected = vectors(layer, rng, 24)
    assert simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected), idle=0.3) == expected
    assert simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected),
                           backpressure=0.5) != expected


def test_cim_pipeline_latency():
    from hwgen.cim import MacroSpec
    from tests.conftest import random_cim_layer
    macro = MacroSpec(wordlines=16, adc_bits=3, noise="cell", sigma=0.5, seed=1)
    layer = random_cim_layer(np.random.default_rng(2), mw=32, mh=4, pe=4, macro=macro)
    inputs, _ = vectors(layer, np.random.default_rng(3), 1)
    assert mvtu_latency(layer, ECP5) == macro_latency(macro) + 3
    assert output_latency(MVTU(layer, target=ECP5), inputs) == mvtu_latency(layer, ECP5)


def _synthesized_brams(unit, folder) -> int:
    """DP16KD cells of ``unit`` after yosys ``synth_ecp5``."""
    import re
    import subprocess
    from amaranth.back import rtlil
    from hwgen.toolchain import amaranth_tool_env
    (folder / "unit.il").write_text(rtlil.convert(unit))
    env = amaranth_tool_env()
    subprocess.run([env["YOSYS"], "-q", "-p", "read_rtlil unit.il; synth_ecp5 -top top; "
                    "tee -q -o stat.txt stat"], cwd=folder, env=env, check=True)
    found = re.search(r"(\d+)\s+DP16KD", (folder / "stat.txt").read_text())
    return int(found.group(1)) if found else 0


@pytest.mark.parametrize("encoding", ["binary", "thermometer"])
def test_ram_style_reaches_yosys(tmp_path, encoding):
    """``ram_style`` moves the weights (a thermometer layer's tables) between LUTs and block
    RAM in synthesis, as the estimate says."""
    rng = np.random.default_rng(3)
    mw = width_for(encoding, 2, elements=4)
    layer = random_layer(rng, mw=mw, mh=16, pe=4, simd=mw // 2, in_encoding=encoding,
                         in_bits=2 if encoding == "thermometer" else 1)
    brams = {}
    for style in ("auto", "block"):
        styled = dataclasses.replace(layer, ram_style=style)
        folder = tmp_path / style
        folder.mkdir()
        brams[style] = _synthesized_brams(MVTU(styled, target=ECP5), folder)
        assert brams[style] == estimate_layer(styled, ECP5).brams
    assert brams["auto"] == 0 and brams["block"] > 0


# (in_encoding, in_bits, pe, simd, ram_style): one of each datapath, tables and weights in
# block RAM among them.
RESETS = [("bipolar", 1, 2, 8, "auto"), ("binary", 1, 4, 32, "block"), ("uint", 3, 2, 4, "auto"),
          ("thermometer", 3, 4, 14, "block"), ("thermometer", 2, 2, 6, "auto")]


@pytest.mark.parametrize("encoding,bits,pe,simd,ram_style", RESETS)
@pytest.mark.parametrize("logits", [False, True])
def test_reset_mid_stream_starts_afresh(encoding, bits, pe, simd, ram_style, logits):
    """The datapath registers have no reset: after a reset in mid-stream (a vector half in,
    results in flight) the unit's outputs are the golden model's of what came after it, and
    nothing from before leaks out."""
    rng = np.random.default_rng(pe * 10 + simd + bits)
    layer = dataclasses.replace(
        random_layer(rng, mw=width_for(encoding, bits), mh=MH, pe=pe, simd=simd, logits=logits,
                     in_encoding=encoding, in_bits=bits), ram_style=ram_style)
    before, _ = vectors(layer, rng, 40)
    inputs, expected = vectors(layer, rng, 20)
    # Long enough for two results to wait in the output and skid registers when it comes.
    cycles = 2 * (3 * layer.nf * layer.sf + mvtu_latency(layer, ECP5) + 10)
    got = simulate_after_reset(MVTU(layer, target=ECP5), before, inputs, len(expected),
                               cycles=cycles,
                               idle=0.3, backpressure=0.3, seed=pe)
    assert got == expected
