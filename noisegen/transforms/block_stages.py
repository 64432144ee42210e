"""The streaming form of each transform, for :mod:`noisegen.transforms.blockwise`.

A stage is one applied transform with its recorded parameters, for an input
of known length ``n_in``. ``open()`` gives a fresh processor (``process(block)``
for ``(rows, n)`` blocks, any sizes, then ``flush()``) whose outputs,
concatenated, are what ``apply_params`` gives on the whole input. A stage
whose parameters need a measure of its whole input (the signal power behind
an SNR, the level :class:`Normalize` sets) has a ``measurer()``: the runner
feeds it that input in a first pass and hands the result to ``measured()``.

==========================================  ====================================================
Transform                                   streaming state
==========================================  ====================================================
Gain, PolarityInversion, BitCrush           none (sample by sample)
filters, EQs, shelves                       biquad state ``zi``
AddColoredNoise                             the noise generator; first pass: signal + noise power
AddBackgroundNoise (no noise_transform)     the noise position; first pass: signal power
                                            (``"rms"`` or ``"active"``; ``"absolute"``: the crop's level)
ApplyImpulseResponse, RoomSimulator         overlap-add tail over a fixed partition (``keep_tail`` too)
SpeedPerturb, Resample                      resampler history
TimeStretch, PitchShift                     WSOLA look-ahead window (+ resampler)
Normalize                                   none; first pass: peak or RMS level
==========================================  ====================================================

Anything else (Clip's percentile, codecs, packet loss, short noises, Shift,
TimeMask, a noise_transform) has no stage: :func:`stage_for` returns None.
"""

from __future__ import annotations

import math

import numpy as np

from .._core.labels import about, warn
from .._design.snr import SILENT, silent_part, snr_scale
from ..effects.mix_stream import SignalPower, crop_power, mix_block
from ..effects.resample import Resampler
from ..effects.reverb_blocks import PartitionedRir
from ..effects.timescale_stream import PitchShiftStream, WsolaStream, speed_stream
from ..synth.noise import NoiseGenerator
from .add_background_noise import AddBackgroundNoise
from .add_colored_noise import AddColoredNoise
from .apply_impulse_response import ApplyImpulseResponse
from .bit_crush import BitCrush
from .filters import BandPassFilter, BandStopFilter, HighPassFilter, HighShelf, LowPassFilter, LowShelf, PeakingEQ
from .gain import Gain
from .normalize import Normalize, _scale
from .pitch_shift import PitchShift
from .polarity_inversion import PolarityInversion
from .resample import Resample, leg_ratio
from .room_simulator import RoomSimulator
from .shape import length_after
from .speed_perturb import SpeedPerturb
from .time_stretch import TimeStretch

__all__ = ["stage_for"]

class _Stage:
    """One transform and its parameters over an ``n_in``-sample input of ``rows`` channels."""

    def __init__(self, t, params, sample_rate, n_in, rows, mono, dtype):
        self.t, self.params, self.sample_rate = t, params, sample_rate
        self.n_in, self.rows, self.mono, self.dtype = n_in, rows, mono, np.dtype(dtype)
        self.n_out = length_after(t, n_in, sample_rate, params)

    def measurer(self):
        """An object with ``feed(block)`` that measures the input in a first pass (None: none needed)."""
        return None

    def measured(self, measurer):
        """Take the first pass's measure."""

    def notify(self):
        """Give the warning the one pass gives (a silent input, say): called once, before the output pass
        (a stage is opened in every pass, and warning there repeated it once per measured stage after it)."""

    def open(self):
        """A fresh processor (``process(block)``, ``flush()``)."""
        return self

    def process(self, block):
        return block

    def flush(self):
        return np.zeros((self.rows, 0), self.dtype)


class _SampleWise(_Stage):
    """Gain, PolarityInversion, BitCrush: each sample on its own."""

    def process(self, block):
        return self.t._apply_checked(block, self.sample_rate, self.params)


class _Filter(_Stage):
    def open(self):
        fn, kwargs = self.t._filter_call(self.sample_rate, self.params)
        return _FilterRun(fn, kwargs, self.rows, self.dtype)


