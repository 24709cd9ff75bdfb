"""``hwgen run`` and ``hwgen program`` without a board: a fake serial port that answers as the
board does (through the protocol module, with the golden model's results), bytes lost on the
way, the wrong bitstream, a board that differs from golden, a missing openFPGALoader."""
import json
import time

import numpy as np
import pytest

from hwgen.board import host, protocol
from hwgen.cli import main
from hwgen.errors import HwgenError
from hwgen.golden import run_graph
from hwgen.ir import Graph, save_ir
from tests.conftest import REPO, random_layer

SPEC = REPO / "examples" / "digits_mlp.yaml"


class FakeBoard:
    """A serial port with a board behind it: requests decoded by the protocol module, frames
    answered with the golden model's class and logits.

    ``lose``: indices of host messages that lose one byte on the way (so get no answer);
    ``corrupt``: frame indices (in arrival order) whose first logit comes back one higher;
    ``network_id``: what the info answer says instead of the graph's id.
    """

    def __init__(self, graph, *, lose=(), corrupt=(), network_id=None):
        self.graph = graph
        self.info = protocol.info_for(graph, logit_bits=graph.layers[-1].out_bits)
        if network_id is not None:
            self.info = protocol.Info(**{**self.info.__dict__, "network_id": network_id})
        self.requests = protocol.RequestDecoder(elements=graph.input_elements,
                                                input_bits=graph.input_bits)
        self.lose, self.corrupt = set(lose), set(corrupt)
        self.messages = 0
        self.frames = 0
        self.out = bytearray()
        self.closed = False

    def write(self, data):
        if self.messages in self.lose:
            data = data[:len(data) // 2] + data[len(data) // 2 + 1:]
        self.messages += 1
        for kind, value in self.requests.feed(data):
            if kind == "info":
                self.out += protocol.encode_info(self.info)
            elif kind == "error":
                self.out += protocol.encode_error(value)
            else:
                seq, elements = value
                golden = run_graph(self.graph, np.array([elements]))
                logits = [int(v) for v in golden.logits[0]]
                if self.frames in self.corrupt:
                    logits[0] += 1
                self.frames += 1
                self.out += protocol.encode_result(
                    protocol.Result(seq, int(golden.labels[0]), tuple(logits)),
                    logit_bytes=self.info.logit_bytes)
        return len(data)

    @property
    def in_waiting(self):
        return len(self.out)

    def read(self, size=1):
        if not self.out:
            time.sleep(0.001)
        data, self.out = bytes(self.out[:size]), self.out[size:]
        return data

    def close(self):
        self.closed = True


def graph(frames=12) -> Graph:
    rng = np.random.default_rng(3)
    layers = (random_layer(rng, mw=16, mh=8, pe=2, simd=4, name="fc0", in_encoding="uint",
                           in_bits=3),
              random_layer(rng, mw=8, mh=3, pe=1, simd=8, name="fc1", logits=True))
    return Graph("host", (16, 1, 1), 3, layers, rng.integers(0, 8, (frames, 16)),
                 rng.integers(0, 3, frames), input_encoding="uint", input_bits=3)


def test_link_streams_frames_and_resends_lost_ones():
    g = graph()
    port = FakeBoard(g, lose={3, 6})             # two frame messages lose a byte
    link = host.BoardLink(port, timeout=0.05)
    assert link.info() == port.info
    results, resent = link.classify(g.test_frames, input_bits=g.input_bits)
    golden = run_graph(g)
    assert [r.label for r in results] == golden.labels.tolist()
    assert [list(r.logits) for r in results] == golden.logits.tolist()
    assert resent >= 2


def test_link_gives_up_on_a_silent_board():
    g = graph()
    port = FakeBoard(g)
    link = host.BoardLink(port, timeout=0.02)
    link.info()
    port.lose = set(range(100))                 # nothing gets through any more
    with pytest.raises(HwgenError, match=r"did not answer frame 0 after 3 tries \(no answer"):
        link.classify(g.test_frames[:2], input_bits=g.input_bits, retries=2)


class ChatteringBoard(FakeBoard):
    """A FakeBoard that, once it has answered the info query, only ever sends ``chatter`` (on
    every read) and never answers anything."""

    def __init__(self, graph, chatter):
        super().__init__(graph)
        self.chatter = chatter

    def write(self, data):
        if self.messages == 0:
            return super().write(data)
        self.messages += 1
        return len(data)

    def read(self, size=1):
        if self.messages > 1:
            self.out += self.chatter
        return super().read(size)


@pytest.mark.parametrize("chatter, heard", [
    (bytes(range(0x10, 0x30)), r"\d+ bytes outside any message"),
    (protocol.encode_error(protocol.Error(protocol.ERROR_CHECK, 200)),
     r"\d+ answers to nothing asked \(first: error 'CRC mismatch' for seq 200\)"),
    (protocol.stuff(b"R\x01"), r"\d+ damaged messages"),
])
def test_link_chatter_does_not_put_off_its_deadlines(chatter, heard):
    g = graph()
    port = ChatteringBoard(g, chatter)
    link = host.BoardLink(port, timeout=0.05)
    link.info()
    started = time.monotonic()
    with pytest.raises(HwgenError, match=r"did not answer frame 0 after 3 tries \(no answer "
                                         r"within 0.05 s; meanwhile it sent .*" + heard):
        link.classify(g.test_frames[:4], input_bits=g.input_bits, retries=2)
    assert 0.15 <= time.monotonic() - started < 1


def test_link_gives_up_within_its_overall_limit():
    """A link so slow that every frame's write takes longer than the wait for its answer: the
    run's limit (3 x timeout per try of each frame) ends it before the tries run out."""
    g = graph()

    class Stalling(FakeBoard):
        def write(self, data):
            if self.messages:
                time.sleep(0.07)
            return super().write(data)

    port = Stalling(g)
    link = host.BoardLink(port, timeout=0.02)
    link.info()
    port.lose = set(range(100))
    started = time.monotonic()
    with pytest.raises(HwgenError, match=r"^the board answered 0 of 1 frames in 0.24 s, the "
                                         r"limit for 1 frames of 4 tries of 0.02 s$"):
        link.classify(g.test_frames[:1], input_bits=g.input_bits)
    assert time.monotonic() - started < 0.24 + 0.1


def test_link_reports_a_malformed_info_answer():
    g = graph()
    port = FakeBoard(g)
    body = bytearray(port.info.body())
    body[6] = 9                                 # 9 bits per element
    port.write = lambda data: port.out.extend(protocol.stuff(body))
    with pytest.raises(HwgenError, match=r"to the info query \(2 tries, 0.02 s each; meanwhile "
                                         r"it sent 2 malformed answers \(first: I answer: "
                                         r"input_bits must be an integer within 1..8, not 9\)\)"):
        host.BoardLink(port, timeout=0.02).info(attempts=2)


def test_link_names_a_port_that_fails():
    class Unplugged(FakeBoard):
        def read(self, size=1):
            raise OSError(5, "Input/output error")

    with pytest.raises(HwgenError, match=r"^lost the board: \[Errno 5\] Input/output error$"):
        host.BoardLink(Unplugged(graph()), timeout=0.02).info()


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), 1e5, "1", True])
def test_link_rejects_a_timeout(timeout):
    with pytest.raises(ValueError, match=r"^timeout must be "):
        host.BoardLink(FakeBoard(graph()), timeout=timeout)


