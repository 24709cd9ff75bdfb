"""BitSplit (``model.bitsplit``): each bit of a 2-bit activation a binary neuron of its own, each
bit plane a binary path of its own (the same weights), merged by the last layer. The model,
the IR's golden model and the export agree exactly; the golden model computes what the IR
docstring says, plane by plane; the macro's per-plane code sums add up to its 2-bit ones."""
import numpy as np
import pytest
import torch

from hwgen.cim.macro import MacroSpec, macro_mvm
from hwgen.data import load_dataset
from hwgen.golden import run_graph
from hwgen.nn import train_model
from hwgen.ops import MVTULayer, MaxPoolLayer
from hwgen.ops.maxpool.golden import maxpool
from hwgen.ops.mvtu.golden import mvtu
from hwgen.passes.lower import check_export, export_graph, quiet
from hwgen.spec import parse_spec

BITSPLIT = {  # a conv, a bitwise max-pool, a noisy cim layer reading planes, a cim merge
    "name": "bitsplit", "data": {"dataset": "digits", "input_bits": 2},
    "model": {"activation": "binary", "act_bits": 2, "bitsplit": True, "zero_raising": 0.1,
              "layers": [
                  {"type": "conv", "out": 9, "kernel": 3, "padding": 1, "pe": 3, "simd": 9},
                  {"type": "maxpool", "kernel": 2},
                  {"type": "linear", "out": 36, "pe": 4, "backend": "cim"},
                  {"type": "linear", "out": 36, "pe": 4},
                  {"type": "linear", "out": 10, "pe": 2, "backend": "cim"}]},
    "cim": {"rows": 288, "wordlines": 9, "adc_bits": 4, "weight_bits": 2, "act_bits": 2,
            "noise": "cell", "sigma": 0.5, "seed": 3},
    "train": {"epochs": 3}}


@pytest.fixture(scope="module")
def bitsplit():
    spec = parse_spec(BITSPLIT, file="bitsplit.yaml")
    data = load_dataset(spec.data, spec.seed)
    return spec, data, train_model(spec, data, progress=False)


def test_bitsplit_trains_and_exports_exactly(bitsplit):
    spec, data, result = bitsplit
    assert result.test_accuracy > 0.5
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    check_export(result.model, graph)           # every dot product (per plane), the logits
    layers = {layer.name: layer for layer in graph.layers}
    assert (layers["conv0"].bitsplit, layers["conv0"].split_input) == (True, False)
    assert layers["pool1"].bitwise
    for name in ("fc2", "fc3"):
        assert layers[name].bitsplit and layers[name].split_input
        assert layers[name].thresholds.shape == (36, 2)
    assert not layers["fc4"].bitsplit and layers["fc4"].in_bits == 2   # the merge
    # Both bits of the hidden layers are used: neither plane is constant.
    golden = run_graph(quiet(graph))
    assert golden.dots[2].shape == (len(data.test_x), 1, 36, 2)


def test_bitsplit_golden_computes_each_plane_apart():
    rng = np.random.default_rng(4)
    mw, mh = 18, 6
    x = rng.integers(0, 4, (50, mw))
    weights = rng.integers(0, 2, (mh, mw)).astype(bool)
    thresholds = rng.integers(-mw, mw + 1, (mh, 2))
    invert = rng.integers(0, 2, (mh, 2)).astype(bool)
    layer = MVTULayer(name="s", mw=mw, mh=mh, pe=mh, simd=mw, weights=weights,
                      thresholds=thresholds, invert=invert, in_encoding="uint", in_bits=2,
                      out_encoding="uint", act_bits=2, bitsplit=True, split_input=True)
    w = 2 * weights.astype(np.int64) - 1
    expected = 0
    for p in range(2):
        dot = ((x >> p) & 1) @ w.T
        expected = expected + (((dot >= thresholds[:, p]) != invert[:, p]) << p)
    assert np.array_equal(mvtu(layer, torch.as_tensor(x)).numpy(), expected)
    # A corrupted expectation is seen: bit 1 of neuron 0 inverted changes every output.
    flipped = invert.copy()
    flipped[0, 1] = ~flipped[0, 1]
    wrong = MVTULayer(**{**layer.__dict__, "invert": flipped})
    assert np.all(mvtu(wrong, torch.as_tensor(x)).numpy()[:, 0] != expected[:, 0])


