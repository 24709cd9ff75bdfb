"""The integer IR: the spine every step after training reads.

A :class:`Graph` is a chain of streaming layers with integer tensors. It is stored as one
``.npz`` file: the array ``__ir__`` holds the JSON structure (with ``version``), the other arrays
hold the tensors, weights bit-packed along the input axis. ``hwgen sim`` and ``hwgen build`` read
only this file; they never retrain.

Activations are encoded per element. ``bipolar``: one bit, 1 means +1 and 0 means -1.
``binary``: one bit, 1 means 1 and 0 means 0 (a zero drives no wordline in a CIM macro).
``uint``: an unsigned ``in_bits``-bit integer (a first layer's pixels or features, or the
multi-bit activations 0 .. 2**act_bits - 1 of a hidden layer). An MVTU may also read ``uint``
elements as ``thermometer`` codes: element ``v`` is the ``L = 2**in_bits - 1`` values
``[v > j]``, ``j = 0 .. L - 1``, each with a weight of its own, so that the layer learns a step
function of each element (its ``mw``, ``simd`` and weight columns count those values, ``L``
per element).

Arithmetic of an :class:`MVTULayer` with +-1 weights ``w`` (bit 1 means +1) on the decoded
input values ``v``::

    dot[n] = sum_k v[k] * w[n, k]                    # exact integer
    y[n]   = (dot[n] >= threshold[n]) != invert[n]   # thresholded layers: one bit
    y[n]   = #{t : (dot[n] >= threshold[n, t]) != invert[n]}   # act_bits > 1 (multi-threshold)
    y[n]   = dot[n]                                  # last layer (output "int")

``invert`` marks neurons whose folded batch norm has a negative scale: their output falls as
the dot product rises, so the comparison is negated instead of the weights. A layer with
``act_bits = b > 1`` (IMCQ's multi-bit activations) has ``2**b - 1`` thresholds per neuron
and emits the unsigned count of those it passes, ``uint`` elements of ``b`` bits (FINN's
MultiThreshold). With bipolar
inputs ``dot = 2 * popcount(xnor(x, w)) - mw``, which the hardware uses.

A ``cim`` MVTU (``macro`` set) computes on a compute-in-memory macro instead: its "dot" is
the macro's code sum ``C`` (:func:`hwgen.cim.macro_mvm`: wordline-group reads, seeded noise,
ADC, shift-add), an unsigned integer ``0 .. macro.max_code_sum(mw)``, which the thresholds
compare and a last layer emits. Its weights are raw codes: bits (1 means +1), or with 2-bit
weights the codes 0..3 of ``2c - 3``. Its noise samples are keyed by ``macro_key`` (the layer's
index in the graph) and by the input vector's index since reset.
"""
import dataclasses
import hashlib
import io
import json
import math
import reprlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ..cim.macro import MacroSpec
from ..errors import HwgenError

__all__ = ["IR_VERSION", "RAM_STYLES", "ENCODINGS", "MVTU_ENCODINGS", "OPS", "MVTULayer", "SWGLayer",
           "MaxPoolLayer", "Activation", "Graph", "save_ir", "load_ir", "IRVersionError"]

IR_VERSION = 5

#: Where an MVTU keeps its weights (a thermometer layer its lookup tables), as FINN's
#: ``ram_style``: ``auto`` lets yosys choose, ``block`` asks for block RAM (DP16KD),
#: ``distributed`` for LUTs.
RAM_STYLES = ("auto", "block", "distributed")

#: Activation encodings of a layer's input elements.
ENCODINGS = ("bipolar", "binary", "uint")

#: How an MVTU may read its input elements: as one of :data:`ENCODINGS`, or ``uint`` elements
#: as thermometer codes.
MVTU_ENCODINGS = ENCODINGS + ("thermometer",)


def _bits_for(value: int) -> int:
    return max(1, int(value).bit_length())


def _signed_bits(low: int, high: int) -> int:
    """Width of a two's-complement integer holding ``low .. high``."""
    return max(_bits_for(high), _bits_for(-low - 1) if low < 0 else 0) + 1


