"""Manifests as AugmentStream sources (issue 15.1) and len() of streams, batches and datasets (issue 15.2)."""

from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
import warnings

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

import noisegen
from noisegen import AugmentStream, NoisegenWarning, ParameterError
from noisegen.audio.segment import segment_span
from noisegen.audio.wav import WavFile
from noisegen.transforms import (AddColoredNoise, ApplyImpulseResponse, Compose, Gain, OneOf, PitchShift,
                                 PolarityInversion, SpeedPerturb, TimeStretch)

SR = 16000
SPEECH = ("cmu_arctic_us_aew_a0001.wav", "cmu_arctic_us_axb_a0005.wav", "common_voice_en_17299458.wav",
          "one_6f1ffef6_nohash_0.wav")


@pytest.fixture()
def corpus(tmp_path, data_dir):
    """The bundled speech plus copies at 8, 22.05 and 44.1 kHz (one of them stereo), in a sub-folder."""
    root = tmp_path / "corpus"
    shutil.copytree(data_dir / "speech", root / "speech")
    y, _ = sf.read(data_dir / "speech" / SPEECH[1])
    (root / "rates").mkdir()
    sf.write(root / "rates" / "axb_8k.wav", resample_poly(y, 1, 2), 8000)
    sf.write(root / "rates" / "axb_22k.flac", resample_poly(y, 441, 320), 22050)
    stereo = resample_poly(y, 441, 160)
    sf.write(root / "rates" / "axb_44k_stereo.wav", np.stack([stereo, -0.5 * stereo], axis=1), 44100)
    return root


# (relative path, offset s, duration s, metadata); None: the field is left out
ROWS = [
    ("speech/" + SPEECH[0], 0.5, 1.5, {"label": "sentence", "speaker": "aew"}),
    ("speech/" + SPEECH[3], None, None, {"label": "one", "speaker": "6f1ffef6"}),
    ("rates/axb_8k.wav", 0.25, 0.8, {"label": "sentence", "speaker": "axb"}),
    ("rates/axb_44k_stereo.wav", 0.37, None, {"label": "sentence", "speaker": "axb"}),
    ("speech/" + SPEECH[2], None, 1.2, {"label": "sentence", "speaker": "cv"}),
    ("rates/axb_22k.flac", 1.0, 5.0, {"label": "sentence", "speaker": "axb"}),  # duration past the end: cut there
]


def write_manifest(path, rows):
    """Rows as JSON Lines (NeMo names) or CSV/TSV (path, offset_s, duration_s), by ``path``'s ending."""
    if path.suffix == ".jsonl":
        with open(path, "w") as fh:
            for rel, offset, duration, meta in rows:
                row = {"audio_filepath": rel, **meta}
                row.update({k: v for k, v in (("offset", offset), ("duration", duration)) if v is not None})
                fh.write(json.dumps(row) + "\n")
        return path
    keys = sorted({k for *_, meta in rows for k in meta})
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh, delimiter="\t" if path.suffix == ".tsv" else ",")
        out.writerow(["path", "offset_s", "duration_s", *keys])
        for rel, offset, duration, meta in rows:
            out.writerow([rel, "" if offset is None else offset, "" if duration is None else duration,
                          *(meta.get(k, "") for k in keys)])
    return path


def segment(path, offset, duration, sample_rate):
    """The segment cut from the file with soundfile, mixed to mono and resampled to ``sample_rate``."""
    info = sf.info(str(path))
    start = 0 if offset is None else round(offset * info.samplerate)
    frames = -1 if duration is None else round(duration * info.samplerate)
    y, rate = sf.read(str(path), start=start, frames=frames, dtype="float64", always_2d=True)
    y = y.mean(axis=1)
    if rate != sample_rate:
        y = noisegen.resample(y, orig_sample_rate=rate, target_sample_rate=sample_rate)
    return y.astype(np.float32)


def pipeline():
    return Compose([Gain(p=1.0), AddColoredNoise(min_snr_db=10, max_snr_db=20, p=0.7), PolarityInversion(p=0.5)])


@pytest.mark.parametrize("ext", [".jsonl", ".csv", ".tsv"])
@pytest.mark.parametrize("sample_rate", [16000, 22050])
def test_manifest_chunks_are_the_segments_augmented_with_their_key(corpus, ext, sample_rate):
    manifest = write_manifest(corpus / f"train{ext}", ROWS)
    pipe = pipeline()
    chunks = list(AugmentStream(manifest, pipe, sample_rate=sample_rate, chunk_s=0.5, hop_s=0.4, rng=7, epochs=2))
    assert {(c.epoch, c.item) for c in chunks} == {(e, i) for e in range(2) for i in range(len(ROWS))}
    cache = {}
    for c in chunks:
        rel, offset, duration, meta = ROWS[c.item]
        assert c.source == str(corpus / rel)
        # CSV/TSV cells are strings, JSON keeps its types: the same here (all labels are strings)
        assert c.metadata == meta
        if (c.epoch, c.item) not in cache:
            raw = segment(corpus / rel, offset, duration, sample_rate)
            cache[c.epoch, c.item] = pipe.apply_params(raw, sample_rate=sample_rate, params=c.params)
        want = cache[c.epoch, c.item][c.start:c.start + c.length]
        np.testing.assert_allclose(c.samples[:c.length], want, rtol=0, atol=1e-6)
        assert not c.samples[c.length:].any()
    # the same segments whatever the manifest format: one key per (epoch, row)
    assert len({c.params["transforms"][0]["gain_db"] for c in chunks}) == 2 * len(ROWS)


@pytest.mark.parametrize("ext", [".jsonl", ".csv", ".tsv"])
def test_a_gzipped_manifest_streams_its_rows(corpus, ext):
    """'cuts.jsonl.gz' (as lhotse writes manifests) was taken for one audio file: warned of as unreadable
    audio ('Format not recognised'), and the stream was empty."""
    import gzip

    plain = write_manifest(corpus / f"plain{ext}", ROWS)
    want = [(c.item, c.start, c.length, c.metadata) for c in
            AugmentStream(plain, None, sample_rate=SR, chunk_s=1.0, rng=4, epochs=2)]
    for suffix in (".gz", ".GZ"):
        packed = corpus / f"packed{ext}{suffix}"
        packed.write_bytes(gzip.compress(b"\xef\xbb\xbf" + plain.read_bytes()))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            stream = AugmentStream(packed, None, sample_rate=SR, chunk_s=1.0, rng=4, epochs=2)
            assert len(stream) == len(want)
            assert [(c.item, c.start, c.length, c.metadata) for c in stream] == want
    packed.write_bytes(gzip.compress(plain.read_bytes())[:-9])  # cut short
    with pytest.raises(ParameterError, match=r"packed.*cannot be read"):
        AugmentStream(packed, None, sample_rate=SR)
    packed.write_bytes(plain.read_bytes())  # not gzip at all
    with pytest.raises(ParameterError, match=r"packed.*cannot be read"):
        AugmentStream(packed, None, sample_rate=SR)
    packed.write_bytes(gzip.compress(plain.read_bytes() + b"x.wav,caf\xe9\n"))
    line = len(ROWS) + (1 if ext == ".jsonl" else 2)
    with pytest.raises(ParameterError, match=rf"must be UTF-8 text, got not UTF-8: line {line} "):
        AugmentStream(packed, None, sample_rate=SR)


def test_relative_paths_resolve_against_the_manifest_folder(corpus, monkeypatch, tmp_path):
    manifest = write_manifest(corpus / "m.jsonl", ROWS[:2])
    monkeypatch.chdir(tmp_path)  # not the manifest's folder
    chunks = list(AugmentStream("corpus/m.jsonl", None, sample_rate=SR, rng=0, shuffle=False))
    assert [c.source for c in chunks] == [str(corpus / r[0]) for r in ROWS[:2]]
    assert manifest.exists()


@pytest.mark.parametrize("ext", [".jsonl", ".csv"])
def test_a_path_written_from_the_current_directory_is_said_to_be(corpus, monkeypatch, tmp_path, ext):
    """'corpus/speech/a.wav' in corpus/m.csv, run from tmp_path: each row was skipped as 'no such audio file
    .../corpus/corpus/speech/a.wav', with no word of where relative paths are taken from."""
    monkeypatch.chdir(tmp_path)
    rows = [("corpus/" + rel, offset, duration, meta) for rel, offset, duration, meta in ROWS[:2]]
    rows.append(("speech/" + SPEECH[1], None, None, {"label": "right"}))  # written from the manifest's folder
    rows.append(("corpus/speech/gone.wav", None, None, {"label": "gone"}))  # nowhere
    manifest = write_manifest(corpus / f"m{ext}", rows)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(AugmentStream(manifest, None, sample_rate=SR, rng=0, shuffle=False))
    assert [c.metadata["label"] for c in chunks] == ["right"]
    messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    assert len(messages) == 3
    for line, (rel, *_) in zip((2, 3), rows) if ext == ".csv" else zip((1, 2), rows):
        (said,) = [m for m in messages if f"m{ext} line {line}'" in m]
        assert f"no such audio file {str(corpus / rel)!r}: a relative path is taken from the manifest's folder" in said
        assert f"(where {rel!r} is a file)" in said
    assert "no such audio file" in messages[-1] and "current directory" not in messages[-1]
    monkeypatch.chdir(corpus)  # from the manifest's folder, the same rows are plainly missing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(list(AugmentStream(manifest, None, sample_rate=SR, rng=0, shuffle=False))) == 1
    assert not any("current directory" in str(w.message) for w in caught)


