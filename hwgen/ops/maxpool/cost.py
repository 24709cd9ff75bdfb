"""The max-pool's cost model: the resources of its block (:class:`~hwgen.ops.maxpool.hw.MaxPool`),
counted from the structure it builds (:func:`hwgen.ops.costing.pool_terms`), with its row of
partial maxima where the target puts it; its LUTs weighed by ``target.coefficients["maxpool"]``."""
from ...target import Resources, Target
from ..costing import pool_resources, pool_terms
from .layer import MaxPoolLayer

__all__ = ["terms", "resources"]


def terms(layer: MaxPoolLayer, target: Target) -> dict[str, float]:
    """LUT terms of a :class:`~hwgen.ops.maxpool.hw.MaxPool`: ``data`` per bit of a transfer
    (the OR or maximum, its restart, the output and skid multiplexers)."""
    return {**pool_terms(layer, target, layer.pe * layer.elem_bits),
            "data": layer.pe * layer.elem_bits}


def resources(layer: MaxPoolLayer, target: Target) -> Resources:
    """Resources of a :class:`~hwgen.ops.maxpool.hw.MaxPool`."""
    return pool_resources(layer, target, "maxpool", terms(layer, target),
                          layer.pe * layer.elem_bits)
