"""Unit conversions: decibels and seconds <-> samples.

One rounding rule is used everywhere a duration becomes a sample count:
Python's :func:`round` (half to even), the same rule that defines the output
length ``round(n / rate)`` of the time and speed effects.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "db_to_amplitude",
    "amplitude_to_db",
    "db_to_power",
    "power_to_db",
    "seconds_to_samples",
    "samples_to_seconds",
]


def db_to_amplitude(value_db):
    """Amplitude (voltage) ratio of a level in dB: ``10 ** (value_db / 20)``.

    Examples
    --------
    >>> round(float(db_to_amplitude(-6.0206)), 4)
    0.5
    """
    return np.power(10.0, np.asarray(value_db, dtype=np.float64) / 20.0)[()]


def amplitude_to_db(value, *, floor=1e-20):
    """Level in dB of an amplitude ratio: ``20 * log10(max(|value|, floor))``."""
    return 20.0 * np.log10(np.maximum(np.abs(np.asarray(value, dtype=np.float64)), floor))[()]


def db_to_power(value_db):
    """Power ratio of a level in dB: ``10 ** (value_db / 10)``."""
    return np.power(10.0, np.asarray(value_db, dtype=np.float64) / 10.0)[()]


def power_to_db(value, *, floor=1e-30):
    """Level in dB of a power ratio: ``10 * log10(max(value, floor))``."""
    return 10.0 * np.log10(np.maximum(np.asarray(value, dtype=np.float64), floor))[()]


def seconds_to_samples(duration_s: float, sample_rate: int) -> int:
    """Number of samples in ``duration_s`` seconds: ``round(duration_s * sample_rate)``.

    Examples
    --------
    >>> seconds_to_samples(0.5, 16000)
    8000
    """
    return int(round(float(duration_s) * int(sample_rate)))


def samples_to_seconds(n_samples: int, sample_rate: int) -> float:
    """Duration in seconds of ``n_samples`` samples."""
    return int(n_samples) / int(sample_rate)

