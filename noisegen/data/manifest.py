"""Manifests: a list of audio files (or segments of them) with labels, as an AugmentStream source.

Three formats, told apart by the file name's ending:

* JSON Lines (``.jsonl``, ``.json``, ``.ndjson``), the NeMo convention: one
  object per line with ``audio_filepath`` and optional ``offset`` and
  ``duration`` in seconds; every other field (``text``, ``label``,
  ``speaker``, ...) is the row's metadata, with its JSON type.
* A list of paths: one a line (``.txt``, ``.lst``, ``.list``), or Kaldi's
  ``wav.scp`` (``.scp``): an utterance key, then the path (the key is the
  row's metadata ``key``; a command ending in ``|`` or an ``.ark:`` offset is
  a bad row: noisegen reads files).
* CSV (``.csv``) or TSV (``.tsv``) with a header: a ``path`` column and
  optional ``offset_s`` and ``duration_s`` columns (names in any case,
  without their surrounding spaces); every other column is metadata (strings). A CSV's
  cells may be quoted (RFC 4180: a quote inside a quoted cell is written
  twice); a quoted cell left open, or text after a closing quote, refuses
  the manifest, naming the line. Spaces after a CSV's commas are no part
  of a cell (``a0.wav, yes`` is ``a0.wav`` and ``yes``). A TSV is read so too, or, where its quotes
  are not such (as Common Voice writes them), with its cells as they are,
  quotes and all.

The other format's names for a segment (``offset_s`` in JSON Lines,
``duration`` in a CSV) are metadata like any field; where this format's own
are never used, a NoisegenWarning says so once.

All three are UTF-8 (a leading byte-order mark is allowed), gzipped or not (a
``.gz`` after the ending). Relative paths
resolve against the manifest's folder. A row with an offset or a duration
is a segment: only its frames are read. Rows are items in the
manifest's order (blank lines are not rows), so an item's index (and with it
its augmentation key) does not depend on which rows turn out bad. A bad row
(no path field, a JSON field named twice, fields nested over 100 levels, a
negative offset/duration or one that is no plain decimal number: ``1_0``
and other scripts' digits are refused, an offset past the end of the file,
a missing or unreadable file) is skipped by the stream and reported once,
naming the manifest and the row's line.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import math
import os
import re
import warnings
import zlib
from dataclasses import dataclass, field

from .._core.errors import NoisegenWarning, ParameterError
from .._core.labels import user_stacklevel
from .._core.validation import show_value
from ..audio.segment import read_segment, resampled_length, segment_span
from .missing import check_written_otherwise

__all__ = ["MANIFEST_EXTENSIONS", "MAX_METADATA_DEPTH", "is_manifest", "nested_over", "read_manifest",
           "ManifestRow", "ManifestItems"]

#: File name endings read as manifests (case-insensitive), each also gzipped (``.jsonl.gz``, as lhotse writes).
MANIFEST_EXTENSIONS = (".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".txt", ".lst", ".list", ".scp")
_LISTS = (".txt", ".lst", ".list", ".scp")

_JSON_FIELDS = ("audio_filepath", "offset", "duration")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")  # s3://, https://, gs://, file:// (a scheme of 2+ letters: not C:/)
_TABLE_FIELDS = ("path", "offset_s", "duration_s")


def is_manifest(path) -> bool:
    """Whether ``path`` names a manifest (by its ending, see :data:`MANIFEST_EXTENSIONS`)."""
    return _format(os.fspath(path)) in MANIFEST_EXTENSIONS


def _format(manifest):
    """A manifest's ending, lower-cased, without a gzip ``.gz`` (``.jsonl`` for ``cuts.jsonl.gz``)."""
    if not isinstance(manifest, str):  # (a bytes path: never a manifest)
        return ""
    return os.path.splitext(manifest[:-3] if _gzipped(manifest) else manifest)[1].lower()


def _gzipped(manifest):
    return manifest.lower().endswith(".gz")


@dataclass(frozen=True)
class ManifestRow:
    """One row: the audio file, the segment, the other fields, or why the row is unusable."""

    line: int
    path: str | None = None
    offset_s: float | None = None
    duration_s: float | None = None
    metadata: dict = field(default_factory=dict)
    error: str | None = None


#: A number of seconds as a manifest's text writes it: ASCII decimal digits, a sign, a point, an exponent
#: (and inf/nan, refused below as not finite), spaces around it.
_DECIMAL = re.compile(r"\s*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)\s*\Z",
                      re.IGNORECASE | re.ASCII)


