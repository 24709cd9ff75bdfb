"""The parameters of the label select that ends a network."""
from dataclasses import dataclass

from ..base import check_positive

__all__ = ["LabelSelectLayer"]


@dataclass(frozen=True)
class LabelSelectLayer:
    """The argmax of ``classes`` signed ``logit_bits``-bit logits arriving ``pe`` per
    transfer."""
    name: str
    classes: int
    pe: int
    logit_bits: int
    op = "label_select"

    def __post_init__(self):
        check_positive(self, "classes", "pe", "logit_bits")
        if self.classes % self.pe:
            raise ValueError(f"pe must divide classes={self.classes}, not {self.pe!r}")
