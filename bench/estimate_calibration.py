"""Resource estimates (the ops' cost models, ``hwgen.estimate``) against a target's synthesis,
block by block.

    python bench/estimate_calibration.py [--target ecp5] [--only mvtu,swg,...] [--jobs 2] [--fit]

Each configuration below is built for the target (:meth:`hwgen.ops.Op.block`), elaborated alone
(``amaranth.back.verilog``), synthesised with the family's Yosys script (``synth_ecp5``; YoWASP
or native Yosys) and packed by its nextpnr (``nextpnr-ecp5 --pack-only``), whose utilisation
counts the target's cells (:attr:`hwgen.target.Target.cells`; on ECP5 ``TRELLIS_COMB``, LUT4s
and carry halves: the ``luts`` of a build report, ``TRELLIS_FF``, ``DP16KD``, ``MULT18X18D``)
exactly as a full build does (placement and routing change none of them). Results are cached
under ``build/calibration/<family>/`` by a hash of the Verilog, so a rerun only synthesises what
changed.

Progress goes to stderr; stdout has one line per configuration (estimated and synthesised LUTs,
FFs, BRAMs) and then the figures, one ``key: value`` a line:

    lut_mare            mean absolute relative error of the LUT estimate, all blocks
    mvtu_lut_mare       the same over the MVTU configurations (cim_lut_mare: the cim MVTUs')
    ff_mare             mean absolute relative error of the FF estimate
    bram_exact          fraction of configurations whose DP16KD count is exactly right
    dsp_exact           the same for MULT18X18D

``--fit`` also solves, per block kind, the non-negative least-squares problem for the LUT
coefficients of the target (minimising *relative* error) and prints them: this is how the ECP5
target's coefficients (``hwgen/target/ecp5/cost.py``) were obtained.
"""
import argparse
import dataclasses
import hashlib
import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from hwgen.cosim import emit_verilog
from hwgen.estimate import estimate_layer, layer_terms
from hwgen.ops import (AddLayer, AvgPoolLayer, ConcatLayer, DWCLayer, ForkLayer, FIFOLayer, MVTULayer, MaxPoolLayer, SWGLayer,
                       SharedMVTULayer, VVAULayer, op_for)
from hwgen.ops.smvtu.sharing import join_filters
from hwgen.target import TARGETS, Resources, Target, target as find_target
from hwgen.target.report import count_cells, parse_stat
from hwgen.toolchain import tool_env_var

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "build" / "calibration"

#: Per family: the Yosys synthesis script (``top.v`` in, ``top.json`` out), nextpnr's device
#: arguments for ``--pack-only`` (packing counts do not depend on the device), and the logic of
#: the family's largest device hwgen has a board for: the configurations calibrated are those
#: the ECP5 estimate puts within it (a block no device of the family can hold says nothing
#: about the family's blocks). A family without an entry cannot be calibrated until it has one.
SYNTHESIS = {
    "ecp5": ("synth_ecp5 -top top -json top.json", ["--85k", "--package", "CABGA756"], 83_640),
    "ice40": ("synth_ice40 -top top -json top.json", ["--up5k", "--package", "sg48"], 5_280),
}

