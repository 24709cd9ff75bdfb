"""Counting shared by the ops' cost models (``hwgen/ops/<op>/cost.py``): the widths of counters,
the LUTs of carry chains and adder trees, and a block's LUTs from its terms and the target's
calibrated coefficients.

An op's cost model counts its block's parts term by term (``terms``): how many of each kind
of LUT-costing part it has; the target prices each term (:attr:`hwgen.target.Target.coefficients`,
fitted by ``bench/estimate_calibration.py``) and places and prices its memories
(:meth:`~hwgen.target.Target.map_memory`, :meth:`~hwgen.target.Target.memory_terms`,
:meth:`~hwgen.target.Target.memory_ffs`).
"""
from ..target import MemoryMap, Resources, Target

__all__ = ["counter_bits", "carry_luts", "tree_adder_luts", "add_terms", "luts", "pool_terms",
           "pool_resources", "address_multipliers"]


def counter_bits(count: int) -> int:
    """Width of a counter over ``range(count)`` (0 for a single value)."""
    return (count - 1).bit_length()


def carry_luts(width: int) -> int:
    """LUTs of a ``width``-bit carry chain: carry cells of two bits, both halves counted."""
    return 2 * -(-width // 2)


def tree_adder_luts(leaves: int, width: int) -> tuple[int, int]:
    """(carry-chain LUTs of all adders, result width) of :func:`hwgen.lib.popcount.tree_sum`
    over ``leaves`` terms of ``width`` bits; Amaranth widens each sum by one bit."""
    widths = [width] * leaves
    total = 0
    while len(widths) > 1:
        paired = [max(a, b) + 1 for a, b in zip(widths[0::2], widths[1::2])]
        total += sum(carry_luts(w) for w in paired)
        if len(widths) % 2:
            paired.append(widths[-1])
        widths = paired
    return total, (widths[0] if widths else 0)


def add_terms(terms: dict[str, float], more: dict[str, float]):
    """Add the counts of ``more`` to ``terms``, in place."""
    for key, value in more.items():
        terms[key] = terms.get(key, 0) + value


def luts(target: Target, kind: str, terms: dict[str, float]) -> int:
    """LUTs of a block of ``kind`` (a key of ``target.coefficients``: an op's name, or
    ``cim``) with ``terms``: each count weighed by the target's coefficient, rounded."""
    coefficients = target.coefficients[kind]
    return round(sum(coefficients[name] * value for name, value in terms.items()))


# --- the pooling blocks (hwgen.lib.pooling.pool_windows) ---------------------------------------
def _partial_row(layer, target: Target, width: int) -> MemoryMap:
    """A pooling block's row of partial results, ``width`` bits a word: read asynchronously
    (a combinational port)."""
    return target.map_memory(layer.out_width * layer.cf, width, rom=False, async_read=True)


def _pool_counter_bits(layer) -> int:
    return (counter_bits(layer.height) + counter_bits(layer.width) + counter_bits(layer.cf)
            + counter_bits(layer.kernel[0]) + counter_bits(layer.kernel[1])
            + layer.out_width.bit_length())


def address_multipliers(factor: int) -> int:
    """Multipliers of an address ``index * factor``: synthesis makes one unless ``factor`` is a
    power of two (a shift)."""
    return 0 if factor & (factor - 1) == 0 else 1


def pool_terms(layer, target: Target, width: int) -> dict[str, float]:
    """The LUT terms every block built on :func:`hwgen.lib.pooling.pool_windows` has, its
    partial words ``width`` bits: counters, control, the partial row where the target puts it,
    and the address multiplier ``column * cf + fold`` in logic unless ``cf`` is a power of two
    or the target has multipliers. The op adds its merge's term."""
    result = {"counter": _pool_counter_bits(layer), "control": 1}
    add_terms(result, target.memory_terms(_partial_row(layer, target, width)))
    if address_multipliers(layer.cf) and not target.multipliers_in_dsps:
        result["multiply"] = _pool_counter_bits(layer)
    return result


def pool_resources(layer, target: Target, kind: str, terms: dict[str, float],
                   width: int) -> Resources:
    """Resources of a pooling block of ``kind`` with LUT ``terms`` and partial words of
    ``width`` bits: its counters, output and skid registers (``width`` each), the partial row
    (flip-flops where the target has no RAM for it), the address multiplier in a DSP where the
    target has them."""
    memory = _partial_row(layer, target, width)
    ffs = _pool_counter_bits(layer) + 2 + 2 * width
    if memory.kind == "logic":
        ffs += memory.depth * memory.width
    return Resources(luts(target, kind, terms), ffs, memory.brams,
                     address_multipliers(layer.cf) if target.multipliers_in_dsps else 0)
