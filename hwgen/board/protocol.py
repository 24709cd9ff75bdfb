"""The serial protocol of the UART board top, host side: one definition of its bytes for
``hwgen run``, the models of the board and the tests.

The protocol is documented in :mod:`hwgen.board.top` (messages of ``SYNC``, a body and a
CRC-8, byte-stuffed; ``I`` info and ``F`` frame requests; ``I``, ``R`` result and ``E`` error
answers). The board's half is :mod:`hwgen.board.link`; it takes its constants from here.
"""
import hashlib
import json
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PROTOCOL_VERSION", "SYNC", "ESC", "ESC_XOR", "CRC_POLY", "FRAME_SLOTS",
    "CMD_INFO", "CMD_FRAME", "REPLY_INFO", "REPLY_RESULT", "REPLY_ERROR",
    "ERROR_CHECK", "ERROR_RANGE", "ERROR_BUSY", "ERROR_COMMAND", "ERROR_NAMES",
    "INFO_BODY_BYTES", "crc8", "crc8_step", "stuff", "logit_bytes", "network_id",
    "Info", "Result", "Error", "info_for", "encode_info_query", "encode_frame", "encode_info",
    "encode_result", "encode_error", "MessageReader", "ReplyDecoder", "RequestDecoder",
    "compare_results",
]

PROTOCOL_VERSION = 1

SYNC = 0xA5
ESC = 0xDB
ESC_XOR = 0x20
CRC_POLY = 0x07

#: Frames the board buffers (received, not yet in the network).
FRAME_SLOTS = 2

CMD_INFO = ord("I")
CMD_FRAME = ord("F")
REPLY_INFO = ord("I")
REPLY_RESULT = ord("R")
REPLY_ERROR = ord("E")

ERROR_CHECK = 1
ERROR_RANGE = 2
ERROR_BUSY = 3
ERROR_COMMAND = 4
ERROR_NAMES = {ERROR_CHECK: "CRC mismatch", ERROR_RANGE: "element out of range",
               ERROR_BUSY: "no free frame buffer", ERROR_COMMAND: "unknown command"}

#: Bytes of an info answer's body.
INFO_BODY_BYTES = 13


def crc8_step(crc: int, byte: int) -> int:
    """CRC-8/SMBUS of ``crc``'s message followed by ``byte``."""
    crc ^= byte
    for _ in range(8):
        crc = ((crc << 1) ^ CRC_POLY) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


#: ``crc8_step(0, byte)`` for every byte: ``crc8_step(crc, byte)`` is ``_CRC_TABLE[crc ^ byte]``.
_CRC_TABLE = [crc8_step(0, byte) for byte in range(256)]


def crc8(data) -> int:
    """CRC-8/SMBUS of ``data`` (bytes or ints below 256)."""
    crc = 0
    for byte in data:
        crc = _CRC_TABLE[crc ^ byte]
    return crc


def stuff(body) -> bytes:
    """The message on the line: ``SYNC``, then ``body`` and its CRC, byte-stuffed."""
    body = bytes(body)
    out = bytearray([SYNC])
    for byte in body + bytes([crc8(body)]):
        if byte in (SYNC, ESC):
            out += bytes([ESC, byte ^ ESC_XOR])
        else:
            out.append(byte)
    return bytes(out)


def logit_bytes(logit_bits: int) -> int:
    """Bytes per logit on the line: as few as hold a ``logit_bits``-bit signed integer."""
    if isinstance(logit_bits, bool) or not isinstance(logit_bits, int) or logit_bits < 1:
        raise ValueError(f"logit_bits must be a positive integer, not {logit_bits!r}")
    return (logit_bits + 7) // 8


def network_id(graph) -> int:
    """A 32-bit digest of what ``graph`` computes: input, classes, every layer's structure and
    tensors. Folding, FIFO depths, names and test frames do not enter it, so the model IR and
    the hardware IR of one network share it."""
    hasher = hashlib.sha256()
    hasher.update(json.dumps({"input_shape": list(graph.input_shape),
                              "input_encoding": graph.input_encoding,
                              "input_bits": graph.input_bits, "classes": graph.classes},
                             sort_keys=True).encode())
    for layer in graph.layers:
        meta = {key: value for key, value in layer._meta().items()
                if key not in ("name", "pe", "simd")}
        hasher.update(json.dumps(meta, sort_keys=True, default=str).encode())
        for field in ("weights", "thresholds", "invert"):
            array = getattr(layer, field, None)
            if array is not None:
                array = np.ascontiguousarray(np.asarray(array, dtype=np.int64))
                hasher.update(field.encode() + str(array.shape).encode() + array.tobytes())
    return int.from_bytes(hasher.digest()[:4], "little")


