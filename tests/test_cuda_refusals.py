"""The GPU paths refuse what the CPU paths refuse, and the GPU stream yields the CPU stream's chunks, on
the numba-cuda simulator (``NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim``). Found by a probe of the CUDA side:
an overflow written as inf where the CPU raises, speed factors the CPU refuses, chunks sped up to nothing."""

from __future__ import annotations

import numpy as np
import pytest

import noisegen as ng
from test_cuda import _rel, cudasim

F32_MAX = float(np.finfo(np.float32).max)


def _refusal(call, backend):
    with pytest.raises(ng.ParameterError) as err:
        call(backend)
    return str(err.value)


@cudasim
@pytest.mark.parametrize("name, call", [
    ("speed", lambda y, b: ng.speed(y, factor=1.1, sample_rate=16000, backend=b)),
    ("resample down", lambda y, b: ng.resample(y, orig_sample_rate=16000, target_sample_rate=8000, backend=b)),
    ("resample up", lambda y, b: ng.resample(y, orig_sample_rate=8000, target_sample_rate=11025, backend=b)),
    ("gain", lambda y, b: ng.gain(y, gain_db=20.0, backend=b)),
    ("lowpass", lambda y, b: ng.lowpass(y, cutoff_hz=4000.0, sample_rate=16000, order=8, backend=b)),
    ("high_shelf", lambda y, b: ng.high_shelf(y, cutoff_hz=1000.0, gain_db=20.0, sample_rate=16000, backend=b)),
    ("peaking_eq", lambda y, b: ng.peaking_eq(y, center_hz=3000.0, gain_db=12.0, q=2.0, sample_rate=16000,
                                              backend=b)),
    ("sos_filter", lambda y, b: ng.sos_filter(y, sos=[[4.0, 0, 0, 1, 0, 0]], backend=b)),
    ("zi", lambda y, b: ng.highpass(y * 0, cutoff_hz=100.0, sample_rate=16000, zi=np.full((2, 2), 1e300),
                                    backend=b)),
])
def test_an_overflow_is_refused_on_the_gpu_as_on_the_cpu(name, call):
    """A finite input whose output overflows float32: the CPU raises; speed, resample and the filters on
    the GPU returned inf samples."""
    pytest.importorskip("numba.cuda")
    y = np.full(9, F32_MAX, np.float32)
    said = _refusal(lambda b: call(y, b), "cpu")
    assert "overflows float32" in said
    assert _refusal(lambda b: call(y, b), "cuda") == said
    from numba import cuda

    assert _refusal(lambda b: call(cuda.to_device(y), b), "cuda") == said  # a device input too


@cudasim
@pytest.mark.parametrize("shape", [(7,), (2, 5)])
def test_a_gpu_filter_refuses_nan_in_a_device_input(shape):
    """A device input is not scanned before the launch: a NaN came out of the filters as NaN samples."""
    from numba import cuda

    for dtype in (np.float32, np.float64):
        y = np.ones(shape, dtype)
        y[..., 2] = np.nan
        for call in (lambda d: ng.lowpass(d, cutoff_hz=1000.0, sample_rate=8000),
                     lambda d: ng.sos_filter(d, sos=ng.design_sos("highpass", cutoff_hz=100.0, sample_rate=8000),
                                             zi="zeros")):
            with pytest.raises(ng.ParameterError, match=r"y must be finite, got [12] NaN/inf"):
                call(cuda.to_device(y))


@cudasim
def test_augment_batch_refuses_an_overflowing_gain_on_the_gpu_as_on_the_cpu():
    pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc

    x = np.full((2, 8), 1e35, np.float32)
    x[0] = 0.1  # the second item overflows
    said = {b: _refusal(lambda b: nc.augment_batch(x, sample_rate=16000, gain_db=120.0, backend=b), b)
            for b in ("cpu", "cuda")}
    for b in said:  # (the GPU's stage works in place: the item's peak before the gain is not said)
        assert said[b].startswith("gain_db=120 overflows float32 for this input"), said[b]


