"""The CIM macro's noise generator: a counter-based hash onto a quantized Gaussian.

The arithmetic it serves (where a sample is added, how it is scaled) is written once, in
:mod:`hwgen.cim.macro`; this module holds the generator: how the sample of one read is found
from its key. Hardware and golden model compute the same integers: hardware a few per cycle
from counters, the golden model all of them at once.

Hash
----
Two 32-bit bijections. ``mix32`` is an integer finalizer (C. Wellons' "lowbias32"): two
xor-shift / constant-multiply rounds and a final xor-shift, all modulo 2**32::

    x ^= x >> 16;  x *= 0x7FEB352D;  x ^= x >> 15;  x *= 0x846CA68B;  x ^= x >> 16

It only computes constants (at elaboration time: no multiplier is built for it). ``arx32``,
the hash the hardware computes, is eight add-rotate-xor rounds on the word's 16-bit halves
``x = w >> 16``, ``y = w & 0xFFFF`` (the round of the Speck32 cipher, with fixed round
constants ``K_r = mix32(0x9E3779B9 + r) & 0xFFFF``), all modulo 2**16::

    for r in 0 .. 7:   x = ((x >>> 7) + y) ^ K_r;   y = (y <<< 2) ^ x
    arx32(w) = x << 16 | y

so a hash costs adders and wires, no multiplier (``>>>``/``<<<`` rotate). A key is absorbed word
by word, ``h = f(h ^ word)``, starting from ``h = 0x9E3779B9``::

    h_seed  = mix32(0x9E3779B9 ^ (seed mod 2**32))
    h_layer = mix32(h_seed ^ (layer_index mod 2**32))      # a constant of the layer
    h_v     = arx32(h_layer ^ (v mod 2**32))               # once per input vector
    h       = arx32(h_v ^ read_word(n, s, j, p))            # once per read
    u       = h >> (32 - TABLE_BITS)                        # table index: the top bits of x

with the read word packing the read's coordinates into bit fields::

    read_word = n << 16 | s << 2 | j << 1 | p               # n < 2**16, s < 2**14, j, p in {0, 1}

- ``v``: the input vector's index since reset, counted over frames and, within a frame, over
  the layer's output pixels (``v = frame * pixels + pixel``); it wraps at 2**32.
- ``n``: the neuron (output channel, 0 .. mh - 1); ``s``: the wordline group (rows
  ``s*WL .. s*WL + WL - 1`` of the input vector); ``j``: the weight bit slice (1 for the column
  of significance 2 of a 2-bit weight, else 0); ``p``: the activation bit of a bit-serial read
  (1 for significance 2, else 0).

With eight rounds the table indices of two reads of one vector (nearby or far read words),
and of one read word in consecutive vectors, test independent over 2**18 vectors (joint
histograms and correlations of the samples, ``tests/cim/test_cim_noise.py``); with six, reads
of neurons n and n + 8 are visibly dependent over 2**21.

Since every word is absorbed through a bijection, the reads of one vector get distinct hashes,
and so do the vectors of one layer. ``h_layer`` is computed at elaboration time, ``h_v`` once
per input vector (shared by all PE columns), and one ``arx32`` per read: PE (times weight
slices and activation bits) per cycle.

Order. The samples are a function of their key alone, so no order is needed to reproduce them;
the digital MVTU visits them as: per input vector ``v``, neuron fold ``nf`` outer, synapse fold
``sf`` = wordline group ``s`` inner, the PE columns ``n = nf*PE + i`` (and weight slices ``j``) in
parallel, activation bits ``p`` in the order the hardware reads them.

Quantized Gaussian
------------------
``ZTABLE[u] = round(Phi^-1((u + 1/2) / 2**TABLE_BITS) / rms * 2**Z_FRAC_BITS)`` for
``u < 2**(TABLE_BITS - 1)`` and ``ZTABLE[2**TABLE_BITS - 1 - u] = -ZTABLE[u]`` (exactly
symmetric, mean 0), where ``rms`` (0.99749 for 8 bits) is the root mean square of the
``2**TABLE_BITS`` quantiles, so that the table's variance is 1 (to 1e-5). ``round`` is half away
from zero. With ``TABLE_BITS = 8`` and ``Z_FRAC_BITS = 12`` the entries lie in -11849 .. 11849:
signed 15 bits. An equiprobable table index thus draws a Gaussian truncated at 2.89 sigma.
"""
import math
from functools import lru_cache
from statistics import NormalDist