@dataclass(frozen=True, eq=False)
class MVTULayer:
    """A matrix-vector-threshold layer: ``mh`` neurons over ``mw`` input elements.

    Parameters
    ----------
    mw, mh : matrix width (inputs) and height (neurons).
    pe, simd : folding. ``pe`` neurons and ``simd`` input elements are processed per cycle
        (with ``thermometer`` inputs ``mw`` and ``simd`` count the decoded values:
        :attr:`code_bits` per element).
    weights : bool array (mh, mw), True = +1.
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
    ram_style : one of :data:`RAM_STYLES`: where the weights (a thermometer layer's tables)
        are kept; a ``cim`` layer's are in its macro (``auto``).
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
        if self.simd < 1 or self.mw % self.simd:
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
        _check_positive(self, "pixels")
        if self.macro is not None:
            self._check_macro()
        weights = np.asarray(self.weights)
        if self.weight_bits == 1:
            weights = weights.astype(bool)
        elif weights.size and (weights.min() < 0 or weights.max() > 3):
            raise ValueError("2-bit weights must be raw codes in 0..3")
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
            if thresholds.shape != shape or invert.shape != (self.mh,):
                raise ValueError(f"thresholds must have shape {shape} and invert ({self.mh},), "
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
    def weight_bits(self) -> int:
        """Bits per weight: 1, or the macro's 2."""
        return 1 if self.macro is None else self.macro.weight_bits

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
        """Synapse fold: input transfers per input vector."""
        return self.mw // self.simd

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
    def dot_range(self) -> tuple[int, int]:
        """Least and greatest dot product (a cim layer's: code sum)."""
        if self.macro is not None:
            return 0, self.macro.max_code_sum(self.mw)
        return -self.mw * self.in_max, self.mw * self.in_max

    @property
    def dot_bits(self) -> int:
        """Width of a signed dot product (and of a logit)."""
        return _signed_bits(*self.dot_range)

    @property
    def threshold_bits(self) -> int:
        """Width of a signed threshold (``dot_range`` low .. high + 1)."""
        low, high = self.dot_range
        return _signed_bits(low, high + 1)

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
                **({} if self.macro is None else {"macro": dataclasses.asdict(self.macro),
                                                   "macro_key": self.macro_key})}


def _check_positive(layer, *names: str):
    for name in names:
        value = getattr(layer, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise ValueError(f"{name} must be an integer or a pair of integers, not {value!r}")
    return pair


@dataclass(frozen=True, eq=False)
class SWGLayer:
    """Sliding-window generator: an image stream in, the windows of a convolution out.

    The input is a ``channels x height x width`` image, pixels in raster order, each pixel
    ``CF = channels / simd`` transfers of ``simd`` elements of ``elem_bits`` bits. The output
    is, for each output pixel in raster order, the window rows ``ky``, columns ``kx`` and
    channel folds ``cf`` in that order: ``KH * KW * CF`` transfers of ``simd`` elements, so that
    element ``(ky * KW + kx) * channels + c`` of an MVTU input vector is channel ``c`` of the
    image pixel ``(oy * SH + ky - PH, ox * SW + kx - PW)``. Pixels outside the image (the
    padding) are all-zero elements: -1 in bipolar encoding, 0 in binary or integer encoding.

    Parameters
    ----------
    channels, height, width : input image shape.
    kernel, stride, padding : (rows, columns) each; an integer means the same for both.
    simd : elements per transfer; divides ``channels``.
    elem_bits : bits per element (1 for binary activations, e.g. 8 for an integer input).
    """
    name: str
    channels: int
    height: int
    width: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    simd: int = 1
    elem_bits: int = 1
    op = "swg"

    def __post_init__(self):
        for field_name in ("kernel", "stride", "padding"):
            object.__setattr__(self, field_name, _pair(getattr(self, field_name), field_name))
        _check_positive(self, "channels", "height", "width", "simd", "elem_bits")
        if min(self.kernel) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"kernel and stride must be positive and padding non-negative, not "
                             f"{self.kernel!r}, {self.stride!r}, {self.padding!r}")
        if self.channels % self.simd:
            raise ValueError(f"simd must divide channels={self.channels}, not {self.simd!r}")
        if self.padding[0] >= self.kernel[0] or self.padding[1] >= self.kernel[1]:
            raise ValueError(f"padding must be smaller than the kernel, not {self.padding!r}")
        if self.out_height < 1 or self.out_width < 1:
            raise ValueError(f"kernel {self.kernel} does not fit a {self.height}x{self.width} "
                             f"image with padding {self.padding}")

    @property
    def out_height(self) -> int:
        return (self.height + 2 * self.padding[0] - self.kernel[0]) // self.stride[0] + 1

    @property
    def out_width(self) -> int:
        return (self.width + 2 * self.padding[1] - self.kernel[1]) // self.stride[1] + 1

    @property
    def cf(self) -> int:
        """Channel fold: transfers per pixel."""
        return self.channels // self.simd

    @property
    def window_elements(self) -> int:
        """Elements of one window: the MVTU's ``mw``."""
        return self.kernel[0] * self.kernel[1] * self.channels

    @property
    def in_elements(self) -> int:
        return self.channels * self.height * self.width

    @property
    def out_elements(self) -> int:
        return self.window_elements * self.out_height * self.out_width

    def expected_cycles(self) -> int:
        """Cycles per frame at full rate: the busier of its two streams."""
        return max(self.in_elements, self.out_elements) // self.simd

    def _meta(self) -> dict:
        return {"op": self.op, "name": self.name, "channels": self.channels,
                "height": self.height, "width": self.width, "kernel": list(self.kernel),
                "stride": list(self.stride), "padding": list(self.padding), "simd": self.simd,
                "elem_bits": self.elem_bits}


