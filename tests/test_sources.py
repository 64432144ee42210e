"""NoiseBank: loading, determinism, skipped files, the memory-mapped cache."""

from __future__ import annotations

import copy
import errno
import json
import os
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import noisegen as ng

SR = 16000


def _draws(bank, seed, n=20):
    g = np.random.default_rng(seed)
    return [bank.draw(SR, rng=g) for _ in range(n)]


def test_loads_data_noise_folder_as_one_float32_array(data_dir):
    bank = ng.NoiseBank(data_dir / "noise", sample_rate=SR)
    assert len(bank) == 3 and not bank.skipped
    assert bank.audio.dtype == np.float32 and bank.audio.ndim == 1 and bank.audio.flags.c_contiguous
    assert int(bank.lengths.sum()) == bank.audio.shape[0]
    for i, path in enumerate(bank.paths):
        info = sf.info(path)
        assert bank.lengths[i] == pytest.approx(info.duration * SR, abs=1)
        assert np.shares_memory(bank[i], bank.audio)  # views, no copies
    tap = bank.paths.index(str(data_dir / "noise" / "running_tap_excerpt.wav"))
    ref, _ = sf.read(bank.paths[tap], dtype="float32")
    np.testing.assert_array_equal(bank[tap], ref)


def test_two_loads_give_identical_crops(data_dir):
    a = ng.NoiseBank(data_dir / "noise", sample_rate=SR)
    b = ng.NoiseBank(data_dir / "noise", sample_rate=SR)
    assert _draws(a, 7) == _draws(b, 7)
    assert _draws(a, 7) != _draws(a, 8)
    np.testing.assert_array_equal(a.crop(3 * SR, rng=3), b.crop(3 * SR, rng=3))


def test_draw_fits_without_wrap_when_possible(data_dir):
    bank = ng.NoiseBank(data_dir / "noise", sample_rate=SR)
    g = np.random.default_rng(0)
    for _ in range(200):
        i, off = bank.draw(SR, rng=g)
        assert 0 <= off <= bank.lengths[i] - SR
    for _ in range(50):
        i, off = bank.draw(10 * SR, rng=g)  # longer than every file: wraps
        assert 0 <= off < bank.lengths[i]


def test_crop_wraps_around(data_dir):
    bank = ng.NoiseBank(data_dir / "noise", sample_rate=SR)
    y = bank[0]
    crop = bank.crop(y.shape[0] + 50, index=0, offset=y.shape[0] - 10)
    np.testing.assert_array_equal(crop[:10], y[-10:])
    np.testing.assert_array_equal(crop[10:], np.concatenate([y, y[:40]]))



def test_crop_keeps_an_index_given_alone():
    """crop(n, index=i) drew a file as well as an offset: it came from any file (an offset given
    alone was dropped the same way)."""
    bank = ng.NoiseBank.from_arrays([np.arange(4.0), np.arange(100.0) + 10], sample_rate=SR)
    for seed in range(20):
        crop = bank.crop(3, index=0, rng=seed)
        assert crop[0] < 4 and np.array_equal(crop, np.arange(crop[0], crop[0] + 3) % 4)
        np.testing.assert_array_equal(bank.crop(3, index=-1, rng=seed), bank.crop(3, index=-1, rng=seed))
        assert 10 <= bank.crop(50, index=1, rng=seed)[0] <= 60  # fits without wrapping, as draw's
    np.testing.assert_array_equal(bank.crop(3, rng=5), bank.crop(3, rng=5, index=None, offset=None))
    with pytest.raises(ng.ParameterError, match="offset 2 needs an index"):
        bank.crop(3, offset=2, rng=0)
    with pytest.raises(ng.ParameterError, match="index"):
        bank.crop(3, index=2, rng=0)

def test_corrupt_and_silent_files_are_reported_once_and_skipped(data_dir, tmp_path):
    for p in (data_dir / "noise").iterdir():
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    sf.write(str(tmp_path / "silence.wav"), np.zeros(SR, np.float32), SR)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bank = ng.NoiseBank(tmp_path, sample_rate=SR)
    messages = [str(w.message) for w in caught if issubclass(w.category, ng.NoisegenWarning)]
    assert len(messages) == 2
    assert sum("broken.wav" in m and "unreadable" in m for m in messages) == 1
    assert sum("silence.wav" in m and "silent" in m for m in messages) == 1
    assert len(bank) == 3
    assert sorted(p.split("/")[-1] for p, _ in bank.skipped) == ["broken.wav", "silence.wav"]
    clean = ng.NoiseBank(data_dir / "noise", sample_rate=SR)
    assert _draws(bank, 1) == _draws(clean, 1)  # the good files, same order, same crops


def test_memory_mapped_cache_is_shared_and_rebuilt_on_change(data_dir, tmp_path):
    cache = tmp_path / "bank.npy"
    first = ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=cache)
    assert cache.is_file()
    second = ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=cache)
    assert isinstance(second.audio, np.memmap)
    np.testing.assert_array_equal(first.audio, second.audio)
    assert _draws(first, 2) == _draws(second, 2)
    assert not second[0].flags.writeable
    other_rate = ng.NoiseBank(data_dir / "noise", sample_rate=8000, cache_path=cache)
    assert other_rate.audio.shape[0] == pytest.approx(first.audio.shape[0] / 2, abs=3)


def test_a_pickled_memory_mapped_bank_maps_the_same_file(data_dir, tmp_path):
    """A spawned (or forkserver) DataLoader worker gets its bank by pickle: one mapped from its
    cache_path came as a private copy of every sample (22 MB for the shared noises, per worker and
    epoch). It travels as the file while the file is the one mapped; a cache rebuilt since is not
    mapped in its place."""
    import pickle

    for p in (data_dir / "noise").iterdir():
        shutil.copy(p, tmp_path / p.name)
    cache = tmp_path / "cache" / "bank.npy"
    bank = ng.NoiseBank(tmp_path, sample_rate=SR, cache_path=cache)
    sent = pickle.dumps(bank)
    assert len(sent) < 10_000 < bank.audio.nbytes
    got = pickle.loads(sent)
    assert isinstance(got.audio, np.memmap) and os.path.samefile(got.audio.filename, cache)
    np.testing.assert_array_equal(got.audio, bank.audio)
    assert _draws(got, 3) == _draws(bank, 3) and pickle.loads(pickle.dumps(got)).paths == bank.paths
    from noisegen.audio.bank_cache import dumps_anywhere

    assert len(dumps_anywhere(bank)) > bank.audio.nbytes  # (a Ray task, maybe on another machine) its samples
    assert len(pickle.dumps(bank)) < 10_000
    os.remove(tmp_path / sorted(os.listdir(data_dir / "noise"))[0])  # the files change: the cache is rebuilt
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ng.NoiseBank(tmp_path, sample_rate=SR, cache_path=cache)
    with pytest.raises(ng.NoisegenError, match="was replaced after this bank was pickled"):
        pickle.loads(sent)
    resent = pickle.dumps(bank)  # the old bank's own samples now (its file is gone from the path)
    assert len(resent) > bank.audio.nbytes
    np.testing.assert_array_equal(pickle.loads(resent).audio, bank.audio)
    for name in os.listdir(cache.parent):  # the folder cleaned: the maps still hold the samples
        os.remove(cache.parent / name)
    for twin in (pickle.loads(pickle.dumps(got)), copy.deepcopy(got), copy.copy(got)):
        np.testing.assert_array_equal(twin.audio, bank.audio)



def test_a_bank_cached_at_a_relative_path_pickles_as_the_file_after_a_chdir(data_dir, tmp_path, monkeypatch):
    """A relative cache_path was kept relative in the map's mark: after a chdir (hydra's run folder, a
    script's own) a pickled bank sent every sample instead of the file (a private copy per spawned
    worker), and a bank pickled as the file could not be mapped where the worker's folder differs."""
    import pickle

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    bank = ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=os.path.join("cache", "bank.npy"))
    sent = pickle.dumps(bank)
    for where in ("b", "a"):
        monkeypatch.chdir(tmp_path / where)
        assert len(pickle.dumps(bank)) < 10_000 < bank.audio.nbytes
        got = pickle.loads(sent)
        assert isinstance(got.audio, np.memmap)
        assert os.path.samefile(got.audio.filename, tmp_path / "a" / "cache" / "bank.npy")
        assert _draws(got, 5) == _draws(bank, 5)


