"""The work of one input in ``noisegen augment``: load it, render its copies, write each atomically.

Runs in the main process, in forked pool workers and in Ray workers alike;
:func:`_init_worker` gives the process its pipeline first.
"""

from __future__ import annotations

import errno
import filecmp
import os
import signal

import numpy as np

from .._core.errors import NoisegenError
from .._core.labels import about
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


def _init_pool_worker(pipeline, parent=None):
    """A pool worker leaves Ctrl-C to the parent, which terminates the pool (no worker tracebacks)
    and then removes the workers' temporary files; SIGTERM (what terminating sends) kills it, and
    on Linux it is sent when the parent (pid ``parent``) dies, which then drops OUT_DIR's lock."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the command line's handler (_core.tempfiles)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # blocked while forking
    drop_inherited_locks()
    if parent is not None:
        _end_with(parent)
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
        out = pipeline(y, sample_rate=sample_rate, rng=seed)
        params = pipeline.last_params
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
            exists = os.path.exists(out_path)
            target = out_path
            if exists:  # write beside it, then compare: never overwrite without being asked
                stem = temp_stem(os.path.basename(out_path), room=CMP_ROOM)
                target = os.path.join(folder, f"{stem}.{os.getpid()}.cmp.{settings['format']}")
            with about(f"input {rel!r}"):  # named in the pipeline's warnings
                done = None if source is None else render_long(
                    _PIPELINE, source, target=target, subtype=settings["subtype"], limit=PEAK_LIMIT, seed=job["seed"])
                if done is not None:
                    _check_unchanged(path, fingerprint)
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
