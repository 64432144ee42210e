"""The one batch type: :class:`Batch`, what :meth:`noisegen.AugmentStream.batches`,
:func:`noisegen.data.batch.collate` and :func:`noisegen.cuda.augment_batch` return.

It lives in the leaf layer so that both the stream (``data/``) and the GPU
package (``cuda/``, below it) can build one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

__all__ = ["Batch"]


def same_value(a, b) -> bool:
    """``a == b`` for the fields of :class:`Batch` and ``Chunk``: NumPy arrays equal in dtype, shape
    and every element, dicts, lists and tuples item by item, device arrays only when they are the
    same object (comparing them would copy them to the host), as are other array types (a torch
    tensor), anything else by ``==``."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and bool(np.array_equal(a, b)))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if any(hasattr(v, "__cuda_array_interface__") or hasattr(v, "__array__") for v in (a, b)):
        return a is b
    return bool(a == b)


def fields_equal(self, other) -> bool:
    """``__eq__`` of a dataclass whose fields hold arrays (the generated one raises on them)."""
    if other.__class__ is not self.__class__:
        return NotImplemented
    return all(same_value(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))


@dataclass(eq=False)
class Batch:
    """Augmented items stacked for a training step.

    Batches compare by value (NumPy arrays by dtype, shape and samples; device arrays by
    identity); they are not hashable.

    Attributes
    ----------
    samples : array [shape=(B, T) or (B, channels, T)], float32 or float64
        Zero-padded to the longest item of the batch, in the stream's dtype
        or the input batch's. A NumPy array, or the kind of the input batch
        for :func:`noisegen.cuda.augment_batch` (numba, CuPy, torch).
    lengths : np.ndarray [shape=(B,)], int64
        Valid samples of each item.
    chunks : list of Chunk
        The stream's chunks (empty for :func:`noisegen.cuda.augment_batch`).
    params : dict
        Per-item parameters drawn by :func:`noisegen.cuda.augment_batch`
        (NumPy arrays, enough to replay the batch as ``params=``, with the
        noise array again where one was mixed in); empty for the stream,
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

    __eq__ = fields_equal
    __hash__ = None  # mutable, as a dataclass with eq is

    @property
    def metadata(self) -> list:
        return [c.metadata for c in self.chunks]
