"""The design clock on iCE40: an SB_PLL40_PAD from the board oscillator, or the oscillator itself.

:func:`pll_params` searches the divider settings the same way Project IceStorm's ``icepll``
does in SIMPLE feedback mode (``icepll/icepll.cc``), with the limits it uses (those of
Lattice's iCE40 sysCLOCK PLL Design and Usage Guide, but for ``DIVF``, which reaches 127 in
SIMPLE mode):

* input 10..133 MHz, output 16..275 MHz (the request: the nearest output may lie just outside,
  as 276 MHz for 275 from 12 MHz, as ``icepll`` allows);
* phase detector ``f_pfd = f_in / (DIVR + 1)`` within 10..133 MHz;
* VCO ``f_vco = f_pfd * (DIVF + 1)`` within 533..1066 MHz; output ``f_vco / 2**DIVQ``;
* ``DIVR`` 0..15, ``DIVF`` 0..127, ``DIVQ`` 1..6; the loop filter's ``FILTER_RANGE`` follows
  the phase detector frequency as ``icepll`` picks it.

The output nearest the request wins; among equally near ones the first in ``icepll``'s search
order (smallest ``DIVR``, then ``DIVF``, then ``DIVQ``). The arithmetic is exact (fractions),
where ``icepll`` uses ``float`` and so breaks such exact ties by rounding.

Block RAM on iCE40 reads as zeroes for some 3 us after configuration (see Amaranth's
``vendor/_siliconblue.py``), so :class:`SyncClock` holds its domain in reset for
:data:`POWER_ON_US` after the clock runs (and, with a PLL, after it locks).
"""
import functools
import math
from dataclasses import dataclass
from fractions import Fraction

from amaranth.hdl import ClockSignal, Const, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import FFSynchronizer, ResetSynchronizer

from ..base import PllClock

__all__ = ["PllParams", "pll_params", "SyncClock",
           "INPUT_MHZ", "OUTPUT_MHZ", "PFD_MHZ", "VCO_MHZ", "POWER_ON_US"]

INPUT_MHZ = (10, 133)
OUTPUT_MHZ = (16, 275)
PFD_MHZ = (10, 133)
VCO_MHZ = (533, 1066)
_DIVR_MAX, _DIVF_MAX = 15, 127
_DIVQ_MIN, _DIVQ_MAX = 1, 6
#: ``icepll``'s loop filter setting: the first whose bound exceeds the PFD frequency, else 6.
_FILTER_RANGES = ((17, 1), (26, 2), (44, 3), (66, 4), (101, 5))
#: Time the domain is held in reset after the clock runs: five times the ~3 us after
#: configuration in which block RAM reads as zeroes (Amaranth's margin for PVT variation).
POWER_ON_US = 15


def _exact(mhz) -> Fraction:
    # Through str() so that 33.333 means 33333/1000, not the nearest binary fraction.
    return Fraction(str(mhz)) if isinstance(mhz, float) else Fraction(mhz)


