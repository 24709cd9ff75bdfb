"""FPGA families: one folder each, one :class:`Target` per family.

A target answers what hwgen asks of a family (:class:`Target`): where a memory goes and what
it costs, the ``ram_style`` attributes, the PLL, the build's tools and their environment,
nextpnr's placers, the bitstream's suffix, the build report's cell types, the demo ROM's share
of block RAM and the cost model's calibrated coefficients. A board file names its family
(``family: ecp5``); :func:`target` finds it.

* :mod:`.base`: :class:`Target`, :class:`MemoryMap`, :class:`Resources`, :class:`Stage`,
  :data:`RAM_STYLES`.
* :mod:`.report`: :class:`BuildReport`, read from nextpnr's report or log.
* :mod:`.ecp5`: Lattice ECP5 (Yosys, nextpnr-ecp5, ecppack).
* :mod:`.ice40`: Lattice iCE40 (Yosys, nextpnr-ice40, icepack).

Adding a family: a folder ``<family>/`` whose ``__init__`` defines a :class:`Target` subclass
(every class attribute of :class:`Target` set; its ``memory_model`` and ``clock_model`` the
folder's ``memory`` and ``pll`` modules), and one line in :data:`TARGETS`.
"""
from types import MappingProxyType

from .base import MEMORY_KINDS, RAM_STYLES, MemoryMap, Resources, Stage, Target
from .ecp5 import ECP5
from .ice40 import ICE40
from .report import BuildReport

__all__ = ["Target", "MemoryMap", "Resources", "Stage", "BuildReport", "RAM_STYLES",
           "MEMORY_KINDS", "TARGETS", "DEFAULT_TARGET", "PLACERS", "target"]

#: Every known family by name.
TARGETS: MappingProxyType[str, Target] = MappingProxyType({
    "ecp5": ECP5(),
    "ice40": ICE40(),
})

#: The target of code that knows no board (the cost model's readers, the auto-folder,
#: verification and FIFO sizing run without one): ECP5, the family of the flagship board.
#: Where a board is known, its ``target`` is passed instead.
DEFAULT_TARGET: Target = TARGETS["ecp5"]

#: The placers of every known family, each once, in the order of :data:`TARGETS`: what a
#: spec's ``hardware.placer`` may name (the board's target checks its own at the build).
PLACERS = tuple(dict.fromkeys(placer for family in TARGETS.values() for placer in family.placers))


def target(family: str) -> Target:
    """The target of FPGA family ``family`` (``"ecp5"``).

    Raises
    ------
    ValueError
        An unknown family; the message names the known ones.
    """
    try:
        return TARGETS[family]
    except (KeyError, TypeError):
        raise ValueError(f"unknown FPGA family {family!r} (allowed: "
                         f"{', '.join(TARGETS)})") from None
