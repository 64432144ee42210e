"""Training-time augmentation on Ray Data: :func:`augment` maps a Ray Dataset through a pipeline.

::

    import ray, noisegen.ray
    ds = ray.data.read_binary_files("s3://bucket/speech/", include_paths=True)   # columns: bytes, path
    ds = noisegen.ray.augment(ds, pipeline, seed=0, sample_rate=16000, column="bytes", id_column="path")
    for batch in ds.iter_batches(batch_size=16):   # rows of any length (iter_torch_batches needs equal ones)
        ...

Keys. Row ``r`` of epoch ``e`` is augmented with the key
``row_key(seed, e, r[id_column])`` (:func:`row_key`): it depends on the row's
own id and nothing else, so the result is the same for any number of blocks,
actors or nodes, and for any order the rows arrive in. Ray Data has no row
index that is stable across blocks (a row's position depends on how the
data was read and split), so the id is a column of the dataset:

- ``"id"`` (the default): an integer per row, as ``ray.data.range`` or
  ``from_items([{"id": i, "audio": y}, ...])`` give. For an integer id the key
  equals that of item ``id`` of :class:`noisegen.AugmentStream` (same seed and
  epoch), so the two agree.
- a string column such as ``"path"`` (``read_binary_files(...,
  include_paths=True)``): hashed (SHA-256) into the key.

Banks. The pipeline is prepared (its noise and RIR banks loaded) once by the
caller, then held by each actor of the pool (a callable class under
``map_batches``), so banks are never reloaded per batch or per row.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import numbers
import pickle
import warnings
from collections.abc import Mapping

import numpy as np

from .._core.errors import NoisegenError, NoisegenWarning, ParameterError, one_line
from .._core.labels import about
from .._core.layout import layout_known
from .._core.rng import check_seed, derive_key, resolve_key
from .._core.validation import check_int, check_real, check_reach, check_sample_rate, show_value
from ..audio.bank_cache import dumps_anywhere
from ..audio.io import load
from ..audio.segment import decode
from ..effects import resample
from ..transforms import Transform, load_pipeline
from .hf import read_row_audio, row_error

INSTALL_HINT = 'the ray engine needs Ray: pip install "noisegen[ray]"'

__all__ = ["augment", "row_key"]

#: The largest epoch or integer row id: keys take each mod 2**64 (epoch 2**64 drew epoch 0's augmentation).
MAX_KEY_INT = (1 << 64) - 1


def row_key(seed, epoch: int, row_id) -> int:
    """The key that :func:`augment` uses for the row with id ``row_id`` in ``epoch``.

    ``pipeline(y, sample_rate=sr, rng=row_key(seed, epoch, row_id))`` gives
    exactly what :func:`augment` puts in the row.

    Parameters
    ----------
    seed : int
        The base seed given to :func:`augment`.
    epoch : int
    row_id : int or str
        A non-negative integer, or a string (a path) hashed into the key.

    Examples
    --------
    >>> row_key(0, 0, 3) == row_key(0, 0, 3), row_key(0, 0, 3) == row_key(0, 1, 3)
    (True, False)
    """
    # an int, as augment takes it: resolve_key alone also took None (a fresh key on every call) and a Generator
    seed = check_seed(seed)
    epoch = check_int(epoch, "epoch", low=0, high=MAX_KEY_INT)
    return derive_key(resolve_key(seed, "seed"), epoch, *_id_path(row_id))


def _id_path(row_id) -> tuple[int, ...]:
    if isinstance(row_id, bytes):
        row_id = row_id.decode("utf-8", "surrogateescape")
    if isinstance(row_id, str):
        digest = hashlib.sha256(row_id.encode("utf-8", "surrogateescape")).digest()
        return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:16], "little")
    if isinstance(row_id, numbers.Integral) and not isinstance(row_id, bool) and 0 <= row_id <= MAX_KEY_INT:
        return (int(row_id),)
    raise ParameterError(f"row id must be an integer in [0, 2**64 - 1] or a string, got {type(row_id).__name__} "
                         f"{row_id!r}")


class _Augmenter:
    """The stateful ``map_batches`` callable: one per actor, holding the prepared pipeline."""

    def __init__(self, box, *, seed, epoch, sample_rate, column, id_column, params_column):
        import ray

        # box = [ref to the pickled pipeline]: a small constructor argument (Ray can restart the actor
        # from it), unpickled into writable arrays rather than read-only views into the object store
        self.pipeline = pickle.loads(ray.get(box[0]))
        self.pipeline.prepare(sample_rate)
        self.seed, self.epoch, self.sample_rate = seed, epoch, sample_rate
        self.column, self.id_column, self.params_column = column, id_column, params_column

    def __call__(self, batch: dict) -> dict:
        for name in (self.column, self.id_column):
            if name not in batch:
                raise ParameterError(_missing(name, self.column, self.id_column, list(batch)))
        if self.params_column in batch:
            raise ParameterError(_taken(self.params_column, list(batch)))
        outs, params = [], []
        for row_id, value in zip(batch[self.id_column], batch[self.column]):
            row_id = _scalar(row_id)
            row = f"row {self.id_column}={show_value(row_id)} of column {self.column!r}"
            # (a file's frames, or an array read_row_audio checked: a short file of many channels is no
            # (samples, channels) array; a plain array row is judged by the pipeline: noisegen._core.layout)
            known = layout_known() if _decoded(value) else contextlib.nullcontext()
            try:
                y = _audio(value, self.sample_rate, self.column)
                with known, about(row):  # (about: the pipeline's warnings name the row, as its errors do)
                    out, drawn = self.pipeline._call_recorded(y, sample_rate=self.sample_rate,
                                                              rng=row_key(self.seed, self.epoch, row_id))
            except (NoisegenError, OSError) as exc:  # say which row (a bad value, bytes that do not decode, a
                raise row_error(exc, row) from None  # missing file), keep the kind
            outs.append(np.ascontiguousarray(out))
            params.append(json.dumps(drawn, sort_keys=True, allow_nan=False))  # (a threaded actor: not last_params)
        return {**batch, self.column: _column(outs), self.params_column: np.array(params, dtype=object)}


def _missing(name, column, id_column, present) -> str:
    if name == id_column:
        return (f"id_column {id_column!r} is not a column of the dataset (columns: {present}); the row id makes "
                "each row's key independent of blocks and actors: give an integer or string column that is "
                "unique per row, e.g. id_column='path' with read_binary_files(..., include_paths=True), or add "
                "one with from_items([{'id': i, ...}])")
    return f"column {column!r} is not a column of the dataset (columns: {present})"


def _taken(params_column, present) -> str:
    return (f"params_column {params_column!r} is already a column of the dataset (columns: {present}): its values "
            "would be replaced, silently (an earlier augment's parameters, which replay its audio); pass another "
            "params_column, or drop that column first")


def _scalar(value):
    return value.item() if isinstance(value, np.generic) else value


def _audio(value, sample_rate, column):
    """A row's audio: an array (at ``sample_rate`` already), encoded file bytes, a path, or a Hugging Face
    audio struct (``ray.data.from_huggingface``: ``{"array", "sampling_rate"}`` or ``{"bytes", "path"}``)."""
    if isinstance(value, (bytes, bytearray, np.bytes_)):  # decoded as noisegen.load decodes a file
        return decode(bytes(value), sample_rate=sample_rate, mono=False, name="the row's bytes")
    if isinstance(value, str):
        return load(value, sample_rate=sample_rate)[0]
    if isinstance(value, Mapping):  # (taken for an array, it was refused as "dtype object")
        y, sr = read_row_audio(value, column)
        check_reach(sr, sample_rate, "its audio")  # (not resample's "target_sample_rate / ...")
        with layout_known():  # (see _decoded)
            return y if sr == sample_rate else resample(y, orig_sample_rate=sr, target_sample_rate=sample_rate)
    return np.asarray(value)


def _decoded(value) -> bool:
    """Whether :func:`_audio` of ``value`` is a file's frames (or an array :func:`read_row_audio` checked)."""
    return isinstance(value, (bytes, bytearray, np.bytes_, str, Mapping))