def _skips_said(manifest, rels):
    """Write ``rels`` to ``manifest`` (a plain list for .txt), stream it, and return the items streamed and
    each skipped row's warning by its line."""
    from noisegen.data.manifest import read_manifest

    if manifest.suffix == ".txt":
        manifest.write_text("".join(rel + "\n" for rel in rels))
    else:
        write_manifest(manifest, [(rel, None, None, {}) for rel in rels])
    lines = [r.line for r in read_manifest(manifest)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(AugmentStream(manifest, None, sample_rate=SR, rng=0, shuffle=False))
    messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    said = {line: m for m in messages for line in lines if f"{manifest.name} line {line}'" in m}
    assert len(said) == len(messages)
    return [c.item for c in chunks], [said.get(line) for line in lines]


@pytest.mark.parametrize("ext", [".jsonl", ".csv", ".txt"])
@pytest.mark.parametrize("where", ["sub", "deeper/sub", "absolute"])
def test_a_path_written_as_on_another_system_is_said_to_be(corpus, ext, where):
    """A manifest written on Windows ('sub\\a.wav') or naming a file in the other Unicode form of its accents
    (NFC 'café.wav' for macOS's NFD name; the two look the same) was skipped row by row as 'no such audio
    file', with no word of why: the stream was empty, the files plainly there."""
    import unicodedata

    folder = corpus / where.replace("absolute", "abs")
    folder.mkdir(parents=True)
    y = np.sin(np.arange(800, dtype=np.float32)) * 0.5
    names = {"win": "a.wav", "nfd": unicodedata.normalize("NFD", "café ü.wav"),
             "nfc": unicodedata.normalize("NFC", "naïve.wav")}
    for name in names.values():
        sf.write(folder / name, y, SR)
    prefix = str(folder) + "/" if where == "absolute" else where + "/"
    rels = [(prefix + names["win"]).replace("/", "\\"),
            prefix + unicodedata.normalize("NFC", names["nfd"]), prefix + unicodedata.normalize("NFD", names["nfc"]),
            prefix + "gone.wav", (prefix + "gone.wav").replace("/", "\\"), prefix + names["win"]]
    items, said = _skips_said(corpus / f"m{ext}", rels)
    assert items == [5] and said[5] is None
    assert f"written with Windows' '\\' between folders (where {str(folder / names['win'])!r} is a file)" in said[0]
    for k, form in ((1, "NFD"), (2, "NFC")):
        assert f"the file is there with its name in Unicode's {form} form" in said[k]
        assert f"{str(folder / unicodedata.normalize(form, rels[k].rsplit('/', 1)[1]))!r}" in said[k]
    assert "no such audio file" in said[3] and "Unicode" not in said[3] and "Windows" not in said[3]
    assert "written with Windows' '\\'" in said[4] and "is a file" not in said[4]


@pytest.mark.parametrize("ext", [".jsonl", ".csv"])
def test_a_path_written_with_spaces_around_it_is_said_to_be(corpus, ext):
    """A hand-aligned CSV ('a.wav , yes': the spaces after a comma are dropped, those before it are the
    cell's) or a JSON path ' a.wav' named no file, and each row was skipped as 'no such audio file
    .../a.wav '' (the space hard to see in the quote), the files plainly there."""
    sf.write(corpus / "a.wav", np.sin(np.arange(800, dtype=np.float32)) * 0.5, SR)
    spaced = "a.wav\t" if ext == ".csv" else " a.wav"  # (a CSV's spaces after its comma are dropped)
    items, said = _skips_said(corpus / f"m{ext}", ["a.wav  ", spaced, "gone.wav ", "a.wav"])
    assert items == [3] and said[3] is None
    for k in (0, 1):
        assert f"written with spaces around it, and {str(corpus / 'a.wav')!r} is a file" in said[k]
    assert "no such audio file" in said[2] and "spaces" not in said[2]


@pytest.mark.parametrize("ext", [".jsonl", ".csv", ".txt"])
def test_a_path_in_another_case_is_said_to_be(corpus, ext):
    """A manifest made where names ignore case (Windows, macOS: 'TRAIN/DR1/SA1.WAV' for train/dr1/sa1.wav)
    was skipped row by row as 'no such audio file', the files plainly there."""
    (corpus / "Train" / "dr1").mkdir(parents=True)
    y = np.sin(np.arange(800, dtype=np.float32)) * 0.5
    for name in ("sa1.wav", "Mixed.WAV", "twin.wav", "TWIN.wav"):
        sf.write(corpus / "Train" / "dr1" / name, y, SR)
    rels = ["TRAIN/DR1/SA1.WAV", "Train/dr1/sa1.WAV", "train/dr1/mixed.wav", f"{corpus}/train/DR1/Sa1.wav",
            "Train/dr1/Twin.wav", "train/dr2/sa1.wav", "Train/dr1/sa1.wav"]
    items, said = _skips_said(corpus / f"m{ext}", rels)
    assert items == [6] and said[6] is None
    for k, name in ((0, "sa1.wav"), (1, "sa1.wav"), (2, "Mixed.WAV"), (3, "sa1.wav")):
        assert f"{str(corpus / 'Train' / 'dr1' / name)!r} is a file, named in another case" in said[k]
    for k in (4, 5):  # two files differ only in case (no guess), or none is there in any case
        assert "no such audio file" in said[k] and "another case" not in said[k]


def test_rows_missing_over_many_folders_list_each_folder_once(tmp_path, monkeypatch):
    """A moved corpus, its missing rows spread over more than 8 folders: the folder listings the case check
    reads were kept 8 at a time, so every row listed its folder again (471 us a row over 100 folders of
    1,000 files; 20,000 rows took 9 s an epoch). They are kept by size now: each folder is listed once."""
    import os

    import noisegen.data.missing as missing
    from noisegen._core.lru import BytesCache

    listed = []
    real_listdir = os.listdir

    def counted(folder):
        listed.append(folder)
        return real_listdir(folder)

    monkeypatch.setattr(missing, "_LISTINGS", BytesCache(32 << 20), raising=False)  # (fresh: none listed yet)
    monkeypatch.setattr(missing.os, "listdir", counted)
    folders = [tmp_path / f"spk{i:02d}" for i in range(12)]
    for folder in folders:
        folder.mkdir()
        (folder / "Present.wav").write_bytes(b"")
    for _ in range(3):  # three rows a folder, in turn: every folder asked about again after eleven others
        for folder in folders:
            assert missing._in_another_case(str(folder / "present.WAV")) == str(folder / "Present.wav")
            assert missing._in_another_case(str(folder / "gone.wav")) is None
    assert sorted(listed) == sorted(str(f) for f in folders)


def test_a_common_voice_tsv_naming_its_clips_by_name_is_said_to_be(corpus):
    """Common Voice's train.tsv names each file of its clips/ folder by name alone ('common_voice_en_1.mp3'):
    every row was skipped as 'no such audio file' in the TSV's folder (after 20 warnings, unnamed)."""
    cv = corpus / "cv-corpus" / "en"
    (cv / "clips").mkdir(parents=True)
    names = [f"common_voice_en_{k}.wav" for k in range(3)]
    for name in names:
        shutil.copy(corpus / "speech" / SPEECH[3], cv / "clips" / name)
    shutil.copy(corpus / "speech" / SPEECH[3], cv / "beside.wav")
    rows = [("c0", names[0], '"Hello there'), ("c1", names[1], "Hi"), ("c2", "clips/" + names[2], "ok"),
            ("c3", "beside.wav", "ok"), ("c4", "gone.wav", "x")]
    (cv / "train.tsv").write_text("client_id\tpath\tsentence\n" + "".join("\t".join(r) + "\n" for r in rows))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(AugmentStream(cv / "train.tsv", None, sample_rate=SR, rng=0, shuffle=False))
    assert [c.metadata["client_id"] for c in chunks] == ["c2", "c3"]
    messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    assert len(messages) == 3
    for line, name in ((2, names[0]), (3, names[1])):
        (said,) = [m for m in messages if f"train.tsv line {line}'" in m]
        assert f"{str(cv / 'clips' / name)!r} is a file (a Common Voice TSV names the files of its clips/" in said
    assert "Common Voice" not in messages[2] and "no such audio file" in messages[2]


def test_segments_are_seeked_not_read_whole(corpus, monkeypatch):
    """Only the segment's frames are requested (from soundfile, or the WAV reader), from its first frame."""
    requests = []
    real_read, real_wav_read = sf.SoundFile.read, WavFile.read

    def spy(self, frames=-1, *args, **kwargs):
        requests.append((self.name, self.tell(), frames, self.frames))
        return real_read(self, frames, *args, **kwargs)

    def wav_spy(self, start, n, dtype, mono=False):
        requests.append((self.name, start, n, self.frames))
        return real_wav_read(self, start, n, dtype, mono)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    monkeypatch.setattr(WavFile, "read", wav_spy)
    monkeypatch.setattr(sf, "read", lambda *a, **k: pytest.fail("a whole-file read"))
    rows = [ROWS[0], ROWS[2], ROWS[3]]
    manifest = write_manifest(corpus / "seg.jsonl", rows)
    chunks = list(AugmentStream(manifest, None, sample_rate=SR, rng=0, shuffle=False))
    assert len(chunks) == 3 and len(requests) == 3
    for (rel, offset, duration, _), (name, at, frames, total) in zip(rows, requests):
        rate = sf.info(str(corpus / rel)).samplerate
        assert name == str(corpus / rel) and at == round(offset * rate)
        want = total - at if duration is None else round(duration * rate)
        assert frames == want < total


def test_chunk_metadata_reaches_batches_and_collate(corpus):
    manifest = write_manifest(corpus / "m.jsonl", ROWS)
    stream = AugmentStream(manifest, None, sample_rate=SR, chunk_s=1.0, rng=0, shuffle=False)
    batch = next(iter(stream.batches(3)))
    assert batch.metadata == [c.metadata for c in batch.chunks] == [ROWS[0][3], ROWS[0][3], ROWS[1][3]]
    assert [c.metadata for c in AugmentStream(corpus / "speech", None, sample_rate=SR, rng=0)] == [{}] * 4
    assert {c.metadata == {} for c in AugmentStream([np.ones(10)], None, sample_rate=SR, rng=0)} == {True}
    torch = pytest.importorskip("torch")
    from noisegen.torch import collate

    out = collate(batch.chunks)
    assert out["metadata"] == batch.metadata and isinstance(out["samples"], torch.Tensor)


def test_json_types_survive_and_csv_cells_are_strings(corpus):
    rows = [("speech/" + SPEECH[3], None, None, {"text": "one", "n_words": 1, "tags": ["kws"]})]
    (chunk,) = AugmentStream(write_manifest(corpus / "m.jsonl", rows), None, sample_rate=SR, rng=0)
    assert chunk.metadata == {"text": "one", "n_words": 1, "tags": ["kws"]}
    rows = [("speech/" + SPEECH[3], None, None, {"text": "one", "n_words": 1})]
    (chunk,) = AugmentStream(write_manifest(corpus / "m.csv", rows), None, sample_rate=SR, rng=0)
    assert chunk.metadata == {"text": "one", "n_words": "1"}


def test_a_chunks_metadata_is_its_own(corpus):
    """Chunk.metadata was the manifest row's own dict: a training loop that edits a chunk's labels
    in place (label -> id) rewrote the row for every later chunk and epoch. Each chunk has a copy."""
    rows = [("speech/" + SPEECH[0], None, None, {"label": "zero", "tags": ["a", {"b": 1}]}),
            ("speech/" + SPEECH[3], None, None, {"label": "one", "tags": []})]
    for name in ("m.jsonl", "m.csv"):
        stream = AugmentStream(write_manifest(corpus / name, rows), None, sample_rate=SR, chunk_s=1.0, rng=0,
                               epochs=3, shuffle=False)
        seen = []
        for chunk in stream:
            seen.append((chunk.item, json.dumps(chunk.metadata, sort_keys=True)))  # as read
            chunk.metadata["label"] = 0
            if isinstance(chunk.metadata.get("tags"), list):
                chunk.metadata["tags"].append("edited")
        assert len(seen) > 6 and len({item for item, _ in seen}) == 2
        assert len(set(seen)) == 2  # every chunk of an item, in every epoch, saw the row as read


def test_a_long_csv_cell_is_read(corpus):
    """One cell over the csv module's 131,072 characters (a chapter's transcript) made the whole
    CSV manifest unreadable; the process-wide limit is put back after the read."""
    import csv as csv_module

    text = "word " * 60000
    rows = [("speech/" + SPEECH[3], None, None, {"text": text}), ("speech/" + SPEECH[1], None, None, {"text": "x"})]
    before = csv_module.field_size_limit()
    for name in ("m.csv", "m.tsv"):
        chunks = list(AugmentStream(write_manifest(corpus / name, rows), None, sample_rate=SR, rng=0, shuffle=False))
        assert [c.metadata["text"] for c in chunks] == [text, "x"]
    assert csv_module.field_size_limit() == before


BAD_JSONL = [
    ({"audio_filepath": "speech/" + SPEECH[3], "label": "one"}, None),
    ({"audio_filepath": "speech/missing.wav", "label": "x"}, "no such audio file"),
    ({"audio_filepath": "speech/" + SPEECH[0], "duration": -1.0}, "duration must be a finite number"),
    ({"audio_filepath": "speech/" + SPEECH[0], "offset": "soon"}, "offset must be a number"),
    ({"audio_filepath": "speech/" + SPEECH[0], "offset": 99.0}, "past the end"),
    ({"path": "speech/" + SPEECH[0]}, "no 'audio_filepath' field"),
    ({"audio_filepath": "corrupt.wav"}, "cannot be read"),
    ({"audio_filepath": "speech/" + SPEECH[1], "label": "sentence"}, None),
]


def test_bad_rows_are_reported_once_each_with_their_line_and_skipped(corpus):
    (corpus / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    manifest = corpus / "bad.jsonl"
    lines = [json.dumps(r) for r, _ in BAD_JSONL]
    lines.insert(3, "")  # a blank line is not a row
    lines.insert(5, "{not json")
    manifest.write_text("\n".join(lines) + "\n")
    stream = AugmentStream(manifest, None, sample_rate=SR, chunk_s=0.5, rng=0, epochs=3)
    n = len(stream)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(stream)
    assert n == len(chunks)
    messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    bad_lines = [i + 1 for i, text in enumerate(lines) if text and '"label": "one"' not in text
                 and '"label": "sentence"' not in text]
    assert len(messages) == len(bad_lines) == 7
    for line in bad_lines:
        (hit,) = [m for m in messages if f"bad.jsonl line {line}'" in m]
        assert str(manifest) in hit
    for (row, why) in BAD_JSONL:
        if why is not None:
            assert sum(why in m for m in messages) >= 1, why
    # good rows keep their index in the manifest (blank lines aside): the key does not shift with bad rows
    assert {c.item for c in chunks} == {0, 8} and {c.epoch for c in chunks} == {0, 1, 2}
    assert {c.metadata["label"] for c in chunks} == {"one", "sentence"}



@pytest.mark.parametrize("field, name", [("offset", "offset_s"), ("duration", "duration_s")])
def test_a_row_beyond_any_sample_count_names_its_field(corpus, field, name):
    manifest = corpus / "huge.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": "speech/" + SPEECH[0], field: 1e308}) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert list(AugmentStream(manifest, None, sample_rate=SR, rng=0)) == []
    (message,) = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    assert f"{name} 1e+308 at " in message and "beyond any sample count" in message

