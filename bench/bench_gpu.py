"""GPU bench: a batch of 256 clips of 4 s at 16 kHz through coloured noise + mix at SNR + gain + band-pass + speed.

Run (one command, on a machine with an NVIDIA GPU and ``pip install 'noisegen[cuda]'``)::

    python -m bench.bench_gpu                  # full size; prints a Markdown table
    python -m bench.bench_gpu --batch 32 --clip-s 1 --cpu-items 8   # a quick look

Timed, each as the median of ``--repeats`` runs after a warm-up (JIT
compilation is excluded and reported apart as ``first call``):

- ``noisegen cuda (device batch)``: :func:`noisegen.cuda.augment_batch` on a
  batch already on the GPU, ``numba.cuda.synchronize()`` before the clock
  stops;
- ``noisegen cuda (numpy in/out)``: the same with the host-to-device and
  device-to-host copies;
- ``noisegen cpu, 1 core``: the same pipeline and parameters,
  ``backend="cpu"``, item by item with the CPU kernels, Numba/BLAS threads
  pinned to one (``--cpu-items`` items, scaled to the batch);
- ``torch-audiomentations cuda`` (when installed with a CUDA torch):
  AddColoredNoise + Gain + BandPassFilter (it has no speed perturbation, so
  that stage is missing from its row), ``torch.cuda.synchronize()``.

xRT = seconds of audio processed per wall-clock second. Without a GPU the
script says so and exits 0. The GPU and CPU outputs are compared (max
relative error) as a sanity check.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

PIPELINE = dict(noise=(0.0, 2.0), snr_db=(0.0, 20.0), gain_db=(-6.0, 6.0), band_hz=(100.0, 4000.0),
                speed=[0.9, 1.0, 1.1])


def _gpu(allow_simulator=False):
    """``(numba.cuda, device name)`` or ``(None, reason)``."""
    simulated = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")
    if simulated and allow_simulator:
        from numba import cuda

        return cuda, "numba-cuda simulator (timings meaningless)"
    if simulated:
        return None, "NUMBA_ENABLE_CUDASIM is set (the simulator is not a GPU)"
    try:
        from numba import cuda
    except ImportError:
        return None, "numba-cuda is not installed (pip install 'noisegen[cuda]')"
    try:
        if not cuda.is_available():
            return None, "no CUDA driver or GPU found"
        name = cuda.get_current_device().name
        return cuda, name.decode() if isinstance(name, bytes) else str(name)
    except Exception as exc:  # noqa: BLE001
        return None, f"CUDA failed: {exc}"


def _time(fn, repeats, sync=None):
    """``(first_call_s, median_s, iqr_s)`` of ``fn()``, synchronised after each call."""
    def call():
        out = fn()
        if sync is not None:
            sync()
        return out

    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    call()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    q25, med, q75 = np.percentile(times, [25, 50, 75])
    return first, float(med), float(q75 - q25)


def _band_pass_centre_and_fraction(low_hz, high_hz):
    """torch-audiomentations' ``BandPassFilter`` arguments for the band ``low_hz``-``high_hz``: it cuts
    at ``centre * (1 -+ fraction / 2)``, an arithmetic centre (the geometric one, ~650 Hz for 100-4000,
    gave it a 32-1268 Hz band)."""
    centre = (low_hz + high_hz) / 2
    return centre, (high_hz - low_hz) / centre


def _torch_audiomentations(batch_np, sample_rate):
    """A callable running the comparable torch-audiomentations chain on the GPU, or a reason string."""
    try:
        import torch
        from torch_audiomentations import AddColoredNoise, BandPassFilter, Compose, Gain
    except ImportError:
        return "torch-audiomentations (with torch) is not installed"
    if not torch.cuda.is_available():
        return "torch has no CUDA device"
    centre, fraction = _band_pass_centre_and_fraction(*PIPELINE["band_hz"])
    aug = Compose([
        AddColoredNoise(min_snr_in_db=0.0, max_snr_in_db=20.0, min_f_decay=0.0, max_f_decay=2.0, p=1.0,
                        output_type="tensor"),
        Gain(min_gain_in_db=-6.0, max_gain_in_db=6.0, p=1.0, output_type="tensor"),
        BandPassFilter(min_center_frequency=centre, max_center_frequency=centre, min_bandwidth_fraction=fraction,
                       max_bandwidth_fraction=fraction, p=1.0, output_type="tensor"),
    ], output_type="tensor")
    x = torch.as_tensor(batch_np[:, None, :], device="cuda")
    return (lambda: aug(x, sample_rate=sample_rate)), torch.cuda.synchronize


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_gpu", description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--clip-s", type=float, default=4.0)
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--cpu-items", type=int, default=32, help="items timed on the CPU (scaled to the batch)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--allow-simulator", action="store_true",
                   help="run under NUMBA_ENABLE_CUDASIM=1 to check the script itself (tiny sizes only)")
    args = p.parse_args(argv)

    cuda, what = _gpu(args.allow_simulator)
    if cuda is None:
        print(f"bench_gpu: no GPU here ({what}); nothing to time. Run it on a machine with an NVIDIA GPU.")
        return 0
    import noisegen
    from noisegen.cuda import augment_batch

    sr, b = args.sample_rate, args.batch
    n = int(round(args.clip_s * sr))
    batch = (np.random.default_rng(args.seed).standard_normal((b, n)) * 0.1).astype(np.float32)
    audio_s = b * args.clip_s
    rows = []

    d_batch = cuda.to_device(batch)
    first, med, iqr = _time(lambda: augment_batch(d_batch, sample_rate=sr, rng=args.seed, **PIPELINE),
                            args.repeats, cuda.synchronize)
    rows.append(("noisegen cuda (device batch)", first, med, iqr, audio_s / med))
    first, med, iqr = _time(lambda: augment_batch(batch, sample_rate=sr, rng=args.seed, backend="cuda", **PIPELINE),
                            args.repeats, cuda.synchronize)
    rows.append(("noisegen cuda (numpy in/out)", first, med, iqr, audio_s / med))

    k = max(1, min(args.cpu_items, b))
    sub = batch[:k]
    first, med, iqr = _time(lambda: augment_batch(sub, sample_rate=sr, rng=args.seed, backend="cpu", **PIPELINE),
                            max(3, args.repeats // 2))
    scale = b / k
    rows.append((f"noisegen cpu, 1 core ({k} items, scaled)", first, med * scale, iqr * scale,
                 audio_s / (med * scale)))

    ta = _torch_audiomentations(batch, sr)
    ta_note = ""
    if isinstance(ta, str):
        ta_note = ta
    else:
        fn, sync = ta
        first, med, iqr = _time(fn, args.repeats, sync)
        rows.append(("torch-audiomentations cuda (no speed stage)", first, med, iqr, audio_s / med))

    # sanity: the GPU result equals the CPU pipeline on the first items
    gpu = augment_batch(sub, sample_rate=sr, rng=args.seed, backend="cuda", **PIPELINE)
    cpu = augment_batch(sub, sample_rate=sr, rng=args.seed, backend="cpu", **PIPELINE)
    err = float(np.max(np.abs(gpu.samples - cpu.samples)) / np.max(np.abs(cpu.samples)))

    print(f"## GPU batch augmentation ({b} clips x {args.clip_s:g} s at {sr} Hz)\n")
    print(f"Device: {what}; CPU: {platform.processor() or platform.machine()}; noisegen {noisegen.__version__}; "
          f"pipeline: coloured noise (beta 0..2) at SNR 0..20 dB, gain -6..6 dB, band-pass 100-4000 Hz "
          f"(Butterworth order 4), speed in {{0.9, 1.0, 1.1}}.\n")
    print("| implementation | first call (s) | median per batch (s) | IQR (s) | xRT |")
    print("|---|---:|---:|---:|---:|")
    for name, first, med, iqr, xrt in rows:
        print(f"| {name} | {first:.3f} | {med:.4f} | {iqr:.4f} | {xrt:,.0f} |")
    print(f"\nGPU vs CPU max relative difference on {k} items: {err:.2e}.")
    if ta_note:
        print(f"torch-audiomentations not timed: {ta_note}.")
    print("\nCommand: python -m bench.bench_gpu" + (" " + " ".join(argv or sys.argv[1:])).rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
