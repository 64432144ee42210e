"""Oscillators: spectral purity, frequency accuracy, NumPy twins, chunking, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal as ss

import noisegen
from noisegen import ParameterError
from noisegen._kernels.cpu import osc as kosc
from noisegen.synth.oscillators import LTASS_CENTERS_HZ, LTASS_LEVELS_DB, speech_shaped_sos

SR = 16000
BAND_LIMITED = ["square", "sawtooth", "triangle"]


# ----------------------------------------------------------------------------- helpers


def _harmonic_purity_db(y, f0, sr, *, window, guard_bins):
    """Level (dB re the fundamental) of the strongest component that is not a harmonic below Nyquist."""
    n = y.shape[-1]
    w = window(n)
    spec = np.abs(np.fft.rfft(y.astype(np.float64) * w))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    fundamental = spec[np.argmin(np.abs(freqs - f0))]
    mask = np.ones(spec.shape, dtype=bool)
    k = 1
    while k * f0 < sr / 2:
        mask &= np.abs(freqs - k * f0) > guard_bins * sr / n
        k += 1
    return 20.0 * np.log10(spec[mask].max() / fundamental)


def _rect(n):
    return np.ones(n)


def _blackman_harris(n):
    return ss.get_window("blackmanharris", n, fftbins=True)


def _peak_freq(y, sr, pad=16):
    """Frequency of the spectral peak: Hann window, zero padding, parabolic interpolation of log|X|."""
    n = y.shape[-1]
    spec = np.abs(np.fft.rfft(y.astype(np.float64) * np.hanning(n), n * pad))
    i = int(np.argmax(spec[1:-1])) + 1
    a, b, c = np.log(spec[i - 1 : i + 2])
    delta = 0.5 * (a - c) / (a - 2 * b + c)
    return (i + delta) * sr / (n * pad)


def _instantaneous_freq(y, sr, half=100):
    """Local frequency from a sliding least-squares line through the analytic signal's phase."""
    phase = np.unwrap(np.angle(ss.hilbert(y.astype(np.float64))))
    t = np.arange(-half, half + 1) / sr
    kernel = t / np.sum(t * t)  # least-squares slope = sum(t * phase) / sum(t**2) (t centred)
    slope = np.correlate(phase, kernel, mode="valid")
    centres = np.arange(half, y.shape[-1] - half)
    return centres, slope / (2 * np.pi)


def _fourier_twin(kind, f0, sr, n, phase=0.0, start=0):
    """Slow obvious twin: the truncated Fourier series evaluated term by term with np.sin/np.cos."""
    x = 2 * np.pi * f0 * (np.arange(start, start + n) / sr) + phase
    y = np.zeros(n)
    k = 1
    while k * f0 < sr / 2:
        if kind == "sawtooth":
            y += -2 / np.pi * np.sin(k * x) / k
        elif kind == "square" and k % 2:
            y += 4 / np.pi * np.sin(k * x) / k
        elif kind == "triangle" and k % 2:
            y += -8 / np.pi**2 * np.cos(k * x) / k**2
        k += 1
    return y


# ----------------------------------------------------------------------------- band-limited purity (must show)


@pytest.mark.parametrize("kind", BAND_LIMITED)
def test_band_limited_purity_3khz_at_16khz(kind):
    # f0 = 3 kHz on an exact bin: no leakage, every non-harmonic bin is measured as is.
    y = getattr(noisegen, kind)(freq_hz=3000.0, sample_rate=SR, n_samples=SR)
    assert y.dtype == np.float32
    level = _harmonic_purity_db(y, 3000.0, SR, window=_rect, guard_bins=0.5)
    assert level <= -60.0, f"{kind}: non-harmonic component at {level:.1f} dB"


@pytest.mark.parametrize("kind", BAND_LIMITED)
@pytest.mark.parametrize("f0", [2999.3, 441.7])
def test_band_limited_purity_off_bin(kind, f0):
    # Off-bin fundamental: a 92 dB-sidelobe window, main lobes (4 bins) excluded.
    y = getattr(noisegen, kind)(freq_hz=f0, sample_rate=SR, n_samples=SR)
    level = _harmonic_purity_db(y, f0, SR, window=_blackman_harris, guard_bins=4.5)
    assert level <= -60.0, f"{kind} at {f0} Hz: non-harmonic component at {level:.1f} dB"


