"""The IR layer of an elementwise add of two streams of one image (a residual shortcut)."""
from dataclasses import dataclass

import numpy as np

from ..base import bits_for, check_positive

__all__ = ["AddLayer", "ADD_ENCODINGS", "MAX_ADD_BITS"]

#: Encodings of an add's input elements (unsigned codes whose sum is their values' sum) and of
#: its output elements (``binary`` for a one-step thresholded output only).
ADD_ENCODINGS = ("binary", "uint")

#: Bits of an input element, and of a thresholded output element, an add takes at most.
MAX_ADD_BITS = 8


@dataclass(frozen=True, eq=False)
class AddLayer:
    """Elementwise sum of two images of unsigned activations, integer or thresholded::

        s[p, c] = a[p, c] + b[p, c]
        y[p, c] = s[p, c]                                          # no thresholds
        y[p, c] = #{t : (s[p, c] >= threshold[c, t]) != invert[c]}  # thresholded

    A thresholded output of one step is the bit ``(s >= threshold[c, 0]) != invert[c]``. The
    thresholds fold whatever affine map follows the add (a batch norm, the next quantiser),
    as a matrix layer's do; they are clipped to ``0 .. max_sum + 1``, where every threshold
    outside fires as the nearest end does.

    Parameters
    ----------
    channels, height, width : shape of both input images and the output; pixels in raster
        order, channels innermost.
    pe : elements per transfer on both inputs and the output; divides ``channels``.
    in_bits : bits of each input's unsigned elements, 1..8 (a ``binary`` activation is 1).
    thresholds : int array (channels, steps) with ``steps = 2**out_bits - 1`` (one step for a
        one-bit output), or None for the integer sum.
    invert : bool array (channels,), or None (no channel inverted); only with ``thresholds``.
    out_encoding : ``uint``, or ``binary`` with one threshold step.
    """
    name: str
    channels: int
    height: int
    width: int
    pe: int
    in_bits: tuple[int, int]
    thresholds: np.ndarray | None = None
    invert: np.ndarray | None = None
    out_encoding: str = "uint"
    op = "add"

    def __post_init__(self):
        check_positive(self, "channels", "height", "width", "pe")
        if self.channels % self.pe:
            raise ValueError(f"pe must divide channels={self.channels}, not {self.pe!r}")
        in_bits = tuple(self.in_bits) if isinstance(self.in_bits, (list, tuple)) else None
        if in_bits is None or len(in_bits) != 2 or not all(
                isinstance(b, int) and not isinstance(b, bool) and 1 <= b <= MAX_ADD_BITS
                for b in in_bits):
            raise ValueError(f"in_bits must be two integers in 1..{MAX_ADD_BITS}, "
                             f"not {self.in_bits!r}")
        object.__setattr__(self, "in_bits", in_bits)
        if self.out_encoding not in ADD_ENCODINGS:
            raise ValueError(f"out_encoding must be one of {', '.join(ADD_ENCODINGS)}, "
                             f"not {self.out_encoding!r}")
        if self.thresholds is None:
            if self.invert is not None:
                raise ValueError("invert is given without thresholds")
            if self.out_encoding != "uint":
                raise ValueError(f"out_encoding must be uint for an integer sum, "
                                 f"not {self.out_encoding!r}")
            return
        thresholds = np.asarray(self.thresholds)
        steps = thresholds.shape[1] if thresholds.ndim == 2 else 0
        if thresholds.ndim != 2 or thresholds.shape[0] != self.channels \
                or not np.issubdtype(thresholds.dtype, np.integer) \
                or steps < 1 or steps > (1 << MAX_ADD_BITS) - 1 or steps & (steps + 1):
            raise ValueError(f"thresholds must be integers of shape ({self.channels}, "
                             f"2**out_bits - 1) with out_bits in 1..{MAX_ADD_BITS}, not "
                             f"{thresholds.dtype} {thresholds.shape}")
        if self.out_encoding == "binary" and steps != 1:
            raise ValueError(f"out_encoding binary needs one threshold step, not {steps}")
        object.__setattr__(self, "thresholds",
                           np.clip(thresholds, 0, self.max_sum + 1).astype(np.int64))
        invert = np.zeros(self.channels, bool) if self.invert is None else np.asarray(self.invert)
        if invert.shape != (self.channels,):
            raise ValueError(f"invert must have shape ({self.channels},), not {invert.shape}")
        object.__setattr__(self, "invert", invert.astype(bool))

    @property
    def max_sum(self) -> int:
        """Greatest sum: ``(2**in_bits[0] - 1) + (2**in_bits[1] - 1)``."""
        return sum((1 << bits) - 1 for bits in self.in_bits)

    @property
    def sum_bits(self) -> int:
        """Bits of a sum, ``0 .. max_sum``."""
        return bits_for(self.max_sum)

    @property
    def threshold_bits(self) -> int:
        """Bits of a (clipped) threshold, ``0 .. max_sum + 1``."""
        return bits_for(self.max_sum + 1)

    @property
    def steps(self) -> int:
        """Thresholds per channel (0 for an integer sum)."""
        return 0 if self.thresholds is None else self.thresholds.shape[1]

    @property
    def out_bits(self) -> int:
        """Bits of an output element: the sum's, or the count of thresholds passed."""
        return self.sum_bits if self.thresholds is None else bits_for(self.steps)

    @property
    def cf(self) -> int:
        """Channel folds: transfers a pixel takes."""
        return self.channels // self.pe

    @property
    def elements(self) -> int:
        """Elements of each input image and of the output image."""
        return self.channels * self.height * self.width

    def expected_cycles(self) -> int:
        """Cycles per frame at full rate: one transfer of each input per cycle."""
        return self.height * self.width * self.cf

    def _meta(self) -> dict:
        return {"op": self.op, "name": self.name, "channels": self.channels,
                "height": self.height, "width": self.width, "pe": self.pe,
                "in_bits": list(self.in_bits), "out_encoding": self.out_encoding}
