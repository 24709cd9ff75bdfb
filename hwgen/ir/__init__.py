"""The integer IR: the spine every step after training reads.

A :class:`Graph` is a chain of streaming layers with integer tensors. It is stored as one
``.npz`` file: the array ``__ir__`` holds the JSON structure (with ``version``), the other arrays
hold the tensors, weights bit-packed along the input axis. ``hwgen sim`` and ``hwgen build`` read
only this file; they never retrain.

Activations are encoded per element. ``bipolar``: one bit, 1 means +1 and 0 means -1.
``binary``: one bit, 1 means 1 and 0 means 0 (a zero drives no wordline in a CIM macro).
``uint``: an unsigned ``in_bits``-bit integer (a first layer's pixels or features).

Arithmetic of an :class:`MVTULayer` with +-1 weights ``w`` (bit 1 means +1) on the decoded
input values ``v``::

    dot[n] = sum_k v[k] * w[n, k]                    # exact integer
    y[n]   = (dot[n] >= threshold[n]) != invert[n]   # thresholded layers: one bit
    y[n]   = dot[n]                                  # last layer (output "int")

``invert`` marks neurons whose folded batch norm has a negative scale: their output falls as
the dot product rises, so the comparison is negated instead of the weights. With bipolar
inputs ``dot = 2 * popcount(xnor(x, w)) - mw``, which the hardware uses.
"""
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import HwgenError

__all__ = ["IR_VERSION", "ENCODINGS", "MVTULayer", "SWGLayer", "MaxPoolLayer", "Graph",
           "save_ir", "load_ir"]

IR_VERSION = 2

#: Activation encodings of a layer's input elements.
ENCODINGS = ("bipolar", "binary", "uint")


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
    pe, simd : folding. ``pe`` neurons and ``simd`` input elements are processed per cycle.
    weights : bool array (mh, mw), True = +1.
    thresholds : int array (mh,) on the dot product, or None for an integer (logit) output.
    invert : bool array (mh,), or None with ``thresholds`` None.
    in_encoding : one of :data:`ENCODINGS`.
    in_bits : bits per input element: 1 for ``bipolar`` and ``binary``.
    out_encoding : what an output bit means to the next layer, ``bipolar`` or ``binary``.
    pixels : input vectors per frame (a convolution's output pixels; 1 for a dense layer).
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
    op = "mvtu"

    def __post_init__(self):
        if self.mw < 1 or self.mh < 1:
            raise ValueError(f"mw and mh must be positive, not {self.mw!r}, {self.mh!r}")
        if self.pe < 1 or self.mh % self.pe:
            raise ValueError(f"pe must divide mh={self.mh}, not {self.pe!r}")
        if self.simd < 1 or self.mw % self.simd:
            raise ValueError(f"simd must divide mw={self.mw}, not {self.simd!r}")
        if self.in_encoding not in ENCODINGS:
            raise ValueError(f"in_encoding must be one of {', '.join(ENCODINGS)}, "
                             f"not {self.in_encoding!r}")
        if self.out_encoding not in ENCODINGS[:2]:
            raise ValueError(f"out_encoding must be bipolar or binary, not {self.out_encoding!r}")
        if self.in_encoding != "uint" and self.in_bits != 1:
            raise ValueError(f"in_bits must be 1 for {self.in_encoding} inputs, not {self.in_bits!r}")
        if not isinstance(self.in_bits, int) or not 1 <= self.in_bits <= 16:
            raise ValueError(f"in_bits must be an integer in 1..16, not {self.in_bits!r}")
        _check_positive(self, "pixels")
        weights = np.asarray(self.weights).astype(bool)
        if weights.shape != (self.mh, self.mw):
            raise ValueError(f"weights must have shape ({self.mh}, {self.mw}), not {weights.shape}")
        object.__setattr__(self, "weights", weights)
        if (self.thresholds is None) != (self.invert is None):
            raise ValueError("thresholds and invert are given together or not at all")
        if self.thresholds is not None:
            thresholds = np.asarray(self.thresholds).astype(np.int64)
            invert = np.asarray(self.invert).astype(bool)
            if thresholds.shape != (self.mh,) or invert.shape != (self.mh,):
                raise ValueError(f"thresholds and invert must have shape ({self.mh},)")
            low, high = self.dot_range
            if thresholds.min() < low or thresholds.max() > high + 1:
                raise ValueError(f"thresholds must lie in {low}..{high + 1}")
            object.__setattr__(self, "thresholds", thresholds)
            object.__setattr__(self, "invert", invert)

    @property
    def output(self) -> Literal["bits", "int"]:
        """``bits`` (thresholded, one per neuron) or ``int`` (the dot products)."""
        return "int" if self.thresholds is None else "bits"

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
    def dot_range(self) -> tuple[int, int]:
        """Least and greatest dot product."""
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
        """Bits per input transfer."""
        return self.simd * self.in_bits

    @property
    def out_bits(self) -> int:
        """Bits per neuron on the output stream: 1, or a signed dot product."""
        return 1 if self.output == "bits" else self.dot_bits

    def expected_cycles(self) -> int:
        """Cycles per frame at full throughput (FINN): NF * SF * pixels."""
        return self.nf * self.sf * self.pixels

    def _meta(self) -> dict:
        return {"op": self.op, "name": self.name, "mw": self.mw, "mh": self.mh,
                "pe": self.pe, "simd": self.simd, "in_encoding": self.in_encoding,
                "in_bits": self.in_bits, "out_encoding": self.out_encoding,
                "pixels": self.pixels}


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
    """Streaming max-pool over binary activations, stride equal to the kernel.

    Bit 1 is the larger value in both activation encodings (+1 > -1, 1 > 0), so the maximum
    is the OR of the window's bits. Rows and columns beyond the last whole window are dropped
    (floor, as ``torch.nn.MaxPool2d``). A kernel of the whole image is global max-pooling.

    Parameters
    ----------
    channels, height, width : input image shape; pixels in raster order, channels innermost.
    kernel : (rows, columns), or an integer for both.
    pe : channels per transfer, in and out; divides ``channels``.
    """
    name: str
    channels: int
    height: int
    width: int
    kernel: tuple[int, int]
    pe: int = 1
    op = "maxpool"

    def __post_init__(self):
        object.__setattr__(self, "kernel", _pair(self.kernel, "kernel"))
        _check_positive(self, "channels", "height", "width", "pe")
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
                "pe": self.pe}


