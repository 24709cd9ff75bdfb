"""Resource estimates: Yosys's memory placement, trends in PE/SIMD, and synthesised figures
(the ops' cost models on ECP5, read through :mod:`hwgen.estimate`)."""
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from hwgen.estimate import (converter, estimate_graph, estimate_layer, in_width, layer_terms,
                            out_width)
from hwgen.ops import DWCLayer, FIFOLayer, MaxPoolLayer, SWGLayer
from hwgen.target import DEFAULT_TARGET, Resources, target
from hwgen.target.ecp5.cost import COEFFICIENTS
from hwgen.target.ecp5.memory import BRAM_LUTS, DSP_LUTS
from tests.conftest import REPO, digits_cnn_chain, random_layer

ECP5 = target("ecp5")


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _layer(mw, mh, pe, simd, in_encoding="bipolar", in_bits=1, logits=False, pixels=1, seed=0):
    return random_layer(np.random.default_rng(seed), mw=mw, mh=mh, pe=pe, simd=simd,
                        logits=logits, in_encoding=in_encoding, in_bits=in_bits, pixels=pixels)


def _fifo(width, depth):
    """A FIFO of ``depth`` words of ``width`` bits."""
    return FIFOLayer("fifo", elements=1, bits=width, depth=depth)


def _dwc(in_width, out_width):
    """A width converter of ``in_width``-bit to ``out_width``-bit transfers."""
    return DWCLayer("dwc", in_elements=in_width, out_elements=out_width, bits=1)


# --- memories ---------------------------------------------------------------------------------

def test_ram_style_moves_the_estimate():
    layer = _layer(384, 128, 16, 96, in_encoding="binary")
    auto = estimate_layer(layer)
    block = estimate_layer(dataclasses.replace(layer, ram_style="block"))
    assert (auto.brams, block.brams - auto.brams) == (0, 43)
    assert block.luts < auto.luts - 2000
    big = _layer(256, 256, 4, 32)                  # 512 x 128 weights: block RAM by default
    assert estimate_layer(big).brams > 0
    assert estimate_layer(dataclasses.replace(big, ram_style="distributed")).brams == 0


# --- trends -----------------------------------------------------------------------------------

SHAPES = [
    dict(mw=64, mh=32),
    dict(mw=144, mh=32, pixels=36),
    dict(mw=288, mh=10, logits=True),
    dict(mw=128, mh=64, in_encoding="binary"),
    dict(mw=64, mh=10, in_encoding="binary", logits=True),
    dict(mw=9, mh=16, in_encoding="uint", in_bits=4, pixels=64),
    dict(mw=27, mh=32, in_encoding="uint", in_bits=8),
    dict(mw=784, mh=128),
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(str(v) for v in s.values()))
def test_more_pe_simd_never_fewer_luts(shape):
    """Over foldings whose weights stay out of block RAM and whose input transfers fill a
    DPR16X4 word (4 bits), more PE or more SIMD never estimates fewer LUTs. Fully parallel (one
    weight word) is apart: its weights are constants in the logic, where a folded layer reads
    them (a binary layer's leaves are then tables of the inputs alone)."""
    base = _layer(pe=1, simd=1, **shape)
    estimates = {}
    for pe in _divisors(base.mh):
        for simd in _divisors(base.mw):
            layer = dataclasses.replace(base, pe=pe, simd=simd)
            estimates[pe, simd] = (layer, estimate_layer(layer))
    compared = 0
    for (pe, simd), (layer, low) in estimates.items():
        if low.brams or layer.in_width < 4 or layer.nf * layer.sf == 1:
            continue
        for (pe2, simd2), (other, high) in estimates.items():
            if (pe2, simd2) != (pe, simd) and pe2 % pe == 0 and simd2 % simd == 0 \
                    and not high.brams and other.nf * other.sf > 1:
                assert high.luts >= low.luts, ((pe, simd), low, (pe2, simd2), high)
                compared += 1
    assert compared > 0


def test_narrow_inputs_are_the_exception():
    """A 1-bit-wide replay buffer wastes 3/4 of each DPR16X4 and its counters are widest:
    synthesis of 64 x 32 at pe=1 gives 384 LUTs at simd=1, 332 at simd=2 (Yosys 0.70 +
    nextpnr-ecp5). The estimate follows."""
    one, two = (estimate_layer(_layer(64, 32, 1, simd)) for simd in (1, 2))
    assert two.luts < one.luts


