"""Seeded, reproducible training of the spec's BNN (and of its float twin, for reference).

Robustness options: ``train.noise_sigma`` trains through :class:`~hwgen.nn.GaussianMVM` cell
noise (noise-aware training; evaluation stays exact), ``model.zero_raising`` adds its weight
times the mean firing rate of the hidden layers (straight-through gradient) to the loss."""
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..data import Dataset
from ..spec import Spec
from .model import BNN
from .robustness import GaussianMVM

__all__ = ["TrainResult", "train_model", "evaluate", "time_shift"]


@dataclass
class TrainResult:
    model: BNN
    test_accuracy: float
    train_accuracy: float


@torch.no_grad()
def scale_latent_weights(model: BNN, scale: float):
    """Latent weights drawn uniform in +-1 scaled to +-``scale`` / sqrt(fan-in)."""
    for layer in model.layers:
        weight = getattr(layer, "weight", None)
        if weight is not None and weight.ndim >= 2:
            weight.mul_(scale / weight[0].numel() ** 0.5)


def time_shift(frames: torch.Tensor, shape, most: int, generator) -> torch.Tensor:
    """``frames`` (N, elements in stream order: rows, columns, channels innermost), each rolled
    by its own random number of rows in ``-most .. most``."""
    channels, height, width = shape
    rows = frames.reshape(len(frames), height, width * channels)
    shift = torch.randint(-most, most + 1, (len(frames), 1), generator=generator)
    index = (torch.arange(height)[None, :] - shift) % height
    rolled = torch.gather(rows, 1, index[:, :, None].expand(-1, -1, rows.shape[2]))
    return rolled.reshape(frames.shape)


@torch.no_grad()
def evaluate(model: BNN, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    logits = model(torch.as_tensor(x))
    return float((logits.argmax(dim=1).numpy() == y).mean())


def train_model(spec: Spec, data: Dataset, *, binary: bool = True, seed: int | None = None,
                progress: bool = True) -> TrainResult:
    """Train ``BNN(spec)`` on ``data``: Adam, cosine learning rate, cross-entropy (plus
    ``model.zero_raising`` times the mean firing rate), through ``train.noise_sigma``
    noise.

    Runs on one CPU thread: the order of float reductions depends on the thread count, so this
    keeps a seed's result the same on every machine (and small models train faster so).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(spec, data, binary=binary, seed=seed, progress=progress)
    finally:
        torch.set_num_threads(threads)


def _train(spec: Spec, data: Dataset, *, binary: bool, seed: int | None,
           progress: bool) -> TrainResult:
    seed = spec.seed if seed is None else seed
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = BNN(spec, binary=binary)
    if spec.train.init_scale is not None:
        scale_latent_weights(model, spec.train.init_scale)
    train_x = torch.as_tensor(data.train_x)
    train_y = torch.as_tensor(data.train_y)
    epochs = spec.train.epochs
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.train.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    # Noise samples come from torch's global generator, seeded above.
    noise = GaussianMVM(spec.train.noise_sigma) if spec.train.noise_sigma > 0 else None
    zero_raising = spec.model.zero_raising
    label = "train BNN" if binary else "train float"
    bar = tqdm(range(epochs), desc=label, unit="epoch", disable=not progress, leave=False)
    for _epoch in bar:
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        total = 0.0
        for start in range(0, len(order), spec.train.batch_size):
            batch = order[start:start + spec.train.batch_size]
            if len(batch) < 2:   # batch norm needs two samples
                continue
            optimizer.zero_grad()
            firing = [] if zero_raising > 0 else None
            x = train_x[batch]
            if spec.train.time_shift:
                x = time_shift(x, data.shape, spec.train.time_shift, generator)
            loss = loss_fn(model(x, mvm=noise, firing=firing), train_y[batch])
            if firing:
                loss = loss + zero_raising * torch.stack(firing).mean()
            loss.backward()
            optimizer.step()
            model.clip_()
            total += loss.item() * len(batch)
        schedule.step()
        bar.set_postfix(loss=f"{total / len(order):.3f}")
    bar.close()
    return TrainResult(model=model,
                       test_accuracy=evaluate(model, data.test_x, data.test_y),
                       train_accuracy=evaluate(model, data.train_x, data.train_y))
