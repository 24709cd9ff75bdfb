"""Map digital matrix layers onto a compute-in-memory macro: a network trained elsewhere
(an imported QONNX model) run on the macro hwgen's spec describes.

A cim layer's thresholds compare the macro's code sum ``C`` (:func:`hwgen.cim.macro_mvm`), a
digital layer's the dot product. Read by read, an ideal flash ADC of step ``D`` codes a group's
bitline sum ``b`` as ``b / D + L/2`` (``L = 2**adc_bits`` levels), so that summed over the groups
and bit slices ``C = dot / D + offset`` with ``offset`` the macro's :meth:`code_offset`. Each
threshold ``t`` on the dot product becomes ``ceil(t / D + offset)`` on the code sum (exact
fractions), clipped to the code sum's range. Where the macro is lossless -- ``D = 1``, no
group's sum beyond the ADC's range, no noise -- ``C`` *is* ``dot + offset`` and the mapped
layer computes exactly what the digital one did; otherwise the ADC's rounding and clipping and
the read noise change it, which is the point of running it (the report's noise sweep and the
golden accuracy say by how much).

Where the wordlines do not divide a layer's width, its last group is partial (``r`` rows,
converted over ``R * r / WL``, weighted ``r / g`` beside ``WL / g``, ``g = gcd(WL, mw)``): one
unit of ``C`` stands for ``u = D * g / WL`` (:meth:`MacroSpec.code_step`), and at ``D = 1``
with one-bit weights and inputs ``g * (C - offset)`` lies in ``(WL * dot - r, WL * dot]``, so
``dot >= t`` exactly when ``C >= floor((t - 1) / u + offset) + 1``: the threshold such a
layer gets (lossless then; with multi-bit slices the intervals overlap and it is not).
"""
import dataclasses
import math
from fractions import Fraction

import numpy as np

from ..cim.macro import MacroSpec
from ..ir import Graph

__all__ = ["map_onto_macro", "CimMapError", "lossless"]


class CimMapError(ValueError):
    """A layer the macro cannot hold, in one line naming it."""


def _layer_macro(layer, cim: MacroSpec) -> MacroSpec:
    """The macro of ``layer``: ``cim`` with the layer's input encoding and bits."""
    where = f"layer {layer.name!r}"
    if layer.in_encoding == "thermometer":
        raise CimMapError(f"{where} reads thermometer codes: a macro reads 1- or 2-bit inputs")
    encoding = "binary" if layer.in_encoding == "uint" else layer.in_encoding
    if layer.in_bits > cim.act_bits:
        raise CimMapError(f"{where}: its inputs have {layer.in_bits} bits, the macro reads at "
                          f"most cim.act_bits={cim.act_bits}")
    if layer.weight_bits != cim.weight_bits:
        raise CimMapError(f"{where}: its weights have {layer.weight_bits} bits, the macro's "
                          f"cim.weight_bits={cim.weight_bits}")
    if layer.bitsplit or layer.split_input:
        raise CimMapError(f"{where} is a BitSplit layer: map it as the model trained it")
    return dataclasses.replace(cim, act_bits=layer.in_bits, encoding=encoding)


def _step(macro: MacroSpec) -> Fraction:
    """The ADC's step ``D = 2R / (L - 1)``, exact (:attr:`MacroSpec.step` is its float)."""
    return Fraction(2) * Fraction(macro.adc_range) / (macro.levels - 1)


def _code_thresholds(thresholds, macro: MacroSpec, mw: int) -> np.ndarray:
    """``ceil(t / D + offset)`` of each threshold ``t`` on the dot product (with a partial
    last group ``floor((t - 1) / u + offset) + 1``, ``u`` the code sum's unit), clipped to
    ``0 .. max_code_sum + 1``."""
    offset = macro.code_offset(mw)
    top = macro.max_code_sum(mw) + 1
    if macro.partial(mw):
        unit = _step(macro) * math.gcd(macro.wordlines, mw) / macro.wordlines
        codes = [math.floor(Fraction(int(t) - 1) / unit + offset) + 1
                 for t in np.asarray(thresholds).ravel()]
    else:
        codes = [math.ceil(Fraction(int(t)) / _step(macro) + offset)
                 for t in np.asarray(thresholds).ravel()]
    flat = [min(top, max(0, code)) for code in codes]
    return np.asarray(flat, dtype=np.int64).reshape(np.shape(thresholds))


def lossless(macro: MacroSpec, layer) -> bool:
    """Whether ``macro`` computes ``layer``'s thresholds exactly: ADC step 1, every group's
    bitline sum within the ADC's range, no noise (and one-bit weights and inputs where the
    last wordline group is partial)."""
    step = _step(macro)
    largest = macro.wordlines * ((1 << layer.in_bits) - 1 if layer.in_bits > 1 else 1)
    slices = macro.weight_bits == 1 and layer.in_bits == 1
    return (step == 1 and largest <= macro.adc_range and not macro.noisy
            and (slices or not macro.partial(layer.mw)))


def map_onto_macro(graph: Graph, names, cim: MacroSpec) -> Graph:
    """``graph`` with the MVTUs ``names`` computing on the macro ``cim`` (each with its
    input encoding and bits): raw weight codes in its cells, thresholds moved to the code sum,
    noise keyed by the layer's index; CimMapError (one line naming the layer) where the macro
    cannot hold one, or a name is no digital MVTU of the graph."""
    names = list(names)
    index = {layer.name: k for k, layer in enumerate(graph.layers)}
    changes = {}
    for name in names:
        if name not in index:
            raise CimMapError(f"no layer {name!r} to map onto the macro (the MVTUs: "
                              f"{', '.join(layer.name for layer in graph.mvtus())})")
        layer = graph.layers[index[name]]
        if layer.op != "mvtu" or layer.macro is not None:
            raise CimMapError(f"layer {name!r} is no digital MVTU ({layer.op})")
        macro = _layer_macro(layer, cim)
        change = {"macro": macro, "macro_key": index[name], "simd": macro.wordlines,
                  "ram_style": "auto", "weight_bits": 1}
        if macro.weight_bits > 1:                 # codes 0..3 of 2c - 3, as the macro stores
            change["weights"] = np.asarray(layer.weights, dtype=np.int64)
        if layer.pe * macro.weight_bits > macro.columns:
            change["pe"] = max(pe for pe in range(1, layer.mh + 1)
                               if layer.mh % pe == 0 and pe * macro.weight_bits <= macro.columns)
        if layer.thresholds is not None:
            change["thresholds"] = _code_thresholds(layer.thresholds, macro, layer.mw)
        changes[name] = change
    return graph.with_layers(changes)
