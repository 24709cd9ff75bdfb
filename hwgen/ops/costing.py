"""Counting shared by the ops' cost models (``hwgen/ops/<op>/cost.py``): the widths of counters,
the LUTs of carry chains and adder trees, and a block's LUTs from its terms and the target's
calibrated coefficients.

An op's cost model counts its block's parts term by term (``terms``): how many of each kind
of LUT-costing part it has; the target prices each term (:attr:`hwgen.target.Target.coefficients`,
fitted by ``bench/estimate_calibration.py``) and places and prices its memories
(:meth:`~hwgen.target.Target.map_memory`, :meth:`~hwgen.target.Target.memory_terms`,
:meth:`~hwgen.target.Target.memory_ffs`).
"""
from ..target import Target

__all__ = ["counter_bits", "carry_luts", "tree_adder_luts", "add_terms", "luts"]


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
