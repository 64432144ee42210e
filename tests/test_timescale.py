"""speed, time_stretch (WSOLA, phase vocoder) and pitch_shift: lengths, pitch, purity, speech quality."""

from __future__ import annotations

import math

import numpy as np
import pytest

import noisegen
from noisegen import BackendError, ParameterError, pitch_shift, speed, time_stretch
from noisegen._kernels.cpu import wsola as wsola_kernels
from noisegen.timescale import _frac_table

SR = 16000
RATES = [0.5, 0.8, 0.9, 1.1, 1.25, 2.0]


def harmonic_tone(f0, seconds=4.0, n_harmonics=10, dtype=np.float32):
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * f0 * h * t + 0.3 * h * h) / h for h in range(1, n_harmonics + 1))
    return (0.2 * y).astype(dtype)


def f0_st(y, f0_ref):
    """Median YIN F0 of ``y`` in semitones relative to ``f0_ref``."""
    librosa = pytest.importorskip("librosa")
    f = librosa.yin(y.astype(np.float64), fmin=80, fmax=600, sr=SR, frame_length=2048)
    return 12 * math.log2(np.median(f[4:-4]) / f0_ref)


def off_harmonic_db(y, f0, n_harmonics=10, width_hz=15.0):
    """Energy outside +-width_hz of every harmonic, in dB relative to the total."""
    y = y[len(y) // 8 : -len(y) // 8].astype(np.float64)
    power = np.abs(np.fft.rfft(y * np.hanning(len(y)))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    near = np.zeros(freqs.shape, bool)
    for h in range(1, n_harmonics + 1):
        near |= np.abs(freqs - h * f0) <= width_hz
    return 10 * np.log10(power[~near].sum() / power.sum())


# ---------------------------------------------------------------- lengths


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("n", [16000, 16001, 12345, 777, 3])
def test_exact_lengths(rate, n):
    y = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    for method in ("wsola", "phase_vocoder"):
        out = time_stretch(y, rate=rate, sample_rate=SR, method=method)
        assert out.shape == (round(n / rate),) and out.dtype == np.float32
    assert speed(y, factor=rate, sample_rate=SR).shape == (round(n / rate),)
    assert pitch_shift(y, sample_rate=SR, n_steps=12 * math.log2(rate)).shape == (n,)


def test_empty_and_dtype_and_channels():
    for f in (
        lambda y: time_stretch(y, rate=1.1, sample_rate=SR),
        lambda y: speed(y, factor=0.9, sample_rate=SR),
        lambda y: pitch_shift(y, sample_rate=SR, n_steps=3),
    ):
        assert f(np.zeros(0)).shape == (0,)
        out = f(np.zeros((2, 5001)))
        assert out.dtype == np.float64 and out.shape[0] == 2


# ---------------------------------------------------------------- pitch


@pytest.mark.parametrize("rate", [0.5, 0.8, 1.25, 2.0])
@pytest.mark.parametrize("f0", [200.0, 173.3])
def test_time_stretch_keeps_f0(rate, f0):
    y = time_stretch(harmonic_tone(f0), rate=rate, sample_rate=SR)
    assert abs(f0_st(y, f0)) < 0.02


@pytest.mark.parametrize("n_steps", [-4, -2, 2, 4])
def test_pitch_shift_lands_on_target(n_steps):
    y = pitch_shift(harmonic_tone(200.0), sample_rate=SR, n_steps=n_steps)
    assert abs(f0_st(y, 200.0) - n_steps) < 0.02


@pytest.mark.parametrize("factor", [0.8, 0.9, 1.1, 1.25])
def test_speed_moves_pitch(factor):
    y = speed(harmonic_tone(200.0), factor=factor, sample_rate=SR)
    assert abs(f0_st(y, 200.0) - 12 * math.log2(factor)) < 0.02


def test_pitch_shift_bins_per_octave():
    y = harmonic_tone(200.0, seconds=2.0)
    a = pitch_shift(y, sample_rate=SR, n_steps=4, bins_per_octave=24)
    b = pitch_shift(y, sample_rate=SR, n_steps=2)
    np.testing.assert_allclose(a, b, atol=1e-6)


# ---------------------------------------------------------------- purity


@pytest.mark.parametrize("rate", [0.8, 1.25])
@pytest.mark.parametrize("f0", [200.0, 210.0])
def test_purity_of_stretched_harmonic_tone(rate, f0):
    # librosa's phase vocoder reaches about -42 dB, unaligned overlap-add about -10 dB.
    y = time_stretch(harmonic_tone(f0), rate=rate, sample_rate=SR)
    assert off_harmonic_db(y, f0) < -40


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_phase_vocoder_purity(rate):
    y = time_stretch(harmonic_tone(200.0), rate=rate, sample_rate=SR, method="phase_vocoder")
    assert off_harmonic_db(y, 200.0) < -40
    assert abs(f0_st(y, 200.0)) < 0.02


@pytest.mark.parametrize("n_steps", [-4, 4])
def test_pitch_shift_purity(n_steps):
    y = pitch_shift(harmonic_tone(200.0), sample_rate=SR, n_steps=n_steps)
    assert off_harmonic_db(y, 200.0 * 2 ** (n_steps / 12)) < -40


# ---------------------------------------------------------------- speech


def log_mel(y):
    librosa = pytest.importorskip("librosa")
    m = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=512, hop_length=160, n_mels=64)
    return 10 * np.log10(m + 1e-8)


def log_mel_distance(x, y):
    """RMS dB difference of log-mels; ``y``'s frames linearly re-timed to ``x``'s frame count."""
    a, b = log_mel(x), log_mel(y)
    t_in, t_out = np.linspace(0, 1, a.shape[1]), np.linspace(0, 1, b.shape[1])
    b = np.stack([np.interp(t_in, t_out, row) for row in b])
    active = a.max(axis=0) > a.max() - 60
    return float(np.sqrt(np.mean((a - b)[:, active] ** 2)))


@pytest.mark.parametrize("rate", [0.8, 0.9, 1.1, 1.25])
def test_speech_log_mel_distance_no_worse_than_librosa(speech_16k, rate):
    librosa = pytest.importorskip("librosa")
    ours = log_mel_distance(speech_16k, time_stretch(speech_16k, rate=rate, sample_rate=SR))
    theirs = log_mel_distance(speech_16k, librosa.effects.time_stretch(speech_16k, rate=rate))
    print(f"rate {rate}: log-mel distance noisegen wsola {ours:.2f} dB, librosa {theirs:.2f} dB")
    assert ours <= theirs


# ---------------------------------------------------------------- channels


def test_channels_share_splice_points(speech_16k):
    mono = speech_16k.astype(np.float32)
    stereo = np.stack([mono, 0.5 * mono])
    out = time_stretch(stereo, rate=0.9, sample_rate=SR)
    ref = time_stretch(mono, rate=0.9, sample_rate=SR)
    np.testing.assert_allclose(out[0], ref, atol=1e-5)
    np.testing.assert_allclose(out[1], 0.5 * ref, atol=1e-5)
    shifted = pitch_shift(stereo, sample_rate=SR, n_steps=3)
    np.testing.assert_allclose(shifted[1], 0.5 * shifted[0], atol=1e-5)


# ---------------------------------------------------------------- kernel twin


def naive_overlap_add(xp, positions, hop, window, table):
    """Slow twin of wsola_overlap_add: read each frame at its fractional position."""
    n_q, n_taps = table.shape[0] - 1, table.shape[1]
    out = np.zeros((xp.shape[0], (len(positions) + 1) * hop))
    for k, pos in enumerate(positions):
        start = pos - hop
        i0 = math.floor(start)
        q = int(math.floor((start - i0) * n_q + 0.5))
        if q == n_q:
            i0, q = i0 + 1, 0
        for j in range(2 * hop):
            if q == 0:
                v = xp[:, i0 + j]
            else:
                idx = i0 + j - (n_taps // 2 - 1) + np.arange(n_taps)
                v = xp[:, idx] @ table[q]
            out[:, k * hop + j] += window[j] * v
    return out


def test_overlap_add_matches_numpy_twin():
    rng = np.random.default_rng(5)
    hop = 20
    xp = rng.standard_normal((2, 400))
    positions = np.array([60.0, 80.25, 97.5, 121.0, 140.9, 161.999])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2 * hop) / (2 * hop))
    table = _frac_table("d")
    out = np.zeros((2, (len(positions) + 1) * hop))
    wsola_kernels.wsola_overlap_add(xp, positions, hop, window, table, out)
    np.testing.assert_allclose(out, naive_overlap_add(xp, positions, hop, window, table), atol=1e-12)


