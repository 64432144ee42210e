"""``noisegen augment`` / :func:`noisegen.batch.augment_folder` end to end on the real audio in ``data/``.

Everything runs on copies in ``tmp_path``; the inputs (and noise/RIR folders)
are hashed before and after every run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisegen import cli
from noisegen.batch import MANIFEST, augment_folder, output_name, read_manifest, replay

ROOT = Path(__file__).resolve().parents[1]


# -- helpers ------------------------------------------------------------------------------------
def tree_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def audio_outputs(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix in (".wav", ".flac")}


def augment(*args, capsys=None) -> int:
    """``noisegen augment ARGS`` in this process (the real argparse front end)."""
    return cli.main(["augment", *map(str, args), "--no-progress"])


class Corpus(tuple):
    """(speech, noise, rir) folders plus the hashes they must keep; tests that change the
    inputs on purpose go through :meth:`write` / :meth:`remove`."""

    def write(self, rel, data: bytes):
        (self[0] / rel).write_bytes(data)
        self.baseline[self[0]][rel] = hashlib.sha256(data).hexdigest()

    def remove(self, rel):
        (self[0] / rel).unlink()
        del self.baseline[self[0]][rel]


@pytest.fixture
def corpus(tmp_path, data_dir):
    """Copies of data/speech (two files moved into a sub-folder), data/noise and data/rir."""
    speech = tmp_path / "in"
    shutil.copytree(data_dir / "speech", speech)
    (speech / "spk2").mkdir()
    for name in ("cmu_arctic_us_axb_a0005.wav", "one_6f1ffef6_nohash_0.wav"):
        (speech / name).rename(speech / "spk2" / name)
    noise, rir = tmp_path / "noise", tmp_path / "rir"
    shutil.copytree(data_dir / "noise", noise)
    shutil.copytree(data_dir / "rir", rir)
    corpus = Corpus((speech, noise, rir))
    corpus.baseline = {d: tree_hashes(d) for d in corpus}
    yield corpus
    for d, hashes in corpus.baseline.items():  # inputs are byte-identical after every run
        assert tree_hashes(d) == hashes, f"{d} was modified"


def default_args(corpus, out, *extra):
    speech, noise, rir = corpus
    return [speech, out, "--noise-dir", noise, "--rir-dir", rir, "--snr-db", 5, 15, *extra]


# -- end to end ---------------------------------------------------------------------------------
def test_end_to_end_outputs_manifest_and_replay(corpus, tmp_path):
    speech = corpus[0]
    out = tmp_path / "out"
    assert augment(*default_args(corpus, out, "--copies", 2, "--sample-rate", 22050)) == 0
    inputs = sorted(p.relative_to(speech).as_posix() for p in speech.rglob("*.wav"))
    assert len(inputs) == 4
    manifest = [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]
    assert len(manifest) == 8 and len({m["output"] for m in manifest}) == 8
    by_output = {m["output"]: m for m in manifest}
    for rel in inputs:
        x, _ = sf.read(speech / rel, dtype="float32")
        for k in range(2):
            out_rel = output_name(rel, k)
            assert out_rel.endswith(f".aug{k}.wav") and out_rel.rsplit("/", 1)[:-1] == rel.rsplit("/", 1)[:-1]
            y, sr = sf.read(out / out_rel, dtype="float32")
            assert sr == 22050 and y.ndim == 1 and np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.0
            assert np.std(y) > 1e-3
            # differs from the input at the output rate (the input resampled would be ~1.378x longer)
            assert not (y.shape == x.shape and np.allclose(y, x, atol=1e-3))
            line = by_output[out_rel]
            assert line["input"] == rel and line["copy"] == k and line["sample_rate"] == 22050
            assert line["n_samples"] == y.shape[0] and line["duration_s"] == pytest.approx(y.shape[0] / 22050)
            assert isinstance(line["seed"], int) and line["params"]["name"] == "Compose"
            # replaying the line reproduces the file byte for byte
            rebuilt = tmp_path / "replay" / Path(out_rel).name
            rebuilt.parent.mkdir(exist_ok=True)
            samples, rate = replay(line, out_path=rebuilt)
            assert rate == 22050 and rebuilt.read_bytes() == (out / out_rel).read_bytes()
    # the two copies of one input differ
    a, _ = sf.read(out / output_name(inputs[0], 0))
    b, _ = sf.read(out / output_name(inputs[0], 1))
    assert a.shape != b.shape or not np.allclose(a, b)
    assert not (out / "failures.jsonl").exists() or (out / "failures.jsonl").read_text() == ""


def test_workers_1_and_2_byte_identical(corpus, tmp_path):
    one, two = tmp_path / "w1", tmp_path / "w2"
    assert augment(*default_args(corpus, one, "--copies", 2, "--workers", 1)) == 0
    assert augment(*default_args(corpus, two, "--copies", 2, "--workers", 2)) == 0
    a, b = audio_outputs(one), audio_outputs(two)
    assert len(a) == 8 and a == b
    assert read_manifest(one) == read_manifest(two)
    # the files themselves, line order included (the pool's lines followed the workers' finishing order)
    assert (one / "manifest.jsonl").read_bytes() == (two / "manifest.jsonl").read_bytes()


def test_a_file_name_that_is_not_utf8_is_augmented_and_resumed_like_any(corpus, tmp_path, capsys):
    # its output's seed hashed the name as UTF-8: UnicodeEncodeError stopped the whole run, no output written;
    # and the rerun's completeness check could not open its output (soundfile encodes str names as UTF-8)
    first = sorted(corpus[0].glob("*.wav"))[0]
    odd = os.fsdecode(b"odd\xff name.wav")
    corpus.write(odd, first.read_bytes())
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        assert augment(*default_args(corpus, out, "--workers", workers)) == 0
        n = len(read_manifest(out))
        assert (out / output_name(odd, 0)).exists() and output_name(odd, 0) in read_manifest(out)
        capsys.readouterr()
        assert augment(*default_args(corpus, out, "--workers", workers)) == 0
        assert f"0 outputs written, {n} already complete" in capsys.readouterr().out
    assert audio_outputs(tmp_path / "w1") == audio_outputs(tmp_path / "w2")


@pytest.mark.parametrize("encoding", ["utf-8", "ascii", "latin-1"])
def test_the_summary_names_inputs_stdout_cannot_encode(corpus, tmp_path, monkeypatch, encoding):
    """A failed input whose name stdout could not encode (bytes that are not UTF-8 under a UTF-8 locale,
    whose stdout is strict; an é or € under an ASCII or Latin-1 one) lost the summary after the run:
    "unexpected UnicodeEncodeError: ... surrogates not allowed", as info once did."""
    import io

    names = [os.fsdecode(b"odd\xff name.wav"), "\u00e9t\u00e9 \u20ac.wav"]
    for name in names:
        corpus.write(name, b"not audio at all")
    out = io.TextIOWrapper(io.BytesIO(), encoding=encoding)  # (strict, as a UTF-8 locale's stdout is)
    monkeypatch.setattr(sys, "stdout", out)
    assert augment(*default_args(corpus, tmp_path / "out")) == 1
    out.seek(0)
    lines = out.read().splitlines()
    assert lines[0].startswith("noisegen augment: 4 outputs written, 0 already complete, 2 failed")
    failed = sorted(line.split(": ")[1] for line in lines if line.startswith("failed: "))
    assert failed == sorted(name.encode(encoding, "backslashreplace").decode(encoding) for name in names)
    assert lines[-1].startswith("noisegen augment: 2 failed; see ")


def test_shards_union_equals_unsharded(corpus, tmp_path):
    full, sharded = tmp_path / "full", tmp_path / "sharded"
    assert augment(*default_args(corpus, full, "--copies", 2)) == 0
    counts = []
    for k in range(2):
        assert augment(*default_args(corpus, sharded, "--copies", 2, "--shard", f"{k}/2")) == 0
        counts.append(len(read_manifest(sharded)))
    assert 0 < counts[0] < counts[1] == 8  # both shards did some of the work
    assert audio_outputs(sharded) == audio_outputs(full)
    assert read_manifest(sharded) == read_manifest(full)


def test_corrupt_input_is_reported_and_the_rest_written(corpus, tmp_path, capsys):
    speech = corpus[0]
    corpus.write("spk2/broken.wav", b"RIFF\x10\x00\x00\x00WAVEfmt garbage" * 3)
    corpus.write("empty.flac", b"")
    out = tmp_path / "out"
    assert augment(*default_args(corpus, out, "--copies", 2)) == 1
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert sorted(f["input"] for f in failures) == ["empty.flac", "spk2/broken.wav"]
    assert all(f["error"] and "\n" not in f["error"] for f in failures)
    assert len(read_manifest(out)) == 8 and len(audio_outputs(out)) == 8
    err = capsys.readouterr()
    assert "broken.wav" in err.out and "Traceback" not in err.out + err.err
    # fixing the input and rerunning clears its failure and writes the rest
    corpus.remove("spk2/broken.wav")
    corpus.remove("empty.flac")
    assert augment(*default_args(corpus, out, "--copies", 2)) == 0
    assert not (out / "failures.jsonl").exists()  # as a run that never failed (it was left empty)


def test_resume_skips_complete_and_never_overwrites(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    assert augment(*default_args(corpus, out, "--copies", 2)) == 0
    first = audio_outputs(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}
    assert augment(*default_args(corpus, out, "--copies", 2)) == 0
    assert "0 outputs written, 8 already complete" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")} == mtimes
    # An output with no manifest line and different bytes is refused without --overwrite ...
    victim = sorted(out.rglob("*.wav"))[0]
    rel = victim.relative_to(out).as_posix()
    lines = [line for line in (out / MANIFEST).read_text().splitlines() if json.loads(line)["output"] != rel]
    (out / MANIFEST).write_text("\n".join(lines) + "\n")
    sf.write(victim, np.zeros(100), 16000)
    assert augment(*default_args(corpus, out, "--copies", 2)) == 1
    assert sf.info(victim).frames == 100
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert [f["output"] for f in failures] == [rel] and "--overwrite" in failures[0]["error"]
    # ... and replaced with it; then every output has exactly one manifest line again.
    assert augment(*default_args(corpus, out, "--copies", 2, "--overwrite")) == 0
    assert audio_outputs(out) == first
    lines = (out / MANIFEST).read_text().splitlines()
    assert len(lines) == 8 and len(read_manifest(out)) == 8
    # A different seed is a different job: the existing outputs differ, so it is refused.
    assert augment(*default_args(corpus, out, "--copies", 2, "--seed", 7)) == 1
    assert audio_outputs(out) == first


def test_seed_changes_outputs_and_flac_mirrors_tree(corpus, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert augment(*default_args(corpus, a, "--seed", 1, "--format", "flac")) == 0
    assert augment(*default_args(corpus, b, "--seed", 2, "--format", "flac")) == 0
    oa, ob = audio_outputs(a), audio_outputs(b)
    assert sorted(oa) == sorted(ob) == [
        "cmu_arctic_us_aew_a0001.aug0.flac", "common_voice_en_17299458.aug0.flac",
        "spk2/cmu_arctic_us_axb_a0005.aug0.flac", "spk2/one_6f1ffef6_nohash_0.aug0.flac",
    ]
    assert all(oa[k] != ob[k] for k in oa)
    assert all(sf.info(a / k).format == "FLAC" for k in oa)


def test_float_wav_is_byte_deterministic(corpus, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert augment(*default_args(corpus, a, "--subtype", "FLOAT")) == 0
    time.sleep(1.1)  # libsndfile's PEAK chunk time stamp has one-second resolution
    assert augment(*default_args(corpus, b, "--subtype", "FLOAT")) == 0
    oa = audio_outputs(a)
    assert all(sf.info(a / k).subtype == "FLOAT" for k in oa)
    assert oa == audio_outputs(b)


def test_config_pipeline(corpus, tmp_path):
    speech = corpus[0]
    config = {"name": "Compose", "transforms": [
        {"name": "AddColoredNoise", "min_beta": 0.0, "max_beta": 1.0, "min_snr_db": 10, "max_snr_db": 10, "p": 1.0},
        {"name": "Gain", "min_gain_db": -3, "max_gain_db": -3, "p": 1.0},
    ]}
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(config))
    out = tmp_path / "out"
    assert augment(speech, out, "--config", path, "--sample-rate", 8000) == 0
    lines = list(read_manifest(out).values())
    assert len(lines) == 4
    for line in lines:
        assert line["sample_rate"] == 8000
        assert [t["name"] for t in line["pipeline"]["transforms"]] == ["AddColoredNoise", "Gain"]
        assert line["params"]["transforms"][0]["snr_db"] == 10.0


def test_name_collision_and_nested_out_dir(corpus, tmp_path):
    speech = corpus[0]
    y, sr = sf.read(speech / "cmu_arctic_us_aew_a0001.wav")
    sf.write(tmp_path / "x.flac", y, sr)
    corpus.write("cmu_arctic_us_aew_a0001.flac", (tmp_path / "x.flac").read_bytes())
    out = tmp_path / "deep" / "er" / "out"  # created with its parents
    assert augment(*default_args(corpus, out)) == 1
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert len(failures) == 1 and "collides" in failures[0]["error"]
    assert len(read_manifest(out)) == 4


def test_ogg_flac_mp3_inputs_and_stale_temp_files(corpus, tmp_path, data_dir):
    speech = corpus[0]
    corpus.write("bird.ogg", (data_dir / "noise" / "inspectorj_bird_robin.ogg").read_bytes())
    y, sr = sf.read(speech / "common_voice_en_17299458.wav", dtype="float32")
    sf.write(tmp_path / "x.flac", y, sr)
    corpus.write("spk2/voice.flac", (tmp_path / "x.flac").read_bytes())
    has_mp3 = "MP3" in sf.available_formats()  # libsndfile >= 1.1
    if has_mp3:
        sf.write(tmp_path / "x.mp3", y, sr, format="MP3")
        corpus.write("spk2/voice2.mp3", (tmp_path / "x.mp3").read_bytes())
    corpus.write("notes.txt", b"not audio")
    out = tmp_path / "out"
    # temporary files a killed run would have left (for our outputs), and files that are not ours
    (out / "spk2").mkdir(parents=True)
    stale = [out / "spk2" / ".voice.aug0.wav.ab_12xyz.part", out / ".bird.aug0.wav.4242.cmp.wav",
             out / "..bird.aug0.wav.4242.cmp.wav.zz9_ab12.part"]
    foreign = [out / ".keep", out / "spk2" / ".other.aug0.wav.ab_12xyz.part"]
    for p in stale + foreign:
        p.write_bytes(b"partial")
    assert augment(*default_args(corpus, out, "--sample-rate", 16000)) == 0
    assert not any(p.exists() for p in stale) and all(p.exists() for p in foreign)
    outputs = audio_outputs(out)
    assert {"bird.aug0.wav", "spk2/voice.aug0.wav"} <= set(outputs) and len(outputs) == 6 + has_mp3
    assert not has_mp3 or "spk2/voice2.aug0.wav" in outputs
    assert sf.info(out / "bird.aug0.wav").samplerate == 16000


def test_progress_bar_on_a_terminal():
    import io

    from noisegen.batch import _Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = _Progress(2, 10.0, enabled=True, stream=stream)
    bar.update(1, 5.0)
    bar.last = 0.0  # force a redraw
    bar.update(1, 5.0)
    bar.close()
    text = stream.getvalue()
    assert "\r[" in text and "2/2 inputs" in text and "100.0%" in text and "ETA" in text


def test_progress_eta_beyond_a_day():
    import io

    from noisegen.batch import _Progress

    stream = io.StringIO()
    bar = _Progress(100, 100 * 3600.0, enabled=True, stream=stream, interval=0.0)
    bar.t0 -= 3600.0  # an hour for the first 1 %: 99 hours to go (time.strftime gave 03:00:00)
    bar.update(1, 3600.0)
    assert "ETA 99:00:00" in stream.getvalue() or "ETA 98:59:59" in stream.getvalue(), stream.getvalue()


@pytest.mark.parametrize("case", [
    "missing_in", "out_is_in", "out_inside_in", "bad_json", "unknown_transform", "unwritable_out",
    "missing_noise", "bad_shard", "flac_float", "config_with_flags", "bad_snr",
])
def test_usage_errors_one_line_exit_2(case, corpus, tmp_path, capsys):
    speech, noise, rir = corpus
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "Compose", "transforms": [')
    unknown = tmp_path / "unknown.json"
    unknown.write_text('{"name": "NoSuchTransform"}')
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    out = tmp_path / "out"
    args = {
        "missing_in": [tmp_path / "nope", out],
        "out_is_in": [speech, speech],
        "out_inside_in": [speech, speech / "aug"],
        "bad_json": [speech, out, "--config", bad],
        "unknown_transform": [speech, out, "--config", unknown],
        "unwritable_out": [speech, blocker / "out"],
        "missing_noise": [speech, out, "--noise-dir", tmp_path / "nope"],
        "bad_shard": [speech, out, "--shard", "2/2"],
        "flac_float": [speech, out, "--format", "flac", "--subtype", "FLOAT"],
        "config_with_flags": [speech, out, "--config", bad, "--noise-dir", noise],
        "bad_snr": [speech, out, "--snr-db", 20, 10],
    }[case]
    assert augment(*args) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err and "error" in err[-1] and "Traceback" not in captured.err
    if case not in ("bad_shard",):  # argparse itself prints usage lines before its one-line error
        assert len(err) == 1, err
    assert not (speech / "aug").exists()
    assert not out.exists() or not any(out.rglob("*.wav"))


@pytest.mark.parametrize("flag", ["--noise-dir", "--rir-dir"])
@pytest.mark.parametrize("content", [None, b"not audio"])
def test_a_bank_folder_with_nothing_usable_is_named_by_its_option(flag, content, corpus, tmp_path, capsys):
    folder = tmp_path / "bank"
    folder.mkdir()
    if content is not None:
        (folder / "a.wav").write_bytes(content)
    assert augment(corpus[0], tmp_path / "out", flag, folder) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # (it said "bad pipeline: noise holds no audio files" and "pipeline: rir holds no usable audio file")
    assert err[-1].startswith(f"noisegen augment: error: {flag} holds no ") and str(folder) in err[-1], err
    assert len(err) == 1 + (content is not None)  # (the unreadable file is named in a warning first)


@pytest.mark.parametrize("argument", ["noise", "rir"])
def test_a_config_bank_with_nothing_usable_is_said_of_the_config(argument, corpus, tmp_path, capsys):
    # it said "error: pipeline: noise holds no usable audio file" (augment_folder's argument, never typed)
    (tmp_path / "bank").mkdir()
    (tmp_path / "bank" / "a.wav").write_bytes(b"not audio")
    config = tmp_path / "p.json"
    name = "AddBackgroundNoise" if argument == "noise" else "ApplyImpulseResponse"
    config.write_text(json.dumps([{"name": name, argument: "bank", "p": 1.0}]))
    assert augment(corpus[0], tmp_path / "out", "--config", config) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "warning: skipping" in err[0], err  # (the unreadable file is named in a warning first)
    assert err[1].startswith(f"noisegen augment: error: bad --config {str(config)!r}: {argument} holds no usable "), err


@pytest.mark.parametrize("flags", [["--format", "flac"], ["--output-format", "flac"],
                                   ["--output-format", "webdataset", "--format", "flac"]])
def test_flac_float_is_refused_in_the_options_spelling(flags, corpus, tmp_path, capsys):
    assert augment(corpus[0], tmp_path / "out", *flags, "--subtype", "FLOAT") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--subtype FLOAT is not available for flac output" in err[0], err
    assert "format='wav'" not in err[0] and "use --subtype PCM_16 or wav" in err[0]  # (it said "or format='wav'")


@pytest.mark.parametrize("value, expected", [
    ("x", "expected a number of seconds, got 'x'"),  # (argparse's own: "invalid float value: 'x'")
    ("inf", "expected a finite number of seconds >= 0, got 'inf'"),  # (it said "must be ... >= 0, got inf")
    ("nan", "expected a finite number of seconds >= 0, got 'nan'"),
    ("-1", "expected a finite number of seconds >= 0, got '-1'"),
])
def test_blockwise_min_s_errors_say_what_is_expected(value, expected, corpus, tmp_path, capsys):
    assert augment(corpus[0], tmp_path / "out", "--blockwise-min-s", value) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"noisegen augment: error: argument --blockwise-min-s: {expected}"]
    assert not (tmp_path / "out").exists()


def test_progress_lines_when_not_a_tty(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["augment", str(corpus[0]), str(out), "--progress"]) == 0
    err = capsys.readouterr().err
    assert "augment: 100.0% 4/4 inputs" in err and "\r" not in err


@pytest.mark.parametrize("flags", [[], ["--progress"], ["--no-progress"]])
def test_stderr_closed_is_no_failure(corpus, tmp_path, monkeypatch, capsys, flags):
    """Started with stderr closed (`noisegen augment IN OUT 2>&-`, sys.stderr is None), augment failed
    before the first file ("unexpected AttributeError: 'NoneType' object has no attribute 'isatty'"),
    or with --progress after the last one, exit 1 either way."""
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "stderr", None)
    assert cli.main(["augment", str(corpus[0]), str(out), *flags]) == 0
    assert "4 outputs written" in capsys.readouterr().out
    assert len(audio_outputs(out)) == 4


def test_python_api_summary(corpus, tmp_path):
    from noisegen.transforms import Compose, Gain

    s = augment_folder(corpus[0], tmp_path / "out", pipeline=Compose([Gain(min_gain_db=-6, max_gain_db=-1, p=1.0)]),
                       copies=3, seed=5, workers=1, progress=False)
    assert (s.n_inputs, s.n_outputs, s.n_written, s.n_skipped, s.n_failed) == (4, 12, 12, 0, 0)
    assert s.audio_s == pytest.approx(3 * (62081 + 25041 + 37600 + 16000) / 16000)
    assert "x real time" in str(s)


def test_summary_counts_one_in_the_singular():
    from noisegen.batch import AugmentSummary

    exists = {"input": "a.wav", "output": "a.aug0.wav", "error": "FileExistsError: a.aug0.wav was made ..."}
    s = AugmentSummary(n_inputs=1, n_outputs=1, n_written=1, n_redone=1, audio_s=1.0, wall_s=1.0, failures=[exists])
    text = str(s)  # (it said "1 outputs written", "(1 inputs, 1 outputs ...)", "1 output already exist ... were kept")
    assert "1 output written, 0 already complete" in text and "(1 input, 1 output in this shard)" in text
    assert "1 output redone because its input changed since it was made" in text
    assert "1 output already exists with other content (made with other settings) and was kept" in text
    assert "--overwrite to replace it" in text and "on 1 worker" in text
    s = AugmentSummary(n_inputs=2, n_outputs=4, n_written=4, n_redone=2, audio_s=1.0, wall_s=1.0, workers=2,
                       failures=[exists, exists])
    text = str(s)
    assert "4 outputs written" in text and "(2 inputs, 4 outputs in this shard)" in text and "on 2 workers" in text
    assert "2 outputs redone because their input changed since they were made" in text
    assert "2 outputs already exist with other content (made with other settings) and were kept" in text


def test_the_summary_escapes_control_characters_of_failed_names():
    """A failed input named with a newline split its "failed:" line in two (the second half read as a
    line of its own), and one holding ESC sent the terminal its escape sequence (the text turned red)."""
    from noisegen.batch import AugmentSummary

    names = ["bad\nname.wav", "esc\x1b[31mred.wav", "tab\there.wav", "c1\x85.wav"]
    failures = [{"input": n, "output": None, "error": f"NoisegenError: cannot read {n!r}"} for n in names]
    text = str(AugmentSummary(n_inputs=4, n_outputs=4, failures=failures))
    lines = [line for line in text.splitlines() if line.startswith("failed: ")]
    assert lines == [f"failed: {n.encode('unicode_escape').decode()}: NoisegenError: cannot read {n!r}"
                     for n in names]
    assert not any(c in text for c in "\x1b\t\x85") and len(text.splitlines()) == 2 + len(names)
    # (other names are printed as they are: an é, and a name that is not UTF-8 for the CLI's printable)
    odd = [os.fsdecode(b"odd\xff.wav"), "\u00e9t\u00e9.wav"]
    text = str(AugmentSummary(failures=[{"input": n, "output": None, "error": "x"} for n in odd]))
    assert [line for line in text.splitlines() if line.startswith("failed: ")] == [f"failed: {n}: x" for n in odd]


def test_failures_and_errors_keep_the_spaces_of_the_names_they_quote(tmp_path, capsys):
    """A failed input "Track  01.wav" (two spaces) was said to be '/.../Track 01.wav' in the summary and in
    failures.jsonl, and OUT_DIR "My  Out" (a file) 'My Out' in the usage error: every message was flattened
    with " ".join(text.split()), so each path it quoted named a file that is not there."""
    folder = tmp_path / "in  put"
    folder.mkdir()
    (folder / "Track  01.wav").write_text("not audio\n")
    out = tmp_path / "out"
    assert augment(folder, out) == 1
    said = capsys.readouterr().out
    assert f"failed: Track  01.wav: NoisegenError: cannot read audio file {str(folder / 'Track  01.wav')!r}" in said
    (failure,) = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert str(folder / "Track  01.wav") in failure["error"]
    (tmp_path / "My  Out").write_text("a file")
    assert augment(folder, tmp_path / "My  Out") == 2
    assert f"OUT_DIR {str(tmp_path / 'My  Out')!r} is a file" in capsys.readouterr().err


@pytest.mark.parametrize("n_exists, n_other", [(0, 3), (1, 0), (500, 0), (300, 200)])
def test_summary_of_many_failures_takes_no_failure_by_failure_comparison(n_exists, n_other):
    """The summary compared every failure with every FileExistsError one (`f not in exists`): a rerun
    with other settings over an OUT_DIR of 16,000 outputs spent 17 s, of 100,000 many minutes, printing it."""
    from noisegen.batch import AugmentSummary

    class Counted(dict):  # a failure record that counts the comparisons made with it
        compared = 0

        def __eq__(self, other):
            Counted.compared += 1
            return dict.__eq__(self, other)

        __hash__ = None

    exists = [Counted(input=f"s/{i}.wav", output=f"s/{i}.aug0.wav", error=f"FileExistsError: s/{i}.aug0.wav was made")
              for i in range(n_exists)]
    other = [Counted(input=f"t/{i}.wav", output=None, error="NoisegenError: cannot read") for i in range(n_other)]
    failures = [f for pair in zip(exists, other) for f in pair] + exists[n_other:] + other[n_exists:]
    text = str(AugmentSummary(n_inputs=len(failures), n_outputs=len(failures), failures=failures))
    assert Counted.compared == 0
    assert [line for line in text.splitlines() if line.startswith("failed: ")] == [
        f"failed: t/{i}.wav: NoisegenError: cannot read" for i in range(n_other)]
    assert (f"{n_exists} output{'s' if n_exists != 1 else ''} already exist" in text) == bool(n_exists)


# -- what an output was made from (issue 13.7) ---------------------------------------------------
def _mtimes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*.wav")}


def _edit_in_place(path: Path):
    """Same size, same mtime, other samples: only the content hash can tell."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    mid = len(data) // 2 & ~1  # inside the PCM data, which is most of the file
    data[mid:mid + 4000] = bytes(b ^ 0x5A for b in data[mid:mid + 4000])
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


