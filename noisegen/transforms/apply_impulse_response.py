"""ApplyImpulseResponse: reverberation from a random room impulse response."""

from __future__ import annotations

from .base import Transform, effect, index_param
from ._files import AudioBank

__all__ = ["ApplyImpulseResponse"]


class ApplyImpulseResponse(Transform):
    """Convolve with an impulse response drawn from a collection.

    Wraps :func:`noisegen.convolve_rir` (``mode="same"``: the output keeps
    the input's length). Responses are loaded and resampled once per sample
    rate; an unreadable, empty, non-finite or silent file in the collection is
    skipped and reported once (NoisegenWarning). ``last_params``:
    ``rir_index`` (among the usable responses, in sorted path order).

    Parameters
    ----------
    rir : str, list of str, array or list of arrays
        A folder (searched recursively for :data:`noisegen.io.AUDIO_EXTENSIONS`),
        a list of paths, or 1-D arrays.
    p : float
    rir_sample_rate : int or None
        Sample rate of arrays given as ``rir`` (None: the rate of the call).

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import ApplyImpulseResponse
    >>> t = ApplyImpulseResponse([np.array([0.6, 0.8])], p=1.0)  # unit energy: kept as is
    >>> np.round(t(np.array([1.0, 0.0, 0.0]), sample_rate=8000, rng=0), 6)
    array([0.6, 0.8, 0. ])
    """

    def __init__(self, rir, p: float = 0.5, rir_sample_rate=None):
        super().__init__(p=p)
        if rir_sample_rate is not None:
            from .._validation import check_sample_rate

            rir_sample_rate = check_sample_rate(rir_sample_rate, "rir_sample_rate")
        self._bank = AudioBank(rir, "rir", arrays_sample_rate=rir_sample_rate)

    def prepare(self, sample_rate):
        self._bank.at(sample_rate)

    def randomize(self, samples, sample_rate, gen):
        return {"rir_index": int(gen.integers(0, len(self._bank.at(sample_rate))))}

    def _param_checks(self, sample_rate):
        return {"rir_index": index_param(len(self._bank.at(sample_rate)))}

    def _apply(self, samples, sample_rate, params):
        rir = self._bank.at(sample_rate)[params["rir_index"]]
        return effect("convolve_rir")(samples, rir.astype(samples.dtype, copy=False), mode="same")

    def _config(self):
        return {"rir": self._bank.config(), "p": self.p}
