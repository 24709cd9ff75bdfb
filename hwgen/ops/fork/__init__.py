"""The stream fork (FINN's StreamingFork / DuplicateStreams) the network assembly places where
one layer's output feeds several layers.

``layer.py`` holds its parameters (:class:`ForkLayer`), ``hw.py`` the Amaranth block
(:class:`Fork`), ``cost.py`` its cost model.
"""
from ...target import Resources, Target
from ..base import Activation, Op, Transfer
from . import cost
from .hw import Fork
from .layer import ForkLayer

__all__ = ["ForkOp", "ForkLayer", "Fork"]


class ForkOp(Op):
    """A fork passes its transfers on unchanged, to each of its outputs."""
    name = "fork"
    layer = ForkLayer
    graph_layer = False

    def output(self, layer: ForkLayer, x: Activation) -> Activation:
        return x

    def in_transfer(self, layer: ForkLayer) -> Transfer:
        return Transfer(layer.elements, layer.bits)

    def out_transfer(self, layer: ForkLayer) -> Transfer:
        return Transfer(layer.elements, layer.bits)

    def golden(self, layer: ForkLayer, x, dots: list | None = None):
        return x

    def block(self, layer: ForkLayer, target: Target) -> Fork:
        return Fork(layer)

    def terms(self, layer: ForkLayer, target: Target) -> dict[str, float]:
        return cost.terms(layer, target)

    def resources(self, layer: ForkLayer, target: Target) -> Resources:
        return cost.resources(layer, target)
