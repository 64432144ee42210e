"""Unit conversions: decibels and seconds <-> samples.

One rounding rule is used everywhere a duration becomes a sample count:
Python's :func:`round` (half to even), the same rule that defines the output
length ``round(n / rate)`` of the time and speed effects.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ParameterError
from .validation import check_real, check_real_array, check_sample_rate, show_value

__all__ = [
    "GAIN_DB_RANGE",
    "db_to_amplitude",
    "amplitude_to_db",
    "db_to_power",
    "power_to_db",
    "seconds_to_samples",
    "samples_to_seconds",
]


#: Gains (dB) that :func:`noisegen.gain` applies: the one range of its CPU and CUDA paths, of
#: :func:`noisegen.augment_batch` and of :class:`noisegen.Gain`'s ranges.
GAIN_DB_RANGE = (-120.0, 120.0)


def db_to_amplitude(value_db):
    """Amplitude (voltage) ratio of a level in dB: ``10 ** (value_db / 20)``.

    Examples
    --------
    >>> round(float(db_to_amplitude(-6.0206)), 4)
    0.5
    """
    return _ratio(value_db, 20.0)


def amplitude_to_db(value, *, floor=1e-20):
    """Level in dB of an amplitude ratio: ``20 * log10(max(|value|, floor))``."""
    floor = check_real(floor, "floor", low=0.0, low_inclusive=False)
    return 20.0 * np.log10(np.maximum(np.abs(check_real_array(value, "value")), floor))[()]


def db_to_power(value_db):
    """Power ratio of a level in dB: ``10 ** (value_db / 10)``."""
    return _ratio(value_db, 10.0)


def _ratio(value_db, db_per_decade):
    """``10 ** (value_db / db_per_decade)``; a finite level whose ratio is past float64's range
    is a ParameterError (NumPy would give inf with a RuntimeWarning). NaN and inf map as in NumPy."""
    # A float within 300 decades (NaN is not) cannot overflow: NumPy's power at once, without the
    # array checks below (5 us, as long as a Gain's pass over a second of audio)
    if type(value_db) is float and -300.0 < value_db / db_per_decade < 300.0:
        return np.power(10.0, value_db / db_per_decade)
    level = check_real_array(value_db, "value_db")
    with np.errstate(over="ignore"):
        ratio = np.power(10.0, level / db_per_decade)
    overflowed = np.isinf(ratio) & np.isfinite(level)
    if overflowed.any():
        top = math.floor(db_per_decade * math.log10(np.finfo(np.float64).max) * 100.0) / 100.0  # rounded down
        raise ParameterError(
            f"value_db must be at most {top:g} dB (the ratio is past float64's range), got {show_value(value_db)}"
        )
    return ratio[()]


def power_to_db(value, *, floor=1e-30):
    """Level in dB of a power ratio: ``10 * log10(max(value, floor))``."""
    floor = check_real(floor, "floor", low=0.0, low_inclusive=False)
    return 10.0 * np.log10(np.maximum(check_real_array(value, "value"), floor))[()]


def seconds_to_samples(duration_s: float, sample_rate: int) -> int:
    """Number of samples in ``duration_s`` seconds: ``round(duration_s * sample_rate)``.

    Examples
    --------
    >>> seconds_to_samples(0.5, 16000)
    8000
    """
    return to_samples(duration_s, sample_rate, "duration_s")


def to_samples(seconds: float, sample_rate: int, name: str, *, of_file: bool = False) -> int:
    """:func:`seconds_to_samples` of the argument ``name`` (errors name it: ``offset_s``, ...).

    ``of_file``: ``sample_rate`` is a file's, from its header (a positive int), and may be above the
    768 kHz a ``sample_rate`` argument may be; checked as one, an offset into a 1 MHz recording was
    refused as 'sample_rate must be ... got 1000000' when the caller's sample_rate was 16000.
    """
    rate = int(sample_rate) if of_file else check_sample_rate(sample_rate)
    samples = check_real(seconds, name) * rate
    if not math.isfinite(samples):
        raise ParameterError(f"{name} {seconds!r} at {sample_rate} Hz is beyond any sample count")
    return int(round(samples))


def samples_to_seconds(n_samples: int, sample_rate: int) -> float:
    """Duration in seconds of ``n_samples`` samples (a whole number) at ``sample_rate`` Hz."""
    n = check_real(n_samples, "n_samples")
    if n != int(n):
        raise ParameterError(f"n_samples must be a whole number, got {show_value(n_samples)}")
    return int(n) / check_sample_rate(sample_rate)