@cudasim
@pytest.mark.parametrize("band_hz", [(900.0, 1100.0), (1000.0, 3000.0), (50.0, 200.0)])
def test_augment_batch_refuses_an_overflowing_band_pass_on_the_gpu_as_on_the_cpu(band_hz):
    """A full-scale square wave rings past float32 in the band-pass: the CPU raised, the GPU gave inf."""
    pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc

    t = np.arange(300) / 8000
    x = np.stack([np.full(300, 0.1), F32_MAX * np.sign(np.sin(2 * np.pi * np.mean(band_hz) * t))]).astype(np.float32)
    for b in ("cpu", "cuda"):
        said = _refusal(lambda b: nc.augment_batch(x, sample_rate=8000, band_hz=band_hz, backend=b), b)
        assert said.startswith(f"bandpass(low_hz={band_hz[0]:g}, high_hz={band_hz[1]:g}, order=4) overflows "
                               "float32 for this input"), said


@cudasim
@pytest.mark.parametrize("speed", [300.0, 1e-3, [1000.0], [0.9, 257.0], (0.001, 0.5), np.array([1.0, 1e5])])
@pytest.mark.parametrize("backend", ["cpu", "cuda"])
def test_augment_batch_refuses_speed_factors_that_speed_refuses(speed, backend):
    """speed() takes factors in [1/256, 256]; augment_batch took any positive one (300 gave 2-sample rows,
    1e5 built 340 MB of tables first)."""
    pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc

    with pytest.raises(ng.ParameterError, match=r"speed .*\[0\.00390625, 256\]"):
        nc.augment_batch(np.zeros((2, 10), np.float32), sample_rate=16000, speed=speed, rng=0, backend=backend)


@cudasim
@pytest.mark.parametrize("threads", [0, -1, 1.5, True, 1025, "64"])
def test_augment_batch_refuses_a_bad_threads(threads):
    """threads=0 raised ZeroDivisionError, -1 a ValueError, 1.5 and True were taken, 1025 would fail to
    launch on a GPU (at most 1024 threads a block)."""
    pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc

    with pytest.raises(ng.ParameterError, match="threads"):
        nc.augment_batch(np.zeros((2, 10), np.float32), sample_rate=16000, gain_db=1.0, rng=0, backend="cuda",
                         threads=threads)


def test_a_launch_past_the_grid_limit_names_threads():
    """threads=1 over 2**31 samples (a 64 x 10 min 48 kHz batch at speed 0.9 is 2.05e9; 75 rows without one
    2.16e9) asked the driver for more than CUDA's 2**31 - 1 blocks, a launch it refuses naming no argument."""
    from noisegen._gpu import ops

    grids = []

    class Kernel:  # (no launch: the limit is checked on the host, before one)
        def __getitem__(self, config):
            return lambda *args: grids.append(config)

    with pytest.raises(ng.ParameterError, match=r"threads=1 .*2,147,483,648 blocks.* threads >= 2"):
        ops.launch(Kernel(), 2**31, 1)
    ops.launch(Kernel(), 2**31 - 1, 1)
    ops.launch(Kernel(), 2**31, 2)
    ops.launch(Kernel(), (2**31 - 1) * 256, None)  # (the default block: any batch a GPU holds)
    assert grids == [(2**31 - 1, 1), (2**30, 2), (2**31 - 1, 256)]


@cudasim
def test_mix_at_snr_names_a_bad_reference_on_the_gpu_as_on_the_cpu():
    pytest.importorskip("numba.cuda")
    y, noise = np.ones(8, np.float32), np.ones(8, np.float32)
    said = {b: _refusal(lambda b: ng.mix_at_snr(y, noise, snr_db=10, reference="peak", backend=b), b)
            for b in ("cpu", "cuda")}
    assert said["cpu"] == said["cuda"] and "reference" in said["cpu"] and "'peak'" in said["cpu"]


