"""The CIM macro model: exact at a unit ADC step, equal to a plain-Python reference of the
contract with noise on, ADC clipping and monotonicity, cell/read noise through the whole read,
reproducibility, multi-bit slices, and the float training twin."""
import math
import re
from fractions import Fraction

import numpy as np
import pytest
import torch

from hwgen.cim import macro as macro_module
from hwgen.cim import (MacroSpec, adc, decode_activations, decode_weights, macro_mvm,
                       macro_mvm_float)
from hwgen.cim.noise import NOISE_FRAC_BITS, noise_index, ztable
from hwgen.errors import FieldError
from hwgen.ops.mvtu.golden import mvtu_dot
from hwgen.ops import MVTULayer


def _exact(wordlines=8, adc_bits=5, **kw) -> MacroSpec:
    """A macro with ADC step 1: R = (L - 1) / 2."""
    return MacroSpec(wordlines=wordlines, adc_bits=adc_bits,
                     adc_range=((1 << adc_bits) - 1) / 2, **kw)


def _random(rng, spec, mh, mw, count):
    weights = rng.integers(0, 1 << spec.weight_bits, (mh, mw))
    x = rng.integers(0, 1 << spec.act_bits, (count, mw))
    return (weights.astype(bool) if spec.weight_bits == 1 else weights), x


