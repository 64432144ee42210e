"""A Numba cache entry of noisegen's that cannot be read or written costs a compile, never the run.

Numba reads a kernel's cache index and data with ``pickle`` and lets what
that raises through: a truncated or overwritten index (``EOFError``,
``UnpicklingError``) failed every command until the cache was cleared by hand,
and so did a cache folder on a full disk (``OSError`` on saving), whose
message named neither the cache nor the folder, and an index the user may
not read (``PermissionError``: a folder shared with another user's umask). :func:`install` wraps the
loading and saving of the cache entries of functions defined in this package
(other code's caches are left as Numba keeps them): a damaged entry is a miss
(its index is removed, and the compile that follows writes a new one), and a
save that fails leaves the compiled kernel in memory, with one
NoisegenWarning a process naming the folder. It uses Numba's ``Cache``
class (not public API): where that is missing, nothing is installed.

Numba keeps no checksum, so a data file damaged where the pickle still reads
(bytes changed inside its LLVM bitcode or machine code) failed in LLVM's
parser with a traceback, or crashed the process when the code ran. The data
files of noisegen's entries are sealed: a digest of the pickle follows it
(``pickle.loads`` reads to the pickle's end and ignores what follows, so
Numba alone still reads them), and one whose digest does not match, or that
has none (written before the seal), is a damaged entry: compiled again. So is an
entry whose code was compiled for another signature than its key's (two
processes that saved two signatures of a kernel at once: :func:`_compiled_for`).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import warnings

from .errors import NoisegenWarning
from .labels import user_stacklevel

__all__ = ["install"]

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: What unpickling a damaged index or data file raises.
DAMAGED = (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError, KeyError)
_WARNED = []  # the folder of the one warning given (once a process: every kernel would say the same)


def _ours(cache) -> bool:
    path = getattr(getattr(getattr(cache, "_impl", None), "locator", None), "_py_file", None)
    return isinstance(path, str) and os.path.abspath(path).startswith(PACKAGE_DIR + os.sep)


def _compiled_for(cres, sig) -> bool:
    """Whether a loaded entry holds code compiled for ``sig``. Numba reads, extends and rewrites an
    index without a lock: two processes saving two signatures of one kernel at once can both take
    the next data file, leaving one's key naming the other's code (every later process loaded it
    and failed: "TypeError: can't unbox array")."""
    try:
        from numba.core import sigutils

        args = tuple(sigutils.normalize_signature(sig)[0])
    except Exception:  # noqa: BLE001  (Numba's internals moved: trust the entry, as Numba does)
        return True
    got = getattr(getattr(cres, "signature", None), "args", None)
    return got is None or tuple(got) == args


def _drop_index(cache) -> None:
    try:
        os.unlink(cache._cache_file._index_path)
    except (AttributeError, OSError):
        pass


#: What follows the pickle of a sealed data file: this tag, then the pickle's digest.
SEAL = b"noisegen-seal:"
_DIGEST = 16


def _digest(data) -> bytes:
    return hashlib.blake2b(data, digest_size=_DIGEST).digest()


def sealed(data: bytes) -> bytes:
    """A data file's bytes: the pickle, :data:`SEAL` and its digest."""
    return data + SEAL + _digest(data)


def unsealed(data: bytes) -> bytes:
    """The pickle of a sealed data file's bytes; ValueError when the seal is missing or does not match."""
    cut = len(data) - len(SEAL) - _DIGEST
    if cut < 0 or data[cut:cut + len(SEAL)] != SEAL or _digest(memoryview(data)[:cut]) != data[cut + len(SEAL):]:
        raise ValueError("a damaged Numba cache data file (its seal does not match)")
    return data[:cut]


def _seal_data_files(caching) -> None:
    """Seal the data files of the cache files marked ``noisegen_sealed`` (noisegen's)."""
    cls = caching.IndexDataCacheFile
    plain_load_data, plain_save_data = cls._load_data, cls._save_data

    def _load_data(self, name):
        if not getattr(self, "noisegen_sealed", False):
            return plain_load_data(self, name)
        with open(self._data_path(name), "rb") as f:
            return pickle.loads(unsealed(f.read()))

    def _save_data(self, name, data):
        if not getattr(self, "noisegen_sealed", False):
            return plain_save_data(self, name, data)
        with self._open_for_write(self._data_path(name)) as f:
            f.write(sealed(self._dump(data)))

    cls._load_data, cls._save_data = _load_data, _save_data


def _mark(cache) -> None:
    """Mark the cache file of ``cache`` to be sealed when it is one of noisegen's."""
    if _ours(cache) and getattr(cache, "_cache_file", None) is not None:
        cache._cache_file.noisegen_sealed = True


def install() -> bool:
    """Guard the cache entries of noisegen's functions (idempotent). Returns whether it is installed."""
    try:
        from numba.core import caching

        plain_load, plain_save = caching.Cache.load_overload, caching.Cache.save_overload
    except (ImportError, AttributeError):
        return False
    numba_dir = os.path.dirname(os.path.dirname(os.path.abspath(caching.__file__))) + os.sep
    if getattr(plain_load, "noisegen_guard", False):
        return True

    def load_overload(self, sig, target_context):
        _mark(self)
        try:
            cres = plain_load(self, sig, target_context)
        except DAMAGED:
            if not _ours(self):
                raise
            _drop_index(self)  # compiled again; the save writes a new index
            return None
        except OSError:  # an entry this user cannot read (a cache folder shared with another user's umask)
            if not _ours(self):
                raise
            return None  # compiled again, and left as it is (the save that follows warns once)
        if cres is not None and _ours(self) and not _compiled_for(cres, sig):
            _drop_index(self)  # another signature's code under this key: compiled again, as a damaged entry
            return None
        return cres

    def save_overload(self, sig, data):
        _mark(self)
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
                              "but compile again in the next process", NoisegenWarning,
                              stacklevel=user_stacklevel(skip=(numba_dir,)))  # (2: a line of Numba's dispatcher)

    load_overload.noisegen_guard = True
    _seal_data_files(caching)
    caching.Cache.load_overload = load_overload
    caching.Cache.save_overload = save_overload
    return True
