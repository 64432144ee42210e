"""CUDA kernels against the CPU kernels, on the numba-cuda simulator (or a real GPU).

Run: ``NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim tests/test_cuda.py``. The
simulator runs every thread as Python, so sizes are tiny (a few rows of a
few hundred samples) and block sizes include 1, 2 and odd ones, so every
kernel runs on many blocks and on partial last blocks.

The tests not marked ``cudasim`` run in the default pass: ``import
noisegen`` stays free of numba.cuda, and asking for CUDA where there is none
raises BackendError with the install hint. The PTX check (``slow``) compiles
every kernel for a real GPU when libNVVM is installed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import noisegen as ng
from noisegen._core.backend import CUDA_INSTALL_HINT, is_numba_device_array

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def _gpu_present():
    if SIM:
        return False
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:
        return False


def cudasim(fn):
    """Mark a CUDA test: selected by ``-m cudasim``, skipped without the simulator or a GPU."""
    fn = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")(fn)  # simulator's uint64 math
    fn = pytest.mark.skipif(not (SIM or _gpu_present()), reason="needs NUMBA_ENABLE_CUDASIM=1 or a GPU")(fn)
    return pytest.mark.cudasim(fn)


@pytest.fixture
def D():
    pytest.importorskip("numba.cuda")
    from noisegen._gpu import ops as _cuda_dispatch

    return _cuda_dispatch


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


THREADS = [1, 2, 7, 32]


# ----------------------------------------------------------------------------- noise


@cudasim
@pytest.mark.parametrize("threads", THREADS)
def test_white_noise_matches_cpu(D, threads):
    got = D.cuda_white_noise(97, rng=11, n_channels=3, threads=threads)
    assert is_numba_device_array(got) and got.shape == (3, 97)
    want = ng.white_noise(97, rng=11, n_channels=3)
    assert _rel(got.copy_to_host(), want) <= 1e-6


@cudasim
@pytest.mark.parametrize("beta,threads", [(1.0, 1), (2.0, 2), (-1.0, 3), (-2.0, 32), (0.37, 1), (-1.9, 2), (-1.81, 7)])
def test_colored_noise_matches_cpu(D, beta, threads):
    got = D.cuda_colored_noise(150, beta=beta, rng=4, n_channels=2, dtype=np.float64, threads=threads)
    want = ng.colored_noise(150, beta=beta, rng=4, n_channels=2, dtype=np.float64)
    assert _rel(got.copy_to_host(), want) <= 1e-6
    mono = D.cuda_colored_noise(60, beta=beta, rng=4, threads=threads)
    assert mono.shape == (60,)
    assert _rel(mono.copy_to_host(), ng.colored_noise(60, beta=beta, rng=4)) <= 1e-6


@cudasim
def test_noise_rows_per_item_beta_and_key(D):
    """One launch, a different beta and key per row: each row is that item's CPU noise."""
    from noisegen._design.noise import design_bank, initial_state, run_bank

    betas, keys = [0.0, 1.0, -1.5, 2.0], [3, 2**63 + 5, 77, 12345]
    got = D.cuda_noise_rows(80, betas=betas, keys=keys, threads=3).copy_to_host()
    for r, (beta, key) in enumerate(zip(betas, keys)):
        bank = design_bank(beta)
        want = np.empty((1, 80), dtype=np.float32)
        run_bank(want, bank, key, 0, initial_state(bank, key, 1))
        assert _rel(got[r], want[0]) <= 1e-6, r


@cudasim
@pytest.mark.parametrize("beta,threads", [(2.0, 1), (0.0, 3), (-1.9, 32), (0.7, 2)])
def test_colored_noise_with_min_freq_matches_cpu(D, beta, threads):
    kw = dict(min_freq_hz=20, sample_rate=16000)
    got = D.cuda_colored_noise(150, beta=beta, rng=4, n_channels=2, dtype=np.float64, threads=threads, **kw)
    assert _rel(got.copy_to_host(), ng.colored_noise(150, beta=beta, rng=4, n_channels=2, dtype=np.float64, **kw)) <= 1e-6
    mono = D.cuda_colored_noise(60, beta=beta, rng=4, threads=threads, **kw)
    assert _rel(mono.copy_to_host(), ng.colored_noise(60, beta=beta, rng=4, **kw)) <= 1e-6


@cudasim
def test_noise_rows_with_min_freq_per_item_beta_and_key(D):
    from noisegen._design.noise import design_bank, initial_state, run_bank

    betas, keys = [0.0, 1.0, -1.5, 2.0], [3, 2**63 + 5, 77, 12345]
    got = D.cuda_noise_rows(80, betas=betas, keys=keys, threads=3, min_freq=20 / 8000).copy_to_host()
    for r, (beta, key) in enumerate(zip(betas, keys)):
        bank = design_bank(beta, 20 / 8000)
        want = np.empty((1, 80), dtype=np.float32)
        run_bank(want, bank, key, 0, initial_state(bank, key, 1))
        assert _rel(got[r], want[0]) <= 1e-6, r


@pytest.mark.parametrize("kwargs, needle", [
    (dict(lengths=[np.nan, 800], width=800), "lengths must hold 2 whole numbers in"),  # NumPy's ValueError
    (dict(lengths=[-5, 800], width=800), "lengths must hold"),  # accepted: a row of -5 samples
    (dict(lengths=["a", "b"], width=800), "lengths must be"),  # int()'s ValueError
    (dict(starts=[0]), "starts must hold 2"),  # IndexError
    (dict(starts=["x", "y"]), "starts must be"),  # int()'s ValueError
    (dict(starts=[-1, 0]), "starts must hold"),  # accepted
    (dict(item_params=[1, 2]), r"item_params\[0\] must be"),  # AttributeError: 'int' object has no attribute 'get'
    (dict(item_params=None), "item_params must be"),  # TypeError: object of type 'NoneType' has no len()
])
def test_batch_params_refuse_bad_arguments_by_name(kwargs, needle):
    from noisegen.data.stream import cuda_batch_params
    from noisegen.transforms import Gain

    t = Gain(p=1.0)
    recs = []
    for i in range(2):
        t(np.ones(10, np.float32), sample_rate=8000, rng=i)
        recs.append(t.last_params)
    call = {"item_params": recs, **kwargs}
    with pytest.raises(ng.ParameterError, match=needle):
        cuda_batch_params(t, call.pop("item_params"), sample_rate=8000, **call)


def test_augment_batch_refuses_relative_lengths():
    """SpeechBrain's relative lengths (1.0: a full row) passed the whole-number check and kept 1 sample a row."""
    import noisegen.cuda as nc

    x = np.random.default_rng(4).standard_normal((3, 300)).astype(np.float32)
    for lengths in (np.ones(3), np.ones(3, np.float32), [1.0, 1.0, 0.0], [1.0, 0.5, 0.25]):
        with pytest.raises(ng.ParameterError, match=r"lengths must hold 3 whole numbers.*relative lengths"):
            nc.augment_batch(x, sample_rate=16000, gain_db=0.0, lengths=lengths, backend="cpu")
    for lengths in ([1, 1, 1], np.array([300.0, 120.0, 0.0])):  # counts: integers, or whole floats past 1
        got = nc.augment_batch(x, sample_rate=16000, gain_db=0.0, lengths=lengths, backend="cpu")
        np.testing.assert_array_equal(got.lengths, np.asarray(lengths, np.int64))
    one = nc.augment_batch(x[:, :1], sample_rate=16000, gain_db=0.0, lengths=np.ones(3), backend="cpu")
    np.testing.assert_array_equal(one.samples, x[:, :1])  # a batch 1 sample wide: 1.0 is its full length


