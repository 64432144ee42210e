"""Lhotse adapter: noisegen pipelines and perturbations on a ``CutSet``.

Install with ``pip install "noisegen[lhotse]"``; ``import noisegen`` never
imports this module or Lhotse. ::

    import noisegen.lhotse                      # registers the transforms below with Lhotse
    from lhotse import CutSet

    cuts = CutSet.from_jsonl("cuts.jsonl")
    cuts = noisegen.lhotse.perturb_speed(cuts, 1.1)            # Lhotse's Speed, without torchaudio
    cuts = noisegen.lhotse.augment_cuts(cuts, pipeline, rng=0)  # runs in cut.load_audio()
    cuts.to_jsonl("augmented.jsonl")            # the pipeline and each cut's key travel along

The pipeline runs whenever a cut's audio is loaded (``cut.load_audio()``,
and so in Lhotse's datasets and samplers), on that cut's samples only, with
the key :func:`cut_key` ``(cut.id, rng=rng)``: the same cut gets the same
augmentation in any process, order or worker. For a new draw each epoch,
call :func:`augment_cuts` per epoch with ``rng=epoch`` (it is lazy on a lazy
``CutSet``).

The transforms are Lhotse ``AudioTransform`` s, serialised by class name in
the manifest: ``import noisegen.lhotse`` before reading a manifest that uses
them, or Lhotse reports an unknown transform. Pipelines that hold noise or
room-response paths should hold absolute ones (:func:`noisegen.load_pipeline`
of a file makes its relative paths absolute), since the manifest may be read
from another folder.
"""

from __future__ import annotations

import functools
import hashlib
import json
import numbers
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

try:
    from lhotse.augmentation.torchaudio import Resample as _LhotseResample
    from lhotse.augmentation.torchaudio import Speed as _LhotseSpeed
    from lhotse.augmentation.torchaudio import Tempo as _LhotseTempo
    from lhotse.augmentation.torchaudio import Volume as _LhotseVolume
    from lhotse.augmentation.transform import AudioTransform
    from lhotse.cut import Cut, CutSet, MixedCut, PaddingCut
    from lhotse.utils import compute_num_samples, fastcopy, perturb_num_samples
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(f'noisegen.lhotse needs Lhotse: pip install "noisegen[lhotse]" ({exc})') from exc

from .._core.errors import ParameterError
from .._core.labels import warn
from .._core.layout import layout_known
from .._core.rng import derive_key, resolve_key
from .._core.units import amplitude_to_db
from .._core.validation import check_bool, check_reach, check_real, check_sample_rate, show_value
from ..effects import gain, speed, time_stretch
from ..effects import resample as resample_audio  # this module's own resample() takes cuts
from ..transforms import Shift, Transform, load_pipeline
from .length import first_in, length_changer

__all__ = [
    "augment_cuts",
    "cut_key",
    "perturb_speed",
    "perturb_tempo",
    "perturb_volume",
    "resample",
    "use_noisegen_transforms",
    "NoisegenAugment",
    "NoisegenSpeed",
    "NoisegenTempo",
    "NoisegenResample",
    "NoisegenVolume",
]

# Speed, tempo and resampling factors noisegen accepts.
_MAX_FACTOR = 256.0


def _lhotse_layout(call):
    """A transform's ``__call__`` on the ``(channels, samples)`` audio Lhotse always hands over: a short cut of
    many channels (100 of 50 samples) is no channels-last array (:mod:`noisegen._core.layout`)."""
    @functools.wraps(call)
    def wrapped(self, samples, *args, **kwargs):
        with layout_known():
            return call(self, samples, *args, **kwargs)
    return wrapped


