"""The board's half of the serial protocol (:mod:`hwgen.board.protocol`): requests in, answers out.

:class:`RequestParser` reads the host's messages from received bytes, packs a frame's elements
into the network's input words in a frame buffer, and queues info and error answers.
:class:`ReplyEncoder` turns results and those answers into stuffed, CRC-checked messages for
the transmitter.
"""
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from . import protocol
from .protocol import Info

__all__ = ["RequestParser", "ReplyEncoder", "crc8_step", "control_layout", "frame_layout",
           "reply_layout"]

#: An answer the parser asks for: info (``info`` set) or an error ``code`` for frame ``seq``.
control_layout = data.StructLayout({"info": 1, "code": 8, "seq": 8})


def frame_layout(slots: int) -> data.StructLayout:
    """A buffered frame: its slot and its sequence number."""
    return data.StructLayout({"slot": range(slots), "seq": 8})


def reply_layout(classes: int, logit_bits: int, label_bits: int) -> data.StructLayout:
    """A result to send: the frame's sequence number, class and logits."""
    return data.StructLayout({"seq": 8, "label": unsigned(label_bits),
                              "logits": data.ArrayLayout(signed(logit_bits), classes)})


def _crc8_taps() -> list[list[int]]:
    """For each bit of the next CRC, the bits of ``Cat(crc, byte)`` it is the XOR of.

    The CRC step is linear over GF(2) in the CRC and the byte (shifts and XORs with the
    polynomial), so it is read off :func:`hwgen.board.protocol.crc8_step` on unit inputs.
    """
    units = [protocol.crc8_step(1 << k, 0) for k in range(8)] + \
        [protocol.crc8_step(0, 1 << k) for k in range(8)]
    return [[k for k, unit in enumerate(units) if unit >> bit & 1] for bit in range(8)]


def crc8_step(crc, byte):
    """:func:`hwgen.board.protocol.crc8_step` as logic: one XOR per CRC bit."""
    bits = Cat(crc, byte)
    return Cat(*[Cat(*[bits[k] for k in taps]).xor() for taps in _crc8_taps()])


