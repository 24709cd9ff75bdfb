"""The IR layer of a sliding-window generator."""
from dataclasses import dataclass

from ..base import check_positive, pair

__all__ = ["SWGLayer", "ring_rows"]


@dataclass(frozen=True, eq=False)
class SWGLayer:
    """Sliding-window generator: an image stream in, the windows of a convolution out.

    The input is a ``channels x height x width`` image, pixels in raster order, each pixel
    ``CF = channels / simd`` transfers of ``simd`` elements of ``elem_bits`` bits. The output
    is, for each output pixel in raster order, the window rows ``ky``, columns ``kx`` and
    channel folds ``cf`` in that order: ``KH * KW * CF`` transfers of ``simd`` elements, so that
    element ``(ky * KW + kx) * channels + c`` of an MVTU input vector is channel ``c`` of the
    image pixel ``(oy * SH + ky - PH, ox * SW + kx - PW)``. Pixels outside the image (the
    padding) are all-zero elements: -1 in bipolar encoding, 0 in binary or integer encoding.

    Parameters
    ----------
    channels, height, width : input image shape.
    kernel, stride, padding : (rows, columns) each; an integer means the same for both.
    simd : elements per transfer; divides ``channels``.
    elem_bits : bits per element (1 for binary activations, e.g. 8 for an integer input).
    """
    name: str
    channels: int
    height: int
    width: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    simd: int = 1
    elem_bits: int = 1
    op = "swg"

    def __post_init__(self):
        for field_name in ("kernel", "stride", "padding"):
            object.__setattr__(self, field_name, pair(getattr(self, field_name), field_name))
        check_positive(self, "channels", "height", "width", "simd", "elem_bits")
        if min(self.kernel) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"kernel and stride must be positive and padding non-negative, not "
                             f"{self.kernel!r}, {self.stride!r}, {self.padding!r}")
        if self.channels % self.simd:
            raise ValueError(f"simd must divide channels={self.channels}, not {self.simd!r}")
        if self.padding[0] >= self.kernel[0] or self.padding[1] >= self.kernel[1]:
            raise ValueError(f"padding must be smaller than the kernel, not {self.padding!r}")
        if self.out_height < 1 or self.out_width < 1:
            raise ValueError(f"kernel {self.kernel} does not fit a {self.height}x{self.width} "
                             f"image with padding {self.padding}")

    @property
    def out_height(self) -> int:
        return (self.height + 2 * self.padding[0] - self.kernel[0]) // self.stride[0] + 1

    @property
    def out_width(self) -> int:
        return (self.width + 2 * self.padding[1] - self.kernel[1]) // self.stride[1] + 1

    @property
    def cf(self) -> int:
        """Channel fold: transfers per pixel."""
        return self.channels // self.simd

    @property
    def window_elements(self) -> int:
        """Elements of one window: the MVTU's ``mw``."""
        return self.kernel[0] * self.kernel[1] * self.channels

    @property
    def in_elements(self) -> int:
        return self.channels * self.height * self.width

    @property
    def out_elements(self) -> int:
        return self.window_elements * self.out_height * self.out_width

    def expected_cycles(self) -> int:
        """Cycles per frame at full rate: the busier of its two streams."""
        return max(self.in_elements, self.out_elements) // self.simd

    def _meta(self) -> dict:
        return {"op": self.op, "name": self.name, "channels": self.channels,
                "height": self.height, "width": self.width, "kernel": list(self.kernel),
                "stride": list(self.stride), "padding": list(self.padding), "simd": self.simd,
                "elem_bits": self.elem_bits}


def ring_rows(layer: SWGLayer) -> int:
    """Image rows the line buffer holds: a power of two of at least KH + max(KH, SH), so that
    the next output row's input (SH rows), and the next frame's first window rows (KH), arrive
    while the current ones are read."""
    rows = 1
    while rows < layer.kernel[0] + max(layer.kernel[0], layer.stride[0]):
        rows *= 2
    return rows
