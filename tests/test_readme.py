"""Every Python example in the README runs exactly as written (from the project root), and its
audiomentations table names every argument noisegen spells differently."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
# The extras an example imports; CI installs them all.
EXTRAS = {"torch": "torch", "noisegen.lhotse": "lhotse", "lhotse": "lhotse", "noisegen.hf": "datasets",
          "datasets": "datasets", "ray": "ray", "noisegen.ray": "ray", "webdataset": "webdataset"}


def _imported_modules(code: str) -> set[str]:
    """Every module an example imports, dotted and by its top-level package."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names | {name.split(".")[0] for name in names}


def test_an_example_that_imports_an_extra_among_others_is_found_to_need_it():
    assert {"ray", "noisegen.ray", "lhotse"} <= _imported_modules("import noisegen, ray, noisegen.ray\n"
                                                                   "from lhotse import CutSet\n")


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path):
    code = BLOCKS[index]
    for name in _imported_modules(code):  # (a regex missed "import noisegen, ray" and "from lhotse import")
        if name in EXTRAS:
            pytest.importorskip(EXTRAS[name])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_the_readme_and_the_augment_help_name_every_extension_the_scanner_reads():
    from noisegen.audio.files import AUDIO_EXTENSIONS
    from noisegen.cli.augment import DESCRIPTION

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    inputs = text[text.index("- **Inputs** are"):][:300]
    assert [e for e in AUDIO_EXTENSIONS if e not in inputs.split("`")[1].split() + inputs.split("`")[3].split()] == []
    assert [e for e in AUDIO_EXTENSIONS
            if e not in (".wave", ".oga", ".aif", ".aifc", ".snd") and e[1:] not in DESCRIPTION] == []


def test_the_readme_and_the_augment_help_say_hidden_names_are_left_out(tmp_path):
    """"every audio file under IN_DIR", said the help, and the README's inputs named the extensions
    alone, while the scanner leaves out hidden files and folders: a corpus under .data/ was "no audio
    file", a ._x.wav beside x.wav no input, without a word anywhere a user reads."""
    import numpy as np
    import soundfile as sf

    from noisegen.audio.files import scan_audio_files
    from noisegen.batch import augment_folder
    from noisegen.cli.augment import DESCRIPTION

    for name in ("x.wav", ".y.wav", ".data/z.wav"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        sf.write(tmp_path / name, np.zeros(16) + 0.1, 16000)
    assert scan_audio_files(tmp_path) == ([str(tmp_path / "x.wav")], [])  # (what the docs must say)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    inputs = " ".join(text[text.index("- **Inputs** are"):].split("\n- **")[0].split())  # (the bullet)
    for where in (inputs, " ".join(DESCRIPTION.split()), " ".join(augment_folder.__doc__.split())):
        assert re.search(r"hidden files and folders.{0,120}left out", where), where


# audiomentations' constructor arguments that noisegen spells differently (audiomentations 0.43):
# each must be named in its row of "Coming from audiomentations" as `old` -> `new`
RENAMED = {
    "AddBackgroundNoise": ("AddBackgroundNoise", {"sounds_path": "noise", "noise_rms": "noise_level"}),
    "AddShortNoises": ("AddShortNoises", {"sounds_path": "sounds", "min_time_between_sounds": "min_time_between_s"}),
    "ApplyImpulseResponse": ("ApplyImpulseResponse", {"ir_path": "rir"}),
    "RoomSimulator": ("RoomSimulator", {"min_target_rt60": "min_rt60_s", "min_mic_distance": "min_distance_m"}),
    "Shift": ("Shift", {"fade_duration": "fade_s"}),
    "LowPassFilter": ("LowPassFilter", {"min_cutoff_freq": "min_cutoff_hz"}),
    "BandPassFilter": ("BandPassFilter", {"min_center_freq": "min_center_hz"}),
    "PeakingFilter": ("PeakingEQ", {"min_center_freq": "min_center_hz"}),
    "LowShelfFilter": ("LowShelf", {"min_center_freq": "min_cutoff_hz"}),
    "ClippingDistortion": ("Clip", {"min_percentile_threshold": "min_percentile"}),
    "TimeMask": ("TimeMask", {"min_band_part": "min_fraction", "fade_duration": "fade_s"}),
    "Mp3Compression": ("Codec", {"min_bitrate": "min_bitrate_kbps"}),
    "SomeOf": ("SomeOf", {"num_transforms": "k"}),
    "LoudnessNormalization": ("Normalize", {"min_lufs": "min_target_db", "max_lufs": "max_target_db"}),
}


@pytest.mark.parametrize("theirs", sorted(RENAMED))
def test_the_migration_table_names_every_renamed_argument(theirs):
    import inspect

    import noisegen

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("## Coming from audiomentations"):text.index("Differences in behaviour")]
    (row,) = [line for line in table.splitlines() if re.match(rf"\| [^|]*`{theirs}`", line)]
    ours, renamed = RENAMED[theirs]
    parameters = inspect.signature(getattr(noisegen, ours)).parameters
    for old, new in renamed.items():
        assert f"`{old}` -> `{new}`" in row, (theirs, old, new)
        assert new in parameters, (ours, new)



