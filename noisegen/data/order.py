"""An AugmentStream epoch's visiting order and how its positions are dealt to shards (workers x ranks).

Two ways to deal, chosen by the items:

* **Items one by one** (files, manifest rows, arrays): the order is the item
  indices, permuted from ``(seed key, epoch)`` when shuffling; position ``j``
  belongs to shard ``j % n_shards``.
* **Whole groups** (items with a ``groups`` attribute: the samples of each
  tar shard, see :mod:`noisegen.data.shards`): the order is the groups,
  permuted from ``(seed key, epoch)``, each group's items permuted from
  ``(seed key, epoch, group)``, laid end to end; the ``k``-th group of that
  order (with all its positions) belongs to shard ``k % n_shards``. Each
  process then reads only its own tar files.

Either way the order depends only on the seed key and the epoch, and an item
keeps its index (its augmentation key) whoever visits it.
"""

from __future__ import annotations

import numpy as np

from .._core.rng import as_generator, derive_key

__all__ = ["EpochOrder", "epoch_order"]

_ORDER_TAG = (1 << 64) - 1  # key path tag for the shuffle order of an epoch


class EpochOrder:
    """Item indices of an epoch in visiting order, and which positions each shard visits."""

    def __init__(self, items: np.ndarray, group_starts: np.ndarray | None = None):
        self.items = items
        #: Start positions of the groups in visiting order plus the end (None: items dealt one by one).
        self.group_starts = group_starts

    def positions(self, shard: int, n_shards: int, first: int = 0) -> np.ndarray:
        """Positions (ascending, from ``first`` on) that ``shard`` of ``n_shards`` visits."""
        n = len(self.items)
        if self.group_starts is None:
            return np.arange(first + (shard - first) % n_shards, n, n_shards)
        starts = self.group_starts
        mine = [np.arange(starts[k], starts[k + 1]) for k in range(shard, len(starts) - 1, n_shards)]
        out = np.concatenate(mine) if mine else np.zeros(0, dtype=np.int64)
        return out[out >= first]


def epoch_order(items, key: int, epoch: int, shuffle: bool) -> EpochOrder:
    """The :class:`EpochOrder` of ``epoch`` for ``items`` (see the module docstring).

    Examples
    --------
    >>> class Tars:  # two shards of 3 and 2 samples
    ...     groups = [(0, 3), (3, 5)]
    ...     def __len__(self): return 5
    >>> order = epoch_order(Tars(), key=0, epoch=0, shuffle=False)
    >>> order.items.tolist(), order.positions(1, 2).tolist()
    ([0, 1, 2, 3, 4], [3, 4])
    """
    groups = getattr(items, "groups", None)
    n = len(items)
    rng = as_generator(derive_key(key, _ORDER_TAG, epoch)) if shuffle else None
    if groups is None:
        return EpochOrder(rng.permutation(n) if shuffle else np.arange(n))
    ranks = rng.permutation(len(groups)) if shuffle else np.arange(len(groups))
    parts = []
    for g in ranks:
        lo, hi = groups[g]
        idx = np.arange(lo, hi)
        if shuffle:
            idx = as_generator(derive_key(key, _ORDER_TAG, epoch, int(g))).permutation(idx)
        parts.append(idx)
    sizes = np.array([len(p) for p in parts], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return EpochOrder(np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64), starts)