def _column(arrays):
    """Rows of one shape stack into one tensor column; rows of different lengths stay separate."""
    if arrays and all(a.shape == arrays[0].shape and a.dtype == arrays[0].dtype for a in arrays):
        return np.stack(arrays)
    out = np.empty(len(arrays), dtype=object)
    out[:] = arrays
    return out


def augment(dataset, pipeline, *, seed, sample_rate, column="audio", id_column="id", epoch=0,
            params_column="params", actors=1, batch_size=16, num_cpus=1.0):
    """Augment the audio column of a Ray Dataset with a noisegen pipeline (lazily, as Ray Data does).

    Parameters
    ----------
    dataset : ray.data.Dataset
        Rows with an audio ``column`` and an ``id_column``.
    pipeline : Transform, dict or JSON file path
        Prepared here once (banks loaded, checked), then held by every actor.
    seed : int
        Base seed; row keys come from ``(seed, epoch, row id)`` (:func:`row_key`).
    sample_rate : int
        The rate of the audio: array rows must already be at it; encoded
        bytes (``read_binary_files``) and path strings are decoded and
        resampled to it, and so are Hugging Face audio structs
        (``ray.data.from_huggingface``: ``{"array", "sampling_rate"}``, or
        ``{"bytes", "path"}`` from ``Audio(decode=False)``).
    column : str
        The audio column; it is replaced by the augmented audio (an array per
        row, time on the last axis, the input's float dtype; float32 when
        decoded or from a struct). Rows that change length (speed perturbation) may differ in length.
    id_column : str
        A column with a unique non-negative integer or string per row (see
        the module notes for why it is needed).
    epoch : int
        Call again with ``epoch + 1`` for fresh draws in the next epoch.
    params_column : str
        Added: each row's applied parameters (``last_params``) as a JSON
        string, for :meth:`Transform.apply_params` replays. A column of that
        name in the dataset is a ParameterError (it is never replaced).
    actors : int
        Size of the actor pool. The result does not depend on it. When Ray
        tasks make the rows (``read_binary_files``, ``range``, a ``map``
        before this one), leave them a whole CPU: ``actors * num_cpus`` at
        most the cluster's CPUs minus one, or the tasks wait for ever (each
        takes one CPU). Rows already in memory (``from_items``,
        ``from_numpy``, a materialized dataset) need none.
    batch_size : int
        Rows per ``map_batches`` call.
    num_cpus : float
        CPUs reserved per actor. A pool the cluster Ray is connected to
        cannot place now (more CPUs than it has, an actor larger than any
        node), or one that leaves less than a whole CPU to the tasks that
        make the rows, is warned of (:class:`~noisegen.NoisegenWarning`):
        Ray waits for the CPUs, for ever unless the cluster grows.

    Returns
    -------
    ray.data.Dataset
        Lazy; ``iter_torch_batches``, ``iter_batches``, ``take_all`` and
        ``ray.train`` ingestion read it as any dataset (select the array
        columns for torch: ``select_columns([column])``).

    Raises
    ------
    noisegen.ParameterError
        A bad argument or pipeline (before any row is read); a missing
        column (when the dataset's schema is known).
    """
    ray = import_ray()
    import ray.data  # noqa: F811 - the submodule, on the same name

    if not isinstance(dataset, ray.data.Dataset):
        raise ParameterError(f"dataset must be a ray.data.Dataset, got {type(dataset).__name__}")
    seed = check_seed(seed)
    epoch = check_int(epoch, "epoch", low=0, high=MAX_KEY_INT)
    sample_rate = check_sample_rate(sample_rate)
    actors = check_int(actors, "actors", low=1)
    batch_size = check_int(batch_size, "batch_size", low=1)
    num_cpus = check_real(num_cpus, "num_cpus", low=0.0, low_inclusive=False)
    for name, value in (("column", column), ("id_column", id_column), ("params_column", params_column)):
        if not isinstance(value, str) or not value:
            raise ParameterError(f"{name} must be a non-empty column name, got {value!r}")
    if params_column in (column, id_column):
        raise ParameterError(f"params_column {params_column!r} must differ from column and id_column")
    if id_column == column:
        raise ParameterError(f"id_column {id_column!r} must differ from column (the ids name the rows' audio)")
    _check_columns(dataset, column, id_column, params_column)
    pipeline = _as_pipeline(pipeline)
    try:
        pipeline.prepare(sample_rate)
    except ParameterError as exc:
        raise ParameterError(f"pipeline: {one_line(exc)}") from None
    kwargs = {"seed": seed, "epoch": epoch, "sample_rate": sample_rate, "column": column, "id_column": id_column,
              "params_column": params_column}
    _warn_if_unschedulable(ray, actors, num_cpus, tasks=_runs_tasks(dataset))
    box = [ray.put(dumps_anywhere(pipeline))]  # actors may run on other nodes, without the banks' cache files
    return dataset.map_batches(
        _Augmenter, fn_constructor_args=(box,), fn_constructor_kwargs=kwargs, batch_size=batch_size,
        batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=num_cpus,
    )


