"""Where a memory goes on ECP5, as Yosys ``synth_ecp5`` places it, and what it costs.

Memories are placed as Yosys 0.40+ ``memory_libmap`` places them for ``synth_ecp5``
(:func:`map_memory` repeats its cost model): a ROM costs 1/16 per bit as logic against 128 per
block RAM, a RAM 1 per bit as flip-flops against 4 per ``DPR16X4`` or 128 per block RAM; the
cheapest wins, logic on a tie. So a one-word weight ROM (a fully unfolded layer) is constants, a
small one LUTs, a deep one block RAM (``DP16KD``, 18 Kbit).
"""
from ..base import MemoryMap, check_memory_request, yosys_ram_style_attrs
from .block_rom import block_rom as _block_rom, rom_slices
from .lut_rom import lut_rom as _lut_rom

__all__ = ["map_memory", "memory_terms", "memory_ffs", "memory_attrs", "rom_bank_depth",
           "block_rom", "rom_register_in_block", "lut_rom", "BRAM_LUTS", "DSP_LUTS", "MERGED_ROM_WORDS", "BRAM_SHAPES"]

#: LUTs a DP16KD block RAM is worth when one cost is needed: the LUT4s per block RAM of the
#: LFE5U-85F (83,640 / 208 = 402; the 25F has 24,288 / 56 = 434).
BRAM_LUTS = 400

#: LUTs a MULT18X18D multiplier is worth: LUT4s per multiplier of the LFE5U-85F (83,640 / 156).
DSP_LUTS = 536

# memory_libmap's costs (yosys passes/memory/memory_libmap.cc, techlibs/lattice/*_16kd.txt,
# lutrams_trellis.txt).
_LOGIC_COST_ROM = 1 / 16
_LOGIC_COST_RAM = 1.0
_BRAM_COST = 128
_LUTRAM_COST = 4
_MUX_FACTOR = 0.5
#: DP16KD (and PDPW16KD, 36 bits wide) aspect ratios: data width -> words.
BRAM_SHAPES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))
_LUTRAM_WORDS, _LUTRAM_WIDTH = 16, 4
#: A ROM of at most this many words in logic is a function of 3 address bits: with the input
#: bit it gates, one LUT4 (Yosys then registers the address instead of the weight).
MERGED_ROM_WORDS = 8


