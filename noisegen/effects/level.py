"""Simple sample-wise effects: gain, clipping, bit crushing, time masking.

Each takes audio ``y`` (``(n,)`` or ``(n_channels, n)``, float32/float64),
returns a new array of the same shape and dtype, and takes
``backend="auto"`` (``"cuda"`` for a CUDA array, else ``"cpu"``) or an
explicit ``"cpu"``/``"cuda"``.

A result that does not fit the dtype (``gain(1e38 in float32, gain_db=120)``)
raises :class:`~noisegen.ParameterError` saying it overflowed, never returns
inf. ``clip`` and ``time_mask`` never raise ``|y|``, so they cannot overflow.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .._core.backend import resolve_backend
from .._core.validation import (check_audio, check_duration, check_finite_output, check_int, check_real,
                                 check_sample_rate, nonfinite_error, warn_mostly_clipped)
from .._core.units import GAIN_DB_RANGE, db_to_amplitude
from .._kernels.cpu import level as _level
from .._gpu.ops import cuda_bitcrush, cuda_clip, cuda_gain, cuda_time_mask

__all__ = ["gain", "clip", "bitcrush", "time_mask"]

#: Per dtype: the integers of its width, the mask that clears the sign bit, the bits of inf (a magnitude's
#: bits at or above them are inf or NaN).
_MAGNITUDE_BITS = {np.dtype(np.float32): (np.int32, np.int32(0x7FFFFFFF), 0x7F800000),
                   np.dtype(np.float64): (np.int64, np.int64(0x7FFFFFFFFFFFFFFF), 0x7FF0000000000000)}


def max_magnitude(x):
    """``max |x|`` of a C-contiguous float32/float64 array as a float (0.0 when empty): inf or
    NaN when ``x`` holds inf or NaN, so one pass both checks and measures it (no temporary:
    ~0.07 ns a float32 sample, a third of ``np.sum``'s time and two thirds of ``np.isfinite``'s)."""
    ints, mask, _ = _MAGNITUDE_BITS[x.dtype]
    bits = _level.max_magnitude_bits(x.reshape(-1).view(ints), mask)
    return float(ints(bits).view(x.dtype))


def all_finite(y):
    """Whether float32/float64 audio ``y`` holds no NaN or inf: :func:`max_magnitude`'s integer pass, compared
    with the bits of inf, where ``y`` is contiguous (2.5 us for a second of float32 audio, 4 us for four, against
    3.3 and 8.6 us for ``np.isfinite(y).all()``, which a transform's every call ran), else NumPy's."""
    x = y if y.flags.c_contiguous else y.T if y.flags.f_contiguous else None
    if x is None:
        return bool(np.isfinite(y).all())
    ints, mask, inf = _MAGNITUDE_BITS[x.dtype]
    return _level.max_magnitude_bits(x.reshape(-1).view(ints), mask) < inf


def divided(y, first, second, factor):
    """``y / first / second * factor`` computed in float64 and rounded to ``y``'s dtype (floats ``first``,
    ``second``, ``factor``; dividing by 1.0 is exact), in ``y``'s memory order: one pass, where NumPy's
    expression made three float64 temporaries (a Normalize of a second of float32 audio spent 15 us in it)."""
    return _elementwise(_level.divide, y, float(first), float(second), float(factor))[0]


def fortran_only(y):
    """Whether ``y`` (2-D or more) is laid out in Fortran order and not in C order: the order NumPy's ufuncs
    and np.roll keep, and noisegen's one-pass kernels over C-ordered samples must give back."""
    return y.ndim > 1 and y.flags.f_contiguous and not y.flags.c_contiguous


def _elementwise(kernel, y, *args):
    """``(out, result)``: ``result = kernel(x, *args, out)`` run over the samples of ``y`` as one contiguous row,
    ``out`` laid out as ``y`` is, as NumPy's ufuncs lay it out (a Fortran-order ``y`` runs as its transpose,
    which is C-ordered: no copy; a Shift or BitCrush of Fortran-order stereo came back C-ordered)."""
    transposed = fortran_only(y)
    x = np.ascontiguousarray(y.T if transposed else y)
    out = np.empty_like(x)
    result = kernel(x.reshape(-1), *args, out.reshape(-1))
    return (out.T if transposed else out), result


