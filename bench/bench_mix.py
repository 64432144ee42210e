"""Mixing at SNR, Butterworth filters and RIR convolution.

* ``mix_at_snr`` 10 dB from a preloaded 40 s noise bank (random offset per
  call) vs a plain numpy crop-and-scale, with its powers from ``np.mean(x*x)``
  and from BLAS ``np.dot(x, x)`` (the faster one users write), and
  audiomentations ``AddBackgroundNoise`` (which reads its noise file per
  call: that is how users run it). Quality: achieved SNR error in dB.
* band-pass 300-3400 Hz and low-pass 4 kHz, Butterworth order 4, vs
  ``scipy.signal.sosfilt`` with a precomputed ``sos`` and audiomentations
  (HighPass+LowPass / LowPassFilter at 24 dB/octave). Quality: max error
  relative to the scipy output's peak.
* ``lowpass_drawn``: the ``LowPassFilter`` transform with its cut-off drawn
  per call (150-7500 Hz, order 4), so a filter is designed per call, vs
  audiomentations ``LowPassFilter`` (24 dB/octave) and scipy ``butter`` +
  ``sosfilt`` per call.
* ``colored_drawn``: the ``AddColoredNoise`` transform with beta (-2 to 2) and
  SNR drawn per call, vs audiomentations ``AddColorNoise`` (-6 to 6 dB/octave).
* RIR 0.5 s vs ``scipy.signal.oaconvolve`` / ``fftconvolve`` and a numpy
  ``rfft`` product, audiomentations ``ApplyImpulseResponse``, pedalboard
  ``Convolution``. Quality: max relative error vs scipy's full convolution
  (first n samples) and the correlation with it (for libraries that rescale).
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import numpy as np

from bench._harness import SR, Case, ng, tile
from bench._quality import max_rel_error, snr_error_db

SNR_DB = 10.0
_TMP = []  # temporary folders that must live as long as the process


def _tmpdir() -> Path:
    d = tempfile.TemporaryDirectory(prefix="ngbench-")
    _TMP.append(d)
    return Path(d.name)


#: Length of the noise bank ``mix_at_snr`` crops from (longer banks for longer clips).
MIX_BANK_S = 40.0
_BANKS: dict = {}


def _bank(clip) -> np.ndarray:
    """The clip's noise tiled to at least ``MIX_BANK_S`` (and twice the clip), made once per clip
    length. Every library's timed call looks it up, so the lookup is kept to one dict access (it
    took ~1 us, 5 % of a 4 s mix, with an import statement and the length's arithmetic)."""
    bank = _BANKS.get(clip.n)
    if bank is None:
        bank = _BANKS[clip.n] = tile(clip.noise_bank, max(int(MIX_BANK_S * SR), 2 * clip.n))
    return bank


def _offsets(seed=0):
    """Random crop offsets, drawn ahead: a scalar ``Generator.integers`` costs ~4 us, as much as a
    quarter of a 4 s mix, and would be timed with every library alike (diluting the ratio)."""
    drawn = {}

    def offset(clip):
        if clip.n not in drawn:
            rng = np.random.default_rng(seed)
            drawn[clip.n] = itertools.cycle(int(o) for o in rng.integers(0, len(_bank(clip)) - clip.n, 4096))
        return next(drawn[clip.n])
    return offset


# ----------------------------------------------------------------- mix at SNR


def make_mix_noisegen():
    fn = ng("mix_at_snr")
    if fn is None:
        raise AttributeError("noisegen.mix_at_snr is not available")
    off = _offsets()
    return lambda clip: fn(clip.speech, _bank(clip), snr_db=SNR_DB, noise_offset=off(clip))