# (mw, mh, pe, simd, in_encoding, in_bits, logits): folds spanning pe x simd 1 .. 1024, every
# encoding, weight memories in logic, in block RAM and constant (one word), with and without
# a replay buffer.
MVTU_CONFIGS = [
    (64, 32, 1, 1, "bipolar", 1, False),
    (64, 32, 4, 16, "bipolar", 1, False),
    (64, 32, 8, 8, "bipolar", 1, False),
    (64, 32, 32, 64, "bipolar", 1, False),
    (256, 64, 8, 32, "bipolar", 1, False),
    (256, 64, 16, 16, "bipolar", 1, False),
    (256, 64, 32, 32, "bipolar", 1, False),
    (256, 64, 4, 8, "bipolar", 1, False),
    (512, 128, 2, 4, "bipolar", 1, False),
    (784, 64, 16, 49, "bipolar", 1, False),
    (144, 32, 8, 16, "bipolar", 1, False),
    (144, 32, 4, 36, "bipolar", 1, False),
    (1024, 256, 8, 64, "bipolar", 1, False),
    (1024, 256, 32, 32, "bipolar", 1, False),
    (128, 32, 4, 16, "binary", 1, False),
    (128, 32, 8, 32, "binary", 1, False),
    (64, 16, 2, 8, "binary", 1, False),
    (256, 64, 16, 16, "binary", 1, False),
    (9, 16, 4, 9, "uint", 4, False),
    (9, 16, 16, 9, "uint", 4, False),
    (27, 32, 8, 3, "uint", 8, False),
    (48, 16, 4, 8, "uint", 8, False),
    (16, 8, 2, 4, "uint", 2, False),
    (64, 32, 8, 16, "uint", 4, False),
    (288, 10, 10, 32, "bipolar", 1, True),
    (288, 10, 2, 8, "bipolar", 1, True),
    (288, 10, 1, 288, "bipolar", 1, True),
    (64, 10, 5, 16, "binary", 1, True),
    (256, 10, 10, 64, "bipolar", 1, True),
    (64, 32, 1, 2, "bipolar", 1, False),
    (144, 32, 1, 3, "bipolar", 1, False),
    (144, 32, 16, 1, "bipolar", 1, False),
    (144, 32, 32, 1, "bipolar", 1, False),
    (288, 10, 1, 3, "bipolar", 1, True),
    (450, 128, 16, 225, "thermometer", 4, False),
    (60, 16, 4, 15, "thermometer", 4, False),
    (42, 8, 2, 14, "thermometer", 3, False),
]
# cim MVTUs: (mw, mh, pe, wordlines, adc_bits, noise, weight_bits, act_bits, encoding), and
# the keyword-spotting example's hidden layer itself (examples/kws).
CIM_CONFIGS = [
    (64, 16, 4, 16, 4, "cell", 1, 1, "binary"),
    (64, 16, 4, 16, 4, "none", 1, 1, "binary"),
    (64, 16, 2, 8, 3, "cell", 1, 1, "bipolar"),
    (128, 32, 8, 32, 4, "none", 1, 1, "bipolar"),
    (32, 8, 4, 8, 4, "cell", 2, 2, "binary"),
    (64, 16, 2, 16, 2, "read", 1, 1, "binary"),
    (128, 16, 4, 32, 5, "cell", 1, 1, "binary"),
    (64, 32, 8, 8, 4, "none", 2, 1, "binary"),
    (96, 16, 2, 16, 4, "cell", 1, 2, "binary"),
    (256, 64, 1, 16, 6, "cell", 1, 1, "bipolar"),
]
KWS_SPEC, KWS_IR = REPO / "examples" / "kws.yaml", REPO / "examples" / "kws" / "model.ir.npz"
# (channels, height, width, kernel, stride, padding, simd, elem_bits)
SWG_CONFIGS = [
    (1, 8, 8, 3, 1, 1, 1, 4),
    (16, 8, 8, 3, 1, 0, 1, 1),
    (16, 8, 8, 3, 1, 0, 4, 1),
    (16, 8, 8, 3, 1, 0, 16, 1),
    (32, 16, 16, 3, 1, 1, 8, 1),
    (3, 32, 32, 3, 1, 1, 3, 8),
    (64, 16, 16, 3, 1, 1, 1, 1),
    (64, 16, 16, 3, 1, 1, 64, 1),
    (8, 28, 28, 5, 2, 2, 2, 1),
    (16, 8, 8, 3, 1, 1, 2, 1),
    (32, 32, 32, 3, 1, 1, 4, 1),
    (1, 28, 28, 3, 1, 0, 1, 8),
    (48, 8, 8, 3, 1, 0, 16, 1),
    (6, 8, 8, 3, 1, 0, 2, 1),
]
# (channels, height, width, kernel, pe)
MAXPOOL_CONFIGS = [
    (32, 6, 6, 2, 1),
    (32, 6, 6, 2, 8),
    (32, 6, 6, 2, 32),
    (64, 16, 16, 2, 4),
    (16, 24, 24, 3, 16),
    (48, 6, 6, 2, 16),
]
# (channels, height, width, kernel, pe, elem_bits): average pools, global ones included
AVGPOOL_CONFIGS = [
    (32, 6, 6, 2, 1, 1),
    (32, 6, 6, 2, 8, 1),
    (32, 6, 6, 2, 32, 1),
    (64, 16, 16, 2, 4, 2),
    (16, 24, 24, 3, 16, 1),
    (48, 6, 6, 2, 16, 1),
    (64, 25, 5, (25, 5), 8, 1),
    (64, 12, 12, 12, 16, 2),
]
# (channels, kernel, pixels, pe, in_encoding[, (in_bits, weight_bits, act_bits)]): depthwise
# units (DS-CNN's 3x3 and 10x4-like), one-bit unless the widths are given
VVAU_CONFIGS = [
    (16, 3, 36, 1, "binary"),
    (16, 3, 36, 4, "bipolar"),
    (32, 3, 36, 8, "binary"),
    (64, 3, 125, 16, "binary"),
    (64, 3, 125, 64, "bipolar"),
    (48, (3, 1), 24, 16, "binary"),
    (24, 5, 16, 8, "bipolar"),
    (64, (10, 4), 125, 8, "binary"),
    (16, 3, 36, 4, "uint", (2, 1, 2)),
    (32, 3, 36, 8, "binary", (1, 2, 1)),
    (32, 3, 36, 8, "uint", (2, 2, 2)),
    (16, 3, 36, 16, "uint", (4, 4, 1)),
    (24, 5, 16, 8, "uint", (3, 2, 3)),
    (16, 3, 36, 4, "bipolar", (1, 3, 1)),
    (64, 3, 125, 16, "uint", (2, 2, 4)),
]
#: (channels, pe, bits of each input, threshold steps (0: the integer sum)), on a 4x4 image.
ADD_CONFIGS = [
    (16, 4, (1, 1), 0), (32, 16, (2, 2), 0), (64, 8, (4, 4), 0), (8, 8, (1, 2), 0),
    (16, 16, (8, 8), 0), (32, 4, (3, 1), 0), (16, 4, (1, 1), 1), (32, 8, (2, 2), 3),
    (64, 16, (2, 2), 1), (16, 16, (3, 3), 3), (8, 2, (4, 4), 7), (64, 2, (2, 2), 3),
    (128, 4, (1, 1), 1), (256, 8, (2, 1), 1), (64, 4, (4, 4), 15), (32, 32, (2, 2), 3),
    (96, 6, (2, 2), 3), (16, 1, (8, 8), 3), (32, 32, (1, 1), 1), (64, 32, (4, 4), 1),
]
#: (channels of each input, bits), on a 4x4 image.
CONCAT_CONFIGS = [((16, 16), 1), ((32, 8, 8), 1), ((4, 4), 4), ((64, 64), 2), ((1, 1), 1),
                  ((8, 8, 8, 8), 2), ((2, 3), 8)]
