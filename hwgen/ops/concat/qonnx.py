"""The concatenation in QONNX (:meth:`hwgen.ops.Op.qonnx`): ``Concat`` on the channel axis
(each pixel's channels of the inputs one after the other)."""
from .layer import ConcatLayer

__all__ = ["concat_qonnx"]


def concat_qonnx(layer: ConcatLayer, g, xs, activations):
    batch = xs[0].shape[0]
    images = [g.reshape(x, batch, layer.height, layer.width, channels)
              for x, channels in zip(xs, layer.channels)]
    return g.node("Concat", images, (batch, layer.height, layer.width, layer.out_channels),
                  xs[0].datatype, hint="out", axis=3)
