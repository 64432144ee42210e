"""Augment a folder of recordings from Python: what ``noisegen augment`` does, in a few lines.

    python examples/augment_folder.py [IN_DIR [OUT_DIR]]

Writes two augmented copies of every file under IN_DIR (default: the bundled
``data/speech``) into OUT_DIR (default: a fresh temporary folder), with real
background noise and room responses from ``data/``, plus ``manifest.jsonl``.
Rerunning resumes; the outputs are the same for any ``workers``.
"""

import argparse
import sys
import tempfile
from pathlib import Path

from noisegen import ParameterError
from noisegen.batch import augment_folder, read_manifest, replay
from noisegen.transforms import AddBackgroundNoise, ApplyImpulseResponse, Compose, Gain, SpeedPerturb

DATA = Path(__file__).resolve().parents[1] / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("in_dir", nargs="?", default=DATA / "speech",
                        help="folder of recordings (default: data/speech)")
    parser.add_argument("out_dir", nargs="?", help="output folder (default: a fresh temporary folder)")
    args = parser.parse_args()
    in_dir, out_dir = args.in_dir, args.out_dir or tempfile.mkdtemp(prefix="noisegen-augment-")

    pipeline = Compose([
        SpeedPerturb(factors=(0.9, 1.0, 1.1), p=0.5),
        ApplyImpulseResponse(rir=str(DATA / "rir"), p=0.5),
        AddBackgroundNoise(noise=str(DATA / "noise"), min_snr_db=5, max_snr_db=20, p=1.0),
        Gain(min_gain_db=-6, max_gain_db=3, p=0.5),
    ])
    try:
        summary = augment_folder(in_dir, out_dir, pipeline=pipeline, copies=2, sample_rate=16000, workers=2, seed=0)
    except ParameterError as exc:  # a missing IN_DIR, an OUT_DIR that is a file, ...: said as a usage error
        parser.error(str(exc))
    print(summary)
    print(f"outputs and manifest.jsonl in {out_dir}")

    # Every manifest line rebuilds its output exactly.
    line = next(iter(read_manifest(out_dir).values()), None)
    if line is not None:  # (None: every input failed, as the summary says)
        samples, sample_rate = replay(line)
        print(f"replayed {line['output']}: {samples.shape[-1] / sample_rate:.2f} s, "
              f"params {line['params']['transforms']}")
    return 1 if summary.failures else 0


if __name__ == "__main__":  # workers=2 spawns its workers on macOS and Windows, and each re-imports this file
    sys.exit(main())
