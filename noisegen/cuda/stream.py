"""``AugmentStream(device="cuda")``: which pipelines the GPU batch chain can run,
and the per-item parameter arrays that :func:`noisegen.cuda.augment_batch`
replays. Parameters are drawn on the host by the transforms' own
:meth:`~noisegen.Transform.draw_params` (with no audio: the supported
transforms draw nothing from the samples), as on the CPU path.
"""

from __future__ import annotations

import numpy as np

from .._core.validation import check_int, check_sample_rate, check_sequence, show_value
from .._core.errors import ParameterError
from .._core.rng import derive_key, resolve_key
from ..transforms import AddColoredNoise, BandPassFilter, Compose, Gain, SpeedPerturb
from .counts import check_counts

__all__ = ["cuda_batch_params"]

# Transform class name -> augment_batch stage. augment_batch runs its stages
# in the fixed order noise, gain, band, speed; a gain commutes with the
# others (all linear in the signal, and mixing at an SNR scales the noise
# with the signal), so only noise -> band -> speed must keep that order.
_CUDA_STAGES = {"AddColoredNoise": "noise", "Gain": "gain", "BandPassFilter": "band", "SpeedPerturb": "speed"}
_CUDA_ORDER = ("noise", "band", "speed")


def cuda_stages(pipeline):
    """The ``(stage, transform)`` pairs of a pipeline augment_batch can run; ParameterError otherwise."""
    supported = (AddColoredNoise, Gain, BandPassFilter, SpeedPerturb)
    if pipeline is None:
        return []
    if type(pipeline) is Compose:
        if pipeline.shuffle:
            raise ParameterError("device='cuda' runs the transforms in a fixed order: Compose(shuffle=True) is unsupported")
        children = pipeline.transforms
    else:
        children = [pipeline]
    stages = []
    for t in children:
        if type(t) not in supported:
            raise ParameterError(
                f"device='cuda' supports only AddColoredNoise, Gain, BandPassFilter and SpeedPerturb (alone or in one "
                f"Compose); got unsupported transform {type(t).__name__}; use device='cpu'")
        stage = _CUDA_STAGES[type(t).__name__]
        if stage in (s for s, _ in stages):
            raise ParameterError(f"device='cuda' runs each transform once per item; got {type(t).__name__} twice")
        stages.append((stage, t))
    ordered = [s for s, _ in stages if s in _CUDA_ORDER]
    if ordered != sorted(ordered, key=_CUDA_ORDER.index):
        raise ParameterError("device='cuda' runs AddColoredNoise, then BandPassFilter, then SpeedPerturb; got them in the "
                             f"order {[type(t).__name__ for s, t in stages if s in _CUDA_ORDER]}")
    return stages