@dataclass(frozen=True, eq=False)
class MaxPoolLayer:
    """Streaming max-pool, stride equal to the kernel.

    Over one-bit activations bit 1 is the larger value in both encodings (+1 > -1, 1 > 0), so
    the maximum is the OR of the window's bits; over ``uint`` elements of ``elem_bits`` (2-bit
    activations) it is the unsigned maximum. Rows and columns beyond the last whole window are dropped
    (floor, as ``torch.nn.MaxPool2d``). A kernel of the whole image is global max-pooling.

    Parameters
    ----------
    channels, height, width : input image shape; pixels in raster order, channels innermost.
    kernel : (rows, columns), or an integer for both.
    pe : channels per transfer, in and out; divides ``channels``.
    elem_bits : bits per element.
    """
    name: str
    channels: int
    height: int
    width: int
    kernel: tuple[int, int]
    pe: int = 1
    elem_bits: int = 1
    op = "maxpool"

    def __post_init__(self):
        object.__setattr__(self, "kernel", _pair(self.kernel, "kernel"))
        _check_positive(self, "channels", "height", "width", "pe", "elem_bits")
        if min(self.kernel) < 1 or self.out_height < 1 or self.out_width < 1:
            raise ValueError(f"kernel must be positive and fit a {self.height}x{self.width} "
                             f"image, not {self.kernel!r}")
        if self.channels % self.pe:
            raise ValueError(f"pe must divide channels={self.channels}, not {self.pe!r}")

    @property
    def out_height(self) -> int:
        return self.height // self.kernel[0]

    @property
    def out_width(self) -> int:
        return self.width // self.kernel[1]

    @property
    def cf(self) -> int:
        return self.channels // self.pe

    @property
    def in_elements(self) -> int:
        return self.channels * self.height * self.width

    @property
    def out_elements(self) -> int:
        return self.channels * self.out_height * self.out_width

    def expected_cycles(self) -> int:
        """Cycles per frame at full rate: one input transfer per cycle."""
        return self.in_elements // self.pe

    def _meta(self) -> dict:
        return {"op": self.op, "name": self.name, "channels": self.channels,
                "height": self.height, "width": self.width, "kernel": list(self.kernel),
                "pe": self.pe, "elem_bits": self.elem_bits}


@dataclass(frozen=True)
class Activation:
    """What flows between two layers: per frame, ``height x width`` pixels in raster order of
    ``channels`` elements each (channels innermost), in ``encoding`` with ``bits`` per element.

    ``windowed``: the pixels are a sliding-window generator's windows (one per output pixel of
    a convolution, ``channels`` = window elements), to be consumed by an MVTU.
    """
    channels: int
    height: int
    width: int
    encoding: str
    bits: int
    windowed: bool = False

    @property
    def pixels(self) -> int:
        return self.height * self.width

    @property
    def elements(self) -> int:
        return self.channels * self.height * self.width


