"""The real FFT kernels (:mod:`noisegen._kernels.cpu.fft`) behind the grid transforms, against numpy's
transforms in float64: every grid length from 512 to 2**19 points the kernels take (all from 4096 on),
both dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

import noisegen as ng
from noisegen.effects import spectra
from noisegen.effects.spectra import grid_irfft, grid_rfft, rfft_blocks

TOL = {np.float32: 3e-7, np.float64: 1e-14}
#: irfft(rfft(x)) in float32: two transforms' rounding (scipy's own reaches 3.1e-7 on these inputs)
ROUND_TRIP_TOL = {np.float32: 5e-7, np.float64: 1e-14}
LENGTHS = [n for n in spectra._GRID if 512 <= n <= 1 << 19 and spectra._factors(n) is not None]


def _relative(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_the_kernels_take_every_grid_length_from_4096():
    assert all(spectra._factors(n) is not None for n in spectra._GRID if 4096 <= n <= 1 << 19)
    assert spectra._factors(256) is None and spectra._factors(4094) is None  # scipy's
    assert spectra._factors(576) is None  # N / 2 = 288: no split into multiples of 8


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nfft", LENGTHS)
def test_rfft_and_round_trip_match_numpy(nfft, dtype):
    rng = np.random.default_rng(nfft)
    x = rng.standard_normal((2, nfft - 37)).astype(dtype)  # zero-padded
    spec = grid_rfft(x, nfft)
    assert spec.dtype == (np.complex64 if dtype == np.float32 else np.complex128)
    assert spec.shape == (2, nfft // 2 + 1)
    ref = np.fft.rfft(x.astype(np.float64), nfft)
    assert _relative(spec, ref) <= TOL[dtype]
    back = grid_irfft(spec, nfft)
    assert back.dtype == dtype and back.shape == (2, nfft)
    padded = np.zeros((2, nfft))
    padded[:, :x.shape[1]] = x
    assert _relative(back, padded) <= ROUND_TRIP_TOL[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nfft", [512, 4096, 4608, 12800, 30720, 1 << 17])
def test_irfft_matches_numpy_on_any_spectrum(nfft, dtype):
    # a spectrum that is no real signal's: the imaginary parts at 0 and N/2 are ignored, as numpy does
    rng = np.random.default_rng(1)
    spec = (rng.standard_normal((3, nfft // 2 + 1)) + 1j * rng.standard_normal((3, nfft // 2 + 1)))
    spec = spec.astype(np.complex64 if dtype == np.float32 else np.complex128)
    ref = np.fft.irfft(spec.astype(np.complex128), nfft)
    assert _relative(grid_irfft(spec.copy(), nfft), ref) <= 2 * TOL[dtype]
    for skip in (1, 2, nfft // 3, nfft - 1):  # the tail only, straight into a given output
        out = np.full((3, nfft - skip), np.nan, dtype)
        assert grid_irfft(spec.copy(), nfft, skip=skip, out=out) is out
        assert _relative(out, ref[:, skip:]) <= 2 * TOL[dtype]



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nfft", [256, 512, 4096, 12800, 30720, 1 << 17])  # 256: scipy's
def test_irfft_of_a_product_and_a_window_of_samples(nfft, dtype):
    # times: a filter's spectrum the rows are multiplied by as they are read (one row for all, or one
    # per row); skip/stop: only samples skip .. stop - 1, and only those written
    rng = np.random.default_rng(3)
    cplx = np.complex64 if dtype == np.float32 else np.complex128
    spec = (rng.standard_normal((3, nfft // 2 + 1)) + 1j * rng.standard_normal((3, nfft // 2 + 1))).astype(cplx)
    for times in (rng.standard_normal(nfft // 2 + 1) + 1j * rng.standard_normal(nfft // 2 + 1),
                  rng.standard_normal((3, nfft // 2 + 1)) + 1j * rng.standard_normal((3, nfft // 2 + 1))):
        times = times.astype(cplx)
        ref = np.fft.irfft(spec.astype(np.complex128) * times.astype(np.complex128), nfft)
        for skip, stop in ((0, None), (0, 1), (0, nfft // 3), (0, nfft // 3 + 1), (1, 2), (1, 3), (2, 3),
                           (1, nfft // 2), (7, nfft - 1), (nfft - 1, nfft), (5, 5)):
            before = spec.copy()
            out = grid_irfft(spec, nfft, skip=skip, stop=stop, times=times)
            assert np.array_equal(spec, before)  # the product is not stored
            want = ref[:, skip:stop]
            assert out.dtype == dtype and out.shape == want.shape
            if want.size:
                assert _relative(out, want) <= 4 * TOL[dtype] * np.max(np.abs(ref)) / np.max(np.abs(want))
            given = np.full(want.shape, np.nan, dtype)
            assert grid_irfft(spec, nfft, skip=skip, stop=stop, times=times, out=given) is given
            np.testing.assert_array_equal(given, out)
    with_times = grid_irfft(spec, nfft, times=np.ones(nfft // 2 + 1, cplx))
    np.testing.assert_allclose(with_times, grid_irfft(spec, nfft), rtol=0,
                               atol=4 * TOL[dtype] * np.max(np.abs(with_times)))

def test_tones_land_in_their_bins_and_nowhere_else():
    nfft = 46080
    t = np.arange(nfft)
    for k in (0, 1, 1234, nfft // 2 - 1, nfft // 2):
        spec = grid_rfft(np.cos(2 * np.pi * k * t / nfft)[None], nfft)[0]
        want = np.zeros(nfft // 2 + 1)
        want[k] = nfft if k in (0, nfft // 2) else nfft / 2
        np.testing.assert_allclose(spec, want, rtol=0, atol=1e-9 * nfft)


def test_blocks_are_transformed_where_they_lie():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(50_000).astype(np.float32)
    starts = np.array([0, 333, 17_000, 50_000 - 8192], np.int64)
    got = rfft_blocks(x, starts, 8192, 8192)
    ref = np.fft.rfft(np.stack([x[s:s + 8192] for s in starts]).astype(np.float64), axis=-1)
    assert _relative(got, ref) <= TOL[np.float32]


def test_rows_and_threads_do_not_share_results():
    # one scratch per thread: concurrent transforms of different lengths stay exact
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(3)
    jobs = [(n, rng.standard_normal((2, n)).astype(np.float32)) for n in (8192, 73728, 30720, 8192, 131072, 4096) * 3]

    def run(job):
        n, x = job
        return _relative(grid_rfft(x, n), np.fft.rfft(x.astype(np.float64), n))

    with ThreadPoolExecutor(4) as pool:
        assert max(pool.map(run, jobs)) <= TOL[np.float32]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seconds", [0.3, 1.0, 4.0, 13.0])
def test_convolve_rir_matches_fftconvolve(seconds, dtype):
    # every path of RirConvolver: short outputs, one circular transform, overlap-save
    sr = 16000
    rng = np.random.default_rng(4)
    rir = rng.standard_normal(sr // 2) * np.exp(-np.arange(sr // 2) / 1600)
    y = rng.standard_normal(int(seconds * sr)).astype(dtype)
    h = ng.effects.reverb.prepare_rir(rir)[0]
    for mode in ("same", "full"):
        got = ng.convolve_rir(y, rir, mode=mode)
        ref = ss.fftconvolve(y.astype(np.float64), h)[: y.size if mode == "same" else None]
        assert got.dtype == dtype and got.shape == ref.shape
        assert _relative(got, ref) <= (2e-6 if dtype == np.float32 else 1e-12), (mode, seconds)