@pytest.mark.parametrize("how", ["edited", "other_folder"])
@pytest.mark.parametrize("workers", [1, 2])
def test_changed_input_redoes_exactly_its_outputs(corpus, tmp_path, capsys, how, workers):
    speech = corpus[0]
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    extra = ("--copies", 2, "--workers", workers)
    assert augment(*default_args(corpus, out, *extra)) == 0
    before, mtimes = audio_outputs(out), _mtimes(out)
    changed = ["spk2/cmu_arctic_us_axb_a0005.wav", "common_voice_en_17299458.wav"]
    if how == "edited":
        src = speech
        for rel in changed:
            _edit_in_place(src / rel)
            corpus.baseline[speech][rel] = hashlib.sha256((src / rel).read_bytes()).hexdigest()
    else:  # another folder with the same names (copied with their times), two of them different
        src = tmp_path / "other"
        shutil.copytree(speech, src)
        for rel in changed:
            _edit_in_place(src / rel)
    capsys.readouterr()
    assert augment(src, *default_args(corpus, out, *extra)[1:]) == 0
    text = capsys.readouterr().out
    assert "4 outputs redone because their input changed" in text and "4 outputs written, 4 already complete" in text
    redone = {output_name(rel, k) for rel in changed for k in range(2)}
    after = audio_outputs(out)
    assert {k for k in after if after[k] != before[k]} == redone  # exactly those, and they did change
    assert {k for k, t in _mtimes(out).items() if t != mtimes[k]} == redone
    # the result is what a fresh run on the new inputs writes, manifest included (one line per output)
    assert augment(src, *default_args(corpus, fresh, *extra)[1:]) == 0
    assert after == audio_outputs(fresh)

    def made_from(folder):  # in_dir names where each input was found: the old folder for the kept outputs
        return {k: {f: v for f, v in line.items() if f != "in_dir"} for k, line in read_manifest(folder).items()}

    assert made_from(out) == made_from(fresh)
    assert len((out / MANIFEST).read_text().splitlines()) == 8
    # and a rerun now finds everything complete
    capsys.readouterr()
    assert augment(src, *default_args(corpus, out, *extra)[1:]) == 0
    assert "0 outputs written, 8 already complete" in capsys.readouterr().out


