"""Board tops: a network on the board, fed over the UART and from an on-chip ROM of test frames.

:class:`BoardCore` is the board-independent part of the UART top (simulatable, pins as ports);
:class:`BoardTop` adds the clock (the board's target's :meth:`~hwgen.target.Target.sync_clock`)
and connects the UART, LEDs and button of a :class:`~hwgen.board.board.Board` through
amaranth-boards resources.

The UART top
------------
The host sends frames over the UART (8N1, ``uart_baud`` of the board file, 115200 on the
ULX3S); the board runs each through the network and answers with its class and every logit.
A press of the button (``button_fire`` 0 on the ULX3S) plays the ROM's test frames through the
same network once, at most ``ROM_FPS`` frames a second so a person can follow the classes on
the LEDs, and shows whether every one got its expected class. A press while a pass runs is
ignored. Serial frames go on during a pass: the network takes whole frames, a waiting serial
frame before the next ROM frame, and every frame carries a tag of where it came from, so a
result goes where its frame came from (serial results over the UART, ROM results only to the
LEDs) and neither stream can corrupt the other.

LEDs (``led`` 0..7 of the board; a board with fewer shows the first ``leds`` of them):

====== ====================================================================================
LED    shows
====== ====================================================================================
0..3   class (low four bits) of the most recent result, serial or ROM
4      heartbeat: toggles twice a second
5      a ROM pass is running
6      the last ROM pass is done and every frame got its expected class (pass)
7      the last ROM pass is done and some frame did not (fail)
====== ====================================================================================

Frame protocol
--------------
Both directions send *messages*: ``SYNC`` (0xA5), a body, then the CRC-8 of the body
(polynomial 0x07, initial value 0, MSB first: CRC-8/SMBUS). Body and CRC bytes equal to
``SYNC`` or ``ESC`` (0xDB) are sent as ``ESC``, byte XOR 0x20. So ``SYNC`` only ever starts a
message, and the receiver drops an unfinished message at every ``SYNC``: a lost or damaged
byte costs at most the message it is in (no answer, or an error answer), never later ones.

Host to board:

============================== ==============================================================
body                           meaning
============================== ==============================================================
``I``                          info query
``F seq e[0] .. e[N-1]``       a frame: ``seq`` (any byte, echoed), then the ``N`` input
                               elements, one byte each, ``e < 2**input_bits``, in the IR's
                               order (that of ``graph.test_frames[k]``: pixels in raster
                               order, channels innermost)
============================== ==============================================================

Board to host:

============================================== ==============================================
body                                           meaning
============================================== ==============================================
``I version N[4] input_bits classes LB id[4]`` info: protocol version (1), element count,
                                               bits per element, classes, bytes per logit,
                                               network id (:func:`~hwgen.board.protocol.\
network_id`); multi-byte fields little-endian
``R seq class logit[0] .. logit[classes-1]``   result of frame ``seq``: the class (argmax)
                                               and every logit as ``LB`` bytes, little-endian
                                               two's complement (``LB`` = bytes of the
                                               network's signed logit width)
``E code seq``                                 frame ``seq`` was not run (``seq`` 0 for an
                                               info query or unknown command): 1 CRC
                                               mismatch, 2 element out of range, 3 no free
                                               frame buffer, 4 unknown command
============================================== ==============================================

Every complete message gets exactly one answer (an info or error answer is dropped only if
four are already waiting behind results being sent); a message cut short by the next ``SYNC``
gets none. Results come in frame order (an error answer may overtake earlier results; ``seq``
tells them apart). The board buffers ``FRAME_SLOTS`` (2) received frames, so a host can keep
two in flight; a third is answered with error 3. The host side (encoding, decoding,
comparison with golden) is :mod:`hwgen.board.protocol`, the board side :mod:`hwgen.board.link`.

Inside, a frame's bytes are packed into the network's input words as
:meth:`hwgen.hw.network.Network.input_words` packs them (element 0 at bit 0) while they
arrive, into one of the two frame slots; the slot goes to the network when the CRC matches.

"""
import operator

