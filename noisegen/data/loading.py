"""How an AugmentStream loads an item: checked whole, or reported once and skipped.

An item that cannot be used (unreadable, a bad manifest row, empty, NaN or
inf samples) is named once in a NoisegenWarning and skipped; the stream goes
on. A long item may come back as :data:`LONG` (not read: the stream
augments it in blocks, see :mod:`noisegen.data.long_items`).
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np

from .._core.errors import NoisegenWarning, ParameterError
from .._core.labels import user_stacklevel
from ..audio.blocks import FileBlocks
from .batch import MAX_CHUNK_SAMPLES
from .items import prepare_array
from .state import torch_shard

__all__ = ["LONG", "REPORT_LIMIT", "load_whole", "load_entry", "iterable_entries", "too_wide", "report", "skipped"]

#: What :func:`load_whole` returns for an item longer than its ``max_n``.
LONG = object()
#: Skipped items a stream names one warning each; after them, one warning says the rest go unnamed
#: (a manifest whose 50,000 files are missing printed 50,000 warnings).
REPORT_LIMIT = 20
_MORE = "\0more"  # the mark, among the reported sources, of that last warning (shared like them by workers)


def load_whole(stream, item, max_n=None):
    """The item's audio (None: reported and skipped; :data:`LONG`: longer than ``max_n``, not read)."""
    source = stream._items.label(item)  # a manifest row: the manifest and the row's line
    try:
        if max_n is None:
            y = stream._items.load(item, stream.sample_rate, stream.mono)
        else:
            y = stream._items.load(item, stream.sample_rate, stream.mono, max_n=max_n)
            if y is None:
                return LONG
    except ParameterError as exc:  # a bad manifest row, an offset past the end, not a regular file
        report(stream, source, str(exc))
        return None
    except Exception as exc:  # noqa: BLE001 - soundfile and friends raise many kinds
        report(stream, source, f"cannot be read ({type(exc).__name__}: {exc})")
        return None
    return _checked(stream, source, y)


def load_entry(stream, position, entry):
    """An entry of an iterable source, at the stream's rate (None: reported and skipped)."""
    source = f"array:{position}"
    try:
        y = prepare_array(entry, stream.sample_rate, stream.mono)
    except ParameterError as exc:
        report(stream, source, str(exc))
        return None
    return _checked(stream, source, y)


def iterable_entries(stream, epoch, shard, n_shards):
    """``(position, position, audio or None)`` of a stream's iterable source in this shard, read from its
    start to the resume point; a one-shot iterator (a generator) goes on where it stands: positions count
    on from the entries it has given, and the entry a pass was cut short in is kept to finish."""
    _check_not_dealt(stream._iterable, n_shards)
    one_shot = iter(stream._iterable) is stream._iterable
    if one_shot and stream._held is not None and stream._held[0] == (epoch, stream._position):
        yield stream._held[1]
    for position, entry in enumerate(stream._iterable, start=stream._taken if one_shot else 0):
        if one_shot:
            stream._taken = position + 1
        if position >= stream._position and position % n_shards == shard:
            loaded = (position, position, load_entry(stream, position, entry))
            stream._held = ((epoch, position), loaded) if one_shot else None
            yield loaded
    stream._held = None


def _check_not_dealt(source, n_shards):
    """ParameterError for a Hugging Face ``IterableDataset``'s column (``ids["audio"]``) read by several
    DataLoader workers, or split by ``split_dataset_by_node`` and read by several ranks: ``datasets`` deals its
    rows out over them itself, so each took the stream's share of its own share (rows lost, half of them
    with 2 workers) and counted positions, the items' keys, from its own first row."""
    dataset = source
    while type(dataset).__name__ == "IterableColumn" and type(dataset).__module__.startswith("datasets."):
        dataset = dataset.source
    if dataset is source or n_shards == 1:
        return
    num_workers = torch_shard()[1]
    node = getattr(dataset, "_distributed", None)
    ranks = n_shards // num_workers
    if num_workers > 1 or (ranks > 1 and node is not None):
        where = f"{num_workers} DataLoader workers" if num_workers > 1 else f"{ranks} ranks of a split_dataset_by_node"
        raise ParameterError(
            f"source: a column of a Hugging Face IterableDataset read by {where}; datasets deals its rows out "
            "over DataLoader workers and split ranks itself, so each would stream a share of its share, with "
            "keys counted from its own rows. Expected a column of a map-style Dataset (ds['audio'], read at "
            "random: any workers and ranks), or this column read with num_workers <= 1 on an unsplit dataset")


