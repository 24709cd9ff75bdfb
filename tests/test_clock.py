"""``hardware.clock_mhz``: the spec's design clock replaces the board file's for the build."""
import dataclasses

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
    with pytest.raises(SpecError, match=r"s\.yaml: hardware\.clock_mhz: 2\.0 is out of range "
                                        r"\(allowed: 10\.\.400 MHz\)$"):
        _workspace(tmp_path, 2).clocked(load_board("ulx3s"))


def test_a_clock_the_uart_cannot_use_names_the_key(tmp_path):
    board = load_board("ulx3s", clock_mhz=25)
    board = dataclasses.replace(board, uart_baud=3_000_000, clock_mhz=50)
    with pytest.raises(SpecError, match=r"hardware\.clock_mhz: the board's uart_baud: baud 3e\+06 "
                                        r"is 4\.2% off at 25 MHz"):
        _workspace(tmp_path, 25).clocked(board)


def test_a_placer_the_boards_family_lacks_names_the_key(tmp_path, monkeypatch):
    monkeypatch.setattr(type(load_board("ulx3s").target), "placers", ("heap",))
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nmodel: {layers: [{type: linear, out: 10}]}\n"
                    "hardware: {placer: static}\n")
    workspace = Workspace.create(load_spec(path), tmp_path / "out", say=lambda message: None)
    with pytest.raises(SpecError, match=r"s\.yaml: hardware\.placer: 'static' is no placer of "
                                        r"the ulx3s board's family \(ecp5\) \(allowed: heap\)$"):
        workspace.clocked(load_board("ulx3s"))
