"""Training for noisy analog CIM: the batch-norm-free model, zero-raising, threshold shifting
and noise-aware training each train and export exactly; the matrix-vector hook; accuracy under
injected noise is reproducible from its seed."""
import numpy as np
import pytest
import torch

from hwgen.data import load_dataset
from hwgen.errors import SpecError
from hwgen.passes.lower import check_export, dot_values, export_graph, fold_threshold
from hwgen.nn import (BNN, BatchNormThreshold, CentredThreshold, GaussianMVM, activation_stats,
                      evaluate_under_noise, exact_mvm, train_model)
from hwgen.spec import parse_spec

MLP = [{"type": "linear", "out": 64}, {"type": "linear", "out": 64}, {"type": "linear", "out": 10}]
CONV = [{"type": "conv", "out": 8, "kernel": 3, "padding": 1},
        {"type": "maxpool", "kernel": 2},
        {"type": "conv", "out": 16, "kernel": [3, 2], "stride": [1, 2], "padding": [1, 0]},
        {"type": "linear", "out": 10}]


def _spec(net="mlp", activation="binary", train=None, **model):
    conv = net == "conv"
    return parse_spec({
        "name": f"{net}_robust",
        "data": {"dataset": "digits", "input_bits": 4 if conv else 1},
        "model": {"activation": activation, "layers": CONV if conv else MLP, **model},
        "train": {"epochs": 4 if conv else 6, "lr": 0.05 if conv else 0.01, **(train or {})},
    })


@pytest.fixture(scope="module")
def digits():
    return load_dataset(_spec().data, 0), load_dataset(_spec("conv").data, 0)


def _data(digits, net):
    return digits[net == "conv"]


def _train(spec, digits, net="mlp"):
    return train_model(spec, _data(digits, net), progress=False)


# --- spec -----------------------------------------------------------------------------------

def test_defaults_keep_the_batch_norm_model():
    spec = _spec(activation="bipolar")
    assert (spec.model.norm, spec.model.zero_raising, spec.model.threshold_shift) == (
        "batchnorm", 0.0, 0.0)
    assert spec.train.noise_sigma == 0.0


@pytest.mark.parametrize("model,train,message", [
    ({"norm": "layernorm"}, {}, "model.norm: unknown value 'layernorm' (allowed: batchnorm, bnfree)"),
    ({"zero_raising": -0.5}, {}, "model.zero_raising: must be at least 0, not -0.5"),
    ({"zero_raising": 1.0, "activation": "bipolar"}, {},
     "model.zero_raising: needs activation: binary (bipolar activations have no zeros) "
     "(allowed: 0 with activation bipolar)"),
    ({"threshold_shift": "high"}, {}, "model.threshold_shift: expected a number, got 'high'"),
    ({}, {"noise_sigma": -1}, "train.noise_sigma: must be at least 0, not -1.0"),
])
def test_bad_robustness_keys_are_one_line(model, train, message):
    with pytest.raises(SpecError) as error:
        _spec(train=train, **model)
    assert str(error.value) == f"<spec>: {message}"


# --- every option trains and exports exactly -------------------------------------------------

OPTIONS = {
    "bnfree": ({"norm": "bnfree"}, {}),
    "bnfree-bipolar": ({"norm": "bnfree", "activation": "bipolar"}, {}),
    "zero_raising": ({"zero_raising": 1.0}, {}),
    "bnfree-zero_raising": ({"norm": "bnfree", "zero_raising": 1.0}, {}),
    "shift": ({"threshold_shift": 0.5}, {}),
    "bnfree-shift": ({"norm": "bnfree", "threshold_shift": -0.5}, {}),
    "noise": ({}, {"noise_sigma": 0.5}),
    "all": ({"norm": "bnfree", "zero_raising": 1.0, "threshold_shift": 0.5}, {"noise_sigma": 0.5}),
}


@pytest.mark.parametrize("net", ["mlp", "conv"])
@pytest.mark.parametrize("option", OPTIONS)
def test_option_trains_and_exports_exactly(digits, net, option):
    model, train = OPTIONS[option]
    spec = _spec(net, train=train, **model)
    data = _data(digits, net)
    result = _train(spec, digits, net)
    assert result.test_accuracy > 0.4                   # it learned something (chance: 0.1)
    graph = export_graph(result.model, spec, data.test_x, data.test_y)
    check_export(result.model, graph)                   # golden == model on every test frame
    if spec.model.norm == "bnfree":
        assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                       for m in result.model.modules())
        for layer in graph.mvtus()[:-1]:                # a plain threshold: nothing inverted
            assert not layer.invert.any()


