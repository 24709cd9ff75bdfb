"""The IR layer of a matrix-vector-threshold unit.

Arithmetic of an :class:`MVTULayer` with +-1 weights ``w`` (bit 1 means +1) on the decoded
input values ``v``, or with ``weight_bits = b > 1`` the odd levels ``w = 2c - (2**b - 1)`` of
the weight codes ``c`` (``{-3, -1, 1, 3}`` at 2 bits, ``-15 .. 15`` at 4)::

    dot[n] = sum_k v[k] * w[n, k]                    # exact integer
    y[n]   = (dot[n] >= threshold[n]) != invert[n]   # thresholded layers: one bit
    y[n]   = #{t : (dot[n] >= threshold[n, t]) != invert[n]}   # act_bits > 1 (multi-threshold)
    y[n]   = dot[n]                                  # last layer (output "int")

``invert`` marks neurons whose folded batch norm has a negative scale: their output falls as
the dot product rises, so the comparison is negated instead of the weights. A layer with
``act_bits = b > 1`` (IMCQ's multi-bit activations) has ``2**b - 1`` thresholds per neuron
and emits the unsigned count of those it passes, ``uint`` elements of ``b`` bits (FINN's
MultiThreshold). With bipolar inputs ``dot = 2 * popcount(xnor(x, w)) - mw``, which the
hardware uses. A ``b``-bit weight is the sum of ``b`` +-1 weights, ``2c - (2**b - 1) =
sum_j 2**j (2 c_j - 1)`` over its code's bits ``c_j``, so the hardware computes one +-1 dot
product per weight bit plane and adds them shifted by ``j``.

**BitSplit** (``bitsplit``, with ``act_bits = 2``): each output bit is a binary neuron of its
own, bit ``p`` with threshold ``threshold[n, p]`` and flag ``invert[n, p]`` (both (mh, 2)),
and the output element is ``b_0 + 2 * b_1``. With ``split_input`` too, the 2-bit input
elements' bit planes are separate binary paths: plane ``p`` has its own dot product
``dot[n, p] = sum_k x_p[k] * w[n, k]`` (``x_p[k]`` bit ``p`` of element ``k``, the same
weights), and bit ``p`` compares it::

    b_p[n] = (dot[n, p] >= threshold[n, p]) != invert[n, p]    # split_input
    b_p[n] = (dot[n] >= threshold[n, p]) != invert[n, p]       # bitsplit only (a first layer)

A cim layer's plane dot product is the code sum of that plane's bit-serial reads
(``sum_s sum_j 2**j code(v, n, s, j, p)``), its reads (and noise) those of the 2-bit layer.
A layer that merges the planes (the last) is an ordinary 2-bit-input layer:
``sum_p 2**p dot[n, p]`` is its dot product.

An MVTU may also read ``uint`` elements as ``thermometer`` codes: element ``v`` is the
``L = 2**in_bits - 1`` values ``[v > j]``, ``j = 0 .. L - 1``, each with a weight of its own,
so that the layer learns a step function of each element (its ``mw``, ``simd`` and weight
columns count those values, ``L`` per element).

A ``cim`` MVTU (``macro`` set) computes on a compute-in-memory macro instead: its "dot" is
the macro's code sum ``C`` (:func:`hwgen.cim.macro_mvm`: wordline-group reads, seeded noise,
ADC, shift-add), an unsigned integer ``0 .. macro.max_code_sum(mw)``, which the thresholds
compare and a last layer emits. Its weights are raw codes: bits (1 means +1), or with 2-bit
weights the codes 0..3 of ``2c - 3``. Its noise samples are keyed by ``macro_key`` (the layer's
index in the graph) and by the input vector's index since reset.
"""
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ...cim.macro import MacroSpec
from ...target import RAM_STYLES
from ..base import ENCODINGS, check_positive, signed_bits

__all__ = ["MVTULayer", "MVTU_ENCODINGS", "RAM_STYLES"]

#: How an MVTU may read its input elements: as one of the :data:`~hwgen.ops.ENCODINGS`, or
#: ``uint`` elements as thermometer codes.
MVTU_ENCODINGS = ENCODINGS + ("thermometer",)


