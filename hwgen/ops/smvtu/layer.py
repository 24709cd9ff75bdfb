"""The IR layer of a shared convolution: an MVTU whose 2-D filters share their results."""
from dataclasses import dataclass

import numpy as np

from ..mvtu.layer import MVTULayer
from .sharing import Sharing, exact_sharing, split_filters

__all__ = ["SharedMVTULayer", "SHARED_ENCODINGS"]

#: Input encodings a shared convolution reads: one bit per decoded value (a thermometer
#: code's values are bits too).
SHARED_ENCODINGS = ("bipolar", "binary", "thermometer")


@dataclass(frozen=True, eq=False)
class SharedMVTULayer:
    """A convolution's matrix-vector-threshold unit computing each distinct 2-D filter result
    once per window (:mod:`hwgen.ops.smvtu.sharing`), every output channel in parallel and
    one whole window per cycle, its weights constants in the logic.

    Its arithmetic is the :class:`~hwgen.ops.MVTULayer`'s (``dot[n] = sum_k v[k] w[n, k]``,
    thresholds, invert) on the weights the sharing computes (:attr:`weights`); only the
    evaluation differs: per window, channel ``c``'s distinct patterns ``d`` give
    ``r[c, j] = sum_k v[k, c] * d[c, j, k]`` (+-1 weights) and ``dot[n] = sum_c s[n, c] *
    r[c, index[n, c]]``, ``s = -1`` for an inverse filter.

    Parameters
    ----------
    name : str
    positions : kernel positions ``K = KH * KW`` of the window.
    mh : output channels.
    pixels : windows (output pixels) per frame.
    filters, counts, index, inverse : the :class:`~.sharing.Sharing`'s arrays; its channels
        ``C`` are the window's decoded values per position (with thermometer inputs, an
        element's ``2**in_bits - 1`` code values each).
    thresholds, invert, in_encoding, in_bits, out_encoding, act_bits : as an MVTU's, with
        ``in_encoding`` one of :data:`SHARED_ENCODINGS`.
    """
    name: str
    positions: int
    mh: int
    pixels: int
    filters: np.ndarray
    counts: np.ndarray
    index: np.ndarray
    inverse: np.ndarray
    thresholds: np.ndarray | None = None
    invert: np.ndarray | None = None
    in_encoding: str = "bipolar"
    in_bits: int = 1
    out_encoding: str = "bipolar"
    act_bits: int = 1
    op = "smvtu"

    def __post_init__(self):
        if self.in_encoding not in SHARED_ENCODINGS:
            raise ValueError(f"in_encoding must be one of {', '.join(SHARED_ENCODINGS)}, "
                             f"not {self.in_encoding!r}")
        for field_name, kind in (("filters", bool), ("counts", np.int64), ("index", np.int64),
                                 ("inverse", bool)):
            object.__setattr__(self, field_name, np.asarray(getattr(self, field_name)).astype(kind))
        sharing = self.sharing
        sharing.check()
        if sharing.positions != self.positions:
            raise ValueError(f"the filters have {sharing.positions} positions, not "
                             f"positions={self.positions}")
        if sharing.mh != self.mh:
            raise ValueError(f"index has {sharing.mh} rows, not mh={self.mh}")
        # The plain MVTU of the same weights checks the rest (encodings, thresholds, pixels).
        plain = MVTULayer(name=self.name, mw=self.mw, mh=self.mh, pe=self.mh, simd=self.mw,
                          weights=sharing.weights(), thresholds=self.thresholds,
                          invert=self.invert, in_encoding=self.in_encoding, in_bits=self.in_bits,
                          out_encoding=self.out_encoding, pixels=self.pixels,
                          act_bits=self.act_bits)
        if plain.code_bits > 1 and sharing.channels % plain.code_bits:
            raise ValueError(f"{sharing.channels} channels are not whole thermometer codes of "
                             f"{plain.code_bits} values")
        object.__setattr__(self, "thresholds", plain.thresholds)
        object.__setattr__(self, "invert", plain.invert)
        object.__setattr__(self, "_plain", plain)

    @classmethod
    def of(cls, layer: MVTULayer, positions: int, name: str | None = None) -> "SharedMVTULayer":
        """The shared form of a digital MVTU ``layer`` whose rows are windows of ``positions``
        kernel positions: its exact sharing (repeated and inverse filters)."""
        if layer.macro is not None:
            raise ValueError(f"layer {layer.name!r} computes on a cim macro: nothing to share")
        sharing = exact_sharing(split_filters(layer.weights, positions))
        return cls(name=name or layer.name, positions=positions, mh=layer.mh,
                   pixels=layer.pixels, filters=sharing.filters, counts=sharing.counts,
                   index=sharing.index, inverse=sharing.inverse, thresholds=layer.thresholds,
                   invert=layer.invert, in_encoding=layer.in_encoding, in_bits=layer.in_bits,
                   out_encoding=layer.out_encoding, act_bits=layer.act_bits)

    @property
    def sharing(self) -> Sharing:
        return Sharing(filters=self.filters, counts=self.counts, index=self.index,
                       inverse=self.inverse)

    @property
    def plain(self) -> MVTULayer:
        """The same layer as a plain, fully parallel MVTU (``pe = mh``, ``simd = mw``)."""
        return self._plain

    @property
    def channels(self) -> int:
        """Decoded values per kernel position: the 2-D filters' input channels ``C``."""
        return self.filters.shape[0]

    @property
    def mw(self) -> int:
        return self.positions * self.channels

    @property
    def weights(self) -> np.ndarray:
        return self.plain.weights

    def __getattr__(self, name):
        # What the layer shares with the plain MVTU: widths, ranges, encodings, cycles' terms.
        if name in ("output", "levels", "code_bits", "in_elements", "stream_encoding",
                    "dot_range", "dot_bits", "threshold_bits", "out_bits", "in_max", "backend",
                    "weight_bits", "bitsplit", "split_input", "planes",
                    "threshold_count", "invert_count"):
            return getattr(self.__dict__["_plain"], name)
        raise AttributeError(name)

    @property
    def in_width(self) -> int:
        """Bits per input transfer: one whole window."""
        return self.in_elements * self.in_bits

    @property
    def macro(self):
        return None

    def expected_cycles(self) -> int:
        """Cycles per frame at full throughput: one window per cycle."""
        return self.pixels

    def _meta(self) -> dict:
        return {"op": self.op, "name": self.name, "positions": self.positions, "mh": self.mh,
                "pixels": self.pixels, "in_encoding": self.in_encoding, "in_bits": self.in_bits,
                "out_encoding": self.out_encoding, "act_bits": self.act_bits}
