"""Normalize: set the peak or RMS level to a random target in dBFS."""

from __future__ import annotations

import math

import numpy as np

from .._core.validation import check_choice
from .._core.labels import warn
from ..effects.level import divided, max_magnitude
from .base import Transform
from .params import draw_uniform, real_param, uniform_range

__all__ = ["Normalize"]

#: Targets are limited to this range of dBFS (beyond it float32 audio loses its meaning).
TARGET_DB_RANGE = (-120.0, 60.0)
#: The smallest normal float64: a level below it has lost bits (or is 0), and is used in its parts.
_TINY = float(np.finfo(np.float64).tiny)


def level_parts(y, mode):
    """``(peak, rel)``: the peak or RMS of ``y`` over all channels is ``peak * rel`` (float64, ``0 < rel <= 1``
    unless ``y`` is silent). Kept apart because the product can underflow where the parts do not: the RMS of
    float64 audio with one sample at 5e-324 and the rest silent is not a float."""
    peak = max_magnitude(np.ascontiguousarray(y))  # (np.max(np.abs(y)) in one pass, without |y|)
    if mode == "peak" or peak == 0.0:
        return peak, 1.0
    # squares of 1e-200 underflow, of 1e200 overflow; in C order, as a copy of y is summed (a Fortran-order
    # y was summed in another order: a replay on a copy differed by an ulp)
    scaled = y.astype(np.float64, order="C") / peak
    return peak, math.sqrt(float(np.mean(scaled * scaled)))


def measure_level(y, mode):
    """Peak or RMS of ``y`` over all channels (float64, no underflow or overflow of the squares)."""
    peak, rel = level_parts(y, mode)
    return peak * rel


def _scale(y, parts, target_db):
    """``y`` times ``10**(target_db / 20) / (peak * rel)`` (``parts``: :func:`level_parts`), in float64, back in
    ``y``'s dtype."""
    peak, rel = parts
    current = peak * rel
    # divide first: 10**3 / 5e-324 overflows, samples / current does not; one part at a time where the level
    # is subnormal or underflows (it has lost bits, or is 0)
    first, second = (current, 1.0) if current >= _TINY else (peak, rel)
    return divided(y, first, second, 10.0 ** (target_db / 20.0))


class Normalize(Transform):
    """Scale the audio so that its peak or RMS level is a random target in dBFS.

    The target is drawn uniformly in ``[min_target_db, max_target_db]``
    (dB re full scale 1.0) and hit to float rounding (well within 0.01 dB
    in float32). One factor scales all channels, measured over all of them
    (the balance between channels is kept). Nothing is clipped: a target
    above 0 dBFS gives samples above 1.0. The defaults peak-normalise to
    0 dBFS, as audiomentations' ``Normalize``; with ``mode="rms"`` a range
    like -30 to -15 dBFS suits speech.

    A silent input has no level to scale: it comes back unchanged (a copy)
    with a :class:`~noisegen.NoisegenWarning`, as in :func:`noisegen.mix_at_snr`.
    ``last_params``: ``target_db``.

    Parameters
    ----------
    mode : {"peak", "rms"}
        Level measured as the largest ``|sample|`` or as the root mean square.
    min_target_db, max_target_db : float
        In [-120, 60] dBFS.
    p : float

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import Normalize
    >>> t = Normalize(mode="peak", min_target_db=-6.0206, max_target_db=-6.0206, p=1.0)
    >>> np.round(t(np.array([0.1, -0.2, 0.05]), sample_rate=16000, rng=0), 4)
    array([ 0.25 , -0.5  ,  0.125])
    """

    degrades = False  # a change paired targets share

    def __init__(self, *, mode: str = "peak", min_target_db: float = 0.0, max_target_db: float = 0.0,
                 p: float = 0.5):
        super().__init__(p=p)
        self.mode = check_choice(mode, "mode", ("peak", "rms"))
        self.min_target_db, self.max_target_db = uniform_range(
            min_target_db, max_target_db, "min_target_db", "max_target_db",
            low=TARGET_DB_RANGE[0], high=TARGET_DB_RANGE[1])

    def randomize(self, y, sample_rate, gen):
        return {"target_db": draw_uniform(gen, self.min_target_db, self.max_target_db)}

    def _param_checks(self, sample_rate):
        return {"target_db": real_param(*TARGET_DB_RANGE)}

    def _apply(self, y, sample_rate, params):
        parts = level_parts(y, self.mode)
        if parts[0] == 0.0:
            warn(f"Normalize: the input is silent, so no {self.mode} level can be set; "
                 "it is returned unchanged")
            return y.copy()
        return _scale(y, parts, params["target_db"])

    def _target_step(self, y, out, target, sample_rate, params, mode):
        # the target gets the factor that set the augmented signal's level
        if not params["applied"] or y.shape[-1] == 0:
            return target
        parts = level_parts(y, self.mode)
        return target.copy() if parts[0] == 0.0 else _scale(target, parts, params["target_db"])

    def _config(self):
        return {"mode": self.mode, "min_target_db": self.min_target_db, "max_target_db": self.max_target_db,
                "p": self.p}