@dataclass(frozen=True, kw_only=True)
class PllParams:
    """Divider settings of one SB_PLL40_PAD (or SB_PLL40_CORE) with SIMPLE feedback.

    Parameters
    ----------
    clkin_mhz : float
        Input (oscillator) frequency.
    requested_mhz : float
        Output frequency asked for.
    divr : int
        Reference divider: the phase detector runs at ``clkin_mhz / (divr + 1)``.
    divf : int
        Feedback divider: the VCO runs at ``divf + 1`` times the phase detector.
    divq : int
        Output divider: the output is the VCO divided by ``2**divq``.
    """
    clkin_mhz: float
    requested_mhz: float
    divr: int
    divf: int
    divq: int

    def __post_init__(self):
        for name, low, high in (("divr", 0, _DIVR_MAX), ("divf", 0, _DIVF_MAX),
                                ("divq", _DIVQ_MIN, _DIVQ_MAX)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer within {low}..{high}, not {value!r}")
        if not PFD_MHZ[0] <= self._pfd <= PFD_MHZ[1]:
            raise ValueError(f"phase detector at {float(self._pfd):g} MHz is outside "
                             f"{PFD_MHZ[0]}..{PFD_MHZ[1]} MHz")
        if not VCO_MHZ[0] <= self._vco <= VCO_MHZ[1]:
            raise ValueError(f"VCO at {float(self._vco):g} MHz is outside "
                             f"{VCO_MHZ[0]}..{VCO_MHZ[1]} MHz")

    @property
    def _pfd(self) -> Fraction:
        return _exact(self.clkin_mhz) / (self.divr + 1)

    @property
    def _vco(self) -> Fraction:
        return self._pfd * (self.divf + 1)

    @property
    def _output(self) -> Fraction:
        return self._vco / 2 ** self.divq

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
        return float(self._output)

    @property
    def error_mhz(self) -> float:
        """Achieved minus requested output frequency."""
        return float(self._output - _exact(self.requested_mhz))

    @property
    def exact(self) -> bool:
        """Whether the output is exactly the requested frequency."""
        return self._output == _exact(self.requested_mhz)

    @property
    def filter_range(self) -> int:
        """The loop filter setting for the phase detector frequency (1..6), as ``icepll``."""
        return next((setting for bound, setting in _FILTER_RANGES if self._pfd < bound), 6)

    def instance_params(self) -> dict:
        """Parameters of ``Instance("SB_PLL40_PAD", ...)`` (or ``SB_PLL40_CORE``), ``p_``
        prefixed; the dividers as sized bit vectors, as ``icepll`` writes them (``4'b0000``)."""
        return {
            "p_FEEDBACK_PATH": "SIMPLE",
            "p_DELAY_ADJUSTMENT_MODE_FEEDBACK": "FIXED",
            "p_DELAY_ADJUSTMENT_MODE_RELATIVE": "FIXED",
            "p_PLLOUT_SELECT": "GENCLK",
            "p_DIVR": Const(self.divr, 4),
            "p_DIVF": Const(self.divf, 7),
            "p_DIVQ": Const(self.divq, 3),
            "p_FILTER_RANGE": Const(self.filter_range, 3),
        }


@functools.lru_cache(maxsize=256)
def _dividers(fin: Fraction, fout: Fraction) -> tuple[int, int, int] | None:
    """``(divr, divf, divq)`` of the output nearest ``fout`` from ``fin``, or None; cached, as
    boards and board tops ask for the same clock again."""
    best, best_error = None, None
    for divr in range(_DIVR_MAX + 1):
        pfd = fin / (divr + 1)
        if not PFD_MHZ[0] <= pfd <= PFD_MHZ[1]:
            continue
        # f_vco = pfd * (divf + 1) must lie in the VCO range.
        lowest = max(0, -(-VCO_MHZ[0] // pfd) - 1)
        highest = min(_DIVF_MAX, VCO_MHZ[1] // pfd - 1)
        for divf in range(int(lowest), int(highest) + 1):
            for divq in range(_DIVQ_MIN, _DIVQ_MAX + 1):
                error = abs(pfd * (divf + 1) / 2 ** divq - fout)
                # Strictly nearer only: of equally near outputs the first found stays.
                if best_error is None or error < best_error:
                    best_error, best = error, (divr, divf, divq)
    return best


def pll_params(clkin_mhz: float, clkout_mhz: float) -> PllParams:
    """Dividers giving the output nearest ``clkout_mhz`` from ``clkin_mhz``.

    Raises
    ------
    ValueError
        A frequency outside the PLL's input or output range.
    """
    for name, value, (low, high) in (("clkin_mhz", clkin_mhz, INPUT_MHZ),
                                     ("clkout_mhz", clkout_mhz, OUTPUT_MHZ)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not low <= value <= high:
            raise ValueError(f"{name} must be a number within {low}..{high} MHz, not {value!r}")
    best = _dividers(_exact(clkin_mhz), _exact(clkout_mhz))
    if best is None:
        raise ValueError(f"no SB_PLL40 setting makes {clkout_mhz!r} MHz from {clkin_mhz!r} MHz")
    divr, divf, divq = best
    return PllParams(clkin_mhz=clkin_mhz, requested_mhz=clkout_mhz,
                     divr=divr, divf=divf, divq=divq)


class SyncClock(PllClock, Elaboratable):
    """Drives a clock domain (``sync``) from the platform's default clock.

    When ``clock_mhz`` differs from ``oscillator_mhz`` an SB_PLL40_PAD makes it from the
    oscillator's pin, which must be the PLL's pad (as the iCEBreaker's 12 MHz clock is: pin 35
    of the UP5K-SG48); otherwise the oscillator drives the domain directly. Either way the
    domain is held in reset until :data:`POWER_ON_US` of its clock have passed (after the PLL
    reports lock), so that no logic reads block RAM before it is readable, and with a PLL while
    it is not locked; the reset is released synchronously to the domain's clock. The PLL output
    is constrained to its achieved frequency, so nextpnr times the design against it.

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

    @property
    def power_on_cycles(self) -> int:
        """Cycles of the domain's clock the power-on timer counts (:data:`POWER_ON_US`)."""
        return math.ceil(POWER_ON_US * self.clock_mhz)

    def elaborate(self, platform):
        if platform is None or getattr(platform, "default_clk", None) is None:
            raise TypeError("SyncClock needs a platform with a default clock")
        m = Module()
        oscillator_port = platform.request(platform.default_clk, dir="-")

        if self.pll is None:
            m.submodules.oscillator = oscillator = io.Buffer("i", oscillator_port)
            m.d.comb += ClockSignal(self.domain).eq(oscillator.i)
            locked = Const(1)
            counting = Const(1)
        else:
            # The pad feeds the PLL directly, so it takes the raw port, not a buffer's output.
            # ``keep`` makes Yosys keep this name for the clock net, so that the frequency
            # constraint below finds it.
            pllout = Signal(attrs={"keep": 1})
            locked = Signal()
            m.submodules.pll = Instance("SB_PLL40_PAD",
                                        **self.pll.instance_params(),
                                        i_PACKAGEPIN=oscillator_port.io, i_RESETB=1, i_BYPASS=0,
                                        o_PLLOUTGLOBAL=pllout, o_LOCK=locked)
            m.d.comb += ClockSignal(self.domain).eq(pllout)
            platform.add_clock_constraint(pllout, self.clock_mhz * 1e6)
            # The timer counts only once the output is locked (LOCK is asynchronous to it).
            counting = Signal()
            m.submodules.lock_sync = FFSynchronizer(locked, counting, o_domain=self.domain)

        # The power-on timer: reset-less, so it counts in the domain it holds in reset
        # (iCE40 flip-flops start at 0 after configuration).
        timer = Signal(range(self.power_on_cycles + 1), reset_less=True)
        ready = Signal(reset_less=True)
        with m.If(counting & (timer != self.power_on_cycles)):
            m.d[self.domain] += timer.eq(timer + 1)
        m.d[self.domain] += ready.eq(timer == self.power_on_cycles)
        # Assert reset at once (losing lock included), release it synchronously.
        m.submodules.reset_sync = ResetSynchronizer(~(ready & locked), domain=self.domain)
        return m
