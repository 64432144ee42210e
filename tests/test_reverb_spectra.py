"""FFT lengths on a grid, the grid transforms, the byte-bounded spectrum cache, and the checks
of non-finite input that RIR convolution takes from its output."""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.signal as ss

import noisegen as ng
from noisegen.effects import spectra
from noisegen.effects.reverb import RirConvolver
from noisegen._core.lru import BytesCache
from noisegen.effects.spectra import fast_len, grid_irfft, grid_rfft


def _factors_ok(v):
    for p in (2, 3, 5):
        while v % p == 0:
            v //= p
    return v == 1


def test_fast_len_is_a_close_5_smooth_upper_bound():
    ns = np.unique(np.r_[np.arange(1, 5000), np.geomspace(5000, 2**31, 4000).astype(np.int64)])
    lens = [fast_len(int(n)) for n in ns]
    assert all(v >= n and _factors_ok(v) for n, v in zip(ns, lens))
    assert all(v <= 1.125 * n for n, v in zip(ns, lens) if n >= 32)  # padding at most 12.5 %
    assert all(a <= b for a, b in zip(lens, lens[1:]))  # monotone
    assert len(set(v for n, v in zip(ns, lens) if 2**16 <= n <= 2**17)) <= 9  # few lengths per octave


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grid_transforms_convolve_like_scipy(dtype):
    # lengths below and above the kernels' threshold (4096), odd factors, one and three rows
    rng = np.random.default_rng(0)
    tol = 3e-6 if dtype == np.float32 else 1e-12
    for nfft in (2, 64, 8190, 8192, 11520, 12800, 46080, 73728, 2**17):
        for rows in (1, 3):
            n = nfft // 2 + 1
            x = rng.standard_normal((rows, n)).astype(dtype)
            h = rng.standard_normal((1, nfft - n + 1)).astype(dtype)
            spec = grid_rfft(x, nfft)
            assert spec.dtype == (np.complex64 if dtype == np.float32 else np.complex128)
            y = grid_irfft(spec * grid_rfft(h, nfft), nfft)
            assert y.shape == (rows, nfft) and y.dtype == dtype
            ref = np.array([ss.fftconvolve(r.astype(np.float64), h[0].astype(np.float64)) for r in x])
            assert np.max(np.abs(y - ref)) <= tol * np.max(np.abs(ref)), (nfft, rows)
            back = grid_irfft(grid_rfft(x, nfft), nfft)[:, :n]
            np.testing.assert_allclose(back, x, rtol=0, atol=tol * np.max(np.abs(x)))


def _tables(root):
    """``(nfft, table)`` for every grid length the kernels take up to 2**21 points: the twiddles laid
    out as ``spectra._make_table`` lays them, from ``root(j, n)``: the real and imaginary parts of
    ``exp(-2 pi i j / n)``."""
    for nfft in [v for v in spectra._GRID if spectra._KERNEL_MIN <= v <= 1 << 21]:
        fac = spectra._factors(nfft)
        if fac is None:
            continue
        m1, m2 = int(fac[0]), int(fac[1])
        yield nfft, np.concatenate([*root(np.arange(m1), m1), *root(np.arange(m2), m2),
                                    *root(np.arange(m2)[:, None] * np.arange(m1)[None, :], m1 * m2),
                                    *root(np.arange(m1 * m2), nfft)])


def _direct(j, n):
    """exp(-2 pi i j / n), in extended precision where the platform has it."""
    phase = (j % n).astype(np.longdouble) * (-2 * np.longdouble(np.pi) / n)
    return np.cos(phase).ravel(), np.sin(phase).ravel()


