"""Every Numba option noisegen uses, in one place.

Kernels are declared with :func:`kernel` (fast-math without ``nnan``/``ninf``)
or :func:`exact_kernel` (strict IEEE arithmetic, for code whose output must be
bit-identical however it is chunked or vectorised, such as the noise
generators). Scalar helpers shared by CPU and CUDA kernels are declared with
:func:`scalar`, which registers one Python source for every Numba target
(``njit`` inlines it on the CPU, ``cuda.jit`` compiles it as a device
function, and the CUDA simulator calls it as plain Python). Numba intrinsics
(explicit LLVM IR) are declared with :func:`intrinsic_or`, beside a pure-Python
twin of the same semantics: with ``NUMBA_DISABLE_JIT=1`` every kernel runs as
plain Python (for coverage and debugging), the twins standing in for the
intrinsics and NumPy's integer wrap-around and float errors kept as quiet as
in compiled code.

Nothing here compiles anything: kernels compile lazily, on first call, and are
cached on disk (``cache=True``). When the package directory is not writable
(a read-only site-packages) and ``NUMBA_CACHE_DIR`` is unset, or
``NUMBA_CACHE_DIR`` itself is not writable (or starts with a '~' no shell
expanded), the cache is pointed at a
per-user directory before Numba is imported (with no writable place at all,
kernels compile without a disk cache); both say so in a NoisegenWarning.

Caveat for developers: Numba's on-disk cache keys a kernel on its own source
file only. After editing a scalar helper in another module, clear the caches
(``find noisegen -name '*.nbi' -delete``) or set ``NUMBA_CACHE_DIR`` to a fresh
directory; CI always starts from an empty cache.
"""

from __future__ import annotations

import functools
import os
import tempfile

from .home import meant_home


def _writable(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".probe-", delete=True)
        probe.close()
        return True
    except OSError:
        return False


def _home_unexpanded(path: str) -> str:
    """Why a ``NUMBA_CACHE_DIR`` starting with a '~' no shell expanded (a Dockerfile's ``ENV``, a quoted
    ``.env`` line) is refused, '' for another (or where a './~' folder is there): Numba made a folder named
    '~' in whatever folder a process started in, and compiled every kernel again in each (as augment's
    out_dir, see :func:`noisegen.audio.files.unexpanded_home`)."""
    if (meant := meant_home(path)) is None:
        return ""
    return f"starts with {path.split(os.sep)[0]!r}, which only a shell expands (write {meant!r} in full)"


def _cache_candidates() -> list:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates = [os.path.join(base, "noisegen", "numba")]
    try:
        temp = tempfile.gettempdir()
    except OSError:  # (FileNotFoundError: no usable temporary directory at all)
        return candidates
    return candidates + [os.path.join(temp, f"noisegen-numba-{os.getuid() if hasattr(os, 'getuid') else 'user'}")]


def _ensure_cache_dir():
    """Settle where Numba caches; returns ``(given NUMBA_CACHE_DIR that is not writable or None, whether any
    cache location is writable)``.

    Numba writes to its cache directory even to load from it (it checks it can), and with none writable
    a ``cache=True`` kernel raises on its first call: an unwritable ``NUMBA_CACHE_DIR`` is replaced by a
    per-user one, and with no writable place at all kernels compile without a disk cache.
    """
    given = os.environ.get("NUMBA_CACHE_DIR")
    if given and not _home_unexpanded(given) and _writable(given):  # (not '~/x': _writable made ./~/x)
        return None, True
    if not given and _writable(os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")):
        return None, True
    for path in _cache_candidates():
        if _writable(path):
            os.environ["NUMBA_CACHE_DIR"] = path
            return given or None, True
    return given or None, False


#: Why the ``NUMBA_CACHE_DIR`` given is refused although it could be written ('' if not: :func:`_home_unexpanded`).
HOME_UNEXPANDED = _home_unexpanded(os.environ.get("NUMBA_CACHE_DIR", ""))
REFUSED_CACHE_DIR, CACHE_WRITABLE = _ensure_cache_dir()

import numba  # noqa: E402  (after the cache directory is settled)
import numba.core.cpu  # noqa: E402  (UNCOUNTED checks its options)
import numpy as np  # noqa: E402
from numba.extending import intrinsic, register_jitable  # noqa: E402

from . import cache_guard, cache_stamp  # noqa: E402

cache_stamp.install()  # a kernel's cache entry follows its helpers in other modules too
cache_guard.install()  # a damaged or unwritable cache entry costs a compile, not the run

if os.environ.get("NUMBA_CACHE_DIR") and (REFUSED_CACHE_DIR or not numba.config.CACHE_DIR):
    numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]  # (Numba imported before noisegen read the old one)
if REFUSED_CACHE_DIR or not CACHE_WRITABLE:
    import warnings

    from .errors import NoisegenWarning
    from .labels import user_stacklevel

    _refused = (f"NUMBA_CACHE_DIR={REFUSED_CACHE_DIR!r} " + (HOME_UNEXPANDED or "is not writable (Numba cannot use "
                "a cache it cannot write to)") + "; ") if REFUSED_CACHE_DIR else ""
    warnings.warn(_refused + (f"caching in {os.environ['NUMBA_CACHE_DIR']!r} instead" if CACHE_WRITABLE else
                              "no cache location is writable: kernels compile on every run"),
                  NoisegenWarning, stacklevel=user_stacklevel())  # (2: the noisegen module importing this one)

