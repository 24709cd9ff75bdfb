"""``hwgen run`` against boards that misbehave, on a real serial port (a pseudo-terminal whose
other end a thread plays): noise, error and info answers to nothing asked, a board that hangs
up, a silent one, a malformed info answer; each ends within its deadline with one line and a
non-zero exit. And the protocol's decoders fuzzed: no byte sequence makes them raise."""
import os
import random
import select
import subprocess
import sys
import threading
import time
import tty

import numpy as np
import pytest

import hwgen.golden  # noqa: F401 -- loaded here, so that no timing below includes torch's import
from hwgen.board import protocol
from hwgen.board.protocol import Error, Info, Result
from hwgen.cli import main
from hwgen.golden import run_graph
from hwgen.ir import save_ir
from tests.board.test_host import SPEC, graph
from tests.conftest import REPO

TIMEOUT = 0.2           # --timeout of every run below
FRAMES = 5              # --frames
INFO = protocol.info_for(graph(), logit_bits=graph().layers[-1].out_bits)


class PtyBoard:
    """A board behind a pseudo-terminal: ``path`` is the port ``hwgen run`` opens, ``act(board)``
    plays the board in a thread (:meth:`requests` what the host sent, :meth:`send` bytes back).
    """

    def __init__(self, g, act):
        self.graph = g
        self.info = protocol.info_for(g, logit_bits=g.layers[-1].out_bits)
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)          # raw from the start (pyserial sets it too on opening)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.decoder = protocol.RequestDecoder(elements=g.input_elements,
                                               input_bits=g.input_bits)
        self.stop = threading.Event()
        self.hung_up = False
        self.thread = threading.Thread(target=act, args=(self,), daemon=True)
        self.thread.start()

    def requests(self, wait: float = 0.005) -> list:
        """What the host sent within ``wait`` seconds, decoded as the board decodes it."""
        if self.hung_up or not select.select([self.master], [], [], wait)[0]:
            return []
        try:
            return self.decoder.feed(os.read(self.master, 4096))
        except (BlockingIOError, OSError):
            return []

    def send(self, data: bytes):
        try:
            os.write(self.master, data)
        except BlockingIOError:         # nobody reads the other end: the bytes are lost
            pass

    def hang_up(self):
        self.hung_up = True
        os.close(self.master)

    def close(self):
        self.stop.set()
        self.thread.join(2)
        if not self.hung_up:
            os.close(self.master)
        os.close(self.slave)


def answer_info(board) -> None:
    """Wait for the host's info query and answer it."""
    while not board.stop.is_set():
        if any(kind == "info" for kind, _ in board.requests()):
            board.send(protocol.encode_info(board.info))
            return


def silent(board):
    while not board.stop.is_set():
        board.requests()


def garbage(board):
    """Random bytes, never a SYNC, every 5 ms (a board at another baud rate)."""
    rng = random.Random(1)
    while not board.stop.is_set():
        board.requests()
        board.send(bytes(rng.choice([b for b in range(256) if b != protocol.SYNC])
                         for _ in range(16)))


def spam(message: bytes):
    def act(board):
        answer_info(board)
        while not board.stop.is_set():
            board.requests()
            board.send(message)
    return act


def hang_up_after_info(board):
    answer_info(board)
    board.hang_up()


def malformed_info(board):
    """Info answers with a good CRC and 0 classes."""
    body = bytearray(board.info.body())
    body[7] = 0
    while not board.stop.is_set():
        if any(kind == "info" for kind, _ in board.requests()):
            board.send(protocol.stuff(body))


def good(board):
    """The board as it should be: every frame answered with the golden model's result."""
    logit_bytes = board.info.logit_bytes
    while not board.stop.is_set():
        for kind, value in board.requests():
            if kind == "info":
                board.send(protocol.encode_info(board.info))
            elif kind == "frame":
                seq, elements = value
                golden = run_graph(board.graph, np.array([elements]))
                board.send(protocol.encode_result(
                    Result(seq, int(golden.labels[0]), tuple(int(v) for v in golden.logits[0])),
                    logit_bytes=logit_bytes))


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """An output folder holding the hardware IR that ``hwgen run`` streams."""
    folder = tmp_path_factory.mktemp("out")
    save_ir(graph(), folder / "hardware.ir.npz")
    return folder