from amaranth.hdl import Array, Cat, ClockDomain, Const, Elaboratable, Module, Mux, Shape, Signal
from amaranth.lib import data, io, stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..lib.rom import RegisteredRom
from ..lib.skid import skid_output
from . import protocol
from .board import Board
from .link import ReplyEncoder, RequestParser
from .uart import UARTReceiver, UARTTransmitter, uart_divisor

__all__ = ["BoardCore", "BoardTop", "HEARTBEAT_HZ", "ROM_FPS"]

#: Toggles per second of the UART top's heartbeat LED.
HEARTBEAT_HZ = 2

#: Most ROM frames per second in the UART top's button pass.
ROM_FPS = 4


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


def _connect_leds_and_button(m, platform, board: Board, leds, button_target):
    """Drive the board's LEDs from ``leds`` (bit 0 first, as many as the board has) and
    synchronize its button into ``button_target``."""
    for index in range(min(board.leds, len(leds))):
        port = platform.request(board.led, index, dir="-")
        buffer = io.Buffer("o", port)
        m.submodules[f"led_{index}"] = buffer
        m.d.comb += buffer.o.eq(leds[index])
    button_port = platform.request(board.button, 0, dir="-")
    m.submodules.button = button = io.Buffer("i", button_port)
    m.submodules.button_sync = FFSynchronizer(button.i, button_target)


