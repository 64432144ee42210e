"""Resample: band-limit by a round trip through a random lower sample rate."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .._core.validation import MAX_RATE_FACTOR
from .._design.ratios import MAX_RATIONAL_PHASES, NearRatio
from ..effects.resample import resample_to_length as _resample_to_length
from .base import Transform
from .params import int_param, int_range

__all__ = ["Resample"]

#: Highest rate :func:`noisegen.resample` accepts.
_MAX_RATE = 768_000
#: Most phases (``up`` of the reduced ratio) of a leg run through the resampler's own design for
#: that ratio. A drawn rate meets a new ratio on most calls, and a ratio of up to
#: ``MAX_RATIONAL_PHASES`` phases was designed for that one call: 0.2-3 s (an equiripple
#: ``remez``, up to 1024 table rows) and up to 2 MB on disk each, ~1,100 of them over 8-16 kHz
#: at 16 kHz. Past this bound a leg blends the rows of the shared interpolated Kaiser table at
#: its exact phases instead (:class:`~noisegen._design.ratios.NearRatio`, what a pitch shift runs):
#: the same ratio and instants, the same band edges (cut-off rounded down by at most 0.36 %).
EXACT_PHASES = 64


def leg_ratio(orig: int, target: int) -> Fraction:
    """The ratio one leg of the round trip runs through (see :data:`EXACT_PHASES`)."""
    ratio = Fraction(target, orig)
    if EXACT_PHASES < ratio.numerator <= MAX_RATIONAL_PHASES:
        return NearRatio(ratio)
    return ratio


class Resample(Transform):
    """Resample to a random rate and back: removes everything above that rate's Nyquist.

    The audio goes through the resampler of :func:`noisegen.resample` to an
    integer rate drawn uniformly in ``[min_sample_rate, max_sample_rate]``
    and back to the call's rate, cut to the input's length (the resampler is
    zero-phase, so the output stays aligned); a leg whose ratio has more than
    :data:`EXACT_PHASES` phases takes the rows of the resampler's shared
    interpolated table, not a design of its own for that one call. Content below 0.9 of the drawn rate's Nyquist
    frequency passes (flat within 0.03 dB); content above it is removed (at
    least 80 dB down). A drawn rate at or above the call's rate leaves the
    audio unchanged (a copy); one below ``sample_rate / 256`` (the
    resampler's limit) is raised to it. Unlike audiomentations' ``Resample``
    the output keeps the call's sample rate (use :func:`noisegen.resample`
    to change it). ``last_params``: ``intermediate_sample_rate``.

    Parameters
    ----------
    min_sample_rate, max_sample_rate : int
        Rates in Hz, in [1, 768000].
    p : float

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import Resample
    >>> t = Resample(min_sample_rate=8000, max_sample_rate=8000, p=1.0)
    >>> y = np.sin(2 * np.pi * 6000 * np.arange(1600) / 16000)  # above 4 kHz: removed
    >>> out = t(y, sample_rate=16000, rng=0)
    >>> out.shape, bool(np.abs(out[400:-400]).max() < 1e-3)
    ((1600,), True)
    """

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, *, min_sample_rate: int = 8000, max_sample_rate: int = 16000, p: float = 0.5):
        super().__init__(p=p)
        self.min_sample_rate, self.max_sample_rate = int_range(
            min_sample_rate, max_sample_rate, "min_sample_rate", "max_sample_rate", low=1, high=_MAX_RATE)

    def randomize(self, y, sample_rate, gen):
        rate = int(gen.integers(self.min_sample_rate, self.max_sample_rate, endpoint=True))
        return {"intermediate_sample_rate": max(rate, -(-sample_rate // MAX_RATE_FACTOR))}

    def _param_checks(self, sample_rate):
        return {"intermediate_sample_rate": int_param(-(-sample_rate // MAX_RATE_FACTOR), _MAX_RATE)}

    def _apply(self, y, sample_rate, params):
        rate = params["intermediate_sample_rate"]
        if rate >= sample_rate:
            return y.copy()
        n = y.shape[-1]
        low = _resample_to_length(y, leg_ratio(sample_rate, rate), -(-n * rate // sample_rate))
        back = _resample_to_length(low, leg_ratio(rate, sample_rate), -(-low.shape[-1] * sample_rate // rate))
        return np.ascontiguousarray(back[..., :n])

    def _config(self):
        return {"min_sample_rate": self.min_sample_rate, "max_sample_rate": self.max_sample_rate, "p": self.p}