def test_augment_batch_speed_refusal_names_the_forms_speed_takes():
    """A tuple is a list of speed factors: the refusal offered a (min, max) tuple, which draws only its two ends."""
    import noisegen.cuda as nc

    x = np.zeros((3, 100), np.float32)
    for bad in ({0.9, 1.1}, "fast", True):
        with pytest.raises(ng.ParameterError, match=r"speed must be a number, a list of factors or a \(3,\) ndarray"):
            nc.augment_batch(x, sample_rate=16000, speed=bad, rng=0, backend="cpu")
    drawn = nc.augment_batch(x, sample_rate=16000, speed=(0.9, 1.1), rng=0, backend="cpu").params["speed"]
    assert set(drawn.tolist()) <= {0.9, 1.1}


def test_augment_batch_noise_refusal_offers_only_forms_noise_takes():
    """A 3-tuple of betas was refused as "a number, a (min, max) tuple or a (3,) ndarray"; a (3,) ndarray is samples."""
    import noisegen.cuda as nc

    x = np.zeros((3, 100), np.float32)
    needle = r"noise must be a colour name, a beta, a \(min, max\) beta range or an array"
    with pytest.raises(ng.ParameterError, match=needle):
        nc.augment_batch(x, sample_rate=16000, noise=(0.5, 1.0, 1.5), snr_db=5.0, rng=0, backend="cpu")
    with pytest.raises(ng.ParameterError, match=r"noise must have shape \(3, 100\), \(1, 100\) or \(100,\)"):
        nc.augment_batch(x, sample_rate=16000, noise=np.array([0.5, 1.0, 1.5]), snr_db=5.0, rng=0, backend="cpu")
    drawn = nc.augment_batch(x + 0.1, sample_rate=16000, noise=(0.5, 1.5), snr_db=5.0, rng=0, backend="cpu").params
    assert np.all((drawn["beta"] >= 0.5) & (drawn["beta"] <= 1.5))


def test_augment_batch_points_a_host_tensor_noise_at_numpy():
    """A CPU torch tensor as noise= was shown whole ("got tensor([0., 0., ...])") without the .numpy() hint
    that the same tensor as the batch gets."""
    import noisegen.cuda as nc

    class HostTensor:  # what a CPU tensor offers here: a numpy() method, no array interfaces
        def numpy(self):
            return np.zeros(100, np.float32)

    with pytest.raises(ng.ParameterError, match=r"got a HostTensor on the host \(pass noise\.numpy\(\)\)$"):
        nc.augment_batch(np.zeros((3, 100), np.float32), sample_rate=16000, noise=HostTensor(), snr_db=5.0, rng=0,
                         backend="cpu")


@pytest.mark.parametrize("name", ["snr_db", "gain_db", "speed"])
def test_augment_batch_points_host_and_gpu_tensor_parameters_at_numpy(name):
    """A CPU torch tensor as snr_db=, gain_db= or speed= was shown whole ("got tensor([5., 5., 5.])") without the
    hint that noise= and batch= give; a CUDA tensor is told to come to the host (its numpy() fails)."""
    import noisegen.cuda as nc

    class HostTensor:  # what a CPU tensor offers here: a numpy() method, no array interfaces
        def numpy(self):
            return np.zeros(3)

    class DeviceTensor(HostTensor):
        __cuda_array_interface__ = {}

    kw = {"snr_db": 5.0, name: HostTensor()}
    batch = np.zeros((3, 100), np.float32)
    with pytest.raises(ng.ParameterError, match=rf"got a HostTensor on the host \(pass {name}\.numpy\(\)\)$"):
        nc.augment_batch(batch, sample_rate=16000, noise="white", rng=0, backend="cpu", **kw)
    kw[name] = DeviceTensor()
    with pytest.raises(ng.ParameterError, match=rf"got a DeviceTensor on the GPU \(pass {name} as a NumPy array"):
        nc.augment_batch(batch, sample_rate=16000, noise="white", rng=0, backend="cpu", **kw)


def test_augment_batch_refuses_an_snr_without_noise():
    """snr_db alone mixed nothing and said nothing: the batch came back unchanged."""
    import noisegen.cuda as nc

    x = np.random.default_rng(5).standard_normal((2, 100)).astype(np.float32)
    for snr in (5.0, (0.0, 10.0), np.array([3.0, 4.0])):
        with pytest.raises(ng.ParameterError, match="snr_db=.* is given without noise"):
            nc.augment_batch(x, sample_rate=16000, snr_db=snr, rng=0, backend="cpu")


def test_batch_params_carry_min_freq_to_the_batch_chain():
    """AddColoredNoise's min_freq_hz reaches augment_batch(params=): the batch rows are the transform's output."""
    from noisegen.cuda import augment_batch
    from noisegen.data.stream import cuda_batch_params
    from noisegen.transforms import AddColoredNoise

    x = np.random.default_rng(1).standard_normal((2, 800)).astype(np.float32)
    t = AddColoredNoise(p=1.0)
    want, recs = [], []
    for i in range(2):
        want.append(t(x[i], sample_rate=8000, rng=i))
        recs.append(t.last_params)
    params, order, _ = cuda_batch_params(t, recs, sample_rate=8000, width=800)
    assert params["noise_min_freq_hz"] == 20.0
    got = augment_batch(x, sample_rate=8000, params=params, band_order=order, backend="cpu")
    np.testing.assert_allclose(got.samples, np.stack(want), rtol=1e-6, atol=1e-6)
    with pytest.raises(ng.ParameterError, match="min_freq_hz"):
        augment_batch(x, sample_rate=8000, params={**params, "noise_min_freq_hz": 4000.0}, backend="cpu")


# ----------------------------------------------------------------------------- reductions and mixing


@cudasim
@pytest.mark.parametrize("threads", [1, 2, 5, 32, 64])
def test_row_powers_any_block_size(D, threads):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 101))
    from noisegen._core.backend import to_device

    d = to_device(x)
    plain = D.row_powers(d, threads=threads).copy_to_host()
    np.testing.assert_allclose(plain, np.sum(x**2, axis=1), rtol=1e-12)
    offsets = np.array([0, 50, 100])
    wrapped = D.row_powers(d, offsets=offsets, n=250, threads=threads).copy_to_host()
    want = [np.sum(np.take(x[r], (offsets[r] + np.arange(250)) % 101) ** 2) for r in range(3)]
    np.testing.assert_allclose(wrapped, want, rtol=1e-12)


@cudasim
@pytest.mark.parametrize("threads,noise_rows,offset,dtype", [
    (1, 1, 0, np.float32), (3, 2, 37, np.float32), (32, 1, 250, np.float64), (7, 2, 5, np.float64),
])
def test_mix_at_snr_matches_cpu(D, threads, noise_rows, offset, dtype):
    rng = np.random.default_rng(2)
    s = rng.standard_normal((2, 160)).astype(dtype)
    n = (rng.standard_normal((noise_rows, 61)) * 3).astype(dtype)
    n = n[0] if noise_rows == 1 else n
    got = D.cuda_mix_at_snr(s, n, snr_db=4.5, noise_offset=offset, threads=threads)
    want = ng.mix_at_snr(s, n, snr_db=4.5, noise_offset=offset)
    assert isinstance(got, np.ndarray) and got.dtype == dtype
    assert _rel(got, want) <= 1e-5
    mono = D.cuda_mix_at_snr(s[0], n if noise_rows == 1 else n[0], snr_db=None, threads=threads)
    assert _rel(mono, ng.mix_at_snr(s[0], n if noise_rows == 1 else n[0], snr_db=None)) <= 1e-5


