"""A ROM in ``DP16KD`` block RAM read through its output register (:func:`block_rom`).

Yosys's ``memory_libmap`` always builds ``DP16KD`` without its output register
(``REGMODE = NOREG``, ``techlibs/lattice/brams_map_16kd.v``): a read's data leaves the block
late in the cycle (nextpnr's timing model) and any flip-flop that registers it is placed
where the placer likes. With ``REGMODE = OUTREG`` the block registers its data itself
(clocked on ``OCE``) and it leaves early. :func:`block_rom` builds
:class:`hwgen.lib.rom.RegisteredRom` so, in the same number of block RAMs as Yosys would use:

* depth <= 512: two 18-bit slices of a word per block, one per port (true dual port, 1024 x 18:
  slice ``2k`` at rows 0..511 read on port A, slice ``2k + 1`` at rows 512..1023 on port B):
  a 36-bit word a block, as Yosys's 512 x 36 ``PDPW16KD``;
* depth <= 1024: one 18-bit slice a block on port A (on both ports for a ROM read twice);
* deeper, or where that count is not Yosys's: None (the generic build, Yosys's mapping).

Rows are 18 bits; ``INITVAL_xx`` holds rows ``16 xx`` .. ``16 xx + 15``, row ``i`` at bits
``20 i`` .. ``20 i + 17`` (as ``brams_map_16kd.v`` packs them); in 18-bit mode a port's
address is ``AD[13:4]`` (``AD[3:0]`` are byte enables, zero for a read).
"""
from amaranth.hdl import Cat, ClockSignal, Const, Elaboratable, Instance, Module

__all__ = ["block_rom", "Dp16kdRom", "ROWS", "ROW_BITS", "rom_slices"]

#: Rows of one DP16KD in 18-bit mode, and their bits.
ROWS, ROW_BITS = 1024, 18
_INITVALS = 64          # INITVAL_00 .. INITVAL_3F, 16 rows each
_PARAMETER_BITS = 320


def rom_slices(depth: int, width: int, ports: int) -> list[list[tuple[int, int]]] | None:
    """Blocks of a ROM of ``depth`` words of ``width`` bits on ``ports`` read ports: for each
    block, for port A and port B, ``(first bit, first row)`` of the 18-bit slice it reads, or
    None where the port is unused; None where the ROM is not built as block RAM here."""
    slices = -(-width // ROW_BITS)
    if ports == 1 and depth <= ROWS // 2:
        blocks = []
        for first in range(0, slices, 2):
            port_b = (first + 1) * ROW_BITS if first + 1 < slices else None
            blocks.append([(first * ROW_BITS, 0),
                           None if port_b is None else (port_b, ROWS // 2)])
        return blocks
    if depth <= ROWS:
        return [[(s * ROW_BITS, 0)] * ports + [None] * (2 - ports) for s in range(slices)]
    return None


def initvals(init: list[int], layout: list[tuple[int, int] | None]) -> dict:
    """The ``INITVAL_xx`` parameters of one block holding ``layout``'s slices of ``init``."""
    rows = [0] * ROWS
    placed = {}
    for port in layout:
        if port is not None:
            placed[port[1]] = port[0]
    mask = (1 << ROW_BITS) - 1
    for first_row, first_bit in placed.items():
        for address, word in enumerate(init):
            rows[first_row + address] = (word >> first_bit) & mask
    values = {}
    for index in range(_INITVALS):
        value = 0
        for i in range(16):
            value |= rows[index * 16 + i] << (20 * i)
        values[f"p_INITVAL_{index:02X}"] = Const(value, _PARAMETER_BITS)
    return values


class Dp16kdRom(Elaboratable):
    """The blocks of a :class:`hwgen.lib.rom.RegisteredRom` (``ports``, its read ports) as
    ``DP16KD`` cells with their output registers (:func:`rom_slices` places the words)."""

    def __init__(self, init: list[int], ports, blocks, domain: str = "sync"):
        self.init, self.ports, self.blocks = init, ports, blocks
        self.domain = domain

    def elaborate(self, platform):
        m = Module()
        clock = ClockSignal(self.domain)
        for number, layout in enumerate(self.blocks):
            pins = {}
            for side, slot in zip("AB", layout):
                # A port reads the ROM's port 0 unless the ROM has two, which take A and B.
                if slot is None:
                    address, enable, data = Const(0, 10), Const(0, 1), None
                else:
                    port = self.ports[0 if len(self.ports) == 1 else "AB".index(side)]
                    first_bit, first_row = slot
                    # Rows first_row ..: a depth of at most 512 words, the upper half.
                    address = Cat(port.addr[:9], Const(1, 1)) if first_row else port.addr
                    enable = port.en
                    data = port.data[first_bit:first_bit + ROW_BITS]
                pins[f"i_CLK{side}"] = clock
                pins[f"i_CE{side}"] = enable
                pins[f"i_OCE{side}"] = enable
                pins[f"i_WE{side}"] = Const(0, 1)
                pins[f"i_RST{side}"] = Const(0, 1)
                for k in range(3):
                    pins[f"i_CS{side}{k}"] = Const(0, 1)
                row = Cat(Const(0, 4), address)[:14]
                for k in range(14):
                    pins[f"i_AD{side}{k}"] = row[k] if k < len(row) else Const(0, 1)
                for k in range(ROW_BITS):
                    pins[f"i_DI{side}{k}"] = Const(0, 1)
                if data is not None:
                    for k in range(len(data)):
                        pins[f"o_DO{side}{k}"] = data[k]
            m.submodules[f"block{number}"] = Instance(
                "DP16KD",
                p_DATA_WIDTH_A=ROW_BITS, p_DATA_WIDTH_B=ROW_BITS,
                p_REGMODE_A="OUTREG", p_REGMODE_B="OUTREG",
                p_RESETMODE="SYNC", p_ASYNC_RESET_RELEASE="SYNC",
                p_CSDECODE_A="0b000", p_CSDECODE_B="0b000",
                p_WRITEMODE_A="NORMAL", p_WRITEMODE_B="NORMAL", p_GSR="DISABLED",
                **initvals(self.init, layout), **pins)
        return m


def block_rom(init: list[int], width: int, ports, *, bram_count=None) -> Dp16kdRom | None:
    """``DP16KD`` cells with output registers for a ROM read through two registers, or None
    where this builds it otherwise than Yosys would (in logic, in other block RAM shapes or
    counts: ``bram_count``, the block RAMs Yosys's mapping takes, or None where it takes
    none)."""
    blocks = rom_slices(len(init), width, len(ports))
    if blocks is None or bram_count is None or len(blocks) != bram_count:
        return None
    return Dp16kdRom(init, ports, blocks)
