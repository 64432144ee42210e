"""The 1/f**beta noise filter bank: a sum of one-pole sections fitted to the
slope, its optional high-pass below ``min_freq``, and a draw of its
stationary initial state. Shared by the CPU generators
(:mod:`noisegen.synth.noise`) and the CUDA targets (:mod:`noisegen._gpu.ops`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from .._core.errors import ParameterError
from .._core.validation import check_real, check_sample_rate
from .._kernels.cpu import noise as kernels
from .butterworth import butter_zpk

# Lowest corner of the 1/f**beta approximation, in cycles per sample: below
# it the spectrum flattens (0.32 Hz at 16 kHz, 0.96 Hz at 48 kHz), which keeps
# the variance of brown and pink noise finite.
_F_MIN = 2e-5
# Pole/zero pairs per decade of the approximation: 1.5 keeps the fitted
# slope within 0.035 dB/octave of -3.01*beta over 4 Hz-4 kHz at 16 kHz.
_PER_DECADE = 1.5
# The approximation extends past Nyquist so the slope holds up to it.
_F_TOP = 0.8
# The matched-z corners follow 2*sin(w/2) rather than w near Nyquist, which
# tilts the top octave. One extra first-order section (pole, zero), fitted by
# least squares for |beta| on this grid (dB error against the ideal line over
# 2e-4 to 0.47 cycles/sample) and interpolated in between, removes the tilt:
# the fitted slope from 8 Hz to 7.5 kHz at 16 kHz stays within 0.005 dB/octave.
# For negative beta the pole and zero swap roles.
_CORRECTION_BETA = np.arange(0.0, 2.0001, 0.125)
_CORRECTION_POLE = np.array([
    -0.2158, -0.20976, -0.20558, -0.20067, -0.19546, -0.19037, -0.18572, -0.18167, -0.17822,
    -0.17523, -0.17249, -0.16977, -0.16687, -0.16364, -0.16, -0.15246, -0.1438,
])
_CORRECTION_ZERO = np.array([
    -0.2158, -0.22175, -0.22867, -0.23422, -0.23912, -0.24402, -0.24948, -0.25581, -0.26313,
    -0.27131, -0.28013, -0.28927, -0.29839, -0.30718, -0.3154, -0.32097, -0.32556,
])
# Counter-RNG streams used to draw the stationary initial filter state.
INIT_STREAM = 1 << 62
# min_freq_hz: the bank is multiplied by a Butterworth high-pass of order
# _HP_ORDER (48 dB/octave) with its -3 dB corner at _HP_CORNER * min_freq_hz.
# For brown noise (the worst case) at most 0.45 % of the power is left
# below min_freq_hz (0.02 dB); the level is 12.9 dB down at min_freq_hz,
# 0.12 dB at 1.5x and less than 0.002 dB from 2x up. With the corner at
# min_freq_hz itself, 4.7 % (0.2 dB) would remain below it.
_HP_ORDER = 8
_HP_CORNER = 1.2
# With min_freq_hz the staircase starts at or below min_freq_hz / _HP_MARGIN
# on the same grid of corners (the top corners, and so the top-octave
# correction, stay as they are): fewer sections for high min_freq_hz, more
# for very low ones.
_HP_MARGIN = 8.0
# Lowest min_freq_hz / sample_rate (0.016 Hz at 16 kHz): keeps the bank
# within 13 real sections (the CUDA kernel takes 16) and its poles
# resolvable in float64.
MIN_FREQ_LOW = 1e-6


@dataclass(frozen=True)
class OnePoleBank:
    """``H(z) = direct + sum_k residues[k] / (1 - poles[k] z^-1) + sum_m Re(pair terms)``, unit output variance.

    Pair ``m`` is the complex one-pole ``v' = p v + x`` with ``p = pair_poles[m, 0] + 1j * pair_poles[m, 1]``,
    adding ``Re(R v)`` with ``R = pair_residues[m, 0] + 1j * pair_residues[m, 1]`` (a conjugate pair of
    real-filter poles; there are none without ``min_freq_hz``). A channel's state holds the K real one-pole
    states, then ``(Re v, Im v)`` of each pair.
    """

    poles: np.ndarray
    residues: np.ndarray
    direct: float
    init: np.ndarray  # (S, S), S = K + 2 * n_pairs: stationary state = init @ N(0, I)
    pair_poles: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    pair_residues: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))


def _analog_corners(beta: float, first: int = 0):
    """Pole and zero frequencies (rad/sample) of a 1/f**(beta/2) magnitude staircase.

    Poles sit every 1/_PER_DECADE decades from _F_MIN (shifted by ``first``
    steps, up or down); each zero sits a fraction
    beta/2 of a step above its pole (below it for negative beta), so each step
    of log-frequency falls by 20 dB/decade for that fraction: on average the
    magnitude falls as f**(-beta/2) and the power as f**(-beta).
    """
    gamma = beta / 2.0
    step = 10.0 ** (1.0 / _PER_DECADE)
    w_min = 2.0 * math.pi * _F_MIN
    n = int(math.ceil(math.log(_F_TOP / _F_MIN) / math.log(step))) + 1
    base = w_min * step ** np.arange(first, n)
    if gamma > 0:
        poles, zeros = base, base * step**gamma
    else:
        zeros, poles = base, base * step ** (-gamma)
    # A pole and a zero at the same frequency cancel (|beta| = 2 telescopes).
    poles, zeros = list(poles), list(zeros)
    for z in list(zeros):
        match = [p for p in poles if abs(math.log(p / z)) < 1e-9]
        if match:
            poles.remove(match[0])
            zeros.remove(z)
    # Corners far above Nyquist only tilt the top of the band; clamping them
    # keeps the z-plane poles away from 0, where the partial fractions of the
    # parallel form would cancel catastrophically.
    cap = 2.0 * math.pi * _F_TOP
    poles, zeros = np.minimum(poles, cap), np.minimum(zeros, cap)
    # For beta in about [-2, -1.806) the top two poles both clamp to the cap:
    # a repeated pole has no one-pole partial fraction (its residues were
    # 0/0, all NaN). The top zero clamps there too and cancels one of them.
    if len(poles) > 1 and poles[-2] == cap:
        poles, zeros = poles[:-1], np.delete(zeros, np.flatnonzero(zeros == cap)[0])
    return poles, zeros


def _zplane(beta: float, first: int = 0):
    """z-plane poles and zeros of the staircase plus the top-octave correction section."""
    wp, wz = _analog_corners(beta, first)
    corr_p = float(np.interp(abs(beta), _CORRECTION_BETA, _CORRECTION_POLE))
    corr_q = float(np.interp(abs(beta), _CORRECTION_BETA, _CORRECTION_ZERO))
    if beta < 0:
        corr_p, corr_q = corr_q, corr_p
    return np.append(np.exp(-wp), corr_p), np.append(np.exp(-wz), corr_q)


def _partial_fractions(p: np.ndarray, q: np.ndarray):
    """``(direct, residues)`` of ``prod_j (1 - q_j u) / prod_k (1 - p_k u)``, ``u = z^-1``, distinct poles.

    The direct term is the limit u -> inf, the residue of pole k is the rest
    of the product evaluated at u = 1/p_k.
    """
    # multiply.reduce and slices: np.prod's result, without its dispatch layers and np.delete
    # (a drawn beta designs a bank per call, and these loops were most of it)
    prod = np.multiply.reduce
    direct = prod(q / p) if len(q) == len(p) else 0.0
    residues = np.empty(len(p), dtype=np.result_type(p, q))
    for k, pk in enumerate(p):
        others = 1.0 - p / pk
        residues[k] = prod(1.0 - q / pk) / prod(np.concatenate((others[:k], others[k + 1:])))
    return direct, residues


def _product(p: np.ndarray, q: np.ndarray, z):
    """``prod_j (1 - q_j / z) / prod_k (1 - p_k / z)``: that rational function at ``u = 1/z``."""
    return np.multiply.reduce(1.0 - q / z) / np.multiply.reduce(1.0 - p / z)


def _sqrt_psd(cov: np.ndarray) -> np.ndarray:
    """``L`` with ``L @ L.T == cov`` for a (numerically) positive semi-definite ``cov``."""
    evals, evecs = np.linalg.eigh(cov)
    return evecs * np.sqrt(np.clip(evals, 0.0, None))


@functools.lru_cache(maxsize=128)
def design_bank(beta: float, min_freq: float | None = None) -> OnePoleBank:
    """Parallel one-pole bank for PSD ~ 1/f**beta (matched-z poles and zeros).

    ``min_freq`` (cycles/sample) adds the high-pass of :func:`_design_highpassed`.
    """
    if min_freq is not None:
        return _design_highpassed(beta, min_freq)
    if beta == 0.0:
        return OnePoleBank(np.zeros(0), np.zeros(0), 1.0, np.zeros((0, 0)))
    p, q = _zplane(beta)
    direct, residues = _partial_fractions(p, q)
    direct = float(direct)
    # Stationary covariance of the one-pole states for unit white input:
    # s_k[n] = sum_m p_k^m x[n-m]  =>  E[s_j s_k] = 1 / (1 - p_j p_k), E[x s_k] = 1.
    cov = 1.0 / (1.0 - np.outer(p, p))
    variance = direct**2 + 2.0 * direct * residues.sum() + residues @ cov @ residues
    scale = 1.0 / math.sqrt(variance)
    return OnePoleBank(p, residues * scale, direct * scale, _sqrt_psd(cov))


@functools.lru_cache(maxsize=16)
def _highpass(min_freq: float):
    """``(zeros, poles, gain, direct, residues)`` of the high-pass below ``min_freq``: one per
    ``min_freq``, shared by every drawn ``beta`` (its design took a third of a bank's)."""
    # Close to Nyquist the corner stops halfway between min_freq and Nyquist.
    corner = min(_HP_CORNER * min_freq, 0.5 * (min_freq + 0.5))
    hz, hp, hk = butter_zpk("highpass", _HP_ORDER, (corner,), 1.0, with_gain=True)  # (scipy's, without scipy.signal)
    for a in (hz, hp):
        a.flags.writeable = False  # shared by the cache
    hp_direct, hp_residues = _partial_fractions(hp, hz)
    hp_residues.flags.writeable = False
    return hz, hp, hk, hp_direct, hp_residues


def _design_highpassed(beta: float, min_freq: float) -> OnePoleBank:
    """The bank (staircase from below ``min_freq / _HP_MARGIN``) times the high-pass, in parallel form.

    The product's partial fractions are products of the factors' own: the
    residue at a bank pole is the bank's residue times the high-pass there,
    and the other way round, so nothing cancels. Every state is a one-pole
    of the same white input, so the stationary covariance stays closed form.
    """
    step = 10.0 ** (1.0 / _PER_DECADE)
    first = math.floor(math.log(min_freq / _HP_MARGIN / _F_MIN) / math.log(step))
    if beta == 0.0:
        p, q, direct, residues = np.zeros(0), np.zeros(0), 1.0, np.zeros(0)
    else:
        p, q = _zplane(beta, first)
        direct, residues = _partial_fractions(p, q)
    hz, hp, hk, hp_direct, hp_residues = _highpass(min_freq)
    upper = hp.imag > 0  # one pole of each conjugate pair; Re() of twice its term is the pair
    poles = np.concatenate([p, hp[upper]])
    res = np.concatenate([
        residues * np.array([hk * _product(hp, hz, pk).real for pk in p]),
        2.0 * hk * hp_residues[upper] * np.array([_product(p, q, h) for h in hp[upper]]),
    ])
    d = float(direct * (hk * hp_direct).real)
    # E[Re(a v_i) Re(b v_j)] = Re(a b T_ij + a conj(b) S_ij) / 2 for one-poles v of one white input.
    t = 1.0 / (1.0 - np.outer(poles, poles))
    s = 1.0 / (1.0 - np.outer(poles, poles.conj()))
    variance = d * d + 2.0 * d * res.real.sum() + 0.5 * (res @ t @ res + res @ s @ res.conj()).real
    # The real state vector: Re(alpha * v) of pole `which`.
    which = np.concatenate([np.arange(len(p)), np.repeat(np.arange(len(p), len(poles)), 2)])
    alpha = np.concatenate([np.ones(len(p)), np.tile([1.0, -1.0j], len(poles) - len(p))])
    cov = 0.5 * (np.outer(alpha, alpha) * t[np.ix_(which, which)]
                 + np.outer(alpha, alpha.conj()) * s[np.ix_(which, which)]).real
    scale = 1.0 / math.sqrt(variance)
    pairs = res[len(p):] * scale
    return OnePoleBank(
        p, res[: len(p)].real * scale, d * scale, _sqrt_psd(cov),
        np.column_stack([poles[len(p):].real, poles[len(p):].imag]), np.column_stack([pairs.real, pairs.imag]),
    )


def check_beta(beta) -> float:
    return check_real(beta, "beta", low=-2.0, high=2.0)


def check_min_freq(min_freq_hz, sample_rate):
    """``min_freq_hz / sample_rate`` (cycles/sample, validated), or None without ``min_freq_hz``."""
    if min_freq_hz is None:
        if sample_rate is not None:
            check_sample_rate(sample_rate)
        return None
    if sample_rate is None:
        raise ParameterError(f"min_freq_hz={min_freq_hz!r} needs sample_rate (Hz) to place it; pass sample_rate=")
    sr = check_sample_rate(sample_rate)
    f = check_real(min_freq_hz, "min_freq_hz")
    try:
        check_real(f, "min_freq_hz", low=MIN_FREQ_LOW * sr, high=sr / 2.0, high_inclusive=False)
    except ParameterError as exc:  # the range moves with the rate: say which rate
        raise ParameterError(f"{exc} (Hz, at sample_rate {sr}: below its Nyquist frequency)") from None
    return f / sr


def initial_state(bank: OnePoleBank, key: int, n_channels: int, stream0: int = 0) -> np.ndarray:
    """A draw of the one-pole states from their stationary distribution (channel ``c``: stream ``stream0 + c``)."""
    n_sections = bank.init.shape[0]
    if n_sections == 0:
        return np.zeros((n_channels, 0))
    z = np.empty((n_channels, n_sections))
    kernels.white(z, np.uint64(key), INIT_STREAM + stream0, 0)
    state = np.empty((n_channels, n_sections))
    kernels.matmul_rows(z, np.ascontiguousarray(bank.init), state)  # z @ bank.init.T, each row summed alike
    return state


#: Most samples (over all channels) of one noise kernel call, under a second: a call holds the
#: interpreter, so a Ctrl-C waits for it (minutes for the largest outputs in one call).
CALL_SAMPLES = 1 << 24


def run_bank(out: np.ndarray, bank: OnePoleBank, key: int, start: int, state: np.ndarray) -> None:
    """Samples ``start`` on of the bank's noise into ``out[channel, sample]``, ``state`` carried in place.

    Beyond :data:`CALL_SAMPLES`, a piece at a time: the same bits (counter RNG, carried state).
    """
    rows, n = out.shape
    if rows * n <= CALL_SAMPLES:
        _run_bank(out, bank, key, start, state)
        return
    step = max(CALL_SAMPLES // rows, 1)
    # a mono piece is a C-contiguous view, written in place; a piece of several rows is not (a kernel
    # for it would be compiled anew): made in one C-contiguous buffer, then copied
    buffer = None if rows == 1 else np.empty(rows * step, dtype=out.dtype)
    for a in range(0, n, step):
        m = min(step, n - a)
        part = out[:, a:a + m] if buffer is None else buffer[: rows * m].reshape(rows, m)
        _run_bank(part, bank, key, start + a, state)
        if buffer is not None:
            out[:, a:a + m] = part


def _run_bank(out, bank, key, start, state):
    if bank.init.shape[0] == 0:
        kernels.white(out, np.uint64(key), 0, start)
    else:
        kernels.colored(out, np.uint64(key), start, bank.poles, bank.residues, bank.direct, bank.pair_poles,
                        bank.pair_residues, state)
