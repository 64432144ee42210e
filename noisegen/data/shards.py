"""WebDataset tar shards as an AugmentStream source, read with the standard library's ``tarfile``.

A source is a ``.tar`` path, a list of them, or a brace pattern
(``"shards/train-{000000..000009}.tar"``, see :func:`expand_braces`). The
WebDataset layout: the members of a tar are grouped into samples by their
*key*, the member's path up to the first dot of its file name
(``sub/utt1.flac`` and ``sub/utt1.json`` are the sample ``sub/utt1``, as
consecutive members). A sample's audio is its first member whose name ends in
an audio extension (``.flac``, ``.wav``, ...), decoded with soundfile from
the bytes; its ``.json`` member (an object) becomes the chunk's
``metadata``, with ``__key__`` (the key) and ``__url__`` (the tar's path)
added, as webdataset names them. A chunk's ``source`` is ``"<tar>/<key>"``.
A hard or symbolic link member reads as the file of the tar it names, as
``tar x`` extracts it (webdataset skips links).

Items. The samples of all tars, in the order of the list and of the members
within each tar, are the stream's items: item ``i``'s augmentation key is
``derive_key(seed, epoch, i)`` whoever reads it. Building that list needs one
pass over the tar headers (``tarfile`` reads the headers only and seeks over
the data), done once at construction and cached per process by the tar's
path, size and modification time. A tar is dealt whole to one shard (worker
x rank, :mod:`noisegen.data.order`), so each process reads only its own tars;
a sample's bytes are read by seeking to its recorded offset (shuffling
permutes the tars and the samples within each tar). With fewer tars than
shards, some workers or ranks get nothing: write at least
``world_size * num_workers`` tars. ``len()`` reads each audio member once
(its header gives the length) and each JSON member (a bad one makes the
sample count nothing).

Bad input. A missing or unreadable tar, one that is not a regular file (a
FIFO is never opened: it would block), or the rest of a tar after a
damaged header, is one item that cannot be read; a sample without an audio
member, with undecodable audio, with a JSON member that is not an object or with
an audio or JSON member that links to no file of the tar before it is
an item that cannot be read, as is each sample of a tar changed (in size or
modification time) since it was indexed: its members may lie elsewhere now,
and their old offsets held another sample's bytes. The stream reports each once
(:class:`~noisegen.NoisegenWarning`) and skips it; ``len()`` counts nothing for it.
Tars that hold no sample at all (empty, or only members without an extension)
are a ParameterError, as a folder without audio files is.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import posixpath
import re
import tarfile
import threading
from collections import OrderedDict
from dataclasses import dataclass

from .._core.errors import ParameterError
from .._core.lru import after_fork
from ..audio.files import AUDIO_EXTENSIONS, open_regular
from ..audio.segment import decode, decoded_span, resampled_length
from .manifest import MAX_METADATA_DEPTH, nested_over

__all__ = ["expand_braces", "is_shard_source", "shard_paths", "ShardItems", "sample_key"]

_KEY_RE = re.compile(r"^((?:.*/|)[^.]+)[.]([^/]*)$")  # webdataset's split: key, then all after the first dot
_RANGE_RE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")
_TAR = ".tar"
_PACKED_TARS = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".tar.lz4")
#: Most paths a brace pattern may name: a typo such as ``{0..99999999999}`` must not exhaust memory.
MAX_PATHS = 1_000_000


def expand_braces(pattern: str, *, name: str = "source") -> list[str]:
    """The paths a brace pattern names, in order.

    ``{000000..000009}`` is an inclusive integer range, zero-padded to the
    width of its bounds when either is written with a leading zero;
    ``{a,b,c}`` is a list. Several braces give every combination, left
    varying slowest (as the ``braceexpand`` package does). Braces do not
    nest. At most :data:`MAX_PATHS` paths.

    Raises
    ------
    noisegen.ParameterError
        An unbalanced or nested brace, an empty brace, a range whose start is
        past its end, a range of non-integers, or more than :data:`MAX_PATHS`
        paths (refused before any is made); the message names ``name``.

    Examples
    --------
    >>> expand_braces("train-{000000..000002}.tar")
    ['train-000000.tar', 'train-000001.tar', 'train-000002.tar']
    >>> expand_braces("{a,b}-{8..10}.tar")
    ['a-8.tar', 'a-9.tar', 'a-10.tar', 'b-8.tar', 'b-9.tar', 'b-10.tar']
    """
    if not isinstance(pattern, str):
        raise ParameterError(f"{name} must be a string pattern, got {type(pattern).__name__}")
    parts: list[list[str]] = []
    pos = 0
    for m in re.finditer(r"[{}]", pattern):
        if m.group() == "}" or m.start() < pos:
            if m.start() >= pos:
                raise ParameterError(f"{name} {pattern!r} has a '}}' without its '{{' at character {m.start()}")
            continue
        close = pattern.find("}", m.start())
        inner = pattern[m.start() + 1:close] if close >= 0 else ""
        if close < 0 or "{" in inner:
            raise ParameterError(f"{name} {pattern!r} has an unclosed or nested '{{' at character {m.start()}; "
                                 "expected {START..END} or {A,B,...} without nesting")
        parts.append([pattern[pos:m.start()]])
        parts.append(_alternatives(inner, pattern, name))
        pos = close + 1
        if math.prod(len(p) for p in parts) > MAX_PATHS:
            raise _too_many(pattern, name)
    parts.append([pattern[pos:]])
    return ["".join(combo) for combo in itertools.product(*parts)]


def _alternatives(inner: str, pattern: str, name: str) -> list[str]:
    m = _RANGE_RE.match(inner)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi:
            raise ParameterError(f"{name} {pattern!r}: the range {{{inner}}} starts past its end; "
                                 "expected {START..END} with START <= END")
        if hi - lo >= MAX_PATHS:
            raise _too_many(pattern, name)
        padded = any(re.match(r"-?0\d", g) for g in m.groups())
        width = max(len(g) for g in m.groups()) if padded else 0
        return [str(i).zfill(width) for i in range(lo, hi + 1)]
    if ".." in inner:
        raise ParameterError(f"{name} {pattern!r}: {{{inner}}} is not a range of integers; "
                             "expected {START..END} such as {000000..000009}")
    if "," not in inner:
        raise ParameterError(f"{name} {pattern!r}: {{{inner}}} is neither a range {{START..END}} "
                             "nor a list {A,B,...}")
    return inner.split(",")


def _too_many(pattern, name):
    return ParameterError(f"{name} {pattern!r} names more than {MAX_PATHS} paths; expected at most {MAX_PATHS} tars")


def is_shard_source(source) -> bool:
    """Whether ``source`` names tar shards: a path or pattern ending in ``.tar``, or a non-empty list of such paths.

    A compressed tar (``.tar.gz``, ``.tgz``, ...) is a ParameterError: its members cannot be read where
    they lie (a worker or a resumed stream starts mid-shard), and it is no audio file either.
    """
    paths = [source] if isinstance(source, (str, os.PathLike)) else source if isinstance(source, (list, tuple)) else []
    names = [os.fspath(s) for s in paths if isinstance(s, (str, os.PathLike))]
    names = [n for n in names if isinstance(n, str)]  # (a bytes path is no shard)
    packed = next((n for n in names if n.lower().endswith(_PACKED_TARS)), None)
    if packed is not None:
        raise ParameterError(f"source names a compressed tar shard, {packed!r}: shards are read as uncompressed "
                             ".tar files; decompress them first (gunzip turns x.tar.gz into x.tar)")
    tars = [n for n in names if n.lower().endswith(_TAR)]
    if tars and len(tars) < len(paths):  # (each tar was skipped as an audio file: "Format not recognised")
        raise ParameterError(f"source lists {len(tars)} tar shard(s), the first {tars[0]!r}, among "
                             f"{len(paths) - len(tars)} other item(s): a list is of audio files or of tar shards; "
                             "stream the shards and the files as two sources (or pack the files into a shard)")
    return bool(tars) and len(tars) == len(paths)


def shard_paths(source) -> list[str]:
    """The tar paths of a shard source (a brace pattern is expanded; an existing path is taken as it is)."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        paths = [path] if os.path.exists(path) or "{" not in path else expand_braces(path)
    else:
        paths = [os.fspath(s) for s in source]
    if not any(os.path.isfile(p) for p in paths):
        shown = repr(paths[0]) if len(paths) == 1 else f"{paths[0]!r} ... {paths[-1]!r} ({len(paths)} paths)"
        raise ParameterError(f"source names no existing tar file: {shown}")
    return paths


def sample_key(member_name: str) -> tuple[str, str] | None:
    """``(key, extension)`` of a tar member as webdataset splits it (None for a name without a dot).

    Examples
    --------
    >>> sample_key("sub/a%2Eb_aug0.flac"), sample_key("x.seg.json"), sample_key("README")
    (('sub/a%2Eb_aug0', 'flac'), ('x', 'seg.json'), None)
    """
    m = _KEY_RE.match(member_name)
    return None if m is None else (m.group(1), m.group(2).lower())


@dataclass(frozen=True)
class _Sample:
    tar: int                      # index in ShardItems.paths
    key: str
    audio: tuple | None = None    # (offset, size, extension) of the audio member
    meta: tuple | None = None     # (offset, size) of the .json member
    error: str | None = None      # why the item cannot be read


# realpath -> ((size, mtime_ns), list of _Sample fields), per process: one entry a shard, replaced
# when the shard changes (keyed by the stamp too, a shard rewritten every epoch grew it for ever),
# the least recently used dropped once the entries index more than _INDEX_CACHE_SAMPLES samples
# (a job streaming each epoch's new shards, the last ones deleted, grew it by an epoch's index each time)
_INDEX_CACHE: OrderedDict = OrderedDict()
_INDEX_CACHE_SAMPLES = 1 << 20
_INDEX_LOCK = threading.Lock()
_index_samples = 0  # samples the entries hold


def _new_index_lock():
    global _INDEX_LOCK
    _INDEX_LOCK = threading.Lock()


after_fork(_new_index_lock)  # (a thread of the parent may have held it as another forked)


def _keep_index(real: str, entry: tuple) -> None:
    global _index_samples
    with _INDEX_LOCK:
        old = _INDEX_CACHE.pop(real, None)
        _index_samples += len(entry[1]) - (0 if old is None else len(old[1]))
        _INDEX_CACHE[real] = entry
        while _index_samples > _INDEX_CACHE_SAMPLES:  # (one shard past the bound alone: used, not kept)
            _index_samples -= len(_INDEX_CACHE.popitem(last=False)[1][1])


def _index(path: str, tar: int) -> tuple[tuple | None, list[_Sample]]:
    """``(stamp, samples)``: the tar's ``(size, mtime_ns)`` and its samples from its headers (cached),
    or ``(None, [one unreadable item saying why])``."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return None, [_Sample(tar, "", error=f"cannot be read ({exc.strerror or exc})")]
    real, stamp = os.path.realpath(path), (st.st_size, st.st_mtime_ns)
    cached = _INDEX_CACHE.get(real)
    if cached is None or cached[0] != stamp:
        cached = (stamp, _scan(path))
    _keep_index(real, cached)  # (as the most recently used)
    return stamp, [_Sample(tar, *fields) for fields in cached[1]]


def _scan(path: str) -> list[tuple]:
    samples: list[tuple] = []
    current: dict | None = None

    def flush():
        if current is not None:
            audio = current["audio"]
            error = None if audio else f"holds no audio member (members: {', '.join(current['exts'])})"
            if current["link"]:  # (its audio, or its metadata, is not in the tar where the link says)
                audio, error = None, current["link"]
            if current["sparse"]:  # its bytes are not where the member's data starts: read, they were garbage
                audio, error = None, (f"has a sparse member (.{current['sparse']}: tar --sparse), which noisegen "
                                      "does not read; pack the shard without --sparse")
            samples.append((current["key"], audio, current["meta"], error))

    try:
        fd = open_regular(path)  # never blocks: a FIFO named like a tar would hang a plain open forever
    except (ParameterError, OSError) as exc:
        return [("", None, None, f"cannot be read ({exc})")]
    try:
        with os.fdopen(fd, "rb") as fh, tarfile.open(fileobj=fh, mode="r:") as tf:
            files: dict = {}  # normalised name -> its data, (offset, size, sparse), for the links after it
            for member in tf:
                data = _file_data(member, files)
                split = sample_key(member.name) if data is not None else None
                if split is None:
                    continue
                key, ext = split
                if current is None or current["key"] != key:
                    flush()
                    current = {"key": key, "audio": None, "meta": None, "exts": [], "sparse": None, "link": None}
                current["exts"].append(ext)
                last = "." + ext.rsplit(".", 1)[-1]
                if isinstance(data, str):
                    if last in AUDIO_EXTENSIONS or ext == "json":
                        current["link"] = current["link"] or f"its .{ext} member {data}"
                    continue
                offset, size, sparse = data
                if sparse:
                    current["sparse"] = current["sparse"] or ext
                    continue
                if current["audio"] is None and last in AUDIO_EXTENSIONS:
                    current["audio"] = (offset, size, last[1:])
                elif ext == "json" and current["meta"] is None:
                    current["meta"] = (offset, size)
            # tarfile ends its iteration quietly at a damaged header past the first (or one cut short):
            # where it stopped is an end-of-archive block of zeros, or the file's end, else the rest is lost
            fh.seek(tf.offset)
            if fh.read(tarfile.BLOCKSIZE).strip(b"\0"):
                raise tarfile.HeaderError(f"a damaged header at byte {tf.offset}")
    except (tarfile.TarError, OSError, EOFError) as exc:
        flush()
        current = None
        samples.append(("", None, None, f"is not a readable (uncompressed) tar past this point ({exc})"))
    flush()
    return samples


def _file_data(member, files):
    """``(offset, size, sparse)`` of a member's bytes in the tar, kept in ``files``: a regular file's own,
    or for a hard or symbolic link those of the file it names, as ``tar x`` extracts it (a hard link is how
    tar stores a file's second name: a folder of hard-linked copies lost each copy silently); a str saying
    why for a link to no file of the tar before it; None for a member that is no file (a folder)."""
    name = posixpath.normpath(member.name)
    if member.isfile():
        files[name] = (member.offset_data, member.size, member.issparse())
        return files[name]
    if not (member.islnk() or member.issym()):
        return None
    # (tarfile resolves them so: a hard link by its archive path, a symbolic one from the link's folder)
    target = member.linkname if member.islnk() else posixpath.join(posixpath.dirname(member.name), member.linkname)
    if posixpath.normpath(target) not in files:
        return f"is a link to {member.linkname!r}, no file of this tar before it"
    files[name] = files[posixpath.normpath(target)]
    return files[name]


class ShardItems:
    """The samples of WebDataset tar shards as AugmentStream items (see the module docstring)."""

    def __init__(self, source):
        self.paths = shard_paths(source)
        self.samples: list[_Sample] = []
        self.groups: list[tuple[int, int]] = []  # item range of each tar, dealt whole
        self.stamps: list[tuple | None] = []  # (size, mtime_ns) of each tar as indexed
        for t, path in enumerate(self.paths):
            start = len(self.samples)
            stamp, samples = _index(path, t)
            self.samples.extend(samples)
            self.stamps.append(stamp)
            self.groups.append((start, len(self.samples)))
        if not self.samples:  # as a folder without audio files or a manifest without rows: not an empty stream
            shown = repr(self.paths[0]) if len(self.paths) == 1 else f"{self.paths[0]!r} ... ({len(self.paths)} tars)"
            raise ParameterError(f"source {shown} holds no WebDataset sample; expected members named KEY.EXT "
                                 "(utt1.flac, utt1.json: the key is the path up to the first dot of the file name)")
        self.groups = [g for g in self.groups if g[1] > g[0]]
        self._fh = None  # (pid, tar index, open file): this process's current tar
        self._meta = None  # (item, metadata) of the item loaded last

    def __getstate__(self):
        return {**self.__dict__, "_fh": None, "_meta": None}

    def close(self) -> None:
        """Close this process's open tar file (reopened when needed)."""
        if self._fh is not None and self._fh[0] == os.getpid():
            self._fh[2].close()
        self._fh = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit the file may already be gone
            pass

    def __len__(self):
        return len(self.samples)

    def source(self, i):
        s = self.samples[i]
        return f"{self.paths[s.tar]}/{s.key}" if s.key else self.paths[s.tar]

    label = source

    def metadata(self, i):
        if self._meta is not None and self._meta[0] == i:
            return self._meta[1]  # (a chunk copies it: Chunk.metadata)
        return self._metadata(i)

    def load(self, i, sample_rate, mono):
        s = self._usable(i)
        meta = self._metadata(i)  # a bad .json member makes the whole sample unreadable
        y = decode(self._read(s.tar, *s.audio[:2]), sample_rate=sample_rate, mono=mono,
                   name=f"the .{s.audio[2]} member of {self.source(i)!r}")
        self._meta = (i, meta)
        return y

    def n_samples(self, i, sample_rate):
        """Samples the item gives at ``sample_rate``, from its audio member's header (0 if unreadable)."""
        try:
            s = self._usable(i)
            self._metadata(i)  # a bad .json member makes the sample unreadable
            n, rate = decoded_span(self._read(s.tar, *s.audio[:2]))
            return resampled_length(n, rate, sample_rate)  # ParameterError: a rate the stream cannot resample
        except Exception:  # noqa: BLE001 - the item is skipped when read, so it counts nothing
            return 0

    def _usable(self, i):
        s = self.samples[i]
        if s.error is not None:
            raise ParameterError(s.error)
        return s

    def _metadata(self, i):
        s = self.samples[i]
        meta = {}
        if s.meta is not None:
            deep = f"its .json member is nested too deeply (over {MAX_METADATA_DEPTH} levels)"
            data = self._read(s.tar, *s.meta)  # (its ParameterError says why, not "not valid JSON")
            try:
                meta = json.loads(data)  # (bytes: a BOM or UTF-16/32 is read as webdataset reads it)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ParameterError(f"its .json member is not valid JSON ({exc})") from None
            except RecursionError:  # (thousands deep)
                raise ParameterError(deep) from None
            if not isinstance(meta, dict):
                raise ParameterError(f"its .json member must hold an object, got a {type(meta).__name__}")
            if nested_over(meta, MAX_METADATA_DEPTH):  # hundreds deep: each chunk's copy of it (Chunk.metadata)
                raise ParameterError(deep)  # raised RecursionError, ending the stream
        return {**meta, "__key__": s.key, "__url__": self.paths[s.tar]}

    def _read(self, tar: int, offset: int, size: int) -> bytes:
        """``size`` bytes at ``offset`` of tar ``tar``, through this process's one open tar file."""
        pid = os.getpid()
        if self._fh is None or self._fh[:2] != (pid, tar):
            self.close()
            self._fh = (pid, tar, os.fdopen(open_regular(self.paths[tar]), "rb"))  # swapped for a FIFO: refused
        fh = self._fh[2]
        st = os.fstat(fh.fileno())
        if (st.st_size, st.st_mtime_ns) != self.stamps[tar]:  # rewritten: the offsets held another sample's bytes
            raise ParameterError("its tar has changed since the stream indexed it (its members may lie elsewhere "
                                 "now); make the stream again to read the new tar")
        held = st.st_size - offset
        if size > held:  # checked before reading: a damaged header may claim exabytes (read() allocates them first)
            raise ParameterError(f"is cut short ({max(held, 0)} of {size} bytes)")
        fh.seek(offset)
        data = fh.read(size)
        if len(data) != size:
            raise ParameterError(f"is cut short ({len(data)} of {size} bytes)")
        return data
