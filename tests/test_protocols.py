"""Python protocols over the public classes: the sequence protocol (len, indexing, negative
indices, slices, iteration, IndexError past the end), pickle and deepcopy round trips (what
DataLoader workers started with ``spawn`` do) and argument types users pass."""

from __future__ import annotations

import numpy as np
import pytest

from noisegen import NoiseBank, ParameterError
from noisegen import transforms as T

SR = 8000


def _banks(data_dir, tmp_path):
    arrays = [np.hanning(50), np.ones(7), np.linspace(-1, 1, 30)]
    return {
        "folder_at": NoiseBank(data_dir / "noise").at(SR),
        "folder_rate": NoiseBank(data_dir / "noise", sample_rate=SR),
        "paths_str": NoiseBank([str(p) for p in sorted((data_dir / "noise").iterdir())], sample_rate=SR),
        "memmapped": NoiseBank(data_dir / "rir", sample_rate=SR, cache_path=tmp_path / "rir.npy"),
        "arrays": NoiseBank.from_arrays(arrays, sample_rate=SR),
        "one_array": NoiseBank.from_arrays([np.ones(5)], sample_rate=SR),
        "arrays_at": NoiseBank(arrays, source_sample_rate=16000).at(SR),
    }


SEQUENCES = ["folder_at", "folder_rate", "paths_str", "memmapped", "arrays", "one_array", "arrays_at",
             "Compose", "OneOf", "SomeOf"]


def _sequence(name, data_dir, tmp_path):
    if name in ("Compose", "OneOf", "SomeOf"):
        children = [T.Gain(p=1.0), T.Clip(p=1.0), T.TimeMask(p=1.0)]
        return getattr(T, name)(children, **({"k": 1} if name == "SomeOf" else {}))
    return _banks(data_dir, tmp_path)[name]


def _same(a, b):
    return np.array_equal(a, b) if isinstance(a, np.ndarray) else a is b


@pytest.mark.parametrize("name", SEQUENCES)
def test_sequence_protocol(name, data_dir, tmp_path):
    seq = _sequence(name, data_dir, tmp_path)
    n = len(seq)
    assert n >= 1 and bool(seq)
    items = list(seq)  # iteration ends at the end (not with a ParameterError)
    assert len(items) == n and len([x for x in seq]) == n
    for i in range(-n, n):
        assert _same(seq[i], items[i])
    assert all(_same(a, b) for a, b in zip(reversed(seq), items[::-1]))
    for bad in (n, n + 1, -n - 1, 10**12):
        with pytest.raises(IndexError):
            seq[bad]
    for s in (slice(None), slice(1, None), slice(None, -1), slice(None, None, -1), slice(n, None), slice(0, 100, 2)):
        got = seq[s]
        assert len(got) == len(items[s]) and all(_same(a, b) for a, b in zip(got, items[s]))
    if isinstance(seq, NoiseBank):  # numpy integers index; an out-of-range index is both errors
        assert _same(seq[np.int64(n - 1)], items[-1]) and _same(seq[np.int32(-1)], items[-1])
        with pytest.raises(ParameterError, match=rf"index must be an integer in \[{-n}, {n - 1}\], got {n}"):
            seq[n]
        for bad in (True, "0", None, 0.5):
            with pytest.raises(ParameterError, match="index must be an integer") as exc:
                seq[bad]
            assert not isinstance(exc.value, IndexError)
        assert all(not y.flags.writeable for y in seq)


def test_a_bank_loaded_per_rate_iterates_only_once_loaded(data_dir):
    bank = NoiseBank(data_dir / "noise")
    assert len(bank) == 3
    with pytest.raises(ParameterError, match=r"bank.at\(sample_rate\)"):
        iter(bank)
    assert len(list(bank.at(SR))) == 3


STREAMS = {
    "chunks": {},
    "whole_items": {"chunk_s": None},
    "with_target": {"target": "clean"},
    "stereo": {"mono": False},
}


@pytest.mark.parametrize("case", list(STREAMS))
def test_chunks_and_batches_compare_by_value(case):
    import copy
    import pickle

    from noisegen import AugmentStream

    rows = np.random.default_rng(0).standard_normal((2, 2500)).astype(np.float32) * 0.1
    items = [rows, rows[:, :1200], rows[:, ::-1]]  # (channels, samples); a negative stride too
    kwargs = {"sample_rate": 1000, "chunk_s": 1.0, "rng": 5, "mono": True, **STREAMS[case]}
    pipe = T.Compose([T.Gain(p=1.0), T.AddColoredNoise(p=0.5)])
    stream = AugmentStream(items, pipe, **kwargs)
    first, again = list(stream), list(AugmentStream(items, pipe, **kwargs))
    assert len(first) >= 3 and first == again  # dataclass equality compared arrays as a tuple: ValueError
    for c in first:
        assert c == copy.deepcopy(c) == pickle.loads(pickle.dumps(c))
        changed = copy.deepcopy(c)
        changed.samples[..., 0] += 1.0
        assert changed != c and c != copy.copy(c).__class__(**{**vars(c), "samples": c.samples.astype(np.float64)})
        with pytest.raises(TypeError):
            hash(c)
    assert all((a == b) == (i == j) for i, a in enumerate(first) for j, b in enumerate(first))
    assert first[0] != "chunk" and first[0] != None  # noqa: E711 - other types compare unequal, no error
    batches = list(AugmentStream(items, pipe, **kwargs).batches(2))
    assert batches == list(AugmentStream(items, pipe, **kwargs).batches(2))
    for b in batches:
        assert b == copy.deepcopy(b) == pickle.loads(pickle.dumps(b))
        assert b != copy.copy(b).__class__(**{**vars(b), "lengths": b.lengths + 1})
    assert batches[0] != batches[1]
