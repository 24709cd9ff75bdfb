"""A QONNX BNN (Brevitas's ``export_qonnx``, either exporter) as hwgen's IR.

The importer walks the model's nodes in order and keeps, for each tensor, what it is:

* a *stream*: quantized activations hwgen carries between layers (the graph input after its
  quantizer, a layer's thresholded output, a max-pool's), each element a value times a
  per-tensor scale: ``bipolar`` (``BipolarQuant``: -1/+1), ``binary`` or ``uint`` (an
  unsigned ``Quant`` of 1 or more bits, zero point 0);
* a *dot*: a matrix product (``MatMul``, ``Gemm``, ``Conv`` with group 1) of a stream with
  constant weights that are a step times odd levels per output channel (+-alpha, or up to
  4-bit odd levels +-1, +-3, ...), followed by per-channel arithmetic (``BatchNormalization``,
  ``Add``, ``Sub``, ``Mul``, ``Div`` by constants, a ``Gemm`` or ``Conv`` bias):
  ``scale * step[n] * dot[n]`` on the integer dot product;
* a *constant*: an initializer, or a node of constants (weight quantizers, transposes), folded.

An input annotated with its qonnx datatype (``BIPOLAR``, ``BINARY``, ``UINT<b>``) is a stream
without a quantizer (FINN's convention). A ``MaxPool`` between a product and its quantizer is
pooled after the thresholds where every channel's output rises with its dot product (max and
activation commute there), else it is an error.

A quantizer on a dot becomes the layer's thresholds: for every integer dot product a neuron
can reach, the model's own nodes (run by qonnx's executor on exactly those values) give the
output code; a neuron whose code rises with its dot product gets the first dot product of
each code as its thresholds, one whose code falls (a negative batch-norm scale) the same with
``invert`` set; anything else is an error. So the thresholds are what the model computes,
float rounding included, and no batch-norm algebra is redone here. The last matrix product
(no quantizer after it) emits the logits: its per-class arithmetic must be one increasing
affine map for all classes (so the argmax is kept), which the IR records to compare logits.

Layout: ONNX tensors are NCHW, hwgen streams channels last; a ``Flatten`` / ``Reshape`` of an
image reorders the next dense layer's weight columns (``c, h, w`` to ``h, w, c``), a
``Transpose`` of constants is folded. Anything else -- a bias where no thresholds follow that
could absorb it, weights with a 0 or an even level, a zero-padded convolution of bipolar inputs
(ONNX pads with 0, which is no +-1 value), an op not listed here -- is one
:class:`QonnxImportError` naming the node, its op type and why.
"""
import dataclasses

import numpy as np

from ..errors import HwgenError
from ..ir import Graph
from ..ops import Activation, MaxPoolLayer, MVTULayer, SWGLayer

__all__ = ["QonnxImportError", "import_qonnx", "load_qonnx", "input_values", "logits_of",
           "model_outputs", "check_import"]

#: The per-channel arithmetic a dot product may go through before its quantizer.
_AFFINE = ("BatchNormalization", "Add", "Sub", "Mul", "Div")
#: Nodes that change only the layout of a stream.
_LAYOUT = ("Flatten", "Reshape", "Identity")


class QonnxImportError(HwgenError):
    """A QONNX model hwgen cannot import as it is, in one line naming the node."""


def _fail(node, why: str):
    name = node.name or (node.output[0] if node.output else "?")
    raise QonnxImportError(f"node {name!r} ({node.op_type}): {why}")


@dataclasses.dataclass
class _Stream:
    """Quantized activations: ``activation`` as hwgen streams it, each element ``scale``
    times its value; ``shape`` the ONNX tensor's; ``order``, for a flattened image, the
    image's (C, H, W) (its vector is in ONNX's c, h, w order)."""
    activation: Activation
    scale: float
    shape: tuple
    order: tuple | None = None


@dataclasses.dataclass
class _Dot:
    """A matrix product waiting for its quantizer: ``weights`` (mh, mw) hwgen's weight codes
    (its column order), ``step`` (mh,) each row's weight per odd level, on ``source``;
    ``nodes`` the per-channel ones after it; ``tensor`` the product's name; ``conv`` whether
    it is a convolution (NCHW)."""
    name: str
    source: _Stream
    weights: np.ndarray
    step: np.ndarray
    tensor: str
    conv: bool
    pixels: int
    out_hw: tuple
    swg: SWGLayer | None = None
    nodes: list = dataclasses.field(default_factory=list)
    bias: str | None = None
    #: A ``MaxPool`` between the product and its quantizer: ``(node, kernel)``.
    pool: tuple | None = None
    weight_bits: int = 1


