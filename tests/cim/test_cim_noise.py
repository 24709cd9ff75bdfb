"""The CIM noise generator: scalar == vectorised hash, the quantized Gaussian's table, and the
statistics of the samples (mean, sigma, shape, independence) against the spec."""
import math

import numpy as np
import pytest
from scipy import stats

from hwgen.cim import noise
from hwgen.cim.noise import (NOISE_FRAC_BITS, ROUND_KEYS, TABLE_BITS, Z_FRAC_BITS, arx32,
                             arx32_array, layer_key, mix32, mix32_array, noise_index,
                             noise_indices, noise_scales, read_word, ztable)


def test_hash_pinned_values():
    # The hashes are part of the hardware contract: these values change only with the contract.
    assert [mix32(x) for x in (0, 1, 2, 0xDEADBEEF, 0xFFFFFFFF)] == [
        0x0, 0x688990C0, 0xD1132181, 0xE628C683, 0x6768824A]
    assert ROUND_KEYS[:2] == (mix32(0x9E3779B9) & 0xFFFF, mix32(0x9E3779BA) & 0xFFFF)
    assert [arx32(x) for x in (0, 0xDEADBEEF)] == [0xCA110155, 0x4DFC3040]
    assert layer_key(0, 0) == 0xAE6F80F1 and layer_key(12345, 3) == 0x65C3106A
    assert noise_index(0, 0, 0, 0, 0) == 139
    assert noise_index(7, 2, 123456, 5, 3, 1, 1) == 105


@pytest.mark.parametrize("bijection", [mix32_array, arx32_array])
def test_hash_is_a_bijection_on_a_window(bijection):
    words = np.arange(1 << 16, dtype=np.int64) * 65537 + 12345
    assert len(np.unique(bijection(words))) == len(words)


def test_scalar_and_vectorised_hash_agree_on_random_keys():
    rng = np.random.default_rng(1)
    count = 2000
    seeds = rng.integers(-2**40, 2**40, count)
    layers = rng.integers(0, 64, count)
    vectors = rng.integers(0, 2**34, count)          # wraps at 2**32 in both
    neurons = rng.integers(0, 1 << 16, count)
    groups = rng.integers(0, 1 << 14, count)
    slices_j = rng.integers(0, 2, count)
    slices_p = rng.integers(0, 2, count)
    for index in range(0, count, 97):
        seed, layer = int(seeds[index]), int(layers[index])
        got = noise_indices(seed, layer, vectors, neurons, groups, slices_j, slices_p)
        expected = [noise_index(seed, layer, int(v), int(n), int(s), int(j), int(p))
                    for v, n, s, j, p in zip(vectors, neurons, groups, slices_j, slices_p)]
        assert got.tolist() == expected
    # the hashes themselves on arbitrary words, including the top of the range.
    words = rng.integers(0, 2**32, 5000, dtype=np.int64)
    words[:2] = (0, 2**32 - 1)
    assert mix32_array(words).tolist() == [mix32(int(w)) for w in words]
    assert arx32_array(words).tolist() == [arx32(int(w)) for w in words]


def test_vector_index_wraps_at_32_bits():
    assert noise_index(3, 1, 5, 2, 1) == noise_index(3, 1, 5 + 2**32, 2, 1)
    assert noise_indices(3, 1, [5 + 2**32], 2, 1).tolist() == [noise_index(3, 1, 5, 2, 1)]


def test_read_word_fields():
    assert read_word(3, 5, 1, 0) == 3 << 16 | 5 << 2 | 2
    for bad in (dict(n=1 << 16, s=0), dict(n=0, s=1 << 14), dict(n=0, s=0, j=2)):
        with pytest.raises(ValueError):
            read_word(**bad)
    with pytest.raises(ValueError, match="neuron"):
        noise_indices(0, 0, [0], [1 << 16], [0])


def test_every_read_of_a_vector_draws_its_own_hash():
    n, s, j, p = np.meshgrid(np.arange(64), np.arange(32), [0, 1], [0, 1], indexing="ij")
    h_v = noise.vector_key(layer_key(9, 1), 77)
    words = n << 16 | s << 2 | j << 1 | p
    hashes = arx32_array(np.uint64(h_v) ^ words.astype(np.uint64))
    assert len(np.unique(hashes)) == words.size


def test_ztable():
    table = np.asarray(ztable())
    assert len(table) == 1 << TABLE_BITS
    assert (np.diff(table) > 0).all()                          # strictly increasing quantiles
    assert (table == -table[::-1]).all() and table.sum() == 0  # symmetric
    assert abs(table.astype(float).var() / 4.0**Z_FRAC_BITS - 1) < 1e-4
    assert table.max() < 2**14                                 # signed 15 bits
    # Close to the normal quantiles it stands for.
    quantiles = stats.norm.ppf((np.arange(len(table)) + 0.5) / len(table))
    assert np.abs(table / 2**Z_FRAC_BITS - quantiles).max() < 0.01


