"""Long items of an AugmentStream: augmented block by block, chunked as they come.

A file (or manifest segment) longer than :data:`BLOCKWISE_MIN_S` at the
stream's rate is not loaded whole when it is chunked (``chunk_s`` set) and
augmented on the CPU without a paired target: its parameters are drawn from
its length alone (the same draws as for the loaded item, from the same
key), it is read in blocks (seek, decode, resample on the fly), the pipeline
runs block by block (:func:`noisegen.transforms.blockwise.apply_blockwise`,
with a first pass over the file for each whole-signal measure, e.g. the
power an SNR is set from), and chunks are cut as the output arrives. Only a
block, the pipeline's look-ahead and the chunk under way are held. The
chunks (count, starts, lengths, ``params``) are those of the loaded item,
their samples equal to float rounding.

Falls back to loading the item when the drawn parameters include a
transform without a streaming form (see :mod:`noisegen.transforms.blockwise`),
and for the chunks not yet yielded when a time stretch finds at the end that
its input's peak was out of its streaming range (a float file far below full
scale). A stream without a pipeline reads long items in blocks and chunks
them as they come (with ``target=``, each chunk is its own target).
A long file whose samples turn out to be NaN or inf, or that changes while
it is read, is reported (NoisegenWarning) and its remaining chunks are
skipped; the chunks already yielded stay (a loaded item would have been
skipped whole). An error of the pipeline itself is raised, as for a loaded item.
"""

from __future__ import annotations

import atexit
import weakref

import numpy as np

from .._core.errors import NoisegenError
from .._core.labels import about
from .._core.rng import as_generator, derive_key
from ..audio.blocks import FileBlocks
from ..effects.timescale_stream import PeakOutOfRange
from ..transforms.blockwise import apply_blockwise, blockwise_unsupported
from ..transforms.shape import SignalShape
from .batch import Chunk, chunk_starts, cut_chunk
from .loading import load_whole, report

__all__ = ["BLOCKWISE_MIN_S", "blockwise_limit", "long_source", "long_chunks", "rechunk"]

#: Items longer than this many seconds (at the stream's rate) are augmented in blocks.
BLOCKWISE_MIN_S = 60.0


def blockwise_limit(stream):
    """Samples above which the stream augments an item in blocks (None: it never does).

    The items then take it as ``load(..., max_n=)``: a longer item is not
    read (None) and :func:`long_source` opens it in blocks; a short one is
    read with the same open that read its header.
    """
    items = stream._items
    if items is None or not hasattr(items, "segment") or stream._chunk_n is None or stream.device != "cpu":
        return None
    if stream.pipeline is not None and stream.target is not None:  # (a paired target has no blockwise form)
        return None
    return int(BLOCKWISE_MIN_S * stream.sample_rate)


def long_source(stream, item):
    """The item as a :class:`FileBlocks` when the stream should augment it in blocks, else None."""
    if blockwise_limit(stream) is None:
        return None
    try:
        path, offset_s, duration_s = stream._items.segment(item)
        if duration_s is not None and duration_s <= BLOCKWISE_MIN_S:
            return None
        source = FileBlocks(path, sample_rate=stream.sample_rate, mono=stream.mono,
                            offset_s=offset_s, duration_s=duration_s)
    except Exception:  # noqa: BLE001 - loading the item reports what is wrong with it
        return None
    if source.truncated or source.n <= BLOCKWISE_MIN_S * stream.sample_rate:
        return None
    return source


def rechunk(blocks, n, size, hop):
    """``(start, samples, length)`` of the chunks :func:`cut_chunk` cuts from the concatenated ``blocks`` (``n`` samples).

    Holds only the samples from the chunk under way on.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.arange(10, dtype=np.float32)
    >>> [(s, c.tolist(), k) for s, c, k in rechunk(np.array_split(y, 3), 10, 4, 3)]
    [(0, [0.0, 1.0, 2.0, 3.0], 4), (3, [3.0, 4.0, 5.0, 6.0], 4), (6, [6.0, 7.0, 8.0, 9.0], 4)]
    """
    starts = chunk_starts(n, size, hop)
    buf, buf_start, j = None, 0, 0

    def drop_to(buf, buf_start, start):  # keep what chunk ``start`` and later ones read
        drop = min(start - buf_start, buf.shape[-1])
        return (buf[..., drop:], buf_start + drop) if drop > 0 else (buf, buf_start)

    for block in blocks:
        buf = block if buf is None else np.concatenate([buf, block], axis=-1)
        if j < len(starts):
            buf, buf_start = drop_to(buf, buf_start, starts[j])
        while j < len(starts) and buf_start + buf.shape[-1] >= min(starts[j] + size, n):
            samples, length = cut_chunk(buf, starts[j] - buf_start, size)
            yield starts[j], samples, length
            j += 1
            if j < len(starts):
                buf, buf_start = drop_to(buf, buf_start, starts[j])
    if j < len(starts):
        raise NoisegenError(f"the augmented item ended after {buf_start + (0 if buf is None else buf.shape[-1])} "
                            f"samples; {n} were expected")


