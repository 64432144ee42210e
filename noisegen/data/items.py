"""What an AugmentStream reads: its source turned into items (files, manifest rows, arrays).

Tar shards (:mod:`noisegen.data.shards`) also have ``groups``, the item
range of each tar, which :mod:`noisegen.data.order` deals out whole.
Random-access items have ``len``, ``source(i)`` (the chunk's ``source``),
``label(i)`` (how a skipped item is named in the stream's warning),
``metadata(i)`` (the chunk's ``metadata``), ``load(i, sample_rate, mono)``
(items with ``segment(i)``, files and manifest rows, also take ``max_n``:
a longer item is not read and gives None) and ``n_samples(i, sample_rate)`` (the loaded length, from headers or shapes,
0 for an item the stream will skip), which :meth:`AugmentStream.__len__`
counts with.
"""

from __future__ import annotations

import numbers
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence, Set

import numpy as np

from .._core.errors import NoisegenWarning, ParameterError
from .._core.labels import user_stacklevel
from .._core.validation import check_audio, check_reach, check_sample_rate, show_value
from ..audio.files import AUDIO_EXTENSIONS, missing_hint, scan_audio_files
from ..audio.io import resample_to
from ..audio.segment import decoded_span, read_segment, resampled_length, segment_span
from .hf import read_row_audio
from .manifest import ManifestItems, is_manifest
from .shards import ShardItems, is_shard_source

__all__ = ["list_items", "prepare_array"]


class _FileItems:
    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def source(self, i):
        return self.paths[i]

    label = source

    def metadata(self, i):
        return {}

    def load(self, i, sample_rate, mono, max_n=None):
        """The file as :func:`read_segment` reads it (None: longer than ``max_n``, not read)."""
        return read_segment(self.paths[i], sample_rate=sample_rate, mono=mono, max_n=max_n)

    def segment(self, i):
        """``(path, offset_s, duration_s)``: the whole file (what :meth:`load` reads)."""
        return self.paths[i], None, None

    def n_samples(self, i, sample_rate):
        try:
            _, n, rate = segment_span(self.paths[i])
            return resampled_length(n, rate, sample_rate)  # ParameterError: a rate the stream cannot resample
        except Exception:  # noqa: BLE001 - an unreadable file is skipped, so it counts nothing
            return 0


class _ArrayItems:
    """A sequence of arrays (at the stream's rate) or ``(array, sample_rate)`` pairs."""

    def __init__(self, arrays):
        self.arrays = arrays

    def __len__(self):
        return len(self.arrays)

    def source(self, i):
        return f"array:{i}"

    label = source

    def metadata(self, i):
        return {}

    def load(self, i, sample_rate, mono):
        return prepare_array(self.arrays[i], sample_rate, mono)

    def n_samples(self, i, sample_rate):
        entry = self.arrays[i]
        if _encoded(entry):  # from the header, as a file's: decoding every row made len() read the corpus
            try:
                n, sr = _encoded_span(entry)
                return resampled_length(n, sr, sample_rate)  # ParameterError: a rate beyond resampling
            except Exception:  # noqa: BLE001 - an unreadable row is skipped, so it counts nothing
                return 0
        try:
            y, sr = _array_entry(entry, sample_rate)  # NaN/inf refused: skipped when loaded
            return resampled_length(y.shape[-1], sr, sample_rate)  # ParameterError: a rate beyond resampling
        except ParameterError:
            return 0


def _encoded(entry) -> bool:
    """Whether ``entry`` is a Hugging Face ``Audio(decode=False)`` value (``{"bytes", "path"}``, no array): a
    dict, as :func:`read_row_audio` takes it (another Mapping is skipped unread, so it counts nothing)."""
    return (isinstance(entry, dict) and entry.get("array") is None
            and (entry.get("bytes") is not None or entry.get("path") is not None))


def _encoded_span(entry) -> tuple[int, int]:
    """``(frames, sample rate)`` of an encoded entry from its header: what :func:`read_row_audio` decodes
    (its bytes when it has them, else its path)."""
    if entry.get("bytes") is not None:
        return decoded_span(entry["bytes"], name="the row's audio bytes")
    _, n, rate = segment_span(entry["path"])
    return n, rate