def _layer_output(layer, x: Activation) -> Activation:
    """The activation ``layer`` makes of ``x``; ValueError where they do not fit."""
    where = f"layer {layer.name!r}"
    if isinstance(layer, SWGLayer):
        if x.windowed:
            raise ValueError(f"{where}: a sliding window cannot follow another one")
        if (layer.channels, layer.height, layer.width) != (x.channels, x.height, x.width):
            raise ValueError(f"{where} expects a {layer.channels}x{layer.height}x{layer.width} "
                             f"image, but its input is {x.channels}x{x.height}x{x.width}")
        if layer.elem_bits != x.bits:
            raise ValueError(f"{where} has elem_bits={layer.elem_bits}, but its input has "
                             f"{x.bits} bits per element")
        return Activation(layer.window_elements, layer.out_height, layer.out_width,
                          x.encoding, x.bits, windowed=True)
    if isinstance(layer, MaxPoolLayer):
        if x.windowed or x.encoding == "int":
            raise ValueError(f"{where}: max-pool takes an image of activations")
        if layer.elem_bits != x.bits:
            raise ValueError(f"{where} has elem_bits={layer.elem_bits}, but its input has "
                             f"{x.bits} bits per element")
        if (layer.channels, layer.height, layer.width) != (x.channels, x.height, x.width):
            raise ValueError(f"{where} expects a {layer.channels}x{layer.height}x{layer.width} "
                             f"image, but its input is {x.channels}x{x.height}x{x.width}")
        return Activation(layer.channels, layer.out_height, layer.out_width, x.encoding, x.bits)
    if isinstance(layer, MVTULayer):
        if (layer.stream_encoding, layer.in_bits) != (x.encoding, x.bits):
            raise ValueError(f"{where} takes {layer.stream_encoding} inputs of {layer.in_bits} "
                             f"bits, but its input is {x.encoding} of {x.bits} bits")
        elements = layer.in_elements
        if elements == x.channels and layer.pixels == x.pixels:      # per pixel (or window)
            height, width = x.height, x.width
        elif elements == x.elements and layer.pixels == 1 and not x.windowed:   # flatten
            height, width = 1, 1
        else:
            coded = f" ({elements} coded elements)" if layer.code_bits > 1 else ""
            raise ValueError(f"{where} has mw={layer.mw}{coded}, pixels={layer.pixels}, but its "
                             f"input is {x.pixels} pixels of {x.channels} elements")
        encoding = layer.out_encoding if layer.output == "bits" else "int"
        return Activation(layer.mh, height, width, encoding, layer.out_bits)
    raise TypeError(f"{where}: not an IR layer: {layer!r}")


#: IR ops by name: the layer class of each.
OPS = {cls.op: cls for cls in (MVTULayer, SWGLayer, MaxPoolLayer)}