@dataclass(frozen=True, eq=False)
class MVTULayer:
    """A matrix-vector-threshold layer: ``mh`` neurons over ``mw`` input elements.

    Parameters
    ----------
    mw, mh : matrix width (inputs) and height (neurons).
    pe, simd : folding. ``pe`` neurons and ``simd`` input elements are processed per cycle
        (with ``thermometer`` inputs ``mw`` and ``simd`` count the decoded values:
        :attr:`code_bits` per element). ``simd`` divides ``mw``, but a cim layer's (its
        wordlines) need not: its vectors are padded to :attr:`padded_mw` on the stream.
    weights : bool array (mh, mw), True = +1; with ``weight_bits > 1`` (or a cim layer's 2-bit
        weights) the codes ``0 .. 2**weight_bits - 1``.
    thresholds : int array (mh,) on the dot product (or (mh, 2**act_bits - 1) with
        ``act_bits > 1``), or None for an integer (logit) output.
    invert : bool array (mh,), or None with ``thresholds`` None.
    in_encoding : one of :data:`MVTU_ENCODINGS`.
    in_bits : bits per input element: 1 for ``bipolar`` and ``binary``, 2..8 for
        ``thermometer``.
    out_encoding : what an output element means to the next layer: ``bipolar`` or ``binary``
        (one bit), ``uint`` with ``act_bits > 1``.
    act_bits : bits per output activation of a thresholded layer (1, or 2 for IMCQ).
    pixels : input vectors per frame (a convolution's output pixels; 1 for a dense layer).
    macro : the :class:`~hwgen.cim.MacroSpec` of a ``cim`` layer (its ``act_bits`` and
        ``encoding`` those of the inputs: ``uint`` reads as ``binary``), or None (digital).
    macro_key : the layer index keying a ``cim`` layer's noise samples.
    ram_style : one of :data:`hwgen.target.RAM_STYLES`: where the weights (a thermometer layer's tables)
        are kept; a ``cim`` layer's are in its macro (``auto``).
    bitsplit : each of the ``act_bits = 2`` output bits has its own threshold (BitSplit).
    split_input : with ``bitsplit``: each bit plane of the 2-bit ``uint`` inputs has its own
        dot product (a binary path of its own).
    weight_bits : bits per weight code of a digital layer, 1..4 (its levels ``2c - (2**b -
        1)``); a cim layer's are its macro's (set from it).
    """
    name: str
    mw: int
    mh: int
    pe: int
    simd: int
    weights: np.ndarray
    thresholds: np.ndarray | None = None
    invert: np.ndarray | None = None
    in_encoding: str = "bipolar"
    in_bits: int = 1
    out_encoding: str = "bipolar"
    pixels: int = 1
    macro: MacroSpec | None = None
    macro_key: int = 0
    act_bits: int = 1
    ram_style: str = "auto"
    bitsplit: bool = False
    split_input: bool = False
    weight_bits: int = 1
    op = "mvtu"

    def __post_init__(self):
        if self.ram_style not in RAM_STYLES:
            raise ValueError(f"ram_style must be one of {', '.join(RAM_STYLES)}, "
                             f"not {self.ram_style!r}")
        if self.macro is not None and self.ram_style != "auto":
            raise ValueError(f"a cim layer's weights are in its macro: ram_style must be auto, "
                             f"not {self.ram_style!r}")
        if self.mw < 1 or self.mh < 1:
            raise ValueError(f"mw and mh must be positive, not {self.mw!r}, {self.mh!r}")
        if self.pe < 1 or self.mh % self.pe:
            raise ValueError(f"pe must divide mh={self.mh}, not {self.pe!r}")
        if self.simd < 1 or (self.mw % self.simd and not isinstance(self.macro, MacroSpec)):
            raise ValueError(f"simd must divide mw={self.mw}, not {self.simd!r}")
        if self.in_encoding not in MVTU_ENCODINGS:
            raise ValueError(f"in_encoding must be one of {', '.join(MVTU_ENCODINGS)}, "
                             f"not {self.in_encoding!r}")
        if not isinstance(self.act_bits, int) or not 1 <= self.act_bits <= 8:
            raise ValueError(f"act_bits must be an integer in 1..8, not {self.act_bits!r}")
        if self.act_bits == 1 and self.out_encoding not in ENCODINGS[:2]:
            raise ValueError(f"out_encoding must be bipolar or binary, not {self.out_encoding!r}")
        if self.act_bits > 1 and self.out_encoding != "uint":
            raise ValueError(f"out_encoding must be uint for act_bits={self.act_bits}, "
                             f"not {self.out_encoding!r}")
        for flag in ("bitsplit", "split_input"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be true or false, not {getattr(self, flag)!r}")
        if self.bitsplit and (self.act_bits != 2 or self.thresholds is None):
            raise ValueError("bitsplit needs act_bits=2 and thresholds")
        if self.split_input and not self.bitsplit:
            raise ValueError("split_input needs bitsplit (a layer that merges the planes reads "
                             "them as 2-bit inputs)")
        if self.split_input and (self.in_encoding, self.in_bits) != ("uint", 2):
            raise ValueError(f"split_input needs 2-bit uint inputs, not {self.in_bits}-bit "
                             f"{self.in_encoding}")
        if self.in_encoding in ENCODINGS[:2] and self.in_bits != 1:
            raise ValueError(f"in_bits must be 1 for {self.in_encoding} inputs, not {self.in_bits!r}")
        if not isinstance(self.in_bits, int) or not 1 <= self.in_bits <= 16:
            raise ValueError(f"in_bits must be an integer in 1..16, not {self.in_bits!r}")
        if self.in_encoding == "thermometer":
            if not 2 <= self.in_bits <= 8:
                raise ValueError(f"in_bits must lie in 2..8 for thermometer inputs, not {self.in_bits!r}")
            if self.simd % self.code_bits:
                raise ValueError(f"simd must be a multiple of the thermometer code's "
                                 f"{self.code_bits} values, not {self.simd!r}")
        check_positive(self, "pixels")
        if self.macro is not None:
            self._check_macro()
            object.__setattr__(self, "weight_bits", self.macro.weight_bits)
        if not isinstance(self.weight_bits, int) or not 1 <= self.weight_bits <= 4:
            raise ValueError(f"weight_bits must be an integer in 1..4, not {self.weight_bits!r}")
        if self.weight_bits > 1 and self.bitsplit and self.macro is None:
            raise ValueError("a digital bitsplit layer has 1-bit weights")
        weights = np.asarray(self.weights)
        top = (1 << self.weight_bits) - 1
        if self.weight_bits == 1:
            weights = weights.astype(bool)
        elif weights.size and (weights.min() < 0 or weights.max() > top):
            raise ValueError(f"{self.weight_bits}-bit weights must be raw codes in 0..{top}")
        else:
            weights = weights.astype(np.uint8)
        if weights.shape != (self.mh, self.mw):
            raise ValueError(f"weights must have shape ({self.mh}, {self.mw}), not {weights.shape}")
        object.__setattr__(self, "weights", weights)
        if (self.thresholds is None) != (self.invert is None):
            raise ValueError("thresholds and invert are given together or not at all")
        if self.thresholds is not None:
            thresholds = np.asarray(self.thresholds).astype(np.int64)
            invert = np.asarray(self.invert).astype(bool)
            shape = (self.mh,) if self.act_bits == 1 else (self.mh, self.levels - 1)
            flags = (self.mh,)
            if self.bitsplit:
                shape = flags = (self.mh, self.act_bits)
            if thresholds.shape != shape or invert.shape != flags:
                raise ValueError(f"thresholds must have shape {shape} and invert {flags}, "
                                 f"not {thresholds.shape} and {invert.shape}")
            low, high = self.dot_range
            if thresholds.min() < low or thresholds.max() > high + 1:
                raise ValueError(f"thresholds must lie in {low}..{high + 1}")
            object.__setattr__(self, "thresholds", thresholds)
            object.__setattr__(self, "invert", invert)

    def _check_macro(self):
        macro = self.macro
        if not isinstance(macro, MacroSpec):
            raise ValueError(f"macro must be a MacroSpec, not {macro!r}")
        if self.in_encoding == "thermometer":
            raise ValueError("a cim layer cannot read thermometer codes")
        encoding = "binary" if self.in_encoding == "uint" else self.in_encoding
        if macro.encoding != encoding or macro.act_bits != self.in_bits:
            raise ValueError(f"the macro reads {macro.act_bits}-bit {macro.encoding} inputs, "
                             f"the layer's are {self.in_bits}-bit {self.in_encoding}")
        if self.simd != macro.wordlines:
            raise ValueError(f"a cim layer reads one wordline group per cycle: simd must be "
                             f"wordlines={macro.wordlines}, not {self.simd!r}")
        if self.pe * macro.weight_bits > macro.columns:
            raise ValueError(f"pe={self.pe} neurons of {macro.weight_bits}-bit weights need more "
                             f"than the macro's {macro.columns} columns")
        if not isinstance(self.macro_key, int) or self.macro_key < 0:
            raise ValueError(f"macro_key must be a non-negative integer, not {self.macro_key!r}")

    @property
    def backend(self) -> Literal["digital", "cim"]:
        """``cim`` when a macro computes the layer, else ``digital``."""
        return "digital" if self.macro is None else "cim"

    @property
    def weight_max(self) -> int:
        """The largest weight level's magnitude, ``2**weight_bits - 1`` (1: +-1 weights)."""
        return (1 << self.weight_bits) - 1

    @property
    def output(self) -> Literal["bits", "int"]:
        """``bits`` (thresholded: ``act_bits`` per neuron) or ``int`` (the dot products)."""
        return "int" if self.thresholds is None else "bits"

    @property
    def levels(self) -> int:
        """Output levels of a thresholded neuron: ``2**act_bits``."""
        return 1 << self.act_bits

    @property
    def nf(self) -> int:
        """Neuron fold: output transfers per input vector."""
        return self.mh // self.pe

    @property
    def sf(self) -> int:
        """Synapse fold: input transfers per input vector, ``ceil(mw / simd)`` (a cim layer's
        last wordline group may be partial)."""
        return -(-self.mw // self.simd)

    @property
    def padded_mw(self) -> int:
        """Elements per input vector on the stream: ``sf * simd``, ``mw`` but where a cim
        layer's last wordline group is partial (its vector padded with zeros, which drive no
        rows)."""
        return self.sf * self.simd

    @property
    def in_max(self) -> int:
        """Largest decoded input value."""
        return (1 << self.in_bits) - 1 if self.in_encoding == "uint" else 1

    @property
    def code_bits(self) -> int:
        """Decoded values (and weights) per input element: ``2**in_bits - 1`` for a
        thermometer code, else 1."""
        return (1 << self.in_bits) - 1 if self.in_encoding == "thermometer" else 1

    @property
    def in_elements(self) -> int:
        """Input elements per vector: ``mw`` over :attr:`code_bits`."""
        return self.mw // self.code_bits

    @property
    def simd_elements(self) -> int:
        """Input elements per transfer: ``simd`` over :attr:`code_bits`."""
        return self.simd // self.code_bits

    @property
    def stream_encoding(self) -> str:
        """The encoding of the input stream's elements: ``uint`` for thermometer codes."""
        return "uint" if self.in_encoding == "thermometer" else self.in_encoding

    @property
    def planes(self) -> int:
        """Dot products (sums, accumulators) per neuron: 2 with ``split_input``, else 1."""
        return 2 if self.split_input else 1

    @property
    def threshold_count(self) -> int:
        """Thresholds per neuron: one per output bit with ``bitsplit``, else ``levels - 1``."""
        return self.act_bits if self.bitsplit else self.levels - 1

    @property
    def invert_count(self) -> int:
        """Invert flags per neuron: one per output bit with ``bitsplit``, else 1."""
        return self.act_bits if self.bitsplit else 1

    @property
    def plane_macro(self) -> MacroSpec | None:
        """The macro as one bit plane's reads see it (``act_bits`` 1): what a
        ``split_input`` cim layer's plane code sums range over."""
        return None if self.macro is None else self.macro.replace(act_bits=1)

    @property
    def dot_range(self) -> tuple[int, int]:
        """Least and greatest dot product (a cim layer's: code sum; with ``split_input``,
        one plane's)."""
        if self.macro is not None:
            macro = self.plane_macro if self.split_input else self.macro
            return 0, macro.max_code_sum(self.mw)
        top = (1 if self.split_input else self.in_max) * self.weight_max
        return -self.mw * top, self.mw * top

    @property
    def dot_bits(self) -> int:
        """Width of a signed dot product (and of a logit)."""
        return signed_bits(*self.dot_range)

    @property
    def threshold_bits(self) -> int:
        """Width of a signed threshold (``dot_range`` low .. high + 1)."""
        low, high = self.dot_range
        return signed_bits(low, high + 1)

    @property
    def in_width(self) -> int:
        """Bits per input transfer: ``simd`` elements (thermometer codes: ``simd`` values)."""
        return self.simd_elements * self.in_bits

    @property
    def out_bits(self) -> int:
        """Bits per neuron on the output stream: ``act_bits``, or a signed dot product."""
        return self.act_bits if self.output == "bits" else self.dot_bits

    def expected_cycles(self) -> int:
        """Cycles per frame at full throughput (FINN): NF * SF * pixels."""
        return self.nf * self.sf * self.pixels

    def _meta(self) -> dict:
        return {"op": self.op, "name": self.name, "mw": self.mw, "mh": self.mh,
                "pe": self.pe, "simd": self.simd, "in_encoding": self.in_encoding,
                "in_bits": self.in_bits, "out_encoding": self.out_encoding,
                "pixels": self.pixels, "act_bits": self.act_bits, "ram_style": self.ram_style,
                **({"bitsplit": True} if self.bitsplit else {}),
                **({"split_input": True} if self.split_input else {}),
                **({"weight_bits": self.weight_bits}
                   if self.weight_bits > 1 and self.macro is None else {}),
                **({} if self.macro is None else {"macro": self.macro.without_costs(),
                                                   "macro_key": self.macro_key})}