def test_a_segment_of_a_file_above_768_khz_is_skipped_for_its_rate(tmp_path):
    # A row with an offset into a 1 MHz recording was skipped as 'sample_rate must be an integer in Hz in
    # [1, 768000], got 1000000', the stream's sample_rate being 16000; the file's rate was checked as one.
    sf.write(tmp_path / "bat.wav", np.full(100000, 1000, dtype=np.int16), 1000000, subtype="PCM_16")
    manifest = tmp_path / "bat.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": "bat.wav", "offset": 0.01, "duration": 0.02}) + "\n")
    assert segment_span(tmp_path / "bat.wav", 0.01, 0.02) == (10000, 20000, 1000000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert list(AugmentStream(manifest, None, sample_rate=SR, rng=0)) == []
    (message,) = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    assert "line 1'" in message and "1000000 Hz, above the 768000 Hz" in message and "sample_rate" not in message


def test_rows_no_reader_can_take_are_skipped_with_their_line(corpus):
    # A 400-digit offset (json gives a Python int past float64's range) raised OverflowError from the
    # constructor, and a row nested 100,000 deep RecursionError; each is a bad row like any other.
    good = json.dumps({"audio_filepath": "speech/" + SPEECH[0], "label": "good"})
    manifest = corpus / "hostile.jsonl"
    manifest.write_text("\n".join([
        '{"audio_filepath": "speech/%s", "offset": 1%s}' % (SPEECH[0], "0" * 400),
        '{"audio_filepath": "speech/%s", "duration": -1%s}' % (SPEECH[0], "0" * 400),
        '{"audio_filepath": "speech/%s", "meta": %s}' % (SPEECH[0], "[" * 100000 + "]" * 100000),
        good]) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(AugmentStream(manifest, None, sample_rate=SR, rng=0))
    assert [c.metadata["label"] for c in chunks] == ["good"]
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, NoisegenWarning))
    assert len(messages) == 3 and all(len(m) < 400 for m in messages), messages
    assert "line 1'" in messages[0] and "offset" in messages[0] and "finite number of seconds" in messages[0]
    assert "line 2'" in messages[1] and "duration" in messages[1]
    assert "line 3'" in messages[2] and "nested too deeply" in messages[2]