def _entry_by_entry(j, n):
    """exp(-2 pi i j / n) as the tables were first built: each entry's angle reduced in integers to
    the nearest quarter turn and the rest evaluated (what spectra._circle pieces from slices)."""
    t = np.asarray(j, np.int64) % n
    k = (4 * t + n // 2) // n
    a = (np.pi / 2) * ((4 * t - k * n) / n)
    c, s = np.cos(a), np.sin(a)
    k %= 4
    return np.choose(k, [c, -s, -c, s]).ravel(), np.choose(k, [-s, -c, s, c]).ravel()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_twiddles_are_the_directly_evaluated_exponentials(dtype):
    # the kernels' tables against exp(-2 pi i j / n) rounded once
    for nfft, want in _tables(_direct):
        tab = spectra._make_table(nfft, np.dtype(dtype))
        assert tab.dtype == dtype and tab.shape == want.shape
        np.testing.assert_allclose(tab, want.astype(dtype), rtol=0, atol=2 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_twiddles_have_the_bits_of_entry_by_entry_evaluation(dtype):
    # pieced from an eighth turn of cosines and sines, the tables equal the entry-by-entry ones bit for
    # bit (signed zeros included), so the transforms' outputs did not move
    for nfft, want in _tables(_entry_by_entry):
        got = spectra._make_table(nfft, np.dtype(dtype))
        want = want.astype(dtype)
        assert got.shape == want.shape and np.array_equal(got.view(np.uint8), want.view(np.uint8)), nfft


def test_spectrum_cache_is_bounded_in_bytes_least_recently_used_first():
    cache = BytesCache(max_bytes=3 * 800)
    made = []

    def make(key):
        made.append(key)
        return np.zeros(100)  # 800 bytes

    for key in ("a", "b", "c"):
        cache.get(key, lambda: make(key))
    cache.get("a", lambda: make("a"))  # hit: "a" is now the most recent
    cache.get("d", lambda: make("d"))  # drops "b", the least recently used
    assert made == ["a", "b", "c", "d"] and cache.nbytes == 2400
    cache.get("c", lambda: make("c"))
    cache.get("a", lambda: make("a"))
    cache.get("b", lambda: make("b"))  # made again
    assert made == ["a", "b", "c", "d", "b"] and cache.nbytes <= cache.max_bytes
    big = cache.get("big", lambda: np.zeros(1000))  # larger than the bound: returned, not kept
    assert big.shape == (1000,) and cache.nbytes <= cache.max_bytes
    assert not cache.get("c", lambda: make("c")).flags.writeable  # shared: read-only


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spectra_are_shared_across_lengths_and_give_the_same_bits(dtype):
    """Clips of many lengths through one room use few spectra, and a cached spectrum gives the
    samples a freshly computed one gives."""
    rng = np.random.default_rng(3)
    rir = rng.standard_normal(3000) * np.exp(-np.arange(3000) / 600.0)
    conv = RirConvolver(rir)
    lengths = rng.integers(200, 40_000, 60)
    outs = {}
    spectra.SPECTRA.clear()
    for n in lengths:
        y = rng.standard_normal((2, n)).astype(dtype)
        outs[int(n)] = (y, conv.convolve(y))
    kept = [k for k in spectra.SPECTRA._items if k[0] is conv._token]
    assert len(kept) <= 24  # 60 clips (over about 7 octaves of length), a handful of lengths each
    for n, (y, out) in outs.items():
        spectra.SPECTRA.clear()
        np.testing.assert_array_equal(RirConvolver(rir).convolve(y), out)
        ref = np.array([ss.fftconvolve(r.astype(np.float64), conv.rir[0])[:n] for r in y])
        tol = 2e-6 if dtype == np.float32 else 1e-12
        assert np.max(np.abs(out - ref)) <= tol * np.max(np.abs(ref)), n


def test_a_convolver_made_again_for_the_same_samples_reuses_their_spectra():
    """Spectra were named by the convolver object: one made again for the same RIR (after the
    convolver cache dropped it, as a job over many rates and rooms does) transformed the RIR again
    and left the old spectra in the cache, dead. They are named by the prepared samples now."""
    rng = np.random.default_rng(8)
    rir = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 400.0)
    y = rng.standard_normal(9000)
    spectra.SPECTRA.clear()
    first = RirConvolver(rir).convolve(y)
    kept = len(spectra.SPECTRA._items)
    assert kept >= 1
    for again in (RirConvolver(rir.copy()), RirConvolver(rir.astype(np.float32).astype(np.float64) * 0 + rir)):
        np.testing.assert_array_equal(again.convolve(y), first)
        assert len(spectra.SPECTRA._items) == kept  # no new transform of the RIR
    other = rir.copy()
    other[1000] += 1e-3
    for different in (RirConvolver(other), RirConvolver(rir, normalize="peak"), RirConvolver(rir, normalize=None)):
        different.convolve(y)
    assert len(spectra.SPECTRA._items) == kept + 3  # other samples, other spectra


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_refused_from_the_output(dtype, bad):
    rng = np.random.default_rng(5)
    rir = rng.standard_normal((2, 700))
    for n in (1, 5, 32, 33, 900, 20_000):  # direct, one transform, short outputs, overlap-save
        for shape in ((n,), (2, n)):
            for at in {0, n // 2, n - 1}:
                y = rng.standard_normal(shape).astype(dtype)
                y[..., at] = bad
                mono = rir[0]
                with pytest.raises(ng.ParameterError, match="y must be finite"):
                    ng.convolve_rir(y, mono)
                with pytest.raises(ng.ParameterError, match="y must be finite"):
                    ng.convolve_rir(y, mono, mode="full")
                conv = RirConvolver(mono if len(shape) == 1 else rir)
                first = rng.standard_normal(shape).astype(dtype)
                head = conv.process(first)
                with pytest.raises(ng.ParameterError, match="chunk must be finite"):
                    conv.process(y)
                # the refused chunk left the stream as it was
                good = rng.standard_normal(shape).astype(dtype)
                fresh = RirConvolver(mono if len(shape) == 1 else rir)
                expected = np.concatenate([fresh.process(first), fresh.process(good)], axis=-1)
                np.testing.assert_array_equal(np.concatenate([head, conv.process(good)], axis=-1), expected)


def test_a_cached_rir_rewritten_with_nan_is_refused():
    rng = np.random.default_rng(6)
    y, h = rng.standard_normal(5000), rng.standard_normal(300)
    ng.convolve_rir(y, h)
    h[17] = np.nan  # same memory, now non-finite: the cache must not serve the old spectrum
    with pytest.raises(ng.ParameterError, match="rir must be finite"):
        ng.convolve_rir(y, h)


def test_streamed_multichannel_chunks_are_contiguous():
    rng = np.random.default_rng(7)
    conv = RirConvolver(rng.standard_normal(500))
    for n in (3, 40, 5000):
        out = conv.process(rng.standard_normal((2, n)).astype(np.float32))
        assert out.flags.c_contiguous and out.shape == (2, n) and out.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_transforms_own_convolvers_give_the_cached_convolvers_samples(dtype):
    """ApplyImpulseResponse keeps a RirConvolver per (rate, room) instead of looking each response up
    in the convolver cache on every call (which compares the whole RIR): the same samples, one-shot
    and over the partition (long inputs), with and without the tail; a pickle leaves them behind."""
    import pickle

    from noisegen.effects.reverb_blocks import convolve_partitioned
    from noisegen.transforms import ApplyImpulseResponse

    rng = np.random.default_rng(11)
    rooms = [rng.standard_normal(m) * np.exp(-np.arange(m) / (m / 6)) for m in (300, 2500)]
    for keep_tail in (False, True):
        t = ApplyImpulseResponse(rooms, rir_sample_rate=8000, keep_tail=keep_tail, p=1.0)
        for n in (1, 700, 9000, 150_000):
            for shape in ((n,), (2, n)):
                y = rng.standard_normal(shape).astype(dtype)
                for index in range(len(rooms)):
                    params = {"rir_index": index, "applied": True}
                    rir = t._response(8000, params).astype(dtype, copy=False)
                    want = convolve_partitioned(y, rir, mode="full" if keep_tail else "same")
                    np.testing.assert_array_equal(t._apply(y, 8000, params), want)
        assert len(t._convolvers) == len(rooms)
        assert len(pickle.loads(pickle.dumps(t))._convolvers) == 0


@pytest.mark.parametrize("keep_tail", [False, True])
def test_partitioned_stream_flushes_once_and_starts_again(keep_tail):
    """PartitionedRir.flush without a block raised AttributeError ('NoneType' has no 'shape'); a second
    flush gave the last block's output again, and the next stream began with that block."""
    from noisegen.effects.reverb_blocks import PartitionedRir, convolve_partitioned, partition

    rng = np.random.default_rng(8)
    rir = (rng.standard_normal(300) * np.exp(-np.arange(300) / 50.0)).astype(np.float32)
    mode, block = ("full" if keep_tail else "same"), partition(300)
    stream = PartitionedRir(rir, keep_tail=keep_tail)
    empty = stream.flush()  # nothing fed: an empty input's output
    np.testing.assert_array_equal(empty, convolve_partitioned(np.zeros((1, 0), np.float32), rir, mode=mode))
    for n in (1, 1000, block - 1, block, block + 1, 2 * block + 77):
        for rows in (1, 2):
            y = rng.standard_normal((rows, n)).astype(np.float32)
            want = convolve_partitioned(y, rir, mode=mode)
            for _ in range(2):  # the same stream again after its flush
                cut = n // 3
                got = np.concatenate([stream.process(y[:, :cut]), stream.process(y[:, cut:]), stream.flush()], axis=1)
                np.testing.assert_array_equal(got, want)
                again = stream.flush()
                assert again.shape == (1, 299 if keep_tail else 0) and not again.any()  # as at the start


def test_the_transforms_convolvers_are_bounded_in_bytes(monkeypatch):
    """Each convolver holds its response in float64 (twice the bank's bytes), made in every worker
    that draws it: a transform keeps them up to a bound, least recently drawn dropped, the samples
    unchanged when one is made again."""
    from noisegen.transforms import ApplyImpulseResponse, apply_impulse_response

    monkeypatch.setattr(apply_impulse_response, "CONVOLVER_CACHE_BYTES", 3 * 2000 * 8)
    rng = np.random.default_rng(4)
    rooms = [rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300.0) for _ in range(8)]
    t = ApplyImpulseResponse(rooms, rir_sample_rate=8000, trim_db=None, p=1.0)
    y = rng.standard_normal(3000).astype(np.float32)
    first = {}
    for rounds in range(3):
        for index in (0, 1, 2, 3, 4, 5, 6, 7, 0, 5):
            out = t._apply(y, 8000, {"rir_index": index, "applied": True})
            np.testing.assert_array_equal(out, first.setdefault(index, out))
            assert len(t._convolvers) <= 3 and t._convolvers.nbytes <= 3 * 2000 * 8


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_threads_use_the_caches_convolves():
    # A thread holding a cache's lock (SPECTRA's, convolve_rir's convolvers') as another thread forked
    # (DataLoader workers fork) left the lock held in the child, which has no such thread: its first
    # convolution waited for ever.
    import signal
    import threading

    rng = np.random.default_rng(5)
    rir, y = rng.standard_normal(3000), rng.standard_normal(20000).astype(np.float32)
    want = ng.convolve_rir(y, rir)
    stop = threading.Event()

    def use_caches(tiny):
        while not stop.is_set():
            if tiny:
                ng.convolve_rir(y[:50], rir[:40])
            else:
                spectra.SPECTRA.get(("test-fork",), lambda: np.zeros(4))

    threads = [threading.Thread(target=use_caches, args=(tiny,), daemon=True) for tiny in (False, True)]
    for t in threads:
        t.start()
    try:
        for _ in range(12):
            pid = os.fork()
            if pid == 0:  # the child: ends with 0 when it convolves, by SIGALRM when it hangs
                ok = False
                try:
                    signal.alarm(20)
                    ok = np.array_equal(ng.convolve_rir(y, rir), want) and np.array_equal(
                        ng.convolve_rir(y[:50], rir[:40]), ng.convolve_rir(y[:50], rir[:40]))
                finally:
                    os._exit(0 if ok else 3)
            _, status = os.waitpid(pid, 0)
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status}"
    finally:
        stop.set()
        for t in threads:
            t.join()