@cudasim
@pytest.mark.parametrize("lengths, factors", [((1, 40), [2.0]), ((97, 401, 5, 256, 333), [20.0]),
                                              ((1, 1, 2, 9), [4.0]), ((1,), [2.0]), ((40, 3, 50), [1.0])])
def test_the_gpu_stream_drops_chunks_sped_up_to_nothing_as_the_cpu_stream_does(lengths, factors):
    """An item whose sped-up length rounds to 0: the CPU stream yields no chunk for it; the GPU stream
    yielded an empty row, and every later batch was shifted by one."""
    pytest.importorskip("numba.cuda")
    from noisegen.transforms import SpeedPerturb

    items = [np.full(n, 0.5, np.float32) + np.arange(n, dtype=np.float32) / 1000 for n in lengths]
    kw = dict(sample_rate=16000, rng=0, shuffle=False)
    cpu = list(ng.AugmentStream(items, SpeedPerturb(factors=factors, p=1.0), **kw).batches(2))
    gpu = ng.AugmentStream(items, SpeedPerturb(factors=factors, p=1.0), device="cuda", **kw)
    gpu._cuda_threads = 32
    got = list(gpu.batches(2))
    assert [b.lengths.tolist() for b in got] == [b.lengths.tolist() for b in cpu]
    for want, have in zip(cpu, got):
        assert [c.item for c in have.chunks] == [c.item for c in want.chunks]
        rows = have.samples.copy_to_host()
        for i, n in enumerate(want.lengths):
            assert _rel(rows[i, :n], want.samples[i, :n]) <= 1e-5


@cudasim
def test_the_gpu_stream_measures_a_chunk_by_its_length_not_its_padding():
    """With chunk_s, an item's last chunk is zero-padded to the chunk size: the drop measured the
    padded width (160 samples / 20 = 8) instead of its 5 real samples (0 once sped up)."""
    pytest.importorskip("numba.cuda")
    from noisegen.transforms import SpeedPerturb

    items = [np.full(n, 0.25, np.float32) for n in (165, 300)]
    kw = dict(sample_rate=16000, rng=0, shuffle=False, chunk_s=0.01)
    gpu = ng.AugmentStream(items, SpeedPerturb(factors=[20.0], p=1.0), device="cuda", **kw)
    gpu._cuda_threads = 32
    lengths = [n for b in gpu.batches(8) for n in b.lengths.tolist()]
    assert lengths == [8, 8, 7]  # (165 = 160 + 5: the 5 go; 300 = 160 + 140)


@cudasim
def test_augment_batch_names_nan_in_a_device_noise_array():
    """A CUDA noise array is not scanned before the launch; NaN in it came out as 'snr_db=10 overflows'."""
    pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc
    from numba import cuda

    noise = np.ones((2, 16), np.float32)
    noise[1, 3] = np.nan
    with pytest.raises(ng.ParameterError, match="noise must be finite"):
        nc.augment_batch(np.ones((2, 16), np.float32), sample_rate=16000, noise=cuda.to_device(noise), snr_db=10.0,
                         backend="cuda")


@cudasim
def test_a_gpu_stream_without_a_pipeline_yields_the_raw_chunks():
    """AugmentStream(pipeline=None, device="cuda") was accepted, then batches() raised
    'item_params[0] holds None, which the pipeline does not have'."""
    pytest.importorskip("numba.cuda")
    items = [np.random.default_rng(i).standard_normal(n).astype(np.float32) for i, n in enumerate((30, 50, 20))]
    kw = dict(sample_rate=16000, rng=0, shuffle=False)
    cpu = list(ng.AugmentStream(items, None, **kw).batches(2))
    got = list(ng.AugmentStream(items, None, device="cuda", **kw).batches(2))
    assert len(got) == len(cpu) == 2
    for want, have in zip(cpu, got):
        np.testing.assert_array_equal(have.lengths, want.lengths)
        np.testing.assert_array_equal(have.samples.copy_to_host(), want.samples)


