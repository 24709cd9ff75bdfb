"""A synthetic Speech Commands: espeak-ng speaking the words in many voices, written in the
dataset's own layout (:mod:`hwgen.data.speech`), into a cache.

espeak-ng comes from the ``espeakng-loader`` wheel (its shared library and voice data), driven
through ``ctypes``. A *speaker* is an English accent (8: :data:`ACCENTS`), a voice variant
(the wheel's ``voices/!v``: about 100), a speaking rate and a pitch, drawn from the seed; its id
is a hash of those four, so :func:`hwgen.data.clips.which_set` puts all of a speaker's clips in
one split and the test voices are unseen in training. Each speaker says every word once: the
espeak-ng output (22.05 kHz) is resampled to 16 kHz, its silence trimmed, scaled to a random
level, placed at a random offset in a one-second clip (time shift), and mixed with a random
cut of one of the background noises at a random signal-to-noise ratio. The background noises
(white, pink, brown, a mains hum with harmonics, a babble of random words) are written to
``_background_noise_`` for the ``_silence_`` class. Everything comes from the seed, and the
same parameters give the same files.

The folder is ``<cache>/speech/<key>``, ``<cache>`` being ``$HWGEN_CACHE`` or
``~/.cache/hwgen`` and ``key`` a hash of the parameters; it is written into a temporary folder
and renamed when complete, so an interrupted run leaves nothing half-written. No audio is ever
written into the source tree.
"""
import ctypes
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import HwgenError
from .clips import CLIP_SAMPLES, KEYWORDS, NOISE_FOLDER, SAMPLE_RATE, read_wav, which_set, write_wav

__all__ = ["ACCENTS", "UNKNOWN_WORDS", "SynthSpec", "Espeak", "synthesize", "cache_root"]

#: espeak-ng's English accents (voice names).
ACCENTS = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
           "en-029", "en-us-nyc")
#: Words of the ``_unknown_`` class (the other words of Speech Commands v0.02).
UNKNOWN_WORDS = ("bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house",
                 "marvin", "nine", "one", "seven", "sheila", "six", "three", "tree", "two",
                 "wow", "zero", "backward", "forward", "follow", "learn", "visual")
#: Bump when the generator's output for the same parameters changes.
GENERATOR_VERSION = 1
_NOISES = ("white_noise", "pink_noise", "brown_noise", "mains_hum", "babble")


