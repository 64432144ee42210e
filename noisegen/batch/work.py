"""The work of one input in ``noisegen augment``: load it, render its copies, write each atomically.

Runs in the main process, in forked pool workers and in Ray workers alike;
:func:`_init_worker` gives the process its pipeline first.
"""

from __future__ import annotations

import errno
import filecmp
import multiprocessing
import os
import signal
import sys
import threading
import warnings

import numpy as np

from .._core.errors import NoisegenError
from .._core.labels import about, user_stacklevel
from .._core.layout import layout_known
from .._core.tempfiles import TEMP_ROOM, live, temp_stem
from ..audio.io import load, save
from .long import BLOCKWISE_MIN_S, render_long, long_source
from .outdir import drop_inherited_locks
from .plan import _inside, _one_line

#: Outputs louder than full scale are scaled down to this peak (recorded as ``peak_scale``).
PEAK_LIMIT = 0.99


# A comparison copy's name adds ".<pid>.cmp.<fmt>" to its stem, and its own save a temporary stem's "." and TEMP_ROOM.
CMP_ROOM = len(".4194304.cmp.flac") + 1 + TEMP_ROOM
_PIPELINE = None  # the pipeline of this process (set before forking, or by the worker initializer)


def _init_worker(pipeline):
    global _PIPELINE
    _PIPELINE = pipeline


#: The signals that stop a run (the command line's handlers), blocked while the pool forks its workers.
_STOPS = {signal.SIGINT, signal.SIGTERM} | ({signal.SIGHUP} if hasattr(signal, "SIGHUP") else set())

#: Per planned task, the pid of the pool worker that took it (0: none yet), shared with the workers.
_TAKEN = None


def run_pool(pipeline, tasks, n_workers, collect) -> int:
    """Run ``tasks`` on ``n_workers`` processes, ``collect`` ing their results in plan order (so the
    manifest and failures files are byte-identical for any number of workers, as Ray's are).

    A task whose worker dies before answering (the OOM killer, a signal) is a failure of its input,
    and the run goes on: ``Pool.imap`` waited for its result for ever. Returns how many died.
    """
    global _TAKEN
    # Kernels are serial and nogil (never parallel=True), so forking is safe and lets the
    # workers share the noise/RIR arrays loaded by _prepare; elsewhere spawn and rebuild.
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    _TAKEN = ctx.Array("q", len(tasks), lock=False)
    # Ctrl-C goes to the whole process group. SIGINT stays blocked while the workers start
    # (they ignore it from their first instruction on) and reaches only the parent, which
    # leaves the `with` block and so terminates the pool; SIGTERM stays blocked until a worker
    # has restored its default (it would otherwise run the command line's handler); SIGHUP, which a
    # closing terminal sends the whole group too, is left to the parent as Ctrl-C is.
    blocked = hasattr(signal, "pthread_sigmask")
    if blocked:
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
    try:
        pool = ctx.Pool(n_workers, initializer=_init_pool_worker,
                        initargs=(pipeline, os.getpid(), _TAKEN, threading.get_ident()))
    finally:
        if blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
    died = 0
    try:
        with pool:
            pending = [pool.apply_async(_process_taken, (i, task)) for i, task in enumerate(tasks)]
            for i, task in enumerate(tasks):
                # (let go once collected: each result holds its outputs' manifest lines, pipeline and all, and
                # the list kept them to the end, 7 kB an output: 0.7 GB over 100,000 outputs)
                result, pending[i] = pending[i], None
                while not result.ready():
                    result.wait(0.2)
                    worker = _TAKEN[i]
                    if worker and not result.ready() and not _alive(worker):
                        died += 1
                        collect((task[3], [{"ok": False, "input": task[3], "output": None, "error": (
                            f"its worker process (pid {worker}) died before finishing it: killed by a signal, "
                            "perhaps by the out-of-memory killer")}]))
                        break
                else:
                    rel_results, caught = result.get()
                    warn_again(caught)
                    collect(rel_results)
    finally:
        _TAKEN = None  # (shared memory, a word per task: it stayed mapped until the next run)
    return died


def _process_taken(i, task):
    _TAKEN[i] = os.getpid()  # (the parent reads it: this worker has task i)
    # A worker's warnings go to the parent, as a Ray worker's do: shown here they named a line of
    # multiprocessing's pool.py, and the caller's catch_warnings or pytest.warns never saw them.
    # (The filters stay those inherited, so "error" still fails the input, as with workers=1.)
    with warnings.catch_warnings(record=True) as caught:
        result = _process(task)
    return result, [(str(w.message), w.category) for w in caught]