@dataclass(frozen=True, eq=False)
class Graph:
    """A whole network: its input, a chain of layers, and the test frames it was exported with.

    A frame is ``channels x height x width`` input elements (``input_shape``) in stream order:
    pixels in raster order, channels innermost. A dense layer on an image reads it flattened in
    this order (height, width, channels), as FINN does.

    Parameters
    ----------
    input_shape : (channels, height, width); a vector of features is ``(features, 1, 1)``.
    input_encoding, input_bits : encoding of an input element and its bits
        (``bipolar``/``binary`` with 1 bit, or ``uint`` pixels/features of ``input_bits``).
    layers : SWG, MVTU and max-pool layers; the last is an MVTU emitting integers (logits).
    test_frames : (N, elements) integer element values in stream order.
    test_labels : (N,) classes.
    fifo_depths : depth of the FIFO after each layer but the last (``None``: the default rule
        of :class:`hwgen.hw.network.Network`); set by FIFO sizing.
    """
    name: str
    input_shape: tuple[int, int, int]
    classes: int
    layers: tuple
    test_frames: np.ndarray
    test_labels: np.ndarray
    input_encoding: str = "bipolar"
    input_bits: int = 1
    fifo_depths: tuple[int, ...] | None = None
    meta: dict = field(default_factory=dict)
    version: int = IR_VERSION

    def __post_init__(self):
        shape = tuple(self.input_shape)
        if len(shape) != 3 or not all(isinstance(v, int) and v >= 1 for v in shape):
            raise ValueError(f"input_shape must be (channels, height, width), not {self.input_shape!r}")
        object.__setattr__(self, "input_shape", shape)
        if self.input_encoding not in ENCODINGS:
            raise ValueError(f"input_encoding must be one of {', '.join(ENCODINGS)}, "
                             f"not {self.input_encoding!r}")
        if not self.layers:
            raise ValueError("an IR graph needs at least one layer")
        object.__setattr__(self, "layers", tuple(self.layers))
        activations = self.activations()     # checks the chain
        last = self.layers[-1]
        if not isinstance(last, MVTULayer) or last.output != "int":
            raise ValueError("the last layer must be an MVTU emitting integers (no thresholds)")
        if any(isinstance(l, MVTULayer) and l.output != "bits" for l in self.layers[:-1]):
            raise ValueError("only the last layer may emit integers")
        if activations[-1].elements != self.classes or activations[-1].pixels != 1:
            raise ValueError(f"the last layer has {activations[-1].elements} outputs, "
                             f"not classes={self.classes}")
        if self.fifo_depths is not None:
            depths = tuple(int(d) for d in self.fifo_depths)
            if len(depths) != len(self.layers) - 1 or min(depths, default=1) < 1:
                raise ValueError(f"fifo_depths must hold {len(self.layers) - 1} positive depths, "
                                 f"not {self.fifo_depths!r}")
            object.__setattr__(self, "fifo_depths", depths)
        frames = np.asarray(self.test_frames)
        if frames.ndim != 2 or frames.shape[1] != self.input_elements:
            raise ValueError(f"test_frames must have shape (N, {self.input_elements}), "
                             f"not {frames.shape}")
        top = (1 << self.input_bits) - 1
        if frames.size and (frames.min() < 0 or frames.max() > top):
            raise ValueError(f"test frame elements must lie in 0..{top}")
        object.__setattr__(self, "test_frames",
                           frames.astype(np.uint8 if self.input_bits <= 8 else np.uint16))
        object.__setattr__(self, "test_labels", np.asarray(self.test_labels, dtype=np.int64))

    @property
    def input(self) -> Activation:
        return Activation(*self.input_shape, self.input_encoding, self.input_bits)

    @property
    def input_elements(self) -> int:
        return self.input.elements

    def activations(self) -> list[Activation]:
        """The graph's input, then each layer's output."""
        if self.input_encoding != "uint" and self.input_bits != 1:
            raise ValueError(f"input_bits must be 1 for {self.input_encoding} inputs, "
                             f"not {self.input_bits!r}")
        result = [self.input]
        for layer in self.layers:
            result.append(_layer_output(layer, result[-1]))
        return result

    def mvtus(self) -> list[MVTULayer]:
        return [layer for layer in self.layers if isinstance(layer, MVTULayer)]

    def expected_cycles(self) -> int:
        """Cycles per frame once the pipeline is full: the slowest layer's."""
        return max(layer.expected_cycles() for layer in self.layers)

    def with_layers(self, changes: dict) -> "Graph":
        """A copy with fields of named layers replaced: ``{"conv0": {"pe": 4}, ...}``.

        FIFO depths sized for the old folding no longer hold, so they are dropped.
        """
        import dataclasses
        unknown = set(changes) - {layer.name for layer in self.layers}
        if unknown:
            raise KeyError(f"no layers named {', '.join(sorted(unknown))}")
        layers = tuple(dataclasses.replace(layer, **changes.get(layer.name, {}))
                       for layer in self.layers)
        return dataclasses.replace(self, layers=layers, fifo_depths=None)

    def with_fifo_depths(self, depths) -> "Graph":
        import dataclasses
        return dataclasses.replace(self, fifo_depths=tuple(depths))


def _layer_arrays(layer, prefix: str, arrays: dict):
    if isinstance(layer, MVTULayer):
        planes = [layer.weights] if layer.weight_bits == 1 else \
            [(layer.weights >> j) & 1 for j in range(layer.weight_bits)]
        for j, plane in enumerate(planes):
            arrays[f"{prefix}.weights" + (f"{j}" if j else "")] = np.packbits(
                plane.astype(bool), axis=1)
        if layer.thresholds is not None:
            arrays[f"{prefix}.thresholds"] = layer.thresholds
            arrays[f"{prefix}.invert"] = layer.invert


