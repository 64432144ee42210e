"""``augment --engine ray``: the folder job's planned tasks run as Ray tasks.

:func:`noisegen.batch.augment_folder` plans, prepares the banks and records the
results exactly as for a local run; only the execution of the planned tasks
differs (:func:`run_tasks`):

- **Same work, same bytes.** Each Ray task runs :func:`noisegen.batch.work._process`
  on a few consecutive inputs of the plan (up to ``_MAX_GROUP``; fewer when
  that would leave CPUs idle): it renders with each output's own seed and
  writes each output atomically (temp file, then rename) on the shared
  filesystem.
- **Plan order.** Results come back in any order; the driver holds them and
  hands them to ``collect`` (which appends the manifest lines and updates the
  progress) in plan order, so ``manifest.jsonl`` is byte-identical to a
  ``--workers 1`` run.
- **Banks once per worker process.** The prepared pipeline (banks loaded by the
  driver) is pickled once into the object store; a worker process unpickles it
  on its first task and keeps it for the next ones.
- **Warnings.** A worker's warnings (a truncated input, say) travel back with
  its results and are issued again by the driver, so the command line shows
  them as one line each, as for a local run.
- **Failures.** A task whose worker dies is retried by Ray (``max_retries``);
  the dead attempt leaves at most a temp file, removed at the end of the run
  (and by the next run, as for a killed local run). A task that still fails
  runs again one input per task (one input may be what kills it), and an
  input whose task still fails is recorded as a failure.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import threading
import warnings

from .._core.errors import NoisegenWarning, ParameterError, one_line
from .._core.tempfiles import stem_hash
from ..audio.bank_cache import dumps_anywhere
from ..data.ray import INSTALL_HINT, import_ray  # noqa: F401  (re-exported for the CLI's message)
from . import work
from .plan import _TMP_RE, _one_line
from .wds import _TEMP_RE as _TAR_TMP_RE

__all__ = ["run_tasks", "check_engine", "MAX_RETRIES"]

#: Attempts Ray makes again when a task's worker process dies.
MAX_RETRIES = 3
#: Ray tasks in flight per cluster CPU: enough to keep every CPU busy, few enough to bound the held results.
_IN_FLIGHT_PER_CPU = 4
#: Planned tasks (inputs) per Ray task at most: amortises Ray's per-task cost over short files.
_MAX_GROUP = 8
#: ... while leaving at least this many Ray tasks per CPU, so the CPUs stay balanced to the end.
_GROUPS_PER_CPU = 8
#: The logger of Ray's notice that a local instance it starts has token authentication on.
_TOKEN_NOTICE = "ray._private.authentication.authentication_token_setup"


# -- worker side ------------------------------------------------------------------------------
_PIPELINES: dict = {}  # this worker process's unpickled pipelines, by object ref


def _remote_process(box, tasks):
    """A run of consecutive planned tasks on a Ray worker; ``box`` is ``[ref to the pickled pipeline]``.

    The ref travels in a list so Ray does not fetch it for every task: the
    worker fetches and unpickles it once and keeps it.
    """
    import ray

    ref = box[0]
    pipeline = _PIPELINES.get(ref.hex())
    if pipeline is None:  # a new run: the worker lives on, and would keep every earlier run's banks
        _PIPELINES.clear()
        pipeline = _PIPELINES[ref.hex()] = pickle.loads(ray.get(ref))
    work._init_worker(pipeline)
    with warnings.catch_warnings(record=True) as caught:  # the driver shows them (one line each, in the CLI)
        warnings.simplefilter("always")
        results = [work._process(task) for task in tasks]
    return results, [(str(w.message), w.category) for w in caught]


# -- driver side ------------------------------------------------------------------------------
def _probe(address: str, label: str = "", timeout_s: float = 5.0) -> None:
    """Refuse a ``host:port`` or ``ray://host:port`` nobody listens on at once (Ray itself retries for
    minutes, or 30 s for a Ray Client address)."""
    import socket

    scheme, sep, rest = address.partition("://")
    if sep and scheme != "ray":
        return  # "http://...": left to Ray (which says what it takes)
    host, sep, port = (rest if sep else address).rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", "ray://head": left to Ray
    if host.startswith("[") and host.endswith("]"):  # an IPv6 address, as Ray writes it: "[::1]:6379"
        host = host[1:-1]
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ParameterError(f"{label or f'ray_address {address!r}'}: no Ray cluster answers there "
                             f"({exc.strerror or exc}); start one with `ray start --head`") from None


def _elsewhere(address: str, joined) -> bool:
    """Whether ``host:port`` surely names another cluster than ``joined`` ("auto", "ray://...": not told)."""
    import socket

    ends = []
    for text in (address, joined or ""):
        host, sep, port = text.rpartition(":")
        if not sep or "://" in text or not port.isdigit():
            return False
        try:
            host = socket.gethostbyname(host.strip("[]"))
        except OSError:
            pass
        ends.append((host, int(port)))
    (host, port), (joined_host, joined_port) = ends
    loopback = host.startswith("127.") or joined_host.startswith("127.")  # (this node under any of its names)
    return port != joined_port or (host != joined_host and not loopback)


def _connect(ray, address):
    """Join ``address`` (or start a local instance); returns whether this call started it."""
    if ray.is_initialized():  # (joined by this process: its cluster is used)
        joined = ray.get_runtime_context().gcs_address
        if address and _elsewhere(address, joined):
            warnings.warn(f"ray_address {address!r} is not joined: this process is already on the Ray cluster at "
                          f"{joined!r}, which runs the job (ray.shutdown() first to use another)",
                          NoisegenWarning, stacklevel=5)  # (the caller of augment_folder)
        return False
    env = os.environ.get("RAY_ADDRESS", "").strip()  # what ray.init() joins when given no address
    label = f"ray_address {address!r}" if address or not env else f"RAY_ADDRESS {env!r} (set in the environment)"
    if address or env:
        _probe(address or env, label)
    kwargs = {"address": address} if address else {"include_dashboard": False}
    # ray.init puts its own SIGTERM handler (a stack dump, then exit status 15) in place of the
    # caller's, for good: the command line's stop (its line, 143, temporary files removed) is put back
    term = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    # Ray logs "Token authentication is enabled for this Ray cluster. Set RAY_AUTH_MODE=disabled to opt
    # out ..." for each local instance it starts: of no use for the one this run starts and stops
    notice = logging.getLogger(_TOKEN_NOTICE)
    level = notice.level
    if not (address or env):
        notice.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():  # (the error below says it, in one line)
            warnings.filterwarnings("ignore", "Ray Client connection timed out", UserWarning)
            ray.init(**kwargs, log_to_driver=True, logging_level=logging.WARNING)  # no INFO lines in the CLI
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise ParameterError(f"{label}: cannot join the Ray cluster: {_why_not_joined(exc)}") from None
    finally:
        notice.setLevel(level)
        if term is not None:
            signal.signal(signal.SIGTERM, term)
    return True


def _why_not_joined(exc) -> str:
    """Ray's error in one line, and a refused token said as such: Ray says only "Failed to connect to Ray
    cluster at ..." (after 20 s); its cause, a traceback in a string, holds the AuthenticationError."""
    text = one_line(exc)
    if "Authentication token is missing or incorrect" not in str(exc.__cause__ or ""):
        return text
    if os.environ.get("RAY_AUTH_MODE", "").strip().lower() != "token":  # (`ray start` turns it on where a token exists)
        fix = "set RAY_AUTH_MODE=token: Ray sends the token (~/.ray/auth_token) to an address it is given only then"
    else:
        fix = "give this process the cluster's token (~/.ray/auth_token, RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH)"
    return f"{text}: the cluster uses token authentication and refused this process's token; {fix}"


