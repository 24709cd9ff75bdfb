"""The sliding-window generator in QONNX (:meth:`hwgen.ops.Op.qonnx`): qonnx's ``Im2Col``
(channels last; each window's elements in (row, column, channel) order, as the SWG streams
them), padding with the encoding's zero code: -1 for ``bipolar`` elements, 0 otherwise."""
from .layer import SWGLayer

__all__ = ["swg_qonnx"]


def swg_qonnx(layer: SWGLayer, g, x, activation):
    batch = x.shape[0]
    x = g.reshape(x, batch, layer.height, layer.width, layer.channels)
    (kh, kw), (ph, pw) = layer.kernel, layer.padding
    return g.custom("Im2Col", [x], (batch, layer.out_height, layer.out_width,
                                    kh * kw * layer.channels), x.datatype,
                    stride=list(layer.stride), kernel_size=[kh, kw],
                    input_shape=str((batch, layer.height, layer.width, layer.channels)),
                    pad_amount=[ph, pw, ph, pw],
                    pad_value=-1 if activation.encoding == "bipolar" else 0)
