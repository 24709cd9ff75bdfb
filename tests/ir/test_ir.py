"""The IR file: a lossless round trip, and clear errors for what is not (this version of) one."""
import io
import json

import numpy as np
import pytest

from hwgen.errors import HwgenError
from hwgen.ir import IR_VERSION, Graph, MVTULayer, load_ir, save_ir
from tests.conftest import random_layer


def _graph(rng, frames=23) -> Graph:
    layers = (random_layer(rng, mw=70, mh=12, pe=3, simd=7, name="a"),
              random_layer(rng, mw=12, mh=9, pe=9, simd=4, name="b"),
              random_layer(rng, mw=9, mh=5, pe=1, simd=3, logits=True, name="c"))
    return Graph(name="g", input_bits=70, classes=5, layers=layers,
                 test_frames=rng.integers(0, 2, (frames, 70)).astype(np.uint8),
                 test_labels=rng.integers(0, 5, frames), meta={"bnn_accuracy": 0.5, "key": "k"})


def _assert_same(a: Graph, b: Graph):
    assert (a.name, a.input_bits, a.classes, a.meta, a.version) == \
        (b.name, b.input_bits, b.classes, b.meta, b.version)
    np.testing.assert_array_equal(a.test_frames, b.test_frames)
    np.testing.assert_array_equal(a.test_labels, b.test_labels)
    assert len(a.layers) == len(b.layers)
    for x, y in zip(a.layers, b.layers):
        assert (x.name, x.mw, x.mh, x.pe, x.simd) == (y.name, y.mw, y.mh, y.pe, y.simd)
        np.testing.assert_array_equal(x.weights, y.weights)
        if x.thresholds is None:
            assert y.thresholds is None and y.invert is None
        else:
            np.testing.assert_array_equal(x.thresholds, y.thresholds)
            np.testing.assert_array_equal(x.invert, y.invert)


@pytest.mark.parametrize("seed", range(3))
def test_roundtrip(tmp_path, seed):
    graph = _graph(np.random.default_rng(seed))
    save_ir(graph, tmp_path / "m.ir.npz")
    _assert_same(graph, load_ir(tmp_path / "m.ir.npz"))
    buffer = io.BytesIO()
    save_ir(graph, buffer)
    (tmp_path / "b.npz").write_bytes(buffer.getvalue())
    _assert_same(graph, load_ir(tmp_path / "b.npz"))


def _rewrite_header(path, change):
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files}
    header = json.loads(arrays["__ir__"].tobytes())
    change(header)
    arrays["__ir__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def test_other_version_is_refused(tmp_path):
    path = tmp_path / "m.ir.npz"
    save_ir(_graph(np.random.default_rng(0)), path)
    _rewrite_header(path, lambda header: header.update(version=IR_VERSION + 1))
    with pytest.raises(HwgenError, match=f"IR version {IR_VERSION + 1} is not supported.*re-run hwgen export"):
        load_ir(path)


def test_unknown_op_is_refused(tmp_path):
    path = tmp_path / "m.ir.npz"
    save_ir(_graph(np.random.default_rng(0)), path)
    _rewrite_header(path, lambda header: header["layers"][1].update(op="conv9d"))
    with pytest.raises(HwgenError, match="layer 1 has unknown op 'conv9d'"):
        load_ir(path)


@pytest.mark.parametrize("content", [b"", b"not a zip", None])
def test_not_an_ir_file(tmp_path, content):
    path = tmp_path / "x.npz"
    if content is None:        # a valid npz without the IR header
        np.savez(path, a=np.zeros(3))
    else:
        path.write_bytes(content)
    with pytest.raises(HwgenError, match="not an hwgen IR file"):
        load_ir(path)
    with pytest.raises(HwgenError, match="not an hwgen IR file"):
        load_ir(tmp_path / "missing.npz")


def test_graph_checks_its_shape():
    rng = np.random.default_rng(0)
    graph = _graph(rng)
    import dataclasses
    with pytest.raises(ValueError, match="mw=12, but its input is 70 bits|input"):
        dataclasses.replace(graph, layers=(graph.layers[0], graph.layers[0], graph.layers[2]))
    with pytest.raises(ValueError, match="last layer must emit integers"):
        dataclasses.replace(graph, layers=graph.layers[:2])
    with pytest.raises(ValueError, match="pe must divide"):
        MVTULayer("x", 8, 6, 4, 2, np.zeros((6, 8), bool))
    assert graph.expected_cycles() == max(l.nf * l.sf for l in graph.layers)