def run_against(act, out, capsys, *extra, limit=30.0):
    """``hwgen run`` against a board playing ``act``: exit status, stderr, seconds taken."""
    board = PtyBoard(graph(), act)
    status = []
    argv = ["run", "--port", board.path, str(SPEC), "--out", str(out), "--timeout", str(TIMEOUT),
            "--frames", str(FRAMES), *extra]
    try:
        started = time.monotonic()
        runner = threading.Thread(target=lambda: status.append(main(argv)), daemon=True)
        runner.start()
        runner.join(limit)
        seconds = time.monotonic() - started
        assert not runner.is_alive(), f"hwgen run still running after {limit} s"
    finally:
        board.close()
    captured = capsys.readouterr()
    return status[0], captured, seconds, board


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("hwgen: error: ")
    return line


# Each run takes what its waits allow: the info query's 3 tries, or frame 0's 1 + 3 retries, of
# TIMEOUT each (and a read of at most 0.05 s past each); the bounds on top are generous.
@pytest.mark.parametrize("act, waits, message", [
    (silent, 3, "no answer from the board on {port} to the info query (3 tries, 0.2 s each): "
                "is the bitstream loaded and the baud rate right?"),
    (garbage, 3, "no answer from the board on {port} to the info query (3 tries, 0.2 s each; "
                 "meanwhile it sent * bytes outside any message): is the bitstream loaded and "
                 "the baud rate right?"),
    (malformed_info, 3, "no answer from the board on {port} to the info query (3 tries, 0.2 s "
                        "each; meanwhile it sent 3 malformed answers (first: I answer: classes "
                        "must be an integer within 1..255, not 0)): is the bitstream loaded "
                        "and the baud rate right?"),
    (spam(protocol.encode_error(Error(protocol.ERROR_CHECK, 200))), 4,
     "the board on {port} did not answer frame 0 after 4 tries (no answer within 0.2 s; "
     "meanwhile it sent * answers to nothing asked (first: error 'CRC mismatch' for seq 200))"),
    (spam(protocol.encode_info(INFO)), 4,
     "the board on {port} did not answer frame 0 after 4 tries (no answer within 0.2 s; "
     "meanwhile it sent * answers to nothing asked (first: an info answer))"),
], ids=["silent", "garbage", "malformed-info", "error-spam", "info-spam"])
def test_run_gives_up_on_a_board_that_does_not_answer(out, capsys, act, waits, message):
    status, captured, seconds, board = run_against(act, out, capsys)
    line = one_line_error(captured.err)
    head, _, tail = f"hwgen: error: {message.format(port=board.path)}".partition("*")
    assert line.startswith(head) and line.endswith(tail), line
    assert status == 1
    assert waits * TIMEOUT <= seconds < waits * (TIMEOUT + 0.05) + 5, seconds


def test_run_names_a_board_that_hangs_up(out, capsys):
    status, captured, seconds, board = run_against(hang_up_after_info, out, capsys)
    line = one_line_error(captured.err)
    assert line.startswith(f"hwgen: error: lost the board on {board.path}: "), line
    assert status == 1 and seconds < 3


@pytest.mark.parametrize("timeout", ["nan", "inf", "-inf", "1e400", "0", "-1", "1e9"])
def test_run_refuses_a_timeout_that_would_not_end(out, capsys, timeout):
    status, captured, seconds, _ = run_against(silent, out, capsys, f"--timeout={timeout}")
    line = one_line_error(captured.err)
    assert line.startswith("hwgen: error: --timeout: must be "), line
    assert status == 2 and seconds < 3


@pytest.mark.parametrize("baud", ["0", "-9600", "10", "1000000000"])
def test_run_refuses_a_baud_rate_no_uart_runs(out, capsys, baud):
    status, captured, _, _ = run_against(silent, out, capsys, f"--baud={baud}")
    assert one_line_error(captured.err).startswith("hwgen: error: --baud: must be ")
    assert status == 2


def test_run_against_a_good_board_on_a_serial_port(out, capsys):
    status, captured, seconds, _ = run_against(good, out, capsys)
    assert status == 0, captured.err
    assert '"golden_agreement": 1.0' in captured.out and '"frames": 5' in captured.out
    assert '"unasked": 0' in captured.out and '"malformed": 0' in captured.out


