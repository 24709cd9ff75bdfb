# amaranth: UnusedElaboratable=no
import random
import threading
import time

import pytest
from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.board.board import load_board
from hwgen.board.build import Cancelled, build_bitstream, build_platform
from hwgen.board.top import BoardTop
from hwgen.errors import HwgenError

WIDTH, CLASSES, TRANSFERS = 16, 4, 2
KEYS = [0x0000, 0xFFFF, 0x00FF, 0xF0F0]


class PopcountNetwork(wiring.Component):
    """A stand-in network: logit c of a frame is the sum over its words of popcount(word ^ KEYS[c]).

    ``i`` is ready unless a finished frame waits for its argmax; one cycle after the frame's
    last word, ``o`` carries the logits and their argmax (lowest index on ties), registered.
    """

    def __init__(self):
        layout = data.StructLayout({
            "label": unsigned(2),
            "logits": data.ArrayLayout(signed(8), CLASSES),
        })
        super().__init__({
            "i": In(stream.Signature(unsigned(WIDTH))),
            "o": Out(stream.Signature(layout)),
        })

    def elaborate(self, platform):
        m = Module()
        sums = [Signal(signed(8), name=f"sum{c}") for c in range(CLASSES)]
        frame_sums = [Signal(signed(8), name=f"frame_sum{c}") for c in range(CLASSES)]
        have_frame = Signal()
        transfer = Signal(range(TRANSFERS))

        m.d.comb += self.i.ready.eq(~have_frame)
        with m.If(self.i.valid & self.i.ready):
            last = transfer == TRANSFERS - 1
            m.d.sync += transfer.eq(Mux(last, 0, transfer + 1))
            for c in range(CLASSES):
                ones = sum((self.i.payload ^ KEYS[c])[bit] for bit in range(WIDTH))
                total = Mux(transfer == 0, 0, sums[c]) + ones
                m.d.sync += sums[c].eq(total)
                with m.If(last):
                    m.d.sync += frame_sums[c].eq(total)
            with m.If(last):
                m.d.sync += have_frame.eq(1)

        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(have_frame & (~self.o.valid | self.o.ready)):
            # A tree of compares (the left one wins ties, so the lowest index overall)
            entries = [(frame_sums[c], c) for c in range(CLASSES)]
            while len(entries) > 1:
                entries = [(Mux(right > left, right, left), Mux(right > left, right_c, left_c))
                           for (left, left_c), (right, right_c)
                           in zip(entries[::2], entries[1::2])]
            label = entries[0][1]
            m.d.sync += [self.o.valid.eq(1), self.o.payload.label.eq(label), have_frame.eq(0)]
            m.d.sync += [self.o.payload.logits[c].eq(frame_sums[c]) for c in range(CLASSES)]
        return m


def golden(words):
    """(logits, label) per frame."""
    results = []
    for start in range(0, len(words), TRANSFERS):
        logits = [sum(bin(word ^ key).count("1") for word in words[start:start + TRANSFERS])
                  for key in KEYS]
        results.append((logits, logits.index(max(logits))))
    return results


def make_words(frames, seed=1):
    """Words with few, many, low or high ones, so that every class wins some frame."""
    rng = random.Random(seed)
    patterns = [0x0000, 0xFFFF, 0x00FF, 0xF0F0, 0x0F0F, 0xFF00]
    return [rng.choice(patterns) ^ (1 << rng.randrange(WIDTH)) for _ in range(frames * TRANSFERS)]



# --- platform and build ---------------------------------------------------------------------

def test_build_platform_needs_no_programmer():
    board = load_board("ulx3s")
    assert "openFPGALoader" not in build_platform(board).required_tools
    assert {"yosys", "nextpnr-ecp5", "ecppack"} <= set(build_platform(board).required_tools)
    assert "openFPGALoader" in build_platform(board, programming=True).required_tools
    assert isinstance(build_platform(board), board.platform_class())


def board_top(board, frames=8, **options):
    words = make_words(frames)
    return BoardTop(network=PopcountNetwork(), words=words, transfers_per_frame=TRANSFERS,
                    labels=[label for _, label in golden(words)], board=board, input_bits=8,
                    **options)


