"""Drawing a transform's parameters and checking recorded ones: the helpers every transform uses.

``randomize`` draws with :func:`draw_uniform` and :func:`draw_seed` from
ranges checked by :func:`uniform_range`; ``_param_checks`` maps each
recorded key to a check built here (``check(value, name) -> clean value``),
which :meth:`noisegen.transforms.base.Transform.apply_params` runs on
replayed parameters.
"""

from __future__ import annotations

import math
import numbers

from .._core.errors import ParameterError
from .._core.validation import check_duration, check_int, check_range, check_rate_factor, check_real
from .._design.sections import check_freq

__all__ = ["SEED_BOUND", "uniform_range", "int_range", "draw_uniform", "draw_seed", "real_param", "int_param", "index_param",
           "seed_param", "rate_param", "frequency_param", "seconds_param"]

#: Upper bound (exclusive) of the ``seed`` ints transforms draw for effects.
SEED_BOUND = 1 << 63


def uniform_range(min_value, max_value, min_name, max_name, *, low=None, high=None):
    """Validated ``(min, max)`` for a uniform draw (``min <= max``).

    ``low`` and ``high`` are what the transform's apply path accepts (the
    bounds of its ``_param_checks``), so a range that passes here never draws
    a value the effect then refuses. A span too wide to draw from
    (``max - min`` overflows float64) is refused too.
    """
    lo, hi = check_range(min_value, max_value, min_name, max_name, low=low, high=high)
    if not math.isfinite(hi - lo):
        raise ParameterError(f"{max_name} - {min_name} must be a finite float64, got {hi:g} - ({lo:g}): "
                             "a uniform draw cannot span it")
    return lo, hi


def int_range(min_value, max_value, min_name, max_name, *, low, high):
    """Validated integer ``(min, max)`` (each in ``[low, high]``, ``min <= max``) for an integer draw."""
    lo = check_int(min_value, min_name, low=low, high=high)
    hi = check_int(max_value, max_name, low=low, high=high)
    uniform_range(lo, hi, min_name, max_name)
    return lo, hi


def draw_uniform(gen, low: float, high: float) -> float:
    """One uniform draw in ``[low, high]`` as a Python float (exact when equal): what ``gen.uniform(low, high)``
    computes, ``low + (high - low) * gen.random()``, bit for bit and advancing ``gen`` as far, without its
    argument handling (1.2 us of a 1.6 us draw, a transform's every call)."""
    low, high = float(low), float(high)
    if low == high:
        return low
    span = high - low
    if not math.isfinite(span):  # (numpy's own OverflowError)
        return float(gen.uniform(low, high))
    return low + span * gen.random()


def draw_seed(gen) -> int:
    """A seed for the randomness inside an effect, recorded in ``last_params``."""
    return int(gen.integers(0, SEED_BOUND))


# Checks of recorded parameters, for ``_param_checks``: each returns ``check(value, name)``.


def real_param(low=None, high=None, **bounds):
    """A finite real, optionally in ``[low, high]`` (``check_real``'s keywords)."""
    return lambda value, name: check_real(value, name, low=low, high=high, **bounds)


def int_param(low=None, high=None):
    """An integer, optionally in ``[low, high]``."""
    return lambda value, name: check_int(value, name, low=low, high=high)


def index_param(count):
    """An index into a collection of ``count`` items."""
    return int_param(0, count - 1)


#: Floats from here on are not all integers' exact images: a seed past it held as a float has lost digits.
_FLOAT_EXACT_BOUND = 1 << 53


def seed_param():
    """A seed as :func:`draw_seed` records it: an int in ``[0, SEED_BOUND)``.

    A whole float is taken below 2**53 only (as ``check_int`` takes ``2.0``): a seed drawn in ``[0, 2**63)``
    that went through a float (a float64 column, JavaScript) was rounded to 53 bits, and replayed other
    randomness with no error.
    """
    check = int_param(0, SEED_BOUND - 1)

    def check_seed(value, name):
        if (isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)
                and abs(value) >= _FLOAT_EXACT_BOUND):
            raise ParameterError(f"{name} must be an integer (a seed as recorded), got the float {value!r}: a float "
                                 f"of 2**53 or more has lost the seed's low digits (keep seeds as ints)")
        return check(value, name)
    return check_seed


def rate_param():
    """A rate or factor in ``[1 / MAX_RATE_FACTOR, MAX_RATE_FACTOR]``."""
    return check_rate_factor


def frequency_param(sample_rate):
    """A frequency the filters take at ``sample_rate`` (``FREQ_MARGIN`` of it away from 0 and from Nyquist;
    ``(0, sample_rate / 2)`` let a replay through that the filter then refused, naming another range)."""
    return lambda value, name: check_freq(value, name, sample_rate)


def seconds_param(sample_rate):
    """A time in seconds, ``>= 0`` and at most ``MAX_SAMPLES`` samples."""
    def check(value, name):
        check_duration(value, name, sample_rate)
        return float(value)
    return check
