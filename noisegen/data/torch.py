"""PyTorch adapter for :class:`noisegen.AugmentStream` (torch is optional).

``import noisegen`` never imports torch; this module imports it when its
names are first used::

    from noisegen.torch import AugmentDataset, collate
    loader = torch.utils.data.DataLoader(
        AugmentDataset(stream), batch_size=32, collate_fn=collate, num_workers=2
    )
    for epoch in range(n_epochs):
        for batch in loader:          # {"samples": (32, T) float32 tensor, "lengths": ..., ...}
            ...

Each DataLoader worker (and each distributed rank) takes its own share of
the items (:class:`~noisegen.AugmentStream` reads
``torch.utils.data.get_worker_info()``), so every item is produced exactly
once per epoch and the set of batches' chunks is the same for any
``num_workers``.

Epochs. Each ``iter(loader)`` is the stream's next pass (of ``epochs``
epochs, one by default): the k-th iteration produces epochs ``e0 + k *
epochs`` onwards, where ``e0`` is where the stream stood when the dataset
was made (or was last moved, see below; a dataset made per epoch goes on after the epochs
an earlier one's workers began), whatever ``num_workers`` and with or without
``persistent_workers``. The count is shared with the workers through a few
words of shared memory. ``dataset.set_epoch(e)`` (or ``stream.set_epoch(e)``) makes the next iteration
epoch ``e`` (and the ones after it follow on), e.g. to repeat or skip
epochs. A stream restored with :meth:`~noisegen.AugmentStream.load_state_dict`,
before or after the dataset is made, finishes its interrupted pass first,
from the next ``iter(loader)``, with any ``num_workers`` (the state is
shared with persistent workers too; a state saved with ``num_workers=0``
resumes under workers, which share its item's remaining chunks out). With
``epochs=None`` (endless) the k-th iteration starts at epoch ``e0 + k``.
A generator source is read by the first ``iter(loader)`` only (each worker
reads it through and keeps its share); later iterations yield nothing, with
any ``num_workers``, as the stream itself does once the generator is spent.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import weakref

from .._core.errors import NoisegenError, ParameterError
from .._core.validation import check_bool, check_int
from .batch import collate as _stack
from .state import MAX_EPOCHS
from .stream import AugmentStream

__all__ = ["AugmentDataset", "collate"]

_CLASS = None


def _dataset_class():
    global _CLASS
    if _CLASS is None:
        try:
            from torch.utils.data import IterableDataset
        except ImportError as exc:
            raise ImportError(f'noisegen.torch needs PyTorch: pip install "noisegen[torch]" ({exc})') from exc

        class AugmentDataset(IterableDataset):
            """An ``IterableDataset`` over an :class:`~noisegen.AugmentStream`.

            Parameters
            ----------
            stream : AugmentStream
            batch_size : int or None
                None yields :class:`~noisegen.Chunk` s (batch them with the
                DataLoader's ``batch_size`` and ``collate_fn=collate``); an
                int yields ready batches from ``stream.batches`` (use the
                DataLoader with ``batch_size=None``).
            drop_last : bool
                With ``batch_size``: leave out each pass's last batch when it
                is short (as ``stream.batches`` does), and count it out of ``len()``.

            Notes
            -----
            Each ``iter(loader)`` is the stream's next pass (its next
            ``epochs`` epochs), the same for any ``num_workers`` and with or
            without ``persistent_workers``; :meth:`set_epoch` picks the next
            one explicitly. See the module notes.
            """

            def __init__(self, stream, *, batch_size=None, drop_last=False):
                super().__init__()
                if not isinstance(stream, AugmentStream):
                    raise ParameterError(f"stream must be an AugmentStream, got {type(stream).__name__}")
                if stream.device != "cpu":  # its batches are device arrays, made where CUDA is set up, not in workers
                    raise ParameterError(f"stream must have device='cpu' for an AugmentDataset, got device="
                                         f"{stream.device!r}; iterate stream.batches(batch_size) in the main "
                                         "process for GPU batches")
                self.stream = stream
                # checked here: len(loader) divides by it, and the workers would fail on it one by one
                self.batch_size = None if batch_size is None else check_int(batch_size, "batch_size", low=1)
                self.drop_last = check_bool(drop_last, "drop_last")
                self._passes = _PassCounter(stream)
                stream._state_guards.append(self._passes)  # its state_dict() here is stale once workers have run
                weakref.finalize(self, self._passes.retire, stream)  # (the stream outlives datasets made per epoch)

            def set_epoch(self, epoch: int) -> None:
                """Make the next ``iter(loader)`` start at ``epoch`` (the ones after it follow on).

                Call it in the main process: in a DataLoader worker (``worker_init_fn``) it raises
                NoisegenError, since the loader's count of epochs, which each worker follows, is kept there.
                """
                from torch.utils.data import get_worker_info

                if get_worker_info() is not None:  # (its copy moved, then the worker's iter() put it back: silently)
                    raise NoisegenError(
                        f"dataset.set_epoch({epoch!r}) was called in DataLoader worker {get_worker_info().id} (in "
                        "worker_init_fn, or on a worker's copy of the dataset), where it cannot move the loader: "
                        "each worker starts where the main process's count of epochs stands. Call "
                        "dataset.set_epoch(e) in the main process, before iter(loader)")
                self.stream.set_epoch(epoch)  # (which restarts the count of every dataset over the stream)

            def __len__(self):
                """Chunks (or batches, with ``batch_size``) the next ``iter(loader)`` yields on this rank.

                All workers of the rank together (each rank takes the same
                items whatever ``num_workers``); see
                :meth:`AugmentStream.__len__ <noisegen.AugmentStream.__len__>`,
                which raises TypeError where the length is unknowable. With
                ``batch_size`` and several workers each worker ends on its own
                partial batch, so the count holds for ``num_workers`` <= 1.
                """
                shard, n_shards = self.stream.shard()
                n = self.stream._pass_length(shard, n_shards, epoch=self._passes.next_epoch(self.stream))
                if self.batch_size is None:
                    return n
                return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

            def __iter__(self):
                # Runs where the items are made: in the main process with
                # num_workers=0, else in each worker (on its own copy).
                self._passes.begin(self.stream)
                return self._generate()

            def _generate(self):
                if self.batch_size is None:
                    yield from self.stream
                else:
                    for batch in self.stream.batches(self.batch_size, drop_last=self.drop_last):
                        yield collate(batch.chunks)

        AugmentDataset.__module__ = __name__
        AugmentDataset.__qualname__ = "AugmentDataset"  # picklable through __getattr__
        _CLASS = AugmentDataset
    return _CLASS


class _PassCounter:
    """Which pass over the stream each ``iter(loader)`` is, shared by the main process and its workers.

    Workers run on copies of the dataset (new copies for every ``iter(loader)``
    unless ``persistent_workers=True``), so the main process's copy never
    sees an iteration: the count lives in a few int64 words of shared memory.
    Word 0 packs the last iteration's token and index, word 1 is the epoch of
    index 0, word 2 says whether index 0 resumes a pass at the point that
    words 3-7 hold (the stream's key, epoch, position, chunk and pass end + 1,
    0 for none: where the main process's stream stood when the dataset was
    made, or was moved to since, which persistent workers' copies would not
    see), word 8 counts the iterations ever begun (never restarted) and word 9
    is the one that reads a read-once source (a generator: 0 until then), and
    then one word per worker id holds the last index that worker joined.

    Every worker calls ``iter(dataset)`` once per iteration, when it starts
    (or is told to resume, with persistent workers). The workers of one
    iteration share a token: the loader's base seed (``seed - id`` of the
    worker info, drawn anew for each non-persistent iteration) hashed with
    the number of ``iter`` calls on their copy (which tells apart the
    iterations of persistent workers). A worker that sees a new token, or
    the token of an iteration it already joined (a loader reseeded to the
    same base seed), starts the next index; the others join it. Each word is
    one aligned 8-byte store, so no half-written word is ever read, and
    workers that start the same iteration at once compute the same index.
    """

    _INDEX_BITS = 24
    _SERIAL, _READER = 8, 9
    _HEAD = 10
    _SLOTS = 256  # worker ids beyond this rely on the token alone
    retired = False  # its dataset has gone (see retire)

    def __init__(self, stream):
        import torch

        self._shared = torch.zeros(self._HEAD + self._SLOTS, dtype=torch.int64).share_memory_()
        self._calls = 0  # iter() calls on this copy of the dataset
        self._make_lock()
        self.moved(stream)
        self._follow(stream)

    def _make_lock(self):
        # Workers read-modify-write the words: a file lock makes that one step.
        self._pid = os.getpid()
        fd, self._lock_path = tempfile.mkstemp(prefix="noisegen-passes-", suffix=".lock")
        os.close(fd)
        weakref.finalize(self, _unlink, self._lock_path)

    def __deepcopy__(self, memo):
        # A deep copy of a tensor is not in shared memory: the workers' counts would be lost, and the
        # copy's loader would repeat its first epoch. The copy gets shared words of its own.
        twin = _PassCounter.__new__(_PassCounter)
        memo[id(self)] = twin
        twin._shared, twin._calls = self._shared.clone().share_memory_(), self._calls
        twin._make_lock()
        return twin

    @property
    def _words(self):
        return self._shared.numpy()  # a view of the shared memory

    def moved(self, stream):
        """The next iteration is index 0, from where ``stream`` now stands: made, set_epoch or load_state_dict
        in the main process (in a worker, its copy moves for its own iteration only; where that worker reads
        this counter's dataset, its iter() would put the copy back where the loader stands: refused)."""
        import torch

        info = torch.utils.data.get_worker_info()
        if info is not None:
            if getattr(info.dataset, "_passes", None) is self:  # (stream.set_epoch / load_state_dict in worker_init_fn)
                raise NoisegenError(
                    f"the stream was moved (set_epoch or load_state_dict) in DataLoader worker {info.id}, where it "
                    "cannot move the loader: each worker starts where the main process's count of epochs stands. "
                    "Call dataset.set_epoch(e) or stream.load_state_dict(state) in the main process, before "
                    "iter(loader)")
            return
        if not self.retired:
            self._share_reported(stream)  # (stream.skipped here names the workers' skips too: it was empty)
        words = self._words
        first, resumed = stream._pass_origin()
        key = stream._key - (1 << 64) if stream._key >= 1 << 63 else stream._key  # its 64 bits, as an int64
        end = 0 if stream._pass_end is None else stream._pass_end + 1
        words[self._HEAD:] = 0
        words[:self._SERIAL] = [0, first, int(resumed), key, stream._epoch, stream._position, stream._chunk, end]

    def _follow(self, stream):
        """Start past what the workers of earlier datasets over ``stream`` did: they advanced their own
        copies of it, and read their copies of a generator source, so the stream here still stands where
        they started (a dataset made per epoch repeated the first epoch, and read the generator again,
        with DataLoader workers, and moved on without them)."""
        guards, words = stream._state_guards, self._words
        ahead = [g.next_epoch(stream) for g in guards if int(g._words[0]) >> self._INDEX_BITS]
        if ahead and max(ahead) > words[1]:  # (the stream moved on here since, by itself: it stands right)
            words[1], words[2] = max(ahead), 0
        if any(g._words[self._READER] for g in guards):
            words[self._READER] = -1  # read: no iteration of this dataset is its reader

    def _next_index(self, words, read_once):
        """(index of this iteration, whether it finds a read-once source already read by an earlier one)."""
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            index = self._next_index_locked(words)
            if read_once and not words[self._READER]:
                words[self._READER] = words[self._SERIAL]
            return index, read_once and words[self._READER] != words[self._SERIAL]

    def _next_index_locked(self, words):
        import torch

        info = torch.utils.data.get_worker_info()
        mask = (1 << self._INDEX_BITS) - 1
        last_token, last = int(words[0]) >> self._INDEX_BITS, (int(words[0]) & mask) - 1
        if info is None:  # the main process: every iter() is a new iteration
            words[0], words[self._SERIAL] = last + 2, words[self._SERIAL] + 1
            return last + 1
        token = (hash((int(info.seed) - int(info.id), self._calls)) & ((1 << 38) - 1)) | 1
        slot = self._HEAD + int(info.id) if info.id < self._SLOTS else None
        joined = None if slot is None else int(words[slot]) - 1
        if token == last_token and (joined is None or joined < last):
            index = last  # another worker of this iteration got here first
        else:
            index = last + 1
            words[0] = (token << self._INDEX_BITS) | (index + 1)
            words[self._SERIAL] += 1
        if slot is not None:
            words[slot] = index + 1
        return index

    def next_epoch(self, stream):
        """Epoch where the next iteration starts (None: it continues the stream as it stands)."""
        words = self._words
        index = int(words[0]) & ((1 << self._INDEX_BITS) - 1)  # the last index + 1 (see _next_index)
        if index == 0 and words[2]:
            return None
        return int(words[1]) + index * (stream.epochs or 1)

    def check_state_here(self, stream):
        """NoisegenError where the stream's own copy is not where the loader stands: in the main process
        once DataLoader workers have run an iteration (each advanced its copy; a worker's token is set)."""
        import torch

        if torch.utils.data.get_worker_info() is None and int(self._words[0]) >> self._INDEX_BITS:
            raise NoisegenError(
                "stream.state_dict() cannot say where a DataLoader with num_workers > 0 stands: the workers "
                "advance their own copies of the stream. Resume at an epoch instead: dataset.set_epoch(e) "
                f"(the next iteration starts at epoch {self.next_epoch(stream)}), or use num_workers=0 to "
                "resume at any chunk")

    def retire(self, stream):
        """Its dataset has gone: let go of the shared words and the lock file, and of ``stream`` unless
        workers advanced their copies (state_dict() refuses until set_epoch / load_state_dict; one gone
        counter says so). The stream kept every counter, each holding a file descriptor and a file in
        /tmp, and pickled them all to each worker: a dataset made per epoch ran out of descriptors."""
        import torch

        if os.getpid() != self._pid:  # a forked worker's copy of the dataset going
            return
        self._shared, self.retired = torch.from_numpy(self._words.copy()), True  # (private words)
        if getattr(stream._reported, "path", None) == self._lock_path:
            # take in the workers' skips while their record is there: else stream.skipped forgot them, and
            # the next dataset's workers warned of them again
            stream._reported._catch_up()
        _unlink(self._lock_path)
        guards = stream._state_guards
        stale = [g for g in guards if g.retired and int(g._words[0]) >> self._INDEX_BITS]  # (token: workers ran)
        # a new list, not changed in place: a collection may run this inside the stream's loop over it
        stream._state_guards = [g for g in guards if not g.retired] + (stale and [self if self in stale else stale[-1]])

    def _share_reported(self, stream):
        """Make ``stream`` (this process's copy) record the sources it skips in the lock file shared
        by the main process and every worker (:class:`_Reported`)."""
        if getattr(stream._reported, "path", None) != self._lock_path:
            stream._reported = _Reported(self._lock_path, stream._reported)

    def begin(self, stream):
        """Set ``stream`` (this process's copy) to the start of the next pass."""
        words = self._words
        index, spent = self._next_index(words, stream._items is None and iter(stream._iterable) is stream._iterable)
        self._calls += 1
        self._share_reported(stream)  # a bad file: one warning, whatever the workers
        if spent:  # a generator is read by one iteration: a worker's copy of it, unread, is not read again
            stream._iterable = iter(())
        if index == 0 and words[2]:  # the first pass continues a restored or interrupted stream
            key, epoch, position, chunk, end = (int(w) for w in words[3:self._SERIAL])
            _place(stream, key % (1 << 64), epoch, position, chunk, end - 1 if end else None)
        else:  # (past MAX_EPOCHS: ParameterError, as from set_epoch)
            epoch = check_int(int(words[1]) + index * (stream.epochs or 1), "epoch", low=0, high=MAX_EPOCHS)
            _place(stream, stream._key, epoch, 0, 0, None)


class _Reported:
    """The sources a stream has warned it skips (:func:`noisegen.data.loading.report`), shared by the main
    process and its DataLoader workers: lines of JSON strings appended to the pass counter's lock file.

    Each worker's copy of the stream kept a set of its own, and workers that are not persistent start
    every epoch from the main process's: a bad file was warned of again in every epoch, and by each
    persistent worker it came to, where a stream warns once.
    """

    def __init__(self, path, reported=()):
        self.path, self._seen, self._read_to = path, set(), 0
        for source in reported:  # (warned of before this dataset was iterated)
            if source not in self:
                self.add(source)

    def _catch_up(self):
        """Take in the lines appended since the last look (each is read once: many bad rows stay cheap)."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._read_to)
                data = fh.read()
        except OSError:  # (the lock file goes with the main process's dataset)
            return
        end = data.rfind(b"\n") + 1  # (a line being written: not yet)
        self._seen.update(json.loads(line) for line in data[:end].splitlines())
        self._read_to += end

    def __iter__(self):
        self._catch_up()
        return iter(set(self._seen))

    def __len__(self):
        self._catch_up()
        return len(self._seen)

    def __contains__(self, source):
        if source not in self._seen:
            self._catch_up()
        return source in self._seen

    def add(self, source):
        self._seen.add(source)
        try:  # not made again once the main process's dataset has gone (and its lock file with it)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError:
            return
        line = (json.dumps(source) + "\n").encode()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # whole lines, beside the pass counter's own use of the lock
            size = os.fstat(fd).st_size
            try:
                if os.write(fd, line) != len(line):
                    raise OSError("short write")
            except OSError:  # a full /tmp: a record, not the training run (its own warning is given)
                os.ftruncate(fd, size)  # (no half line for the others to read)
        except OSError:
            pass
        finally:
            os.close(fd)


def _place(stream, key, epoch, position, chunk, pass_end):
    """Set this process's copy of the stream (not stream.set_epoch: that would restart the shared count)."""
    if key != stream._key:  # a persistent worker's copy of an rng=None stream that took a state's key since
        stream._drawn_sizes = {}
    stream._key, stream._epoch, stream._position, stream._chunk, stream._pass_end = key, epoch, position, chunk, pass_end
    stream._moves += 1  # (an iteration of it under way is left behind, as by set_epoch)


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def __getattr__(name):
    if name == "AugmentDataset":
        return _dataset_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def collate(chunks) -> dict:
    """Stack :class:`~noisegen.Chunk` s into torch tensors (the DataLoader's ``collate_fn``).

    ``chunks`` is the list of chunks of one batch.

    Returns a dict: ``samples`` (B, T) or (B, channels, T) float32 tensor
    (zero-padded), ``lengths`` (B,) int64 tensor, and the lists ``sources``,
    ``starts``, ``epochs``, ``items``, ``params`` and ``metadata`` (each
    chunk's manifest fields, ``{}`` for files and arrays); with the stream's
    ``target=``, also ``target``, a tensor shaped as ``samples``.
    """
    import torch

    batch = _stack(chunks)
    out = {
        "samples": torch.from_numpy(batch.samples),
        "lengths": torch.from_numpy(batch.lengths),
        "sources": [c.source for c in batch.chunks],
        "starts": [int(c.start) for c in batch.chunks],
        "epochs": [int(c.epoch) for c in batch.chunks],
        "items": [int(c.item) for c in batch.chunks],
        "params": [c.params for c in batch.chunks],
        "metadata": batch.metadata,
    }
    if batch.target is not None:
        out["target"] = torch.from_numpy(batch.target)
    return out