def test_a_port_that_is_not_there(tmp_path, out, capsys):
    missing = tmp_path / "ttyNONE"
    assert main(["run", "--port", str(missing), str(SPEC), "--out", str(out)]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith(f"hwgen: error: cannot open serial port {missing}: ")


def test_python_m_hwgen_run_against_garbage(out):
    """The same in a process of its own: one line on stderr, exit status 1, no traceback."""
    board = PtyBoard(graph(), garbage)
    started = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "hwgen", "run", "--port", board.path, str(SPEC), "--out",
             str(out), "--timeout", str(TIMEOUT)],
            capture_output=True, text=True, timeout=120, cwd=REPO)
    finally:
        board.close()
    assert time.monotonic() - started < 60      # Python, torch and 3 tries of 0.2 s
    assert result.returncode == 1
    line = one_line_error(result.stderr)
    assert "bytes outside any message" in line
    assert [text for text in result.stderr.splitlines() if text.startswith("hwgen:")] == [line]


# --- the decoders, fuzzed ----------------------------------------------------------------------

CASES = 12_000


def reply_soup(rng, info):
    """Bytes a board might send: good answers, CRC-good answers with random fields, answers of
    unknown kinds, noise, cut and damaged messages."""
    pieces = []
    for _ in range(rng.randrange(1, 5)):
        choice = rng.random()
        if choice < 0.3:        # an info answer with random fields, CRC good
            body = bytes([protocol.REPLY_INFO, rng.choice([protocol.PROTOCOL_VERSION,
                                                           rng.randrange(256)])]) \
                + bytes(rng.randrange(256) for _ in range(protocol.INFO_BODY_BYTES - 2))
            if rng.random() < 0.5:      # mostly in range, one field perhaps not
                fields = dict(elements=rng.randrange(1, 500), input_bits=rng.randrange(1, 9),
                              classes=rng.randrange(1, 12), logit_bytes=rng.randrange(1, 3),
                              network_id=rng.randrange(2 ** 32))
                body = bytearray(Info(**fields).body())
                body[rng.randrange(1, len(body))] = rng.choice([0, 9, 255, rng.randrange(256)])
            pieces.append(protocol.stuff(body))
        elif choice < 0.45:
            pieces.append(protocol.encode_error(Error(rng.randrange(256), rng.randrange(256))))
        elif choice < 0.65 and info is not None:
            logits = tuple(rng.randrange(-128, 128) for _ in range(info.classes))
            pieces.append(protocol.encode_result(Result(rng.randrange(256), rng.randrange(256),
                                                        logits), logit_bytes=info.logit_bytes))
        elif choice < 0.75:     # an unknown kind, or a result before any info answer
            pieces.append(protocol.stuff(bytes(rng.randrange(256)
                                               for _ in range(rng.randrange(1, 8)))))
        else:
            pieces.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12))))
        if rng.random() < 0.15:         # cut short or damaged
            piece = bytearray(pieces[-1])
            if rng.random() < 0.5:
                del piece[rng.randrange(len(piece)):]
            else:
                piece[rng.randrange(len(piece))] = rng.randrange(256)
            pieces[-1] = bytes(piece)
    return b"".join(pieces)


def test_reply_decoder_takes_any_bytes():
    rng = random.Random(21)
    seen = {Info: 0, Result: 0, Error: 0, "malformed": 0, "dropped": 0}
    started = time.monotonic()
    for case in range(CASES):
        info = None
        if rng.random() < 0.5:
            info = Info(elements=16, input_bits=3, classes=rng.randrange(1, 6),
                        logit_bytes=rng.randrange(1, 3), network_id=case)
        decoder = protocol.ReplyDecoder()
        if info is not None:
            decoder.expect(info)
        data = reply_soup(rng, info)
        answers = []
        while data:             # in random pieces, as reads return them
            cut = rng.randrange(1, len(data) + 1)
            answers += decoder.feed(data[:cut])
            data = data[cut:]
        for answer in answers:
            assert type(answer) in (Info, Result, Error)
            seen[type(answer)] += 1
        if decoder.malformed:
            assert decoder.malformed_problem.startswith("I answer: ")
        seen["malformed"] += decoder.malformed
        seen["dropped"] += decoder.dropped
    assert min(seen.values()) > 500, seen          # every outcome is reached, often
    assert time.monotonic() - started < 30


