"""The design clock on ECP5: an EHXPLLL from the board oscillator, or the oscillator itself.

:func:`pll_params` searches the divider settings the same way Project Trellis' ``ecppll``
does (``libtrellis/tools/ecppll.cpp``), with the ECP5 limits it uses:

* input 8..400 MHz, output 10..400 MHz;
* phase detector ``f_pfd = f_in / CLKI_DIV`` within 3.125..400 MHz;
* VCO ``f_vco = f_pfd * CLKFB_DIV * CLKOP_DIV`` within 400..800 MHz (feedback from CLKOP);
* ``CLKI_DIV`` 1..128, ``CLKFB_DIV`` 1..80, ``CLKOP_DIV`` 1..128.

The output nearest the request wins; among equally near ones, the VCO nearest 600 MHz, and of
two VCOs equally near 600 MHz the higher. The arithmetic is exact (fractions), where ``ecppll``
uses ``float`` and so breaks such exact ties by rounding.
"""
import functools
from dataclasses import dataclass
from fractions import Fraction

from amaranth.hdl import ClockSignal, Const, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from ..base import PllClock

__all__ = ["PllParams", "pll_params", "SyncClock",
           "INPUT_MHZ", "OUTPUT_MHZ", "PFD_MHZ", "VCO_MHZ"]

INPUT_MHZ = (8, 400)
OUTPUT_MHZ = (10, 400)
PFD_MHZ = (Fraction(3125, 1000), 400)
VCO_MHZ = (400, 800)
_CLKI_DIV_MAX, _CLKFB_DIV_MAX, _CLKOP_DIV_MAX = 128, 80, 128
_VCO_PREFERRED = 600


def _exact(mhz) -> Fraction:
    # Through str() so that 33.333 means 33333/1000, not the nearest binary fraction.
    return Fraction(str(mhz)) if isinstance(mhz, float) else Fraction(mhz)