# --- the batch-norm-free threshold unit --------------------------------------------------------

def _random_threshold(mh, spread, shift, seed):
    generator = torch.Generator().manual_seed(seed)
    unit = CentredThreshold(mh, 8, shift=shift)
    with torch.no_grad():
        unit.centre.copy_(torch.randn(mh, generator=generator) * spread)
        unit.spread.copy_(torch.rand(mh, generator=generator) * spread + 1.0)
        unit.bias.copy_(torch.randn(mh, generator=generator) * 2)
        unit.bias[0], unit.bias[1] = 1e6, -1e6                       # never / always fires
        unit.bias[2] = 0.0
        unit.log_gain.copy_(torch.randn(mh, generator=generator))    # no effect on the bit
    return unit.eval()


@pytest.mark.parametrize("encoding,bits,mw", [("bipolar", 1, 37), ("binary", 1, 64),
                                              ("uint", 4, 9)])
@pytest.mark.parametrize("shift", [0.0, 0.7, -1.3])
def test_centred_threshold_folds_on_every_dot(encoding, bits, mw, shift):
    mh = 32
    unit = _random_threshold(mh, mw ** 0.5, shift, seed=mw)
    dots = dot_values(encoding, bits, mw)
    thresholds, invert = fold_threshold(unit, dots)
    assert not invert.any()
    fires = unit.fires(torch.as_tensor(dots, dtype=torch.float64)[:, None].expand(-1, mh)).numpy()
    np.testing.assert_array_equal(dots[:, None] >= thresholds[None, :], fires)
    assert thresholds[0] == dots[-1] + 1 and thresholds[1] == dots[0]
    # The training pre-activation has the same sign (the gain is positive).
    with torch.no_grad():
        pre = unit(torch.as_tensor(dots, dtype=torch.float64)[:, None].expand(-1, mh))
    np.testing.assert_array_equal((pre >= 0).numpy(), fires)


def _bits(rates, n, seed):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n, len(rates), generator=generator) < torch.as_tensor(rates)).double()


def test_centred_threshold_centre_and_spread_follow_the_weights_and_input_rates():
    rates = torch.linspace(0.05, 0.95, 200, dtype=torch.float64)
    x = _bits(rates, 20000, seed=1)
    unit = CentredThreshold(4, 200)
    unit.observe(x)
    torch.testing.assert_close(unit.input_mean, x.mean(0))
    generator = torch.Generator().manual_seed(2)
    weights = torch.where(torch.rand(4, 200, generator=generator) < 0.5, -1.0, 1.0).double()
    weights[0] = 1.0                                       # every input adds: mean sum(e)
    centre, spread = unit.reference(weights)
    dot = x @ weights.T
    torch.testing.assert_close(centre, dot.mean(0))        # exact: linearity
    torch.testing.assert_close(spread, dot.std(0), rtol=0.03, atol=0)   # independent inputs
    # A weight that flips moves the centre by twice its input's rate, and the unit with it.
    flipped = weights.clone()
    flipped[1, 150] = -flipped[1, 150]
    moved = unit.reference(flipped)[0] - centre
    torch.testing.assert_close(moved[1], -2 * flipped[1, 150] * -unit.input_mean[150])
    assert torch.all(moved[[0, 2, 3]] == 0)
    # The running statistics move by the momentum towards a new batch.
    unit.initialized.fill_(True)
    before = unit.input_mean.clone()
    unit.observe(torch.ones(10, 200, dtype=torch.float64))
    torch.testing.assert_close(unit.input_mean,
                               before + CentredThreshold.MOMENTUM * (1 - before))


def test_centred_threshold_starts_balanced_from_the_first_batch():
    x = _bits(torch.full((64,), 0.3), 2000, seed=3)
    weights = torch.where(torch.rand(3, 64, generator=torch.Generator().manual_seed(4)) < 0.7,
                          1.0, -1.0).double()
    unit = CentredThreshold(3, 64, shift=0.5).train()
    unit.observe(x)
    dot = x @ weights.T + torch.tensor([5.0, -3.0, 0.0], dtype=torch.float64)  # off-centre
    pre = unit(dot, unit.reference(weights))
    # The first batch sets the bias (the offset the analytic centre misses) and the gain
    # (one standard deviation of the centred dot product is one unit): mean + 0.5 std fire.
    torch.testing.assert_close(pre.mean(0), torch.full((3,), -0.5, dtype=torch.float64))
    torch.testing.assert_close(pre.std(0, unbiased=False), torch.ones(3, dtype=torch.float64))
    unit.settle(weights)
    fired = unit.eval().fires(dot).double().mean(dim=0)
    assert torch.all((fired > 0.22) & (fired < 0.40)), fired
    bias = unit.bias.clone()
    unit.train()(dot * 3, unit.reference(weights))      # later batches set nothing
    assert torch.equal(unit.bias, bias)


