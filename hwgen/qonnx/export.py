"""hwgen's IR as a QONNX model: each layer written by its op (:meth:`hwgen.ops.Op.qonnx`),
the logits and the label select (``ArgMax``, the lowest index on ties) as the outputs.

The model takes the frames as element values, channels last (``frames``: ``N, H, W, C``;
``bipolar`` elements -1/+1), and, for a network with a noisy cim layer, each read's
standard-normal samples (``noise.<layer>.w<j>a<p>``), which :func:`noise_feeds` draws as the
hardware does; :func:`feeds` makes both from frames in the IR's form. qonnx's executor
(``qonnx.core.onnx_exec.execute_onnx``) runs it.
"""
import importlib
import json
from pathlib import Path

import numpy as np

from ..errors import HwgenError, SpecError
from ..ops.label_select import label_select
from ..ir import GRAPH_INPUT, Graph
from ..ops import op_for
from ..ops.mvtu.qonnx import noise_input_name
from .builder import Builder, datatype_of

__all__ = ["export_qonnx", "qonnx_bytes", "check_qonnx_file", "feeds", "noise_feeds",
           "execute", "layer_outputs"]

#: What the optional dependencies are called where they are missing.
EXTRA = "the qonnx extra (pip install -e '.[qonnx]')"


def _require():
    """HwgenError in one line unless qonnx and onnx import."""
    for module in ("onnx", "qonnx"):
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise HwgenError(f"QONNX needs {EXTRA}: {error}") from None


def check_qonnx_file(path) -> Path:
    """``path`` (``--qonnx``) checked before anything runs: a ``.onnx`` file in an existing
    folder, not a folder itself, and qonnx installed (SpecError / HwgenError in one line)."""
    path = Path(path)
    if path.suffix != ".onnx":
        raise SpecError("--qonnx", None, f"must name a .onnx file, not {str(path)!r}")
    if path.is_dir():
        raise SpecError("--qonnx", None, f"{path} is a folder")
    if not path.parent.is_dir():
        raise SpecError("--qonnx", None, f"its folder {path.parent} does not exist")
    _require()
    return path


def qonnx_bytes(graph: Graph) -> bytes:
    """:func:`export_qonnx` of ``graph`` as the bytes of a ``.onnx`` file."""
    _require()
    return export_qonnx(graph).model.SerializeToString()


def export_qonnx(graph: Graph):
    """``graph`` as a QONNX ``ModelWrapper`` for one frame at a time (qonnx's executor runs
    static shapes, and its ``Im2Col`` one image: FINN's convention)."""
    batch = 1
    g = Builder(graph.name, batch)
    channels, height, width = graph.input_shape
    frames = g.input("frames", (batch, height, width, channels),
                     datatype_of(graph.input_encoding, graph.input_bits))
    made = {GRAPH_INPUT: (frames, graph.input)}
    for layer, sources, activation in zip(graph.layers, graph.sources,
                                          graph.activations()[1:]):
        g.scope = layer.name
        op = op_for(layer)
        ins = [made[name] for name in sources]
        if op.inputs == 1:
            x, given = ins[0]
        else:
            x, given = [tensor for tensor, _ in ins], [act for _, act in ins]
        made[layer.name] = (op.qonnx(layer, g, x, given), activation)
    g.scope = "output"
    out, _ = made[graph.layers[-1].name]
    logits = g.output(g.reshape(out, batch, graph.classes), "logits")
    label = g.node("ArgMax", [logits], (batch,), "UINT32", element="int64", hint="label",
                   axis=1, keepdims=0)
    g.output(label, "label")
    model = g.model(doc=f"hwgen {graph.name}: {len(graph.layers)} layers, "
                        f"{graph.classes} classes")
    # Where each layer's output is (what :func:`layer_outputs` reads back).
    model.set_metadata_prop("hwgen.layer_outputs", json.dumps(
        {name: tensor.name for name, (tensor, _) in made.items() if name != GRAPH_INPUT}))
    return model