def test_a_changed_input_that_now_fails_is_not_counted_as_redone(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    assert augment(*default_args(corpus, out, "--copies", 2)) == 0
    before = audio_outputs(out)
    corpus.write("common_voice_en_17299458.wav", b"not audio any more")
    capsys.readouterr()
    assert augment(*default_args(corpus, out, "--copies", 2)) == 1
    text = capsys.readouterr().out
    assert "0 outputs written, 6 already complete, 1 failed" in text and "redone" not in text
    assert audio_outputs(out) == before and len(read_manifest(out)) == 8  # kept, with the lines they were made by


def test_manifest_records_the_input_and_a_touch_alone_redoes_nothing(corpus, tmp_path, capsys):
    speech = corpus[0]
    out = tmp_path / "out"
    assert augment(*default_args(corpus, out)) == 0
    for line in read_manifest(out).values():
        data = (speech / line["input"]).read_bytes()
        assert line["input_size"] == len(data)
        assert line["input_blake2b"] == hashlib.blake2b(data, digest_size=16).hexdigest()
        assert line["input_mtime_ns"] == (speech / line["input"]).stat().st_mtime_ns
    for p in speech.rglob("*.wav"):
        os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))
    capsys.readouterr()
    assert augment(*default_args(corpus, out)) == 0
    assert "0 outputs written, 4 already complete" in capsys.readouterr().out


# -- one run per OUT_DIR (issue 13.8) ------------------------------------------------------------
def _run_cli(*args, timeout=120):
    cmd = [sys.executable, "-m", "noisegen", *map(str, args)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=_env())


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.parametrize("held, ours, busy", [
    (None, None, True), (None, "0/2", True), ("0/2", None, True), ("0/2", "0/2", True), ("0/2", "0/4", True),
    ("0/2", "1/2", False), ("1/3", "2/3", False),
])
def test_busy_out_dir_exits_2_naming_the_running_one(corpus, tmp_path, held, ours, busy):
    from noisegen.batch.outdir import OutDirLock
    from noisegen.batch import check_shard

    out = tmp_path / "out"
    out.mkdir()
    shard = () if ours is None else ("--shard", ours)
    with OutDirLock(str(out), check_shard(held)):  # another run, alive (this process)
        r = _run_cli("augment", *default_args(corpus, out, *shard), "--no-progress")
    if busy:
        assert r.returncode == 2, r.stderr
        assert f"pid {os.getpid()}" in r.stderr and "in use" in r.stderr
        assert r.stderr.count("pid ") == 1  # the refused run named itself too (its own shard's lock file)
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        assert not any(out.rglob("*.wav")) and not (out / MANIFEST).exists()
    else:
        assert r.returncode == 0, r.stderr
        assert read_manifest(out)


