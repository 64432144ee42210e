"""Packet loss: drop frames of audio as a lossy network would, and conceal them.

The signal is cut into frames of ``frame_ms`` from sample 0 (the last frame
may be shorter); each frame is one packet, carrying every channel, so a loss
silences all channels at once. Losses are independent (Bernoulli, rate
``loss_rate``) or bursty: a two-state Markov chain (the simple Gilbert
model of Gilbert-Elliott channels; every frame in the *bad* state is lost)
whose mean burst length is ``mean_burst_frames`` and whose long-run loss
rate is still ``loss_rate``::

    P(lost | previous lost)     = 1 - 1 / mean_burst_frames
    P(lost | previous received) = loss_rate / (mean_burst_frames * (1 - loss_rate))

(``mean_burst_frames = 1 / (1 - loss_rate)`` is the Bernoulli case.) The
first frame's state is drawn from the chain's stationary distribution.

Concealment of a burst of lost frames:

- ``"zeros"``: silence.
- ``"repeat"``: the last frame received, repeated for the whole burst (a
  basic packet-loss concealment); each repeat ends with a raised-cosine
  crossfade into the samples that preceded that frame, so the loop has no
  seam (the first frame has none before it: its repeats end in a crossfade
  into its own first ``fade_ms`` and start past them). Before the first
  received frame, zeros.

Both fade the concealment in and out with a raised-cosine crossfade of
``fade_ms`` (at most a quarter frame) at each edge of a burst, *inside* the
lost frames: received frames are never changed, and a lost frame equals the
concealment except within ``fade_ms`` of its burst's edges. A burst from the
first sample or to the last has no edge there (no audio to fade from or
into): it is the concealment throughout, zeros before any frame received.
"""

from __future__ import annotations

import numpy as np

from .._core.validation import check_audio, check_choice, check_real, check_sample_rate, show_at_least
from .._core.backend import resolve_backend
from .._core.errors import ParameterError
from .._core.rng import as_generator, resolve_key

__all__ = ["packet_loss"]

CONCEALMENTS = ("zeros", "repeat")


