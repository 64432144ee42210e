"""``noisegen augment`` under faults: interrupts, odd rates, name collisions across shards,
unreadable folders and things in the way of its outputs.

Inputs are small synthetic files in ``tmp_path`` (long ones where a test needs a
file processed in blocks); noise and room responses come from ``data/``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import noisegen
from noisegen import cli
from noisegen.audio import files as audio_files_module
from noisegen.batch import augment_folder, read_manifest
from noisegen.batch.manifest import _LONGEST_LINE

ROOT = Path(__file__).resolve().parents[1]
SR = 16000
LOCKS = {".noisegen.lock", ".noisegen.jsonl.lock"}


def _write(path: Path, seconds: float, sr: int = SR, seed: int = 0):
    path.parent.mkdir(parents=True, exist_ok=True)
    y = 0.1 * np.random.default_rng(seed).standard_normal(max(1, int(seconds * sr))).astype(np.float32)
    sf.write(path, y, sr)


def _inputs(folder: Path, names=("a.wav", "b.wav", "spk/c.wav", "spk/d.wav")) -> Path:
    for i, name in enumerate(names):
        _write(folder / name, 0.5 + 0.1 * i, seed=i)
    return folder


def _hidden(folder: Path) -> list[str]:
    """Hidden files a run left in ``folder`` (its lock files aside)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob(".*") if p.is_file() and p.name not in LOCKS)


def _augment(*args) -> int:
    return cli.main(["augment", *map(str, args), "--no-progress"])


def _audio(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.wav")) if p.is_file()}


# -- interrupts -------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("sig, workers, output", [
    (signal.SIGINT, 2, "wav"), (signal.SIGTERM, 2, "wav"), (signal.SIGTERM, 1, "wav"), (signal.SIGINT, 1, "webdataset"),
    (signal.SIGTERM, 2, "webdataset"), (signal.SIGHUP, 1, "wav"), (signal.SIGHUP, 2, "wav"),
])
def test_an_interrupt_leaves_no_temporary_file_and_a_rerun_finishes(tmp_path, cli_env, sig, workers, output):
    """SIGHUP (the terminal closed) killed the run where it stood: its temporary files (a long input's
    spill and part file, 90 MB) and its lock record stayed, and the status was a bare 129."""
    folder = _inputs(tmp_path / "in")
    for k in range(2):  # long enough to be processed in blocks, through a spill file, for a while
        _write(folder / f"long{k}.wav", 240.0, seed=10 + k)
    out = tmp_path / "out"
    args = [folder, out, "--copies", 3, "--workers", workers, "--blockwise-min-s", 10, "--output-format", output]
    if output == "webdataset":
        args += ["--shard-size", 2]
    proc = subprocess.Popen([sys.executable, "-m", "noisegen", "augment", *map(str, args), "--no-progress"], cwd=ROOT,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))  # (not nohup's)
    deadline, seen = time.monotonic() + 180, False
    while not seen and proc.poll() is None and time.monotonic() < deadline:
        seen = out.is_dir() and bool(_hidden(out))
        time.sleep(0.002)
    assert seen, "no temporary file was ever seen: the run is too short to test"
    if sig in (signal.SIGINT, signal.SIGHUP):
        os.killpg(proc.pid, sig)  # a terminal's Ctrl-C, or its closing: the whole process group
    else:
        proc.send_signal(sig)  # `kill PID`: the parent alone, which stops its workers
    _, err = proc.communicate(timeout=120)
    err = err.decode()
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.strip().splitlines()[-1].endswith(("interrupted; rerun the same command to resume",
                                                   "terminated; rerun the same command to resume",
                                                   "hung up; rerun the same command to resume")), err
    assert _hidden(out) == []
    assert _augment(*args) == 0  # the rerun finishes, and leaves nothing hidden either
    assert _hidden(out) == []


