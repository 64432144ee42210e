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


def _read_jsonl(path: str) -> list[dict]:
    out = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a kill
                if isinstance(rec, dict):
                    out.append(rec)
    except FileNotFoundError:
        pass
    return out


def read_manifest(out_dir) -> dict[str, dict]:
    """The valid manifest lines of ``out_dir``, by output path (the last line per output wins)."""
    out_dir = check_path(out_dir, "out_dir")
    return {rec["output"]: rec for rec in _read_jsonl(os.path.join(out_dir, MANIFEST)) if "output" in rec}


def _dedupe_manifest(out_dir: str) -> None:
    """Rewrite the manifest with one line per output (the last) if it holds more (belt and braces)."""
    path = os.path.join(out_dir, MANIFEST)
    with jsonl_lock(out_dir):
        records = [rec for rec in _read_jsonl(path) if "output" in rec]
        latest = {rec["output"]: rec for rec in records}
        if len(latest) != len(records):
            _rewrite_jsonl(path, list(latest.values()))


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
    """Cut a partial last line (left by a kill mid-write) so the next append starts clean."""
    try:
        with open(path, "rb+") as fh:
            data = fh.read()
            if data and not data.endswith(b"\n"):
                fh.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        pass


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