def load_qonnx(model):
    """A ``ModelWrapper`` of ``model`` (a path or a model), its QONNX ops in their domain,
    shapes inferred and constant subgraphs (weight quantizers, transposes) folded."""
    try:
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.transformation.fold_constants import FoldConstants
        from qonnx.transformation.infer_shapes import InferShapes
    except ImportError as error:
        raise HwgenError(f"importing QONNX needs the qonnx extra (pip install -e "
                         f"'.[qonnx]'): {error}") from None
    if isinstance(model, ModelWrapper):
        wrapper = model
    else:
        import onnx
        try:                         # external data would be read from other files: refused
            proto = onnx.load(str(model), load_external_data=False)
        except Exception as error:   # onnx's own reasons: not a file, not a model
            raise HwgenError(f"{model}: not an ONNX model "
                             f"({str(error).splitlines()[0]})") from None
        if any(tensor.data_location == onnx.TensorProto.EXTERNAL
               for tensor in proto.graph.initializer):
            raise HwgenError(f"{model}: its weights are in external data files: hwgen reads "
                             f"one self-contained .onnx file")
        wrapper = ModelWrapper(proto)
    for node in wrapper.graph.node:
        if node.op_type in ("Quant", "BipolarQuant", "Trunc", "MultiThreshold"):
            node.domain = "qonnx.custom_op.general"
    initializers = {init.name for init in wrapper.graph.initializer}
    for entry in [i for i in wrapper.graph.input if i.name in initializers]:
        wrapper.graph.input.remove(entry)
    wrapper = wrapper.transform(InferShapes())
    return wrapper.transform(FoldConstants(exclude_op_types=[]))


def _const(model, name):
    value = model.get_initializer(name)
    return None if value is None else np.asarray(value)


def _run(model, nodes, source: str, values: np.ndarray) -> np.ndarray:
    """``nodes`` of ``model`` (a chain from tensor ``source``) run by qonnx's executor on
    ``values`` in place of ``source``: the last node's output."""
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.basic import qonnx_make_model
    inputs = {name for node in nodes for name in node.input if name}
    constants = [helper.make_tensor(name, TensorProto.FLOAT, model.get_initializer(name).shape,
                                    np.asarray(model.get_initializer(name), np.float32).ravel())
                 for name in sorted(inputs) if model.get_initializer(name) is not None]
    out = nodes[-1].output[0]
    graph = helper.make_graph(
        list(nodes), "chain", [helper.make_tensor_value_info(source, TensorProto.FLOAT,
                                                             list(values.shape))],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], initializer=constants)
    mini = ModelWrapper(qonnx_make_model(graph, opset_imports=model.model.opset_import))
    mini = mini.transform(InferShapes())
    return np.asarray(execute_onnx(mini, {source: values.astype(np.float32)})[out])


def _quantizer(model, node):
    """``(encoding, bits, scale)`` of a quantizer node's output, or a QonnxImportError."""
    if node.op_type == "BipolarQuant":
        scale = _const(model, node.input[1])
        if scale is None or scale.size != 1 or not scale.item() > 0:
            _fail(node, "its scale must be one positive constant")
        return "bipolar", 1, float(scale.item())
    scale, zero, bits = (_const(model, name) for name in node.input[1:4])
    if scale is None or zero is None or bits is None:
        _fail(node, "its scale, zero point and bit width must be constants")
    attributes = {a.name: a for a in node.attribute}
    signed = attributes["signed"].i if "signed" in attributes else 1
    if scale.size != 1 or not scale.item() > 0 or np.any(zero != 0) or signed:
        _fail(node, "hwgen's activations are unsigned with one positive scale and zero point "
                    "0 (or bipolar, BipolarQuant)")
    bits = int(bits.item())
    if not 1 <= bits <= 8:
        _fail(node, f"{bits}-bit activations: hwgen's have 1 to 8 bits")
    return ("binary" if bits == 1 else "uint"), bits, float(scale.item())