@cudasim
@pytest.mark.parametrize("shape, says", [((0, 5), "at least one channel"), ((100, 2), "channels-last"),
                                         ((2, 3, 4), "must have shape")])
def test_a_device_array_gets_the_host_arrays_shape_rules(shape, says):
    """A device array of shape (0, 5) or channels-last (100, 2) was processed; a host one is refused."""
    pytest.importorskip("numba.cuda")
    from numba import cuda

    y = np.zeros(shape, np.float32)
    with pytest.raises(ng.ParameterError, match=says):
        ng.gain(y, gain_db=1.0)
    with pytest.raises(ng.ParameterError, match=says):
        ng.gain(cuda.to_device(y), gain_db=1.0)


@cudasim
@pytest.mark.parametrize("shape, says", [((0, 5), "at least one channel"), ((2, 0, 3), "must have shape"),
                                         ((0, 0), "at least one channel"), ((3, 0, 0), "must have shape")])
def test_clip_by_percentile_gives_an_empty_device_array_the_shape_rules(shape, says):
    """clip(percentile=) handed an empty device array back as it was, before any check (a host one, or a
    threshold, is refused)."""
    pytest.importorskip("numba.cuda")
    from numba import cuda

    y = np.zeros(shape, np.float32)
    for call in (lambda a: ng.clip(a, percentile=10.0), lambda a: ng.clip(a, threshold=0.5)):
        with pytest.raises(ng.ParameterError, match=says):
            call(y)
        with pytest.raises(ng.ParameterError, match=says):
            call(cuda.to_device(y))
    for shape in ((0,), (2, 0)):  # empty audio of a good shape comes back empty, of its kind and dtype
        got = ng.clip(cuda.to_device(np.zeros(shape)), percentile=10.0)
        assert got.shape == shape and got.dtype == np.float64 and got.copy_to_host().size == 0
        assert ng.clip(np.zeros(shape, np.float32), percentile=10.0, backend="cuda").dtype == np.float32


@cudasim
def test_a_fortran_order_device_array_is_refused_with_its_strides():
    pytest.importorskip("numba.cuda")
    from numba import cuda

    y = cuda.to_device(np.asfortranarray(np.zeros((2, 8), np.float32)))
    with pytest.raises(ng.ParameterError, match=r"C-contiguous on the device .*got strides \(4, 8\)"):
        ng.gain(y, gain_db=1.0)


@cudasim
def test_gpu_mixing_needs_only_the_added_noise_finite_as_the_cpu():
    """NaN in a host noise array outside the samples added: the CPU mixes, the GPU refused."""
    pytest.importorskip("numba.cuda")
    y = np.random.default_rng(0).standard_normal(5).astype(np.float32)
    noise = np.random.default_rng(1).standard_normal(100).astype(np.float32)
    noise[50] = np.nan
    want = ng.mix_at_snr(y, noise, snr_db=10, backend="cpu")
    assert _rel(ng.mix_at_snr(y, noise, snr_db=10, backend="cuda"), want) <= 1e-6
    with pytest.raises(ng.ParameterError, match="noise must be finite"):
        ng.mix_at_snr(y, noise, snr_db=10, noise_offset=48, backend="cuda")


