"""Google Speech Commands (v0.02) as users download it, and the 12-class keyword task on it.

The layout (one folder per word, WAV files named ``<speaker>_nohash_<n>.wav``)::

    root/yes/0a7c2a8d_nohash_0.wav ...      16 kHz, 16-bit mono, about one second
    root/_background_noise_/*.wav            long noise recordings
    root/validation_list.txt                 relative paths of the validation clips
    root/testing_list.txt                    relative paths of the test clips

The standard task has 12 classes (:data:`CLASSES`): ``_silence_`` (one-second cuts of the
background noise), ``_unknown_`` (every other word) and the ten keywords. Clips listed in
neither list are the training set. A folder without the lists is split by
:func:`which_set`, the dataset's own rule (a hash of the speaker, so that no speaker is in two
splits). The synthetic generator (:mod:`hwgen.data.synth`) writes this same layout, so the
same loader reads a real copy and a synthetic one.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import HwgenError
from .clips import CLASSES, CLIP_SAMPLES, KEYWORDS, NOISE_FOLDER, read_wav, which_set
from .dataset import Dataset
from .mfcc import mfcc
from .synth import SynthSpec, synthesize

__all__ = ["SpeechSplits", "speech_folder_problem", "load_speech_commands", "quantize_features",
           "speech_dataset"]

def _fit(samples: np.ndarray) -> np.ndarray:
    """A clip padded with zeros (or cut) to exactly one second."""
    clip = np.zeros(CLIP_SAMPLES, dtype=np.float32)
    clip[:min(len(samples), CLIP_SAMPLES)] = samples[:CLIP_SAMPLES]
    return clip


@dataclass(frozen=True)
class SpeechSplits:
    """Clips (N, 16000) float32 and labels (indices into :data:`CLASSES`) per split."""
    train_audio: np.ndarray
    train_y: np.ndarray
    validation_audio: np.ndarray
    validation_y: np.ndarray
    test_audio: np.ndarray
    test_y: np.ndarray


def _read_list(root: Path, name: str) -> set[str] | None:
    path = root / name
    if not path.is_file():
        return None
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def speech_folder_problem(root) -> str | None:
    """Why ``root`` is no Speech Commands folder :func:`load_speech_commands` can read, in a
    few words, or ``None``: it must be a folder with one folder per keyword and a
    ``_background_noise_`` folder of at least one WAV file (their contents are read later)."""
    root = Path(root)
    try:
        if not root.is_dir():
            return "no Speech Commands folder there"
        words = {p.name for p in root.iterdir() if p.is_dir()}
        noise = root / NOISE_FOLDER
        has_noise = noise.is_dir() and any(noise.glob("*.wav"))
    except OSError as error:
        return f"cannot read the folder ({error.strerror or type(error).__name__})"
    missing = [word for word in KEYWORDS if word not in words]
    if missing:
        return (f"no folder for keyword(s) {', '.join(missing)} (a Speech Commands copy has "
                "one folder per word)")
    if not has_noise:
        return f"no {NOISE_FOLDER} folder of WAV files (needed for the _silence_ class)"
    return None


def load_speech_commands(root, *, seed: int = 0, silence_fraction: float = 0.1,
                         unknown_fraction: float = 0.1, max_per_class: int | None = None,
                         progress=None) -> SpeechSplits:
    """The 12-class task on a Speech Commands folder ``root``.

    Every keyword clip of a split is kept (at most ``max_per_class`` per split, chosen by the
    seed); ``_unknown_`` clips are drawn from the other words' clips of that split and
    ``_silence_`` clips cut from the background noise at a random volume, each
    ``silence_fraction`` / ``unknown_fraction`` of the keyword clips. Everything random comes
    from ``seed``.
    """
    root = Path(root)
    problem = speech_folder_problem(root)
    if problem is not None:
        raise HwgenError(f"{root}: {problem}")
    words = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != NOISE_FOLDER
                   and not p.name.startswith("."))
    validation, testing = _read_list(root, "validation_list.txt"), _read_list(root, "testing_list.txt")
    rng = np.random.default_rng(seed)
    by_split = {"training": ([], []), "validation": ([], []), "testing": ([], [])}
    for word in words:
        for path in sorted((root / word).glob("*.wav")):
            relative = f"{word}/{path.name}"
            if validation is not None and testing is not None:
                split = ("validation" if relative in validation else
                         "testing" if relative in testing else "training")
            else:
                split = which_set(path.name)
            by_split[split][0 if word in KEYWORDS else 1].append((word, path))
    noise = [read_wav(path) for path in sorted((root / NOISE_FOLDER).glob("*.wav"))]
    noise = [clip for clip in noise if len(clip) >= CLIP_SAMPLES]
    if not noise:
        raise HwgenError(f"{root}/{NOISE_FOLDER}: no noise recording of at least one second "
                         f"(needed for the _silence_ class)")
    result = {}
    for split, (keyword_clips, other_clips) in by_split.items():
        if max_per_class is not None:
            keep = []
            for word in KEYWORDS:
                clips = [clip for clip in keyword_clips if clip[0] == word]
                order = rng.permutation(len(clips))[:max_per_class]
                keep += [clips[i] for i in sorted(order)]
            keyword_clips = keep
        count = len(keyword_clips)
        unknown = [other_clips[i] for i in sorted(rng.permutation(len(other_clips))[
            :int(round(unknown_fraction * count))])]
        audio, labels = [], []
        for word, path in keyword_clips + unknown:
            audio.append(_fit(read_wav(path)))
            labels.append(CLASSES.index(word) if word in KEYWORDS else 1)
        for _ in range(int(round(silence_fraction * count))):
            source = noise[rng.integers(len(noise))]
            start = rng.integers(0, len(source) - CLIP_SAMPLES + 1)
            audio.append(source[start:start + CLIP_SAMPLES] * rng.uniform(0.0, 1.0))
            labels.append(0)
        if progress is not None:
            progress(f"{split}: {len(labels)} clips")
        audio = np.stack(audio) if audio else np.zeros((0, CLIP_SAMPLES), np.float32)
        result[split] = (audio.astype(np.float32), np.asarray(labels, dtype=np.int64))
    return SpeechSplits(*result["training"], *result["validation"], *result["testing"])


def quantize_features(features: np.ndarray, low: np.ndarray, high: np.ndarray,
                      bits: int) -> np.ndarray:
    """Features (..., coefficients) as unsigned ``bits``-bit integers: each coefficient's
    ``[low, high]`` mapped onto ``0 .. 2**bits - 1``, rounded half up and clipped; with
    ``bits = 1``, 1 where it exceeds the middle of its range."""
    features = np.asarray(features, dtype=np.float64)
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    if bits == 1:
        return (features > (low + high) / 2).astype(np.uint8)
    top = (1 << bits) - 1
    scaled = np.floor((features - low) / np.maximum(high - low, 1e-12) * top + 0.5)
    return np.clip(scaled, 0, top).astype(np.uint8)


def speech_dataset(spec, seed: int, *, progress=None):
    """The ``speech_commands`` :class:`~hwgen.data.Dataset` of a :class:`~hwgen.spec.DataSpec`:
    the 12-class task on ``spec.path`` (or the synthetic set, generated once into the cache),
    MFCCs (:mod:`hwgen.data.mfcc`, 49 frames x 10 coefficients) quantized to ``input_bits``
    over each coefficient's 1st..99th percentile on the training clips (1 bit: above the
    middle of that range; the bounds are in ``Dataset.quantization``). Training and validation
    clips train; the test clips test. A frame is (frame, coefficient) in raster order."""
    import torch

    say = progress or (lambda message: None)
    if spec.path is not None:
        root = Path(spec.path)
    else:
        synth = SynthSpec(speakers=spec.speakers, seed=0)
        say(f"synthetic Speech Commands ({spec.speakers} espeak-ng speakers)")
        root = synthesize(synth, say=say)
    splits = load_speech_commands(root, seed=seed)
    train_audio = np.concatenate([splits.train_audio, splits.validation_audio])
    train_y = np.concatenate([splits.train_y, splits.validation_y])
    if len(train_audio) == 0 or len(splits.test_audio) == 0:
        raise HwgenError(f"{root}: the training or the test split is empty")

    def features(audio):
        return np.concatenate([mfcc(torch.from_numpy(audio[k:k + 1024])).numpy()
                               for k in range(0, len(audio), 1024)])

    train_features, test_features = features(train_audio), features(splits.test_audio)
    low = np.percentile(train_features, 1, axis=(0, 1))
    high = np.percentile(train_features, 99, axis=(0, 1))
    train_x = quantize_features(train_features, low, high, spec.input_bits)
    test_x = quantize_features(test_features, low, high, spec.input_bits)
    return Dataset(train_x.reshape(len(train_x), -1), train_y,
                   test_x.reshape(len(test_x), -1), splits.test_y, classes=len(CLASSES),
                   shape=spec.uncoded_shape, input_bits=spec.input_bits, class_names=CLASSES,
                   quantization={"low": low.tolist(), "high": high.tolist(),
                                 "root": str(root)})