@dataclass(frozen=True, eq=False)
class Graph:
    """A whole network: input bits, a chain of layers, and the test frames it was exported with."""
    name: str
    input_bits: int
    classes: int
    layers: tuple[MVTULayer, ...]
    test_frames: np.ndarray            # (N, input_bits) uint8 0/1
    test_labels: np.ndarray            # (N,) int64
    meta: dict = field(default_factory=dict)
    version: int = IR_VERSION

    def __post_init__(self):
        if not self.layers:
            raise ValueError("an IR graph needs at least one layer")
        width = self.input_bits
        for layer in self.layers:
            if layer.mw != width:
                raise ValueError(f"layer {layer.name!r} has mw={layer.mw}, but its input is {width} bits")
            width = layer.mh
        if self.layers[-1].output != "int":
            raise ValueError("the last layer must emit integers (no thresholds)")
        if any(layer.output != "bits" for layer in self.layers[:-1]):
            raise ValueError("only the last layer may emit integers")
        if width != self.classes:
            raise ValueError(f"the last layer has {width} outputs, not classes={self.classes}")
        object.__setattr__(self, "test_frames", np.asarray(self.test_frames, dtype=np.uint8))
        object.__setattr__(self, "test_labels", np.asarray(self.test_labels, dtype=np.int64))

    def expected_cycles(self) -> int:
        """Cycles per frame once the pipeline is full: the slowest layer's."""
        return max(layer.expected_cycles() for layer in self.layers)

    def with_folding(self, folding) -> "Graph":
        """A copy with ``folding`` = [(pe, simd), ...] per layer."""
        import dataclasses
        layers = tuple(dataclasses.replace(layer, pe=pe, simd=simd)
                       for layer, (pe, simd) in zip(self.layers, folding, strict=True))
        return dataclasses.replace(self, layers=layers)


def save_ir(graph: Graph, path) -> None:
    """Write ``graph`` to ``path`` (one ``.npz``; a path or a binary file object)."""
    arrays = {"test_frames": np.packbits(graph.test_frames.astype(bool), axis=1),
              "test_labels": graph.test_labels}
    layers = []
    for index, layer in enumerate(graph.layers):
        arrays[f"l{index}.weights"] = np.packbits(layer.weights, axis=1)
        if layer.thresholds is not None:
            arrays[f"l{index}.thresholds"] = layer.thresholds
            arrays[f"l{index}.invert"] = layer.invert
        layers.append(layer._meta())
    header = {"version": graph.version, "name": graph.name, "input_bits": graph.input_bits,
              "classes": graph.classes, "layers": layers, "meta": graph.meta}
    arrays["__ir__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    if hasattr(path, "write"):
        np.savez_compressed(path, **arrays)
    else:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        Path(path).write_bytes(buffer.getvalue())


def load_ir(path) -> Graph:
    """Read an IR file written by :func:`save_ir`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        header = json.loads(arrays["__ir__"].tobytes().decode())
    except (OSError, EOFError, ValueError, KeyError) as error:
        raise HwgenError(f"{path}: not an hwgen IR file ({error})") from None
    if header.get("version") != IR_VERSION:
        raise HwgenError(f"{path}: IR version {header.get('version')!r} is not supported "
                         f"(this hwgen reads version {IR_VERSION}); re-run hwgen export")
    layers = []
    for index, meta in enumerate(header["layers"]):
        if meta["op"] != "mvtu":
            raise HwgenError(f"{path}: layer {index} has unknown op {meta['op']!r}")
        weights = np.unpackbits(arrays[f"l{index}.weights"], axis=1, count=meta["mw"]).astype(bool)
        layers.append(MVTULayer(
            name=meta["name"], mw=meta["mw"], mh=meta["mh"], pe=meta["pe"], simd=meta["simd"],
            weights=weights, thresholds=arrays.get(f"l{index}.thresholds"),
            invert=arrays.get(f"l{index}.invert"), in_encoding=meta["in_encoding"],
            in_bits=meta["in_bits"], out_encoding=meta["out_encoding"], pixels=meta["pixels"]))
    frames = np.unpackbits(arrays["test_frames"], axis=1, count=header["input_bits"])
    return Graph(name=header["name"], input_bits=header["input_bits"], classes=header["classes"],
                 layers=tuple(layers), test_frames=frames, test_labels=arrays["test_labels"],
                 meta=header["meta"], version=header["version"])
