"""AugmentStream: determinism, sharding, resume, chunking, bad files."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
import soundfile as sf

import noisegen
from noisegen import AugmentStream, Batch, Chunk, NoisegenWarning, ParameterError
from noisegen.transforms import AddColoredNoise, Compose, Gain, TimeMask, TimeStretch

SR = 16000


def _wav_bytes(y, sr=SR):
    import io

    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def pipeline():
    return Compose([AddColoredNoise(min_snr_db=5, max_snr_db=20, p=0.7), TimeMask(p=0.5), Gain(p=1.0)])


def signature(chunks):
    """Multiset of (source, start, length, sample hash) — what must not depend on sharding."""
    return collections.Counter(
        (c.source, int(c.start), int(c.length), hashlib.sha1(np.ascontiguousarray(c.samples).tobytes()).hexdigest())
        for c in chunks
    )


def sequence(chunks):
    return [(c.source, c.start, c.length, c.samples.tobytes()) for c in chunks]


@pytest.fixture()
def corpus(tmp_path, data_dir):
    """The bundled speech plus a 22.05 kHz copy in a sub-folder (resampled on read)."""
    root = tmp_path / "corpus"
    shutil.copytree(data_dir / "speech", root)
    y, sr = sf.read(data_dir / "speech" / "one_6f1ffef6_nohash_0.wav")
    (root / "sub").mkdir()
    from scipy.signal import resample_poly

    sf.write(root / "sub" / "resampled.flac", resample_poly(y, 441, 320), 22050)
    return root


def test_same_rng_same_chunks_different_rng_different(corpus):
    a = list(AugmentStream(corpus, pipeline(), sample_rate=SR, chunk_s=0.5, rng=3, epochs=2))
    b = list(AugmentStream(corpus, pipeline(), sample_rate=SR, chunk_s=0.5, rng=3, epochs=2))
    assert len(a) > 20
    assert sequence(a) == sequence(b)
    assert [c.params for c in a] == [c.params for c in b]
    c = list(AugmentStream(corpus, pipeline(), sample_rate=SR, chunk_s=0.5, rng=4, epochs=2))
    assert signature(a) != signature(c)
    # same items and chunk positions, different augmentation
    assert {(x.source, x.start) for x in a} == {(x.source, x.start) for x in c}
    # epochs differ from each other (order and augmentation)
    first = [x for x in a if x.epoch == 0]
    second = [x for x in a if x.epoch == 1]
    assert signature(first) != signature(second)
    assert {x.source for x in first} == {x.source for x in second} and len({x.source for x in first}) == 5


def test_shards_partition_the_epoch(corpus):
    single = list(AugmentStream(corpus, pipeline(), sample_rate=SR, chunk_s=0.4, rng=0, epochs=2))
    for world in (2, 3):
        shards = [
            list(AugmentStream(corpus, pipeline(), sample_rate=SR, chunk_s=0.4, rng=0, epochs=2, rank=r,
                               world_size=world))
            for r in range(world)
        ]
        merged = sum((signature(s) for s in shards), collections.Counter())
        assert merged == signature(single)
        # each item of an epoch belongs to exactly one rank
        owners = [{(c.epoch, c.item) for c in s} for s in shards]
        assert sum(len(o) for o in owners) == len(set().union(*owners)) == 10


def test_chunking_padding_and_hop():
    y = np.arange(1, 2501, dtype=np.float32) / 2500
    chunks = list(AugmentStream([y], None, sample_rate=1000, chunk_s=1.0, rng=0, shuffle=False))
    assert [(c.start, c.length) for c in chunks] == [(0, 1000), (1000, 1000), (2000, 500)]
    assert all(c.samples.shape == (1000,) and c.samples.dtype == np.float32 for c in chunks)
    assert np.array_equal(chunks[2].samples[:500], y[2000:]) and not chunks[2].samples[500:].any()
    hopped = list(AugmentStream([y], None, sample_rate=1000, chunk_s=1.0, hop_s=0.75, rng=0, shuffle=False))
    assert [(c.start, c.length) for c in hopped] == [(0, 1000), (750, 1000), (1500, 1000)]  # 1500+1000 covers the end
    hopped = list(AugmentStream([np.ones(2600, np.float32)], None, sample_rate=1000, chunk_s=1.0, hop_s=0.75, rng=0))
    assert [(c.start, c.length) for c in hopped] == [(0, 1000), (750, 1000), (1500, 1000), (2250, 350)]
    whole = list(AugmentStream([y, y[:10]], None, sample_rate=1000, rng=0, shuffle=False))
    assert [(c.source, c.length, c.samples.shape) for c in whole] == [("array:0", 2500, (2500,)), ("array:1", 10, (10,))]


def test_chunk_starts_are_the_stepped_starts_without_a_list():
    """chunk_starts is a range (no list of every start: a one-sample hop over a long item held
    ~40 bytes per chunk, 4.6 GB for a two-hour file, before the first chunk), with the starts the
    stepping rule gives and the count len(stream) counts."""
    from noisegen.data.batch import chunk_starts
    from noisegen.data.length import chunks_per_item

    def stepped(n, size, hop):  # the rule: 0, hop, 2 hop, ... until one reaches the end
        if n == 0:
            return []
        if size is None:
            return [0]
        starts = [0]
        while starts[-1] + size < n and starts[-1] + hop < n:
            starts.append(starts[-1] + hop)
        return starts

    for n in range(0, 40):
        for size in (None, 1, 2, 3, 5, 8, 13):
            for hop in ((None,) if size is None else (1, 2, 3, 5, 8, 13, 21)):
                starts = chunk_starts(n, size, hop)
                assert isinstance(starts, range)
                assert list(starts) == stepped(n, size, hop), (n, size, hop)
                assert len(starts) == chunks_per_item([n], size, hop)[0]
    starts = chunk_starts(115_200_000, 32_000, 1)  # 2 h at 16 kHz, a one-sample hop
    assert isinstance(starts, range) and len(starts) == 115_168_001 and starts[-1] == 115_168_000


def test_a_one_sample_hop_streams_without_listing_every_chunk():
    """The first chunk of an item cut with a one-sample hop comes without a per-chunk allocation."""
    import tracemalloc

    y = np.zeros(2_000_000, dtype=np.float32)
    stream = AugmentStream([y], None, sample_rate=16000, chunk_s=0.01, hop_s=1 / 16000, shuffle=False)
    assert len(stream) == 2_000_000 - 160 + 1
    tracemalloc.start()
    try:
        it = iter(stream)
        first = next(it)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first.start == 0 and next(it).start == 1
    assert peak < 16 << 20  # a list of the starts: ~80 MB


def test_batches_pad_and_record_lengths():
    arrays = [np.ones(n, dtype=np.float64) for n in (300, 1000, 50)]
    stream = AugmentStream(arrays, None, sample_rate=1000, rng=0, shuffle=False)
    batches = list(stream.batches(2))
    assert [b.samples.shape for b in batches] == [(2, 1000), (1, 50)]
    assert isinstance(batches[0], Batch) and isinstance(batches[0].chunks[0], Chunk)
    assert batches[0].samples.dtype == np.float32 and batches[0].lengths.tolist() == [300, 1000]
    assert batches[0].samples[0, :300].all() and not batches[0].samples[0, 300:].any()
    assert len(list(AugmentStream(arrays, None, sample_rate=1000, rng=0, shuffle=False).batches(2, drop_last=True))) == 1


@pytest.mark.parametrize("cut", [1, 7, 13])
def test_resume_mid_epoch_equals_uninterrupted(corpus, cut):
    make = lambda: AugmentStream(corpus, pipeline(), sample_rate=SR, chunk_s=0.3, rng=11, epochs=2)  # noqa: E731
    full = sequence(make())
    first = make()
    it = iter(first)
    head = [next(it) for _ in range(cut)]
    state = first.state_dict()
    rest_stream = make()
    rest_stream.load_state_dict(dict(state))
    rest = sequence(rest_stream)
    assert sequence(head) + rest == full


def test_resume_between_batches(corpus):
    make = lambda: AugmentStream(corpus, pipeline(), sample_rate=SR, chunk_s=0.5, rng=5)  # noqa: E731
    full = [b.samples.tobytes() for b in make().batches(4)]
    first = make()
    gen = first.batches(4)
    head = [next(gen).samples.tobytes() for _ in range(2)]
    resumed = make()
    resumed.load_state_dict(first.state_dict())
    assert head + [b.samples.tobytes() for b in resumed.batches(4)] == full


def test_resume_after_every_batch_of_every_pass():
    # A state taken while the last, partial batch of a pass was out said the pass had ended: a training
    # loop resumed from it went on with a whole next pass where the interrupted one had nothing left,
    # then every later pass came one pass late (with a full last batch it resumed in the pass, correctly).
    arrays = [np.random.default_rng(i).standard_normal(300 + 170 * i).astype(np.float32) for i in range(5)]

    def make():
        return AugmentStream(arrays, TimeStretch(p=1.0), sample_rate=1000, chunk_s=0.1, rng=4, epochs=2)

    def run(stream, passes, cut=None):  # each pass's batches as (epoch, item, start) triples
        out = []
        for p in range(passes):
            out.append([])
            for k, b in enumerate(stream.batches(batch_size, drop_last=drop_last)):
                out[-1].append([(c.epoch, c.item, c.start) for c in b.chunks])
                if (p, k) == cut:
                    return out, stream.state_dict()
        return out, None

    for batch_size in (1, 3, 4, 5):
        for drop_last in (False, True):
            whole, _ = run(make(), 3)
            assert whole[1] and whole[1][-1][0][0] == 3  # the second pass runs epochs 2 and 3
            for p in range(2):
                for k in range(len(whole[p])):
                    head, state = run(make(), 3, cut=(p, k))
                    resumed = make()
                    resumed.load_state_dict(state)
                    rest, _ = run(resumed, 3 - p)  # the loop goes on with the pass it was cut in
                    assert head[:-1] + [head[-1] + rest[0]] + rest[1:] == whole, (batch_size, drop_last, p, k)


def test_rng_none_resumes_through_state():
    arrays = [np.random.default_rng(i).standard_normal(800).astype(np.float32) for i in range(6)]
    t = Gain(p=1.0)
    a = AugmentStream(arrays, t, sample_rate=1000, chunk_s=0.25, rng=None)
    state = a.state_dict()
    full = sequence(a)
    b = AugmentStream(arrays, t, sample_rate=1000, chunk_s=0.25, rng=None)
    b.load_state_dict(state)
    assert sequence(b) == full
    with pytest.raises(ParameterError):
        b.load_state_dict({"epoch": 0})
    with pytest.raises(ParameterError):
        AugmentStream(arrays[:3], t, sample_rate=1000).load_state_dict(state)


def test_bad_files_reported_once_and_skipped(tmp_path, data_dir):
    root = tmp_path / "corpus"
    shutil.copytree(data_dir / "speech", root)
    (root / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    sf.write(root / "empty.wav", np.zeros(0), SR)
    stream = AugmentStream(root, None, sample_rate=SR, chunk_s=1.0, rng=0, epochs=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(stream)
    messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    assert len(messages) == 2
    assert sum("corrupt.wav" in m for m in messages) == 1 and sum("empty.wav" in m for m in messages) == 1
    sources = {c.source for c in chunks}
    assert len(sources) == 4 and not any("corrupt" in s or "empty" in s for s in sources)
    assert {c.epoch for c in chunks} == {0, 1, 2}



@pytest.mark.parametrize("chunk_s", [None, 0.5])
def test_a_rate_beyond_resampling_is_skipped_and_not_counted(tmp_path, chunk_s):
    """A file (or array pair) at 8 Hz cannot be resampled to 16 kHz (a ratio beyond 256): len() counted it
    from its header although it yields nothing; a long one (100 s at 1 Hz) took the blockwise path and
    was reported as 'stopped after 0 chunk(s)'. Now it counts nothing and is named once."""
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "ok.wav", 0.1 * rng.standard_normal(SR // 2), SR)
    sf.write(tmp_path / "r8.wav", 0.1 * rng.standard_normal(80), 8)
    sf.write(tmp_path / "r1.wav", 0.1 * rng.standard_normal(100), 1)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"audio_filepath": "r8.wav"}\n{"audio_filepath": "ok.wav"}\n')
    pair = [(np.ones(80, dtype=np.float32), 8), np.ones(SR // 2, dtype=np.float32)]
    for source in (tmp_path, manifest, pair):
        stream = AugmentStream(source, Gain(p=1.0), sample_rate=SR, chunk_s=chunk_s, rng=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            n, chunks = len(stream), list(stream)
        assert n == len(chunks) == 1 and chunks[0].source.endswith(("ok.wav", "array:1"))
        messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
        assert len(messages) == len(stream._items) - 1 and all("256" in m for m in messages)
        assert not any("stopped after" in m for m in messages)


@pytest.mark.parametrize("file_rate, rate", [(384000, 1000), (1000, 384000), (48000, 187)])
@pytest.mark.parametrize("chunk_s", [None, 0.5])
def test_a_rate_beyond_resampling_is_named_by_the_items_rate_before_it_is_decoded(tmp_path, monkeypatch, file_rate,
                                                                                  rate, chunk_s):
    """Files, manifest rows, tar members and (array, rate) pairs more than 256x from the stream's rate were
    skipped with resample's refusal ('target_sample_rate / orig_sample_rate must be in [1/256, 256], got ...;
    resample in two steps'), arguments the user never gave; a whole file (chunk_s=None) was decoded first.
    They are now named by their own rate and the rates they can go to, from the header (as load and banks)."""
    import io
    import tarfile

    from noisegen.audio import segment

    rng = np.random.default_rng(0)
    far = 0.1 * rng.standard_normal(file_rate // 10)
    sf.write(tmp_path / "far.wav", far, file_rate)
    sf.write(tmp_path / "far.flac", far, file_rate)
    sf.write(tmp_path / "ok.wav", 0.1 * rng.standard_normal(rate), rate)
    (tmp_path / "m.jsonl").write_text('{"audio_filepath": "far.flac", "offset": 0.01, "duration": 0.05}\n'
                                      '{"audio_filepath": "ok.wav"}\n')
    with tarfile.open(tmp_path / "s.tar", "w") as tf:
        for name, data in (("far.flac", (tmp_path / "far.flac").read_bytes()), ("ok.wav", (tmp_path / "ok.wav").read_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    decoded = []
    to_stream = segment._to_stream
    monkeypatch.setattr(segment, "_to_stream", lambda frames, *a: decoded.append(frames.shape) or to_stream(frames, *a))
    ok = np.ones(rate, np.float32)
    sources = [[str(tmp_path / "far.wav"), str(tmp_path / "ok.wav")], [str(tmp_path / "far.flac"), str(tmp_path / "ok.wav")],
               str(tmp_path / "m.jsonl"), str(tmp_path / "s.tar"), [(far, file_rate), ok],
               [{"array": far, "sampling_rate": file_rate}, {"array": ok, "sampling_rate": rate}]]
    for source in sources:
        stream = AugmentStream(source, Gain(p=1.0), sample_rate=rate, chunk_s=chunk_s, rng=0, shuffle=False)
        decoded.clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            n, chunks = len(stream), list(stream)
        assert n == len(chunks) >= 1 and all(c.item == 1 for c in chunks), source
        messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
        assert len(messages) == 1, (source, messages)
        low, high = -(-file_rate // 256), min(file_rate * 256, 768000)
        assert f"is at {file_rate} Hz, too far from {rate} Hz" in messages[0], messages[0]
        assert f"[{low}, {high}]" in messages[0] and "target_sample_rate" not in messages[0], messages[0]
        assert all(shape[0] != len(far) for shape in decoded), (source, decoded)  # nothing of it was decoded


def test_ragged_array_items_are_skipped_not_a_crash():
    """An item numpy cannot make one array of (a 3-tuple, a ragged list) crashed len(stream) with a raw
    ValueError; it is now a bad item like any other: counted as nothing, named once and skipped."""
    good = np.ones(150, dtype=np.float32)
    arrays = [(np.ones(50), 100, 3), good, [np.ones(3), np.ones(4)]]
    for source in (arrays, iter(arrays)):
        stream = AugmentStream(source, Gain(p=1.0), sample_rate=100, chunk_s=1.0, rng=0, shuffle=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if isinstance(source, list):
                assert len(stream) == 2
            chunks = list(stream)
        assert [(c.source, c.length) for c in chunks] == [("array:1", 100), ("array:1", 50)]
        messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
        assert len(messages) == 2 and all("must be a float array" in m for m in messages)


@pytest.mark.parametrize("n_bad", [0, 1, 19, 20, 21, 57])
def test_skipped_items_are_named_up_to_a_limit_then_counted(tmp_path, n_bad):
    """A manifest whose files were mostly missing printed one warning a row (50,000 missing files:
    50,000 warnings). The first REPORT_LIMIT are named, one more says the rest go unnamed, and
    ``stream.skipped`` names every one; a second pass warns of none again."""
    from noisegen.data.loading import REPORT_LIMIT

    sf.write(tmp_path / "ok.wav", np.full(SR // 4, 0.1, np.float32), SR)
    rows = ["path", "ok.wav"] + [f"missing{i}.wav" for i in range(n_bad)] + ["ok.wav"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    stream = AugmentStream(str(tmp_path / "m.csv"), None, sample_rate=SR, chunk_s=1.0, rng=0, shuffle=False)
    for first in (True, False):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert len(list(stream)) == 2
        messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
        assert len(messages) == (min(n_bad, REPORT_LIMIT + 1) if first else 0)
        assert all(m.startswith("AugmentStream: skipping") for m in messages)
        assert sum("later ones are skipped without a warning each" in m for m in messages) == (first and n_bad > REPORT_LIMIT)
        assert stream.skipped == sorted(f"{tmp_path / 'm.csv'} line {i + 3}" for i in range(n_bad))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_and_dangling_symlinks_in_a_folder_are_named_not_opened(tmp_path):
    """Audio names that are not regular files were dropped from a folder source without a word (while
    `noisegen augment` reports each as a failure); each is now named once when the stream is made."""
    sf.write(tmp_path / "ok.wav", np.zeros(SR // 2), SR)
    os.mkfifo(tmp_path / "pipe.wav")  # opening it would block forever
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "gone.flac").symlink_to(tmp_path / "nowhere.flac")
    (tmp_path / "loop.wav").symlink_to(tmp_path / "loop.wav")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stream = AugmentStream(tmp_path, None, sample_rate=SR, chunk_s=0.25, rng=0)
        assert len(stream) == len(list(stream)) == 2
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, NoisegenWarning))
    assert len(messages) == 3 and all(m.startswith("AugmentStream: skipping") for m in messages)
    assert "loop.wav" in messages[0] and "a symlink loop" in messages[0]
    assert "pipe.wav" in messages[1] and "FIFO" in messages[1]
    assert "gone.flac" in messages[2] and "dangling symlink" in messages[2]

def test_arrays_generators_and_multichannel():
    arrays = [np.random.default_rng(i).standard_normal((2, 700)) for i in range(4)]
    stereo = list(AugmentStream(arrays, None, sample_rate=1000, chunk_s=0.5, rng=0, mono=False, shuffle=False))
    assert stereo[0].samples.shape == (2, 500)
    assert np.array_equal(stereo[0].samples, arrays[0][:, :500].astype(np.float32))
    mono = list(AugmentStream(arrays, None, sample_rate=1000, chunk_s=0.5, rng=0, shuffle=False))
    np.testing.assert_allclose(mono[0].samples, arrays[0][:, :500].mean(axis=0), atol=1e-6)
    # (array, sample_rate) pairs are resampled
    pair = list(AugmentStream([(np.ones(2000), 2000)], None, sample_rate=1000, rng=0, shuffle=False))
    assert pair[0].length == 1000
    # a one-pass generator: no shuffle, one epoch; sharded by position
    gen_chunks = list(AugmentStream((a for a in arrays), None, sample_rate=1000, rng=0, shuffle=False, mono=False,
                                    rank=1, world_size=2))
    assert {c.source for c in gen_chunks} == {"array:1", "array:3"}
    with pytest.raises(ParameterError):
        AugmentStream((a for a in arrays), None, sample_rate=1000)
    with pytest.raises(ParameterError):
        AugmentStream((a for a in arrays), None, sample_rate=1000, shuffle=False, epochs=2)



def test_a_pairs_rate_given_as_a_0d_array_or_tensor_is_its_number(tmp_path):
    """An (array, rate) pair whose rate is a 0-d array (np.load of an .npz: data["sr"]) or tensor was taken for
    a pair, then each item skipped as 'source sample rate must be an integer ..., got array(2000)': an empty
    stream, where a Hugging Face row's 0-d rate is read as its number. A 0-d non-integer is still refused, and
    such a pair given as the source is refused as one pair is (its array was streamed at the stream's rate)."""
    clip = np.random.default_rng(0).standard_normal(2000).astype(np.float32) * 0.1
    np.savez(tmp_path / "x.npz", audio=clip, sr=2000)
    data = np.load(tmp_path / "x.npz")
    expected = list(AugmentStream([(clip, 2000)], None, sample_rate=1000, rng=0))
    rates = [data["sr"], np.array(2000.0)]
    try:
        import torch
        rates.append(torch.tensor(2000))
    except ImportError:  # (torch is an optional extra)
        pass
    for rate in rates:
        with warnings.catch_warnings():
            warnings.simplefilter("error", NoisegenWarning)
            stream = AugmentStream([(data["audio"], rate)], None, sample_rate=1000, rng=0)
            assert len(stream) == 1
            (got,) = list(stream)
        np.testing.assert_array_equal(got.samples, expected[0].samples)
    with pytest.warns(NoisegenWarning, match=r"source sample rate must be an integer .*got 2000.5"):
        assert not list(AugmentStream([(clip, np.array(2000.5))], None, sample_rate=1000, rng=0))
    with pytest.raises(ParameterError, match=r"got one \(array, sample_rate\) pair \(sample_rate=array\(2000\)\)"):
        AugmentStream((clip, data["sr"]), None, sample_rate=1000)  # (its array was streamed at 1000 Hz)


@pytest.mark.parametrize("rows", [tuple, list])
@pytest.mark.parametrize("row", [tuple, list, np.asarray])
def test_a_stereo_item_given_as_a_tuple_of_two_rows_is_streamed_not_read_as_an_array_rate_pair(rows, row):
    """A tuple of two rows ((left, right), or (left_array, right_array)) was taken for an (array, sample_rate)
    pair: skipped as 'source sample rate must be an integer ..., got (0.1, ...)' where a list of the rows streamed."""
    clip = np.random.default_rng(0).standard_normal((2, 1500)) * 0.1
    given = rows(row(r.tolist()) for r in clip)
    for chunk_s in (None, 0.5):
        with warnings.catch_warnings():
            warnings.simplefilter("error", NoisegenWarning)
            got = list(AugmentStream([given], None, sample_rate=1000, chunk_s=chunk_s, rng=0, mono=False))
        expected = list(AugmentStream([clip], None, sample_rate=1000, chunk_s=chunk_s, rng=0, mono=False))
        assert len(got) == len(expected) > 0
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a.samples, b.samples)
    pair = list(AugmentStream([(clip, np.int64(2000))], None, sample_rate=1000, rng=0, mono=False))  # still a pair
    assert pair[0].samples.shape == (2, 750)


