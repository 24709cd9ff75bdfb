"""What the pooling ops share (``maxpool``, ``avgpool``): the window arithmetic of their layers
(:class:`PoolShape`) and the questions their ops answer alike (:class:`PoolOp`); their blocks
share :func:`hwgen.lib.pooling.pool_windows`, their cost models
:func:`hwgen.ops.costing.pool_terms`."""
from .base import Activation, Op, Transfer, check_positive, divisors, pair

__all__ = ["PoolShape", "PoolOp"]


class PoolShape:
    """The window arithmetic of a pooling layer with ``channels``, ``height``, ``width``,
    ``kernel`` (rows, columns; stride equal to it) and ``pe`` channels a transfer: rows and
    columns beyond the last whole window are dropped (floor)."""

    def check_shape(self) -> None:
        """Normalise ``kernel`` to a pair and check the shape (a frozen dataclass's
        ``__post_init__`` calls it); ValueError quoting the bad value."""
        object.__setattr__(self, "kernel", pair(self.kernel, "kernel"))
        check_positive(self, "channels", "height", "width", "pe", "elem_bits")
        if min(self.kernel) < 1 or self.out_height < 1 or self.out_width < 1:
            raise ValueError(f"kernel must be positive and fit a {self.height}x{self.width} "
                             f"image, not {self.kernel!r}")
        if self.channels % self.pe:
            raise ValueError(f"pe must divide channels={self.channels}, not {self.pe!r}")

    @property
    def out_height(self) -> int:
        return self.height // self.kernel[0]

    @property
    def out_width(self) -> int:
        return self.width // self.kernel[1]

    @property
    def cf(self) -> int:
        """Channel folds: transfers a pixel takes."""
        return self.channels // self.pe

    @property
    def in_elements(self) -> int:
        return self.channels * self.height * self.width

    @property
    def out_elements(self) -> int:
        return self.channels * self.out_height * self.out_width

    def expected_cycles(self) -> int:
        """Cycles per frame at full rate: one input transfer per cycle."""
        return self.in_elements // self.pe


class PoolOp(Op):
    """A pooling op: ``pe`` channels per transfer in, an image of activations in, folded by
    ``pe`` alone."""

    def check_input(self, layer, x: Activation, what: str) -> None:
        """ValueError (naming the layer) unless ``x`` is the image ``layer`` pools."""
        where = f"layer {layer.name!r}"
        if x.windowed or x.encoding == "int":
            raise ValueError(f"{where}: {what} takes an image of activations")
        if layer.elem_bits != x.bits:
            raise ValueError(f"{where} has elem_bits={layer.elem_bits}, but its input has "
                             f"{x.bits} bits per element")
        if (layer.channels, layer.height, layer.width) != (x.channels, x.height, x.width):
            raise ValueError(f"{where} expects a {layer.channels}x{layer.height}x{layer.width} "
                             f"image, but its input is {x.channels}x{x.height}x{x.width}")

    def in_transfer(self, layer) -> Transfer:
        return Transfer(layer.pe, layer.elem_bits)

    def describe(self, layer) -> str:
        kernel = "x".join(str(k) for k in layer.kernel)
        return f"{layer.channels}x{layer.height}x{layer.width}, {kernel} kernel"

    def folding(self, layer) -> dict:
        return {"pe": layer.pe}

    def foldings(self, layer, *, max_pe_simd: int) -> list[dict]:
        """``pe`` dividing ``channels``."""
        return [{"pe": pe} for pe in divisors(layer.channels)]

    def folding_limit(self, layer, best: dict, *, max_pe_simd: int) -> str:
        return f"pe = channels, {layer.in_elements} elements/frame"
