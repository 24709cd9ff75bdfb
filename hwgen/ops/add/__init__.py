"""The elementwise add of two streams of one image (FINN's AddStreams, the residual shortcut),
with an integer or a thresholded result.

``layer.py`` holds the IR layer (:class:`AddLayer`), ``golden.py`` its torch model, ``hw.py``
the Amaranth block (:class:`Add`), ``cost.py`` its cost model.
"""
import torch

from ...target import Resources, Target
from ..base import Activation, Op, Transfer, divisors
from . import cost
from .golden import add
from .hw import Add
from .layer import ADD_ENCODINGS, AddLayer
from .qonnx import add_qonnx

__all__ = ["AddOp", "AddLayer", "Add", "ADD_ENCODINGS", "add"]


class AddOp(Op):
    """The add: two images in, ``pe`` elements per transfer on both inputs and the output."""
    name = "add"
    layer = AddLayer
    inputs = 2
    array_fields = ("thresholds", "invert")

    def describe(self, layer: AddLayer) -> str:
        result = "thresholded" if layer.thresholds is not None else "integer"
        return f"{layer.channels}x{layer.height}x{layer.width} + same, {result}"

    def output(self, layer: AddLayer, xs: list[Activation]) -> Activation:
        where = f"layer {layer.name!r}"
        if len(xs) != 2:
            raise ValueError(f"{where} adds two images, but has {len(xs)} inputs")
        for k, x in enumerate(xs):
            if x.windowed or x.encoding not in ADD_ENCODINGS:
                raise ValueError(f"{where} adds images of binary or uint activations, but its "
                                 f"input {k} is {'windows' if x.windowed else x.encoding}")
            if x.bits != layer.in_bits[k]:
                raise ValueError(f"{where} has in_bits[{k}]={layer.in_bits[k]}, but its input "
                                 f"{k} has {x.bits} bits per element")
            if (x.channels, x.height, x.width) != (layer.channels, layer.height, layer.width):
                raise ValueError(f"{where} expects a {layer.channels}x{layer.height}x"
                                 f"{layer.width} image, but its input {k} is {x.channels}x"
                                 f"{x.height}x{x.width}")
        return Activation(layer.channels, layer.height, layer.width, layer.out_encoding,
                          layer.out_bits)

    def in_transfers(self, layer: AddLayer) -> list[Transfer]:
        return [Transfer(layer.pe, bits) for bits in layer.in_bits]

    def in_transfer(self, layer: AddLayer) -> Transfer:
        """The first input's transfer (:meth:`in_transfers` has both)."""
        return self.in_transfers(layer)[0]

    def out_transfer(self, layer: AddLayer) -> Transfer:
        return Transfer(layer.pe, layer.out_bits)

    def golden(self, layer: AddLayer, xs: list, dots: list | None = None) -> torch.Tensor:
        if len(xs) != 2:
            raise ValueError(f"layer {layer.name!r} adds two images, but has {len(xs)} inputs")
        return add(layer, *xs)

    def qonnx(self, layer: AddLayer, builder, x, activation):
        return add_qonnx(layer, builder, x, activation)

    def block(self, layer: AddLayer, target: Target) -> Add:
        return Add(layer)

    def terms(self, layer: AddLayer, target: Target) -> dict[str, float]:
        return cost.terms(layer, target)

    def resources(self, layer: AddLayer, target: Target) -> Resources:
        return cost.resources(layer, target)

    def folding(self, layer: AddLayer) -> dict:
        return {"pe": layer.pe}

    def foldings(self, layer: AddLayer, *, max_pe_simd: int) -> list[dict]:
        """``pe`` dividing ``channels``."""
        return [{"pe": pe} for pe in divisors(layer.channels)]

    def folding_limit(self, layer: AddLayer, best: dict, *, max_pe_simd: int) -> str:
        return f"pe = channels, {layer.elements} elements/frame"

    def arrays(self, layer: AddLayer, prefix: str) -> dict:
        """The thresholds and invert flags, where the layer has them."""
        if layer.thresholds is None:
            return {}
        return {f"{prefix}.thresholds": layer.thresholds, f"{prefix}.invert": layer.invert}

    def from_entry(self, entry: dict, prefix: str, arrays: dict) -> AddLayer:
        return AddLayer(**entry, thresholds=arrays.get(f"{prefix}.thresholds"),
                        invert=arrays.get(f"{prefix}.invert"))
