"""CUDA versions of the public functions: validate, move to the device, launch, give back the same kind.

Each ``cuda_<name>`` mirrors a public function (same keyword arguments, same
result up to float rounding) and is what that function calls when
:func:`noisegen._core.backend.resolve_backend` answers ``"cuda"``. Inputs may be
NumPy arrays (copied to the device, result copied back), numba device arrays
(result: a numba device array), or CuPy arrays / PyTorch CUDA tensors (viewed
in place through ``__cuda_array_interface__``; result: the same kind).
Synthesis functions have no input array and return numba device arrays.

Launch geometry: ``threads`` threads per block (default :data:`DEFAULT_THREADS`); every kernel is
correct for any block size, which the simulator tests exercise with tiny ones (1, 2, odd).
"""

from __future__ import annotations

import math

import numpy as np

from .._core.backend import array_dtype, from_device, is_cuda_array, require_cuda, to_device
from .._core.validation import (check_audio, check_audio_shape, check_choice, check_duration, check_finite_output,
                                 check_float_dtype, check_int, check_n_channels, check_n_samples, check_output_size,
                                 check_rate_factor, check_rates, check_real, check_sample_rate, nonfinite_error,
                                 warn_mostly_clipped)
from .._core.errors import BackendError, ParameterError
from .._core.labels import warn
from .._core.layout import stream_chunk
from .._core.rng import resolve_key
from .._core.units import GAIN_DB_RANGE, db_to_amplitude
from .._design.noise import check_beta, check_min_freq, design_bank, initial_state
from .._design.ratios import speed_ratio
from .._design.snr import EXACT_TOTAL, SILENT, check_snr_db, exactly_squared, silent_part, snr_scale
from .._design.resample import N_PHASES, cached_plan
from .._design.sections import check_sos, check_zi, design_sos, zi_channels
from .._kernels.biquad import biquad_coefficients

#: Threads per block unless a call says otherwise.
DEFAULT_THREADS = 256
#: Threads a CUDA block may hold (every GPU of compute capability 2.0 and later).
MAX_BLOCK_THREADS = 1024
#: Blocks a 1-D grid may hold (``gridDim.x``, compute capability 3.0 and later).
MAX_GRID_BLOCKS = 2**31 - 1


def _kernels(name):
    require_cuda()
    import importlib

    return importlib.import_module(f"noisegen._kernels.cuda.{name}")


def check_threads(threads):
    """``threads`` per block as given to the launches: None (the default) or an int in [1, 1024]."""
    return None if threads is None else check_int(threads, "threads", low=1, high=MAX_BLOCK_THREADS)


