"""noisegen.hf: Dataset.map / with_transform functions keyed by row index.

``datasets`` is in the ``test`` extra, so these run in CI. Datasets are made
in code (no hub); the ``Audio`` feature of datasets >= 4 decodes through
torchcodec, so rows here are plain ``{"array", "sampling_rate"}`` dicts or
``Audio(decode=False)``-style ``{"bytes", "path"}`` dicts.
"""

import importlib
import io
import json
import warnings

import datasets
import numpy as np
import pytest
import soundfile as sf

import noisegen
import noisegen.hf as nh

SR = 16000
LENGTHS = (800, 1600, 0, 1200, 400, 3000, 2000, 1000, 500, 700, 900)


def _pipeline():
    return noisegen.Compose(
        [noisegen.AddColoredNoise(min_snr_db=5, max_snr_db=20, p=1.0), noisegen.Gain(p=0.5),
         noisegen.LowPassFilter(p=0.5)]
    )


def _rows(channels=1, dtype=np.float32):
    rng = np.random.default_rng(1)
    shape = (lambda n: (n,)) if channels == 1 else (lambda n: (channels, n))
    return [{"array": (0.1 * rng.standard_normal(shape(n))).astype(dtype), "sampling_rate": SR} for n in LENGTHS]


def _arrays(ds, column="audio"):
    return [np.asarray(row["array"], dtype=np.float32) for row in ds[column]]


def _direct(rows, pipeline, rng):
    return [pipeline(np.asarray(r["array"], dtype=np.float32), sample_rate=r["sampling_rate"],
                     rng=nh.row_key(i, rng=rng)) for i, r in enumerate(rows)]


def _equal(a, b):
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("channels", [1, 2])
def test_map_gives_the_same_arrays_for_any_num_proc_and_batch_size(channels):
    rows = _rows(channels)
    ds = datasets.Dataset.from_dict({"audio": rows, "text": [f"t{i}" for i in range(len(rows))]})
    pipeline = _pipeline()
    fn = nh.augment_fn(pipeline, rng=0)
    expected = _direct(rows, pipeline, 0)
    for num_proc in (1, 2):
        for batch_size in (1, 8):
            out = ds.map(fn, batched=True, batch_size=batch_size, with_indices=True, num_proc=num_proc,
                         load_from_cache_file=False)
            assert _equal(_arrays(out), expected), (num_proc, batch_size)
            assert out["text"] == ds["text"] and set(out["audio"][0]) == {"array", "sampling_rate"}
            params = [json.loads(p) for p in out["noisegen_params"]]
            assert all(p["name"] == "Compose" and p["applied"] for p in params)
    unbatched = ds.map(fn, with_indices=True, load_from_cache_file=False)
    assert _equal(_arrays(unbatched), expected)
    assert not np.array_equal(expected[0], np.asarray(rows[0]["array"]))


def test_a_pipeline_with_banks_of_arrays_is_taken_and_the_same_for_any_num_proc():
    # augment_fn(AddBackgroundNoise([arrays])) was refused ("a NoiseBank of arrays (noise) cannot be written to
    # a dict"): its workers rebuilt the pipeline from to_dict(), which a bank held in memory has not
    rng = np.random.default_rng(3)
    noise = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (500, 4000)]
    rir = [np.exp(-np.arange(300) / 40.0) * rng.standard_normal(300)]
    pipeline = noisegen.Compose([noisegen.AddBackgroundNoise(noise, min_snr_db=0, max_snr_db=10, p=1.0),
                                 noisegen.ApplyImpulseResponse(rir, p=0.7), noisegen.Gain(p=0.5)])
    rows = _rows()
    expected = _direct(rows, pipeline, 4)
    ds = datasets.Dataset.from_dict({"audio": rows}).add_column("idx", list(range(len(rows))))
    for num_proc in (1, 2):
        for batched in (True, False):
            out = ds.map(nh.augment_fn(pipeline, rng=4), batched=batched, batch_size=4, with_indices=True,
                         num_proc=num_proc, load_from_cache_file=False)
            assert _equal(_arrays(out), expected), (num_proc, batched)
    view = ds.with_transform(nh.augment_fn(pipeline, rng=4, index_column="idx"))
    assert _equal([np.asarray(a["array"]) for a in view[:]["audio"]], expected)


def test_params_column_replays_to_the_same_audio():
    rows = _rows()
    pipeline = _pipeline()
    out = datasets.Dataset.from_dict({"audio": rows}).map(
        nh.augment_fn(pipeline, rng=5), batched=True, with_indices=True, load_from_cache_file=False
    )
    for row, got, params in zip(rows, _arrays(out), out["noisegen_params"]):
        replay = pipeline.apply_params(row["array"], sample_rate=SR, params=json.loads(params))
        assert np.array_equal(replay, got)


