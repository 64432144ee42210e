"""Irrational resampling ratios (pitch shifts) through a nearby fraction: noisegen._design.ratios."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from noisegen import pitch_shift
from noisegen._design.ratios import (_NEAR_BOUNDS, NEAR_MAX_DRIFT, NEAR_MAX_ERROR, NEAR_MAX_PHASES,
                                     NEAR_OUTPUTS_PER_PHASE, NEAR_SHORT_PHASES, NearRatio,
                                     best_fraction, best_fractions, exact_ratio, near_ratio)
from noisegen._design.kaiser import N_PHASES, PASSBAND, cutoff_cell, design_cells, kaiser_table
from noisegen._design.resample import Plan, cached_plan, interpolated_rows, max_shift
from noisegen._kernels.cpu.tables import last_tap
from noisegen._kernels.cpu import resample as cpu_kernels
from noisegen.effects.resample import resample_to_length as _apply
from noisegen.effects.timescale_stream import LengthResampler, PitchShiftStream


def _drift(frac, step, n_out):
    """Largest shift of an output instant (input samples) when ``frac`` stands in for ``step``."""
    return abs(float(frac) - step) * n_out


def _within(frac, step, n_out):
    """``frac`` may stand in for ``step`` over ``n_out`` outputs: the drift and the pitch bounds."""
    return _drift(frac, step, n_out) <= NEAR_MAX_DRIFT and abs(float(frac) - step) <= NEAR_MAX_ERROR * step


@pytest.mark.parametrize("n_steps", [-11.7, -4.0, -1.1, -0.37, 0.05, 1.7, 3.9, 7.3])
@pytest.mark.parametrize("n_out", [1, 100, 16000, 64000, 480000, 10**8])
def test_near_ratio_takes_the_fewest_phases_within_the_bounds(n_steps, n_out):
    ratio = 2.0 ** (-n_steps / 12)  # outputs per input, as pitch_shift resamples
    step = 1.0 / ratio
    near = near_ratio(ratio, n_out)
    most = NEAR_MAX_PHASES if n_out >= NEAR_OUTPUTS_PER_PHASE * NEAR_MAX_PHASES else NEAR_SHORT_PHASES
    if isinstance(near, NearRatio):
        assert near.numerator <= most
        assert _within(Fraction(near.denominator, near.numerator), step, n_out)
        for bound in _NEAR_BOUNDS:  # every smaller table misses a bound
            if bound < near.numerator:
                assert not _within(Fraction(step).limit_denominator(bound), step, n_out)
        assert Plan(near, np.float32).rational
    else:  # no fraction of at most `most` phases: the interpolating kernel, as before
        assert near == ratio and isinstance(near, float)
        assert not _within(Fraction(step).limit_denominator(most), step, n_out)
        assert not Plan(near, np.float32).rational


def test_best_fraction_is_limit_denominator():
    """The int-only continued fraction gives Fraction.limit_denominator's answer, ties included
    (0.5 with one phase: 0, the lower candidate), over random values and every bound used."""
    rng = np.random.default_rng(3)
    values = [*rng.uniform(1e-3, 300, 400), *(2.0 ** rng.uniform(-8, 8, 400)), *(2.0 ** (rng.uniform(-12, 12, 200) / 12)),
              0.5, 1.5, 2.5, 1 / 3, 0.9, 1.1, 44100 / 16000, 1e-9, 1e9, 3.0, np.float64(0.7), np.float32(1.3)]
    for value in values:
        for bound in (1, 2, 3, *_NEAR_BOUNDS, 1000, 1024, 10**6):
            expected = Fraction(float(value)).limit_denominator(bound)
            assert best_fraction(value, bound) == (expected.numerator, expected.denominator), (value, bound)
        bounds = sorted({1, 2, 3, *_NEAR_BOUNDS, 1000, 1024, 10**6})  # one expansion for every bound in turn
        assert list(best_fractions(value, bounds)) == [best_fraction(value, b) for b in bounds], value
    assert exact_ratio(0.9) == Fraction(9, 10) and exact_ratio(2 ** 0.5) == 2 ** 0.5


def test_exact_fractions_pass_through():
    for frac in (Fraction(9, 10), Fraction(160, 441), Fraction(1, 3)):
        assert near_ratio(frac, 10**6) is frac
    assert not isinstance(near_ratio(Fraction(9, 10), 5), NearRatio)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 3e-6)])
@pytest.mark.parametrize("n_steps", [-4.0, -1.1, 1.7, 3.9, 7.3])
def test_near_plan_weighs_as_the_interpolating_kernel_at_the_same_instants(dtype, tol, n_steps):
    """The rows of a NearRatio's table are the interpolated table's, blended at the phases
    j / up: its outputs are the interpolating kernel's at the instants k * down / up."""
    ratio = 2.0 ** (-n_steps / 12)
    x = np.random.default_rng(5).standard_normal((2, 3001)).astype(dtype)
    near, out, reference, same_half = _near_and_interpolated(x, ratio, int(x.shape[1] * ratio))
    assert isinstance(near, NearRatio) and out.dtype == dtype and same_half
    np.testing.assert_allclose(out, reference, rtol=0, atol=tol * np.max(np.abs(reference)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("up", [1, 7, 49, 128, 509, 1024])
def test_near_plan_rows_are_the_numpy_blend(dtype, up):
    """The plan's rows (:func:`noisegen._kernels.cpu.tables.blend_rows`) are the NumPy blend
    ``low + (high - low) * weight`` with every step rounded in the table's dtype, bit for bit,
    and its window ends at the last column holding a tap (:func:`~.tables.last_tap`)."""
    cell = cutoff_cell(0.87)
    _, table = kaiser_table(N_PHASES + 1, N_PHASES, PASSBAND * cell, cell, np.dtype(dtype).char)
    pos = np.arange(up) * (N_PHASES / up)
    lo = pos.astype(np.intp)
    weight = (pos - lo).astype(dtype)[:, None]
    low = table[lo]
    expected = ((table[lo + 1] - low) * weight + low).astype(dtype)
    _, rows = interpolated_rows(up, cell, np.dtype(dtype).char)
    assert rows.dtype == dtype and np.array_equal(rows, expected)
    cols = np.flatnonzero(rows.any(axis=0))
    assert last_tap(rows) == cols[-1] + 1 and last_tap(np.zeros((3, 16), dtype)) == 1
    with_nan = np.zeros((2, 16), dtype)
    with_nan[1, 9] = np.nan
    assert last_tap(with_nan) == 10


def _near_and_interpolated(x, ratio, n_out):
    """``(near ratio, its output, the interpolating kernel's output at its instants, whether its
    plan has the interpolated table's half-width)`` for ``x`` resampled to ``n_out`` samples."""
    near = near_ratio(ratio, n_out)
    dtype = x.dtype
    cell = cutoff_cell(min(1.0, float(near)))
    spec, table = kaiser_table(N_PHASES + 1, N_PHASES, PASSBAND * cell, cell, np.dtype(dtype).char)
    lead = -(-(spec.half + 7) // 8) * 8
    xp = np.zeros((x.shape[0], lead + x.shape[1] + 2 * table.shape[1] + 16), dtype)
    xp[:, lead : lead + x.shape[1]] = x
    reference = np.empty((x.shape[0], n_out), dtype)
    cpu_kernels.resample_interp(xp, -lead, 0, float(near.denominator) / near.numerator, spec.half, N_PHASES,
                                table, reference)
    same_half = cached_plan(near, np.dtype(dtype).char).half == spec.half
    return near, _apply(x, near, n_out), reference, same_half


@pytest.mark.parametrize("chunks", [[1] * 40 + [2000], [64, 65, 1000, 1001], [3001]])
@pytest.mark.parametrize("n_steps", [-1.7, 3.9])
def test_near_ratio_streams_bit_for_bit(chunks, n_steps):
    x = np.random.default_rng(7).standard_normal((2, sum(chunks))).astype(np.float32)
    ratio = 2.0 ** (-n_steps / 12)
    n_out = round(x.shape[1] * ratio)
    near = near_ratio(ratio, n_out)
    assert isinstance(near, NearRatio)
    whole = _apply(x, near, n_out)
    stream, parts, at = LengthResampler(near, n_out), [], 0
    for c in chunks:
        parts.append(stream.process(x[:, at : at + c]))
        at += c
    parts.append(stream.flush())
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


@pytest.mark.parametrize("n", [4000, 16000, 64000])
@pytest.mark.parametrize("n_steps", [-3.3, 1.7, 3.9])
def test_pitch_shift_through_a_near_ratio_streams_and_keeps_its_length(n, n_steps):
    y = np.sin(2 * np.pi * 220.0 * np.arange(n) / 16000).astype(np.float32)
    whole = pitch_shift(y, sample_rate=16000, n_steps=n_steps)
    stream = PitchShiftStream(n, n_steps, 16000, np.float32)
    parts = [stream.process(y[None, a : a + 1000]) for a in range(0, n, 1000)] + [stream.flush()]
    assert whole.shape == (n,)
    np.testing.assert_array_equal(np.concatenate(parts, axis=1)[0], whole)


def test_max_shift_is_the_largest_shift_over_every_output():
    for up in range(1, 70):
        for down in range(1, 140):
            k = np.arange(8 * up)
            for half in (1, 8, 13, 61):
                assert max_shift(up, down, half) == int(np.max(((k * down) // up + 1 - half) % 8)), (up, down, half)


def test_tables_of_more_than_512_phases_only_for_clips_that_pay_them_back():
    rng = np.random.default_rng(11)
    shifts = 2.0 ** (rng.uniform(-4, 4, 300) / 12)
    for n_out in (16000, 64000, 65535):  # never more than 512 phases below 64 outputs per phase of 1024
        nears = [near_ratio(s, n_out) for s in shifts]
        assert all(isinstance(r, float) or r.numerator <= NEAR_SHORT_PHASES for r in nears)
    long = [near_ratio(s, 30 * 16000) for s in shifts]  # 30 s: most shifts now find a table
    assert any(not isinstance(r, float) and r.numerator > NEAR_SHORT_PHASES for r in long)
    assert np.mean([not isinstance(r, float) for r in long]) > 0.85


def test_a_1024_phase_table_weighs_as_the_interpolating_kernel():
    """A 5 s clip whose shift needs more than 512 phases: the same blended rows, the same outputs."""
    n_out = 80000
    ratio = next(r for r in 2.0 ** (np.linspace(-4, 4, 401) / 12)
                 if not isinstance(near_ratio(r, n_out), float) and near_ratio(r, n_out).numerator > NEAR_SHORT_PHASES)
    x = np.random.default_rng(9).standard_normal((1, int(n_out / ratio) + 1)).astype(np.float32)
    near, out, reference, same_half = _near_and_interpolated(x, ratio, n_out)
    assert isinstance(near, NearRatio) and near.numerator > NEAR_SHORT_PHASES and same_half
    np.testing.assert_allclose(out, reference, rtol=0, atol=2e-6 * np.max(np.abs(reference)))


@pytest.mark.parametrize("chunks", [[7] * 30 + [79790], [40000, 40001], [80001]])
def test_a_1024_phase_table_streams_bit_for_bit(chunks):
    n_out = 80000
    ratio = next(r for r in 2.0 ** (np.linspace(-4, 4, 401) / 12)
                 if not isinstance(near_ratio(r, n_out), float) and near_ratio(r, n_out).numerator > NEAR_SHORT_PHASES)
    x = np.random.default_rng(8).standard_normal((1, sum(chunks))).astype(np.float32)
    near = near_ratio(ratio, n_out)
    stream, parts, at = LengthResampler(near, n_out), [], 0
    for c in chunks:
        parts.append(stream.process(x[:, at : at + c]))
        at += c
    parts.append(stream.flush())
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), _apply(x, near, n_out))


@pytest.mark.parametrize("ratio", [Fraction(9, 10), Fraction(11, 10), NearRatio(49, 55)])
@pytest.mark.parametrize("n_in", [1, 500, 3000])
def test_a_stream_fed_fewer_inputs_than_its_length_reads_zeros_past_them(ratio, n_in):
    """flush() pads with zeros through the last input the last output reads (it used to pad a
    fixed few, and the outputs past them read past the buffer)."""
    n_out = 4000
    x = np.random.default_rng(4).standard_normal((1, n_in)).astype(np.float32)
    stream = LengthResampler(ratio, n_out)
    got = np.concatenate([stream.process(x), stream.flush()], axis=1)
    np.testing.assert_array_equal(got, _apply(x, ratio, n_out))


@pytest.mark.parametrize("semitones", [0.01, 1.0, 4.0, 9.0])
def test_design_cells_designs_every_cell_random_ratios_meet(semitones, tmp_path, monkeypatch):
    # what noisegen warmup designs ahead of time (on disk): afterwards any ratio in the range is a hit
    monkeypatch.setenv("NOISEGEN_CACHE_DIR", str(tmp_path))
    lowest = 2.0 ** (-semitones / 12)
    kaiser_table.cache_clear()
    try:
        count = design_cells(lowest, "f")
        assert count == -int(np.floor(np.log2(lowest) * 192)) == kaiser_table.cache_info().currsize
        assert len(list((tmp_path / "designs").iterdir())) == count
        misses = kaiser_table.cache_info().misses
        ratios = np.concatenate([[lowest, np.nextafter(1.0, 0.0)], np.random.default_rng(0).uniform(lowest, 1.0, 500)])
        for ratio in ratios:
            cell = cutoff_cell(float(ratio))
            kaiser_table(N_PHASES + 1, N_PHASES, PASSBAND * cell, cell, "f")
        assert kaiser_table.cache_info().misses == misses
    finally:
        kaiser_table.cache_clear()


def test_interpolated_tables_and_plans_are_kept_within_a_byte_bound(tmp_path, monkeypatch):
    """The tables of cut-off cells far below 1 hold up to 57 MB each: the in-memory caches of tables
    and of plans are bounded in bytes, not by count (160 tables, 128 plans: 6 GB of float64 tables
    for random speeds of 64-256x)."""
    import noisegen
    from noisegen._design import kaiser
    from noisegen._design import resample as design

    monkeypatch.setenv("NOISEGEN_CACHE_DIR", str(tmp_path))
    assert kaiser._TABLES.max_bytes == kaiser.KAISER_CACHE_BYTES <= 64 << 20
    assert design._FLOAT_PLANS.max_bytes == design.FLOAT_PLAN_CACHE_BYTES <= 64 << 20
    assert design._NEAR_PLANS.max_bytes == design.NEAR_PLAN_CACHE_BYTES <= 64 << 20
    bound = 2 << 20  # a cell a quarter of the rate down holds ~0.45 MB in float32
    for cache in (kaiser._TABLES, design._FLOAT_PLANS, design._NEAR_PLANS):
        monkeypatch.setattr(cache, "max_bytes", bound)
    kaiser_table.cache_clear()
    try:
        cells = [2.0 ** (-j / 192) for j in range(384, 396)]
        for cell in cells:
            spec, table = kaiser_table(N_PHASES + 1, N_PHASES, PASSBAND * cell, cell, "f")
            assert table.shape == (N_PHASES + 1, spec.n_taps) and not table.flags.writeable
        assert kaiser._TABLES.nbytes <= bound and 0 < kaiser_table.cache_info().currsize < len(cells)
        assert kaiser_table.cache_info().misses == len(cells)
        kaiser_table(N_PHASES + 1, N_PHASES, PASSBAND * cells[-1], cells[-1], "f")  # the last one is kept
        assert kaiser_table.cache_info().hits == 1
        y = np.random.default_rng(0).standard_normal(4000).astype(np.float32)
        for factor in np.linspace(4.0, 4.5, 12):  # random speeds: a float plan each, on twelve cells
            out = noisegen.speed(y, factor=float(factor), sample_rate=16000)
            assert out.shape == (round(4000 / factor),)
        for n_steps in np.linspace(24.0, 26.0, 12):  # random shifts two octaves up: near plans
            assert pitch_shift(y, sample_rate=16000, n_steps=float(n_steps)).shape == y.shape
        assert design._FLOAT_PLANS.nbytes <= bound and design._NEAR_PLANS.nbytes <= bound
        assert kaiser._TABLES.nbytes <= bound
    finally:
        kaiser_table.cache_clear()
        design._FLOAT_PLANS.clear()
        design._NEAR_PLANS.clear()
