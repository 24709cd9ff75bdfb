"""Golden model of :class:`hwgen.ops.mvtu.hw.MVTU`: dot products on +-1 weights (or a CIM macro's
code sums), thresholds."""
import torch

from ...cim.macro import macro_mvm
from .layer import MVTULayer

__all__ = ["decode", "thermometer_code", "mvtu_dot", "mvtu", "activate", "frames_golden"]


def decode(x, encoding: str) -> torch.Tensor:
    """Element values of raw input elements ``x``: bipolar 0/1 -> -1/+1, else as they are."""
    x = torch.as_tensor(x).to(torch.int64)
    return 2 * x - 1 if encoding == "bipolar" else x


def thermometer_code(x, bits: int) -> torch.Tensor:
    """Unsigned ``bits``-bit elements ``x`` (..., elements) as their thermometer codes
    (..., elements * (2**bits - 1)): element ``v`` becomes ``[v > j]`` for ``j = 0, 1, ...``."""
    x = torch.as_tensor(x).to(torch.int64)
    codes = x[..., None] > torch.arange((1 << bits) - 1)
    return codes.reshape(*x.shape[:-1], -1).to(torch.int64)


def mvtu_dot(layer: MVTULayer, x) -> torch.Tensor:
    """Dot products (..., mh) int64 of raw input vectors ``x`` (..., mw), or (...,
    mw / code_bits) thermometer-coded elements; exact. A ``split_input`` layer's are each bit
    plane's, (..., mh, 2).

    A ``cim`` layer gives the macro's code sums (:func:`hwgen.cim.macro_mvm`), the vectors of
    ``x`` in row-major order being the input vectors ``0, 1, ...`` since reset (for a frame
    batch (N, pixels, mw): ``v = frame * pixels + pixel``), which key their noise."""
    x = torch.as_tensor(x)
    if x.shape[-1] != layer.in_elements:
        raise ValueError(f"input must have shape (..., {layer.in_elements}), not {tuple(x.shape)}")
    if layer.in_encoding == "thermometer":
        x = thermometer_code(x, layer.in_bits)
    if layer.macro is not None:
        sums = macro_mvm(layer.macro, layer.weights, x.reshape(-1, layer.mw).numpy(),
                         layer_index=layer.macro_key, planes=layer.split_input)
        return torch.from_numpy(sums).reshape(*x.shape[:-1], layer.mh,
                                              *((2,) if layer.split_input else ()))
    w = torch.as_tensor(layer.weights, dtype=torch.float64) * 2 - layer.weight_max
    if layer.split_input:                 # each bit plane's dot product: (..., mh, 2)
        x = x.to(torch.int64)
        planes = torch.stack([(x >> p) & 1 for p in range(2)], dim=-2).to(torch.float64)
        return (planes @ w.T).transpose(-1, -2).to(torch.int64)
    # Integer products summed in float64 are exact while |dot| < 2**53.
    return (decode(x, layer.in_encoding).to(torch.float64) @ w.T).to(torch.int64)


def mvtu(layer: MVTULayer, x) -> torch.Tensor:
    """Layer output for raw input vectors ``x`` (..., in_elements): activations uint8 (bits, or the
    count of thresholds passed with ``act_bits > 1``), or dot products int64."""
    return activate(layer, mvtu_dot(layer, x))


def activate(layer, dot: torch.Tensor) -> torch.Tensor:
    """A matrix layer's output for its dot products ``dot`` (..., mh): the dot products of a
    last layer (``output`` int), else one bit per neuron (``(dot >= threshold) != invert``) or,
    with ``act_bits > 1``, the count of thresholds passed, uint8 (BitSplit: ``b_0 + 2 b_1``,
    each bit from its own threshold)."""
    if layer.output == "int":
        return dot
    thresholds, invert = torch.as_tensor(layer.thresholds), torch.as_tensor(layer.invert)
    if layer.bitsplit:                    # bit p of its own: b_0 + 2 b_1
        planes = dot if layer.split_input else dot[..., None]
        bits = ((planes >= thresholds) != invert).to(torch.uint8)
        return bits[..., 0] + 2 * bits[..., 1]
    if layer.act_bits == 1:
        return ((dot >= thresholds) != invert).to(torch.uint8)
    fire = (dot[..., None] >= thresholds) != invert[:, None]
    return fire.sum(dim=-1).to(torch.uint8)


def frames_golden(layer, x, dot_of, dots: list | None = None) -> torch.Tensor:
    """A matrix layer's output (N, pixels * mh) for frames ``x`` (N, pixels * in_elements):
    its dot products ``dot_of(layer, vectors)`` (N, pixels, mh), computed once, appended to
    ``dots`` when given, then :func:`activate`."""
    x = torch.as_tensor(x)
    n = x.shape[0]
    dot = dot_of(layer, x.reshape(n, layer.pixels, layer.in_elements))
    if dots is not None:
        dots.append(dot.numpy())
    return activate(layer, dot).reshape(n, layer.pixels * layer.mh)
