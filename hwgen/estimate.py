"""Resource estimates of the streaming blocks on ECP5: a third reader of the IR.

Each block is estimated from the structure the Amaranth code in :mod:`hwgen.hw` builds, term by
term, in the units a build report counts (:class:`hwgen.target.BuildReport`):

``luts``
    nextpnr-ecp5 ``TRELLIS_COMB`` cells: LUT4s, and one per bit of a ``CCU2C`` carry chain
    (Yosys maps every ``+``, ``-`` and comparison of the adder trees to carry chains, so an
    adder costs about one LUT per result bit). Distributed RAM (``TRELLIS_DPR16X4``, 16 words of
    4 bits) counts 4 more (its ``TRELLIS_RAMW`` cell is not a LUT).
``ffs``
    ``TRELLIS_FF`` flip-flops, counted register by register.
``brams``
    ``DP16KD`` 18 Kbit block RAMs.
``dsps``
    ``MULT18X18D`` multipliers: Yosys maps an address ``index * words`` to one unless
    ``words`` is a power of two (the max-pool's channel folds; the sliding window steps its
    read address by constants instead).

Memories are placed where the target says Yosys puts them
(:func:`hwgen.target.ecp5.memory.map_memory`, which repeats ``memory_libmap``'s cost model). The
LUT count of a block is ``sum(COEFFICIENTS[term] * count)`` over the counts of
:func:`layer_terms` (or :func:`fifo_terms`, :func:`dwc_terms`), with the target's calibrated
coefficients (:mod:`hwgen.target.ecp5.cost`).
"""
import math
from dataclasses import dataclass

from .cim.noise import TABLE_BITS

from .ops import MaxPoolLayer, MVTULayer, SWGLayer, op_for
from .ops.dwc.layer import dwc_capacity
from .ops.mvtu.datapath import (BINARY_CHUNK, BLOCK_READ_REGISTERS, HASH_STAGES, sum_latency,
                                sum_register_bits, table_shape, weights_in_block_ram)
from .ops.swg.layer import ring_rows
from .target import DEFAULT_TARGET, MemoryMap
from .target.ecp5.cost import COEFFICIENTS
from .target.ecp5.memory import BRAM_LUTS, DSP_LUTS
from .target.ecp5.memory import MERGED_ROM_WORDS as _MERGED_ROM_WORDS
from .target.ecp5.memory import map_memory
from .target.ecp5.memory import memory_ffs as _memory_ffs
from .target.ecp5.memory import memory_terms as _memory_terms

__all__ = ["Resources", "weight_memory", "estimate_layer", "layer_terms", "fifo_resources",
           "fifo_terms", "dwc_resources", "dwc_terms", "in_width", "out_width",
           "cim_multipliers"]


@dataclass(frozen=True)
class Resources:
    """ECP5 resources of a block or a sum of blocks."""
    luts: int = 0
    ffs: int = 0
    brams: int = 0
    dsps: int = 0

    def __add__(self, other: "Resources") -> "Resources":
        if not isinstance(other, Resources):
            return NotImplemented
        return Resources(self.luts + other.luts, self.ffs + other.ffs, self.brams + other.brams,
                         self.dsps + other.dsps)

    def cost(self, bram_luts: float = BRAM_LUTS, dsp_luts: float = DSP_LUTS) -> float:
        """One figure to minimise: LUTs, a block RAM counted as ``bram_luts`` LUTs and a
        multiplier as ``dsp_luts``."""
        return self.luts + bram_luts * self.brams + dsp_luts * self.dsps


def _add(terms: dict, more: dict):
    for key, value in more.items():
        terms[key] = terms.get(key, 0) + value


def _bits(count: int) -> int:
    """Width of a counter over ``range(count)`` (0 for a single value)."""
    return (count - 1).bit_length()


def _multipliers(factor: int) -> int:
    """MULT18X18D cells of an address ``index * factor``: none for a power of two (a shift)."""
    return 0 if factor & (factor - 1) == 0 else 1


def _luts(kind: str, terms: dict[str, float]) -> int:
    coefficients = COEFFICIENTS[kind]
    return round(sum(coefficients[name] * value for name, value in terms.items()))


# --- MVTU -------------------------------------------------------------------------------------

