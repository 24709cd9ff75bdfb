import dataclasses

import pytest
import yaml

from hwgen.board.board import Board, BoardError, available_boards, load_board
from hwgen.errors import SpecError
from hwgen.resources import data_dir
from hwgen.target import target


def write_board(tmp_path, **changes):
    """A copy of ulx3s.yaml with keys changed (value None removes the key)."""
    raw = yaml.safe_load((data_dir("boards") / "ulx3s.yaml").read_text())
    for key, value in changes.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    path = tmp_path / "myboard.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_ulx3s():
    board = load_board("ulx3s")
    assert board.name == "ulx3s"
    assert board.family == "ecp5" and board.target is target("ecp5")
    assert board.variant == "85F"
    assert board.device == "LFE5U-85F"
    assert board.package == "CABGA381"
    assert board.speed == 6
    assert board.oscillator_mhz == 25
    assert board.clock_mhz == 50
    assert board.uses_pll
    assert (board.led, board.leds, board.button, board.uart) == ("led", 8, "button_fire", "uart")
    assert board.uart_baud == 115200 and board.programmer_board == "ulx3s"
    assert board.platform == "amaranth_boards.ulx3s:ULX3S_85F_Platform"
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    assert board.platform_class() is ULX3S_85F_Platform


@pytest.mark.parametrize("variant", ["12F", "25F", "45F", "85F"])
def test_variant_matches_platform(variant):
    board = load_board("ulx3s", variant=variant)
    platform_class = board.platform_class()
    assert board.variant == variant
    assert platform_class.device == board.device == f"LFE5U-{variant}"
    # amaranth says BG381, nextpnr (and the report) caBGA381
    assert platform_class._nextpnr_package_options[platform_class.package].upper() \
        == board.package
    assert str(platform_class.speed) == str(board.speed)
    resource_names = {resource.name for resource in platform_class.resources}
    assert platform_class().default_clk_frequency == board.oscillator_mhz * 1e6
    assert {board.led, board.button, board.uart} <= resource_names


def test_clock_override():
    board = load_board("ulx3s", clock_mhz=25)
    assert board.clock_mhz == 25 and not board.uses_pll


def test_available_boards():
    assert "ulx3s" in available_boards()


def test_load_by_path(tmp_path):
    path = write_board(tmp_path, clock_mhz=100)
    assert load_board(path).clock_mhz == 100
    assert load_board(str(path)).clock_mhz == 100


def test_unknown_board_names_the_available_ones():
    with pytest.raises(SpecError) as caught:
        load_board("de10nano")
    message = str(caught.value)
    assert "unknown board 'de10nano'" in message
    assert "ulx3s" in message and caught.value.allowed == ", ".join(available_boards())
    assert caught.value.key == "board"


def test_missing_board_file(tmp_path):
    with pytest.raises(SpecError, match="board file not found"):
        load_board(tmp_path / "nothere.yaml")


def test_unknown_key(tmp_path):
    path = write_board(tmp_path, leds_colour="red")
    with pytest.raises(SpecError) as caught:
        load_board(path)
    assert caught.value.file == path and caught.value.key == "leds_colour"
    assert "unknown key" in str(caught.value) and "clock_mhz" in str(caught.value)


def test_missing_key(tmp_path):
    path = write_board(tmp_path, button=None)
    with pytest.raises(SpecError, match=r"myboard.yaml: button: missing key"):
        load_board(path)


@pytest.mark.parametrize("key, value", [
    ("clock_mhz", "fast"), ("speed", "6"), ("leds", 8.5), ("variants", ["85F"]),
    ("oscillator_mhz", True), ("led", 3), ("uart_baud", 115200.0), ("programmer_board", 1),
    ("family", 5),
])
def test_wrong_type(tmp_path, key, value):
    path = write_board(tmp_path, **{key: value})
    with pytest.raises(SpecError) as caught:
        load_board(path)
    assert caught.value.file == path and caught.value.key == key
    assert "expected" in str(caught.value) and repr(value) in str(caught.value)


@pytest.mark.parametrize("baud", [3_000_000, 9600])
def test_uart_baud(tmp_path, baud):
    assert load_board(write_board(tmp_path, uart_baud=baud)).uart_baud == baud


@pytest.mark.parametrize("baud, clock, message", [
    (0, None, r"uart_baud: must be positive, not 0"),
    (3_000_000, 25, r"uart_baud: baud 3e\+06 is 4.2% off at 25 MHz \(divisor 8\); at most 2% "
                    r"is allowed"),
    (20_000_000, None, r"uart_baud: baud 2e\+07 needs at least 4 clock cycles per bit"),
])
def test_uart_baud_out_of_reach(tmp_path, baud, clock, message):
    with pytest.raises(SpecError, match=r"myboard.yaml: " + message):
        load_board(write_board(tmp_path, uart_baud=baud), clock_mhz=clock)


