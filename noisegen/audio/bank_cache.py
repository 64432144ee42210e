"""A bank's cache file: where it may be written, and its memory map (which a pickle sends as the file).

A :class:`~noisegen.NoiseBank` built with ``cache_path`` writes its samples
there once and maps the file read-only afterwards, so that processes share
the pages: forked ones by inheriting the map, spawned ones (and forkserver's)
by mapping the same file again when they unpickle the bank.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pickle
import stat
import threading
import warnings
from pathlib import Path

import numpy as np

from .._core.errors import NoisegenError, NoisegenWarning, ParameterError
from .._core.labels import user_stacklevel
from .._core.tempfiles import remove_dead_temps, write_atomically
from .._core.validation import check_path, show_value
from .files import unexpanded_home

__all__ = ["dumps_anywhere", "mapped", "pickled", "unpickled", "checked_cache_path", "write_cache", "stamps"]

_INLINE = threading.local()


def dumps_anywhere(obj) -> bytes:
    """``pickle.dumps(obj)`` whose banks hold their samples even where they map a ``cache_path``:
    for a process that may run on another machine (a Ray task or actor), where the path need
    not exist."""
    with _samples_inline():
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


@contextlib.contextmanager
def _samples_inline():
    """Within it (in this thread), :func:`pickled` gives the samples."""
    before = getattr(_INLINE, "on", False)
    _INLINE.on = True
    try:
        yield
    finally:
        _INLINE.on = before


def stamps(paths) -> list:
    """``[path, size, mtime_ns]`` of each file (``-1`` for a file that cannot be stat'ed)."""
    files = []
    for p in paths:
        try:
            st = os.stat(p)
            files.append([p, st.st_size, st.st_mtime_ns])
        except OSError:
            files.append([p, -1, -1])
    return files


def file_id(path):
    """What tells a file from its replacement at the same path (a cache rebuilt is a new file)."""
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def mapped(path, tag: bytes = b"") -> np.ndarray:
    """The ``.npy`` at ``path`` memory-mapped read-only, marked with the file it maps (for pickling).

    ``tag``: the bytes the file must end in (after the samples, where NumPy reads nothing), those its
    writer put in the ``.json`` beside it, else a ValueError: a ``.npy`` and a ``.json`` of two
    writers building one cache at once are not taken for a pair."""
    before = file_id(path)
    audio = np.load(path, mmap_mode="r")
    with open(path, "rb") as fh:
        fh.seek(max(0, before[2] - len(tag)))
        tail = fh.read()
    if file_id(path) != before:  # replaced while it was opened: which one is mapped is unknown
        raise OSError(f"{path} changed while it was opened")
    if tag and tail != tag:
        raise ValueError(f"{path} was written with another .json")
    audio._noisegen_file = (os.path.abspath(path), before)  # (a relative path names another file after a chdir)
    return audio


def pickled(audio):
    """What a pickled bank holds for ``audio``: the file it maps while that file is the one mapped
    (outside :func:`dumps_anywhere`), else (replaced, moved, deleted) the samples."""
    source = getattr(audio, "_noisegen_file", None)
    if source is None or getattr(_INLINE, "on", False):
        return audio
    try:
        same = file_id(source[0]) == source[1]
    except OSError:  # gone from its path: the map still holds the samples
        same = False
    return source if same else audio


def unpickled(held):
    """:func:`pickled`'s ``held`` as samples: the file mapped again, if it still is the one."""
    if not isinstance(held, tuple):
        return held
    path, identity = held
    try:
        audio = mapped(path)
    except (OSError, ValueError) as exc:
        raise NoisegenError(f"the NoiseBank cache {path} cannot be mapped where this bank was unpickled: "
                            f"{exc}") from None
    if audio._noisegen_file[1] != identity:
        raise NoisegenError(f"the NoiseBank cache {path} was replaced after this bank was pickled (a bank "
                            "with the same cache_path was rebuilt): load the bank again")
    return audio


#: Written before the tag at the end of a bank's ``.npy``: a lone ``.npy`` (its writer stopped before the
#: ``.json``) is taken for a cache, and replaced, only when it ends in this and a 16-byte tag.
_MARK = b"noisegen NoiseBank cache tag:"


def _marked(path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(max(0, os.fstat(fh.fileno()).st_size - len(_MARK) - 16))
        return fh.read().startswith(_MARK)


def write_cache(path: Path, audio, stored: dict, tag: bytes) -> bool:
    """Write a bank's ``.npy`` (ending in :data:`_MARK` and ``tag``) and ``.json``, each whole or not at
    all: True when written; False, with a warning, where the folder cannot be written to (read-only, not the user's:
    the bank then works from memory, as without a cache); any other failure a ParameterError."""
    try:  # (no temporary left behind: a parent that is a file, a full disk)
        path.parent.mkdir(parents=True, exist_ok=True)
        for written in (path, Path(str(path) + ".json")):  # a killed build's temporaries (big: a whole bank)
            remove_dead_temps(str(written))
        write_atomically(str(path), lambda fh: (np.save(fh, audio), fh.write(_MARK + tag)))
        write_atomically(str(path) + ".json", lambda fh: fh.write(json.dumps(stored).encode()))
    except OSError as exc:
        why = exc.strerror or exc
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            warnings.warn(f"cache_path {str(path)!r} cannot be written ({why}): the bank is held in memory, "
                          "not shared through the cache", NoisegenWarning, stacklevel=user_stacklevel())
            return False
        raise ParameterError(f"cache_path {str(path)!r} cannot be written: {why}") from None
    return True


def checked_cache_path(cache_path) -> Path:
    """``cache_path`` as a Path, refused before anything is read or written unless it (and its
    ``.json``) are new or a bank cache: a cache is replaced when its files change, and nothing
    else at those paths may be (a device, a folder, someone's file); nor is a path starting with a '~' no
    shell expanded (:func:`.files.unexpanded_home`), whose folders would be made in the current one."""
    if isinstance(cache_path, bytes) or not isinstance(cache_path, (str, os.PathLike)):
        raise ParameterError(f"cache_path must be a file path, got {show_value(cache_path)}")
    path = Path(check_path(cache_path, "cache_path"))  # (a NUL byte)
    if why := unexpanded_home(cache_path):  # ('~/cache/bank.npy' made ./~/cache, as augment's out_dir did)
        raise ParameterError(f"cache_path {os.fspath(cache_path)!r} {why}")
    meta = Path(str(path) + ".json")
    for p in (path, meta):
        try:
            mode = os.stat(p).st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ParameterError(f"cache_path {str(path)!r} cannot be used: {exc.strerror or exc}") from None
        if not stat.S_ISREG(mode):
            raise ParameterError(f"cache_path: {str(p)!r} exists and is not a regular file; give a new path")
    if (path.exists() or meta.exists()) and not _is_bank_cache(path, meta):
        raise ParameterError(f"cache_path {str(path)!r} (or its .json) exists and is not a NoiseBank cache; "
                             "noisegen does not overwrite it: give a new path")
    return path


def _is_bank_cache(path, meta) -> bool:
    """Whether the files at ``path`` / ``meta`` are a bank cache's (either may be missing: a cache
    whose writer stopped between them): float32 samples in a 1-D ``.npy``, a ``.json`` with a signature.
    A ``.npy`` NumPy cannot read beside a bank's ``.json`` (cut short, damaged) is that cache's, rebuilt."""
    stored = None
    if meta.exists():
        try:
            with open(meta) as f:
                stored = json.load(f)
        except (OSError, ValueError):
            return False
        if not isinstance(stored, dict) or "signature" not in stored:
            return False
    if path.exists():
        try:
            audio = np.load(path, mmap_mode="r")
        except (OSError, ValueError, EOFError):
            return stored is not None and "tag" in stored
        # (a lone float32 1-D .npy without the mark is someone's own: it was replaced)
        return audio.dtype == np.float32 and audio.ndim == 1 and (stored is not None or _marked(path))
    return True