@pytest.mark.parametrize("naive", [ss.square, ss.sawtooth, lambda x: ss.sawtooth(x, width=0.5)])
def test_purity_metric_rejects_naive_aliased_waveforms(naive):
    # The purity check must be able to fail: scipy's naive waveforms alias.
    x = 2 * np.pi * 3000.0 * np.arange(SR) / SR
    level = _harmonic_purity_db(naive(x), 3000.0, SR, window=_rect, guard_bins=0.5)
    assert level > -60.0


# ----------------------------------------------------------------------------- NumPy twins and chunking


@pytest.mark.parametrize("kind", BAND_LIMITED)
@pytest.mark.parametrize("f0", [3000.0, 441.7, 97.0])
def test_band_limited_matches_fourier_twin(kind, f0):
    phase = 0.7
    y = getattr(noisegen, kind)(freq_hz=f0, sample_rate=SR, n_samples=4000, phase=phase, dtype=np.float64)
    np.testing.assert_allclose(y, _fourier_twin(kind, f0, SR, 4000, phase), rtol=0, atol=1e-9)


@pytest.mark.parametrize("kind", BAND_LIMITED)
def test_band_limited_approaches_ideal_waveform(kind):
    # With many harmonics the series converges to scipy's ideal waveform away from edges.
    f0 = 50.0
    y = getattr(noisegen, kind)(freq_hz=f0, sample_rate=SR, n_samples=SR, dtype=np.float64)
    x = 2 * np.pi * f0 * np.arange(SR) / SR
    ideal = {"square": ss.square(x), "sawtooth": ss.sawtooth(x), "triangle": ss.sawtooth(x, width=0.5)}[kind]
    pos = (f0 * np.arange(SR) / SR) % 1.0
    edges = [0.0, 1.0] if kind == "sawtooth" else [0.0, 0.5, 1.0]
    far = np.min([np.abs(pos - e) for e in edges], axis=0) > 0.1
    assert np.max(np.abs(y - ideal)[far]) < 0.02


def test_tone_and_chirp_match_scipy():
    n = np.arange(SR)
    y = noisegen.tone(freq_hz=1234.5, sample_rate=SR, n_samples=SR, phase=0.3, amplitude=0.5, dtype=np.float64)
    np.testing.assert_allclose(y, 0.5 * np.cos(2 * np.pi * 1234.5 * n / SR + 0.3), atol=1e-10)
    for method in ("linear", "logarithmic"):
        y = noisegen.chirp(freq_hz=100.0, end_freq_hz=6000.0, sample_rate=SR, n_samples=SR, method=method,
                           phase=0.3, dtype=np.float64)
        ref = ss.chirp(n / SR, 100.0, 1.0, 6000.0, method=method, phi=np.degrees(0.3))
        np.testing.assert_allclose(y, ref, atol=1e-9)


def _kernel_calls():
    amps = np.array([0.5, -0.25, 0.125, 0.0, 0.3])
    return {
        "cosine": (0.0731, 0.2, 0.9),
        "linear_chirp": (0.01, 1.3e-7, 0.1, 1.0),
        "log_chirp": (0.01, 2.1e-5, 0.1, 1.0),
        "additive": (0.0731, 0.2, amps),
        "impulses": (0.1873, 0.25, 1.0),
    }


@pytest.mark.parametrize("name", sorted(_kernel_calls()))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_chunk_invariant(name, dtype):
    args = _kernel_calls()[name]
    kern = getattr(kosc, name)
    n = 20000
    whole = np.empty(n, dtype=dtype)
    kern(whole, 0, *args)
    pieces, start = [], 0
    for size in [1, 63, 64, 65, 255, 256, 257, 4095, 8193]:
        part = np.empty(min(size, n - start), dtype=dtype)
        kern(part, start, *args)
        pieces.append(part)
        start += part.size
    rest = np.empty(n - start, dtype=dtype)
    kern(rest, start, *args)
    np.testing.assert_array_equal(np.concatenate(pieces + [rest]), whole)


