"""TimeStretch: change tempo, keep pitch."""

from __future__ import annotations

from .base import Transform
from .params import draw_uniform, rate_param, uniform_range
from .. import effects

__all__ = ["TimeStretch"]


class TimeStretch(Transform):
    """Time-stretch by a rate drawn uniformly in ``[min_rate, max_rate]``.

    Wraps :func:`noisegen.time_stretch` (WSOLA); the output has
    ``round(n / rate)`` samples. ``last_params``: ``rate``.

    Parameters
    ----------
    min_rate, max_rate : float
        Rates in [0.05, 20] (> 1 is faster/shorter).
    p : float
    """

    degrades = False  # a change paired targets share

    def __init__(self, *, min_rate: float = 0.8, max_rate: float = 1.25, p: float = 0.5):
        super().__init__(p=p)
        self.min_rate, self.max_rate = uniform_range(min_rate, max_rate, "min_rate", "max_rate", low=0.05, high=20.0)

    def randomize(self, y, sample_rate, gen):
        return {"rate": draw_uniform(gen, self.min_rate, self.max_rate)}

    def _param_checks(self, sample_rate):
        return {"rate": rate_param()}

    def _apply(self, y, sample_rate, params):
        return effects.time_stretch(y, rate=params["rate"], sample_rate=sample_rate)

    def _output_length(self, n, sample_rate, params):
        return round(n / params["rate"])

    def _target_step(self, y, out, target, sample_rate, params, mode):
        # spliced where the augmented signal was, so the target stays aligned with it
        if not params["applied"] or y.shape[-1] == 0:
            return target
        return effects.time_stretch(target, rate=params["rate"], sample_rate=sample_rate, guide=y)

    def _config(self):
        return {"min_rate": self.min_rate, "max_rate": self.max_rate, "p": self.p}
