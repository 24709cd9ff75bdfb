"""The streaming ops: one package per op, one registry.

Each op's package holds everything about it: its IR layer (``layer.py``, a frozen dataclass),
its integer-exact golden model (``golden.py``), its Amaranth block(s) (``hw.py``; a second
backend beside it, as the MVTU's compute-in-memory macro in ``cim.py``), its cost model
(``cost.py``), and the :class:`Op` subclass in its ``__init__.py`` that answers every question
the rest of hwgen asks about it: output shape (:meth:`Op.output`), stream transfers, the FIFO
it needs in front, golden model, block and cost on an FPGA family (:class:`hwgen.target.Target`:
both ask it where memories go), foldings, and how it is stored in an IR file. Cycles per frame
are the layer's own ``expected_cycles()``. :mod:`.costing` holds the counting the cost models
share.

:data:`REGISTRY` maps op names to their :class:`Op`; :func:`op_for` finds a layer's. The IR
(:mod:`hwgen.ir`), the golden model of a graph (:mod:`hwgen.golden`), the network assembly
(:mod:`hwgen.hw.network`), folding (:mod:`hwgen.passes.fold`) and the estimates
(:mod:`hwgen.estimate`) dispatch through it; a layer no op answers for is one
:class:`UnknownOpError` wherever it turns up.

Adding an op
------------
1. Make ``hwgen/ops/<name>/`` with ``layer.py`` (the frozen dataclass of its parameters, with
   ``op = "<name>"``, its checks in ``__post_init__``, ``expected_cycles()`` and ``meta()``
   for a graph layer), ``golden.py``, ``hw.py`` (a ``wiring.Component`` with stream ports
   ``i`` and ``o``; a join of several streams, as ``add`` and ``concat``, has ``i0``, ``i1``,
   ... and sets :attr:`Op.inputs`), ``cost.py`` (``terms`` and ``resources`` on a target),
   and in ``__init__.py`` a subclass of :class:`Op` answering its methods.
2. Add one line to :data:`REGISTRY` below.
3. Add tests beside the others (``tests/ops/test_<name>.py``): block against golden on
   Verilator, with idle input and backpressure; a corrupted expectation must fail.
See ``docs/adding-an-op.md`` for a walk through.
"""
from .base import (ENCODINGS, MAX_MEMORY_BITS, Activation, Op, Transfer, UnknownOpError,
                   divisors)
from .add import AddLayer, AddOp
from .avgpool import AvgPoolLayer, AvgPoolOp
from .concat import ConcatLayer, ConcatOp
from .dwc import DWCLayer, DWCOp
from .fifo import FIFOLayer, FIFOOp
from .fork import ForkLayer, ForkOp
from .label_select import LabelSelectLayer, LabelSelectOp
from .maxpool import MaxPoolLayer, MaxPoolOp
from .mvtu import MVTU_ENCODINGS, RAM_STYLES, MVTULayer, MVTUOp
from .smvtu import SharedMVTULayer, SharedMVTUOp
from .swg import SWGLayer, SWGOp
from .vvau import VVAULayer, VVAUOp

__all__ = ["REGISTRY", "op_for", "graph_ops", "Op", "Activation", "Transfer", "UnknownOpError",
           "ENCODINGS", "MVTU_ENCODINGS", "RAM_STYLES", "MAX_MEMORY_BITS", "divisors",
           "MVTULayer", "SharedMVTULayer", "SWGLayer", "MaxPoolLayer", "AvgPoolLayer",
           "VVAULayer", "AddLayer", "ConcatLayer", "FIFOLayer", "DWCLayer", "ForkLayer",
           "LabelSelectLayer"]

#: Every op, by name.
REGISTRY: dict[str, Op] = {op.name: op for op in (
    MVTUOp(),
    SharedMVTUOp(),
    SWGOp(),
    MaxPoolOp(),
    AvgPoolOp(),
    VVAUOp(),
    AddOp(),
    ConcatOp(),
    FIFOOp(),
    DWCOp(),
    ForkOp(),
    LabelSelectOp(),
)}


def graph_ops() -> dict[str, Op]:
    """The ops whose layers a graph may hold, by name."""
    return {name: op for name, op in REGISTRY.items() if op.graph_layer}


def op_for(layer) -> Op:
    """The op of ``layer`` (a layer, or an op name).

    Raises
    ------
    UnknownOpError
        No registered op has that name, or ``layer`` is not an instance of its op's layer
        class.
    """
    name = layer if isinstance(layer, str) else getattr(layer, "op", None)
    op = REGISTRY.get(name) if isinstance(name, str) else None
    if op is None or not (isinstance(layer, str) or isinstance(layer, op.layer)):
        what = repr(layer) if isinstance(layer, str) else type(layer).__name__
        raise UnknownOpError(f"no op for {what} (ops: {', '.join(REGISTRY)})")
    return op
