"""The streaming average pool with an integer result (FINN's Pool_Batch with a sum, and its
global-average form), stride equal to the kernel.

``layer.py`` holds the IR layer (:class:`AvgPoolLayer`), ``golden.py`` its torch model,
``hw.py`` the Amaranth block (:class:`AvgPool`), ``cost.py`` its cost model.
"""
import torch

from ...target import Resources, Target
from ..base import Activation, Op, Transfer, divisors
from . import cost
from .golden import avgpool
from .hw import AvgPool
from .layer import AvgPoolLayer

__all__ = ["AvgPoolOp", "AvgPoolLayer", "AvgPool", "avgpool"]


class AvgPoolOp(Op):
    """The average pool: ``pe`` channels per transfer, in and out; its output elements are
    ``uint`` window sums of :attr:`AvgPoolLayer.out_bits` bits."""
    name = "avgpool"
    layer = AvgPoolLayer

    def output(self, layer: AvgPoolLayer, x: Activation) -> Activation:
        where = f"layer {layer.name!r}"
        if x.windowed or x.encoding == "int":
            raise ValueError(f"{where}: average pooling takes an image of activations")
        if layer.elem_bits != x.bits:
            raise ValueError(f"{where} has elem_bits={layer.elem_bits}, but its input has "
                             f"{x.bits} bits per element")
        if (layer.channels, layer.height, layer.width) != (x.channels, x.height, x.width):
            raise ValueError(f"{where} expects a {layer.channels}x{layer.height}x{layer.width} "
                             f"image, but its input is {x.channels}x{x.height}x{x.width}")
        return Activation(layer.channels, layer.out_height, layer.out_width, "uint",
                          layer.out_bits)

    def in_transfer(self, layer: AvgPoolLayer) -> Transfer:
        return Transfer(layer.pe, layer.elem_bits)

    def out_transfer(self, layer: AvgPoolLayer) -> Transfer:
        return Transfer(layer.pe, layer.out_bits)

    def golden(self, layer: AvgPoolLayer, x, dots: list | None = None) -> torch.Tensor:
        return avgpool(layer, x)

    def block(self, layer: AvgPoolLayer, target: Target) -> AvgPool:
        return AvgPool(layer)

    def terms(self, layer: AvgPoolLayer, target: Target) -> dict[str, float]:
        return cost.terms(layer, target)

    def resources(self, layer: AvgPoolLayer, target: Target) -> Resources:
        return cost.resources(layer, target)

    def folding(self, layer: AvgPoolLayer) -> dict:
        return {"pe": layer.pe}

    def foldings(self, layer: AvgPoolLayer, *, max_pe_simd: int) -> list[dict]:
        """``pe`` dividing ``channels``."""
        return [{"pe": pe} for pe in divisors(layer.channels)]

    def folding_limit(self, layer: AvgPoolLayer, best: dict, *, max_pe_simd: int) -> str:
        return f"pe = channels, {layer.in_elements} elements/frame"
