"""Balanced adder trees (a linear chain would be SIMD adders deep), plain or pipelined."""
from amaranth.hdl import Cat, Signal, Value

__all__ = ["bits_of", "popcount", "thermometer_count", "tree_sum", "chunk_popcounts",
           "pipelined_sum", "pipelined_sum_stages", "pipelined_sum_bits"]

#: Bits per chunk of :func:`chunk_popcounts`: a 6-input popcount is three LUT levels deep.
POPCOUNT_CHUNK = 6


def _pair_up(terms: list) -> list:
    """One level of the tree: neighbours added, an odd last term passed on."""
    paired = [terms[k] + terms[k + 1] for k in range(0, len(terms) - 1, 2)]
    if len(terms) % 2:
        paired.append(terms[-1])
    return paired


def tree_sum(terms) -> Value:
    """Sum of ``terms`` by a balanced tree of adders; each adder is as wide as its result."""
    terms = [Value.cast(term) for term in terms]
    if not terms:
        return Value.cast(0)
    while len(terms) > 1:
        terms = _pair_up(terms)
    return terms[0]


def bits_of(value) -> list[Value]:
    """The one-bit values of ``value``: a Value's bits, or a sequence's items as they are.

    Pass an expression's bits as a sequence (``[~(w[k] ^ x[k]) for k in ...]``), not the
    expression (``~(w ^ x)``): Amaranth emits an operator once for every slice taken of it, so
    slicing a wide XNOR bit by bit builds it once per bit (a netlist quadratic in its width,
    which Yosys has to hold and fold back)."""
    if isinstance(value, (list, tuple)):
        return [Value.cast(bit) for bit in value]
    value = Value.cast(value)
    return [value[k] for k in range(len(value))]


def popcount(value) -> Value:
    """Number of 1 bits of ``value`` (a Value, or a sequence of one-bit values:
    :func:`bits_of`), as an unsigned value just wide enough."""
    return tree_sum(bits_of(value))


def thermometer_count(value) -> Value:
    """The number of ones of a thermometer code ``value`` (bit ``k`` set implies every bit
    below it set, as flash-ADC comparators against rising thresholds are), as logic of a few
    levels rather than an adder tree: the count ``c`` has bit ``b`` set where
    ``c mod 2**(b+1) >= 2**b``, and ``c >= n`` is bit ``n - 1``, so each result bit is an OR of
    ``bit[lo - 1] & ~bit[hi - 1]`` terms. Not a popcount of any other value."""
    bits = bits_of(value)
    length = len(bits)
    result = []
    for b in range(length.bit_length()):
        terms = []
        for low in range(1 << b, length + 1, 1 << (b + 1)):
            high = low + (1 << b)                     # the count is in low .. high - 1
            term = bits[low - 1]
            if high <= length:
                term = term & ~bits[high - 1]
            terms.append(term)
        result.append(Cat(*terms).any())
    return Cat(*result)


def chunk_popcounts(value, chunk: int = POPCOUNT_CHUNK) -> list[Value]:
    """Popcounts of ``value``'s consecutive ``chunk``-bit slices (the last may be shorter;
    ``value`` as :func:`popcount` takes it): register them and sum them a stage later to split
    a wide popcount over two stages."""
    bits = bits_of(value)
    return [tree_sum(bits[k:k + chunk]) for k in range(0, len(bits), chunk)]

def pipelined_sum_stages(count: int, levels: int, *, register_terms: bool = True) -> int:
    """Register stages of :func:`pipelined_sum` over ``count`` terms: one for the terms
    themselves (unless ``register_terms`` is False), and one after every ``levels`` adder
    levels of the tree."""
    depth = max(0, (count - 1).bit_length())          # adder levels: ceil(log2(count))
    return int(register_terms) + -(-depth // levels)


def _pipeline(terms, levels: int, register, register_terms: bool = True) -> Value:
    """The stages of :func:`pipelined_sum`: ``register(stage, k, term)`` makes each register."""
    if not isinstance(levels, int) or levels < 1:
        raise ValueError(f"levels must be a positive integer, not {levels!r}")
    terms = [Value.cast(term) for term in terms] or [Value.cast(0)]
    stage = 0
    while True:
        if stage or register_terms:
            terms = [register(stage, k, term) for k, term in enumerate(terms)]
        stage += 1
        if len(terms) == 1:
            return terms[0]
        for _ in range(levels):
            if len(terms) > 1:
                terms = _pair_up(terms)


def pipelined_sum(m, terms, *, en, levels: int, name: str, register_terms: bool = True) -> Value:
    """Sum of ``terms`` by :func:`tree_sum`'s tree, pipelined: the terms are registered (unless
    ``register_terms`` is False: they come from registers that other sums share), and the
    partial sums after every ``levels`` adder levels, each register moving on ``en``; the
    result is the last register, :func:`pipelined_sum_stages` ``en`` cycles after the terms.
    The registers have no reset (data, as :func:`hwgen.lib.pipeline.delay`'s)."""
    def register(stage, k, term):
        signal = Signal(term.shape(), name=f"{name}_r{stage}_{k}", reset_less=True)
        with m.If(en):
            m.d.sync += signal.eq(term)
        return signal
    return _pipeline(terms, levels, register, register_terms)


def pipelined_sum_bits(terms, *, levels: int, register_terms: bool = True) -> int:
    """Flip-flops of :func:`pipelined_sum` over ``terms`` (values of their shapes)."""
    bits = []

    def register(stage, k, term):
        bits.append(len(term))
        return Signal(term.shape())
    _pipeline(terms, levels, register, register_terms)
    return sum(bits)

