"""Codecs and packet loss: how slow a real encoder and decoder is next to the DSP.

* ``codec`` for every format on 16 kHz speech (mono float32): an in-memory
  libsndfile encode and decode at the codec's rate, with noisegen's resampler
  on the way in and out (16 -> 8 -> 16 kHz for the telephone codecs). One
  call per format at its default bitrate (mp3 64 kbps, opus 32, vorbis 64).
  Quality: SNR of the output against the input (dB) and the lag of the
  cross-correlation peak (samples; 0 when aligned).
* ``packet_loss`` at 10 % with repeat concealment, and the 300-3400 Hz
  band-pass (Butterworth order 4) as the DSP yardstick.
* ``flac_decode``: the clip as an in-memory FLAC file (16-bit, 16 kHz mono,
  as LibriSpeech ships, and 24-bit 44.1 kHz stereo) decoded to float32 by
  noisegen's FLAC reader (``noisegen.audio.segment.decode``, no resampling)
  and by ``soundfile.read`` (libsndfile and libFLAC) in the same run. Quality: the largest
  difference from soundfile's samples (0: bit for bit).
* ``vorbis_decode``: likewise an in-memory Ogg Vorbis file (16 kHz mono, as
  Common Voice-style corpora ship, and 44.1 kHz stereo; libsndfile's default
  quality) through noisegen's Vorbis reader and ``soundfile.read``
  (libsndfile and libvorbis). Quality: the largest difference from
  soundfile's samples.

Anchor: pedalboard (a bench dependency) in the same run: ``GSMFullRateCompressor``
(GSM 6.10 at 8 kHz, resampled in and out, like for like) and ``MP3Compressor``
(LAME, VBR quality 2: no constant-bitrate mode, so not like for like with
64 kbps CBR). audiomentations' ``Mp3Compression`` needs LAME bindings
(lameenc, fast-mp3-augment) or pydub/ffmpeg, which are not installed here.

Run alone: ``python -m bench.bench_codec`` (4 s clips, one thread), or
``python -m bench --only codec``.
"""

from __future__ import annotations

import sys

import numpy as np

from bench._harness import SR, Case, ng

FORMATS = ("mp3", "opus", "vorbis", "gsm", "mulaw", "alaw", "g721", "g723_24", "g723_40", "ima_adpcm")


def make_codec(fmt):
    fn = ng("codec")
    if fn is None:
        raise AttributeError("noisegen.codec is not available")
    return lambda clip: fn(clip.speech, sample_rate=SR, format=fmt)


def make_pedalboard(plugin):
    """pedalboard's ``plugin`` ("GSMFullRateCompressor" or "MP3Compressor") over the clip, as a user runs it."""
    import pedalboard

    board = pedalboard.Pedalboard([getattr(pedalboard, plugin)(**({"vbr_quality": 2.0} if plugin == "MP3Compressor"
                                                                   else {}))])
    return lambda clip: board(clip.speech, SR)


def make_packet_loss():
    fn = ng("packet_loss")
    if fn is None:
        raise AttributeError("noisegen.packet_loss is not available")
    return lambda clip: fn(clip.speech, sample_rate=SR, loss_rate=0.1, concealment="repeat", rng=0)


def make_bandpass():
    fn = ng("bandpass")
    return lambda clip: fn(clip.speech, sample_rate=SR, low_hz=300.0, high_hz=3400.0, order=4)


