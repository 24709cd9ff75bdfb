"""The average pool's cost model: the resources of its block
(:class:`~hwgen.ops.avgpool.hw.AvgPool`), counted from the structure it builds
(:func:`hwgen.ops.costing.pool_terms`), with its row of partial sums where the target puts it;
its LUTs weighed by ``target.coefficients["avgpool"]``."""
from ...target import Resources, Target
from ..costing import pool_resources, pool_terms
from .layer import AvgPoolLayer

__all__ = ["terms", "resources"]


def terms(layer: AvgPoolLayer, target: Target) -> dict[str, float]:
    """LUT terms of an :class:`~hwgen.ops.avgpool.hw.AvgPool`: ``adder`` per bit of the lanes'
    accumulating adders (with their restart, the output and skid multiplexers)."""
    return {**pool_terms(layer, target, layer.pe * layer.out_bits),
            "adder": layer.pe * layer.out_bits}


def resources(layer: AvgPoolLayer, target: Target) -> Resources:
    """Resources of an :class:`~hwgen.ops.avgpool.hw.AvgPool`."""
    return pool_resources(layer, target, "avgpool", terms(layer, target),
                          layer.pe * layer.out_bits)
