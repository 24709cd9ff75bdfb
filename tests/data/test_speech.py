"""Speech Commands: the split rule, the loader on a folder in the dataset's layout, and the
synthetic generator that writes that layout from espeak-ng voices."""
import hashlib
import wave

import numpy as np
import pytest

from hwgen.data.clips import CLASSES, KEYWORDS, read_wav, which_set, write_wav
from hwgen.data.speech import load_speech_commands, quantize_features
from hwgen.data.synth import SynthSpec, synthesize
from hwgen.errors import HwgenError


def test_which_set_is_the_datasets_rule():
    # The Speech Commands README's rule: SHA-1 of the speaker part, as a percentage.
    name = "0a7c2a8d_nohash_0.wav"
    digest = int(hashlib.sha1(b"0a7c2a8d").hexdigest(), 16)
    percentage = (digest % 2**27) * (100.0 / (2**27 - 1))
    expected = ("validation" if percentage < 10 else "testing" if percentage < 20
                else "training")
    assert which_set(name) == expected == which_set("0a7c2a8d_nohash_3.wav")
    splits = [which_set(f"{k:08x}_nohash_0.wav") for k in range(20000)]
    shares = {split: splits.count(split) / len(splits) for split in set(splits)}
    assert shares["validation"] == pytest.approx(0.1, abs=0.01)
    assert shares["testing"] == pytest.approx(0.1, abs=0.01)


def _write_folder(root, rng, *, speakers=("aaaa0001", "bbbb0002", "cccc0003"), lists=True):
    for word in (*KEYWORDS, "bed", "cat"):
        (root / word).mkdir(parents=True)
        for speaker in speakers:
            length = int(rng.integers(8000, 17000))        # shorter and longer than 1 s
            write_wav(root / word / f"{speaker}_nohash_0.wav", 0.1 * rng.standard_normal(length))
    (root / "_background_noise_").mkdir()
    write_wav(root / "_background_noise_" / "noise.wav", 0.2 * rng.standard_normal(40000))
    if lists:
        (root / "validation_list.txt").write_text(
            "".join(f"{w}/{speakers[1]}_nohash_0.wav\n" for w in (*KEYWORDS, "bed", "cat")))
        (root / "testing_list.txt").write_text(
            "".join(f"{w}/{speakers[2]}_nohash_0.wav\n" for w in (*KEYWORDS, "bed", "cat")))


def test_loader_reads_the_layout(tmp_path):
    rng = np.random.default_rng(0)
    _write_folder(tmp_path, rng)
    splits = load_speech_commands(tmp_path, seed=1, silence_fraction=0.2, unknown_fraction=0.2)
    for audio, labels in ((splits.train_audio, splits.train_y),
                          (splits.validation_audio, splits.validation_y),
                          (splits.test_audio, splits.test_y)):
        assert audio.shape == (14, 16000) and audio.dtype == np.float32
        assert np.bincount(labels, minlength=12).tolist() == [2, 2] + [1] * 10
    # Keyword clips in label order of CLASSES, padded or cut to one second.
    clip = read_wav(tmp_path / "yes" / "aaaa0001_nohash_0.wav")
    index = list(splits.train_y).index(CLASSES.index("yes"))
    length = min(len(clip), 16000)
    np.testing.assert_array_equal(splits.train_audio[index, :length], clip[:length])
    assert not splits.train_audio[index, length:].any()
    again = load_speech_commands(tmp_path, seed=1, silence_fraction=0.2, unknown_fraction=0.2)
    np.testing.assert_array_equal(again.test_audio, splits.test_audio)


def test_loader_without_lists_splits_by_speaker(tmp_path):
    rng = np.random.default_rng(1)
    speakers = [f"{k:08x}" for k in range(40)]
    _write_folder(tmp_path, rng, speakers=speakers, lists=False)
    splits = load_speech_commands(tmp_path, unknown_fraction=0, silence_fraction=0)
    expected = {s: which_set(f"{s}_nohash_0.wav") for s in speakers}
    assert len(splits.test_y) == 10 * sum(v == "testing" for v in expected.values())
    assert len(splits.train_y) == 10 * sum(v == "training" for v in expected.values())


def test_loader_refusals(tmp_path):
    with pytest.raises(HwgenError, match="no Speech Commands folder"):
        load_speech_commands(tmp_path / "nope")
    (tmp_path / "yes").mkdir()
    with pytest.raises(HwgenError, match="no folder for keyword"):
        load_speech_commands(tmp_path)
    with wave.open(str(tmp_path / "yes" / "x.wav"), "wb") as file:
        file.setnchannels(2)
        file.setsampwidth(2)
        file.setframerate(16000)
        file.writeframes(b"\0" * 400)
    with pytest.raises(HwgenError, match="need 16-bit mono PCM"):
        read_wav(tmp_path / "yes" / "x.wav")


