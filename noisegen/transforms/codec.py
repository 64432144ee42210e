"""Codec: a lossy or telephone codec drawn at random, with a random bitrate."""

from __future__ import annotations

from .._core.validation import check_choice, check_sequence
from ..effects.codec import BITRATE_RANGES, FORMATS, check_bitrate, require_format
from .._core.errors import ParameterError
from .base import Transform
from .params import draw_uniform, real_param, uniform_range
from .. import effects

__all__ = ["Codec"]


class Codec(Transform):
    """Encode and decode with a codec drawn uniformly from ``formats``.

    Wraps :func:`noisegen.codec` (in-memory libsndfile round trip, output
    aligned with the input). For ``mp3``, ``opus`` and ``vorbis`` a bitrate is
    drawn uniformly in ``[min_bitrate_kbps, max_bitrate_kbps]`` (per channel;
    :func:`noisegen.codec` clamps it to what the codec offers at its rate);
    the fixed-rate codecs record their own rate (``gsm`` 13, ``mulaw`` 64, ...).
    ``last_params``: ``format``, ``bitrate_kbps``.

    Slow next to the DSP transforms (README "Codecs" has the measured speeds).

    Parameters
    ----------
    formats : sequence of str
        Any of ``"mp3"``, ``"opus"``, ``"vorbis"``, ``"gsm"``, ``"mulaw"``,
        ``"alaw"``, ``"g721"``, ``"g723_24"``, ``"g723_40"``, ``"ima_adpcm"``.
    min_bitrate_kbps, max_bitrate_kbps : float
        In [6, 500].
    p : float

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import Codec
    >>> t = Codec(formats=("mp3",), min_bitrate_kbps=32.0, max_bitrate_kbps=32.0, p=1.0)
    >>> out = t(np.zeros(160), sample_rate=16000, rng=0)
    >>> t.last_params
    {'name': 'Codec', 'applied': True, 'format': 'mp3', 'bitrate_kbps': 32.0}
    """

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, *, formats=("mp3", "opus", "vorbis", "gsm", "mulaw", "alaw", "g721", "ima_adpcm"),
                 min_bitrate_kbps: float = 8.0, max_bitrate_kbps: float = 64.0, p: float = 0.5):
        super().__init__(p=p)
        formats = check_sequence(formats, "formats")  # a list, tuple or 1-D array (one name, a str, refused)
        if not len(formats):
            raise ParameterError("formats must name at least one format, got an empty sequence")
        self.formats = tuple(str(check_choice(fmt, "formats", tuple(FORMATS))) for fmt in formats)
        for fmt in self.formats:
            require_format(fmt)  # a missing libsndfile format fails at construction
        self.min_bitrate_kbps, self.max_bitrate_kbps = uniform_range(
            min_bitrate_kbps, max_bitrate_kbps, "min_bitrate_kbps", "max_bitrate_kbps", low=6.0, high=500.0
        )

    def randomize(self, y, sample_rate, gen):
        fmt = self.formats[int(gen.integers(0, len(self.formats)))]
        kbps = FORMATS[fmt].fixed_kbps
        if kbps is None:
            lo, hi = BITRATE_RANGES[fmt]
            kbps = min(max(draw_uniform(gen, self.min_bitrate_kbps, self.max_bitrate_kbps), lo), hi)
        return {"format": fmt, "bitrate_kbps": kbps}

    def _param_checks(self, sample_rate):
        return {"format": lambda value, name: check_choice(value, name, tuple(FORMATS)),
                "bitrate_kbps": real_param(6.0, 500.0)}

    def _check_params(self, params, sample_rate, name="params"):
        clean = super()._check_params(params, sample_rate, name)
        if clean["applied"]:  # the bitrate against its format's (codec's own error named its bitrate_kbps)
            check_bitrate(clean["format"], clean["bitrate_kbps"], f"{name}['bitrate_kbps']")
        return clean

    def _apply(self, y, sample_rate, params):
        return effects.codec(y, sample_rate=sample_rate, format=params["format"],
                               bitrate_kbps=params["bitrate_kbps"])

    def _config(self):
        return {"formats": list(self.formats), "min_bitrate_kbps": self.min_bitrate_kbps,
                "max_bitrate_kbps": self.max_bitrate_kbps, "p": self.p}
