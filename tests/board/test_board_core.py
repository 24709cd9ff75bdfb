# amaranth: UnusedElaboratable=no
"""The UART board top's core in Amaranth's simulator, on the stand-in network of test_build:
serial frames answered with golden results, the button's ROM pass on the LEDs (pass and fail),
serial frames during a ROM pass, and the board top's elaboration with the ULX3S resources."""
import dataclasses

import pytest
from amaranth.sim import Simulator

from hwgen.board import protocol
from hwgen.board.board import load_board
from hwgen.board.build import build_platform
from hwgen.board.protocol import Info, Result
from hwgen.board.top import BoardCore, BoardTop
from hwgen.lib.packing import unpack_words
from hwgen.target import target
from tests.board.test_build import CLASSES, TRANSFERS, WIDTH, PopcountNetwork, golden, make_words

DIVISOR = 4
INPUT_BITS = 8
PER_WORD = WIDTH // INPUT_BITS


def line_levels(data: bytes, divisor: int) -> list[int]:
    levels = []
    for byte in data:
        bits = [0] + [(byte >> k) & 1 for k in range(8)] + [1]
        levels += [bit for bit in bits for _ in range(divisor)]
    return levels


def line_bytes(levels, divisor: int) -> bytes:
    """Bytes on a line sampled once per cycle (mid-bit)."""
    out, position = bytearray(), 0
    while True:
        try:
            start = levels.index(0, position)
        except ValueError:
            return bytes(out)
        middle = start + divisor // 2
        if middle + 9 * divisor >= len(levels):
            return bytes(out)
        bits = [levels[middle + k * divisor] for k in range(10)]
        assert bits[0] == 0 and bits[9] == 1, "framing error on tx"
        out.append(sum(bit << k for k, bit in enumerate(bits[1:9])))
        position = middle + 9 * divisor


def frame_elements(words):
    """The elements of frames of ``words`` (TRANSFERS words each), as the host sends them."""
    elements = unpack_words(words, width=INPUT_BITS, per_word=PER_WORD, signed=False)
    return elements.reshape(-1, TRANSFERS * PER_WORD)


def make_core(words, labels, **changes):
    arguments = dict(network=PopcountNetwork(), words=words, transfers_per_frame=TRANSFERS,
                     labels=labels, input_bits=INPUT_BITS, divisor=DIVISOR,
                     bank_depth=target("ecp5").rom_bank_depth(WIDTH), heartbeat_cycles=50,
                     rom_interval=30, network_id=0x1234ABCD)
    return BoardCore(**{**arguments, **changes})


def simulate(core, schedule, cycles):
    """Run ``core``; ``schedule`` maps a cycle to bytes to start sending then, or to
    ``"press"``/``"release"`` of the button. Returns tx bytes and LEDs per cycle."""
    tx, leds = [], []

    async def testbench(ctx):
        line = []
        for cycle in range(cycles):
            event = schedule.get(cycle)
            if isinstance(event, (bytes, bytearray)):
                line += line_levels(event, DIVISOR)
            elif event is not None:
                ctx.set(core.play, event == "press")
            ctx.set(core.rx, line.pop(0) if line else 1)
            tx.append(ctx.get(core.tx))
            leds.append(ctx.get(core.leds))
            await ctx.tick()

    simulator = Simulator(core)
    simulator.add_clock(1e-6)
    simulator.add_testbench(testbench)
    simulator.run()
    return line_bytes(tx, DIVISOR), leds


def answers(data, info):
    decoder = protocol.ReplyDecoder()
    decoder.expect(info)
    got = decoder.feed(data)
    assert decoder.dropped == 0
    return got


def test_serial_frames_get_golden_answers():
    words = make_words(4, seed=3)
    expected = golden(words)
    core = make_core(words[:TRANSFERS], [expected[0][1]])
    assert core.info == Info(elements=TRANSFERS * PER_WORD, input_bits=8, classes=CLASSES,
                             logit_bytes=1, network_id=0x1234ABCD)
    frames = frame_elements(words)
    message = protocol.encode_info_query() + b"".join(
        protocol.encode_frame(seq, frame, input_bits=INPUT_BITS)
        for seq, frame in zip([5, 6], frames[:2]))
    later = b"".join(protocol.encode_frame(seq, frame, input_bits=INPUT_BITS)
                     for seq, frame in zip([7, 8], frames[2:]))
    data, leds = simulate(core, {10: message, 700: later}, 2600)
    got = answers(data, core.info)
    assert got[0] == core.info
    assert got[1:] == [Result(seq=seq, label=label, logits=tuple(logits))
                       for seq, (logits, label) in zip([5, 6, 7, 8], expected)]
    assert leds[-1] & 0x0F == expected[-1][1]
    assert not any(led & 0xE0 for led in leds)       # no ROM pass