def gain(y, *, gain_db, backend="auto"):
    """Multiply audio by ``10 ** (gain_db / 20)``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)], float32 or float64
    gain_db : float
        Gain in dB, in [-120, 120]. No clipping is applied (see :func:`clip`).
    backend : {"auto", "cpu", "cuda"}
        "auto" runs on the GPU when ``y`` is a CUDA array (numba, CuPy, PyTorch), else on the CPU.

    Returns
    -------
    np.ndarray, same shape and dtype as ``y``

    Raises
    ------
    ParameterError
        When the result overflows the dtype (a gain above 0 dB on a huge input).

    Examples
    --------
    >>> import numpy as np
    >>> gain(np.ones(3, dtype=np.float32), gain_db=-6.0206)
    array([0.5, 0.5, 0.5], dtype=float32)
    """
    if resolve_backend(backend, y, supports_cuda=True) == "cuda":
        return cuda_gain(y, gain_db=gain_db)
    y = check_audio(y, "y", finite=False)  # finiteness from the output's sum, in the same pass
    return gained(y, check_real(gain_db, "gain_db", low=GAIN_DB_RANGE[0], high=GAIN_DB_RANGE[1]))


def gained(y, g):
    """:func:`gain` of checked audio ``y`` (finite or not: a NaN/inf sample is refused here) by a checked gain
    ``g`` in dB (a float in ``GAIN_DB_RANGE``): what a transform calls with a gain it drew (the checks cost a
    third of a call on a second of audio)."""
    out, total = _elementwise(_level.scale, y, y.dtype.type(db_to_amplitude(g)))
    total = float(total)
    if not math.isfinite(total):
        if not np.isfinite(y).all():
            raise nonfinite_error(y, "y")
        check_finite_output(out, f"gain_db={g:g}", y=y, total=total)
    return out


def clip(y, *, threshold=1.0, percentile=None, backend="auto"):
    """Hard-clip audio to ``[-threshold, threshold]``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)], float32 or float64
    threshold : float
        Clipping level (> 0), used when ``percentile`` is None. The default
        1.0 is the full scale of a PCM file.
    percentile : float or None
        When given, the level is chosen so that this percentage of the
        samples (by magnitude, over all channels) is clipped: the
        ``100 - percentile`` percentile of ``|y|`` (in [0, 100); the
        distortion of audiomentations' ``ClippingDistortion``).
    backend : {"auto", "cpu", "cuda"}
        "auto" runs on the GPU when ``y`` is a CUDA array (numba, CuPy, PyTorch), else on the CPU.

    Returns
    -------
    np.ndarray, same shape and dtype as ``y``

    Warns
    -----
    NoisegenWarning
        When more than half the samples are clipped by an explicit
        ``threshold`` (probably a threshold in the wrong unit).

    Examples
    --------
    >>> import numpy as np
    >>> clip(np.array([-2.0, 0.5, 0.25, 3.0]))
    array([-1.  ,  0.5 ,  0.25,  1.  ])
    >>> clip(np.array([1.0, 2.0, 3.0, 4.0]), percentile=25.0)
    array([1.  , 2.  , 3.  , 3.25])
    """
    if resolve_backend(backend, y, supports_cuda=True) == "cuda":
        return cuda_clip(y, threshold=threshold, percentile=percentile)
    y = check_audio(y, "y")
    if percentile is not None:
        p = check_real(percentile, "percentile", low=0.0, high=100.0, high_inclusive=False)
        return y.copy() if y.size == 0 else clipped(y, p)
    # a level past the dtype's largest value clips nothing; cast, it would overflow (with a warning)
    level = min(check_real(threshold, "threshold", low=0.0, low_inclusive=False), float(np.finfo(y.dtype).max))
    warn_mostly_clipped(y, level, stacklevel=2)
    return np.clip(y, -level, level).astype(y.dtype, copy=False)