def _seconds(value, name):
    """``(seconds or None, error or None)`` of an offset/duration field (None or '' means absent)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, bool):
        return None, f"{name} must be a number of seconds, got {value!r}"
    try:
        if isinstance(value, str) and not _DECIMAL.match(value):  # (float() takes '1_0', 10.0, other scripts' digits)
            raise ValueError(value)
        seconds = float(value)
    except (TypeError, ValueError):
        return None, f"{name} must be a number of seconds, got {show_value(value)}"
    except OverflowError:  # an integer past float64's range (a JSON literal of 400 digits)
        seconds = math.inf
    if not math.isfinite(seconds) or seconds < 0:
        return None, f"{name} must be a finite number of seconds >= 0, got {show_value(value)}"
    return seconds, None


def _row(line, fields, names, folder):
    """A ManifestRow from one parsed record; ``names`` are (path, offset, duration) field names."""
    path_name, offset_name, duration_name = names
    metadata = {k: v for k, v in fields.items() if k not in names}
    path = fields.get(path_name)
    if not isinstance(path, str) or not path.strip():
        have = ", ".join(repr(k) for k in fields) or "none"
        why = (f"no {path_name!r} field (fields: {have})" if path_name not in fields
               else f"{path_name!r} must be a non-empty path, got {path!r}")
        return ManifestRow(line, metadata=metadata, error=why)
    if _URL.match(path):  # (joined to the manifest's folder, it was reported as a missing file there)
        return ManifestRow(line, metadata=metadata, error=f"{path_name!r} is a URL, {show_value(path)}: "
                           "manifests name local files (copy or mount the data first)")
    offset, why = _seconds(fields.get(offset_name), offset_name)
    duration, why_d = _seconds(fields.get(duration_name), duration_name)
    path = os.path.join(folder, os.path.expanduser(path))
    return ManifestRow(line, path, offset, duration, metadata, why or why_d)


class _NamedTwice(ValueError):
    """A JSON object that names a field more than once (``json`` would keep its last value silently)."""


def _object(pairs):
    """``json.loads``'s ``object_pairs_hook``: the object as a dict, :class:`_NamedTwice` for a name given twice."""
    fields = dict(pairs)
    if len(fields) < len(pairs):
        names = [name for name, _ in pairs]
        raise _NamedTwice(sorted({name for name in names if names.count(name) > 1}))
    return fields


#: Deepest nesting of a JSON row's (or a tar sample's .json member's) lists and objects. Each chunk copies
#: its row's fields (Chunk.metadata): a row nested 500 deep, which json reads, raised RecursionError at its
#: first chunk and ended the stream.
MAX_METADATA_DEPTH = 100


