"""The integer IR: the spine every step after training reads.

A :class:`Graph` is a directed acyclic graph of streaming layers with integer tensors: each
layer reads the streams of the layers its ``inputs`` name (the previous layer's, in a chain),
and the last layer's output is the network's. It is stored as one
``.npz`` file: the array ``__ir__`` holds the JSON structure (with ``version``), the other arrays
hold the tensors, weights bit-packed along the input axis. ``hwgen sim`` and ``hwgen build`` read
only this file; they never retrain.

Activations are encoded per element (:data:`hwgen.ops.ENCODINGS`): ``bipolar``, ``binary``
or ``uint``. The layers are the ops' (:mod:`hwgen.ops`): this module knows none of them; it asks
the op registry for each layer's output shape, its header entry and arrays, and how to read
them back.
"""
import dataclasses
import hashlib
import io
import json
import math
import reprlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import HwgenError
from ..ops import ENCODINGS, Activation, DWCLayer, MVTULayer, UnknownOpError, graph_ops, op_for

__all__ = ["IR_VERSION", "Activation", "Edge", "Graph", "converter", "save_ir", "load_ir",
           "IRVersionError",
           "GRAPH_INPUT"]

#: Version 6 names each layer's inputs (a DAG); version 5 files, chains, are still read.
IR_VERSION = 6
#: Versions :func:`load_ir` reads.
READ_VERSIONS = (5, 6)
#: The name by which a layer's ``inputs`` refer to the graph's input frames.
GRAPH_INPUT = "input"


@dataclass(frozen=True)
class Edge:
    """A stream from layer ``producer`` to input ``port`` of layer ``consumer`` (names); the
    network assembly puts a FIFO on each (and a width converter where the transfers differ)."""
    producer: str
    consumer: str
    port: int

