"""What a build used and how fast it may run, from nextpnr's ``--report`` JSON or its log.

The report JSON (``nextpnr-<family> --report <file>``) holds ``utilization`` (per cell type,
``used`` and ``available``) and ``fmax`` (per clock net, ``achieved`` and ``constraint`` in
MHz, after routing). The log (``--log``) says the same in ``Device utilisation:`` and
``Max frequency for clock '<net>': <x> MHz (PASS|FAIL at <y> MHz)`` lines; the last of those
per clock is the post-route figure.

Both formats are nextpnr's, whatever the family; which cell type each figure of a
:class:`BuildReport` counts is the target's (:attr:`hwgen.target.Target.cells`). A cell name
ending in ``*`` counts, instead, the cells Yosys mapped whose type starts so, from the last
statistics of its log (:func:`parse_stat`): where nextpnr does not count a figure apart (on
iCE40 a logic cell holds a LUT and a flip-flop, and nextpnr counts the cells).
"""
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import HwgenError

__all__ = ["BuildReport", "parse_report", "parse_log", "parse_stat", "FIGURES"]

#: The figures of a :class:`BuildReport` counted from cells, in the order a summary names them.
FIGURES = ("luts", "ffs", "brams", "dsps", "ios", "plls")
# Relative distance within which a reported clock constraint is the design clock.
_CLOCK_MATCH = 0.01