@dataclass(frozen=True)
class Info:
    """What the board says about its network (the answer to an info query)."""
    elements: int
    input_bits: int
    classes: int
    logit_bytes: int
    network_id: int
    version: int = PROTOCOL_VERSION

    def __post_init__(self):
        for name, low, high in (("elements", 1, 2 ** 32 - 1), ("input_bits", 1, 8),
                                ("classes", 1, 255), ("logit_bytes", 1, 255),
                                ("network_id", 0, 2 ** 32 - 1), ("version", 0, 255)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer within {low}..{high}, "
                                 f"not {value!r}")

    def body(self) -> bytes:
        return (bytes([REPLY_INFO, self.version]) + self.elements.to_bytes(4, "little")
                + bytes([self.input_bits, self.classes, self.logit_bytes])
                + self.network_id.to_bytes(4, "little"))

    def describe(self) -> str:
        return (f"{self.elements} elements of {self.input_bits} bits, {self.classes} classes, "
                f"{self.logit_bytes}-byte logits, network id {self.network_id:08x}, "
                f"protocol {self.version}")


@dataclass(frozen=True)
class Result:
    """A frame's answer: ``seq`` as sent, the class and every logit."""
    seq: int
    label: int
    logits: tuple


@dataclass(frozen=True)
class Error:
    """A message that was not run: one of the ``ERROR_*`` codes, ``seq`` of the frame."""
    code: int
    seq: int

    def describe(self) -> str:
        return ERROR_NAMES.get(self.code, f"error code {self.code}")


def info_for(graph, *, logit_bits: int) -> Info:
    """The info answer of a board running ``graph`` with ``logit_bits``-bit logits."""
    return Info(elements=graph.input_elements, input_bits=graph.input_bits,
                classes=graph.classes, logit_bytes=logit_bytes(logit_bits),
                network_id=network_id(graph))


def encode_info_query() -> bytes:
    return stuff([CMD_INFO])


def encode_frame(seq: int, elements, *, input_bits: int) -> bytes:
    """An ``F`` message: ``seq`` (0..255) and the frame's elements (each below
    ``2**input_bits``)."""
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= 255:
        raise ValueError(f"seq must be an integer within 0..255, not {seq!r}")
    values = [int(value) for value in np.asarray(elements).reshape(-1)]
    top = (1 << input_bits) - 1
    for index, value in enumerate(values):
        if not 0 <= value <= top:
            raise ValueError(f"element {index} must be within 0..{top}, not {value}")
    return stuff(bytes([CMD_FRAME, seq, *values]))


def encode_info(info: Info) -> bytes:
    return stuff(info.body())


def encode_result(result: Result, *, logit_bytes: int) -> bytes:
    body = bytearray([REPLY_RESULT, result.seq, result.label])
    for logit in result.logits:
        body += int(logit).to_bytes(logit_bytes, "little", signed=True)
    return stuff(body)


def encode_error(error: Error) -> bytes:
    return stuff([REPLY_ERROR, error.code, error.seq])


class MessageReader:
    """Complete messages from a byte stream.

    Parameters
    ----------
    body_bytes : callable
        ``body_bytes(kind)``: the body length of a message whose first body byte is ``kind``,
        or ``None`` for an unknown kind.

    ``feed`` returns ``(body, status)`` for each message the new bytes complete: status
    ``"ok"``, ``"crc"`` (the CRC does not match) or ``"unknown"`` (``body`` is the unknown
    kind byte; the rest of the message is skipped). ``cut`` counts messages cut short by a
    ``SYNC``, ``ignored`` the bytes seen outside any message.
    """

    def __init__(self, body_bytes):
        self._body_bytes = body_bytes
        self._body = None          # bytes so far of the message being read, None outside one
        self._wanted = None
        self._escape = False
        self.cut = 0
        self.ignored = 0

    def feed(self, data) -> list[tuple[bytes, str]]:
        messages = []
        for byte in bytes(data):
            if byte == SYNC:
                if self._body is not None and (self._body or self._escape):
                    self.cut += 1
                self._body, self._wanted, self._escape = bytearray(), None, False
                continue
            if self._body is None:
                self.ignored += 1
                continue
            if byte == ESC:
                self._escape = True
                continue
            if self._escape:
                byte ^= ESC_XOR
                self._escape = False
            self._body.append(byte)
            if self._wanted is None:
                self._wanted = self._body_bytes(byte)
                if self._wanted is None:
                    messages.append((bytes([byte]), "unknown"))
                    self._body = None
                    continue
            if len(self._body) == self._wanted + 1:
                body, check = bytes(self._body[:-1]), self._body[-1]
                self._body = None
                messages.append((body, "ok" if crc8(body) == check else "crc"))
        return messages


