"""The MVTU's cost model: the resources of its block (:class:`~hwgen.ops.mvtu.hw.MVTU`), a
digital one or a cim one with its macro (:class:`~hwgen.ops.mvtu.cim.CimMacro`), counted from
the structure the block builds (:mod:`.datapath`), term by term, with the memories where the
target puts them.

The LUT count is ``sum(target.coefficients[kind][term] * count)`` over :func:`terms` (``kind``
``mvtu``, or ``cim`` for a cim layer: the macro's terms, and the digital MVTU's for its parts
around the macro). Flip-flops are counted register by register.
"""
from ...cim.noise import TABLE_BITS
from ...lib.popcount import POPCOUNT_CHUNK
from ...target import MemoryMap, Resources, Target
from ..costing import add_terms, counter_bits, luts, tree_adder_luts
from .datapath import (BINARY_CHUNK, BLOCK_READ_REGISTERS, HASH_STAGES, SAMPLE_REGISTERS,
                       memories, sum_latency,
                       sum_register_bits, table_count, table_shape, threshold_word_bits,
                       weights_in_block_ram)
from .layer import MVTULayer

__all__ = ["terms", "resources", "mvtu_terms", "mvtu_resources", "cim_terms", "cim_resources",
           "cim_multipliers", "CIM_READ_DSPS", "CIM_KEY_DSPS"]


def terms(layer: MVTULayer, target: Target) -> dict[str, float]:
    """LUT terms of the MVTU block of ``layer`` on ``target`` (``coefficients["mvtu"]``, or
    ``["cim"]`` for a cim layer)."""
    return cim_terms(layer, target) if layer.macro is not None else mvtu_terms(layer, target)


def resources(layer: MVTULayer, target: Target) -> Resources:
    """Resources of the MVTU block of ``layer`` on ``target``."""
    if layer.macro is not None:
        return cim_resources(layer, target)
    return mvtu_resources(layer, target)


# --- digital MVTU -----------------------------------------------------------------------------

def _accumulator_bits(layer: MVTULayer) -> int:
    if layer.in_encoding == "bipolar":
        return max(1, layer.mw.bit_length())
    return layer.dot_bits


def _merged(memory: MemoryMap, target: Target) -> bool:
    """Whether ``memory`` is a ROM in logic small enough to merge into the LUTs its word feeds
    (:attr:`hwgen.target.Target.merged_rom_words`)."""
    return memory.kind == "logic" and memory.depth <= target.merged_rom_words


def _simd_sum(layer: MVTULayer, weights: MemoryMap,
              target: Target) -> tuple[float, float, float, int]:
    """(gate LUTs, adder LUTs) per neuron, adder LUTs shared by all neurons, and the result
    width of one neuron's per-cycle sum. A digital layer of ``b``-bit weights has ``b`` +-1
    planes' leaves and trees (:func:`~.datapath.simd_terms`), counted as ``b`` times one's."""
    gates, adder, shared, width = _plane_sum(layer, weights, target)
    planes = layer.weight_bits if layer.macro is None else 1
    return gates * planes, adder * planes, shared, width + planes - 1


def _plane_sum(layer: MVTULayer, weights: MemoryMap,
               target: Target) -> tuple[float, float, float, int]:
    """:func:`_simd_sum` of one +-1 weight plane."""
    simd = layer.simd
    if layer.in_encoding == "thermometer":  # a tree over the tables' reads, no gates
        adder, width = tree_adder_luts(table_count(layer), table_shape(layer).width)
        return 0, adder, 0, width
    constant = weights.kind == "const"
    merged = _merged(weights, target)
    if layer.in_encoding == "bipolar":      # popcount(~(w ^ x))
        adder, width = tree_adder_luts(simd, 1)
        return (0 if constant or merged else simd), adder, 0, width
    if layer.in_encoding == "binary" or layer.split_input:
        # per chunk a table of w and x (binary_leaves); with split_input per bit plane
        chunks = [min(BINARY_CHUNK, simd - k) for k in range(0, simd, BINARY_CHUNK)]
        # Each result bit's function of 2 * size inputs (weights and inputs): 2**(2 * size - 4)
        # LUT4s; with constant weights of the size inputs alone (datapath.binary_leaves).
        inputs = 1 if constant else 2
        leaves = sum((size.bit_length() + 1) * 2 ** max(0, inputs * size - 4) for size in chunks)
        tree, width = tree_adder_luts(len(chunks), chunks[0].bit_length() + 1)
        return 0, layer.planes * (leaves + tree), 0, width
    # uint: a tree of w ? x : -x, terms of in_bits + 1 bits. Yosys merges the tree into one
    # multi-operand adder of full adders over every term sign-extended to the sum's width.
    adder, width = tree_adder_luts(simd, layer.in_bits + 1)
    return simd * width / (2 if constant else 1), adder, 0, width


