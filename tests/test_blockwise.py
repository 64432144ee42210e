"""Long recordings in bounded memory (issue 18.2): draws from a shape, exact output lengths,
streaming stages equal to one pass, the blockwise runner, and its use by augment and AugmentStream."""

from __future__ import annotations

import json
import os
import re
import warnings

import numpy as np
import pytest

import noisegen
from noisegen import NoisegenWarning, ParameterError
from noisegen.audio.blocks import FileBlocks, save_blocks
from noisegen.audio.segment import read_segment
from noisegen.batch import augment_folder, default_pipeline, replay
from noisegen.data import long_items
from noisegen.data.batch import chunk_starts, cut_chunk
from noisegen.effects.timescale_stream import PitchShiftStream, WsolaStream, speed_stream
from noisegen.transforms import (AddBackgroundNoise, AddColoredNoise, ApplyImpulseResponse, BandPassFilter, BitCrush,
                                 Clip, Compose, Gain, HighPassFilter, HighShelf, LowPassFilter, LowShelf, Normalize,
                                 OneOf, PeakingEQ, PitchShift, PolarityInversion, Resample, RoomSimulator, Shift,
                                 SomeOf, SpeedPerturb, TimeMask, TimeStretch, load_pipeline)
from noisegen.transforms.blockwise import apply_blockwise, blockwise_stages, blockwise_unsupported
from noisegen.transforms.shape import SignalShape

SR = 16000
_RNG = np.random.default_rng(0)
NOISE = [(_RNG.standard_normal(7001)).astype(np.float32)]
RIR = [(_RNG.standard_normal(901) * np.exp(-np.arange(901) / 150.0)).astype(np.float32)]


def _signal(shape, dtype=np.float32, seed=1):
    rng = np.random.default_rng(seed)
    n = shape[-1]
    return (0.3 * rng.standard_normal(shape) * np.sin(np.arange(n) / 300.0 + 0.3)).astype(dtype)


def _stages():
    """One pipeline per streaming stage type (p=1), and the must-show ones."""
    return {
        "gain": Gain(p=1.0), "polarity": PolarityInversion(p=1.0), "bitcrush": BitCrush(p=1.0),
        "lowpass": LowPassFilter(p=1.0), "highpass": HighPassFilter(p=1.0), "bandpass": BandPassFilter(p=1.0),
        "peaking": PeakingEQ(p=1.0), "lowshelf": LowShelf(p=1.0), "highshelf": HighShelf(p=1.0),
        "colored": AddColoredNoise(p=1.0), "noise": AddBackgroundNoise(NOISE, p=1.0),
        "noise_active": AddBackgroundNoise(NOISE, reference="active", p=1.0),
        "noise_absolute": AddBackgroundNoise(NOISE, noise_level="absolute", p=1.0),
        "rir": ApplyImpulseResponse(RIR, p=1.0), "rir_tail": ApplyImpulseResponse(RIR, keep_tail=True, p=1.0),
        "room": RoomSimulator(p=1.0), "speed": SpeedPerturb(factors=(0.9, 1.1), p=1.0),
        "stretch": TimeStretch(p=1.0), "pitch": PitchShift(p=1.0), "resample": Resample(p=1.0),
        "normalize": Normalize(p=1.0), "normalize_rms": Normalize(mode="rms", min_target_db=-20, max_target_db=-10,
                                                                  p=1.0),
        "default": Compose([SpeedPerturb(p=1.0), ApplyImpulseResponse(RIR, p=1.0), AddBackgroundNoise(NOISE, p=1.0),
                            Gain(p=1.0)]),
        "config": Compose([ApplyImpulseResponse(RIR, p=1.0), PitchShift(p=1.0), TimeStretch(p=1.0),
                           AddBackgroundNoise(NOISE, p=1.0)]),
        "chain": Compose([AddColoredNoise(p=1.0), OneOf([TimeStretch(p=1.0), PitchShift(p=1.0)]),
                          Normalize(mode="rms", p=1.0), SomeOf([Gain(p=1.0), LowPassFilter(p=1.0)], k=(0, 2))]),
    }


#: Stages whose blockwise output is the one-pass output bit for bit (no FFT, no reordered sums).
EXACT = {"gain", "polarity", "bitcrush", "lowpass", "highpass", "bandpass", "peaking", "lowshelf", "highshelf",
         "speed", "stretch", "pitch", "resample", "rir", "rir_tail", "room"}


def _blockwise(pipe, params, y, block):
    blocks = lambda: [y[..., a:a + block] for a in range(0, y.shape[-1], block)]  # noqa: E731
    parts = apply_blockwise(pipe, params, blocks, n=y.shape[-1], sample_rate=SR,
                            n_channels=None if y.ndim == 1 else y.shape[0], dtype=y.dtype)
    return np.concatenate(list(parts), axis=-1)


# ---------------------------------------------------------------- draws and lengths

LENGTH_CASES = ["speed", "stretch", "pitch", "rir", "rir_tail", "room", "resample", "default", "config", "chain"]


@pytest.mark.parametrize("name", LENGTH_CASES)
def test_output_length_is_the_applied_length(name):
    pipe = _stages()[name]
    for n in (0, 1, 2, 7, 333, 4001):
        for shape in ((n,), (2, n)):
            y = _signal(shape)
            for seed in range(3):
                params = pipe.draw_params(SignalShape(shape, y.dtype), sample_rate=SR, rng=seed)
                out = pipe.apply_params(y, params, sample_rate=SR)
                assert pipe.output_length(n, SR, params) == out.shape[-1], (name, shape, seed)


def _draw_cases():
    cases = dict(_stages())
    cases["length_draws"] = Compose([SpeedPerturb(p=0.5), TimeMask(p=0.7), Shift(shift_unit="fraction", p=0.7),
                                     AddBackgroundNoise(NOISE, p=0.8), TimeStretch(p=0.5)], shuffle=True)
    cases["noise_transform"] = AddBackgroundNoise(NOISE, noise_transform=Compose([TimeMask(p=1.0), Gain(p=0.5)]),
                                                  p=1.0)
    cases["tail_then_mask"] = Compose([ApplyImpulseResponse(RIR, keep_tail=True, p=0.6), TimeMask(p=1.0)])
    return cases


@pytest.mark.parametrize("name", sorted(_draw_cases()))
def test_shape_draws_equal_audio_draws(name):
    """Drawing for a SignalShape gives exactly the parameters a call on the audio records."""
    pipe = _draw_cases()[name]
    for shape in ((3001,), (2, 1999)):
        y = _signal(shape)
        for seed in range(12):
            drawn = pipe.draw_params(SignalShape(shape, y.dtype), sample_rate=SR, rng=seed)
            pipe(y, sample_rate=SR, rng=seed)
            assert drawn == pipe.last_params, (name, shape, seed)


@pytest.mark.parametrize("shape, dtype, needle", [
    ((5,), "x", "dtype must be float32 or float64, got 'x'"),  # was NumPy's TypeError
    ((5,), np.int16, "dtype must be float32 or float64, got int16"),  # drew for audio no call takes
    ((5,), "complex64", "dtype must be"), ((5,), None, "dtype must be"), ((5,), np.float32(1), "dtype must be"),
    ((0, 5), np.float32, "n_channels >= 1"), ((2, 3, 5), np.float32, "shape must be"),
])
def test_a_signal_shape_no_audio_has_is_refused(shape, dtype, needle):
    with pytest.raises(ParameterError, match=re.escape(needle)):
        SignalShape(shape, dtype)
    for dtype in (np.float32, "float64", np.dtype(">f4"), np.dtype("<f8")):  # audio's dtypes, any byte order
        assert SignalShape((2, 5), dtype).dtype in (np.float32, np.float64)


# ---------------------------------------------------------------- the runner

@pytest.mark.parametrize("name", sorted(_stages()))
@pytest.mark.parametrize("shape,dtype", [((3001,), np.float32), ((2, 2047), np.float64)])
def test_blockwise_equals_one_pass(name, shape, dtype):
    pipe = _stages()[name]
    y = _signal(shape, dtype)
    for seed in range(2):
        params = pipe.draw_params(SignalShape(shape, dtype), sample_rate=SR, rng=seed)
        ref = pipe.apply_params(y, params, sample_rate=SR)
        for block in (5, 64, 1000, shape[-1]):
            out = _blockwise(pipe, params, y, block)
            assert out.shape == ref.shape and out.dtype == ref.dtype
            if name in EXACT:
                np.testing.assert_array_equal(out, ref, err_msg=f"{name} seed={seed} block={block}")
            else:
                np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5, err_msg=f"{name} seed={seed} block={block}")