def launch(kernel, n_items, threads, *args):
    """Launch ``kernel`` with one thread per item, ``threads`` per block."""
    threads = DEFAULT_THREADS if threads is None else int(threads)
    blocks = max(1, -(-int(n_items) // threads))
    if blocks > MAX_GRID_BLOCKS:  # (a grid the driver refuses, with an error naming no argument)
        raise ParameterError(f"threads={threads} needs {blocks:,} blocks for {int(n_items):,} samples, past CUDA's "
                             f"{MAX_GRID_BLOCKS:,} a grid: pass threads >= {-(-int(n_items) // MAX_GRID_BLOCKS)} "
                             f"(or None, {DEFAULT_THREADS})")
    kernel[blocks, threads](*args)


def device_view(x, name):
    """A numba device view of the CUDA array ``x``, refused (ParameterError naming ``name``) unless C-contiguous:
    the launches index rows as flat spans, and a strided row cannot be copied as one."""
    d = to_device(x)
    if not (d.is_c_contiguous() if hasattr(d, "is_c_contiguous") else True):
        raise ParameterError(f"{name} must be C-contiguous on the device (a copy: cupy.ascontiguousarray, "
                             f"tensor.contiguous()), got strides {tuple(d.strides)}")
    return d


def _audio(y, name="y", *, finite=True):
    """``(array, shape)`` of host or device audio, validated but not yet copied (:func:`_rows`), so the other
    arguments are refused before any device allocation (``finite=False``: NaN/inf left to the caller)."""
    if not is_cuda_array(y):
        y = np.ascontiguousarray(check_audio(y, name, finite=finite))
        return y, y.shape
    dtype = array_dtype(y)
    if dtype not in (np.float32, np.float64):
        raise ParameterError(f"{name} must be float32 or float64 audio, got dtype {dtype}")
    shape = check_audio_shape(y.shape, name)  # (the host array's shape rules; its samples are scanned by the caller)
    return device_view(y, name), shape


def _rows(x, shape):
    """The 2-D device view of :func:`_audio`'s array (a host one copied to the device)."""
    d = to_device(x)
    return d.reshape(1, shape[0]) if len(shape) == 1 else d


def _audio_rows(y, name="y"):
    """``(device 2-D view, original shape)`` of host or device audio, validated (see :func:`_audio`)."""
    x, shape = _audio(y, name)
    return _rows(x, shape), shape


def _finish(d2, shape, like):
    return from_device(d2.reshape(shape), like)


def _row_array(values, dtype=np.float64):
    cuda = require_cuda()
    return cuda.to_device(np.ascontiguousarray(values, dtype=dtype))


# ----------------------------------------------------------------------------- synthesis


def _bank_arrays(betas, keys, streams, min_freq=None):
    """Per-row banks (padded to one width) and their stationary initial states.

    ``state[r]`` holds the padded real one-poles, then ``(Re v, Im v)`` of the
    complex pairs (the high-pass of ``min_freq``, the same count for every row).
    """
    banks = [design_bank(float(b), min_freq) for b in betas]
    width = max([b.poles.shape[0] for b in banks] + [1])
    n_pairs = max([b.pair_poles.shape[0] for b in banks] + [1])
    rows = len(banks)
    poles = np.zeros((rows, width))
    residues = np.zeros((rows, width))
    direct = np.empty(rows)
    pair_poles = np.zeros((rows, n_pairs, 2))
    pair_residues = np.zeros((rows, n_pairs, 2))
    state = np.zeros((rows, width + 2 * n_pairs))
    for r, bank in enumerate(banks):
        k, m = bank.poles.shape[0], bank.pair_poles.shape[0]
        poles[r, :k] = bank.poles
        residues[r, :k] = bank.residues
        direct[r] = bank.direct
        pair_poles[r, :m] = bank.pair_poles
        pair_residues[r, :m] = bank.pair_residues
        if bank.init.shape[0]:
            full = initial_state(bank, int(keys[r]), 1, int(streams[r]))[0]  # (the CPU's draw, bit for bit)
            state[r, :k] = full[:k]
            state[r, width: width + 2 * m] = full[k:]
    return poles, residues, direct, pair_poles, pair_residues, state


def cuda_noise_rows(n_samples, *, betas, keys, streams=None, dtype=np.float32, out=None, threads=None, min_freq=None):
    """``(rows, n_samples)`` device noise; row ``r`` is 1/f**betas[r] noise of ``keys[r]``, stream ``streams[r]``.

    Row ``r`` equals channel ``streams[r]`` of ``colored_noise(n_samples, beta=betas[r], rng=<keys[r]>,
    n_channels=...)`` on the CPU. ``min_freq`` is ``min_freq_hz / sample_rate`` (every row), or None.
    ``out`` (a device array) is filled when given.
    """
    cuda = require_cuda()
    k = _kernels("noise")
    betas = np.atleast_1d(np.asarray(betas, dtype=np.float64))
    keys = np.atleast_1d(np.asarray(keys, dtype=np.uint64))
    rows = max(betas.shape[0], keys.shape[0])
    betas = np.broadcast_to(betas, (rows,))
    keys = np.ascontiguousarray(np.broadcast_to(keys, (rows,)))
    streams = np.zeros(rows, np.uint64) if streams is None else np.ascontiguousarray(streams, dtype=np.uint64)
    if out is None:
        out = cuda.device_array((rows, n_samples), dtype=dtype)
    if n_samples == 0 or rows == 0:
        return out
    if np.all(betas == 0.0) and min_freq is None:
        launch(k.white, rows * n_samples, threads, out, _row_array(keys, np.uint64), _row_array(streams, np.uint64), 0)
        return out
    poles, residues, direct, pair_poles, pair_residues, state = _bank_arrays(betas, keys, streams, min_freq)
    if poles.shape[1] > k.MAX_SECTIONS or pair_poles.shape[1] > k.MAX_PAIRS:  # pragma: no cover
        raise BackendError(f"a bank of {poles.shape[1]} sections and {pair_poles.shape[1]} pairs exceeds the CUDA "
                           f"kernel's {k.MAX_SECTIONS} and {k.MAX_PAIRS}")
    launch(k.colored, rows, threads, out, _row_array(keys, np.uint64), _row_array(streams, np.uint64), 0,
           _row_array(poles), _row_array(residues), _row_array(direct), _row_array(pair_poles),
           _row_array(pair_residues), _row_array(state))
    return out


def cuda_colored_noise(n_samples, *, beta, rng=None, n_channels=None, dtype=np.float32, min_freq_hz=None,
                       sample_rate=None, threads=None):
    """:func:`noisegen.colored_noise` on the GPU; a numba device array of the same shape."""

    c = check_n_channels(n_channels)
    n = check_n_samples(n_samples, n_channels=c)
    beta = check_beta(beta)
    dtype = check_float_dtype(dtype)
    min_freq = check_min_freq(min_freq_hz, sample_rate)
    key = resolve_key(rng)
    rows = 1 if c is None else c
    d = cuda_noise_rows(n, betas=[beta] * rows, keys=[key] * rows, streams=np.arange(rows), dtype=dtype,
                        threads=threads, min_freq=min_freq)
    return d.reshape(n) if c is None else d


def cuda_white_noise(n_samples, *, rng=None, n_channels=None, dtype=np.float32, threads=None):
    """:func:`noisegen.white_noise` on the GPU; a numba device array."""
    return cuda_colored_noise(n_samples, beta=0.0, rng=rng, n_channels=n_channels, dtype=dtype, threads=threads)


# ----------------------------------------------------------------------------- mixing


def row_powers(d2, *, offsets=None, n=None, threads=None):
    """Device ``(rows,)`` float64 sums of squares (wrapped crop of ``n`` from ``offsets``)."""
    cuda = require_cuda()
    k = _kernels("mix")
    rows, m = d2.shape
    n = m if n is None else n
    offsets = np.zeros(rows, np.int64) if offsets is None else offsets
    out = cuda.device_array(rows, dtype=np.float64)
    t = min(DEFAULT_THREADS if threads is None else int(threads), k.MAX_THREADS)
    k.row_sum_squares[max(rows, 1), t](d2, _row_array(offsets, np.int64), n, out)
    return out


def cuda_mix_at_snr(y, noise, *, snr_db, noise_offset=0, reference="rms", sample_rate=None, threads=None):
    """:func:`noisegen.mix_at_snr` on the GPU (``reference="rms"`` only); same kind as ``y``."""
    if reference != "rms":
        check_choice(reference, "reference", ("rms", "active"))
        raise BackendError("mix_at_snr(reference='active') has no CUDA kernel; use reference='rms' or backend='cpu'")
    s, shape = _audio(y, "y")
    nz, noise_shape = _audio(noise, "noise", finite=False)  # (only the samples added must be finite, as on the CPU)
    rows, n, m = (1 if len(shape) == 1 else shape[0]), shape[-1], noise_shape[-1]
    if m == 0:
        raise ParameterError(f"noise must hold at least one sample, got shape {noise_shape}")
    if len(noise_shape) == 2 and noise_shape[0] not in (1, rows):
        raise ParameterError(f"noise must be mono or have the signal's {rows} channel(s), got shape {noise_shape}")
    if snr_db is not None:
        snr_db = check_snr_db(snr_db)
    offset = check_int(noise_offset, "noise_offset", low=0) % m
    s2, n2 = _rows(s, shape), _rows(nz, noise_shape)
    cuda = require_cuda()
    out = cuda.device_array((rows, n), dtype=s2.dtype)
    if n == 0:
        return _finish(out, shape, y)
    p_sig = row_powers(s2, threads=threads).copy_to_host().sum()
    p_noise = row_powers(n2, offsets=np.full(n2.shape[0], offset), n=n, threads=threads).copy_to_host().sum()
    for total, d2, name in ((p_noise, n2, "noise"), (p_sig, s2, "y")):  # (the CPU's order)
        if not math.isfinite(total):
            refuse_power(d2, name, needed=snr_db is not None)
    if snr_db is None:
        scale = 1.0
    else:
        e = 0
        if any(0.0 < p < EXACT_TOTAL for p in (p_sig, p_noise)):  # squares past float64's normal range, not
            # silence (no copy for that): measured as on the CPU
            _, nm, e, p_sig, p_noise = exactly_squared(s2.copy_to_host(), n2.copy_to_host(), offset, p_sig, p_noise)
            n2 = cuda.to_device(nm)
        p_sig /= rows * n
        p_noise /= n2.shape[0] * n
        which = silent_part(p_sig, p_noise)
        if which is not None:
            warn(SILENT.format(which=which))  # as on the CPU: the user's line, the files worked on
            scale = 0.0
        else:
            scale = math.ldexp(snr_scale(p_sig, p_noise, snr_db), e)
    k = _kernels("mix")
    launch(k.mix_rows, rows * n, threads, s2, n2, _row_array(np.full(rows, offset), np.int64),
           _row_array(np.full(rows, scale)), out)
    refuse_overflow(out, "snr_db=None (signal + noise)" if snr_db is None else f"snr_db={snr_db:g}", y2=s2,
                    threads=threads)
    return _finish(out, shape, y)


def refuse_power(d2, name, needed=True):
    """Raise, as the CPU does, for device audio whose power came out NaN or inf: its NaN/inf samples,
    else a finite signal too loud to measure (its squares pass float64's range) when the power is
    ``needed`` (a mix at an SNR; snr_db=None adds such audio as it is)."""
    host = d2.copy_to_host()
    if not np.isfinite(host).all():
        raise nonfinite_error(host, name)
    if needed:
        raise ParameterError(f"{name} is too loud: its power overflows float64")


# ----------------------------------------------------------------------------- sample-wise effects


def _row_kernel(kernel_name, y2, values, dtype, threads, *extra):
    """A new device array: ``kernel(y2, values..., out)``, one thread per sample of the rows ``y2``."""
    cuda = require_cuda()
    out = cuda.device_array(y2.shape, dtype=y2.dtype)
    if y2.size:
        kernel = getattr(_kernels("mix"), kernel_name)
        arrays = [_row_array(np.broadcast_to(v, (y2.shape[0],)), dt) for v, dt in ((values, dtype), *extra)]
        launch(kernel, y2.size, threads, y2, *arrays, out)
    return out


def _per_row(kernel_name, y, values, dtype, threads, *extra):
    y2, shape = _audio_rows(y)
    return _finish(_row_kernel(kernel_name, y2, values, dtype, threads, *extra), shape, y)


def refuse_overflow(out, what, *, y2=None, threads=None):
    """Refuse, as the CPU does, device rows that a finite input made NaN/inf: one reduction per row,
    a row read back only when it is not finite. ``what`` names the setting (``what(row)``: the row's);
    ``y2``, the input (when the stage did not overwrite it), adds its peak to the message."""
    if not out.size:
        return out
    bad = np.flatnonzero(~np.isfinite(row_powers(out, threads=threads).copy_to_host()))
    if bad.size:
        host = None if y2 is None else y2.copy_to_host()
        if host is not None and not np.isfinite(host).all():  # (a device input is not checked before the launch)
            raise nonfinite_error(host, "y")
        for r in bad.tolist():  # (an inf sum of finite samples, float64's range passed, is no overflow)
            check_finite_output(out[r].copy_to_host(), what(r) if callable(what) else what, y=host,
                                total=math.inf)
    return out


def cuda_gain(y, *, gain_db, threads=None):
    """:func:`noisegen.gain` on the GPU; a gain above 0 dB that overflows the dtype is refused as on the CPU."""
    g = check_real(gain_db, "gain_db", low=GAIN_DB_RANGE[0], high=GAIN_DB_RANGE[1])
    y2, shape = _audio_rows(y)
    out = _row_kernel("gain_rows", y2, db_to_amplitude(g), y2.dtype, threads)
    if g > 0.0:
        refuse_overflow(out, f"gain_db={g:g}", y2=y2, threads=threads)
    return _finish(out, shape, y)


def cuda_clip(y, *, threshold=1.0, percentile=None, threads=None):
    """:func:`noisegen.clip` on the GPU (``percentile`` reads ``|y|`` back to the host to find the level)."""
    x, shape = _audio(y)  # a device input too is checked before any level is worked out (or y given back)
    host = None if is_cuda_array(y) else x
    if percentile is not None:
        p = check_real(percentile, "percentile", low=0.0, high=100.0, high_inclusive=False)
        level = float(np.percentile(np.abs(x.copy_to_host() if host is None else x), 100.0 - p)) if x.size else 1.0
    else:
        level = check_real(threshold, "threshold", low=0.0, low_inclusive=False)
    level = min(level, float(np.finfo(x.dtype).max))  # as on the CPU: clips nothing, and casts without overflow
    if percentile is None and host is not None:  # (a device input is not read back for a warning)
        warn_mostly_clipped(host, level, stacklevel=3)
    y2 = _rows(x, shape)
    return _finish(_row_kernel("clip_rows", y2, level, y2.dtype, threads), shape, y)


def cuda_bitcrush(y, *, bit_depth, threads=None):
    """:func:`noisegen.bitcrush` on the GPU."""
    bits = check_int(bit_depth, "bit_depth", low=1, high=32)
    y2, shape = _audio_rows(y)  # (the steps in its native dtype: a big-endian input's own is none a kernel takes)
    return _finish(_row_kernel("bitcrush_rows", y2, 2.0 ** (bits - 1), y2.dtype, threads), shape, y)


def cuda_time_mask(y, *, start_s, duration_s, sample_rate, fade_s=0.005, threads=None):
    """:func:`noisegen.time_mask` on the GPU."""
    sample_rate = check_sample_rate(sample_rate)
    start = check_duration(start_s, "start_s", sample_rate)
    length = check_duration(duration_s, "duration_s", sample_rate)
    fade = check_duration(fade_s, "fade_s", sample_rate)
    return _per_row("time_mask_rows", y, start, np.int64, threads, (length, np.int64), (fade, np.int64))


# ----------------------------------------------------------------------------- filters


def check_sections(n_sections):
    """Refuse a cascade longer than the CUDA kernel's (BackendError naming the CPU, which runs any)."""
    if n_sections > _kernels("biquad").MAX_SECTIONS:
        raise BackendError(f"the CUDA biquad kernel runs at most {_kernels('biquad').MAX_SECTIONS} sections, got "
                           f"{n_sections}; use backend='cpu', which has no limit")


def sosfilt_rows(d2, sos_rows, state_rows=None, *, out=None, threads=None):
    """Filter device rows through per-row cascades ``sos_rows`` (rows, sections, 6); returns ``(out, state)``."""
    cuda = require_cuda()
    k = _kernels("biquad")
    rows = d2.shape[0]
    sos_rows = np.ascontiguousarray(np.broadcast_to(sos_rows, (rows,) + np.shape(sos_rows)[-2:]), dtype=np.float64)
    check_sections(sos_rows.shape[1])
    if state_rows is None:
        state_rows = np.zeros((rows, sos_rows.shape[1], 2))
    d_state = _row_array(state_rows)
    coef = np.stack(biquad_coefficients(*(sos_rows[..., j] for j in (0, 1, 2, 4, 5))), axis=-1)
    if out is None:
        out = cuda.device_array(d2.shape, dtype=d2.dtype)
    if d2.shape[1]:
        launch(k.sosfilt_rows, rows, threads, _row_array(coef), d2, out, d_state)
    return out, d_state


def cuda_sos_filter(y, *, sos, zi=None, threads=None, what="sos"):
    """:func:`noisegen.sos_filter` on the GPU; ``zf`` comes back as a NumPy array. A result past the dtype
    (or NaN in a device ``y``) is refused as on the CPU; ``what`` names the filter in that error."""
    sos = check_sos(sos)
    with stream_chunk(y, zi_channels(zi)):  # (as on the CPU: zi sets the channels)
        x, shape = _audio(y)
    mono = len(shape) == 1
    state = check_zi(zi, sos.shape[0], None if mono else shape[0])
    check_sections(sos.shape[0])
    y2 = _rows(x, shape)
    out, d_state = sosfilt_rows(y2, sos, state, threads=threads)
    try:
        refuse_overflow(out, what, y2=y2, threads=threads)
    except ParameterError:
        if state is None:
            raise
        # a state handed in can overflow alone (the CPU's wording); it is named only when y alone fits
        refuse_overflow(sosfilt_rows(y2, sos, None, threads=threads)[0], what, y2=y2, threads=threads)
        refuse_overflow(out, f"{what} from zi (peak {float(np.max(np.abs(state), initial=0.0)):.3g})", y2=y2,
                        threads=threads)
        raise
    result = _finish(out, shape, y)
    if zi is None:
        return result
    zf = d_state.copy_to_host()
    return result, (zf[0] if mono else zf.transpose(1, 0, 2).copy())


def cuda_filter(kind, y, *, zi=None, threads=None, **design):
    """``lowpass``/``highpass``/``bandpass``/... on the GPU: :func:`noisegen._design.sections.design_sos` + the cascade."""
    return cuda_sos_filter(y, sos=design_sos(kind, **design), zi=zi, threads=threads, what=kind)


# ----------------------------------------------------------------------------- resampling


def _plan_rows(ratios, dtype):
    """Flat table + per-row integer/float parameters for per-row ratios (output per input sample)."""
    plans, tables, iparams, steps, offset = {}, [], [], [], 0
    for ratio in ratios:
        if ratio == 1:
            iparams.append((2, 0, 0, 0, 1, 1))
            steps.append(1.0)
            continue
        if ratio not in plans:
            plan = cached_plan(ratio, "d")  # (its tables are kept: Plan() read them from disk each call)
            plans[ratio] = (plan, offset)
            tables.append(np.asarray(plan.table, dtype=np.float64).ravel())
            offset += tables[-1].size
        plan, base = plans[ratio]
        if plan.rational:
            iparams.append((0, base, plan.table.shape[1], plan.half, plan.up, plan.down))
            steps.append(0.0)
        else:
            iparams.append((1, base, plan.table.shape[1], plan.half, N_PHASES, 0))
            steps.append(plan.step)
    table = np.concatenate(tables) if tables else np.zeros(1)
    return table, np.array(iparams, dtype=np.int64).reshape(-1, 6), np.array(steps)


def resample_rows(d2, ratios, n_out, *, n_in=None, out=None, threads=None):
    """Resample each device row by its own ratio into ``(rows, max(n_out))`` (zero past ``n_out[r]``)."""
    cuda = require_cuda()
    k = _kernels("resample")
    rows = d2.shape[0]
    n_out = np.broadcast_to(np.asarray(n_out, dtype=np.int64), (rows,))
    n_in = np.full(rows, d2.shape[1], np.int64) if n_in is None else np.broadcast_to(np.asarray(n_in, np.int64), (rows,))
    table, iparams, steps = _plan_rows(list(ratios), d2.dtype)
    if out is None:
        out = cuda.device_array((rows, int(n_out.max()) if rows else 0), dtype=d2.dtype)
    if out.size:
        launch(k.resample_rows, out.size, threads, d2, _row_array(n_in, np.int64), _row_array(table),
               _row_array(iparams, np.int64), _row_array(steps), _row_array(n_out, np.int64), out)
    return out


def cuda_speed(y, *, factor, sample_rate, threads=None):
    """:func:`noisegen.speed` on the GPU."""
    factor = check_rate_factor(factor, "factor")
    check_sample_rate(sample_rate)
    x, shape = _audio(y)
    n_out = check_output_size(round(shape[-1] / factor), shape[0] if len(shape) == 2 else None, "factor", factor)
    y2 = _rows(x, shape)
    if factor == 1.0:
        return _finish(_copy(y2), shape, y)
    ratio = speed_ratio(factor)
    out = resample_rows(y2, [ratio] * y2.shape[0], n_out, threads=threads)
    refuse_overflow(out, f"resampling y by {float(ratio):.6g}", y2=y2, threads=threads)
    return _finish(out, shape[:-1] + (n_out,), y)


def cuda_resample(y, *, orig_sample_rate, target_sample_rate, threads=None):
    """:func:`noisegen.resample` on the GPU."""
    from fractions import Fraction

    orig, target = check_rates(orig_sample_rate, target_sample_rate)
    x, shape = _audio(y)
    if orig == target:
        return _finish(_copy(_rows(x, shape)), shape, y)
    n_out = check_output_size(-((-shape[-1] * target) // orig), shape[0] if len(shape) == 2 else None,
                              "target_sample_rate", target)
    y2 = _rows(x, shape)
    out = resample_rows(y2, [Fraction(target, orig)] * y2.shape[0], n_out, threads=threads)
    refuse_overflow(out, f"resampling y by {target / orig:.6g}", y2=y2, threads=threads)
    return _finish(out, shape[:-1] + (n_out,), y)


def _copy(d2):
    cuda = require_cuda()
    out = cuda.device_array(d2.shape, dtype=d2.dtype)
    if d2.size:  # (the simulator refuses to copy an empty array)
        out.copy_to_device(d2)
    return out


def zero_past(d2, lengths, *, threads=None):
    """Zero each device row past ``lengths[r]``, in place: a padded batch row's tail stays silent."""
    if d2.size:
        launch(_kernels("mix").zero_past, d2.size, threads, d2, _row_array(lengths, np.int64))
    return d2
