"""The parameters of a stream FIFO between two layers."""
from dataclasses import dataclass

from ..base import check_positive

__all__ = ["FIFOLayer"]


@dataclass(frozen=True)
class FIFOLayer:
    """A FIFO of ``depth`` transfers of ``elements`` elements of ``bits`` bits.

    ``monitored``: the FIFO reports its fill level and takes a run-time limit (FIFO sizing).
    """
    name: str
    elements: int
    bits: int
    depth: int
    monitored: bool = False
    op = "fifo"

    def __post_init__(self):
        check_positive(self, "elements", "bits", "depth")

    @property
    def width(self) -> int:
        return self.elements * self.bits