@dataclass(frozen=True, kw_only=True)
class SynthSpec:
    """What to synthesize.

    Parameters
    ----------
    speakers : number of synthetic speakers (each says every word once).
    seed : draws the speakers and every random choice.
    rate : (least, greatest) speaking rate, words per minute.
    pitch : (least, greatest) espeak-ng pitch, 0..100.
    noise_snr_db : (least, greatest) signal-to-noise ratio of the mixed-in background noise
        (10..30 dB: about the level of TensorFlow's speech_commands recipe, background volume
        0.1; at 5 dB a babble of keywords can drown the word).
    noisy_share : share of clips that get background noise mixed in.
    keywords, unknown_words : the words spoken.
    noise_seconds : length of each background noise file.
    """
    speakers: int = 400
    seed: int = 0
    rate: tuple[int, int] = (120, 240)
    pitch: tuple[int, int] = (15, 85)
    noise_snr_db: tuple[float, float] = (10.0, 30.0)
    noisy_share: float = 0.8
    keywords: tuple[str, ...] = KEYWORDS
    unknown_words: tuple[str, ...] = UNKNOWN_WORDS
    noise_seconds: int = 30

    def __post_init__(self):
        if isinstance(self.speakers, bool) or not isinstance(self.speakers, int) or self.speakers < 1:
            raise ValueError(f"speakers must be a positive integer, not {self.speakers!r}")
        for name, low, high in (("rate", 80, 450), ("pitch", 0, 100)):
            value = tuple(getattr(self, name))
            if len(value) != 2 or not low <= value[0] <= value[1] <= high:
                raise ValueError(f"{name} must be (least, greatest) within {low}..{high}, "
                                 f"not {getattr(self, name)!r}")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "noise_snr_db", tuple(self.noise_snr_db))
        object.__setattr__(self, "keywords", tuple(self.keywords))
        object.__setattr__(self, "unknown_words", tuple(self.unknown_words))
        if not 0.0 <= self.noisy_share <= 1.0:
            raise ValueError(f"noisy_share must lie in 0..1, not {self.noisy_share!r}")

    def key(self) -> str:
        text = json.dumps({**asdict(self), "version": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_root() -> Path:
    """``$HWGEN_CACHE``, or ``~/.cache/hwgen``."""
    return Path(os.environ.get("HWGEN_CACHE") or Path.home() / ".cache" / "hwgen")


def voice_variants() -> list[str]:
    """The voice variants of the ``espeakng-loader`` wheel's data (``voices/!v``), sorted."""
    try:
        import espeakng_loader
    except ImportError:
        raise HwgenError("synthetic speech needs espeak-ng: pip install espeakng-loader") \
            from None
    return sorted(path.name for path in
                  (Path(espeakng_loader.get_data_path()) / "voices" / "!v").iterdir())


class Espeak:
    """espeak-ng from the ``espeakng-loader`` wheel, synthesizing into memory (22.05 kHz)."""

    _AUDIO_OUTPUT_SYNCHRONOUS = 2
    _RATE, _PITCH = 1, 3
    _POS_CHARACTER = 1
    _CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                 ctypes.c_void_p)

    def __init__(self):
        try:
            import espeakng_loader
        except ImportError:
            raise HwgenError("synthetic speech needs espeak-ng: pip install espeakng-loader") \
                from None
        library = ctypes.CDLL(espeakng_loader.get_library_path())
        library.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                              ctypes.c_int]
        library.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        library.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        library.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        library.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint,
                                         ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                         ctypes.c_void_p, ctypes.c_void_p]
        data = espeakng_loader.get_data_path()
        self.sample_rate = library.espeak_Initialize(self._AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                                     data.encode(), 0)
        if self.sample_rate <= 0:
            raise HwgenError(f"espeak-ng did not initialise (data {data})")
        self.variants = voice_variants()
        self._library = library
        self._chunks: list[np.ndarray] = []
        self._callback = self._CALLBACK(self._receive)      # kept alive with the object
        library.espeak_SetSynthCallback(self._callback)

    def _receive(self, wav, count, events):
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    def say(self, text: str, *, voice: str, rate: int, pitch: int, seed: int = 0) -> np.ndarray:
        """The samples (int16, ``sample_rate``) of ``text`` in ``voice`` (``accent+variant``).
        espeak-ng draws random numbers (for its noise sources): they are seeded with ``seed``
        first, so the same call gives the same samples."""
        if self._library.espeak_SetVoiceByName(voice.encode()) != 0:
            raise HwgenError(f"espeak-ng has no voice {voice!r}")
        self._library.espeak_ng_SetRandSeed(int(seed) & 0x7FFFFFFF)
        self._library.espeak_SetParameter(self._RATE, int(rate), 0)
        self._library.espeak_SetParameter(self._PITCH, int(pitch), 0)
        self._chunks.clear()
        encoded = text.encode() + b"\0"
        self._library.espeak_Synth(encoded, len(encoded), 0, self._POS_CHARACTER, 0, 0, None,
                                   None)
        self._library.espeak_Synchronize()
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly
    divisor = gcd(SAMPLE_RATE, rate)
    return resample_poly(samples.astype(np.float64), SAMPLE_RATE // divisor, rate // divisor)


def _trim(samples: np.ndarray, threshold: float = 0.02) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > threshold * max(np.abs(samples).max(), 1e-9))
    return samples[loud[0]:loud[-1] + 1] if len(loud) else samples[:0]


def _colored_noise(rng, count: int, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1 / f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(count))
    frequencies = np.fft.rfftfreq(count)
    frequencies[0] = frequencies[1]
    noise = np.fft.irfft(spectrum / frequencies ** (exponent / 2), n=count)
    return noise / noise.std()


def _noises(spec: SynthSpec, rng, espeak: Espeak) -> dict[str, np.ndarray]:
    count = spec.noise_seconds * SAMPLE_RATE
    t = np.arange(count) / SAMPLE_RATE
    hum = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3, 5))
    babble = np.zeros(count)
    words = (*spec.keywords, *spec.unknown_words)
    for _ in range(spec.noise_seconds * 12):
        voice = f"{ACCENTS[rng.integers(len(ACCENTS))]}+{espeak.variants[rng.integers(len(espeak.variants))]}"
        word = _resample(espeak.say(words[rng.integers(len(words))], voice=voice,
                                    rate=int(rng.integers(*spec.rate, endpoint=True)),
                                    pitch=int(rng.integers(*spec.pitch, endpoint=True)),
                                    seed=int(rng.integers(1 << 31))),
                         espeak.sample_rate) / 32768.0
        start = rng.integers(0, max(1, count - len(word)))
        babble[start:start + len(word)] += word[:count - start]
    noises = {"white_noise": _colored_noise(rng, count, 0), "pink_noise": _colored_noise(rng, count, 1),
              "brown_noise": _colored_noise(rng, count, 2), "mains_hum": hum / hum.std(),
              "babble": babble / babble.std()}
    return {name: 0.25 * noise / np.abs(noise).max() for name, noise in noises.items()}


