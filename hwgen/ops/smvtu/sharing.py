"""Convolutional result sharing: which 2-D filters of a binary convolution compute the same
result, and how many XNOR-popcount operations that saves.

A convolution's weights, ``mh`` filters of ``K = KH * KW`` positions by ``C`` input channels
(the MVTU's rows, ``mw = K * C`` elements in (position, channel) order), split into ``mh x C``
two-dimensional filters of ``K`` bits: filter ``(n, c)`` holds the weights of output channel
``n`` on input channel ``c``. Over one input channel, the 2-D filters of all output channels
repeat: two may be equal (**repeated**) or bitwise complements (**inverse**: with +-1 weights
the negated result, in popcount terms ``K - r``). Each distinct 2-D result is computed once per
window and shared by every output channel that uses it, with its sign. This sharing is exact.

A filter's **class** is the filter or its complement, whichever has weight 1 (+1) at position 0
(its *canonical* pattern); the filters of one class share one result. Filters a few bits apart
(**similar**) can share too once tied to one representative: :func:`cover` picks, per input
channel, the fewest representatives that every class lies within Hamming distance ``D`` of, up
to complement, as a set-cover integer program solved by HiGHS (:func:`scipy.optimize.milp`),
each filter tied to its nearest chosen one; :func:`tie` rewrites the weights onto them, and
training fine-tunes around the ties (:mod:`hwgen.nn`).

Operation counts (:func:`op_counts`), per output pixel, the way the result-sharing work counts
them: one **XNOR-popcount operation** is one 2-D filter evaluated on one channel of one window
(``K`` XNORs and their popcount). Unshared, a layer performs ``mh * C`` of them; shared,
``sum_c D_c`` (``D_c`` distinct classes on channel ``c``). Combining the results costs, in both
forms, ``mh * (C - 1)`` additions (each output channel sums its ``C`` 2-D results); sharing adds
one subtraction ``K - r`` per output channel and channel whose filter is the inverse of its
class's computed pattern (counted apart, as ``negations``). ``ops_reduction`` is the fraction of
XNOR-popcount operations removed.
"""
from dataclasses import dataclass

import numpy as np

__all__ = ["Sharing", "split_filters", "join_filters", "exact_sharing", "cover", "Cover",
           "tie", "op_counts"]


