"""The IR layer of a streaming average pool with an integer result."""
from dataclasses import dataclass

from ..base import bits_for
from ..pooling import PoolShape

__all__ = ["AvgPoolLayer"]


@dataclass(frozen=True, eq=False)
class AvgPoolLayer(PoolShape):
    """Streaming average pool, stride equal to the kernel, with an integer result: each output
    element is the **sum** of its window's element codes, ``0 .. K * (2**elem_bits - 1)`` for
    a window of ``K = KH * KW`` pixels, an unsigned integer of :attr:`out_bits` bits.

    The average is that sum over ``K`` (for ``bipolar`` elements, whose code 1 means +1 and 0
    means -1, ``(2 * sum - K) / K``): an affine map of the sum, which the consumer's integer
    thresholds absorb exactly, as batch norm's is folded into them, so no division is built.
    Rows and columns beyond the last whole window are dropped (floor, as
    ``torch.nn.AvgPool2d``). A kernel of the whole image is global average pooling.

    Parameters
    ----------
    channels, height, width : input image shape; pixels in raster order, channels innermost.
    kernel : (rows, columns), or an integer for both.
    pe : channels per transfer, in and out; divides ``channels``.
    elem_bits : bits per input element.
    """
    name: str
    channels: int
    height: int
    width: int
    kernel: tuple[int, int]
    pe: int = 1
    elem_bits: int = 1
    op = "avgpool"

    def __post_init__(self):
        self.check_shape()
        if self.out_bits > 16:
            raise ValueError(f"a {self.kernel[0]}x{self.kernel[1]} window of {self.elem_bits}-bit "
                             f"elements sums to {self.out_bits} bits, more than 16")

    @property
    def window(self) -> int:
        """Pixels a window sums: ``K``."""
        return self.kernel[0] * self.kernel[1]

    @property
    def out_bits(self) -> int:
        """Bits of an output element: the largest sum, ``K * (2**elem_bits - 1)``."""
        return bits_for(self.window * ((1 << self.elem_bits) - 1))

    def _meta(self) -> dict:
        return {"op": self.op, "name": self.name, "channels": self.channels,
                "height": self.height, "width": self.width, "kernel": list(self.kernel),
                "pe": self.pe, "elem_bits": self.elem_bits}