#: Speakers per synthesis job. espeak-ng's output depends on what it synthesized before in the
#: process (its noise sources carry state that no call resets), so every job runs in a fresh
#: interpreter (``python -m hwgen.data.synth JOB.json``): the files depend on the seed alone,
#: not on the number of workers, and no caller needs a ``__main__`` guard.
SPEAKERS_PER_JOB = 25


def _speakers(spec: SynthSpec, variants: list[str]) -> list[tuple[str, str, str, int, int]]:
    """Distinct speakers ``(id, accent, variant, rate, pitch)`` drawn from the seed."""
    rng = np.random.default_rng([spec.seed, 1])
    speakers, seen = [], set()
    while len(speakers) < spec.speakers:
        accent = ACCENTS[rng.integers(len(ACCENTS))]
        variant = variants[rng.integers(len(variants))]
        rate = int(rng.integers(spec.rate[0], spec.rate[1], endpoint=True))
        pitch = int(rng.integers(spec.pitch[0], spec.pitch[1], endpoint=True))
        speaker = hashlib.sha1(f"{accent}|{variant}|{rate}|{pitch}".encode()).hexdigest()[:8]
        if speaker not in seen:
            seen.add(speaker)
            speakers.append((speaker, accent, variant, rate, pitch))
    return speakers


def _noise_job(spec: SynthSpec, work: str):
    espeak = Espeak()
    rng = np.random.default_rng([spec.seed, 2])
    for name, noise in _noises(spec, rng, espeak).items():
        write_wav(Path(work) / NOISE_FOLDER / f"{name}.wav", noise)


def _speaker_job(spec: SynthSpec, work: str, job: int, speakers) -> list[str]:
    """Every word of ``speakers`` into ``work``; returns the files written (word/name)."""
    espeak = Espeak()
    rng = np.random.default_rng([spec.seed, 3, job])
    noises = {name: read_wav(Path(work) / NOISE_FOLDER / f"{name}.wav") for name in _NOISES}
    written = []
    for speaker, accent, variant, rate, pitch in speakers:
        for word in (*spec.keywords, *spec.unknown_words):
            spoken = espeak.say(word, voice=f"{accent}+{variant}", rate=rate, pitch=pitch,
                                seed=int(rng.integers(1 << 31)))
            spoken = _trim(_resample(spoken, espeak.sample_rate) / 32768.0)
            spoken = spoken[:CLIP_SAMPLES] * rng.uniform(0.3, 1.0) / max(
                np.abs(spoken).max(initial=0.0), 1e-9)
            clip = np.zeros(CLIP_SAMPLES)
            start = rng.integers(0, CLIP_SAMPLES - len(spoken) + 1)
            clip[start:start + len(spoken)] = spoken
            if rng.random() < spec.noisy_share and len(spoken):
                noise = noises[_NOISES[rng.integers(len(_NOISES))]]
                cut = rng.integers(0, len(noise) - CLIP_SAMPLES + 1)
                noise = noise[cut:cut + CLIP_SAMPLES].astype(np.float64)
                snr = rng.uniform(*spec.noise_snr_db)
                gain = np.sqrt(np.mean(spoken ** 2) / np.mean(noise ** 2)) / 10 ** (snr / 20)
                clip = clip + gain * noise
            name = f"{word}/{speaker}_nohash_0.wav"
            write_wav(Path(work) / name, clip / max(1.0, np.abs(clip).max()))
            written.append(name)
    return written


