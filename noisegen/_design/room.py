"""Host-side geometry of a shoebox room: image sources, wall reflection from RT60, tail level.

The image-source model (Allen & Berkley 1979) along one axis of length ``L``
with the source at ``s``: image ``m`` (any integer) sits at ``m * L + s`` for
even ``m`` and ``(m + 1) * L - s`` for odd ``m``, after ``|m|`` reflections,
``ceil(|m| / 2)`` of them on the wall the image lies beyond. A 3-D image is a
triple ``(mx, my, mz)`` of reflection order ``|mx| + |my| + |mz|``; its
pressure amplitude at distance ``d`` is ``beta**order / (4 pi d)`` (the
``1 / (4 pi d)`` of a point source, the free-field Green's function;
pyroomacoustics 0.10 leaves out the ``4 pi``). The kernel
walks the three per-axis lists (:func:`axis_images`), so the 3-D list is never
built.

Absorption from RT60 follows **Eyring**: ``RT60 = 24 ln(10) V / (c S (-ln(1 - alpha)))``.
Eyring rather than Sabine because it is the mean-free-path estimate of the
image model's own decay: an image at distance ``r = c t`` has had ``r S / (4 V)``
reflections on average (the mean free path ``4 V / S``), so the image energy
falls as ``(1 - alpha)**(c t S / (4 V))``, which is Eyring's law. (Only an
estimate: the image model with these walls, continued past the crossover,
decays 4-26 % slower in the 1 kHz octave in 6-10 m rooms at 0.3-0.6 s than
the tail that follows it, which keeps the requested RT60.) Sabine's
``alpha = 24 ln(10) V / (c S RT60)`` gives a shorter decay than requested at
high absorption (and cannot reach short RT60 at all). One correction
(:func:`reflection_coefficient`): the number of reflections depends on the
direction (more towards the nearer walls), and the mean of ``beta**(2 n)``
over directions exceeds ``beta**(2 mean(n))``; the coefficient is solved so
that the directional mean meets Eyring's decay at the crossover time.

Mean image energy: images are a lattice of density ``1 / V``, so ``4 pi (c t)**2 c dt / V``
of them arrive in ``dt``, each carrying ``(beta**order / (4 pi c t))**2``; the
response's expected energy per sample is ``c / (4 pi V fs) * 10**(-6 t / RT60)``
(:func:`mean_energy_per_sample`). The stochastic tail is scaled to the
early part's measured energy at the crossover, from 250 Hz up (:func:`tail_amplitude`), or to
this mean where the early part is too sparse to measure.
"""

from __future__ import annotations

import math

import numpy as np

#: Speed of sound in m/s (pyroomacoustics' default).
SPEED_OF_SOUND = 343.0
#: Highest absorption coefficient a wall may need: 0.99 (reflection coefficient 0.1).
#: A requested RT60 that needs more is out of reach for the room.
MAX_ABSORPTION = 0.99
#: Taps of the fractional-delay filter (a Hann-windowed sinc, half on each side).
SINC_TAPS = 64
#: Default length of the exact early part after the longest direct path the room
#: allows (its diagonal): 50 ms, past the mixing time ``sqrt(V)`` ms of any room
#: up to 2,500 m**3, where reflections are dense enough to be replaced by noise.
EARLY_S = 0.05
#: The tail's level is measured over the last ``MATCH_S`` (30 ms) of the early part.
MATCH_S = 0.03
#: The tail's level is matched from ``MATCH_LOW_HZ`` (at most ``sample_rate / 8``) to ``MATCH_HIGH`` times
#: the sample rate: below it a small room's images hold what no white tail continues (in a 1 m cube a
#: whole-band match left the tail 5 dB too loud at every audible frequency, 7 dB at 8 kHz, 11 dB in a
#: 0.6 m cube); above it the images' fractional-delay filter rolls off.
MATCH_LOW_HZ = 250.0
MATCH_HIGH = 0.4
#: Fewer images than this expected in the match window: use the mean energy instead.
MIN_MATCH_IMAGES = 32
#: Most image-lattice cells one response may visit (``n_x * n_y * n_z`` of the per-axis lists).
MAX_IMAGE_CELLS = 2**24
#: Cutoff of the second-order Butterworth high-pass every response ends with (the low edge of hearing):
#: every image is positive, so the image sum rides on an offset no microphone records (a unit-energy
#: response's DC gain was 9-22); pyroomacoustics high-passes at 10 Hz, zero-phase; this one is causal.
HIGHPASS_HZ = 20.0
#: Most (cell, microphone) pairs one call may visit: every microphone visits every cell, so many
#: microphones in a large room ran for hours under the per-response limit alone (~0.45 us a pair).
MAX_IMAGE_PAIRS = 2**26

_LN10 = math.log(10.0)


def _octant_directions(n=32):
    """Unit vectors ``|u|`` covering the positive octant evenly in solid angle (``n * n`` of them)."""
    z = (np.arange(n) + 0.5) / n  # uniform in cos(polar angle): equal solid angle
    phi = (np.arange(n) + 0.5) / n * (np.pi / 2.0)
    zz, pp = np.meshgrid(z, phi, indexing="ij")
    r = np.sqrt(1.0 - zz * zz)
    return np.stack([(r * np.cos(pp)).ravel(), (r * np.sin(pp)).ravel(), zz.ravel()], axis=1)


