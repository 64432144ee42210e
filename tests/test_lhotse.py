"""noisegen.lhotse: pipelines on CutSets, and Lhotse's Speed/Tempo/Resample/Volume without torchaudio.

Lhotse requires torch (a multi-GB download from PyPI), so it is not in the
``test`` extra: these tests skip without it.
"""

import importlib
import glob
import os

import numpy as np
import pytest
import soundfile as sf

lhotse = pytest.importorskip("lhotse")

import noisegen  # noqa: E402
import noisegen.lhotse as nl  # noqa: E402
from lhotse import CutSet, Recording, RecordingSet  # noqa: E402
from lhotse.utils import compute_num_samples, perturb_num_samples  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "speech")


def _pipeline():
    return noisegen.Compose(
        [noisegen.AddColoredNoise(min_snr_db=5, max_snr_db=20, p=1.0), noisegen.Gain(p=0.5),
         noisegen.LowPassFilter(p=0.5)]
    )


@pytest.fixture(scope="module")
def cuts(tmp_path_factory):
    """Whole-file cuts of data/speech, 2 s windows of them (segments with offsets) and a stereo cut."""
    stereo = str(tmp_path_factory.mktemp("lhotse") / "stereo.wav")
    rng = np.random.default_rng(0)
    sf.write(stereo, 0.1 * rng.standard_normal((24000, 2)), 16000, subtype="FLOAT")
    files = sorted(glob.glob(os.path.join(DATA, "*.wav"))) + [stereo]
    recordings = RecordingSet.from_recordings(Recording.from_file(f) for f in files)
    whole = CutSet.from_manifests(recordings=recordings)
    windows = whole.cut_into_windows(duration=1.0, hop=0.7).filter(lambda c: c.duration > 0.05)
    return CutSet.from_cuts(list(whole) + list(windows.modify_ids(lambda i: i + "-w")))


def _load(cut):
    return cut.load_audio()


def test_augmented_cuts_load_the_pipeline_output_for_their_key(cuts):
    pipeline = _pipeline()
    assert len({c.num_channels for c in cuts}) == 2 and any(c.start > 0 for c in cuts)
    for seed in (0, 7):
        augmented = nl.augment_cuts(cuts, pipeline, rng=seed)
        for plain, aug in zip(cuts, augmented):
            assert aug.id == plain.id and aug.num_samples == plain.num_samples
            expected = pipeline(_load(plain), sample_rate=plain.sampling_rate, rng=nl.cut_key(plain.id, rng=seed))
            got = _load(aug)
            assert got.dtype == np.float32 and np.array_equal(got, expected), plain.id
            assert not np.array_equal(got, _load(plain))


def test_key_depends_on_cut_id_and_seed_only(cuts):
    pipeline = _pipeline()
    forward = nl.augment_cuts(cuts, pipeline, rng=3)
    backward = nl.augment_cuts(CutSet.from_cuts(reversed(list(cuts))), pipeline, rng=3)
    by_id = {c.id: _load(c) for c in backward}
    for cut in forward:
        assert np.array_equal(_load(cut), by_id[cut.id])
    other = nl.augment_cuts(cuts, pipeline, rng=4)
    assert not np.array_equal(_load(forward[0]), _load(other[0]))
    assert nl.cut_key("a", rng=0) != nl.cut_key("b", rng=0)


def test_augmented_manifest_round_trips_through_jsonl(cuts, tmp_path):
    augmented = nl.augment_cuts(nl.perturb_speed(cuts, 0.9), _pipeline(), rng=1)
    path = tmp_path / "cuts.jsonl.gz"
    augmented.to_jsonl(path)
    back = CutSet.from_jsonl(path)
    for a, b in zip(augmented, back):
        assert a.to_dict() == b.to_dict()
        assert np.array_equal(_load(a), _load(b))
    lazy = CutSet.from_jsonl_lazy(path)
    assert np.array_equal(_load(next(iter(lazy))), _load(augmented[0]))