import numpy as np

__all__ = ["TABLE_BITS", "Z_FRAC_BITS", "SCALE_FRAC_BITS", "NOISE_FRAC_BITS", "HASH_IV",
           "MIX_MULTIPLIERS", "ARX_ROUNDS", "ROUND_KEYS", "ztable", "mix32", "mix32_array",
           "arx32", "arx32_array", "layer_key", "vector_key",
           "read_word", "noise_index", "noise_indices", "noise_scales"]

#: Bits of the table index: the top bits of the hash.
TABLE_BITS = 8
#: Fraction bits ``F`` of a ZTABLE entry (a standard normal sample).
Z_FRAC_BITS = 12
#: Fraction bits ``G`` of a noise scale (sigma * sqrt(a), in cell contributions).
SCALE_FRAC_BITS = 10
#: Fraction bits ``F + G`` of the fixed-point ADC input: one cell contribution is 2**22.
NOISE_FRAC_BITS = Z_FRAC_BITS + SCALE_FRAC_BITS

#: Initial hash state (the golden ratio's 32 fraction bits).
HASH_IV = 0x9E3779B9
#: The two multipliers of :func:`mix32`.
MIX_MULTIPLIERS = (0x7FEB352D, 0x846CA68B)

_MASK = 0xFFFFFFFF
#: Field limits of :func:`read_word`.
MAX_NEURONS = 1 << 16
MAX_GROUPS = 1 << 14


def _round_half_away(value: float) -> int:
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


@lru_cache(maxsize=None)
def ztable() -> tuple[int, ...]:
    """The quantized standard normal: ``2**TABLE_BITS`` signed integers in units of
    ``2**-Z_FRAC_BITS``, index ``u`` the ``(u + 1/2)``-th quantile (see the module docstring)."""
    size = 1 << TABLE_BITS
    quantiles = [NormalDist().inv_cdf((u + 0.5) / size) for u in range(size // 2)]
    rms = math.sqrt(2 * sum(q * q for q in quantiles) / size)
    low = [_round_half_away(q / rms * (1 << Z_FRAC_BITS)) for q in quantiles]
    return tuple(low + [-z for z in reversed(low)])


def mix32(x: int) -> int:
    """The 32-bit finalizer on one word (pure Python integers): the scalar reference."""
    x &= _MASK
    x ^= x >> 16
    x = (x * MIX_MULTIPLIERS[0]) & _MASK
    x ^= x >> 15
    x = (x * MIX_MULTIPLIERS[1]) & _MASK
    x ^= x >> 16
    return x


def mix32_array(x) -> np.ndarray:
    """:func:`mix32` elementwise on an integer array (any shape); returns uint64 values < 2**32."""
    x = np.asarray(x).astype(np.uint64) & np.uint64(_MASK)
    mask = np.uint64(_MASK)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(MIX_MULTIPLIERS[0])) & mask     # < 2**64: no wrap before the mask
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(MIX_MULTIPLIERS[1])) & mask
    x ^= x >> np.uint64(16)
    return x


#: Rounds of :func:`arx32`.
ARX_ROUNDS = 8
#: Its 16-bit round constants ``K_r = mix32(HASH_IV + r) & 0xFFFF``.
ROUND_KEYS = tuple(mix32(HASH_IV + r) & 0xFFFF for r in range(ARX_ROUNDS))
_MASK16 = 0xFFFF


def arx_round(x: int, y: int, key: int) -> tuple[int, int]:
    """One round on the 16-bit halves: ``x = ((x >>> 7) + y) ^ key``, ``y = (y <<< 2) ^ x``."""
    x = ((((x >> 7) | (x << 9)) & _MASK16) + y) & _MASK16 ^ key
    y = (((y << 2) | (y >> 14)) & _MASK16) ^ x
    return x, y


def arx32(w: int) -> int:
    """The read hash on one word (pure Python integers): the scalar reference."""
    x, y = (w >> 16) & _MASK16, w & _MASK16
    for key in ROUND_KEYS:
        x, y = arx_round(x, y, key)
    return x << 16 | y


