"""The on-disk design cache: same results as designing afresh, robust to a bad or read-only cache."""

import os
import subprocess
import sys

import numpy as np
import pytest

from noisegen._core import diskcache


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISEGEN_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_hit_miss_and_none(cache):
    calls = []

    def compute(value):
        calls.append(value)
        return value

    a = diskcache.cached_array("t", ("k", 1), lambda: compute(np.arange(5.0)))
    b = diskcache.cached_array("t", ("k", 1), lambda: compute(np.zeros(1)))
    np.testing.assert_array_equal(a, b)
    assert len(calls) == 1
    assert diskcache.cached_array("t", ("none",), lambda: compute(None)) is None
    assert diskcache.cached_array("t", ("none",), lambda: compute(np.ones(1))) is None  # None is cached too
    assert len(calls) == 2
    diskcache.cached_array("t", ("k", 2), lambda: compute(np.ones(2)))
    assert len(calls) == 3  # another key
    assert not [p for p in (cache / "t").iterdir() if p.name.startswith(".")]  # no temporary left


def test_corrupt_entries_are_recomputed(cache):
    diskcache.cached_array("t", ("k",), lambda: np.arange(3.0))
    (entry,) = (cache / "t").iterdir()
    entry.write_bytes(b"not an npy file")
    np.testing.assert_array_equal(diskcache.cached_array("t", ("k",), lambda: np.arange(4.0)), np.arange(4.0))


def test_a_damaged_payload_behind_an_intact_header_is_recomputed_not_used(cache):
    """Only the shape and dtype were checked: bytes changed inside the data were used as the design (wrong
    filters, outputs that differed from a clean run's, silently)."""
    want = np.linspace(-1.0, 1.0, 64)
    diskcache.cached_array("t", ("k",), lambda: want, shape=(64,), dtype=np.float64)
    (entry,) = (cache / "t").iterdir()
    good = entry.read_bytes()
    for damage in (lambda b: b[:-100] + b"\xff" * 100, lambda b: b[:200] + bytes([b[200] ^ 1]) + b[201:],
                   lambda b: b[:-32], lambda b: b[:-1]):
        entry.write_bytes(damage(good))
        assert np.load(entry).shape == (64,)  # still a readable .npy of the right shape
        calls = []
        got = diskcache.cached_array("t", ("k",), lambda: calls.append(1) or want, shape=(64,), dtype=np.float64)
        np.testing.assert_array_equal(got, want)
        assert calls == [1] and entry.read_bytes() == good  # computed again, and mended


def test_an_entry_of_another_shape_or_dtype_is_computed_and_stored_again(cache):
    f = lambda: np.arange(4, dtype=np.float32)  # noqa: E731
    diskcache.cached_array("t", ("k",), f, shape=(4,), dtype=np.float32)
    (entry,) = (cache / "t").iterdir()
    for wrong in (np.zeros(3, np.float32), np.arange(4.0), np.zeros(0, np.int8)):  # (the last: a stored None)
        np.save(entry, wrong)
        got = diskcache.cached_array("t", ("k",), f, shape=(4,), dtype=np.float32)
        assert got.dtype == np.float32 and got.tolist() == [0, 1, 2, 3]
        assert np.load(entry).tolist() == [0, 1, 2, 3] and np.load(entry).dtype == np.float32  # mended


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_cache_still_computes(cache):
    os.chmod(cache, 0o500)
    try:
        np.testing.assert_array_equal(diskcache.cached_array("t", ("k",), lambda: np.arange(3.0)), np.arange(3.0))
    finally:
        os.chmod(cache, 0o700)


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("NOISEGEN_CACHE_DIR", raising=False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "nb"))
    assert diskcache.cache_dir() == str(tmp_path / "nb" / "noisegen")
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert diskcache.cache_dir() == str(tmp_path / "xdg" / "noisegen")


def test_resampler_designs_from_the_cache_equal_fresh_ones(tmp_path):
    # Two fresh processes on one cache: the second reads the designs the first made.
    code = ("import numpy as np, noisegen; x = np.random.default_rng(0).standard_normal(44100);"
            "y = np.concatenate([noisegen.resample(x, orig_sample_rate=a, target_sample_rate=b)"
            " for a, b in ((44100, 16000), (48000, 16000), (16000, 8000))]);"
            "import sys; sys.stdout.buffer.write(y.tobytes())")
    env = dict(os.environ, NOISEGEN_CACHE_DIR=str(tmp_path / "designs"))
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] and len(runs[0]) > 0
    assert any((tmp_path / "designs" / "designs").iterdir())


