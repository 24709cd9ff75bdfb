"""Fold a trained :class:`hwgen.nn.BNN` into the integer IR.

Each conv layer becomes a sliding-window generator (``conv{i}_swg``) and an MVTU (``conv{i}``)
whose weights run along the window in (row, column, channel) order; the convs that share
results (:meth:`hwgen.spec.Spec.shared_convs`) then become shared units
(:func:`.share.share_results`). A pointwise conv (1x1, stride 1, unpadded) is an MVTU alone
that reads each pixel's channels, as FINN lowers it; a depthwise conv a sliding-window
generator and a VVAU (``conv{i}``, one filter per channel). Each linear layer is an MVTU
``fc{i}`` with one pixel, each max-pool or average pool a ``pool{i}``, an add an
:class:`~hwgen.ops.AddLayer` ``add{i}`` and a concatenation a
:class:`~hwgen.ops.ConcatLayer` ``concat{i}``; ``i`` is the layer's index in the spec, and a
layer's spec ``name`` replaces the whole name. Each layer reads the IR layers that end the
spec layers it reads (the graph's ``inputs``), so a spec's DAG is the IR's.

An add sums its inputs' integer activations, both at one scale (an activation step is 1 in
either: {0, 1} bits, or IMCQ's 0..3 levels); with ``threshold`` its batch norm and activation
fold into integer thresholds over every sum ``0 .. max`` as a conv's over its dot products.

A hidden layer's threshold unit (batch norm, or the batch-norm-free learned threshold, either
with its threshold shift) becomes one integer threshold per neuron, found by evaluating the
model's own activation formula (the unit's ``fires``, e.g. :func:`hwgen.nn.batchnorm_fires`)
on every dot product the layer can produce (:func:`dot_values`). That formula is monotone in
the dot product, so the threshold is where its output changes, and the IR agrees with the
model's binarized inference exactly, with no float tolerance: :func:`check_export` compares
them on the whole test set.

A ``backend: cim`` layer becomes an MVTU with the layer's macro (:func:`hwgen.cim.layer_macro`)
and raw weight codes; its thresholds are folded over every code sum ``0 .. max_code_sum``
(the model's threshold unit reads code sums there). Its noise is keyed by the MVTU's index in
the graph. :func:`check_export` compares the model with the graph's golden model with the
macros' noise off (the model in eval is noise-free); the golden model itself keeps the noise.
"""
import math

import numpy as np
import torch

from ..nn.layers import BinaryConv2d, BinaryDepthwiseConv2d, BinaryLinear, batchnorm_fires
from ..nn.model import BNN, exact_mvm
from ..spec import (AddSpec, AvgPoolSpec, ConcatSpec, ConvSpec, DWConvSpec, LinearSpec,
                    MaxPoolSpec, Spec)
from ..ir import GRAPH_INPUT, Graph
from ..ops import (AddLayer, AvgPoolLayer, ConcatLayer, MVTULayer, MaxPoolLayer, SWGLayer,
                   VVAULayer)
from .share import share_results

__all__ = ["export_graph", "check_export", "quiet", "fold_threshold", "fold_levels", "dot_values"]


def _pointwise(layer: ConvSpec) -> bool:
    """A 1x1 convolution at stride 1 without padding: each output pixel is a matrix-vector
    product of the input pixel's channels."""
    return layer.kernel == (1, 1) and layer.stride == (1, 1) and layer.padding == (0, 0)


def dot_values(encoding: str, bits: int, mw: int, weight_bits: int = 1) -> np.ndarray:
    """Every dot product of ``mw`` inputs in ``encoding`` (``bits`` each) with +-1 weights (or
    the odd levels of ``weight_bits``-bit ones, up to ``L = 2**weight_bits - 1``), ascending,
    a superset where not all occur: bipolar -L mw, -L mw + 2, ..., L mw; binary -L mw .. L mw;
    uint +-L mw (2**bits - 1)."""
    most = (1 << weight_bits) - 1
    if encoding == "bipolar":
        return np.arange(-mw * most, mw * most + 1, 2, dtype=np.int64)
    top = (1 << bits) - 1 if encoding == "uint" else 1
    return np.arange(-mw * top * most, mw * top * most + 1, dtype=np.int64)


