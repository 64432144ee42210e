"""The Vorbis decoder (noisegen.audio.vorbis) gives libsndfile's samples, or leaves the file to it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisegen._kernels.cpu._vorbis_mdct import dct4, mdct_tables
from noisegen._kernels.cpu.vorbis_ogg import CRC_TABLES, page_crc
from noisegen.audio.vorbis import VorbisUnsupported, decode_vorbis
from ogg_fuzz import fix_crcs, ogg_crc, one_page_each, packets, pages

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5  # libvorbis's float arithmetic against ours (measured worst: 4.2e-7)


def _write(path, sample_rate, channels, quality, n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sample_rate
    x = 0.3 * np.sin(2 * np.pi * 440 * t * (1 + t))[:, None] + 0.05 * rng.standard_normal((n, channels))
    x *= np.linspace(0.2, 1.0, n)[:, None]
    x[: n // 5] *= 0.01  # quiet start: floors unused, short blocks
    sf.write(path, np.clip(x, -1, 1), sample_rate, format="OGG", subtype="VORBIS", compression_level=quality)
    return path


def _check(path):
    ref, rate = sf.read(path, dtype="float32", always_2d=True)
    out, got_rate = decode_vorbis(Path(path).read_bytes())
    assert got_rate == rate
    assert out.shape == ref.shape
    assert out.dtype == np.float32
    if len(ref):
        assert np.abs(out - ref).max() <= TOLERANCE


@pytest.mark.parametrize("sample_rate", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("quality", [0.0, 0.5, 1.0])
def test_matches_soundfile(tmp_path, sample_rate, channels, quality):
    for n in (100, sample_rate + 37):
        _check(_write(tmp_path / f"x{n}.ogg", sample_rate, channels, quality, n))


@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000, 11025 * 3 + 1])
def test_lengths(tmp_path, n):
    _check(_write(tmp_path / "x.ogg", 11025, 1, 0.3, n))


def test_repo_and_shared_data(shared_data_dir):
    paths = sorted(shared_data_dir.rglob("*.ogg")) + sorted((ROOT / "data").rglob("*.ogg"))
    assert paths
    for p in paths:
        _check(p)


def _sample(tmp_path):
    return _write(tmp_path / "x.ogg", 16000, 2, 0.5, 16000 + 37).read_bytes()


def test_damage_falls_back(tmp_path):
    data = _sample(tmp_path)
    with pytest.raises(VorbisUnsupported):
        decode_vorbis(b"")
    with pytest.raises(VorbisUnsupported):
        decode_vorbis(b"RIFF" + bytes(100))
    with pytest.raises(VorbisUnsupported):  # a flipped bit: that page's CRC fails
        decode_vorbis(data[:5000] + bytes([data[5000] ^ 4]) + data[5001:])
    with pytest.raises(VorbisUnsupported):  # cut short
        decode_vorbis(data[: len(data) // 2])
    with pytest.raises(VorbisUnsupported):  # bytes after the last page
        decode_vorbis(data + b"junk")
    with pytest.raises(VorbisUnsupported):  # two streams end to end (chained)
        decode_vorbis(data + data)


def test_page_crc_matches_a_bytewise_crc(tmp_path):
    data = _sample(tmp_path)
    buf = np.frombuffer(data, np.uint8)
    for at, head, body in pages(data):
        page = bytearray(data[at:at + head + body])
        stored = int.from_bytes(page[22:26], "little")
        page[22:26] = bytes(4)
        assert ogg_crc(bytes(page)) == stored == page_crc(buf, at, at + head + body, CRC_TABLES)
    assert fix_crcs(data) == data


@pytest.mark.parametrize("n", [64, 256, 2048, 8192])
def test_dct4_matches_the_definition(n):
    m = n // 2
    x = np.random.default_rng(n).standard_normal(m).astype(np.float32)
    k = np.arange(m)
    ref = (x[None, :] * np.cos(np.pi / m * (k[:, None] + 0.5) * (k[None, :] + 0.5))).sum(1)
    u = np.zeros(m, np.float32)
    dct4(x, m, mdct_tables(n), np.zeros(m // 2, np.float32), np.zeros(m // 2, np.float32), u)
    assert np.abs(u - ref).max() <= 1e-5 * np.abs(ref).max()


def test_floor_line_closed_form_equals_libvorbis_steps():
    """floor1_apply draws libvorbis's error-accumulator lines as ``y0 +- floor((i|dy| + 1/2) / adx)``."""
    for x0, x1, y0, y1 in [(0, 7, 3, 200), (5, 100, 255, 0), (0, 128, 10, 10), (3, 1000, 0, 255),
                           (17, 18, 40, 41), (0, 4096, 255, 254)]:
        dy, adx = y1 - y0, x1 - x0
        base = int(dy / adx)
        sy = base - 1 if dy < 0 else base + 1
        ady = abs(dy) - abs(base * adx)
        y, err, steps = y0, 0, [y0]
        for _ in range(x0 + 1, x1):
            err += ady
            if err >= adx:
                err -= adx
                y += sy
            else:
                y += base
            steps.append(y)
        i = np.arange(adx)
        closed = y0 + np.sign(dy) * ((i * abs(dy) + 0.5) * (1.0 / adx)).astype(np.int64)
        assert list(closed) == steps