def test_no_phase_drift_after_a_week():
    # 440 Hz at 16 kHz: cycles at sample m are m*11/400, exact with integers.
    start = 16000 * 86400 * 7
    out = np.empty(1000)
    kosc.cosine(out, start, 440.0 / 16000, 0.0, 1.0)
    m = np.arange(start, start + 1000, dtype=np.int64)
    exact = np.cos(2 * np.pi * ((m * 11) % 400) / 400.0)
    assert np.max(np.abs(out - exact)) < 1e-6


def test_impulse_train_positions():
    f0 = 3000.0  # period 16/3 samples: no ties when rounding
    y = noisegen.impulse_train(freq_hz=f0, sample_rate=SR, n_samples=SR, amplitude=0.5)
    expected = np.zeros(SR)
    idx = np.round(np.arange(0, 3000) * SR / f0).astype(int)
    expected[idx[idx < SR]] = 0.5
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("sample_rate", [8000, 16000, 22050, 44100, 48000])
def test_impulse_train_gives_every_period_start_one_impulse_ties_too(sample_rate):
    """Period starts half-way between two samples (44.1 kHz at 440 Hz: every 11th) went to neither
    sample or to both: the two samples' edges were rounded apart."""
    from fractions import Fraction

    n = 4 * sample_rate
    for f0 in (3.0, 50.0, 60.0, 100.0, 220.0, 440.0, 441.0, 882.0, 1000.0, 1764.0, 3200.0, sample_rate / 2):
        for phase in (0.0, math.pi):
            y = noisegen.impulse_train(freq_hz=f0, sample_rate=sample_rate, n_samples=n, phase=phase,
                                       dtype=np.float64)
            got = np.flatnonzero(y)
            step = Fraction(sample_rate) / Fraction(f0)
            first = -step / 2 if phase else Fraction(0)  # phase pi: half a cycle early
            starts = [first + m * step for m in range(-1, int(n / step) + 2)]
            starts = [t for t in starts if Fraction(-1, 2) < t < n - Fraction(1, 2)]
            assert got.size == len(starts), (f0, phase)
            assert all(abs(i - t) <= Fraction(1, 2) for i, t in zip(got, starts)), (f0, phase)


def test_hum_levels():
    levels = (0.0, -20.0, -6.0, float("-inf"), -12.0)
    y = noisegen.hum(sample_rate=SR, n_samples=SR, mains_hz=60.0, harmonic_levels_db=levels, amplitude=0.1,
                     dtype=np.float64)
    spec = np.abs(np.fft.rfft(y)) * 2 / SR  # 1 Hz bins: 60 Hz multiples are exact bins
    for k, level in enumerate(levels, start=1):
        expected = 0.1 * 10 ** (level / 20)
        assert spec[60 * k] == pytest.approx(expected, abs=1e-9)
    others = np.delete(spec, [60 * k for k in range(1, 6)])
    assert others.max() < 1e-9
    # 60 Hz default levels, harmonics above Nyquist dropped without error
    assert noisegen.hum(sample_rate=200, n_samples=100, mains_hz=60.0).shape == (100,)


# ----------------------------------------------------------------------------- frequency accuracy (must show)


@pytest.mark.parametrize("f", [100.0, 440.0, 1234.567, 3000.0, 7777.7])
def test_tone_frequency_accuracy(f):
    y = noisegen.tone(freq_hz=f, sample_rate=SR, duration_s=1.0)
    est = _peak_freq(y, SR)
    assert abs(est - f) / f < 1e-4, (f, est)


@pytest.mark.parametrize("method", ["linear", "logarithmic"])
def test_chirp_instantaneous_frequency_accuracy(method):
    f0, f1, dur = 200.0, 6000.0, 2.0
    y = noisegen.chirp(freq_hz=f0, end_freq_hz=f1, sample_rate=SR, duration_s=dur, method=method)
    centres, est = _instantaneous_freq(y, SR)
    t = centres / SR
    expected = f0 + (f1 - f0) * t / dur if method == "linear" else f0 * (f1 / f0) ** (t / dur)
    keep = (t > 0.1 * dur) & (t < 0.9 * dur)
    rel = np.abs(est[keep] - expected[keep]) / expected[keep]
    assert rel.max() < 1e-4, rel.max()


def test_frequency_estimator_can_fail():
    # A 0.02 % mistuned tone is caught by the same estimator.
    y = noisegen.tone(freq_hz=1000.2, sample_rate=SR, duration_s=1.0)
    assert abs(_peak_freq(y, SR) - 1000.0) / 1000.0 > 1e-4


