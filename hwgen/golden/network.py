"""Golden model of a whole :class:`hwgen.ir.Graph` (and of the label select at its end)."""
from dataclasses import dataclass

import numpy as np
import torch

from ..ir import Graph
from .mvtu import mvtu, mvtu_dot

__all__ = ["GoldenResult", "run_graph", "label_select"]


@dataclass(frozen=True)
class GoldenResult:
    dots: list          # per layer, (N, mh) int64 dot products
    logits: np.ndarray  # (N, classes) int64
    labels: np.ndarray  # (N,) int64: argmax, lowest index on ties

    def accuracy(self, expected) -> float:
        return float(np.mean(self.labels == np.asarray(expected)))


def label_select(logits) -> np.ndarray:
    """Index of the largest logit; the lowest index wins a tie (as ``torch.argmax``)."""
    return torch.as_tensor(logits).argmax(dim=1).numpy()


def run_graph(graph: Graph, frames=None) -> GoldenResult:
    """Run ``frames`` (N, input_bits) of 0/1 (default: the IR's test frames) through ``graph``."""
    x = torch.as_tensor(graph.test_frames if frames is None else np.asarray(frames))
    dots = []
    for layer in graph.layers:
        dots.append(mvtu_dot(layer, x).numpy())
        x = mvtu(layer, x)
    logits = x.numpy().astype(np.int64)
    return GoldenResult(dots=dots, logits=logits, labels=label_select(logits))
