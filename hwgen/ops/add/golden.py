"""Golden model of :class:`hwgen.ops.add.hw.Add`."""
import torch

from .layer import AddLayer

__all__ = ["add"]


def add(layer: AddLayer, a, b) -> torch.Tensor:
    """Sum of the element codes ``a`` and ``b`` (both (N, channels * height * width), stream
    order), thresholded when ``layer`` has thresholds: int64 sums, or uint8 counts of the
    thresholds passed (:func:`hwgen.ops.mvtu.golden.activate`'s rule), stream order."""
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    for name, x in (("a", a), ("b", b)):
        if x.ndim != 2 or x.shape[1] != layer.elements or x.shape[0] != a.shape[0]:
            raise ValueError(f"input {name} must have shape ({a.shape[0]}, {layer.elements}), "
                             f"not {tuple(x.shape)}")
    total = a.to(torch.int64) + b.to(torch.int64)
    if layer.thresholds is None:
        return total
    sums = total.reshape(a.shape[0], -1, layer.channels)
    thresholds, invert = torch.as_tensor(layer.thresholds), torch.as_tensor(layer.invert)
    fire = (sums[..., None] >= thresholds) != invert[:, None]
    return fire.sum(dim=-1).to(torch.uint8).reshape(a.shape[0], layer.elements)
