"""QONNX in and out: hwgen's IR as a QONNX model (:func:`export_qonnx`) that qonnx's
executor runs bit for bit as the golden model computes it (:func:`execute`).

``builder.py`` holds the graph under construction and its conventions (channels last, element
values, datatypes); each op writes its own layers (its ``qonnx.py``); ``export.py`` walks the
graph and makes the inputs a run needs (the frames, a cim macro's noise samples). qonnx and
onnx are optional dependencies (``pip install -e '.[qonnx]'``), imported where used.
"""
from .builder import Builder, Tensor, datatype_of
from .export import (check_qonnx_file, execute, export_qonnx, feeds, layer_outputs,
                     noise_feeds, qonnx_bytes)

__all__ = ["Builder", "Tensor", "datatype_of", "export_qonnx", "qonnx_bytes",
           "check_qonnx_file", "execute", "feeds", "layer_outputs", "noise_feeds"]
