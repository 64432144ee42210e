"""Gain: multiply by a random level in dB."""

from __future__ import annotations

from .._core.units import GAIN_DB_RANGE
from ..effects.level import gained
from .base import Transform
from .params import draw_uniform, real_param, uniform_range

__all__ = ["Gain"]


class Gain(Transform):
    """Change the level by a gain drawn uniformly in ``[min_gain_db, max_gain_db]``.

    Both in [-120, 120], the gains :func:`noisegen.gain` applies (it wraps
    that). ``last_params``: ``gain_db``.

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import Gain
    >>> t = Gain(min_gain_db=-6.0, max_gain_db=-6.0, p=1.0)
    >>> out = t(np.ones(3), sample_rate=16000, rng=0)
    >>> round(float(out[0]), 4), t.last_params["gain_db"]
    (0.5012, -6.0)
    """

    degrades = False  # a change paired targets share

    def __init__(self, *, min_gain_db: float = -12.0, max_gain_db: float = 12.0, p: float = 0.5):
        super().__init__(p=p)
        self.min_gain_db, self.max_gain_db = uniform_range(min_gain_db, max_gain_db, "min_gain_db", "max_gain_db",
                                                           low=GAIN_DB_RANGE[0], high=GAIN_DB_RANGE[1])

    def randomize(self, y, sample_rate, gen):
        return {"gain_db": draw_uniform(gen, self.min_gain_db, self.max_gain_db)}

    def _param_checks(self, sample_rate):
        return {"gain_db": real_param(*GAIN_DB_RANGE)}

    def _apply(self, y, sample_rate, params):
        return gained(y, params["gain_db"])  # (y checked by the call, the gain drawn or checked here)

    def _config(self):
        return {"min_gain_db": self.min_gain_db, "max_gain_db": self.max_gain_db, "p": self.p}
