"""Argument checks shared by every public function.

Each check either returns the cleaned value or raises
:class:`~noisegen.ParameterError` with a message of the form
``"<name> must be <what was expected>, got <value>"``. Public functions call
these once, at the boundary; kernels never validate.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
import reprlib
import warnings

import numpy as np

from .errors import NoisegenWarning, ParameterError, ParameterIndexError
from .layout import CHANNELS_LAST_LIMIT, looks_channels_last, pcm_hint

__all__ = [
    "check_audio",
    "check_audio_shape",
    "has_cuda_interface",
    "check_sample_rate",
    "check_real",
    "check_real_array",
    "check_int",
    "check_index",
    "check_choice",
    "check_float_dtype",
    "check_probability",
    "check_range",
    "check_n_channels",
    "check_n_samples",
    "check_output_size",
    "check_duration",
    "check_rate_factor",
    "resamplable",
    "out_of_reach",
    "check_reach",
    "MAX_SAMPLES",
    "MAX_CHANNELS",
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
    "MAX_RATE_FACTOR",
    "CHANNELS_LAST_LIMIT",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Documented ranges of size-like arguments (README "Conventions"). They are
# refused before anything is allocated, so a typo cannot exhaust memory.

#: Largest output of any call, in samples over all channels (8 GiB of float32).
MAX_SAMPLES = 2**31
#: Largest ``n_channels`` a generator accepts (2**20: batches of short noises).
MAX_CHANNELS = 2**20
#: Accepted sample rates, Hz: 1 Hz to 768 kHz (the highest rate PCM hardware uses).
MIN_SAMPLE_RATE = 1
MAX_SAMPLE_RATE = 768_000
#: Rates and factors (time-stretch rate, speed factor, pitch ratio, resampling ratio) lie in
#: ``[1 / MAX_RATE_FACTOR, MAX_RATE_FACTOR]``: the resampler's filter grows with the downsampling factor.
MAX_RATE_FACTOR = 256


class _BoundedRepr(reprlib.Repr):
    def repr_int(self, x, level):
        try:
            return super().repr_int(x, level)
        except ValueError:  # more digits than int-to-str converts (sys.get_int_max_str_digits(), 4300)
            return f"<an int of about {int(x.bit_length() * math.log10(2)) + 1} digits>"


_REPR = _BoundedRepr()  # bounded: a hostile nested value must not make a huge message
_REPR.maxstring = _REPR.maxother = 80


def show_value(value) -> str:
    text = _REPR.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def show_at_least(bound: float, digits: int = 3, *, most: bool = False) -> str:
    """A lower bound (> 0) shown to ``digits`` significant digits, rounded up (``most``: an upper bound,
    rounded down): the value an error names as the least (most) accepted is accepted (0.05882 shown as
    0.0588 was refused when passed back)."""
    text = f"{bound:.{digits}g}"
    if (float(text) > bound) if most else (float(text) < bound):
        step = 10.0 ** (math.floor(math.log10(bound)) - digits + 1)
        text = f"{float(text) + (-step if most else step):.{digits}g}"
    return text


def has_cuda_interface(x, name: str | None = None) -> bool:
    """Whether ``x`` has ``__cuda_array_interface__`` (numba, CuPy, torch CUDA tensors). A torch CUDA tensor
    that requires grad raises RuntimeError for it (as for ``.numpy()``): a ParameterError naming ``name``."""
    try:
        return hasattr(x, "__cuda_array_interface__")
    except (RuntimeError, KeyError) as exc:  # (hasattr passes on all but AttributeError; KeyError: torch's float8)
        shown = name or "an array argument"
        if getattr(x, "requires_grad", False):  # the kernels are not differentiable: a result would be cut off
            raise ParameterError(f"{shown} is a CUDA tensor that requires grad; noisegen's kernels are not "
                                 f"differentiable: pass {name or 'the tensor'}.detach()") from None
        raise ParameterError(f"{shown} cannot be read as a CUDA array of dtype {getattr(x, 'dtype', None)} "
                             f"(noisegen takes float32 or float64): {type(exc).__name__}: {exc}") from None


def check_audio(y, name: str = "y", *, allow_empty: bool = True, max_ndim: int = 2, finite: bool = True) -> np.ndarray:
    """Validate an audio array: float32/float64, time on the last axis, finite.

    Returns ``y`` as a numpy array of the same dtype (no copy when possible; a
    big-endian or other non-native float32/float64 array comes back as a
    native-order copy, which callers must use in place of ``y``).
    Integer PCM is refused with a pointer to :func:`noisegen.load`.
    ``finite=False`` leaves the NaN/inf check to the caller, which must raise
    :func:`nonfinite_error` itself (e.g. after finding a non-finite output).
    """
    if not isinstance(y, np.ndarray):
        if has_cuda_interface(y, name):
            raise ParameterError(  # (transforms take no backend: pointing only at backend= misled)
                f"{name} is a CUDA array, and this call runs on the CPU: a function with a CUDA kernel takes it "
                "with backend='cuda' or 'auto'; transforms and the rest take a NumPy array (copy it to the host "
                "first: .cpu().numpy(), .get() or .copy_to_host()); noisegen.cuda.augment_batch augments a batch "
                "on the GPU")
        if isinstance(y, (list, tuple)):
            try:
                y = np.asarray(y)
            except (TypeError, ValueError):  # ragged rows: NumPy cannot make one array of them
                raise ParameterError(f"{name} must be a float array or a list of equally long rows of numbers, "
                                     f"got {show_value(y)}") from None
            if y.dtype.kind in "iu":
                y = y.astype(np.float64)
        else:
            grad = ".detach()" if getattr(y, "requires_grad", False) is True else ""  # (.numpy() refuses it)
            hint = f" (a tensor on the CPU: pass {name}{grad}.numpy())" if callable(getattr(y, "numpy", None)) else ""
            shown = "" if hint else f" {show_value(y)}"  # (the value too: "got float" of a NaN said half of it)
            raise ParameterError(f"{name} must be a numpy float array, got {type(y).__name__}{shown}{hint}")
    elif type(y) is not np.ndarray:  # a memmap or other subclass: a plain view, so every output is an ndarray
        y = np.asarray(y)
    if y.dtype.kind in "iub":  # (bool: no PCM to scale, so no hint)
        raise ParameterError(f"{name} must be float32 or float64 audio, got "
                             + ("dtype bool" if y.dtype.kind == "b" else f"integer dtype {y.dtype}{pcm_hint(y.dtype, name)}"))
    if y.dtype not in _FLOAT_DTYPES:  # off the fast path: native arrays pay nothing for the byte-order look
        if y.dtype.kind == "f" and not y.dtype.isnative:  # e.g. read from a big-endian file
            y = y.astype(y.dtype.newbyteorder("="))
        if y.dtype not in _FLOAT_DTYPES:
            raise ParameterError(f"{name} must be float32 or float64 audio, got dtype {y.dtype}")
    check_audio_shape(y.shape, name, allow_empty=allow_empty, max_ndim=max_ndim)
    if finite and y.size and not np.isfinite(y).all():
        raise nonfinite_error(y, name)
    return y


def check_audio_shape(shape: tuple, name: str = "y", *, allow_empty: bool = True, max_ndim: int = 2) -> tuple:
    """:func:`check_audio`'s rules for the shape alone (also for a CUDA array, whose samples stay on the device)."""
    shape = tuple(shape)
    if len(shape) < 1 or len(shape) > max_ndim:
        expected = {1: "shape (n_samples,)", 2: "shape (n_samples,) or (n_channels, n_samples)"}.get(
            max_ndim, f"1 to {max_ndim} axes")
        raise ParameterError(f"{name} must have {expected}, got shape {shape}")
    if looks_channels_last(shape):  # (not within a transform: noisegen._core.layout)
        raise ParameterError(
            f"{name} has shape {shape}: {shape[0]} channels of {shape[1]} samples looks like a "
            f"channels-last (samples, channels) array; noisegen wants (channels, samples) with time on "
            f"the last axis: pass {name}.T (arrays with more than {CHANNELS_LAST_LIMIT} channels must "
            "have at least as many samples as channels)"
        )
    if len(shape) == 2 and shape[0] == 0:
        raise ParameterError(f"{name} must have at least one channel, got shape {shape}")
    if not allow_empty and shape[-1] == 0:
        raise ParameterError(f"{name} must hold at least one sample, got shape {shape}")
    return shape


