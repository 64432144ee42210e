"""Audio files on disk: the one list of readable extensions, the one folder
scanner (regular files only: a FIFO is never opened), and opening a file for
reading without ever blocking on a FIFO."""

from __future__ import annotations

import errno
import os
import stat
import warnings

from .._core.errors import NoisegenError, NoisegenWarning, ParameterError
from .._core.home import meant_home
from .._core.labels import user_stacklevel
from .._core.validation import check_path

__all__ = ["AUDIO_EXTENSIONS", "audio_files", "holds_audio_name", "scan_audio_files", "is_audio_name", "file_kind",
           "open_regular", "read_error", "check_headed", "aiff_rate_problem", "missing_hint", "unexpanded_home"]

#: File name endings that :func:`noisegen.load` reads (case-insensitive): the
#: formats libsndfile >= 1.1 decodes. Every folder scan in noisegen uses this
#: list (``noisegen augment``, :class:`NoiseBank`, the transforms' folders,
#: :class:`AugmentStream`), through :func:`scan_audio_files`.
AUDIO_EXTENSIONS = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au",
                    ".snd", ".caf", ".w64", ".rf64")


def is_audio_name(name) -> bool:
    """Whether a file name ends in one of :data:`AUDIO_EXTENSIONS` (hidden names never do)."""
    name = os.path.basename(os.fspath(name))
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def _walk(root, onerror, skip=None):
    """``os.walk(root)`` with hidden folders skipped and links to folders outside ``root`` followed, as
    audiomentations and torch-audiomentations follow them (a noise folder of links to datasets was
    skipped without a word), each real folder once (a link loop ends). A link to a folder inside
    ``root`` is not followed (the folder is walked where it is, under its own name), and nothing
    outside ``root`` inside ``skip`` (a real path: an output folder) is walked, be it the link's
    target or a folder in a linked tree (``in/corpus -> /data/corpus`` with OUT_DIR /data/corpus/aug).
    Yields ``(here, files)``."""
    top = os.path.realpath(root)
    seen = {top}
    for here, dirs, files in os.walk(root, onerror=onerror, followlinks=True):
        kept = []
        for name in sorted(d for d in dirs if not d.startswith(".")):
            path = os.path.join(here, name)
            real = os.path.realpath(path)
            link = os.path.islink(path)
            # (``root``'s own folders are walked even inside ``skip``: OUT_DIR may lie above IN_DIR)
            if real in seen or (link and _within(real, top)) or (
                    skip is not None and _within(real, skip) and not _within(real, top)):
                continue
            seen.add(real)
            kept.append(name)
        dirs[:] = kept
        yield here, files


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def holds_audio_name(folder) -> bool:
    """Whether any name under ``folder`` (recursively, hidden ones skipped) ends in an audio extension:
    a quick look that stops at the first, before the whole scan. True also where a folder cannot be
    listed (the scan says so)."""
    unlisted = []
    for _, files in _walk(check_path(folder, "folder"), unlisted.append):
        if any(is_audio_name(name) for name in files):
            return True
    return bool(unlisted)


def scan_audio_files(folder, *, skip=None) -> tuple[list[str], list[tuple[str, str]]]:
    """The audio files under ``folder`` (recursively, sorted) and the odd names beside them.

    A file counts when its name ends in one of :data:`AUDIO_EXTENSIONS` and
    it is a regular file (checked with ``stat``, symlinks to files followed).
    Links to folders are followed, each real folder scanned once (a link
    loop ends there); nothing inside ``skip`` (a real path, e.g. an output
    folder) is scanned but ``folder``'s own subfolders, and a link to a file
    there is one of the odd names. Hidden names and hidden folders are skipped.

    Returns
    -------
    paths : list of str
        Regular audio files, joined onto ``folder``, sorted.
    odd : list of (str, str)
        Audio names that are not regular files (FIFO, socket, device,
        dangling symlink, symlink loop) or link into ``skip``, never opened, and folders that could not be
        listed (``folder`` itself included), with the reason; sorted.
    """
    root = check_path(folder, "folder")
    top = os.path.realpath(root)
    found, odd = [], []

    def unlisted(exc):  # os.walk would skip an unreadable folder without a word
        odd.append((exc.filename or root, f"a folder that cannot be read ({exc.strerror or exc})"))

    for here, files in _walk(root, unlisted, skip):
        for path in (os.path.join(here, name) for name in files if is_audio_name(name)):
            try:
                mode = os.stat(path).st_mode
            except OSError as exc:
                odd.append((path, _unreachable(path, exc)))
                continue
            if skip is not None and _linked_into(path, skip, top):  # (an output read back as an input)
                odd.append((path, "a symlink to a file in the output folder"))
            elif stat.S_ISREG(mode):
                found.append(path)
            else:
                odd.append((path, f"{file_kind(mode)}, not a regular file (never opened)"))
    return sorted(found), sorted(odd)


def _linked_into(path: str, skip: str, top: str) -> bool:
    """Whether ``path`` is a link to a file inside ``skip`` but outside ``top`` (as :func:`_walk` leaves such
    folders out: IN/best.wav -> OUT/a.aug0.wav made each run's output an input of the next)."""
    if not os.path.islink(path):
        return False
    real = os.path.realpath(path)
    return _within(real, skip) and not _within(real, top)