def nested_over(value, limit) -> bool:
    """Whether ``value`` nests lists or objects more than ``limit`` deep (itself the first level)."""
    stack = [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return False


def _json_rows(fh, folder, manifest):
    rows, spread, named = [], None, False  # spread: the first row's line, where it ended before its object did
    for line, text in enumerate(fh, start=1):
        text = text.lstrip("\ufeff")  # a byte-order mark where files were joined (cat a.jsonl b.jsonl): a bad row
        if not text.strip():
            continue
        if not rows and text.lstrip().startswith("["):  # json.dump(rows, fh): each line was a bad row, all skipped
            raise ParameterError(f"manifest {manifest!r} holds a JSON array (line {line}), not JSON Lines: write one "
                                 "object per line, as NeMo does (json.dumps(row) for each row)")
        if spread is not None and not text.lstrip().startswith("{"):  # json.dump(row, fh, indent=2): the same
            raise ParameterError(f"manifest {manifest!r}: the JSON object at line {spread} goes on past its line "
                                 "(pretty-printed), not JSON Lines: write one object per line, as NeMo does "
                                 "(json.dumps(row) for each row)")
        spread = None  # (a first row cut short, then whole rows: a bad row like any other)
        try:
            fields = json.loads(text, object_pairs_hook=_object)
        except _NamedTwice as exc:  # ('"duration": 2, ..., "duration": 0.5' read the last; as a CSV column named twice)
            rows.append(ManifestRow(line, error=f"names fields {exc.args[0]} more than once"))
            continue
        except ValueError as exc:
            if not rows and getattr(exc, "pos", 0) >= len(text.rstrip()):  # it may go on at the next line
                spread = line
            rows.append(ManifestRow(line, error=f"not a JSON object ({exc})"))
            continue
        except RecursionError:  # arrays or objects nested thousands deep
            rows.append(ManifestRow(line, error="not a JSON object (nested too deeply to read)"))
            continue
        if not isinstance(fields, dict):
            rows.append(ManifestRow(line, error=f"not a JSON object (a {type(fields).__name__})"))
            continue
        named = named or _JSON_FIELDS[0] in fields
        if nested_over(fields, MAX_METADATA_DEPTH):
            rows.append(ManifestRow(line, error=f"its fields are nested too deeply (over {MAX_METADATA_DEPTH} levels)"))
            continue
        rows.append(_row(line, fields, _JSON_FIELDS, folder))
    if rows and not named:  # ('path' as a CSV names it, 'audio_path'): a warning a row, and an empty stream
        # (Lhotse's cuts.jsonl.gz, recordings or supervisions: named as what they are, with the way to augment them)
        lhotse = {"recording", "sources", "recording_id"} & set(rows[0].metadata)
        hint = ("; it is a Lhotse manifest: augment its cuts with noisegen.lhotse.augment_cuts(cuts, pipeline, "
                "rng=...) and load them with Lhotse" if lhotse else "")
        raise ParameterError(f"manifest {manifest!r}: no row names an {_JSON_FIELDS[0]!r} field (NeMo's name for "
                             f"the audio file); line {rows[0].line}: {rows[0].error}{hint}")
    return rows


def _list_rows(fh, folder, keyed):
    """The rows of a list of paths (``keyed``: Kaldi's ``key path`` lines); a path is the line's
    whole text after the key (a path may hold spaces), without surrounding spaces."""
    rows = []
    for line, text in enumerate(fh, start=1):
        text = text.lstrip("\ufeff").strip()  # (a BOM, then spaces: '/data/a.wav' was read as ' /data/a.wav')
        if not text:
            continue
        fields = {"path": text}
        if keyed:
            # (the key ends at the first space or tab: 'utt1<TAB>/data/my file.wav' was split at the space)
            key, path = (text.split(None, 1) + [""])[:2]
            fields = {"path": path.strip(), "key": key}
            why = (f"has the key {key!r} but no path after it" if not path.strip() else
                   f"{show_value(path.strip())} is a command or an archive offset, not an audio file (noisegen "
                   "reads files)" if path.rstrip().endswith("|") or re.search(r"\.ark:\d+$", path.strip()) else None)
            if why is not None:
                rows.append(ManifestRow(line, metadata={"key": key}, error=why))
                continue
        rows.append(_row(line, fields, ("path", None, None), folder))
    return rows


def _table_rows(fh, folder, delimiter, manifest):
    limit = csv.field_size_limit(_FIELD_BYTES)  # a long transcript made the whole manifest unreadable
    try:
        return _table_records(fh, folder, delimiter, manifest)
    finally:
        csv.field_size_limit(limit)  # (a process-wide setting: the caller's is put back)


#: Characters a CSV/TSV cell may hold (the csv module's default, 131,072, refused a long transcript).
_FIELD_BYTES = (1 << 31) - 1


class _Lines:
    """A text file's lines for the csv module, counting them: :attr:`first` is the line where the
    record being read began (a quoted cell may run over several lines; blank lines are no record)."""

    def __init__(self, fh):
        self.fh, self.count, self.first, self.fresh = fh, 0, 0, True

    def __iter__(self):
        return self

    def __next__(self):
        text = next(self.fh)
        self.count += 1
        if self.fresh and text.rstrip("\r\n"):  # (a line of spaces is a record to the csv module)
            self.first, self.fresh = self.count, False
        return text


def _table_records(fh, folder, delimiter, manifest):
    # Quotes are read strictly: a quoted cell left open, or text after its closing quote, refuses a CSV
    # at the line it began. A TSV that is not quoted so (Common Voice's transcripts open quotes they never
    # close: read loosely, one such quote took in every later row) is read again with its cells as they are.
    # A CSV's spaces after a comma are no part of a cell: 'a0.wav, yes' named the file ' a0.wav' (a missing
    # row), a label ' yes', and ', "a, b"' was cut at its comma (a quoted cell keeps its own spaces)
    options = {"strict": True, "skipinitialspace": delimiter == ","}
    try:
        return _quoted_records(fh, folder, delimiter, manifest, options)
    except ParameterError:
        if delimiter != "\t":
            raise
        fh.seek(0)
        return _quoted_records(fh, folder, delimiter, manifest, {"quoting": csv.QUOTE_NONE})


def _quoted_records(fh, folder, delimiter, manifest, quoting):
    """:func:`_table_records` with the csv module's ``quoting`` options."""
    lines = _Lines(fh)
    reader = csv.DictReader(lines, delimiter=delimiter, **quoting)
    # 'path, offset_s' (a space after the comma) named a column ' offset_s': read as metadata, every segment
    # was silently read whole; names are compared without surrounding spaces
    try:
        names = reader.fieldnames or []
    except csv.Error as exc:
        raise _quote_error(exc, manifest, lines.first) from None
    # 'Path' refused the manifest, and 'Duration_S' was metadata: every segment silently read whole. The
    # segment's column names are matched in any case (other columns keep their own names)
    header = [name.strip() for name in names]
    # Excel saves columns it once held as empty names ('path,label,,'): refused as one name given twice.
    # An unnamed column is named as pandas names it; its empty cells are dropped, others kept as metadata
    unnamed = {f"Unnamed: {k}" for k, name in enumerate(header) if not name}
    header = [name or f"Unnamed: {k}" for k, name in enumerate(header)]
    header = reader.fieldnames = [name.lower() if name.lower() in _TABLE_FIELDS else name for name in header]
    if "path" not in header:
        raise ParameterError(f"manifest {manifest!r} must have a 'path' column in its header, got columns {header!r}")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:  # csv.DictReader would keep the last cell of each silently
        raise ParameterError(f"manifest {manifest!r} names columns {twice} more than once in its header {header!r}")
    rows = []
    while True:
        lines.fresh = True
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _quote_error(exc, manifest, lines.first) from None
        line = lines.first
        if None in record or None in record.values():
            rows.append(ManifestRow(line, error=f"has a different number of fields than the header ({len(header)})"))
            continue
        for name in unnamed:
            if not record[name]:
                del record[name]
        rows.append(_row(line, record, _TABLE_FIELDS, folder))
    return rows


def _quote_error(exc, manifest, line):
    """The ParameterError of what the csv module's strict reading found at ``line``, in words."""
    text = str(exc)
    if "unexpected end of data" in text:
        why = "a quoted cell is never closed (every line after it would be part of it); close it or double its quotes"
    else:
        why = f"{text} (a quoted cell must end at a comma or the line's end; a quote inside one is written twice)"
    return ParameterError(f"manifest {manifest!r} line {line}: {why}")


def read_manifest(path) -> list[ManifestRow]:
    """The rows of a manifest, in order; unusable rows carry their ``error``.

    Raises
    ------
    noisegen.ParameterError
        The manifest cannot be read, a CSV/TSV header has no ``path``
        column or names a column twice, a CSV's quotes are broken, a JSON
        Lines manifest holds a JSON array instead, begins with an object
        spread over several lines or has no row naming ``audio_filepath``,
        or it holds no row, or no row it holds is usable.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "train.csv")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write("path,offset_s,duration_s,label\\na.wav,1.5,2,yes\\nb.wav,,,no\\nc.wav,-1,,no\\n")
    >>> rows = read_manifest(path)
    >>> [(os.path.basename(r.path), r.offset_s, r.duration_s, r.metadata) for r in rows[:2]]
    [('a.wav', 1.5, 2.0, {'label': 'yes'}), ('b.wav', None, None, {'label': 'no'})]
    >>> rows[2].line, rows[2].error
    (4, "offset_s must be a finite number of seconds >= 0, got '-1'")
    """
    manifest = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(manifest))
    ext = _format(manifest)
    opener = gzip.open if _gzipped(manifest) else open  # ('cuts.jsonl.gz' was read as one unreadable audio file)
    try:
        with opener(manifest, "rt", encoding="utf-8-sig", newline="") as fh:  # -sig: a BOM (Excel writes one)
            if ext in (".csv", ".tsv"):
                rows = _table_rows(fh, folder, "\t" if ext == ".tsv" else ",", manifest)
            elif ext in _LISTS:
                rows = _list_rows(fh, folder, ext == ".scp")
            else:
                rows = _json_rows(fh, folder, manifest)
    except UnicodeDecodeError:
        raise _not_utf8(manifest, opener) from None
    except (OSError, EOFError, zlib.error, csv.Error) as exc:  # (EOFError, zlib.error: a cut or corrupt gzip)
        raise ParameterError(f"manifest {manifest!r} cannot be read: {exc}") from None
    if not rows:
        raise ParameterError(f"manifest {manifest!r} holds no row")
    if all(row.error is not None for row in rows):  # ('path,label,' over 'a.wav,x' rows): a warning a row, and
        # an empty stream
        raise ParameterError(f"manifest {manifest!r}: none of its {len(rows)} row(s) is usable; line {rows[0].line}: "
                             f"{rows[0].error}")
    if ext not in _LISTS:  # (a list names no segment)
        _warn_other_names(manifest, rows, _TABLE_FIELDS if ext in (".csv", ".tsv") else _JSON_FIELDS)
    return rows


