"""The shared convolution unit's cost model: the resources of :class:`~hwgen.ops.smvtu.hw.SharedMVTU`,
counted from the structure it builds (its weights are constants in the logic: no memory).

The LUT count is ``sum(target.coefficients["smvtu"][term] * count)`` over :func:`terms`:
``result``, the input bits of the distinct patterns' popcounts; ``adder``, the bits each output
channel's adder tree sums beyond its first term's;
``compare``, per threshold bit compared; ``logit``, per bit of a dot product out; ``output``,
per output bit (the output and skid registers' multiplexers); ``control``.
"""
from ...lib.popcount import pipelined_sum_bits
from ...target import Resources, Target
from ..base import bits_for
from ..costing import luts, tree_adder_luts
from ..mvtu.datapath import SUM_LEVELS_PER_STAGE
from .hw import shared_latency
from .layer import SharedMVTULayer

__all__ = ["terms", "resources"]


def terms(layer: SharedMVTULayer, target: Target) -> dict[str, float]:
    """LUT terms of the shared convolution unit of ``layer``."""
    width = bits_for(layer.positions)
    _, sum_width = tree_adder_luts(layer.channels, width)
    counted = {
        # Yosys maps a small popcount into LUT4s, and an output channel's sum into a
        # multi-operand adder over every bit of its terms beyond the first.
        "result": layer.positions * int(layer.counts.sum()),
        "adder": layer.mh * (layer.channels - 1) * width,
        "output": layer.mh * layer.out_bits,
        "control": 1,
    }
    if layer.output == "bits":
        counted["compare"] = layer.mh * (layer.levels - 1) * sum_width
    else:
        counted["logit"] = layer.mh * layer.out_bits
    return counted


def _sum_register_bits(layer: SharedMVTULayer) -> int:
    from amaranth.hdl import Signal
    width = bits_for(layer.positions)
    return pipelined_sum_bits([Signal(width) for _ in range(layer.channels)],
                              levels=SUM_LEVELS_PER_STAGE, register_terms=False)


def resources(layer: SharedMVTULayer, target: Target) -> Resources:
    """Resources of the unit on ``target``: LUTs from :func:`terms`; flip-flops register by
    register (the window, each distinct result, the adder trees' stages, the output and skid
    registers, the valid flags); no block RAM, no multiplier."""
    ffs = (layer.in_width + int(layer.counts.sum()) * bits_for(layer.positions)
           + layer.mh * _sum_register_bits(layer) + 2 * layer.mh * layer.out_bits
           + shared_latency(layer) + 2)
    return Resources(luts=luts(target, "smvtu", terms(layer, target)), ffs=ffs)