@pytest.mark.parametrize("depth", [2, 100, 101, 600, 1100])
@pytest.mark.parametrize("kind", ["list", "object"])
def test_a_row_nested_too_deeply_to_copy_is_a_bad_row(corpus, depth, kind):
    """A row whose labels nest 500 deep (read by json, which refuses only some 1,000 levels) raised
    RecursionError when its first chunk copied them, ending the stream. Over 100 levels is a bad row."""
    inner = ("[" * (depth - 1) + "]" * (depth - 1)) if kind == "list" else ('{"a": ' * (depth - 1) + "1"
                                                                            + "}" * (depth - 1))
    manifest = corpus / "deep.jsonl"
    manifest.write_text('{"audio_filepath": "speech/%s", "meta": %s}\n' % (SPEECH[3], inner)
                        + json.dumps({"audio_filepath": "speech/" + SPEECH[0], "label": "good"}) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stream = AugmentStream(manifest, None, sample_rate=SR, chunk_s=1.0, rng=0, shuffle=False)
        n = len(stream)
        chunks = list(stream)
    assert n == len(chunks) and chunks[-1].metadata == {"label": "good"}
    messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    if depth <= 100:
        assert not messages and json.dumps(chunks[0].metadata["meta"]) == json.dumps(json.loads(inner))
    else:
        assert {c.item for c in chunks} == {1}
        (message,) = messages
        assert "deep.jsonl line 1'" in message and "nested too deeply" in message


def test_unusable_manifests_raise(corpus):
    (corpus / "nopath.csv").write_text("file,label\nspeech/x.wav,one\n")
    (corpus / "empty.jsonl").write_text("\n\n")
    # a column named twice: csv.DictReader kept the last cell, so 'path,path' streamed the second file unasked
    (corpus / "twice.csv").write_text("path,label,path\nspeech/" + SPEECH[0] + ",one,speech/" + SPEECH[1] + "\n")
    (corpus / "twice.tsv").write_text("path\tlabel\tlabel\nspeech/" + SPEECH[0] + "\ta\tb\n")
    # a JSON array (json.dump(rows, fh), pretty-printed or not): each line was a bad row, warned of and skipped,
    # and the stream was empty
    rows = [{"audio_filepath": "speech/" + name, "text": "hi"} for name in SPEECH]
    (corpus / "array.json").write_text(json.dumps(rows, indent=2))
    (corpus / "array.jsonl").write_text("\n" + json.dumps(rows) + "\n")
    for name, match in (("nopath.csv", "'path' column"), ("empty.jsonl", "holds no row"),
                        ("array.json", r"holds a JSON array \(line 1\), not JSON Lines"),
                        ("array.jsonl", r"holds a JSON array \(line 2\), not JSON Lines"),
                        ("twice.csv", r"names columns \['path'\] more than once"),
                        ("twice.tsv", r"names columns \['label'\] more than once")):
        with pytest.raises(ParameterError, match=match):
            AugmentStream(corpus / name, None, sample_rate=SR)



@pytest.mark.parametrize("layout", ["indent2", "tab", "hand", "blank_first", "one_object"])
def test_pretty_printed_json_objects_are_refused_not_read_as_empty(corpus, layout):
    """json.dump(row, fh, indent=2) for each row: every line of every object was a bad row, warned of one by
    one, and the stream was empty; it is refused as a JSON array is, naming the line the object begins."""
    rows = [{"audio_filepath": "speech/" + name, "text": "hi", "n": i} for i, name in enumerate(SPEECH)]
    text = {"indent2": "".join(json.dumps(r, indent=2) + "\n" for r in rows),
            "tab": "".join(json.dumps(r, indent="\t") + "\n" for r in rows),
            "hand": "".join('{"audio_filepath": "speech/%s",\n "text": "hi"}\n' % name for name in SPEECH),
            "blank_first": "\n\r\n" + "".join(json.dumps(r, indent=1) + "\r\n" for r in rows),
            "one_object": json.dumps(rows[0], indent=4)}[layout]
    manifest = corpus / "pretty.jsonl"
    manifest.write_text(text)
    line = 3 if layout == "blank_first" else 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ParameterError, match=rf"pretty\.jsonl': the JSON object at line {line} goes on past its "
                                                 "line .*one object per line"):
            AugmentStream(manifest, None, sample_rate=SR)


