"""Convolutional BNNs: the binary convolution, the threshold fold on every encoding's dot
products, and golden == trained model exactly for small conv nets on digits."""
import numpy as np
import pytest
import torch

from hwgen.data import load_dataset
from hwgen.errors import HwgenError
from hwgen.golden import run_graph
from hwgen.ir import load_ir, save_ir
from hwgen.ops import MVTULayer, MaxPoolLayer, SWGLayer
from hwgen.passes.lower import check_export, dot_values, export_graph, fold_threshold
from hwgen.nn import BinaryConv2d, batchnorm_fires, train_model
from hwgen.spec import parse_spec
from tests.conftest import assert_export_exact


def _explicit_conv(x, weight, stride, padding, pad_value):
    """Integer convolution by loops: x (N, C, H, W), weight (O, C, KH, KW) of +-1."""
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    (sh, sw), (ph, pw) = stride, padding
    padded = np.full((n, c, h + 2 * ph, w + 2 * pw), pad_value, dtype=np.int64)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.zeros((n, o, oh, ow), dtype=np.int64)
    for y in range(oh):
        for z in range(ow):
            window = padded[:, :, y * sh:y * sh + kh, z * sw:z * sw + kw]
            out[:, :, y, z] = np.einsum("nckl,ockl->no", window, weight)
    return out


@pytest.mark.parametrize("kernel,stride,padding,pad_value,top", [
    (3, 1, 1, -1, 1),            # bipolar activations: padding is -1
    ((3, 2), (1, 2), (1, 0), 0, 15),   # 4-bit integers, rectangular kernel and stride
    ((2, 4), 2, (1, 3), 0, 1),   # binary activations
])
def test_binary_conv_equals_integer_convolution(kernel, stride, padding, pad_value, top):
    torch.manual_seed(0)
    conv = BinaryConv2d(3, 5, kernel, stride=stride, padding=padding, pad_value=pad_value)
    rng = np.random.default_rng(1)
    low = -1 if pad_value == -1 else 0
    x = rng.integers(0, top + 1, (4, 3, 7, 9))
    if low == -1:
        x = 2 * x - 1
    weight = conv.binary_weight().detach().numpy().astype(np.int64)
    assert set(np.unique(weight)) == {-1, 1}
    expected = _explicit_conv(x, weight, conv.stride, conv.padding, pad_value)
    for dtype in (torch.float32, torch.float64):
        got = conv(torch.as_tensor(x, dtype=dtype)).detach().numpy()
        np.testing.assert_array_equal(got, expected)


def _random_norm(mh, mw, top, seed):
    generator = torch.Generator().manual_seed(seed)
    norm = torch.nn.BatchNorm2d(mh)
    spread = mw * top
    with torch.no_grad():
        norm.weight.copy_(torch.randn(mh, generator=generator) * 2)   # negative gamma: falling
        norm.weight[:4] = 0.0                                          # zero gamma: constant
        norm.weight[4], norm.weight[5] = 1e-9, -1e-9                   # nearly constant
        norm.bias.copy_(torch.randn(mh, generator=generator) * 3)
        norm.bias[0], norm.bias[1], norm.bias[2] = 1.0, -1.0, 0.0
        norm.running_mean.copy_(torch.randn(mh, generator=generator) * spread / 3)
        norm.running_mean[6] = spread * 10                             # never fires
        norm.running_var.copy_(torch.rand(mh, generator=generator) * spread + 0.1)
    return norm.eval()


@pytest.mark.parametrize("encoding,bits,mw", [
    ("bipolar", 1, 37), ("bipolar", 1, 36), ("binary", 1, 37), ("uint", 4, 9), ("uint", 8, 784),
])
@pytest.mark.parametrize("seed", range(3))
def test_fold_threshold_matches_the_model_on_every_dot(encoding, bits, mw, seed):
    mh = 48
    norm = _random_norm(mh, mw, (1 << bits) - 1 if encoding == "uint" else 1, seed)
    dots = dot_values(encoding, bits, mw)
    thresholds, invert = fold_threshold(norm, dots)
    assert invert.any() and (~invert).any()
    fires = batchnorm_fires(norm, torch.as_tensor(dots, dtype=torch.float64)[:, None]
                            .expand(-1, mh)).numpy()
    folded = (dots[:, None] >= thresholds[None, :]) != invert[None, :]
    np.testing.assert_array_equal(folded, fires)
    # Every neuron kind appears: constant ones, rising and falling ones.
    constant = fires.all(axis=0) | ~fires.any(axis=0)
    assert constant[:4].all() and constant[6] and not constant.all()
    # The IR accepts them: thresholds within the layer's dot range (high + 1 = never fires).
    layer = MVTULayer("l", mw, mh, 1, 1, np.ones((mh, mw), bool), thresholds, invert,
                      in_encoding=encoding, in_bits=bits)
    low, high = layer.dot_range
    assert thresholds.min() >= low and thresholds.max() <= high + 1


def test_dot_values_cover_each_encoding():
    np.testing.assert_array_equal(dot_values("bipolar", 1, 3), [-3, -1, 1, 3])
    np.testing.assert_array_equal(dot_values("binary", 1, 2), [-2, -1, 0, 1, 2])
    values = dot_values("uint", 2, 2)
    assert (values[0], values[-1], len(values)) == (-6, 6, 13)


