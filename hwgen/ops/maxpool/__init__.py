"""The streaming max-pool (FINN's StreamingMaxPool), stride equal to the kernel.

``layer.py`` holds the IR layer (:class:`MaxPoolLayer`), ``golden.py`` its torch model,
``hw.py`` the Amaranth block (:class:`MaxPool`), ``cost.py`` its cost model.
"""
import torch

from ...target import Resources, Target
from ..base import Activation, Op, Transfer, divisors
from . import cost
from .golden import maxpool
from .hw import MaxPool
from .layer import MaxPoolLayer

__all__ = ["MaxPoolOp", "MaxPoolLayer", "MaxPool", "maxpool"]


class MaxPoolOp(Op):
    """The max-pool: ``pe`` channels per transfer, in and out."""
    name = "maxpool"
    layer = MaxPoolLayer

    def output(self, layer: MaxPoolLayer, x: Activation) -> Activation:
        where = f"layer {layer.name!r}"
        if x.windowed or x.encoding == "int":
            raise ValueError(f"{where}: max-pool takes an image of activations")
        if layer.elem_bits != x.bits:
            raise ValueError(f"{where} has elem_bits={layer.elem_bits}, but its input has "
                             f"{x.bits} bits per element")
        if (layer.channels, layer.height, layer.width) != (x.channels, x.height, x.width):
            raise ValueError(f"{where} expects a {layer.channels}x{layer.height}x{layer.width} "
                             f"image, but its input is {x.channels}x{x.height}x{x.width}")
        return Activation(layer.channels, layer.out_height, layer.out_width, x.encoding, x.bits)

    def in_transfer(self, layer: MaxPoolLayer) -> Transfer:
        return Transfer(layer.pe, layer.elem_bits)

    def out_transfer(self, layer: MaxPoolLayer) -> Transfer:
        return Transfer(layer.pe, layer.elem_bits)

    def golden(self, layer: MaxPoolLayer, x, dots: list | None = None) -> torch.Tensor:
        return maxpool(layer, x)

    def block(self, layer: MaxPoolLayer, target: Target) -> MaxPool:
        return MaxPool(layer)

    def terms(self, layer: MaxPoolLayer, target: Target) -> dict[str, float]:
        return cost.terms(layer, target)

    def resources(self, layer: MaxPoolLayer, target: Target) -> Resources:
        return cost.resources(layer, target)

    def folding(self, layer: MaxPoolLayer) -> dict:
        return {"pe": layer.pe}

    def foldings(self, layer: MaxPoolLayer, *, max_pe_simd: int) -> list[dict]:
        """``pe`` dividing ``channels``."""
        return [{"pe": pe} for pe in divisors(layer.channels)]

    def folding_limit(self, layer: MaxPoolLayer, best: dict, *, max_pe_simd: int) -> str:
        return f"pe = channels, {layer.in_elements} elements/frame"