class _FilterRun:
    def __init__(self, fn, kwargs, rows, dtype):
        self.fn, self.kwargs, self.zi, self.rows, self.dtype = fn, kwargs, "zeros", rows, dtype

    def process(self, block):
        if block.shape[1] == 0:
            return block
        out, self.zi = self.fn(block, zi=self.zi, **self.kwargs)
        return out

    def flush(self):
        return np.zeros((self.rows, 0), self.dtype)


class _Mix(_Stage):
    """Noise at an SNR: the first pass measures the signal (and the noise) power."""

    scale = None  # None: silent signal or noise, the input passes unchanged
    bound = 0.0  # bounds every output sample: past half the dtype's range, blocks are checked for overflow
    silent = None  # the warning that says so
    which = None  # and which of the two is silent

    def measured(self, measurer):
        # (a float64 signal near 1e-160 is measured scaled by 2**-e, as the one pass measures it: its
        # squares are subnormal, and the mix was 0.007 dB off the one pass's SNR)
        (p_signal, e), p_noise = measurer.power_exactly(), self._noise_power(measurer)
        self.which = which = silent_part(p_signal, p_noise)
        if which is not None:
            self.silent = SILENT.format(which=which)
            return
        self.silent = None
        self.scale = math.ldexp(snr_scale(p_signal, p_noise, self.params["snr_db"]), e)
        # as mix_at_snr bounds its mix (a loud float32 input at a low SNR overflowed to inf blocks here,
        # where the one pass refuses it); the noise's rows are at most the signal's
        self.bound = measurer.norm() + self.scale * math.sqrt(p_noise * self.n_in * self.rows)

    def notify(self):
        if self.scale is None and self.silent:
            warn(self.silent)

    def open(self):
        return _MixRun(self)


class _MixRun:
    def __init__(self, stage):
        self.stage, self.position = stage, 0
        self.source = stage.noise_source()

    def process(self, block):
        st, n = self.stage, block.shape[1]
        if st.scale is None:
            out = block.copy()
        else:
            noise, at = self.source(self.position, n)
            out = mix_block(block, noise, at, st.scale, bound=st.bound, snr_db=st.params.get("snr_db"))
        self.position += n
        return out

    def flush(self):
        return np.zeros((self.stage.rows, 0), self.stage.dtype)


class _ColoredNoise(_Mix):
    def _generator(self):
        t = self.t
        return NoiseGenerator(self.params["beta"], sample_rate=self.sample_rate, rng=self.params["seed"],
                              n_channels=None if self.mono else self.rows, min_freq_hz=t.min_freq_hz, dtype=self.dtype)

    def measurer(self):
        return _SignalAndNoise(self._generator(), self.rows)

    def _noise_power(self, measurer):
        return measurer.noise_total / max(measurer.noise_size, 1)

    def noise_source(self):
        gen = self._generator()
        return lambda position, n: (np.ascontiguousarray(gen.read(n).reshape(self.rows if not self.mono else 1, n)), 0)


class _SignalAndNoise(SignalPower):
    """The signal's power, and that of the synthetic noise generated alongside it."""

    def __init__(self, generator, rows):
        super().__init__("rms")
        self.generator, self.rows = generator, rows
        self.noise_total, self.noise_size = 0.0, 0

    def feed(self, block):
        super().feed(block)
        n = block.shape[1]
        if n == 0:  # a stage before may pass an empty block (a resampler filling its history)
            return
        noise = np.ascontiguousarray(self.generator.read(n)).reshape(-1, n)
        self.noise_total += crop_power(noise, 0, n) * noise.size
        self.noise_size += noise.size