def test_bnfree_model_settles_its_thresholds_at_the_final_weights(digits):
    spec = _spec(norm="bnfree", train={"epochs": 1})
    model = _train(spec, digits).model
    for index in model.hidden_indices():
        unit, layer = model.norms[index], model.layers[index]
        centre, spread = unit.reference(layer.matrix().double())
        assert torch.equal(unit.centre, centre) and torch.equal(unit.spread, spread)
        with torch.no_grad():                            # a changed weight is seen at eval
            layer.weight[0].neg_()
        model.train().eval()
        assert not torch.equal(unit.centre, centre)
        assert torch.equal(unit.centre, unit.reference(layer.matrix().double())[0])


def test_batch_norm_threshold_loads_a_batch_norm_checkpoint():
    old = torch.nn.BatchNorm2d(5)
    with torch.no_grad():
        old.running_mean.uniform_(-3, 3)
        old.weight.uniform_(-2, 2)
    unit = BatchNormThreshold(5, shift=0.25)
    unit.load_state_dict(old.state_dict())
    dot = torch.randn(7, 5)
    expected = old.eval()(dot[:, :, None, None])[:, :, 0, 0] - 0.25
    torch.testing.assert_close(unit.eval()(dot), expected)


# --- zero-raising and threshold shifting move the activation balance -----------------------------

@pytest.mark.parametrize("norm", ["batchnorm", "bnfree"])
def test_zero_raising_raises_the_zero_fraction(digits, norm):
    data = _data(digits, "mlp")
    zeros = [activation_stats(_train(_spec(norm=norm, zero_raising=weight), digits).model,
                              data.test_x)["zero_fraction"] for weight in (0.0, 1.0)]
    assert zeros[1] > zeros[0] + 0.08, zeros            # measured: +0.13 / +0.16


@pytest.mark.parametrize("norm", ["batchnorm", "bnfree"])
@pytest.mark.parametrize("activation", ["binary", "bipolar"])
def test_threshold_shift_unbalances_the_activations(digits, norm, activation):
    data = _data(digits, "mlp")
    ones = [activation_stats(_train(_spec(norm=norm, activation=activation,
                                          threshold_shift=shift), digits).model,
                             data.test_x)["one_fraction"] for shift in (-1.0, 0.0, 1.0)]
    assert ones[0] > ones[1] + 0.08 and ones[1] > ones[2] + 0.08, ones


def test_activation_stats_of_bipolar_has_no_zeros(digits):
    data = _data(digits, "mlp")
    stats = activation_stats(BNN(_spec(activation="bipolar")).eval(), data.test_x)
    assert stats["zero_fraction"] == 0.0 and 0.0 < stats["one_fraction"] < 1.0
    assert sorted(stats["layers"]) == [0, 1]


# --- the matrix-vector hook -----------------------------------------------------------------

class RecordingMVM:
    def __init__(self):
        self.calls = []

    def __call__(self, index, x, w):
        self.calls.append((index, x.detach().clone(), w.detach().clone()))
        return x @ w.T


@pytest.mark.parametrize("net", ["mlp", "conv"])
def test_mvm_hook_sees_the_irs_vectors_and_weights(digits, net):
    spec = _spec(net, norm="bnfree")
    data = _data(digits, net)
    model = _train(spec, digits, net).model.eval()
    graph = export_graph(model, spec, data.test_x, data.test_y)
    frames = torch.as_tensor(data.test_x[:50])
    reference, trace, hook = [], [], RecordingMVM()
    with torch.no_grad():
        expected = model(frames, reference)
        np.testing.assert_array_equal(model(frames, trace, mvm=hook).numpy(), expected.numpy())
    mvtus = graph.mvtus()
    assert [index for index, _, _ in hook.calls] == [i for i, layer in enumerate(spec.model.layers)
                                                      if layer.type != "maxpool"]
    for (index, x, w), layer, dot, ref in zip(hook.calls, mvtus, trace, reference):
        assert x.shape == (50, layer.pixels, layer.mw) and x.dtype == torch.float64
        np.testing.assert_array_equal(w.numpy() > 0, layer.weights)      # the IR's order
        np.testing.assert_array_equal(dot.numpy(), ref.numpy())
    # Set at construction, the hook is the model's default; check_export still runs exact.
    noisy = BNN(spec, mvm=GaussianMVM(5.0))
    noisy.load_state_dict(model.state_dict())
    check_export(noisy, graph)


