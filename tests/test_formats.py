"""What each file format holds: save refuses what libsndfile refuses or crashes on, before writing."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import noisegen
from noisegen import ParameterError
from noisegen.audio import formats
from noisegen.audio.blocks import save_blocks
from noisegen.audio.io import encode, write_frames

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHANNELS = (1, 2, 3, 8, 9, 255, 256, 257, 1024, 1025)
RATES = (1, 7999, 8000, 11025, 44100, 48000, 65535, 65536, 96000, 100001, 200000, 200001, 655350, 655351, 768000)


def _writable_pairs():
    for fmt in sorted(set(sf.available_formats()) - {"SD2"}):  # (SD2: see the test of its own)
        for subtype in sorted(sf.available_subtypes(fmt)):
            if sf.check_format(fmt, subtype):
                yield fmt, subtype


def _layouts(subtype):
    base = 48000 if subtype == "OPUS" else 16000
    return [(ch, base) for ch in CHANNELS] + [(1, rate) for rate in RATES]


def _libsndfile_opens(fmt, subtype, channels, rate):
    try:
        sf.SoundFile(io.BytesIO(), "w", samplerate=rate, channels=channels, format=fmt, subtype=subtype).close()
    except sf.LibsndfileError:
        return False
    return True


def _allowed(fmt, subtype, channels, rate):
    try:
        formats.check_subtype(fmt, subtype)
        formats.check_writable(fmt, subtype, n_channels=channels, sample_rate=rate, n_frames=64)
    except ParameterError:
        return False
    return True


#: Layouts the table refuses although libsndfile opens them: Vorbis beyond 255 channels or 200 kHz
#: (a SIGSEGV on closing), FLAC at rates a frame header cannot say and AIFF's DWVW_12 (refused on the
#: first write), ALAC beyond 8 channels and SVX/MPC2K above 65535 Hz (files it cannot read back), and ALAC_32,
#: and ALAC_20/24 beyond one channel (noise reads back as other samples).
#: Also those that libsndfile reads back otherwise: AIFF's DWVW_16/24 (unreadable), PAF's PCM_24 (short)
#: and the rates HTK, XI, WVE and 8-bit VOC headers round (8-bit PVF under 10 Hz: one frame short).
def _stricter(fmt, subtype, channels, rate):
    return ((fmt, subtype) in (("OGG", "VORBIS"), ("AIFF", "DWVW_12"), ("AIFF", "DWVW_16"), ("AIFF", "DWVW_24"),
                               ("PAF", "PCM_24"), ("VOC", "PCM_U8"), ("PVF", "PCM_S8"))
            or fmt in ("HTK", "XI", "WVE") or (fmt == "FLAC" and channels <= 8)
            or (subtype.startswith("ALAC") and channels > 8) or (fmt in ("SVX", "MPC2K") and rate > 65535)
            or subtype == "ALAC_32" or (subtype in ("ALAC_20", "ALAC_24") and channels > 1))


@pytest.mark.parametrize("fmt, subtype", list(_writable_pairs()))
def test_the_table_allows_exactly_what_libsndfile_writes(fmt, subtype):
    """Over every format and subtype libsndfile lists, 1-1025 channels and 1 Hz-768 kHz: a layout
    the table allows is written (64 frames, then closed: the Vorbis crash was on closing); one it
    refuses, libsndfile refuses on opening too, but for the few it crashes on or writes unreadably."""
    x = np.zeros((64, 1), np.float32)
    for channels, rate in _layouts(subtype):
        if _allowed(fmt, subtype, channels, rate):
            with sf.SoundFile(io.BytesIO(), "w", samplerate=rate, channels=channels, format=fmt,
                              subtype=subtype) as f:
                f.write(np.repeat(x, channels, axis=1))
        elif not _stricter(fmt, subtype, channels, rate):  # (never opened: some would crash the process)
            assert not _libsndfile_opens(fmt, subtype, channels, rate), (channels, rate)


@pytest.mark.parametrize("ext, shape, rate, needle", [
    ("ogg", (256, 300), 16000, "at most 255"),
    ("ogg", (1025, 1100), 16000, "at most 255"),
    ("ogg", (1, 100), 200001, "at most 200000 Hz"),
    ("ogg", (2, 100), 768000, "at most 200000 Hz"),
    ("flac", (9, 100), 16000, "at most 8"),
    ("flac", (255, 300), 16000, "at most 8"),
    ("flac", (1, 100), 655351, "multiple of 10 Hz up to 655350 Hz"),
    ("flac", (1, 100), 65537, "multiple of 10 Hz up to 655350 Hz"),
    ("flac", (2, 100), 100001, "multiple of 10 Hz up to 655350 Hz"),
    ("flac", (0,), 16000, "at least 1 frame"),
    ("mp3", (3, 100), 16000, "at most 2"),
    ("mp3", (1, 100), 44101, "one of 8000"),
    ("wav", (1025, 1100), 16000, "at most 1024"),
    ("aiff", (1025, 1100), 16000, "at most 1024"),
])
def test_save_refuses_what_the_format_cannot_hold_before_writing(tmp_path, ext, shape, rate, needle):
    y = np.zeros(shape, np.float32)
    with pytest.raises(ParameterError, match=needle) as info:
        noisegen.save(tmp_path / f"x.{ext}", y, sample_rate=rate)
    assert ext.upper().replace("OGG", "OGG (VORBIS)")[:3] in str(info.value)  # names the format
    with pytest.raises(ParameterError, match=needle):
        encode(y, sample_rate=rate, format=ext)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("ext, channels, rate", [
    ("ogg", 255, 16000), ("ogg", 2, 200000), ("ogg", 1, 1), ("flac", 8, 655350), ("flac", 1, 65535),
    ("flac", 2, 100010), ("mp3", 2, 8000),
    ("wav", 1024, 768000), ("wav", 2, 16000), ("aiff", 1024, 8000),
])
def test_the_limits_themselves_still_save_and_load(tmp_path, ext, channels, rate):
    y = 0.1 * noisegen.white_noise(channels + 2, rng=0, n_channels=None if channels == 1 else channels)
    path = tmp_path / f"x.{ext}"
    noisegen.save(path, y, sample_rate=rate)
    meta = noisegen.info(path)
    assert (meta.channels, meta.sample_rate) == (channels, rate) and meta.frames >= channels + 2 - 1152


def test_the_crashing_layouts_are_refused_not_crashed(tmp_path):
    """Ogg Vorbis with 256 channels or above 200 kHz killed the process (SIGSEGV in libsndfile on close)."""
    code = ("import sys, numpy as np, noisegen\n"
            "for shape, rate in [((256, 300), 16000), ((1, 100), 200001), ((1024, 1100), 8000)]:\n"
            "    try:\n"
            "        noisegen.save(sys.argv[1], np.zeros(shape, np.float32), sample_rate=rate)\n"
            "    except noisegen.ParameterError as exc:\n"
            "        print('refused', exc)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.ogg")], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert r.stdout.count("refused") == 3 and not (tmp_path / "x.ogg").exists()


def test_sd2_is_refused_and_leaves_no_resource_fork_in_the_working_folder(tmp_path, monkeypatch):
    """libsndfile wrote an in-memory SD2's resource fork to ./._ (an unreadable .sd2; and a ./._ makes
    libsndfile fail to open in-memory MP3s, as the codec does)."""
    monkeypatch.chdir(tmp_path)
    for save in (lambda: noisegen.save("x.sd2", np.zeros(100), sample_rate=16000),
                 lambda: encode(np.zeros(100), sample_rate=16000, format="sd2"),
                 lambda: save_blocks("x.sd2", iter([np.zeros(100)]), sample_rate=16000)):
        with pytest.raises(ParameterError, match="SD2 files are not written"):
            save()
    assert list(tmp_path.iterdir()) == []


def test_whatever_save_writes_reads_back_with_its_rate_channels_and_samples():
    """Over every format and subtype, 1-2 channels and rates from 1 Hz to 96 kHz: what encode (and so
    save) writes reads back at the same rate and channel count, with exactly its frames (a length a
    block codec would pad is refused) and the same waveform. HTK, 8-bit VOC, XI and WVE files came back at other rates (22050 Hz
    as 22075 or 22222 Hz, any rate as 44100 or 8000 Hz), SDS with other samples, PAF 24-bit short."""
    writable = 0
    for fmt, subtype in _writable_pairs():
        for channels in (1, 2):
            for rate in (1, 8000, 11025, 22050, 44100, 96000):
                t = np.arange(4097) / 4097
                y = np.stack([0.4 * np.sin(2 * np.pi * 50 * t + c) for c in range(channels)]).astype(np.float32)
                try:
                    data = encode(y, sample_rate=rate, format=fmt.lower(), subtype=subtype)
                except ParameterError:
                    continue
                writable += 1
                back, back_rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
                where = (fmt, subtype, channels, rate)
                assert back_rate == rate and back.shape[1] == channels and back.shape[0] == 4097, where
                lags = range(0, back.shape[0] - 4097 + 1)  # (MP3, Opus: the encoder's delay)
                for c in range(channels):
                    best = max(np.corrcoef(y[c], back[d:d + 4097, c])[0, 1] for d in lags[::max(1, len(lags) // 64)])
                    assert best > 0.9, where
    assert writable > 300


@pytest.mark.parametrize("ext, subtype, kept, padded", [
    ("wav", "GSM610", 16000, 16001), ("wav", "IMA_ADPCM", 1010, 1009), ("wav", "MS_ADPCM", 1000, 1010),
    ("wav", "G721_32", 120, 16000), ("wav", "NMS_ADPCM_16", 16000, 16001), ("w64", "GSM610", 320, 321),
    ("aiff", "PCM_S8", 16000, 16001), ("aiff", "ULAW", 2, 1), ("au", "G723_24", 120, 1),
])
def test_a_length_a_codec_would_pad_is_refused_and_one_it_keeps_is_saved(tmp_path, ext, subtype, kept, padded):
    """save wrote a GSM 6.10 WAV of 16,001 frames that read back as 16,640 (codecs store whole blocks,
    and an odd count of 8-bit AIFF samples reads back with the pad byte as a frame): such a length is
    refused, naming what it would read back as, by save, save_blocks and encode, leaving no file;
    a length the codec keeps is saved and reads back whole."""
    y = 0.1 * noisegen.white_noise(max(kept, padded), rng=0)
    for save in (lambda: noisegen.save(tmp_path / f"x.{ext}", y[:padded], sample_rate=8000, subtype=subtype),
                 lambda: save_blocks(tmp_path / f"x.{ext}", iter([y[:padded]]), sample_rate=8000, subtype=subtype),
                 lambda: encode(y[:padded], sample_rate=8000, format=ext, subtype=subtype)):
        with pytest.raises(ParameterError, match=rf"^{padded} frame\(s\) cannot be saved exactly as .*{subtype}.* "
                                                 r"reads the file back as [0-9]+ frames"):
            save()
    assert list(tmp_path.iterdir()) == []
    noisegen.save(tmp_path / f"x.{ext}", y[:kept], sample_rate=8000, subtype=subtype)
    assert noisegen.info(tmp_path / f"x.{ext}").frames == kept == noisegen.load(tmp_path / f"x.{ext}")[0].shape[-1]


@pytest.mark.parametrize("ext, subtype, rate, stored", [
    ("htk", None, 22050, 22075), ("htk", None, 44100, 44247), ("voc", "PCM_U8", 22050, 22222),
    ("xi", None, 8000, 44100), ("wve", None, 16000, 8000),
])
def test_rates_a_header_rounds_are_refused_naming_what_it_would_read(tmp_path, ext, subtype, rate, stored):
    y = np.zeros(100, np.float32)
    with pytest.raises(ParameterError, match=f"sample_rate must be one a .* file's header holds exactly, got {rate} "
                                             rf"\(the file would read back at {stored} Hz\)"):
        noisegen.save(tmp_path / f"x.{ext}", y, sample_rate=rate, subtype=subtype)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("subtype", ["ALAC_16", "ALAC_20", "ALAC_24", "ALAC_32"])
def test_alac_layouts_that_would_read_back_as_other_audio_are_refused(tmp_path, subtype):
    """libsndfile's ALAC encoder stores a frame it cannot compress (loud noise) as raw samples, and wrote
    those of stereo ALAC_20/24 and any ALAC_32 wrongly: save gave a file that read back as other audio
    (a 24-bit stereo one off by 1.0), where a tone read back exactly. What save writes now reads back
    as written, over 1-8 channels and noise from quiet to full scale; the rest is refused up front."""
    bits = int(subtype[5:])
    rng = np.random.default_rng(0)
    for channels in (1, 2, 3, 8):
        for level in (1e-3, 0.5, 1.0):
            y = np.clip(level * rng.standard_normal((channels, 4097)), -1, 1 - 2.0 ** (1 - bits))
            path = tmp_path / f"x{channels}.caf"
            try:
                noisegen.save(path, y, sample_rate=16000, subtype=subtype)
            except ParameterError as exc:
                assert subtype == "ALAC_32" or channels > 1 and "ALAC encoder" in str(exc), exc
                assert not path.exists()
                continue
            back, _ = noisegen.load(path, dtype=np.float64)
            assert np.max(np.abs(back.reshape(channels, -1) - y)) <= 2.0 ** (1 - bits), (channels, level)


@pytest.mark.parametrize("ext, subtype", [("sds", None), ("aiff", "DWVW_16"), ("aiff", "DWVW_24"), ("paf", "PCM_24")])
def test_files_libsndfile_reads_back_wrong_are_not_written(tmp_path, ext, subtype):
    with pytest.raises(ParameterError, match="SDS files are not written" if ext == "sds" else "subtype must be one of"):
        noisegen.save(tmp_path / f"x.{ext}", np.zeros(4097), sample_rate=8000, subtype=subtype)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_an_opus_name_gets_opus_and_raw_is_refused(tmp_path, rate):
    """A .opus name was written as Ogg Vorbis (the Ogg default); a .raw file was written that
    load and info then failed on with a TypeError."""
    y = 0.1 * noisegen.white_noise(rate // 10, rng=0, n_channels=2)
    noisegen.save(tmp_path / "a.opus", y, sample_rate=rate)
    save_blocks(tmp_path / "b.opus", iter([y]), sample_rate=rate, n_channels=2)
    data = encode(y, sample_rate=rate, format="opus")
    for info in (sf.info(tmp_path / "a.opus"), sf.info(tmp_path / "b.opus"), sf.info(io.BytesIO(data))):
        assert (info.format, info.subtype, info.channels, info.samplerate) == ("OGG", "OPUS", 2, rate)
    noisegen.save(tmp_path / "c.ogg", y, sample_rate=rate)
    assert sf.info(tmp_path / "c.ogg").subtype == "VORBIS"
    with pytest.raises(ParameterError, match="subtype must be OPUS for a .opus file"):
        noisegen.save(tmp_path / "d.opus", y, sample_rate=rate, subtype="VORBIS")
    for save in (lambda: noisegen.save(tmp_path / "e.raw", y, sample_rate=rate),
                 lambda: encode(y, sample_rate=rate, format="raw"),
                 lambda: save_blocks(tmp_path / "e.raw", iter([y]), sample_rate=rate, n_channels=2)):
        with pytest.raises(ParameterError, match="RAW files are not written"):
            save()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.opus", "b.opus", "c.ogg"]


@pytest.mark.parametrize("format", ["", "xyz", "x/y.wav", "a.flac", ".wav", 5, None, b"wav"])
def test_encode_names_its_format_argument_not_a_path(format):
    # it said "path must end in a known audio extension ..., got 'audio.xyz'", and took "x/y.wav" as WAV
    with pytest.raises(ParameterError, match=r"^format must be an extension that save writes") as exc:
        encode(np.zeros(100), sample_rate=16000, format=format)
    assert "path" not in str(exc.value) and repr(format) in str(exc.value)


def test_save_blocks_refuses_too_and_leaves_nothing(tmp_path):
    with pytest.raises(ParameterError, match="at most 8"):
        save_blocks(tmp_path / "x.flac", iter([np.zeros((9, 10))]), sample_rate=16000, n_channels=9)
    with pytest.raises(ParameterError, match="at least 1 frame"):
        save_blocks(tmp_path / "x.flac", iter([]), sample_rate=16000)
    assert list(tmp_path.iterdir()) == []


def test_a_refusal_libsndfile_makes_on_opening_is_a_parameter_error():
    """The net under the table (another libsndfile version may refuse more): its reason, not a BytesIO repr."""
    with pytest.raises(ParameterError, match=r"9 channel\(s\) at 16000 Hz as FLAC \(PCM_16\): Format not recog"):
        write_frames(io.BytesIO(), [np.zeros((10, 9))], 16000, 9, "FLAC", "PCM_16")


def test_subtypes_libsndfile_lists_but_cannot_write_are_refused(tmp_path):
    for ext, subtype in [("mp3", "MPEG_LAYER_I"), ("mp3", "MPEG_LAYER_II"), ("wav", "MPEG_LAYER_III"),
                         ("aiff", "DWVW_12")]:
        with pytest.raises(ParameterError, match="subtype must be one of") as info:
            noisegen.save(tmp_path / f"x.{ext}", np.zeros(100), sample_rate=16000, subtype=subtype)
        options = str(info.value).split("one of ")[1].split(" for ")[0].split(", ")
        assert subtype not in options and options
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, needle", [
    (["x.ogg", "--channels", "256"], "--channels must be at most 255 for OGG (VORBIS)"),
    (["x.flac", "--channels", "9"], "--channels must be at most 8 for FLAC"),
    (["x.flac", "--sample-rate", "700000"], "--sample-rate must be at most 65535 Hz, or a multiple of 10 Hz"),
    (["x.flac", "--sample-rate", "96001"], "up to 655350 Hz, for FLAC (PCM_16) files, got 96001"),
    (["x.ogg", "--sample-rate", "384000"], "--sample-rate must be at most 200000 Hz for OGG (VORBIS)"),
    (["x.mp3", "--channels", "3"], "--channels must be at most 2 for MP3"),
])
def test_synth_refuses_up_front_with_exit_2(tmp_path, args, needle):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "noisegen", "synth", "pink", *args, "--duration-s", "0.1"],
                       cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1 and needle in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_augment_refuses_a_rate_its_output_format_cannot_hold_before_starting(tmp_path, capsys):
    from noisegen import cli

    (tmp_path / "in").mkdir()
    noisegen.save(tmp_path / "in" / "a.wav", np.zeros(800), sample_rate=8000)
    for rate in ("700000", "96001"):
        status = cli.main(["augment", str(tmp_path / "in"), str(tmp_path / "out"), "--output-format", "flac",
                           "--sample-rate", rate])
        err = capsys.readouterr().err
        assert status == 2 and "FLAC" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("subtype, width", [("FLOAT", 4), ("DOUBLE", 8)])
@pytest.mark.parametrize("channels", [1, 2, 3, 7])
def test_short_float_aiff_is_refused_and_the_rest_reads_back_as_written(tmp_path, subtype, width, channels):
    """A short float AIFF was saved, and read back with frames never written (6 of 1, mono FLOAT:
    libsndfile keeps the space of the PEAK chunk, which save leaves out, and reads frames from it)."""
    fewest = (16 + 8 * channels) // (width * channels)
    for n in range(fewest + 3):
        y = 0.1 * noisegen.white_noise(n, rng=n, n_channels=None if channels == 1 else channels)
        path = tmp_path / "x.aiff"
        if n < fewest:
            with pytest.raises(ParameterError, match=f"at least {fewest} frames"):
                noisegen.save(path, y, sample_rate=8000, subtype=subtype)
            assert not path.exists()
        else:
            noisegen.save(path, y, sample_rate=8000, subtype=subtype)
            np.testing.assert_allclose(noisegen.load(path, dtype=np.float64)[0], y, atol=1e-7)


@pytest.mark.parametrize("rate, stored", [(8000, 8000), (16000, 16000), (22050, 22053), (44100, 44107)])
def test_stereo_8bit_voc_rounds_its_rate_otherwise_than_mono(tmp_path, rate, stored):
    """The probe writes the channel count asked for: stereo 8-bit VOC keeps 16 kHz, rounds 22050 Hz to 22053."""
    y = np.zeros((2, 100), np.float32)
    if stored == rate:
        noisegen.save(tmp_path / "x.voc", y, sample_rate=rate, subtype="PCM_U8")
        assert sf.info(tmp_path / "x.voc").samplerate == rate
    else:
        with pytest.raises(ParameterError, match=f"read back at {stored} Hz"):
            noisegen.save(tmp_path / "x.voc", y, sample_rate=rate, subtype="PCM_U8")



@pytest.mark.parametrize("fmt, subtype, width", [("WAV", "DOUBLE", 8), ("WAV", None, 2), ("WAV", "PCM_24", 3),
                                                 ("AIFF", "FLOAT", 4), ("WAV", "ULAW", 1)])
def test_more_audio_than_a_32_bit_header_counts_is_refused(fmt, subtype, width):
    """libsndfile wrote a WAV of more than 4 GiB of samples with a header that read back short
    (`noisegen synth ... --duration-s 33600 --subtype DOUBLE`: 536,870,911 of 537,600,000 frames)."""
    frames = formats.MAX_RIFF_BYTES // width // 2
    formats.check_writable(fmt, subtype, n_channels=2, sample_rate=16000, n_frames=frames)
    with pytest.raises(ParameterError, match=r"too long .* write \.w64, \.rf64"):
        formats.check_writable(fmt, subtype, n_channels=2, sample_rate=16000, n_frames=frames + 1)
    for other in ("W64", "RF64", "FLAC"):  # (no such limit)
        formats.check_writable(other, None, n_channels=2, sample_rate=16000, n_frames=frames + 1)


def test_every_name_the_scanner_reads_can_be_written(tmp_path):
    """save (and synth's OUT) refused .wave, .aifc and .snd, which every folder scan reads."""
    from noisegen.audio.files import AUDIO_EXTENSIONS

    y = (np.sin(np.arange(4800) / 7) * 0.3).astype(np.float32)
    for ext in AUDIO_EXTENSIONS:
        rate = 48000 if ext == ".opus" else 8000
        noisegen.save(tmp_path / f"x{ext}", y, sample_rate=rate)
        back, got = noisegen.load(tmp_path / f"x{ext}")
        assert got == rate and back.shape == y.shape, ext
