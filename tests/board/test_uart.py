# amaranth: UnusedElaboratable=no
"""The UART receiver and transmitter in Amaranth's simulator: bit timing, odd divisors, framing
errors, glitches, overrun and a transmitter-to-receiver loopback."""
import random

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hwgen.board.uart import UARTReceiver, UARTTransmitter, uart_divisor


def line_bits(byte: int, *, stop: int = 1) -> list[int]:
    """The 8N1 frame of ``byte``: start bit, data LSB first, stop bit."""
    return [0] + [(byte >> k) & 1 for k in range(8)] + [stop]


def run(component, testbench, *, background=None):
    simulator = Simulator(component)
    simulator.add_clock(1e-6)
    if background is not None:
        simulator.add_process(background)
    simulator.add_testbench(testbench)
    simulator.run()


def receive(levels, *, divisor, ready=lambda cycle: True):
    """Drive ``rx`` with one level per cycle; return the bytes received, the cycles at which each
    was taken, framing errors and overruns seen."""
    receiver = UARTReceiver(divisor=divisor)
    got, cycles, errors, overruns = [], [], [], []

    async def testbench(ctx):
        for cycle, level in enumerate(levels):
            ctx.set(receiver.rx, level)
            ctx.set(receiver.o.ready, ready(cycle))
            if ctx.get(receiver.o.valid) and ctx.get(receiver.o.ready):
                got.append(ctx.get(receiver.o.payload))
                cycles.append(cycle)
            if ctx.get(receiver.framing_error):
                errors.append(cycle)
            if ctx.get(receiver.overrun):
                overruns.append(cycle)
            await ctx.tick()

    run(receiver, testbench)
    return got, cycles, errors, overruns


def serialize(data, *, bit_cycles: float, gap=0, stops=None, lead=5) -> list[int]:
    """Line levels per cycle for ``data`` at ``bit_cycles`` cycles per bit (fractional: a
    sender whose baud differs from the receiver's), with ``gap`` idle bits between bytes."""
    bits = [1] * lead
    times = []
    for index, byte in enumerate(data):
        stop = 1 if stops is None else stops[index]
        times.extend(line_bits(byte, stop=stop) + [1] * gap)
    levels = list(bits)
    for position in range(int(len(times) * bit_cycles) + 3 * int(bit_cycles) + 4):
        index = int(position / bit_cycles)
        levels.append(times[index] if index < len(times) else 1)
    return levels


@pytest.mark.parametrize("divisor", [4, 5, 7, 8, 13, 16])
def test_receiver_reads_back_to_back_bytes(divisor):
    data = [0x00, 0xFF, 0x55, 0xAA, 0x01, 0x80, 0xA5, 0x3C]
    got, _, errors, overruns = receive(serialize(data, bit_cycles=divisor), divisor=divisor)
    assert got == data and not errors and not overruns


@pytest.mark.parametrize("divisor, skew", [(16, 1.02), (16, 0.98), (9, 1.02), (7, 0.985)])
def test_receiver_tolerates_a_slightly_different_baud(divisor, skew):
    rng = random.Random(divisor)
    data = [rng.randrange(256) for _ in range(12)]
    got, _, errors, _ = receive(serialize(data, bit_cycles=divisor * skew), divisor=divisor)
    assert got == data and not errors


def test_receiver_drops_a_byte_with_a_bad_stop_bit():
    divisor = 6
    data = [0x12, 0x34, 0x56]
    levels = serialize(data, bit_cycles=divisor, gap=1, stops=[1, 0, 1])
    got, _, errors, _ = receive(levels, divisor=divisor)
    assert got == [0x12, 0x56]
    assert len(errors) == 1


def test_receiver_waits_out_a_break():
    divisor = 5
    levels = [1] * 5 + [0] * (divisor * 30) + serialize([0x99], bit_cycles=divisor)
    got, _, errors, _ = receive(levels, divisor=divisor)
    assert got == [0x99] and len(errors) == 1        # not three zero bytes


def test_receiver_ignores_a_glitch():
    divisor = 8
    levels = [1] * 5 + [0, 0] + [1] * 20 + serialize([0x42], bit_cycles=divisor)
    got, _, errors, _ = receive(levels, divisor=divisor)
    assert got == [0x42] and not errors