# ----------------------------------------------------------------------------- speech-shaped noise


def _octave_levels(y, sr, centres):
    f, p = ss.welch(y, fs=sr, nperseg=4096)
    df = f[1] - f[0]
    return np.array([10 * np.log10(np.sum(p[(f >= c / 2**0.5) & (f < c * 2**0.5)]) * df) for c in centres])


def _ltass_octave_levels(centres):
    out = []
    for c in centres:
        i = int(np.argmin(np.abs(LTASS_CENTERS_HZ - c)))
        out.append(10 * np.log10(np.sum(10 ** (LTASS_LEVELS_DB[i - 1 : i + 2] / 10))))
    return np.array(out)


@pytest.mark.parametrize("sr", [16000, 44100])
def test_speech_shaped_noise_follows_ltass(sr):
    centres = np.array([125, 250, 500, 1000, 2000, 4000])
    y = noisegen.speech_shaped_noise(sample_rate=sr, duration_s=20.0, rng=1)
    err = _octave_levels(y, sr, centres) - _ltass_octave_levels(centres)
    err -= err.mean()
    assert np.abs(err).max() < 2.5, np.round(err, 2)
    # and it is not white noise (the check can fail): white is >10 dB off in some band
    white = np.random.default_rng(0).standard_normal(y.size)
    err_w = _octave_levels(white, sr, centres) - _ltass_octave_levels(centres)
    assert np.ptp(err_w - err_w.mean()) > 10


@pytest.mark.parametrize("sr", [8000, 22050, 48000, 48001, 96000, 176400, 192000, 200000])
def test_speech_shaped_filter_has_the_ltass_shape_at_every_rate(sr):
    # the octave-band shape in Hz is the LTASS's at any rate: with 12 poles at every rate, 192 kHz lost
    # the 400-500 Hz maximum (500 Hz octave 4.8 dB low, 63 Hz 4.4 dB high; 96 kHz 3 dB off)
    centres = np.array([125, 250, 500, 1000, 2000, 4000])
    f = np.linspace(1.0, 6000.0, 60000)
    _, h = ss.sosfreqz(speech_shaped_sos(sr), worN=f, fs=sr)
    density = np.abs(h) ** 2
    levels = np.array([10 * np.log10(np.sum(density[(f >= c / 2**0.5) & (f < c * 2**0.5)])) for c in centres])
    err = levels - _ltass_octave_levels(centres)
    assert np.abs(err - err.mean()).max() < 2.5, np.round(err - err.mean(), 2)  # (as the noise at 16 and 44.1 kHz)


@pytest.mark.parametrize("sr", [8000, 16000, 44100, 192000, 384000, 768000])
def test_speech_shaped_density_falls_as_documented_above_1khz(sr):
    # the docstring said about -9 dB/octave above 1 kHz; the LTASS (and the fit) fall about 6.5
    f = np.geomspace(1000.0, min(16000.0, 0.45 * sr), 300)
    _, h = ss.sosfreqz(speech_shaped_sos(sr), worN=f, fs=sr)
    slope = np.polyfit(np.log2(f), 10 * np.log10(np.abs(h) ** 2), 1)[0]
    assert -7.8 < slope < -6.0, slope