def test_stale_lock_of_a_killed_run_is_taken_over(corpus, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # what a SIGKILLed run leaves: a lock file naming it, with no flock held (the kernel dropped it)
    (out / ".noisegen.lock").write_text(json.dumps({"pid": 999999, "host": "h", "started": "then", "shard": None}))
    r = _run_cli("augment", *default_args(corpus, out), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "pid 999999" in r.stderr and "taking its lock over" in r.stderr
    assert f"noisegen augment: warning: OUT_DIR {str(out)!r} was locked" in r.stderr  # (not "out_dir")
    assert len(read_manifest(out)) == 4
    assert (out / ".noisegen.lock").read_text() == ""  # released cleanly: no holder named


def test_duplicate_manifest_lines_are_repaired(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    assert augment(*default_args(corpus, out, "--copies", 2)) == 0
    lines = (out / MANIFEST).read_text().splitlines()
    (out / MANIFEST).write_text("\n".join(lines + lines[::-1] + lines[:3]) + "\n")  # what two racing runs left
    capsys.readouterr()
    assert augment(*default_args(corpus, out, "--copies", 2)) == 0
    assert "0 outputs written, 8 already complete" in capsys.readouterr().out
    kept = [json.loads(line)["output"] for line in (out / MANIFEST).read_text().splitlines()]
    assert sorted(kept) == sorted(json.loads(line)["output"] for line in lines)


def test_a_shards_sweep_leaves_the_manifest_rewrite_of_another_shard_alone(corpus, tmp_path):
    import noisegen.batch.plan
    from noisegen.batch.outdir import jsonl_lock

    out = tmp_path / "out"
    assert augment(*default_args(corpus, out)) == 0
    rewrite = out / f"{MANIFEST}.999999.rewrite"
    with jsonl_lock(str(out)):  # another shard's run drops superseded lines meanwhile
        rewrite.write_text((out / MANIFEST).read_text())
        noisegen.batch.plan._clean_temps(str(out), set())  # what a shard sweeps as it starts, or as a stop ends it
        os.replace(rewrite, out / MANIFEST)  # (the other run failed here with FileNotFoundError)
    (out / "failures.jsonl.999998.rewrite").write_text("")  # a rewrite cut short by a kill
    assert augment(*default_args(corpus, out, "--shard", "1/2")) == 0
    assert not list(out.glob("*.rewrite")) and len(read_manifest(out)) == 4


@pytest.mark.slow
def test_two_concurrent_runs_one_exits_2_and_no_duplicates(corpus, tmp_path):
    reference, out = tmp_path / "reference", tmp_path / "out"
    extra = ("--copies", 8)
    assert augment(*default_args(corpus, reference, *extra)) == 0
    first = _spawn(default_args(corpus, out, *extra))
    deadline = time.monotonic() + 120
    while not (out / ".noisegen.lock").exists() or not (out / ".noisegen.lock").read_text():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # hold the first run still while it holds the lock: the second must find it busy however fast runs are
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = _spawn(default_args(corpus, out, *extra))
        _, err2 = second.communicate(timeout=120)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    _, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1.decode()
    assert second.returncode == 2 and f"pid {first.pid}" in err2.decode()
    outputs = [json.loads(line)["output"] for line in (out / MANIFEST).read_text().splitlines()]
    assert len(outputs) == len(set(outputs)) == 32
    assert audio_outputs(out) == audio_outputs(reference)


# -- non-regular inputs, workers, banks (issues 13.12, 13.13) ------------------------------------
def test_fifo_socket_and_dangling_symlink_are_reported_not_opened(corpus, tmp_path):
    import socket

    speech = corpus[0]
    os.mkfifo(speech / "pipe.wav")
    os.mkfifo(speech / "spk2" / "pipe2.flac")
    (speech / "gone.wav").symlink_to(tmp_path / "nowhere.wav")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(speech / "sock.wav"))
    try:
        for d in (speech / "pipe.wav", speech / "spk2" / "pipe2.flac", speech / "gone.wav", speech / "sock.wav"):
            corpus.baseline[speech].pop(d.relative_to(speech).as_posix(), None)
        out = tmp_path / "out"
        for workers in (1, 2):
            r = _run_cli("augment", *default_args(corpus, out, "--workers", workers), "--no-progress")
            assert r.returncode == 1, r.stderr  # the FIFOs would block a reader forever
            failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
            assert sorted(f["input"] for f in failures) == ["gone.wav", "pipe.wav", "sock.wav", "spk2/pipe2.flac"]
            assert len(read_manifest(out)) == 4 and len(audio_outputs(out)) == 4
            assert "(8 inputs," in r.stderr + r.stdout  # the four never opened are inputs that failed
            assert "Traceback" not in r.stderr + r.stdout
        r = _run_cli("info", speech / "pipe.wav", speech / "cmu_arctic_us_aew_a0001.wav", speech / "sock.wav",
                     speech / "gone.wav", timeout=60)
        assert r.returncode == 1 and r.stdout.count("\n") == 1 and "cmu_arctic" in r.stdout
        assert r.stderr.count("\n") == 3 and "FIFO" in r.stderr and "socket" in r.stderr
    finally:
        sock.close()


def test_workers_are_capped_at_the_cpus_available(corpus, tmp_path, capsys):
    from noisegen.batch import available_cpus

    cpus = available_cpus()
    for asked in (cpus + 1, 1000):
        out = tmp_path / f"out{asked}"
        assert augment(corpus[0], out, "--workers", asked) == 0
        captured = capsys.readouterr()
        # (as the option is spelled: it said "workers=..." there, the Python argument)
        assert captured.err.count(f"noisegen augment: warning: --workers={asked} is more than the {cpus} CPU") == 1
        assert f"on {min(cpus, 4)} worker" in captured.out


def test_banks_are_loaded_once_in_the_parent_before_forking(corpus, tmp_path, monkeypatch):
    """Noise and RIR banks load in the parent at every input rate, so forked workers share them."""
    import noisegen.audio.reader as files

    speech, noise, rir = corpus
    y, sr = sf.read(speech / "cmu_arctic_us_aew_a0001.wav", dtype="float32")
    sf.write(tmp_path / "x.wav", y[::2], sr // 2)  # an input at another rate: banks needed at two rates
    corpus.write("half_rate.wav", (tmp_path / "x.wav").read_bytes())
    log = tmp_path / "loads.txt"

    def logged(fn):
        def wrapper(*args, **kwargs):
            with open(log, "a") as fh:
                fh.write(f"{os.getpid()} {kwargs.get('sample_rate')}\n")
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(files, "read_sound", logged(files.read_sound))  # every bank reads through it
    from noisegen.transforms import AddBackgroundNoise, ApplyImpulseResponse, Compose

    pipeline = Compose([ApplyImpulseResponse(rir=str(rir), p=1.0), AddBackgroundNoise(noise=str(noise), p=1.0)])
    s = augment_folder(speech, tmp_path / "out", pipeline=pipeline, copies=2, workers=2, progress=False)
    assert s.n_written == 10 and s.workers == 2
    loads = [line.split() for line in log.read_text().splitlines()]
    assert {pid for pid, _ in loads} == {str(os.getpid())}  # no worker loaded anything
    assert {rate for _, rate in loads} == {str(sr), str(sr // 2)}


# -- exit codes and messages (issue 13.15, 13.11) ------------------------------------------------
@pytest.mark.parametrize("where", ["save", "manifest"])
def test_full_disk_exits_1_with_one_line(corpus, tmp_path, capsys, monkeypatch, where):
    import errno

    import noisegen.batch
    import noisegen.batch.work

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(noisegen.batch.work, "save", full) if where == "save" else monkeypatch.setattr(
        noisegen.batch, "_append_line", full)
    out = tmp_path / "out"
    assert augment(*default_args(corpus, out, "--copies", 3)) == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "Traceback" not in captured.err
    # the run stopped at the first failed write instead of failing every output alike
    assert len(list(out.rglob("*.wav"))) <= (0 if where == "save" else 3)  # one input's copies
    if where == "save":
        assert len((out / "failures.jsonl").read_text().splitlines()) == 1


@pytest.mark.parametrize("case", ["deep_config", "deep_config_100", "snr_low", "snr_high", "snr_nan", "snr_swapped", "empty_out",
                                  "empty_in", "empty_noise", "noise_not_audio", "noise_list_not_audio",
                                  "rir_not_audio", "config_fifo", "rate_huge", "rate_zero", "copies_huge",
                                  "seed_huge", "workers_negative", "gain_130", "gain_overflow", "peaking_gain_huge",
                                  "flac_rate_high", "colored_min_freq_past_nyquist", "room_rate_below_1000",
                                  "simulated_rir_rate_below_1000"])
def test_bad_settings_exit_2_before_the_first_file(case, corpus, tmp_path, capsys, monkeypatch):
    speech, noise, rir = corpus
    text = tmp_path / "notes.wav"  # a regular file that is not audio
    text.write_text("not audio")
    configs = {
        "deep_config": '{"name": "Compose", "transforms": [' * 5000 + '{"name": "Gain"}' + "]}" * 5000,
        "deep_config_100": '{"name": "Compose", "transforms": [' * 100 + '{"name": "Gain"}' + "]}" * 100,
        "noise_not_audio": {"name": "AddBackgroundNoise", "noise": str(text), "p": 1.0},
        "noise_list_not_audio": {"name": "AddBackgroundNoise", "noise": [str(text)], "p": 1.0},
        "rir_not_audio": [{"name": "ApplyImpulseResponse", "rir": str(text), "p": 1.0}],
        # ranges each call refused (gain_db in [-120, 120], peaking gains in [-60, 60]) or overflowed on drawing
        "gain_130": {"name": "Gain", "min_gain_db": 130, "max_gain_db": 130, "p": 1.0},
        "gain_overflow": {"name": "Gain", "min_gain_db": -1e308, "max_gain_db": 1e308, "p": 1.0},
        "peaking_gain_huge": [{"name": "PeakingEQ", "min_gain_db": -1e308, "max_gain_db": 1e308, "p": 1.0}],
        # a setting only the rate refuses (above 8 kHz at 16 kHz): each input failed with exit 1
        "colored_min_freq_past_nyquist": {"name": "AddColoredNoise", "min_freq_hz": 10000, "p": 1.0},
        # simulated rooms need 1 kHz: at 800 Hz each input failed alike (exit 1)
        "room_rate_below_1000": {"name": "RoomSimulator", "p": 1.0},
        "simulated_rir_rate_below_1000": {"name": "ApplyImpulseResponse", "rir": "simulated", "p": 1.0},
    }
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # an empty path would mean this folder
    out = tmp_path / "out"
    if case in configs:
        cfg = tmp_path / "cfg.json"
        config = configs[case]
        cfg.write_text(config if isinstance(config, str) else json.dumps(config))
        rate = {"colored_min_freq_past_nyquist": 16000, "room_rate_below_1000": 800,
                "simulated_rir_rate_below_1000": 800}.get(case)
        args = [speech, out, "--config", cfg] + (["--sample-rate", rate] if rate else [])
    elif case == "config_fifo":
        os.mkfifo(tmp_path / "cfg.json")
        args = [speech, out, "--config", tmp_path / "cfg.json"]
    else:
        args = {
            "snr_low": [speech, out, "--snr-db", -1000, 10], "snr_high": [speech, out, "--snr-db", 10, 1e9],
            "snr_nan": [speech, out, "--snr-db", "nan", 10], "snr_swapped": [speech, out, "--snr-db", 20, 10],
            "empty_out": [speech, ""], "empty_in": ["", out], "empty_noise": [speech, out, "--noise-dir", ""],
            "rate_huge": [speech, out, "--sample-rate", 10_000_000_000], "rate_zero": [speech, out, "--sample-rate", 0],
            "copies_huge": [speech, out, "--copies", 10**9], "seed_huge": [speech, out, "--seed", 2**64],
            "workers_negative": [speech, out, "--workers", -1],
            "flac_rate_high": [speech, out, "--format", "flac", "--sample-rate", 700_000],  # FLAC: <= 655350
        }[case]
    assert augment(*args) == 2
    captured = capsys.readouterr()
    err = [line for line in captured.err.splitlines() if "warning" not in line]
    assert len(err) == 1 and "error" in err[0] and "Traceback" not in captured.err
    assert "path_or_dict" not in err[0]  # load_pipeline's argument: here, --config itself
    assert "failed:" not in captured.out
    assert list(work.iterdir()) == []
    assert not out.exists() or not any(out.rglob("*.wav"))


def test_sample_rate_10_ghz_refused_before_allocating(corpus, tmp_path):
    """Each refusal runs in a child of a fresh interpreter whose peak RSS is read back (ru_maxrss, KiB)."""
    probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
             "sys.stderr.write(r.stderr)")
    for args in (["augment", corpus[0], tmp_path / "out", "--sample-rate", 10_000_000_000],
                 ["augment", corpus[0], tmp_path / "out", "--sample-rate", 768_001],
                 ["synth", "pink", tmp_path / "p.wav", "--duration-s", 1, "--sample-rate", 10_000_000_000],
                 ["synth", "pink", tmp_path / "p.wav", "--duration-s", 1e9]):
        r = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "noisegen", *map(str, args)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120, env=_env())
        status, maxrss_kib = map(int, r.stdout.split())
        assert status == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
        assert maxrss_kib < 500 * 1024
        assert not (tmp_path / "out").exists() and not (tmp_path / "p.wav").exists()


@pytest.mark.parametrize("fmt", ["wav", "webdataset"])
def test_outputs_made_under_other_bank_rules_are_not_taken_as_done(corpus, tmp_path, capsys, monkeypatch, fmt):
    """The same pipeline reads the same folders into other banks under other rules (a file of one
    value now skipped shifts every later index; a multichannel RIR's first channel): a job of the
    release before is other settings, reported, never resumed as done."""
    import noisegen.batch.manifest
    import noisegen.batch.wds

    out = tmp_path / "out"
    args = default_args(corpus, out, "--copies", 1) + (["--output-format", "webdataset"] if fmt != "wav" else [])
    for module in (noisegen.batch.manifest, noisegen.batch.wds):
        monkeypatch.setattr(module, "BANK_RULES", 1)
    assert augment(*args) == 0
    monkeypatch.undo()
    capsys.readouterr()
    assert augment(*args) == 1
    text = capsys.readouterr().out
    assert "already exist" in text and "--overwrite" in text


@pytest.mark.parametrize("fmt", ["wav", "webdataset"])
def test_a_rerun_after_the_noise_folder_changed_says_so_and_overwrite_redoes_it(corpus, tmp_path, capsys, fmt):
    """The job key holds the noise folder's path, not its files: a rerun after a noise was added
    said every output was complete, and even --overwrite kept outputs made with the old noises."""
    noise, out = tmp_path / "my_noise", tmp_path / "out"
    shutil.copytree(corpus[1], noise)
    args = [corpus[0], out, "--noise-dir", noise, "--snr-db", 5, 15, "--copies", 1,
            *(["--output-format", "webdataset"] if fmt != "wav" else [])]
    files = lambda: {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.suffix in (".wav", ".tar")}
    assert augment(*args) == 0
    first, banks = files(), {line["banks"] for line in read_manifest(out).values()}
    capsys.readouterr()
    assert augment(*args) == 0 and "noise or RIR" not in capsys.readouterr().out  # unchanged: nothing to say
    shutil.copy(sorted(noise.glob("*.wav"))[-1], noise / "0_first.wav")  # sorts first: every index moves
    assert augment(*args) == 0
    text = capsys.readouterr().out
    assert files() == first and "kept, though made from other files of the noise or RIR folders" in text
    assert "--overwrite redoes" in text
    assert augment(*args, "--overwrite") == 0
    capsys.readouterr()
    assert files().keys() == first.keys() and files() != first
    assert {line["banks"] for line in read_manifest(out).values()}.isdisjoint(banks)
    assert augment(*args) == 0 and "noise or RIR" not in capsys.readouterr().out


@pytest.mark.parametrize("flag, where", [("--noise-dir", "."), ("--noise-dir", ".."), ("--rir-dir", ".")])
def test_a_bank_folder_that_holds_out_dir_is_refused(flag, where, corpus, tmp_path, capsys):
    """--noise-dir OUT_DIR (or a folder above it) ran: a rerun read the outputs back as noises, so a
    resumed run mixed other noises than an uninterrupted one and every rerun said the folder changed."""
    out = tmp_path / "bank" / "out"
    bank = (out / where).resolve()
    shutil.copytree(corpus[2] if flag == "--rir-dir" else corpus[1], out)
    assert augment(corpus[0], out, flag, bank) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"noisegen augment: error: {flag} {str(bank)!r} holds the output "
                                               f"folder {str(out)!r}"), err
    assert not any(out.rglob("*.aug0.wav")) and not (out / MANIFEST).exists()


def test_a_bank_folder_in_a_list_that_holds_out_dir_is_refused(corpus, tmp_path):
    """AddBackgroundNoise([OUT_DIR]) (a config's list of folders) was let through where OUT_DIR alone is
    refused: a rerun read the outputs back as noises all the same."""
    from noisegen import ParameterError
    from noisegen.transforms import AddBackgroundNoise
    out = tmp_path / "out"
    shutil.copytree(corpus[1], out)
    for folder in (out, tmp_path):
        with pytest.raises(ParameterError, match="^" + re.escape(f"noise {str(folder)!r} holds the output folder")):
            augment_folder(corpus[0], out, pipeline=AddBackgroundNoise([folder], p=1.0))
    assert not any(out.rglob("*.aug0.wav")) and not (out / MANIFEST).exists()


def test_rerun_with_other_settings_says_it_once(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    assert augment(*default_args(corpus, out, "--copies", 3)) == 0
    first = audio_outputs(out)
    capsys.readouterr()
    for other in (("--seed", 7), ("--sample-rate", 8000), ("--snr-db", 0, 1)):
        args = default_args(corpus, out, "--copies", 3)
        if other[0] == "--snr-db":
            args = args[: args.index("--snr-db")] + list(other) + args[args.index("--snr-db") + 3:]
        else:
            args = [*args, *other]
        assert augment(*args) == 1
        text = capsys.readouterr().out
        assert "FileExistsError" not in text and text.count("--overwrite") == 1 and "another OUT_DIR" in text
        assert "12 outputs already exist" in text
        assert audio_outputs(out) == first
    assert augment(*default_args(corpus, out, "--copies", 3, "--seed", 7, "--overwrite")) == 0
    assert audio_outputs(out) != first and len(audio_outputs(out)) == 12
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}
    capsys.readouterr()  # the same command again (a scheduler's rerun after a stop) resumes: nothing is redone
    assert augment(*default_args(corpus, out, "--copies", 3, "--seed", 7, "--overwrite")) == 0
    assert "0 outputs written, 12 already complete" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")} == mtimes


@pytest.mark.slow
def test_ctrl_c_with_workers_exits_130_without_tracebacks(corpus, tmp_path):
    for attempt in range(5):
        out = tmp_path / f"out{attempt}"
        proc = _spawn(default_args(corpus, out, "--copies", 150, "--workers", 2))  # 600 outputs: never done first
        deadline = time.monotonic() + 120
        while not ((out / MANIFEST).exists() and (out / MANIFEST).read_bytes().count(b"\n") >= 1 + 2 * attempt):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
        _, err = proc.communicate(timeout=120)
        err = err.decode()
        assert proc.returncode == 130, err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err
        assert err.strip().splitlines() == ["noisegen augment: interrupted; rerun the same command to resume"]


# -- config files, replay (issue 13.16) ---------------------------------------------------------
def test_config_paths_are_relative_to_the_config_file(corpus, tmp_path, monkeypatch):
    speech, noise, rir = corpus
    folder = tmp_path / "configs"
    shutil.copytree(noise, folder / "noises")
    shutil.copytree(rir, folder / "rirs")
    config = [
        {"name": "ApplyImpulseResponse", "rir": "rirs", "p": 1.0},
        {"name": "AddBackgroundNoise", "noise": ["noises/typing_excerpt.wav", "noises/running_tap_excerpt.wav"],
         "min_snr_db": 5, "max_snr_db": 5, "p": 1.0},
        {"name": "AddShortNoises", "sounds": "noises", "p": 1.0},
    ]
    (folder / "p.json").write_text(json.dumps(config))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = tmp_path / "out"
    assert augment(speech, out, "--config", os.path.relpath(folder / "p.json")) == 0
    pipeline = next(iter(read_manifest(out).values()))["pipeline"]["transforms"]
    assert pipeline[0]["rir"] == str(folder / "rirs")
    assert pipeline[1]["noise"] == [str(folder / "noises" / "typing_excerpt.wav"),
                                    str(folder / "noises" / "running_tap_excerpt.wav")]
    assert pipeline[2]["sounds"] == str(folder / "noises")


def test_a_config_path_from_the_home_folder_is_said_to_need_writing_in_full(corpus, tmp_path, monkeypatch, capsys):
    """A config's "~/noise" (no shell expands it in a JSON file) was joined to the config's folder and
    refused as "missing path '/cfgs/~/noise'", without the leading '~' hint a path on the command line gets."""
    speech, noise, rir = corpus
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    shutil.copytree(noise, tmp_path / "home" / "noise")
    (tmp_path / "cfgs").mkdir()
    config = tmp_path / "cfgs" / "p.json"
    config.write_text(json.dumps([{"name": "AddBackgroundNoise", "noise": "~/noise", "p": 1.0}]))
    monkeypatch.chdir(tmp_path)
    assert augment(speech, tmp_path / "out", "--config", config) == 2
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert "missing path '~/noise' (a leading '~' is expanded only by a shell" in err, err
    assert f"{str(tmp_path / 'home' / 'noise')!r} is there; write the path in full" in err, err
    (tmp_path / "cfgs" / "~").mkdir()  # a folder named '~' beside the config is still the one it names
    shutil.copytree(noise, tmp_path / "cfgs" / "~" / "noise")
    assert augment(speech, tmp_path / "out", "--config", config, "--no-progress") == 0


def test_a_pipeline_saved_into_another_folder_loads_back(corpus, tmp_path, monkeypatch):
    """to_dict keeps a path as given (from the current folder); a config written elsewhere then named a
    missing '<config folder>/data/noise' and was refused, in load_pipeline and in --config."""
    from noisegen.transforms import AddBackgroundNoise, Compose, load_pipeline

    speech, noise, rir = corpus
    shutil.copytree(noise, tmp_path / "data" / "noise")
    monkeypatch.chdir(tmp_path)
    config = Compose([AddBackgroundNoise("data/noise", min_snr_db=5, max_snr_db=5, p=1.0)]).to_dict()
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "p.json").write_text(json.dumps(config))
    (loaded,) = load_pipeline(str(tmp_path / "configs" / "p.json")).transforms
    assert os.path.samefile(loaded.to_dict()["noise"], tmp_path / "data" / "noise")
    assert augment(speech, tmp_path / "out", "--config", "configs/p.json") == 0
    (tmp_path / "configs" / "data" / "noise").mkdir(parents=True)  # where both exist, the config's folder wins
    shutil.copy(next((tmp_path / "data" / "noise").iterdir()), tmp_path / "configs" / "data" / "noise")
    (loaded,) = load_pipeline(str(tmp_path / "configs" / "p.json")).transforms
    assert os.path.samefile(loaded.to_dict()["noise"], tmp_path / "configs" / "data" / "noise")


def test_a_config_path_from_the_current_folder_replays_from_anywhere(corpus, tmp_path, monkeypatch):
    """A --config path found from the current folder (not beside the config) was recorded as given
    ('data/noise') in the manifest's pipeline: replaying a line from another folder was refused
    ("missing path 'data/noise'") or, where that folder had a data/noise, mixed other noises."""
    speech, noise, rir = corpus
    shutil.copytree(noise, tmp_path / "data" / "noise")
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "p.json").write_text(json.dumps(
        [{"name": "AddBackgroundNoise", "noise": "data/noise", "min_snr_db": 5, "max_snr_db": 5, "p": 1.0}]))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert augment(speech, out, "--config", "configs/p.json", "--subtype", "FLOAT") == 0
    line = next(iter(read_manifest(out).values()))
    recorded = line["pipeline"]["transforms"][0]["noise"]
    assert os.path.isabs(recorded) and os.path.samefile(recorded, tmp_path / "data" / "noise")
    monkeypatch.chdir(tmp_path / "configs")
    samples, _ = replay(line)
    written, _ = sf.read(out / line["output"], dtype="float32")
    np.testing.assert_array_equal(samples, written)


