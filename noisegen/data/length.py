"""Counting what an AugmentStream yields, for ``len(stream)`` and ``len(stream.batches(n))``."""

from __future__ import annotations

import numpy as np

from .._core.rng import as_generator, derive_key
from .batch import chunk_starts
from ..transforms.apply_impulse_response import ApplyImpulseResponse
from ..transforms.speed_perturb import SpeedPerturb
from ..transforms.shape import SignalShape
from ..transforms.time_stretch import TimeStretch

__all__ = ["first_in", "length_changer", "chunks_per_item", "item_sizes", "item_chunks", "sizes_drawn", "counts_drawn",
           "Batches"]

#: Longest chunk the GPU's one SpeedPerturb can empty: its factors reach 20, and round(n / 20) is 0 up to n = 10.
MAX_EMPTIED = 10


def first_in(t, test):
    """The first transform of pipeline ``t`` (itself, or one inside Compose, OneOf, SomeOf) that passes
    ``test``, or None."""
    if test(t):
        return t
    for child in getattr(t, "transforms", ()):
        found = first_in(child, test)
        if found is not None:
            return found
    return None


def length_changer(t):
    """Name of a transform in pipeline ``t`` that changes the length of its input (None if none does)."""
    found = first_in(t, lambda x: isinstance(x, (SpeedPerturb, TimeStretch))
                     or (isinstance(x, ApplyImpulseResponse) and x.keep_tail))
    if found is None:
        return None
    return type(found).__name__ + ("(keep_tail=True)" if isinstance(found, ApplyImpulseResponse) else "")


def chunks_per_item(sizes: np.ndarray, chunk_n: int | None, hop_n: int | None) -> np.ndarray:
    """Chunks the stream cuts from items of ``sizes`` samples (0 for an empty item).

    Whole items (``chunk_n`` None) are one chunk each; else chunks start at
    0, hop, 2 hop, ... (before the end) until one reaches the end (the last
    may be partial).
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    if chunk_n is None:
        return (sizes > 0).astype(np.int64)
    more = np.minimum(np.maximum(-(-(sizes - chunk_n) // hop_n), 0), -(-sizes // hop_n) - 1)
    return np.where(sizes > 0, 1 + more, 0)


def sizes_drawn(stream) -> bool:
    """Whether an item's size in an epoch is drawn with its parameters: chunks cut on the CPU from
    the output of a pipeline that changes lengths (else it is the size its header gives)."""
    return stream._chunk_n is not None and stream.device == "cpu" and length_changer(stream.pipeline) is not None


def item_sizes(stream, epoch, items) -> np.ndarray:
    """Samples each of ``items`` gives in ``epoch``, at the stream's rate, after the pipeline when
    chunks are cut from its output and it changes lengths (from the drawn parameters)."""
    if stream._sizes is None:  # from the headers, each read when first needed (-1: not yet), then kept
        stream._sizes = np.full(len(stream._items), -1, dtype=np.int64)
    sizes = stream._sizes[items]
    for j in np.flatnonzero(sizes < 0).tolist():
        sizes[j] = stream._sizes[items[j]] = stream._items.n_samples(int(items[j]), stream.sample_rate)
    if not sizes_drawn(stream):
        return sizes
    # Draw each item's parameters from its length alone, as its iteration will (same key), and
    # take the pipeline's output length for them; kept for the last few epochs asked.
    drawn = stream._drawn_sizes.setdefault(epoch, {})
    while len(stream._drawn_sizes) > 4:
        stream._drawn_sizes.pop(next(iter(stream._drawn_sizes)))
    out = np.empty_like(sizes)
    for j, (item, n) in enumerate(zip(items.tolist(), sizes.tolist())):
        if item not in drawn:
            drawn[item] = _augmented_length(stream, epoch, item, n)
        out[j] = drawn[item]
    return out


def counts_drawn(stream) -> bool:
    """Whether an item's chunk count in an epoch depends on its drawn parameters: its size does
    (:func:`sizes_drawn`), or, on the GPU, which drops the chunks its SpeedPerturb speeds up to nothing,
    an item read so far ends in a chunk short enough for that."""
    if sizes_drawn(stream):
        return True
    if stream.device == "cpu" or length_changer(stream.pipeline) is None or stream._sizes is None:
        return False
    return bool(np.any(_last_chunks(stream, stream._sizes[stream._sizes > 0]) <= MAX_EMPTIED))


def item_chunks(stream, epoch, items) -> np.ndarray:
    """Chunks each of ``items`` yields in ``epoch``: :func:`chunks_per_item` of its size, less, on the GPU
    (which speeds each chunk up on its own), the last chunks short enough to come out empty."""
    sizes = item_sizes(stream, epoch, items)
    counts = chunks_per_item(sizes, stream._chunk_n, stream._hop_n)
    if stream.device == "cpu" or length_changer(stream.pipeline) is None:
        return counts
    for j in np.flatnonzero((counts > 0) & (_last_chunks(stream, sizes) <= MAX_EMPTIED)).tolist():
        n = int(sizes[j])
        # Every chunk but the last is whole (chunk_starts goes on only while a chunk ends before the item
        # does): two lengths to ask the pipeline about, not one a chunk (a one-sample hop over a long item
        # asked it millions of times)
        size, last = stream._chunk_n or n, n - chunk_starts(n, stream._chunk_n, stream._hop_n)[-1]
        params = _draw(stream, epoch, int(items[j]), n)
        kept = [stream.pipeline.output_length(m, stream.sample_rate, params) > 0 for m in (size, min(size, last))]
        counts[j] = (int(counts[j]) - 1) * kept[0] + kept[1]
    return counts


def _last_chunks(stream, sizes):
    """The length of each item's last chunk (0 for an empty item)."""
    if stream._chunk_n is None:
        return sizes
    k = chunks_per_item(sizes, stream._chunk_n, stream._hop_n)
    return np.where(k > 0, np.minimum(stream._chunk_n, sizes - (np.maximum(k, 1) - 1) * stream._hop_n), 0)


def _draw(stream, epoch, item, n):
    gen = as_generator(derive_key(stream._key, epoch, item))
    return stream.pipeline.draw_params(SignalShape((n,)), sample_rate=stream.sample_rate, rng=gen)


def _augmented_length(stream, epoch, item, n):
    if n == 0:
        return 0
    return stream.pipeline.output_length(n, stream.sample_rate, _draw(stream, epoch, item, n))


class Batches:
    """What :meth:`AugmentStream.batches` returns: the batches, and with ``len`` how many are still to come."""

    def __init__(self, stream, batches, batch_size, drop_last):
        self._stream, self._batches = stream, batches
        self._size, self._drop_last = batch_size, drop_last
        self._started = False

    def __iter__(self):
        return self

    def __next__(self):
        self._started = True
        return next(self._batches)

    def close(self):
        self._batches.close()

    def __len__(self):
        self._stream._check_countable()  # (an endless stream has no pass end: it never stands past its pass)
        if self._started and self._stream._pass_end is None:
            return 0  # its pass is over (the stream now stands at the next one)
        n = len(self._stream)  # chunks still to come; none is pending between two batches
        return n // self._size if self._drop_last else -(-n // self._size)
