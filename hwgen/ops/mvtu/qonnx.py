"""The MVTU in QONNX (:meth:`hwgen.ops.Op.qonnx`): ``MatMul`` on the +-1 (or multi-bit)
weights, then ``MultiThreshold``; a ``cim`` layer as the macro's arithmetic in standard ops.

A neuron with ``invert`` set fires when its dot product is *below* its threshold: its weight
column and threshold are negated (``dot < t`` is ``-dot >= 1 - t`` on integers), so that every
neuron is a plain ``MultiThreshold``. Thresholds beyond a neuron's reach are clipped to one
past it (where they fire as before).

A cim layer's macro, read by read as :func:`hwgen.cim.macro_mvm` computes it: the input's bit
planes in groups of ``wordlines`` (``Reshape``), each group's bitline sum with weight bit
plane ``j`` (``MatMul``), in the ADC's fixed point (``Mul`` by ``2**NOISE_FRAC_BITS``), plus
the read's noise (``Gather`` of the scale for the group's driven wordlines, ``Mul`` by the
read's standard-normal sample, an input of the graph named ``noise.<layer>.w<j>a<p>``:
:func:`hwgen.qonnx.noise_feeds` draws them as the hardware does), the flash ADC
(``MultiThreshold`` on the ADC's thresholds), and the shift-add of the codes (``ReduceSum``,
``Mul``, ``Add``). A partial last wordline group: the vectors padded with zeros (``Concat``),
its groups apart (``Slice``) through their own ADC thresholds, its codes weighted. That part is float64: the ADC's fixed-point inputs need more than float32's
24 bits.
"""
import numpy as np

from ...cim.noise import NOISE_FRAC_BITS
from .layer import MVTULayer

__all__ = ["mvtu_qonnx", "matrix_input", "activate_qonnx", "weight_datatype"]


def weight_datatype(bits: int) -> str:
    """The qonnx datatype of ``bits``-bit weights' odd levels ``2c - (2**bits - 1)``."""
    return "BIPOLAR" if bits == 1 else f"INT{bits + 1}"


def matrix_input(layer, g, x, activation, out):
    """The input ``x`` of a matrix layer as its vectors (B, out H, out W, ``in_elements``),
    a thermometer layer's elements as their codes ``[v > j]`` (``Greater``, ``Cast``)."""
    batch = x.shape[0]
    x = g.reshape(x, batch, out.height, out.width, layer.in_elements)
    if layer.in_encoding != "thermometer":
        return x
    levels = (1 << layer.in_bits) - 1
    wide = g.reshape(x, batch, out.height, out.width, layer.in_elements, 1)
    above = g.node("Greater", [wide, g.const(np.arange(levels), "levels")], wide.shape[:-1] +
                   (levels,), "BINARY", element="bool", hint="thermometer")
    codes = g.cast(above, "float", "BINARY")
    return g.reshape(codes, batch, out.height, out.width, layer.mw)


def _signs(invert) -> np.ndarray:
    return np.where(np.asarray(invert, dtype=bool), -1, 1)


def activate_qonnx(layer, g, dot, bound: int, *, signed: bool = False, planes=None):
    """A matrix layer's output from its dot products ``dot`` (B, H, W, mh), ``bound`` the
    greatest magnitude a dot product reaches: :func:`hwgen.ops.mvtu.golden.activate` as
    ``MultiThreshold`` nodes. ``signed``: the inverted neurons' dot products are negated
    already (their weights were); else a ``Mul`` negates them. ``planes``: a BitSplit
    layer's per-bit dot products (a ``split_input`` layer's), each negated already."""
    if layer.output == "int":
        return dot
    thresholds = np.asarray(layer.thresholds, dtype=np.int64)
    invert = np.asarray(layer.invert, dtype=bool)
    if layer.bitsplit:                    # b_0 + 2 b_1, each bit with its own threshold
        bits = []
        for p in range(2):
            value = planes[p] if planes is not None else dot
            if planes is None and invert[:, p].any():
                value = g.node("Mul", [value, g.const(_signs(invert[:, p]), "signs")],
                               value.shape, "INT32")
            bits.append(g.threshold(value, _clip(thresholds[:, p:p + 1], invert[:, p], bound),
                                    "BINARY"))
        twice = g.node("Mul", [bits[1], g.const(2, "two")], bits[1].shape, "UINT2")
        return g.node("Add", [bits[0], twice], twice.shape, "UINT2", hint="out")
    table = thresholds.reshape(layer.mh, -1)
    if not signed and invert.any():
        dot = g.node("Mul", [dot, g.const(_signs(invert), "signs")], dot.shape, "INT32")
    table = _clip(table, invert, bound)
    if layer.act_bits > 1:
        return g.threshold(dot, table, f"UINT{layer.act_bits}")
    if layer.out_encoding == "bipolar":
        return g.threshold(dot, table, "BIPOLAR", scale=2.0, bias=-1.0)
    return g.threshold(dot, table, "BINARY")