def test_receiver_holds_a_byte_until_taken_and_reports_overrun():
    divisor = 4
    data = [0x11, 0x22, 0x33]
    levels = serialize(data, bit_cycles=divisor)
    # Not ready until well after the second byte: the second is dropped, the first held.
    got, cycles, _, overruns = receive(levels, divisor=divisor,
                                       ready=lambda cycle: cycle > 5 + 2 * 10 * divisor + 4)
    assert got == [0x11, 0x33]
    assert len(overruns) == 1
    assert cycles[0] > 5 + 2 * 10 * divisor


@pytest.mark.parametrize("divisor", [4, 7, 10])
def test_transmitter_timing(divisor):
    transmitter = UARTTransmitter(divisor=divisor)
    data = [0xA5, 0x00, 0xFF]
    levels = []

    async def testbench(ctx):
        queue = list(data)
        for _ in range(5 + 10 * divisor * len(data) + 3 * divisor):
            if queue:
                ctx.set(transmitter.i.valid, 1)
                ctx.set(transmitter.i.payload, queue[0])
            else:
                ctx.set(transmitter.i.valid, 0)
            taken = queue and ctx.get(transmitter.i.ready)
            levels.append(ctx.get(transmitter.tx))
            await ctx.tick()
            if taken:
                queue.pop(0)

    run(transmitter, testbench)
    start = levels.index(0)
    assert all(levels[:start]) and start == 1            # one cycle to take the first byte
    expected = [level for byte in data for level in line_bits(byte) for _ in range(divisor)]
    assert levels[start:start + len(expected)] == expected   # no gap between bytes
    assert all(levels[start + len(expected):])


class Loopback(wiring.Component):
    """A transmitter wired to a receiver."""

    def __init__(self, divisor):
        self.transmitter = UARTTransmitter(divisor=divisor)
        self.receiver = UARTReceiver(divisor=divisor)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.transmitter = self.transmitter
        m.submodules.receiver = self.receiver
        m.d.comb += self.receiver.rx.eq(self.transmitter.tx)
        return m


@pytest.mark.parametrize("divisor", [4, 5, 11, 16])
def test_loopback(divisor):
    rng = random.Random(divisor)
    data = [rng.randrange(256) for _ in range(40)] + [0x00, 0xFF]
    loop = Loopback(divisor)
    got = []

    async def testbench(ctx):
        transmitter, receiver = loop.transmitter, loop.receiver
        queue = list(data)
        ctx.set(receiver.o.ready, 1)
        for _ in range(10 * divisor * (len(data) + 2)):
            ctx.set(transmitter.i.valid, bool(queue))
            if queue:
                ctx.set(transmitter.i.payload, queue[0])
            taken = queue and ctx.get(transmitter.i.ready)
            if ctx.get(receiver.o.valid):
                got.append(ctx.get(receiver.o.payload))
            assert not ctx.get(receiver.framing_error)
            await ctx.tick()
            if taken:
                queue.pop(0)

    run(loop, testbench)
    assert got == data


@pytest.mark.parametrize("kind", ["receiver", "transmitter"])
@pytest.mark.parametrize("divisor", [3, 0, 4.0, True])
def test_rejects_bad_divisors(kind, divisor):
    block = UARTReceiver if kind == "receiver" else UARTTransmitter
    with pytest.raises(ValueError, match=rf"divisor must be an integer of at least 4, "
                                         rf"not {divisor!r}"):
        block(divisor=divisor)


def test_uart_divisor():
    assert uart_divisor(50e6, 115200) == 434
    assert uart_divisor(50e6, 3_000_000) == 17
    assert uart_divisor(25e6, 1_000_000) == 25
    with pytest.raises(ValueError, match=r"baud 3e\+06 is 4.2% off at 25 MHz \(divisor 8\)"):
        uart_divisor(25e6, 3_000_000)
    with pytest.raises(ValueError, match=r"needs at least 4 clock cycles per bit"):
        uart_divisor(10e6, 5e6)
    with pytest.raises(ValueError, match=r"baud must be a positive number, not 0"):
        uart_divisor(10e6, 0)
