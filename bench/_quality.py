"""Quality measures the benchmark records beside the speed: SNR error, relative error against a
reference, PSD slope, F0 and log-mel distance."""

from __future__ import annotations

from bench._harness import SR  # (first: it pins the thread pools before numpy is imported)

import numpy as np  # noqa: E402


def snr_error_db(signal: np.ndarray, mixed: np.ndarray, target_db: float) -> float:
    s = signal.astype(np.float64)
    n = mixed.astype(np.float64) - s
    return float(10 * np.log10(np.sum(s * s) / np.sum(n * n)) - target_db)


def max_rel_error(y: np.ndarray, ref: np.ndarray) -> float:
    y = np.asarray(y, np.float64)
    ref = np.asarray(ref, np.float64)
    if y.shape != ref.shape:
        return float("inf")
    return float(np.max(np.abs(y - ref)) / np.max(np.abs(ref)))


def psd_slope_db_per_oct(y: np.ndarray, sr: int = SR, f_lo: float = 20.0, f_hi: float = 6000.0) -> float:
    """Least-squares slope of 10*log10(PSD) against log2(f) (Welch, 4096-point Hann)."""
    from scipy.signal import welch

    f, p = welch(np.asarray(y, np.float64), fs=sr, nperseg=min(4096, len(y)))
    sel = (f >= f_lo) & (f <= f_hi)
    slope = np.polyfit(np.log2(f[sel]), 10 * np.log10(p[sel]), 1)[0]
    return float(slope)


def f0_hz(y: np.ndarray, expected_hz: float, sr: int = SR) -> float:
    """F0 of a harmonic tone: spectral peak near ``expected_hz`` (Hann, zero-padded, parabolic)."""
    y = np.asarray(y, np.float64)
    n = len(y)
    seg = y[n // 8: n - n // 8]
    w = np.hanning(len(seg))
    nfft = 1 << int(np.ceil(np.log2(len(seg) * 8)))
    mag = np.abs(np.fft.rfft(seg * w, nfft))
    freqs = np.fft.rfftfreq(nfft, 1 / sr)
    sel = np.where((freqs > expected_hz * 0.85) & (freqs < expected_hz * 1.15))[0]
    k = sel[np.argmax(mag[sel])]
    a, b, c = np.log(mag[k - 1: k + 2] + 1e-30)
    delta = 0.5 * (a - c) / (a - 2 * b + c)
    return float((k + delta) * sr / nfft)


def semitones(f_out: float, f_in: float) -> float:
    return float(12 * np.log2(f_out / f_in))


def _mel_filterbank(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    def hz_to_mel(f):
        return 2595.0 * np.log10(1 + f / 700.0)

    mels = np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1)
    bins = np.fft.rfftfreq(n_fft, 1 / sr)
    fb = np.zeros((n_mels, len(bins)))
    for m in range(n_mels):
        lo, c, hi = hz[m], hz[m + 1], hz[m + 2]
        fb[m] = np.clip(np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c)), 0, None)
    return fb


def log_mel(y: np.ndarray, sr: int = SR, n_fft: int = 512, hop: int = 160, n_mels: int = 40) -> np.ndarray:
    """Log-mel spectrogram in dB, (n_mels, n_frames), numpy only."""
    y = np.asarray(y, np.float64)
    y = np.pad(y, n_fft // 2)
    n_frames = 1 + (len(y) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    spec = np.abs(np.fft.rfft(y[idx] * np.hanning(n_fft), axis=1)) ** 2
    return 10 * np.log10(_mel_filterbank(sr, n_fft, n_mels) @ spec.T + 1e-10)


def log_mel_distance(stretched: np.ndarray, original: np.ndarray, sr: int = SR) -> float:
    """Mean |dB| difference between the log-mel of a time-stretched clip and the
    original's log-mel, linearly re-timed to the same frame count (frames more
    than 60 dB below the loudest are floored there)."""
    a = log_mel(stretched, sr)
    b = log_mel(original, sr)
    x_old = np.linspace(0, 1, b.shape[1])
    x_new = np.linspace(0, 1, a.shape[1])
    b2 = np.stack([np.interp(x_new, x_old, row) for row in b])
    floor = max(a.max(), b2.max()) - 60
    return float(np.mean(np.abs(np.maximum(a, floor) - np.maximum(b2, floor))))
