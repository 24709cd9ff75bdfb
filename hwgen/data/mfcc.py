"""MFCC features in torch, with the MLPerf Tiny keyword-spotting settings.

The definition is the one MLPerf Tiny's KWS reference computes with ``tf.signal`` (written
here in torch, so that no TensorFlow or torchaudio is needed)::

    frames   = x[t*S : t*S + W]                 t = 0 .. T-1, T = 1 + (N - W) // S  (no padding)
    spectrum = |rfft(frames * hann_W, n=F)|     periodic Hann window, zero-padded to F bins
    mel      = spectrum @ M                     M: (F/2 + 1, mels), triangles in the mel domain
    log_mel  = log(mel + 1e-6)
    mfcc[k]  = sqrt(2 / mels) * sum_m log_mel[m] * cos(pi * k * (2m + 1) / (2 * mels))
               k = 0 .. coefficients - 1

``M`` is ``tf.signal.linear_to_mel_weight_matrix``: HTK mel scale ``mel(f) = 1127 ln(1 +
f / 700)``, ``mels + 2`` band edges equally spaced in mel between ``fmin`` and ``fmax``, the
weight of bin frequency ``f`` in band ``m`` the triangle ``max(0, min((mel(f) - left) /
(center - left), (right - mel(f)) / (right - center)))`` and the DC bin zero. The DCT is
``tf.signal.dct`` type II, unnormalized, times ``1 / sqrt(2 * mels)`` (what
``mfccs_from_log_mel_spectrograms`` does).

With the defaults (16 kHz, 30 ms window W = 480, 20 ms stride S = 320, F = 512, 40 mel bands
from 20 Hz to 4 kHz, 10 coefficients) one second of audio gives 49 frames x 10 coefficients.
"""
import math
from dataclasses import dataclass

import torch

__all__ = ["MfccSpec", "mel_weights", "mfcc"]


@dataclass(frozen=True, kw_only=True)
class MfccSpec:
    """MFCC parameters (MLPerf Tiny KWS by default).

    Parameters
    ----------
    sample_rate : Hz.
    window, stride : samples per frame and between frames.
    fft : FFT length (>= window; frames are zero-padded to it).
    mels : mel bands; ``fmin``, ``fmax`` their range in Hz.
    coefficients : cepstral coefficients kept (<= mels).
    """
    sample_rate: int = 16000
    window: int = 480
    stride: int = 320
    fft: int = 512
    mels: int = 40
    fmin: float = 20.0
    fmax: float = 4000.0
    coefficients: int = 10

    def __post_init__(self):
        for name in ("sample_rate", "window", "stride", "fft", "mels", "coefficients"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if self.fft < self.window:
            raise ValueError(f"fft must be at least window={self.window}, not {self.fft!r}")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(f"need 0 <= fmin < fmax <= {self.sample_rate / 2:g}, not "
                             f"fmin={self.fmin!r}, fmax={self.fmax!r}")
        if self.coefficients > self.mels:
            raise ValueError(f"coefficients must be at most mels={self.mels}, "
                             f"not {self.coefficients!r}")

    def frames(self, samples: int) -> int:
        """Frames of a clip of ``samples`` samples (49 for one second at the defaults)."""
        if samples < self.window:
            raise ValueError(f"a clip needs at least {self.window} samples, not {samples!r}")
        return 1 + (samples - self.window) // self.stride


def _hz_to_mel(f):
    return 1127.0 * torch.log1p(f / 700.0)


def mel_weights(spec: MfccSpec, dtype=torch.float64) -> torch.Tensor:
    """The mel filterbank ``M`` (fft / 2 + 1, mels) of the module docstring."""
    bins = spec.fft // 2 + 1
    frequencies = torch.linspace(0.0, spec.sample_rate / 2, bins, dtype=torch.float64)
    mel = _hz_to_mel(frequencies[1:])                              # the DC bin stays zero
    edges = torch.linspace(float(_hz_to_mel(torch.tensor(spec.fmin, dtype=torch.float64))),
                           float(_hz_to_mel(torch.tensor(spec.fmax, dtype=torch.float64))),
                           spec.mels + 2, dtype=torch.float64)
    left, center, right = edges[:-2], edges[1:-1], edges[2:]
    lower = (mel[:, None] - left) / (center - left)
    upper = (right - mel[:, None]) / (right - center)
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0)
    return torch.cat([torch.zeros(1, spec.mels, dtype=torch.float64), weights]).to(dtype)


def _dct_matrix(spec: MfccSpec, dtype) -> torch.Tensor:
    m = torch.arange(spec.mels, dtype=torch.float64)
    k = torch.arange(spec.coefficients, dtype=torch.float64)
    basis = torch.cos(math.pi * k[None, :] * (2 * m[:, None] + 1) / (2 * spec.mels))
    return (basis * math.sqrt(2.0 / spec.mels)).to(dtype)          # (mels, coefficients)


def mfcc(audio, spec: MfccSpec = MfccSpec()) -> torch.Tensor:
    """MFCCs (..., frames, coefficients) of ``audio`` (..., samples), float samples in
    [-1, 1] at ``spec.sample_rate``; float32 unless ``audio`` is float64."""
    audio = torch.as_tensor(audio)
    if not audio.is_floating_point():
        raise ValueError(f"audio must hold float samples, not {audio.dtype}")
    dtype = torch.float64 if audio.dtype == torch.float64 else torch.float32
    audio = audio.to(dtype)
    count = spec.frames(audio.shape[-1])
    frames = audio.unfold(-1, spec.window, spec.stride)               # (..., T, W)
    assert frames.shape[-2] == count
    window = torch.hann_window(spec.window, periodic=True, dtype=dtype)
    spectrum = torch.fft.rfft(frames * window, n=spec.fft).abs()      # (..., T, F/2 + 1)
    log_mel = torch.log(spectrum @ mel_weights(spec, dtype) + 1e-6)
    return log_mel @ _dct_matrix(spec, dtype)
