"""The IR layer of a depthwise convolution unit (FINN's VVAU: vector-vector-activation)."""
from dataclasses import dataclass

import numpy as np

from ..base import check_positive, pair, signed_bits

__all__ = ["VVAULayer", "VVAU_ENCODINGS"]

#: One-bit element encodings a VVAU reads and writes.
VVAU_ENCODINGS = ("bipolar", "binary")


@dataclass(frozen=True, eq=False)
class VVAULayer:
    """A depthwise convolution: one ``kh x kw`` filter of +-1 weights per channel, each output
    channel the thresholded dot product of its own channel's window::

        dot[p, c] = sum_k v[p, k, c] * w[c, k]                 # k over the kernel positions
        y[p, c]   = (dot[p, c] >= threshold[c]) != invert[c]

    ``v`` are the decoded one-bit inputs (bipolar: +-1; binary: 0 or 1) of a sliding-window
    generator's windows, whose elements run in (row, column, channel) order, ``w`` the weights
    (True means +1) in (row, column) order.

    Parameters
    ----------
    channels : input and output channels ``C``.
    kernel : (rows, columns), or an integer for both: ``K = rows * columns`` positions.
    pixels : windows (output pixels) per frame.
    pe : channels per transfer, in and out; divides ``channels``. The window arrives ``pe``
        channels of one kernel position a transfer (the generator's ``simd`` is ``pe``).
    weights : bool array (channels, K), True = +1.
    thresholds : int array (channels,); invert : bool array (channels,).
    in_encoding, out_encoding : one of :data:`VVAU_ENCODINGS`.
    """
    name: str
    channels: int
    kernel: tuple[int, int]
    pixels: int
    pe: int
    weights: np.ndarray
    thresholds: np.ndarray
    invert: np.ndarray
    in_encoding: str = "binary"
    out_encoding: str = "binary"
    op = "vvau"
    #: A VVAU is digital: no compute-in-memory macro (what the graph's matrix layers answer).
    macro = None

    def __post_init__(self):
        object.__setattr__(self, "kernel", pair(self.kernel, "kernel"))
        check_positive(self, "channels", "pixels", "pe")
        if min(self.kernel) < 1:
            raise ValueError(f"kernel must be positive, not {self.kernel!r}")
        if self.channels % self.pe:
            raise ValueError(f"pe must divide channels={self.channels}, not {self.pe!r}")
        for name in ("in_encoding", "out_encoding"):
            if getattr(self, name) not in VVAU_ENCODINGS:
                raise ValueError(f"{name} must be one of {', '.join(VVAU_ENCODINGS)}, "
                                 f"not {getattr(self, name)!r}")
        weights = np.asarray(self.weights)
        if weights.shape != (self.channels, self.positions):
            raise ValueError(f"weights must have shape ({self.channels}, {self.positions}), "
                             f"not {weights.shape}")
        object.__setattr__(self, "weights", weights.astype(bool))
        thresholds = np.asarray(self.thresholds)
        if thresholds.shape != (self.channels,) or not np.issubdtype(thresholds.dtype, np.integer):
            raise ValueError(f"thresholds must be {self.channels} integers, not "
                             f"{thresholds.dtype} {thresholds.shape}")
        low, high = self.dot_range
        object.__setattr__(self, "thresholds", np.clip(thresholds, low, high + 1).astype(np.int64))
        invert = np.asarray(self.invert)
        if invert.shape != (self.channels,):
            raise ValueError(f"invert must have shape ({self.channels},), not {invert.shape}")
        object.__setattr__(self, "invert", invert.astype(bool))

    @property
    def positions(self) -> int:
        """Kernel positions ``K``."""
        return self.kernel[0] * self.kernel[1]

    @property
    def cf(self) -> int:
        """Channel folds: transfers per kernel position."""
        return self.channels // self.pe

    @property
    def dot_range(self) -> tuple[int, int]:
        """Least and greatest dot product."""
        return -self.positions, self.positions

    @property
    def acc_bits(self) -> int:
        """Two's-complement bits of a dot product and of a threshold (up to ``K + 1``)."""
        return signed_bits(-self.positions, self.positions + 1)

    @property
    def in_elements(self) -> int:
        return self.pixels * self.positions * self.channels

    @property
    def out_elements(self) -> int:
        return self.pixels * self.channels

    def expected_cycles(self) -> int:
        """Cycles per frame at full rate: one input transfer per cycle, ``pixels * K * CF``."""
        return self.pixels * self.positions * self.cf

    def _meta(self) -> dict:
        return {"op": self.op, "name": self.name, "channels": self.channels,
                "kernel": list(self.kernel), "pixels": self.pixels, "pe": self.pe,
                "in_encoding": self.in_encoding, "out_encoding": self.out_encoding}