def _common_terms(layer: MVTULayer, thresholds: MemoryMap | None, replay: MemoryMap | None,
                  target: Target) -> dict[str, float]:
    """LUT terms of the parts every MVTU has: accumulators, counters, control, the threshold
    comparators and memory, the replay buffer."""
    result = {"accumulate": layer.pe * layer.planes * _accumulator_bits(layer),
              "counter": (counter_bits(layer.nf) + counter_bits(layer.sf)
                          + counter_bits(layer.nf * layer.sf)),
              "control": 1}
    if thresholds is None:
        if layer.in_encoding == "bipolar" and layer.macro is None:
            result["logit"] = layer.pe * layer.dot_bits
    else:
        result["compare"] = layer.pe * layer.threshold_count * layer.threshold_bits
        # a threshold ROM of a few words merges into the comparator's LUTs
        if not _merged(thresholds, target):
            add_terms(result, target.memory_terms(thresholds))
    if replay is not None:
        add_terms(result, target.memory_terms(replay))
        result["replay"] = layer.in_width
    return result


def mvtu_terms(layer: MVTULayer, target: Target) -> dict[str, float]:
    """LUT terms of a digital :class:`~hwgen.ops.mvtu.hw.MVTU` (``coefficients["mvtu"]``)."""
    weights, thresholds, replay = memories(layer, target)
    gates, adder, shared, _ = _simd_sum(layer, weights, target)
    pe = layer.pe
    # A split_input layer's leaves are binary ones, a set per bit plane.
    encoding = "binary" if layer.split_input else layer.in_encoding
    gate = "gate_uint" if encoding == "uint" else "gate"
    adder_term = {"binary": "adder_binary", "thermometer": "adder_table"}.get(encoding, "adder")
    result = {gate: pe * gates, adder_term: pe * adder + shared}
    add_terms(result, _common_terms(layer, thresholds, replay, target))
    add_terms(result, {name: value * table_count(layer)
                       for name, value in target.memory_terms(weights).items()})
    return result


def _common_ffs(layer: MVTULayer, thresholds: MemoryMap | None, replay: MemoryMap | None,
                target: Target) -> int:
    """Flip-flops of the parts every MVTU has (:mod:`hwgen.ops.mvtu.hw`): the fold counters and
    weight address, stage 1's control and input, its control delayed to the accumulator
    (:func:`~.datapath.sum_latency`), the accumulators' valid bits, the accumulators, the
    output and skid registers, the threshold word and the replay buffer."""
    nf_bits, sf_bits = counter_bits(layer.nf), counter_bits(layer.sf)
    pe = layer.pe
    control = 4 + nf_bits + sf_bits + sum_latency(layer, target) * (3 + nf_bits) + 3
    data = layer.in_width + pe * layer.planes * _accumulator_bits(layer) + 2 * pe * layer.out_bits
    ffs = nf_bits + sf_bits + counter_bits(layer.nf * layer.sf) + control + data
    if thresholds is not None:  # the threshold word, registered beside the accumulators
        ffs += pe * threshold_word_bits(layer)
        if thresholds.kind == "logic":
            ffs += nf_bits  # Yosys keeps the address register of the (narrow-range) thresholds
    if replay is not None:
        ffs += target.memory_ffs(replay, address_bits=sf_bits)
    return ffs


