"""The NumPy WAV reader (noisegen.audio.wav): the samples, rates and errors libsndfile gives.

Every subtype it reads is compared bit for bit with soundfile, through
``noisegen.load`` and the stream's ``read_segment``; every WAV it leaves to
libsndfile still reads as before; and headers with bytes changed at random
read (or fail) exactly as libsndfile reads them.
"""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
import pytest
import soundfile as sf

import noisegen
from noisegen import NoisegenError, NoisegenWarning
from noisegen.audio.io import encode
from noisegen.audio.segment import decode, decoded_span, read_segment, segment_span
from noisegen.audio.wav import WavFile

SR = 16000
READ = [("WAV", s) for s in ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")]
READ += [("WAVEX", s) for s in ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")]


def _frames(n_channels, n=1001, seed=0):
    """Random frames with the edge values of every format: full scale, zero, one LSB of 16 bits."""
    x = np.random.default_rng(seed).uniform(-1.2, 1.2, (n, n_channels))
    x[:6] = np.array([1.0, -1.0, 0.0, 1 - 2**-15, -1 + 1e-9, 2**-24])[:, None]
    return x


def _write(path, fmt, subtype, n_channels, **kwargs):
    sf.write(path, _frames(n_channels, **kwargs), SR, subtype=subtype, format=fmt)
    return path


def _reference(path, dtype):
    """``noisegen.load``'s layout of what soundfile reads: ``(n,)`` or ``(channels, n)``."""
    data, rate = sf.read(path, dtype=np.dtype(dtype).name, always_2d=True)
    y = data.T
    return (y[0] if y.shape[0] == 1 else y), rate


@pytest.mark.parametrize("n_channels", [1, 2, 3])
@pytest.mark.parametrize("fmt, subtype", READ)
def test_plain_wav_files_give_the_samples_libsndfile_gives(tmp_path, fmt, subtype, n_channels):
    path = _write(tmp_path / "x.wav", fmt, subtype, n_channels)
    with WavFile.open(path) as wav:  # read here, not left to libsndfile
        assert (wav.frames, wav.channels, wav.samplerate, wav.shortfall) == (1001, n_channels, SR, 0)
    assert segment_span(path) == (0, 1001, SR) and segment_span(path, offset_s=0.01, duration_s=0.5) == (160, 841, SR)
    for dtype in (np.float32, np.float64):
        want, rate = _reference(path, dtype)
        got, got_rate = noisegen.load(path, dtype=dtype)
        assert got_rate == rate and got.dtype == dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    whole = _reference(path, np.float32)[0]
    np.testing.assert_array_equal(decode(path.read_bytes(), sample_rate=SR, mono=False), whole)  # a tar member
    assert decoded_span(path.read_bytes()) == (1001, SR)
    for offset_s, duration_s in [(None, None), (0.0, 0.001), (100 / SR, 37 / SR), (999 / SR, None), (0.05, 1.0)]:
        seg = read_segment(path, offset_s=offset_s, duration_s=duration_s, sample_rate=SR, mono=False)
        a = 0 if offset_s is None else round(offset_s * SR)
        b = 1001 if duration_s is None else min(1001, a + round(duration_s * SR))
        np.testing.assert_array_equal(seg, whole[..., a:b])


@pytest.mark.parametrize("fmt, subtype, n_channels", [
    ("WAV", "ULAW", 1), ("WAV", "ALAW", 2), ("WAV", "IMA_ADPCM", 1), ("WAV", "MS_ADPCM", 2), ("WAV", "GSM610", 1),
    ("WAVEX", "ULAW", 1), ("RF64", "PCM_16", 2), ("RF64", "FLOAT", 1)])
def test_other_wav_files_are_left_to_libsndfile(tmp_path, fmt, subtype, n_channels):
    path = _write(tmp_path / "x.wav", fmt, subtype, n_channels)
    assert WavFile.open(path) is None
    want, rate = _reference(path, np.float32)
    got, got_rate = noisegen.load(path)
    assert got_rate == rate
    np.testing.assert_array_equal(got, want)


def _patched(path, at, value: bytes):
    data = bytearray(path.read_bytes())
    data[at:at + len(value)] = value
    path.write_bytes(bytes(data))
    return path


def test_unusual_headers_are_left_to_libsndfile(tmp_path):
    big = tmp_path / "big.wav"  # RIFX: big-endian samples
    sf.write(big, _frames(2), SR, subtype="PCM_16", format="WAV", endian="BIG")
    unknown = _patched(_write(tmp_path / "unknown.wav", "WAV", "PCM_16", 1), 40, b"\xff\xff\xff\xff")  # data size
    narrow = _patched(_write(tmp_path / "narrow.wav", "WAVEX", "PCM_24", 1), 38, b"\x14\x00")  # 20 valid bits of 24
    for path in (big, unknown, narrow):
        assert WavFile.open(path) is None, path.name
        want, rate = _reference(path, np.float32)
        got, got_rate = noisegen.load(path)
        assert got_rate == rate
        np.testing.assert_array_equal(got, want)


def test_chunks_before_the_samples_are_skipped(tmp_path):
    # LIST with an odd length (and its pad byte) and JUNK between fmt and data
    plain = _write(tmp_path / "plain.wav", "WAV", "PCM_16", 2)
    data = plain.read_bytes()
    extra = b"LIST" + (5).to_bytes(4, "little") + b"INFOx\x00" + b"JUNK" + (4).to_bytes(4, "little") + b"\x00" * 4
    body = data[12:36] + extra + data[36:]
    path = tmp_path / "chunks.wav"
    path.write_bytes(b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WAVE" + body)
    assert WavFile.open(path) is not None
    np.testing.assert_array_equal(noisegen.load(path)[0], _reference(path, np.float32)[0])
    np.testing.assert_array_equal(noisegen.load(path)[0], noisegen.load(plain)[0])


def test_a_second_data_chunk_is_left_to_libsndfile(tmp_path):
    """libsndfile reads no frame of a file whose data chunk is followed by an empty one, and refuses
    one followed by a full one; the reader took the first chunk's frames. Chunks after the samples
    that are not data (LIST, id3) leave the file to this reader, as before."""
    import soundfile as sf

    plain = _write(tmp_path / "plain.wav", "WAV", "PCM_16", 2)
    data = plain.read_bytes()
    odd = b"LIST" + (5).to_bytes(4, "little") + b"INFOx\x00"
    for after, ours in ((b"data" + bytes(4), False), (b"data" + (4).to_bytes(4, "little") + bytes(4), False),
                        (odd + b"data" + bytes(4), False), (odd, True), (b"id3 " + (3).to_bytes(4, "little") + b"abc\x00", True)):
        body = data[12:] + after
        path = tmp_path / "two.wav"
        path.write_bytes(b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WAVE" + body)
        native = WavFile.open(path)
        assert (native is not None) == ours, after
        if native is not None:
            native.__exit__()
        try:
            want = sf.read(path, dtype="float32", always_2d=True)[0].T
        except sf.LibsndfileError:
            with pytest.raises(noisegen.NoisegenError, match="two.wav"):
                noisegen.load(path)
            continue
        np.testing.assert_array_equal(noisegen.load(path)[0], want)
        assert noisegen.info(path).frames == want.shape[1]


def _chunk(cid, body):
    return cid + len(body).to_bytes(4, "little") + body + b"\x00" * (len(body) & 1)


def _riff(*chunks):
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def test_chunks_libsndfile_parses_by_their_contents_read_as_libsndfile_reads_them(tmp_path):
    """libsndfile parses PEAK, LIST, cue, smpl and acid chunks by their contents, before and after the
    samples: where those do not fill a chunk as its length says, it refuses the file or reads on from
    the wrong byte (a cue chunk of fewer points than it counts: 993 frames of 1001, shifted); as it
    does a second fmt chunk, and samples that start "OggS". load took them all as their lengths say,
    so that info, and the blocks of a long file, gave other frames than load, or none."""
    from noisegen.audio.blocks import FileBlocks

    rng = np.random.default_rng(7)
    fmt = struct.pack("<HHIIHH", 1, 2, SR, SR * 4, 4, 16)
    samples = (rng.standard_normal((1001, 2)) * 3000).astype("<i2").tobytes()
    data = _chunk(b"data", samples)
    bodies = {cid: [bytes(rng.integers(0, 256, n, dtype=np.uint8)) for n in range(0, 44, 3)] for cid in
              (b"PEAK", b"acid", b"smpl", b"cue ", b"LIST")}
    bodies[b"PEAK"] += [b"\x01" + bytes(23), bytes(16)]  # two channels: 24 bytes
    bodies[b"acid"] += [bytes(24), bytes(25)]
    bodies[b"smpl"] += [bytes(36), bytes(60), bytes(61), bytes(28) + b"\x02" + bytes(7)]
    bodies[b"cue "] += [(1).to_bytes(4, "little") + bytes(24), (2).to_bytes(4, "little") + bytes(24),
                        (3000).to_bytes(4, "little")]
    info = b"INFO" + _chunk(b"INAM", b"a title") + _chunk(b"ICMT", b"x" * 3000)
    bodies[b"LIST"] += [info, info + b"zz", info + b"zzzzzz", b"INFO" + _chunk(b"data", bytes(4)), b"INFOx",
                        b"adtl" + _chunk(b"labl", bytes(6)), b"INFO" + b"INAM" + b"\xff" * 4 + b"abcd",
                        b"INFO" + b"INAM" + (50).to_bytes(4, "little") + b"ab"]
    files = [(cid, body, where) for cid, group in bodies.items() for body in group for where in (0, 1)]
    files += [(b"fmt ", fmt, 0), (b"fmt ", fmt[:4] + (8000).to_bytes(4, "little") + fmt[8:], 0),
              (b"OggS", b"", 0), (b"wvpk", b"", 0)]
    path = tmp_path / "x.wav"
    native = 0
    for cid, body, after in files:
        if cid in (b"OggS", b"wvpk"):
            chunks = (_chunk(b"fmt ", fmt), _chunk(b"data", cid + samples[4:]))
        elif after:
            chunks = (_chunk(b"fmt ", fmt), data, _chunk(cid, body))
        else:
            chunks = (_chunk(b"fmt ", fmt), _chunk(cid, body), data)
        path.write_bytes(_riff(*chunks))
        case = (cid, len(body), body[:8], after)
        wav = WavFile.open(path)
        if wav is not None:
            wav.__exit__()
            native += 1
        try:
            want = sf.read(path, dtype="float32", always_2d=True)[0].T
        except sf.LibsndfileError:
            with pytest.raises(NoisegenError, match="x.wav"):
                noisegen.load(path)
            assert wav is None, case
            continue
        got = noisegen.load(path)[0]
        np.testing.assert_array_equal(got, want, err_msg=str(case))
        assert noisegen.info(path).frames == got.shape[1], case
        blocks = np.concatenate(list(FileBlocks(path, sample_rate=SR, block_frames=400)()), axis=1)
        np.testing.assert_array_equal(blocks, got, err_msg=str(case))
    assert native > 40  # the well-formed chunks stay with noisegen's reader


def test_a_cut_short_wav_reads_the_frames_there_and_warns(tmp_path):
    path = _write(tmp_path / "x.wav", "WAV", "PCM_24", 2)
    data = path.read_bytes()
    for cut in (1, 6, 7, 3001):
        short = tmp_path / f"cut{cut}.wav"
        short.write_bytes(data[: len(data) - cut])
        with WavFile.open(short) as wav:
            assert wav.shortfall == cut and wav.frames == (1001 * 6 - cut) // 6
        with pytest.warns(NoisegenWarning, match="truncated"):
            got = read_segment(short, sample_rate=SR, mono=False)
        np.testing.assert_array_equal(got, _reference(short, np.float32)[0])


def test_a_cut_short_wav_warns_where_load_and_info_are_called(tmp_path):
    path = _write(tmp_path / "x.wav", "WAV", "PCM_16", 1)
    short = tmp_path / "cut.wav"
    short.write_bytes(path.read_bytes()[:-7])
    for call in (noisegen.load, noisegen.info):
        with pytest.warns(NoisegenWarning, match="truncated") as caught:
            call(short)
        assert {w.filename for w in caught} == {__file__}, call


@pytest.mark.parametrize("kind, bits", [("<i2", 16), ("<f4", 32), ("<i4", 32)])
@pytest.mark.parametrize("n_channels", [1024, 1025, 3000])
def test_info_reports_a_wav_past_libsndfiles_channels_as_load_reads_it(tmp_path, kind, bits, n_channels):
    # libsndfile refuses more than 1,024 channels; load reads them natively, and info reports what load reads
    rng = np.random.default_rng(n_channels)
    x = rng.uniform(-0.5, 0.5, (37, n_channels))
    raw = (x * 2 ** (bits - 1)).astype(kind) if kind[1] == "i" else x.astype(kind)
    code, align = (3 if kind[1] == "f" else 1), n_channels * bits // 8
    fmt = struct.pack("<HHIIHH", code, n_channels, 8000, 8000 * align, align, bits)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", raw.nbytes) + raw.tobytes()
    path = tmp_path / "wide.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    y, rate = noisegen.load(path, dtype=np.float64)
    meta = noisegen.info(path)
    assert (meta.channels, meta.frames, meta.sample_rate, meta.format) == (n_channels, 37, rate, "WAV")
    assert meta.subtype == {"<i2": "PCM_16", "<f4": "FLOAT", "<i4": "PCM_32"}[kind]
    assert meta.peak_dbfs == pytest.approx(20 * np.log10(np.max(np.abs(y))), abs=1e-12)
    assert meta.rms_dbfs == pytest.approx(10 * np.log10(np.mean(y ** 2)), abs=1e-9)
    assert meta.n_nonfinite == 0


@pytest.mark.parametrize("seed", range(3))
def test_damaged_headers_read_or_fail_as_libsndfile_does(tmp_path, seed):
    """Random bytes of the header changed (and sometimes the file cut): where libsndfile reads the
    file, the same samples and rate; where it refuses, a NoisegenError."""
    rng = np.random.default_rng(seed)
    layouts = [("WAV", "PCM_16", 1), ("WAVEX", "PCM_24", 2), ("WAV", "FLOAT", 2), ("WAV", "PCM_U8", 1),
               ("WAVEX", "PCM_32", 3), ("WAV", "DOUBLE", 1)]
    originals = []
    for i, (fmt, subtype, n_channels) in enumerate(layouts):
        path = _write(tmp_path / f"{i}.wav", fmt, subtype, n_channels, n=200)
        with WavFile.open(path) as wav:
            originals.append((path.read_bytes(), wav._data_offset))
    path = tmp_path / "damaged.wav"
    for trial in range(400):
        data, header = originals[trial % len(originals)]
        damaged = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            damaged[int(rng.integers(0, header))] = int(rng.choice([0, 1, 3, 0x20, 0x7F, 0x80, 0xFF, rng.integers(256)]))
        if rng.random() < 0.2:
            damaged = damaged[: int(rng.integers(0, len(damaged)))]
        path.write_bytes(bytes(damaged))
        try:
            want = _reference(path, np.float32)
        except (sf.LibsndfileError, RuntimeError):
            want = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoisegenWarning)
            if want is None:
                with pytest.raises(NoisegenError):
                    noisegen.load(path)
                with pytest.raises(NoisegenError):
                    decode(bytes(damaged), sample_rate=SR)
                continue
            got, rate = noisegen.load(path)
        assert rate == want[1] and got.shape == want[0].shape, trial
        np.testing.assert_array_equal(decode(bytes(damaged), sample_rate=rate, mono=False), got)  # as a tar member
        assert decoded_span(bytes(damaged)) == (got.shape[-1], rate)
        assert segment_span(path) == (0, got.shape[-1], rate)  # the header as the stream and the plan count it
        np.testing.assert_array_equal(got, want[0])


def test_the_shared_corpus_wavs_read_as_libsndfile_reads_them(shared_data_dir):
    paths = sorted(shared_data_dir.rglob("*.wav"))
    assert paths
    for path in paths:
        wav = WavFile.open(path)
        if wav is not None:
            wav.__exit__()
        for dtype in (np.float32, np.float64):
            want, rate = _reference(path, dtype)
            got, got_rate = noisegen.load(path, dtype=dtype)
            assert got_rate == rate
            np.testing.assert_array_equal(got, want, err_msg=str(path))


@pytest.mark.parametrize("n_channels", [None, 1, 2, 3, 8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sixteen_bit_wav_bytes_are_those_libsndfile_writes(tmp_path, n_channels, dtype):
    """save/encode write 16-bit WAV without libsndfile: the same header and samples, byte for byte
    (full scale, one LSB, halfway cases, out-of-range samples clipped), for any length."""
    rng = np.random.default_rng(n_channels or 0)
    for n in (0, 1, 2, 7, 4001):
        y = rng.uniform(-1.3, 1.3, (n,) if n_channels is None else (n_channels, n)).astype(dtype)
        edges = np.array([1.0, -1.0, 0.5 / 32768, 1.5 / 32768, -2.5 / 32768, 0.0])[: y.size]
        y.reshape(-1)[: edges.size] = edges
        reference = io.BytesIO()
        sf.write(reference, np.clip(y, -1.0, 1.0).T, SR, subtype="PCM_16", format="WAV")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoisegenWarning)  # the clipping warning
            assert encode(y, sample_rate=SR, format="wav") == reference.getvalue(), n
            noisegen.save(tmp_path / "x.wav", y, sample_rate=SR)
        assert (tmp_path / "x.wav").read_bytes() == reference.getvalue()


def test_a_fmt_chunk_claiming_gigabytes_is_not_read_into_memory(tmp_path):
    # A 200-byte file whose fmt chunk claims 2 GiB: its header walk allocated those 2 GiB (found by fuzzing).
    import tracemalloc

    fmt = struct.pack("<HHIIHH", 1, 1, SR, 2 * SR, 2, 16)
    body = b"WAVEfmt " + struct.pack("<I", 0x7FFFFFF0) + fmt + b"data" + struct.pack("<I", 100) + bytes(100)
    path = tmp_path / "huge_fmt.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    tracemalloc.start()
    try:
        for read in (noisegen.info, noisegen.load):
            with pytest.raises(NoisegenError, match="huge_fmt.wav"):
                read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6
