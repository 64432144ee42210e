"""gain, clip, bitcrush, time_mask: laws, dtypes, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import noisegen as ng

SR = 16000


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gain_law_and_dtype(speech_16k, dtype):
    y = speech_16k.astype(dtype)
    for g in (-20.0, -6.0, 0.0, 3.5, 12.0):
        out = ng.gain(y, gain_db=g)
        assert out.dtype == dtype and out.shape == y.shape
        measured = 10 * np.log10(np.mean(out.astype(np.float64) ** 2) / np.mean(y.astype(np.float64) ** 2))
        assert measured == pytest.approx(g, abs=1e-4)
    stereo = np.stack([y, -y])
    np.testing.assert_allclose(ng.gain(stereo, gain_db=6.0)[1], -ng.gain(y, gain_db=6.0))


def test_clip_threshold_and_percentile(speech_16k):
    y = speech_16k
    peak = np.max(np.abs(y))
    out = ng.clip(y, threshold=0.5 * peak)
    assert np.max(np.abs(out)) == pytest.approx(0.5 * peak)
    keep = np.abs(y) <= 0.5 * peak
    np.testing.assert_array_equal(out[keep], y[keep])
    for p in (1.0, 10.0, 40.0):
        out = ng.clip(y, percentile=p)
        clipped = np.count_nonzero(np.abs(y) > np.max(np.abs(out)))
        assert clipped / y.size == pytest.approx(p / 100, abs=0.002)
    assert ng.clip(y.astype(np.float32), percentile=5).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_threshold_past_the_dtype_range_clips_nothing_quietly(dtype):
    # threshold=3.5e38 on float32 was cast to float32 (overflow warning) before clipping nothing
    top = float(np.finfo(dtype).max)
    y = np.concatenate([[-top, top, 0.0], np.random.default_rng(1).standard_normal(50)]).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for threshold in (top / 2, 0.99 * top, top, 3.5e38, 1e39, 1e100, 1e300, np.finfo(np.float64).max):
            out = ng.clip(y, threshold=threshold)
            assert out.dtype == dtype
            expected = y if threshold >= top else np.clip(y, -dtype(threshold), dtype(threshold))  # below: the cast
            np.testing.assert_array_equal(out, expected)


def test_clip_warns_on_heavy_clipping_only():
    with pytest.warns(ng.NoisegenWarning, match="more than half"):
        ng.clip(np.full(10, 2.0), threshold=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ng.clip(np.array([0.1, 0.2, 3.0]), threshold=1.0)
        ng.clip(np.full(10, 2.0), percentile=90)  # asked for explicitly


def test_bitcrush_grid_and_error_bound():
    rng = np.random.default_rng(0)
    y = rng.uniform(-1, 1, 10000)
    for bits in (1, 2, 4, 8, 16):
        out = ng.bitcrush(y, bit_depth=bits)
        step = 2.0 ** -(bits - 1)
        np.testing.assert_allclose(out / step, np.round(out / step), atol=1e-9)
        assert np.max(np.abs(out - y)) <= step / 2 + 1e-12
        assert len(np.unique(out)) <= 2 ** bits + 1
    y16 = (rng.integers(-32768, 32767, 1000) / 32768).astype(np.float32)
    np.testing.assert_array_equal(ng.bitcrush(y16, bit_depth=16), y16)  # already on the 16-bit grid


def test_time_mask_zeroes_stretch_with_fades(speech_16k):
    y = speech_16k
    out = ng.time_mask(y, start_s=1.0, duration_s=0.5, sample_rate=SR, fade_s=0.01)
    a, b, f = SR, SR + SR // 2, SR // 100
    np.testing.assert_array_equal(out[:a], y[:a])
    np.testing.assert_array_equal(out[b:], y[b:])
    assert not np.any(out[a + f:b - f])
    w = out[a:a + f] / np.where(y[a:a + f] == 0, 1, y[a:a + f])
    assert np.all(np.diff(w[y[a:a + f] != 0]) <= 1e-12)  # fading out
    hard = ng.time_mask(y, start_s=1.0, duration_s=0.5, sample_rate=SR, fade_s=0)
    assert not np.any(hard[a:b])
    past_end = ng.time_mask(y, start_s=3.8, duration_s=2.0, sample_rate=SR)
    np.testing.assert_array_equal(past_end[: int(3.8 * SR)], y[: int(3.8 * SR)])
    assert not np.any(past_end[int(3.8 * SR) + 80:])
    assert ng.time_mask(np.ones((2, 100), np.float32), start_s=0, duration_s=0.001, sample_rate=SR).dtype == np.float32


@pytest.mark.parametrize(
    "call",
    [
        lambda: ng.gain(np.ones(3), gain_db=np.nan),
        lambda: ng.gain(np.array([1.0, np.nan]), gain_db=0),
        lambda: ng.gain(np.ones(3, np.int16), gain_db=0),
        lambda: ng.clip(np.ones(3), threshold=0),
        lambda: ng.clip(np.ones(3), percentile=100),
        lambda: ng.bitcrush(np.ones(3), bit_depth=0),
        lambda: ng.bitcrush(np.ones(3), bit_depth=2.5),
        lambda: ng.time_mask(np.ones(3), start_s=-1, duration_s=0.1, sample_rate=SR),
        lambda: ng.gain(np.ones(3), gain_db=1, backend="gpu"),
    ],
)
def test_bad_arguments(call):
    with pytest.raises(ng.ParameterError):
        call()


def test_cuda_backend_refused_without_cuda():
    from noisegen._core.backend import cuda_available

    if cuda_available():
        pytest.skip("CUDA works here: backend='cuda' is tested in tests/test_cuda.py")
    with pytest.raises(ng.BackendError):
        ng.gain(np.ones(3), gain_db=0, backend="cuda")


EFFECTS = ["mix_at_snr", "gain", "clip", "bitcrush", "time_mask", "time_stretch", "pitch_shift", "speed", "resample",
           "convolve_rir", "lowpass", "highpass", "bandpass", "bandstop", "peaking_eq", "low_shelf", "high_shelf",
           "codec", "packet_loss", "simulate_rir", "simulate_rirs", "babble"]


@pytest.mark.parametrize("name", EFFECTS)
def test_every_effect_takes_backend_auto(name):
    import inspect

    assert inspect.signature(getattr(ng, name)).parameters["backend"].default == "auto"


@pytest.mark.parametrize("call", [
    lambda b: ng.codec(np.ones(160), sample_rate=8000, format="mulaw", backend=b),
    lambda b: ng.packet_loss(np.ones(160), sample_rate=8000, loss_rate=0.5, rng=0, backend=b),
    lambda b: ng.babble([np.sin(np.arange(400.0))], 2, n_samples=160, rng=0, backend=b),
    lambda b: ng.simulate_rir(sample_rate=8000, room_dim_m=[3, 3, 3], source_m=[1, 1, 1], mic_m=[2, 2, 2],
                              rt60_s=0.2, rng=0, backend=b)[0, :160],
    lambda b: ng.simulate_rirs(sample_rate=8000, room_dim_m=[[3, 3, 3]], source_m=[1, 1, 1], mic_m=[2, 2, 2],
                               rt60_s=0.2, rng=0, backend=b)[0, 0, :160],
])
def test_cpu_only_effects_take_cpu_and_refuse_cuda(call):
    assert call("cpu").shape == call("auto").shape == (160,)
    with pytest.raises(ng.BackendError):
        call("cuda")
    with pytest.raises(ng.ParameterError, match="backend"):
        call("gpu")


# ----------------------------------------------------------------------------- extreme but finite inputs
# Every effect, on a grid of finite inputs near the edges of each dtype's range:
# the output is finite, or ParameterError says the result overflowed. Never
# NaN/inf, and never all zeros for a non-zero input (bitcrush excepted: it
# rounds tiny samples to its grid, which is zero).

EXTREME_PEAKS = {
    # max, near max, large, small, min normal, denormal
    np.float32: [float(np.finfo(np.float32).max), 3.3e38, 1e30, 1e-30, 1.2e-38, 1e-40],
    np.float64: [float(np.finfo(np.float64).max), 1.7e308, 1e200, 1e-200, 2.3e-308, 1e-310],
}


def _mono_noise(n, seed):
    u = np.random.default_rng(seed).standard_normal(n)
    return u / np.max(np.abs(u))


EFFECTS = {
    "gain+120": lambda y: ng.gain(y, gain_db=120.0),
    "gain-6": lambda y: ng.gain(y, gain_db=-6.0),
    "clip": lambda y: ng.clip(y, threshold=1.0),
    "bitcrush": lambda y: ng.bitcrush(y, bit_depth=16),
    "time_mask": lambda y: ng.time_mask(y, start_s=0.01, duration_s=0.02, sample_rate=SR),
    "mix_at_snr-100": lambda y: ng.mix_at_snr(y, y[..., ::-1].copy(), snr_db=-100.0),
    "mix_at_snr+30": lambda y: ng.mix_at_snr(y, y[..., ::-1].copy(), snr_db=30.0),
    "mix_at_snr-None": lambda y: ng.mix_at_snr(y, y[..., ::-1].copy(), snr_db=None),
    "add_background_noises": lambda y: ng.add_background_noises(y, [y[..., ::-1].copy()], snr_db=-100.0),
    "add_short_noises": lambda y: ng.add_short_noises(y, [y[..., :500].copy()], sample_rate=SR, min_snr_db=-100.0,
                                                      max_snr_db=-90.0, min_time_between_s=0.01,
                                                      max_time_between_s=0.02, rng=0),
    "lowpass": lambda y: ng.lowpass(y, cutoff_hz=1000.0, sample_rate=SR, order=8),
    "highpass": lambda y: ng.highpass(y, cutoff_hz=100.0, sample_rate=SR),
    "bandpass": lambda y: ng.bandpass(y, low_hz=300.0, high_hz=3400.0, sample_rate=SR),
    "bandstop": lambda y: ng.bandstop(y, low_hz=300.0, high_hz=3400.0, sample_rate=SR),
    "peaking_eq": lambda y: ng.peaking_eq(y, center_hz=1000.0, gain_db=24.0, q=2.0, sample_rate=SR),
    "low_shelf": lambda y: ng.low_shelf(y, cutoff_hz=500.0, gain_db=12.0, sample_rate=SR),
    "high_shelf": lambda y: ng.high_shelf(y, cutoff_hz=500.0, gain_db=-12.0, sample_rate=SR),
    "resample_up": lambda y: ng.resample(y, orig_sample_rate=16000, target_sample_rate=44100),
    "resample_down": lambda y: ng.resample(y, orig_sample_rate=16000, target_sample_rate=8000),
    "speed": lambda y: ng.speed(y, factor=1.1, sample_rate=SR),
    "convolve_rir": lambda y: ng.convolve_rir(y, _mono_noise(200, 5) * np.exp(-np.arange(200) / 40.0)),
    "convolve_rir_raw": lambda y: ng.convolve_rir(y, 0.5 * _mono_noise(200, 5), normalize=None),
    "time_stretch": lambda y: ng.time_stretch(y, rate=1.3, sample_rate=SR),
    "time_stretch_pvoc": lambda y: ng.time_stretch(y, rate=0.7, sample_rate=SR, method="phase_vocoder"),
    "pitch_shift_up": lambda y: ng.pitch_shift(y, n_steps=3, sample_rate=SR),
    "pitch_shift_down": lambda y: ng.pitch_shift(y, n_steps=-3, sample_rate=SR),
}


@pytest.mark.parametrize("name", sorted(EFFECTS))
def test_extreme_finite_inputs_give_finite_output_or_an_overflow_error(name):
    fn = EFFECTS[name]
    for dtype, peaks in EXTREME_PEAKS.items():
        for peak in peaks:
            u = _mono_noise(4000, 1)
            square = np.sign(np.sin(2 * np.pi * 210.0 * (np.arange(4000) + 0.5) / SR))  # band-limiting overshoots
            for x in (u, square, np.stack([u, square])):
                y = (x * peak).astype(dtype)
                what = f"{name} {np.dtype(dtype).name} peak={peak:g} shape={y.shape}"
                with warnings.catch_warnings():
                    warnings.simplefilter("error", RuntimeWarning)  # no numpy overflow warning either
                    warnings.simplefilter("ignore", ng.NoisegenWarning)
                    try:
                        out = fn(y)
                    except ng.ParameterError as err:
                        assert "overflow" in str(err) or "underflow" in str(err), what
                        continue
                assert np.isfinite(out).all(), what
                if name != "bitcrush":
                    assert np.any(out), what + ": all zeros"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gain_is_numpys_product_for_every_layout(dtype):
    rng = np.random.default_rng(5)
    base = rng.standard_normal((3, 2001)).astype(dtype)
    for y in (base, base[1], base[:, ::3], np.asfortranarray(base), base[:, :0], base[0, :1]):
        for g in (-120.0, -7.3, 0.0, 4.25, 120.0):
            out = ng.gain(y, gain_db=g)
            assert out.dtype == dtype and out.shape == y.shape
            np.testing.assert_array_equal(out, y * dtype(np.power(10.0, g / 20.0)))  # (numpy 1.x's power: not **)


def test_gain_of_samples_whose_sum_overflows_is_not_an_error():
    # every output is finite, though their float32 sum (the kernel's finiteness check) is not
    y = np.full(64, 3e38, np.float32)
    np.testing.assert_array_equal(ng.gain(y, gain_db=0.5), y * np.float32(10 ** (0.5 / 20)))
    with pytest.raises(ng.ParameterError, match="y must be finite, got 1 NaN/inf"):
        ng.gain(np.r_[y, np.float32(np.inf)], gain_db=-6.0)


def test_gain_overflow_names_the_argument_and_the_peak():
    with pytest.raises(ng.ParameterError, match=r"gain_db=120 overflows float32 for this input \(peak 1e\+38\)"):
        ng.gain(np.full(10, 1e38, np.float32), gain_db=120)
    # the same gain on float64 is representable
    assert np.isfinite(ng.gain(np.full(10, 1e38), gain_db=120)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bitcrush_keeps_huge_samples_that_are_on_the_grid_already(dtype):
    big = np.finfo(dtype).max / 2
    y = np.array([[big, 0.3, -big], [0.1, -big, 0.7]], dtype=dtype)
    out = ng.bitcrush(y, bit_depth=32)
    assert out[0, 0] == big and out[1, 1] == -big
    small = np.array([y[0, 1], y[1, 0], y[1, 2]])
    np.testing.assert_array_equal([out[0, 1], out[1, 0], out[1, 2]], np.round(small * 2.0**31) / 2.0**31)


def _bitcrush_twin(y, bits):
    """NumPy's expression of a bit crush (the one bitcrush computed before its one-pass kernel)."""
    scale = y.dtype.type(2.0 ** (bits - 1))
    with np.errstate(over="ignore", invalid="ignore"):
        out = (np.round(y * scale) / scale).astype(y.dtype, copy=False)
    bad = ~np.isfinite(out)  # y * scale overflowed: kept as it is
    out[bad] = y[bad]
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bitcrush_kernel_gives_numpys_rounding_bit_for_bit(dtype):
    """The one-pass kernel against NumPy's expression: every depth, halves (to even), signed zeros,
    subnormals, samples whose product overflows, every layout and length."""
    rng = np.random.default_rng(11)
    info = np.finfo(dtype)
    odd = np.array([0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1.0, -1.0, info.tiny, -info.tiny, info.smallest_subnormal,
                    info.max, -info.max, info.max / 2**20, 3.0 * 2.0**-33, -(2.0**-32)], dtype=dtype)
    base = np.concatenate([odd, (rng.standard_normal(300) * 10.0 ** rng.uniform(-12, 3, 300)).astype(dtype)])
    rows = np.stack([base, base[::-1], -base])
    for bits in range(1, 33):
        for y in (base, base[:1], base[:2], base[:0], rows, np.asfortranarray(rows), rows[:, ::3], rows[..., ::-1]):
            got, want = ng.bitcrush(y, bit_depth=bits), _bitcrush_twin(y, bits)
            assert got.dtype == dtype and got.shape == y.shape and got.tobytes() == want.tobytes(), bits


