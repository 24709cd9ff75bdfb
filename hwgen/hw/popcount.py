"""Balanced adder trees (a linear chain would be SIMD adders deep)."""
from amaranth.hdl import Value

__all__ = ["popcount", "tree_sum", "chunk_popcounts"]

#: Bits per chunk of :func:`chunk_popcounts`: a 6-input popcount is three LUT levels deep.
POPCOUNT_CHUNK = 6


def tree_sum(terms) -> Value:
    """Sum of ``terms`` by a balanced tree of adders; each adder is as wide as its result."""
    terms = [Value.cast(term) for term in terms]
    if not terms:
        return Value.cast(0)
    while len(terms) > 1:
        paired = [terms[k] + terms[k + 1] for k in range(0, len(terms) - 1, 2)]
        if len(terms) % 2:
            paired.append(terms[-1])
        terms = paired
    return terms[0]


def popcount(value) -> Value:
    """Number of 1 bits of ``value``, as an unsigned value just wide enough."""
    value = Value.cast(value)
    return tree_sum(value[k] for k in range(len(value)))


def chunk_popcounts(value, chunk: int = POPCOUNT_CHUNK) -> list[Value]:
    """Popcounts of ``value``'s consecutive ``chunk``-bit slices (the last may be shorter):
    register them and sum them a stage later to split a wide popcount over two stages."""
    value = Value.cast(value)
    return [popcount(value[k:k + chunk]) for k in range(0, len(value), chunk)]
