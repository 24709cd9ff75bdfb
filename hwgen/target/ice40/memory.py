"""Where a memory goes on iCE40, as Yosys ``synth_ice40`` places it, and what it costs.

Memories are placed as Yosys 0.40+ ``memory_libmap`` places them for ``synth_ice40``
(``-lib +/ice40/brams.txt -lib +/ice40/spram.txt -no-auto-huge``); :func:`map_memory` repeats
its cost model (``passes/memory/memory_libmap.cc``): a ROM costs 1/16 per bit as logic, a RAM 1
per bit as flip-flops, against 64 per ``SB_RAM40_4K`` block RAM (4 Kbit: 2048 x 2 ... 256 x 16)
plus the soft logic around it; the cheapest wins, logic on a tie. iCE40 has no distributed (LUT)
RAM: a RAM not in block RAM is flip-flops.

Two things differ from ECP5. The narrowest block RAM is 2 bits wide, and Yosys packs the banks
of a narrow memory side by side in one block's data bits (a 4096 x 1 ROM is one 2048 x 2 block,
the upper half in bit 1). And Yosys's iCE40 block RAM (``brams.txt``) promises nothing of a read
of the address being written, so for a RAM with Amaranth's default non-transparent read port it
delays each write by a cycle and bypasses the read (``emulate_read_first``): flip-flops for the
write address, data and enable, the bypassed data and a match, a LUT per bit, and 14 on the
block RAM's cost, so a RAM of up to 78 bits stays in flip-flops. The UltraPlus parts'
single-port ``SB_SPRAM256KA`` is used only with ``synth_ice40 -spram``, and only for a memory
whose read and write share one address; hwgen's memories (a ROM, or a read beside a write port)
never do.
"""
from ..base import MemoryMap, check_memory_request, yosys_ram_style_attrs

__all__ = ["map_memory", "memory_terms", "memory_ffs", "memory_attrs", "rom_bank_depth",
           "BRAM_LUTS", "DSP_LUTS", "MERGED_ROM_WORDS", "BRAM_SHAPES"]

#: LUTs an SB_RAM40_4K block RAM is worth when one cost is needed: the LUT4s per block RAM of
#: the iCE40UP5K (5,280 / 30 = 176).
BRAM_LUTS = 176

#: LUTs an SB_MAC16 multiplier is worth: LUT4s per DSP of the iCE40UP5K (5,280 / 8 = 660).
DSP_LUTS = 660

# memory_libmap's costs (yosys passes/memory/memory_libmap.cc, techlibs/ice40/brams.txt).
_LOGIC_COST_ROM = 1 / 16
_LOGIC_COST_RAM = 1.0
_BRAM_COST = 64
_MUX_FACTOR = 0.5
# Soft logic a block RAM needs, at memory_libmap's 2 per point: a read port of its own (1), and
# for a RAM read-first (3) and transparency (3) emulation.
_ROM_EMULATION = 2 * 1
_RAM_EMULATION = 2 * (1 + 3 + 3)
#: SB_RAM40_4K aspect ratios: data width -> words (a 1-bit memory takes the 2-bit shape).
BRAM_SHAPES = ((2, 2048), (4, 1024), (8, 512), (16, 256))
#: A ROM of at most this many words in logic is a function of 3 address bits: with the input
#: bit it gates, one LUT4 (Yosys then registers the address instead of the weight).
MERGED_ROM_WORDS = 8


