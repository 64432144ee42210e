"""The streaming generator: per-item cost of ``AugmentStream`` around a pipeline.

One in-memory utterance of ``clip_s`` seconds goes through
``Compose([AddBackgroundNoise(data/noise, 0-20 dB), Gain(-6..6 dB)])``:
through ``noisegen.AugmentStream`` (whole utterances, ``chunk_s=None``), as
a direct call of the noisegen pipeline, and through audiomentations'
``Compose`` of the same transforms. Skips cleanly (status "not available")
while ``AugmentStream`` or the transforms have not landed.
"""

from __future__ import annotations

import itertools

import numpy as np

from bench._harness import DATA, SR, Case, ng

PARAMS = {"snr_db": "0-20", "gain_db": "-6..6"}


def _pipeline():
    Compose, Noise, Gain = ng("Compose"), ng("AddBackgroundNoise"), ng("Gain")
    if None in (Compose, Noise, Gain):
        raise AttributeError("noisegen transforms (Compose, AddBackgroundNoise, Gain) not available")
    return Compose([Noise(str(DATA / "noise"), min_snr_db=0.0, max_snr_db=20.0, p=1.0),
                    Gain(min_gain_db=-6.0, max_gain_db=6.0, p=1.0)])


def make_stream():
    AugmentStream = ng("AugmentStream")
    if AugmentStream is None:
        raise AttributeError("noisegen.AugmentStream is not available")
    pipe = _pipeline()
    seeds = itertools.count()

    def run(clip):
        stream = AugmentStream([clip.speech], pipe, sample_rate=SR, chunk_s=None, rng=next(seeds), shuffle=False)
        return [c.samples for c in stream][0]

    return run


def make_direct():
    pipe = _pipeline()
    seeds = itertools.count()
    return lambda clip: pipe(clip.speech, sample_rate=SR, rng=next(seeds))


def make_audiomentations():
    from audiomentations import AddBackgroundNoise, Compose, Gain

    t = Compose([AddBackgroundNoise(sounds_path=str(DATA / "noise"), min_snr_db=0.0, max_snr_db=20.0, p=1.0),
                 Gain(min_gain_db=-6.0, max_gain_db=6.0, p=1.0)])
    return lambda clip: t(clip.speech, sample_rate=SR)


def q_len(fn, clip):
    out = np.asarray(fn(clip))
    return {"len_err": int(out.shape[-1] - clip.n)}


def cases(cfg):
    m = "bench.bench_stream:"
    return [
        Case("stream_item", PARAMS, "noisegen", "noisegen AugmentStream (whole utterance)", m + "make_stream",
             quality=q_len),
        Case("stream_item", PARAMS, "noisegen-direct", "noisegen Compose called directly ≠", m + "make_direct",
             quality=q_len, like_for_like=False),
        Case("stream_item", PARAMS, "audiomentations", "audiomentations Compose", m + "make_audiomentations",
             quality=q_len, requires=("audiomentations",)),
    ]