def test_bram_when_weights_are_large():
    small = estimate_layer(_layer(64, 32, 4, 16))
    assert small.brams == 0
    # 256 x 1024 weights, 512 words of 512 bits: 15 DP16KD (ceil(512 / 36)), as synthesised
    large = estimate_layer(_layer(1024, 256, 8, 64))
    assert large.brams == 15
    # unfolding the same weights moves them out of block RAM, into LUTs
    wide = estimate_layer(_layer(1024, 256, 64, 1024, seed=1))
    assert wide.brams == 0 and wide.luts > large.luts


@pytest.mark.parametrize("layer,dsps", [
    # the sliding window steps its read address by constants: no multiplier (synthesised)
    (SWGLayer("s", 16, 8, 8, 3, simd=4), 0),
    (SWGLayer("s", 48, 8, 8, 3, simd=16), 0),             # 3 words a pixel, 24 a row
    (SWGLayer("s", 8, 28, 28, 5, 2, 2, simd=2), 0),       # 112 words a row
    (MaxPoolLayer("p", 48, 6, 6, 2, pe=16), 1),           # 3 words a pixel (synthesised)
    (MaxPoolLayer("p", 32, 6, 6, 2, pe=8), 0),
])
def test_address_multipliers(layer, dsps):
    assert estimate_layer(layer).dsps == dsps


def test_deep_line_buffer_is_bram():
    assert estimate_layer(SWGLayer("s", 64, 16, 16, 3, padding=1)).brams == 1
    assert estimate_layer(SWGLayer("s", 16, 8, 8, 3, simd=16)).brams == 0


# --- against synthesis ------------------------------------------------------------------------

# (layer, LUT4s, FFs, DP16KD) of Yosys 0.70 synth_ecp5 + nextpnr-ecp5 --pack-only
# (bench/estimate_calibration.py).
SYNTHESISED = [
    (lambda: _layer(64, 32, 4, 16), 572, 345, 0),
    (lambda: _layer(256, 64, 16, 16), 2937, 1039, 0),
    (lambda: _layer(256, 64, 4, 8), 376, 283, 1),
    (lambda: _layer(784, 64, 16, 49), 3574, 2749, 22),
    (lambda: _layer(1024, 256, 8, 64), 2512, 2033, 15),
    (lambda: _layer(128, 32, 8, 32, in_encoding="binary"), 2107, 1121, 0),
    (lambda: _layer(9, 16, 4, 9, in_encoding="uint", in_bits=4), 997, 556, 0),
    (lambda: _layer(288, 10, 10, 32, logits=True), 1768, 1185, 0),
    (lambda: SWGLayer("s", 16, 8, 8, 3, simd=4), 378, 67, 0),
    (lambda: SWGLayer("s", 3, 32, 32, 3, padding=1, simd=3, elem_bits=8), 375, 179, 1),
    (lambda: MaxPoolLayer("p", 64, 16, 16, 2, pe=4), 172, 28, 0),
]


def test_close_to_synthesis():
    errors = []
    for make, luts, ffs, brams in SYNTHESISED:
        estimate = estimate_layer(make())
        assert estimate.brams == brams
        assert abs(estimate.luts / luts - 1) < 0.25, (make(), estimate, luts)
        assert abs(estimate.ffs / ffs - 1) < 0.25, (make(), estimate, ffs)
        errors.append(abs(estimate.luts / luts - 1))
    assert np.mean(errors) < 0.10


def test_fifo_and_converter_against_synthesis():
    deep = estimate_layer(_fifo(8, 512))                        # synthesised: 125, 55, 1
    assert (deep.luts, deep.brams) == (125, 1) and abs(deep.ffs / 55 - 1) < 0.2
    assert abs(estimate_layer(_fifo(16, 32)).luts / 149 - 1) < 0.2
    assert abs(estimate_layer(_dwc(32, 9)).luts / 1504 - 1) < 0.25       # the fit: -21 %
    assert estimate_layer(_dwc(16, 16)) == Resources()


# --- API --------------------------------------------------------------------------------------

def test_resources_sum_and_cost():
    total = Resources(10, 20, 1) + Resources(5, 6, 2, 1)
    assert total == Resources(15, 26, 3, 1)
    assert total.cost(ECP5) == 15 + 3 * BRAM_LUTS + DSP_LUTS
    assert total.cost(SimpleNamespace(bram_luts=0, dsp_luts=0)) == 15
    with pytest.raises(ValueError, match="brams must be a non-negative integer, not -1"):
        Resources(brams=-1)


