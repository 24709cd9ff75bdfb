"""The CIM MVTU's RTL against the golden macro model, bit for bit, with the noise on.

Amaranth's simulator covers the macro's variants (noise models, 1- and 2-bit weights and
inputs, binary and bipolar cells, thresholds and logits) on short streams; Verilator runs
thousands of vectors under random idle cycles and backpressure, and a whole trained network
with cim layers (``examples/digits_cim.yaml``) on its whole test set. Each checker is shown to
fail on a corrupted expectation, and the noise to change the results it checks.
"""
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

from hwgen.cim import MacroSpec
from hwgen.cosim import run_stream_test
from hwgen.lib.bank import Bank
from hwgen.data import load_dataset
from hwgen.golden import mvtu, run_graph
from hwgen.lib.packing import pack_words
from hwgen.ops.mvtu.datapath import mvtu_latency
from hwgen.ops.mvtu.hw import MVTU
from hwgen.passes.lower import check_export, export_graph, quiet
from hwgen.nn import train_model
from hwgen.spec import load_spec, parse_spec
from hwgen.target import target
from hwgen.verify import verify_network
from tests.conftest import random_cim_layer
from tests.streams import simulate_after_reset, simulate_stream

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits_cim.yaml"
ECP5 = target("ecp5")

#: Macro variants: (keyword arguments of MacroSpec).
MACROS = {
    "quiet_bipolar": dict(noise="none"),
    "cell_binary": dict(noise="cell", sigma=0.7, encoding="binary"),
    "read_w2a2": dict(noise="read", sigma=0.4, weight_bits=2, act_bits=2, encoding="binary",
                      adc_range=5.5),
    "cell_bipolar_w2": dict(noise="cell", sigma=1.0, weight_bits=2, adc_bits=3),
}


def _vectors(layer, rng, count, *, padding="zeros"):
    """Random input vectors and the golden outputs as stream words; a partial last wordline
    group's padding (the stream's elements ``mw .. padded_mw - 1``) ``zeros``, as the width
    converter sends, or ``random``: the macro must drive none of its rows either way."""
    x = rng.integers(0, 1 << layer.in_bits, (count, layer.mw))
    y = mvtu(layer, x).numpy()
    pad = np.zeros((count, layer.padded_mw - layer.mw), dtype=x.dtype)
    if padding == "random":
        pad = rng.integers(0, 1 << layer.in_bits, pad.shape)
    return (pack_words(np.concatenate([x, pad], axis=1), width=layer.in_bits,
                       per_word=layer.simd),
            pack_words(y, width=layer.out_bits, per_word=layer.pe))


def _layer(case, seed, *, logits, mw=32, mh=6, pe=3):
    rng = np.random.default_rng(seed)
    macro = MacroSpec(wordlines=8, adc_bits=MACROS[case].get("adc_bits", 4), seed=seed,
                      **{k: v for k, v in MACROS[case].items() if k != "adc_bits"})
    return random_cim_layer(rng, mw=mw, mh=mh, pe=pe, macro=macro, logits=logits, key=seed), rng


def test_hash_stages_compose_to_arx32():
    """The pipelined hash (a round a register stage) is arx32, on edge words too."""
    from hwgen.cim.noise import arx32
    from hwgen.ops.mvtu.cim import ARX_STAGES
    from hwgen.ops.mvtu.datapath import HASH_STAGES
    rng = np.random.default_rng(0)
    words = [0, 1, 0xFFFFFFFF, 0x3FFFF, 0x40000, *rng.integers(0, 1 << 32, 2000).tolist()]
    for word in words:
        value = word
        for _, step, _ in ARX_STAGES:
            value = step(value)
        assert value == arx32(word)
    # the datapath's count of them (the macro's latency, the cost model's hash stages)
    assert len(ARX_STAGES) == HASH_STAGES


@pytest.mark.parametrize("logits", [False, True])
@pytest.mark.parametrize("case", list(MACROS))
def test_amaranth_sim_matches_golden(case, logits):
    layer, rng = _layer(case, 3, logits=logits)
    inputs, expected = _vectors(layer, rng, 40)
    got = simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected), idle=0.3,
                          backpressure=0.3)
    assert got == expected