def cut_key(cut_id: str, *, rng) -> int:
    """The key :func:`augment_cuts` gives the cut ``cut_id``: ``derive_key(resolve_key(rng), h)``,
    ``h`` the first 8 bytes of the BLAKE2b hash of the UTF-8 id (an id made from a file name that is not
    UTF-8, with Python's surrogate escapes, is hashed as the name's own bytes).

    Examples
    --------
    >>> cut_key("a", rng=0) == cut_key("a", rng=0) != cut_key("b", rng=0)
    True
    """
    if not isinstance(cut_id, str):
        raise ParameterError(f"cut_id must be a str, got {type(cut_id).__name__} {cut_id!r}")
    return derive_key(resolve_key(rng), _id_hash(cut_id))


def _id_hash(cut_id: str) -> int:
    """A stable 64-bit int of a cut id (Python's ``hash`` of a str changes between processes)."""
    # (surrogateescape: Recording.from_file names a cut after a file name that is not UTF-8 with surrogates,
    # which strict UTF-8 refused, failing every such cut; a valid id gives the same bytes either way)
    try:
        data = cut_id.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate of another kind (a JSON "\ud800")
        data = cut_id.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


# -- the pipeline as a Lhotse transform -----------------------------------------------------


@functools.lru_cache(maxsize=16)
def _built(config_json: str) -> Transform:
    """One built pipeline per config and process (building may load noise banks)."""
    return load_pipeline(json.loads(config_json))


def _config_json(config) -> str:
    return json.dumps(config, sort_keys=True)


def _pipeline_config(pipeline) -> dict:
    """A checked JSON-able config from a Transform, a config dict or a pipeline file."""
    if isinstance(pipeline, (str, os.PathLike, dict, list)):
        pipeline = load_pipeline(pipeline, name="pipeline")
    if not isinstance(pipeline, Transform):
        raise ParameterError(f"pipeline must be a noisegen Transform, a config dict or a JSON file path, got "
                             f"{type(pipeline).__name__} {show_value(pipeline)}")
    changer = length_changer(pipeline)  # the stream's rule: one list of what changes the length
    if changer is not None:
        raise ParameterError(
            f"pipeline holds {changer}, which changes the length; a cut's duration would no longer match its "
            "audio: use noisegen.lhotse.perturb_speed / perturb_tempo (they update the manifest) instead of "
            "SpeedPerturb / TimeStretch, and ApplyImpulseResponse(keep_tail=False)"
        )
    if first_in(pipeline, lambda t: isinstance(t, Shift)) is not None:
        raise ParameterError("pipeline holds Shift, which moves the audio in time; a cut's supervisions (their "
                             "offsets, and with rollover the order of its words) would no longer match its audio")
    config = pipeline.to_dict()
    _built(_config_json(config))  # fails here, not in a data-loader worker
    return config


@dataclass
class NoisegenAugment(AudioTransform):
    """A noisegen pipeline applied with a fixed key when Lhotse loads the audio.

    Made by :func:`augment_cuts`; serialised as ``{"name": "NoisegenAugment",
    "kwargs": {"pipeline": <Transform.to_dict()>, "key": <int>}}``.

    Parameters
    ----------
    pipeline : dict
        A noisegen pipeline config (:meth:`noisegen.Transform.to_dict`).
        It must keep the length.
    key : int
        The pipeline's ``rng`` (an int in ``[0, 2**64)``), see :func:`cut_key`.
    sampling_rate : int or None
        The rate of the audio the transform receives: on a recording, its
        rate when the transform was attached. Lhotse passes every transform
        of a recording the recording's final rate, which a later
        ``resample`` changes while the audio reaching this transform stays
        at the old one. None: the rate Lhotse passes (a ``MixedCut``'s
        transforms run on the mix at its own rate).
    """

    pipeline: dict
    key: int
    sampling_rate: Optional[int] = None

    def __post_init__(self):
        if isinstance(self.key, bool) or not isinstance(self.key, numbers.Integral) or not 0 <= self.key < 1 << 64:
            raise ParameterError(f"key must be an int in [0, 2**64), got {self.key!r}")
        self.key = int(self.key)
        if self.sampling_rate is not None:
            self.sampling_rate = check_sample_rate(self.sampling_rate, "sampling_rate")
        self.pipeline = _pipeline_config(self.pipeline)

    @_lhotse_layout
    def __call__(self, samples: np.ndarray, sampling_rate: int) -> np.ndarray:
        pipeline = _built(_config_json(self.pipeline))
        rate = self.sampling_rate if self.sampling_rate is not None else int(sampling_rate)
        out = pipeline(samples, sample_rate=rate, rng=self.key)
        if out.shape != samples.shape:
            raise ParameterError(
                f"NoisegenAugment: the pipeline changed the audio's shape from {samples.shape} to {out.shape}; "
                "it must keep the length"
            )
        return out

    def reverse_timestamps(self, offset, duration, sampling_rate):
        """The pipeline keeps the timing: offsets and durations are unchanged."""
        return offset, duration