class RequestParser(wiring.Component):
    """Host messages from bytes: frames into a buffer of ``slots`` frames, answers queued.

    Every ``SYNC`` starts a new message (dropping one in progress, unanswered); ``ESC``
    un-stuffs the next byte. A frame's elements are packed as
    :meth:`hwgen.hw.network.Network.input_words` packs them: ``per_word`` elements per word,
    element 0 at bit 0, and written to the frame's slot as they arrive; at the CRC byte the
    slot is handed on (``frames``) if the message is good, else an error answer is queued.
    Checks in order: CRC, element range, a free slot (taken when the frame's ``seq`` arrives;
    without one nothing is written and the answer is :data:`~hwgen.board.protocol.ERROR_BUSY`).

    Parameters
    ----------
    elements : int
        Input elements per frame, a multiple of ``per_word``.
    input_bits : int
        Bits per element (1..8).
    per_word : int
        Elements per network input word.
    slots : int
        Frames buffered.
    answers : int
        Info and error answers queued; one asked for while the queue is full is dropped.

    Attributes
    ----------
    i : ``In(stream.Signature(8))``
        Received bytes; always ready.
    frames : ``Out(stream.Signature(frame_layout(slots)))``
        The oldest complete frame; its words are at ``slot * words_per_frame`` onwards of the
        buffer. Taking it frees the slot, so take it once its words are read.
    read_addr, read_en : ``In``
        Read port of the buffer (synchronous: ``read_data`` follows the cycle after
        ``read_en``, and holds while ``read_en`` is low).
    read_data : ``Out(unsigned(per_word * input_bits))``
    control : ``Out(stream.Signature(control_layout))``
        Answers to send.
    """

    def __init__(self, *, elements: int, input_bits: int, per_word: int, slots: int = 2,
                 answers: int = 4):
        for name, value in (("elements", elements), ("per_word", per_word), ("slots", slots),
                            ("answers", answers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if isinstance(input_bits, bool) or not isinstance(input_bits, int) \
                or not 1 <= input_bits <= 8:
            raise ValueError(f"input_bits must be an integer within 1..8, not {input_bits!r}")
        if elements % per_word:
            raise ValueError(f"elements must be a multiple of per_word={per_word}, "
                             f"not {elements!r}")
        self.elements, self.input_bits, self.per_word = elements, input_bits, per_word
        self.slots, self.answers = slots, answers
        self.words_per_frame = elements // per_word
        self.word_width = per_word * input_bits
        super().__init__({
            "i": In(stream.Signature(8)),
            "frames": Out(stream.Signature(frame_layout(slots))),
            "read_addr": In(range(slots * self.words_per_frame)),
            "read_en": In(1),
            "read_data": Out(unsigned(self.word_width)),
            "control": Out(stream.Signature(control_layout)),
        })

    def elaborate(self, platform):
        m = Module()
        bits, words = self.input_bits, self.words_per_frame
        m.submodules.buffer = buffer = Memory(shape=unsigned(self.word_width),
                                              depth=self.slots * words, init=[])
        write = buffer.write_port()
        # The write registered (its address, data and enable): the buffer's block RAM may sit
        # far from the parser. A frame's slot is marked full a byte later, after its check.
        m.d.sync += write.en.eq(0)
        read = buffer.read_port()
        m.d.comb += [read.addr.eq(self.read_addr), read.en.eq(self.read_en),
                     self.read_data.eq(read.data)]

        m.submodules.answers = answers = fifo.SyncFIFO(width=control_layout.size,
                                                       depth=self.answers)
        m.d.comb += [self.control.valid.eq(answers.r_rdy), self.control.payload.eq(answers.r_data),
                     answers.r_en.eq(self.control.ready)]
        answer = Signal(control_layout)
        m.d.comb += answers.w_data.eq(answer)

        # Slots: filled in order by the parser, emptied in order by the consumer.
        full = Signal(self.slots)
        seqs = Array(Signal(8, name=f"seq{slot}") for slot in range(self.slots))
        write_slot = Signal(range(self.slots))
        read_slot = Signal(range(self.slots))
        m.d.comb += [self.frames.valid.eq(full.bit_select(read_slot, 1)),
                     self.frames.payload.slot.eq(read_slot),
                     self.frames.payload.seq.eq(seqs[read_slot])]
        with m.If(self.frames.valid & self.frames.ready):
            m.d.sync += [full.bit_select(read_slot, 1).eq(0),
                         read_slot.eq(Mux(read_slot == self.slots - 1, 0, read_slot + 1))]

        m.d.comb += self.i.ready.eq(1)
        byte = self.i.payload
        escape = Signal()
        # The byte decoded into registers (its value un-stuffed, whether it is a body byte or a
        # SYNC): the state machine below starts from them, a cycle after the byte (bytes come
        # a UART character apart), not from the decoding's compares and multiplexer.
        value = Signal(8)
        got = Signal()          # an un-stuffed byte of a message body
        start = Signal()        # a SYNC: a new message begins, whatever came before
        m.d.sync += [value.eq(Mux(escape, byte ^ protocol.ESC_XOR, byte)),
                     got.eq(self.i.valid & (byte != protocol.SYNC) & (byte != protocol.ESC)),
                     start.eq(self.i.valid & (byte == protocol.SYNC))]
        with m.If(self.i.valid):
            m.d.sync += escape.eq(byte == protocol.ESC)

        crc = Signal(8)
        crc_next = Signal(8)
        m.d.comb += crc_next.eq(crc8_step(crc, value))
        is_frame = Signal()
        seq = Signal(8)
        busy = Signal()
        out_of_range = Signal()
        count = Signal(range(self.elements))
        in_word = Signal(range(self.per_word))
        shift = Signal(self.word_width)
        word = Signal(self.word_width)
        address = Signal(range(self.slots * words))
        m.d.comb += word.eq(Cat(shift[bits:], value[:bits]))

        def queue(**fields):
            m.d.comb += answers.w_en.eq(1)
            m.d.comb += [getattr(answer, name).eq(field) for name, field in fields.items()]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += crc.eq(0)
                    m.next = "COMMAND"
            with m.State("COMMAND"):
                with m.If(start):
                    m.d.sync += crc.eq(0)
                with m.Elif(got):
                    m.d.sync += crc.eq(crc_next)
                    with m.If(value == protocol.CMD_FRAME):
                        m.d.sync += is_frame.eq(1)
                        m.next = "SEQ"
                    with m.Elif(value == protocol.CMD_INFO):
                        m.d.sync += [is_frame.eq(0), seq.eq(0)]
                        m.next = "CHECK"
                    with m.Else():
                        queue(code=protocol.ERROR_COMMAND, seq=0)
                        m.next = "IDLE"
            with m.State("SEQ"):
                with m.If(start):
                    m.d.sync += crc.eq(0)
                    m.next = "COMMAND"
                with m.Elif(got):
                    m.d.sync += [crc.eq(crc_next), seq.eq(value),
                                 busy.eq(full.bit_select(write_slot, 1)), out_of_range.eq(0),
                                 count.eq(0), in_word.eq(0),
                                 address.eq(write_slot * words)]
                    m.next = "ELEMENTS"
            with m.State("ELEMENTS"):
                with m.If(start):
                    m.d.sync += crc.eq(0)
                    m.next = "COMMAND"
                with m.Elif(got):
                    m.d.sync += [crc.eq(crc_next), count.eq(count + 1), shift.eq(word)]
                    if bits < 8:
                        with m.If(value[bits:] != 0):
                            m.d.sync += out_of_range.eq(1)
                    with m.If(in_word == self.per_word - 1):
                        m.d.sync += [in_word.eq(0), address.eq(address + 1)]
                        m.d.sync += [write.addr.eq(address), write.data.eq(word),
                                     write.en.eq(~busy)]
                    with m.Else():
                        m.d.sync += in_word.eq(in_word + 1)
                    with m.If(count == self.elements - 1):
                        m.next = "CHECK"
            with m.State("CHECK"):
                with m.If(start):
                    m.d.sync += crc.eq(0)
                    m.next = "COMMAND"
                with m.Elif(got):
                    with m.If(value != crc):
                        queue(code=protocol.ERROR_CHECK, seq=seq)
                    with m.Elif(~is_frame):
                        queue(info=1, seq=0)
                    with m.Elif(out_of_range):
                        queue(code=protocol.ERROR_RANGE, seq=seq)
                    with m.Elif(busy):
                        queue(code=protocol.ERROR_BUSY, seq=seq)
                    with m.Else():
                        m.d.sync += [full.bit_select(write_slot, 1).eq(1),
                                     seqs[write_slot].eq(seq),
                                     write_slot.eq(Mux(write_slot == self.slots - 1, 0,
                                                       write_slot + 1))]
                    m.next = "IDLE"
        return m


class ReplyEncoder(wiring.Component):
    """Answers to bytes: each a ``SYNC``, its body and CRC, stuffed (:mod:`~hwgen.board.protocol`).

    Parameters
    ----------
    info : Info
        What the info answer says.
    logit_bits : int
        Width of a signed logit; sent sign-extended to ``info.logit_bytes`` bytes.
    label_bits : int
        Width of a class (at most 8).

    Attributes
    ----------
    result : ``In(stream.Signature(reply_layout(info.classes, logit_bits, label_bits)))``
        Results, sent as ``R`` answers. Taken when no answer is being sent and none is waiting
        on ``control`` (answers go first).
    control : ``In(stream.Signature(control_layout))``
        Info and error answers.
    o : ``Out(stream.Signature(8))``
        Bytes for the transmitter.
    """

    def __init__(self, *, info: Info, logit_bits: int, label_bits: int):
        if not isinstance(info, Info):
            raise TypeError(f"info must be an Info, not {info!r}")
        if isinstance(logit_bits, bool) or not isinstance(logit_bits, int) \
                or not 2 <= logit_bits <= 8 * info.logit_bytes:
            raise ValueError(f"logit_bits must be an integer within 2..{8 * info.logit_bytes}, "
                             f"not {logit_bits!r}")
        if isinstance(label_bits, bool) or not isinstance(label_bits, int) \
                or not 1 <= label_bits <= 8:
            raise ValueError(f"label_bits must be an integer within 1..8, not {label_bits!r}")
        self.info, self.logit_bits, self.label_bits = info, logit_bits, label_bits
        self.result_bytes = 3 + info.classes * info.logit_bytes
        super().__init__({
            "result": In(stream.Signature(reply_layout(info.classes, logit_bits, label_bits))),
            "control": In(stream.Signature(control_layout)),
            "o": Out(stream.Signature(8)),
        })

    def elaborate(self, platform):
        m = Module()
        info = self.info
        length = max(self.result_bytes, protocol.INFO_BODY_BYTES, 3)
        body = Signal(8 * length)          # the body still to send, next byte at bit 0
        left = Signal(range(length + 1))   # body bytes still to send; 0: the CRC is next
        crc = Signal(8)
        escaped = Signal()                 # the ESC of the current byte is out

        result = self.result.payload
        width = 8 * info.logit_bytes
        logits = [result.logits[index] for index in range(info.classes)]
        result_body = Cat(Const(protocol.REPLY_RESULT, 8), result.seq,
                          result.label, Const(0, 8 - self.label_bits),
                          *[Cat(logit, logit[-1].replicate(width - self.logit_bits))
                            for logit in logits])
        info_body = Const(int.from_bytes(info.body(), "little"), 8 * protocol.INFO_BODY_BYTES)
        control = self.control.payload
        error_body = Cat(Const(protocol.REPLY_ERROR, 8), control.code, control.seq)

        current = Signal(8)
        special = Signal()
        m.d.comb += [current.eq(Mux(left == 0, crc, body[:8])),
                     special.eq((current == protocol.SYNC) | (current == protocol.ESC))]

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += [self.control.ready.eq(1),
                             self.result.ready.eq(~self.control.valid)]
                with m.If(self.control.valid):
                    with m.If(control.info):
                        m.d.sync += [body.eq(info_body), left.eq(protocol.INFO_BODY_BYTES)]
                    with m.Else():
                        m.d.sync += [body.eq(error_body), left.eq(3)]
                    m.next = "SYNC"
                with m.Elif(self.result.valid):
                    m.d.sync += [body.eq(result_body), left.eq(self.result_bytes)]
                    m.next = "SYNC"
            with m.State("SYNC"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(protocol.SYNC)]
                with m.If(self.o.ready):
                    m.d.sync += [crc.eq(0), escaped.eq(0)]
                    m.next = "BODY"
            with m.State("BODY"):
                m.d.comb += self.o.valid.eq(1)
                with m.If(special & ~escaped):
                    m.d.comb += self.o.payload.eq(protocol.ESC)
                    with m.If(self.o.ready):
                        m.d.sync += escaped.eq(1)
                with m.Else():
                    m.d.comb += self.o.payload.eq(Mux(escaped, current ^ protocol.ESC_XOR,
                                                      current))
                    with m.If(self.o.ready):
                        m.d.sync += escaped.eq(0)
                        with m.If(left == 0):
                            m.next = "IDLE"
                        with m.Else():
                            m.d.sync += [crc.eq(crc8_step(crc, current)), body.eq(body >> 8),
                                         left.eq(left - 1)]
        return m