@pytest.mark.parametrize("logits", [False, True])
@pytest.mark.parametrize("case", list(MACROS))
@pytest.mark.parametrize("mw", [28, 5])
def test_partial_last_group_matches_golden(case, logits, mw):
    """A partial last wordline group (28 = 3 x 8 + 4; 5: one group of 5 rows): its own ADC
    range, active rows and code weight; padding on the stream that is not zero is not read."""
    layer, rng = _layer(case, 5, logits=logits, mw=mw)
    assert layer.macro.partial(mw) and layer.padded_mw == 8 * layer.sf
    inputs, expected = _vectors(layer, rng, 30, padding="random")
    got = simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected), idle=0.3,
                          backpressure=0.3)
    assert got == expected


@pytest.mark.parametrize("wrong", ["weights", "range"])
def test_partial_group_checker_sees_its_weight_and_range(wrong, monkeypatch):
    """The RTL equals the golden model of a partial group and differs from one that weighs
    every group alike or converts the last group over the full range."""
    layer, rng = _layer("cell_binary", 8, logits=True, mw=28)
    inputs, expected = _vectors(layer, rng, 40)
    got = simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected))
    assert got == expected
    x = rng.integers(0, 2, (40, 28))
    right = mvtu(layer, x)
    if wrong == "weights":
        monkeypatch.setattr(MacroSpec, "group_weights", lambda self, mw: (1, 1))
    else:
        full = layer.macro.thresholds
        monkeypatch.setattr(MacroSpec, "group_thresholds", lambda self, rows: full)
    assert (mvtu(layer, x) != right).any()


@pytest.mark.parametrize("case", ["cell_binary", "read_w2a2"])
def test_one_read_per_vector(case):
    """mw = wordlines and mh = pe: every cycle ends a vector, so the vector-key pipeline
    shifts every cycle (at full rate) and must still deliver each vector's own key."""
    layer, rng = _layer(case, 6, logits=True, mw=8, mh=3, pe=3)
    assert layer.nf * layer.sf == 1
    inputs, expected = _vectors(layer, rng, 60)
    assert simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected)) == expected
    assert simulate_stream(MVTU(layer, target=ECP5), inputs, len(expected), idle=0.3,
                           backpressure=0.3) == expected


@pytest.mark.parametrize("case", ["cell_binary", "read_w2a2"])
def test_noise_changes_what_is_checked(case):
    """The noise is not a no-op: the noisy golden and the quiet one differ, and the RTL matches
    only the noisy one."""
    layer, rng = _layer(case, 4, logits=True)
    silent = dataclasses.replace(layer, macro=layer.macro.replace(noise="none"))
    x = rng.integers(0, 1 << layer.in_bits, (30, layer.mw))
    assert (mvtu(layer, x) != mvtu(silent, x)).float().mean() > 0.3
    inputs = pack_words(x, width=layer.in_bits, per_word=layer.simd)
    wrong = pack_words(mvtu(silent, x).numpy(), width=layer.out_bits, per_word=layer.pe)
    right = pack_words(mvtu(layer, x).numpy(), width=layer.out_bits, per_word=layer.pe)
    assert simulate_stream(MVTU(layer, target=ECP5), inputs, len(right)) == right != wrong


#: (case, logits, mw): 44 = 5 x 8 + 4, a partial last wordline group.
STRESS = [("cell_binary", False, 48), ("read_w2a2", True, 48), ("cell_bipolar_w2", False, 48),
          ("cell_bipolar_w2", True, 44), ("read_w2a2", False, 44)]


def _stress_layer(case, logits, mw):
    return _layer(case, 11, logits=logits, mw=mw, mh=8, pe=4)


@pytest.fixture(scope="module")
def stress_bank():
    """The stressed macros in one bank: one Verilator build serves them all."""
    return Bank([MVTU(_stress_layer(*key)[0], target=ECP5) for key in STRESS])