@pytest.mark.parametrize("name", ["config", "default", "noise_active"])
def test_blockwise_blocks_of_one_sample(name):
    pipe = _stages()[name]
    y = _signal((401,))
    params = pipe.draw_params(SignalShape(y.shape, y.dtype), sample_rate=SR, rng=4)
    ref = pipe.apply_params(y, params, sample_rate=SR)
    for block in (1, 2, 3):
        np.testing.assert_allclose(_blockwise(pipe, params, y, block), ref, rtol=0, atol=1e-5)


#: Stages that change the length (their streams hold samples back: some blocks they pass on are empty).
LENGTH_CHANGERS = ["speed", "stretch", "pitch", "resample"]
#: Stages that measure the whole signal first (a first pass of the stages before them).
MEASURERS = ["colored", "noise", "noise_active", "normalize", "normalize_rms", "resample"]


@pytest.mark.parametrize("head", LENGTH_CHANGERS)
@pytest.mark.parametrize("tail", MEASURERS)
def test_blockwise_after_a_length_change_with_short_inputs(head, tail):
    """A measuring stage fed through a stage that changes the length: short inputs and small blocks
    make that stage pass on empty blocks (AddColoredNoise's first pass raised on them)."""
    pipe = Compose([_stages()[head], _stages()[tail]])
    for n in (1, 17, 401):
        for shape in ((n,), (2, n)):
            y = _signal(shape)
            for seed in range(2):
                params = pipe.draw_params(SignalShape(shape, y.dtype), sample_rate=SR, rng=seed)
                ref = pipe.apply_params(y, params, sample_rate=SR)
                for block in (1, 64):
                    out = _blockwise(pipe, params, y, block)
                    assert out.shape == ref.shape, (head, tail, shape, seed, block)
                    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5,
                                               err_msg=f"{head}+{tail} shape={shape} seed={seed} block={block}")


@pytest.mark.parametrize("tail", sorted(_stages()))
def test_blockwise_after_a_length_change_to_nothing(tail):
    """A speed-up or stretch of a sample or two leaves nothing, and the one pass gives the stages after it
    that empty signal back as it is; blockwise, a reverb gave its tail (31 zeros for a 32-sample response
    with keep_tail, 887 for a room) and a noise at an SNR divided by zero (augment --blockwise-min-s 0)."""
    for head in (SpeedPerturb(factors=(5.0,), p=1.0), TimeStretch(min_rate=3.0, max_rate=3.0, p=1.0)):
        pipe = Compose([head, _stages()[tail], ApplyImpulseResponse([np.r_[1.0, np.zeros(30), 0.3]], keep_tail=True,
                                                                    p=1.0)])
        for shape, dtype in (((1,), np.float32), ((2, 1), np.float64), ((3, 2), np.float32)):
            if shape[-1] == 2 and isinstance(head, TimeStretch):
                continue  # (round(2 / 3) is 1)
            y = _signal(shape, dtype)
            for seed in range(2):
                params = pipe.draw_params(SignalShape(shape, dtype), sample_rate=SR, rng=seed)
                ref = pipe.apply_params(y, params, sample_rate=SR)
                assert ref.shape == shape[:-1] + (0,)
                for block in (1, 64):
                    out = _blockwise(pipe, params, y, block)
                    assert out.shape == ref.shape and out.dtype == ref.dtype, (tail, head, shape, seed, block)


@pytest.mark.parametrize("name", sorted(_stages()))
def test_blockwise_of_an_empty_input_is_the_one_pass(name):
    pipe = _stages()[name]
    for shape in ((0,), (2, 0)):
        y = _signal(shape)
        params = pipe.draw_params(SignalShape(shape, y.dtype), sample_rate=SR, rng=0)
        ref = pipe.apply_params(y, params, sample_rate=SR)
        out = _blockwise(pipe, params, y, 64)
        assert out.shape == ref.shape and out.dtype == ref.dtype
        np.testing.assert_array_equal(out, ref)


#: Pipelines that warn on a silent input or with a silent noise, with measured stages after the warning one.
SILENT_NOISE = [np.zeros(5000, np.float32)]
WARNING_CASES = {
    "noise_norm": Compose([AddBackgroundNoise(NOISE, p=1.0), Normalize(p=1.0), AddColoredNoise(p=1.0)]),
    "norm_noise_norm": Compose([Normalize(p=1.0), AddBackgroundNoise(NOISE, reference="active", p=1.0),
                                Normalize(mode="rms", p=1.0)]),
    "silent_noise": Compose([AddBackgroundNoise(SILENT_NOISE, p=1.0), Normalize(p=1.0), AddColoredNoise(p=1.0)]),
    "silent_noise_absolute": Compose([AddBackgroundNoise(SILENT_NOISE, noise_level="absolute", p=1.0),
                                      Normalize(p=1.0)]),
}


@pytest.mark.parametrize("name", sorted(WARNING_CASES))
@pytest.mark.parametrize("silent", [True, False])
def test_blockwise_warns_as_the_one_pass_once(name, silent):
    """Each stage's warning comes once, in order, with the one pass's words (the noise named): a stage
    is opened in every pass, and warned there again for each measured stage after it."""
    pipe = WARNING_CASES[name]
    for shape in ((3001,), (2, 3001)):
        y = np.zeros(shape, np.float32) if silent else _signal(shape)
        params = pipe.draw_params(SignalShape(shape, y.dtype), sample_rate=SR, rng=0)
        with warnings.catch_warnings(record=True) as one:
            warnings.simplefilter("always")
            ref = pipe.apply_params(y, params, sample_rate=SR)
        for block in (1000, shape[-1]):
            with warnings.catch_warnings(record=True) as blocks:
                warnings.simplefilter("always")
                out = _blockwise(pipe, params, y, block)
            assert [str(w.message) for w in blocks] == [str(w.message) for w in one], (name, silent, shape, block)
            np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("keep_tail", [False, True])
def test_long_reverb_then_splices_equal_one_pass_exactly(keep_tail):
    """Past one partition block (65536 samples) the reverb is still the one-pass reverb bit for bit, so the
    splice points of a stretch and a pitch shift after it (discrete choices) are the one-pass ones too."""
    pipe = Compose([ApplyImpulseResponse(RIR, keep_tail=keep_tail, p=1.0), PitchShift(p=1.0), TimeStretch(p=1.0)])
    y = _signal((140_001,))
    for seed in range(2):
        params = pipe.draw_params(SignalShape(y.shape, y.dtype), sample_rate=SR, rng=seed)
        ref = pipe.apply_params(y, params, sample_rate=SR)
        for block in (4099, 65536, 70_000):
            np.testing.assert_array_equal(_blockwise(pipe, params, y, block), ref)


@pytest.mark.parametrize("n", [1, 2, 31, 480, 2401, 9001])
def test_streams_equal_the_effects_exactly(n):
    y = _signal((2, n))
    for block in (1, 7, 480, 5000):
        if block < 7 and n > 480:
            continue
        pieces = lambda: [np.ascontiguousarray(y[:, a:a + block]) for a in range(0, n, block)]  # noqa: E731
        for rate in (0.6, 0.97, 1.0, 1.3, 2.5):
            s = WsolaStream(n, round(n / rate), SR, y.dtype)
            out = np.concatenate([s.process(b) for b in pieces()] + [s.flush()], axis=1)
            np.testing.assert_array_equal(out, noisegen.time_stretch(y, rate=rate, sample_rate=SR))
        for factor in (0.9, 1.1, 2 ** (1 / 12)):
            s = speed_stream(n, factor)
            out = np.concatenate([s.process(b) for b in pieces()] + [s.flush()], axis=1)
            np.testing.assert_array_equal(out, noisegen.speed(y, factor=factor, sample_rate=SR))
        for steps in (-3.3, 2.0, 5.5):
            s = PitchShiftStream(n, steps, SR, y.dtype)
            out = np.concatenate([s.process(b) for b in pieces()] + [s.flush()], axis=1)
            np.testing.assert_array_equal(out, noisegen.pitch_shift(y, n_steps=steps, sample_rate=SR))