def test_a_lhotse_manifest_given_to_a_stream_is_refused_naming_the_way(cuts, tmp_path):
    """The README's example of a gzipped manifest was 'cuts.jsonl.gz': a Lhotse manifest given to
    AugmentStream was refused as a NeMo one without 'audio_filepath', with no word of Lhotse."""
    from lhotse import SupervisionSegment, SupervisionSet

    recordings = RecordingSet.from_recordings(c.recording for c in cuts)
    supervisions = SupervisionSet.from_segments([SupervisionSegment("s0", cuts[0].recording_id, 0.0, 0.5, text="hi")])
    for name, manifest in (("cuts.jsonl.gz", cuts), ("cuts.jsonl", nl.augment_cuts(cuts, _pipeline(), rng=0)),
                           ("recordings.jsonl.gz", recordings), ("supervisions.jsonl", supervisions)):
        manifest.to_jsonl(tmp_path / name)
        with pytest.raises(noisegen.ParameterError, match=r"no row names an 'audio_filepath' field .*it is a Lhotse "
                                                          r"manifest: augment its cuts with noisegen\.lhotse\.augment_cuts"):
            noisegen.AugmentStream(tmp_path / name, None, sample_rate=16000)
    (tmp_path / "other.jsonl").write_text('{"path": "a.wav"}\n')  # not Lhotse's: not said to be
    with pytest.raises(noisegen.ParameterError, match="no row names") as caught:
        noisegen.AugmentStream(tmp_path / "other.jsonl", None, sample_rate=16000)
    assert "Lhotse" not in str(caught.value)


def test_mixed_cuts_are_augmented_after_mixing(cuts):
    pipeline = _pipeline()
    mixed = CutSet.from_cuts([cuts[0].pad(duration=cuts[0].duration + 0.5), cuts[1].mix(cuts[2], snr=10)])
    for plain, aug in zip(mixed, nl.augment_cuts(mixed, pipeline, rng=0)):
        expected = pipeline(_load(plain), sample_rate=16000, rng=nl.cut_key(plain.id, rng=0))
        assert np.array_equal(_load(aug), expected)


def test_a_lhotse_dataset_and_sampler_load_the_augmented_audio(cuts):
    from lhotse.dataset import SimpleCutSampler, UnsupervisedWaveformDataset

    mono = cuts.filter(lambda c: c.num_channels == 1).to_eager()
    augmented = nl.augment_cuts(mono, _pipeline(), rng=0)
    expected = {c.id: _load(c)[0] for c in augmented}
    dataset = UnsupervisedWaveformDataset(collate=False)
    seen = 0
    for batch_cuts in SimpleCutSampler(augmented, max_cuts=3, shuffle=True, seed=1):
        batch = dataset[batch_cuts]
        for cut, audio in zip(batch["cuts"], batch["audio"]):
            assert np.array_equal(np.asarray(audio)[0], expected[cut.id])
            seen += 1
    assert seen == len(mono)


def test_length_changing_pipelines_are_refused():
    for pipeline in (noisegen.SpeedPerturb(p=1.0), noisegen.Compose([noisegen.Gain(), noisegen.TimeStretch()])):
        with pytest.raises(noisegen.ParameterError, match="perturb_speed"):
            nl.augment_cuts(CutSet.from_cuts([]), pipeline, rng=0)


def test_a_shift_is_refused_it_moves_the_speech_under_the_supervisions(cuts):
    """Shift keeps the length, so it was attached: the speech moved (with rollover, its end came first)
    while every supervision kept its offset and its words their order."""
    shift = noisegen.Shift(min_shift=0.3, max_shift=0.3, p=1.0)
    for pipeline in (shift, noisegen.Compose([noisegen.Gain(p=1.0), noisegen.OneOf([noisegen.Gain(), shift])]),
                     noisegen.Compose([shift]).to_dict()):
        with pytest.raises(noisegen.ParameterError, match="Shift, which moves the audio in time"):
            nl.augment_cuts(cuts, pipeline, rng=0)
    with pytest.raises(noisegen.ParameterError, match="Shift"):  # a manifest that holds one, read back
        nl.NoisegenAugment(pipeline=shift.to_dict(), key=0)