def test_unknown_variant():
    with pytest.raises(SpecError, match=r"unknown variant '100F' \(allowed: 12F, 25F, 45F, 85F\)"):
        load_board("ulx3s", variant="100F")


@pytest.mark.parametrize("clock_mhz", [0, 5, 500, -50])
def test_clock_out_of_range(clock_mhz):
    with pytest.raises(SpecError, match=r"clock_mhz: .* out of range \(allowed: 10\.\.400 MHz\)"):
        load_board("ulx3s", clock_mhz=clock_mhz)


def test_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- ulx3s\n")
    with pytest.raises(SpecError, match=r"not a board file \(a YAML mapping"):
        load_board(path)


def test_board_rejects_bad_values():
    board = load_board("ulx3s")
    fields = {name: getattr(board, name) for name in Board.__dataclass_fields__}
    for changes, message in [
        ({"variant": "99F"}, r"^variant: unknown variant '99F' \(allowed: 12F, 25F, 45F, 85F\)$"),
        ({"clock_mhz": 1000}, r"^clock_mhz: 1000 is out of range \(allowed: 10..400 MHz\)$"),
        ({"uart_baud": 0}, r"^uart_baud: must be positive, not 0$"),
        ({"uart_baud": 9_000_000}, r"^uart_baud: baud 9e\+06 is 7.4% off at 50 MHz"),
        ({"family": "ice41"}, r"^family: unknown FPGA family 'ice41' \(allowed: ecp5, ice40\)$"),
        ({"leds": 0}, r"^leds: ULX3S_85F_Platform has 8 'led' resources, not 0 "
                      r"\(allowed: 1..8\)$"),
        ({"leds": 9}, r"^leds: ULX3S_85F_Platform has 8 'led' resources, not 9"),
        ({"button": "button_power"}, r"^button: ULX3S_85F_Platform has no resource "
                                     r"'button_power' \(allowed: adc, ant, audio, button"),
        ({"speed": "6"}, r"^speed: expected an integer, not '6'$"),
    ]:
        with pytest.raises(BoardError, match=message) as caught:
            Board(**{**fields, **changes})
        assert caught.value.key == next(iter(changes))
    with pytest.raises(TypeError):
        Board("ulx3s")    # keyword-only


def test_board_is_checked_whoever_makes_it():
    """load_board and dataclasses.replace run the one check: the board file's key named."""
    board = load_board("ulx3s")
    with pytest.raises(BoardError, match=r"^clock_mhz: 5 is out of range"):
        dataclasses.replace(board, clock_mhz=5)
    assert dataclasses.replace(board, clock_mhz=25).clock_mhz == 25      # the oscillator


def test_fewer_leds_are_a_board(tmp_path):
    assert load_board(write_board(tmp_path, leds=2)).leds == 2


@pytest.mark.parametrize("key, value, message", [
    ("family", "ice41", r"family: unknown FPGA family 'ice41' \(allowed: ecp5, ice40\)"),
    ("leds", 12, r"leds: ULX3S_85F_Platform has 8 'led' resources, not 12 \(allowed: 1..8\)"),
    ("uart", "serial", r"uart: ULX3S_85F_Platform has no resource 'serial'"),
])
def test_board_file_problems_name_file_and_key(tmp_path, key, value, message):
    with pytest.raises(SpecError, match=r"myboard.yaml: " + message):
        load_board(write_board(tmp_path, **{key: value}))


def test_platform_must_import(tmp_path):
    path = write_board(tmp_path, platform="amaranth_boards.ulx3s:ULX3S_{variant}_Board")
    with pytest.raises(SpecError, match=r"myboard.yaml: platform: "
                                        r"'amaranth_boards.ulx3s:ULX3S_85F_Board' is not an "
                                        r"amaranth-boards platform class \(allowed: "):
        load_board(path)
    path = write_board(tmp_path, platform="amaranth_boards.ulx3s:ULX3S_{variant}X_Platform")
    with pytest.raises(SpecError, match=r"myboard.yaml: platform: cannot import "
                                        r"'amaranth_boards.ulx3s:ULX3S_85FX_Platform'"):
        load_board(path)


def test_platform_modules_are_amaranth_boards_board_modules():
    from hwgen.board.board import platform_modules
    assert {"ulx3s", "icebreaker", "versa_ecp5"} <= platform_modules()
    assert not {"test", "resources", "extensions"} & platform_modules()
