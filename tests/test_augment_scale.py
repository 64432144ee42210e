"""``noisegen augment`` over many outputs: what a run holds per output stays small.

No timings: each test checks the mechanism (what is kept, how much is read).
"""

from __future__ import annotations

import gc
import json
import os
import weakref
from pathlib import Path

import numpy as np
import soundfile as sf

from noisegen.batch import augment_folder
from noisegen.batch import manifest as manifest_module
from noisegen.batch import plan as plan_module
from noisegen.batch.manifest import PLAN_FIELDS, _dedupe_manifest, _repair_tail
from noisegen.batch.work import run_pool

SR = 8000


def _inputs(folder: Path, n: int) -> Path:
    for i in range(n):
        path = folder / f"spk{i % 2}" / f"u{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, 0.1 * np.random.default_rng(i).standard_normal(800).astype(np.float32), SR)
    return folder


class _Marker:
    """A result object the parent can watch with a weakref (pickled back from a pool worker)."""


class _Task:
    """A planned task that runs itself (as a tar shard's does) and returns a marker."""

    def __init__(self, i):
        self.i = i

    def run(self, pipeline):
        return f"t{self.i}", [_Marker()]


def test_the_pool_lets_go_of_each_result_once_collected():
    """run_pool kept every ApplyResult in its list to the end of the run, and each held its outputs'
    manifest lines (pipeline and parameters): 7 kB an output, 0.7 GB over 100,000 outputs with workers."""
    n, watched, alive_at_end = 30, [], []

    def collect(rel_results):
        _, results = rel_results
        gc.collect()
        if len(watched) == n - 1:  # the last task: how many earlier results are still held?
            alive_at_end.append(sum(ref() is not None for ref in watched))
        watched.append(weakref.ref(results[0]))

    assert run_pool(None, [_Task(i) for i in range(n)], 2, collect) == 0
    assert len(watched) == n
    # (the pool's result thread may still hold the last result it received: one, or two)
    assert alive_at_end and alive_at_end[0] <= 2, alive_at_end


def test_a_rerun_plans_from_the_lines_fields_it_compares_only(tmp_path, monkeypatch):
    """The plan held every whole manifest line (the pipeline and its parameters: 6-7 kB each in memory),
    0.87 GB to resume 100,000 outputs; it keeps the fields it compares."""
    src, out = _inputs(tmp_path / "in", 6), tmp_path / "out"
    first = augment_folder(src, out, copies=2, seed=0, progress=False)
    assert first.n_written == 12
    seen = []
    complete = plan_module._complete
    monkeypatch.setattr(plan_module, "_complete", lambda o, line, key: seen.append(line) or complete(o, line, key))
    again = augment_folder(src, out, copies=2, seed=0, progress=False)
    assert again.n_skipped == 12 and again.n_written == 0  # resumed as before
    assert len(seen) == 12
    for line in seen:
        assert set(line) <= set(PLAN_FIELDS) and "pipeline" not in line and "params" not in line
        assert {"output", "job", "input_size", "input_blake2b", "n_samples", "sample_rate"} <= set(line)
    # an input edited since is still redone, from the fields kept
    sf.write(src / "spk0" / "u0.wav", np.zeros(800, dtype=np.float32) + 0.01, SR)
    edited = augment_folder(src, out, copies=2, seed=0, progress=False)
    assert edited.n_redone == 2 and edited.n_skipped == 10


def _old_dedupe(records):
    latest = {rec["output"]: rec for rec in records}
    return list(latest.values())


def test_dedupe_keeps_each_outputs_last_line_where_it_first_came(tmp_path):
    """The rewrite parsed and held the whole manifest; it now keeps where each output's last line lies.
    The result is the same: one line per output, the last one's content, in order of first appearance;
    torn and foreign lines dropped."""
    lines = [{"output": f"{k % 7}.wav", "n": k, "pad": "x" * (k % 5)} for k in range(40)]
    text = "".join(json.dumps(rec, sort_keys=True) + "\n" for rec in lines)
    text += '{"no_output": 1}\n[1, 2]\n{"output": "torn'  # not ours, not an object, cut short by a kill
    path = tmp_path / "manifest.jsonl"
    path.write_text(text)
    _dedupe_manifest(str(tmp_path))
    kept = [json.loads(line) for line in path.read_text().splitlines()]
    assert kept == _old_dedupe(lines)
    assert [rec["output"] for rec in kept] == [f"{k}.wav" for k in range(7)]
    assert [rec["n"] for rec in kept] == [35, 36, 37, 38, 39, 33, 34]
    before = path.read_bytes()
    _dedupe_manifest(str(tmp_path))  # one line per output: left alone
    assert path.read_bytes() == before


class _CountingFile:
    def __init__(self, fh, counter):
        self._fh, self._counter = fh, counter

    def read(self, *args):
        data = self._fh.read(*args)
        self._counter.append(len(data))
        return data

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        self._fh.__enter__()
        return self

    def __exit__(self, *exc):
        return self._fh.__exit__(*exc)


def test_repairing_a_torn_last_line_reads_only_the_tail(tmp_path, monkeypatch):
    """Every run read the whole manifest into memory to look at its last byte (1 GB for a million
    outputs); it reads back from the end to the last newline."""
    path = tmp_path / "manifest.jsonl"
    whole = "".join(json.dumps({"output": f"{k}.wav", "pad": "y" * 200}) + "\n" for k in range(20000))
    path.write_text(whole + '{"output": "cut')
    read = []
    monkeypatch.setattr(manifest_module, "open", lambda *a, **k: _CountingFile(open(*a, **k), read), raising=False)
    _repair_tail(str(path))
    assert path.read_text() == whole
    assert 0 < sum(read) <= 2 * manifest_module._TAIL_BLOCK < len(whole) // 10
    read.clear()
    _repair_tail(str(path))  # whole lines: one byte looked at
    assert sum(read) == 1 and path.read_text() == whole
    monkeypatch.undo()
    long_tail = tmp_path / "long.jsonl"  # a torn line longer than a block, after one whole line
    long_tail.write_bytes(b'{"output": "a.wav"}\n' + b"z" * (3 * manifest_module._TAIL_BLOCK + 5))
    _repair_tail(str(long_tail))
    assert long_tail.read_bytes() == b'{"output": "a.wav"}\n'
    no_newline = tmp_path / "none.jsonl"
    no_newline.write_bytes(b"z" * (manifest_module._TAIL_BLOCK + 3))
    _repair_tail(str(no_newline))
    assert no_newline.read_bytes() == b""
    _repair_tail(str(tmp_path / "missing.jsonl"))  # no file: nothing to do
    assert not os.path.exists(tmp_path / "missing.jsonl")
