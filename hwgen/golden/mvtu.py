"""Golden model of :class:`hwgen.hw.mvtu.MVTU`: dot products on +-1 weights, thresholds."""
import torch

from ..ir import MVTULayer

__all__ = ["decode", "mvtu_dot", "mvtu"]


def decode(x, encoding: str) -> torch.Tensor:
    """Element values of raw input elements ``x``: bipolar 0/1 -> -1/+1, else as they are."""
    x = torch.as_tensor(x).to(torch.int64)
    return 2 * x - 1 if encoding == "bipolar" else x


def mvtu_dot(layer: MVTULayer, x) -> torch.Tensor:
    """Dot products (..., mh) int64 of raw input vectors ``x`` (..., mw); exact."""
    x = torch.as_tensor(x)
    if x.shape[-1] != layer.mw:
        raise ValueError(f"input must have shape (..., {layer.mw}), not {tuple(x.shape)}")
    w = torch.as_tensor(layer.weights, dtype=torch.float64) * 2 - 1
    # Integer products summed in float64 are exact while |dot| < 2**53.
    return (decode(x, layer.in_encoding).to(torch.float64) @ w.T).to(torch.int64)


def mvtu(layer: MVTULayer, x) -> torch.Tensor:
    """Layer output for raw input vectors ``x`` (..., mw): bits uint8, or dot products int64."""
    dot = mvtu_dot(layer, x)
    if layer.output == "int":
        return dot
    fire = dot >= torch.as_tensor(layer.thresholds)
    return (fire != torch.as_tensor(layer.invert)).to(torch.uint8)