@dataclass(frozen=True, eq=False)
class Graph:
    """A whole network: its input, its layers in an order where each follows its inputs, and
    the test frames it was exported with.

    A frame is ``channels x height x width`` input elements (``input_shape``) in stream order:
    pixels in raster order, channels innermost. A dense layer on an image reads it flattened in
    this order (height, width, channels), as FINN does.

    Parameters
    ----------
    input_shape : (channels, height, width); a vector of features is ``(features, 1, 1)``.
    input_encoding, input_bits : encoding of an input element and its bits
        (``bipolar``/``binary`` with 1 bit, or ``uint`` pixels/features of ``input_bits``).
    layers : the ops' graph layers; the last is an MVTU emitting integers (logits).
    inputs : per layer, the names of the layers whose streams it reads (one per input of its
        op, in port order; :data:`GRAPH_INPUT` for the frames, which only the first layer
        reads). ``None``: a chain, each layer reading the one before (a chain given in full is
        kept as ``None``). Each name is an earlier layer's, and every layer but the last feeds
        at least one other. :attr:`sources` has them in full either way.
    test_frames : (N, elements) integer element values in stream order.
    test_labels : (N,) classes.
    fifo_depths : depth of the FIFO on each edge (:meth:`edges`; in a chain, after each layer
        but the last) (``None``: the default rule of :class:`hwgen.hw.network.Network`); set
        by FIFO sizing.
    """
    name: str
    input_shape: tuple[int, int, int]
    classes: int
    layers: tuple
    test_frames: np.ndarray
    test_labels: np.ndarray
    input_encoding: str = "bipolar"
    input_bits: int = 1
    fifo_depths: tuple[int, ...] | None = None
    meta: dict = field(default_factory=dict)
    version: int = IR_VERSION
    inputs: tuple[tuple[str, ...], ...] | None = None

    def __post_init__(self):
        shape = tuple(self.input_shape)
        if len(shape) != 3 or not all(isinstance(v, int) and v >= 1 for v in shape):
            raise ValueError(f"input_shape must be (channels, height, width), not {self.input_shape!r}")
        object.__setattr__(self, "input_shape", shape)
        if self.input_encoding not in ENCODINGS:
            raise ValueError(f"input_encoding must be one of {', '.join(ENCODINGS)}, "
                             f"not {self.input_encoding!r}")
        if not self.layers:
            raise ValueError("an IR graph needs at least one layer")
        object.__setattr__(self, "layers", tuple(self.layers))
        sources = self._check_inputs()
        object.__setattr__(self, "inputs", None if sources == self._chain() else sources)
        object.__setattr__(self, "_sources", sources)
        activations = self.activations()     # checks each layer against its inputs
        self._check_names()
        if activations[-1].encoding != "int":
            raise ValueError("the last layer must be an MVTU emitting integers (no thresholds)")
        if any(activation.encoding == "int" for activation in activations[1:-1]):
            raise ValueError("only the last layer may emit integers")
        if activations[-1].elements != self.classes or activations[-1].pixels != 1:
            raise ValueError(f"the last layer has {activations[-1].elements} outputs, "
                             f"not classes={self.classes}")
        if self.fifo_depths is not None:
            depths = tuple(int(d) for d in self.fifo_depths)
            edges = len(self.edges())
            if len(depths) != edges or min(depths, default=1) < 1:
                raise ValueError(f"fifo_depths must hold {edges} positive depths, "
                                 f"not {self.fifo_depths!r}")
            object.__setattr__(self, "fifo_depths", depths)
        frames = np.asarray(self.test_frames)
        if frames.ndim != 2 or frames.shape[1] != self.input_elements:
            raise ValueError(f"test_frames must have shape (N, {self.input_elements}), "
                             f"not {frames.shape}")
        top = (1 << self.input_bits) - 1
        if frames.size and (frames.min() < 0 or frames.max() > top):
            raise ValueError(f"test frame elements must lie in 0..{top}")
        object.__setattr__(self, "test_frames",
                           frames.astype(np.uint8 if self.input_bits <= 8 else np.uint16))
        object.__setattr__(self, "test_labels", np.asarray(self.test_labels, dtype=np.int64))

    def _check_inputs(self) -> tuple[tuple[str, ...], ...]:
        """The layers' inputs, a chain's filled in; ValueError (naming the layer) unless the
        names are unique, each input an earlier layer's (the frames only the first layer's),
        each layer reads as many as its op takes, and only the last layer feeds none."""
        names = [layer.name for layer in self.layers]
        if self.inputs is None:     # a chain's names are checked after its shapes
            return self._chain()
        self._check_names()
        inputs = tuple(tuple(sources) for sources in self.inputs)
        if len(inputs) != len(self.layers):
            raise ValueError(f"inputs must name the inputs of {len(self.layers)} layers, "
                             f"not {len(inputs)}")
        seen, fed = set(), set()
        for index, (layer, sources) in enumerate(zip(self.layers, inputs)):
            if not sources or not all(isinstance(name, str) for name in sources):
                raise ValueError(f"layer {layer.name!r}: its inputs must be layer names, "
                                 f"not {sources!r}")
            if index == 0 and sources != (GRAPH_INPUT,):
                raise ValueError(f"layer {layer.name!r}: the first layer reads the graph's "
                                 f"input alone, not {list(sources)}")
            for name in sources if index else ():
                if name == GRAPH_INPUT:
                    raise ValueError(f"layer {layer.name!r}: only the first layer reads the "
                                     f"graph's input")
                if name not in seen:
                    raise ValueError(f"layer {layer.name!r}: its input {name!r} is not an "
                                     f"earlier layer")
            if len(set(sources)) != len(sources):
                raise ValueError(f"layer {layer.name!r} reads {sources[0]!r} twice")
            fed.update(sources)
            seen.add(layer.name)
        unread = [name for name in names[:-1] if name not in fed]
        if unread:
            raise ValueError(f"layer {unread[0]!r} feeds no other layer (only the last layer's "
                             f"output leaves the graph)")
        return inputs

    def _chain(self) -> tuple[tuple[str, ...], ...]:
        """The inputs of a chain of these layers: each reads the one before."""
        return ((GRAPH_INPUT,),) + tuple((layer.name,) for layer in self.layers[:-1])

    def _check_names(self):
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            twice = next(name for name in names if names.count(name) > 1)
            raise ValueError(f"two layers are named {twice!r}")
        if GRAPH_INPUT in names:
            raise ValueError(f"no layer may be named {GRAPH_INPUT!r} (the graph's input)")

    @property
    def sources(self) -> tuple[tuple[str, ...], ...]:
        """Per layer, the names of the layers it reads (:data:`GRAPH_INPUT`: the frames)."""
        return self._sources

    @property
    def is_chain(self) -> bool:
        """Whether each layer reads the one before (and nothing else)."""
        return self.inputs is None

    def edges(self) -> list[Edge]:
        """The streams between layers: for each layer in order, each of its inputs in port
        order (a chain's: after each layer but the last). The order of ``fifo_depths``."""
        return [Edge(producer, layer.name, port)
                for layer, sources in zip(self.layers[1:], self.sources[1:])
                for port, producer in enumerate(sources)]

    def consumers(self, name: str) -> list[Edge]:
        """The edges out of layer ``name``, in :meth:`edges` order."""
        return [edge for edge in self.edges() if edge.producer == name]

    def index(self, name: str) -> int:
        """The position of layer ``name`` in :attr:`layers`."""
        for index, layer in enumerate(self.layers):
            if layer.name == name:
                return index
        raise KeyError(f"no layer named {name!r}")

    @property
    def input(self) -> Activation:
        return Activation(*self.input_shape, self.input_encoding, self.input_bits)

    @property
    def input_elements(self) -> int:
        return self.input.elements

    def activations(self) -> list[Activation]:
        """The graph's input, then each layer's output."""
        if self.input_encoding != "uint" and self.input_bits != 1:
            raise ValueError(f"input_bits must be 1 for {self.input_encoding} inputs, "
                             f"not {self.input_bits!r}")
        result = [self.input]
        made = {GRAPH_INPUT: self.input}
        for layer, sources in zip(self.layers, self.sources):
            op = op_for(layer)
            if not op.graph_layer:
                raise UnknownOpError(f"layer {layer.name!r}: a {op.name} is placed by the "
                                     f"network assembly, not held by a graph")
            wanted = op.input_count(layer)
            if len(sources) != wanted:
                article = "an" if op.name[0] in "aeiou" else "a"
                raise ValueError(f"layer {layer.name!r}: {article} {op.name} reads {wanted} "
                                 f"input{'s' if wanted > 1 else ''}, not {len(sources)} "
                                 f"({', '.join(sources)})")
            ins = [made[name] for name in sources]
            made[layer.name] = op.output(layer, ins if op.inputs != 1 else ins[0])
            result.append(made[layer.name])
        return result

    def input_converter(self):
        """The :class:`~hwgen.ops.DWCLayer` between the graph's input and its first layer
        where that layer reads its vectors padded (:meth:`hwgen.ops.Op.in_padding`: a cim
        MVTU's partial wordline group): the frames arrive unpadded, in transfers of the least
        divisor of the vector's elements that is at least the layer's transfer (so that the
        input keeps pace with it; the whole vector where it is narrower than one transfer).
        None where the first layer reads the frames as they are."""
        first = self.layers[0]
        padding = op_for(first).in_padding(first, 0)
        if padding is None:
            return None
        elements, bits = op_for(first).in_transfer(first)
        vector = padding[0]
        count = min((d for d in range(elements, vector + 1) if vector % d == 0),
                    default=vector)         # a vector narrower than one group: one word
        return _converter("input_dwc", count, elements, bits, padding)

    def mvtus(self) -> list[MVTULayer]:
        """The matrix layers (MVTUs, shared or not: the model's conv and linear layers), in
        order."""
        return [layer for layer in self.layers if op_for(layer).matrix]

    def expected_cycles(self) -> int:
        """Cycles per frame once the pipeline is full: the slowest layer's."""
        return max(layer.expected_cycles() for layer in self.layers)

    def with_layers(self, changes: dict) -> "Graph":
        """A copy with fields of named layers replaced: ``{"conv0": {"pe": 4}, ...}``.

        FIFO depths sized for the old folding no longer hold, so they are dropped.
        """
        import dataclasses
        unknown = set(changes) - {layer.name for layer in self.layers}
        if unknown:
            raise KeyError(f"no layers named {', '.join(sorted(unknown))}")
        layers = tuple(dataclasses.replace(layer, **changes.get(layer.name, {}))
                       for layer in self.layers)
        return dataclasses.replace(self, layers=layers, fifo_depths=None)

    def with_fifo_depths(self, depths) -> "Graph":
        import dataclasses
        return dataclasses.replace(self, fifo_depths=tuple(depths))


