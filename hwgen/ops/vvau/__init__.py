"""The depthwise convolution unit (FINN's VVAU, vector-vector-activation unit): one filter per
channel, ``pe`` channels in parallel, reading a sliding-window generator's windows.

``layer.py`` holds the IR layer (:class:`VVAULayer`), ``golden.py`` its torch model, ``hw.py``
the Amaranth block (:class:`VVAU`), ``cost.py`` its cost model.
"""
import reprlib

import numpy as np
import torch

from ...target import Resources, Target
from ..base import MAX_MEMORY_BITS, Activation, Op, Transfer, divisors, is_count, unpack_bits
from . import cost
from .golden import vvau, vvau_dots
from .hw import VVAU
from .layer import VVAU_ENCODINGS, VVAULayer
from .qonnx import vvau_qonnx

__all__ = ["VVAUOp", "VVAULayer", "VVAU", "VVAU_ENCODINGS", "vvau", "vvau_dots"]



class VVAUOp(Op):
    """The VVAU: ``pe`` channels of one kernel position per input transfer, ``pe`` outputs per
    output transfer."""
    name = "vvau"
    layer = VVAULayer
    matrix = True
    array_fields = ("weights", "thresholds", "invert")

    def describe(self, layer: VVAULayer) -> str:
        kernel = "x".join(str(k) for k in layer.kernel)
        return f"{layer.channels} channels, {kernel} kernel x {layer.pixels} px, depthwise"

    def output(self, layer: VVAULayer, x: Activation) -> Activation:
        where = f"layer {layer.name!r}"
        if (x.encoding, x.bits) != (layer.in_encoding, layer.in_bits):
            raise ValueError(f"{where} takes {layer.in_bits}-bit {layer.in_encoding} inputs, "
                             f"but its input is {x.encoding} of {x.bits} bits")
        if not x.windowed or x.channels != layer.positions * layer.channels \
                or x.pixels != layer.pixels:
            raise ValueError(f"{where} takes {layer.pixels} windows of "
                             f"{layer.positions}x{layer.channels} elements, but its input is "
                             f"{x.pixels} {'windows' if x.windowed else 'pixels'} of "
                             f"{x.channels} elements")
        return Activation(layer.channels, x.height, x.width, layer.out_encoding, layer.act_bits)

    def in_transfer(self, layer: VVAULayer) -> Transfer:
        return Transfer(layer.pe, layer.in_bits)

    def out_transfer(self, layer: VVAULayer) -> Transfer:
        return Transfer(layer.pe, layer.act_bits)

    def golden(self, layer: VVAULayer, x, dots: list | None = None) -> torch.Tensor:
        return vvau(layer, x, dots)

    def qonnx(self, layer: VVAULayer, builder, x, activation):
        return vvau_qonnx(layer, builder, x, activation, self.output(layer, activation))

    def block(self, layer: VVAULayer, target: Target) -> VVAU:
        return VVAU(layer)

    def terms(self, layer: VVAULayer, target: Target) -> dict[str, float]:
        return cost.terms(layer, target)

    def resources(self, layer: VVAULayer, target: Target) -> Resources:
        return cost.resources(layer, target)

    def folding(self, layer: VVAULayer) -> dict:
        return {"pe": layer.pe}

    def foldings(self, layer: VVAULayer, *, max_pe_simd: int) -> list[dict]:
        """``pe`` dividing ``channels`` (up to ``max_pe_simd``)."""
        return [{"pe": pe} for pe in divisors(layer.channels) if pe <= max_pe_simd]

    def folding_limit(self, layer: VVAULayer, best: dict, *, max_pe_simd: int) -> str:
        why = "pe = channels" if best["pe"] == layer.channels else f"pe at most {max_pe_simd}"
        return f"{why}, {layer.pixels} windows of {layer.positions} positions/frame"

    def arrays(self, layer: VVAULayer, prefix: str) -> dict:
        """The weights bit-packed along the kernel positions (multi-bit codes as their bit
        planes, ``weights``, ``weights1``, ... as an MVTU's), the thresholds and invert
        flags."""
        planes = [layer.weights] if layer.weight_bits == 1 else \
            [(layer.weights >> j) & 1 for j in range(layer.weight_bits)]
        arrays = {f"{prefix}.weights" + (f"{j}" if j else ""):
                  np.packbits(plane.astype(bool), axis=1) for j, plane in enumerate(planes)}
        return {**arrays, f"{prefix}.thresholds": layer.thresholds,
                f"{prefix}.invert": layer.invert}

    def check_entry(self, entry: dict) -> str | None:
        channels, kernel = entry.get("channels"), entry.get("kernel")
        bits = entry.get("weight_bits", 1)
        if not is_count(channels) or not isinstance(kernel, list) or len(kernel) != 2 \
                or not all(is_count(v) for v in kernel):
            return (f"channels must be a positive integer and kernel two, not "
                    f"{reprlib.repr(channels)}, {reprlib.repr(kernel)}")
        if not is_count(bits) or bits > 4:
            return f"weight_bits must be an integer in 1..4, not {reprlib.repr(bits)}"
        if channels * kernel[0] * kernel[1] * bits > MAX_MEMORY_BITS:
            return (f"{channels:,} x {kernel[0] * kernel[1]:,} weights, more than the "
                    f"{MAX_MEMORY_BITS:,} bits any device could hold")
        return None

    def from_entry(self, entry: dict, prefix: str, arrays: dict) -> VVAULayer:
        """The packed weights must have the shape the entry asks for before they are
        unpacked."""
        bits = entry.get("weight_bits", 1)
        planes = [unpack_bits(arrays, f"{prefix}.weights" + (f"{j}" if j else ""),
                              entry["channels"], entry["kernel"][0] * entry["kernel"][1])
                  for j in range(bits)]
        weights = sum(plane << j for j, plane in enumerate(planes))
        return VVAULayer(**entry, weights=weights.astype(bool) if bits == 1 else weights,
                         thresholds=arrays.get(f"{prefix}.thresholds"),
                         invert=arrays.get(f"{prefix}.invert"))