class _BackgroundNoise(_Mix):
    def __init__(self, *args):
        super().__init__(*args)
        t, params = self.t, self.params
        noise = t._bank(self.sample_rate)[params["noise_index"]]
        self.noise2 = noise[None, :] if noise.ndim == 1 else noise
        self.offset = params["noise_offset"] % self.noise2.shape[1]
        self.absolute = t.noise_level == "absolute"
        self.level = None  # "absolute": the crop's RMS, measured when first needed

    def measurer(self):
        if self.absolute:
            return None
        return SignalPower(self.t.reference, self.sample_rate)

    def _noise_power(self, measurer):
        return crop_power(self.noise2, self.offset, self.n_in)

    def noise_source(self):
        if not self.absolute:
            return lambda position, n: (self.noise2, self.offset + position)
        return self._scaled_crop

    def _scaled_crop(self, position, n):
        """A block of the crop scaled to the drawn RMS level (as ``_add_at_level`` scales the whole crop)."""
        crop = np.take(self.noise2, np.arange(self.offset + position, self.offset + position + n), mode="wrap", axis=-1)
        scaled = (crop.astype(np.float64) / self.level * 10.0 ** (self.params["absolute_rms_db"] / 20.0))
        return np.ascontiguousarray(scaled.astype(self.dtype)), 0

    def notify(self):
        if not self.absolute and self.which == "signal":
            return super().notify()  # (a silent signal's warning names no noise, as the one pass's)
        with about(self.t._noise_label(self.sample_rate, self.params)):  # as the one pass names the noise
            if self.absolute and self._level() == 0.0:
                warn("AddBackgroundNoise: the noise is silent, so no level can be set; "
                     "the signal is returned unchanged")
            elif not self.absolute:
                super().notify()

    def _level(self):
        if self.level is None:
            self.level = _crop_rms(self.noise2, self.offset, self.n_in)
            self.scale = None if self.level == 0.0 else 1.0
        return self.level

    def open(self):
        if self.absolute:
            self._level()
        return super().open()


def _crop_rms(noise2, offset, n, block=1 << 16):
    """``measure_level(crop, "rms")`` of the wrapped crop, in blocks: the peak first, then the scaled squares."""
    m = noise2.shape[1]
    peak = float(np.max(np.abs(noise2))) if n >= m else 0.0
    if n < m:
        peak = float(np.max(np.abs(np.take(noise2, np.arange(offset, offset + n), mode="wrap", axis=-1))))
    if peak == 0.0:
        return 0.0
    total = 0.0
    for a in range(0, n, block):
        crop = np.take(noise2, np.arange(offset + a, offset + min(a + block, n)), mode="wrap", axis=-1)
        scaled = crop.astype(np.float64) / peak
        total += float(np.sum(scaled * scaled))
    return peak * math.sqrt(total / (n * noise2.shape[0]))


class _Reverb(_Stage):
    def __init__(self, *args):
        super().__init__(*args)
        rir = (self.t._rir(self.sample_rate, self.params) if isinstance(self.t, RoomSimulator)
               else self.t._response(self.sample_rate, self.params))
        self.rir = rir.astype(self.dtype, copy=False)
        self.keep_tail = isinstance(self.t, ApplyImpulseResponse) and self.t.keep_tail

    def open(self):
        return _ReverbRun(self)


class _ReverbRun:
    """Over the fixed partition of :mod:`noisegen.effects.reverb_blocks`, as ``_apply`` convolves."""

    def __init__(self, stage):
        self.stream = PartitionedRir(stage.rir, keep_tail=stage.keep_tail)

    def process(self, block):
        return self.stream.process(block)

    def flush(self):
        return self.stream.flush()


class _Streamed(_Stage):
    """A stage whose processor is an effects-level stream (``None``: passes the input through)."""

    def make(self):
        return None

    def open(self):
        stream = self.make()
        return _Stage.open(self) if stream is None else stream


class _Speed(_Streamed):
    def make(self):
        factor = self.params["factor"]
        return None if factor == 1.0 else speed_stream(self.n_in, factor)


class _Stretch(_Streamed):
    def make(self):
        return WsolaStream(self.n_in, self.n_out, self.sample_rate, self.dtype)


class _Pitch(_Streamed):
    def make(self):
        steps = self.params["n_steps"]
        return None if steps == 0 else PitchShiftStream(self.n_in, steps, self.sample_rate, self.dtype)


class _Resample(_Streamed):
    def make(self):
        rate = self.params["intermediate_sample_rate"]
        if rate >= self.sample_rate:
            return None
        return _DownUp(self.sample_rate, rate, self.n_in, self.rows, self.dtype)


