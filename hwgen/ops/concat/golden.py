"""Golden model of :class:`hwgen.ops.concat.hw.Concat`."""
import torch

from .layer import ConcatLayer

__all__ = ["concat"]


def concat(layer: ConcatLayer, xs) -> torch.Tensor:
    """Each pixel's channels of the images ``xs`` (one (N, channels[k] * height * width) per
    input, stream order) one after the other: (N, sum(channels) * height * width), stream
    order, in the inputs' dtype."""
    xs = [torch.as_tensor(x) for x in xs]
    if len(xs) != layer.inputs:
        raise ValueError(f"layer {layer.name!r} concatenates {layer.inputs} images, "
                         f"not {len(xs)}")
    n = xs[0].shape[0] if xs[0].ndim else 0
    for k, (x, channels) in enumerate(zip(xs, layer.channels)):
        if x.ndim != 2 or tuple(x.shape) != (n, channels * layer.pixels):
            raise ValueError(f"input {k} must have shape ({n}, {channels * layer.pixels}), "
                             f"not {tuple(x.shape)}")
    pixels = [x.reshape(n, layer.pixels, -1) for x in xs]
    return torch.cat(pixels, dim=2).reshape(n, layer.out_channels * layer.pixels)
