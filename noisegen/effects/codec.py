"""Lossy and telephone codecs: an in-memory encode and decode through libsndfile.

:func:`codec` runs audio through a real encoder and decoder (the libsndfile
that python-soundfile ships: LAME/mpg123, libopus, libvorbis and
libsndfile's own GSM 6.10, G.711, G.72x and IMA ADPCM coders), at the
codec's own sample rate, with :func:`noisegen.resample` on the way in and
out. Nothing touches the disk.

How each format is run (the rate the codec sees; the bitrate per channel):

- ``mp3`` (MP3/MPEG_LAYER_III, LAME): the smallest of 8, 11.025, 12, 16,
  22.05, 24, 32, 44.1 and 48 kHz at or above the input rate (else 48 kHz);
  constant bitrate (8-320), clamped to the MPEG version's range: 8-64 kbps below 16
  kHz, 8-160 at 16-24 kHz, 32-320 from 32 kHz; default 64.
- ``opus`` (OGG/OPUS): the smallest of 8, 12, 16, 24 and 48 kHz at or above
  the input rate (else 48 kHz); a VBR target of 6-256 kbps; default 32.
- ``vorbis`` (OGG/VORBIS): the smallest of MP3's rates at or above the input
  rate (else 48 kHz); the VBR quality whose nominal bitrate is nearest the
  request; default 64. libvorbis's setups are tuned for those rates: between
  9 and 15 kHz, off 11.025 and 12 kHz, its top quality garbled a steady tone
  (a 440 Hz sine at 10 kHz came back at 2 dB SNR, 2.5 kHz at 13.5 kHz at 5 dB).
- ``gsm`` (WAV/GSM610, 13 kbps), ``mulaw`` and ``alaw`` (WAV/ULAW, WAV/ALAW,
  G.711, 64 kbps), ``g721`` (AU/G721_32, 32 kbps), ``g723_24`` and
  ``g723_40`` (AU/G723_24, AU/G723_40), ``ima_adpcm`` (WAV/IMA_ADPCM, 32
  kbps): 8 kHz, fixed bitrate.

- The telephone codecs (G.711 mu-law and A-law, GSM 6.10, G.72x ADPCM, IMA
  ADPCM as in VoIP's DVI4) run at 8 kHz, as on a telephone line: their output
  is band-limited to 4 kHz. To quantise with mu-law without the band limit,
  pass audio at 8 kHz (nothing is resampled then).
- Bitrates map onto libsndfile's compression level (``SFC_SET_COMPRESSION_LEVEL``):
  MP3 in constant-bitrate mode, ``kbps = max - level * (max - min)`` over the
  version's range (LAME then takes the nearest standard bitrate); Opus
  ``bps = 6000 + (1 - level) * 250000``; Vorbis is quality-driven (VBR), so
  ``bitrate_kbps`` picks the quality whose nominal bitrate (the one libvorbis
  writes in the stream header) is nearest, interpolated between the 11
  qualities 0.0, 0.1, ... 1.0 (16 kHz mono: 24-99 kbps; 8 kHz: 14-41; 44.1
  and 48 kHz: 48-239). A bitrate outside a format's whole range (the
  ``bitrate_kbps`` ranges of :func:`codec`) is refused; one inside it that the
  codec does not offer at its rate is clamped to the nearest it does.
  Measured from the encoded size (4 s of noise at 16 kHz): MP3 8/32/64/128
  kbps give 8.2/32.8/66.2/132.5 kbps, Opus 6/16/32/64 give 6.5/15.1/30.8/67.0
  (container overhead included).
- Fixed-rate codecs accept ``bitrate_kbps=None`` or their own rate only.
- Each channel is coded as its own mono stream (no joint-stereo coding), so
  channels keep their alignment and ``bitrate_kbps`` is per channel.
- Encoder delay: libsndfile 1.2 removes it in most cases (the LAME gapless
  tag, the Opus pre-skip, the Vorbis granule positions) but not all: low
  bitrate MP3 (8 kHz up to 16 kbps, 11.025 and 12 kHz up to 24, 16 and 32 kHz
  up to 32, 22.05 and 44.1 kHz up to 48, 24 and 48 kHz up to 56) comes back
  1105 samples late (LAME's 576 plus the decoder's 529: 0.14 s at 8 kHz),
  and Opus at 16-48 kHz is 1-2 samples off in its
  SILK and hybrid modes. So the delay is *measured* once per (format, rate,
  bitrate) by cross-correlating a noise probe (100 Hz-2 kHz, 0.5 s) through
  the codec, cached, and removed; block codecs (GSM, G.72x, IMA ADPCM) pad
  the last block, which is cut. Opus picks its mode from the content, so the
  probe's delay is then refined on the signal itself: the cross-correlation
  peak in the probe's band (Opus's delay changes with frequency by up to 2
  samples) within a few samples of it (+-2 at 8-16 kHz, +-3 at 24 kHz, +-4 at
  48 kHz), taken when the normalised correlation exceeds 0.5. The output has
  the input's length and its alignment to the nearest sample. libsndfile's
  Opus writer does not flush the encoder's look-ahead (the last few ms came
  back faded to silence), so Opus codes 20 ms of zeros after the signal.
- Digital silence comes back as zeros from MP3, Vorbis, mu-law, G.72x, IMA
  ADPCM and Opus from 18 kbps (libopus's float decoder leaves a bias of
  2e-34 there, zeroed); Opus below 18 kbps decodes it to a faint noise of
  one or two LSB (2**-15), GSM to a DC of 2**-11 (16 LSB, -66 dBFS; as
  pedalboard's GSM does), A-law to a DC of 2**-12, as they do.
- Level: LAME's constant-bitrate presets scale the input before encoding
  (by 0.95 up to 160 kbps, 0.97 at 192, 0.98 at 224, 1.0 from 256: 0.45
  dB quieter at most bitrates). The scale is *measured* once per (rate,
  bitrate), from a 440 Hz tone through the encoder (rounded to LAME's steps
  of 0.01), and divided out, so MP3 keeps the input's level as the other
  codecs do.
- Input beyond [-1, 1] (after resampling) is scaled down by its peak before
  encoding and back up after, per channel, so nothing clips (PCM-style
  codecs saturate at full scale). G.72x input is scaled likewise beyond
  [-0.5, 0.5]: libsndfile's G.72x decoders wrap around near full scale (a
  full-scale square wave came back with the signs of its samples flipped).

Speed: far slower than the DSP effects; README "Codecs" has the measured
speeds (``python -m bench.bench_codec``).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .._core.validation import (
    MAX_RATE_FACTOR,
    check_audio,
    check_choice,
    check_finite_output,
    check_real,
    check_sample_rate,
)
from .._core.backend import resolve_backend
from .._core.errors import BackendError, ParameterError
from .filters import bandpass
from .resample import resample

__all__ = ["codec"]


@dataclass(frozen=True)
class _Spec:
    container: str
    subtype: str
    rates: tuple | None = None  # supported rates; None: 8 kHz only (telephone)
    fixed_kbps: float | None = None  # fixed-rate codecs
    default_kbps: float | None = None
    max_peak: float = 1.0  # the loudest peak coded as it is; a louder channel is scaled down to it and back


_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)

FORMATS = {
    "mp3": _Spec("MP3", "MPEG_LAYER_III", _MP3_RATES, default_kbps=64.0),
    "opus": _Spec("OGG", "OPUS", _OPUS_RATES, default_kbps=32.0),
    "vorbis": _Spec("OGG", "VORBIS", _MP3_RATES, default_kbps=64.0),
    "gsm": _Spec("WAV", "GSM610", fixed_kbps=13.0),
    "mulaw": _Spec("WAV", "ULAW", fixed_kbps=64.0),
    "alaw": _Spec("WAV", "ALAW", fixed_kbps=64.0),
    # libsndfile's G.72x decoders wrap around near full scale (a square wave at 0.8 comes back with its
    # samples' signs flipped, SNR -2 dB at 1.0): coded at a peak of at most 0.5, clean at every level
    "g721": _Spec("AU", "G721_32", fixed_kbps=32.0, max_peak=0.5),
    "g723_24": _Spec("AU", "G723_24", fixed_kbps=24.0, max_peak=0.5),
    "g723_40": _Spec("AU", "G723_40", fixed_kbps=40.0, max_peak=0.5),
    "ima_adpcm": _Spec("WAV", "IMA_ADPCM", fixed_kbps=32.0),
}
#: Variable-rate formats' global bitrate ranges (kbps), before clamping per rate.
BITRATE_RANGES = {"mp3": (8.0, 320.0), "opus": (6.0, 256.0), "vorbis": (8.0, 500.0)}
TELEPHONE_RATE = 8000
#: Longest encoder delay looked for by the probe, in seconds.
_MAX_DELAY_S = 0.1
_MAX_DELAY_MIN = 2048
#: The delay probe's band (Hz): every codec and bitrate keeps it, and speech lives in it.
_PROBE_HZ = (100.0, 2000.0)
#: Most frames handed to libsndfile in one write (noisegen.save writes in the same pieces).
_WRITE_FRAMES = 1 << 16
#: libopus's float decoder adds 1e-30 in its de-emphasis against denormals (CELT's VERY_SMALL), so
#: digital silence decoded to a constant 2.03e-34 (6.67e-30 / 32768), which Normalize then scaled to
#: a full-scale DC. Opus codes nothing that quiet (input below -200 dBFS came back as that bias alone,
#: and MP3 and Vorbis give zeros there): decoded samples below this are zeroed.
_OPUS_BIAS = 1e-30


def codec(y, *, sample_rate, format, bitrate_kbps=None, backend="auto"):
    """Encode and decode audio with a lossy or telephone codec (in memory).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)], float32 or float64
    sample_rate : int
        At least 32 Hz: every codec runs at 8 kHz or more, and the resampler
        changes a rate by at most 256x.
    format : {"mp3", "opus", "vorbis", "gsm", "mulaw", "alaw", "g721", "g723_24", "g723_40", "ima_adpcm"}
        The codec; see the module docstring for the rate each runs at.
    bitrate_kbps : float or None
        Per channel. mp3: 8-320 (CBR), opus: 6-256 (VBR target), vorbis:
        8-500 (nominal, via VBR quality), each clamped to what the codec
        offers at its rate; ``None`` is 64, 32 and 64. The fixed-rate codecs
        take ``None`` or their own rate (gsm 13, mulaw/alaw 64, g721 32,
        g723_24 24, g723_40 40, ima_adpcm 32).
    backend : {"auto", "cpu"}
        Codecs run in libsndfile, on the CPU: a CUDA array or
        ``backend="cuda"`` raises BackendError.

    Returns
    -------
    np.ndarray, same shape and dtype as ``y``: the decoded audio, aligned
    with ``y`` (encoder delay removed, block padding cut).

    Raises
    ------
    ParameterError
        An unknown ``format``, a bitrate out of range or given to a fixed-rate
        codec, a format the installed libsndfile cannot write, or input so
        near its dtype's limit that the coded result leaves the dtype's range.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(16000) / 16000
    >>> y = 0.5 * np.sin(2 * np.pi * 440 * t)
    >>> out = codec(y, sample_rate=16000, format="gsm")
    >>> out.shape == y.shape, out.dtype
    (True, dtype('float64'))
    >>> bool(np.corrcoef(y, out)[0, 1] > 0.95)
    True
    """
    resolve_backend(backend, y)  # no GPU form: raises BackendError for CUDA
    y = check_audio(y, "y")
    sample_rate = check_sample_rate(sample_rate)
    fmt = check_choice(format, "format", tuple(FORMATS))
    kbps = check_bitrate(fmt, bitrate_kbps)
    require_format(fmt)
    rate = codec_rate(fmt, sample_rate)
    if rate > MAX_RATE_FACTOR * sample_rate:  # the resampler's limit (sample_rate <= 768 kHz is never too high)
        raise ParameterError(
            f"sample_rate must be at least {-(-rate // MAX_RATE_FACTOR)} Hz for format={fmt!r}, which codes at "
            f"{rate} Hz (resampling changes the rate by at most {MAX_RATE_FACTOR}x), got {sample_rate}"
        )
    if y.shape[-1] == 0:
        return y.copy()
    kbps = _clamp_bitrate(fmt, rate, kbps)
    rows = np.atleast_2d(y).astype(np.float64)
    coded = [_channel(row, sample_rate, rate, fmt, kbps) for row in rows]
    with np.errstate(over="ignore"):  # a result past y's dtype's range: the error below
        out = np.stack([unit * scale for unit, scale in coded]).reshape(y.shape).astype(y.dtype)
    return check_finite_output(out, f"codec(format={fmt!r})", y=y)


def codec_rate(format: str, sample_rate: int) -> int:
    """The sample rate ``format`` is run at for input at ``sample_rate``."""
    spec = FORMATS[format]
    if spec.rates is None:
        return TELEPHONE_RATE
    return next((r for r in spec.rates if r >= sample_rate), spec.rates[-1])


def check_bitrate(fmt, bitrate_kbps, name="bitrate_kbps"):
    """The bitrate ``format=fmt`` codes at for ``bitrate_kbps`` (None: its default), before clamping
    per rate; errors name ``name`` (the Codec transform's replay names its params' key)."""
    spec = FORMATS[fmt]
    if spec.fixed_kbps is not None:
        if bitrate_kbps is not None and check_real(bitrate_kbps, name) != spec.fixed_kbps:
            raise ParameterError(
                f"{name} must be None or {spec.fixed_kbps:g} for the fixed-rate codec "
                f"format={fmt!r}, got {bitrate_kbps!r}"
            )
        return spec.fixed_kbps
    if bitrate_kbps is None:
        return spec.default_kbps
    lo, hi = BITRATE_RANGES[fmt]
    return check_real(bitrate_kbps, name, low=lo, high=hi)


def _format_available(fmt: str) -> bool:
    """Whether the installed libsndfile can write ``fmt`` (monkeypatched in tests)."""
    import soundfile as sf

    spec = FORMATS[fmt]
    try:
        return spec.subtype in sf.available_subtypes(spec.container) and sf.check_format(
            spec.container, spec.subtype
        )
    except (ValueError, TypeError):  # container unknown to this soundfile
        return False


def require_format(fmt):
    if not _format_available(fmt):
        import soundfile as sf

        spec = FORMATS[fmt]
        raise ParameterError(
            f"format={fmt!r} needs libsndfile with {spec.container}/{spec.subtype} support; the installed "
            f"libsndfile {getattr(sf, '__libsndfile_version__', '?')} lacks it (python-soundfile >= 0.13 "
            "wheels ship libsndfile 1.2.2 with every format codec() offers)"
        )


def _clamp_bitrate(fmt, rate, kbps):
    """The bitrate the codec is asked for at ``rate`` (clamped to what it offers). For MP3 it is
    the whole kbps libsndfile asks LAME for (see :func:`_compression_level`): the same encoding, and
    one entry per bitrate in the caches of measured delays and scales, however finely drawn."""
    if fmt == "mp3":
        lo, hi = _mp3_range(rate)
        return float(min(max(math.floor(kbps + 0.25), lo), hi))
    elif fmt == "vorbis":
        nominal = _vorbis_nominal(rate)
        lo, hi = nominal[0], nominal[-1]
    else:
        lo, hi = BITRATE_RANGES.get(fmt, (kbps, kbps))
    return float(min(max(kbps, lo), hi))


def _mp3_range(rate):
    # MPEG-1 (>= 32 kHz), MPEG-2 (16-24 kHz), MPEG-2.5 (< 16 kHz): libsndfile's ranges.
    return (32.0, 320.0) if rate >= 32000 else ((8.0, 160.0) if rate >= 16000 else (8.0, 64.0))


def _compression_level(fmt, rate, kbps):
    """libsndfile's ``compression_level`` in [0, 1] for ``kbps`` (see the module docstring)."""
    if fmt == "mp3":  # libsndfile truncates max - level * (max - min) to an int: aim 0.25 above
        lo, hi = _mp3_range(rate)
        return min(max((hi - kbps - 0.25) / (hi - lo), 0.0), 1.0)
    if fmt == "opus":  # bps = int((1 - level) * 250000 + 6000)
        return min(max(1.0 - (kbps * 1000.0 - 6000.0 + 0.5) / 250000.0, 0.0), 1.0)
    if fmt == "vorbis":  # quality = 1 - level, chosen by nominal bitrate
        return 1.0 - float(np.interp(kbps, _vorbis_nominal(rate), _VORBIS_QUALITIES))
    return None