def test_a_bank_cache_is_rebuilt_when_a_file_it_could_not_read_is_made_readable(data_dir, tmp_path, monkeypatch):
    """A file skipped as unreadable (no read permission) when the cache was built stayed skipped after
    a chmod made it readable (its size and mtime unchanged): every later bank mapped the stale cache
    and warned "unreadable (PermissionError ...)" again. The cache is rebuilt when such a file reads."""
    from noisegen.audio import reader

    names = sorted(os.listdir(data_dir / "noise"))
    for name in names:
        shutil.copy(data_dir / "noise" / name, tmp_path / name)
    real, locked = reader.read_sound, str(tmp_path / names[1])

    def denied(path, **kwargs):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real(path, **kwargs)

    monkeypatch.setattr(reader, "read_sound", denied)
    cache = tmp_path / "cache" / "bank.npy"
    with pytest.warns(ng.NoisegenWarning, match="unreadable .PermissionError"):
        ng.NoiseBank(tmp_path, sample_rate=SR, cache_path=cache)
    monkeypatch.setattr(reader, "read_sound", real)
    os.chmod(locked, os.stat(locked).st_mode)  # (chmod a+r: its size and mtime unchanged)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = ng.NoiseBank(tmp_path, sample_rate=SR, cache_path=cache)
    assert [os.path.basename(p) for p in again.paths] == names and not again.skipped
    np.testing.assert_array_equal(again.audio, ng.NoiseBank(tmp_path, sample_rate=SR).audio)


def test_cache_path_never_replaces_what_is_not_a_bank_cache(data_dir, tmp_path):
    # a folder, a FIFO, someone's file, a stray .json: refused before anything is read or written
    folder, fifo, text = tmp_path / "folder", tmp_path / "fifo.npy", tmp_path / "notes.npy"
    folder.mkdir()
    text.write_text("not a cache")
    (tmp_path / "other.npy.json").write_text('{"mine": 1}')
    cases = {folder: "not a regular file", text: "not a NoiseBank cache", tmp_path / "other.npy": "not a NoiseBank cache",
             5: "must be a file path", b"x.npy": "must be a file path", "a\x00b.npy": "NUL"}
    if hasattr(os, "mkfifo"):
        os.mkfifo(fifo)
        cases[fifo] = "not a regular file"
    before = sorted(p.name for p in tmp_path.iterdir())
    for path, why in cases.items():
        with pytest.raises(ng.ParameterError, match=why) as err:
            ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=path)
        assert "cache_path" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == before and text.read_text() == "not a cache"
    # a parent that is a file: nothing left behind either
    with pytest.raises(ng.ParameterError, match="cache_path .* cannot be"):
        ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=text / "bank.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    # a cache whose .json was lost (its writer stopped between the two) is rebuilt in place
    cache = tmp_path / "bank.npy"
    ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=cache)
    (tmp_path / "bank.npy.json").unlink()
    again = ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=cache)
    assert (tmp_path / "bank.npy.json").is_file() and len(again) == 3


def test_a_cache_path_starting_with_an_unexpanded_tilde_is_refused_not_made_here(data_dir, tmp_path, monkeypatch):
    # cache_path='~/cache/bank.npy' (from Python or a quoted config: no shell expands it) made ./~/cache, a
    # folder named '~' in the current one, which a later 'rm -rf ~' takes for the home folder (augment's
    # out_dir is refused so); a '~' folder made on purpose is taken
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(ng.ParameterError, match=r"cache_path '~/cache/bank.npy' starts with '~'") as err:
        ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path="~/cache/bank.npy")
    assert str(tmp_path / "home" / "cache" / "bank.npy") in str(err.value) and os.listdir(work) == []
    (work / "~").mkdir()
    assert len(ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path="~/cache/bank.npy")) == 3
    assert (work / "~" / "cache" / "bank.npy").is_file()



@pytest.mark.parametrize("samples", [np.zeros(0), np.zeros(1), np.linspace(-1, 1, 5000), np.ones(70000)],
                         ids=["empty", "one", "5000", "70000"])
@pytest.mark.parametrize("tail", [b"", b"x" * 16, b"\0" * 64], ids=["no-tail", "16-bytes", "64-zeros"])
def test_cache_path_never_replaces_someones_float32_npy(data_dir, tmp_path, samples, tail):
    """A lone float32 1-D .npy (no .json beside it) was taken for a cache whose writer stopped between its two
    files and rebuilt in place: someone's own noise array saved with np.save was overwritten by the bank."""
    mine = tmp_path / "noise.npy"
    with open(mine, "wb") as fh:
        np.save(fh, samples.astype(np.float32))
        fh.write(tail)
    before = mine.read_bytes()
    with pytest.raises(ng.ParameterError, match="not a NoiseBank cache"):
        ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=mine)
    assert mine.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["noise.npy"]


def test_a_bank_cache_is_rebuilt_for_another_silent_ok(tmp_path):
    """silent_ok chooses the files kept (a one-sample file: an impulse kept as a room, skipped as a
    noise), but was not in the cache's signature: a cache written by a bank of noises was mapped by a
    bank of room responses (and the other way round) without the one-sample file or a word."""
    folder = tmp_path / "files"
    folder.mkdir()
    sf.write(folder / "a.wav", 0.1 * np.random.default_rng(0).standard_normal(800), SR)
    sf.write(folder / "one.wav", np.array([0.5]), SR)
    cache = tmp_path / "bank.npy"
    for _ in range(2):  # each builds on the other's cache
        with pytest.warns(ng.NoisegenWarning, match="one sample"):
            noises = ng.NoiseBank(folder, sample_rate=SR, cache_path=cache)
        rooms = ng.NoiseBank(folder, sample_rate=SR, cache_path=cache, silent_ok=False)
        assert [os.path.basename(p) for p in noises.paths] == ["a.wav"]
        assert [os.path.basename(p) for p in rooms.paths] == ["a.wav", "one.wav"] and rooms.lengths[1] == 1


@pytest.mark.parametrize("edit", [{"paths": None}, {"skipped": None}, {"lengths": "x"}, {"lengths": [1, 2]},
                                  {"paths": ["a", "b"]}, {"skipped": [3]}])
def test_a_bank_cache_json_not_of_the_form_written_is_rebuilt(data_dir, tmp_path, edit):
    """A cache's .json with its signature but other fields missing or of another form (edited, cut
    by another writer) raised KeyError or TypeError from the constructor; it is rebuilt."""
    import json

    cache = tmp_path / "bank.npy"
    fresh = ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=cache)
    meta = tmp_path / "bank.npy.json"
    stored = json.loads(meta.read_text())
    meta.write_text(json.dumps({**stored, **edit}))
    again = ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=cache)
    assert again.paths == fresh.paths and again.lengths.tolist() == fresh.lengths.tolist() and not again.skipped
    np.testing.assert_array_equal(again.audio, fresh.audio)
    assert {**json.loads(meta.read_text()), "tag": None} == {**stored, "tag": None}


@pytest.mark.parametrize("given", [np.float32, np.float64])
def test_a_bank_of_arrays_holds_and_pickles_its_samples_once(given):
    """A bank of arrays kept the float32 copies it was given beside its audio once loaded: twice the
    samples in memory and in every pickle (each spawned worker), at any rate loaded."""
    import pickle

    arrays = [np.random.default_rng(i).standard_normal(n).astype(given) * 0.1 for i, n in enumerate((40_000, 999))]
    fixed = ng.NoiseBank.from_arrays(arrays, sample_rate=SR)
    per_rate = ng.NoiseBank(arrays, source_sample_rate=SR)
    for bank in (fixed, per_rate.at(SR), per_rate.at(SR // 2), per_rate.at(3 * SR)):
        sent = pickle.dumps(bank)
        assert bank.audio.nbytes < len(sent) < bank.audio.nbytes + 10_000
        got = pickle.loads(sent)
        assert len(got) == 2 and got.lengths.tolist() == bank.lengths.tolist()
        np.testing.assert_array_equal(got.audio, bank.audio)
        assert _draws(got, 6) == _draws(bank, 6)
    np.testing.assert_array_equal(fixed[0], arrays[0].astype(np.float32))
    assert len(per_rate) == 2 and per_rate.at(SR // 4).lengths.tolist() == [10_000, 250]


@pytest.mark.parametrize("arrays", [np.ones(50), [np.ones(50, np.float32), np.zeros(3) + 0.5]])
@pytest.mark.parametrize("rate", [None, SR])
def test_cache_path_with_arrays_is_refused_not_ignored(tmp_path, arrays, rate):
    """A bank of arrays given a cache_path wrote nothing and kept its samples in memory (each
    worker its own copy), without a word: refused, naming cache_path, before anything is written."""
    with pytest.raises(ng.ParameterError, match="cache_path .* arrays"):
        ng.NoiseBank(arrays, sample_rate=rate, cache_path=tmp_path / "bank.npy")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM, errno.EROFS])
@pytest.mark.parametrize("where", ["folder", "npy", "json"])
def test_a_cache_path_in_a_folder_not_writable_works_from_memory(data_dir, tmp_path, monkeypatch, code, where):
    """A cache_path in a read-only folder (a shared cache another user built, a read-only mount)
    whose cache is missing or stale raised ParameterError "cannot be written", where the bank
    works without one: it is held in memory, with one warning."""
    import json
    import tempfile

    real, cache = tempfile.mkstemp, tmp_path / "ro" / "bank.npy"

    def refused(*args, prefix="", **kwargs):  # (as the OS refuses the temporary file beside the cache)
        if where == "folder" or prefix.endswith(".npy." if where == "npy" else ".npy.json."):
            raise OSError(code, os.strerror(code))
        return real(*args, prefix=prefix, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bank = ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=cache)
    said = [str(w.message) for w in caught if issubclass(w.category, ng.NoisegenWarning)]
    assert len(said) == 1 and said[0].startswith(f"cache_path {str(cache)!r} cannot be written (")
    assert f"{os.strerror(code)}): the bank is held in memory, not shared through the cache" in said[0]
    plain = ng.NoiseBank(data_dir / "noise", sample_rate=SR)
    assert not isinstance(bank.audio, np.memmap) and bank.paths == plain.paths
    np.testing.assert_array_equal(bank.audio, plain.audio)
    assert _draws(bank, 4) == _draws(plain, 4)
    monkeypatch.setattr(tempfile, "mkstemp", real)  # writable again: built and mapped
    assert isinstance(ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=cache).audio, np.memmap)
    assert json.loads((tmp_path / "ro" / "bank.npy.json").read_text())["paths"] == plain.paths