def _conv_spec(activation, input_bits, epochs=4):
    return parse_spec({
        "name": f"conv_{activation}_{input_bits}",
        "data": {"dataset": "digits", "input_bits": input_bits},
        "model": {"activation": activation, "layers": [
            {"type": "conv", "out": 8, "kernel": 3, "padding": 1},
            {"type": "maxpool", "kernel": 2},
            {"type": "conv", "out": 16, "kernel": [3, 2], "stride": [1, 2], "padding": [1, 0],
             "pe": 8, "simd": 4},
            {"type": "linear", "out": 10},
        ]},
        "train": {"epochs": epochs, "lr": 0.05},
    })


@pytest.fixture(scope="module", params=[("bipolar", 1), ("binary", 1), ("bipolar", 4),
                                        ("binary", 4)], ids=lambda p: f"{p[0]}-{p[1]}bit")
def trained(request):
    spec = _conv_spec(*request.param)
    data = load_dataset(spec.data, spec.seed)
    result = train_model(spec, data, progress=False)
    return spec, data, result


def test_golden_equals_trained_conv_net_on_whole_test_set(trained):
    spec, data, result = trained
    golden = assert_export_exact(result.model, spec, data, result.test_accuracy)
    assert [tuple(d.shape[1:]) for d in golden.dots] == [(64, 8), (8, 16), (1, 10)]


def test_exported_graph_survives_save_and_load(trained, tmp_path):
    spec, data, result = trained
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    save_ir(graph, tmp_path / "model.ir.npz")
    loaded = load_ir(tmp_path / "model.ir.npz")
    np.testing.assert_array_equal(loaded.test_frames, graph.test_frames)
    assert loaded.meta == graph.meta
    np.testing.assert_array_equal(run_graph(loaded).logits, run_graph(graph).logits)


def test_exported_layers_and_names(trained):
    spec, data, result = trained
    graph = export_graph(result.model, spec, data.test_x, data.test_y, meta={"origin": "test"})
    bits, activation = spec.data.input_bits, spec.model.activation
    first = "uint" if bits > 1 else activation
    assert (graph.input_shape, graph.input_encoding, graph.input_bits) == ((1, 8, 8), first, bits)
    assert [(type(l), l.name) for l in graph.layers] == [
        (SWGLayer, "conv0_swg"), (MVTULayer, "conv0"), (MaxPoolLayer, "pool1"),
        (SWGLayer, "conv2_swg"), (MVTULayer, "conv2"), (MVTULayer, "fc3")]
    swg0, conv0, pool1, swg2, conv2, fc3 = graph.layers
    assert (swg0.kernel, swg0.padding, swg0.elem_bits, swg0.simd) == ((3, 3), (1, 1), bits, 1)
    assert (conv0.mw, conv0.mh, conv0.pixels, conv0.pe, conv0.simd) == (9, 8, 64, 4, 9)
    assert (conv0.in_encoding, conv0.in_bits, conv0.out_encoding) == (first, bits, activation)
    assert (pool1.channels, pool1.height, pool1.width, pool1.pe) == (8, 8, 8, 4)
    assert (swg2.kernel, swg2.stride, swg2.padding, swg2.simd) == ((3, 2), (1, 2), (1, 0), 4)
    assert (conv2.mw, conv2.mh, conv2.pixels, conv2.pe, conv2.simd) == (48, 16, 8, 8, 4)
    assert (conv2.in_encoding, conv2.in_bits) == (activation, 1)
    assert (fc3.mw, fc3.mh, fc3.pixels, fc3.output) == (128, 10, 1, "int")
    assert graph.meta == {"origin": "test", "fixed_folding": ["conv2"]}


def test_check_export_catches_a_wrong_conv_threshold(trained):
    spec, data, result = trained
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    index = 4                                   # conv2
    layer = graph.layers[index]
    hits = (run_graph(graph).dots[1] == layer.thresholds).sum(axis=(0, 1))
    neuron = int(np.argmax(hits))
    assert hits[neuron] > 0
    thresholds = layer.thresholds.copy()
    thresholds[neuron] += 1
    broken = graph.with_layers({layer.name: {"thresholds": thresholds}})
    with pytest.raises(HwgenError, match="export check failed: the dot products of layer 'fc3'"):
        check_export(result.model, broken)


def test_check_export_catches_a_wrong_window_order(trained):
    spec, data, result = trained
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    layer = graph.layers[4]                     # conv2: window (3, 2) x 8 channels
    channels_first = layer.weights.reshape(16, 3, 2, 8).transpose(0, 3, 1, 2).reshape(16, 48)
    broken = graph.with_layers({layer.name: {"weights": channels_first}})
    with pytest.raises(HwgenError, match="dot products of layer 'conv2'"):
        check_export(result.model, broken)


def test_padding_is_the_encodings_zero(trained):
    """Padding a bipolar layer with 0 instead of -1 (or a binary one with -1) changes its dot
    products: the check sees it."""
    spec, data, result = trained
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    model = result.model
    conv = model.layers[0]
    original = conv.pad_value
    conv.pad_value = -1.0 - original            # -1 <-> 0
    try:
        with pytest.raises(HwgenError, match="dot products of layer 'conv0'"):
            check_export(model, graph)
    finally:
        conv.pad_value = original
    check_export(model, graph)


def test_float_twin_trains_on_a_conv_spec():
    spec = _conv_spec("binary", 4, epochs=1)
    data = load_dataset(spec.data, spec.seed)
    result = train_model(spec, data, binary=False, progress=False)
    assert 0.0 <= result.test_accuracy <= 1.0
    with pytest.raises(ValueError, match="only a binary model"):
        export_graph(result.model, spec, data.test_x, data.test_y)