def audio_files(folder) -> list[str]:
    """The regular audio files under ``folder``, recursively, sorted (:func:`scan_audio_files`'s paths).

    Warns (NoisegenWarning) once per name left out: a folder that could not be read (its files
    with it), and an audio name that is not a regular file (a FIFO, a dangling symlink: never opened),
    as ``noisegen augment`` and :class:`~noisegen.AugmentStream` name them. A ``folder`` that is
    not an existing folder (a missing path, a file) is a ParameterError.
    """
    root = check_path(folder, "folder")
    if not os.path.isdir(root):  # (scanned, a typo gave [] with a warning calling it "a folder that cannot be read")
        what = "a file" if os.path.isfile(root) else path_kind(root)
        raise ParameterError(f"folder must be an existing folder, got {what} {root!r}{missing_hint(root)}")
    found, odd = scan_audio_files(root)
    for path, why in odd:
        left = "the audio files in it are left out" if why.startswith("a folder") else "left out"
        warnings.warn(f"{path!r} is {why}: {left}", NoisegenWarning, stacklevel=user_stacklevel())
    return found


#: Endings libsndfile takes as a format when it finds no header in a file (its format_from_extension):
#: headerless 8 kHz mono u-law, which any bytes decode as.
_RAW_GUESSED = (".au", ".snd")


def check_headed(path) -> None:
    """Refuse a ``.au`` or ``.snd`` file in which libsndfile finds no header: it reads such a file as
    headerless 8 kHz u-law on its name alone, so a text file or a saved HTML page under that name was
    augmented as noise, without a word (any other name that holds no audio is "Format not recognised").
    Refuse an AIFF file whose header's rate libsndfile cannot hold (:func:`_aiff_rate_problem`)."""
    extension = os.path.splitext(os.fsdecode(path))[1].lower()
    if extension in _AIFF_NAMES:
        if why := _aiff_rate_problem(path):
            raise NoisegenError(f"cannot read audio file {os.fsdecode(path)!r}: {why}")
        return
    if extension not in _RAW_GUESSED:
        return
    import soundfile as sf

    try:
        raw = sf.info(os.fsencode(path)).format == "RAW"
    except (sf.LibsndfileError, RuntimeError, OSError):  # (the read that follows says what is wrong)
        return
    if raw:
        raise NoisegenError(f"cannot read audio file {os.fsdecode(path)!r}: it holds no AU header (libsndfile would "
                            "read its bytes as headerless 8 kHz u-law, a guess from the name alone); if it is "
                            "that, read it with soundfile.read(path, format='RAW', subtype='ULAW', samplerate=8000, "
                            "channels=1)")


_AIFF_NAMES = (".aif", ".aiff", ".aifc")


def _aiff_rate_problem(path) -> str:
    """:func:`aiff_rate_problem` of the file at ``path``."""
    try:
        with open(path, "rb") as fh:
            return aiff_rate_problem(fh)
    except OSError:  # (the read that follows says what is wrong)
        return ""


def aiff_rate_problem(fh) -> str:
    """Why the sample rate in the ``COMM`` chunk (an 80-bit float) of the AIFF file open in ``fh`` (binary,
    at its start: a file or a tar member's bytes) is no rate ('' if it is one, or it is no AIFF a few reads
    can judge): libsndfile reads a rate of 0 or below 1 as 1 Hz, a negative one as 0, and infinity, NaN or
    one of 2**30 Hz or more as 67,108,864 or 800,000,000 Hz, without a word."""
    head = fh.read(12)
    if len(head) < 12 or head[:4] != b"FORM" or head[8:12] not in (b"AIFF", b"AIFC"):
        return ""
    for _ in range(64):  # (COMM comes first or nearly: FVER, a comment or two before it)
        chunk = fh.read(8)
        if len(chunk) < 8:
            return ""
        size = int.from_bytes(chunk[4:], "big")
        if chunk[:4] == b"COMM":
            body = fh.read(18)
            break
        fh.seek(size + (size & 1), os.SEEK_CUR)
    else:
        return ""
    if len(body) < 18:
        return ""
    sign_exp, mantissa = int.from_bytes(body[8:10], "big"), int.from_bytes(body[10:18], "big")
    exponent = sign_exp & 0x7FFF
    if exponent == 0x7FFF:
        shown = "NaN" if mantissa << 1 & (1 << 64) - 1 else "infinity"
    else:
        if exponent - 16383 < 1023:  # (within float64's range: past it 2.0 ** e raised an OverflowError)
            rate = mantissa * 2.0 ** (exponent - 16383 - 63) * (-1 if sign_exp & 0x8000 else 1)
            if 1.0 <= rate < 2.0 ** 30:  # (libsndfile reads 2**29 to 2**30 Hz as they are)
                return ""
            shown = f"{rate:.6g} Hz"
        else:
            shown = f"{'-' if sign_exp & 0x8000 else ''}{mantissa / 2**63:.6g} * 2**{exponent - 16383} Hz"
    b0 = body[8]  # libsndfile's tenbytefloat2int, as it reads such a rate
    read = 0 if b0 & 0x80 else 1 if b0 <= 0x3F else 0x4000000 if b0 > 0x40 else 800_000_000
    return f"its AIFF header gives a sample rate of {shown} (libsndfile reads {read:,} Hz): the header is damaged"


