"""ApplyImpulseResponse: reverberation from a random room impulse response."""

from __future__ import annotations

import math
import os

import numpy as np

from .._core.errors import ParameterError
from .._core.lru import BytesCache
from .._core.validation import check_real, check_sample_rate
from .base import Transform
from .settings import kept_setting
from .params import index_param
from ..audio.bank import NoiseBank
from ..audio.reader import unusable
from .room_simulator import SIMULATED, as_room_simulator, early_target
from ..effects.filters import sos_filter
from ..effects.reverb import RirConvolver
from ..effects.reverb_blocks import convolve_partitioned

__all__ = ["ApplyImpulseResponse", "trimmed_length"]

#: Bytes of the prepared responses one transform keeps (least recently drawn dropped first).
CONVOLVER_CACHE_BYTES = 64 << 20
#: Default of ``trim_db``: responses are cut where 60 dB of their energy has decayed.
TRIM_DB = 60.0
#: Windows of the level envelope that finds a recording's noise floor (seconds).
FLOOR_WINDOW_S = 0.01
#: The decay is kept up to its last window this far above the noise floor (dB).
FLOOR_MARGIN_DB = 6.0
#: The decay must have reached its floor below and above this frequency too before it is cut (Hz).
FLOOR_SPLIT_HZ = 4000.0


def trimmed_length(rir, trim_db, sample_rate=None):
    """Samples of ``rir`` before its remaining energy falls ``trim_db`` dB below the total (at least
    through its strongest sample), or before its decay has reached the recording's noise floor.

    The noise floor (given ``sample_rate``) is the mean power of the last
    tenth of the response when it is flat there (within 1 dB of the tenth
    before it, and falling less than half as fast as the decay above it)
    and at least 20 dB below the loudest 10 ms after the peak;
    the response is then cut after its last 10 ms window more than
    :data:`FLOOR_MARGIN_DB` above the floor, in the whole band and below and
    above :data:`FLOOR_SPLIT_HZ` (the latest of these cuts; a band without
    such a floor keeps the response whole). A measured
    response often ends in seconds of such noise, whose energy alone keeps
    the backward integral above any ``trim_db``.

    Examples
    --------
    >>> trimmed_length(np.r_[1.0, 0.1, 0.001, 0.0, 0.0], 30.0)
    2
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(16000) / 16000
    >>> h = rng.standard_normal(16000) * (np.exp(-t / 0.03) + 1e-3)  # a 0.2 s decay into a -60 dB floor
    >>> trimmed_length(h, 60.0), trimmed_length(h, 60.0, sample_rate=16000)
    (15750, 3372)
    """
    energy = np.cumsum(np.square(rir[::-1], dtype=np.float64))[::-1]  # energy from each sample on
    if energy[0] == 0.0:
        return rir.shape[-1]
    below = np.flatnonzero(energy <= energy[0] * 10.0 ** (-trim_db / 10.0))
    end = int(below[0]) if below.size else rir.shape[-1]
    peak = int(np.argmax(np.abs(rir)))
    if sample_rate is not None:
        window = max(1, round(FLOOR_WINDOW_S * sample_rate))
        floor = _floor_start(rir, peak, window)
        if floor < end:  # (the bands only where the floor would cut: 3x the time of the rest)
            floor = max([floor] + [_floor_start(band, peak, window) for band in _bands(rir, sample_rate)])
        end = min(end, floor)
    return max(end, peak + 1)


def _bands(rir, sample_rate):
    """``rir`` below and above :data:`FLOOR_SPLIT_HZ` (float64; none where that is above 0.45 of the
    rate). A broadband floor is often noise above a few kHz while the low frequencies, where speech is,
    still decay far below it: St Margaret's Church (OpenAIR, 44.1 kHz) at 48 kHz met a -84 dB floor at
    0.91 s and was cut there, dropping 1e-4 of its energy below 4 kHz (at 16 kHz it kept 1.71 s).
    (Narrower bands fluctuate more: split at 1, 4 and 8 kHz, a white floor was cut 40 ms late.)"""
    if FLOOR_SPLIT_HZ >= 0.45 * sample_rate:
        return []
    h = np.asarray(rir, dtype=np.float64)
    return [sos_filter(h, sos=sos) for sos in _split_sections(sample_rate)]


