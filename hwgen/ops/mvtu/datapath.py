"""The MVTU's datapath as its block (``hw.py``, ``cim.py``) builds it and its cost model
(``cost.py``) counts it: its memories and where the target puts them, the leaves of the
per-cycle sums, and the pipeline's stages and registers.

The block and the cost model both read these; neither imports the other. Where a memory goes is
the target's answer (:meth:`hwgen.target.Target.map_memory`), so the block's registers after a
block RAM read (:func:`weights_in_block_ram`) and the estimate's memory cost follow the same
placement.
"""
from amaranth.hdl import Array, Cat, Const, Mux, Signal, Value, signed, unsigned

from ...cim.macro import MacroSpec
from ...cim.noise import ARX_ROUNDS
from ...lib.popcount import chunk_popcounts, pipelined_sum_bits, pipelined_sum_stages, tree_sum
from ...target import MemoryMap, Target
from .layer import MVTULayer

__all__ = ["SUM_LEVELS_PER_STAGE", "BINARY_CHUNK", "BLOCK_READ_REGISTERS", "ROUNDS_PER_STAGE",
           "HASH_STAGES", "binary_leaves", "plane_vector", "simd_terms", "threshold_word_bits",
           "table_shape", "table_count", "weight_memory", "memories", "weights_in_block_ram", "SAMPLE_REGISTERS", "macro_latency", "sum_latency",
           "sum_register_bits", "mvtu_latency"]

#: Adder levels of the per-cycle sums' trees between two registers
#: (:func:`hwgen.lib.popcount.pipelined_sum`): an adder level is a carry chain and its routing;
#: two fit a cycle of the KWS goal's clock (``bench/timing.py`` measures the blocks' Fmax).
SUM_LEVELS_PER_STAGE = 2

#: Inputs per leaf of a binary layer's sum (:func:`binary_leaves`).
BINARY_CHUNK = 3

#: Registers a read from block RAM passes before the register that feeds logic: a DP16KD's
#: data leaves it late in the cycle (nextpnr times every DP16KD without its output register),
#: too late to cross the chip in a cycle of the KWS goal's clock; the static placer
#: (``hardware.placer``) tends to keep the first beside the block, as the seed allows. (Two
#: made the KWS top too congested to route.)
BLOCK_READ_REGISTERS = 1

#: Rounds of :func:`hwgen.cim.noise.arx32` per register stage of the CIM macro's noise hash:
#: one (a 16-bit adder and two xors); two in series miss the KWS goal's clock
#: (``bench/cim_timing.py`` measures it).
ROUNDS_PER_STAGE = 1

