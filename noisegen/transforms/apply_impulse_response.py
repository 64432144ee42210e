"""ApplyImpulseResponse: reverberation from a random room impulse response."""

from __future__ import annotations

from .base import Transform, effect, index_param
from ._files import AudioBank
from .room_simulator import as_room_simulator

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
    rir : str, list of str, array or list of arrays, or simulated rooms
        A folder (searched recursively for :data:`noisegen.io.AUDIO_EXTENSIONS`),
        a list of paths, or 1-D arrays. Or simulated rooms: the string
        ``"simulated"`` (:class:`RoomSimulator`'s default ranges; a folder of
        that name must be given as ``"./simulated"``), a :class:`RoomSimulator`
        or its ``to_dict()``; the simulator's ranges are used and its ``p``
        is not, and ``last_params`` are RoomSimulator's.
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
        self._room = as_room_simulator(rir)
        if self._room is not None:
            return
        if rir_sample_rate is not None:
            from .._validation import check_sample_rate

            rir_sample_rate = check_sample_rate(rir_sample_rate, "rir_sample_rate")
        self._bank = AudioBank(rir, "rir", arrays_sample_rate=rir_sample_rate)

    def prepare(self, sample_rate):
        if self._room is None:
            self._bank.at(sample_rate)

    def randomize(self, samples, sample_rate, gen):
        if self._room is not None:
            return self._room.randomize(samples, sample_rate, gen)
        return {"rir_index": int(gen.integers(0, len(self._bank.at(sample_rate))))}

    def _param_checks(self, sample_rate):
        if self._room is not None:
            return self._room._param_checks(sample_rate)
        return {"rir_index": index_param(len(self._bank.at(sample_rate)))}

    def _apply(self, samples, sample_rate, params):
        if self._room is not None:
            return self._room._apply(samples, sample_rate, params)
        rir = self._bank.at(sample_rate)[params["rir_index"]]
        return effect("convolve_rir")(samples, rir.astype(samples.dtype, copy=False), mode="same")

    def _config(self):
        if self._room is not None:
            return {"rir": self._room.to_dict(), "p": self.p}
        return {"rir": self._bank.config(), "p": self.p}