@cudasim
def test_mix_silent_noise_warns_and_keeps_signal(D, monkeypatch):
    def copied(*args):  # (a silent signal or noise was copied to the host and back for a power near 1e-160)
        raise AssertionError("silence measured again on the host")

    monkeypatch.setattr(D, "exactly_squared", copied)
    s = np.ones(64, dtype=np.float32)
    with pytest.warns(ng.NoisegenWarning, match="silent"):
        out = D.cuda_mix_at_snr(s, np.zeros(10, dtype=np.float32), snr_db=3.0, threads=2)
    np.testing.assert_array_equal(out, s)
    with pytest.raises(ng.ParameterError, match="finite"):
        D.cuda_mix_at_snr(s, np.array([1.0, np.inf], dtype=np.float32), snr_db=3.0)
    with pytest.raises(ng.BackendError, match="active"):
        D.cuda_mix_at_snr(s, s, snr_db=3.0, reference="active", sample_rate=16000)


@cudasim
@pytest.mark.parametrize("level", [1e-155, 1e-160, 1e-161])
@pytest.mark.parametrize("snr", [-20.0, 0.0, 40.0])
def test_mix_of_a_noise_too_quiet_for_its_squares_gives_no_runtime_warning(D, level, snr):
    """The CPU mixes a float64 noise whose power is subnormal at the SNR without a word; the GPU's host
    scale got the powers as NumPy scalars, and their quotient past float64 warned "overflow
    encountered in scalar divide" (an error under -W error) before the in-range fallback."""
    import warnings

    rng = np.random.default_rng(5)
    s = 0.1 * rng.standard_normal((2, 40))
    noise = level * rng.choice([-1.0, 1.0], 13)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = D.cuda_mix_at_snr(s, noise, snr_db=snr, noise_offset=3, threads=3)
    assert [str(w.message) for w in caught] == []
    assert _rel(got, ng.mix_at_snr(s, noise, snr_db=snr, noise_offset=3)) <= 1e-12


@cudasim
@pytest.mark.parametrize("level, noise_level", [(1e-30, 1.0), (1e30, 1e-30), (1.0, 1e-25), (1e-20, 1e20)])
def test_mix_of_float32_too_quiet_or_loud_for_float32_squares_matches_cpu(D, level, noise_level):
    """Powers are float64 sums of float64 squares: under the simulator the kernel squared float32
    samples in float32 (NumPy 2 keeps 1.0 * float32 a float32), so a 1e-30 signal was "silent" and a
    1e30 one "too loud", where the CPU (and a GPU) mix them at the SNR."""
    import warnings

    rng = np.random.default_rng(6)
    s = (level * rng.standard_normal((2, 40))).astype(np.float32)
    noise = (noise_level * rng.standard_normal(17)).astype(np.float32)
    for snr in (-10.0, 20.0):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ng.NoisegenWarning)
            got = D.cuda_mix_at_snr(s, noise, snr_db=snr, noise_offset=5, threads=3)
        assert got.dtype == np.float32
        assert _rel(got, ng.mix_at_snr(s, noise, snr_db=snr, noise_offset=5)) <= 1e-6


@cudasim
def test_mix_without_an_snr_adds_float64_audio_whose_squares_overflow_as_on_the_cpu(D):
    """snr_db=None needs no power: a finite float64 signal or noise past ~1e154 was refused as
    'y is too loud: its power overflows float64' (CPU and GPU); it adds, and NaN is still named."""
    s, noise = np.full((2, 12), 1e160), np.full(5, 0.5)
    s[1] *= -1.0
    for y, nz in ((s, noise), (noise[None, :4], s[0])):
        got = D.cuda_mix_at_snr(y, nz, snr_db=None, noise_offset=2, threads=3)
        np.testing.assert_array_equal(got, ng.mix_at_snr(y, nz, snr_db=None, noise_offset=2))
    with pytest.raises(ng.ParameterError, match="y must be finite"):
        D.cuda_mix_at_snr(np.array([1e160, np.nan]), noise, snr_db=None, threads=3)


@cudasim
@pytest.mark.parametrize("level, noise_level", [(1e-160, 1.0), (1.0, 1e-160), (1e-160, 1e-161)])
def test_augment_batch_mixes_float64_rows_whose_squares_are_subnormal_as_the_cpu(level, noise_level):
    """mix_at_snr measures float64 audio near 1e-160 on copies scaled by powers of two; augment_batch on
    the GPU still took the device's subnormal sums (0.006 dB off at 10 dB, where backend="cpu" hit it)."""
    from numba import cuda

    import noisegen.cuda as nc

    rng = np.random.default_rng(9)
    x, noise = level * rng.standard_normal((3, 200)), noise_level * rng.standard_normal((3, 200))
    kw = dict(sample_rate=16000, noise=noise, snr_db=(0.0, 20.0), rng=4)
    got = nc.augment_batch(cuda.to_device(x), **kw).samples.copy_to_host()
    want = nc.augment_batch(x, backend="cpu", **kw).samples
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0.0)


@pytest.mark.skipif(SIM, reason="types the compiled kernel (numba-cuda's compiler, not the simulator)")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_power_kernel_squares_in_float64_when_compiled_for_a_gpu(dtype):
    """The test above runs the simulator; compiled for a GPU, ``float(x[r, j])`` of a float32 was
    float32 (Numba's typing of float()), so its squares underflowed or overflowed on the device
    (1e-30, 1e30). Numba-cuda's own type inference, no GPU or libNVVM needed."""
    pytest.importorskip("numba_cuda")
    from numba import types
    from numba.cuda.compiler import compile_cuda

    from noisegen._kernels.cuda import mix

    x = types.Array(getattr(types, dtype), 2, "C")
    sig = (x, types.int64[::1], types.int64, types.float64[::1])
    typemap = compile_cuda(mix.row_sum_squares.py_func, types.void, sig, cc=(8, 0)).type_annotation.typemap
    assert str(typemap["v"]) == "float64"


@cudasim
@pytest.mark.parametrize("shape", [(64,), (2, 64)])
def test_mix_silent_warning_names_the_callers_line_as_on_the_cpu(D, shape):
    import warnings
    from noisegen._core.labels import about

    s, z = np.ones(shape, dtype=np.float32), np.zeros(shape, dtype=np.float32)
    for y, noise in ((s, z), (z, s)):
        with warnings.catch_warnings(record=True) as caught, about("input 'x.wav'"):
            warnings.simplefilter("always")
            ng.mix_at_snr(y, noise, snr_db=3.0, backend="cuda")
        said = [w for w in caught if issubclass(w.category, ng.NoisegenWarning)]
        assert [w.filename for w in said] == [__file__]
        assert str(said[0].message).endswith("(input 'x.wav')")


# ----------------------------------------------------------------------------- sample-wise effects


@cudasim
@pytest.mark.parametrize("threads,dtype", [(1, np.float32), (2, np.float64), (33, np.float32)])
def test_samplewise_effects_match_cpu(D, threads, dtype):
    rng = np.random.default_rng(3)
    y = (rng.standard_normal((2, 90)) * 0.6).astype(dtype)
    y[0, :6] = [0.125, -0.375, 0.625, -0.875, 0.25, 2.0]  # exact ties for the bit crusher
    pairs = [
        (D.cuda_gain(y, gain_db=-4.2, threads=threads), ng.gain(y, gain_db=-4.2)),
        (D.cuda_clip(y, threshold=0.5, threads=threads), ng.clip(y, threshold=0.5)),
        (D.cuda_clip(y, percentile=20.0, threads=threads), ng.clip(y, percentile=20.0)),
        (D.cuda_bitcrush(y, bit_depth=3, threads=threads), ng.bitcrush(y, bit_depth=3)),
        (D.cuda_time_mask(y[1], start_s=0.001, duration_s=0.003, sample_rate=16000, fade_s=0.0005, threads=threads),
         ng.time_mask(y[1], start_s=0.001, duration_s=0.003, sample_rate=16000, fade_s=0.0005)),
    ]
    for got, want in pairs:
        assert got.shape == want.shape and got.dtype == want.dtype
        assert _rel(got, want) <= 1e-6


