"""The compute-in-memory macro: its arithmetic, written once, and its golden model.

This docstring is the contract. The RTL of a CIM-backed MVTU, the golden model
(:func:`macro_mvm`) and the training-side twin (:func:`macro_mvm_float`) all compute what it
says; the noise generator it names is :mod:`hwgen.cim.noise`.

Parameters (:class:`MacroSpec`)
-------------------------------
``rows x columns`` cells holding +-1 weight bits. ``wordlines`` (``WL``) rows are driven in one
read; a layer's input vector of ``mw`` elements is read as ``S = ceil(mw / WL)`` wordline
groups, group ``s`` holding elements ``k = s*WL .. min(s*WL + WL, mw) - 1``: its ``W_s`` rows,
``WL`` but in a last, partial group of ``W_{S-1} = mw - (S - 1) * WL`` rows where ``WL`` does
not divide ``mw`` (:meth:`MacroSpec.group_rows`). A read drives only its group's rows. A
matrix larger than the array is tiled over several macros; tiling does not change the
arithmetic.
``adc_bits`` (1..8), ``weight_bits`` and ``act_bits`` (1 or 2), the activation ``encoding``
(``binary`` or ``bipolar``), the ``noise`` model (``none``, ``read``, ``cell``) with ``sigma``
(>= 0, in units of one cell's bitline contribution) and ``seed``, and ``adc_range`` ``R``
(> 0; default ``WL``, the full range of one group's bitline sum).

Bit slices
----------
A weight is ``weight_bits`` one-bit planes ``w_j`` in {-1, +1} (a cell each), an activation
``act_bits`` planes ``x_p``; ``j`` and ``p`` are significances ``2**j``, ``2**p``:

- 1-bit weight: raw bit ``c`` (the IR's: 1 means +1): ``w_0 = 2c - 1``.
- 2-bit weight: raw code ``c`` in 0..3 stands for ``2c - 3`` in {-3, -1, 1, 3}, stored in two
  bit-sliced columns ``w_1 = 2*c[1] - 1`` (significance 2) and ``w_0 = 2*c[0] - 1``
  (significance 1): ``2*w_1 + w_0 = 2c - 3``. Symmetric, no zero; every column is +-1 cells.
- Activations, ``binary`` encoding: raw ``c`` (0..1, or 0..3 with 2 bits) is its value;
  plane ``x_p = c[p]`` in {0, 1}: a 0 drives no wordline.
- Activations, ``bipolar`` encoding (XNOR cells, every row of a group driven): raw bit 1 means
  +1, 0 means -1; a 2-bit code ``c`` stands for ``2c - 3``; plane ``x_p = 2*c[p] - 1``.

So the value of a weight is ``sum_j 2**j w_j`` and of an activation ``sum_p 2**p x_p``, and the
layer's exact dot product is ``dot[n] = sum_k x_k w_nk = sum_{j,p} 2**(j+p) sum_k x_p,k w_j,nk``.

One read
--------
Read ``(v, n, s, j, p)``: input vector ``v``, column of neuron ``n`` and weight slice ``j``,
wordline group ``s``, activation bit ``p`` (a bit-serial read per ``p``)::

    b = sum_{k in group s} x_p,k * w_j,nk        # bitline sum, an integer in -W_s .. W_s
    a = #{k in group s : x_p,k != 0}             # active rows (W_s for bipolar)
    y = b + noise                                # analog ADC input, in cell contributions

Noise: ``none`` 0; ``read`` N(0, sigma**2) (sense amplifier, independent of the input);
``cell`` N(0, sigma**2 * a) (each driven cell adds sigma independently; an all-zero group adds
none). Each read draws its own sample.

ADC: a flash ADC of ``L = 2**adc_bits`` levels over ``[-R, R]``, step ``D = 2R / (L - 1)``,
thresholds ``t_i = -R + (i - 1/2) * D`` for ``i = 1 .. L - 1``::

    code = #{i : y >= t_i}  =  clamp(floor((y + R) / D + 1/2), 0, L - 1)   # 0 .. L - 1

(round half up, clipping at both ends). The range follows the rows a read drives, as the
bitline's does: group ``s`` converts over ``[-R_s, R_s]``, ``R_s = R * W_s / WL`` (step
``D_s = D * W_s / WL``, thresholds ``t_i * W_s / WL``): ``R`` itself but in a partial last
group. The digital side adds the codes of all reads of a neuron, each weighted by its group's
step in units of ``D * g / WL`` (``g = gcd(WL, mw)``): ``omega_s = W_s / g``, ``WL / g`` for a
full group, ``1`` for every group where ``WL`` divides ``mw``
(:meth:`MacroSpec.group_weights`), and shift-added over the bit slices, into its code sum, the
integer the threshold compares (or the last layer emits)::

    C[v, n] = sum_s omega_s * sum_j sum_p 2**(j+p) * code(v, n, s, j, p)

so that ``C * D * g / WL`` (:meth:`MacroSpec.code_step`) less a constant is the sum of the
noiseless dequantized reads ``code * D_s - R_s``, the dot product's estimate.

Exactness: without noise and with ``D = 1`` (``R = (L - 1) / 2``, half-integer), the thresholds
are the integers ``1 - L/2 .. L/2 - 1``, so ``code = b + R + 1/2 = b + L/2`` for
``-L/2 <= b <= L/2 - 1`` and, where ``WL`` divides ``mw``,
``C = dot + S * (L/2) * (2**weight_bits - 1) * (2**act_bits - 1)``
(:meth:`MacroSpec.code_offset`: ``(L/2) * (2**wb - 1) * (2**ab - 1) * mw / g``). E.g.
``WL = 8``, ``adc_bits = 5``, ``R = 15.5``. With a partial group of ``r`` rows its code is
``floor(b * WL / r) + L/2``, so with one-bit weights and inputs
``g * (C - offset)`` lies in ``(WL * dot - r, WL * dot]``: still a rising function of the dot
product, one to one (with multi-bit slices the intervals of neighbouring dot products may
overlap). The noiseless dequantized read is ``code * D_s - R_s``.

Integer realisation (hardware and golden, bit for bit)
------------------------------------------------------
Fixed point with ``F = 12`` (``Z_FRAC_BITS``) and ``G = 10`` (``SCALE_FRAC_BITS``): one cell
contribution is ``2**(F+G) = 2**22``::

    u       = noise index of read (v, n, s, j, p)        # hwgen.cim.noise: hash, top 8 bits
    z_q     = ZTABLE[u]                                   # signed 15 bits, units 2**-F
    scale   = SCALES[a]                                   # unsigned, units 2**-G
    y_fixed = b * 2**(F+G) + scale * z_q                  # signed, units 2**-(F+G)
    code    = #{i : y_fixed >= T_i},   T_i = ceil(t_i * W_s / WL * 2**(F+G))

``SCALES[a] = round(sigma * sqrt(a) * 2**G)`` for ``a = 0 .. WL`` (``cell``),
``round(sigma * 2**G)`` for every ``a`` (``read``), 0 (``none``); round half away from zero in
float64 (:func:`hwgen.cim.noise.noise_scales`). ``T_i`` is computed exactly (rational
arithmetic on the float ``R``), so ``y_fixed >= T_i`` holds exactly when
``y_fixed / 2**(F+G) >= t_i * W_s / WL``. The tables ``ZTABLE``, ``SCALES`` and ``T`` (a second
``T`` for a partial group) are produced by this package (:func:`hwgen.cim.noise.ztable`,
:attr:`MacroSpec.scales`, :meth:`MacroSpec.group_thresholds`) and baked into the RTL as
constants: nothing is re-derived from floats elsewhere.

Widths: ``z_q`` signed 15 bits (|z_q| <= 11849); ``SCALES`` unsigned ``scale_bits``
(:attr:`MacroSpec.scale_bits`); ``y_fixed`` and ``T_i`` signed :attr:`MacroSpec.adc_input_bits`;
``code`` unsigned ``adc_bits``; ``C`` unsigned, at most
``(L - 1) * (2**wb - 1) * (2**ab - 1) * mw / g`` (:meth:`MacroSpec.max_code_sum`).

In a CIM MVTU (SIMD = WL, PE columns; per input vector neuron fold outer, group ``s`` = synapse
fold inner) one cycle of bit ``p`` does, for each PE neuron ``n`` and weight slice ``j``: ``b``
(the digital MVTU's per-cycle sum on the slice), ``a`` (a popcount of the group's input bits,
shared by the PE columns; ``W_s`` for bipolar), ``u`` (one ``arx32`` of ``h_v ^ read_word``),
the products and the ``L - 1`` compares (or their equivalent), and
``acc += omega_s * (code << (j + p))``. The input stream carries a partial group's vector
padded to ``S * WL`` elements; the macro drives none of the padding's rows.

The training twin draws the noise from ``torch.randn`` with the same sigma model (no table,
no hash) and passes the ADC's gradient straight through inside its range.
"""
import dataclasses
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import numpy as np
import torch