@pytest.mark.parametrize("sr", [48000, 96000, 192000, 250000, 300000, 500000, 768000])
def test_speech_shaped_noise_keeps_unit_variance_at_high_rates(sr):
    # a fit of 12 poles per 48 kHz at any rate made sections so ill conditioned past 192 kHz that the
    # variance strayed (1.4x at 250 kHz, 2.2x at 300, 2.4x at 500): the fit stops growing at 192 kHz
    y = noisegen.speech_shaped_noise(sample_rate=sr, n_samples=2 * sr, rng=0, dtype=np.float64)[sr // 2:]
    assert abs(np.std(y) - 1.0) < 0.05, np.std(y)


def test_speech_shaped_noise_variance_determinism_channels():
    y = noisegen.speech_shaped_noise(sample_rate=SR, duration_s=10.0, rng=7, n_channels=2)
    assert y.shape == (2, 10 * SR) and y.dtype == np.float32
    np.testing.assert_allclose(y.var(axis=1), 1.0, rtol=0.05)
    assert abs(np.corrcoef(y)[0, 1]) < 0.05
    again = noisegen.speech_shaped_noise(sample_rate=SR, duration_s=10.0, rng=7, n_channels=2)
    np.testing.assert_array_equal(y, again)
    other = noisegen.speech_shaped_noise(sample_rate=SR, duration_s=10.0, rng=8, n_channels=2)
    assert not np.array_equal(y, other)



@pytest.mark.parametrize("n, n_channels, amplitude, dtype", [
    (1, None, 1.0, np.float32), ((1 << 18) - 1, 2, 0.3, np.float64), ((1 << 18) * 2 + 7, None, 2.0, np.float32)])
def test_speech_shaped_noise_is_its_generators_samples_across_blocks(n, n_channels, amplitude, dtype):
    # made block by block (bounded memory), the samples of one NoiseGenerator("speech") read, scaled, cast once
    y = noisegen.speech_shaped_noise(sample_rate=SR, n_samples=n, rng=5, amplitude=amplitude, n_channels=n_channels,
                                     dtype=dtype)
    read = noisegen.NoiseGenerator("speech", sample_rate=SR, rng=5, n_channels=n_channels or 1,
                                   dtype=np.float64).read(n)
    want = (read * amplitude if amplitude != 1.0 else read).astype(dtype)
    np.testing.assert_array_equal(y, want if n_channels is None else want.reshape(n_channels, n))
    assert y.dtype == dtype and y.flags.c_contiguous

@pytest.mark.parametrize("sample_rate, n_channels, n", [(96000, 256, 1), (16000, 512, 4096), (8000, 4096, 33)])
def test_speech_shaped_noise_memory_follows_the_output_not_channels_times_rate(sample_rate, n_channels, n):
    # the warm-up (a second of noise per channel) and the read blocks are bounded over all channels:
    # 256 channels at 96 kHz once took 390 MB for a one-sample output
    import tracemalloc

    noisegen.speech_shaped_noise(sample_rate=sample_rate, n_samples=1, rng=0)  # (designs the filter)
    tracemalloc.start()
    try:
        y = noisegen.speech_shaped_noise(sample_rate=sample_rate, n_samples=n, rng=0, n_channels=n_channels)
        gen = noisegen.NoiseGenerator("speech", sample_rate=sample_rate, rng=0, n_channels=n_channels)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < y.nbytes + 24 * 2**20, (peak, y.nbytes)
    np.testing.assert_array_equal(gen.read(n), y)


@pytest.mark.parametrize("sample_rate", [1, 2, 3, 5, 8, 13, 50])
def test_speech_shaped_noise_has_unit_variance_from_the_first_sample_at_few_hz(sample_rate):
    # the filter's scale came from 2 s of its impulse response and its warm-up was 1 s: at a few Hz
    # that is a few samples (variance 1.44 at 1 Hz, 1.09 at 2 Hz; a start 25 % low at 2 Hz)
    impulse = np.zeros(100_000)
    impulse[0] = 1.0
    assert abs(np.sum(ss.sosfilt(speech_shaped_sos(sample_rate), impulse) ** 2) - 1.0) < 1e-9
    y = noisegen.speech_shaped_noise(sample_rate=sample_rate, n_samples=3, rng=3, n_channels=20000,
                                     dtype=np.float64)
    np.testing.assert_allclose(y.var(axis=0), 1.0, atol=0.05)  # over independent channels, per sample


def test_speech_shaped_sos_streams_with_zi():
    sos = speech_shaped_sos(SR)
    x = np.random.default_rng(3).standard_normal(5000)
    whole = ss.sosfilt(sos, x)
    zi = np.zeros((sos.shape[0], 2))
    parts = []
    for a, b in [(0, 1), (1, 64), (64, 4159), (4159, 5000)]:
        out, zi = ss.sosfilt(sos, x[a:b], zi=zi)
        parts.append(out)
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=0, atol=1e-12)
    for section in sos:
        assert np.all(np.abs(np.roots(section[3:])) < 1)


# ----------------------------------------------------------------------------- shapes and validation