def test_info_timeout():
    g = graph()
    port = FakeBoard(g, lose=range(10))
    with pytest.raises(HwgenError, match=r"no answer from the board to the info query"):
        host.BoardLink(port, timeout=0.02).info()


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """An output folder holding a hardware IR, and ports that open onto a FakeBoard."""
    g = graph()
    out = tmp_path / "out"
    out.mkdir()
    save_ir(g, out / "hardware.ir.npz")
    boards = []

    def open_port(port, *, baud, timeout):
        assert port == "/dev/fake" and baud in (115200, 3_000_000) and timeout == 0.05
        board = FakeBoard(g, **options)
        boards.append(board)
        return board

    options = {}
    monkeypatch.setattr(host, "open_port", open_port)
    return g, out, options, boards


def run_args(out, *extra):
    return ["run", "--port", "/dev/fake", str(SPEC), "--out", str(out), "--timeout", "0.05",
            *extra]


def test_run_reports_accuracy_and_throughput(workspace, capsys):
    g, out, options, boards = workspace
    options["lose"] = {4}
    assert main(run_args(out, "--frames", "10")) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    golden = run_graph(g, g.test_frames[:10])
    assert report["frames"] == 10 and report["baud"] == 115200
    assert report["accuracy"] == pytest.approx(np.mean(golden.labels == g.test_labels[:10]))
    assert report["accuracy"] == report["golden_accuracy"]
    assert report["golden_agreement"] == 1.0 and report["mismatches"] == 0
    assert report["frames_per_s"] > 0 and report["resent"] >= 1
    assert report["damaged"] == report["malformed"] == report["unasked"] == 0
    assert report["network_id"] == f"{protocol.network_id(g):08x}"
    assert "frames/s" in captured.err and "using the hardware IR" in captured.err
    assert boards[0].closed