def check_real_array(value, name: str, expected: str = "a real number or an array of them") -> np.ndarray:
    """``value`` (a number or any array-like of them) as a float64 array, NaN and inf kept.

    Refused, where ``np.asarray(value, dtype=np.float64)`` would not fail: complex values
    (NumPy drops the imaginary part with a ComplexWarning), ``None`` (NumPy makes it NaN),
    bools and strings of digits. ``expected`` completes "<name> must be ...".
    """
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # ragged nesting
        raise ParameterError(f"{name} must be {expected}, got {show_value(value)}") from None
    if arr.dtype.kind == "c":
        raise ParameterError(f"{name} must be real, got complex values: {show_value(value)}")
    # bools are no numbers here, as in check_real; an object array may hold Fractions or mixed ints
    numeric = arr.dtype.kind in "iuf" or (
        arr.dtype.kind == "O" and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in arr.flat))
    if not numeric or (isinstance(value, (list, tuple)) and _holds_bool(value)):  # [1.0, True]: floats to NumPy
        raise ParameterError(f"{name} must be {expected}, got {show_value(value)}")
    try:
        return arr.astype(np.float64, copy=False)
    except OverflowError:  # an integer past float64's range
        raise ParameterError(f"{name} must be {expected} within float64's range, got {show_value(value)}") from None