@pytest.mark.parametrize("sample_rate", [22050, 44100])
def test_fast_stretch_streams_equal_one_pass_at_every_block_size(sample_rate):
    """At rates near 4 the last frames' ideal centres lie past the last one a frame may have, and
    the kernel searches around that cap: a stream that trimmed its buffer by the uncapped centres
    dropped columns those searches read (it read memory before its buffer: splices unlike one
    pass's, and unlike the same stream's in another run)."""
    for seed in range(12):
        for shape in ((9001,), (2, 9001)):
            y = _signal(shape, np.float64, seed=seed)[None] if len(shape) == 1 else _signal(shape, np.float64, seed)
            for block in (7, 480):
                pieces = [np.ascontiguousarray(y[:, a:a + block]) for a in range(0, y.shape[1], block)]
                for n_out in (2250, 2000, 3000):
                    s = WsolaStream(y.shape[1], n_out, sample_rate, y.dtype)
                    out = np.concatenate([s.process(b) for b in pieces] + [s.flush()], axis=1)
                    ref = noisegen.time_stretch(y, rate=y.shape[1] / n_out, sample_rate=sample_rate)
                    np.testing.assert_array_equal(out, ref, err_msg=f"seed {seed}, {shape}, block {block}, {n_out}")
                s = PitchShiftStream(y.shape[1], -24, sample_rate, y.dtype)
                out = np.concatenate([s.process(b) for b in pieces] + [s.flush()], axis=1)
                np.testing.assert_array_equal(out, noisegen.pitch_shift(y, n_steps=-24, sample_rate=sample_rate))


@pytest.mark.parametrize("rate", [0.8, 1.0, 1.25])
def test_stretch_stream_reads_missing_input_as_zeros_and_refuses_extra_input(rate):
    n = 3000
    y = _signal((1, n))
    for fed in (0, 1, 1000, 2999):  # fewer than declared: the rest is zeros, as in one pass
        s = WsolaStream(n, round(n / rate), SR, y.dtype)
        out = np.concatenate([s.process(np.ascontiguousarray(y[:, :fed])), s.flush()], axis=1)
        padded = np.concatenate([y[:, :fed], np.zeros((1, n - fed), y.dtype)], axis=1)
        np.testing.assert_array_equal(out, noisegen.time_stretch(padded, rate=rate, sample_rate=SR))
    s = WsolaStream(n, round(n / rate), SR, y.dtype)
    s.process(y[:, :2000])
    with pytest.raises(ParameterError, match="n_in=3000 samples was fed 3001"):
        s.process(y[:, :1001])


def test_stretch_of_a_signal_out_of_range_refuses_to_stream():
    y = _signal((2000,)) * np.float32(2.0**-70)
    s = WsolaStream(2000, 1700, SR, np.float32)
    s.process(y[None])
    with pytest.raises(ParameterError, match="peak"):
        s.flush()


def test_unsupported_transforms_are_named():
    pipe = Compose([Gain(p=1.0), Clip(p=1.0)])
    params = pipe.draw_params(None, sample_rate=SR, rng=0)
    assert blockwise_unsupported(pipe, params, sample_rate=SR) == "Clip"
    with pytest.raises(ParameterError, match="Clip"):
        _blockwise(pipe, params, _signal((100,)), 10)
    noisy = AddBackgroundNoise(NOISE, noise_transform=Gain(p=1.0), p=1.0)
    assert blockwise_unsupported(noisy, noisy.draw_params(SignalShape((9,)), sample_rate=SR, rng=0),
                                 sample_rate=SR) == "AddBackgroundNoise"
    skipped = Compose([Clip(p=0.0), Gain(p=1.0)])
    assert blockwise_unsupported(skipped, skipped.draw_params(None, sample_rate=SR, rng=0), sample_rate=SR) is None


def test_nonfinite_input_is_refused():
    y = _signal((1000,))
    y[700] = np.nan
    pipe = Gain(p=1.0)
    with pytest.raises(ParameterError, match="NaN"):
        _blockwise(pipe, pipe.draw_params(None, sample_rate=SR, rng=0), y, 100)


@pytest.mark.parametrize("name", ["colored", "noise", "noise_active"])
@pytest.mark.parametrize("shape", [(4001,), (2, 2999)], ids=str)
def test_a_mix_that_overflows_float32_is_refused_as_the_one_pass_refuses_it(name, shape):
    """A loud float32 input at a low SNR: the one pass refuses the overflow (ParameterError naming snr_db),
    while blockwise yielded blocks of inf samples (into a long file's output or a stream's chunks)."""
    pipe = _stages()[name]
    pipe.min_snr_db = pipe.max_snr_db = -45.0
    for peak, overflows in ((1e36, True), (1e33, False)):  # (noise 178x the signal: past 3.4e38, or not)
        y = _signal(shape, seed=3) * np.float32(peak / 0.3)
        params = pipe.draw_params(SignalShape(y.shape, y.dtype), sample_rate=SR, rng=1)
        for block in (1, 1000, y.shape[-1]):
            if not overflows:
                out = _blockwise(pipe, params, y, block)
                assert np.isfinite(out).all()
                np.testing.assert_allclose(out, pipe.apply_params(y, params, sample_rate=SR), rtol=1e-5)
                continue
            with pytest.raises(ParameterError, match="snr_db=-45 overflows float32"):
                pipe.apply_params(y, params, sample_rate=SR)
            with pytest.raises(ParameterError, match="snr_db=-45 overflows float32"):
                _blockwise(pipe, params, y, block)


@pytest.mark.parametrize("n_channels, blocks, needle", [
    (None, lambda y: [np.stack([y[:500], y[:500]]), np.stack([y[500:], y[500:]])], r"shape \(n_i,\)"),  # was flattened
    (2, lambda y: [y[:500], y[500:]], r"shape \(2, n_i\)"),  # was folded into two rows of 250
    (None, lambda y: [y[None, None]], "shape"),
    (None, lambda y: [np.arange(1000)], "integer"),  # PCM read as samples of hundreds
    (None, lambda y: [y.astype(complex)], "complex"),  # the imaginary part dropped
    (None, lambda y: [None], "NoneType"),  # was "NaN"
    (None, lambda y: [[[0.0], [0.0, 1.0]]], "block must be"),  # was NumPy's ValueError
    (None, lambda y: [y, y], "n=1000 samples in all, got at least 2000"),  # output past the declared length
])
def test_blocks_of_another_layout_or_count_are_refused(n_channels, blocks, needle):
    """Blocks were cast and reshaped to the declared layout whatever they were: a stereo block of a mono
    signal was run as one channel twice as long, integer or complex samples were taken as floats."""
    y = _signal((1000,))
    shape = (1000,) if n_channels is None else (n_channels, 1000)
    pipe = Compose([Gain(p=1.0), LowPassFilter(p=1.0)])
    params = pipe.draw_params(SignalShape(shape, np.float32), sample_rate=SR, rng=0)
    with pytest.raises(ParameterError, match=needle):
        list(apply_blockwise(pipe, params, lambda: blocks(y), n=1000, sample_rate=SR, n_channels=n_channels))


def test_params_are_checked_as_apply_params_checks_them():
    """apply_blockwise used ``params`` unchecked: another pipeline's raised KeyError or IndexError, and
    a HighShelf's ran the LowShelf at them (both record cutoff_hz and gain_db) where apply_params refuses."""
    y = _signal((1000,))
    shape = SignalShape(y.shape, np.float32)
    pipe = Compose([LowShelf(p=1.0), Gain(p=1.0)])
    good = pipe.draw_params(shape, sample_rate=SR, rng=0)
    other = json.loads(json.dumps(good))
    other["transforms"][1]["gain_db"] = "3"
    bad = [Compose([HighShelf(p=1.0), Gain(p=1.0)]).draw_params(shape, sample_rate=SR, rng=0),
           Gain(p=1.0).draw_params(shape, sample_rate=SR, rng=0), None, {**good, "indices": [0, 5]}, other,
           {**good, "transforms": good["transforms"][:1]}, {**good, "applied": "yes"}]
    for params in bad:
        with pytest.raises(ParameterError, match=r"^params"):
            _blockwise(pipe, params, y, 100)
        with pytest.raises(ParameterError, match=r"^params"):
            pipe.apply_params(y, params, sample_rate=SR)
        # the two public helpers too (KeyError 'indices' from a Gain's params)
        with pytest.raises(ParameterError, match=r"^params"):
            blockwise_unsupported(pipe, params, sample_rate=SR)
        with pytest.raises(ParameterError, match=r"^params"):
            blockwise_stages(pipe, params, n=1000, sample_rate=SR)
    assert blockwise_unsupported(pipe, good, sample_rate=SR) is None
    assert len(blockwise_stages(pipe, good, n=1000, sample_rate=SR)) == 2
    replayed = json.loads(json.dumps(good))
    np.testing.assert_allclose(_blockwise(pipe, replayed, y, 100), pipe.apply_params(y, good, sample_rate=SR),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["gain", "lowpass", "speed", "resample", "normalize_rms", "colored", "chain"])
