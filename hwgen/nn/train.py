"""Seeded, reproducible training of the spec's BNN (and of its float twin, for reference).

Robustness options: ``train.noise_sigma`` trains through :class:`~hwgen.nn.GaussianMVM` cell
noise (noise-aware training; evaluation stays exact), ``model.zero_raising`` adds its weight
times the mean firing rate of the hidden layers (straight-through gradient) to the loss."""
import copy
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..data import Dataset
from ..spec import Spec
from .model import BNN
from .robustness import GaussianMVM

__all__ = ["TrainResult", "train_model", "evaluate", "time_shift", "share_filters",
           "concrete_temperature"]


@dataclass
class TrainResult:
    model: BNN
    test_accuracy: float
    train_accuracy: float
    #: With similar-filter sharing (a conv's ``share.similar`` >= 1): the test accuracy before
    #: the ties, right after them, after fine-tuning, and of the untied network fine-tuned
    #: alike, and per tied layer what the cover found (:func:`share_filters`); else None.
    sharing: dict | None = None


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


#: Frames one forward pass of :func:`evaluate` takes: an eval-mode frame's logits do not depend
#: on the others', and a whole training set of a cim conv network at once needs many GB.
EVALUATE_BATCH = 256


@torch.no_grad()
def evaluate(model: BNN, x: np.ndarray, y: np.ndarray) -> float:
    """The eval-mode accuracy of ``model`` on frames ``x`` with labels ``y``."""
    model.eval()
    x = torch.as_tensor(x)
    classes = [model(x[start:start + EVALUATE_BATCH]).argmax(dim=1)
               for start in range(0, len(x), EVALUATE_BATCH)]
    return float((torch.cat(classes).numpy() == y).mean())


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
    label = "train BNN" if binary else "train float"
    _epochs(model, spec, data, spec.train.epochs, spec.train.lr, generator, label, progress)
    sharing = share_filters(model, spec, data, generator, progress) if binary else None
    return TrainResult(model=model,
                       test_accuracy=evaluate(model, data.test_x, data.test_y),
                       train_accuracy=evaluate(model, data.train_x, data.train_y),
                       sharing=sharing)


#: Fine-tuning after similar filters are tied runs at this fraction of ``train.lr`` (with the
#: same cosine schedule over ``share.finetune_epochs``): the network is trained already.
FINETUNE_LR_SCALE = 0.3


def share_filters(model: BNN, spec: Spec, data: Dataset, generator,
                  progress: bool = True) -> dict | None:
    """Tie the similar 2-D filters of each conv whose ``share.similar`` is D >= 1 and fine-tune.

    Per such layer the cover (:func:`hwgen.ops.smvtu.sharing.cover`: the fewest representatives
    per input channel within D bits, up to complement, each filter then to its nearest) picks the
    representatives; each 2-D filter is tied to its one (:meth:`BinaryConv2d.tie`), and the
    whole network trains ``share.finetune_epochs`` more epochs (the largest over the layers) at
    :data:`FINETUNE_LR_SCALE` times ``train.lr``, the tied filters moving together; a copy of
    the untied network fine-tunes the same way on the same batches (the reference the ties are
    judged against). Returns the test accuracy before the ties, after them, after fine-tuning
    and the reference's, and per layer the 2-D filters, their distinct classes before (exact
    sharing) and after, the weights changed and HiGHS's largest optimality gap; None when no
    layer ties."""
    from ..ops.smvtu.sharing import cover, exact_sharing, tie
    tied_layers = {index: share for index, share in spec.shared_convs().items()
                   if share.similar > 0}
    if not tied_layers:
        return None
    before = evaluate(model, data.test_x, data.test_y)
    epochs = max(share.finetune_epochs for share in tied_layers.values())
    lr = spec.train.lr * FINETUNE_LR_SCALE
    # The reference: the same fine-tuning without the ties (its own copy, the same batches),
    # so that the accuracy the ties cost is not confused with what more epochs give.
    reference = copy.deepcopy(model)
    reference_generator = torch.Generator()
    reference_generator.set_state(generator.get_state())
    _epochs(reference, spec, data, epochs, lr, reference_generator, "fine-tune reference",
            progress)
    layers = {}
    for index, share in tied_layers.items():
        conv = model.layers[index]
        out, channels = conv.weight.shape[:2]
        filters = conv.weight_codes().reshape(out, channels, -1).numpy()
        chosen = cover(filters, share.similar)
        conv.tie(tie(filters, chosen))
        layers[spec.layer_name(index)] = {
            "similar": share.similar, "filters": out * channels,
            "distinct_exact": int(exact_sharing(filters).counts.sum()),
            "distinct_tied": int(chosen.counts.sum()),
            "weights_changed": chosen.distortion, "optimality_gap": chosen.gap}
    tied = evaluate(model, data.test_x, data.test_y)
    _epochs(model, spec, data, epochs, lr, generator, "fine-tune shared", progress)
    for index in tied_layers:
        model.layers[index].untie()
    return {"accuracy_before": before, "accuracy_tied": tied,
            "accuracy_finetuned": evaluate(model, data.test_x, data.test_y),
            "accuracy_reference": evaluate(reference, data.test_x, data.test_y),
            "layers": layers}


def concrete_temperature(train, epoch: int, epochs: int) -> float:
    """The Concrete ADC quantizer's temperature in ``epoch`` (0-based) of ``epochs``:
    ``train.concrete_temperature``, annealed geometrically to ``train.concrete_temperature_final``
    in the last epoch when that is given."""
    start, final = train.concrete_temperature, train.concrete_temperature_final
    if final is None or epochs < 2:
        return start
    return start * (final / start) ** (epoch / (epochs - 1))


class _EpochProgress:
    """Training progress on stderr: a tqdm bar on a terminal; elsewhere (a log, a pipe) a plain
    line at most every :attr:`EVERY` seconds and at the last epoch, no carriage returns."""

    #: Seconds between plain progress lines.
    EVERY = 10.0

    def __init__(self, epochs: int, label: str, enabled: bool):
        self.epochs, self.label, self.enabled = epochs, label, enabled
        self.started = self.last = time.monotonic()
        self.bar = None
        if enabled and sys.stderr.isatty():
            self.bar = tqdm(total=epochs, desc=label, unit="epoch", leave=False)

    def epoch_done(self, epoch: int, loss: float):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.3f}")
            return
        now = time.monotonic()
        if self.enabled and (now - self.last >= self.EVERY or epoch == self.epochs - 1):
            print(f"[hwgen] {self.label}: epoch {epoch + 1}/{self.epochs}, loss {loss:.3f}, "
                  f"{now - self.started:.0f} s", file=sys.stderr, flush=True)
            self.last = now

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _epochs(model: BNN, spec: Spec, data: Dataset, epochs: int, lr: float, generator,
            label: str, progress: bool) -> None:
    """``epochs`` passes of Adam at ``lr`` (cosine schedule) over the training set."""
    train_x = torch.as_tensor(data.train_x)
    train_y = torch.as_tensor(data.train_y)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    loss_fn = nn.CrossEntropyLoss()
    # Noise samples come from torch's global generator, seeded above.
    noise = GaussianMVM(spec.train.noise_sigma) if spec.train.noise_sigma > 0 else None
    zero_raising = spec.model.zero_raising
    bar = _EpochProgress(epochs, label, progress)
    for epoch in range(epochs):
        model.concrete_temperature = concrete_temperature(spec.train, epoch, epochs)
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
        bar.epoch_done(epoch, total / len(order))
    bar.close()
