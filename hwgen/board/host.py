"""The host end of the UART board top: talk to the board over a serial port, load its bitstream.

:class:`BoardLink` speaks the protocol of :mod:`hwgen.board.protocol` over any object with
pyserial's ``read``/``write``/``in_waiting``; :func:`run_test_set` streams an IR's test frames
and compares every answer with the golden model (``hwgen run``); :func:`program_board` runs
openFPGALoader (``hwgen program``).
"""
import math
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import HwgenError
from . import protocol
from .protocol import Error, Info, Result

__all__ = ["BoardLink", "RunReport", "open_port", "run_test_set", "program_board",
           "find_programmer", "timeout_problem", "baud_problem", "MAX_TIMEOUT", "MIN_BAUD",
           "MAX_BAUD"]


#: The longest wait for one answer that ``hwgen run`` accepts (seconds): more is surely a slip.
MAX_TIMEOUT = 3600.0
#: Baud rates ``hwgen run`` accepts: from the slowest standard rate to the fastest USB UARTs.
MIN_BAUD, MAX_BAUD = 50, 12_000_000


def timeout_problem(timeout) -> str | None:
    """What is wrong with ``timeout`` as seconds to wait for an answer, or None."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        return f"must be a number of seconds, not {timeout!r}"
    if not math.isfinite(timeout):
        return f"must be a finite number of seconds, not {timeout:g}"
    if timeout <= 0:
        return f"must be positive, not {timeout:g}"
    if timeout > MAX_TIMEOUT:
        return f"must be at most {MAX_TIMEOUT:g} seconds, not {timeout:g}"
    return None


def baud_problem(baud) -> str | None:
    """What is wrong with ``baud`` as the serial port's baud rate, or None."""
    if isinstance(baud, bool) or not isinstance(baud, int):
        return f"must be an integer, not {baud!r}"
    if baud <= 0:
        return f"must be positive, not {baud}"
    if not MIN_BAUD <= baud <= MAX_BAUD:
        return f"must be within {MIN_BAUD}..{MAX_BAUD}, not {baud}"
    return None


def _check(name, problem):
    if problem is not None:
        raise ValueError(f"{name} {problem}")


def open_port(port: str, *, baud: int, timeout: float):
    """The serial port ``port`` (a device such as ``/dev/ttyUSB0``, or a pyserial URL).

    Reads return after at most ``min(timeout, 0.05)`` seconds and a write that the port does
    not take within ``timeout`` seconds fails, so no call on it blocks for long.
    """
    import serial
    _check("baud", baud_problem(baud))
    _check("timeout", timeout_problem(timeout))
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=min(timeout, 0.05),
                                     write_timeout=timeout)
    except (OSError, ValueError) as error:      # serial.SerialException is an OSError
        raise HwgenError(f"cannot open serial port {port}: {error}") from None


def _describe_answer(answer) -> str:
    if isinstance(answer, Info):
        return "an info answer"
    if isinstance(answer, Error):
        return f"error '{answer.describe()}' for seq {answer.seq}"
    return f"a result for seq {answer.seq}"