@pytest.mark.parametrize("cut", [0, 5, 60, "half", "header"])
def test_a_bank_cache_npy_cut_short_or_damaged_is_rebuilt(data_dir, tmp_path, cut):
    """A cache's .npy cut short (a copy or a disk that stopped) or with a damaged header, beside its
    .json: the bank refused it as "exists and is not a NoiseBank cache ... give a new path" (or raised
    EOFError); it is the cache's own file, rebuilt in place."""
    cache = tmp_path / "bank.npy"
    fresh = ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=cache)
    data = cache.read_bytes()
    cache.unlink()  # (a new file: cutting the one fresh maps would be a bus error on reading it)
    if cut == "header":
        cache.write_bytes(b"garbage!" + data[8:])
    else:
        cache.write_bytes(data[:len(data) // 2 if cut == "half" else cut])
    again = ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=cache)
    assert again.paths == fresh.paths and isinstance(again.audio, np.memmap)
    np.testing.assert_array_equal(again.audio, fresh.audio)
    np.testing.assert_array_equal(np.load(cache), fresh.audio)


def test_a_bank_build_killed_mid_write_leaves_no_temporary_file_for_ever(data_dir, tmp_path):
    """A process killed while it wrote a bank's cache (SIGKILL, the OOM killer: no unwinding) left its
    ".bank.npy.<random>.part", as big as the bank, beside cache_path: the next build wrote the cache
    and left it there for ever. A build now removes a dead writer's temporaries (an hour old)."""
    import time

    cache = tmp_path / "bank.npy"
    dead = [tmp_path / ".bank.npy.ab12cd_3.part", tmp_path / ".bank.npy.json.x9y8z7w6.part"]
    live = tmp_path / ".bank.npy.zz99yy88.part"  # (another process building it now: left alone)
    mine = tmp_path / ".bank.npy.notmkstemp.part"  # (not a temporary of ours)
    old = time.time() - 86400
    for path in (*dead, live, mine):
        path.write_bytes(b"x" * 100)
        if path is not live:
            os.utime(path, (old, old))
    ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=cache)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["bank.npy", "bank.npy.json", live.name, mine.name])


@pytest.mark.parametrize("other", ["replaced", "removed"])
def test_a_bank_cache_another_writer_replaces_is_not_mapped(data_dir, tmp_path, monkeypatch, other):
    """Two processes building one cache at once (ranks starting together): the bank mapped whatever
    lay at cache_path after its own write, another writer's samples (of other options: silently
    another bank), or raised OSError/FileNotFoundError when the file was replaced or gone as it
    was opened. It keeps its own samples in memory then."""
    from noisegen.audio import bank as bank_module

    cache, real = tmp_path / "bank.npy", bank_module.mapped
    ref = ng.NoiseBank(data_dir / "noise", sample_rate=SR)

    def meanwhile(path, *tag):
        if other == "replaced":
            np.save(tmp_path / "theirs.npy", -ref.audio)
            os.replace(tmp_path / "theirs.npy", path)
        else:
            os.remove(path)
        return real(path, *tag)

    monkeypatch.setattr(bank_module, "mapped", meanwhile)
    bank = ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=cache)
    np.testing.assert_array_equal(bank.audio, ref.audio)
    assert bank.lengths.tolist() == ref.lengths.tolist()
    monkeypatch.setattr(bank_module, "mapped", real)
    assert isinstance(ng.NoiseBank(data_dir / "noise", sample_rate=SR, cache_path=tmp_path / "b2.npy").audio,
                      np.memmap)  # (undisturbed: mapped)


def test_a_bank_cache_json_and_npy_of_two_writers_are_not_a_pair(tmp_path):
    """Two processes building one cache_path at once with other options (first_channel here) can
    leave one's .npy beside the other's .json (npy A, npy B, json B, json A): a bank matching the
    .json mapped the other's samples of the same length, silently another bank. It is rebuilt."""
    folder = tmp_path / "files"
    folder.mkdir()
    sf.write(folder / "pair.wav", np.random.default_rng(0).standard_normal((800, 2)) * 0.1, SR)
    cache, meta = tmp_path / "bank.npy", tmp_path / "bank.npy.json"
    ng.NoiseBank(folder, sample_rate=SR, cache_path=cache, first_channel=True)
    first_json = meta.read_bytes()
    ng.NoiseBank(folder, sample_rate=SR, cache_path=cache)  # the other writer's .npy and .json
    meta.write_bytes(first_json)  # the first writer's .json landed last
    again = ng.NoiseBank(folder, sample_rate=SR, cache_path=cache, first_channel=True)
    np.testing.assert_array_equal(again.audio, ng.NoiseBank(folder, sample_rate=SR, first_channel=True).audio)
    assert isinstance(again.audio, np.memmap)  # (rebuilt in place)
    np.testing.assert_array_equal(np.load(cache), again.audio)  # (still a .npy NumPy reads)

def test_bank_arguments_beyond_any_file_are_refused(data_dir):
    with pytest.raises(ng.ParameterError, match="min_duration_s"):
        ng.NoiseBank(data_dir / "noise", sample_rate=SR, min_duration_s=1e308)
    with pytest.raises(ng.ParameterError, match="min_duration_s"):
        ng.NoiseBank(data_dir / "noise", min_duration_s=1e308)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ng.NoisegenWarning)
        with pytest.raises(ng.ParameterError, match=r"no usable audio file at 1 Hz .*at \d+ Hz, too far from 1 Hz"):  # the first reason
            ng.NoiseBank(data_dir / "noise", sample_rate=1)

def test_mix_from_bank_hits_snr(data_dir, speech_16k):
    bank = ng.NoiseBank(data_dir / "noise", sample_rate=SR)
    g = np.random.default_rng(4)
    for _ in range(10):
        i, off = bank.draw(speech_16k.shape[0], rng=g)
        out = ng.mix_at_snr(speech_16k, bank[i], snr_db=5.0, noise_offset=off)
        crop = bank.crop(speech_16k.shape[0], index=i, offset=off).astype(np.float64)
        g_ref = np.sqrt(np.mean(speech_16k ** 2) / (np.mean(crop ** 2) * 10 ** 0.5))
        # float32 noise: its power is summed at float32 vector speed (within ~1e-8 relative)
        np.testing.assert_allclose(out, speech_16k + g_ref * crop, rtol=0, atol=1e-7 * np.abs(out).max())


def test_errors(tmp_path):
    with pytest.raises(ng.ParameterError):
        ng.NoiseBank(tmp_path / "missing", sample_rate=SR)
    with pytest.raises(ng.ParameterError):
        ng.NoiseBank(tmp_path, sample_rate=SR)  # no audio files
    sf.write(str(tmp_path / "constant.wav"), np.full(100, 0.5, np.float32), SR)
    with pytest.warns(ng.NoisegenWarning), pytest.raises(ng.ParameterError, match="no usable"):
        ng.NoiseBank(tmp_path, sample_rate=SR)
    with pytest.raises(ng.ParameterError):
        ng.NoiseBank(tmp_path, sample_rate=0)