def run_tasks(pipeline, tasks, out_dir, collect, summary, *, address=None, max_retries=MAX_RETRIES) -> None:
    """Run the planned ``tasks`` on Ray and pass each result to ``collect`` in plan order.

    Parameters
    ----------
    pipeline : Transform
        The prepared pipeline (banks loaded at the rates the inputs need).
    tasks : list
        The plan's tasks (arguments of :func:`noisegen.batch.work._process`).
    out_dir : str
        The output folder (for the temp files of killed attempts).
    collect : callable
        Records one ``(rel, results)``; may raise to stop the run (a full disk).
    summary : AugmentSummary
        ``workers`` is set to the cluster's CPU count.
    address : str or None
        A Ray cluster to join (``ray start --head`` prints it); ``None``
        starts a local instance (or uses the one this process already joined).
    """
    ray = import_ray()
    started = _connect(ray, address)
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        summary.workers = cpus
        remote = ray.remote(max_retries=max_retries, num_cpus=1)(_remote_process)
        box = [ray.put(dumps_anywhere(pipeline))]  # a task may run on another machine, without the cache files
        size = max(1, min(_MAX_GROUP, len(tasks) // (cpus * _GROUPS_PER_CPU)))
        groups = [tasks[i:i + size] for i in range(0, len(tasks), size)]  # consecutive: plan order kept
        # a run that started Ray ends its job with ray.shutdown, which stops the tasks in flight; cancelling
        # them first only risks Ray's race of a cancel with a reply on its way (the driver aborts in C++:
        # "Tried to complete task that was not pending", exit 1 and a stack dump instead of Ctrl-C's 130)
        _drive(ray, remote, box, groups, collect, cpus * _IN_FLIGHT_PER_CPU, cancel=not started)
    finally:
        try:
            if started:
                ray.shutdown()  # (first: it stops the tasks still in flight, whose temp files go next)
        finally:
            cleanup_temps(out_dir, tasks)


def _drive(ray, remote, box, groups, collect, window, *, cancel=True) -> None:
    """Keep ``window`` Ray tasks (groups of planned tasks) in flight; hand results to ``collect`` in plan order.

    Stopped early, it cancels the tasks still in flight when ``cancel`` (else the caller's ray.shutdown
    stops them)."""
    pending: dict = {}  # ref -> (group index, index of its first task in the group, its tasks)
    done: dict = {}  # group index -> its tasks' results (None while running), waiting for the groups before it
    submitted = flushed = 0
    try:
        while flushed < len(groups):
            while submitted < len(groups) and len(pending) < window:
                done[submitted] = [None] * len(groups[submitted])
                pending[remote.remote(box, groups[submitted])] = (submitted, 0, groups[submitted])
                submitted += 1
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i, start, part = pending.pop(ref)
                results = _results(ray, ref)
                if isinstance(results, str) and len(part) > 1:
                    # Ray gave up (its worker died every time): one input may have killed it, so each
                    # input again on its own, and only the one that does is recorded as failed
                    for k, task in enumerate(part):
                        pending[remote.remote(box, [task])] = (i, start + k, [task])
                    continue
                if isinstance(results, str):
                    task = part[0]
                    results = [(task[3], [{"ok": False, "input": task[3], "output": None, "error": results}])]
                done[i][start:start + len(part)] = results
            while flushed < submitted and all(r is not None for r in done[flushed]):
                for result in done.pop(flushed):
                    collect(result)
                flushed += 1
    finally:
        for ref in pending if cancel else ():  # stopped early (a full disk, Ctrl-C): nothing more is to be written
            ray.cancel(ref)


def _results(ray, ref):
    """The task's ``[(rel, results)]``, or Ray's error in one line when Ray gave up on it."""
    try:
        results, caught = ray.get(ref)
    except ray.exceptions.RayError as exc:
        return "on Ray: " + _one_line(exc).split("\n", 1)[0][:500]
    work.warn_again(caught)  # as a local worker's are: through this process's filters, at the caller's line
    return results


def cleanup_temps(out_dir: str, tasks) -> int:
    """Remove the temp files that killed attempts left for the outputs of ``tasks``; returns how many.

    Only the folders of those outputs are listed, and only their temps removed.
    """
    by_folder: dict = {}
    for task in tasks:
        for job in task[4]:
            folder, name = os.path.split(os.path.join(out_dir, job["output"]))
            by_folder.setdefault(folder, set()).add(name)
    removed = 0
    for folder, names in by_folder.items():
        try:
            entries = os.listdir(folder)
        except FileNotFoundError:
            continue
        names = names | {stem_hash(name) for name in names}  # a long name's temps carry its hash
        for entry in entries:
            if entry.startswith(".") and _owner(entry) in names:
                os.unlink(os.path.join(folder, entry))
                removed += 1
    return removed


def _owner(entry: str):
    """The output name (or its :func:`stem_hash`) whose temporary file ``entry`` is, else None."""
    m = _TMP_RE.match(entry)
    if m is not None:
        return m.group("base") or m.group("hash")
    m = _TAR_TMP_RE.match(entry)  # a tar of --output-format webdataset
    return None if m is None else m.group("tar")


def check_engine(engine, ray_address=None) -> str:
    """``engine`` checked: ``"local"`` or ``"ray"`` (then Ray must import); ``ray_address`` only with ``"ray"``."""
    if engine not in ("local", "ray"):
        raise ParameterError(f"engine must be 'local' or 'ray', got {engine!r}")
    if ray_address is not None:
        if engine != "ray":
            raise ParameterError(f"ray_address {ray_address!r} needs engine='ray', got engine={engine!r}")
        if not isinstance(ray_address, str) or not ray_address.strip():
            raise ParameterError(f"ray_address must be a non-empty string such as 'head-node:6379', got {ray_address!r}")
    if engine == "ray":
        import_ray()
    return engine
