"""The Speech Commands clips: the 12-class task's words, the sample format, the dataset's own
split rule, and 16 kHz 16-bit mono WAV files read (bounded, checked) and written; shared by the
loader (:mod:`.speech`) and the synthetic generator (:mod:`.synth`)."""
import hashlib
import re
import struct
import wave
from pathlib import Path

import numpy as np

from ..errors import SpecError

__all__ = ["KEYWORDS", "CLASSES", "SAMPLE_RATE", "CLIP_SAMPLES", "NOISE_FOLDER", "which_set",
           "read_wav", "write_wav"]

#: The ten keywords of the 12-class task.
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
#: Class names in label order.
CLASSES = ("_silence_", "_unknown_", *KEYWORDS)
SAMPLE_RATE = 16000
CLIP_SAMPLES = SAMPLE_RATE
NOISE_FOLDER = "_background_noise_"
#: The dataset's constant for :func:`which_set`.
_MAX_CLIPS_PER_CLASS = 2 ** 27 - 1


def which_set(filename: str, validation_percentage: float = 10.0,
              testing_percentage: float = 10.0) -> str:
    """``"training"``, ``"validation"`` or ``"testing"`` for a clip, by the Speech Commands
    rule: the SHA-1 of the file name up to ``_nohash_`` (the speaker) as a percentage."""
    name = re.sub(r"_nohash_.*$", "", Path(filename).name)
    digest = int(hashlib.sha1(name.encode()).hexdigest(), 16)
    percentage = (digest % (_MAX_CLIPS_PER_CLASS + 1)) * (100.0 / _MAX_CLIPS_PER_CLASS)
    if percentage < validation_percentage:
        return "validation"
    if percentage < validation_percentage + testing_percentage:
        return "testing"
    return "training"


def _open_wav(path):
    """``wave.open(path)``; a file it cannot read is a :class:`SpecError` naming it."""
    try:
        return wave.open(str(path), "rb")
    except (OSError, EOFError, wave.Error, ValueError, struct.error) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise SpecError(path, None, f"not a readable WAV file ({reason})") from None


def read_wav(path) -> np.ndarray:
    """Samples of a 16-bit mono PCM WAV file as float32 in [-1, 1).

    A file that is no such WAV file, or is shorter than its header says (cut short while
    copying), is a :class:`SpecError` (bad input) naming the file: the samples it does hold
    are never padded or read as a whole clip."""
    with _open_wav(path) as file:
        if file.getsampwidth() != 2 or file.getnchannels() != 1:
            raise SpecError(path, None, f"need 16-bit mono PCM, not {file.getnchannels()} "
                            f"channel(s) of {8 * file.getsampwidth()} bits")
        if file.getframerate() != SAMPLE_RATE:
            raise SpecError(path, None, f"need {SAMPLE_RATE} Hz, not {file.getframerate()}")
        wanted = 2 * file.getnframes()
        # No more is read than the file can hold, so that a header claiming gigabytes
        # allocates nothing.
        try:
            frames = file.readframes(min(file.getnframes(), Path(path).stat().st_size // 2))
        except (OSError, EOFError, wave.Error, struct.error) as error:
            raise SpecError(path, None, f"not a readable WAV file ({error})") from None
    if len(frames) != wanted:
        raise SpecError(path, None, f"truncated WAV file: its header says {wanted // 2} "
                        f"samples ({wanted} bytes), the file holds {len(frames)} bytes of them")
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def write_wav(path, samples: np.ndarray):
    """Write float samples in [-1, 1] as a 16 kHz 16-bit mono PCM WAV file (clipped)."""
    pcm = np.clip(np.round(np.asarray(samples, dtype=np.float64) * 32767), -32768, 32767)
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(SAMPLE_RATE)
        file.writeframes(pcm.astype("<i2").tobytes())