def make_mix_numpy(powers="mean"):
    """Crop and scale; ``powers="mean"``: ``np.mean(x * x)``, ``"dot"``: BLAS ``np.dot(x, x) / n``."""
    off = _offsets()

    def power(x):
        if powers == "dot":
            return float(np.dot(x, x)) / x.size
        return np.mean(x * x)

    def mix(clip):
        o = off(clip)
        noise = _bank(clip)[o: o + clip.n]
        ps = power(clip.speech)
        pn = power(noise)
        g = np.sqrt(ps / (pn * 10 ** (SNR_DB / 10)))
        return clip.speech + np.float32(g) * noise

    return mix


def make_mix_audiomentations():
    import soundfile as sf
    from audiomentations import AddBackgroundNoise

    from bench._harness import Clip

    d = _tmpdir()
    sf.write(str(d / "noise.wav"), Clip.make(30.0).noise_bank, SR, subtype="FLOAT")
    t = AddBackgroundNoise(sounds_path=str(d), min_snr_db=SNR_DB, max_snr_db=SNR_DB, p=1.0)
    return lambda clip: t(clip.speech, sample_rate=SR)


def q_mix(fn, clip):
    errs = [snr_error_db(clip.speech, fn(clip), SNR_DB) for _ in range(3)]
    return {"snr_err_db": float(np.max(np.abs(errs)))}


# ----------------------------------------------------------------- filters

FILTERS = {
    "bandpass": {"low_hz": 300.0, "high_hz": 3400.0},
    "lowpass": {"cutoff_hz": 4000.0},
}


def _scipy_sos(kind):
    from scipy.signal import butter

    p = FILTERS[kind]
    if kind == "bandpass":
        return butter(4, [p["low_hz"], p["high_hz"]], btype="bandpass", fs=SR, output="sos")
    return butter(4, p["cutoff_hz"], btype="lowpass", fs=SR, output="sos")


def make_filter_noisegen(kind):
    fn = ng(kind)
    if fn is None:
        raise AttributeError(f"noisegen.{kind} is not available")
    p = FILTERS[kind]
    return lambda clip: fn(clip.speech, sample_rate=SR, order=4, **p)


def make_filter_scipy(kind):
    from scipy.signal import sosfilt

    sos = _scipy_sos(kind)
    return lambda clip: sosfilt(sos, clip.speech).astype(np.float32)


def make_filter_audiomentations(kind):
    from audiomentations import Compose, HighPassFilter, LowPassFilter

    p = FILTERS[kind]
    if kind == "bandpass":  # its BandPassFilter cannot span 300-3400 Hz (bandwidth <= 1.99 x centre)
        t = Compose([
            HighPassFilter(min_cutoff_freq=p["low_hz"], max_cutoff_freq=p["low_hz"], min_rolloff=24,
                           max_rolloff=24, p=1.0),
            LowPassFilter(min_cutoff_freq=p["high_hz"], max_cutoff_freq=p["high_hz"], min_rolloff=24,
                          max_rolloff=24, p=1.0),
        ])
    else:
        t = LowPassFilter(min_cutoff_freq=p["cutoff_hz"], max_cutoff_freq=p["cutoff_hz"], min_rolloff=24,
                          max_rolloff=24, p=1.0)
    return lambda clip: t(clip.speech, sample_rate=SR)


# A transform that draws its cut-off per call designs a filter per call: what an augmentation pipeline runs.
DRAWN = {"min_cutoff_hz": 150.0, "max_cutoff_hz": 7500.0, "order": 4}


def make_drawn_noisegen():
    from noisegen.transforms import LowPassFilter

    t, seeds = LowPassFilter(**DRAWN, p=1.0), itertools.count()
    return lambda clip: t(clip.speech, sample_rate=SR, rng=next(seeds))