def _time_mask_twin(y, start, length, fade):
    """NumPy's time mask (the one time_mask computed before its kernel): the whole window, then a product."""
    out = y.copy()
    keep = min(start + length, y.shape[-1]) - start
    if keep <= 0:
        return out
    fade = min(fade, length // 2)
    w = np.zeros(keep)
    if fade:
        ramp = 0.5 + 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
        w[:fade] = ramp[:keep]
        if length - fade < keep:
            w[length - fade:] = ramp[::-1][: keep - (length - fade)]
    out[..., start:start + keep] *= w.astype(y.dtype)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cached", [True, False])
def test_time_mask_kernel_gives_numpys_window_bit_for_bit(dtype, cached, monkeypatch):
    """The in-place kernel and the ramp made only where it lands, against the whole window's product:
    every start, length and fade around the edges (fades longer than half the stretch, stretches past
    the end), signed zeros kept, with the cached ramp and the one made for a long fade."""
    import noisegen.effects.level as level
    if not cached:
        monkeypatch.setattr(level, "_CACHED_FADE", 0)
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 7, 40):
        rows = rng.standard_normal((2, n)).astype(dtype)
        for start in range(n + 2):
            for length in sorted({0, 1, 2, 3, 5, n // 2, n - start, n, 2 * n + 1} - {-1}):
                for fade in (0, 1, 2, 3, 4, 9, 100):
                    for y in (rows, rows[1], np.asfortranarray(rows)):
                        got = ng.time_mask(y, start_s=start, duration_s=length, fade_s=fade, sample_rate=1)
                        want = _time_mask_twin(y, start, length, fade)
                        assert got.dtype == dtype and got.tobytes() == want.tobytes(), (n, start, length, fade)


def test_time_mask_makes_only_the_window_inside_the_signal():
    """A fade of 2**22 samples on a 100-sample input built its whole ramp (32 MiB and its temporaries);
    only the samples that land on the input are made now."""
    import tracemalloc
    y = np.ones(100, np.float32)
    tracemalloc.start()
    try:
        out = ng.time_mask(y, start_s=0.0, duration_s=2**23, fade_s=2**22, sample_rate=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    want = (0.5 + 0.5 * np.cos(np.pi * (np.arange(100) + 0.5) / 2**22)).astype(np.float32)
    assert out.tobytes() == want.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("written", [True, False])
def test_clip_percentile_level_is_numpys_percentile_bit_for_bit(dtype, written, monkeypatch):
    """The level from one partition and the interpolation of the two order statistics around the rank
    (written out, or np.quantile's where the installed NumPy interpolates otherwise), against np.percentile
    of |y| (which partitioned at four ranks, 7-10x slower): every length from 1, ties, signed zeros, huge and
    subnormal samples, ranks landing on a sample and between two, 0 and 99.999 %."""
    import noisegen.effects.level as level
    from noisegen.effects.level import _magnitude_percentile
    assert level._lerp_as_written(np.dtype(dtype)) or not written  # (NumPy 2 interpolates as written)
    if not written:
        monkeypatch.setattr(level, "_lerp_as_written", lambda dtype: False)
    rng = np.random.default_rng(12)
    info = np.finfo(dtype)
    for n in (1, 2, 3, 4, 5, 8, 17, 100, 1001):
        for kind in ("normal", "ties", "wide"):
            if kind == "normal":
                y = rng.standard_normal(n)
            elif kind == "ties":
                y = rng.integers(-3, 4, n) * 0.25
            else:
                y = rng.choice([0.0, -0.0, info.max, -info.max, info.tiny, info.smallest_subnormal, 1.0], n)
            y = y.astype(dtype)
            for shape in ((n,), (1, n)) if n % 2 else ((n,), (2, n // 2)):
                v = y.reshape(shape)
                for q in (100.0, 100.0 - 99.999, 0.5, 25.0, 33.3, 50.0, 60.0, 75.0, 99.0,
                          *rng.uniform(0, 100, 8).tolist()):  # (Python floats, as clip passes its own)
                    want = float(np.percentile(np.abs(v), q))
                    assert _magnitude_percentile(v, q) == want, (n, kind, q)
                    level = float(np.percentile(np.abs(v), 100.0 - (100.0 - q)))  # (what clip's percentile asks)
                    got = ng.clip(v, percentile=100.0 - q)
                    assert got.tobytes() == np.clip(v, -level, level).astype(dtype).tobytes()
