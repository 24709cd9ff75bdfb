"""Golden model of :class:`hwgen.ops.swg.hw.SlidingWindow`: the windows of a convolution."""
import torch

from .layer import SWGLayer

__all__ = ["swg"]


def swg(layer: SWGLayer, x) -> torch.Tensor:
    """Windows (N, out_height * out_width, window_elements) of images ``x``.

    ``x`` is (N, height * width * channels), pixels in raster order, channels innermost (the
    stream order). Each window lists rows ``ky``, columns ``kx``, channels ``c`` in that order;
    padding elements are 0.
    """
    x = torch.as_tensor(x)
    n = x.shape[0]
    if x.ndim != 2 or x.shape[1] != layer.in_elements:
        raise ValueError(f"input must have shape (N, {layer.in_elements}), not {tuple(x.shape)}")
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel, layer.stride, layer.padding
    image = x.reshape(n, layer.height, layer.width, layer.channels).permute(0, 3, 1, 2)
    image = torch.nn.functional.pad(image, (pw, pw, ph, ph), value=0)
    patches = image.unfold(2, kh, sh).unfold(3, kw, sw)          # (N, C, OH, OW, KH, KW)
    patches = patches[:, :, :layer.out_height, :layer.out_width]
    windows = patches.permute(0, 2, 3, 4, 5, 1)                   # (N, OH, OW, KH, KW, C)
    return windows.reshape(n, layer.out_height * layer.out_width, layer.window_elements)