def make_drawn_scipy():
    """``butter(..., output="sos")`` and ``sosfilt`` per call, the cut-off drawn as the transforms draw it."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(0)

    def run(clip):
        cutoff = float(rng.uniform(DRAWN["min_cutoff_hz"], DRAWN["max_cutoff_hz"]))
        return sosfilt(butter(DRAWN["order"], cutoff, btype="lowpass", fs=SR, output="sos"), clip.speech)
    return run


def make_drawn_audiomentations():
    from audiomentations import LowPassFilter

    t = LowPassFilter(min_cutoff_freq=DRAWN["min_cutoff_hz"], max_cutoff_freq=DRAWN["max_cutoff_hz"],
                      min_rolloff=6 * DRAWN["order"], max_rolloff=6 * DRAWN["order"], p=1.0)
    return lambda clip: t(clip.speech, sample_rate=SR)


COLORED_DRAWN = {"min_beta": -2.0, "max_beta": 2.0, "min_snr_db": 3.0, "max_snr_db": 30.0}


def make_colored_drawn(library):
    """``AddColoredNoise`` with its exponent and SNR drawn per call (a noise filter designed per call);
    audiomentations' ``AddColorNoise`` over the same range (f_decay = -3.01 beta dB/octave)."""
    if library == "noisegen":
        from noisegen.transforms import AddColoredNoise

        t, seeds = AddColoredNoise(**COLORED_DRAWN, p=1.0), itertools.count()
        return lambda clip: t(clip.speech, sample_rate=SR, rng=next(seeds))
    from audiomentations import AddColorNoise

    t = AddColorNoise(min_snr_db=COLORED_DRAWN["min_snr_db"], max_snr_db=COLORED_DRAWN["max_snr_db"],
                      min_f_decay=-6.02, max_f_decay=6.02, p=1.0)
    return lambda clip: t(clip.speech, sample_rate=SR)


def q_drawn(fn, clip):
    return {"len_err": int(fn(clip).shape[-1] - clip.n)}


def _q_filter(kind):
    def q(fn, clip):
        from scipy.signal import sosfilt

        ref = sosfilt(_scipy_sos(kind), clip.speech.astype(np.float64))
        return {"max_rel_err": max_rel_error(fn(clip), ref)}

    return q


# ----------------------------------------------------------------- RIR


def make_rir_noisegen():
    fn = ng("convolve_rir")
    if fn is None:
        raise AttributeError("noisegen.convolve_rir is not available")
    return lambda clip: fn(clip.speech, clip.rir, normalize=None)


def make_rir_scipy(method):
    from scipy import signal

    conv = getattr(signal, method)
    return lambda clip: conv(clip.speech, clip.rir)[: clip.n]


def make_rir_numpy():
    def fn(clip):
        n, m = clip.n, len(clip.rir)
        nfft = 1 << int(np.ceil(np.log2(n + m - 1)))
        return np.fft.irfft(np.fft.rfft(clip.speech, nfft) * np.fft.rfft(clip.rir, nfft), nfft)[:n].astype(np.float32)

    return fn


