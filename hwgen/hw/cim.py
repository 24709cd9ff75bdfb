"""The CIM macro in hardware: one wordline group read per cycle, for the PE columns of a
``cim`` MVTU, bit for bit what :func:`hwgen.cim.macro_mvm` computes.

The arithmetic is :mod:`hwgen.cim.macro`'s (its docstring is the contract); the noise
generator :mod:`hwgen.cim.noise`'s. Nothing here is derived from floats: the quantized
Gaussian table, the noise scales and the ADC thresholds are the integers that package
computes, baked in as constants.

Per cycle, for each PE neuron ``n``, weight slice ``j`` and activation bit ``p`` (all in
parallel, so a cim MVTU keeps the digital one's NF * SF cycles per vector)::

    b      bitline sum of group s: 2 * popcount(xnor) - WL (bipolar), or
           popcount(x & w) - popcount(x & ~w) (binary)
    a      active rows: popcount(x_p) (binary), WL (bipolar)
    u      top 8 bits of mix32(h_v ^ (n << 16 | s << 2 | j << 1 | p))
    y      b << (F + G)  +  SCALES[a] * ZTABLE[u]
    code   #{i : y >= T_i}
    sum    sum over j, p of code << (j + p)      -> the MVTU's accumulator

``h_v``, the hash state of the input vector, comes from :class:`VectorKeys`, a short pipeline
that runs two vectors ahead of the one being read.
"""
from amaranth.hdl import Array, Cat, Const, Module, Signal, signed, unsigned
from amaranth.lib import memory

from ..cim.macro import MacroSpec
from ..cim.noise import MIX_MULTIPLIERS, NOISE_FRAC_BITS, TABLE_BITS, layer_key, mix32, ztable
from .popcount import popcount, tree_sum

__all__ = ["VectorKeys", "read_latency", "cim_sums"]

_MASK = 0xFFFFFFFF


def _mix_start(x):
    """First half of ``mix32``: ``(x ^ x >> 16) * M1`` modulo 2**32 (an Amaranth value)."""
    return ((x ^ (x >> 16)) * MIX_MULTIPLIERS[0])[:32]


def _mix_finish(x):
    """Second half of ``mix32``: ``y = (x ^ x >> 15) * M2``, then ``y ^ y >> 16``."""
    y = ((x ^ (x >> 15)) * MIX_MULTIPLIERS[1])[:32]
    return y ^ (y >> 16)


def _start_const(x: int) -> int:
    x &= _MASK
    return ((x ^ (x >> 16)) * MIX_MULTIPLIERS[0]) & _MASK


class VectorKeys:
    """``h_v`` of the input vector being issued, ``v`` counting vectors since reset.

    Registers ``h0 = h_v``, ``h1 = h_{v+1}``, ``half`` = the first half of ``mix32`` for
    ``v + 2`` and ``count = v + 3`` (wrapping at 2**32); :meth:`next` (asserted when the last
    transfer of a vector issues) shifts them, so each register stage holds one multiplier.
    Reset values are computed at elaboration time.
    """

    def __init__(self, macro: MacroSpec, layer_index: int):
        self.layer_state = layer_key(macro.seed, layer_index)
        state = self.layer_state
        self.h0 = Signal(32, init=mix32(state ^ 0), name="hv0")
        self.h1 = Signal(32, init=mix32(state ^ 1), name="hv1")
        self.half = Signal(32, init=_start_const(state ^ 2), name="hv_half")
        self.count = Signal(32, init=3, name="hv_count")

    def elaborate(self, m: Module, next_vector):
        with m.If(next_vector):
            m.d.sync += [
                self.h0.eq(self.h1),
                self.h1.eq(_mix_finish(self.half)),
                self.half.eq(_mix_start(self.count ^ self.layer_state)),
                self.count.eq(self.count + 1),
            ]


def read_latency(macro: MacroSpec) -> int:
    """Register stages a read adds to the MVTU's per-cycle sum: hash multiply, table read."""
    return 2 if macro.noisy else 0