@cudasim
@pytest.mark.parametrize("what", ["batch", "noise"])
@pytest.mark.parametrize("layout", ["F", "strided"])
def test_augment_batch_refuses_a_strided_device_batch_or_noise_with_its_strides(what, layout):
    """An F-order or sliced device batch raised numba's raw 'incompatible strides' / 'non-contiguous buffer'
    ValueError; a strided device noise did so only for a ragged batch (lengths=)."""
    pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc
    from numba import cuda

    x = np.random.default_rng(0).standard_normal((2, 16)).astype(np.float32)
    bad = cuda.to_device(np.asfortranarray(x)) if layout == "F" else cuda.to_device(np.repeat(x, 2, axis=1))[:, ::2]
    batch, noise = (bad, x) if what == "batch" else (cuda.to_device(x), bad)
    for lengths in (None, [16, 7]):
        with pytest.raises(ng.ParameterError, match=rf"{what} must be C-contiguous on the device .*got strides"):
            nc.augment_batch(batch, sample_rate=16000, noise=noise, snr_db=5.0, lengths=lengths, threads=8)


@cudasim
def test_augment_batch_refuses_a_device_batch_with_backend_cpu():
    """backend='cpu' took a numba device batch through np.asarray and gave host samples (the docs: the kind
    of the batch); a CuPy array or torch CUDA tensor raised their own TypeError. The functional API refuses."""
    pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc
    from numba import cuda

    d = cuda.to_device(np.ones((2, 16), np.float32))
    with pytest.raises(ng.ParameterError, match="batch is a CUDA array: backend='cpu' takes a NumPy batch"):
        nc.augment_batch(d, sample_rate=16000, gain_db=-3.0, backend="cpu")
    with pytest.raises(ng.ParameterError, match="y must be a numpy float array|y is a CUDA array"):
        ng.gain(d, gain_db=-3.0, backend="cpu")


@cudasim
def test_augment_batch_with_device_noise_runs_where_its_backend_says():
    """A NumPy batch with noise on the device and backend='cpu' was mixed on the GPU, row by row (mix_at_snr's
    own 'auto'); backend='cpu' refuses it as it refuses a device batch, and 'auto' runs on the GPU (either
    array there), with the CPU's result."""
    pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc
    from numba import cuda

    rng = np.random.default_rng(3)
    batch = rng.standard_normal((2, 64)).astype(np.float32) * 0.1
    noise = rng.standard_normal(64).astype(np.float32)
    with pytest.raises(ng.ParameterError, match="noise is a CUDA array: backend='cpu' takes NumPy noise"):
        nc.augment_batch(batch, sample_rate=16000, noise=cuda.to_device(noise), snr_db=5.0, rng=0, backend="cpu")
    on_cpu = nc.augment_batch(batch, sample_rate=16000, noise=noise, snr_db=5.0, rng=0, backend="cpu")
    auto = nc.augment_batch(batch, sample_rate=16000, noise=cuda.to_device(noise), snr_db=5.0, rng=0)
    assert isinstance(auto.samples, np.ndarray)  # (the kind of the batch)
    np.testing.assert_allclose(auto.samples, on_cpu.samples, rtol=1e-5, atol=1e-6)


@cudasim
@pytest.mark.parametrize("backend", ["cpu", "cuda"])
@pytest.mark.parametrize("kw, says", [
    (dict(band_hz=(0.01, 100.0)), r"band_hz edges must satisfy 0\.16 <= low_hz < high_hz <= 7999\.84 .*got \(0\.01, 100"),
    (dict(band_hz=(100.0, 7999.95)), r"band_hz edges must satisfy .*got \(100\.0, 7999\.95\)"),
    (dict(band_hz=(100.0, 1000.0), band_order=40), r"band_order must be an integer in \[1, 32\], got 40"),
    (dict(band_hz=(100.0, 1000.0), band_order=2.5), r"band_order must be an integer, got 2\.5"),
])
def test_augment_batch_checks_its_band_against_the_filter_design_before_any_stage(backend, kw, says, monkeypatch):
    """band_hz inside (0, Nyquist) but within 1e-5 of the sample rate of an end, or a bad band_order, passed
    the checks and was refused by the filter design after the noise was made and mixed, naming low_hz,
    high_hz or order instead of band_hz or band_order."""
    pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc

    def no_stage(*args, **kwargs):
        raise AssertionError("a stage ran before the arguments were checked")

    monkeypatch.setattr(nc.dispatch, "cuda_noise_rows", no_stage)
    monkeypatch.setattr(nc.mix, "mix_at_snr", no_stage)
    with pytest.raises(ng.ParameterError, match=says):
        nc.augment_batch(np.full((2, 16), 0.1, np.float32), sample_rate=16000, noise="pink", snr_db=5.0,
                         backend=backend, **kw)


