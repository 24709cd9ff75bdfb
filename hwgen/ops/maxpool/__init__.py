"""The streaming max-pool (FINN's StreamingMaxPool), stride equal to the kernel.

``layer.py`` holds the IR layer (:class:`MaxPoolLayer`), ``golden.py`` its torch model,
``hw.py`` the Amaranth block (:class:`MaxPool`), ``cost.py`` its cost model.
"""
import torch

from ...target import Resources, Target
from ..base import Activation, Transfer
from ..pooling import PoolOp
from . import cost
from .golden import maxpool
from .hw import MaxPool
from .layer import MaxPoolLayer
from .qonnx import maxpool_qonnx

__all__ = ["MaxPoolOp", "MaxPoolLayer", "MaxPool", "maxpool"]


class MaxPoolOp(PoolOp):
    """The max-pool: ``pe`` channels per transfer, in and out."""
    name = "maxpool"
    layer = MaxPoolLayer

    def output(self, layer: MaxPoolLayer, x: Activation) -> Activation:
        self.check_input(layer, x, "max-pool")
        return Activation(layer.channels, layer.out_height, layer.out_width, x.encoding, x.bits)

    def out_transfer(self, layer: MaxPoolLayer) -> Transfer:
        return Transfer(layer.pe, layer.elem_bits)

    def golden(self, layer: MaxPoolLayer, x, dots: list | None = None) -> torch.Tensor:
        return maxpool(layer, x)

    def qonnx(self, layer: MaxPoolLayer, builder, x, activation):
        return maxpool_qonnx(layer, builder, x, activation)

    def block(self, layer: MaxPoolLayer, target: Target) -> MaxPool:
        return MaxPool(layer)

    def terms(self, layer: MaxPoolLayer, target: Target) -> dict[str, float]:
        return cost.terms(layer, target)

    def resources(self, layer: MaxPoolLayer, target: Target) -> Resources:
        return cost.resources(layer, target)