def _run_jobs(jobs: list[dict], work: Path, workers: int, progress, total: int) -> list[str]:
    """Run each job (``{"kind": "noise"|"speakers", ...}``) in its own interpreter, at most
    ``workers`` at a time, in order of submission; returns the files they wrote."""
    import subprocess
    import sys
    pending = list(enumerate(jobs))
    running, names, done = {}, {}, 0
    package_root = str(Path(__file__).resolve().parents[2])       # importable from anywhere
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    while pending or running:
        while pending and len(running) < workers:
            index, job = pending.pop(0)
            job_file = work / f".job{index}.json"
            job_file.write_text(json.dumps(job))
            running[index] = subprocess.Popen(
                [sys.executable, "-m", "hwgen.data.synth", str(job_file)], env=environment,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        index = next(iter(running))
        process = running.pop(index)
        out, err = process.communicate()
        (work / f".job{index}.json").unlink(missing_ok=True)
        if process.returncode != 0:
            for other in running.values():
                other.kill()
            last = (err.strip().splitlines() or [f"exit status {process.returncode}"])[-1]
            raise HwgenError(f"speech synthesis job {index} failed: {last}")
        names[index] = json.loads(out)
        done += len(jobs[index].get("speakers", []))
        if progress is not None and jobs[index]["kind"] == "speakers":
            progress(done, total)
    return [name for index in sorted(names) for name in names[index]]


def _job_main(job_file: str):
    job = json.loads(Path(job_file).read_text())
    spec = SynthSpec(**{key: tuple(value) if isinstance(value, list) else value
                        for key, value in job["spec"].items()})
    if job["kind"] == "noise":
        _noise_job(spec, job["work"])
        print("[]")
    else:
        speakers = [tuple(speaker) for speaker in job["speakers"]]
        print(json.dumps(_speaker_job(spec, job["work"], job["job"], speakers)))


#: The file in a synthetic set's folder that describes it, with the digest of every other file.
MANIFEST = "SYNTHETIC.json"


def _content_digest(folder: Path) -> str:
    """sha256 over the names and bytes of every file under ``folder`` but :data:`MANIFEST`."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def damage(folder: Path) -> str | None:
    """Why the synthetic set in ``folder`` cannot be reused (files missing, added, cut short or
    changed since it was written, or written by another generator version), or ``None``."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        recorded = manifest["content_sha256"] if isinstance(manifest, dict) else None
    except (OSError, ValueError, KeyError):
        return f"no readable {MANIFEST}"
    if manifest.get("version") != GENERATOR_VERSION:
        return "written by another generator version"
    if recorded != _content_digest(folder):
        return "its files do not match the digest written with them"
    return None


def synthesize(spec: SynthSpec = SynthSpec(), *, root=None, progress=None,
               workers: int | None = None, say=None) -> Path:
    """The synthetic dataset's folder for ``spec``: reused when the cache has it intact (every
    file as its manifest's digest says), else written (into ``root`` instead of the cache, if
    given) by ``workers`` processes (default: the CPUs, at most 4). ``progress(done, total)``
    is called as speakers are done; ``say(message)`` hears why a cached set is made again."""
    target = Path(root) if root is not None else cache_root() / "speech" / spec.key()
    if target.exists():
        problem = damage(target)
        if problem is None:
            return target
        if say is not None:
            say(f"synthetic set {target} damaged ({problem}): making it again")
    target.parent.mkdir(parents=True, exist_ok=True)
    speakers = _speakers(spec, voice_variants())     # without starting espeak-ng here
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    base = {"spec": asdict(spec), "work": str(work)}
    try:
        (work / NOISE_FOLDER).mkdir()
        for word in (*spec.keywords, *spec.unknown_words):
            (work / word).mkdir()
        _run_jobs([{**base, "kind": "noise"}], work, 1, None, len(speakers))
        jobs = [{**base, "kind": "speakers", "job": job,
                 "speakers": speakers[k:k + SPEAKERS_PER_JOB]}
                for job, k in enumerate(range(0, len(speakers), SPEAKERS_PER_JOB))]
        names = _run_jobs(jobs, work, workers, progress, len(speakers))
        lists = {"validation": [], "testing": []}
        for name in names:
            split = which_set(name)
            if split in lists:
                lists[split].append(name)
        for split, entries in lists.items():
            (work / f"{split}_list.txt").write_text("".join(f"{n}\n" for n in sorted(entries)))
        (work / MANIFEST).write_text(json.dumps(
            {**asdict(spec), "version": GENERATOR_VERSION,
             "content_sha256": _content_digest(work)}, indent=1) + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


if __name__ == "__main__":
    import sys
    _job_main(sys.argv[1])