def split_filters(weights, positions: int) -> np.ndarray:
    """The 2-D filters (mh, C, K) bool of ``weights`` (mh, K * C) bool, in (position, channel)
    order along the row: filter ``(n, c)`` is ``weights[n, k * C + c]`` for ``k < K``."""
    weights = np.asarray(weights, dtype=bool)
    mh, mw = weights.shape
    if positions < 1 or mw % positions:
        raise ValueError(f"{positions} kernel positions do not divide the row of {mw} weights")
    return weights.reshape(mh, positions, mw // positions).transpose(0, 2, 1)


def join_filters(filters) -> np.ndarray:
    """The weights (mh, K * C) of 2-D filters (mh, C, K): :func:`split_filters` undone."""
    filters = np.asarray(filters, dtype=bool)
    mh, channels, positions = filters.shape
    return filters.transpose(0, 2, 1).reshape(mh, positions * channels)


def _canonical(filters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The canonical patterns of ``filters`` (..., K) (weight 1 at position 0) and whether each
    filter is its pattern's complement."""
    flipped = ~filters[..., 0]
    return filters ^ flipped[..., None], flipped


def _codes(patterns: np.ndarray) -> np.ndarray:
    """Integers of bit patterns (..., K), position 0 the least significant bit."""
    return (patterns.astype(np.int64) << np.arange(patterns.shape[-1])).sum(axis=-1)


def _patterns(codes, positions: int) -> np.ndarray:
    return (np.asarray(codes, dtype=np.int64)[..., None] >> np.arange(positions)) & 1 == 1


@dataclass(frozen=True, eq=False)
class Sharing:
    """The exact sharing of a convolution's 2-D filters.

    Attributes
    ----------
    filters : bool (C, D, K)
        Per input channel, its distinct canonical patterns (``counts[c]`` of them, in order of
        first use by output channel; the rest of the ``D`` rows are padding, all False).
    counts : int (C,)
        Distinct patterns (XNOR-popcount operations per window) of each channel.
    index : int (mh, C)
        The pattern each 2-D filter uses.
    inverse : bool (mh, C)
        Whether the filter is its pattern's complement (its result enters negated).
    """
    filters: np.ndarray
    counts: np.ndarray
    index: np.ndarray
    inverse: np.ndarray

    @property
    def channels(self) -> int:
        return self.filters.shape[0]

    @property
    def positions(self) -> int:
        return self.filters.shape[2]

    @property
    def mh(self) -> int:
        return self.index.shape[0]

    def split(self) -> np.ndarray:
        """The 2-D filters (mh, C, K) the sharing computes."""
        chosen = self.filters[np.arange(self.channels)[None, :], self.index]
        return chosen ^ self.inverse[..., None]

    def weights(self) -> np.ndarray:
        """The weights (mh, K * C) the sharing computes."""
        return join_filters(self.split())

    def check(self) -> None:
        """ValueError unless the arrays are consistent (shapes, indices within each channel's
        count, canonical distinct patterns, padding all False)."""
        filters, counts = np.asarray(self.filters), np.asarray(self.counts)
        index, inverse = np.asarray(self.index), np.asarray(self.inverse)
        if filters.ndim != 3 or filters.dtype != bool:
            raise ValueError(f"filters must be a bool array (C, D, K), not {filters.dtype} "
                             f"{filters.shape}")
        channels, depth, positions = filters.shape
        if counts.shape != (channels,) or counts.min(initial=1) < 1 or counts.max(initial=1) > depth:
            raise ValueError(f"counts must be {channels} integers in 1..{depth}")
        if index.ndim != 2 or index.shape[1] != channels or inverse.shape != index.shape:
            raise ValueError(f"index and inverse must have shape (mh, {channels}), not "
                             f"{index.shape} and {inverse.shape}")
        if index.size and (index.min() < 0 or np.any(index >= counts[None, :])):
            raise ValueError("an index names a pattern beyond its channel's count")
        used = np.arange(depth)[None, :] < counts[:, None]
        if np.any(filters[~used]) or not np.all(filters[used][:, 0]):
            raise ValueError("patterns must be canonical (weight 1 at position 0), padding empty")
        for c in range(channels):
            codes = _codes(filters[c, :counts[c]])
            if len(np.unique(codes)) != len(codes):
                raise ValueError(f"channel {c} lists a pattern twice")


def exact_sharing(filters) -> Sharing:
    """The exact sharing (repeated and inverse filters) of 2-D filters (mh, C, K) bool."""
    filters = np.asarray(filters, dtype=bool)
    mh, channels, positions = filters.shape
    patterns, inverse = _canonical(filters)
    codes = _codes(patterns)                                       # (mh, C)
    index = np.empty((mh, channels), dtype=np.int64)
    distinct = []
    for c in range(channels):
        unique, first, where = np.unique(codes[:, c], return_index=True, return_inverse=True)
        order = np.argsort(first)                                  # in order of first use
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        index[:, c] = rank[where]
        distinct.append(unique[order])
    depth = max(len(d) for d in distinct)
    table = np.zeros((channels, depth, positions), dtype=bool)
    for c, d in enumerate(distinct):
        table[c, :len(d)] = _patterns(d, positions)
    counts = np.array([len(d) for d in distinct], dtype=np.int64)
    return Sharing(filters=table, counts=counts, index=index, inverse=inverse)


@dataclass(frozen=True)
class Cover:
    """Representatives chosen by :func:`cover`.

    ``representative`` (mh, C): the canonical pattern code each 2-D filter's class is tied to;
    ``counts`` (C,): representatives per channel; ``distortion``: weights changed in all;
    ``gap``: the largest relative optimality gap of the representatives' count HiGHS reported
    over the channels (0 when each solve was proven optimal, or nothing needed solving)."""
    representative: np.ndarray
    counts: np.ndarray
    distortion: int
    gap: float


def _distance(a: np.ndarray, b: np.ndarray, positions: int) -> np.ndarray:
    """Hamming distance up to complement between pattern codes ``a`` (..., 1) and ``b``."""
    bits = np.bitwise_xor(a, b)
    ones = np.zeros(bits.shape, dtype=np.int64)
    for k in range(positions):
        ones += (bits >> k) & 1
    return np.minimum(ones, positions - ones)


def _ball(codes: np.ndarray, distance: int, positions: int) -> np.ndarray:
    """The canonical pattern codes within ``distance`` (up to complement) of any of ``codes``."""
    universe = np.arange(1 << (positions - 1), dtype=np.int64) * 2 + 1   # bit 0 set: canonical
    if len(universe) * len(codes) <= 1 << 24:
        near = _distance(codes[:, None], universe[None, :], positions) <= distance
        return universe[near.any(axis=0)]
    found = set(int(c) for c in codes)
    frontier = set(found)
    for _ in range(distance):          # flip one bit at a time, keep canonical forms
        step = set()
        for code in frontier:
            for k in range(positions):
                other = code ^ (1 << k)
                step.add(other if other & 1 else other ^ ((1 << positions) - 1))
        frontier = step - found
        found |= step
    return np.array(sorted(found), dtype=np.int64)


def cover(filters, distance: int, *, time_limit: float = 60.0) -> Cover:
    """Per input channel, the fewest canonical patterns such that every 2-D filter lies within
    ``distance`` bits of one of them or of its complement (a set-cover integer program per
    channel, solved by HiGHS, :func:`scipy.optimize.milp`, within ``time_limit`` seconds each;
    the gap it reports is kept), each filter then tied to its nearest chosen pattern (the least
    distortion for that choice). ``distance=0`` is exact sharing (nothing to solve)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_array

    filters = np.asarray(filters, dtype=bool)
    mh, channels, positions = filters.shape
    if not isinstance(distance, int) or isinstance(distance, bool) or distance < 0:
        raise ValueError(f"distance must be a non-negative integer, not {distance!r}")
    patterns, _ = _canonical(filters)
    codes = _codes(patterns)
    representative = codes.copy()
    counts = np.empty(channels, dtype=np.int64)
    distortion, gap = 0, 0.0
    for c in range(channels):
        classes, members = np.unique(codes[:, c], return_counts=True)
        if distance == 0 or len(classes) == 1:
            counts[c] = len(classes)
            continue
        candidates = _ball(classes, distance, positions)
        near = _distance(classes[:, None], candidates[None, :], positions)   # (F, R)
        f_index, r_index = np.nonzero(near <= distance)
        covers = coo_array((np.ones(len(f_index)), (f_index, r_index)),
                           shape=(len(classes), len(candidates)))
        result = milp(np.ones(len(candidates)), integrality=np.ones(len(candidates)),
                      bounds=Bounds(0, 1), constraints=[LinearConstraint(covers, 1, np.inf)],
                      options={"time_limit": time_limit})
        if result.x is None:
            raise RuntimeError(f"HiGHS found no cover of channel {c}: {result.message}")
        chosen = np.flatnonzero(result.x > 0.5)
        # Each class to its nearest chosen pattern (the first of equals).
        distances = near[:, chosen]
        nearest = chosen[np.argmin(distances, axis=1)]
        lookup = dict(zip(classes.tolist(), candidates[nearest].tolist()))
        representative[:, c] = [lookup[int(code)] for code in codes[:, c]]
        counts[c] = len(set(lookup.values()))
        distortion += int((distances.min(axis=1) * members).sum())
        gap = max(gap, float(getattr(result, "mip_gap", 0.0) or 0.0))
    return Cover(representative=representative, counts=counts, distortion=distortion, gap=gap)


def tie(filters, chosen: Cover) -> np.ndarray:
    """The 2-D filters (mh, C, K) with each one replaced by its representative (or the
    representative's complement, whichever is nearer): the tied filters share exactly."""
    filters = np.asarray(filters, dtype=bool)
    positions = filters.shape[-1]
    pattern = _patterns(chosen.representative, positions)
    distance = (pattern != filters).sum(axis=-1)
    # The nearer orientation; of equal distances, the one the filter has at position 0.
    keep = (2 * distance < positions) | ((2 * distance == positions)
                                         & (pattern[..., 0] == filters[..., 0]))
    return np.where(keep[..., None], pattern, ~pattern)


def op_counts(sharing: Sharing, pixels: int = 1) -> dict[str, int | float]:
    """XNOR-popcount operations (one 2-D filter on one channel of one window) and combining
    additions of a layer per frame (``pixels`` windows), unshared and shared (module
    docstring)."""
    mh, channels, positions = sharing.mh, sharing.channels, sharing.positions
    before = mh * channels * pixels
    after = int(sharing.counts.sum()) * pixels
    return {
        "xnor_popcount_ops": before,
        "xnor_popcount_ops_shared": after,
        "xnor_ops": before * positions,
        "xnor_ops_shared": after * positions,
        "additions": mh * (channels - 1) * pixels,
        "negations": int(sharing.inverse.sum()) * pixels,
        "ops_reduction": 1.0 - after / before,
    }
