"""docs/quickstart.md's commands, run as a newcomer would (from a folder holding the examples),
each checked against the output the document shows: the co-simulation steps under the
``cocotb`` marker, the bitstream builds under ``slow``. The install command is the one this
test runs in, and is not run again. The keyword spotter's build runs as ``hwgen sim`` (its
lines but the bitstream's checked) unless HWGEN_TEST_KWS_BUILD=1: its place and route alone
would take a third of CI's time."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "quickstart.md"
COMMAND = ".venv/bin/hwgen "
#: A number in the document's output stands for any number (seeded runs agree on one machine).
_NUMBER = re.compile(r"\d+(?:\\\.\d+)?")


def steps() -> list[tuple[str, list[str]]]:
    """Each hwgen command of the document (its arguments) with the output lines shown after
    it: indented blocks, a block starting with the command, the next block(s) its output."""
    blocks, block = [], []
    for line in DOC.read_text().splitlines() + [""]:
        if line.startswith("    "):
            block.append(line[4:])
        elif block:
            blocks.append(block)
            block = []
    result = []
    for block in blocks:
        if block[0].startswith(COMMAND):
            result.append((block[0][len(COMMAND):], []))
        elif result and not block[0].startswith("python3 "):
            result[-1][1].extend(line for line in block if line.startswith(("[hwgen]", "#", "-")))
    return result


def pattern(line: str) -> re.Pattern:
    """``line`` with its numbers as any number, a ``build/`` path under any folder."""
    text = _NUMBER.sub(r"-?[\\d,]+(?:\\.\\d+)?", re.escape(line))
    return re.compile(text.replace("build/", "(?:.*/)?build/"))


def run(workspace: Path, arguments: str) -> str:
    result = subprocess.run([sys.executable, "-m", "hwgen", *arguments.split()], cwd=workspace,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quickstart")
    (folder / "examples").symlink_to(REPO / "examples")
    return folder


def check(workspace, index, *, sim_only: bool = False):
    """Run step ``index`` and find each line of its shown output; ``sim_only``: a build step
    run as ``hwgen sim`` (the same steps but the bitstream), its lines but the build's."""
    arguments, expected = steps()[index]
    if sim_only:
        assert arguments.startswith("build --board ulx3s ")
        arguments = "sim " + arguments.split()[-1]
        expected = [line for line in expected if "bitstream" not in line]
    output = run(workspace, arguments).splitlines()
    for line in expected:
        wanted = pattern(line)
        assert any(wanted.fullmatch(got.strip()) for got in output), \
            f"{arguments}: no line like {line!r} in:\n" + "\n".join(output[-40:])


def test_the_document_has_its_steps():
    commands = [arguments for arguments, _ in steps()]
    assert commands == ["sim examples/digits_mlp.yaml", "report examples/digits_mlp.yaml",
                        "build --board ulx3s examples/digits_mlp.yaml",
                        "build --board ulx3s examples/kws.yaml"]
    assert all(expected for _, expected in steps())
    assert pattern("[hwgen] x 0.9028 in 2.9 s").fullmatch("[hwgen] x 0.9111 in 13.0 s")
    assert not pattern("[hwgen] x 0.9028").fullmatch("[hwgen] y 0.9028")


@pytest.mark.cocotb
def test_verify_and_report(workspace):
    check(workspace, 0)
    check(workspace, 1)


@pytest.mark.slow
def test_the_bitstream(workspace):
    check(workspace, 2)


@pytest.mark.cocotb
def test_the_keyword_spotter_verifies(workspace):
    """The keyword spotter's step up to its bitstream: its folding, FIFO sizing and RTL ==
    golden on 300 frames with the macro's noise on."""
    check(workspace, 3, sim_only=True)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("HWGEN_TEST_KWS_BUILD") != "1",
                    reason="places and routes the keyword spotter (9 minutes on 2 cores, a third "
                           "of CI's test budget): HWGEN_TEST_KWS_BUILD=1 runs it")
def test_the_keyword_spotter(workspace):
    check(workspace, 3)
