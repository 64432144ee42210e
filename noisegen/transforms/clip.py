"""Clip: clipping distortion of a random percentage of the samples."""

from __future__ import annotations

from ..effects.level import clipped
from .base import Transform
from .params import draw_uniform, real_param, uniform_range

__all__ = ["Clip"]


class Clip(Transform):
    """Hard-clip so that a random percentage of the samples is clipped.

    The percentage is drawn uniformly in ``[min_percentile, max_percentile]``
    and passed to :func:`noisegen.clip` as ``percentile`` (the distortion of
    audiomentations' ``ClippingDistortion``). ``last_params``: ``percentile``.

    Parameters
    ----------
    min_percentile, max_percentile : float
        In [0, 99.999] (:func:`noisegen.clip` itself takes up to 100, excluded).
    p : float

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import Clip
    >>> out = Clip(min_percentile=25, max_percentile=25, p=1.0)(np.array([1.0, 2.0, 3.0, 4.0]), sample_rate=8000)
    >>> out
    array([1.  , 2.  , 3.  , 3.25])
    """

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, *, min_percentile: float = 0.0, max_percentile: float = 40.0, p: float = 0.5):
        super().__init__(p=p)
        self.min_percentile, self.max_percentile = uniform_range(
            min_percentile, max_percentile, "min_percentile", "max_percentile", low=0.0, high=99.999
        )

    def randomize(self, y, sample_rate, gen):
        return {"percentile": draw_uniform(gen, self.min_percentile, self.max_percentile)}

    def _param_checks(self, sample_rate):
        return {"percentile": real_param(0.0, 100.0, high_inclusive=False)}

    def _apply(self, y, sample_rate, params):
        return clipped(y, params["percentile"])  # (y checked by the call, the percentage drawn or checked here)

    def _config(self):
        return {"min_percentile": self.min_percentile, "max_percentile": self.max_percentile, "p": self.p}