def augment_cuts(cuts, pipeline, *, rng):
    """Attach a noisegen pipeline to every cut; it runs when the cut's audio is loaded.

    Parameters
    ----------
    cuts : lhotse.CutSet or lhotse.cut.Cut
        Lazy CutSets stay lazy.
    pipeline : noisegen.Transform, dict or path
        A pipeline that keeps the length and the timing (no ``SpeedPerturb``
        or ``TimeStretch``: use :func:`perturb_speed` / :func:`perturb_tempo`;
        no ``ApplyImpulseResponse(keep_tail=True)``, no ``Shift``), else a
        ParameterError here.
    rng : int, numpy.random.Generator or None
        Resolved once to a root key; each cut's key is
        ``cut_key(cut.id, rng=rng)`` (for an int ``rng``), so the same cut id
        always gets the same augmentation.

    Returns
    -------
    CutSet or Cut
        A copy whose ``load_audio()`` equals
        ``pipeline(original.load_audio(), sample_rate=cut.sampling_rate, rng=key)``.
        A ``MonoCut`` / ``MultiCut`` gets the transform on its recording (it
        sees only the cut's segment), a ``MixedCut`` on the mix; a
        ``PaddingCut`` is left alone. Augment after truncating, padding or
        mixing: those change the audio the pipeline sees. A recording
        resampled after this still runs the pipeline at the rate it had here.
        This module's :func:`resample` and ``perturb_*`` keep a
        ``MixedCut``'s pipeline (Lhotse's own ``MixedCut`` methods drop it).

    Examples
    --------
    >>> import noisegen, noisegen.lhotse  # doctest: +SKIP
    >>> cuts = noisegen.lhotse.augment_cuts(cuts, noisegen.Gain(p=1.0), rng=0)  # doctest: +SKIP
    >>> audio = cuts[0].load_audio()  # doctest: +SKIP
    """
    config = _pipeline_config(pipeline)
    attach = _Attach(config, resolve_key(rng))
    return attach(cuts) if isinstance(cuts, Cut) else _cutset(cuts).map(attach)


class _Attach:
    """Picklable ``cut -> augmented cut`` (for lazy CutSets read in workers)."""

    def __init__(self, config, root_key):
        self.config, self.root_key = config, root_key

    def __call__(self, cut):
        key = derive_key(self.root_key, _id_hash(cut.id))
        # on a recording, the rate its audio has here: after a later cuts.resample() Lhotse passes every
        # transform of the recording the new rate (a MixedCut's transforms run on the mix, at its rate)
        recording = None if isinstance(cut, MixedCut) else getattr(cut, "recording", None)
        rate = None if recording is None else recording.sampling_rate
        return _append_transform(cut, NoisegenAugment(pipeline=self.config, key=key, sampling_rate=rate))