# --- a plain-Python reference of the contract --------------------------------------------------
def _reference(spec: MacroSpec, weights, x, *, layer_index, first_vector=0):
    """Code sums by the letter of the contract: Python integers and exact fractions."""
    wl, r, levels = spec.wordlines, Fraction(spec.adc_range), 1 << spec.adc_bits
    step = 2 * r / (levels - 1)
    thresholds = [-r + (i - Fraction(1, 2)) * step for i in range(1, levels)]
    table = ztable()

    def scale(active):
        if spec.noise == "none":
            return 0
        amount = spec.sigma * (math.sqrt(active) if spec.noise == "cell" else 1.0)
        return math.floor(amount * 1024 + 0.5)

    def weight_plane(code, j):
        return 2 * ((int(code) >> j) & 1) - 1

    def act_plane(code, p):
        bit = (int(code) >> p) & 1
        return 2 * bit - 1 if spec.encoding == "bipolar" else bit

    mh, mw = np.shape(weights)
    unit = math.gcd(wl, mw)
    result = []
    for i, vector in enumerate(x):
        v = first_vector + i
        row = []
        for n in range(mh):
            total = 0
            for s in range(-(-mw // wl)):
                ks = range(s * wl, min((s + 1) * wl, mw))
                # a partial group: its range (and so its thresholds) scaled by its rows, its
                # codes weighted by them
                ratio, weight = Fraction(len(ks), wl), len(ks) // unit
                for j in range(spec.weight_bits):
                    for p in range(spec.act_bits):
                        b = sum(act_plane(vector[k], p) * weight_plane(weights[n][k], j)
                                for k in ks)
                        active = sum(act_plane(vector[k], p) != 0 for k in ks)
                        u = noise_index(spec.seed, layer_index, v, n, s, j, p)
                        y = b + Fraction(scale(active) * table[u], 2**22)
                        total += weight * sum(y >= t * ratio for t in thresholds) << (j + p)
            row.append(total)
        result.append(row)
    return np.array(result, dtype=np.int64)


# --- exactness ---------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["bipolar", "binary"])
@pytest.mark.parametrize("wordlines,adc_bits,mw", [(8, 5, 32), (16, 6, 48), (1, 2, 7), (4, 4, 20)])
def test_exact_at_unit_step_without_noise(encoding, wordlines, adc_bits, mw):
    rng = np.random.default_rng(wordlines + mw)
    spec = _exact(wordlines, adc_bits, encoding=encoding)
    weights, x = _random(rng, spec, 12, mw, 200)
    layer = MVTULayer("cim", mw, 12, 1, 1, weights, in_encoding=encoding)
    dot = mvtu_dot(layer, torch.as_tensor(x)).numpy()
    assert (macro_mvm(spec, weights, x, layer_index=0) == dot + spec.code_offset(mw)).all()


def test_exactness_check_detects_an_off_by_one_threshold(monkeypatch):
    rng = np.random.default_rng(0)
    spec = _exact()
    weights, x = _random(rng, spec, 8, 32, 100)
    dot = decode_activations(spec, x) @ decode_weights(spec, weights).T
    shifted = tuple(t + (1 << NOISE_FRAC_BITS) if i == 15 else t
                    for i, t in enumerate(spec.thresholds))
    monkeypatch.setattr(MacroSpec, "group_thresholds", lambda self, rows: shifted)
    assert (macro_mvm(spec, weights, x, layer_index=0) != dot + spec.code_offset(32)).any()


@pytest.mark.parametrize("weight_bits,act_bits", [(2, 1), (1, 2), (2, 2)])
@pytest.mark.parametrize("encoding", ["bipolar", "binary"])
def test_multi_bit_exact_at_unit_step(weight_bits, act_bits, encoding):
    rng = np.random.default_rng(weight_bits * 3 + act_bits)
    spec = _exact(encoding=encoding, weight_bits=weight_bits, act_bits=act_bits)
    weights, x = _random(rng, spec, 10, 40, 150)
    w_values = 2 * weights.astype(np.int64) - (3 if weight_bits == 2 else 1)
    x_values = x if encoding == "binary" else 2 * x - (3 if act_bits == 2 else 1)
    assert set(np.unique(w_values)) <= {-3, -1, 1, 3}
    dot = x_values @ w_values.T
    assert (decode_weights(spec, weights) == w_values).all()
    assert (decode_activations(spec, x) == x_values).all()
    assert (macro_mvm(spec, weights, x, layer_index=2) == dot + spec.code_offset(40)).all()


# --- against the reference, noise on -----------------------------------------------------------
@pytest.mark.parametrize("kw", [
    dict(noise="cell", sigma=0.7, encoding="binary"),
    dict(noise="cell", sigma=1.3, encoding="bipolar", adc_bits=3),
    dict(noise="read", sigma=0.45, encoding="binary", adc_bits=4, adc_range=5.5),
    dict(noise="cell", sigma=0.9, encoding="binary", weight_bits=2, act_bits=2, seed=2 ** 32 - 3),
    dict(noise="read", sigma=2.1, encoding="bipolar", weight_bits=2, act_bits=2, adc_bits=2),
    dict(noise="none", sigma=2.0, encoding="bipolar", adc_bits=1),
])
@pytest.mark.parametrize("mw", [24, 29, 5])
def test_golden_equals_the_plain_reference(kw, mw):
    """Whole groups (24 = 3 x 8), a partial last group (29 = 3 x 8 + 5), one partial group."""
    rng = np.random.default_rng(len(kw) + mw)
    spec = MacroSpec(wordlines=8, **{"adc_bits": 4, **kw})
    weights, x = _random(rng, spec, 5, mw, 7)
    x[0] = 0                                   # an all-zero vector: no cell noise
    got = macro_mvm(spec, weights, x, layer_index=3, first_vector=1000)
    assert (got == _reference(spec, weights, x, layer_index=3, first_vector=1000)).all()


# --- a partial last wordline group ---------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["bipolar", "binary"])
@pytest.mark.parametrize("wordlines,mw", [(12, 64), (9, 64), (8, 13), (16, 7)])
def test_partial_group_is_a_rising_one_to_one_map_of_the_dot_product(encoding, wordlines, mw):
    """At a unit step without noise, one-bit slices: ``g * (C - offset)`` lies in
    ``(WL * dot - r, WL * dot]`` (r the last group's rows), so thresholds on the dot product
    map exactly onto the code sum."""
    rng = np.random.default_rng(wordlines * mw)
    spec = _exact(wordlines, 6, encoding=encoding)
    assert spec.partial(mw)
    weights, x = _random(rng, spec, 12, mw, 300)
    dot = decode_activations(spec, x) @ decode_weights(spec, weights).T
    got = macro_mvm(spec, weights, x, layer_index=0)
    unit, r = math.gcd(wordlines, mw), spec.last_rows(mw)
    scaled = unit * (got - spec.code_offset(mw))
    assert ((scaled <= wordlines * dot) & (scaled > wordlines * dot - r)).all()
    assert got.max() <= spec.max_code_sum(mw)


def test_partial_group_follows_its_rows():
    """The last group's ADC converts over R * r / WL and its noise follows the rows it drives:
    a bipolar group of 4 rows of 12 reads the same codes as a 4-wordline macro's group with
    the same seed and key would, scaled by 4 / gcd(12, 16) = 1."""
    spec = MacroSpec(wordlines=12, adc_bits=3, noise="cell", sigma=0.8, seed=5)
    assert spec.group_rows(16) == (12, 4) and spec.group_weights(16) == (3, 1)
    # runs of groups read alike: (first, stop, rows, weight)
    assert spec.group_parts(16) == ((0, 1, 12, 3), (1, 2, 4, 1))
    assert spec.group_parts(4) == ((0, 1, 4, 1),) and spec.group_parts(36) == ((0, 3, 12, 1),)
    assert spec.group_thresholds(4) == MacroSpec(wordlines=4, adc_bits=3).thresholds
    small = spec.replace(wordlines=4, adc_range=4.0)
    rng = np.random.default_rng(1)
    weights, x = _random(rng, spec, 3, 4, 50)
    # one-group layers: the partial group of a 4-wide layer under 12 wordlines is the whole
    # group of a 4-wordline macro (the same thresholds, active rows and noise samples)
    assert (macro_mvm(spec, weights, x, layer_index=1)
            == macro_mvm(small, weights, x, layer_index=1)).all()
    assert spec.code_step(16) == pytest.approx(spec.step / 3)
    assert spec.code_offset(16) == 4 * 16 // 4 and spec.max_code_sum(16) == 7 * 4


# --- ADC -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("adc_bits,adc_range", [(1, 8.0), (2, 2.0), (3, 8.0), (5, 15.5), (8, 3.3)])
def test_adc_is_a_clipped_monotone_rounding(adc_bits, adc_range):
    spec = MacroSpec(wordlines=8, adc_bits=adc_bits, adc_range=adc_range)
    one = 1 << NOISE_FRAC_BITS
    span = int(adc_range + 3) * one
    y = np.arange(-span, span, one // 64 + 7)
    codes = adc(spec, y)
    assert (np.diff(codes) >= 0).all()
    assert codes.min() == 0 and codes.max() == spec.levels - 1        # clipped at both ends
    assert (codes[y < -adc_range * one] == 0).all()
    assert (codes[y > adc_range * one] == spec.levels - 1).all()
    r, step = Fraction(adc_range), 2 * Fraction(adc_range) / (spec.levels - 1)
    for value, code in zip(y[::97], codes[::97]):
        rounded = math.floor((Fraction(int(value), one) + r) / step + Fraction(1, 2))
        assert code == min(max(rounded, 0), spec.levels - 1)


def test_adc_clips_the_bitline_sum():
    # One group of 8 rows, ADC over [-2, 2] in 4 levels (step 4/3): b = 2k - 8 for k ones.
    spec = MacroSpec(wordlines=8, adc_bits=2, adc_range=2.0)
    weights = np.ones((1, 8), dtype=bool)
    x = (np.arange(8)[None, :] < np.arange(9)[:, None]).astype(np.int64)   # k = 0 .. 8
    codes = macro_mvm(spec, weights, x, layer_index=0)[:, 0]
    # Thresholds -4/3, 0, 4/3 on b = -8 -6 -4 -2 0 2 4 6 8.
    assert codes.tolist() == [0, 0, 0, 0, 2, 3, 3, 3, 3]


# --- noise through a whole read ------------------------------------------------------------------
def _read_errors(spec, active: int, count=4000):
    """Dequantized ADC output less the bitline sum of ``count`` reads of one group with
    ``active`` ones (binary) on +1 weights (b = active)."""
    weights = np.ones((16, spec.wordlines), dtype=bool)
    x = np.zeros((count // 16, spec.wordlines), dtype=np.int64)
    x[:, :active] = 1
    codes = macro_mvm(spec, weights, x, layer_index=1)
    return codes * spec.step - spec.adc_range - active


@pytest.mark.parametrize("model,sigma,active", [("cell", 0.5, 0), ("cell", 0.5, 4),
                                                ("cell", 0.3, 16), ("read", 0.5, 0),
                                                ("read", 0.8, 9)])
def test_noise_through_the_read(model, sigma, active):
    # A fine ADC (step 48/255) whose range leaves room for the noise above b = 16.
    spec = MacroSpec(wordlines=16, adc_bits=8, adc_range=24.0, noise=model, sigma=sigma,
                     encoding="binary")
    errors = _read_errors(spec, active)
    expected = sigma * math.sqrt(active) if model == "cell" else sigma
    if expected == 0:
        # Zero inputs add no cell noise: every read gives the noiseless code.
        assert np.ptp(errors) == 0
        assert (errors == _read_errors(spec.replace(noise="none"), active)[0]).all()
        return
    total = math.sqrt(expected**2 + spec.step**2 / 12)       # plus the ADC's rounding
    assert errors.std() == pytest.approx(total, rel=0.05)
    assert abs(errors.mean()) < 4 * total / math.sqrt(errors.size) + spec.step / 2


def test_cell_noise_grows_with_active_rows_and_read_noise_does_not():
    cell = MacroSpec(wordlines=16, adc_bits=8, adc_range=24.0, noise="cell", sigma=0.5,
                     encoding="binary")
    read = cell.replace(noise="read")
    assert _read_errors(cell, 16).std() > 3 * _read_errors(cell, 1).std()
    assert _read_errors(read, 16).std() == pytest.approx(_read_errors(read, 1).std(), rel=0.1)


# --- reproducibility -----------------------------------------------------------------------------
def test_reproducible_from_the_seed_and_key(monkeypatch):
    rng = np.random.default_rng(4)
    spec = MacroSpec(wordlines=8, adc_bits=4, noise="cell", sigma=1.0, encoding="binary", seed=7)
    weights, x = _random(rng, spec, 16, 32, 300)
    base = macro_mvm(spec, weights, x, layer_index=0)
    assert (macro_mvm(spec, weights, x, layer_index=0) == base).all()
    # Another seed, layer or vector offset draws other noise.
    for other in (macro_mvm(spec.replace(seed=8), weights, x, layer_index=0),
                  macro_mvm(spec, weights, x, layer_index=1),
                  macro_mvm(spec, weights, x, layer_index=0, first_vector=1)):
        assert (other != base).mean() > 0.3
    # Vectors keep their noise however they are batched.
    split = np.concatenate([macro_mvm(spec, weights, x[:111], layer_index=0),
                            macro_mvm(spec, weights, x[111:], layer_index=0, first_vector=111)])
    assert (split == base).all()
    monkeypatch.setattr(macro_module, "_CHUNK_READS", 100)
    assert (macro_mvm(spec, weights, x, layer_index=0) == base).all()


# --- spec and inputs -----------------------------------------------------------------------------
@pytest.mark.parametrize("kw,message", [
    (dict(wordlines=0), "wordlines: must lie in 1..65536, not 0"),
    (dict(rows=2 ** 17), "rows: must lie in 1..65536, not 131072"),
    (dict(columns=2.0), "columns: must be an integer, not 2.0"),
    (dict(rows=10, wordlines=16), "wordlines: must be at most rows=10, not 16 (allowed: 1..10)"),
    (dict(adc_bits=9), "adc_bits: must lie in 1..8, not 9"),
    (dict(weight_bits=3), "weight_bits: must be 1 or 2, not 3 (allowed: 1, 2)"),
    (dict(act_bits=0), "act_bits: must be 1 or 2, not 0 (allowed: 1, 2)"),
    (dict(columns=1, weight_bits=2), "columns: must hold the 2 bit-sliced columns of a weight, "
                                     "not 1"),
    (dict(encoding="ternary"), "encoding: unknown value 'ternary' (allowed: binary, bipolar)"),
    (dict(noise="thermal"), "noise: unknown value 'thermal' (allowed: none, read, cell)"),
    (dict(sigma=-0.1), "sigma: must be at least 0, not -0.1"),
    (dict(sigma=float("nan")), "sigma: must be a finite number, not nan"),
    (dict(adc_range=0), "adc_range: must be positive, not 0"),
    (dict(seed=1.5), "seed: must lie in 0..2**32-1, not 1.5 (allowed: 0..4294967295)"),
    (dict(seed=-3), "seed: must lie in 0..2**32-1, not -3 (allowed: 0..4294967295)"),
])
def test_macro_spec_rejects_bad_values(kw, message):
    """Each problem names its field (a FieldError, which the spec loader places in the file)."""
    with pytest.raises(FieldError, match="^" + re.escape(message) + "$") as caught:
        MacroSpec(**kw)
    assert caught.value.key == message.split(":")[0]


def test_macro_spec_defaults_and_derived_values():
    spec = MacroSpec()
    assert spec.adc_range == 16.0 and spec.levels == 32 and spec.step == pytest.approx(32 / 31)
    assert spec.scales == (0,) * 17 and not spec.noisy
    exact = _exact(8, 5)
    assert exact.thresholds == tuple(t << NOISE_FRAC_BITS for t in range(-15, 16))
    assert exact.code_offset(32) == 4 * 16 and exact.max_code_sum(32) == 4 * 31
    noisy = MacroSpec(wordlines=64, noise="cell", sigma=4.0)
    # y_fixed fits its width: the largest bitline sum plus the largest noise sample.
    largest = (64 << NOISE_FRAC_BITS) + max(noisy.scales) * max(ztable())
    assert largest < 2 ** (noisy.adc_input_bits - 1) <= 2 * largest


def test_macro_mvm_rejects_bad_inputs():
    spec = MacroSpec(wordlines=8)
    weights = np.ones((4, 16), dtype=bool)
    with pytest.raises(ValueError, match="the input width must be a positive integer, not mw=0"):
        spec.groups(0)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 16\)"):
        macro_mvm(spec, weights, np.zeros((1, 8), int), layer_index=0)
    with pytest.raises(ValueError, match="activations must be raw codes in 0..1, not 0..2"):
        macro_mvm(spec, weights, np.arange(16)[None] % 3, layer_index=0)
    with pytest.raises(ValueError, match="weights must be raw integer codes"):
        macro_mvm(spec, weights * 1.0, np.zeros((1, 16), int), layer_index=0)


# --- the training twin ---------------------------------------------------------------------------
def _values(spec, weights, x):
    return (torch.tensor(decode_weights(spec, weights), dtype=torch.float32),
            torch.tensor(decode_activations(spec, x), dtype=torch.float32))


@pytest.mark.parametrize("kw", [
    dict(encoding="bipolar"), dict(encoding="binary", adc_bits=3),
    dict(encoding="binary", adc_bits=4, adc_range=5.5, noise="cell", sigma=1.0),
    dict(encoding="bipolar", weight_bits=2, act_bits=2, adc_bits=2),
    dict(encoding="binary", weight_bits=2, act_bits=2, adc_bits=6, adc_range=4.0),
])
@pytest.mark.parametrize("mw", [32, 37, 3])
def test_float_twin_without_noise_equals_the_golden(kw, mw):
    """Whole groups, a partial last group, a single partial group."""
    rng = np.random.default_rng(7)
    spec = MacroSpec(wordlines=8, **{"adc_bits": 5, **kw})
    weights, x = _random(rng, spec, 12, mw, 300)
    w, xv = _values(spec, weights, x)
    got = macro_mvm_float(spec, w, xv.reshape(3, 100, mw), noise=False)
    assert got.shape == (3, 100, 12)
    golden = macro_mvm(spec.replace(noise="none"), weights, x, layer_index=0)
    assert (got.reshape(300, 12).numpy() == golden).all()


@pytest.mark.parametrize("weight_bits,act_bits,encoding", [(1, 1, "bipolar"), (2, 2, "binary"),
                                                           (2, 1, "bipolar")])
@pytest.mark.parametrize("mw", [16, 18])
def test_float_twin_gradient_is_straight_through(weight_bits, act_bits, encoding, mw):
    rng = np.random.default_rng(2)
    # A range wide enough that nothing clips: d(code sum)/d(dot) = 1 / code step (with a
    # partial group of 2 rows of 4 too: its finer step and its weight cancel).
    spec = MacroSpec(wordlines=4, adc_bits=6, adc_range=40.0, weight_bits=weight_bits,
                     act_bits=act_bits, encoding=encoding)
    weights, x = _random(rng, spec, 6, mw, 20)
    w, xv = _values(spec, weights, x)
    w.requires_grad_(True)
    xv.requires_grad_(True)
    macro_mvm_float(spec, w, xv, noise=False).sum().backward()
    step = spec.code_step(mw)
    assert torch.allclose(xv.grad, w.detach().sum(0).expand(20, mw) / step, atol=1e-5)
    assert torch.allclose(w.grad, xv.detach().sum(0).expand(6, mw) / step, atol=1e-5)


def test_float_twin_gradient_stops_where_the_adc_clips():
    spec = MacroSpec(wordlines=8, adc_bits=2, adc_range=1.0)
    w = torch.ones(1, 8, requires_grad=True)
    x = torch.ones(1, 8)                                  # b = 8, far above the range
    macro_mvm_float(spec, w, x, noise=False).sum().backward()
    assert (w.grad == 0).all()


@pytest.mark.parametrize("adc", ["ste", "concrete", "expected"])
@pytest.mark.parametrize("model,encoding", [("cell", "binary"), ("read", "bipolar"),
                                            ("cell", "bipolar")])
@pytest.mark.parametrize("mw", [32, 36])
def test_float_twin_noise_matches_the_golden_noise(model, encoding, adc, mw):
    # The same inputs read again and again: the spread of the code sums is the noise's (36:
    # a partial last group of 4 rows, its codes weighted 1 beside the full groups' 2).
    rng = np.random.default_rng(3)
    spec = MacroSpec(wordlines=8, adc_bits=6, noise=model, sigma=0.8, encoding=encoding)
    weights, x = _random(rng, spec, 8, mw, 1)
    x = np.repeat(x, 2000, axis=0)
    golden = macro_mvm(spec, weights, x, layer_index=0).astype(float)
    w, xv = _values(spec, weights, x)
    twin = macro_mvm_float(spec, w, xv, generator=torch.Generator().manual_seed(0),
                           adc=adc).numpy()
    assert np.allclose(twin.std(0), golden.std(0), rtol=0.12)
    assert np.allclose(twin.mean(0), golden.mean(0), atol=0.15 * golden.std(0).max())
    assert golden.std(0).min() > 1.0                       # there is noise to compare


def test_concrete_adc_samples_the_noisy_adc_and_has_a_gradient():
    """The Concrete quantizer's forward codes are draws of the noisy ADC (their mean per read
    matches the golden model's, at a coarse step where rounding matters) and its relaxed
    gradient reaches the weights even where the STE window is flat (a clipping read)."""
    rng = np.random.default_rng(8)
    spec = MacroSpec(wordlines=8, adc_bits=2, noise="read", sigma=1.2, encoding="binary")
    weights, x = _random(rng, spec, 4, 16, 1)
    x = np.repeat(x, 3000, axis=0)
    golden = macro_mvm(spec, weights, x, layer_index=2).astype(float)
    w, xv = _values(spec, weights, x)
    twin = macro_mvm_float(spec, w, xv, adc="concrete",
                           generator=torch.Generator().manual_seed(1)).numpy()
    assert np.allclose(twin.mean(0), golden.mean(0), atol=0.05 * spec.levels)
    clip = MacroSpec(wordlines=8, adc_bits=2, adc_range=1.0, noise="read", sigma=1.0,
                     encoding="binary")
    # b = 2, past the range [-1, 1]: the straight-through ADC's window is flat there (its
    # noiseless read clips), the Concrete one's gradient (64 seeded draws) is not.
    x1 = torch.tensor([[1.0, 1.0, 0, 0, 0, 0, 0, 0]]).repeat(64, 1)
    grads = {}
    for quantizer in ("ste", "concrete"):
        w1 = torch.ones(1, 8, requires_grad=True)
        macro_mvm_float(clip, w1, x1, adc=quantizer, noise=quantizer == "concrete",
                        generator=torch.Generator().manual_seed(3)).sum().backward()
        grads[quantizer] = w1.grad
    assert (grads["ste"] == 0).all() and (grads["concrete"][0, :2] != 0).all()
    with pytest.raises(ValueError, match="adc must be one of ste, concrete, expected"):
        macro_mvm_float(spec, w, xv, adc="round")


def _expected_gradient(spec: MacroSpec, y: float, std: float) -> float:
    """``d E[code | y] / dy`` by its formula, in float64: the sum over the ADC's thresholds
    ``t_i`` of the normal density at ``(y - t_i) / s`` over ``s``."""
    s = math.sqrt(std ** 2 + (spec.step / 4) ** 2)
    return sum(math.exp(-0.5 * ((y - t / 2.0**NOISE_FRAC_BITS) / s) ** 2) / (s * math.sqrt(2 * math.pi))
               for t in spec.thresholds)


@pytest.mark.parametrize("ones", [2, 5])       # inside the range; past it (clipping)
def test_expected_adc_forwards_the_noisy_code_with_the_expectations_gradient(ones):
    """``adc="expected"``: the forward codes are the straight-through quantizer's, draw for
    draw (the same generator gives the same noise), and the gradient of each read is
    ``d E[code | y] / dy`` of the noise model, also where the straight-through one is flat."""
    spec = MacroSpec(wordlines=8, adc_bits=2, adc_range=3.0, noise="read", sigma=0.7,
                     encoding="binary")
    x = torch.tensor([[1.0] * ones + [0.0] * (8 - ones)]).repeat(50, 1)
    codes, grads = {}, {}
    for quantizer in ("ste", "expected"):
        w = torch.ones(1, 8, requires_grad=True)
        out = macro_mvm_float(spec, w, x, adc=quantizer,
                              generator=torch.Generator().manual_seed(5))
        out.sum().backward()
        codes[quantizer], grads[quantizer] = out.detach(), w.grad
    assert torch.equal(codes["ste"], codes["expected"])
    if ones < spec.adc_range:
        assert len(set(codes["ste"].flatten().tolist())) > 1      # the noise moved codes
    want = 50 * _expected_gradient(spec, float(ones), 0.7)
    assert grads["expected"][0, :ones].tolist() == pytest.approx([want] * ones, rel=1e-4)
    assert (grads["expected"][0, ones:] == 0).all()
    if ones > spec.adc_range:
        assert (grads["ste"] == 0).all() and want > 0


def test_concrete_temperature_anneals_geometrically_epoch_by_epoch(monkeypatch):
    """``train.concrete_temperature_final`` anneals the temperature the model's cim layers
    train at, from ``concrete_temperature`` in the first epoch to the final one in the last."""
    from hwgen.data import load_dataset
    from hwgen.nn import model as model_module
    from hwgen.nn import train_model
    from hwgen.nn.train import concrete_temperature
    from hwgen.spec import parse_spec
    spec = parse_spec({
        "name": "anneal", "data": {"dataset": "digits", "input_threshold": 7},
        "model": {"activation": "binary", "layers": [
            {"type": "linear", "in": 64, "out": 16, "backend": "cim"},
            {"type": "linear", "out": 10}]},
        "cim": {"wordlines": 16, "adc_bits": 4, "noise": "cell", "sigma": 0.5},
        "train": {"epochs": 4, "adc_quantizer": "concrete", "concrete_temperature": 2.0,
                  "concrete_temperature_final": 0.25}})
    expected = [2.0, 1.0, 0.5, 0.25]
    assert [concrete_temperature(spec.train, e, 4) for e in range(4)] == pytest.approx(expected)
    seen = []
    original = model_module.macro_mvm_float

    def recording(*args, temperature, **kwargs):
        if kwargs.get("noise"):
            seen.append(temperature)
        return original(*args, temperature=temperature, **kwargs)

    monkeypatch.setattr(model_module, "macro_mvm_float", recording)
    data = load_dataset(spec.data, 0)
    train_model(spec, data, progress=False)
    steps = len(seen) // 4
    assert sorted(set(seen), reverse=True) == pytest.approx(expected)
    assert seen[0] == 2.0 and seen[-1] == pytest.approx(0.25) and seen[steps] == pytest.approx(1.0)
    constant = spec.train.__class__(concrete_temperature=0.7)
    assert {concrete_temperature(constant, e, 4) for e in range(4)} == {0.7}