def test_a_room_response_that_keeps_its_tail_is_refused_when_attached(cuts, tmp_path):
    # keep_tail=True lengthens the audio: it used to be accepted here, then every load_audio() failed
    rir = str(tmp_path / "rir.wav")
    sf.write(rir, np.exp(-np.arange(800) / 100.0) * np.random.default_rng(0).standard_normal(800), 16000)
    tail = noisegen.ApplyImpulseResponse(rir, keep_tail=True, p=1.0)
    for pipeline in (tail, noisegen.Compose([noisegen.Gain(p=1.0), noisegen.OneOf([noisegen.Gain(), tail])]),
                     noisegen.Compose([noisegen.Gain(p=1.0), tail]).to_dict()):
        with pytest.raises(noisegen.ParameterError, match=r"ApplyImpulseResponse\(keep_tail=True\)"):
            nl.augment_cuts(cuts, pipeline, rng=0)
    with pytest.raises(noisegen.ParameterError, match="keep_tail"):  # a manifest that holds one, read back
        nl.NoisegenAugment(pipeline=tail.to_dict(), key=0)
    cut = cuts[0]
    kept = nl.augment_cuts(cut, noisegen.ApplyImpulseResponse(rir, p=1.0), rng=0).load_audio()
    assert kept.shape == cut.load_audio().shape  # the same response, tail cut: still attached, same length


def _tone(tmp_path, freq_hz, n, sample_rate=16000, channels=1):
    t = np.arange(n) / sample_rate
    y = 0.5 * np.sin(2 * np.pi * freq_hz * t)
    path = str(tmp_path / f"tone_{freq_hz}_{n}_{channels}.wav")
    sf.write(path, np.stack([y] * channels, axis=1), sample_rate, subtype="FLOAT")
    return CutSet.from_manifests(recordings=RecordingSet.from_recordings([Recording.from_file(path)]))


