"""The stream's output: :class:`Chunk` (a piece of one augmented item),
:class:`Batch` (chunks stacked for a training step) and :func:`collate`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._core.batch import Batch
from .._core.errors import ParameterError

__all__ = ["Chunk", "Batch", "collate"]


@dataclass
class Chunk:
    """One fixed-length piece (or a whole utterance) of an augmented item.

    Attributes
    ----------
    samples : np.ndarray [shape=(T,) or (channels, T)], float32
        Zero-padded past ``length`` for the last chunk of an item.
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
        Shared by the item's chunks.
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


def collate(chunks) -> Batch:
    """Stack chunks into a :class:`Batch` (zero-padded to the longest)."""
    chunks = list(chunks)
    if not chunks:
        raise ParameterError("chunks must hold at least one Chunk")
    shapes = {c.samples.shape[:-1] for c in chunks}
    if len(shapes) != 1:
        raise ParameterError(f"chunks must all have the same channel layout, got {sorted(shapes)}")
    width = max(c.samples.shape[-1] for c in chunks)
    out = np.zeros((len(chunks),) + chunks[0].samples.shape[:-1] + (width,), dtype=np.float32)
    for i, c in enumerate(chunks):
        out[i, ..., : c.samples.shape[-1]] = c.samples
    lengths = np.array([c.length for c in chunks], dtype=np.int64)
    return Batch(out, lengths, chunks)