def _stepped(blocks, label):
    """``blocks`` with each step run under ``about(label)`` (named in the pipeline's warnings)."""
    it = iter(blocks)
    while True:
        with about(label):
            block = next(it, None)
        if block is None:
            return
        yield block


def long_chunks(stream, epoch, item, source, skip):
    """The chunks of a long item (see the module notes); ``skip`` of them were yielded already."""
    pipeline, sr, name = stream.pipeline, stream.sample_rate, stream._source(item)
    if pipeline is None:  # read and chunked as it comes (a paired target: the same samples)
        params, n_out, blocks = {}, source.n, _read(source)
    else:
        shape = (source.n,) if source.n_channels is None else (source.n_channels, source.n)
        gen = as_generator(derive_key(stream._key, epoch, item))
        params = pipeline.draw_params(SignalShape(shape, np.float32), sample_rate=sr, rng=gen)
        if blockwise_unsupported(pipeline, params, sample_rate=sr) is not None:
            yield from stream._chunks(epoch, item, load_whole(stream, item), skip)
            return
        n_out = pipeline.output_length(source.n, sr, params)
        blocks = _stepped(apply_blockwise(pipeline, params, lambda: _read(source), n=source.n, sample_rate=sr,
                                          n_channels=source.n_channels), f"item {name!r}")
    meta, paired, index = stream._items.metadata(item), stream.target is not None, 0
    chunks = rechunk(blocks, n_out, stream._chunk_n, stream._hop_n)
    while True:  # no yield inside the try: a generator left open at exit is closed after this module's
        try:     # names are gone, and its except clauses printed "TypeError: catching classes that ..."
            start, samples, length = next(chunks)
        except StopIteration:
            return
        except PeakOutOfRange:  # known at the end only: the remaining chunks come from the item loaded whole
            break
        except _Unusable as exc:  # (an error of the pipeline itself is raised, as for a loaded item)
            report(stream, stream._items.label(item), f"stopped after {index} chunk(s): {exc}")
            return
        if index >= skip:
            yield Chunk(samples, sr, name, start, length, params, epoch, item, meta, samples.copy() if paired else None)
        index += 1
    yield from stream._chunks(epoch, item, load_whole(stream, item), max(index, skip))


#: The long files being read (a generator each, holding its file open), closed at exit while the modules
#: are all there: closed later, at teardown, their except clauses and SoundFile.__del__ printed tracebacks.
_open_reads = weakref.WeakSet()


@atexit.register
def _close_open_reads():
    for blocks in list(_open_reads):
        blocks.close()


class _Unusable(Exception):
    """What makes a long item's file unusable, found while it is read (a loaded item is skipped for it)."""


def _read(source):
    """A pass over ``source``'s blocks, each checked to hold no NaN or inf (as a loaded item is); such a
    block, or a read that fails (a file that changed, decodes short or is gone), is an :class:`_Unusable`:
    reported, the item's remaining chunks skipped, as :func:`load_whole` skips a loaded item. An error of
    the pipeline goes up, as a loaded item's does (it was reported as an unusable file: a gain overflowing
    float32 skipped a long item with a warning where a loaded one raised)."""
    blocks = None
    while True:  # (no yield inside the try: see long_chunks)
        try:
            if blocks is None:
                blocks = iter(source())
                _open_reads.add(blocks)
            block = next(blocks, None)
        except NoisegenError as exc:
            raise _Unusable(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - soundfile and friends raise many kinds (as in load_whole)
            raise _Unusable(f"cannot be read ({type(exc).__name__}: {exc})") from exc
        if block is None:
            return
        if not np.isfinite(block).all():
            raise _Unusable("it holds NaN or inf samples")
        yield block
