"""load / save / info: round trips, layouts, atomic byte-stable writes, errors."""

from __future__ import annotations

import io
import math
import os
import re
import time
import warnings

import numpy as np
import pytest
import soundfile as sf

import noisegen
from noisegen import NoisegenError, NoisegenWarning, ParameterError


def _signal(n_channels=None, n=1000, dtype=np.float32):
    rng = np.random.default_rng(0)
    shape = (n,) if n_channels is None else (n_channels, n)
    return (0.5 * rng.uniform(-1, 1, shape)).astype(dtype)


@pytest.mark.parametrize("n_channels", [None, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_round_trip_exact(tmp_path, n_channels, dtype):
    y = _signal(n_channels, dtype=dtype)
    path = tmp_path / "x.wav"
    noisegen.save(path, y, sample_rate=22050, subtype="FLOAT")
    back, sr = noisegen.load(path, dtype=dtype)
    assert sr == 22050 and back.shape == y.shape and back.dtype == dtype
    np.testing.assert_array_equal(back, y.astype(np.float32).astype(dtype))
    # the file really holds frames x channels in the right order
    raw, _ = sf.read(str(path), always_2d=True, dtype="float32")
    np.testing.assert_array_equal(raw.T, np.atleast_2d(y.astype(np.float32)))


@pytest.mark.parametrize("subtype, bits", [(None, 16), ("PCM_16", 16), ("PCM_24", 24)])
def test_pcm_round_trip(tmp_path, subtype, bits):
    y = _signal(2, dtype=np.float64)
    path = tmp_path / "x.wav"
    noisegen.save(path, y, sample_rate=16000, subtype=subtype)
    assert sf.info(str(path)).subtype == f"PCM_{bits}"
    back, _ = noisegen.load(path, dtype=np.float64)
    assert np.max(np.abs(back - y)) <= 1.0 / 2 ** (bits - 1)


def test_flac_and_mono_downmix(tmp_path):
    y = _signal(2)
    path = tmp_path / "x.flac"
    noisegen.save(path, y, sample_rate=16000)
    assert sf.info(str(path)).format == "FLAC"
    mono, _ = noisegen.load(path, mono=True, dtype=np.float64)
    stereo, _ = noisegen.load(path, dtype=np.float64)
    assert mono.shape == (1000,)
    np.testing.assert_allclose(mono, stereo.mean(axis=0))


def test_float_wav_bytes_identical_across_saves(tmp_path):
    # libsndfile's PEAK chunk holds a time stamp (1 s resolution): without it,
    # the same audio written a second apart gives the same bytes.
    y = _signal(2)
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    noisegen.save(a, y, sample_rate=16000, subtype="FLOAT")
    time.sleep(1.1)
    noisegen.save(b, y, sample_rate=16000, subtype="FLOAT")
    data = a.read_bytes()
    assert b"PEAK" not in data
    assert data == b.read_bytes()


def test_float_rf64_bytes_identical_across_saves(tmp_path):
    # libsndfile's RF64 writer keeps the PEAK chunk (and its time stamp) that WAV leaves out: the same
    # audio saved a second later differed there, and save(overwrite=False) refused it
    cases = [(subtype, n_channels, n) for subtype in ("FLOAT", "DOUBLE") for n_channels, n in ((None, 1), (3, 999))]
    for k, (subtype, n_channels, n) in enumerate(cases):
        noisegen.save(tmp_path / f"a{k}.rf64", _signal(n_channels, n), sample_rate=16000, subtype=subtype)
    time.sleep(1.1)
    for k, (subtype, n_channels, n) in enumerate(cases):
        y = _signal(n_channels, n)
        a, b = tmp_path / f"a{k}.rf64", tmp_path / f"b{k}.rf64"
        noisegen.save(b, y, sample_rate=16000, subtype=subtype)
        assert a.read_bytes() == b.read_bytes(), (subtype, n_channels, n)
        noisegen.save(a, y, sample_rate=16000, subtype=subtype, overwrite=False)  # the same bytes: no error
        np.testing.assert_array_equal(noisegen.load(b)[0], y)


def _ogg_pages(data):
    """``(serial, stored CRC, CRC computed bit by bit)`` of each page of an Ogg file's bytes, all of them."""
    pages, at = [], 0
    while at < len(data):
        assert data[at:at + 4] == b"OggS", at
        lacing = data[at + 27:at + 27 + data[at + 26]]
        page = data[at:at + 27 + len(lacing) + sum(lacing)]
        crc = 0
        for byte in page[:22] + bytes(4) + page[26:]:  # polynomial 0x04C11DB7, MSB first, from 0
            crc ^= byte << 24
            for _ in range(8):
                crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
        pages.append((page[14:18], int.from_bytes(page[22:26], "little"), crc))
        at += len(page)
    return pages


@pytest.mark.parametrize("name", ["x.ogg", "x.opus"])
@pytest.mark.parametrize("n_channels, n", [(None, 1), (None, 48000), (2, 100_000)])
def test_ogg_bytes_identical_across_saves(tmp_path, name, n_channels, n):
    # libsndfile gives each Ogg stream a serial number drawn from the clock: the same audio saved
    # twice differed in every page (and `synth x.ogg --seed 1` failed when run again)
    from noisegen.audio.io import encode

    y = _signal(n_channels, n) * 0.5
    fmt = name.split(".")[1]
    path = tmp_path / name
    noisegen.save(path, y, sample_rate=48000)
    data = path.read_bytes()
    assert encode(y, sample_rate=48000, format=fmt) == data
    noisegen.save(path, y, sample_rate=48000, overwrite=False)  # the same bytes: no FileExistsError
    pages = _ogg_pages(data)
    assert len({serial for serial, _, _ in pages}) == 1
    assert all(stored == computed for _, stored, computed in pages)
    assert sf.info(str(path)).frames == n
    other = _ogg_pages(encode(-y, sample_rate=48000, format=fmt))
    assert other[0][0] != pages[0][0]  # another stream, another serial (chained files keep theirs apart)


@pytest.mark.parametrize("block", [1, 7, 1000, 65536, 65537, 70001])
def test_vorbis_saved_in_blocks_is_the_file_save_writes(tmp_path, block):
    # libvorbis's blocks follow the writes: blocks of 1000 frames encoded other audio (0.04 off) than save
    from noisegen.audio.blocks import save_blocks

    y = _signal(2, n=70_001)
    noisegen.save(tmp_path / "whole.ogg", y, sample_rate=16000)
    save_blocks(tmp_path / "blocks.ogg", (y[:, i:i + block] for i in range(0, y.shape[1], block)),
                sample_rate=16000, n_channels=2)
    assert (tmp_path / "blocks.ogg").read_bytes() == (tmp_path / "whole.ogg").read_bytes()


@pytest.mark.parametrize("fmt", ["wav", "flac"])
@pytest.mark.parametrize("n_channels", [None, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pcm16_samples_are_those_libsndfile_makes(tmp_path, fmt, n_channels, dtype):
    # save() rounds to 16-bit PCM itself (one pass); the file must be the one soundfile writes:
    # every value near each step, its midpoints, full scale, tiny and negative zero.
    rng = np.random.default_rng(7)
    steps = np.arange(-32768, 32768) / 32768.0
    flat = np.concatenate([rng.uniform(-1, 1, 40_001), steps, steps + 0.5 / 32768, steps + 1e-9, steps - 1e-9,
                           rng.uniform(-1e-4, 1e-4, 999), [1.0, -1.0, 0.0, -0.0, 2.0**-31, -(2.0**-31), 2.0**-32]])
    flat = np.clip(flat, -1.0, 1.0).astype(dtype)
    y = flat if n_channels is None else flat[: flat.size // 2 * 2].reshape(2, -1)
    ours, theirs = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
    noisegen.save(ours, y, sample_rate=16000)
    import soundfile as sf_

    sf_.write(str(theirs), y.T if y.ndim == 2 else y, 16000, subtype="PCM_16")
    a, _ = sf_.read(str(ours), dtype="int16")
    b, _ = sf_.read(str(theirs), dtype="int16")
    np.testing.assert_array_equal(a, b)
    if fmt == "wav":
        assert ours.read_bytes() == theirs.read_bytes()


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])  # noisegen's 16-bit WAV writer and libsndfile's
def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch, subtype):
    path = tmp_path / "out.wav"
    noisegen.save(path, _signal(), sample_rate=16000, subtype=subtype)
    before = path.read_bytes()
    real_fdopen = os.fdopen

    class DiskFull:  # the temporary file takes a few bytes, then the disk is full
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            self.fh.write(bytes(data)[:100])
            raise OSError(28, "No space left on device (simulated)")

    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: DiskFull(real_fdopen(fd, *a, **k)))
    with pytest.raises(OSError, match="simulated"):
        noisegen.save(path, _signal(n=5000), sample_rate=16000, subtype=subtype)
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg"])
def test_overwrite_false_says_a_dangling_symlink_is_one(tmp_path, ext):
    # it said "exists and holds something else" of a link to nothing
    path = tmp_path / f"out.{ext}"
    os.symlink(tmp_path / "gone" / f"x.{ext}", path)
    with pytest.raises(FileExistsError, match="symlink to a missing file"):
        noisegen.save(path, _signal(), sample_rate=16000, overwrite=False)
    assert os.path.islink(path) and sorted(p.name for p in tmp_path.iterdir()) == [f"out.{ext}"]


def test_saved_file_mode_follows_umask(tmp_path):
    path = tmp_path / "out.wav"
    old = os.umask(0o022)
    try:
        noisegen.save(path, _signal(), sample_rate=16000)
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o644


def test_save_overwrites_existing(tmp_path):
    path = tmp_path / "out.wav"
    noisegen.save(path, _signal(n=10), sample_rate=16000)
    noisegen.save(path, _signal(n=20), sample_rate=16000)
    assert sf.info(str(path)).frames == 20


def test_save_to_an_unexpanded_tilde_from_python_says_why(tmp_path, monkeypatch):
    # noisegen.save('~/x.wav', ...) said only "cannot write into '/cwd/~'" (the CLI's synth said why)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(FileNotFoundError, match="starts with '~', which only a shell expands") as caught:
        noisegen.save("~/x.wav", _signal(n=10), sample_rate=16000)
    assert str(tmp_path / "home" / "x.wav") in str(caught.value) and os.listdir(tmp_path) == []
    os.mkdir("~")  # a folder really named '~' here is written into, as asked
    noisegen.save("~/x.wav", _signal(n=10), sample_rate=16000)
    assert sf.info("~/x.wav").frames == 10


def test_pcm_clipping_warns(tmp_path):
    y = np.array([0.0, 1.5, -2.0, 0.5], dtype=np.float32)
    with pytest.warns(NoisegenWarning, match="clips"):
        noisegen.save(tmp_path / "c.wav", y, sample_rate=8000)
    back, _ = noisegen.load(tmp_path / "c.wav")
    assert back[1] == pytest.approx(1.0, abs=1e-4) and back[2] == -1.0


@pytest.mark.parametrize("ext", ["wav", "aiff", "au", "w64", "caf", "flac", "mp3", "voc", "paf"])
@pytest.mark.parametrize("peak", [1.5, 1e39, 1e300])
def test_the_clipping_warnings_advice_works_for_the_files_format(tmp_path, ext, peak):
    # it said "use subtype='FLOAT'" for a .flac or .mp3 file too, where that subtype is refused, and
    # for float64 samples past float32's range, which FLOAT refuses ("use subtype='DOUBLE'")
    wide = "DOUBLE" if peak > 3.5e38 else "FLOAT"
    y = np.array([0.0, peak, -0.5, 0.25] * 300, dtype=np.float64 if wide == "DOUBLE" else np.float32)
    path = tmp_path / f"c.{ext}"
    with pytest.warns(NoisegenWarning, match="clips") as record:
        noisegen.save(path, y, sample_rate=8000)
    advice = str(record[0].message)
    if f"use subtype='{wide}'" in advice:
        noisegen.save(path, y, sample_rate=8000, subtype=wide, overwrite=True)  # no warning, no refusal
        assert noisegen.load(path, dtype=y.dtype)[0][1] == y[1]
    else:
        assert "hold no" in advice and f"a .wav file with subtype='{wide}'" in advice
        with pytest.raises(ParameterError, match="subtype"):
            noisegen.save(path, y, sample_rate=8000, subtype=wide, overwrite=True)
        noisegen.save(tmp_path / "c.wav", y, sample_rate=8000, subtype=wide)  # what it advises works


def test_save_bad_arguments(tmp_path):
    y = _signal()
    with pytest.raises(ParameterError, match="subtype"):
        noisegen.save(tmp_path / "x.wav", y, sample_rate=16000, subtype="PCM_77")
    with pytest.raises(ParameterError, match="path"):
        noisegen.save(tmp_path / "x.nope", y, sample_rate=16000)
    with pytest.raises(ParameterError, match="y"):
        noisegen.save(tmp_path / "x.wav", (y * 32767).astype(np.int16), sample_rate=16000)
    with pytest.raises(ParameterError, match="sample_rate"):
        noisegen.save(tmp_path / "x.wav", y, sample_rate=16000.5)
    with pytest.raises(ParameterError, match="y"):
        noisegen.save(tmp_path / "x.wav", np.array([0.0, np.nan]), sample_rate=16000)
    with pytest.raises(OSError, match="cannot write"):
        noisegen.save(tmp_path / "missing" / "x.wav", y, sample_rate=16000)
    assert list(tmp_path.iterdir()) == []


def test_load_resamples(tmp_path):
    sr = 16000
    y = noisegen.tone(freq_hz=1000.0, sample_rate=sr, n_samples=sr, amplitude=0.5)
    noisegen.save(tmp_path / "t.wav", y, sample_rate=sr, subtype="FLOAT")
    z, new_sr = noisegen.load(tmp_path / "t.wav", sample_rate=8000, dtype=np.float64)
    assert new_sr == 8000 and z.shape == (8000,)
    ref = 0.5 * np.cos(2 * np.pi * 1000.0 * np.arange(8000) / 8000)
    mid = slice(500, 7500)
    assert np.max(np.abs(z[mid] - ref[mid])) < 1e-2
    same, same_sr = noisegen.load(tmp_path / "t.wav", sample_rate=sr)
    assert same_sr == sr
    np.testing.assert_array_equal(same, y)


@pytest.mark.parametrize("name, file_rate, subtype", [("bat.wav", 384000, "PCM_16"), ("bat.flac", 192000, "PCM_24"),
                                                      ("low.aiff", 1000, "PCM_16"), ("low.wav", 7999, "FLOAT")])
def test_load_refuses_a_rate_beyond_the_resampler_from_the_header(tmp_path, monkeypatch, name, file_rate, subtype):
    """A ``sample_rate`` more than 256x from the file's is refused before any frame is decoded (it was
    decoded whole first), naming the file's rate and the range it can be loaded at; both ends of that
    range are taken."""
    from noisegen.audio import io as audio_io

    path = tmp_path / name
    sf.write(str(path), np.zeros((file_rate // 10, 2)), file_rate, subtype=subtype)
    low, high = -(-file_rate // 256), min(file_rate * 256, 768000)
    decoded = []
    real_native, real_claimed = audio_io.read_native, audio_io.read_claimed
    monkeypatch.setattr(audio_io, "read_native", lambda *a, **k: decoded.append(a) or real_native(*a, **k))
    monkeypatch.setattr(audio_io, "read_claimed", lambda *a, **k: decoded.append(a) or real_claimed(*a, **k))
    for target in {low - 1, high + 1, 1, 768000} - set(range(low, high + 1)) - {0, 768001}:
        with pytest.raises(ParameterError, match=rf"sample_rate={target}: the file is at {file_rate} Hz.*"
                                                 rf"\[{low}, {high}\]"):
            noisegen.load(path, sample_rate=target)
        assert decoded == [], target
    for target in (low, high):
        y, sr = noisegen.load(path, sample_rate=target, mono=True)
        assert sr == target and y.shape == (-(-(file_rate // 10) * target // file_rate),)


@pytest.mark.parametrize("name, file_rate, subtype", [("bat.wav", 1_000_000, "PCM_16"), ("bat.w64", 768001, "FLOAT"),
                                                      ("bat.aiff", 2_000_000, "PCM_24")])
def test_load_refuses_a_file_above_the_resamplers_rates_from_the_header(tmp_path, monkeypatch, name, file_rate,
                                                                       subtype):
    """A file above the 768 kHz resample takes (an ultrasonic recorder's 1 MHz) loaded at any ``sample_rate``
    was decoded whole, then refused naming resample's ``orig_sample_rate``, which load has not; it is now
    refused from the header, naming the file's rate. At its own rate it still loads."""
    from noisegen.audio import io as audio_io

    path = tmp_path / name
    sf.write(str(path), np.zeros((1000, 2)), file_rate, subtype=subtype)
    decoded = []
    real_native, real_claimed = audio_io.read_native, audio_io.read_claimed
    monkeypatch.setattr(audio_io, "read_native", lambda *a, **k: decoded.append(a) or real_native(*a, **k))
    monkeypatch.setattr(audio_io, "read_claimed", lambda *a, **k: decoded.append(a) or real_claimed(*a, **k))
    for target in (1, 16000, 768000):
        with pytest.raises(ParameterError, match=rf"sample_rate={target}: the file is at {file_rate} Hz, above the "
                                                 r"768000 Hz noisegen.resample takes") as info:
            noisegen.load(path, sample_rate=target)
        assert decoded == [] and "orig_sample_rate" not in str(info.value), target
    y, sr = noisegen.load(path)
    assert sr == file_rate and y.shape == (2, 1000)

@pytest.mark.parametrize("file_rate, target", [(1_000_000, 16000), (16000, 16)])
def test_segment_readers_name_the_file_whose_rate_is_out_of_reach(tmp_path, file_rate, target):
    # read_segment and FileBlocks said only "the file is at 1000000 Hz, above the ..." (the streams add the name)
    from noisegen.audio.blocks import FileBlocks
    from noisegen.audio.segment import read_segment

    path = tmp_path / "bat.wav"
    sf.write(str(path), np.zeros(2000, np.float32), file_rate, subtype="FLOAT")
    for read in (lambda: read_segment(path, sample_rate=target, offset_s=0.0),
                 lambda: FileBlocks(path, sample_rate=target)):
        with pytest.raises(ParameterError, match=rf"^{re.escape(repr(str(path)))} is at {file_rate} Hz"):
            read()


@pytest.mark.parametrize("ext, read_as, shown", [
    (b"\x00" * 10, 1, "0 Hz"), (b"\xbf\xff\x80" + bytes(7), 0, "-1 Hz"), (b"\x3f\xfe\x80" + bytes(7), 1, "0.5 Hz"),
    (b"\x7f\xff\x80" + bytes(7), 67108864, "infinity"), (b"\x7f\xff\xc0" + bytes(7), 67108864, "NaN"),
    (b"\x40\x3f\x80" + bytes(7), 800000000, "1.84467e+19 Hz"),
    # past float64's range: an OverflowError escaped from the check (2.0 ** e), or the rate showed as inf
    (b"\x7f\xfe\x80" + bytes(7), 67108864, "1 * 2**16383 Hz"), (b"\x44\x3d\xc0" + bytes(7), 67108864, "1.5 * 2**1086 Hz"),
    (b"\xc4\x3e\x80" + bytes(7), 0, "-1 * 2**1087 Hz"),
])
def test_an_aiff_file_whose_header_rate_is_no_rate_is_refused(tmp_path, ext, read_as, shown):
    # libsndfile reads an AIFF rate of 0 as 1 Hz and infinity as 67 MHz, without a word: load gave sr=1
    path = tmp_path / "a.aiff"
    sf.write(str(path), np.full(1000, 0.1, np.float32), 16000, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    at = raw.find(b"COMM") + 16  # id, size, channels (2), frames (4), bits (2): then the 80-bit rate
    raw[at:at + 10] = ext
    path.write_bytes(bytes(raw))
    for read in (noisegen.load, noisegen.info):
        with pytest.raises(NoisegenError, match=rf"a sample rate of {re.escape(shown)} \(libsndfile reads "
                                                rf"{read_as:,} Hz\): the header is damaged"):
            read(path)
    raw[at:at + 10] = b"\x3f\xff\x80" + bytes(7)  # 1 Hz: a rate, read as it is
    path.write_bytes(bytes(raw))
    assert noisegen.load(path)[1] == 1
    raw[at:at + 10] = b"\x40\x1c\xc0" + bytes(7)  # 1.5 * 2**29 Hz: libsndfile reads it as it is (it was refused,
    path.write_bytes(bytes(raw))                  # 'libsndfile reads 800,000,000 Hz')
    assert noisegen.info(path).sample_rate == 3 * 2**28


def test_an_aiff_member_whose_header_rate_is_no_rate_is_refused(tmp_path):
    # a tar member (decode's bytes) at rate 0 was read at the 1 Hz libsndfile makes of it, as a file was
    from noisegen.audio.segment import decode, decode_own_rate, decoded_span

    path = tmp_path / "a.aiff"
    sf.write(str(path), np.full(1000, 0.1, np.float32), 16000, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    at = raw.find(b"COMM") + 16
    raw[at:at + 10] = bytes(10)
    for read in (lambda b: decode(b, sample_rate=16000, name="member a.aiff"), decode_own_rate, decoded_span):
        with pytest.raises(NoisegenError, match=r"a sample rate of 0 Hz \(libsndfile reads 1 Hz\): the header"):
            read(b"ID3\x03\x00\x00\x00\x00\x00\x10" + bytes(16) + bytes(raw))  # (behind an ID3v2 tag too)
        with pytest.raises(NoisegenError, match="header is damaged"):
            read(bytes(raw))
    raw[at:at + 10] = b"\x40\x0c\xfa" + bytes(7)  # 16000 Hz: read as it is
    assert decode_own_rate(bytes(raw))[1] == 16000 and decoded_span(bytes(raw)) == (1000, 16000)


def test_load_bundled_data(data_dir):
    y, sr = noisegen.load(data_dir / "speech" / "cmu_arctic_us_aew_a0001.wav")
    assert y.ndim == 1 and y.dtype == np.float32 and sr > 0 and np.abs(y).max() <= 1.0
    z, sr2 = noisegen.load(data_dir / "noise" / "inspectorj_bird_robin.ogg", sample_rate=16000, mono=True)
    assert sr2 == 16000 and z.ndim == 1 and z.size > 0


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such audio file"):
        noisegen.load(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio")
    with pytest.raises(NoisegenError, match="cannot read"):
        noisegen.load(bad)
    with pytest.raises(IsADirectoryError):
        noisegen.load(tmp_path)
    with pytest.raises(ParameterError, match="dtype"):
        noisegen.load(bad, dtype=np.int16)
    with pytest.raises(ParameterError, match="sample_rate"):
        noisegen.load(bad, sample_rate=-1)


def test_info_levels_and_layout(tmp_path):
    sr = 16000
    y = np.stack([noisegen.tone(freq_hz=1000.0, sample_rate=sr, n_samples=sr, amplitude=0.5),
                  np.zeros(sr, dtype=np.float32)])
    path = tmp_path / "s.wav"
    noisegen.save(path, y, sample_rate=sr, subtype="PCM_24")
    meta = noisegen.info(path)
    assert (meta.sample_rate, meta.channels, meta.frames) == (sr, 2, sr)
    assert meta.duration_s == 1.0 and meta.subtype == "PCM_24" and meta.format == "WAV"
    assert meta.peak_dbfs == pytest.approx(20 * math.log10(0.5), abs=1e-3)
    # RMS over both channels: 0.5/sqrt(2) on one, silence on the other
    assert meta.rms_dbfs == pytest.approx(20 * math.log10(0.5 / 2), abs=1e-3)


def test_info_silence_and_errors(tmp_path):
    path = tmp_path / "z.wav"
    noisegen.save(path, np.zeros(100, dtype=np.float32), sample_rate=8000)
    meta = noisegen.info(path)
    assert meta.peak_dbfs == -math.inf and meta.rms_dbfs == -math.inf
    with pytest.raises(FileNotFoundError):
        noisegen.info(tmp_path / "nope.wav")


# ----------------------------------------------------------------------------- never open what is not a file


class _Hang(Exception):
    pass


def _no_hang(fn, *args, seconds=20):
    """Call ``fn``; a call that blocks (opening a FIFO) is cut off by SIGALRM instead of hanging the suite."""
    import signal

    def alarm(signum, frame):
        raise _Hang(f"{fn.__name__} blocked for {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        return fn(*args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _special_files(tmp_path):
    """A FIFO, a listening unix socket, a dangling symlink and a character device, each named like audio."""
    import socket

    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock.wav"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(sock_path))
    sock.listen(1)
    dangling = tmp_path / "gone.wav"
    dangling.symlink_to(tmp_path / "nowhere.wav")
    to_fifo = tmp_path / "link.wav"
    to_fifo.symlink_to(fifo)
    return {"fifo": fifo, "socket": sock_path, "symlink to a FIFO": to_fifo, "device": "/dev/zero"}, dangling, sock


@pytest.mark.parametrize("reader", ["load", "info"])
def test_load_and_info_never_open_a_non_regular_file(tmp_path, reader):
    fn = getattr(noisegen, reader)
    special, dangling, sock = _special_files(tmp_path)
    try:
        for what, path in special.items():
            with pytest.raises(ParameterError, match="not a regular file") as err:
                _no_hang(fn, path)
            assert os.fspath(path) in str(err.value), what
        with pytest.raises(FileNotFoundError, match="dangling symlink"):
            _no_hang(fn, dangling)
    finally:
        sock.close()


def _readers():
    from noisegen.audio.blocks import FileBlocks
    from noisegen.audio.segment import read_segment

    return {"load": noisegen.load, "info": noisegen.info,
            "read_segment": lambda p: read_segment(p, sample_rate=16000),
            "FileBlocks": lambda p: FileBlocks(p, sample_rate=16000)}


@pytest.mark.parametrize("reader", ["load", "info", "read_segment", "FileBlocks"])
@pytest.mark.parametrize("ext", ["wav", "flac", "ogg"])
def test_an_os_error_opening_a_file_is_raised_with_the_os_reason(tmp_path, reader, ext):
    """A path the OS cannot open (a symlink loop; a folder without search permission, see
    tests/test_cli.py for permissions) says why, with errno and file name; these read as
    "no such audio file" before, and libsndfile's own opening says only "System error."."""
    import errno

    fn = _readers()[reader]
    loop = tmp_path / f"loop.{ext}"
    loop.symlink_to(tmp_path / f"loop2.{ext}")
    (tmp_path / f"loop2.{ext}").symlink_to(loop)
    with pytest.raises(OSError) as err:
        fn(loop)
    assert err.value.errno == errno.ELOOP and err.value.filename == str(loop)
    assert "Too many levels of symbolic links" in str(err.value)
    noisegen.save(tmp_path / f"ok.{ext}", _signal(), sample_rate=16000)
    fn(tmp_path / f"ok.{ext}")  # a readable file still reads
    with pytest.raises(FileNotFoundError, match="no such audio file"):
        fn(tmp_path / f"missing.{ext}")


# ----------------------------------------------------------------------------- truncated WAV, non-finite samples


@pytest.mark.parametrize("n_channels", [None, 2])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_truncated_wav_warns_once_and_reads_what_is_there(tmp_path, n_channels, subtype):
    y = _signal(n_channels, n=4000)
    path = tmp_path / "x.wav"
    noisegen.save(path, y, sample_rate=16000, subtype=subtype)
    whole = path.read_bytes()
    full, _ = noisegen.load(path)
    frame = {"PCM_16": 2, "PCM_24": 3, "FLOAT": 4}[subtype] * (n_channels or 1)
    for cut in (1, frame, 5 * frame + 1, len(whole) // 2, len(whole) - 100):
        short = tmp_path / f"cut{cut}.wav"
        short.write_bytes(whole[: len(whole) - cut])
        results = {}
        for reader in (noisegen.load, noisegen.info):
            with pytest.warns(NoisegenWarning, match="truncated") as record:
                results[reader] = reader(short)
            assert len([w for w in record if issubclass(w.category, NoisegenWarning)]) == 1
        back, _ = results[noisegen.load]
        n = back.shape[-1]
        assert 0 < n < 4000 and results[noisegen.info].frames == n
        np.testing.assert_array_equal(back, full[..., :n])  # the samples that are there, unchanged
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoisegenWarning)
        noisegen.load(path)  # a whole file: no warning
        noisegen.info(path)


@pytest.mark.parametrize("n_channels", [None, 2])
@pytest.mark.parametrize("dtype, subtype", [(np.float32, "FLOAT"), (np.float64, "DOUBLE")])
def test_info_counts_non_finite_samples(tmp_path, n_channels, dtype, subtype):
    y = _signal(n_channels, n=200_000, dtype=dtype)  # more than one read block
    flat = y.reshape(-1)
    bad = np.random.default_rng(1).choice(flat.size, size=37, replace=False)
    flat[bad[:12]] = np.nan
    flat[bad[12:30]] = np.inf
    flat[bad[30:]] = -np.inf
    path = tmp_path / "x.wav"
    import soundfile as sf_

    sf_.write(str(path), y.T if y.ndim == 2 else y, 16000, subtype=subtype)
    meta = noisegen.info(path)
    assert meta.n_nonfinite == 37
    finite = flat[np.isfinite(flat)].astype(np.float64)
    assert meta.peak_dbfs == pytest.approx(20 * math.log10(np.max(np.abs(finite))), abs=1e-6)
    assert meta.rms_dbfs == pytest.approx(10 * math.log10(np.mean(finite**2)), abs=1e-6)
    noisegen.save(path, np.zeros_like(y[..., :10]), sample_rate=16000, subtype=subtype)
    assert noisegen.info(path).n_nonfinite == 0


def _ogg_claiming(frames, path):
    """An Ogg Vorbis file whose last page's granule position (its length to libsndfile) is ``frames``,
    the page's CRC recomputed so the claim is believed."""
    sf.write(path, np.random.default_rng(0).standard_normal(16000) * 0.1, 16000, format="OGG", subtype="VORBIS")
    data = bytearray(path.read_bytes())
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if r & 0x80000000 else (r << 1) & 0xFFFFFFFF
        table.append(r)
    last = data.rfind(b"OggS")
    segments = data[last + 26]
    end = last + 27 + segments + sum(data[last + 27: last + 27 + segments])
    page = data[last:end]
    page[6:14] = frames.to_bytes(8, "little")
    page[22:26] = bytes(4)
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    page[22:26] = crc.to_bytes(4, "little")
    data[last:end] = page
    path.write_bytes(bytes(data))
    return bytes(data)


def test_a_header_claiming_more_frames_than_the_bytes_hold_is_refused_before_allocating(tmp_path):
    from noisegen.audio.segment import decode, decoded_span, read_segment, segment_span

    path = tmp_path / "lying.ogg"
    data = _ogg_claiming(2 ** 60, path)
    assert sf.info(path).frames == 2 ** 60  # libsndfile believes it: sf.read would allocate 4 EiB
    for call in (lambda: noisegen.load(path), lambda: read_segment(path, sample_rate=16000),
                 lambda: segment_span(path)):
        with pytest.raises(NoisegenError, match=f"claims {2 ** 60} frames of 1 channel"):
            call()
    for call in (lambda: decode(data, sample_rate=16000, name="m.ogg"), lambda: decoded_span(data, name="m.ogg")):
        with pytest.raises(NoisegenError, match="'m.ogg' is damaged"):
            call()
    stream = noisegen.AugmentStream(str(tmp_path), None, sample_rate=16000, chunk_s=1.0)
    with pytest.warns(NoisegenWarning, match="is damaged"):
        assert list(stream) == [] and len(stream) == 0
    # a true length of the same file reads
    _ogg_claiming(16000, path)
    assert noisegen.load(path)[0].shape == (16000,)


def test_decode_reads_members_of_formats_libsndfile_cannot_seek(tmp_path):
    import io

    from noisegen.audio.segment import decode

    buf = io.BytesIO()
    x = 0.3 * np.sin(np.arange(8000) * 0.05)
    sf.write(buf, x, 8000, format="WAV", subtype="GSM610")  # GSM 6.10: not seekable
    path = tmp_path / "gsm.wav"
    path.write_bytes(buf.getvalue())
    want, _ = sf.read(path, dtype="float32")
    np.testing.assert_array_equal(decode(buf.getvalue(), sample_rate=8000), want)
    np.testing.assert_array_equal(noisegen.load(path)[0], want)


@pytest.mark.parametrize("fmt, subtype", [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("AIFF", "PCM_24"), ("FLAC", "PCM_16"),
                                           ("MP3", "MPEG_LAYER_III")])
def test_a_member_behind_id3_tags_decodes_to_every_frame_the_file_reads(tmp_path, fmt, subtype):
    """A tagger's ID3v2 tags before the header: libsndfile skips them, but reading bytes (a tar member) it
    took the tags' length off the end of a WAV or AIFF file's samples (3,000 bytes of tag: 752 of 20,000
    stereo frames gone without a word), and refused a FLAC file behind two, where the same file on disk
    reads whole. Formats libsndfile reads behind no tag (Ogg) are refused as the file on disk is."""
    from noisegen.audio.segment import decode, decoded_span

    buf = io.BytesIO()
    sf.write(buf, np.random.default_rng(1).uniform(-0.5, 0.5, (20000, 2)), 16000, format=fmt, subtype=subtype)
    path = tmp_path / "x.bin"
    for tags in ([10], [3000], [60000], [100, 200]):
        data = b"".join(b"ID3\x03\x00\x00" + bytes((n >> s) & 0x7F for s in (21, 14, 7, 0)) + bytes(n)
                        for n in tags) + buf.getvalue()
        path.write_bytes(data)
        want = noisegen.load(path)[0]
        assert want.shape == (2, 20000) and sf.info(path).frames == 20000
        assert decoded_span(data) == (20000, 16000), tags
        np.testing.assert_array_equal(decode(data, sample_rate=16000, mono=False), want, err_msg=str(tags))
    for tag, ext, needle in [(b"ID3\x03" + bytes(5) + b"\x02" + bytes(2), "OGG", "embedding"),
                             (b"ID3\x03" + bytes(5) + b"\x01" + bytes(1), "WAV", "not recognised")]:
        sf.write(buf := io.BytesIO(), np.zeros(100), 16000, format=ext)
        path.write_bytes(tag + buf.getvalue())
        with pytest.raises(NoisegenError, match=needle):
            noisegen.load(path)
        with pytest.raises(NoisegenError, match=needle):
            decode(path.read_bytes(), sample_rate=16000)


def test_float_samples_beyond_float32_are_refused_not_turned_into_inf(tmp_path):
    # save: FLOAT stores float32, so 1e300 would be written as inf (DOUBLE keeps it; PCM clips it, warning)
    y = np.array([1e300, -0.5, 0.25])
    with pytest.raises(ParameterError, match=r"y peaks at 1e\+300, beyond float32's range"):
        noisegen.save(tmp_path / "f.wav", y, sample_rate=16000, subtype="FLOAT")
    assert not (tmp_path / "f.wav").exists()
    noisegen.save(tmp_path / "d.wav", y, sample_rate=16000, subtype="DOUBLE")
    # load: a DOUBLE file of such samples read as float32 names the file and the way out
    with pytest.raises(ParameterError, match=r"d.wav' holds 64-bit float samples beyond float32's range.*float64"):
        noisegen.load(tmp_path / "d.wav")
    np.testing.assert_array_equal(noisegen.load(tmp_path / "d.wav", dtype=np.float64)[0], y)
    # NaN in a file is read as it is, and a resampling load names the file instead of resample's y
    sf.write(tmp_path / "nan.wav", np.array([0.5, np.nan, 0.25] * 100), 16000, subtype="DOUBLE")
    assert np.isnan(noisegen.load(tmp_path / "nan.wav")[0][1])
    with pytest.raises(ParameterError, match=r"cannot resample '.*nan.wav' to sample_rate=8000: .*NaN or inf"):
        noisegen.load(tmp_path / "nan.wav", sample_rate=8000)


@pytest.mark.parametrize("ext, fmt", [("aiff", "AIFF"), ("caf", "CAF"), ("w64", "W64"), ("wav", "RF64")])
def test_double_files_libsndfile_reads_are_refused_beyond_float32_as_plain_wav_files_are(tmp_path, ext, fmt):
    """A DOUBLE file that noisegen's WAV reader leaves to libsndfile (AIFF, CAF, W64, RF64) read as
    float32 gave inf for its samples beyond float32's range, without a word, where a plain WAV
    file is refused; it is refused alike now, by load, a segment read, a tar member's decode and
    the blocks of a long file. Samples within range read as libsndfile reads them, bit for bit."""
    from noisegen.audio.blocks import FileBlocks
    from noisegen.audio.segment import decode, read_segment

    path = tmp_path / f"d.{ext}"
    rng = np.random.default_rng(3)
    y = rng.uniform(-1.5, 1.5, 3001)
    y[:6] = [1e-310, -1e-39, float(np.finfo(np.float32).max), 2.0**-149, 1 + 2**-30, np.inf]  # edges of float32
    sf.write(path, y, 16000, subtype="DOUBLE", format=fmt)
    want = sf.read(path, dtype="float32")[0]
    np.testing.assert_array_equal(noisegen.load(path)[0], want)
    np.testing.assert_array_equal(read_segment(path, offset_s=0.0625, sample_rate=16000), want[1000:])
    np.testing.assert_array_equal(decode(path.read_bytes(), sample_rate=16000), want)
    np.testing.assert_array_equal(np.concatenate(list(FileBlocks(path, sample_rate=16000, block_frames=700)())), want)
    for at in (0, 1500, 3000):
        big = y.copy()
        big[at] = -1e300 if at else 1e39
        sf.write(path, big, 16000, subtype="DOUBLE", format=fmt)
        beyond = rf"d.{ext}' holds 64-bit float samples beyond float32's range.*float64"
        with pytest.raises(ParameterError, match=beyond):
            noisegen.load(path)
        with pytest.raises(ParameterError, match=beyond):
            read_segment(path, sample_rate=16000)
        with pytest.raises(ParameterError, match="audio bytes' holds 64-bit float samples beyond"):
            decode(path.read_bytes(), sample_rate=16000)
        with pytest.raises(ParameterError, match=beyond):
            list(FileBlocks(path, sample_rate=16000, block_frames=700)())
        np.testing.assert_array_equal(noisegen.load(path, dtype=np.float64)[0], big)


def test_load_reads_a_bytes_path_as_its_str_and_refuses_a_file_object_by_name(tmp_path):
    """A bytes path skipped noisegen's readers (they take str and os.PathLike names): load of a FLAC
    file cut short raised "flac decoder lost sync" where its str path (and info of either) gave the
    whole frames with a warning, and an Ogg Vorbis file gave libvorbis's samples, an ulp off here
    and there. An open file raised a bare TypeError from os.fsencode, where info names ``path``."""
    rng = np.random.default_rng(2)
    x = np.clip(0.3 * rng.standard_normal((20000, 2)), -1, 1)
    sf.write(tmp_path / "full.flac", x, 16000, subtype="PCM_16")
    (tmp_path / "cut.flac").write_bytes((tmp_path / "full.flac").read_bytes()[:-50])
    sf.write(tmp_path / "x.ogg", x, 16000, format="OGG", subtype="VORBIS")
    sf.write(tmp_path / "x.wav", x, 16000, subtype="PCM_24")
    for name in ("cut.flac", "x.ogg", "x.wav", "full.flac"):
        with warnings.catch_warnings(record=True) as by_str:
            warnings.simplefilter("always")
            want = noisegen.load(str(tmp_path / name), mono=True, dtype=np.float64)[0]
        with warnings.catch_warnings(record=True) as by_bytes:
            warnings.simplefilter("always")
            got = noisegen.load(os.fsencode(tmp_path / name), mono=True, dtype=np.float64)[0]
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert [str(w.message) for w in by_bytes] == [str(w.message) for w in by_str], name
        assert (name == "cut.flac") == any("is truncated" in str(w.message) for w in by_str), name
    for handle in (open(tmp_path / "x.wav", "rb"), io.BytesIO((tmp_path / "x.wav").read_bytes())):
        with handle, pytest.raises(ParameterError, match="path must be a path"):
            noisegen.load(handle)


@pytest.mark.parametrize("call", ["load", "info", "save"])
def test_a_nul_byte_in_a_path_is_a_parameter_error(tmp_path, call):
    path = os.path.join(tmp_path, "a\x00b.wav")
    fn = {"load": lambda: noisegen.load(path), "info": lambda: noisegen.info(path),
          "save": lambda: noisegen.save(path, np.zeros(8, np.float32), sample_rate=16000)}[call]
    with pytest.raises(ParameterError, match="path must be a path without NUL bytes"):
        fn()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("claim", [21037, 16000 + 65536, 2 ** 20])
def test_info_counts_the_frames_decoded_not_the_headers_claim(tmp_path, claim):
    """A header claiming more frames than the stream gives (an Ogg file's last granule position, an
    MP3 file's estimate): info reports the frames load reads, with their levels. It reported the
    claim, and measured whole blocks of 65,536 frames from soundfile.blocks, whose rows past the
    decoded ones hold the previous block's samples (or uninitialised memory)."""
    path = tmp_path / "long_claim.ogg"
    _ogg_claiming(claim, path)
    assert sf.info(path).frames == claim
    y, _ = noisegen.load(path, dtype=np.float64)
    assert 0 < y.shape[-1] < claim
    meta = noisegen.info(path)
    assert meta.frames == y.shape[-1] and meta.duration_s == y.shape[-1] / 16000
    assert meta.peak_dbfs == pytest.approx(20 * math.log10(np.max(np.abs(y))), abs=1e-9)
    assert meta.rms_dbfs == pytest.approx(10 * math.log10(np.mean(np.square(y))), abs=1e-9)


def test_a_flac_file_noisegen_leaves_to_libsndfile_is_read_from_its_first_frame(tmp_path):
    """libsndfile's FLAC decoder does not always stand at the first frame after opening (here a
    STREAMINFO block one byte longer than it is, which noisegen's reader leaves): load read 0 frames
    (or failed, "lost sync") where soundfile.read, which seeks first, reads them all."""
    import io

    rng = np.random.default_rng(0)
    for n, channels, subtype in ((5000, 2, "PCM_S8"), (4097, 1, "PCM_16"), (20000, 2, "PCM_24")):
        buf = io.BytesIO()
        sf.write(buf, 0.3 * rng.standard_normal((n, channels)), 16000, format="FLAC", subtype=subtype)
        data = bytearray(buf.getvalue())
        assert data[4] & 0x7F == 0 and data[7] == 34  # STREAMINFO, 34 bytes
        data[7] = 35
        path = tmp_path / f"{subtype}.flac"
        path.write_bytes(bytes(data))
        try:
            want, _ = sf.read(path, dtype="float32", always_2d=True)
        except sf.LibsndfileError:  # (some it cannot open at all: nor can load)
            with pytest.raises(NoisegenError, match=f"{subtype}.flac"):
                noisegen.load(path)
            continue
        assert want.shape == (n, channels)
        y, _ = noisegen.load(path)
        np.testing.assert_array_equal(y, want.T if channels > 1 else want[:, 0])
        assert noisegen.info(path).frames == n


def test_a_large_claim_is_read_in_blocks_as_far_as_the_decoder_goes(monkeypatch):
    """read_claimed never asks soundfile for much more than WHOLE_READ_SAMPLES samples at once (its
    read allocates the frames asked for: a FLAC header within MAX_SAMPLES_PER_BYTE can claim
    gigabytes of a megabyte), and gives what the decoder gives, up to the claim."""
    from noisegen.audio import claims

    class Decoder:
        format = "WAV"

        def __init__(self, holds, channels):
            self.channels, self.left, self.asked = channels, holds, []

        def seekable(self):
            return False

        def read(self, frames, dtype, always_2d, out=None):
            self.asked.append(frames)
            got = min(frames, self.left)
            self.left -= got
            return np.full((got, self.channels), len(self.asked), dtype)

    monkeypatch.setattr(claims, "WHOLE_READ_SAMPLES", 1000)
    for channels in (1, 3):
        block = 1000 // channels
        for holds in (0, 1, block - 1, block, block + 1, 5 * block, 5 * block + 7):
            for claim in (holds, holds + 1, 10 * block, 10 ** 9):
                if claim < holds:
                    continue
                f = Decoder(holds, channels)
                out = claims.read_claimed(f, claim, np.float32)
                assert out.shape == (holds, channels) and out.dtype == np.float32
                assert max(f.asked, default=0) <= block + block // 4  # (a short last block joins the one before)
                assert len(f.asked) <= holds // block + 1 + (claim > holds and holds % block == 0)
                assert sum(f.asked) >= holds


def test_reads_go_on_after_a_hole_with_a_warning_naming_the_file(monkeypatch):
    """In an Ogg file, a read that gives fewer frames than asked is followed by another (libsndfile's
    Ogg reader ends a read at a damaged page): the frames after it are read, and a warning names
    the file."""
    from noisegen.audio import claims

    class Decoder:
        format, channels, name = "OGG", 1, b"/data/a.ogg"

        def __init__(self, reads):
            self.reads = list(reads)

        def seekable(self):
            return False

        def read(self, frames, dtype, always_2d, out=None):
            got = min(frames, self.reads.pop(0) if self.reads else 0)
            return np.ones((got, 1), dtype)

    for reads, claim, warned in (([100, 50, 0], 300, True), ([300], 300, False), ([100, 0, 50], 300, False),
                                 ([100, 50, 150], 300, True)):
        for fmt in ("OGG", "FLAC"):  # a short read ends any other format's reads
            f = Decoder(reads)
            f.format = fmt
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                out = claims.read_claimed(f, claim, np.float32)
            said = [str(w.message) for w in caught]
            expected = sum(reads[:reads.index(0)] if 0 in reads else reads) if fmt == "OGG" else reads[0]
            assert out.shape == (expected, 1), (reads, fmt)
            holes = [m for m in said if "'/data/a.ogg' is damaged" in m]
            short = [m for m in said if f"'/data/a.ogg' decodes to frame {expected} of the {claim}" in m]
            # (an Ogg file read short of its header's count says so, a hole or not: 100 of 300 was silent)
            assert (bool(holes), bool(short)) == (warned and fmt == "OGG", fmt == "OGG" and expected < claim)
            assert len(said) == len(holes) + len(short)


def test_a_long_ogg_save_is_written_not_a_crash(tmp_path):
    """libsndfile's Vorbis encoder killed the process (SIGSEGV) when handed a minute at 44.1 kHz in
    one write; writes go in pieces of 65,536 frames. Run in a child process: a crash fails the test."""
    import subprocess
    import sys

    path = tmp_path / "long.ogg"
    code = ("import numpy as np, noisegen, sys\n"
            "z = (np.random.default_rng(0).standard_normal((2, 44100 * 60)) * 0.1).astype(np.float32)\n"
            "noisegen.save(sys.argv[1], z, sample_rate=44100)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    meta = sf.info(path)
    assert (meta.frames, meta.channels, meta.samplerate) == (44100 * 60, 2, 44100)


def test_an_undecodable_file_is_named_once_in_the_error(tmp_path):
    """soundfile's message named the path again, as bytes: "cannot read audio file '/x.flac': Error
    opening b'/x.flac': Format not recognised."."""
    path = tmp_path / "x.flac"
    path.write_bytes(b"garbage" * 10)
    for read in (noisegen.load, noisegen.info):
        with pytest.raises(NoisegenError) as caught:
            read(path)
        assert str(caught.value) == f"cannot read audio file {str(path)!r}: Format not recognised."


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_file_warnings_name_the_callers_line(tmp_path, subtype):
    # A truncated, a silent and an unreadable file reach their warnings through load, info, a
    # bank, a transform and a stream, each at its own depth: every one must name this file.
    y = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    sf.write(tmp_path / "a.wav", y, 16000, subtype=subtype)
    sf.write(tmp_path / "s.wav", np.zeros(8000, np.float32), 16000, subtype=subtype)
    (tmp_path / "bad.wav").write_bytes(b"RIFF1234WAVEjunk")
    data = (tmp_path / "a.wav").read_bytes()
    (tmp_path / "t.wav").write_bytes(data[:len(data) // 2 + 1])
    calls = [lambda: noisegen.load(tmp_path / "t.wav"),
             lambda: noisegen.info(tmp_path / "t.wav"),
             lambda: noisegen.NoiseBank(tmp_path, sample_rate=16000),
             lambda: noisegen.NoiseBank(tmp_path, sample_rate=8000),
             lambda: noisegen.AddBackgroundNoise(tmp_path, min_snr_db=5, max_snr_db=5, p=1.0)(
                 y, sample_rate=16000, rng=0),
             lambda: list(noisegen.AugmentStream(tmp_path, noisegen.Gain(p=1.0), sample_rate=16000,
                                                 chunk_s=0.25)),
             lambda: list(noisegen.AugmentStream(tmp_path, noisegen.Gain(p=1.0), sample_rate=8000,
                                                 chunk_s=None))]
    for call in calls:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert caught
        assert {(w.filename, str(w.message)) for w in caught if w.filename != __file__} == set()


@pytest.mark.parametrize("ext", [".mp3", ".wav", ".flac", ".ogg", ".au", ".snd", ".AU"])
def test_a_text_file_with_an_audio_name_is_said_not_to_decode(tmp_path, ext):
    # a text file named .mp3 failed with libsndfile's "File does not exist or is not a regular file
    # (possibly a pipe?)", untrue of a regular file; whatever libsndfile says, the error names the file
    # and says nothing of it that is false
    path = tmp_path / f"notes{ext}"
    path.write_text("hello, this is text\n" * 20)
    for read in (noisegen.load, noisegen.info):
        with pytest.raises(NoisegenError, match=r"cannot read audio file .*notes") as err:
            read(str(path))
        assert "not a regular file" not in str(err.value) and "does not exist" not in str(err.value)


@pytest.mark.parametrize("ext", ["au", "snd"])
def test_an_au_name_without_an_au_header_is_no_headerless_audio(tmp_path, ext):
    """libsndfile reads a .au or .snd file it finds no header in as headerless 8 kHz u-law, on its name
    alone: an HTML page saved as x.au loaded as 8 kHz noise (and augment, the stream and the noise banks
    used it), where under any other name it is "Format not recognised". A real AU file (any header
    libsndfile knows: a WAV renamed .au too) still reads."""
    from noisegen.audio.segment import read_segment

    page = tmp_path / f"page.{ext}"
    page.write_bytes(b"<!DOCTYPE html><html><body>404 Not Found</body></html>\n" * 40)
    for read in (noisegen.load, noisegen.info, lambda p: read_segment(p, sample_rate=8000)):
        with pytest.raises(NoisegenError, match=r"cannot read audio file .*page.* holds no AU header"):
            read(str(page))
    y = (np.arange(800) % 50 / 100).astype(np.float32)
    sf.write(tmp_path / f"real.{ext}", y, 8000, format="AU", subtype="FLOAT")
    sf.write(tmp_path / "renamed.wav", y, 8000, subtype="FLOAT")
    os.rename(tmp_path / "renamed.wav", tmp_path / f"renamed.{ext}")
    for name in (f"real.{ext}", f"renamed.{ext}"):
        got, rate = noisegen.load(str(tmp_path / name))
        assert rate == 8000 and np.array_equal(got, y)


@pytest.mark.parametrize("ext", ["wav", "flac", "aiff"])
def test_a_segment_read_refuses_a_bad_offset_duration_or_rate_by_name(tmp_path, ext):
    """read_segment(offset_s=-1) was an OSError "Invalid argument" from a seek to a negative frame,
    and a sample_rate of None, "16000" or np.uint8 a TypeError or OverflowError from the rate check
    (found by fuzzing); each is a ParameterError naming its argument now, and so are a mono that is no
    bool ("no" mixed down, None kept the channels: load refuses both) and a max_n under 0 (-1 read nothing)."""
    from noisegen.audio.segment import read_segment

    path = tmp_path / f"s.{ext}"
    sf.write(path, np.zeros(1600) + 0.1, 16000)
    for bad, name in [({"offset_s": -1}, "offset_s"), ({"offset_s": -0.5, "duration_s": 0.01}, "offset_s"),
                      ({"duration_s": -1}, "duration_s"), ({"sample_rate": None}, "sample_rate"),
                      ({"sample_rate": "16000"}, "sample_rate"), ({"sample_rate": np.uint8(3)}, "sample_rate"),
                      ({"sample_rate": np.zeros(3)}, "sample_rate"), ({"mono": "no"}, "mono"), ({"mono": None}, "mono"),
                      ({"max_n": -1}, "max_n"), ({"max_n": "10"}, "max_n")]:
        kwargs = {"sample_rate": 16000, **bad}
        with pytest.raises(ParameterError, match=name):
            read_segment(path, **kwargs)
    assert read_segment(path, offset_s=0.05, duration_s=0.01, sample_rate=16000).shape == (160,)
    np.testing.assert_array_equal(read_segment(path, sample_rate=np.uint8(200)), read_segment(path, sample_rate=200))


@pytest.mark.parametrize("file_rate, rate, advice", [(1_000_000, 16000, r"\(sample_rate=None\)$"),
                                                    (384000, 1000, r"\(sample_rate=None\) and resample it in steps$")])
def test_a_file_load_cannot_resample_is_refused_with_advice_that_fits(tmp_path, file_rate, rate, advice):
    # a 1 MHz file was told to "load it at its own rate (sample_rate=None) for a larger change": nothing
    # resamples it at all; a 384 kHz one at 1 kHz can be, in two steps
    sf.write(tmp_path / "x.wav", np.zeros(file_rate // 100, np.int16), file_rate)
    with pytest.raises(noisegen.ParameterError, match=advice) as refused:
        noisegen.load(tmp_path / "x.wav", sample_rate=rate)
    assert "larger change" not in str(refused.value) and f"at {file_rate} Hz" in str(refused.value)


def test_a_double_wav_past_float32_names_the_reader_that_takes_it(tmp_path):
    # read_segment and the stream said "read it with dtype=np.float64", an argument neither takes
    from noisegen.audio.segment import read_segment

    sf.write(tmp_path / "x.wav", np.array([0.0, 1e39, -0.5]), 44100, subtype="DOUBLE")
    for read in (lambda: read_segment(tmp_path / "x.wav", sample_rate=16000), lambda: noisegen.load(tmp_path / "x.wav")):
        with pytest.raises(ParameterError, match=r"noisegen\.load\(\.\.\., dtype=np\.float64\) reads them; streams"):
            read()
    assert noisegen.load(tmp_path / "x.wav", dtype=np.float64)[0][1] == 1e39
def test_a_path_with_tilde_or_backslashes_says_why_it_is_missing(tmp_path, monkeypatch):
    """noisegen.load('~/x.wav') said only "no such audio file", and AddBackgroundNoise, AugmentStream and
    augment_folder "does not exist", of files that are there: '~' is expanded by a shell only, and
    'data\\\\speech' is one name here. The errors now say so, naming the path meant."""
    from noisegen.batch import augment_folder
    (tmp_path / "speech").mkdir()
    noisegen.save(tmp_path / "speech" / "a.wav", np.zeros(160, np.float32), sample_rate=16000)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    home = re.escape(f"'{tmp_path / 'speech'}' is there")
    with pytest.raises(FileNotFoundError, match="leading '~' is expanded only by a shell.*" + re.escape(
            f"'{tmp_path / 'speech' / 'a.wav'}' is there")):
        noisegen.load("~/speech/a.wav")
    with pytest.raises(FileNotFoundError, match="Windows' .* 'speech/a.wav' is there; write paths with '/'"):
        noisegen.load("speech\\a.wav")
    with pytest.raises(FileNotFoundError, match=r"no such audio file: "):  # nothing meant: no hint
        noisegen.load("speech/b.wav")
    for call in (lambda: noisegen.AddBackgroundNoise("~/speech"), lambda: augment_folder("~/speech", tmp_path / "o"),
                 lambda: noisegen.AugmentStream("~/speech", noisegen.Gain(), sample_rate=16000)):
        with pytest.raises(ParameterError, match=f"leading '~'.*{home}"):
            call()
    with pytest.raises(ParameterError, match="Windows' .* 'speech/' is there"):
        noisegen.AugmentStream("speech\\", noisegen.Gain(), sample_rate=16000)
