"""The transforms users of audiomentations look for (issue 16.3), each against its definition:
Shift, PolarityInversion, Normalize, Resample, BitCrush, LowShelf, HighShelf,
ApplyImpulseResponse(keep_tail=True) and AddBackgroundNoise's folder lists,
absolute level and noise_transform."""

from __future__ import annotations

import json
import math
import os
import warnings

import numpy as np
import pytest
import scipy.signal

import noisegen
from noisegen import NoisegenWarning, ParameterError
from noisegen._core.units import seconds_to_samples
from noisegen.audio.io import audio_files
from noisegen.transforms.apply_impulse_response import trimmed_length
from noisegen.transforms import (
    AddBackgroundNoise,
    ApplyImpulseResponse,
    BitCrush,
    Compose,
    Gain,
    HighShelf,
    LowPassFilter,
    LowShelf,
    Normalize,
    PolarityInversion,
    Resample,
    Shift,
    Transform,
)

SR = 16000
DTYPES = [np.float32, np.float64]
SHAPES = [(240,), (2, 240)]


def _signal(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _db(x):
    return 20.0 * np.log10(x)


def _rms(x):
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


# -- Shift ------------------------------------------------------------------------------------


def _zero_filled_roll(y, k):
    out = np.zeros_like(y)
    n = y.shape[-1]
    if 0 <= k < n:
        out[..., k:] = y[..., : n - k]
    elif -n < k < 0:
        out[..., : n + k] = y[..., -k:]
    return out


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("rollover", [True, False], ids=["roll", "zeros"])
def test_shift_is_roll_or_zero_filled_roll(rollover, shape, dtype):
    y = _signal(shape, dtype)
    n = shape[-1]
    for k in (-n - 3, -n, -n + 1, -101, -1, 0, 1, 37, n - 1, n, n + 5):
        t = Shift(min_shift=k, max_shift=k, shift_unit="samples", rollover=rollover, fade_s=0.0, p=1.0)
        out = t(y, sample_rate=SR, rng=k + 1000)
        expected = np.roll(y, k, axis=-1) if rollover else _zero_filled_roll(y, k)
        assert out.dtype == dtype and out.shape == y.shape
        assert np.array_equal(out, expected), k
        assert t.last_params["shift_samples"] == k
        assert np.array_equal(t.apply_params(y, sample_rate=SR, params=t.last_params), out)


@pytest.mark.parametrize("unit, value, samples", [
    ("fraction", 0.25, 60), ("fraction", -0.5, -120), ("fraction", 1.0, 240), ("fraction", -1.0, -240),
    ("fraction", 0.0, 0), ("seconds", 0.001, 16), ("seconds", -0.0025, -40), ("samples", -7, -7),
])
def test_shift_units_convert_to_whole_samples(unit, value, samples):
    y = _signal((2, 240), np.float64)
    t = Shift(min_shift=value, max_shift=value, shift_unit=unit, fade_s=0.0, p=1.0)
    out = t(y, sample_rate=SR, rng=0)
    assert t.last_params["shift_samples"] == samples
    assert np.array_equal(out, np.roll(y, samples, axis=-1))


def test_shift_draws_cover_the_range_in_whole_samples():
    t = Shift(min_shift=-5, max_shift=5, shift_unit="samples", p=1.0)
    gen = np.random.default_rng(0)
    seen = set()
    for _ in range(300):
        t(np.ones(50), sample_rate=SR, rng=gen)
        seen.add(t.last_params["shift_samples"])
    assert seen == set(range(-5, 6))


@pytest.mark.parametrize("rollover", [True, False], ids=["roll", "zeros"])
@pytest.mark.parametrize("k", [-150, -3, 3, 100, 237])
def test_shift_fade_only_touches_the_edges(rollover, k):
    y = np.ones((2, 240))
    fade = 8
    t = Shift(min_shift=k, max_shift=k, shift_unit="samples", rollover=rollover, fade_s=fade / SR, p=1.0)
    out = t(y, sample_rate=SR, rng=0)
    plain = np.roll(y, k, axis=-1) if rollover else _zero_filled_roll(y, k)
    changed = np.flatnonzero(out[0] != plain[0])
    seam = k % 240 if (rollover or k > 0) else 240 + k
    assert changed.size > 0 and np.all(np.abs(changed - seam) <= fade)
    assert np.all((out >= 0) & (out <= plain)) and np.array_equal(out[0], out[1])
    assert np.max(np.abs(np.diff(out[0]))) < 0.25  # ramps, no jump


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("rollover", [True, False], ids=["roll", "zeros"])
@pytest.mark.parametrize("fade", [1, 2, 8, 300])
def test_shift_fade_keeps_its_slope_next_to_the_edges(rollover, fade, dtype):
    # every shift, those within a fade of either end too: audio shorter than the fade on its side of the
    # seam takes the part of the full ramp next to the seam, so no step exceeds the ramp's steepest one
    n = 40
    y = np.ones((2, n), dtype=dtype)
    t = Shift(min_shift=-n, max_shift=n, shift_unit="samples", rollover=rollover, fade_s=fade / SR, p=1.0)
    steepest = np.sin(np.pi / (2 * fade)) + 1e-6  # largest step between raised-cosine samples 1/fade apart
    for k in range(-n - 1, n + 2):
        out = t.apply_params(y, {"name": "Shift", "applied": True, "shift_samples": k}, sample_rate=SR)
        plain = np.roll(y, k, axis=-1) if rollover else _zero_filled_roll(y, k)
        assert out.dtype == dtype and np.all((out >= 0) & (out <= plain)), k
        assert np.max(np.abs(np.diff(out, axis=-1))) <= steepest, k
        seam = k % n if (rollover or k > 0) else n + k
        if 0 < seam < n and (rollover or abs(k) < n):
            # the fade's gain at distance d from the seam is the ramp's, whatever the other side's length
            d = np.arange(1, n + 1)
            gain = 0.5 - 0.5 * np.cos(np.pi * (np.minimum(d, fade) - 0.5) / fade)
            if rollover or k > 0:
                after = min(n - seam, fade)
                assert np.allclose(out[0, seam: seam + after], gain[:after], atol=1e-6), k
            if rollover or k < 0:
                before = min(seam, fade)
                assert np.allclose(out[0, seam - before: seam][::-1], gain[:before], atol=1e-6), k


def _shift_twin(y, k, rollover, fade):
    """Shift's samples as np.roll (or the zero-filled roll) and a ramp made for each edge (its old code)."""
    n = y.shape[-1]
    out = np.roll(y, k % n, axis=-1) if rollover else _zero_filled_roll(y, k)
    k = k % n if rollover else k
    edges = ([(k, True), (k, False)] if k else []) if rollover else (
        [(k, True)] if 0 < k < n else [(n + k, False)] if -n < k < 0 else [])
    for at, fade_in in edges:
        length = min(fade, n - at if fade_in else at)
        if length > 0:
            ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(length) + 0.5) / fade)).astype(y.dtype)
            if fade_in:
                out[..., at: at + length] *= ramp
            else:
                out[..., at - length: at] *= ramp[::-1]
    return out


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("rollover", [True, False], ids=["roll", "zeros"])
def test_shift_moves_without_np_roll_and_makes_a_fade_once(rollover, dtype, monkeypatch):
    """Shift took 65 us a 1 s call, 10 of them np.roll's and more a ramp made (seven NumPy ops) for each
    edge of every call: it moves the samples by slices and keeps the ramp of a fade (one made in part for
    a fade past 2**14 samples). The samples are the old ones bit for bit, every layout and edge."""
    rng = np.random.default_rng(4)
    for n, fade in ((1, 3), (2, 3), (5, 3), (40, 7), (40, 40), (300, 2**14 + 5)):
        rows = rng.standard_normal((2, n)).astype(dtype)
        t = Shift(min_shift=-n, max_shift=n, shift_unit="samples", rollover=rollover, fade_s=fade / SR, p=1.0)
        for y in (rows, rows[0], np.asfortranarray(rows), rows[:, ::-1]):
            for k in sorted({-n - 1, -n, -n + 1, -fade, -1, 0, 1, 2, fade, n - 1, n, n + 1, 3 * n + 2}):
                out = t.apply_params(y, {"name": "Shift", "applied": True, "shift_samples": k}, sample_rate=SR)
                assert out.dtype == dtype and out.tobytes() == _shift_twin(y, k, rollover, fade).tobytes(), (n, k)
    y = rows[:, :200]
    t = Shift(min_shift=-0.5, max_shift=0.5, fade_s=0.004, rollover=rollover, p=1.0)
    t(y, sample_rate=SR, rng=0)  # (the ramp of this fade made, if no earlier test made it)
    made = []
    monkeypatch.setattr(np, "roll", lambda *a, **k: pytest.fail("np.roll"))
    monkeypatch.setattr(np, "cos", lambda *a, _cos=np.cos, **k: made.append(1) or _cos(*a, **k))
    for seed in range(5):
        t(y, sample_rate=SR, rng=seed)
    assert not made


