"""The VVAU's cost model: the resources of its block (:class:`~hwgen.ops.vvau.hw.VVAU`), counted
from the structure it builds, its memories (the row of partial sums, the weights and the
thresholds, all read asynchronously) where the target puts them; its LUTs weighed by
``target.coefficients["vvau"]``."""
from ...target import MemoryMap, Resources, Target
from ..costing import add_terms, address_multipliers, counter_bits, luts
from .layer import VVAULayer

__all__ = ["terms", "resources"]


def _memories(layer: VVAULayer, target: Target) -> list[MemoryMap]:
    pe, bits, cf = layer.pe, layer.acc_bits, layer.cf
    lane = (layer.levels - 1) * bits + 1
    return [target.map_memory(cf, pe * bits, rom=False, async_read=True),
            target.map_memory(layer.positions * cf, pe * layer.weight_bits, rom=True,
                              async_read=True),
            target.map_memory(cf, pe * lane, rom=True, async_read=True)]


def _counter_bits(layer: VVAULayer) -> int:
    return counter_bits(layer.cf) + counter_bits(layer.positions)


def terms(layer: VVAULayer, target: Target) -> dict[str, float]:
    """LUT terms of a :class:`~hwgen.ops.vvau.hw.VVAU`: ``accumulate`` per bit of a lane's
    partial sum (its +-1 term, restart, adder and first threshold compare); with multi-bit
    inputs or weights, ``product`` per partial-product bit of a lane's input times weight
    level (``in_bits x (weight_bits + 1)``); with ``act_bits > 1``, ``compare`` per bit of
    each further threshold compare; the memories', and the weight address ``k * CF + f``
    multiplier in logic unless ``CF`` is a power of two or the target has multipliers."""
    result = {"counter": _counter_bits(layer), "accumulate": layer.pe * layer.acc_bits,
              "control": 1}
    if layer.in_bits > 1 or layer.weight_bits > 1:
        result["product"] = layer.pe * layer.in_bits * (layer.weight_bits + 1)
    if layer.act_bits > 1:
        result["compare"] = layer.pe * layer.acc_bits * (layer.levels - 2)
    for memory in _memories(layer, target):
        add_terms(result, target.memory_terms(memory))
    if address_multipliers(layer.cf) and not target.multipliers_in_dsps:
        result["multiply"] = _counter_bits(layer)
    return result


def resources(layer: VVAULayer, target: Target) -> Resources:
    """Resources of a :class:`~hwgen.ops.vvau.hw.VVAU`: counters, output and skid registers;
    a memory the target puts in logic as flip-flops (the partial sums) or LUTs."""
    ffs = _counter_bits(layer) + 2 + 2 * layer.pe * layer.act_bits
    memories = _memories(layer, target)
    if memories[0].kind == "logic":
        ffs += memories[0].depth * memories[0].width
    return Resources(luts(target, "vvau", terms(layer, target)), ffs,
                     sum(memory.brams for memory in memories),
                     address_multipliers(layer.cf) if target.multipliers_in_dsps else 0)