def _warn_if_unschedulable(ray, actors, num_cpus, *, tasks=True) -> None:
    """Warn when the cluster Ray is connected to cannot place the pool now: more CPUs than it has,
    or an actor larger than any node; or when, with ``tasks`` (Ray tasks make the rows, see
    :func:`_runs_tasks`), the pool leaves them less than the whole CPU each takes: they wait behind
    the actors, which wait for their rows. Ray then waits, for ever on a cluster that does not grow
    (an autoscaling one may add nodes, so it is no error)."""
    if not ray.is_initialized():  # the pool's first use connects; nothing to compare yet
        return
    try:
        total = float(ray.cluster_resources().get("CPU", 0.0))
        largest = max((float(n.get("Resources", {}).get("CPU", 0.0)) for n in ray.nodes() if n.get("Alive")), default=0.0)
    except Exception:  # noqa: BLE001 - the check is advice; the run goes on without it
        return
    reserved = actors * num_cpus
    if num_cpus > largest:
        why = f"num_cpus={num_cpus:g} per actor, more than any node of the cluster has ({largest:g}): Ray waits"
    elif reserved > total:
        why = f"actors * num_cpus = {reserved:g} CPUs, more than the cluster has ({total:g}): Ray waits"
    elif tasks and total - reserved < 1:
        why = (f"actors * num_cpus = {reserved:g} of the cluster's {total:g} CPU(s) leaves {total - reserved:g}, less "
               "than the whole CPU each Ray task that reads the rows takes (keep it at most the cluster's CPUs "
               "minus one): the reads wait for one, and the pool for its rows")
    else:
        return
    warnings.warn(f"noisegen.ray.augment: {why} (for ever, unless the cluster adds nodes)", NoisegenWarning,
                  stacklevel=3)


