"""noisegen benchmark suite: ``python -m bench [--quick] [--json FILE] [--only AREA]``.

One harness (:mod:`bench._harness`) and one script per area: ``bench_synth``
(noise synthesis and cold start), ``bench_mix`` (mixing at SNR, filters, RIR
convolution), ``bench_time`` (time-stretch, pitch-shift, speed, resample),
``bench_chain`` (a full augmentation chain), ``bench_stream`` (the streaming
generator), ``bench_calls`` (the per-call cost of the cheap transforms), ``bench_corpus`` (the stream and ``augment`` over a real mixed-rate
corpus, with each stage's share), ``bench_cli`` (``noisegen augment``),
``bench_rooms`` (simulated rooms), ``bench_codec`` (codecs and telephone
channels), ``bench_startup`` (import, first chunk and warm-up, cold) and
``bench_memory`` (peak RSS against file length); ``bench_gpu`` and ``bench_ray``
run on their own. Each times noisegen beside the libraries users would pick
instead (librosa, scipy, soxr, colorednoise, audiomentations, pedalboard,
python-stretch) when they are installed, and records a quality figure for
every operation so that nobody wins by doing less.

Nothing here imports numpy at package import: ``bench._harness`` pins the
thread pools first.
"""
