"""A self-running board top: test frames from on-chip ROM through the network, results on LEDs.

:class:`RomPlayer` is the board-independent part (simulatable); :class:`RomTop` adds the clock
(:class:`~hwgen.fpga.pll.SyncClock`) and connects the LEDs and the button of a
:class:`~hwgen.fpga.board.Board` through amaranth-boards resources.

LEDs (``led`` 0..7 of the board):

====== ====================================================================================
LED    shows
====== ====================================================================================
0..3   class (low four bits) of the most recent frame, latched twice a second
4      blinks: toggles at every latch (the clock runs, the design is configured)
5      every frame of the last full pass through the ROM matched its expected class
6      XOR of every bit of every logit of the most recent frame, latched
7      the latched class matched the frame's expected class
====== ====================================================================================

LED 6 is there so that synthesis cannot prune the network: every logit bit reaches a pin.
Holding the button (``button_fire`` 0 on the ULX3S) pauses the input stream; the network
drains and the LEDs keep the last frame.
"""
import operator

from amaranth.hdl import Cat, ClockDomain, Elaboratable, Module, Mux, Shape, Signal
from amaranth.lib import data, io, stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .board import Board
from .pll import SyncClock, pll_params

__all__ = ["RomPlayer", "RomTop", "LATCH_HZ"]

# How often the LEDs take the most recent frame's result.
LATCH_HZ = 2


def _stream_payload(network, port: str, flow) -> object:
    members = network.signature.members
    if port not in members or not members[port].is_signature or members[port].flow != flow:
        raise TypeError(f"network must have a stream port {port!r} of flow {flow.name}, "
                        f"not {network!r}")
    signature = members[port].signature
    if not isinstance(signature, stream.Signature):
        raise TypeError(f"network.{port} must be a stream.Signature, not {signature!r}")
    return signature.members["payload"].shape


def _network_shapes(network):
    if not isinstance(network, wiring.Component):
        raise TypeError(f"network must be a wiring.Component, not {network!r}")
    word_shape = _stream_payload(network, "i", In)
    if not isinstance(word_shape, Shape) or word_shape.signed:
        raise TypeError(f"network.i payload must be unsigned(W), not {word_shape!r}")
    result = _stream_payload(network, "o", Out)
    if not isinstance(result, data.StructLayout) or "label" not in result.members \
            or "logits" not in result.members:
        raise TypeError(f"network.o payload must be a StructLayout with 'label' and 'logits', "
                        f"not {result!r}")
    logits = result.members["logits"]
    if not isinstance(logits, data.ArrayLayout):
        raise TypeError(f"network.o payload 'logits' must be an ArrayLayout, not {logits!r}")
    label = result.members["label"]
    if isinstance(label, data.Layout) or label.signed:
        raise TypeError(f"network.o payload 'label' must be unsigned, not {label!r}")
    return word_shape, result


