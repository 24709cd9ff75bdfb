"""The concatenation's cost model: the resources of its block
(:class:`~hwgen.ops.concat.hw.Concat`), counted from the structure it builds; its LUTs weighed
by ``target.coefficients["concat"]``."""
from ...target import Resources, Target
from ..costing import luts
from .layer import ConcatLayer

__all__ = ["terms", "resources"]


def terms(layer: ConcatLayer, target: Target) -> dict[str, float]:
    """LUT terms of a :class:`~hwgen.ops.concat.hw.Concat`: ``data`` per output bit (the
    output and skid multiplexers), ``input`` per input (its ``ready``, the AND of the others'
    ``valid``)."""
    return {"data": layer.out_channels * layer.bits, "input": layer.inputs, "control": 1}


def resources(layer: ConcatLayer, target: Target) -> Resources:
    """Resources of a :class:`~hwgen.ops.concat.hw.Concat`: the output and skid registers."""
    return Resources(luts(target, "concat", terms(layer, target)),
                     2 + 2 * layer.out_channels * layer.bits, 0)
