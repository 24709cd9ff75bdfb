"""Where Yosys ``synth_ecp5`` puts a memory (:mod:`hwgen.target.ecp5.memory`), and what it costs."""
import pytest

from hwgen.target import MemoryMap
from hwgen.target.ecp5.memory import (map_memory, memory_attrs, memory_ffs, memory_terms,
                                      rom_bank_depth)


@pytest.mark.parametrize("depth,width,rom,async_read,kind,brams", [
    (1, 2048, True, False, "const", 0),       # a fully unfolded layer's weights are constants
    (32, 64, True, False, "logic", 0),        # 2 Kbit ROM: 128 in logic < 2 x 128 in block RAM
    (2048, 1, True, False, "logic", 0),       # a tie (128 each) stays in logic
    (64, 256, True, False, "logic", 0),       # 1024 each: logic
    (512, 32, True, False, "bram", 1),        # 36 x 512
    (8192, 8, True, False, "bram", 4),        # 2 x 8192 four times
    (256, 1024, True, False, "bram", 29),     # ceil(1024 / 36)
    (64, 16, False, False, "lutram", 0),      # 16 DPR16X4 beat a block RAM
    (1024, 1, False, False, "bram", 1),       # 64 DPR16X4 do not
    (1024, 1, False, True, "lutram", 0),      # asynchronous read: never a block RAM
    (1, 36, False, False, "logic", 0),        # one word: flip-flops
    (63, 64, False, False, "bram", 2),
])
def test_map_memory(depth, width, rom, async_read, kind, brams):
    memory = map_memory(depth, width, rom=rom, async_read=async_read)
    assert (memory.kind, memory.brams) == (kind, brams)
    if kind == "lutram":
        assert memory.lutrams == -(-depth // 16) * -(-width // 4)


@pytest.mark.parametrize("depth,width,rom,style,kind,brams", [
    (32, 1536, True, "block", "bram", 43),        # a wide shallow ROM yosys would put in LUTs
    (512, 32, True, "distributed", "logic", 0),   # a ROM in LUTs: logic (no ROM LUTRAM)
    (1024, 1, False, "distributed", "lutram", 0),
    (64, 16, False, "block", "bram", 1),
    (1, 36, True, "block", "const", 0),           # one word stays a constant
])
def test_map_memory_style(depth, width, rom, style, kind, brams):
    memory = map_memory(depth, width, rom=rom, style=style)
    assert (memory.kind, memory.brams) == (kind, brams)
    assert map_memory(depth, width, rom=rom).kind != kind or kind == "const"


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_map_memory_rejects(bad):
    with pytest.raises(ValueError, match="depth"):
        map_memory(bad, 8, rom=True)
    with pytest.raises(ValueError, match="width"):
        map_memory(8, bad, rom=False)


def test_memory_attrs():
    assert memory_attrs("auto") == {}
    assert memory_attrs("block") == {"ram_style": "block"}
    assert memory_attrs("distributed") == {"ram_style": "logic"}
    with pytest.raises(ValueError, match=r"ram_style must be one of auto, block, distributed, "
                                         r"not 'huge'"):
        memory_attrs("huge")


@pytest.mark.parametrize("width,depth", [(1, 16384), (2, 8192), (3, 4096), (9, 2048),
                                         (10, 1024), (36, 512), (37, 512), (1000, 512)])
def test_rom_bank_depth(width, depth):
    assert rom_bank_depth(width) == depth


def test_memory_terms_and_ffs():
    rom = map_memory(64, 8, rom=True)                   # logic: 8 slices of 4 x 16 words
    assert rom.kind == "logic" and memory_terms(rom) == {"rom": 32.0}
    assert memory_ffs(rom, address_bits=6) == 8         # the read register
    small = map_memory(8, 8, rom=True)                  # merges into the LUTs it feeds
    assert memory_ffs(small, address_bits=3) == 3       # the address registered instead
    ram = map_memory(64, 16, rom=False)                 # 16 DPR16X4 in 4 banks
    assert memory_terms(ram) == {"lutram": 16, "lutram_mux": 48}
    bram = map_memory(1024, 1, rom=False)
    assert memory_terms(bram) == {"lutram_mux": 0} and memory_ffs(bram, address_bits=10) == 1
    assert memory_terms(MemoryMap("const", 1, 8, True)) == {}


def test_memory_map_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match=r"kind must be one of const, logic, lutram, bram, "
                                         r"not 'spram'"):
        MemoryMap("spram", 1, 8, True)