@pytest.mark.parametrize("lines, said", [
    (['{"path": "speech/%s", "label": "a"}' % name for name in SPEECH], "line 1: no 'audio_filepath' field "
                                                                          "(fields: 'path', 'label')"),
    (['', '{"audio_path": "speech/%s"}' % SPEECH[0], '{"Audio_Filepath": "x.wav"}'], "line 2: no 'audio_filepath'"),
    (["speech/%s" % name for name in SPEECH], "line 1: not a JSON object"),
    (['"speech/%s"' % SPEECH[0], "{}", "[1]"], "line 1: not a JSON object (a str)"),
])
def test_a_json_manifest_with_no_audio_filepath_is_refused(corpus, lines, said):
    """Rows naming the file as a CSV does ('path'), or a file list saved as .json: a warning for every row
    (100,000 of them for a corpus) and an empty stream. Refused, as a CSV without a 'path' column is."""
    manifest = corpus / "named.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ParameterError, match=r"named\.jsonl': no row names an 'audio_filepath' field .*; "
                           + re.escape(said)):
            AugmentStream(manifest, None, sample_rate=SR)
    # one row that names it is enough: the others are bad rows, each reported
    manifest.write_text("\n".join(lines + [json.dumps({"audio_filepath": "speech/" + SPEECH[3]})]) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(AugmentStream(manifest, None, sample_rate=SR, rng=0, shuffle=False))
    assert len(chunks) == 1
    assert len([w for w in caught if issubclass(w.category, NoisegenWarning)]) == len([t for t in lines if t])


@pytest.mark.parametrize("name, text, n, said", [
    ("comma.csv", "path,label,\n" + "speech/%s,x\n" * 3, 3,
     "line 2: has a different number of fields than the header (3)"),
    ("comma2.csv", "path,label\n" + "speech/%s,x,\n" * 3, 3,
     "line 2: has a different number of fields than the header (2)"),
    ("tab.tsv", "path\tlabel\n\n" + "speech/%s\tx\ty\n" * 2, 2, "line 3: has a different number of fields"),
    ("empty.csv", 'path,label\n"",x\n,y\n', 2, "line 2: 'path' must be a non-empty path, got ''"),
    ("neg.jsonl", '{"audio_filepath": "speech/%s", "duration": -1}\n' * 2, 2, "line 1: duration must be a finite"),
    ("url.jsonl", '{"audio_filepath": "s3://b/%s"}\n', 1, "line 1: 'audio_filepath' is a URL"),
])
def test_a_manifest_with_no_usable_row_is_refused(corpus, name, text, n, said):
    """A trailing comma on the header (or on every row) made every row one of the wrong length: a warning
    for each (100,000 of them for a corpus) and an empty stream. Refused, naming the first row's problem."""
    manifest = corpus / name
    manifest.write_text(text.replace("%s", SPEECH[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ParameterError, match=rf"{re.escape(name)}': none of its {n} row\(s\) is usable; "
                           + re.escape(said)):
            AugmentStream(manifest, None, sample_rate=SR)


def test_a_first_json_row_cut_short_is_a_bad_row(corpus):
    good = json.dumps({"audio_filepath": "speech/" + SPEECH[3], "label": "one"})
    manifest = corpus / "cut.jsonl"
    for first in ('{"audio_filepath": "speech/%s", "lab' % SPEECH[0], "{"):
        manifest.write_text(first + "\n" + good + "\n")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            chunks = list(AugmentStream(manifest, None, sample_rate=SR, rng=0, shuffle=False))
        assert [(c.item, c.metadata) for c in chunks] == [(1, {"label": "one"})]
        (message,) = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
        assert "cut.jsonl line 1'" in message and "not a JSON object" in message


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".jsonl"])
def test_a_byte_order_mark_is_not_part_of_the_first_field(corpus, ext):
    """A UTF-8 BOM (Excel's "CSV UTF-8", PowerShell) made a CSV/TSV header's first column '\\ufeffpath', so the
    whole manifest was refused for lacking a 'path' column, and a JSON Lines file lost its first row."""
    plain = write_manifest(corpus / f"plain{ext}", ROWS[:2])
    marked = corpus / f"marked{ext}"
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = list(AugmentStream(marked, None, sample_rate=SR, chunk_s=1.0, rng=0, shuffle=False))
    want = list(AugmentStream(plain, None, sample_rate=SR, chunk_s=1.0, rng=0, shuffle=False))
    assert [(c.item, c.start, c.metadata) for c in got] == [(c.item, c.start, c.metadata) for c in want]
    assert len(got) >= 2 and got[0].metadata["label"] == "sentence"


@pytest.mark.parametrize("marked", [(1,), (0, 1), (1, 1, 1)])
def test_a_byte_order_mark_on_a_later_line_of_joined_json_lines(corpus, marked):
    """JSON Lines files written with a BOM and joined (``cat a.jsonl b.jsonl``) hold one at the start of a
    later line: that row was skipped as 'not a JSON object'."""
    parts = [write_manifest(corpus / f"part{i}.jsonl", ROWS[i:i + 2]).read_bytes() for i in range(0, 6, 2)]
    joined = corpus / "joined.jsonl"
    joined.write_bytes(b"".join((b"\xef\xbb\xbf" if m else b"") + part for m, part in zip(marked, parts)))
    plain = corpus / "plain.jsonl"
    plain.write_bytes(b"".join(parts[:len(marked)]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = list(AugmentStream(joined, None, sample_rate=SR, chunk_s=1.0, rng=0, shuffle=False))
    want = list(AugmentStream(plain, None, sample_rate=SR, chunk_s=1.0, rng=0, shuffle=False))
    assert [(c.item, c.start, c.metadata) for c in got] == [(c.item, c.start, c.metadata) for c in want]
    assert len({c.item for c in got}) == 2 * len(marked)


@pytest.mark.parametrize("ext", [".csv", ".tsv"])
@pytest.mark.parametrize("extra", [1, 2, 5])
def test_unnamed_columns_excel_leaves_are_read(corpus, ext, extra):
    """Excel saves columns it once held as empty header names ('path,label,,'): refused as a name given
    twice. Their empty cells are dropped; a cell that holds something is metadata under pandas' name."""
    plain = write_manifest(corpus / f"plain{ext}", ROWS[:3])
    sep = "\t" if ext == ".tsv" else ","
    lines = plain.read_text().splitlines()
    width = len(lines[0].split(sep))
    lines = [line + sep * extra for line in lines]
    lines[2] += "x"  # the second row holds a cell in the last unnamed column
    padded = corpus / f"padded{ext}"
    padded.write_text("\n".join(lines) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = list(AugmentStream(padded, None, sample_rate=SR, chunk_s=1.0, rng=0, shuffle=False))
    want = list(AugmentStream(plain, None, sample_rate=SR, chunk_s=1.0, rng=0, shuffle=False))
    assert [(c.item, c.start) for c in got] == [(c.item, c.start) for c in want]
    for g, w in zip(got, want):
        assert g.metadata == (w.metadata if g.item != 1 else {**w.metadata, f"Unnamed: {width + extra - 1}": "x"})


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".jsonl"])
@pytest.mark.parametrize("n_before", [0, 1, 4999])
def test_a_manifest_not_in_utf8_names_the_line_of_its_bad_byte(corpus, ext, n_before):
    """A cp1252 manifest (Excel's plain 'CSV') said "can't decode byte 0xe9 in position 5869": a position in
    the decoder's last 8 KiB, not in the file, and no line; a UTF-16 one (Excel's 'Unicode Text') said 0xff."""
    plain = write_manifest(corpus / f"plain{ext}", [("speech/" + SPEECH[3], None, None, {"label": "cafe"})] * n_before)
    body = plain.read_bytes() if n_before else b""
    if ext == ".jsonl":
        body += b'{"audio_filepath": "speech/x.wav", "label": "caf\xe9"}\r\n'
    else:
        body = (body or ("path%slabel\r\n" % ("\t" if ext == ".tsv" else ",")).encode()) + b"x.wav,caf\xe9\r\n"
    manifest = corpus / f"cp1252{ext}"
    manifest.write_bytes(body)
    line = n_before + (1 if ext == ".jsonl" else 2)
    with pytest.raises(ParameterError, match=rf"cp1252\{ext}' must be UTF-8 text, got not UTF-8: line {line} holds "
                                             r"byte 0xe9 .*save it as UTF-8"):
        AugmentStream(manifest, None, sample_rate=SR)
    manifest.write_bytes(plain.read_text().encode("utf-16") if n_before else "path\n".encode("utf-16"))
    with pytest.raises(ParameterError, match=r"must be UTF-8 text, got UTF-16 "):
        AugmentStream(manifest, None, sample_rate=SR)


def test_spaces_around_column_names_do_not_hide_the_segment_columns(corpus):
    """A hand-written 'path, offset_s, duration_s' header named the columns ' offset_s' and ' duration_s':
    they became metadata and every row was silently read whole instead of its segment."""
    rel, offset, duration, _ = ROWS[0]
    spaced = corpus / "spaced.csv"
    spaced.write_text(f"path , offset_s, duration_s,\tlabel\n{rel}, {offset}, {duration}, one\n")
    plain = write_manifest(corpus / "plain.csv", [(rel, offset, duration, {"label": "one"})])
    got = list(AugmentStream(spaced, None, sample_rate=SR, rng=0, shuffle=False))
    want = list(AugmentStream(plain, None, sample_rate=SR, rng=0, shuffle=False))
    assert len(got) == 1 and got[0].length == want[0].length == round(duration * SR)
    assert np.array_equal(got[0].samples, want[0].samples) and got[0].metadata == {"label": "one"}


@pytest.mark.parametrize("names", [("Path", "Offset_S", "Duration_S"), ("PATH", "OFFSET_S", "DURATION_S"),
                                   (" Path ", "offset_S", "Duration_s"), ("path", "Offset_s", "duration_s")])
@pytest.mark.parametrize("ext", [".csv", ".tsv"])
def test_segment_column_names_are_matched_in_any_case(corpus, names, ext):
    """A 'Path' header refused the manifest, and 'Duration_S' (or 'Offset_s') was kept as metadata: every
    row was silently read whole instead of its segment. Other columns keep their own names."""
    rel, offset, duration, _ = ROWS[0]
    sep = "\t" if ext == ".tsv" else ","
    manifest = corpus / f"cased{ext}"
    manifest.write_text(sep.join([*names, "Label"]) + "\n" + sep.join([rel, str(offset), str(duration), "One"]) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (chunk,) = AugmentStream(manifest, None, sample_rate=SR, rng=0, shuffle=False)
    assert chunk.length == round(duration * SR) and chunk.metadata == {"Label": "One"}
    np.testing.assert_array_equal(chunk.samples, segment(corpus / rel, offset, duration, SR))
    manifest.write_text(sep.join(["path", names[0], "label"]) + "\n" + sep.join([rel, rel, "x"]) + "\n")
    if names[0].strip() != "path":
        with pytest.raises(ParameterError, match=r"names columns \['path'\] more than once"):
            AugmentStream(manifest, None, sample_rate=SR)


@pytest.mark.parametrize("sep", [", ", ",  ", ","])
@pytest.mark.parametrize("first", ["path", "label"])
def test_spaces_after_a_csv_comma_are_no_part_of_a_cell(corpus, sep, first):
    """'yes, speech/a.wav' named the file ' speech/a.wav' (the row skipped as missing), labels kept a leading
    space, and ', "yes, sir"' was cut at its comma into a row of too many fields."""
    rows = [("speech/" + SPEECH[3], {"label": "yes, sir", "n": "1"}), ("speech/" + SPEECH[0], {"label": "no", "n": ""})]
    manifest = corpus / "spaced.csv"
    cells = (lambda rel, meta: [rel, '"%s"' % meta["label"], meta["n"]]) if first == "path" else \
        (lambda rel, meta: ['"%s"' % meta["label"], rel, meta["n"]])
    header = ["path", "label", "n"] if first == "path" else ["label", "path", "n"]
    manifest.write_text(sep.join(header) + "\n" + "".join(sep.join(cells(*r)) + "\n" for r in rows))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chunks = list(AugmentStream(manifest, None, sample_rate=SR, rng=0, shuffle=False))
    assert [(c.source, c.metadata) for c in chunks] == [(str(corpus / rel), meta) for rel, meta in rows]

# -- len() ---------------------------------------------------------------------

def sources(corpus):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(n).astype(np.float32) for n in (100, 16000, 23999, 7, 40000)]
    arrays += [(rng.standard_normal(30001), 44100), (rng.standard_normal((2, 12345)), 8000), np.zeros(0)]
    return {
        "files": corpus,  # 16 kHz speech and the 8/22.05/44.1 kHz copies
        "arrays": arrays,
        "jsonl": write_manifest(corpus / "m.jsonl", ROWS + [("speech/gone.wav", None, None, {})]),
        "csv": write_manifest(corpus / "m.csv", ROWS),
    }


CHUNKING = [dict(chunk_s=None), dict(chunk_s=1.0), dict(chunk_s=0.5, hop_s=0.2), dict(chunk_s=0.3, hop_s=0.45)]


@pytest.mark.parametrize("chunking", CHUNKING, ids=["whole", "1s", "hop0.2", "hop0.45"])
@pytest.mark.parametrize("sample_rate", [8000, 16000, 44100])
def test_len_is_the_count_yielded_for_every_source_and_rank(corpus, chunking, sample_rate):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoisegenWarning)  # the missing row, the empty array
        for name, source in sources(corpus).items():
            for world in (None, 2, 3):
                for rank in range(world or 1):
                    shard = {} if world is None else dict(rank=rank, world_size=world)
                    stream = AugmentStream(source, None, sample_rate=sample_rate, rng=3, epochs=2, **chunking,
                                           **shard)
                    for _ in range(2):  # this pass, then the next one (other shuffles)
                        n, batches = len(stream), len(stream.batches(3))
                        dropped = len(stream.batches(3, drop_last=True))
                        chunks = list(stream)
                        assert n == len(chunks), (name, world, rank)
                        assert batches == -(-n // 3) and dropped == n // 3


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("pipeline", [None, SpeedPerturb(factors=(0.8, 1.25), p=0.7)], ids=["plain", "speed"])
def test_len_over_many_epochs_is_the_count_yielded(corpus, shuffle, pipeline):
    """Epochs that deal the same items at the same sizes are counted once and multiplied; the others
    (several shards of a shuffled order, lengths drawn per epoch) one by one: the count stays exact."""
    manifest = write_manifest(corpus / "m.jsonl", ROWS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoisegenWarning)
        for world in (1, 3):
            for rank in range(world):
                stream = AugmentStream(manifest, pipeline, sample_rate=SR, chunk_s=0.4, hop_s=0.3, rng=2,
                                       epochs=5, shuffle=shuffle, rank=rank, world_size=world)
                assert len(stream) == len(list(stream)), (world, rank)
                it = iter(stream)
                for _ in range(7):  # into the second epoch
                    next(it)
                assert len(stream) == len(list(it)), (world, rank)


def test_len_of_the_most_epochs_is_immediate(corpus):
    from noisegen.data.stream import MAX_EPOCHS

    files = corpus / "speech"
    one = len(AugmentStream(files, None, sample_rate=SR, chunk_s=0.5, rng=0, epochs=1))
    assert len(AugmentStream(files, None, sample_rate=SR, chunk_s=0.5, rng=0, epochs=MAX_EPOCHS)) == one * MAX_EPOCHS
    for bad in (MAX_EPOCHS + 1, 2**63, 1e308):
        with pytest.raises(ParameterError, match="epochs"):
            AugmentStream(files, None, sample_rate=SR, epochs=bad)
    for name in ("chunk_s", "hop_s"):
        with pytest.raises(ParameterError, match=name):
            AugmentStream(files, None, sample_rate=SR, **{"chunk_s": 1.0, name: 2.0**63})


def test_len_counts_what_is_left_of_an_interrupted_pass(corpus):
    manifest = write_manifest(corpus / "m.jsonl", ROWS)
    stream = AugmentStream(manifest, None, sample_rate=SR, chunk_s=0.4, hop_s=0.3, rng=1, epochs=2, rank=1,
                           world_size=2)
    total = len(stream)
    it = iter(stream)
    for k in range(1, total):
        next(it)
        assert len(stream) == total - k
        resumed = AugmentStream(manifest, None, sample_rate=SR, chunk_s=0.4, hop_s=0.3, rng=1, epochs=2, rank=1,
                                world_size=2)
        resumed.load_state_dict(stream.state_dict())
        assert len(resumed) == total - k
    batches = stream.batches(2)
    assert len(batches) == 1
    next(batches)  # the last chunk, alone: nothing is left of the pass (a state now resumes with nothing)
    assert len(batches) == 0 and len(stream) == 0
    assert next(batches, None) is None  # the pass is over
    assert len(stream) == len(list(stream)) > 0  # the next pass


def test_len_refuses_what_cannot_be_known(corpus):
    files = corpus / "speech"
    for stream, why in (
        (AugmentStream(files, None, sample_rate=SR, epochs=None), "endless"),
        (AugmentStream(iter([np.ones(5)]), None, sample_rate=SR, shuffle=False), "one-pass"),
    ):
        with pytest.raises(TypeError, match=why):
            len(stream)
        batches = stream.batches(2)
        next(batches)  # under way, its count is as unknown: an endless stream's said 0 batches were left
        with pytest.raises(TypeError, match=why):
            len(batches)
    # whole items: one chunk per item whatever their augmented length
    stream = AugmentStream(files, SpeedPerturb(p=1.0), sample_rate=SR, rng=0)
    assert len(stream) == len(list(stream)) == 4


@pytest.mark.parametrize("pipeline", [
    Compose([Gain(p=1.0), SpeedPerturb(p=1.0)]),
    OneOf([SpeedPerturb(factors=(0.8, 1.25), p=1.0), TimeStretch(p=1.0), PitchShift(p=1.0)], p=0.7),
    Compose([TimeStretch(min_rate=0.5, max_rate=2.0, p=0.5), ApplyImpulseResponse([np.hanning(801)], keep_tail=True,
                                                                                  p=0.5)]),
], ids=["speed", "one-of", "stretch+tail"])
@pytest.mark.parametrize("chunk_s,hop_s", [(0.5, None), (0.3, 0.7), (1.0, 0.25)])
def test_len_is_exact_for_pipelines_that_change_lengths(corpus, pipeline, chunk_s, hop_s):
    # each item's parameters are drawn from its length (the key its iteration uses): the count is exact
    # for every epoch, rank and resume point
    manifest = write_manifest(corpus / "m.csv", ROWS)
    for world in (1, 2):
        for rank in range(world):
            stream = AugmentStream(manifest, pipeline, sample_rate=SR, chunk_s=chunk_s, hop_s=hop_s, rng=3,
                                   epochs=2, rank=rank, world_size=world)
            for _ in range(2):  # two passes: four epochs, shuffled anew
                n = len(stream)
                assert n == len(list(stream))
            it = iter(stream)
            for _ in range(3):
                next(it)
            assert len(stream) == len(list(it))  # what is left of the pass


torch_workers = pytest.mark.parametrize("num_workers", [0, 1, 2])


@torch_workers
@pytest.mark.parametrize("world", [1, 2])
def test_dataset_and_loader_len_match_what_the_loader_yields(corpus, num_workers, world):
    torch = pytest.importorskip("torch")
    from noisegen.torch import AugmentDataset, collate

    manifest = write_manifest(corpus / "m.csv", ROWS)
    for rank in range(world):
        stream = AugmentStream(manifest, None, sample_rate=SR, chunk_s=0.5, hop_s=0.3, rng=5, epochs=1,
                               rank=rank, world_size=world)
        ds = AugmentDataset(stream)
        loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=collate, num_workers=num_workers)
        for _ in range(3):  # each iter(loader) is the next epoch, shuffled anew
            n, n_batches = len(ds), len(loader)
            batches = list(loader)
            assert n == sum(len(b["lengths"]) for b in batches)
            assert all(len(b["metadata"]) == len(b["lengths"]) for b in batches)
            if num_workers <= 1:  # several workers each end on a partial batch
                assert n_batches == len(batches)
    # ready batches from the stream: len(dataset) counts them
    ds = AugmentDataset(AugmentStream(manifest, None, sample_rate=SR, chunk_s=0.5, rng=5), batch_size=3)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=0)
    for _ in range(2):
        n = len(ds)
        assert n == len(loader) == len(list(loader))