def test_an_object_array_of_clips_is_a_sequence_of_items():
    """A 1-D object array of clips (pandas' Series.values, a dataset column as NumPy) was refused as 'one array;
    wrap it in a list', and wrapped in a list it was one unusable item: an empty stream."""
    clips = [np.full(n, 0.1 * (k + 1), np.float32) for k, n in enumerate((500, 700, 1200))]
    column = np.empty(len(clips), dtype=object)
    column[:] = clips
    for shuffle in (False, True):
        want = list(AugmentStream(clips, Gain(p=1.0), sample_rate=1000, chunk_s=0.4, rng=3, shuffle=shuffle))
        got = AugmentStream(column, Gain(p=1.0), sample_rate=1000, chunk_s=0.4, rng=3, shuffle=shuffle)
        assert len(got) == 7 and list(got) == want
    for one in (np.ones((3, 500), np.float32), np.ones(500, np.float32), np.empty((2, 2), dtype=object)):
        with pytest.raises(ParameterError, match="got one array"):
            AugmentStream(one, None, sample_rate=1000)


@pytest.mark.parametrize("shuffle", [True, False])
def test_a_pandas_series_of_clips_is_a_sequence_of_items_as_its_values_are(shuffle):
    """A pandas Series of clips (a DataFrame's audio column) was taken for a one-pass iterable: refused with
    "pass shuffle=False for a one-pass iterable source", and with shuffle=False it had no len()."""
    pd = pytest.importorskip("pandas")
    clips = [np.full(n, 0.1 * (k + 1), np.float32) for k, n in enumerate((500, 700, 1200))]
    for series in (pd.Series(clips), pd.Series(clips, index=[7, 3, 5]), pd.Series(clips[:1])):
        want = AugmentStream(list(series.values), Gain(p=1.0), sample_rate=1000, chunk_s=0.4, rng=3, shuffle=shuffle)
        got = AugmentStream(series, Gain(p=1.0), sample_rate=1000, chunk_s=0.4, rng=3, shuffle=shuffle)
        assert got.n_items == len(series) and len(got) == len(want) and list(got) == list(want)
    with pytest.raises(ParameterError, match="got one signal"):  # a Series of samples is one signal, as before
        AugmentStream(pd.Series(clips[0]), None, sample_rate=1000, shuffle=shuffle)


