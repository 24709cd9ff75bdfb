"""Processes that meet the same design (pytest-xdist workers, two builds) take turns on it."""
import subprocess
import sys
import time

from hwgen.cosim import design_lock

CHILD = """
import sys, time
from hwgen.cosim import design_lock
with design_lock(sys.argv[1]) as build_dir:
    (build_dir.parent / "child.txt").write_text(str(time.monotonic()))
"""


def test_a_second_process_waits_for_the_design(tmp_path):
    build_dir = tmp_path / "abc123"
    marker = tmp_path / "child.txt"
    with design_lock(build_dir) as held:
        assert held == build_dir and (tmp_path / "abc123.lock").exists()
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(build_dir)])
        time.sleep(1.0)
        assert child.poll() is None and not marker.exists()     # it waits ...
        released = time.monotonic()
    assert child.wait(timeout=60) == 0
    assert float(marker.read_text()) >= released                 # ... until the lock is free


def test_another_design_does_not_wait(tmp_path):
    with design_lock(tmp_path / "one"):
        child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "two")], timeout=60)
    assert child.returncode == 0 and (tmp_path / "child.txt").exists()