def _holds_bool(value) -> bool:
    """Whether nested lists and tuples hold a bool (NumPy makes ``[1.0, True]`` a float array)."""
    return any(isinstance(v, (bool, np.bool_)) or (isinstance(v, (list, tuple)) and _holds_bool(v)) for v in value)


def nonfinite_error(y, name: str = "y") -> ParameterError:
    """The error :func:`check_audio` raises for an array holding NaN or inf."""
    bad = int(np.size(y) - np.count_nonzero(np.isfinite(y)))
    return ParameterError(f"{name} must be finite, got {bad} NaN/inf sample(s)")


def check_sample_rate(sample_rate, name: str = "sample_rate") -> int:
    """An integer number of samples per second in ``[MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]``
    (1 Hz to 768 kHz; floats equal to an integer pass)."""
    if type(sample_rate) is int and MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        return sample_rate  # the common case first: a stream checks a rate ~17 times per item
    expected = f"an integer in Hz in [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}]"
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise ParameterError(f"{name} must be {expected}, got {show_value(sample_rate)}")
    try:
        whole = isinstance(sample_rate, numbers.Integral) or (
            math.isfinite(sample_rate) and sample_rate == int(sample_rate))
    except OverflowError:  # a Fraction past float64's range (an int past it is Integral: refused below)
        whole = False
    if not whole or not MIN_SAMPLE_RATE <= int(sample_rate) <= MAX_SAMPLE_RATE:  # (int: a float16 compared
        # with 768000 casts the bound to float16, which overflows with a RuntimeWarning)
        raise ParameterError(f"{name} must be {expected}, got {show_value(sample_rate)}")
    return int(sample_rate)