def _pool_kernel(node) -> list:
    """A ``MaxPool``'s kernel, which must tile the image (strides = kernel, no padding)."""
    attributes = {a.name: a for a in node.attribute}
    kernel = list(attributes["kernel_shape"].ints)
    strides = list(attributes["strides"].ints) if "strides" in attributes else kernel
    pads = list(attributes["pads"].ints) if "pads" in attributes else [0, 0, 0, 0]
    ceil = attributes["ceil_mode"].i if "ceil_mode" in attributes else 0
    if strides != kernel or any(pads) or ceil:
        _fail(node, f"kernel {kernel}, strides {strides}, pads {pads}, ceil_mode {ceil}: "
                    f"hwgen pools without overlap or padding")
    return kernel


#: Most (dot product, neuron) pairs a layer's thresholds are found on: a bound on the memory
#: and time a crafted model can make the import take.
MAX_ENUMERATED = 1 << 26

#: Most bits of an imported weight (hwgen's odd levels ``2c - (2**b - 1)``).
MAX_WEIGHT_BITS = 4


def _weights(node, tensor: np.ndarray):
    """``(codes, step, bits)`` of weights whose rows (output channels) are each a step times
    the odd levels ``-(2**bits - 1) .. 2**bits - 1`` of ``bits``-bit codes (1 bit: +-alpha):
    the codes (bool with 1 bit), each row's step, the fewest bits that hold every row."""
    rows = np.asarray(tensor, dtype=np.float64).reshape(len(tensor), -1)
    alpha = np.abs(rows).max(axis=1)
    if np.any(alpha == 0):
        _fail(node, f"output channel {int(np.argmin(alpha))} has only zero weights")
    for bits in range(1, MAX_WEIGHT_BITS + 1):
        top = (1 << bits) - 1
        levels = rows * top / alpha[:, None]
        odd = np.rint(levels)
        if np.all(np.abs(levels - odd) <= 1e-6 * top) and np.all(odd % 2 != 0):
            codes = ((odd + top) // 2).astype(np.int64)
            return (codes > 0 if bits == 1 else codes), alpha / top, bits
    _fail(node, "its weights must be, per output channel, a scale times odd levels (+-1: "
                "BipolarQuant; up to 4 bits: +-1, +-3, ..., +-15): hwgen's weights have no 0 "
                "and no even level")


def import_qonnx(model, *, name: str, test_frames, test_labels) -> Graph:
    """The IR of the QONNX ``model`` (a path or a ``ModelWrapper``) with the test set
    ``test_frames`` (N, elements: input codes in hwgen's stream order) and ``test_labels``.
    QonnxImportError in one line (naming the node) where it cannot be imported exactly."""
    return _Importer(load_qonnx(model)).graph(name, test_frames, test_labels)


def input_values(graph: Graph, frames) -> np.ndarray:
    """An imported model's input for ``frames`` (N, elements: hwgen's codes, stream order):
    each code's value (``bipolar``: -1/+1) times the input quantizer's scale, in the model's
    input shape (NCHW, or (N, C) for a vector)."""
    info = graph.meta["qonnx"]
    channels, height, width = graph.input_shape
    codes = np.asarray(frames, dtype=np.float32)
    values = 2 * codes - 1 if graph.input_encoding == "bipolar" else codes
    image = (values * np.float32(info["input_scale"])).reshape(-1, height, width, channels)
    if info["input_rank"] == 2:
        return image.reshape(-1, channels)
    return np.ascontiguousarray(image.transpose(0, 3, 1, 2))


def logits_of(graph: Graph, dots) -> np.ndarray:
    """The imported model's output for the golden model's logits ``dots`` (its integer dot
    products): the affine map the model applies after its last product, in float32."""
    info = graph.meta["qonnx"]
    dots = np.asarray(dots, dtype=np.float32)
    return dots * np.float32(info["logits_scale"]) + np.float32(info["logits_offset"])


def model_outputs(model, graph: Graph, frames, progress=None) -> np.ndarray:
    """The QONNX ``model``'s outputs (qonnx's executor, a frame at a time) for hwgen's
    ``frames`` of the IR ``graph`` imported from it."""
    from qonnx.core.onnx_exec import execute_onnx
    model = load_qonnx(model)
    x = input_values(graph, frames)
    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    outputs = []
    for index in range(len(x)):
        outputs.append(execute_onnx(model, {name_in: x[index:index + 1]})[name_out])
        if progress is not None and (index + 1) % 100 == 0:
            progress(f"checked {index + 1} of {len(x)} frames against the model")
    return np.concatenate(outputs) if outputs else np.zeros((0, graph.classes), np.float32)


def check_import(model, graph: Graph, progress=None) -> int:
    """Test frames on which the golden model of the imported ``graph`` and the QONNX
    ``model`` (qonnx's executor) differ: in any logit (the model's own float outputs against
    :func:`logits_of` the golden dot products) or in the class."""
    from ..golden import run_graph
    outputs = model_outputs(model, graph, graph.test_frames, progress)
    golden = run_graph(graph)
    scale = graph.meta["qonnx"]["logits_scale"]
    recovered = np.rint((outputs - graph.meta["qonnx"]["logits_offset"]) / scale)
    differ = (recovered.astype(np.int64) != golden.logits).any(axis=1)
    differ |= outputs.argmax(axis=1) != golden.labels
    return int(differ.sum())


class _Importer:
    def __init__(self, model):
        self.model = model
        self.state, self.layers = {}, []
        self.input = None                 # (activation, scale, rank)
        self.logits = None

    def const(self, name):
        return _const(self.model, name)

    def graph(self, name, test_frames, test_labels) -> Graph:
        graph = self.model.graph
        if len(graph.input) != 1 or len(graph.output) != 1:
            raise QonnxImportError(f"the model has {len(graph.input)} inputs and "
                                   f"{len(graph.output)} outputs: hwgen imports one of each")
        source = graph.input[0].name
        shape = tuple(self.model.get_tensor_shape(source))
        self.state[source] = ("raw", shape)
        annotated = self.model.get_tensor_datatype(source).name
        if annotated in ("BIPOLAR", "BINARY") or annotated.startswith("UINT"):
            # FINN's convention: an input annotated with its datatype needs no quantizer.
            bits = 1 if annotated in ("BIPOLAR", "BINARY") else int(annotated[4:])
            encoding = "bipolar" if annotated == "BIPOLAR" else \
                "binary" if bits == 1 else "uint"
            self.state[source] = self.input_stream(None, shape, encoding, bits, 1.0)
        for node in graph.node:
            self.visit(node)
        out = self.state.get(graph.output[0].name)
        if not isinstance(out, _Dot):
            raise QonnxImportError("the model's output must be the logits of a matrix product "
                                   "with no quantizer after it")
        self.layers.extend(self.last(out))
        if self.input is None:
            raise QonnxImportError("the model's input has no quantizer (BipolarQuant or Quant)")
        activation, scale, rank = self.input
        return Graph(name, (activation.channels, activation.height, activation.width),
                     out.weights.shape[0], tuple(self.layers), np.asarray(test_frames),
                     np.asarray(test_labels), input_encoding=activation.encoding,
                     input_bits=activation.bits,
                     meta={"qonnx": {"input_scale": scale, "input_rank": rank, **self.logits}})

    # --- nodes -------------------------------------------------------------------------------
    def visit(self, node):
        ins = [self.state.get(name) for name in node.input if name]
        kind = node.op_type
        if kind in ("BipolarQuant", "Quant"):
            self.quantizer(node, ins[0])
        elif kind in ("MatMul", "Gemm", "Conv"):
            self.matrix(node, ins)
        elif kind in _AFFINE:
            dots = [value for value in ins if isinstance(value, _Dot)]
            if len(dots) != 1 or any(value is not None for value in ins
                                     if not isinstance(value, _Dot)):
                _fail(node, "per-channel arithmetic must take one matrix product (before its "
                            "quantizer) and constants")
            dots[0].nodes.append(node)
            self.state[node.output[0]] = dots[0]
        elif kind == "MaxPool":
            self.maxpool(node, ins[0])
        elif kind in _LAYOUT:
            self.layout(node, ins[0])
        else:
            _fail(node, "no such op in hwgen's import (BipolarQuant, Quant, MatMul, Gemm, "
                        "Conv, BatchNormalization, Add, Sub, Mul, Div, MaxPool, Flatten, "
                        "Reshape)")

    def quantizer(self, node, given):
        encoding, bits, scale = _quantizer(self.model, node)
        if isinstance(given, tuple) and given[0] == "raw":
            self.state[node.output[0]] = self.input_stream(node, given[1], encoding, bits,
                                                           scale)
        elif isinstance(given, _Dot):
            layer, stream = self.thresholded(node, given, encoding, bits, scale)
            self.layers.extend(([given.swg] if given.swg is not None else []) + [layer])
            if given.pool is not None:
                pool, kernel = given.pool
                if layer.invert.any():
                    _fail(pool, f"a max-pool before the activation quantizer, on channels "
                                f"whose activation falls as the dot product rises (a negative "
                                f"batch-norm scale: {int(layer.invert.sum())} of {layer.mh}): "
                                f"the max does not pass through their activation; pool after "
                                f"the quantizer")
                stream = self.pooled(stream, kernel)
            self.state[node.output[0]] = stream
        elif isinstance(given, _Stream):
            _fail(node, "quantizes an already quantized stream")
        else:
            _fail(node, "quantizes something other than the model's input or a matrix product")

    def input_stream(self, node, shape, encoding, bits, scale) -> _Stream:
        """The model's input as hwgen's frames: quantized by ``node`` (None: annotated)."""
        if len(shape) == 2:
            activation = Activation(shape[1], 1, 1, encoding, bits)
        elif len(shape) == 4:
            activation = Activation(shape[1], shape[2], shape[3], encoding, bits)
        else:
            raise QonnxImportError(f"the model's input is {shape}: hwgen takes (1, C) or "
                                   f"(1, C, H, W)")
        self.input = (activation, scale, len(shape))
        return _Stream(activation, scale, shape)

    def matrix(self, node, ins):
        stream, weight_name = ins[0], node.input[1]
        tensor = self.const(weight_name)
        if not isinstance(stream, _Stream) or tensor is None:
            _fail(node, "must multiply a quantized stream by constant weights")
        attributes = {a.name: a for a in node.attribute}
        index = len(self.layers)
        name = f"{'conv' if node.op_type == 'Conv' else 'fc'}{index}"
        if node.op_type == "Conv":
            return self.conv(node, stream, tensor, attributes, name)
        if node.op_type == "Gemm":
            if attributes.get("transA") and attributes["transA"].i:
                _fail(node, "transA is not supported")
            if not (attributes.get("transB") and attributes["transB"].i):
                tensor = tensor.T
            for key in ("alpha", "beta"):
                if key in attributes and attributes[key].f != 1.0:
                    _fail(node, f"{key} must be 1")
        else:
            tensor = tensor.T                              # MatMul: x (1, K) @ W (K, mh)
        codes, step, bits = _weights(node, tensor)
        columns = self.columns(node, stream, codes.shape[1])
        dot = _Dot(name, stream, codes[:, columns], step, node.output[0], conv=False,
                   pixels=1, out_hw=(1, 1), weight_bits=bits)
        if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2]:
            if self.const(node.input[2]) is None:
                _fail(node, "its bias must be a constant")
            dot.bias = node.input[2]
        self.state[node.output[0]] = dot

    def columns(self, node, stream, width) -> np.ndarray:
        """For each of hwgen's weight columns (h, w, c order) the model's (c, h, w)."""
        act = stream.activation
        if width != act.elements:
            _fail(node, f"its weights take {width} inputs, but its input has {act.elements}")
        if stream.order is None and act.pixels > 1:
            _fail(node, "multiplies an image: flatten it first (Flatten / Reshape)")
        if stream.order is None:
            return np.arange(width)
        channels, height, width_ = stream.order
        return np.arange(width).reshape(channels, height, width_).transpose(1, 2, 0).ravel()

    def conv(self, node, stream, tensor, attributes, name):
        act = stream.activation
        if stream.order is not None or len(stream.shape) != 4:
            _fail(node, "convolves a flattened stream")
        group = attributes["group"].i if "group" in attributes else 1
        dilations = list(attributes["dilations"].ints) if "dilations" in attributes else [1, 1]
        if group != 1 or dilations != [1, 1]:
            _fail(node, f"group {group}, dilations {dilations}: hwgen imports group 1, "
                        f"dilation 1")
        out, channels, kh, kw = tensor.shape
        strides = list(attributes["strides"].ints) if "strides" in attributes else [1, 1]
        pads = list(attributes["pads"].ints) if "pads" in attributes else [0, 0, 0, 0]
        if pads[:2] != pads[2:]:
            _fail(node, f"pads {pads}: hwgen pads both sides alike")
        if any(pads) and act.encoding == "bipolar":
            _fail(node, "ONNX pads with 0, which is no +-1 value: a zero-padded convolution "
                        "of bipolar inputs has no exact hwgen form (pad 0, or binary inputs)")
        swg = SWGLayer(f"{name}_swg", act.channels, act.height, act.width, (kh, kw),
                       tuple(strides), tuple(pads[:2]), elem_bits=act.bits)
        codes, step, bits = _weights(node, tensor.transpose(0, 2, 3, 1))   # (out, kh, kw, c)
        dot = _Dot(name, stream, codes, step, node.output[0], conv=True,
                   pixels=swg.out_height * swg.out_width, out_hw=(swg.out_height,
                                                                  swg.out_width), swg=swg,
                   weight_bits=bits)
        if len(node.input) > 2 and node.input[2]:
            if self.const(node.input[2]) is None:
                _fail(node, "its bias must be a constant")
            dot.bias = node.input[2]
        self.state[node.output[0]] = dot

    def maxpool(self, node, stream):
        kernel = _pool_kernel(node)
        if isinstance(stream, _Dot):        # before the quantizer: pooled after it, if it may
            if not stream.conv or stream.pool is not None:
                _fail(node, "pools something other than a convolution's output")
            stream.pool = (node, kernel)
            self.state[node.output[0]] = stream
            return
        if not isinstance(stream, _Stream) or stream.order is not None or stream.shape[2:] == ():
            _fail(node, "pools something other than a quantized image")
        self.state[node.output[0]] = self.pooled(stream, kernel)

    def pooled(self, stream: _Stream, kernel) -> _Stream:
        act = stream.activation
        layer = MaxPoolLayer(f"pool{len(self.layers)}", act.channels, act.height, act.width,
                             tuple(kernel), elem_bits=act.bits)
        self.layers.append(layer)
        out = Activation(act.channels, layer.out_height, layer.out_width, act.encoding,
                         act.bits)
        return _Stream(out, stream.scale, (1, act.channels, out.height, out.width))

    def layout(self, node, stream):
        if not isinstance(stream, _Stream):
            _fail(node, "reshapes something other than a quantized stream")
        shape = tuple(self.model.get_tensor_shape(node.output[0]))
        act = stream.activation
        if node.op_type == "Identity" or shape == stream.shape:
            self.state[node.output[0]] = stream
            return
        if len(shape) != 2 or shape[1] != act.elements:
            _fail(node, f"{stream.shape} to {shape}: hwgen flattens an image to (1, C*H*W)")
        order = stream.order or (act.channels, act.height, act.width)
        self.state[node.output[0]] = dataclasses.replace(stream, shape=shape, order=order)

    # --- thresholds --------------------------------------------------------------------------
    def codes(self, dot: _Dot, nodes) -> tuple[np.ndarray, np.ndarray]:
        """Every integer dot product a neuron can reach (``d``, ascending) and what the
        model's ``nodes`` after the product make of it per neuron (``out`` (mh, len(d)))."""
        act = dot.source.activation
        top = (1 << act.bits) - 1 if act.encoding == "uint" else 1
        bound = dot.weights.shape[1] * top * ((1 << dot.weight_bits) - 1)
        if (2 * bound + 1) * len(dot.weights) > MAX_ENUMERATED:
            raise QonnxImportError(
                f"the product {dot.tensor!r}: its {len(dot.weights)} neurons' dot products "
                f"range over {2 * bound + 1:,} values each, more than the import enumerates "
                f"({MAX_ENUMERATED:,} in all)")
        d = np.arange(-bound, bound + 1, dtype=np.int64)
        real = (np.float32(dot.source.scale) * dot.step.astype(np.float32))[None, :] * \
            d.astype(np.float32)[:, None]                                     # (L, mh)
        if dot.conv:
            real = real[:, :, None, None]
        chain = list(nodes)
        if dot.pool is not None:             # per channel, a max-pool passes a value through
            from onnx import NodeProto
            pool = dot.pool[0]
            renamed = []
            for original in chain:
                node = NodeProto()
                node.CopyFrom(original)
                node.input[:] = [pool.input[0] if name == pool.output[0] else name
                                 for name in node.input]
                renamed.append(node)
            chain = renamed
        bias = dot.bias
        source = dot.tensor
        if bias is not None:                 # a Gemm's or Conv's own bias: an Add before
            from onnx import helper
            shaped = self.const(bias).reshape(-1, *((1, 1) if dot.conv else ()))
            self.model.set_initializer(f"{bias}.shaped", shaped.astype(np.float32))
            source = f"{dot.tensor}.unbiased"
            chain.insert(0, helper.make_node("Add", [source, f"{bias}.shaped"], [dot.tensor]))
        out = np.asarray(_run(self.model, chain, source, real) if chain else real)
        if out.size != real.size:           # a constant that differs by pixel, not channel
            _fail(nodes[0], "its arithmetic after the product is not per channel (a constant "
                            "that varies by pixel has no thresholds)")
        return d, out.reshape(len(d), -1).T

    def thresholded(self, node, dot: _Dot, encoding, bits, scale):
        d, values = self.codes(dot, dot.nodes + [node])
        codes = np.rint(values / np.float32(scale)).astype(np.int64)
        if encoding == "bipolar":
            codes = (codes + 1) // 2
        levels = (1 << bits) - 1
        mh = len(codes)
        rising = np.all(np.diff(codes, axis=1) >= 0, axis=1)
        falling = np.all(np.diff(codes, axis=1) <= 0, axis=1)
        if not np.all(rising | falling):
            _fail(node, f"neuron {int(np.argmin(rising | falling))} of {dot.name}: its output "
                        f"is not monotone in its dot product (no thresholds express it)")
        invert = ~rising
        thresholds = np.empty((mh, levels), dtype=np.int64)
        for k in range(1, levels + 1):
            reached = np.where(invert[:, None], codes < k, codes >= k)
            first = np.where(reached.any(axis=1), reached.argmax(axis=1), len(d))
            thresholds[:, k - 1] = np.append(d, d[-1] + 1)[first]
        act = dot.source.activation
        stream_encoding = act.encoding
        layer = MVTULayer(dot.name, dot.weights.shape[1], mh, 1, 1, dot.weights,
                          thresholds[:, 0] if levels == 1 else thresholds, invert,
                          in_encoding=stream_encoding, in_bits=act.bits,
                          out_encoding=encoding if bits == 1 else "uint", act_bits=bits,
                          pixels=dot.pixels, weight_bits=dot.weight_bits)
        height, width = dot.out_hw
        shape = (1, mh, height, width) if dot.conv else (1, mh)
        out = Activation(mh, height, width, layer.out_encoding, bits)
        return layer, _Stream(out, scale, shape)

    def last(self, dot: _Dot) -> list:
        """The logits layer: its per-class arithmetic one increasing affine map."""
        if dot.pool is not None:
            _fail(dot.pool[0], "a max-pool on the logits")
        d, values = self.codes(dot, dot.nodes)
        values = values.astype(np.float64)
        slope = (values[:, -1] - values[:, 0]) / (d[-1] - d[0])
        offset = values[:, len(d) // 2]                     # at d = 0
        if not (np.all(slope > 0) and np.ptp(slope) <= 1e-6 * slope.max()
                and np.ptp(offset) <= 1e-6 * max(1.0, np.abs(offset).max())):
            raise QonnxImportError(
                f"the last matrix product ({dot.tensor}): its per-class scale or bias is not "
                f"the same for every class: hwgen's last layer emits integer dot products "
                f"(a bias or class scale there has no thresholds to absorb it)")
        self.logits = {"logits_scale": float(slope[0]), "logits_offset": float(offset[0])}
        act = dot.source.activation
        layer = MVTULayer(dot.name, dot.weights.shape[1], dot.weights.shape[0], 1, 1,
                          dot.weights, in_encoding=act.encoding, in_bits=act.bits,
                          pixels=dot.pixels, weight_bits=dot.weight_bits)
        return ([dot.swg] if dot.swg is not None else []) + [layer]
