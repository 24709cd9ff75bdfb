"""Brevitas quantizers whose float arithmetic is exact, for BNNs that hwgen imports bit for
bit (:mod:`hwgen.qonnx.importer`): +-1 weights and activations at scale 1, and unsigned input
codes at scale 1. With them every product and sum a model computes is an integer in float32,
so the model, its QONNX file and hwgen's golden model agree exactly (Brevitas's own constant
binary quantizers scale by 0.1, whose sums round). Needs the ``brevitas`` extra."""
from brevitas.core.scaling import ScalingImplType
from brevitas.quant import (SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst,
                            Uint8ActPerTensorFloat)

__all__ = ["BINARY_WEIGHTS", "BINARY_ACTS", "uint_input"]

#: +-1 weights (``BipolarQuant``, scale 1).
BINARY_WEIGHTS = SignedBinaryWeightPerTensorConst.let(scaling_const=1.0)
#: +-1 activations (``BipolarQuant``, scale 1).
BINARY_ACTS = SignedBinaryActPerTensorConst.let(scaling_const=1.0)


def uint_input(bits: int):
    """An input quantizer of ``bits``-bit unsigned codes ``0 .. 2**bits - 1`` at scale 1 (an
    unsigned ``Quant``): what a spec's ``data.input_bits`` frames are."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
        raise ValueError(f"bits must be an integer in 1..8, not {bits!r}")
    top = float((1 << bits) - 1)
    return Uint8ActPerTensorFloat.let(bit_width=bits, scaling_impl_type=ScalingImplType.CONST,
                                      scaling_const=top, max_val=top)