def _converter(name: str, count: int, consumer_count: int, bits: int, padding) -> DWCLayer:
    vector, padded = padding if padding is not None else (None, None)
    return DWCLayer(name=name, in_elements=count, out_elements=consumer_count, bits=bits,
                    vector=vector, padded=padded)


def converter(producer, consumer, port: int = 0, *, name: str | None = None) -> DWCLayer | None:
    """The width converter the network assembly places between ``producer`` and input
    ``port`` of its ``consumer`` (``name``: default ``<producer>_dwc``): where the producer's
    transfers carry another number of elements than the consumer's, or the consumer reads its
    vectors padded (:meth:`hwgen.ops.Op.in_padding`); None where the stream passes as it is.

    Raises
    ------
    ValueError
        The two streams' elements differ in bits (no chain the IR accepts).
    """
    count, bits = op_for(producer).out_transfer(producer)
    consumer_count, consumer_bits = op_for(consumer).in_transfers(consumer)[port]
    if bits != consumer_bits:
        raise ValueError(f"layer {producer.name!r} streams {bits}-bit elements, but "
                         f"{consumer.name!r} takes {consumer_bits}-bit ones")
    padding = op_for(consumer).in_padding(consumer, port)
    if count == consumer_count and padding is None:
        return None
    return _converter(name or f"{producer.name}_dwc", count, consumer_count, bits, padding)