def test_terms_have_coefficients():
    layers = [_layer(64, 32, 4, 16), _layer(9, 16, 4, 9, in_encoding="uint", in_bits=4),
              _layer(64, 32, 32, 64), _layer(288, 10, 2, 8, logits=True),
              SWGLayer("s", 16, 8, 8, 3), MaxPoolLayer("p", 32, 6, 6, 2, pe=8)]
    for layer in layers:
        assert set(layer_terms(layer)) <= set(COEFFICIENTS[layer.op])
    from hwgen.cim import MacroSpec
    from tests.conftest import random_cim_layer
    for noise in ("none", "cell"):
        cim = random_cim_layer(np.random.default_rng(1), mw=64, mh=16, pe=4, macro=MacroSpec(
            wordlines=16, adc_bits=4, encoding="binary", noise=noise, sigma=0.5))
        assert set(layer_terms(cim)) <= set(COEFFICIENTS["cim"])
        assert ("cim_hash" in layer_terms(cim)) == (noise == "cell")
    assert set(layer_terms(_fifo(8, 512))) <= set(COEFFICIENTS["fifo"])
    assert set(layer_terms(_dwc(3, 7))) <= set(COEFFICIENTS["dwc"])


def test_widths():
    mvtu = _layer(18, 4, 2, 3, in_encoding="uint", in_bits=5)
    assert (in_width(mvtu), out_width(mvtu)) == (15, 2)
    logits = _layer(18, 4, 2, 3, logits=True)
    assert out_width(logits) == 2 * logits.dot_bits
    swg = SWGLayer("s", 4, 5, 5, 3, simd=2, elem_bits=3)
    assert (in_width(swg), out_width(swg)) == (6, 6)
    pool = MaxPoolLayer("p", 8, 4, 4, 2, pe=4)
    assert (in_width(pool), out_width(pool)) == (4, 4)


def test_rejects():
    with pytest.raises(TypeError, match="no op for object"):
        estimate_layer(object())
    with pytest.raises(ValueError, match="depth"):
        estimate_layer(_fifo(8, 0))
    with pytest.raises(ValueError, match="out_elements"):
        estimate_layer(_dwc(8, -1))


def test_cim_layers_count_their_multipliers():
    """A noisy cim MVTU's macro uses one MULT18X18D per read of a cycle (what synthesis
    gives, bench/cim_timing.py); a quiet one none."""
    from hwgen.cim import MacroSpec
    from tests.conftest import random_cim_layer
    rng = np.random.default_rng(0)
    noisy = random_cim_layer(rng, mw=32, mh=8, pe=4, macro=MacroSpec(
        wordlines=8, noise="cell", sigma=0.5, weight_bits=2, act_bits=2, encoding="binary"))
    assert estimate_layer(noisy).dsps == 4 * 2 * 2
    quiet = random_cim_layer(rng, mw=32, mh=8, pe=4, macro=MacroSpec(wordlines=8))
    assert estimate_layer(quiet).dsps == 0


def test_ice40_has_no_multipliers_and_single_read_port_block_rams():
    """On iCE40 (synth_ice40 without -dsp) a noisy macro's scale multipliers are logic, and
    a ZTABLE copy read twice a cycle takes two single-read-port block RAMs; a max-pool's
    address multiplier is logic too."""
    from hwgen.cim import MacroSpec
    from tests.conftest import random_cim_layer
    ecp5, ice40 = target("ecp5"), target("ice40")
    noisy = random_cim_layer(np.random.default_rng(0), mw=32, mh=8, pe=4, macro=MacroSpec(
        wordlines=8, noise="cell", sigma=0.5, encoding="binary"))
    on_ecp5, on_ice40 = estimate_layer(noisy, ecp5), estimate_layer(noisy, ice40)
    assert on_ecp5.dsps == 4 and on_ice40.dsps == 0
    assert layer_terms(noisy, ice40)["cim_scale"] > 0 and "cim_scale" not in \
        layer_terms(noisy, ecp5)
    ztables = 4 // 2                          # a copy per two reads
    assert on_ice40.brams - on_ecp5.brams == ztables   # each copy one block RAM more
    pool = MaxPoolLayer("pool", 12, 6, 6, 2, 4)        # cf = 3: column * 3 is a multiplier
    assert estimate_layer(pool, ecp5).dsps == 1 and estimate_layer(pool, ice40).dsps == 0
    assert layer_terms(pool, ice40)["multiply"] > 0


def test_cim_layer_close_to_synthesis():
    """The keyword-spotting example's hidden layer on the noisy macro, as its build folds it:
    7,812 LUT4s, 4,413 FFs, 13 DP16KD, 8 MULT18X18D synthesised (bench/estimate_calibration.py
    --only cim); priced as a digital MVTU it came to half the LUTs."""
    from hwgen.ir import load_ir
    from hwgen.passes.fold import auto_fold
    from hwgen.spec import load_spec
    graph = load_ir(REPO / "examples" / "kws" / "model.ir.npz")
    target = load_spec(REPO / "examples" / "kws.yaml").hardware.target_cycles
    graph = auto_fold(graph, target_cycles=target, fixed=graph.meta["fixed_folding"])
    (fc4,) = [layer for layer in graph.layers if getattr(layer, "macro", None) is not None]
    estimate = estimate_layer(fc4)
    assert (estimate.brams, estimate.dsps) == (13, 8)
    assert abs(estimate.luts / 7812 - 1) < 0.1, estimate
    assert abs(estimate.ffs / 4413 - 1) < 0.15, estimate