def _rir_file(clip_rir_len=SR // 2):
    import soundfile as sf

    from bench._harness import Clip

    d = _tmpdir()
    sf.write(str(d / "rir.wav"), Clip.make(1.0).rir, SR, subtype="FLOAT")
    return d


def make_rir_audiomentations():
    from audiomentations import ApplyImpulseResponse

    t = ApplyImpulseResponse(ir_path=str(_rir_file()), p=1.0, leave_length_unchanged=True)
    return lambda clip: t(clip.speech, sample_rate=SR)


def make_rir_pedalboard():
    from pedalboard import Convolution

    conv = Convolution(str(_rir_file() / "rir.wav"), mix=1.0)
    return lambda clip: conv(clip.speech[None, :], SR, reset=True)[0]


def q_rir(fn, clip):
    from scipy.signal import fftconvolve

    ref = fftconvolve(clip.speech.astype(np.float64), clip.rir.astype(np.float64))[: clip.n]
    y = np.asarray(fn(clip), np.float64).reshape(-1)[: clip.n]
    corr = float(np.corrcoef(y, ref)[0, 1]) if len(y) == len(ref) else float("nan")
    return {"max_rel_err": max_rel_error(y, ref), "corr": round(corr, 5)}


# ----------------------------------------------------------------- cases


def cases(cfg):
    m = "bench.bench_mix:"
    out = [
        Case("mix_at_snr", {"snr_db": SNR_DB}, "noisegen", "noisegen mix_at_snr (bank, offset)",
             m + "make_mix_noisegen", quality=q_mix),
        Case("mix_at_snr", {"snr_db": SNR_DB}, "numpy", "numpy crop-and-scale (reference)",
             m + "make_mix_numpy", quality=q_mix),
        Case("mix_at_snr", {"snr_db": SNR_DB}, "numpy", "numpy crop-and-scale, BLAS np.dot powers",
             m + "make_mix_numpy", {"powers": "dot"}, q_mix),
        Case("mix_at_snr", {"snr_db": SNR_DB}, "audiomentations", "audiomentations AddBackgroundNoise",
             m + "make_mix_audiomentations", quality=q_mix, requires=("audiomentations",)),
    ]
    for kind, p in FILTERS.items():
        params = {**p, "order": 4}
        q = _q_filter(kind)
        out += [
            Case(kind, params, "noisegen", f"noisegen {kind}", m + "make_filter_noisegen", {"kind": kind}, q),
            Case(kind, params, "scipy", "scipy sosfilt (precomputed sos)", m + "make_filter_scipy",
                 {"kind": kind}, q, requires=("scipy",)),
            Case(kind, params, "audiomentations",
                 "audiomentations HighPass+LowPassFilter" if kind == "bandpass" else "audiomentations LowPassFilter",
                 m + "make_filter_audiomentations", {"kind": kind}, q, requires=("audiomentations",)),
        ]
    out += [
        Case("lowpass_drawn", DRAWN, "noisegen", "noisegen LowPassFilter (cut-off drawn per call)",
             m + "make_drawn_noisegen", quality=q_drawn),
        Case("lowpass_drawn", DRAWN, "scipy", "scipy butter + sosfilt per call", m + "make_drawn_scipy",
             quality=q_drawn, requires=("scipy",)),
        Case("lowpass_drawn", DRAWN, "audiomentations", "audiomentations LowPassFilter (cut-off drawn per call)",
             m + "make_drawn_audiomentations", quality=q_drawn, requires=("audiomentations",)),
        Case("colored_drawn", COLORED_DRAWN, "noisegen", "noisegen AddColoredNoise (beta drawn per call)",
             m + "make_colored_drawn", {"library": "noisegen"}, q_drawn),
        Case("colored_drawn", COLORED_DRAWN, "audiomentations", "audiomentations AddColorNoise (decay drawn per call)",
             m + "make_colored_drawn", {"library": "audiomentations"}, q_drawn, requires=("audiomentations",)),
    ]
    params = {"rir_s": 0.5}
    out += [
        Case("convolve_rir", params, "noisegen", "noisegen convolve_rir", m + "make_rir_noisegen", quality=q_rir),
        Case("convolve_rir", params, "scipy", "scipy oaconvolve", m + "make_rir_scipy", {"method": "oaconvolve"},
             q_rir, requires=("scipy",)),
        Case("convolve_rir", params, "scipy", "scipy fftconvolve", m + "make_rir_scipy", {"method": "fftconvolve"},
             q_rir, requires=("scipy",)),
        Case("convolve_rir", params, "numpy", "numpy rfft (reference)", m + "make_rir_numpy", quality=q_rir),
        Case("convolve_rir", params, "audiomentations", "audiomentations ApplyImpulseResponse",
             m + "make_rir_audiomentations", quality=q_rir, requires=("audiomentations",)),
        Case("convolve_rir", params, "pedalboard", "pedalboard Convolution", m + "make_rir_pedalboard",
             quality=q_rir, requires=("pedalboard",)),
    ]
    return out
