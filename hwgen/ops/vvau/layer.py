"""The IR layer of a depthwise convolution unit (FINN's VVAU: vector-vector-activation)."""
from dataclasses import dataclass

import numpy as np

from ..base import ENCODINGS, check_positive, pair, signed_bits

__all__ = ["VVAULayer", "VVAU_ENCODINGS"]

#: Element encodings a VVAU reads and writes: one-bit ``bipolar`` or ``binary``, or ``uint``
#: of ``in_bits`` (``act_bits``) 2 and more.
VVAU_ENCODINGS = ENCODINGS


@dataclass(frozen=True, eq=False)
class VVAULayer:
    """A depthwise convolution: one ``kh x kw`` filter per channel, each output channel the
    thresholded dot product of its own channel's window::

        dot[p, c] = sum_k v[p, k, c] * w[c, k]                 # k over the kernel positions
        y[p, c]   = (dot[p, c] >= threshold[c]) != invert[c]                 # act_bits 1
        y[p, c]   = #{t : (dot[p, c] >= threshold[c, t]) != invert[c]}      # act_bits > 1

    ``v`` are the decoded inputs (bipolar: +-1; binary: 0 or 1; uint: 0 .. 2**in_bits - 1) of
    a sliding-window generator's windows, whose elements run in (row, column, channel) order,
    ``w`` the weights in (row, column) order: +-1 (True means +1), or with ``weight_bits = b >
    1`` the odd levels ``2c - (2**b - 1)`` of the codes ``c``, as an MVTU's
    (:class:`hwgen.ops.MVTULayer`). A multi-bit output is the count of thresholds passed (FINN's
    MultiThreshold), ``uint`` elements of ``act_bits``.

    Parameters
    ----------
    channels : input and output channels ``C``.
    kernel : (rows, columns), or an integer for both: ``K = rows * columns`` positions.
    pixels : windows (output pixels) per frame.
    pe : channels per transfer, in and out; divides ``channels``. The window arrives ``pe``
        channels of one kernel position a transfer (the generator's ``simd`` is ``pe``).
    weights : bool array (channels, K), True = +1; with ``weight_bits > 1`` the codes
        ``0 .. 2**weight_bits - 1``.
    thresholds : int array (channels,), or (channels, 2**act_bits - 1) with ``act_bits > 1``;
    invert : bool array (channels,).
    in_encoding, out_encoding : one of :data:`VVAU_ENCODINGS`; one-bit encodings with
        ``in_bits`` (``act_bits``) 1, ``uint`` otherwise.
    in_bits : bits per input element, 1..8. weight_bits : 1..4. act_bits : 1..8.
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
    in_bits: int = 1
    weight_bits: int = 1
    act_bits: int = 1
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
        for name, top in (("in_bits", 8), ("weight_bits", 4), ("act_bits", 8)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
                raise ValueError(f"{name} must be an integer in 1..{top}, not {value!r}")
        for name, bits in (("in_encoding", self.in_bits), ("out_encoding", self.act_bits)):
            encoding = getattr(self, name)
            allowed = ENCODINGS[:2] if bits == 1 else ("uint",)
            if encoding not in allowed:
                width = name.replace("encoding", "bits").replace("out_", "act_")
                raise ValueError(f"{name} must be one of {', '.join(allowed)} with "
                                 f"{width}={bits}, not {encoding!r}")
        weights = np.asarray(self.weights)
        if weights.shape != (self.channels, self.positions):
            raise ValueError(f"weights must have shape ({self.channels}, {self.positions}), "
                             f"not {weights.shape}")
        if self.weight_bits > 1 and weights.size and (weights.min() < 0
                                                      or weights.max() > self.weight_max):
            raise ValueError(f"{self.weight_bits}-bit weights must be raw codes in "
                             f"0..{self.weight_max}")
        object.__setattr__(self, "weights", weights.astype(bool) if self.weight_bits == 1
                           else weights.astype(np.uint8))
        thresholds = np.asarray(self.thresholds)
        shape = (self.channels,) if self.act_bits == 1 else (self.channels, self.levels - 1)
        if thresholds.shape != shape or not np.issubdtype(thresholds.dtype, np.integer):
            raise ValueError(f"thresholds must be {' x '.join(map(str, shape))} integers, "
                             f"not {thresholds.dtype} {thresholds.shape}")
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
    def levels(self) -> int:
        """Output levels: ``2**act_bits``."""
        return 1 << self.act_bits

    @property
    def weight_max(self) -> int:
        """The largest weight level's magnitude, ``2**weight_bits - 1`` (1: +-1 weights)."""
        return (1 << self.weight_bits) - 1

    @property
    def in_max(self) -> int:
        """The largest decoded input value's magnitude."""
        return (1 << self.in_bits) - 1

    @property
    def multi_bit(self) -> bool:
        """Whether any of inputs, weights and outputs has more than one bit."""
        return max(self.in_bits, self.weight_bits, self.act_bits) > 1

    @property
    def dot_range(self) -> tuple[int, int]:
        """Least and greatest dot product."""
        top = self.positions * self.in_max * self.weight_max
        return -top, top

    @property
    def acc_bits(self) -> int:
        """Two's-complement bits of a dot product and of a threshold (``dot_range`` low ..
        high + 1)."""
        low, high = self.dot_range
        return signed_bits(low, high + 1)

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
                "in_encoding": self.in_encoding, "out_encoding": self.out_encoding,
                **{name: getattr(self, name) for name in ("in_bits", "weight_bits", "act_bits")
                   if getattr(self, name) > 1}}
