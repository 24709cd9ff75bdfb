"""A ROM read through two registers, which a target may build as block RAM with its output
register.

A block RAM's data leaves it late (an ECP5 ``DP16KD`` read without its output register takes
most of a cycle at the KWS goal's clock), so the blocks register what they read before any
logic. Where that register is a flip-flop, the placer decides how far from the block RAM it
sits, and the wire between them set the KWS top's Fmax seed by seed. A block RAM's own output
register has no such wire and a short clock-to-output delay (``bench/kws.py --seeds`` measures
the difference). :class:`RegisteredRom` is that pair, the memory's read register and one
more, with one behaviour and two builds:

* simulated (no platform) or where the target has no such block: an Amaranth
  :class:`~amaranth.lib.memory.Memory` whose read port's data is registered once more, both
  moving on ``en``;
* elaborated for a platform whose target builds it (:meth:`hwgen.target.Target.block_rom`:
  on ECP5 ``DP16KD`` with ``REGMODE = OUTREG``, its output register clocked on ``en``): that
  primitive, where synthesis would have put the memory in as many block RAMs.

Both give ``data`` = ``init[addr]`` two ``en`` cycles after ``addr`` was presented with
``en``, and hold it while ``en`` is low.
"""
from dataclasses import dataclass

from amaranth.hdl import Elaboratable, Module, Signal, unsigned
from amaranth.lib import memory

from .pipeline import delay

__all__ = ["RomPort", "RegisteredRom", "Rom"]


@dataclass(frozen=True, eq=False)
class RomPort:
    """One read port: ``addr`` and ``en`` in, ``data`` out (two ``en`` cycles later)."""
    addr: Signal
    en: Signal
    data: Signal


class _Rom(Elaboratable):
    """What both ROMs share: the words, the checks, and the build: the target's where it has
    one for the ROM (:meth:`_built`, as submodule ``_built_name``), else an Amaranth
    :class:`~amaranth.lib.memory.Memory` whose read ports :meth:`_read` wires."""

    _built_name = "built"

    def __init__(self, init, *, width: int, target, style: str):
        self.init = [int(word) for word in init]
        if not self.init:
            raise ValueError("a ROM needs at least one word")
        self.width, self.target, self.style = width, target, style

    @property
    def depth(self) -> int:
        return len(self.init)

    def _built(self):
        raise NotImplementedError

    def _read(self, m, rom):
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        if platform is not None and self.target is not None:
            built = self._built()
            if built is not None:
                m.submodules[self._built_name] = built
                return m
        attrs = self.target.memory_attrs(self.style) if self.target is not None else {}
        m.submodules.memory = rom = memory.Memory(shape=unsigned(self.width), depth=self.depth,
                                                  init=self.init, attrs=attrs)
        self._read(m, rom)
        return m


class RegisteredRom(_Rom):
    """``init`` (words of ``width`` bits) read on ``ports`` read ports through two registers.

    Parameters
    ----------
    init : sequence of int
        The words.
    width : int
        Bits of a word.
    target : hwgen.target.Target or None
        The family it is built for; None: always the generic build.
    style : str
        The memory's ``ram_style`` (:data:`hwgen.target.RAM_STYLES`).
    ports : int
        Read ports (1 or 2; two read the same words at two addresses a cycle).
    name : str
        Prefix of the generic build's register names.
    """

    #: ``en`` cycles from an address to its word.
    latency = 2

    _built_name = "block"

    def __init__(self, init, *, width: int, target=None, style: str = "auto", ports: int = 1,
                 name: str = "rom"):
        super().__init__(init, width=width, target=target, style=style)
        if ports not in (1, 2):
            raise ValueError(f"a ROM has 1 or 2 read ports, not {ports!r}")
        self.name = name
        self.ports = [RomPort(Signal(range(max(2, self.depth)), name=f"{name}_addr{k}"),
                              Signal(name=f"{name}_en{k}"),
                              Signal(width, name=f"{name}_data{k}"))
                      for k in range(ports)]

    def _built(self):
        return self.target.block_rom(self.init, self.width, self.ports, style=self.style)

    def _read(self, m, rom):
        for k, port in enumerate(self.ports):
            read = rom.read_port()
            m.d.comb += [read.addr.eq(port.addr), read.en.eq(port.en)]
            m.d.comb += port.data.eq(delay(m, port.en, read.data, 1, f"{self.name}{k}_read"))


class Rom(_Rom):
    """``init`` (words of ``width`` bits) read through one register: ``data`` =
    ``init[addr]`` one ``en`` cycle after ``addr`` was presented with ``en``, held while ``en``
    is low.

    Simulated (no platform), or where the target has no such build: an Amaranth
    :class:`~amaranth.lib.memory.Memory`'s synchronous read port. Elaborated for a platform
    whose target builds a small ROM in logic as one LUT a bit
    (:meth:`hwgen.target.Target.lut_rom`; on ECP5 ``LUT4`` cells, at most 16 words): those
    cells, each into its bit of the register (a bit the same in every word is that constant,
    before the first read too). Parameters as :class:`RegisteredRom`'s, one port (``port``).
    """

    #: ``en`` cycles from an address to its word.
    latency = 1

    _built_name = "cells"

    def __init__(self, init, *, width: int, target=None, style: str = "auto", name: str = "rom"):
        super().__init__(init, width=width, target=target, style=style)
        self.port = RomPort(Signal(range(max(2, self.depth)), name=f"{name}_addr"),
                            Signal(name=f"{name}_en"),
                            Signal(width, name=f"{name}_data", reset_less=True))

    def _built(self):
        return self.target.lut_rom(self.init, self.width, self.port, style=self.style)

    def _read(self, m, rom):
        read = rom.read_port()
        m.d.comb += [read.addr.eq(self.port.addr), read.en.eq(self.port.en),
                     self.port.data.eq(read.data)]
