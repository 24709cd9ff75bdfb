"""Golden model of :class:`hwgen.ops.maxpool.hw.MaxPool`."""
import torch

from .layer import MaxPoolLayer

__all__ = ["maxpool"]


def maxpool(layer: MaxPoolLayer, x) -> torch.Tensor:
    """Max over each window of bits ``x`` (N, height * width * channels), stream order (with
    ``bitwise``, of each bit apart); returns (N, out_height * out_width * channels), stream
    order, same dtype."""
    x = torch.as_tensor(x)
    n = x.shape[0]
    if x.ndim != 2 or x.shape[1] != layer.in_elements:
        raise ValueError(f"input must have shape (N, {layer.in_elements}), not {tuple(x.shape)}")
    (kh, kw), oh, ow = layer.kernel, layer.out_height, layer.out_width
    image = x.reshape(n, layer.height, layer.width, layer.channels)[:, :oh * kh, :ow * kw]
    windows = image.reshape(n, oh, kh, ow, kw, layer.channels)
    if layer.bitwise:                     # each bit plane's maximum (OR), BitSplit
        return sum(((windows >> p) & 1).amax(dim=(2, 4)) << p
                   for p in range(layer.elem_bits)).reshape(n, layer.out_elements).to(x.dtype)
    return windows.amax(dim=(2, 4)).reshape(n, layer.out_elements)