from ..errors import FieldError, excerpt
from .noise import NOISE_FRAC_BITS, noise_indices, noise_scales, ztable

__all__ = ["ENCODINGS", "NOISE_MODELS", "MAX_SIDE", "SEED_MAX", "MacroSpec", "weight_planes", "activation_planes",
           "decode_weights", "decode_activations", "adc", "macro_mvm", "macro_mvm_float",
           "layer_macro"]

#: Activation encodings the macro reads.
ENCODINGS = ("binary", "bipolar")
#: Noise models.
NOISE_MODELS = ("none", "read", "cell")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


#: The most rows, columns or wordlines of a macro.
MAX_SIDE = 2 ** 16
#: Seeds of the noise generator: ``0..2**32-1``.
SEED_MAX = 2 ** 32 - 1


def _number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


@dataclass(frozen=True, kw_only=True)
class MacroSpec:
    """The compute-in-memory macro: its array, its ADC and its analog noise (its arithmetic
    is :mod:`hwgen.cim.macro`'s). One schema: a spec's top-level ``cim`` section is read into
    it, and each ``backend: cim`` layer of the IR holds a copy with the layer's input
    ``encoding`` and bits (:func:`~hwgen.cim.layer_macro`). A bad value is a one-line error
    naming its key.
    """
    #: Rows of the cell array: the most wordlines a read may drive. (A matrix wider than the
    #: array is tiled over several macros; that changes neither the arithmetic nor its cost.)
    rows: int = 256
    #: Columns of the cell array (a 2-bit weight takes two): the most a cim layer reads at
    #: once (pe * weight_bits), and the tile the cost model reads a layer's neurons in.
    columns: int = 256
    #: Rows driven per read (``WL``), at most ``rows``. A cim layer's input vector is read in
    #: groups of WL rows (its simd), the last partial where WL does not divide its width.
    wordlines: int = 16
    #: ADC resolution: 2**adc_bits levels over [-adc_range, adc_range].
    adc_bits: int = 5
    #: Bits per weight, 1 or 2 (2: two bit-sliced columns, values -3, -1, 1, 3).
    weight_bits: int = 1
    #: Bits per activation, 1 or 2 (2: two bit-serial reads); in a spec's ``cim`` section the
    #: most any cim layer's inputs may have.
    act_bits: int = 1
    #: ``cell``: sigma * sqrt(driven rows) per read; ``read``: sigma per read; ``none``.
    noise: Literal["none", "read", "cell"] = "cell"
    #: Noise standard deviation in units of one cell's bitline contribution.
    sigma: float = 0.0
    #: Seed of the noise generator (hardware and golden draw the same samples).
    seed: int = 0
    #: Half the ADC's input range (``None``: wordlines, a group's full bitline range).
    adc_range: float | None = None
    #: How a layer's activations drive the wordlines: ``binary`` ({0, 1}; a 0 drives no
    #: wordline) or ``bipolar`` (+-1, XNOR cells). Set per layer from its input (not a key).
    encoding: Literal["binary", "bipolar"] = field(default="bipolar",
                                                    metadata={"internal": True})
    # The cost model's constants (:mod:`hwgen.cim.cost`; docs/cim-cost.md has their sources):
    # what a read, a conversion and an add cost, not what the macro computes (not in a
    # checkpoint's key nor in an IR file).
    #: The ADC's Walden figure of merit, fJ per conversion step: a conversion costs
    #: ``adc_fom_fj * 2**adc_bits``.
    adc_fom_fj: float = field(default=5.0, metadata={"cost": True})
    #: Energy to drive one wordline for one read, fJ.
    wordline_fj: float = field(default=50.0, metadata={"cost": True})
    #: Energy of one driven cell on its bitline for one read, fJ.
    cell_fj: float = field(default=1.0, metadata={"cost": True})
    #: Energy of one digital add of an ADC code into a neuron's sum, fJ.
    accumulate_fj: float = field(default=30.0, metadata={"cost": True})
    #: Time of one read (drive, settle, convert), ns.
    read_ns: float = field(default=10.0, metadata={"cost": True})

    def __post_init__(self):
        for name, top in (("rows", MAX_SIDE), ("columns", MAX_SIDE), ("wordlines", MAX_SIDE),
                          ("adc_bits", 8)):
            value = getattr(self, name)
            if not _is_int(value):
                raise FieldError(name, f"must be an integer, not {excerpt(value)}")
            if not 1 <= value <= top:
                raise FieldError(name, f"must lie in 1..{top}, not {excerpt(value)}")
        if self.wordlines > self.rows:
            raise FieldError("wordlines", f"must be at most rows={self.rows}, not "
                                          f"{excerpt(self.wordlines)}", allowed=f"1..{self.rows}")
        for name in ("weight_bits", "act_bits"):
            value = getattr(self, name)
            if not _is_int(value) or value not in (1, 2):
                raise FieldError(name, f"must be 1 or 2, not {excerpt(value)}", allowed="1, 2")
        if self.weight_bits > self.columns:
            raise FieldError("columns", f"must hold the {self.weight_bits} bit-sliced columns "
                                        f"of a weight, not {excerpt(self.columns)}")
        if self.encoding not in ENCODINGS:
            raise FieldError("encoding", f"unknown value {excerpt(self.encoding)}",
                             allowed=", ".join(ENCODINGS))
        if self.noise not in NOISE_MODELS:
            raise FieldError("noise", f"unknown value {excerpt(self.noise)}",
                             allowed=", ".join(NOISE_MODELS))
        if not _number(self.sigma) or not math.isfinite(self.sigma):
            raise FieldError("sigma", f"must be a finite number, not {excerpt(self.sigma)}")
        if self.sigma < 0:
            raise FieldError("sigma", f"must be at least 0, not {excerpt(self.sigma)}")
        if not _is_int(self.seed) or not 0 <= self.seed <= SEED_MAX:
            raise FieldError("seed", f"must lie in 0..2**32-1, not {excerpt(self.seed)}",
                             allowed=f"0..{SEED_MAX}")
        adc_range = self.wordlines if self.adc_range is None else self.adc_range
        if not _number(adc_range) or not math.isfinite(adc_range) or not adc_range > 0:
            raise FieldError("adc_range", f"must be positive, not {excerpt(self.adc_range)}")
        for name in COST_FIELDS:
            value = getattr(self, name)
            if not _number(value) or not math.isfinite(value) or value < 0:
                raise FieldError(name, f"must be a number >= 0, not {excerpt(value)}")
            object.__setattr__(self, name, float(value))
        object.__setattr__(self, "adc_range", float(adc_range))
        object.__setattr__(self, "sigma", float(self.sigma))
        object.__setattr__(self, "seed", int(self.seed))

    def cost_fields(self) -> dict:
        """The cost model's constants (:data:`COST_FIELDS`)."""
        return {name: getattr(self, name) for name in COST_FIELDS}

    def without_costs(self) -> dict:
        """The fields but the cost model's: what an IR file holds of a layer's macro."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if not f.metadata.get("cost")}

    def chip_fields(self) -> dict:
        """The macro's own parameters, as a spec's ``cim`` section gives them (without the
        per-layer ``encoding``; ``adc_range`` None where it is the default, ``wordlines``):
        what a checkpoint trained through the macro is keyed by."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if not f.metadata.get("internal") and not f.metadata.get("cost")}
        if fields["adc_range"] == self.wordlines:
            fields["adc_range"] = None
        return fields

    # --- derived ------------------------------------------------------------------------------
    @property
    def levels(self) -> int:
        """``L = 2**adc_bits``."""
        return 1 << self.adc_bits

    @property
    def step(self) -> float:
        """``D = 2R / (L - 1)``."""
        return 2 * self.adc_range / (self.levels - 1)

    @property
    def exact_thresholds(self) -> tuple[Fraction, ...]:
        """``t_i = -R + (i - 1/2) * D``, i = 1 .. L - 1, as exact fractions."""
        return self.group_exact_thresholds(self.wordlines)

    def group_exact_thresholds(self, rows: int) -> tuple[Fraction, ...]:
        """The thresholds of a group of ``rows`` rows, ``t_i * rows / WL``, exact."""
        r, top = Fraction(self.adc_range) * rows / self.wordlines, self.levels - 1
        return tuple(-r + Fraction(2 * i - 1, 2) * 2 * r / top for i in range(1, top + 1))

    @property
    def thresholds(self) -> tuple[int, ...]:
        """``T_i = ceil(t_i * 2**(F+G))``: the comparator thresholds on ``y_fixed``."""
        return self.group_thresholds(self.wordlines)

    def group_thresholds(self, rows: int) -> tuple[int, ...]:
        """The comparator thresholds of a group of ``rows`` rows (a partial last group's
        range is ``R * rows / WL``): ``ceil(t_i * rows / WL * 2**(F+G))``."""
        return tuple(math.ceil(t * (1 << NOISE_FRAC_BITS))
                     for t in self.group_exact_thresholds(rows))

    @property
    def scales(self) -> tuple[int, ...]:
        """``SCALES[a]``, a = 0 .. wordlines (units ``2**-G``)."""
        sigma = self.sigma if self.noise != "none" else 0.0
        return noise_scales(self.noise, sigma, self.wordlines)

    @property
    def noisy(self) -> bool:
        """Whether any read can draw a non-zero noise sample."""
        return any(self.scales)

    @property
    def scale_bits(self) -> int:
        """Width of an unsigned ``SCALES`` entry."""
        return max(1, max(self.scales).bit_length())

    @property
    def adc_input_bits(self) -> int:
        """Width of a signed ``y_fixed`` (and of a threshold ``T_i``)."""
        z_max = max(abs(z) for z in ztable())
        largest = (self.wordlines << NOISE_FRAC_BITS) + max(self.scales) * z_max
        largest = max(largest, *(abs(t) for t in self.thresholds))
        return largest.bit_length() + 1

    @property
    def slices(self) -> tuple[tuple[int, int], ...]:
        """The ``(j, p)`` bit-slice pairs of a read, each of significance ``2**(j+p)``."""
        return tuple((j, p) for j in range(self.weight_bits) for p in range(self.act_bits))

    def groups(self, mw: int) -> int:
        """``S = ceil(mw / wordlines)``: reads per column, activation bit and input vector."""
        if not _is_int(mw) or mw < 1:
            raise ValueError(f"the input width must be a positive integer, not mw={mw!r}")
        return -(-mw // self.wordlines)

    def last_rows(self, mw: int) -> int:
        """Rows of the last group: ``mw - (S - 1) * WL`` (``WL`` where it divides ``mw``)."""
        return mw - (self.groups(mw) - 1) * self.wordlines

    def partial(self, mw: int) -> bool:
        """Whether the last group of an ``mw``-wide input is partial (``WL`` does not divide
        ``mw``)."""
        return self.last_rows(mw) != self.wordlines

    def group_rows(self, mw: int) -> tuple[int, ...]:
        """``W_s``, the rows of each group: ``WL``, and a last partial one's fewer."""
        return (self.wordlines,) * (self.groups(mw) - 1) + (self.last_rows(mw),)

    def group_weights(self, mw: int) -> tuple[int, int]:
        """``(omega_full, omega_last)``: what a full group's and the last group's codes are
        weighted by in the code sum, ``W_s / gcd(WL, mw)`` (``(1, 1)`` where ``WL`` divides
        ``mw``)."""
        unit = math.gcd(self.wordlines, mw)
        return self.wordlines // unit, self.last_rows(mw) // unit

    def group_parts(self, mw: int) -> tuple[tuple[int, int, int, int], ...]:
        """The groups in runs that read alike, ``(first, stop, rows, weight)``: the whole
        groups (``WL`` rows, weight ``omega_full``), then a partial last one (its rows and
        weight); a run of no groups is left out. What the golden model, the training twin and
        the QONNX export each convert with one ADC table and weigh alike."""
        groups, (full, last) = self.groups(mw), self.group_weights(mw)
        if not self.partial(mw):
            return ((0, groups, self.wordlines, full),)
        whole = ((0, groups - 1, self.wordlines, full),) if groups > 1 else ()
        return whole + ((groups - 1, groups, self.last_rows(mw), last),)

    def _code_rows(self, mw: int) -> int:
        """``mw / g``: the sum of the groups' weights ``omega_s``."""
        self.groups(mw)
        return mw // math.gcd(self.wordlines, mw)

    def _slices_max(self) -> int:
        return ((1 << self.weight_bits) - 1) * ((1 << self.act_bits) - 1)

    def code_step(self, mw: int) -> float:
        """The dot product one unit of an ``mw``-wide layer's code sum stands for: ``D * g /
        WL`` (``D`` where ``WL`` divides ``mw``)."""
        return self.step * math.gcd(self.wordlines, mw) / self.wordlines

    def code_offset(self, mw: int) -> int:
        """``(L/2) * (2**wb - 1) * (2**ab - 1) * mw / g`` (``S * (L/2) * ...`` where ``WL``
        divides ``mw``): with ``D = 1``, no noise and no clipping, code sum = dot product +
        this offset (with a partial group, ``g * (C - offset)`` lies in ``(WL * dot - r,
        WL * dot]``)."""
        return (self.levels // 2) * self._slices_max() * self._code_rows(mw)

    def max_code_sum(self, mw: int) -> int:
        """Greatest code sum of a neuron."""
        return (self.levels - 1) * self._slices_max() * self._code_rows(mw)

    def replace(self, **changes) -> "MacroSpec":
        return dataclasses.replace(self, **changes)


#: The cost model's constants among :class:`MacroSpec`'s fields.
COST_FIELDS = tuple(f.name for f in dataclasses.fields(MacroSpec) if f.metadata.get("cost"))


# --- raw codes to bit planes -------------------------------------------------------------------
def _raw(values, bits: int, what: str) -> np.ndarray:
    values = np.asarray(values.cpu() if isinstance(values, torch.Tensor) else values)
    if values.dtype == bool:
        values = values.astype(np.int64)
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{what} must be raw integer codes, not {values.dtype} values")
    values = values.astype(np.int64)
    if values.size and (values.min() < 0 or values.max() >= 1 << bits):
        raise ValueError(f"{what} must be raw codes in 0..{(1 << bits) - 1}, "
                         f"not {values.min()}..{values.max()}")
    return values


def weight_planes(spec: MacroSpec, weights) -> np.ndarray:
    """+-1 planes ``w_j`` (weight_bits, ...) int8 of raw weight codes (bool, or 0..3)."""
    raw = _raw(weights, spec.weight_bits, "weights")
    return np.stack([2 * ((raw >> j) & 1) - 1 for j in range(spec.weight_bits)]).astype(np.int8)


def activation_planes(spec: MacroSpec, x) -> np.ndarray:
    """Planes ``x_p`` (act_bits, ...) int8 of raw activation codes: {0, 1} for ``binary``,
    +-1 for ``bipolar``."""
    raw = _raw(x, spec.act_bits, "activations")
    planes = [(raw >> p) & 1 for p in range(spec.act_bits)]
    if spec.encoding == "bipolar":
        planes = [2 * plane - 1 for plane in planes]
    return np.stack(planes).astype(np.int8)


def decode_weights(spec: MacroSpec, weights) -> np.ndarray:
    """Values ``sum_j 2**j w_j`` (int64) of raw weight codes: +-1, or {-3, -1, 1, 3}."""
    planes = weight_planes(spec, weights).astype(np.int64)
    return sum(plane << j for j, plane in enumerate(planes))


def decode_activations(spec: MacroSpec, x) -> np.ndarray:
    """Values ``sum_p 2**p x_p`` (int64) of raw activation codes."""
    planes = activation_planes(spec, x).astype(np.int64)
    return sum(plane << p for p, plane in enumerate(planes))


# --- golden model --------------------------------------------------------------------------------
def adc(spec: MacroSpec, y_fixed) -> np.ndarray:
    """ADC codes (int64) of fixed-point inputs ``y_fixed`` (units ``2**-(F+G)``, any shape):
    ``#{i : y_fixed >= T_i}``."""
    thresholds = np.asarray(spec.thresholds, dtype=np.int64)
    return np.searchsorted(thresholds, np.asarray(y_fixed, dtype=np.int64), side="right")


#: Reads held in memory at once by :func:`macro_mvm` (per bit slice).
_CHUNK_READS = 1 << 20


def macro_mvm(spec: MacroSpec, weights, x, *, layer_index: int,
              first_vector: int = 0, planes: bool = False) -> np.ndarray:
    """Code sums ``C[v, n]`` (N, mh) int64 of the macro on raw input vectors ``x`` (N, mw).

    With ``planes`` each activation bit plane's code sum apart, (N, mh, act_bits):
    ``C_p[v, n] = sum_s sum_j 2**j code(v, n, s, j, p)`` (BitSplit), so that
    ``C = sum_p 2**p C_p``; the reads and their noise are the same.

    ``weights`` (mh, mw) are raw weight codes (bool True = +1 with 1 bit; codes 0..3 for
    ``2c - 3`` with 2 bits), ``x`` raw activation codes (see the module docstring). Row ``i``
    of ``x`` is input vector ``v = first_vector + i`` of layer ``layer_index`` (its index in
    ``Graph.layers``), the key of its noise samples. Bit-exact with the hardware, vectorised.
    """
    w_planes = weight_planes(spec, weights)
    if w_planes.ndim != 3:
        raise ValueError(f"weights must have shape (mh, mw), not {w_planes.shape[1:]}")
    _, mh, mw = w_planes.shape
    x_planes = activation_planes(spec, x)
    if x_planes.ndim != 3 or x_planes.shape[2] != mw:
        raise ValueError(f"x must have shape (N, {mw}), not {x_planes.shape[1:]}")
    count = x_planes.shape[1]
    wl, groups = spec.wordlines, spec.groups(mw)
    if not _is_int(first_vector) or first_vector < 0:
        raise ValueError(f"first_vector must be a non-negative integer, not {first_vector!r}")
    # A partial last group: its rows padded with zero cells and inputs (they add nothing),
    # its own active rows (bipolar), ADC thresholds and weight in the sum.
    padding = groups * wl - mw
    if padding:
        w_planes = np.pad(w_planes, ((0, 0), (0, 0), (0, padding)))
        x_planes = np.pad(x_planes, ((0, 0), (0, 0), (0, padding)))

    # (wb, S, WL, mh): the weights of group s as a matrix; float64 products are exact here.
    w_groups = w_planes.reshape(spec.weight_bits, mh, groups, wl).transpose(0, 2, 3, 1)
    w_groups = w_groups.astype(np.float64)
    rows = np.asarray(spec.group_rows(mw), dtype=np.int64)[:, None]            # (S, 1)
    # The runs of groups with one ADC table and weight (a partial last group its own).
    parts = [(slice(first, stop), np.asarray(spec.group_thresholds(part_rows), dtype=np.int64),
              weight) for first, stop, part_rows, weight in spec.group_parts(mw)]
    scales = np.asarray(spec.scales, dtype=np.int64)
    table = np.asarray(ztable(), dtype=np.int64)
    neurons = np.arange(mh, dtype=np.int64)[None, None, :]
    group_index = np.arange(groups, dtype=np.int64)[:, None, None]

    sums = np.zeros((count, mh, spec.act_bits), dtype=np.int64)
    chunk = max(1, _CHUNK_READS // (mh * groups))
    for start in range(0, count, chunk):
        stop = min(count, start + chunk)
        vectors = np.arange(first_vector + start, first_vector + stop, dtype=np.int64)
        for p in range(spec.act_bits):
            # (S, chunk, WL): group s of each input vector.
            xp = x_planes[p, start:stop].reshape(stop - start, groups, wl).transpose(1, 0, 2)
            active = (np.broadcast_to(rows, xp.shape[:2]) if spec.encoding == "bipolar"
                      else (xp != 0).sum(axis=2, dtype=np.int64))
            xp = xp.astype(np.float64)
            for j in range(spec.weight_bits):
                b = np.rint(np.matmul(xp, w_groups[j])).astype(np.int64)   # (S, chunk, mh)
                y = b * (1 << NOISE_FRAC_BITS)
                if spec.noisy:
                    u = noise_indices(spec.seed, layer_index, vectors[None, :, None], neurons,
                                      group_index, j, p)
                    y += scales[active][:, :, None] * table[u]
                for where, thresholds, weight in parts:
                    codes = np.searchsorted(thresholds, y[where], side="right")   # the ADC
                    sums[start:stop, :, p] += (codes.sum(axis=0) * weight) << j
    if planes:
        return sums
    return (sums << np.arange(spec.act_bits, dtype=np.int64)).sum(axis=2)


# --- training twin -------------------------------------------------------------------------------
def _float_planes(values: torch.Tensor, bits: int, signed: bool) -> list[torch.Tensor]:
    """Bit planes (significance 1, 2) of decoded values; each plane takes ``1 / (2**bits - 1)``
    of the gradient, so that ``sum_p 2**p * d plane_p = d value``."""
    if bits == 1:
        return [values]
    fixed = values.detach()
    high = torch.where(fixed >= 0, 1.0, -1.0) if signed else (fixed >= 2).to(fixed.dtype)
    high = high.to(fixed.dtype)
    low = fixed - 2 * high
    gradient = (values - fixed) / ((1 << bits) - 1)
    return [low + gradient, high + gradient]


#: ADC quantizers of the training twin.
ADC_QUANTIZERS = ("ste", "concrete", "expected")


def _widened_std(std, step: float):
    """The noise std the noise-aware gradients see: the read's, widened to at least a quarter
    ADC step (``sqrt(std**2 + (D/4)**2)``, ``D`` the read's group's step ``step``) so that a
    noiseless read still has a gradient."""
    return torch.sqrt(std ** 2 + (step / 4) ** 2)


def _concrete_codes(y: torch.Tensor, std, spec: MacroSpec, thresholds: torch.Tensor,
                    temperature: float, generator, step: float) -> torch.Tensor:
    """ADC codes of noiseless bitline sums ``y`` drawn from their distribution under Gaussian
    read noise of ``std`` (a tensor shaped like ``y``), with a Concrete (Gumbel-softmax)
    gradient.

    ``P(code = i) = Phi((t_{i+1} - y) / s) - Phi((t_i - y) / s)`` (``t_0 = -inf``,
    ``t_L = inf``) is the exact distribution of the noisy flash ADC's output; ``s`` is the
    read's noise std, widened (:func:`_widened_std`; ``step`` the group's ADC step). A Gumbel
    perturbation of ``log P`` gives the sample
    (its argmax, the forward value: a draw of what the macro outputs) and, through a softmax
    of temperature ``temperature``, the relaxed code ``sum_i i * softmax_i`` whose gradient
    passes (straight through the argmax). The noise-adaptive ADC of IMCAQ: the gradient sees
    how likely each code is under the noise, not one rounded value.
    """
    s = _widened_std(std, step)
    edges = torch.cat([thresholds.new_tensor([-math.inf]), thresholds,
                       thresholds.new_tensor([math.inf])])                      # (L + 1,)
    z = (edges - y[..., None]) / s[..., None]
    cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2.0)))
    probability = (cdf[..., 1:] - cdf[..., :-1]).clamp_min(1e-12)                # (..., L)
    uniform = torch.rand(probability.shape, generator=generator, dtype=y.dtype,
                         device=y.device).clamp(1e-12, 1 - 1e-12)
    perturbed = probability.log() - torch.log(-torch.log(uniform))
    levels = torch.arange(spec.levels, dtype=y.dtype, device=y.device)
    soft = (torch.softmax(perturbed / temperature, dim=-1) * levels).sum(-1)
    hard = perturbed.argmax(-1).to(y.dtype)
    return hard + (soft - soft.detach())


