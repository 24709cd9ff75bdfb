"""``train.time_shift``: each frame rolled along its rows (time) by its own seeded draw."""
import torch

from hwgen.nn.train import time_shift


def test_rows_roll_per_frame_within_the_range():
    shape = (2, 7, 3)                                   # channels, rows, columns
    frames = torch.arange(5 * 2 * 7 * 3).reshape(5, -1)
    shifted = time_shift(frames, shape, 3, torch.Generator().manual_seed(1))
    images = frames.reshape(5, 7, 3 * 2)
    out = shifted.reshape(5, 7, 3 * 2)
    shifts = []
    for image, rolled in zip(images, out):
        match = [s for s in range(-3, 4) if torch.equal(torch.roll(image, s, dims=0), rolled)]
        assert len(match) == 1                           # a whole-row roll, columns intact
        shifts.append(match[0])
    assert len(set(shifts)) > 1                          # each frame its own draw
    again = time_shift(frames, shape, 3, torch.Generator().manual_seed(1))
    assert torch.equal(again, shifted)


def test_zero_shift_is_identity():
    frames = torch.arange(2 * 4 * 5).reshape(2, -1)
    assert torch.equal(time_shift(frames, (1, 4, 5), 0, torch.Generator()), frames)
