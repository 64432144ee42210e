"""What a :class:`~noisegen.audio.bank.NoiseBank` is made from: a folder, files, or arrays, and how
its recordings are joined end to end."""

from __future__ import annotations

import os

import numpy as np

from .._core.errors import ParameterError
from .._core.validation import check_audio, show_value
from .files import AUDIO_EXTENSIONS, audio_files, missing_hint, path_kind

__all__ = ["joined", "sources"]


def sources(source, name):
    """``(folder, paths, arrays, folders)`` of a bank's ``source``; folders in a list contribute their files
    (``folders``: every folder searched, which augment keeps OUT_DIR out of)."""
    if isinstance(source, (str, os.PathLike)):
        if os.path.isdir(source):
            return os.fspath(source), audio_files(source), None, [os.fspath(source)]
        if os.path.isfile(source):
            return None, [os.fspath(source)], None, []
        raise ParameterError(f"{name} must be an existing folder or file, got {path_kind(source)} {os.fspath(source)!r}{missing_hint(source)}")
    if isinstance(source, np.ndarray) and source.dtype.kind in "UO" and all(isinstance(a, (str, os.PathLike)) for a in source.flat):
        source = source.tolist()  # paths (a DataFrame's column): were refused as one signal, "float32 or float64 audio"
    if isinstance(source, np.ndarray):
        return None, None, [_check_array(source, name)], []
    if isinstance(source, (list, tuple)) and source and all(isinstance(a, np.ndarray) for a in source):
        return None, None, [_check_array(a, f"{name}[{i}]") for i, a in enumerate(source)], []
    if isinstance(source, (list, tuple)) and all(isinstance(a, (str, os.PathLike)) for a in source):
        paths, folders = [], []
        for i, item in enumerate(source):
            if os.path.isdir(item):
                if not (found := audio_files(item)):  # (as a folder alone is: never left out without a word)
                    raise ParameterError(f"{name}[{i}] holds no audio files ({', '.join(AUDIO_EXTENSIONS)}): {item!r}")
                paths.extend(found)
                folders.append(os.fspath(item))
            elif os.path.isfile(item):
                paths.append(os.fspath(item))
            else:
                raise ParameterError(f"{name}[{i}] must be an existing folder or file, got {path_kind(item)} {os.fspath(item)!r}{missing_hint(item)}")
        return None, paths, None, folders
    kinds = sorted({type(a).__name__ for a in source}) if isinstance(source, (list, tuple)) else []
    held = " of " + ", ".join(kinds) if kinds else " " + show_value(source)  # (what a list holds, else the value)
    raise ParameterError(f"{name} must be a folder, a file, a list of folders and files or a list of float arrays "
                         f"(NumPy), got {type(source).__name__}{held}")


def joined(arrays):
    """The bank's files end to end. One file is kept as read, not copied: the copy held a long file twice
    while it loaded (a 60-minute noise at 16 kHz, 220 MB, peaked 440 MB above the process's start)."""
    if len(arrays) == 1 and _sole_owner(arrays[0]):
        return arrays[0]
    return np.concatenate(arrays)


def _sole_owner(a) -> bool:
    """Whether ``a`` is C-contiguous float32 and all of the memory it keeps alive (a reshaped read buffer,
    not one channel of a wider one, nor a caller's array)."""
    root = a
    while isinstance(root.base, np.ndarray):
        root = root.base
    return (a.dtype == np.float32 and a.flags.c_contiguous and a.flags.writeable
            and (root.base is None or isinstance(root.base, (bytes, bytearray))) and root.nbytes == a.nbytes)


def _check_array(a, name):
    a = check_audio(a, name, allow_empty=False, max_ndim=1)
    peak = 0.0 if a.dtype == np.float32 else float(np.max(np.abs(a)))  # (a float32 array is kept as given)
    # past float32's range a float64 array became inf; below its normal range, few bits or none (1e-46: zeros)
    if peak and not float(np.finfo(np.float32).tiny) <= peak <= float(np.finfo(np.float32).max):
        side = "beyond float32's range" if peak > 1.0 else "below float32's normal range"
        raise ParameterError(f"{name} peaks at {peak:.3g}, {side} (a bank holds float32 samples)")
    return np.array(a, dtype=np.float32, copy=True)
