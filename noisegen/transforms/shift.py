"""Shift: move the audio in time, rolling it over or filling with zeros."""

from __future__ import annotations

import numpy as np

from .._core.validation import MAX_SAMPLE_RATE, MAX_SAMPLES, check_choice, check_real, show_number
from .._core.errors import ParameterError
from .._kernels.cpu import move as _move
from ..effects.level import cosine_ramp, fortran_only
from .base import Transform
from .params import draw_uniform, int_param, uniform_range

__all__ = ["Shift"]

_UNITS = ("fraction", "samples", "seconds")
#: Largest shift in each unit.
_BOUNDS = {"fraction": 1.0, "samples": float(MAX_SAMPLES), "seconds": 3600.0 * 24}
#: Largest shift in samples a draw makes: a day at the highest rate (replays must take it back).
_MAX_SHIFT_SAMPLES = max(MAX_SAMPLES, int(_BOUNDS["seconds"] * MAX_SAMPLE_RATE))


def _shift(y, shift, rollover, fade):
    """``y`` moved ``shift`` samples later (earlier when negative), with fades of ``fade`` samples
    after each edge where the moved audio meets zeros or its own other end."""
    n = y.shape[-1]
    if rollover:
        shift %= n
        edges = [(shift, True), (shift, False)] if shift else []  # the seam: fade-out before, fade-in after
    else:
        edges = [(shift, True)] if 0 < shift < n else [(n + shift, False)] if -n < shift < 0 else []
        shift = min(max(shift, -n), n)
    rise = fall = (0, 0)  # (where, how many samples) of the fade in after an edge and the fade out before one
    for at, fade_in in edges:
        # audio shorter than the fade on its side of the seam gets the part of the full ramp next to
        # the seam: a ramp squeezed into it (1-3 samples after a 1-3 sample roll) clicked
        length = max(min(fade, n - at if fade_in else at), 0)
        rise, fall = ((at, length), fall) if fade_in else (rise, (at, length))
    x = np.ascontiguousarray(y)
    out = np.empty_like(x)
    ramp = cosine_ramp(fade, 0, max(rise[1], fall[1]), y.dtype, rising=True)
    _move.shift_rows(x.reshape(-1, n), shift, rollover, ramp, *rise, *fall, out.reshape(-1, n))
    # laid out as y is, as np.roll lays it out (Fortran-order stereo came back C-ordered)
    return np.asfortranarray(out) if fortran_only(y) else out


class Shift(Transform):
    """Move the audio in time by a random amount, as audiomentations' ``Shift``.

    A positive shift moves the audio later. With ``rollover=True`` the samples
    pushed past one end come back at the other (``np.roll``); with
    ``rollover=False`` they are dropped and the gap is filled with zeros.
    Without fade (``fade_s=0``) the output is exactly
    ``np.roll(y, shift, axis=-1)`` or that roll with the wrapped part set to
    zero. With a fade, the ``fade_s`` seconds on each side of the seam
    (rollover) or of the moved audio next to the zeros (zero fill) are
    multiplied by a raised-cosine ramp, so the jump makes no click (where
    the audio on its side of the seam is shorter than the fade, it gets the
    part of the ramp next to the seam, as in audiomentations: the ramp keeps
    its slope).

    The shift is drawn uniformly in ``[min_shift, max_shift]`` in
    ``shift_unit`` and rounded to whole samples (for ``"samples"``, an
    integer is drawn). ``last_params``: ``shift_samples``.

    Parameters
    ----------
    min_shift, max_shift : float
        ``"fraction"``: of the clip's length, in [-1, 1]; ``"samples"``:
        whole samples; ``"seconds"``: seconds.
    shift_unit : {"fraction", "samples", "seconds"}
    rollover : bool
        Roll the audio around (True) or fill with zeros (False).
    fade_s : float
        Length of the fades at the edges, in seconds (0: none; the default
        is audiomentations' 5 ms).
    p : float

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import Shift
    >>> t = Shift(min_shift=2, max_shift=2, shift_unit="samples", rollover=False, fade_s=0.0, p=1.0)
    >>> t(np.arange(1.0, 6.0), sample_rate=16000, rng=0)
    array([0., 0., 1., 2., 3.])
    """

    degrades = False  # a change paired targets share

    def __init__(self, *, min_shift: float = -0.5, max_shift: float = 0.5, shift_unit: str = "fraction",
                 rollover: bool = True, fade_s: float = 0.005, p: float = 0.5):
        super().__init__(p=p)
        self.shift_unit = check_choice(shift_unit, "shift_unit", _UNITS)
        bound = _BOUNDS[self.shift_unit]
        self.min_shift, self.max_shift = uniform_range(min_shift, max_shift, "min_shift", "max_shift",
                                                       low=-bound, high=bound)
        if self.shift_unit == "samples":
            for name, value in (("min_shift", self.min_shift), ("max_shift", self.max_shift)):
                if not value.is_integer():
                    raise ParameterError(f"{name} must be a whole number of samples with shift_unit='samples', "
                                         f"got {show_number(value)}")  # (2.0000001, not 2)
            self.min_shift, self.max_shift = int(self.min_shift), int(self.max_shift)
        if not isinstance(rollover, (bool, np.bool_)):
            raise ParameterError(f"rollover must be a bool, got {rollover!r}")
        self.rollover = bool(rollover)
        self.fade_s = check_real(fade_s, "fade_s", low=0.0, high=10.0)

    def randomize(self, y, sample_rate, gen):
        if self.shift_unit == "samples":
            shift = int(gen.integers(self.min_shift, self.max_shift, endpoint=True))
        else:
            value = draw_uniform(gen, self.min_shift, self.max_shift)
            scale = y.shape[-1] if self.shift_unit == "fraction" else sample_rate
            shift = int(round(value * scale))
        return {"shift_samples": shift}

    def _param_checks(self, sample_rate):
        return {"shift_samples": int_param(-_MAX_SHIFT_SAMPLES, _MAX_SHIFT_SAMPLES)}

    def _apply(self, y, sample_rate, params):
        fade = int(round(self.fade_s * sample_rate))  # seconds_to_samples's rounding (220.5 -> 220) of checked values
        return _shift(y, params["shift_samples"], self.rollover, fade)

    def _config(self):
        return {"min_shift": self.min_shift, "max_shift": self.max_shift, "shift_unit": self.shift_unit,
                "rollover": self.rollover, "fade_s": self.fade_s, "p": self.p}