def test_replay_applies_the_recorded_peak_scale(corpus, tmp_path):
    from noisegen import ParameterError
    from noisegen.transforms import Compose, Gain, Transform

    pipeline = Compose([Gain(min_gain_db=12, max_gain_db=24, p=1.0)])  # every output goes over full scale
    out = tmp_path / "out"
    augment_folder(corpus[0], out, pipeline=pipeline, copies=2, subtype="FLOAT", progress=False)
    for line in read_manifest(out).values():
        assert 0 < line["peak_scale"] < 1
        written, _ = sf.read(out / line["output"], dtype="float32")
        samples, _ = replay(line)
        np.testing.assert_array_equal(samples, written)
        # = the documented recipe: apply_params, then multiply by peak_scale in float32
        y, sr = sf.read(corpus[0] / line["input"], dtype="float32")
        raw = Transform.from_dict(line["pipeline"]).apply_params(y, sample_rate=sr, params=line["params"])
        np.testing.assert_array_equal(samples, raw * np.float32(line["peak_scale"]))
        # the recorded value is what replay uses
        halved, _ = replay({**line, "peak_scale": line["peak_scale"] / 2})
        np.testing.assert_allclose(halved, written / 2, rtol=1e-6)
        # an edited scale outside (0, 1] is refused, not multiplied in (NaN or inf samples)
        for bad in (float("nan"), float("inf"), 1e308, 1.5, -0.5, 0.0, "x", [], True):
            with pytest.raises(ParameterError, match=r"line\['peak_scale'\]"):
                replay({**line, "peak_scale": bad})