#: Fast-math flags for DSP kernels. ``nnan``/``ninf`` are never included (a
#: NaN must stay a NaN), nor ``afn`` (approximate libm calls would make the
#: vectorised and scalar paths of one loop disagree in the last bit).
FASTMATH = ("nsz", "arcp", "contract", "reassoc")

#: Options of every DSP kernel: serial, GIL released, cached on disk.
KERNEL_OPTIONS = dict(cache=CACHE_WRITABLE, nogil=True, fastmath=set(FASTMATH), error_model="numpy", boundscheck=False)

#: Options of kernels whose output must not depend on chunking or vectorisation.
EXACT_OPTIONS = dict(cache=CACHE_WRITABLE, nogil=True, fastmath=False, error_model="numpy", boundscheck=False)

#: Override for a kernel that allocates nothing and takes many array views in its loops (the
#: Vorbis packet loop): compiled without Numba's reference counting (a private Numba option), as
#: each view otherwise costs an atomic update. Such a kernel cannot allocate or return arrays.
UNCOUNTED = dict(_nrt=False) if hasattr(numba.core.cpu.CPUTargetOptions, "_nrt") else {}  # (else: counted)

#: Override for a recursive filter's kernels (the biquad cascades): fused multiply-add only, as with
#: ``reassoc`` LLVM regroups ``(d1*x + z2) - a1*z1`` into a longer dependency chain through ``z1``
#: and the recursion runs slower (bench/KERNELS.md).
CONTRACT_ONLY = dict(fastmath={"contract"})

# No kernel uses ``parallel=True``: with the OpenMP threading layer a process
# that compiled a parallel function kills its forked children (DataLoader
# workers fork).


def _compile_before_fork():
    """Make a fork wait for a compile that another thread is running (Numba's one compiler lock, as
    ``logging`` holds its lock across a fork): the child has no such thread, and its first compile, or
    first load of a cached kernel, waited for that lock for ever (a DataLoader worker forked while a
    thread's first call compiled hung at its first call)."""
    from numba.core.compiler_lock import global_compiler_lock as lock

    if hasattr(os, "register_at_fork"):  # (POSIX; elsewhere no process is forked)
        os.register_at_fork(before=lock.acquire, after_in_parent=lock.release, after_in_child=lock.release)


_compile_before_fork()


def _quiet(fn):
    """``fn`` run under ``np.errstate(all="ignore")`` when ``NUMBA_DISABLE_JIT=1`` (else ``fn``).

    As plain Python a kernel's uint64 hashes wrap around on NumPy scalars with an overflow
    warning each, and a float error warns: compiled code wraps and divides without a word.
    """
    if not numba.config.DISABLE_JIT:
        return fn

    @functools.wraps(fn)
    def quiet(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)

    return quiet


def kernel(fn=None, **overrides):
    """Decorate a CPU kernel with :data:`KERNEL_OPTIONS` (plus ``overrides``)."""
    options = {**KERNEL_OPTIONS, "fastmath": set(FASTMATH), **overrides}
    if fn is None:
        return lambda f: _quiet(numba.njit(**options)(f))
    return _quiet(numba.njit(**options)(fn))


def exact_kernel(fn=None, **overrides):
    """Decorate a CPU kernel with :data:`EXACT_OPTIONS` (plus ``overrides``)."""
    options = {**EXACT_OPTIONS, **overrides}
    if fn is None:
        return lambda f: _quiet(numba.njit(**options)(f))
    return _quiet(numba.njit(**options)(fn))


def intrinsic_or(twin):
    """Numba's ``@intrinsic``, or with ``NUMBA_DISABLE_JIT=1`` its pure-Python ``twin``.

    An intrinsic (LLVM IR written out) cannot run as Python; ``twin`` takes the
    same arguments (tuples, literal ints as plain ints) and has the same
    semantics, to float rounding, so kernels calling it run as plain Python.
    The intrinsic is unchanged when Numba compiles.
    """
    def decorate(definition):
        return twin if numba.config.DISABLE_JIT else intrinsic(definition)

    return decorate


#: Every helper declared with :func:`scalar`, in declaration order. The CUDA
#: package registers each of them with numba-cuda's own typing registry when
#: (and only when) CUDA is first used.
SCALARS: list = []


def scalar(fn):
    """Register a scalar helper for Numba; it stays callable from Python.

    The function is inlined into CPU kernels now, and compiled as a device
    function for CUDA kernels once :mod:`noisegen._kernels.cuda` is imported
    (numba-cuda keeps a registry of its own), from this one source.
    """
    SCALARS.append(fn)
    return _quiet(register_jitable(inline="always")(fn))


__all__ = [
    "FASTMATH",
    "KERNEL_OPTIONS",
    "EXACT_OPTIONS",
    "UNCOUNTED",
    "CONTRACT_ONLY",
    "kernel",
    "exact_kernel",
    "intrinsic_or",
    "scalar",
    "SCALARS",
]


def simulator_enabled() -> bool:
    """True when ``NUMBA_ENABLE_CUDASIM=1`` (numba-cuda's CPU simulator stands in for a GPU)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")
