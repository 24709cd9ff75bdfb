"""A QONNX graph under construction: what each op's ``qonnx.py`` writes its layer into.

Every tensor of an exported graph is channels-last (``N, H, W, C``: hwgen's stream order) and
holds the element *values* of hwgen's golden model, as float32: ``bipolar`` elements -1/+1
(``BIPOLAR``), ``binary`` 0/1 (``BINARY``), ``uint`` their codes (``UINT<b>``), a last layer's
dot products integers (``INT32``). Each tensor carries its qonnx datatype annotation, as
FINN's tools expect.
"""
import numpy as np

from ..errors import HwgenError

__all__ = ["Builder", "Tensor", "QONNX_DOMAIN", "EXACT_FLOAT32", "datatype_of"]

#: The domain of qonnx's custom ops (``MultiThreshold``, ``Im2Col``, ``MaxPoolNHWC``).
QONNX_DOMAIN = "qonnx.custom_op.general"

#: Integers a float32 holds exactly: every value of an exported graph stays below this.
EXACT_FLOAT32 = 1 << 24


def datatype_of(encoding: str, bits: int) -> str:
    """The qonnx datatype of elements in ``encoding`` with ``bits`` bits."""
    if encoding == "bipolar":
        return "BIPOLAR"
    if encoding == "binary":
        return "BINARY"
    if encoding == "uint":
        return "BINARY" if bits == 1 else f"UINT{bits}"
    return "INT32"


#: Element types of the graph's tensors: values are float32 (float64 inside a cim macro,
#: whose fixed-point ADC inputs need more than float32's 24 bits), indices int64.
ELEMENT_TYPES = ("float", "double", "int64", "bool")


class Tensor:
    """A tensor of the graph: its name, shape (the batch first), qonnx datatype and element
    type (one of :data:`ELEMENT_TYPES`)."""
    __slots__ = ("name", "shape", "datatype", "element")

    def __init__(self, name: str, shape: tuple, datatype: str, element: str = "float"):
        self.name, self.shape, self.datatype = name, tuple(int(d) for d in shape), datatype
        self.element = element

    def __repr__(self):
        return f"Tensor({self.name!r}, {self.shape}, {self.datatype}, {self.element})"


def _onnx_type(element: str) -> int:
    from onnx import TensorProto
    return {"float": TensorProto.FLOAT, "double": TensorProto.DOUBLE,
            "int64": TensorProto.INT64, "bool": TensorProto.BOOL}[element]


