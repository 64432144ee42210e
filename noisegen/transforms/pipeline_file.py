"""Reading a pipeline's JSON file for :func:`noisegen.transforms.load_pipeline`: a regular file (a FIFO
would block, ``/dev/zero`` never end), of bounded size, whose objects name each key once; its relative
paths of sources taken from the file's folder (:func:`resolve_paths`)."""

from __future__ import annotations

import collections
import json
import os

from .._core.errors import ParameterError
from .._core.validation import check_path
from ..audio.files import open_regular

__all__ = ["MAX_PIPELINE_BYTES", "PATH_ARGUMENTS", "read_pipeline_file", "resolve_paths"]

#: Largest pipeline file read (bytes): a pipeline is a few kB of JSON.
MAX_PIPELINE_BYTES = 16 << 20

#: Keys named twice that an error lists (the rest are counted).
_SHOWN = 5


def read_pipeline_file(path):
    """The JSON in the regular file ``path`` (:func:`~noisegen.audio.files.open_regular`), at most
    :data:`MAX_PIPELINE_BYTES` of it; an object that names a key twice is a ParameterError."""
    with os.fdopen(open_regular(check_path(path)), encoding="utf-8-sig") as fh:  # (-sig: a BOM, as Notepad writes)
        size = os.fstat(fh.fileno()).st_size
        if size > MAX_PIPELINE_BYTES:
            raise ParameterError(f"pipeline file {os.fspath(path)!r} is {size} bytes; a pipeline is a few kB "
                                 f"of JSON (at most {MAX_PIPELINE_BYTES} bytes are read)")
        return json.load(fh, object_pairs_hook=lambda pairs: _object(pairs, path))


def _object(pairs, path) -> dict:
    """``json.load``'s ``object_pairs_hook``: the object as a dict; one that names a key twice is refused
    (``json`` keeps the last value silently: a merged config ran with the setting it also said otherwise)."""
    obj = dict(pairs)
    if len(obj) < len(pairs):  # (counted once: names.count per key took minutes for an object of 20,000 twice)
        twice = sorted(key for key, n in collections.Counter(key for key, _ in pairs).items() if n > 1)
        twice = ", ".join(repr(key) for key in twice[:_SHOWN]) + (
            f" and {len(twice) - _SHOWN} other key(s)" if len(twice) > _SHOWN else "")
        where = f"the object of {obj['name']!r}" if isinstance(obj.get("name"), str) else "an object"
        raise ParameterError(f"pipeline file {os.fspath(path)!r} names {twice} more than once in {where} "
                             "(JSON would keep the last value silently)")
    return obj


#: Constructor arguments that hold file or folder paths (AddBackgroundNoise, AddShortNoises,
#: ApplyImpulseResponse).
PATH_ARGUMENTS = ("noise", "sounds", "rir")
# The value of one of those arguments that names a source rather than a path (ApplyImpulseResponse's rooms;
# as AddBackgroundNoise's noise, or in a list, "simulated" is a folder beside the config, as any name is).
_NOT_PATHS = {"rir": "simulated"}


def resolve_paths(config, base_dir: str):
    """A copy of ``config`` with relative strings under :data:`PATH_ARGUMENTS` joined to ``base_dir``,
    but for one that names nothing there and something from the current folder (made absolute, as the
    others are): ``to_dict`` keeps paths as given, so a pipeline saved elsewhere names them from where it was made.
    A ``~/x`` that names nothing in either stays as written: no shell expands it in a file, and its error says so.

    Iterative (an explicit stack), so a deeply nested config cannot overflow
    the interpreter's stack here; nesting limits are checked elsewhere.
    """
    def resolve(value):
        if isinstance(value, str) and value and not os.path.isabs(value):
            joined = os.path.join(base_dir, value)
            if os.path.exists(joined) or not (os.path.exists(value) or value.startswith("~")):
                return joined
            return os.path.abspath(value) if os.path.exists(value) else value  # ('~/x' as written: its error says why)
        if isinstance(value, list):
            return [resolve(v) if isinstance(v, str) else v for v in value]
        return value

    root = {"_": config}
    stack = [root]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(items):
            if isinstance(node, dict) and key in PATH_ARGUMENTS and "name" in node:
                node[key] = value if _NOT_PATHS.get(key) == value else resolve(value)
            elif isinstance(value, (dict, list)):
                node[key] = value = dict(value) if isinstance(value, dict) else list(value)
                stack.append(value)
    return root["_"]