def test_blocks_of_many_channels_and_few_samples_pass(name):
    """A block of n_channels=100 with fewer samples than channels (the last of a file, a stage's tail) was
    refused by the channels-last rule ("block has shape (100, 50) ... pass block.T") though its layout is
    declared; a channels-last block of a declared layout is still refused by that layout."""
    pipe = _stages()[name]
    y = _signal((100, 1030))
    params = pipe.draw_params(SignalShape(y.shape, np.float32), sample_rate=SR, rng=2)
    whole = pipe.apply_params(y, params, sample_rate=SR)
    for block in (50, 99, 1000):
        np.testing.assert_allclose(_blockwise(pipe, params, y, block), whole, rtol=1e-5, atol=1e-6)
    stereo = _signal((2, 120))
    with pytest.raises(ParameterError, match=r"block must have shape \(2, n_i\)"):
        list(apply_blockwise(pipe, pipe.draw_params(SignalShape(stereo.shape), sample_rate=SR, rng=2),
                             lambda: [stereo.T], n=120, sample_rate=SR, n_channels=2))


@pytest.mark.parametrize("n_channels", [None, 2, 64, 65, 100])
@pytest.mark.parametrize("name", ["gain", "speed", "chain"])
def test_an_empty_signal_of_any_declared_channels_passes(name, n_channels):
    """n=0 with n_channels=100 (an empty 100-channel file) was refused as channels-last ("y has shape
    (100, 0) ... pass y.T") though its layout is declared and any n > 0 of it ran."""
    pipe = _stages()[name]
    shape = (0,) if n_channels is None else (n_channels, 0)
    params = pipe.draw_params(SignalShape(shape, np.float64), sample_rate=SR, rng=3)
    out = list(apply_blockwise(pipe, params, lambda: iter([]), n=0, sample_rate=SR, n_channels=n_channels,
                               dtype=np.float64))
    assert [(o.shape, o.dtype) for o in out] == [(shape, np.float64)]


@pytest.mark.parametrize("kwargs, needle", [(dict(n=-5), "n must be"), (dict(n_channels=0), "n_channels must be"),
                                            (dict(dtype=np.int16), "dtype must be"), (dict(blocks=[]), "blocks must be")])
def test_bad_arguments_are_named(kwargs, needle):
    pipe = Gain(p=1.0)
    call = {**dict(blocks=lambda: [], n=10, sample_rate=SR, n_channels=None, dtype=np.float32), **kwargs}
    blocks = call.pop("blocks")
    with pytest.raises(ParameterError, match=needle):
        apply_blockwise(pipe, pipe.draw_params(None, sample_rate=SR, rng=0), blocks, **call)


# ---------------------------------------------------------------- files

@pytest.mark.parametrize("rate,channels", [(16000, 1), (44100, 2), (8000, 2), (48000, 1)])
def test_file_blocks_equal_the_one_pass_readers(tmp_path, rate, channels):
    path = str(tmp_path / "x.wav")
    y = _signal((channels, 30001))
    y = 0.9 * y / np.abs(y).max()  # within PCM's range: no clipping warning
    noisegen.save(path, y if channels > 1 else y[0], sample_rate=rate)
    for mono in (False, True):
        whole, _ = noisegen.load(path, sample_rate=SR, mono=mono)
        src = FileBlocks(path, sample_rate=SR, mono=mono, block_frames=777)
        assert src.n == whole.shape[-1]
        np.testing.assert_array_equal(np.concatenate(list(src()), axis=-1), whole)
        np.testing.assert_array_equal(np.concatenate(list(src()), axis=-1), whole)  # a second pass
        seg = read_segment(path, offset_s=0.3, duration_s=0.9, sample_rate=SR, mono=mono)
        src = FileBlocks(path, sample_rate=SR, mono=mono, offset_s=0.3, duration_s=0.9,
                         block_frames=1000)
        assert src.n == seg.shape[-1]
        np.testing.assert_array_equal(np.concatenate(list(src()), axis=-1), seg)


def _ogg(path, rate, channels, seconds=3.0, seed=5):
    import soundfile as sf

    y = _signal((channels, int(seconds * rate) + 17), seed=seed)
    sf.write(path, (0.5 * y / np.abs(y).max()).T, rate, format="OGG", subtype="VORBIS")
    return path


@pytest.mark.parametrize("rate,channels", [(16000, 1), (44100, 2), (22050, 1)])
def test_file_blocks_of_an_ogg_file_are_loads_samples_exactly(tmp_path, rate, channels):
    """load decodes Ogg Vorbis here, where libvorbis's floats differ by an ulp now and then, and a
    pitch shift's splices turned that into long items 0.38 away from the loaded ones: the blocks
    are decoded here too, in runs of whole pages, to the same bits for any block length."""
    from noisegen.audio.vorbis import VorbisFile

    path = _ogg(str(tmp_path / "x.ogg"), rate, channels)
    with VorbisFile.open(path) as native:
        whole_native = native.read(0, native.frames, np.float32)
    for block in (1, 999, 4096, 1 << 17):
        parts = list(FileBlocks(path, sample_rate=rate, block_frames=block)._vorbis.decode_blocks(
            whole_native.shape[0], block))
        np.testing.assert_array_equal(np.concatenate(parts), whole_native)
        assert block >= 1 << 17 or len(parts) > 1
    for mono in (False, True):
        whole, _ = noisegen.load(path, sample_rate=SR, mono=mono)
        for block in (1, 999, 1 << 17):
            src = FileBlocks(path, sample_rate=SR, mono=mono, block_frames=block)
            assert src.n == whole.shape[-1]
            np.testing.assert_array_equal(np.concatenate(list(src()), axis=-1), whole)
            np.testing.assert_array_equal(np.concatenate(list(src()), axis=-1), whole)  # a second pass


@pytest.mark.parametrize("rate,n", [(16000, 65537), (48000, 100001), (24000, 30001), (48000, 100321),
                                    (16000, 100321), (48000, 98880)])
def test_file_blocks_of_an_opus_file_end_as_load_ends(tmp_path, rate, n):
    """libsndfile decodes an Opus stream's last packet otherwise when a read starts inside it (off by
    up to 0.85): a last block of 321 frames at 48 kHz was such a read, a quarter of the block or not.
    The blocks are cut from load's reads, whatever their length."""
    import soundfile as sf

    if "OPUS" not in sf.available_subtypes("OGG"):
        pytest.skip("this libsndfile cannot write Opus")
    path = str(tmp_path / "x.opus.ogg")
    sf.write(path, 0.3 * np.sin(np.arange(n) * 0.03), rate, format="OGG", subtype="OPUS")
    whole, _ = noisegen.load(path)
    assert whole.shape[-1] == n
    for block in (1000, 4096, 11111):
        np.testing.assert_array_equal(np.concatenate(list(FileBlocks(path, sample_rate=rate, block_frames=block)())),
                                      whole, err_msg=f"block_frames={block}")


