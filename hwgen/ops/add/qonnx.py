"""The residual add in QONNX (:meth:`hwgen.ops.Op.qonnx`): ``Add`` of the two images'
unsigned codes, then (a thresholded add) ``MultiThreshold`` per channel, an inverted
channel's sum negated (``s < t`` is ``-s >= 1 - t``)."""
import numpy as np

from ..base import bits_for
from .layer import AddLayer

__all__ = ["add_qonnx"]


def add_qonnx(layer: AddLayer, g, xs, activations):
    batch = xs[0].shape[0]
    shape = (batch, layer.height, layer.width, layer.channels)
    a, b = (g.reshape(x, *shape) for x in xs)
    top = sum((1 << bits) - 1 for bits in layer.in_bits)
    total = g.node("Add", [a, b], shape, f"UINT{bits_for(top)}", hint="sum")
    if layer.thresholds is None:
        return total
    thresholds = np.asarray(layer.thresholds, dtype=np.int64).reshape(layer.channels, -1)
    invert = np.zeros(layer.channels, dtype=bool) if layer.invert is None else \
        np.asarray(layer.invert, dtype=bool)
    if invert.any():
        total = g.node("Mul", [total, g.const(np.where(invert, -1, 1), "signs")], shape,
                       "INT32", hint="signed_sum")
    flipped = np.clip(np.where(invert[:, None], 1 - thresholds, thresholds), -top - 1, top + 1)
    steps = thresholds.shape[1]
    datatype = "BINARY" if steps == 1 else f"UINT{bits_for(steps)}"
    return g.threshold(total, flipped, datatype)
