"""The command line: synth and info end to end, and one-line errors with the right exit status."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf

import noisegen
from noisegen import cli
from noisegen.cli import args as cli_args
from noisegen.audio.blocks import FileBlocks

from conftest import ROOT


def _run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "noisegen", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def _main(capsys, *args):
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


# ----------------------------------------------------------------------------- subprocess (the real entry point)


def test_subprocess_synth_pink_and_info(tmp_path):
    r = _run("synth", "pink", "p.wav", "--duration-s", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    meta = sf.info(str(tmp_path / "p.wav"))
    assert (meta.samplerate, meta.channels, meta.frames, meta.subtype) == (16000, 1, 32000, "PCM_16")
    r = _run("info", "p.wav", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip()
    assert line.startswith("p.wav: 16000 Hz, 1 ch, 2.000 s") and "PCM_16" in line
    rms = float(line.split("RMS ")[1].split(" dBFS")[0])
    assert "peak" in line and -23.0 < rms < -17.0  # default noise RMS 0.1 = -20 dBFS


def test_subprocess_errors_are_one_line_without_traceback(tmp_path):
    r = _run("synth", "purple", "x.wav", "--duration-s", "1", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "invalid choice: 'purple'" in r.stderr
    r = _run("info", "missing.wav", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "missing.wav" in r.stderr and "Traceback" not in r.stderr


# ----------------------------------------------------------------------------- synth kinds (in process)


@pytest.mark.parametrize(
    "kind, extra",
    [
        ("white", []),
        ("brown", []),
        ("blue", []),
        ("violet", []),
        ("colored", ["--beta", "0.5"]),
        ("speech-shaped", []),
        ("tone", ["--freq-hz", "440"]),
        ("chirp", ["--freq-hz", "100", "--end-freq-hz", "4000", "--method", "logarithmic"]),
        ("square", ["--freq-hz", "3000"]),
        ("sawtooth", ["--freq-hz", "440"]),
        ("triangle", ["--freq-hz", "440"]),
        ("impulse-train", ["--freq-hz", "10"]),
        ("hum", ["--mains-hz", "60"]),
    ],
)
def test_synth_every_kind(tmp_path, capsys, kind, extra):
    out = tmp_path / f"{kind}.wav"
    status, _, err = _main(capsys, "synth", kind, str(out), "--duration-s", "0.5", "--sample-rate", "8000",
                           "--seed", "1", *extra)
    assert status == 0, err
    y, sr = noisegen.load(out)
    assert sr == 8000 and y.shape == (4000,)
    assert 0 < np.max(np.abs(y)) <= 1.0


def test_synth_matches_library_and_is_deterministic(tmp_path, capsys):
    args = ["synth", "pink", "--duration-s", "1", "--seed", "5", "--channels", "2", "--subtype", "FLOAT",
            "--amplitude", "0.2"]
    for name in ("a.wav", "b.wav"):
        assert _main(capsys, *args[:2], str(tmp_path / name), *args[2:])[0] == 0
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    y, _ = noisegen.load(tmp_path / "a.wav")
    expected = noisegen.pink_noise(16000, rng=5, n_channels=2) * np.float32(0.2)
    np.testing.assert_array_equal(y, expected)

    assert _main(capsys, "synth", "tone", str(tmp_path / "t.wav"), "--duration-s", "1", "--freq-hz", "1000",
                 "--amplitude", "0.25", "--subtype", "FLOAT")[0] == 0
    y, _ = noisegen.load(tmp_path / "t.wav")
    np.testing.assert_array_equal(y, noisegen.tone(freq_hz=1000.0, sample_rate=16000, n_samples=16000,
                                                   amplitude=0.25))


def test_synth_amplitude_help_says_the_noise_rms_is_expected_not_exact(tmp_path, capsys):
    """--help called --amplitude the noise kinds' RMS; a brown file's own is far from it (seed 111:
    10 dB below in 1 s), as colored_noise's unit variance is an expectation."""
    path = tmp_path / "b.wav"
    assert _main(capsys, "synth", "brown", str(path), "--duration-s", "1", "--seed", "111",
                 "--subtype", "FLOAT")[0] == 0
    rms_db = 20 * np.log10(np.sqrt(np.mean(np.square(sf.read(path)[0]))) / 0.1)
    assert -10.5 < rms_db < -5
    synth_help = cli.build_parser()._subparsers._group_actions[0].choices["synth"].format_help()
    assert "expected RMS of noise kinds" in " ".join(synth_help.split())


def test_synth_never_replaces_another_file_unless_told(tmp_path, capsys):
    out = tmp_path / "p.wav"
    args = ["synth", "pink", str(out), "--duration-s", "0.25", "--sample-rate", "8000"]
    assert _main(capsys, *args, "--seed", "1")[0] == 0
    first = out.read_bytes()
    assert _main(capsys, *args, "--seed", "1")[0] == 0  # the same bytes again: a rerun, no error
    status, _, err = _main(capsys, *args, "--seed", "2")
    assert status == 1 and err.strip().splitlines() == [
        f"noisegen synth: error: OUT {str(out)!r} exists and holds something else; it was left as it is "
        "(pass --overwrite to replace it)"]
    assert out.read_bytes() == first
    assert _main(capsys, *args, "--seed", "2", "--overwrite")[0] == 0
    assert out.read_bytes() != first and sorted(p.name for p in tmp_path.iterdir()) == ["p.wav"]
    (tmp_path / "d.wav").mkdir()  # a folder under that name is left alone too, with or without --overwrite
    for extra in ([], ["--overwrite"]):
        status, _, err = _main(capsys, *args[:2], str(tmp_path / "d.wav"), *args[3:], *extra)
        assert status == 1 and f"cannot write {str(tmp_path / 'd.wav')!r}: Is a directory" in err
        assert (tmp_path / "d.wav").is_dir() and not any(p.name.endswith(".part") for p in tmp_path.iterdir())


