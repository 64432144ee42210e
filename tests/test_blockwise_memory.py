"""Must show (issue 18.2): peak RSS of a 60-minute 16 kHz file within 1.3x of a 1-minute file, in
``noisegen augment`` (default pipeline; a --config of RIR + pitch + stretch + noise) and in
``AugmentStream(chunk_s=1)``. Each run is a fresh process measured from outside (``ru_maxrss``);
a memory bound, not a timing."""

from __future__ import annotations

import os

import pytest

from conftest import import_bench


@pytest.fixture(scope="module")
def bench_memory():
    return import_bench("bench_memory")


@pytest.fixture(scope="module")
def wavs(tmp_path_factory, bench_memory):
    root = tmp_path_factory.mktemp("long")
    out = {}
    for minutes in (1, 60):
        folder = root / f"in{minutes}"
        folder.mkdir()
        out[minutes] = bench_memory.make_wav(str(folder / f"long{minutes}.wav"), minutes)
    return root, out


@pytest.mark.slow
@pytest.mark.parametrize("what", ["augment-default", "augment-webdataset", "augment-config", "stream"])
def test_peak_memory_does_not_grow_with_file_length(wavs, what, bench_memory):
    root, files = wavs
    rss = {}
    for minutes, wav in files.items():
        peak, _, error, produced = bench_memory.measure(what, wav, str(root))
        assert peak is not None, error
        assert produced > 0.8 * minutes * 60, (what, minutes, produced)  # the whole file went through
        rss[minutes] = peak
    assert rss[60] <= 1.3 * rss[1], rss
    for folder in os.listdir(root):  # outputs of a 60-minute file are large: not kept for the next case
        if folder.startswith("out-"):
            for dirpath, _, names in os.walk(root / folder):
                for name in names:
                    os.unlink(os.path.join(dirpath, name))