def test_file_blocks_of_an_mp3_count_the_decoded_frames(tmp_path, monkeypatch):
    """An MP3's header frame count is the decoder's estimate without a LAME/Xing tag (a Common
    Voice clip: 114,246 promised, 114,048 decoded). The one-pass readers read what is decoded;
    the blocks must too, not stop with 'gave fewer frames than promised'."""
    import soundfile as sf

    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile cannot write MP3")
    path = str(tmp_path / "x.mp3")
    sf.write(path, 0.5 * _signal((2, 20000)).T, 16000, format="MP3")
    decoded = sf.read(path, dtype="float32")[0].shape[0]
    real_info = sf.info
    monkeypatch.setattr(sf, "info", lambda p, *a, **k: _Overstated(real_info(p, *a, **k), 198))
    for mono in (True, False):
        whole = noisegen.load(path, sample_rate=SR, mono=mono)[0]
        src = FileBlocks(path, sample_rate=SR, mono=mono, block_frames=4096)
        assert src.frames == decoded and src.n == whole.shape[-1]
        # mpg123's float samples depend on how much is read at a time: both make the same reads
        np.testing.assert_array_equal(np.concatenate(list(src()), axis=-1), whole)
        seg = read_segment(path, offset_s=0.2, duration_s=5.0, sample_rate=SR, mono=mono)  # past the end: cut
        src = FileBlocks(path, sample_rate=SR, mono=mono, offset_s=0.2, duration_s=5.0, block_frames=4096)
        assert src.n == seg.shape[-1]
        np.testing.assert_array_equal(np.concatenate(list(src()), axis=-1), seg)