@cudasim
@pytest.mark.parametrize("dtype", [">f4", ">f8", "<f4", "<f8"])
def test_every_kernel_argument_is_an_array_numba_can_type(D, dtype, monkeypatch):
    """The simulator does no type checking: bitcrush handed a big-endian input's dtype to its kernel (its
    steps array), which numba cannot type on a GPU (NumbaValueError: Unsupported array dtype: >f4)."""
    import numba

    launched = []

    def checked(kernel, n_items, threads, *args):
        for a in args:
            if hasattr(a, "dtype"):
                numba.typeof(np.empty(0, a.dtype))  # raises for a non-native byte order
        launched.append(kernel)
        return launch(kernel, n_items, threads, *args)

    launch = D.launch
    monkeypatch.setattr(D, "launch", checked)
    y = (np.random.default_rng(2).standard_normal((2, 40)) * 0.5).astype(dtype)
    pairs = [(ng.bitcrush(y, bit_depth=3, backend="cuda"), ng.bitcrush(y, bit_depth=3)),
             (ng.gain(y, gain_db=-3.0, backend="cuda"), ng.gain(y, gain_db=-3.0)),
             (ng.clip(y, threshold=0.4, backend="cuda"), ng.clip(y, threshold=0.4)),
             (ng.time_mask(y, start_s=0.001, duration_s=0.002, sample_rate=8000, backend="cuda"),
              ng.time_mask(y, start_s=0.001, duration_s=0.002, sample_rate=8000)),
             (ng.speed(y, factor=1.1, sample_rate=8000, backend="cuda"), ng.speed(y, factor=1.1, sample_rate=8000)),
             (ng.mix_at_snr(y, y[0], snr_db=3.0, backend="cuda"), ng.mix_at_snr(y, y[0], snr_db=3.0))]
    assert len(launched) >= len(pairs)
    for got, want in pairs:
        assert got.shape == want.shape and got.dtype == want.dtype and _rel(got, want) <= 1e-6


@cudasim
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_threshold_past_the_dtype_range_casts_without_overflow(D, dtype):
    import warnings

    y = np.random.default_rng(4).standard_normal((2, 40)).astype(dtype)
    for threshold in (3.5e38, 1e300):
        with warnings.catch_warnings(record=True) as caught:  # the simulator's own uint64 overflows aside
            warnings.simplefilter("always")
            got = D.cuda_clip(y, threshold=threshold, threads=2)
        assert not [w for w in caught if "in cast" in str(w.message)]
        np.testing.assert_array_equal(got, y)


# ----------------------------------------------------------------------------- filters


@cudasim
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_biquad_filters_match_cpu_and_scipy(D, threads):
    from scipy.signal import sosfilt

    rng = np.random.default_rng(4)
    y = rng.standard_normal((3, 200))
    got = D.cuda_filter("bandpass", y, low_hz=300.0, high_hz=3000.0, sample_rate=16000, threads=threads)
    want = ng.bandpass(y, low_hz=300.0, high_hz=3000.0, sample_rate=16000)
    assert _rel(got, want) <= 1e-5
    sos = np.array(ng.design_sos("bandpass", low_hz=300.0, high_hz=3000.0, sample_rate=16000))
    assert _rel(got, sosfilt(sos, y)) <= 1e-5
    y32 = y[0].astype(np.float32)
    got = D.cuda_filter("lowpass", y32, cutoff_hz=1000.0, sample_rate=16000, order=5, threads=threads)
    assert got.dtype == np.float32
    assert _rel(got, ng.lowpass(y32, cutoff_hz=1000.0, sample_rate=16000, order=5)) <= 1e-5


@cudasim
def test_biquad_stream_of_chunks_equals_one_pass(D):
    rng = np.random.default_rng(5)
    y = rng.standard_normal((2, 150))
    sos = ng.design_sos("highpass", cutoff_hz=500.0, sample_rate=16000, order=4)
    a, zf = D.cuda_sos_filter(y[:, :70], sos=sos, zi="zeros", threads=1)
    b, zf2 = D.cuda_sos_filter(y[:, 70:], sos=sos, zi=zf, threads=2)
    whole, zf_whole = ng.sos_filter(y, sos=sos, zi="zeros")
    assert _rel(np.concatenate([a, b], axis=1), whole) <= 1e-5
    np.testing.assert_allclose(zf2, zf_whole, rtol=1e-9, atol=1e-12)


@cudasim
def test_biquad_state_is_checked_as_on_the_cpu(D):
    y = np.zeros((2, 10))
    sos = ng.design_sos("highpass", cutoff_hz=500.0, sample_rate=16000, order=4)
    for bad, message in ((np.zeros((2, 2, 2)) + 1j, "zi must be real"),
                         (np.full((2, 2, 2), np.nan), "zi must be finite"),
                         (np.zeros((3, 2, 2)), "zi must have shape")):
        for run in (D.cuda_sos_filter, ng.sos_filter):
            with pytest.raises(ng.ParameterError, match=message):
                run(y, sos=sos, zi=bad)


@cudasim
def test_biquad_overflow_names_zi_only_when_the_input_alone_fits(D):
    # a stream's zf of zeros was named ("from zi (peak 0)") for the overflow of a too loud next chunk
    sos = ng.design_sos("peaking", center_hz=1000.0, gain_db=60.0, q=1.0, sample_rate=16000)
    loud = np.tile(1e37 * np.sin(2 * np.pi * 1000 * np.arange(64) / 16000), (2, 1)).astype(np.float32)
    quiet = np.full((2, 64), 0.1, np.float32)
    for y, zi, named in ((loud, np.zeros((1, 2, 2)), False), (quiet, np.full((1, 2, 2), 1e300), True)):
        messages = []
        for run in (D.cuda_sos_filter, ng.sos_filter):
            with pytest.raises(ng.ParameterError, match="overflows float32") as info:
                run(y, sos=sos, zi=zi)
            messages.append(str(info.value))
        assert messages[0] == messages[1] and ("from zi" in messages[0]) == named


# ----------------------------------------------------------------------------- resampling


@cudasim
@pytest.mark.parametrize("factor,threads", [(0.9, 1), (1.1, 7), (1.037, 32), (1.0, 3), (1 + 1e-13, 5), (1 - 2**-52, 2)])
def test_speed_matches_cpu(D, factor, threads):
    rng = np.random.default_rng(6)
    y = rng.standard_normal((2, 230)).astype(np.float32)
    got = D.cuda_speed(y, factor=factor, sample_rate=16000, threads=threads)
    want = ng.speed(y, factor=factor, sample_rate=16000)
    assert got.shape == want.shape
    assert _rel(got, want) <= 1e-5


@cudasim
@pytest.mark.parametrize("orig,target", [(16000, 8000), (44100, 16000), (8000, 16000)])
def test_resample_matches_cpu(D, orig, target):
    y = np.random.default_rng(7).standard_normal(300)
    got = D.cuda_resample(y, orig_sample_rate=orig, target_sample_rate=target, threads=33)
    want = ng.resample(y, orig_sample_rate=orig, target_sample_rate=target)
    assert got.shape == want.shape and _rel(got, want) <= 1e-5