class BoardCore(wiring.Component):
    """The UART board top without its clock and pins: serial frames and ROM frames through
    ``network``, results over the UART and on LEDs (see the module docstring).

    Parameters
    ----------
    network : wiring.Component
        As for :class:`RomPlayer`; at most 255 classes.
    words : list of int
        Input transfers of the ROM's test frames, back to back.
    transfers_per_frame : int
        Input transfers per frame.
    labels : list of int
        Expected class of each ROM frame.
    input_bits : int
        Bits per input element (1..8); ``network.i``'s payload is a whole number of elements.
    divisor : int
        Clock cycles per UART bit (:func:`~hwgen.board.uart.uart_divisor`).
    bank_depth : int
        Words of one bank of the ROM, a power of two: what one block RAM holds at the word's
        width (:meth:`hwgen.target.Target.rom_bank_depth`).
    heartbeat_cycles : int
        Cycles between two toggles of the heartbeat LED.
    rom_interval : int
        Least cycles from the start of one ROM frame to the next (1: back to back), so that a
        person can follow the classes on the LEDs.
    network_id : int
        32-bit identifier in the info answer (:func:`~hwgen.board.protocol.network_id`).
    frames_in_flight : int
        Frames the network may hold at once (the tags of their source); more only costs
        throughput.

    Attributes
    ----------
    rx : ``In(1, init=1)``
        UART receive line (asynchronous; synchronized inside).
    tx : ``Out(1, init=1)``
        UART transmit line.
    play : ``In(1)``
        The button, synchronized to ``sync``: a rising edge while no ROM pass runs starts one.
    leds : ``Out(8)``
        See the module docstring.
    info : :class:`~hwgen.board.protocol.Info`
        What the info answer says.
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)
    play: In(1)
    leds: Out(8)

    def __init__(self, *, network, words, transfers_per_frame: int, labels, input_bits: int,
                 divisor: int, bank_depth: int, heartbeat_cycles: int, rom_interval: int = 1,
                 network_id: int = 0, frames_in_flight: int = 8, target=None):
        word_shape, result_layout, words, labels = _check_frames(
            network, words, transfers_per_frame, labels)
        if isinstance(input_bits, bool) or not isinstance(input_bits, int) \
                or not 1 <= input_bits <= 8 or word_shape.width % input_bits:
            raise ValueError(f"input_bits must be an integer within 1..8 dividing the "
                             f"{word_shape.width}-bit input word, not {input_bits!r}")
        if isinstance(bank_depth, bool) or not isinstance(bank_depth, int) or bank_depth < 1 \
                or bank_depth & (bank_depth - 1):
            raise ValueError(f"bank_depth must be a power of two, not {bank_depth!r}")
        for name, value in (("heartbeat_cycles", heartbeat_cycles),
                            ("rom_interval", rom_interval),
                            ("frames_in_flight", frames_in_flight)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        logits = result_layout.members["logits"]
        label_bits = result_layout.members["label"].width
        logit_bits = Shape.cast(logits.elem_shape).width
        if logits.length > 255 or label_bits > 8:
            raise ValueError(f"the protocol carries at most 255 classes, not {logits.length}")
        self.network = network
        self.words, self.labels = words, labels
        self.transfers_per_frame = transfers_per_frame
        self.input_bits = input_bits
        self.per_word = word_shape.width // input_bits
        self.bank_depth = bank_depth
        self.heartbeat_cycles, self.rom_interval = heartbeat_cycles, rom_interval
        self.frames_in_flight = frames_in_flight
        self.target = target
        self.info = protocol.Info(elements=transfers_per_frame * self.per_word,
                                  input_bits=input_bits, classes=logits.length,
                                  logit_bytes=protocol.logit_bytes(logit_bits),
                                  network_id=network_id)
        self._word_shape, self._result_layout = word_shape, result_layout
        self._logit_bits, self._label_bits = logit_bits, label_bits
        # Created here so that bad parameters fail at construction.
        self.receiver = UARTReceiver(divisor=divisor)
        self.transmitter = UARTTransmitter(divisor=divisor)
        self.parser = RequestParser(elements=self.info.elements, input_bits=input_bits,
                                    per_word=self.per_word, slots=protocol.FRAME_SLOTS)
        self.encoder = ReplyEncoder(info=self.info, logit_bits=logit_bits, label_bits=label_bits)
        super().__init__()

    @property
    def frame_count(self) -> int:
        """Frames in the ROM."""
        return len(self.labels)

    def elaborate(self, platform):
        m = Module()
        m.submodules.network = network = self.network
        m.submodules.receiver = receiver = self.receiver
        m.submodules.transmitter = transmitter = self.transmitter
        m.submodules.parser = parser = self.parser
        m.submodules.encoder = encoder = self.encoder
        m.d.comb += [receiver.rx.eq(self.rx), self.tx.eq(transmitter.tx)]
        wiring.connect(m, receiver.o, parser.i)
        wiring.connect(m, parser.control, encoder.control)
        # The transmitter's and the reply encoder's handshakes through registers (a skid
        # stage each): the encoder's wide body register, the transmitter's bit timer and the
        # network's result then meet only registers (bytes and results are far apart in time;
        # the stages cost a cycle each).
        m.d.comb += encoder.o.ready.eq(
            skid_output(m, transmitter.i, encoder.o.payload, encoder.o.valid))

        transfers = self.transfers_per_frame
        rom_frames = self.frame_count
        label_shape = self._result_layout.members["label"]

        # Which frames are in the network: a tag per frame, pushed as it starts, popped with its
        # result (results come in input order). ROM frames carry their index, serial frames
        # their sequence number.
        index_bits = max(8, (rom_frames - 1).bit_length())
        tag_layout = data.StructLayout({"rom": 1, "index": index_bits})
        m.submodules.tags = tags = SyncFIFO(width=tag_layout.size, depth=self.frames_in_flight)
        tag_in = Signal(tag_layout)
        tag_out = Signal(tag_layout)
        m.d.comb += [tags.w_data.eq(tag_in), tag_out.eq(tags.r_data)]

        # --- input: one frame at a time from the serial buffer or the ROM, at frame bounds ----
        # The ROM is split into banks of one block RAM's depth (``bank_depth``), each read into
        # a register of its own before the banks' multiplexer: a block RAM's slow
        # clock-to-output delay then meets only a register, not the multiplexer behind it.
        # That register drives only a second one, so it can sit next to its block RAM (rather
        # than by the multiplexer, a long route away).
        # Read and registers move together (``take``, while the skid register is empty).
        bank_depth = self.bank_depth
        banks = [self.words[start:start + bank_depth]
                 for start in range(0, len(self.words), bank_depth)]
        # Each bank's read and its first register are a RegisteredRom's two (the block RAM's
        # own output register where the target has one).
        rom_ports = []
        for index, bank in enumerate(banks):
            rom = RegisteredRom(bank, width=self._word_shape.width, target=self.target,
                                name=f"rom_{index}")
            m.submodules[f"rom_{index}"] = rom
            rom_ports.append(rom.ports[0])
        address = Signal(range(max(len(self.words), protocol.FRAME_SLOTS * transfers)))
        # Each serial slot's first word, a table (no multiplier in front of the address).
        slot_base = Array(Const(slot * transfers, address.shape())
                          for slot in range(protocol.FRAME_SLOTS))
        left = Signal(range(transfers))          # words of the frame after the current one
        playing = Signal()
        from_rom = Signal()
        port_valid = Signal()                    # the read ports' data is a word to send
        port_from_rom = Signal()
        port_bank = Signal(range(len(banks)))
        near_valid = Signal()                    # the read data is registered: a word to send
        near_from_rom = Signal()
        near_bank = Signal(range(len(banks)))
        near_rom = [Signal(self._word_shape, name=f"near_rom_{index}")
                    for index in range(len(banks))]
        near_serial = Signal(self._word_shape)
        held_valid = Signal()                    # ... and registered again: a word to send
        held_from_rom = Signal()
        held_bank = Signal(range(len(banks)))
        held_rom = [Signal(self._word_shape, name=f"held_rom_{index}")
                    for index in range(len(banks))]
        held_serial = Signal(self._word_shape)
        take = Signal()
        issue = Signal()
        offset_bits = (bank_depth - 1).bit_length()
        m.d.comb += [
            issue.eq(playing & take),
            parser.read_en.eq(take), parser.read_addr.eq(address),
        ]
        for port in rom_ports:
            m.d.comb += [port.en.eq(take), port.addr.eq(address[:offset_bits])]
        with m.If(take):
            m.d.sync += [port_valid.eq(issue), port_from_rom.eq(from_rom),
                         port_bank.eq(address >> offset_bits),
                         near_valid.eq(port_valid), near_from_rom.eq(port_from_rom),
                         near_bank.eq(port_bank), near_serial.eq(parser.read_data),
                         held_valid.eq(near_valid), held_from_rom.eq(near_from_rom),
                         held_bank.eq(near_bank), held_serial.eq(near_serial)]
            m.d.sync += [held.eq(near) for held, near in zip(held_rom, near_rom)]
        m.d.comb += [near.eq(port.data) for near, port in zip(near_rom, rom_ports)]
        with m.If(issue):
            m.d.sync += [address.eq(address + 1), left.eq(left - 1)]
            with m.If(left == 0):
                m.d.sync += playing.eq(0)
                # The slot's last word is read: the parser may refill it.
                m.d.comb += parser.frames.ready.eq(~from_rom)
        # The banks' multiplexer a tree of 4-to-1 multiplexers (on ECP5 a LUT4 and a PFUMX
        # each), every level but the last registered, the control and the serial word delayed
        # beside: one multiplexer over every bank (a large ROM has tens of them) spread across
        # the block RAM columns took several levels of logic and long routes before the skid
        # register.
        level_rom, level_bank = held_rom, held_bank
        level_valid, level_from_rom, level_serial = held_valid, held_from_rom, held_serial
        depth = 0
        while len(level_rom) > 4:
            groups = [level_rom[start:start + 4] for start in range(0, len(level_rom), 4)]
            next_rom = [Signal(self._word_shape, name=f"tree{depth}_rom_{index}")
                        for index in range(len(groups))]
            next_bank = Signal(range(len(groups)), name=f"tree{depth}_bank")
            next_valid = Signal(name=f"tree{depth}_valid")
            next_from_rom = Signal(name=f"tree{depth}_from_rom")
            next_serial = Signal(self._word_shape, name=f"tree{depth}_serial")
            with m.If(take):
                m.d.sync += [next_bank.eq(level_bank >> 2), next_valid.eq(level_valid),
                             next_from_rom.eq(level_from_rom), next_serial.eq(level_serial)]
                for register, group in zip(next_rom, groups):
                    with m.Switch(level_bank[:2]):
                        for index, word in enumerate(group):
                            with m.Case(index):
                                m.d.sync += register.eq(word)
            level_rom, level_bank = next_rom, next_bank
            level_valid, level_from_rom, level_serial = next_valid, next_from_rom, next_serial
            depth += 1
        rom_word = Signal(self._word_shape)
        if len(level_rom) == 1:
            m.d.comb += rom_word.eq(level_rom[0])
        else:
            with m.Switch(level_bank):
                for index, word in enumerate(level_rom):
                    with m.Case(index):
                        m.d.comb += rom_word.eq(word)
        # Into the network through two stages of an output and a skid register: the network's
        # i.ready (its window generator's counters, a few levels of logic) reaches only the
        # second, which sits beside it; the first, fed by this pipeline's last level spread
        # across the block RAM columns, sees the second's registered ready (with one stage,
        # that ready's route to the output register set the KWS top's Fmax).
        between = stream.Signature(self._word_shape).create()
        m.d.comb += between.ready.eq(skid_output(m, network.i, between.payload, between.valid))
        m.d.comb += take.eq(skid_output(m, between, Mux(level_from_rom, rom_word, level_serial),
                                        level_valid))

        # The ROM pass: started by a press, one frame every rom_interval cycles at most.
        play_before = Signal()
        rom_active = Signal()                    # from the press to the last ROM result
        rom_next = Signal(range(rom_frames + 1))
        rom_address = Signal(range(len(self.words) + 1))
        pace = Signal(range(self.rom_interval))
        # ``pace == 0`` and ``rom_next != rom_frames`` kept in registers beside the counters
        # (set as they are): the start of a ROM frame then waits on three registers, not on
        # two wide comparators in front of the read address's logic.
        paced = Signal(init=1)
        rom_more = Signal()
        m.d.sync += play_before.eq(self.play)
        with m.If(pace != 0):
            m.d.sync += [pace.eq(pace - 1), paced.eq(pace == 1)]
        pass_ok = Signal()
        shown_pass = Signal()
        shown_fail = Signal()
        with m.If(self.play & ~play_before & ~rom_active):
            m.d.sync += [rom_active.eq(1), rom_next.eq(0), rom_more.eq(1), rom_address.eq(0),
                         pass_ok.eq(1),
                         shown_pass.eq(0), shown_fail.eq(0)]

        rom_ready = Signal()
        m.d.comb += rom_ready.eq(rom_active & rom_more & paced)
        with m.If(~playing & tags.w_rdy):
            with m.If(parser.frames.valid):      # serial frames first
                m.d.comb += [tags.w_en.eq(1), tag_in.rom.eq(0),
                             tag_in.index.eq(parser.frames.payload.seq)]
                m.d.sync += [playing.eq(1), from_rom.eq(0), left.eq(transfers - 1),
                             address.eq(slot_base[parser.frames.payload.slot])]
            with m.Elif(rom_ready):
                m.d.comb += [tags.w_en.eq(1), tag_in.rom.eq(1), tag_in.index.eq(rom_next)]
                m.d.sync += [playing.eq(1), from_rom.eq(1), left.eq(transfers - 1),
                             address.eq(rom_address), rom_address.eq(rom_address + transfers),
                             rom_next.eq(rom_next + 1), rom_more.eq(rom_next + 1 != rom_frames),
                             pace.eq(self.rom_interval - 1), paced.eq(self.rom_interval == 1)]

        # --- output: ROM results to the LEDs, serial results to the encoder -------------------
        m.submodules.labels = expected_labels = Memory(shape=label_shape, depth=rom_frames,
                                                       init=self.labels)
        expected = expected_labels.read_port(domain="comb")
        result = network.o.payload
        reply = Signal.like(encoder.result.payload)
        reply_ready = skid_output(m, encoder.result, reply,
                                  network.o.valid & tags.r_rdy & ~tag_out.rom)
        m.d.comb += [
            reply.seq.eq(tag_out.index),
            reply.label.eq(result.label),
            reply.logits.eq(result.logits),
            network.o.ready.eq(tags.r_rdy & (tag_out.rom | reply_ready)),
            tags.r_en.eq(network.o.valid & network.o.ready),
        ]
        recent_label = Signal(label_shape)
        # A ROM result is checked a cycle after it leaves the network, from registers (its
        # class, its frame's index, whether it is the last): the expected class's table and
        # the compare then start at registers, not at the tag FIFO's read.
        checked = Signal()
        checked_last = Signal()
        checked_index = Signal.like(tag_out.index)
        m.d.comb += expected.addr.eq(checked_index)
        m.d.sync += checked.eq(0)
        with m.If(network.o.valid & network.o.ready):
            m.d.sync += recent_label.eq(result.label)
            with m.If(tag_out.rom):
                m.d.sync += [checked.eq(1), checked_index.eq(tag_out.index),
                             checked_last.eq(tag_out.index == rom_frames - 1)]
        with m.If(checked):
            match = recent_label == expected.data
            with m.If(checked_last):
                m.d.sync += [rom_active.eq(0), shown_pass.eq(pass_ok & match),
                             shown_fail.eq(~(pass_ok & match))]
            with m.Else():
                m.d.sync += pass_ok.eq(pass_ok & match)

        heartbeat_count = Signal(range(self.heartbeat_cycles))
        heartbeat = Signal()
        with m.If(heartbeat_count == self.heartbeat_cycles - 1):
            m.d.sync += [heartbeat_count.eq(0), heartbeat.eq(~heartbeat)]
        with m.Else():
            m.d.sync += heartbeat_count.eq(heartbeat_count + 1)
        shown_class = Signal(4)
        m.d.comb += [shown_class.eq(recent_label),
                     self.leds.eq(Cat(shown_class, heartbeat, rom_active, shown_pass,
                                      shown_fail))]
        return m


class BoardTop(Elaboratable):
    """Board top: the board's clock, :class:`BoardCore`, the UART, LEDs and button.

    Parameters
    ----------
    network, words, transfers_per_frame, labels, input_bits, network_id
        As for :class:`BoardCore`.
    board : Board
        The board; its ``led``, ``button`` and ``uart`` resources are used, and its target's
        clock (:meth:`hwgen.target.Target.sync_clock`) and ROM banks.
    clock_mhz : float, optional
        Design clock (default: ``board.clock_mhz``); the nearest the PLL can make is used.
    uart_baud : int, optional
        Baud rate (default: ``board.uart_baud``), within 2 % of what the achieved clock makes.

    Attributes
    ----------
    clock : Elaboratable
        The clock generator (:meth:`hwgen.target.Target.sync_clock`); ``clock.clock_mhz`` is
        the achieved frequency.
    core : BoardCore
        Everything but clock and pins.
    uart_baud : int
        The baud rate asked for; ``clock_mhz * 1e6 / core.receiver.divisor`` is the achieved one.
    """

    def __init__(self, *, network, words, transfers_per_frame: int, labels, board: Board,
                 input_bits: int, network_id: int = 0, clock_mhz: float | None = None,
                 uart_baud: int | None = None):
        if not isinstance(board, Board):
            raise TypeError(f"board must be a Board, not {board!r}")
        # Check the frames before creating any elaboratable (an unused one warns).
        word_shape, *_ = _check_frames(network, words, transfers_per_frame, labels)
        clock_mhz = board.clock_mhz if clock_mhz is None else clock_mhz
        achieved_mhz = board.target.achieved_mhz(board.oscillator_mhz, clock_mhz)
        uart_baud = board.uart_baud if uart_baud is None else uart_baud
        clock_hz = achieved_mhz * 1e6
        divisor = uart_divisor(clock_hz, uart_baud)
        self.board = board
        self.clock = board.target.sync_clock(oscillator_mhz=board.oscillator_mhz,
                                             clock_mhz=clock_mhz)
        assert self.clock.clock_mhz == achieved_mhz
        self.uart_baud = uart_baud
        self.core = BoardCore(network=network, words=words,
                              transfers_per_frame=transfers_per_frame, labels=labels,
                              input_bits=input_bits, divisor=divisor,
                              bank_depth=board.target.rom_bank_depth(word_shape.width),
                              heartbeat_cycles=max(1, round(clock_hz / HEARTBEAT_HZ)),
                              rom_interval=max(1, round(clock_hz / ROM_FPS)),
                              network_id=network_id, target=board.target)

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
            raise TypeError("BoardTop is a board top; simulate BoardCore instead")
        m = Module()
        m.domains.sync = ClockDomain("sync")
        m.submodules.clock = self.clock
        m.submodules.core = core = self.core
        _connect_leds_and_button(m, platform, self.board, core.leds, core.play)
        uart = platform.request(self.board.uart, 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        # The receiver synchronizes rx itself; tx leaves from the transmitter's register.
        m.d.comb += [core.rx.eq(rx.i), tx.o.eq(core.tx)]
        return m