@dataclass(frozen=True, kw_only=True)
class PllParams:
    """Divider settings of one EHXPLLL with CLKOP as output and feedback.

    Parameters
    ----------
    clkin_mhz : float
        Input (oscillator) frequency.
    requested_mhz : float
        Output frequency asked for.
    clki_div, clkfb_div, clkop_div : int
        Input, feedback and output dividers.
    """
    clkin_mhz: float
    requested_mhz: float
    clki_div: int
    clkfb_div: int
    clkop_div: int

    def __post_init__(self):
        for name, top in (("clki_div", _CLKI_DIV_MAX), ("clkfb_div", _CLKFB_DIV_MAX),
                          ("clkop_div", _CLKOP_DIV_MAX)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise ValueError(f"{name} must be an integer within 1..{top}, not {value!r}")
        if not PFD_MHZ[0] <= self._pfd <= PFD_MHZ[1]:
            raise ValueError(f"phase detector at {float(self._pfd):g} MHz is outside "
                             f"{float(PFD_MHZ[0]):g}..{PFD_MHZ[1]} MHz")
        if not VCO_MHZ[0] <= self._vco <= VCO_MHZ[1]:
            raise ValueError(f"VCO at {float(self._vco):g} MHz is outside "
                             f"{VCO_MHZ[0]}..{VCO_MHZ[1]} MHz")

    @property
    def _pfd(self) -> Fraction:
        return _exact(self.clkin_mhz) / self.clki_div

    @property
    def _vco(self) -> Fraction:
        return self._pfd * self.clkfb_div * self.clkop_div

    @property
    def pfd_mhz(self) -> float:
        """Phase detector frequency."""
        return float(self._pfd)

    @property
    def vco_mhz(self) -> float:
        """VCO frequency."""
        return float(self._vco)

    @property
    def output_mhz(self) -> float:
        """Achieved output frequency."""
        return float(self._pfd * self.clkfb_div)

    @property
    def error_mhz(self) -> float:
        """Achieved minus requested output frequency."""
        return float(self._pfd * self.clkfb_div - _exact(self.requested_mhz))

    @property
    def exact(self) -> bool:
        """Whether the output is exactly the requested frequency."""
        return self._pfd * self.clkfb_div == _exact(self.requested_mhz)

    @property
    def clkop_cphase(self) -> int:
        """Coarse phase of CLKOP in VCO cycles: ``CLKOP_DIV - 1`` is 0 degrees (as LiteX).

        ``ecppll`` shifts the output by 180 degrees instead; with CLKOP as feedback the phase
        only moves the output against the oscillator, which no logic here depends on.
        """
        return self.clkop_div - 1

    def instance_params(self) -> dict:
        """Parameters of ``Instance("EHXPLLL", ...)``, ``p_`` prefixed."""
        return {
            "p_PLLRST_ENA": "DISABLED",
            "p_INTFB_WAKE": "DISABLED",
            "p_STDBY_ENABLE": "DISABLED",
            "p_DPHASE_SOURCE": "DISABLED",
            "p_OUTDIVIDER_MUXA": "DIVA",
            "p_OUTDIVIDER_MUXB": "DIVB",
            "p_OUTDIVIDER_MUXC": "DIVC",
            "p_OUTDIVIDER_MUXD": "DIVD",
            "p_CLKI_DIV": self.clki_div,
            "p_CLKOP_ENABLE": "ENABLED",
            "p_CLKOP_DIV": self.clkop_div,
            "p_CLKOP_CPHASE": self.clkop_cphase,
            "p_CLKOP_FPHASE": 0,
            "p_FEEDBK_PATH": "CLKOP",
            "p_CLKFB_DIV": self.clkfb_div,
        }

    def instance_attrs(self) -> dict:
        """Attributes ``ecppll`` puts on the instance (loop filter settings, frequencies)."""
        return {
            "FREQUENCY_PIN_CLKI": f"{self.clkin_mhz:g}",
            "FREQUENCY_PIN_CLKOP": f"{self.output_mhz:.6g}",
            "ICP_CURRENT": "12",
            "LPF_RESISTOR": "8",
            "MFG_ENABLE_FILTEROPAMP": "1",
            "MFG_GMCREF_SEL": "2",
        }


@functools.lru_cache(maxsize=256)
def _dividers(fin: Fraction, fout: Fraction) -> tuple[int, int, int] | None:
    """``(clki_div, clkfb_div, clkop_div)`` of the output nearest ``fout`` from ``fin``, or
    None; cached, as boards and board tops ask for the same clock again."""
    best, best_key = None, None
    for clki_div in range(1, _CLKI_DIV_MAX + 1):
        pfd = fin / clki_div
        if not PFD_MHZ[0] <= pfd <= PFD_MHZ[1]:
            continue
        for clkfb_div in range(1, _CLKFB_DIV_MAX + 1):
            achieved = pfd * clkfb_div
            # f_vco = achieved * clkop_div must lie in the VCO range.
            lowest = max(1, -(-VCO_MHZ[0] // achieved))
            highest = min(_CLKOP_DIV_MAX, VCO_MHZ[1] // achieved)
            for clkop_div in range(int(lowest), int(highest) + 1):
                vco = achieved * clkop_div
                key = (abs(achieved - fout), abs(vco - _VCO_PREFERRED), -vco)
                if best_key is None or key < best_key:
                    best_key, best = key, (clki_div, clkfb_div, clkop_div)
    return best


def pll_params(clkin_mhz: float, clkout_mhz: float) -> PllParams:
    """Dividers giving the output nearest ``clkout_mhz`` from ``clkin_mhz``.

    Raises
    ------
    ValueError
        A frequency outside the EHXPLLL's input or output range.
    """
    for name, value, (low, high) in (("clkin_mhz", clkin_mhz, INPUT_MHZ),
                                     ("clkout_mhz", clkout_mhz, OUTPUT_MHZ)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not low <= value <= high:
            raise ValueError(f"{name} must be a number within {low}..{high} MHz, not {value!r}")
    best = _dividers(_exact(clkin_mhz), _exact(clkout_mhz))
    if best is None:
        raise ValueError(f"no EHXPLLL setting makes {clkout_mhz!r} MHz from {clkin_mhz!r} MHz")
    clki_div, clkfb_div, clkop_div = best
    return PllParams(clkin_mhz=clkin_mhz, requested_mhz=clkout_mhz,
                     clki_div=clki_div, clkfb_div=clkfb_div, clkop_div=clkop_div)


class SyncClock(PllClock, Elaboratable):
    """Drives a clock domain (``sync``) from the platform's default clock.

    When ``clock_mhz`` differs from ``oscillator_mhz`` an EHXPLLL makes it, and the domain is
    held in reset until the PLL reports lock (released synchronously to the new clock);
    otherwise the oscillator drives the domain directly, reset only at power-on. The PLL
    output is constrained to its achieved frequency, so nextpnr times the design against it.

    The parent module defines the domain (``m.domains.sync = ClockDomain()``), as Amaranth
    0.6 requires of a domain used outside the module that defines it; this block drives its
    clock and reset.

    Parameters
    ----------
    oscillator_mhz : float
        Frequency of ``platform.default_clk``.
    clock_mhz : float
        Requested frequency; the nearest achievable is used (see :attr:`clock_mhz`).
    domain : str
        The domain to drive.

    Attributes
    ----------
    pll : PllParams or None
        The PLL settings, ``None`` without a PLL.
    clock_mhz : float
        Achieved frequency.
    requested_mhz : float
        Requested frequency.
    """

    pll_params = staticmethod(pll_params)

    def elaborate(self, platform):
        if platform is None or getattr(platform, "default_clk", None) is None:
            raise TypeError("SyncClock needs a platform with a default clock")
        m = Module()
        oscillator_port = platform.request(platform.default_clk, dir="-")
        m.submodules.oscillator = oscillator = io.Buffer("i", oscillator_port)

        if self.pll is None:
            m.d.comb += ClockSignal(self.domain).eq(oscillator.i)
            m.submodules.reset_sync = ResetSynchronizer(Const(0), domain=self.domain)
            return m

        # ``keep`` makes Yosys keep this name for the clock net (rather than, say,
        # ``button_sync.clk``), so that the FREQUENCY constraint below finds it.
        clkop = Signal(attrs={"keep": 1})
        locked = Signal()
        pll = Instance("EHXPLLL",
                       **self.pll.instance_params(),
                       i_RST=0, i_STDBY=0, i_CLKI=oscillator.i, o_CLKOP=clkop, i_CLKFB=clkop,
                       i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1,
                       i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0, o_LOCK=locked)
        pll.attrs.update(self.pll.instance_attrs())
        m.submodules.pll = pll
        m.d.comb += ClockSignal(self.domain).eq(clkop)
        # LOCK is asynchronous to the new clock: assert reset at once, release it synchronously.
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain=self.domain)
        platform.add_clock_constraint(clkop, self.clock_mhz * 1e6)
        return m
