"""TimeMask: silence a random stretch of time."""

from __future__ import annotations

from .._core.validation import MAX_SAMPLE_RATE, MAX_SAMPLES, check_real
from ..effects.level import masked
from .base import Transform
from .params import draw_uniform, seconds_param, uniform_range

__all__ = ["TimeMask"]


class TimeMask(Transform):
    """Silence a stretch whose length is a random fraction of the signal.

    The fraction is drawn uniformly in ``[min_fraction, max_fraction]``, the
    start uniformly among the positions where the stretch fits; wraps
    :func:`noisegen.time_mask` (raised-cosine fades of ``fade_s``).
    ``last_params``: ``start_s``, ``duration_s``.

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import TimeMask
    >>> t = TimeMask(min_fraction=0.5, max_fraction=0.5, fade_s=0.0, p=1.0)
    >>> out = t(np.ones(100), sample_rate=100, rng=0)
    >>> int((out == 0).sum())
    50
    """

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, *, min_fraction: float = 0.0, max_fraction: float = 0.2, fade_s: float = 0.005, p: float = 0.5):
        super().__init__(p=p)
        self.min_fraction, self.max_fraction = uniform_range(
            min_fraction, max_fraction, "min_fraction", "max_fraction", low=0.0, high=1.0
        )
        # a fade time_mask takes at every sample rate (at most MAX_SAMPLES samples at the highest)
        self.fade_s = check_real(fade_s, "fade_s", low=0.0, high=MAX_SAMPLES / MAX_SAMPLE_RATE)

    def randomize(self, y, sample_rate, gen):
        n = y.shape[-1]
        length = int(round(draw_uniform(gen, self.min_fraction, self.max_fraction) * n))
        start = int(gen.integers(0, n - length + 1)) if n > length else 0
        return {"start_s": start / sample_rate, "duration_s": length / sample_rate}

    def _param_checks(self, sample_rate):
        return {"start_s": seconds_param(sample_rate), "duration_s": seconds_param(sample_rate)}

    def _apply(self, y, sample_rate, params):
        # (y checked by the call; the times drawn here or checked by _param_checks, and counted in samples
        # as noisegen.time_mask counts them)
        return masked(y, _samples(params["start_s"], sample_rate), _samples(params["duration_s"], sample_rate),
                      _samples(self.fade_s, sample_rate))

    def _config(self):
        return {"min_fraction": self.min_fraction, "max_fraction": self.max_fraction, "fade_s": self.fade_s, "p": self.p}


def _samples(seconds, sample_rate):
    """``check_duration``'s sample count of checked seconds."""
    return int(round(seconds * sample_rate))