def cim_sums(m: Module, macro: MacroSpec, *, pe: int, advance, rows, vector, nbase, group,
             hv) -> list:
    """Per-PE code sums of one wordline group read, ``read_latency(macro)`` cycles after the
    stage whose values are given, registered at the last stage (as the digital MVTU's per-cycle
    sums). All registers move on ``advance``.

    ``rows[i][j]``: the WL weight bits of PE ``i``'s slice ``j``; ``vector``: WL elements of
    ``act_bits`` bits; ``nbase``: the first PE's neuron index; ``group``: ``s``; ``hv``: the
    vector's hash state.
    """
    wl, wb, ab = macro.wordlines, macro.weight_bits, macro.act_bits
    planes = [Signal(wl, name=f"x_plane{p}") for p in range(ab)]
    for p in range(ab):
        m.d.comb += planes[p].eq(Cat(*(vector[k * ab + p] for k in range(wl))))
    bipolar = macro.encoding == "bipolar"
    b_shape = signed(max(wl.bit_length() + 1, 2))
    a_shape = unsigned(wl.bit_length())

    def bitline(row, plane):
        if bipolar:
            return (popcount(~(row ^ plane)) << 1) - wl
        return popcount(row & plane) - popcount(~row & plane)

    reads = [(i, j, p) for i in range(pe) for j in range(wb) for p in range(ab)]
    b = {key: Signal(b_shape, name=f"b{key[0]}_{key[1]}{key[2]}") for key in reads}
    active = [Signal(a_shape, name=f"active{p}") for p in range(ab)]
    code_sum_shape = unsigned((macro.levels - 1).bit_length() + wb + ab)
    sums = [Signal(code_sum_shape, name=f"code_sum{i}") for i in range(pe)]
    thresholds = macro.thresholds

    def ladder(y):
        return tree_sum(y >= threshold for threshold in thresholds)

    if not macro.noisy:
        for key in reads:
            m.d.comb += b[key].eq(bitline(rows[key[0]][key[1]], planes[key[2]]))
        with m.If(advance):
            for i in range(pe):
                m.d.sync += sums[i].eq(tree_sum(
                    ladder(b[i, j, p] << NOISE_FRAC_BITS) << (j + p)
                    for j in range(wb) for p in range(ab)))
        return sums

    # Stage 1: bitline sums, active rows, the read hash's first multiply.
    half = {key: Signal(32, name=f"hash_half{key[0]}_{key[1]}{key[2]}") for key in reads}
    with m.If(advance):
        for p in range(ab):
            m.d.sync += active[p].eq(wl if bipolar else popcount(planes[p]))
        for (i, j, p) in reads:
            word = ((nbase + i) << 16) | (group << 2) | (j << 1) | p
            m.d.sync += [b[i, j, p].eq(bitline(rows[i][j], planes[p])),
                         half[i, j, p].eq(_mix_start(hv ^ word))]
    # Stage 2: the table index (second multiply, top bits) addresses ZTABLE, read on advance.
    table = memory.Memory(shape=signed(15), depth=1 << TABLE_BITS, init=ztable())
    m.submodules.ztable = table
    b2 = {key: Signal(b_shape, name=f"b2_{key[0]}_{key[1]}{key[2]}") for key in reads}
    active2 = [Signal(a_shape, name=f"active2_{p}") for p in range(ab)]
    z = {}
    for key in reads:
        port = table.read_port()
        m.d.comb += [port.addr.eq(_mix_finish(half[key])[32 - TABLE_BITS:]), port.en.eq(advance)]
        z[key] = port.data
    with m.If(advance):
        m.d.sync += [b2[key].eq(b[key]) for key in reads]
        m.d.sync += [active2[p].eq(active[p]) for p in range(ab)]
    # Stage 3: scale the sample, add the bitline sum, the ADC's comparator ladder, shift-add.
    scales = Array(Const(scale, macro.scale_bits) for scale in macro.scales)
    y_shape = signed(macro.adc_input_bits)
    with m.If(advance):
        for i in range(pe):
            codes = []
            for j in range(wb):
                for p in range(ab):
                    y = Signal(y_shape, name=f"adc_in{i}_{j}{p}")
                    m.d.comb += y.eq((b2[i, j, p] << NOISE_FRAC_BITS)
                                     + scales[active2[p]] * z[i, j, p])
                    codes.append(ladder(y) << (j + p))
            m.d.sync += sums[i].eq(tree_sum(codes))
    return sums
