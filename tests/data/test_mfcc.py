"""MFCCs in torch against an independent implementation (librosa's framing, mel filterbank
and DCT), at the MLPerf Tiny KWS settings: one second at 16 kHz gives 49 x 10."""
import librosa       # a dev dependency: the independent implementation
import numpy as np
import pytest
import torch

from hwgen.data.mfcc import MfccSpec, mel_weights, mfcc


def _clip(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000
    chirp = np.sin(2 * np.pi * (150 + rng.uniform(500, 2500) * t) * t)
    return 0.3 * chirp * np.hanning(16000) + 0.03 * rng.standard_normal(16000)


def _librosa_mfcc(x: np.ndarray, spec: MfccSpec) -> np.ndarray:
    frames = librosa.util.frame(x, frame_length=spec.window, hop_length=spec.stride, axis=0)
    window = librosa.filters.get_window("hann", spec.window, fftbins=True)
    spectrum = np.abs(np.fft.rfft(frames * window, n=spec.fft))
    bank = librosa.filters.mel(sr=spec.sample_rate, n_fft=spec.fft, n_mels=spec.mels,
                               fmin=spec.fmin, fmax=spec.fmax, htk=True, norm=None)
    log_mel = np.log(spectrum @ bank.T + 1e-6)
    coefficients = librosa.feature.mfcc(S=log_mel.T, n_mfcc=spec.coefficients, dct_type=2,
                                        norm="ortho").T
    coefficients[:, 0] *= np.sqrt(2)      # tf.signal's DCT scales every term by sqrt(2/N)
    return coefficients


@pytest.mark.parametrize("seed", range(3))
def test_mfcc_matches_librosa(seed):
    spec = MfccSpec()
    x = _clip(seed)
    ours = mfcc(torch.tensor(x), spec).numpy()
    assert ours.shape == (49, 10)
    reference = _librosa_mfcc(x, spec)
    # librosa draws the mel triangles in Hz, tf.signal (and hwgen) in mel: a small difference.
    assert np.abs(ours - reference).max() < 0.002 * np.abs(reference).max()
    assert np.abs(ours - reference).max(axis=0).max() < 0.02 * reference.std(axis=0).min()
    # The check has power: 32 mel bands instead of 40 are far off.
    other = mfcc(torch.tensor(x), MfccSpec(mels=32)).numpy()
    assert np.abs(other - reference).max() > 0.05 * np.abs(reference).max()


def test_filterbank_matches_librosa_and_float32_matches_float64():
    spec = MfccSpec()
    bank = librosa.filters.mel(sr=16000, n_fft=512, n_mels=40, fmin=20, fmax=4000, htk=True,
                               norm=None)
    ours = mel_weights(spec).numpy()
    assert ours.shape == (257, 40) and (ours[0] == 0).all()
    assert np.abs(ours - bank.T).max() < 0.01
    x = torch.tensor(_clip(7))
    np.testing.assert_allclose(mfcc(x.float()).numpy(), mfcc(x).numpy(), atol=2e-3)
    batch = torch.stack([x, 0.5 * x])
    assert mfcc(batch).shape == (2, 49, 10)


def test_spec_rejects():
    with pytest.raises(ValueError, match="fft must be at least window=480"):
        MfccSpec(fft=256)
    with pytest.raises(ValueError, match="coefficients must be at most mels=40"):
        MfccSpec(coefficients=41)
    with pytest.raises(ValueError, match="a clip needs at least 480 samples"):
        mfcc(torch.zeros(100))
    with pytest.raises(ValueError, match="float samples"):
        mfcc(torch.zeros(16000, dtype=torch.int16))