def _clip(thresholds, invert, bound: int) -> np.ndarray:
    """Thresholds on the negated dot products of inverted neurons (``1 - t``), clipped to
    ``-bound - 1 .. bound + 1``."""
    thresholds = np.asarray(thresholds, dtype=np.int64)
    flipped = np.where(np.asarray(invert, dtype=bool)[:, None], 1 - thresholds, thresholds)
    return np.clip(flipped, -bound - 1, bound + 1)


def mvtu_qonnx(layer: MVTULayer, g, x, activation, out):
    """``layer`` on ``x`` (its input, channels last) into ``g``; ``out`` its output
    activation."""
    x = matrix_input(layer, g, x, activation, out)
    if layer.macro is not None:
        sums, bound = _macro(layer, g, x), layer.macro.max_code_sum(layer.mw)
        if layer.split_input:
            planes = [_negated(g, plane, layer.invert[:, p]) for p, plane in enumerate(sums)]
            return activate_qonnx(layer, g, None, bound, planes=planes)
        return activate_qonnx(layer, g, sums, bound)
    weights = np.asarray(layer.weights, dtype=np.int64) * 2 - layer.weight_max     # (mh, mw)
    datatype = weight_datatype(layer.weight_bits)
    top = 1 if layer.in_encoding != "uint" or layer.split_input else (1 << layer.in_bits) - 1
    bound = int(np.abs(weights).sum(axis=1).max()) * top
    shape = x.shape[:3] + (layer.mh,)
    if layer.split_input:                 # each bit plane's own dot product
        planes = []
        for p in range(2):
            signs = _signs(layer.invert[:, p])
            matrix = g.const((weights * signs[:, None]).T, "weights", datatype)
            planes.append(g.node("MatMul", [g.bit(x, p), matrix], shape, "INT32",
                                 hint=f"dot{p}"))
        return activate_qonnx(layer, g, None, bound, planes=planes)
    signed = layer.output == "bits" and not layer.bitsplit
    signs = _signs(layer.invert) if signed else np.ones(layer.mh, dtype=np.int64)
    matrix = g.const((weights * signs[:, None]).T, "weights", datatype)
    dot = g.node("MatMul", [x, matrix], shape, "INT32", hint="dot")
    return activate_qonnx(layer, g, dot, bound, signed=signed)


def _negated(g, value, invert):
    if not np.asarray(invert, dtype=bool).any():
        return value
    return g.node("Mul", [value, g.const(_signs(invert), "signs")], value.shape, "INT32")


def noise_input_name(layer, j: int, p: int) -> str:
    """The graph input holding the standard-normal samples of ``layer``'s reads of weight bit
    ``j`` and activation bit ``p``."""
    return f"noise.{layer.name}.w{j}a{p}"


