"""The shared-result MVTU in QONNX (:meth:`hwgen.ops.Op.qonnx`): its arithmetic is an MVTU's
on the weights its distinct 2-D filters, signs and indices make (:attr:`plain`), so it is
written as that MVTU: ``MatMul`` then ``MultiThreshold``. The sharing is how the block
computes the product, not what it computes."""
from ..mvtu.qonnx import mvtu_qonnx
from .layer import SharedMVTULayer

__all__ = ["smvtu_qonnx"]


def smvtu_qonnx(layer: SharedMVTULayer, g, x, activation, out):
    return mvtu_qonnx(layer.plain, g, x, activation, out)