# noisegen defaults the migration section says differ from audiomentations': (class, defaults, as the README words them)
DIFFERENT_DEFAULTS = [
    ("AddColoredNoise", {"min_snr_db": 3.0, "max_snr_db": 30.0}, "`AddColoredNoise`, 3 to 30 dB"),
    ("AddShortNoises", {"min_snr_db": 0.0, "max_snr_db": 24.0}, "`AddShortNoises`, 0 to 24 dB"),
    ("PeakingEQ", {"max_q": 9.9}, "`PeakingEQ`'s `max_q` 9.9"),
    ("TimeMask", {"min_fraction": 0.0}, "`TimeMask`'s `min_fraction` 0"),
    ("Resample", {"max_sample_rate": 16000}, "`Resample`'s `max_sample_rate` 16000"),
    # (audiomentations' rooms are 3.6-5.6 x 3.6-3.9 x 2.4-3 m with the microphone 0.15-0.35 m from the source)
    ("RoomSimulator", {"min_room_dim_m": (3.0, 3.0, 2.5), "max_room_dim_m": (10.0, 8.0, 4.0), "min_rt60_s": 0.2,
                       "max_rt60_s": 1.0}, "`RoomSimulator`'s rooms, 3-10 x 3-8 x 2.5-4 m (3.6-5.6 x 3.6-3.9 x 2.4-3), "
                                           "RT60s, 0.2 to 1 s"),
    ("RoomSimulator", {"min_distance_m": 0.5, "max_distance_m": 3.0}, "distances, 0.5 to 3 m (0.15 to 0.35)"),
]


@pytest.mark.parametrize("cls, defaults, words", DIFFERENT_DEFAULTS, ids=[c for c, _, _ in DIFFERENT_DEFAULTS])
def test_the_migration_section_states_the_defaults_that_differ(cls, defaults, words):
    import inspect

    import noisegen

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    intro = " ".join(text[text.index("## Coming from audiomentations"):text.index("| audiomentations |")].split())
    parameters = inspect.signature(getattr(noisegen, cls)).parameters
    assert {name: parameters[name].default for name in defaults} == defaults
    assert words in intro


def test_the_peer_migration_notes_hold():
    """What "Coming from librosa, soxr, colorednoise and torchaudio" says of noisegen is what noisegen does."""
    import inspect

    import numpy as np

    import noisegen

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Coming from librosa, soxr, colorednoise and torchaudio"):]
    notes = " ".join(section.split("\n## ")[0].split())
    for words in ("22,050 Hz", "`round(n / rate)`", "phase=-np.pi / 2, dtype=np.float64)`",
                  "`(channels, frames)`", "`ceil(n * out / in)`", "37, soxr 36", "then `flush()`",
                  "`RandomState`", "starts with the same samples", "variance 0.04", "removes the noise",
                  "65,559, noisegen 65,560", "`round(n / factor)`", "14,546, torchaudio 14,547"):
        assert words in notes, words
    # librosa: load keeps the file's rate and channels; tone and chirp are cosines, sines with phase=-pi/2
    assert {k: v.default for k, v in inspect.signature(noisegen.load).parameters.items()
            if k in ("sample_rate", "mono")} == {"sample_rate": None, "mono": False}
    t = np.arange(1000) / 16000
    sine = noisegen.tone(freq_hz=440, sample_rate=16000, n_samples=1000, phase=-np.pi / 2, dtype=np.float64)
    assert np.allclose(sine, np.sin(2 * np.pi * 440 * t), atol=1e-9)
    assert noisegen.chirp(freq_hz=100, end_freq_hz=1000, sample_rate=16000, n_samples=10)[0] == 1.0
    assert noisegen.time_stretch(np.zeros(16001, np.float32), rate=1.1, sample_rate=16000).shape == (14546,)
    # soxr: (frames, channels) in and out through .T; ceil, where soxr rounds
    x = np.zeros((100, 2), np.float32)
    assert noisegen.resample(x.T, orig_sample_rate=44100, target_sample_rate=16000).T.shape == (37, 2)
    # colorednoise: a stationary stream (a longer clip starts with the same samples) reaching 2e-5 * sample_rate
    short, long = (noisegen.colored_noise(n, beta=1.0, rng=0) for n in (1000, 16000))
    assert np.array_equal(short, long[:1000])
    drift = noisegen.brown_noise(1000, rng=0, n_channels=200, dtype=np.float64)
    assert 0.02 < drift.var(axis=1).mean() < 0.08 and 0.7 < (drift**2).mean() < 1.4
    kept = noisegen.brown_noise(1000, rng=0, n_channels=200, dtype=np.float64, min_freq_hz=20, sample_rate=16000)
    assert 0.9 < kept.var(axis=1).mean() < 1.1
    # torchaudio: resample's exact ceil (torchaudio's, in float32, is one short here); speed's round(n / factor)
    y = np.zeros(180697, np.float32)
    assert noisegen.resample(y, orig_sample_rate=44100, target_sample_rate=16000).shape == (65560,)
    assert noisegen.speed(np.zeros(16001, np.float32), factor=1.1, sample_rate=16000).shape == (14546,)


