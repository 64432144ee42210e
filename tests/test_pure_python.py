"""Every kernel also runs as plain Python (``NUMBA_DISABLE_JIT=1``, the coverage run's mode), and
gives what it gives compiled.

Two checks: each intrinsic's pure-Python twin against the intrinsic itself on random inputs
(small jitted wrappers), and each operation family run on short inputs in a subprocess under
``NUMBA_DISABLE_JIT=1`` against the same call compiled, here. The counter RNG's integers are the
same bits in both modes; audio agrees to float rounding (the twins do not fuse multiply-adds).
Run as a script (``python tests/test_pure_python.py OUT.npz DIR``) it writes the cases' outputs
(CI's coverage run of the kernel bodies).
About 20 s from a warm cache (the child, plain Python, ~8 s of it), so not marked slow.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import numpy as np

import noisegen as ng
from noisegen._core.rng import seed_words
from noisegen._kernels.cpu import _bits, _fft_simd, _simd, _twins, _vorbis_mdct
from noisegen._kernels.cpu import fft as _fft
from noisegen._kernels.rng import ZIG_FI, ZIG_KI, ZIG_WI, hash64, mix64, normal_from_hash, stream_key
from noisegen.effects import spectra

import numba  # noqa: E402  (after noisegen, which settles the cache directory)

#: Where the noisegen under test lives: the child imports that one too.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(ng.__file__)))
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
RATE = 16000


def _relative(a, b):
    a, b = np.asarray(a), np.asarray(b)
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    return float(np.max(np.abs(a.astype(np.float64) - b))) / (scale or 1.0) if b.size else 0.0


# ---------------------------------------------------------------- the operations, both modes


@numba.njit
def _hashes(keys, counters, out_h, out_n):
    for i in range(keys.shape[0]):
        out_h[i] = hash64(stream_key(keys[i], np.uint64(i)), counters[i])
        out_n[i] = normal_from_hash(mix64(out_h[i]), ZIG_KI, ZIG_WI, ZIG_FI)


def _rng_words():
    g = np.random.default_rng(7)
    keys = g.integers(0, 2**64, 500, dtype=np.uint64, endpoint=False)
    counters = g.integers(0, 2**64, 500, dtype=np.uint64, endpoint=False)
    h, n = np.empty(500, np.uint64), np.empty(500)
    _hashes(keys, counters, h, n)
    return h, n


def _fft_lengths():
    """Grid lengths the FFT kernels take, the fewest short ones whose passes cover radix 3, 4, 5 and 8
    (radix 2 is in no plan: 8 2 is made 4 4; see :func:`_fft_radix2`)."""
    chosen, seen = [], set()
    for n in spectra._GRID:
        fac = spectra._factors(n) if 512 <= n <= 20000 else None
        if fac is None:
            continue
        r1 = [int(r) for r in fac[5:5 + fac[4]]]  # (fac: M1, M2, S1, S2, then each one's radices, counted)
        radices = set(r1) | set(int(r) for r in fac[6 + fac[4]:])
        if radices - seen:
            chosen.append(n)
            seen |= radices
    assert seen == {3, 4, 5, 8}, seen
    return chosen


def _fft_round_trip(nfft, dtype):
    x = np.random.default_rng(nfft).standard_normal((2, nfft - 5)).astype(dtype)
    spec = spectra.grid_rfft(x, nfft)
    return np.concatenate([spec.real.ravel(), spec.imag.ravel(), spectra.grid_irfft(spec, nfft).ravel()])


def _fft_radix2(dtype):
    """The kernels' rfft of 1024 points with ``M2 = 32`` columns by radix 4, 4, 2 (a plan of
    ``spectra._RADICES = (4, 2, 3, 5)``), against the same with the usual 8, 4."""
    x = np.random.default_rng(5).standard_normal(1000).astype(dtype)
    fac, table, big, small = spectra._kernel_plan(1024, np.dtype(dtype))
    assert list(fac) == [16, 32, 32, 16, 2, 4, 4, 2, 8, 4]
    spec = np.empty((1, 513), np.complex64 if dtype == np.float32 else np.complex128)
    fac2 = np.array([16, 32, 32, 16, 2, 4, 4, 3, 4, 4, 2], np.int64)
    _fft.rfft_rows(x, np.zeros(1, np.int64), 1000, spec.view(x.dtype), fac2, table, big, small)
    return spec.real.ravel(), spec.imag.ravel()


def cases(folder):
    """name -> a function of no arguments whose result (an array or a tuple of arrays) both modes compare."""
    y = (np.sin(np.arange(2400) * 0.07) + 0.3 * np.sin(np.arange(2400) * 0.61)).astype(np.float32)
    stereo = np.stack([y, y[::-1]]).astype(np.float64)
    rir = (np.exp(-np.arange(300) / 40.0) * np.cos(np.arange(300))).astype(np.float32)
    noise = ng.white_noise(2400, rng=3)
    out = {
        "rng hashes": _rng_words,
        "seed words": lambda: seed_words(2**70 + 12345, (6, 7), 8, wide=True),
        "white": lambda: ng.white_noise(1000, rng=0, n_channels=2, dtype=np.float64),
        "mix at snr": lambda: ng.mix_at_snr(y, noise, snr_db=5.0),
        "mix active": lambda: ng.mix_at_snr(y, noise, snr_db=0.0, reference="active", sample_rate=RATE),
        # powers of 1e-30 and 1e30 samples: float64 squares in plain Python too
        "mix tiny noise": lambda: ng.mix_at_snr(y, np.full(2400, 1e-30, np.float32), snr_db=10.0),
        "mix huge signal": lambda: ng.mix_at_snr(y * np.float32(1e30), noise[:1100], snr_db=10.0),
        "rir short": lambda: ng.convolve_rir(y, rir),
        "rir overlap-save": lambda: ng.convolve_rir(np.tile(stereo, 3), rir[:100].astype(np.float64)),
        "stretch wsola": lambda: ng.time_stretch(y, rate=1.15, sample_rate=RATE),
        "stretch wsola f64": lambda: ng.time_stretch(stereo, rate=0.85, sample_rate=RATE),
        "stretch vocoder": lambda: ng.time_stretch(y, rate=1.3, sample_rate=RATE, method="phase_vocoder"),
        "pitch": lambda: ng.pitch_shift(y, sample_rate=RATE, n_steps=3),
        "speed": lambda: ng.speed(stereo, factor=1.1, sample_rate=RATE),
        "lowpass": lambda: ng.lowpass(y, cutoff_hz=1000, sample_rate=RATE),
        "bandstop": lambda: ng.bandstop(stereo, low_hz=500, high_hz=900, sample_rate=RATE),
        "peaking": lambda: ng.peaking_eq(y, center_hz=700, gain_db=6, q=2, sample_rate=RATE),
        "shelves": lambda: ng.high_shelf(ng.low_shelf(y, cutoff_hz=200, gain_db=-4, sample_rate=RATE),
                                         cutoff_hz=3000, gain_db=3, sample_rate=RATE),
        "bitcrush": lambda: (ng.bitcrush(y, bit_depth=7), ng.bitcrush(stereo * 1e300, bit_depth=5)),
        "time mask": lambda: (ng.time_mask(stereo, start_s=0.01, duration_s=0.05, sample_rate=RATE),
                              ng.time_mask(y, start_s=0.1, duration_s=0.2, sample_rate=RATE, fade_s=0.1)),
        "normalize": lambda: (ng.Normalize(p=1.0)(stereo, sample_rate=RATE, rng=0),
                              ng.Normalize(p=1.0)(stereo * 1e-310, sample_rate=RATE, rng=0)),
        "shift": lambda: tuple(ng.Shift(min_shift=k, max_shift=k, shift_unit="samples", rollover=roll, p=1.0)(
            stereo, sample_rate=RATE, rng=0) for k in (-700, 5, 2300) for roll in (True, False)),
        "tone": lambda: ng.tone(freq_hz=440.0, sample_rate=RATE, n_samples=1000),
        "chirp": lambda: ng.chirp(freq_hz=100.0, end_freq_hz=4000.0, sample_rate=RATE, n_samples=1000,
                                  method="logarithmic"),
        "square": lambda: ng.square(freq_hz=300.0, sample_rate=RATE, n_samples=1000),
        "sawtooth": lambda: ng.sawtooth(freq_hz=300.0, sample_rate=RATE, n_samples=1000, dtype=np.float64),
        "triangle": lambda: ng.triangle(freq_hz=300.0, sample_rate=RATE, n_samples=1000),
        "impulse train": lambda: ng.impulse_train(freq_hz=210.0, sample_rate=RATE, n_samples=1000),
        "hum": lambda: ng.hum(sample_rate=RATE, n_samples=1000),
        "speech-shaped": lambda: ng.speech_shaped_noise(sample_rate=RATE, n_samples=1000, rng=2),
    }
    for beta in (1.0, 2.0, -1.0, 0.5):  # 9 and 2 one-poles as one vector, any bank section by section
        out[f"colored {beta}"] = functools.partial(ng.colored_noise, 1500, beta=beta, rng=1)
    out["colored min_freq"] = lambda: ng.colored_noise(1500, beta=1.0, rng=1, min_freq_hz=20.0, sample_rate=RATE)
    for orig, target in ((16000, 8000), (48000, 16000), (8000, 16000), (44100, 16000), (16000, 44100),
                         (16000, 22050), (16000, 16970)):  # integer, equiripple, rational, any ratio
        out[f"resample {orig}->{target}"] = functools.partial(
            ng.resample, y, orig_sample_rate=orig, target_sample_rate=target)
    out["resample f64 stereo"] = lambda: ng.resample(stereo, orig_sample_rate=44100, target_sample_rate=16000)
    for name in ("tiny.flac", "tiny.ogg"):
        path = os.path.join(folder, name)
        out[f"load {name}"] = functools.partial(ng.load, path)
    for nfft in _fft_lengths():
        for dtype in (np.float32, np.float64):
            out[f"fft {nfft} {np.dtype(dtype).name}"] = functools.partial(_fft_round_trip, nfft, dtype)
    for dtype in (np.float32, np.float64):
        out[f"fft radix 2 {np.dtype(dtype).name}"] = functools.partial(_fft_radix2, dtype)
    return out


def write_files(folder):
    """A tiny FLAC and Ogg Vorbis file (stereo, 16 kHz) in ``folder``."""
    import soundfile as sf

    t = np.arange(3000) / RATE
    audio = np.stack([np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 1250 * t)], axis=1) * 0.5
    sf.write(os.path.join(folder, "tiny.flac"), audio, RATE, subtype="PCM_16")
    sf.write(os.path.join(folder, "tiny.ogg"), audio, RATE, format="OGG", subtype="VORBIS")


def _flatten(result):
    parts = result if isinstance(result, tuple) else (result,)
    return [np.asarray(p) for p in parts]


def test_every_operation_gives_the_same_output_as_plain_python(tmp_path):
    write_files(str(tmp_path))
    out = tmp_path / "pure.npz"
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([PACKAGE_PARENT, os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", __file__, str(out), str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    pure = np.load(out)
    for name, fn in cases(str(tmp_path)).items():
        compiled = _flatten(fn())
        for k, want in enumerate(compiled):
            got = pure[f"{name}/{k}"]
            assert got.dtype == want.dtype and got.shape == want.shape, name
            if want.dtype.kind in "ui":  # the RNG's integers: the same bits
                np.testing.assert_array_equal(got, want, err_msg=name)
            else:
                tol = TOL.get(np.dtype(want.real.dtype) if want.dtype.kind == "c" else want.dtype, 1e-12)
                assert _relative(got, want) <= tol, (name, k, _relative(got, want))


# ---------------------------------------------------------------- each twin against its intrinsic


def _close(got, want, dtype):
    assert _relative(got, want) <= TOL[np.dtype(dtype)], _relative(got, want)


@numba.njit
def _jit_dots(x, h, s, r, n):
    return _simd.dot_products(x, (s, s + 1, s + 7), h, (r, r + 3, r), n), _simd.dot_products(x, (s + 2,), h, r, n)


@numba.njit
def _jit_lane_dots(x, start, h, out, count):
    _simd.lane_dots(x, start, h, 16, out, count)


@numba.njit
def _jit_folded(p, a_starts, b_starts, taps, centre, centre_tap, out, o):
    return _simd.folded_fir(p, a_starts, b_starts, taps, centre, centre_tap, out, o)


@numba.njit
def _jit_fmuladd(a, b, c, out):
    for i in range(a.shape[0]):
        out[i] = _simd.fmuladd(a[i], b[i], c[i])


@numba.njit
def _jit_bank(x, y, n, direct, poles, residues, state, nine):
    if nine:
        _simd.one_pole_bank(x, y, n, direct, poles, residues, state, 2, 1)
    else:
        _simd.one_pole_bank(x, y, n, direct, poles, residues, state, 0, 2)


def test_simd_twins_match_their_intrinsics():
    assert (_twins.VECTOR_BYTES, _twins.FIR_VECTORS, _twins.FIR_STEPS, _twins.BANK_CHUNK) == (
        _simd.VECTOR_BYTES, _simd.FIR_VECTORS, _simd.FIR_STEPS, _simd.BANK_CHUNK)
    g = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x, h = g.standard_normal(400).astype(dtype), g.standard_normal(200).astype(dtype)
        for s, r, n in ((0, 0, 64), (13, 5, 120), (200, 40, 152)):
            want = _jit_dots(x, h, s, r, n)
            got = (_twins.py_dot_products(x, (s, s + 1, s + 7), h, (r, r + 3, r), n),
                   _twins.py_dot_products(x, (s + 2,), h, r, n))
            _close(np.concatenate(got), np.concatenate(want), dtype)
        for start, count in ((0, 1), (7, 5), (33, 12)):
            want, got = np.zeros(100, dtype), np.zeros(100, dtype)
            _jit_lane_dots(x, start, h[:16], want, count)
            _twins.py_lane_dots(x, start, h[:16], 16, got, count)
            _close(got, want, dtype)
        lanes = 32 // np.dtype(dtype).itemsize
        a_starts, b_starts = np.array([100, 131, 160]), np.array([40, 23, 70])
        taps = g.standard_normal(15).astype(dtype)
        want, got = np.zeros(200, dtype), np.zeros(200, dtype)
        sw = _jit_folded(x, a_starts, b_starts, taps, 90, 0.25, want, 11)
        sg = _twins.py_folded_fir(x, a_starts, b_starts, taps, 90, 0.25, got, 11)
        _close(got, want, dtype)
        _close(sg, sw, dtype)
        assert np.count_nonzero(want) == 8 * lanes
    a, b, c = g.standard_normal((3, 50))
    want = np.empty(50)
    _jit_fmuladd(a, b, c, want)
    _close([_twins.py_fmuladd(*v) for v in zip(a, b, c)], want, np.float64)
    x = g.standard_normal(300)
    for k, nine in ((9, True), (2, False)):
        poles = np.zeros(12 if nine else 4)
        residues = np.zeros_like(poles)
        poles[:k], residues[:k] = g.uniform(0.5, 0.999, k), g.standard_normal(k)
        state_w = g.standard_normal(poles.size)
        state_g = state_w.copy()
        want, got = np.empty(300), np.empty(300)
        _jit_bank(x, want, 300, 0.3, poles, residues, state_w, nine)
        _twins.py_one_pole_bank(x, got, 300, 0.3, poles, residues, state_g, 2 if nine else 0, 1 if nine else 2)
        _close(got, want, np.float64)
        _close(state_g, state_w, np.float64)


@numba.njit
def _jit_butterfly(r, sr, si, i0, iq, dr, di, o0, od, wr, wi, kst, q):
    if r == 2:
        _fft_simd.butterfly(2, sr, si, i0, iq, dr, di, o0, od, wr, wi, kst, q)
    elif r == 3:
        _fft_simd.butterfly(3, sr, si, i0, iq, dr, di, o0, od, wr, wi, kst, q)
    elif r == 4:
        _fft_simd.butterfly(4, sr, si, i0, iq, dr, di, o0, od, wr, wi, kst, q)
    elif r == 5:
        _fft_simd.butterfly(5, sr, si, i0, iq, dr, di, o0, od, wr, wi, kst, q)
    else:
        _fft_simd.butterfly(8, sr, si, i0, iq, dr, di, o0, od, wr, wi, kst, q)


@numba.njit
def _jit_transpose(sr, si, s0, ss, dr, di, d0, ds, tr, ti, t0, ts):
    _fft_simd.twiddle_transpose(sr, si, s0, ss, dr, di, d0, ds, tr, ti, t0, ts)


@numba.njit
def _jit_reversed(src, s, dst, d):
    _fft_simd.reversed_vector(src, s, dst, d)


def test_fft_twins_match_their_intrinsics():
    g = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        sr, si = g.standard_normal((2, 600)).astype(dtype)
        turn = np.exp(-2j * np.pi * np.arange(120) / 120)  # w^q = exp(-2 pi i / r) at q = 120 / r
        wr, wi = turn.real.astype(dtype), turn.imag.astype(dtype)
        for r in (2, 3, 4, 5, 8):
            want, got = np.zeros((2, 700), dtype), np.zeros((2, 700), dtype)
            _jit_butterfly(r, sr, si, 3, 37, want[0], want[1], 5, 41, wr, wi, 2, 120 // r)
            _fft_simd.py_butterfly(r, sr, si, 3, 37, got[0], got[1], 5, 41, wr, wi, 2, 120 // r)
            _close(got, want, dtype)
        want, got = np.zeros((2, 700), dtype), np.zeros((2, 700), dtype)
        _jit_transpose(sr, si, 4, 19, *want, 9, 23, wr, wi, 2, 11)
        _fft_simd.py_twiddle_transpose(sr, si, 4, 19, *got, 9, 23, wr, wi, 2, 11)
        _close(got, want, dtype)
        want, got = np.zeros(50, dtype), np.zeros(50, dtype)
        _jit_reversed(sr, 30, want, 3)
        _fft_simd.py_reversed_vector(sr, 30, got, 3)
        np.testing.assert_array_equal(got, want)


@numba.njit
def _jit_bits(buf, be, le, lz):
    for i in range(be.shape[0]):
        be[i] = _bits.load_be64(buf, i)
        le[i] = _bits.load_le64(buf, i)
        lz[i] = _bits.leading_zeros(be[i] >> np.uint64(i % 64))


@numba.njit
def _jit_mdct(re, im, wr, wi):
    _vorbis_mdct._radix22_4(re, im, wr, wi, 3, 4, 1)
    _vorbis_mdct._radix22_8(re, im, wr, wi, 20, 9, 2)
    _vorbis_mdct._radix2_8(re, im, wr, wi, 60, 11, 5)


def test_bit_and_mdct_twins_match_their_intrinsics():
    g = np.random.default_rng(2)
    buf = g.integers(0, 256, 208, dtype=np.uint8)
    buf[40:48] = 0  # leading zeros of 0 and of short words
    be, le, lz = np.empty(200, np.uint64), np.empty(200, np.uint64), np.empty(200, np.int64)
    _jit_bits(buf, be, le, lz)
    np.testing.assert_array_equal([_bits.py_load_be64(buf, i) for i in range(200)], be)
    np.testing.assert_array_equal([_bits.py_load_le64(buf, i) for i in range(200)], le)
    np.testing.assert_array_equal([_bits.py_leading_zeros(w >> np.uint64(i % 64)) for i, w in enumerate(be)], lz)
    re, im, wr, wi = g.standard_normal((4, 120)).astype(np.float32)
    want = np.stack([re, im])
    _jit_mdct(*want, wr, wi)
    got = np.stack([re, im])
    _vorbis_mdct.py_radix22(4, *got, wr, wi, 3, 4, 1)
    _vorbis_mdct.py_radix22(8, *got, wr, wi, 20, 9, 2)
    _vorbis_mdct.py_radix2(8, *got, wr, wi, 60, 11, 5)
    _close(got, want, np.float32)


if __name__ == "__main__":  # the cases' outputs, for the test above to compare (run under NUMBA_DISABLE_JIT=1)
    assert numba.config.DISABLE_JIT
    target, folder = sys.argv[1], sys.argv[2]
    if not os.path.exists(os.path.join(folder, "tiny.ogg")):  # (run by hand, or by CI's coverage run)
        write_files(folder)
    results = {}
    for case, fn in cases(folder).items():
        for k, value in enumerate(_flatten(fn())):
            results[f"{case}/{k}"] = value
    np.savez(target, **results)