def clipped(y, percentile):
    """:func:`clip` of checked finite non-empty audio ``y`` at a checked ``percentile`` (a float in [0, 100)):
    what a transform calls with a percentage it drew."""
    level = _magnitude_percentile(y, 100.0 - percentile)
    return np.clip(y, -level, level).astype(y.dtype, copy=False)


def _magnitude_percentile(y, q):
    """``float(np.percentile(np.abs(y), q))`` (linear interpolation) of non-empty finite ``y``, bit for bit,
    from one partition: np.percentile partitioned at four ranks (0, n - 1 and the two around ``q``), which
    NumPy does 7-10x slower than at one (110-160 us against 17 us for a second of audio). The two order
    statistics are interpolated as np.percentile interpolates them (:func:`_interpolate`)."""
    a = np.abs(y).reshape(-1)
    n = a.size
    virtual = (n - 1) * (q / 100)  # np.percentile's rank: (n - 1) * np.true_divide(q, 100), in float64
    if virtual >= n - 1:
        return float(a.max())  # (np.percentile takes its largest value, whatever the weight)
    below = math.floor(virtual)
    a.partition(below)
    return _interpolate(a[below], a[below + 1:].min(), virtual - below)  # (the ranks below and below + 1)


def _interpolate(low, high, t):
    """``float(np.quantile([low, high], t))`` for order statistics ``low <= high`` (NumPy scalars of one dtype)
    and a weight ``t`` in [0, 1): NumPy's linear interpolation, written out where the installed NumPy computes
    it so (in the samples' dtype, the weight a weak Python float; 50 us for np.quantile's machinery around
    two values), else through np.quantile (NumPy 1.x interpolates a float32 pair in float64)."""
    if _lerp_as_written(low.dtype):
        diff = high - low
        return float(high - diff * (1 - t) if t >= 0.5 else low + diff * t)
    return float(np.quantile(np.array([low, high]), t))


@functools.lru_cache(maxsize=None)
def _lerp_as_written(dtype):
    """Whether :func:`_interpolate`'s formula gives np.quantile's bits for ``dtype`` (checked once a process)."""
    rng = np.random.default_rng(0)
    pairs = np.sort(rng.standard_normal((64, 2)) * 10.0 ** rng.uniform(-30, 30, (64, 1)), axis=1).astype(dtype)
    for (low, high), t in zip(pairs, rng.uniform(0, 1, 64).tolist()):
        diff = high - low
        if float(high - diff * (1 - t) if t >= 0.5 else low + diff * t) != float(np.quantile(np.array([low, high]), t)):
            return False
    return True


def bitcrush(y, *, bit_depth, backend="auto"):
    """Quantise audio to the grid of a ``bit_depth``-bit PCM file.

    Samples are rounded to the nearest multiple of ``2 ** -(bit_depth - 1)``
    (the step of signed ``bit_depth``-bit PCM with full scale 1.0); no
    clipping is applied.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)], float32 or float64
    bit_depth : int
        In [1, 32].
    backend : {"auto", "cpu", "cuda"}
        "auto" runs on the GPU when ``y`` is a CUDA array (numba, CuPy, PyTorch), else on the CPU.

    Returns
    -------
    np.ndarray, same shape and dtype as ``y``

    Examples
    --------
    >>> import numpy as np
    >>> bitcrush(np.array([0.1, 0.3, -0.8]), bit_depth=2)
    array([ 0. ,  0.5, -1. ])
    """
    if resolve_backend(backend, y, supports_cuda=True) == "cuda":
        return cuda_bitcrush(y, bit_depth=bit_depth)
    y = check_audio(y, "y")
    return crushed(y, check_int(bit_depth, "bit_depth", low=1, high=32))


def crushed(y, bits):
    """:func:`bitcrush` of checked finite audio ``y`` to a checked depth ``bits`` (an int in [1, 32]): what a
    transform calls with a depth it drew. One pass (NumPy's ``np.round(y * scale) / scale`` took four, with
    three temporaries, and a sum to find overflowed samples); finite for finite ``y``, as a sample whose
    ``y * scale`` overflows is kept as it is."""
    step = 2.0 ** (bits - 1)
    return _elementwise(_level.crush, y, y.dtype.type(step), y.dtype.type(1.0 / step))[0]