@pytest.mark.cocotb
@pytest.mark.parametrize("case,logits,mw", STRESS)
def test_cosim_under_stress(case, logits, mw, stress_bank, sim_build_root):
    layer, rng = _stress_layer(case, logits, mw)
    inputs, expected = _vectors(layer, rng, 3000, padding="random")
    select = STRESS.index((case, logits, mw))
    name = f"cim_{case}_{logits}_{mw}"
    run = run_stream_test(stress_bank, inputs, expected, idle=0.25, backpressure=0.3, seed=2,
                          build_root=sim_build_root, name=name, select=select)
    assert run.passed, run.message
    corrupted = list(expected)
    corrupted[1234] ^= 1
    caught = run_stream_test(stress_bank, inputs, corrupted, build_root=sim_build_root,
                             name=name, stop_on_mismatch=False, select=select)
    assert not caught.passed and caught.mismatches == 1


@pytest.fixture(scope="module")
def digits_cim_graph():
    spec = load_spec(EXAMPLE)
    spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, epochs=6))
    data = load_dataset(spec.data, spec.seed)
    model = train_model(spec, data, progress=False).model
    return export_graph(model, spec, data.test_x, data.test_y)


def test_exported_cim_network_has_noise(digits_cim_graph):
    graph = digits_cim_graph
    assert [layer.backend for layer in graph.mvtus()] == ["cim", "cim", "digital"]
    assert all(layer.macro.noisy for layer in graph.mvtus()[:2])
    noisy, silent = run_graph(graph), run_graph(quiet(graph))
    assert np.mean(np.any(noisy.logits != silent.logits, axis=1)) > 0.2


@pytest.mark.cocotb
def test_cim_network_whole_test_set(digits_cim_graph, sim_build_root):
    """RTL == golden with the noise on, every test frame, full rate and under idle cycles and
    backpressure; the cim layers keep the digital cycle model."""
    result = verify_network(digits_cim_graph, fifo_depth=4, build_root=sim_build_root, seed=5)
    assert result.frames == len(digits_cim_graph.test_frames) == 360
    assert result.mismatches == result.label_mismatches == result.logit_mismatches == 0
    assert result.stress_passed
    assert result.rtl_accuracy == result.golden_accuracy
    assert result.measured_cycles == pytest.approx(result.expected_cycles, rel=0.02)


@pytest.fixture(scope="module")
def partial_cim_graph():
    """The digits example with every hidden layer and the first on the macro at 12 wordlines:
    each 64-wide vector is read as 5 groups of 12 and a partial one of 4, the frames padded
    on their way in (the network's input converter) and the hidden vectors between the
    layers (a padding width converter after each)."""
    mapping = yaml.safe_load(EXAMPLE.read_text())
    mapping["model"]["layers"][2] = {"type": "linear", "in": 64, "out": 10, "pe": 2,
                                     "backend": "cim"}
    mapping["cim"]["wordlines"] = 12
    mapping["train"]["epochs"] = 6
    spec = parse_spec(mapping, file=str(EXAMPLE))
    data = load_dataset(spec.data, spec.seed)
    model = train_model(spec, data, progress=False).model
    graph = export_graph(model, spec, data.test_x, data.test_y)
    check_export(model, graph)              # golden == the trained model, bit for bit
    return graph


def test_partial_groups_train_and_export(partial_cim_graph):
    graph = partial_cim_graph
    mvtus = graph.mvtus()
    assert [layer.backend for layer in mvtus] == ["cim"] * 3
    assert all(layer.simd == 12 and layer.padded_mw == 72 for layer in mvtus)
    assert graph.input_converter() is not None
    noisy, silent = run_graph(graph), run_graph(quiet(graph))
    assert np.mean(np.any(noisy.logits != silent.logits, axis=1)) > 0.2
    assert np.mean(noisy.labels == graph.test_labels) > 0.45      # 10 classes; 6 epochs


@pytest.mark.cocotb
def test_partial_groups_network_whole_test_set(partial_cim_graph, sim_build_root):
    """RTL == golden with the noise on, every test frame, under idle cycles and backpressure,
    at the cycle model's rate (the padding converters keep pace)."""
    graph = partial_cim_graph
    result = verify_network(graph, fifo_depth=4, build_root=sim_build_root, seed=6)
    assert result.frames == len(graph.test_frames) == 360
    assert result.mismatches == result.label_mismatches == result.logit_mismatches == 0
    assert result.stress_passed
    assert result.measured_cycles == pytest.approx(result.expected_cycles, rel=0.02)