@pytest.mark.parametrize("name, pins, pll", [
    # LEDs, fire button, clock, UART rx and tx
    ("ulx3s", ["B2", "C2", "C1", "D2", "D1", "E2", "E1", "H3", "R1", "G2", "M1", "L4"],
     "EHXPLLL"),
    ("icebreaker", ["11", "37", "10", "35", "6", "9"], "SB_PLL40_PAD"),
])
def test_board_top_elaborates_with_board_resources(name, pins, pll):
    board = load_board(name)
    top = board_top(board)
    assert top.clock.clock_mhz == board.clock_mhz
    plan = build_platform(board).build(top, do_build=False, debug_verilog=False)
    constraints = plan.files["top.lpf" if board.family == "ecp5" else "top.pcf"]
    for pin in pins:
        assert (f'SITE "{pin}"' if board.family == "ecp5" else f" {pin}\n") in constraints, pin
    assert pll in plan.files["top.il"]


def test_board_top_rejects_an_unreachable_clock():
    with pytest.raises(ValueError, match=r"clkout_mhz must be a number within 10..400 MHz"):
        board_top(load_board("ulx3s"), clock_mhz=1000)


def test_tool_failure_names_the_log(tmp_path, monkeypatch):
    monkeypatch.setenv("YOSYS", "false")          # a "Yosys" that fails at once
    board = load_board("ulx3s")
    with pytest.raises(HwgenError, match=r"^yosys failed: exit status 1; see .*build_top.log$"):
        build_bitstream(board_top(board), board, tmp_path)
    assert not (tmp_path / "top.bit").exists()