def _not_utf8(manifest, opener):
    """The ParameterError of a manifest that is not UTF-8, naming the line of its first bad byte (the
    decoder's 'position 5869' counted from its last 8 KiB read, not from the start of the file)."""
    with opener(manifest, "rb") as fh:
        data = fh.read()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel's "Unicode Text"
        found = "UTF-16 (it begins with UTF-16's byte-order mark)"
    else:
        try:
            data.decode("utf-8")
            found = "not UTF-8"  # (changed since it was read)
        except UnicodeDecodeError as exc:
            line = len((data[:exc.start] + b".").splitlines())  # (the line the byte is on, \r or \n ended)
            found = f"not UTF-8: line {line} holds byte 0x{data[exc.start]:02x} ({exc.reason})"
    return ParameterError(f"manifest {manifest!r} must be UTF-8 text, got {found}; save it as UTF-8 "
                          "(Excel: 'CSV UTF-8')")


def _warn_other_names(manifest, rows, own):
    """Say once when the rows name a segment's offset or duration as the other format does (a JSON
    Lines manifest's ``offset_s``, a CSV's ``duration``), or in another case (a JSON ``Duration``),
    and never as this one: kept as metadata, the rows read more than the segment their labels are
    for, and nothing said so."""
    other = _JSON_FIELDS if own is _TABLE_FIELDS else _TABLE_FIELDS
    names = sorted({k for r in rows for k in r.metadata})
    used = (any(r.offset_s is not None for r in rows), any(r.duration_s is not None for r in rows))
    stray = [(name, ours) for theirs, ours, in_use in zip(other[1:], own[1:], used) if not in_use
             for name in names if name.lower() in (theirs, ours)]
    if stray:
        said = "; ".join(f"{name!r} is kept as metadata, not read as {ours!r}" for name, ours in stray)
        warnings.warn(f"manifest {manifest!r}: {said} (the segment's field in this format)", NoisegenWarning,
                      stacklevel=user_stacklevel())


