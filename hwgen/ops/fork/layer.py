"""The parameters of a stream fork: one stream duplicated to several consumers."""
from dataclasses import dataclass

from ..base import check_positive

__all__ = ["ForkLayer"]


@dataclass(frozen=True)
class ForkLayer:
    """A fork of a stream of transfers of ``elements`` elements of ``bits`` bits to
    ``outputs`` consumers (two or more), each of which gets every transfer once."""
    name: str
    elements: int
    bits: int
    outputs: int
    op = "fork"

    def __post_init__(self):
        check_positive(self, "elements", "bits", "outputs")
        if self.outputs < 2:
            raise ValueError(f"outputs must be 2 or more, not {self.outputs!r}")

    @property
    def width(self) -> int:
        """Payload bits of a transfer."""
        return self.elements * self.bits
