"""AugmentStream: read, resample, augment and chunk a corpus for training.

::

    stream = AugmentStream("data/speech", pipeline, sample_rate=16000, chunk_s=2.0, rng=0)
    for chunk in stream:               # Chunk(samples, sample_rate, source, start, length, params, ...)
        ...
    for batch in stream.batches(32):   # Batch(samples (32, T) float32, lengths, chunks)
        ...

Determinism. Every item (file or array) of epoch ``e`` is augmented with the
key ``derive_key(seed_key, e, item_index)``; the order of an epoch is a
permutation drawn from ``(seed_key, e)``. Nothing depends on which worker or
rank produces an item, so the multiset of chunks is the same for any number
of DataLoader workers and ranks.

Sharding. The items of an epoch, in their (shuffled) order, are dealt out
round-robin: position ``j`` belongs to shard ``j % n_shards``, where the
shards are ``worker_id * world_size + rank`` over ``world_size *
num_workers``: rank ``r`` gets positions ``j % world_size == r`` whatever
the number of workers (which then share them round-robin), so a rank's
length does not depend on ``num_workers``. Tar shards are dealt whole
instead: the ``k``-th tar of the epoch's order goes to shard ``k % n_shards``
(:mod:`noisegen.data.order`). The rank and world size are the explicit arguments, else
``torch.distributed`` when it is initialised; the worker comes from
``torch.utils.data.get_worker_info()``. Torch is only consulted when it has
already been imported: this module never imports it.

Memory. Files are read one at a time, when their turn comes; only the
current item's audio and chunks are held. A file over 60 s is not even held
whole: it is augmented in blocks and chunked as it comes, with the same chunks
(:mod:`noisegen.data.long_items`), but with ``chunk_s=None``, a ``target`` and a pipeline,
``device="cuda"``, in a tar, and where the README's "Long recordings" says.

GPU. ``device="cuda"`` reads, resamples and chunks on the host as above,
draws each item's parameters on the host from the same key, and augments a
whole batch on the GPU with :func:`noisegen.cuda.augment_batch` (a few
launches per batch; use :meth:`AugmentStream.batches`). Only pipelines of
AddColoredNoise, Gain, BandPassFilter and SpeedPerturb (alone or in a
Compose) can run there; see :func:`cuda_batch_params`. Each chunk is
augmented on its own there (SNR over the chunk, a speed change changes its
length), so with ``chunk_s`` the chunks differ from the CPU path's, which
augments the whole item before cutting it; whole items are the same.
"""

from __future__ import annotations

import numpy as np

from .._core.labels import about
from .._core.layout import layout_known
from .._core.validation import MAX_SAMPLES, check_bool, check_choice, check_int, check_real, check_sample_rate, show_value
from .._core.errors import ParameterError
from .._core.rng import as_generator, derive_key, resolve_key
from ..transforms.base import Transform
from ..transforms.target import check_target_mode
from ..cuda.stream import cuda_batch_params, cuda_stages
from .batch import (MAX_CHUNK_SAMPLES, Batch, Chunk, chunk_samples, collate, chunk_starts, cpu_batches,  # noqa: F401
                    cuda_batches, cut_chunk)
from .length import Batches, counts_drawn, item_chunks
from .items import _FileItems, list_items  # noqa: F401  (_FileItems: tests spy on its load)
from .order import epoch_order
from .loading import LONG, check_unread, iterable_entries, load_whole, skipped, too_wide
from .long_items import blockwise_limit, long_chunks, long_source
from ..audio.blocks import FileBlocks
from .state import MAX_EPOCHS, check_state, distributed_rank, left_behind, source_fingerprint, torch_shard

__all__ = ["AugmentStream", "Chunk", "Batch", "cuda_batch_params"]