def time_mask(y, *, start_s, duration_s, sample_rate, fade_s=0.005, backend="auto"):
    """Silence a stretch of time, with short raised-cosine fades at its edges.

    Samples ``[start, start + length)`` (from ``seconds_to_samples``) are
    multiplied by a window that fades from 1 to 0 over the first ``fade``
    samples of the stretch, stays 0, and fades back to 1 over its last
    ``fade`` samples (the fades are shortened to half the stretch when it is
    short). A stretch running past the end is cut there.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)], float32 or float64
    start_s, duration_s : float
        Start and length of the masked stretch, in seconds (>= 0, at most
        ``noisegen._core.validation.MAX_SAMPLES`` (2**31) samples long).
    sample_rate : int
    fade_s : float
        Length of each fade (default 5 ms, same range); 0 gives a hard mask.
    backend : {"auto", "cpu", "cuda"}
        "auto" runs on the GPU when ``y`` is a CUDA array (numba, CuPy, PyTorch), else on the CPU.

    Returns
    -------
    np.ndarray, same shape and dtype as ``y``

    Examples
    --------
    >>> import numpy as np
    >>> out = time_mask(np.ones(100), start_s=0.002, duration_s=0.0004, sample_rate=10000, fade_s=0)
    >>> out[18:26]
    array([1., 1., 0., 0., 0., 0., 1., 1.])
    """
    if resolve_backend(backend, y, supports_cuda=True) == "cuda":
        return cuda_time_mask(y, start_s=start_s, duration_s=duration_s, sample_rate=sample_rate, fade_s=fade_s)
    y = check_audio(y, "y")
    sample_rate = check_sample_rate(sample_rate)
    start = check_duration(start_s, "start_s", sample_rate)
    length = check_duration(duration_s, "duration_s", sample_rate)
    fade = check_duration(fade_s, "fade_s", sample_rate)
    return masked(y, start, length, fade)


def masked(y, start, length, fade):
    """:func:`time_mask` of checked finite audio ``y`` with the stretch and fade in samples (ints >= 0): what
    a transform calls with a stretch it drew. Only the part of the window inside the signal is made (a
    ``fade`` of 2**30 samples built 8 GiB of ramp for a short input), and applied in one pass."""
    out = y.copy()
    keep = min(start + length, y.shape[-1]) - start
    if keep <= 0:
        return out
    fade = min(fade, length // 2)
    tail = length - fade  # where the 0 -> 1 fade starts
    head = cosine_ramp(fade, 0, min(fade, keep), y.dtype)
    ramp_back = cosine_ramp(fade, length - keep, fade, y.dtype) if tail < keep else head[:0]
    _level.mask_span(out.reshape(-1, y.shape[-1]), start, head, min(tail, keep), ramp_back)
    return out


#: Fades up to this many samples (0.34 s at 48 kHz) keep their whole ramp in :func:`_whole_ramp`'s cache.
_CACHED_FADE = 2**14


def cosine_ramp(fade, lo, hi, dtype, *, rising=False):
    """Samples ``[lo, hi)`` of the raised-cosine ``fade``-sample ramp from 1 to 0 (``rising``: from 0 to 1), in
    ``dtype``, strictly between 0 and 1: only that part made for a long fade (TimeMask's and Shift's fades)."""
    if fade <= _CACHED_FADE:
        return _whole_ramp(fade, dtype, rising)[lo:hi]
    return _ramp_at(np.arange(lo, hi), fade, rising).astype(dtype)


@functools.lru_cache(maxsize=32)  # (a transform's fade is one length a sample rate)
def _whole_ramp(fade, dtype, rising):
    return _ramp_at(np.arange(fade), fade, rising).astype(dtype)


def _ramp_at(j, fade, rising):
    """The raised-cosine ramp over ``fade`` samples at the sample indices ``j``, each direction from its own
    formula (one read backwards as the other would differ from it in the last bit)."""
    c = np.cos(np.pi * (j + 0.5) / fade)
    return 0.5 - 0.5 * c if rising else 0.5 + 0.5 * c