def cuda_batch_params(pipeline, item_params, *, sample_rate, lengths=None, width=None, starts=None):
    """Per-item :func:`noisegen.cuda.augment_batch` arrays from a pipeline's recorded parameters.

    Parameters
    ----------
    pipeline : Transform or None
        AddColoredNoise, Gain, BandPassFilter, SpeedPerturb, or a Compose of
        them (each at most once, noise before band-pass before speed);
        anything else raises ParameterError naming the transform.
    item_params : list of dict
        One ``last_params`` per batch row (what the CPU pipeline records).
    sample_rate : int
    lengths : array of int or None
        Real samples of each row (default ``width``); give the same to
        ``augment_batch(lengths=)``, which processes each row as if alone.
    width : int or None
        Row length ``T`` of the batch (needed with ``lengths``).
    starts : list of int or None
        Offset of each row in its item: a row starting at 0 gets the noise key
        of the item's ``seed`` (the noise of :func:`noisegen.colored_noise`
        with ``rng=seed``), later chunks a key derived from it and the offset.

    Returns
    -------
    params : dict
        For ``augment_batch(params=)``: per stage the ``(B,)`` values and a
        ``<stage>_applied`` bool mask (items that drew "not applied" hold
        neutral placeholders), and the noise's ``noise_min_freq_hz`` (a float)
        when AddColoredNoise has one. Stages no item applies are left out.
    band_order : int
    lengths : np.ndarray [shape=(B,)], int64
        Real samples of each row after the speed change.

    Examples
    --------
    >>> from noisegen.transforms import Compose, Gain, SpeedPerturb
    >>> pipe = Compose([Gain(min_gain_db=-6, max_gain_db=-6, p=1.0), SpeedPerturb(factors=[1.25], p=1.0)])
    >>> rec = [{"name": "Compose", "applied": True, "indices": [0, 1], "transforms": [
    ...     {"name": "Gain", "applied": True, "gain_db": -6.0}, {"name": "SpeedPerturb", "applied": False}]}]
    >>> params, order, lengths = cuda_batch_params(pipe, rec, sample_rate=16000, lengths=[1000], width=1000)
    >>> sorted(params), params["gain_db"].tolist(), lengths.tolist()  # no item changes speed: no speed stage
    (['gain_applied', 'gain_db'], [-6.0], [1000])
    """
    stages = dict(cuda_stages(pipeline))
    sample_rate = check_sample_rate(sample_rate)
    item_params = check_sequence(item_params, "item_params")
    b = len(item_params)
    width = None if width is None else check_int(width, "width", low=1)
    lengths = np.full(b, width if width is not None else 0, np.int64) if lengths is None else \
        check_counts(lengths, "lengths", b, width)
    starts = [0] * b if starts is None else check_counts(starts, "starts", b).tolist()
    drawn = {stage: [None] * b for stage in stages}
    for i, rec in enumerate(item_params):
        if not isinstance(rec, dict):
            raise ParameterError(f"item_params[{i}] must be a transform's recorded parameters (a dict), "
                                 f"got {show_value(rec)}")
        if pipeline is None:  # (a raw stream's chunk records nothing to replay)
            children = []
        elif type(pipeline).__name__ != "Compose":
            children = [rec]
        else:
            children = rec.get("transforms", []) if rec.get("applied") else []
        for child in children:
            stage = _CUDA_STAGES.get(child.get("name"))
            if stage not in drawn:
                raise ParameterError(f"item_params[{i}] holds {child.get('name')!r}, which the pipeline does not have")
            if child.get("applied"):
                drawn[stage][i] = child
    params = {}
    noise = drawn.get("noise", [None] * b)
    if any(noise):
        params["noise_applied"] = np.array([c is not None for c in noise])
        snr, beta, keys = np.zeros(b), np.zeros(b), np.zeros(b, np.uint64)
        for i, c in enumerate(noise):
            if c is None:
                continue
            key = resolve_key(int(c["seed"]))
            keys[i] = key if starts[i] == 0 else derive_key(key, starts[i])
            beta[i] = c["beta"]
            snr[i] = c["snr_db"]
        params.update(snr_db=snr, beta=beta, noise_keys=keys)
        if stages["noise"].min_freq_hz is not None:
            params["noise_min_freq_hz"] = stages["noise"].min_freq_hz
    gain = drawn.get("gain", [None] * b)
    if any(gain):
        params["gain_applied"] = np.array([c is not None for c in gain])
        params["gain_db"] = np.array([0.0 if c is None else c["gain_db"] for c in gain])
    band = drawn.get("band", [None] * b)
    if any(band):
        params["band_applied"] = np.array([c is not None for c in band])
        neutral = (0.1 * sample_rate, 0.2 * sample_rate)
        params["band_hz"] = np.array([neutral if c is None else (c["low_hz"], c["high_hz"]) for c in band])
    speed = drawn.get("speed", [None] * b)
    if any(speed):
        params["speed_applied"] = np.array([c is not None for c in speed])
        params["speed"] = np.array([1.0 if c is None else c["factor"] for c in speed])
        lengths = np.array([round(n / f) for n, f in zip(lengths, params["speed"])], dtype=np.int64)
    band_order = stages["band"].order if "band" in stages else 4
    return params, band_order, lengths