class Builder:
    """Nodes, constants, inputs and outputs of one QONNX graph, named after the layers.

    Ops add nodes with :meth:`node` (standard ONNX) and :meth:`custom` (qonnx's ops) and
    constants with :meth:`const`; :meth:`model` makes the ``ModelWrapper``. The batch is
    fixed (``batch`` frames; qonnx's executor runs static shapes), 1 as in FINN by default.
    Every intermediate tensor's shape and element type is declared as the builder knows
    them (qonnx's shape inference would take ``Im2Col``'s batch for 1)."""

    def __init__(self, name: str, batch: int = 1):
        self.name, self.batch = name, int(batch)
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self.datatypes, self.value_infos, self._names = {}, {}, set()
        #: The layer being written (its name prefixes every tensor and node it adds).
        self.scope = "graph"

    # --- names -------------------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        """A tensor or node name not used yet: ``<layer>.<hint>``, numbered if taken."""
        base = f"{self.scope}.{hint}"
        name, count = base, 1
        while name in self._names:
            name, count = f"{base}_{count}", count + 1
        self._names.add(name)
        return name

    # --- tensors -----------------------------------------------------------------------------
    def const(self, array, hint: str, datatype: str | None = None, *,
              index: bool = False, double: bool = False) -> Tensor:
        """A constant (an initializer) holding ``array``: float32, exact (HwgenError naming
        the layer when a value is beyond float32's integers), float64 with ``double``, or
        int64 with ``index`` (shapes, axes, positions)."""
        from onnx import numpy_helper
        array = np.asarray(array)
        if index:
            data, element = array.astype(np.int64), "int64"
        elif double:
            data, element = array.astype(np.float64), "double"
        else:
            if array.size and np.abs(array.astype(np.float64)).max() >= EXACT_FLOAT32:
                raise HwgenError(f"layer {self.scope!r}: its {hint} reach "
                                 f"{int(np.abs(array).max())}, beyond float32's exact integers")
            data, element = array.astype(np.float32), "float"
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(data, name))
        tensor = Tensor(name, data.shape, datatype or "FLOAT32", element)
        if datatype is not None:
            self.datatypes[name] = datatype
        return tensor

    def shape(self, *dims) -> Tensor:
        """A shape constant for ``Reshape``."""
        return self.const(np.asarray(dims, dtype=np.int64), "shape", index=True)

    def input(self, name: str, shape: tuple, datatype: str, element: str = "float") -> Tensor:
        """A graph input."""
        from onnx import helper
        self._names.add(name)
        self.inputs.append(helper.make_tensor_value_info(name, _onnx_type(element),
                                                         list(shape)))
        self.datatypes[name] = datatype
        return Tensor(name, shape, datatype, element)

    def output(self, tensor: Tensor, name: str) -> Tensor:
        """``tensor`` as a graph output called ``name`` (an ``Identity`` to it)."""
        from onnx import helper
        self._names.add(name)
        self.nodes.append(helper.make_node("Identity", [tensor.name], [name],
                                           name=f"output.{name}"))
        self.outputs.append(helper.make_tensor_value_info(name, _onnx_type(tensor.element),
                                                          list(tensor.shape)))
        self.datatypes[name] = tensor.datatype
        return Tensor(name, tensor.shape, tensor.datatype, tensor.element)

    # --- nodes -------------------------------------------------------------------------------
    def node(self, op_type: str, inputs, shape: tuple, datatype: str = "FLOAT32", *,
             element: str | None = None, domain: str = "", hint: str | None = None,
             **attributes) -> Tensor:
        """A node of ``op_type`` on ``inputs`` (tensors) with one output of ``shape``,
        ``datatype`` and ``element`` type (default: the first input's); ``attributes`` as
        ONNX attributes."""
        from onnx import helper
        element = element or inputs[0].element
        out = self.fresh(hint or op_type[0].lower() + op_type[1:])
        self.nodes.append(helper.make_node(op_type, [t.name for t in inputs], [out],
                                           name=self.fresh(f"{op_type}_node"), domain=domain,
                                           **attributes))
        if element != "bool":                # qonnx checks annotated values arithmetically
            self.datatypes[out] = datatype
        self.value_infos[out] = helper.make_tensor_value_info(out, _onnx_type(element),
                                                              list(shape))
        return Tensor(out, shape, datatype, element)

    def custom(self, op_type: str, inputs, shape: tuple, datatype: str, **attributes) -> Tensor:
        """A node of one of qonnx's ops (:data:`QONNX_DOMAIN`)."""
        return self.node(op_type, inputs, shape, datatype, domain=QONNX_DOMAIN, **attributes)

    # --- common forms ------------------------------------------------------------------------
    def reshape(self, x: Tensor, *dims) -> Tensor:
        """``x`` reshaped to ``dims`` (the batch first)."""
        if tuple(x.shape) == tuple(dims):
            return x
        return self.node("Reshape", [x, self.shape(*dims)], dims, x.datatype, hint="reshaped")

    def cast(self, x: Tensor, element: str, datatype: str | None = None) -> Tensor:
        """``x`` as ``element`` values."""
        if x.element == element:
            return x
        return self.node("Cast", [x], x.shape, datatype or x.datatype, element=element,
                         hint=f"as_{element}", to=_onnx_type(element))

    def threshold(self, x: Tensor, thresholds, datatype: str, *, scale: float = 1.0,
                  bias: float = 0.0, layout: str | None = None) -> Tensor:
        """``MultiThreshold``: per channel (the last axis; ``thresholds`` (C, T), or (1, T)
        for all) the count of thresholds ``x`` reaches, times ``scale`` plus ``bias``."""
        attributes = {"out_dtype": datatype}
        if scale != 1.0:
            attributes["out_scale"] = float(scale)
        if bias != 0.0:
            attributes["out_bias"] = float(bias)
        if layout is None:
            layout = {2: "NC", 3: "NWC", 4: "NHWC"}.get(len(x.shape))
        if layout is not None:
            attributes["data_layout"] = layout
        thresholds = self.const(thresholds, "thresholds", double=x.element == "double")
        return self.custom("MultiThreshold", [x, thresholds], x.shape, datatype, **attributes)

    def bit(self, x: Tensor, p: int) -> Tensor:
        """Bit ``p`` (0/1) of the unsigned codes ``x``: ``floor(x / 2**p) mod 2``."""
        shifted = x if p == 0 else self.node(
            "Floor", [self.node("Div", [x, self.const(1 << p, "power")], x.shape)], x.shape)
        return self.node("Mod", [shifted, self.const(2, "two")], x.shape, "BINARY",
                         hint=f"bit{p}", fmod=1)

    # --- the model ---------------------------------------------------------------------------
    def model(self, doc: str = ""):
        """The graph as a qonnx ``ModelWrapper``, its datatypes annotated."""
        from onnx import helper
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.core.datatype import DataType
        from qonnx.util.basic import qonnx_make_model
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs,
                                  initializer=self.initializers, doc_string=doc,
                                  value_info=list(self.value_infos.values()))
        model = ModelWrapper(qonnx_make_model(graph, producer_name="hwgen"))
        for name, datatype in self.datatypes.items():
            if not datatype.startswith("FLOAT"):
                model.set_tensor_datatype(name, DataType[datatype])
        return model
