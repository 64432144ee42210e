"""Invariants checked by hypothesis over drawn inputs (issue 14.5).

Each property is a law the library promises for every input, not a single
value: chunked reads equal one read (noise and filters with ``zi``), the SNR
of a mix is the one asked for, time-scale outputs have ``round(n / rate)``
samples, and replaying drawn parameters reproduces a pipeline's output.
``derandomize=True`` makes every run draw the same examples (CI is
deterministic); ``max_examples`` keeps the file to a few seconds.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import noisegen as ng
from noisegen.transforms import AddColoredNoise, Compose, Gain, HighPassFilter, OneOf

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None)

dtypes = st.sampled_from([np.float32, np.float64])
channels = st.sampled_from([None, 2])  # mono (n,) and (2, n)


def _partition(draw, total, max_parts=5):
    """Cut points splitting ``total`` samples into at most ``max_parts`` pieces (empty pieces allowed)."""
    cuts = sorted(draw(st.lists(st.integers(0, total), max_size=max_parts - 1)))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total])]


@st.composite
def partitions(draw, max_total=3000):
    total = draw(st.integers(0, max_total))
    return total, _partition(draw, total)


@SETTINGS
@given(kind=st.sampled_from(["white", "pink", "brown", "blue", 0.7]), split=partitions(), seed=st.integers(0, 2**32),
       n_channels=st.sampled_from([1, 2]), dtype=dtypes)
def test_noise_generator_reads_are_chunk_partition_invariant(kind, split, seed, n_channels, dtype):
    total, parts = split
    one = ng.NoiseGenerator(kind, sample_rate=16000, rng=seed, n_channels=n_channels, dtype=dtype).read(total)
    gen = ng.NoiseGenerator(kind, sample_rate=16000, rng=seed, n_channels=n_channels, dtype=dtype)
    pieces = np.concatenate([gen.read(n) for n in parts], axis=-1)
    np.testing.assert_array_equal(pieces, one)


@SETTINGS
@given(split=partitions(), order=st.integers(1, 8), cutoff=st.floats(50.0, 7000.0), n_channels=channels,
       dtype=dtypes, seed=st.integers(0, 2**32))
def test_butterworth_with_zi_is_chunk_partition_invariant(split, order, cutoff, n_channels, dtype, seed):
    total, parts = split
    shape = (total,) if n_channels is None else (n_channels, total)
    y = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    kw = dict(cutoff_hz=cutoff, sample_rate=16000, order=order)
    whole = ng.lowpass(y, **kw)
    state, out, at = "zeros", [], 0
    for n in parts:
        piece, state = ng.lowpass(y[..., at:at + n], zi=state, **kw)
        out.append(piece)
        at += n
    # the kernel is exact (no fast-math reassociation): the same recursion, sample for sample
    np.testing.assert_array_equal(np.concatenate(out, axis=-1), whole)


@SETTINGS
@given(snr_db=st.floats(-30.0, 50.0), n=st.integers(16, 4000), noise_len=st.integers(1, 5000),
       offset=st.integers(0, 10_000), n_channels=channels, dtype=dtypes, seed=st.integers(0, 2**32))
def test_mix_at_snr_law(snr_db, n, noise_len, offset, n_channels, dtype, seed):
    """P_y / P_(out - y) = 10 ** (snr_db / 10) for every SNR, length, offset and wrap-around."""
    g = np.random.default_rng(seed)
    shape = (n,) if n_channels is None else (n_channels, n)
    y = g.standard_normal(shape).astype(dtype)
    noise = g.standard_normal(noise_len).astype(dtype) + 0.1
    out = ng.mix_at_snr(y, noise, snr_db=snr_db, noise_offset=offset)
    assert out.dtype == dtype and out.shape == y.shape
    added = out.astype(np.float64) - y.astype(np.float64)
    measured = 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean(added ** 2))
    assert abs(measured - snr_db) < (0.05 if dtype == np.float32 else 1e-6)


@SETTINGS
@given(n=st.integers(1, 6000), rate=st.floats(0.5, 2.0), method=st.sampled_from(["wsola", "phase_vocoder"]),
       n_channels=channels, dtype=dtypes)
def test_time_stretch_length_law(n, rate, method, n_channels, dtype):
    shape = (n,) if n_channels is None else (n_channels, n)
    y = np.random.default_rng(n).standard_normal(shape).astype(dtype)
    out = ng.time_stretch(y, rate=rate, sample_rate=16000, method=method)
    assert out.shape == shape[:-1] + (round(n / rate),) and out.dtype == dtype


@SETTINGS
@given(n=st.integers(1, 6000), factor=st.floats(0.8, 1.25), n_channels=channels, dtype=dtypes)
def test_speed_length_law(n, factor, n_channels, dtype):
    shape = (n,) if n_channels is None else (n_channels, n)
    y = np.random.default_rng(n).standard_normal(shape).astype(dtype)
    out = ng.speed(y, factor=factor, sample_rate=16000)
    assert out.shape == shape[:-1] + (round(n / factor),) and out.dtype == dtype


def _pipeline():
    return Compose([
        Gain(min_gain_db=-12.0, max_gain_db=6.0, p=0.7),
        OneOf([AddColoredNoise(min_snr_db=5.0, max_snr_db=30.0, p=1.0),
               HighPassFilter(min_cutoff_hz=60.0, max_cutoff_hz=400.0, p=1.0)], p=0.8),
    ], p=1.0)


@SETTINGS
@given(seed=st.integers(0, 2**32), n=st.integers(1, 4000), n_channels=channels, dtype=dtypes)
def test_replay_of_drawn_params_equals_the_call(seed, n, n_channels, dtype):
    """``apply_params(draw_params(...))`` equals a call with the same rng, and replays exactly."""
    shape = (n,) if n_channels is None else (n_channels, n)
    y = (0.1 * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)
    called = _pipeline()
    out = called(y, sample_rate=16000, rng=seed)
    t = _pipeline()
    params = t.draw_params(y, sample_rate=16000, rng=seed)
    assert params == called.last_params
    replayed = t.apply_params(y, params, sample_rate=16000)
    np.testing.assert_array_equal(replayed, out)
    np.testing.assert_array_equal(_pipeline().apply_params(y, params, sample_rate=16000), out)
