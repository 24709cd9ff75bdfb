"""What every op is and answers: the :class:`Op` interface, the :class:`Activation` that flows
between ops, and the element encodings they share."""
import math
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from ..errors import HwgenError
from ..target import Resources, Target

__all__ = ["ENCODINGS", "Activation", "Transfer", "Op", "UnknownOpError", "check_positive",
           "is_count", "pair", "bits_for", "signed_bits", "divisors", "unpack_bits",
           "MAX_MEMORY_BITS"]

#: Activation encodings of a layer's input elements. ``bipolar``: one bit, 1 means +1 and 0
#: means -1. ``binary``: one bit, 1 means 1 and 0 means 0 (a zero drives no wordline in a CIM
#: macro). ``uint``: an unsigned integer of some bits (pixels, features, multi-bit
#: activations).
ENCODINGS = ("bipolar", "binary", "uint")


def bits_for(value: int) -> int:
    """Width of an unsigned integer holding ``0 .. value``."""
    return max(1, int(value).bit_length())


def signed_bits(low: int, high: int) -> int:
    """Width of a two's-complement integer holding ``low .. high``."""
    return max(bits_for(high), bits_for(-low - 1) if low < 0 else 0) + 1


def is_count(value) -> bool:
    """Whether ``value`` is a positive integer (not a bool): an IR entry's count."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_positive(layer, *names: str):
    """ValueError unless each field ``names`` of ``layer`` is a positive integer."""
    for name in names:
        value = getattr(layer, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")


def pair(value, name: str) -> tuple[int, int]:
    """``(rows, columns)`` of an integer (both) or a pair of integers."""
    result = (value, value) if isinstance(value, int) else tuple(value)
    if len(result) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in result):
        raise ValueError(f"{name} must be an integer or a pair of integers, not {value!r}")
    return result


@dataclass(frozen=True)
class Activation:
    """What flows between two layers: per frame, ``height x width`` pixels in raster order of
    ``channels`` elements each (channels innermost), in ``encoding`` with ``bits`` per element
    (``int``: a last layer's signed dot products).

    ``windowed``: the pixels are a sliding-window generator's windows (one per output pixel of
    a convolution, ``channels`` = window elements), to be consumed by an MVTU.
    """
    channels: int
    height: int
    width: int
    encoding: str
    bits: int
    windowed: bool = False

    @property
    def pixels(self) -> int:
        return self.height * self.width

    @property
    def elements(self) -> int:
        return self.channels * self.height * self.width


class Transfer(NamedTuple):
    """One transfer of a stream: ``elements`` elements of ``bits`` bits, element 0 at bit 0."""
    elements: int
    bits: int

    @property
    def width(self) -> int:
        """Payload bits."""
        return self.elements * self.bits


class UnknownOpError(HwgenError, TypeError):
    """A layer or op name no registered op answers for."""


class Op:
    """The questions every op answers, after FINN's ``HWCustomOp``: one subclass per op, in
    the op's own package beside its layer (``layer.py``), golden model (``golden.py``),
    Amaranth block (``hw.py``) and cost model (``cost.py``). Every consumer (IR files, the
    golden model, the network assembly, folding, FIFO sizing, estimates, the report) asks the
    op through :data:`hwgen.ops.REGISTRY`, never ``isinstance``. The block and the cost model
    take the FPGA family's :class:`~hwgen.target.Target`: both ask it where memories go.

    Ops whose :attr:`graph_layer` is False (FIFO, width converter, label select) are placed by
    the network assembly between and after the graph's layers; their "layer" is the frozen
    dataclass of their parameters.
    """
    #: The op's name: the ``op`` of its layers, the key in the registry and in IR files.
    name: ClassVar[str]
    #: The frozen dataclass of the op's layers (its parameters).
    layer: ClassVar[type]
    #: Whether a graph may hold the op's layers (else only the network assembly places them).
    graph_layer: ClassVar[bool] = True
    #: Whether the op computes dot products (a matrix layer: a conv or linear layer of the
    #: model), which its golden model appends to ``dots``.
    matrix: ClassVar[bool] = False
    #: How many streams the op's layers read: 1, or 0 for "two or more" (a join such as the
    #: residual add or the concatenation). An op reading several streams takes a list of
    #: activations in :meth:`output` and of tensors in :meth:`golden` (one per input, in the
    #: order of the graph's ``inputs``), answers :meth:`in_transfers` (one per input) and
    #: builds a block with input ports ``i0``, ``i1``, ... instead of ``i``.
    inputs: ClassVar[int] = 1

    # --- shapes and streams -------------------------------------------------------------
    def output(self, layer, x: Activation) -> Activation:
        """The activation ``layer`` makes of ``x``; ValueError (naming the layer) where they
        do not fit."""
        raise NotImplementedError

    def in_transfer(self, layer) -> Transfer:
        """One transfer of the input stream."""
        raise NotImplementedError

    def out_transfer(self, layer) -> Transfer:
        """One transfer of the output stream."""
        raise NotImplementedError

    def in_transfers(self, layer) -> list[Transfer]:
        """One transfer of each input stream, in the order of the block's ports (``i``, or
        ``i0``, ``i1``, ...)."""
        return [self.in_transfer(layer)]

    def in_padding(self, layer, port: int = 0) -> tuple[int, int] | None:
        """``(elements, padded)`` where input ``port`` reads each vector of ``elements``
        elements padded with zeros to ``padded`` on its stream (a cim MVTU's partial wordline
        group): the width converter in front of it appends them. None: no padding."""
        return None

    def input_count(self, layer) -> int:
        """How many streams ``layer`` reads."""
        return len(self.in_transfers(layer))

    def describe(self, layer) -> str:
        """The layer's shape in a few words, for a report's table."""
        return self.name

    def min_depth_before(self, layer) -> int:
        """Least depth of the FIFO in front of ``layer`` for it to run at full rate alone."""
        return 1

    # --- reference and hardware ---------------------------------------------------------
    def golden(self, layer, x, dots: list | None = None):
        """The layer's output (N, elements) in stream order for input ``x`` (N, elements),
        integer-exact (torch); a layer that computes dot products appends them to ``dots``."""
        raise NotImplementedError

    def block(self, layer, target: Target):
        """The Amaranth component that streams ``layer``, built for ``target`` (an op whose
        block does not depend on the FPGA family ignores it; the MVTU puts its memories where
        the target says)."""
        raise NotImplementedError

    # --- cost ---------------------------------------------------------------------------
    def terms(self, layer, target: Target) -> dict[str, float]:
        """The counts the LUT estimate of ``layer``'s block weighs with
        ``target.coefficients[<op name>]`` (the op's ``cost.py``)."""
        raise NotImplementedError

    def resources(self, layer, target: Target) -> Resources:
        """Estimated resources of ``layer``'s block on ``target`` (the op's ``cost.py``):
        counted from the structure the block builds, its memories placed and priced by the
        target, its LUTs from :meth:`terms` and the target's coefficients."""
        raise NotImplementedError

    # --- folding ------------------------------------------------------------------------
    def folding(self, layer) -> dict:
        """The layer's folding fields and values (``{}`` when it has none)."""
        return {}

    def foldings(self, layer, *, max_pe_simd: int) -> list[dict]:
        """Every folding the layer's shape allows (field changes), least parallel first."""
        return [self.folding(layer)]

    def folding_limit(self, layer, best: dict, *, max_pe_simd: int) -> str:
        """Why the layer is no faster than at folding ``best``, in words."""
        return "its fastest folding"

    # --- QONNX --------------------------------------------------------------------------
    def qonnx(self, layer, builder, x, activation):
        """Write ``layer`` into the QONNX graph ``builder`` (a
        :class:`hwgen.qonnx.Builder`, whose docstring has the tensors' conventions) on its
        input tensor ``x`` (a list of them for an op reading several streams), whose
        activation is ``activation`` (a list likewise); returns the output tensor, holding
        what :meth:`golden` computes (the op's ``qonnx.py``)."""
        raise UnknownOpError(f"layer {layer.name!r}: a {self.name} has no QONNX form")

    # --- IR files -----------------------------------------------------------------------
    #: Fields an IR file holds as arrays of their own rather than in the layer's header entry.
    array_fields: ClassVar[tuple[str, ...]] = ()

    def meta(self, layer) -> dict:
        """The layer's header entry in an IR file: ``op`` and its fields but the arrays."""
        return layer._meta()

    def arrays(self, layer, prefix: str) -> dict:
        """The layer's arrays for an IR file, named ``prefix.<name>``."""
        return {}

    def check_entry(self, entry: dict) -> str | None:
        """What is wrong with a header entry (``op`` removed) beyond its field names: sizes
        no device holds, checked before anything is allocated; None when nothing is."""
        return None

    def from_entry(self, entry: dict, prefix: str, arrays: dict):
        """The layer of a header entry (``op`` removed), with the file's arrays."""
        return self.layer(**entry)


def unpack_bits(arrays: dict, name: str, rows: int, columns: int):
    """The bool-like uint8 array (rows, columns) an IR file holds bit-packed along its rows as
    ``arrays[name]``; ValueError naming the array where it is missing or of another shape,
    checked before it is unpacked."""
    packed = (rows, -(-columns // 8))
    if name not in arrays:
        raise ValueError(f"its weights ({name}) are missing")
    if arrays[name].shape != packed or arrays[name].dtype != np.uint8:
        raise ValueError(f"its packed weights {name} are {arrays[name].dtype} "
                         f"{arrays[name].shape}, not uint8 {packed}")
    return np.unpackbits(arrays[name], axis=1, count=columns).astype(np.uint8)


def divisors(n: int) -> list[int]:
    """The divisors of ``n``, ascending: the foldings of a dimension of ``n``."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


#: Bits of one layer's weights (``mh x mw x`` weight bits) or of one macro's cells an IR file
#: may describe: far beyond what any FPGA holds, so that a damaged or crafted file is refused
#: with its figure before anything is allocated.
MAX_MEMORY_BITS = 1 << 30