def check_output_size(n_out, n_channels, name: str, value) -> int:
    """Refuse an output of ``n_out`` samples per channel (``n_channels`` rows, None for mono)
    above :data:`MAX_SAMPLES` over all channels; ``name=value`` is the argument that sized it."""
    rows = 1 if n_channels is None else n_channels
    if n_out * rows > MAX_SAMPLES:
        shape = show_value((n_out,) if n_channels is None else (n_channels, n_out))
        total = f"{n_out * rows:,}" if n_out * rows < 10**30 else show_value(n_out * rows)
        raise ParameterError(
            f"{name}={show_value(value)} would make an output of shape {shape} ({total} samples); "
            f"the limit is {MAX_SAMPLES:,} samples over all channels (noisegen._core.validation.MAX_SAMPLES)"
        )
    return n_out


def check_n_samples(n_samples, name: str = "n_samples", *, n_channels=None) -> int:
    """A sample count ``>= 0`` whose output (over ``n_channels``) stays within :data:`MAX_SAMPLES`."""
    n = check_int(n_samples, name, low=0)
    return check_output_size(n, n_channels, name, n_samples)


def check_duration(duration_s, name: str, sample_rate: int, *, n_channels=None) -> int:
    """A duration ``>= 0`` in seconds as a sample count (``round(duration_s * sample_rate)``),
    refused when it exceeds :data:`MAX_SAMPLES` over ``n_channels``."""
    seconds = check_real(duration_s, name, low=0.0)
    if seconds * sample_rate > MAX_SAMPLES:  # before round(): 1e300 s must not become a huge int
        rows = 1 if n_channels is None else n_channels
        raise ParameterError(
            f"{name}={show_value(duration_s)} s is {seconds * sample_rate:.3g} samples at {sample_rate} Hz; "
            f"the limit is {MAX_SAMPLES // rows:,} samples (noisegen._core.validation.MAX_SAMPLES)"
        )
    return check_output_size(int(round(seconds * sample_rate)), n_channels, name, duration_s)


def resamplable(orig_sample_rate: int, target_sample_rate: int) -> bool:
    """Whether :func:`noisegen.resample` can go between the two rates: both at most ``MAX_SAMPLE_RATE`` and
    their ratio in ``[1 / MAX_RATE_FACTOR, MAX_RATE_FACTOR]``."""
    high, low = max(orig_sample_rate, target_sample_rate), min(orig_sample_rate, target_sample_rate)
    return high <= MAX_SAMPLE_RATE and high <= MAX_RATE_FACTOR * low