def test_the_bundled_manifest_streams_its_rows(data_dir):
    stream = AugmentStream(data_dir / "manifest.jsonl", None, sample_rate=SR, chunk_s=1.0, rng=0, shuffle=False)
    chunks = list(AugmentStream(data_dir / "manifest.jsonl", None, sample_rate=SR, chunk_s=1.0, rng=0,
                                shuffle=False))
    assert len(stream) == len(chunks) == 10
    assert chunks[-1].metadata["label"] == "one" and chunks[-1].length == SR // 2
    assert {c.source for c in chunks} == {str(data_dir / "speech" / name) for name in SPEECH}


def test_the_manifest_records_in_dir_as_the_readme_says(tmp_path, monkeypatch):
    import json
    import re

    import numpy as np
    import soundfile as sf

    from conftest import ROOT
    from noisegen.batch import augment_folder

    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "a.wav", np.sin(np.arange(800, dtype=np.float32)) * 0.5, 8000)
    monkeypatch.chdir(tmp_path)
    augment_folder("in", "out", pipeline=None, workers=1)
    line = json.loads((tmp_path / "out" / "manifest.jsonl").read_text().splitlines()[0])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    said = re.search(r"\| `input`, `in_dir` \|[^|]*\|", readme).group(0)
    assert line["in_dir"] == str(tmp_path / "in") and "absolute" in said