def test_mp3_blocks_and_segments_are_loads_samples_exactly(tmp_path, data_dir):
    """libsndfile's MP3 decoding goes wrong for a few milliseconds after some of the points where a
    read ends or a seek lands (bursts of 0.1 full scale at reads of 2**17 frames; a segment read
    after a seek, 0.16 from the loaded file's samples): every reader decodes an MP3 from its first
    frame in one read, as load does, so long items, segments and their blocks are load's samples."""
    import soundfile as sf

    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile cannot write MP3")
    path = str(tmp_path / "long.mp3")
    rate = 48000
    n = 20 * rate
    speech, _ = noisegen.load(str(sorted((data_dir / "speech").glob("*.wav"))[0]), sample_rate=rate)
    y = 0.5 * np.resize(speech, n)
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, format="MP3") as f:
        for a in range(0, n, 65536):
            f.write(y[a:a + 65536])
    whole, _ = noisegen.load(path)
    with sf.SoundFile(path) as f:  # what reads of 2**17 frames give: bursts of other samples
        parts = [f.read(1 << 17, dtype="float32") for _ in range(-(-f.frames // (1 << 17)))]
    assert np.max(np.abs(np.concatenate(parts) - whole)) > 1e-3  # (so this file tests something)
    for block in (4096, 1 << 17):
        src = FileBlocks(path, sample_rate=rate, block_frames=block)
        np.testing.assert_array_equal(np.concatenate(list(src())), whole)
    for offset_s, duration_s in ((3.3, 12.0), (0.5, None), (11.1, 0.7)):
        a = round(offset_s * rate)
        want = whole[a:] if duration_s is None else whole[a:a + round(duration_s * rate)]
        seg = read_segment(path, offset_s=offset_s, duration_s=duration_s, sample_rate=rate, mono=True)
        np.testing.assert_array_equal(seg, want)
        src = FileBlocks(path, sample_rate=rate, offset_s=offset_s, duration_s=duration_s, block_frames=999)
        np.testing.assert_array_equal(np.concatenate(list(src())), want)
    assert noisegen.info(path).frames == whole.shape[-1]


@pytest.mark.parametrize("mono", [False, True])
def test_a_file_holding_nan_read_in_blocks_at_another_rate_is_named_as_load_names_it(tmp_path, mono):
    # FileBlocks said "chunk must be finite" (the resampler's argument), noisegen augment of a long input too
    import soundfile as sf

    y = np.full((2, 3000), 0.1, np.float32)
    path = str(tmp_path / "nan.wav")
    for at in (0, 1500, 2999):
        y[1, at] = [np.nan, np.inf, -np.inf][at % 3]
        sf.write(path, y.T, 8000, subtype="FLOAT")
        y[1, at] = 0.1
        with pytest.raises(ParameterError) as whole:
            noisegen.load(path, sample_rate=SR, mono=mono)
        for block in (1, 1000, 4096):
            with pytest.raises(ParameterError) as blocks:
                list(FileBlocks(path, sample_rate=SR, mono=mono, block_frames=block)())
            assert str(blocks.value) == str(whole.value) and "NaN or inf" in str(blocks.value)


class _Overstated:
    """A soundfile info whose frame count is ``extra`` frames too many (an estimate)."""

    def __init__(self, info, extra):
        self._info, self.frames = info, info.frames + extra

    def __getattr__(self, name):
        return getattr(self._info, name)


def test_stream_of_long_mp3_items_equals_the_loaded_items(shared_data_dir, monkeypatch):
    """The shared corpus's Common Voice MP3 overstates its length: augmented in blocks, the stream
    still gives the loaded item's chunks (it skipped the file after 0 chunks)."""
    import noisegen.data.long_items as long_items

    folder = shared_data_dir / "speech" / "common_voice"
    if not any(folder.glob("*.mp3")):
        pytest.skip("no MP3 in the shared corpus")
    pipe = Compose([Gain(p=1.0), AddColoredNoise(p=1.0)])
    runs = []
    for limit in (1e9, 0.0):  # loaded whole, then every item in blocks
        monkeypatch.setattr(long_items, "BLOCKWISE_MIN_S", limit)
        stream = noisegen.AugmentStream(str(folder), pipe, sample_rate=SR, chunk_s=1.0, rng=3, shuffle=False)
        runs.append(list(stream))
    assert [c.source for c in runs[0]] == [c.source for c in runs[1]]
    for a, b in zip(*runs):
        assert a.params == b.params
        np.testing.assert_allclose(a.samples, b.samples, rtol=0, atol=1e-5)


@pytest.mark.parametrize("ext,subtype", [("wav", "PCM_16"), ("wav", "FLOAT"), ("flac", "PCM_16")])
def test_save_blocks_writes_the_bytes_of_save(tmp_path, ext, subtype):
    y = _signal((2, 10007))  # peaks above 1: integer subtypes clip, in both writers alike
    a, b = str(tmp_path / f"a.{ext}"), str(tmp_path / f"b.{ext}")
    if subtype == "FLOAT":
        noisegen.save(a, y, sample_rate=SR, subtype=subtype)
    else:
        with pytest.warns(NoisegenWarning, match="clips"):
            noisegen.save(a, y, sample_rate=SR, subtype=subtype)
    save_blocks(b, (y[:, i:i + 999] for i in range(0, y.shape[1], 999)), sample_rate=SR, n_channels=2,
                subtype=subtype)
    assert open(a, "rb").read() == open(b, "rb").read()


# ---------------------------------------------------------------- augment and the stream

def _inputs(folder):
    os.makedirs(folder)
    for name, y, rate in (("a.wav", _signal((40001,), seed=3), SR), ("b.wav", _signal((2, 33075), seed=4), 44100)):
        noisegen.save(os.path.join(folder, name), 0.9 * y / np.abs(y).max(), sample_rate=rate)  # no clipping
    return folder


CONFIG = [{"name": "ApplyImpulseResponse", "rir": "RIR", "p": 1.0}, {"name": "PitchShift", "p": 1.0},
          {"name": "TimeStretch", "p": 1.0}, {"name": "AddBackgroundNoise", "noise": "NOISE", "p": 1.0}]


def _config(data_dir):
    text = json.dumps(CONFIG).replace('"RIR"', json.dumps(str(data_dir / "rir")))
    return load_pipeline(json.loads(text.replace('"NOISE"', json.dumps(str(data_dir / "noise")))))


@pytest.mark.parametrize("which", ["default", "config"])
def test_augment_blockwise_equals_whole_file(tmp_path, data_dir, which):
    src = _inputs(str(tmp_path / "in"))
    pipe = (default_pipeline(noise_dir=data_dir / "noise", rir_dir=data_dir / "rir") if which == "default"
            else _config(data_dir))
    runs = {}
    for mode, min_s in (("whole", 1000.0), ("blocks", 0.1)):
        out = str(tmp_path / mode)
        augment_folder(src, out, pipeline=pipe, copies=2, seed=7, subtype="FLOAT", sample_rate=SR, progress=False,
                       blockwise_min_s=min_s)
        runs[mode] = {json.loads(l)["output"]: json.loads(l) for l in open(os.path.join(out, "manifest.jsonl"))}
    assert runs["whole"].keys() == runs["blocks"].keys()
    for name, line in runs["blocks"].items():
        ref = runs["whole"][name]
        assert line["blockwise"] is True and "blockwise" not in ref
        assert line["params"] == ref["params"] and line["n_samples"] == ref["n_samples"]
        assert line["peak_scale"] == pytest.approx(ref["peak_scale"], rel=1e-6)
        a, _ = noisegen.load(str(tmp_path / "whole" / name))
        b, _ = noisegen.load(str(tmp_path / "blocks" / name))
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)
        again, _ = replay(line, out_path=str(tmp_path / "replayed.wav"))  # made in blocks again: same bytes
        assert open(tmp_path / "replayed.wav", "rb").read() == open(tmp_path / "blocks" / name, "rb").read()


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_augment_webdataset_blockwise_equals_whole_file(tmp_path, data_dir, fmt):
    """Tar shards took each input whole (a 60-minute one: 1.5 GB): a long input's sample is now made in
    blocks into a file beside the tar and copied in, equal to the whole-file sample, and replays in blocks."""
    import io
    import tarfile

    import soundfile as sf

    src = _inputs(str(tmp_path / "in"))
    pipe = _config(data_dir)
    runs = {}
    for mode, min_s in (("whole", 1000.0), ("blocks", 0.1)):
        out = str(tmp_path / mode)
        augment_folder(src, out, pipeline=pipe, copies=2, seed=7, subtype="FLOAT" if fmt == "wav" else "PCM_16",
                       sample_rate=SR, progress=False, blockwise_min_s=min_s, output_format="webdataset",
                       shard_size=3, format=fmt)
        lines = {json.loads(l)["output"]: json.loads(l) for l in open(os.path.join(out, "manifest.jsonl"))}
        members = {}
        for name in sorted(lines):
            with tarfile.open(os.path.join(out, name)) as tf:
                members.update({(name, m.name): tf.extractfile(m).read() for m in tf.getmembers()})
        runs[mode] = lines, members
        assert sorted(n for n in os.listdir(out) if ".noisegen" not in n) == [  # no temporary files left
            "manifest.jsonl", "shard-000000.tar", "shard-000001.tar"]
    (whole_lines, whole), (block_lines, blocks) = runs["whole"], runs["blocks"]
    assert whole.keys() == blocks.keys() and len(blocks) == 8
    for (tar, member), data in blocks.items():
        if member.endswith(".json"):
            meta, ref = json.loads(data), json.loads(whole[tar, member])
            assert meta.pop("blockwise") is True and "blockwise" not in ref
            assert meta.pop("peak_scale") == pytest.approx(ref.pop("peak_scale"), rel=1e-6) and meta == ref
            audio = blocks[tar, member[:-len("json")] + fmt]
            a, _ = sf.read(io.BytesIO(whole[tar, member[:-len("json")] + fmt]), dtype="float32")
            b, _ = sf.read(io.BytesIO(audio), dtype="float32")
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-5 if fmt == "wav" else 2 ** -15)
            replay({**block_lines[tar], **json.loads(data)}, out_path=str(tmp_path / f"replayed.{fmt}"))
            assert open(tmp_path / f"replayed.{fmt}", "rb").read() == audio  # made in blocks again: same bytes


def test_augment_falls_back_to_whole_file_for_unstreamable_pipelines(tmp_path):
    src = _inputs(str(tmp_path / "in"))
    pipe = Compose([Gain(p=1.0), Clip(p=1.0)])
    augment_folder(src, str(tmp_path / "out"), pipeline=pipe, seed=1, progress=False, blockwise_min_s=0.1)
    lines = [json.loads(l) for l in open(tmp_path / "out" / "manifest.jsonl")]
    assert len(lines) == 2 and not any("blockwise" in l for l in lines)


@pytest.mark.parametrize("rate", [SR, 8000])
@pytest.mark.parametrize("where", [0, 4321, -1])
@pytest.mark.parametrize("channels", [1, 2])
def test_augment_fails_a_long_input_with_nan_without_reading_it_whole(tmp_path, monkeypatch, where, channels, rate):
    """NaN input samples fail the input in blocks, as in one pass; it was then processed whole (a long file
    read into memory only to fail), wherever the NaN lay."""
    import soundfile as sf

    import noisegen.batch.work as work

    src = tmp_path / "in"
    src.mkdir()
    y = _signal((channels, 9001))
    y[:, where] = np.nan
    sf.write(str(src / "x.wav"), y.T, rate, subtype="FLOAT")  # (noisegen.save refuses NaN)
    whole = []
    monkeypatch.setattr(work, "load", lambda *a, **k: whole.append(a) or noisegen.load(*a, **k))
    pipe = Compose([LowPassFilter(p=1.0), AddColoredNoise(p=1.0), Gain(p=1.0)])
    summary = augment_folder(str(src), str(tmp_path / "out"), pipeline=pipe, sample_rate=SR, progress=False,
                             blockwise_min_s=0.0)
    assert whole == [] and summary.n_failed == 1
    failure = json.loads(open(tmp_path / "out" / "failures.jsonl").readline())
    assert "NaN" in failure["error"], failure
    if rate != SR:  # (resampled in blocks, it said "chunk must be finite", the resampler's argument)
        assert "x.wav" in failure["error"] and "holds NaN or inf samples" in failure["error"], failure


@pytest.mark.parametrize("which", ["default", "config"])
@pytest.mark.parametrize("mono", [True, False])
def test_stream_long_items_give_the_chunks_of_loaded_items(tmp_path, data_dir, monkeypatch, which, mono):
    src = _inputs(str(tmp_path / "in"))
    pipe = (default_pipeline(noise_dir=data_dir / "noise", rir_dir=data_dir / "rir") if which == "default"
            else _config(data_dir))
    runs = []
    for min_s in (1000.0, 0.1):
        monkeypatch.setattr(long_items, "BLOCKWISE_MIN_S", min_s)
        stream = noisegen.AugmentStream(src, pipe, sample_rate=SR, chunk_s=0.3, hop_s=0.2, rng=3, mono=mono)
        runs.append(list(stream))
    whole, blocks = runs
    assert len(whole) == len(blocks)
    for a, b in zip(whole, blocks):
        assert (a.source, a.start, a.length, a.params) == (b.source, b.start, b.length, b.params)
        np.testing.assert_allclose(b.samples, a.samples, rtol=0, atol=1e-5)


@pytest.mark.parametrize("mono", [True, False])
def test_stream_long_ogg_items_give_the_chunks_of_loaded_items(tmp_path, data_dir, monkeypatch, mono):
    src = tmp_path / "in"
    src.mkdir()
    _ogg(str(src / "a.ogg"), SR, 1, seconds=2.5, seed=3)
    _ogg(str(src / "b.ogg"), 44100, 2, seconds=2.0, seed=4)
    pipe = _config(data_dir)
    runs = []
    for min_s in (1000.0, 0.1):
        monkeypatch.setattr(long_items, "BLOCKWISE_MIN_S", min_s)
        runs.append(list(noisegen.AugmentStream(str(src), pipe, sample_rate=SR, chunk_s=0.3, rng=3, mono=mono)))
    whole, blocks = runs
    assert len(whole) == len(blocks) > 10
    for a, b in zip(whole, blocks):
        assert (a.source, a.start, a.length, a.params) == (b.source, b.start, b.length, b.params)
        np.testing.assert_allclose(b.samples, a.samples, rtol=0, atol=1e-5)


def test_stream_long_items_spy_no_whole_load(tmp_path, monkeypatch):
    """A long item is never loaded whole (unless its pipeline cannot stream); len() still counts its chunks."""
    src = _inputs(str(tmp_path / "in"))
    monkeypatch.setattr(long_items, "BLOCKWISE_MIN_S", 0.1)
    loads, headers = [], []
    real = noisegen.data.stream._FileItems.load

    def spy(self, i, sample_rate, mono, max_n=None):
        y = real(self, i, sample_rate, mono, max_n=max_n)
        (headers if y is None else loads).append(i)  # None: only the header was read
        return y

    monkeypatch.setattr(noisegen.data.stream._FileItems, "load", spy)
    stream = noisegen.AugmentStream(src, Gain(p=1.0), sample_rate=SR, chunk_s=0.5, rng=0)
    chunks = list(stream)
    assert headers and not loads and len(chunks) == len(noisegen.AugmentStream(src, Gain(p=1.0), sample_rate=SR, chunk_s=0.5))


@pytest.mark.parametrize("target", [None, "clean"])
@pytest.mark.parametrize("mono", [True, False])
def test_stream_long_items_without_a_pipeline_are_read_in_blocks(tmp_path, monkeypatch, target, mono):
    """Without a pipeline a long item was loaded whole (544 MB peak for a 60-minute file against
    220 MB for a minute's). It is read in blocks now, never whole, with the chunks of the loaded
    item (resampled and mixed down as they come), and a NaN sample is reported, not yielded."""
    import soundfile as sf

    src = tmp_path / "in"
    _inputs(str(src))
    _ogg(str(src / "c.ogg"), SR, 1, seconds=2.5, seed=3)
    _ogg(str(src / "d.ogg"), 44100, 2, seconds=2.0, seed=4)
    runs = []
    for min_s in (1000.0, 0.1):
        monkeypatch.setattr(long_items, "BLOCKWISE_MIN_S", min_s)
        stream = noisegen.AugmentStream(str(src), None, sample_rate=SR, chunk_s=0.3, hop_s=0.2, rng=3, mono=mono,
                                        target=target)
        runs.append((list(stream), len(stream)))
    (whole, n_whole), (blocks, n_blocks) = runs
    assert len(whole) == len(blocks) == n_whole == n_blocks > 10
    for a, b in zip(whole, blocks):
        assert (a.source, a.start, a.length, a.params) == (b.source, b.start, b.length, b.params)
        np.testing.assert_allclose(b.samples, a.samples, rtol=0, atol=1e-5)
        assert (b.target is None) == (target is None)
        if target:
            np.testing.assert_array_equal(b.target, b.samples)
    loads = []
    real = noisegen.data.stream._FileItems.load
    monkeypatch.setattr(noisegen.data.stream._FileItems, "load",
                        lambda self, i, *a, **k: loads.append(real(self, i, *a, **k)) or loads[-1])
    list(noisegen.AugmentStream(str(src), None, sample_rate=SR, chunk_s=0.3, rng=3))
    assert loads and all(y is None for y in loads)  # headers only: every item read in blocks
    bad = tmp_path / "bad"
    bad.mkdir()
    y = np.sin(np.arange(3 * SR) * 0.05).astype(np.float32)
    y[2 * SR] = np.nan
    sf.write(str(bad / "nan.wav"), y, SR, subtype="FLOAT")
    with pytest.warns(noisegen.NoisegenWarning, match="NaN or inf"):
        chunks = list(noisegen.AugmentStream(str(bad), None, sample_rate=SR, chunk_s=0.5, rng=3))
    assert all(np.isfinite(c.samples).all() for c in chunks) and len(chunks) < 6


@pytest.mark.parametrize("subtype, channels", [("PCM_16", 1), ("PCM_24", 2)])
def test_stream_long_flac_items_cut_short_give_the_frames_load_gives(tmp_path, monkeypatch, subtype, channels):
    """A FLAC file cut short (an interrupted copy) loads as its whole frames with a warning; read in
    blocks, libsndfile failed once a block reached the cut ('lost sync'), so a long item lost its
    last blocks and was reported skipped. Such a file is read whole (a WAV file cut short is read in blocks)."""
    import soundfile as sf

    full = tmp_path / "full.flac"
    sf.write(str(full), _signal((20000, channels), seed=channels), SR, subtype=subtype)
    data = full.read_bytes()
    src = FileBlocks(str(full), sample_rate=SR)
    assert not src.truncated
    path = tmp_path / "in" / "cut.flac"
    path.parent.mkdir()
    for cut in (1, 7, 2000, len(data) // 3, len(data) // 2):  # in the last frame, and in earlier ones
        path.write_bytes(data[:len(data) - cut])
        with pytest.warns(NoisegenWarning, match="is truncated"):
            want, _ = noisegen.load(str(path))
        runs = []
        for min_s in (1000.0, 0.1):
            monkeypatch.setattr(long_items, "BLOCKWISE_MIN_S", min_s)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                chunks = list(noisegen.AugmentStream([str(path)], None, sample_rate=SR, chunk_s=0.3, shuffle=False,
                                                     mono=False))
            assert [str(w.message) for w in caught if "is truncated" not in str(w.message)] == [], cut
            runs.append(chunks)
        whole, blocks = runs
        assert sum(c.length for c in blocks) == want.shape[-1] and len(whole) == len(blocks), cut
        for a, b in zip(whole, blocks):
            assert (a.start, a.length) == (b.start, b.length)
            np.testing.assert_array_equal(b.samples, a.samples)
        assert FileBlocks(str(path), sample_rate=SR).truncated, cut
        assert not FileBlocks(str(path), sample_rate=SR, duration_s=0.2).truncated  # whole frames before the cut


@pytest.mark.parametrize("subtype, channels", [("PCM_16", 1), ("FLOAT", 2)])
def test_a_long_wav_file_cut_short_is_read_in_blocks_with_loads_warning_once(tmp_path, monkeypatch, subtype, channels):
    """A WAV file cut short (an interrupted recorder or copy) was read whole, however long: a 60-minute
    16 kHz one took 1.2 GB in augment where the whole file took 235 MB. Its whole frames are read in
    blocks now, with load's warning once, giving the outputs of whole-file processing."""
    import soundfile as sf

    src = tmp_path / "in"
    src.mkdir()
    path = src / "cut.wav"
    sf.write(str(path), _signal((channels, 20011), seed=channels).T, SR, subtype=subtype)
    path.write_bytes(path.read_bytes()[:-1001])
    with pytest.warns(NoisegenWarning, match="is truncated") as want_warnings:
        want, _ = noisegen.load(str(path), sample_rate=8000)
    blocks = FileBlocks(str(path), sample_rate=8000, block_frames=999)
    assert not blocks.truncated
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        passes = [np.concatenate(list(blocks()), axis=-1) for _ in range(2)]
    assert [str(w.message) for w in caught] == [str(w.message) for w in want_warnings]
    for got in passes:
        np.testing.assert_array_equal(got, want)
    pipe = Compose([AddColoredNoise(p=1.0), Gain(p=1.0)])  # (a noise measure: two passes over the file)
    runs, said = {}, {}
    for mode, min_s in (("whole", 1000.0), ("blocks", 0.1)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            augment_folder(str(src), str(tmp_path / mode), pipeline=pipe, seed=2, subtype="FLOAT", progress=False,
                           blockwise_min_s=min_s)
        runs[mode] = json.loads(open(tmp_path / mode / "manifest.jsonl").readline())
        said[mode] = [str(w.message) for w in caught]
    assert said["blocks"] == said["whole"] and len(said["whole"]) == 1 and "is truncated" in said["whole"][0]
    assert runs["blocks"]["blockwise"] is True and runs["blocks"]["params"] == runs["whole"]["params"]
    np.testing.assert_allclose(noisegen.load(str(tmp_path / "blocks" / "cut.aug0.wav"))[0],
                               noisegen.load(str(tmp_path / "whole" / "cut.aug0.wav"))[0], rtol=0, atol=1e-5)


@pytest.mark.parametrize("make", [lambda: TimeStretch(min_rate=1.1, max_rate=1.1, p=1.0),
                                  lambda: PitchShift(min_semitones=2, max_semitones=2, p=1.0)])
def test_stream_long_items_too_quiet_to_stretch_in_blocks_give_every_chunk(tmp_path, monkeypatch, make):
    """A streamed time stretch learns at the end that its input's peak was below 2**-60 (a float file
    far below full scale): the stream reported the item and dropped its last chunks, against len().
    The chunks not yet yielded now come from the item loaded whole."""
    import soundfile as sf

    src = tmp_path / "in"
    src.mkdir()
    sf.write(str(src / "quiet.wav"), (_signal((3 * SR + 11,), seed=2) * 1e-19).astype(np.float32), SR,
             subtype="FLOAT")
    pipe = make()
    runs = []
    for min_s in (1000.0, 0.1):
        monkeypatch.setattr(long_items, "BLOCKWISE_MIN_S", min_s)
        stream = noisegen.AugmentStream(str(src), pipe, sample_rate=SR, chunk_s=0.25, rng=3)
        with warnings.catch_warnings():
            warnings.simplefilter("error", NoisegenWarning)
            runs.append((list(stream), len(stream)))
    (whole, n_whole), (blocks, n_blocks) = runs
    assert len(whole) == len(blocks) == n_whole == n_blocks > 10
    for a, b in zip(whole, blocks):
        assert (a.start, a.length, a.params) == (b.start, b.length, b.params)
    np.testing.assert_array_equal(blocks[-1].samples, whole[-1].samples)


def test_rechunk_cuts_the_chunks_of_cut_chunk():
    rng = np.random.default_rng(5)
    for n in (1, 9, 100, 1001):
        y = rng.standard_normal((2, n)).astype(np.float32)
        for size, hop in ((4, 4), (4, 3), (4, 9), (100, 30), (1, 1), (2000, 7)):
            for block in (1, 3, 50, 5000):
                got = list(long_items.rechunk([y[:, a:a + block] for a in range(0, n, block)], n, size, hop))
                ref = [(s,) + cut_chunk(y, s, size) for s in chunk_starts(n, size, hop)]
                assert [(s, k) for s, _, k in got] == [(s, k) for s, _, k in ref]
                for (_, a, _), (_, b, _) in zip(got, ref):
                    np.testing.assert_array_equal(a, b)


def test_stream_targets_of_long_items_still_come(tmp_path, monkeypatch):
    """With target= a long item is augmented whole (paired targets have no blockwise form): targets still come."""
    src = _inputs(str(tmp_path / "in"))
    monkeypatch.setattr(long_items, "BLOCKWISE_MIN_S", 0.1)
    pipe = Compose([AddColoredNoise(p=1.0), TimeStretch(p=1.0)])
    chunks = list(noisegen.AugmentStream(src, pipe, sample_rate=SR, chunk_s=0.5, rng=0, target="clean"))
    assert chunks and all(c.target is not None and c.target.shape == c.samples.shape for c in chunks)


def _loud():
    return [Gain(min_gain_db=120, max_gain_db=120, p=1.0)] * 8  # 960 dB: past float32's range


@pytest.mark.parametrize("make", [lambda: Compose(_loud()),
                                  lambda: Compose([TimeStretch(p=1.0)] + _loud() + [AddColoredNoise(p=1.0)]),
                                  lambda: Compose([AddColoredNoise(p=1.0)] + _loud())])
def test_stream_long_items_raise_the_pipelines_errors_as_loaded_items_do(tmp_path, monkeypatch, make):
    """An error of the pipeline (a gain overflowing float32) raised out of a loaded item's iteration, but
    a long item reported it as an unusable file and was skipped with a warning: it is raised there too."""
    src = _inputs(str(tmp_path / "in"))
    pipe = make()
    for min_s in (1000.0, 0.1):
        monkeypatch.setattr(long_items, "BLOCKWISE_MIN_S", min_s)
        with warnings.catch_warnings():
            warnings.simplefilter("error", NoisegenWarning)
            with pytest.raises(ParameterError, match="overflows float32"):
                list(noisegen.AugmentStream(src, pipe, sample_rate=SR, chunk_s=0.5, rng=0, shuffle=False))


@pytest.mark.parametrize("pipe", [None, Gain(p=1.0), Compose([AddColoredNoise(p=1.0), TimeStretch(p=1.0)])])
def test_stream_long_items_that_fail_to_read_are_reported_as_loaded_items_are(tmp_path, monkeypatch, pipe):
    """What makes a long file unusable while it is read (NaN samples, a read that fails: the file gone
    between passes) is reported and the stream goes on, as for a loaded item (a vanished file raised)."""
    import soundfile as sf

    bad = tmp_path / "bad"
    bad.mkdir()
    y = np.sin(np.arange(3 * SR) * 0.05).astype(np.float32)
    y[2 * SR] = np.nan
    sf.write(str(bad / "nan.wav"), y, SR, subtype="FLOAT")
    monkeypatch.setattr(long_items, "BLOCKWISE_MIN_S", 0.1)
    with pytest.warns(NoisegenWarning, match="NaN or inf"):
        chunks = list(noisegen.AugmentStream(str(bad), pipe, sample_rate=SR, chunk_s=0.5, rng=3))
    assert all(np.isfinite(c.samples).all() for c in chunks) and len(chunks) < 6
    src = _inputs(str(tmp_path / "in"))
    real = FileBlocks.__call__

    def vanishing(self):
        for i, block in enumerate(real(self)):
            if i:
                raise FileNotFoundError(2, "no such audio file", self.path)
            yield block

    monkeypatch.setattr(FileBlocks, "__call__", vanishing)
    with pytest.warns(NoisegenWarning, match="FileNotFoundError"):
        chunks = list(noisegen.AugmentStream(src, pipe, sample_rate=SR, chunk_s=0.1, rng=3))
    assert all(np.isfinite(c.samples).all() for c in chunks)


@pytest.mark.parametrize("pipeline", ["None", "Gain(p=1.0)", "Compose([Gain(p=1.0), AddColoredNoise(p=1.0)])"])
@pytest.mark.parametrize("stereo", [False, True])
def test_stream_left_inside_a_long_item_at_exit_prints_no_traceback(tmp_path, pipeline, stereo):
    """A script that stopped inside a long item (an iterator kept, e.g. after stream.state_dict() for a
    checkpoint) printed "Exception ignored ... TypeError: catching classes that do not inherit from
    BaseException" (and SoundFile.__del__'s AttributeError) at exit: the open read was closed at teardown
    (where torch is imported, as in a training job, the modules go first)."""
    import subprocess
    import sys

    pytest.importorskip("torch")
    path = str(tmp_path / "long.wav")
    y = np.random.default_rng(0).uniform(-0.3, 0.3, (2, 8000 * 3) if stereo else 8000 * 3).astype(np.float32)
    noisegen.save(path, y, sample_rate=8000)
    code = (f"import torch\nimport noisegen\nfrom noisegen import *\nfrom noisegen.data import long_items\n"
            f"long_items.BLOCKWISE_MIN_S = 0.5\n"
            f"s = noisegen.AugmentStream([{path!r}], {pipeline}, sample_rate=8000, chunk_s=0.25, rng=0, mono=False)\n"
            f"it = iter(s)\nchunks = [next(it) for _ in range(5)]\nstate = s.state_dict()\nprint(chunks[-1].start)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0 and out.stdout.split() == ["8000"], out.stderr
    assert "Traceback" not in out.stderr and "Exception ignored" not in out.stderr, out.stderr


@pytest.mark.parametrize("shape, hot", [((1000,), [(7,)]), ((2, 333), [(1, 5)]), ((4001,), [(0,), (4000,)])])
def test_normalize_rms_of_a_level_below_float64s_range(shape, hot):
    """Normalize(mode="rms") of float64 audio whose RMS underflows (one sample at 5e-324, the rest silence) called it
    silent and returned it unchanged; one pass and blocks now set the level, as for any other input."""
    y = np.zeros(shape)
    for at in hot:
        y[at] = 5e-324
    pipe = Normalize(mode="rms", min_target_db=-20.0, max_target_db=-20.0, p=1.0)
    params = pipe.draw_params(SignalShape(shape, y.dtype), sample_rate=SR, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoisegenWarning)
        for out in (pipe.apply_params(y, params, sample_rate=SR), _blockwise(pipe, params, y, 97)):
            rms_db = 10 * np.log10(np.mean(out * out))
            assert abs(rms_db + 20.0) < 1e-9, rms_db
            assert np.array_equal(out != 0, y != 0)


@pytest.mark.parametrize("name", ["noise", "noise_active", "colored"])
@pytest.mark.parametrize("shape", [(3001,), (2, 2047)])
def test_a_float64_signal_whose_squares_are_subnormal_mixes_in_blocks_as_in_one_pass(name, shape):
    """A float64 signal near 1e-160 squares to subnormals: the one pass measures its power on a scaled copy
    (exactly_squared), the blocks measured it as it is, and mixed the noise 0.007 dB off the one pass's SNR."""
    pipe = _stages()[name]
    y = _signal(shape, np.float64) * 1e-160
    params = pipe.draw_params(SignalShape(shape, y.dtype), sample_rate=SR, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoisegenWarning)
        ref = pipe.apply_params(y, params, sample_rate=SR) / 1e-160
        for block in (64, 1000):
            out = _blockwise(pipe, params, y, block) / 1e-160
            np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12 * np.abs(ref).max(), err_msg=f"block={block}")
