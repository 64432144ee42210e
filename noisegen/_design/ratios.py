"""Ratio rounding shared by the CPU and CUDA speed/pitch paths: a factor
that is a small exact fraction runs through the exact polyphase table.

A pitch shift's ratio is irrational, and the interpolating kernel it would
take weighs every output with two table rows (one dot product each). Over a
clip of ``n`` outputs a nearby fraction ``up / down`` with ``up`` at most
:data:`NEAR_MAX_PHASES` moves no output by more than :data:`NEAR_MAX_DRIFT`
input samples and the pitch by no more than :data:`NEAR_MAX_ERROR` of itself
(0.09 cents) for all but the longest clips. Both are far below what can be
heard or labelled (a 2-sample drift is 0.125 ms at 16 kHz) and tighter than
torchaudio's pitch shift, which rounds its ratio to a whole sample rate:
up to 1 / sample_rate of pitch (0.11 cents at 16 kHz), about one sample of
drift per second. :func:`near_ratio` finds the smallest such ``up``,
and its :class:`NearRatio` runs through the polyphase kernel (one dot
product per output, twelve outputs per load of a row) with the rows of the
same interpolated table blended at the phases ``j / up``: the filter is the
one the interpolating kernel would apply, three times faster on 4 s clips.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

#: Largest ``up`` (after gcd reduction) a plan handles with one exact row per phase, and the
#: largest denominator :func:`exact_ratio` tries (the two have always been one bound).
MAX_RATIONAL_PHASES = 1024
#: Most phases (table rows) of a :class:`NearRatio`: 1024 rows of ~140 float32 taps (~0.6 MB) stay in L2.
NEAR_MAX_PHASES = 1024
#: Most phases of a :class:`NearRatio` for a clip of any length; more need :data:`NEAR_OUTPUTS_PER_PHASE`
#: outputs per phase (a row costs ~0.25 us to blend, the interpolating kernel's second dot product
#: ~8 ns an output: the table is paid back twice over; 1024 phases from 4.1 s at 16 kHz).
NEAR_SHORT_PHASES = 512
NEAR_OUTPUTS_PER_PHASE = 64
#: Largest shift of an output instant (input samples) a :class:`NearRatio` may make over a clip.
NEAR_MAX_DRIFT = 2.0
#: Largest relative error of a :class:`NearRatio`'s step (5e-5: 0.09 cents of pitch), binding on
#: clips shorter than ``NEAR_MAX_DRIFT / NEAR_MAX_ERROR`` outputs (40,000).
NEAR_MAX_ERROR = 5e-5
_NEAR_BOUNDS = (16, 32, 64, 128, 256, NEAR_SHORT_PHASES, NEAR_MAX_PHASES)


class NearRatio(Fraction):
    """A fraction standing in for an irrational resampling ratio (see the module notes): its
    plan blends the rows of the interpolated table instead of designing one per phase."""

    __slots__ = ()


def best_fraction(value: float, max_denominator: int) -> tuple[int, int]:
    """``(p, q)`` of ``Fraction(value).limit_denominator(max_denominator)`` for a finite ``value > 0``:
    the same continued fraction and the same choice between its last two candidates, on plain
    ints (no Fraction objects: 2-4 us instead of 10-20, and a pitch shift takes up to seven)."""
    return next(best_fractions(value, (max_denominator,)))


def best_fractions(value: float, bounds):
    """:func:`best_fraction` of ``value`` for each of the increasing ``bounds`` in turn (a generator),
    from one continued fraction: the expansion for a larger bound runs through the same steps
    as for a smaller one, so it continues where the last stopped instead of starting over."""
    num, den = float(value).as_integer_ratio()
    n, d = num, den
    p0, q0, p1, q1 = 0, 1, 1, 0
    for max_denominator in bounds:
        if den <= max_denominator:
            yield num, den
            continue
        while True:
            a = n // d
            q2 = q0 + a * q1
            if q2 > max_denominator:
                break
            p0, q0, p1, q1 = p1, q1, p0 + a * p1, q2
            n, d = d, n - a * d
        k = (max_denominator - q0) // q1
        p, q = p0 + k * p1, q0 + k * q1
        # p1/q1 unless p/q is strictly closer to num/den (exact cross-multiplied distances)
        yield (p1, q1) if abs(p1 * den - num * q1) * q <= abs(p * den - num * q) * q1 else (p, q)


def exact_ratio(value: float):
    """``value`` as a small exact fraction when it is one (0.9 -> 9/10), else the float."""
    p, q = best_fraction(value, MAX_RATIONAL_PHASES)
    return Fraction(p, q) if abs(p / q - value) <= 1e-12 * value else value


@lru_cache(maxsize=128)
def speed_ratio(factor):
    """The resampling ratio of :func:`noisegen.speed` for ``factor`` (a Fraction when exact; kept
    per factor: a speed perturbation draws from a few)."""
    return 1 / exact_ratio(factor)


def near_ratio(ratio, n_out: int):
    """The resampling ``ratio`` (outputs per input) for a clip of ``n_out`` outputs: a Fraction
    as it is; a float as the :class:`NearRatio` with the fewest phases whose instants ``k * down / up``
    stay within :data:`NEAR_MAX_DRIFT` input samples of ``k / ratio`` for every ``k < n_out``
    and whose step ``down / up`` is within :data:`NEAR_MAX_ERROR` of ``1 / ratio`` (relative),
    or the float itself when none has at most :data:`NEAR_SHORT_PHASES` phases (or, for a clip of
    at least :data:`NEAR_OUTPUTS_PER_PHASE` outputs per phase, :data:`NEAR_MAX_PHASES`).

    Examples
    --------
    >>> near_ratio(2 ** (-2 / 12), 16000)  # a 1 s clip shifted up two semitones
    NearRatio(49, 55)
    >>> near_ratio(2 ** (-2 / 12), 10 ** 8)  # too long for any: the interpolating kernel
    0.8908987181403393
    """
    if isinstance(ratio, Fraction):
        return ratio
    step = 1.0 / ratio  # inputs per output
    allowed = min(NEAR_MAX_DRIFT / max(n_out, 1), NEAR_MAX_ERROR * step)
    fractions = best_fractions(step, _NEAR_BOUNDS)
    for bound in _NEAR_BOUNDS:
        if bound > NEAR_SHORT_PHASES and n_out < NEAR_OUTPUTS_PER_PHASE * bound:
            break  # the table would cost more than the kernel it saves
        p, q = next(fractions)  # best approximation with at most `bound` phases
        if abs(p / q - step) <= allowed:
            return NearRatio(q, p)
    return ratio