_VORBIS_QUALITIES = np.linspace(0.0, 1.0, 11)


@lru_cache(maxsize=None)
def _vorbis_nominal(rate: int) -> np.ndarray:
    """Nominal bitrate (kbps, mono) libvorbis states for qualities 0.0, 0.1, ... 1.0 at ``rate``."""
    nominal = []
    for q in _VORBIS_QUALITIES:
        data = _encode(np.zeros(1), rate, FORMATS["vorbis"], 1.0 - q, None)
        i = data.find(b"\x01vorbis")  # identification header: version, channels, rate, max, nominal
        nominal.append(int.from_bytes(data[i + 20 : i + 24], "little", signed=True) / 1000.0)
    nominal = np.maximum.accumulate(np.asarray(nominal))  # np.interp needs it sorted
    return nominal


def _encode(x, rate, spec, level, mode) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    try:
        with sf.SoundFile(buf, "w", samplerate=rate, channels=1, format=spec.container, subtype=spec.subtype,
                          compression_level=level, bitrate_mode=mode) as f:
            for a in range(0, max(x.shape[-1], 1), _WRITE_FRAMES):  # (libsndfile's Vorbis encoder crashes
                f.write(x[a : a + _WRITE_FRAMES])  # the process on ~2 M frames in one write, as save knows)
    except (RuntimeError, sf.LibsndfileError) as exc:  # pragma: no cover - broken libsndfile
        raise BackendError(f"libsndfile could not encode {spec.container}/{spec.subtype} at {rate} Hz: {exc}") from exc
    return buf.getvalue()


