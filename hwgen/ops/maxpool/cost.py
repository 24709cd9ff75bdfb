"""The max-pool's cost model: the resources of its block (:class:`~hwgen.ops.maxpool.hw.MaxPool`),
counted from the structure it builds, with its row of partial maxima where the target puts
it; its LUTs weighed by ``target.coefficients["maxpool"]``."""
from ...target import MemoryMap, Resources, Target
from ..costing import add_terms, counter_bits, luts
from .layer import MaxPoolLayer

__all__ = ["terms", "resources"]


def _partial_row(layer: MaxPoolLayer, target: Target) -> MemoryMap:
    """The partial maxima of an output row: read asynchronously (a combinational port)."""
    return target.map_memory(layer.out_width * layer.cf, layer.pe * layer.elem_bits, rom=False,
                             async_read=True)


def _counter_bits(layer: MaxPoolLayer) -> int:
    return (counter_bits(layer.height) + counter_bits(layer.width) + counter_bits(layer.cf)
            + counter_bits(layer.kernel[0]) + counter_bits(layer.kernel[1])
            + layer.out_width.bit_length())


def _address_multipliers(factor: int) -> int:
    """Multipliers of an address ``index * factor``: synthesis makes one unless ``factor`` is a
    power of two (a shift)."""
    return 0 if factor & (factor - 1) == 0 else 1


def terms(layer: MaxPoolLayer, target: Target) -> dict[str, float]:
    """LUT terms of a :class:`~hwgen.ops.maxpool.hw.MaxPool`."""
    result = {"counter": _counter_bits(layer), "data": layer.pe * layer.elem_bits,
              "control": 1}
    add_terms(result, target.memory_terms(_partial_row(layer, target)))
    if _address_multipliers(layer.cf) and not target.multipliers_in_dsps:
        result["multiply"] = _counter_bits(layer)       # the address multiplier, in logic
    return result


def resources(layer: MaxPoolLayer, target: Target) -> Resources:
    """Resources of a :class:`~hwgen.ops.maxpool.hw.MaxPool`: its address (output column,
    channel fold) is ``column * cf + fold``, a multiplier unless ``cf`` is a power of two."""
    memory = _partial_row(layer, target)
    ffs = _counter_bits(layer) + 2 + 2 * layer.pe * layer.elem_bits   # output, skid
    if memory.kind == "logic":
        ffs += memory.depth * memory.width
    return Resources(luts(target, "maxpool", terms(layer, target)), ffs, memory.brams,
                     _address_multipliers(layer.cf) if target.multipliers_in_dsps else 0)
