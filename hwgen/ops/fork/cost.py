"""The stream fork's cost model: the resources of its block (:class:`~hwgen.ops.fork.hw.Fork`),
counted from the structure it builds; its LUTs weighed by ``target.coefficients["fork"]``."""
from ...target import Resources, Target
from ..costing import luts
from .layer import ForkLayer

__all__ = ["terms", "resources"]


def terms(layer: ForkLayer, target: Target) -> dict[str, float]:
    """LUT terms of a :class:`~hwgen.ops.fork.hw.Fork`: ``output`` per output (its valid
    gate, its delivered flag's next state, its share of the AND making ``i.ready``); the
    payload is wires."""
    return {"output": layer.outputs, "control": 1}


def resources(layer: ForkLayer, target: Target) -> Resources:
    """Resources of a :class:`~hwgen.ops.fork.hw.Fork`: a delivered flag per output."""
    return Resources(luts(target, "fork", terms(layer, target)), layer.outputs, 0)