#: (elements, bits, outputs).
FORK_CONFIGS = [(16, 1, 2), (4, 4, 3), (64, 2, 4), (1, 1, 8), (8, 1, 5), (2, 2, 6), (1, 1, 2)]
# (width, depth)
FIFO_CONFIGS = [(1, 2), (16, 32), (64, 64), (8, 512), (32, 16), (1, 512), (64, 4), (4, 64),
                (16, 1024), (8, 8)]
# (in_width, out_width)
DWC_CONFIGS = [(1, 16), (16, 1), (32, 9), (4, 36), (10, 64), (2, 6), (36, 4), (64, 10), (1, 64),
               (24, 32)]

_emit_lock = threading.Lock()


def _mvtu_layer(mw, mh, pe, simd, in_encoding, in_bits, logits) -> MVTULayer:
    rng = np.random.default_rng(mw * 7919 + mh * 104729 + pe * 31 + simd)
    weights = rng.integers(0, 2, (mh, mw)).astype(bool)
    shape = dict(in_encoding=in_encoding, in_bits=in_bits)
    name = f"mvtu_{mw}x{mh}_pe{pe}_simd{simd}_{in_encoding}{in_bits}{'_logits' if logits else ''}"
    if logits:
        return MVTULayer(name, mw, mh, pe, simd, weights, **shape)
    probe = MVTULayer(name, mw, mh, pe, simd, weights, **shape)
    spread = max(2, int(np.sqrt(mw) * probe.in_max / 2))
    return MVTULayer(name, mw, mh, pe, simd, weights, rng.integers(-spread, spread + 1, mh),
                     rng.integers(0, 2, mh).astype(bool), **shape)


#: Shared convolution units (positions, channels, mh, patterns per channel, in_encoding,
#: in_bits, logits): each 2-D filter one of a few patterns per channel or its complement.
SMVTU_CONFIGS = [
    (3, 16, 16, 3, "bipolar", 1, False),
    (3, 32, 32, 4, "binary", 1, False),
    (9, 8, 16, 6, "bipolar", 1, False),
    (9, 16, 32, 12, "bipolar", 1, False),
    (9, 16, 16, 8, "binary", 1, True),
    (3, 12, 16, 4, "thermometer", 2, False),
]


