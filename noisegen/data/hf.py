"""Hugging Face ``datasets`` adapter: a noisegen pipeline as a ``map`` or ``with_transform`` function.

Install with ``pip install "noisegen[hf]"``; ``import noisegen`` never
imports this module, and the module itself needs ``datasets`` only to make
the datasets it is used on. ::

    import noisegen, noisegen.hf

    fn = noisegen.hf.augment_fn(pipeline, rng=0, column="audio", sample_rate=16000)
    ds = ds.map(fn, batched=True, with_indices=True, num_proc=4)

    # on the fly (each access augments again, keyed by the "idx" column):
    ds = ds.add_column("idx", list(range(len(ds))))
    ds = ds.with_transform(noisegen.hf.augment_fn(pipeline, rng=0, index_column="idx"))

Row ``i`` is augmented with the key :func:`row_key` ``(i, rng=rng)``, so the
result depends on the row index only: the same for any ``num_proc``, batch
size or order of access. The parameters each row got
(:attr:`noisegen.Transform.last_params`) go to a column as a JSON string.
For a new draw each epoch, make the function with ``rng=epoch``.

An ``IterableDataset``'s ``with_indices`` indices are positions in the
stream its map reads, not row indices: ``datasets`` counts them from 0 in each
shard that ``shuffle()`` interleaves, in each DataLoader worker and each
``split_dataset_by_node`` rank, and in the order that ``shuffle()`` and
``set_epoch`` give the rows. Key it by an ``index_column`` instead (indices
from an ``IterableDataset``'s map are a ParameterError).

The audio column may hold, per row:

- a dict with ``"array"`` and ``"sampling_rate"`` (plain columns, and the
  ``Audio`` feature of ``datasets`` < 4; also as a dataset in the ``"numpy"``
  or ``"torch"`` format gives it, with arrays or tensors);
- a decoder with ``get_all_samples()`` (the ``Audio`` feature of
  ``datasets`` >= 4, which decodes through ``torchcodec``);
- a dict with ``"bytes"`` or ``"path"`` (``Audio(decode=False)``), read with
  libsndfile.

Each row comes back as ``{"array": float32 array, "sampling_rate": int}``
(``(n,)`` mono, ``(n_channels, n)`` otherwise). Writing it into an ``Audio``
column makes ``datasets`` >= 4 encode it again through ``torchcodec``; a
plain column (``output_column=...``) keeps the arrays exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
import json
import numbers
import sys

import numpy as np

from .._core.errors import NoisegenError, ParameterError
from .._core.labels import about
from .._core.layout import layout_known
from .._core.rng import derive_key, resolve_key
from .._core.validation import check_audio, check_reach, check_sample_rate, show_value
from ..audio.io import load
from ..audio.segment import decode_own_rate
from ..effects import resample
from ..transforms import Transform, load_pipeline

__all__ = ["augment_fn", "row_key", "AugmentFn"]


def row_key(index: int, *, rng) -> int:
    """The key :func:`augment_fn` gives row ``index``: ``derive_key(resolve_key(rng), index)``.

    Examples
    --------
    >>> row_key(3, rng=0) == row_key(3, rng=0) != row_key(4, rng=0)
    True
    """
    return derive_key(resolve_key(rng), _check_index(index, "index"))


def _check_index(index, name):
    # (keys take 64-bit words: 2**64 would be row 0's key again)
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= index < 1 << 64:
        raise ParameterError(f"{name} must be a non-negative int below 2**64 (a row index), got {show_value(index)}")
    return int(index)


def augment_fn(pipeline, *, rng, column="audio", sample_rate=None, output_column=None,
               params_column="noisegen_params", index_column=None):
    """A function that augments the audio column of a ``datasets.Dataset`` batch.

    Use it as ``ds.map(fn, batched=True, with_indices=True, num_proc=N)``
    (also without ``batched``), or as ``ds.with_transform(fn)`` with
    ``index_column``.

    Parameters
    ----------
    pipeline : noisegen.Transform, dict or path
        The pipeline (a config or JSON file is loaded with
        :func:`noisegen.load_pipeline`).
    rng : int, numpy.random.Generator or None
        Resolved once to a root key; row ``i`` gets ``row_key(i, rng=rng)``
        (for an int ``rng``).
    column : str
        The audio column (see the module notes for what a row may hold).
    sample_rate : int or None
        Resample rows at another rate to this one first (with
        :func:`noisegen.resample`); ``None`` keeps each row's rate.
    output_column : str or None
        Where the augmented audio goes; ``None``: back into ``column``.
    params_column : str or None
        Column for each row's applied parameters (a JSON string); ``None``
        adds none. A column of that name in the dataset is a ParameterError
        (it is never replaced).
    index_column : str or None
        A column of row indices to key rows by, for when no ``indices`` are
        passed (``with_transform``); ``map(..., with_indices=True)`` does not
        need it.

    Returns
    -------
    AugmentFn
        ``fn(batch, indices=None) -> batch`` with the audio replaced and the
        parameters added; picklable (the pipeline is rebuilt in each worker
        from its config; one with banks of arrays is pickled whole).

    Examples
    --------
    >>> import numpy as np, noisegen, noisegen.hf
    >>> fn = noisegen.hf.augment_fn(noisegen.Gain(p=1.0), rng=0)
    >>> batch = {"audio": [{"array": np.ones(4, np.float32), "sampling_rate": 8000}]}
    >>> out = fn(batch, [0])
    >>> sorted(out), out["audio"][0]["array"].shape
    (['audio', 'noisegen_params'], (4,))
    """
    return AugmentFn(pipeline, rng=rng, column=column, sample_rate=sample_rate, output_column=output_column,
                     params_column=params_column, index_column=index_column)


class AugmentFn:
    """The callable :func:`augment_fn` returns (arguments as :func:`augment_fn`)."""

    def __init__(self, pipeline, *, rng, column="audio", sample_rate=None, output_column=None,
                 params_column="noisegen_params", index_column=None):
        if not isinstance(pipeline, Transform):
            pipeline = load_pipeline(pipeline, name="pipeline")
        for name, value in (("column", column), ("output_column", output_column),
                            ("params_column", params_column), ("index_column", index_column)):
            if value is not None and not isinstance(value, str):
                raise ParameterError(f"{name} must be a column name (str), got {value!r}")
        if column is None:
            raise ParameterError("column must be a column name (str), got None")
        output = output_column or column
        if params_column is not None and params_column in (column, output, index_column):
            raise ParameterError(f"params_column {params_column!r} must differ from column, output_column and "
                                 "index_column (the parameters would overwrite that column)")
        if index_column is not None and index_column in (column, output):
            raise ParameterError(f"index_column {index_column!r} must differ from column and output_column")
        if sample_rate is not None:
            sample_rate = check_sample_rate(sample_rate)  # once here, not as a failure of every row
        try:
            self.config = pipeline.to_dict()
        except ParameterError:  # banks of arrays (noise read into memory) have no config: the pipeline is pickled
            self.config = None
        self.root_key = resolve_key(rng)
        self.column, self.sample_rate = column, sample_rate
        self.output_column = output
        self.params_column, self.index_column = params_column, index_column
        self._pipeline = pipeline

    def __getstate__(self):  # workers rebuild the pipeline from its config (or get it pickled, without one)
        state = dict(self.__dict__)
        if self.config is not None:
            state["_pipeline"] = None
        return state

    @property
    def pipeline(self) -> Transform:
        if self._pipeline is None:
            self._pipeline = load_pipeline(self.config)
        return self._pipeline

    def __call__(self, batch, indices=None):
        if not isinstance(batch, Mapping):
            raise ParameterError(f"batch must be a row or a batch of rows (a dict of columns), got {type(batch).__name__}")
        if self.column not in batch:
            raise ParameterError(f"column {self.column!r} is not in the batch (columns: {sorted(batch)})")
        if self.params_column is not None and self.params_column in batch:  # (replaced, it replayed other audio)
            raise ParameterError(f"params_column {self.params_column!r} is already a column of the dataset (an earlier "
                                 "augment_fn's parameters?): it would be replaced, silently; pass another "
                                 "params_column (or None), or remove that column first")
        values = batch[self.column]
        # a dataset in the "numpy" format gives a batch's rows as an object array of dicts
        batched = isinstance(values, (list, tuple)) or (isinstance(values, np.ndarray) and values.dtype == object
                                                        and values.ndim == 1)
        given = indices if indices is not None else batch.get(self.index_column) if self.index_column else None
        if batched and (isinstance(given, numbers.Number) or getattr(given, "ndim", None) == 0):
            # one row's index: a row whose audio value is a list (a plain column of floats), refused as such
            # below, not a batch whose indices would be iterated (TypeError: 'int' object is not iterable)
            batched = False
        indices = self._indices(batch, indices, batched)
        if not batched:
            audio, params = self._row(values, indices)
        else:
            if len(indices) != len(values):
                raise ParameterError(f"indices: {len(indices)} for a batch of {len(values)} rows")
            rows = [self._row(v, i) for v, i in zip(values, indices)]
            audio, params = [r[0] for r in rows], [r[1] for r in rows]
        out = dict(batch)
        out[self.output_column] = audio
        if self.params_column is not None:
            out[self.params_column] = params
        return out

    def _indices(self, batch, indices, batched):
        if indices is None:
            if self.index_column is None:
                raise ParameterError(
                    "indices: none given; use ds.map(fn, with_indices=True), or augment_fn(..., "
                    "index_column=<a column of row indices>) for with_transform"
                )
            if self.index_column not in batch:
                raise ParameterError(
                    f"index_column {self.index_column!r} is not in the batch (columns: {sorted(batch)})"
                )
            indices = batch[self.index_column]
            indices = [_scalar(i) for i in indices] if batched else _scalar(indices)
        else:
            _check_global_indices(indices)
        if batched:
            return [_check_index(i, "indices") for i in indices]
        return _check_index(indices, "indices")

    def _row(self, value, index):
        # (about: the pipeline's warnings name the row, as its errors do; "the input is silent" named nothing)
        with about(f"row {index} of column {self.column!r}"):
            return self._augment_row(value, index)

    def _augment_row(self, value, index):
        try:
            y, sr = read_row_audio(value, self.column)
            # (a file's frames, or an array read_row_audio checked: a short file of many channels is no
            # (samples, channels) array, for resample or the pipeline: noisegen._core.layout)
            with layout_known():
                if self.sample_rate is not None and sr != self.sample_rate:
                    check_reach(sr, self.sample_rate, "its audio")  # (not resample's "target_sample_rate / ...")
                    y = resample(y, orig_sample_rate=sr, target_sample_rate=self.sample_rate)
                    sr = self.sample_rate
                y, params = self.pipeline._call_recorded(y, sample_rate=sr, rng=derive_key(self.root_key, index))
        except (NoisegenError, OSError) as exc:  # a bad value, bytes that do not decode, a missing file: say
            raise row_error(exc, f"row {index} of column {self.column!r}") from None  # which row, keep the kind
        return {"array": y, "sampling_rate": sr}, json.dumps(params)  # (last_params: maybe another thread's)


def _check_global_indices(indices):
    """Refuse the indices of ``IterableDataset.map(fn, with_indices=True)``: positions, not row indices.

    ``datasets`` deals the shards out over DataLoader workers and counts the indices from 0 in each of them,
    so rows of different workers would get the same keys (the same draws), and the result would depend on
    ``num_workers``. In one process too, ``.map(...).shuffle()`` counts them from 0 in each shard it
    interleaves (rows 0 and 6 of 12 in 2 shards: one key), and ``.shuffle().map(...)`` or ``set_epoch``
    number the rows in their new order. The check only looks (never imports torch or datasets).
    """
    torch_data, hf = sys.modules.get("torch.utils.data"), sys.modules.get("datasets")
    info = None if torch_data is None or hf is None else torch_data.get_worker_info()
    if info is not None and isinstance(info.dataset, hf.IterableDataset):
        _check_worker_indices(indices, info)
    if _in_iterable_map():
        raise ParameterError(
            f"indices: got {show_value(indices)} from an IterableDataset's map(..., with_indices=True); datasets "
            "counts them as positions in the stream the map reads (from 0 in each shard that shuffle() "
            "interleaves, in the order shuffle() and set_epoch give), so rows would get another row's key or "
            "the same key as others (the same draws). Expected row indices: key the rows by a column instead, "
            "augment_fn(..., index_column='idx') with ds.add_column('idx', range(len(ds))) before "
            "to_iterable_dataset and map without with_indices")


def _check_worker_indices(indices, info):
    """The refusal in a DataLoader worker, naming the worker (and the rank)."""
    shards = getattr(info.dataset, "num_shards", 1)
    # split_dataset_by_node: each rank counts from 0 as well (named here in a worker; _in_iterable_map refuses it too)
    node = getattr(info.dataset, "_distributed", None)
    ranks = getattr(node, "world_size", 1) or 1
    if min(info.num_workers, shards) > 1 or ranks > 1:  # (one shard: one worker reads it all)
        where = f" of rank {node.rank} of {ranks}" if ranks > 1 else ""
        raise ParameterError(
            f"indices: got {show_value(indices)} in DataLoader worker {info.id} of {info.num_workers}{where} reading "
            f"an IterableDataset of {shards} shards; datasets counts them from 0 in each worker and each "
            "split_dataset_by_node rank, so rows of different workers or ranks would get the same key. Expected "
            "row indices that hold across them: key the rows by a column instead, augment_fn(..., "
            "index_column='idx') with ds.add_column('idx', range(len(ds))) before to_iterable_dataset and map "
            "without with_indices")


_MAP_LOOPS = ("_iter", "_iter_arrow", "__iter__")  # MappedExamplesIterable's methods that call the function


def _in_iterable_map():
    """Whether this call comes from an ``IterableDataset``'s map with indices (a ``MappedExamplesIterable``
    of ``datasets`` on the stack; nothing is imported)."""
    module = sys.modules.get("datasets.iterable_dataset")
    mapped = getattr(module, "MappedExamplesIterable", None)
    if mapped is None:
        return False
    frame = sys._getframe(1)
    while frame is not None:  # (f_locals only of its own frames; older datasets loop in __iter__)
        name = frame.f_globals.get("__name__")
        if name == "datasets.arrow_dataset":  # a Dataset.map nearer the call (inside an iterable map's function)
            return False  # owns it: its indices are row indices
        if name == module.__name__ and frame.f_code.co_name in _MAP_LOOPS:
            owner = frame.f_locals.get("self")
            if isinstance(owner, mapped):
                return bool(getattr(owner, "with_indices", False))
        frame = frame.f_back
    return False


def row_error(exc, row):
    """``exc``'s kind, its message led by ``row`` (which row of a dataset it was); an OSError keeps its errno
    and file name (a missing path named the file, not the row)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return type(exc)(exc.errno, f"{row}: {exc.strerror}", exc.filename)
    return type(exc)(f"{row}: {exc}")


