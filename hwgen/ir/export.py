"""Fold a trained :class:`hwgen.nn.BNN` into the integer IR.

Batch norm + sign become one integer threshold per neuron, found by evaluating the model's own
eval-mode batch norm on every dot product the layer can produce (-mw, -mw+2, ..., mw). Float
rounding is monotone, so the output is monotone in the dot product; the threshold is where it
changes. This makes the IR agree with the model's binarized inference exactly, with no float
tolerance: the export is checked against the model on the whole test set.
"""
import numpy as np
import torch

from ..nn.model import BNN
from ..spec import Spec
from . import Graph, MVTULayer

__all__ = ["export_graph", "fold_threshold"]


@torch.no_grad()
def fold_threshold(norm: torch.nn.BatchNorm1d, mw: int) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds on the dot product and invert flags reproducing ``sign(norm(dot)) >= 0``
    exactly, for the dot products of ``mw`` bipolar inputs (-mw, -mw + 2, ..., mw)."""
    norm.eval()
    p = torch.arange(mw + 1)
    dots = (2 * p - mw).to(torch.float32)
    fires = (norm(dots[:, None].expand(-1, norm.num_features).contiguous()) >= 0).numpy()  # (mw+1, mh)
    thresholds = np.empty(norm.num_features, dtype=np.int64)
    invert = np.zeros(norm.num_features, dtype=bool)
    for n in range(norm.num_features):
        column = fires[:, n]
        rising = np.all(column[1:] >= column[:-1])
        falling = np.all(column[1:] <= column[:-1])
        if not (rising or falling):
            raise ValueError(f"batch norm output of neuron {n} is not monotone")
        if rising:   # fires from the first True on
            thresholds[n] = np.argmax(column) if column.any() else mw + 1
        else:        # fires until the first False: invert (p >= first False)
            invert[n] = True
            thresholds[n] = np.argmin(column)
    return 2 * thresholds - mw, invert


@torch.no_grad()
def export_graph(model: BNN, spec: Spec, test_x: np.ndarray, test_y: np.ndarray,
                 meta: dict | None = None) -> Graph:
    """The IR of ``model`` with the spec's folding, carrying the test frames for verification."""
    if not model.binary:
        raise ValueError("only a binary model can be exported")
    model.eval()
    layers = []
    for index, (linear, layer_spec) in enumerate(zip(model.linears, spec.model.layers)):
        weights = (linear.binary_weight() > 0).numpy()
        thresholds = invert = None
        if index < len(model.norms):
            thresholds, invert = fold_threshold(model.norms[index], linear.in_features)
        layers.append(MVTULayer(
            name=f"fc{index}", mw=linear.in_features, mh=linear.out_features,
            pe=layer_spec.folded_pe, simd=layer_spec.folded_simd,
            weights=weights, thresholds=thresholds, invert=invert))
    return Graph(name=spec.name, input_bits=spec.data.features, classes=spec.data.classes,
                 layers=tuple(layers), test_frames=test_x, test_labels=test_y, meta=meta or {})


@torch.no_grad()
def check_export(model: BNN, graph: Graph) -> None:
    """Raise unless the golden model of ``graph`` equals ``model``'s binarized inference on the
    graph's test frames: same integer pre-activations in every layer, same classes."""
    from ..errors import HwgenError
    from ..golden import run_graph
    model.eval()
    trace = []
    logits = model(torch.as_tensor(graph.test_frames), trace)
    golden = run_graph(graph)
    for index, (dot, expected) in enumerate(zip(trace, golden.dots)):
        if not np.array_equal(dot.numpy().astype(np.int64), expected):
            raise HwgenError(f"export check failed: layer {index} pre-activations differ from the model")
    if not np.array_equal(logits.argmax(dim=1).numpy(), golden.labels):
        raise HwgenError("export check failed: golden classes differ from the model")