def map_memory(depth: int, width: int, *, rom: bool, async_read: bool = False,
               style: str = "auto") -> MemoryMap:
    """Yosys ``memory_libmap``'s choice for an ECP5 memory with one read and (unless ``rom``)
    one write port; ``async_read`` rules block RAM out. ``style`` is the memory's
    ``ram_style`` (:data:`hwgen.target.RAM_STYLES`, :func:`memory_attrs`): ``block``
    leaves only block RAM, ``distributed`` only LUTs (a ROM's logic, a RAM's DPR16X4 cells)."""
    check_memory_request(depth, width, async_read=async_read, style=style)
    if rom and depth == 1:
        return MemoryMap("const", depth, width, rom)
    best = MemoryMap("logic", depth, width, rom)
    best_cost = depth * width * (_LOGIC_COST_ROM if rom else _LOGIC_COST_RAM)
    if style == "block" or (style == "distributed" and not rom):
        best_cost = float("inf")
    elif style == "distributed":
        return best
    write_demux = 0 if rom else 1

    def banked(words: int, unit_width: int, unit_cost: float) -> tuple[int, int, float]:
        # Banks of ``words`` words, cells of ``unit_width`` bits: (banks, cells, LUT cost).
        banks = -(-depth // words)
        cells = banks * -(-width // unit_width)
        cost = (unit_cost * cells + _MUX_FACTOR * (banks - 1) * width
                + (_MUX_FACTOR * banks * write_demux if banks > 1 else 0))
        return banks, cells, cost

    if not rom and style != "block":     # Trellis distributed RAM cannot be a ROM (prune_rom)
        banks, cells, cost = banked(_LUTRAM_WORDS, _LUTRAM_WIDTH, _LUTRAM_COST)
        if cost < best_cost:
            best, best_cost = MemoryMap("lutram", depth, width, rom, lutrams=cells,
                                        banks=banks), cost
    if not async_read and style != "distributed":
        for unit_width, words in BRAM_SHAPES:
            banks, blocks, cost = banked(words, unit_width, _BRAM_COST)
            if cost < best_cost:
                best, best_cost = MemoryMap("bram", depth, width, rom, brams=blocks,
                                            banks=banks), cost
    return best


def memory_terms(memory: MemoryMap) -> dict[str, float]:
    """LUT terms of a memory: ROM slices in logic, distributed RAM cells and bank multiplexers."""
    if memory.kind == "logic" and memory.rom:
        return {"rom": memory.width * max(1.0, memory.depth / 16)}
    if memory.kind == "logic":      # flip-flops, a write decoder and a read multiplexer
        return {"lutram_mux": memory.width * (memory.depth - 1)}
    if memory.kind == "lutram":
        return {"lutram": memory.lutrams, "lutram_mux": memory.width * (memory.banks - 1)}
    if memory.kind == "bram":
        return {"lutram_mux": memory.width * (memory.banks - 1)}
    return {}


def memory_ffs(memory: MemoryMap, *, address_bits: int) -> int:
    """Flip-flops of a memory with a synchronous read port: its words when in flip-flops, and
    the read register. Before a ROM of up to 8 words in logic Yosys registers the address
    instead of the data, so that the ROM merges into the LUTs it feeds."""
    if memory.kind == "bram":       # Yosys registers the write data of a block RAM
        return 0 if memory.rom else memory.width
    if memory.kind == "const":
        return 0
    if memory.kind == "logic" and not memory.rom:
        return memory.depth * memory.width + memory.width
    if memory.kind == "logic" and memory.depth <= MERGED_ROM_WORDS:
        return address_bits
    return memory.width


def memory_attrs(ram_style: str) -> dict:
    """The attributes asking Yosys's ``memory_libmap`` for ``ram_style``
    (:data:`hwgen.target.RAM_STYLES`): ``block`` a block RAM, ``distributed`` LUTs (on ECP5 a
    ROM cannot be distributed RAM: it becomes logic), ``auto`` none (Yosys's cheapest)."""
    return yosys_ram_style_attrs(ram_style)


def rom_bank_depth(width: int) -> int:
    """Words of a ROM bank of ``width``-bit words that one DP16KD holds (16384 x 1 ...
    512 x 36; wider words take several block RAMs side by side, which needs no multiplexer)."""
    return next((depth for bits, depth in BRAM_SHAPES if width <= bits), 512)


def _bram_count(depth: int, width: int, style: str) -> int | None:
    mapped = map_memory(depth, width, rom=True, style=style)
    return mapped.brams if mapped.kind == "bram" else None


def rom_register_in_block(depth: int, width: int, *, ports: int = 1,
                          style: str = "auto") -> bool:
    """Whether :func:`block_rom` builds a ROM read through two registers as ``DP16KD`` with
    its output register (the second register then costs no flip-flop)."""
    blocks = rom_slices(depth, width, ports)
    return blocks is not None and len(blocks) == _bram_count(depth, width, style)


def block_rom(init, width: int, ports, *, style: str = "auto"):
    """``DP16KD`` block RAM with its output register for a :class:`hwgen.lib.rom.RegisteredRom`
    (:mod:`.block_rom`), where Yosys would put the ROM in as many block RAMs; else None."""
    return _block_rom(list(init), width, ports,
                      bram_count=_bram_count(len(init), width, style))


def lut_rom(init, width: int, port, *, style: str = "auto"):
    """``LUT4`` cells, one a bit (:mod:`.lut_rom`), for a :class:`hwgen.lib.rom.Rom` of at most
    16 words that Yosys would put in logic (``style`` not ``block``); else None."""
    init = list(init)
    if map_memory(len(init), width, rom=True, style=style).kind != "logic":   # one word: const
        return None
    return _lut_rom(init, width, port)