@pytest.mark.cocotb
def test_a_partial_group_conv_network_on_verilator(sim_build_root):
    """A conv on the macro whose window (3 x 3 x 4 = 36 elements) is read in groups of 8 (the
    last of 4): its windows padded by the converter after the sliding-window generator; the
    network trained, exported, RTL == golden with the noise on, at the cycle model's rate."""
    mapping = {"name": "conv_partial", "seed": 1,
               "data": {"dataset": "digits", "input_threshold": 7},
               "model": {"activation": "binary", "norm": "bnfree", "layers": [
                   {"type": "conv", "out": 4, "kernel": 3, "pe": 4},
                   {"type": "conv", "out": 8, "kernel": 3, "pe": 4, "backend": "cim"},
                   {"type": "linear", "out": 10, "pe": 2, "simd": 16}]},
               "cim": {"wordlines": 8, "adc_bits": 4, "noise": "cell", "sigma": 0.5,
                       "seed": 3},
               "train": {"epochs": 3}}
    spec = parse_spec(mapping)
    data = load_dataset(spec.data, spec.seed)
    model = train_model(spec, data, progress=False).model
    graph = export_graph(model, spec, data.test_x, data.test_y)
    check_export(model, graph)
    (cim,) = [layer for layer in graph.mvtus() if layer.macro is not None]
    assert (cim.mw, cim.simd, cim.padded_mw) == (36, 8, 40)
    result = verify_network(graph, fifo_depth=4, frames=60, build_root=sim_build_root, seed=2)
    assert result.mismatches == result.label_mismatches == result.logit_mismatches == 0
    assert result.stress_passed
    assert result.measured_cycles == pytest.approx(result.expected_cycles, rel=0.02)


@pytest.mark.parametrize("case", ["quiet_bipolar", "read_w2a2"])
def test_macro_template_has_the_models_ports(case, tmp_path):
    """The rendered black box declares exactly the behavioural macro's ports (names, directions,
    widths) and passes Verilator's lint."""
    import re
    import subprocess

    from hwgen.cosim import emit_verilog
    from hwgen.ops.mvtu.cim import CimMacro, macro_ports, render_macro
    from hwgen.toolchain import verilator_env
    layer, _ = _layer(case, 5, logits=False)
    text = render_macro(layer)
    declared = re.findall(r"^\s*(input|output)\s+wire\s+(?:\[(\d+):0\]\s+)?(\w+)", text, re.M)
    rendered = {name: (kind[:-3] if kind == "output" else "in", int(top or 0) + 1)
                for kind, top, name in declared}
    assert rendered == {"clk": ("in", 1), "rst": ("in", 1), **macro_ports(layer)}
    model = CimMacro(layer)
    generated = emit_verilog(model, name="m")
    top = re.search(r"^module m\(.*?^endmodule", generated, re.M | re.S).group(0)
    ports = re.findall(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);", top, re.M)
    assert {name: (kind[:-3] if kind == "output" else "in", int(top or 0) + 1)
            for kind, top, name in ports} == rendered
    assert f"LATENCY = {model.latency}" in text
    path = tmp_path / f"hwgen_cim_{layer.name}.sv"
    path.write_text(text)
    lint = subprocess.run(["verilator", "--lint-only", "-Wall", "-Wno-UNUSEDSIGNAL", "-Wno-UNDRIVEN",
                           "-Wno-UNUSEDPARAM", str(path)],
                          env=verilator_env(), capture_output=True, text=True)
    assert lint.returncode == 0, lint.stderr


@pytest.mark.parametrize("case", list(MACROS))
def test_reset_mid_stream_restarts_the_noise(case):
    """After a reset in mid-stream the macro's noise starts again from the first vector's
    (the vector keys have a reset, the read pipeline has none): the outputs are the golden
    model's of what came after it, as if the unit had just been configured."""
    layer, rng = _layer(case, 5, logits=True)
    before, _ = _vectors(layer, rng, 20)
    inputs, expected = _vectors(layer, rng, 30)
    cycles = 2 * (3 * layer.nf * layer.sf + mvtu_latency(layer, ECP5) + 10)
    assert simulate_after_reset(MVTU(layer, target=ECP5), before, inputs, len(expected),
                                cycles=cycles,
                                idle=0.3, backpressure=0.3) == expected