_HARD_STOP = """
import ctypes, os, signal, sys
from noisegen import cli
from noisegen.batch import wds, work

render = work._render
calls = []

def dropped():  # a SIGTERM whose exception a ctypes callback drops (llvmlite's, while Numba compiles)
    os.kill(os.getpid(), signal.SIGTERM)

c_dropped = ctypes.CFUNCTYPE(None)(dropped)

def rendering(*args, **kwargs):
    calls.append(1)
    if len(calls) == 3:  # some outputs written, their files renamed into place, the rest not begun
        c_dropped()
    return render(*args, **kwargs)

work._render = wds._render = rendering
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("output", ["wav", "webdataset"])
def test_a_hard_stop_leaves_no_lock_record_and_no_temporary_file(tmp_path, cli_env, output):
    """A stop that cannot unwind (the signal's exception dropped in a callback) ends the command where
    it stands, removing temporary files; it left the lock's record, so the rerun warned that OUT_DIR
    'was locked by a run that did not finish'. The lock is now dropped as the last of the sweeps."""
    folder = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    args = ["augment", folder, out, "--copies", 2, "--workers", 1, "--no-progress", "--output-format", output]
    done = subprocess.run([sys.executable, "-c", _HARD_STOP, *map(str, args)], cwd=ROOT, env=cli_env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 143 and done.stderr.strip().splitlines()[-1] == (
        "noisegen augment: terminated; rerun the same command to resume"), done.stderr
    assert _hidden(out) == [] and (out / ".noisegen.lock").read_text() == ""
    done = subprocess.run([sys.executable, "-m", "noisegen", *map(str, args)], cwd=ROOT, env=cli_env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stderr == "", done.stderr


_WORKER_KILLED = """
import os, signal, sys
from noisegen import cli
from noisegen.batch import wds, work

render, mark = work._render, sys.argv.pop(1)

def rendering(*args, **kwargs):
    try:  # the first render of the run, in whichever worker: as the OOM killer would
        os.close(os.open(mark, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return render(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
    return render(*args, **kwargs)

work._render = wds._render = rendering
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("output", ["wav", "webdataset"])
def test_a_worker_killed_mid_input_fails_that_input_and_the_run_goes_on(tmp_path, cli_env, output):
    """A pool worker killed while it held an input (the OOM killer, a signal) hung the run for ever:
    Pool.imap waited for a result that never came. Its input is now a recorded failure, the other
    inputs are written, no temporary file stays, and a rerun finishes with the bytes of a clean run."""
    folder = _inputs(tmp_path / "in")
    args = ["--copies", 2, "--workers", 2, "--output-format", output] + (["--shard-size", 2] if output != "wav" else [])
    out, clean = tmp_path / "out", tmp_path / "clean"
    done = subprocess.run([sys.executable, "-c", _WORKER_KILLED, str(tmp_path / "killed"), "augment", folder, out,
                           *map(str, args), "--no-progress"], cwd=ROOT, env=cli_env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert len(failures) == 1 and "worker process" in failures[0]["error"] and "died" in failures[0]["error"]
    assert "died before finishing it" in done.stdout and _hidden(out) == []
    assert len(read_manifest(out)) == (8 - 2 if output == "wav" else 4 - 1)  # the rest was written
    assert _augment(folder, out, *args) == 0 and not (out / "failures.jsonl").exists()
    assert _augment(folder, clean, *args) == 0
    written = lambda d: {p.name: p.read_bytes() for p in sorted(d.rglob("*")) if p.suffix in (".wav", ".tar")}
    assert written(out) == written(clean)


class _ReaderGone:
    """stderr after its reader left (`noisegen augment ... 2>&1 | head`): every write fails."""

    encoding = "utf-8"

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        pass


@pytest.mark.parametrize("workers, output", [(1, "wav"), (2, "wav"), (2, "webdataset")])
def test_a_warning_nobody_reads_fails_no_input(tmp_path, monkeypatch, workers, output):
    """With the reader of stderr gone, each input that gave a warning (here: a file cut short) was
    a failure, "BrokenPipeError: [Errno 32] Broken pipe: '<the input>'", and its outputs were not written."""
    folder = _inputs(tmp_path / "in")
    for p in sorted(folder.rglob("*.wav"))[1:]:  # the header promises more than the file holds
        p.write_bytes(p.read_bytes()[:-1001])
    args = ["--copies", 2, "--workers", workers, "--output-format", output]
    out, clean = tmp_path / "out", tmp_path / "clean"
    assert _augment(folder, clean, *args) == 0
    monkeypatch.setattr(sys, "stderr", _ReaderGone())
    assert _augment(folder, out, *args) == 0
    assert not (out / "failures.jsonl").exists()
    written = lambda d: {p.name: p.read_bytes() for p in sorted(d.rglob("*")) if p.suffix in (".wav", ".tar")}
    assert written(out) == written(clean) and len(written(out)) == (8 if output == "wav" else 1)


def test_temporary_files_of_a_killed_run_are_removed_on_resume(tmp_path):
    folder = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    (out / "spk").mkdir(parents=True)
    stale = [out / ".a.aug0.wav.ab_12xyz.f32", out / "spk" / "..c.aug0.wav.77.cmp.wav.q1w2e3r4.f32",
             out / ".b.aug0.wav.zz9_ab12.part"]
    foreign = [out / ".x.aug0.wav.ab_12xyz.f32", out / ".a.aug0.wav.ab_12xyz.f64"]
    for p in stale + foreign:
        p.write_bytes(b"partial")
    assert _augment(folder, out) == 0
    assert not any(p.exists() for p in stale) and all(p.exists() for p in foreign)


@pytest.mark.parametrize("name", ["new\nline.wav", "\nfirst.wav", "last\n.wav", "spk\n1/c.wav"])
def test_temporary_files_of_outputs_whose_names_hold_a_newline_are_removed(tmp_path, name):
    """The sweep's pattern did not match across a newline (no DOTALL): the temporary files of such an
    output, left by a kill or a Ctrl-C, stayed in OUT_DIR for good; and its `$` took a file whose name
    ends in a newline after ".part" for one of them."""
    folder = _inputs(tmp_path / "in", names=("a.wav", name))
    out = tmp_path / "out"
    out_name = out / name.replace(".wav", ".aug0.wav")
    out_name.parent.mkdir(parents=True, exist_ok=True)
    stale = [out_name.parent / f".{out_name.name}{tail}" for tail in (".ab_12xyz.part", ".77.cmp.wav", ".q1w2e3r4.f32")]
    foreign = out_name.parent / f".{out_name.name}.ab_12xyz.part\n"  # (not ours: it does not end in .part)
    for p in stale + [foreign]:
        p.write_bytes(b"partial")
    assert _augment(folder, out) == 0
    assert [p for p in stale if p.exists()] == [] and foreign.exists()


# -- odd sample rates ---------------------------------------------------------------------------
def test_an_input_at_a_rate_the_pipeline_cannot_run_at_fails_alone(tmp_path, data_dir, capsys):
    folder = _inputs(tmp_path / "in")
    _write(folder / "slow.wav", 20.0, sr=8)  # no noise or room resamples to 8 Hz (ratios <= 256)
    out = tmp_path / "out"
    assert _augment(folder, out, "--noise-dir", data_dir / "noise", "--rir-dir", data_dir / "rir") == 1
    err = capsys.readouterr().err
    assert "skipping" not in err  # the noise and RIR files are fine at the inputs' other rate
    failures = (out / "failures.jsonl").read_text().splitlines()
    assert len(failures) == 1 and "slow.wav" in failures[0] and "cannot run at 8 Hz" in failures[0]
    assert sorted(read_manifest(out)) == ["a.aug0.wav", "b.aug0.wav", "spk/c.aug0.wav", "spk/d.aug0.wav"]


@pytest.mark.parametrize("workers", [1, 2])
def test_an_input_at_a_rate_the_pipeline_cannot_run_at_is_left_out_of_its_tar_alone(tmp_path, data_dir, capsys,
                                                                                     workers):
    # (it failed the whole run as a usage error, exit 2, naming no input; the folder output failed the input alone)
    folder = _inputs(tmp_path / "in")
    _write(folder / "slow.wav", 20.0, sr=8)
    out = tmp_path / "out"
    assert _augment(folder, out, "--noise-dir", data_dir / "noise", "--output-format", "webdataset",
                    "--shard-size", 2, "--copies", 2, "--workers", workers) == 1
    assert "skipping" not in capsys.readouterr().err
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert [f["output"] for f in failures] == ["shard-000002.tar/slow_aug0", "shard-000002.tar/slow_aug1"]
    assert all(f["input"] == "slow.wav" and "cannot run at 8 Hz" in f["error"] for f in failures)
    lines = read_manifest(out)
    assert sorted(lines) == [f"shard-{i:06d}.tar" for i in range(5)] and lines["shard-000002.tar"]["n_items"] == 0
    with tarfile.open(out / "shard-000000.tar") as tf:
        assert tf.getnames() == ["a_aug0.wav", "a_aug0.json", "a_aug1.wav", "a_aug1.json"]



@pytest.mark.parametrize("workers", [1, 2])
def test_an_input_at_a_rate_the_pipeline_cannot_run_at_fails_alone_in_tar_shards(tmp_path, data_dir, capsys, workers):
    """With --output-format webdataset one 8 Hz input made the whole run a usage error (exit 2, nothing
    written, the RIR files named as skipped), where the folder output fails that input alone."""
    import tarfile

    folder = _inputs(tmp_path / "in")
    _write(folder / "slow.wav", 20.0, sr=8)
    out = tmp_path / "out"
    assert _augment(folder, out, "--noise-dir", data_dir / "noise", "--rir-dir", data_dir / "rir",
                    "--output-format", "webdataset", "--shard-size", 3, "--workers", workers) == 1
    assert "skipping" not in capsys.readouterr().err
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert [f["input"] for f in failures] == ["slow.wav"] and "cannot run at 8 Hz" in failures[0]["error"]
    names = []
    for tar in ("shard-000000.tar", "shard-000001.tar"):
        with tarfile.open(out / tar) as tf:
            names += [m.name for m in tf.getmembers() if m.name.endswith(".wav")]
    assert names == ["a_aug0.wav", "b_aug0.wav", "spk/c_aug0.wav", "spk/d_aug0.wav"]
    lines = read_manifest(out)
    assert [lines[tar]["failed"] for tar in ("shard-000000.tar", "shard-000001.tar")] == [["slow.wav"], []]



@pytest.mark.parametrize("errno_name", ["ENOSPC", "EROFS"])
def test_a_full_disk_writing_a_long_sample_stops_the_tar_shard_run(tmp_path, monkeypatch, capsys, errno_name):
    """A long input's sample is made in a file beside the tar: a full disk there failed each sample alike
    (each a recorded failure), wrote empty tars and went on, where the folder output stops at once."""
    import errno

    from noisegen.batch import wds

    def full(*args, **kwargs):
        code = getattr(errno, errno_name)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(wds, "render_long", full)
    folder = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    assert _augment(folder, out, "--output-format", "webdataset", "--shard-size", 2, "--blockwise-min-s", 0) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and os.strerror(getattr(errno, errno_name)) in err[0]
    assert not list(out.glob("*.tar")) and _hidden(out) == []
    assert len((out / "failures.jsonl").read_text().splitlines()) == 1



def test_a_full_disk_that_stops_a_pool_run_leaves_no_temporary_file_of_its_workers(tmp_path, monkeypatch, capsys):
    """The manifest's append failing (a full disk) stopped a --workers 2 run by terminating the pool, and a
    worker writing another output left its temporary file behind (found on a 1.2 MB tmpfs); only a
    Ctrl-C's stop swept them."""
    import errno

    import noisegen.batch as batch
    from noisegen.batch import work

    folder = _inputs(tmp_path / "in", names=("a.wav", "b.wav"))
    out = tmp_path / "out"
    part = out / ".b.aug0.wav.abcdefgh.part"
    save = work.save

    def slow_save(path, *args, **kwargs):  # b's worker: mid-write when the run stops
        if os.path.basename(path) == "b.aug0.wav":
            part.write_bytes(b"RIFF")
            time.sleep(60)
        return save(path, *args, **kwargs)

    def full(path, record):
        deadline = time.monotonic() + 30
        while not part.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(work, "save", slow_save)  # (forked workers see the parent's modules)
    monkeypatch.setattr(batch, "_append_line", full)
    assert _augment(folder, out, "--workers", 2) == 1
    assert os.strerror(errno.ENOSPC) in capsys.readouterr().err
    assert _hidden(out) == []


def test_an_input_with_no_samples_fails_alone_as_a_noisegen_error(tmp_path):
    folder = _inputs(tmp_path / "in")
    sf.write(folder / "empty.wav", np.zeros(0, np.float32), 16000)  # a header and no data
    out = tmp_path / "out"
    assert _augment(folder, out) == 1
    (failure,) = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert failure["input"] == "empty.wav" and failure["error"] == "NoisegenError: the file holds no samples"


def test_a_run_where_every_input_failed_does_not_say_nothing_to_do(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "empty.wav", np.zeros(0, np.float32), 16000)
    assert _augment(folder, tmp_path / "out") == 1
    said = capsys.readouterr().out
    assert "nothing written" in said and "nothing to do" not in said and "1 failed" in said

def test_a_rate_no_input_can_be_processed_at_is_still_a_usage_error(tmp_path, data_dir, capsys):
    folder = tmp_path / "in"
    _write(folder / "slow.wav", 20.0, sr=8)
    out = tmp_path / "out"
    assert _augment(folder, out, "--noise-dir", data_dir / "noise") == 2
    assert "--noise-dir holds no usable audio file at 8 Hz" in capsys.readouterr().err
    assert not (out / "slow.aug0.wav").exists()


# -- names, shards, things in the way -------------------------------------------------------------
@pytest.mark.parametrize("n_shards", [2, 3])
def test_shards_add_up_to_the_unsharded_run_when_names_collide(tmp_path, n_shards):
    folder = _inputs(tmp_path / "in", names=("a.wav", "b.wav", "c.wav", "spk/d.wav", "spk/e.wav"))
    for name in ("a.flac", "spk/d.flac", "spk/e.ogg"):  # each collides with the .wav of its name
        y, _ = sf.read(folder / (name.rsplit(".", 1)[0] + ".wav"), dtype="float32")
        sf.write(folder / name, 0.5 * y, SR)
    whole = augment_folder(folder, tmp_path / "whole", progress=False)
    for k in range(n_shards):
        augment_folder(folder, tmp_path / "sharded", shard=(k, n_shards), progress=False)
    assert _audio(tmp_path / "sharded") == _audio(tmp_path / "whole")
    assert sorted(f["input"] for f in whole.failures) == ["a.wav", "spk/d.wav", "spk/e.wav"]  # .flac/.ogg first


def test_an_output_of_another_input_of_its_name_is_not_said_to_be_made_with_other_settings(tmp_path):
    """a.flac added beside a.wav, whose a.aug0.wav was made: a.flac (first in sorted order) takes the name,
    and its failure said a.aug0.wav "was made with other settings (seed, pipeline, sample rate or format)",
    the summary "made with other settings", with every setting the same; so once a.flac was gone again."""
    folder = _inputs(tmp_path / "in", names=("a.wav", "b.wav"))
    out = tmp_path / "out"
    augment_folder(folder, out, progress=False)
    _write(folder / "a.flac", 0.5, seed=3)
    for other, rel in (("a.wav", "a.flac"), ("a.flac", "a.wav")):
        s = augment_folder(folder, out, progress=False)
        mine = [f for f in s.failures if f["input"] == rel]
        assert [f["error"] for f in mine] == [f"a.aug0.wav holds the output of {other}, another input of this output "
                                              "name; use another OUT_DIR, or --overwrite to replace it with this input's"]
        assert "other settings" not in str(s)
        s = augment_folder(folder, out, progress=False, overwrite=True)
        assert read_manifest(out)["a.aug0.wav"]["input"] == rel and s.n_written == 1
        if rel == "a.flac":  # (gone again: a.wav's name once more, a.flac's output in it)
            (folder / "a.flac").unlink()
    s = augment_folder(folder, out, progress=False, seed=1)  # (other settings are still said to be)
    assert s.failures and all("was made with other settings" in f["error"] for f in s.failures)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_shards_add_up_to_the_unsharded_run_when_an_output_is_named_as_an_input_folder(tmp_path, order):
    # a.aug1.wav/c.wav makes the output folder a.aug1.wav, the name of a.wav's second copy: whichever
    # shard ran first took the name, and the unsharded run failed a.wav saying "pass --overwrite"
    folder = _inputs(tmp_path / "in", names=("a.wav", "a.aug1.wav/c.wav", "d.wav"))
    whole = augment_folder(folder, tmp_path / "whole", copies=2, progress=False)
    assert [(f["input"], f["output"]) for f in whole.failures] == [("a.wav", "a.aug1.wav")]
    assert "the output folder of a.aug1.wav/c.wav" in whole.failures[0]["error"]
    assert sorted(_audio(tmp_path / "whole")) == ["a.aug0.wav", "a.aug1.wav/c.aug0.wav", "a.aug1.wav/c.aug1.wav",
                                                  "d.aug0.wav", "d.aug1.wav"]
    assert noisegen.batch.plan._in_shard("a.wav", (0, 2)) and noisegen.batch.plan._in_shard("a.aug1.wav/c.wav", (1, 2))
    for k in order:
        augment_folder(folder, tmp_path / "sharded", copies=2, shard=(k, 2), progress=False)
    assert _audio(tmp_path / "sharded") == _audio(tmp_path / "whole")


def test_a_symlink_in_out_dir_into_a_linked_input_folder_is_never_written_through(tmp_path):
    """IN/corpus -> /data/corpus, and OUT/corpus -> /data/corpus too (a tree copied with its links): the
    outputs of corpus/ were written into /data/corpus, beside the inputs, and each rerun took them for
    inputs (x.aug0.aug0.wav, then one more each time). Only IN_DIR's own real path was refused."""
    data = tmp_path / "data" / "corpus"
    _write(data / "x.wav", 0.2)
    folder = _inputs(tmp_path / "in", names=("y.wav",))
    out = tmp_path / "out"
    out.mkdir()
    for link in (folder / "corpus", out / "corpus"):
        link.symlink_to(data, target_is_directory=True)
    for _ in range(2):
        s = augment_folder(folder, out, progress=False)
        assert sorted(p.name for p in data.iterdir()) == ["x.wav"]
        assert [(f["input"], f["output"]) for f in s.failures] == [("corpus/x.wav", "corpus/x.aug0.wav")]
        assert f"leads into the input folder {str(data)!r}" in s.failures[0]["error"]
        assert list(read_manifest(out)) == ["y.aug0.wav"] and s.n_inputs == 2


def test_a_link_to_a_file_in_out_dir_is_no_input(tmp_path):
    """IN/best.wav -> OUT/a.aug0.wav (a pick of last run's outputs): the output was augmented again as an
    input, as a link to a folder in OUT_DIR no longer is; it is reported, never read. A link to a file
    of IN_DIR's own tree stays an input where OUT_DIR lies above IN_DIR."""
    out = tmp_path / "out"
    folder = _inputs(out / "in", names=("a.wav",))
    (folder / "same.wav").symlink_to(folder / "a.wav")  # (IN_DIR's own file, inside OUT_DIR too)
    augment_folder(folder, out, progress=False)
    (folder / "pick.wav").symlink_to(out / "a.aug0.wav")
    for _ in range(2):
        s = augment_folder(folder, out, progress=False)
        assert [(f["input"], f["error"]) for f in s.failures] == [
            ("pick.wav", "not read: a symlink to a file in the output folder")]
        assert sorted(read_manifest(out)) == ["a.aug0.wav", "same.aug0.wav"] and s.n_skipped == 2


@pytest.mark.parametrize("workers", [1, 2])
def test_an_input_folder_named_as_out_dirs_records_fails_alone(tmp_path, capsys, workers):
    """An input folder named manifest.jsonl (or failures.jsonl) became that folder in OUT_DIR: every
    record of the run, and of every rerun, then failed ("Is a directory: 'OUT/manifest.jsonl'; rerun
    the same command to resume"), and nothing after it in sorted order was ever written."""
    folder = _inputs(tmp_path / "in", names=("failures.jsonl/sub/b.wav", "manifest.jsonl/a.wav", "z.wav"))
    out = tmp_path / "out"
    for _ in range(2):  # (the rerun too)
        assert _augment(folder, out, "--workers", workers) == 1
        assert "Is a directory" not in capsys.readouterr().err
        failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
        assert sorted(f["input"] for f in failures) == ["failures.jsonl/sub/b.wav", "manifest.jsonl/a.wav"]
        assert all("collides with OUT_DIR's own" in f["error"] for f in failures)
        assert list(read_manifest(out)) == ["z.aug0.wav"] and (out / "manifest.jsonl").is_file()


@pytest.mark.parametrize("target", ["elsewhere/out", "link", "{tmp}/missing"])
def test_an_out_dir_that_is_a_symlink_leading_nowhere_is_named_so(tmp_path, capsys, target):
    """OUT_DIR a dangling symlink (or a loop) was "not writable: File exists", of a path where nothing
    seemed to exist."""
    folder = _inputs(tmp_path / "in")
    link = tmp_path / "link"
    link.symlink_to(target.format(tmp=tmp_path))
    for out in (link, f"{link}/"):
        assert _augment(folder, out) == 2
        err = capsys.readouterr().err
        assert err == (f"noisegen augment: error: OUT_DIR {str(link)!r} is a symlink to {target.format(tmp=tmp_path)!r}, "
                       "which leads nowhere (a dangling symlink or a symlink loop)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "link"]


_NEMO = b'{"audio_filepath": "in/a.wav", "duration": 0.5, "text": "a"}\n{"audio_filepath": "in/b.wav", "text": "b"}'


@pytest.mark.parametrize("name, content, flags", [
    ("manifest.jsonl", _NEMO, []), ("manifest.jsonl", _NEMO + b"\n", ["--overwrite"]),
    ("manifest.jsonl", b"\n[1, 2]\n", ["--output-format", "webdataset"]),
    ("failures.jsonl", b'{"input": "x.wav", "reason": "mine"}\n', []),
    ("manifest.jsonl", b"path,duration\na.wav,1.0\nb.wav,2.0", []),  # (its last line was cut)
    ("manifest.jsonl", b"\xff\xfe{ not text\n", []),  # (an "unexpected UnicodeDecodeError")
    ("manifest.jsonl", _NEMO.split(b"\n")[0], []),  # (one whole line, no newline: it was cut away)
    ("manifest.jsonl", b"\na.wav,1.0", []),
])
def test_a_manifest_of_another_tool_in_out_dir_is_left_alone(tmp_path, capsys, name, content, flags):
    """OUT_DIR holding the inputs' own NeMo-style manifest.jsonl (as data/ does): augment appended its
    lines to it, cut its last line when that had no newline, and a rerun that rewrote the manifest
    (--overwrite, a changed input) dropped every line of the dataset's."""
    folder = _inputs(tmp_path / "in")
    (tmp_path / name).write_bytes(content)
    assert _augment(folder, tmp_path, *flags) == 2
    err = capsys.readouterr().err
    assert f"OUT_DIR {str(tmp_path)!r} holds a {name} that noisegen augment did not write" in err, err
    assert (tmp_path / name).read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in", name])  # (no lock file either)


@pytest.mark.parametrize("kind", ["fifo", "folder", "no newline"])
def test_a_manifest_that_is_no_regular_file_or_has_no_line_end_is_refused_unread(tmp_path, capsys, kind):
    # a FIFO named manifest.jsonl blocked the run for ever (reading its first line); a big file without
    # newlines that starts as a JSON object was read whole, taken for a torn line of ours and cut away
    folder = _inputs(tmp_path / "in")
    path = tmp_path / "manifest.jsonl"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        path.write_bytes(b'{"data": "' + b"x" * _LONGEST_LINE)
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(60)
    try:
        assert _augment(folder, tmp_path) == 2
    finally:
        signal.alarm(0)
    err = capsys.readouterr().err
    assert f"OUT_DIR {str(tmp_path)!r} holds a manifest.jsonl that noisegen augment did not write" in err, err
    assert kind != "no newline" or path.stat().st_size == _LONGEST_LINE + 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "manifest.jsonl"]


def _timeout(*_):
    raise TimeoutError("blocked")


@pytest.mark.parametrize("name", [".noisegen.lock", ".noisegen.shard-1-of-3.lock", ".noisegen.jsonl.lock"])
def test_a_fifo_named_as_a_lock_file_is_refused_unopened(tmp_path, capsys, name):
    # a FIFO named as another shard count's lock blocked a shard's run for ever (opened to read, to probe
    # its flock); one named .noisegen.lock failed the run with a bare "error: Invalid argument" (ftruncate)
    folder = _inputs(tmp_path / "in")
    os.mkfifo(tmp_path / name)
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(60)
    try:
        assert _augment(folder, tmp_path, "--shard", "1/2") == 2
    finally:
        signal.alarm(0)
    err = capsys.readouterr().err
    assert f"OUT_DIR {str(tmp_path)!r} holds a {name} that noisegen augment did not write (a FIFO" in err, err
    assert not list(tmp_path.glob("*.wav")) and not (tmp_path / "manifest.jsonl").exists()


def test_a_file_in_the_way_of_an_output_folder_is_named(tmp_path, capsys):
    folder = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    (out / "spk").write_bytes(b"a file where a folder should be")
    assert _augment(folder, out) == 1
    text = capsys.readouterr().out
    assert "in the way of the output folder" in text and "other settings" not in text
    assert len(read_manifest(out)) == 2


@pytest.mark.parametrize("overwrite", [False, True])
def test_an_output_path_taken_by_a_folder_leaves_no_hidden_copy(tmp_path, overwrite):
    folder = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    (out / "a.aug0.wav").mkdir(parents=True)
    summary = augment_folder(folder, out, overwrite=overwrite, progress=False)
    assert [f["output"] for f in summary.failures] == ["a.aug0.wav"]
    assert _hidden(out) == []
    # (it was "already exists with other content (made with other settings) ... --overwrite to replace it",
    # and --overwrite then failed naming a hidden copy: ".a.aug0.wav.<pid>.cmp.wav' -> ...")
    assert summary.failures[0]["error"] == ("IsADirectoryError: [Errno 21] a folder is in the way of the output: "
                                            "'a.aug0.wav'")


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_shard_path_taken_by_a_folder_fails_at_once(tmp_path, overwrite):
    # --output-format webdataset: it was "already exists with other content (made with other settings) ...
    # --overwrite to replace it", and --overwrite then failed on the rename of the hidden '.shard-000000.tar.<pid>.part'
    folder = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    (out / "shard-000000.tar").mkdir(parents=True)
    summary = augment_folder(folder, out, overwrite=overwrite, progress=False, output_format="webdataset")
    assert [f["error"] for f in summary.failures if f["output"] == "shard-000000.tar"] == [
        "IsADirectoryError: [Errno 21] a folder is in the way of the output: 'shard-000000.tar'"]
    assert _hidden(out) == []


def test_a_damaged_output_of_the_same_job_is_redone(tmp_path):
    folder = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    augment_folder(folder, out, copies=2, progress=False)
    first = _audio(out)
    (out / "spk" / "c.aug1.wav").write_bytes(first["spk/c.aug1.wav"][:100])  # cut short
    (out / "b.aug0.wav").write_bytes(b"RIFF garbage")
    summary = augment_folder(folder, out, copies=2, progress=False)
    assert (summary.n_written, summary.n_skipped, summary.failures) == (2, 6, [])
    assert _audio(out) == first


def test_nothing_is_made_inside_the_input_folder(tmp_path):
    parent = tmp_path / "p"
    folder = parent / "in"
    _write(folder / "in" / "deep" / "a.wav", 0.5)  # its output folder would be p/in/deep: inside IN_DIR
    _write(folder / "b.wav", 0.5)
    summary = augment_folder(folder, parent, progress=False)
    assert [f["input"] for f in summary.failures] == ["in/deep/a.wav"]
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "b.wav", "in", "in/deep", "in/deep/a.wav"]


def test_a_bad_blockwise_min_s_is_refused_before_out_dir_is_made(tmp_path, capsys):
    folder = _inputs(tmp_path / "in")
    for value in ("nan", "-1", "inf"):
        assert _augment(folder, tmp_path / "out", "--blockwise-min-s", value) == 2
        assert "--blockwise-min-s" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()
    with pytest.raises(noisegen.ParameterError, match="blockwise_min_s"):
        augment_folder(folder, tmp_path / "out", blockwise_min_s=float("nan"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("seed", [1e300, 2.0, -1, True, None, "0"])
def test_a_seed_that_is_no_non_negative_int_is_refused_before_out_dir_is_made(tmp_path, seed):
    # augment_folder(seed=1e300) took the float's 301 digits as a seed (AugmentStream's rng refuses floats)
    folder = _inputs(tmp_path / "in")
    with pytest.raises(noisegen.ParameterError, match=r"^seed must be a non-negative int, got"):
        augment_folder(folder, tmp_path / "out", seed=seed)
    assert not (tmp_path / "out").exists()
    assert augment_folder(folder, tmp_path / "out", seed=2**70, progress=False).n_failed == 0  # any int size


def test_a_seed_of_thousands_of_digits_or_characters_is_refused_in_a_short_message(tmp_path):
    # check_seed formatted the seed whole: -10**5000 raised Python's ValueError (4,300 digits at most)
    # instead of a ParameterError, and a 1 MB string made a 1 MB message
    from noisegen.data.ray import row_key

    folder = _inputs(tmp_path / "in")
    for seed in (-10**5000, "x" * 10**6):
        for call in (lambda: augment_folder(folder, tmp_path / "out", seed=seed), lambda: row_key(seed, 0, 3)):
            with pytest.raises(noisegen.ParameterError, match=r"^seed must be a non-negative int, got") as caught:
                call()
            assert len(str(caught.value)) < 200
    assert not (tmp_path / "out").exists()


def test_a_setting_refused_by_the_library_is_named_as_the_option(tmp_path, capsys):
    folder = _inputs(tmp_path / "in")
    assert _augment(folder, tmp_path / "out", "--format", "flac", "--sample-rate", 700001) == 2
    err = capsys.readouterr().err
    assert "error: --sample-rate must be" in err and "FLAC" in err, err
    assert not (tmp_path / "out").exists()


# -- unreadable folders -------------------------------------------------------------------------
def _unlistable(monkeypatch, *folders):
    """``os.scandir`` refuses ``folders`` as it would without read permission (a test run as root
    reads every folder whatever its mode)."""
    real, refused = os.scandir, {os.path.realpath(f) for f in folders}

    def scandir(path="."):
        if os.path.realpath(path) in refused:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_an_unreadable_folder_is_reported(tmp_path, monkeypatch):
    folder = _inputs(tmp_path / "in")
    _unlistable(monkeypatch, folder / "spk")
    summary = augment_folder(folder, tmp_path / "out", progress=False)
    assert [f["input"] for f in summary.failures] == ["spk"]
    assert "cannot be read (Permission denied)" in summary.failures[0]["error"]
    assert sorted(read_manifest(tmp_path / "out")) == ["a.aug0.wav", "b.aug0.wav"]
    with pytest.warns(noisegen.NoisegenWarning, match="cannot be read"):
        assert len(audio_files_module.audio_files(folder)) == 2  # the scan of noise banks and streams


def test_an_unreadable_input_folder_is_a_usage_error(tmp_path, monkeypatch, capsys):
    folder = _inputs(tmp_path / "in")
    _unlistable(monkeypatch, folder)
    assert _augment(folder, tmp_path / "out") == 2
    assert "cannot be read (Permission denied)" in capsys.readouterr().err


def test_an_unreadable_sub_folder_is_reported_with_real_permissions(tmp_path, unprivileged, cli_env):
    folder = _inputs(tmp_path / "in")
    probe = folder / "probe.txt"
    probe.write_bytes(b"")
    probe.chmod(0)
    (folder / "spk").chmod(0)
    try:
        prefix = unprivileged(probe)
        r = subprocess.run([*prefix, sys.executable, "-m", "noisegen", "augment", str(folder), str(tmp_path / "out"),
                            "--no-progress"], capture_output=True, text=True, env=cli_env, timeout=300)
    finally:
        (folder / "spk").chmod(0o755)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "failed: spk: not read: a folder that cannot be read (Permission denied)" in r.stdout, r.stdout
    assert sorted(read_manifest(tmp_path / "out")) == ["a.aug0.wav", "b.aug0.wav"]


def test_a_manifest_line_cut_short_by_a_file_size_limit_is_undone(tmp_path):
    """A full disk or RLIMIT_FSIZE mid-line: the append fails and the file keeps whole lines only."""
    code = f"""
import json, resource
from noisegen.batch.manifest import _append_line
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
n = 0
try:
    while True:
        _append_line({str(tmp_path / "manifest.jsonl")!r}, {{"output": "x" * 37, "n": n}})
        n += 1
except OSError as exc:
    print(n, exc.errno, int(exc.filename == {str(tmp_path / "manifest.jsonl")!r}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    n, err, named = map(int, proc.stdout.split())
    data = (tmp_path / "manifest.jsonl").read_bytes()
    assert 0 < n < 1000 // 50 and err == 27 and named  # EFBIG (a short write was said to be ENOSPC: "No space left")
    assert data.endswith(b"\n") and [json.loads(line)["n"] for line in data.splitlines()] == list(range(n))


def test_a_manifest_rewrite_cut_short_by_a_full_disk_leaves_no_temporary_file(tmp_path):
    """Dropping superseded lines (after --overwrite) on a full disk left manifest.jsonl.<pid>.rewrite, half
    written, in OUT_DIR, and the run's error named no file ("No space left on device"; a 1.2 MB tmpfs)."""
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"output": f"{k % 29:02d}.wav", "pad": "x" * 80}) + "\n" for k in range(30)))
    before = manifest.read_bytes()
    code = f"""
import resource
from noisegen.batch.manifest import _dedupe_manifest
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
try:
    _dedupe_manifest({str(tmp_path)!r})
except OSError as exc:
    print(exc.errno, exc.filename)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["27", str(manifest)]  # EFBIG, naming the manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == [".noisegen.jsonl.lock", "manifest.jsonl"]
    assert manifest.read_bytes() == before


@pytest.mark.parametrize("n_chars", [236, 246])  # outputs of 245 and 255 bytes: "<name>.aug0.wav"
def test_outputs_with_names_near_name_max_are_written_and_their_temporaries_swept(tmp_path, n_chars):
    """The temporary file's name would pass NAME_MAX: its stem is a hash of the output's name."""
    from noisegen._core.tempfiles import stem_hash

    name = "b" * n_chars
    folder = _inputs(tmp_path / "in", names=(f"{name}.wav", f"spk/{name}.wav"))
    out = tmp_path / "out"
    (out / "spk").mkdir(parents=True)
    mine, other = stem_hash(f"{name}.aug0.wav"), stem_hash(f"{name}.aug1.wav")
    stale = [out / f".~{mine}.ab_12xyz.part", out / "spk" / f"..~{mine}.77.cmp.wav.q1w2e3r4.f32"]
    near = mine[:-1] + ("1" if mine[-1] != "1" else "2")
    foreign = [out / f".~{other}.ab_12xyz.part", out / "spk" / f".~{near}.ab_12xyz.part"]
    for p in stale + foreign:
        p.write_bytes(b"partial")
    assert _augment(folder, out) == 0
    assert not any(p.exists() for p in stale) and all(p.exists() for p in foreign)
    for p in foreign:
        p.unlink()
    outputs = [out / f"{name}.aug0.wav", out / "spk" / f"{name}.aug0.wav"]
    first = [p.read_bytes() for p in outputs]
    assert _augment(folder, out, "--seed", "5", "--overwrite") == 0  # beside the old one first, then replaced
    assert all(p.read_bytes() != b for p, b in zip(outputs, first))
    assert sorted(p.name for p in out.rglob(".*") if not p.name.startswith(".noisegen")) == []


def test_an_input_folder_with_no_audio_is_a_usage_error_before_out_dir_is_made(tmp_path, capsys):
    """A mistyped folder gave '0 inputs ... nothing to do', status 0, and an OUT_DIR holding lock files."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("no audio here")
    (folder / ".hidden.wav").write_bytes(b"")
    assert _augment(folder, tmp_path / "out") == 2
    assert "holds no audio file" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_lock_file_unlinked_between_open_and_lock_is_locked_anew(tmp_path, monkeypatch):
    """A refused run unlinks the lock file of a folder it made while holding it: a run that opened the old file
    meanwhile locks that file once free, unlinked, and would run beside one locking the new file."""
    pytest.importorskip("fcntl")
    from noisegen.batch import outdir

    opened = []
    real_open = outdir._open_lock

    def open_then_unlinked(out_dir, name, flags):
        fd = real_open(out_dir, name, flags)
        if not opened:
            os.unlink(os.path.join(out_dir, name))
        opened.append(fd)
        return fd

    monkeypatch.setattr(outdir, "_open_lock", open_then_unlinked)
    with outdir.OutDirLock(str(tmp_path)) as lock:
        assert len(opened) == 2 and lock.fds == [opened[1]] and os.fstat(lock.fds[0]).st_nlink == 1


def test_a_folder_removed_by_a_refused_run_between_open_and_lock_is_made_anew(tmp_path, monkeypatch):
    """A refused run removes the folder it made, with its lock files, while it holds the lock: a run that
    opened the old lock file meanwhile found the folder gone when it opened the lock file again (a bare
    'No such file or directory'). It makes the folder again, as its own: refused too, it removes it."""
    pytest.importorskip("fcntl")
    from noisegen.batch import outdir

    out = tmp_path / "out"
    out.mkdir()
    opened = []
    real_open = outdir._open_lock

    def open_then_removed(out_dir, name, flags):
        fd = real_open(out_dir, name, flags)
        if not opened:  # the refused run's remove_made_folder, between our open and our lock
            os.unlink(os.path.join(out_dir, name))
            os.rmdir(out_dir)
        opened.append(fd)
        return fd

    monkeypatch.setattr(outdir, "_open_lock", open_then_removed)
    with outdir.OutDirLock(str(out)) as lock:
        assert len(opened) == 2 and lock.fds == [opened[1]] and os.fstat(lock.fds[0]).st_nlink == 1
        assert lock.made and sorted(p.name for p in out.iterdir()) == [".noisegen.lock"]
        lock.remove_made_folder()
    assert not out.exists()


@pytest.mark.parametrize("made_before", [False, True])
def test_a_noise_folder_with_no_usable_file_leaves_no_out_dir_of_lock_files(tmp_path, capsys, made_before):
    """A refused noise folder (its one file unreadable) left a new OUT_DIR holding only its two lock files; a
    folder that was there stays (as it was: its lock files are no one's)."""
    noise = tmp_path / "noise"
    noise.mkdir()
    (noise / "x.wav").write_bytes(b"not audio")
    config = tmp_path / "p.json"
    config.write_text(json.dumps([{"name": "AddBackgroundNoise", "noise": str(noise), "p": 1.0}]))
    out = tmp_path / "out"
    if made_before:
        out.mkdir()
    assert _augment(_inputs(tmp_path / "in"), out, "--config", str(config)) == 2
    assert "no usable audio file" in capsys.readouterr().err
    assert out.exists() == made_before
    # a run taking the lock once more still finds it free, and the folder now works
    config.write_text(json.dumps([{"name": "Gain", "p": 1.0}]))
    assert _augment(tmp_path / "in", out, "--config", str(config)) == 0


@pytest.mark.parametrize("made_before", [False, True])
def test_a_long_input_that_changes_while_read_leaves_no_output_and_a_rerun_redoes_it(tmp_path, monkeypatch,
                                                                                   made_before):
    """A long input changed under its blockwise render: the output stayed in place (or its comparison copy
    beside the old one), and the rerun the failure asked for refused it as 'exists with different content'."""
    from noisegen.batch import work

    folder = _inputs(tmp_path / "in", names=("a.wav",))
    out = tmp_path / "out"
    pipe = noisegen.Compose([noisegen.LowPassFilter(p=1.0), noisegen.Gain(p=1.0)])  # (made in blocks)
    if made_before:
        augment_folder(folder, out, pipeline=pipe, progress=False, blockwise_min_s=0.0)
        _write(folder / "a.wav", 0.7, seed=5)  # other bytes: redone
    before = _audio(out) if made_before else {}
    render = work.render_long

    def changing(*args, **kwargs):
        done = render(*args, **kwargs)
        st = os.stat(folder / "a.wav")
        os.utime(folder / "a.wav", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # changed meanwhile
        return done

    monkeypatch.setattr(work, "render_long", changing)
    summary = augment_folder(folder, out, pipeline=pipe, progress=False, blockwise_min_s=0.0)
    assert [f["output"] for f in summary.failures] == ["a.aug0.wav"], summary.failures
    assert "changed" in summary.failures[0]["error"]
    assert _audio(out) == before and _hidden(out) == []
    monkeypatch.setattr(work, "render_long", render)
    summary = augment_folder(folder, out, pipeline=pipe, progress=False, blockwise_min_s=0.0)
    assert (summary.failures, summary.n_written) == ([], 1)


def test_a_run_time_failure_asks_for_its_cause_to_be_fixed_before_the_rerun(tmp_path, capsys, monkeypatch):
    """A folder where OUT_DIR's manifest goes failed with "Is a directory: ...; rerun the same command to
    resume", which no rerun can do while the folder is there. (One there at the start is refused before the
    run: the folder here comes after those checks, as another process could make it.)"""
    import noisegen.batch

    monkeypatch.setattr(noisegen.batch, "check_ours", lambda out_dir: None)
    folder = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    (out / "manifest.jsonl").mkdir(parents=True)
    assert _augment(folder, out) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "Is a directory" in err and err.endswith("; once that is fixed, rerun the same command to resume"), err


def test_an_output_over_a_file_size_limit_is_named_in_the_failure(tmp_path):
    """Under ``ulimit -f`` an output cut short said "File too large" on the input's line, naming no file:
    the message names the output that could not be written."""
    _write(tmp_path / "in" / "a.wav", 1.0)
    code = f"""
import resource, sys
from noisegen import cli
resource.setrlimit(resource.RLIMIT_FSIZE, (8000, 8000))
sys.exit(cli.main(["augment", {str(tmp_path / "in")!r}, {str(tmp_path / "out")!r}, "--seed", "0", "--workers", "1"]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    out = tmp_path / "out" / "a.aug0.wav"
    assert f"failed: a.wav: OSError: [Errno 27] File too large: {str(out)!r}" in proc.stdout, proc.stdout
    assert not out.exists() and not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".part")]


def test_a_long_output_over_a_file_size_limit_is_named_in_the_failure(tmp_path):
    """The same for an input made in blocks: its spill file beside the output (not written through
    write_atomically) said "File too large" naming no file."""
    _write(tmp_path / "in" / "a.wav", 1.0)
    code = f"""
import resource, sys
from noisegen import cli
resource.setrlimit(resource.RLIMIT_FSIZE, (8000, 8000))
sys.exit(cli.main(["augment", {str(tmp_path / "in")!r}, {str(tmp_path / "out")!r}, "--seed", "0", "--workers", "1",
                   "--blockwise-min-s", "0.5"]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    out = tmp_path / "out" / "a.aug0.wav"
    assert f"failed: a.wav: OSError: [Errno 27] File too large: {str(out)!r}" in proc.stdout, proc.stdout
    assert not out.exists() and not [p for p in (tmp_path / "out").iterdir() if p.suffix in (".part", ".f32")]