def test_fractional_delay_table_interpolates():
    # a half-sample delay of a 1 kHz tone through the table is that tone shifted by half a sample
    table = _frac_table("d")
    row = table[len(table) // 2]
    t = np.arange(200)
    x = np.sin(2 * np.pi * 1000 * t / SR)
    y = np.convolve(x, row[::-1], mode="valid")  # y[m] = sum_t row[t] x[m + t]
    m = np.arange(len(y)) + len(row) // 2 - 1 + 0.5
    np.testing.assert_allclose(y, np.sin(2 * np.pi * 1000 * m / SR), atol=2e-3)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "fast", True])
def test_bad_rate_and_factor(bad):
    y = np.zeros(100)
    with pytest.raises(ParameterError, match="rate"):
        time_stretch(y, rate=bad, sample_rate=SR)
    with pytest.raises(ParameterError, match="factor"):
        speed(y, factor=bad, sample_rate=SR)


def test_other_validation():
    y = np.zeros(100)
    with pytest.raises(ParameterError, match="method"):
        time_stretch(y, rate=1.1, sample_rate=SR, method="ola")
    with pytest.raises(ParameterError, match="n_steps"):
        pitch_shift(y, sample_rate=SR, n_steps=float("nan"))
    with pytest.raises(ParameterError, match="bins_per_octave"):
        pitch_shift(y, sample_rate=SR, n_steps=1, bins_per_octave=0)
    with pytest.raises(ParameterError, match="sample_rate"):
        time_stretch(y, rate=1.1, sample_rate=-1)
    with pytest.raises(ParameterError, match="finite"):
        speed(np.array([1.0, np.inf]), factor=1.1, sample_rate=SR)
    with pytest.raises(BackendError):
        pitch_shift(y, sample_rate=SR, n_steps=1, backend="cuda")


def test_top_level_names():
    assert noisegen.time_stretch is time_stretch
    assert noisegen.pitch_shift is pitch_shift and noisegen.speed is speed
