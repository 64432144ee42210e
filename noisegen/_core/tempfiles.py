"""The temporary files this process and its workers may be writing, so that a stop removes them.

Interrupted (Ctrl-C, or SIGTERM through the command line's handler), a
command unwinds: each writer removes its own file, and ``noisegen augment``
sweeps its output folder for the files of the pool workers it terminated (a
worker keeps the default SIGTERM, which kills it where it stands; a Python
handler can miss a signal that lands just as the worker blocks on its task
queue, and the pool would then wait on it forever). Should the unwinding
not happen (an exception raised from a signal handler is dropped when it
lands in a destructor or a weakref callback), :func:`exit_removing` ends
the process instead: it removes the files named with :func:`live` (from
just after they are created until they are renamed into place or removed)
and runs the sweeps registered with :func:`sweeping`.

:func:`write_atomically` writes every file noisegen makes: a temporary file
next to the destination, renamed into place when it is whole.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
import time

__all__ = ["live", "sweeping", "exit_removing", "write_atomically", "temp_stem", "stem_hash", "remove_dead_temps"]

NAME_MAX = 255  # bytes in a file name (Linux, macOS)
#: Characters mkstemp's part of a temporary name takes: "." + 8 random + ".part" (".f32" is shorter).
TEMP_ROOM = 14

#: Age (seconds) past which a temporary file of :func:`write_atomically` is a dead writer's.
DEAD_AFTER_S = 3600
_MKSTEMP_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")

_LIVE: set = set()
_SWEEPS: list = []


@contextlib.contextmanager
def live(path: str):
    """Name ``path`` as a temporary file of this process while the block runs."""
    _LIVE.add(path)
    try:
        yield path
    finally:
        _LIVE.discard(path)


@contextlib.contextmanager
def sweeping(sweep):
    """While the block runs, ``sweep()`` cleans up after its work should a stop end the process: it
    removes the work's temporary files (any process's) or drops what it holds (a lock's record)."""
    _SWEEPS.append(sweep)
    try:
        yield
    finally:
        _SWEEPS.remove(sweep)


def exit_removing(signum, frame=None):
    """Signal handler: remove the live temporary files, run the sweeps (the last registered first),
    end the process (128 + signal)."""
    for path in list(_LIVE):
        try:
            os.unlink(path)
        except OSError:  # renamed into place a moment ago, or never written
            pass
    for sweep in list(reversed(_SWEEPS)):  # the innermost first, as the blocks would have unwound
        try:
            sweep()
        except Exception:  # noqa: BLE001 - leave the rest to the next run's sweep
            pass
    os._exit(128 + signum)


def stem_hash(name: str) -> str:
    """12 hex digits naming ``name`` in a cut temporary stem (see :func:`temp_stem`)."""
    return hashlib.blake2b(os.fsencode(name), digest_size=6).hexdigest()


def temp_stem(name: str, room: int = TEMP_ROOM) -> str:
    """``"." + name``: how a temporary file beside ``name`` begins, before ``room`` more characters.

    Where that would pass NAME_MAX (a legal name of 241 bytes or more) the
    stem is ``".~" + stem_hash(name)`` instead: the file can still be made,
    and a sweep still tells whose it is.
    """
    stem = "." + name
    if len(os.fsencode(stem)) + room <= NAME_MAX:
        return stem
    return ".~" + stem_hash(name)


def remove_dead_temps(path: str, age_s: float = DEAD_AFTER_S) -> None:
    """Remove the temporary files :func:`write_atomically` made for ``path`` that are older than
    ``age_s``: a writer killed where it stood (SIGKILL, the OOM killer) left them, and nothing
    else ever would (a live writer's is far younger). Best effort."""
    folder, name = os.path.split(os.path.abspath(path))
    stem = temp_stem(name) + "."
    cutoff = time.time() - age_s
    try:
        with os.scandir(folder) as it:
            found = [e.path for e in it if _is_temp_of(e.name, stem)]
    except OSError:
        return
    for temp in found:
        try:
            if os.lstat(temp).st_mtime < cutoff:
                os.unlink(temp)
        except OSError:  # (renamed into place, or removed, meanwhile)
            pass


def _is_temp_of(name: str, stem: str) -> bool:
    """Whether ``name`` is ``stem`` + mkstemp's 8 random characters + ``.part``."""
    rand = name[len(stem):-len(".part")]
    return name.startswith(stem) and name.endswith(".part") and len(rand) == 8 and set(rand) <= _MKSTEMP_CHARS


def _file_mode() -> int:
    # The mode an ordinary open() would create: mkstemp's 0600 would otherwise stick.
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomically(path: str, write, *, replace=True, same=None) -> None:
    """Call ``write(file object)`` on a temporary file next to ``path``, then rename it to ``path``.

    The file is written through a Python file object: libsndfile then skips
    the fsync it makes on closing a file it opened itself (three per file,
    most of a short file's cost). Like the rest of a job's files, outputs are
    not forced to disk; the rename keeps a half-written file from ever
    showing under the final name, and a failure removes the temporary file.

    ``replace=False`` never replaces a file already at ``path``: the new one is
    linked in only where nothing is (a hard link fails rather than replace; a
    check just before the rename where the file system has none), and an
    existing one is left as it is when it is a regular file of the written
    size and ``same(its bytes)`` says it holds what was written, else
    :class:`FileExistsError` (a FIFO or device there is never opened).
    """
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=temp_stem(os.path.basename(path)) + ".", suffix=".part")
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write into {folder!r}: {exc.strerror}") from None
    try:
        with live(tmp):  # (what a SIGTERM's hard stop removes)
            try:
                with os.fdopen(fd, "w+b") as fh:
                    write(fh)
            except OSError as exc:  # (EFBIG under ulimit -f, ENOSPC: a write names no file; say which)
                if exc.filename is None:
                    exc.filename = path
                raise
            os.chmod(tmp, _file_mode())
            try:
                if replace:
                    os.replace(tmp, path)
                else:
                    _place_new(tmp, path, same)
            except FileExistsError:
                raise
            except OSError as exc:  # (its own message names the temporary file: a folder named path, say)
                raise OSError(exc.errno, f"cannot write {path!r}: {exc.strerror}") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _place_new(tmp: str, path: str, same) -> None:
    """``tmp`` renamed to ``path`` where nothing is there yet (:func:`write_atomically`'s ``replace=False``)."""
    try:
        os.link(tmp, path)  # atomic, and fails where path exists
    except FileExistsError:
        pass
    except OSError:  # no hard links here (some network and FAT file systems): check, then rename
        if not os.path.lexists(path):
            os.replace(tmp, path)
            return
    else:
        os.unlink(tmp)
        return
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
    try:
        there = os.stat(path)
    except OSError:
        there = None
    # Only a regular file of the written size is read (a FIFO would block the read, /dev/zero never
    # end it; bytes of another size are not the same)
    if there is not None and not stat.S_ISREG(there.st_mode):
        raise FileExistsError(errno.EEXIST, f"{path!r} exists and is not a regular file; it was left as it is")
    if there is None and os.path.islink(path):  # (it holds nothing: "something else" sent users looking for it)
        raise FileExistsError(errno.EEXIST, f"{path!r} is a symlink to a missing file; it was left as it is")
    old = None
    if there is not None and same is not None and there.st_size == os.path.getsize(tmp):
        try:
            with open(path, "rb") as fh:
                old = fh.read(there.st_size + 1)
        except OSError:
            pass
    if old is None or not same(old):
        raise FileExistsError(errno.EEXIST, f"{path!r} exists and holds something else; it was left as it is")
    os.unlink(tmp)  # the same bytes are there already