class ManifestItems:
    """The rows of a manifest as AugmentStream items (random access, read when their turn comes)."""

    def __init__(self, manifest):
        self.manifest = os.fspath(manifest)
        self.rows = read_manifest(manifest)

    def __len__(self):
        return len(self.rows)

    def source(self, i):
        row = self.rows[i]
        return row.path if row.path is not None else f"{self.manifest}:{row.line}"

    def label(self, i):
        """How a bad row is named in the stream's warning: the manifest and the row's line."""
        return f"{self.manifest} line {self.rows[i].line}"

    def metadata(self, i):
        return self.rows[i].metadata  # (a chunk copies it: Chunk.metadata)

    def load(self, i, sample_rate, mono, max_n=None):
        """The row's segment as :func:`read_segment` reads it (None: longer than ``max_n``, not read)."""
        row = self._usable(i)
        try:
            return read_segment(row.path, offset_s=row.offset_s, duration_s=row.duration_s, sample_rate=sample_rate,
                                mono=mono, max_n=max_n)
        except FileNotFoundError:
            check_written_otherwise(row.path, self.manifest)
            raise

    def segment(self, i):
        """``(path, offset_s, duration_s)`` of the row (what :meth:`load` reads)."""
        row = self._usable(i)
        return row.path, row.offset_s, row.duration_s

    def n_samples(self, i, sample_rate):
        """Samples the row gives at ``sample_rate``, from the header (0 for a bad row)."""
        try:
            row = self._usable(i)
            _, n, rate = segment_span(row.path, row.offset_s, row.duration_s)
            return resampled_length(n, rate, sample_rate)  # ParameterError: a rate the stream cannot resample
        except Exception:  # noqa: BLE001 - the row is skipped when read, so it counts nothing
            return 0

    def _usable(self, i):
        row = self.rows[i]
        if row.error is not None:
            raise ParameterError(row.error)
        return row
