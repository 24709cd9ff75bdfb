"""Golden model of :class:`hwgen.ops.vvau.hw.VVAU`."""
import torch

from .layer import VVAULayer

__all__ = ["vvau", "vvau_dots"]


def vvau_dots(layer: VVAULayer, x) -> torch.Tensor:
    """Dot products (N, pixels, channels), int64, of the windows ``x`` (N, pixels * K *
    channels) in stream order: each window's elements in (row, column, channel) order."""
    x = torch.as_tensor(x).to(torch.int64)
    x = x.reshape(x.shape[0], -1) if x.ndim == 3 else x         # (N, pixels, window) too
    if x.ndim != 2 or x.shape[1] != layer.in_elements:
        raise ValueError(f"input must have shape (N, {layer.in_elements}), not {tuple(x.shape)}")
    n, k, c = x.shape[0], layer.positions, layer.channels
    values = x.reshape(n, layer.pixels, k, c)
    if layer.in_encoding == "bipolar":
        values = 2 * values - 1
    weights = 2 * torch.as_tensor(layer.weights).to(torch.int64) - layer.weight_max   # (C, K)
    return torch.einsum("npkc,ck->npc", values, weights)


def vvau(layer: VVAULayer, x, dots: list | None = None) -> torch.Tensor:
    """Output elements (N, pixels * channels), stream order, of windows ``x``: bits, or with
    ``act_bits > 1`` the counts of thresholds passed; appends the dot products (N, pixels,
    channels) to ``dots``."""
    dot = vvau_dots(layer, x)
    if dots is not None:
        dots.append(dot)
    thresholds = torch.as_tensor(layer.thresholds)
    invert = torch.as_tensor(layer.invert)
    if layer.act_bits == 1:
        fires = (dot >= thresholds) != invert
    else:
        fires = ((dot[..., None] >= thresholds) != invert[:, None]).sum(dim=-1)
    return fires.to(torch.int64).reshape(dot.shape[0], -1)
