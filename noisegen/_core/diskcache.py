"""A small on-disk cache of computed arrays (filter designs), shared by processes and runs.

Some designs take far longer than the work they serve: an equiripple
resampling filter costs ~0.1 s of ``scipy.signal.remez`` (and ~1 s to import
``scipy.signal`` the first time), once per rate pair, in every new process.
:func:`cached_array` keeps such results as ``.npy`` files:

- in ``$NOISEGEN_CACHE_DIR``, else next to the Numba cache
  (``$NUMBA_CACHE_DIR/noisegen``, so a fresh Numba cache is a fresh design
  cache too), else ``$XDG_CACHE_HOME/noisegen`` (``~/.cache/noisegen``);
- keyed by a digest of the caller's key, which should name everything the
  result depends on (the code's version included: see :func:`source_digest`);
- written to a temporary name and renamed, so readers never see half a file;
- checked: each file ends in the SHA-256 of its ``.npy`` bytes (which NumPy
  readers ignore), so a damaged entry is computed again, never used;
- best effort: an unwritable or corrupt cache only means computing again;
- bounded: past :data:`MAX_NAMESPACE_BYTES` in a namespace, the entries used
  least recently (by modification time, renewed on each hit) are removed,
  and so are the temporary files of writers killed mid-write (SIGKILL, the
  OOM killer) once :data:`STALE_TEMP_S` old.
"""

from __future__ import annotations

import hashlib
import io
import os
import time

import numpy as np

from .tempfiles import write_atomically

__all__ = ["cached_array", "cache_dir", "source_digest"]

_NONE = np.zeros(0, dtype=np.int8)  # what a result of None is stored as
#: Bytes of entries one namespace keeps. resample() at 44.1 kHz to every rate of 8000-16000 Hz meets
#: ~2,200 exact ratios, one design file each: ~2.7 GB (the Resample transform designs ~230 of them), where ``noisegen warmup`` stores ~17 MB
#: (12 MB of Kaiser tables, 4 MB of FFT twiddles).
MAX_NAMESPACE_BYTES = 512 << 20
#: Age (seconds) past which a temporary ``.part`` file in a namespace is a dead writer's: a store takes
#: milliseconds, so a live writer's file is never this old.
STALE_TEMP_S = 3600
_SUM = 32  # bytes of the SHA-256 that ends each file


def cache_dir() -> str:
    """The folder of the design cache (not created here)."""
    explicit = os.environ.get("NOISEGEN_CACHE_DIR")
    if explicit:
        return explicit
    numba_dir = os.environ.get("NUMBA_CACHE_DIR")
    if numba_dir:
        return os.path.join(numba_dir, "noisegen")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "noisegen")


def source_digest(path: str) -> str:
    """A short digest of a source file's bytes: part of a key, so that editing the code invalidates it."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:16]


def _path(namespace: str, key) -> str:
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
    return os.path.join(cache_dir(), namespace, digest + ".npy")


def cached_array(namespace: str, key, compute, *, shape=None, dtype=None):
    """``compute()`` (a float array or None), read from the cache when it holds ``key``.

    With ``shape`` and ``dtype`` (of an array ``compute`` never replaces by None), an entry of
    another shape or dtype is not ours (a damaged or foreign file): it is computed and stored again.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> os.environ["NOISEGEN_CACHE_DIR"] = tempfile.mkdtemp()
    >>> calls = []
    >>> f = lambda: calls.append(1) or np.arange(3.0)
    >>> cached_array("demo", ("v1", 3), f), cached_array("demo", ("v1", 3), f), len(calls)
    (array([0., 1., 2.]), array([0., 1., 2.]), 1)
    >>> del os.environ["NOISEGEN_CACHE_DIR"]
    """
    path = _path(namespace, key)
    stored = _read(path)
    if stored is not None and shape is not None and (stored.shape != tuple(shape) or stored.dtype != dtype):
        stored = None
    if stored is not None:
        _touch(path)
        return None if stored.dtype == _NONE.dtype and stored.size == 0 else stored
    result = compute()
    if _store(path, _NONE if result is None else np.asarray(result)):
        _prune(os.path.dirname(path), path)
    return result


def _touch(path: str) -> None:
    """Mark an entry used now (what :func:`_prune` keeps longest); best effort."""
    try:
        os.utime(path)
    except OSError:
        pass


def _prune(folder: str, keep: str) -> None:
    """Remove the least recently used entries of ``folder`` (never ``keep``) until it holds at most
    :data:`MAX_NAMESPACE_BYTES`, and dead writers' temporary files; another process removing the
    same ones meanwhile is fine."""
    try:
        with os.scandir(folder) as it:
            found = [(st.st_mtime_ns, st.st_size, e.name, e.path) for e in it if (st := _stat(e))]
    except OSError:
        return
    _remove_stale_temps([(mtime, path) for mtime, _, name, path in found
                         if name.startswith(".") and name.endswith(".part")])
    entries = [(mtime, size, path) for mtime, size, name, path in found
               if name.endswith(".npy") and not name.startswith(".")]
    total = sum(size for _, size, _ in entries)
    entries = [entry for entry in entries if entry[2] != keep]
    for _, size, path in sorted(entries):
        if total <= MAX_NAMESPACE_BYTES:
            break
        _remove(path)
        total -= size


def _stat(entry):
    """``entry``'s stat, or None: not an entry or a temporary file, or gone meanwhile (a writer's
    temporary file renamed into place, an entry another process pruned)."""
    if not entry.name.endswith((".npy", ".part")):
        return None
    try:
        return entry.stat()
    except OSError:
        return None


def _remove_stale_temps(temps) -> None:
    """Remove the ``(mtime_ns, path)`` temporary files older than :data:`STALE_TEMP_S`: a writer
    killed where it stood (no unwinding) left them, uncounted by the bound, for ever."""
    cutoff = time.time_ns() - STALE_TEMP_S * 10**9
    for mtime, path in temps:
        if mtime < cutoff:
            _remove(path)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _read(path: str):
    """The array stored at ``path``, or None (missing, unreadable, or not what was written: its checksum)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    body, checksum = data[:-_SUM], data[-_SUM:]
    if len(data) <= _SUM or hashlib.sha256(body).digest() != checksum:
        return None  # damaged, cut short, or written without a checksum (an older noisegen)
    try:
        return np.load(io.BytesIO(body), allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None


def _store(path: str, array: np.ndarray) -> bool:
    """Write an entry; False when it could not be written."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    body = buf.getvalue()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomically(path, lambda fh: fh.write(body + hashlib.sha256(body).digest()))
    except OSError:
        return False  # a read-only or full disk: the design is simply made again next time
    return True
