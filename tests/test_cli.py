"""The main job end to end: ``hwgen build --board ulx3s`` on the bundled conv example, and
``hwgen build --board icebreaker`` on the MLP example.

One real ULX3S bitstream (yosys, nextpnr-ecp5, ecppack) of a convolutional BNN with an integer
first layer, after FIFO sizing and co-simulation; then the reuse of every step, and a clock the
design cannot reach, which must fail clearly after writing its report. One real iCEBreaker
bitstream (yosys, nextpnr-ice40, icepack): the second FPGA family, through the same flow.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hwgen.cli import main

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "digits_cnn.yaml"
MLP = REPO / "examples" / "digits_mlp.yaml"


def test_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "hwgen", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("train", "export", "sim", "build", "run", "program", "report"):
        assert command in result.stdout


@pytest.mark.cocotb
def test_report_makes_the_report_where_there_is_none(tmp_path, capsys):
    """``hwgen report`` on a fresh folder runs hwgen sim's steps (no bitstream) and prints the
    report; run again it prints the same report, running nothing."""
    spec = yaml.safe_load(MLP.read_text())
    spec["train"]["epochs"] = 2
    spec["verify"] = {"frames": 20}
    spec_file = tmp_path / "digits_mlp.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    assert main(["report", str(spec_file), "--out", str(out)]) == 0
    first = capsys.readouterr()
    assert first.out.startswith("# hwgen report: digits_mlp") and "training" in first.err
    assert (out / "verify.json").is_file() and not (out / "gateware").exists()
    assert main(["report", str(spec_file), "--out", str(out)]) == 0
    again = capsys.readouterr()
    assert again.out == first.out and again.err == ""
    (out / "report.md").write_text(first.out.replace("digits_mlp", "tampered"))
    assert main(["report", str(spec_file), "--out", str(out)]) == 1
    assert "damaged" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.cocotb
def test_build_ulx3s_end_to_end(tmp_path, capsys):
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["train"]["epochs"] = 10            # a shorter run than the example; same path
    spec["verify"] = {"frames": 100}
    spec_file = tmp_path / "digits_cnn.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"

    assert main(["build", "--board", "ulx3s", str(spec_file), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "# hwgen report: digits_cnn" in captured.out
    for name in ("checkpoint.pt", "model.ir.npz", "hardware.ir.npz", "verify.json", "report.json",
                 "report.md",
                 "gateware/top.v", "gateware/top.bit", "gateware/build.json"):
        assert (out / name).is_file(), name
    assert (out / "gateware" / "top.bit").stat().st_size > 100_000
    assert not [p for p in out.rglob(".*") if p.name.startswith((".gateware", ".report"))]
    summary = json.loads((out / "gateware" / "build.json").read_text())
    assert (out / "gateware" / summary["bitstream"]).is_file()       # a file that exists
    assert ".gateware" not in json.dumps(summary)

    report = json.loads((out / "report.json").read_text())
    verification, build = report["verification"], report["build"]
    assert verification["frames"] == 100 and verification["mismatches"] == 0
    assert verification["cycles_ratio"] == pytest.approx(1.0, abs=0.02)
    assert build["met_timing"] and build["fmax_mhz"] >= build["clock_mhz"] == 50
    # The whole network survives synthesis: its MVTUs' PE*SIMD products (an adder tree of
    # 4-bit pixels, then XNOR popcounts) cannot fit in fewer LUTs than one each.
    products = sum(layer["pe"] * layer["simd"] for layer in report["layers"] if layer["op"] == "mvtu")
    assert build["luts"] > products > 0 and build["ffs"] > 0
    assert [layer["op"] for layer in report["layers"]] == \
        ["swg", "mvtu", "swg", "mvtu", "maxpool", "mvtu"]
    assert all(layer["fifo_depth"] >= 2 for layer in report["layers"][:-1])
    assert report["fifo_sizing_s"] > 0
    assert 0.5 < report["bnn_accuracy"] <= 1

    # Everything is reused on a second run.
    assert main(["build", "--board", "ulx3s", str(spec_file), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    for step in ("reusing IR", "reusing hardware IR", "reusing verification", "reusing bitstream"):
        assert step in err
    assert "training" not in err and "co-simulating" not in err and "synthesis" not in err
    assert "sizing" not in err

    # A clock beyond the design's Fmax: the flow's report and one-line failure are
    # tests/flow/test_steps.py's, nextpnr's verdict on such a clock tests/board/test_build.py's
    # (a second place and route of this network took minutes).


@pytest.mark.slow
@pytest.mark.cocotb
def test_build_icebreaker_end_to_end(tmp_path, capsys):
    """The second FPGA family: the MLP example on the iCEBreaker's iCE40UP5K (yosys,
    nextpnr-ice40, icepack), its blocks built and priced for iCE40, RTL == golden."""
    spec = yaml.safe_load(MLP.read_text())
    spec["train"]["epochs"] = 5
    spec["verify"] = {"frames": 50}
    # Folded less than the example (which fills 95 % of the UP5K): a shorter place and route.
    for layer, pe in zip(spec["model"]["layers"], (4, 4, 2)):
        layer.update(pe=pe, simd=8)
    spec_file = tmp_path / "digits_mlp.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"

    assert main(["build", "--board", "icebreaker", str(spec_file), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    bitstream = out / "gateware" / "top.bin"
    assert f"bitstream: {bitstream}" in captured.err
    assert bitstream.stat().st_size > 50_000 and not (out / "gateware" / "top.bit").exists()
    report = json.loads((out / "report.json").read_text())
    verification, build = report["verification"], report["build"]
    assert verification["frames"] == 50 and verification["mismatches"] == 0
    assert report["family"] == "ice40" and build["family"] == "ice40"
    assert build["device"].startswith("iCE40UP5K")
    assert build["met_timing"] and build["fmax_mhz"] >= build["clock_mhz"] == 24
    # Logic cells of the UP5K; flip-flops counted from Yosys's statistics.
    assert 0 < build["ffs"] < build["luts"] <= build["luts_available"] == 5280
    assert 1 <= build["brams"] <= 30 and build["plls"] == 1
    assert build["ios"] == 6                # clock, 2 LEDs, button, UART rx and tx
    markdown = (out / "report.md").read_text()
    assert "- resources (ice40): " in markdown and " LC, " in markdown
    assert "| LC | FF | SB_RAM40_4K | SB_MAC16 |" in markdown
    assert all(layer["estimate"]["luts"] > 0 for layer in report["layers"])
    assert json.loads((out / "gateware" / "build.json").read_text())["bitstream"] == "top.bin"


def test_export_replaces_an_unreadable_or_older_ir(tmp_path, capsys):
    spec = yaml.safe_load(MLP.read_text())
    spec["train"]["epochs"] = 1
    spec_file = tmp_path / "digits.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.ir.npz").write_bytes(b"not an IR")
    assert main(["export", str(spec_file), "--out", str(out)]) == 0
    assert f"{out / 'model.ir.npz'} damaged (not an hwgen IR file" in capsys.readouterr().err
    from hwgen.ir import load_ir
    assert len(load_ir(out / "model.ir.npz").layers) == 3
