"""The add's cost model: the resources of its block (:class:`~hwgen.ops.add.hw.Add`), counted
from the structure it builds, its threshold ROM (read asynchronously) where the target puts
it; its LUTs weighed by ``target.coefficients["add"]``."""
from ...target import MemoryMap, Resources, Target
from ..costing import add_terms, counter_bits, luts
from .layer import AddLayer

__all__ = ["terms", "resources"]


def _thresholds(layer: AddLayer, target: Target) -> MemoryMap | None:
    if layer.thresholds is None:
        return None
    return target.map_memory(layer.cf, layer.pe * (layer.steps * layer.threshold_bits + 1),
                             rom=True, async_read=True)


def _merged(memory: MemoryMap, target: Target) -> bool:
    """Whether the threshold ROM is a constant, or a ROM in logic small enough to merge into
    the comparators' LUTs (:attr:`hwgen.target.Target.merged_rom_words`)."""
    return memory.kind == "const" or (memory.kind == "logic"
                                      and memory.depth <= target.merged_rom_words)


def terms(layer: AddLayer, target: Target) -> dict[str, float]:
    """LUT terms of an :class:`~hwgen.ops.add.hw.Add`. An integer sum: ``sum`` per bit of the
    lanes' sums (its adder, the output and skid multiplexers). Thresholded: ``compare`` per
    threshold bit compared (synthesis folds the lane's adder, its invert and the count of a
    multi-step lane into the comparators), ``select`` per threshold bit and channel fold
    counter bit where the ROM merges into the comparators (each compares against the group's
    threshold), else the ROM's own terms; the channel fold counter."""
    pe, steps = layer.pe, layer.steps
    if layer.thresholds is None:
        return {"sum": pe * layer.sum_bits, "control": 1}
    memory = _thresholds(layer, target)
    compared = pe * steps * layer.threshold_bits
    result = {"compare": compared, "counter": counter_bits(layer.cf), "control": 1}
    if _merged(memory, target):
        result["select"] = compared * counter_bits(layer.cf)
    else:
        add_terms(result, target.memory_terms(memory))
    return result


def resources(layer: AddLayer, target: Target) -> Resources:
    """Resources of an :class:`~hwgen.ops.add.hw.Add`: the output and skid registers, the
    channel fold counter, the threshold ROM's block RAMs where the target puts it there."""
    memory = _thresholds(layer, target)
    ffs = 2 + 2 * layer.pe * layer.out_bits
    if memory is not None:
        ffs += counter_bits(layer.cf)
    return Resources(luts(target, "add", terms(layer, target)), ffs,
                     0 if memory is None else memory.brams)