def _split_sections(sample_rate):
    """The order-4 Butterworth low- and high-pass at :data:`FLOOR_SPLIT_HZ` as two biquads each (the
    bilinear transform of the analog sections, Q = 1 / (2 cos(pi/8)) and 1 / (2 cos(3 pi/8)); unit gain at
    DC and at Nyquist), in closed form: ``lowpass``'s design imports scipy.signal, 1.5 s of every
    ``noisegen augment``'s start for this alone."""
    k = math.tan(math.pi * FLOOR_SPLIT_HZ / sample_rate)
    low, high = [], []
    for q in (0.5 / math.cos(math.pi / 8), 0.5 / math.cos(3 * math.pi / 8)):
        norm = 1.0 / (1.0 + k / q + k * k)
        a = [1.0, 2.0 * (k * k - 1.0) * norm, (1.0 - k / q + k * k) * norm]
        low.append([k * k * norm, 2.0 * k * k * norm, k * k * norm] + a)
        high.append([norm, -2.0 * norm, norm] + a)
    return np.array(low), np.array(high)


def _floor_start(rir, peak, window):
    """Where the decay after ``peak`` has reached a flat noise floor (the length if it never does)."""
    n_windows = (rir.shape[-1] - peak) // window
    if n_windows < 20:
        return rir.shape[-1]
    frames = np.square(rir[peak:peak + n_windows * window], dtype=np.float64).reshape(n_windows, window)
    level = frames.mean(axis=1)
    tenth = n_windows // 10
    floor, before = level[-tenth:].mean(), level[-2 * tenth:-tenth].mean()
    if max(floor, before) > 1.26 * min(floor, before) or level.max() < 100.0 * floor:
        return rir.shape[-1]  # still decaying at the end, or no decay above the floor
    loud = np.flatnonzero(level > floor * 10.0 ** (FLOOR_MARGIN_DB / 10.0))
    if not _levels_off(level, loud, 10.0 * math.log10(before / floor) if floor > 0.0 else 0.0, tenth):
        return rir.shape[-1]  # a slow decay cut short, not a floor
    return peak + (int(loud[-1]) + 1) * window


def _levels_off(level, loud, drop_db, tenth):
    """Whether the last tenth's fall ``drop_db`` is under half the fall of the decay above the floor
    (windows ``loud``, the peak's left out) over as many windows. A response recorded shorter than
    its decay (0.3 s of a 2 s RT60, direct sound 10 dB up) falls under 1 dB a tenth too: taken for
    a floor, its first 30 % was kept and the rest of its reverberation dropped."""
    decay = loud[loud > 0]
    if decay.size < 2:  # fell within a window or two of the peak: a floor
        return True
    slope = np.polyfit(decay, 10.0 * np.log10(level[decay]), 1)[0]  # dB per window
    return abs(drop_db) < -0.5 * slope * tenth


def _convolver_cache():
    """Each transform's convolvers, bounded: each holds its response in float64 (twice the bank's
    bytes), made where it is first drawn (in every forked worker), so a bank of thousands of rooms
    would otherwise be copied whole into every process."""
    return BytesCache(CONVOLVER_CACHE_BYTES)


def _names_files(rir) -> bool:
    """Whether ``rir`` names files (a path, or a list of them) rather than holding arrays."""
    items = rir if isinstance(rir, (list, tuple)) else [rir]
    return bool(items) and all(isinstance(r, (str, os.PathLike)) for r in items)


