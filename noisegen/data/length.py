"""Counting what an AugmentStream yields, for ``len(stream)`` and ``len(stream.batches(n))``."""

from __future__ import annotations

import numpy as np

from ..transforms.apply_impulse_response import ApplyImpulseResponse
from ..transforms.speed_perturb import SpeedPerturb
from ..transforms.time_stretch import TimeStretch

__all__ = ["length_changer", "chunks_per_item", "Batches"]


def length_changer(t):
    """Name of a transform in pipeline ``t`` that changes the length of its input (None if none does)."""
    if isinstance(t, (SpeedPerturb, TimeStretch)) or (isinstance(t, ApplyImpulseResponse) and t.keep_tail):
        return type(t).__name__ + ("(keep_tail=True)" if isinstance(t, ApplyImpulseResponse) else "")
    for child in getattr(t, "transforms", ()):  # Compose, OneOf, SomeOf
        name = length_changer(child)
        if name is not None:
            return name
    return None


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
        if self._started and self._stream._pass_end is None:
            return 0  # its pass is over (the stream now stands at the next one)
        n = len(self._stream)  # chunks still to come; none is pending between two batches
        return n // self._size if self._drop_last else -(-n // self._size)