@cudasim
def test_per_item_speed_factors_in_one_launch(D):
    from noisegen._core.backend import to_device

    y = np.random.default_rng(8).standard_normal((4, 200))
    factors = [0.9, 1.0, 1.1, 2 ** (1 / 12)]
    lengths = [round(200 / f) for f in factors]
    out = D.resample_rows(to_device(y), [D.speed_ratio(f) for f in factors], lengths, threads=5).copy_to_host()
    assert out.shape == (4, max(lengths))
    for r, f in enumerate(factors):
        want = ng.speed(y[r], factor=f, sample_rate=16000)
        assert _rel(out[r, : lengths[r]], want) <= 1e-5
        assert not np.any(out[r, lengths[r]:])


# ----------------------------------------------------------------------------- batch API and array kinds


@cudasim
@pytest.mark.parametrize("threads", [3, 64])
def test_augment_batch_cuda_matches_cpu(threads):
    pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc

    x = np.random.default_rng(9).standard_normal((4, 256)).astype(np.float32)
    kw = dict(sample_rate=16000, noise=(-1.0, 2.0), snr_db=(0.0, 10.0), gain_db=(-6.0, 6.0), band_hz=(100.0, 4000.0),
              speed=[0.9, 1.0, 1.1], rng=5)
    got = nc.augment_batch(x, backend="cuda", threads=threads, **kw)
    want = nc.augment_batch(x, backend="cpu", **kw)
    np.testing.assert_array_equal(got.lengths, want.lengths)
    for name in want.params:
        np.testing.assert_array_equal(got.params[name], want.params[name])
    assert isinstance(got.samples, np.ndarray) and got.samples.dtype == np.float32
    assert _rel(got.samples, want.samples) <= 1e-5


@cudasim
def test_augment_batch_with_given_noise_and_device_batch():
    cuda = pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc

    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 128))
    noise = rng.standard_normal((3, 128))
    snr = np.array([0.0, 5.0, 20.0])
    got = nc.augment_batch(cuda.to_device(x), sample_rate=16000, noise=noise, snr_db=snr, threads=16)
    assert is_numba_device_array(got.samples)  # device in, device out ("auto" picks CUDA)
    out = got.samples.copy_to_host()
    achieved = 10 * np.log10(np.sum(x**2, axis=1) / np.sum((out - x) ** 2, axis=1))
    np.testing.assert_allclose(achieved, snr, atol=1e-9)


@cudasim
@pytest.mark.parametrize("level", [1e-46, 1e-30, 1.0, 1e30, 1e39, 1e100])
@pytest.mark.parametrize("noise_dtype", ["<f8", ">f8"])
@pytest.mark.parametrize("lengths", [None, [50, 7, 31]])
def test_augment_batch_mixes_a_float64_noise_into_a_float32_batch_as_the_cpu(level, noise_dtype, lengths):
    """The GPU cast a given noise to the batch's dtype before mixing, the CPU mixes it as it is: a float64
    noise of 1e39 was refused as 'noise must be finite, got 32 NaN/inf sample(s)', one of 1e-46 was added
    as silence (the rows came back unchanged, no noise, no warning)."""
    pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc

    rng = np.random.default_rng(11)
    x = (0.1 * rng.standard_normal((3, 50))).astype(np.float32)
    noise = (level * rng.standard_normal(50)).astype(noise_dtype)
    snr = np.array([-10.0, 5.0, 30.0])
    kw = dict(sample_rate=8000, noise=noise, snr_db=snr, lengths=lengths)
    want = nc.augment_batch(x, backend="cpu", **kw).samples
    got = nc.augment_batch(x, backend="cuda", threads=16, **kw).samples
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    n = [50, 50, 50] if lengths is None else lengths
    added = [np.sum((got[i, :k] - x[i, :k]).astype(np.float64) ** 2) for i, k in enumerate(n)]
    achieved = [10 * np.log10(np.sum(x[i, :k].astype(np.float64) ** 2) / a) for i, (k, a) in enumerate(zip(n, added))]
    np.testing.assert_allclose(achieved, snr, atol=1e-4)


@cudasim
def test_device_arrays_round_trip(D):
    from numba import cuda

    y = np.random.default_rng(11).standard_normal((2, 64)).astype(np.float32)
    d = cuda.to_device(y)
    out = D.cuda_gain(d, gain_db=6.0, threads=4)
    assert is_numba_device_array(out) and out.shape == (2, 64)
    np.testing.assert_allclose(out.copy_to_host(), ng.gain(y, gain_db=6.0), rtol=1e-6)
    assert isinstance(D.cuda_gain(y, gain_db=6.0), np.ndarray)
    with pytest.raises(ng.ParameterError, match="float32 or float64"):
        D.cuda_gain(cuda.to_device(np.zeros(4, np.int16)), gain_db=1.0)


# ----------------------------------------------------------------------------- default pass (no CUDA needed)


def _python(code, **env_overrides):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_import_noisegen_does_not_import_numba_cuda():
    code = ("import noisegen, noisegen.cuda, noisegen._gpu.ops, sys; "
            "bad = [m for m in sys.modules if m.startswith('numba.cuda') or m.startswith('numba_cuda')]; "
            "assert not bad, bad")
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr


def test_cuda_backend_without_cuda_raises_backend_error_with_hint():
    code = """
import sys, numpy as np
try:
    from numba import cuda
    if cuda.is_available():
        print("GPU"); sys.exit(0)
except ImportError:
    pass
import noisegen.cuda as nc
from noisegen import BackendError
from noisegen._gpu import ops as D
from noisegen._core.backend import resolve_backend
for call in (lambda: nc.augment_batch(np.zeros((2, 64), np.float32), sample_rate=16000, backend="cuda"),
             lambda: D.cuda_gain(np.zeros(8), gain_db=1.0),
             lambda: resolve_backend("cuda", supports_cuda=True)):
    try:
        call()
    except BackendError as exc:
        assert "pip install 'noisegen[cuda]'" in str(exc), str(exc)
    else:
        raise AssertionError("no BackendError")
print("OK")
"""
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    if proc.stdout.strip() == "GPU":
        pytest.skip("a GPU is present")
    assert proc.stdout.strip() == "OK"
    assert "noisegen[cuda]" in CUDA_INSTALL_HINT


def test_backend_auto_keeps_numpy_on_cpu():
    import noisegen.cuda as nc

    x = np.random.default_rng(12).standard_normal((2, 300)).astype(np.float32)
    res = nc.augment_batch(x, sample_rate=16000, noise="pink", snr_db=10.0, gain_db=(-3, 3), speed=[1.1], rng=1)
    assert type(res) is ng.Batch and res.chunks == []  # one batch type for the stream and the GPU path
    assert isinstance(res.samples, np.ndarray) and res.samples.shape == (2, round(300 / 1.1))
    np.testing.assert_array_equal(res.lengths, [round(300 / 1.1)] * 2)
    again = nc.augment_batch(x, sample_rate=16000, noise="pink", snr_db=10.0, gain_db=(-3, 3), speed=[1.1], rng=1)
    np.testing.assert_array_equal(res.samples, again.samples)
    with pytest.raises(ng.ParameterError, match="snr_db"):
        nc.augment_batch(x, sample_rate=16000, noise="pink")
    with pytest.raises(ng.ParameterError, match="band"):
        nc.augment_batch(x, sample_rate=16000, band_hz=(3000.0, 100.0))


