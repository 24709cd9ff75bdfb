"""The parameters of a stream width converter."""
import math
from dataclasses import dataclass

from ..base import check_positive

__all__ = ["DWCLayer", "dwc_capacity"]


@dataclass(frozen=True)
class DWCLayer:
    """Transfers of ``in_elements`` elements of ``bits`` bits re-chunked into transfers of
    ``out_elements``; with ``vector`` and ``padded``, each vector of ``vector`` elements is
    followed by ``padded - vector`` zero elements (a cim MVTU's partial wordline group)."""
    name: str
    in_elements: int
    out_elements: int
    bits: int
    vector: int | None = None
    padded: int | None = None
    op = "dwc"

    def __post_init__(self):
        check_positive(self, "in_elements", "out_elements", "bits")
        if (self.vector is None) != (self.padded is None):
            raise ValueError("vector and padded are given together or not at all")
        if self.vector is not None:
            check_positive(self, "vector", "padded")
            if self.vector % self.in_elements or self.padded % self.out_elements \
                    or self.padded <= self.vector:
                raise ValueError(f"a padding converter takes whole vectors of {self.vector} "
                                 f"elements in transfers of {self.in_elements} and pads them "
                                 f"to more, whole transfers of {self.out_elements}, not "
                                 f"{self.padded}")

    @property
    def pad_width(self) -> int:
        """Bits of zeros after each vector (0: no padding)."""
        return 0 if self.vector is None else (self.padded - self.vector) * self.bits

    @property
    def vector_width(self) -> int | None:
        """Bits per vector before padding (None: no padding)."""
        return None if self.vector is None else self.vector * self.bits

    @property
    def in_width(self) -> int:
        return self.in_elements * self.bits

    @property
    def out_width(self) -> int:
        return self.out_elements * self.bits


def dwc_capacity(in_width: int, out_width: int, pad_width: int = 0) -> int:
    """Bits a :class:`~hwgen.ops.dwc.hw.WidthConverter` buffers: ``in_width + out_width``, and
    ``min(in_width, out_width) - gcd(in_width, out_width)`` more (none when one width divides
    the other), and a vector's padding (``pad_width``). Its ``i.ready`` asks for room before
    this cycle's output leaves; with this much room the narrower side still moves every cycle
    while ``o.ready`` stays high."""
    return (in_width + out_width + min(in_width, out_width) - math.gcd(in_width, out_width)
            + pad_width)
