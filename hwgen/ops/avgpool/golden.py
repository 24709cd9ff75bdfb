"""Golden model of :class:`hwgen.ops.avgpool.hw.AvgPool`."""
import torch

from .layer import AvgPoolLayer

__all__ = ["avgpool"]


def avgpool(layer: AvgPoolLayer, x) -> torch.Tensor:
    """Sum of the element codes ``x`` (N, height * width * channels, stream order) over each
    window; returns (N, out_height * out_width * channels), stream order, int64."""
    x = torch.as_tensor(x)
    n = x.shape[0]
    if x.ndim != 2 or x.shape[1] != layer.in_elements:
        raise ValueError(f"input must have shape (N, {layer.in_elements}), not {tuple(x.shape)}")
    (kh, kw), oh, ow = layer.kernel, layer.out_height, layer.out_width
    image = x.to(torch.int64).reshape(n, layer.height, layer.width, layer.channels)
    windows = image[:, :oh * kh, :ow * kw].reshape(n, oh, kh, ow, kw, layer.channels)
    return windows.sum(dim=(2, 4)).reshape(n, layer.out_elements)
