"""The average pool in QONNX (:meth:`hwgen.ops.Op.qonnx`): the sum of each non-overlapping
window's codes (the block's output; the division is the next layer's thresholds'), as a
``Reshape`` of the image into its windows and a ``ReduceSum``."""
from ..base import bits_for
from .layer import AvgPoolLayer

__all__ = ["avgpool_qonnx"]


def avgpool_qonnx(layer: AvgPoolLayer, g, x, activation):
    batch = x.shape[0]
    (kh, kw), oh, ow, c = layer.kernel, layer.out_height, layer.out_width, layer.channels
    x = g.reshape(x, batch, layer.height, layer.width, c)
    if (oh * kh, ow * kw) != (layer.height, layer.width):
        x = g.node("Slice", [x, g.const([0, 0], "starts", index=True),
                             g.const([oh * kh, ow * kw], "ends", index=True),
                             g.const([1, 2], "axes", index=True)],
                   (batch, oh * kh, ow * kw, c), x.datatype, hint="cropped")
    windows = g.reshape(x, batch, oh, kh, ow, kw, c)
    top = ((1 << layer.elem_bits) - 1) * kh * kw
    return g.node("ReduceSum", [windows], (batch, oh, ow, c), f"UINT{bits_for(top)}",
                  hint="sums", axes=[2, 4], keepdims=0)
