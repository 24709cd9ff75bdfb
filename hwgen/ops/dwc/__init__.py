"""The data width converter (FINN's StreamingDataWidthConverter) the network assembly places
where a producer's transfers are not its consumer's.

``layer.py`` holds its parameters (:class:`DWCLayer`), ``hw.py`` the Amaranth block
(:class:`WidthConverter`), ``cost.py`` its cost model.
"""
from ...target import Resources, Target
from ..base import Activation, Op, Transfer
from . import cost
from .hw import WidthConverter
from .layer import DWCLayer, dwc_capacity

__all__ = ["DWCOp", "DWCLayer", "WidthConverter", "dwc_capacity"]


class DWCOp(Op):
    """A width converter passes its elements on, in order, in transfers of another width."""
    name = "dwc"
    layer = DWCLayer
    graph_layer = False

    def output(self, layer: DWCLayer, x: Activation) -> Activation:
        return x

    def in_transfer(self, layer: DWCLayer) -> Transfer:
        return Transfer(layer.in_elements, layer.bits)

    def out_transfer(self, layer: DWCLayer) -> Transfer:
        return Transfer(layer.out_elements, layer.bits)

    def golden(self, layer: DWCLayer, x, dots: list | None = None):
        return x

    def block(self, layer: DWCLayer, target: Target) -> WidthConverter:
        return WidthConverter(in_width=layer.in_width, out_width=layer.out_width,
                              vector_width=layer.vector_width, pad_width=layer.pad_width)

    def terms(self, layer: DWCLayer, target: Target) -> dict[str, float]:
        return cost.terms(layer, target)

    def resources(self, layer: DWCLayer, target: Target) -> Resources:
        return cost.resources(layer, target)
