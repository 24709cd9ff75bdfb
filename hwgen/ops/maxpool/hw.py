"""Streaming max-pool (FINN's StreamingMaxPool): an OR per window of one-bit activations, an
unsigned maximum per window of multi-bit ones (an OR of each bit with ``bitwise``)."""
from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .layer import MaxPoolLayer
from ...lib.skid import skid_output

__all__ = ["MaxPool"]


class MaxPool(wiring.Component):
    """Maximum of each ``KH x KW`` window of an image, stride equal to the kernel: the OR of
    one-bit elements, the unsigned maximum of ``elem_bits``-bit ones.

    One row of partial results (``out_width * CF`` words of ``pe`` elements) is kept; every
    input transfer is merged into its window's word, and the window's last transfer leaves as
    an output transfer instead. Input outside the last whole window is consumed and dropped.

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
        (kh, kw), cf_count = layer.kernel, layer.cf
        m = Module()
        m.submodules.partial = partial = memory.Memory(
            shape=unsigned(layer.pe * layer.elem_bits), depth=layer.out_width * cf_count,
            init=[])
        write = partial.write_port()
        read = partial.read_port(domain="comb")

        y = Signal(range(layer.height))
        x = Signal(range(layer.width))
        cf = Signal(range(cf_count))
        ky = Signal(range(kh))
        kx = Signal(range(kw))
        ox = Signal(range(layer.out_width + 1))
        inside = Signal()
        first = Signal()
        last = Signal()
        take = Signal()
        advance = Signal()
        pooled = Signal(layer.pe * layer.elem_bits)
        previous = Mux(first, 0, read.data)
        if layer.elem_bits == 1 or layer.bitwise:       # each bit's maximum: an OR
            merged = previous | self.i.payload
        else:
            bits = layer.elem_bits
            lanes = [(previous[c * bits:(c + 1) * bits], self.i.payload[c * bits:(c + 1) * bits])
                     for c in range(layer.pe)]
            merged = Cat(*(Mux(new > old, new, old) for old, new in lanes))
        m.d.comb += [
            inside.eq((y < layer.out_height * kh) & (ox < layer.out_width)),
            first.eq((ky == 0) & (kx == 0)),
            last.eq(inside & (ky == kh - 1) & (kx == kw - 1)),
            # A window's last transfer leaves as output: it waits for room (``advance``).
            self.i.ready.eq(~last | advance),
            take.eq(self.i.valid & self.i.ready),
            read.addr.eq(ox * cf_count + cf),
            pooled.eq(merged),
            write.addr.eq(read.addr),
            write.data.eq(pooled),
            write.en.eq(take & inside & ~last),
        ]
        # The output register with a skid register behind it (:func:`skid_output`), so that
        # ``i.ready`` comes from registers, not through ``o.ready``.
        m.d.comb += advance.eq(skid_output(m, self.o, pooled, take & last))

        with m.If(take):
            m.d.sync += cf.eq(Mux(cf == cf_count - 1, 0, cf + 1))
            with m.If(cf == cf_count - 1):
                with m.If(x == layer.width - 1):
                    m.d.sync += [x.eq(0), kx.eq(0), ox.eq(0),
                                 y.eq(Mux(y == layer.height - 1, 0, y + 1)),
                                 ky.eq(Mux((ky == kh - 1) | (y == layer.height - 1), 0, ky + 1))]
                with m.Else():
                    m.d.sync += [x.eq(x + 1), kx.eq(Mux(kx == kw - 1, 0, kx + 1)),
                                 ox.eq(Mux(kx == kw - 1, ox + 1, ox))]
        return m