def _layer_from(meta: dict, prefix: str, arrays: dict):
    """The layer of header entry ``meta`` (checked by :func:`_check_header`); its packed
    weights must have the shape ``mh x mw`` asks for before they are unpacked."""
    cls = OPS[meta["op"]]
    fields = {key: value for key, value in meta.items() if key != "op"}
    if cls is MVTULayer:
        if "macro" in fields:
            fields["macro"] = MacroSpec(**fields["macro"])
        bits = 1 if fields.get("macro") is None else fields["macro"].weight_bits
        packed = (meta["mh"], -(-meta["mw"] // 8))
        planes = []
        for j in range(bits):
            name = f"{prefix}.weights" + (f"{j}" if j else "")
            if name not in arrays:
                raise ValueError(f"its weights ({name}) are missing")
            if arrays[name].shape != packed or arrays[name].dtype != np.uint8:
                raise ValueError(f"its packed weights {name} are {arrays[name].dtype} "
                                 f"{arrays[name].shape}, not uint8 {packed}")
            planes.append(np.unpackbits(arrays[name], axis=1, count=meta["mw"]).astype(np.uint8))
        weights = sum(plane << j for j, plane in enumerate(planes))
        fields["weights"] = weights.astype(bool) if bits == 1 else weights
        fields["thresholds"] = arrays.get(f"{prefix}.thresholds")
        fields["invert"] = arrays.get(f"{prefix}.invert")
    return cls(**fields)


#: Bounds on what an IR file may describe, far beyond what any FPGA holds, so that a damaged
#: or crafted header is refused with its figure before anything is allocated:
#: bytes of one array in the file (decompressed), ...
MAX_ARRAY_BYTES = 1 << 28
#: ... bits of one layer's weights (``mh x mw x`` weight bits) or of one macro's cells,
MAX_MEMORY_BITS = 1 << 30
#: ... elements of one input frame, the depth of one FIFO, layers and arrays in one file.
MAX_FRAME_ELEMENTS = 1 << 24
MAX_FIFO_DEPTH = 1 << 20
MAX_LAYERS = 1024
MAX_ARRAYS = 4 * MAX_LAYERS + 4

#: The fields of an IR file's header (``digest`` aside, an array of its own).
HEADER_FIELDS = ("version", "name", "input_shape", "input_encoding", "input_bits", "classes",
                 "layers", "fifo_depths", "meta")

#: Types of the ``meta`` entries hwgen reads back (others are kept as they are).
_META_TYPES = {"key": str, "hardware_key": str, "class_names": list, "fixed_folding": list,
               "fifo_sizing": dict, "quantization": dict, "float_accuracy": (int, float),
               "bnn_accuracy": (int, float), "bnn_train_accuracy": (int, float),
               "golden_accuracy": (int, float)}


def _content_digest(arrays: dict) -> str:
    """sha256 over every array of an IR file (the header ``__ir__`` among them) but the
    digest: names, dtypes, shapes and bytes."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        if name == "__digest__":
            continue
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save_ir(graph: Graph, path) -> None:
    """Write ``graph`` to ``path`` (one ``.npz``; a path or a binary file object), with a
    sha256 of its content (the array ``__digest__``) that :func:`load_ir` checks."""
    frames = graph.test_frames
    arrays = {"test_frames": np.packbits(frames.astype(bool), axis=1) if graph.input_bits == 1
              else frames, "test_labels": graph.test_labels}
    layers = []
    for index, layer in enumerate(graph.layers):
        _layer_arrays(layer, f"l{index}", arrays)
        layers.append(layer._meta())
    header = {"version": graph.version, "name": graph.name, "input_shape": list(graph.input_shape),
              "input_encoding": graph.input_encoding, "input_bits": graph.input_bits,
              "classes": graph.classes, "layers": layers,
              "fifo_depths": None if graph.fifo_depths is None else list(graph.fifo_depths),
              "meta": graph.meta}
    arrays["__ir__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    arrays["__digest__"] = np.frombuffer(_content_digest(arrays).encode(), dtype=np.uint8)
    if hasattr(path, "write"):
        np.savez_compressed(path, **arrays)
    else:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        Path(path).write_bytes(buffer.getvalue())


def _one_line(error: BaseException, limit: int = 300) -> str:
    """``error`` as one line of at most ``limit`` characters (a crafted file's values are quoted
    in some errors)."""
    text = " ".join(str(error)[:4 * limit].split()) or type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _read_arrays(path: Path) -> dict:
    """The arrays of the ``.npz`` file ``path``. Each is read only once its ``.npy`` header
    shows a plain integer array within :data:`MAX_ARRAY_BYTES` (no pickles, no object arrays,
    no allocation a header asks for); the zip's CRC-32 is checked on every one."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > MAX_ARRAYS:
            raise ValueError(f"{len(members):,} members, more than the {MAX_ARRAYS:,} an IR has")
        for info in members:
            if not info.filename.endswith(".npy"):
                raise ValueError(f"member {info.filename!r} is not an array")
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
                else:
                    raise ValueError(f"array format version {version} of {info.filename!r}")
                if dtype.kind not in "biu":
                    raise ValueError(f"{info.filename!r} holds {dtype}, not integers")
                size = math.prod(shape) * dtype.itemsize
                if size > MAX_ARRAY_BYTES:
                    raise ValueError(f"{info.filename!r} would take {size:,} bytes, more than "
                                     f"the {MAX_ARRAY_BYTES:,} an IR array may")
                data = member.read(size)
                if len(data) != size or member.read(1):      # the last read checks the CRC
                    raise ValueError(f"{info.filename!r} holds {len(data):,} bytes, "
                                     f"not the {size:,} of its {dtype} {shape}")
            arrays[info.filename[:-4]] = np.frombuffer(data, dtype=dtype).reshape(
                shape, order="F" if fortran else "C").copy()
    return arrays


def _is_count(value, top: int | None = None) -> bool:
    """A positive integer (not a bool), at most ``top``."""
    return (isinstance(value, int) and not isinstance(value, bool) and value >= 1
            and (top is None or value <= top))


def _check_header(path: Path, header: dict):
    """Refuse a header whose structure, types or sizes no :func:`save_ir` writes, with one
    line naming what is wrong (the layer classes check the values themselves)."""
    def refuse(problem: str):
        raise HwgenError(f"{path}: {problem}")

    unknown = sorted(set(header) - set(HEADER_FIELDS))
    if unknown:
        refuse(f"unknown IR field {reprlib.repr(unknown[0])} (known: {', '.join(HEADER_FIELDS)})")
    missing = [name for name in HEADER_FIELDS if name not in header]
    if missing:
        refuse(f"IR field {missing[0]!r} missing")
    if not isinstance(header["name"], str) or not isinstance(header["input_encoding"], str):
        refuse("name and input_encoding must be strings")
    shape = header["input_shape"]
    if not isinstance(shape, list) or len(shape) != 3 or not all(map(_is_count, shape)):
        refuse(f"input_shape must be 3 positive integers, not {reprlib.repr(shape)}")
    if math.prod(shape) > MAX_FRAME_ELEMENTS:
        refuse(f"input frames of {math.prod(shape):,} elements, more than the "
               f"{MAX_FRAME_ELEMENTS:,} any device could take")
    if not _is_count(header["input_bits"], 16):
        refuse(f"input_bits must be an integer in 1..16, not {reprlib.repr(header['input_bits'])}")
    if not _is_count(header["classes"]):
        refuse(f"classes must be a positive integer, not {reprlib.repr(header['classes'])}")
    depths = header["fifo_depths"]
    if depths is not None and (not isinstance(depths, list) or len(depths) > MAX_LAYERS
                               or not all(_is_count(d, MAX_FIFO_DEPTH) for d in depths)):
        refuse(f"fifo_depths must be a list of integers in 1..{MAX_FIFO_DEPTH:,}, "
               f"not {reprlib.repr(depths)}")
    meta = header["meta"]
    if not isinstance(meta, dict):
        refuse(f"meta must be a mapping, not a {type(meta).__name__}")
    for name, kind in _META_TYPES.items():
        if name in meta and not isinstance(meta[name], kind):
            refuse(f"meta.{name} is a {type(meta[name]).__name__}")
    layers = header["layers"]
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        refuse(f"layers must be a list of 1..{MAX_LAYERS} layers")
    for index, layer in enumerate(layers):
        if not isinstance(layer, dict):
            refuse(f"layer {index} is a {type(layer).__name__}, not a mapping")
        if layer.get("op") not in OPS:
            refuse(f"layer {index} has unknown op {reprlib.repr(layer.get('op'))} "
                   f"(known: {', '.join(OPS)})")
        cls = OPS[layer["op"]]
        known = {f.name for f in dataclasses.fields(cls)} - {"weights", "thresholds", "invert"}
        unknown = sorted(set(layer) - known - {"op"})
        if unknown:
            refuse(f"layer {index} has unknown field {reprlib.repr(unknown[0])}")
        if cls is MVTULayer:
            mw, mh, macro = layer.get("mw"), layer.get("mh"), layer.get("macro")
            if not _is_count(mw) or not _is_count(mh):
                refuse(f"layer {index}: mw and mh must be positive integers, not "
                       f"{reprlib.repr(mw)}, {reprlib.repr(mh)}")
            if macro is not None and not isinstance(macro, dict):
                refuse(f"layer {index}: macro must be a mapping, not a {type(macro).__name__}")
            bits = mw * mh * (1 if macro is None else 2)
            if bits > MAX_MEMORY_BITS:
                refuse(f"layer {index}: {mh:,} x {mw:,} weights, more than the "
                       f"{MAX_MEMORY_BITS:,} bits any device could hold")
            rows, columns = (macro or {}).get("rows", 1), (macro or {}).get("columns", 1)
            if _is_count(rows) and _is_count(columns) and rows * columns > MAX_MEMORY_BITS:
                refuse(f"layer {index}: a macro of {rows:,} x {columns:,} cells, more than "
                       f"the {MAX_MEMORY_BITS:,} any device could hold")


class IRVersionError(HwgenError):
    """An IR file of another version than :data:`IR_VERSION` (made by another hwgen)."""


def load_ir(path, *, digest_required: bool = False) -> Graph:
    """Read an IR file written by :func:`save_ir`.

    Anything else (damaged, cut short, edited so that it no longer matches its digest, or
    describing more than any device holds) raises :class:`HwgenError` with one line naming
    the file. Files without a digest (written before hwgen kept one) are read after the
    same checks, unless ``digest_required``.
    """
    path = Path(path)
    try:
        arrays = _read_arrays(path)
        header = json.loads(arrays["__ir__"].tobytes().decode())
    except Exception as error:     # whatever a damaged or foreign file raises: one line
        raise HwgenError(f"{path}: not an hwgen IR file ({type(error).__name__}: "
                         f"{_one_line(error)})") from None
    if not isinstance(header, dict):
        raise HwgenError(f"{path}: the IR header is a {type(header).__name__}, not a mapping")
    if header.get("version") != IR_VERSION:
        raise IRVersionError(f"{path}: IR version {reprlib.repr(header.get('version'))} is not "
                         f"supported "
                         f"(this hwgen reads version {IR_VERSION}); re-run hwgen export")
    _check_header(path, header)
    layers = []
    for index, meta in enumerate(header["layers"]):
        try:
            layers.append(_layer_from(meta, f"l{index}", arrays))
        except (TypeError, ValueError) as error:
            raise HwgenError(f"{path}: layer {index}: {_one_line(error)}") from None
    shape = tuple(header["input_shape"])
    frames = arrays.get("test_frames")
    labels = arrays.get("test_labels")
    if frames is None or labels is None or frames.ndim != 2 or labels.shape != frames.shape[:1]:
        raise HwgenError(f"{path}: test_frames and test_labels missing or of other lengths")
    if header["input_bits"] == 1:
        if frames.shape[1] != -(-math.prod(shape) // 8) or frames.dtype != np.uint8:
            raise HwgenError(f"{path}: packed test_frames {frames.dtype} {frames.shape} do not "
                             f"fit input_shape {list(shape)}")
        frames = np.unpackbits(frames, axis=1, count=math.prod(shape))
    try:
        graph = Graph(name=header["name"], input_shape=shape, classes=header["classes"],
                      layers=tuple(layers), test_frames=frames, test_labels=labels,
                      input_encoding=header["input_encoding"], input_bits=header["input_bits"],
                      fifo_depths=header["fifo_depths"], meta=header["meta"],
                      version=header["version"])
    except (TypeError, ValueError) as error:
        raise HwgenError(f"{path}: {_one_line(error)}") from None
    if "__digest__" in arrays:
        if arrays["__digest__"].tobytes() != _content_digest(arrays).encode():
            raise HwgenError(f"{path}: its content does not match its digest (damaged or edited)")
    elif digest_required:
        raise HwgenError(f"{path}: no digest (not written by this hwgen)")
    return graph
