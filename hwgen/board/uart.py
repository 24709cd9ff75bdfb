"""UART: 8N1 receiver and transmitter with byte streams, baud set by a clock divisor.

One bit lasts ``divisor`` cycles of the ``sync`` clock (``divisor = round(clock / baud)``; the
rounding error must stay within a few percent, see :func:`uart_divisor`). A byte on the line is
a start bit (0), eight data bits, least significant first, and a stop bit (1); the line idles
at 1.
"""
from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTReceiver", "UARTTransmitter", "uart_divisor", "MIN_DIVISOR", "MAX_BAUD_ERROR"]

#: Fewest clock cycles per bit the receiver samples reliably (a quarter bit of margin).
MIN_DIVISOR = 4

#: Largest relative difference between the requested and the achieved baud rate. The receiver
#: samples mid-bit, so the last (stop) bit drifts by 9.5 times the error; 2 % keeps it within
#: a fifth of a bit, leaving the rest for the other side's clock.
MAX_BAUD_ERROR = 0.02


def _check_divisor(divisor):
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < MIN_DIVISOR:
        raise ValueError(f"divisor must be an integer of at least {MIN_DIVISOR}, "
                         f"not {divisor!r}")


def uart_divisor(clock_hz: float, baud: float) -> int:
    """Clock cycles per bit for ``baud`` at ``clock_hz``.

    Raises
    ------
    ValueError
        The divisor would be below :data:`MIN_DIVISOR`, or the achieved rate
        ``clock_hz / divisor`` would differ from ``baud`` by more than :data:`MAX_BAUD_ERROR`.
    """
    for name, value in (("clock_hz", clock_hz), ("baud", baud)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"{name} must be a positive number, not {value!r}")
    divisor = round(clock_hz / baud)
    if divisor < MIN_DIVISOR:
        raise ValueError(f"baud {baud:g} needs at least {MIN_DIVISOR} clock cycles per bit; "
                         f"at {clock_hz / 1e6:g} MHz it may be at most "
                         f"{clock_hz / MIN_DIVISOR:g}")
    error = abs(clock_hz / divisor - baud) / baud
    if error > MAX_BAUD_ERROR:
        raise ValueError(f"baud {baud:g} is {error:.1%} off at {clock_hz / 1e6:g} MHz "
                         f"(divisor {divisor}); at most {MAX_BAUD_ERROR:.0%} is allowed")
    return divisor


class UARTReceiver(wiring.Component):
    """8N1 receiver.

    ``rx`` passes through a two-flip-flop synchronizer. A falling edge starts a byte; the start
    bit is checked at its middle (a shorter low pulse is a glitch and ignored) and every further
    bit is sampled one ``divisor`` later, in the middle of the bit. A byte whose stop bit reads
    0 is a framing error: the byte is dropped, ``framing_error`` pulses, and the receiver waits
    for the line to return high (so a break is not read as a string of zero bytes).

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least :data:`MIN_DIVISOR`.

    Attributes
    ----------
    rx : ``In(1, init=1)``
        The serial line (asynchronous).
    o : ``Out(stream.Signature(8))``
        One transfer per received byte, valid from the middle of its stop bit until taken.
        A byte completed while the previous one is still waiting is dropped (``overrun``);
        a consumer taking a byte within one byte time loses none.
    framing_error : ``Out(1)``
        High for one cycle when a byte is dropped for a bad stop bit.
    overrun : ``Out(1)``
        High for one cycle when a byte is dropped because ``o`` was not taken.
    """

    rx: In(1, init=1)
    o: Out(stream.Signature(8))
    framing_error: Out(1)
    overrun: Out(1)

    def __init__(self, *, divisor: int):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.rx_sync = FFSynchronizer(self.rx, line, init=1)

        timer = Signal(range(self.divisor))
        bits = Signal(range(8))
        shift = Signal(8)

        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        m.d.sync += [self.framing_error.eq(0), self.overrun.eq(0)]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    # First low sample: the edge was within the last cycle, so the middle of
                    # the start bit is divisor // 2 cycles from here.
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):
                    m.next = "IDLE"                      # a glitch, not a start bit
                with m.Else():
                    m.d.sync += [timer.eq(self.divisor - 1), bits.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [shift.eq(Cat(shift[1:], line)), timer.eq(self.divisor - 1),
                                 bits.eq(bits + 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(~line):
                    m.d.sync += self.framing_error.eq(1)
                    m.next = "BREAK"
                with m.Else():
                    with m.If(self.o.valid & ~self.o.ready):
                        m.d.sync += self.overrun.eq(1)
                    with m.Else():
                        m.d.sync += [self.o.payload.eq(shift), self.o.valid.eq(1)]
                    m.next = "IDLE"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UARTTransmitter(wiring.Component):
    """8N1 transmitter.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least :data:`MIN_DIVISOR`.

    Attributes
    ----------
    i : ``In(stream.Signature(8))``
        Bytes to send. Taken when the line is idle, or in the last cycle of a stop bit, so
        back-to-back bytes follow each other without a gap (ten bits per byte).
    tx : ``Out(1, init=1)``
        The serial line, driven from a register.
    busy : ``Out(1)``
        A byte is being sent.
    """

    i: In(stream.Signature(8))
    tx: Out(1, init=1)
    busy: Out(1)

    def __init__(self, *, divisor: int):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        # Bits still to send, the current one at bit 0: start bit, data, stop bit.
        shift = Signal(10, init=0x3FF)
        remaining = Signal(range(11))
        timer = Signal(range(self.divisor))
        bit_done = Signal()

        m.d.comb += [
            bit_done.eq(timer == 0),
            self.i.ready.eq((remaining == 0) | ((remaining == 1) & bit_done)),
            self.tx.eq(shift[0]),
            self.busy.eq(remaining != 0),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shift.eq(Cat(Const(0, 1), self.i.payload, Const(1, 1))),
                         remaining.eq(10), timer.eq(self.divisor - 1)]
        with m.Elif(remaining != 0):
            with m.If(bit_done):
                m.d.sync += [shift.eq(Cat(shift[1:], Const(1, 1))), remaining.eq(remaining - 1),
                             timer.eq(self.divisor - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m