def _bram_choice(depth: int, width: int, *, rom: bool) -> tuple[int, int, float]:
    """``(banks, blocks, cost)`` of memory_libmap's block RAM geometry."""
    # A RAM's write port either writes whole words of the block's width (2, 4 or 8 bits), so
    # that each bank takes its own blocks, or all 16 bits with a per-bit mask, so that banks
    # share blocks as a ROM's do; memory_libmap keeps the cheaper of the two.
    variants = [(BRAM_SHAPES, True)] if rom else [(BRAM_SHAPES[:-1], False), (BRAM_SHAPES, True)]
    best = None
    for shapes, packed in variants:
        chosen, chosen_cost = None, None
        for unit_width, words in shapes:
            banks = -(-depth // words)
            blocks = -(-banks * width // unit_width) if packed \
                else banks * -(-width // unit_width)
            cost = (_BRAM_COST * blocks + _MUX_FACTOR * (banks - 1) * width
                    + (0 if rom else _MUX_FACTOR * banks if banks > 1 else 0)
                    + (_ROM_EMULATION if rom else _RAM_EMULATION))
            # memory_libmap keeps the best cost as an int: a later shape must beat its floor.
            if chosen is None or cost < chosen_cost:
                chosen, chosen_cost = (banks, blocks, cost), int(cost)
        if best is None or chosen[2] < best[2]:
            best = chosen
    return best


def map_memory(depth: int, width: int, *, rom: bool, async_read: bool = False,
               style: str = "auto") -> MemoryMap:
    """Yosys ``memory_libmap``'s choice for an iCE40 memory with one synchronous read and
    (unless ``rom``) one write port in the same domain; ``async_read`` rules block RAM out.
    ``style`` is the memory's ``ram_style`` (:data:`hwgen.target.RAM_STYLES`,
    :func:`memory_attrs`): ``block`` leaves only block RAM, ``distributed`` only logic (iCE40
    has no LUT RAM: a RAM's words are flip-flops). The kind is never ``lutram``."""
    check_memory_request(depth, width, async_read=async_read, style=style)
    if rom and depth == 1:
        return MemoryMap("const", depth, width, rom)
    logic = MemoryMap("logic", depth, width, rom)
    if style == "distributed" or async_read:
        return logic
    banks, blocks, cost = _bram_choice(depth, width, rom=rom)
    # memory_libmap compares against the logic cost truncated to an int; logic wins a tie.
    logic_cost = int(depth * width * (_LOGIC_COST_ROM if rom else _LOGIC_COST_RAM))
    if style == "auto" and not cost < logic_cost:
        return logic
    return MemoryMap("bram", depth, width, rom, brams=blocks, banks=banks)


def memory_terms(memory: MemoryMap) -> dict[str, float]:
    """LUT terms of a memory: ROM slices in logic, and multiplexers (``lutram_mux``, the cost
    model's name for any memory's read multiplexer: across a RAM's words in flip-flops, across
    block RAM banks, and a RAM's read-first bypass)."""
    if memory.kind == "logic" and memory.rom:
        return {"rom": memory.width * max(1.0, memory.depth / 16)}
    if memory.kind == "logic":      # flip-flops, a write decoder and a read multiplexer
        return {"lutram_mux": memory.width * (memory.depth - 1)}
    if memory.kind == "bram":
        return {"lutram_mux": memory.width * (memory.banks - (1 if memory.rom else 0))}
    return {}


def memory_ffs(memory: MemoryMap, *, address_bits: int) -> int:
    """Flip-flops of a memory with a synchronous read port of ``address_bits``: its words when
    in flip-flops, and the read register. Before a ROM of up to 8 words in logic Yosys
    registers the address instead of the data, so that the ROM merges into the LUTs it feeds.
    Block RAM registers its own read; the bank select is registered, and a RAM's read-first
    emulation registers the write address, data and enable, the written data and a match."""
    if memory.kind == "bram":
        select = (memory.banks - 1).bit_length()
        return select if memory.rom else select + address_bits + 2 * memory.width + 2
    if memory.kind == "const":
        return 0
    if memory.kind == "logic" and not memory.rom:
        return memory.depth * memory.width + memory.width
    if memory.kind == "logic" and memory.depth <= MERGED_ROM_WORDS:
        return address_bits
    return memory.width


def memory_attrs(ram_style: str) -> dict:
    """The attributes asking Yosys's ``memory_libmap`` for ``ram_style``
    (:data:`hwgen.target.RAM_STYLES`): ``block`` a block RAM, ``distributed`` logic (LUTs for
    a ROM, flip-flops for a RAM: iCE40 has no LUT RAM), ``auto`` none (Yosys's cheapest)."""
    return yosys_ram_style_attrs(ram_style)


def rom_bank_depth(width: int) -> int:
    """Words of a ROM bank of ``width``-bit words that one SB_RAM40_4K holds (2048 x 2 ...
    256 x 16; wider words take several block RAMs side by side, which needs no multiplexer)."""
    return next((depth for bits, depth in BRAM_SHAPES if width <= bits), 256)
