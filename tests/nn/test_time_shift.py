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


def test_init_scale_shrinks_latent_weights_by_fan_in():
    import math

    from hwgen.nn import BNN
    from hwgen.nn.train import scale_latent_weights
    from hwgen.spec import load_spec
    from pathlib import Path
    spec = load_spec(Path(__file__).resolve().parents[2] / "examples" / "digits_cnn.yaml")
    torch.manual_seed(0)
    model = BNN(spec)
    before = [layer.weight.clone() for layer in model.layers if hasattr(layer, "weight")]
    scale_latent_weights(model, 0.5)
    after = [layer.weight for layer in model.layers if hasattr(layer, "weight")]
    for old, new in zip(before, after):
        bound = 0.5 / math.sqrt(old[0].numel())
        assert torch.allclose(new, old * bound / 1.0) and new.abs().max() <= bound
