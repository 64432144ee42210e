"""How a bank reads its files, and the rule for unusable sounds."""

from __future__ import annotations

import contextlib
import contextvars
import os

import numpy as np

from .._core.errors import NoisegenError
from .._core.validation import MAX_SAMPLE_RATE, out_of_reach
from ..effects.resample import Resampler
from .blocks import FileBlocks
from .io import _soundfile, check_regular, resample_to
from .segment import read_own_rate, resampled_length, segment_span


#: The largest value that, held throughout a file, is digital silence rather than an offset (A-law's
#: silence decodes to 2**-12; 2**-10 is -60 dBFS).
DIGITAL_SILENCE = 2.0**-10


def unusable(y: np.ndarray, *, one_sample_ok: bool = True) -> str | None:
    """Why a loaded sound cannot be used (None when it can): empty, non-finite, silent (zeros, or a faint
    value throughout: A-law's digital silence decodes to +-2**-12), one value throughout (a DC
    offset; a boxcar is no room), or, unless ``one_sample_ok``, one sample (a noise of it, tiled, is
    an offset). Give it the file's own samples: resampling rings at a constant's ends."""
    sound = _Sound()
    sound.feed(y)
    return sound.why(one_sample_ok)


class _Sound:
    """:func:`unusable`'s rule over a sound given in blocks (time on the last axis)."""

    def __init__(self):
        self.n, self.finite, self.nonzero, self.first, self.constant = 0, True, False, None, True

    def feed(self, y):
        if y.shape[-1] == 0:
            return
        self.n += y.shape[-1]
        self.finite = self.finite and bool(np.isfinite(y).all())
        self.nonzero = self.nonzero or bool(np.any(y))
        if self.first is None:
            self.first = float(y.flat[0])  # (the first sample of the first channel, as y[..., :1] is in one block)
            ref = y[..., :1]
        else:
            ref = np.asarray(self.first, dtype=y.dtype)
        self.constant = self.constant and not np.any(y != ref)

    def why(self, one_sample_ok=True):
        if self.n == 0:
            return "holds no samples"
        if not self.finite:
            return "holds NaN/inf samples"
        if not self.nonzero:
            return "silent"
        if self.n == 1 and not one_sample_ok:  # (a noise: tiled, one sample is an offset)
            return f"one sample ({self.first:.6g}): a noise of it, tiled, is a constant offset, no sound"
        if self.n > 1 and self.constant:
            if abs(self.first) <= DIGITAL_SILENCE:
                return f"silent (one value throughout, every sample {self.first:.6g}: digital silence, as A-law's decodes)"
            return f"one value throughout (every sample {self.first:.6g}): a constant offset, no sound"
        return None


def silent(reason) -> bool:
    """Whether a file was skipped as digital silence: zeros, or a faint value throughout (A-law's silence;
    not a file silent only once resampled, nor a DC offset: see :func:`unusable`)."""
    return reason is not None and (reason == "silent" or reason.startswith("silent ("))


#: The most :func:`decoding_once` holds, in bytes: files past it are decoded again at each rate (holding
#: a whole noise folder at its own rate through every rate raised augment's peak memory by all of it).
HELD_DECODED_BYTES = 128 << 20


class _Held:
    """What :func:`decoding_once` holds: ``{(path, mono, size, mtime): (samples, rate)}`` and their bytes."""

    def __init__(self):
        self.samples, self.nbytes = {}, 0
        self.own_bytes = {}  # {(path, size, mtime): _own_bytes}: a header read once, not once a rate


def _file_key(path):
    """``(absolute path, size, mtime)`` of ``path``, or None where it cannot be looked at."""
    try:
        st = os.stat(path)
    except OSError:  # (the reader's own words: os.stat's "No such file or directory" named no audio file)
        return None
    return os.path.abspath(path), st.st_size, st.st_mtime_ns


_DECODED: contextvars.ContextVar[_Held | None] = contextvars.ContextVar("noisegen_bank_decoded", default=None)


@contextlib.contextmanager
def decoding_once():
    """Within it, each bank file is decoded once for all the rates banks load it at: ``noisegen augment``
    keeps each input's rate, so a mixed-rate folder loaded the noise and RIR folders at every rate,
    decoding each file again each time (a third of a rate's load). The samples at the file's own rate
    are held until the block ends, up to :data:`HELD_DECODED_BYTES` (a changed file, by size or time,
    is read again)."""
    token = _DECODED.set(_Held() if _DECODED.get() is None else _DECODED.get())
    try:
        yield
    finally:
        _DECODED.reset(token)


def _read_own_rate(path, mono):
    """:func:`read_own_rate`, through :func:`decoding_once`'s samples when it is in force."""
    held = _DECODED.get()
    known = None if held is None else _file_key(path)
    if known is None:
        return read_own_rate(path, mono=mono)
    key = (mono,) + known
    if key in held.samples:
        return held.samples[key]
    y, rate = read_own_rate(path, mono=mono)
    # the first files are held and none is dropped: each rate asks for the files in one order, in which
    # dropping the least recently used drops each file just before it is asked for again
    if held.nbytes + y.nbytes <= HELD_DECODED_BYTES:
        held.samples[key], held.nbytes = (y, rate), held.nbytes + y.nbytes
    return y, rate