@pytest.mark.parametrize("wrong, bank_depth", [(None, None), (3, None), (None, 2), (3, 4),
                                              (4, None)])
def test_button_plays_the_rom_once(wrong, bank_depth):
    # wrong: the ROM frame whose expected class is wrong (4: the last); bank_depth: the ROM in
    # several banks, frames across their bounds
    banks = {} if bank_depth is None else {"bank_depth": bank_depth}
    words = make_words(5, seed=4)
    expected = golden(words)
    labels = [label for _, label in expected]
    if wrong is not None:
        labels[wrong] = (labels[wrong] + 1) % CLASSES
    core = make_core(words, labels, rom_interval=100, **banks)
    # Press, bounce, release; a serial frame in the middle of the pass.
    frame = protocol.encode_frame(1, frame_elements(words[:TRANSFERS])[0], input_bits=8)
    schedule = {20: "press", 22: "release", 23: "press", 60: "release", 70: frame}
    data, leds = simulate(core, schedule, 1000)
    assert answers(data, core.info) == [Result(1, expected[0][1], tuple(expected[0][0]))]
    running = [bool(led & 0x20) for led in leds]
    start, end = running.index(True), len(running) - running[::-1].index(True)
    assert 20 < start < 25 and all(running[start:end])
    assert end > start + 4 * 100                     # paced: rom_interval cycles per frame
    assert end < 1000 - 50
    verdict = leds[-1] >> 6
    assert verdict == (0b01 if wrong is None else 0b10)
    assert not any(led >> 6 for led in leds[start:end])
    shown = {led & 0x0F for led in leds[start:end]}
    assert {label for _, label in expected} <= shown | {leds[start] & 0x0F}
    heartbeat = [bool(led & 0x10) for led in leds]
    assert heartbeat[10] != heartbeat[60]


@pytest.mark.parametrize("changes, message", [
    (dict(input_bits=3), r"input_bits must be an integer within 1..8 dividing the 16-bit "
                         r"input word, not 3"),
    (dict(divisor=2), r"divisor must be an integer of at least 4, not 2"),
    (dict(rom_interval=0), r"rom_interval must be a positive integer, not 0"),
    (dict(bank_depth=48), r"bank_depth must be a power of two, not 48"),
])
def test_core_rejects(changes, message):
    words = make_words(1)
    with pytest.raises(ValueError, match=message):
        make_core(words, [golden(words)[0][1]], **changes)


def test_board_top_elaborates_with_board_resources():
    board = load_board("ulx3s")
    words = make_words(8)
    top = BoardTop(network=PopcountNetwork(), words=words, transfers_per_frame=TRANSFERS,
                   labels=[label for _, label in golden(words)], board=board, input_bits=8,
                   network_id=7)
    assert top.clock_mhz == 50 and top.uart_baud == 115200
    assert top.core.receiver.divisor == 434 and top.core.rom_interval == 12_500_000
    assert top.core.info.network_id == 7
    plan = build_platform(board).build(top, do_build=False, debug_verilog=False)
    lpf = plan.files["top.lpf"]
    # LEDs, fire button, clock, UART rx (M1) and tx (L4)
    for pin in ["B2", "C2", "C1", "D2", "D1", "E2", "E1", "H3", "R1", "G2", "M1", "L4"]:
        assert f'SITE "{pin}"' in lpf


def test_board_top_checks_the_baud():
    board = load_board("ulx3s")
    words = make_words(1)
    arguments = dict(network=PopcountNetwork(), words=words, transfers_per_frame=TRANSFERS,
                     labels=[golden(words)[0][1]], board=board, input_bits=8)
    assert BoardTop(**arguments, uart_baud=3_000_000).core.receiver.divisor == 17
    with pytest.raises(ValueError, match=r"baud 3e\+06 is 4.2% off at 25 MHz"):
        BoardTop(**arguments, uart_baud=3_000_000, clock_mhz=25)


def test_board_top_drives_the_leds_the_board_has():
    board = dataclasses.replace(load_board("ulx3s"), leds=2)
    words = make_words(1)
    top = BoardTop(network=PopcountNetwork(), words=words, transfers_per_frame=TRANSFERS,
                   labels=[golden(words)[0][1]], board=board, input_bits=8)
    assert top.core.bank_depth == 1024              # a DP16KD holds 1024 words of 16 bits
    lpf = build_platform(board).build(top, do_build=False, debug_verilog=False).files["top.lpf"]
    for pin in ["B2", "C2"]:                        # LEDs 0 and 1
        assert f'SITE "{pin}"' in lpf
    for pin in ["C1", "D2", "D1", "E2", "E1", "H3"]:
        assert f'SITE "{pin}"' not in lpf
