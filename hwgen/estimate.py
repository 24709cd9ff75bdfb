"""Resource estimates of layers and graphs: a third reader of the IR, beside the golden model
and the network assembly.

Each op's cost model (``hwgen/ops/<op>/cost.py``, answered by :meth:`hwgen.ops.Op.resources`
and :meth:`~hwgen.ops.Op.terms`) counts its block's parts from the structure the block builds,
with its memories where the target puts them and its LUTs priced by the target's calibrated
coefficients, in the units the target's build report counts (:class:`hwgen.target.Resources`).
This module reads them for a layer (by dispatch through :func:`hwgen.ops.op_for`) and for a
graph (its layers and the width converters between them).

Every reader takes the FPGA family's :class:`~hwgen.target.Target`; where no board is known it
is :data:`hwgen.target.DEFAULT_TARGET` (ECP5), where one is, the board's ``target``.
"""
from .ir import Graph, converter
from .ops import op_for
from .target import DEFAULT_TARGET, Resources, Target

__all__ = ["estimate_layer", "layer_terms", "estimate_graph", "converter", "in_width",
           "out_width"]


def estimate_layer(layer, target: Target = DEFAULT_TARGET) -> Resources:
    """Resources of the block ``layer`` becomes (at its folding) on ``target``: a graph's
    layer, or one the network assembly places (FIFO, width converter, label select).

    Raises
    ------
    UnknownOpError
        No registered op answers for ``layer``.
    """
    return op_for(layer).resources(layer, target)


def layer_terms(layer, target: Target = DEFAULT_TARGET) -> dict[str, float]:
    """The counts the LUT estimate of ``layer`` weighs with ``target.coefficients[layer.op]``
    (a cim MVTU's with ``["cim"]``)."""
    return op_for(layer).terms(layer, target)


def in_width(layer) -> int:
    """Bits per transfer of a layer's input stream (its op's input transfer)."""
    return op_for(layer).in_transfer(layer).width


def out_width(layer) -> int:
    """Bits per transfer of a layer's output stream (its op's output transfer)."""
    return op_for(layer).out_transfer(layer).width


def estimate_graph(graph: Graph, target: Target = DEFAULT_TARGET, *,
                   converters: bool = True) -> Resources:
    """Resources of ``graph``'s layers on ``target`` and, with ``converters``, of the width
    converters on its edges: what the auto-folder weighs (:mod:`hwgen.passes.fold`). The FIFOs,
    sized after folding, the forks and the label select are not counted."""
    total = sum((estimate_layer(layer, target) for layer in graph.layers), Resources())
    if converters:
        entry = graph.input_converter()
        if entry is not None:
            total = total + estimate_layer(entry, target)
        layers = {layer.name: layer for layer in graph.layers}
        for edge in graph.edges():
            between = converter(layers[edge.producer], layers[edge.consumer], edge.port)
            if between is not None:
                total = total + estimate_layer(between, target)
    return total
