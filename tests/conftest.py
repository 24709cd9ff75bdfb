import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from hwgen.ir import Graph
from hwgen.ops import MVTULayer, MaxPoolLayer, SWGLayer
from hwgen.target import MemoryMap
from hwgen.target.ecp5 import ECP5

REPO = Path(__file__).resolve().parent.parent


class AllLogic(ECP5):
    """ECP5 as a family without block or distributed RAM would be: every memory in logic (a
    one-word ROM a constant). The blocks and cost models must follow it."""
    family = "all_logic"

    def map_memory(self, depth, width, *, rom, async_read=False, style="auto"):
        return MemoryMap("const" if rom and depth == 1 else "logic", depth, width, rom)


@pytest.fixture(scope="session")
def sim_build_root():
    """Verilator builds, one directory per design (kept between runs in ``build/test-sim``)."""
    root = Path(os.environ.get("HWGEN_TEST_SIM_BUILD", REPO / "build" / "test-sim"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def spec_error(mapping) -> str:
    """The one-line SpecError that ``mapping`` (a parsed spec of file ``net.yaml``) raises."""
    from hwgen.errors import SpecError
    from hwgen.spec import parse_spec
    with pytest.raises(SpecError) as error:
        parse_spec(mapping, file="net.yaml")
    message = str(error.value)
    assert "\n" not in message and message.startswith("net.yaml: ")
    return message


def export_shipped(spec, folder):
    """``spec``'s IR as ``hwgen build`` gets it from the shipped ``train.prebuilt`` results into
    the output folder ``folder``, with loading any data an error (the shipped IR must make it
    unnecessary). Returns (workspace, graph, what it said)."""
    import hwgen.data
    from hwgen.flow import Workspace
    said = []
    workspace = Workspace.create(spec, folder, say=said.append)

    def no_data(*args, **kwargs):
        raise AssertionError("the shipped IR should make the data unnecessary")
    original, hwgen.data.load_dataset = hwgen.data.load_dataset, no_data
    try:
        graph = workspace.export()
    finally:
        hwgen.data.load_dataset = original
    return workspace, graph, said


def assert_export_exact(model, spec, data, test_accuracy):
    """Export ``model``; its golden model must equal the model on the whole test set (every
    MVTU's dot products, the logits, the classes, the accuracy). Returns the golden result."""
    import torch
    from hwgen.golden import run_graph
    from hwgen.passes.lower import check_export, export_graph
    model = model.eval()
    graph = export_graph(model, spec, data.test_x, data.test_y)
    assert len(graph.test_frames) == len(data.test_y) > 300
    trace = []
    with torch.no_grad():
        logits = model(torch.as_tensor(data.test_x), trace)
    golden = run_graph(graph)
    assert len(trace) == len(golden.dots)
    for dot, expected in zip(trace, golden.dots):
        np.testing.assert_array_equal(dot.numpy().astype(np.int64), expected)
    np.testing.assert_array_equal(golden.logits, trace[-1][:, 0].numpy().astype(np.int64))
    np.testing.assert_array_equal(golden.labels, logits.argmax(dim=1).numpy())
    assert golden.accuracy(data.test_y) == pytest.approx(test_accuracy)
    assert test_accuracy > 0.6        # it learned something (chance: 0.1)
    check_export(model, graph)
    return golden


def random_layer(rng, *, mw, mh, pe, simd, logits=False, name="layer", in_encoding="bipolar",
                 in_bits=1, pixels=1) -> MVTULayer:
    """A layer with random weights and thresholds near the middle of the dot products of random
    inputs, so outputs are mixed 0/1."""
    weights = rng.integers(0, 2, (mh, mw)).astype(bool)
    shape = dict(in_encoding=in_encoding, in_bits=in_bits, pixels=pixels)
    if logits:
        return MVTULayer(name, mw, mh, pe, simd, weights, **shape)
    layer = MVTULayer(name, mw, mh, pe, simd, weights, **shape)
    low, high = layer.dot_range
    spread = max(2, int(np.sqrt(mw) * layer.in_max / 2))
    thresholds = rng.integers(-spread, spread + 1, mh)
    thresholds[0] = low          # edge cases: always fires ...
    thresholds[-1] = high + 1    # ... and never fires (before invert)
    return MVTULayer(name, mw, mh, pe, simd, weights, thresholds,
                     rng.integers(0, 2, mh).astype(bool), **shape)


def random_multithreshold_layer(rng, *, mw, mh, pe, simd, act_bits=2, in_encoding="bipolar",
                                in_bits=1, macro=None, key=1) -> MVTULayer:
    """A layer with ``act_bits``-bit outputs: per neuron ``2**act_bits - 1`` random thresholds
    around the middle of the dot products (ascending, or in any order for some neurons: the
    output is a count), some neurons inverted, edge cases at both ends of the range."""
    if macro is not None:
        in_encoding = macro.encoding if macro.act_bits == 1 else "uint"
        in_bits, simd = macro.act_bits, macro.wordlines
        weights = rng.integers(0, 1 << macro.weight_bits, (mh, mw))
    else:
        weights = rng.integers(0, 2, (mh, mw)).astype(bool)
    shape = dict(in_encoding=in_encoding, in_bits=in_bits, macro=macro, macro_key=key,
                 out_encoding="uint", act_bits=act_bits)
    layer = MVTULayer("multi", mw, mh, pe, simd, weights, **shape)
    low, high = layer.dot_range
    middle = (low + high) // 2 if macro is not None else 0
    spread = max(2, (high - low) // 6 if macro is not None else int(np.sqrt(mw) * layer.in_max))
    count = (1 << act_bits) - 1
    thresholds = np.sort(rng.integers(middle - spread, middle + spread + 1, (mh, count)), axis=1)
    thresholds[1] = rng.permutation(thresholds[1])
    thresholds[0, 0], thresholds[-1, -1] = low, high + 1
    thresholds = np.clip(thresholds, low, high + 1)
    invert = rng.integers(0, 2, mh).astype(bool)
    return MVTULayer("multi", mw, mh, pe, simd, weights, thresholds, invert, **shape)


def random_cim_layer(rng, *, mw, mh, pe, macro, logits=False, name="cim", key=1,
                     out_encoding="binary", pixels=1) -> MVTULayer:
    """A ``cim`` layer on ``macro`` (simd = its wordlines) with random weight codes, and
    thresholds spread around the middle of the code sums (edge cases at both ends)."""
    encoding = macro.encoding if macro.act_bits == 1 else "uint"
    weights = rng.integers(0, 1 << macro.weight_bits, (mh, mw))
    shape = dict(in_encoding=encoding, in_bits=macro.act_bits, pixels=pixels, macro=macro,
                 out_encoding=out_encoding, macro_key=key)
    layer = MVTULayer(name, mw, mh, pe, macro.wordlines, weights, **shape)
    if logits:
        return layer
    high = layer.dot_range[1]
    thresholds = rng.integers(high // 3, 2 * high // 3 + 1, mh)
    thresholds[0], thresholds[-1] = 0, high + 1
    return MVTULayer(name, mw, mh, pe, macro.wordlines, weights, thresholds,
                     rng.integers(0, 2, mh).astype(bool), **shape)


def random_conv_graph(rng, *, input_shape=(2, 7, 6), input_encoding="uint", input_bits=3,
                      convs=((8, (3, 2), 1, (1, 0), 2, 1, 2),), pool=2, hidden=None,
                      activation="binary", classes=4, logits_folding=(2, 4), frames=16,
                      thermometer=False) -> Graph:
    """A random conv chain: per conv ``(out, kernel, stride, padding, pe, simd, swg_simd)``,
    SWG + MVTU, then a max-pool of ``pool`` (or none), an optional dense hidden layer
    ``(out, pe, simd)``, and a dense logits layer with ``logits_folding`` (pe, simd). With
    ``thermometer`` the first conv reads its ``uint`` input as thermometer codes (its ``simd``
    counts their values)."""
    channels, height, width = input_shape
    encoding, bits = input_encoding, input_bits
    layers = []
    for index, (out, kernel, stride, padding, pe, simd, swg_simd) in enumerate(convs):
        swg = SWGLayer(f"c{index}_swg", channels, height, width, kernel, stride, padding,
                       simd=swg_simd, elem_bits=bits)
        layers.append(swg)
        coded = thermometer and index == 0
        conv = random_layer(rng, mw=swg.window_elements * ((1 << bits) - 1 if coded else 1),
                            mh=out, pe=pe, simd=simd, name=f"c{index}",
                            in_encoding="thermometer" if coded else encoding, in_bits=bits,
                            pixels=swg.out_height * swg.out_width)
        layers.append(MVTULayer(**{**_fields(conv), "out_encoding": activation}))
        channels, height, width, encoding, bits = out, swg.out_height, swg.out_width, activation, 1
        if pool and index == len(convs) - 1:
            layers.append(MaxPoolLayer("pool", channels, height, width, pool, pe=pe))
            height, width = layers[-1].out_height, layers[-1].out_width
    if hidden is not None:
        out, pe, simd = hidden
        layer = random_layer(rng, mw=channels * height * width, mh=out, pe=pe, simd=simd,
                             name="fc_hidden", in_encoding=encoding)
        layers.append(MVTULayer(**{**_fields(layer), "out_encoding": activation}))
        channels, height, width = out, 1, 1
    pe, simd = logits_folding
    layers.append(random_layer(rng, mw=channels * height * width, mh=classes, pe=pe, simd=simd,
                               logits=True, name="fc", in_encoding=encoding))
    top = (1 << input_bits) - 1
    return Graph(name="random_conv", input_shape=input_shape, classes=classes,
                 layers=tuple(layers), input_encoding=input_encoding, input_bits=input_bits,
                 test_frames=rng.integers(0, top + 1, (frames, int(np.prod(input_shape)))),
                 test_labels=rng.integers(0, classes, frames))


def digits_cnn_chain(rng) -> Graph:
    """uint 4-bit 1x8x8 -> SWG 3x3 pad 1 -> MVTU 9->16 (64 px) -> SWG 3x3 -> MVTU 144->32
    (36 px) -> max-pool 2 -> MVTU 288->10 logits; everything at pe = simd = 1."""
    layers = (SWGLayer("conv0_swg", 1, 8, 8, 3, padding=1, elem_bits=4),
              random_layer(rng, mw=9, mh=16, pe=1, simd=1, name="conv0", in_encoding="uint",
                           in_bits=4, pixels=64),
              SWGLayer("conv1_swg", 16, 8, 8, 3),
              random_layer(rng, mw=144, mh=32, pe=1, simd=1, name="conv1", pixels=36),
              MaxPoolLayer("pool", 32, 6, 6, 2),
              random_layer(rng, mw=288, mh=10, pe=1, simd=1, name="fc", logits=True))
    return Graph("conv", (1, 8, 8), 10, layers, rng.integers(0, 16, (2, 64)),
                 rng.integers(0, 10, 2), input_encoding="uint", input_bits=4)


def _fields(layer: MVTULayer) -> dict:
    import dataclasses
    return {f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)}


def mlp_spec_file(folder: Path, **train) -> Path:
    """``folder/mlp.yaml``: the MLP example trained for one epoch (``train`` keys added),
    FIFOs by the fixed rule (no sizing simulation)."""
    spec = yaml.safe_load((REPO / "examples" / "digits_mlp.yaml").read_text())
    spec["train"].update(epochs=1, **train)
    spec["hardware"] = {"size_fifos": False}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mlp.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path