def test_shift_rejects_bad_arguments():
    for kwargs, name in [({"shift_unit": "ms"}, "shift_unit"), ({"min_shift": 0.6, "max_shift": 0.5}, "min_shift"),
                         ({"min_shift": -1.5}, "min_shift"), ({"rollover": 1}, "rollover"),
                         ({"min_shift": 0.5, "max_shift": 2, "shift_unit": "samples"}, "min_shift"),
                         ({"fade_s": -0.1}, "fade_s")]:
        with pytest.raises(ParameterError, match=name):
            Shift(**kwargs)


# -- PolarityInversion ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(1,), (999,), (3, 50)], ids=str)
def test_polarity_inversion_is_exactly_minus_y(shape, dtype):
    y = _signal(shape, dtype)
    t = PolarityInversion(p=1.0)
    out = t(y, sample_rate=SR, rng=0)
    assert out.dtype == dtype and np.array_equal(out, -y) and out is not y
    assert t.last_params == {"name": "PolarityInversion", "applied": True}
    assert np.array_equal(t.apply_params(y, sample_rate=SR, params=t.last_params), -y)


# -- Normalize --------------------------------------------------------------------------------


def _normalize_twin(y, mode, target_db):
    """Normalize's samples as NumPy computed them: the peak of |y|, then float64 temporaries."""
    peak = float(np.max(np.abs(y)))
    rel = 1.0 if mode == "peak" else math.sqrt(float(np.mean((y.astype(np.float64, order="C") / peak) ** 2)))
    current = peak * rel
    scaled = y.astype(np.float64) / current if current >= np.finfo(np.float64).tiny else y.astype(np.float64) / peak / rel
    return (scaled * 10.0 ** (target_db / 20.0)).astype(y.dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("mode", ["peak", "rms"])
def test_normalize_measures_and_scales_in_one_pass_each(mode, dtype, monkeypatch):
    """Normalize took 41 us a 1 s call: |y| and its maximum, then three float64 temporaries (a cast, a
    quotient, a product) and a cast back. The peak is one pass now and the scaling another, with the samples
    of the NumPy expression bit for bit: levels from subnormal (two divisions) to huge, every layout."""
    rng = np.random.default_rng(9)
    tiny = np.finfo(dtype).smallest_subnormal
    rows = [rng.standard_normal((2, 301)), np.array([[0.0, -0.0, 5.0, -7.0]]), np.full((1, 3), 1e-300)]
    for base in rows:
        for level in (tiny, tiny * 3, 1e-30, 1.0, 3e30, np.finfo(dtype).max / 8):
            if level == tiny * 3 and dtype == np.float32:
                level = 1e-44
            y = (base * level).astype(dtype)
            if not np.any(y):
                continue
            t = Normalize(mode=mode, min_target_db=-120, max_target_db=60, p=1.0)
            for v in (y, y[0], np.asfortranarray(y), y[:, ::-2]):
                for target in (-120.0, -3.3, 0.0, 60.0):
                    params = {"name": "Normalize", "applied": True, "target_db": target}
                    with np.errstate(over="ignore"):  # (the twin's cast of a 60 dB product of a huge level)
                        want = _normalize_twin(v, mode, target)
                    out = t.apply_params(v, params, sample_rate=SR)
                    assert out.dtype == dtype and out.tobytes() == want.tobytes(), (level, target)
                    assert out.flags.f_contiguous == want.flags.f_contiguous
    monkeypatch.setattr(np, "abs", lambda *a, **k: pytest.fail("|y| made"))
    Normalize(mode="peak", p=1.0)(rows[0].astype(dtype), sample_rate=SR, rng=0)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(1000,), (2, 1000)], ids=str)