class BoardLink:
    """The protocol over an open serial port.

    Every wait has a deadline set once, when its request is sent, that answers to nothing
    asked (or bytes that are no answer at all) do not move; requests are sent a bounded number
    of times; and :meth:`classify` has an overall limit on top. So a board that talks nonsense
    is given up as surely as a silent one.

    Parameters
    ----------
    port : serial-like
        ``write(bytes)``, ``read(n)`` (returns what arrived, possibly nothing, after the port's
        own short timeout) and ``in_waiting``. Its errors (``OSError``, which pyserial's
        ``SerialException`` is) end the run with a :class:`HwgenError`.
    timeout : float
        Seconds to wait for an answer before a request is sent again (or the board is given
        up): finite, positive, at most :data:`MAX_TIMEOUT`.
    """

    def __init__(self, port, *, timeout: float = 1.0, name: str = "the board"):
        _check("timeout", timeout_problem(timeout))
        self.port = port
        self.timeout = float(timeout)
        self.name = name
        self.decoder = protocol.ReplyDecoder()
        self._pending = []
        self.unasked = 0                # answers to nothing asked or in flight
        self._first_unasked = None

    def _write(self, data: bytes):
        try:
            self.port.write(data)
        except OSError as error:
            raise HwgenError(f"lost {self.name}: {error}") from None

    def _read(self) -> bytes:
        try:
            return self.port.read(max(1, self.port.in_waiting))
        except OSError as error:
            raise HwgenError(f"lost {self.name}: {error}") from None

    def _answer(self, deadline: float):
        """The next answer, or None once ``time.monotonic()`` reaches ``deadline`` (checked
        before each answer is handed out, so a stream of answers cannot hold it off)."""
        while time.monotonic() < deadline:
            if self._pending:
                return self._pending.pop(0)
            data = self._read()
            if data:
                self._pending += self.decoder.feed(data)
        return None

    def _note_unasked(self, answer):
        self.unasked += 1
        if self._first_unasked is None:
            self._first_unasked = _describe_answer(answer)

    def heard(self) -> str:
        """What came from the board that was no answer to a request: ``""`` if nothing."""
        decoder = self.decoder
        parts = []
        if decoder.ignored:
            parts.append(f"{decoder.ignored} bytes outside any message")
        if decoder.dropped:
            parts.append(f"{decoder.dropped} damaged messages (bad CRC, unknown kind or cut "
                         f"short)")
        if decoder.malformed:
            parts.append(f"{decoder.malformed} malformed answers (first: "
                         f"{decoder.malformed_problem})")
        if self.unasked:
            parts.append(f"{self.unasked} answers to nothing asked (first: "
                         f"{self._first_unasked})")
        return "; ".join(parts)

    def _heard_note(self) -> str:
        heard = self.heard()
        return f"; meanwhile it sent {heard}" if heard else ""

    def info(self, *, attempts: int = 3) -> Info:
        """Ask the board what it runs: at most ``attempts`` times, ``timeout`` seconds each."""
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"attempts must be a positive integer, not {attempts!r}")
        for _ in range(attempts):
            self._write(protocol.encode_info_query())
            deadline = time.monotonic() + self.timeout
            while (answer := self._answer(deadline)) is not None:
                if isinstance(answer, Info):
                    self.decoder.expect(answer)
                    return answer
                self._note_unasked(answer)
        raise HwgenError(f"no answer from {self.name} to the info query "
                         f"({attempts} tries, {self.timeout:g} s each{self._heard_note()}): "
                         f"is the bitstream loaded and the baud rate right?")

    def classify(self, frames, *, input_bits: int, window: int = protocol.FRAME_SLOTS,
                 retries: int = 3, progress=None) -> tuple[list[Result], int]:
        """Each frame's result, in order, and how many frames were sent again.

        Up to ``window`` frames are in flight. A frame without an answer within ``timeout``
        of its sending (a byte lost on the way), or answered with a CRC or busy error, is sent
        again, at most ``retries`` times. Answers for frames not in flight are counted and
        otherwise ignored. However the board answers, this returns or raises within
        ``3 * timeout`` per try of each frame: a try's write (the port's write timeout), its
        wait, and a read past it.
        """
        if self.decoder.classes is None:
            raise HwgenError("ask for the board's info before sending frames")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be a non-negative integer, not {retries!r}")
        frames = np.asarray(frames)
        count = len(frames)
        if not 1 <= window <= protocol.FRAME_SLOTS:
            raise ValueError(f"window must be within 1..{protocol.FRAME_SLOTS}, not {window!r}")
        results = [None] * count
        outstanding = {}                  # seq -> [frame index, tries, deadline]
        resent = 0
        sent = done = 0
        limit_s = 3 * self.timeout * (retries + 1) * count
        limit = time.monotonic() + limit_s

        def send(seq):
            entry = outstanding[seq]
            self._write(protocol.encode_frame(seq, frames[entry[0]], input_bits=input_bits))
            entry[2] = time.monotonic() + self.timeout

        def again(seq, why):
            nonlocal resent
            index, tries, _ = outstanding[seq]
            if tries > retries:
                raise HwgenError(f"{self.name} did not answer frame {index} after {tries} "
                                 f"tries ({why}{self._heard_note()})")
            outstanding[seq][1] += 1
            resent += 1
            send(seq)

        while done < count:
            while sent < count and len(outstanding) < window:
                seq = sent % 256
                outstanding[seq] = [sent, 1, None]
                send(seq)
                sent += 1
            now = time.monotonic()
            if now >= limit:
                raise HwgenError(f"{self.name} answered {done} of {count} frames in "
                                 f"{limit_s:g} s, the limit for {count} frames of "
                                 f"{retries + 1} tries of {self.timeout:g} s"
                                 f"{self._heard_note()}")
            expired = sorted((seq for seq, entry in outstanding.items() if entry[2] <= now),
                             key=lambda seq: outstanding[seq][0])
            for seq in expired:
                again(seq, f"no answer within {self.timeout:g} s")
            if expired:
                continue
            answer = self._answer(min(min(entry[2] for entry in outstanding.values()), limit))
            if answer is None:
                continue
            if isinstance(answer, Result) and answer.seq in outstanding:
                index = outstanding.pop(answer.seq)[0]
                results[index] = answer
                done += 1
                if progress is not None:
                    progress(done)
            elif isinstance(answer, Error) and answer.seq in outstanding:
                if answer.code not in (protocol.ERROR_CHECK, protocol.ERROR_BUSY):
                    raise HwgenError(f"{self.name} refused frame "
                                     f"{outstanding[answer.seq][0]}: {answer.describe()}")
                again(answer.seq, answer.describe())
            else:
                self._note_unasked(answer)
        return results, resent


