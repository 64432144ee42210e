"""The full chain: noise at 10 dB + gain -6 dB + pitch +2 semitones + stretch
rate 1.1 + 0.5 s RIR.

noisegen's functions chained by hand, against the fastest hand-rolled
alternative (numpy mix, python-stretch doing pitch and stretch in one pass,
scipy ``fftconvolve``), audiomentations ``Compose`` with its defaults
(Signalsmith) and pedalboard (Gain, ``time_stretch`` with pitch, Convolution).
Quality: output length error (expected ``round(n / 1.1)``) and the semitone
error of a 220 Hz harmonic tone sent through the same chain.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from bench._harness import SR, Case, ng
from bench._quality import f0_hz, semitones
from bench.bench_mix import _bank, _offsets, _rir_file, _tmpdir

SNR_DB, GAIN_DB, N_STEPS, RATE = 10.0, -6.0, 2.0, 1.1
PARAMS = {"snr_db": SNR_DB, "gain_db": GAIN_DB, "n_steps": N_STEPS, "rate": RATE, "rir_s": 0.5}


def make_noisegen():
    names = ("mix_at_snr", "gain", "pitch_shift", "time_stretch", "convolve_rir")
    fns = {n: ng(n) for n in names}
    missing = [n for n, f in fns.items() if f is None]
    if missing:
        raise AttributeError(f"noisegen.{', '.join(missing)} not available")
    off = _offsets()

    def chain(clip):
        y = fns["mix_at_snr"](clip.speech, _bank(clip), snr_db=SNR_DB, noise_offset=off(clip))
        y = fns["gain"](y, gain_db=GAIN_DB)
        y = fns["pitch_shift"](y, sample_rate=SR, n_steps=N_STEPS)
        y = fns["time_stretch"](y, rate=RATE, sample_rate=SR)
        return fns["convolve_rir"](y, clip.rir, normalize=None)

    return chain


def make_handrolled():
    import python_stretch
    from scipy.signal import fftconvolve

    off = _offsets()

    def chain(clip):
        o = off(clip)
        noise = _bank(clip)[o: o + clip.n]  # the offsets are drawn for the 40 s bank
        g = np.sqrt(np.mean(clip.speech**2) / (np.mean(noise**2) * 10 ** (SNR_DB / 10)))
        y = (clip.speech + np.float32(g) * noise) * np.float32(10 ** (GAIN_DB / 20))
        s = python_stretch.Signalsmith.Stretch()
        s.preset(1, float(SR))
        s.setTransposeSemitones(N_STEPS)
        s.setTimeFactor(RATE)
        y = s.process(y[None, :])[0]
        return fftconvolve(y, clip.rir)[: len(y)].astype(np.float32)

    return chain


def make_audiomentations():
    import soundfile as sf
    from audiomentations import AddBackgroundNoise, ApplyImpulseResponse, Compose, Gain, PitchShift, TimeStretch

    from bench._harness import Clip

    d = _tmpdir()
    sf.write(str(d / "noise.wav"), Clip.make(30.0).noise_bank, SR, subtype="FLOAT")
    t = Compose([
        AddBackgroundNoise(sounds_path=str(d), min_snr_db=SNR_DB, max_snr_db=SNR_DB, p=1.0),
        Gain(min_gain_db=GAIN_DB, max_gain_db=GAIN_DB, p=1.0),
        PitchShift(min_semitones=N_STEPS, max_semitones=N_STEPS, p=1.0),
        TimeStretch(min_rate=RATE, max_rate=RATE, leave_length_unchanged=False, p=1.0),
        ApplyImpulseResponse(ir_path=str(_rir_file()), p=1.0),
    ])
    return lambda clip: t(clip.speech, sample_rate=SR)


def make_pedalboard():
    import pedalboard

    off = _offsets()
    conv = pedalboard.Pedalboard([pedalboard.Convolution(str(_rir_file() / "rir.wav"), mix=1.0)])

    def chain(clip):
        o = off(clip)
        noise = _bank(clip)[o: o + clip.n]  # the offsets are drawn for the 40 s bank
        g = np.sqrt(np.mean(clip.speech**2) / (np.mean(noise**2) * 10 ** (SNR_DB / 10)))
        y = (clip.speech + np.float32(g) * noise)[None, :]
        y = pedalboard.Pedalboard([pedalboard.Gain(GAIN_DB)])(y, SR)
        y = pedalboard.time_stretch(y, SR, stretch_factor=RATE, pitch_shift_in_semitones=N_STEPS)
        return conv(y, SR, reset=True)[0]

    return chain


def q_chain(fn, clip):
    out = np.asarray(fn(clip)).reshape(-1)
    tone_out = np.asarray(fn(dataclasses.replace(clip, speech=clip.tone))).reshape(-1)
    target = 220.0 * 2 ** (N_STEPS / 12)
    return {"len_err": int(len(out) - round(clip.n / RATE)),
            "st_err": round(semitones(f0_hz(tone_out, target), 220.0) - N_STEPS, 4)}


def cases(cfg):
    m = "bench.bench_chain:"
    return [
        Case("chain", PARAMS, "noisegen", "noisegen functions chained", m + "make_noisegen", quality=q_chain),
        Case("chain", PARAMS, "numpy+python-stretch+scipy", "numpy+python-stretch+scipy (hand-rolled)",
             m + "make_handrolled", quality=q_chain, requires=("python_stretch", "scipy")),
        Case("chain", PARAMS, "audiomentations", "audiomentations Compose (signalsmith)",
             m + "make_audiomentations", quality=q_chain, requires=("audiomentations",)),
        Case("chain", PARAMS, "pedalboard", "pedalboard (Gain, time_stretch w/ pitch, Convolution)",
             m + "make_pedalboard", quality=q_chain, requires=("pedalboard",)),
    ]