@pytest.mark.slow
def test_a_source_tree_whose_kaiser_sinc_differs_does_not_reuse_the_other_trees_equiripple_table(tmp_path):
    # Two noisegen trees (an upgrade, a second checkout) share a design cache; the equiripple
    # table samples kaiser.py's sinc, so a tree whose kaiser.py differs must design its own.
    import shutil

    import noisegen

    other = tmp_path / "other"
    shutil.copytree(os.path.dirname(noisegen.__file__), other / "noisegen",
                    ignore=shutil.ignore_patterns("__pycache__"))
    kaiser = other / "noisegen" / "_design" / "kaiser.py"
    text = kaiser.read_text()
    assert "    return fc * sinc * window / _bessel_i0(beta)\n" in text
    kaiser.write_text(text.replace("    return fc * sinc * window / _bessel_i0(beta)\n",
                                   "    return 1.01 * fc * sinc * window / _bessel_i0(beta)\n"))
    code = ("import numpy as np; from noisegen._design.resample import equiripple_polyphase as e;"
            "t = e(160, 441, 'd'); print(None if t is None else repr(float(np.abs(t[1]).sum())))")

    def run(tree, cache):
        env = dict(os.environ, NOISEGEN_CACHE_DIR=str(tmp_path / cache), PYTHONPATH=str(tree))
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                              cwd=tree).stdout  # (-c imports from the working folder first)

    ours = run(os.path.dirname(os.path.dirname(noisegen.__file__)), "shared")
    assert ours.strip() != "None"
    assert run(other, "shared") == run(other, "fresh")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kaiser_cells_from_the_cache_equal_fresh_ones(cache, dtype):
    # A random pitch shift's cut-off cell: designed once, then read back by later processes
    # (the lru_cache cleared stands for one); an entry of another shape is designed again.
    from noisegen._design import kaiser as design

    char = np.dtype(dtype).char
    args = (design.N_PHASES + 1, design.N_PHASES, 0.9 * 0.83, 0.83, char)
    spec = design.kaiser_spec(args[2], args[3])
    fresh = design.filter_table(args[0], args[1], spec.n_taps, spec.half, spec.fc, spec.half_width,
                                spec.beta).astype(dtype)
    design.kaiser_table.cache_clear()
    try:
        made = design.kaiser_table(*args)[1]
        (entry,) = (cache / "designs").iterdir()
        design.kaiser_table.cache_clear()
        loaded = design.kaiser_table(*args)[1]
        for table in (made, loaded):
            assert table.dtype == dtype and not table.flags.writeable
            np.testing.assert_array_equal(table, fresh)
        np.save(entry, np.zeros((3, 3), dtype))  # not this cell's table
        design.kaiser_table.cache_clear()
        np.testing.assert_array_equal(design.kaiser_table(*args)[1], fresh)
    finally:
        design.kaiser_table.cache_clear()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fft_twiddles_from_the_cache_equal_fresh_ones(cache, dtype):
    # Made once per length and stored; read back by later processes (the in-memory cache cleared
    # stands for one); an entry of another length or dtype is made again; the transforms agree.
    from noisegen.effects import spectra

    dt = np.dtype(dtype)
    x = np.random.default_rng(1).standard_normal((2, 5000)).astype(dtype)
    for nfft in (1024, 12800, 30720):
        fresh = spectra._make_table(nfft, dt)
        spectra.TWIDDLES.clear()
        try:
            before = {p.name for p in (cache / "designs").iterdir()} if (cache / "designs").exists() else set()
            made = spectra._table(nfft, dt)
            (entry,) = [cache / "designs" / name for name in {p.name for p in (cache / "designs").iterdir()} - before]
            spectra.TWIDDLES.clear()
            loaded = spectra._table(nfft, dt)
            for table in (made, loaded):
                assert table.dtype == dt and not table.flags.writeable
                np.testing.assert_array_equal(table, fresh)
            spectra.TWIDDLES.clear()
            spectra_loaded = spectra.grid_rfft(x, nfft)
            for wrong in (np.zeros(7, dt), fresh.astype(np.float64 if dt == np.float32 else np.float32)):
                np.save(entry, wrong)  # not this length's table, or another dtype's
                spectra.TWIDDLES.clear()
                np.testing.assert_array_equal(spectra._table(nfft, dt), fresh)
            np.testing.assert_allclose(spectra_loaded, np.fft.rfft(x.astype(np.float64), nfft),
                                       rtol=0, atol=2e-3 if dt == np.float32 else 1e-9)
        finally:
            spectra.TWIDDLES.clear()


def test_a_namespace_keeps_at_most_its_bound_dropping_the_least_recently_used(cache, monkeypatch):
    # Entries were never removed: Resample(8000-16000 Hz) at 44.1 kHz designs an exact table for each of
    # ~2,200 ratios it draws over a run, ~2.7 GB of design files. Shrunk here to four 8 kB entries' worth.
    import time

    entry = 8 * 1024
    monkeypatch.setattr(diskcache, "MAX_NAMESPACE_BYTES", 4 * entry + 4 * 256, raising=False)
    calls = []

    def get(k):
        return diskcache.cached_array("t", ("k", k), lambda: calls.append(k) or np.full(entry // 8, float(k)))

    for k in range(4):
        get(k)
        time.sleep(0.01)  # distinct modification times
    get(0)  # used again: 1 is now the least recently used
    time.sleep(0.01)
    kept = []
    for k in range(4, 9):
        assert get(k)[0] == k
        files = list((cache / "t").iterdir())
        assert sum(f.stat().st_size for f in files) <= diskcache.MAX_NAMESPACE_BYTES, k
        kept.append({j for j in range(9) if os.path.exists(diskcache._path("t", ("k", j)))})
        time.sleep(0.01)
    assert kept[0] == {0, 2, 3, 4} and kept[-1] == {5, 6, 7, 8}
    calls.clear()
    assert get(1)[0] == 1 and calls == [1]  # an evicted one is made again, never wrong


def test_a_writer_killed_mid_store_leaves_no_temporary_file_for_ever(cache):
    # A process killed while it wrote an entry (SIGKILL, the OOM killer: no unwinding) left its
    # ".<digest>.npy.<random>.part" in the namespace: never counted by the bound, never removed.
    import time

    folder = cache / "t"
    folder.mkdir()
    dead, live = folder / ".0123.npy.abcdefgh.part", folder / ".4567.npy.ijklmnop.part"
    for path in (dead, live):
        path.write_bytes(b"x" * 100)
    old = time.time() - 86400  # a day ago (STALE_TEMP_S is an hour)
    os.utime(dead, (old, old))
    diskcache.cached_array("t", ("k", 1), lambda: np.zeros(4))  # a store prunes the namespace
    assert not dead.exists()
    assert live.exists()  # (a writer at work now: left alone)
