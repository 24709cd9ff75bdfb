"""The research benches refuse bad arguments with one line naming the option and what is
allowed, before anything trains (exit code 2, nothing written)."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str, tmp_path: Path):
    return subprocess.run([sys.executable, str(REPO / "bench" / script), *args,
                           "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("script,args,message", [
    ("imcq.py", ["--runs", "ste,bogus"],
     "--runs: unknown bogus (allowed: exact, imcq, ste, concrete, expected)"),
    ("imcq.py", ["--runs", ","], "--runs: unknown none given"),
    ("imcq.py", ["--sweep", "--runs", "ste,expected"], "--sweep needs the ste and concrete runs"),
    ("imcq.py", ["--temperature", "1.0"], "--temperature: expected FIRST:LAST, not '1.0'"),
    ("imcq.py", ["--seeds", "0"], "--seeds: expected a positive integer, not 0"),
    ("imcq.py", ["--verify-frames", "0"], "--verify-frames: expected a positive integer, not 0"),
    ("robustness.py", ["--recipes", "baseline,bnfree_clen"],
     "--recipes: unknown bnfree_clen (allowed: baseline, bn_noise, bnfree_clean, bnfree, "
     "robust, bn_robust, bitsplit)"),
    ("robustness.py", ["--recipes", ""], "--recipes: unknown none given"),
    ("robustness.py", ["--epochs", "-3"], "--epochs: expected a positive integer, not -3"),
    ("kws.py", ["--seeds", "1-x"], "--seeds: expected seeds as 1-5 or 1,3,4, got '1-x'"),
    ("kws.py", ["--clock", "fast"], "--clock: expected MHz or 'spec', got 'fast'"),
    ("kws.py", ["--fps", "-5"], "--fps: expected a positive number, got '-5'"),
    ("kws.py", ["--fit-margin", "3"], "--fit-margin: expected a share in 0.1..1, got '3'"),
])
def test_bad_arguments_are_one_line_errors(script, args, message, tmp_path):
    result = _run(script, *args, tmp_path=tmp_path)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert message in last, last
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_kws_on_a_part_it_cannot_fit_prints_the_gap(tmp_path):
    """The KWS network on the iCEBreaker's UP5K: no folding fits; the bench says so as figures
    (the least reached, the budget, where it is over, the memories the fit leaves out) and
    builds nothing."""
    result = _run("kws.py", "--board", "icebreaker", "--fps", "100", "--clock", "24",
                  tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    figures = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    assert figures["fits"] == "0" and figures["device"] == "iCE40UP5K"
    for field in ("luts", "ffs", "brams", "dsps"):
        over = int(figures[f"least_{field}"]) - int(figures[f"budget_{field}"])
        assert (f"over_{field}" in figures) == (over > 0)
        if over > 0:
            assert int(figures[f"over_{field}"]) == over
            assert figures[f"most_{field}"].split(", ")[0].split()[0] in {
                "conv0", "conv2", "fc4", "fc5", "conv0_swg", "conv2_swg", "pool1", "pool3"}
    assert int(figures["least_cycles_per_frame"]) <= 240_000        # 100/s at 24 MHz
    assert int(figures["over_brams"]) > 0 and "SB_SPRAM256KA" in figures["unused_memories"]
    # Free of the spec's fixed folding, the network is smaller, but not in block RAM.
    assert int(figures["free_luts"]) < int(figures["least_luts"])
    assert int(figures["free_brams"]) > int(figures["budget_brams"])
    assert "no folding fits iCE40UP5K" in result.stderr
    assert not list((tmp_path / "out").rglob("*.bin"))


def test_kws_seeds_place_the_main_netlist_with_each_seed(tmp_path, monkeypatch):
    """``bench/kws.py --seeds``: each seed but the main build's runs the main build's own place
    and route command with only ``--seed`` changed, on a copy of its netlist, and is reused
    while the build's key holds (a fake nextpnr here, whose Fmax is 100 + the seed)."""
    import importlib.util
    import json
    from types import SimpleNamespace

    from hwgen.board.board import load_board
    spec = importlib.util.spec_from_file_location("bench_kws", REPO / "bench" / "kws.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    calls = tmp_path / "calls.txt"
    fake = tmp_path / "fake-nextpnr"
    fake.write_text(f"""#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
seed = int(args[args.index("--seed") + 1])
assert open("top.json").read() == "netlist"
with open({str(calls)!r}, "a") as calls:
    calls.write(" ".join(args) + "\\n")
fmax = {{"$glbnet$clock.clk": {{"achieved": 100.0 + seed, "constraint": 125}}}}
json.dump({{"fmax": fmax, "utilization": {{}}}}, open("top_report.json", "w"))
""")
    fake.chmod(0o755)
    monkeypatch.setenv("NEXTPNR_ECP5", str(fake))
    gateware = tmp_path / "out" / "gateware"
    gateware.mkdir(parents=True)
    (gateware / "top.json").write_text("netlist")
    (gateware / "top.lpf").write_text("lpf")
    place = ["nextpnr-ecp5", "--quiet", "--report", "top_report.json", "--seed", "2",
             "--placer", "static", "--json", "top.json", "--lpf", "top.lpf"]
    (gateware / "build_top.json").write_text(json.dumps(
        {"commands": [["yosys", "top.ys"], place, ["ecppack", "top.config"]]}))
    workspace = SimpleNamespace(gateware_dir=gateware, root=tmp_path / "out")
    board = load_board("ulx3s")
    build = {"key": "k1", "fmax_mhz": 97.5, "clock_mhz": 125}

    fmax = bench._seed_builds(workspace, board, build, [1, 2, 3, 4], lambda message: None)
    assert fmax == {1: 101.0, 2: 97.5, 3: 103.0, 4: 104.0}
    lines = calls.read_text().splitlines()
    assert sorted(lines) == [" ".join(place[1:]).replace("--seed 2", f"--seed {seed}")
                             for seed in (1, 3, 4)]
    assert bench._seed_builds(workspace, board, build, [1, 3], lambda message: None) == \
        {1: 101.0, 3: 103.0}
    assert len(calls.read_text().splitlines()) == 3           # reused
    build["key"] = "k2"                                        # another netlist: placed again
    assert bench._seed_builds(workspace, board, build, [3], lambda message: None) == {3: 103.0}
    assert len(calls.read_text().splitlines()) == 4
