"""The parameters of a stream width converter."""
from dataclasses import dataclass

from ..base import check_positive

__all__ = ["DWCLayer"]


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
