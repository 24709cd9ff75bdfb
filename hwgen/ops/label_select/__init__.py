"""The label select (FINN's LabelSelect, top-1) that ends every network: each frame's class
and logits.

``layer.py`` holds its parameters (:class:`LabelSelectLayer`), ``hw.py`` the Amaranth block
(:class:`LabelSelect`), ``cost.py`` its cost model (none: it is not modelled).
"""
import numpy as np
import torch

from ...target import Resources, Target
from ..base import Activation, Op, Transfer
from . import cost
from .hw import LabelSelect, compare_stages, result_layout
from .layer import LabelSelectLayer

__all__ = ["LabelSelectOp", "LabelSelectLayer", "LabelSelect", "label_select", "result_layout",
           "compare_stages"]


def label_select(logits) -> np.ndarray:
    """Index of the largest logit; the lowest index wins a tie (as ``torch.argmax``)."""
    return torch.as_tensor(logits).argmax(dim=1).numpy()


class LabelSelectOp(Op):
    """The label select: a frame's logits in, one result (class and logits) out."""
    name = "label_select"
    layer = LabelSelectLayer
    graph_layer = False

    def output(self, layer: LabelSelectLayer, x: Activation) -> Activation:
        return Activation(1, 1, 1, "uint", max(1, (layer.classes - 1).bit_length()))

    def in_transfer(self, layer: LabelSelectLayer) -> Transfer:
        return Transfer(layer.pe, layer.logit_bits)

    def out_transfer(self, layer: LabelSelectLayer) -> Transfer:
        return Transfer(1, result_layout(layer.classes, layer.logit_bits).size)

    def golden(self, layer: LabelSelectLayer, x, dots: list | None = None) -> torch.Tensor:
        """The classes (N, 1) of logits ``x`` (N, classes)."""
        return torch.as_tensor(label_select(x))[:, None]

    def block(self, layer: LabelSelectLayer, target: Target) -> LabelSelect:
        return LabelSelect(classes=layer.classes, pe=layer.pe, logit_bits=layer.logit_bits)

    def terms(self, layer: LabelSelectLayer, target: Target) -> dict[str, float]:
        """None: the label select is not modelled (:mod:`.cost`)."""
        return cost.terms(layer, target)

    def resources(self, layer: LabelSelectLayer, target: Target) -> Resources:
        """Zero: the label select is not modelled (:mod:`.cost`)."""
        return cost.resources(layer, target)
