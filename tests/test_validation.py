"""Argument checks shared by every public function (issue 13.6, 13.11, 13.14).

The layout rule for channels-last arrays, the documented ranges of size-like
arguments, the output-size limit, and ParameterError (never a raw exception)
for hostile values, each over a grid of values and through several public
functions.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
import tracemalloc
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import noisegen
from noisegen import ParameterError
from noisegen._core.validation import (
    CHANNELS_LAST_LIMIT,
    MAX_CHANNELS,
    MAX_RATE_FACTOR,
    MAX_SAMPLE_RATE,
    MAX_SAMPLES,
    check_audio,
    check_real_array,
    check_sample_rate,
)
from noisegen.transforms import Gain, LowPassFilter, TimeMask

SR = 16000
ROOT = Path(__file__).resolve().parents[1]


# -- 13.6: channels-last arrays are refused -------------------------------------------------------

CHANNELS_LAST = [(65, 2), (100, 1), (1000, 2), (32000, 2), (16000, 8), (65, 64), (CHANNELS_LAST_LIMIT + 1, 0)]
ALLOWED = [(2, 32000), (64, 10), (64, 0), (1, 0), (2, 0), (65, 65), (100, 1000), (8, 1), (64, 63)]


def _calls():
    """Public functions and transforms that take audio ``y``, with their other arguments."""
    return [
        ("gain", lambda y: noisegen.gain(y, gain_db=-3.0)),
        ("time_mask", lambda y: noisegen.time_mask(y, start_s=0.0, duration_s=0.0, sample_rate=SR)),
        ("lowpass", lambda y: noisegen.lowpass(y, cutoff_hz=1000.0, sample_rate=SR)),
        ("resample", lambda y: noisegen.resample(y, orig_sample_rate=SR, target_sample_rate=8000)),
        ("time_stretch", lambda y: noisegen.time_stretch(y, rate=1.25, sample_rate=SR)),
        ("speed", lambda y: noisegen.speed(y, factor=1.1, sample_rate=SR)),
        ("mix_at_snr", lambda y: noisegen.mix_at_snr(y, np.ones_like(y), snr_db=10.0)),
        ("Gain", lambda y: Gain(p=1.0)(y, sample_rate=SR, rng=0)),
        ("TimeMask", lambda y: TimeMask(p=1.0)(y, sample_rate=SR, rng=0)),
        ("LowPassFilter", lambda y: LowPassFilter(p=1.0)(y, sample_rate=SR, rng=0)),
    ]


@pytest.mark.parametrize("shape", CHANNELS_LAST, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_channels_last_arrays_are_refused_everywhere(shape, dtype, tmp_path):
    y = np.full(shape, 0.1, dtype=dtype)
    with pytest.raises(ParameterError, match=r"\(channels, samples\).*y\.T"):
        check_audio(y)
    for name, call in _calls():
        with pytest.raises(ParameterError, match=r"\(channels, samples\)"):
            call(y)
    with pytest.raises(ParameterError, match=r"\(channels, samples\).*y\.T"):
        noisegen.save(tmp_path / "x.wav", y, sample_rate=SR)


@pytest.mark.parametrize("shape", ALLOWED, ids=str)
def test_channels_first_arrays_pass(shape):
    y = np.zeros(shape, dtype=np.float32)
    assert check_audio(y) is y
    assert noisegen.gain(y, gain_db=-3.0).shape == shape
    assert Gain(p=1.0)(y, sample_rate=SR, rng=0).shape == shape


def _many_channel_pipelines():
    """Transforms and pipelines whose own arrays have fewer samples than channels on the way."""
    import noisegen.transforms as T

    speed = T.SpeedPerturb(factors=[1.25], p=1.0)
    return {
        "Resample": T.Resample(min_sample_rate=8000, max_sample_rate=8000, p=1.0),  # (100, 60) inside
        "speed, gain": T.Compose([speed, Gain(p=1.0)]),
        "stretch, filter": T.Compose([T.TimeStretch(min_rate=1.25, max_rate=1.25, p=1.0), LowPassFilter(p=1.0)]),
        "speed, nested": T.Compose([speed, T.OneOf([T.SomeOf([TimeMask(p=1.0), T.PitchShift(p=1.0)], k=2)])]),
        "shuffled": T.Compose([speed, T.AddColoredNoise(p=1.0), T.Normalize(p=1.0)], shuffle=True),
    }


@pytest.mark.parametrize("name", list(_many_channel_pipelines()))
@pytest.mark.parametrize("shape", [(100, 120), (65, 70), (CHANNELS_LAST_LIMIT + 1, CHANNELS_LAST_LIMIT + 1)], ids=str)
def test_a_transforms_own_short_arrays_of_many_channels_pass(name, shape):
    """The channels-last rule judged a transform's own arrays as a caller's: Compose([SpeedPerturb, Gain]) of a
    valid (100, 120) input refused the (100, 96) its speed-up made ("looks like a channels-last array: pass
    y.T"), and so did Resample on its way through a lower rate. The rule still judges what a caller gives."""
    t = _many_channel_pipelines()[name]
    y = np.random.default_rng(4).standard_normal(shape).astype(np.float32) * 0.1
    for seed in range(3):
        out = t(y, sample_rate=SR, rng=seed)
        assert out.shape[0] == shape[0] and np.isfinite(out).all()
        np.testing.assert_array_equal(t.apply_params(y, t.last_params, sample_rate=SR), out)
        noisy, target = t(y, sample_rate=SR, rng=seed, return_target="clean")
        np.testing.assert_array_equal(noisy, out)
        assert target.shape == out.shape
        assert t.draw_params(y, sample_rate=SR, rng=seed) == t.last_params
    short = np.zeros((shape[0], shape[0] - 1), np.float32)  # given by a caller: still refused
    for call in (lambda: t(short, sample_rate=SR, rng=0), lambda: t.draw_params(short, sample_rate=SR, rng=0),
                 lambda: noisegen.gain(short, gain_db=1.0)):
        with pytest.raises(ParameterError, match=r"\(channels, samples\)"):
            call()


@pytest.mark.parametrize("cuts", [(1000, 2000), (1000, 1050), (1000, 1000)], ids=["last 50", "middle 50", "empty"])
def test_a_streams_short_chunk_of_many_channels_is_taken(cuts):
    """A stream's chunks have the channels its first chunk (or its filter state zi) set: the last 50 samples of
    a 100-channel stream were refused as a channels-last array ('pass chunk.T') by Resampler.process,
    RirConvolver.process and the filters' zi= streaming, whose docs promise one pass whatever the chunk sizes.
    A first chunk, or one of other channels, is still judged as an array is."""
    y = np.random.default_rng(5).standard_normal((100, 2050)) * 0.1
    parts = np.split(y, cuts, axis=1)
    r = noisegen.Resampler(orig_sample_rate=SR, target_sample_rate=8000)
    out = np.concatenate([r.process(c) for c in parts] + [r.flush()], axis=1)
    np.testing.assert_array_equal(out, noisegen.resample(y, orig_sample_rate=SR, target_sample_rate=8000))
    conv = noisegen.RirConvolver(np.exp(-np.arange(200) / 30.0))
    out = np.concatenate([conv.process(c) for c in parts], axis=1)
    np.testing.assert_allclose(out, conv.convolve(y), atol=1e-12)
    zi, outs = np.zeros((2, 100, 2)), []  # (a zi of 100 channels sets them from the first chunk)
    for c in [y[:, :50]] + parts:
        o, zi = noisegen.lowpass(c, cutoff_hz=1000.0, sample_rate=SR, zi=zi)
        outs.append(o)
    np.testing.assert_array_equal(np.concatenate(outs, axis=1),
                                  noisegen.lowpass(np.concatenate([y[:, :50], y], axis=1), cutoff_hz=1000.0, sample_rate=SR))
    r.process(y[:, :1000])
    for first in (lambda s: noisegen.Resampler(orig_sample_rate=SR, target_sample_rate=8000).process(s),
                  lambda s: noisegen.RirConvolver(np.ones(3)).process(s), lambda s: r.process(s[:99]),  # (of 100)
                  lambda s: noisegen.lowpass(s, cutoff_hz=1000.0, sample_rate=SR, zi="zeros")):
        with pytest.raises(ParameterError, match=r"\(channels, samples\)"):
            first(y[:, :50])  # a first chunk: still refused


@pytest.mark.parametrize("shape", [(100, 50), (65, 64), (70, 1)], ids=str)
def test_a_short_file_of_many_channels_is_read_as_what_it_is(tmp_path, shape):
    """A file's frames are laid out as the file says: a short file of many channels (100 channels of 50
    frames) loads as (100, 50), and the stream (mono=False), augment_folder (files and WebDataset shards) and
    replay refused it as a channels-last array ("pass y.T", which no user can do for a file)."""
    from noisegen.batch import augment_folder, read_manifest, replay

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    y = np.random.default_rng(5).standard_normal(shape).astype(np.float32) * 0.1
    import soundfile as sf  # (noisegen.save refuses the array: a caller's (100, 50) is taken for channels-last)

    sf.write(src / "a.wav", y.T, SR, subtype="FLOAT")
    loaded, _ = noisegen.load(src / "a.wav")
    np.testing.assert_array_equal(loaded, y)
    t = Gain(min_gain_db=-6.0, max_gain_db=-6.0, p=1.0)
    chunks = list(noisegen.AugmentStream(str(src), t, sample_rate=SR, mono=False))
    assert len(chunks) == 1
    np.testing.assert_allclose(chunks[0].samples, y * 10 ** (-6 / 20), rtol=1e-6)
    summary = augment_folder(src, out, pipeline=t)
    assert summary.n_failed == 0 and summary.n_written == 1, summary
    written, _ = noisegen.load(out / "a.aug0.wav")
    np.testing.assert_allclose(written, y * 10 ** (-6 / 20), atol=2 ** -15)  # (16-bit PCM)
    replay(read_manifest(out)["a.aug0.wav"], in_dir=src, out_path=tmp_path / "again.wav")
    assert (tmp_path / "again.wav").read_bytes() == (out / "a.aug0.wav").read_bytes()
    shards = augment_folder(src, tmp_path / "wds", pipeline=t, output_format="webdataset")
    assert shards.n_failed == 0 and shards.n_written == 1, shards
    with pytest.raises(ParameterError, match=r"\(channels, samples\)"):  # a caller's array: still refused
        t(y, sample_rate=SR, rng=0)


@pytest.mark.parametrize("shape", [(100, 50), (65, 64), (70, 1)], ids=str)
@pytest.mark.parametrize("rate", [SR // 2, SR * 2, 44100], ids=str)
def test_a_short_file_of_many_channels_loads_at_another_rate(tmp_path, shape, rate):
    """A file's frames resampled (load's sample_rate, the stream's, augment's --sample-rate) are laid out
    as the file says too: load(sample_rate=) refused a short file of many channels as a channels-last
    array, so the stream skipped it and augment --sample-rate failed it."""
    import soundfile as sf
    from noisegen.batch import augment_folder

    src = tmp_path / "in"
    src.mkdir()
    y = np.random.default_rng(6).standard_normal(shape).astype(np.float32) * 0.1
    sf.write(src / "a.wav", y.T, SR, subtype="FLOAT")
    want = np.stack([noisegen.resample(row, orig_sample_rate=SR, target_sample_rate=rate) for row in y])
    got, got_rate = noisegen.load(src / "a.wav", sample_rate=rate)
    assert got_rate == rate and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    chunks = list(noisegen.AugmentStream(str(src), None, sample_rate=rate, mono=False))
    assert len(chunks) == 1 and chunks[0].samples.shape == want.shape
    summary = augment_folder(src, tmp_path / "out", pipeline=Gain(p=1.0), sample_rate=rate)
    assert summary.n_failed == 0 and summary.n_written == 1, summary


@pytest.mark.parametrize("order", [">", "<", "="])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(1000,), (2, 1000), (3, 1000, "strided")], ids=str)
def test_any_byte_order_is_audio(shape, dtype, order):
    """Arrays read from big-endian files (dtype >f4) were refused as 'got dtype >f4': every audio
    argument takes float32/float64 in any byte order, with the native array's result (native order)."""
    native = np.random.default_rng(8).standard_normal([d for d in shape if d != "strided"]).astype(dtype) * 0.1
    if "strided" in shape:
        native = native[::2, ::3]
    y = native.astype(native.dtype.newbyteorder(order))
    assert check_audio(native) is native  # native arrays: no copy, no conversion
    for name, call in [*_calls(), ("mix noise", lambda a: noisegen.mix_at_snr(native, a, snr_db=5.0)),
                       ("convolve rir", lambda a: noisegen.convolve_rir(native, a[..., :50]))]:
        out, expected = call(y), call(native)
        assert out.dtype == expected.dtype and out.dtype.isnative, name
        np.testing.assert_array_equal(out, expected, err_msg=name)


# -- 13.11: documented ranges, refused before any allocation -------------------------------------

BAD_SAMPLE_RATES = [0, -1, -16000, MAX_SAMPLE_RATE + 1, 10**10, 2**40, 1e300, 16000.5, math.nan, math.inf,
                    "16000", None, True, [16000]]


@pytest.mark.parametrize("sample_rate", BAD_SAMPLE_RATES, ids=repr)
def test_sample_rates_outside_the_range_are_refused(sample_rate, tmp_path):
    y = np.zeros(160, dtype=np.float32)
    calls = [
        lambda: check_sample_rate(sample_rate),
        lambda: noisegen.save(tmp_path / "x.wav", y, sample_rate=sample_rate),
        lambda: noisegen.tone(freq_hz=1.0, sample_rate=sample_rate, n_samples=10),
        lambda: noisegen.NoiseGenerator("pink", sample_rate=sample_rate),
        lambda: noisegen.time_stretch(y, rate=1.1, sample_rate=sample_rate),
        lambda: noisegen.resample(y, orig_sample_rate=sample_rate, target_sample_rate=SR),
        lambda: noisegen.resample(y, orig_sample_rate=SR, target_sample_rate=sample_rate),
        lambda: Gain(p=1.0)(y, sample_rate=sample_rate),
    ]
    for call in calls:
        with pytest.raises(ParameterError, match="sample_rate"):
            call()


@pytest.mark.parametrize("sample_rate", [1, 8000, 16000, 44100.0, MAX_SAMPLE_RATE])
def test_sample_rates_in_the_range_pass(sample_rate):
    assert check_sample_rate(sample_rate) == int(sample_rate)


@pytest.mark.parametrize("sample_rate", [np.float16(8000), np.float16(16000), np.float16(2), np.float32(16000),
                                         np.uint16(44100), np.uint8(200), np.int8(100), np.int64(MAX_SAMPLE_RATE)],
                         ids=repr)
def test_numpy_scalar_sample_rates_pass_without_a_numpy_warning(sample_rate):
    """A float16 rate was compared with 768000 as float16, where that bound overflows: numpy's RuntimeWarning
    "overflow encountered in cast" leaked from every function taking a rate."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_sample_rate(sample_rate) == int(sample_rate)
        assert noisegen.samples_to_seconds(10, sample_rate) == 10 / int(sample_rate)
    for bad in (np.float16(0.5), np.float16(-8), np.float16("inf")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ParameterError, match="sample_rate"):
                check_sample_rate(bad)


BAD_FACTORS = [0.0, -1.0, 1e-300, 1e-6, 1e-3, 1 / MAX_RATE_FACTOR * 0.999, MAX_RATE_FACTOR * 1.001, 1e5, 1e9,
               1e300, math.inf, math.nan, "2", None]


@pytest.mark.parametrize("value", BAD_FACTORS, ids=repr)
def test_rates_and_factors_outside_the_range_are_refused(value):
    y = np.zeros((2, 1600), dtype=np.float32)
    with pytest.raises(ParameterError, match="rate"):
        noisegen.time_stretch(y, rate=value, sample_rate=SR)
    with pytest.raises(ParameterError, match="rate"):
        noisegen.time_stretch(y[0], rate=value, sample_rate=SR, method="phase_vocoder")
    with pytest.raises(ParameterError, match="factor"):
        noisegen.speed(y, factor=value, sample_rate=SR)


@pytest.mark.parametrize("n_steps", [97.0, -97.0, 1e5, -1e5, 1e300, -1e300, math.inf, math.nan, "1"], ids=repr)
def test_pitch_shift_steps_outside_eight_octaves_are_refused(n_steps):
    y = np.zeros(1600)
    with pytest.raises(ParameterError, match="n_steps"):
        noisegen.pitch_shift(y, sample_rate=SR, n_steps=n_steps)
    with pytest.raises(ParameterError, match="n_steps"):  # the range scales with bins_per_octave
        noisegen.pitch_shift(y, sample_rate=SR, n_steps=n_steps * 2 if isinstance(n_steps, float) else n_steps,
                             bins_per_octave=24)


@pytest.mark.parametrize("rates", [(1, MAX_RATE_FACTOR + 1), (MAX_RATE_FACTOR + 1, 1), (768000, 1), (1, 768000),
                                   (48000, 11), (262145, 1024)])
def test_resampling_ratios_outside_the_range_are_refused(rates):
    orig, target = rates
    with pytest.raises(ParameterError, match="target_sample_rate / orig_sample_rate"):
        noisegen.resample(np.zeros(100), orig_sample_rate=orig, target_sample_rate=target)
    with pytest.raises(ParameterError, match="target_sample_rate / orig_sample_rate"):
        noisegen.Resampler(orig_sample_rate=orig, target_sample_rate=target)


def test_extreme_rates_inside_the_range_still_work():
    y = np.random.default_rng(0).standard_normal(1600).astype(np.float32)
    assert noisegen.speed(y, factor=MAX_RATE_FACTOR, sample_rate=SR).shape == (round(1600 / MAX_RATE_FACTOR),)
    assert noisegen.time_stretch(y, rate=1 / MAX_RATE_FACTOR, sample_rate=SR).shape == (1600 * MAX_RATE_FACTOR,)
    assert noisegen.pitch_shift(y, sample_rate=SR, n_steps=-96).shape == (1600,)
    assert noisegen.resample(y, orig_sample_rate=256, target_sample_rate=1).shape == (7,)


# Sizes over MAX_SAMPLES (alone or over the channels), given as ints, floats or durations.
HUGE_N = [MAX_SAMPLES + 1, 5e9, 2**40, 1e300]


@pytest.mark.parametrize("n", HUGE_N, ids=repr)
def test_generators_refuse_outputs_over_max_samples(n):
    for call in (
        lambda: noisegen.colored_noise(n, beta=1.0),
        lambda: noisegen.white_noise(n, dtype=np.float64),
        lambda: noisegen.pink_noise(n),
        lambda: noisegen.colored_noise(int(min(n, 2**40)) // 4 + 1, beta=0.5, n_channels=4),
        lambda: noisegen.NoiseGenerator("brown", sample_rate=SR).read(n),
        lambda: noisegen.NoiseGenerator(1.0, sample_rate=SR, n_channels=3).read(int(min(n, 2**40)) // 3 + 1),
        lambda: noisegen.tone(freq_hz=100.0, sample_rate=SR, n_samples=n),
        lambda: noisegen.square(freq_hz=100.0, sample_rate=SR, n_samples=n),
        lambda: noisegen.hum(sample_rate=SR, n_samples=n),
        lambda: noisegen.speech_shaped_noise(sample_rate=SR, n_samples=n),
        lambda: noisegen.chirp(freq_hz=100.0, end_freq_hz=200.0, sample_rate=SR, n_samples=n),
    ):
        with pytest.raises(ParameterError, match=r"n_samples=.*MAX_SAMPLES"):
            call()


@pytest.mark.parametrize("duration_s", [MAX_SAMPLES / SR * 1.001, 1e9, 1e300], ids=repr)
def test_durations_over_max_samples_are_refused(duration_s):
    y = np.zeros((2, 100))
    for call in (
        lambda: noisegen.tone(freq_hz=100.0, sample_rate=SR, duration_s=duration_s),
        lambda: noisegen.impulse_train(freq_hz=100.0, sample_rate=SR, duration_s=duration_s, n_channels=2),
        lambda: noisegen.speech_shaped_noise(sample_rate=SR, duration_s=duration_s),
        lambda: noisegen.time_mask(y, start_s=0.0, duration_s=duration_s, sample_rate=SR),
    ):
        with pytest.raises(ParameterError, match=r"duration_s=.*MAX_SAMPLES"):
            call()
    for name in ("start_s", "fade_s"):
        kwargs = {"start_s": 0.0, "duration_s": 0.001, "fade_s": 0.0, name: duration_s}
        with pytest.raises(ParameterError, match=name):
            noisegen.time_mask(y, sample_rate=SR, **kwargs)


@pytest.mark.parametrize("shape", [(1000,), (3, 1000)], ids=str)
@pytest.mark.parametrize("length", [150, 250, 5000])
def test_time_mask_running_past_the_end_is_the_start_of_the_whole_mask(shape, length):
    # Only the part of the window inside the signal is built: the result is the first
    # 1000 samples of the same mask on a signal long enough to hold all of it.
    y = np.random.default_rng(0).standard_normal(shape)
    whole = np.concatenate([y, np.ones(shape[:-1] + (length,))], axis=-1)
    kwargs = {"start_s": 800 / SR, "duration_s": length / SR, "sample_rate": SR, "fade_s": 100 / SR}
    out = noisegen.time_mask(y, **kwargs)
    assert np.array_equal(out, noisegen.time_mask(whole, **kwargs)[..., :1000])
    if length > 300:  # the fade back in starts after the end, as for any longer stretch
        assert np.array_equal(out, noisegen.time_mask(y, **{**kwargs, "duration_s": 1e4}))


@pytest.mark.parametrize("n_channels", [MAX_CHANNELS + 1, 2**40, 0, -1, 2.5, "2"], ids=repr)
def test_channel_counts_outside_the_range_are_refused(n_channels):
    for call in (
        lambda: noisegen.colored_noise(0, beta=1.0, n_channels=n_channels),
        lambda: noisegen.NoiseGenerator("white", sample_rate=SR, n_channels=n_channels),
        lambda: noisegen.tone(freq_hz=1.0, sample_rate=SR, n_samples=0, n_channels=n_channels),
    ):
        with pytest.raises(ParameterError, match="n_channels"):
            call()


def test_speech_generator_warm_up_is_bounded():
    with pytest.raises(ParameterError, match="n_channels=.*warm-up"):
        noisegen.NoiseGenerator("speech", sample_rate=48000, n_channels=MAX_CHANNELS)


def _zeros(shape):
    """A read-only array of zeros that takes no memory (zero strides)."""
    return np.broadcast_to(np.float32(0.0), shape)


def test_rate_inside_the_range_still_refuses_an_output_over_max_samples():
    y = _zeros((64, 2**18))  # 2**24 samples, 2**32 after stretching by 256
    with pytest.raises(ParameterError, match=r"rate=.*MAX_SAMPLES"):
        noisegen.time_stretch(y, rate=1 / MAX_RATE_FACTOR, sample_rate=SR)
    with pytest.raises(ParameterError, match=r"factor=.*MAX_SAMPLES"):
        noisegen.speed(y, factor=1 / MAX_RATE_FACTOR, sample_rate=SR)
    with pytest.raises(ParameterError, match=r"target_sample_rate=.*MAX_SAMPLES"):
        noisegen.resample(y, orig_sample_rate=1000, target_sample_rate=256000)



@pytest.mark.parametrize("call", [
    lambda y: noisegen.time_stretch(y, rate=math.nan, sample_rate=SR),
    lambda y: noisegen.time_stretch(y, rate=1.0, method="sola", sample_rate=SR),
    lambda y: noisegen.pitch_shift(y, n_steps=math.nan, sample_rate=SR),
    lambda y: noisegen.add_short_noises(y, [np.ones(10)], sample_rate=SR, min_snr_db=math.nan),
    lambda y: noisegen.add_short_noises(y, [], sample_rate=SR),
    lambda y: noisegen.mix_at_snr(y, np.ones(10), snr_db=10.0, noise_offset=-1),
    lambda y: noisegen.mix_at_snr(y, None, snr_db=10.0),
    lambda y: noisegen.mix_at_snr(y, np.ones(10), snr_db=math.nan, reference="active", sample_rate=SR),
    lambda y: noisegen.add_background_noises(y, [np.ones(10)], snr_db=math.nan),
    lambda y: noisegen.add_background_noises(y, [np.ones(10)], snr_db=10.0, reference="peak"),
], ids=["stretch-rate", "stretch-method", "pitch-n_steps", "short-snr", "short-empty", "mix-offset", "mix-noise",
        "mix-snr", "background-snr", "background-reference"])
def test_a_bad_argument_is_refused_before_a_broadcast_y_is_copied(call):
    # these copied a zero-stride y (200 MB here) into a full array, then refused the argument (the two
    # mixers after the first three were fixed)
    y = _zeros(50_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(ParameterError):
            call(y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000


def test_resampler_refuses_a_chunk_whose_output_is_over_max_samples():
    # the one-shot resample refused it; Resampler.process allocated the 8 GiB output (MemoryError)
    stream = noisegen.Resampler(orig_sample_rate=1000, target_sample_rate=256000)
    first = stream.process(np.ones(100, np.float32))
    fresh = noisegen.Resampler(orig_sample_rate=1000, target_sample_rate=256000)
    with pytest.raises(ParameterError, match=r"chunk\.shape=\(64, 262144\).*MAX_SAMPLES"):
        fresh.process(_zeros((64, 2**18)))
    assert fresh.process(np.ones(3)).dtype == np.float64  # the refused first chunk set neither dtype nor shape
    with pytest.raises(ParameterError, match=r"chunk\.shape=\(8388708,\).*MAX_SAMPLES"):
        stream.process(_zeros(2**23 + 100))
    assert "samples_in=100" in repr(stream)  # refused before anything changed
    np.testing.assert_array_equal(np.concatenate([first, stream.flush()]),
                                  noisegen.resample(np.ones(100, np.float32), orig_sample_rate=1000,
                                                    target_sample_rate=256000))

_REFUSE_CHEAPLY = textwrap.dedent(
    """
    import numpy as np, noisegen
    y = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    for call in (lambda: noisegen.time_stretch(y, rate=1e-6, sample_rate=16000),
                 lambda: noisegen.colored_noise(5e9, beta=1.0),
                 lambda: noisegen.colored_noise(5e9, beta=1.0, n_channels=2),
                 lambda: noisegen.speed(y, factor=1e9, sample_rate=16000),
                 lambda: noisegen.resample(y, orig_sample_rate=768000, target_sample_rate=1)):
        try:
            call()
        except noisegen.ParameterError:
            pass
        else:
            raise SystemExit("not refused")
    """
)
#: Runs the calls above in a fresh child and prints that child's peak RSS (KiB on Linux).
_PEAK_OF_CHILD = (
    "import resource, subprocess, sys; "
    "subprocess.run([sys.executable, '-c', sys.argv[1]], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def test_huge_requests_are_refused_before_allocating():
    run = subprocess.run([sys.executable, "-c", _PEAK_OF_CHILD, _REFUSE_CHEAPLY], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout.split()[-1]) < 500 * 1024


# -- 13.14: hostile values give ParameterError naming the argument -------------------------------

#: Outside every range below (1e5 is a valid time in seconds or sample rate, so it is left out here).
HOSTILE = [-1e5, 1e300, -1e300, math.inf, -math.inf, math.nan, 2**70, -(2**70), "1", None, [1.0]]


def _effect_calls(v):
    y = np.random.default_rng(0).standard_normal((2, 800))
    return [
        ("n_steps", lambda: noisegen.pitch_shift(y, sample_rate=SR, n_steps=v)),
        ("bins_per_octave", lambda: noisegen.pitch_shift(y, sample_rate=SR, n_steps=1.0, bins_per_octave=v)),
        ("factor", lambda: noisegen.speed(y, factor=v, sample_rate=SR)),
        ("rate", lambda: noisegen.time_stretch(y, rate=v, sample_rate=SR)),
        ("start_s", lambda: noisegen.time_mask(y, start_s=v, duration_s=0.01, sample_rate=SR)),
        ("duration_s", lambda: noisegen.time_mask(y, start_s=0.0, duration_s=v, sample_rate=SR)),
        ("fade_s", lambda: noisegen.time_mask(y, start_s=0.0, duration_s=0.01, sample_rate=SR, fade_s=v)),
        ("n_samples", lambda: noisegen.colored_noise(v, beta=1.0)),
        ("duration_s", lambda: noisegen.tone(freq_hz=10.0, sample_rate=SR, duration_s=v)),
        ("sample_rate", lambda: noisegen.time_stretch(y, rate=1.1, sample_rate=v)),
        ("sample_rate", lambda: noisegen.time_mask(y, start_s=0.0, duration_s=0.01, sample_rate=v)),
    ]


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_hostile_sizes_name_the_argument(value):
    for name, call in _effect_calls(value):
        with pytest.raises(ParameterError, match=name):
            call()


#: Values of the right type just or far outside each argument's documented range.
OUT_OF_RANGE = {
    "n_steps": [96.001, -96.001, 97, 1e5, -1e5],
    "bins_per_octave": [0, -1, 1201, 10**5],
    "factor": [256.001, 1e5, 1e9, 1 / 256.001, 1e-6, 0.0, -1.0],
    "rate": [256.001, 1e5, 1e9, 1 / 256.001, 1e-6, 0.0, -1.0],
    "n_samples": [-1, -(10**5), MAX_SAMPLES + 1],
    "duration_s": [-1.0, -1e-9, MAX_SAMPLES / SR * 1.0001],
}


@pytest.mark.parametrize("name, value", [(n, v) for n, vs in OUT_OF_RANGE.items() for v in vs], ids=repr)
def test_values_out_of_range_name_the_argument(name, value):
    for arg, call in _effect_calls(value):
        if arg == name:
            with pytest.raises(ParameterError, match=name):
                call()


@pytest.mark.parametrize("value", HOSTILE + [2**40, 10**10, 0, -1, 0.5, MAX_SAMPLE_RATE + 1], ids=repr)
def test_save_refuses_hostile_sample_rates(value, tmp_path):
    with pytest.raises(ParameterError, match="sample_rate"):
        noisegen.save(tmp_path / "x.wav", np.zeros((2, 10)), sample_rate=value)


# -- every public function, every argument: hostile values are ParameterErrors ---------------------

def _sweep_base(tmp_path):
    """A valid value for each required argument of the public functions."""
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(4000)).astype(np.float32)
    wav = str(tmp_path / "a.wav")
    noisegen.save(wav, y, sample_rate=SR)
    return {
        "value": 0.5, "value_db": -6.0, "n_samples": 1000, "duration_s": 0.1, "sample_rate": SR, "beta": 1.0,
        "freq_hz": 440.0, "end_freq_hz": 880.0, "y": y, "noise": (0.1 * rng.standard_normal(8000)).astype(np.float32),
        "snr_db": 10.0, "noises": [y[:3000]], "speech_sources": [y] * 3, "n_talkers": 2, "gain_db": 3.0,
        "bit_depth": 8, "start_s": 0.01, "cutoff_hz": 1000.0, "low_hz": 300.0, "high_hz": 3000.0, "center_hz": 1000.0,
        "q": 1.0, "kind": "lowpass", "rir": (np.exp(-np.arange(500) / 50.0) * rng.standard_normal(500)).astype(np.float32),
        "room_dim_m": (5.0, 4.0, 3.0), "source_m": (1.0, 1.0, 1.5), "mic_m": (3.0, 2.0, 1.5), "rt60_s": 0.3,
        "orig_sample_rate": SR, "target_sample_rate": 8000, "format": "mulaw", "loss_rate": 0.1, "factor": 1.1,
        "rate": 1.2, "n_steps": 2.0, "path": wav, "folder": str(tmp_path), "path_or_dict": {"name": "Gain", "p": 1.0},
        "sos": noisegen.design_sos("lowpass", sample_rate=SR, cutoff_hz=1000.0),
    }


#: Values of every wrong kind: non-finite, huge, tiny, wrong types, arrays of odd shapes and dtypes.
SWEEP_HOSTILE = [math.nan, math.inf, -math.inf, -1, 0, 1e308, -1e308, 1e-320, 2**63, -(2**63), "x", None, [], (),
                 {}, True, 1 + 2j, np.array([]), np.array([np.nan]), np.zeros((2, 2, 2), np.float32),
                 np.zeros(3, np.int16), np.zeros(0, np.float32), np.float32(np.nan), object(),
                 np.zeros((0, 5), np.float32), np.zeros((5, 0), np.float32), np.zeros(10, np.complex64), "1e3", b"x",
                 10**400, -(10**400), Fraction(10**400, 3)]  # (past float64: json.loads gives such ints)
#: Arguments a length needs one of (the oscillators take exactly one of duration_s and n_samples).
_ONE_LENGTH = ("tone", "chirp", "square", "sawtooth", "triangle", "impulse_train", "hum", "speech_shaped_noise")
_SWEPT = sorted(n for n in noisegen.__all__ if callable(getattr(noisegen, n)) and not isinstance(getattr(noisegen, n), type)
                and n not in ("simulate_rirs",))  # (simulate_rir's arguments, one response per call)


@pytest.mark.parametrize("name", _SWEPT)
def test_every_argument_refuses_hostile_values_with_a_parameter_error(name, tmp_path):
    """Each argument of each public function, one at a time, given each value of SWEEP_HOSTILE: the call
    succeeds or raises ParameterError / NoisegenError (a missing file: FileNotFoundError), never a
    TypeError, ValueError, OverflowError or ZeroDivisionError from inside, and never lets a numpy
    RuntimeWarning or ComplexWarning out (complex sos, zi, room coordinates and hum levels did)."""
    import inspect
    import warnings

    fn = getattr(noisegen, name)
    base = _sweep_base(tmp_path)
    params = [p for p in inspect.signature(fn).parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    required = {p.name: base[p.name] for p in params if p.default is inspect.Parameter.empty}
    if name in _ONE_LENGTH:
        required["n_samples"] = 1000
    if "rng" in {p.name for p in params}:
        required["rng"] = 0  # the same draws every run
    if name == "save":
        required["path"] = str(tmp_path / "out.wav")
    if name == "design_sos":
        required["cutoff_hz"] = 1000.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # noisegen's own warnings (heavy clipping, silence) are fine here
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("error", getattr(np, "exceptions", np).ComplexWarning)  # (numpy < 1.25: np.)
        fn(**required)  # the base call is valid
        for p in params:
            if p.name == "backend":
                continue
            for value in SWEEP_HOSTILE:
                try:
                    fn(**{**required, p.name: value})
                except (ParameterError, noisegen.NoisegenError, FileNotFoundError):
                    pass
                except Exception as exc:  # noqa: BLE001 - the assertion names it
                    pytest.fail(f"{name}({p.name}={value!r}) raised {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("kind", ["square", "sawtooth", "triangle"])
def test_band_limited_waveforms_bound_their_harmonics(kind):
    """A band-limited waveform sums every harmonic below Nyquist, one pass over the output each: a
    fundamental of 0.01 Hz would be 800,000 passes (and 1e-6 Hz an 8e9-entry table). The lowest
    fundamental gives MAX_HARMONICS of them; below it, a ParameterError naming freq_hz."""
    from noisegen.synth.oscillators import MAX_HARMONICS

    fn = getattr(noisegen, kind)
    lowest = SR / (2.0 * MAX_HARMONICS)
    assert fn(freq_hz=lowest * 1.001, sample_rate=SR, n_samples=64).shape == (64,)
    for f in (lowest * 0.999, 0.01, 1e-6, 1e-300):
        with pytest.raises(ParameterError, match="freq_hz"):
            fn(freq_hz=f, sample_rate=SR, n_samples=64)


@pytest.mark.parametrize("freq_hz, need", [(1e-300, "about 8e+303"), (5e-324, "more than 1.8e+308")])
def test_band_limited_refusal_states_the_harmonics_needed(freq_hz, need):
    """The count of harmonics a refusal states: past 2**53 it said 9007199254740992 (the count's cap) for
    any fundamental below about 1e-12 Hz at 16 kHz."""
    with pytest.raises(ParameterError, match=f"would need {re.escape(need)} harmonics"):
        noisegen.square(freq_hz=freq_hz, sample_rate=16000, n_samples=4)


def _integration_calls(tmp_path):
    """The entry points of the integrations and the batch job, each with one argument left open."""
    import noisegen.batch as nb
    import noisegen.cuda as nc
    import noisegen.hf as hf
    import noisegen.ray as nr

    y = np.random.default_rng(0).standard_normal((4, 1600)).astype(np.float32)
    pipe = Gain(p=1.0)
    row = {"audio": {"array": y[0], "sampling_rate": SR}}
    try:
        import noisegen.lhotse as lh
    except ImportError:  # without the lhotse extra its two entry points are not there to check
        lh = None
    try:
        import noisegen.torch as nt
    except ImportError:  # nor the torch extra's collate
        nt = None
    calls = {
        "hf row": lambda v: hf.augment_fn(pipe, rng=0)(v, 0),
        "hf index": lambda v: hf.augment_fn(pipe, rng=0)(row, v),
        "hf rng": lambda v: hf.augment_fn(pipe, rng=v)(row, 0),
        "hf array": lambda v: hf.augment_fn(pipe, rng=0)({"audio": {"array": v, "sampling_rate": SR}}, 0),
        "lhotse cut_key": lambda v: lh.cut_key(v, rng=0),
        "lhotse perturb_speed": lambda v: lh.perturb_speed([], v),
        "ray row_key epoch": lambda v: nr.row_key(0, v, "a"),
        "ray row_key id": lambda v: nr.row_key(0, 0, v),
        "torch collate": lambda v: nt.collate(v),
        "replay line": lambda v: nb.replay(v),
        "read_manifest": lambda v: nb.read_manifest(v),
        "augment_batch batch": lambda v: nc.augment_batch(v, sample_rate=SR, gain_db=3.0, rng=0, backend="cpu"),
        "augment_batch band_hz": lambda v: nc.augment_batch(y, sample_rate=SR, band_hz=v, rng=0, backend="cpu"),
        "augment_batch speed": lambda v: nc.augment_batch(y, sample_rate=SR, speed=v, rng=0, backend="cpu"),
    }
    missing = {"lhotse": lh is None, "torch": nt is None}  # optional extras
    return {k: c for k, c in calls.items() if not missing.get(k.split()[0], False)}


def test_integration_entry_points_refuse_hostile_values(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, call in _integration_calls(tmp_path).items():
            for value in SWEEP_HOSTILE:
                try:
                    call(value)
                except (ParameterError, noisegen.NoisegenError, FileNotFoundError):
                    pass
                except Exception as exc:  # noqa: BLE001 - the assertion names it
                    pytest.fail(f"{name} given {value!r} raised {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("name, bad, good", [
    ("gain_db", (-1e308, 1e308), (-120.0, 120.0)), ("gain_db", (-1e308, 0.0), (-120.0, 0.0)),
    ("gain_db", (130.0, 130.0), (120.0, 120.0)), ("gain_db", (-121.0, 0.0), (-120.0, 0.0)),
    ("gain_db", (0.0, math.inf), (0.0, 120.0)), ("snr_db", (-1e308, 1e308), (-100.0, 200.0)),
    ("snr_db", (-101.0, 0.0), (-100.0, 0.0)),
], ids=repr)
def test_augment_batch_checks_a_range_before_drawing_from_it(name, bad, good):
    """(-1e308, 1e308) raised numpy's OverflowError from the uniform draw; now the range is checked first."""
    from noisegen.cuda import augment_batch  # (its CPU path: no GPU needed)

    x = np.full((2, 160), 0.1, np.float32)
    noise = {"noise": "white"} if name == "snr_db" else {}
    with pytest.raises(ParameterError, match=rf"{name} range must lie in \["):
        augment_batch(x, sample_rate=16000, **noise, **{name: bad}, rng=0, backend="cpu")
    out = augment_batch(x, sample_rate=16000, **noise, **{name: good}, rng=0, backend="cpu")
    assert np.all((good[0] <= out.params[name]) & (out.params[name] <= good[1]))


def test_check_real_array_refuses_what_float64_conversion_would_mangle():
    """Complex values (dropped imaginary part, ComplexWarning), None (NaN), bools, strings and other
    non-numbers are ParameterErrors naming the argument; real numbers of any type and shape
    (NaN and inf included) come back as float64, equal to NumPy's conversion."""
    import warnings
    from decimal import Decimal
    from fractions import Fraction

    good = [0.5, -3, np.float32(2.5), np.int16(7), Fraction(1, 3), math.nan, math.inf, [],
            [1, 2.5, Fraction(1, 4)], np.arange(6, dtype=np.int8).reshape(2, 3), np.ones((2, 0)),
            np.array([1, Fraction(1, 2)], dtype=object), np.float32([[1.5, -2.0]])]
    bad = [None, [1.0, None], np.array([None, None]), 1 + 2j, np.complex64(1), [1.0, 2j], np.zeros(3, complex),
           "1.5", ["1", "2"], b"1", Decimal("1.5"), [Decimal(1)], object(), [[1.0, 2.0], [3.0]], {"a": 1},
           True, (True, False), np.array([True]), np.array([1, True], dtype=object),  # bools, as check_real
           [1.0, True], (0.5, np.bool_(False)), [[1.0, 2.0], [3.0, True]], [2, False]]  # NumPy: numbers
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for value in good:
            out = check_real_array(value, "v")
            assert out.dtype == np.float64
            np.testing.assert_array_equal(out, np.asarray(value, dtype=np.float64))
        for value in bad:
            with pytest.raises(ParameterError, match=r"^v must be "):
                check_real_array(value, "v")


@pytest.mark.parametrize("name", ["amplitude_to_db", "db_to_amplitude", "power_to_db", "db_to_power"])
def test_db_helpers_refuse_none_and_complex(name):
    """None came back as NaN (numpy turns None into NaN) and a complex list lost its imaginary
    part; real numbers, arrays, NaN and inf behave as before."""
    fn = getattr(noisegen, name)
    arg = "value_db" if name.startswith("db_") else "value"
    for bad in (None, [0.5, None], np.array([None]), [[1.0], [2.0, 3.0]], 1j, [0.5, 1 + 1j], "0.5", ["1"]):
        with pytest.raises(ParameterError, match=f"^{arg} must be"):
            fn(bad)
    for good in (0.5, 2, np.float32(0.25), [0.5, 2.0], np.array([[1.0, math.nan, math.inf]])):
        expected = {"amplitude_to_db": lambda v: 20 * np.log10(np.maximum(np.abs(v), 1e-20)),
                    "power_to_db": lambda v: 10 * np.log10(np.maximum(v, 1e-30)),
                    "db_to_amplitude": lambda v: 10 ** (v / 20), "db_to_power": lambda v: 10 ** (v / 10)}[name]
        np.testing.assert_allclose(fn(good), expected(np.asarray(good, dtype=np.float64)), rtol=1e-12)


@pytest.mark.parametrize("name,per_decade", [("db_to_amplitude", 20.0), ("db_to_power", 10.0)])
def test_db_to_ratio_past_float64_is_a_parameter_error(name, per_decade):
    """db_to_amplitude(7000) was inf with numpy's 'overflow encountered in power'. Every finite
    level up to the stated limit gives a finite ratio; above it, a ParameterError that states it."""
    import re
    import warnings

    fn = getattr(noisegen, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ParameterError, match=r"^value_db must be at most [0-9.]+ dB") as info:
            fn(1e6)
        top = float(re.search(r"at most ([0-9.]+) dB", str(info.value)).group(1))
        assert np.isfinite(fn(np.linspace(-1e6, top, 1001))).all()
        for level in (np.nextafter(top + 0.01, np.inf), top + 1.0, 1e300, np.finfo(np.float64).max):
            for value in (level, [0.0, level], np.array([[level, math.nan]])):
                with pytest.raises(ParameterError, match="value_db"):
                    fn(value)
        out = fn([math.inf, -math.inf, math.nan, -1e300])  # non-finite levels map as in NumPy
        np.testing.assert_array_equal(out, [math.inf, 0.0, math.nan, 0.0])


@pytest.mark.parametrize("name,per_decade", [("db_to_amplitude", 20.0), ("db_to_power", 10.0)])
def test_db_to_ratio_of_a_float_has_the_bits_of_an_array_of_it(name, per_decade):
    # a Python float takes a short path (no array checks): the same NumPy power, the same bits and type,
    # up to the edge of that path (300 decades) and past it
    fn = getattr(noisegen, name)
    rng = np.random.default_rng(5)
    edge = 300.0 * per_decade
    levels = np.concatenate([rng.uniform(-150.0, 150.0, 20000), rng.uniform(-1.2 * edge, 1.2 * edge, 5000),
                             np.nextafter(edge, 0.0) * np.array([1.0, -1.0]), [edge, -edge, 0.0, -0.0, 6.0, -6.0]])
    for level in levels[levels < 308.0 * per_decade].tolist():  # (past ~308.25 decades: the overflow error)
        got, want = fn(level), fn(np.array([level]))[0]
        assert type(got) is np.float64 and got == want, level
    assert math.isnan(fn(math.nan)) and fn(math.inf) == math.inf and fn(-math.inf) == 0.0


@pytest.mark.parametrize("dtype", [None, np.float32(1.0), np.zeros(2, np.float32), "int16", np.int32, complex])
def test_dtype_must_name_float32_or_float64(dtype):
    # None (numpy reads it as float64) and values with a dtype attribute are no dtype
    for make in (lambda: noisegen.white_noise(8, dtype=dtype), lambda: noisegen.tone(freq_hz=440.0, sample_rate=SR,
                                                                                      n_samples=8, dtype=dtype)):
        with pytest.raises(ParameterError, match="dtype must be float32 or float64"):
            make()
    assert noisegen.white_noise(8, dtype="float32").dtype == np.float32 and noisegen.white_noise(8, dtype=float).dtype == np.float64


@pytest.mark.parametrize("value, shown", [(1e308, "1e+308"), (-1e300, "-1e+300"), (10**400, "..."), (np.int64(9), "got 9")])
def test_integer_errors_stay_short(value, shown):
    from noisegen._core.validation import check_int

    with pytest.raises(ParameterError, match="n must be an integer in") as err:
        check_int(value, "n", low=0, high=8)
    assert shown in str(err.value) and len(str(err.value)) < 120
    with pytest.raises(ParameterError) as err:
        noisegen.white_noise(10**400)
    assert len(str(err.value)) < 300


def test_ints_past_str_conversion_limit_are_shown_not_raised():
    # an int of more than 4300 digits has no str (sys.get_int_max_str_digits): the message describes it
    huge = 10**5000
    for name, call in [("min_gain_db", lambda: Gain(min_gain_db=huge)), ("p", lambda: Gain(p=huge)),
                       ("n_samples", lambda: noisegen.white_noise(huge)),
                       ("gain_db", lambda: noisegen.gain(np.ones(3), gain_db=[huge])),
                       ("params['gain_db']", lambda: Gain().apply_params(
                           np.ones(3), {"name": "Gain", "applied": True, "gain_db": -huge}, sample_rate=SR))]:
        with pytest.raises(ParameterError, match=re.escape(name)) as err:
            call()
        assert "an int of about 5001 digits" in str(err.value) and len(str(err.value)) < 300


def test_a_one_axis_array_of_two_is_told_its_shape():
    # "rir[0] must have shape at most 1 axes" (the bank's one-axis arrays)
    import noisegen

    with pytest.raises(ParameterError, match=r"^rir\[0\] must have shape \(n_samples,\), got shape \(2, 100\)$"):
        noisegen.ApplyImpulseResponse([np.zeros((2, 100))])


def test_a_silent_or_constant_rir_array_is_refused_at_once():
    # it was kept in the bank and refused ("rir must not be silent") at each draw of it, or used as a DC room
    import noisegen

    rng = np.random.default_rng(0)
    good = rng.standard_normal(50)
    vanishing = np.zeros(40)  # float64 values the bank's float32 holds as zeros: refused at every draw
    vanishing[[0, 7, 30]] = 1e-50, -3e-47, 2e-46
    for bad in (np.zeros(1), np.zeros(10, np.float32), np.full(20, 0.3), np.full(3, -1e-30), vanishing):
        for rirs, index in (([bad], 0), ([good, bad], 1), ((bad, good, good), 0)):
            # (the vanishing one: as any bank source below float32's normal range, refused for that)
            why = "peaks at .* below float32's normal range" if bad is vanishing else "must not be silent or one value"
            with pytest.raises(ParameterError, match=rf"^rir\[{index}\] {why}"):
                noisegen.ApplyImpulseResponse(rirs)
    t = noisegen.ApplyImpulseResponse([good, np.r_[0.0, 1.0], np.r_[0.5]], p=1.0)  # not constant, an impulse: kept
    for seed in range(8):
        assert np.isfinite(t(rng.standard_normal(100), sample_rate=SR, rng=seed)).all()


def test_one_silent_or_constant_rir_array_alone_is_refused_at_once_as_in_a_list():
    # ApplyImpulseResponse(np.zeros(50)) built and failed at every draw ("rir must not be silent"), and
    # ApplyImpulseResponse(np.full(50, 0.3)) convolved with the DC 'room' a list of it refuses
    import noisegen

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for bad in (np.zeros(1), np.zeros(50), np.full(20, 0.3), np.full(3, -1e-30), np.full(2, 1e-40)):
            # (1e-40 in float64: below float32's normal range, the bank's refusal of any such source)
            with pytest.raises(ParameterError, match=r"^rir (must not be silent or one value throughout|peaks at)"):
                noisegen.ApplyImpulseResponse(bad.astype(dtype))
        for good in (np.r_[0.0, 1.0], np.r_[-0.5], rng.standard_normal(50)):  # an impulse, a decay: rooms
            t = noisegen.ApplyImpulseResponse(good.astype(dtype), p=1.0)
            assert np.isfinite(t(rng.standard_normal(100), sample_rate=SR, rng=0)).all()


def test_a_silent_or_constant_array_in_a_noise_bank_given_as_rir_is_refused_at_once():
    # a NoiseBank keeps such arrays (a silent noise is a noise); as rir it failed every draw of one
    # ("rir must not be silent"), or convolved with the DC 'room' a list of the same arrays refuses
    import noisegen

    rng = np.random.default_rng(0)
    good = rng.standard_normal(50)
    for bad in (np.zeros(1), np.zeros(10), np.full(20, 0.3), np.full(3, -1e-30)):
        for make in (lambda a: noisegen.NoiseBank(a), lambda a: noisegen.NoiseBank(a, sample_rate=SR),
                     lambda a: noisegen.NoiseBank.from_arrays(a, sample_rate=SR)):
            for arrays, index in (([bad], 0), ([good, bad], 1), ((bad, good, good), 0)):
                with pytest.raises(ParameterError, match=rf"^rir\[{index}\] must not be silent or one value"):
                    noisegen.ApplyImpulseResponse(make(list(arrays)))
    for bank in (noisegen.NoiseBank([good, np.r_[0.0, 1.0], np.r_[0.5]]),
                 noisegen.NoiseBank([good, np.r_[0.5]], sample_rate=SR)):  # not constant, an impulse: kept
        t = noisegen.ApplyImpulseResponse(bank, p=1.0)
        for seed in range(6):
            assert np.isfinite(t(rng.standard_normal(100), sample_rate=SR, rng=seed)).all()


@pytest.mark.parametrize("low, high, bad, int_bad", [(0.0, None, -1.0, -1), (None, 5.0, 6.0, 6), (1.0, None, 0.5, 0)])
@pytest.mark.parametrize("low_inclusive, high_inclusive", [(True, True), (False, False), (True, False)])
def test_a_stated_range_offers_only_what_is_accepted(low, high, bad, int_bad, low_inclusive, high_inclusive):
    # "weights[0] must be in [0, inf], got -1": inf is refused, so an unbounded side reads open
    from noisegen._core.validation import check_int, check_real

    as_int = {"low": None if low is None else int(low), "high": None if high is None else int(high)}
    for check, value, kw in ((check_real, bad, dict(low=low, high=high, low_inclusive=low_inclusive,
                                                     high_inclusive=high_inclusive)),
                             (check_int, int_bad, as_int)):
        with pytest.raises(ParameterError) as refused:
            check(value, "x", **kw)
        opening, lo, hi, closing = re.search(r"([\[(])(\S+), (\S+)([\])]), got", str(refused.value)).groups()
        for end, closed in ((lo, opening == "["), (hi, closing == "]")):
            if closed:
                check(float(end) if check is check_real else int(end), "x", **kw)
            elif end in ("inf", "-inf"):
                with pytest.raises(ParameterError):
                    check(float(end), "x", **kw)
    with pytest.raises(ParameterError, match=r"weights\[0\] must be in \[0, inf\), got -1"):
        noisegen.OneOf([noisegen.Gain()], weights=[-1])


@pytest.mark.parametrize("rate", [1, 8000, 768000, 768001, 8339072, 2**31])
def test_audio_at_the_rate_asked_is_never_out_of_reach(rate):
    # audio already at the rate asked needs no resampling, whatever the rate: a damaged WAV header read
    # as 8,339,072 Hz (libsndfile reads it too) was refused as a tar member "above the 768000 Hz
    # noisegen.resample takes", decoded at its own rate
    from noisegen._core.validation import check_reach, out_of_reach

    assert out_of_reach(rate, rate) is None and check_reach(rate, rate, "x") == rate
    if rate > 768000:
        assert "above the 768000 Hz" in out_of_reach(rate, 16000)


class _Tagged(np.ndarray):
    """A user's ndarray subclass."""


@pytest.mark.parametrize("kind", ["memmap", "subclass"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_ndarray_subclass_in_gives_a_plain_ndarray_out(kind, dtype, tmp_path):
    # a memmap (or any subclass) came back as one from some calls (filters, TimeMask, PacketLoss,
    # Shift, Codec: a copy keeps the subclass), as a plain ndarray from others (Gain); every call
    # now returns a plain ndarray with the values the plain input gives
    plain = (0.1 * np.random.default_rng(0).standard_normal((2, 4001))).astype(dtype)
    if kind == "memmap":
        y = np.memmap(tmp_path / "y.raw", dtype=dtype, mode="w+", shape=plain.shape)
        y[:] = plain
    else:
        y = plain.copy().view(_Tagged)
    sr = 16000
    calls = [
        lambda a: noisegen.gain(a, gain_db=-3.0),
        lambda a: noisegen.lowpass(a, cutoff_hz=3000.0, sample_rate=sr),
        lambda a: noisegen.time_mask(a, start_s=0.05, duration_s=0.05, sample_rate=sr),
        lambda a: noisegen.packet_loss(a, sample_rate=sr, loss_rate=0.3, rng=0),
        lambda a: noisegen.clip(a, threshold=0.1),
        lambda a: noisegen.resample(a, orig_sample_rate=sr, target_sample_rate=8000),
        lambda a: noisegen.time_stretch(a, rate=1.25, sample_rate=sr),
        lambda a: noisegen.mix_at_snr(a, plain[::-1].copy(), snr_db=5.0),
        lambda a: noisegen.transforms.Shift(p=1.0)(a, sample_rate=sr, rng=0),
        lambda a: noisegen.transforms.TimeMask(p=1.0)(a, sample_rate=sr, rng=0),
        lambda a: noisegen.transforms.PacketLoss(p=1.0)(a, sample_rate=sr, rng=0),
        lambda a: noisegen.transforms.LowPassFilter(p=1.0)(a, sample_rate=sr, rng=0),
        lambda a: noisegen.transforms.PolarityInversion(p=1.0)(a, sample_rate=sr, rng=0),
        lambda a: noisegen.Compose([noisegen.transforms.Gain(p=1.0)])(a, sample_rate=sr, rng=0),
    ]
    for i, call in enumerate(calls):
        out = call(y)
        assert type(out) is np.ndarray and out.dtype == dtype, i
        np.testing.assert_array_equal(out, call(plain), err_msg=str(i))
    np.testing.assert_array_equal(np.asarray(y), plain)  # not mutated


@pytest.mark.parametrize("make, name", [
    (lambda: noisegen.AugmentStream([np.ones(10, np.float32)], None, sample_rate=1000, chunk_s=67108.865), "chunk_s"),
    (lambda: noisegen.AugmentStream([np.ones(10, np.float32)], None, sample_rate=16000, chunk_s=4194.3041), "chunk_s"),
    (lambda: noisegen.add_short_noises(np.ones(100), [np.ones(10)], sample_rate=1000, min_snr_db=3.1234567,
                                       max_snr_db=3.1234566), "max_snr_db"),
    (lambda: noisegen.time_stretch(np.ones(10), rate=256.00001, sample_rate=SR), "rate"),
    (lambda: Gain(min_gain_db=120.000001), "min_gain_db"),
])
def test_a_range_error_states_an_interval_that_refuses_the_value(make, name):
    """The bounds were written with :g: "chunk_s must be in (0, 67108.9], got 67108.865" (a value the
    interval it states takes in); the bound that refuses the value is now written in full."""
    with pytest.raises(ParameterError, match=re.escape(name)) as err:
        make()
    lo, hi, got = re.fullmatch(r".* must be in [\[(](\S+), (\S+)[\])], got (\S+)", str(err.value)).groups()
    assert not float(lo) <= float(got) <= float(hi), str(err.value)


@pytest.mark.parametrize("lo, hi", [(1.0000001, 1.0), (-3.0000004, -3.0000005), (12.345678901, 12.3456789)])
def test_a_min_above_max_is_shown_above_it(lo, hi):
    """Gain(min_gain_db=1.0000001, max_gain_db=1) said "got min_gain_db=1 > max_gain_db=1"."""
    with pytest.raises(ParameterError) as err:
        Gain(min_gain_db=lo, max_gain_db=hi)
    shown = re.fullmatch(r".*got min_gain_db=(\S+) > max_gain_db=(\S+)", str(err.value)).groups()
    assert float(shown[0]) > float(shown[1]), str(err.value)


@pytest.mark.parametrize("sr, f", [(16000, 7999.841), (16000, 0.15999998), (44100, 22049.5613), (8000, 3999.96005),
                                   (48000, 0.47999995), (16000, 9000.0), (16000, -1.0)])
def test_a_filter_frequency_error_shows_a_value_outside_its_range(sr, f):
    """check_freq wrote the refused value with :g: "cutoff_hz must be in [0.16, 7999.84] Hz ..., got 7999.84"."""
    with pytest.raises(ParameterError) as err:
        noisegen.lowpass(np.ones(10), cutoff_hz=f, sample_rate=sr)
    lo, hi, got = re.fullmatch(r"cutoff_hz must be in \[(\S+), (\S+)\] Hz .*, got (\S+)", str(err.value)).groups()
    assert not float(lo) <= float(got) <= float(hi), str(err.value)


@pytest.mark.parametrize("value", [2.0000001, -2.9999999, 0.5, 1e6 + 0.25])
def test_a_shift_in_samples_error_shows_a_fraction(value):
    """Shift(min_shift=2.0000001, shift_unit="samples") said "must be a whole number of samples ..., got 2"."""
    with pytest.raises(ParameterError) as err:
        noisegen.Shift(min_shift=min(value, -3e6), max_shift=value, shift_unit="samples")
    assert not float(str(err.value).rsplit("got ", 1)[1]).is_integer(), str(err.value)


def test_a_bool_array_is_not_called_integer_pcm():
    """A bool RIR was "integer dtype bool; ... convert with y.astype(np.float32) / 32768": no PCM to scale."""
    for call in (lambda a: noisegen.convolve_rir(np.zeros(100, np.float32), a),
                 lambda a: noisegen.mix_at_snr(np.zeros(100, np.float32), a, snr_db=3)):
        with pytest.raises(ParameterError) as err:
            call(np.ones(10, bool))
        assert "got dtype bool" in str(err.value) and "32768" not in str(err.value), str(err.value)


@pytest.mark.parametrize("dtype, convert", [(np.int16, "noise.astype(np.float32) / 32768"),
                                            (np.int32, "noise.astype(np.float32) / 2147483648"),
                                            (np.uint8, "(noise.astype(np.float32) - 128) / 128")])
def test_integer_pcm_hint_scales_by_its_own_width_and_names_the_argument(dtype, convert):
    """mix_at_snr(y, int32 noise) said "noise must be float ...; convert with y.astype(np.float32) / 32768":
    another argument's name, and int16's scale (int32 PCM so converted is 65536 times full scale)."""
    with pytest.raises(ParameterError) as err:
        noisegen.mix_at_snr(np.zeros(100, np.float32), np.ones(100, dtype), snr_db=3)
    assert str(err.value).endswith(f"convert with {convert}"), str(err.value)


def test_a_64_bit_integer_array_is_not_told_to_divide_by_its_own_full_scale():
    """np.array of int16 samples as Python ints (or a LongTensor) is int64: the hint said "/ 9223372036854775808",
    which made the PCM 2**48 times too quiet (-289 dB); no PCM is 64-bit, so it points at 16-bit's scale."""
    for dtype in (np.int64, np.uint64):
        with pytest.raises(ParameterError) as err:
            noisegen.gain(np.array([1000, -2000, 3000]).astype(dtype), gain_db=0.0)
        assert "y.astype(np.float32) / 32768 for 16-bit PCM" in str(err.value), str(err.value)
        assert "9223372036854775808" not in str(err.value) and "18446744073709551616" not in str(err.value)


class _HostTensor:
    """What a CPU torch tensor offers check_audio: no array interface, a ``numpy()`` method."""

    def numpy(self):
        return np.zeros(100, np.float32)


def test_a_host_tensor_gets_the_numpy_hint():
    """A CPU tensor as noise= was refused without the .numpy() hint a batch gets."""
    with pytest.raises(ParameterError, match=r"noise must be a numpy float array, got _HostTensor \(a tensor on "
                                             r"the CPU: pass noise\.numpy\(\)\)"):
        noisegen.mix_at_snr(np.zeros(100, np.float32), _HostTensor(), snr_db=3)
    with pytest.raises(ParameterError, match=r"got object <object object at 0x[0-9a-f]+>$"):  # no hint: its value
        check_audio(object())


def test_a_cpu_tensor_that_requires_grad_is_told_to_detach():
    # the hint was "pass y.numpy()", which torch refuses for a tensor that requires grad
    torch = pytest.importorskip("torch")
    from noisegen.transforms import Gain

    for tensor, hint in ((torch.zeros(10, requires_grad=True), "pass y.detach().numpy()"),
                         (torch.zeros(10), "pass y.numpy()")):
        with pytest.raises(ParameterError, match=re.escape(hint)):
            Gain(p=1.0)(tensor, sample_rate=16000)


def test_a_refusal_of_a_wrong_type_shows_the_value_too():
    """Refusals of a value of the wrong type named only its type: time_stretch(guide=nan) said "guide
    must be a numpy float array, got float", Compose(3.5) "... got float", AugmentStream's pipeline, the
    sources of a stream, a bank or AddShortNoises the same (found by sigfuzz)."""
    import noisegen as ng

    y = np.zeros(100, np.float32)
    calls = {
        "guide": lambda v: ng.time_stretch(y, rate=1.1, sample_rate=16000, guide=v),
        "y": lambda v: ng.gain(v, gain_db=1.0),
        "transforms": lambda v: ng.Compose(v),
        "pipeline": lambda v: ng.AugmentStream([y], v, sample_rate=16000),
        "source": lambda v: ng.AugmentStream(v, None, sample_rate=16000),
        "sounds": lambda v: ng.AddShortNoises(v),
        "rir": lambda v: ng.ApplyImpulseResponse(v),
    }
    for name, call in calls.items():
        with pytest.raises(ParameterError, match=rf"^{name} must be .*, got float 3\.25$"):
            call(3.25)


def test_a_refusal_of_a_wrong_type_of_pipeline_for_lhotse_shows_the_value_too():
    """As above, for the Lhotse adapter's pipeline (a test of its own: with the test extra alone, which has
    no Lhotse, the README's `pip install ".[test]" && pytest` failed on importing noisegen.lhotse)."""
    pytest.importorskip("lhotse")
    import noisegen.lhotse as nl

    with pytest.raises(ParameterError, match=r"^pipeline must be .*, got float 3\.25$"):
        nl.NoisegenAugment(3.25, 1)


def test_a_name_for_messages_must_be_a_str():
    """NoiseBank(name=...) and load_pipeline(name=...) took any value (NaN, a dict, None) as the words their
    messages call the argument by, without a word (found by sigfuzz)."""
    import noisegen as ng

    for bad in (float("nan"), {}, None, b"noise"):
        with pytest.raises(ParameterError, match=r"^name must be a str"):
            ng.NoiseBank([np.ones(100, np.float32)], sample_rate=16000, name=bad)
        with pytest.raises(ParameterError, match=r"^name must be a str"):
            ng.load_pipeline({"name": "Gain", "p": 1.0}, name=bad)
    assert len(ng.NoiseBank([np.ones(100, np.float32)], sample_rate=16000, name="rir")) == 1
    with pytest.raises(ParameterError, match=r"^config: cannot read pipeline file"):
        ng.load_pipeline("/nonexistent/pipeline.json", name="config")
