"""Streaming average pool with an integer result: the sum of each window's element codes."""
from amaranth.hdl import Cat, Module, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .layer import AvgPoolLayer
from ...lib.pooling import pool_windows

__all__ = ["AvgPool"]


class AvgPool(wiring.Component):
    """Sum of each ``KH x KW`` window of an image's element codes, stride equal to the kernel.

    One row of partial sums (``out_width * CF`` words of ``pe`` sums of ``out_bits`` bits) is
    kept; every input transfer is added into its window's word, and the window's last transfer
    leaves as an output transfer instead (:func:`hwgen.lib.pooling.pool_windows`). Input
    outside the last whole window is consumed and dropped.

    Parameters
    ----------
    layer : :class:`hwgen.ops.AvgPoolLayer`

    Attributes
    ----------
    i : ``In(stream.Signature(unsigned(pe * elem_bits)))``
        Image transfers: pixels in raster order, ``pe`` channels per transfer, channel ``c``'s
        element at bits ``c*elem_bits ..``.
    o : ``Out(stream.Signature(unsigned(pe * out_bits)))``
        Window sums in the same order, channel ``c``'s at bits ``c*out_bits ..``; registered,
        with a skid register behind the output register. Input is accepted every cycle but
        when a window's last transfer meets a full skid register.
    """

    def __init__(self, layer: AvgPoolLayer):
        if not isinstance(layer, AvgPoolLayer):
            raise TypeError(f"layer must be an AvgPoolLayer, not {layer!r}")
        self.layer = layer
        super().__init__({"i": In(stream.Signature(unsigned(layer.pe * layer.elem_bits))),
                          "o": Out(stream.Signature(unsigned(layer.pe * layer.out_bits)))})

    def expected_cycles(self) -> int:
        return self.layer.expected_cycles()

    def elaborate(self, platform):
        layer = self.layer
        m = Module()
        eb, ob = layer.elem_bits, layer.out_bits

        def merge(previous, payload):
            # Each lane's sum stays below 2**out_bits: the window's largest fits by definition.
            return Cat(*((previous[c * ob:(c + 1) * ob] + payload[c * eb:(c + 1) * eb])[:ob]
                         for c in range(layer.pe)))

        pool_windows(m, layer, self.i, self.o, merge, partial_width=layer.pe * ob)
        return m