def _expected_codes(y: torch.Tensor, noisy: torch.Tensor, std, thresholds: torch.Tensor,
                    step: float) -> torch.Tensor:
    """ADC codes of the noisy reads ``noisy`` (the forward value: what the macro outputs) with
    the gradient of the code's expectation under the noise at the noiseless sums ``y``:
    ``E[code | y] = sum_i Phi((y - t_i) / s)``, so ``d/dy = sum_i phi((y - t_i) / s) / s``
    (``s`` widened, :func:`_widened_std`, ``step`` the group's ADC step). The Concrete
    quantizer's noise-aware gradient
    without the variance of its Gumbel sample: smooth across the ADC's steps and its clipping,
    zero only far outside the range."""
    s = _widened_std(std, step)
    z = (y[..., None] - thresholds) / s[..., None]
    expected = (0.5 * (1 + torch.erf(z / math.sqrt(2.0)))).sum(-1)
    hard = torch.bucketize(noisy.detach().contiguous(), thresholds, right=True).to(y.dtype)
    return hard + (expected - expected.detach())


def macro_mvm_float(spec: MacroSpec, weights: torch.Tensor, x: torch.Tensor, *, noise: bool = True,
                    generator: torch.Generator | None = None, adc: str = "ste",
                    temperature: float = 0.5) -> torch.Tensor:
    """The macro in float for training: code sums (..., mh), differentiable.

    ``weights`` (mh, mw) are decoded weight values (+-1; {-3, -1, 1, 3} with 2 bits), typically
    the output of a straight-through sign; ``x`` (..., mw) decoded activation values ({0, 1}
    or +-1; 0..3 or {-3, -1, 1, 3} with 2 bits). Per read: bitline sum, plus (``noise``) a
    ``torch.randn`` sample times sigma (``read``) or sigma * sqrt(active rows) (``cell``), then
    the ADC of the contract (same thresholds, so with ``noise=False`` the result equals
    :func:`macro_mvm`'s exactly) with a straight-through gradient ``1/D`` inside
    ``[0, L - 1]`` and 0 where it clips; code sums shift-added over groups and slices.

    ``adc="concrete"`` (with ``noise``) instead draws each read's code from its exact
    distribution under the noise with a Concrete relaxation for the gradient
    (:func:`_concrete_codes`); ``adc="expected"`` forwards the noisy read's code as ``ste``
    does and passes the gradient of its expectation under the noise (:func:`_expected_codes`);
    without ``noise`` all three give the deterministic codes.
    """
    if adc not in ADC_QUANTIZERS:
        raise ValueError(f"adc must be one of {', '.join(ADC_QUANTIZERS)}, not {adc!r}")
    mh, mw = weights.shape
    if x.shape[-1] != mw:
        raise ValueError(f"x must have shape (..., {mw}), not {tuple(x.shape)}")
    wl, groups = spec.wordlines, spec.groups(mw)
    padding = groups * wl - mw
    dtype = weights.dtype if weights.is_floating_point() else torch.get_default_dtype()
    weights = weights.to(dtype)
    lead = x.shape[:-1]
    x = x.to(dtype).reshape(-1, mw)

    def grouped(plane, rows):           # (rows, mw) -> (rows, S, WL): padded with zeros
        return torch.nn.functional.pad(plane, (0, padding)).reshape(rows, groups, wl)

    w_planes = [grouped(w, mh) for w in _float_planes(weights, spec.weight_bits, True)]
    x_planes = [grouped(xp, x.shape[0])
                for xp in _float_planes(x, spec.act_bits, spec.encoding == "bipolar")]
    # Per part of the groups (the full ones; a partial last one): its groups, ADC thresholds
    # (T_i / 2**(F+G) rounded up to ``dtype``: y >= it exactly when y * 2**(F+G) >= T_i),
    # range, step and weight in the code sum.
    parts = [(slice(first, stop), *_adc_part(spec, rows, dtype, x.device), weight)
             for first, stop, rows, weight in spec.group_parts(mw)]
    rows = torch.tensor(spec.group_rows(mw), dtype=dtype, device=x.device)
    top = spec.levels - 1
    total = x.new_zeros(x.shape[0], mh)
    for p, xp in enumerate(x_planes):
        if spec.noise == "cell":
            active = (xp.detach() != 0).sum(-1).to(dtype) if spec.encoding == "binary" else \
                rows.expand(xp.shape[:2])
            std = spec.sigma * active.sqrt()[:, None, :]                           # (B, 1, S)
        else:
            std = spec.sigma if spec.noise == "read" else 0.0
        for j, wj in enumerate(w_planes):
            y_all = torch.einsum("bsk,nsk->bns", xp, wj)                          # (B, mh, S)
            for where, thresholds, r, step, weight in parts:
                y = y_all[..., where]
                part_std = std[..., where] if torch.is_tensor(std) else std
                read_std = None
                if noise and adc in ("concrete", "expected"):
                    read_std = part_std.expand(y.shape) if torch.is_tensor(part_std) else \
                        torch.full_like(y, float(part_std))
                if noise and adc == "concrete":
                    code = _concrete_codes(y, read_std, spec, thresholds, temperature,
                                           generator, step)
                elif noise and adc == "expected":
                    noisy = y + read_std * torch.randn(y.shape, generator=generator,
                                                       dtype=dtype, device=y.device)
                    code = _expected_codes(y, noisy, read_std, thresholds, step)
                else:
                    if noise and spec.sigma > 0 and spec.noise != "none":
                        y = y + part_std * torch.randn(y.shape, generator=generator,
                                                       dtype=dtype, device=y.device)
                    code = torch.bucketize(y.detach().contiguous(), thresholds,
                                           right=True).to(dtype)
                    linear = torch.clamp((y + r) / step + 0.5, 0.0, float(top))
                    code = linear + (code - linear).detach()
                total = total + code.sum(-1) * (weight << (j + p))
    return total.reshape(*lead, mh)


