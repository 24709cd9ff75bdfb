"""Datasets as input frames in stream order: ``load_dataset(data_spec, seed)``.

:mod:`.images` loads the image datasets that ship in Python packages, :mod:`.speech` Speech
Commands (a downloaded copy, or :mod:`.synth`'s synthetic one) as MFCC frames (:mod:`.mfcc`);
both give a :class:`Dataset`.
"""
from ..errors import SpecError
from ..spec import DataSpec, Spec
from .dataset import Dataset
from .images import image_dataset, quantize
from .speech import speech_dataset, speech_folder_problem

__all__ = ["Dataset", "load_dataset", "check_data", "quantize"]


def load_dataset(spec: DataSpec, seed: int) -> Dataset:
    """The frames of ``spec`` (``spec.uncoded_shape``, ``input_bits``-bit elements: a
    thermometer code is the first layer's to make), split by ``seed``."""
    if spec.dataset == "speech_commands":
        return speech_dataset(spec, seed)
    return image_dataset(spec, seed)


def check_data(spec: Spec):
    """Refuse a spec whose data folder :func:`load_dataset` could not read, before anything
    runs: a :class:`SpecError` naming the spec file and ``data.path`` (the folder's files are
    read, and may still be refused one by one, when the data loads)."""
    if spec.data.dataset == "speech_commands" and spec.data.path is not None:
        problem = speech_folder_problem(spec.data.path)
        if problem is not None:
            raise SpecError(spec.path or "<spec>", "data.path", f"{problem}: {spec.data.path}")