def _append_transform(cut, transform):
    if isinstance(cut, PaddingCut):
        return cut
    held = cut.transforms if isinstance(cut, MixedCut) else getattr(getattr(cut, "recording", None), "transforms", None)
    if any(_pipeline_of(t) == transform.pipeline for t in held or ()):  # (`cuts = augment_cuts(cuts, p, rng=epoch)`)
        warn("augment_cuts: a cut already carries this pipeline, which now runs on it twice (noise added twice); for "
             "new draws each epoch, augment the cuts as they were before: augment_cuts(base_cuts, pipeline, rng=epoch)")
    if isinstance(cut, MixedCut):
        return fastcopy(cut, transforms=[*(cut.transforms or []), transform])
    recording = getattr(cut, "recording", None)
    if recording is None:
        raise ParameterError(f"cuts: cut {cut.id!r} has no recording to augment")
    recording = fastcopy(recording, transforms=[*(recording.transforms or []), transform])
    return fastcopy(cut, recording=recording)


def _pipeline_of(t):  # a cut's NoisegenAugment's pipeline: the object's, or its dict's in a manifest read back
    if isinstance(t, dict):
        return (t.get("kwargs") or {}).get("pipeline") if t.get("name") == "NoisegenAugment" else None
    return t.pipeline if isinstance(t, NoisegenAugment) else None


def _cutset(cuts):
    if not isinstance(cuts, CutSet):
        raise ParameterError(f"cuts must be a lhotse CutSet or Cut, got {type(cuts).__name__}")
    return cuts


# -- drop-in replacements for Lhotse's torchaudio-based perturbations -----------------------


def _fit(out, n):
    """``out`` cut or zero-padded to ``n`` samples: noisegen rounds ``n / factor`` half to even,
    Lhotse's manifests half up (or half down below 1); they differ by one sample at most."""
    if out.shape[-1] > n:
        return out[..., :n]
    if out.shape[-1] < n:
        return np.pad(out, [(0, 0)] * (out.ndim - 1) + [(0, n - out.shape[-1])])
    return out


@dataclass
class NoisegenSpeed(_LhotseSpeed):
    """Lhotse's ``Speed`` through :func:`noisegen.speed` (no torchaudio).

    Tempo and pitch change together by ``factor`` (pitch moves
    ``12 * log2(factor)`` semitones); the output has ``n / factor`` samples
    rounded as ``Cut.perturb_speed`` records them. Timestamps map back as in
    Lhotse (the class inherits ``reverse_timestamps``).
    """

    def __post_init__(self):
        self.factor = check_real(self.factor, "factor", low=1 / _MAX_FACTOR, high=_MAX_FACTOR)

    @_lhotse_layout
    def __call__(self, samples: np.ndarray, sampling_rate: int) -> np.ndarray:
        out = speed(samples, factor=self.factor, sample_rate=int(sampling_rate))
        return _fit(out, perturb_num_samples(samples.shape[-1], self.factor))


@dataclass
class NoisegenTempo(_LhotseTempo):
    """Lhotse's ``Tempo`` (sox ``tempo``) through :func:`noisegen.time_stretch`: tempo changes, pitch is kept.

    The output has ``n / factor`` samples rounded as ``Cut.perturb_tempo`` records them.
    ``sampling_rate`` (set by :func:`use_noisegen_transforms`) is the rate of
    the audio it receives, which sets the 30 ms WSOLA frame: Lhotse passes a
    recording's final rate, not the one before a later ``Resample``.
    """

    sampling_rate: Optional[int] = None

    def __post_init__(self):
        self.factor = check_real(self.factor, "factor", low=1 / _MAX_FACTOR, high=_MAX_FACTOR)
        if self.sampling_rate is not None:
            self.sampling_rate = check_sample_rate(self.sampling_rate, "sampling_rate")

    @_lhotse_layout
    def __call__(self, samples: np.ndarray, sampling_rate: int) -> np.ndarray:
        rate = self.sampling_rate if self.sampling_rate is not None else int(sampling_rate)
        out = time_stretch(samples, rate=self.factor, sample_rate=rate)
        return _fit(out, perturb_num_samples(samples.shape[-1], self.factor))