@pytest.mark.slow
def test_kernels_compile_to_ptx_without_a_gpu():
    """Every kernel compiles for sm_80 with numba-cuda's NVVM (the simulator cannot check typing)."""
    # The probe does what the test needs (NVVM and NVRTC, no driver): compile a trivial kernel to PTX.
    probe = _python("from numba import cuda\n"
                    "def k(a):\n    a[0] = 2.0 * a[0]\n"
                    "cuda.compile_ptx(k, '(float32[::1],)', cc=(8, 0))")
    if probe.returncode != 0:
        pytest.skip("numba-cuda cannot compile to PTX here (needs libNVVM and NVRTC: pip install "
                    f"'numba-cuda[cu13]'): {probe.stderr.strip().splitlines()[-1:]}")
    proc = _python("from noisegen._kernels.cuda.ptx import compile_all; compile_all((8, 0))")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("ok ") == 21


# ----------------------------------------------------------------------------- AugmentStream(device="cuda")


def _stream_pipeline():
    from noisegen.transforms import AddColoredNoise, BandPassFilter, Compose, Gain, SpeedPerturb

    return Compose([AddColoredNoise(min_snr_db=5, max_snr_db=20, p=0.7), Gain(p=0.5),
                    BandPassFilter(min_center_hz=300, max_center_hz=2000, p=0.6), SpeedPerturb(p=0.6)])


def _stream(items, device, seed=3, **kw):
    s = ng.AugmentStream(items, _stream_pipeline(), sample_rate=8000, rng=seed, device=device, **kw)
    s._cuda_threads = 64
    return s


def _items(lengths=(400, 400, 400)):
    return [np.random.default_rng(20 + i).standard_normal(n).astype(np.float32) * 0.1 for i, n in enumerate(lengths)]


@cudasim
def test_stream_cuda_batches_equal_augment_batch_cpu_for_the_drawn_params():
    pytest.importorskip("numba.cuda")
    from noisegen.cuda import augment_batch
    from noisegen.data.stream import collate, cuda_batch_params

    items = _items((400, 300, 400))  # a padded row in the first batch
    batches = list(_stream(items, "cuda").batches(2))
    raw = list(_stream(items, "cuda")._iter(augment=False))  # the same items, drawn params, not augmented
    cpu = list(_stream(items, "cpu"))
    assert [len(b.chunks) for b in batches] == [2, 1]
    for k, b in enumerate(batches):
        assert is_numba_device_array(b.samples)
        chunks = raw[2 * k: 2 * k + 2]
        assert [c.params for c in b.chunks] == [c.params for c in chunks] == [c.params for c in cpu[2 * k: 2 * k + 2]]
        assert all(c.samples is None for c in b.chunks)
        host = collate(chunks)
        params, order, lengths = cuda_batch_params(_stream_pipeline(), [c.params for c in chunks], sample_rate=8000,
                                                   lengths=host.lengths, width=host.samples.shape[1])
        want = augment_batch(host.samples, sample_rate=8000, params=params, band_order=order, lengths=host.lengths,
                             backend="cpu")
        got = b.samples.copy_to_host()
        assert got.shape == want.samples.shape and got.dtype == np.float32
        assert _rel(got, want.samples) <= 1e-5
        np.testing.assert_array_equal(b.lengths, lengths)
        np.testing.assert_array_equal([c.length for c in b.chunks], lengths)
    stages = {(t["name"], t["applied"]) for c in raw for t in c.params["transforms"]}
    assert ("AddColoredNoise", True) in stages and ("SpeedPerturb", True) in stages and len(stages) >= 6


@cudasim
def test_stream_cuda_batches_resume_after_the_last_partial_batch():
    # A state taken while the last, partial batch was out said the pass had ended (as on the CPU):
    # resumed, the interrupted pass went on with a whole next pass.
    pytest.importorskip("numba.cuda")
    items = _items((400, 300, 400))

    def run(stream, passes, cut=None):  # each pass's batches as (epoch, item, start) triples
        out = []
        for p in range(passes):
            out.append([])
            for k, b in enumerate(stream.batches(2)):
                out[-1].append([(c.epoch, c.item, c.start) for c in b.chunks])
                if (p, k) == cut:
                    return out, stream.state_dict()
        return out, None

    whole, _ = run(_stream(items, "cuda"), 2)
    assert [len(b) for b in whole[0]] == [2, 1] and whole[1][0][0][0] == 1
    for k in range(2):
        head, state = run(_stream(items, "cuda"), 2, cut=(0, k))
        resumed = _stream(items, "cuda")
        resumed.load_state_dict(state)
        rest, _ = run(resumed, 2)
        assert head[0] + rest[0] == whole[0] and rest[1] == whole[1], k


@cudasim
def test_stream_cuda_whole_items_match_the_cpu_stream():
    """Equal-length whole items: the GPU batch rows are the CPU stream's chunks (same params, same noise)."""
    pytest.importorskip("numba.cuda")
    items = _items()
    cpu = list(_stream(items, "cpu"))
    (b0, b1) = _stream(items, "cuda").batches(2)
    rows = [(b, i) for b in (b0, b1) for i in range(len(b.chunks))]
    for (b, i), c in zip(rows, cpu):
        assert b.lengths[i] == c.length
        assert _rel(b.samples.copy_to_host()[i, : c.length], c.samples[: c.length]) <= 1e-5


@cudasim
def test_stream_cuda_is_deterministic_for_a_seed():
    pytest.importorskip("numba.cuda")
    items = _items((400, 400, 400, 400))
    runs = [[b.samples.copy_to_host() for b in _stream(items, "cuda", seed=s, chunk_s=0.025).batches(2)]
            for s in (5, 5, 6)]
    assert len(runs[0]) == 4  # 4 items of 2 chunks (200 + 200 samples)
    for a, b in zip(runs[0], runs[1]):
        np.testing.assert_array_equal(a, b)
    assert any(a.shape != c.shape or not np.array_equal(a, c) for a, c in zip(runs[0], runs[2]))


def test_augment_batch_params_replay_is_validated_and_masks_skip_stages():
    import noisegen.cuda as nc

    x = np.random.default_rng(1).standard_normal((2, 64)).astype(np.float32)
    params = {"gain_db": np.array([6.0, 6.0]), "gain_applied": np.array([True, False])}
    got = nc.augment_batch(x, sample_rate=16000, params=params, backend="cpu")
    np.testing.assert_allclose(got.samples[0], ng.gain(x[0], gain_db=6.0), rtol=1e-6)
    np.testing.assert_array_equal(got.samples[1], x[1])
    with pytest.raises(ng.ParameterError, match="leave noise"):
        nc.augment_batch(x, sample_rate=16000, params=params, gain_db=1.0, backend="cpu")
    with pytest.raises(ng.ParameterError, match="unknown keys"):
        nc.augment_batch(x, sample_rate=16000, params={"gian_db": np.zeros(2)}, backend="cpu")
    with pytest.raises(ng.ParameterError, match="together"):
        nc.augment_batch(x, sample_rate=16000, params={"snr_db": np.zeros(2)}, backend="cpu")
    with pytest.raises(ng.ParameterError, match=r"shape \(2,\)"):
        nc.augment_batch(x, sample_rate=16000, params={"gain_db": np.zeros(3)}, backend="cpu")