def test_macro_plane_sums_add_up_to_the_2bit_sums():
    spec = MacroSpec(rows=36, columns=16, wordlines=9, adc_bits=4, weight_bits=2, act_bits=2,
                     encoding="binary", noise="cell", sigma=0.7, seed=11)
    rng = np.random.default_rng(2)
    weights = rng.integers(0, 4, (5, 36))
    x = rng.integers(0, 4, (40, 36))
    planes = macro_mvm(spec, weights, x, layer_index=3, planes=True)
    whole = macro_mvm(spec, weights, x, layer_index=3)
    assert planes.shape == (40, 5, 2)
    assert np.array_equal(planes[..., 0] + 2 * planes[..., 1], whole)
    # Plane 0 alone is the macro's 1-bit reads of bit 0 when noise is off.
    quiet_spec = spec.replace(noise="none")
    low = macro_mvm(quiet_spec.replace(act_bits=1), weights, x & 1, layer_index=3)
    assert np.array_equal(macro_mvm(quiet_spec, weights, x, layer_index=3, planes=True)[..., 0],
                          low)


def test_bitwise_maxpool_pools_each_bit():
    layer = MaxPoolLayer(name="p", channels=1, height=2, width=2, kernel=2, elem_bits=2,
                         bitwise=True)
    x = torch.tensor([[1, 2, 0, 0]], dtype=torch.uint8)      # 01 and 10: bitwise 11
    assert maxpool(layer, x).tolist() == [[3]]
    plain = MaxPoolLayer(name="p", channels=1, height=2, width=2, kernel=2, elem_bits=2)
    assert maxpool(plain, x).tolist() == [[2]]


@pytest.mark.parametrize("change,message", [
    ({"act_bits": 1}, "model.bitsplit: splits 2-bit activations: needs act_bits: 2"),
    ({"norm": "bnfree"}, "model.bitsplit: needs norm: batchnorm"),
])
def test_bitsplit_spec_errors(change, message):
    from hwgen.errors import SpecError
    mapping = {**BITSPLIT, "model": {**BITSPLIT["model"], **change}}
    with pytest.raises(SpecError, match=message):
        parse_spec(mapping, file="bitsplit.yaml")


@pytest.mark.cocotb
def test_bitsplit_network_rtl_equals_golden_with_noise(bitsplit, sim_build_root):
    """The whole BitSplit network on Verilator: RTL == golden with the macro's noise on, every
    test frame, full rate and under stress; the cycle model holds."""
    from hwgen.verify import verify_network
    spec, data, result = bitsplit
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    noisy, silent = run_graph(graph), run_graph(quiet(graph))
    assert np.mean(np.any(noisy.logits != silent.logits, axis=1)) > 0.2     # the noise is on
    run = verify_network(graph, fifo_depth=4, build_root=sim_build_root, seed=3)
    assert run.frames == len(graph.test_frames)
    assert run.mismatches == run.label_mismatches == run.logit_mismatches == 0
    assert run.stress_passed
    assert run.measured_cycles == pytest.approx(run.expected_cycles, rel=0.02)


def test_a_damaged_ir_flag_is_one_line(bitsplit, tmp_path):
    """An IR whose BitSplit flags are not booleans (or contradict the thresholds) is refused
    with one line naming the file and the layer."""
    import json
    from hwgen.errors import HwgenError
    from hwgen.ir import load_ir, save_ir
    spec, data, result = bitsplit
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    path = tmp_path / "model.ir.npz"
    save_ir(graph, path)
    assert np.array_equal(run_graph(quiet(load_ir(path))).logits, run_graph(quiet(graph)).logits)
    arrays = dict(np.load(path))
    index = {layer.name: i for i, layer in enumerate(graph.layers)}
    for name, change, problem in (("fc2", {"bitsplit": "yes"}, "bitsplit must be true or false"),
                                  ("pool1", {"bitwise": 1}, "bitwise must be true or false"),
                                  ("fc2", {"split_input": False, "bitsplit": False},
                                   "thresholds must have shape"),
                                  ("pool1", {"bitsplit": True}, "unknown field 'bitsplit'")):
        layer = index[name]
        header = json.loads(arrays["__ir__"].tobytes().decode())
        header["layers"][layer].update(change)
        damaged = {**arrays, "__ir__": np.frombuffer(json.dumps(header).encode(), np.uint8)}
        damaged.pop("__digest__", None)
        bad = tmp_path / "bad.ir.npz"
        np.savez(bad, **damaged)
        with pytest.raises(HwgenError) as error:
            load_ir(bad)
        assert problem in str(error.value) and "\n" not in str(error.value)
