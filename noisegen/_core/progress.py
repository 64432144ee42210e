"""Progress reporting for long batch jobs: a bar on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    """``seconds`` as HH:MM:SS, the hours counted on past 24 (``time.strftime`` would wrap a day's)."""
    s = int(seconds)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


class Progress:
    """A bar on a terminal, a plain line every ``interval`` seconds otherwise."""

    def __init__(self, total_files, total_audio_s, *, enabled, stream=None, interval=10.0):
        """``enabled``: report, or not, or (None) only on a terminal."""
        self.stream = stream or sys.stderr
        self.total_files, self.total_audio_s = total_files, total_audio_s
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        # (no stream when started with stderr closed, `2>&-`: nowhere to report, and no failure)
        self.enabled = self.stream is not None and (tty if enabled is None else bool(enabled))
        self.tty = self.enabled and tty
        self.interval = 0.1 if self.tty else interval
        self.files = 0
        self.audio_s = 0.0
        self.t0 = time.perf_counter()
        self.last = self.t0

    def update(self, files, audio_s):
        self.files += files
        self.audio_s += audio_s
        now = time.perf_counter()
        if self.enabled and (now - self.last >= self.interval or self.files == self.total_files):
            self.last = now
            self._draw(now - self.t0)

    def _draw(self, elapsed):
        if self.files >= self.total_files:
            frac = 1.0
        elif self.total_audio_s > 0:
            frac = min(self.audio_s / self.total_audio_s, 1.0)
        else:
            frac = self.files / self.total_files
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        eta_text = "?" if eta != eta else _clock(eta)
        text = (f"{self.files}/{self.total_files} inputs, {self.audio_s / 3600:.3f}/{self.total_audio_s / 3600:.3f} h "
                f"audio, ETA {eta_text}")
        if self.tty:
            width = 30
            bar = "#" * int(frac * width) + "." * (width - int(frac * width))
            self.stream.write(f"\r[{bar}] {100 * frac:5.1f}% {text}  ")
        else:
            self.stream.write(f"augment: {100 * frac:5.1f}% {text}\n")
        self.stream.flush()

    def close(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