def read_row_audio(value, column):
    """``(float32 samples, sample_rate)`` from one row's audio value (also for :mod:`noisegen.data.ray`)."""
    if hasattr(value, "get_all_samples"):  # torchcodec AudioDecoder (datasets >= 4)
        try:
            samples = value.get_all_samples()
        except Exception as exc:  # noqa: BLE001 - torchcodec's RuntimeError for a damaged file named no row
            raise NoisegenError(f"cannot decode the row's audio ({type(exc).__name__}: {exc})") from None
        y, sr = np.asarray(samples.data.cpu().numpy(), dtype=np.float32), samples.sample_rate
    elif isinstance(value, dict) and value.get("array") is not None:
        y, sr = _samples(value["array"], f"{column}['array']"), _scalar(value.get("sampling_rate"))
    elif isinstance(value, dict) and (value.get("bytes") is not None or value.get("path") is not None):
        y, sr = _read_encoded(value)
    else:
        raise ParameterError(
            f"{column} must hold dicts with 'array' and 'sampling_rate', audio decoders or dicts with "
            f"'bytes' or 'path', got {type(value).__name__}"
        )
    sr = check_sample_rate(sr, f"{column}['sampling_rate']")
    if y.ndim == 2 and y.shape[0] == 1:
        y = y[0]
    return y, sr


