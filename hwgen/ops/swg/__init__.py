"""The sliding-window generator (SWG): an image stream in, the windows of a convolution out,
for the MVTU behind it (FINN's ConvolutionInputGenerator).

``layer.py`` holds the IR layer (:class:`SWGLayer`), ``golden.py`` its torch model, ``hw.py``
the Amaranth block (:class:`SlidingWindow`), ``cost.py`` its cost model.
"""
import torch

from ...target import Resources, Target
from ..base import Activation, Op, Transfer, divisors
from . import cost
from .golden import swg
from .hw import SlidingWindow
from .layer import SWGLayer
from .qonnx import swg_qonnx

__all__ = ["SWGOp", "SWGLayer", "SlidingWindow", "swg"]


class SWGOp(Op):
    """The sliding-window generator: ``simd`` channels per transfer, in and out."""
    name = "swg"
    layer = SWGLayer

    def describe(self, layer: SWGLayer) -> str:
        kernel = "x".join(str(k) for k in layer.kernel)
        return f"{layer.channels}x{layer.height}x{layer.width}, {kernel} kernel"

    def output(self, layer: SWGLayer, x: Activation) -> Activation:
        where = f"layer {layer.name!r}"
        if x.windowed:
            raise ValueError(f"{where}: a sliding window cannot follow another one")
        if (layer.channels, layer.height, layer.width) != (x.channels, x.height, x.width):
            raise ValueError(f"{where} expects a {layer.channels}x{layer.height}x{layer.width} "
                             f"image, but its input is {x.channels}x{x.height}x{x.width}")
        if layer.elem_bits != x.bits:
            raise ValueError(f"{where} has elem_bits={layer.elem_bits}, but its input has "
                             f"{x.bits} bits per element")
        return Activation(layer.window_elements, layer.out_height, layer.out_width,
                          x.encoding, x.bits, windowed=True)

    def in_transfer(self, layer: SWGLayer) -> Transfer:
        return Transfer(layer.simd, layer.elem_bits)

    def out_transfer(self, layer: SWGLayer) -> Transfer:
        return Transfer(layer.simd, layer.elem_bits)

    def golden(self, layer: SWGLayer, x, dots: list | None = None) -> torch.Tensor:
        x = torch.as_tensor(x)
        return swg(layer, x).reshape(x.shape[0], -1)

    def qonnx(self, layer: SWGLayer, builder, x, activation):
        return swg_qonnx(layer, builder, x, activation)

    def block(self, layer: SWGLayer, target: Target) -> SlidingWindow:
        return SlidingWindow(layer)

    def terms(self, layer: SWGLayer, target: Target) -> dict[str, float]:
        return cost.terms(layer, target)

    def resources(self, layer: SWGLayer, target: Target) -> Resources:
        return cost.resources(layer, target)

    def folding(self, layer: SWGLayer) -> dict:
        return {"simd": layer.simd}

    def foldings(self, layer: SWGLayer, *, max_pe_simd: int) -> list[dict]:
        """``simd`` dividing ``channels``."""
        return [{"simd": simd} for simd in divisors(layer.channels)]

    def folding_limit(self, layer: SWGLayer, best: dict, *, max_pe_simd: int) -> str:
        return f"simd = channels, {max(layer.in_elements, layer.out_elements)} elements/frame"