def test_run_baud_option(workspace, capsys):
    _, out, _, _ = workspace
    assert main(run_args(out, "--baud", "3000000", "--frames", "1")) == 0
    assert json.loads(capsys.readouterr().out)["baud"] == 3_000_000


def test_run_fails_when_the_board_differs_from_golden(workspace, capsys):
    g, out, options, _ = workspace
    options["corrupt"] = {2}
    assert main(run_args(out)) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    golden = run_graph(g)
    assert report["mismatches"] == 1
    assert report["golden_agreement"] == pytest.approx(1 - 1 / len(g.test_frames))
    error = captured.err.strip().splitlines()[-1]
    assert error == (f"hwgen: error: the board differs from golden in 1 places (91.67% of "
                     f"frames agree); first: frame 2: logit 0 is {golden.logits[2][0] + 1}, "
                     f"golden {golden.logits[2][0]}")


def test_run_refuses_another_network(workspace, capsys):
    g, out, options, _ = workspace
    options["network_id"] = 0x12345678
    assert main(run_args(out)) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("hwgen: error: the board on /dev/fake runs another network: it has "
                            "16 elements of 3 bits, 3 classes, 1-byte logits, network id "
                            "12345678")
    assert error.endswith(f"network id {protocol.network_id(g):08x}, protocol 1")


@pytest.mark.parametrize("extra, message", [
    (["--frames", "0"], "--frames: must be at least 1, not 0"),
    (["--baud", "-5"], "--baud: must be positive, not -5"),
    (["--timeout", "0"], "--timeout: must be positive, not 0"),
    (["--timeout", "nan"], "--timeout: must be a finite number of seconds, not nan"),
    (["--timeout", "inf"], "--timeout: must be a finite number of seconds, not inf"),
    (["--timeout", "7200"], "--timeout: must be at most 3600 seconds, not 7200"),
    (["--baud", "20000000"], "--baud: must be within 50..12000000, not 20000000"),
])
def test_run_rejects_bad_options(workspace, capsys, extra, message):
    _, out, _, _ = workspace
    assert main(run_args(out, *extra)) == 2
    assert capsys.readouterr().err.strip() == f"hwgen: error: {message}"


