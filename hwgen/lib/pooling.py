"""The streaming window reduction both pooling blocks build on: kernel-sized windows, stride
equal to the kernel, over an image streamed in raster order with ``pe`` channels a transfer."""
from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import memory

from .skid import skid_output

__all__ = ["pool_windows"]


def pool_windows(m: Module, layer, i, o, merge, *, partial_width: int) -> None:
    """Reduce each ``KH x KW`` window of ``layer``'s image on the stream ``i`` into one output
    transfer on ``o``.

    One row of partial results (``out_width * CF`` words of ``partial_width`` bits) is kept;
    ``merge(previous, payload)`` combines a window's partial word (0 for its first transfer)
    with an input transfer into the next partial word, ``partial_width`` bits; the window's
    last transfer leaves as an output transfer (the merged word) instead of being written back.
    Input outside the last whole window is consumed and dropped. The output is registered,
    with a skid register behind it (:func:`hwgen.lib.skid.skid_output`): input is accepted
    every cycle but when a window's last transfer meets a full skid register.

    ``layer`` gives the shape: ``height``, ``width``, ``kernel``, ``cf`` (channel folds),
    ``out_height``, ``out_width``.
    """
    (kh, kw), cf_count = layer.kernel, layer.cf
    m.submodules.partial = partial = memory.Memory(
        shape=partial_width, depth=layer.out_width * cf_count, init=[])
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
    pooled = Signal(partial_width)
    previous = Mux(first, 0, read.data)
    m.d.comb += [
        inside.eq((y < layer.out_height * kh) & (ox < layer.out_width)),
        first.eq((ky == 0) & (kx == 0)),
        last.eq(inside & (ky == kh - 1) & (kx == kw - 1)),
        # A window's last transfer leaves as output: it waits for room (``advance``).
        i.ready.eq(~last | advance),
        take.eq(i.valid & i.ready),
        read.addr.eq(ox * cf_count + cf),
        pooled.eq(Value.cast(merge(previous, i.payload))),
        write.addr.eq(read.addr),
        write.data.eq(pooled),
        write.en.eq(take & inside & ~last),
    ]
    # ``i.ready`` comes from registers, not through ``o.ready``.
    m.d.comb += advance.eq(skid_output(m, o, pooled, take & last))

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