def _smvtu_layer(positions, channels, mh, patterns, in_encoding, in_bits, logits):
    rng = np.random.default_rng(positions * 7919 + channels * 104729 + mh * 31 + patterns)
    code = (1 << in_bits) - 1 if in_encoding == "thermometer" else 1
    bank = rng.integers(0, 2, (channels * code, patterns, positions)).astype(bool)
    choice = rng.integers(0, patterns, (mh, channels * code))
    flip = rng.integers(0, 2, (mh, channels * code)).astype(bool)
    filters = bank[np.arange(channels * code)[None, :], choice] ^ flip[..., None]
    weights = join_filters(filters)
    mw = weights.shape[1]
    name = (f"smvtu_k{positions}_c{channels}_mh{mh}_p{patterns}_{in_encoding}{in_bits}"
            f"{'_logits' if logits else ''}")
    plain = _mvtu_layer(mw, mh, mh, mw, in_encoding, in_bits, logits)
    plain = MVTULayer(name, mw, mh, mh, mw, weights, plain.thresholds, plain.invert,
                      in_encoding=in_encoding, in_bits=in_bits)
    return SharedMVTULayer.of(plain, positions)


def _add_layer(channels, pe, bits, steps) -> AddLayer:
    name = f"add_{channels}_pe{pe}_b{bits[0]}{bits[1]}_t{steps}"
    if not steps:
        return AddLayer(name, channels, 4, 4, pe, bits)
    rng = np.random.default_rng(0)
    top = sum((1 << b) - 1 for b in bits)
    thresholds = np.sort(rng.integers(0, top + 2, (channels, steps)), axis=1)
    return AddLayer(name, channels, 4, 4, pe, bits, thresholds,
                    rng.integers(0, 2, channels).astype(bool),
                    out_encoding="binary" if steps == 1 else "uint")


