"""The IR layer of a streaming max-pool."""
from dataclasses import dataclass

from ..pooling import PoolShape

__all__ = ["MaxPoolLayer"]


@dataclass(frozen=True, eq=False)
class MaxPoolLayer(PoolShape):
    """Streaming max-pool, stride equal to the kernel.

    Over one-bit activations bit 1 is the larger value in both encodings (+1 > -1, 1 > 0), so
    the maximum is the OR of the window's bits; over ``uint`` elements of ``elem_bits`` (2-bit
    activations) it is the unsigned maximum. Rows and columns beyond the last whole window are dropped
    (floor, as ``torch.nn.MaxPool2d``). A kernel of the whole image is global max-pooling.

    Parameters
    ----------
    channels, height, width : input image shape; pixels in raster order, channels innermost.
    kernel : (rows, columns), or an integer for both.
    pe : channels per transfer, in and out; divides ``channels``.
    elem_bits : bits per element.
    bitwise : each bit of a ``uint`` element pooled apart (the OR of the window's bit ``p``):
        BitSplit's bit planes, each a binary path of its own.
    """
    name: str
    channels: int
    height: int
    width: int
    kernel: tuple[int, int]
    pe: int = 1
    elem_bits: int = 1
    bitwise: bool = False
    op = "maxpool"

    def __post_init__(self):
        self.check_shape()
        if not isinstance(self.bitwise, bool):
            raise ValueError(f"bitwise must be true or false, not {self.bitwise!r}")

    def _meta(self) -> dict:
        return {"op": self.op, "name": self.name, "channels": self.channels,
                "height": self.height, "width": self.width, "kernel": list(self.kernel),
                "pe": self.pe, "elem_bits": self.elem_bits,
                **({"bitwise": True} if self.bitwise else {})}
