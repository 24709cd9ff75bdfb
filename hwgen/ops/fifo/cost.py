"""The stream FIFO's cost model: the resources of its block (:class:`~hwgen.ops.fifo.hw.StreamFIFO`,
Amaranth's ``SyncFIFOBuffered``: a FIFO of ``depth - 1`` words and an output register), with its
memory where the target puts it; its LUTs weighed by ``target.coefficients["fifo"]``."""
from ...target import MemoryMap, Resources, Target
from ..costing import add_terms, counter_bits, luts
from .layer import FIFOLayer

__all__ = ["terms", "resources"]


def _memory(layer: FIFOLayer, target: Target) -> MemoryMap | None:
    # SyncFIFOBuffered: a SyncFIFO of depth - 1 and an output register
    return target.map_memory(layer.depth - 1, layer.width, rom=False) if layer.depth > 1 else None


def terms(layer: FIFOLayer, target: Target) -> dict[str, float]:
    """LUT terms of a :class:`~hwgen.ops.fifo.hw.StreamFIFO` of ``layer.depth`` words of
    ``layer.width`` bits."""
    memory = _memory(layer, target)
    result = {"counter": 3 * layer.depth.bit_length(), "data": layer.width, "control": 1}
    if memory is not None:
        add_terms(result, target.memory_terms(memory))
        if memory.kind == "bram":
            result["bram"] = 1
    return result


def resources(layer: FIFOLayer, target: Target) -> Resources:
    """Resources of a :class:`~hwgen.ops.fifo.hw.StreamFIFO`: its pointers and level, the
    output register, the memory (the fill-level port of a monitored FIFO is not counted)."""
    memory = _memory(layer, target)
    ffs = 3 * layer.depth.bit_length() + 2 + layer.width
    brams = 0
    if memory is not None:
        ffs += target.memory_ffs(memory, address_bits=counter_bits(memory.depth))
        brams = memory.brams
    return Resources(luts(target, "fifo", terms(layer, target)), ffs, brams)
