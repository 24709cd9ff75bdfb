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