def _array_entry(entry, sample_rate):
    """``(checked array, its rate)`` of an array item, an ``(array, sample_rate)`` pair or a Hugging Face
    audio value (``{"array", "sampling_rate"}``, ``{"bytes", "path"}``, a decoder), else ParameterError."""
    if entry is None:  # (a dataset row without audio: it was 'must be float32 or float64 audio, got dtype object')
        raise ParameterError("source item is None: no audio")
    if isinstance(entry, Mapping) or hasattr(entry, "get_all_samples"):  # a Hugging Face audio value (ds["audio"]:
        try:
            y, sr = read_row_audio(entry, "source item")  # each was skipped as 'dtype object')
        except ParameterError:
            raise
        except Exception as exc:  # noqa: BLE001 - undecodable bytes, a missing path: skipped as an unreadable
            # file is (a NoisegenError or OSError failed len(stream) and a one-pass iterable's iteration)
            raise ParameterError(f"source item cannot be read ({type(exc).__name__}: {exc})") from None
        return check_audio(y, "source item"), sr
    sr = sample_rate
    if isinstance(entry, tuple) and len(entry) == 2 and not isinstance(entry[1], (list, tuple)) \
            and getattr(entry[1], "ndim", 0) == 0:  # (a tuple of two rows is a stereo clip)
        entry, sr = entry
        sr = check_sample_rate(_number(sr), "source sample rate")
    try:
        y = np.asarray(entry)
    except (TypeError, ValueError, RuntimeError) as exc:  # ragged nesting, objects numpy cannot hold, a torch
        # tensor that requires grad (RuntimeError): an item skipped as any unreadable one, not a crash of the loop
        raise ParameterError(f"source item must be a float array, got {show_value(entry)} ({exc})") from None
    return check_audio(y, "source item"), sr


def _number(value):
    """A 0-d array or tensor (np.load(npz)["sr"], torch.tensor(16000)) as its number, as a Hugging Face row's
    rate is read (each pair with one was skipped as a bad rate); anything else as it is."""
    return value.item() if getattr(value, "ndim", None) == 0 and hasattr(value, "item") else value


def prepare_array(entry, sample_rate, mono):
    """One array item (or ``(array, sample_rate)`` pair) as float32 at ``sample_rate``."""
    y, sr = _array_entry(entry, sample_rate)
    check_reach(sr, sample_rate, "source item")
    y = y.astype(np.float32, copy=False)
    if mono and y.ndim == 2:
        y = y.mean(axis=0, dtype=np.float32)
    return np.ascontiguousarray(resample_to(y, sr, sample_rate))


def _one_signal(source) -> bool:
    """Whether ``source`` (not a NumPy array) is one signal: an array of numbers of another library (a torch
    tensor, a pandas Series of floats; a column of clips has dtype object) or a sequence of plain numbers."""
    if getattr(source, "ndim", None) is not None and (hasattr(source, "__array__")  # (0-d: one number, no iterable)
                                                      or hasattr(type(source), "__cuda_array_interface__")):
        return str(getattr(source, "dtype", "")) != "object"
    return (isinstance(source, Sequence) and not isinstance(source, (str, bytes)) and len(source) > 0
            and all(isinstance(s, numbers.Number) and not isinstance(s, bool) for s in source))


def _paths_column(source) -> bool:
    """Whether ``source`` is a 1-D array of paths: NumPy's str dtype, a pandas Series or Index of str
    (``df["path"]``; pandas' own str dtype is no dtype object, and no Sequence)."""
    return (getattr(source, "ndim", 0) == 1 and hasattr(source, "__array__")
            and getattr(getattr(source, "dtype", None), "kind", "f") in "OSU"  # (an empty float array: one array)
            and all(isinstance(s, (str, bytes, os.PathLike)) for s in source))


def _one_pair(source) -> bool:
    """Whether ``source`` is one ``(array, sample_rate)`` pair, not a sequence of items."""
    if not (isinstance(source, (list, tuple)) and len(source) == 2):  # (a dataset column: no row decoded for it)
        return False
    rate = _number(source[1])  # (a 0-d rate: its array was streamed at the stream's rate, its rate an item)
    return (isinstance(rate, numbers.Real) and not isinstance(rate, bool)
            and not isinstance(source[0], (numbers.Number, str, bytes, os.PathLike)))


def _check_not_all_sources(paths):
    """ParameterError for a list of paths that are all manifests or folders (``[train.jsonl, extra.jsonl]``,
    ``[dir1, dir2]``): each was skipped as an audio file that cannot be read ('Format not recognised', 'is a
    directory') and the stream was empty. A list names audio files; a manifest or a folder is a source alone."""
    kinds = []
    for path in paths:  # (the first audio file ends the check; a folder is looked for under other names only)
        name = os.fsdecode(path)
        if is_manifest(name):
            kinds.append("a manifest")
        elif os.path.splitext(name)[1].lower() not in AUDIO_EXTENSIONS and os.path.isdir(name):
            kinds.append("a folder")
        else:
            return
    raise ParameterError(f"source must be a list of audio files, got {len(paths)} path(s) that are each "
                         f"{' or '.join(sorted(set(kinds)))}, the first {os.fsdecode(paths[0])!r}: a manifest or "
                         "a folder is a source on its own (AugmentStream(path, ...)); for several, list their "
                         "audio files (or write one manifest of all their rows)")


def _is_lhotse(obj) -> bool:
    return type(obj).__module__.split(".")[0] == "lhotse"


