"""WebDataset tar shards: written by ``augment --output-format webdataset``, read by AugmentStream and webdataset."""

from __future__ import annotations

import collections
import hashlib
import io
import json
import math
import os
import shutil
import tarfile
import threading
import warnings

import numpy as np
import pytest
import soundfile as sf

import noisegen
from noisegen import AugmentStream, NoisegenWarning, ParameterError
from noisegen.batch import augment_folder, replay
from noisegen.batch.outdir import OutDirLock
from noisegen.cli import main
from noisegen.data.shards import expand_braces
from noisegen.transforms import AddColoredNoise, Compose, Gain

SR = 8000
#: Input files (relative paths): a dot in a name and in a folder, a subfolder, odd lengths, one stereo.
INPUTS = {"a.wav": 2001, "b.b.wav": 1203, "sub/c.flac": 3007, "v1.2/d.wav": 777, "z%.wav": 1500}


def pipeline():
    return Compose([AddColoredNoise(min_snr_db=5, max_snr_db=20, p=1.0), Gain(min_gain_db=-6, max_gain_db=0, p=0.7)])


@pytest.fixture(scope="module")
def in_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("wds_in")
    for i, (rel, n) in enumerate(sorted(INPUTS.items())):
        y = noisegen.tone(freq_hz=200.0 + 50 * i, sample_rate=SR, n_samples=n, amplitude=0.3)
        if rel.startswith("sub/"):
            y = np.stack([y, 0.5 * y])
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        noisegen.save(root / rel, y, sample_rate=SR)
    return root


def write(in_dir, out_dir, **kw):
    kw = {"pipeline": pipeline(), "seed": 3, "progress": False, "output_format": "webdataset", "shard_size": 2, **kw}
    return augment_folder(in_dir, out_dir, **kw)


@pytest.fixture(scope="module")
def shards(in_dir, tmp_path_factory):
    """Two copies of each input in tars of 3 samples: 10 samples, 4 tars."""
    out = tmp_path_factory.mktemp("wds_out")
    summary = write(in_dir, out, copies=2, shard_size=3)
    assert summary.n_written == 4 and not summary.failures
    return out


def tars(folder):
    return sorted(p for p in os.listdir(folder) if p.endswith(".tar"))


def members(path):
    with tarfile.open(path) as tf:
        return [(m, tf.extractfile(m).read()) for m in tf.getmembers()]


def expected_keys(copies):
    keys = []
    for rel in sorted(INPUTS):
        stem = rel.rsplit(".", 1)[0].replace("%", "%25").replace(".", "%2E")
        keys += [f"{stem}_aug{k}" for k in range(copies)]
    return keys


# -- writing -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shard_size", [1, 2, 3, 4, 9, 10, 11, 1000])
def test_shard_size_gives_the_tar_count_and_every_sample_once_in_sorted_order(in_dir, tmp_path, shard_size):
    summary = write(in_dir, tmp_path, copies=2, shard_size=shard_size)
    n = 2 * len(INPUTS)
    names = tars(tmp_path)
    assert names == [f"shard-{i:06d}.tar" for i in range(math.ceil(n / shard_size))]
    assert summary.n_outputs == summary.n_written == len(names)
    seen = []
    for i, name in enumerate(names):
        got = [m.name for m, _ in members(tmp_path / name)]
        keys = [g.rsplit(".", 1)[0] for g in got[::2]]
        assert got == [f"{k}.{ext}" for k in keys for ext in ("wav", "json")]
        assert len(keys) == min(shard_size, n - i * shard_size)
        seen += keys
    assert seen == expected_keys(2)  # each sample once, in sorted input order


def test_a_new_layout_over_an_old_one_leaves_no_stale_tar(in_dir, tmp_path):
    """Tars of an earlier run that this job does not make (another shard size; listed, or left by a
    killed run without a line) were left in place, so shard-*.tar read their samples beside this
    job's (18 for 14). --overwrite removes them with their lines; without it each is a failure
    naming it (status 1)."""
    from noisegen.batch import read_manifest

    out = tmp_path / "out"
    write(in_dir, out, copies=2, shard_size=2)  # 10 samples: 5 tars
    assert tars(out) == [f"shard-{i:06d}.tar" for i in range(5)]
    summary = write(in_dir, out, copies=2, shard_size=3)
    stale = {f["output"] for f in summary.failures if "does not make" in f["error"]}
    assert stale == {"shard-000004.tar"}
    shutil.copy(out / "shard-000000.tar", out / "shard-000009.tar")  # a killed run's tar: no manifest line
    summary = write(in_dir, out, copies=2, shard_size=3)
    stale = {f["output"] for f in summary.failures if "does not make" in f["error"]}
    assert stale == {"shard-000004.tar", "shard-000009.tar"}
    summary = write(in_dir, out, copies=2, shard_size=3, overwrite=True)
    assert not [f for f in summary.failures if "does not make" in f["error"]]
    assert tars(out) == [f"shard-{i:06d}.tar" for i in range(4)] == sorted(read_manifest(str(out)))
    keys = [m.name.rsplit(".", 1)[0] for name in tars(out) for m, _ in members(out / name)][::2]
    assert keys == expected_keys(2)  # each sample once
    summary = write(in_dir, out, copies=2, shard_size=3)  # the same job again: complete, nothing stale
    assert not summary.failures and summary.n_skipped == 4