def _peak_hz(y, sample_rate):
    """Frequency of the strongest partial (Hann window, parabolic interpolation)."""
    y = y[len(y) // 8: -len(y) // 8]
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y)), 8 * len(y)))
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1: k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sample_rate / (8 * len(y))


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("factor", [0.8, 0.9, 1.1, 1.25])
def test_speed_and_tempo_give_lhotses_lengths_and_pitch(tmp_path, factor, channels):
    freq = 440.0
    cuts = _tone(tmp_path, freq, 16001, channels=channels)
    n = cuts[0].num_samples
    for perturb, expected_hz in ((nl.perturb_speed, freq * factor), (nl.perturb_tempo, freq)):
        cut = perturb(cuts, factor)[0]
        assert cut.num_samples == perturb_num_samples(n, factor)  # what Lhotse's manifest promises
        y = _load(cut)
        assert y.shape == (channels, cut.num_samples)
        for ch in range(channels):
            assert _peak_hz(y[ch], 16000) == pytest.approx(expected_hz, rel=2e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_replacement_transforms_return_the_lengths_lhotse_records(dtype):
    rng = np.random.default_rng(0)
    for n in (1, 9, 10, 11, 999, 1600, 16001):
        for shape in ((n,), (2, n)):
            x = (0.1 * rng.standard_normal(shape)).astype(dtype)
            for factor in (0.9, 1.1, 2.0, 0.5, 1.5):
                for cls in (nl.NoisegenSpeed, nl.NoisegenTempo):
                    y = cls(factor=factor)(x, 16000)
                    assert y.shape == shape[:-1] + (perturb_num_samples(n, factor),) and y.dtype == dtype
            for target in (8000, 22050, 44100):
                y = nl.NoisegenResample(16000, target)(x)
                assert y.shape[-1] == compute_num_samples(n / 16000, target) and y.dtype == dtype
            y = nl.NoisegenVolume(factor=0.3)(x, 16000)
            np.testing.assert_allclose(y, x * 0.3, rtol=1e-6)


def _below(y, fraction):
    """``y`` without its content above ``fraction`` of Nyquist."""
    spectrum = np.fft.rfft(y)
    spectrum[..., int(fraction * spectrum.shape[-1]):] = 0
    return np.fft.irfft(spectrum, y.shape[-1])


def test_speed_replacement_matches_lhotses_own_speed(cuts):
    """Lhotse's Speed (torch resampler, still working) and noisegen's agree on ids, durations and audio."""
    from lhotse.augmentation import Speed

    ours, theirs = nl.perturb_speed(cuts, 1.1), cuts.perturb_speed(1.1)
    for a, b in zip(ours, theirs):
        assert (a.id, a.start, a.duration, a.num_samples) == (b.id, b.start, b.duration, b.num_samples)
        x, y = _load(a), _load(b)
        assert x.shape == y.shape
        x, y = _below(x[..., 200:-200], 0.75), _below(y[..., 200:-200], 0.75)  # the filters differ near Nyquist
        assert np.sqrt(np.mean((x - y) ** 2)) < 0.01 * np.sqrt(np.mean(y**2)) + 1e-5
    assert isinstance(ours[0].recording.transforms[0], Speed)


def test_resample_and_volume_helpers(tmp_path):
    cuts = _tone(tmp_path, 1000.0, 16000)
    for rate in (8000, 22050, 48000):
        cut = nl.resample(cuts, rate)[0]
        y = _load(cut)
        assert cut.sampling_rate == rate and y.shape == (1, cut.num_samples)
        assert _peak_hz(y[0], rate) == pytest.approx(1000.0, rel=1e-3)
    cut = nl.perturb_volume(cuts, 0.5)[0]
    np.testing.assert_allclose(_load(cut), 0.5 * _load(cuts[0]), rtol=1e-6)
    # 16 kHz -> 1 Hz is beyond the resampler (ratio 256 at most): refused by resample(), not later in
    # every load_audio (a DataLoader worker)
    for rate in (1, 62):
        with pytest.raises(noisegen.ParameterError, match=r"^the cut's audio is at 16000 Hz, too far from "
                                                          rf"{rate} Hz: noisegen.resample changes a rate by at most 256x"):
            nl.resample(cuts, rate)  # (it said "target_sample_rate / orig_sample_rate must be in [1/256, 256]")
    assert nl.resample(cuts, 63)[0].sampling_rate == 63


@pytest.mark.parametrize("channels, frames", [(100, 50), (70, 1), (65, 64)])
def test_a_short_cut_of_many_channels_is_augmented_as_lhotse_lays_it_out(tmp_path, channels, frames):
    """Lhotse hands audio over as (channels, samples): a short recording of many channels (100 of 50 samples)
    was refused by every noisegen transform as a channels-last array ('pass y.T', which Lhotse cannot)."""
    path = str(tmp_path / "many.wav")
    y = (0.1 * np.random.default_rng(4).standard_normal((channels, frames))).astype(np.float32)
    sf.write(path, y.T, 16000, subtype="FLOAT")
    cuts = CutSet.from_manifests(recordings=RecordingSet.from_recordings([Recording.from_file(path)]))
    gain = noisegen.Gain(min_gain_db=-6.0, max_gain_db=-6.0, p=1.0)
    np.testing.assert_allclose(_load(nl.augment_cuts(cuts, gain, rng=0)[0]), y * 10 ** (-6 / 20), rtol=1e-6)
    np.testing.assert_allclose(_load(nl.perturb_volume(cuts, 0.5)[0]), y * 0.5, rtol=1e-6)
    for cut in (nl.perturb_speed(cuts, 1.1)[0], nl.perturb_tempo(cuts, 0.9)[0], nl.resample(cuts, 8000)[0]):
        assert _load(cut).shape == (channels, cut.num_samples)
    with pytest.raises(noisegen.ParameterError, match="channels-last"):  # a caller's own array: still judged
        gain(y, sample_rate=16000, rng=0)


def test_existing_manifests_switch_to_noisegen_transforms(tmp_path):
    """A manifest made with Lhotse's perturb_tempo (torchaudio sox_effects) loads after use_noisegen_transforms."""
    cuts = _tone(tmp_path, 440.0, 16000)
    path = tmp_path / "tempo.jsonl"
    cuts.perturb_tempo(0.9).perturb_volume(2.0).resample(8000).perturb_speed(1.1).to_jsonl(path)
    converted = nl.use_noisegen_transforms(CutSet.from_jsonl(path))
    cut = converted[0]
    names = [type(t).__name__ for t in cut.recording.transforms]
    assert names == ["NoisegenTempo", "NoisegenVolume", "NoisegenResample", "NoisegenSpeed"]
    y = _load(cut)
    assert y.shape == (1, cut.num_samples)
    assert _peak_hz(y[0], 8000) == pytest.approx(440.0 * 1.1, rel=2e-3)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), 1e7, "1.1", True])
def test_bad_factors_are_refused(bad, cuts):
    for fn in (nl.perturb_speed, nl.perturb_tempo, nl.perturb_volume):
        with pytest.raises(noisegen.ParameterError, match="factor"):
            fn(cuts, bad)
    with pytest.raises(noisegen.ParameterError, match="sampling_rate"):
        nl.resample(cuts, bad)


