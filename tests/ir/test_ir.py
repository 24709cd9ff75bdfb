"""The IR file: a lossless round trip, and clear errors for what is not (this version of) one."""
import dataclasses
import io
import json

import numpy as np
import pytest

from hwgen.errors import HwgenError
from hwgen.ir import IR_VERSION, Graph, load_ir, save_ir
from hwgen.ops import MVTULayer
from hwgen.golden import run_graph
from tests.conftest import random_cim_layer, random_conv_graph, random_layer


def _graph(rng, frames=23) -> Graph:
    layers = (dataclasses.replace(random_layer(rng, mw=70, mh=12, pe=3, simd=7, name="a"),
                                  ram_style="block"),
              random_layer(rng, mw=12, mh=9, pe=9, simd=4, name="b"),
              random_layer(rng, mw=9, mh=5, pe=1, simd=3, logits=True, name="c"))
    return Graph(name="g", input_shape=(70, 1, 1), classes=5, layers=layers,
                 test_frames=rng.integers(0, 2, (frames, 70)).astype(np.uint8),
                 test_labels=rng.integers(0, 5, frames), meta={"bnn_accuracy": 0.5, "key": "k"})


def _assert_same(a: Graph, b: Graph):
    assert (a.name, a.input_shape, a.input_encoding, a.input_bits, a.classes, a.meta, a.version,
            a.fifo_depths) == \
        (b.name, b.input_shape, b.input_encoding, b.input_bits, b.classes, b.meta, b.version,
         b.fifo_depths)
    assert a.test_frames.dtype == b.test_frames.dtype
    np.testing.assert_array_equal(a.test_frames, b.test_frames)
    np.testing.assert_array_equal(a.test_labels, b.test_labels)
    assert len(a.layers) == len(b.layers)
    for x, y in zip(a.layers, b.layers):
        assert type(x) is type(y) and x._meta() == y._meta()
        if not isinstance(x, MVTULayer):
            continue
        np.testing.assert_array_equal(x.weights, y.weights)
        if x.thresholds is None:
            assert y.thresholds is None and y.invert is None
        else:
            np.testing.assert_array_equal(x.thresholds, y.thresholds)
            np.testing.assert_array_equal(x.invert, y.invert)


def _conv_graph(rng, fifo_depths=None):
    graph = random_conv_graph(rng, input_bits=6, frames=9)
    return graph if fifo_depths is None else graph.with_fifo_depths(fifo_depths)


def _cim_graph(rng):
    """Two cim layers (2-bit weights and 2-bit inputs, then 1-bit) before a digital one."""
    from hwgen.cim import MacroSpec
    macro = MacroSpec(wordlines=8, adc_bits=4, weight_bits=2, act_bits=2, encoding="binary",
                      noise="cell", sigma=0.4, seed=9, adc_range=6.5)
    first = random_cim_layer(rng, mw=24, mh=16, pe=4, macro=macro, key=0, name="a")
    second = random_cim_layer(rng, mw=16, mh=8, pe=2, key=1, name="b", macro=macro.replace(
        weight_bits=1, act_bits=1, noise="read", adc_range=None))
    layers = (first, second,
              random_layer(rng, mw=8, mh=5, pe=1, simd=8, logits=True, in_encoding="binary"))
    return Graph("cim", (24, 1, 1), 5, layers, rng.integers(0, 4, (7, 24)),
                 rng.integers(0, 5, 7), input_encoding="uint", input_bits=2)


def _thermometer_graph(rng):
    return random_conv_graph(rng, input_bits=3, thermometer=True, frames=5,
                             convs=((8, (3, 2), 1, (1, 0), 2, 14, 1),))


@pytest.mark.parametrize("seed,kind", [(0, "dense"), (1, "dense"), (2, "conv"), (3, "conv_sized"),
                                       (4, "cim"), (5, "thermometer")])
def test_roundtrip(tmp_path, seed, kind):
    rng = np.random.default_rng(seed)
    graph = {"dense": _graph, "conv": _conv_graph, "cim": _cim_graph,
             "thermometer": _thermometer_graph,
             "conv_sized": lambda rng: _conv_graph(rng, fifo_depths=(5, 2, 300))}[kind](rng)
    save_ir(graph, tmp_path / "m.ir.npz")
    _assert_same(graph, load_ir(tmp_path / "m.ir.npz"))
    buffer = io.BytesIO()
    save_ir(graph, buffer)
    (tmp_path / "b.npz").write_bytes(buffer.getvalue())
    _assert_same(graph, load_ir(tmp_path / "b.npz"))
    if kind == "cim":
        loaded = load_ir(tmp_path / "b.npz")
        assert [layer.backend for layer in loaded.layers] == ["cim", "cim", "digital"]
        assert loaded.layers[0].weights.max() == 3 and loaded.layers[0].macro == graph.layers[0].macro
        np.testing.assert_array_equal(run_graph(loaded).logits, run_graph(graph).logits)