def packet_loss(y, *, sample_rate, loss_rate, frame_ms=20.0, concealment="zeros", mean_burst_frames=None,
                fade_ms=2.0, rng=None, backend="auto"):
    """Drop frames at random (as lost packets) and conceal them.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)], float32 or float64
    sample_rate : int
    loss_rate : float
        Long-run fraction of frames lost, in [0, 1).
    frame_ms : float
        Packet length in milliseconds (> 0; 20 ms is the usual VoIP frame).
        Rounded to whole samples, at least one.
    concealment : {"zeros", "repeat"}
        What replaces a lost frame: silence, or the last frame received.
    mean_burst_frames : float or None
        Mean number of consecutive frames lost per burst (Gilbert model), at
        least 1 and at least ``loss_rate / (1 - loss_rate)``. ``None``:
        independent (Bernoulli) losses.
    fade_ms : float
        Crossfade at the edges of each burst (>= 0; capped at a quarter frame).
    rng : None, int or numpy.random.Generator
        The same ``rng`` gives the same losses.
    backend : {"auto", "cpu"}
        No GPU form: a CUDA array or ``backend="cuda"`` raises BackendError.

    Returns
    -------
    np.ndarray, same shape and dtype as ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.ones(16000)
    >>> out = packet_loss(y, sample_rate=16000, loss_rate=0.5, fade_ms=0.0, rng=0)
    >>> lost = out.reshape(-1, 320).max(axis=1) == 0  # 20 ms frames
    >>> int(lost.sum())  # of 50 frames, about half
    21
    """
    resolve_backend(backend, y)  # no GPU form: raises BackendError for CUDA
    y = check_audio(y, "y")
    sample_rate = check_sample_rate(sample_rate)
    loss_rate = check_real(loss_rate, "loss_rate", low=0.0, high=1.0, high_inclusive=False)
    frame_ms = check_real(frame_ms, "frame_ms", low=0.0, low_inclusive=False)
    concealment = check_choice(concealment, "concealment", CONCEALMENTS)
    burst = check_burst(mean_burst_frames, loss_rate)
    fade_ms = check_real(fade_ms, "fade_ms", low=0.0)
    key = resolve_key(rng)
    n = y.shape[-1]
    frame = max(1, int(round(min(frame_ms * sample_rate / 1000.0, 2.0**53))))  # (capped: 1e308 ms is not an int)
    if n == 0 or loss_rate == 0.0:
        return y.copy()
    lost = loss_pattern(-(-n // frame), loss_rate, burst, as_generator(key))
    fade = min(int(round(min(fade_ms * sample_rate / 1000.0, 2.0**53))), frame // 4)
    out = y.copy()
    rows = out.reshape(-1, n)
    for start, stop in _bursts(lost):
        _conceal(rows, y.reshape(-1, n), start * frame, min(stop * frame, n), frame, fade, concealment)
    return out


def check_burst(mean_burst_frames, loss_rate, rate_name="loss_rate"):
    """``mean_burst_frames`` checked against ``loss_rate``; errors name the rate ``rate_name`` (PacketLoss's
    is its max_loss_rate: the message said 'for loss_rate=0.9', an argument PacketLoss has none of)."""
    if mean_burst_frames is None:
        return None
    burst = check_real(mean_burst_frames, "mean_burst_frames", low=1.0)
    # P(lost | previous received) <= 1, as loss_rate * (1 + burst) <= burst: 1 - loss_rate rounds
    # (0.8 / (4 * (1 - 0.8)) is 1 + 2e-16), which refused the bound itself (0.8 with 4, 0.9 with 9)
    if loss_rate * (1.0 + burst) > burst:
        raise ParameterError(
            f"mean_burst_frames must be at least {rate_name} / (1 - {rate_name}) = "
            f"{show_at_least(loss_rate / (1.0 - loss_rate), 6)} for {rate_name}={loss_rate:g}, got {mean_burst_frames!r}"
        )
    return burst


def loss_pattern(n_frames: int, loss_rate: float, mean_burst_frames, gen) -> np.ndarray:
    """Boolean array, True where a frame is lost (Bernoulli or simple Gilbert model)."""
    u = gen.random(n_frames)
    if mean_burst_frames is None:
        return u < loss_rate
    stay_bad = 1.0 - 1.0 / mean_burst_frames
    go_bad = loss_rate / (mean_burst_frames * (1.0 - loss_rate))
    lost = np.empty(n_frames, dtype=bool)
    state = bool(u[0] < loss_rate)  # stationary start
    lost[0] = state
    for i in range(1, n_frames):  # one step per 20 ms frame: cheap in Python
        state = bool(u[i] < (stay_bad if state else go_bad))
        lost[i] = state
    return lost


def _bursts(lost):
    """``(start, stop)`` frame indices of each run of lost frames."""
    edges = np.diff(np.concatenate([[0], lost.astype(np.int8), [0]]))
    return zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))


def _conceal(out, y, start, stop, frame, fade, concealment):
    """Replace ``out[:, start:stop]`` (a burst) by the concealment, crossfaded at its edges."""
    length = stop - start
    fade = min(fade, length // 2)
    if concealment == "repeat" and start > 0:
        fill = _repeat_fill(y, start, length, frame, fade)
    else:
        fill = np.zeros((y.shape[0], length), dtype=y.dtype)
    if fade:
        ramp = _ramp(fade, y.dtype)  # 0 -> 1
        if start > 0:  # a burst from sample 0 has no audio before it to click against: none of its own leaks in
            fill[:, :fade] = _blend(fill[:, :fade], ramp, y[:, start : start + fade], 1 - ramp)
        if stop < y.shape[-1]:  # a burst at the very end has nothing to fade back into
            fill[:, -fade:] = _blend(fill[:, -fade:], ramp[::-1], y[:, stop - fade : stop], ramp)
    out[:, start:stop] = fill


def _repeat_fill(y, start, length, frame, fade):
    """The last received frame, looped over ``length`` samples without seams."""
    src = y[:, max(0, start - frame) : start].copy()
    period = src.shape[-1]
    before = start - period  # samples that preceded the source frame: its loop's lead-in
    skip = 0  # where each repeat after the first starts in the frame
    if fade and period > fade:
        if before >= fade:
            lead = y[:, before - fade : before]
        else:  # the first frame: nothing precedes it (its loop jumped, a click every frame), so the
            lead, skip = src[:, :fade].copy(), fade  # repeats start past its first samples, which lead in
        ramp = _ramp(fade, y.dtype)
        src[:, -fade:] = _blend(src[:, -fade:], 1 - ramp, lead, ramp)
    reps = -(-max(length - period, 0) // (period - skip))
    return np.concatenate([src, *[src[:, skip:]] * reps], axis=1)[:, :length]


def _blend(a, wa, b, wb):
    """``wa * a + wb * b`` for crossfade weights (``wa + wb`` is 1), kept between ``a`` and ``b``: the
    rounded sum could pass both by an ulp, which at float64's largest values overflowed to inf."""
    with np.errstate(over="ignore"):
        mixed = wa * a + wb * b
    return np.clip(mixed, np.minimum(a, b), np.maximum(a, b))


def _ramp(n, dtype):
    """Raised-cosine ramp from 0 to 1 over ``n`` samples (both ends excluded)."""
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(dtype)