def _runs_tasks(dataset) -> bool:
    """Whether Ray runs tasks to make the dataset's rows (a read, ``range``, a map), each taking a whole
    CPU; rows already in memory (``from_items``, ``from_numpy``, a materialized dataset) need none. Read
    from Ray Data's logical plan, which is internal: when it cannot be read, tasks are assumed."""
    try:
        stack = [dataset._logical_plan.dag]
        while stack:
            op = stack.pop()
            if not any(c.__name__ in ("AbstractFrom", "InputData") for c in type(op).__mro__):
                return True
            stack.extend(op.input_dependencies)
    except Exception:  # noqa: BLE001 - another Ray version's plan: assume the rows take tasks
        return True
    return False


def _check_columns(dataset, column, id_column, params_column) -> None:
    """Refuse a missing column, or a params_column the dataset has, now when the schema is known without
    reading data."""
    try:
        schema = dataset.schema(fetch_if_missing=False)
    except Exception:  # noqa: BLE001 - unknown schema: the actors check each batch
        return
    names = list(getattr(schema, "names", None) or [])
    if not names:
        return
    for name in (column, id_column):
        if name not in names:
            raise ParameterError(_missing(name, column, id_column, names))
    if params_column in names:
        raise ParameterError(_taken(params_column, names))


def import_ray():
    """The ``ray`` module, or a :class:`~noisegen.ParameterError` saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ParameterError(f"engine='ray': {INSTALL_HINT} ({exc})") from None
    if not callable(getattr(ray, "remote", None)):  # (else an AttributeError once OUT_DIR is made)
        where = getattr(ray, "__file__", None) or ", ".join(getattr(ray, "__path__", None) or ())
        raise ParameterError(f"engine='ray': the module 'ray' imported from {where or '?'} is not Ray (a file or "
                             f"folder named ray shadows it); rename it, or {INSTALL_HINT}")
    return ray


def _as_pipeline(pipeline):
    if isinstance(pipeline, Transform):
        return pipeline
    if isinstance(pipeline, (dict, list, str)) or hasattr(pipeline, "__fspath__"):
        return load_pipeline(pipeline, name="pipeline")
    raise ParameterError(f"pipeline must be a Transform, a dict or a JSON file path, got {type(pipeline).__name__}")
