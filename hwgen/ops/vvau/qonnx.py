"""The depthwise VVAU in QONNX (:meth:`hwgen.ops.Op.qonnx`): each window (from ``Im2Col``)
as its kernel positions by channels, ``Mul`` by the channel's weights and ``ReduceSum`` over
the positions, then ``MultiThreshold``; an inverted channel's weights and thresholds negated
(``dot < t`` is ``-dot >= 1 - t``), thresholds beyond the dot products' range clipped to one
past it."""
import numpy as np

from .layer import VVAULayer

__all__ = ["vvau_qonnx"]


def vvau_qonnx(layer: VVAULayer, g, x, activation, out):
    batch, k, c = x.shape[0], layer.positions, layer.channels
    windows = g.reshape(x, batch, out.height, out.width, k, c)
    weights = 2 * np.asarray(layer.weights, dtype=np.int64) - layer.weight_max      # (C, K)
    invert = np.asarray(layer.invert, dtype=bool)
    signs = np.where(invert, -1, 1)
    datatype = "BIPOLAR" if layer.weight_bits == 1 else f"INT{layer.weight_bits + 1}"
    products = g.node("Mul", [windows, g.const((weights * signs[:, None]).T, "weights",
                                                datatype)], windows.shape, "INT32",
                      hint="products")
    shape = (batch, out.height, out.width, c)
    dot = g.node("ReduceSum", [products], shape, "INT32", hint="dot", axes=[3], keepdims=0)
    _, top = layer.dot_range
    thresholds = np.asarray(layer.thresholds, dtype=np.int64).reshape(c, -1)
    flipped = np.clip(np.where(invert[:, None], 1 - thresholds, thresholds), -top - 1, top + 1)
    if layer.act_bits > 1:
        return g.threshold(dot, flipped, f"UINT{layer.act_bits}")
    if layer.out_encoding == "bipolar":
        return g.threshold(dot, flipped, "BIPOLAR", scale=2.0, bias=-1.0)
    return g.threshold(dot, flipped, "BINARY")