def read_sound(path, *, sample_rate: int, first_channel: bool = False,
               noise: bool = False) -> tuple[np.ndarray | None, str | None]:
    """``(sound, None)``: a bank's file as mono float32 at ``sample_rate``, or ``(None, why)`` when
    :func:`unusable` finds it unusable at its own rate, or it is silent at ``sample_rate``.

    Read at its own rate by :func:`noisegen.audio.segment.read_own_rate` (the one reader of files
    for banks, streams and manifests), then resampled: the samples ``read_segment`` gives at
    ``sample_rate``. Raises what it raises on an unusable path.

    ``first_channel``: keep a multichannel file's first channel instead of the mean of all (an
    impulse response: the mean of several microphones' responses is no one place's, and
    B-format's first channel is its omnidirectional W). ``noise``: a one-sample file is unusable (a
    noise of it, tiled, is a constant offset; as a room response it is an impulse).
    """
    if _own_bytes(path) > BLOCKWISE_BYTES:
        got = _read_sound_blocks(path, sample_rate, first_channel, noise)
        if got is not None:
            return got
    y, rate = _read_own_rate(path, not first_channel)
    if y.ndim == 2:
        y = np.ascontiguousarray(y[0])
    why = unusable(y, one_sample_ok=not noise)
    if why:
        return None, why
    why = out_of_reach(rate, sample_rate)
    if why:  # said here: resample's own refusal names its arguments, not the file's rate, and read "unreadable"
        return None, why
    y = resample_to(y, rate, sample_rate)
    if rate == sample_rate and _DECODED.get() is not None:  # (the held samples: a bank's own copy)
        y = y.copy()
    return _resampled_verdict(y, sample_rate, noise)


def _resampled_verdict(y, sample_rate, noise):
    """:func:`read_sound`'s result for a usable file's samples ``y`` at ``sample_rate``."""
    if noise and y.shape[-1] == 1:  # (a few samples resampled down to one: as an offset as a file of one)
        return None, f"one sample at {sample_rate} Hz: a noise of it, tiled, is a constant offset, no sound"
    return (y, None) if np.any(y) else (None, f"silent at {sample_rate} Hz (below float32's range once resampled)")


#: A bank file whose samples at its own rate (all channels, float32) would take more than this is read in
#: blocks: read whole, one 60-minute file at 44.1 kHz in stereo took 1.9 GB at its peak for a 220 MB bank.
BLOCKWISE_BYTES = 64 << 20


def _own_bytes(path) -> int:
    """Bytes of ``path``'s frames at its own rate as float32, from its header (0 for an MP3, whose
    count is an estimate and which the block reader decodes whole anyway, or a header it cannot read);
    within :func:`decoding_once`, the header is read once for all the rates (an Ogg file's: 0.5-1 ms)."""
    held = _DECODED.get()
    key = None if held is None else _file_key(path)
    if key is None:
        return _header_bytes(path)
    if key not in held.own_bytes:
        held.own_bytes[key] = _header_bytes(path)
    return held.own_bytes[key]


def _header_bytes(path) -> int:
    """:func:`_own_bytes`, from the file's header."""
    try:
        check_regular(path)  # (before libsndfile opens it: a FIFO would block)
        meta = _soundfile().info(os.fsencode(path))
    except Exception:  # noqa: BLE001  (the whole read says what is wrong with it)
        return 0
    return 0 if meta.format == "MP3" else int(meta.frames) * int(meta.channels) * 4


def _read_sound_blocks(path, sample_rate, first_channel, noise):
    """:func:`read_sound` of a long file in blocks, the same samples: :func:`unusable` of its own-rate
    samples as they pass, resampled on the fly into the output. None for a file the block reader
    reads whole (a FLAC file cut short in its last frames)."""
    rate = segment_span(path)[2]
    if rate > MAX_SAMPLE_RATE:  # (FileBlocks reads at rates resample takes: read whole, as before)
        return None
    source = FileBlocks(path, sample_rate=rate, mono=not first_channel)
    if source.truncated:
        return None
    sound = _Sound()
    reach = out_of_reach(rate, sample_rate)
    if reach:  # the rule first, as read whole: a silent file is "silent" at any rate
        for _ in _fed(source, sound):
            pass
        return None, sound.why(one_sample_ok=not noise) or reach
    resampler = None if rate == sample_rate else Resampler(orig_sample_rate=rate, target_sample_rate=sample_rate)
    out = np.empty(resampled_length(source.frames, rate, sample_rate), np.float32)
    at = 0
    for block in _fed(source, sound):
        at = _put(out, at, block if resampler is None or block.shape[0] == 0 else resampler.process(block))
    why = sound.why(one_sample_ok=not noise)
    if why:
        return None, why
    if resampler is not None:
        at = _put(out, at, resampler.flush())
    if at != out.shape[0]:
        raise NoisegenError(f"{path!r} gave {at} samples at {sample_rate} Hz where {out.shape[0]} were expected")
    return _resampled_verdict(out, sample_rate, noise)


def _fed(source, sound):
    """``source``'s blocks (the first channel's where it keeps channels, as read whole), each fed to ``sound``
    first; they stop at the first non-finite one (the resampler refuses NaN/inf)."""
    for block in source():
        block = block[0] if block.ndim == 2 else block
        sound.feed(block)
        if not sound.finite:
            return
        yield block


def _put(out, at, part):
    out[at:at + part.shape[0]] = part
    return at + part.shape[0]
