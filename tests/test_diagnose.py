"""When RTL and golden disagree, the failure names the layer, frame and word where they part,
and ``trace`` writes an FST waveform of a window around it.

The RTL is built from a graph with one flipped weight in one layer while the golden model uses
the original graph; the diagnosis must name that layer and the first word its stream gets
wrong (worked out here from the golden model alone). Two layers are corrupted in turn, so a
diagnosis that always named the same layer fails.
"""
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

import hwgen.verify
from hwgen.cli import _parser
from hwgen.errors import HwgenError
from hwgen.flow import Workspace
from hwgen.golden import run_graph, run_layers
from hwgen.harness import cycle_time_ps
from hwgen.hw.network import Network
from hwgen.ops import op_for
from hwgen.lib.packing import pack_words
from hwgen.spec import load_spec
from hwgen.verify import Diagnosis, Verification, _stream_words, diagnose, harness_vectors
from tests.conftest import random_conv_graph

FRAMES = 12
SPEC = Path(__file__).resolve().parent.parent / "examples" / "digits_mlp.yaml"


def _graph():
    # c0_swg (swg) -> c0 (mvtu) -> pool (maxpool) -> fc (mvtu, logits)
    return random_conv_graph(np.random.default_rng(0), frames=FRAMES)


def _corrupted(graph, index):
    """``graph`` with one weight bit of layer ``index`` flipped: the first (row-major) flip
    that changes some frame's logits, so the network's results differ."""
    layer = graph.layers[index]
    logits = run_graph(graph).logits
    for row, column in np.ndindex(layer.weights.shape):
        weights = layer.weights.copy()
        weights[row, column] ^= True
        layers = list(graph.layers)
        layers[index] = dataclasses.replace(layer, weights=weights)
        corrupted = dataclasses.replace(graph, layers=tuple(layers))
        if np.any(run_graph(corrupted).logits != logits):
            return corrupted
    raise AssertionError(f"no single flip in {layer.name} changes a result")


def _first_wrong_word(graph, corrupted, index):
    """(frame, word, words per frame, golden word, corrupted word) of the first difference in
    layer ``index``'s output stream, from the golden model and pack_words alone."""
    count, bits = op_for(graph.layers[index]).out_transfer(graph.layers[index])
    good = run_layers(graph)[index]
    bad = run_layers(corrupted)[index]
    np.testing.assert_array_equal(run_layers(graph)[index - 1], run_layers(corrupted)[index - 1])
    good_words = pack_words(good, width=bits, per_word=count)
    bad_words = pack_words(bad, width=bits, per_word=count)
    first = next(i for i, (g, b) in enumerate(zip(good_words, bad_words)) if g != b)
    per_frame = good.shape[1] // count
    return first // per_frame, first % per_frame, per_frame, good_words[first], bad_words[first]


def _fst_blocks(data: bytes) -> list[tuple[int, bytes]]:
    """An FST file's blocks: a type byte, a big-endian 64-bit length (counting itself), the
    payload; the blocks must tile the file exactly."""
    blocks, position = [], 0
    while position < len(data):
        kind = data[position]
        length = int.from_bytes(data[position + 1:position + 9], "big")
        assert length >= 8 and position + 1 + length <= len(data), (kind, length, position)
        blocks.append((kind, data[position + 9:position + 1 + length]))
        position += 1 + length
    assert position == len(data)
    return blocks


def _lz4_length(data: bytes, position: int, length: int) -> tuple[int, int]:
    """An LZ4 token's 4-bit ``length`` extended by the bytes at ``position`` (when it is 15):
    ``(length, position after them)``."""
    if length == 15:
        while data[position] == 255:
            length += 255
            position += 1
        length += data[position]
        position += 1
    return length, position


def _lz4_block(data: bytes, size: int) -> bytes:
    """Decode one LZ4 block (the format, not the writer's: matches too)."""
    out, position = bytearray(), 0
    while position < len(data):
        token = data[position]
        literals, position = _lz4_length(data, position + 1, token >> 4)
        out += data[position:position + literals]
        position += literals
        if position >= len(data):
            break
        offset = int.from_bytes(data[position:position + 2], "little")
        length, position = _lz4_length(data, position + 2, token & 15)
        for _ in range(length + 4):
            out.append(out[-offset])
    assert len(out) == size
    return bytes(out)


@pytest.mark.parametrize("bits,per_word", [(1, 8), (1, 100), (3, 5), (7, 13), (12, 6), (31, 3)])
def test_stream_words_pack_as_the_stream(bits, per_word):
    rng = np.random.default_rng(bits * per_word)
    signed = bits in (7, 31)
    low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    values = rng.integers(low, high, (6, per_word * 4))
    assert _stream_words(values, bits=bits, per_word=per_word) == \
        pack_words(values, width=bits, per_word=per_word)


def test_diagnosis_reads_as_one_line():
    wrong = Diagnosis(recurred=True, layer=1, name="conv1", op="mvtu", frame=2, word=17,
                      words=48, got=0x3, expected=0x7, cycle=900, output_frame=2,
                      output_cycle=1200)
    assert str(wrong) == ("first at frame 2: layer 1 'conv1' (mvtu) output word 17 of 48 is "
                          "0x3, golden 0x7")
    stopped = dataclasses.replace(wrong, got=None, trace="sim/mismatch.fst",
                                  trace_cycles=(600, 1264))
    assert str(stopped) == ("first at frame 2: layer 1 'conv1' (mvtu) output stopped before "
                            "word 17 of 48 (golden 0x7); waveform of cycles 600..1264 (that "
                            "word at cycle 900): sim/mismatch.fst")
    assert "label select" in str(dataclasses.replace(wrong, layer=None))
    assert "did not recur" in str(Diagnosis(recurred=False))