_DIRECTIONS = _octant_directions()


def _log_mean_energy(room_dim, x, t_s, c=SPEED_OF_SOUND):
    """``ln`` of the images' mean energy factor at time ``t_s`` for ``-ln(beta**2) = x``.

    Along direction ``u`` an image at distance ``r`` has met about
    ``r * w(u)`` walls, ``w = |ux|/Lx + |uy|/Ly + |uz|/Lz``; the factor is the
    mean of ``exp(-x * c * t * w)`` over directions. Eyring's law replaces it
    by ``exp(-x * c * t * mean(w))`` (``mean(w) = S / (4 V)``), a lower value.
    """
    w = _DIRECTIONS @ (1.0 / np.asarray(room_dim, dtype=np.float64))
    a = -x * c * t_s * w
    top = float(np.max(a))
    return top + math.log(float(np.mean(np.exp(a - top))))


def reflection_coefficient(room_dim, rt60_s, t_s, c=SPEED_OF_SOUND):
    """Wall reflection coefficient ``beta`` giving the mean image energy Eyring's decay at ``t_s``.

    Solves ``mean_u beta**(2 c t w(u)) = 10**(-6 t / rt60_s)`` (see
    :func:`_log_mean_energy`). In a cube at low absorption this is Eyring's
    coefficient; in flat rooms at high absorption it is lower (Eyring's own
    would leave 10 dB too much energy at 80 ms in a 10 x 8 x 4 m room at
    0.2 s, and a measured RT60 13 % long). Returns NaN when even
    :data:`MAX_ABSORPTION` is not enough.
    """
    target = -6.0 * _LN10 * t_s / rt60_s
    x_max = -math.log1p(-MAX_ABSORPTION)
    if _log_mean_energy(room_dim, x_max, t_s, c) > target:
        return float("nan")
    # Newton on f(x) = ln mean exp(-x a w) - target, a = c t: f is convex and
    # decreasing, and Eyring's x (where Jensen's bound makes f >= 0) starts it
    # on the left of the root, so the steps rise monotonically onto it.
    a = c * t_s * (_DIRECTIONS @ (1.0 / np.asarray(room_dim, dtype=np.float64)))
    x = -target / float(np.mean(a))
    for _ in range(50):
        e = np.exp(-x * (a - a.min()))
        mean_e = float(np.mean(e))
        f = -x * float(a.min()) + math.log(mean_e) - target
        slope = -float(np.mean(a * e)) / mean_e
        step = f / slope
        x = min(x - step, x_max)
        if abs(step) <= 1e-12 * x:
            break
    return math.exp(-0.5 * x)


def min_rt60(room_dim, t_s, c=SPEED_OF_SOUND):
    """Shortest RT60 the room reaches with walls absorbing :data:`MAX_ABSORPTION` (by the rule above)."""
    x_max = -math.log1p(-MAX_ABSORPTION)
    return -6.0 * _LN10 * t_s / _log_mean_energy(room_dim, x_max, t_s, c)


def crossover_s(room_dim, c=SPEED_OF_SOUND):
    """End of the exact early part: the room diagonal's travel time plus :data:`EARLY_S`.

    It depends on the room only, so every microphone (and a separate call for
    each) shares it.
    """
    return math.sqrt(sum(d * d for d in room_dim)) / c + EARLY_S


def axis_images(length, src, lo, hi, beta_low, beta_high):
    """Per-axis images whose coordinate lies within ``[lo, hi]``.

    Returns ``(positions, amplitudes, orders)``: float64, float64, int64
    arrays; the amplitude is the product of the wall reflection coefficients
    met (``beta_low`` for the wall at 0, ``beta_high`` for the wall at ``length``).
    """
    m_lo = int(math.floor(lo / length)) - 1
    m_hi = int(math.ceil(hi / length)) + 1
    m = np.arange(m_lo, m_hi + 1)
    even = m % 2 == 0
    pos = np.where(even, m * length + src, (m + 1) * length - src)
    keep = (pos >= lo) & (pos <= hi)
    m, pos = m[keep], pos[keep]
    n = np.abs(m)
    far = (n + 1) // 2  # reflections on the wall the image lies beyond
    near = n // 2
    amp = np.where(m > 0, beta_high**far * beta_low**near, beta_low**far * beta_high**near)
    return np.ascontiguousarray(pos, np.float64), np.ascontiguousarray(amp, np.float64), n.astype(np.int64)


def image_lists(room_dim, source, mics, radius, beta):
    """The three per-axis image lists covering every image within ``radius`` of any microphone."""
    lists = []
    for axis in range(3):
        lo = float(np.min(mics[:, axis])) - radius
        hi = float(np.max(mics[:, axis])) + radius
        lists.append(axis_images(room_dim[axis], source[axis], lo, hi, beta, beta))
    return lists


