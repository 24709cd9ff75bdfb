"""Input frames: 1-bit thresholding or unsigned integer quantization, stream order, and a
stratified split fixed by the seed."""
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from hwgen.data import load_dataset, quantize
from hwgen.ops.mvtu.golden import thermometer_code
from hwgen.spec import DataSpec


def test_quantize_rounds_halves_up_and_keeps_the_ends():
    pixels = np.arange(17)
    got = quantize(pixels, 16, 4)                      # round(p / 16 * 15)
    expected = np.floor(pixels * 15 / 16 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(got, expected)
    assert got[8] == 8                                 # 7.5 rounds up
    assert (got[0], got[16]) == (0, 15)
    np.testing.assert_array_equal(quantize(np.array([0, 1, 127, 128, 255]), 255, 1), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(quantize(np.array([0, 255]), 255, 8), [0, 255])


@pytest.mark.parametrize("pixels", [np.array([0.5]), np.array([-1]), np.array([17])])
def test_quantize_rejects_pixels_off_the_grid(pixels):
    with pytest.raises(ValueError, match="integers in 0..16"):
        quantize(pixels, 16, 4)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_frames_are_the_quantized_pixels_in_raster_order(bits):
    spec = DataSpec(dataset="digits", input_bits=bits, test_fraction=0.25)
    data = load_dataset(spec, seed=3)
    assert (data.shape, data.input_bits, data.classes) == ((1, 8, 8), bits, 10)
    assert data.train_x.dtype == np.uint8 and data.train_x.shape[1] == 64
    assert data.test_x.max() <= (1 << bits) - 1 and data.test_x.max() >= (1 << bits) // 2
    # The split of the frame indices: each frame is its image's pixels, raster order.
    digits = load_digits()
    raw = quantize(digits.data, 16, bits) if bits > 1 else (digits.data > 7).astype(np.uint8)
    train, test = train_test_split(np.arange(len(raw)), test_size=0.25, random_state=3,
                                   stratify=digits.target)
    np.testing.assert_array_equal(data.train_x, raw[train])
    np.testing.assert_array_equal(data.test_x, raw[test])
    np.testing.assert_array_equal(data.test_y, digits.target[test])


def test_split_is_stratified_and_seeded():
    spec = DataSpec(input_bits=4)
    a, b, c = load_dataset(spec, 0), load_dataset(spec, 0), load_dataset(spec, 1)
    np.testing.assert_array_equal(a.test_x, b.test_x)
    assert not np.array_equal(a.test_y, c.test_y)
    counts = np.bincount(a.test_y, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37       # 20 % of each class (~180 each)


def test_thermometer_codes_each_element_in_its_place_lowest_step_first():
    codes = thermometer_code(np.array([[0, 3, 1], [2, 2, 0]], dtype=np.uint8), 2).numpy()
    np.testing.assert_array_equal(codes, [[0, 0, 0, 1, 1, 1, 1, 0, 0],
                                          [1, 1, 0, 1, 1, 0, 0, 0, 0]])
    assert codes.dtype == np.int64
    # The number of set bits is the element, for every 4-bit value.
    values = np.arange(16, dtype=np.uint8)[None, :]
    np.testing.assert_array_equal(thermometer_code(values, 4).numpy().reshape(16, 15).sum(axis=1),
                                  values[0])


def test_thermometer_leaves_the_frames_uncoded():
    """The first layer codes the elements (the model, and the IR's thermometer MVTU): the
    frames, and so the IR's test frames and the board's, stay the quantized elements."""
    plain = load_dataset(DataSpec(input_bits=3), seed=1)
    coded = load_dataset(DataSpec(input_bits=3, thermometer=True), seed=1)
    assert (coded.shape, coded.input_bits) == ((1, 8, 8), 3)
    assert DataSpec(input_bits=3, thermometer=True).shape == (7, 8, 8)    # what the model sees
    np.testing.assert_array_equal(coded.train_x, plain.train_x)
    np.testing.assert_array_equal(coded.test_x, plain.test_x)
    np.testing.assert_array_equal(coded.test_y, plain.test_y)