@torch.no_grad()
def fold_threshold(norm: torch.nn.Module, dots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds and invert flags such that ``(dot >= threshold) != invert`` equals the
    threshold unit ``norm``'s output bit (its ``fires``; a plain batch norm's
    :func:`~hwgen.nn.batchnorm_fires`) for every dot product in ``dots`` (ascending integers,
    e.g. :func:`dot_values`).

    A neuron whose output rises with the dot product fires from its first firing value on
    (``dots[-1] + 1``, past the range, if it never fires); one whose output falls (a negative
    batch-norm scale) is inverted, its threshold the first value where it stops firing. A
    constant neuron is a rising one. A learned threshold (``bnfree``) only rises.
    """
    unit_fires = getattr(norm, "fires", None) or (lambda dot: batchnorm_fires(norm, dot))
    return _fold(unit_fires, norm.num_features, dots)


def _fold(unit_fires, mh: int, dots) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fold_threshold` of any output bit ``unit_fires(dot)`` (a bool tensor with the
    ``mh`` neurons in the last dimension) monotone in the dot product."""
    dots = np.asarray(dots, dtype=np.int64)
    fired = np.zeros(mh, dtype=np.int64)          # dot values at which each neuron fires
    rising = np.ones(mh, dtype=bool)
    falling = np.ones(mh, dtype=bool)
    previous = None
    chunk = max(1, (1 << 20) // mh)               # bounded memory for wide integer ranges
    for start in range(0, len(dots), chunk):
        values = torch.as_tensor(dots[start:start + chunk], dtype=torch.float64)
        fires = unit_fires(values[:, None].expand(-1, mh)).numpy()
        fired += fires.sum(axis=0)
        steps = fires if previous is None else np.concatenate([previous, fires])
        rising &= np.all(steps[1:] >= steps[:-1], axis=0)
        falling &= np.all(steps[1:] <= steps[:-1], axis=0)
        previous = fires[-1:]
    if not np.all(rising | falling):
        neuron = int(np.argmin(rising | falling))
        raise ValueError(f"threshold unit output of neuron {neuron} is not monotone")
    count = len(dots)
    past = np.append(dots, dots[-1] + 1)
    thresholds = np.where(rising, past[count - fired], past[np.minimum(fired, count)])
    return thresholds.astype(np.int64), ~rising


@torch.no_grad()
def fold_levels(norm: torch.nn.Module, dots: np.ndarray,
                act_bits: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds (mh, 2**act_bits - 1) and invert flags (mh,) such that
    ``#{t : (dot >= threshold[n, t]) != invert[n]}`` equals the threshold unit's eval-mode
    multi-bit activation (its ``levels``, e.g. :meth:`hwgen.nn.CentredThreshold.levels`) for
    every dot product in ``dots`` (ascending integers): threshold ``t`` folds the bit
    ``levels >= t + 1`` (:func:`fold_threshold`'s rule), all of a neuron's bits inverted
    together when its activation falls with the dot product.
    """
    dots = np.asarray(dots, dtype=np.int64)
    mh, steps = norm.num_features, (1 << act_bits) - 1
    ends = norm.levels(torch.as_tensor(dots[[0, -1]], dtype=torch.float64)[:, None]
                       .expand(-1, mh), act_bits).numpy()
    falling = ends[0] > ends[-1]
    thresholds = np.empty((mh, steps), dtype=np.int64)
    for t in range(steps):
        bit, invert = _fold(lambda dot: norm.levels(dot, act_bits) >= t + 1, mh, dots)
        # A constant bit folds as rising; give a falling neuron's its inverted form.
        constant = invert != falling
        value = ends[0] >= t + 1
        bit[constant] = np.where(value[constant], dots[-1] + 1, dots[0])
        thresholds[:, t] = bit
    return thresholds, falling


@torch.no_grad()
def export_graph(model: BNN, spec: Spec, test_x: np.ndarray, test_y: np.ndarray,
                 meta: dict | None = None) -> Graph:
    """The IR of ``model`` with the spec's folding, carrying the test frames for verification.

    Folding: a layer's ``pe``/``simd`` from the spec, else the defaults (``folded_pe``,
    ``folded_simd``), and its ``ram_style``; the names of MVTUs whose spec gives pe or simd
    are listed in ``meta["fixed_folding"]`` (automatic folding leaves them alone). A sliding-window
    generator moves gcd(in channels, MVTU simd) elements per transfer; a max-pool or average
    pool takes its producer's ``pe`` channels per transfer, and the layer after an average pool
    reads its window sums as ``uint`` elements. With ``data.thermometer`` the graph's input is the
    frames' ``uint`` elements and its first MVTU reads them as thermometer codes (``simd``
    rounded down to whole codes).
    """
    if not model.binary:
        raise ValueError("only a binary model can be exported")
    model.eval()
    act_bits = model.act_bits
    encoding, bits = spec.input_encoding, spec.data.element_bits
    # With data.thermometer the frames are uint elements and the first layer reads their codes.
    code = (1 << spec.data.input_bits) - 1 if spec.data.thermometer else 1
    # Hidden activations: one bit in the spec's encoding, or IMCQ's act_bits-bit integers.
    out_encoding = spec.model.activation if act_bits == 1 else "uint"
    last = len(spec.model.layers) - 1
    layers, fixed, inputs = [], [], []
    # Per spec layer (-1: the frames): the IR layer ending it, and what its stream carries:
    # element encoding and bits, channels per transfer, BitSplit's bit planes or not.
    ends = {-1: GRAPH_INPUT}
    carried = {-1: (encoding, bits, None, False)}

    def place(layer, *reads):
        layers.append(layer)
        inputs.append(tuple(reads))
        return layer.name

    for index, (module, layer_spec) in enumerate(zip(model.layers, spec.model.layers)):
        channels, height, width = layer_spec.in_shape
        coded = code > 1 and index == 0
        reads = spec.layer_inputs(index)
        source = ends[reads[0]]
        encoding, bits, stream_pe, split = carried[reads[0]]
        name = spec.layer_name(index)
        if isinstance(layer_spec, AddSpec):
            sums = np.arange(sum((1 << b) - 1 for b in layer_spec.in_bits_all) + 1,
                             dtype=np.int64)
            thresholds = invert = None
            out = ("uint", layer_spec.sum_bits)
            if layer_spec.threshold:
                if act_bits == 1:
                    thresholds, invert = fold_threshold(model.norms[index], sums)
                    thresholds = thresholds[:, None]
                else:
                    thresholds, invert = fold_levels(model.norms[index], sums, act_bits)
                out = (out_encoding, act_bits)
            ends[index] = place(AddLayer(
                name=name, channels=channels, height=height, width=width,
                pe=layer_spec.folded_pe, in_bits=tuple(layer_spec.in_bits_all),
                thresholds=thresholds, invert=invert,
                out_encoding=out[0]), *(ends[k] for k in reads))
            if layer_spec.pe is not None:
                fixed.append(name)
            carried[index] = (*out, layer_spec.folded_pe, False)
            continue
        if isinstance(layer_spec, ConcatSpec):
            ends[index] = place(ConcatLayer(
                name=name, channels=tuple(layer_spec.in_channels_all), height=height,
                width=width, bits=bits, encoding=encoding), *(ends[k] for k in reads))
            carried[index] = (encoding, bits, sum(layer_spec.in_channels_all), split)
            continue
        if isinstance(layer_spec, MaxPoolSpec):
            ends[index] = place(MaxPoolLayer(
                name=name, channels=channels, height=height, width=width,
                kernel=layer_spec.kernel, pe=stream_pe, elem_bits=bits, bitwise=split), source)
            carried[index] = (encoding, bits, stream_pe, split)
            continue
        if isinstance(layer_spec, AvgPoolSpec):   # window sums: the next layer reads uint
            ends[index] = place(AvgPoolLayer(
                name=name, channels=channels, height=height, width=width,
                kernel=layer_spec.window, pe=stream_pe, elem_bits=bits), source)
            carried[index] = ("uint", layers[-1].out_bits, stream_pe, split)
            continue
        if isinstance(layer_spec, DWConvSpec):    # a window generator and a VVAU
            assert isinstance(module, BinaryDepthwiseConv2d)
            pe = layer_spec.folded_pe
            swg = SWGLayer(name=f"{name}_swg", channels=channels, height=height, width=width,
                           kernel=layer_spec.kernel, stride=layer_spec.stride,
                           padding=layer_spec.padding, simd=pe, elem_bits=bits)
            positions = layer_spec.kernel[0] * layer_spec.kernel[1]
            weights_bits = spec.model.weight_bits
            values = dot_values(encoding, bits, positions, weights_bits)
            if act_bits == 1:
                thresholds, invert = fold_threshold(model.norms[index], values)
            else:
                thresholds, invert = fold_levels(model.norms[index], values, act_bits)
            window = place(swg, source)
            ends[index] = place(VVAULayer(
                name=name, channels=channels, kernel=layer_spec.kernel,
                pixels=swg.out_height * swg.out_width, pe=pe,
                weights=module.weight_codes().reshape(channels, -1).numpy(),
                thresholds=thresholds, invert=invert, in_encoding=encoding,
                out_encoding=out_encoding, in_bits=bits, weight_bits=weights_bits,
                act_bits=act_bits), window)
            if layer_spec.pe is not None:
                fixed.append(name)
            carried[index] = (out_encoding, act_bits, pe, False)
            continue
        if not isinstance(layer_spec, (ConvSpec, LinearSpec)):
            raise TypeError(f"no lowering for layer type {type(layer_spec).__name__}")
        mw = layer_spec.matrix_width
        simd = layer_spec.folded_simd
        if coded and simd % code:           # the values of whole codes per transfer
            simd = code * max(d for d in range(1, min(mw // code, max(1, simd // code)) + 1)
                              if (mw // code) % d == 0)
        if isinstance(layer_spec, ConvSpec) and _pointwise(layer_spec) and not coded \
                and index not in spec.shared_convs():
            # FINN's pointwise convolution: the MVTU reads the image's pixels, no window.
            assert isinstance(module, BinaryConv2d)
            mh, pixels = layer_spec.out_channels, height * width
            weights = module.weight_codes().reshape(mh, -1).numpy()
        elif isinstance(layer_spec, ConvSpec):
            assert isinstance(module, BinaryConv2d)
            mh = layer_spec.out_channels
            swg = SWGLayer(name=f"{name}_swg", channels=channels // code if coded else channels,
                           height=height, width=width, kernel=layer_spec.kernel,
                           stride=layer_spec.stride, padding=layer_spec.padding,
                           simd=math.gcd(channels // code, simd // code) if coded
                           else math.gcd(channels, simd),
                           elem_bits=spec.data.input_bits if coded else bits)
            source = place(swg, source)
            # (out, in, kh, kw) -> (out, kh, kw, in): the window's element order.
            weights = module.weight_codes().permute(0, 2, 3, 1).reshape(mh, -1).numpy()
            pixels = swg.out_height * swg.out_width
        else:
            assert isinstance(module, BinaryLinear)
            mh, pixels = layer_spec.out_features, 1
            weights = module.weight_codes().numpy()
        macro = model.macros.get(index)
        weights_bits = spec.model.weight_bits
        thresholds = invert = None
        split_input = split and index < last
        if index < last:
            if split_input:               # one bit plane's dot products (code sums)
                values = (dot_values("binary", 1, mw, weights_bits) if macro is None else
                          np.arange(macro.replace(act_bits=1).max_code_sum(mw) + 1,
                                    dtype=np.int64))
            else:
                values = (dot_values(encoding, bits, mw, weights_bits) if macro is None
                          else np.arange(macro.max_code_sum(mw) + 1, dtype=np.int64))
            if model.bitsplit:            # bit p from channels p * mh ..: (mh, 2)
                thresholds, invert = (a.reshape(2, mh).T.copy() for a in
                                      fold_threshold(model.norms[index], values))
            elif act_bits == 1:
                thresholds, invert = fold_threshold(model.norms[index], values)
            else:
                thresholds, invert = fold_levels(model.norms[index], values, act_bits)
        pe = layer_spec.folded_pe
        ends[index] = place(MVTULayer(
            name=name, mw=mw, mh=mh, pe=pe, simd=simd,
            weights=weights, thresholds=thresholds, invert=invert,
            in_encoding="thermometer" if coded else encoding,
            in_bits=spec.data.input_bits if coded else bits, out_encoding=out_encoding if index < last else spec.model.activation,
            pixels=pixels, macro=macro, macro_key=len(layers),
            act_bits=act_bits if index < last else 1, ram_style=layer_spec.ram_style,
            bitsplit=model.bitsplit and index < last, split_input=split_input,
            weight_bits=weights_bits if macro is None else 1), source)
        if layer_spec.pe is not None or layer_spec.simd is not None:
            fixed.append(name)
        carried[index] = (out_encoding, act_bits, pe, model.bitsplit)
    graph = Graph(name=spec.name, input_shape=spec.data.uncoded_shape, classes=spec.data.classes,
                  layers=tuple(layers), inputs=tuple(inputs), test_frames=test_x, test_labels=test_y,
                  input_encoding="uint" if code > 1 else spec.input_encoding,
                  input_bits=spec.data.input_bits if code > 1 else spec.data.element_bits,
                  meta={**(meta or {}), "fixed_folding": fixed})
    return share_results(graph, [spec.layer_name(index) for index in spec.shared_convs()])


def quiet(graph: Graph) -> Graph:
    """``graph`` with the noise of its cim layers' macros off."""
    return graph.with_layers({layer.name: {"macro": layer.macro.replace(noise="none")}
                              for layer in graph.mvtus() if layer.macro is not None})


def with_noise(graph: Graph, sigma: float, seed: int | None = None) -> Graph:
    """``graph`` with its cim layers' macros at noise ``sigma`` (and noise seed ``seed``, if
    given): the same network on a noisier or quieter chip."""
    changes = {"sigma": sigma} if seed is None else {"sigma": sigma, "seed": seed}
    return graph.with_layers({layer.name: {"macro": layer.macro.replace(**changes)}
                              for layer in graph.mvtus() if layer.macro is not None})


@torch.no_grad()
def check_export(model: BNN, graph: Graph) -> None:
    """Raise unless the golden model of ``graph`` equals ``model``'s binarized inference on the
    graph's test frames: the same integer dot products (code sums on cim layers) in every conv
    and linear layer (every output pixel), the same logits and classes. Both run noise-free:
    the model with its ``mvm`` hook replaced by the exact product, the graph with its macros'
    noise off (:func:`quiet`)."""
    from ..errors import HwgenError
    from ..golden import run_graph
    model.eval()
    trace = []
    logits = model(torch.as_tensor(graph.test_frames), trace, mvm=exact_mvm)
    golden = run_graph(quiet(graph))
    mvtus = graph.mvtus()
    if len(trace) != len(mvtus) or len(golden.dots) != len(mvtus):
        raise HwgenError(f"export check failed: the model has {len(trace)} conv/linear layers, "
                         f"the IR {len(mvtus)} MVTUs")
    for layer, dot, expected in zip(mvtus, trace, golden.dots):
        values = dot.numpy()
        if values.shape != expected.shape or not np.array_equal(values, expected):
            raise HwgenError(f"export check failed: the dot products of layer {layer.name!r} "
                             f"differ from the model's")
    if not np.array_equal(golden.logits, trace[-1][:, 0, :].numpy()):
        raise HwgenError("export check failed: golden logits differ from the model's")
    if not np.array_equal(logits.argmax(dim=1).numpy(), golden.labels):
        raise HwgenError("export check failed: golden classes differ from the model")
