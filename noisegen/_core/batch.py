"""The one batch type: :class:`Batch`, what :meth:`noisegen.AugmentStream.batches`,
:func:`noisegen.data.batch.collate` and :func:`noisegen.cuda.augment_batch` return.

It lives in the leaf layer so that both the stream (``data/``) and the GPU
package (``cuda/``, below it) can build one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Batch"]


@dataclass
class Batch:
    """Augmented items stacked for a training step.

    Attributes
    ----------
    samples : array [shape=(B, T) or (B, channels, T)], float32
        Zero-padded to the longest item of the batch. A NumPy array, or the
        kind of the input batch for :func:`noisegen.cuda.augment_batch`
        (numba, CuPy, torch).
    lengths : np.ndarray [shape=(B,)], int64
        Valid samples of each item.
    chunks : list of Chunk
        The stream's chunks (empty for :func:`noisegen.cuda.augment_batch`).
    params : dict
        Per-item parameters drawn by :func:`noisegen.cuda.augment_batch`
        (NumPy arrays, enough to replay the batch); empty for the stream,
        whose chunks carry their own ``params``.
    metadata : list of dict
        The chunks' ``metadata`` (a manifest row's other fields), in order.
    target : np.ndarray or None
        The chunks' paired targets stacked as ``samples`` is (the stream's
        ``target=``); None without targets.
    """

    samples: np.ndarray
    lengths: np.ndarray
    chunks: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    target: np.ndarray | None = None

    @property
    def metadata(self) -> list:
        return [c.metadata for c in self.chunks]