def _as_int(value, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer, not {value!r}") from None


def _check_frames(network, words, transfers_per_frame, labels):
    """Checked ``(word shape, result layout, words, labels)``; ``words``/``labels`` as lists."""
    word_shape, result_layout = _network_shapes(network)
    if isinstance(transfers_per_frame, bool) or not isinstance(transfers_per_frame, int) \
            or transfers_per_frame < 1:
        raise ValueError(f"transfers_per_frame must be a positive integer, "
                         f"not {transfers_per_frame!r}")
    words = [_as_int(word, f"words[{index}]") for index, word in enumerate(words)]
    if not words or len(words) % transfers_per_frame:
        raise ValueError(f"words must hold a positive multiple of transfers_per_frame="
                         f"{transfers_per_frame} words, not {len(words)}")
    for index, word in enumerate(words):
        if not 0 <= word < 2 ** word_shape.width:
            raise ValueError(f"words[{index}] must be within 0..{2 ** word_shape.width - 1}, "
                             f"not {word!r}")
    frames = len(words) // transfers_per_frame
    labels = [_as_int(label, f"labels[{index}]") for index, label in enumerate(labels)]
    label_width = result_layout.members["label"].width
    if len(labels) != frames:
        raise ValueError(f"labels must hold one class per frame ({frames}), not {len(labels)}")
    for index, label in enumerate(labels):
        if not 0 <= label < 2 ** label_width:
            raise ValueError(f"labels[{index}] must be within 0..{2 ** label_width - 1}, "
                             f"not {label!r}")
    return word_shape, result_layout, words, labels


class RomPlayer(wiring.Component):
    """Plays ROM frames into ``network`` forever and keeps LED-ready results.

    Parameters
    ----------
    network : wiring.Component
        Ports ``i``: ``In(stream.Signature(unsigned(W)))`` and ``o``:
        ``Out(stream.Signature(layout))``, ``layout`` a ``StructLayout`` with an unsigned
        ``label`` and an ``ArrayLayout`` of signed ``logits``; one ``o`` transfer per frame.
    words : list of int
        Input transfers of all frames back to back, each ``0 <= word < 2**W``.
    transfers_per_frame : int
        Input transfers per frame; ``len(words)`` is a multiple.
    labels : list of int
        Expected class of each frame, ``len(words) // transfers_per_frame`` of them.
    latch_cycles : int
        Clock cycles between two LED updates.

    Attributes
    ----------
    leds : ``Out(8)``
        LED values, see the module docstring.
    pause : ``In(1)``
        While high, no new word enters the network (already synchronized to ``sync``).
    frames : ``Out(32)``
        Results received since reset (wraps).

    The ROM words drive ``network.i`` from a register, with ``valid`` held until ``ready`` (one
    word per cycle at full rate); ``network.o.ready`` is always high.
    """

    def __init__(self, *, network, words, transfers_per_frame: int, labels, latch_cycles: int):
        word_shape, result_layout, words, labels = _check_frames(
            network, words, transfers_per_frame, labels)
        if isinstance(latch_cycles, bool) or not isinstance(latch_cycles, int) \
                or latch_cycles < 1:
            raise ValueError(f"latch_cycles must be a positive integer, not {latch_cycles!r}")
        self.network = network
        self.words, self.labels = words, labels
        self.transfers_per_frame = transfers_per_frame
        self.latch_cycles = latch_cycles
        self._word_shape, self._result_layout = word_shape, result_layout
        super().__init__({"leds": Out(8), "pause": In(1), "frames": Out(32)})

    @property
    def frame_count(self) -> int:
        """Frames in the ROM."""
        return len(self.labels)

    def elaborate(self, platform):
        m = Module()
        m.submodules.network = network = self.network
        frames = self.frame_count
        label_shape = self._result_layout.members["label"]

        # Input, first stage: the ROM's synchronous read port. Its data register holds a word
        # while `rom_valid`; the next one is read when there is none or it is being taken.
        m.submodules.words = words = Memory(shape=self._word_shape, depth=len(self.words),
                                            init=self.words)
        word_port = words.read_port()
        address = Signal(range(len(self.words)))
        rom_valid = Signal()
        rom_ready = Signal()
        advance = Signal()
        m.d.comb += [
            advance.eq(~rom_valid | rom_ready),
            word_port.en.eq(advance),
            word_port.addr.eq(address),
        ]
        with m.If(advance):
            m.d.sync += rom_valid.eq(~self.pause)
            with m.If(~self.pause):
                m.d.sync += address.eq(Mux(address == len(self.words) - 1, 0, address + 1))

        # Then one register stage into the network: a block RAM's clock-to-output delay
        # (5.6 ns on ECP5 without its output register) would otherwise come before the
        # network's first logic, and cost a third of the cycle at 50 MHz.
        m.d.comb += rom_ready.eq(~network.i.valid | network.i.ready)
        with m.If(rom_valid & rom_ready):
            m.d.sync += [network.i.valid.eq(1), network.i.payload.eq(word_port.data)]
        with m.Elif(network.i.ready):
            m.d.sync += network.i.valid.eq(0)

        # Output: always ready; one transfer per frame, in ROM order.
        m.submodules.labels = labels = Memory(shape=label_shape, depth=frames, init=self.labels)
        expected = labels.read_port(domain="comb")
        frame = Signal(range(frames))
        m.d.comb += [network.o.ready.eq(1), expected.addr.eq(frame)]

        result = network.o.payload
        logit_bits = result.logits.as_value()
        recent_label = Signal(label_shape)
        recent_match = Signal()
        recent_parity = Signal()
        pass_ok = Signal(init=1)      # no mismatch yet in the current pass
        last_pass_ok = Signal()
        with m.If(network.o.valid):
            match = result.label == expected.data
            m.d.sync += [
                recent_label.eq(result.label),
                recent_match.eq(match),
                recent_parity.eq(logit_bits.xor()),
                frame.eq(Mux(frame == frames - 1, 0, frame + 1)),
                self.frames.eq(self.frames + 1),
            ]
            with m.If(frame == frames - 1):
                m.d.sync += [last_pass_ok.eq(pass_ok & match), pass_ok.eq(1)]
            with m.Else():
                m.d.sync += pass_ok.eq(pass_ok & match)

        # LEDs: copy the most recent result every latch_cycles, so a person can read them.
        latch_count = Signal(range(self.latch_cycles))
        heartbeat = Signal()
        shown_label = Signal(4)
        shown_match = Signal()
        shown_parity = Signal()
        shown_pass = Signal()
        with m.If(latch_count == self.latch_cycles - 1):
            m.d.sync += [
                latch_count.eq(0),
                heartbeat.eq(~heartbeat),
                shown_label.eq(recent_label),
                shown_match.eq(recent_match),
                shown_parity.eq(recent_parity),
                shown_pass.eq(last_pass_ok),
            ]
        with m.Else():
            m.d.sync += latch_count.eq(latch_count + 1)
        m.d.comb += self.leds.eq(Cat(shown_label, heartbeat, shown_pass, shown_parity,
                                     shown_match))
        return m


class RomTop(Elaboratable):
    """Board top: :class:`SyncClock`, :class:`RomPlayer`, LEDs and button.

    Parameters
    ----------
    network : wiring.Component
        As for :class:`RomPlayer`.
    words : list of int
        Input transfers of all test frames back to back.
    transfers_per_frame : int
        Input transfers per frame.
    labels : list of int
        Expected class per frame.
    board : Board
        The board; its ``led`` (8 of them) and ``button`` resources are used.
    clock_mhz : float, optional
        Design clock (default: ``board.clock_mhz``); the nearest the PLL can make is used.

    Attributes
    ----------
    clock : SyncClock
        The clock generator; ``clock.clock_mhz`` is the achieved frequency.
    player : RomPlayer
        The ROM player around ``network``.
    """

    def __init__(self, *, network, words, transfers_per_frame: int, labels, board: Board,
                 clock_mhz: float | None = None):
        if not isinstance(board, Board):
            raise TypeError(f"board must be a Board, not {board!r}")
        # Check the frames before creating any elaboratable (an unused one warns).
        _check_frames(network, words, transfers_per_frame, labels)
        clock_mhz = board.clock_mhz if clock_mhz is None else clock_mhz
        if clock_mhz != board.oscillator_mhz:
            pll_params(board.oscillator_mhz, clock_mhz)
        self.board = board
        self.clock = SyncClock(oscillator_mhz=board.oscillator_mhz, clock_mhz=clock_mhz)
        latch_cycles = max(1, round(self.clock.clock_mhz * 1e6 / LATCH_HZ))
        self.player = RomPlayer(network=network, words=words,
                                transfers_per_frame=transfers_per_frame, labels=labels,
                                latch_cycles=latch_cycles)

    @property
    def clock_mhz(self) -> float:
        """Achieved design clock."""
        return self.clock.clock_mhz

    @property
    def requested_mhz(self) -> float:
        """Requested design clock."""
        return self.clock.requested_mhz

    def elaborate(self, platform):
        if platform is None:
            raise TypeError("RomTop is a board top; simulate RomPlayer instead")
        m = Module()
        m.domains.sync = ClockDomain("sync")
        m.submodules.clock = self.clock
        m.submodules.player = player = self.player
        for index in range(8):
            port = platform.request(self.board.led, index, dir="-")
            buffer = io.Buffer("o", port)
            m.submodules[f"led_{index}"] = buffer
            m.d.comb += buffer.o.eq(player.leds[index])
        button_port = platform.request(self.board.button, 0, dir="-")
        m.submodules.button = button = io.Buffer("i", button_port)
        m.submodules.button_sync = FFSynchronizer(button.i, player.pause)
        return m