@dataclass
class NoisegenResample(_LhotseResample):
    """Lhotse's ``Resample`` through :func:`noisegen.resample` (band-limited polyphase FIR, no torchaudio).

    The output has as many samples as ``Cut.resample`` records.
    """

    def __post_init__(self):
        for name in ("source_sampling_rate", "target_sampling_rate"):  # before Lhotse's int() cuts 16000.9 to 16000
            setattr(self, name, check_sample_rate(getattr(self, name), name))
        super().__post_init__()
        # A ratio beyond 256 fails here (cuts.resample, reading a manifest), not in every load_audio
        check_reach(self.source_sampling_rate, self.target_sampling_rate, "the cut's audio")  # (not resample's words)

    @_lhotse_layout
    def __call__(self, samples: np.ndarray, *args, **kwargs) -> np.ndarray:
        if self.source_sampling_rate == self.target_sampling_rate:
            return samples
        src, dst = self.source_sampling_rate, self.target_sampling_rate
        out = resample_audio(samples, orig_sample_rate=src, target_sample_rate=dst)
        return _fit(out, compute_num_samples(samples.shape[-1] / src, dst))


@dataclass
class NoisegenVolume(_LhotseVolume):
    """Lhotse's ``Volume`` (a linear gain ``factor``) through :func:`noisegen.gain`."""

    def __post_init__(self):
        self.factor = check_real(self.factor, "factor", low=1e-6, high=1e6)

    @_lhotse_layout
    def __call__(self, samples: np.ndarray, sampling_rate: int) -> np.ndarray:
        return gain(samples, gain_db=float(amplitude_to_db(self.factor)))


_REPLACEMENTS = {
    "Speed": NoisegenSpeed,
    "Tempo": NoisegenTempo,
    "Resample": NoisegenResample,
    "Volume": NoisegenVolume,
}


def _name_kwargs(transform):
    if isinstance(transform, dict):
        return transform.get("name"), transform.get("kwargs", {})
    return type(transform).__name__, None


def _replace(transform, rate=None):
    """The noisegen replacement of one of Lhotse's transforms (an object or its dict), else itself;
    ``rate``: that of the audio it receives, for a tempo change."""
    name, kwargs = _name_kwargs(transform)
    cls = _REPLACEMENTS.get(name)
    if cls is None:
        return transform
    kwargs = dict(kwargs if kwargs is not None else transform.to_dict()["kwargs"])
    if cls is NoisegenTempo and rate is not None:
        kwargs["sampling_rate"] = rate
    return cls(**kwargs)


def _input_rates(transforms, rate):
    """The rate of the audio each of a recording's ``transforms`` receives; ``rate``: the recording's
    (Lhotse passes each that one, the rate after every Resample)."""
    rates = []
    for t in reversed(transforms):
        name, kwargs = _name_kwargs(t)
        if name in ("Resample", "NoisegenResample"):
            rate = (kwargs if kwargs is not None else t.to_dict()["kwargs"])["source_sampling_rate"]
        rates.append(rate)
    return rates[::-1]


def _replace_in_cut(cut):
    if isinstance(cut, PaddingCut):
        return cut
    if isinstance(cut, MixedCut):
        tracks = [fastcopy(t, cut=_replace_in_cut(t.cut)) for t in cut.tracks]
        transforms = [_replace(t) for t in cut.transforms] if cut.transforms else cut.transforms
        return fastcopy(cut, tracks=tracks, transforms=transforms)
    recording = getattr(cut, "recording", None)
    if recording is None or not recording.transforms:
        return cut
    rates = _input_rates(recording.transforms, recording.sampling_rate)
    recording = fastcopy(recording, transforms=[_replace(t, r) for t, r in zip(recording.transforms, rates)])
    return fastcopy(cut, recording=recording)