def test_augment_batch_replays_a_batch_mixed_with_a_noise_array():
    """Batch.params of a call given a noise array holds its snr_db only: the replay takes the array again."""
    import noisegen.cuda as nc

    g = np.random.default_rng(3)
    x, noise = g.standard_normal((2, 2, 300)).astype(np.float32)
    first = nc.augment_batch(x, sample_rate=16000, noise=noise, snr_db=(0, 20), gain_db=(-6, 6), rng=4, backend="cpu")
    again = nc.augment_batch(x, sample_rate=16000, noise=noise, params=first.params, backend="cpu")
    np.testing.assert_array_equal(again.samples, first.samples)
    with pytest.raises(ng.ParameterError, match="noise array the batch was mixed with"):
        nc.augment_batch(x, sample_rate=16000, params=first.params, backend="cpu")
    with pytest.raises(ng.ParameterError, match="neither beta nor noise_keys"):
        nc.augment_batch(x, sample_rate=16000, noise=noise, params=_REPLAY, backend="cpu")
    with pytest.raises(ng.ParameterError, match="leave noise"):
        nc.augment_batch(x, sample_rate=16000, noise="pink", params=first.params, backend="cpu")


_REPLAY = {"snr_db": np.array([10.0, 20.0]), "beta": np.array([1.0, 0.0]), "noise_keys": np.array([1, 2], np.uint64),
           "gain_db": np.array([3.0, -3.0]), "band_hz": np.array([[100.0, 3000.0]] * 2), "speed": np.array([0.9, 1.1])}
_ODD = {"ragged": [np.zeros(2), np.zeros(3)], "none": None, "complex": np.array([1 + 2j, 1.0])}


@pytest.mark.parametrize("key, odd", [(k, o) for k in _REPLAY for o in _ODD]
                         + [(f"{s}_applied", "ragged") for s in ("noise", "gain", "band", "speed")], ids=str)
