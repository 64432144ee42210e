"""Host-side designs (filter taps) cached on disk, beside Numba's cache.

A design that takes ``scipy.signal`` (a 0.4 s import) and a remez run is
made once and stored as ``.npy``; a later process with a warm cache loads it
and imports neither. The folder follows the kernels' cache:
``$NUMBA_CACHE_DIR/noisegen-designs`` when set (``noisegen._core.jit``
sets it for read-only installs), else the package's ``__pycache__``.
Files are written atomically and are only an optimisation: an unreadable,
unwritable or corrupt cache means the design is recomputed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

import numpy as np

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def folder() -> str:
    """Where designs are cached."""
    base = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(_PACKAGE, "__pycache__")
    return os.path.join(base, "noisegen-designs")


def code_fingerprint(fn) -> tuple:
    """What identifies ``fn``'s code across processes (bytecode, names, plain constants)."""
    code = fn.__code__
    return code.co_code, code.co_names, tuple(c for c in code.co_consts if not hasattr(c, "co_code"))


def cached_array(name: str, key, compute):
    """``compute()`` (a float64 array or None), stored under ``name`` and a hash of ``key``.

    ``key`` must hold everything the result depends on (arguments, constants,
    :func:`code_fingerprint` of the designing function, library versions).
    """
    digest = hashlib.blake2b(repr(key).encode(), digest_size=12).hexdigest()
    path = os.path.join(folder(), f"{name}-{digest}.npy")
    try:
        stored = np.load(path, allow_pickle=False)
        return None if stored.size == 0 else stored
    except (OSError, ValueError, EOFError):
        pass
    result = compute()
    try:
        os.makedirs(folder(), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder(), prefix=f".{name}-", suffix=".npy")
        with os.fdopen(fd, "wb") as f:
            np.save(f, np.zeros(0) if result is None else np.asarray(result, dtype=np.float64))
        os.replace(tmp, path)  # readers see the whole file or none
    except OSError:
        pass
    return result
