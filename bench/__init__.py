"""noisegen benchmark suite: ``python -m bench [--quick] [--json FILE] [--only AREA]``.

One harness (:mod:`bench._harness`) and one script per area: ``bench_synth``
(noise synthesis and cold start), ``bench_mix`` (mixing at SNR, filters, RIR
convolution), ``bench_time`` (time-stretch, pitch-shift, speed, resample),
``bench_chain`` (a full augmentation chain), ``bench_stream`` and
``bench_cli``. Each times noisegen beside the libraries users would pick
instead (librosa, scipy, soxr, colorednoise, audiomentations, pedalboard,
python-stretch) when they are installed, and records a quality figure for
every operation so that nobody wins by doing less.

Nothing here imports numpy at package import: ``bench._harness`` pins the
thread pools first.
"""