def test_quantize_features():
    low, high = np.array([0.0, -1.0]), np.array([3.0, 1.0])
    x = np.array([[-1.0, -1.0], [1.4, 0.0], [1.5, 0.6], [9.0, 2.0]])
    assert quantize_features(x, low, high, 2).tolist() == [[0, 0], [1, 2], [2, 2], [3, 3]]
    assert quantize_features(x, low, high, 1).tolist() == [[0, 0], [0, 0], [0, 1], [1, 1]]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    spec = SynthSpec(speakers=30, noise_seconds=2, seed=4)
    return spec, synthesize(spec, root=tmp_path_factory.mktemp("synth") / "speech")


def test_synthetic_set_has_the_layout(synthetic):
    spec, root = synthetic
    words = (*spec.keywords, *spec.unknown_words)
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(
        [*words, "_background_noise_"])
    assert len(list((root / "_background_noise_").glob("*.wav"))) == 5
    files = sorted((root / "yes").glob("*.wav"))
    assert len(files) == spec.speakers
    speakers = {f.name.split("_nohash_")[0] for f in files}
    assert len(speakers) == spec.speakers
    for name, listed in (("validation", "validation_list.txt"), ("testing", "testing_list.txt")):
        entries = (root / listed).read_text().split()
        assert entries == sorted(f"{w}/{s}_nohash_0.wav" for w in words for s in speakers
                                 if which_set(f"{s}_nohash_0.wav") == name)
    clip = read_wav(files[0])
    assert len(clip) == 16000 and 0.05 < np.abs(clip).max() <= 1.0
    # A word is in there: the loudest 100 ms is well above the quietest.
    energy = np.convolve(clip ** 2, np.ones(1600), "valid")
    assert energy.max() > 20 * energy.min()


def test_synthetic_set_is_reproducible_and_its_splits_hold_disjoint_voices(synthetic, tmp_path):
    spec, root = synthetic
    again = synthesize(spec, root=tmp_path / "again")
    for word in ("yes", "marvin", "_background_noise_"):
        first = sorted((root / word).glob("*.wav"))
        assert [f.read_bytes() for f in first] == [
            (again / word / f.name).read_bytes() for f in first]
    splits = load_speech_commands(root)
    assert len(splits.train_y) and len(splits.test_y)
    test_voices = {line.split("/")[1].split("_nohash_")[0]
                   for line in (root / "testing_list.txt").read_text().split()}
    train_voices = {f.name.split("_nohash_")[0] for f in (root / "yes").glob("*.wav")} \
        - test_voices - {line.split("/")[1].split("_nohash_")[0]
                         for line in (root / "validation_list.txt").read_text().split()}
    assert test_voices and train_voices and not test_voices & train_voices


def test_speech_dataset_from_a_folder(synthetic):
    from hwgen.data import load_dataset
    from hwgen.spec import parse_spec
    _, root = synthetic
    spec = parse_spec({"data": {"dataset": "speech_commands", "path": str(root), "input_bits": 4},
                       "model": {"layers": [{"type": "linear", "out": 12}]}})
    data = load_dataset(spec.data, 0)
    assert data.shape == (1, 49, 10) and data.classes == 12
    assert data.train_x.shape[1] == 490 and data.train_x.max() <= 15
    assert len(data.test_y) and set(np.unique(data.train_y)) == set(range(12))
    assert 0.2 < (data.train_x.astype(float) / 15).mean() < 0.8


@pytest.fixture(scope="module")
def small_synthetic(tmp_path_factory):
    spec = SynthSpec(speakers=10, noise_seconds=1, seed=5)
    return spec, synthesize(spec, root=tmp_path_factory.mktemp("small") / "speech", workers=1)


# A flipped sample still reads as a WAV (only the digest sees it); a missing manifest is an old
# or interrupted cache. (A WAV cut short is refused by read_wav itself: tests above.)
@pytest.mark.parametrize("damage", ["flipped", "manifest"])
def test_a_damaged_synthetic_set_is_made_again(small_synthetic, tmp_path, damage):
    import shutil
    spec, root = small_synthetic
    copy = tmp_path / "speech"
    shutil.copytree(root, copy)
    said = []
    assert synthesize(spec, root=copy, say=said.append) == copy and said == []   # intact: reused
    clip = copy / "yes" / sorted(p.name for p in (root / "yes").iterdir())[0]
    if damage == "flipped":
        data = bytearray(clip.read_bytes())
        data[20_000] ^= 0x10
        clip.write_bytes(bytes(data))
    else:
        (copy / "SYNTHETIC.json").unlink()
    synthesize(spec, root=copy, say=said.append, workers=1)
    assert len(said) == 1 and said[0].startswith(f"synthetic set {copy} damaged ("), said
    assert said[0].endswith("): making it again")
    assert (copy / "yes" / clip.name).read_bytes() == (root / "yes" / clip.name).read_bytes()
