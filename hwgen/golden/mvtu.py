"""Golden model of :class:`hwgen.hw.mvtu.MVTU`: XNOR-popcount, thresholds or integer output."""
import torch

from ..ir import MVTULayer

__all__ = ["mvtu_popcount", "mvtu"]


def _as_bits(x) -> torch.Tensor:
    return torch.as_tensor(x).to(torch.bool)


def mvtu_popcount(layer: MVTULayer, x) -> torch.Tensor:
    """Matching-bit counts ``p`` (N, mh) for input bits ``x`` (N, mw); int64, exact."""
    x = _as_bits(x)
    if x.ndim != 2 or x.shape[1] != layer.mw:
        raise ValueError(f"input must have shape (N, {layer.mw}), not {tuple(x.shape)}")
    w = torch.as_tensor(layer.weights, dtype=torch.bool)
    # +-1 products summed in float64 are exact for any mw < 2**53.
    dot = (x.to(torch.float64) * 2 - 1) @ (w.to(torch.float64) * 2 - 1).T
    return ((dot.to(torch.int64) + layer.mw) // 2)


def mvtu(layer: MVTULayer, x) -> torch.Tensor:
    """Layer output for input bits ``x`` (N, mw): bits (N, mh) uint8, or dot products int64."""
    p = mvtu_popcount(layer, x)
    if layer.output == "int":
        return 2 * p - layer.mw
    fire = p >= torch.as_tensor(layer.thresholds)
    return (fire != torch.as_tensor(layer.invert)).to(torch.uint8)