def _adc_part(spec: MacroSpec, rows: int, dtype, device) -> tuple:
    """A group of ``rows`` rows' ADC for the training twin: its thresholds (rounded up to
    ``dtype``, so that ``y >= t`` exactly when ``y * 2**(F+G) >= T_i``), range and step."""
    exact = torch.tensor(spec.group_thresholds(rows), dtype=torch.float64, device=device)
    exact = exact / 2.0**NOISE_FRAC_BITS
    thresholds = exact.to(dtype)
    thresholds = torch.where(thresholds.to(torch.float64) < exact,
                             torch.nextafter(thresholds, torch.full_like(thresholds, math.inf)),
                             thresholds)
    scale = rows / spec.wordlines
    return thresholds, spec.adc_range * scale, spec.step * scale


# --- from a spec -------------------------------------------------------------------------------
def layer_macro(spec, index: int) -> MacroSpec:
    """The macro of ``spec.model.layers[index]`` (a ``backend: cim`` layer of a validated
    :class:`hwgen.spec.Spec`): the spec's ``cim`` section, with the layer's input encoding
    (``uint`` pixels read as ``binary``) and its input bits (``data.element_bits``, or
    ``model.act_bits`` for hidden layers) as ``act_bits``; the training options of its ADC."""
    cim = spec.cim
    if cim is None:
        raise ValueError("the spec has no cim section")
    if index == 0:
        encoding = "binary" if spec.input_encoding == "uint" else spec.input_encoding
        bits = spec.data.element_bits
    else:
        encoding, bits = spec.model.activation, spec.model.act_bits
    return dataclasses.replace(cim, act_bits=bits, encoding=encoding)