@pytest.mark.parametrize("n, rate", [(2, SR), (3, 3 * SR), (5, 48000), (2, 22050)])
def test_a_noise_file_resampled_down_to_one_sample_is_skipped(tmp_path, n, rate):
    """A one-sample noise file is skipped (tiled, it is a constant offset), but a file of a few samples
    that the bank's rate resampled down to one was kept as that offset; a room's bank keeps it (an impulse)."""
    sf.write(str(tmp_path / "few.wav"), 0.5 * (-1.0) ** np.arange(n) + 0.1 * np.arange(n), rate)
    sf.write(str(tmp_path / "long.wav"), 0.1 * np.random.default_rng(0).standard_normal(4000), SR)
    low = SR // 2
    with pytest.warns(ng.NoisegenWarning, match=f"few.wav': one sample at {low} Hz"):
        noises = ng.NoiseBank(tmp_path, sample_rate=low)
    assert [os.path.basename(p) for p in noises.paths] == ["long.wav"]
    rooms = ng.NoiseBank(tmp_path, sample_rate=low, silent_ok=False)
    assert [os.path.basename(p) for p in rooms.paths] == ["few.wav", "long.wav"] and rooms.lengths[0] == 1


@pytest.mark.parametrize("min_duration_s", [0.0, 0.5, 2.5, 600.0])
def test_the_silent_noise_of_a_silent_folder_is_one_second_whatever_min_duration_s(tmp_path, min_duration_s):
    """A folder of only silent files becomes one silent noise; it was min_duration_s long when that was
    over a second: 600 s made 38 MB of zeros, 1e6 s (a bound it accepts) 64 GB, before any draw."""
    sf.write(str(tmp_path / "silence.wav"), np.zeros(4000, np.float32), SR)
    for cache in (None, tmp_path / "c" / "b.npy", tmp_path / "c" / "b.npy"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bank = ng.NoiseBank(tmp_path, sample_rate=SR, min_duration_s=min_duration_s, cache_path=cache)
        said = [str(w.message) for w in caught]
        assert len(said) == 2 and said[0].endswith("silence.wav': silent") and "only silent files" in said[1]
        assert bank.silent_only and bank.lengths.tolist() == [SR] and not np.any(bank.audio)
        assert not np.any(bank.crop(3 * SR, rng=0))


@pytest.mark.parametrize("make", ["AddBackgroundNoise", "AddShortNoises"])
def test_a_folder_of_only_silent_files_gives_the_signal_back_with_a_warning(tmp_path, make):
    """A silent noise sets no level: the signal comes back unchanged with a warning (DESIGN.md), and
    so it does for a silent array; a folder of digitally silent files was a ParameterError at the
    first call instead (audiomentations' test_try_add_digital_silence). Files that are silent only
    once resampled (a rate far below theirs) still leave the bank unusable at that rate."""
    from noisegen import transforms

    sf.write(str(tmp_path / "silence.wav"), np.zeros(4000, np.float32), SR)
    sf.write(str(tmp_path / "quiet.flac"), np.zeros(3000, np.int16), 48000, subtype="PCM_16")
    sf.write(str(tmp_path / "alaw.wav"), np.zeros(3000, np.float32), SR, subtype="ALAW")  # decodes to +-2**-12
    y = np.sin(np.arange(8000) * 0.1).astype(np.float32)
    cached = lambda: ng.NoiseBank(tmp_path, sample_rate=SR, cache_path=tmp_path / "c" / "b.npy")  # noqa: E731
    for source in (lambda: tmp_path, cached, cached):  # a folder; a bank built, then read back from its cache
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = getattr(transforms, make)(source(), p=1.0)(y, sample_rate=SR, rng=0)
        assert out is y or np.array_equal(out, y)
        said = [str(w.message) for w in caught if issubclass(w.category, ng.NoisegenWarning)]
        assert any("holds only silent files" in m for m in said), said
    # a room response folder of them is no room: refused, as before
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ng.ParameterError, match="rir holds"):
            transforms.ApplyImpulseResponse(tmp_path, p=1.0)(y, sample_rate=SR, rng=0)
        with pytest.raises(ng.ParameterError, match="rir holds only silent files"):
            transforms.ApplyImpulseResponse(ng.NoiseBank(tmp_path), p=1.0)(y, sample_rate=SR, rng=0)
    sf.write(str(tmp_path / "faint.wav"), np.full(480, 1e-45) * (-1.0) ** np.arange(480), 48000, subtype="FLOAT")
    for name in ("silence.wav", "quiet.flac", "alaw.wav"):
        (tmp_path / name).unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ng.ParameterError, match="no usable audio file at 8000 Hz.*silent at 8000 Hz"):
            getattr(transforms, make)(tmp_path, p=1.0)(y, sample_rate=8000, rng=0)


# ----------------------------------------------------------------- one list of what load reads