#: Register stages of the CIM macro's noise hash (:data:`hwgen.ops.mvtu.cim.ARX_STAGES`).
HASH_STAGES = -(-ARX_ROUNDS // ROUNDS_PER_STAGE)


# --- the per-cycle sums' leaves -----------------------------------------------------------------

def binary_leaves(row, vector, chunk: int = BINARY_CHUNK) -> list:
    """The inputs under +1 weights less those under -1 weights, of ``vector``'s consecutive
    ``chunk``-bit slices (the last may be shorter), each a table of its weight and input bits:
    a 6-input function is one LUT level (four LUT4s and their multiplexers), where the
    difference of two popcounts took a few LUT levels and a carry chain. With constant weights
    (``row`` a sequence of 0/1, :func:`simd_terms`) each leaf is a function of its input bits
    alone."""
    constant = not isinstance(row, Value)
    leaves = []
    for start in range(0, len(row), chunk):
        size = min(chunk, len(row) - start)
        shape = signed(size.bit_length() + 1)
        inputs = vector[start:start + size]
        if constant:
            # x under +1, (1 - x) - 1 under -1: the popcount of the agreeing bits less the
            # count of -1 weights (a function of the input bits alone, and small to emit).
            agree = [inputs[k] if row[start + k] else ~inputs[k] for k in range(size)]
            negative = size - sum(1 for k in range(size) if row[start + k])
            leaf = Value.cast(tree_sum(agree) - negative)
            leaves.append(leaf[:shape.width].as_signed())
            continue
        # Index bit k: weight k; bit size + k: input k.
        table = [sum(((index >> (size + k)) & 1) * (1 if (index >> k) & 1 else -1)
                     for k in range(size)) for index in range(1 << (2 * size))]
        leaves.append(Array(Const(value, shape) for value in table)[
            Cat(row[start:start + size], inputs)])
    return leaves


def plane_vector(layer: MVTULayer, vector, plane: int):
    """Bit ``plane`` of each of the ``SIMD`` 2-bit elements of ``vector`` (a ``split_input``
    layer's binary path)."""
    return Cat(*(vector[k * layer.in_bits + plane] for k in range(layer.simd)))


def simd_terms(layer: MVTULayer, row, vector, plane: int = 0) -> list:
    """The leaves whose sum is this cycle's contribution of one neuron of a digital layer,
    ``SIMD`` weight bits ``row`` on ``vector``: each a few LUT levels deep, registered before
    the adder tree. ``row`` is a Value (weights read from memory) or a sequence of 0/1 (the
    constant weights of a layer with one weight word); the leaves are as many either way.
    A ``split_input`` layer's are bit plane ``plane``'s (binary inputs; the planes' leaves are
    alike). With ``weight_bits = b > 1`` ``row`` holds the codes' ``b`` bit planes (plane
    ``j`` at ``j * SIMD``), each a +-1 weight row whose leaves count ``2**j`` times (a
    bipolar layer's popcounts then add up to ``sum_j 2**j popcount_j``, whose dot product is
    twice that less ``(2**b - 1) * mw``)."""
    if layer.weight_bits > 1 and layer.macro is None:
        simd = layer.simd
        return [term << j if j else term for j in range(layer.weight_bits)
                for term in _plane_terms(layer, row[j * simd:(j + 1) * simd], vector, plane)]
    return _plane_terms(layer, row, vector, plane)


def _plane_terms(layer: MVTULayer, row, vector, plane: int) -> list:
    """:func:`simd_terms` of one +-1 weight row."""
    constant = not isinstance(row, Value)
    simd = layer.simd
    if layer.split_input:
        return binary_leaves(row, plane_vector(layer, vector, plane))
    if layer.in_encoding == "bipolar":
        if constant:
            return chunk_popcounts([vector[k] if row[k] else ~vector[k] for k in range(simd)])
        return chunk_popcounts([~(row[k] ^ vector[k]) for k in range(simd)])
    if layer.in_encoding == "binary":
        return binary_leaves(row, vector)
    # uint: w ? x : -x, as w ? x : ~x (= -x - 1, no adder) plus the count of -1 weights.
    bits = layer.in_bits
    terms = []
    for k in range(simd):
        x = Cat(vector[k * bits:(k + 1) * bits], Const(0, 1)).as_signed()
        terms.append((x if row[k] else ~x) if constant else Mux(row[k], x, ~x))
    negative = [Const(1 - row[k], 1) if constant else ~row[k] for k in range(simd)]
    return terms + chunk_popcounts(negative)


def table_shape(layer: MVTULayer):
    """A thermometer lookup's entry: a sum of ``code_bits`` weights (levels ``-L .. L``) plus
    ``L * code_bits``, ``0 .. 2 L code_bits`` (unsigned terms add without sign extension; the
    accumulator starts at minus the offsets' sum, :func:`hwgen.ops.mvtu.hw.table_offset`)."""
    return unsigned((2 * layer.weight_max * layer.code_bits).bit_length())


# --- memories ---------------------------------------------------------------------------------

def table_count(layer: MVTULayer) -> int:
    """Weight memories of a digital MVTU: a thermometer layer's lookup tables (one per element
    of a transfer, :func:`hwgen.ops.mvtu.hw.thermometer_tables`), else the one weight memory."""
    return layer.simd_elements if layer.in_encoding == "thermometer" else 1


def memories(layer: MVTULayer, target: Target) -> tuple[MemoryMap, MemoryMap | None,
                                                         MemoryMap | None]:
    """Where ``target`` puts an MVTU's memories: the weight memory (for a thermometer layer:
    each of its :func:`table_count` lookup tables), by the layer's ``ram_style``; the
    threshold memory (None for a layer without thresholds) and the replay buffer (None for a
    single neuron fold). A cim layer's weight entry is the digital layer's it would be; its
    weights are in the macro's cells."""
    if layer.in_encoding == "thermometer":
        weights = target.map_memory(layer.nf * layer.sf << layer.in_bits,
                                    layer.pe * table_shape(layer).width, rom=True,
                                    style=layer.ram_style)
    else:
        planes = layer.weight_bits if layer.macro is None else 1
        weights = target.map_memory(layer.nf * layer.sf, layer.pe * layer.simd * planes,
                                    rom=True, style=layer.ram_style)
    thresholds = (target.map_memory(layer.nf, layer.pe * threshold_word_bits(layer), rom=True)
                  if layer.output == "bits" else None)
    replay = target.map_memory(layer.sf, layer.in_width, rom=False) if layer.nf > 1 else None
    return weights, thresholds, replay


def threshold_word_bits(layer: MVTULayer) -> int:
    """Bits of one neuron's thresholds and invert flags in the threshold memory."""
    return layer.threshold_count * layer.threshold_bits + layer.invert_count


def weight_memory(layer: MVTULayer, target: Target) -> MemoryMap | None:
    """Where ``target`` puts a digital MVTU's weight memory (a thermometer layer's: each of its
    lookup tables), by its ``ram_style``; None for a cim layer (the weights are in the
    macro)."""
    return None if layer.macro is not None else memories(layer, target)[0]


def weights_in_block_ram(layer: MVTULayer, target: Target) -> bool:
    """Whether ``target`` puts a digital layer's weights (a thermometer layer's tables) in block
    RAM (:func:`weight_memory`): the block then reads them through
    :data:`BLOCK_READ_REGISTERS` more registers."""
    memory = weight_memory(layer, target)
    return memory is not None and memory.kind == "bram"


# --- the pipeline -----------------------------------------------------------------------------

#: Fabric registers a noise sample passes between its table's block RAM (whose own output
#: register comes first) and its multiplier: the multipliers' DSP column lies far from the
#: block RAM, and each register lets the placer split that distance. With one, the wire from
#: it into the multiplier set the KWS top's Fmax at 416 cycles/frame (16 reads a cycle).
SAMPLE_REGISTERS = 2


def macro_latency(macro: MacroSpec) -> int:
    """``en`` cycles of the CIM macro (:class:`hwgen.ops.mvtu.cim.CimMacro`) from a read to its
    codes: 5 without noise (cells and inputs; the cells registered; chunk popcounts; bitline
    sums; ADC), ``HASH_STAGES + 8 + SAMPLE_REGISTERS`` with it (cells, inputs and read keys;
    the cells registered; the hash's stages, beside them the cells registered again (in the
    fabric), the chunk popcounts, the bitline sums and the noise scale; ZTABLE; its sample
    registered in the block RAM and :data:`SAMPLE_REGISTERS` times on the way to the
    multiplier; the scaled sample; the ADC input; its comparators; the code)."""
    return HASH_STAGES + 8 + SAMPLE_REGISTERS if macro.noisy else 5


def sum_latency(layer: MVTULayer, target: Target) -> int:
    """``advance`` cycles from the issue stage's registers (weights, input) to the per-cycle
    sums: a digital layer registers the weight word and the input vector (from block RAM
    after :data:`BLOCK_READ_REGISTERS` more, :func:`weights_in_block_ram` on ``target``), then
    its leaves (:func:`simd_terms`), then every :data:`SUM_LEVELS_PER_STAGE` adder levels; a
    cim layer takes its macro's latency (:func:`macro_latency`)."""
    if layer.macro is not None:
        return macro_latency(layer.macro)
    block = BLOCK_READ_REGISTERS if weights_in_block_ram(layer, target) else 0
    if layer.in_encoding == "thermometer":
        # The input vector registered, the tables read (from block RAM through the extra
        # registers), then their sum.
        return 2 + block + pipelined_sum_stages(layer.simd_elements, SUM_LEVELS_PER_STAGE)
    leaves, _bits = _sum_counts(layer)
    return 1 + block + pipelined_sum_stages(leaves, SUM_LEVELS_PER_STAGE)


def sum_register_bits(layer: MVTULayer) -> int:
    """Flip-flops of one neuron's per-cycle sum pipeline of a digital layer: its registered
    leaves (a thermometer layer's table reads) and partial sums
    (:func:`hwgen.lib.popcount.pipelined_sum_bits`), each plane's with ``split_input``."""
    _leaves, bits = _sum_counts(layer)
    return layer.planes * bits


def _sum_key(layer: MVTULayer) -> tuple:
    """Everything :func:`simd_terms` and :func:`table_shape` read of ``layer`` (the leaves'
    count and shapes), and nothing else: layers alike in it have alike sums."""
    thermometer = layer.in_encoding == "thermometer"
    return (layer.in_encoding, layer.simd, layer.weight_bits, layer.in_width, layer.in_bits,
            layer.split_input, layer.macro is None,
            (layer.simd_elements, layer.weight_max, layer.code_bits) if thermometer else None)


#: (leaves, register bits of one plane's pipelined sum) by :func:`_sum_key`: counting builds
#: the sum's expressions, a fifth of a second for a wide layer, and the auto-folder asks for
#: the same few shapes hundreds of times.
_SUM_COUNTS: dict[tuple, tuple[int, int]] = {}


def _sum_counts(layer: MVTULayer) -> tuple[int, int]:
    key = _sum_key(layer)
    counts = _SUM_COUNTS.get(key)
    if counts is None:
        if layer.in_encoding == "thermometer":
            terms = [Signal(table_shape(layer)) for _ in range(layer.simd_elements)]
        else:
            terms = simd_terms(layer, Signal(layer.simd * layer.weight_bits),
                               Signal(layer.in_width))
        counts = _SUM_COUNTS[key] = (len(terms),
                                     pipelined_sum_bits(terms, levels=SUM_LEVELS_PER_STAGE))
    return counts


def mvtu_latency(layer: MVTULayer, target: Target) -> int:
    """Cycles from the transfer that issues a neuron fold's last input to its output
    transfer's ``valid``, without stalls, of the block built for ``target``: the issue
    registers, :func:`sum_latency`, the accumulator and the output register."""
    return sum_latency(layer, target) + 3
