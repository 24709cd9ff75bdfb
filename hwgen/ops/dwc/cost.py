"""The width converter's cost model: the resources of its block
(:class:`~hwgen.ops.dwc.hw.WidthConverter`), counted from the structure it builds; its LUTs
weighed by ``target.coefficients["dwc"]``."""
import math

from ...target import Resources, Target
from ..costing import luts
from .layer import DWCLayer, dwc_capacity

__all__ = ["terms", "resources"]


def terms(layer: DWCLayer, target: Target) -> dict[str, float]:
    """LUT terms of a :class:`~hwgen.ops.dwc.hw.WidthConverter`: an input word lands at one of
    the fill levels the buffer can have when it arrives (0 .. capacity - in, steps of
    ``gcd(in, out)``); when splitting, Yosys folds the level's decode into every buffered bit's
    shift multiplexer; the extra room of widths that do not divide each other. (No term
    depends on the target: it only prices them.)"""
    in_width, out_width = layer.in_width, layer.out_width
    step = math.gcd(in_width, out_width)
    capacity = dwc_capacity(in_width, out_width, layer.pad_width)
    positions = (capacity - in_width) // step + 1
    level_bits = (capacity // step).bit_length()
    # A padding converter's word counter and its second fill-level sums.
    words = 0 if layer.vector is None else layer.vector // layer.in_elements
    return {"shift": in_width * positions, "capacity": capacity,
            "split": capacity * level_bits if in_width > out_width else 0,
            "odd": capacity if min(in_width, out_width) != step else 0,
            "control": 1 + (2 * max(1, (words - 1).bit_length()) + 2 * level_bits
                            if words else 0)}


def resources(layer: DWCLayer, target: Target) -> Resources:
    """Resources of a :class:`~hwgen.ops.dwc.hw.WidthConverter`: none where the widths are
    equal (the network places none); else its buffer and fill level."""
    in_width, out_width = layer.in_width, layer.out_width
    if in_width == out_width and layer.vector is None:
        return Resources()
    capacity = dwc_capacity(in_width, out_width, layer.pad_width)
    levels = capacity // math.gcd(in_width, out_width)      # the level counts steps of gcd
    counter = 0 if layer.vector is None else max(1, (layer.vector // layer.in_elements
                                                     - 1).bit_length())
    return Resources(luts(target, "dwc", terms(layer, target)),
                     capacity + levels.bit_length() + counter, 0)