@pytest.mark.parametrize("contents", ["text", "a tar of other samples", "an empty tar"])
def test_overwrite_never_removes_a_tar_noisegen_did_not_write(in_dir, tmp_path, contents):
    # --overwrite removed every shard-NNNNNN.tar past this job's count, a user's own one too ("nothing to
    # do", the file gone); one that is not of ours is now a failure naming it, and stays as it was
    out = tmp_path / "out"
    write(in_dir, out, copies=1, shard_size=2)  # 5 samples: 3 tars
    theirs = out / "shard-000007.tar"
    if contents == "text":
        theirs.write_bytes(b"x\n")
    else:
        with tarfile.open(theirs, "w") as tf:
            if contents != "an empty tar":
                _add(tf, "utt1.wav", noisegen.audio.io.encode(np.zeros(100, np.float32), sample_rate=SR, format="wav"))
                _add(tf, "utt1.json", b'{"speaker": "s1", "seed": 3}')
    before = theirs.read_bytes()
    for overwrite in (False, True):
        summary = write(in_dir, out, copies=1, shard_size=2, overwrite=overwrite)
        said = [f["error"] for f in summary.failures if f["output"] == theirs.name]
        assert len(said) == 1 and "did not write" in said[0], summary.failures
        assert theirs.read_bytes() == before
    shutil.copy(out / "shard-000000.tar", out / "shard-000009.tar")  # a killed run's tar (no line): ours, removed
    write(in_dir, out, copies=1, shard_size=2, overwrite=True)
    assert not (out / "shard-000009.tar").exists() and theirs.read_bytes() == before


def test_shards_are_byte_identical_for_any_number_of_workers(in_dir, shards, tmp_path):
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        write(in_dir, out, copies=2, shard_size=3, workers=workers)
        assert tars(out) == tars(shards)
        for name in tars(out):
            assert (out / name).read_bytes() == (shards / name).read_bytes(), (workers, name)
    for m, _ in members(shards / "shard-000000.tar"):
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o644)


def test_members_hold_the_pipeline_output_and_its_parameters(in_dir, shards):
    """Each sample's audio is the pipeline run with the sample's seed, and its json replays it."""
    lines = (shards / "manifest.jsonl").read_text().splitlines()
    line = {rec["output"]: rec for rec in map(json.loads, lines)}["shard-000001.tar"]
    for m, data in members(shards / "shard-000001.tar"):
        if not m.name.endswith(".json"):
            continue
        meta = json.loads(data)
        audio = dict(members(shards / "shard-000001.tar"))
        wav = next(d for mm, d in audio.items() if mm.name == m.name[:-5] + ".wav")
        y, sr = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
        assert (sr, y.shape[0], y.shape[1]) == (meta["sample_rate"], meta["n_samples"], meta["n_channels"])
        again, _ = replay({**line, **meta})
        assert np.abs(again.T.reshape(y.shape) - y).max() <= 1.5 / 32768
        assert meta["seed"] == noisegen.batch.output_seed(3, meta["input"], meta["copy"])


def test_refuses_to_write_over_shards_made_otherwise_and_resumes_its_own(in_dir, shards, tmp_path):
    out = tmp_path / "out"
    write(in_dir, out, copies=2, shard_size=3)
    before = {n: (out / n).read_bytes() for n in tars(out)}
    again = write(in_dir, out, copies=2, shard_size=3)
    assert (again.n_written, again.n_skipped, again.failures) == (0, 4, [])
    other = write(in_dir, out, copies=2, shard_size=3, seed=4)
    assert other.n_written == 0 and len(other.failures) == 4
    assert all(f["error"].startswith("FileExistsError") for f in other.failures)
    assert {n: (out / n).read_bytes() for n in tars(out)} == before
    os.unlink(out / "manifest.jsonl")  # tars without their lines: accepted only if rebuilt identically
    same = write(in_dir, out, copies=2, shard_size=3)
    assert same.n_written == 4 and not same.failures
    os.unlink(out / "manifest.jsonl")
    refused = write(in_dir, out, copies=2, shard_size=3, seed=4)
    assert [f["error"].split(":")[0] for f in refused.failures] == ["FileExistsError"] * 4
    assert {n: (out / n).read_bytes() for n in tars(out)} == before
    replaced = write(in_dir, out, copies=2, shard_size=3, seed=4, overwrite=True)
    assert replaced.n_written == 4 and (out / "shard-000000.tar").read_bytes() != before["shard-000000.tar"]
    resumed = write(in_dir, out, copies=2, shard_size=3, seed=4, overwrite=True)  # rerun after a stop: resumes
    assert (resumed.n_written, resumed.n_skipped, resumed.failures) == (0, 4, [])
    assert not [n for n in os.listdir(out) if n.endswith(".part")]


def test_an_edited_input_redoes_only_its_tar(in_dir, tmp_path):
    src = tmp_path / "in"
    for rel in INPUTS:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes((in_dir / rel).read_bytes())
    out = tmp_path / "out"
    write(src, out)
    y, _ = noisegen.load(src / "a.wav")
    noisegen.save(src / "a.wav", 0.5 * y, sample_rate=SR)
    again = write(src, out)
    assert (again.n_written, again.n_redone, again.n_skipped, again.failures) == (1, 1, 2, [])


def test_a_busy_out_dir_is_refused(in_dir, tmp_path):
    with OutDirLock(str(tmp_path)):
        with pytest.raises(ParameterError, match="in use by another noisegen augment run"):
            write(in_dir, tmp_path)
    assert tars(tmp_path) == []