#: Bounds on what an IR file may describe, far beyond what any FPGA holds, so that a damaged
#: or crafted header is refused with its figure before anything is allocated:
#: bytes of one array in the file (decompressed), ...
MAX_ARRAY_BYTES = 1 << 28
#: (bits of one layer's weights or one macro's cells: :data:`hwgen.ops.MAX_MEMORY_BITS`),
#: elements of one input frame, the depth of one FIFO, layers and arrays in one file.
MAX_FRAME_ELEMENTS = 1 << 24
MAX_FIFO_DEPTH = 1 << 20
MAX_LAYERS = 1024
MAX_ARRAYS = 4 * MAX_LAYERS + 4

#: The fields of an IR file's header (``digest`` aside, an array of its own).
HEADER_FIELDS = ("version", "name", "input_shape", "input_encoding", "input_bits", "classes",
                 "layers", "inputs", "fifo_depths", "meta")

#: Types of the ``meta`` entries hwgen reads back (others are kept as they are).
_META_TYPES = {"key": str, "hardware_key": str, "class_names": list, "fixed_folding": list,
               "fifo_sizing": dict, "quantization": dict, "float_accuracy": (int, float),
               "bnn_accuracy": (int, float), "bnn_train_accuracy": (int, float),
               "golden_accuracy": (int, float)}


def _content_digest(arrays: dict) -> str:
    """sha256 over every array of an IR file (the header ``__ir__`` among them) but the
    digest: names, dtypes, shapes and bytes."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        if name == "__digest__":
            continue
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save_ir(graph: Graph, path) -> None:
    """Write ``graph`` to ``path`` (one ``.npz``; a path or a binary file object), with a
    sha256 of its content (the array ``__digest__``) that :func:`load_ir` checks."""
    frames = graph.test_frames
    arrays = {"test_frames": np.packbits(frames.astype(bool), axis=1) if graph.input_bits == 1
              else frames, "test_labels": graph.test_labels}
    layers = []
    for index, layer in enumerate(graph.layers):
        op = op_for(layer)
        arrays.update(op.arrays(layer, f"l{index}"))
        layers.append(op.meta(layer))
    header = {"version": graph.version, "name": graph.name, "input_shape": list(graph.input_shape),
              "input_encoding": graph.input_encoding, "input_bits": graph.input_bits,
              "classes": graph.classes, "layers": layers,
              "inputs": [list(sources) for sources in graph.sources],
              "fifo_depths": None if graph.fifo_depths is None else list(graph.fifo_depths),
              "meta": graph.meta}
    arrays["__ir__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    arrays["__digest__"] = np.frombuffer(_content_digest(arrays).encode(), dtype=np.uint8)
    if hasattr(path, "write"):
        np.savez_compressed(path, **arrays)
    else:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        Path(path).write_bytes(buffer.getvalue())


def _one_line(error: BaseException, limit: int = 300) -> str:
    """``error`` as one line of at most ``limit`` characters (a crafted file's values are quoted
    in some errors)."""
    text = " ".join(str(error)[:4 * limit].split()) or type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _read_arrays(path: Path) -> dict:
    """The arrays of the ``.npz`` file ``path``. Each is read only once its ``.npy`` header
    shows a plain integer array within :data:`MAX_ARRAY_BYTES` (no pickles, no object arrays,
    no allocation a header asks for); the zip's CRC-32 is checked on every one."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > MAX_ARRAYS:
            raise ValueError(f"{len(members):,} members, more than the {MAX_ARRAYS:,} an IR has")
        for info in members:
            if not info.filename.endswith(".npy"):
                raise ValueError(f"member {info.filename!r} is not an array")
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
                else:
                    raise ValueError(f"array format version {version} of {info.filename!r}")
                if dtype.kind not in "biu":
                    raise ValueError(f"{info.filename!r} holds {dtype}, not integers")
                size = math.prod(shape) * dtype.itemsize
                if size > MAX_ARRAY_BYTES:
                    raise ValueError(f"{info.filename!r} would take {size:,} bytes, more than "
                                     f"the {MAX_ARRAY_BYTES:,} an IR array may")
                data = member.read(size)
                if len(data) != size or member.read(1):      # the last read checks the CRC
                    raise ValueError(f"{info.filename!r} holds {len(data):,} bytes, "
                                     f"not the {size:,} of its {dtype} {shape}")
            arrays[info.filename[:-4]] = np.frombuffer(data, dtype=dtype).reshape(
                shape, order="F" if fortran else "C").copy()
    return arrays