def test_run_names_a_port_that_does_not_open(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    save_ir(graph(), out / "hardware.ir.npz")
    assert main(["run", "--port", str(tmp_path / "ttyNONE"), str(SPEC), "--out", str(out)]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"hwgen: error: cannot open serial port {tmp_path / 'ttyNONE'}: ")


def test_run_asks_the_board_before_training(tmp_path, capsys, monkeypatch):
    """A fresh output folder (no checkpoint, no IR) and a board that never answers: hwgen run
    stops on the silent board at once, without training first."""
    out = tmp_path / "out"
    board = FakeBoard(graph(), lose=set(range(100)))
    monkeypatch.setattr(host, "open_port", lambda port, *, baud, timeout: board)
    started = time.monotonic()
    assert main(run_args(out)) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("hwgen: error: no answer from the board on /dev/fake to the info "
                            "query")
    assert not (out / "checkpoint.pt").exists() and not (out / "model.ir.npz").exists()
    assert time.monotonic() - started < 10 and board.closed


def test_network_id_ignores_folding_and_fifos():
    g = graph()
    refolded = g.with_layers({"fc0": {"pe": 4, "simd": 2}}).with_fifo_depths([5])
    assert protocol.network_id(refolded) == protocol.network_id(g)
    thresholds = g.layers[0].thresholds.copy()
    thresholds[1] += 1
    changed = g.with_layers({"fc0": {"thresholds": thresholds}})
    assert protocol.network_id(changed) != protocol.network_id(g)


# --- hwgen program ---------------------------------------------------------------------------

def program_args(out, *extra):
    return ["program", str(SPEC), "--out", str(out), *extra]


def test_program_needs_a_bitstream(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(program_args(out)) == 1
    assert capsys.readouterr().err.strip() == (
        f"hwgen: error: no bitstream at {out / 'gateware' / 'top.bit'}: run hwgen build first")


def _built(out, bits: bytes = b"bits"):
    """A gateware folder as hwgen build leaves it: top.bit and build.json with its digest."""
    import hashlib
    from hwgen.flow.cache import summary_json as _summary_json
    gateware = out / "gateware"
    gateware.mkdir(parents=True)
    (gateware / "top.bit").write_bytes(bits)
    (gateware / "build.json").write_bytes(
        _summary_json({"bitstream_sha256": hashlib.sha256(bits).hexdigest()}))
    return gateware / "top.bit"


def _fake_programmer(tmp_path, monkeypatch):
    """An openFPGALoader that writes its arguments to the file it returns."""
    log = tmp_path / "args.txt"
    fake = tmp_path / "openFPGALoader"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {log}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("OPENFPGALOADER", str(fake))
    return fake, log


@pytest.mark.parametrize("damage", ["flipped", "no summary", "edited summary"])
def test_program_refuses_a_damaged_bitstream(tmp_path, capsys, monkeypatch, damage):
    out = tmp_path / "out"
    bitstream = _built(out)
    _, log = _fake_programmer(tmp_path, monkeypatch)
    summary = bitstream.parent / "build.json"
    if damage == "flipped":
        bitstream.write_bytes(b"bitz")
    elif damage == "no summary":
        summary.unlink()
    else:
        summary.write_text(summary.read_text().replace('"bitstream_sha256": "', '"bitstream_sha256": "0'))
    assert main(program_args(out)) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.endswith("run hwgen build again"), err
    assert not log.exists()                  # openFPGALoader never ran


def test_program_needs_openfpgaloader(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    _built(out)
    monkeypatch.setenv("OPENFPGALOADER", "no-such-openFPGALoader")
    assert main(program_args(out)) == 1
    assert capsys.readouterr().err.strip() == (
        "hwgen: error: no-such-openFPGALoader not found: install openFPGALoader (Debian/Ubuntu: "
        "apt install openfpgaloader) or set OPENFPGALOADER to its path")


def test_program_loads_the_boards_bitstream(tmp_path, capsys, monkeypatch):
    """On the iCEBreaker (iCE40) the bitstream is top.bin, named in build.json; a top.bit left
    by an ECP5 build is not it."""
    import hashlib
    from hwgen.flow.cache import summary_json
    out = tmp_path / "out"
    _built(out)                                            # an ECP5 build's top.bit
    _, log = _fake_programmer(tmp_path, monkeypatch)
    args = program_args(out, "--board", "icebreaker")
    assert main(args) == 1
    assert capsys.readouterr().err.strip() == (
        f"hwgen: error: no bitstream at {out / 'gateware' / 'top.bin'}: run hwgen build first")
    gateware = out / "gateware"
    (gateware / "top.bin").write_bytes(b"bin")
    (gateware / "build.json").write_bytes(summary_json(
        {"bitstream": "top.bit", "bitstream_sha256": hashlib.sha256(b"bits").hexdigest()}))
    assert main(args) == 1                                 # build.json is the .bit's
    assert "is the build of top.bit, not top.bin" in capsys.readouterr().err
    (gateware / "build.json").write_bytes(summary_json(
        {"bitstream": "top.bin", "bitstream_sha256": hashlib.sha256(b"bin").hexdigest()}))
    assert main(args) == 0
    assert log.read_text().split() == ["-b", "icebreaker", str(gateware / "top.bin")]


@pytest.mark.parametrize("flash", [False, True])
def test_program_runs_openfpgaloader(tmp_path, capsys, monkeypatch, flash):
    out = tmp_path / "out"
    bitstream = _built(out)
    fake, log = _fake_programmer(tmp_path, monkeypatch)
    assert main(program_args(out, *(["--flash"] if flash else []))) == 0
    assert log.read_text().split() == ["-b", "ulx3s", *(["-f"] if flash else []), str(bitstream)]

    fake.write_text("#!/bin/sh\nexit 3\n")
    assert main(program_args(out)) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"hwgen: error: openFPGALoader failed (exit status 3) loading {bitstream} onto ulx3s")
