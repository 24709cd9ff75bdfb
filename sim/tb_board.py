"""cocotb testbench of the UART board core (:class:`hwgen.board.top.BoardCore`) through its pins.

A UART model (cocotbext-uart) plays the host on ``rx`` and ``tx``, speaking the protocol of
:mod:`hwgen.board.protocol`. The configuration (JSON, named by ``HWGEN_CONFIG``, written by
:func:`hwgen.cosim.run_testbench`) gives the clock period, baud rate, the expected info answer,
the frames and their golden classes and logits, and which scenarios to run:

``info``
    The info query is answered with the expected :class:`~hwgen.board.protocol.Info`.
``frames``
    Every frame, two in flight, answered with its golden class and logits
    (:func:`~hwgen.board.protocol.compare_results` lists each difference).
``resync``
    Noise, a frame cut short, then good frames and one with a bad CRC: the cut frame gets no
    answer, the bad one an error, the good ones their golden results.
``rom``
    A button press plays the ROM (its frames are the first ``rom_frames`` frames, with their
    golden classes): the pass LED lights; a serial frame sent during the pass gets its result.

What it saw goes to the ``observed`` file; the test fails on any difference.
"""
import json
import logging
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotb.utils import get_sim_time
from cocotbext.uart import UartSink, UartSource

from hwgen.board import protocol

#: LED bits of BoardCore.
ROM_RUNNING, ROM_PASS, ROM_FAIL = 0x20, 0x40, 0x80


class Host:
    """The host end of the serial link."""

    def __init__(self, dut, *, baud: int, info: protocol.Info, timeout_ns: int):
        self.source = UartSource(dut.rx, baud=baud)
        self.sink = UartSink(dut.tx, baud=baud)
        for model in (self.source, self.sink):
            model.log.setLevel(logging.WARNING)       # not a line per byte
        self.decoder = protocol.ReplyDecoder()
        self.decoder.expect(info)
        self.timeout_ns = timeout_ns
        self.pending = []

    async def send(self, data: bytes):
        await self.source.write(data)

    async def answer(self):
        """The next answer, or None after ``timeout_ns`` without one."""
        while not self.pending:
            await self.sink.wait(self.timeout_ns, "ns")
            if self.sink.empty():
                return None
            self.pending += self.decoder.feed(self.sink.read_nowait())
        return self.pending.pop(0)

    async def answers(self, count: int) -> list:
        got = []
        while len(got) < count:
            answer = await self.answer()
            if answer is None:
                break
            got.append(answer)
        return got


def frame_message(config, index: int, seq: int) -> bytes:
    return protocol.encode_frame(seq, config["frames"][index], input_bits=config["input_bits"])


def golden_result(config, index: int, seq: int) -> protocol.Result:
    return protocol.Result(seq=seq, label=config["labels"][index],
                           logits=tuple(config["logits"][index]))


async def check_info(host, config, seen):
    await host.send(protocol.encode_info_query())
    answer = await host.answer()
    seen["info"] = repr(answer)
    seen["info_ok"] = answer == protocol.Info(**config["info"])


async def check_frames(host, config, seen):
    count = len(config["frames"])
    results = {}
    sent = 0
    while len(results) < count:
        while sent < count and sent - len(results) < protocol.FRAME_SLOTS:
            await host.send(frame_message(config, sent, seq=sent))
            sent += 1
        answer = await host.answer()
        if not isinstance(answer, protocol.Result):
            seen["frames_error"] = f"after {len(results)} results: {answer!r}"
            break
        results[answer.seq] = answer
    ordered = [results[seq] for seq in sorted(results)]
    seen["frames_answered"] = len(ordered)
    seen["mismatches"] = protocol.compare_results(
        [result.label for result in ordered], [result.logits for result in ordered],
        config["labels"], config["logits"])


async def check_resync(host, config, seen):
    first = frame_message(config, 0, seq=200)
    bad = bytearray(frame_message(config, 1, seq=201))
    bad[-1] ^= 0x01 if bad[-1] not in (protocol.SYNC ^ 1, protocol.ESC ^ 1) else 0x02
    await host.send(b"\x00\x42\x13" + first[:len(first) // 2] + first + bytes(bad)
                    + frame_message(config, 1, seq=202))
    answers = await host.answers(3)
    answers += [extra for extra in [await host.answer()] if extra is not None]   # no more
    expected = [golden_result(config, 0, 200), protocol.Error(protocol.ERROR_CHECK, 201),
                golden_result(config, 1, 202)]
    seen["resync"] = [repr(answer) for answer in answers]
    seen["resync_ok"] = sorted(answers, key=lambda a: a.seq) == expected


async def check_rom(dut, host, config, seen):
    dut.play.value = 1
    await ClockCycles(dut.clk, 5)
    dut.play.value = 0
    await ClockCycles(dut.clk, 5)
    seen["rom_started"] = bool(int(dut.leds.value) & ROM_RUNNING)
    await host.send(frame_message(config, 2, seq=210))     # while the ROM plays
    answer = await host.answer()
    seen["rom_serial_ok"] = answer == golden_result(config, 2, 210)
    seen["rom_running_after_serial"] = bool(int(dut.leds.value) & ROM_RUNNING)
    for _ in range(1000):
        if not int(dut.leds.value) & ROM_RUNNING:
            break
        await ClockCycles(dut.clk, 100)
    leds = int(dut.leds.value)
    seen["rom_verdict"] = "pass" if leds & ROM_PASS else "fail" if leds & ROM_FAIL else "none"
    seen["rom_done"] = not leds & ROM_RUNNING


@cocotb.test()
async def board_answers_over_uart(dut):
    config = json.loads(open(os.environ["HWGEN_CONFIG"]).read())
    seen = {}
    clock_ns = config["clock_ns"]
    cocotb.start_soon(Clock(dut.clk, clock_ns, unit="ns").start())
    dut.play.value = 0
    dut.rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    host = Host(dut, baud=config["baud"], info=protocol.Info(**config["info"]),
                timeout_ns=config["timeout_cycles"] * clock_ns)
    started = time.perf_counter()
    scenarios = config["scenarios"]
    if "info" in scenarios:
        await check_info(host, config, seen)
    if "frames" in scenarios:
        await check_frames(host, config, seen)
    if "resync" in scenarios:
        await check_resync(host, config, seen)
    if "rom" in scenarios:
        await check_rom(dut, host, config, seen)
    seen["cycles"] = int(get_sim_time("ns") // clock_ns)
    seen["wall_s"] = time.perf_counter() - started
    seen["dropped"] = host.decoder.dropped
    with open(config["observed"], "w") as file:
        json.dump(seen, file)
    failures = [key for key in ("info_ok", "resync_ok", "rom_serial_ok") if key in seen
                and not seen[key]]
    if seen.get("mismatches"):
        failures.append(f"{len(seen['mismatches'])} mismatches: {seen['mismatches'][:3]}")
    if "frames_error" in seen:
        failures.append(seen["frames_error"])
    if "rom_verdict" in seen and (seen["rom_verdict"] != "pass" or not seen["rom_done"]):
        failures.append(f"ROM pass: {seen['rom_verdict']}")
    assert not failures, "; ".join(failures)
