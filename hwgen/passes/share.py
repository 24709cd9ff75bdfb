"""Share results: conv MVTUs as shared convolution units (:mod:`hwgen.ops.smvtu`).

:func:`share_results` is a pass over the IR: each named conv MVTU becomes the
:class:`~hwgen.ops.SharedMVTULayer` of its weights' exact sharing (repeated and inverse 2-D
filters; the similar ones are shared once training has tied them), fully parallel (one window a
cycle, every output channel at once). Its sliding-window generator then moves a whole pixel
(all its channels) per transfer, and a max-pool right after it takes all its channels per
transfer. The network computes the same function.
"""
import dataclasses

from ..ir import Graph
from ..ops import MaxPoolLayer, MVTULayer, SharedMVTULayer, SWGLayer

__all__ = ["share_results"]


def share_results(graph: Graph, names) -> Graph:
    """``graph`` with the conv MVTUs named in ``names`` shared; ValueError naming a layer that
    is not a digital conv MVTU behind its sliding-window generator."""
    names = set(names)
    layers = list(graph.layers)
    found = set()
    for index, layer in enumerate(layers):
        if layer.name not in names:
            continue
        window = layers[index - 1] if index else None
        if not isinstance(layer, MVTULayer) or not isinstance(window, SWGLayer) \
                or layer.macro is not None:
            raise ValueError(f"layer {layer.name!r} is not a digital conv MVTU behind a sliding "
                             f"window: nothing to share")
        positions = window.kernel[0] * window.kernel[1]
        layers[index] = SharedMVTULayer.of(
            dataclasses.replace(layer, pe=layer.mh, simd=layer.mw, ram_style="auto"), positions)
        layers[index - 1] = dataclasses.replace(window, simd=window.channels)
        after = layers[index + 1] if index + 1 < len(layers) else None
        if isinstance(after, MaxPoolLayer) and graph.sources[index + 1] == (layer.name,):
            layers[index + 1] = dataclasses.replace(after, pe=after.channels)
        found.add(layer.name)
    if found != names:
        raise ValueError(f"no layers {', '.join(sorted(names - found))} to share")
    return dataclasses.replace(graph, layers=tuple(layers))