@pytest.mark.parametrize("factor", [np.float32(1.1), np.float16(0.9), np.float64(1.2), np.int64(1)])
def test_numpy_factors_are_taken_as_the_floats_they_are(factor, cuts):
    # Lhotse's Decimal arithmetic raised TypeError on a NumPy float that noisegen's check had taken
    for fn, affix in ((nl.perturb_speed, "sp"), (nl.perturb_tempo, "tp"), (nl.perturb_volume, "vp")):
        out = list(fn(cuts, factor))
        assert len(out) == len(list(cuts)) and all(f"_{affix}{float(factor)}" in c.id for c in out)
        assert out[0].load_audio().shape[-1] == out[0].num_samples


@pytest.mark.parametrize("source, target, match", [
    (16000.9, 8000, "source_sampling_rate"), (16000, "8000", "target_sampling_rate"),
    (16000, True, "target_sampling_rate"), (0, 8000, "source_sampling_rate"), (16000, 10**6, "target_sampling_rate"),
])
def test_resample_rates_are_checked_before_lhotse_truncates_them(source, target, match):
    # 16000.9 became 16000 and "8000" or True (1 Hz) were taken: Lhotse's int() ran first
    with pytest.raises(noisegen.ParameterError, match=rf"^{match} must be an integer in Hz"):
        nl.NoisegenResample(source, target)
    assert nl.NoisegenResample(np.int64(16000), 8000.0).target_sampling_rate == 8000