def test_replay_refuses_paths_that_are_not_paths(corpus, tmp_path):
    from noisegen import ParameterError

    out = tmp_path / "out"
    augment_folder(corpus[0], out, copies=1, progress=False)
    line = next(iter(read_manifest(out).values()))
    for key, bad in (("input", None), ("input", 3), ("in_dir", None), ("in_dir", ["a"])):  # os.path.join's TypeError
        with pytest.raises(ParameterError, match=rf"line\['{key}'\] must be a path"):
            replay({**line, key: bad})
    for bad in ("false", 1, [True]):  # any truthy value took the blockwise path (a replay made otherwise)
        with pytest.raises(ParameterError, match=r"line\['blockwise'\] must be True or False"):
            replay({**line, "blockwise": bad})
    with pytest.raises(ParameterError, match="in_dir must be a path"):
        replay(line, in_dir=5)


def test_replay_says_when_the_noise_or_rir_files_changed_since(corpus, tmp_path):
    """A line's noise_index names a file of the bank as it was: the job key holds the folder's path,
    not its files, so an output replayed after a noise was added to the folder came out with another
    noise, and nothing said so."""
    import warnings

    from noisegen import NoiseBank, NoisegenWarning
    from noisegen.transforms import AddBackgroundNoise, Compose, Gain

    noise = tmp_path / "my_noise"
    shutil.copytree(corpus[1], noise)  # (the corpus's own folders must stay as they are)
    pipeline = Compose([AddBackgroundNoise(str(noise), p=1.0), Gain(p=1.0)])
    augment_folder(corpus[0], tmp_path / "out", pipeline=pipeline, copies=1, progress=False)
    lines = list(read_manifest(tmp_path / "out").values())
    assert len({line["banks"] for line in lines}) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same files: said nothing
        written = [replay(line)[0] for line in lines]
    shutil.copy(sorted(noise.glob("*.wav"))[-1], noise / "0_first.wav")  # sorts first: every index moves
    for line, before in zip(lines, written):
        with pytest.warns(NoisegenWarning, match="RIR files of .* changed since it was made"):
            again, _ = replay(line)
        assert not np.array_equal(again, before)
    loaded = AddBackgroundNoise(NoiseBank(str(corpus[1]), sample_rate=16000), p=1.0)  # written as its file list
    augment_folder(corpus[0], tmp_path / "loaded", pipeline=loaded, copies=1, sample_rate=16000, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the digest of the bank replay rebuilds, not of the one given
        [replay(line) for line in read_manifest(tmp_path / "loaded").values()]
    augment_folder(corpus[0], tmp_path / "plain", pipeline=Gain(p=1.0), copies=1, progress=False)
    assert all("banks" not in line for line in read_manifest(tmp_path / "plain").values())  # no bank, no field


# -- interruption -------------------------------------------------------------------------------
def _spawn(args, **kw):
    cmd = [sys.executable, "-m", "noisegen", "augment", *map(str, args), "--no-progress"]
    return subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **kw)


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(c) for c in fh.read().split()]
    except OSError:
        return []


def _open_files(pid):
    """The paths a process holds open; a descriptor closed while they are listed is passed over."""
    folder = f"/proc/{pid}/fd"
    paths = set()
    for fd in os.listdir(folder):
        try:
            paths.add(os.path.realpath(os.readlink(os.path.join(folder, fd))))
        except OSError:
            pass
    return paths


