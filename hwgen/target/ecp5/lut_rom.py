"""A ROM of at most 16 words in ``LUT4`` cells, one a bit, each into its flip-flop; a bit the
same in every word is that constant, from the start, with neither (:func:`lut_rom`).

A wide ROM of few words in logic is, bit by bit, a function of the address alone: at 16 words
or fewer one ``LUT4`` each, one logic level between the address register and the word's.
Given Yosys's generic mapping of such a ROM, ABC shares decoded address terms between the bits
and builds them several levels deep wherever the netlist's deepest path (a popcount tree)
allows it, not knowing that a wide word's bits lie across the die: on the KWS top at 416
cycles/frame conv2's 3,072-bit, 16-word weight ROM became four LUT levels with 8 ns of routing
(the README's keyword-spotting section has the figures). Instantiated ``LUT4`` cells are not
ABC's to remap.

``LUT4``'s output is ``INIT[{D, C, B, A}]``: address bit 0 on ``A`` (the fastest input).
"""
from amaranth.hdl import Cat, Const, Elaboratable, Instance, Module, Signal

__all__ = ["LUT_ROM_WORDS", "lut_init", "lut_rom", "Lut4Rom"]

#: The most words a ROM built here holds: a ``LUT4``'s entries.
LUT_ROM_WORDS = 16


def lut_init(init: list[int], bit: int) -> int:
    """The ``INIT`` of the ``LUT4`` giving bit ``bit`` of ``init[address]`` (words past the
    last read as 0)."""
    return sum(((word >> bit) & 1) << address for address, word in enumerate(init))


class Lut4Rom(Elaboratable):
    """``init`` in ``LUT4`` cells driving ``port.data`` through one register moving on
    ``port.en`` (:class:`hwgen.lib.rom.Rom`'s ports)."""

    def __init__(self, init: list[int], width: int, port):
        self.init, self.width, self.port = init, width, port

    def elaborate(self, platform):
        m = Module()
        port = self.port
        address = [port.addr[k] if k < len(port.addr) else 0 for k in range(4)]
        full = (1 << len(self.init)) - 1
        bits = []
        for bit in range(self.width):
            table = lut_init(self.init, bit)
            if table in (0, full):      # the same in every word: that constant, no cell
                bits.append(Const(table != 0, 1))
                continue
            out, held = Signal(name=f"bit{bit}"), Signal(name=f"held{bit}", reset_less=True)
            m.submodules[f"bit{bit}"] = Instance(
                "LUT4", p_INIT=Const(table, 16),
                i_A=address[0], i_B=address[1], i_C=address[2], i_D=address[3], o_Z=out)
            with m.If(port.en):
                m.d.sync += held.eq(out)
            bits.append(held)
        m.d.comb += port.data.eq(Cat(*bits))
        return m


def lut_rom(init, width: int, port):
    """``LUT4`` cells for a ROM read through one register (:class:`hwgen.lib.rom.Rom`) of 2 to
    :data:`LUT_ROM_WORDS` words; None for another depth. Whether synthesis would put the ROM
    in logic at all is :func:`hwgen.target.ecp5.memory.lut_rom`'s question."""
    init = list(init)
    if not 2 <= len(init) <= LUT_ROM_WORDS:
        return None
    return Lut4Rom(init, width, port)