def test_an_unreadable_input_is_left_out_and_retried(in_dir, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for rel in ("a.wav", "b.b.wav"):
        (src / rel).write_bytes((in_dir / rel).read_bytes())
    (src / "bad.wav").write_bytes(b"RIFF nothing")
    os.mkfifo(src / "pipe.wav")  # never opened: an input that failed, counted as the others
    summary = write(src, tmp_path / "out", shard_size=10)
    assert [f["input"] for f in summary.failures] == ["pipe.wav", "bad.wav"]
    assert summary.n_inputs == 4
    assert [m.name for m, _ in members(tmp_path / "out" / "shard-000000.tar")][::2] == ["a_aug0.wav", "b%2Eb_aug0.wav"]
    assert write(src, tmp_path / "out", shard_size=10).n_skipped == 0  # a tar with a failure is retried


@pytest.mark.parametrize("blockwise_min_s", [0.0, 60.0])
@pytest.mark.parametrize("workers", [1, 2])
def test_the_copies_of_an_input_in_one_tar_read_it_once(in_dir, tmp_path, capfd, workers, blockwise_min_s):
    # (each copy read it again: a WAV cut short was warned of once per copy, where the folder output says it once)
    src = tmp_path / "in"
    src.mkdir()
    for rel in ("a.wav", "sub/c.flac"):  # (blockwise_min_s 0: these are made in blocks, from one reader)
        (src / rel).parent.mkdir(exist_ok=True)
        (src / rel).write_bytes((in_dir / rel).read_bytes())
    whole = (in_dir / "a.wav").read_bytes()
    (src / "cut.wav").write_bytes(whole[:len(whole) * 2 // 3])  # (never made in blocks)
    outs = {}
    for fmt in ("files", "webdataset"):
        outs[fmt] = tmp_path / fmt
        flags = ["--output-format", "webdataset", "--shard-size", 12] if fmt == "webdataset" else []
        assert main(["augment", str(src), str(outs[fmt]), "--copies", "4", "--workers", str(workers), "--seed", "3",
                     "--blockwise-min-s", str(blockwise_min_s), "--no-progress", *map(str, flags)]) == 0
        assert capfd.readouterr().err.count("cut.wav' is truncated") == 1, fmt
    samples = dict(members(outs["webdataset"] / "shard-000000.tar"))
    assert len(samples) == 24
    for m, data in members(outs["webdataset"] / "shard-000000.tar"):
        if m.name.endswith(".wav"):  # the samples are those of the folder output
            stem, copy = m.name[:-4].rsplit("_aug", 1)
            assert data == (outs["files"] / f"{stem}.aug{copy}.wav").read_bytes(), m.name


def test_a_tar_of_this_job_with_a_sample_left_out_or_cut_short_is_redone(in_dir, tmp_path, monkeypatch):
    import noisegen.batch.wds as wds

    out, load_input = tmp_path / "out", wds.load_input

    def flaky(in_dir, rel, *args):  # a read error that goes away (NFS, a file still being copied)
        if rel == "b.b.wav":
            raise OSError(5, "Input/output error")
        return load_input(in_dir, rel, *args)

    monkeypatch.setattr(wds, "load_input", flaky)
    assert [f["input"] for f in write(in_dir, out).failures] == ["b.b.wav"]
    monkeypatch.setattr(wds, "load_input", load_input)
    retried = write(in_dir, out)
    assert (retried.n_written, retried.n_skipped, retried.failures) == (1, 2, [])
    whole = (out / "shard-000000.tar").read_bytes()
    assert [m.name for m, _ in members(out / "shard-000000.tar")][::2] == ["a_aug0.wav", "b%2Eb_aug0.wav"]
    (out / "shard-000000.tar").write_bytes(whole[:-2048])  # cut short (a copy, a full disk)
    redone = write(in_dir, out)
    assert (redone.n_written, redone.n_skipped, redone.failures) == (1, 2, [])
    assert (out / "shard-000000.tar").read_bytes() == whole


@pytest.mark.parametrize("kw, needle", [
    ({"shard_size": 0}, "shard_size"),
    ({"output_format": "tar"}, "output_format"),
    ({"output_format": "files", "shard_size": 3}, "shard_size"),
    ({"shard": (0, 2)}, "shard"),
])
def test_bad_output_arguments_raise(in_dir, tmp_path, kw, needle):
    with pytest.raises(ParameterError, match=needle):
        write(in_dir, tmp_path, **kw)


def test_cli_writes_shards_and_checks_its_flags(in_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["augment", str(in_dir), str(out), "--output-format", "webdataset", "--shard-size", "4",
                 "--format", "flac", "--no-progress"]) == 0
    assert tars(out) == ["shard-000000.tar", "shard-000001.tar"]
    assert [m.name for m, _ in members(out / "shard-000000.tar")][:2] == ["a_aug0.flac", "a_aug0.json"]
    assert main(["augment", str(in_dir), str(tmp_path / "x"), "--shard-size", "4"]) == 2
    assert "--shard-size needs --output-format webdataset" in capsys.readouterr().err
    # DESIGN's binding --output-format wav|flac|webdataset: wav and flac write the tree in that format
    assert main(["augment", str(in_dir), str(tmp_path / "f"), "--output-format", "flac", "--no-progress"]) == 0
    assert {p.suffix for p in (tmp_path / "f").rglob("*.aug0.*")} == {".flac"}
    assert main(["augment", str(in_dir), str(tmp_path / "w"), "--output-format", "wav", "--no-progress"]) == 0
    assert {p.suffix for p in (tmp_path / "w").rglob("*.aug0.*")} == {".wav"}
    assert main(["augment", str(in_dir), str(tmp_path / "c"), "--output-format", "wav", "--format", "flac"]) == 2
    assert "contradicts" in capsys.readouterr().err


# -- reading -------------------------------------------------------------------------------------
def pattern(folder):
    return str(folder / "shard-{000000..000003}.tar")


def _hash(x):
    return hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest()


def signature(chunks):
    return collections.Counter((c.source, c.start, c.length, _hash(c.samples), json.dumps(c.metadata, sort_keys=True))
                               for c in chunks)


def stream(shards, **kw):
    kw = {"sample_rate": SR, "chunk_s": 0.1, "rng": 5, "epochs": 2, **kw}
    return AugmentStream(pattern(shards), Gain(min_gain_db=-6, max_gain_db=0, p=1.0), **kw)


def test_webdataset_reads_the_shards_unchanged(shards):
    webdataset = pytest.importorskip("webdataset")
    got = list(webdataset.WebDataset(pattern(shards), shardshuffle=False))
    assert [s["__key__"] for s in got] == expected_keys(2)
    for s in got:
        meta = json.loads(s["json"])
        y, sr = sf.read(io.BytesIO(s["wav"]), always_2d=True)
        assert (sr, len(y), y.shape[1]) == (meta["sample_rate"], meta["n_samples"], meta["n_channels"])
        assert sample_input(s["__key__"]) == meta["input"]


def sample_input(key):
    stem = key.rsplit("_aug", 1)[0].replace("%2E", ".").replace("%25", "%")
    return next(rel for rel in INPUTS if rel.rsplit(".", 1)[0] == stem)


def test_augment_stream_reads_each_sample_with_its_metadata(shards):
    s = AugmentStream(pattern(shards), None, sample_rate=SR, shuffle=False, mono=False)
    assert len(s) == 10
    chunks = list(s)
    assert len(chunks) == 10
    assert [c.metadata["__key__"] for c in chunks] == expected_keys(2)
    for c in chunks:
        url, key = c.metadata["__url__"], c.metadata["__key__"]
        assert c.source == f"{url}/{key}" and c.metadata["input"] == sample_input(key)
        data = dict((m.name, d) for m, d in members(url))[key + ".wav"]
        y, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        np.testing.assert_array_equal(c.samples, y.T[0] if y.shape[1] == 1 else y.T)
    assert [c.item for c in chunks] == list(range(10))


def test_len_is_the_count_yielded_and_a_state_resumes(shards):
    for world in (1, 2, 3):
        for rank in range(world):
            s = stream(shards, rank=rank, world_size=world)
            n = len(s)
            chunks = list(s)
            assert n == len(chunks)
            s = stream(shards, rank=rank, world_size=world)
            it = iter(s)
            head = [next(it) for _ in range(n // 3)]
            resumed = stream(shards, rank=rank, world_size=world)
            resumed.load_state_dict(s.state_dict())
            assert len(resumed) == n - len(head)
            assert signature(head) + signature(resumed) == signature(chunks)
    listed = AugmentStream([str(shards / t) for t in tars(shards)], None, sample_rate=SR, chunk_s=0.1, rng=5)
    state = listed.state_dict()
    listed.load_state_dict(state)
    reordered = AugmentStream([str(shards / t) for t in tars(shards)[::-1]], None, sample_rate=SR, chunk_s=0.1, rng=5)
    with pytest.raises(ParameterError, match="another source"):  # the same samples, tars in another order
        reordered.load_state_dict(state)


def test_ranks_read_whole_tars_and_together_give_every_chunk(shards):
    reference = signature(stream(shards))
    merged, urls = collections.Counter(), []
    for rank in range(2):
        chunks = list(stream(shards, rank=rank, world_size=2))
        merged += signature(chunks)
        urls.append({(c.epoch, c.metadata["__url__"]) for c in chunks})
    assert merged == reference
    assert not urls[0] & urls[1]  # a tar of an epoch is read by one rank only
    assert len(urls[0] | urls[1]) == 2 * 4


def test_shuffle_permutes_tars_and_samples_by_epoch_only(shards):
    a = [c.metadata["__key__"] for c in stream(shards, chunk_s=None)]
    b = [c.metadata["__key__"] for c in stream(shards, chunk_s=None)]
    assert a == b and a[:10] != a[10:] and sorted(a[:10]) == sorted(a[10:]) == sorted(expected_keys(2))


@pytest.mark.parametrize("world, num_workers", [(1, 0), (1, 1), (1, 2), (2, 2)])
def test_dataloader_workers_and_ranks_give_the_single_process_chunks(shards, world, num_workers):
    torch = pytest.importorskip("torch")
    from noisegen.torch import AugmentDataset, collate

    reference = signature(stream(shards))
    got = collections.Counter()
    for rank in range(world):
        ds = AugmentDataset(stream(shards, rank=rank, world_size=world))
        loader = torch.utils.data.DataLoader(ds, batch_size=3, collate_fn=collate, num_workers=num_workers)
        for b in loader:
            for row, source, start, length, meta in zip(b["samples"].numpy(), b["sources"], b["starts"],
                                                        b["lengths"].tolist(), b["metadata"]):
                got[(source, start, length, _hash(row), json.dumps(meta, sort_keys=True))] += 1
    assert got == reference
    assert sum(len(AugmentDataset(stream(shards, rank=r, world_size=world))) for r in range(world)) == sum(
        reference.values())


@pytest.mark.parametrize("text, paths", [
    ("s-{000000..000002}.tar", ["s-000000.tar", "s-000001.tar", "s-000002.tar"]),
    ("s-{8..11}.tar", ["s-8.tar", "s-9.tar", "s-10.tar", "s-11.tar"]),
    ("s-{08..10}.tar", ["s-08.tar", "s-09.tar", "s-10.tar"]),
    ("{a,b}/s-{0..1}.tar", ["a/s-0.tar", "a/s-1.tar", "b/s-0.tar", "b/s-1.tar"]),
    ("s-{3..3}.tar", ["s-3.tar"]),
    ("plain.tar", ["plain.tar"]),
])
def test_brace_patterns_expand_like_braceexpand(text, paths):
    assert expand_braces(text) == paths
    braceexpand = pytest.importorskip("braceexpand")
    assert list(braceexpand.braceexpand(text)) == paths


@pytest.mark.parametrize("text", ["s-{0..2.tar", "s-0..2}.tar", "s-{2..0}.tar", "s-{a..c}.tar", "s-{}.tar",
                                  "s-{{0..1}}.tar", "s-{0..1.5}.tar", "s-{x}.tar",
                                  # more than a million paths: this one made a list of 10**11 names (MemoryError
                                  # or a hang) before the check that any exists
                                  "s-{0..99999999999}.tar", "s-{0..999}-{0..999}-{0..9}.tar", "s-{0..1000000}.tar"])
def test_bad_brace_patterns_raise_naming_the_source(tmp_path, text):
    with pytest.raises(ParameterError, match=r"^source "):
        AugmentStream(str(tmp_path / text), None, sample_rate=SR)


def test_a_pattern_naming_no_file_raises(tmp_path):
    assert len(expand_braces("s-{1..1000000}.tar")) == 1_000_000  # the most a pattern may name
    with pytest.raises(ParameterError, match="source names no existing tar file"):
        AugmentStream(str(tmp_path / "s-{0..3}.tar"), None, sample_rate=SR)


@pytest.mark.parametrize("name", ["s-000000.tar.gz", "s-{000000..000000}.tar.gz", "s-000000.TGZ", ["s-000000.tar.xz"]])
def test_a_compressed_tar_source_is_refused_by_name(tmp_path, name):
    """A .tar.gz was taken for one audio file (an empty epoch and a 'cannot read' warning), or, as a
    pattern, for a missing path."""
    names = name if isinstance(name, list) else [name.replace("{000000..000000}", "000000")]
    for n in names:
        (tmp_path / n).write_bytes(b"\x1f\x8b")
    source = [str(tmp_path / n) for n in name] if isinstance(name, list) else str(tmp_path / name)
    with pytest.raises(ParameterError, match=r"source names a compressed tar shard, .*decompress them first"):
        AugmentStream(source, None, sample_rate=SR)


def test_a_tar_listed_among_audio_files_is_refused(tmp_path, data_dir):
    # a .tar in a list of audio files was skipped as an audio file libsndfile cannot read ("Format not recognised")
    wav = str(sorted((data_dir / "speech").glob("*.wav"))[0])
    tar = tmp_path / "s-000000.tar"
    with tarfile.open(tar, "w") as tf:
        _add(tf, "a.wav", open(wav, "rb").read())
    for source in ([wav, str(tar)], [tar, wav, wav]):
        with pytest.raises(ParameterError, match=r"source lists 1 tar shard\(s\), the first .*s-000000.tar.* among "
                                                 rf"{len(source) - 1} other item\(s\)"):
            AugmentStream(source, None, sample_rate=SR)
    assert sum(1 for _ in AugmentStream([tar, tar], None, sample_rate=SR)) == 2  # a list of tars alone is shards


def _add(tf, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))



@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_or_folder_named_like_a_tar_is_reported_not_opened(tmp_path):
    """A FIFO in a shard list hung AugmentStream(...) for ever (tarfile opened it and waited for a writer);
    it is now one unreadable item, named once, like a folder named like a tar."""
    good = tmp_path / "good.tar"
    with tarfile.open(good, "w") as tf:
        _add(tf, "ok.wav", noisegen.audio.io.encode(np.full(400, 0.25, np.float32), sample_rate=SR, format="wav"))
    os.mkfifo(tmp_path / "pipe.tar")
    (tmp_path / "folder.tar").mkdir()
    source = [str(good), str(tmp_path / "pipe.tar"), str(tmp_path / "folder.tar")]
    out = []
    worker = threading.Thread(target=lambda: out.append(AugmentStream(source, None, sample_rate=SR)), daemon=True)
    worker.start()
    worker.join(60)
    assert out, "AugmentStream blocked opening the FIFO"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(out[0]) == 1 and [c.source for c in out[0]] == [f"{good}/ok"]
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, NoisegenWarning))
    assert len(messages) == 2 and "folder.tar" in messages[0] and "pipe.tar" in messages[1]
    assert "a FIFO, not a regular file" in messages[1]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("name", ["shard-000003.tar", "shard-1000000.tar"])
def test_a_fifo_named_like_a_stale_tar_in_out_dir_is_a_failure_not_a_hang(in_dir, tmp_path, overwrite, name):
    """Telling noisegen's own stale tars from another tool's opened each by name: a FIFO named like one
    hung the run for ever, waiting for a writer. It is now a recorded failure, and never removed."""
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / name)
    done = []
    worker = threading.Thread(target=lambda: done.append(write(in_dir, out, overwrite=overwrite)), daemon=True)
    worker.start()
    worker.join(120)
    assert done, "augment blocked opening the FIFO"
    assert [f["output"] for f in done[0].failures] == [name] and "did not write" in done[0].failures[0]["error"]
    assert (out / name).is_fifo() and done[0].n_written == 3


def test_a_member_claiming_more_bytes_than_the_tar_holds_is_not_read(tmp_path):
    """A damaged header (GNU base-256 size field) claiming 2**62 bytes: the member was read with
    read(2**62), which allocates first (a MemoryError; 8 GiB really taken for a claim of 8 GiB). The
    claim is now checked against the file first: the member is cut short, named once and skipped."""
    good = noisegen.audio.io.encode(np.full(400, 0.25, np.float32), sample_rate=SR, format="wav")
    path = tmp_path / "damaged.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tf:
        _add(tf, "a.wav", good)
        _add(tf, "b.wav", good)
    raw = bytearray(path.read_bytes())
    header = 512 + -(-len(good) // 512) * 512  # the second member's header
    raw[header + 124:header + 136] = b"\x80\0\0\0" + (2**62).to_bytes(8, "big")
    raw[header + 148:header + 156] = b" " * 8
    raw[header + 148:header + 156] = b"%06o\0 " % sum(raw[header:header + 512])
    path.write_bytes(bytes(raw))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stream = AugmentStream(str(path), None, sample_rate=SR)
        assert len(stream) == 1 and [c.source for c in stream] == [f"{path}/a"]
    messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    assert any(f"{path}/b" in m and f"of {2**62} bytes" in m for m in messages), messages

@pytest.mark.parametrize("damage", ["checksum", "name", "cut in a header"])
@pytest.mark.parametrize("where", [1, 2])
def test_the_rest_of_a_tar_after_a_damaged_header_is_reported(tmp_path, damage, where):
    """tarfile stops quietly at a damaged header past the first: the samples after it were left out
    without a word (the module docstring promised one unreadable item saying so)."""
    good = noisegen.audio.io.encode(np.full(400, 0.25, np.float32), sample_rate=SR, format="wav")
    path = tmp_path / "damaged.tar"
    with tarfile.open(path, "w") as tf:
        for key in "abc":
            _add(tf, f"{key}.wav", good)
    raw = bytearray(path.read_bytes())
    header = where * (512 + -(-len(good) // 512) * 512)  # member `where`'s header
    if damage == "checksum":
        raw[header + 148] ^= 1
    elif damage == "name":
        raw[header:header + 5] = b"zzzzz"  # (the checksum no longer matches)
    else:
        raw = raw[:header + 100]
    path.write_bytes(bytes(raw))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stream = AugmentStream(str(path), None, sample_rate=SR, shuffle=False)
        assert len(stream) == where and [c.source for c in stream] == [f"{path}/{k}" for k in "abc"[:where]]
    messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    assert len(messages) == 1 and f"byte {header}" in messages[0], messages


def test_a_tar_ending_with_or_without_its_end_blocks_reads_whole(tmp_path):
    good = noisegen.audio.io.encode(np.full(400, 0.25, np.float32), sample_rate=SR, format="wav")
    path = tmp_path / "x.tar"
    with tarfile.open(path, "w") as tf:
        for key in "ab":
            _add(tf, f"{key}.wav", good)
    raw = path.read_bytes()
    end = 2 * (512 + -(-len(good) // 512) * 512)
    for data in (raw, raw[:end], raw[:end + 512], raw + bytes(10240)):
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert [c.source for c in AugmentStream(str(path), None, sample_rate=SR, shuffle=False)] == [
                f"{path}/a", f"{path}/b"]


@pytest.mark.parametrize("how", ["renamed over", "in place"])
def test_a_tar_rewritten_after_indexing_is_reported_not_read_at_stale_offsets(tmp_path, how):
    """A tar rewritten with its samples in another order was read at the offsets indexed at construction:
    chunk x.tar/a came with b's audio and b's JSON (a wrong label), without a word."""
    level = {"a": 0.25, "b": -0.5, "c": 0.125}

    def tar(path, keys):
        tmp = tmp_path / "tmp.tar" if how == "renamed over" else path
        with tarfile.open(tmp, "w") as tf:
            for k in keys:
                _add(tf, f"{k}.wav", noisegen.audio.io.encode(np.full(400, level[k], np.float32), sample_rate=SR,
                                                              format="wav"))
                _add(tf, f"{k}.json", json.dumps({"label": k}).encode())
        if tmp != path:
            os.replace(tmp, path)

    x, y = tmp_path / "x.tar", tmp_path / "y.tar"
    tar(x, "ab")
    tar(y, "c")
    chunks = iter(AugmentStream([str(x), str(y)], None, sample_rate=SR, shuffle=False, epochs=2))
    first = [next(chunks) for _ in range(3)]  # (y's last: x is opened again for the second epoch)
    assert [(c.metadata["label"], float(c.samples[0])) for c in first] == [(k, level[k]) for k in "abc"]
    tar(x, "ba")
    st = os.stat(x)
    os.utime(x, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # (a coarse clock: a new mtime for sure)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rest = list(chunks)
    assert [(c.source, c.metadata["label"]) for c in rest] == [(f"{y}/c", "c")]
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, NoisegenWarning))
    assert len(messages) == 2 and all("changed since the stream indexed it" in m for m in messages), messages
    assert f"{x}/a" in messages[0] and f"{x}/b" in messages[1]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32"])
def test_json_members_are_read_in_every_encoding_json_and_webdataset_read(tmp_path, encoding):
    """A .json member with a BOM (Windows tools write one) or in UTF-16 made its whole sample unreadable
    ("not valid JSON"), where webdataset (json.loads of the bytes) reads it."""
    path = tmp_path / "x.tar"
    with tarfile.open(path, "w") as tf:
        _add(tf, "a.wav", noisegen.audio.io.encode(np.full(400, 0.25, np.float32), sample_rate=SR, format="wav"))
        _add(tf, "a.json", json.dumps({"label": "é"}, ensure_ascii=False).encode(encoding))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [c.metadata["label"] for c in AugmentStream(str(path), None, sample_rate=SR)] == ["é"]


def test_bad_tars_and_members_are_reported_once_and_skipped(shards, tmp_path):
    good = noisegen.audio.io.encode(np.full(400, 0.25, np.float32), sample_rate=SR, format="wav")
    mixed = tmp_path / "mixed.tar"
    with tarfile.open(mixed, "w") as tf:
        _add(tf, "ok.wav", good)
        _add(tf, "ok.json", b'{"label": "yes"}')
        _add(tf, "garbage.wav", b"RIFF\x00\x00not audio at all")
        _add(tf, "noaudio.txt", b"hello")
        _add(tf, "badjson.wav", good)
        _add(tf, "badjson.json", b"[1, 2")
        _add(tf, "list.flac", good)  # wav bytes in a .flac member: soundfile reads the bytes, not the name
        _add(tf, "list.json", b"[1]")
    cut = tmp_path / "cut.tar"
    cut.write_bytes((shards / "shard-000000.tar").read_bytes()[:3000])  # cut inside the first member's data
    source = [str(mixed), str(tmp_path / "missing.tar"), str(cut)]
    s = AugmentStream(source, None, sample_rate=SR, shuffle=False, epochs=2)  # bad items come twice
    assert len(s) == 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(s)
    assert [(c.source, c.metadata.get("label")) for c in chunks] == [(f"{mixed}/ok", "yes")] * 2
    reported = sorted(str(w.message).split("'")[1] for w in caught if issubclass(w.category, NoisegenWarning))
    assert reported == sorted([f"{mixed}/garbage", f"{mixed}/noaudio", f"{mixed}/badjson", f"{mixed}/list",
                               str(tmp_path / "missing.tar"), f"{cut}/a_aug0", str(cut)])


@pytest.mark.parametrize("depth", [100, 101, 600, 5000])
def test_a_json_member_nested_too_deeply_to_copy_is_reported_and_skipped(tmp_path, depth):
    """A .json member nested 600 deep (json reads ~1,000 levels) raised RecursionError when the sample's
    first chunk copied its metadata, ending the stream (one 5,000 deep was skipped as a RecursionError, "cannot
    be read"). Over 100 levels is a bad member, said so."""
    good = noisegen.audio.io.encode(np.full(400, 0.25, np.float32), sample_rate=SR, format="wav")
    path = tmp_path / "deep.tar"
    meta = '{"a": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"  # an object, then lists: depth levels
    with tarfile.open(path, "w") as tf:
        _add(tf, "deep.wav", good)
        _add(tf, "deep.json", meta.encode())
        _add(tf, "ok.wav", good)
        _add(tf, "ok.json", b'{"label": "yes"}')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stream = AugmentStream(str(path), None, sample_rate=SR, shuffle=False)
        n = len(stream)
        chunks = list(stream)
    assert n == len(chunks) and chunks[-1].metadata["label"] == "yes"
    messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    if depth <= 100:
        assert not messages and len(chunks) == 2
    else:
        assert [c.source for c in chunks] == [f"{path}/ok"]
        (message,) = messages
        assert f"{path}/deep" in message and "nested too deeply (over 100 levels)" in message


@pytest.mark.skipif(shutil.which("tar") is None or shutil.which("cp") is None, reason="needs GNU tar and cp")
def test_a_sparse_member_is_reported_not_read_as_garbage(tmp_path):
    """A GNU sparse member (tar --sparse of a file with long runs of zeros) stores only its data
    blocks: read from where its data starts it was the next member's bytes, decoded silently (an
    error of 1.3 full scale). It is reported and skipped; the samples after it read as they are."""
    import subprocess
    import tarfile

    y = np.zeros(16000 * 20, np.float32)
    y[:16000], y[-16000:] = 0.5 * np.sin(np.arange(16000) / 5), 0.3
    noisegen.save(tmp_path / "dense.wav", y, sample_rate=16000)
    subprocess.run(["cp", "--sparse=always", str(tmp_path / "dense.wav"), str(tmp_path / "a.wav")], check=True)
    noisegen.save(tmp_path / "b.wav", 0.25 * np.ones(8000, np.float32), sample_rate=16000)
    subprocess.run(["tar", "--sparse", "-cf", "sp.tar", "a.wav", "b.wav"], cwd=tmp_path, check=True)
    if not tarfile.open(tmp_path / "sp.tar").getmember("a.wav").issparse():
        pytest.skip("this file system or tar made no sparse member")
    with pytest.warns(noisegen.NoisegenWarning, match=r"sp.tar/a'.*sparse member \(.wav"):
        chunks = list(noisegen.AugmentStream(str(tmp_path / "sp.tar"), None, sample_rate=16000, rng=0, shuffle=False))
    assert [c.source.rsplit("/", 1)[-1] for c in chunks] == ["b"]
    np.testing.assert_array_equal(chunks[0].samples, noisegen.load(tmp_path / "b.wav")[0])


def test_hard_and_symbolic_links_read_as_the_file_they_name_and_a_dangling_one_is_reported(tmp_path):
    """tar stores a file's second name (a folder of hard-linked copies) as a link member: it was no
    regular file, so its sample was left out without a word. A link reads as the file it names, as
    ``tar x`` extracts it; one naming no file of the tar before it is reported and skipped."""
    good = noisegen.audio.io.encode(np.full(400, 0.25, np.float32), sample_rate=SR, format="wav")
    path = tmp_path / "links.tar"
    with tarfile.open(path, "w") as tf:
        _add(tf, "sub/a.wav", good)
        _add(tf, "sub/a.json", b'{"speaker": "s1"}')
        for name, kind, target in [("sub/b.wav", tarfile.LNKTYPE, "sub/a.wav"), ("sub/b.json", tarfile.LNKTYPE,
                                   "sub/a.json"), ("sub/c.wav", tarfile.SYMTYPE, "a.wav"),
                                   ("d.wav", tarfile.SYMTYPE, "/elsewhere/d.wav")]:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tf.addfile(info)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stream = AugmentStream(str(path), None, sample_rate=SR, shuffle=False)
        n, chunks = len(stream), list(stream)
    assert n == 3 and [c.source for c in chunks] == [f"{path}/sub/{k}" for k in "abc"]
    for chunk in chunks:
        np.testing.assert_array_equal(chunk.samples, chunks[0].samples)
    assert chunks[1].metadata["speaker"] == "s1" and "speaker" not in chunks[2].metadata
    (message,) = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    assert f"{path}/d'" in message and "'/elsewhere/d.wav', no file of this tar before it" in message


@pytest.mark.parametrize("contents", ["empty", "no extension", "folders only"])
def test_tars_holding_no_sample_are_refused_as_a_folder_without_audio_is(tmp_path, contents):
    # an empty tar, or one whose members have no extension (utt1, utt2: no WebDataset key), made a stream
    # that yielded nothing without a word (len 0, a training loop of no steps); a folder without audio
    # files and a manifest without rows are ParameterErrors
    good = noisegen.audio.io.encode(np.full(400, 0.25, np.float32), sample_rate=SR, format="wav")
    empty = tmp_path / "empty.tar"
    with tarfile.open(empty, "w") as tf:
        if contents == "no extension":
            _add(tf, "utt1", good)
            _add(tf, "sub/utt2", good)
        elif contents == "folders only":
            info = tarfile.TarInfo("sub.d")
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
    other = tmp_path / "other.tar"
    shutil.copy(empty, other)
    for source in (str(empty), [str(empty), str(other)], str(tmp_path / "{empty,other}.tar")):
        with pytest.raises(ParameterError, match=r"source .*empty\.tar.* holds no WebDataset sample; expected .*KEY\.EXT"):
            AugmentStream(source, None, sample_rate=SR)
    good_tar = tmp_path / "good.tar"
    with tarfile.open(good_tar, "w") as tf:
        _add(tf, "a.wav", good)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an empty tar beside one with samples: no word, its samples read
        stream = AugmentStream([str(empty), str(good_tar)], None, sample_rate=SR, shuffle=False)
        assert len(stream) == 1 and [c.source for c in stream] == [f"{good_tar}/a"]


@pytest.mark.parametrize("bound", [1, 40, 97])
def test_the_index_of_shards_met_over_many_epochs_stays_within_its_bound(tmp_path, monkeypatch, bound):
    # The per-process index of tar members kept one entry for every shard ever indexed: a job
    # streaming each epoch's new shards (the last epoch's deleted) grew it by an epoch's index each
    # time, for ever. Shrunk here, the samples it holds stay within the bound (a shard larger than
    # the bound alone is read, not kept), and every stream still reads its own shards' samples.
    from collections import OrderedDict

    from noisegen.data import shards as shards_module

    monkeypatch.setattr(shards_module, "_INDEX_CACHE", OrderedDict())
    monkeypatch.setattr(shards_module, "_INDEX_CACHE_SAMPLES", bound, raising=False)
    monkeypatch.setattr(shards_module, "_index_samples", 0, raising=False)
    wav = noisegen.audio.io.encode(np.full(400, 0.25, np.float32), sample_rate=SR, format="wav")
    rng = np.random.default_rng(bound)
    for epoch in range(12):
        paths, names = [], []
        for s in range(3):
            path = tmp_path / f"e{epoch}-{s}.tar"
            with tarfile.open(path, "w") as tf:
                for k in range(int(rng.integers(1, 30))):
                    _add(tf, f"u{s}_{k}.wav", wav)
                    names.append(f"{path}/u{s}_{k}")
            paths.append(str(path))
        chunks = list(AugmentStream(paths, None, sample_rate=SR, rng=0, shuffle=False))
        assert [c.source for c in chunks] == names
        for path in paths:
            os.unlink(path)  # the producer drops the epoch's shards
        assert sum(len(entry[1]) for entry in shards_module._INDEX_CACHE.values()) <= bound


def test_a_shard_rewritten_each_epoch_keeps_one_index_entry_and_reads_its_new_samples(tmp_path):
    # the per-process index of a tar's members was keyed by its size and mtime too: a shard rewritten
    # every epoch (a job writing the next epoch's tars in place) added an entry each time, for ever
    from noisegen.data import shards as shards_module

    path = tmp_path / "live.tar"
    for epoch in range(6):
        with tarfile.open(path, "w") as tf:
            for k in range(epoch % 3 + 1):
                _add(tf, f"e{epoch}_{k}.wav", noisegen.audio.io.encode(np.full(400 + k, 0.25, np.float32),
                                                                      sample_rate=SR, format="wav"))
        os.utime(path, ns=(10**18 + epoch, 10**18 + epoch))
        chunks = list(AugmentStream(str(path), None, sample_rate=SR, rng=0, shuffle=False))
        assert [c.source.rsplit("/", 1)[-1] for c in chunks] == [f"e{epoch}_{k}" for k in range(epoch % 3 + 1)]
        real = os.path.realpath(path)
        entries = [k for k in shards_module._INDEX_CACHE if (k[0] if isinstance(k, tuple) else k) == real]
        assert len(entries) == 1, entries