@cudasim
@pytest.mark.parametrize("peak", [1e160, 1e200, 1e300])
def test_a_power_past_float64_is_refused_on_the_gpu_as_on_the_cpu(peak):
    """Finite float64 audio whose squares pass float64: mix_at_snr on the GPU said it was not finite,
    and augment_batch mixed nothing into a row given such a noise (no error, no warning)."""
    pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc
    from numba import cuda

    loud = np.array([peak, -peak, peak, 3.0])
    quiet = np.array([1.0, -1.0, 0.5, 0.2])
    for y, noise, name in ((loud, quiet, "y"), (quiet, loud, "noise"), (np.stack([quiet, loud]), quiet, "y"),
                           (loud, loud, "noise")):
        said = _refusal(lambda b: ng.mix_at_snr(y, noise, snr_db=10.0, backend=b), "cpu")
        assert said == f"{name} is too loud: its power overflows float64"
        assert _refusal(lambda b: ng.mix_at_snr(y, noise, snr_db=10.0, backend=b), "cuda") == said
        # without an SNR no power is needed: such audio adds, on the GPU as on the CPU
        got = ng.mix_at_snr(cuda.to_device(y), noise, snr_db=None, backend="cuda").copy_to_host()
        np.testing.assert_array_equal(got, ng.mix_at_snr(y, noise, snr_db=None))
    batch = np.stack([quiet, quiet, quiet])
    for noise in (loud, loud[None], np.stack([quiet, loud, quiet])):
        for b in ("cpu", "cuda"):
            with pytest.raises(ng.ParameterError, match="noise is too loud: its power overflows float64"):
                nc.augment_batch(batch, sample_rate=8000, noise=noise, snr_db=(0.0, 20.0), rng=1, backend=b)
    batch[1] = loud
    for b in ("cpu", "cuda"):
        with pytest.raises(ng.ParameterError, match="is too loud: its power overflows float64"):
            nc.augment_batch(batch, sample_rate=8000, noise="pink", snr_db=10.0, rng=1, backend=b)
    # an item the noise skips is left as it is, however loud (the GPU refused it as an overflow)
    params = {"snr_db": np.full(3, 10.0), "beta": np.ones(3), "noise_keys": np.arange(3, dtype=np.uint64),
              "noise_applied": np.array([True, False, True])}
    want = nc.augment_batch(batch, sample_rate=8000, params=params, backend="cpu").samples
    got = nc.augment_batch(batch, sample_rate=8000, params=params, backend="cuda", threads=3).samples
    np.testing.assert_array_equal(want[1], loud)
    np.testing.assert_array_equal(got[1], loud)
    assert _rel(got, want) <= 1e-12