@pytest.mark.parametrize("mode", ["peak", "rms"])
def test_normalize_hits_its_target(mode, shape, dtype):
    for scale in (1e-3, 0.3, 40.0):
        y = (_signal(shape, dtype) * scale).astype(dtype)
        if len(shape) == 2:
            y[1] *= 0.1  # unbalanced channels: one factor for both keeps the balance
        for target in (-60.0, -23.5, -3.0, 0.0, 6.0):
            t = Normalize(mode=mode, min_target_db=target, max_target_db=target, p=1.0)
            out = t(y, sample_rate=SR, rng=0)
            level = np.max(np.abs(out.astype(np.float64))) if mode == "peak" else _rms(out)
            assert out.dtype == dtype and out.shape == y.shape
            assert abs(_db(level) - target) < 0.01, (scale, target)
            ratio = out.astype(np.float64) / y
            assert np.allclose(ratio, ratio.flat[0], rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_normalize_rms_of_any_memory_layout_is_that_of_a_copy(dtype):
    """A Fortran-order stereo input was summed in its memory's order: an ulp from the output of a
    C-order copy (a replay on a copy was not bit-identical; peers4)."""
    t = Normalize(mode="rms", min_target_db=-30, max_target_db=-10, p=1.0)
    y = np.asfortranarray(np.random.default_rng(0).standard_normal((2, 100_000)).astype(dtype))
    for view in (y, y[:, ::-1], y[:, ::3]):
        np.testing.assert_array_equal(t(view, sample_rate=SR, rng=5), t(np.ascontiguousarray(view), sample_rate=SR, rng=5))


def test_normalize_draws_in_range_and_survives_extreme_levels():
    t = Normalize(mode="rms", min_target_db=-30, max_target_db=-10, p=1.0)
    gen = np.random.default_rng(1)
    for y in (np.full(64, 1e-200), np.full((2, 64), 1e200), np.full(64, 1e-40, dtype=np.float32)):
        out = t(y, sample_rate=SR, rng=gen)
        target = t.last_params["target_db"]
        assert -30 <= target <= -10 and np.isfinite(out).all()
        assert abs(_db(_rms(out)) - target) < 0.01


@pytest.mark.parametrize("mode", ["peak", "rms"])
def test_normalize_leaves_silence_unchanged_with_a_warning(mode):
    y = np.zeros((2, 100), dtype=np.float32)
    with pytest.warns(NoisegenWarning, match="silent"):
        out = Normalize(mode=mode, p=1.0)(y, sample_rate=SR, rng=0)
    assert np.array_equal(out, y) and out.dtype == y.dtype


# -- Resample ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("rate", [4000, 8000, 11025, 12000])
def test_resample_round_trip_band_limits_and_keeps_length(rate, dtype):
    n = 4001
    t_s = np.arange(n) / SR
    nyquist = rate / 2
    below = np.sin(2 * np.pi * 0.8 * nyquist * t_s)
    above = np.sin(2 * np.pi * min(1.15 * nyquist, 7600.0) * t_s)
    y = np.stack([below, above]).astype(dtype)
    t = Resample(min_sample_rate=rate, max_sample_rate=rate, p=1.0)
    out = t(y, sample_rate=SR, rng=0)
    assert out.shape == y.shape and out.dtype == dtype and out.flags.c_contiguous
    inner = slice(500, n - 500)  # away from the edges, where the filters see zeros
    assert np.max(np.abs(out[0, inner] - below[inner])) < 5e-3  # survives, aligned
    assert _rms(out[1, inner]) < 1e-3  # vanishes
    assert t.last_params["intermediate_sample_rate"] == rate
    assert np.array_equal(t.apply_params(y, sample_rate=SR, params=t.last_params), out)
    mono = t(y[0], sample_rate=SR, rng=0)
    assert np.allclose(mono, out[0], atol=1e-6)


@pytest.mark.parametrize("rate", [8024, 9552, 12345])
def test_resample_at_a_rate_of_many_phases_designs_no_table_for_one_call(rate, monkeypatch):
    # A drawn rate meets a new ratio on most calls: 16 kHz -> 9,552 Hz (597/1000) had an equiripple
    # table designed for that call alone (remez and 597 rows: 0.2-3 s, MBs on disk); the legs
    # now blend the shared interpolated table's rows at the same phases.
    import noisegen._design.resample as design
    from noisegen.transforms.blockwise import apply_blockwise

    def refuse(*args, **kwargs):
        raise AssertionError("a polyphase table designed for one drawn rate")

    monkeypatch.setattr(design, "equiripple_polyphase", refuse)
    monkeypatch.setattr(design, "sampled_table", refuse)
    n = 4001
    t_s = np.arange(n) / SR
    below = np.sin(2 * np.pi * 0.85 * rate / 2 * t_s)
    above = np.sin(2 * np.pi * min(1.02 * rate / 2, 7900.0) * t_s)
    y = np.stack([below, above])
    t = Resample(min_sample_rate=rate, max_sample_rate=rate, p=1.0)
    out = t(y, sample_rate=SR, rng=0)
    inner = slice(500, n - 500)
    assert np.max(np.abs(out[0, inner] - below[inner])) < 5e-3  # pass band: kept, aligned
    assert _rms(out[1, inner]) < 1e-4  # just above the rate's Nyquist: 80 dB down
    parts = apply_blockwise(t, t.last_params, lambda: [y[:, a:a + 777] for a in range(0, n, 777)], n=n,
                            sample_rate=SR, n_channels=2, dtype=y.dtype)
    assert np.array_equal(np.concatenate(list(parts), axis=-1), out)  # the stream runs the same legs


def test_resample_at_or_above_the_call_rate_is_a_copy():
    y = _signal((2, 300), np.float32)
    t = Resample(min_sample_rate=SR, max_sample_rate=2 * SR, p=1.0)
    out = t(y, sample_rate=SR, rng=0)
    assert np.array_equal(out, y) and out is not y


def test_resample_draws_integer_rates_in_range():
    t = Resample(min_sample_rate=6000, max_sample_rate=6003, p=1.0)
    gen = np.random.default_rng(0)
    seen = {(t(np.ones(100), sample_rate=SR, rng=gen), t.last_params["intermediate_sample_rate"])[1]
            for _ in range(60)}
    assert seen == {6000, 6001, 6002, 6003}
    # below the resampler's limit (rate / 256) the draw is raised to it
    low = Resample(min_sample_rate=10, max_sample_rate=10, p=1.0)
    low(np.ones(1000), sample_rate=48000, rng=0)
    assert low.last_params["intermediate_sample_rate"] == 188


# -- BitCrush, LowShelf, HighShelf ------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_bitcrush_is_bitcrush_at_the_drawn_depth(dtype):
    y = _signal((2, 500), dtype) * 0.3
    t = BitCrush(min_bit_depth=1, max_bit_depth=16, p=1.0)
    gen = np.random.default_rng(0)
    seen = set()
    for _ in range(80):
        out = t(y, sample_rate=SR, rng=gen)
        depth = t.last_params["bit_depth"]
        seen.add(depth)
        assert out.dtype == dtype and np.array_equal(out, noisegen.bitcrush(y, bit_depth=depth))
        step = 2.0 ** -(depth - 1)
        assert np.allclose(out / step, np.round(out / step))
    assert seen == set(range(1, 17))


def test_bitcrush_checks_its_input_once(monkeypatch):
    """BitCrush checked its input (checked by the call) and the depth it drew again in noisegen.bitcrush:
    it crushes them unchecked now, as noisegen.bitcrush does."""
    import noisegen.effects.level as level
    y = _signal((2, 500), np.float32) * 0.3
    t = BitCrush(min_bit_depth=1, max_bit_depth=32, p=1.0)
    want = [noisegen.bitcrush(y, bit_depth=t.draw_params(y, sample_rate=SR, rng=seed)["bit_depth"]) for seed in range(6)]
    for name in ("check_audio", "resolve_backend", "check_int"):
        monkeypatch.setattr(level, name, lambda *a, **k: pytest.fail("checked again"))
    for seed in range(6):
        assert t(y, sample_rate=SR, rng=seed).tobytes() == want[seed].tobytes()
        assert t.apply_params(y, t.last_params, sample_rate=SR).tobytes() == want[seed].tobytes()


@pytest.mark.parametrize("cls, fn", [(LowShelf, noisegen.low_shelf), (HighShelf, noisegen.high_shelf)])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_shelves_are_the_shelf_filters_at_the_drawn_parameters(cls, fn, dtype):
    y = _signal((2, 800), dtype)
    t = cls(min_cutoff_hz=100, max_cutoff_hz=6000, min_gain_db=-12, max_gain_db=12, p=1.0)
    gen = np.random.default_rng(0)
    for _ in range(5):
        out = t(y, sample_rate=SR, rng=gen)
        params = t.last_params
        assert 100 <= params["cutoff_hz"] <= 6000 and -12 <= params["gain_db"] <= 12
        expected = fn(y, cutoff_hz=params["cutoff_hz"], gain_db=params["gain_db"], sample_rate=SR)
        assert out.dtype == dtype and np.array_equal(out, expected)


def test_shelf_gain_where_it_shelves():
    low = LowShelf(min_cutoff_hz=300, max_cutoff_hz=300, min_gain_db=-9, max_gain_db=-9, p=1.0)
    high = HighShelf(min_cutoff_hz=3000, max_cutoff_hz=3000, min_gain_db=7, max_gain_db=7, p=1.0)
    n = np.arange(16000)
    dc = np.ones(16000)
    nyq = np.cos(np.pi * n)
    assert abs(_db(abs(low(dc, sample_rate=SR, rng=0)[-1])) + 9) < 0.01
    assert abs(_db(abs(low(nyq, sample_rate=SR, rng=0)[-1]))) < 0.01
    assert abs(_db(abs(high(nyq, sample_rate=SR, rng=0)[-1])) - 7) < 0.01
    assert abs(_db(abs(high(dc, sample_rate=SR, rng=0)[-1]))) < 0.01


# -- ApplyImpulseResponse(keep_tail=True) -----------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(1,), (300,), (2, 300)], ids=str)
def test_keep_tail_is_the_full_convolution(shape, dtype):
    rng = np.random.default_rng(0)
    rirs = [rng.standard_normal(m) * np.exp(-np.arange(m) / 20.0) for m in (1, 2, 57, 700)]
    y = _signal(shape, dtype)
    n = shape[-1]
    t = ApplyImpulseResponse(rirs, keep_tail=True, p=1.0)
    short = ApplyImpulseResponse(rirs, p=1.0)
    for seed in range(12):
        out = t(y, sample_rate=SR, rng=seed)
        rir = rirs[t.last_params["rir_index"]].astype(np.float32).astype(np.float64)  # banks hold float32
        rir = rir[: trimmed_length(rir, 60.0)]  # the default trim_db: the tail 60 dB down is dropped
        unit = rir / np.sqrt(np.sum(rir**2))  # the documented normalisation: unit energy
        expected = scipy.signal.convolve(np.atleast_2d(y).astype(np.float64), unit[None, :], mode="full")
        assert out.dtype == dtype and out.shape == shape[:-1] + (n + len(rir) - 1,)
        tol = 1e-4 if dtype == np.float32 else 1e-10
        assert np.allclose(np.atleast_2d(out), expected, atol=tol, rtol=tol)
        same = short(y, sample_rate=SR, rng=seed)  # the default keeps today's length: the head of it
        assert same.shape == y.shape and np.allclose(same, out[..., :n], atol=tol, rtol=tol)
        assert np.array_equal(t.apply_params(y, sample_rate=SR, params=t.last_params), out)


@pytest.mark.parametrize("trim_db", [20.0, 40.0, 60.0, 90.0])
def test_trim_db_drops_only_the_decayed_tail(trim_db):
    # Responses with a long silent or noise-floor tail: the cut sits where the remaining energy
    # falls trim_db below the total, and the output differs from the untrimmed one by about that much.
    rng = np.random.default_rng(3)
    decay = np.exp(-np.arange(8000) / 400.0)
    rirs = [np.r_[np.zeros(30), 1.0, 0.5 * rng.standard_normal(7999) * decay[1:]],
            np.r_[1.0, 0.3 * rng.standard_normal(2999) * decay[1:3000], np.zeros(5000)]]
    y = _signal((2, 6000), np.float64)
    whole = ApplyImpulseResponse(rirs, keep_tail=True, trim_db=None, p=1.0)
    trimmed = ApplyImpulseResponse(rirs, keep_tail=True, trim_db=trim_db, p=1.0)
    for index, h in enumerate(rirs):
        kept = trimmed_length(h.astype(np.float32), trim_db)
        rest = np.sum(h[kept:].astype(np.float64) ** 2) / np.sum(h.astype(np.float64) ** 2)
        before = np.sum(h[kept - 1:].astype(np.float64) ** 2) / np.sum(h.astype(np.float64) ** 2)
        assert rest <= 10 ** (-trim_db / 10) < before  # the first sample where the rest is that far down
        params = {"name": "ApplyImpulseResponse", "applied": True, "rir_index": index}
        a = whole.apply_params(y, params, sample_rate=SR)
        b = trimmed.apply_params(y, params, sample_rate=SR)
        assert b.shape[-1] == y.shape[-1] + kept - 1
        err = np.sum((a[:, : b.shape[-1]] - b) ** 2) + np.sum(a[:, b.shape[-1]:] ** 2)
        assert err <= 30 * 10 ** (-trim_db / 10) * np.sum(a**2)  # a few times the dropped energy share
    assert ApplyImpulseResponse(rirs, p=1.0).trim_db == 60.0
    config = ApplyImpulseResponse("simulated", trim_db=40.0).to_dict()
    assert config["trim_db"] == 40.0 and noisegen.Transform.from_dict(config).trim_db == 40.0
    with pytest.raises(ParameterError, match="trim_db"):
        ApplyImpulseResponse(rirs, trim_db=-3.0)


@pytest.mark.parametrize("sample_rate", [8000, 16000, 48000])
@pytest.mark.parametrize("floor_db", [-40.0, -60.0, -80.0])
@pytest.mark.parametrize("rt60", [0.2, 0.6])
def test_trim_stops_where_the_decay_meets_the_noise_floor(sample_rate, floor_db, rt60):
    # A measured response: a decay into seconds of flat noise. Its cut keeps every 10 ms window
    # more than 6 dB above the floor, drops only windows within it, and lands within 25 ms of
    # where the decay's expected level meets floor + 6 dB (the EDC alone keeps the noise).
    rng = np.random.default_rng(int(sample_rate + rt60 * 10 - floor_db))
    n = 3 * sample_rate
    t = np.arange(n) / sample_rate
    floor = 10 ** (floor_db / 20)
    h = rng.standard_normal(n) * (10 ** (-3 * t / rt60) + floor)
    h[0] = 30.0  # the direct path
    kept = trimmed_length(h, 300.0, sample_rate)  # the floor alone (no energy criterion)
    w = round(0.01 * sample_rate)
    level = np.mean(h[: n // w * w].reshape(-1, w) ** 2, axis=1)
    assert kept % w == 0 and np.all(level[kept // w:] <= 4 * floor**2 * 1.5)
    crossing = rt60 / 3 * (-np.log10(10 ** (6 / 20) * floor - floor))  # decay level = floor + 6 dB
    assert abs(kept / sample_rate - crossing) < 0.025
    assert kept < trimmed_length(h, 300.0) == n
    assert trimmed_length(h, 60.0, sample_rate) == min(kept, trimmed_length(h, 60.0))  # the earlier cut
    assert kept == trimmed_length(h.astype(np.float32), 300.0, sample_rate)


@pytest.mark.parametrize("sample_rate", [8000, 16000, 48000])
def test_trim_keeps_responses_without_a_noise_floor(sample_rate):
    # No flat floor: a clean decay, one cut off while still decaying, trailing zeros, white noise,
    # and a floor broken by a late echo (kept): the cut is the energy criterion's alone.
    rng = np.random.default_rng(sample_rate)
    n = 2 * sample_rate
    t = np.arange(n) / sample_rate
    clean = rng.standard_normal(n) * 10 ** (-3 * t / 0.5)
    cut_short = rng.standard_normal(n) * 10 ** (-3 * t / 4.0)
    zeros = np.r_[clean[: n // 2], np.zeros(n // 2)]
    white = rng.standard_normal(n)
    # recorded shorter than its decay (0.3 s of a 2 s RT60) with the direct sound 10 dB above the rest:
    # it falls under 1 dB a tenth, as a floor does, but as fast as before; all of it is reverberation
    m = round(0.3 * sample_rate)
    short = rng.standard_normal(m) * 10 ** (-3 * t[:m] / 2.0)
    short[0] = np.sqrt(10 * np.sum(short[1:] ** 2))
    for h in (clean, cut_short, zeros, white, short):
        assert trimmed_length(h, 60.0, sample_rate) == trimmed_length(h, 60.0)
    assert trimmed_length(short, 300.0, sample_rate) == m
    echo = rng.standard_normal(n) * (10 ** (-3 * t / 0.2) + 1e-3)
    echo[int(1.5 * sample_rate)] = 0.5
    assert trimmed_length(echo, 60.0, sample_rate) > 1.5 * sample_rate


def test_trim_keeps_low_reverb_under_a_high_noise_floor():
    # A church recorded at 48 kHz with hiss: the low frequencies ring for 1.5 s, the highs die in
    # 0.3 s into a flat floor (above 16 kHz) 40 dB down. The whole band levels off at that floor by
    # 0.8 s, but below 4 kHz, where speech is, the reverberation still decays for another second:
    # only the energy criterion cuts it. (St Margaret's Church of the shared data at 48 kHz was cut
    # at 0.91 s, dropping 1e-4 of its energy below 4 kHz, 1.7 % of reverberant speech; at 16 kHz,
    # without the hiss, it kept 1.71 s.)
    sample_rate = 48000
    rng = np.random.default_rng(1)
    n = 2 * sample_rate
    t = np.arange(n) / sample_rate
    low = scipy.signal.sosfilt(scipy.signal.butter(8, 500, fs=sample_rate, output="sos"), rng.standard_normal(n))
    high = scipy.signal.sosfilt(scipy.signal.butter(8, 16000, "highpass", fs=sample_rate, output="sos"),
                                rng.standard_normal(n))
    h = low * 10 ** (-3 * t / 1.5) + high * (10 ** (-3 * t / 0.3) + 1e-2)
    h[0] = 3.0  # the direct path
    assert trimmed_length(h, 60.0, sample_rate) == trimmed_length(h, 60.0) > 1.9 * sample_rate
    hiss = low * 10 ** (-3 * t / 0.3) + high * (10 ** (-3 * t / 0.3) + 1e-2)  # no low ringing: cut at the floor
    hiss[0] = 3.0
    assert trimmed_length(hiss, 60.0, sample_rate) < 0.5 * sample_rate


def test_keep_tail_with_recorded_and_simulated_rooms(data_dir):
    y = _signal(4000, np.float32)
    for rir in (data_dir / "rir", {"name": "RoomSimulator", "min_rt60_s": 0.2, "max_rt60_s": 0.3, "p": 1.0}):
        t = ApplyImpulseResponse(rir, keep_tail=True, p=1.0)
        out = t(y, sample_rate=SR, rng=3)
        plain = ApplyImpulseResponse(rir, p=1.0)
        head = plain(y, sample_rate=SR, rng=3)
        assert out.shape[0] > y.shape[0] and np.allclose(out[: y.shape[0]], head, atol=1e-5)
        assert t.last_params == plain.last_params


# -- AddBackgroundNoise: folders and files, absolute level, noise_transform -------------------


def _write(path, seconds, seed, sample_rate=SR):
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.random.default_rng(seed).uniform(-0.5, 0.5, int(seconds * sample_rate)), sample_rate)
    return path


def test_background_noise_takes_a_list_of_folders_and_files(tmp_path):
    a = [_write(tmp_path / "a" / f"{i}.wav", 0.1, i) for i in range(2)]
    b = [_write(tmp_path / "b" / "deep" / f"{i}.wav", 0.1, 10 + i) for i in range(3)]
    lone = _write(tmp_path / "lone.wav", 0.1, 20)
    source = [tmp_path / "a", str(lone), tmp_path / "b"]
    t = AddBackgroundNoise(source, p=1.0)
    expected = audio_files(tmp_path / "a") + [str(lone)] + audio_files(tmp_path / "b")
    assert len(expected) == len(a) + len(b) + 1
    assert t._bank(SR).paths == expected
    gen = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        t(_signal(800, np.float32), sample_rate=SR, rng=gen)
        seen.add(t.last_params["noise_index"])
    assert seen == set(range(len(expected)))
    config = json.loads(t.to_json())
    assert config["noise"] == [str(tmp_path / "a"), str(lone), str(tmp_path / "b")]  # folders stay folders
    back = Transform.from_dict(config)
    y = _signal(800, np.float64)
    assert np.array_equal(back(y, sample_rate=SR, rng=5), t(y, sample_rate=SR, rng=5))
    with pytest.raises(ParameterError, match=r"noise\[1\]"):
        AddBackgroundNoise([tmp_path / "a", tmp_path / "missing"], p=1.0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ParameterError, match="noise"):
        AddBackgroundNoise([tmp_path / "empty"], p=1.0)


def test_links_to_folders_are_followed_each_real_folder_once(tmp_path):
    """A noise folder of links to datasets (``noise/musan -> /data/musan``) lost them without a word (or
    "holds no audio files"): audiomentations and torch-audiomentations follow such links, and so does
    every folder scan now, each real folder once (a loop ends), never into an output folder."""
    from noisegen.audio.files import holds_audio_name, scan_audio_files
    from noisegen.batch.plan import _discover

    data = [_write(tmp_path / "data" / name, 0.1, i) for i, name in enumerate(("x.wav", "deep/y.wav"))]
    mixed, only = tmp_path / "noise", tmp_path / "only"
    _write(mixed / "own.wav", 0.1, 9)
    only.mkdir()
    for folder in (mixed, only):
        (folder / "musan").symlink_to(tmp_path / "data", target_is_directory=True)
        (folder / "again").symlink_to(tmp_path / "data" / "deep", target_is_directory=True)  # a folder reached twice
        (folder / "up").symlink_to(folder, target_is_directory=True)  # a loop
    assert scan_audio_files(only) == ([str(only / "again" / "y.wav"), str(only / "musan" / "x.wav")], [])
    assert len(audio_files(mixed)) == 3 and holds_audio_name(only)
    assert len(AddBackgroundNoise(only, p=1.0)._bank(SR).paths) == len(data)
    y = _signal(800, np.float32)
    for t in (noisegen.AddShortNoises(only, p=1.0), ApplyImpulseResponse(only, p=1.0)):  # "holds no audio files"
        assert t(y, sample_rate=SR, rng=0).shape == y.shape
    out = tmp_path / "out"
    _write(out / "x.aug0.wav", 0.1, 3)
    (only / "outputs").symlink_to(out, target_is_directory=True)  # an output folder reached through a link
    assert _discover(str(only), str(out))[0] == ["again/y.wav", "musan/x.wav"]
    assert "outputs/x.aug0.wav" in _discover(str(only))[0]
    # a link to a folder inside the scanned one is not followed: its files keep their own names (a link
    # sorted first took them over); a loop deep inside a linked folder ends; an output folder above the
    # input folder leaves the input folder's own subfolders scanned
    tree = tmp_path / "tree"
    _write(tree / "z" / "deep" / "a.wav", 0.1, 4)
    (tree / "b_link").symlink_to(tree / "z" / "deep", target_is_directory=True)
    (tmp_path / "data" / "deep" / "loop").symlink_to(tmp_path / "data", target_is_directory=True)
    (tree / "ext").symlink_to(tmp_path / "data" / "deep", target_is_directory=True)
    assert _discover(str(tree))[0] == ["ext/loop/x.wav", "ext/y.wav", "z/deep/a.wav"]
    assert _discover(str(tree), str(tmp_path))[0] == ["z/deep/a.wav"]  # (ext leads into tmp_path: not followed)
    # an output folder inside a linked tree (in/corpus -> /data/corpus, OUT_DIR /data/corpus/aug) is left
    # out, at any depth and whichever link leads there: a rerun took the outputs as inputs
    for aug in (tmp_path / "data" / "aug", tmp_path / "data" / "deep" / "aug"):
        _write(aug / "x.aug0.wav", 0.1, 5)
        for ins in (tree, only):
            found = [os.path.realpath(ins / rel) for rel in _discover(str(ins), str(aug))[0]]
            assert found and not any(path.startswith(os.path.realpath(aug)) for path in found), (aug, ins, found)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(3000,), (2, 3000)], ids=str)
def test_background_noise_absolute_level(shape, dtype, noise_16k):
    noises = [noise_16k[:2000].astype(np.float32), noise_16k[5000:20000].astype(np.float32) * 30]
    y = (_signal(shape, dtype) * 0.2).astype(dtype)
    for level in (-70.0, -45.0, -20.0, -3.0, 0.0):
        for transform in (None, Gain(min_gain_db=-20, max_gain_db=20, p=1.0)):
            t = AddBackgroundNoise(noises, noise_level="absolute", min_absolute_rms_db=level,
                                   max_absolute_rms_db=level, noise_transform=transform, p=1.0)
            for seed in range(3):
                out = t(y, sample_rate=SR, rng=seed)
                assert out.dtype == dtype and out.shape == y.shape
                added = out.astype(np.float64) - y
                assert abs(_db(_rms(added)) - level) < 0.01, (level, seed)
                assert "snr_db" not in t.last_params and t.last_params["absolute_rms_db"] == level
                assert np.array_equal(t.apply_params(y, sample_rate=SR, params=t.last_params), out)


def test_background_noise_absolute_level_is_drawn_and_silence_warns():
    t = AddBackgroundNoise([np.ones(100, dtype=np.float32)], noise_level="absolute", min_absolute_rms_db=-40,
                           max_absolute_rms_db=-20, p=1.0)
    gen = np.random.default_rng(0)
    draws = []
    for _ in range(20):
        t(np.zeros(50), sample_rate=SR, rng=gen)
        draws.append(t.last_params["absolute_rms_db"])
    assert min(draws) >= -40 and max(draws) <= -20 and len(set(draws)) == 20
    quiet = AddBackgroundNoise([np.ones(100, dtype=np.float32)], noise_level="absolute",
                               noise_transform=Gain(min_gain_db=-120, max_gain_db=-120, p=1.0), p=1.0)
    y = np.ones(50, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet(y, sample_rate=SR, rng=0)  # -120 dB is not silence: no warning
    silent = AddBackgroundNoise([np.ones(100, dtype=np.float32)], noise_level="absolute",
                                noise_transform=_Silence(p=1.0), p=1.0)
    with pytest.warns(NoisegenWarning, match="silent"):
        out = silent(y, sample_rate=SR, rng=0)
    assert np.array_equal(out, y)


class _Silence(Transform):
    """A test transform whose output is all zeros."""

    def _apply(self, samples, sample_rate, params):
        return np.zeros_like(samples)


@pytest.mark.parametrize("noise_level", ["relative", "absolute"])
@pytest.mark.parametrize("shape", [(2500,), (2, 2500)], ids=str)
def test_noise_transform_is_applied_drawn_from_rng_and_replayed(noise_level, shape, noise_16k):
    noises = [noise_16k[:1000].astype(np.float32), noise_16k[3000:9000].astype(np.float32)]
    y = _signal(shape, np.float32)
    plain = AddBackgroundNoise(noises, noise_level=noise_level, p=1.0)
    # definition: the noise that is added is the transformed crop; -noise for PolarityInversion
    flipped = AddBackgroundNoise(noises, noise_level=noise_level, noise_transform=PolarityInversion(p=1.0), p=1.0)
    for seed in range(4):
        a = plain(y, sample_rate=SR, rng=seed)
        b = flipped(y, sample_rate=SR, rng=seed)
        assert {k: v for k, v in flipped.last_params.items() if k != "noise_transform"} == plain.last_params
        assert np.allclose(b - y, -(a - y), atol=1e-6)
    # a random noise transform: drawn from the same rng, recorded, replayed exactly
    nt = Compose([Gain(min_gain_db=-10, max_gain_db=10, p=0.7), LowPassFilter(min_cutoff_hz=500, max_cutoff_hz=3000,
                                                                              p=0.7)])
    t = AddBackgroundNoise(noises, noise_level=noise_level, noise_transform=nt, p=1.0)
    outs, gains = [], set()
    for seed in range(6):
        out = t(y, sample_rate=SR, rng=seed)
        params = json.loads(json.dumps(t.last_params))
        child = params["noise_transform"]
        assert child["name"] == "Compose" and [c["name"] for c in child["transforms"]] == ["Gain", "LowPassFilter"]
        gains.add(child["transforms"][0].get("gain_db"))
        assert np.array_equal(t(y, sample_rate=SR, rng=seed), out)  # same rng, same output
        assert np.array_equal(t.apply_params(y, sample_rate=SR, params=params), out)
        fresh = AddBackgroundNoise(noises, noise_level=noise_level, noise_transform=json.loads(nt.to_json()), p=1.0)
        assert np.array_equal(fresh.apply_params(y, sample_rate=SR, params=params), out)
        assert np.array_equal(fresh(y, sample_rate=SR, rng=seed), out)
        outs.append(out)
    assert len(gains) > 3  # the draws change with the rng
    with pytest.raises(ParameterError, match=r"params\['noise_transform'\]"):
        t.apply_params(y, sample_rate=SR, params={**t.last_params, "noise_transform": {"name": "Gain"}})


@pytest.mark.parametrize("kwargs", [{}, {"noise_level": "absolute"}, {"noise_transform": Gain(p=1.0)}], ids=str)
def test_replayed_noise_offset_wraps_around_the_noise(kwargs, noise_16k):
    """Any offset >= 0 replays as the offset modulo the noise's length (mix_at_snr's rule), with or
    without a noise transform or an absolute level; a TypeError from numpy once past 2**63."""
    noises = [noise_16k[:1000].astype(np.float32)]
    y = _signal((2, 1500), np.float32)
    t = AddBackgroundNoise(noises, p=1.0, **kwargs)
    out = t(y, sample_rate=SR, rng=1)
    params = json.loads(json.dumps(t.last_params))
    for offset in (params["noise_offset"] + 1000, params["noise_offset"] + 10**30 * 1000):
        assert np.array_equal(t.apply_params(y, sample_rate=SR, params={**params, "noise_offset": offset}), out)


@pytest.mark.parametrize("noise_level", ["relative", "absolute"])
@pytest.mark.parametrize("noise_transform", [noisegen.SpeedPerturb(factors=[2.0, 3.5, 20.0], p=1.0),
                                             noisegen.TimeStretch(min_rate=2.0, max_rate=20.0, p=1.0)],
                         ids=["speed", "stretch"])
def test_a_noise_transform_that_empties_the_crop_leaves_the_signal(noise_transform, noise_level):
    """A speed-up of the crop of a few-sample input can leave no noise sample (round(2 / 20) = 0):
    that raised 'noise must hold at least one sample' (relative) or ZeroDivisionError (absolute).
    Like a silent crop, it leaves the signal unchanged with a warning; any other crop mixes."""
    t = AddBackgroundNoise([np.hanning(50) + 0.1], noise_level=noise_level, noise_transform=noise_transform, p=1.0)
    emptied = 0
    for n in range(1, 13):
        for shape in ((n,), (2, n)):
            y = _signal(shape, np.float32, seed=n)
            for seed in range(4):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    out = t(y, sample_rate=SR, rng=seed)
                assert out.shape == y.shape and out.dtype == y.dtype and np.isfinite(out).all()
                assert np.array_equal(t.apply_params(y, json.loads(json.dumps(t.last_params)), sample_rate=SR), out)
                if round(n / t.last_params["noise_transform"].get("factor", t.last_params["noise_transform"].get(
                        "rate"))) == 0:
                    emptied += 1
                    assert np.array_equal(out, y) and out is not y
                    assert [w.category for w in caught] == [NoisegenWarning] and "no noise sample" in str(caught[0].message)
                else:
                    assert not np.array_equal(out, y)
    assert emptied > 10


def test_background_noise_defaults_unchanged(noise_16k):
    """Relative level without a noise transform gives what it gave before the new options."""
    noises = [noise_16k[:3000].astype(np.float32)]
    y = _signal((2, 2000), np.float32)
    t = AddBackgroundNoise(noises, min_snr_db=5, max_snr_db=5, p=1.0)
    out = t(y, sample_rate=SR, rng=2)
    expected = noisegen.mix_at_snr(y, noises[0], snr_db=5.0, noise_offset=t.last_params["noise_offset"])
    assert np.array_equal(out, expected)
    assert set(t.last_params) == {"name", "applied", "noise_index", "noise_offset", "snr_db"}


def test_background_noise_rejects_bad_new_arguments(data_dir):
    for kwargs, name in [({"noise_level": "loud"}, "noise_level"), ({"noise_transform": "Gain"}, "noise_transform"),
                         ({"noise_transform": {"name": "Nope"}}, "Nope"),
                         ({"min_absolute_rms_db": -10, "max_absolute_rms_db": -20}, "min_absolute_rms_db"),
                         ({"max_absolute_rms_db": 100}, "max_absolute_rms_db")]:
        with pytest.raises(ParameterError, match=name):
            AddBackgroundNoise(data_dir / "noise", **kwargs)
    with pytest.raises(ParameterError, match="keep_tail"):
        ApplyImpulseResponse(data_dir / "rir", keep_tail="yes")


# -- every new or changed transform: JSON round trip, replay, keyword-only ---------------------


def _new_transforms(data_dir):
    return [
        Shift(min_shift=-0.3, max_shift=0.3, rollover=False, fade_s=0.002, p=1.0),
        Shift(min_shift=-20, max_shift=20, shift_unit="samples", p=1.0),
        Shift(min_shift=-0.01, max_shift=0.01, shift_unit="seconds", p=1.0),
        PolarityInversion(p=1.0),
        Normalize(mode="rms", min_target_db=-30, max_target_db=-10, p=1.0),
        Normalize(p=1.0),
        Resample(min_sample_rate=4000, max_sample_rate=12000, p=1.0),
        BitCrush(min_bit_depth=3, max_bit_depth=12, p=1.0),
        LowShelf(p=1.0),
        HighShelf(min_gain_db=-6, max_gain_db=6, p=1.0),
        ApplyImpulseResponse(data_dir / "rir", keep_tail=True, p=1.0),
        AddBackgroundNoise([data_dir / "noise", data_dir / "noise" / "typing_excerpt.wav"], noise_level="absolute",
                           noise_transform=Compose([Gain(p=0.5), Shift(p=0.5)]), p=1.0),
    ]


@pytest.mark.parametrize("index", range(12))
@pytest.mark.parametrize("shape", [(1600,), (2, 1600)], ids=str)
def test_new_transforms_round_trip_and_replay(index, shape, data_dir):
    t = _new_transforms(data_dir)[index]
    for dtype in DTYPES:
        y = (_signal(shape, dtype) * 0.1).astype(dtype)
        out = t(y, sample_rate=SR, rng=7)
        assert out.dtype == dtype and out.shape[:-1] == y.shape[:-1] and np.isfinite(out).all()
        params = json.loads(json.dumps(t.last_params))
        assert params == t.last_params and params["applied"] is True
        assert np.array_equal(t.apply_params(y, sample_rate=SR, params=params), out)
        config = json.loads(t.to_json())
        back = Transform.from_dict(config)
        assert type(back) is type(t) and back.to_dict() == t.to_dict()
        assert np.array_equal(back(y, sample_rate=SR, rng=7), out)
        assert back.last_params == t.last_params
        empty = np.zeros(shape[:-1] + (0,), dtype=dtype)
        assert t(empty, sample_rate=SR, rng=7) is empty


@pytest.mark.parametrize("cls", [Shift, PolarityInversion, Normalize, Resample, BitCrush, LowShelf, HighShelf])
def test_new_constructors_are_keyword_only_with_p_last(cls):
    import inspect

    sig = inspect.signature(cls.__init__)
    params = list(sig.parameters.values())[1:]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    assert params[-1].name == "p" and params[-1].default == 0.5
    assert all(p.default is not inspect.Parameter.empty and p.default is not None for p in params)
    with pytest.raises(TypeError):
        cls(0.5)


def test_touched_constructors_refuse_positional_options(data_dir):
    import inspect

    for cls in (AddBackgroundNoise, ApplyImpulseResponse):
        params = list(inspect.signature(cls.__init__).parameters.values())[2:]  # after self and the source
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params) and params[-1].name == "p"
    with pytest.raises(TypeError):
        AddBackgroundNoise(data_dir / "noise", 3.0, 30.0)
    with pytest.raises(TypeError):
        ApplyImpulseResponse(data_dir / "rir", 0.5)


@pytest.mark.parametrize("name", ["shift", "polarity_inversion", "normalize", "resample", "bit_crush", "filters",
                                  "apply_impulse_response", "add_background_noise"])
def test_docstring_examples(name):
    import doctest
    import importlib

    module = importlib.import_module(f"noisegen.transforms.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("rate, fade_s", [(44100, 0.005), (8000, 0.0000625), (22050, 0.01), (16000, 0.0003125),
                                          (48000, 0.005)])
def test_shift_fade_length_follows_the_one_rounding_rule(rate, fade_s):
    # fade_s * rate a half (220.5 at 44.1 kHz): the fade is round()'s sample count, as every duration's
    # (seconds_to_samples), not one more
    fade = seconds_to_samples(fade_s, rate)
    n = 4 * fade + 100
    t = Shift(min_shift=n // 2, max_shift=n // 2, shift_unit="samples", rollover=False, fade_s=fade_s, p=1.0)
    out = t(np.ones(n), sample_rate=rate, rng=0)
    assert np.count_nonzero((out > 0) & (out < 1)) == fade
