"""The output folder's JSON-lines records: ``manifest.jsonl`` (one line per
written output) and ``failures.jsonl``; appends under a lock, repair of a
torn last line, de-duplication, and the job key that says an output is
complete."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os

from .._core.errors import ParameterError
from .._core.validation import check_path
from ..audio.bank import BANK_RULES
from ..audio.files import open_regular
from .outdir import jsonl_lock

MANIFEST = "manifest.jsonl"
FAILURES = "failures.jsonl"


def _append_line(path: str, record: dict) -> None:
    """Append one JSON line with a single write (O_APPEND), so lines never interleave. A write cut
    short (a full disk, a file-size limit) is undone and raises OSError: the file never ends in half a line."""
    data = (json.dumps(record, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")
    with jsonl_lock(os.path.dirname(path)):  # not in the middle of another shard's rewrite
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            size = os.fstat(fd).st_size
            try:
                rest = memoryview(data)
                while rest:  # a short write is retried: the next one says why (ENOSPC, or EFBIG: ulimit -f)
                    written = os.write(fd, rest)
                    if not written:
                        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (only {len(data) - len(rest)} of "
                                                    f"the {len(data)} bytes of a line fitted)", path)
                    rest = rest[written:]
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                if exc.filename is None:  # (os.write's error names no file)
                    exc.filename = path
                raise
        finally:
            os.close(fd)


#: A key every line of ours has, per file: a line without it is another tool's.
_OUR_KEY = {MANIFEST: "output", FAILURES: "error"}


def check_ours(out_dir: str) -> None:
    """Refuse an ``out_dir`` whose ``manifest.jsonl`` or ``failures.jsonl`` another tool wrote (a
    dataset's own NeMo-style manifest, in a folder that holds the inputs): its lines would be
    appended to, a last line without a newline cut, and every line dropped by a rewrite. Its first
    line decides: one that is not JSON (a CSV, a binary file) is another tool's too, but for a last line
    without a newline that starts as a JSON object does (only the last line of ours can be torn)."""
    for name, key in _OUR_KEY.items():
        path = os.path.join(out_dir, name)
        try:
            fd = open_regular(path)  # a FIFO of that name blocked the run for ever
        except FileNotFoundError:
            continue
        except ParameterError as exc:
            raise ParameterError(f"out_dir {out_dir!r} holds a {name} that noisegen augment did not write: "
                                 f"{exc}; use another OUT_DIR") from None
        with open(fd, "rb") as fh:
            line = _first_line(fh)
        if line is not None and len(line) >= _LONGEST_LINE:  # (a big file without newlines was read whole)
            raise ParameterError(f"out_dir {out_dir!r} holds a {name} that noisegen augment did not write (its "
                                 f"first line is over {_LONGEST_LINE:,} bytes long); use another OUT_DIR")
        first = None if line is None else _parsed(line)
        # (a whole line without a newline is judged as any: one NeMo record, or 'a.wav,1.0', was taken
        # for a torn line of ours and cut away)
        torn = first is None and line is not None and not line.endswith(b"\n") and line.lstrip().startswith(b"{")
        if line is not None and not torn and not (isinstance(first, dict) and key in first):
            raise ParameterError(f"out_dir {out_dir!r} holds a {name} that noisegen augment did not write (a line "
                                 f"without {key!r}); it would be added to and rewritten: use another OUT_DIR")


#: Far longer than any line of ours (a record names two files, its parameters and the pipeline).
_LONGEST_LINE = 1 << 26


def _first_line(fh):
    """The first line of ``fh`` that is not blank, at most :data:`_LONGEST_LINE` bytes of it; None if none."""
    while line := fh.readline(_LONGEST_LINE):
        if line.strip() or len(line) >= _LONGEST_LINE:
            return line
    return None


def _parsed(line: bytes):
    try:
        return json.loads(line)
    except ValueError:  # a line cut short by a kill
        return None


def _iter_jsonl(path: str):
    """The valid JSON-object lines of ``path`` (none if it is missing), one at a time."""
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a kill
                if isinstance(rec, dict):
                    yield rec
    except FileNotFoundError:
        pass


def _read_jsonl(path: str) -> list[dict]:
    return list(_iter_jsonl(path))


def read_manifest(out_dir) -> dict[str, dict]:
    """The valid manifest lines of ``out_dir``, by output path (the last line per output wins)."""
    out_dir = check_path(out_dir, "out_dir")
    return {rec["output"]: rec for rec in _iter_jsonl(os.path.join(out_dir, MANIFEST)) if "output" in rec}


#: The fields of a manifest line that planning a rerun compares (:func:`noisegen.batch.plan._plan`).
PLAN_FIELDS = ("output", "input", "job", "input_size", "input_blake2b", "n_samples", "sample_rate", "banks")


def read_plan_lines(out_dir: str) -> dict[str, dict]:
    """:func:`read_manifest` with only the :data:`PLAN_FIELDS` of each line: a rerun held every whole line
    (the pipeline and the parameters, 6-7 kB each in memory), 0.87 GB to resume 100,000 outputs."""
    return {rec["output"]: {k: rec[k] for k in PLAN_FIELDS if k in rec}
            for rec in _iter_jsonl(os.path.join(out_dir, MANIFEST)) if "output" in rec}


def _dedupe_manifest(out_dir: str) -> None:
    """Rewrite the manifest with one line per output (the last, where the output first came) if it holds
    more (belt and braces). Only where each output's last line lies is kept, not the lines: the whole
    manifest, parsed, took 6-7 kB of memory a line, at the start of every run."""
    path = os.path.join(out_dir, MANIFEST)
    with jsonl_lock(out_dir):
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            return
        with fh:
            latest, n, offset = {}, 0, 0  # output -> (offset, length) of its last line, in order of its first
            for raw in fh:
                rec = _parsed(raw)  # (None: a line cut short by a kill, or not UTF-8)
                if isinstance(rec, dict) and "output" in rec:
                    n += 1
                    latest[rec["output"]] = (offset, len(raw))
                offset += len(raw)
            if len(latest) != n:
                _rewrite_jsonl(path, (_line_at(fh, at, size) for at, size in latest.values()))


def _line_at(fh, offset: int, size: int) -> dict:
    fh.seek(offset)
    return json.loads(fh.read(size))


def _rewrite_jsonl(path: str, records: list[dict]) -> None:
    tmp = f"{path}.{os.getpid()}.rewrite"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, sort_keys=True, allow_nan=False) + "\n")
        os.replace(tmp, path)
    except BaseException as exc:  # (a full disk: the half-written copy stayed in OUT_DIR until the next run)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:  # (a write's error names no file)
            exc.filename = path
        raise


def _remove_rewrites(out_dir: str) -> None:
    """Remove the temporary files of jsonl rewrites cut short. Call it holding :class:`jsonl_lock`: a
    rewrite holds it while its file exists, so another shard's rewrite in progress is never one of them."""
    for name in os.listdir(out_dir):
        if name.endswith(".rewrite") and name.startswith((MANIFEST, FAILURES)):
            os.unlink(os.path.join(out_dir, name))


def _repair_tail(path: str) -> None:
    """Cut a partial last line (left by a kill mid-write) so the next append starts clean. Only the tail
    is read (the whole manifest was, at the start of every run: 1 GB for a million outputs)."""
    try:
        fh = open(path, "rb+")
    except FileNotFoundError:
        return
    with fh:
        end = fh.seek(0, os.SEEK_END)
        if not end:
            return
        fh.seek(end - 1)
        if fh.read(1) == b"\n":
            return
        pos = end - 1
        while pos > 0:  # back, a block at a time, to the last newline
            start = max(0, pos - _TAIL_BLOCK)
            fh.seek(start)
            found = fh.read(pos - start).rfind(b"\n")
            if found >= 0:
                fh.truncate(start + found + 1)
                return
            pos = start
        fh.truncate(0)


_TAIL_BLOCK = 1 << 16


# -- one input ----------------------------------------------------------------------------------


def _job_key(seed: int, pipeline_json: str, sample_rate, fmt: str, subtype: str) -> str:
    # BANK_RULES: the same pipeline reads the same folders into other banks under other rules
    text = json.dumps([seed, pipeline_json, sample_rate, fmt, subtype, BANK_RULES])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _complete(out_dir: str, line: dict | None, job_key: str) -> bool:
    if line is None or line.get("job") != job_key:
        return False
    try:
        import soundfile as sf

        info = sf.info(os.fsencode(os.path.join(out_dir, line["output"])))  # (bytes: a name that is not UTF-8)
    except Exception:  # noqa: BLE001 - missing or unreadable: not complete
        return False
    return info.frames == line.get("n_samples") and info.samplerate == line.get("sample_rate")


# -- the driver ---------------------------------------------------------------------------------