def _scalar(value):
    """A 0-d array or tensor (a rate or an index in the "numpy" or "torch" format of a dataset) as its
    Python number; anything else as it is."""
    return value.item() if getattr(value, "ndim", None) == 0 and hasattr(value, "item") else value


def _samples(array, name):
    """An ``"array"`` value as float32 samples; integer PCM and complex values refused (as everywhere)."""
    y = array if isinstance(array, np.ndarray) else _as_array(array)
    try:
        if isinstance(y, np.ndarray) and y.dtype.kind in "iu" and not isinstance(array, np.ndarray):
            # a List(int16) column comes as Python ints: PCM (an int16 array: check_audio points at load)
            raise ParameterError(f"{name} holds integers, not float audio (integer PCM, e.g. a List(int16) column); "
                                 "cast the column to floats in [-1, 1] first (y / 32768 for 16-bit PCM)")
        y = check_audio(y, name, finite=False)  # NaN/inf: the pipeline names the row
    except ParameterError:
        raise
    except (TypeError, ValueError):  # objects numpy cannot hold
        raise ParameterError(f"{name} must be float samples, got {show_value(array)}") from None
    return y.astype(np.float32, copy=False)


def _as_array(values):
    """``values`` as one array, converted once; as given where NumPy cannot (ragged rows: check_audio says so)."""
    try:
        return np.asarray(values)
    except (TypeError, ValueError):
        return values


def _read_encoded(value):
    """Decode ``Audio(decode=False)`` bytes (or a path) as :func:`noisegen.load` reads a file (a tar member's
    bytes alike: read with soundfile.read, a WAV behind an ID3v2 tag lost as many bytes off its end)."""
    if value.get("bytes") is not None:
        return decode_own_rate(value["bytes"], mono=False, name="the row's audio bytes")
    return load(value["path"])
