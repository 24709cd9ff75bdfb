"""The max-pool in QONNX (:meth:`hwgen.ops.Op.qonnx`): qonnx's ``MaxPoolNHWC`` over
non-overlapping windows (the rows and columns that fill no window dropped, as the block
does); a ``bitwise`` pool (BitSplit) pools each bit plane apart and adds them back."""
from .layer import MaxPoolLayer

__all__ = ["maxpool_qonnx"]


def maxpool_qonnx(layer: MaxPoolLayer, g, x, activation):
    batch = x.shape[0]
    x = g.reshape(x, batch, layer.height, layer.width, layer.channels)
    kernel = list(layer.kernel)
    shape = (batch, layer.out_height, layer.out_width, layer.channels)

    def pool(value):
        return g.custom("MaxPoolNHWC", [value], shape, value.datatype, kernel_shape=kernel,
                        strides=kernel, pads=[0, 0, 0, 0])
    if not layer.bitwise:
        return pool(x)
    total = None
    for p in range(layer.elem_bits):
        plane = pool(g.bit(x, p))
        if p:
            plane = g.node("Mul", [plane, g.const(1 << p, "significance")], shape, x.datatype)
        total = plane if total is None else g.node("Add", [total, plane], shape, x.datatype,
                                                   hint="out")
    return total