@dataclass(frozen=True)
class RunReport:
    """What ``hwgen run`` measured."""
    frames: int
    accuracy: float             # board classes vs the test labels
    golden_accuracy: float      # golden classes vs the test labels
    golden_agreement: float     # frames whose class and every logit equal the golden model's
    mismatches: list            # one line per differing class or logit
    frames_per_s: float
    seconds: float
    resent: int
    info: Info
    damaged: int = 0            # answers lost to a bad CRC, an unknown kind or a cut
    malformed: int = 0          # answers with a good CRC and impossible fields
    unasked: int = 0            # answers to nothing asked or in flight

    def to_dict(self) -> dict:
        return {"frames": self.frames, "accuracy": self.accuracy,
                "golden_accuracy": self.golden_accuracy,
                "golden_agreement": self.golden_agreement,
                "mismatches": len(self.mismatches), "first_mismatches": self.mismatches[:5],
                "frames_per_s": self.frames_per_s, "seconds": self.seconds,
                "resent": self.resent, "damaged": self.damaged, "malformed": self.malformed,
                "unasked": self.unasked, "network_id": f"{self.info.network_id:08x}"}


def run_test_set(graph, port, *, frames: int | None = None, timeout: float = 1.0,
                 name: str = "the board", say=None, link: "BoardLink | None" = None,
                 info: Info | None = None) -> RunReport:
    """Stream ``graph``'s test frames (all, or the first ``frames``) to the board on ``port``
    (or through ``link``, a :class:`BoardLink` on it that has asked the board's ``info``
    already: it is not asked again).

    Raises
    ------
    HwgenError
        The board does not answer (within the bounds :class:`BoardLink` sets), the port fails,
        or the board runs another network than ``graph`` (its info answer differs).
    """
    from ..golden import run_graph
    say = say or (lambda message: None)
    available = len(graph.test_frames)
    if available == 0:
        raise HwgenError("the IR has no test frames to stream")
    if link is None:
        link, info = BoardLink(port, timeout=timeout, name=name), None
    expected = protocol.info_for(graph, logit_bits=graph.layers[-1].out_bits)
    if info is None:
        info = link.info()
    if info != expected:
        raise HwgenError(f"{name} runs another network: it has {info.describe()}; the IR has "
                         f"{expected.describe()}")
    count = available if frames is None else min(frames, available)
    test_frames = graph.test_frames[:count]
    say(f"streaming {count} frames to {name}")
    started = time.perf_counter()
    results, resent = link.classify(test_frames, input_bits=graph.input_bits)
    seconds = time.perf_counter() - started
    golden = run_graph(graph, test_frames)
    labels = np.array([result.label for result in results])
    logits = np.array([result.logits for result in results])
    mismatches = protocol.compare_results(labels, logits, golden.labels, golden.logits)
    agree = (labels == golden.labels) & np.all(logits == golden.logits, axis=1)
    test_labels = graph.test_labels[:count]
    return RunReport(frames=count, accuracy=float(np.mean(labels == test_labels)),
                     golden_accuracy=float(golden.accuracy(test_labels)),
                     golden_agreement=float(np.mean(agree)), mismatches=mismatches,
                     frames_per_s=count / seconds if seconds > 0 else float("inf"),
                     seconds=seconds, resent=resent, info=info,
                     damaged=link.decoder.dropped, malformed=link.decoder.malformed,
                     unasked=link.unasked)


def find_programmer() -> str:
    """openFPGALoader: ``$OPENFPGALOADER`` if set (as Amaranth reads it), else on ``PATH``."""
    tool = os.environ.get("OPENFPGALOADER", "openFPGALoader")
    found = shutil.which(tool)
    if found is None:
        raise HwgenError(f"{tool} not found: install openFPGALoader (Debian/Ubuntu: apt install "
                         f"openfpgaloader) or set OPENFPGALOADER to its path")
    return found


def program_board(bitstream, board, *, flash: bool = False, say=None) -> None:
    """Load ``bitstream`` onto ``board`` (into its SRAM, or its flash with ``flash``)."""
    say = say or (lambda message: None)
    bitstream = Path(bitstream)
    if not bitstream.is_file():
        raise HwgenError(f"no bitstream at {bitstream}: run hwgen build first")
    command = [find_programmer(), "-b", board.programmer_board,
               *(["-f"] if flash else []), str(bitstream)]
    say(" ".join(command))
    try:
        returncode = subprocess.run(command, stdin=subprocess.DEVNULL).returncode
    except OSError as error:
        raise HwgenError(f"openFPGALoader could not start: {error}") from None
    if returncode != 0:
        raise HwgenError(f"openFPGALoader failed (exit status {returncode}) loading "
                         f"{bitstream} onto {board.programmer_board}")
