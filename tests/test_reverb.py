"""RIR convolution: equality with scipy, normalisation rules, delay compensation, streaming."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss
import soundfile as sf

import noisegen as ng
from noisegen.effects.reverb import RirConvolver, prepare_rir

SR = 16000


@pytest.fixture(scope="module")
def rir_16k(data_dir):
    h, sr = sf.read(str(data_dir / "rir" / "arthur_sykes_rymer_s1r4_ch1_48k.wav"), dtype="float64")
    return ss.resample_poly(h, 1, 3)


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def test_equals_fftconvolve_after_energy_normalisation(speech_16k, rir_16k):
    out = ng.convolve_rir(speech_16k, rir_16k)
    h = rir_16k / np.sqrt(np.sum(rir_16k ** 2))
    ref = ss.fftconvolve(speech_16k, h)[: speech_16k.shape[0]]
    assert out.shape == speech_16k.shape and out.dtype == np.float64
    assert _rel(out, ref) < 1e-5


@pytest.mark.parametrize("normalize", [None, "peak", "energy"])
def test_normalisation_rules(speech_16k, rir_16k, normalize):
    scale = {None: 1.0, "peak": 1 / np.max(np.abs(rir_16k)), "energy": 1 / np.sqrt(np.sum(rir_16k ** 2))}[normalize]
    ref = ss.fftconvolve(speech_16k, rir_16k * scale)
    np.testing.assert_allclose(ng.convolve_rir(speech_16k, rir_16k, normalize=normalize, mode="full"), ref,
                               rtol=0, atol=1e-5 * np.max(np.abs(ref)))


def test_float32_in_float32_out(speech_16k, rir_16k):
    y32 = speech_16k.astype(np.float32)
    out = ng.convolve_rir(y32, rir_16k.astype(np.float32), normalize=None)
    ref = ss.fftconvolve(speech_16k, rir_16k)[: y32.shape[0]]
    assert out.dtype == np.float32
    assert _rel(out, ref) < 1e-5


def test_compensate_delay_drops_samples_before_peak(speech_16k, rir_16k):
    delay = int(np.argmax(np.abs(rir_16k)))
    assert delay > 0
    out = ng.convolve_rir(speech_16k, rir_16k, normalize=None, compensate_delay=True)
    ref = ss.fftconvolve(speech_16k, rir_16k[delay:])[: speech_16k.shape[0]]
    assert _rel(out, ref) < 1e-5
    # nearly the uncompensated output advanced by the delay (pre-peak samples are tiny)
    advanced = ss.fftconvolve(speech_16k, rir_16k)[delay: delay + speech_16k.shape[0]]
    assert _rel(out, advanced) < 0.5
    assert np.corrcoef(out, advanced)[0, 1] > 0.95


def test_multichannel_mono_rir_and_per_channel_rir():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((2, 3000))
    h = rng.standard_normal((2, 200))
    out = ng.convolve_rir(y, h[0], normalize=None)
    for c in range(2):
        np.testing.assert_allclose(out[c], np.convolve(y[c], h[0])[:3000], atol=1e-9)
    out2 = ng.convolve_rir(y, h, normalize=None)
    for c in range(2):
        np.testing.assert_allclose(out2[c], np.convolve(y[c], h[c])[:3000], atol=1e-9)
    with pytest.raises(ng.ParameterError):
        ng.convolve_rir(y, rng.standard_normal((3, 10)))


@pytest.mark.parametrize("chunks", [[1] * 50 + [4000], [64, 65, 8193, 1000, 20000], [7777] * 10])
def test_streaming_equals_one_shot(speech_16k, rir_16k, chunks):
    conv = RirConvolver(rir_16k)
    whole = conv.convolve(speech_16k, mode="full")
    parts, start = [], 0
    for size in chunks:
        parts.append(conv.process(speech_16k[start:start + size]))
        start += size
        if start >= speech_16k.shape[0]:
            break
    parts.append(conv.process(speech_16k[start:]))
    streamed = np.concatenate(parts + [conv.flush()[0]])
    assert streamed.shape == whole.shape
    assert _rel(streamed, whole) < 1e-9
    np.testing.assert_allclose(streamed[: speech_16k.shape[0]], ng.convolve_rir(speech_16k, rir_16k), rtol=0,
                               atol=1e-9 * np.max(np.abs(whole)))


def test_cache_is_not_fooled_by_in_place_changes():
    rng = np.random.default_rng(1)
    y, h = rng.standard_normal(2000), rng.standard_normal(100)
    first = ng.convolve_rir(y, h, normalize=None)
    h *= 2.0  # same object, new content
    np.testing.assert_allclose(ng.convolve_rir(y, h, normalize=None), 2.0 * first, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_fortran_order_rir_gives_the_bits_of_a_copy(dtype):
    """A Fortran-order stereo RIR's energy was summed in its memory's order: prepare_rir
    and early_rir an ulp from a C-order copy's, and convolve_rir's float64 output with them (layouts)."""
    rng = np.random.default_rng(0)
    y = rng.standard_normal((2, 1000)).astype(dtype)
    for _ in range(20):
        h = (rng.standard_normal((2, 300)) * np.exp(-np.arange(300) / 60)).astype(dtype)
        wide = np.zeros((2, 900), dtype)
        wide[:, ::3] = h
        for view in (np.asfortranarray(h), wide[:, ::3]):
            np.testing.assert_array_equal(prepare_rir(view), prepare_rir(h))
            np.testing.assert_array_equal(ng.early_rir(view, sample_rate=SR), ng.early_rir(h, sample_rate=SR))
            np.testing.assert_array_equal(ng.convolve_rir(y, view), ng.convolve_rir(y, h))

def test_prepare_rir_and_errors():
    np.testing.assert_allclose(prepare_rir(np.array([0.0, 3.0, 4.0])), [[0.0, 0.6, 0.8]])
    with pytest.raises(ng.ParameterError):
        ng.convolve_rir(np.ones(10), np.zeros(5))
    with pytest.raises(ng.ParameterError):
        ng.convolve_rir(np.ones(10), np.array([1.0, np.nan]))
    with pytest.raises(ng.ParameterError):
        ng.convolve_rir(np.array([np.inf, 1.0]), np.ones(3))
    with pytest.raises(ng.ParameterError):
        ng.convolve_rir(np.ones(10), np.ones(3), mode="valid")
    with pytest.raises(ng.ParameterError):
        ng.convolve_rir(np.ones(10), np.ones(3), normalize="rms")
    with pytest.raises(ng.BackendError):
        ng.convolve_rir(np.ones(10), np.ones(3), backend="cuda")


@pytest.mark.parametrize("normalize", ["energy", "peak", None])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_or_tiny_rir_scales_the_output_or_raises(normalize, dtype):
    """A 1e200 RIR gave all zeros (its energy overflowed): now output = scale * output(unit RIR), or an error."""
    rng = np.random.default_rng(4)
    rir = rng.standard_normal(300) * np.exp(-np.arange(300) / 60.0)
    for y in (rng.standard_normal(3000).astype(dtype), rng.standard_normal((2, 3000)).astype(dtype)):
        unit = ng.convolve_rir(y, rir, normalize=normalize)
        for scale in (2.0**-1000, 1e-200, 2.0**-60, 2.0**60, 1e200, 2.0**1000):
            expected = unit.astype(np.float64) * (scale if normalize is None else 1.0)
            peak = np.max(np.abs(expected))
            representable = np.finfo(dtype).tiny <= peak <= np.finfo(dtype).max
            try:
                out = ng.convolve_rir(y, rir * scale, normalize=normalize)
                streamed = RirConvolver(rir * scale, normalize=normalize).process(y)
            except ng.ParameterError as err:
                # only a result out of the dtype's range may be refused, saying so
                assert not representable and ("overflow" in str(err) or "underflow" in str(err)), (normalize, scale)
                continue
            assert out.dtype == dtype and np.isfinite(out).all()
            tol = 1e-6 * np.max(np.abs(expected))
            assert np.max(np.abs(out - expected)) <= tol, (normalize, scale)
            assert np.max(np.abs(streamed - expected)) <= tol, (normalize, scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streamed_tiny_rir_is_refused_as_in_one_call(dtype):
    """process() returned all-zero chunks where convolve() refused the same underflowing RIR (its
    tail, carried in float64, kept the tiny values); a scale that fits still streams, delayed or not."""
    rng = np.random.default_rng(6)
    rir = np.r_[np.zeros(50), rng.standard_normal(200) * np.exp(-np.arange(200) / 40.0)]
    y = rng.standard_normal(3000).astype(dtype)
    # results below the dtype's subnormals (float64: a quiet input too, the RIR itself being float64)
    tiny, quiet = (2.0**-170, 1.0) if dtype == np.float32 else (2.0**-1000, 2.0**-100)
    for chunk in (1, 20, 32, 33, 700, 3000):
        with pytest.raises(ng.ParameterError, match="underflow"):
            ng.convolve_rir(y[:chunk] * quiet, rir * tiny, normalize=None, mode="full")
        conv = RirConvolver(rir * tiny, normalize=None)
        with pytest.raises(ng.ParameterError, match=f"rir underflows {np.dtype(dtype)}"):
            conv.process(y[:chunk] * quiet)
        assert "idle" in repr(conv)
    for scale in (2.0 ** (np.finfo(dtype).minexp + 40), 2.0**-70):  # in range, beyond the 2**-64 rescaling
        conv = RirConvolver(rir * scale, normalize=None)
        for chunk in (1, 20, 33, 700):  # chunks shorter than the RIR's 50-sample delay too
            parts = [conv.process(y[a:a + chunk]) for a in range(0, y.shape[0], chunk)] + [conv.flush()[0]]
            want = ss.fftconvolve(y.astype(np.float64), rir) * scale
            np.testing.assert_allclose(np.concatenate(parts), want, rtol=0, atol=1e-5 * np.max(np.abs(want)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiny_delayed_rir_on_a_shorter_clip_is_not_an_underflow(dtype):
    """mode="same" on a clip shorter than the RIR's delay gives zeros at any scale: a small RIR (beyond
    the 2**-64 rescaling, its result well in range) was refused as "rir underflows"."""
    rng = np.random.default_rng(9)
    for delay in (1, 5, 100):
        rir = np.r_[np.zeros(delay), 1.0, 0.5]
        for scale in (2.0**-70, 1e-30):
            for y in (np.ones(delay, dtype), rng.standard_normal((2, delay)).astype(dtype),
                      np.r_[np.zeros(delay), 1.0].astype(dtype)[:delay + 1]):
                n = y.shape[-1]
                out = ng.convolve_rir(y, rir * scale, normalize=None)
                want = np.array([np.convolve(r.astype(np.float64), rir * scale)[:n] for r in np.atleast_2d(y)])
                assert out.dtype == dtype and out.shape == y.shape
                np.testing.assert_allclose(np.atleast_2d(out), want, rtol=1e-6, atol=1e-6 * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_overlap_save_equals_fftconvolve(dtype):
    # inputs long enough for overlap-save blocks (4 x 1024-sample FFTs for m <= 256),
    # lengths around the block boundaries, mono and multichannel, mono and per-channel RIRs
    from noisegen.effects.reverb import _MIN_BLOCKS, _block_len

    rng = np.random.default_rng(11)
    tol = 2e-6 if dtype == np.float32 else 1e-12
    for m in (1, 2, 100, 256):
        step = _block_len(m) - m + 1
        for n in (_MIN_BLOCKS * step - m, _MIN_BLOCKS * step, 7 * step + 1, 17 * step - 3):
            y = rng.standard_normal((2, n)).astype(dtype)
            for rir in (rng.standard_normal(m), rng.standard_normal((2, m))):
                for mode in ("same", "full"):
                    out = ng.convolve_rir(y, rir, normalize=None, mode=mode)
                    ref = np.array([ss.fftconvolve(y[c].astype(np.float64), rir[c % rir.ndim] if rir.ndim == 2
                                                   else rir) for c in range(2)])
                    ref = ref[:, :n] if mode == "same" else ref
                    assert out.dtype == dtype and out.shape == ref.shape
                    assert _rel(out, ref) < tol, (m, n, mode)
                conv = RirConvolver(rir, normalize=None)  # streaming: chunks long enough for blocks too
                parts = [conv.process(y[:, :n // 2]), conv.process(y[:, n // 2:])]
                np.testing.assert_allclose(np.concatenate(parts, axis=1), ng.convolve_rir(y, rir, normalize=None),
                                           rtol=0, atol=tol * np.max(np.abs(ref)))
                mono = ng.convolve_rir(y[1], rir if rir.ndim == 1 else rir[0], normalize=None)
                assert _rel(mono, ss.fftconvolve(y[1].astype(np.float64), rir if rir.ndim == 1 else rir[0])[:n]) < tol


def test_overlap_save_float32_overflow_redone_in_float64():
    # a float32 result in range whose float32 transforms overflow: redone in float64, not refused
    rng = np.random.default_rng(12)
    y = (rng.standard_normal(20000) * 3e37).astype(np.float32)
    rir = np.zeros(64)
    rir[0] = 1.0
    out = ng.convolve_rir(y, rir, normalize=None)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(out, y, rtol=0, atol=1e-6 * np.max(np.abs(y)))


@pytest.mark.parametrize("chunk", [40, 1000, 5000, 20000])
def test_streamed_float32_overflow_redone_in_float64(chunk):
    # as above, chunk by chunk (the convolver's own chunks and the fixed partition's): process()
    # refused the chunk ("rir overflows float32 ... out of float32's range") where convolve() gave it
    rng = np.random.default_rng(13)
    y = (rng.standard_normal(20000) * 3e37).astype(np.float32)
    rir = np.zeros(64)
    rir[0], rir[40] = 1.0, 1e-3
    conv = RirConvolver(rir, normalize=None)
    parts = [conv.process(y[a:a + chunk]) for a in range(0, y.shape[0], chunk)]
    tail = conv.flush()
    assert all(p.dtype == np.float32 for p in parts) and np.isfinite(tail).all()
    ref = ss.fftconvolve(y.astype(np.float64), rir)
    np.testing.assert_allclose(np.r_[np.concatenate(parts), tail[0]], ref, rtol=0, atol=1e-6 * np.max(np.abs(y)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rir_channels", [None, 2])
def test_short_clips_through_long_rooms(dtype, rir_channels):
    # mode="same" with the RIR longer than the clip: only h[:n] matters, through a spectrum kept per
    # FFT length; clips of many lengths (grid edges included) through one convolver agree with scipy
    rng = np.random.default_rng(11)
    rir = rng.standard_normal((2, 5000) if rir_channels else 5000)
    conv = RirConvolver(rir, normalize=None)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for n in [1, 2, 3, 5, 63, 64, 65, 767, 768, 769, 1000, 2048, 2049, 4999]:
        y = rng.standard_normal((2, n)).astype(dtype)
        out = conv.convolve(y)
        ref = np.array([ss.fftconvolve(y[c], np.atleast_2d(rir)[c % np.atleast_2d(rir).shape[0]])[:n]
                        for c in range(2)])
        assert out.dtype == dtype and out.shape == (2, n)
        np.testing.assert_allclose(out, ref, atol=tol * np.abs(ref).max(), rtol=0)
        np.testing.assert_array_equal(conv.convolve(y), out)  # from the kept spectrum: the same bits


def test_refused_chunk_leaves_the_stream_as_it_was():
    # a first chunk refused for NaN must not start the stream with its channel count; a refused
    # chunk mid-stream changes nothing: the next good chunks continue as if it was never passed
    rng = np.random.default_rng(5)
    h, y = rng.standard_normal(200), rng.standard_normal(3000)
    bad = np.stack([y[:100], y[:100]])
    bad[0, 5] = np.nan
    conv = RirConvolver(h)
    with pytest.raises(ng.ParameterError, match="chunk must be finite"):
        conv.process(bad)
    assert "idle" in repr(conv)
    streamed = [conv.process(y[:1000])]
    with pytest.raises(ng.ParameterError, match="chunk must be finite"):
        conv.process(np.r_[y[:50], np.inf])
    streamed += [conv.process(y[1000:]), conv.flush()[0]]
    fresh = RirConvolver(h)
    expected = [fresh.process(y[:1000]), fresh.process(y[1000:]), fresh.flush()[0]]
    np.testing.assert_array_equal(np.concatenate(streamed), np.concatenate(expected))


@pytest.mark.parametrize("n_rirs", [17, 20])
def test_convolve_rir_from_threads_over_more_rooms_than_the_cache_holds(monkeypatch, n_rirs):
    # convolve_rir's convolver cache was an OrderedDict without a lock: a thread found an entry,
    # compared its samples (NumPy lets other threads run meanwhile: a long RIR), and another thread
    # dropped it, so move_to_end raised KeyError. A short pause in the comparison stands in for a long RIR.
    import threading
    import time

    from noisegen.effects import reverb

    rng = np.random.default_rng(8)
    rirs = [rng.standard_normal(int(rng.integers(5, 90))) for _ in range(n_rirs)]
    y = rng.standard_normal(257).astype(np.float32)
    want = [ng.convolve_rir(y, r) for r in rirs]
    plain_equal = np.array_equal

    def slow_equal(a, b, *args, **kwargs):
        time.sleep(0.0002)
        return plain_equal(a, b, *args, **kwargs)

    monkeypatch.setattr(np, "array_equal", slow_equal)
    n_threads = 4
    barrier = threading.Barrier(n_threads)
    bad = []

    def run(seed):
        draws = np.random.default_rng(seed).integers(0, n_rirs, 300)
        barrier.wait()
        try:
            for i in draws:
                if not np.array_equal(ng.convolve_rir(y, rirs[i]), want[i]):
                    bad.append(("differs", int(i)))
        except Exception as exc:
            bad.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad
    assert len(reverb._CACHE) <= reverb._CACHE_SIZE


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [None, 2])
def test_convolve_rir_cache_is_bounded_in_bytes_over_long_responses(monkeypatch, dtype, channels):
    # The cache of convolve_rir's convolvers was bounded in entries only: 16 long responses the caller
    # keeps (a list of measured rooms) held a copy each and its float64 samples, ~2.4 times the
    # caller's own bytes (16 responses of 42 s at 48 kHz: 366 MB). Shrunk here, the bound in bytes holds
    # for every mix of lengths, and each output is still the uncached convolver's.
    from noisegen.effects import reverb

    monkeypatch.setattr(reverb, "_CACHE_BYTES", 1 << 20, raising=False)
    monkeypatch.setattr(reverb, "_CACHE", type(reverb._CACHE)())
    rng = np.random.default_rng(11)
    shape = () if channels is None else (channels,)
    rirs = [rng.standard_normal(shape + (int(m),)).astype(dtype) for m in rng.integers(1, 90_000, 24)]
    rirs.append(rng.standard_normal(shape + (300_000,)).astype(dtype))  # alone past the bound: used, not kept
    y = rng.standard_normal(shape + (301,)).astype(dtype)
    for i in rng.integers(0, len(rirs), 60):
        out = ng.convolve_rir(y, rirs[i])
        np.testing.assert_array_equal(out, RirConvolver(rirs[i]).convolve(y))
        held = sum(a.nbytes + c.nbytes for a, c in reverb._CACHE.values())
        assert held <= 1 << 20 and len(reverb._CACHE) <= reverb._CACHE_SIZE
