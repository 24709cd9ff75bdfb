"""The sliding-window generator's cost model: the resources of its block
(:class:`~hwgen.ops.swg.hw.SlidingWindow`), counted from the structure it builds, with its line
buffer where the target puts it; its LUTs weighed by ``target.coefficients["swg"]``."""
from ...target import MemoryMap, Resources, Target
from ..costing import add_terms, counter_bits, luts
from .layer import SWGLayer, ring_rows

__all__ = ["terms", "resources"]


def _line_buffer(layer: SWGLayer, target: Target) -> MemoryMap:
    return target.map_memory(ring_rows(layer) * layer.width * layer.cf,
                             layer.simd * layer.elem_bits, rom=False)


def _counter_bits(layer: SWGLayer, memory: MemoryMap) -> int:
    """Bits of the reader's and writer's counters (the LUTs of their steps)."""
    (kh, kw), (ph, pw) = layer.kernel, layer.padding
    reader = (counter_bits(layer.out_height) + counter_bits(layer.out_width) + counter_bits(kh)
              + counter_bits(kw) + 2 * counter_bits(layer.cf)
              + counter_bits(layer.height + kh + ph) + counter_bits(layer.width + kw + pw))
    writer = (counter_bits(layer.width) + counter_bits(layer.height + 1)
              + memory.depth.bit_length())
    return reader + writer


def terms(layer: SWGLayer, target: Target) -> dict[str, float]:
    """LUT terms of a :class:`~hwgen.ops.swg.hw.SlidingWindow`."""
    memory = _line_buffer(layer, target)
    result = {"counter": _counter_bits(layer, memory), "data": layer.simd * layer.elem_bits,
              "control": 1}
    add_terms(result, target.memory_terms(memory))
    return result


def _register_bits(layer: SWGLayer, memory: MemoryMap) -> int:
    """Flip-flops of :class:`~hwgen.ops.swg.hw.SlidingWindow`'s reader and writer: counters,
    the window element's row, column and address, the writer's row limits, the frames ahead."""
    (kh, kw), (ph, pw) = layer.kernel, layer.padding
    height, rows = layer.height, ring_rows(layer)
    address = memory.depth.bit_length()
    reader = (counter_bits(layer.out_height) + counter_bits(layer.out_width) + counter_bits(kh)
              + counter_bits(kw) + counter_bits(layer.cf) + 2 * counter_bits(height + kh + ph)
              + counter_bits(layer.width + kw + pw) + address
              + 2 * counter_bits(height + rows + 1))
    writer = (counter_bits(layer.width) + counter_bits(layer.cf) + counter_bits(height)
              + address)
    return reader + writer + 2


def resources(layer: SWGLayer, target: Target) -> Resources:
    """Resources of a :class:`~hwgen.ops.swg.hw.SlidingWindow`."""
    memory = _line_buffer(layer, target)
    # the read stage's valid and padding bits, the output and skid registers and their valids
    ffs = (_register_bits(layer, memory) + 4 + 2 * layer.simd * layer.elem_bits
           + target.memory_ffs(memory, address_bits=counter_bits(memory.depth)))
    # no multiplier: the read address is a register stepped by constants
    return Resources(luts(target, "swg", terms(layer, target)), ffs, memory.brams, 0)