def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # a zombie: dead, not yet reaped
    except OSError:
        return True


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads the process tree from Linux's /proc")
def test_a_run_whose_parent_alone_is_killed_frees_out_dir_at_once(corpus, tmp_path):
    """The OOM killer kills one process, not its group: the pool's workers went on as orphans to
    the end of their inputs, holding OUT_DIR's lock through the descriptor they inherited, and a
    rerun was refused "in use" meanwhile. Workers now close their copies of the lock and end with
    their parent."""
    from noisegen.batch.outdir import OutDirLock

    out = tmp_path / "out"
    proc = _spawn(default_args(corpus, out, "--copies", 400, "--workers", 2))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the workers have started on outputs
        if (out / MANIFEST).exists() and (out / MANIFEST).read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.002)
    workers = _children(proc.pid)
    assert len(workers) == 2, workers
    lock_file = os.path.realpath(out / ".noisegen.lock")
    assert lock_file in _open_files(proc.pid)
    for w in workers:
        assert lock_file not in _open_files(w), "a worker holds a copy of OUT_DIR's lock"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    with OutDirLock(str(out)) as lock:  # at once: no orphan holds it
        assert lock.stale and f"pid {proc.pid} " in lock.stale[0]
    deadline = time.monotonic() + 30
    while not all(_gone(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(_gone(w) for w in workers), "the workers outlived their parent"
    rerun = _spawn(default_args(corpus, out, "--copies", 400, "--workers", 2))
    stdout, stderr = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, stderr.decode()


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_then_rerun_gives_the_uninterrupted_result(corpus, tmp_path, workers):
    reference, out = tmp_path / "reference", tmp_path / "out"
    copies = 150  # 600 outputs, a few seconds of work: the kernels are fast enough that 48 outputs once finished
    # between two polls of the manifest, and the kill landed after the end
    extra = ("--copies", copies, "--workers", workers)
    assert augment(*default_args(corpus, reference, *extra)) == 0
    expected = audio_outputs(reference)
    assert len(expected) == 4 * copies

    proc = _spawn(default_args(corpus, out, *extra))
    manifest = out / MANIFEST
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill once a few outputs are written, well before the end
        if manifest.exists() and manifest.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    done_before = len(read_manifest(out))
    assert 3 <= done_before < 4 * copies, "the kill must land part-way through"

    rerun = _spawn(default_args(corpus, out, *extra))
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr.decode()
    assert f"{done_before} already complete" in stdout.decode()
    leftovers = [p.name for p in out.rglob("*") if p.is_file() and p.name.startswith(".")]
    assert sorted(leftovers) == [".noisegen.jsonl.lock", ".noisegen.lock"]  # the locks stay (never unlinked) ...
    assert (out / ".noisegen.lock").read_text() == ""  # ... and name no holder after a clean exit
    assert audio_outputs(out) == expected  # no truncated file, identical bytes
    assert read_manifest(out) == read_manifest(reference)
    assert len(manifest.read_text().splitlines()) == 4 * copies
    for p in out.rglob("*.wav"):
        assert sf.info(p).frames > 0


@pytest.mark.slow
def test_killed_mid_manifest_line_is_repaired(corpus, tmp_path):
    out = tmp_path / "out"
    assert augment(*default_args(corpus, out)) == 0
    expected = audio_outputs(out)
    data = (out / MANIFEST).read_bytes()
    cut = data[: len(data) - 40]  # the last line cut short, as by a kill mid-write
    (out / MANIFEST).write_bytes(cut)
    assert augment(*default_args(corpus, out)) == 0
    assert audio_outputs(out) == expected
    lines = (out / MANIFEST).read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(line) for line in lines)


# -- throughput ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_throughput_one_core_default_pipeline(data_dir, tmp_path):
    """data/speech looped to ~4 min of audio; the summary prints xRT (run with -s to see it)."""
    src = tmp_path / "long"
    src.mkdir()
    for p in sorted((data_dir / "speech").glob("*.wav")):
        y, sr = sf.read(p, dtype="float32")
        sf.write(src / p.name, np.tile(y, int(np.ceil(60 * sr / len(y))))[: 60 * sr], sr)
    out = tmp_path / "out"
    args = [src, out, "--noise-dir", data_dir / "noise", "--rir-dir", data_dir / "rir", "--workers", 1]
    proc = subprocess.run([sys.executable, "-m", "noisegen", "augment", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"([0-9.]+) s \([0-9.]+ h\) of audio in ([0-9.]+) s: ([0-9.]+)x real time on 1 worker", proc.stdout)
    assert m is not None, proc.stdout
    assert 240 / 1.1 - 1 < float(m.group(1)) < 240 / 0.9 + 1  # speed perturbation changes the durations


# -- the example and the entry point ------------------------------------------------------------
def test_example_script(corpus, tmp_path):
    out = tmp_path / "ex"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "augment_folder.py"), str(corpus[0]), str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert len(read_manifest(out)) == 8 and len(audio_outputs(out)) == 8


@pytest.mark.parametrize("script", ["augment_folder.py", "train_torch.py", "evaluate_augmentation.py"])
def test_examples_do_nothing_when_imported_as_a_spawned_workers_main(script, tmp_path):
    """A worker started by spawn (macOS, Windows; augment_folder's workers=2, a DataLoader's) runs
    the script again as ``__mp_main__``: augment_folder.py did its whole job there, and under spawn
    the child failed in bootstrap while the parent waited for ever."""
    if script == "train_torch.py":
        pytest.importorskip("torch")
    code = (f"import runpy, sys; sys.argv = [{script!r}, '--bogus']; "
            f"runpy.run_path({str(ROOT / 'examples' / script)!r}, run_name='__mp_main__'); print('imported')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout == "imported\n" and not list(tmp_path.iterdir()), proc.stderr


@pytest.mark.parametrize("script, args, says", [
    ("augment_folder.py", ["{tmp}/missing"], "in_dir '{tmp}/missing' does not exist"),
    ("augment_folder.py", ["{corpus}", "{tmp}/a_file"], "out_dir '{tmp}/a_file' is a file, not a folder"),
    ("train_torch.py", ["--steps", "-3"], "--steps: must be at least 1, got -3"),
    ("train_torch.py", ["--workers", "-1"], "--workers: must be at least 0, got -1"),
    ("evaluate_augmentation.py", ["--copies", "0"], "--copies: must be at least 1, got 0"),
    ("evaluate_augmentation.py", ["--data", "{corpus}"], "expected FSDD recordings named DIGIT_SPEAKER_INDEX.wav"),
])
def test_examples_refuse_bad_arguments_in_one_line(corpus, tmp_path, script, args, says):
    """The examples gave tracebacks for a missing folder, a negative count, a folder not of FSDD."""
    if script == "train_torch.py":
        pytest.importorskip("torch")
    (tmp_path / "a_file").write_text("")
    fill = {"tmp": str(tmp_path), "corpus": str(corpus[0])}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), *(a.format(**fill) for a in args)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and says.format(**fill) in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_config_snr_out_of_range_exits_2_before_the_first_file(corpus, tmp_path, capsys):
    config = tmp_path / "p.json"
    config.write_text(json.dumps({"name": "AddColoredNoise", "min_snr_db": -1000, "max_snr_db": 10, "p": 1.0}))
    out = tmp_path / "out"
    assert augment(corpus[0], out, "--config", config) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "min_snr_db" in err[0] and "Traceback" not in err[0]
    assert not list(out.rglob("*.wav")) and not (out / "failures.jsonl").exists()


def test_config_and_ray_address_errors_speak_of_the_options(corpus, tmp_path, capsys):
    (tmp_path / "bad.json").write_text("[1")
    assert augment(corpus[0], tmp_path / "out", "--config", tmp_path / "bad.json") == 2
    assert augment(corpus[0], tmp_path / "out", "--ray-address", "head:6379") == 2
    err = capsys.readouterr().err
    assert "path_or_dict" not in err and "is not valid JSON" in err  # (load_pipeline's argument name)
    assert "error: --ray-address needs --engine ray" in err


def test_example_script_over_a_folder_of_unreadable_files_says_so(tmp_path):
    """Every input failing left no manifest line to replay: a StopIteration traceback."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.wav").write_bytes(b"garbage")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "augment_folder.py"), str(tmp_path / "in"),
                           str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "nothing written" in proc.stdout, proc.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_a_finished_run_lets_go_of_its_pipeline_and_task_words(tmp_path, workers):
    # augment_folder(workers=1) left its pipeline in the worker module's global, so a process that
    # ran a job and went on to train kept the job's noise banks (and convolvers) until the next job;
    # workers > 1 left the shared word per task (8 MB for a million inputs) mapped likewise.
    import gc
    import weakref

    import noisegen as ng
    from noisegen.batch import work

    (tmp_path / "in").mkdir()
    for i in range(3):
        y = 0.1 * np.random.default_rng(i).standard_normal(4000 + 7 * i).astype(np.float32)
        sf.write(tmp_path / "in" / f"{i}.wav", y, 16000)
    (tmp_path / "noise").mkdir()
    sf.write(tmp_path / "noise" / "n.wav", 0.1 * np.random.default_rng(9).standard_normal(16000), 16000)
    bank = ng.NoiseBank(str(tmp_path / "noise"), sample_rate=16000)
    pipeline = ng.AddBackgroundNoise(bank, min_snr_db=5.0, max_snr_db=10.0, p=1.0)
    held = weakref.ref(bank)
    summary = augment_folder(tmp_path / "in", tmp_path / "out", pipeline=pipeline, workers=workers, progress=False)
    assert summary.n_written == 3
    del bank, pipeline
    gc.collect()
    assert held() is None
    assert work._PIPELINE is None and work._TAKEN is None

@pytest.mark.parametrize("name, value", [
    ("copies", 10**12), ("copies", 10_001), ("copies", 2**63),  # planned one by one: a run that never started
    ("in_dir", 3), ("in_dir", 0.5), ("in_dir", None), ("in_dir", ["in"]),  # (os.path.isdir(3): a descriptor)
    ("out_dir", 7), ("out_dir", None),
    ("format", ["wav"]), ("format", {"wav": 1}), ("subtype", ["PCM_16"]),  # unhashable: TypeError from a dict
    ("overwrite", "False"), ("overwrite", 0.5), ("overwrite", None), ("progress", "no"),  # bool(): replaced outputs
], ids=repr)
def test_augment_folder_refuses_hostile_arguments_by_name_before_writing(tmp_path, data_dir, name, value):
    """augment_folder's own arguments: each a ParameterError naming it, before out_dir is made (a hang, a
    TypeError from os or a dict, and overwrite="False" taken for True were what they gave)."""
    from noisegen import ParameterError
    from noisegen.batch import default_pipeline

    args = {"in_dir": data_dir / "speech", "out_dir": tmp_path / "out", "progress": False, name: value}
    with pytest.raises(ParameterError, match=name):
        augment_folder(**args)
    assert not (tmp_path / "out").exists()
    for snr_db in (10.0, "5 15", (5.0, 10.0, 15.0), None, ()):  # unpacked as (lo, hi): Python's own errors
        with pytest.raises(ParameterError, match="snr_db"):
            default_pipeline(snr_db=snr_db)
    for folder in (3, 0.5, [str(data_dir / "noise")]):
        with pytest.raises(ParameterError, match="noise_dir"):
            default_pipeline(noise_dir=folder)


@pytest.mark.parametrize("low, high", [("5.0000001", "5"), ("-3", "-3.0000004"), ("20", "10")])
def test_swapped_snr_bounds_are_shown_swapped(low, high, tmp_path, capsys):
    """--snr-db 5.0000001 5 was refused as "--snr-db MIN must not exceed MAX, got 5 5"."""
    (tmp_path / "in").mkdir()
    assert augment(tmp_path / "in", tmp_path / "out", "--snr-db", low, high) == 2
    shown = capsys.readouterr().err.strip().rsplit("got ", 1)[1].split()
    assert float(shown[0]) > float(shown[1]) and not (tmp_path / "out").exists(), shown


@pytest.mark.parametrize("workers", [1, 2])
def test_the_workers_warnings_reach_the_caller_at_its_line(tmp_path, workers):
    """A forked worker's warnings (a silent input, a truncated one) come to the caller as workers=1's
    do: at its line, seen by its catch_warnings (they named multiprocessing's pool.py, and were
    shown by the worker, out of the caller's reach)."""
    import warnings

    from noisegen import NoisegenWarning
    from noisegen.transforms import Compose, Normalize

    src = tmp_path / "in"
    src.mkdir()
    tone = (0.3 * np.sin(np.arange(4000) * 0.1)).astype(np.float32)
    sf.write(src / "a.wav", tone, 16000)
    sf.write(src / "silent.wav", np.zeros(3000, np.float32), 16000)
    sf.write(src / "cut.wav", tone, 16000)
    (src / "cut.wav").write_bytes((src / "cut.wav").read_bytes()[:5000])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = augment_folder(src, tmp_path / "out", pipeline=Compose([Normalize(p=1.0)]), copies=2,
                           workers=workers, progress=False)
    assert s.n_written == 6
    said = sorted(str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)
                  and "CPU" not in str(w.message))  # (workers=2 capped on a machine of one CPU)
    assert [w.filename for w in caught] == [__file__] * len(caught)
    assert len(said) == 3 and "is truncated" in said[0] and all("silent" in m for m in said[1:]), said


@pytest.mark.parametrize("workers", [1, 2])
def test_a_warning_of_an_input_is_one_line_whatever_the_copies(tmp_path, capsys, workers):
    """``--copies 3`` of a silent input printed Normalize's identical warning three times."""
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "a.wav", (0.3 * np.sin(np.arange(4000) * 0.1)).astype(np.float32), 16000)
    sf.write(src / "silent.wav", np.zeros(3000, np.float32), 16000)
    sf.write(src / "quiet.wav", np.zeros(2000, np.float32), 16000)
    config = tmp_path / "p.json"
    config.write_text(json.dumps({"name": "Compose", "transforms": [{"name": "Normalize", "p": 1.0}]}))
    for copies in (1, 3):
        assert augment(src, tmp_path / f"out{copies}", "--config", config, "--copies", copies,
                       "--workers", workers) == 0
        said = [line for line in capsys.readouterr().err.splitlines() if "warning:" in line and "CPU" not in line]
        assert sorted(said) == [f"noisegen augment: warning: Normalize: the input is silent, so no peak level "
                                f"can be set; it is returned unchanged (input {name!r})"
                                for name in ("quiet.wav", "silent.wav")]


@pytest.mark.parametrize("blockwise", [False, True])
def test_a_silent_input_under_the_default_pipeline_warns_one_line_whatever_the_copies(tmp_path, capsys, blockwise):
    """Each copy of a silent input named the noise crop it drew in "the signal is silent" (a warning of
    the signal alone): ``--copies 3`` said three lines for one oddity, whole or in blocks."""
    src, noise, rir = tmp_path / "in", tmp_path / "noise", tmp_path / "rir"
    for d in (src, noise, rir):
        d.mkdir()
    rng = np.random.default_rng(0)
    sf.write(src / "a.wav", (0.3 * np.sin(np.arange(4000) * 0.1)).astype(np.float32), 16000)
    sf.write(src / "silent.wav", np.zeros(3000, np.float32), 16000)
    sf.write(noise / "n.wav", (0.1 * rng.standard_normal(8000)).astype(np.float32), 16000)
    r = np.zeros(400, np.float32)
    r[0], r[50:] = 1.0, 0.01 * rng.standard_normal(350)
    sf.write(rir / "r.wav", r, 16000)
    extra = ("--blockwise-min-s", 0.01) if blockwise else ()
    assert augment(src, tmp_path / "out", "--noise-dir", noise, "--rir-dir", rir, "--copies", 3, *extra) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]
    assert said == ["noisegen augment: warning: mix_at_snr: the signal is silent, so no SNR can be set; "
                    "the signal is returned unchanged (input 'silent.wav')"]