def test_tool_failure_quotes_its_error(tmp_path, monkeypatch):
    fake = tmp_path / "fake-nextpnr"
    fake.write_text("#!/bin/sh\necho 'Info: placing'\necho 'ERROR: failed to route net x' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("NEXTPNR_ECP5", str(fake))
    board = load_board("ulx3s")
    out = tmp_path / "out"
    with pytest.raises(HwgenError) as caught:
        build_bitstream(board_top(board), board, out)
    assert str(caught.value) == (f"nextpnr-ecp5 failed: ERROR: failed to route net x; "
                                 f"see {out / 'build_top.log'}")
    assert (out / "top.json").is_file()            # synthesis ran


def test_a_cancelled_build_stops_its_tool(tmp_path, monkeypatch):
    # A "Yosys" that would run a minute and leaves a mark when it is not stopped.
    fake = tmp_path / "slow-yosys"
    fake.write_text(f"#!/bin/sh\ntouch {tmp_path / 'started'}\nsleep 60\n"
                    f"touch {tmp_path / 'finished'}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("YOSYS", str(fake))
    board = load_board("ulx3s")
    cancel = threading.Event()

    def cancel_once_running():          # however long elaboration takes on a busy machine
        deadline = time.monotonic() + 120
        while not (tmp_path / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        cancel.set()
    threading.Thread(target=cancel_once_running, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(Cancelled, match=r"^yosys stopped: another step failed$"):
        build_bitstream(board_top(board), board, tmp_path / "out", cancel=cancel)
    assert time.monotonic() - started < 60
    assert not (tmp_path / "out" / "top.bit").exists()
    # Set before the tools: none starts.
    with pytest.raises(Cancelled, match="stopped before its next tool"):
        build_bitstream(board_top(board), board, tmp_path / "out", cancel=cancel)
    time.sleep(0.5)
    assert not (tmp_path / "finished").exists()


def test_a_running_tool_reports_its_time_and_phase(tmp_path, monkeypatch):
    """A long stage says every PROGRESS_EVERY seconds how long it has run and what its log
    says it is doing (plain lines): here a "Yosys" that writes Yosys-like pass headers."""
    import hwgen.board.build as build_module
    fake = tmp_path / "slow-yosys"
    log = tmp_path / "out" / "top.rpt"
    fake.write_text("#!/bin/sh\n"
                    f"echo '2.1. Executing HIERARCHY pass (managing design hierarchy).' > {log}\n"
                    "sleep 1.5\n"
                    f"echo '2.47. Executing ABC pass (technology mapping using ABC).' >> {log}\n"
                    f"echo '  lines that are no phase' >> {log}\n"
                    "sleep 1.5\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("YOSYS", str(fake))
    monkeypatch.setattr(build_module, "PROGRESS_EVERY", 1.0)
    board = load_board("ulx3s")
    said = []
    with pytest.raises(HwgenError, match="yosys failed"):
        build_bitstream(board_top(board), board, tmp_path / "out", progress=said.append)
    running = [line for line in said if line.startswith("synthesis: ")]
    assert len(running) >= 2, said
    assert running[0].endswith(", Executing HIERARCHY pass (managing design hierarchy)")
    assert running[-1].endswith(", Executing ABC pass (technology mapping using ABC)")
    assert all("\r" not in line for line in said)
    nextpnr = tmp_path / "top.tim"
    nextpnr.write_text("Info: Running simulated annealing placer for refinement.\n"
                       "Info:   at iteration #5: temp = 0.1, wire length = 3\n"
                       "Info: Max frequency for clock 'clk': 121.7 MHz (PASS at 50 MHz)\n")
    assert build_module._phase(nextpnr) == "Running simulated annealing placer for refinement"
    assert build_module._phase(tmp_path / "none.tim") == ""


def test_build_rejects_bad_name(tmp_path):
    board = load_board("ulx3s")
    with pytest.raises(ValueError, match=r"name must be alphanumeric \(and _\), not 'my-top'"):
        build_bitstream(object(), board, tmp_path, name="my-top")   # checked before use
    with pytest.raises(ValueError, match="placer must be one of heap, static, not 'sa'"):
        build_bitstream(object(), board, tmp_path, placer="sa")


@pytest.mark.slow
def test_build_bitstream(tmp_path):
    """The UART board top (the one hwgen build uses) through the whole ECP5 flow."""
    board = load_board("ulx3s")
    # 256 frames: 512 words of 16 bits, enough for Yosys to use a block RAM
    top = board_top(board, frames=256)
    messages = []
    started = time.monotonic()
    report = build_bitstream(top, board, tmp_path / "gateware", name="board_top",
                             progress=messages.append)
    elapsed = time.monotonic() - started
    out = tmp_path / "gateware"
    print(f"\nbuild took {elapsed:.1f} s: {report.summary()}")
    print(report.to_dict())

    bitstream = out / "board_top.bit"
    assert report.bitstream == bitstream and bitstream.stat().st_size > 0
    for product in ["board_top.il", "board_top.v", "board_top.tim", "board_top_report.json",
                    "board_top.rpt", "build_board_top.log"]:
        assert (out / product).is_file(), product
    verilog = (out / "board_top.v").read_text()
    for module in ("network", "parser", "encoder", "receiver", "transmitter"):
        assert f"module \\board_top.core.{module}" in verilog, module
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gateware"]   # wrote only there
    assert any("place and route" in message for message in messages)
    # The family's synthesis options reach Yosys (and its log says it ran them).
    assert "synth_ecp5 -cmp2softlogic -top board_top" in (out / "board_top.ys").read_text()
    assert "cmp2softlogic.v" in (out / "board_top.rpt").read_text()    # its compare map ran

    assert report.luts > 0 and report.ffs > 0
    assert report.brams >= 1
    assert report.plls == 1 and report.ios == 12       # clock, 8 LEDs, button, UART rx and tx
    assert report.fmax_mhz is not None and report.fmax_mhz > 0
    assert report.clock_mhz == 50 and report.clock_net is not None
    assert report.device.startswith("LFE5U-85F")
    report.check_timing()
    assert "does not exist in design" not in (out / "board_top.tim").read_text()  # constraint hit


@pytest.mark.slow
def test_a_clock_beyond_reach_fails_timing(tmp_path):
    """The board top asked to run at 390 MHz: nextpnr places and routes it all the same, and
    the report says, with the Fmax it reached, that the clock is not met."""
    board = load_board("ulx3s")
    report = build_bitstream(board_top(board, clock_mhz=390), board, tmp_path, name="board_top")
    assert report.clock_mhz == 390 and report.fmax_mhz is not None
    assert report.fmax_mhz < 390 and not report.met_timing
    assert (tmp_path / "board_top.bit").stat().st_size > 0
    with pytest.raises(HwgenError, match=r"^timing failed: Fmax \d+\.\d MHz < requested 390 MHz "
                                         r"on clock "):
        report.check_timing()
