"""The FLAC reader (noisegen.audio.flac) gives libsndfile's samples, bit for bit, or leaves the file to it."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings

import numpy as np
import pytest
import soundfile as sf

import noisegen
from flac_writer import FIXED, Subframe, coded_channels, frame_bytes, predict, stream_bytes
from noisegen.audio import flac as flac_module
from noisegen.audio.flac import FlacFile
from noisegen.audio.io import mix_down
from noisegen.audio.segment import decode, decoded_span, read_segment, segment_span
from noisegen._kernels.cpu import flac as flac_kernels

SUBTYPES = ("PCM_S8", "PCM_16", "PCM_24")


def _signals(n, channels, seed):
    """Signals that steer libFLAC to each subframe kind and stereo mode: silence and DC (CONSTANT),
    white noise (VERBATIM), tones and speech-like AR noise (FIXED, LPC up to order 12 at level 1),
    coarse steps (wasted bits), correlated and identical channels (left/side, mid/side)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    base = {
        "silence": np.zeros(n),
        "dc": np.full(n, 0.25),
        "white": rng.uniform(-0.9, 0.9, n),
        "tone": 0.6 * np.sin(2 * np.pi * 0.013 * t) + 0.2 * np.sin(2 * np.pi * 0.171 * t),
        "ar": np.convolve(rng.standard_normal(n), 0.97 ** np.arange(64))[:n] * 0.05,
        "steps": np.round(rng.uniform(-1, 1, n) * 100) / 128,  # low bits zero: wasted bits
        "mixed": np.concatenate([np.zeros(n // 3), rng.uniform(-0.5, 0.5, n // 3),
                                 0.5 * np.sin(0.05 * t[: n - 2 * (n // 3)])]),
    }
    out = {}
    for name, x in base.items():
        x = np.clip(x, -1, 0.999)
        rows = [x]
        for c in range(1, channels):  # correlated, identical or independent channels
            kind = (c + seed) % 3
            rows.append(x if kind == 0 else np.clip(x + 0.01 * rng.standard_normal(n), -1, 0.999) if kind == 1
                        else np.clip(rng.uniform(-0.3, 0.3, n), -1, 0.999))
        out[name] = np.stack(rows, axis=1)
    return out


def _write(path, x, subtype, level, rate=16000):
    sf.write(path, x, rate, subtype=subtype, format="FLAC", compression_level=level)


def _ours(path, dtype=np.float32, mono=False):
    with FlacFile.open(path) as f:
        return f.read(0, f.frames, dtype, mono)


def _assert_mono_is_mix_down(path, dtype, channels_read):
    """The decoder's own mean of two channels has the bits of mix_down over the channels it reads."""
    got = _ours(path, dtype, mono=True)
    expected = mix_down(channels_read.T)[:, None] if channels_read.shape[1] == 2 else channels_read
    assert got.dtype == dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("subtype", SUBTYPES)
@pytest.mark.parametrize("channels", [1, 2, 3])
@pytest.mark.parametrize("level", [0.0, 0.5, 1.0])
def test_every_signal_depth_layout_and_level_reads_as_libsndfile(tmp_path, subtype, channels, level):
    for n in (1, 17, 4097, 12345):
        for name, x in _signals(n, channels, seed=n + channels).items():
            path = tmp_path / f"{name}.flac"
            _write(path, x, subtype, level)
            for dtype in (np.float32, np.float64):
                ref, _ = sf.read(path, dtype=np.dtype(dtype).name, always_2d=True)
                got = _ours(path, dtype)
                assert got is not None, (name, n)
                assert got.dtype == dtype and got.shape == ref.shape
                np.testing.assert_array_equal(got, ref, err_msg=f"{name} n={n}")
                _assert_mono_is_mix_down(path, dtype, got)


def test_eight_channels_and_rates_of_every_header_code(tmp_path):
    rng = np.random.default_rng(3)
    for rate in (8000, 11025, 16000, 22050, 44100, 48000, 96000, 12345, 7, 655350):
        x = np.clip(rng.standard_normal((3000, 8)) * 0.1, -1, 0.99)
        path = tmp_path / "x.flac"
        _write(path, x, "PCM_16", 0.5, rate=rate)
        ref, sr = sf.read(path, dtype="float32", always_2d=True)
        got, got_sr = noisegen.load(path)
        assert got_sr == sr == rate
        np.testing.assert_array_equal(got, ref.T)


@pytest.mark.parametrize("mono", [True, False])
def test_load_read_segment_and_decode_use_it_with_the_same_samples(tmp_path, mono):
    x = _signals(20000, 2, seed=5)["ar"]
    path = tmp_path / "x.flac"
    _write(path, x, "PCM_24", 0.5, rate=22050)
    ref, _ = sf.read(path, dtype="float32", always_2d=True)
    y, sr = noisegen.load(path, mono=mono)
    expected = ref.T.mean(axis=0, dtype=np.float32) if mono else ref.T
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-7)
    for offset, duration in [(None, None), (0.1, 0.2), (0.0, 5.0), (0.45, None), (0.6, 0.01)]:
        seg = read_segment(path, offset_s=offset, duration_s=duration, sample_rate=22050, mono=False)
        start, n, rate = segment_span(path, offset, duration)
        assert rate == 22050 and seg.shape == (2, n)
        np.testing.assert_array_equal(seg, ref[start:start + n].T)
    data = path.read_bytes()
    assert decoded_span(data) == (20000, 22050)
    np.testing.assert_array_equal(decode(data, sample_rate=22050, mono=False), ref.T)


def test_a_segment_far_from_the_start_is_left_to_libsndfiles_seek(tmp_path):
    path = tmp_path / "x.flac"
    _write(path, _signals(30000, 1, seed=6)["tone"], "PCM_16", 0.5)
    with FlacFile.open(path) as f:
        assert f.read(20000, 1000, np.float32) is None  # the caller seeks with libsndfile
        near = f.read(500, 1000, np.float32)
    ref, _ = sf.read(path, dtype="float32", always_2d=True)
    np.testing.assert_array_equal(near, ref[500:1500])
    seg = read_segment(path, offset_s=20000 / 16000, duration_s=1000 / 16000, sample_rate=16000)
    np.testing.assert_array_equal(seg, ref[20000:21000, 0])


def test_a_long_file_read_from_its_start_reads_only_a_prefix(tmp_path, monkeypatch):
    path = tmp_path / "x.flac"
    x = _signals(200000, 1, seed=7)["white"]
    _write(path, x, "PCM_16", 0.5)
    monkeypatch.setattr(flac_module, "_PREFIX_FROM", 1000)
    monkeypatch.setattr(flac_module, "_PREFIX_SLACK", 1000)
    read = []
    original = FlacFile._frame_bytes

    def spy(self, stop):
        buf, size = original(self, stop)
        read.append(size)
        return buf, size

    monkeypatch.setattr(FlacFile, "_frame_bytes", spy)
    ref, _ = sf.read(path, dtype="float32", always_2d=True)
    with FlacFile.open(path) as f:
        np.testing.assert_array_equal(f.read(0, 50000, np.float32), ref[:50000])
        np.testing.assert_array_equal(f.read(40000, 60000, np.float32), ref[40000:100000])
        np.testing.assert_array_equal(f.read(0, 200000, np.float32), ref)
    total = path.stat().st_size
    assert read[0] < total / 2 and read[-1] > total * 0.99


def test_files_it_does_not_take_go_to_libsndfile(tmp_path):
    x = _signals(5000, 1, seed=8)["tone"]
    id3 = tmp_path / "id3.flac"
    _write(id3, x, "PCM_16", 0.5)
    id3.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + id3.read_bytes())  # an empty ID3v2 tag first
    assert FlacFile.open(id3) is None
    not_flac = tmp_path / "x.flac"
    sf.write(not_flac, x, 16000, format="WAV")
    assert FlacFile.open(not_flac) is None
    assert FlacFile.from_bytes(b"fLaC") is None and FlacFile.from_bytes(b"") is None
    assert FlacFile.from_bytes(not_flac.read_bytes()) is None


@pytest.mark.parametrize("tag_bytes", [10, 3000, 60000])
def test_a_segment_of_a_file_behind_an_id3_tag_reads_as_its_whole_read(tmp_path, tag_bytes):
    """A tagger's ID3v2 tag (a cover image: tens of kilobytes) before "fLaC": libsndfile skips it and reads
    the file whole, but its seek into the last frames (as many bytes as the tag) fails, and a segment
    there (a manifest's last seconds, a long file's last blocks) was refused: 'psf_fseek() failed'; and
    a long file's blocks took it for one cut short, to be read whole into memory."""
    from noisegen.audio.blocks import FileBlocks

    path = tmp_path / "x.flac"
    _write(path, _signals(20000, 2, seed=9)["white"], "PCM_16", 0.5)
    syncsafe = bytes((tag_bytes >> s) & 0x7F for s in (21, 14, 7, 0))  # the tag's size, 7 bits a byte
    path.write_bytes(b"ID3\x04\x00\x00" + syncsafe + bytes(tag_bytes) + path.read_bytes())
    ref = sf.read(path, dtype="float32", always_2d=True)[0].T
    np.testing.assert_array_equal(noisegen.load(path)[0], ref)
    for start, n in [(3, 5), (9000, 700), (15000, 5000), (19000, 1000), (19995, 5)]:
        seg = read_segment(path, offset_s=start / 16000, duration_s=n / 16000, sample_rate=16000, mono=False)
        np.testing.assert_array_equal(seg, ref[:, start:start + n], err_msg=str(start))
        blocks = FileBlocks(path, sample_rate=16000, offset_s=start / 16000, duration_s=n / 16000, block_frames=400)
        np.testing.assert_array_equal(np.concatenate(list(blocks()), axis=1), ref[:, start:start + n])
        assert not blocks.truncated  # (a long file: read in blocks, not whole as a file cut short is)
    path.write_bytes(path.read_bytes()[:-7])
    assert FileBlocks(path, sample_rate=16000).truncated


def _unknown_length(data: bytes) -> bytes:
    """FLAC bytes with STREAMINFO's sample count 0: "unknown", as a stream encoded to a pipe has it."""
    out = bytearray(data)
    packed = int.from_bytes(out[18:26], "big") & ~((1 << 36) - 1)  # STREAMINFO's bytes 10..17
    out[18:26] = packed.to_bytes(8, "big")
    return bytes(out)


@pytest.mark.parametrize("subtype, channels, n", [("PCM_16", 1, 20000), ("PCM_24", 2, 4096), ("PCM_S8", 3, 9001),
                                                  ("PCM_16", 2, 1)])
def test_a_stream_of_unknown_length_reads_as_its_frames(tmp_path, monkeypatch, subtype, channels, n):
    """STREAMINFO's count 0 means "unknown" (ffmpeg's or flac's output to a pipe). libsndfile reports
    2**63 - 1 frames and fails on the last ones, and every reader refused the file as "damaged:
    its header claims 9223372036854775807 frames". Its length is the last frame's end now: load,
    info, segments, a tar member and the stream (long items too) give the frames written; a stream
    cut short in its last frame gives the frames before it, with a warning, as a file cut short does."""
    from noisegen.audio.blocks import FileBlocks
    from noisegen.data import long_items

    src = tmp_path / "src.flac"
    _write(src, _signals(n, channels, seed=2)["ar"], subtype, 0.5)
    want = sf.read(src, dtype="float32", always_2d=True)[0].T
    path = tmp_path / "pipe.flac"
    path.write_bytes(_unknown_length(src.read_bytes()))
    y, rate = noisegen.load(path, mono=False)
    np.testing.assert_array_equal(y.reshape(channels, -1), want)
    meta = noisegen.info(path)
    assert (meta.frames, meta.channels, meta.sample_rate, meta.subtype) == (n, channels, 16000, subtype)
    assert segment_span(path) == (0, n, 16000) and decoded_span(path.read_bytes()) == (n, 16000)
    np.testing.assert_array_equal(decode(path.read_bytes(), sample_rate=16000, mono=False).reshape(channels, -1), want)
    for start in {0, n // 3, n - 1}:
        seg = read_segment(path, offset_s=start / 16000, sample_rate=16000, mono=False)
        np.testing.assert_array_equal(seg.reshape(channels, -1), want[:, start:])
    assert FileBlocks(path, sample_rate=16000).n == n
    monkeypatch.setattr(long_items, "BLOCKWISE_MIN_S", 0.0)  # a long item: read in blocks where it can be
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chunks = list(noisegen.AugmentStream([str(path)], None, sample_rate=16000, chunk_s=0.25, mono=False))
    np.testing.assert_array_equal(np.concatenate([c.samples[..., :c.length] for c in chunks], axis=-1)
                                  .reshape(channels, -1), want)
    whole = path.read_bytes()
    path.write_bytes(whole + b"TAG" + bytes(125))  # an ID3v1 tag after the frames: read as before
    np.testing.assert_array_equal(noisegen.load(path, mono=False)[0].reshape(channels, -1), want)
    if n > 4096:  # a stream cut short (an encoder killed): the frames before its last, with a warning
        kept = 4096 * ((n - 1) // 4096)
        path.write_bytes(whole[:-7])
        for read in (lambda: noisegen.load(path, mono=False)[0], lambda: decode(path.read_bytes(), sample_rate=16000,
                                                                                mono=False, name=str(path)),
                     lambda: read_segment(path, offset_s=0.1, sample_rate=16000, mono=False)):
            with pytest.warns(noisegen.NoisegenWarning, match=f"pipe.flac' is truncated: .* {n - kept} more frames"):
                y = read()
            np.testing.assert_array_equal(y.reshape(channels, -1), want[:, 1600 if y.shape[-1] < kept else 0:kept])
        with pytest.warns(noisegen.NoisegenWarning, match="is truncated"):
            assert noisegen.info(path).frames == kept


@pytest.mark.parametrize("channels, block", [(1, 30001), (2, 4096), (2, 1 << 17)])
def test_a_long_stream_of_unknown_length_is_read_in_blocks(tmp_path, channels, block):
    """libsndfile reads no stream of unknown length to its end ('Internal psf_fseek() failed'): FileBlocks
    took one for a file cut short, and noisegen augment and the stream read it whole (60 minutes at 16 kHz:
    1,986 MB peak where its twin with a count took 218 MB). Its last frame is decoded here now."""
    from noisegen.audio.blocks import FileBlocks

    n = 200000
    src = tmp_path / "src.flac"
    _write(src, _signals(n, channels, seed=5)["white"], "PCM_16", 0.5)
    want = sf.read(src, dtype="float32", always_2d=True)[0].T
    path = tmp_path / "pipe.flac"
    path.write_bytes(_unknown_length(src.read_bytes()))
    blocks = FileBlocks(path, sample_rate=16000, mono=False, block_frames=block)
    assert not blocks.truncated and blocks.n == n
    for _ in range(2):  # (a pass per whole-signal measure)
        np.testing.assert_array_equal(np.concatenate(list(blocks()), axis=-1).reshape(channels, -1), want)
    for start, k in [(n - 5000, 5000), (n - 3, 3), (1000, 4000), (n - 6000, 2500)]:  # segments, at the end too
        seg = FileBlocks(path, sample_rate=16000, mono=False, offset_s=start / 16000, duration_s=k / 16000)
        got = np.concatenate(list(seg()), axis=-1).reshape(channels, -1)
        np.testing.assert_array_equal(got, want[:, start:start + k], err_msg=str(start))
    path.write_bytes(path.read_bytes()[:-7])  # cut short in its last frame: still read whole
    assert FileBlocks(path, sample_rate=16000).truncated


def test_info_of_a_stream_of_unknown_length_is_read_in_blocks(tmp_path, monkeypatch):
    """noisegen.info read such a stream whole, as float64, where libsndfile's block reader failed at its
    end (733 MB for 60 minutes at 16 kHz, 127 MB for its twin with a count); its levels are its twin's."""
    info_module = sys.modules["noisegen.audio.info"]  # (noisegen.audio.info is also the function)

    src = tmp_path / "src.flac"
    _write(src, _signals(100000, 2, seed=6)["white"], "PCM_16", 0.5)
    path = tmp_path / "pipe.flac"
    path.write_bytes(_unknown_length(src.read_bytes()))
    twin = noisegen.info(src)
    monkeypatch.setattr(info_module, "read_frames", None)  # (the whole read)
    meta = noisegen.info(path)
    assert (meta.frames, meta.channels, meta.sample_rate, meta.subtype, meta.format) == (100000, 2, 16000, "PCM_16",
                                                                                         "FLAC")
    assert (meta.peak_dbfs, meta.n_nonfinite) == (twin.peak_dbfs, twin.n_nonfinite)
    # (the same squares summed in other blocks: NumPy 1.24 rounds the two sums an ulp apart, 2.x alike)
    assert meta.rms_dbfs == pytest.approx(twin.rms_dbfs, rel=0, abs=1e-12)


_SHORT_STREAM_CHILD = """
import sys
from noisegen.audio.flac import FlacFile
for path in sys.argv[1:]:
    assert FlacFile.open(path) is None, path  # (no frame header: libsndfile's to refuse)
print("ok")
"""


def test_a_stream_of_unknown_length_shorter_than_a_header_scan_stays_in_bounds(tmp_path, cli_env):
    # A count of 0 ("unknown") and fewer than 32 bytes of frames (a stream cut short): the scan for the
    # first frame's header took 32 bytes of an array holding the bytes there and 24 zeros, and read past
    # it (unchecked: a bounds-checked run raised IndexError). Plain Python (NUMBA_DISABLE_JIT) checks
    # every index, and takes a second.
    src = tmp_path / "src.flac"
    _write(src, _signals(4000, 1, seed=3)["ar"], "PCM_16", 0.5)
    data = _unknown_length(src.read_bytes())
    with FlacFile.open(src) as f:
        first = f._first
    paths = []
    for keep in (0, 1, 5, 7):
        paths.append(tmp_path / f"cut{keep}.flac")
        paths[-1].write_bytes(data[:first + keep])
    env = {**cli_env, "NUMBA_DISABLE_JIT": "1"}
    run = subprocess.run([sys.executable, "-c", _SHORT_STREAM_CHILD, *map(str, paths)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_a_stream_of_unknown_length_with_variable_blocks_reads_as_written(tmp_path):
    rng = np.random.default_rng(4)
    sizes = [1000, 37, 4000, 16, 2500]
    x = _integer_signal(rng, 2, sum(sizes), 16)
    frames, at = [], 0
    for bs in sizes:
        frames.append(_coded_frame(rng, x[:, at:at + bs], 16, 16000, at, True))
        at += bs
    path = tmp_path / "variable.flac"
    path.write_bytes(stream_bytes(frames, rate=16000, channels=2, bps=16, total=0, min_block=16, max_block=4000))
    np.testing.assert_array_equal(noisegen.load(path, dtype=np.float64)[0], x / 2.0**15)


def _outcome(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except Exception as exc:  # noqa: BLE001 - the kind of failure is compared below
        return type(exc).__name__


def test_a_stream_of_unknown_length_numbered_past_its_frames_is_refused_before_allocating(tmp_path):
    """A stream of unknown length takes its count from its last frame's number: a last frame numbered
    40,000 after three of 4,096 samples claimed 164M frames, and load allocated them all (a MemoryError
    at 28 GiB for a 1 MB file) before failing at the gap. A large count is now checked against the
    frame headers there: the file reads as with a smaller such count, its frames before the gap
    with a warning."""
    import tracemalloc

    x = np.round(np.random.default_rng(6).standard_normal(4 * 4096) * 3000).astype(np.int64)
    path = tmp_path / "numbered.flac"
    for last in (40, 40000, 50000):
        frames = [frame_bytes([x[k * 4096:(k + 1) * 4096]], 16, 16000, 0, [Subframe("verbatim")], (0, 1, 2, last)[k])
                  for k in range(4)]
        path.write_bytes(stream_bytes(frames, rate=16000, channels=1, bps=16, total=0, min_block=4096,
                                      max_block=65535))
        FlacFile.open(path)  # (the kernels compiled or loaded, outside the count)
        for call in (noisegen.load, noisegen.info):
            tracemalloc.start()
            try:
                with pytest.warns(noisegen.NoisegenWarning, match="numbered.flac' is truncated"):
                    got = call(path)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert peak < 1 << 24, (last, peak)
            if call is noisegen.info:
                assert got.frames == 3 * 4096
            else:
                np.testing.assert_array_equal(got[0], (x[:3 * 4096] / 32768).astype(np.float32))


def test_damaged_files_read_as_libsndfile_reads_them_and_cut_short_ones_give_their_whole_frames(tmp_path):
    """Damage reads as libsndfile reads it: the same samples or a refusal, but for a file cut short (or
    damaged) in its last frame, which libsndfile refuses whole ('lost sync'): load gives the frames
    before that one, bit for bit, and says the file is truncated (as a cut-short WAV file reads)."""
    rng = np.random.default_rng(9)
    sources, whole = [], []
    for k, (subtype, channels) in enumerate([("PCM_16", 1), ("PCM_24", 2), ("PCM_S8", 2), ("PCM_16", 3)]):
        path = tmp_path / f"src{k}.flac"
        _write(path, _signals(9000, channels, seed=k)["mixed"], subtype, 0.5)
        sources.append(path.read_bytes())
        whole.append(sf.read(path, dtype="float32", always_2d=True)[0].T)
    taken = salvaged = 0
    for trial in range(400):
        data = bytearray(sources[trial % len(sources)])
        if trial % 4 == 0:
            data = data[: rng.integers(4, len(data))]  # cut short
        else:
            for _ in range(rng.integers(1, 4)):  # anywhere: metadata, frame headers, subframes, CRCs
                data[rng.integers(0, len(data))] ^= 1 << rng.integers(0, 8)
        path = tmp_path / "damaged.flac"
        path.write_bytes(bytes(data))
        ref = _outcome(lambda: sf.read(path, dtype="float32", always_2d=True)[0].T)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                got = noisegen.load(path)[0]
            except noisegen.NoisegenError as exc:
                got = type(exc).__name__
        if not isinstance(got, str):
            got = got if got.ndim == 2 else got[None]
        meta = _outcome(lambda: noisegen.info(path))  # info describes what load reads, or fails as load does
        if isinstance(got, str):
            assert meta == got, trial
        else:
            assert (meta.channels, meta.frames) == got.shape, trial
        if isinstance(ref, str) and not isinstance(got, str):  # libsndfile refuses it; load salvages it
            original = whole[trial % len(sources)]
            assert 0 < got.shape[1] < original.shape[1], trial
            np.testing.assert_array_equal(got, original[:, :got.shape[1]], err_msg=f"trial {trial}")
            assert any("is truncated: its header promises" in str(w.message) for w in caught), trial
            salvaged += 1
        elif isinstance(ref, str):
            assert isinstance(got, str), trial  # libsndfile refuses it: so does load (NoisegenError)
        else:
            np.testing.assert_array_equal(got, ref, err_msg=f"trial {trial}")
        f = FlacFile.from_bytes(bytes(data))
        if f is not None:
            with f:
                taken += f.read(0, f.frames, np.float32) is not None
    assert 0 < taken < 300  # most damage falls in the frames and fails a CRC; a damaged comment block does not
    assert salvaged >= 50  # (74) every cut past the first frame (two of three frames), and damage in the last


@pytest.mark.parametrize("subtype", SUBTYPES)
@pytest.mark.parametrize("channels", [1, 2])
def test_a_file_cut_short_anywhere_reads_its_whole_frames_everywhere(tmp_path, subtype, channels):
    """Cut in every frame (inside its header, its subframes, its CRC): load, read_segment, decode of a
    tar member and AugmentStream give the frames before the cut, and warn once; a cut inside the
    first frame leaves nothing to give (libsndfile's refusal, as before)."""
    x = _signals(20000, channels, seed=3)["ar"]
    src = tmp_path / "src.flac"
    _write(src, x, subtype, 0.5)
    data, original = src.read_bytes(), sf.read(src, dtype="float32", always_2d=True)[0].T
    starts = [frame[0] for frame in _frames(data)]
    cut_path = tmp_path / "cut.flac"
    for k, start in enumerate(starts):
        for cut in (start + 1, start + 7, (start + (starts[k + 1] if k + 1 < len(starts) else len(data))) // 2):
            cut_path.write_bytes(data[:cut])
            if k == 0:
                with pytest.raises(noisegen.NoisegenError):
                    noisegen.load(cut_path)
                with pytest.raises(noisegen.NoisegenError):
                    noisegen.info(cut_path)
                continue
            with pytest.warns(noisegen.NoisegenWarning, match="is truncated: its header promises") as caught:
                y, _ = noisegen.load(cut_path, mono=False)
            assert {w.filename for w in caught} == {__file__}  # the warning names the caller's line
            y = y if y.ndim == 2 else y[None]
            np.testing.assert_array_equal(y, original[:, :4096 * k])  # libFLAC's 4096-frame blocks
            with pytest.warns(noisegen.NoisegenWarning, match="is truncated: its header promises") as caught:
                meta = noisegen.info(cut_path)  # what load reads of it, though libsndfile refuses it
            assert {w.filename for w in caught} == {__file__}
            assert (meta.frames, meta.channels, meta.sample_rate, meta.format) == (4096 * k, channels, 16000, "FLAC")
            assert meta.subtype == subtype and meta.duration_s == 4096 * k / 16000
            assert meta.peak_dbfs == pytest.approx(20 * np.log10(np.max(np.abs(y.astype(np.float64)))), abs=1e-12)
            assert meta.rms_dbfs == pytest.approx(10 * np.log10(np.mean(y.astype(np.float64) ** 2)), abs=1e-9)
            with pytest.warns(noisegen.NoisegenWarning, match="is truncated"):
                seg = read_segment(cut_path, sample_rate=16000, mono=False)
            np.testing.assert_array_equal(seg if seg.ndim == 2 else seg[None], original[:, :4096 * k])
            with pytest.warns(noisegen.NoisegenWarning, match="member.flac' is truncated"):
                member = decode(data[:cut], sample_rate=16000, mono=False, name="member.flac")
            assert member.shape[-1] == 4096 * k
            with pytest.warns(noisegen.NoisegenWarning, match="is truncated"):
                mixed = read_segment(cut_path, sample_rate=16000, mono=True)
            np.testing.assert_array_equal(mixed, mix_down(original[:, :4096 * k]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(noisegen.AugmentStream([str(cut_path)], None, sample_rate=16000, chunk_s=None, shuffle=False))
    assert [c.length for c in chunks] == [4096 * (len(starts) - 1)]
    assert sum("is truncated" in str(w.message) for w in caught) == 1


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("prefix", [False, True])
def test_a_segment_of_a_file_cut_short_reads_its_whole_frames_wherever_it_starts(tmp_path, monkeypatch, channels,
                                                                                 prefix):
    """A segment that starts past its own length is left to libsndfile's seek, and a long file's
    segment from nearer its start decodes about its share of the bytes (``prefix``), or leaves it
    to libsndfile when that falls short; libsndfile refuses any read reaching the cut of a file cut
    short. Such manifest rows failed ('flac decoder lost sync', 'Internal psf_fseek() failed')
    where others gave the frames before the cut with a warning. Every segment reaching the cut
    gives them now; one starting past them fails."""
    if prefix:  # as a file over 4 MiB is read
        monkeypatch.setattr(flac_module, "_PREFIX_FROM", 0)
        monkeypatch.setattr(flac_module, "_PREFIX_SLACK", 0)
    x = _signals(20000, channels, seed=5)["ar"]
    src = tmp_path / "src.flac"
    _write(src, x, "PCM_16", 0.5)
    data = src.read_bytes()
    original = sf.read(src, dtype="float32", always_2d=True)[0].T
    path = tmp_path / "cut.flac"
    for cut in (len(data) - 50, len(data) * 9 // 20):
        path.write_bytes(data[:cut])
        kept = 4096 * sum(end <= cut for _, _, end in _frames(data))  # libFLAC's 4096-frame blocks before the cut
        for start in range(0, 20000, 613):
            for duration in (None, 20000 - start, 1, 900, 4000):
                end = 20000 if duration is None else start + duration
                call = lambda: read_segment(path, offset_s=start / 16000,  # noqa: E731
                                            duration_s=None if duration is None else duration / 16000,
                                            sample_rate=16000, mono=False)
                if end <= kept:  # before the cut: its frames, libsndfile's or these
                    seg = call()
                elif start >= kept:
                    with pytest.raises(noisegen.NoisegenError, match="cut.flac"):
                        call()
                    continue
                else:
                    with pytest.warns(noisegen.NoisegenWarning, match="is truncated: its header promises"):
                        seg = call()
                np.testing.assert_array_equal(seg.reshape(channels, -1), original[:, start:min(end, kept)],
                                              err_msg=f"{cut} {start} {duration}")


def test_damage_before_the_last_frame_is_still_libsndfiles_to_refuse(tmp_path):
    """Only a file whose failing frame has no frame after it is salvaged: a damaged frame in the
    middle goes to libsndfile, which refuses the file, as before."""
    src = tmp_path / "src.flac"
    _write(src, _signals(20000, 1, seed=4)["ar"], "PCM_16", 0.5)
    data = bytearray(src.read_bytes())
    starts = [frame[0] for frame in _frames(bytes(data))]
    data[(starts[1] + starts[2]) // 2] ^= 0x10  # the second frame's subframe
    (tmp_path / "mid.flac").write_bytes(bytes(data))
    with pytest.raises(noisegen.NoisegenError):
        noisegen.load(tmp_path / "mid.flac")


def _crc8(data):
    c = 0
    for x in data:
        c = int(flac_kernels.CRC8[c ^ x])
    return c


def _crc16(data):
    c = 0
    for x in data:
        c = ((c << 8) & 0xFFFF) ^ int(flac_kernels.CRC16[0, (c >> 8) ^ x])
    return c


def _frames(data):
    """``(start, end of header, end)`` byte offsets of every frame of a fixed-block-size stream: the
    next frame's header (sync code, number) follows where this frame's CRC-16 holds."""
    with FlacFile.from_bytes(data) as f:
        first, layout = f._first, (f.samplerate, f.bps, f.channels)
    buf = np.frombuffer(data[first:] + bytes(flac_kernels.PADDING), np.uint8)
    size = len(data) - first

    def header_end(p, number):
        bs, _, q = flac_kernels.frame_header(buf, p, size, *layout, 0, number)
        return q if bs > 0 else None

    frames, a = [], 0
    while a < size:
        h = header_end(a, len(frames))
        b = next(p for p in range(a + 3, size + 1) if (p == size or header_end(p, len(frames) + 1) is not None)
                 and _crc16(buf[a:p - 2]) == (int(buf[p - 2]) << 8 | int(buf[p - 1])))
        frames.append((first + a, first + h, first + b))
        a = b
    return frames


def test_damage_behind_good_crcs_reads_as_libsndfile_reads_it(tmp_path):
    # Damaged subframes and headers whose CRCs are made to hold again reach every check of the
    # decoder itself: samples beyond the depth, non-zero padding, impossible partitions and
    # orders. Each must read as libsndfile reads it (the same samples, or a refusal), but for damage
    # in the last frame, which libsndfile refuses whole: load gives the frames before it.
    rng = np.random.default_rng(21)
    sources = []
    for k, (subtype, channels, level) in enumerate([("PCM_16", 1, 0.5), ("PCM_24", 2, 1.0), ("PCM_S8", 2, 0.0)]):
        path = tmp_path / f"src{k}.flac"
        sig = _signals(3000, channels, seed=k)
        _write(path, np.concatenate([sig["mixed"], sig["ar"], sig["steps"]]), subtype, level)
        data = path.read_bytes()
        sources.append((data, _frames(data), sf.read(path, dtype="float32", always_2d=True)[0].T))
        assert len(sources[-1][1]) >= 2
    outcomes = {"same samples": 0, "both refuse": 0, "last frame left out": 0}
    for trial in range(240):
        data, frames, original = sources[trial % len(sources)]
        data = bytearray(data)
        last = rng.integers(0, len(frames)) == len(frames) - 1
        a, h, b = frames[-1 if last else rng.integers(0, len(frames) - 1)]
        kind = trial // len(sources) % 3
        if kind == 0:  # bits of the subframes
            for _ in range(rng.integers(1, 6)):
                data[rng.integers(h, b - 2)] ^= 1 << rng.integers(0, 8)
        elif kind == 1:  # a run of random bytes
            i = rng.integers(h, b - 2)
            run = min(rng.integers(1, 16), b - 2 - i)
            data[i:i + run] = rng.integers(0, 256, run, dtype=np.uint8).tobytes()
        else:  # block size, rate, channel assignment or depth codes, with the header's CRC-8 made good
            data[rng.integers(a + 2, a + 4)] ^= 1 << rng.integers(0, 8)
            data[h - 1] = _crc8(data[a:h - 1])
        crc = _crc16(data[a:b - 2])
        data[b - 2:b] = bytes([crc >> 8, crc & 0xFF])
        path = tmp_path / "damaged.flac"
        path.write_bytes(bytes(data))
        ref = _outcome(lambda: sf.read(path, dtype="float32", always_2d=True)[0].T)
        got = _outcome(lambda: noisegen.load(path)[0])
        if isinstance(ref, str) and last:
            assert not isinstance(got, str), f"trial {trial}: {got}"
            got = got if got.ndim == 2 else got[None]
            with FlacFile.from_bytes(bytes(data)) as f:  # every frame but the last holds max_block frames
                kept = f.max_block * (len(frames) - 1)
            np.testing.assert_array_equal(got, original[:, :kept], err_msg=f"trial {trial}")
            outcomes["last frame left out"] += 1
        elif isinstance(ref, str):
            assert isinstance(got, str), f"trial {trial}: libsndfile refuses it ({ref}), load read it"
            outcomes["both refuse"] += 1
        else:
            assert not isinstance(got, str), f"trial {trial}: {got}"
            np.testing.assert_array_equal(got if got.ndim == 2 else got[None], ref, err_msg=f"trial {trial}")
            outcomes["same samples"] += 1
    assert min(outcomes.values()) >= 10, outcomes  # every kind of outcome represented


def test_missing_repeated_or_swapped_frames_read_as_libsndfile_reads_them(tmp_path):
    # Every frame's CRCs hold, but its number does not follow the frame before it. What libFLAC
    # makes of that depends on its version (1.5 fills a gap with silence), so the reader leaves
    # such a file to libsndfile, whichever it is.
    path = tmp_path / "x.flac"
    _write(path, _signals(20000, 2, seed=11)["ar"], "PCM_16", 0.5)
    data = path.read_bytes()
    frames = _frames(data)
    assert len(frames) == 5
    cut = [data[a:b] for a, _, b in frames]
    head, tail = data[:frames[0][0]], data[frames[-1][2]:]
    for order in ([0, 2, 3, 4], [0, 1, 1, 2, 3, 4], [1, 0, 2, 3, 4], [0, 2, 1, 3, 4], [0, 1, 3, 2, 4], [1, 2, 3, 4]):
        damaged = head + b"".join(cut[k] for k in order) + tail
        damaged_path = tmp_path / "damaged.flac"
        damaged_path.write_bytes(damaged)
        with FlacFile.from_bytes(damaged) as f:
            assert f.read(0, f.frames, np.float32) is None, order
        # read from the start without a seek, as load reads (libFLAC's seek to 0 fails here)
        with sf.SoundFile(damaged_path) as f:
            ref = _outcome(lambda: f.read(f.frames, dtype="float32", always_2d=True).T)
        got = _outcome(lambda: noisegen.load(damaged_path, mono=False)[0])
        if isinstance(ref, str):
            assert isinstance(got, str), (order, ref)
        else:
            np.testing.assert_array_equal(got, ref, err_msg=str(order))


def test_streaminfo_that_disagrees_with_the_frames_goes_to_libsndfile(tmp_path):
    path = tmp_path / "x.flac"
    _write(path, _signals(9000, 2, seed=10)["ar"], "PCM_16", 0.5)
    good = path.read_bytes()
    # STREAMINFO starts at byte 8: min/max block (4), min/max frame (6), then rate/channels/bits/total (8)
    packed = int.from_bytes(good[18:26], "big")
    for changed in (packed ^ (1 << 41),  # 3 channels
                    packed ^ (1 << 36),  # 15 bits
                    packed + 5000,  # more samples than the frames hold
                    packed - 5000,  # fewer
                    packed ^ (1 << 48)):  # another rate (frames carry their own rate code)
        data = good[:18] + changed.to_bytes(8, "big") + good[26:]
        f = FlacFile.from_bytes(data)
        if f is not None:
            with f:
                assert f.read(0, f.frames, np.float32) is None
    small_block = good[:8] + (16).to_bytes(2, "big") * 2 + good[12:]  # block sizes 16 < the frames' 4096
    with FlacFile.from_bytes(small_block) as f:
        assert f.read(0, f.frames, np.float32) is None
    ref, _ = sf.read(io.BytesIO(small_block), dtype="float32", always_2d=True)  # libsndfile reads it anyway
    np.testing.assert_array_equal(decode(small_block, sample_rate=16000, mono=False), ref.T)


def test_a_large_claim_beyond_the_last_frame_takes_memory_for_the_frames_there_only(tmp_path):
    """A STREAMINFO claiming 179M frames of a 24 KB file (within the bound of its bytes: 65,535-sample
    blocks of 9 bytes) had the reader allocate them all before decoding the three frames there (a
    MemoryError for a 1 MB file claiming 7.6G); a large claim is now checked against the last frame's
    header first, and the file reads as a file cut short does, its frames with a warning."""
    import tracemalloc

    x = np.round(np.random.default_rng(4).standard_normal(3 * 4096) * 3000).astype(np.int64)
    frames = [frame_bytes([x[k * 4096:(k + 1) * 4096]], 16, 16000, 0, [Subframe("verbatim")], k) for k in range(3)]
    size = sum(map(len, frames))
    path = tmp_path / "lying.flac"
    for total in (1 << 25, -(-size // 9) * 65535):
        path.write_bytes(stream_bytes(frames, rate=16000, channels=1, bps=16, total=total, min_block=4096,
                                      max_block=65535))
        for dtype in (np.float32, np.float64):
            with FlacFile.open(path) as f:
                f.read(0, 10, dtype)  # (the kernels compiled or loaded, outside the count)
            with FlacFile.open(path) as f:
                assert f.frames == total
                tracemalloc.start()
                try:
                    assert f.read(0, f.frames, dtype) is None  # libsndfile's to read (it refuses the file)
                    peak = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
                assert peak < 1 << 24, (total, peak)
                np.testing.assert_array_equal(f.salvaged[:, 0], (x / 32768).astype(dtype))
            with pytest.warns(noisegen.NoisegenWarning, match=f"promises {total - len(x)} more frames"):
                y, _ = noisegen.load(path, dtype=dtype)
            np.testing.assert_array_equal(y, (x / 32768).astype(dtype))
        with pytest.warns(noisegen.NoisegenWarning, match="promises"):
            assert noisegen.info(path).frames == len(x)
        with pytest.warns(noisegen.NoisegenWarning, match="promises"):
            segment = read_segment(path, offset_s=0.25, sample_rate=16000)
        np.testing.assert_array_equal(segment, (x[4000:] / 32768).astype(np.float32))


def test_a_second_streaminfo_block_reads_as_libsndfile_reads_it(tmp_path):
    """libsndfile takes the rate and length of a file's last STREAMINFO block; the reader took the
    first, so that load gave 16 kHz where info said 8 kHz, or 3000 frames where info said 2000."""
    x = np.round(np.random.default_rng(3).standard_normal((1, 3000)) * 3000).astype(np.int64)
    frames = [frame_bytes([x[0, k * 1000:(k + 1) * 1000]], 16, 16000, 0, [Subframe("verbatim")], k) for k in range(3)]

    def block(kind, body, last=False):
        return bytes([kind | 0x80 * last]) + len(body).to_bytes(3, "big") + body

    def info(**changed):
        fields = dict(rate=16000, channels=1, bps=16, total=3000, min_block=1000, max_block=1000) | changed
        return stream_bytes([], **fields)[8:42]

    comment = block(4, (0).to_bytes(4, "little") * 2)
    path = tmp_path / "two.flac"
    for second in (dict(rate=8000), dict(total=2000), dict(rate=44100, total=2500), dict(bps=24), dict(max_block=4096),
                   dict()):
        for between in (b"", comment):
            path.write_bytes(b"fLaC" + block(0, info()) + between + block(0, info(**second), True) + b"".join(frames))
            want, rate = sf.read(path, dtype="float32", always_2d=True)
            got, got_rate = noisegen.load(path)
            assert (got_rate, got.shape) == (rate, want[:, 0].shape), second
            np.testing.assert_array_equal(got, want[:, 0])
            meta = noisegen.info(path)
            assert (meta.sample_rate, meta.frames) == (rate, len(want)), second
            assert segment_span(path) == (0, len(want), rate), second
            assert decoded_span(path.read_bytes()) == (len(want), rate), second


def _coded_frame(rng, x, bps, rate, number, variable):
    """One frame of ``x`` (channels, bs) with a random channel assignment, random subframe kinds
    (FIXED 0-4, LPC 1-32 at any precision and shift, VERBATIM, CONSTANT when it can), wasted bits
    when the samples allow, any valid partition order and Rice parameters, some partitions escaped,
    and random header codes."""
    channels, bs = x.shape
    assignment = channels - 1 if channels != 2 else int(rng.choice([1, 8, 9, 10]))
    coded = coded_channels(x, assignment)
    subs = []
    for c, y in enumerate(coded):
        side = (assignment == 8 and c == 1) or (assignment == 9 and c == 0) or (assignment == 10 and c == 1)
        low = np.bitwise_or.reduce(np.abs(y)) if np.any(y) else 0
        wasted = min(int(low & -low).bit_length() - 1, bps + side - 1) if low else 0
        wasted = int(rng.integers(0, wasted + 1))
        if np.all(y == y[0]) and rng.random() < 0.7:
            subs.append(Subframe("constant", wasted=wasted))
            continue
        kind = rng.choice(["verbatim", "fixed", "lpc", "lpc", "lpc"])
        if kind == "verbatim" or bs == 1:
            subs.append(Subframe("verbatim", wasted=wasted))
            continue
        # shorter than the block, as libFLAC requires
        order = int(rng.integers(0, min(4, bs - 1) + 1)) if kind == "fixed" else int(rng.integers(1, min(32, bs - 1) + 1))
        subs.append(_predictor(rng, y, str(kind), order, wasted))
    rate_code = rng.choice([None, 0])
    depth_code = rng.choice([None, 0])
    return frame_bytes(coded, bps, rate, assignment, subs, number, variable=variable,
                                   rate_code=rate_code, depth_code=depth_code)


def _predictor(rng, y, kind, order, wasted, partition_order=None):
    """A FIXED or LPC subframe of ``order`` for the samples ``y``: random LPC coefficients,
    precision and shift, a random partition order (or ``partition_order``), Rice parameters
    near the best, one partition in ten escaped."""
    bs = len(y)
    sub = Subframe(str(kind), order=order, wasted=wasted, rice5=bool(rng.random() < 0.5))
    if kind == "lpc":
        a = rng.uniform(-1, 1, order)
        a *= rng.uniform(0.2, 1.9) / np.sum(np.abs(a))
        sub.shift = int(rng.integers(0, 16))
        sub.coefs = [int(v) for v in np.round(a * 2.0 ** sub.shift)]
        sub.precision = max(2, max(abs(c) for c in sub.coefs).bit_length() + 1 + int(rng.integers(0, 3)))
        if sub.precision > 15:
            sub.coefs = [max(-(1 << 14), min((1 << 14) - 1, c)) for c in sub.coefs]
            sub.precision = 15
    if partition_order is None:
        orders = [p for p in range(16) if bs % (1 << p) == 0 and (bs >> p) >= order]
        partition_order = int(rng.choice(orders))
    sub.partition_order = partition_order
    shifted = np.asarray(y, np.int64) >> wasted
    coefs = FIXED[order] if kind == "fixed" else sub.coefs
    res = np.array(shifted[order:]) - np.array(predict(shifted, coefs, sub.shift), np.int64)
    u = np.where(res >= 0, 2 * res, -2 * res - 1)
    per, at = bs >> sub.partition_order, 0
    for p in range(1 << sub.partition_order):
        part = u[at: at + per - (order if p == 0 else 0)]
        at += len(part)
        k = int(np.log2(np.mean(part) + 1)) if len(part) else 0
        k = min(max(0, k + int(rng.integers(-1, 2))), 30 if sub.rice5 else 14)
        sub.rice.append(None if rng.random() < 0.1 else k)
    return sub


def _integer_signal(rng, channels, n, bps):
    """Speech-like integers of ``bps`` bits, with stretches of silence, DC and zero low bits."""
    top = 1 << (bps - 1)
    rows = []
    for _ in range(channels):
        x = np.convolve(rng.standard_normal(n), 0.95 ** np.arange(32))[:n] * top * 0.08
        a, b = sorted(rng.integers(0, n, 2))
        x[a:b] = (0.0, top * 0.3, x[a:b].round() // 16 * 16)[rng.integers(0, 3)]
        rows.append(np.clip(np.round(x), -top, top - 1).astype(np.int64))
    if channels == 2 and rng.random() < 0.3:
        rows[1] = rows[0].copy()  # identical channels: side all zero
    return np.stack(rows)


@pytest.mark.parametrize("seed", range(6))
def test_streams_using_every_part_of_the_format_read_as_written(tmp_path, seed):
    # Written by tests/flac_writer.py: LPC orders up to 32, every partition order and Rice width,
    # escaped partitions, wasted bits under side channels, variable block sizes and the header's
    # explicit size, rate and depth codes, which libFLAC (libsndfile's encoder) never writes.
    rng = np.random.default_rng(seed)
    for trial in range(6):
        bps = int(rng.choice([8, 16, 24]))
        channels = int(rng.choice([1, 2, 2, 3, 8]))
        rate = int(rng.choice([8000, 16000, 44100, 48000, 37000, 12345, 96000]))
        variable = bool(rng.random() < 0.4)
        if variable:
            sizes = [int(v) for v in rng.integers(16, 3000, int(rng.integers(1, 6)))]
        else:
            size = int(rng.choice([192, 576, 1152, 4096, 100, 1000, 2000]))
            sizes = [size] * int(rng.integers(1, 4)) + [int(rng.integers(1, size + 1))]
        x = _integer_signal(rng, channels, sum(sizes), bps)
        frames, at = [], 0
        for k, bs in enumerate(sizes):
            frames.append(_coded_frame(rng, x[:, at:at + bs], bps, rate, at if variable else k, variable))
            at += bs
        whole = sizes if variable else sizes[:-1] or sizes
        data = stream_bytes(frames, rate=rate, channels=channels, bps=bps, total=at,
                                        min_block=min(whole), max_block=max(whole))
        path = tmp_path / f"{trial}.flac"
        path.write_bytes(data)
        expected = (x / 2.0 ** (bps - 1)).T
        ref, ref_rate = sf.read(path, dtype="float64", always_2d=True)
        assert ref_rate == rate
        np.testing.assert_array_equal(ref, expected)  # the writer is right: libsndfile reads what it wrote
        for dtype in (np.float32, np.float64):
            got = _ours(path, dtype)
            assert got is not None, (seed, trial)
            np.testing.assert_array_equal(got, expected.astype(dtype), err_msg=f"seed {seed} trial {trial}")
            _assert_mono_is_mix_down(path, dtype, got)


def _every_order_stream(bps):
    """``(FLAC bytes, samples)``: a frame for each FIXED order (0-4) and each LPC order (1-32), a
    whole-subframe partition and random ones, under each stereo assignment in turn."""
    rng = np.random.default_rng(bps)
    bs = 1152
    predictors = [("fixed", order) for order in range(5)] + [("lpc", order) for order in range(1, 33)]
    x = _integer_signal(rng, 2, bs * len(predictors), bps)
    frames = []
    for number, (kind, order) in enumerate(predictors):
        assignment = (1, 8, 9, 10)[number % 4]
        coded = coded_channels(x[:, number * bs:(number + 1) * bs], assignment)
        subs = [_predictor(rng, y, kind, order, 0, partition_order=po) for y, po in zip(coded, (0, None))]
        frames.append(frame_bytes(coded, bps, 44100, assignment, subs, number))
    return stream_bytes(frames, rate=44100, channels=2, bps=bps, total=x.shape[1], min_block=bs, max_block=bs), x


@pytest.mark.parametrize("bps", [8, 16, 24])
def test_every_predictor_order_reads_as_written(tmp_path, bps):
    # Every specialised loop of the decoder runs: the FIXED recurrences, each LPC window width,
    # escaped partitions, side channels (bps + 1).
    data, x = _every_order_stream(bps)
    path = tmp_path / "orders.flac"
    path.write_bytes(data)
    expected = (x / 2.0 ** (bps - 1)).T
    ref, _ = sf.read(path, dtype="float64", always_2d=True)
    np.testing.assert_array_equal(ref, expected)
    for dtype in (np.float32, np.float64):
        np.testing.assert_array_equal(_ours(path, dtype), expected.astype(dtype))
        _assert_mono_is_mix_down(path, dtype, expected.astype(dtype))


_BOUNDS_CHILD = """
import sys
import numpy as np
import soundfile as sf
from noisegen.audio.flac import FlacFile
for path in sys.argv[1:]:
    ref, _ = sf.read(path, dtype="float32", always_2d=True)
    n = len(ref)
    with FlacFile.open(path) as f:
        for start, count in ((0, n), (n // 3, n), (n // 2 - 1, n // 2), (1, 1), (1000, 1100)):  # start <= count
            got = f.read(start, count, np.float32)
            assert got is not None and np.array_equal(got, ref[start:start + count]), (path, start, count)
            mixed = f.read(start, count, np.float32, True)
            expected = ref[start:start + count]
            expected = (expected[:, :1] + expected[:, 1:]) / 2 if expected.shape[1] == 2 else expected
            assert mixed is not None and np.array_equal(mixed, expected), (path, start, count)
print("ok")
"""


def test_reads_stay_in_bounds_when_numba_checks_them(tmp_path, cli_env):
    # The kernels run without bounds checks; here Numba checks every index (a fresh cache: the
    # cached code has no checks). A segment from past a frame's start once sliced the output
    # from its end and read beyond the frame's samples, with the right samples in the end.
    paths = []
    for bps in (16, 24):
        paths.append(tmp_path / f"orders{bps}.flac")
        paths[-1].write_bytes(_every_order_stream(bps)[0])
    x = np.clip(np.random.default_rng(5).standard_normal((9000, 3)) * 0.2, -1, 0.99)
    paths.append(tmp_path / "three.flac")
    _write(paths[-1], x, "PCM_S8", 1.0)
    env = {**cli_env, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-c", _BOUNDS_CHILD, *map(str, paths)], env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_what_libflac_refuses_is_left_to_libsndfile(tmp_path):
    # Valid to the letter of the format, refused by libFLAC, so left to libsndfile (which refuses
    # them too): a predictor as long as its block, and a residual beyond libFLAC's 32 bits (in-range
    # samples behind a huge prediction: 32 coefficients of 2**14 - 1 on samples of 30000).
    flat = np.full(64, 30000, np.int64)
    cases = {"order = block": (flat[:4], Subframe("fixed", order=4, rice=[5])),
             "33-bit residual": (flat, Subframe("lpc", order=32, coefs=[(1 << 14) - 1] * 32, precision=15,
                                                rice=[30], rice5=True))}
    for name, (y, sub) in cases.items():
        frame = frame_bytes([y], 16, 16000, 0, [sub], 0)
        path = tmp_path / "x.flac"
        path.write_bytes(stream_bytes([frame], rate=16000, channels=1, bps=16, total=len(y), min_block=16,
                                      max_block=64))
        with FlacFile.open(path) as f:
            assert f.read(0, f.frames, np.float32) is None, name
        with pytest.raises(sf.LibsndfileError):
            sf.read(path)
        with pytest.raises(noisegen.NoisegenError):
            noisegen.load(path)


def test_bytes_and_file_objects():
    x = np.clip(np.random.default_rng(11).standard_normal((4000, 2)) * 0.1, -1, 0.99)
    buf = io.BytesIO()
    sf.write(buf, x, 16000, format="FLAC", subtype="PCM_16")
    data = buf.getvalue()
    ref, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    with FlacFile.from_bytes(data) as f:
        np.testing.assert_array_equal(f.read(0, f.frames, np.float32), ref)
        assert f.read(4000, 10, np.float32).shape == (0, 2)  # past the end: nothing


def test_a_streaminfo_claiming_more_than_the_file_holds_is_refused_before_allocating(tmp_path):
    buf = io.BytesIO()
    sf.write(buf, np.zeros(3000), 16000, format="FLAC", subtype="PCM_16")
    good = buf.getvalue()
    packed = int.from_bytes(good[18:26], "big")
    lying = good[:18] + (packed | ((1 << 36) - 1)).to_bytes(8, "big") + good[26:]  # 2**36 - 1 frames: 256 GiB
    path = tmp_path / "lying.flac"
    path.write_bytes(lying)
    for call in (lambda: noisegen.load(path), lambda: read_segment(path, sample_rate=16000),
                 lambda: segment_span(path)):
        with pytest.raises(noisegen.NoisegenError, match="claims 68719476735 frames"):
            call()
    with pytest.raises(noisegen.NoisegenError, match="cannot decode member.flac: .*claims"):
        decode(lying, sample_rate=16000, name="member.flac")
    # a header that overstates the length within what the bytes could hold: libsndfile refuses the
    # file; it reads as a file cut short does, every frame there, with a warning
    modest = good[:18] + (packed + 3000).to_bytes(8, "big") + good[26:]
    path.write_bytes(modest)
    with pytest.raises(sf.LibsndfileError):
        sf.read(path)
    with pytest.warns(noisegen.NoisegenWarning, match="promises 3000 more frames"):
        y, _ = noisegen.load(path, dtype=np.float64)
    np.testing.assert_array_equal(y, sf.read(io.BytesIO(good), dtype="float64")[0])