@cudasim
@pytest.mark.parametrize("chunk", [{}, dict(chunk_s=0.005), dict(chunk_s=0.005, hop_s=0.003)])
def test_the_gpu_streams_len_counts_the_chunks_it_drops(chunk):
    """A chunk sped up to nothing is dropped on the GPU (its own length sped, not its item's): len(stream)
    and len(stream.batches(n)) counted it (18 said, 17 yielded, over three epochs)."""
    pytest.importorskip("numba.cuda")
    from noisegen.transforms import Compose, Gain, SpeedPerturb

    items = [np.full(n, 0.5, np.float32) for n in (120, 1, 2, 77, 1, 3, 43)]
    pipeline = Compose([Gain(p=0.5), SpeedPerturb(factors=[1.0, 3.0, 5.0, 20.0], p=0.8)])
    for epochs in (1, 3):
        stream = ng.AugmentStream(items, pipeline, sample_rate=8000, rng=7, epochs=epochs, device="cuda", **chunk)
        stream._cuda_threads = 32
        n = len(stream)
        batches = stream.batches(2)
        assert len(batches) == -(-n // 2)
        first = next(batches)
        assert len(stream) == n - len(first.chunks)
        assert n == len(first.chunks) + sum(len(b.chunks) for b in batches)
    # no chunk short enough to be emptied: every epoch counts as much, multiplied rather than drawn one by one
    from noisegen.data.state import MAX_EPOCHS

    long_items = [np.full(n, 0.5, np.float32) for n in (120, 77, 52)]
    kw = dict(sample_rate=8000, rng=7, device="cuda", **chunk)
    one = len(ng.AugmentStream(long_items, pipeline, epochs=1, **kw))
    assert len(ng.AugmentStream(long_items, pipeline, epochs=MAX_EPOCHS, **kw)) == one * MAX_EPOCHS



@cudasim
def test_the_gpu_streams_len_asks_the_pipeline_about_two_lengths_an_item_not_one_a_chunk(monkeypatch):
    """Counting an item whose last chunk may be sped up to nothing asked the pipeline for the output
    length of each of its chunks: 20,001 chunks of a 160,003-sample item took 20,001 calls (1-sample
    chunks of an hour: 58 million). Every chunk but the last is whole: two calls, the same count."""
    pytest.importorskip("numba.cuda")
    from noisegen.transforms import Compose, SpeedPerturb
    from noisegen.transforms.shape import SignalShape

    pipeline = Compose([SpeedPerturb(factors=[1.0, 20.0], p=1.0)])
    asked = []
    real = type(pipeline).output_length

    def counted(self, n, sample_rate, params):
        asked.append(n)
        return real(self, n, sample_rate, params)

    monkeypatch.setattr(type(pipeline), "output_length", counted)
    items = [np.full(8 * 20_000 + 3, 0.5, np.float32), np.full(8 * 5 + 9, 0.5, np.float32)]
    for rng in range(4):  # factor 20 empties the 3-sample last chunk of the first item, factor 1 keeps it
        stream = ng.AugmentStream(items, pipeline, sample_rate=8000, chunk_s=0.001, rng=rng, device="cuda")
        asked.clear()
        n = len(stream)
        assert len(asked) <= 2 * len(items) + 2, len(asked)
        speeds = [stream.pipeline.draw_params(SignalShape((len(y),)), sample_rate=8000,
                                              rng=_item_generator(stream, i)) for i, y in enumerate(items)]
        # the first item: 20,000 whole chunks of 8 (round(8 / 20) = 0 at factor 20: emptied too) and one of 3
        want = 0
        for y, params in zip(items, speeds):
            whole, last = len(y) // 8, len(y) % 8
            want += sum(real(stream.pipeline, m, 8000, params) > 0 for m in [8] * whole + ([last] if last else []))
        assert n == want


def _item_generator(stream, item, epoch=0):
    from noisegen._core.rng import as_generator, derive_key

    return as_generator(derive_key(stream._key, epoch, item))


_Y, _Y2, _NOISE = np.full(40, 0.1, np.float32), np.full((2, 40), 0.1, np.float32), np.ones(10, np.float32)


@cudasim
@pytest.mark.parametrize("call", [
    lambda b: ng.mix_at_snr(_Y, _NOISE, snr_db=float("nan"), backend=b),
    lambda b: ng.mix_at_snr(_Y2, _NOISE, snr_db=500.0, backend=b),
    lambda b: ng.mix_at_snr(_Y, _NOISE, snr_db=5.0, noise_offset=-1, backend=b),
    lambda b: ng.mix_at_snr(_Y2, _NOISE, snr_db=5.0, noise_offset=1.5, backend=b),
    lambda b: ng.mix_at_snr(_Y2, np.ones((3, 10), np.float32), snr_db=5.0, backend=b),
    lambda b: ng.mix_at_snr(_Y, np.ones((2, 10), np.float32), snr_db=5.0, backend=b),
    lambda b: ng.mix_at_snr(_Y, np.ones(0, np.float32), snr_db=None, backend=b),
    lambda b: ng.lowpass(_Y, cutoff_hz=100.0, sample_rate=8000, zi=np.zeros((3, 2)), backend=b),
    lambda b: ng.bandpass(_Y2, low_hz=100.0, high_hz=900.0, sample_rate=8000, zi=np.zeros((4, 2)), backend=b),
    lambda b: ng.sos_filter(_Y2, sos=[[1.0, 0, 0, 1, 0, 0]], zi=np.full((1, 2, 2), np.inf), backend=b),
    lambda b: ng.speed(np.zeros(2**31 // 256 + 1, np.float32), factor=1 / 256, sample_rate=8000, backend=b),
    lambda b: ng.speed(np.zeros((2, 2**30 // 256 + 1), np.float32), factor=1 / 256, sample_rate=8000, backend=b),
    lambda b: ng.resample(np.zeros(2**31 // 256 + 1, np.float32), orig_sample_rate=1000, target_sample_rate=256000,
                          backend=b),
])
def test_bad_arguments_are_refused_before_the_audio_is_copied_to_the_device(call, monkeypatch):
    """mix_at_snr's snr_db, noise_offset and noise shape, a filter's zi and the output size of speed and
    resample were checked on the GPU only after the audio (and noise) had been copied to the device; the
    error is now the CPU's, raised first (a mono output's shape is shown as on the CPU: (n,), not (1, n))."""
    pytest.importorskip("numba.cuda")
    from noisegen._gpu import ops

    said = _refusal(call, "cpu")

    def copied(x):
        raise AssertionError(f"copied to the device before the arguments were checked: {said}")

    monkeypatch.setattr(ops, "to_device", copied)
    assert _refusal(call, "cuda") == said


@cudasim
@pytest.mark.parametrize("shape", [(40,), (2, 40)])
def test_a_cascade_longer_than_the_gpu_kernels_names_the_cpu_before_any_copy(shape, monkeypatch):
    """A 33+ section sos on the GPU: a BackendError, after y was copied, that named no way out."""
    pytest.importorskip("numba.cuda")
    from noisegen._gpu import ops

    y = np.full(shape, 0.1)
    for n in (33, 40):
        sos = np.tile([1.0, 0, 0, 1, 0, 0], (n, 1))
        np.testing.assert_array_equal(ng.sos_filter(y, sos=sos, backend="cpu"), y)
        monkeypatch.setattr(ops, "to_device", lambda x: pytest.fail("copied to the device first"))
        with pytest.raises(ng.BackendError, match=f"at most 32 sections, got {n}; use backend='cpu'"):
            ng.sos_filter(y, sos=sos, backend="cuda")
        monkeypatch.undo()
    y2 = ng.sos_filter(y, sos=np.tile([1.0, 0, 0, 1, 0, 0], (32, 1)), backend="cuda")  # the kernel's most
    np.testing.assert_array_equal(y2, y)


def test_a_batch_too_loud_for_its_power_is_named_batch_on_the_cpu_too():
    # the CPU backend said "y is too loud" (mix_at_snr's argument, never passed); the GPU's says "batch"
    import noisegen.cuda as nc

    batch = np.stack([np.array([1.0, -1.0, 0.5, 0.2]), np.array([1e200, -1e200, 1e200, 3.0])])
    with pytest.raises(ng.ParameterError, match="^batch is too loud: its power overflows float64$"):
        nc.augment_batch(batch, sample_rate=8000, noise="pink", snr_db=10.0, rng=1, backend="cpu")