#: (format, subtype) soundfile writes for each extension of the shared list.
_WRITERS = {
    ".wav": ("WAV", "PCM_16"), ".wave": ("WAV", "FLOAT"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS"),
    ".oga": ("OGG", "VORBIS"), ".opus": ("OGG", "OPUS"), ".mp3": ("MP3", "MPEG_LAYER_III"),
    ".aif": ("AIFF", "PCM_16"), ".aiff": ("AIFF", "FLOAT"), ".aifc": ("AIFF", "PCM_24"), ".au": ("AU", "PCM_16"),
    ".snd": ("AU", "FLOAT"), ".caf": ("CAF", "PCM_16"), ".w64": ("W64", "PCM_16"), ".rf64": ("RF64", "PCM_16"),
}


@pytest.fixture()
def every_format(tmp_path):
    """One short noise per extension of AUDIO_EXTENSIONS (upper-case names too), plus things to skip."""
    from noisegen.audio.io import AUDIO_EXTENSIONS

    assert set(_WRITERS) == set(AUDIO_EXTENSIONS)
    root = tmp_path / "bank"
    (root / "deep" / "er").mkdir(parents=True)
    y = 0.3 * np.random.default_rng(0).standard_normal(48000 // 2)
    expected = []
    for i, (ext, (fmt, subtype)) in enumerate(sorted(_WRITERS.items())):
        folder = root if i % 2 else root / "deep" / "er"
        path = folder / f"n{i:02d}{ext.upper() if i % 3 == 0 else ext}"
        sr = 48000 if subtype == "OPUS" else SR
        sf.write(path, y[: sr // 2], sr, format=fmt, subtype=subtype)
        expected.append(str(path))
    os.mkfifo(root / "fifo.wav")  # opening it would block forever
    (root / "notes.txt").write_text("not audio")
    (root / ".hidden.wav").write_bytes(b"junk")
    (root / "folder.wav").mkdir()
    return root, sorted(expected)


def _in_thread(fn, timeout=60):
    """Run ``fn`` in a thread: a scanner that opened the FIFO would hang, and the test then fails."""
    import threading

    out = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    t.join(timeout)
    assert out, "the scan blocked (opened a FIFO?)"
    return out[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_every_scanner_lists_exactly_what_load_reads(every_format):
    from noisegen.audio.io import AUDIO_EXTENSIONS, audio_files
    from noisegen.transforms import AddShortNoises, ApplyImpulseResponse

    root, expected = every_format
    import noisegen.batch.plan

    from noisegen.audio.files import AUDIO_EXTENSIONS as ONE_LIST

    assert AUDIO_EXTENSIONS is ONE_LIST  # one list, re-exported
    rel = [os.path.relpath(p, root).replace(os.sep, "/") for p in expected]
    found, odd = _in_thread(lambda: noisegen.batch.plan._discover(os.fspath(root)))  # the folder job's scan
    assert found == rel and [why for _, why in odd] == ["a FIFO, not a regular file (never opened)"]
    fifo = r"fifo.wav' is a FIFO, not a regular file \(never opened\): left out"
    with pytest.warns(ng.NoisegenWarning, match=fifo):  # named once, never opened (banks dropped it silently)
        assert _in_thread(lambda: audio_files(root)) == expected
    for path in expected:  # everything listed is something load reads
        y, _ = ng.load(path, sample_rate=SR, mono=True)
        assert y.shape[0] > SR // 4 and np.isfinite(y).all()
    for make in (lambda: ng.NoiseBank(root, sample_rate=SR), lambda: ApplyImpulseResponse(root)._bank,
                 lambda: AddShortNoises(root)._bank):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bank = _in_thread(make)
        assert [str(w.message) for w in caught if "fifo" in str(w.message)] == [str(w.message) for w in caught]
        assert len(caught) == 1 and bank.paths == expected and not bank.skipped
    with pytest.warns(ng.NoisegenWarning, match="fifo.wav.*a FIFO") as caught:  # named, never opened
        stream = _in_thread(lambda: ng.AugmentStream(root, None, sample_rate=SR, rng=0, shuffle=False))
    assert len(caught) == 1
    assert [stream._items.source(i) for i in range(stream.n_items)] == expected


# ----------------------------------------------------------------- a corrupt file in a transform's folder


@pytest.fixture()
def folder_with_bad_files(tmp_path, data_dir):
    """Two good sounds and one file of each unusable kind."""
    root = tmp_path / "sounds"
    root.mkdir()
    for name in ("rir_clap.wav", "arthur_sykes_rymer_s1r4_ch1_48k.wav"):
        shutil.copy(data_dir / "rir" / name, root / name)
    bad = {
        "corrupt.wav": lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage"),
        "truncated.flac": lambda p: p.write_bytes((data_dir / "rir" / "rir_clap.wav").read_bytes()[:30]),
        "empty.wav": lambda p: sf.write(p, np.zeros(0), SR),
        "silent.wav": lambda p: sf.write(p, np.zeros(800), SR),
        "nan.wav": lambda p: sf.write(p, np.full(800, np.nan), SR, subtype="FLOAT"),
        # one value throughout: A-law's digital silence decodes to 2**-12, and a DC offset at another
        # rate than the bank's (resampled, its ends would ring: judged at the file's own rate)
        "alaw_silence.wav": lambda p: sf.write(p, np.zeros(800), SR, subtype="ALAW"),
        "dc.flac": lambda p: sf.write(p, np.full((700, 2), 0.3), 11025),
    }
    for name, write in bad.items():
        write(root / name)
    return root, sorted(str(root / n) for n in bad)


@pytest.mark.parametrize("make", ["AddBackgroundNoise", "ApplyImpulseResponse", "AddShortNoises"])
def test_transforms_skip_and_report_each_unusable_file_once(folder_with_bad_files, make):
    from noisegen import transforms

    root, bad = folder_with_bad_files
    kwargs = {"AddShortNoises": {"min_time_between_s": 0.05, "max_time_between_s": 0.1}}.get(make, {})
    t = getattr(transforms, make)(root, p=1.0, **kwargs)
    rng = np.random.default_rng(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for seed in range(12):
            for dtype in (np.float32, np.float64):
                for shape in ((4000,), (2, 4000)):
                    y = (0.1 * rng.standard_normal(shape)).astype(dtype)
                    out = t(y, sample_rate=SR, rng=seed)
                    assert out.dtype == dtype and out.shape == shape and np.isfinite(out).all()
    messages = [str(w.message) for w in caught if issubclass(w.category, ng.NoisegenWarning)]
    messages = [m for m in messages if "skipping" in m]
    for path in bad:  # each bad file named in exactly one warning
        assert sum(path in m for m in messages) == 1, (path, messages)
    assert len(messages) == len(bad)


@pytest.mark.parametrize("make", ["ApplyImpulseResponse", "AddShortNoises"])
def test_a_folder_of_only_unusable_files_is_a_parameter_error(folder_with_bad_files, make):
    from noisegen import transforms

    root, bad = folder_with_bad_files
    for name in ("rir_clap.wav", "arthur_sykes_rymer_s1r4_ch1_48k.wav"):
        (root / name).unlink()
    t = getattr(transforms, make)(root, p=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ng.ParameterError, match="no usable"):
            t(np.zeros(1000, np.float32) + 0.1, sample_rate=SR, rng=0)


# -- one bank type (issue 14.3) -------------------------------------------------------------------
def test_one_bank_type_serves_noises_rirs_and_short_sounds(data_dir):
    """The three file-reading transforms hold a NoiseBank; a bank without a rate loads once per rate asked."""
    from noisegen.transforms import AddBackgroundNoise, AddShortNoises, ApplyImpulseResponse

    folder = data_dir / "noise"
    for t in (AddBackgroundNoise(folder), AddShortNoises(folder), ApplyImpulseResponse(folder)):
        assert isinstance(t._bank(SR) if callable(t._bank) else t._bank, ng.NoiseBank)
    lazy = ng.NoiseBank(folder)
    assert lazy.sample_rate is None and len(lazy) == len(ng.NoiseBank(folder, sample_rate=SR))
    with pytest.raises(ng.ParameterError, match="at\\(sample_rate\\)"):
        lazy.draw(10, rng=0)
    for sr in (8000, SR, 22050):
        bank = lazy.at(sr)
        assert bank is lazy.at(sr) and bank.sample_rate == sr  # loaded once per rate
        eager = ng.NoiseBank(folder, sample_rate=sr)
        assert bank.paths == eager.paths
        np.testing.assert_array_equal(bank.audio, eager.audio)
        assert _draws(bank, 3) == _draws(eager, 3)
    assert eager.at(22050) is eager
    with pytest.raises(ng.ParameterError, match="does not match"):
        eager.at(SR)


@pytest.mark.parametrize("n_threads", [2, 3, 6])
def test_a_bank_asked_for_a_rate_by_threads_at_once_loads_it_once(monkeypatch, n_threads):
    """Threads sharing a transform (kernels release the GIL) each loaded its bank at their first call:
    n loads of the whole bank, each thread drawing from its own copy and the one kept replaced by
    turns. Each rate is loaded once, and every thread gets that one bank."""
    import threading
    import time

    loads, load = [], ng.NoiseBank._load

    def slow_load(self, cache_path):  # (a bank of files takes seconds to load: the first calls overlap)
        loads.append(self.sample_rate)
        time.sleep(0.05)
        load(self, cache_path)

    monkeypatch.setattr(ng.NoiseBank, "_load", slow_load)
    bank = ng.NoiseBank([np.hanning(400), np.linspace(-0.5, 0.5, 90)], source_sample_rate=SR)
    rates = [SR // 2 if i % 3 == 2 else SR for i in range(n_threads)]
    got, together = {}, threading.Barrier(n_threads)

    def first_call(i):
        together.wait()
        got[i] = bank.at(rates[i])

    threads = [threading.Thread(target=first_call, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(loads) == sorted(set(rates))
    assert all(got[i] is bank.at(rate) for i, rate in enumerate(rates)) and len(loads) == len(set(rates))
    assert _draws(bank.at(SR), 4) == _draws(ng.NoiseBank([np.hanning(400), np.linspace(-0.5, 0.5, 90)],
                                                          sample_rate=SR), 4)


@pytest.mark.parametrize("source_sample_rate", [None, 8000])
def test_bank_of_arrays_at_each_rate(source_sample_rate):
    """Arrays are taken at ``source_sample_rate`` (None: the rate asked) and resampled to each rate."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(800), rng.standard_normal(300)]
    bank = ng.NoiseBank(arrays, source_sample_rate=source_sample_rate, name="rir")
    for sr in (8000, 16000):
        at = bank.at(sr)
        want = [a if source_sample_rate in (None, sr) else ng.resample(a, orig_sample_rate=8000, target_sample_rate=sr)
                for a in arrays]
        assert len(at) == 2 and at.audio.dtype == np.float32
        for i, w in enumerate(want):
            np.testing.assert_allclose(at[i], w.astype(np.float32), rtol=1e-6, atol=1e-6)
            assert at[i].dtype == np.float32 and not at[i].flags.writeable
    with pytest.raises(ng.ParameterError, match="rir"):
        ng.NoiseBank([np.zeros((2, 5))], name="rir")
    with pytest.raises(ng.ParameterError, match="rir"):
        bank.config()


def test_arrays_beyond_float32_are_refused_by_name():
    """A bank holds float32: a float64 sound of 1e300 became inf (a RuntimeWarning of NumPy's cast)
    and was refused later as 'must be finite'; it is named with its peak. Within float32's range,
    float64 and float32 arrays are taken."""
    for bad in (np.array([1e300, 1.0] * 50), np.array([0.5, -4e38])):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ng.ParameterError, match=r"source\[1\] peaks at .*e\+\d+, beyond float32.s range"):
                ng.NoiseBank([np.ones(10), bad])
            for transform in (ng.AddShortNoises, ng.AddBackgroundNoise):
                with pytest.raises(ng.ParameterError, match=r"\[1\] peaks at .*, beyond float32's range"):
                    transform([np.ones(10), bad], p=1.0)(np.ones(100, np.float32), sample_rate=16000, rng=0)
    bank = ng.NoiseBank([np.array([3e38, -1.0]), np.float32([1.0, 2.0])], source_sample_rate=SR).at(SR)
    assert len(bank) == 2 and bank[0][0] == np.float32(3e38)


@pytest.mark.parametrize("peak", [1e-39, 1e-44, 1e-46, 1e-200])
def test_arrays_below_float32_are_refused_by_name(peak):
    """A float64 sound below float32's normal range lost its bits in the bank (1e-44: a few steps) or all
    of them (1e-46: zeros), and the transforms then said 'the noise is silent' and added none."""
    quiet = np.random.default_rng(2).standard_normal(500) * peak
    with pytest.raises(ng.ParameterError, match=r"source\[1\] peaks at .*e-\d+, below float32's normal range"):
        ng.NoiseBank([np.ones(10), quiet])
    for transform in (ng.AddShortNoises, ng.AddBackgroundNoise):
        with pytest.raises(ng.ParameterError, match=r"\[0\] peaks at .*, below float32's normal range"):
            transform([quiet], p=1.0)(np.ones(100, np.float32), sample_rate=16000, rng=0)
    for fine in (quiet * (1e-37 / peak), quiet.astype(np.float32), np.zeros(5)):  # (float32 arrays: as given)
        np.testing.assert_array_equal(ng.NoiseBank([fine], source_sample_rate=SR).at(SR)[0], fine.astype(np.float32))


def test_a_constant_file_is_silent_but_a_one_sample_response_is_a_room(tmp_path):
    """A file of one value throughout is a DC offset (mixed at an SNR: an offset as loud as the
    speech; as a room: a boxcar) and is skipped, named; one sample is an impulse, kept; a noise
    riding on an offset is noise."""
    sf.write(tmp_path / "delta.wav", np.array([0.5]), 8000)
    sf.write(tmp_path / "offset.wav", 0.5 + 0.01 * np.random.default_rng(0).standard_normal(800), 8000)
    sf.write(tmp_path / "dc.wav", np.full(800, -0.25), 8000)
    for rate in (8000, 16000):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bank = ng.NoiseBank(tmp_path, sample_rate=rate, name="rir", silent_ok=False)  # (as the transform's)
        assert [os.path.basename(p) for p in bank.paths] == ["delta.wav", "offset.wav"]
        (message,) = [str(w.message) for w in caught]
        assert "dc.wav" in message and "constant offset" in message and "-0.25" in message


def test_a_one_sample_noise_is_skipped_but_a_one_sample_response_is_kept(tmp_path):
    """A one-sample noise file, tiled, is a constant: it was mixed in at the drawn SNR as a DC offset
    (every output's mean moved to +0.06), without a word. It is skipped and named now; a noise folder
    of nothing else is unusable; as a room response, one sample is still an impulse."""
    from noisegen import transforms

    sf.write(tmp_path / "one.wav", np.array([0.3]), SR)
    y = np.sin(np.arange(4000) * 0.1).astype(np.float32)
    for make in ("AddBackgroundNoise", "AddShortNoises"):
        with pytest.warns(ng.NoisegenWarning, match=r"one\.wav.*one sample"):
            with pytest.raises(ng.ParameterError, match="no usable audio file"):
                getattr(transforms, make)(tmp_path, p=1.0)(y, sample_rate=SR, rng=0)
    rir = ng.NoiseBank(tmp_path, sample_rate=SR, first_channel=True, silent_ok=False)
    assert len(rir) == 1 and rir[0].shape == (1,) and abs(rir[0][0] - 0.3) < 1e-4
    sf.write(tmp_path / "noise.wav", 0.1 * np.random.default_rng(0).standard_normal(800), SR)
    with pytest.warns(ng.NoisegenWarning, match="one sample"):
        bank = ng.NoiseBank(tmp_path, sample_rate=SR)
    assert [os.path.basename(p) for p in bank.paths] == ["noise.wav"]


def test_a_bank_of_responses_keeps_each_files_first_channel(tmp_path):
    """The mean of a multichannel response's channels (a B-format W, X, Y, Z; a binaural pair) is
    no one place's response; ApplyImpulseResponse's bank keeps the first channel, at any rate, and
    a bank of noises still mixes down."""
    rng = np.random.default_rng(3)
    decay = np.exp(-np.arange(4000) / 600.0)
    four = np.stack([rng.standard_normal(4000) * decay for _ in range(4)], axis=1)
    four[100, 0], four[140, 1] = 4.0, -6.0  # direct sounds 40 samples apart, the second louder
    for name, subtype in (("bformat.wav", "FLOAT"), ("pair.flac", "PCM_24")):
        frames = four if name.endswith("wav") else four[:, :2] / 8
        sf.write(tmp_path / name, frames, 16000, subtype=subtype)
        for rate in (16000, 8000):
            rooms = ng.ApplyImpulseResponse(str(tmp_path / name), p=1.0)._bank.at(rate)
            first = ng.load(tmp_path / name, sample_rate=16000, mono=False)[0][0]
            want = ng.resample(first.astype(np.float32), orig_sample_rate=16000, target_sample_rate=rate)
            np.testing.assert_array_equal(rooms[0], want)
            assert np.argmax(np.abs(rooms[0])) == 100 * rate // 16000  # the first channel's direct sound
            noises = ng.NoiseBank(str(tmp_path / name), sample_rate=rate)
            mean = ng.load(tmp_path / name, sample_rate=rate, mono=True)[0].astype(np.float32)
            np.testing.assert_allclose(noises[0], mean, atol=1e-6)


def test_a_banks_channel_rule_survives_to_dict_or_is_refused(tmp_path):
    """A dict rebuilds a bank from its files by its transform's rule (ApplyImpulseResponse: the first
    channel; the others: the mean); a bank given with the other rule is refused, not written to
    come back reading other samples."""
    from noisegen.transforms import AddBackgroundNoise, ApplyImpulseResponse, Transform

    rng = np.random.default_rng(2)
    sf.write(tmp_path / "pair.wav", rng.standard_normal((3000, 2)) * np.exp(-np.arange(3000) / 400.0)[:, None], SR)
    y = rng.standard_normal(4000).astype(np.float32)
    for t in (ApplyImpulseResponse(str(tmp_path), p=1.0), ApplyImpulseResponse(
            ng.NoiseBank(str(tmp_path), first_channel=True), p=1.0), AddBackgroundNoise(str(tmp_path), p=1.0)):
        again = Transform.from_dict(t.to_dict())
        np.testing.assert_array_equal(again(y, sample_rate=SR, rng=3), t(y, sample_rate=SR, rng=3))
    for t in (ApplyImpulseResponse(ng.NoiseBank(str(tmp_path)), p=1.0),
              AddBackgroundNoise(ng.NoiseBank(str(tmp_path), first_channel=True), p=1.0)):
        with pytest.raises(ng.ParameterError, match="first_channel"):
            t.to_dict()


def test_a_file_silent_once_resampled_is_skipped(tmp_path):
    """Samples below float32's range at the file's rate can resample to zeros: silent (as a room, it
    failed later, mid-job)."""
    sf.write(tmp_path / "faint.wav", np.full(480, 1e-45) * (-1.0) ** np.arange(480), 48000, subtype="FLOAT")
    sf.write(tmp_path / "room.wav", np.r_[1.0, 0.5, 0.25], 8000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bank = ng.NoiseBank(tmp_path, sample_rate=8000)
    assert [os.path.basename(p) for p in bank.paths] == ["room.wav"]
    assert any("faint.wav" in str(w.message) and "silent" in str(w.message) for w in caught)


@pytest.mark.parametrize("file_rate, rate", [(16000, 62), (16000, 1), (2000, 2000 * 256 + 1), (768000, 2999)])
def test_a_bank_file_too_far_from_its_rate_is_skipped_as_such_not_as_unreadable(tmp_path, file_rate, rate):
    # resample's refusal ('target_sample_rate / orig_sample_rate must be in ...') was reported as the
    # file being "unreadable"; the two ends resample accepts still load.
    sf.write(tmp_path / "n.wav", np.random.default_rng(0).standard_normal(3000).astype(np.float32) * 0.1, file_rate)
    with pytest.warns(ng.NoisegenWarning) as caught, pytest.raises(ng.ParameterError) as refused:
        ng.NoiseBank(tmp_path, sample_rate=rate)
    said = " ".join(str(w.message) for w in caught) + str(refused.value)
    assert "unreadable" not in said and "target_sample_rate" not in said
    assert f"at {file_rate} Hz, too far from {rate} Hz" in said
    for ok in (-(-file_rate // 256), min(file_rate * 256, 768000)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert len(ng.NoiseBank(tmp_path, sample_rate=ok)) == 1


@pytest.mark.parametrize("file_rate", [768001, 1_000_000, 4_000_000])
@pytest.mark.parametrize("rate", [8000, 16000, 768000])
def test_a_bank_file_above_the_resamplers_rates_is_skipped_as_such_not_as_unreadable(tmp_path, file_rate, rate):
    # a 1 MHz recording was skipped as "unreadable (ParameterError: orig_sample_rate must be an integer in
    # Hz in [1, 768000], got 1000000)": resample's argument, and the file reads well
    sf.write(tmp_path / "bat.wav", np.random.default_rng(0).standard_normal(3000).astype(np.float32) * 0.1, file_rate)
    sf.write(tmp_path / "ok.wav", np.random.default_rng(1).standard_normal(3000).astype(np.float32) * 0.1, rate)
    with pytest.warns(ng.NoisegenWarning) as caught:
        bank = ng.NoiseBank(tmp_path, sample_rate=rate)
    said = " ".join(str(w.message) for w in caught)
    assert [os.path.basename(p) for p in bank.paths] == ["ok.wav"]
    assert "unreadable" not in said and "orig_sample_rate" not in said
    assert f"at {file_rate} Hz, above the 768000 Hz noisegen.resample takes" in said


@pytest.mark.parametrize("source_rate, rate", [(384000, 1000), (1000, 384000), (16000, 62), (2000, 2000 * 256 + 1)])
def test_a_bank_of_arrays_too_far_from_its_rate_is_refused_naming_its_rate(source_rate, rate):
    # the files' twin (above): arrays at source_sample_rate (a room's rir_sample_rate) were refused with
    # resample's words, 'target_sample_rate / orig_sample_rate must be in [1/256, 256] ...', never given
    a = np.random.default_rng(0).standard_normal(600).astype(np.float32)
    y = np.ones(rate // 2, np.float32)
    makes = [lambda r: ng.NoiseBank([a], source_sample_rate=source_rate).at(r),
             lambda r: ng.NoiseBank(a, sample_rate=r, source_sample_rate=source_rate),
             lambda r: ng.ApplyImpulseResponse([a], rir_sample_rate=source_rate, p=1.0)(y[: r // 2], sample_rate=r, rng=0)]
    for make in makes:
        with pytest.raises(ng.ParameterError, match=rf"is at {source_rate} Hz, too far from {rate} Hz") as refused:
            make(rate)
        assert "target_sample_rate" not in str(refused.value)
        for ok in (-(-source_rate // 256), min(source_rate * 256, 768000)):
            make(ok)

@pytest.mark.parametrize("n_samples", [1e300, 2**63, 2**40, np.float64(1e20), -1, 0.5])
@pytest.mark.parametrize("where", [{}, {"index": 0}, {"index": 0, "offset": 3}])
def test_bank_crop_of_a_size_beyond_any_array_is_a_parameter_error(n_samples, where):
    # crop allocates n_samples: 1e300 was numpy's ValueError, 2**63 an IndexError
    bank = ng.NoiseBank.from_arrays([np.ones(5)], sample_rate=8000)
    with pytest.raises(ng.ParameterError, match="n_samples"):
        bank.crop(n_samples, rng=0, **where)
    assert bank.crop(2**31 // 2**20, rng=0, **where).shape == (2**11,)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_bank_source_neither_file_nor_folder_is_named_for_what_it_is(tmp_path):
    # a FIFO (or a socket, a dangling link) given as a noise folder was refused as "got missing path"
    (tmp_path / "ok").mkdir()
    sf.write(tmp_path / "ok" / "n.wav", np.random.default_rng(0).standard_normal(800).astype(np.float32) * 0.1, 16000)
    os.mkfifo(tmp_path / "pipe.wav")
    os.symlink(tmp_path / "gone", tmp_path / "link")
    cases = {"pipe.wav": "a FIFO", "link": "a link that leads nowhere", "absent": "a missing path"}
    for name, said in cases.items():
        path = str(tmp_path / name)
        for source, where in ((path, "noise"), ([str(tmp_path / "ok"), path], r"noise\[1\]")):
            with pytest.raises(ng.ParameterError, match=rf"{where} must be an existing folder or file, got {said} "):
                ng.AddBackgroundNoise(source, p=1.0)(np.zeros(100, np.float32), sample_rate=16000, rng=0)


@pytest.mark.parametrize("content", [None, "notes.txt", "sub/readme.md"])
def test_a_folder_with_no_audio_in_a_list_of_bank_sources_is_named_not_left_out(tmp_path, data_dir, content):
    # (a folder of the list holding no audio file was left out without a word, where the folder alone is refused)
    empty = tmp_path / "empty"
    empty.mkdir()
    if content is not None:
        (empty / content).parent.mkdir(parents=True, exist_ok=True)
        (empty / content).write_text("not audio")
    folder = str(data_dir / "noise")
    for source, where in (([folder, str(empty)], r"\[1\]"), ([str(empty), folder, folder], r"\[0\]")):
        for make, name in ((ng.NoiseBank, "source"), (ng.AddBackgroundNoise, "noise"), (ng.AddShortNoises, "sounds"),
                           (ng.ApplyImpulseResponse, "rir")):
            with pytest.raises(ng.ParameterError, match=rf"^{name}{where} holds no audio files \(.*\): '{empty}'$"):
                make(source)
    assert ng.NoiseBank([folder, str(data_dir / "noise" / "typing_excerpt.wav")]).paths  # (the others load)


def test_a_bank_source_with_a_nul_byte_is_a_parameter_error_naming_it(tmp_path, data_dir):
    # os.stat's bare ValueError ("embedded null byte") escaped from the message meant to name the path
    config = tmp_path / "pipe.json"
    config.write_text(json.dumps({"name": "AddBackgroundNoise", "noise": str(data_dir / "noise") + "\x00"}))
    folder, file = str(data_dir / "noise"), str(data_dir / "noise" / "typing_excerpt.wav")
    for bad in ("\x00", folder + "\x00", file + "\x00x", Path(folder + "\x00")):
        for source, where in ((bad, "{}"), ([folder, bad], r"{}\[1\]")):
            for make, name in ((ng.NoiseBank, "source"), (ng.AddBackgroundNoise, "noise"),
                               (ng.AddShortNoises, "sounds"), (ng.ApplyImpulseResponse, "rir")):
                with pytest.raises(ng.ParameterError,
                                   match=where.format(name) + " must be an existing folder or file, got a path "
                                                              "with a NUL byte '.*\\\\x00"):
                    make(source)
    with pytest.raises(ng.ParameterError, match=r"noise must be an existing folder or file, got a path with a NUL"):
        ng.load_pipeline(config)


def test_audio_files_of_a_missing_folder_or_a_file_is_refused(tmp_path, monkeypatch):
    """audio_files of a typo returned [] with a warning that the path "is a folder that cannot be read
    (No such file or directory)", and of a file the same "(Not a directory)": a run found no files
    without an error (found by sigfuzz)."""
    sf.write(tmp_path / "a.wav", np.zeros(160, np.float32), SR)
    monkeypatch.setenv("HOME", str(tmp_path))
    for given, shown in ((tmp_path / "nope", "a missing path"), (tmp_path / "a.wav", "a file"),
                         ("~", "a missing path '~' (a leading '~' is expanded only by a shell")):
        with pytest.raises(ng.ParameterError, match=re.escape(f"folder must be an existing folder, got {shown}")):
            ng.audio_files(given)
    assert ng.audio_files(tmp_path) == [str(tmp_path / "a.wav")]


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_a_path_as_a_numpy_str_reads_as_the_same_str(tmp_path, kind):
    # an np.str_ (an item of an array of paths) failed every folder scan with a TypeError: os.scandir lists an
    # np.str_ folder's names as bytes; the stream refused it as one 0-d "signal"
    (tmp_path / "sub").mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.wav", "sub/b.flac"):
        sf.write(tmp_path / name, rng.standard_normal(1600).astype(np.float32) * 0.1, SR)
    plain = str(tmp_path) if kind == "folder" else str(tmp_path / "a.wav")
    y = rng.standard_normal(800).astype(np.float32) * 0.1
    for given in (plain, np.str_(plain), [np.str_(plain)]):
        if kind == "folder" and not isinstance(given, list):
            assert ng.audio_files(given) == [str(tmp_path / "a.wav"), str(tmp_path / "sub" / "b.flac")]
        bank = ng.NoiseBank(given, sample_rate=SR)
        np.testing.assert_array_equal(bank.audio, ng.NoiseBank(plain, sample_rate=SR).audio)
        for make in (ng.AddBackgroundNoise, ng.AddShortNoises, ng.ApplyImpulseResponse):
            out = make(given, p=1.0)(y, sample_rate=SR, rng=3)
            np.testing.assert_array_equal(out, make(plain, p=1.0)(y, sample_rate=SR, rng=3))
        if kind == "folder" and isinstance(given, list):
            continue  # (a list of folders is no stream source)
        stream = ng.AugmentStream(given, ng.Gain(p=1.0), sample_rate=SR, chunk_s=0.05, rng=1)
        reference = ng.AugmentStream(plain, ng.Gain(p=1.0), sample_rate=SR, chunk_s=0.05, rng=1)
        got, expected = list(stream), list(reference)
        assert [c.source for c in got] == [c.source for c in expected] and len(got) == (2 if kind == "file" else 4)
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a.samples, b.samples)


@pytest.mark.parametrize("dtype", [str, object])
def test_an_array_of_paths_is_a_list_of_paths(tmp_path, dtype):
    # np.array(paths) (a DataFrame's path column: dtype object) was taken for one noise signal and refused
    # as "must be float32 or float64 audio, got dtype <U..."; AugmentStream took it as a list already
    (tmp_path / "sub").mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.wav", "sub/b.flac"):
        sf.write(tmp_path / name, rng.standard_normal(1600).astype(np.float32) * 0.1, SR)
    y = rng.standard_normal(800).astype(np.float32) * 0.1
    for plain in ([str(tmp_path / "a.wav")], [str(tmp_path / "a.wav"), str(tmp_path / "sub")]):
        given = np.array(plain, dtype=dtype)
        np.testing.assert_array_equal(ng.NoiseBank(given, sample_rate=SR).audio, ng.NoiseBank(plain, sample_rate=SR).audio)
        for make in (ng.AddBackgroundNoise, ng.AddShortNoises, ng.ApplyImpulseResponse):
            out = make(given, p=1.0)(y, sample_rate=SR, rng=3)
            np.testing.assert_array_equal(out, make(plain, p=1.0)(y, sample_rate=SR, rng=3))
    with pytest.raises(ng.ParameterError, match=r"noise\[1\] must be an existing folder or file"):
        ng.AddBackgroundNoise(np.array([str(tmp_path / "a.wav"), str(tmp_path / "none.wav")], dtype=dtype))
    with pytest.raises(ng.ParameterError, match="float32 or float64"):  # an array of numbers is still one signal
        ng.NoiseBank(np.array([1, 2, 3], dtype=object), sample_rate=SR)


def _bank_and_peak(path):
    """A 16 kHz bank of ``path`` and the peak of the memory Python allocated while it loaded."""
    import tracemalloc

    tracemalloc.start()
    try:
        bank = ng.NoiseBank(str(path), sample_rate=16000)
        return bank, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_bank_of_one_long_file_is_not_held_twice_while_it_loads(tmp_path):
    # one file was copied into the bank's array (np.concatenate of one): a 60-minute 16-bit noise at 16 kHz
    # (220 MB) peaked 440 MB above the start; now the samples read are the bank's (the read's own peak,
    # the 16-bit samples beside the float32 ones, is 1.5 times the bank)
    n = 1 << 21  # 8 MB of float32
    y = (0.1 * np.sin(np.arange(n) * 0.01)).astype(np.float32)
    sf.write(tmp_path / "long.wav", y, 16000, subtype="PCM_16")
    bank, peak = _bank_and_peak(tmp_path / "long.wav")
    assert bank.audio.nbytes == 4 * n and bank.audio.flags.c_contiguous
    assert peak < 1.8 * bank.audio.nbytes, peak / bank.audio.nbytes
    np.testing.assert_allclose(bank[0], y, atol=1e-4)


def _bank_files(tmp_path):
    """Files of every kind a bank meets: rates, channels, formats, and the unusable ones."""
    rng = np.random.default_rng(7)
    speech = lambda n, c=1: (0.1 * rng.standard_normal((n, c))).astype(np.float32)  # noqa: E731
    files = {"mono16k.wav": (speech(40001), 16000, "PCM_16"), "stereo44k.flac": (speech(70001, 2), 44100, "PCM_24"),
             "quad48k.wav": (speech(30000, 4), 48000, "FLOAT"), "mono8k.ogg": (speech(9000), 8000, "VORBIS"),
             "silent.wav": (np.zeros((5000, 1), np.float32), 16000, "PCM_16"),
             "dc.wav": (np.full((5000, 2), 0.25, np.float32), 22050, "FLOAT"),
             "faint.wav": (np.full((5000, 1), 2.0**-12, np.float32), 16000, "FLOAT"),
             "one.wav": (np.full((1, 1), 0.5, np.float32), 16000, "FLOAT")}
    nan = speech(3000)
    nan[1500] = np.nan
    files["nan.wav"] = (nan, 16000, "FLOAT")
    for name, (y, rate, subtype) in files.items():
        sf.write(tmp_path / name, y, rate, subtype=subtype)
    return tmp_path


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
def test_bank_files_read_in_blocks_give_the_samples_and_verdicts_read_whole(tmp_path, monkeypatch, rate):
    """A long bank file was decoded whole at its own rate and channel count before resampling (one 60-minute
    44.1 kHz stereo noise: 1.9 GB at its peak for a 220 MB bank); past reader.BLOCKWISE_BYTES it is read in
    blocks, with the same samples and the same skips."""
    from noisegen.audio import reader

    folder = _bank_files(tmp_path)
    for first_channel in (False, True):
        for noise in (False, True):
            whole = {p.name: reader.read_sound(str(p), sample_rate=rate, first_channel=first_channel, noise=noise)
                     for p in sorted(folder.iterdir())}
            monkeypatch.setattr(reader, "BLOCKWISE_BYTES", 0)
            blocks = {p.name: reader.read_sound(str(p), sample_rate=rate, first_channel=first_channel, noise=noise)
                      for p in sorted(folder.iterdir())}
            monkeypatch.undo()
            for name, (y, why) in whole.items():
                got, got_why = blocks[name]
                assert got_why == why, (name, first_channel, noise)
                assert (y is None) == (got is None) and (y is None or np.array_equal(got, y)), name
                assert y is None or got.dtype == np.float32 and got.flags.c_contiguous
            assert {n for n, (y, _) in whole.items() if y is None} >= {"silent.wav", "dc.wav", "nan.wav", "faint.wav"}


def test_a_long_bank_file_is_not_decoded_whole_at_its_own_rate(tmp_path, monkeypatch):
    from noisegen.audio import reader

    n = 1 << 20  # 8 MB of float32 stereo at 44.1 kHz: a bank of 1.5 MB at 16 kHz
    y = (0.1 * np.sin(np.arange(2 * n) * 0.01)).astype(np.float32).reshape(n, 2)
    sf.write(tmp_path / "long.wav", y, 44100, subtype="PCM_16")
    monkeypatch.setattr(reader, "BLOCKWISE_BYTES", 1 << 20)
    bank, peak = _bank_and_peak(tmp_path / "long.wav")
    assert peak < 0.6 * y.nbytes, peak / y.nbytes
    monkeypatch.undo()
    np.testing.assert_array_equal(bank.audio, ng.NoiseBank(str(tmp_path / "long.wav"), sample_rate=16000).audio)


@pytest.mark.parametrize("rate,sample_rate", [(1000, 384000), (1_000_000, 16000)])
def test_bank_files_at_rates_out_of_resamples_reach_get_the_same_skips_in_blocks(tmp_path, monkeypatch, rate, sample_rate):
    """Read in blocks, a long file at a rate resample cannot leave was said out of reach before the rule ran
    (a silent one was not 'silent'), and one above 768 kHz was 'unreadable (ParameterError: sample_rate ...)'."""
    from noisegen.audio import reader

    files = {"silent.wav": np.zeros(3000), "dc.wav": np.full(3000, 0.25), "noise.wav": 0.1 * ng.white_noise(3000, rng=0)}
    for name, y in files.items():
        sf.write(tmp_path / name, y.astype(np.float32), rate, subtype="FLOAT")
    for name in files:
        path = str(tmp_path / name)
        whole = reader.read_sound(path, sample_rate=sample_rate, noise=True)
        monkeypatch.setattr(reader, "BLOCKWISE_BYTES", 0)
        assert reader.read_sound(path, sample_rate=sample_rate, noise=True) == whole, name
        monkeypatch.undo()
        assert whole[0] is None and whole[1].startswith({"silent.wav": "silent", "dc.wav": "one value", "noise.wav": "at "}[name])
