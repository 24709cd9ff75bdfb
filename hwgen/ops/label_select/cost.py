"""The label select's cost model: not modelled.

No configuration of :class:`~hwgen.ops.label_select.hw.LabelSelect` has been synthesised to
calibrate a structural estimate against (``bench/estimate_calibration.py`` has none), so its
resources count as zero; a network's estimate leaves it out, as it always has. It is a compare
tree over one frame's logits and a result register: small beside the layers.
"""
from ...target import Resources, Target
from .layer import LabelSelectLayer

__all__ = ["terms", "resources"]


def terms(layer: LabelSelectLayer, target: Target) -> dict[str, float]:
    """No terms: the label select is not modelled (see the module docstring)."""
    return {}


def resources(layer: LabelSelectLayer, target: Target) -> Resources:
    """Zero: the label select is not modelled (see the module docstring)."""
    return Resources()
