"""A dataset as frames of integer elements in stream order, split into training and test."""
from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset"]


@dataclass(frozen=True)
class Dataset:
    """Frames (``uint8``, one row per frame, stream order) and integer labels.

    ``shape`` is a frame's (channels, height, width); ``input_bits`` the bits per element.
    """
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: int
    shape: tuple[int, int, int] | None = None
    input_bits: int = 1
    #: How features became elements, where that is not fixed (``speech_commands``).
    quantization: dict | None = None
    #: Names of the classes (``None``: their numbers are their names).
    class_names: tuple[str, ...] | None = None