def warn_again(caught) -> None:
    """Warn, at the caller's line, the ``(message, category)`` pairs a worker process recorded."""
    for message, category in caught:
        warnings.warn(message, category, stacklevel=user_stacklevel())


def _alive(pid: int) -> bool:
    """Whether process ``pid`` is still there (a dead pool worker is reaped by the pool within 0.1 s)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # not reaped yet: a zombie
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _init_pool_worker(pipeline, parent=None, taken=None, forker=None):
    """A pool worker leaves Ctrl-C to the parent, which terminates the pool (no worker tracebacks)
    and then removes the workers' temporary files; SIGTERM (what terminating sends) kills it, and
    on Linux it is sent when the parent (pid ``parent``) dies, which then drops OUT_DIR's lock.

    Only for a worker forked by the thread that made the pool (``forker``): Linux sends it when the
    forking *thread* ends, and a worker replacing a dead one is forked by the pool's handler thread,
    which ends as the pool is terminated: the replacement, killed idle while it held the task queue's
    lock, left the termination waiting for that lock for ever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # (the command line's handler would raise in the worker)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the command line's handler (_core.tempfiles)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)  # blocked while forking
    drop_inherited_locks()
    if parent is not None and threading.get_ident() in (forker, None):  # (forked: the forking thread's id)
        _end_with(parent)
    if taken is not None:  # (spawned: the shared array comes here; forked, it is inherited too)
        global _TAKEN
        _TAKEN = taken
    _init_worker(pipeline)


def _end_with(parent: int) -> None:
    """Have Linux send SIGTERM when the parent dies (a SIGKILLed run's workers went on as orphans
    to the end of their inputs); elsewhere nothing."""
    try:
        import ctypes

        if ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM) != 0:  # PR_SET_PDEATHSIG
            return
    except (OSError, AttributeError):  # no libc prctl: not Linux
        return
    if os.getppid() != parent:  # it died before the call
        os._exit(1)


def _render(pipeline, y, sample_rate, *, seed=None, params=None, scale=None):
    """Run (``seed``) or replay (``params``) the pipeline; return (audio, params, peak_scale).

    A replay applies the recorded ``scale`` when given (else it derives it the
    same way: outputs above full scale are scaled to :data:`PEAK_LIMIT`).
    """
    if params is None:
        out, params = pipeline._call_recorded(y, sample_rate=sample_rate, rng=seed)
    else:
        out = pipeline.apply_params(y, sample_rate=sample_rate, params=params)
    peak = float(np.max(np.abs(out))) if out.size else 0.0  # NaN or inf: some sample is
    if not np.isfinite(peak):
        raise NoisegenError("the pipeline produced non-finite samples")
    if scale is None:
        scale = PEAK_LIMIT / peak if peak > 1.0 else 1.0
    if scale != 1.0:
        out = (out * np.float32(scale)).astype(out.dtype)
    return out, params, float(scale)


def _same_bytes(a: str, b: str) -> bool:
    return filecmp.cmp(a, b, shallow=False)


def load_input(in_dir: str, rel: str, settings: dict, fingerprint: dict):
    """``(y, sample_rate)`` of an input, refused if empty or changed since it was fingerprinted."""
    return _read_whole(os.path.join(in_dir, rel), settings, fingerprint)