def test_the_migration_rows_say_what_a_replay_keeps():
    """Shift replays its shift in samples and Normalize its target level, as their migration rows say."""
    import numpy as np

    import noisegen

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "`last_params` holds the shift in samples" in text
    assert "brings each input to the recorded `target_db`" in text
    shift = noisegen.Shift(min_shift=0.5, max_shift=0.5, rollover=False, fade_s=0.0, p=1.0)
    params = shift.draw_params(np.ones(4), sample_rate=1, rng=0)
    for n, rate in ((4, 1), (8, 2), (9, 16000)):  # audiomentations' frozen Shift: n / 2 zeros
        out = shift.apply_params(np.arange(1.0, n + 1), params, sample_rate=rate)
        assert np.count_nonzero(out == 0) == 2
    normalize = noisegen.Normalize(p=1.0)
    params = normalize.draw_params(np.array([0.9, -0.5]), sample_rate=16000, rng=0)
    for y in (np.array([0.1, -2.0, 0.5]), np.array([0.2, 0.9, -0.05])):
        assert np.max(np.abs(normalize.apply_params(y, params, sample_rate=16000))) == 1.0


# audiomentations 0.43's transforms: each has a row in "Coming from audiomentations" (a twin or "no counterpart")
AUDIOMENTATIONS = (
    "AddBackgroundNoise AddColorNoise AddGaussianNoise AddGaussianSNR AddShortNoises AdjustDuration AirAbsorption "
    "Aliasing ApplyImpulseResponse BandPassFilter BandStopFilter BitCrush Clip ClippingDistortion Gain GainTransition "
    "HighPassFilter HighShelfFilter Lambda Limiter LoudnessNormalization LowPassFilter LowShelfFilter Mp3Compression "
    "Normalize Padding PeakingFilter PitchShift PolarityInversion RepeatPart Resample Reverse RoomSimulator "
    "SevenBandParametricEQ Shift TanhDistortion TimeMask TimeStretch Trim Compose OneOf SomeOf").split()


def test_the_migration_table_has_a_row_for_every_audiomentations_transform():
    """audiomentations' Clip (a fixed [a_min, a_max] clip) had no row, and noisegen's Clip, called alike,
    clips a drawn 0-40 % of the samples: the row points at noisegen.clip."""
    import inspect

    import numpy as np

    import noisegen

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("## Coming from audiomentations"):text.index("Differences in behaviour")]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    assert [name for name in AUDIOMENTATIONS if not any(f"`{name}`" in cell for cell in first_cells)] == []
    assert "| `Clip` | `noisegen.clip(y, threshold=a)` |" in table and "a drawn 0-40 % of the samples" in table
    assert {k: v.default for k, v in inspect.signature(noisegen.Clip).parameters.items()} == \
        {"min_percentile": 0.0, "max_percentile": 40.0, "p": 0.5}
    y = np.linspace(-2.0, 2.0, 9)
    assert np.array_equal(noisegen.clip(y, threshold=1.0), np.clip(y, -1.0, 1.0))


def test_the_torch_audiomentations_p_mode_recipe_holds():
    """A coarser p_mode: the caller's own draw against t.p, then draw_params(force=True) per unit of mode."""
    import numpy as np

    import noisegen

    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "a coarser `p_mode` is your own `gen.random() < t.p` per batch or example, then " \
           "`t.draw_params(..., force=True)`" in text
    t = noisegen.Gain(min_gain_db=-6, max_gain_db=-6, p=0.0)
    x = np.ones((2, 3, 8), np.float32)  # (batch, channels, samples): mode="per_channel", p_mode="per_example"
    out = [[t.apply_params(x[b, c], t.draw_params(x[b, c], sample_rate=16000, rng=3 * b + c, force=True),
                           sample_rate=16000) for c in range(3)] for b in range(2)]
    assert np.allclose(np.array(out), 10 ** (-6 / 20))
