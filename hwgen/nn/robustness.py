"""Robustness to analog compute-in-memory: injected read noise, accuracy under it, and the
activation statistics that set how much noise a CIM macro adds.

:class:`GaussianMVM` is a stand-in for the CIM macro's differentiable twin
(:mod:`hwgen.cim`), plugged into the model's matrix-vector hook (:class:`hwgen.nn.BNN`
``mvm``). Each dot product gets independent Gaussian noise ``e``, added before the threshold::

    cell:  std(e) = sigma * sqrt(sum_k x_k**2)      # every driven cell adds noise of std sigma
    read:  std(e) = sigma * sqrt(ceil(mw / wordlines))   # one sample per wordline-group read

With bipolar inputs every row is driven (``sum x_k**2 = mw``); with binary inputs only the 1s
are, so zeros add no noise (why zero-raising helps); an unsigned integer input element ``x``
counts ``x**2``. ``sigma`` is in units of one cell's contribution (a +-1 product). There is no
ADC quantization here; the macro twin brings it.
"""
import math
from dataclasses import dataclass

import numpy as np
import torch

from .model import BNN, exact_mvm

__all__ = ["GaussianMVM", "evaluate_under_noise", "activation_stats"]


@dataclass
class GaussianMVM:
    """The exact matrix-vector product plus Gaussian noise (see the module's docstring): a
    ``mvm`` hook for :class:`hwgen.nn.BNN`.

    Parameters
    ----------
    sigma : float
        Noise of one driven cell (``cell``) or of one read (``read``).
    noise : ``"cell"`` or ``"read"``
    wordlines : int or None
        Rows driven per read (``read``); ``None``: the whole column in one read.
    generator : torch.Generator or None
        Source of the samples (``None``: torch's global generator, as seeded training uses).
    layers : set of int or None
        Layer indices (``spec.model.layers``) that get noise; ``None``: every conv and linear
        layer, the logits layer included.
    """
    sigma: float
    noise: str = "cell"
    wordlines: int | None = None
    generator: torch.Generator | None = None
    layers: frozenset | None = None

    def __post_init__(self):
        if not self.sigma >= 0:
            raise ValueError(f"sigma must be at least 0, not {self.sigma!r}")
        if self.noise not in ("cell", "read"):
            raise ValueError(f"noise must be 'cell' or 'read', not {self.noise!r}")
        if self.wordlines is not None and self.wordlines < 1:
            raise ValueError(f"wordlines must be at least 1, not {self.wordlines!r}")

    def std(self, x: torch.Tensor) -> torch.Tensor:
        """Noise standard deviation of each input vector's dot products, (N, pixels, 1)."""
        if self.noise == "cell":
            return self.sigma * (x.detach() ** 2).sum(dim=-1, keepdim=True).sqrt()
        mw = x.shape[-1]
        groups = math.ceil(mw / (self.wordlines or mw))
        return torch.full((*x.shape[:-1], 1), self.sigma * math.sqrt(groups), dtype=x.dtype)

    def __call__(self, layer_index: int, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        dot = exact_mvm(layer_index, x, w)
        if self.sigma == 0 or (self.layers is not None and layer_index not in self.layers):
            return dot
        sample = torch.randn(dot.shape, generator=self.generator, dtype=dot.dtype)
        return dot + self.std(x) * sample


@torch.no_grad()
def evaluate_under_noise(model: BNN, data, sigma: float, seed: int, *, noise: str = "cell",
                         wordlines: int | None = None, layers=None) -> float:
    """Test accuracy of ``model`` (eval mode) with :class:`GaussianMVM` noise on its dot
    products, the samples drawn from a generator seeded with ``seed``: the same seed gives the
    same accuracy. ``data`` has ``test_x`` and ``test_y`` (a :class:`hwgen.data.Dataset`)."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    mvm = GaussianMVM(sigma, noise=noise, wordlines=wordlines, generator=generator,
                      layers=None if layers is None else frozenset(layers))
    logits = model(torch.as_tensor(data.test_x), mvm=mvm)
    return float((logits.argmax(dim=1).numpy() == np.asarray(data.test_y)).mean())


@torch.no_grad()
def activation_stats(model: BNN, frames) -> dict:
    """Statistics of the hidden layers' output bits on ``frames`` (eval mode, exact):

    ``zero_fraction``: share of hidden activations that are 0 (binary encoding; bipolar has
    no zeros: 0.0), over every neuron and output pixel of every hidden conv and linear layer;
    ``one_fraction``: share of 1 bits (+1 bipolar, 1 binary), in either encoding;
    ``layers``: per hidden layer (by index in ``spec.model.layers``) its ``one_fraction``.
    """
    model.eval()
    trace = []
    model(torch.as_tensor(frames), trace, mvm=exact_mvm)
    ones = total = 0
    per_layer = {}
    dots = iter(trace)
    hidden = set(model.hidden_indices())
    for index, layer in enumerate(model.layers):
        if not hasattr(layer, "matrix"):
            continue
        dot = next(dots)
        if index not in hidden:
            continue
        fires = model.output_bits(index, dot)
        per_layer[index] = float(fires.double().mean())
        ones += int(fires.sum())
        total += fires.numel()
    one_fraction = ones / total if total else 0.0
    binary = model.activation_encoding == "binary"
    return {"zero_fraction": 1.0 - one_fraction if binary and total else 0.0,
            "one_fraction": one_fraction, "layers": per_layer}