def _is_count(value, top: int | None = None) -> bool:
    """A positive integer (not a bool), at most ``top``."""
    return (isinstance(value, int) and not isinstance(value, bool) and value >= 1
            and (top is None or value <= top))


def _check_header(path: Path, header: dict):
    """Refuse a header whose structure, types or sizes no :func:`save_ir` writes, with one
    line naming what is wrong (the layer classes check the values themselves)."""
    def refuse(problem: str):
        raise HwgenError(f"{path}: {problem}")

    fields = HEADER_FIELDS if header["version"] >= 6 else tuple(
        name for name in HEADER_FIELDS if name != "inputs")
    unknown = sorted(set(header) - set(fields))
    if unknown:
        refuse(f"unknown IR field {reprlib.repr(unknown[0])} (known: {', '.join(fields)})")
    missing = [name for name in fields if name not in header]
    if missing:
        refuse(f"IR field {missing[0]!r} missing")
    if not isinstance(header["name"], str) or not isinstance(header["input_encoding"], str):
        refuse("name and input_encoding must be strings")
    shape = header["input_shape"]
    if not isinstance(shape, list) or len(shape) != 3 or not all(map(_is_count, shape)):
        refuse(f"input_shape must be 3 positive integers, not {reprlib.repr(shape)}")
    if math.prod(shape) > MAX_FRAME_ELEMENTS:
        refuse(f"input frames of {math.prod(shape):,} elements, more than the "
               f"{MAX_FRAME_ELEMENTS:,} any device could take")
    if not _is_count(header["input_bits"], 16):
        refuse(f"input_bits must be an integer in 1..16, not {reprlib.repr(header['input_bits'])}")
    if not _is_count(header["classes"]):
        refuse(f"classes must be a positive integer, not {reprlib.repr(header['classes'])}")
    depths = header["fifo_depths"]
    if depths is not None and (not isinstance(depths, list) or len(depths) > MAX_LAYERS
                               or not all(_is_count(d, MAX_FIFO_DEPTH) for d in depths)):
        refuse(f"fifo_depths must be a list of integers in 1..{MAX_FIFO_DEPTH:,}, "
               f"not {reprlib.repr(depths)}")
    meta = header["meta"]
    if not isinstance(meta, dict):
        refuse(f"meta must be a mapping, not a {type(meta).__name__}")
    for name, kind in _META_TYPES.items():
        if name in meta and not isinstance(meta[name], kind):
            refuse(f"meta.{name} is a {type(meta[name]).__name__}")
    layers = header["layers"]
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        refuse(f"layers must be a list of 1..{MAX_LAYERS} layers")
    inputs = header.get("inputs")
    if inputs is not None and (
            not isinstance(inputs, list) or len(inputs) != len(layers)
            or not all(isinstance(sources, list) and 1 <= len(sources) <= MAX_LAYERS
                       and all(isinstance(name, str) and len(name) <= 200 for name in sources)
                       for sources in inputs)):
        refuse(f"inputs must be a list of {len(layers)} lists of layer names, "
               f"not {reprlib.repr(inputs)}")
    for index, layer in enumerate(layers):
        if not isinstance(layer, dict):
            refuse(f"layer {index} is a {type(layer).__name__}, not a mapping")
        ops = graph_ops()
        if layer.get("op") not in ops:
            refuse(f"layer {index} has unknown op {reprlib.repr(layer.get('op'))} "
                   f"(known: {', '.join(ops)})")
        op = ops[layer["op"]]
        known = {f.name for f in dataclasses.fields(op.layer)} - set(op.array_fields)
        unknown = sorted(set(layer) - known - {"op"})
        if unknown:
            refuse(f"layer {index} has unknown field {reprlib.repr(unknown[0])}")
        problem = op.check_entry({key: value for key, value in layer.items() if key != "op"})
        if problem is not None:
            refuse(f"layer {index}: {problem}")