def test_with_transform_keys_rows_by_the_index_column():
    rows = _rows()
    pipeline = _pipeline()
    expected = _direct(rows, pipeline, 3)
    ds = datasets.Dataset.from_dict({"audio": rows}).add_column("idx", list(range(len(rows))))
    view = ds.with_transform(nh.augment_fn(pipeline, rng=3, index_column="idx"))
    for i in (4, 0, 7):
        assert np.array_equal(np.asarray(view[i]["audio"]["array"]), expected[i])
    batch = view[2:9]
    assert _equal([np.asarray(a["array"]) for a in batch["audio"]], expected[2:9])
    assert json.loads(batch["noisegen_params"][0])["name"] == "Compose"
    again = ds.map(nh.augment_fn(pipeline, rng=3), batched=True, with_indices=True, load_from_cache_file=False)
    assert _equal(_arrays(again), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_at_other_rates_are_resampled_first(dtype):
    rng = np.random.default_rng(2)
    rates = [8000, 16000, 22050, 16000]
    rows = [{"array": (0.1 * rng.standard_normal(r // 4)).astype(dtype), "sampling_rate": r} for r in rates]
    pipeline = noisegen.Gain(p=1.0)
    fn = nh.augment_fn(pipeline, rng=0, sample_rate=SR, output_column="aug", params_column=None)
    out = fn({"audio": rows}, list(range(len(rows))))
    assert set(out) == {"audio", "aug"} and out["audio"] is rows
    for i, (row, got) in enumerate(zip(rows, out["aug"])):
        x = noisegen.resample(row["array"].astype(np.float32), orig_sample_rate=row["sampling_rate"],
                              target_sample_rate=SR)
        assert got["sampling_rate"] == SR and got["array"].dtype == np.float32
        assert np.array_equal(got["array"], pipeline(x, sample_rate=SR, rng=nh.row_key(i, rng=0)))


def test_encoded_rows_are_decoded(tmp_path):
    """``Audio(decode=False)`` rows: ``{"bytes": ..., "path": ...}``."""
    rows = _rows(channels=2)[:4]
    encoded = []
    for i, row in enumerate(rows):
        buffer = io.BytesIO()
        sf.write(buffer, row["array"].T, SR, format="WAV", subtype="FLOAT")
        if i % 2:
            encoded.append({"bytes": buffer.getvalue(), "path": None})
        else:
            path = str(tmp_path / f"{i}.wav")
            with open(path, "wb") as fh:
                fh.write(buffer.getvalue())
            encoded.append({"bytes": None, "path": path})
    ds = datasets.Dataset.from_dict({"audio": encoded})
    pipeline = _pipeline()
    out = ds.map(nh.augment_fn(pipeline, rng=1, output_column="augmented"), batched=True, with_indices=True,
                 load_from_cache_file=False)
    assert _equal(_arrays(out, "augmented"), _direct(rows, pipeline, 1))


def test_encoded_bytes_behind_an_id3_tag_decode_to_every_frame_the_file_reads(tmp_path):
    """``Audio(decode=False)`` bytes of a WAV behind a tagger's ID3v2 tag: read with soundfile.read, they lost
    as many bytes off their end as the tag held (752 of 20,000 stereo frames for 3,000 bytes, no warning),
    in augment_fn and as an AugmentStream source alike, where the file (and a tar member) reads whole."""
    buffer = io.BytesIO()
    sf.write(buffer, np.random.default_rng(1).uniform(-0.5, 0.5, (20000, 2)), SR, format="WAV", subtype="PCM_16")
    data = b"ID3\x03\x00\x00" + bytes((3000 >> s) & 0x7F for s in (21, 14, 7, 0)) + bytes(3000) + buffer.getvalue()
    (tmp_path / "a.wav").write_bytes(data)
    want = noisegen.load(tmp_path / "a.wav")[0]
    assert want.shape == (2, 20000)
    value = {"bytes": data, "path": None}
    out = nh.augment_fn(noisegen.Gain(min_gain_db=0.0, max_gain_db=0.0, p=1.0), rng=0)({"audio": [value]}, [0])
    np.testing.assert_array_equal(out["audio"][0]["array"], want)
    stream = noisegen.AugmentStream([value], None, sample_rate=SR, mono=False, shuffle=False)
    assert len(stream) == 1
    np.testing.assert_array_equal(next(iter(stream)).samples, want)


@pytest.mark.parametrize("shape", [(100, 50), (70, 1)], ids=str)
@pytest.mark.parametrize("rate", [None, SR // 2, SR * 3], ids=str)
def test_an_encoded_short_file_of_many_channels_is_read_as_what_it_is(tmp_path, shape, rate):
    """A file's frames (bytes or a path) are laid out as the file says: a short file of many channels (100
    of 50 frames) was refused as a channels-last array ('pass y.T', which no user can do for a file), at its
    own rate or resampled; a caller's array of that shape is still refused."""
    y = np.random.default_rng(3).standard_normal(shape).astype(np.float32) * 0.1
    buffer = io.BytesIO()
    sf.write(buffer, y.T, SR, format="WAV", subtype="FLOAT")
    (tmp_path / "a.wav").write_bytes(buffer.getvalue())
    want = y if rate in (None, SR) else np.stack([noisegen.resample(row, orig_sample_rate=SR, target_sample_rate=rate)
                                                  for row in y])
    fn = nh.augment_fn(noisegen.Gain(min_gain_db=-6.0, max_gain_db=-6.0, p=1.0), rng=0, sample_rate=rate)
    for value in ({"bytes": buffer.getvalue(), "path": None}, {"bytes": None, "path": str(tmp_path / "a.wav")}):
        out = fn({"audio": [value]}, [0])["audio"][0]
        assert out["sampling_rate"] == (rate or SR)
        np.testing.assert_allclose(out["array"], want * 10 ** (-6 / 20), rtol=1e-5, atol=1e-6)
    with pytest.raises(noisegen.ParameterError, match=r"channels-last"):
        fn({"audio": [{"array": y, "sampling_rate": SR}]}, [0])


class _FakeDecoder:
    """What the ``Audio`` feature of datasets >= 4 yields: a torchcodec ``AudioDecoder``
    (``get_all_samples()`` -> ``.data`` tensor of shape (channels, n), ``.sample_rate``)."""

    class _Samples:
        def __init__(self, data, sample_rate):
            self.data, self.sample_rate = self, sample_rate
            self._array = data

        def cpu(self):
            return self

        def numpy(self):
            return self._array

    def __init__(self, array, sample_rate):
        self._array, self._rate = np.atleast_2d(array), sample_rate

    def get_all_samples(self):
        return self._Samples(self._array, self._rate)


@pytest.mark.parametrize("channels", [1, 2])
def test_audio_decoders_are_read_with_all_channels(channels):
    rows = _rows(channels)[:5]
    pipeline = _pipeline()
    fn = nh.augment_fn(pipeline, rng=2)
    out = fn({"audio": [_FakeDecoder(r["array"], SR) for r in rows]}, list(range(len(rows))))
    assert _equal([a["array"] for a in out["audio"]], _direct(rows, pipeline, 2))
    assert all(a["array"].shape == r["array"].shape for a, r in zip(out["audio"], rows))


class _BrokenDecoder:
    """A torchcodec ``AudioDecoder`` of a damaged file: ``get_all_samples()`` raises its RuntimeError."""

    def get_all_samples(self):
        raise RuntimeError("Could not decode frame: Invalid data found when processing input")


def test_an_audio_decoder_that_fails_names_its_row():
    # the decoder's RuntimeError went through map as it was, naming no row (of a million), where undecodable
    # bytes said "row 5 of column 'audio': cannot decode the row's audio bytes"
    fn = nh.augment_fn(noisegen.Gain(p=1.0), rng=0)
    good = _FakeDecoder(np.full(400, 0.1, np.float32), SR)
    for batch, indices in (({"audio": [good, _BrokenDecoder()]}, [3, 4]), ({"audio": _BrokenDecoder()}, 4)):
        with pytest.raises(noisegen.NoisegenError, match=r"^row 4 of column 'audio': cannot decode the row's audio "
                                                         r"\(RuntimeError: Could not decode frame"):
            fn(batch, indices)
    with warnings.catch_warnings(record=True) as caught:  # a stream source skips it, saying why, as before
        warnings.simplefilter("always")
        chunks = list(noisegen.AugmentStream([good, _BrokenDecoder()], None, sample_rate=SR, chunk_s=None, rng=0,
                                             shuffle=False))
    assert [c.item for c in chunks] == [0]
    assert any("'array:1'" in str(w.message) and "Could not decode frame" in str(w.message) for w in caught)


def test_bad_use_is_reported():
    fn = nh.augment_fn(noisegen.Gain(), rng=0)
    batch = {"audio": [{"array": np.zeros(4, np.float32), "sampling_rate": SR}]}
    with pytest.raises(noisegen.ParameterError, match="with_indices"):
        fn(batch)
    with pytest.raises(noisegen.ParameterError, match="index_column 'idx'"):
        nh.augment_fn(noisegen.Gain(), rng=0, index_column="idx")(batch)
    with pytest.raises(noisegen.ParameterError, match="column 'speech'"):
        nh.augment_fn(noisegen.Gain(), rng=0, column="speech")(batch, [0])
    with pytest.raises(noisegen.ParameterError, match="indices"):
        fn(batch, [-1])
    with pytest.raises(noisegen.ParameterError, match=r"row 0 .*sampling_rate"):
        fn({"audio": [{"array": np.zeros(4, np.float32), "sampling_rate": None}]}, [0])
    with pytest.raises(noisegen.NoisegenError, match="row 5 of column 'audio': cannot decode the row's audio bytes"):
        fn({"audio": [{"bytes": b"RIFF not a wav", "path": None}]}, [5])  # named no row: which of a million?
    with pytest.raises(FileNotFoundError, match=r"^\[Errno 2\] row 6 of column 'audio': .*: '/nonexistent/a\.wav'"):
        fn({"audio": [{"bytes": None, "path": "/nonexistent/a.wav"}]}, [6])  # named the file, not the row
    with pytest.raises(noisegen.ParameterError, match="row 3 .*finite"):
        fn({"audio": [{"array": np.full(4, np.nan, np.float32), "sampling_rate": SR}]}, [3])
    for rate in (0, 10**9, 16000.5, True):  # 10**9 was taken, and every row then failed in resample
        with pytest.raises(noisegen.ParameterError, match=r"sample_rate must be an integer in Hz in \[1, 768000\]"):
            nh.augment_fn(noisegen.Gain(), rng=0, sample_rate=rate)
    assert nh.augment_fn(noisegen.Gain(), rng=0, sample_rate=np.int64(8000)).sample_rate == 8000
    with pytest.raises(noisegen.ParameterError, match=r"row 0 .*audio\['sampling_rate'\] must be an integer in Hz"):
        fn({"audio": [{"array": np.zeros(4, np.float32), "sampling_rate": 10**12}]}, [0])
    with pytest.raises(noisegen.ParameterError, match="rng"):
        nh.augment_fn(noisegen.Gain(), rng=-1)
    # a bad pipeline is named as augment_fn's argument (it was load_pipeline's, twice: 'path_or_dict: path_or_dict')
    for bad in (3, "/nonexistent/pipeline.json"):
        with pytest.raises(noisegen.ParameterError, match=r"^pipeline[: ]") as err:
            nh.augment_fn(bad, rng=0)
        assert "path_or_dict" not in str(err.value)


@pytest.mark.parametrize("kwargs, match", [
    ({"params_column": "audio"}, "params_column 'audio' must differ"),
    ({"output_column": "aug", "params_column": "aug"}, "params_column 'aug' must differ"),
    ({"index_column": "idx", "params_column": "idx"}, "params_column 'idx' must differ"),
    ({"index_column": "audio"}, "index_column 'audio' must differ"),
    ({"output_column": "idx", "index_column": "idx"}, "index_column 'idx' must differ"),
])
def test_columns_that_would_overwrite_each_other_are_refused(kwargs, match):
    # params_column="audio" replaced every row's audio with its parameters' JSON, silently
    with pytest.raises(noisegen.ParameterError, match=match):
        nh.augment_fn(noisegen.Gain(), rng=0, **kwargs)
    fn = nh.augment_fn(noisegen.Gain(p=1.0), rng=0, output_column="aug", params_column="params", index_column="idx")
    out = fn({"audio": [{"array": np.ones(4, np.float32), "sampling_rate": SR}], "idx": [0]})
    assert out["aug"][0]["array"].shape == (4,) and isinstance(out["params"][0], str) and out["idx"] == [0]


@pytest.mark.parametrize("keyed", [False, True])
@pytest.mark.parametrize("batched", [False, True])
def test_a_column_of_plain_samples_is_refused_naming_the_column(batched, keyed):
    # unbatched, a row whose value is a list (not an audio dict) was taken for a batch and its int index
    # iterated: TypeError 'int' object is not iterable, naming neither the column nor what it should hold
    ds = datasets.Dataset.from_dict({"wave": [[0.1] * 40, [0.2] * 40], "idx": [0, 1]})
    fn = nh.augment_fn(noisegen.Gain(), rng=0, column="wave", index_column="idx" if keyed else None)
    with pytest.raises(noisegen.ParameterError, match=r"row 0 of column 'wave': wave must hold dicts .*got list"):
        ds.map(fn, with_indices=not keyed, batched=batched, load_from_cache_file=False)
    for row in ([0.1, 0.2], (0.1, 0.2), [[0.1], [0.2]]):
        with pytest.raises(noisegen.ParameterError, match=r"row 3 of column 'wave': .*got (list|tuple)"):
            fn({"wave": row, "idx": np.int64(3)}, None if keyed else 3)


def test_a_params_column_the_dataset_has_is_never_replaced():
    # a second augment_fn over an augmented dataset replaced the first's parameters with its own: the audio
    # holds both augmentations, and replaying the column gave other audio, silently
    rows = _rows()[:4]
    pipeline = _pipeline()
    once = datasets.Dataset.from_dict({"audio": rows}).map(nh.augment_fn(pipeline, rng=0), batched=True,
                                                         with_indices=True, load_from_cache_file=False)
    for kwargs in ({}, {"output_column": "aug"}):
        for batched in (True, False):
            with pytest.raises(noisegen.ParameterError, match=r"params_column 'noisegen_params' is already a column"):
                once.map(nh.augment_fn(pipeline, rng=1, **kwargs), batched=batched, with_indices=True,
                         load_from_cache_file=False)
    twice = once.map(nh.augment_fn(pipeline, rng=1, params_column="second"), batched=True, with_indices=True,
                     load_from_cache_file=False)
    assert twice["noisegen_params"] == once["noisegen_params"] and len(twice["second"]) == 4
    kept = once.map(nh.augment_fn(pipeline, rng=1, params_column=None), batched=True, with_indices=True,
                    load_from_cache_file=False)
    assert kept["noisegen_params"] == once["noisegen_params"]


def test_row_indices_past_64_bits_are_refused_not_wrapped():
    assert nh.row_key(2**64 - 1, rng=0) != nh.row_key(0, rng=0)
    for index in (2**64, 10**30, -1):
        with pytest.raises(noisegen.ParameterError, match=r"index must be a non-negative int below 2\*\*64"):
            nh.row_key(index, rng=0)



@pytest.mark.parametrize("array", [np.full(4, 1000, np.int16), np.ones(4, np.complex64), np.ones(4, np.uint8)])
def test_integer_pcm_and_complex_rows_are_refused(array):
    """An int16 row was cast to float32 as it stood (samples of 1000.0: the augmented audio hugely
    clipped), a complex one lost its imaginary part with a mere ComplexWarning; both are refused now,
    naming the row and pointing at noisegen.load, as every noisegen function refuses integer PCM."""
    fn = nh.augment_fn(noisegen.Gain(), rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(noisegen.ParameterError, match=r"row 2 of column 'audio': audio\['array'\] must be float"):
            fn({"audio": [{"array": array, "sampling_rate": SR}]}, [2])
    ragged = {"audio": [{"array": [[0.1, 0.2], [0.3]], "sampling_rate": SR}]}
    with pytest.raises(noisegen.ParameterError, match="row 0 .*must be a float array or a list of equally long rows"):
        fn(ragged, [0])
    floats = fn({"audio": [{"array": [0.0, 1.0, 0.0], "sampling_rate": SR}]}, [0])  # a list of floats is a signal
    assert floats["audio"][0]["array"].dtype == np.float32


def test_an_integer_pcm_column_is_refused_not_taken_as_floats():
    """datasets hands a List(int16) column over as Python ints: they were cast to floats of +-1000s."""
    datasets = pytest.importorskip("datasets")
    pcm = np.array([1000, -2000, 3000] * 10, np.int16)
    ds = datasets.Dataset.from_dict({"audio": [{"array": pcm, "sampling_rate": SR}]})
    fn = nh.augment_fn(noisegen.Gain(p=1.0), rng=0)
    with pytest.raises(noisegen.ParameterError, match=r"row 0 of column 'audio': audio\['array'\] holds integers"):
        ds.map(fn, batched=True, with_indices=True)
    with pytest.raises(noisegen.ParameterError, match="holds integers"):
        fn({"audio": [{"array": [0, 1, 0], "sampling_rate": SR}]}, [0])
    floats = datasets.Dataset.from_dict({"audio": [{"array": pcm / 32768, "sampling_rate": SR}]})
    out = floats.map(fn, batched=True, with_indices=True)
    gain_db = json.loads(out[0]["noisegen_params"])["gain_db"]
    np.testing.assert_allclose(out[0]["audio"]["array"], pcm / 32768 * 10 ** (gain_db / 20), rtol=1e-5)

def test_docstring_examples():
    import doctest

    result = doctest.testmod(importlib.import_module("noisegen.data.hf"), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("fmt", ["numpy", "torch"])
def test_a_dataset_in_the_numpy_or_torch_format_is_augmented_as_a_plain_one(fmt):
    # ds.with_format("numpy"/"torch").map(fn, ...) handed fn a batch as an object array of dicts (taken for
    # one row: "indices must be a non-negative int ..., got [0, 1, ...]") and each rate as a 0-d array or
    # tensor ("audio['sampling_rate'] must be an integer in Hz ..., got array(16000)")
    pytest.importorskip(fmt)
    rows = _rows()
    pipeline = _pipeline()
    expected = _direct(rows, pipeline, 0)
    ds = datasets.Dataset.from_dict({"audio": rows, "idx": list(range(len(rows)))}).with_format(fmt)
    for kwargs in ({"batched": True, "batch_size": 4}, {"batched": False}):
        out = ds.map(nh.augment_fn(pipeline, rng=0), with_indices=True, load_from_cache_file=False, **kwargs)
        assert _equal(_arrays(out.with_format(None)), expected), kwargs
    keyed = ds.map(nh.augment_fn(pipeline, rng=0, index_column="idx"), batched=True, load_from_cache_file=False)
    assert _equal(_arrays(keyed.with_format(None)), expected)


@pytest.mark.parametrize("num_workers", [0, 1, 2, 3])
def test_an_iterable_dataset_read_by_workers_is_keyed_by_global_row_indices_or_refused(num_workers):
    # ds.to_iterable_dataset(num_shards=4).map(fn, with_indices=True) read by a DataLoader with 2 or more workers
    # handed each worker indices counted from 0: rows of different workers got the same key (4 distinct
    # augmentations for 8 rows with 2 workers), and the result depended on num_workers, silently
    torch = pytest.importorskip("torch")
    rows = _rows()
    pipeline = _pipeline()
    expected = sorted(json.dumps(p) for p in _direct_params(rows, pipeline, 0))
    ds = datasets.Dataset.from_dict({"audio": rows}).add_column("idx", list(range(len(rows))))
    for num_shards in (1, 4):
        it = ds.to_iterable_dataset(num_shards=num_shards)
        keyed = it.map(nh.augment_fn(pipeline, rng=0, index_column="idx"), batched=True, batch_size=3)
        loader = torch.utils.data.DataLoader(keyed, batch_size=None, num_workers=num_workers)
        got = [r["noisegen_params"] for r in loader]
        assert sorted(got) == expected, (num_shards, num_workers)
        indexed = it.map(nh.augment_fn(pipeline, rng=0), batched=True, batch_size=3, with_indices=True)
        loader = torch.utils.data.DataLoader(indexed, batch_size=None, num_workers=num_workers)
        with pytest.raises(noisegen.ParameterError, match=r"indices: .*index_column"):  # (positions: see below)
            list(loader)


@pytest.mark.parametrize("order", ["map then shuffle", "shuffle then map", "set_epoch"])
def test_indices_of_an_iterable_dataset_map_are_refused_as_positions_not_rows(order):
    # in one process: ds.to_iterable_dataset(num_shards=2).map(fn, with_indices=True).shuffle(...) counted the
    # indices from 0 in each shard (rows 0 and 4 of 8 got one key: the same gain, the same noise), and
    # .shuffle().map(...) or set_epoch(2) gave each row the key of its shuffled position, silently
    rows = _rows()[:8]
    pipeline = _pipeline()
    ds = datasets.Dataset.from_dict({"audio": rows, "idx": list(range(len(rows)))})
    fn, keyed = nh.augment_fn(pipeline, rng=0), nh.augment_fn(pipeline, rng=0, index_column="idx")
    it = ds.to_iterable_dataset(num_shards=2)

    def read(fn, **kw):
        if order == "map then shuffle":
            out = it.map(fn, batched=True, batch_size=2, **kw).shuffle(seed=0, buffer_size=3)
        elif order == "shuffle then map":
            out = it.shuffle(seed=0, buffer_size=3).map(fn, **kw)
        else:
            out = it.map(fn, batched=True, batch_size=2, **kw)
            out.set_epoch(2)  # (datasets permutes the shards from the epoch)
        return {r["idx"]: r["noisegen_params"] for r in out}

    with pytest.raises(noisegen.ParameterError, match=r"indices: .*IterableDataset.*index_column='idx'"):
        read(fn, with_indices=True)
    got = read(keyed)
    assert [got[i] for i in range(len(rows))] == [json.dumps(p) for p in _direct_params(rows, pipeline, 0)]


def test_a_dataset_map_inside_an_iterable_dataset_maps_function_keeps_its_indices():
    # the refusal of an IterableDataset map's indices found that map on the stack above a Dataset.map run
    # inside its function (a batch made a Dataset and mapped with indices): real row indices, refused
    rows = _rows()[:4]
    pipeline = _pipeline()
    fn = nh.augment_fn(pipeline, rng=0)
    it = datasets.Dataset.from_dict({"audio": rows}).to_iterable_dataset(num_shards=1)

    def outer(batch, indices):
        inner = datasets.Dataset.from_dict({"audio": batch["audio"]}).map(fn, batched=True, with_indices=True)
        return {"noisegen_params": inner["noisegen_params"]}

    got = [r["noisegen_params"] for r in it.map(outer, batched=True, batch_size=4, with_indices=True)]
    assert got == [json.dumps(p) for p in _direct_params(rows, pipeline, 0)]


@pytest.mark.parametrize("num_workers", [1, 2])
@pytest.mark.parametrize("num_shards", [2, 4])
def test_ranks_of_an_iterable_dataset_read_by_workers_are_keyed_by_a_column_or_refused(num_workers, num_shards):
    # split_dataset_by_node(...).map(fn, with_indices=True) counted the indices from 0 on each rank: read by a
    # DataLoader (one shard a worker: no refusal), 8 rows over 2 ranks got 4 distinct augmentations, silently
    torch = pytest.importorskip("torch")
    from datasets.distributed import split_dataset_by_node

    rows = _rows()[:8]
    pipeline = _pipeline()
    expected = sorted(json.dumps(p) for p in _direct_params(rows, pipeline, 0))
    it = datasets.Dataset.from_dict({"audio": rows}).add_column("idx", list(range(len(rows)))).to_iterable_dataset(
        num_shards=num_shards)
    keyed, indexed = [], []
    for rank in (0, 1):
        part = split_dataset_by_node(it, rank=rank, world_size=2)
        loader = torch.utils.data.DataLoader(part.map(nh.augment_fn(pipeline, rng=0, index_column="idx"), batched=True,
                                                      batch_size=3), batch_size=None, num_workers=num_workers)
        keyed += [r["noisegen_params"] for r in loader]
        indexed.append(torch.utils.data.DataLoader(part.map(nh.augment_fn(pipeline, rng=0), batched=True, batch_size=3,
                                                            with_indices=True), batch_size=None, num_workers=num_workers))
    assert sorted(keyed) == expected
    for loader in indexed:
        with pytest.raises(noisegen.ParameterError, match=r"indices: .*of rank \d of 2.*index_column"):
            list(loader)


def _direct_params(rows, pipeline, rng):
    out = []
    for i, r in enumerate(rows):
        pipeline(np.asarray(r["array"], dtype=np.float32), sample_rate=r["sampling_rate"], rng=nh.row_key(i, rng=rng))
        out.append(pipeline.last_params)
    return out


@pytest.mark.parametrize("kind", ["arrays", "paths", "bytes", "mixed rates"])
def test_a_dataset_audio_column_is_a_stream_source(tmp_path, kind):
    """AugmentStream(ds["audio"]) skipped every row ('got dtype object', one warning each): a column of
    Hugging Face audio values (dicts of array and sampling_rate, of bytes or path) is a source like a list of
    (array, rate) pairs, chunk for chunk."""
    rng = np.random.default_rng(0)
    rates = [16000, 16000, 16000] if kind != "mixed rates" else [8000, 22050, 16000]
    clips = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (5000, 16000, 23001)]
    paths = []
    for i, (y, sr) in enumerate(zip(clips, rates)):
        paths.append(str(tmp_path / f"c{i}.wav"))
        sf.write(paths[-1], y, sr, subtype="FLOAT")
    if kind in ("arrays", "mixed rates"):
        ds = datasets.Dataset.from_dict({"audio": [{"array": y, "sampling_rate": sr} for y, sr in zip(clips, rates)]})
    else:
        ds = datasets.Dataset.from_dict({"audio": paths}).cast_column("audio", datasets.Audio(decode=False))
        if kind == "bytes":
            ds = datasets.Dataset.from_dict({"audio": [{"bytes": open(p, "rb").read(), "path": None} for p in paths]})
    pipe = noisegen.Gain(p=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stream = noisegen.AugmentStream(ds["audio"], pipe, sample_rate=16000, chunk_s=0.5, rng=3, shuffle=True)
        got = list(stream)
        assert len(stream) == len(got)
    want = list(noisegen.AugmentStream(list(zip(clips, rates)), pipe, sample_rate=16000, chunk_s=0.5, rng=3,
                                       shuffle=True))
    assert [(c.item, c.start, c.length, c.params) for c in got] == [(c.item, c.start, c.length, c.params) for c in want]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a.samples, b.samples)


@pytest.mark.parametrize("kind", ["paths", "bytes"])
def test_len_of_an_encoded_audio_column_reads_headers_not_every_row(tmp_path, monkeypatch, kind):
    # len(AugmentStream(ds["audio"])) of Audio(decode=False) rows decoded every file whole to count its
    # samples (300 rows of an 11.7 s FLAC: 1.2 s, 50x the same paths' len(), which reads their headers)
    import noisegen.data.items as items

    rates, lengths = (8000, 22050, 16000), (5000, 16000, 23001)
    paths = []
    for i, (n, sr) in enumerate(zip(lengths, rates)):
        paths.append(str(tmp_path / f"c{i}.flac"))
        sf.write(paths[-1], np.full(n, 0.1), sr)
    values = [{"bytes": None, "path": p} if kind == "paths" else {"bytes": open(p, "rb").read(), "path": None}
              for p in paths] + [{"bytes": b"junk", "path": None}]
    stream = noisegen.AugmentStream(values, None, sample_rate=16000, chunk_s=0.5, rng=3, shuffle=False)
    with monkeypatch.context() as m:
        m.setattr(items, "read_row_audio", lambda *a: pytest.fail("len() decoded a row"))
        n = len(stream)
    with pytest.warns(noisegen.NoisegenWarning, match="cannot be read"):  # (the junk row: skipped, counted 0)
        assert n == len(list(stream)) == sum(-(-(-(-k * 16000 // sr)) // 8000) for k, sr in zip(lengths, rates))


def test_len_counts_nothing_for_an_encoded_value_that_is_not_a_dict(tmp_path):
    # a Mapping that is not a dict ({"bytes", "path"} in a MappingProxyType) was counted from its file's header,
    # but read_row_audio takes dicts and the item is skipped unread: len() said 4 chunks, the pass gave none
    import types

    path = str(tmp_path / "a.wav")
    sf.write(path, np.full(16000, 0.1), 16000)
    stream = noisegen.AugmentStream([types.MappingProxyType({"bytes": None, "path": path})], None, sample_rate=16000,
                                    chunk_s=0.25, rng=0)
    with pytest.warns(noisegen.NoisegenWarning, match="skipping"):
        assert len(stream) == len(list(stream)) == 0


@pytest.mark.parametrize("bad", [{"bytes": b"junk", "path": None}, {"bytes": None, "path": "/nonexistent/x.wav"},
                                 "cut"])
@pytest.mark.parametrize("one_pass", [False, True])
def test_an_unreadable_audio_value_of_a_stream_source_is_skipped(bad, one_pass):
    """A Hugging Face audio value whose bytes do not decode (or whose path is missing) failed len(stream)
    and a one-pass iterable's iteration (NoisegenError, FileNotFoundError) instead of being reported once and
    skipped, as an unreadable file is."""
    buf = io.BytesIO()
    sf.write(buf, np.full(8000, 0.1), 8000, format="WAV")
    bad = {"bytes": buf.getvalue()[:40], "path": None} if bad == "cut" else bad
    good = [{"array": np.full(16000, 0.1), "sampling_rate": 16000}, {"bytes": buf.getvalue(), "path": None}]
    values = [good[0], bad, good[1]]
    stream = noisegen.AugmentStream(iter(values) if one_pass else values, None, sample_rate=16000, chunk_s=1.0,
                                    rng=0, shuffle=False, epochs=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if not one_pass:
            assert len(stream) == 2
        chunks = list(stream)
    assert [c.item for c in chunks] == [0, 2]
    messages = [str(w.message) for w in caught if issubclass(w.category, noisegen.NoisegenWarning)]
    assert len(messages) == 1 and "'array:1'" in messages[0] and "cannot be read" in messages[0], messages
    assert stream.skipped == ["array:1"]


@pytest.mark.parametrize("iterable", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_a_whole_dataset_as_a_stream_source_is_refused_pointing_at_its_audio_column(iterable, shuffle):
    """AugmentStream(ds) (not ds["audio"]) skipped every row as "must hold dicts with 'array' and
    'sampling_rate', ..., got dict" and yielded nothing (or was refused as a one-pass iterable for shuffle)."""
    ds = datasets.Dataset.from_dict({"audio": [{"array": np.full(800, 0.1, np.float32), "sampling_rate": 8000}] * 3,
                                     "text": ["a", "b", "c"]})
    source = ds.to_iterable_dataset() if iterable else ds
    with pytest.raises(noisegen.ParameterError, match=r"source must be a dataset's audio column, e\.g\. ds\['audio'\], "
                                                       r"not the (Iterable)?Dataset itself \(columns: \['audio', 'text'\]\)"):
        noisegen.AugmentStream(source, None, sample_rate=8000, chunk_s=None, rng=0, shuffle=shuffle)
    assert len(list(noisegen.AugmentStream(ds["audio"], None, sample_rate=8000, chunk_s=None, rng=0,
                                           shuffle=shuffle))) == 3


@pytest.mark.parametrize("num_shards", [1, 2, 4])
def test_an_iterable_dataset_column_read_by_workers_or_split_ranks_is_refused_not_thinned(num_shards):
    """ids["audio"] read through AugmentDataset by 2 or 3 DataLoader workers (or split_dataset_by_node and read
    by its ranks) lost rows silently: datasets deals its rows out over the workers (and the split ranks)
    itself, and each stream kept its own share of that share, keyed by positions counted from its rows."""
    torch = pytest.importorskip("torch")
    from datasets.distributed import split_dataset_by_node

    from noisegen.torch import AugmentDataset, collate

    ds = datasets.Dataset.from_dict({"audio": [{"array": np.full(900 + 100 * i, 0.1, np.float32),
                                                "sampling_rate": 1000} for i in range(8)]})
    ids = ds.to_iterable_dataset(num_shards=num_shards)

    def sources(column, num_workers, **kw):
        stream = noisegen.AugmentStream(column, noisegen.Gain(p=1.0), sample_rate=1000, chunk_s=0.5, rng=0,
                                        shuffle=False, **kw)
        loader = torch.utils.data.DataLoader(AugmentDataset(stream), batch_size=2, collate_fn=collate,
                                             num_workers=num_workers)
        return sorted(source for batch in loader for source in batch["sources"])

    whole = sources(ids["audio"], 0)
    assert len(set(whole)) == 8 and sources(ids["audio"], 1) == whole
    ranks = sources(ids["audio"], 0, rank=0, world_size=2) + sources(ids["audio"], 0, rank=1, world_size=2)
    assert sorted(ranks) == whole  # (a dataset not split: the stream deals it to the ranks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (datasets: more workers than shards)
        for num_workers in (2, 3):
            with pytest.raises(noisegen.ParameterError, match=f"IterableDataset read by {num_workers} DataLoader"):
                sources(ids["audio"], num_workers)
    split = split_dataset_by_node(ids, rank=0, world_size=2)["audio"]
    with pytest.raises(noisegen.ParameterError, match="read by 2 ranks of a split_dataset_by_node"):
        sources(split, 0, rank=0, world_size=2)
    assert len(sources(split, 0)) < len(whole)  # (one rank's split, streamed whole)


def test_a_row_without_audio_in_a_column_source_is_skipped_saying_so():
    """A None value in a stream's audio column was skipped as 'must be float32 or float64 audio, got dtype
    object', which did not say the row simply has no audio."""
    ds = datasets.Dataset.from_dict({"audio": [{"array": np.full(800, 0.1, np.float32), "sampling_rate": 8000}, None]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(noisegen.AugmentStream(ds["audio"], None, sample_rate=8000, chunk_s=0.1, rng=0, shuffle=False))
    assert [c.item for c in chunks] == [0]
    (message,) = [str(w.message) for w in caught if issubclass(w.category, noisegen.NoisegenWarning)]
    assert "'array:1'" in message and "is None: no audio" in message


@pytest.mark.parametrize("row_rate, rate", [(384000, 1000), (1000, 384000), (48000, 187)])
def test_a_row_beyond_resampling_is_named_by_its_own_rate(row_rate, rate):
    # augment_fn(sample_rate=...) refused such a row with resample's words ("target_sample_rate /
    # orig_sample_rate must be in [1/256, 256] ...; resample in two steps"), arguments the user never gave
    fn = nh.augment_fn(noisegen.Gain(p=1.0), rng=0, sample_rate=rate)
    for array in (np.ones(100, np.float32), np.ones((2, 100))):
        batch = {"audio": [{"array": np.ones(10, np.float32), "sampling_rate": rate},
                           {"array": array, "sampling_rate": row_rate}]}
        with pytest.raises(noisegen.ParameterError, match=rf"row 1 .*is at {row_rate} Hz, too far from "
                                                          rf"{rate} Hz") as refused:
            fn(batch, [0, 1])
        assert "target_sample_rate" not in str(refused.value)


@pytest.mark.parametrize("batched", [False, True])
def test_a_rows_warnings_name_the_row(batched):
    """A silent row warned "Normalize: the input is silent ..." naming no row (its errors name it)."""
    rows = [{"array": np.full(400, v, np.float32), "sampling_rate": 8000} for v in (0.1, 0.0, 0.2, 0.0)]
    ds = datasets.Dataset.from_dict({"audio": rows})
    fn = nh.augment_fn(noisegen.Normalize(p=1.0), rng=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds.map(fn, with_indices=True, batched=batched, batch_size=3)
    said = sorted(str(w.message) for w in caught if issubclass(w.category, noisegen.NoisegenWarning))
    assert said == [f"Normalize: the input is silent, so no peak level can be set; it is returned unchanged "
                    f"(row {i} of column 'audio')" for i in (1, 3)]
