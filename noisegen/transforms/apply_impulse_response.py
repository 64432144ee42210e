"""ApplyImpulseResponse: reverberation from a random room impulse response."""

from __future__ import annotations

import numpy as np

from .._core.errors import ParameterError
from .._core.validation import check_sample_rate
from .base import Transform, index_param
from ..audio.bank import NoiseBank
from .room_simulator import as_room_simulator, early_target
from ..effects.reverb_blocks import convolve_partitioned

__all__ = ["ApplyImpulseResponse"]


class ApplyImpulseResponse(Transform):
    """Convolve with an impulse response drawn from a collection.

    Wraps :func:`noisegen.convolve_rir`: the response is scaled to unit
    energy (``normalize="energy"``), its direct-path delay kept, and the
    output is the first ``n`` samples of the full convolution (the input's
    length) or, with ``keep_tail=True``, all ``n + len(rir) - 1`` of them
    (``mode="full"``: the reverberation after the input's end is kept, so
    the output is longer). Responses are loaded and resampled once per sample
    rate; an unreadable, empty, non-finite or silent file in the collection is
    skipped and reported once (NoisegenWarning). ``last_params``:
    ``rir_index`` (among the usable responses, in sorted path order).

    Parameters
    ----------
    rir : str, list of str, array or list of arrays, or simulated rooms
        A folder (searched recursively for :data:`noisegen.audio.files.AUDIO_EXTENSIONS`),
        a list of paths, 1-D arrays, or a :class:`noisegen.NoiseBank`. Or simulated rooms: the string
        ``"simulated"`` (:class:`RoomSimulator`'s default ranges; a folder of
        that name must be given as ``"./simulated"``), a :class:`RoomSimulator`
        or its ``to_dict()``; the simulator's ranges are used and its ``p``
        is not, and ``last_params`` are RoomSimulator's.
    keep_tail : bool
        Keep the reverberation tail (output ``n + len(rir) - 1`` samples
        long) instead of cutting the output to the input's length.
    rir_sample_rate : int or None
        Sample rate of arrays given as ``rir`` (None: the rate of the call).
    p : float

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import ApplyImpulseResponse
    >>> t = ApplyImpulseResponse([np.array([0.6, 0.8])], p=1.0)  # unit energy: kept as is
    >>> np.round(t(np.array([1.0, 0.0, 0.0]), sample_rate=8000, rng=0), 6)
    array([0.6, 0.8, 0. ])
    >>> t = ApplyImpulseResponse([np.array([0.6, 0.8])], keep_tail=True, p=1.0)
    >>> np.round(t(np.array([1.0, 0.0, 0.0]), sample_rate=8000, rng=0), 6)
    array([0.6, 0.8, 0. , 0. ])
    """

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, rir, *, keep_tail: bool = False, rir_sample_rate=None, p: float = 0.5):
        super().__init__(p=p)
        if not isinstance(keep_tail, (bool, np.bool_)):
            raise ParameterError(f"keep_tail must be a bool, got {keep_tail!r}")
        self.keep_tail = bool(keep_tail)
        self._room = as_room_simulator(rir)
        if self._room is not None:
            return
        if rir_sample_rate is not None:
            rir_sample_rate = check_sample_rate(rir_sample_rate, "rir_sample_rate")
        self._bank = rir if isinstance(rir, NoiseBank) else NoiseBank(rir, source_sample_rate=rir_sample_rate, name="rir")

    def prepare(self, sample_rate):
        if self._room is None:
            self._bank.at(sample_rate)

    def randomize(self, y, sample_rate, gen):
        if self._room is not None:
            return self._room.randomize(y, sample_rate, gen)
        return {"rir_index": int(gen.integers(0, len(self._bank.at(sample_rate))))}

    def _param_checks(self, sample_rate):
        if self._room is not None:
            return self._room._param_checks(sample_rate)
        return {"rir_index": index_param(len(self._bank.at(sample_rate)))}

    def _response(self, sample_rate, params):
        """The response ``params`` name: simulated, or from the bank."""
        if self._room is not None:
            return self._room._rir(sample_rate, params)
        return self._bank.at(sample_rate)[params["rir_index"]]

    def _apply(self, y, sample_rate, params):
        mode = "full" if self.keep_tail else "same"  # (beyond 65536 samples: over a fixed partition, as streamed)
        return convolve_partitioned(y, self._response(sample_rate, params).astype(y.dtype, copy=False), mode=mode)

    def _output_length(self, n, sample_rate, params):
        return n + self._response(sample_rate, params).shape[-1] - 1 if self.keep_tail else n

    def _target_step(self, y, out, target, sample_rate, params, mode):
        # "early": the target keeps the direct sound and early reflections of the same response
        if mode != "early" or not params["applied"] or y.shape[-1] == 0:
            return super()._target_step(y, out, target, sample_rate, params, mode)
        rir = self._response(sample_rate, params).astype(y.dtype, copy=False)
        return early_target(target, rir, sample_rate, out.shape[-1])

    def _config(self):
        rir = self._room.to_dict() if self._room is not None else self._bank.config()
        return {"rir": rir, "keep_tail": self.keep_tail, "p": self.p}