def mvtu_resources(layer: MVTULayer, target: Target) -> Resources:
    """Resources of a digital :class:`~hwgen.ops.mvtu.hw.MVTU`."""
    weights, thresholds, replay = memories(layer, target)
    pe = layer.pe
    tables = table_count(layer)
    data = 0
    # Block RAM reads pass BLOCK_READ_REGISTERS more registers (the block's datapath); the
    # weights' is the block RAM's own where the target builds it (hwgen.lib.rom).
    extra = BLOCK_READ_REGISTERS if weights_in_block_ram(layer, target) else 0
    weight_extra = 0 if extra and target.rom_register_in_block(
        weights.depth, weights.width, style=layer.ram_style) else extra
    if layer.in_encoding == "thermometer":  # the input vector and fold, the tables' reads, tree
        data += (layer.in_width + counter_bits(layer.nf * layer.sf)
                 + pe * sum_register_bits(layer))
        data += weight_extra * tables * weights.width
    else:                       # the weight word, the input vector, the sums' leaves and tree
        data += layer.in_width + pe * sum_register_bits(layer)
        if weights.kind != "const":
            data += pe * layer.simd * layer.weight_bits   # none for a constant word
        elif layer.in_encoding == "uint" and not layer.split_input:
            # constant weights make each leaf x or ~x: copies of the input vector's register
            data -= pe * layer.simd * (layer.in_bits + 1) - layer.in_width
        data += weight_extra * pe * layer.simd * layer.weight_bits + extra * layer.in_width
    ffs = (_common_ffs(layer, thresholds, replay, target) + data
           + tables * target.memory_ffs(weights, address_bits=counter_bits(weights.depth)))
    brams = weights.brams * tables + sum(
        memory.brams for memory in (thresholds, replay) if memory is not None)
    return Resources(luts(target, "mvtu", mvtu_terms(layer, target)), ffs, brams,
                     cim_multipliers(layer))


# --- cim MVTU ---------------------------------------------------------------------------------

def _cim_cells(layer: MVTULayer, target: Target) -> MemoryMap:
    """The macro's cell array (:class:`hwgen.ops.mvtu.cim.CimMacro`): a ROM of PE * WB * WL bits
    a word, each of the NF blocks' S groups at a power-of-two stride."""
    macro = layer.macro
    return target.map_memory(layer.nf << counter_bits(layer.sf),
                             layer.pe * macro.weight_bits * macro.wordlines, rom=True)


def _cim_reads(layer: MVTULayer) -> int:
    """Reads per cycle of a cim MVTU's macro: PE x weight slices x activation bits."""
    return layer.pe * layer.macro.weight_bits * layer.macro.act_bits


#: Bits of a ZTABLE sample (:mod:`hwgen.ops.mvtu.cim`: ``signed(15)``).
_SAMPLE_BITS = 15


def _bitline_bits(macro) -> int:
    return max(macro.wordlines.bit_length() + 1, 2)


def _popcount_parts(width: int) -> int:
    """Register bits of a two-stage popcount of ``width`` bits: its chunks' counts
    (:func:`hwgen.lib.popcount.chunk_popcounts`)."""
    return sum(min(POPCOUNT_CHUNK, width - k).bit_length()
               for k in range(0, width, POPCOUNT_CHUNK))


def cim_terms(layer: MVTULayer, target: Target) -> dict[str, float]:
    """LUT terms of a cim MVTU (``coefficients["cim"]``): the MVTU's parts around the macro
    (priced as a digital MVTU's) and the macro's (:mod:`hwgen.ops.mvtu.cim`): per read its
    popcount over the wordlines (binary inputs: one more per activation bit, the active rows),
    the noise hash's stages and the ADC's comparators."""
    macro, reads = layer.macro, _cim_reads(layer)
    _, thresholds, replay = memories(layer, target)
    result = _common_terms(layer, thresholds, replay, target)
    add_terms(result, target.memory_terms(_cim_cells(layer, target)))
    shared = 0 if macro.encoding == "bipolar" else macro.act_bits
    result["cim_popcount"] = (reads + shared) * macro.wordlines
    compared = macro.adc_input_bits if macro.noisy else _bitline_bits(macro)
    result["cim_adc"] = reads * len(macro.thresholds) * compared
    if macro.partial(layer.mw):
        # A partial last group: its padding rows masked before the popcounts, each
        # comparator's threshold one of two constants, the codes' weights (shift-adds).
        result["cim_popcount"] += reads * macro.wordlines
        result["cim_adc"] += reads * len(macro.thresholds) * _bitline_bits(macro) / 2
    if macro.noisy:
        result["cim_hash"] = reads * HASH_STAGES
        if not target.multipliers_in_dsps:      # the sample's scale, a multiplier in logic
            result["cim_scale"] = reads * macro.scale_bits * _SAMPLE_BITS
    return result