@pytest.mark.parametrize("fn", ["tone", "square", "sawtooth", "triangle", "impulse_train"])
def test_shapes_dtypes_channels(fn):
    f = getattr(noisegen, fn)
    y = f(freq_hz=500.0, sample_rate=SR, duration_s=0.01)
    assert y.shape == (160,) and y.dtype == np.float32
    y2 = f(freq_hz=500.0, sample_rate=SR, n_samples=161, n_channels=3, dtype=np.float64)
    assert y2.shape == (3, 161) and y2.dtype == np.float64 and y2.flags.c_contiguous
    np.testing.assert_array_equal(y2[0], y2[2])
    assert f(freq_hz=500.0, sample_rate=SR, n_samples=0).shape == (0,)


@pytest.mark.parametrize("fn", ["tone", "chirp", "square", "sawtooth", "triangle", "impulse_train", "hum"])
@pytest.mark.parametrize("n_channels", [None, 1, 2, 3])
@pytest.mark.parametrize("n", [0, 1, 2, 161])
def test_every_output_is_a_writeable_array_of_its_own(fn, n_channels, n):
    # n_channels=1 (and any n_channels with no samples) gave np.broadcast_to's read-only view: y *= 0.5 raised
    y = _call(fn, duration_s=_DROP, n_samples=n, n_channels=n_channels, dtype=np.float64)
    assert y.shape == ((n,) if n_channels is None else (n_channels, n)) and y.flags.c_contiguous
    assert y.flags.writeable and (y.base is None or y.base.flags.writeable)
    want = y * 0.5
    y *= 0.5
    np.testing.assert_array_equal(y, want)
    if n_channels is not None and n_channels > 1 and n:
        y[0] = 7.0  # the rows are samples of their own, not one row seen n_channels times
        assert np.all(y[1:] != 7.0)


def _call(fn, **over):
    base = {"freq_hz": 440.0, "sample_rate": SR, "duration_s": 0.1}
    if fn == "chirp":
        base["end_freq_hz"] = 880.0
    if fn in ("hum", "speech_shaped_noise"):
        base.pop("freq_hz")
    base.update(over)
    base = {k: v for k, v in base.items() if v is not _DROP}
    return getattr(noisegen, fn)(**base)


_DROP = object()


@pytest.mark.parametrize("fn", ["tone", "chirp", "square", "sawtooth", "triangle", "impulse_train", "hum"])
@pytest.mark.parametrize("phase", [7.0, -1e5, 1e13, 3e16, -1e17, 1e300])
def test_a_phase_of_many_turns_is_that_phase(fn, phase):
    # the kernels count cycles in float64 from phase / 2pi: past 2**53 turns a sample's position was
    # lost (tone(phase=1e17) constant 1.0, square silent, impulse_train without impulses)
    within = math.atan2(math.sin(phase), math.cos(phase))  # libm reduces any argument exactly
    got = _call(fn, phase=phase, dtype=np.float64)
    np.testing.assert_allclose(got, _call(fn, phase=within, dtype=np.float64), rtol=0, atol=1e-9)
ALL = ["tone", "chirp", "square", "sawtooth", "triangle", "impulse_train", "hum", "speech_shaped_noise"]


@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize(
    "over, name",
    [
        ({"duration_s": -1.0}, "duration_s"),
        ({"duration_s": float("nan")}, "duration_s"),
        ({"duration_s": _DROP, "n_samples": -5}, "n_samples"),
        ({"duration_s": _DROP, "n_samples": 2.5}, "n_samples"),
        ({"n_samples": 100}, "n_samples"),  # both given
        ({"duration_s": _DROP}, "n_samples"),  # neither given
        ({"sample_rate": 16000.5}, "sample_rate"),
        ({"sample_rate": 0}, "sample_rate"),
        ({"n_channels": 0}, "n_channels"),
        ({"dtype": np.int16}, "dtype"),
        ({"amplitude": float("inf")}, "amplitude"),
    ],
)
def test_bad_common_inputs(fn, over, name):
    with pytest.raises(ParameterError, match=name):
        _call(fn, **over)


@pytest.mark.parametrize("fn", ["tone", "chirp", "square", "sawtooth", "triangle", "impulse_train"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 9000.0, "440"])
def test_bad_frequency(fn, value):
    with pytest.raises(ParameterError, match="freq_hz"):
        _call(fn, freq_hz=value)


