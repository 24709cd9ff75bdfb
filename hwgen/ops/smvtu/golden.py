"""Golden model of :class:`hwgen.ops.smvtu.hw.SharedMVTU`: each distinct 2-D filter result
computed once per window, combined per output channel with its sign."""
import torch

from ..mvtu.golden import activate, decode, thermometer_code
from .layer import SharedMVTULayer

__all__ = ["smvtu_results", "smvtu_dot", "smvtu"]

#: Bound on the (rows, mh, C) products gathered at once.
_CHUNK_ELEMENTS = 1 << 24


def _values(layer: SharedMVTULayer, x) -> torch.Tensor:
    """Decoded input values (..., K, C) of raw windows ``x`` (..., in_elements)."""
    x = torch.as_tensor(x)
    if x.shape[-1] != layer.in_elements:
        raise ValueError(f"input must have shape (..., {layer.in_elements}), not {tuple(x.shape)}")
    if layer.in_encoding == "thermometer":
        x = thermometer_code(x, layer.in_bits)
    values = decode(x, layer.in_encoding)
    return values.reshape(*values.shape[:-1], layer.positions, layer.channels)


def smvtu_results(layer: SharedMVTULayer, x) -> torch.Tensor:
    """The distinct 2-D results (..., C, D) of raw windows ``x`` (..., in_elements):
    ``r[c, j] = sum_k v[k, c] * d[c, j, k]`` with the +-1 patterns ``d`` (padding rows 0)."""
    values = _values(layer, x).to(torch.int64)
    patterns = torch.as_tensor(layer.filters).to(torch.int64) * 2 - 1       # (C, D, K)
    used = torch.arange(patterns.shape[1])[None, :] < torch.as_tensor(layer.counts)[:, None]
    patterns = patterns * used[..., None]
    return torch.einsum("...kc,cdk->...cd", values, patterns)


def smvtu_dot(layer: SharedMVTULayer, x) -> torch.Tensor:
    """Dot products (..., mh) int64 of raw windows ``x``: the distinct results, each computed
    once per window, gathered per (output channel, channel) and summed with their signs."""
    x = torch.as_tensor(x)
    lead = x.shape[:-1]
    rows = x.reshape(-1, x.shape[-1])
    index = torch.as_tensor(layer.index)                                     # (mh, C)
    sign = 1 - 2 * torch.as_tensor(layer.inverse).to(torch.int64)            # (mh, C)
    channel = torch.arange(layer.channels)[None, :]
    step = max(1, _CHUNK_ELEMENTS // (layer.mh * layer.channels))
    dots = []
    for start in range(0, rows.shape[0], step):
        results = smvtu_results(layer, rows[start:start + step])             # (R, C, D)
        chosen = results[:, channel, index]                                  # (R, mh, C)
        dots.append((chosen * sign).sum(dim=-1))
    out = torch.cat(dots) if dots else torch.zeros(0, layer.mh, dtype=torch.int64)
    return out.reshape(*lead, layer.mh)


def smvtu(layer: SharedMVTULayer, x) -> torch.Tensor:
    """Layer output for raw windows ``x`` (..., in_elements): activations uint8, or dot
    products int64 (an MVTU's rule, :func:`~hwgen.ops.mvtu.golden.activate`)."""
    return activate(layer, smvtu_dot(layer, x))
