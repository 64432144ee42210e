"""A thread-safe cache bounded in bytes, least recently used dropped first.

Held by the FFT layer (RIR spectra and twiddles) and by the transform that
keeps a convolver per recorded room, so that a process's caches stay bounded
however many sounds a corpus draws.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict

import numpy as np

__all__ = ["BytesCache", "after_fork"]

_CACHES = weakref.WeakSet()  # every BytesCache of this process (their locks are made anew in a forked child)


def after_fork(reset) -> None:
    """Call ``reset()`` in the child of every fork: a thread of the parent may have held a lock of
    ours as another thread forked (DataLoader workers fork), and the child, which has no such thread,
    would wait for it for ever at its first use."""
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=reset)


def _reset_caches():
    for cache in list(_CACHES):
        cache._lock = threading.Lock()
        cache.nbytes = sum(value.nbytes for value in cache._items.values())  # (an insert cut short at the fork)


after_fork(_reset_caches)


class BytesCache:
    """Values by key, least recently used dropped once they hold more than ``max_bytes``.

    A value is anything with an ``nbytes`` that does not change (read once,
    when it is kept; arrays are stored read-only: callers share them); one
    larger than ``max_bytes`` is returned but not kept. Thread-safe, also
    across a fork; a pickle or copy of it starts empty. ``hits`` and
    ``misses`` count the lookups since it was made or cleared.

    Examples
    --------
    >>> import numpy as np
    >>> cache = BytesCache(max_bytes=100)
    >>> a = cache.get("a", lambda: np.zeros(10))  # 80 bytes
    >>> b = cache.get("b", lambda: np.zeros(10))  # "a" dropped
    >>> cache.nbytes, len(cache), cache.get("b", lambda: None) is b
    (80, 1, True)
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self.nbytes = self.hits = self.misses = 0
        self._items = OrderedDict()
        self._lock = threading.Lock()
        _CACHES.add(self)

    def get(self, key, make):
        """The value kept under ``key``, else ``make()`` (kept if it fits)."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return value
            self.misses += 1
        value = make()
        if isinstance(value, np.ndarray):
            value.flags.writeable = False  # shared: callers multiply into their own arrays
        if value.nbytes <= self.max_bytes:
            with self._lock:
                if key not in self._items:
                    self._items[key] = value
                    self.nbytes += value.nbytes
                while self.nbytes > self.max_bytes:
                    self.nbytes -= self._items.popitem(last=False)[1].nbytes
        return value

    def __reduce__(self):  # a pickle or copy (a spawned worker's) starts empty, with the same bound
        return BytesCache, (self.max_bytes,)

    def __len__(self):
        return len(self._items)

    def clear(self):
        with self._lock:
            self._items.clear()
            self.nbytes = self.hits = self.misses = 0