def test_quotes_in_a_tsv_are_text_and_a_broken_csv_quote_names_its_line(corpus):
    """A transcript opening a quote it never closed (as Common Voice's do) took in every later row as
    part of its cell, silently; a bad row spanning lines was reported at its last line."""
    from noisegen.data.manifest import read_manifest

    speech = "speech/" + SPEECH[3]
    texts = ['plain', '"Hello there, she said', '"Hi," he said', 'fourth "quoted" words']
    tsv = corpus / "cv.tsv"
    tsv.write_text("path\tsentence\n" + "".join(f"{speech}\t{t}\n" for t in texts))
    rows = read_manifest(tsv)
    assert [r.metadata["sentence"] for r in rows] == texts and [r.line for r in rows] == [2, 3, 4, 5]
    for body, line in (('a.wav,x\nb.wav,"never closed\nc.wav,y\n', 3), ('a.wav,x\n\nb.wav,"Hi," he said\n', 4)):
        (corpus / "bad.csv").write_text("path,text\n" + body)
        with pytest.raises(ParameterError, match=rf"bad\.csv' line {line}: "):
            read_manifest(corpus / "bad.csv")
    # RFC 4180 quoting still reads; a row's line is where it begins, a quoted cell over lines and all
    (corpus / "good.csv").write_text('path,text\n\ngone.wav,"first\nsecond ""quoted"", third"\n' + f'{speech},"a, b"\n')
    rows = read_manifest(corpus / "good.csv")
    assert [(r.line, r.metadata["text"]) for r in rows] == [(3, 'first\nsecond "quoted", third'), (5, "a, b")]
    # a TSV the csv module (or pandas) quoted reads back as written; a line of spaces is its own row
    cells = ['she said "hi"', "a\ttab", "two\nlines", "plain"]
    for quoting in (csv.QUOTE_MINIMAL, csv.QUOTE_ALL):
        with open(corpus / "w.tsv", "w", newline="") as fh:
            out = csv.writer(fh, delimiter="\t", quoting=quoting)
            out.writerow(["path", "text"])
            out.writerows([speech, c] for c in cells)
        assert [r.metadata["text"] for r in read_manifest(corpus / "w.tsv")] == cells
    (corpus / "spaces.csv").write_text(f"path,text\n{speech},a\n   \n{speech},b\n")
    assert [r.line for r in read_manifest(corpus / "spaces.csv")] == [2, 3, 4]


def test_a_json_row_that_names_a_field_twice_is_a_bad_row(corpus):
    # json.loads kept the last value silently: '"duration": 0.5, ..., "duration": 3' streamed 3 s of audio
    # under the row's transcript (a CSV header naming a column twice refuses the manifest, for the same reason)
    good = json.dumps({"audio_filepath": "speech/" + SPEECH[1], "label": "good"})
    manifest = corpus / "twice.jsonl"
    manifest.write_text("\n".join([
        '{"audio_filepath": "speech/%s", "duration": 0.5, "text": "a b", "duration": 3}' % SPEECH[0],
        '{"audio_filepath": "speech/%s", "meta": {"w": 1, "w": 2}}' % SPEECH[0],
        good]) + "\n")
    stream = AugmentStream(manifest, None, sample_rate=SR, rng=0, shuffle=False)
    assert len(stream) == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(stream)
    assert [(c.item, c.metadata) for c in chunks] == [(2, {"label": "good"})]
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, NoisegenWarning))
    assert len(messages) == 2
    assert "twice.jsonl line 1'" in messages[0] and "names fields ['duration'] more than once" in messages[0]
    assert "twice.jsonl line 2'" in messages[1] and "names fields ['w'] more than once" in messages[1]


@pytest.mark.parametrize("subtype, seconds", [("GSM610", 3), ("G721_32", 3), ("GSM610", 62)])
def test_segments_of_codecs_that_cannot_seek_are_read(tmp_path, subtype, seconds):
    # libsndfile cannot seek in GSM 6.10 or G.721 WAV files ('Seek attempted on unseekable file type'): every
    # row with an offset was skipped as unreadable, short (read whole) or long (in blocks, over 60 s) alike
    y = (0.2 * np.random.default_rng(0).standard_normal(8000 * seconds)).astype(np.float32)
    sf.write(tmp_path / "call.wav", y, 8000, subtype=subtype)
    manifest = tmp_path / "m.jsonl"
    rows = [{"audio_filepath": "call.wav", "offset": 0.5, "label": "a"},
            {"audio_filepath": "call.wav", "offset": 1.25, "duration": seconds - 1.5, "label": "b"}]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    whole, _ = noisegen.load(tmp_path / "call.wav")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chunks = list(AugmentStream(manifest, None, sample_rate=8000, chunk_s=2.0, rng=0, shuffle=False))
    for item, (start, stop) in enumerate([(4000, None), (10000, 10000 + 8000 * seconds - 12000)]):
        got = np.concatenate([c.samples[:c.length] for c in chunks if c.item == item])
        assert np.array_equal(got, whole[start:stop]), item
        assert {c.metadata["label"] for c in chunks if c.item == item} == {"ab"[item]}