def test_bad_arguments_are_refused(cuts):
    with pytest.raises(noisegen.ParameterError, match="cuts"):
        nl.augment_cuts([1, 2], noisegen.Gain(), rng=0)
    with pytest.raises(noisegen.ParameterError, match="pipeline"):
        nl.augment_cuts(cuts, object(), rng=0)
    with pytest.raises(noisegen.ParameterError, match="key"):
        nl.NoisegenAugment(pipeline=noisegen.Gain().to_dict(), key=-1)
    with pytest.raises(noisegen.ParameterError, match="cut_id"):
        nl.cut_key(3, rng=0)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(importlib.import_module("noisegen.data.lhotse"), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("rate, target", [(8000, 16000), (16000, 8000), (22050, 16000), (16000, 16000)])
def test_a_pipeline_attached_before_a_resample_runs_at_the_rate_its_audio_has(tmp_path, rate, target, channels):
    """Lhotse passes every transform of a recording the recording's final rate: augment_cuts then resample
    ran the pipeline on 8 kHz audio told it was at 16 kHz (a 1 kHz low-pass cut at 500 Hz), silently."""
    y = (0.1 * np.random.default_rng(0).standard_normal((channels, rate // 2 + 1))).astype(np.float32)
    path = str(tmp_path / "x.wav")
    sf.write(path, y.T, rate, subtype="FLOAT")
    cuts = CutSet.from_cuts([Recording.from_file(path).to_cut()])
    pipeline = noisegen.LowPassFilter(min_cutoff_hz=1000, max_cutoff_hz=1000, p=1.0)
    plain = cuts[0]
    at_rate = pipeline(plain.load_audio(), sample_rate=rate, rng=nl.cut_key(plain.id, rng=0))
    expected = nl.NoisegenResample(rate, target)(at_rate)
    resampled = nl.resample(nl.augment_cuts(cuts, pipeline, rng=0), target)
    back = CutSet.from_dicts([c.to_dict() for c in resampled])  # the rate travels in the manifest
    for cut in (resampled[0], back[0]):
        got = cut.load_audio()
        assert cut.sampling_rate == target and got.shape == (channels, cut.num_samples)
        n = min(got.shape[-1], expected.shape[-1])
        np.testing.assert_allclose(got[..., :n], expected[..., :n], atol=1e-6)
    # resampled first, the pipeline runs at the new rate
    after = nl.augment_cuts(nl.resample(cuts, target), pipeline, rng=0)[0]
    np.testing.assert_array_equal(after.load_audio(), pipeline(nl.resample(cuts, target)[0].load_audio(),
                                                                 sample_rate=target, rng=nl.cut_key(plain.id, rng=0)))


@pytest.mark.parametrize("target", [8000, 22050, 48000])
def test_a_tempo_change_before_a_resample_runs_at_the_rate_its_audio_has(tmp_path, target):
    """Lhotse passes every transform of a recording the recording's final rate: perturb_tempo then resample
    stretched 16 kHz audio with the WSOLA frames of another rate (30 ms at 8 kHz: 15 ms), silently."""
    cuts = _tone(tmp_path, 440.0, 16001)
    y = cuts[0].load_audio()
    expected = nl.NoisegenResample(16000, target)(nl.NoisegenTempo(factor=0.9)(y, 16000))
    ours = nl.resample(nl.perturb_tempo(cuts, 0.9), target)
    converted = nl.use_noisegen_transforms(cuts.perturb_tempo(0.9).resample(target))  # a manifest made by Lhotse
    back = CutSet.from_dicts([c.to_dict() for c in converted])
    for cut in (ours[0], converted[0], back[0]):
        assert [type(t).__name__ for t in cut.recording.transforms] == ["NoisegenTempo", "NoisegenResample"]
        got = cut.load_audio()
        n = min(got.shape[-1], expected.shape[-1])
        assert got.shape == (1, cut.num_samples) and abs(got.shape[-1] - expected.shape[-1]) <= 1
        np.testing.assert_allclose(got[..., :n], expected[..., :n], atol=1e-6)


@pytest.mark.parametrize("perturb, rate", [(lambda c: nl.resample(c, 16000), 16000),
                                           (lambda c: nl.perturb_speed(c, 1.1), 8000),
                                           (lambda c: nl.perturb_tempo(c, 0.9), 8000),
                                           (lambda c: nl.perturb_volume(c, 0.5), 8000)])
def test_a_mixed_cuts_pipeline_survives_resampling_and_perturbation(tmp_path, perturb, rate):
    """Lhotse's MixedCut.resample / perturb_* return a MixedCut without the mix's transforms: the pipeline
    augment_cuts attached to a mix vanished, and the cut loaded unaugmented, without a word."""
    path = str(tmp_path / "m.wav")
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(6001), 8000, subtype="FLOAT")
    mono = Recording.from_file(path).to_cut()
    mixed = CutSet.from_cuts([mono.mix(mono, offset_other_by=0.1, snr=3),
                              mono.pad(duration=1.0).mix(mono, offset_other_by=0.3)])
    pipeline = noisegen.AddColoredNoise(min_snr_db=0, max_snr_db=0, p=1.0)
    for cut, plain in zip(perturb(nl.augment_cuts(mixed, pipeline, rng=0)), perturb(mixed)):
        assert [type(t).__name__ for t in cut.transforms] == ["NoisegenAugment"]
        key = nl.cut_key(cut.id.split("_")[0], rng=0)  # (ids of speed, tempo and volume changes are affixed)
        np.testing.assert_array_equal(cut.load_audio(), pipeline(plain.load_audio(), sample_rate=rate, rng=key))
    path = tmp_path / "mixed.jsonl"
    nl.augment_cuts(mixed, pipeline, rng=0).to_jsonl(path)
    assert all(c.transforms for c in perturb(CutSet.from_jsonl_lazy(path)))  # a lazy CutSet too


def test_cuts_named_after_file_names_that_are_not_utf8_are_augmented(tmp_path):
    """Recording.from_file names a cut after its file; a name that is not UTF-8 gives an id with surrogate
    escapes, which cut_key encoded as strict UTF-8: UnicodeEncodeError for every such cut."""
    import hashlib

    from noisegen._core.rng import derive_key, resolve_key

    import io

    buffer = io.BytesIO()
    sf.write(buffer, 0.1 * np.random.default_rng(0).standard_normal(1600), 16000, format="WAV")
    paths = []
    for name in (b"caf\xe9.wav", b"d\xff\xfe.wav", b"plain.wav"):
        path = os.path.join(os.fsencode(str(tmp_path)), name)
        try:
            with open(path, "wb") as fh:
                fh.write(buffer.getvalue())
        except (OSError, UnicodeError):
            pytest.skip("this filesystem takes no file name that is not UTF-8")
        paths.append(os.fsdecode(path))
    cuts = CutSet.from_cuts(Recording.from_file(p).to_cut() for p in paths)
    pipeline = noisegen.Gain(p=1.0)
    keys = set()
    for plain, cut in zip(cuts, nl.augment_cuts(cuts, pipeline, rng=0)):
        key = nl.cut_key(plain.id, rng=0)
        keys.add(key)
        np.testing.assert_array_equal(cut.load_audio(), pipeline(plain.load_audio(), sample_rate=16000, rng=key))
    assert len(keys) == 3
    # a UTF-8 id keeps its key (the documented hash), and a lone surrogate of another kind gets one
    digest = hashlib.blake2b("plain".encode(), digest_size=8).digest()
    assert nl.cut_key("plain", rng=0) == derive_key(resolve_key(0), int.from_bytes(digest, "little"))
    assert nl.cut_key("a\ud800", rng=0) != nl.cut_key("a", rng=0)


def test_a_lhotse_set_as_a_stream_source_is_refused_pointing_at_augment_cuts(cuts):
    # AugmentStream(cuts) skipped every cut (each "must hold dicts with 'array' ...") and streamed nothing
    lazy = cuts.to_eager()
    for source in (cuts, lazy, lazy.subset(first=2), RecordingSet.from_recordings(c.recording for c in cuts.subset(first=2))):
        with pytest.raises(noisegen.ParameterError, match=r"not a Lhotse \w+Set: .*noisegen.lhotse.augment_cuts"):
            noisegen.AugmentStream(source, None, sample_rate=16000, chunk_s=None, rng=0, shuffle=False)


@pytest.mark.parametrize("shuffle", [True, False])
def test_a_list_of_lhotse_cuts_or_recordings_as_a_stream_source_is_refused(cuts, shuffle):
    # list(cuts) (or a list of recordings) skipped every one as "float32 or float64 audio, got dtype object":
    # a stream of nothing, as the CutSet itself was
    eager = list(cuts.to_eager())
    for source in (eager, eager[:1], tuple(eager), [c.recording for c in eager]):
        with pytest.raises(noisegen.ParameterError, match=r"not a list of Lhotse \w+: .*noisegen.lhotse.augment_cuts"):
            noisegen.AugmentStream(source, None, sample_rate=16000, chunk_s=0.5, rng=0, shuffle=shuffle)
    audio = [(c.load_audio()[0], c.sampling_rate) for c in eager[:2]]  # their audio, loaded, streams
    assert list(noisegen.AugmentStream(audio, None, sample_rate=16000, chunk_s=0.5, rng=0, shuffle=shuffle))


@pytest.mark.parametrize("reread", [False, True])
def test_a_pipeline_attached_again_is_warned_of_once_and_another_is_not(cuts, tmp_path, reread):
    """``cuts = augment_cuts(cuts, p, rng=epoch)`` in an epoch loop (as "call augment_cuts(..., rng=epoch)"
    read) stacked the pipeline: noise added once more every epoch, without a word. Also for cuts whose
    manifest was written and read back (the transforms are dicts there)."""
    import warnings

    pipeline, base = _pipeline(), cuts.subset(first=3)
    once = nl.augment_cuts(base, pipeline, rng=0)
    if reread:
        once.to_jsonl(tmp_path / "cuts.jsonl")
        once = CutSet.from_jsonl(tmp_path / "cuts.jsonl")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        twice = nl.augment_cuts(once, pipeline, rng=1).to_eager()
    messages = [str(w.message) for w in caught if issubclass(w.category, noisegen.NoisegenWarning)]
    assert len(messages) == 1 and "already carries this pipeline" in messages[0], messages
    assert all(len(c.recording.transforms) == 2 for c in twice)  # (still attached: it may be meant)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nl.augment_cuts(base, pipeline, rng=1).to_eager()  # the epoch loop done right
        nl.augment_cuts(once, noisegen.Gain(p=1.0), rng=1).to_eager()  # another pipeline on top


@pytest.mark.parametrize("perturb, value", [(nl.perturb_speed, 1.1), (nl.perturb_tempo, 0.9), (nl.perturb_volume, 0.5),
                                            (nl.resample, 8000)])
def test_affix_id_is_a_flag_not_any_truthy_value(cuts, perturb, value):
    """perturb_speed(cuts, 1.1, affix_id="yes") was taken as True (and "no" would have been too)."""
    for bad in ("yes", "no", 1, None):
        with pytest.raises(noisegen.ParameterError, match=r"affix_id must be True or False"):
            perturb(cuts, value, affix_id=bad)
    assert perturb(cuts, value, affix_id=True)[0].id != perturb(cuts, value, affix_id=False)[0].id
