"""The matrix-vector-threshold unit (MVTU): FINN's streaming matrix-vector product with
thresholds, on +-1 weights (``digital``) or on a compute-in-memory macro (``cim``).

``layer.py`` holds the IR layer (:class:`MVTULayer`), ``golden.py`` its integer-exact torch
model, ``hw.py`` the Amaranth block (:class:`MVTU`), ``cim.py`` the behavioural macro a
``cim`` layer's block computes on (:class:`CimMacro`), ``cost.py`` the cost model of both, and
``datapath.py`` what the block builds and the cost model counts (its memories, as the target
places them, and its pipeline).
"""
import reprlib

import numpy as np
import torch

from ...cim.macro import MacroSpec
from ...target import Resources, Target
from ..base import MAX_MEMORY_BITS, Activation, Op, Transfer, divisors, is_count, unpack_bits
from . import cost
from .golden import frames_golden, mvtu, mvtu_dot
from .hw import MVTU
from .layer import MVTU_ENCODINGS, RAM_STYLES, MVTULayer
from .qonnx import mvtu_qonnx

__all__ = ["MVTUOp", "MVTULayer", "MVTU", "MVTU_ENCODINGS", "RAM_STYLES", "mvtu", "mvtu_dot"]



class MVTUOp(Op):
    """The MVTU: ``pixels`` input vectors of ``mw`` elements per frame, ``mh`` neurons each,
    ``pe`` neurons and ``simd`` elements per cycle."""
    name = "mvtu"
    matrix = True
    layer = MVTULayer
    array_fields = ("weights", "thresholds", "invert")

    def describe(self, layer: MVTULayer) -> str:
        pixels = f" x {layer.pixels} px" if layer.pixels > 1 else ""
        return f"{layer.mw} -> {layer.mh}{pixels}"

    def output(self, layer: MVTULayer, x: Activation) -> Activation:
        where = f"layer {layer.name!r}"
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

    def in_transfer(self, layer: MVTULayer) -> Transfer:
        return Transfer(layer.simd_elements, layer.in_bits)

    def out_transfer(self, layer: MVTULayer) -> Transfer:
        return Transfer(layer.pe, layer.out_bits)

    def in_padding(self, layer: MVTULayer, port: int = 0) -> tuple[int, int] | None:
        """A cim layer's vectors padded to whole wordline groups (:attr:`MVTULayer.padded_mw`)."""
        if layer.padded_mw == layer.mw:
            return None
        return layer.mw, layer.padded_mw

    def min_depth_before(self, layer: MVTULayer) -> int:
        """An MVTU reads an input vector (SF transfers) only during its first neuron fold and
        replays it for the others, so its producer must be able to deposit the next vector
        meanwhile: SF."""
        return layer.sf

    def golden(self, layer: MVTULayer, x, dots: list | None = None) -> torch.Tensor:
        """``x`` read as ``pixels`` vectors of ``in_elements`` elements (windows, pixels, or
        the whole flattened frame); the dot products (N, pixels, mh) go to ``dots``."""
        return frames_golden(layer, x, mvtu_dot, dots)

    def qonnx(self, layer: MVTULayer, builder, x, activation):
        return mvtu_qonnx(layer, builder, x, activation, self.output(layer, activation))

    def block(self, layer: MVTULayer, target: Target) -> MVTU:
        return MVTU(layer, target=target)

    def terms(self, layer: MVTULayer, target: Target) -> dict[str, float]:
        """Priced by ``target.coefficients["mvtu"]``, a cim layer's by ``["cim"]``."""
        return cost.terms(layer, target)

    def resources(self, layer: MVTULayer, target: Target) -> Resources:
        return cost.resources(layer, target)

    def folding(self, layer: MVTULayer) -> dict:
        return {"pe": layer.pe, "simd": layer.simd}

    def foldings(self, layer: MVTULayer, *, max_pe_simd: int) -> list[dict]:
        """``pe`` dividing ``mh`` and ``simd`` dividing ``mw`` (whole codes, for thermometer
        inputs), at most ``max_pe_simd`` synapses a cycle (``pe * simd``; a thermometer
        layer's, which looks each element up in a table, as ``pe`` x elements x input bits);
        a cim layer reads one wordline group a cycle (``simd`` = the macro's wordlines) into at
        most its columns (``pe`` x weight bits)."""
        macro = layer.macro

        def synapses(pe: int, simd: int) -> int:
            if layer.in_encoding == "thermometer":
                return pe * (simd // layer.code_bits) * layer.in_bits
            return pe * simd

        simds = divisors(layer.mw) if macro is None else [macro.wordlines]
        options = [{"pe": pe, "simd": simd} for pe in divisors(layer.mh)
                   for simd in simds
                   if synapses(pe, simd) <= max_pe_simd and simd % layer.code_bits == 0
                   and (macro is None or (simd == macro.wordlines
                                          and pe * macro.weight_bits <= macro.columns))]
        return sorted(options, key=lambda o: (o["pe"] * o["simd"], o["pe"]))

    def folding_limit(self, layer: MVTULayer, best: dict, *, max_pe_simd: int) -> str:
        if best["pe"] == layer.mh and best["simd"] == layer.mw:
            why = "fully parallel"
        else:
            why = f"pe*simd at most {max_pe_simd}"
        if layer.pixels > 1:
            why += f", {layer.pixels} pixels/frame"
        return why

    def arrays(self, layer: MVTULayer, prefix: str) -> dict:
        """The weights bit-packed along the input axis (a multi-bit layer's as its bit planes,
        ``weights``, ``weights1``, ...), the thresholds and invert flags."""
        arrays = {}
        planes = [layer.weights] if layer.weight_bits == 1 else \
            [(layer.weights >> j) & 1 for j in range(layer.weight_bits)]
        for j, plane in enumerate(planes):
            arrays[f"{prefix}.weights" + (f"{j}" if j else "")] = np.packbits(
                plane.astype(bool), axis=1)
        if layer.thresholds is not None:
            arrays[f"{prefix}.thresholds"] = layer.thresholds
            arrays[f"{prefix}.invert"] = layer.invert
        return arrays

    def check_entry(self, entry: dict) -> str | None:
        mw, mh, macro = entry.get("mw"), entry.get("mh"), entry.get("macro")
        bits = entry.get("weight_bits", 1)
        if not is_count(mw) or not is_count(mh):
            return f"mw and mh must be positive integers, not {reprlib.repr(mw)}, {reprlib.repr(mh)}"
        if macro is not None and not isinstance(macro, dict):
            return f"macro must be a mapping, not a {type(macro).__name__}"
        if not is_count(bits) or bits > 4:
            return f"weight_bits must be an integer in 1..4, not {reprlib.repr(bits)}"
        width = mw
        wordlines = (macro or {}).get("wordlines")
        if is_count(wordlines):     # a macro's cells hold each vector padded to whole groups
            width = -(-mw // wordlines) * wordlines
        if width * mh * (bits if macro is None else 2) > MAX_MEMORY_BITS:
            return (f"{mh:,} x {width:,} weights, more than the {MAX_MEMORY_BITS:,} bits any "
                    f"device could hold")
        rows, columns = (macro or {}).get("rows", 1), (macro or {}).get("columns", 1)
        if is_count(rows) and is_count(columns) and rows * columns > MAX_MEMORY_BITS:
            return (f"a macro of {rows:,} x {columns:,} cells, more than the "
                    f"{MAX_MEMORY_BITS:,} any device could hold")
        return None

    def from_entry(self, entry: dict, prefix: str, arrays: dict) -> MVTULayer:
        """The packed weights must have the shape ``mh x mw`` asks for before they are
        unpacked."""
        fields = dict(entry)
        if "macro" in fields:
            fields["macro"] = MacroSpec(**fields["macro"])
        bits = fields.get("weight_bits", 1) if fields.get("macro") is None \
            else fields["macro"].weight_bits
        planes = [unpack_bits(arrays, f"{prefix}.weights" + (f"{j}" if j else ""), entry["mh"],
                              entry["mw"]) for j in range(bits)]
        weights = sum(plane << j for j, plane in enumerate(planes))
        fields["weights"] = weights.astype(bool) if bits == 1 else weights
        fields["thresholds"] = arrays.get(f"{prefix}.thresholds")
        fields["invert"] = arrays.get(f"{prefix}.invert")
        return MVTULayer(**fields)