@pytest.mark.parametrize("odd_rate", [1, 8])
def test_a_bank_file_skipped_at_a_refused_rate_is_still_named(tmp_path, capsys, odd_rate):
    """Inputs at 16 kHz and at a rate no noise reaches (1 Hz): the silent noise file was first met
    at the refused rate, whose warnings are dropped, and was then named nowhere."""
    src, noise = tmp_path / "in", tmp_path / "noise"
    src.mkdir(), noise.mkdir()
    sf.write(src / "a.wav", (0.3 * np.sin(np.arange(4000) * 0.1)).astype(np.float32), 16000)
    sf.write(src / "odd.wav", np.array([0.5, -0.5, 0.2], np.float32), odd_rate)
    sf.write(noise / "n.wav", (0.1 * np.random.default_rng(0).standard_normal(8000)).astype(np.float32), 16000)
    sf.write(noise / "silent.wav", np.zeros(8000, np.float32), 16000)
    assert augment(src, tmp_path / "out", "--noise-dir", noise, "--snr-db", 5, 15) == 1  # (odd.wav fails)
    said = [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]
    assert said == [f"noisegen augment: warning: skipping noise file {str(noise / 'silent.wav')!r}: silent"]


def test_a_skipped_noise_files_name_is_quoted_not_sent_to_the_terminal(tmp_path, capsys):
    """A silent noise file named with ESC sent the terminal its escape sequence in the 'skipping' warning,
    and one named with a newline was said as another name (the line break made a space): the bank named
    its files raw, where the stream's warnings and the summary quote or escape them."""
    src, noise = tmp_path / "in", tmp_path / "noise"
    src.mkdir(), noise.mkdir()
    sf.write(src / "a.wav", (0.3 * np.sin(np.arange(4000) * 0.1)).astype(np.float32), 16000)
    sf.write(noise / "n.wav", (0.1 * np.random.default_rng(0).standard_normal(8000)).astype(np.float32), 16000)
    names = ["esc\x1b[31mred.wav", "new\nline.wav"]
    for name in names:
        sf.write(noise / name, np.zeros(8000, np.float32), 16000)
    assert augment(src, tmp_path / "out", "--noise-dir", noise, "--snr-db", 5, 15) == 0
    err = capsys.readouterr().err
    assert "\x1b" not in err
    said = sorted(line for line in err.splitlines() if "warning:" in line)
    assert said == [f"noisegen augment: warning: skipping noise file {str(noise / n)!r}: silent" for n in names]


def test_bank_files_are_decoded_once_for_all_the_input_rates(tmp_path, monkeypatch):
    """Inputs at three rates: each noise and RIR file was decoded at each rate (a third of a bank's load);
    it is decoded once, and the outputs are those of loading each rate on its own."""
    import contextlib

    import noisegen.audio.reader as reader
    import noisegen.batch.plan as plan

    src, noise, rir = tmp_path / "in", tmp_path / "noise", tmp_path / "rir"
    for folder in (src, noise, rir):
        folder.mkdir()
    rng = np.random.default_rng(0)
    for rate in (8000, 16000, 44100):
        sf.write(src / f"a{rate}.wav", (0.3 * rng.standard_normal(rate // 2)).astype(np.float32), rate)
    sf.write(noise / "n1.wav", (0.1 * rng.standard_normal((22050, 2))).astype(np.float32), 22050)
    sf.write(noise / "n2.flac", (0.1 * rng.standard_normal(20000)).astype(np.float32), 16000)
    sf.write(rir / "r.wav", (np.exp(-np.arange(2000) / 300.0) * rng.standard_normal(2000)).astype(np.float32), 48000)
    decoded = []
    real = reader.read_own_rate
    monkeypatch.setattr(reader, "read_own_rate", lambda path, **kw: decoded.append(os.path.basename(path)) or real(path, **kw))
    args = ("--noise-dir", noise, "--rir-dir", rir, "--seed", 3, "--workers", 1)
    assert augment(src, tmp_path / "once", *args) == 0
    assert sorted(decoded) == ["n1.wav", "n2.flac", "r.wav"]
    monkeypatch.setattr(plan, "decoding_once", contextlib.nullcontext)
    decoded.clear()
    assert augment(src, tmp_path / "each", *args) == 0
    assert len(decoded) == 9  # (three files at three rates: what the first run saved)
    assert audio_outputs(tmp_path / "once") == audio_outputs(tmp_path / "each") and len(audio_outputs(tmp_path / "once")) == 3


def test_a_bank_file_changed_while_decoding_once_is_read_again(tmp_path):
    from noisegen.audio import reader

    path = tmp_path / "n.wav"
    sf.write(path, np.full(1000, 0.25, np.float32) * np.sign(np.sin(np.arange(1000))), 16000)
    with reader.decoding_once():
        first, _ = reader.read_sound(str(path), sample_rate=16000)
        first[:] = 0  # (a bank's own copy: the held samples are not changed)
        again, _ = reader.read_sound(str(path), sample_rate=8000)
        sf.write(path, 0.5 * np.ones(1000, np.float32) * np.sign(np.sin(np.arange(1000))), 16000)
        os.utime(path, ns=(1, 1))
        changed, _ = reader.read_sound(str(path), sample_rate=16000)
    assert np.any(again) and np.max(np.abs(changed)) == 0.5
    for gone in (tmp_path / "gone.wav", tmp_path / "no" / "gone.wav"):  # (said as the reader says it, not os.stat)
        with reader.decoding_once(), pytest.raises(FileNotFoundError, match="no such audio file"):
            reader.read_sound(str(gone), sample_rate=16000)


def test_decoding_once_holds_its_bound_at_most(tmp_path, monkeypatch):
    """The samples of every bank file were held through all the rates: a folder of long 48 kHz noises
    raised augment's peak memory by all of them (4 x 5 minutes: 384 -> 600+ MB peak RSS). The first files up
    to the bound are held; those past it are decoded again at each rate."""
    from noisegen.audio import reader

    paths = [str(tmp_path / f"n{i}.wav") for i in range(5)]
    for i, path in enumerate(paths):
        sf.write(path, (0.1 * np.random.default_rng(i).standard_normal(4000)).astype(np.float32), 16000)
    monkeypatch.setattr(reader, "HELD_DECODED_BYTES", 3 * 4000 * 4)  # (three files' float32 samples)
    decoded = []
    real = reader.read_own_rate
    monkeypatch.setattr(reader, "read_own_rate", lambda path, **kw: decoded.append(path) or real(path, **kw))
    with reader.decoding_once():
        once = [reader.read_sound(path, sample_rate=rate)[0] for rate in (8000, 16000, 22050) for path in paths]
        assert reader._DECODED.get().nbytes <= 3 * 4000 * 4
    assert sorted(decoded) == sorted(paths + 2 * paths[3:])  # (the first three held, the others read again)
    alone = [reader.read_sound(path, sample_rate=rate)[0] for rate in (8000, 16000, 22050) for path in paths]
    for a, b in zip(once, alone):
        np.testing.assert_array_equal(a, b)


def test_decoding_once_reads_each_bank_files_header_once(tmp_path, monkeypatch):
    """The check for a long bank file (read in blocks past reader.BLOCKWISE_BYTES) read every file's header again
    at each rate a folder holds (0.5-1 ms an Ogg file: seconds for a bank of thousands at seven rates); within
    decoding_once it is read once, and a changed file is looked at again."""
    from noisegen.audio import reader

    paths = [str(tmp_path / f"n{i}.ogg") for i in range(3)]
    for i, path in enumerate(paths):
        sf.write(path, (0.1 * np.random.default_rng(i).standard_normal(4000)).astype(np.float32), 16000)
    headers = []
    real = reader._header_bytes
    monkeypatch.setattr(reader, "_header_bytes", lambda path: headers.append(path) or real(path))
    with reader.decoding_once():
        for rate in (8000, 16000, 22050):
            for path in paths:
                reader.read_sound(path, sample_rate=rate)
        assert sorted(headers) == sorted(paths)
        sf.write(paths[0], np.full(4000, 0.1, np.float32) * np.sign(np.sin(np.arange(4000))), 16000)
        os.utime(paths[0], ns=(1, 1))
        reader.read_sound(paths[0], sample_rate=8000)
    assert sorted(headers) == sorted(paths + paths[:1])


def test_an_output_name_past_the_file_systems_limit_fails_before_the_work(tmp_path, monkeypatch):
    """An input named with 251 characters plus ".wav" failed only when its output (260 bytes) was written,
    after its audio had been processed; it fails in the plan now, saying why, and the others are written."""
    from noisegen.transforms import Compose, Gain

    src = tmp_path / "in"
    src.mkdir()
    y = (0.1 * np.sin(np.arange(1600) * 0.05)).astype(np.float32)
    long_name = "x" * 251 + ".wav"
    for name in (long_name, "ok.wav"):
        sf.write(src / name, y, 16000)
    summary = augment_folder(src, tmp_path / "out", pipeline=Compose([Gain(p=1.0)]), progress=False)
    failures = [json.loads(line) for line in (tmp_path / "out" / "failures.jsonl").read_text().splitlines()]
    assert [f["input"] for f in failures] == [long_name], failures
    assert re.search(r"output name is 260 bytes, over the 255 the output folder.s file system takes",
                     failures[0]["error"])
    assert list(read_manifest(tmp_path / "out")) == ["ok.aug0.wav"] and summary.n_failed == 1


def test_a_quoted_tilde_path_says_the_shell_did_not_expand_it(tmp_path, monkeypatch, capsys):
    """noisegen augment '~/speech' OUT said "IN_DIR '~/speech' does not exist" of a folder that is there."""
    (tmp_path / "speech").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))
    assert augment("~/speech", tmp_path / "out") == 2
    assert f"leading '~' is expanded only by a shell, and not in quotes: '{tmp_path / 'speech'}' is there" \
        in capsys.readouterr().err
    assert augment(tmp_path / "speech", tmp_path / "out", "--noise-dir", "~/noise") == 2
    assert "--noise-dir '~/noise' does not exist (a leading '~'" in capsys.readouterr().err


def test_an_out_dir_starting_with_an_unexpanded_tilde_is_refused_not_made_here(corpus, tmp_path, monkeypatch, capsys):
    from noisegen import ParameterError

    # noisegen augment IN '~/out' (quoted: no shell expands it) made ./~/out, a folder named '~' in the
    # current one, which a later 'rm -rf ~' takes for the home folder; now a usage error saying so
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = tmp_path / "gain.json"
    config.write_text(json.dumps({"name": "Gain", "p": 1.0}))
    assert augment(corpus[0], "~/out", "--config", config) == 2
    err = capsys.readouterr().err
    assert "OUT_DIR '~/out' starts with '~', which only a shell expands" in err and str(tmp_path / "home" / "out") in err
    assert os.listdir(work) == []
    with pytest.raises(ParameterError, match=r"out_dir '~/out' starts with '~'"):
        augment_folder(corpus[0], "~/out")
    (work / "~").mkdir()  # a folder of that name, made on purpose: taken as it is
    assert augment(corpus[0], "~/out", "--config", config) == 0
    assert (work / "~" / "out" / MANIFEST).is_file()