def test_noise_scales():
    assert noise_scales("none", 2.0, 4) == (0,) * 5
    assert noise_scales("read", 0.5, 3) == (512,) * 4
    assert noise_scales("cell", 0.5, 4) == (0, 512, 724, 887, 1024)
    with pytest.raises(ValueError, match="'bad'"):
        noise_scales("bad", 1.0, 4)


def _samples(model: str, sigma: float, active: int, count: int, seed=5) -> np.ndarray:
    """Dequantized noise of ``count`` reads with ``active`` driven rows, in cell contributions,
    over consecutive vectors, neurons and groups."""
    v, n, s = np.unravel_index(np.arange(count), (count // 64, 16, 4))
    u = noise_indices(seed, 2, v, n, s)
    scale = noise_scales(model, sigma, 16)[active]
    return scale * np.asarray(ztable())[u] / 2.0**NOISE_FRAC_BITS


CASES = [("cell", 0.25, 1), ("cell", 1.0, 4), ("cell", 0.6, 16), ("cell", 3.0, 9),
         ("read", 0.25, 0), ("read", 1.0, 16), ("read", 2.5, 3)]


@pytest.mark.parametrize("model,sigma,active", CASES)
def test_noise_statistics(model, sigma, active):
    count = 1 << 15
    x = _samples(model, sigma, active, count)
    expected = sigma * math.sqrt(active) if model == "cell" else sigma
    assert abs(x.mean()) < 4 * expected / math.sqrt(count)
    assert x.std() == pytest.approx(expected, rel=0.02)
    assert stats.kstest(x, "norm", args=(0, expected)).pvalue > 1e-3
    # The checker has power: the same samples are not a normal 10 % wider.
    assert stats.kstest(x, "norm", args=(0, 1.1 * expected)).pvalue < 1e-6


def test_cell_noise_of_no_active_rows_is_zero():
    assert not _samples("cell", 2.0, 0, 4096).any()


def test_table_indices_are_uniform_and_independent():
    count = 1 << 16
    v, n, s = np.unravel_index(np.arange(count), (count // 256, 64, 4))
    u = noise_indices(11, 0, v, n, s)
    histogram = np.bincount(u, minlength=1 << TABLE_BITS)
    assert stats.chisquare(histogram).pvalue > 1e-3
    z = np.asarray(ztable())[u].reshape(count // 256, 64, 4).astype(float)
    for a, b in [(z[:, :-1], z[:, 1:]), (z[:-1], z[1:]), (z[..., :-1], z[..., 1:])]:
        r = np.corrcoef(a.ravel(), b.ravel())[0, 1]      # neighbours in n, v and s
        assert abs(r) < 4 / math.sqrt(a.size)


# Pairs of reads: (v, n, s, j, p) offsets from a base read.
PAIRS = [(0, 1, 0, 0, 0), (0, 0, 1, 0, 0), (0, 0, 0, 1, 0), (0, 0, 0, 0, 1), (0, 8, 0, 0, 0),
         (0, 256, 0, 0, 0), (1, 0, 0, 0, 0), (0, 1, 1, 1, 1)]


@pytest.mark.parametrize("offset", PAIRS)
def test_pairs_of_reads_are_independent(offset):
    """The joint distribution of two reads' table indices (top 4 bits each: 256 cells) is
    uniform over 2**18 vectors, for reads of one vector at nearby (and far) coordinates and
    for one read in consecutive vectors; their samples are uncorrelated. (With six hash
    rounds the pair n, n + 8 is visibly dependent over 2**21 vectors, chi-square three times
    its degrees of freedom: the hash has eight.)"""
    count = 1 << 18
    v = np.arange(count) * 3 + 11
    base = (v, 37, 5, 0, 0)
    other = tuple(a + b for a, b in zip(base, offset))
    u, w = noise_indices(4, 1, *base), noise_indices(4, 1, *other)
    joint = np.bincount((u >> 4) * 16 + (w >> 4), minlength=256)
    assert stats.chisquare(joint).pvalue > 1e-4
    z = np.asarray(ztable(), dtype=float)
    assert abs(np.corrcoef(z[u], z[w])[0, 1]) < 4 / math.sqrt(count)


def test_seeds_and_layers_give_other_samples():
    v, n, s = np.unravel_index(np.arange(4096), (64, 16, 4))
    base = noise_indices(1, 0, v, n, s)
    assert (noise_indices(1, 0, v, n, s) == base).all()
    for other in (noise_indices(2, 0, v, n, s), noise_indices(1, 1, v, n, s),
                  noise_indices(1, 0, v, n, s, 1, 0), noise_indices(1, 0, v, n, s, 0, 1)):
        assert (other == base).mean() < 0.02          # 1/256 by chance
