"""Golden model of a whole :class:`hwgen.ir.Graph`: each layer's op's golden model
(:meth:`hwgen.ops.Op.golden`) in the graph's order, on the outputs of the layers it reads,
and the label select at its end."""
from dataclasses import dataclass

import numpy as np
import torch

from ..ir import GRAPH_INPUT, Graph
from ..ops import op_for
from ..ops.label_select import label_select

__all__ = ["GoldenResult", "run_graph", "run_graphs", "run_layer", "run_layers",
           "label_select"]


@dataclass(frozen=True)
class GoldenResult:
    dots: list          # per MVTU layer, (N, pixels, mh) int64 dot products
    logits: np.ndarray  # (N, classes) int64
    labels: np.ndarray  # (N,) int64: argmax, lowest index on ties

    def accuracy(self, expected) -> float:
        return float(np.mean(self.labels == np.asarray(expected)))


def run_layer(layer, x, dots: list | None = None) -> torch.Tensor:
    """One layer on activations ``x`` (N, elements) in stream order (a list of them, one per
    input, for an op reading several streams); returns the next ones.

    An MVTU reads ``x`` as ``pixels`` vectors of ``in_elements`` elements (windows, pixels, or the
    whole flattened frame) and appends its dot products (N, pixels, mh) to ``dots``.
    """
    x = [torch.as_tensor(v) for v in x] if isinstance(x, (list, tuple)) else torch.as_tensor(x)
    return op_for(layer).golden(layer, x, dots)


def _walk(graph: Graph, x: torch.Tensor, dots: list | None, shared: dict | None = None):
    """Each layer's output, in the graph's order, from the frames ``x``.

    ``shared`` (by :func:`run_graphs`) keeps each layer's output and dot products by the
    layer object: a layer found there, all of whose inputs were found there too, is not run
    again."""
    made, reused = {GRAPH_INPUT: x}, {GRAPH_INPUT}
    for layer, sources in zip(graph.layers, graph.sources):
        kept = shared.get(id(layer)) if shared is not None else None
        if kept is not None and kept[0] is layer and reused.issuperset(sources):
            _, made[layer.name], layer_dots = kept
            reused.add(layer.name)
        else:
            ins = [made[name] for name in sources]
            layer_dots = []
            made[layer.name] = run_layer(layer, ins if op_for(layer).inputs != 1 else ins[0],
                                         layer_dots)
            if shared is not None:
                shared[id(layer)] = (layer, made[layer.name], layer_dots)
        if dots is not None:
            dots.extend(layer_dots)
        yield made[layer.name]


def _frames(graph: Graph, frames) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(graph.test_frames if frames is None else frames).astype(np.int64))
    if x.ndim != 2 or x.shape[1] != graph.input_elements:
        raise ValueError(f"frames must have shape (N, {graph.input_elements}), not {tuple(x.shape)}")
    return x


def run_layers(graph: Graph, frames=None) -> list[np.ndarray]:
    """Every layer's output (N, elements) for ``frames`` (default: the IR's test frames), in
    stream order: what each layer's block streams out, element by element."""
    return [x.numpy() for x in _walk(graph, _frames(graph, frames), None)]


def run_graph(graph: Graph, frames=None) -> GoldenResult:
    """Run ``frames`` (N, input elements) in stream order (default: the IR's test frames)."""
    return run_graphs([graph], frames)[0]


def run_graphs(graphs, frames=None) -> list[GoldenResult]:
    """:func:`run_graph` of each of ``graphs`` on the same ``frames`` (default: the first
    graph's test frames). Variants of one graph (a sweep that replaces some layers, keeping
    the other layer objects) run each kept layer once, where its inputs are kept too: a
    change to a late layer runs the graph again from there."""
    graphs = list(graphs)
    if not graphs:
        return []
    x = _frames(graphs[0], frames)
    shared, results = {}, []
    for graph in graphs:
        if graph.input_elements != x.shape[1]:
            raise ValueError(f"frames must have shape (N, {graph.input_elements}), "
                             f"not {tuple(x.shape)}")
        dots = []
        for out in _walk(graph, x, dots, shared):
            pass
        logits = out.numpy().astype(np.int64)
        results.append(GoldenResult(dots=dots, logits=logits, labels=label_select(logits)))
    return results