def list_items(source):
    """(random-access items or None, one-pass iterable or None)."""
    if isinstance(source, str):  # an np.str_ path (an item of an array of paths) was refused as one 0-d signal
        source = str(source)
    if _paths_column(source):  # as a list of its paths: it was "one array"/"one signal", or (shuffle=False)
        source = list(source)  # each path an item skipped as "must be float32 ... got dtype <U22": no stream
    elif not isinstance(source, np.ndarray) and getattr(source, "ndim", 0) == 1 and hasattr(source, "__array__") \
            and str(getattr(source, "dtype", "")) == "object":  # a pandas Series of clips (df["audio"]) as its
        source = np.asarray(source, dtype=object)  # .values: it was told "pass shuffle=False", then had no len()
    if isinstance(source, np.ndarray):
        if source.dtype != object or source.ndim != 1:
            raise ParameterError("source must be a folder, a list of paths or an iterable of arrays, got one array; "
                                 "wrap it in a list")
        source = list(source)  # clips of any lengths, one an entry (pandas' Series.values, a dataset's column)
    elif _one_pair(source):  # its array was streamed as if at the stream's rate, its rate skipped as an item
        raise ParameterError(f"source must be a folder, a list of paths or an iterable of arrays, got one "
                             f"(array, sample_rate) pair (sample_rate={source[1]!r}); wrap it in a list: [(array, "
                             f"sample_rate)]")
    elif _one_signal(source):  # as a NumPy array is: iterated, its numbers were items skipped one by one (an
        # empty stream) and a tensor's rows (channels) separate clips; a tensor also met "pass shuffle=False"
        shape = f"of shape {tuple(source.shape)}" if hasattr(source, "shape") else f"of {len(source)} numbers"
        raise ParameterError(f"source must be a folder, a list of paths or an iterable of arrays, got one signal "
                             f"(a {type(source).__name__} {shape}); wrap it in a list")
    if is_shard_source(source):
        return ShardItems(source), None
    if isinstance(source, (str, os.PathLike)):
        if os.path.isdir(source):
            paths, odd = scan_audio_files(source)
            for path, why in odd:  # never opened (a FIFO would block); named as `noisegen augment` names them
                warnings.warn(f"AugmentStream: skipping {path!r}: {why}", NoisegenWarning, stacklevel=user_stacklevel())
            if not paths:
                raise ParameterError(f"source folder {os.fspath(source)!r} holds no audio file "
                                     f"({', '.join(AUDIO_EXTENSIONS)})")
            return _FileItems(paths), None
        if os.path.isfile(source):
            if is_manifest(source):
                return ManifestItems(source), None
            return _FileItems([os.fspath(source)]), None
        raise ParameterError(f"source must be an existing folder or file, got {os.fspath(source)!r}{missing_hint(source)}")
    if hasattr(source, "column_names") and hasattr(source, "features"):  # a Hugging Face (Iterable)Dataset: each
        # row (a dict of columns) was skipped as "must hold dicts with 'array' ..., got dict", an empty stream
        raise ParameterError(f"source must be a dataset's audio column, e.g. ds['audio'], not the "
                             f"{type(source).__name__} itself (columns: {list(source.column_names or [])})")
    lhotse = source if _is_lhotse(source) else source[0] if isinstance(source, (list, tuple)) and source \
        and _is_lhotse(source[0]) else None  # a CutSet or RecordingSet, or a list of cuts: each was skipped alike
    if lhotse is not None:
        what = f"Lhotse {type(source).__name__}" if lhotse is source else f"list of Lhotse {type(lhotse).__name__}"
        raise ParameterError(f"source must be audio items, not a {what}: Lhotse data is "
                             f"augmented by attaching the pipeline to its cuts (noisegen.lhotse.augment_cuts(cuts, "
                             f"pipeline, rng=...)) and loading them with Lhotse's own loaders")
    if isinstance(source, (bytes, bytearray, memoryview, Mapping, Set)):  # not items in a stable order
        raise ParameterError(f"source must be a folder, a list of paths or an iterable of arrays, got "
                             f"{type(source).__name__} {show_value(source)} (a path goes as a str, several in a list)")
    if isinstance(source, Sequence):
        if not len(source):  # (a glob that matched nothing, a dataset filtered to no rows): as a folder without
            # audio files or a manifest without rows is refused, not an empty stream that trains on nothing
            raise ParameterError(f"source must hold at least one path or array, got an empty {type(source).__name__}")
        if all(isinstance(s, (str, bytes, os.PathLike)) for s in source):  # (bytes: a path, as os takes one)
            # as str (a chunk's source, a skipped item's name): bytes ones were bytes sources, which noisegen.torch
            # could not record as skipped (TypeError: bytes is not JSON serializable, the loader stopped)
            paths = [os.fsdecode(s) for s in source]
            _check_not_all_sources(paths)
            return _FileItems(paths), None
        return _ArrayItems(source), None
    if isinstance(source, Iterable):
        return None, source
    raise ParameterError(f"source must be a folder, a list of paths or an iterable of arrays, got {type(source).__name__} "
                         f"{show_value(source)}")
