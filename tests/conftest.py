"""Shared fixtures: real audio from ``data/`` (always there) and from
``../shared/data`` (used when present, skipped otherwise); :func:`import_bench`;
running the command line as a child without root's file privileges
(:func:`unprivileged`)."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SHARED = Path(os.environ.get("NOISEGEN_SHARED_DATA", ROOT.parent / "shared" / "data"))


def import_bench(name: str):
    """``bench.<name>`` from the checkout (``bench/`` is not installed), without leaking the
    thread pins ``bench._harness`` sets in the environment into the test process."""
    saved = dict(os.environ)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module(f"bench.{name}")
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def cli_env() -> dict:
    """The environment of a `python -m noisegen` child: this checkout first on its path."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture
def unprivileged():
    """``prefix(probe_path)``: an argv prefix that runs a command without root's right to read or
    write any file (none when not root), checked on ``probe_path`` (a file of mode 0); skips the
    test when this machine cannot drop the right (CI runs as root: setpriv drops it)."""
    def prefix(probe_path):
        if os.geteuid() != 0:
            argv = []
        elif shutil.which("setpriv"):
            argv = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]
        else:
            pytest.skip("running as root without setpriv: file permissions cannot be tested")
        probe = subprocess.run([*argv, sys.executable, "-c", f"open({str(probe_path)!r}, 'rb')"], capture_output=True)
        if probe.returncode == 0:
            pytest.skip("file permissions are not enforced here")
        return argv

    return prefix


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED


def _read_mono(path: Path, sample_rate: int = 16000) -> np.ndarray:
    import soundfile as sf
    from scipy.signal import resample_poly

    y, sr = sf.read(str(path), dtype="float64", always_2d=True)
    y = y.mean(axis=1)
    if sr != sample_rate:
        from math import gcd

        g = gcd(sr, sample_rate)
        y = resample_poly(y, sample_rate // g, sr // g)
    return y


@pytest.fixture(scope="session")
def speech_16k() -> np.ndarray:
    """The longest bundled speech clip, mono float64 at 16 kHz."""
    return _read_mono(DATA / "speech" / "cmu_arctic_us_aew_a0001.wav")


@pytest.fixture(scope="session")
def noise_16k() -> np.ndarray:
    """A bundled real noise, mono float64 at 16 kHz."""
    return _read_mono(DATA / "noise" / "running_tap_excerpt.wav")
