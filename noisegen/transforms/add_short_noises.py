"""AddShortNoises: short sounds (clicks, coughs, door slams) at random times."""

from __future__ import annotations

import os

import numpy as np

from .._core.errors import ParameterError
from .._core.validation import show_value
from .._design.snr import MAX_SNR_DB, MIN_SNR_DB
from .base import Transform
from .settings import kept_setting
from .params import draw_seed, seed_param, uniform_range
from ..audio.bank import NoiseBank
from .. import effects

__all__ = ["AddShortNoises"]


class AddShortNoises(Transform):
    """Add short sounds at random times, each at its own random SNR.

    Wraps :func:`noisegen.add_short_noises` (see it for the timing, fade
    and SNR rules) with the randomness keyed by a ``seed`` drawn from
    ``rng``. ``last_params``: ``seed`` (replays the exact placement).

    Parameters
    ----------
    sounds : str, list of str, list of arrays, or NoiseBank
        A folder (recursive), a list of paths, mono arrays (at the call's
        sample rate), or a :class:`noisegen.NoiseBank`. An unreadable, empty,
        non-finite or silent file is skipped and reported once
        (NoisegenWarning), as :class:`AddBackgroundNoise` does.
    min_snr_db, max_snr_db, min_time_between_s, max_time_between_s, min_fade_s, max_fade_s : float
    p : float

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import AddShortNoises
    >>> t = AddShortNoises([np.hanning(400)], min_time_between_s=0.1, max_time_between_s=0.2, p=1.0)
    >>> y = np.random.default_rng(0).standard_normal(8000)
    >>> out = t(y, sample_rate=8000, rng=0)
    >>> out.shape, sorted(t.last_params)
    ((8000,), ['applied', 'name', 'seed'])
    """

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, sounds, *, min_snr_db: float = 0.0, max_snr_db: float = 24.0, min_time_between_s: float = 2.0,
                 max_time_between_s: float = 8.0, min_fade_s: float = 0.005, max_fade_s: float = 0.08,
                 p: float = 0.5):
        super().__init__(p=p)
        self.min_snr_db, self.max_snr_db = uniform_range(min_snr_db, max_snr_db, "min_snr_db", "max_snr_db",
                                                         low=MIN_SNR_DB, high=MAX_SNR_DB)
        self.min_time_between_s, self.max_time_between_s = uniform_range(
            min_time_between_s, max_time_between_s, "min_time_between_s", "max_time_between_s", low=0.0
        )
        self.min_fade_s, self.max_fade_s = uniform_range(min_fade_s, max_fade_s, "min_fade_s", "max_fade_s", low=0.0)
        if not isinstance(sounds, (NoiseBank, str, os.PathLike, np.ndarray, list, tuple)):
            raise ParameterError(
                f"sounds must be a folder, a list of paths, a list of arrays or a NoiseBank, got {type(sounds).__name__} "
                f"{show_value(sounds)}"
            )
        self._bank = sounds if isinstance(sounds, NoiseBank) else NoiseBank(sounds, name="sounds")

    def _sounds(self, sample_rate):
        return self._bank.at(sample_rate)

    def prepare(self, sample_rate):
        self._sounds(sample_rate)

    def randomize(self, y, sample_rate, gen):
        return {"seed": draw_seed(gen)}

    def _param_checks(self, sample_rate):
        return {"seed": seed_param()}

    def _apply(self, y, sample_rate, params):
        return effects.add_short_noises(
            y, self._sounds(sample_rate), sample_rate=sample_rate,
            min_snr_db=self.min_snr_db, max_snr_db=self.max_snr_db,
            min_time_between_s=self.min_time_between_s, max_time_between_s=self.max_time_between_s,
            min_fade_s=self.min_fade_s, max_fade_s=self.max_fade_s, rng=params["seed"],
        )

    sounds = kept_setting("The sounds' NoiseBank; assigning a source rebuilds the transform with it.")

    def _config(self):
        return {
            "sounds": self._bank, "min_snr_db": self.min_snr_db, "max_snr_db": self.max_snr_db,
            "min_time_between_s": self.min_time_between_s, "max_time_between_s": self.max_time_between_s,
            "min_fade_s": self.min_fade_s, "max_fade_s": self.max_fade_s, "p": self.p,
        }
