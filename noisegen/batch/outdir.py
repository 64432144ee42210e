"""What ``augment`` keeps about its output folder: a run lock and input fingerprints.

**Lock.** A run holds ``fcntl.flock`` locks in ``OUT_DIR`` for as long as it
runs. An unsharded run takes ``.noisegen.lock`` exclusively; a run of shard
``K/N`` takes it shared (so it excludes unsharded runs, not other shards) plus
``.noisegen.shard-K-of-N.lock`` exclusively, and refuses while a run of
another shard count ``M != N`` is alive (those shards overlap). Each lock file
holds the pid, host and start time of its holder, for the message a refused
run prints. The kernel drops a flock when its holder dies (SIGKILL, OOM
killer, power loss of the holder's host aside), so a lock left by a killed run
is simply free and the next run takes it over; a file that still names a
holder at that moment is how a stale lock is recognised (a clean exit empties
it). Holding the file descriptor is the lock. Lock files are unlinked only by
an unsharded run refused before it wrote anything, in a folder it made (the
folder goes with them), while it holds them; a run that then holds a file since
unlinked opens the new one and locks again, so two runs never lock two
different files of one name. flock on network file
systems is only as good as their lock support (NFSv4 and Lustre with
``flock`` mounts are fine).

**Fingerprint.** :func:`input_fingerprint` records what an output was made
from (size, ``mtime_ns`` and a streamed BLAKE2b of the bytes) so a rerun can
tell an edited input, or another input folder with the same names, from the
one the outputs came from.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
import re
import socket
import time

from .._core.errors import ParameterError
from ..audio.bank import NoiseBank
from ..audio.files import file_kind, open_regular, path_kind  # noqa: F401  (re-exported)
from ..transforms import Transform

__all__ = ["OutDirLock", "jsonl_lock", "drop_inherited_locks", "input_fingerprint", "fingerprint_changed",
           "banks_changed",
           "open_regular", "file_kind"]

LOCK = ".noisegen.lock"
JSONL_LOCK = ".noisegen.jsonl.lock"
_SHARD_LOCK = ".noisegen.shard-{k}-of-{n}.lock"
_SHARD_RE = re.compile(r"\.noisegen\.shard-(\d+)-of-(\d+)\.lock$")
#: Manifest fields that record the input an output was made from.
FINGERPRINT_FIELDS = ("input_size", "input_mtime_ns", "input_blake2b")
#: The descriptors of the locks this process holds (a forked worker closes its copies).
_HELD: set[int] = set()


def drop_inherited_locks() -> None:
    """In a forked child (a pool worker): close its copies of the parent's lock descriptors.

    A flock belongs to the open file, which the parent keeps open, so the parent still holds the
    lock; but when the parent dies (SIGKILL, the OOM killer) the kernel drops it at once, not when
    the last worker that inherited a copy exits (a rerun was refused "in use" meanwhile).
    """
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


def input_fingerprint(path, *, block: int = 1 << 20) -> dict:
    """``{"input_size", "input_mtime_ns", "input_blake2b"}`` of a regular file (bytes streamed)."""
    fd = open_regular(path)
    try:
        st = os.fstat(fd)
        h = hashlib.blake2b(digest_size=16)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            for chunk in iter(lambda: fh.read(block), b""):
                h.update(chunk)
    finally:
        os.close(fd)
    return {"input_size": st.st_size, "input_mtime_ns": st.st_mtime_ns, "input_blake2b": h.hexdigest()}


def banks_fingerprint(pipeline) -> str | None:
    """BLAKE2b-128 of the files of every noise, sound and RIR bank in ``pipeline``, in order
    (:meth:`~noisegen.NoiseBank.files_digest`), or None when it has none: a manifest line's indices
    into a bank name other files once the folder changes, which the job key (the folder's path)
    does not see, so a replay compares it."""
    digests = [bank.files_digest() for bank in _banks(pipeline)]
    digests = [d for d in digests if d is not None]
    return hashlib.blake2b(" ".join(digests).encode(), digest_size=16).hexdigest() if digests else None


def _banks(t):
    """The NoiseBanks of transform ``t`` and of the transforms it holds (children, a noise transform)."""
    for value in vars(t).values():
        for v in value if isinstance(value, list) else (value,):
            if isinstance(v, NoiseBank):
                yield v
            elif isinstance(v, Transform):
                yield from _banks(v)


def banks_changed(line: dict, banks: str | None) -> bool:
    """True when ``line`` records a digest of its pipeline's bank files other than ``banks``
    (:func:`banks_fingerprint`): the same job key, but its noises or RIRs were other files."""
    return line.get("banks") is not None and line["banks"] != banks


def fingerprint_changed(line: dict, fingerprint: dict) -> bool:
    """True when ``line`` was made from other bytes than ``fingerprint`` (or recorded none).

    The size and the hash decide; a changed ``mtime_ns`` alone (``touch``)
    does not, since the output would come out the same.
    """
    return any(line.get(k) != fingerprint[k] for k in ("input_size", "input_blake2b"))


# -- the run lock --------------------------------------------------------------------------------
def _holder(fd_or_path) -> str:
    """The holder named in a lock file, as text for a message (empty when none is named)."""
    try:
        if isinstance(fd_or_path, int):
            text = os.pread(fd_or_path, 4096, 0).decode("utf-8", "replace")
        else:
            with open(open_regular(fd_or_path), encoding="utf-8", errors="replace") as fh:  # (a FIFO: refused)
                text = fh.read(4096)
        info = json.loads(text)
        return (f"pid {info['pid']} on {info['host']}, started {info['started']}"
                + (f", shard {info['shard']}" if info.get("shard") else ""))
    except (OSError, ValueError, KeyError, TypeError):
        return ""


class OutDirLock:
    """The locks of one ``augment`` run on ``out_dir`` (see the module docstring).

    Use as a context manager; raises :class:`~noisegen.ParameterError` naming
    the running holder when ``out_dir`` is busy. ``stale`` lists holders of
    killed runs whose locks were taken over.
    """

    def __init__(self, out_dir: str, shard=None, *, made=False):
        self.out_dir, self.shard, self.made = out_dir, shard, made  # made: the run made out_dir
        self.fds: list[int] = []
        self.stale: list[str] = []

    def __enter__(self):
        try:
            import fcntl  # noqa: F401
        except ImportError:  # not a POSIX system: run unlocked
            return self
        try:
            if self.shard is None:
                self._take(LOCK, exclusive=True)
            else:
                k, n = self.shard
                self._take(LOCK, exclusive=False)
                self._take(_SHARD_LOCK.format(k=k, n=n), exclusive=True)
                self._refuse_other_shard_counts(n)
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *exc):
        self.release()

    def _take(self, name: str, *, exclusive: bool) -> None:
        import fcntl

        path = os.path.join(self.out_dir, name)
        while True:
            fd = _open_lock(self.out_dir, name, os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                raise self._busy(path) from None
            if os.fstat(fd).st_nlink:  # (0: unlinked by a refused run as we opened it: lock the file now there)
                break
            os.close(fd)
            try:  # that run removed the folder it made too, when it held nothing else: it is ours to make now
                os.mkdir(self.out_dir)
                self.made = True
            except FileExistsError:
                pass
        self.fds.append(fd)
        _HELD.add(fd)
        if exclusive:  # we are the only holder: a name left in the file is a killed run's
            old = _holder(fd)
            if old:
                self.stale.append(old)
            record = {"pid": os.getpid(), "host": socket.gethostname(),
                      "started": time.strftime("%Y-%m-%d %H:%M:%S"), "shard": _shard_text(self.shard)}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode(), 0)

    def _busy(self, path: str) -> ParameterError:
        mine = f"pid {os.getpid()} on {socket.gethostname()}, "  # (our own shard's lock file is no holder)
        holders = [h for h in (_holder(p) for p in [path, *self._shard_files()]) if h and not h.startswith(mine)]
        who = "; ".join(dict.fromkeys(holders)) or "a process that did not record itself"
        return ParameterError(f"out_dir {self.out_dir!r} is in use by another noisegen augment run ({who}); "
                              "wait for it to finish or use another OUT_DIR")

    def _shard_files(self) -> list[str]:
        return sorted(glob.glob(os.path.join(glob.escape(self.out_dir), ".noisegen.shard-*-of-*.lock")))

    def _refuse_other_shard_counts(self, n: int) -> None:
        """Shards of another count overlap ours: refuse while one of them runs."""
        import fcntl

        for path in self._shard_files():
            m = _SHARD_RE.search(path)
            if m is None or int(m.group(2)) == n:
                continue
            fd = _open_lock(self.out_dir, os.path.basename(path), os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # free unless a run holds it
            except OSError:
                raise self._busy(path) from None
            finally:
                os.close(fd)  # closing drops the probe

    def remove_made_folder(self) -> None:
        """Unlink the lock files and the folder, while the lock is held, when the run made the folder: an
        unsharded run refused before it wrote anything (a bank that holds no usable file) left a new folder
        holding only its two lock files. A run that opened the lock file meanwhile finds it unlinked once it
        holds it, and takes the lock again (:meth:`_take`); anything else in the folder keeps it."""
        if not self.made or self.shard is not None or not self.fds:  # (shards share it: never theirs alone)
            return
        for name in (JSONL_LOCK, LOCK):
            try:
                os.unlink(os.path.join(self.out_dir, name))
            except OSError:
                pass
        try:
            os.rmdir(self.out_dir)
        except OSError:  # not empty: something else was put there
            pass

    def release(self) -> None:
        """Empty our exclusive lock files (a clean exit) and drop every lock."""
        for fd in reversed(self.fds):
            try:
                if _holder(fd).startswith(f"pid {os.getpid()} "):
                    os.ftruncate(fd, 0)
            except OSError:
                pass
            _HELD.discard(fd)
            os.close(fd)
        self.fds = []


def _open_lock(out_dir: str, name: str, flags: int) -> int:
    """``os.open`` of the lock file ``name`` in ``out_dir``, refusing anything but a regular file: a FIFO
    there blocked a shard's run for ever (opened to read), or failed it with a bare "Invalid argument"."""
    path = os.path.join(out_dir, name)
    try:
        return open_regular(path, flags)
    except ParameterError:
        raise ParameterError(f"out_dir {out_dir!r} holds a {name} that noisegen augment did not write "
                             f"({path_kind(path)}, not a lock file); use another OUT_DIR") from None


def _shard_text(shard) -> str | None:
    return None if shard is None else f"{shard[0]}/{shard[1]}"


# -- the jsonl files -----------------------------------------------------------------------------
class jsonl_lock:
    """Exclusive for the duration of one append or rewrite of ``manifest.jsonl``/``failures.jsonl``.

    Shards of one job run at once into one OUT_DIR; a rewrite (dropping
    superseded lines) must not lose a line another shard appends meanwhile.
    """

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.fd = None

    def __enter__(self):
        self.fd = _open_lock(self.out_dir, JSONL_LOCK, os.O_RDWR | os.O_CREAT)
        _HELD.add(self.fd)  # (a worker the pool forks meanwhile, replacing one that died, must not keep it)
        try:
            import fcntl
        except ImportError:  # no flock here: best effort
            return self
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        _HELD.discard(self.fd)
        os.close(self.fd)  # drops the lock
