"""What a cim layer costs per inference: reads, ADC conversions, driven wordlines, energy and
latency, from the macro's geometry (:class:`~hwgen.cim.MacroSpec`), the layer's shape and
the activations it reads (a ``binary`` input of 0 drives no wordline).

Per inference a layer of ``P`` input vectors (pixels), ``S = ceil(mw / wordlines)`` groups, ``mh``
neurons of ``wb``-bit weights (``wb`` columns each) and ``ab``-bit activations makes

* ``reads = P * S * ab * T`` wordline-group reads, ``T = ceil(mh * wb / columns)`` the column
  tiles a group's rows are read for;
* ``conversions = P * S * ab * mh * wb``, one per column per read;
* ``a`` driven wordlines per read (every row of the group for ``bipolar`` inputs: the
  ``wordlines``, fewer in a partial last group; the group's non-zero inputs for ``binary``
  ones: measured on the given input vectors).

Energy (the constants are the ``cim`` section's cost keys; docs/cim-cost.md has the model and
the sources of their defaults)::

    E_adc        = conversions * adc_fom_fj * 2**adc_bits        # Walden FOM, per conversion
    E_array      = sum over reads of a * (wordline_fj + cell_fj * columns read)
    E_accumulate = conversions * accumulate_fj                   # each code added digitally
    latency      = reads * read_ns                               # one macro, reads in turn
"""
import math
from dataclasses import asdict, dataclass

import numpy as np

from .macro import MacroSpec, activation_planes

__all__ = ["LayerCost", "layer_cost", "COST_KEYS"]

#: The figures :func:`layer_cost` gives, in a table's order.
COST_KEYS = ("reads", "conversions", "active_rows", "adc_pj", "array_pj", "accumulate_pj",
             "energy_pj", "latency_ns")


@dataclass(frozen=True)
class LayerCost:
    """One cim layer's cost per inference."""
    name: str
    reads: int
    conversions: int
    #: Mean driven wordlines per read.
    active_rows: float
    adc_pj: float
    array_pj: float
    accumulate_pj: float
    energy_pj: float
    latency_ns: float

    def to_dict(self) -> dict:
        return asdict(self)


def _active_rows(macro: MacroSpec, layer, inputs) -> float:
    """Mean driven wordlines per read over the input vectors ``inputs`` (N, pixels *
    in_elements raw codes; None: every wordline, an upper bound)."""
    if macro.encoding == "bipolar" or inputs is None or len(inputs) == 0:
        return layer.mw / macro.groups(layer.mw)           # each group's rows, on average
    vectors = np.asarray(inputs).reshape(-1, layer.mw)
    planes = activation_planes(macro, vectors)                     # (ab, V, mw)
    padding = macro.groups(layer.mw) * macro.wordlines - layer.mw  # drives nothing
    planes = np.pad(planes, ((0, 0), (0, 0), (0, padding)))
    groups = planes.reshape(planes.shape[0], len(vectors), -1, macro.wordlines)
    return float((groups != 0).sum(axis=3).mean())


def layer_cost(layer, inputs=None, costs: MacroSpec | None = None) -> LayerCost:
    """The cost per inference of the cim MVTU ``layer`` (its ``macro`` gives the geometry,
    ``costs`` the cost constants: default the layer's macro's) reading ``inputs`` (its input
    frames, (N, pixels * in_elements) raw codes; None: every wordline driven)."""
    macro = layer.macro
    if macro is None:
        raise ValueError(f"layer {layer.name!r} is not a cim layer")
    constants = (costs or macro).cost_fields()
    groups, wb, ab = macro.groups(layer.mw), macro.weight_bits, macro.act_bits
    tiles = math.ceil(layer.mh * wb / macro.columns)
    reads = layer.pixels * groups * ab * tiles
    conversions = layer.pixels * groups * ab * layer.mh * wb
    active = _active_rows(macro, layer, inputs)
    columns_read = layer.mh * wb / tiles
    adc = conversions * constants["adc_fom_fj"] * (1 << macro.adc_bits) / 1000
    array = reads * active * (constants["wordline_fj"] + constants["cell_fj"] * columns_read) \
        / 1000
    accumulate = conversions * constants["accumulate_fj"] / 1000
    return LayerCost(name=layer.name, reads=reads, conversions=conversions,
                     active_rows=round(active, 3), adc_pj=round(adc, 3),
                     array_pj=round(array, 3), accumulate_pj=round(accumulate, 3),
                     energy_pj=round(adc + array + accumulate, 3),
                     latency_ns=round(reads * constants["read_ns"], 3))