def _encoded_files(fmt, layout):
    """``clip -> (file bytes, rate)`` of the clip in ``layout`` as an in-memory ``fmt`` file ("FLAC":
    16-bit mono 16 kHz or 24-bit stereo 44.1 kHz; "OGG": Vorbis, mono 16 kHz or stereo 44.1 kHz),
    encoded once per clip length. The 44.1 kHz layouts stretch the clip in time to that rate (a
    stand-in for a 44.1 kHz recording), the second channel reversed and quieter."""
    import io

    import soundfile as sf

    stereo = "44.1 kHz" in layout
    subtype = "VORBIS" if fmt == "OGG" else ("PCM_24" if stereo else "PCM_16")
    cache = {}

    def files(clip):
        if clip.n not in cache:
            buf = io.BytesIO()
            if not stereo:
                sf.write(buf, clip.speech, SR, format=fmt, subtype=subtype)
                cache[clip.n] = buf.getvalue(), SR
            else:
                rate = 44100
                x = clip.speech[np.minimum((np.arange(int(clip.n * rate / SR)) * SR) // rate, clip.n - 1)]
                sf.write(buf, np.stack([x, 0.7 * x[::-1]], axis=1), rate, format=fmt, subtype=subtype)
                cache[clip.n] = buf.getvalue(), rate
        return cache[clip.n]
    return files


def make_decode_noisegen(fmt, layout):
    """noisegen's own reader of ``fmt`` (``noisegen.audio.segment.decode``, no resampling)."""
    from noisegen.audio.segment import decode

    files = _encoded_files(fmt, layout)

    def fn(clip):
        data, rate = files(clip)
        return decode(data, sample_rate=rate, mono=False)
    return fn


def make_flac_soundfile(layout):
    import io

    import soundfile as sf

    files = _encoded_files("FLAC", layout)
    return lambda clip: sf.read(io.BytesIO(files(clip)[0]), dtype="float32")[0]


def make_vorbis_soundfile(layout):
    import io

    import soundfile as sf

    files = _encoded_files("OGG", layout)
    return lambda clip: sf.read(io.BytesIO(files(clip)[0]), dtype="float32", always_2d=True)[0].T


def _q_decode(fmt, layout):
    """The largest difference from soundfile's samples of the same file, (channels, n) both."""
    def q(fn, clip):
        import io

        import soundfile as sf

        ref = sf.read(io.BytesIO(_encoded_files(fmt, layout)(clip)[0]), dtype="float32", always_2d=True)[0].T
        out = np.asarray(fn(clip))
        out = out.reshape(1, -1) if out.ndim == 1 else out if out.shape[0] == ref.shape[0] else out.T
        return {"max_abs_diff": float(np.max(np.abs(out - ref))) if out.shape == ref.shape else float("inf")}
    return q


def q_codec(fn, clip):
    x = clip.speech.astype(np.float64)
    y = fn(clip).astype(np.float64)
    size = 2 * len(x)
    cc = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)
    lag = int(np.argmax(cc))
    lag = lag if lag < size // 2 else lag - size
    snr = 10 * np.log10(np.sum(x * x) / max(np.sum((y - x) ** 2), 1e-30))
    return {"snr_db": round(float(snr), 1), "lag": lag}


def cases(cfg):
    m = "bench.bench_codec:"
    out = [Case("codec", {"format": fmt}, "noisegen", f"noisegen codec {fmt}", m + "make_codec", {"fmt": fmt},
                q_codec) for fmt in FORMATS]
    out += [Case("codec", {"format": fmt}, "pedalboard", f"pedalboard {plugin}{note}", m + "make_pedalboard",
                 {"plugin": plugin}, q_codec, like_for_like=fmt == "gsm", requires=("pedalboard",))
            for fmt, plugin, note in (("gsm", "GSMFullRateCompressor", ""), ("mp3", "MP3Compressor", " (VBR 2)"))]
    out += [
        Case("packet_loss", {"loss_rate": 0.1}, "noisegen", "noisegen packet_loss (repeat)", m + "make_packet_loss"),
        Case("bandpass", {"low_hz": 300.0, "high_hz": 3400.0, "order": 4}, "noisegen", "noisegen bandpass (DSP)",
             m + "make_bandpass"),
    ]
    for layout in ("16-bit mono 16 kHz", "24-bit stereo 44.1 kHz"):
        out += [
            Case("flac_decode", {"layout": layout}, "noisegen", "noisegen FLAC reader", m + "make_decode_noisegen",
                 {"fmt": "FLAC", "layout": layout}, _q_decode("FLAC", layout)),
            Case("flac_decode", {"layout": layout}, "soundfile", "soundfile.read (libsndfile, libFLAC)",
                 m + "make_flac_soundfile", {"layout": layout}, _q_decode("FLAC", layout)),
        ]
    for layout in ("mono 16 kHz", "stereo 44.1 kHz"):
        out += [
            Case("vorbis_decode", {"layout": layout}, "noisegen", "noisegen Vorbis reader", m + "make_decode_noisegen",
                 {"fmt": "OGG", "layout": layout}, _q_decode("OGG", layout)),
            Case("vorbis_decode", {"layout": layout}, "soundfile", "soundfile.read (libsndfile, libvorbis)",
                 m + "make_vorbis_soundfile", {"layout": layout}, _q_decode("OGG", layout)),
        ]
    return out


if __name__ == "__main__":
    from bench.__main__ import main

    sys.exit(main(["--only", "codec", "--clip-s", "4", "--no-cold", *sys.argv[1:]]))