def test_augment_batch_params_replay_refuses_ragged_none_and_complex_by_name(key, odd):
    """A ragged entry of params raised NumPy's "setting an array element with a sequence" ValueError,
    band_hz=None a TypeError ('NoneType' object is not subscriptable) when the replay indexed it, and a
    complex array lost its imaginary part (NumPy's ComplexWarning) and was applied; the same values given
    to augment_batch's own arguments are refused by name as well."""
    import warnings

    import noisegen.cuda as nc

    x = np.random.default_rng(1).standard_normal((2, 64)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nc.augment_batch(x, sample_rate=16000, params=_REPLAY, backend="cpu")
        bad = _ODD[odd]
        with pytest.raises(ng.ParameterError, match=key):
            nc.augment_batch(x, sample_rate=16000, params={**_REPLAY, key: bad}, backend="cpu")
        if key in ("snr_db", "gain_db", "band_hz", "speed") and bad is not None:
            arg = {"snr_db": dict(noise="pink", snr_db=bad)}.get(key, {key: bad})
            with pytest.raises(ng.ParameterError, match=key):
                nc.augment_batch(x, sample_rate=16000, rng=0, backend="cpu", **arg)


# ----------------------------------------------------------------------------- ragged batches and edge cases


def _ragged_pipeline():
    from noisegen.transforms import AddColoredNoise, BandPassFilter, Compose, SpeedPerturb

    # brown noise: its power over a short row differs most from its power over the padded width
    return Compose([AddColoredNoise(min_beta=2, max_beta=2, min_snr_db=5, max_snr_db=5, p=1.0),
                    BandPassFilter(min_center_hz=300, max_center_hz=1500, p=1.0),
                    SpeedPerturb(factors=[0.9, 1.1], p=1.0)])


@cudasim
@pytest.mark.parametrize("lengths", [(200, 800, 200, 800), (50, 1, 333, 700)])
def test_stream_cuda_ragged_items_equal_the_cpu_stream_and_pad_with_zeros(lengths):
    """A short item padded to the batch width: its noise, SNR, filter ringing and speed change end with it."""
    pytest.importorskip("numba.cuda")
    items = _items(lengths)
    kw = dict(sample_rate=8000, rng=3, shuffle=False)
    cpu = list(ng.AugmentStream(items, _ragged_pipeline(), **kw).batches(2))
    gpu = ng.AugmentStream(items, _ragged_pipeline(), device="cuda", **kw)
    gpu._cuda_threads = 64
    for want, got in zip(cpu, gpu.batches(2), strict=True):
        rows = got.samples.copy_to_host()
        assert rows.shape == want.samples.shape
        np.testing.assert_array_equal(got.lengths, want.lengths)
        for i, n in enumerate(want.lengths):
            assert _rel(rows[i, :n], want.samples[i, :n]) <= 1e-5
            assert not np.any(rows[i, n:])


@cudasim
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_augment_batch_rows_with_lengths_are_processed_as_if_alone(dtype):
    pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc

    x = np.random.default_rng(11).standard_normal((3, 300)).astype(dtype)
    lengths = np.array([300, 120, 7])
    x[1, 120:] = 5.0  # whatever lies past a row's length is not its audio
    kw = dict(sample_rate=16000, noise=(1.0, 2.0), snr_db=(0.0, 10.0), gain_db=(-6.0, 6.0), band_hz=(100.0, 4000.0),
              speed=[0.9, 1.1], rng=5, lengths=lengths)
    want = nc.augment_batch(x, backend="cpu", **kw)
    got = nc.augment_batch(x, backend="cuda", threads=32, **kw)
    np.testing.assert_array_equal(got.lengths, want.lengths)
    assert got.samples.shape == want.samples.shape == (3, int(want.lengths.max()))
    assert _rel(got.samples, want.samples) <= (1e-5 if dtype == np.float32 else 1e-12)
    for i, n in enumerate(lengths):  # each row: the CPU chain on the row alone, with its drawn parameters
        one = {k: v[i: i + 1] for k, v in want.params.items()}
        alone = nc.augment_batch(x[i: i + 1, :n], sample_rate=16000, params=one, backend="cpu")
        m = int(alone.lengths[0])
        assert m == want.lengths[i]
        np.testing.assert_allclose(want.samples[i, :m], alone.samples[0], rtol=1e-6, atol=1e-7)
        assert not np.any(want.samples[i, m:]) and not np.any(got.samples[i, m:])
    with pytest.raises(ng.ParameterError, match="lengths"):
        nc.augment_batch(x, sample_rate=16000, gain_db=1.0, lengths=[300, 301, 0], backend="cpu")


@cudasim
@pytest.mark.parametrize("backend", ["cpu", "cuda"])
@pytest.mark.parametrize("shape,kw", [((2, 0), dict(noise="white", snr_db=5.0)), ((0, 5), dict(speed=[1.1])),
                                      ((0, 5), dict(band_hz=(300.0, 3000.0))), ((2, 0), dict(band_hz=(300.0, 3000.0)))])
def test_augment_batch_of_no_rows_or_no_samples(backend, shape, kw):
    pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc

    got = nc.augment_batch(np.ones(shape, np.float32), sample_rate=16000, rng=1, backend=backend, **kw)
    assert np.asarray(got.samples).shape == shape and got.lengths.shape == (shape[0],)


@cudasim
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_level_effects_refuse_overflow_and_warn_as_on_the_cpu(D, dtype):
    import warnings

    top = float(np.finfo(dtype).max) / 3
    big = np.array([top, -top, 1.0], dtype)
    for fn in (ng.gain, D.cuda_gain):
        with pytest.raises(ng.ParameterError, match=r"gain_db=10 overflows"):
            fn(big, gain_db=10.0)
    np.testing.assert_array_equal(D.cuda_gain(big, gain_db=-1.0), ng.gain(big, gain_db=-1.0))
    np.testing.assert_array_equal(D.cuda_bitcrush(big, bit_depth=32), ng.bitcrush(big, bit_depth=32))
    np.testing.assert_array_equal(D.cuda_bitcrush(big, bit_depth=32), big)
    y = np.array([2.0, 2.0, 0.5], dtype)
    for fn in (ng.clip, D.cuda_clip):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn(y, threshold=1.0)
        assert [str(w.message) for w in caught if issubclass(w.category, ng.NoisegenWarning)] == [
            "clip(threshold=1) clips more than half of the samples"]


@cudasim
def test_cuda_speed_and_resample_of_empty_audio_by_one(D):
    for dtype in (np.float32, np.float64):
        for y in (np.zeros(0, dtype), np.zeros((2, 0), dtype)):
            for got in (D.cuda_speed(y, factor=1.0, sample_rate=16000),
                        D.cuda_resample(y, orig_sample_rate=16000, target_sample_rate=16000)):
                assert got.shape == y.shape and got.dtype == dtype


@cudasim
@pytest.mark.parametrize("backend", ["cpu", "cuda", "device"])
def test_augment_batch_refuses_nan_and_bad_noise_arrays_alike(backend):
    cuda = pytest.importorskip("numba.cuda")
    import noisegen.cuda as nc

    x = np.random.default_rng(2).standard_normal((3, 64)).astype(np.float32)
    x[1, 5] = np.nan
    batch = cuda.to_device(x) if backend == "device" else x
    be = "cuda" if backend == "device" else backend
    for kw in (dict(gain_db=-3.0), dict(noise="pink", snr_db=5.0), dict(speed=0.9)):
        with pytest.raises(ng.ParameterError, match=r"batch must be finite, got 1 NaN"):
            nc.augment_batch(batch, sample_rate=8000, rng=0, backend=be, **kw)
    x[1, 5:] = np.nan  # past the row's length: not its audio
    assert np.isfinite(np.asarray(nc.augment_batch(x, sample_rate=8000, rng=0, gain_db=-3.0, lengths=[64, 5, 64],
                                                   backend=be if be == "cpu" else "cuda").samples)).all()
    x = np.nan_to_num(x)
    good = dict(sample_rate=8000, snr_db=5.0, backend=be)
    for noise, needle in ((np.ones((2, 64), np.float32), r"shape \(3, 64\), \(1, 64\) or \(64,\), got shape \(2, 64\)"),
                          (np.ones(50, np.float32), "got shape \\(50,\\)"), (np.ones((3, 1, 64)), "got shape"),
                          (np.ones(64, np.int16), "integer dtype int16"), (np.full(64, np.nan), "noise must be finite")):
        with pytest.raises(ng.ParameterError, match=needle):
            nc.augment_batch(x, noise=noise, **good)
    one_row = nc.augment_batch(x, noise=np.ones((1, 64)), **good).samples
    np.testing.assert_allclose(np.asarray(one_row), np.asarray(nc.augment_batch(x, noise=np.ones(64), **good).samples))


@cudasim
def test_cuda_clip_checks_its_input_first_and_cpu_only_effects_say_so_for_device_arrays(D):
    cuda = pytest.importorskip("numba.cuda")
    import warnings

    with pytest.raises(ng.ParameterError, match="integer dtype int16"):
        D.cuda_clip(np.ones(8, np.int16), threshold=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "clips more than half" for an input refused anyway
        with pytest.raises(ng.ParameterError, match="finite"):
            D.cuda_clip(np.array([np.nan, 1, 2, 3], np.float32), threshold=0.5)
    for call in (lambda y: ng.codec(y, sample_rate=8000, format="mulaw"),
                 lambda y: ng.packet_loss(y, sample_rate=8000, loss_rate=0.5, rng=0)):
        with pytest.raises(ng.BackendError, match="runs on the CPU only: pass a NumPy array"):
            call(cuda.to_device(np.ones(160, np.float32)))


def test_augment_batch_names_its_band_in_hz_and_takes_the_old_name_with_a_warning():
    """`band` broke the rule that frequencies end in _hz (its params key was band_hz already)."""
    from noisegen import cuda as nc

    x = np.random.default_rng(0).standard_normal((2, 800)).astype(np.float32)
    new = nc.augment_batch(x, sample_rate=16000, band_hz=(300.0, 3000.0), rng=0, backend="cpu")
    with pytest.warns(DeprecationWarning, match="band_hz"):
        old = nc.augment_batch(x, sample_rate=16000, band=(300.0, 3000.0), rng=0, backend="cpu")
    np.testing.assert_array_equal(new.samples, old.samples)
    with pytest.raises(ng.ParameterError, match="band_hz only"):
        nc.augment_batch(x, sample_rate=16000, band=(300.0, 3000.0), band_hz=(300.0, 3000.0), backend="cpu")


@pytest.mark.parametrize("silent_row", [False, True])
def test_augment_batch_cpu_from_threads_keeps_the_warning_filters_and_other_threads_warnings(silent_row):
    # The CPU chain hid mix_at_snr's silent-item warning with warnings.catch_warnings, which swaps the
    # process's filters: threads inside it at once left "ignore" in place for good, and a warning of
    # another thread given meanwhile was lost.
    import threading
    import warnings

    import noisegen.cuda as nc

    x = np.random.default_rng(3).standard_normal((2, 400)).astype(np.float32)
    if silent_row:
        x[1] = 0.0
    kw = dict(sample_rate=16000, noise="white", snr_db=(0.0, 10.0), rng=4, backend="cpu")
    want = nc.augment_batch(x, **kw).samples
    n_threads, repeats = 4, 100
    barrier = threading.Barrier(n_threads + 1)
    outs, errors = [], []

    def run():
        try:
            barrier.wait()
            outs.extend(nc.augment_batch(x, **kw).samples for _ in range(repeats))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        filters = list(warnings.filters)
        threads = [threading.Thread(target=run) for _ in range(n_threads)]
        for t in threads:
            t.start()
        barrier.wait()
        given = 0
        while any(t.is_alive() for t in threads):  # this thread's own warnings, given while the others run
            warnings.warn(f"mine {given}", UserWarning)
            given += 1
        for t in threads:
            t.join()
        assert warnings.filters == filters
    assert not errors
    assert sum(str(w.message).startswith("mine") for w in caught) == given
    assert not [w for w in caught if issubclass(w.category, ng.NoisegenWarning)]  # a silent row says nothing
    assert len(outs) == n_threads * repeats and all(np.array_equal(o, want) for o in outs)


@pytest.mark.parametrize("dtype", [">f4", ">f8"])
@pytest.mark.parametrize("backend", ["cpu", pytest.param("cuda", marks=pytest.mark.cudasim)])
def test_augment_batch_takes_a_big_endian_batch_as_every_effect_does(dtype, backend):
    """A big-endian float32 batch (from a big-endian file) is float32: augment_batch refused it ("batch must
    be float32 or float64, got dtype >f4") where every effect takes a native copy (and the GPU kernels can
    type no big-endian array)."""
    if backend == "cuda" and not (SIM or _gpu_present()):
        pytest.skip("needs NUMBA_ENABLE_CUDASIM=1 or a GPU")
    from noisegen.cuda import augment_batch

    x = (np.random.default_rng(3).standard_normal((2, 40)) * 0.3).astype(dtype)
    native = x.astype(x.dtype.newbyteorder("="))
    kw = dict(sample_rate=16000, noise="pink", snr_db=(0, 10), gain_db=-3.0, band_hz=(100, 4000), speed=[0.9, 1.1],
              rng=0, backend=backend, threads=7)
    got, want = augment_batch(x, **kw), augment_batch(native, **kw)
    assert got.samples.dtype == native.dtype
    np.testing.assert_array_equal(got.samples, want.samples)
    np.testing.assert_array_equal(got.lengths, want.lengths)