# --- graph-level readers ----------------------------------------------------------------------

def test_the_default_target_is_ecp5():
    """Where no board is known the estimate is ECP5's, the same as asking it explicitly."""
    assert DEFAULT_TARGET is ECP5
    layer = _layer(256, 64, 4, 8)
    assert estimate_layer(layer) == estimate_layer(layer, ECP5)
    assert layer_terms(layer) == layer_terms(layer, ECP5)


def test_graph_estimate_is_layers_and_converters():
    graph = digits_cnn_chain(np.random.default_rng(0)).with_layers(
        {"conv0_swg": {"simd": 1}, "conv0": {"pe": 2, "simd": 3}})
    layers = sum((estimate_layer(layer, ECP5) for layer in graph.layers), Resources())
    assert estimate_graph(graph, ECP5, converters=False) == layers
    between = [converter(a, b) for a, b in zip(graph.layers, graph.layers[1:])]
    assert any(between) and not all(between)
    assert estimate_graph(graph, ECP5) == sum(
        (estimate_layer(dwc, ECP5) for dwc in between if dwc is not None), layers)
    swg, conv = graph.layers[:2]            # 1 element a transfer into an MVTU taking 3
    assert converter(swg, conv) == DWCLayer("conv0_swg_dwc", 1, 3, 4)


def test_the_sums_counts_are_remembered_by_everything_they_depend_on():
    """``datapath._sum_counts`` remembers a neuron's sum by the layer fields its leaves read:
    over layers that differ in each of them, the remembered counts equal a fresh count, so no
    field the count reads is missing from the key."""
    from hwgen.ops import MVTULayer
    from hwgen.ops.mvtu import datapath
    rng = np.random.default_rng(3)
    layers = [_layer(mw, 4, 1, simd, encoding, bits)
              for mw, simd in ((24, 8), (24, 12), (36, 12))
              for encoding, bits in (("bipolar", 1), ("binary", 1), ("uint", 2), ("uint", 3))]
    layers += [MVTULayer("w", 24, 4, 1, 8, rng.integers(0, 1 << bits, (4, 24)), weight_bits=bits,
                         in_encoding="binary") for bits in (2, 3)]
    layers += [_layer(12 * ((1 << bits) - 1), 4, 1, 2 * ((1 << bits) - 1), "thermometer", bits)
               for bits in (2, 3)]

    def fresh(layer):
        datapath._SUM_COUNTS.clear()
        return datapath.sum_register_bits(layer), datapath.sum_latency(layer, ECP5)

    expected = [fresh(layer) for layer in layers]
    datapath._SUM_COUNTS.clear()
    remembered = [(datapath.sum_register_bits(layer), datapath.sum_latency(layer, ECP5))
                  for layer in layers]
    assert remembered == expected
    assert len(set(expected)) > len(layers) // 2     # the layers' sums do differ


@pytest.mark.parametrize("mw,wordlines,noise,encoding,luts,ffs", [
    (64, 12, "cell", "binary", 4104, 2580), (64, 9, "none", "bipolar", 797, 284)])
def test_a_partial_wordline_group_close_to_synthesis(mw, wordlines, noise, encoding, luts, ffs):
    """A cim MVTU whose last wordline group is partial (mh 16, pe 4, 4-bit ADC): the masked
    rows, the two threshold sets and the codes' weights, synthesised with Yosys and packed by
    nextpnr-ecp5 (bench/estimate_calibration.py's synthesis; the same layers with whole
    groups, 72 of 12 and 63 of 9, came to 3,770 and 524 LUTs)."""
    from hwgen.cim import MacroSpec
    from tests.conftest import random_cim_layer
    macro = MacroSpec(wordlines=wordlines, adc_bits=4, noise=noise,
                      sigma=0.0 if noise == "none" else 0.5, encoding=encoding, seed=3)
    layer = random_cim_layer(np.random.default_rng(0), mw=mw, mh=16, pe=4, macro=macro)
    assert macro.partial(mw)
    estimate = estimate_layer(layer)
    assert abs(estimate.luts / luts - 1) < 0.2, estimate
    assert abs(estimate.ffs / ffs - 1) < 0.15, estimate