def check_unread(stream, epoch, position, chunk):
    """ParameterError if a state at ``(epoch, position, chunk)`` is behind where the stream has read its
    generator source (but for the entry it holds): a generator gives each entry once, so iterating would
    go on with its later entries instead."""
    if stream._iterable is None or iter(stream._iterable) is not stream._iterable:
        return
    held = stream._held is not None and stream._held[0] == (epoch, position)
    if not held and (epoch, position, chunk) < (stream._epoch, stream._position, stream._chunk):
        raise ParameterError(f"state is at epoch {epoch}, item {position}, chunk {chunk}, behind this stream "
                             f"(epoch {stream._epoch}, item {stream._position}, chunk {stream._chunk}), whose "
                             "generator source cannot be read again: load it into a stream over a new generator")


def _checked(stream, source, y):
    if y.shape[-1] == 0:
        report(stream, source, "holds no samples")
        return None
    if not np.isfinite(y).all():
        report(stream, source, "holds NaN or inf samples")
        return None
    return y


def too_wide(stream, item, y) -> bool:
    """Whether the chunks of ``y`` (an item's audio or FileBlocks) would hold more than MAX_CHUNK_SAMPLES
    samples, all channels together: then the item is reported and skipped. (``chunk_s`` is capped for one
    channel: with ``mono=False`` a 10 kB file of 1024 channels and 5 frames made chunks of 1024 x chunk_n
    samples, gigabytes each, and the stream stopped with MemoryError.)"""
    channels = (y.n_channels or 1) if isinstance(y, FileBlocks) else y.shape[0] if y.ndim == 2 else 1
    if stream._chunk_n is None or channels * stream._chunk_n <= MAX_CHUNK_SAMPLES:
        return False
    most = _rounded_down(MAX_CHUNK_SAMPLES // channels, stream.sample_rate)
    report(stream, stream._items.label(item) if stream._items is not None else f"array:{item}",
           f"holds {channels} channels: each chunk would be {channels} x {stream._chunk_n} samples, past the "
           f"{MAX_CHUNK_SAMPLES} a chunk may hold; stream it with mono=True or chunk_s at most {most:g} s")
    return True


def _rounded_down(samples: int, rate: int) -> float:
    """``samples / rate`` seconds rounded down to the 6 digits ``:g`` prints (exactly, in fractions): a bound
    that holds when followed ('chunk_s at most 1048.58 s' for 8 channels at 8 kHz, rounded up, still made
    chunks past the cap)."""
    exact = Fraction(samples, rate)
    k = 5 - math.floor(math.log10(samples / rate))
    digits = math.floor(exact * Fraction(10) ** k)
    if digits >= 10**6:  # (log10 a hair under a whole number)
        digits, k = digits // 10, k - 1
    return float(digits / Fraction(10) ** k)


def report(stream, source, why):
    """Warn once per source that the stream skips (some of) it: the first :data:`REPORT_LIMIT` of them
    by name, then once that further ones are skipped unnamed (:attr:`AugmentStream.skipped` has them)."""
    reported = stream._reported
    if source in reported:
        return
    reported.add(source)
    if len(reported) <= REPORT_LIMIT:
        warnings.warn(f"AugmentStream: skipping {source!r}: {why}", NoisegenWarning, stacklevel=user_stacklevel())
    elif _MORE not in reported:
        reported.add(_MORE)
        warnings.warn(f"AugmentStream: skipping {source!r}: {why}; {REPORT_LIMIT} items were skipped before it, "
                      "and later ones are skipped without a warning each (AugmentStream.skipped names every one)",
                      NoisegenWarning, stacklevel=user_stacklevel())


def skipped(reported) -> list[str]:
    """The sources named in ``reported`` (a stream's set of them), sorted, without the mark."""
    return sorted(source for source in reported if source != _MORE)