def _one_signal_sources():
    y = np.linspace(-0.5, 0.5, 1200, dtype=np.float32)
    sources = {"list of floats": list(y), "tuple of numpy floats": tuple(y[:50]), "list of ints": [1, 2, 3],
               "range": range(100), "list of one float": [0.5]}
    try:
        import torch
    except ImportError:  # the torch extra: its tensors are checked where it is installed
        return sources
    return {**sources, "mono tensor": torch.from_numpy(y), "stereo tensor": torch.from_numpy(np.stack([y, y])),
            "float64 tensor": torch.from_numpy(y.astype(np.float64)), "1x1 tensor": torch.zeros(1, 1)}


@pytest.mark.parametrize("name", list(_one_signal_sources()))
@pytest.mark.parametrize("shuffle", [True, False])
def test_one_signal_of_another_kind_than_numpy_is_refused_as_one_array_is(name, shuffle):
    """One signal given as source is refused as a NumPy array is ("wrap it in a list"): a list of its numbers
    made each number an item, skipped one by one (a stream of nothing); a torch tensor was told to pass
    shuffle=False, and then each row (a stereo clip's channel) became a clip and a mono tensor nothing."""
    source = _one_signal_sources()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoisegenWarning)
        with pytest.raises(ParameterError, match="got one signal .*; wrap it in a list"):
            AugmentStream(source, Gain(p=1.0), sample_rate=1000, chunk_s=0.4, shuffle=shuffle)
    wrapped = [np.asarray(source, dtype=np.float32).reshape(-1, len(source) if not hasattr(source, "shape")
                                                               else source.shape[-1])]
    assert list(AugmentStream(wrapped, None, sample_rate=1000, shuffle=shuffle))  # wrapped, it streams


@pytest.mark.parametrize("shuffle", [True, False])
def test_one_number_of_another_kind_than_numpy_is_refused_by_name(shuffle):
    """A 0-d tensor as source met "pass shuffle=False", then a bare TypeError ("iteration over a 0-d
    tensor"); it is one signal of one number, refused as a NumPy array is."""
    torch = pytest.importorskip("torch")
    for source in (torch.tensor(0.5), torch.tensor(1.0, dtype=torch.float64)):
        with pytest.raises(ParameterError, match=r"got one signal \(a Tensor of shape \(\)\); wrap it in a list"):
            AugmentStream(source, Gain(p=1.0), sample_rate=1000, chunk_s=0.4, shuffle=shuffle)


@pytest.mark.parametrize("make", [tuple, list], ids=["tuple", "list"])
@pytest.mark.parametrize("rate", [500, 1000, 2000, 1000.0])
@pytest.mark.parametrize("shuffle", [True, False])
def test_one_array_and_rate_pair_is_refused_not_streamed_at_the_wrong_rate(make, rate, shuffle):
    """One (array, sample_rate) pair given as source streamed its array as if at the stream's rate (no
    resampling) and skipped its rate as an unusable item, with only that warning; it is refused now."""
    y = np.linspace(-0.5, 0.5, 1200, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoisegenWarning)
        with pytest.raises(ParameterError, match=r"got one \(array, sample_rate\) pair .*wrap it in a list"):
            AugmentStream(make((y, rate)), Gain(p=1.0), sample_rate=1000, chunk_s=0.4, shuffle=shuffle)
    wrapped = list(AugmentStream([(y, rate)], None, sample_rate=1000, shuffle=shuffle))
    assert len(wrapped) == 1 and wrapped[0].length == round(1200 * 1000 / rate)
    two = AugmentStream([y, y[:500]], None, sample_rate=1000, shuffle=shuffle)  # two clips stay two items
    assert sorted(c.length for c in two) == [500, 1200]


@pytest.mark.parametrize("empty", [[], (), np.empty(0, dtype=object)], ids=["list", "tuple", "object-array"])
@pytest.mark.parametrize("kwargs", [{}, {"shuffle": False, "epochs": None}, {"rank": 1, "world_size": 2}])
def test_an_empty_list_of_paths_or_arrays_is_refused_not_an_empty_stream(empty, kwargs):
    """glob.glob('data/*.wav') matching nothing, or a dataset column filtered to no rows, made a stream that
    yielded nothing without a word (a training loop of no steps), where a folder without audio files, tars
    without samples and a manifest without rows are refused."""
    with pytest.raises(ParameterError, match="source must hold at least one path or array, got an empty"):
        AugmentStream(empty, Gain(p=1.0), sample_rate=1000, chunk_s=0.4, rng=0, **kwargs)
    assert list(AugmentStream(iter([]), None, sample_rate=1000, shuffle=False)) == []  # (an iterator: unknown)


@pytest.mark.parametrize("world_size, rank", [(1, 0), (2, 1)])
def test_a_generator_pass_cut_short_goes_on_where_it_stopped(world_size, rank):
    """A generator cannot be read again: a pass cut short and iterated again numbered the generator's next
    entries from 0, so the next entry finished the cut item (lost) and later ones carried the wrong label."""
    arrays = [np.full(1300 + 200 * i, 0.1 * (i + 1), np.float32) for i in range(5)]

    def signature(chunks):
        return [(c.source, c.item, c.start, c.length, c.samples.tobytes()) for c in chunks]

    def stream():
        return AugmentStream((a for a in arrays), None, sample_rate=1000, chunk_s=0.5, rng=0, shuffle=False,
                             rank=rank, world_size=world_size)

    whole = signature(stream())
    assert len(whole) > 6 and {c[0] for c in whole} == {f"array:{i}" for i in range(rank, 5, world_size)}
    for cut in range(len(whole) + 1):  # every split of the pass into two loops over the stream
        s = stream()
        it = iter(s)
        first = [next(it) for _ in range(cut)]
        it.close()
        assert signature(first) + signature(s) == whole, cut
        assert list(s) == []  # then it is spent


