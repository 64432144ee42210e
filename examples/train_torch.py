"""Train a tiny PyTorch model for a few steps from an augmented noisegen stream.

The speech in ``data/speech`` is read, resampled to 16 kHz, augmented
(background noise from ``data/noise`` at 0-20 dB, a room response from
``data/rir``, one of speed/time-stretch/pitch-shift, gain) and cut into 1 s
chunks by :class:`noisegen.AugmentStream`; a ``DataLoader`` with 2 workers
batches them (each worker produces its own share of the files, so every file
is used once per epoch whatever the number of workers). The toy task:
predict which file a chunk comes from, from its log-mel spectrogram.

Run: ``python examples/train_torch.py [--steps 20] [--workers 2]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import noisegen
from noisegen.torch import AugmentDataset, collate

DATA = Path(__file__).resolve().parents[1] / "data"
SR = 16000


def make_pipeline():
    return noisegen.Compose([
        noisegen.AddBackgroundNoise(DATA / "noise", min_snr_db=0.0, max_snr_db=20.0, p=1.0),
        noisegen.ApplyImpulseResponse(DATA / "rir", p=0.5),
        noisegen.OneOf([noisegen.SpeedPerturb(p=1.0), noisegen.TimeStretch(p=1.0), noisegen.PitchShift(p=1.0)],
                       p=0.5),
        noisegen.Gain(min_gain_db=-6.0, max_gain_db=6.0, p=1.0),
    ])


class TinyNet(torch.nn.Module):
    def __init__(self, n_classes, n_mels=32):
        super().__init__()
        window = torch.hann_window(400)
        self.register_buffer("window", window)
        freqs = torch.linspace(0, SR / 2, 201)
        centers = torch.linspace(0, SR / 2, n_mels + 2)
        width = centers[1] - centers[0]
        fb = torch.clamp(1 - (freqs[None, :] - centers[1:-1, None]).abs() / width, min=0)
        self.register_buffer("fb", fb)
        self.conv = torch.nn.Conv1d(n_mels, 32, kernel_size=5, padding=2)
        self.head = torch.nn.Linear(32, n_classes)

    def forward(self, x):
        spec = torch.stft(x, n_fft=400, hop_length=160, window=self.window, return_complex=True).abs() ** 2
        mel = torch.log(self.fb @ spec + 1e-6)
        h = torch.relu(self.conv(mel))
        return self.head(h.mean(dim=-1))


def at_least(low):
    """An argparse type: an integer >= ``low``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=at_least(1), default=20)
    ap.add_argument("--workers", type=at_least(0), default=2)
    ap.add_argument("--batch-size", type=at_least(1), default=8)
    ap.add_argument("--seed", type=at_least(0), default=0)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)

    stream = noisegen.AugmentStream(DATA / "speech", make_pipeline(), sample_rate=SR, chunk_s=1.0, rng=args.seed,
                                    epochs=None)  # endless: the loop below decides when to stop
    classes = sorted({str(p) for p in (DATA / "speech").rglob("*.wav")})
    dataset = AugmentDataset(stream)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, collate_fn=collate,
                                         num_workers=args.workers)
    model = TinyNet(len(classes))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step, batch in enumerate(loader):
        if step >= args.steps:
            break
        target = torch.tensor([classes.index(s) for s in batch["sources"]])
        loss = torch.nn.functional.cross_entropy(model(batch["samples"]), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 5 == 0 or step == args.steps - 1:
            snrs = [p["transforms"][0].get("snr_db") for p in batch["params"]]
            print(f"step {step:3d}  loss {loss.item():.3f}  batch {tuple(batch['samples'].shape)}  "
                  f"snr_db {', '.join(f'{s:.1f}' for s in snrs if s is not None)}")
    print("done")


if __name__ == "__main__":
    main()
