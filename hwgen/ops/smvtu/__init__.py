"""Convolutional result sharing: a convolution's MVTU computing each distinct 2-D filter result
once per window (:class:`SharedMVTULayer`).

``sharing.py`` finds the sharing (repeated and inverse 2-D filters exactly; similar ones by a
set-cover program whose ties training fine-tunes) and counts the operations it removes,
``layer.py`` holds the IR layer, ``golden.py`` its integer-exact model (the distinct results
once, then combined), ``hw.py`` the Amaranth block (:class:`SharedMVTU`: weights as constants,
one window and every output channel per cycle) and ``cost.py`` its cost model.
"""
import reprlib

import numpy as np
import torch

from ...target import Resources, Target
from ..base import MAX_MEMORY_BITS, Activation, Op, Transfer
from ..mvtu import MVTUOp
from ..mvtu.golden import frames_golden
from . import cost
from .golden import smvtu, smvtu_dot, smvtu_results
from .hw import SharedMVTU
from .layer import SHARED_ENCODINGS, SharedMVTULayer
from .sharing import Sharing, cover, exact_sharing, op_counts, split_filters, tie
from .qonnx import smvtu_qonnx

__all__ = ["SharedMVTUOp", "SharedMVTULayer", "SharedMVTU", "SHARED_ENCODINGS", "Sharing",
           "smvtu", "smvtu_dot", "smvtu_results", "cover", "exact_sharing", "op_counts",
           "split_filters", "tie"]


class SharedMVTUOp(Op):
    """The shared convolution unit: ``pixels`` windows per frame, one per cycle, all ``mh``
    output channels in parallel."""
    name = "smvtu"
    matrix = True
    layer = SharedMVTULayer
    array_fields = ("filters", "counts", "index", "inverse", "thresholds", "invert")

    def describe(self, layer: SharedMVTULayer) -> str:
        return f"{layer.positions} positions -> {layer.mh} x {layer.pixels} px, shared"

    def output(self, layer: SharedMVTULayer, x: Activation) -> Activation:
        """As the plain MVTU's (one window per pixel)."""
        return MVTUOp().output(layer.plain, x)

    def in_transfer(self, layer: SharedMVTULayer) -> Transfer:
        return Transfer(layer.in_elements, layer.in_bits)

    def out_transfer(self, layer: SharedMVTULayer) -> Transfer:
        return Transfer(layer.mh, layer.out_bits)

    def golden(self, layer: SharedMVTULayer, x, dots: list | None = None) -> torch.Tensor:
        return frames_golden(layer, x, smvtu_dot, dots)

    def qonnx(self, layer: SharedMVTULayer, builder, x, activation):
        return smvtu_qonnx(layer, builder, x, activation, self.output(layer, activation))

    def block(self, layer: SharedMVTULayer, target: Target) -> SharedMVTU:
        return SharedMVTU(layer, target=target)

    def terms(self, layer: SharedMVTULayer, target: Target) -> dict[str, float]:
        return cost.terms(layer, target)

    def resources(self, layer: SharedMVTULayer, target: Target) -> Resources:
        return cost.resources(layer, target)

    def folding_limit(self, layer: SharedMVTULayer, best: dict, *, max_pe_simd: int) -> str:
        return f"fully parallel (weights in the logic), {layer.pixels} windows/frame"

    def arrays(self, layer: SharedMVTULayer, prefix: str) -> dict:
        arrays = {f"{prefix}.filters": np.packbits(layer.filters, axis=2),
                  f"{prefix}.counts": layer.counts, f"{prefix}.index": layer.index,
                  f"{prefix}.inverse": np.packbits(layer.inverse, axis=1)}
        if layer.thresholds is not None:
            arrays[f"{prefix}.thresholds"] = layer.thresholds
            arrays[f"{prefix}.invert"] = layer.invert
        return arrays

    def check_entry(self, entry: dict) -> str | None:
        positions, mh = entry.get("positions"), entry.get("mh")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                   for v in (positions, mh)):
            return (f"positions and mh must be positive integers, not {reprlib.repr(positions)}, "
                    f"{reprlib.repr(mh)}")
        if positions > 64 or mh > MAX_MEMORY_BITS // positions:
            return f"{mh:,} filters of {positions:,} positions, more than any device could hold"
        return None

    def from_entry(self, entry: dict, prefix: str, arrays: dict) -> SharedMVTULayer:
        """The packed arrays must have the shapes the header and the counts ask for before
        they are unpacked."""
        names = ("filters", "counts", "index", "inverse")
        missing = [name for name in names if f"{prefix}.{name}" not in arrays]
        if missing:
            raise ValueError(f"its {', '.join(missing)} are missing")
        counts = np.asarray(arrays[f"{prefix}.counts"])
        if counts.ndim != 1 or counts.dtype.kind not in "iu" or not len(counts):
            raise ValueError(f"its counts are {counts.dtype} {counts.shape}, not integers (C,)")
        channels, positions, mh = len(counts), entry["positions"], entry["mh"]
        if channels * mh * positions > MAX_MEMORY_BITS:
            raise ValueError(f"{mh:,} x {channels:,} filters, more than any device could hold")
        packed = arrays[f"{prefix}.filters"]
        if packed.dtype != np.uint8 or packed.ndim != 3 or packed.shape[0] != channels \
                or packed.shape[2] != -(-positions // 8) or packed.shape[1] > mh:
            raise ValueError(f"its packed filters are {packed.dtype} {packed.shape}, not uint8 "
                             f"({channels}, <= {mh}, {-(-positions // 8)})")
        inverse = arrays[f"{prefix}.inverse"]
        if inverse.dtype != np.uint8 or inverse.shape != (mh, -(-channels // 8)):
            raise ValueError(f"its packed inverse flags are {inverse.dtype} {inverse.shape}, "
                             f"not uint8 ({mh}, {-(-channels // 8)})")
        fields = dict(entry)
        fields["filters"] = np.unpackbits(packed, axis=2, count=positions).astype(bool)
        fields["counts"] = counts
        fields["index"] = arrays[f"{prefix}.index"]
        fields["inverse"] = np.unpackbits(inverse, axis=1, count=channels).astype(bool)
        fields["thresholds"] = arrays.get(f"{prefix}.thresholds")
        fields["invert"] = arrays.get(f"{prefix}.invert")
        return SharedMVTULayer(**fields)
