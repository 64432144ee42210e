"""Host-side design math below both backends (CPU kernels and CUDA targets):
filter sections, noise filter banks, resampler plans, room geometry, SNR
scales, parameter ratios."""