@pytest.mark.parametrize("world_size, rank", [(1, 0), (2, 1)])
def test_a_generator_stream_refuses_a_state_it_has_read_past(world_size, rank):
    # An earlier state loaded into the same generator stream was taken, and its next iteration went on
    # with the generator's later entries: chunks lost, under the state's positions, silently.
    arrays = [np.full(1300 + 200 * i, 0.1 * (i + 1), np.float32) for i in range(5)]

    def stream():
        return AugmentStream((a for a in arrays), None, sample_rate=1000, chunk_s=0.5, rng=0, shuffle=False,
                             rank=rank, world_size=world_size)

    def signature(chunks):
        return [(c.item, c.start, c.samples.tobytes()) for c in chunks]

    whole = signature(stream())
    for saved in range(len(whole) + 1):
        for read in range(saved, len(whole) + 1):
            s = stream()
            it = iter(s)
            head = signature(next(it) for _ in range(saved))
            state = s.state_dict()
            signature(next(it) for _ in range(read - saved))
            before = s.state_dict()
            try:
                s.load_state_dict(state)
            except ParameterError as exc:
                assert "cannot be read again" in str(exc) and s.state_dict() == before
                assert state["position"] < before["position"] or state["epoch"] < before["epoch"]
            else:  # taken only where it can go on exactly: the same place, or the item the stream holds
                assert head + signature(s) == whole, (saved, read)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(source="no/such/dir"),
        dict(sample_rate=0),
        dict(chunk_s=-1.0),
        dict(hop_s=0.5),
        dict(chunk_s=1.0, hop_s=0.0),
        dict(rank=0),
        dict(rank=2, world_size=2),
        dict(rank=1, world_size=2**63),  # len() and iteration raised IndexError (positions beyond int64)
        dict(epochs=-1),
        dict(pipeline="Gain"),
        dict(rng=-3),
        # were taken as sequences/iterables of items: a bytes path became items 47, 100, ... (all skipped),
        # a dict its keys, a set of paths an unordered one-pass source of strings
        dict(source=b"data/speech"),
        dict(source={"a.wav": "label"}, shuffle=False),
        dict(source={"a.wav", "b.wav"}, shuffle=False),
    ],
)
def test_bad_arguments(kwargs):
    args = dict(source=[np.zeros(10)], pipeline=None, sample_rate=1000)
    args.update(kwargs)
    with pytest.raises(ParameterError):
        AugmentStream(args.pop("source"), args.pop("pipeline"), **args)


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_a_chunk_past_its_cap_is_refused_before_any_is_allocated(rate):
    # chunk_s=134000 passed (the cap was MAX_SAMPLES): an 8 GB chunk for a one-second file, then MemoryError
    from noisegen.data.batch import MAX_CHUNK_SAMPLES

    top = MAX_CHUNK_SAMPLES / rate
    with pytest.raises(ParameterError, match=rf"^chunk_s must be in \(0, {top:g}\], got"):
        AugmentStream([np.zeros(10)], None, sample_rate=rate, chunk_s=top * 1.001)
    AugmentStream([np.zeros(10)], None, sample_rate=rate, chunk_s=top)  # at the cap: taken
    stream = AugmentStream([np.ones(rate // 10)], None, sample_rate=rate, chunk_s=0.05, hop_s=10 * top)
    assert [c.length for c in stream] == [rate // 20]  # a hop may exceed the cap: it allocates nothing


def test_an_order_past_the_epochs_keys_tell_apart_is_refused():
    # epochs reach the keys mod 2**64: order(2**64) gave epoch 0's order, as if it were that epoch
    stream = AugmentStream([np.ones(10, np.float32)] * 50, None, sample_rate=1000, rng=0)
    assert not np.array_equal(stream.order(2**64 - 1), stream.order(0))
    with pytest.raises(ParameterError, match=r"^epoch must be an integer in \[0, 18446744073709551615\], got 18446"):
        stream.order(2**64)


def test_an_item_whose_channels_make_a_chunk_past_the_cap_is_skipped(tmp_path):
    # chunk_s is capped for one channel: with mono=False a 10 kB file of 1024 channels and 5 frames made
    # 1024 x chunk_n chunks (gigabytes), then MemoryError; an array, or a long file read in blocks, alike
    from noisegen.data.batch import MAX_CHUNK_SAMPLES

    long_file = tmp_path / "long.wav"
    sf.write(long_file, np.full((61 * 1000, 2), 0.1, np.float32), 1000, subtype="PCM_16")  # read in blocks
    chunk_s = (MAX_CHUNK_SAMPLES // 2 + 1) / 1000  # under the cap for one channel, past it for two
    for source, name in (([np.full((2, 10), 0.1, np.float32)], "array:0"), ([str(long_file)], str(long_file))):
        stream = AugmentStream(source, None, sample_rate=1000, chunk_s=chunk_s, rng=0, mono=False)
        with pytest.warns(NoisegenWarning, match=rf"skipping '{re.escape(name)}': holds 2 channels: each chunk "
                          rf"would be 2 x {MAX_CHUNK_SAMPLES // 2 + 1} samples, past the {MAX_CHUNK_SAMPLES} a "
                          rf"chunk may hold; stream it with mono=True or chunk_s at most 33554.4 s"):
            assert list(stream) == []
        assert stream.skipped == [name]


def test_the_largest_chunk_s_a_wide_items_report_names_is_one_its_chunks_fit(tmp_path):
    # the report rounded MAX_CHUNK_SAMPLES // channels / sample_rate to 6 digits with :g, up as often as
    # down: 'chunk_s at most 1048.58 s' for 8 channels at 8 kHz, whose chunks are 8 x 8388640 samples,
    # still past the cap (431 of 35,000 channel counts and rates): the bound is now rounded down
    from noisegen.data.batch import MAX_CHUNK_SAMPLES, chunk_samples

    for channels, rate in ((8, 8000), (10, 8000), (3, 16000), (2, 1000), (60, 44100)):
        stream = AugmentStream([np.full((channels, 100), 0.1, np.float32)], None, sample_rate=rate,
                               chunk_s=MAX_CHUNK_SAMPLES // rate,
                               rng=0, mono=False)
        with pytest.warns(NoisegenWarning, match="chunk_s at most") as record:
            assert list(stream) == []
        most = float(re.search(r"chunk_s at most (\S+) s", str(record[0].message)).group(1))
        n = chunk_samples(most, "chunk_s", rate)
        assert (1 - 2e-5) * MAX_CHUNK_SAMPLES < channels * n <= MAX_CHUNK_SAMPLES, (channels, rate, most)  # (6 digits)


@pytest.mark.parametrize("kwargs, name", [(dict(chunk_s=1e-9), "chunk_s"), (dict(chunk_s=0.5, hop_s=1e-9), "hop_s"),
                                           (dict(chunk_s=0.3 / 16000), "chunk_s")])
def test_a_chunk_or_hop_under_one_sample_is_refused_naming_it(kwargs, name):
    # chunk_s=1e-9 at 16 kHz gave 1-sample chunks (62,500 times what was asked), hop_s=1e-9 a 1-sample hop, silently
    with pytest.raises(ParameterError, match=rf"^{name}=.* is less than one sample at sample_rate=16000; it must "
                                             r"be at least 1 / sample_rate = 6.25e-05 s"):
        AugmentStream([np.zeros(10)], None, sample_rate=16000, **kwargs)
    stream = AugmentStream([np.ones(3, np.float32)], None, sample_rate=16000, chunk_s=1 / 16000, hop_s=0.7 / 16000)
    assert [(c.start, c.length) for c in stream] == [(0, 1), (1, 1), (2, 1)]  # one sample each: taken


def test_iterating_again_continues_with_next_epoch():
    arrays = [np.random.default_rng(i).standard_normal(100).astype(np.float32) for i in range(5)]
    stream = AugmentStream(arrays, Gain(p=1.0), sample_rate=1000, rng=0)
    first = list(stream)
    second = list(stream)
    assert {c.epoch for c in first} == {0} and {c.epoch for c in second} == {1}
    stream.set_epoch(0)
    assert sequence(stream) == sequence(first)
    # an epoch past 2**31 - 1 was taken, and AugmentDataset(stream).set_epoch(2**63) then raised OverflowError
    # (the DataLoader's shared int64 words); a state saying so is refused alike
    from noisegen.data.stream import MAX_EPOCHS

    stream.set_epoch(MAX_EPOCHS)
    assert {c.epoch for c in stream} == {MAX_EPOCHS}
    for bad in (MAX_EPOCHS + 1, 2**63):
        with pytest.raises(ParameterError, match="epoch"):
            stream.set_epoch(bad)
        with pytest.raises(ParameterError, match=r"state\['epoch'\] must be at most"):
            stream.load_state_dict({**stream.state_dict(), "epoch": bad, "pass_end": None})


@pytest.mark.parametrize("move", ["set_epoch", "load_state_dict", "another iteration"])
def test_an_iteration_the_stream_was_moved_under_stops_with_an_error(move):
    # set_epoch() mid-iteration reset the pass's end: the live iterator of an epochs=1 stream ran on
    # for ever (epochs 0, 1, 2, ... until memory ran out) and never went to the epoch asked for.
    arrays = [np.full(2500, 0.1, np.float32), np.full(1200, 0.2, np.float32)]
    stream = AugmentStream(arrays, None, sample_rate=1000, chunk_s=1.0, epochs=1, shuffle=False)
    whole = sequence(AugmentStream(arrays, None, sample_rate=1000, chunk_s=1.0, epochs=1, shuffle=False))
    it = iter(stream)
    first = [next(it), next(it)]
    state = stream.state_dict()
    if move == "set_epoch":
        stream.set_epoch(5)
    elif move == "load_state_dict":
        stream.load_state_dict(state)
    else:
        other = iter(stream)
        rest = list(other)  # goes on from where the stream stands: the chunks `it` had still to give
        assert sequence(first) + sequence(rest) == whole
    with pytest.raises(noisegen.NoisegenError, match="left behind"):
        next(it)
    if move == "set_epoch":
        assert {c.epoch for c in stream} == {5}  # the epoch asked for, then the stream ends
    elif move == "load_state_dict":
        assert sequence(first) + sequence(stream) == whole
    # an iteration abandoned before the stream moves is simply dropped
    stream.set_epoch(0)
    abandoned = iter(stream)
    next(abandoned)
    del abandoned
    stream.set_epoch(0)
    assert sequence(stream) == whole


def test_files_are_read_lazily(corpus, monkeypatch):
    """Bounded memory: a file is read only when its turn comes, one at a time."""
    import noisegen.data.stream as stream_module

    reads = []
    real = stream_module._FileItems.load

    def spy(self, i, sample_rate, mono, **kw):
        reads.append(self.paths[i])
        return real(self, i, sample_rate, mono, **kw)

    monkeypatch.setattr(stream_module._FileItems, "load", spy)
    stream = AugmentStream(corpus, None, sample_rate=SR, chunk_s=0.5, rng=0)
    assert reads == []
    it = iter(stream)
    first = next(it)
    assert reads == [first.source]
    rest = list(it)
    assert len(reads) == 5 and len(set(reads)) == 5 and len(rest) > 10


def test_fast_read_equals_noisegen_load(corpus):
    """Files at the target rate are read straight to float32: same samples as noisegen.load."""
    chunks = list(AugmentStream(corpus, None, sample_rate=SR, rng=0, shuffle=False))
    for c in chunks:
        y, _ = noisegen.load(c.source, sample_rate=SR, mono=True)
        assert np.array_equal(c.samples, y.astype(np.float32))


def test_import_noisegen_does_not_import_torch():
    code = "import sys, noisegen, noisegen.data.stream; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_resume_on_one_rank(corpus):
    make = lambda: AugmentStream(corpus, pipeline(), sample_rate=SR, chunk_s=0.3, rng=2, epochs=2,  # noqa: E731
                                 rank=1, world_size=2)
    full = sequence(make())
    first = make()
    it = iter(first)
    head = [next(it) for _ in range(5)]
    resumed = make()
    resumed.load_state_dict(first.state_dict())
    assert sequence(head) + sequence(resumed) == full


def test_noise_is_loaded_once_before_iteration(data_dir):
    """The stream loads noise banks at construction, so forked workers share them."""
    from noisegen.transforms import AddBackgroundNoise

    t = AddBackgroundNoise(data_dir / "noise", p=1.0)
    assert t._noise_bank._rates == {}
    AugmentStream([np.zeros(10)], Compose([t]), sample_rate=SR)
    bank = t._noise_bank._rates[SR]
    assert len(bank) >= 2
    t(np.ones(100), sample_rate=SR, rng=0)
    assert t._noise_bank._rates[SR] is bank


# ----------------------------------------------------------------------------- device="cuda" (checks needing no GPU)


def gpu_pipeline():
    from noisegen.transforms import BandPassFilter, SpeedPerturb

    return Compose([AddColoredNoise(min_snr_db=5, max_snr_db=20, p=0.7), Gain(p=0.5),
                    BandPassFilter(min_center_hz=300, max_center_hz=2000, p=0.5), SpeedPerturb(p=0.6)])


@pytest.mark.parametrize("bad,name", [
    (lambda: Compose([Gain(p=1.0), TimeMask(p=0.5)]), "TimeMask"),
    (lambda: TimeMask(p=1.0), "TimeMask"),
    (lambda: Compose([Gain(p=1.0), Compose([Gain(p=1.0)])]), "Compose"),
])
def test_cuda_device_rejects_unsupported_transform(bad, name):
    with pytest.raises(ParameterError, match=f"unsupported transform {name}"):
        AugmentStream([np.zeros(100, np.float32)], bad(), sample_rate=SR, device="cuda")


def test_cuda_device_rejects_what_the_batch_chain_cannot_run():
    from noisegen.transforms import BandPassFilter, SpeedPerturb

    items = [np.zeros(100, np.float32)]
    with pytest.raises(ParameterError, match="shuffle=True"):
        AugmentStream(items, Compose([Gain(p=1.0)], shuffle=True), sample_rate=SR, device="cuda")
    with pytest.raises(ParameterError, match="twice"):
        AugmentStream(items, Compose([Gain(p=1.0), Gain(p=1.0)]), sample_rate=SR, device="cuda")
    with pytest.raises(ParameterError, match="order"):
        AugmentStream(items, Compose([SpeedPerturb(p=1.0), BandPassFilter(p=1.0)]), sample_rate=SR, device="cuda")
    with pytest.raises(ParameterError, match="mono=True"):
        AugmentStream(items, Gain(p=1.0), sample_rate=SR, device="cuda", mono=False)
    with pytest.raises(ParameterError, match="device"):
        AugmentStream(items, Gain(p=1.0), sample_rate=SR, device="gpu")
    stream = AugmentStream(items, Gain(p=1.0), sample_rate=SR, device="cuda")
    with pytest.raises(ParameterError, match=r"\.batches\(batch_size\)"):
        iter(stream)
    # gain may sit anywhere (it commutes with the linear stages); None runs no stage
    AugmentStream(items, Compose([SpeedPerturb(p=1.0), Gain(p=1.0)]), sample_rate=SR, device="cuda")
    AugmentStream(items, None, sample_rate=SR, device="cuda")


def test_cuda_device_draws_the_cpu_parameters_and_replays_them_on_cpu():
    """device='cuda' draws each item's params from derive_key(seed, epoch, item) exactly as the CPU path does, and
    augment_batch(backend='cpu') with the converted arrays reproduces the CPU stream for whole equal-length items."""
    from noisegen.cuda import augment_batch
    from noisegen.data.stream import collate, cuda_batch_params

    items = [np.random.default_rng(i).standard_normal(400).astype(np.float32) * 0.1 for i in range(5)]
    make = lambda device: AugmentStream(items, gpu_pipeline(), sample_rate=8000, rng=4, epochs=2,  # noqa: E731
                                        device=device)
    cpu = list(make("cpu"))
    raw = list(make("cuda")._iter(augment=False))
    assert [c.params for c in raw] == [c.params for c in cpu]
    assert [(c.source, c.epoch) for c in raw] == [(c.source, c.epoch) for c in cpu]
    applied = {(t["name"], t["applied"]) for c in raw for t in c.params["transforms"]}
    assert {("SpeedPerturb", True), ("BandPassFilter", False), ("AddColoredNoise", True)} <= applied
    batch = collate(raw)
    params, order, lengths = cuda_batch_params(gpu_pipeline(), [c.params for c in raw], sample_rate=8000,
                                               lengths=batch.lengths, width=400)
    assert order == 4 and params["noise_applied"].dtype == bool
    got = augment_batch(batch.samples, sample_rate=8000, params=params, band_order=order, backend="cpu")
    np.testing.assert_array_equal(got.lengths, [c.length for c in cpu])
    np.testing.assert_array_equal(lengths, got.lengths)
    for i, c in enumerate(cpu):
        np.testing.assert_array_equal(got.samples[i, : c.length], c.samples[: c.length])


def test_cuda_batch_params_offsets_snr_and_keys_follow_chunks():
    from noisegen._core.rng import derive_key, resolve_key
    from noisegen.data.stream import cuda_batch_params

    rec = {"name": "AddColoredNoise", "applied": True, "beta": 1.0, "snr_db": 10.0, "seed": 7}
    off = {"name": "AddColoredNoise", "applied": False}
    params, _, lengths = cuda_batch_params(AddColoredNoise(p=0.5), [rec, rec, off], sample_rate=SR,
                                           lengths=[400, 100, 400], width=400, starts=[0, 400, 0])
    np.testing.assert_allclose(params["snr_db"][:2], [10.0, 10.0])  # a short row's SNR: augment_batch(lengths=)
    assert params["noise_keys"][0] == resolve_key(7) and params["noise_keys"][1] == derive_key(resolve_key(7), 400)
    assert params["noise_applied"].tolist() == [True, True, False]
    np.testing.assert_array_equal(lengths, [400, 100, 400])
    none, _, _ = cuda_batch_params(AddColoredNoise(p=0.5), [off], sample_rate=SR, width=10)
    assert none == {}
    with pytest.raises(ParameterError, match="Gain"):
        cuda_batch_params(AddColoredNoise(p=0.5), [{"name": "Gain", "applied": True, "gain_db": 1.0}], sample_rate=SR)


# ----------------------------------------------------------------- resume at every cut point (issue 13.9)


def _full_record(chunks):
    """Everything a resumed chunk must repeat: where it is from, its samples and its params."""
    return [(c.source, c.epoch, c.item, c.start, c.length, c.samples.tobytes(), repr(c.params)) for c in chunks]


def _resume_cases(tmp_path):
    rng = np.random.default_rng(0)
    mono = [(0.3 * rng.standard_normal(n)).astype(np.float32) for n in (430, 170, 910, 260)]
    stereo = [(0.3 * rng.standard_normal((2, n))).astype(np.float64) for n in (330, 90, 520)]
    folder = tmp_path / "wavs"
    folder.mkdir()
    for i, n in enumerate((1300, 700, 2500)):
        sf.write(folder / f"f{i}.wav", 0.3 * rng.standard_normal(n), 8000)
    # betas >= 0: issue 13.1 (NaN near beta=-1.9) is fixed elsewhere
    t = lambda: Compose([Gain(p=0.5), AddColoredNoise(min_beta=0, max_beta=2, min_snr_db=0, p=0.7)])  # noqa: E731
    return {
        "mono-overlap-shuffled": lambda: AugmentStream(mono, t(), sample_rate=1000, chunk_s=0.2, hop_s=0.15, rng=3,
                                                       epochs=2),
        "stereo-whole-ordered": lambda: AugmentStream(stereo, t(), sample_rate=1000, rng=4, epochs=2, shuffle=False,
                                                      mono=False),
        "files-resampled": lambda: AugmentStream(folder, t(), sample_rate=4000, chunk_s=0.1, rng=5, epochs=2),
        "one-rank-of-two": lambda: AugmentStream(mono, t(), sample_rate=1000, chunk_s=0.25, rng=6, epochs=2,
                                                 rank=1, world_size=2),
    }


@pytest.mark.parametrize("case", ["mono-overlap-shuffled", "stereo-whole-ordered", "files-resampled",
                                  "one-rank-of-two"])
def test_resume_at_every_cut_of_a_two_epoch_stream_yields_exactly_the_rest(tmp_path, case):
    import json

    make = _resume_cases(tmp_path)[case]
    whole = make()
    full = _full_record(whole)
    next_pass = _full_record(whole)  # iterating again continues with epochs 2 and 3
    assert {c[1] for c in full} == {0, 1} and {c[1] for c in next_pass} == {2, 3}
    for cut in range(len(full) + 1):
        first = make()
        it = iter(first)
        head = [next(it) for _ in range(cut)]
        state = json.loads(json.dumps(first.state_dict()))  # states survive JSON
        resumed = make()
        resumed.load_state_dict(state)
        assert _full_record(head) + _full_record(resumed) == full, f"cut {cut}"
        if cut in (0, len(full) // 2, len(full)):
            assert _full_record(resumed) == next_pass


def _other_streams(arrays):
    t = Gain(p=1.0)
    base = dict(sample_rate=1000, chunk_s=0.2, rng=1, epochs=2)
    return {
        "seed": AugmentStream(arrays, t, **{**base, "rng": 2}),
        "items": AugmentStream(arrays[:-1], t, **base),
        "chunking": AugmentStream(arrays, t, **{**base, "chunk_s": 0.3}),
        "hop": AugmentStream(arrays, t, **{**base, "hop_s": 0.1}),
        "whole items": AugmentStream(arrays, t, **{**base, "chunk_s": None}),
        "sample rate": AugmentStream(arrays, t, **{**base, "sample_rate": 2000}),
        "shuffle": AugmentStream(arrays, t, **{**base, "shuffle": False}),
        "mono": AugmentStream(arrays, t, **{**base, "mono": False}),
        "other arrays": AugmentStream([a + 0.5 for a in arrays], t, **base),
        "same arrays reordered": AugmentStream(arrays[::-1], t, **base),
        "same arrays at another rate": AugmentStream([(a, 2000) for a in arrays], t, **base),
    }


def _corrupted(state):
    """(what, corrupted copy) for every field: out of range, wrong type, missing, unexpected."""
    bad = {
        "key": [-1, 1 << 64, state["key"] ^ 1, str(state["key"]), float(state["key"]), None],
        "epoch": [-1, 1.0, "1", None, True],
        "position": [-1, 4, 10**9, 0.5, "0"],
        "chunk": [-1, 1.5, "x", None, False, 10**9],
        "pass_end": [state["epoch"], state["epoch"] + 3, -1, "2", 2.0, True],
        "n_items": [3, 5, None, 4.0],
        "sample_rate": [2000, 1000.0, "1000"],
        "chunk_samples": [300, None, 200.0],
        "hop_samples": [100, None],
        "shuffle": [False, 1, "yes"],
        "mono": [False, 1],
        "shard": [[1, 2], [0, 2], [1, 1], (0, 1), [0], "0", None, [np.zeros(2), 1], [0, np.ones(3)], [[0], [1]]],
        "source": ["0" * 16, state["source"].upper(), None, 0, b"x"],
    }
    for name, values in bad.items():
        for value in values:
            yield f"{name}={value!r}", {**state, name: value}
    for name in state:
        if name not in ("shard", "source"):  # (a state saved before states named them is taken as this one's)
            yield f"no {name}", {k: v for k, v in state.items() if k != name}
    yield "extra field", {**state, "extra": 0}
    yield "a list", list(state.items())
    yield "None", None


def test_resume_refuses_other_streams_and_corrupted_states():
    lengths = (700, 300, 900, 450)
    arrays = [np.random.default_rng(i).standard_normal(n).astype(np.float32) for i, n in enumerate(lengths)]
    make = lambda: AugmentStream(arrays, Gain(p=1.0), sample_rate=1000, chunk_s=0.2, rng=1, epochs=2)  # noqa: E731
    donor = make()
    it = iter(donor)
    for _ in range(16):  # 14 chunks an epoch: into epoch 1
        last = next(it)
    assert last.epoch == 1
    good = donor.state_dict()
    for what, other in _other_streams(arrays).items():
        its = iter(other)
        next(its)
        target = make()
        before = target.state_dict()
        with pytest.raises(ParameterError):
            target.load_state_dict(other.state_dict())
        assert target.state_dict() == before, what
    for what, state in _corrupted(good):
        target = make()
        before = target.state_dict()
        with pytest.raises(ParameterError):
            target.load_state_dict(state)
        assert target.state_dict() == before, what
    target = make()
    target.load_state_dict(good)  # the uncorrupted state is taken
    assert [c.epoch for c in target] and target.state_dict()["epoch"] == 2


def test_a_state_is_only_taken_by_its_own_shard():
    # state_dict() did not say which shard it came from: rank 0's state loaded into rank 1 silently
    # (rank 1 then skipped items it had never yielded), and into an unsharded stream alike.
    arrays = [np.full(1000, 0.1 * (i + 1), np.float32) for i in range(6)]
    make = lambda rank, world: AugmentStream(arrays, None, sample_rate=1000, chunk_s=1.0, shuffle=False,  # noqa: E731
                                             world_size=world, rank=rank)
    donor = make(0, 2)
    it = iter(donor)
    next(it), next(it)
    state = json.loads(json.dumps(donor.state_dict()))  # as a checkpoint keeps it
    assert state["shard"] == [0, 2]
    for rank, world in ((1, 2), (0, 1), (0, 3)):
        with pytest.raises(ParameterError, match=r"shard=\[0, 2\]"):
            make(rank, world).load_state_dict(state)
    same = make(0, 2)
    same.load_state_dict(state)
    assert [c.source for c in same] == ["array:4"]
    older = {k: v for k, v in state.items() if k != "shard"}  # saved before states named their shard
    again = make(0, 2)
    again.load_state_dict(older)
    assert [c.source for c in again] == ["array:4"]


def test_a_state_is_refused_by_a_stream_over_another_source(tmp_path):
    # Only the item count was compared: a state of fsdd[:6] was taken by fsdd[100:106] and by fsdd[:6]
    # reversed, which then yielded another stream's remaining chunks.
    rng = np.random.default_rng(0)
    for folder in ("a", "b", "moved/a"):
        (tmp_path / folder).mkdir(parents=True)
    for i in range(6):
        y = 0.1 * rng.standard_normal(800 + 100 * i)
        for folder, name in (("a", f"f{i}.wav"), ("b", f"g{i}.wav"), ("moved/a", f"f{i}.wav")):
            sf.write(tmp_path / folder / name, y, 8000)
    files = lambda folder: sorted(str(p) for p in (tmp_path / folder).glob("*.wav"))  # noqa: E731
    make = lambda src: AugmentStream(src, Gain(p=1.0), sample_rate=8000, chunk_s=0.03, rng=7)  # noqa: E731
    donor = make(files("a"))
    it = iter(donor)
    head = [next(it) for _ in range(9)]
    state = json.loads(json.dumps(donor.state_dict()))
    rest = [(os.path.basename(c.source), c.start, c.samples.tobytes()) for c in it]
    assert head and rest
    manifest = tmp_path / "a.csv"  # the same files as segments
    manifest.write_text("path,offset_s\n" + "".join(f"{p},0.01\n" for p in files("a")))
    for what, source in {"other files": files("b"), "the same files reordered": files("a")[::-1],
                         "the same files as segments": str(manifest)}.items():
        other = make(source)
        before = other.state_dict()
        with pytest.raises(ParameterError, match="another source"):
            other.load_state_dict(state)
        assert other.state_dict() == before, what
    for what, source in {"itself": files("a"), "its folder": str(tmp_path / "a"),
                         "the corpus moved": files("moved/a"),
                         "its paths as bytes": [os.fsencode(p) for p in files("a")]}.items():
        same = make(source)
        same.load_state_dict(state)
        assert [(os.fsdecode(os.path.basename(c.source)), c.start, c.samples.tobytes()) for c in same] == rest, what


def test_a_state_of_hugging_face_rows_is_refused_by_other_rows():
    # Audio dicts (ds["audio"]) counted as 0-d object arrays: every dataset of as many rows had one
    # fingerprint, so a state of one dataset was taken by another, which went on with its own chunks.
    rng = np.random.default_rng(3)
    a, b = ([(0.1 * rng.standard_normal(800)).astype(np.float32) for _ in range(3)] for _ in range(2))
    kinds = {"decoded": lambda ys, sr=SR: [{"array": y, "sampling_rate": sr} for y in ys],
             "undecoded bytes": lambda ys, sr=SR: [{"bytes": _wav_bytes(y, sr), "path": None} for y in ys],
             "undecoded paths": lambda ys, sr=SR: [{"bytes": None, "path": f"/{sr}/{y[0]}.wav"} for y in ys]}
    make = lambda src: AugmentStream(src, None, sample_rate=SR, chunk_s=0.01, rng=0, shuffle=False)  # noqa: E731
    for kind, rows in kinds.items():
        donor = make(rows(a))
        if kind == "undecoded paths":  # (no such files: a state at the start)
            state = donor.state_dict()
        else:
            it = iter(donor)
            head = [next(it) for _ in range(4)]
            state = donor.state_dict()
            rest = [c.samples.tobytes() for c in it]
            same = make(rows([y.copy() for y in a]))
            same.load_state_dict(state)
            assert head and rest and [c.samples.tobytes() for c in same] == rest, kind
        for other in (rows(b), rows(a[::-1]), rows(a, 8000)):
            with pytest.raises(ParameterError, match="another source"):
                make(other).load_state_dict(state)


def test_a_state_of_audio_decoders_is_refused_by_other_decoders():
    # datasets >= 4 gives ds["audio"] as torchcodec decoders, each counted by its type name alone:
    # every such dataset of as many rows had one fingerprint. They count by their header metadata now.
    class Decoder:  # (what the stream's fingerprint reads of torchcodec's AudioDecoder)
        def __init__(self, seconds, rate=SR):
            self.metadata = f"AudioStreamMetadata(duration_seconds_from_header={seconds}, sample_rate={rate})"

        def get_all_samples(self):
            raise AssertionError("a fingerprint does not decode")

    make = lambda src: AugmentStream(src, None, sample_rate=SR, chunk_s=0.01, rng=0)  # noqa: E731
    durations = [0.5, 1.25, 2.0]
    state = make([Decoder(s) for s in durations]).state_dict()
    make([Decoder(s) for s in durations]).load_state_dict(state)
    for other in ([Decoder(s + 0.5) for s in durations], [Decoder(s) for s in durations[::-1]],
                  [Decoder(s, 8000) for s in durations]):
        with pytest.raises(ParameterError, match="another source"):
            make(other).load_state_dict(state)


def test_resume_refuses_a_chunk_count_past_the_item():
    arrays = [np.ones(500, np.float32), np.ones(300, np.float32)]
    make = lambda: AugmentStream(arrays, None, sample_rate=1000, chunk_s=0.2, rng=1, shuffle=False)  # noqa: E731
    state = make().state_dict()
    ok = make()
    ok.load_state_dict({**state, "chunk": 3})  # all 3 chunks of item 0 done: the rest is item 1
    assert len(ok) == 2
    assert [(c.item, c.start) for c in ok] == [(1, 0), (1, 200)]
    for chunk in (4, 10**9, 2**64):  # taken, then every len() and iteration failed (len() once gave 1)
        bad = make()
        with pytest.raises(ParameterError, match=f"chunk={chunk} is past the 3 chunk"):
            bad.load_state_dict({**state, "chunk": chunk})
        assert bad.state_dict() == state and len(bad) == 5 and len(list(bad)) == 5  # left unchanged
    # A pipeline that changes lengths: the item's chunks follow from its parameters, drawn with the state's key
    arrays = [np.ones(n, np.float32) for n in (900, 700, 1100)]
    make = lambda rng: AugmentStream(arrays, TimeStretch(p=1.0), sample_rate=1000, chunk_s=0.1, rng=rng,  # noqa: E731
                                     shuffle=False)
    counts = collections.Counter(c.item for c in make(3))
    state = make(3).state_dict()
    for chunk in (counts[0], counts[0] + 1):
        resumed = make(None)  # takes the state's key
        len(resumed)  # (sizes drawn with its own key, first)
        if chunk == counts[0]:
            resumed.load_state_dict({**state, "chunk": chunk})
            assert len(resumed) == sum(counts.values()) - counts[0] == len(list(resumed))
        else:
            with pytest.raises(ParameterError, match=f"chunk={chunk} is past the {counts[0]} chunk"):
                resumed.load_state_dict({**state, "chunk": chunk})


# ----------------------------------------------------------------- warnings name the item and the noise file


@pytest.fixture()
def mostly_silent_noise(tmp_path):
    """A noise file that is silent after its first 100 samples: most crops of it are silent."""
    folder = tmp_path / "noise"
    folder.mkdir()
    y = np.zeros(2000)
    y[:100] = np.random.default_rng(0).standard_normal(100)
    sf.write(folder / "mostly_silent.wav", y, 8000, subtype="FLOAT")
    return folder, str(folder / "mostly_silent.wav")


def _silent_warnings(caught):
    return [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning) and "silent" in str(w.message)]


@pytest.mark.parametrize("channels", [None, 2])
def test_silent_noise_warning_names_the_item_and_the_noise_file(mostly_silent_noise, channels):
    from noisegen.transforms import AddBackgroundNoise

    folder, noise_path = mostly_silent_noise
    shape = (300,) if channels is None else (channels, 300)
    arrays = [np.random.default_rng(i).standard_normal(shape).astype(np.float32) for i in range(8)]
    stream = AugmentStream(arrays, AddBackgroundNoise(folder, p=1.0), sample_rate=8000, rng=1, epochs=2,
                           mono=channels is None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(stream)
    messages = _silent_warnings(caught)
    silent = [c for c in chunks if c.params["noise_offset"] >= 100]  # the crop misses the 100 loud samples
    assert 0 < len(silent) < len(chunks) and len(messages) == len(silent)
    for c, message in zip(silent, messages):
        assert f"(item {c.source!r}; noise" in message, message
        assert f"noise {noise_path!r} from sample {c.params['noise_offset']}" in message, message


def test_augment_names_the_input_in_a_silent_noise_warning(tmp_path, mostly_silent_noise):
    from noisegen.batch import augment_folder
    from noisegen.transforms import AddBackgroundNoise

    folder, noise_path = mostly_silent_noise
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    names = ["a.wav", "sub/b.wav", "c.wav"]
    for i, name in enumerate(names):
        sf.write(inputs / name, np.random.default_rng(i).standard_normal(300) * 0.1, 8000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        augment_folder(inputs, tmp_path / "out", pipeline=AddBackgroundNoise(folder, p=1.0), copies=4, workers=1)
    messages = _silent_warnings(caught)
    assert messages
    for message in messages:
        assert noise_path in message and any(f"input {name!r}" in message for name in names), message


def test_one_batch_type():
    """AugmentStream.batches, collate and noisegen.cuda.augment_batch all build noisegen.Batch."""
    import noisegen.cuda as nc
    from noisegen.data.batch import Batch, collate

    assert Batch is noisegen.Batch
    stream = AugmentStream([np.ones(100), np.ones(80)], Compose([Gain(p=1.0)]), sample_rate=SR, rng=0)
    batch = next(iter(stream.batches(2)))
    assert type(batch) is Batch and batch.params == {} and len(batch.chunks) == 2
    assert type(collate(batch.chunks)) is Batch
    res = nc.augment_batch(np.ones((2, 64), np.float32), sample_rate=SR, gain_db=-6.0, backend="cpu")
    assert type(res) is Batch and res.chunks == [] and res.params["gain_db"].shape == (2,)


def test_collate_names_the_files_of_other_channel_counts_and_checks_targets(tmp_path):
    # mixed channel counts with mono=False failed mid-epoch naming no file; a target of another shape than its
    # samples raised NumPy's broadcast ValueError (longer) or was zero-padded silently (shorter)
    import dataclasses

    import noisegen
    from noisegen.data.batch import collate

    for name, channels in (("a.wav", 1), ("b.wav", 2), ("c.wav", 2)):
        noisegen.save(tmp_path / name, 0.1 * noisegen.white_noise(800, rng=0, n_channels=channels), sample_rate=8000)
    stream = AugmentStream(str(tmp_path), None, sample_rate=8000, chunk_s=0.05, mono=False, shuffle=False)
    with pytest.raises(ParameterError, match=r"got channels '.*a\.wav' 1, '.*b\.wav' 2 \(an AugmentStream with "
                                             r"mono=False over files of several channel counts"):
        list(stream.batches(4))
    chunk = next(iter(AugmentStream(str(tmp_path / "a.wav"), None, sample_rate=8000, chunk_s=0.05, target="clean")))
    for bad in (np.zeros(1000, np.float32), np.zeros(3, np.float32), np.zeros((2, 400), np.float32)):
        with pytest.raises(ParameterError, match=r"^chunks\[0\]\.target must have its samples' shape \(400,\), got"):
            collate([dataclasses.replace(chunk, target=bad)])
    np.testing.assert_array_equal(collate([chunk]).target[0], chunk.target)
    # chunks of streams at two rates (two datasets in one DataLoader) were stacked into one batch, silently
    other = next(iter(AugmentStream(str(tmp_path / "a.wav"), None, sample_rate=16000, chunk_s=0.025, target="clean")))
    assert other.samples.shape == chunk.samples.shape
    for pair in ([chunk, other], [other, chunk, chunk]):
        with pytest.raises(ParameterError, match=r"^chunks must all have one sample_rate, got '.*a\.wav' (8000|16000), "):
            collate(pair)


# ---------------------------------------------------------------- MP3 lengths
def _write_mp3_inputs(root, data_dir):
    """Two MP3s (48 kHz mono, 16 kHz stereo) in ``root/mp3``, the same as members of ``root/mp3.tar``,
    and ``root/mp3.jsonl``: segments of them (a duration past the end among them)."""
    import tarfile

    speech, _ = noisegen.load(str(data_dir / "speech" / "cmu_arctic_us_aew_a0001.wav"), sample_rate=48000)
    folder = root / "mp3"
    folder.mkdir()
    sf.write(folder / "a.mp3", 0.5 * speech[:100000], 48000, format="MP3")
    y16 = noisegen.resample(speech[:60000], orig_sample_rate=48000, target_sample_rate=16000)
    sf.write(folder / "b.mp3", 0.4 * np.stack([y16, y16[::-1]], axis=1), 16000, format="MP3")
    with tarfile.open(root / "mp3.tar", "w") as tf:
        for name in ("a.mp3", "b.mp3"):
            tf.add(folder / name, arcname=name)
    with open(root / "mp3.jsonl", "w") as fh:
        for name, offset, duration in (("a.mp3", 0.3, 100.0), ("a.mp3", 0.2, 0.5), ("b.mp3", 0.25, None),
                                       ("b.mp3", None, None)):
            row = {"audio_filepath": str(folder / name), **({} if offset is None else {"offset": offset}),
                   **({} if duration is None else {"duration": duration})}
            fh.write(json.dumps(row) + "\n")
    return [folder, root / "mp3.tar", root / "mp3.jsonl"]


def test_len_of_mp3_inputs_is_the_count_yielded(tmp_path, data_dir, monkeypatch):
    """An MP3's header frame count is its decoder's estimate (a Common Voice clip claims 114,246
    frames and decodes to 114,048): len(stream) counted the header's and said 2 chunks where one
    came. Here every MP3's header overstates its length by 0.1 s, as such a file's does."""
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile cannot write MP3")
    sources = _write_mp3_inputs(tmp_path, data_dir)
    lengths = {p.name: noisegen.load(str(p), sample_rate=SR)[0].shape[-1] for p in sources[0].iterdir()}
    monkeypatch.setattr(sf.SoundFile, "frames", property(
        lambda f: f._info.frames + (f.samplerate // 10 if f.format == "MP3" else 0)))
    assert sf.info(str(sources[0] / "a.mp3")).frames > noisegen.load(str(sources[0] / "a.mp3"))[0].shape[-1]
    for source in sources:
        for chunk_s in (None, 0.25, 0.3, lengths["a.mp3"] / SR, lengths["b.mp3"] / SR):
            stream = AugmentStream(str(source), Gain(p=1.0), sample_rate=SR, chunk_s=chunk_s, rng=0, shuffle=False)
            n = len(stream)
            assert n == len(list(stream)) > 0, (source.name, chunk_s)


def test_len_of_the_shared_mp3_is_the_count_yielded(shared_data_dir, tmp_path):
    """The Common Voice MP3 whose header claims 198 frames more than it decodes to, as a file and as
    a tar member (len said 2 chunks of 2.3775 s, and one came)."""
    import tarfile

    mp3 = sorted((shared_data_dir / "speech" / "common_voice").glob("*.mp3"))
    if not mp3:
        pytest.skip("no MP3 in the shared corpus")
    (tmp_path / "mp3").mkdir()
    shutil.copy(mp3[0], tmp_path / "mp3" / mp3[0].name)
    with tarfile.open(tmp_path / "mp3.tar", "w") as tf:
        tf.add(mp3[0], arcname="utt.mp3")
    for source in (tmp_path / "mp3", tmp_path / "mp3.tar"):
        for chunk_s in (1.0, 2.3775):
            stream = AugmentStream(str(source), Gain(p=1.0), sample_rate=SR, chunk_s=chunk_s, rng=0, shuffle=False)
            n = len(stream)
            assert n == len(list(stream)), (source.name, chunk_s)


@pytest.mark.parametrize("chunk_s", [None, 0.5])
def test_a_chunk_owns_its_samples(chunk_s, tmp_path):
    """Whole items (chunk_s=None) that no transform changed came out as the caller's own array, and as their
    target: a training loop scaling chunk.samples in place rewrote the corpus (the next epoch differed from
    a fresh stream's) and the target."""
    def arrays():
        return [np.random.default_rng(i).standard_normal(SR).astype(np.float32) * 0.1 for i in range(3)]

    def stream(source):
        return AugmentStream(source, Compose([Gain(p=0.5)]), sample_rate=SR, chunk_s=chunk_s, rng=0, shuffle=False,
                             epochs=2, target="clean")

    source, want = arrays(), list(stream(arrays()))
    for got, expected in zip(stream(source), want):
        np.testing.assert_array_equal(got.samples, expected.samples)
        assert not any(np.shares_memory(got.samples, a) for a in [got.target, *source])
        got.samples *= 0.5
    for a, b in zip(source, arrays()):
        np.testing.assert_array_equal(a, b)
    sf.write(tmp_path / "a.wav", arrays()[0], SR, subtype="FLOAT")
    for chunk in AugmentStream(str(tmp_path / "a.wav"), None, sample_rate=SR, chunk_s=chunk_s, target="clean"):
        assert not np.shares_memory(chunk.samples, chunk.target)


@pytest.mark.parametrize("composed,target", [(False, None), (False, "clean"), (True, "clean")])
def test_streams_sharing_a_pipeline_in_threads_record_each_items_own_params(composed, target):
    # A chunk's params were read from pipeline.last_params after the call: with two streams over one
    # pipeline in two threads, the other thread's draw was often recorded (replaying it gave another output).
    import threading

    from noisegen.transforms import PitchShift

    interval = sys.getswitchinterval()
    rng = np.random.default_rng(2)
    items = [rng.standard_normal(int(n)).astype(np.float32) for n in rng.integers(800, 3000, 12)]
    pipe = PitchShift(min_semitones=-3, max_semitones=3, p=0.8)
    pipe = Compose([Gain(p=0.5), pipe]) if composed else pipe

    def chunks(seed):
        stream = AugmentStream(items, pipe, sample_rate=8000, chunk_s=None, rng=seed, shuffle=True, epochs=6,
                               target=target)
        return [(json.dumps(c.params), c.samples.tobytes()) for c in stream]

    want = {seed: chunks(seed) for seed in (0, 1)}
    got, errors = {}, []
    barrier = threading.Barrier(2)

    def run(seed):
        try:
            barrier.wait()
            got[seed] = chunks(seed)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=run, args=(seed,)) for seed in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors
    for seed in (0, 1):
        assert [s for _, s in got[seed]] == [s for _, s in want[seed]]
        assert [p for p, _ in got[seed]] == [p for p, _ in want[seed]]


@pytest.mark.parametrize("chunk_s", [None, 0.5])
def test_a_file_out_of_the_resamplers_reach_is_skipped_naming_its_rate(tmp_path, chunk_s):
    """A file at 8 Hz (more than 256x from 16 kHz) or at 1 MHz (above the 768 kHz resample takes) was skipped
    saying "target_sample_rate / orig_sample_rate must be in [1/256, 256] ...; resample in two steps" or
    "orig_sample_rate must be an integer in Hz in [1, 768000]": resample's arguments and advice, which a
    stream's user neither passes nor can take. It now names the file's rate, as a noise bank does."""
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "ok.wav", 0.1 * rng.standard_normal(SR // 2), SR)
    sf.write(tmp_path / "r8.wav", 0.1 * rng.standard_normal(80), 8)
    sf.write(tmp_path / "bat.wav", 0.1 * rng.standard_normal(4000), 1_000_000)
    (tmp_path / "files.txt").write_text("r8.wav\nok.wav\nbat.wav\n")
    for source in (tmp_path, tmp_path / "files.txt", [str(tmp_path / n) for n in ("bat.wav", "r8.wav", "ok.wav")]):
        stream = AugmentStream(source, Gain(p=1.0), sample_rate=SR, chunk_s=chunk_s, rng=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            n, chunks = len(stream), list(stream)
        assert n == len(chunks) == 1 and chunks[0].source.endswith("ok.wav")
        said = sorted(str(w.message) for w in caught if issubclass(w.category, NoisegenWarning))
        assert len(said) == 2 and not any("orig_sample_rate" in m or "two steps" in m for m in said), said
        for why in ("at 1000000 Hz, above the 768000 Hz noisegen.resample takes",
                    "at 8 Hz, too far from 16000 Hz: noisegen.resample changes a rate by at most 256x"):
            assert sum(why in m for m in said) == 1, (why, said)


@pytest.mark.parametrize("kind", ["numpy str", "numpy object", "pandas", "pandas object", "pandas string",
                                  "pandas index"])
@pytest.mark.parametrize("shuffle", [True, False])
def test_a_column_of_paths_streams_as_a_list_of_them(tmp_path, kind, shuffle):
    """A 1-D array of paths (df['path'], np.array(paths)) was refused as "one array" / "one signal ... wrap it
    in a list" (pandas' str dtype), or streamed nothing: with shuffle=False each path was an item skipped
    ("must be float32 or float64 audio, got dtype <U..."); wrapped in a list as told, one item skipped."""
    paths = []
    for k, n in enumerate((500, 700, 1200)):
        paths.append(str(tmp_path / f"{k}.wav"))
        noisegen.save(paths[-1], np.full(n, 0.1 * (k + 1), np.float32), sample_rate=1000)
    if kind.startswith("numpy"):
        column = np.array(paths, dtype=object if kind.endswith("object") else None)
    else:
        pd = pytest.importorskip("pandas")
        dtype = {"pandas object": object, "pandas string": "string"}.get(kind)
        column = pd.Index(paths) if kind == "pandas index" else pd.Series(paths, dtype=dtype)
    want = list(AugmentStream(paths, Gain(p=1.0), sample_rate=1000, chunk_s=0.4, rng=3, shuffle=shuffle))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoisegenWarning)
        got = list(AugmentStream(column, Gain(p=1.0), sample_rate=1000, chunk_s=0.4, rng=3, shuffle=shuffle))
    assert len(want) == 7 and [(c.source, c.samples.tobytes()) for c in got] == [
        (c.source, c.samples.tobytes()) for c in want]


def test_paths_given_as_bytes_are_str_sources(tmp_path):
    """A list of bytes paths (os.fsencode, a non-UTF-8 name) gave bytes chunk sources and skipped names, where
    both are documented str: noisegen.torch then failed to record a skipped one (bytes is not JSON serializable)."""
    folder = os.fsencode(tmp_path)
    paths = [folder + b"/\xff name.wav", folder + b"/gone.wav"]
    sf.write(paths[0], np.full(700, 0.1, np.float32), 1000)
    stream = AugmentStream(paths, None, sample_rate=1000, chunk_s=0.4, rng=0, shuffle=False)
    with pytest.warns(NoisegenWarning, match="gone.wav"):
        chunks = list(stream)
    assert [(c.source, c.length) for c in chunks] == [(os.fsdecode(paths[0]), 400), (os.fsdecode(paths[0]), 300)]
    assert stream.skipped == [os.fsdecode(paths[1])]
    json.dumps(stream.skipped)
    assert [c.samples.tobytes() for c in chunks] == [c.samples.tobytes() for c in AugmentStream(
        os.fsdecode(tmp_path), None, sample_rate=1000, chunk_s=0.4, rng=0, shuffle=False)]


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("channels", [1, 2])
def test_a_file_holding_nan_or_inf_is_skipped_in_the_same_words_at_any_rate(tmp_path, bad, channels):
    """A file with NaN/inf samples streamed at another rate was skipped as "y must be finite, got 1 NaN/inf
    sample(s)" (the resampler's argument, which the user never gave); at its own rate "holds NaN or inf
    samples". Every rate, and every source (folder, manifest, tar shard), now says the latter."""
    import tarfile

    folder = tmp_path / "in"
    folder.mkdir()
    y = np.full((channels, 800), 0.1, np.float32)
    y[-1, 5] = bad
    sf.write(folder / "a.wav", y.T, 8000, subtype="FLOAT")
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio_filepath": str(folder / "a.wav"), "duration": 0.05}) + "\n")
    with tarfile.open(tmp_path / "s.tar", "w") as tf:
        tf.add(folder / "a.wav", arcname="a.wav")
    for source in (folder, tmp_path / "m.jsonl", tmp_path / "s.tar"):
        for rate in (8000, 16000, 22050, 4000):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                got = list(AugmentStream(str(source), Gain(p=1.0), sample_rate=rate, shuffle=False, mono=False))
            said = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
            assert got == [] and len(said) == 1 and "holds NaN or inf samples" in said[0], (source, rate, said)


@pytest.mark.parametrize("epochs", [2, 3])
def test_a_silent_item_warns_once_for_the_run_not_once_every_epoch(epochs):
    """Under Python's default filter, a text is shown once per place: the item's warnings named its
    epoch too, so a silent file warned again in every epoch (each transform once more)."""
    from noisegen.transforms import Compose, Gain, Normalize

    arrays = [np.zeros(400, np.float32), np.random.default_rng(0).standard_normal(400).astype(np.float32)]
    stream = AugmentStream(arrays, Compose([Gain(p=1.0), Normalize(p=1.0)]), sample_rate=8000, rng=1,
                           epochs=epochs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        chunks = list(stream)
    assert len(chunks) == 2 * epochs
    messages = _silent_warnings(caught)
    assert len(messages) == 1 and "(item 'array:0')" in messages[0], messages