def cim_resources(layer: MVTULayer, target: Target) -> Resources:
    """Resources of a cim MVTU: the MVTU around the macro and the behavioural macro
    (:class:`hwgen.ops.mvtu.cim.CimMacro`), register by register."""
    macro, reads = layer.macro, _cim_reads(layer)
    wl, ab, pe, wb = macro.wordlines, macro.act_bits, layer.pe, macro.weight_bits
    _, thresholds, replay = memories(layer, target)
    cells = _cim_cells(layer, target)
    bitline = _bitline_bits(macro)
    # The inputs (registered, then delayed beside the cells), the cells' read registered, the
    # popcounts' chunk registers, the bitline sums.
    in_block = target.rom_register_in_block(cells.depth, cells.width)   # hwgen.lib.rom
    ffs = (2 * wl * ab + (0 if in_block else pe * wb * wl)
           + target.memory_ffs(cells, address_bits=counter_bits(cells.depth)))
    ffs += reads * _popcount_parts(wl) + reads * bitline
    if macro.encoding != "bipolar":         # the active rows: their popcount, registered
        ffs += ab * (_popcount_parts(wl) + wl.bit_length())
    brams = cells.brams
    if macro.noisy:
        stages = HASH_STAGES
        # The sample's first register is the ZTABLE block RAM's own where the target builds it.
        samples = 1 if target.rom_register_in_block(1 << TABLE_BITS, _SAMPLE_BITS, ports=2,
                                                    style="block") else 2
        ffs += 32 * (stages + 2)            # the vector keys' pipeline, count and h0
        ffs += reads * (2 * 32              # each read's key, delayed beside the cells
                        + 32 * (stages - 1) + TABLE_BITS    # the hash (its top bits kept)
                        + samples * _SAMPLE_BITS    # the sample, registered out of the block
                                            # RAM and again beside the multiplier
                        + macro.scale_bits  # its own copy of the scale
                        + bitline * (stages + 2)            # the bitline sum, delayed
                        + 2 * macro.adc_input_bits          # scaled sample, ADC input
                        + len(macro.thresholds))            # comparators
        ffs += ab * macro.scale_bits * stages               # noise scales, delayed
        # ZTABLE: a copy per two reads (its two ports), asked into block RAM: a block RAM
        # per copy with two read ports, two with one
        ztable = target.map_memory(1 << TABLE_BITS, _SAMPLE_BITS, rom=True, style="block")
        brams += -(-reads // 2) * ztable.brams * -(-2 // target.bram_read_ports)
    ffs += reads * macro.adc_bits           # the codes
    if macro.partial(layer.mw):             # the last group's flag, beside the data
        ffs += 4 + (HASH_STAGES + SAMPLE_REGISTERS + 2 if macro.noisy else 0) + \
            (ab if macro.encoding == "bipolar" else 0) * wl.bit_length()
    ffs += _common_ffs(layer, thresholds, replay, target)
    brams += sum(memory.brams for memory in (thresholds, replay) if memory is not None)
    return Resources(luts(target, "cim", cim_terms(layer, target)), ffs, brams,
                     cim_multipliers(layer) if target.multipliers_in_dsps else 0)


#: Multipliers of one noisy CIM read (:mod:`hwgen.ops.mvtu.cim`): the noise sample's scale (the
#: hash has no multiplier); and of a layer's vector-key pipeline: none.
CIM_READ_DSPS, CIM_KEY_DSPS = 1, 0


def cim_multipliers(layer: MVTULayer) -> int:
    """Multipliers of a cim MVTU's macro: ``CIM_READ_DSPS`` per read of a cycle (PE x weight
    slices x activation bits) and ``CIM_KEY_DSPS``, when the macro is noisy; 0 otherwise."""
    if layer.macro is None or not layer.macro.noisy:
        return 0
    return CIM_READ_DSPS * _cim_reads(layer) + CIM_KEY_DSPS