def out_of_reach(rate: int, sample_rate: int) -> str | None:
    """Why audio at ``rate`` (a file's, a bank's, an item's) cannot be resampled to ``sample_rate``, naming
    both and the rates it can go to (None: :func:`resamplable`, or a rate below 1, left to the rate checks):
    resample's own refusal names arguments ("target_sample_rate / orig_sample_rate") never passed."""
    if rate < 1 or rate == sample_rate or resamplable(rate, sample_rate):  # (the same rate: nothing to resample)
        return None
    if rate > MAX_SAMPLE_RATE:
        return f"at {rate} Hz, above the {MAX_SAMPLE_RATE} Hz noisegen.resample takes"
    low, high = -(-rate // MAX_RATE_FACTOR), min(rate * MAX_RATE_FACTOR, MAX_SAMPLE_RATE)
    return (f"at {rate} Hz, too far from {sample_rate} Hz: noisegen.resample changes a rate by at most "
            f"{MAX_RATE_FACTOR}x (sample_rate must be in [{low}, {high}] for it)")


def check_reach(rate: int, sample_rate: int, what: str) -> int:
    """``rate``, or a ParameterError saying ``what`` (a file, an item, a bank) is :func:`out_of_reach`."""
    why = out_of_reach(rate, sample_rate)
    if why:
        raise ParameterError(f"{what} is {why}")
    return rate


def check_rates(orig_sample_rate, target_sample_rate):
    """Both rates, each in the range of ``check_sample_rate``, with their ratio in
    ``[1 / MAX_RATE_FACTOR, MAX_RATE_FACTOR]`` (the filter grows with the downsampling factor)."""
    orig = check_sample_rate(orig_sample_rate, "orig_sample_rate")
    target = check_sample_rate(target_sample_rate, "target_sample_rate")
    if not resamplable(orig, target):
        raise ParameterError(
            f"target_sample_rate / orig_sample_rate must be in [1/{MAX_RATE_FACTOR}, {MAX_RATE_FACTOR}], "
            f"got {target} / {orig}; resample in two steps for a larger change"
        )
    return orig, target


def check_rate_factor(value, name: str) -> float:
    """A rate or factor in ``[1 / MAX_RATE_FACTOR, MAX_RATE_FACTOR]`` (time-stretch rate, speed factor)."""
    return check_real(value, name, low=1.0 / MAX_RATE_FACTOR, high=float(MAX_RATE_FACTOR))


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
        raise ParameterError(f"{name} must be a finite real number, got {show_value(value)}")
    try:
        value = float(value)
    except OverflowError:  # an integer past float64's range (a JSON literal of 400 digits)
        raise ParameterError(f"{name} must be a real number within float64's range, got {show_value(value)}") from None
    if not math.isfinite(value):
        raise ParameterError(f"{name} must be a finite real number, got {value}")
    bad_low = low is not None and (value < low if low_inclusive else value <= low)
    bad_high = high is not None and (value > high if high_inclusive else value >= high)
    if bad_low or bad_high:
        lo, hi = "-inf" if low is None else show_number(low, value), "inf" if high is None else show_number(high, value)
        interval = ("[" if low_inclusive and low is not None else "(") + f"{lo}, {hi}" + (
            "]" if high_inclusive and high is not None else ")")  # an unbounded side is open: inf is refused above
        raise ParameterError(f"{name} must be in {interval}, got {show_number(value)}")
    return value + 0.0  # -0.0 as 0.0: numpy's uniform(0.0, -0.0) raises, though the range is one point


def show_number(value: float, refused: float | None = None) -> str:
    """``value`` as ``:g`` writes it, or in full where that rounds it onto a bound, or a bound onto ``refused``."""
    text = f"{value:g}"
    shown = float(text) == value or (refused is not None and (float(text) - refused) * (value - refused) > 0)
    return text if shown else repr(value)


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """An integer (bools refused), optionally inside ``[low, high]``."""
    given = value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and _is_whole(value):
            value = int(value)
        else:
            raise ParameterError(f"{name} must be an integer, got {show_value(value)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        shown = show_value(given if isinstance(given, float) else value)  # 1e308, not its 309 digits
        interval = ("[" if low is not None else "(") + f"{lo}, {hi}" + ("]" if high is not None else ")")
        raise ParameterError(f"{name} must be an integer in {interval}, got {shown}")
    return value


def _is_whole(value) -> bool:
    """Whether a real number that is not an int is a whole number (a Fraction past float64's range too)."""
    try:
        return float(value).is_integer()
    except OverflowError:
        return value == int(value)


def check_index(index, name: str, length: int) -> int:
    """A sequence index in ``[-length, length)`` (negative counts from the end), as one in ``[0, length)``.

    Not an integer: :class:`ParameterError`. Out of range:
    :class:`~noisegen._core.errors.ParameterIndexError`, which is also an
    :class:`IndexError`, so iteration through ``__getitem__`` stops there.
    """
    index = check_int(index, name)
    if not -length <= index < length:
        raise ParameterIndexError(f"{name} must be an integer in [{-length}, {length - 1}], got {index}")
    return index % length


def check_choice(value, name: str, choices):
    """One of a fixed set of values (usually strings)."""
    # an array (or any unhashable value) is never a choice: ``value in choices`` would compare elementwise
    if not isinstance(value, (str, bytes, numbers.Number, type(None))) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ParameterError(f"{name} must be one of {options}; got {show_value(value)}")
    return value


def check_sequence(value, name: str):
    """A sequence of items: as it is when it has a length and indexing (a list, a tuple, a
    :class:`~noisegen.NoiseBank`), else an iterable's items as a list; a string, a mapping or a
    scalar is refused."""
    if isinstance(value, (str, bytes, dict)) or getattr(value, "ndim", None) == 0:  # (a 0-d array has no len)
        raise ParameterError(f"{name} must be a list or tuple, got {show_value(value)}")
    if hasattr(value, "__len__") and hasattr(value, "__getitem__"):
        return value
    if not isinstance(value, Iterable):
        raise ParameterError(f"{name} must be a list or tuple, got {show_value(value)}")
    return list(value)


def check_recordings(value, name: str):
    """:func:`check_sequence` of recordings (arrays, or a NoiseBank); one 1-D array of numbers is one
    recording, as :class:`~noisegen.NoiseBank` takes it (as a sequence, each of its numbers would
    be a recording)."""
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype != object:
        return [value]
    return check_sequence(value, name)


def check_path(value, name: str = "path") -> str:
    """A file system path (str, bytes or os.PathLike) as a str."""
    if not isinstance(value, (str, bytes, os.PathLike)):
        raise ParameterError(f"{name} must be a path (str or os.PathLike), got {show_value(value)}")
    text = str(os.fsdecode(value))  # an np.str_ as a str: os.scandir lists an np.str_ folder's names as bytes
    if "\x00" in text:  # the OS cannot name it; Python's calls raise a bare ValueError
        raise ParameterError(f"{name} must be a path without NUL bytes, got {show_value(text)}")
    return text


def check_bool(value, name: str) -> bool:
    """A bool (``np.bool_`` too): a flag given anything else (an array, ``"no"``, 0) is refused, not read as truthy."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name} must be True or False, got {show_value(value)}")
    return bool(value)


def check_float_dtype(dtype, name: str = "dtype") -> np.dtype:
    """``np.float32`` or ``np.float64`` (a type, dtype or name ``np.dtype`` understands as one; not None,
    which NumPy reads as float64, nor a value such as ``np.float32(1)``, which it reads as its type)."""
    if not isinstance(dtype, (type, np.dtype, str)):
        raise ParameterError(f"{name} must be float32 or float64, got {show_value(dtype)}")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ParameterError(f"{name} must be float32 or float64, got {show_value(dtype)}") from None
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
        raise ParameterError(f"{min_name} must be <= {max_name}, got {min_name}={show_number(lo)} > "
                             f"{max_name}={show_number(hi)}")  # (in full where :g would show them equal)
    return lo, hi


def check_n_channels(n_channels, name: str = "n_channels"):
    """``None`` (mono, shape ``(n,)``) or a channel count in ``[1, MAX_CHANNELS]`` (shape ``(c, n)``)."""
    if n_channels is None:
        return None
    return check_int(n_channels, name, low=1, high=MAX_CHANNELS)


def warn_mostly_clipped(y, level: float, *, stacklevel: int) -> None:
    """One NoisegenWarning when clipping host audio ``y`` at an explicit ``level`` clips more than half
    of its samples: probably a threshold in the wrong unit."""
    if y.size and np.count_nonzero(np.abs(y) > level) > y.size // 2:
        warnings.warn(f"clip(threshold={level:g}) clips more than half of the samples", NoisegenWarning,
                      stacklevel=stacklevel + 1)


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
    if total is None:  # in out's dtype (float32 sums 2x sooner); a sum that overflows only costs the look below
        with np.errstate(over="ignore", invalid="ignore"):
            total = float(np.sum(out)) if np.size(out) else 0.0
    if math.isfinite(total) or np.isfinite(out).all():
        return out
    dtype = np.asarray(out).dtype
    peak = ""
    if y is not None and np.size(y):
        peak = f" (peak {float(np.max(np.abs(y))):.3g})"
    raise ParameterError(f"{what} overflows {dtype} for this input{peak}: the result is out of {dtype}'s range")