def test_bad_specific_inputs():
    with pytest.raises(ParameterError, match="end_freq_hz"):
        _call("chirp", end_freq_hz=float("nan"))
    with pytest.raises(ParameterError, match="freq_hz"):
        _call("chirp", freq_hz=0.0, method="logarithmic")
    with pytest.raises(ParameterError, match="method"):
        _call("chirp", method="quadratic")
    for f in (5e-324, 1e-310, 4e-305):  # (a ratio past float64: 'amplitude=1 overflows float32')
        with pytest.raises(ParameterError, match=f"^freq_hz={f:g} is too low for a logarithmic chirp with 8000 Hz"):
            _call("chirp", freq_hz=f, end_freq_hz=8000.0, method="logarithmic")
    with pytest.raises(ParameterError, match="^end_freq_hz=4.94066e-324 is too low"):  # ('math domain error')
        _call("chirp", freq_hz=8000.0, end_freq_hz=5e-324, method="logarithmic")
    for f in (1e-310, 1e-300, 1e-5):
        assert np.isfinite(_call("chirp", freq_hz=8000.0, end_freq_hz=f, method="logarithmic")).all()
    assert np.isfinite(_call("chirp", freq_hz=1e-300, end_freq_hz=8000.0, method="logarithmic")).all()
    with pytest.raises(ParameterError, match="phase"):
        _call("tone", phase=float("nan"))
    with pytest.raises(ParameterError, match="mains_hz"):
        _call("hum", mains_hz=float("nan"))
    with pytest.raises(ParameterError, match="harmonic_levels_db"):
        _call("hum", harmonic_levels_db=[0.0, float("nan")])
    with pytest.raises(ParameterError, match="harmonic_levels_db"):
        _call("hum", harmonic_levels_db=[])
    with pytest.raises(ParameterError, match="freq_hz"):
        _call("square", freq_hz=8000.0)  # the fundamental itself must be below Nyquist


@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_level_past_the_dtype_range_is_a_parameter_error(fn, dtype):
    # amplitude=1e39 in float32 used to give inf samples (speech_shaped_noise with a cast
    # warning): the output is amplitude times the unit signal while that fits the dtype, else an error.
    import warnings

    top = float(np.finfo(dtype).max)
    seeded = {"rng": 0} if fn == "speech_shaped_noise" else {}
    unit = _call(fn, dtype=np.float64, n_channels=2, **seeded)
    peak = float(np.abs(unit).max())
    for amplitude in [*(np.geomspace(1e-30, 1.0, 13) * top).tolist(), 1e39, 1e300, 1.7e308]:
        for sign in (1.0, -1.0) if fn != "speech_shaped_noise" else (1.0,):  # (its amplitude is an RMS, >= 0)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                try:
                    out = _call(fn, dtype=dtype, n_channels=2, amplitude=sign * amplitude, **seeded)
                except ParameterError as exc:
                    assert amplitude * peak > 0.99 * top, (amplitude, exc)
                    assert f"amplitude={sign * amplitude:g}" in str(exc) and "overflows" in str(exc)
                    continue
            assert amplitude * peak < 1.01 * top and out.dtype == dtype
            np.testing.assert_allclose(out / (sign * amplitude), unit, rtol=1e-5, atol=1e-6 * peak)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hum_harmonic_level_past_the_dtype_range_is_a_parameter_error(dtype):
    top_db = 20 * math.log10(np.finfo(dtype).max)
    for level_db in np.linspace(0.0, 7000.0, 36):
        levels = (-6.0, level_db) if level_db % 2 else (level_db,)
        if abs(level_db - top_db) < 3.0:
            continue
        if level_db < top_db:
            assert np.isfinite(_call("hum", harmonic_levels_db=levels, dtype=dtype)).all()
        else:
            with pytest.raises(ParameterError, match=r"harmonic_levels_db=\(.*\) overflows"):
                _call("hum", harmonic_levels_db=levels, dtype=dtype)


def test_speech_shaped_noise_refuses_a_negative_rms():
    # amplitude is the noise's RMS: -1 gave noise of RMS 1 (negated), silently
    with pytest.raises(noisegen.ParameterError, match="amplitude"):
        noisegen.speech_shaped_noise(sample_rate=SR, n_samples=10, rng=0, amplitude=-1.0)
    assert not noisegen.speech_shaped_noise(sample_rate=SR, n_samples=10, rng=0, amplitude=0.0).any()