def arx32_array(w) -> np.ndarray:
    """:func:`arx32` elementwise on an integer array (any shape); returns uint64 values."""
    w = np.asarray(w).astype(np.uint64) & np.uint64(_MASK)
    mask = np.uint64(_MASK16)
    x, y = (w >> np.uint64(16)) & mask, w & mask
    for key in ROUND_KEYS:
        x = ((((x >> np.uint64(7)) | (x << np.uint64(9))) & mask) + y) & mask ^ np.uint64(key)
        y = (((y << np.uint64(2)) | (y >> np.uint64(14))) & mask) ^ x
    return x << np.uint64(16) | y


def layer_key(seed: int, layer_index: int) -> int:
    """``h_layer``: the hash state after the seed and the layer index."""
    return mix32(mix32(HASH_IV ^ (seed & _MASK)) ^ (layer_index & _MASK))


def vector_key(layer_state: int, v) -> np.ndarray | int:
    """``h_v`` of input vector(s) ``v`` (an int gives an int, an array an array)."""
    if isinstance(v, (int, np.integer)):
        return arx32(layer_state ^ (int(v) & _MASK))
    v = np.asarray(v).astype(np.int64) & _MASK
    return arx32_array(np.uint64(layer_state) ^ v.astype(np.uint64))


def read_word(n: int, s: int, j: int = 0, p: int = 0) -> int:
    """The read's coordinates packed as ``n << 16 | s << 2 | j << 1 | p``."""
    if not 0 <= n < MAX_NEURONS:
        raise ValueError(f"neuron index must lie in 0..{MAX_NEURONS - 1}, not {n!r}")
    if not 0 <= s < MAX_GROUPS:
        raise ValueError(f"wordline group must lie in 0..{MAX_GROUPS - 1}, not {s!r}")
    if j not in (0, 1) or p not in (0, 1):
        raise ValueError(f"bit slice indices must be 0 or 1, not j={j!r}, p={p!r}")
    return n << 16 | s << 2 | j << 1 | p


def noise_index(seed: int, layer_index: int, v: int, n: int, s: int, j: int = 0,
                p: int = 0) -> int:
    """Table index ``u`` of one read: the scalar reference (pure Python integers)."""
    h = arx32(vector_key(layer_key(seed, layer_index), v) ^ read_word(n, s, j, p))
    return h >> (32 - TABLE_BITS)


def noise_indices(seed: int, layer_index: int, v, n, s, j=0, p=0) -> np.ndarray:
    """Table indices ``u`` of many reads at once: ``v, n, s, j, p`` are integer arrays (or ints)
    broadcast together; returns int64 indices of the broadcast shape."""
    v, n, s, j, p = (np.asarray(a, dtype=np.int64) for a in (v, n, s, j, p))
    if n.size and (n.min() < 0 or n.max() >= MAX_NEURONS):
        raise ValueError(f"neuron indices must lie in 0..{MAX_NEURONS - 1}")
    if s.size and (s.min() < 0 or s.max() >= MAX_GROUPS):
        raise ValueError(f"wordline groups must lie in 0..{MAX_GROUPS - 1}")
    if (j.size and not np.isin(j, (0, 1)).all()) or (p.size and not np.isin(p, (0, 1)).all()):
        raise ValueError("bit slice indices must be 0 or 1")
    h_v = vector_key(layer_key(seed, layer_index), v)
    word = (n << 16 | s << 2 | j << 1 | p).astype(np.uint64)
    return (arx32_array(h_v ^ word) >> np.uint64(32 - TABLE_BITS)).astype(np.int64)


def noise_scales(noise: str, sigma: float, wordlines: int) -> tuple[int, ...]:
    """``scale[a]`` for ``a = 0 .. wordlines`` active rows, units ``2**-SCALE_FRAC_BITS`` cell
    contributions: ``cell`` round(sigma * sqrt(a) * 2**G), ``read`` round(sigma * 2**G) for every
    ``a``, ``none`` 0; round is half away from zero, in float64."""
    if noise == "none":
        return (0,) * (wordlines + 1)
    if noise == "read":
        return (_round_half_away(sigma * (1 << SCALE_FRAC_BITS)),) * (wordlines + 1)
    if noise == "cell":
        return tuple(_round_half_away(sigma * math.sqrt(a) * (1 << SCALE_FRAC_BITS))
                     for a in range(wordlines + 1))
    raise ValueError(f"noise must be none, read or cell, not {noise!r}")