class AugmentStream:
    """Stream augmented, fixed-length chunks of a corpus, deterministically.

    Parameters
    ----------
    source : str, list of str, or iterable of arrays
        A folder (searched recursively for :data:`noisegen.audio.files.AUDIO_EXTENSIONS`), a non-empty list of
        paths (or a 1-D array of them: ``df["path"]``), a manifest (``.jsonl``/``.json``/``.ndjson``: NeMo's
        ``audio_filepath``, ``offset``, ``duration``; ``.csv``/``.tsv``: ``path``, ``offset_s``,
        ``duration_s``; ``.txt``/``.lst``/``.list``: one path a line; ``.scp``: Kaldi's ``key path`` lines;
        each also gzipped, ``.jsonl.gz``; the other fields become each chunk's ``metadata``,
        see :mod:`noisegen.data.manifest`), WebDataset tar shards (a ``.tar`` path, a list of them or a
        brace pattern such as ``"shards/train-{000000..000009}.tar"``; see :mod:`noisegen.data.shards`),
        a non-empty sequence of float arrays (or a 1-D object array of them; at ``sample_rate``, or ``(array,
        sample_rate)`` pairs, or Hugging Face audio values: ``ds["audio"]``, dicts of ``"array"`` and
        ``"sampling_rate"`` or of ``"bytes"``/``"path"``, or decoders), or a one-pass iterable of such (which
        needs ``shuffle=False``; a generator also needs ``epochs=1``, and is read once: through
        :class:`noisegen.torch.AugmentDataset`, by the first ``iter(loader)`` only, whatever ``num_workers``).
    pipeline : Transform or None
        Applied to each whole item (None: no augmentation).
    sample_rate : int
        Everything is resampled to this rate (with :func:`noisegen.resample`).
    chunk_s : float or None
        Chunk duration, at most ``MAX_CHUNK_SAMPLES`` (2**26) samples (all channels together: with
        ``mono=False``, an item of more is reported and skipped); None: whole items.
    hop_s : float or None
        Distance between chunk starts (default ``chunk_s``: no overlap).
    rng : None, int or numpy.random.Generator
        Resolved once to the stream's seed key.
    shuffle : bool
        Visit the items of each epoch in a random order.
    epochs : int or None
        Epochs per pass over the stream, at most ``MAX_EPOCHS`` (2**31 - 1;
        None: endless). Iterating the stream again continues with the next
        epochs; see :meth:`set_epoch`.
    rank, world_size : int or None
        Distributed sharding (``world_size`` at most 2**31 - 1); both None
        reads torch.distributed when it is initialised.
    mono : bool
        Mix files down to mono (``(n,)`` chunks) or keep their channels.
    target : {None, "clean", "early"}
        Give each chunk a paired ``target`` (``Chunk.target``, ``Batch.target``):
        the same speech with the pipeline's shared changes (gain, speed,
        pitch, stretch, shift, polarity, level) applied identically and none
        of its degradations (noise, reverberation, codecs, filters, clipping,
        masks); ``"early"`` keeps the first 50 ms of reverberation after the
        direct path. Aligned sample for sample with ``samples`` (see
        :mod:`noisegen.transforms.target`). CPU only.
    device : {"cpu", "cuda"}
        Where the pipeline runs. ``"cuda"`` augments each batch of
        :meth:`batches` on the GPU (``Batch.samples`` is then a numba device
        array); it needs ``mono=True`` and a pipeline that
        :func:`cuda_batch_params` supports (checked here, ParameterError
        naming the unsupported transform otherwise).

    Notes
    -----
    Unreadable or empty files and bad manifest rows (named by the
    manifest's path and the row's line) are reported once (NoisegenWarning)
    and skipped (after 20 such warnings, one more says the rest are skipped
    unnamed; :attr:`skipped` lists them all); so are audio names in a source folder that are not regular
    files (FIFO, socket, dangling symlink: never opened) and sub-folders
    that cannot be listed, when the stream is made. One iteration at a time per stream object: an
    iteration resumed after :meth:`set_epoch`, :meth:`load_state_dict` or a newer iteration moved
    the stream raises NoisegenError. ``len(stream)`` is the number of chunks its next iteration
    yields (see :meth:`__len__`).

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen import AugmentStream, Gain
    >>> arrays = [np.ones(2500, dtype=np.float32), np.ones(1200, dtype=np.float32)]
    >>> stream = AugmentStream(arrays, Gain(p=1.0), sample_rate=1000, chunk_s=1.0, rng=0, shuffle=False)
    >>> len(stream)
    5
    >>> [(c.source, c.start, c.length) for c in stream]
    [('array:0', 0, 1000), ('array:0', 1000, 1000), ('array:0', 2000, 500), ('array:1', 0, 1000), ('array:1', 1000, 200)]
    """

    def __init__(self, source, pipeline, *, sample_rate, chunk_s=None, hop_s=None, rng=0, shuffle=True, epochs=1,
                 rank=None, world_size=None, mono=True, target=None, device="cpu"):
        if pipeline is not None and not isinstance(pipeline, Transform):
            raise ParameterError(f"pipeline must be a noisegen Transform or None, got {type(pipeline).__name__} {show_value(pipeline)}")
        self.pipeline = pipeline
        self.sample_rate = check_sample_rate(sample_rate)
        rate = self.sample_rate  # a chunk is allocated whole (at most MAX_CHUNK_SAMPLES); a hop past any array is no hop
        self.chunk_s = check_real(chunk_s, "chunk_s", low=0.0, high=MAX_CHUNK_SAMPLES / rate, low_inclusive=False, allow_none=True)
        self.hop_s = check_real(hop_s, "hop_s", low=0.0, high=MAX_SAMPLES / rate, low_inclusive=False, allow_none=True)
        if self.hop_s is not None and self.chunk_s is None:
            raise ParameterError("hop_s needs chunk_s (whole items have no hop)")
        self._chunk_n = chunk_samples(self.chunk_s, "chunk_s", self.sample_rate)
        self._hop_n = self._chunk_n if self.hop_s is None else chunk_samples(self.hop_s, "hop_s", self.sample_rate)
        self.shuffle = check_bool(shuffle, "shuffle")
        self.epochs = None if epochs is None else check_int(epochs, "epochs", low=0, high=MAX_EPOCHS)
        if (rank is None) != (world_size is None):
            raise ParameterError(f"rank and world_size go together, got rank={rank!r}, world_size={world_size!r}")
        if world_size is not None:
            world_size = check_int(world_size, "world_size", low=1, high=2**31 - 1)  # shards x workers: int64
            rank = check_int(rank, "rank", low=0, high=world_size - 1)
        self.rank, self.world_size = rank, world_size
        self.mono = check_bool(mono, "mono")
        self.device = check_choice(device, "device", ("cpu", "cuda"))
        self.target = check_target_mode(target, "target")
        if self.target is not None and self.device != "cpu":
            raise ParameterError(f"target={self.target!r} needs device='cpu' (the GPU batch path has no targets)")
        self._cuda_threads = None  # threads per block of the CUDA launches (None: the default)
        if self.device == "cuda":
            if not self.mono:
                raise ParameterError("device='cuda' augments (B, T) batches: it needs mono=True")
            cuda_stages(pipeline)
        self._items, self._iterable = list_items(source)
        if self._iterable is not None:
            if self.shuffle:
                raise ParameterError("shuffle=True needs a folder, a list of paths or a sequence of arrays; "
                                     "pass shuffle=False for a one-pass iterable source")
            if iter(self._iterable) is self._iterable and self.epochs != 1:
                raise ParameterError(f"a generator source can be read once: epochs must be 1, got {epochs!r}")
        self._key = resolve_key(rng)
        self._key_given = rng is not None  # rng=None: a resumed state brings its key
        self._epoch = 0      # next epoch to produce
        self._position = 0   # next position in that epoch's order
        self._chunk = 0      # chunks of that item already produced
        self._taken, self._held = 0, None  # a one-shot source's entries taken, its last one (loading.iterable_entries)
        self._pass_end = None  # epoch where the pass under way stops (None: no pass under way)
        self._moves = 0  # bumped by set_epoch, load_state_dict and each iteration's start (see _iter)
        self._sender_rank = None  # (rank, world_size) of the process that pickled this stream
        self._state_guards = []  # the pass counters of the AugmentDatasets over this stream
        self._reported: set[str] = set()
        self._sizes = None  # samples of each item, from headers (see length.item_sizes)
        self._source_id = None  # the items' fingerprint, made when a state first needs it (reads every array)
        self._drawn_sizes = {}  # epoch -> {item: samples after a length-changing pipeline}
        if pipeline is not None:
            pipeline.prepare(self.sample_rate)  # load noises/RIRs once, before workers fork

    # -- bookkeeping -----------------------------------------------------------
    @property
    def n_items(self) -> int | None:
        """Number of items per epoch (None for a one-pass iterable source)."""
        return None if self._items is None else len(self._items)

    def set_epoch(self, epoch: int) -> None:
        """Start the next iteration at ``epoch`` (at most ``MAX_EPOCHS``; from its first item) for ``epochs`` epochs."""
        self._epoch = check_int(epoch, "epoch", low=0, high=MAX_EPOCHS)  # a DataLoader shares it as an int64
        self._position = self._chunk = 0
        self._pass_end = None
        self._moved()

    def _moved(self):
        """Leave an iteration under way behind (see _iter); datasets over the stream start where it now stands."""
        self._moves += 1
        for guard in self._state_guards:  # (noisegen.torch: else their next iter(loader) would undo the move)
            guard.moved(self)

    def state_dict(self) -> dict:
        """Where the stream stands: resume with :meth:`load_state_dict`.

        Reflects every chunk yielded so far (in this process or shard; where
        DataLoader workers run the stream, NoisegenError: see
        :class:`noisegen.torch.AugmentDataset`). A
        plain dict of ints and a str (JSON-able): the stream's key, the epoch, the
        position in its order and the chunks of that item already yielded,
        the epoch where the pass under way stops, and what the state is only
        valid for (item count, sample rate, chunking, shuffle, mono, shard, and
        a fingerprint of the source: its items in their order).
        """
        for guard in self._state_guards:  # (noisegen.torch: DataLoader workers hold the state, not this copy)
            guard.check_state_here(self)
        return {"key": self._key, "epoch": self._epoch, "position": self._position, "chunk": self._chunk,
                "pass_end": self._pass_end, **self._identity()}

    def _identity(self) -> dict:
        """The settings a state is only valid for."""
        if self._source_id is None:
            self._source_id = source_fingerprint(self._items)
        return {"n_items": self.n_items, "sample_rate": self.sample_rate, "chunk_samples": self._chunk_n,
                "hop_samples": self._hop_n, "shuffle": self.shuffle, "mono": self.mono, "shard": list(self.shard()),
                "source": self._source_id}

    def load_state_dict(self, state: dict) -> None:
        """Continue exactly where the stream that gave ``state`` stopped.

        The next iteration yields exactly the chunks that stream had still to
        yield in its pass (then later iterations go on with the next
        epochs). ``state`` must come from :meth:`state_dict` of a stream over
        the same source (the same items in the same order) with the same ``rng``, ``sample_rate``, chunking,
        ``shuffle``, ``mono`` and shard (rank); anything else (another stream's or shard's state, a
        field out of range, such as a ``chunk`` past the chunks its item's header gives, or of the wrong type)
        raises ParameterError and
        leaves this stream unchanged. A stream built with ``rng=None`` takes
        the state's key.
        """
        loaded = check_state(state, self._identity(), self._key if self._key_given else None, self.epochs)
        check_unread(self, *loaded[1:4])  # (a generator source: a state behind it is refused)
        was = self._key, self._epoch, self._position, self._chunk, self._pass_end
        self._key, self._epoch, self._position, self._chunk, self._pass_end = loaded
        if loaded[0] != was[0]:  # rng=None takes the state's key: sizes drawn with the old one are stale
            self._drawn_sizes = {}
        try:
            self._resumed_skip(*self.shard())  # a chunk past its item's (from the header): refused now, not later
        except ParameterError:
            self._key, self._epoch, self._position, self._chunk, self._pass_end = was
            raise
        self._moved()

    def _pass_origin(self) -> tuple[int, bool]:
        """(epoch where the pass under way began, or where the next one begins; whether one is under way)."""
        if self._pass_end is not None:
            return self._pass_end - self.epochs, True
        return self._epoch, bool(self._position or self._chunk)

    def shard(self) -> tuple[int, int]:
        """``(shard_index, n_shards)`` of the calling process/worker."""
        worker_id, num_workers, rank, world = torch_shard()
        if self.world_size is not None:
            rank, world = self.rank, self.world_size
        elif world == 1 and self._sender_rank is not None:
            rank, world = self._sender_rank
        return worker_id * world + rank, world * num_workers

    def __getstate__(self):
        # A DataLoader worker started with "spawn" unpickles the stream where there is no
        # torch.distributed group: it keeps the rank of the process that sent it (or that process's own).
        state = self.__dict__.copy()
        here = distributed_rank()
        state["_sender_rank"] = None if self.world_size is not None else here if here[1] > 1 else self._sender_rank
        return state

    def order(self, epoch: int) -> np.ndarray:
        """Item indices of ``epoch`` in the order they are visited."""
        epoch = check_int(epoch, "epoch", low=0, high=(1 << 64) - 1)  # (not 1.5, "1", True; keys take it mod 2**64)
        if self._items is None:
            raise TypeError("a one-pass iterable source has no order: its items come as it gives them")
        return epoch_order(self._items, self._key, epoch, self.shuffle).items

    @property
    def skipped(self) -> list[str]:
        """The items skipped so far (a path, a manifest's path and row line, ``"array:N"``), sorted:
        the first :data:`~noisegen.data.loading.REPORT_LIMIT` of them are warned of one by one, the
        rest are only counted here (read through ``noisegen.torch.AugmentDataset``, its DataLoader
        workers' skips too)."""
        return skipped(self._reported)

    # -- length ------------------------------------------------------------------
    def __len__(self) -> int:
        """Chunks the next iteration yields on this shard, from where the stream stands.

        Counted without decoding audio: from the file headers, manifest
        offsets and durations, and array shapes (read once, then cached),
        at ``sample_rate`` (the resampled length), cut into chunks as the
        stream cuts them (``chunk_s``, ``hop_s``, a last partial chunk),
        over the epochs of the pass and this shard's items (its rank and,
        inside a DataLoader worker, its worker). With ``chunk_s`` and a
        pipeline that changes lengths (SpeedPerturb, TimeStretch,
        ApplyImpulseResponse with ``keep_tail=True``), chunks are cut from
        the augmented item: each item's parameters for the epoch are drawn
        from its length alone, with the key its iteration uses, and its
        output length follows from them (:meth:`Transform.output_length`),
        so the count stays exact. Items that cannot be read
        count nothing, as they yield nothing; a file whose header reads but
        whose audio decodes short of it (a FLAC or Ogg file cut short or
        damaged), does not decode at all, or turns out NaN or inf (only seen
        when it is read) is counted from its header and yields what decodes
        (fewer chunks, or none; none where ``mono=False`` makes its chunks too large, see
        ``chunk_s``). An MP3 counts the frames it decodes to (once per file, size and mtime).

        Raises
        ------
        TypeError
            The length is unknowable in advance: an endless stream
            (``epochs=None``) or a one-pass iterable source.
        """
        shard, n_shards = self.shard()
        return self._pass_length(shard, n_shards)

    def _pass_length(self, shard, n_shards, epoch=None):
        """Chunks of a pass on a shard: the rest of the pass under way (epoch None), or a fresh pass from ``epoch``."""
        self._check_countable()
        if epoch is None:
            first, position, skip = self._epoch, self._position, self._chunk
            end = self._pass_end if self._pass_end is not None else first + self.epochs
        else:
            first, position, skip, end = epoch, 0, 0, epoch + self.epochs
        total = 0
        for e in range(first, end):
            order = epoch_order(self._items, self._key, e, self.shuffle)
            mine = order.positions(shard, n_shards, position)  # as _epoch_items deals them
            counts = item_chunks(self, e, order.items[mine])
            total += int(counts.sum()) - (self._resumed_skip(shard, n_shards) if skip else 0)
            if e > first and self._same_every_epoch(n_shards):  # a whole epoch counted: the rest count as much
                return total + int(counts.sum()) * (end - e - 1)
            position = skip = 0
        return total

    def _resumed_skip(self, shard, n_shards) -> int:
        """Chunks of the item the stream stands in already yielded on this shard, counted from its header;
        ParameterError past its chunks, as iterating it would raise (an item that yields nothing skips nothing)."""
        if not self._chunk or self._items is None:
            return 0
        order = epoch_order(self._items, self._key, self._epoch, self.shuffle)
        mine = order.positions(shard, n_shards, self._position)[:1]
        if not mine.size or mine[0] != self._position:  # another shard's item: skipped whole, as _iter does
            return 0
        n = int(item_chunks(self, self._epoch, order.items[mine])[0])
        if self._chunk > n > 0:
            raise self._past_item(self._chunk, n, int(order.items[self._position]), self._epoch)
        return min(self._chunk, n)

    def _same_every_epoch(self, n_shards) -> bool:
        """Whether every whole epoch gives this shard as many chunks: the same items (one shard, or no
        shuffling) at the same sizes (a pipeline that keeps lengths, or whole items on the CPU)."""
        return not counts_drawn(self) and (n_shards == 1 or not self.shuffle)

    def _check_countable(self):
        why = ("the stream is endless (epochs=None)" if self.epochs is None
               else "a one-pass iterable source has no length (pass a list)" if self._items is None else None)
        if why is not None:
            raise TypeError(f"len(AugmentStream) is unknown: {why}")

    # -- iteration ---------------------------------------------------------------
    def __iter__(self):
        if self.device == "cuda":
            raise ParameterError("device='cuda' augments whole batches on the GPU: iterate stream.batches(batch_size), "
                                 "not the stream's chunks")
        return self._iter(augment=True)

    def _iter(self, augment):
        self._moves += 1
        moves = self._moves  # a later set_epoch, load_state_dict or iteration leaves this one behind
        shard, n_shards = self.shard()
        # A pass runs `epochs` epochs from where it began; an interrupted (or
        # restored) pass keeps its end. A finished pass leaves _epoch at the
        # next epoch, so iterating again continues with fresh epochs.
        if self._pass_end is None and self.epochs is not None:
            self._pass_end = self._epoch + self.epochs
        while self._pass_end is None or self._epoch < self._pass_end:
            epoch = self._epoch
            for position, item, y in self._epoch_items(epoch, shard, n_shards):
                if position != self._position:
                    self._position, self._chunk = position, 0
                for chunk in self._chunks(epoch, item, y, self._chunk, augment):
                    self._chunk += 1
                    yield chunk
                    if self._moves != moves:  # it would go on from the new place, for ever (its pass end was reset)
                        raise left_behind()
                self._position, self._chunk = position + 1, 0
            self._epoch, self._position, self._chunk = epoch + 1, 0, 0
        self._pass_end = None

    def _epoch_items(self, epoch, shard, n_shards):
        """(position, item index, audio or None) of this shard, from the resume point."""
        if self._items is not None:
            order = epoch_order(self._items, self._key, epoch, self.shuffle)
            for position in order.positions(shard, n_shards, self._position).tolist():
                item = int(order.items[position])
                yield position, item, self._load(item)
        else:
            yield from iterable_entries(self, epoch, shard, n_shards)

    def _load(self, item):
        """The item's audio, or a FileBlocks for a long one augmented in blocks (see long_items)."""
        y = load_whole(self, item, blockwise_limit(self))
        if y is LONG:
            y = long_source(self, item) or load_whole(self, item)
        return y

    def _source(self, item):
        return self._items.source(item) if self._items is not None else f"array:{item}"

    def _chunks(self, epoch, item, y, skip, augment=True):
        if y is None or too_wide(self, item, y):
            return
        if isinstance(y, FileBlocks):
            yield from long_chunks(self, epoch, item, y, skip)
            return
        params, target = {}, None
        if not augment:  # device="cuda": draw the parameters only, the GPU applies them per batch
            gen = as_generator(derive_key(self._key, epoch, item))
            params = {} if self.pipeline is None else self.pipeline.draw_params(None, sample_rate=self.sample_rate, rng=gen)
        elif self.pipeline is not None:
            gen = as_generator(derive_key(self._key, epoch, item))
            # (the item is checked where it was read: a file's frames, or an array by check_audio, so the channels-
            # last rule is not applied again: a short file of many channels is no (samples, channels) array)
            # (about: warnings name the item, not the epoch: an oddity of the item's own, a silent file, is then
            # one warning for the run, as Python's filters show a text once, not one again every epoch)
            with about(f"item {self._source(item)!r}"), layout_known():
                # (this call's parameters: last_params is another thread's when streams share the pipeline)
                y, params = self.pipeline._call_recorded(y, sample_rate=self.sample_rate, rng=gen,
                                                         return_target=self.target)
            y, target = y if self.target is not None else (y, None)
        elif self.target is not None:
            target = y  # nothing degrades it
        y = np.asarray(y, dtype=np.float32)
        target = None if target is None else np.asarray(target, dtype=np.float32)
        source = self._source(item)
        meta = self._items.metadata(item) if self._items is not None else {}
        starts = chunk_starts(y.shape[-1], self._chunk_n, self._hop_n)
        if skip > len(starts):
            raise self._past_item(skip, len(starts), item, epoch)
        for start in starts[skip:]:
            samples, length = cut_chunk(y, start, self._chunk_n)
            paired = None if target is None else cut_chunk(target, start, self._chunk_n)[0]
            yield Chunk(samples, self.sample_rate, source, start, length, params, epoch, item, meta, paired)

    def _past_item(self, skip, n_chunks, item, epoch):
        """The error of a restored state whose chunk count is past its item's chunks."""
        return ParameterError(f"state: chunk={skip} is past the {n_chunks} chunk(s) of {self._source(item)!r} "
                              f"in epoch {epoch}")

    def batches(self, batch_size: int, *, drop_last: bool = False):
        """An iterator of :class:`Batch` es of ``batch_size`` chunks (the last may be smaller,
        or dropped with ``drop_last=True``).

        Chunks are zero-padded to the longest of the batch; ``lengths`` holds
        their real lengths. ``state_dict()`` between batches resumes after
        the last batch yielded. ``len()`` of the iterator is the number of
        batches still to come (see :meth:`__len__`).
        """
        batch_size = check_int(batch_size, "batch_size", low=1)
        drop_last = check_bool(drop_last, "drop_last")
        return Batches(self, self._batches(batch_size, drop_last), batch_size, drop_last)

    def _batches(self, batch_size, drop_last):
        if self.device == "cuda":
            yield from cuda_batches(self, batch_size, drop_last)
            return
        yield from cpu_batches(self, batch_size, drop_last)

    def __repr__(self):
        return (f"AugmentStream(n_items={self.n_items}, sample_rate={self.sample_rate}, chunk_s={self.chunk_s}, "
                f"hop_s={self.hop_s}, shuffle={self.shuffle}, epochs={self.epochs}, device={self.device!r})")
