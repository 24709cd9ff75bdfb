"""Streaming max-pool (FINN's StreamingMaxPool): an OR per window of one-bit activations, an
unsigned maximum per window of multi-bit ones (an OR of each bit with ``bitwise``)."""
from amaranth.hdl import Cat, Module, Mux, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .layer import MaxPoolLayer
from ...lib.pooling import pool_windows

__all__ = ["MaxPool"]


class MaxPool(wiring.Component):
    """Maximum of each ``KH x KW`` window of an image, stride equal to the kernel: the OR of
    one-bit elements, the unsigned maximum of ``elem_bits``-bit ones.

    One row of partial results (``out_width * CF`` words of ``pe`` elements) is kept; every
    input transfer is merged into its window's word, and the window's last transfer leaves as
    an output transfer instead (:func:`hwgen.lib.pooling.pool_windows`). Input outside the last
    whole window is consumed and dropped.

    Parameters
    ----------
    layer : :class:`hwgen.ir.MaxPoolLayer`

    Attributes
    ----------
    i : ``In(stream.Signature(unsigned(pe * elem_bits)))``
        Image transfers: pixels in raster order, ``pe`` channels per transfer, channel ``c``'s
        element at bits ``c*elem_bits ..``.
    o : ``Out(stream.Signature(unsigned(pe * elem_bits)))``
        Pooled transfers in the same order, registered, with a skid register behind the
        output register. Input is accepted every cycle but when a window's last transfer
        meets a full skid register.
    """

    def __init__(self, layer: MaxPoolLayer):
        if not isinstance(layer, MaxPoolLayer):
            raise TypeError(f"layer must be a MaxPoolLayer, not {layer!r}")
        self.layer = layer
        width = layer.pe * layer.elem_bits
        super().__init__({"i": In(stream.Signature(unsigned(width))),
                          "o": Out(stream.Signature(unsigned(width)))})

    def expected_cycles(self) -> int:
        return self.layer.expected_cycles()

    def elaborate(self, platform):
        layer = self.layer
        m = Module()

        def merge(previous, payload):
            if layer.elem_bits == 1 or layer.bitwise:       # each bit's maximum: an OR
                return previous | payload
            bits = layer.elem_bits
            lanes = [(previous[c * bits:(c + 1) * bits], payload[c * bits:(c + 1) * bits])
                     for c in range(layer.pe)]
            return Cat(*(Mux(new > old, new, old) for old, new in lanes))

        pool_windows(m, layer, self.i, self.o, merge, partial_width=layer.pe * layer.elem_bits)
        return m