def _rewrite_header(path, change):
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files}
    header = json.loads(arrays["__ir__"].tobytes())
    change(header)
    arrays["__ir__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def test_ram_style(tmp_path):
    graph = _graph(np.random.default_rng(0))
    save_ir(graph, tmp_path / "m.ir.npz")
    assert [layer.ram_style for layer in load_ir(tmp_path / "m.ir.npz").layers] == \
        ["block", "auto", "auto"]
    with pytest.raises(ValueError, match="ram_style must be one of auto, block, distributed, "
                                         "not 'ultra'"):
        dataclasses.replace(graph.layers[0], ram_style="ultra")
    cim = _cim_graph(np.random.default_rng(0)).layers[0]
    with pytest.raises(ValueError, match="a cim layer's weights are in its macro"):
        dataclasses.replace(cim, ram_style="distributed")


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
    with pytest.raises(ValueError, match="layer 'b' has mw=70, pixels=1, but its input is 1 "
                                         "pixels of 12 elements"):
        dataclasses.replace(graph, layers=(graph.layers[0],
                                           dataclasses.replace(graph.layers[0], name="b"),
                                           graph.layers[2]))
    with pytest.raises(ValueError, match="last layer must be an MVTU emitting integers"):
        dataclasses.replace(graph, layers=graph.layers[:2])
    with pytest.raises(ValueError, match="pe must divide"):
        MVTULayer("x", 8, 6, 4, 2, np.zeros((6, 8), bool))
    assert graph.expected_cycles() == max(l.nf * l.sf for l in graph.layers)


def test_conv_chain_checks():
    rng = np.random.default_rng(0)
    graph = random_conv_graph(rng)
    swg, conv, pool, fc = graph.layers
    activations = graph.activations()
    assert [(a.channels, a.height, a.width, a.encoding) for a in activations] == [
        (2, 7, 6, "uint"), (12, 7, 5, "uint"), (8, 7, 5, "binary"), (8, 3, 2, "binary"),
        (4, 1, 1, "int")]
    assert activations[1].windowed and not activations[2].windowed
    assert graph.expected_cycles() == conv.expected_cycles() == 4 * 12 * 35
    replace = dataclasses.replace
    cases = [
        ((swg, swg, conv, pool, fc), "a sliding window cannot follow another one"),
        ((replace(swg, elem_bits=1), conv, pool, fc), "has elem_bits=1, but its input has 3 bits"),
        ((replace(swg, height=8), conv, pool, fc), "expects a 2x8x6 image, but its input is 2x7x6"),
        ((swg, pool, conv, fc), "max-pool takes an image of activations"),
        ((swg, conv, replace(pool, elem_bits=2), fc), "has elem_bits=2, but its input has 1 bits"),
        ((swg, replace(conv, in_encoding="uint", in_bits=4), pool, fc),
         "takes uint inputs of 4 bits, but its input is uint of 3 bits"),
        ((swg, replace(conv, pixels=1), pool, fc), "has mw=12, pixels=1, but its input is 35 pixels"),
        ((swg, conv, fc), "layer 'fc' has mw=48, pixels=1, but its input is 35 pixels of 8"),
    ]
    for layers, message in cases:
        with pytest.raises(ValueError, match=message):
            replace(graph, layers=layers)
    with pytest.raises(ValueError, match="test_frames must have shape"):
        replace(graph, test_frames=graph.test_frames[:, :-1])
    with pytest.raises(ValueError, match="test frame elements must lie in 0..7"):
        replace(graph, test_frames=graph.test_frames + 8)
    with pytest.raises(ValueError, match="fifo_depths must hold 3 positive depths"):
        graph.with_fifo_depths((2, 2))
    folded = graph.with_fifo_depths((4, 4, 4)).with_layers({"c0": {"pe": 8}})
    assert folded.layers[1].pe == 8 and folded.fifo_depths is None
    with pytest.raises(KeyError, match="no layers named nope"):
        graph.with_layers({"nope": {}})


def test_thermometer_layer():
    """A thermometer layer reads uint elements as codes: its weights and simd count the codes'
    values, its input stream the elements; the golden model is the binary layer on the codes."""
    import torch
    from hwgen.golden import mvtu_dot
    from hwgen.ops.mvtu.hw import thermometer_tables, table_offset
    rng = np.random.default_rng(3)
    layer = random_layer(rng, mw=4 * 7, mh=6, pe=3, simd=14, in_encoding="thermometer", in_bits=3)
    assert (layer.code_bits, layer.in_elements, layer.in_width, layer.stream_encoding) == \
        (7, 4, 6, "uint")
    x = rng.integers(0, 8, (50, 4))
    codes = (x[:, :, None] > np.arange(7)).reshape(50, 28)
    binary = MVTULayer("b", 28, 6, 3, 14, layer.weights, layer.thresholds, layer.invert,
                       in_encoding="binary")
    np.testing.assert_array_equal(mvtu_dot(layer, torch.as_tensor(x)),
                                  mvtu_dot(binary, torch.as_tensor(codes)))
    # by hand: element value v adds the first v of its seven weights (as +-1)
    signs = np.where(layer.weights, 1, -1).reshape(6, 4, 7)
    by_hand = np.array([[sum(signs[n, e, :v].sum() for e, v in enumerate(row)) for n in range(6)]
                        for row in x])
    np.testing.assert_array_equal(mvtu_dot(layer, torch.as_tensor(x)).numpy(), by_hand)
    # the hardware's tables: one per element of a transfer, (fold, value) -> PE entries
    tables = thermometer_tables(layer)
    assert len(tables) == 2 and all(len(t) == layer.nf * layer.sf * 8 for t in tables)
    entry = lambda g, nf, sf, v, j: (tables[g][(nf * layer.sf + sf) * 8 + v] >> (4 * j)) & 15
    total = sum(entry(g, 1, sf, x[0, sf * 2 + g], 2) for g in range(2) for sf in range(2))
    assert total - table_offset(layer) == by_hand[0, 5]
    with pytest.raises(ValueError, match="simd must be a multiple of the thermometer code's 7 "
                                         "values, not 4"):
        MVTULayer("t", 28, 6, 3, 4, layer.weights, in_encoding="thermometer", in_bits=3)
    with pytest.raises(ValueError, match="in_bits must lie in 2..8 for thermometer inputs, not 1"):
        MVTULayer("t", 28, 6, 3, 14, layer.weights, in_encoding="thermometer", in_bits=1)
    with pytest.raises(ValueError, match="input must have shape \\(..., 4\\)"):
        mvtu_dot(layer, torch.as_tensor(codes))



@pytest.mark.parametrize("mw,wordlines,words", [(64, 12, 16), (5, 8, 5), (49, 8, 49)])
def test_a_first_layer_with_a_partial_group_reads_the_frames_unpadded(mw, wordlines, words):
    """The network's input converter: frames in words of the least divisor of the vector at
    least one group wide (the vector itself where none is, or it is narrower than a group),
    padded on the way into the first layer; RTL == golden on Amaranth's simulator."""
    from hwgen.cim import MacroSpec
    from hwgen.hw.network import Network
    from hwgen.verify import decode_results
    from tests.streams import simulate_stream
    rng = np.random.default_rng(mw)
    macro = MacroSpec(wordlines=wordlines, adc_bits=4, noise="cell", sigma=0.5,
                      encoding="binary", seed=2)
    layer = random_cim_layer(rng, mw=mw, mh=4, pe=2, macro=macro, logits=True, key=0)
    frames = rng.integers(0, 2, (6, mw))
    graph = Graph(name="g", input_shape=(mw, 1, 1), classes=4, layers=(layer,),
                  test_frames=frames, test_labels=np.zeros(6, dtype=np.int64),
                  input_encoding="binary", input_bits=1)
    entry = graph.input_converter()
    assert (entry.in_elements, entry.out_elements) == (words, wordlines)
    network = Network(graph)
    assert network.in_elements == words
    golden = run_graph(graph)
    got = simulate_stream(network, network.input_words(frames), len(frames))
    decoded, logits = decode_results(graph, got, network.logit_bits)
    assert (decoded == golden.labels).all() and (logits == golden.logits).all()