class IRVersionError(HwgenError):
    """An IR file of another version than :data:`IR_VERSION` (made by another hwgen)."""


def load_ir(path, *, digest_required: bool = False) -> Graph:
    """Read an IR file written by :func:`save_ir`.

    Anything else (damaged, cut short, edited so that it no longer matches its digest, or
    describing more than any device holds) raises :class:`HwgenError` with one line naming
    the file. Files without a digest (written before hwgen kept one) are read after the
    same checks, unless ``digest_required``.
    """
    path = Path(path)
    try:
        arrays = _read_arrays(path)
        header = json.loads(arrays["__ir__"].tobytes().decode())
    except Exception as error:     # whatever a damaged or foreign file raises: one line
        raise HwgenError(f"{path}: not an hwgen IR file ({type(error).__name__}: "
                         f"{_one_line(error)})") from None
    if not isinstance(header, dict):
        raise HwgenError(f"{path}: the IR header is a {type(header).__name__}, not a mapping")
    version = header.get("version")
    if type(version) is not int or version not in READ_VERSIONS:
        raise IRVersionError(f"{path}: IR version {reprlib.repr(version)} is not supported "
                             f"(this hwgen reads versions "
                             f"{', '.join(map(str, READ_VERSIONS))}); re-run hwgen export")
    _check_header(path, header)
    layers = []
    for index, meta in enumerate(header["layers"]):
        try:
            entry = {key: value for key, value in meta.items() if key != "op"}
            layers.append(graph_ops()[meta["op"]].from_entry(entry, f"l{index}", arrays))
        except (TypeError, ValueError) as error:
            raise HwgenError(f"{path}: layer {index}: {_one_line(error)}") from None
    shape = tuple(header["input_shape"])
    frames = arrays.get("test_frames")
    labels = arrays.get("test_labels")
    if frames is None or labels is None or frames.ndim != 2 or labels.shape != frames.shape[:1]:
        raise HwgenError(f"{path}: test_frames and test_labels missing or of other lengths")
    if header["input_bits"] == 1:
        if frames.shape[1] != -(-math.prod(shape) // 8) or frames.dtype != np.uint8:
            raise HwgenError(f"{path}: packed test_frames {frames.dtype} {frames.shape} do not "
                             f"fit input_shape {list(shape)}")
        frames = np.unpackbits(frames, axis=1, count=math.prod(shape))
    try:
        graph = Graph(name=header["name"], input_shape=shape, classes=header["classes"],
                      layers=tuple(layers), test_frames=frames, test_labels=labels,
                      input_encoding=header["input_encoding"], input_bits=header["input_bits"],
                      fifo_depths=header["fifo_depths"], meta=header["meta"],
                      inputs=header.get("inputs"))
    except (TypeError, ValueError) as error:
        raise HwgenError(f"{path}: {_one_line(error)}") from None
    if "__digest__" in arrays:
        if arrays["__digest__"].tobytes() != _content_digest(arrays).encode():
            raise HwgenError(f"{path}: its content does not match its digest (damaged or edited)")
    elif digest_required:
        raise HwgenError(f"{path}: no digest (not written by this hwgen)")
    return graph
