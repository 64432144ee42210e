"""Time-stretch, pitch-shift, speed perturbation and resampling.

Anchors: ``librosa.effects`` (phase vocoder; pitch via soxr_hq resampling),
python-stretch (Signalsmith Stretch), pedalboard (Rubber Band), audiomentations
(its defaults: Signalsmith), soxr HQ, ``librosa.resample`` and
``scipy.signal.resample_poly``.

Quality: output length error in samples (expected ``round(n / rate)``;
``n * target / orig`` for resampling), semitone error measured by a spectral F0
estimate on a 220 Hz harmonic tone (target 0 for a stretch, ``n_steps`` for a
pitch shift, ``12 log2(factor)`` for speed), log-mel distance (dB) between a
stretched speech clip and the original re-timed, and for resampling the
attenuation of a tone above the new Nyquist and the gain of a 1 kHz tone.
``resample_drawn``: the ``Resample`` transform, its rate drawn per call
(8-16 kHz), against audiomentations' ``Resample`` (one way).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from bench._harness import SR, Case, ng
from bench._quality import f0_hz, log_mel_distance, semitones

F0 = 220.0


def _tone_clip(clip):
    return dataclasses.replace(clip, speech=clip.tone)


def _mono(y):
    return np.asarray(y).reshape(-1)


# ----------------------------------------------------------------- time-stretch


def make_stretch(library, rate):
    if library == "noisegen":
        fn = ng("time_stretch")
        if fn is None:
            raise AttributeError("noisegen.time_stretch is not available")
        return lambda clip: fn(clip.speech, rate=rate, sample_rate=SR)
    if library == "librosa":
        import librosa

        return lambda clip: librosa.effects.time_stretch(clip.speech, rate=rate)
    if library == "python-stretch":
        import python_stretch

        def run(clip):
            s = python_stretch.Signalsmith.Stretch()
            s.preset(1, float(SR))
            s.setTimeFactor(rate)
            return s.process(clip.speech[None, :])[0]

        return run
    if library.startswith("pedalboard"):
        import pedalboard

        hq = library == "pedalboard"
        return lambda clip: pedalboard.time_stretch(clip.speech, SR, stretch_factor=rate, high_quality=hq)[0]
    if library == "audiomentations":
        from audiomentations import TimeStretch

        t = TimeStretch(min_rate=rate, max_rate=rate, leave_length_unchanged=False, p=1.0)
        return lambda clip: t(clip.speech, sample_rate=SR)
    raise ValueError(library)


def _q_stretch(rate):
    def q(fn, clip):
        out = _mono(fn(clip))
        tone_out = _mono(fn(_tone_clip(clip)))
        return {"len_err": int(len(out) - round(clip.n / rate)),
                "st_err": round(semitones(f0_hz(tone_out, F0), F0), 4),
                "logmel_db": round(log_mel_distance(out, clip.speech), 3)}

    return q


# ----------------------------------------------------------------- pitch-shift


def make_pitch(library, n_steps):
    if library == "noisegen":
        fn = ng("pitch_shift")
        if fn is None:
            raise AttributeError("noisegen.pitch_shift is not available")
        return lambda clip: fn(clip.speech, sample_rate=SR, n_steps=n_steps)
    if library == "librosa":
        import librosa

        return lambda clip: librosa.effects.pitch_shift(clip.speech, sr=SR, n_steps=n_steps)
    if library == "python-stretch":
        import python_stretch

        def run(clip):
            s = python_stretch.Signalsmith.Stretch()
            s.preset(1, float(SR))
            s.setTransposeSemitones(n_steps)
            return s.process(clip.speech[None, :])[0]

        return run
    if library == "pedalboard":
        import pedalboard

        board = pedalboard.Pedalboard([pedalboard.PitchShift(semitones=n_steps)])
        return lambda clip: board(clip.speech, SR, reset=True)
    if library == "audiomentations":
        from audiomentations import PitchShift

        t = PitchShift(min_semitones=n_steps, max_semitones=n_steps, p=1.0)
        return lambda clip: t(clip.speech, sample_rate=SR)
    raise ValueError(library)


def _q_pitch(n_steps):
    def q(fn, clip):
        tone_out = _mono(fn(_tone_clip(clip)))
        expected = F0 * 2 ** (n_steps / 12)
        return {"len_err": int(len(tone_out) - clip.n),
                "st_err": round(semitones(f0_hz(tone_out, expected), F0) - n_steps, 4)}

    return q


# ----------------------------------------------------------------- speed and resample


def _cached_input(make):
    cache = {}

    def get(clip):
        if clip.n not in cache:
            cache[clip.n] = make(clip)
        return cache[clip.n]

    return get


def make_speed(library, factor):
    if library == "noisegen":
        fn = ng("speed")
        if fn is None:
            raise AttributeError("noisegen.speed is not available")
        return lambda clip: fn(clip.speech, factor=factor, sample_rate=SR)
    if library == "soxr":
        import soxr

        return lambda clip: soxr.resample(clip.speech, SR * factor, SR, quality="HQ")
    if library == "scipy":
        from fractions import Fraction

        from scipy.signal import resample_poly

        fr = Fraction(factor).limit_denominator(1000)  # speed = resample from SR*factor to SR
        return lambda clip: resample_poly(clip.speech, fr.denominator, fr.numerator).astype(np.float32)
    if library == "librosa":
        import librosa

        return lambda clip: librosa.resample(clip.speech, orig_sr=SR * factor, target_sr=SR)
    raise ValueError(library)


def _q_speed(factor):
    def q(fn, clip):
        tone_out = _mono(fn(_tone_clip(clip)))
        expected_st = 12 * math.log2(factor)
        return {"len_err": int(len(tone_out) - round(clip.n / factor)),
                "st_err": round(semitones(f0_hz(tone_out, F0 * factor), F0) - expected_st, 4)}

    return q


def _to_rate(clip, sr):
    from scipy.signal import resample_poly

    g = math.gcd(SR, sr)
    return resample_poly(clip.speech.astype(np.float64), sr // g, SR // g).astype(np.float32)


def make_resample(library, orig, target):
    cached = _cached_input(lambda clip: clip.speech if orig == SR else _to_rate(clip, orig))

    def src(clip):
        return clip.speech if isinstance(clip, _Feed) else cached(clip)

    if library == "noisegen":
        fn = ng("resample")
        if fn is None:
            raise AttributeError("noisegen.resample is not available")
        return lambda clip: fn(src(clip), orig_sample_rate=orig, target_sample_rate=target)
    if library == "soxr":
        import soxr

        return lambda clip: soxr.resample(src(clip), orig, target, quality="HQ")
    if library == "librosa":
        import librosa

        return lambda clip: librosa.resample(src(clip), orig_sr=orig, target_sr=target)
    if library == "scipy":
        from scipy.signal import resample_poly

        g = math.gcd(orig, target)
        return lambda clip: resample_poly(src(clip), target // g, orig // g).astype(np.float32)
    raise ValueError(library)


def _q_resample(library, orig, target):
    def q(fn, clip):
        # Rebuild the op on pure tones at the original rate: a 1 kHz pass-band tone, and when
        # downsampling one above target/2 (its alias), when upsampling one at 0.85 of the input
        # Nyquist frequency (its image at orig - f).
        n = int(clip.clip_s * orig)
        t = np.arange(n) / orig
        op = make_resample(library, orig, target)
        res = {}
        if target < orig:
            alias_hz = min(0.75 * target / 2 + 0.25 * orig / 2, 0.45 * orig)
            tests = (("pass_gain_db", 1000.0, None), ("alias_atten_db", alias_hz, None))
        else:
            tests = (("pass_gain_db", 1000.0, None), ("image_atten_db", 0.425 * orig, 0.575 * orig))
        for name, f, measured_hz in tests:
            x = (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)
            y = np.asarray(op(_Feed(x)), np.float64)
            if name == "pass_gain_db":
                res["len_err"] = round(len(y) - n * target / orig, 2)
            core = y[len(y) // 8: -len(y) // 8]
            if measured_hz is not None:  # the level of one frequency in the output (the image's)
                u = (np.arange(len(core)) + len(y) // 8) / target
                core = np.abs(np.mean(core * np.exp(-2j * np.pi * measured_hz * u))) * np.sqrt(2)
            xin = x[len(x) // 8: -len(x) // 8].astype(np.float64)
            res[name] = round(float(20 * np.log10(np.sqrt(np.mean(core**2)) / np.sqrt(np.mean(xin**2)) + 1e-30)), 2)
        return res

    return q


#: Resample's defaults: a rate drawn per call, a round trip through it (a new ratio most calls).
RESAMPLE_DRAWN = {"min_sample_rate": 8000, "max_sample_rate": 16000}


def make_resample_drawn(library):
    """The ``Resample`` transform with its rate drawn per call (audiomentations': one way only,
    to the drawn rate, so it does half the work and is no like-for-like anchor)."""
    import itertools

    if library == "noisegen":
        from noisegen.transforms import Resample

        t, seeds = Resample(**RESAMPLE_DRAWN, p=1.0), itertools.count()
        return lambda clip: t(clip.speech, sample_rate=SR, rng=next(seeds))
    if library == "audiomentations":
        from audiomentations import Resample

        t = Resample(**RESAMPLE_DRAWN, p=1.0)
        return lambda clip: t(clip.speech, sample_rate=SR)
    raise ValueError(library)


def q_resample_drawn(fn, clip):
    return {"len_err": int(np.shape(fn(clip))[-1] - clip.n)}


class _Feed:
    """A clip whose audio is already at the original rate (quality checks)."""

    def __init__(self, x):
        self.speech = x


# ----------------------------------------------------------------- cases

#: librosa imports soxr lazily, on its first call (every function here reaches it): without it the
#: import succeeds and each call fails, so soxr is named as a requirement to get a "skipped" record.
LIBROSA = ("librosa", "soxr")
STRETCH_LIBS = [("noisegen", "noisegen time_stretch (wsola)", ()),
                ("librosa", "librosa.effects.time_stretch", LIBROSA),
                ("python-stretch", "python-stretch Signalsmith", ("python_stretch",)),
                ("pedalboard", "pedalboard time_stretch (high_quality)", ("pedalboard",)),
                ("pedalboard-fast", "pedalboard time_stretch (high_quality=False)", ("pedalboard",)),
                ("audiomentations", "audiomentations TimeStretch (signalsmith)", ("audiomentations",))]
PITCH_LIBS = [("noisegen", "noisegen pitch_shift", ()),
              ("librosa", "librosa.effects.pitch_shift", LIBROSA),
              ("python-stretch", "python-stretch Signalsmith", ("python_stretch",)),
              ("pedalboard", "pedalboard PitchShift", ("pedalboard",)),
              ("audiomentations", "audiomentations PitchShift (signalsmith)", ("audiomentations",))]
SPEED_LIBS = [("noisegen", "noisegen speed", ()),
              ("soxr", "soxr HQ", ("soxr",)),
              ("scipy", "scipy resample_poly", ("scipy",)),
              ("librosa", "librosa.resample (soxr_hq)", LIBROSA)]
RESAMPLE_LIBS = [("noisegen", "noisegen resample", ()),
                 ("soxr", "soxr HQ", ("soxr",)),
                 ("librosa", "librosa.resample (soxr_hq)", LIBROSA),
                 ("scipy", "scipy resample_poly", ("scipy",))]


def cases(cfg):
    m = "bench.bench_time:"
    out = []
    for rate in (0.8, 1.25):
        for lib, variant, req in STRETCH_LIBS:
            out.append(Case("time_stretch", {"rate": rate}, lib.split("-fast")[0], variant, m + "make_stretch",
                            {"library": lib, "rate": rate}, _q_stretch(rate), requires=req))
    for n_steps in (-4, -2, 2, 4):
        for lib, variant, req in PITCH_LIBS:
            out.append(Case("pitch_shift", {"n_steps": n_steps}, lib, variant, m + "make_pitch",
                            {"library": lib, "n_steps": n_steps}, _q_pitch(n_steps), requires=req))
    for factor in (0.9, 1.1):
        for lib, variant, req in SPEED_LIBS:
            out.append(Case("speed", {"factor": factor}, lib, variant, m + "make_speed",
                            {"library": lib, "factor": factor}, _q_speed(factor), requires=req))
    for orig, target in ((44100, 16000), (16000, 8000), (8000, 16000)):
        for lib, variant, req in RESAMPLE_LIBS:
            out.append(Case("resample", {"orig": orig, "target": target}, lib, variant, m + "make_resample",
                            {"library": lib, "orig": orig, "target": target},
                            _q_resample(lib, orig, target), requires=req))
    out.append(Case("resample_drawn", RESAMPLE_DRAWN, "noisegen", "noisegen Resample (rate drawn per call)",
                    m + "make_resample_drawn", {"library": "noisegen"}, q_resample_drawn))
    out.append(Case("resample_drawn", RESAMPLE_DRAWN, "audiomentations", "audiomentations Resample (one way)",
                    m + "make_resample_drawn", {"library": "audiomentations"}, like_for_like=False,
                    requires=("audiomentations",)))
    return out