def _carry_luts(width: int) -> int:
    """LUTs of a ``width``-bit carry chain: CCU2C cells of two bits, both halves counted."""
    return 2 * -(-width // 2)


def _tree_adder_luts(leaves: int, width: int) -> tuple[int, int]:
    """(carry-chain LUTs of all adders, result width) of :func:`hwgen.lib.popcount.tree_sum`
    over ``leaves`` terms of ``width`` bits; Amaranth widens each sum by one bit."""
    widths = [width] * leaves
    total = 0
    while len(widths) > 1:
        paired = [max(a, b) + 1 for a, b in zip(widths[0::2], widths[1::2])]
        total += sum(_carry_luts(w) for w in paired)
        if len(widths) % 2:
            paired.append(widths[-1])
        widths = paired
    return total, (widths[0] if widths else 0)


def _tables(layer: MVTULayer) -> int:
    """Weight memories of an MVTU: a thermometer layer's lookup tables (one per element of a
    transfer, :func:`hwgen.ops.mvtu.hw.thermometer_tables`), else the one weight memory."""
    return layer.simd_elements if layer.in_encoding == "thermometer" else 1


def _table_bits(layer: MVTULayer) -> int:
    """Bits of a thermometer table's entry (:func:`hwgen.ops.mvtu.datapath.table_shape`)."""
    return table_shape(layer).width


def weight_memory(layer: MVTULayer) -> MemoryMap | None:
    """Where a digital MVTU's weight memory goes (a thermometer layer's: each of its lookup
    tables), by its ``ram_style``; None for a cim layer (the weights are in the macro)."""
    return None if layer.macro is not None else _weight_memories(layer)[0]


def _weight_memories(layer: MVTULayer) -> tuple[MemoryMap, MemoryMap | None, MemoryMap | None]:
    """The weight memory (for a thermometer layer: one of its :func:`_tables` lookup
    tables), the threshold memory and the replay buffer."""
    if layer.in_encoding == "thermometer":
        weights = map_memory(layer.nf * layer.sf << layer.in_bits, layer.pe * _table_bits(layer),
                             rom=True, style=layer.ram_style)
    else:
        weights = map_memory(layer.nf * layer.sf, layer.pe * layer.simd, rom=True,
                             style=layer.ram_style)
    thresholds = (map_memory(layer.nf,
                             layer.pe * ((layer.levels - 1) * layer.threshold_bits + 1), rom=True)
                  if layer.output == "bits" else None)
    replay = map_memory(layer.sf, layer.in_width, rom=False) if layer.nf > 1 else None
    return weights, thresholds, replay


def _accumulator_bits(layer: MVTULayer) -> int:
    if layer.in_encoding == "bipolar":
        return max(1, layer.mw.bit_length())
    return layer.dot_bits


def _simd_sum(layer: MVTULayer, weights: MemoryMap) -> tuple[float, float, float, int]:
    """(gate LUTs, adder LUTs) per neuron, adder LUTs shared by all neurons, and the result
    width of one neuron's per-cycle sum."""
    simd = layer.simd
    if layer.in_encoding == "thermometer":  # a tree over the tables' reads, no gates
        adder, width = _tree_adder_luts(_tables(layer), _table_bits(layer))
        return 0, adder, 0, width
    constant = weights.kind == "const"
    merged = weights.kind == "logic" and weights.depth <= _MERGED_ROM_WORDS
    if layer.in_encoding == "bipolar":      # popcount(~(w ^ x))
        adder, width = _tree_adder_luts(simd, 1)
        return (0 if constant or merged else simd), adder, 0, width
    if layer.in_encoding == "binary":       # per chunk a table of w and x (binary_leaves)
        chunks = [min(BINARY_CHUNK, simd - k) for k in range(0, simd, BINARY_CHUNK)]
        # Each result bit's function of 2 * size inputs: 2**(2 * size - 4) LUT4s. With constant
        # weights Yosys prunes only some of them (as it did for the popcounts these tables
        # replaced: a constant-weight neuron cost 3/4 of a folded one).
        leaves = sum((0.75 if constant else 1) * (size.bit_length() + 1)
                     * 2 ** max(0, 2 * size - 4) for size in chunks)
        tree, width = _tree_adder_luts(len(chunks), chunks[0].bit_length() + 1)
        return 0, leaves + tree, 0, width
    # uint: a tree of w ? x : -x, terms of in_bits + 1 bits. Yosys merges the tree into one
    # multi-operand adder of full adders over every term sign-extended to the sum's width.
    adder, width = _tree_adder_luts(simd, layer.in_bits + 1)
    return simd * width / (2 if constant else 1), adder, 0, width


def _mvtu_common_terms(layer: MVTULayer, thresholds, replay) -> dict[str, float]:
    """LUT terms of the parts every MVTU has: accumulators, counters, control, the threshold
    comparators and memory, the replay buffer."""
    terms = {"accumulate": layer.pe * _accumulator_bits(layer),
             "counter": _bits(layer.nf) + _bits(layer.sf) + _bits(layer.nf * layer.sf),
             "control": 1}
    if thresholds is None:
        if layer.in_encoding == "bipolar" and layer.macro is None:
            terms["logit"] = layer.pe * layer.dot_bits
    else:
        terms["compare"] = layer.pe * (layer.levels - 1) * layer.threshold_bits
        # a threshold ROM of a few words merges into the comparator's LUTs
        if thresholds.kind != "logic" or thresholds.depth > _MERGED_ROM_WORDS:
            _add(terms, _memory_terms(thresholds))
    if replay is not None:
        _add(terms, _memory_terms(replay))
        terms["replay"] = layer.in_width
    return terms


def mvtu_terms(layer: MVTULayer) -> dict[str, float]:
    """LUT terms of an :class:`~hwgen.ops.mvtu.hw.MVTU` (of a cim one: :func:`cim_terms`)."""
    if layer.macro is not None:
        return cim_terms(layer)
    weights, thresholds, replay = _weight_memories(layer)
    gates, adder, shared, _ = _simd_sum(layer, weights)
    pe = layer.pe
    gate = "gate_uint" if layer.in_encoding == "uint" else "gate"
    adder_term = {"binary": "adder_binary", "thermometer": "adder_table"}.get(layer.in_encoding,
                                                                               "adder")
    terms = {gate: pe * gates, adder_term: pe * adder + shared}
    _add(terms, _mvtu_common_terms(layer, thresholds, replay))
    _add(terms, {name: value * _tables(layer) for name, value in _memory_terms(weights).items()})
    return terms


def _mvtu_common_ffs(layer: MVTULayer, thresholds, replay) -> int:
    """Flip-flops of the parts every MVTU has (:mod:`hwgen.ops.mvtu.hw`): the fold counters and
    weight address, stage 1's control and input, its control delayed to the accumulator
    (:func:`~hwgen.ops.mvtu.hw.sum_latency`), the accumulators' valid bits, the accumulators, the
    output and skid registers, the threshold word and the replay buffer."""
    nf_bits, sf_bits = _bits(layer.nf), _bits(layer.sf)
    pe = layer.pe
    control = 4 + nf_bits + sf_bits + sum_latency(layer, DEFAULT_TARGET) * (3 + nf_bits) + 3
    data = layer.in_width + pe * _accumulator_bits(layer) + 2 * pe * layer.out_bits
    ffs = nf_bits + sf_bits + _bits(layer.nf * layer.sf) + control + data
    if thresholds is not None:  # the threshold word, registered beside the accumulators
        ffs += pe * ((layer.levels - 1) * layer.threshold_bits + 1)
        if thresholds.kind == "logic":
            ffs += nf_bits  # Yosys keeps the address register of the (narrow-range) thresholds
    if replay is not None:
        ffs += _memory_ffs(replay, address_bits=sf_bits)
    return ffs


def mvtu_resources(layer: MVTULayer) -> Resources:
    """Resources of an :class:`~hwgen.ops.mvtu.hw.MVTU` (of a cim one: :func:`cim_resources`)."""
    if layer.macro is not None:
        return cim_resources(layer)
    weights, thresholds, replay = _weight_memories(layer)
    pe = layer.pe
    data = 0
    # Block RAM reads pass BLOCK_READ_REGISTERS more registers (hwgen.ops.mvtu.hw).
    extra = BLOCK_READ_REGISTERS if weights_in_block_ram(layer, DEFAULT_TARGET) else 0
    if layer.in_encoding == "thermometer":  # the input vector and fold, the tables' reads, tree
        data += layer.in_width + _bits(layer.nf * layer.sf) + pe * sum_register_bits(layer)
        data += extra * _tables(layer) * weights.width
    else:                       # the weight word, the input vector, the sums' leaves and tree
        data += layer.in_width + pe * sum_register_bits(layer)
        if weights.kind != "const":
            data += pe * layer.simd     # Yosys drops a constant word's register
        elif layer.in_encoding == "uint":
            # constant weights make each leaf x or ~x: copies of the input vector's register
            data -= pe * layer.simd * (layer.in_bits + 1) - layer.in_width
        data += extra * (pe * layer.simd + layer.in_width)
    ffs = (_mvtu_common_ffs(layer, thresholds, replay) + data
           + _tables(layer) * _memory_ffs(weights, address_bits=_bits(weights.depth)))
    brams = weights.brams * _tables(layer) + sum(
        memory.brams for memory in (thresholds, replay) if memory is not None)
    return Resources(_luts("mvtu", mvtu_terms(layer)), ffs, brams, cim_multipliers(layer))


# --- cim MVTU ---------------------------------------------------------------------------------

def _cim_cells(layer: MVTULayer) -> MemoryMap:
    """The macro's cell array (:class:`hwgen.ops.mvtu.cim.CimMacro`): a ROM of PE * WB * WL bits a
    word, each of the NF blocks' S groups at a power-of-two stride."""
    macro = layer.macro
    return map_memory(layer.nf << _bits(layer.sf),
                      layer.pe * macro.weight_bits * macro.wordlines, rom=True)


def _cim_reads(layer: MVTULayer) -> int:
    """Reads per cycle of a cim MVTU's macro: PE x weight slices x activation bits."""
    return layer.pe * layer.macro.weight_bits * layer.macro.act_bits


def _bitline_bits(macro) -> int:
    return max(macro.wordlines.bit_length() + 1, 2)


def _popcount_parts(width: int) -> int:
    """Register bits of a two-stage popcount of ``width`` bits: its chunks' counts
    (:func:`hwgen.lib.popcount.chunk_popcounts`)."""
    from .lib.popcount import POPCOUNT_CHUNK
    return sum(min(POPCOUNT_CHUNK, width - k).bit_length() for k in range(0, width, POPCOUNT_CHUNK))


def cim_terms(layer: MVTULayer) -> dict[str, float]:
    """LUT terms of a cim MVTU: the MVTU's parts around the macro (priced as a digital MVTU's,
    :data:`_CIM_SHARED`) and the macro's (:mod:`hwgen.ops.mvtu.cim`): per read its popcount over
    the wordlines (binary inputs: one more per activation bit, the active rows), the noise
    hash's stages and the ADC's comparators."""
    macro, reads = layer.macro, _cim_reads(layer)
    _, thresholds, replay = _weight_memories(layer)
    terms = _mvtu_common_terms(layer, thresholds, replay)
    _add(terms, _memory_terms(_cim_cells(layer)))
    shared = 0 if macro.encoding == "bipolar" else macro.act_bits
    terms["cim_popcount"] = (reads + shared) * macro.wordlines
    compared = macro.adc_input_bits if macro.noisy else _bitline_bits(macro)
    terms["cim_adc"] = reads * len(macro.thresholds) * compared
    if macro.noisy:
        terms["cim_hash"] = reads * HASH_STAGES
    return terms


def cim_resources(layer: MVTULayer) -> Resources:
    """Resources of a cim MVTU: the MVTU around the macro and the behavioural macro
    (:class:`hwgen.ops.mvtu.cim.CimMacro`), register by register."""
    macro, reads = layer.macro, _cim_reads(layer)
    wl, ab, pe, wb = macro.wordlines, macro.act_bits, layer.pe, macro.weight_bits
    _, thresholds, replay = _weight_memories(layer)
    cells = _cim_cells(layer)
    bitline = _bitline_bits(macro)
    # The inputs (registered, then delayed beside the cells), the cells' read registered, the
    # popcounts' chunk registers, the bitline sums.
    ffs = 2 * wl * ab + pe * wb * wl + _memory_ffs(cells, address_bits=_bits(cells.depth))
    ffs += reads * _popcount_parts(wl) + reads * bitline
    if macro.encoding != "bipolar":         # the active rows: their popcount, registered
        ffs += ab * (_popcount_parts(wl) + wl.bit_length())
    brams = cells.brams
    if macro.noisy:
        stages = HASH_STAGES
        ffs += 32 * (stages + 2)            # the vector keys' pipeline, count and h0
        ffs += reads * (2 * 32              # each read's key, delayed beside the cells
                        + 32 * (stages - 1) + TABLE_BITS    # the hash (its top bits kept)
                        + 15                # the sample, registered out of the block RAM
                        + bitline * (stages + 1)            # the bitline sum, delayed
                        + 2 * macro.adc_input_bits          # scaled sample, ADC input
                        + len(macro.thresholds))            # comparators
        ffs += ab * macro.scale_bits * stages               # noise scales, delayed
        brams += -(-reads // 2)             # ZTABLE: one block RAM per two reads
    ffs += reads * macro.adc_bits           # the codes
    ffs += _mvtu_common_ffs(layer, thresholds, replay)
    brams += sum(memory.brams for memory in (thresholds, replay) if memory is not None)
    return Resources(_luts("cim", cim_terms(layer)), ffs, brams, cim_multipliers(layer))


#: MULT18X18D of one noisy CIM read (:mod:`hwgen.ops.mvtu.cim`): the noise sample's scale (the hash
#: has no multiplier); and of a layer's vector-key pipeline: none.
CIM_READ_DSPS, CIM_KEY_DSPS = 1, 0


def cim_multipliers(layer: MVTULayer) -> int:
    """Multipliers of a cim MVTU's macro: ``CIM_READ_DSPS`` per read of a cycle (PE x weight
    slices x activation bits) and ``CIM_KEY_DSPS``, when the macro is noisy; 0 otherwise."""
    if layer.macro is None or not layer.macro.noisy:
        return 0
    return CIM_READ_DSPS * _cim_reads(layer) + CIM_KEY_DSPS


# --- sliding window ---------------------------------------------------------------------------

def _line_buffer(layer: SWGLayer) -> MemoryMap:
    return map_memory(ring_rows(layer) * layer.width * layer.cf, layer.simd * layer.elem_bits,
                      rom=False)


def _swg_counter_bits(layer: SWGLayer) -> int:
    (kh, kw), (ph, pw) = layer.kernel, layer.padding
    reader = (_bits(layer.out_height) + _bits(layer.out_width) + _bits(kh) + _bits(kw)
              + 2 * _bits(layer.cf) + _bits(layer.height + kh + ph) + _bits(layer.width + kw + pw))
    writer = _bits(layer.width) + _bits(layer.height + 1) + _line_buffer(layer).depth.bit_length()
    return reader + writer


def swg_terms(layer: SWGLayer) -> dict[str, float]:
    """LUT terms of a :class:`~hwgen.ops.swg.hw.SlidingWindow`."""
    memory = _line_buffer(layer)
    terms = {"counter": _swg_counter_bits(layer), "data": layer.simd * layer.elem_bits,
             "control": 1}
    _add(terms, _memory_terms(memory))
    return terms


def _swg_register_bits(layer: SWGLayer) -> int:
    """Flip-flops of :class:`~hwgen.ops.swg.hw.SlidingWindow`'s reader and writer: counters, the
    window element's row, column and address, the writer's row limits, the frames ahead."""
    (kh, kw), (ph, pw) = layer.kernel, layer.padding
    height, rows = layer.height, ring_rows(layer)
    address = _line_buffer(layer).depth.bit_length()
    reader = (_bits(layer.out_height) + _bits(layer.out_width) + _bits(kh) + _bits(kw)
              + _bits(layer.cf) + 2 * _bits(height + kh + ph) + _bits(layer.width + kw + pw)
              + address + 2 * _bits(height + rows + 1))
    writer = _bits(layer.width) + _bits(layer.cf) + _bits(height) + address
    return reader + writer + 2


def swg_resources(layer: SWGLayer) -> Resources:
    memory = _line_buffer(layer)
    # the read stage's valid and padding bits, the output and skid registers and their valids
    ffs = (_swg_register_bits(layer) + 4 + 2 * layer.simd * layer.elem_bits
           + _memory_ffs(memory, address_bits=_bits(memory.depth)))
    # no multiplier: the read address is a register stepped by constants
    return Resources(_luts("swg", swg_terms(layer)), ffs, memory.brams, 0)


# --- max-pool ---------------------------------------------------------------------------------

def _partial_row(layer: MaxPoolLayer) -> MemoryMap:
    return map_memory(layer.out_width * layer.cf, layer.pe * layer.elem_bits, rom=False,
                      async_read=True)


def _maxpool_counter_bits(layer: MaxPoolLayer) -> int:
    return (_bits(layer.height) + _bits(layer.width) + _bits(layer.cf) + _bits(layer.kernel[0])
            + _bits(layer.kernel[1]) + layer.out_width.bit_length())


def maxpool_terms(layer: MaxPoolLayer) -> dict[str, float]:
    """LUT terms of a :class:`~hwgen.ops.maxpool.hw.MaxPool`."""
    terms = {"counter": _maxpool_counter_bits(layer), "data": layer.pe * layer.elem_bits,
             "control": 1}
    _add(terms, _memory_terms(_partial_row(layer)))
    return terms


def maxpool_resources(layer: MaxPoolLayer) -> Resources:
    memory = _partial_row(layer)
    ffs = _maxpool_counter_bits(layer) + 2 + 2 * layer.pe * layer.elem_bits   # output, skid
    if memory.kind == "logic":
        ffs += memory.depth * memory.width
    return Resources(_luts("maxpool", maxpool_terms(layer)), ffs, memory.brams,
                     _multipliers(layer.cf))


# --- FIFO and width converter -----------------------------------------------------------------

def _fifo_memory(width: int, depth: int) -> MemoryMap | None:
    # SyncFIFOBuffered: a SyncFIFO of depth - 1 and an output register
    return map_memory(depth - 1, width, rom=False) if depth > 1 else None


def fifo_terms(width: int, depth: int) -> dict[str, float]:
    """LUT terms of a :class:`~hwgen.ops.fifo.hw.StreamFIFO` of ``depth`` words of ``width`` bits."""
    memory = _fifo_memory(width, depth)
    terms = {"counter": 3 * depth.bit_length(), "data": width, "control": 1}
    if memory is not None:
        _add(terms, _memory_terms(memory))
        if memory.kind == "bram":
            terms["bram"] = 1
    return terms


def fifo_resources(width: int, depth: int) -> Resources:
    for name, value in (("width", width), ("depth", depth)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    memory = _fifo_memory(width, depth)
    ffs = 3 * depth.bit_length() + 2 + width
    brams = 0
    if memory is not None:
        ffs += _memory_ffs(memory, address_bits=_bits(memory.depth))
        brams = memory.brams
    return Resources(_luts("fifo", fifo_terms(width, depth)), ffs, brams)


def dwc_terms(in_width: int, out_width: int) -> dict[str, float]:
    """LUT terms of a :class:`~hwgen.ops.dwc.hw.WidthConverter`: an input word lands at one of the
    fill levels the buffer can have when it arrives (0 .. capacity - in, steps of
    ``gcd(in, out)``); when splitting, Yosys folds the level's decode into every buffered bit's
    shift multiplexer; the extra room of widths that do not divide each other."""
    step = math.gcd(in_width, out_width)
    capacity = dwc_capacity(in_width, out_width)
    positions = (capacity - in_width) // step + 1
    level_bits = (capacity // step).bit_length()
    return {"shift": in_width * positions, "capacity": capacity,
            "split": capacity * level_bits if in_width > out_width else 0,
            "odd": capacity if min(in_width, out_width) != step else 0, "control": 1}


def dwc_resources(in_width: int, out_width: int) -> Resources:
    for name, value in (("in_width", in_width), ("out_width", out_width)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    if in_width == out_width:
        return Resources()
    capacity = dwc_capacity(in_width, out_width)
    levels = capacity // math.gcd(in_width, out_width)      # the level counts steps of gcd
    return Resources(_luts("dwc", dwc_terms(in_width, out_width)),
                     capacity + levels.bit_length(), 0)


# --- layers -----------------------------------------------------------------------------------

_ESTIMATORS = {"mvtu": (mvtu_resources, mvtu_terms), "swg": (swg_resources, swg_terms),
               "maxpool": (maxpool_resources, maxpool_terms)}


def estimate_layer(layer) -> Resources:
    """Resources of the block an IR layer becomes (at its folding)."""
    resources, _ = _ESTIMATORS[op_for(layer).name]
    return resources(layer)


def layer_terms(layer) -> dict[str, float]:
    """The counts the LUT estimate of ``layer`` weighs with ``COEFFICIENTS[layer.op]``."""
    _, terms = _ESTIMATORS[op_for(layer).name]
    return terms(layer)


def in_width(layer) -> int:
    """Bits per transfer of a layer's input stream."""
    if isinstance(layer, MVTULayer):
        return layer.in_width
    if isinstance(layer, SWGLayer):
        return layer.simd * layer.elem_bits
    if isinstance(layer, MaxPoolLayer):
        return layer.pe * layer.elem_bits
    raise TypeError(f"not an IR layer: {layer!r}")


def out_width(layer) -> int:
    """Bits per transfer of a layer's output stream."""
    if isinstance(layer, MVTULayer):
        return layer.pe * layer.out_bits
    return in_width(layer)