@pytest.mark.parametrize("name, text, said, read_s", [
    ("other.jsonl", '{"audio_filepath": "speech/%s", "offset_s": 0.5, "duration_s": 1, "text": "a"}\n',
     ["'offset_s' is kept as metadata, not read as 'offset'", "'duration_s' is kept as metadata, not read as 'duration'"],
     "whole"),
    ("half.jsonl", '{"audio_filepath": "speech/%s", "offset": 0.5, "duration_s": 1}\n',
     ["'duration_s' is kept as metadata, not read as 'duration'"], "after 0.5"),
    ("other.csv", "path,offset,duration,text\nspeech/%s,0.5,1,a\n",
     ["'offset' is kept as metadata, not read as 'offset_s'", "'duration' is kept as metadata, not read as 'duration_s'"],
     "whole"),
    ("own.csv", "path,offset_s,duration_s,duration\nspeech/%s,0.5,1,3.2\n", [], "1"),  # its own names: nothing said
    # in another case ('Duration' in JSON Lines was metadata too, silently)
    ("cased.jsonl", '{"audio_filepath": "speech/%s", "Offset": 0.5, "DURATION": 1}\n',
     ["'Offset' is kept as metadata, not read as 'offset'", "'DURATION' is kept as metadata, not read as 'duration'"],
     "whole"),
    ("cased_other.jsonl", '{"audio_filepath": "speech/%s", "offset": 0.5, "Duration_S": 1}\n',
     ["'Duration_S' is kept as metadata, not read as 'duration'"], "after 0.5"),
    ("cased.csv", "path,Offset,DURATION,text\nspeech/%s,0.5,1,a\n",
     ["'Offset' is kept as metadata, not read as 'offset_s'", "'DURATION' is kept as metadata, not read as 'duration_s'"],
     "whole"),
    ("own.jsonl", '{"audio_filepath": "speech/%s", "offset": 0.5, "duration": 1, "duration_s": 1}\n', [], "1"),
])
def test_a_segment_named_as_the_other_format_names_it_is_said_once(corpus, name, text, said, read_s):
    """A JSON Lines manifest written with the CSV's offset_s/duration_s (or a CSV with NeMo's names)
    read every row's whole file under the segment's labels, the fields kept as metadata, silently."""
    manifest = corpus / name
    manifest.write_text(text % SPEECH[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(AugmentStream(manifest, None, sample_rate=SR, rng=0, shuffle=False))
    messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    assert len(messages) == (1 if said else 0) and all(s in messages[0] for s in said), messages
    whole = sf.info(str(corpus / "speech" / SPEECH[0])).duration
    seconds = {"whole": whole, "after 0.5": whole - 0.5, "1": 1.0}[read_s]
    assert abs(chunks[0].length - seconds * SR) <= 1  # what is read: the segment, or more than its labels are for


def test_a_url_row_is_a_bad_row_that_says_so(corpus):
    """A URL was joined to the manifest's folder and reported as a missing file there
    ('no such audio file: .../corpus/s3://bucket/a.wav')."""
    manifest = corpus / "urls.jsonl"
    manifest.write_text("\n".join(json.dumps({"audio_filepath": p}) for p in
                                  ("s3://bucket/a.wav", "https://example.org/b.wav", "speech/" + SPEECH[1])) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(AugmentStream(manifest, None, sample_rate=SR, rng=0, shuffle=False))
    assert [c.item for c in chunks] == [2]
    messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    assert len(messages) == 2 and all("is a URL" in m and "local files" in m for m in messages), messages
    assert "line 1" in messages[0] and "s3://bucket/a.wav" in messages[0] and "corpus" not in messages[0].split(":", 2)[2]


@pytest.mark.parametrize("ext", [".txt", ".lst", ".list", ".scp", ".txt.gz"])
def test_lists_of_paths_and_kaldi_scp_files_are_sources(corpus, ext):
    """A list of paths (`find . -name '*.wav' > list.txt`) or Kaldi's wav.scp given as the source was read
    as one audio file: one warning ('Format not recognised') and an empty stream."""
    rels = ["speech/" + SPEECH[0], "rates/axb_8k.wav", "speech/" + SPEECH[3]]
    lines = [f"utt{i} {rel}" if ext == ".scp" else rel for i, rel in enumerate(rels)]
    lines.insert(1, "")  # a blank line is no row
    lines.append(f"utt9 {corpus / rels[1]}" if ext == ".scp" else f"  {corpus / rels[1]}  ")  # absolute, spaced
    listed = corpus / f"files{ext}"
    data = ("\n".join(lines) + "\n").encode()
    listed.write_bytes(gzip.compress(data) if ext.endswith(".gz") else data)
    csv_rows = [(rel, None, None, {"key": f"utt{i}"} if ext == ".scp" else {}) for i, rel in enumerate(rels)]
    csv_rows.append((rels[1], None, None, {"key": "utt9"} if ext == ".scp" else {}))
    plain = write_manifest(corpus / "same.jsonl", csv_rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = list(AugmentStream(listed, None, sample_rate=SR, chunk_s=1.0, rng=0, shuffle=False))
    want = list(AugmentStream(plain, None, sample_rate=SR, chunk_s=1.0, rng=0, shuffle=False))
    assert [(c.item, c.start, c.length, c.metadata) for c in got] == [(c.item, c.start, c.length, c.metadata)
                                                                      for c in want]
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(got, want)) and len({c.item for c in got}) == 4


@pytest.mark.parametrize("kinds", [("m.jsonl",), ("m.jsonl", "m.csv.gz"), ("speech",), ("m.csv", "rates"),
                                   ("files.txt", "speech", "m.jsonl")])
def test_a_list_of_manifests_or_folders_is_refused(corpus, kinds):
    """AugmentStream(["train.jsonl", "extra.jsonl"]) (or a list of folders) read each as an audio file: a
    warning each ('Format not recognised', 'is a directory') and an empty stream."""
    write_manifest(corpus / "m.jsonl", ROWS[:2])
    write_manifest(corpus / "m.csv", ROWS[:2])
    (corpus / "m.csv.gz").write_bytes(gzip.compress((corpus / "m.csv").read_bytes()))
    (corpus / "files.txt").write_text("speech/" + SPEECH[0] + "\n")
    paths = [corpus / k for k in kinds]
    for source in (paths, [str(p) for p in paths], [bytes(p) for p in paths]):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ParameterError, match=rf"source must be a list of audio files, got {len(kinds)} "
                               rf"path\(s\) .*the first '{re.escape(str(paths[0]))}': a manifest or a folder is a "
                               "source on its own"):
                AugmentStream(source, None, sample_rate=SR)
    # with an audio file among them, the list streams it (the others are skipped, each said once)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(AugmentStream(paths + [corpus / "speech" / SPEECH[3]], None, sample_rate=SR, rng=0))
    assert [c.item for c in chunks] == [len(kinds)]
    assert len([w for w in caught if issubclass(w.category, NoisegenWarning)]) == len(kinds)


def test_kaldi_commands_and_archive_offsets_are_bad_rows(corpus):
    """Kaldi's extended filenames (a command ending in '|', an .ark offset) are named as such, once each."""
    listed = corpus / "wav.scp"
    listed.write_text(f"a speech/{SPEECH[0]}\nb sox x.wav -t wav - |\nc feats.ark:1234\nd\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(AugmentStream(listed, None, sample_rate=SR, chunk_s=1.0, rng=0, shuffle=False))
    assert {c.metadata["key"] for c in chunks} == {"a"}
    messages = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    assert len(messages) == 3 and all("is a command or an archive offset" in m for m in messages[:2])
    assert "wav.scp line 2" in messages[0] and "wav.scp line 3" in messages[1]
    assert "wav.scp line 4" in messages[2] and "has the key 'd' but no path after it" in messages[2]


@pytest.mark.parametrize("sep", ["\t", " ", "  \t ", "\t\t"])
@pytest.mark.parametrize("name", ["a b.wav", "a\tb.wav", "ab.wav"])
def test_kaldi_scp_keys_end_at_the_first_space_or_tab(tmp_path, sep, name):
    """A wav.scp whose key is followed by a tab and whose path holds a space ('utt1<TAB>/data/my file.wav')
    was split at the space: key 'utt1<TAB>/data/my', path 'file.wav'."""
    from noisegen.data.manifest import read_manifest
    listed = tmp_path / "wav.scp"
    listed.write_text(f"utt1{sep}{tmp_path / name}\n")
    (row,) = read_manifest(listed)
    assert (row.metadata, row.path, row.error) == ({"key": "utt1"}, str(tmp_path / name), None)


@pytest.mark.parametrize("ext", [".txt", ".scp"])
@pytest.mark.parametrize("lead", ["", " ", "\t", "  \t"])
def test_a_list_line_after_a_byte_order_mark_keeps_its_path(tmp_path, ext, lead):
    """Lists joined with cat, the second saved with a byte-order mark: a line of the BOM, then spaces
    before its path was read as a relative path beginning with those spaces (' /data/a.wav' in the list's
    folder)."""
    from noisegen.data.manifest import read_manifest

    key = "utt1 " if ext == ".scp" else ""
    listed = tmp_path / f"files{ext}"
    listed.write_text(f"{key}/data/a.wav\n\ufeff{lead}{key}/data/b c.wav\r\n", encoding="utf-8")
    rows = read_manifest(listed)
    assert [(r.path, r.error) for r in rows] == [("/data/a.wav", None), ("/data/b c.wav", None)]


@pytest.mark.parametrize("cell", ["1_0", "0_5", "\u0661", "\uff11", "0x1"])
def test_a_segment_cell_that_is_no_decimal_number_is_a_bad_row(corpus, cell):
    # float() takes '1_0' (10.0: Python's digit grouping) and other scripts' digits ('\u0661' is 1.0); a
    # manifest's cell read so became a segment of another offset, with no word said
    manifest = corpus / "cells.csv"
    manifest.write_text(f"path,offset_s,label\nspeech/{SPEECH[0]},{cell},odd\nspeech/{SPEECH[0]},0.5,ok\n",
                        encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(AugmentStream(manifest, None, sample_rate=SR, rng=0, shuffle=False))
    assert {c.metadata["label"] for c in chunks} == {"ok"}
    (message,) = [str(w.message) for w in caught if issubclass(w.category, NoisegenWarning)]
    assert "cells.csv line 2'" in message and "offset_s must be a number of seconds" in message


@pytest.mark.parametrize("cell, seconds", [("0.5", 0.5), (" 1 ", 1.0), ("+.25", 0.25), ("5e-1", 0.5), ("1.", 1.0)])
def test_decimal_segment_cells_are_read(corpus, cell, seconds):
    manifest = corpus / "cells.csv"
    manifest.write_text(f"path\toffset_s\nspeech/{SPEECH[0]}\t{cell}\n", encoding="utf-8")
    manifest = manifest.rename(corpus / "cells.tsv")
    info = sf.info(corpus / "speech" / SPEECH[0])
    (chunk,) = list(AugmentStream(manifest, None, sample_rate=info.samplerate, rng=0, shuffle=False))
    assert chunk.length == info.frames - round(seconds * info.samplerate)