def _cim_layer(mw, mh, pe, wordlines, adc_bits, noise, weight_bits, act_bits,
               encoding) -> MVTULayer:
    from hwgen.cim import MacroSpec
    macro = MacroSpec(wordlines=wordlines, adc_bits=adc_bits, noise=noise,
                      sigma=0.0 if noise == "none" else 0.5, weight_bits=weight_bits,
                      act_bits=act_bits, encoding=encoding, seed=3)
    rng = np.random.default_rng(mw * 7919 + mh * 104729 + pe * 31 + wordlines)
    weights = rng.integers(0, 1 << weight_bits, (mh, mw))
    shape = dict(in_encoding=encoding if act_bits == 1 else "uint", in_bits=act_bits,
                 macro=macro, macro_key=1)
    name = (f"cim_{mw}x{mh}_pe{pe}_wl{wordlines}_adc{adc_bits}_{noise}_w{weight_bits}"
            f"a{act_bits}_{encoding}")
    probe = MVTULayer(name, mw, mh, pe, wordlines, weights, **shape)
    high = probe.dot_range[1]
    return MVTULayer(name, mw, mh, pe, wordlines, weights,
                     rng.integers(high // 3, 2 * high // 3 + 1, mh),
                     rng.integers(0, 2, mh).astype(bool), **shape)


def _kws_cim_layers(target: Target) -> list[MVTULayer]:
    """The keyword-spotting example's cim layers, as its build folds them for ``target``."""
    from hwgen.ir import load_ir
    from hwgen.passes.fold import auto_fold
    from hwgen.spec import load_spec
    graph = load_ir(KWS_IR)
    graph = auto_fold(graph, target_cycles=load_spec(KWS_SPEC).hardware.target_cycles,
                      fixed=graph.meta.get("fixed_folding", ()), target=target)
    return [dataclasses.replace(layer, name=f"kws_{layer.name}") for layer in graph.layers
            if isinstance(layer, MVTULayer) and layer.macro is not None]


def configurations(kinds, target: Target) -> list[tuple[str, object]]:
    """(kind, layer) of each configuration on ``target``: an IR layer, or the parameters of a
    FIFO (a ``width``-bit word as one element) or width converter (1-bit elements)."""
    result = []
    if "mvtu" in kinds:
        result += [("mvtu", _mvtu_layer(*config)) for config in MVTU_CONFIGS]
    if "cim" in kinds:
        result += [("cim", layer) for layer in
                   [_cim_layer(*config) for config in CIM_CONFIGS] + _kws_cim_layers(target)]
    if "smvtu" in kinds:
        result += [("smvtu", _smvtu_layer(*config)) for config in SMVTU_CONFIGS]
    if "swg" in kinds:
        for c, h, w, k, s, p, simd, bits in SWG_CONFIGS:
            result.append(("swg", SWGLayer(f"swg_{c}x{h}x{w}_k{k}s{s}p{p}_simd{simd}_b{bits}",
                                           c, h, w, k, s, p, simd, bits)))
    if "maxpool" in kinds:
        for c, h, w, k, pe in MAXPOOL_CONFIGS:
            result.append(("maxpool",
                           MaxPoolLayer(f"maxpool_{c}x{h}x{w}_k{k}_pe{pe}", c, h, w, k, pe)))
    if "avgpool" in kinds:
        for c, h, w, k, pe, bits in AVGPOOL_CONFIGS:
            kernel = "x".join(map(str, k)) if isinstance(k, tuple) else k
            result.append(("avgpool", AvgPoolLayer(f"avgpool_{c}x{h}x{w}_k{kernel}_pe{pe}_b{bits}",
                                                   c, h, w, k, pe, bits)))
    if "vvau" in kinds:
        rng = np.random.default_rng(0)
        for c, k, pixels, pe, encoding, *widths in VVAU_CONFIGS:
            kh, kw = (k, k) if isinstance(k, int) else k
            in_bits, weight_bits, act_bits = widths[0] if widths else (1, 1, 1)
            top = kh * kw * ((1 << in_bits) - 1) * ((1 << weight_bits) - 1)
            steps = (1 << act_bits) - 1
            thresholds = np.sort(rng.integers(-top // 2, top // 2 + 1, (c, steps)), axis=1)
            tag = f"_i{in_bits}w{weight_bits}a{act_bits}" if widths else ""
            result.append(("vvau", VVAULayer(
                f"vvau_{c}_k{kh}x{kw}_px{pixels}_pe{pe}_{encoding}{tag}", c, (kh, kw), pixels,
                pe, rng.integers(0, 1 << weight_bits, (c, kh * kw)),
                thresholds[:, 0] if steps == 1 else thresholds, rng.integers(0, 2, c) == 1,
                in_encoding=encoding, out_encoding="binary" if act_bits == 1 else "uint",
                in_bits=in_bits, weight_bits=weight_bits, act_bits=act_bits)))
    if "add" in kinds:
        result += [("add", _add_layer(*config)) for config in ADD_CONFIGS]
    if "concat" in kinds:
        result += [("concat", ConcatLayer(f"concat_{'_'.join(map(str, channels))}_b{bits}",
                                          channels, 4, 4, bits, "uint" if bits > 1 else "binary"))
                   for channels, bits in CONCAT_CONFIGS]
    if "fork" in kinds:
        result += [("fork", ForkLayer(f"fork_{elements}x{bits}_to{outputs}", elements, bits,
                                      outputs)) for elements, bits, outputs in FORK_CONFIGS]
    if "fifo" in kinds:
        result += [("fifo", FIFOLayer(f"fifo_w{width}_d{depth}", elements=1, bits=width,
                                      depth=depth)) for width, depth in FIFO_CONFIGS]
    if "dwc" in kinds:
        result += [("dwc", DWCLayer(f"dwc_{in_width}to{out_width}", in_elements=in_width,
                                    out_elements=out_width, bits=1))
                   for in_width, out_width in DWC_CONFIGS]
    return result


def estimated(layer, target: Target) -> tuple[Resources, dict]:
    """The estimate of a configuration on ``target`` and the terms of its LUT count."""
    return estimate_layer(layer, target), layer_terms(layer, target)


def _run(command, cwd: Path, what: str):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-2000:]
        raise RuntimeError(f"{what} failed in {cwd}:\n{tail}")


def _nextpnr(target: Target) -> str:
    """The target's nextpnr tool (``nextpnr-ecp5``): the stage that places and routes."""
    return next(stage.tool for stage in target.stages if stage.tool.startswith("nextpnr"))


def synthesise(layer, target: Target, env: dict) -> dict:
    """LUTs, FFs, block RAMs and multipliers (the target's :attr:`~hwgen.target.Target.cells`)
    of ``layer``'s block built for ``target``, synthesised and packed; cached."""
    script, device, _ = SYNTHESIS[target.family]
    with _emit_lock:
        verilog = emit_verilog(op_for(layer).block(layer, target))
    digest = hashlib.sha256(verilog.encode()).hexdigest()[:16]
    folder = CACHE / target.family / f"{layer.name}-{digest}"
    report_file = folder / "report.json"
    if not report_file.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "top.v").write_text(verilog)
        # YoWASP tools see the working directory only: relative paths.
        _run([env["YOSYS"], "-q", "-l", "synth.log", "-p",
              f"read_verilog top.v; {script}; tee -q -o stat.txt stat"], folder, "yosys")
        nextpnr = _nextpnr(target)
        _run([env[tool_env_var(nextpnr)], *device, "--json", "top.json", "--pack-only",
              "--report", "report.json", "-q"], folder, nextpnr)
    report = json.loads(report_file.read_text())
    used = {cell: int(entry["used"]) for cell, entry in report["utilization"].items()}
    return count_cells(target, used, parse_stat((folder / "stat.txt").read_text()),
                       figures=("luts", "ffs", "brams", "dsps"))


def _relative_errors(rows, key):
    return [abs(row["estimate"][key] - row["real"][key]) / max(1, row["real"][key])
            for row in rows]


# Per family, coefficients held at their physical value rather than fitted: on ECP5 a DPR16X4
# is 4 LUTs, and the MVTU terms with too few configurations to tell them apart from the others
# count 1 LUT each (on iCE40 one logic cell each). A family without an entry fits every term.
PINNED = {
    "ecp5": {
        "mvtu": {"lutram": 4.0, "gate": 1.0, "logit": 1.0, "lutram_mux": 1.0, "counter": 1.0,
                 "adder_table": 2.2},
        "swg": {"lutram": 4.0},
        "maxpool": {"lutram": 4.0},
        "avgpool": {"lutram": 4.0},
        "vvau": {"lutram": 4.0},
        "fifo": {"lutram": 4.0},
    },
    # iCE40 has no distributed RAM; the same MVTU terms are held at one logic cell each.
    "ice40": {
        "mvtu": {"gate": 1.0, "logit": 1.0, "lutram_mux": 1.0, "counter": 1.0},
    },
}


def pinned(target: Target) -> dict[str, dict[str, float]]:
    """The coefficients held, per block kind, when fitting ``target``'s: :data:`PINNED`, and a
    cim MVTU's parts around the macro priced as the digital MVTU's (the terms the target's
    ``cim`` coefficients share with its ``mvtu`` ones)."""
    result = {kind: dict(values) for kind, values in PINNED.get(target.family, {}).items()}
    mvtu, cim = target.coefficients["mvtu"], target.coefficients["cim"]
    result["cim"] = {name: mvtu[name] for name in cim if name in mvtu}
    return result


def _fit_kind(rows, pinned: dict) -> dict[str, float]:
    from scipy.optimize import nnls
    names = sorted({name for row in rows for name in row["terms"]} - set(pinned))
    real = [max(1, row["real"]["luts"]) for row in rows]
    a = np.array([[row["terms"].get(name, 0.0) / luts for name in names]
                  for row, luts in zip(rows, real)])
    b = np.array([1 - sum(value * row["terms"].get(name, 0.0) for name, value in pinned.items())
                  / luts for row, luts in zip(rows, real)])
    coefficients, _ = nnls(a, b)
    return {**dict(zip(names, (float(c) for c in coefficients))), **pinned}


def fit(rows, target: Target):
    """Per block kind, non-negative LUT coefficients minimising the relative error, and the
    error of each configuration left out of the fit (leave-one-out)."""
    held = pinned(target)
    for kind in sorted({row["kind"] for row in rows}):
        chosen = [row for row in rows if row["kind"] == kind]
        coefficients = _fit_kind(chosen, held.get(kind, {}))
        fitted, left_out = [], []
        for index, row in enumerate(chosen):
            for errors, values in ((fitted, coefficients),
                                   (left_out, _fit_kind(chosen[:index] + chosen[index + 1:],
                                                        held.get(kind, {})))):
                estimate_luts = sum(values.get(name, 0.0) * count
                                    for name, count in row["terms"].items())
                errors.append(abs(estimate_luts / max(1, row["real"]["luts"]) - 1))
        print(f"# fit {kind}: " + ", ".join(f"{name}={value:.3f}"
                                            for name, value in sorted(coefficients.items()))
              + f"  (error {np.mean(fitted):.3f}, leave-one-out {np.mean(left_out):.3f})",
              flush=True)


def main(argv=None) -> int:
    kinds_all = ("mvtu", "cim", "smvtu", "swg", "maxpool", "avgpool", "vvau", "add", "concat",
                 "fork", "fifo", "dwc")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="ecp5", choices=sorted(TARGETS),
                        help="FPGA family to synthesise for (default: %(default)s)")
    parser.add_argument("--only", default=",".join(kinds_all),
                        help="block kinds, comma-separated (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="synthesis runs at once (default: %(default)s)")
    parser.add_argument("--fit", action="store_true", help="print least-squares LUT coefficients")
    args = parser.parse_args(argv)
    kinds = [kind.strip() for kind in args.only.split(",") if kind.strip()]
    unknown = set(kinds) - set(kinds_all)
    if unknown:
        parser.error(f"unknown block kinds {', '.join(sorted(unknown))} "
                     f"(known: {', '.join(kinds_all)})")
    target = find_target(args.target)
    if target.family not in SYNTHESIS:
        parser.error(f"no synthesis settings for {target.family} in SYNTHESIS (families: "
                     f"{', '.join(SYNTHESIS)})")
    env = target.tool_env()
    capacity = SYNTHESIS[target.family][2]
    configs, too_large = [], []
    for config in configurations(kinds, target):
        size = estimate_layer(config[1], find_target("ecp5")).luts
        (configs if size <= capacity else too_large).append(config)
    if too_large:
        print(f"[calibration] {len(too_large)} configurations left out, larger than "
              f"{target.family}'s {capacity} LUTs: "
              f"{', '.join(layer.name for _, layer in too_large)}", file=sys.stderr, flush=True)

    failed = []

    def measure(config):
        kind, layer = config
        try:
            real = synthesise(layer, target, env)
        except RuntimeError as error:       # a tool's own failure: say so, count the rest
            failed.append(layer.name)
            print(f"[calibration] {target.family} {layer.name}: left out, "
                  f"{str(error).splitlines()[-1][:200]}", file=sys.stderr, flush=True)
            return None
        print(f"[calibration] {target.family} {layer.name}: {real['luts']} LUT, {real['ffs']} FF, "
              f"{real['brams']} BRAM, {real['dsps']} DSP", file=sys.stderr, flush=True)
        result, terms = estimated(layer, target)
        return {"kind": kind, "name": layer.name, "real": real,
                "estimate": {"luts": result.luts, "ffs": result.ffs, "brams": result.brams,
                             "dsps": result.dsps},
                "terms": terms}

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = [row for row in pool.map(measure, configs) if row is not None]

    print(f"{'configuration':48s} {'LUT est':>8s} {'LUT real':>8s} {'err':>6s} "
          f"{'FF est':>7s} {'FF real':>7s} {'BRAM':>9s} {'DSP':>5s}")
    for row in rows:
        est, real = row["estimate"], row["real"]
        error = (est["luts"] - real["luts"]) / max(1, real["luts"])
        print(f"{row['name']:48s} {est['luts']:8d} {real['luts']:8d} {error:+6.0%} "
              f"{est['ffs']:7d} {real['ffs']:7d} {est['brams']:4d}/{real['brams']:<4d} "
              f"{est['dsps']:2d}/{real['dsps']:<2d}")
    if args.fit:
        fit(rows, target)
    figures = {"lut_mare": float(np.mean(_relative_errors(rows, "luts")))}
    for kind in ("mvtu", "cim", "smvtu"):
        chosen = [row for row in rows if row["kind"] == kind]
        if chosen:
            figures[f"{kind}_lut_mare"] = float(np.mean(_relative_errors(chosen, "luts")))
    figures["ff_mare"] = float(np.mean(_relative_errors(rows, "ffs")))
    for unit in ("brams", "dsps"):
        figures[f"{unit[:-1]}_exact"] = float(np.mean([row["estimate"][unit] == row["real"][unit]
                                                       for row in rows]))
    figures["configurations"] = len(rows)
    figures["configurations_failed"] = len(failed)
    for key, value in figures.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
