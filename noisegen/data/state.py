"""Where a stream stands: checking an :meth:`AugmentStream.state_dict` before a
stream resumes from it, and which shard (DataLoader worker, rank) the calling process is.

A state is only valid for the stream that gave it: the same key (unless the
resuming stream was built with ``rng=None``), item count, sample rate,
chunking, shuffle, mono, shard (``[index, count]`` of the rank and
DataLoader worker; a state saved before states named it is taken as this
shard's) and source (:func:`source_fingerprint`; a state saved before
states named it is not checked), and its counters in range. Anything else is a
ParameterError, so a wrong state is never silently adopted.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping

import numpy as np

from .._core.errors import NoisegenError, ParameterError

_STATE_INTS = ("epoch", "position", "chunk")

#: Most epochs of one pass (``epochs=None`` streams without end), and the highest epoch a pass starts at.
MAX_EPOCHS = 2**31 - 1


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _same(a, b) -> bool:
    """Equal and of the same kind (ints of any width count as one kind; 1 is not True)."""
    same_kind = type(a) is type(b) or (_is_int(a) and _is_int(b))
    if same_kind and isinstance(a, list):  # (shard) item by item: an array in a list made == raise ValueError
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return same_kind and a == b


def left_behind() -> NoisegenError:
    """The error of an iteration resumed after the stream was moved under it."""
    return NoisegenError("AugmentStream: this iteration was left behind: set_epoch(), load_state_dict() or another "
                         "iteration moved the stream since its last chunk; iterate the stream again to go on from "
                         "where it stands (one iteration at a time per stream)")


def check_state(state, identity, key, epochs):
    """``(key, epoch, position, chunk, pass_end)`` of a valid state, else ParameterError."""
    if not isinstance(state, dict):
        raise ParameterError(f"state must be a dict from AugmentStream.state_dict(), got {type(state).__name__}")
    for name in ("shard", "source"):  # saved before states named them: taken as this stream's, as then
        if name not in state:
            state = {**state, name: identity[name]}
    expected = {"key", "pass_end", *_STATE_INTS, *identity}
    if set(state) != expected:
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        raise ParameterError(f"state must come from AugmentStream.state_dict(): missing {missing}, unexpected {extra}")
    for name, value in identity.items():
        if name == "source" and not _same(state[name], value):
            raise ParameterError(f"state is from a stream over another source (other items, or the same in another "
                                 f"order): its source={state[name]!r}, this stream's is {value!r}")
        if not _same(state[name], value):
            raise ParameterError(f"state is for a stream with {name}={state[name]!r}, this one has {name}={value!r}")
    for name in ("key", *_STATE_INTS):
        if not _is_int(state[name]) or state[name] < 0:
            raise ParameterError(f"state[{name!r}] must be a non-negative int, got {state[name]!r}")
    if state["key"] >= 1 << 64:
        raise ParameterError(f"state['key'] must be below 2**64, got {state['key']!r}")
    if key is not None and int(state["key"]) != key:
        raise ParameterError("state is for a stream with another rng (its key differs from this stream's)")
    epoch, position, chunk = (int(state[k]) for k in _STATE_INTS)
    if epoch > MAX_EPOCHS:  # as set_epoch refuses it (a DataLoader shares the epoch as an int64)
        raise ParameterError(f"state['epoch'] must be at most {MAX_EPOCHS}, got {epoch}")
    n_items = identity["n_items"]
    if n_items is not None and position >= max(n_items, 1):
        raise ParameterError(f"state['position'] must be below the {n_items} items of an epoch, got {position}")
    pass_end = state["pass_end"]
    if pass_end is not None:
        if not _is_int(pass_end) or epochs is None or not epoch < pass_end <= epoch + epochs:
            raise ParameterError(f"state['pass_end'] must be None or an int in ({epoch}, {epoch} + epochs] for "
                                 f"epochs={epochs!r}, got {pass_end!r}")
        pass_end = int(pass_end)
    return int(state["key"]), epoch, position, chunk, pass_end


def source_fingerprint(items) -> str | None:
    """A digest of a stream's items in their order, which its states carry (None: a one-pass iterable).

    Files, manifest rows and tar samples count by their paths from the folder they all share (a
    corpus moved or mounted elsewhere keeps its states), with a row's offset and duration and a
    sample's key; arrays by their shape, dtype, rate and up to 64 of their values.
    """
    if items is None:
        return None
    if hasattr(items, "rows"):  # a manifest (rows without a path count by their line)
        paths = [row.path for row in items.rows]
        extra = [(row.offset_s, row.duration_s) if row.path else row.line for row in items.rows]
    elif hasattr(items, "samples"):  # tar shards
        paths, extra = [items.paths[s.tar] for s in items.samples], [s.key for s in items.samples]
    elif hasattr(items, "paths"):  # files
        paths, extra = items.paths, [None] * len(items)
    else:
        paths, extra = [None] * len(items), [_array_digest(items.arrays[i]) for i in range(len(items))]
    digest = hashlib.blake2b(type(items).__name__.encode(), digest_size=8)
    for path, more in zip(_from_shared_folder(paths), extra):
        digest.update(repr((path, more)).encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()


def _from_shared_folder(paths):
    paths = [None if p is None else os.fsdecode(p) for p in paths]  # (bytes path-likes too)
    named = [os.path.normpath(p) for p in paths if p is not None]
    try:
        base = os.path.commonpath([os.path.dirname(p) for p in named]) if named else ""
    except ValueError:  # absolute and relative paths mixed
        base = ""
    cut = len(base) + (0 if not base or base.endswith(os.sep) else 1)
    return [None if p is None else os.path.normpath(p)[cut:] for p in paths]


def _array_digest(entry):
    """(shape, dtype, rate, a few values) of an array item or ``(array, sample_rate)`` pair; a Hugging Face
    audio dict counts by its ``"array"`` so, else by its ``"path"`` and a few of its ``"bytes"``; a decoder by
    its ``metadata`` (duration, rate, channels, codec from the header)."""
    rate = None
    if isinstance(entry, Mapping):  # a Hugging Face audio value: by its samples, else its path or bytes
        if entry.get("array") is not None:
            return _array_digest((entry["array"], entry.get("sampling_rate")))
        data = entry.get("bytes")
        # (its header, then 64 bytes spread over it: a whole file hashed per item would slow state_dict)
        data = data[:64] + data[:: max(1, len(data) // 64)][:64] + b"%d" % len(data) if isinstance(data, bytes) else b""
        return "encoded", str(entry.get("path")), hashlib.blake2b(data, digest_size=8).hexdigest()
    if hasattr(entry, "get_all_samples"):  # a torchcodec decoder (datasets >= 4): by its header, not decoded
        return "decoder", repr(getattr(entry, "metadata", None))
    if isinstance(entry, tuple) and len(entry) == 2:
        entry, rate = entry
    try:
        y = np.asarray(entry)
    except (TypeError, ValueError):  # not an array: skipped when read
        return type(entry).__name__
    values = b""
    if y.dtype.kind in "biufc" and y.size:  # (object arrays would give pointers)
        values = y.flat[np.linspace(0, y.size - 1, min(y.size, 64)).astype(np.int64)].tobytes()
    return y.shape, str(y.dtype), str(rate), hashlib.blake2b(values, digest_size=8).hexdigest()


def torch_shard():
    """(worker_id, num_workers, rank, world_size) from torch, if it is imported."""
    torch = sys.modules.get("torch")
    worker_id, num_workers = 0, 1
    if torch is not None:
        try:
            info = torch.utils.data.get_worker_info()
        except AttributeError:  # torch imported only partially
            info = None
        if info is not None:
            worker_id, num_workers = int(info.id), int(info.num_workers)
    return (worker_id, num_workers) + distributed_rank()


def distributed_rank():
    """(rank, world_size) of this process's torch.distributed group; (0, 1) without one."""
    torch = sys.modules.get("torch")
    try:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            return int(dist.get_rank()), int(dist.get_world_size())
    except AttributeError:  # no torch, or torch imported only partially
        pass
    return 0, 1