def test_taps_copy_each_layers_output_stream():
    graph = _graph()
    network = Network(graph, taps=True)
    members = network.signature.members
    for index, layer in enumerate(graph.layers):
        count, bits = op_for(layer).out_transfer(layer)
        tap = members[f"tap{index}"].signature.members
        assert tap["payload"].shape.width == count * bits
        assert {"valid", "ready"} <= set(tap)
    assert "tap0" not in Network(graph).signature.members
    for component in (network, Network(graph)):
        component._MustUse__silence = True


def test_workspace_puts_the_diagnosis_in_its_error_and_passes_trace(tmp_path, monkeypatch):
    diagnosis = "first at frame 2: layer 1 'c0' (mvtu) output word 17 of 48 is 0x3, golden 0x7"
    calls = []

    def verify_network(graph, **options):
        calls.append(options)
        return Verification(frames=12, mismatches=3, label_mismatches=1, logit_mismatches=3,
                            golden_accuracy=0.5, rtl_accuracy=0.4, expected_cycles=10,
                            measured_cycles=10.0, sim_cycles_per_s=1.0, stress_passed=True,
                            diagnosis=diagnosis)
    monkeypatch.setattr("hwgen.verify.verify_network", verify_network)
    workspace = Workspace.create(load_spec(SPEC), tmp_path / "out", say=lambda message: None)
    for trace in (False, True):
        with pytest.raises(HwgenError) as error:
            workspace.verify(_graph(), trace=trace)
        assert str(error.value) == (f"RTL differs from golden: 3 of 12 frames mismatch (stress "
                                    f"run passed: True); {diagnosis}; see {workspace.root / 'sim'}")
        assert calls[-1]["trace"] == (workspace.root / "sim" if trace else None)
    assert _parser().parse_args(["sim", "net.yaml", "--trace"]).trace
    assert not _parser().parse_args(["sim", "net.yaml"]).trace


@pytest.mark.cocotb
def test_corrupted_weight_names_its_layer(sim_build_root, tmp_path, monkeypatch):
    """Workspace.verify on RTL whose conv layer has one flipped weight: the results mismatch
    and the error names layer 1 'c0', with the frame and word golden predicts."""
    graph = _graph()
    corrupted = _corrupted(graph, 1)
    frame, word, words, golden, got = _first_wrong_word(graph, corrupted, 1)
    verify_network = hwgen.verify.verify_network

    def on_corrupted_rtl(graph, **options):
        return verify_network(graph, **{**options, "build_root": sim_build_root,
                                        "network": Network(corrupted, fifo_depth=2, taps=True)})
    monkeypatch.setattr("hwgen.verify.verify_network", on_corrupted_rtl)
    workspace = Workspace.create(load_spec(SPEC), tmp_path / "out", say=lambda message: None)
    with pytest.raises(HwgenError) as error:
        workspace.verify(graph)
    assert re.fullmatch(
        rf"RTL differs from golden: [1-9]\d* of {FRAMES} frames mismatch \(stress run passed: "
        rf"False\); first at frame {frame}: layer 1 'c0' \(mvtu\) output word {word} of "
        rf"{words} is {got:#x}, golden {golden:#x}; see {re.escape(str(workspace.root))}/sim",
        str(error.value)), str(error.value)


@pytest.mark.cocotb
def test_corrupted_weight_in_another_layer_and_its_waveform(sim_build_root, tmp_path):
    """The same with the logits layer corrupted, through diagnose with a waveform: it names
    layer 3 'fc', and the FST file is whole (its blocks tile it; the hierarchy names the
    harness and the taps) and spans exactly the window it reports, which holds the wrong word."""
    graph = _graph()
    corrupted = _corrupted(graph, 3)
    frame, word, words, golden, got = _first_wrong_word(graph, corrupted, 3)
    network = Network(corrupted, fifo_depth=2, taps=True)
    _golden, inputs, expected = harness_vectors(network, graph.test_frames, graph=graph)
    trace = tmp_path / "mismatch.fst"
    diagnosis = diagnose(network, graph, graph.test_frames, inputs, expected,
                         build_root=sim_build_root, trace=trace)
    assert (diagnosis.layer, diagnosis.name, diagnosis.op) == (3, "fc", "mvtu")
    assert (diagnosis.frame, diagnosis.word, diagnosis.words) == (frame, word, words)
    assert (diagnosis.got, diagnosis.expected) == (got, golden)
    first, last = diagnosis.trace_cycles
    assert first <= diagnosis.cycle <= diagnosis.output_cycle <= last
    assert re.search(rf"; waveform of cycles {first}\.\.{last} \(that word at cycle "
                     rf"{diagnosis.cycle}\): .*mismatch\.fst$", str(diagnosis))

    data = trace.read_bytes()
    blocks = _fst_blocks(data)
    kinds = [kind for kind, _payload in blocks]
    assert kinds[0] == 0 and len(blocks[0][1]) == 321          # the header block
    assert 3 in kinds and 6 in kinds                             # geometry, LZ4 hierarchy
    assert {1, 5, 8} & set(kinds)                                # value changes
    header = blocks[0][1]
    start, end = int.from_bytes(header[:8], "big"), int.from_bytes(header[8:16], "big")
    assert (start, end) == (cycle_time_ps(first), cycle_time_ps(last))
    assert header[64] == 256 - 12                                # timescale 1 ps
    hierarchy = next(payload for kind, payload in blocks if kind == 6)
    names = _lz4_block(hierarchy[8:], int.from_bytes(hierarchy[:8], "big"))
    assert b"harness" in names and b"tap3__payload" in names
