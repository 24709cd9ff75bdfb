"""The host end of the UART board top: talk to the board over a serial port, load its bitstream.

:class:`BoardLink` speaks the protocol of :mod:`hwgen.fpga.protocol` over any object with
pyserial's ``read``/``write``/``in_waiting``; :func:`run_test_set` streams an IR's test frames
and compares every answer with the golden model (``hwgen run``); :func:`program_board` runs
openFPGALoader (``hwgen program``).
"""
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
           "find_programmer"]


def open_port(port: str, *, baud: int, timeout: float):
    """The serial port ``port`` (a device such as ``/dev/ttyUSB0``, or a pyserial URL)."""
    import serial
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=min(timeout, 0.05))
    except (serial.SerialException, ValueError) as error:
        raise HwgenError(f"cannot open serial port {port}: {error}") from None


class BoardLink:
    """The protocol over an open serial port.

    Parameters
    ----------
    port : serial-like
        ``write(bytes)``, ``read(n)`` (returns what arrived, possibly nothing, after the port's
        own short timeout) and ``in_waiting``.
    timeout : float
        Seconds to wait for an answer before a frame is sent again (or the board is given up).
    """

    def __init__(self, port, *, timeout: float = 1.0, name: str = "the board"):
        self.port = port
        self.timeout = timeout
        self.name = name
        self.decoder = protocol.ReplyDecoder()
        self._pending = []

    def _answer(self):
        """The next answer, or None after ``timeout`` seconds without one."""
        deadline = time.monotonic() + self.timeout
        while not self._pending:
            data = self.port.read(max(1, self.port.in_waiting))
            if data:
                self._pending += self.decoder.feed(data)
            elif time.monotonic() > deadline:
                return None
        return self._pending.pop(0)

    def info(self, *, attempts: int = 3) -> Info:
        """Ask the board what it runs."""
        for _ in range(attempts):
            self.port.write(protocol.encode_info_query())
            while (answer := self._answer()) is not None:
                if isinstance(answer, Info):
                    self.decoder.expect(answer)
                    return answer
        raise HwgenError(f"no answer from {self.name} to the info query "
                         f"({attempts} tries, {self.timeout:g} s each): is the bitstream loaded "
                         f"and the baud rate right?")

    def classify(self, frames, *, input_bits: int, window: int = protocol.FRAME_SLOTS,
                 retries: int = 3, progress=None) -> tuple[list[Result], int]:
        """Each frame's result, in order, and how many frames were sent again.

        Up to ``window`` frames are in flight. A frame without an answer within ``timeout``
        (a byte lost on the way), or answered with a CRC or busy error, is sent again, at most
        ``retries`` times.
        """
        if self.decoder.classes is None:
            raise HwgenError("ask for the board's info before sending frames")
        frames = np.asarray(frames)
        count = len(frames)
        if not 1 <= window <= protocol.FRAME_SLOTS:
            raise ValueError(f"window must be within 1..{protocol.FRAME_SLOTS}, not {window!r}")
        results = [None] * count
        outstanding = {}                  # seq -> [frame index, tries]
        resent = 0
        sent = done = 0

        def send(index, seq):
            self.port.write(protocol.encode_frame(seq, frames[index], input_bits=input_bits))

        def again(seq, why):
            nonlocal resent
            index, tries = outstanding[seq]
            if tries > retries:
                raise HwgenError(f"{self.name} did not answer frame {index} after {tries} "
                                 f"tries ({why})")
            outstanding[seq][1] += 1
            resent += 1
            send(index, seq)

        while done < count:
            while sent < count and len(outstanding) < window:
                seq = sent % 256
                outstanding[seq] = [sent, 1]
                send(sent, seq)
                sent += 1
            answer = self._answer()
            if answer is None:
                for seq in sorted(outstanding, key=lambda s: outstanding[s][0]):
                    again(seq, f"no answer within {self.timeout:g} s")
            elif isinstance(answer, Result) and answer.seq in outstanding:
                index, _ = outstanding.pop(answer.seq)
                results[index] = answer
                done += 1
                if progress is not None:
                    progress(done)
            elif isinstance(answer, Error) and answer.seq in outstanding:
                if answer.code not in (protocol.ERROR_CHECK, protocol.ERROR_BUSY):
                    raise HwgenError(f"{self.name} refused frame "
                                     f"{outstanding[answer.seq][0]}: {answer.describe()}")
                again(answer.seq, answer.describe())
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

    def to_dict(self) -> dict:
        return {"frames": self.frames, "accuracy": self.accuracy,
                "golden_accuracy": self.golden_accuracy,
                "golden_agreement": self.golden_agreement,
                "mismatches": len(self.mismatches), "first_mismatches": self.mismatches[:5],
                "frames_per_s": self.frames_per_s, "seconds": self.seconds,
                "resent": self.resent, "network_id": f"{self.info.network_id:08x}"}


def run_test_set(graph, port, *, frames: int | None = None, timeout: float = 1.0,
                 name: str = "the board", say=None) -> RunReport:
    """Stream ``graph``'s test frames (all, or the first ``frames``) to the board on ``port``.

    Raises
    ------
    HwgenError
        The board does not answer, or runs another network than ``graph`` (its info answer
        differs).
    """
    from ..golden import run_graph
    say = say or (lambda message: None)
    link = BoardLink(port, timeout=timeout, name=name)
    expected = protocol.info_for(graph, logit_bits=graph.layers[-1].out_bits)
    info = link.info()
    if info != expected:
        raise HwgenError(f"{name} runs another network: it has {info.describe()}; the IR has "
                         f"{expected.describe()}")
    count = len(graph.test_frames) if frames is None else min(frames, len(graph.test_frames))
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
                     seconds=seconds, resent=resent, info=info)


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