def _macro(layer: MVTULayer, g, x):
    """The macro's code sums (B, H, W, mh) of the input vectors ``x``, or with
    ``split_input`` each activation bit plane's (a list of two)."""
    spec = layer.macro
    batch, height, width, _ = x.shape
    wl, groups = spec.wordlines, spec.groups(layer.mw)
    stream = layer.stream_encoding
    if spec.act_bits == 1:
        planes = [x]
    elif stream == "uint" and spec.encoding == "binary":
        planes = [g.bit(x, p) for p in range(spec.act_bits)]
    else:
        raise ValueError(f"layer {layer.name!r}: a cim layer of {spec.act_bits}-bit "
                         f"{spec.encoding} activations on {stream} inputs has no QONNX form")
    raw = np.asarray(layer.weights, dtype=np.int64)
    read = (batch, height, width, groups, 1)
    scales = np.asarray(spec.scales, dtype=np.float64)
    # A partial last group: the vectors and weights padded with zeros (no bitline term, no
    # active row), its own ADC thresholds and code weight (:mod:`hwgen.cim.macro`).
    padding = groups * wl - layer.mw
    rows = np.asarray(spec.group_rows(layer.mw))
    parts = [(first, stop, spec.group_thresholds(part_rows), weight)
             for first, stop, part_rows, weight in spec.group_parts(layer.mw)]
    sums = []
    for p, plane in enumerate(planes):
        if padding:
            zeros = g.const(np.zeros((batch, height, width, padding)), "padding")
            # Bipolar planes padded with zeros hold -1, 0, 1.
            kind = "TERNARY" if plane.datatype == "BIPOLAR" else plane.datatype
            plane = g.node("Concat", [plane, zeros], (batch, height, width, groups * wl),
                           kind, hint=f"padded_a{p}", axis=-1)
        grouped = g.cast(g.reshape(plane, *read, wl), "double")
        if spec.noisy:
            if spec.encoding == "bipolar":            # every row of the group driven
                scale = g.const(scales[rows].reshape(groups, 1, 1), "scale", double=True)
            else:                                     # a zero drives no wordline
                active = g.node("ReduceSum", [grouped], read + (1,), "UINT32",
                                hint="active", axes=[-1], keepdims=1)
                index = g.cast(active, "int64")
                scale = g.node("Gather", [g.const(scales, "scales", double=True), index],
                               read + (1,), "FLOAT64", element="double", hint="scale", axis=0)
        plane_sum = None
        for j in range(spec.weight_bits):
            bits = 2 * ((raw >> j) & 1) - 1                                   # (mh, mw)
            bits = np.pad(bits, ((0, 0), (0, padding)))
            matrix = bits.reshape(layer.mh, groups, wl).transpose(1, 2, 0)    # (S, WL, mh)
            bitline = g.node("MatMul", [grouped, g.const(matrix, "weights",
                                                         "INT2" if padding else "BIPOLAR",
                                                         double=True)],
                             read + (layer.mh,), "INT32", hint=f"bitline_w{j}a{p}")
            fixed = g.node("Mul", [bitline, g.const(1 << NOISE_FRAC_BITS, "fixed_point",
                                                    double=True)],
                           bitline.shape, "INT64", hint=f"fixed_w{j}a{p}")
            if spec.noisy:
                sample = g.input(noise_input_name(layer, j, p), bitline.shape, "INT32",
                                 element="double")
                noise = g.node("Mul", [scale, sample], bitline.shape, "INT64",
                               hint=f"noise_w{j}a{p}")
                fixed = g.node("Add", [fixed, noise], bitline.shape, "INT64",
                               hint=f"adc_in_w{j}a{p}")
            column = None
            for start, stop, thresholds, weight in parts:
                piece = fixed if (start, stop) == (0, groups) else g.node(
                    "Slice", [fixed, g.const([start], "start", index=True),
                              g.const([stop], "stop", index=True),
                              g.const([3], "axis", index=True)],
                    (batch, height, width, stop - start, 1, layer.mh), "INT64",
                    hint=f"groups{start}_w{j}a{p}")
                codes = g.threshold(piece, np.asarray(thresholds, dtype=np.float64)[None, :],
                                    f"UINT{spec.adc_bits}")
                summed = g.node("ReduceSum", [codes], (batch, height, width, 1, layer.mh),
                                "UINT32", hint=f"codes_w{j}a{p}", axes=[3], keepdims=0)
                if weight != 1:
                    summed = g.node("Mul", [summed, g.const(weight, "group_weight",
                                                            double=True)],
                                    summed.shape, "UINT32")
                column = summed if column is None else g.node(
                    "Add", [column, summed], summed.shape, "UINT32", hint=f"codes_w{j}a{p}")
            if j:
                column = g.node("Mul", [column, g.const(1 << j, "significance",
                                                        double=True)], column.shape, "UINT32")
            plane_sum = column if plane_sum is None else g.node(
                "Add", [plane_sum, column], column.shape, "UINT32", hint=f"sum_a{p}")
        sums.append(plane_sum)
    out = (batch, height, width, layer.mh)
    if layer.split_input:
        return [g.cast(g.reshape(s, *out), "float") for s in sums]
    total = sums[0]
    for p in range(1, len(sums)):
        shifted = g.node("Mul", [sums[p], g.const(1 << p, "significance", double=True)],
                         sums[p].shape, "UINT32")
        total = g.node("Add", [total, shifted], total.shape, "UINT32", hint="code_sum")
    return g.cast(g.reshape(total, *out), "float")
