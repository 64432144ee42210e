"""Does augmentation help? A spoken-digit classifier trained with and without noisegen.

Train a small classifier on clean Free Spoken Digit recordings, once as they
are and once with noisegen augmentation (background noise at 0-20 dB SNR from
one set of noise recordings, room reverb, speed perturbation 0.9-1.1), then
test both on speakers never seen in training, mixed with *other* noise
recordings at 0, 5, 10 and 20 dB SNR, and clean.

Run from the repository root (CPU only, about a minute)::

    python examples/evaluate_augmentation.py
    python examples/evaluate_augmentation.py --data ../shared/data/fsdd/recordings --plot accuracy.png

Needs scikit-learn; matplotlib is optional (for the plot). Seeds are fixed:
the same command prints the same table.

Data: the FSDD folder holds ``{digit}_{speaker}_{index}.wav`` (8 kHz mono);
two of its six speakers are held out for testing. Noise and reverb come from
``--noise-dir`` (default ``../shared/data/noise``, falling back to the bundled
``data/noise``) and ``--rir-dir`` (default ``data/rir``). The noise files are
split by name into a training set and a disjoint test set.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

import noisegen

ROOT = Path(__file__).resolve().parents[1]
SR = 8000  # FSDD's own rate
TEST_SNRS_DB = (0, 5, 10, 20)
AUDIO_EXT = (".wav", ".flac", ".ogg")
# Noise files held out for testing (matched on the file name); every other file trains.
TEST_NOISE = ("typing", "exercise_bike", "Vibe_Ace", "humpback")


def _at_least_1(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv=None):
    default_data = ROOT.parent / "shared" / "data" / "fsdd" / "recordings"
    default_noise = ROOT.parent / "shared" / "data" / "noise"
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=default_data, help="FSDD recordings folder")
    p.add_argument("--noise-dir", type=Path, default=default_noise if default_noise.is_dir() else ROOT / "data" / "noise")
    p.add_argument("--rir-dir", type=Path, default=ROOT / "data" / "rir")
    p.add_argument("--test-speakers", default="jackson,theo", help="comma-separated held-out speakers")
    p.add_argument("--copies", type=_at_least_1, default=6, help="augmented copies per training clip (clean kept too)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", default="evaluate_augmentation.png", help="PNG path ('' for none)")
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- audio


def load(path: Path, max_s: float | None = None) -> np.ndarray:
    y, _ = noisegen.load(path, sample_rate=SR, mono=True, dtype=np.float32)
    if max_s is not None:
        y = y[: int(max_s * SR)]
    return np.ascontiguousarray(y)


def audio_files(folder: Path):
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXT)


def load_noises(folder: Path):
    train, test = [], []
    for p in audio_files(folder):
        y = load(p, max_s=60.0)
        if np.sqrt(np.mean(y**2)) < 1e-4:
            continue
        (test if any(k in p.stem for k in TEST_NOISE) else train).append((p.stem, y))
    if not train or not test:
        raise SystemExit(f"need noise files for both training and testing in {folder} (test names: {TEST_NOISE})")
    return train, test


def mix(y, noise, snr_db, rng):
    """Mix at ``snr_db`` from a random offset, skipping silent stretches of the noise."""
    for _ in range(20):
        offset = int(rng.integers(0, len(noise)))
        idx = (offset + np.arange(0, len(y), 7)) % len(noise)
        if np.sqrt(np.mean(noise[idx] ** 2)) > 1e-3:
            break
    return noisegen.mix_at_snr(y, noise, snr_db=float(snr_db), noise_offset=offset)


def augment(y, rng, noises, rirs):
    """Speed 0.9-1.1 (p=0.5), reverb (p=0.5), background noise 0-20 dB (p=0.7)."""
    if rng.random() < 0.5:
        y = noisegen.speed(y, factor=float(rng.uniform(0.9, 1.1)), sample_rate=SR)
    if rirs and rng.random() < 0.5:
        peak = np.max(np.abs(y))
        y = noisegen.convolve_rir(y, rirs[rng.integers(len(rirs))])
        y *= peak / max(np.max(np.abs(y)), 1e-9)
    if rng.random() < 0.7:
        y = mix(y, noises[rng.integers(len(noises))][1], rng.uniform(0.0, 20.0), rng)
    return y


# ----------------------------------------------------------------------------- features

N_FFT, HOP, N_MELS, N_FRAMES = 256, 80, 40, 24


def _mel_filterbank():
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    mels = np.linspace(hz_to_mel(60.0), hz_to_mel(SR / 2), N_MELS + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1)
    bins = np.fft.rfftfreq(N_FFT, 1 / SR)
    fb = np.zeros((N_MELS, len(bins)))
    for m in range(N_MELS):
        lo, c, hi = hz[m], hz[m + 1], hz[m + 2]
        fb[m] = np.clip(np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c)), 0, None)
    return fb


MEL = _mel_filterbank()
WINDOW = np.hanning(N_FFT)


def features(y: np.ndarray) -> np.ndarray:
    """Log-mel (40 bands, 32 ms frames), per-band mean removed, re-timed to 24 frames, plus band means."""
    y = np.asarray(y, np.float64)
    if len(y) < N_FFT:
        y = np.pad(y, (0, N_FFT - len(y)))
    n_frames = 1 + (len(y) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    power = np.abs(np.fft.rfft(y[idx] * WINDOW, axis=1)) ** 2
    logmel = np.log(power @ MEL.T + 1e-8)  # (frames, mels)
    logmel -= logmel.max()  # level invariance
    logmel = np.maximum(logmel, -12.0)  # ~52 dB floor
    x_old = np.linspace(0.0, 1.0, n_frames)
    x_new = np.linspace(0.0, 1.0, N_FRAMES)
    fixed = np.stack([np.interp(x_new, x_old, logmel[:, m]) for m in range(N_MELS)], axis=1)
    means = fixed.mean(axis=0)
    return np.concatenate([(fixed - means).ravel(), means]).astype(np.float32)


# ----------------------------------------------------------------------------- model


def train(X, y, seed):
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-2, max_iter=200,
                                                          early_stopping=True, random_state=seed))
    return model.fit(X, y)


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    if not args.data.is_dir():
        print(f"FSDD recordings not found at {args.data}; pass --data", file=sys.stderr)
        return 2
    files = audio_files(args.data)
    test_speakers = set(args.test_speakers.split(","))
    named = [(p, p.stem.split("_")) for p in files]
    odd = [p.name for p, parts in named if len(parts) != 3 or not parts[0].isdigit()]
    if odd or not files:
        print(f"--data {args.data}: expected FSDD recordings named DIGIT_SPEAKER_INDEX.wav, got "
              f"{odd[0] if odd else 'no audio file'}", file=sys.stderr)
        return 2
    speakers = {parts[1] for _, parts in named}
    if not test_speakers & speakers or not speakers - test_speakers:
        print(f"--test-speakers {args.test_speakers}: must name some but not all of the speakers "
              f"{', '.join(sorted(speakers))}", file=sys.stderr)
        return 2
    clips = [(int(parts[0]), parts[1], load(p)) for p, parts in named]
    train_set = [(d, y) for d, s, y in clips if s not in test_speakers]
    test_set = [(d, y) for d, s, y in clips if s in test_speakers]
    train_noise, test_noise = load_noises(args.noise_dir)
    rirs = [load(p, max_s=1.0) for p in audio_files(args.rir_dir)] if args.rir_dir.is_dir() else []
    print(f"{len(train_set)} training clips, {len(test_set)} test clips (speakers {sorted(test_speakers)}); "
          f"noise: train {[n for n, _ in train_noise]}, test {[n for n, _ in test_noise]}; {len(rirs)} RIRs",
          file=sys.stderr)

    rng = np.random.default_rng(args.seed)
    labels = np.array([d for d, _ in train_set])
    X_clean = np.stack([features(y) for _, y in train_set])
    X_aug = [X_clean]
    for _ in range(args.copies):
        X_aug.append(np.stack([features(augment(y, rng, train_noise, rirs)) for _, y in train_set]))
    X_aug = np.concatenate(X_aug)
    y_aug = np.tile(labels, args.copies + 1)

    models = {"clean-trained": train(X_clean, labels, args.seed),
              "augmented": train(X_aug, y_aug, args.seed)}

    # Test sets: every test clip with every test noise at each SNR (same mixtures for both models).
    test_rng = np.random.default_rng(args.seed + 1)
    y_test = np.array([d for d, _ in test_set])
    conditions = {"clean": (np.stack([features(y) for _, y in test_set]), y_test)}
    for snr in TEST_SNRS_DB:
        feats, labs = [], []
        for name, noise in test_noise:
            for d, y in test_set:
                feats.append(features(mix(y, noise, snr, test_rng)))
                labs.append(d)
        conditions[f"{snr} dB"] = (np.stack(feats), np.array(labs))

    acc = {m: {c: 100.0 * float(np.mean(model.predict(X) == lab)) for c, (X, lab) in conditions.items()}
           for m, model in models.items()}
    cols = [f"{s} dB" for s in TEST_SNRS_DB] + ["clean"]
    lines = ["| model | " + " | ".join(cols) + " | mean 0-10 dB |", "|---" * (len(cols) + 2) + "|"]
    for m in models:
        low = np.mean([acc[m][f"{s} dB"] for s in TEST_SNRS_DB if s <= 10])
        lines.append(f"| {m} | " + " | ".join(f"{acc[m][c]:.1f}" for c in cols) + f" | {low:.1f} |")
    gain = (np.mean([acc["augmented"][f"{s} dB"] - acc["clean-trained"][f"{s} dB"] for s in TEST_SNRS_DB if s <= 10]))
    clean_delta = acc["augmented"]["clean"] - acc["clean-trained"]["clean"]
    print("Accuracy (%) on held-out speakers, test noises unseen in training:\n")
    print("\n".join(lines))
    print(f"\naugmented - clean-trained: {gain:+.1f} points averaged over 0-10 dB, {clean_delta:+.1f} points clean "
          f"({time.perf_counter() - t0:.0f} s)")

    if args.plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib not installed: no plot", file=sys.stderr)
            return 0
        xs = list(TEST_SNRS_DB) + [30]
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for m in models:
            ax.plot(xs, [acc[m][c] for c in cols], marker="o", label=m)
        ax.set_xticks(xs, [str(s) for s in TEST_SNRS_DB] + ["clean"])
        ax.set_xlabel("test SNR (dB)")
        ax.set_ylabel("accuracy (%)")
        ax.set_title("Spoken digits, held-out speakers and noises")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot: {os.path.abspath(args.plot)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