def _roundtrip(x, rate, fmt, kbps) -> np.ndarray:
    """Encode and decode one channel at the codec rate (decoded length may differ), at its level."""
    decoded = _coded(x, rate, fmt, kbps)
    return decoded / _lame_scale(rate, kbps) if fmt == "mp3" else decoded


def _coded(x, rate, fmt, kbps) -> np.ndarray:
    """One channel encoded and decoded, as the codec gives it back (MP3: scaled by LAME's preset)."""
    import soundfile as sf

    spec = FORMATS[fmt]
    level = _compression_level(fmt, rate, kbps)
    if spec.rates is None:
        # The telephone coders work on 16-bit PCM. Hand them int16 (read back as /32768): for G.711,
        # libsndfile's float path rounds to the finest step and then decodes to the step's middle,
        # which doubles the error power of A-law below -30 dBFS; its int16 path truncates, as G.711 does.
        x = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    elif fmt == "opus":
        # libsndfile's Ogg/Opus writer does not flush the encoder's look-ahead (6.5 ms): the last
        # few ms came back faded to near silence. 20 ms of zeros after the signal carry them
        # through (the caller cuts the decoded audio to the input's length).
        x = np.concatenate([x, np.zeros(rate // 50)])
    data = _encode(x, rate, spec, level, "CONSTANT" if fmt == "mp3" else None)
    decoded, _ = sf.read(io.BytesIO(data), dtype="float64", always_2d=False)
    decoded = decoded.reshape(-1)
    if fmt == "opus":  # the de-emphasis bias of libopus's float decoder is no audio: see _OPUS_BIAS
        decoded[np.abs(decoded) < _OPUS_BIAS] = 0.0
    return decoded


@lru_cache(maxsize=1024)
def _lame_scale(rate: int, kbps: float) -> float:
    """The input scale of LAME's constant-bitrate preset at ``rate`` and ``kbps`` (see the module
    notes): the level of a 440 Hz tone (1 s, amplitude 0.3; coded to within -65 dB at every
    bitrate) after the encoder, over its level before, rounded to LAME's steps of 0.01. It is
    measured from 0.5 s on: past the start, and the delay of up to 0.14 s (see the module notes)."""
    tone = 0.3 * np.sin(2.0 * np.pi * 440.0 * np.arange(rate) / rate)
    decoded, middle = _coded(tone, rate, "mp3", kbps), slice(rate // 2, 7 * rate // 8)
    scale = round(float(np.sqrt(np.mean(decoded[middle] ** 2) / np.mean(tone[middle] ** 2))), 2)
    return scale if 0.5 <= scale <= 1.0 else 1.0  # a tone lost or garbled: leave the level as decoded


def _channel(row, sample_rate, rate, fmt, kbps):
    """One channel through the codec, as ``(unit, scale)``: the output is ``unit * scale``.

    The scale is applied by the caller, after everything else: near float64's
    limit the correlations of the delay search and the resampling back would
    overflow on the scaled signal (with numpy warnings, or a NaN/inf error
    blaming y), and the product may leave the output dtype's range.
    """
    n = row.shape[-1]
    x = row if rate == sample_rate else resample(row, orig_sample_rate=sample_rate, target_sample_rate=rate)
    peak, limit = float(np.max(np.abs(x))), FORMATS[fmt].max_peak
    # keep PCM-style codecs out of saturation, G.72x out of wrap: a louder channel is coded at a peak of
    # limit and comes back as (decoded / limit) * peak; a scale of peak / limit overflowed to inf for
    # G.72x (limit 0.5) past half float64's range, which coded zeros and gave 0 * inf = NaN
    loud = peak > limit
    scale = peak if loud else 1.0
    x = x / peak * limit if loud else x
    decoded = _roundtrip(x, rate, fmt, kbps)
    delay = _measured_delay(fmt, rate, kbps)
    delay += _refine_delay(x, decoded, delay, 1 + -(-rate // 16000), rate)
    decoded = _align(decoded, delay, x.shape[-1])
    if rate != sample_rate:
        decoded = _align(resample(decoded, orig_sample_rate=rate, target_sample_rate=sample_rate), 0, n)
    return (decoded / limit if loud else decoded), scale


def _refine_delay(x, decoded, delay, window, rate):
    """The lag in ``[-window, window]`` around ``delay`` at which ``decoded`` best matches ``x``
    within the probe's band, :data:`_PROBE_HZ` (0 unless the normalised correlation there exceeds 0.5).

    In that band only: Opus's delay changes with frequency (at 48 kHz and 32 kbps the decoded audio
    is 2.3 samples early below 2 kHz, 1.1 at 4-7 kHz, on time above 9 kHz), so over the whole band a
    noise above the speech (birdsong, white noise at 10 dB SNR) moved the speech 1-2 samples off
    the input, where the speech alone stays on it.
    """
    # (a 4th-order band-pass on both: the same filter keeps their lag, and no buffer grows past theirs)
    x, decoded = (bandpass(z, low_hz=_PROBE_HZ[0], high_hz=_PROBE_HZ[1], sample_rate=rate) for z in (x, decoded))
    n = x.shape[-1]
    best, best_value = 0, -np.inf
    for k in range(-window, window + 1):
        lag = delay + k
        lo, hi = max(0, -lag), min(n, decoded.shape[-1] - lag)
        value = _dot(x[lo:hi], decoded[lo + lag : hi + lag]) if hi > lo else 0.0
        if value > best_value:
            best, best_value = k, value
    norm = np.sqrt(_dot(x, x) * _dot(decoded, decoded))
    return best if norm > 0.0 and best_value / norm > 0.5 else 0


def _dot(a, b) -> float:
    """``sum(a * b)`` in one thread. Not ``np.dot``: OpenBLAS runs a long dot on a thread per core, which on
    a busy machine (DataLoader workers on every core) spun for 5-16 ms a dot of 61,000 samples where one
    thread takes 0.03 ms: mu-law at 16 kHz ran at 59x real time, 527x with one BLAS thread."""
    return float(np.einsum("i,i->", a, b))


def _align(x, delay, n):
    """``x`` advanced by ``delay`` samples, cut or zero-padded to ``n``."""
    x = x[delay:] if delay >= 0 else np.concatenate([np.zeros(-delay), x])
    if x.shape[-1] >= n:
        return x[:n]
    return np.concatenate([x, np.zeros(n - x.shape[-1])])


@lru_cache(maxsize=1024)  # bounded: Opus bitrates drawn from a range are all different
def _measured_delay(fmt: str, rate: int, kbps: float) -> int:
    """The codec's delay at ``rate`` in samples (decoded lags input), from a probe.

    Band-limited noise (100 Hz to 2 kHz, which every codec and bitrate keeps; 0.5 s, or four times the
    largest lag) goes through the codec; the delay is the peak of the cross-correlation within +-0.1 s
    (at least +-_MAX_DELAY_MIN samples: LAME's 1,105 at 8 kHz is 0.14 s), trusted only when the
    normalised peak exceeds 0.5 (else 0).
    """
    max_lag = max(int(_MAX_DELAY_S * rate), _MAX_DELAY_MIN)
    n = max(rate // 2, 4 * max_lag)  # (the overlap at the largest lag keeps 3/4 of the probe)
    spectrum = np.fft.rfft(np.random.default_rng(20240616).standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    spectrum[(freqs < _PROBE_HZ[0]) | (freqs > _PROBE_HZ[1])] = 0.0
    probe = np.fft.irfft(spectrum, n)
    probe *= 0.3 / np.max(np.abs(probe))
    out = _roundtrip(probe, rate, fmt, kbps)[:n]
    out = np.concatenate([out, np.zeros(n - out.shape[-1])])
    size = 2 * n
    cc = np.fft.irfft(np.fft.rfft(out, size) * np.conj(np.fft.rfft(probe, size)), size)
    lags = np.r_[np.arange(0, max_lag + 1), np.arange(-max_lag, 0)]
    values = cc[lags]
    best = int(np.argmax(values))
    norm = np.sqrt(_dot(probe, probe) * _dot(out, out))
    if norm == 0.0 or values[best] / norm < 0.5:
        return 0
    return int(lags[best])
