"""PitchShift: change pitch, keep length."""

from __future__ import annotations

import math

from .._core.validation import MAX_RATE_FACTOR
from .base import Transform
from .params import draw_uniform, real_param, uniform_range
from .. import effects

__all__ = ["PitchShift"]


class PitchShift(Transform):
    """Shift the pitch by ``n_steps`` semitones drawn in ``[min_semitones, max_semitones]``.

    Wraps :func:`noisegen.pitch_shift`; the length is kept.
    ``last_params``: ``n_steps``.

    Parameters
    ----------
    min_semitones, max_semitones : float
        In [-48, 48] (four octaves either way).
    p : float
    """

    degrades = False  # a change paired targets share

    def __init__(self, *, min_semitones: float = -4.0, max_semitones: float = 4.0, p: float = 0.5):
        super().__init__(p=p)
        self.min_semitones, self.max_semitones = uniform_range(
            min_semitones, max_semitones, "min_semitones", "max_semitones", low=-48.0, high=48.0
        )

    def randomize(self, y, sample_rate, gen):
        return {"n_steps": draw_uniform(gen, self.min_semitones, self.max_semitones)}

    def _param_checks(self, sample_rate):
        steps = 12 * math.log2(MAX_RATE_FACTOR)  # pitch_shift's range in semitones
        return {"n_steps": real_param(-steps, steps)}

    def _apply(self, y, sample_rate, params):
        return effects.pitch_shift(y, sample_rate=sample_rate, n_steps=params["n_steps"])

    def _target_step(self, y, out, target, sample_rate, params, mode):
        # spliced where the augmented signal was, so the target stays aligned with it
        if not params["applied"] or y.shape[-1] == 0:
            return target
        return effects.pitch_shift(target, sample_rate=sample_rate, n_steps=params["n_steps"], guide=y)

    def _config(self):
        return {"min_semitones": self.min_semitones, "max_semitones": self.max_semitones, "p": self.p}
