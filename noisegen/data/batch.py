"""The stream's output: :class:`Chunk` (a piece of one augmented item),
:class:`Batch` (chunks stacked for a training step), :func:`collate`, and
:func:`cuda_batches` (``AugmentStream(device="cuda")``'s batches)."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .._core.backend import require_cuda
from .._core.batch import Batch, fields_equal
from .._core.errors import ParameterError
from .._core.units import seconds_to_samples
from .._core.validation import check_sequence, show_value
from ..cuda import augment_batch
from ..cuda.stream import cuda_batch_params

__all__ = ["Chunk", "Batch", "collate", "cuda_batches", "chunk_starts", "cut_chunk", "MAX_CHUNK_SAMPLES"]

#: Most samples a chunk may hold, all its channels together (~70 min of one channel at 16 kHz, 256 MB of
#: float32): every chunk is allocated whole, a short item zero-padded to it, so a larger ``chunk_s`` is
#: refused up front, and an item of more channels (``mono=False``) is skipped when it is read.
MAX_CHUNK_SAMPLES = 1 << 26


@dataclass(eq=False)
class Chunk:
    """One fixed-length piece (or a whole utterance) of an augmented item.

    Chunks compare by value (arrays by dtype, shape and samples); they are not hashable.

    Attributes
    ----------
    samples : np.ndarray [shape=(T,) or (channels, T)], float32
        Zero-padded past ``length`` for the last chunk of an item. The chunk's
        own array (never a source array, nor ``target``'s): edit it in place freely.
    sample_rate : int
    source : str
        The file path, or ``"array:<index>"`` for in-memory items.
    start : int
        Offset of the chunk in the augmented item, in samples.
    length : int
        Number of real (unpadded) samples.
    params : dict
        The pipeline's ``last_params`` for the item (shared by its chunks).
    epoch, item : int
        The epoch and the item's index in the source list (or manifest).
    metadata : dict
        The item's manifest row without its path, offset and duration
        fields (labels, text, speaker, ...); ``{}`` for files and arrays.
        Each chunk's own copy.
    target : np.ndarray or None
        The paired target (``AugmentStream(target=...)``): the same speech
        without the degradations, aligned sample for sample with
        ``samples`` (same shape and padding); None without a target.
    """

    samples: np.ndarray
    sample_rate: int
    source: str
    start: int
    length: int
    params: dict = field(default_factory=dict)
    epoch: int = 0
    item: int = 0
    metadata: dict = field(default_factory=dict)
    target: np.ndarray | None = None

    __eq__ = fields_equal  # the dataclass's own compares arrays as a tuple: ValueError
    __hash__ = None

    def __post_init__(self):
        if self.metadata:  # its own: an edit in a training loop must not reach the row, nor other chunks
            self.metadata = copy.deepcopy(self.metadata)


def chunk_samples(duration_s, name, sample_rate):
    """``chunk_s``/``hop_s`` in samples (None stays None); one that rounds to none was made 1 sample, silently."""
    n = None if duration_s is None else seconds_to_samples(duration_s, sample_rate)
    if n == 0:
        raise ParameterError(f"{name}={duration_s!r} is less than one sample at sample_rate={sample_rate}; it must "
                             f"be at least 1 / sample_rate = {1 / sample_rate:g} s")
    return n


def chunk_starts(n: int, size: int | None, hop: int | None) -> range:
    """Where the chunks of an ``n``-sample item start: 0, hop, 2 hop, ... until one reaches the end.

    ``size`` None: the whole item is one chunk (none when it is empty). A ``range``, not a list:
    a one-sample hop over a two-hour item is 115 million chunks, whose list of starts took 4.6 GB
    and 20 s before the first chunk came.

    Examples
    --------
    >>> [list(chunk_starts(2500, 1000, 1000)), list(chunk_starts(2500, 1000, 600)), list(chunk_starts(0, 1000, 1000))]
    [[0, 1000, 2000], [0, 600, 1200, 1800], []]
    """
    if n <= 0:
        return range(0)
    if size is None:
        return range(1)
    # the first start that reaches the end (start + size >= n) or whose hop would step over it
    # (start + hop >= n): :func:`noisegen.data.length.chunks_per_item`'s count, for one item
    more = min(max(-(-(n - size) // hop), 0), -(-n // hop) - 1)
    return range(0, (more + 1) * hop, hop)


def cut_chunk(y: np.ndarray, start: int, size: int | None) -> tuple[np.ndarray, int]:
    """``(samples, length)``: ``size`` samples of ``y`` from ``start``, zero-padded past its end
    (``size`` None: all of ``y``), and how many of them are real. Always a new array: a chunk owns
    its samples (an item no transform changed is the caller's own array, and its target too)."""
    if size is None:
        return np.array(y, dtype=np.float32, order="C"), y.shape[-1]
    length = min(size, y.shape[-1] - start)
    out = np.empty(y.shape[:-1] + (size,), dtype=np.float32)  # zeroed past length only: most chunks are whole
    out[..., :length] = y[..., start:start + length]
    out[..., length:] = 0
    return out, length


def collate(chunks) -> Batch:
    """Stack chunks into a :class:`Batch` (zero-padded to the longest), their targets too."""
    chunks = list(check_sequence(chunks, "chunks"))
    if not chunks:
        raise ParameterError("chunks must hold at least one Chunk")
    strays = [c for c in chunks if not isinstance(c, Chunk)]
    if strays:
        raise ParameterError(f"chunks must hold noisegen Chunks (from an AugmentStream), got {show_value(strays[0])}")
    rates = {}  # sample rate -> the first chunk at it (two streams' chunks in one DataLoader: stacked, never told)
    for c in chunks:
        rates.setdefault(c.sample_rate, c)
    if len(rates) != 1:
        seen = ", ".join(f"{c.source!r} {rate}" for rate, c in rates.items())
        raise ParameterError(f"chunks must all have one sample_rate, got {seen} (streams made at other "
                             "sample_rates cannot share a batch)")
    first = {}  # channel layout -> the first chunk with it
    for c in chunks:
        first.setdefault(c.samples.shape[:-1], c)
    if len(first) != 1:
        seen = ", ".join(f"{c.source!r} {shape[0] if shape else 1}" for shape, c in first.items())
        raise ParameterError(f"chunks must all have the same channel layout, got channels {seen} (an AugmentStream "
                             "with mono=False over files of several channel counts: use mono=True, or batch them apart)")
    width = max(c.samples.shape[-1] for c in chunks)
    out = np.zeros((len(chunks),) + chunks[0].samples.shape[:-1] + (width,), dtype=np.float32)
    for i, c in enumerate(chunks):
        out[i, ..., : c.samples.shape[-1]] = c.samples
    lengths = np.array([c.length for c in chunks], dtype=np.int64)
    targets = [c.target for c in chunks]
    if all(t is None for t in targets):
        return Batch(out, lengths, chunks)
    if any(t is None for t in targets):
        raise ParameterError("chunks must all carry a target or none (AugmentStream(target=...))")
    target = np.zeros_like(out)
    for i, (c, t) in enumerate(zip(chunks, targets)):
        if np.shape(t) != c.samples.shape:
            raise ParameterError(f"chunks[{i}].target must have its samples' shape {c.samples.shape}, got "
                                 f"{show_value(np.shape(t))}")
        target[i, ..., : t.shape[-1]] = t
    return Batch(out, lengths, chunks, target=target)


_COUNTERS = ("_epoch", "_position", "_chunk", "_pass_end")


def cpu_batches(stream, batch_size, drop_last):
    """``stream.batches`` of a CPU stream."""
    return _batched(stream, stream, batch_size, drop_last, collate)


def cuda_batches(stream, batch_size, drop_last):
    """``stream.batches`` of a ``device="cuda"`` stream: its raw chunks, augmented as (B, T) device batches."""
    cuda = require_cuda()  # BackendError with the install hint, before any file is read
    # (a chunk sped up to nothing is dropped: the CPU stream yields no empty chunk)
    chunks = (chunk for chunk in stream._iter(augment=False) if _speed_length(stream, chunk) != 0)
    return _batched(stream, chunks, batch_size, drop_last, lambda pending: _cuda_batch(stream, pending, cuda))


def _batched(stream, chunks, batch_size, drop_last, make):
    """Batches ``make(chunks)``. The last, partial batch is only made once the pass has ended: while it
    is out the stream stands after its last chunk, in the pass, as after any other batch, so a
    ``state_dict()`` taken then resumes with nothing left of the pass (it gave a whole next pass)."""
    pending, after_last = [], None
    for chunk in chunks:
        pending.append(chunk)
        after_last = [getattr(stream, name) for name in _COUNTERS]
        if len(pending) == batch_size:
            yield make(pending)
            pending = []
    if pending and not drop_last:
        moves, ended = stream._moves, [getattr(stream, name) for name in _COUNTERS]
        for name, value in zip(_COUNTERS, after_last):
            setattr(stream, name, value)
        try:
            yield make(pending)
        finally:
            if stream._moves == moves:  # (not after set_epoch or load_state_dict: where they put it stands)
                for name, value in zip(_COUNTERS, ended):
                    setattr(stream, name, value)


def _speed_length(stream, chunk) -> int:
    """The samples a raw chunk keeps once augmented (only SpeedPerturb changes the count)."""
    width = chunk.samples.shape[-1]  # (a chunk is zero-padded to its size past its length)
    return int(cuda_batch_params(stream.pipeline, [chunk.params], sample_rate=stream.sample_rate,
                                 lengths=[chunk.length], width=max(width, 1), starts=[chunk.start])[2][0])


def _cuda_batch(stream, chunks, cuda):
    """Augment raw chunks as one (B, T) device batch; chunks keep their params, not their samples."""
    raw = collate(chunks)
    params, band_order, lengths = cuda_batch_params(
        stream.pipeline, [c.params for c in chunks], sample_rate=stream.sample_rate, lengths=raw.lengths,
        width=raw.samples.shape[-1], starts=[c.start for c in chunks])
    samples = cuda.to_device(raw.samples)
    if params:
        samples = augment_batch(samples, sample_rate=stream.sample_rate, params=params, band_order=band_order,
                                lengths=raw.lengths, backend="cuda", threads=stream._cuda_threads).samples
    out = [dataclasses.replace(c, samples=None, length=int(n)) for c, n in zip(chunks, lengths)]
    return Batch(samples, lengths, out)