def _process(task):
    """Load one input and write its outputs; returns ``(rel, [result dicts])`` (never raises).

    A task with a ``run`` method (a tar shard of ``--output-format
    webdataset``, :class:`noisegen.batch.wds.ShardTask`) runs itself.
    """
    if hasattr(task, "run"):
        return task.run(_PIPELINE)
    in_dir, out_dir, in_real, rel, jobs, settings, fingerprint, header = task
    results = []
    path = os.path.join(in_dir, rel)
    source = long_source(path, settings["sample_rate"], settings.get("blockwise_min_s", BLOCKWISE_MIN_S), header)
    audio = [None]  # the whole input, read on first need (a long one only if a job cannot stream)

    def whole():
        if audio[0] is None:
            audio[0] = _read_whole(path, settings, fingerprint)
        return audio[0]

    try:
        if source is None:
            whole()
        else:
            _check_unchanged(path, fingerprint)
    except Exception as exc:  # noqa: BLE001 - any unreadable input is a recorded failure
        return rel, [{"ok": False, "input": rel, "output": None, "error": _one_line(exc)}]
    for job in jobs:
        out_path = os.path.join(out_dir, job["output"])
        try:
            folder = os.path.dirname(out_path)
            if _inside(os.path.realpath(folder), in_real):  # before making it: nothing is made in there
                raise NoisegenError(f"refusing to write inside the input folder: {out_path}")
            _make_folder(folder, out_dir)
            if os.path.isdir(out_path) and not os.path.islink(out_path):  # (--overwrite cannot replace it either)
                raise IsADirectoryError(errno.EISDIR, "a folder is in the way of the output", job["output"])
            exists = os.path.exists(out_path)
            target = out_path
            if exists:  # write beside it, then compare: never overwrite without being asked
                stem = temp_stem(os.path.basename(out_path), room=CMP_ROOM)
                target = os.path.join(folder, f"{stem}.{os.getpid()}.cmp.{settings['format']}")
            # (y is a file's frames: a short file of many channels is no (samples, channels) array, for the
            # pipeline or for save: noisegen._core.layout)
            with about(f"input {rel!r}"), layout_known():  # (about: named in the pipeline's warnings)
                done = None if source is None else render_long(
                    _PIPELINE, source, target=target, subtype=settings["subtype"], limit=PEAK_LIMIT, seed=job["seed"])
                if done is not None:
                    try:
                        _check_unchanged(path, fingerprint)
                    except BaseException:  # made from a changing input: left in place, a rerun refused to replace it
                        _unlink(target)
                        raise
                    params, scale, n_out, n_channels = done
                    sr = source.sample_rate
                else:
                    y, sr = whole()
                    out, params, scale = _render(_PIPELINE, y, sr, seed=job["seed"])
                    n_out, n_channels = out.shape[-1], 1 if out.ndim == 1 else out.shape[0]
                    save(target, out, sample_rate=sr, subtype=settings["subtype"])
            if exists:
                with live(target):
                    try:
                        if not (settings["overwrite"] or job["replace"] or _same_bytes(target, out_path)):
                            raise FileExistsError(f"{job['output']} exists with different content (pass --overwrite)")
                        os.replace(target, out_path)
                    finally:  # kept or not, the copy beside it goes (os.replace may fail: a folder there)
                        _unlink(target)
            line = {
                "input": rel, "output": job["output"], "copy": job["copy"], "seed": job["seed"],
                "sample_rate": sr, "n_samples": int(n_out), "n_channels": n_channels,
                "duration_s": n_out / sr, "format": settings["format"], "subtype": settings["subtype"],
                "peak_scale": scale, "params": params, "pipeline": settings["pipeline"],
                "in_dir": in_dir, "job": job["job"], **fingerprint,
            }
            if settings.get("banks"):
                line["banks"] = settings["banks"]  # (what replay compares)
            if done is not None:
                line["blockwise"] = True  # made in blocks (a replay makes it the same way)
            results.append({"ok": True, "line": line})
        except Exception as exc:  # noqa: BLE001
            fatal = isinstance(exc, OSError) and exc.errno in _FATAL_ERRNOS
            results.append({"ok": False, "input": rel, "output": job["output"], "error": _one_line(exc),
                            "fatal": exc.errno if fatal else None})
            if fatal:  # a full disk fails every output alike: stop here, the parent stops the run
                break
    return rel, results


def _make_folder(folder, out_dir):
    try:
        os.makedirs(folder, exist_ok=True)
    except FileExistsError:  # not an output made with other settings: say what is in the way
        raise NotADirectoryError(errno.ENOTDIR, "a file is in the way of the output folder",
                                 os.path.relpath(folder, out_dir)) from None


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:  # renamed into place
        pass


def _check_unchanged(path, fingerprint):
    st = os.stat(path)
    if (st.st_size, st.st_mtime_ns) != (fingerprint["input_size"], fingerprint["input_mtime_ns"]):
        raise NoisegenError("the input changed while this run was reading it; rerun to pick up the new version")


def _read_whole(path, settings, fingerprint):
    """The whole input ``(y, sample_rate)``, checked non-empty and unchanged since planning."""
    y, sr = load(path, sample_rate=settings["sample_rate"], dtype=np.float32)
    if y.shape[-1] == 0:
        raise NoisegenError("the file holds no samples")
    _check_unchanged(path, fingerprint)
    return y, sr


#: Write errors that no other input would escape: the run stops (exit 1) instead of failing every file.
_FATAL_ERRNOS = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EROFS) if e is not None)