def cell_count(room_dim, mics, radius):
    """Upper bound of the per-axis list lengths' product (checked before building them)."""
    count = 1
    for axis in range(3):
        span = float(np.max(mics[:, axis]) - np.min(mics[:, axis])) + 2.0 * radius
        count *= span / room_dim[axis] + 3.0
    return count


def mean_energy_per_sample(room_dim, sample_rate, c=SPEED_OF_SOUND):
    """Expected energy per sample of the image response at time 0 (before the decay): ``c / (4 pi V fs)``."""
    volume = room_dim[0] * room_dim[1] * room_dim[2]
    return c / (4.0 * math.pi * volume * sample_rate)


def decay_per_sample(rt60_s, sample_rate):
    """Amplitude decay rate per sample: the envelope ``exp(-k n)`` falls 60 dB in ``rt60_s``."""
    return 3.0 * _LN10 / (rt60_s * sample_rate)


def tail_amplitude(early, start, stop, room_dim, sample_rate, rt60_s, dense):
    """Amplitude ``A`` of the tail ``A * exp(-k n) * N(0, 1)`` for one microphone.

    ``early`` is that microphone's image response; ``[start, stop)`` the match
    window (the last :data:`MATCH_S` before the crossover, after the direct
    sound). The tail's expected energy over the window, in the band from
    :data:`MATCH_LOW_HZ` to :data:`MATCH_HIGH` times the sample rate, equals
    the early part's there, so the response's energy envelope runs on without
    a step in every audible band. (Every image is positive, so the dense early
    part rides on a decaying offset, ``a exp(-k n)`` fitted by least squares
    and taken out first, which holds 60-90 % of its energy in rooms of 1-100
    cubic metres; matched to it too, the zero-mean tail came out 3-7 dB too
    loud at every audible frequency, 11-20 dB in a 1 m cube. What is left
    below a few hundred hertz in a small room, its modes and what the offset's
    fit misses, is no level for a white tail either.) Where the window is not
    ``dense`` (too few images expected in it, or images left out by
    ``max_order``) the image model's mean energy is used.
    """
    k = decay_per_sample(rt60_s, sample_rate)
    if dense and stop > start:
        shape = np.exp(-k * np.arange(start, stop, dtype=np.float64))  # the tail's amplitude envelope
        window = np.asarray(early[start:stop], dtype=np.float64)
        scale = float(shape @ shape)
        pedestal = float(window @ shape) / scale * shape if scale > 0.0 else 0.0
        energy, model = _band_energies(window - pedestal, shape, sample_rate)
        if energy > 0.0 and model > 0.0:
            return math.sqrt(energy / model)
    return math.sqrt(mean_energy_per_sample(room_dim, sample_rate))


def _band_energies(x, shape, sample_rate):
    """Energy of ``x`` in the match band, and the expected band energy of ``shape * N(0, 1)``.

    Both under a taper flat but for cosine ramps over 5 % at each end (so the
    offset's remains below the band do not leak into it; under a Hann taper
    the window's middle few reflections set the level, which varied by 1 dB
    (sd) between positions in a 10 x 8 x 4 m room at 0.2 s): white noise of envelope ``shape`` puts
    ``sum((taper * shape)**2)`` into each rfft bin's ``|X|**2`` on average.
    """
    n = x.shape[0]
    ramp = max(1, n // 20)
    taper = np.ones(n)
    taper[:ramp] = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)
    taper[n - ramp:] = taper[:ramp][::-1]
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    low = min(MATCH_LOW_HZ, sample_rate / 8.0)
    band = (freqs >= low) & (freqs <= MATCH_HIGH * sample_rate)
    spectrum = np.fft.rfft(taper * x)[band]
    energy = 2.0 * float(np.sum(spectrum.real**2 + spectrum.imag**2)) / n
    model = 2.0 * int(np.count_nonzero(band)) * float(np.sum(np.square(taper * shape))) / n
    return energy, model


def expected_images(room_dim, t0_s, t1_s, c=SPEED_OF_SOUND):
    """Expected number of images arriving between ``t0_s`` and ``t1_s`` (lattice density ``1 / V``)."""
    volume = room_dim[0] * room_dim[1] * room_dim[2]
    return 4.0 * math.pi * c**3 * (t1_s**3 - t0_s**3) / (3.0 * volume)


def max_axis_order(lists):
    """Highest reflection order among the images of the per-axis lists."""
    return int(sum(int(np.max(orders)) for _, _, orders in lists))


_MASK = (1 << 64) - 1


def _mix(z):
    """splitmix64's finaliser on Python ints (the same as noisegen._kernels.rng.mix64)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def geometry_stream(room_dim, source, mic):
    """Counter-RNG stream of one microphone's tail: a hash of the room, source and microphone.

    The tail of a microphone depends on its own geometry only, so a
    microphone array and one call per microphone give the same responses,
    while two microphones (or two rooms) get independent tails.
    """
    values = np.array([*room_dim, *source, *mic], dtype=np.float64).view(np.uint64)
    h = 0x6A09E667F3BCC908
    for v in values:
        h = _mix(((h ^ int(v)) + 0x9E3779B97F4A7C15) & _MASK)
    return h