def use_noisegen_transforms(cuts):
    """Replace Lhotse's ``Speed``, ``Tempo``, ``Resample`` and ``Volume`` in ``cuts`` by noisegen's.

    For manifests made with ``cuts.perturb_speed(...)`` etc.: the durations
    and ids they recorded stay; only the audio processing changes (Lhotse's
    ``Tempo`` needs ``torchaudio.sox_effects``, removed in torchaudio 2.9).

    Parameters
    ----------
    cuts : lhotse.CutSet or lhotse.cut.Cut

    Returns
    -------
    CutSet or Cut (lazy stays lazy)
    """
    return _replace_in_cut(cuts) if isinstance(cuts, Cut) else _cutset(cuts).map(_replace_in_cut)


class _Perturb:
    """Picklable ``cut -> cut.<method>(**kwargs)`` with noisegen's transforms (for lazy CutSets)."""

    def __init__(self, method, kwargs):
        self.method, self.kwargs = method, kwargs

    def __call__(self, cut):
        out = getattr(cut, self.method)(**self.kwargs)
        if isinstance(cut, MixedCut) and cut.transforms and not out.transforms:
            # Lhotse's MixedCut.resample and perturb_* drop the mix's transforms: a pipeline attached by
            # augment_cuts (or a reverb on the mix) vanished without a word
            out = fastcopy(out, transforms=list(cut.transforms))
        return _replace_in_cut(out)


def _perturb(cuts, method, **kwargs):
    kwargs["affix_id"] = check_bool(kwargs["affix_id"], "affix_id")  # (Lhotse takes any truthy value for True)
    perturb = _Perturb(method, kwargs)
    return perturb(cuts) if isinstance(cuts, Cut) else _cutset(cuts).map(perturb)


def perturb_speed(cuts, factor: float, *, affix_id: bool = True):
    """``cuts.perturb_speed(factor)`` with :class:`NoisegenSpeed`: ids get ``_sp{factor}`` (unless
    ``affix_id=False``), durations, offsets and supervisions are scaled by ``1 / factor`` as Lhotse does."""
    factor = check_real(factor, "factor", low=1 / _MAX_FACTOR, high=_MAX_FACTOR)  # (Lhotse's Decimals refuse NumPy's)
    return _perturb(cuts, "perturb_speed", factor=factor, affix_id=affix_id)


def perturb_tempo(cuts, factor: float, *, affix_id: bool = True):
    """``cuts.perturb_tempo(factor)`` with :class:`NoisegenTempo`, pitch kept (``affix_id``: ids get ``_tp{factor}``)."""
    factor = check_real(factor, "factor", low=1 / _MAX_FACTOR, high=_MAX_FACTOR)
    return _perturb(cuts, "perturb_tempo", factor=factor, affix_id=affix_id)


def perturb_volume(cuts, factor: float, *, affix_id: bool = True):
    """``cuts.perturb_volume(factor)`` with :class:`NoisegenVolume` (ids get ``_vp{factor}`` unless
    ``affix_id=False``)."""
    factor = check_real(factor, "factor", low=1e-6, high=1e6)
    return _perturb(cuts, "perturb_volume", factor=factor, affix_id=affix_id)


def resample(cuts, sampling_rate: int, *, affix_id: bool = False):
    """``cuts.resample(sampling_rate)`` with :class:`NoisegenResample` (ids get ``_rs{sampling_rate}``
    with ``affix_id=True``, as Lhotse's)."""
    if isinstance(sampling_rate, bool) or not isinstance(sampling_rate, numbers.Integral):
        raise ParameterError(f"sampling_rate must be an int in [1, 768000], got {sampling_rate!r}")
    check_real(sampling_rate, "sampling_rate", low=1, high=768000)
    return _perturb(cuts, "resample", sampling_rate=int(sampling_rate), affix_id=affix_id)
