"""``hardware.clock_mhz``: the spec's design clock replaces the board file's for the build."""
import pytest

from hwgen.board.board import load_board
from hwgen.errors import SpecError
from hwgen.flow import Workspace
from hwgen.spec import load_spec


def _workspace(tmp_path, clock):
    hardware = "" if clock is None else f"hardware: {{clock_mhz: {clock}}}\n"
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nmodel: {{layers: [{{type: linear, out: 10}}]}}\n{hardware}")
    return Workspace.create(load_spec(path), tmp_path / "out", say=lambda message: None)


def test_spec_clock_replaces_the_boards(tmp_path):
    board = load_board("ulx3s")
    assert _workspace(tmp_path, 125).clocked(board).clock_mhz == 125
    assert _workspace(tmp_path, 125).clocked(board).oscillator_mhz == board.oscillator_mhz
    assert _workspace(tmp_path, None).clocked(board) is board


def test_a_clock_the_pll_cannot_make_names_the_key(tmp_path):
    with pytest.raises(SpecError, match=r"hardware\.clock_mhz: clkout_mhz must be a number within"):
        _workspace(tmp_path, 2).clocked(load_board("ulx3s"))