class _DownUp:
    """Resample down and back up, cut to the input's length (as :class:`Resample` does)."""

    def __init__(self, sample_rate, rate, n, rows, dtype):
        self.down = Resampler(orig_sample_rate=sample_rate, target_sample_rate=rate)
        self.up = Resampler(orig_sample_rate=rate, target_sample_rate=sample_rate)
        # the legs' ratios as the one-shot transform runs them (a NearRatio is the same fraction)
        self.down._ratio, self.up._ratio = leg_ratio(sample_rate, rate), leg_ratio(rate, sample_rate)
        self.n, self.sent, self.rows, self.dtype = n, 0, rows, dtype

    def _cut(self, out):
        keep = max(0, min(out.shape[1], self.n - self.sent))
        self.sent += keep
        return out[:, :keep]

    def process(self, block):
        low = self.down.process(block) if block.shape[1] else block  # (a Resampler takes no empty first chunk)
        return self._cut(self.up.process(low) if low.shape[1] else low)

    def flush(self):
        # A resampler that was sent nothing flushes a 1-D empty array: every piece as (rows, k)
        low = self.down.flush().reshape(self.rows, -1)
        rest = self.up.process(low) if low.shape[1] else low
        tail = self.up.flush().reshape(self.rows, -1)
        return self._cut(np.concatenate([rest, tail], axis=1).astype(self.dtype, copy=False))


class _Normalize(_Stage):
    def measurer(self):
        return _Level(self.t.mode)

    def measured(self, measurer):
        self.level = measurer.parts()

    def notify(self):
        if self.level[0] == 0.0:
            warn(f"Normalize: the input is silent, so no {self.t.mode} level can be set; it is returned unchanged")

    def process(self, block):
        if self.level[0] == 0.0:
            return block.copy()
        return _scale(block, self.level, self.params["target_db"])


class _Level:
    """Peak, or RMS as ``level_parts`` computes it (squares scaled by the running peak)."""

    def __init__(self, mode):
        self.mode, self.peak, self.total, self.size = mode, 0.0, 0.0, 0

    def feed(self, block):
        if block.size == 0:
            return
        peak = float(np.max(np.abs(block)))
        if self.mode == "rms" and peak > self.peak:
            self.total *= (self.peak / peak) ** 2 if self.peak else 0.0
            self.peak = peak
        self.peak = max(self.peak, peak)
        if self.mode == "rms" and self.peak:
            scaled = block.astype(np.float64) / self.peak
            self.total += float(np.sum(scaled * scaled))
        self.size += block.size

    def parts(self):
        if self.mode == "peak" or self.peak == 0.0:
            return self.peak, 1.0
        return self.peak, math.sqrt(self.total / self.size)


_STAGES = {
    Gain: _SampleWise, PolarityInversion: _SampleWise, BitCrush: _SampleWise,
    LowPassFilter: _Filter, HighPassFilter: _Filter, BandPassFilter: _Filter, BandStopFilter: _Filter,
    PeakingEQ: _Filter, LowShelf: _Filter, HighShelf: _Filter,
    AddColoredNoise: _ColoredNoise, ApplyImpulseResponse: _Reverb, RoomSimulator: _Reverb,
    SpeedPerturb: _Speed, TimeStretch: _Stretch, PitchShift: _Pitch, Resample: _Resample, Normalize: _Normalize,
}


def stage_for(t, params, *, sample_rate, n_in, rows, mono, dtype):
    """The stage of transform ``t`` (applied, with ``params``), or None when it has no streaming form."""
    klass = _STAGES.get(type(t))
    if type(t) is AddBackgroundNoise and t.noise_transform is None:
        klass = _BackgroundNoise
    if klass is not None and n_in == 0:
        # an input a stage before emptied (a speed-up of a few samples): the one pass gives it back as it is
        # (Transform._apply_checked), where a reverb gave its tail and a noise at an SNR divided by zero
        klass = _Stage
    return None if klass is None else klass(t, params, sample_rate, n_in, rows, mono, dtype)
