"""Long inputs of ``noisegen augment``: processed in blocks, in memory that does not grow with their length.

An input longer than :data:`BLOCKWISE_MIN_S` (at the output rate) is read in
blocks (seek, decode, resample on the fly: :class:`~noisegen.audio.blocks.FileBlocks`),
its parameters are drawn from its length alone (the same draws as for the
whole array), and the pipeline runs block by block
(:func:`noisegen.transforms.blockwise.apply_blockwise`, one extra pass per
whole-signal measure such as the power behind an SNR). The output's peak,
which sets ``peak_scale``, is only known at the end: the blocks go to a
float32 spill file next to the output first, then through the scale into the
output file (written atomically, as any output). Outputs, manifest lines and
replays are those of whole-file processing (samples equal to float rounding;
the same parameters). A pipeline with a transform that has no streaming form
(Clip, codecs, packet loss, short noises, Shift, TimeMask, a noise
transform), or a time stretch of a signal whose peak is outside
[2**-60, 2**60], is processed whole instead.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from .._core.errors import NoisegenError, ParameterError
from .._core.tempfiles import live, temp_stem
from ..audio.blocks import FileBlocks, save_blocks
from ..audio.segment import resampled_length
from ..effects.timescale_stream import PeakOutOfRange
from ..transforms.blockwise import apply_blockwise, blockwise_unsupported
from ..transforms.shape import SignalShape

__all__ = ["BLOCKWISE_MIN_S", "long_source", "render_long", "collect_long"]

#: Inputs longer than this many seconds (at the output rate) are processed in blocks.
BLOCKWISE_MIN_S = 60.0
#: Frames per block read back from the spill file.
_SPILL_FRAMES = 1 << 17


def long_source(path, sample_rate, min_s=BLOCKWISE_MIN_S, header=None):
    """A :class:`FileBlocks` of ``path`` when it is longer than ``min_s`` at ``sample_rate`` (None: the
    file's rate), else None (also for a FLAC file cut short in its last frames, read whole).

    A short file costs one header read, or none with ``header`` (``(frames, sample rate)`` read
    when the run was planned; a file changed since is refused by its fingerprint): most inputs
    are short, and are read whole."""
    import soundfile as sf

    try:
        if header is None:
            info = sf.info(os.fsencode(path))
            header = int(info.frames), int(info.samplerate)
        frames, file_rate = header
        rate = sample_rate or file_rate
        if resampled_length(frames, file_rate, rate) <= min_s * rate:
            return None
        source = FileBlocks(path, sample_rate=rate, mono=False)
    except Exception:  # noqa: BLE001 - the one-pass reader reports unreadable files
        return None
    if source.truncated or source.n <= min_s * source.sample_rate:
        return None
    return source


def _draw(pipeline, source, seed, params):
    if params is None:
        shape = (source.n,) if source.n_channels is None else (source.n_channels, source.n)
        params = pipeline.draw_params(SignalShape(shape, np.float32), sample_rate=source.sample_rate, rng=seed)
    return params


def _output_blocks(pipeline, source, params):
    return apply_blockwise(pipeline, params, source, n=source.n, sample_rate=source.sample_rate,
                           n_channels=source.n_channels, dtype=np.float32)


def _peak_scale(peak, limit):
    return limit / peak if peak > 1.0 else 1.0


def render_long(pipeline, source, *, target, subtype, limit, seed=None, params=None, scale=None):
    """Run (``seed``) or replay (``params``) the pipeline on ``source`` block by block into ``target``.

    Returns ``(params, peak_scale, n_samples, n_channels)``, or None when
    the drawn parameters cannot be applied in blocks (the caller processes
    the input whole). ``limit``: the peak an output above full scale is
    scaled to (``scale`` given: that scale, as a replay records it).
    """
    params = _draw(pipeline, source, seed, params)
    if blockwise_unsupported(pipeline, params, sample_rate=source.sample_rate) is not None:
        return None
    rows = 1 if source.n_channels is None else source.n_channels
    folder = os.path.dirname(os.path.abspath(target))
    fd, spill = tempfile.mkstemp(dir=folder, prefix=temp_stem(os.path.basename(target)) + ".", suffix=".f32")
    with live(spill):  # (what a SIGTERM's hard stop removes: _core.tempfiles)
        try:
            peak, n_out = 0.0, 0
            try:
                with os.fdopen(fd, "wb") as fh:
                    for block in _output_blocks(pipeline, source, params):
                        if block.shape[-1] == 0:
                            continue
                        if not np.all(np.isfinite(block)):
                            raise NoisegenError("the pipeline produced non-finite samples")
                        peak = max(peak, float(np.max(np.abs(block))))
                        n_out += block.shape[-1]
                        fh.write(np.ascontiguousarray(block.T if block.ndim == 2 else block,
                                                      dtype=np.float32).tobytes())
            except PeakOutOfRange:  # a stretch of a signal out of range: processed whole
                return None
            except ParameterError:  # NaN or inf input samples fail it here, as in one pass (processing it
                raise  # whole read all of a long file into memory only to fail there)
            except NoisegenError:  # a file that changed, or decodes short: processed whole
                return None
            except OSError as exc:  # (EFBIG under ulimit -f, ENOSPC: the spill beside the output named no file)
                if exc.filename is None:
                    exc.filename = target
                raise
            scale = _peak_scale(peak, limit) if scale is None else scale
            save_blocks(target, _spilled(spill, rows, source.n_channels, scale), sample_rate=source.sample_rate,
                        n_channels=source.n_channels, subtype=subtype)
        finally:
            os.unlink(spill)
    return params, float(scale), n_out, rows


def _spilled(spill, rows, n_channels, scale):
    """The spilled output in blocks, times ``scale`` (as ``_render`` scales the whole output)."""
    with open(spill, "rb") as fh:
        while True:
            data = np.fromfile(fh, dtype=np.float32, count=_SPILL_FRAMES * rows)
            if data.size == 0:
                return
            block = data.reshape(-1, rows).T if n_channels is not None else data
            if scale != 1.0:
                block = (block * np.float32(scale)).astype(np.float32)
            yield block


def collect_long(pipeline, source, *, params, scale, limit):
    """The whole output of a replay, made block by block as :func:`render_long` makes it (or None)."""
    pipeline.prepare(source.sample_rate)
    params = pipeline._check_params(params, source.sample_rate)  # as apply_params checks a replay's
    if blockwise_unsupported(pipeline, params, sample_rate=source.sample_rate) is not None:
        return None
    try:
        out = np.concatenate(list(_output_blocks(pipeline, source, params)), axis=-1)
    except (ParameterError, NoisegenError):
        return None
    if scale is None:
        scale = _peak_scale(float(np.max(np.abs(out))) if out.size else 0.0, limit)
    if scale != 1.0:
        out = (out * np.float32(scale)).astype(out.dtype)
    return out