@dataclass(frozen=True, kw_only=True)
class BuildReport:
    """Resources and timing of one placed and routed design.

    The cell type each figure counts is the family's (:attr:`hwgen.target.Target.cells`; on
    ECP5 ``luts`` are ``TRELLIS_COMB`` cells, ``brams`` ``DP16KD`` block RAMs).

    Parameters
    ----------
    family : str
        The FPGA family (``"ecp5"``).
    units : Mapping
        What a summary calls each of ``luts``, ``ffs``, ``brams`` and ``dsps``
        (:attr:`hwgen.target.Target.units`: ``LUT4``, ``FF``, ``DP16KD``, ``MULT18X18D``).
    luts : int
        Logic cells (LUTs, and the halves of carry chains where the family counts them so).
    ffs : int
        Flip-flops.
    brams : int
        Block RAMs.
    dsps : int
        Multipliers.
    slices : int
        Lower bound on the logic slices, ``ceil(max(luts, ffs) / slice_cells)``
        (:attr:`hwgen.target.Target.slice_cells`).
    ios : int
        I/O pins.
    plls : int
        PLLs.
    luts_available : int
        Logic cells of the device (0 if unknown).
    fmax_mhz : float or None
        Achieved post-route Fmax of the design clock; ``None`` if nextpnr timed no path on it.
    clock_mhz : float
        Requested design clock.
    clock_net : str or None
        nextpnr's name of the design clock net.
    device : str
        FPGA part (``"LFE5U-85F-6CABGA381"``).
    bitstream : Path or None
        The bitstream file.
    """
    family: str
    units: Mapping[str, str]
    luts: int
    ffs: int
    brams: int
    dsps: int
    slices: int
    ios: int = 0
    plls: int = 0
    luts_available: int = 0
    fmax_mhz: float | None
    clock_mhz: float
    clock_net: str | None = None
    device: str
    bitstream: Path | None = None

    def __post_init__(self):
        if not isinstance(self.family, str) or not self.family:
            raise ValueError(f"family must be a family name, not {self.family!r}")
        if not isinstance(self.units, Mapping) \
                or not {"luts", "ffs", "brams", "dsps"} <= set(self.units):
            raise ValueError(f"units must name luts, ffs, brams and dsps, not {self.units!r}")
        for name in ("luts", "ffs", "brams", "dsps", "slices", "ios", "plls", "luts_available"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
        if isinstance(self.clock_mhz, bool) or not isinstance(self.clock_mhz, (int, float)) \
                or self.clock_mhz <= 0:
            raise ValueError(f"clock_mhz must be a positive number, not {self.clock_mhz!r}")

    @property
    def met_timing(self) -> bool:
        """Whether the design clock's Fmax reaches the requested clock."""
        return self.fmax_mhz is not None and self.fmax_mhz >= self.clock_mhz

    def check_timing(self):
        """Raise :class:`HwgenError` unless :attr:`met_timing`."""
        clock = self.clock_net or "sync"
        if self.fmax_mhz is None:
            raise HwgenError(f"timing unknown: nextpnr reported no Fmax for clock {clock} "
                             f"(requested {self.clock_mhz:g} MHz)")
        if not self.met_timing:
            raise HwgenError(f"timing failed: Fmax {self.fmax_mhz:.1f} MHz < requested "
                             f"{self.clock_mhz:g} MHz on clock {clock}")

    def summary(self) -> str:
        """One line: resources, Fmax against the clock."""
        fmax = "n/a" if self.fmax_mhz is None else f"{self.fmax_mhz:.1f}"
        verdict = "met" if self.met_timing else "FAILED"
        units = self.units
        return (f"{self.luts} {units['luts']}, {self.ffs} {units['ffs']}, "
                f"{self.brams} {units['brams']}, {self.dsps} {units['dsps']} "
                f"on {self.device}; Fmax {fmax} MHz for {self.clock_mhz:g} MHz ({verdict})")

    def to_dict(self) -> dict:
        """Plain JSON-ready values, with ``met_timing``."""
        result = asdict(self)
        result["units"] = dict(self.units)
        result["bitstream"] = None if self.bitstream is None else str(self.bitstream)
        result["met_timing"] = self.met_timing
        return result


def _pick_clock(fmax: dict[str, tuple[float, float | None]], clock_mhz: float):
    """The entry ``net -> (achieved, constraint)`` of the design clock, or ``(None, None)``."""
    if not fmax:
        return None, None
    matching = [(abs(constraint - clock_mhz), net) for net, (_, constraint) in fmax.items()
                if constraint is not None
                and abs(constraint - clock_mhz) <= _CLOCK_MATCH * clock_mhz]
    if matching:
        return min(matching)[1], fmax[min(matching)[1]][0]
    if len(fmax) == 1:
        net, (achieved, _) = next(iter(fmax.items()))
        return net, achieved
    return None, None


_STAT_CELL = re.compile(r"^\s+(\d+)\s{2,}(\S+)\s*$")


def parse_stat(text: str) -> dict[str, int]:
    """Cells by type in the last statistics (``stat``) of a Yosys log: those of the last
    module it lists (the top, after ``synth_*`` flattens the design)."""
    cells = {}
    for line in text[text.rfind("Printing statistics."):].splitlines():
        if line.startswith("==="):
            cells = {}
            continue
        match = _STAT_CELL.match(line)
        if match:
            cells[match[2]] = int(match[1])
    return cells


def count_cells(target, used: Mapping[str, int], synthesis: Mapping[str, int] | None = None,
                figures=FIGURES) -> dict[str, int]:
    """Each of ``figures`` as ``target`` counts it (:attr:`hwgen.target.Target.cells`): from
    nextpnr's ``used`` cells, or a name ending in ``*`` from the ``synthesis`` statistics
    (:func:`parse_stat`; HwgenError when they are needed and missing)."""
    counts = {}
    for figure in figures:
        cell = target.cells[figure]
        if cell.endswith("*"):
            if synthesis is None:
                raise HwgenError(f"the {target.family} build report counts {figure} from "
                                 f"Yosys's statistics, and there are none")
            counts[figure] = sum(count for name, count in synthesis.items()
                                 if name.startswith(cell[:-1]))
        else:
            counts[figure] = used.get(cell, 0)
    return counts


def _synthesis(synthesis_log) -> dict[str, int] | None:
    if synthesis_log is None:
        return None
    try:
        return parse_stat(Path(synthesis_log).read_text(errors="replace"))
    except OSError:
        return None


def _build(target, used: dict[str, int], available: dict[str, int], fmax, *, clock_mhz, device,
           bitstream, synthesis_log=None) -> BuildReport:
    counts = count_cells(target, used, _synthesis(synthesis_log))
    clock_net, achieved = _pick_clock(fmax, clock_mhz)
    return BuildReport(
        family=target.family, units=dict(target.units), **counts,
        slices=math.ceil(max(counts["luts"], counts["ffs"]) / target.slice_cells),
        luts_available=available.get(target.cells["luts"], 0),
        fmax_mhz=None if achieved is None else round(float(achieved), 2),
        clock_mhz=clock_mhz, clock_net=clock_net, device=device,
        bitstream=None if bitstream is None else Path(bitstream))


def _strip_global(net: str) -> str:
    # nextpnr names a promoted clock "$glbnet$<net>".
    return net.removeprefix("$glbnet$")


def parse_report(path, *, target, clock_mhz: float, device: str,
                 bitstream=None, synthesis_log=None) -> BuildReport:
    """Read a nextpnr ``--report`` JSON file.

    Parameters
    ----------
    path : path
        The report file.
    target : Target
        The family that was built for (:class:`hwgen.target.Target`): its cell names.
    clock_mhz : float
        Requested design clock; the reported clock whose constraint matches it (within 1 %),
        or the only reported clock, is the design clock.
    device : str
        FPGA part, for the report.
    bitstream : path, optional
        The bitstream the report belongs to.
    synthesis_log : path, optional
        Yosys's log of the synthesis, for the figures the target counts from its statistics.

    Raises
    ------
    HwgenError
        The file is missing or is not a nextpnr report.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
        utilization = raw["utilization"]
        used = {cell: int(entry["used"]) for cell, entry in utilization.items()}
        available = {cell: int(entry["available"]) for cell, entry in utilization.items()}
        fmax = {_strip_global(net): (float(entry["achieved"]),
                                     None if entry.get("constraint") is None
                                     else float(entry["constraint"]))
                for net, entry in raw.get("fmax", {}).items()}
    except OSError as error:
        raise HwgenError(f"cannot read nextpnr report {path}: {error.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise HwgenError(f"{path} is not a nextpnr report ({type(error).__name__}: "
                         f"{error})") from None
    return _build(target, used, available, fmax, clock_mhz=clock_mhz, device=device,
                  bitstream=bitstream, synthesis_log=synthesis_log)


_UTILISATION = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%")
_FMAX = re.compile(r"Max frequency for clock '([^']+)': ([\d.]+) MHz \((?:PASS|FAIL) at "
                   r"([\d.]+) MHz\)")


def parse_log(text: str, *, target, clock_mhz: float, device: str,
              bitstream=None, synthesis_log=None) -> BuildReport:
    """Read the same figures from a nextpnr log (``--log``), for when there is no report
    (``target`` as for :func:`parse_report`).

    The utilisation is the ``Device utilisation:`` table; Fmax the last
    ``Max frequency for clock`` line of each clock (post-route).

    Raises
    ------
    HwgenError
        The text has no ``Device utilisation:`` table.
    """
    used, available, fmax = {}, {}, {}
    in_table = False
    for line in text.splitlines():
        if "Device utilisation:" in line:
            in_table, used, available = True, {}, {}
            continue
        if in_table:
            match = _UTILISATION.match(line)
            if match:
                used[match[1]], available[match[1]] = int(match[2]), int(match[3])
                continue
            in_table = False
        match = _FMAX.search(line)
        if match:
            fmax[_strip_global(match[1])] = (float(match[2]), float(match[3]))
    if not used:
        raise HwgenError("no 'Device utilisation:' table in the nextpnr log")
    return _build(target, used, available, fmax, clock_mhz=clock_mhz, device=device,
                  bitstream=bitstream, synthesis_log=synthesis_log)