def layer_outputs(model, graph: Graph, frames, first_frame: int = 0) -> dict:
    """Each layer's output (N, elements) in the IR's stream order and codes (``bipolar``
    -1/+1 back to 0/1), as the exported ``model`` computes it for ``frames``: what
    :func:`hwgen.golden.run_layers` gives, layer by layer."""
    from qonnx.core.onnx_exec import execute_onnx
    names = json.loads(model.get_metadata_prop("hwgen.layer_outputs"))
    frames = np.asarray(frames)
    outputs = {layer.name: [] for layer in graph.layers}
    for index in range(len(frames)):
        context = execute_onnx(model, feeds(graph, frames[index:index + 1],
                                            first_frame + index),
                               return_full_exec_context=True)
        for layer in graph.layers:
            outputs[layer.name].append(np.rint(context[names[layer.name]]).reshape(-1))
    result = {}
    for layer, activation in zip(graph.layers, graph.activations()[1:]):
        values = np.asarray(outputs[layer.name]).astype(np.int64)
        result[layer.name] = (values + 1) // 2 if activation.encoding == "bipolar" else values
    return result


def _macro_layers(graph: Graph):
    for layer, activation in zip(graph.layers, graph.activations()[1:]):
        if getattr(layer, "macro", None) is not None and layer.macro.noisy:
            yield layer, activation


def noise_feeds(graph: Graph, count: int, first_frame: int = 0) -> dict:
    """The noise inputs of the exported ``graph`` for ``count`` frames, frame ``first_frame``
    the first: each read's standard-normal sample (in ``2**-Z_FRAC_BITS`` units), keyed as
    the hardware keys it by its layer, input vector since reset, neuron, wordline group and
    bit slice (:func:`hwgen.cim.noise_indices`)."""
    from ..cim.noise import noise_indices, ztable
    table = np.asarray(ztable(), dtype=np.float64)
    result = {}
    for layer, activation in _macro_layers(graph):
        spec = layer.macro
        groups = spec.groups(layer.mw)
        frames = np.arange(first_frame, first_frame + count, dtype=np.int64)
        vectors = frames[:, None] * layer.pixels + np.arange(layer.pixels)[None, :]
        for j, p in spec.slices:
            u = noise_indices(spec.seed, layer.macro_key, vectors[:, :, None, None],
                              np.arange(layer.mh)[None, None, None, :],
                              np.arange(groups)[None, None, :, None], j, p)
            result[noise_input_name(layer, j, p)] = table[u].reshape(
                count, activation.height, activation.width, groups, 1, layer.mh)
    return result


def feeds(graph: Graph, frames, first_frame: int = 0) -> dict:
    """The exported ``graph``'s inputs for ``frames`` (N, elements) in the IR's form (raw
    codes, stream order), frame ``first_frame`` of a run since reset the first: ``frames`` as
    values, channels last, and the noise samples of its reads."""
    frames = np.asarray(frames)
    channels, height, width = graph.input_shape
    if frames.ndim != 2 or frames.shape[1] != graph.input_elements:
        raise ValueError(f"frames must have shape (N, {graph.input_elements}), "
                         f"not {frames.shape}")
    values = frames.astype(np.float32)
    if graph.input_encoding == "bipolar":
        values = 2 * values - 1
    return {"frames": values.reshape(-1, height, width, channels),
            **noise_feeds(graph, len(frames), first_frame)}


def execute(model, graph: Graph, frames, first_frame: int = 0):
    """Run the exported ``model`` of ``graph`` on ``frames`` (N, elements), one after the
    other from frame ``first_frame`` of a run, with qonnx's executor: ``(logits, labels)``,
    int64."""
    from qonnx.core.onnx_exec import execute_onnx
    frames = np.asarray(frames)
    logits = []
    for index in range(len(frames)):
        out = execute_onnx(model, feeds(graph, frames[index:index + 1], first_frame + index))
        logits.append(np.rint(out["logits"]).astype(np.int64))
    logits = np.concatenate(logits) if logits else np.zeros((0, graph.classes), np.int64)
    return logits, label_select(logits)