class ReplyDecoder:
    """The board's answers from its byte stream (host side).

    Results can be decoded once ``classes`` and ``logit_bytes`` are known (from the info
    answer, :meth:`expect`); before that only info and error answers are. ``feed`` takes any
    bytes and never raises: ``dropped`` counts answers lost to a bad CRC, an unknown kind or a
    cut, ``malformed`` those whose CRC matches but whose fields cannot be (an info answer with
    0 classes; ``malformed_problem`` says what the first one was), ``ignored`` the bytes seen
    outside any message.
    """

    def __init__(self, *, classes: int | None = None, logit_bytes: int | None = None):
        if (classes is None) != (logit_bytes is None):
            raise ValueError(f"classes and logit_bytes go together, not {classes!r} and "
                             f"{logit_bytes!r}")
        if classes is not None:
            Info(elements=1, input_bits=1, classes=classes, logit_bytes=logit_bytes,
                 network_id=0)          # checks both
        self.classes, self.logit_bytes = classes, logit_bytes
        self._reader = MessageReader(self._body_bytes)
        self._bad = 0
        self.malformed = 0
        self.malformed_problem = None

    def expect(self, info: Info):
        """Decode results of the network ``info`` describes."""
        self.classes, self.logit_bytes = info.classes, info.logit_bytes

    @property
    def dropped(self) -> int:
        return self._bad + self._reader.cut

    @property
    def ignored(self) -> int:
        return self._reader.ignored

    def _body_bytes(self, kind: int) -> int | None:
        if kind == REPLY_INFO:
            return INFO_BODY_BYTES
        if kind == REPLY_ERROR:
            return 3
        if kind == REPLY_RESULT and self.classes is not None:
            return 3 + self.classes * self.logit_bytes
        return None

    def feed(self, data) -> list:
        """:class:`Info`, :class:`Result` and :class:`Error` answers completed by ``data``."""
        answers = []
        for body, status in self._reader.feed(data):
            if status != "ok":
                self._bad += 1
                continue
            try:
                answers.append(self._decode(body))
            except ValueError as error:      # a field out of range (Info checks its own)
                self.malformed += 1
                if self.malformed_problem is None:
                    self.malformed_problem = f"{chr(body[0])} answer: {error}"
        return answers

    def _decode(self, body: bytes):
        kind = body[0]
        if kind == REPLY_INFO:
            return Info(version=body[1], elements=int.from_bytes(body[2:6], "little"),
                        input_bits=body[6], classes=body[7], logit_bytes=body[8],
                        network_id=int.from_bytes(body[9:13], "little"))
        if kind == REPLY_ERROR:
            return Error(code=body[1], seq=body[2])
        width = self.logit_bytes
        logits = tuple(int.from_bytes(body[3 + k * width:3 + (k + 1) * width], "little",
                                      signed=True) for k in range(self.classes))
        return Result(seq=body[1], label=body[2], logits=logits)


class RequestDecoder:
    """The host's messages from its byte stream, judged as the board judges them (for models
    of the board).

    ``feed`` returns ``("info", None)``, ``("frame", (seq, elements))`` for good messages and
    ``("error", Error)`` for complete but bad ones: a CRC mismatch, an element of
    ``2**input_bits`` or more, an unknown command (in this order of precedence; ``seq`` 0
    unless the message is a frame). Any bytes are taken; ``feed`` never raises.
    """

    def __init__(self, *, elements: int, input_bits: int):
        if isinstance(elements, bool) or not isinstance(elements, int) or elements < 1:
            raise ValueError(f"elements must be a positive integer, not {elements!r}")
        if isinstance(input_bits, bool) or not isinstance(input_bits, int) \
                or not 1 <= input_bits <= 8:
            raise ValueError(f"input_bits must be an integer within 1..8, not {input_bits!r}")
        self.elements, self.input_bits = elements, input_bits
        self._reader = MessageReader(self._body_bytes)

    def _body_bytes(self, kind: int) -> int | None:
        return {CMD_INFO: 1, CMD_FRAME: 2 + self.elements}.get(kind)

    def feed(self, data) -> list:
        requests = []
        for body, status in self._reader.feed(data):
            seq = body[1] if body[0] == CMD_FRAME else 0
            if status == "unknown":
                requests.append(("error", Error(ERROR_COMMAND, 0)))
            elif status == "crc":
                requests.append(("error", Error(ERROR_CHECK, seq)))
            elif body[0] == CMD_INFO:
                requests.append(("info", None))
            elif max(body[2:]) >> self.input_bits:
                requests.append(("error", Error(ERROR_RANGE, seq)))
            else:
                requests.append(("frame", (seq, list(body[2:]))))
        return requests


def compare_results(labels, logits, golden_labels, golden_logits) -> list[str]:
    """Every difference between a board's answers and the golden model, one line each:
    ``frame k: class a, golden b`` and ``frame k: logit c is a, golden b``."""
    mismatches = []
    golden_logits = np.asarray(golden_logits)
    for frame, (label, row) in enumerate(zip(labels, logits)):
        if int(label) != int(golden_labels[frame]):
            mismatches.append(f"frame {frame}: class {int(label)}, golden "
                              f"{int(golden_labels[frame])}")
        for index, (value, expected) in enumerate(zip(row, golden_logits[frame])):
            if int(value) != int(expected):
                mismatches.append(f"frame {frame}: logit {index} is {int(value)}, golden "
                                  f"{int(expected)}")
    return mismatches