@torch.no_grad()
def test_a_wrong_mvm_shape_is_refused(digits):
    model = BNN(_spec()).eval()
    with pytest.raises(ValueError, match=r"mvm for layer 0 returned shape \(3, 64\), not \(3, 1, 64\)"):
        model(torch.as_tensor(_data(digits, "mlp").test_x[:3]), mvm=lambda i, x, w: (x @ w.T)[:, 0])


@pytest.mark.parametrize("noise,wordlines,expected", [
    ("cell", None, lambda x: 0.5 * np.sqrt((x ** 2).sum(axis=-1))),
    ("read", 16, lambda x: np.full(x.shape[:-1], 0.5 * np.sqrt(4))),   # 64 rows: 4 reads
    ("read", None, lambda x: np.full(x.shape[:-1], 0.5)),
])
def test_gaussian_mvm_noise_statistics(noise, wordlines, expected):
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.integers(0, 2, (4, 3, 64)) * (rng.random((4, 3, 1)) < 0.8),
                        dtype=torch.float64)
    x[0, 0] = 0                                              # no driven row: no cell noise
    w = torch.as_tensor(np.where(rng.random((2000, 64)) < 0.5, 1.0, -1.0))
    mvm = GaussianMVM(0.5, noise=noise, wordlines=wordlines,
                      generator=torch.Generator().manual_seed(1))
    error = (mvm(0, x, w) - exact_mvm(0, x, w)).numpy()    # 2000 samples per input vector
    std = expected(x.numpy())
    np.testing.assert_allclose(error.std(axis=-1), std, rtol=0.05, atol=1e-12)
    assert np.abs(error.mean(axis=-1)).max() <= 0.1 * std.max()
    assert not GaussianMVM(0.5, layers=frozenset({1}))(0, x, w).ne(exact_mvm(0, x, w)).any()


def test_gaussian_mvm_rejects_bad_values():
    with pytest.raises(ValueError, match="sigma must be at least 0, not -1"):
        GaussianMVM(-1)
    with pytest.raises(ValueError, match="noise must be 'cell' or 'read', not 'shot'"):
        GaussianMVM(1.0, noise="shot")


# --- accuracy under noise, noise-aware training ------------------------------------------------

@pytest.fixture(scope="module")
def baseline(digits):
    spec = _spec()
    return spec, _train(spec, digits)


def test_accuracy_under_noise_is_reproducible_from_the_seed(digits, baseline):
    spec, result = baseline
    data = _data(digits, "mlp")
    model = result.model
    assert evaluate_under_noise(model, data, 0.0, seed=3) == result.test_accuracy
    first = [evaluate_under_noise(model, data, 0.5, seed) for seed in range(4)]
    assert first == [evaluate_under_noise(model, data, 0.5, seed) for seed in range(4)]
    assert len(set(first)) > 1                           # the seed picks the samples
    assert max(first) < result.test_accuracy
    assert evaluate_under_noise(model, data, 4.0, seed=0) < 0.5 * result.test_accuracy
    # Only the chosen layers get noise.
    assert evaluate_under_noise(model, data, 100.0, seed=0, layers=[5]) == result.test_accuracy


def test_noise_aware_training_is_reproducible_and_helps_under_noise(digits):
    data = _data(digits, "mlp")
    spec = _spec(train={"noise_sigma": 0.5, "epochs": 12})
    first, second = _train(spec, digits), _train(spec, digits)
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key
    plain = _train(_spec(train={"epochs": 12}), digits)
    aware, unaware = (np.mean([evaluate_under_noise(result.model, data, 0.5, seed)
                               for seed in range(5)]) for result in (first, plain))
    assert aware > unaware + 0.05, (aware, unaware)     # measured: 0.77 vs 0.67


def test_float_twin_trains_batch_norm_free(digits):
    spec = _spec("conv", norm="bnfree", zero_raising=0.5, train={"epochs": 1, "noise_sigma": 0.2})
    result = train_model(spec, _data(digits, "conv"), binary=False, progress=False)
    assert 0.0 <= result.test_accuracy <= 1.0