def test_reply_decoder_counts_every_crc_good_answer():
    """Whole answers, back to back: each is decoded or counted malformed, none lost."""
    rng = random.Random(22)
    for _ in range(2000):
        bodies = []
        for _ in range(rng.randrange(1, 4)):
            if rng.random() < 0.7:
                bodies.append(bytes([protocol.REPLY_INFO])
                              + bytes(rng.randrange(256)
                                      for _ in range(protocol.INFO_BODY_BYTES - 1)))
            else:
                bodies.append(bytes([protocol.REPLY_ERROR, rng.randrange(256),
                                     rng.randrange(256)]))
        decoder = protocol.ReplyDecoder()
        answers = decoder.feed(b"".join(protocol.stuff(body) for body in bodies))
        assert decoder.dropped == 0
        # In order, each body is an answer's (encoded again) or a malformed info answer's.
        left, malformed = list(answers), 0
        for body in bodies:
            if left and protocol.stuff(body) == (protocol.encode_info(left[0])
                                                 if isinstance(left[0], Info)
                                                 else protocol.encode_error(left[0])):
                left.pop(0)
            else:
                assert body[0] == protocol.REPLY_INFO
                malformed += 1
        assert left == [] and malformed == decoder.malformed


def test_request_decoder_takes_any_bytes():
    """The board's model (:class:`~hwgen.board.protocol.RequestDecoder`): frames of random
    elements (in range or not), info queries, unknown commands, noise, cut messages."""
    rng = random.Random(23)
    seen = {"info": 0, "frame": 0, "error": 0}
    for _ in range(CASES):
        elements, bits = rng.randrange(1, 12), rng.randrange(1, 9)
        decoder = protocol.RequestDecoder(elements=elements, input_bits=bits)
        pieces = []
        for _ in range(rng.randrange(1, 4)):
            choice = rng.random()
            if choice < 0.5:
                top = rng.choice([(1 << bits) - 1, 255])
                pieces.append(protocol.stuff(bytes([protocol.CMD_FRAME, rng.randrange(256)])
                                             + bytes(rng.randrange(top + 1)
                                                     for _ in range(elements))))
            elif choice < 0.6:
                pieces.append(protocol.encode_info_query())
            elif choice < 0.75:
                pieces.append(protocol.stuff(bytes(rng.randrange(256)
                                                   for _ in range(rng.randrange(1, 6)))))
            else:
                pieces.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 10))))
            if rng.random() < 0.15:
                pieces[-1] = pieces[-1][:rng.randrange(len(pieces[-1]))]
        for kind, value in decoder.feed(b"".join(pieces)):
            seen[kind] += 1
            if kind == "info":
                assert value is None
            elif kind == "frame":
                seq, values = value
                assert 0 <= seq < 256 and len(values) == elements
                assert all(0 <= v < 1 << bits for v in values)
            else:
                assert kind == "error" and value.code in protocol.ERROR_NAMES
    assert min(seen.values()) > 500, seen


@pytest.mark.parametrize("changes, message", [
    (dict(elements=0), "elements must be a positive integer, not 0"),
    (dict(input_bits=9), r"input_bits must be an integer within 1..8, not 9"),
])
def test_request_decoder_rejects(changes, message):
    with pytest.raises(ValueError, match=message):
        protocol.RequestDecoder(**{**dict(elements=4, input_bits=2), **changes})


def test_reply_decoder_rejects_half_a_network():
    with pytest.raises(ValueError, match="classes and logit_bytes go together, not 3 and None"):
        protocol.ReplyDecoder(classes=3)


def test_run_refuses_a_damaged_hardware_ir(tmp_path, capsys):
    """The IR the bitstream was built from is checked before a byte goes to the board."""
    folder = tmp_path / "out"
    folder.mkdir()
    save_ir(graph(), folder / "hardware.ir.npz")
    data = (folder / "hardware.ir.npz").read_bytes()
    (folder / "hardware.ir.npz").write_bytes(data[:len(data) // 2])      # cut short
    status, captured, _, board = run_against(good, folder, capsys)
    line = one_line_error(captured.err)
    assert line.startswith(f"hwgen: error: {folder / 'hardware.ir.npz'}")
    assert line.endswith(": run hwgen build again") and status == 1
