"""Ratio rounding shared by the CPU and CUDA speed/pitch paths: a factor
that is a small exact fraction runs through the exact polyphase table."""

from __future__ import annotations

from fractions import Fraction


def exact_ratio(value: float):
    """``value`` as a small exact fraction when it is one (0.9 -> 9/10), else the float."""
    frac = Fraction(value).limit_denominator(1024)
    return frac if abs(float(frac) - value) <= 1e-12 * value else value


def speed_ratio(factor):
    """The resampling ratio of :func:`noisegen.speed` for ``factor`` (a Fraction when exact)."""
    return 1 / exact_ratio(factor)