def _unreachable(path, exc: OSError) -> str:
    """Why ``os.stat`` of an audio name failed, in words: a symlink loop, a dangling symlink, or the OS's reason."""
    if exc.errno == errno.ELOOP:
        return "a symlink loop"
    return "a dangling symlink" if os.path.islink(path) else (exc.strerror or str(exc))


def file_kind(mode: int) -> str:
    """A readable name for a file type that is not a regular file."""
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def path_kind(path) -> str:
    """What ``path`` is, for an error about one that is neither a regular file nor a folder: a FIFO
    given as a noise folder was said to be a "missing path"."""
    try:
        return file_kind(os.stat(path).st_mode)
    except ValueError:  # a NUL byte: no OS names it, and os.stat raised its bare ValueError out of the message
        return "a path with a NUL byte"
    except OSError:
        return "a link that leads nowhere" if os.path.islink(path) else "a missing path"


def missing_hint(path) -> str:
    """Why a missing ``path`` is missing, where it names something as it was likely meant ('' if not): a
    leading '~' (only a shell expands it, and not in quotes) or Windows' '\\' between folders; the error
    said only 'does not exist' of a folder that is there."""
    text = os.fsdecode(path)
    if text.startswith("~") and (home := os.path.expanduser(text)) != text:
        there = "is there" if os.path.exists(home) else "is missing too"
        return (f" (a leading '~' is expanded only by a shell, and not in quotes: {home!r} {there}; write the path "
                "in full, or pass os.path.expanduser(path))")
    if os.sep == "/" and "\\" in text and os.path.exists(slashed := text.replace("\\", "/")):
        return f" (written with Windows' '\\' between folders: {slashed!r} is there; write paths with '/')"
    return ""


def unexpanded_home(path) -> str:
    """Why ``path`` should not be created as written ('' if nothing is wrong): it starts with a '~' no
    shell expanded (it was quoted, or came from Python), and no such folder is here, so creating it makes
    a folder named '~' in the current one (which a later ``rm -rf ~`` would take for the home folder)."""
    if (meant := meant_home(path)) is None:
        return ""
    text = os.fsdecode(path)
    first = text.split(os.sep)[0]
    return (f"starts with {first!r}, which only a shell expands (and not in quotes): write "
            f"{meant!r} in full, or {os.path.join('.', text)!r} to mean a folder named {first!r} here")


def open_regular(path, flags: int = os.O_RDONLY) -> int:
    """Open ``path`` (for reading, or with ``flags``, e.g. ``O_RDWR | O_CREAT``) and return the fd,
    refusing anything but a regular file.

    ``O_NONBLOCK`` makes opening a FIFO return at once (instead of waiting for
    a writer); the type is then checked on the open descriptor, so a file
    swapped for a FIFO after a ``stat`` is caught too.
    """
    fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0), 0o666)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ParameterError(f"path {os.fspath(path)!r} is {file_kind(mode)}, not a regular file; "
                             "only regular files are read")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return fd


def read_error(path, exc) -> Exception:
    """The exception to raise when reading the audio file ``path`` failed with ``exc``.

    The OS's reason when the file cannot be opened (libsndfile only says
    "System error."): :class:`FileNotFoundError`, :class:`IsADirectoryError`,
    or an :class:`OSError` with the OS's errno and message, e.g. a
    :class:`PermissionError` "Permission denied"; else a
    :class:`~noisegen.NoisegenError` with ``exc``'s (a file that does not decode).
    """
    name = os.fspath(path)
    failure = exc if isinstance(exc, OSError) and exc.errno else _open_failure(name)
    if failure is not None and failure.errno not in (errno.ENOENT, errno.EISDIR):
        return OSError(failure.errno, failure.strerror or os.strerror(failure.errno), name)
    if not os.path.exists(name):
        return FileNotFoundError(errno.ENOENT, "no such audio file" + missing_hint(name), name)
    if os.path.isdir(name):
        return IsADirectoryError(errno.EISDIR, "is a directory, not an audio file", name)
    # (libsndfile's words alone: soundfile's message says "Error opening b'/path': ..." of a path as bytes)
    reason = getattr(exc, "error_string", None) or str(exc)
    if "not a regular file" in reason and os.path.isfile(name):  # what libsndfile says of a regular
        # file its MP3 decoder finds no audio in (a text file named .mp3): untrue, and it sent users looking
        reason = "libsndfile found no audio it can decode in it (not a format it reads, or damaged)"
    return NoisegenError(f"cannot read audio file {name!r}: {reason}")


def _open_failure(name):
    """The OSError opening ``name`` for reading raises, or None (non-blocking: a FIFO never waits)."""
    try:
        os.close(os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)))
    except OSError as exc:
        return exc
    return None
