"""The streaming average pool with an integer result (FINN's Pool_Batch with a sum, and its
global-average form), stride equal to the kernel.

``layer.py`` holds the IR layer (:class:`AvgPoolLayer`), ``golden.py`` its torch model,
``hw.py`` the Amaranth block (:class:`AvgPool`), ``cost.py`` its cost model.
"""
import torch

from ...target import Resources, Target
from ..base import Activation, Transfer
from ..pooling import PoolOp
from . import cost
from .golden import avgpool
from .hw import AvgPool
from .layer import AvgPoolLayer
from .qonnx import avgpool_qonnx

__all__ = ["AvgPoolOp", "AvgPoolLayer", "AvgPool", "avgpool"]


class AvgPoolOp(PoolOp):
    """The average pool: ``pe`` channels per transfer, in and out; its output elements are
    ``uint`` window sums of :attr:`AvgPoolLayer.out_bits` bits."""
    name = "avgpool"
    layer = AvgPoolLayer

    def output(self, layer: AvgPoolLayer, x: Activation) -> Activation:
        self.check_input(layer, x, "average pooling")
        return Activation(layer.channels, layer.out_height, layer.out_width, "uint",
                          layer.out_bits)

    def out_transfer(self, layer: AvgPoolLayer) -> Transfer:
        return Transfer(layer.pe, layer.out_bits)

    def golden(self, layer: AvgPoolLayer, x, dots: list | None = None) -> torch.Tensor:
        return avgpool(layer, x)

    def qonnx(self, layer: AvgPoolLayer, builder, x, activation):
        return avgpool_qonnx(layer, builder, x, activation)

    def block(self, layer: AvgPoolLayer, target: Target) -> AvgPool:
        return AvgPool(layer)

    def terms(self, layer: AvgPoolLayer, target: Target) -> dict[str, float]:
        return cost.terms(layer, target)

    def resources(self, layer: AvgPoolLayer, target: Target) -> Resources:
        return cost.resources(layer, target)