@pytest.mark.parametrize("hard_links", [True, False])
def test_save_without_overwrite_keeps_other_bytes_and_no_temporary_file(tmp_path, monkeypatch, hard_links):
    if not hard_links:  # a file system without them: checked just before the rename
        def no_link(src, dst):
            raise PermissionError(1, "Operation not permitted")
        monkeypatch.setattr(os, "link", no_link)
    path = tmp_path / "x.wav"
    a, b = noisegen.white_noise(800, rng=0) * 0.1, noisegen.white_noise(800, rng=1) * 0.1
    noisegen.save(path, a, sample_rate=8000, overwrite=False)
    before = path.read_bytes()
    noisegen.save(path, a, sample_rate=8000, overwrite=False)  # the same bytes: left as they are
    with pytest.raises(FileExistsError, match="holds something else"):
        noisegen.save(path, b, sample_rate=8000, overwrite=False)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["x.wav"]
    noisegen.save(path, b, sample_rate=8000)  # the default replaces, as before
    assert path.read_bytes() != before
    with pytest.raises(noisegen.ParameterError, match="overwrite"):
        noisegen.save(path, b, sample_rate=8000, overwrite="no")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_save_without_overwrite_never_reads_a_fifo_or_device_in_the_way(tmp_path):
    # a FIFO at the output blocked the comparison's read for ever, a link to /dev/zero read until memory
    # ran out: both are refused at once, unopened, by save and by the CLI (in a child: a hang fails the test)
    fifo, zero = tmp_path / "f.wav", tmp_path / "z.wav"
    os.mkfifo(fifo)
    zero.symlink_to("/dev/zero")
    code = textwrap.dedent(f"""
        import noisegen, numpy as np
        for path in ({str(fifo)!r}, {str(zero)!r}):
            try:
                noisegen.save(path, np.zeros(10, np.float32), sample_rate=16000, overwrite=False)
            except FileExistsError as exc:
                print(exc)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"[Errno 17] {str(p)!r} exists and is not a regular file; it was left as it is"
                                       for p in (fifo, zero)]
    cli_run = subprocess.run([sys.executable, "-m", "noisegen", "synth", "white", str(fifo), "--duration-s", "0.1"],
                             capture_output=True, text=True, timeout=120)
    assert cli_run.returncode == 1 and len(cli_run.stderr.strip().splitlines()) == 1
    assert "is not a regular file" in cli_run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.wav", "z.wav"]  # no temporary file left


def test_synth_that_leaves_out_as_it_is_says_only_that(tmp_path, capsys):
    """Clipping noise onto another file said "warning: saving to 'w.wav' as PCM_16 clips ..." above
    "error: OUT 'w.wav' exists and holds something else; it was left as it is": two lines, one untrue."""
    path = tmp_path / "w.wav"
    noisegen.save(path, np.zeros(8, np.float32), sample_rate=16000)
    status, _, err = _main(capsys, "synth", "white", str(path), "--duration-s", "0.5", "--amplitude", "1.0",
                           "--seed", "0")
    assert status == 1 and err.count("\n") == 1 and "left as it is" in err, err
    status, _, err = _main(capsys, "synth", "white", str(path), "--duration-s", "0.5", "--amplitude", "1.0",
                           "--seed", "0", "--overwrite")
    assert status == 0 and err.count("\n") == 1 and "warning: saving to" in err, err


def test_synth_clipping_warns_on_one_line(tmp_path, capsys):
    status, _, err = _main(capsys, "synth", "white", str(tmp_path / "w.wav"), "--duration-s", "0.5",
                           "--amplitude", "1.0", "--seed", "0")
    assert status == 0
    assert err.count("\n") == 1 and "warning" in err and "clips" in err


# ----------------------------------------------------------------------------- errors (in process)


@pytest.mark.parametrize(
    "args, status, needle",
    [
        (["synth", "purple", "x.wav", "--duration-s", "1"], 2, "invalid choice"),
        (["synth", "pink", "x.wav", "--duration-s", "-1"], 2, "--duration-s"),
        (["synth", "pink", "x.wav", "--duration-s", "nan"], 2, "--duration-s"),
        (["synth", "pink", "x.wav"], 2, "--duration-s"),
        (["synth", "pink", "x.wav", "--duration-s", "1", "--sample-rate", "16000.5"], 2, "--sample-rate"),
        # said "expected a sample rate in Hz in [1, 768000], got '44100.0'", of a rate in that range
        (["synth", "pink", "x.wav", "--duration-s", "1", "--sample-rate", "44100.0"], 2,
         "expected an integer sample rate in Hz in [1, 768000], got '44100.0'"),
        (["synth", "colored", "x.wav", "--duration-s", "1"], 2, "--beta"),
        (["synth", "colored", "x.wav", "--duration-s", "1", "--beta", "3"], 2, "--beta"),
        (["synth", "colored", "x.wav", "--duration-s", "1", "--beta", "2.0000000001"], 2,
         "--beta must be in [-2, 2], got 2.0000000001"),  # said "got 2"
        (["synth", "pink", "x.wav", "--duration-s", "1", "--beta", "1"], 2, "--beta"),
        (["synth", "tone", "x.wav", "--duration-s", "1"], 2, "--freq-hz"),
        (["synth", "tone", "x.wav", "--duration-s", "1", "--freq-hz", "9000"], 2, "--freq-hz"),
        (["synth", "chirp", "x.wav", "--duration-s", "1", "--freq-hz", "100"], 2, "--end-freq-hz"),
        (["synth", "hum", "x.wav", "--duration-s", "1", "--mains-hz", "55"], 2, "--mains-hz"),
        # the default --mains-hz past a low rate's Nyquist: the rate is named (it said only 'got 50')
        (["synth", "hum", "x.wav", "--duration-s", "1", "--sample-rate", "100"], 2, "Nyquist frequency of sample_rate 100"),
        (["synth", "pink", "x.mp9", "--duration-s", "1"], 2, "OUT"),
        (["synth", "pink", "x.wav", "--duration-s", "1", "--subtype", "PCM_77"], 2, "--subtype"),
        (["synth", "pink", "x.wav", "--duration-s", "1", "--seed", "-1"], 2, "--seed"),  # said "rng must be ..."
        # an 8 kHz file of the 16 kHz samples (WVE holds 8 kHz only), a 22075 Hz one (HTK's 100 ns period)
        (["synth", "pink", "x.wve", "--duration-s", "1", "--sample-rate", "16000"], 2,
         "--sample-rate must be one a WVE (ALAW) file's header holds exactly, got 16000 (the file would read back at 8000 Hz)"),
        (["synth", "pink", "x.htk", "--duration-s", "1", "--sample-rate", "22050"], 2, "read back at 22075 Hz"),
        # 6 frames read back of the 5 written (libsndfile's padding of a float AIFF without its PEAK chunk)
        (["synth", "pink", "x.aiff", "--duration-s", "0.0003", "--subtype", "FLOAT"], 2,
         "the length (--duration-s) must be at least 6 frames"),
        # a file libsndfile then cannot read ("Internal psf_fseek() failed")
        (["synth", "pink", "x.aiff", "--duration-s", "1", "--subtype", "DWVW_16"], 2, "--subtype must be one of"),
        # these said "y must be finite, got 16000 NaN/inf sample(s)" after a NumPy RuntimeWarning and its source line,
        (["synth", "pink", "x.wav", "--duration-s", "1", "--amplitude", "1e39"], 2, "--amplitude=1e+39 overflows"),
        # and "amplitude=1e+308 overflows ..."
        (["synth", "tone", "x.wav", "--duration-s", "1", "--freq-hz", "9", "--amplitude", "1e308", "--subtype", "FLOAT"],
         2, "--amplitude=1e+308 overflows"),
        (["synth", "pink", "x.wav", "--duration-s", "1", "--seed", str(2**64)], 2, "--seed"),
        # an RMS or a peak below 0 (it wrote noise of RMS 1 for --amplitude -1, and warned of clipping)
        (["synth", "pink", "x.wav", "--duration-s", "1", "--amplitude", "-1"], 2,
         "argument --amplitude: expected a finite number >= 0, got '-1'"),
        (["synth", "tone", "x.wav", "--duration-s", "1", "--freq-hz", "9", "--amplitude", "-0.5"], 2, "--amplitude"),
        (["synth", "pink", os.path.join("no", "such", "dir", "x.wav"), "--duration-s", "1"], 1, "cannot write"),
        (["info", "missing.wav"], 1, "missing.wav"),
        (["info", ""], 1, "no such audio file: ''"),  # the empty name was left out of the message
        (["frobnicate"], 2, "invalid choice"),
    ],
)
def test_errors_one_line(tmp_path, capsys, monkeypatch, args, status, needle):
    monkeypatch.chdir(tmp_path)
    got, out, err = _main(capsys, *args)
    assert got == status, err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err
    assert out == ""
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("value, beta", [("-1e-1", -0.1), ("-1E0", -1.0), ("-1_0e-1", -1.0), ("-.5", -0.5)])
def test_negative_numbers_in_every_spelling_are_values(tmp_path, capsys, monkeypatch, value, beta):
    # argparse took -1e-1 for an option: "argument --beta: expected one argument"
    monkeypatch.chdir(tmp_path)
    status, out, err = _main(capsys, "synth", "colored", "x.wav", "--duration-s", "0.1", "--beta", value, "--seed", "1")
    assert status == 0, err
    assert cli.build_parser().parse_args(["augment", "i", "o", "--snr-db", value, "5"]).snr_db[0] == beta


@pytest.mark.parametrize("value", ["-inf", "-Infinity", "-nan"])
def test_negative_non_finite_numbers_are_named_as_such(tmp_path, capsys, monkeypatch, value):
    monkeypatch.chdir(tmp_path)
    status, out, err = _main(capsys, "synth", "colored", "x.wav", "--duration-s", "0.1", "--beta", value)
    assert status == 2 and err.count("\n") == 1
    assert f"argument --beta: expected a finite number, got '{value}'" in err


def test_unwritable_folder(tmp_path, unprivileged, cli_env):
    locked = tmp_path / "locked"
    locked.mkdir()
    (tmp_path / "probe").write_bytes(b"")
    (tmp_path / "probe").chmod(0)
    locked.chmod(0o500)
    try:
        prefix = unprivileged(tmp_path / "probe")  # (root writes anywhere otherwise)
        r = subprocess.run([*prefix, sys.executable, "-m", "noisegen", "synth", "pink", str(locked / "x.wav"),
                            "--duration-s", "1"], capture_output=True, text=True, env=cli_env, timeout=300)
    finally:
        locked.chmod(0o700)
    assert r.returncode == 1 and "Permission denied" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert list(locked.iterdir()) == []


def test_synth_onto_a_folder_names_the_folder(tmp_path, capsys):
    """OUT naming a folder said "Is a directory: '.../.x.wav.k2j4.part'" (the temporary file)."""
    (tmp_path / "x.wav").mkdir()
    status, _, err = _main(capsys, "synth", "pink", str(tmp_path / "x.wav"), "--duration-s", "0.1")
    assert status == 1 and err.count("\n") == 1
    assert f"cannot write {str(tmp_path / 'x.wav')!r}: Is a directory" in err and ".part" not in err
    assert os.listdir(tmp_path / "x.wav") == [] and os.listdir(tmp_path) == ["x.wav"]


def test_info_several_files_continues_after_error(tmp_path, capsys):
    noisegen.save(tmp_path / "a.wav", np.zeros((2, 800), dtype=np.float32), sample_rate=8000, subtype="FLOAT")
    noisegen.save(tmp_path / "b.flac", noisegen.tone(freq_hz=100.0, sample_rate=8000, n_samples=4000,
                                                      amplitude=0.5), sample_rate=8000, subtype="PCM_24")
    status, out, err = _main(capsys, "info", str(tmp_path / "a.wav"), str(tmp_path / "nope.wav"),
                             str(tmp_path / "b.flac"))
    assert status == 1 and err.count("\n") == 1 and "nope.wav" in err
    lines = out.splitlines()
    assert len(lines) == 2
    assert "8000 Hz, 2 ch, 0.100 s" in lines[0] and "FLOAT (WAV)" in lines[0] and "peak -inf dBFS" in lines[0]
    assert "1 ch, 0.500 s" in lines[1] and "PCM_24 (FLAC)" in lines[1] and "peak -6.0 dBFS" in lines[1]
    assert "RMS -9.0 dBFS" in lines[1]


def test_augment_is_always_registered(monkeypatch):
    # `augment` is part of the package: registered directly, dispatched to noisegen.cli.augment.run.
    from noisegen.cli import augment

    monkeypatch.setattr(augment, "run", lambda args: 7 if args.in_dir == "IN" else 0)
    assert set(cli.build_parser()._subparsers._group_actions[0].choices) == {"synth", "info", "augment", "warmup"}
    assert cli.main(["augment", "IN", "OUT"]) == 7


# ----------------------------------------------------------------------------- issue 13: exit codes, pipes, info


def test_bare_noisegen_prints_usage_and_exits_2(capsys):
    status, out, err = _main(capsys)
    assert status == 2 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("usage: noisegen") and "COMMAND" in lines[1] and len(lines) == 2


def test_info_into_a_closed_pipe_is_quiet(tmp_path):
    """`noisegen info *.wav | head -1`: the reader leaves early; no "Broken pipe" message, no traceback."""
    path = tmp_path / "a.wav"
    noisegen.save(path, np.zeros(16, dtype=np.float32), sample_rate=8000)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(os.path.dirname(__file__)),
                                                        os.environ.get("PYTHONPATH", "")])}
    for n_files in (3, 3000):  # within and far beyond what the pipe buffers
        proc = subprocess.Popen([sys.executable, "-m", "noisegen", "info", *[str(path)] * n_files],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        first = proc.stdout.readline()
        proc.stdout.close()  # what `head -1` does after its line
        err = proc.stderr.read().decode()
        proc.wait(timeout=300)
        assert first.startswith(str(path).encode())
        assert err == "" and proc.returncode in (0, 141), (proc.returncode, err)


def test_closed_stdout_is_no_failure(tmp_path, monkeypatch, capsys):
    """Started with stdout closed (`noisegen synth ... >&-`, sys.stdout is None), synth wrote its file
    and then exited 1 with "unexpected AttributeError: 'NoneType' object has no attribute 'flush'".
    info, whose report is its point, says it has nowhere to print it (as `ls >&-` does)."""
    path = tmp_path / "x.wav"
    monkeypatch.setattr(sys, "stdout", None)
    assert cli.main(["synth", "pink", str(path), "--duration-s", "0.1"]) == 0
    assert capsys.readouterr().err == "" and path.exists()
    assert cli.main(["info", str(path)]) == 2
    assert "standard output is closed" in capsys.readouterr().err


def test_closed_stderr_keeps_errors_and_warnings_out_of_stdout(tmp_path, monkeypatch, capsys):
    """Started with stderr closed (`noisegen info a.wav b.wav 2>&- > report.txt`, sys.stderr is None),
    print(..., file=None) wrote the error lines and warnings to stdout, into the report."""
    path = tmp_path / "x.wav"
    monkeypatch.setattr(sys, "stderr", None)
    assert cli.main(["synth", "pink", str(path), "--duration-s", "0.1", "--amplitude", "3", "--seed", "1"]) == 0
    assert cli.main(["info", str(path), str(tmp_path / "missing.wav")]) == 1
    assert cli.main(["synth", "pink", "x.mp9", "--duration-s", "1"]) == 2
    assert sys.stderr is None
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(path) + ":"), lines


def test_info_of_a_file_whose_name_stdout_cannot_encode(tmp_path, monkeypatch):
    """A name stdout's encoding cannot hold (é under an ASCII locale) made info fail on its own output
    line: "unexpected UnicodeEncodeError: 'ascii' codec can't encode character", exit 1."""
    import io

    path = os.path.join(os.fsdecode(tmp_path), "\u00e9t\u00e9.wav")
    noisegen.save(path, np.zeros(80, np.float32), sample_rate=8000)
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main(["info", path]) == 0
    out.seek(0)
    assert out.read().startswith(f"{os.fsdecode(tmp_path)}/\\xe9t\\xe9.wav: 8000 Hz, 1 ch")


@pytest.mark.parametrize("ext", ["wav", "ogg", "flac"])
def test_files_whose_names_are_not_utf8(tmp_path, capsys, ext):
    """soundfile encodes a str name strictly: a name that is not UTF-8 (bytes 0xff 0xfe, surrogates in
    Python) failed info for every format, and load for those libsndfile reads, with a raw
    "UnicodeEncodeError: ... surrogates not allowed"."""
    path = os.path.join(os.fsdecode(tmp_path), os.fsdecode(b"bad\xff\xfe.") + ext)
    y = noisegen.tone(freq_hz=100.0, sample_rate=8000, n_samples=800, amplitude=0.5)
    noisegen.save(path, y, sample_rate=8000)
    assert noisegen.load(path)[0].shape == (800,)
    assert sum(b.shape[-1] for b in FileBlocks(path, sample_rate=8000)()) == 800  # (augment's long files)
    status, out, err = _main(capsys, "info", path)
    assert status == 0 and err == ""
    assert out.startswith(f"{os.fsdecode(tmp_path)}/bad\\udcff\\udcfe.{ext}: 8000 Hz, 1 ch")


def test_synth_full_disk_exits_1(tmp_path, capsys, monkeypatch):
    import errno

    import noisegen.cli

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(noisegen.cli, "save", full)  # where the synth command writes
    status, _, err = _main(capsys, "synth", "pink", str(tmp_path / "x.wav"), "--duration-s", "1")
    assert status == 1 and err.count("\n") == 1 and "No space left" in err and "Traceback" not in err


@pytest.mark.parametrize("args", [
    ["synth", "pink", "x.wav", "--duration-s", "1", "--sample-rate", "10000000000"],
    ["synth", "pink", "x.wav", "--duration-s", "1", "--sample-rate", "0"],
    ["synth", "pink", "x.wav", "--duration-s", "1", "--sample-rate", "768001"],
    ["synth", "pink", "x.wav", "--duration-s", "1e9"],
    ["synth", "pink", "x.wav", "--duration-s", "100000", "--channels", "64"],
    ["synth", "pink", "x.wav", "--duration-s", "1", "--channels", "100000"],
])
def test_synth_sizes_refused_up_front(tmp_path, capsys, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    status, out, err = _main(capsys, *args)
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("n_channels", [1, 2])
@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
def test_info_reports_non_finite_samples(tmp_path, capsys, n_channels, subtype):
    y = np.full((100, n_channels), 0.5)
    y[3, 0], y[7, -1], y[9, 0] = np.nan, np.inf, -np.inf
    path = tmp_path / "bad.wav"
    sf.write(str(path), y, 8000, subtype=subtype)
    status, out, err = _main(capsys, "info", str(path))
    assert status == 0 and err == ""
    assert f"3 non-finite samples (NaN/inf) of {100 * n_channels}" in out
    assert "peak -6.0 dBFS" in out and "-inf" not in out


@pytest.mark.parametrize("value, dbfs", [(1e300, "6000.0"), (1e-300, "-6000.0")])
def test_info_levels_of_samples_whose_squares_leave_float64(tmp_path, capsys, value, dbfs):
    """Squares past 1e308 overflowed: NumPy's RuntimeWarning and its source line on stderr, then
    "RMS inf dBFS"; squares below 1e-308 vanished: "RMS -inf dBFS" with a finite peak."""
    path = tmp_path / "loud.wav"
    sf.write(str(path), np.full(1000, value), 8000, subtype="DOUBLE")
    status, out, err = _main(capsys, "info", str(path))
    assert status == 0 and err == ""
    assert f"peak {dbfs} dBFS, RMS {dbfs} dBFS" in out


def test_info_names_the_os_reason_a_file_cannot_be_opened(tmp_path, unprivileged, cli_env):
    """`noisegen info` on a file without read permission said "System error." (libsndfile's words);
    now, for every format, the OS's reason and the file, and the other files are still read."""
    y = 0.1 * noisegen.white_noise(1600, rng=0)
    locked_dir = tmp_path / "locked"
    locked_dir.mkdir()
    paths = []
    for ext in ("wav", "flac", "ogg", "aiff", "au", "caf"):
        noisegen.save(tmp_path / f"x.{ext}", y, sample_rate=16000)
        (tmp_path / f"x.{ext}").chmod(0)
        paths.append(f"x.{ext}")
    noisegen.save(locked_dir / "y.wav", y, sample_rate=16000)
    locked_dir.chmod(0)  # no search permission: the file inside cannot even be looked up
    noisegen.save(tmp_path / "ok.wav", y, sample_rate=16000)
    try:
        prefix = unprivileged(tmp_path / "x.wav")
        r = subprocess.run([*prefix, sys.executable, "-m", "noisegen", "info", *paths, "locked/y.wav", "ok.wav"],
                           cwd=tmp_path, capture_output=True, text=True, env=cli_env, timeout=300)
    finally:
        locked_dir.chmod(0o700)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    errors = r.stderr.splitlines()
    assert errors == [f"noisegen info: error: Permission denied: {p!r}" for p in [*paths, "locked/y.wav"]]
    assert r.stdout.startswith("ok.wav: 16000 Hz, 1 ch")


_CTRL_C_AT_IMPORT = """
import os, signal, sys
import noisegen.__main__ as entry


class CtrlC:  # a real SIGINT (or SIGTERM), sent as the command line's imports reach {module!r}
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            os.kill(os.getpid(), signal.{sig})
        return None


sys.meta_path.insert(0, CtrlC())
sys.exit(entry.run(["info", "missing.wav"]))
"""


@pytest.mark.parametrize("sig, status, said", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
@pytest.mark.parametrize("module", ["numba", "scipy", "noisegen.cli.augment"])
def test_a_signal_while_the_command_starts_is_one_line(tmp_path, cli_env, module, sig, status, said):
    """A Ctrl-C in the command's first second (importing Numba and SciPy) printed a KeyboardInterrupt
    traceback; the entry point now imports the command line inside its try. A SIGTERM there killed
    the command without a word (no handler yet): it is now said as Ctrl-C is."""
    done = subprocess.run([sys.executable, "-c", _CTRL_C_AT_IMPORT.format(module=module, sig=sig)], cwd=tmp_path,
                          env=cli_env, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (status, f"noisegen: {said}\n")


_HANGUP_AT_IMPORT = """
import os, signal, sys
import noisegen.__main__ as entry


class HangUp:  # the terminal closes as the command line's imports reach scipy
    def find_spec(self, name, path=None, target=None):
        if name == "scipy":
            os.kill(os.getpid(), signal.SIGHUP)
        return None


sys.meta_path.insert(0, HangUp())
sys.argv = ["noisegen", "info", "missing.wav"]
entry.command()
"""


def test_a_hangup_while_the_command_starts_is_one_line(tmp_path, cli_env):
    """A SIGHUP in the command's first second killed it without a word (no handler yet), as SIGTERM once did."""
    done = subprocess.run([sys.executable, "-c", _HANGUP_AT_IMPORT], cwd=tmp_path, env=cli_env, capture_output=True,
                          text=True, timeout=120, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    assert (done.returncode, done.stderr) == (129, "noisegen: hung up\n")


class _HungUpTerminal:
    """stderr on a terminal that hung up: every write fails with EIO."""

    encoding = "utf-8"

    def write(self, text):
        raise OSError(5, "Input/output error")

    def flush(self):
        pass


@pytest.mark.parametrize("stop, status", [(KeyboardInterrupt, 130), (cli_args.HungUp, 129)])
def test_a_stop_whose_line_cannot_be_said_keeps_its_status(monkeypatch, stop, status):
    """Stopped by its terminal's hangup, the command's last line met EIO on that terminal: the OSError
    escaped main (a traceback to nowhere, status 1 instead of 129); the line is dropped now."""
    def run_info(args):
        raise stop()

    monkeypatch.setattr(cli, "_run_info", run_info)
    monkeypatch.setattr(sys, "stderr", _HungUpTerminal())
    assert cli.main(["info", "x.wav"]) == status


_SECOND_SIGNAL = """
import atexit, os, signal, sys, time
import noisegen.__main__ as entry
from noisegen import cli

first, second = (getattr(signal, name) if name != "-" else None for name in sys.argv[1:3])
when = sys.argv[3]

def run_info(args):
    if when == "exit":  # the command's work is done; the signal comes as the interpreter exits
        atexit.register(lambda: (os.kill(os.getpid(), first), time.sleep(0.05)))
        return 0
    try:
        os.kill(os.getpid(), first)
        time.sleep(1)
    finally:  # the second signal comes while the first unwinds the command
        if second is not None:
            os.kill(os.getpid(), second)
            time.sleep(0.05)

cli._run_info = run_info
sys.argv = ["noisegen", "info", "x.wav"]  # (the process's own command line, as the `noisegen` command runs)
entry.command()
"""


@pytest.mark.parametrize("first, second, when, status, said", [
    ("SIGTERM", "SIGINT", "run", 143, "noisegen info: terminated\n"),
    ("SIGINT", "SIGINT", "run", 130, "noisegen info: interrupted\n"),
    ("SIGINT", "SIGTERM", "run", 130, "noisegen info: interrupted\n"),
    ("SIGINT", "-", "exit", 0, ""),
    ("SIGTERM", "-", "exit", 0, ""),
    ("SIGHUP", "SIGINT", "run", 129, "noisegen info: hung up\n"),
    ("SIGHUP", "-", "exit", 0, ""),
])
def test_a_signal_after_the_first_or_after_the_work_changes_nothing(tmp_path, cli_env, first, second, when,
                                                                     status, said):
    """A second signal while the first unwound the command (a double Ctrl-C; TERM, then Ctrl-C) raised
    again: a traceback, the line twice, or a silent kill with the second's status. One that came as the
    interpreter exited, the command done, gave 'Exception ignored in atexit callback ... KeyboardInterrupt'
    or a silent kill. The first signal is carried out; later ones, and any after the command, are ignored.
    SIGHUP (a closing terminal) killed the command where it stood, even once its work was done."""
    done = subprocess.run([sys.executable, "-c", _SECOND_SIGNAL, first, second, when], cwd=tmp_path,
                          env=cli_env, capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))  # (not nohup's)
    assert (done.returncode, done.stderr) == (status, said)


def test_the_console_script_is_the_entry_point():
    """The installed `noisegen` command runs noisegen.__main__.command (the Ctrl-C-safe entry), as `python -m` does."""
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")  # (3.10: tomli)
    with open(ROOT / "pyproject.toml", "rb") as f:
        assert tomllib.load(f)["project"]["scripts"]["noisegen"] == "noisegen.__main__:command"


_DROPPED_SIGNAL = """
import ctypes, os, signal, sys
from noisegen import cli

def callback():
    os.kill(os.getpid(), getattr(signal, sys.argv[1]))  # the handler runs here, inside the callback
    for _ in range(1000):
        pass

c_callback = ctypes.CFUNCTYPE(None)(callback)

def run_info(args):
    c_callback()
    print("went on after the signal", flush=True)
    return 0

cli._run_info = run_info
sys.exit(cli.main(["info", "x.wav"]))
"""


@pytest.mark.parametrize("sig, status, said", [("SIGTERM", 143, "terminated"), ("SIGINT", 130, "interrupted")])
def test_a_signal_dropped_in_a_callback_ends_the_command_at_once(tmp_path, sig, status, said):
    """SIGTERM or Ctrl-C while Numba compiles raises inside llvmlite's ctypes callback, which drops it:
    'Exception ignored on calling ctypes callback ... Traceback' went to stderr and the command went on,
    with the compile left broken (a noise file then failed to load and was skipped: other outputs,
    recorded as complete). The command now ends there, with the signal's status and no traceback."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", _DROPPED_SIGNAL, sig], capture_output=True, text=True,
                         cwd=str(tmp_path), timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == status, run.stderr
    assert "went on" not in run.stdout
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr
    assert run.stderr.strip().splitlines()[-1] == f"noisegen info: {said}"


_SIGNAL_AT = """
import os, signal, sys
import noisegen.__main__ as entry
from noisegen import cli

sig, where = getattr(signal, sys.argv[1]), sys.argv[2]
if where == "parsing":  # after the imports, before the command's own handlers
    build = cli.build_parser

    def build_parser():
        os.kill(os.getpid(), sig)
        return build()

    cli.build_parser = build_parser
else:  # inside a string given to exec, as dataclasses and Numba make code
    def run_info(args):
        exec("import os, time\\nos.kill(os.getpid(), sig)\\ntime.sleep(1)", {"sig": sig})
        return 0

    cli._run_info = run_info
sys.argv = ["noisegen", "info", "x.wav"]
entry.command()
"""


@pytest.mark.parametrize("sig, status, said", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
@pytest.mark.parametrize("where", ["parsing", "exec"])
def test_a_signal_while_parsing_or_inside_exec_keeps_its_status(tmp_path, cli_env, sig, status, said, where):
    """While the arguments were parsed no handler was set: SIGTERM killed the command silently, Ctrl-C
    gave a traceback. A Ctrl-C that passed through a string given to exec made Python end the process
    by SIGINT after the command's line (status -2 to its parent, not 130)."""
    (tmp_path / "signal_at.py").write_text(_SIGNAL_AT)  # run with -m, as `python -m noisegen` is
    done = subprocess.run([sys.executable, "-m", "signal_at", sig, where], cwd=tmp_path, env=cli_env,
                          capture_output=True, text=True, timeout=120)
    command = "noisegen" if where == "parsing" else "noisegen info"
    assert (done.returncode, done.stderr) == (status, f"{command}: {said}\n")


_CTRL_C_IN_THE_KERNEL = """
import sys, types
import numpy as np
import noisegen.synth.oscillators as oscillators
from noisegen._kernels.cpu import osc

osc.additive(np.empty(1, np.float32), 0, 0.1, 0.0, np.ones(1))  # (compiled or loaded before the signal)
told = []


def additive(*args):  # says when the synthesis has reached its kernel
    if not told:
        told.append(print("in the kernel", flush=True))
    return osc.additive(*args)


oscillators.osc = types.SimpleNamespace(additive=additive)
import noisegen.__main__ as entry

sys.argv = ["noisegen", "synth", "sawtooth", "out.wav", "--freq-hz", "4", "--sample-rate", "768000",
            "--duration-s", "600"]
entry.command()
"""


@pytest.mark.parametrize("sig, status, said", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_a_signal_stops_a_long_synthesis_at_once(tmp_path, cli_env, sig, status, said):
    """A sawtooth of 100,000 harmonics a sample (--freq-hz 4 at 768 kHz) took hours in one kernel call,
    and a Ctrl-C or SIGTERM waited for all of it; the kernel now runs a piece at a time. (The 60 s
    are a hang guard, not a timing: the signal now ends it within a piece.)"""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-c", _CTRL_C_IN_THE_KERNEL], cwd=tmp_path, env=cli_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "in the kernel\n"
        time.sleep(0.2)
        proc.send_signal(getattr(signal, sig))
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert (proc.returncode, err) == (status, f"noisegen synth: {said}\n")
    assert os.listdir(tmp_path) == []  # nothing written, no temporary file left


_HALF_BUILT = """
import os, signal, sys
import noisegen.__main__ as entry
from noisegen import cli

SIG, HOW = sys.argv[1:3]
HELD = []

class Ref:  # as llvmlite's ObjectRef: its destructor needs what its constructor had not yet set
    def __init__(self, held):
        if held == "cycle":
            self.me = self  # (freed by the garbage collector)
        elif held == "module":
            HELD.append(self)  # (freed as the interpreter exits)
        os.kill(os.getpid(), getattr(signal, SIG))  # the handler raises here
        self.ptr = 1

    def __del__(self):
        del self.ptr

def run_info(args):
    Ref(HOW)
    return 0

cli._run_info = run_info
sys.argv = ["noisegen", "info", "x.wav"]  # (the process's own command line, as the `noisegen` command runs)
entry.command()
"""


@pytest.mark.parametrize("held", ["frame", "cycle", "module"])
@pytest.mark.parametrize("sig, status, said", [("SIGTERM", 143, "terminated"), ("SIGINT", 130, "interrupted")])
def test_a_signal_that_leaves_an_object_half_built_ends_without_a_traceback(tmp_path, sig, status, said, held):
    """A SIGTERM that landed inside llvmlite's ObjectRef constructor (a cold cache, Numba compiling)
    ended the command as asked, then 'Exception ignored in: <function ObjectRef.__del__ ...> Traceback'
    followed the one line: the half-built object's destructor failed when the traceback (or the garbage
    collector) let it go. After a signal, what the interrupted work left behind is dropped quietly."""
    run = subprocess.run([sys.executable, "-c", _HALF_BUILT, sig, held], capture_output=True, text=True,
                         cwd=str(tmp_path), timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == status, run.stderr
    assert run.stderr == f"noisegen info: {said}\n"


def test_synth_refuses_a_wav_longer_than_its_header_counts_before_making_it(tmp_path, capsys):
    out = tmp_path / "big.wav"
    status, _, err = _main(capsys, "synth", "white", str(out), "--duration-s", "33600", "--subtype", "DOUBLE")
    assert status == 2 and "too long for WAV (DOUBLE)" in err and ".w64" in err and not out.exists()


def test_a_warning_given_while_the_command_line_imports_is_one_line_of_the_command(tmp_path):
    """An unwritable NUMBA_CACHE_DIR is said when the kernels' module is imported, before the command
    installs its warning printer: it came as Python prints a warning, file, line and source."""
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(800, np.float32), 8000)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(wav)}  # a file: no folder can be made there
    done = subprocess.run([sys.executable, "-m", "noisegen", "info", str(wav)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)
    lines = done.stderr.splitlines()
    assert done.returncode == 0 and lines and all(line.startswith("noisegen info: warning: ") for line in lines)


def test_info_with_stdout_closed_says_so(tmp_path):
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(800, np.float32), 8000)
    done = subprocess.run([sys.executable, "-m", "noisegen", "info", str(wav)], capture_output=False,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=300,
                          preexec_fn=lambda: os.close(1))
    assert done.returncode == 2 and "standard output is closed" in done.stderr


def test_synth_speaks_of_its_options_and_its_output(tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "t.wav")
    status, _, err = _main(capsys, "synth", "tone", out, "--duration-s", "0.1", "--freq-hz", "440", "--amplitude", "2")
    assert status == 0 and "use --subtype FLOAT or a lower --amplitude" in err and "subtype='FLOAT'" not in err
    flac = str(tmp_path / "t.flac")  # (FLAC has no FLOAT subtype to suggest)
    status, _, err = _main(capsys, "synth", "tone", flac, "--duration-s", "0.1", "--freq-hz", "440", "--amplitude", "2")
    assert status == 0 and "a lower --amplitude, or a .wav OUT with --subtype FLOAT" in err and "subtype=" not in err

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")  # (no file name: a write's error has none)

    monkeypatch.setattr(cli, "save", full)
    status, _, err = _main(capsys, "synth", "pink", out, "--duration-s", "0.1", "--overwrite")
    assert status == 1 and err.strip().endswith(f"No space left on device: {out!r}")


@pytest.mark.parametrize("args, says", [
    (["--bogus"], "noisegen: error: unknown option --bogus; the COMMAND comes first"),  # ("COMMAND is required")
    (["warmup", "extra"], "noisegen warmup: error: unrecognized arguments: extra"),  # (it said "noisegen: error")
    (["info", "a.wav", "--what"], "noisegen info: error: unrecognized arguments: --what"),
])
def test_usage_errors_name_what_was_wrong_and_whose(capsys, args, says):
    status, _, err = _main(capsys, *args)
    assert status == 2 and err.strip() == says + ("" if "bogus" not in says else " (synth, info, augment, warmup)")
    for prefix in ("--vers", "--he", "--v"):  # argparse's prefixes of the global options still work
        assert _main(capsys, prefix)[0] == 0


def test_synth_to_an_unexpanded_tilde_says_why_the_folder_is_missing(tmp_path, monkeypatch, capsys):
    # noisegen synth pink '~/x/p.wav' said only "cannot write into '/cwd/~/x': No such file or directory"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    status, _, err = _main(capsys, "synth", "pink", "~/x/p.wav", "--duration-s", "0.1")
    assert status == 1 and "starts with '~', which only a shell expands" in err
    assert str(tmp_path / "home" / "x" / "p.wav") in err and os.listdir(tmp_path) == []
