"""AddBackgroundNoise: mix a real noise recording at a random SNR."""

from __future__ import annotations

import contextlib
import os

import numpy as np

from .._core.validation import show_value, check_choice
from .._core.labels import about, warn
from .._core.errors import ParameterError
from ..audio.bank import NoiseBank
from .._design.snr import MAX_SNR_DB, MIN_SNR_DB
from .base import Transform, nested_from_dict
from .settings import kept_setting
from .params import draw_uniform, index_param, int_param, real_param, uniform_range
from .normalize import measure_level
from .shape import SignalShape
from .. import effects

__all__ = ["AddBackgroundNoise"]

#: Range of ``min_absolute_rms_db`` / ``max_absolute_rms_db``, dBFS.
ABSOLUTE_DB_RANGE = (-120.0, 60.0)


class AddBackgroundNoise(Transform):
    """Mix a random noise from a collection at an SNR drawn in ``[min_snr_db, max_snr_db]``.

    Wraps :func:`noisegen.mix_at_snr`. The noise and a crop of it are drawn
    with :meth:`noisegen.NoiseBank.draw` (the crop wraps around when the
    noise is shorter than the signal); the bank is built once per sample
    rate, before any worker forks when used through
    :class:`noisegen.AugmentStream`.

    With ``noise_level="absolute"`` the noise is set to an RMS level drawn in
    ``[min_absolute_rms_db, max_absolute_rms_db]`` dBFS instead, whatever
    the signal's level (audiomentations' names). With ``noise_transform``,
    the crop of the noise (the signal's length) goes through that transform
    first; its draws come from the same ``rng`` and are recorded, and the
    level or SNR is set on the transformed noise.

    Parameters
    ----------
    noise : str, list of str, list of arrays, or NoiseBank
        A folder (searched recursively), a file, a list of folders and files
        (mixed; each folder contributes its files in sorted order), a list
        of mono float arrays (at the call's sample rate), or a
        :class:`noisegen.NoiseBank` (used at its own sample rate; build it
        with ``cache_path`` to share it memory-mapped between processes).
    min_snr_db, max_snr_db : float
        SNR range with ``noise_level="relative"``.
    noise_level : {"relative", "absolute"}
        Set the noise relative to the signal (an SNR) or to an absolute
        RMS level in dBFS (dB re full scale 1.0).
    min_absolute_rms_db, max_absolute_rms_db : float
        RMS range of the added noise with ``noise_level="absolute"``, in
        [-120, 60] dBFS (default -45 to -15, as audiomentations).
    reference : {"rms", "active"}
        How the signal power is measured for an SNR (see
        :func:`noisegen.mix_at_snr`).
    noise_transform : Transform, its ``to_dict()``, or None
        Applied to each noise crop before mixing (None: none). Its own
        ``p`` applies.
    p : float

    ``last_params``: ``noise_index``, ``noise_offset`` (samples), then
    ``snr_db`` (relative) or ``absolute_rms_db`` (absolute), and
    ``noise_transform`` (that transform's ``last_params``) when one is set.

    A silent crop of the noise cannot set an SNR or a level: the signal comes back
    unchanged with a NoisegenWarning that names the noise file and offset
    (and the input, under :class:`noisegen.AugmentStream` or ``noisegen
    augment``).

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import AddBackgroundNoise
    >>> noise = [np.random.default_rng(0).standard_normal(800).astype(np.float32)]
    >>> t = AddBackgroundNoise(noise, min_snr_db=10, max_snr_db=10, p=1.0)
    >>> y = np.sin(np.arange(1600) / 5.0).astype(np.float32)
    >>> out = t(y, sample_rate=16000, rng=0)
    >>> out.shape, t.last_params["snr_db"]
    ((1600,), 10.0)
    """

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, noise, *, min_snr_db: float = 3.0, max_snr_db: float = 30.0, noise_level: str = "relative",
                 min_absolute_rms_db: float = -45.0, max_absolute_rms_db: float = -15.0, reference: str = "rms",
                 noise_transform=None, p: float = 0.5):
        super().__init__(p=p)
        self.min_snr_db, self.max_snr_db = uniform_range(min_snr_db, max_snr_db, "min_snr_db", "max_snr_db",
                                                         low=MIN_SNR_DB, high=MAX_SNR_DB)
        self.noise_level = check_choice(noise_level, "noise_level", ("relative", "absolute"))
        self.min_absolute_rms_db, self.max_absolute_rms_db = uniform_range(
            min_absolute_rms_db, max_absolute_rms_db, "min_absolute_rms_db", "max_absolute_rms_db",
            low=ABSOLUTE_DB_RANGE[0], high=ABSOLUTE_DB_RANGE[1])
        self.reference = check_choice(reference, "reference", ("rms", "active"))
        self.noise_transform = _check_transform(noise_transform)
        self._drawn = None  # (params, transformed noise) of the last draw, reused by _apply
        if not isinstance(noise, (NoiseBank, str, os.PathLike, np.ndarray, list, tuple)) or (
                isinstance(noise, (list, tuple)) and not noise):
            raise ParameterError(
                f"noise must be a folder, a list of paths, a list of float arrays or a NoiseBank, "
                f"got {show_value(noise)}"
            )
        self._noise_bank = noise if isinstance(noise, NoiseBank) else NoiseBank(noise, name="noise")
        self._source_config = None  # a list of folders and files is written back as given
        if isinstance(noise, (list, tuple)) and self._noise_bank.paths is not None:
            self._source_config = [os.fspath(a) for a in noise]

    def _rebuild_with(self, name, value):
        if name == "noise":  # a new source: the fresh transform's list is written back (the old one was kept)
            return super()._rebuild_with(name, value)
        # another setting keeps the bank as loaded: rebuilt from the paths, the folders were searched and
        # read again (a folder gone since refused t.min_snr_db = 5 naming noise[0]; one changed, other noises)
        source, self._source_config = self._source_config, None
        try:
            super()._rebuild_with(name, value)
        finally:
            self._source_config = source

    def _bank(self, sample_rate):
        return self._noise_bank.at(sample_rate)

    def prepare(self, sample_rate):
        self._bank(sample_rate)
        if self.noise_transform is not None:
            self.noise_transform.prepare(sample_rate)

    def randomize(self, y, sample_rate, gen):
        index, offset = self._bank(sample_rate).draw(y.shape[-1], rng=gen)
        params = {"noise_index": int(index), "noise_offset": int(offset)}
        if self.noise_level == "relative":
            params["snr_db"] = draw_uniform(gen, self.min_snr_db, self.max_snr_db)
        else:
            params["absolute_rms_db"] = draw_uniform(gen, self.min_absolute_rms_db, self.max_absolute_rms_db)
        self._drawn = None
        if self.noise_transform is not None:
            # the transform draws while it runs: run it now, keep its output for _apply
            # (drawing for a SignalShape: draw for the crop's shape, nothing to keep)
            shaped = isinstance(y, SignalShape)
            crop = SignalShape((y.shape[-1],), y.dtype) if shaped else self._crop(y, sample_rate, index, offset)
            drawn = self.noise_transform.draw_params(crop, sample_rate=sample_rate, rng=gen)
            params["noise_transform"] = drawn
            if not shaped:
                self._drawn = (drawn, self.noise_transform._apply_drawn(crop, sample_rate, drawn))
        return params

    def _param_checks(self, sample_rate):
        checks = {"noise_index": index_param(len(self._bank(sample_rate))), "noise_offset": int_param(0)}
        if self.noise_level == "relative":
            checks["snr_db"] = real_param()
        else:
            checks["absolute_rms_db"] = real_param(*ABSOLUTE_DB_RANGE)
        if self.noise_transform is not None:
            checks["noise_transform"] = lambda value, name: self.noise_transform._check_params(
                value, sample_rate, name)
        return checks

    def _crop(self, y, sample_rate, index, offset):
        """The ``y.shape[-1]`` noise samples from ``offset`` (wrapping around), in the signal's dtype."""
        noise = self._bank(sample_rate)[index]
        n, offset = y.shape[-1], offset % noise.shape[-1]  # (a replayed offset may be any int >= 0, as mix_at_snr's)
        return np.take(noise, np.arange(offset, offset + n), mode="wrap").astype(y.dtype, copy=False)

    def _noise(self, y, sample_rate, params):
        """The noise to add and its offset: the bank's noise, or the crop after ``noise_transform``."""
        index, offset = params["noise_index"], params["noise_offset"]
        if self.noise_transform is None:
            return self._bank(sample_rate)[index], offset
        drawn, self._drawn = self._drawn, None
        if drawn is not None and drawn[0] is params["noise_transform"]:
            return drawn[1], 0  # just drawn by randomize
        crop = self._crop(y, sample_rate, index, offset)
        return self.noise_transform.apply_params(crop, sample_rate=sample_rate, params=params["noise_transform"]), 0

    def _noise_label(self, sample_rate, params):
        """What a silent-noise warning names: the noise and the sample its crop starts at."""
        index, paths = params["noise_index"], self._bank(sample_rate).paths
        name = f"noise[{index}]" if paths is None else repr(paths[index])
        return f"noise {name} from sample {params['noise_offset']}"

    def _apply(self, y, sample_rate, params):
        noise, at = self._noise(y, sample_rate, params)
        # The noise is named in a silent-noise warning, not in a silent signal's: each copy of a silent
        # input drew another crop, and `noisegen augment --copies N` said N lines for one oddity.
        named = self.noise_level == "absolute" or bool(np.any(y))
        with about(self._noise_label(sample_rate, params)) if named else contextlib.nullcontext():
            if noise.shape[-1] == 0:  # a noise_transform that shortens (a speed-up) emptied a few-sample crop
                warn("AddBackgroundNoise: noise_transform left no noise sample, so no SNR or level can be set; "
                     "the signal is returned unchanged")
                return y.copy()
            if self.noise_level == "relative":
                return effects.mix_at_snr(
                    y, noise, snr_db=params["snr_db"], noise_offset=at, reference=self.reference,
                    sample_rate=sample_rate,
                )
            return _add_at_level(y, noise, at, params["absolute_rms_db"])

    noise = kept_setting("The noise as given (its list of files and folders), or its NoiseBank; assigning one "
                         "rebuilds the transform with it.")

    def _config(self):
        noise = list(self._source_config) if self._source_config is not None else self._noise_bank
        return {"noise": noise, "min_snr_db": self.min_snr_db, "max_snr_db": self.max_snr_db,
                "noise_level": self.noise_level, "min_absolute_rms_db": self.min_absolute_rms_db,
                "max_absolute_rms_db": self.max_absolute_rms_db, "reference": self.reference,
                "noise_transform": self.noise_transform, "p": self.p}


def _check_transform(transform):
    """None, a Transform, or a transform's ``to_dict()`` (built)."""
    if transform is None or isinstance(transform, Transform):
        return transform
    if isinstance(transform, dict):
        return nested_from_dict(transform, "noise_transform")
    raise ParameterError(f"noise_transform must be a Transform, its to_dict() or None, got {show_value(transform)}")


def _add_at_level(y, noise, offset, rms_db):
    """``y`` plus ``noise`` (from ``offset``, wrapping) scaled to an RMS of ``rms_db`` dBFS."""
    n, offset = y.shape[-1], offset % noise.shape[-1]
    crop = np.take(noise, np.arange(offset, offset + n), mode="wrap", axis=-1)
    rms = measure_level(crop, "rms")
    if rms == 0.0:
        warn("AddBackgroundNoise: the noise is silent, so no level can be set; the signal is returned unchanged")
        return y.copy()
    scaled = (crop.astype(np.float64) / rms * 10.0 ** (rms_db / 20.0)).astype(y.dtype)
    return effects.mix_at_snr(y, scaled, snr_db=None)
