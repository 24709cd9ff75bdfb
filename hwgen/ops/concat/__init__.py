"""The channel concatenation of two or more streams of one image size (FINN's
StreamingConcat).

``layer.py`` holds the IR layer (:class:`ConcatLayer`), ``golden.py`` its torch model,
``hw.py`` the Amaranth block (:class:`Concat`), ``cost.py`` its cost model.
"""
import torch

from ...target import Resources, Target
from ..base import Activation, Op, Transfer
from . import cost
from .golden import concat
from .hw import Concat
from .layer import ConcatLayer
from .qonnx import concat_qonnx

__all__ = ["ConcatOp", "ConcatLayer", "Concat", "concat"]


class ConcatOp(Op):
    """The concatenation: two or more images in, a whole pixel per transfer on every input and
    the output."""
    name = "concat"
    layer = ConcatLayer
    inputs = 0

    def describe(self, layer: ConcatLayer) -> str:
        channels = " + ".join(str(c) for c in layer.channels)
        return f"({channels})x{layer.height}x{layer.width}"

    def output(self, layer: ConcatLayer, xs: list[Activation]) -> Activation:
        where = f"layer {layer.name!r}"
        if len(xs) != layer.inputs:
            raise ValueError(f"{where} concatenates {layer.inputs} images, but has {len(xs)} "
                             f"inputs")
        for k, (x, channels) in enumerate(zip(xs, layer.channels)):
            if x.windowed or (x.encoding, x.bits) != (layer.encoding, layer.bits):
                raise ValueError(f"{where} takes images of {layer.bits}-bit {layer.encoding} "
                                 f"elements, but its input {k} is "
                                 f"{'windows' if x.windowed else x.encoding} of {x.bits} bits")
            if (x.channels, x.height, x.width) != (channels, layer.height, layer.width):
                raise ValueError(f"{where} expects a {channels}x{layer.height}x{layer.width} "
                                 f"image on input {k}, but it is {x.channels}x{x.height}x"
                                 f"{x.width}")
        return Activation(layer.out_channels, layer.height, layer.width, layer.encoding,
                          layer.bits)

    def in_transfers(self, layer: ConcatLayer) -> list[Transfer]:
        return [Transfer(channels, layer.bits) for channels in layer.channels]

    def in_transfer(self, layer: ConcatLayer) -> Transfer:
        """The first input's transfer (:meth:`in_transfers` has every input's)."""
        return self.in_transfers(layer)[0]

    def out_transfer(self, layer: ConcatLayer) -> Transfer:
        return Transfer(layer.out_channels, layer.bits)

    def golden(self, layer: ConcatLayer, xs: list, dots: list | None = None) -> torch.Tensor:
        return concat(layer, xs)

    def qonnx(self, layer: ConcatLayer, builder, x, activation):
        return concat_qonnx(layer, builder, x, activation)

    def block(self, layer: ConcatLayer, target: Target) -> Concat:
        return Concat(layer)

    def terms(self, layer: ConcatLayer, target: Target) -> dict[str, float]:
        return cost.terms(layer, target)

    def resources(self, layer: ConcatLayer, target: Target) -> Resources:
        return cost.resources(layer, target)

    def folding_limit(self, layer: ConcatLayer, best: dict, *, max_pe_simd: int) -> str:
        return f"a pixel a cycle, {layer.pixels} pixels/frame"
