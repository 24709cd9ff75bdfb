"""The parameters of a stream width converter."""
import math
from dataclasses import dataclass

from ..base import check_positive

__all__ = ["DWCLayer", "dwc_capacity"]


@dataclass(frozen=True)
class DWCLayer:
    """Transfers of ``in_elements`` elements of ``bits`` bits re-chunked into transfers of
    ``out_elements``."""
    name: str
    in_elements: int
    out_elements: int
    bits: int
    op = "dwc"

    def __post_init__(self):
        check_positive(self, "in_elements", "out_elements", "bits")

    @property
    def in_width(self) -> int:
        return self.in_elements * self.bits

    @property
    def out_width(self) -> int:
        return self.out_elements * self.bits


def dwc_capacity(in_width: int, out_width: int) -> int:
    """Bits a :class:`~hwgen.ops.dwc.hw.WidthConverter` buffers: ``in_width + out_width``, and
    ``min(in_width, out_width) - gcd(in_width, out_width)`` more (none when one width divides
    the other). Its ``i.ready`` asks for room before this cycle's output leaves; with this much
    room the narrower side still moves every cycle while ``o.ready`` stays high."""
    return in_width + out_width + min(in_width, out_width) - math.gcd(in_width, out_width)
