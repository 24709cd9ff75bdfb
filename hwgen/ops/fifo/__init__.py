"""The stream FIFO the network assembly places after every layer but the last.

``layer.py`` holds its parameters (:class:`FIFOLayer`), ``hw.py`` the Amaranth block
(:class:`StreamFIFO`), ``cost.py`` its cost model.
"""
from amaranth.hdl import unsigned

from ...target import Resources, Target
from ..base import Activation, Op, Transfer
from . import cost
from .hw import StreamFIFO
from .layer import FIFOLayer

__all__ = ["FIFOOp", "FIFOLayer", "StreamFIFO"]


class FIFOOp(Op):
    """A FIFO passes its transfers on unchanged."""
    name = "fifo"
    layer = FIFOLayer
    graph_layer = False

    def output(self, layer: FIFOLayer, x: Activation) -> Activation:
        return x

    def in_transfer(self, layer: FIFOLayer) -> Transfer:
        return Transfer(layer.elements, layer.bits)

    def out_transfer(self, layer: FIFOLayer) -> Transfer:
        return Transfer(layer.elements, layer.bits)

    def golden(self, layer: FIFOLayer, x, dots: list | None = None):
        return x

    def block(self, layer: FIFOLayer, target: Target) -> StreamFIFO:
        return StreamFIFO(shape=unsigned(layer.width), depth=layer.depth,
                          monitored=layer.monitored)

    def terms(self, layer: FIFOLayer, target: Target) -> dict[str, float]:
        return cost.terms(layer, target)

    def resources(self, layer: FIFOLayer, target: Target) -> Resources:
        return cost.resources(layer, target)
