"""Batched augmentation on the GPU: a ``(B, T)`` batch in a few kernel launches.

:func:`augment_batch` draws every item's parameters on the host (from
``rng``, reproducibly) and runs the whole chain on the device:

1. coloured noise, one 1/f**beta bank per item (1 launch, counter RNG: the
   same key gives the same noise as :func:`noisegen.colored_noise` on CPU);
2. mixing at a per-item SNR: per-item power reductions on the device (read
   back, 2B floats, to refuse a power past float64), the scales computed
   there, scale-and-add (4 launches);
3. per-item gain (1 launch);
4. per-item Butterworth band-pass, one thread per item (1 launch);
5. per-item speed factor through the band-limited resampler (1 launch); the
   output is zero-padded to the longest item and ``lengths`` says where each
   item ends.

The same function with ``backend="cpu"`` runs the same chain item by item
with the public CPU functions (the reference the CUDA path is tested
against, and the one-core baseline of ``bench/bench_gpu.py``).

Where a batched GPU form is not practical: :func:`noisegen.time_stretch`
(WSOLA chooses each frame's position from the previous output frame: a
sequential dependency per item, and a per-item search whose cost varies
with the rate) and :func:`noisegen.pitch_shift` (WSOLA then resampling)
stay on the CPU; use :func:`noisegen.speed` (here: ``speed=``) on the GPU.
Reverberation (:func:`noisegen.convolve_rir`) is FFT work: run it with
CuPy/torch FFTs, not a Numba kernel. ``mix_at_snr(reference="active")`` has
no CUDA kernel either (frame energies and a host-side threshold).

Nothing here imports :mod:`numba.cuda` until a CUDA call is made.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .._core.batch import Batch
from .._core.backend import array_dtype, from_device, is_cuda_array, require_cuda, resolve_backend, to_device
from .._core.validation import (check_audio, check_int, check_output_size, check_real_array, check_sample_rate,
                                 nonfinite_error, show_value)
from .._core.errors import ParameterError
from .._core.labels import quiet
from .._core.rng import as_generator, check_rng, derive_key, resolve_key
from .._core.units import GAIN_DB_RANGE
from .._design.noise import check_min_freq, design_bank, initial_state, run_bank
from .._design.sections import design_sos, freq_limits
from .._design.snr import MAX_SNR_DB, MIN_SNR_DB, rows_exactly
from .._gpu import ops as dispatch
from ..effects import filters, mix, timescale
from ..effects.level import gain
from ..synth import NOISE_COLORS
from .counts import check_counts
from .draws import draw, draw_speed, shown

__all__ = ["augment_batch"]


def _array(value, name, expected):
    """``np.asarray(value)``; ragged nesting (NumPy's ValueError) is a ParameterError naming ``name``."""
    try:
        return np.asarray(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be {expected}, got {show_value(value)}") from None


def _draw_band(band, b, sample_rate):
    if band is None:
        return None
    arr = check_real_array(band, "band_hz", "(low_hz, high_hz) or a (B, 2) array")
    if arr.shape == (2,):
        arr = np.broadcast_to(arr, (b, 2)).copy()
    if arr.shape != (b, 2):
        raise ParameterError(f"band_hz must be (low_hz, high_hz) or a ({b}, 2) array, got shape {arr.shape}")
    lo, hi, (shown_lo, shown_hi) = freq_limits(sample_rate)  # (the filter design's own bounds)
    if not (np.all(arr[:, 0] >= lo) and np.all(arr[:, 0] < arr[:, 1]) and np.all(arr[:, 1] <= hi)):
        raise ParameterError(f"band_hz edges must satisfy {shown_lo} <= low_hz < high_hz <= {shown_hi} (1e-5 of "
                             f"sample_rate={sample_rate} away from 0 and from Nyquist), got {band!r}")
    return arr


def _noise_spec(noise, b, gen):
    """``(betas or None, noise array or None)``."""

    if noise is None:
        return None, None
    if isinstance(noise, str):
        if noise not in NOISE_COLORS:
            raise ParameterError(f"noise must be one of {', '.join(NOISE_COLORS)}, a beta, a range or an array, got {noise!r}")
        return np.full(b, NOISE_COLORS[noise]), None
    beta = isinstance(noise, numbers.Real) and not isinstance(noise, bool)
    if beta or (isinstance(noise, tuple) and len(noise) == 2):
        # (only these: draw's refusal of other tuples offers a (B,) ndarray, which noise reads as samples)
        return draw(noise, "noise", b, gen, low=-2.0, high=2.0), None
    if is_cuda_array(noise, "noise") or isinstance(noise, np.ndarray):
        return None, noise
    raise ParameterError(f"noise must be a colour name, a beta, a (min, max) beta range or an array, got "
                         f"{shown(noise, 'noise')}")


def _check_noise_array(noise, b, t, where):
    """A noise array of shape ``(B, T)``, ``(1, T)`` or ``(T,)``, float, finite (a CUDA array: not scanned)."""
    if is_cuda_array(noise):
        if where == "cpu":  # (backend="cpu": mixed on the GPU row by row by mix_at_snr)
            raise ParameterError("noise is a CUDA array: backend='cpu' takes NumPy noise (as a NumPy batch); pass "
                                 "backend='cuda', or copy it to the host first")
        if array_dtype(noise) not in (np.float32, np.float64):
            raise ParameterError(f"noise must be float32 or float64, got dtype {array_dtype(noise)}")
        dispatch.device_view(noise, "noise")
    else:
        noise = check_audio(noise, "noise", max_ndim=3)  # (3-D: refused below by shape, not by a layout guess)
    shape = tuple(noise.shape)
    if shape not in ((t,), (1, t), (b, t)):
        raise ParameterError(f"noise must have shape ({b}, {t}), (1, {t}) or ({t},), got shape {shape}")
    return noise


def augment_batch(batch, *, sample_rate, noise=None, snr_db=None, gain_db=None, band_hz=None, band_order=4,
                  speed=None, rng=None, backend="auto", threads=None, params=None, lengths=None, band=None):
    """Augment a ``(B, T)`` batch: noise at an SNR, gain, band-pass, speed, with per-item parameters.

    Parameters
    ----------
    batch : array [shape=(B, T)], float32 or float64
        NumPy (copied to the GPU and back with ``backend="cuda"``), or a
        numba device array / CuPy array / PyTorch CUDA tensor (stays on the
        device; the result is the same kind).
    sample_rate : int
    noise : None, str, float, (min, max) or array
        A colour (``"pink"``...), a spectral exponent ``beta`` in [-2, 2],
        a ``(min_beta, max_beta)`` range drawn per item, or a noise array
        of shape ``(B, T)`` (or ``(T,)`` for all items).
    snr_db : float, (min, max) or ndarray [shape=(B,)]
        Required with ``noise``. A silent item or noise is left unchanged.
    gain_db : None, float, (min, max) or ndarray [shape=(B,)]
    band_hz : None, (low_hz, high_hz) or ndarray [shape=(B, 2)]
        Butterworth band-pass of order ``band_order``. (``band``, its name
        before: the same, with a DeprecationWarning.)
    speed : None, float, list of factors, or ndarray [shape=(B,)]
        Speed factor (a list: one factor drawn per item, e.g. ``[0.9, 1.0, 1.1]``).
    rng : None, int or numpy.random.Generator
        Draws the per-item parameters and noise keys.
    backend : {"auto", "cpu", "cuda"}
        ``"auto"``: CUDA for a CUDA batch, else CPU.
    threads : int or None
        CUDA threads per block (tests use tiny ones).
    params : dict or None
        Replay given per-item parameters instead of drawing them (``noise``,
        ``snr_db``, ``gain_db``, ``band_hz``, ``speed`` and ``rng`` must then be
        None, except a noise array: pass the array the batch was mixed with
        again, as ``noise``): the keys of :attr:`noisegen.Batch.params`
        (``snr_db`` with ``beta`` and ``noise_keys``, or alone with a noise
        array; ``gain_db``, ``band_hz``, ``speed``),
        each ``(B,)`` (``band_hz`` ``(B, 2)``), plus optional boolean
        ``(B,)`` masks ``noise_applied``, ``gain_applied``, ``band_applied``,
        ``speed_applied``: an item whose mask is False skips that stage;
        and an optional float ``noise_min_freq_hz`` (every item's noise is
        ``colored_noise(..., min_freq_hz=...)``, as in ``AddColoredNoise``).
        This is how :class:`~noisegen.AugmentStream` runs a pipeline whose
        transforms apply with a probability.
    lengths : None or array of int [shape=(B,)]
        Real samples of each row of a zero-padded batch (default: all ``T``).
        Row ``i`` is augmented as ``batch[i, :lengths[i]]`` alone would be
        (its noise, SNR, filter ringing and speed change end there), and
        its output is zero past its new length.

    Returns
    -------
    noisegen.Batch
        ``samples`` ``(B, W)`` (the kind of ``batch``), zero past each row's
        ``lengths``, and the drawn ``params`` (``chunks`` is empty). ``W``
        is ``T``, or with ``speed`` the longest row after the speed change.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((2, 1600)).astype(np.float32)
    >>> res = augment_batch(x, sample_rate=16000, noise="pink", snr_db=(5, 15), gain_db=-3.0,
    ...                     band_hz=(100, 4000), speed=[0.9, 1.1], rng=0, backend="cpu")
    >>> res.samples.shape[0], sorted(res.params)
    (2, ['band_hz', 'beta', 'gain_db', 'noise_keys', 'snr_db', 'speed'])
    """
    where = resolve_backend(backend, batch, noise, supports_cuda=True, names=("batch", "noise"))  # ("auto": on the
    # GPU when either is there; noise may also be a colour or a beta)
    sample_rate = check_sample_rate(sample_rate)
    threads = dispatch.check_threads(threads)
    band_order = check_int(band_order, "band_order", low=1, high=32)  # (design_sos's orders), before any stage runs
    check_rng(rng)
    if band is not None:  # (the frequencies' name without its unit, before the naming rule)
        if band_hz is not None:
            raise ParameterError("give band_hz only (band is its old name)")
        warnings.warn("augment_batch(band=...) is now band_hz=...", DeprecationWarning, stacklevel=2)
        band_hz = band
    host = isinstance(getattr(batch, "dtype", None), np.dtype)  # (a CPU torch tensor's dtype made np.dtype raise)
    if not hasattr(batch, "shape") or not (host or is_cuda_array(batch, "batch")):
        raise ParameterError(f"batch must be a (B, T) float array (NumPy, or CUDA on the GPU), got {type(batch).__name__}"
                             + (" (a host tensor: pass batch.numpy())" if hasattr(batch, "numpy") else ""))
    if isinstance(batch, np.ndarray) and batch.dtype.kind == "f" and not batch.dtype.isnative:
        batch = batch.astype(batch.dtype.newbyteorder("="))  # (a big-endian file's float32): a native copy, as check_audio
    shape = tuple(batch.shape)
    if len(shape) != 2:
        raise ParameterError(f"batch must have shape (B, T), got shape {shape}")
    if array_dtype(batch) not in (np.float32, np.float64):
        raise ParameterError(f"batch must be float32 or float64, got dtype {array_dtype(batch)}")
    if is_cuda_array(batch):
        if where == "cpu":  # (np.asarray of a CuPy array or torch CUDA tensor raises; a numba one came back on the host)
            raise ParameterError("batch is a CUDA array: backend='cpu' takes a NumPy batch; pass backend='cuda' or "
                                 "'auto', or copy it to the host first")
        dispatch.device_view(batch, "batch")
    b, t = shape
    lengths = np.full(b, t, np.int64) if lengths is None else check_counts(lengths, "lengths", b, t)
    if not is_cuda_array(batch):  # (a CUDA batch: see _run_cuda) past a row's length is not its audio
        rows = [batch] if np.all(lengths == t) else [row[:n] for row, n in zip(batch, lengths)]
        if not all(np.isfinite(row).all() for row in rows):
            raise nonfinite_error(np.concatenate([np.ravel(row) for row in rows]), "batch")
    run = _run_cuda if where == "cuda" else _run_cpu
    if params is not None:
        if any(v is not None for v in (snr_db, gain_db, band_hz, speed, rng)) or not (
                noise is None or isinstance(noise, np.ndarray) or is_cuda_array(noise, "noise")):
            raise ParameterError("params replays given parameters: leave noise (unless it is the noise array the batch "
                                 "was mixed with), snr_db, gain_db, band_hz, speed and rng None"
                                 + (" (noise is a host tensor: pass noise.numpy())" if hasattr(noise, "numpy") else ""))
        # A noise array is data, not a drawn parameter (params holds only its snr_db): given again here
        noise_array = None if noise is None else _check_noise_array(noise, b, t, where)
        params = _replay_params(params, b, sample_rate, noise_given=noise_array is not None)
        return run(batch, noise_array, params, lengths, sample_rate=sample_rate, band_order=band_order, threads=threads)
    key = resolve_key(rng)
    gen = as_generator(derive_key(key, 1 << 32))
    betas, noise_array = _noise_spec(noise, b, gen)
    if noise_array is not None:
        noise_array = _check_noise_array(noise_array, b, t, where)
    params = {}
    if noise is not None:
        if snr_db is None:
            raise ParameterError("snr_db is required when noise is given")
        params["snr_db"] = draw(snr_db, "snr_db", b, gen, low=MIN_SNR_DB, high=MAX_SNR_DB)
        if betas is not None:
            params["beta"] = betas
            params["noise_keys"] = np.array([derive_key(key, i) for i in range(b)], dtype=np.uint64)
    elif snr_db is not None:  # (nothing would be mixed: torchaudio's add_noise, say, always has its noise)
        raise ParameterError(f"snr_db={snr_db!r} is given without noise: pass noise (a colour such as 'white', a "
                             "beta, a (min, max) beta range or an array) or leave snr_db None")
    if gain_db is not None:
        params["gain_db"] = draw(gain_db, "gain_db", b, gen, low=GAIN_DB_RANGE[0], high=GAIN_DB_RANGE[1])
    if band_hz is not None:
        params["band_hz"] = _draw_band(band_hz, b, sample_rate)
    if speed is not None:
        params["speed"] = draw_speed(speed, b, gen)
    return run(batch, noise_array, params, lengths, sample_rate=sample_rate, band_order=band_order, threads=threads)


def _out_lengths(params, lengths):
    """Each row's length after the speed stage (unchanged where it does not apply), checked before any
    allocation (a factor of 1e-320 makes an infinite row)."""
    if "speed" not in params:
        return lengths.copy()
    factors = np.where(params.get("speed_applied", True), params["speed"], 1.0)
    out = []
    for n, f in zip(lengths, factors):
        m = int(n) / float(f)
        out.append(check_output_size(round(m) if m < 2.0**63 else m, len(lengths), "speed", float(f)))
    return np.array(out, dtype=np.int64)


_STAGES = {"noise": ("snr_db", "beta", "noise_keys"), "gain": ("gain_db",), "band": ("band_hz",), "speed": ("speed",)}


def _check_noise_keys(params, noise_given):
    """Coloured noise is replayed from ``snr_db``, ``beta`` and ``noise_keys``; a noise array given as ``noise=``
    from ``snr_db`` alone."""
    have = [k for k in _STAGES["noise"] if k in params]
    if noise_given and have != ["snr_db"]:
        raise ParameterError(f"params with a noise array (noise=) must give snr_db and neither beta nor noise_keys "
                             f"(the array is the noise), got {have or 'none of them'}")
    if not noise_given and have and len(have) != 3:
        raise ParameterError("params must give snr_db, beta and noise_keys together (or snr_db alone, with the noise "
                             "array the batch was mixed with as noise=)")


def _replay_params(params, b, sample_rate, *, noise_given=False):
    """Validated copies of given per-item parameters (see ``augment_batch(params=)``)."""
    if not isinstance(params, dict):
        raise ParameterError(f"params must be a dict of per-item arrays, got {type(params).__name__}")
    known = {k for keys in _STAGES.values() for k in keys} | {f"{s}_applied" for s in _STAGES} | {"noise_min_freq_hz"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ParameterError(f"params has unknown keys {unknown}; expected some of {sorted(known)}")
    _check_noise_keys(params, noise_given)
    out = {}
    each = f"a ({b},) array"  # (arrays, not ranges: a replay draws nothing)
    if "snr_db" in params:
        out["snr_db"] = draw(check_real_array(params["snr_db"], "snr_db", each), "snr_db", b, None, low=MIN_SNR_DB,
                              high=MAX_SNR_DB)
    if "beta" in params:
        out["beta"] = draw(check_real_array(params["beta"], "beta", each), "beta", b, None, low=-2.0, high=2.0)
        keys = _array(params["noise_keys"], "noise_keys", f"a ({b},) uint64 array")
        if keys.shape != (b,) or keys.dtype != np.uint64:
            raise ParameterError(f"noise_keys must be a ({b},) uint64 array, got {keys.dtype} {keys.shape}")
        out["noise_keys"] = keys
        if params.get("noise_min_freq_hz") is not None:  # one value for every item, as in AddColoredNoise

            check_min_freq(params["noise_min_freq_hz"], sample_rate)
            out["noise_min_freq_hz"] = float(params["noise_min_freq_hz"])
    elif "noise_min_freq_hz" in params:
        raise ParameterError("params: noise_min_freq_hz given without snr_db, beta and noise_keys")
    if "gain_db" in params:
        out["gain_db"] = draw(check_real_array(params["gain_db"], "gain_db", f"a ({b},) array"), "gain_db", b, None,
                               low=GAIN_DB_RANGE[0], high=GAIN_DB_RANGE[1])
    if "band_hz" in params:  # (None drew no band, and the replay then indexed it: a TypeError)
        out["band_hz"] = _draw_band(check_real_array(params["band_hz"], "band_hz", f"a ({b}, 2) array"), b, sample_rate)
    if "speed" in params:
        out["speed"] = draw_speed(check_real_array(params["speed"], "speed", "an array of factors"), b, None)
    for stage, keys in _STAGES.items():
        name = f"{stage}_applied"
        if name in params:
            if keys[0] not in out:
                raise ParameterError(f"params: {name} given without {keys[0]}")
            mask = _array(params[name], name, f"a ({b},) bool array")
            if mask.shape != (b,) or mask.dtype != np.bool_:
                raise ParameterError(f"{name} must be a ({b},) bool array, got {mask.dtype} {mask.shape}")
            out[name] = mask
    return out


def _applied(params, stage, i):
    mask = params.get(f"{stage}_applied")
    return _STAGES[stage][0] in params and (mask is None or bool(mask[i]))


def _width(out_lengths, params, t):
    """Row length of the output: ``T``, or with a speed stage the longest row after it."""
    return int(out_lengths.max()) if "speed" in params and out_lengths.size else t


def _run_cpu(batch, noise_array, params, lengths, *, sample_rate, band_order, threads=None):
    """The same chain, item by item (each row cut to its length), with the public CPU functions."""
    x = np.asarray(batch)
    min_freq = check_min_freq(params.get("noise_min_freq_hz"), sample_rate)
    b, t = x.shape
    out_lengths = _out_lengths(params, lengths)
    out = np.zeros((b, _width(out_lengths, params, t)), dtype=x.dtype)
    for i in range(b):
        n = int(lengths[i])
        y = x[i, :n]
        if n and _applied(params, "noise", i):
            if noise_array is not None:
                nz = noise_array if noise_array.ndim == 1 else noise_array[i if noise_array.shape[0] == b else 0]
                nz = nz[:n]
            else:
                bank = design_bank(float(params["beta"][i]), min_freq)
                k = int(params["noise_keys"][i])
                nz = np.empty((1, n), dtype=x.dtype)
                run_bank(nz, bank, k, 0, initial_state(bank, k, 1))
                nz = nz[0]
            with quiet():  # silent items stay unchanged, as on the GPU
                try:
                    y = mix.mix_at_snr(y, nz, snr_db=float(params["snr_db"][i]))
                except ParameterError as exc:  # (mix_at_snr's "y is too loud": the GPU's says "batch")
                    if str(exc).startswith("y "):
                        raise ParameterError("batch " + str(exc)[2:]) from None
                    raise
        if _applied(params, "gain", i):
            y = gain(y, gain_db=float(params["gain_db"][i]))
        if _applied(params, "band", i):
            lo, hi = params["band_hz"][i]
            y = filters.bandpass(y, low_hz=lo, high_hz=hi, sample_rate=sample_rate, order=band_order)
        if _applied(params, "speed", i):
            y = timescale.speed(y, factor=float(params["speed"][i]), sample_rate=sample_rate)
        out[i, : len(y)] = y
    return Batch(out, out_lengths, params=params)


def _noise_rows(noise_array, b, t, ragged):
    """The given noise on the device: as it is, or, for a ragged batch, one row per item (a copy). Its own
    dtype is kept, as the CPU mixes it (cast to a float32 batch's, 1e39 became inf and 1e-46 silence)."""
    cuda = require_cuda()
    nz = to_device(noise_array if is_cuda_array(noise_array) else np.ascontiguousarray(noise_array))
    nz = nz.reshape(1, nz.shape[0]) if len(nz.shape) == 1 else nz  # (the shape: _check_noise_array)
    if not ragged:
        return nz
    rows = cuda.device_array((b, t), dtype=nz.dtype)  # each row's tail is zeroed on its own
    for r in range(b):
        rows[r].copy_to_device(nz[r if nz.shape[0] == b else 0])
    return rows


def _run_cuda(batch, noise_array, params, lengths, *, sample_rate, band_order, threads=None):
    """The chain on the device, a launch (or four, for mixing) per stage. In a ragged batch each row's
    signal, noise and filter output are zeroed past its length, so the row is processed as if alone."""

    cuda = require_cuda()
    d = to_device(batch if is_cuda_array(batch) else np.ascontiguousarray(batch))
    b, t = d.shape
    dtype = d.dtype
    out_lengths = _out_lengths(params, lengths)
    if b == 0 or t == 0:
        return Batch(from_device(cuda.device_array((b, _width(out_lengths, params, t)), dtype=dtype), batch),
                     out_lengths, params=params)
    ragged = bool(np.any(lengths < t))
    cur = cuda.device_array((b, t), dtype=dtype)
    cur.copy_to_device(d)
    if ragged:
        dispatch.zero_past(cur, lengths, threads=threads)
    p_sig = dispatch.row_powers(cur, threads=threads) if "snr_db" in params or is_cuda_array(batch) else None
    if is_cuda_array(batch) and not np.isfinite(p_sig.copy_to_host()).all():  # a host batch was checked before
        host = cur.copy_to_host()
        if not np.isfinite(host).all():  # (not a sum of squares past float64's range)
            raise nonfinite_error(host, "batch")
    if "snr_db" in params:
        if noise_array is not None:
            nz = _noise_rows(noise_array, b, t, ragged)
        else:
            nz = dispatch.cuda_noise_rows(t, betas=params["beta"], keys=params["noise_keys"], dtype=dtype,
                                          threads=threads,
                                          min_freq=check_min_freq(params.get("noise_min_freq_hz"), sample_rate))
        if ragged:
            dispatch.zero_past(nz, lengths, threads=threads)  # the noise's power over the row's own samples
        mix = dispatch._kernels("mix")
        p_sig = p_sig.copy_to_host()
        p_noise = dispatch.row_powers(nz, threads=threads).copy_to_host()
        applied = params.get("noise_applied", np.ones(b, bool))
        # A power past float64 (NaN/inf samples, or a signal too loud to square) is refused as on the CPU,
        # where an item mixes; an item the noise skips gets power 0, so scale 0 (an inf one made 0 * inf).
        for powers, rows, name in ((p_sig, cur, "batch"), (np.broadcast_to(p_noise, (b,)), nz, "noise")):
            if not np.isfinite(powers[applied]).all():
                dispatch.refuse_power(rows, name)
        # (float64 rows near 1e-160 square to subnormals: measured on scaled copies, as mix_at_snr's)
        p_sig, e_sig = rows_exactly(p_sig, cur.copy_to_host)
        p_noise, e_noise = rows_exactly(p_noise, nz.copy_to_host)
        p_noise, shift = np.broadcast_to(p_noise, (b,)), e_sig - e_noise
        scales = cuda.device_array(b, dtype=np.float64)
        dispatch.launch(mix.snr_scales, b, threads, dispatch._row_array(np.where(applied, p_sig, 0.0)),
                        dispatch._row_array(p_noise), dispatch._row_array(params["snr_db"]), scales)
        if shift.any():
            scales = cuda.to_device(np.ldexp(scales.copy_to_host(), shift))
        dispatch.launch(mix.mix_rows, b * t, threads, cur, nz, dispatch._row_array(np.zeros(b), np.int64), scales, cur)
        dispatch.refuse_overflow(cur, lambda r: f"snr_db={params['snr_db'][r]:g}", threads=threads)
    if "gain_db" in params:
        gains = (10.0 ** (params["gain_db"] / 20.0)).astype(dtype)
        if "gain_applied" in params:
            gains[~params["gain_applied"]] = 1
        dispatch.launch(dispatch._kernels("mix").gain_rows, b * t, threads, cur, dispatch._row_array(gains, dtype), cur)
        dispatch.refuse_overflow(cur, lambda r: f"gain_db={params['gain_db'][r]:g}", threads=threads)
    if "band_hz" in params:
        sos = np.stack([design_sos("bandpass", low_hz=lo, high_hz=hi, sample_rate=sample_rate, order=band_order)
                        for lo, hi in params["band_hz"]])
        if "band_applied" in params:  # an identity cascade: y = x exactly
            sos[~params["band_applied"]] = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
        dispatch.sosfilt_rows(cur, sos, out=cur, threads=threads)
        if ragged:
            dispatch.zero_past(cur, lengths, threads=threads)  # the filter rings on into the padding
        band = params["band_hz"]
        dispatch.refuse_overflow(cur, lambda r: f"bandpass(low_hz={band[r][0]:g}, high_hz={band[r][1]:g}, "
                                                f"order={band_order})", threads=threads)
    if "speed" in params:
        factors = np.where(params.get("speed_applied", True), params["speed"], 1.0)
        ratios = [dispatch.speed_ratio(float(f)) for f in factors]
        cur = dispatch.resample_rows(cur, ratios, out_lengths, n_in=lengths, threads=threads)
        dispatch.refuse_overflow(cur, lambda r: f"resampling y by {float(ratios[r]):.6g}", threads=threads)
    return Batch(from_device(cur, batch), out_lengths, params=params)
