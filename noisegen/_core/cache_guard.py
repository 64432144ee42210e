"""A Numba cache entry of noisegen's that cannot be read or written costs a compile, never the run.

Numba reads a kernel's cache index and data with ``pickle`` and lets what
that raises through: a truncated or overwritten index (``EOFError``,
``UnpicklingError``) failed every command until the cache was cleared by hand,
and so did a cache folder on a full disk (``OSError`` on saving), whose
message named neither the cache nor the folder. :func:`install` wraps the
loading and saving of the cache entries of functions defined in this package
(other code's caches are left as Numba keeps them): a damaged entry is a miss
(its index is removed, and the compile that follows writes a new one), and a
save that fails leaves the compiled kernel in memory, with one
NoisegenWarning a process naming the folder. It uses Numba's ``Cache``
class (not public API): where that is missing, nothing is installed.
Machine code damaged inside an intact data file is not detected (Numba keeps
no checksum); a cache is cleared by deleting its folder.
"""

from __future__ import annotations

import os
import pickle
import warnings

from .errors import NoisegenWarning

__all__ = ["install"]

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: What unpickling a damaged index or data file raises.
DAMAGED = (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError, KeyError)
_WARNED = []  # the folder of the one warning given (once a process: every kernel would say the same)


def _ours(cache) -> bool:
    path = getattr(getattr(getattr(cache, "_impl", None), "locator", None), "_py_file", None)
    return isinstance(path, str) and os.path.abspath(path).startswith(PACKAGE_DIR + os.sep)


def _drop_index(cache) -> None:
    try:
        os.unlink(cache._cache_file._index_path)
    except (AttributeError, OSError):
        pass


def install() -> bool:
    """Guard the cache entries of noisegen's functions (idempotent). Returns whether it is installed."""
    try:
        from numba.core import caching

        plain_load, plain_save = caching.Cache.load_overload, caching.Cache.save_overload
    except (ImportError, AttributeError):
        return False
    if getattr(plain_load, "noisegen_guard", False):
        return True

    def load_overload(self, sig, target_context):
        try:
            return plain_load(self, sig, target_context)
        except DAMAGED:
            if not _ours(self):
                raise
            _drop_index(self)  # compiled again; the save writes a new index
            return None

    def save_overload(self, sig, data):
        try:
            plain_save(self, sig, data)
        except DAMAGED:  # (a save reads the index first)
            if not _ours(self):
                raise
            _drop_index(self)
            try:
                plain_save(self, sig, data)  # once more, into a new index
            except (OSError, *DAMAGED):
                pass
        except OSError as exc:
            if not _ours(self):
                raise
            folder = getattr(self, "_cache_path", "?")
            if not _WARNED:
                _WARNED.append(folder)
                warnings.warn(f"cannot write the Numba cache in {folder!r} ({exc.strerror or exc}): kernels run, "
                              "but compile again in the next process", NoisegenWarning, stacklevel=2)

    load_overload.noisegen_guard = True
    caching.Cache.load_overload = load_overload
    caching.Cache.save_overload = save_overload
    return True
