"""Argument checks shared by every public function.

Each check either returns the cleaned value or raises
:class:`~noisegen.errors.ParameterError` with a message of the form
``"<name> must be <what was expected>, got <value>"``. Public functions call
these once, at the boundary; kernels never validate.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import ParameterError

__all__ = [
    "check_audio",
    "check_sample_rate",
    "check_real",
    "check_int",
    "check_choice",
    "check_float_dtype",
    "check_probability",
    "check_range",
    "check_n_channels",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _fmt(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_audio(y, name: str = "y", *, allow_empty: bool = True, max_ndim: int = 2, finite: bool = True) -> np.ndarray:
    """Validate an audio array: float32/float64, time on the last axis, finite.

    Returns ``y`` as a numpy array of the same dtype (no copy when possible).
    Integer PCM is refused with a pointer to :func:`noisegen.load`.
    ``finite=False`` leaves the NaN/inf check to the caller, which must raise
    :func:`nonfinite_error` itself (e.g. after finding a non-finite output).
    """
    if not isinstance(y, np.ndarray):
        if hasattr(y, "__cuda_array_interface__"):
            raise ParameterError(
                f"{name} is a CUDA array; pass backend='cuda' or 'auto' to a function that supports it"
            )
        if isinstance(y, (list, tuple)):
            y = np.asarray(y)
            if y.dtype.kind in "iu":
                y = y.astype(np.float64)
        else:
            raise ParameterError(f"{name} must be a numpy float array, got {type(y).__name__}")
    if y.dtype.kind in "iub":
        raise ParameterError(
            f"{name} must be float32 or float64 audio, got integer dtype {y.dtype}; "
            "load files with noisegen.load(...) or convert with y.astype(np.float32) / 32768"
        )
    if y.dtype not in _FLOAT_DTYPES:
        raise ParameterError(f"{name} must be float32 or float64 audio, got dtype {y.dtype}")
    if y.ndim < 1 or y.ndim > max_ndim:
        expected = "(n_samples,) or (n_channels, n_samples)" if max_ndim == 2 else f"at most {max_ndim} axes"
        raise ParameterError(f"{name} must have shape {expected}, got shape {y.shape}")
    if not allow_empty and y.shape[-1] == 0:
        raise ParameterError(f"{name} must hold at least one sample, got shape {y.shape}")
    if finite and y.size and not np.isfinite(y).all():
        raise nonfinite_error(y, name)
    return y


def nonfinite_error(y, name: str = "y") -> ParameterError:
    """The error :func:`check_audio` raises for an array holding NaN or inf."""
    bad = int(np.size(y) - np.count_nonzero(np.isfinite(y)))
    return ParameterError(f"{name} must be finite, got {bad} NaN/inf sample(s)")


def check_sample_rate(sample_rate, name: str = "sample_rate") -> int:
    """A positive integer number of samples per second (floats equal to an integer pass)."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise ParameterError(f"{name} must be a positive integer in Hz, got {_fmt(sample_rate)}")
    if not math.isfinite(sample_rate) or sample_rate != int(sample_rate) or sample_rate <= 0:
        raise ParameterError(f"{name} must be a positive integer in Hz, got {_fmt(sample_rate)}")
    return int(sample_rate)


def check_real(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_none: bool = False,
):
    """A finite real number, optionally inside ``[low, high]`` (bounds inclusive by default)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name} must be a finite real number, got {_fmt(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ParameterError(f"{name} must be a finite real number, got {value}")
    bad_low = low is not None and (value < low if low_inclusive else value <= low)
    bad_high = high is not None and (value > high if high_inclusive else value >= high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = ("[" if low_inclusive else "(") + f"{lo}, {hi}" + ("]" if high_inclusive else ")")
        raise ParameterError(f"{name} must be in {interval}, got {value:g}")
    return value


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """An integer (bools refused), optionally inside ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer():
            value = int(value)
        else:
            raise ParameterError(f"{name} must be an integer, got {_fmt(value)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise ParameterError(f"{name} must be an integer in [{lo}, {hi}], got {value}")
    return value


def check_choice(value, name: str, choices):
    """One of a fixed set of values (usually strings)."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ParameterError(f"{name} must be one of {options}; got {_fmt(value)}")
    return value


def check_float_dtype(dtype, name: str = "dtype") -> np.dtype:
    """``np.float32`` or ``np.float64`` (anything ``np.dtype`` understands as one)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ParameterError(f"{name} must be float32 or float64, got {_fmt(dtype)}") from None
    if dt not in _FLOAT_DTYPES:
        raise ParameterError(f"{name} must be float32 or float64, got {dt}")
    return dt


def check_probability(p, name: str = "p") -> float:
    """A probability in ``[0, 1]``."""
    return check_real(p, name, low=0.0, high=1.0)


def check_range(min_value, max_value, min_name: str, max_name: str, *, low=None, high=None):
    """A ``(min, max)`` pair of reals with ``min <= max``, each inside ``[low, high]``."""
    lo = check_real(min_value, min_name, low=low, high=high)
    hi = check_real(max_value, max_name, low=low, high=high)
    if lo > hi:
        raise ParameterError(f"{min_name} must be <= {max_name}, got {min_name}={lo:g} > {max_name}={hi:g}")
    return lo, hi


def check_n_channels(n_channels, name: str = "n_channels"):
    """``None`` (mono, shape ``(n,)``) or a positive channel count (shape ``(c, n)``)."""
    if n_channels is None:
        return None
    return check_int(n_channels, name, low=1)


def check_finite_output(out, what: str, *, y=None, total=None):
    """Raise :class:`ParameterError` when an effect turned finite input into NaN/inf (an overflow).

    Call it on the output of a function whose input was already checked to be
    finite. ``total`` is any reduction of ``out`` that is NaN or inf when a
    sample is (a kernel's sum of its outputs); without it the sum is taken
    here, in one pass without a temporary. Only a non-finite ``total`` (also
    given by a sum that overflows on its own) leads to a per-sample look.
    ``what`` names the argument, e.g. ``"gain_db=120"``; ``y`` (the input)
    adds its peak to the message. Returns ``out``.
    """
    if total is None:
        with np.errstate(over="ignore", invalid="ignore"):
            total = float(np.sum(out, dtype=np.float64)) if np.size(out) else 0.0
    if math.isfinite(total) or np.isfinite(out).all():
        return out
    dtype = np.asarray(out).dtype
    peak = ""
    if y is not None and np.size(y):
        peak = f" (peak {float(np.max(np.abs(y))):.3g})"
    raise ParameterError(f"{what} overflows {dtype} for this input{peak}: the result is out of {dtype}'s range")