class ApplyImpulseResponse(Transform):
    """Convolve with an impulse response drawn from a collection.

    Wraps :func:`noisegen.convolve_rir`: the response is scaled to unit
    energy (``normalize="energy"``), its direct-path delay kept, and the
    output is the first ``n`` samples of the full convolution (the input's
    length) or, with ``keep_tail=True``, all ``n + len(rir) - 1`` of them
    (``mode="full"``: the reverberation after the input's end is kept, so
    the output is longer). Responses are loaded and resampled once per sample
    rate; an unreadable, empty, non-finite or silent file in the collection
    (one value throughout counts as silent: a DC offset is no room) is
    skipped and reported once (NoisegenWarning); such an array is a
    ParameterError. A multichannel file gives
    its first channel (B-format's W, a binaural pair's left ear), not the
    mean of its channels, whose direct sounds arrive apart
    (``NoiseBank(first_channel=True)``; a :class:`noisegen.NoiseBank` given
    as ``rir`` keeps its own rule, and ``to_dict`` refuses one that mixes
    down, which a dict would not rebuild). ``last_params``:
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
    trim_db : float or None
        Cut each recorded response where its remaining energy (Schroeder's
        backward integral) has fallen ``trim_db`` dB below its total, or
        earlier where its decay has reached the recording's noise floor,
        below and above 4 kHz alike (:func:`trimmed_length`): what follows
        is noise or silence, not reverberation, and costs convolution time.
        At 60 dB the part cut holds a millionth of the response's energy,
        which changes the output
        by 0.1 % of its RMS for a white input; for speech, whose energy is at
        low frequencies, more where the part cut holds low frequencies too
        (0.12 % for an exponential decay; 0.3-0.6 % and 1.1-1.5 % for two
        recorded claps whose last samples drift, on 2-6 s of speech), plus
        the dropped noise. None keeps every
        response whole. Simulated rooms are not trimmed.
    rir_sample_rate : int or None
        Sample rate of arrays given as ``rir`` (None: the rate of the call). Files carry their own
        rate: given with files (or a NoiseBank) it is a ParameterError.
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
    _banks_first_channel = True  # to_dict: its files are read back by their first channel

    def __init__(self, rir, *, keep_tail: bool = False, rir_sample_rate=None, trim_db=TRIM_DB, p: float = 0.5):
        super().__init__(p=p)
        if not isinstance(keep_tail, (bool, np.bool_)):
            raise ParameterError(f"keep_tail must be a bool, got {keep_tail!r}")
        self.keep_tail = bool(keep_tail)
        self.trim_db = check_real(trim_db, "trim_db", low=0.0, low_inclusive=False, high=300.0, allow_none=True)
        self._trimmed = {}  # sample rate -> each response's kept length
        self._convolvers = _convolver_cache()  # (sample rate, rir_index) -> RirConvolver of the (trimmed) response
        self._room = as_room_simulator(rir)
        if self._room is not None:
            return
        if rir_sample_rate is not None:
            rir_sample_rate = check_sample_rate(rir_sample_rate, "rir_sample_rate")
            if isinstance(rir, NoiseBank) or _names_files(rir):  # (it was taken, and meant nothing)
                arrays = isinstance(rir, NoiseBank) and rir.paths is None
                what = "a NoiseBank of arrays, which has its own source_sample_rate" if arrays else "files"
                raise ParameterError(f"rir_sample_rate is the rate of arrays given as rir; files carry their own "
                                     f"rate: leave it out (got rir_sample_rate={rir_sample_rate} with {what})")
        self._bank = rir if isinstance(rir, NoiseBank) else NoiseBank(
            rir, source_sample_rate=rir_sample_rate, name="rir", first_channel=True, silent_ok=False)
        # a silent (or constant) array was kept and refused at every draw of it; a file is skipped by the
        # same rule (the bank checked 1-D, finite, not empty; one nonzero sample is a room, the identity).
        # One array alone is one room, judged as a list's are (it was kept, silent or a DC 'room').
        arrays = ({"rir": rir} if isinstance(rir, np.ndarray) and rir.dtype.kind == "f" else
                  {f"rir[{i}]": a for i, a in enumerate(rir)} if isinstance(rir, (list, tuple)) else {})
        if isinstance(rir, NoiseBank) and rir.paths is None:  # a bank of arrays: kept by any silent_ok (a noise's)
            held = getattr(rir, "_arrays", None)  # (None once loaded at its one sample_rate: its samples)
            arrays = {f"rir[{i}]": a for i, a in enumerate(rir if held is None else held)}
        for name, a in arrays.items():  # (as the bank holds it, float32: 1e-50 is silence, 1e300 inf there)
            why = unusable(a.astype(np.float32)) if isinstance(a, np.ndarray) else None
            if why is not None:
                raise ParameterError(f"{name} must not be silent or one value throughout (a DC offset is "
                                     f"no room), got {a.shape[0]} samples: {why} as float32")

    def prepare(self, sample_rate):
        if self._room is not None:
            self._room.prepare(sample_rate)
        else:
            if self._bank.at(sample_rate).silent_only:  # (a NoiseBank given with silent_ok=True)
                raise ParameterError(f"rir holds only silent files at {sample_rate} Hz: a silent response is no room")
            if self.trim_db is not None:
                self._kept(sample_rate)

    def randomize(self, y, sample_rate, gen):
        if self._room is not None:
            return self._room.randomize(y, sample_rate, gen)
        return {"rir_index": int(gen.integers(0, len(self._bank.at(sample_rate))))}

    def _param_checks(self, sample_rate):
        if self._room is not None:
            return self._room._param_checks(sample_rate)
        return {"rir_index": index_param(len(self._bank.at(sample_rate)))}

    def _response(self, sample_rate, params):
        """The response ``params`` name: simulated, or from the bank (trimmed)."""
        if self._room is not None:
            return self._room._rir(sample_rate, params)
        index = params["rir_index"]
        rir = self._bank.at(sample_rate)[index]
        return rir if self.trim_db is None else rir[: self._kept(sample_rate)[index]]

    def _kept(self, sample_rate):
        """How much of each response :attr:`trim_db` keeps (measured once per rate)."""
        kept = self._trimmed.get(sample_rate)
        if kept is None:
            bank = self._bank.at(sample_rate)
            kept = self._trimmed[sample_rate] = [trimmed_length(bank[i], self.trim_db, sample_rate)
                                                  for i in range(len(bank))]
        return kept

    def _convolver(self, sample_rate, params):
        """The :class:`RirConvolver` of a recorded response (kept per rate and response, up to
        :data:`CONVOLVER_CACHE_BYTES`: the samples of the convolver cache's, without its lookup);
        None for a simulated room."""
        if self._room is not None:
            return None
        return self._convolvers.get((sample_rate, params["rir_index"]),
                                    lambda: RirConvolver(self._response(sample_rate, params)))

    def _apply(self, y, sample_rate, params):
        mode = "full" if self.keep_tail else "same"  # (beyond 65536 samples: over a fixed partition, as streamed)
        return convolve_partitioned(y, self._response(sample_rate, params).astype(y.dtype, copy=False), mode=mode,
                                    convolver=self._convolver(sample_rate, params))

    def __setstate__(self, state):  # a pickle of the previous release held a dict of convolvers
        self.__dict__.update(state, _convolvers=_convolver_cache())

    def _output_length(self, n, sample_rate, params):
        return n + self._response(sample_rate, params).shape[-1] - 1 if self.keep_tail else n

    def _target_step(self, y, out, target, sample_rate, params, mode):
        # "early": the target keeps the direct sound and early reflections of the same response
        if mode != "early" or not params["applied"] or y.shape[-1] == 0:
            return super()._target_step(y, out, target, sample_rate, params, mode)
        rir = self._response(sample_rate, params).astype(y.dtype, copy=False)
        direct_s = None if self._room is None else self._room._direct_s(params)
        return early_target(target, rir, sample_rate, out.shape[-1], direct_s=direct_s)

    def _more_arguments(self, name, value):
        # rir_sample_rate is no key of _config (its bank keeps it), but arrays assigned as rir are at it: t.rir =
        # arrays took them at the call's rate (48 kHz rooms at 16 kHz: three times as long); a new rate is for the
        # bank's arrays (t.rir_sample_rate = 16000 was kept aside unused); files and banks carry their own
        if self._room is not None:
            return {}
        if name == "rir":
            files = isinstance(value, NoiseBank) or _names_files(value)
            return {} if files else {"rir_sample_rate": self._bank.source_sample_rate}
        held = getattr(self._bank, "_arrays", None)
        return {"rir": list(held)} if name == "rir_sample_rate" and held is not None else {}

    rir = kept_setting("The responses' bank, or the simulated rooms' settings; assigning a source rebuilds the "
                       "transform with it.")

    def _config(self):
        rir = self._room if self._room is not None else self._bank
        return {"rir": rir, "keep_tail": self.keep_tail, "trim_db": self.trim_db, "p": self.p}

    def to_dict(self):
        config = super().to_dict()
        if config["rir"] == SIMULATED:  # a folder of that name (a Path, a bank's): the word alone reads back as rooms
            config["rir"] = os.path.join(".", SIMULATED)
        return config
