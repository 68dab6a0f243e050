"""Log-mel spectrograms in numpy: the front end of the audio models.

16 kHz mono audio, 25 ms Hann windows every 10 ms inside a 512-point FFT, triangular
filters evenly spaced on the HTK mel scale. The learned audio tower (learning.models.audio)
and the YAMNet sound tagger (extractors.sounds) both take their filters from here.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE_HZ = 16_000
N_FFT = 512
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms


def _to_mel(hz: np.ndarray | float) -> np.ndarray:
    return np.asarray(2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0))


def _to_hz(mel: np.ndarray) -> np.ndarray:
    return np.asarray(700.0 * (10.0 ** (mel / 2595.0) - 1.0))


def mel_filters(
    n_fft: int = N_FFT,
    mels: int = 64,
    rate_hz: int = SAMPLE_RATE_HZ,
    f_min_hz: float = 0.0,
    f_max_hz: float | None = None,
) -> np.ndarray:
    """(mels, n_fft // 2 + 1) float32 triangular filters, unnormalised (peak 1), their
    edges evenly spaced on the HTK mel scale between `f_min_hz` and `f_max_hz`."""
    top = rate_hz / 2 if f_max_hz is None else f_max_hz
    edges = _to_hz(np.linspace(_to_mel(f_min_hz), _to_mel(top), mels + 2))
    bins = np.linspace(0.0, rate_hz / 2, n_fft // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    return np.asarray(np.clip(np.minimum(rising, falling), 0.0, None), dtype=np.float32)


def stft_magnitude(samples: np.ndarray) -> np.ndarray:
    """(frames, 257) magnitudes of 25 ms periodic-Hann windows every 10 ms, each window
    centred in a 512-point FFT; no padding at the ends (frame i starts at sample 160 i)."""
    x = np.asarray(samples, np.float32)
    if x.size < N_FFT:
        return np.zeros((0, N_FFT // 2 + 1), np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    window = np.zeros(N_FFT, np.float32)
    left = (N_FFT - WINDOW) // 2
    window[left : left + WINDOW] = np.hanning(WINDOW + 1)[:-1]  # periodic
    return np.abs(np.fft.rfft(frames * window, axis=1)).astype(np.float32)


def log_mel(samples: np.ndarray, filters: np.ndarray, offset: float = 1e-6) -> np.ndarray:
    """(frames, mels) log(mel magnitude + offset) of 16 kHz mono float samples."""
    mel = stft_magnitude(samples) @ filters.T
    return np.asarray(np.log(mel + offset), dtype=np.float32)