@pytest.mark.slow
def test_fuzz_never_reads_out_of_bounds(tmp_path):
    """Mutated files (bit flips, cuts, inserted and deleted bytes, header and page edits with their
    CRCs fixed, packets cut short) decode or raise VorbisUnsupported, with Numba's bounds checks on,
    in a child process (a wild read would kill it)."""
    seeds = [_write(tmp_path / f"s{i}.ogg", rate, ch, q, n, seed=i) for i, (rate, ch, q, n) in
             enumerate([(16000, 1, 0.5, 16037), (44100, 2, 1.0, 22050), (8000, 1, 0.0, 100), (22050, 2, 0.3, 30000)])]
    code = ("import sys, ogg_fuzz; c = ogg_fuzz.run(sys.argv[1:], 160); print(c); "
            "sys.exit(any(o not in ('ok', 'fallback') for _, o in c))")
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    proc = subprocess.run([sys.executable, "-c", code, *map(str, seeds)], capture_output=True, text=True,
                          env=env, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_load_reads_vorbis_natively_with_libsndfiles_samples(tmp_path, monkeypatch):
    import noisegen
    from noisegen.audio import io as io_module
    from noisegen.audio.segment import decode, read_segment
    from noisegen.audio.vorbis import VorbisFile

    path = _write(tmp_path / "x.ogg", 22050, 2, 0.4, 30011)
    ref, rate = sf.read(path, dtype="float32", always_2d=True)
    with io_module._open_native(path) as native:
        assert isinstance(native, VorbisFile) and native.frames == len(ref) and native.samplerate == rate
    reads = []
    original = VorbisFile.read
    monkeypatch.setattr(VorbisFile, "read", lambda self, *a: reads.append(a) or original(self, *a))
    for dtype in (np.float32, np.float64):
        y, sr = noisegen.load(path, dtype=dtype)
        assert sr == rate and y.dtype == dtype and y.shape == ref.T.shape
        assert np.abs(y - ref.T).max() <= TOLERANCE
    y, _ = noisegen.load(path, mono=True)
    assert np.abs(y - ref.mean(axis=1)).max() <= TOLERANCE
    assert len(reads) == 3
    # segments are read here too: the samples of the whole read
    seg = read_segment(path, duration_s=0.5, sample_rate=rate, mono=False)
    assert np.abs(seg - ref[:11025].T).max() <= TOLERANCE
    whole, _ = noisegen.load(path)
    seg = read_segment(path, offset_s=5000 / rate, duration_s=0.5, sample_rate=rate, mono=False)
    assert np.array_equal(seg, whole[:, 5000:16025])
    # bytes (a tar member)
    member = decode(path.read_bytes(), sample_rate=rate, mono=False)
    assert np.abs(member - ref.T).max() <= TOLERANCE


@pytest.mark.parametrize("sample_rate, channels", [(16000, 1), (22050, 2), (44100, 1)])
def test_a_segment_anywhere_is_the_whole_reads_samples(tmp_path, sample_rate, channels):
    """libsndfile 1.2's seek into an Ogg Vorbis file's last page lands up to a few hundred frames
    late (a manifest segment near a file's end started 355 samples late at 22.05 kHz, its labels
    misaligned, without a word). A segment is decoded here from the page before it: bit for bit
    the whole decode's samples, at every start (page ends and the frames either side of them
    included), in one read and in blocks (a long segment), and within libvorbis's rounding of
    libsndfile's whole read."""
    from noisegen.audio.blocks import FileBlocks
    from noisegen.audio.segment import read_segment
    from noisegen.audio.vorbis import VorbisFile

    path = _write(tmp_path / "x.ogg", sample_rate, channels, 0.3, 3 * sample_rate + 123)
    ref, _ = sf.read(path, dtype="float32", always_2d=True)
    native = VorbisFile.open(path)
    with native:
        stream = native._stream
    whole = stream.decode(stream.frames)
    granules = stream._packets[3]
    page_ends = (granules[granules != -1] - stream._offset).tolist()
    starts = {s + d for s in page_ends for d in (-1, 0, 1)} | set(range(0, stream.frames, 997))
    starts = sorted(s for s in starts if 0 <= s < stream.frames)
    assert len(page_ends) > 4 and stream.frames - 1 in starts or stream.frames - 2 in starts
    for start in starts:
        n = min(1500, stream.frames - start)
        assert np.array_equal(stream.decode_span(start, n), whole[start:start + n]), start
    for start in (starts[len(starts) // 2], page_ends[-2] + 1, stream.frames - 300):
        blocks = np.concatenate(list(stream.decode_blocks(stream.frames - start, 700, start)))
        assert np.array_equal(blocks, whole[start:]), start
        seg = read_segment(path, offset_s=start / sample_rate, sample_rate=sample_rate, mono=False)
        assert np.abs(seg.reshape(channels, -1) - ref[start:].T).max() <= TOLERANCE, start
        source = FileBlocks(path, sample_rate=sample_rate, offset_s=start / sample_rate, block_frames=700)
        read = np.concatenate([b.reshape(channels, -1) for b in source()], axis=1)
        assert np.array_equal(read, seg.reshape(channels, -1)), start


@pytest.mark.parametrize("sample_rate, channels, quality", [(16000, 1, 0.3), (22050, 2, 0.3), (44100, 2, 0.0)])
def test_a_segment_of_a_file_left_to_libsndfile_starts_where_asked(tmp_path, monkeypatch, sample_rate, channels,
                                                                    quality):
    """A file over MAX_BYTES (a long recording) is read by libsndfile, whose first seek into the
    last page lands late (by 5, 40 or 219 frames here, and on other samples yet in its last
    frames): a manifest segment at its end started late, without a word. A seek stops before the last two pages and
    decodes on: every start there, and the segment in blocks, gives the whole read's samples."""
    from noisegen.audio import vorbis
    from noisegen.audio.blocks import FileBlocks
    from noisegen.audio.segment import read_segment

    monkeypatch.setattr(vorbis, "MAX_BYTES", 0)  # as a file of more than 8 MB is read
    path = _write(tmp_path / "x.ogg", sample_rate, channels, quality, 3 * sample_rate + 123)
    ref = sf.read(path, dtype="float32", always_2d=True)[0].T
    n = ref.shape[1]
    data = path.read_bytes()
    ends = [int.from_bytes(data[at + 6:at + 14], "little") for at, _, _ in pages(data)][-4:]  # (granule 0 first)
    starts = sorted({s + d for s in ends for d in (-1, 0, 1)} | set(range(ends[0], n, 61)))
    for start in (s for s in starts if 0 <= s < n):
        for length in (1, 300, n - start):
            seg = read_segment(path, offset_s=start / sample_rate, duration_s=length / sample_rate,
                               sample_rate=sample_rate, mono=False).reshape(channels, -1)
            assert np.array_equal(seg, ref[:, start:start + length]), (start, length)
    for start in (ends[-2] + 700, n - 300):
        source = FileBlocks(path, sample_rate=sample_rate, offset_s=start / sample_rate, block_frames=100)
        assert np.array_equal(np.concatenate([b.reshape(channels, -1) for b in source()], axis=1), ref[:, start:])


def test_load_of_a_damaged_vorbis_file_is_libsndfiles(tmp_path):
    import noisegen

    data = _sample(tmp_path)
    damaged = tmp_path / "damaged.ogg"
    damaged.write_bytes(fix_crcs(data[:3000] + bytes([data[3000] ^ 0x10]) + data[3001:]))  # inside the setup
    try:
        ref, _ = sf.read(damaged, dtype="float32", always_2d=True)
    except Exception:  # noqa: BLE001 - libsndfile refuses it: so must load
        with pytest.raises(Exception):
            noisegen.load(damaged)
        return
    y, _ = noisegen.load(damaged)
    assert y.shape == ref.T.shape and np.allclose(y, ref.T, atol=TOLERANCE)


def test_what_is_decoded_here_depends_on_the_file_alone(tmp_path, monkeypatch):
    """A file is decoded here or by libsndfile by what it is, never by what was read before (a
    policy that left a short file with a new setup header to libsndfile once made an augment
    replay differ from its run in one sample's last bit); over MAX_BYTES, and for header-only
    opens, libsndfile."""
    from noisegen.audio import io as io_module
    from noisegen.audio import vorbis

    monkeypatch.setattr(vorbis, "_SETUPS", {})
    short = [_write(tmp_path / f"s{i}.ogg", 16000, 1, 0.4, 8000 + 37 * i) for i in range(3)]
    for p in short:
        with io_module._open_native(p) as native:  # the first of a setup too
            assert isinstance(native, vorbis.VorbisFile)
            ref, _ = sf.read(p, dtype="float32", always_2d=True)
            assert np.abs(native.read(0, native.frames, np.float32) - ref).max() <= TOLERANCE
    assert io_module._open_native(short[0], header_only=True) is None
    monkeypatch.setattr(vorbis, "MAX_BYTES", short[0].stat().st_size - 1)
    assert io_module._open_native(short[0]) is None


def _ordered_books_setup(books):
    """A setup header of one-dimensional "ordered" codebooks, each ``(first code length, runs)``
    (the lengths grow by one a run), and nothing after them: a few bytes a book, however many entries."""
    bits, n = 0, 0

    def put(value, width):
        nonlocal bits, n
        bits |= (value & ((1 << width) - 1)) << n
        n += width

    put(len(books) - 1, 8)
    for first, runs in books:
        put(0x564342, 24), put(1, 16), put(sum(runs), 24), put(1, 1), put(first - 1, 5)
        left = sum(runs)
        for run in runs:
            put(run, left.bit_length())
            left -= run
        put(0, 4)
    return b"\x05vorbis" + bits.to_bytes((n + 7) // 8, "little") + bytes(4)


def test_setup_declaring_millions_of_codebook_entries_is_left_to_libsndfile(tmp_path):
    """An "ordered" codebook declares millions of entries in a few bytes; their tables cost ~70
    bytes an entry (16 such books: 3.9 GB and MemoryError from a 746-byte file, 256 of them: 100 GB).
    A setup of more than MAX_SETUP_ENTRIES entries in all is refused before any table is made, so
    load reads (here: refuses) the file as libsndfile does."""
    import noisegen
    from noisegen.audio.vorbis_setup import MAX_SETUP_ENTRIES, parse_setup

    big = (22, [1 << 21, 1 << 22])  # complete codes: 2**21 of 22 bits and 2**22 of 23
    half = (19, [1 << 19])  # 2**19 codes of 19 bits: two make the cap
    small = (2, [2, 4])
    for books in ([big], [big] * 16, [half] * 3, [small, half, half]):
        with pytest.raises(VorbisUnsupported, match=f"over {MAX_SETUP_ENTRIES} entries in all"):
            parse_setup(_ordered_books_setup(books), 1)
    assert 2 * (1 << 19) == MAX_SETUP_ENTRIES
    for books in ([small], [half, half]):  # within the cap: the books are made, the setup then ends early
        with pytest.raises(VorbisUnsupported, match="ends"):
            parse_setup(_ordered_books_setup(books), 1)
    stream = packets(_sample(tmp_path))
    path = tmp_path / "books.ogg"
    path.write_bytes(one_page_each(stream[:2] + [_ordered_books_setup([big] * 16)] + stream[3:],
                                   [0, 0, 0] + [-1] * (len(stream) - 4) + [16037]))
    with pytest.raises(Exception) as libsndfile:
        sf.read(path)
    with pytest.raises(noisegen.NoisegenError) as ours:
        noisegen.load(path)
    assert "books.ogg" in str(ours.value), (libsndfile.value, ours.value)


def test_granule_positions_out_of_spec_read_as_libsndfile_reads_them(tmp_path):
    """A page that ends packets without a granule position (-1), or a page before the last whose
    position is not the samples before it (CRCs fixed: damage or a broken muxer), is left to
    libsndfile: load gives its frames, and info agrees (libvorbis believes such a position, and
    libsndfile's count of the stream then differs from a count of the packets: 304,655 frames
    against its 306,560 for a 14 s file with one position, half way)."""
    import noisegen
    from noisegen.audio import io as io_module
    from noisegen.audio.vorbis import VorbisFile

    path = _write(tmp_path / "x.ogg", 16000, 1, 0.3, 5 * 16000 + 37)
    data = path.read_bytes()
    stream = packets(data)
    halfway = 3 + (len(stream) - 4) // 2
    cases = {"one position half way": one_page_each(stream, [0, 0, 0] + [-1] * (halfway - 3) + [40000]
                                                     + [-1] * (len(stream) - halfway - 2) + [5 * 16000 + 37])}
    audio_pages = [(at, head, body) for at, head, body in pages(data)][2:-1]
    assert len(audio_pages) >= 4
    for shift in (-1000, -1, 1, 1000):
        at = audio_pages[len(audio_pages) // 2][0]
        moved = bytearray(data)
        g = int.from_bytes(moved[at + 6:at + 14], "little", signed=True)
        moved[at + 6:at + 14] = (g + shift).to_bytes(8, "little", signed=True)
        cases[f"a position moved by {shift}"] = fix_crcs(bytes(moved))
    for what, damaged in cases.items():
        p = tmp_path / "damaged.ogg"
        p.write_bytes(damaged)
        ref, _ = sf.read(p, dtype="float32", always_2d=True)
        native = io_module._open_native(p)
        if native is not None:  # (the page table is read lazily: the decode declines)
            with native:
                assert native.read(0, native.frames, np.float32) is None, what
        y, _ = noisegen.load(p)
        assert y.shape == (len(ref),) and np.array_equal(y, ref[:, 0]), what
        assert noisegen.info(p).frames == len(ref), what
    assert VorbisFile.open(path) is not None  # the undamaged file is read here



def _with_comment(data: bytes, comment: bytes) -> bytes:
    """The Ogg Vorbis file ``data`` with ``comment`` for its comment header (on the page it shares with the
    setup header, as libvorbis writes them)."""
    _, (at, head, body), *_ = pages(data)
    stream = packets(data)
    assert body == len(stream[1]) + len(stream[2])
    laces = [n for p in (comment, stream[2]) for n in [255] * (len(p) // 255) + [len(p) % 255]]
    page = data[at:at + 26] + bytes([len(laces)]) + bytes(laces) + comment + stream[2]
    return fix_crcs(data[:at] + page + data[at + head + body:])


def test_a_comment_header_libvorbis_refuses_reads_as_libsndfile_reads_it(tmp_path):
    """A tagger's comment header without its framing bit, or with a length past its end: libvorbis
    refuses it and libsndfile reads no frame (from a header count of the file), where load decoded
    every frame, so that load, info (0 frames) and a long file's blocks (the header's count) gave
    three lengths. Such a file is left to libsndfile; one libvorbis takes is still read here."""
    import noisegen
    from noisegen.audio.vorbis import VorbisFile

    path = _write(tmp_path / "x.ogg", 16000, 2, 0.3, 20000)
    data = path.read_bytes()

    def comment(*items, vendor=b"Lavf60", count=None, framing=b"\x01"):
        out = b"\x03vorbis" + len(vendor).to_bytes(4, "little") + vendor
        out += (len(items) if count is None else count).to_bytes(4, "little")
        return out + b"".join(len(i).to_bytes(4, "little") + i for i in items) + framing

    taken = [comment(b"TITLE=x", b"", b"NO_EQUALS"), comment(b"COVERART=" + b"A" * 30000), comment(framing=b"\x03"),
             comment(b"A=b", framing=b"\x01junk")]
    refused = [comment(b"TITLE=x", framing=b""), comment(b"TITLE=x", framing=b"\x00"), comment(count=1 << 20),
               comment(b"TITLE=x")[:-12] + (1 << 31).to_bytes(4, "little") + b"TITLE=x\x01",
               b"\x03vorbis" + (60).to_bytes(4, "little") + b"Lavf60" + bytes(4) + b"\x01"]
    for i, c in enumerate(taken + refused):
        path.write_bytes(_with_comment(data, c))
        ref, _ = sf.read(path, dtype="float32", always_2d=True)
        y, _ = noisegen.load(path)
        assert y.shape == ref.T.shape and np.abs(y - ref.T).max(initial=0) <= TOLERANCE, i
        assert noisegen.info(path).frames == y.shape[-1], i
        native = VorbisFile.open(path)
        if native is not None:
            native.close()
        assert (native is not None) == (i < len(taken)) == (len(ref) > 0), i


def test_a_damaged_page_gives_one_length_to_load_info_and_the_stream(tmp_path):
    """libsndfile's Ogg reader stops a read at a damaged page and goes on at the next; where its reads
    end moves where it stops, so load (one read), info (blocks) and the stream disagreed on a file's
    length, and load dropped the audio after the damage without a word."""
    import warnings

    import noisegen
    from noisegen.audio.claims import OGG_READ_FRAMES

    clean = tmp_path / "clean.ogg"
    sf.write(clean, np.random.default_rng(1).normal(0, 0.2, (88200, 2)).clip(-1, 1), 44100, format="OGG",
             subtype="VORBIS")
    data = clean.read_bytes()
    holes = 0
    for pos in range(len(data) // 3, len(data) - 100, 997):
        path = tmp_path / f"damaged{pos}.ogg"
        path.write_bytes(data[:pos] + bytes([data[pos] ^ 0x10]) + data[pos + 1:])
        with sf.SoundFile(path) as f:  # in the readers' reads (65,536 frames), each after a short one too
            reads = [f.read(n).shape[0] for n in (OGG_READ_FRAMES, 88200 - OGG_READ_FRAMES, 88200, 88200)]
        first = reads[0] if reads[0] < OGG_READ_FRAMES else sum(reads[:2])
        hole = first < 88200 and sum(reads) > first
        holes += hole
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y, rate = noisegen.load(path, mono=False)
        said = [str(w.message) for w in caught if "is damaged" in str(w.message)]
        assert (len(said) > 0) == hole and all(str(path) in s for s in said)
        if hole:
            assert y.shape[-1] > first  # read on past the damage
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chunks = list(noisegen.AugmentStream([str(path)], None, sample_rate=rate, chunk_s=0.25, mono=False))
            assert noisegen.info(path).frames == y.shape[-1] == sum(c.length for c in chunks)
            assert np.array_equal(np.concatenate([c.samples[:, :c.length] for c in chunks], axis=1), y)
    assert holes >= 3  # the damage this test is about was met


def test_files_of_more_setups_than_kept_load_from_threads(tmp_path, monkeypatch):
    # Kept setups were dropped oldest first with _SETUPS.pop(next(iter(_SETUPS))): two threads took
    # the same oldest key and the second pop raised KeyError from noisegen.load (about 1 load in 24,000
    # over 500 files of 64+ setups in four threads). A pause in finding the oldest widens that moment.
    import threading
    import time

    import noisegen
    from noisegen.audio import vorbis

    class SlowToIterate(dict):
        def __iter__(self):  # the keys as they are now, handed out a moment later
            keys = list(super().__iter__())
            time.sleep(0.002)
            return iter(keys)

    paths = [_write(tmp_path / f"{rate}-{ch}.ogg", rate, ch, 0.4, 3000) for rate in (8000, 16000, 44100)
             for ch in (1, 2)]
    want = [sf.read(p, dtype="float32")[0].T for p in paths]
    monkeypatch.setattr(vorbis, "_SETUPS", SlowToIterate())
    monkeypatch.setattr(vorbis, "_SETUPS_MAX", 2)
    barrier, bad = threading.Barrier(4), []

    def run(seed):
        order = np.random.default_rng(seed).integers(0, len(paths), 40)
        barrier.wait()
        for i in order:
            try:
                got = noisegen.load(paths[i])[0]
            except Exception as exc:
                bad.append(exc)
                continue
            if np.abs(got - want[i]).max() > TOLERANCE:
                bad.append(("differs", i))

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad
    assert len(vorbis._SETUPS) <= 2 + 4  # (each thread adds at most one past the bound)


def test_a_rate_libsndfiles_int_cannot_hold_is_refused_as_libsndfile_refuses_it(tmp_path):
    """An identification header's 32-bit rate of 2**31 or more: libsndfile refuses the file (its
    int rate), and so did segment_span and the stream's plan, while load decoded it here and gave
    a rate of 4294967295 Hz. Rates below read as libsndfile reads them, everywhere."""
    import noisegen
    from noisegen.audio.segment import segment_span

    data = _write(tmp_path / "x.ogg", 16000, 1, 0.3, 3000).read_bytes()
    at = data.find(b"\x01vorbis") + 12  # version (4 bytes), channels (1), then the rate
    path = tmp_path / "rate.ogg"
    for rate in (1, 12345, (1 << 31) - 1, 1 << 31, (1 << 31) + 16000, (1 << 32) - 1):
        path.write_bytes(fix_crcs(data[:at] + rate.to_bytes(4, "little") + data[at + 4:]))
        try:
            want = sf.info(path).samplerate
        except sf.LibsndfileError:
            for call in (noisegen.load, noisegen.info, segment_span):
                with pytest.raises(noisegen.NoisegenError, match="rate.ogg"):
                    call(path)
            continue
        y, got = noisegen.load(path)
        assert got == want == rate and y.shape == (3000,)
        assert segment_span(path) == (0, 3000, rate)
        assert noisegen.info(path).sample_rate == rate


@pytest.mark.filterwarnings("error::noisegen.NoisegenWarning")
def test_a_chained_file_says_that_only_its_first_stream_is_read(tmp_path):
    """Ogg files joined end to end (cat a.ogg b.ogg: a chained file) read as libsndfile reads them,
    the first stream alone: the second's audio was lost without a word (load, read_segment, info,
    a long file's blocks, a tar member's bytes, a stream's item). Each now says so; a single stream
    says nothing."""
    import noisegen
    from noisegen.audio.blocks import FileBlocks
    from noisegen.audio.ogg_links import ogg_links
    from noisegen.audio.segment import decode, read_segment

    one = _write(tmp_path / "one.ogg", 8000, 1, 0.4, 4000)
    other = _write(tmp_path / "other.ogg", 8000, 1, 0.4, 3000, seed=1)
    chained = tmp_path / "chained.ogg"
    chained.write_bytes(one.read_bytes() + other.read_bytes())
    assert (ogg_links(one), ogg_links(chained), ogg_links(tmp_path / "none.ogg")) == (1, 2, 0)
    for read in (noisegen.load, noisegen.info):  # (no warning)
        read(one)
    reads = [lambda: noisegen.load(chained), lambda: read_segment(chained, sample_rate=16000, offset_s=0.1),
             lambda: noisegen.info(chained), lambda: list(FileBlocks(chained, sample_rate=16000)()),
             lambda: decode(chained.read_bytes(), sample_rate=16000, name="member chained.ogg"),
             lambda: list(noisegen.AugmentStream([chained], None, sample_rate=8000))]
    for read in reads:
        with pytest.warns(noisegen.NoisegenWarning, match="chained Ogg file, 2 streams joined end to end: only the first"):
            got = read()
    assert np.array_equal(got[0].samples, sf.read(one, dtype="float32")[0])  # the first stream, libsndfile's


_SEEK_CHILD = """
import sys
import noisegen
from noisegen.audio.blocks import FileBlocks
from noisegen.audio.segment import read_segment
path = sys.argv[1]
for offset_s, duration_s in ((0.25, 0.1), (1.0, None)):
    read_segment(path, offset_s=offset_s, duration_s=duration_s, sample_rate=16000)
    try:
        list(FileBlocks(path, sample_rate=16000, offset_s=offset_s, duration_s=duration_s)())
    except noisegen.NoisegenError:
        pass
print("ok")
"""


def _overfull(tmp_path):
    """A 3 s Ogg Vorbis file whose setup header's first codebook is over-full (its CRC fixed)."""
    d = bytearray(_write(tmp_path / "clean.ogg", 16000, 1, 0.5, 48000).read_bytes())
    c = d.index(b"\x05vorbis") + 8  # the first codebook: 'BCV', dimensions, entries, then its flags
    assert d[c:c + 3] == b"BCV" and int.from_bytes(d[c + 5:c + 8], "little") >= 3
    d[c + 8] = d[c + 9] = 0  # not ordered, not sparse (bits 0, 1); lengths of 1 (5 bits of 0 each) ...
    d[c + 10] &= 0xFE  # ... for the first three entries (bits 2-16)
    path = tmp_path / "overfull.ogg"
    path.write_bytes(fix_crcs(bytes(d)))
    return path


def test_a_segment_of_a_file_whose_codebook_libvorbis_refuses_does_not_crash(tmp_path):
    """A setup header whose first codebook is over-full (its CRC fixed): libvorbis's decoder never
    starts, libsndfile reads no frame of the 48,000 its header counts, and its seek killed the process
    (SIGSEGV) in read_segment and FileBlocks with an offset. Such a file is read from its first frame."""
    path = _overfull(tmp_path)
    assert sf.info(path).frames == 48000 and len(sf.read(path)[0]) == 0
    with pytest.raises(VorbisUnsupported, match="over-full"):
        decode_vorbis(path.read_bytes())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", _SEEK_CHILD, str(path)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", (run.returncode, run.stderr[-2000:])


def test_a_file_libsndfile_reads_is_opened_afresh_once_to_see_that_it_decodes(tmp_path, monkeypatch):
    """Before a seek, an Ogg Vorbis file libsndfile reads is asked whether it decodes at all (a fresh handle
    and one frame: its seek crashed on a setup libvorbis refuses): asked for every segment, that cost 0.6-1
    ms of each 10-20 ms read of a 4 s segment of a long file. It is asked once per path, size and mtime."""
    import warnings

    from noisegen.audio.segment import read_segment

    path = _overfull(tmp_path)
    opened = []

    class Counted(sf.SoundFile):
        def __init__(self, *args, **kw):
            opened.append(args[0])
            super().__init__(*args, **kw)

    monkeypatch.setattr(sf, "SoundFile", Counted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for offset_s in (0.25, 0.5, 1.0, 2.0):
            assert read_segment(path, offset_s=offset_s, duration_s=0.1, sample_rate=16000).shape == (0,)
    assert len(opened) == 4 + 1, opened  # one open a segment, and one to see whether it decodes


def test_codebook_floats_clamp_their_exponent_as_libvorbis_does():
    """A codebook's minimum and delta (VQ lookups) are libvorbis's packed floats: 21 bits of mantissa,
    a sign, a 10-bit exponent biased by 788. libvorbis (sharedbook.c, _float32_unpack) clamps the
    exponent to +-63; unclamped, a damaged setup's exponent up to 235 was inf here (numpy's overflow
    warning, then NaN samples: 15,306 of 15,434 in one fuzzed file libsndfile reads finite)."""
    import warnings

    from noisegen.audio.vorbis_setup import _float32_unpack

    for exp in (0, 1, 700, 724, 725, 788, 851, 852, 900, 1023):
        for mant in (0, 1, 0x1FFFFF):
            for sign in (0, 1):
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    got = _float32_unpack(sign << 31 | exp << 21 | mant)
                want = float(np.float32((-1) ** sign * mant * 2.0 ** min(max(exp - 788, -63), 63)))
                assert got == want and np.isfinite(got), (exp, mant, sign)


def test_an_ogg_file_that_decodes_short_of_its_header_says_so(tmp_path):
    """The file above read as nothing, without a word: load gave 0 of the 48,000 frames its header
    promises, read_segment 0 samples of a segment it promised. Both warn now, naming the file."""
    import noisegen
    from noisegen.audio.segment import decode, read_segment

    path = _overfull(tmp_path)
    reads = [lambda: noisegen.load(path)[0], lambda: read_segment(path, sample_rate=16000, offset_s=0.25, duration_s=0.1),
             lambda: decode(path.read_bytes(), sample_rate=16000, name="member overfull.ogg")]
    for read in reads:
        # (a member's warning said 'audio bytes', whichever member of which shard it was: it names the member)
        with pytest.warns(noisegen.NoisegenWarning, match=r"'(.*overfull\.ogg)' decodes to frame 0 of the "
                          r"\d+ its header promises"):
            assert read().shape[-1] == 0
    with pytest.warns(noisegen.NoisegenWarning, match=r"decodes to frame 0 of the 48000"):
        assert noisegen.info(path).frames == 0
