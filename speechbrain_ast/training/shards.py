"""WebDataset shards for AudioSet-scale training: writer and streaming loader.

Two million 10 s clips do not train well from two million files: random reads
on a network file system, and one ``open`` per clip. ``write_shards`` packs a
prepare script's training manifest (``ID,duration,wav,labels``) into
WebDataset tar shards of ``shard_size`` clips, each clip stored as

* ``<key>.json``: ``{"id", "labels", "duration", "weight"}`` (``labels`` are
  class names joined with ``;``, as in the manifests; ``weight`` is the
  balanced-sampling weight from ``train_weights.csv``, 1.0 without one),
* ``<key>.flac``: the mono waveform at the model's sample rate (read and
  resampled with ``audio.load_audio``, like the CSV pipeline), 16-bit FLAC,

plus an ``index.json`` (shard names and clip counts, classes, sample rate,
total weight) and a ``skipped.txt`` listing clips that could not be read.
Rows are shuffled before writing (``seed``), so every shard is a random
sample of the data. Shards and the index are written under temporary names and
renamed, and a second call with the same inputs returns at once.

``ShardDataset`` streams them for training, and ``ShardLoader`` (a
``DataLoader``) makes the stream a SpeechBrain recoverable:

* **Split by node and worker**: the ``world_size x num_workers`` reading slots
  get disjoint sets of shards (re-dealt every epoch). With fewer shards than
  slots, every slot reads every shard and keeps every ``n_slots``-th clip.
* **Shuffle buffer**: clips go through a buffer of ``shuffle_buffer`` clips
  from which a random one is taken.
* **Nominal epochs**: an epoch is ``epoch_size`` clips over all processes
  (default: the number of clips in the shards), i.e. the same number of
  full batches on every rank, whatever the shard sizes: DDP never waits for a
  rank that ran out of data. A slot that reaches the end of its shards
  starts them again (new order).
* **Weighted (balanced) sampling** with ``weighted=True``: each clip read is
  emitted ``k`` times with ``E[k] = weight / mean weight`` (``k`` is the
  integer part plus a Bernoulli draw of the fraction: "repeat-factor
  sampling"), so clips appear in the stream in proportion to their weight,
  as with the official weighted sampler with replacement; a clip with
  less than the mean weight is emitted with that probability. Repeats of a
  clip are spread by the shuffle buffer: keep ``shuffle_buffer`` well above
  the largest repeat factor (``index.json``: ``max_weight / mean_weight``).
* **Deterministic and resumable**: the stream of an epoch depends only on
  ``(seed, epoch, rank, worker, world_size, num_workers)``. ``ShardLoader``
  saves the number of batches consumed in intra-epoch checkpoints; on
  recovery the slots replay their stream *without reading or decoding
  audio* (only the small json members) up to that point, then continue.
  Resuming needs the same ``world_size``, ``num_workers`` and ``batch_size``.
* **Bad audio**: a clip that cannot be decoded raises an ``AudioError``
  naming ``<shard>:<key>`` (the writer already skipped unreadable sources).

Shards must be seekable files (local disk, NFS/Lustre, a mounted bucket).

The writer and the loader stay in one module (over 500 lines) because they
share one format: member names, the index and its version are defined here
once, and a change to one side is seen beside the other.

Shards can be written before training with ``speechbrain-ast shards``
(``speechbrain_ast.cli.shards``; the AudioSet recipe calls the same function,
which does nothing when the shards are up to date); the decode and fbank
speed they allow per core is measured by ``benchmarks/shard_throughput.py``.

Authors
 * speechbrain-ast contributors 2026
"""

import csv
import hashlib
import io
import json
import logging
import os
import random
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import soundfile
import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from speechbrain_ast.audio import (
    MIN_SAMPLES,
    AudioError,
    checked_mono,
    load_audio,
    unreadable,
)
from speechbrain_ast.files import atomic_write
from speechbrain_ast.training.dataio import read_classes, targets_from_labels

logger = logging.getLogger(__name__)

INDEX_FILE = "index.json"
SKIPPED_FILE = "skipped.txt"
FORMAT_VERSION = 1
AUDIO_EXT = "flac"
META_EXT = "json"


# --------------------------------------------------------------------- writing


def encode_flac(signal, sample_rate, subtype="PCM_16"):
    """Encode a mono waveform in ``[-1, 1]`` as FLAC bytes.

    Arguments
    ---------
    signal : torch.Tensor
        Waveform ``[samples]``.
    sample_rate : int
        Its sample rate.
    subtype : str
        ``PCM_16`` or ``PCM_24``.

    Returns
    -------
    bytes
        A FLAC file.

    Example
    -------
    >>> data = encode_flac(torch.zeros(1600), 16000)
    >>> decode_audio_bytes(data, 16000).shape
    torch.Size([1600])
    """
    samples = signal.detach().cpu().float().clamp(-1.0, 32767 / 32768).numpy()
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate, format="FLAC", subtype=subtype)
    return buffer.getvalue()


def decode_audio_bytes(data, sample_rate=16000, name="<bytes>"):
    """Decode audio bytes to a mono float waveform at ``sample_rate``.

    The same checks and conversions as ``audio.load_audio`` (downmix by
    averaging, resampling with ``torchaudio.functional.resample``).

    Arguments
    ---------
    data : bytes
        An audio file libsndfile reads (FLAC, WAV, OGG, MP3).
    sample_rate : int
        Rate the caller needs.
    name : str
        Where the bytes come from, for the error message.

    Returns
    -------
    torch.Tensor
        Waveform ``[samples]``, float32.

    Raises
    ------
    AudioError
        Undecodable bytes, no samples, NaN/Inf samples, shorter than one
        analysis window.
    """
    try:
        samples, file_rate = soundfile.read(
            io.BytesIO(data), dtype="float32", always_2d=True
        )
    except Exception as error:  # soundfile raises several types
        raise unreadable(name, error) from None
    signal = checked_mono(torch.from_numpy(samples.T), file_rate, sample_rate, name)
    if len(signal) < MIN_SAMPLES * sample_rate // 16000:
        raise AudioError(f"{name}: shorter than one 25 ms analysis window")
    return signal


def _file_digest(path):
    if path is None:
        return None
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_weights(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["ID"]: float(row["weight"]) for row in csv.DictReader(handle)}


def _shard_key(item_id, used):
    """A WebDataset key (no dots or slashes) unique within the shards."""
    key = "".join(c if c.isalnum() or c in "-_" else "_" for c in item_id) or "clip"
    base, n = key, 1
    while key in used:
        key, n = f"{base}_{n}", n + 1
    used.add(key)
    return key


def _add_member(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o444
    info.mtime = 0  # reproducible shards
    tar.addfile(info, io.BytesIO(data))


def write_shards(
    manifest,
    output_folder,
    classes,
    weights=None,
    shard_size=1000,
    sample_rate=16000,
    seed=1234,
    num_workers=1,
    prefix="train",
    subtype="PCM_16",
):
    """Pack a manifest's clips into WebDataset tar shards (see module docstring).

    Arguments
    ---------
    manifest : str
        CSV manifest with columns ``ID,duration,wav,labels``.
    output_folder : str
        Where the shards, ``index.json`` and ``skipped.txt`` go.
    classes : str or list of str
        ``classes.txt`` or the class names; every label must be one of them.
    weights : str, optional
        ``train_weights.csv`` (``ID,weight``): sampling weights to store.
    shard_size : int
        Clips per shard (the last shard may have fewer).
    sample_rate : int
        Rate of the stored waveforms.
    seed : int
        Seed of the shuffle of the rows before writing.
    num_workers : int
        Threads reading, resampling and encoding clips.
    prefix : str
        Shard names are ``<prefix>-000000.tar``, ...
    subtype : str
        FLAC sample format, ``PCM_16`` (default) or ``PCM_24``.

    Returns
    -------
    dict
        The index (also written to ``<output_folder>/index.json``).

    Example
    -------
    >>> import soundfile, numpy
    >>> tmp = getfixture("tmpdir")
    >>> soundfile.write(tmp.join("a.wav").strpath, numpy.zeros(8000), 16000)
    >>> _ = tmp.join("m.csv").write(
    ...     f"ID,duration,wav,labels\\nx,0.5,{tmp.join('a.wav')},dog\\n"
    ...     f"y,0.5,{tmp.join('missing.wav')},cat\\n"
    ... )
    >>> index = write_shards(tmp.join("m.csv").strpath, tmp.join("s").strpath, ["cat", "dog"])
    >>> index["n_clips"], index["skipped"], [s["count"] for s in index["shards"]]
    (1, 1, [1])
    """
    if isinstance(classes, str):
        classes = read_classes(classes)
    os.makedirs(output_folder, exist_ok=True)
    index_path = os.path.join(output_folder, INDEX_FILE)
    source = {
        "format_version": FORMAT_VERSION,
        "manifest": os.path.abspath(manifest),
        "manifest_sha1": _file_digest(manifest),
        "weights_sha1": _file_digest(weights),
        "classes_sha1": hashlib.sha1("\n".join(classes).encode()).hexdigest(),
        "shard_size": int(shard_size),
        "sample_rate": int(sample_rate),
        "seed": int(seed),
        "prefix": prefix,
        "subtype": subtype,
    }
    if os.path.isfile(index_path):
        with open(index_path, encoding="utf-8") as handle:
            previous = json.load(handle)
        if previous.get("source") == source and all(
            os.path.isfile(os.path.join(output_folder, s["file"]))
            for s in previous["shards"]
        ):
            logger.info("shards in %s are up to date", output_folder)
            return previous
        os.remove(index_path)  # the shards below are about to change

    with open(manifest, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    class_index = {name: i for i, name in enumerate(classes)}
    for row in rows:  # unknown labels are an error before any work is done
        targets_from_labels(row["labels"], class_index, row["ID"])
    clip_weights = _read_weights(weights) if weights else {}
    missing = [
        row["ID"] for row in rows if clip_weights and row["ID"] not in clip_weights
    ]
    if missing:
        raise ValueError(
            f"{weights}: no weight for {len(missing)} clips, e.g. {missing[:3]}"
        )
    random.Random(seed).shuffle(rows)

    def encode(row):
        try:
            signal = load_audio(row["wav"], sample_rate)
            if len(signal) < MIN_SAMPLES * sample_rate // 16000:
                raise AudioError(
                    f"{row['wav']}: shorter than one 25 ms analysis window"
                )
            return encode_flac(signal, sample_rate, subtype), len(signal) / sample_rate
        except AudioError as error:
            return None, str(error)

    shards, skipped, used_keys = [], [], set()
    n_clips, weight_sum, max_weight = 0, 0.0, 0.0
    start = time.time()
    with ThreadPoolExecutor(max(1, num_workers)) as pool:
        for first in range(0, len(rows), shard_size):
            chunk = rows[first : first + shard_size]
            name = f"{prefix}-{len(shards):06d}.tar"
            path = os.path.join(output_folder, name)
            count = 0
            with (
                atomic_write(path, "wb") as handle,
                tarfile.open(fileobj=handle, mode="w") as tar,
            ):
                for row, (data, info) in zip(chunk, pool.map(encode, chunk)):
                    if data is None:
                        skipped.append(f"{row['ID']}\t{info}")
                        continue
                    weight = clip_weights.get(row["ID"], 1.0)
                    meta = {
                        "id": row["ID"],
                        "labels": row["labels"],
                        "duration": round(info, 4),
                        "weight": weight,
                    }
                    key = _shard_key(row["ID"], used_keys)
                    _add_member(tar, f"{key}.{META_EXT}", json.dumps(meta).encode())
                    _add_member(tar, f"{key}.{AUDIO_EXT}", data)
                    count += 1
                    weight_sum += weight
                    max_weight = max(max_weight, weight)
            if count == 0:  # every clip of the chunk unreadable: no shard
                os.remove(path)
                continue
            shards.append({"file": name, "count": count})
            n_clips += count
            logger.info(
                "%s: %d clips (%d/%d rows, %.1f clips/s)",
                name,
                count,
                first + len(chunk),
                len(rows),
                (first + len(chunk)) / max(time.time() - start, 1e-9),
            )
    if n_clips == 0:
        raise ValueError(f"{manifest}: no readable clip to write")
    skipped_path = os.path.join(output_folder, SKIPPED_FILE)
    if skipped:
        with atomic_write(skipped_path) as handle:
            handle.write("\n".join(skipped) + "\n")
        logger.warning("%d clips skipped, listed in %s", len(skipped), skipped_path)
    elif os.path.exists(skipped_path):
        os.remove(skipped_path)
    index = {
        "source": source,
        "sample_rate": int(sample_rate),
        "classes": list(classes),
        "shards": shards,
        "n_clips": n_clips,
        "weight_sum": weight_sum,
        "max_weight": max_weight,
        "weighted": bool(weights),
        "skipped": len(skipped),
    }
    with atomic_write(index_path) as handle:
        json.dump(index, handle, indent=1)
    return index


# --------------------------------------------------------------------- reading


def read_shard(path, lazy=None, keep=None):
    """Yield the clips of one shard, in order.

    Arguments
    ---------
    path : str
        A tar shard written by ``write_shards``.
    lazy : callable, optional
        Called before reading each audio member; when it returns True the
        audio bytes are not read and the item gets ``"loc": (path, offset,
        size)`` instead (see ``fetch_audio``).
    keep : callable, optional
        ``keep(position)`` decides whether the clip at that position in the
        shard is yielded (default: all).

    Yields
    ------
    dict
        ``key``, ``position``, ``shard``, ``meta`` (the json member), and
        ``flac`` (bytes, or None with ``loc``).
    """
    item, position = None, -1
    with tarfile.open(path, "r:") as tar:
        for member in tar:
            if not member.isfile():
                continue
            key, _, ext = os.path.basename(member.name).partition(".")
            if item is None or key != item["key"]:
                if item is not None and item["kept"]:
                    yield _finish(item)
                position += 1
                kept = keep is None or keep(position)
                item = {"key": key, "position": position, "shard": path, "kept": kept}
                item.update(meta=None, flac=None, loc=None)
            if not item["kept"]:
                continue
            if ext == META_EXT:
                item["meta"] = json.loads(tar.extractfile(member).read())
            elif ext == AUDIO_EXT:
                if lazy is not None and lazy():
                    item["loc"] = (path, member.offset_data, member.size)
                else:
                    item["flac"] = tar.extractfile(member).read()
    if item is not None and item["kept"]:
        yield _finish(item)


def _finish(item):
    name = f"{item['shard']}:{item['key']}"
    if item["meta"] is None:
        raise AudioError(
            f"{name}: no .{META_EXT} member (not a shard from write_shards?)"
        )
    if item["flac"] is None and item["loc"] is None:
        raise AudioError(f"{name}: no .{AUDIO_EXT} member")
    del item["kept"]
    return item


def fetch_audio(item):
    """The audio bytes of an item from ``read_shard`` (read now if lazy)."""
    if item["flac"] is not None:
        return item["flac"]
    path, offset, size = item["loc"]
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(size)


def _identity(batch):
    return batch


class ShardDataset(IterableDataset):
    """Stream batches from ``write_shards`` shards (see the module docstring).

    Yields ``PaddedBatch`` objects with ``id``, ``sig`` and ``targets``, like
    the CSV datasets batched by SpeechBrain. Use it through ``ShardLoader``.

    Arguments
    ---------
    shard_folder : str
        Folder with ``index.json`` and the shards.
    classes : list of str
        Class names in output order (must equal those the shards were written with).
    batch_size : int
        Clips per batch (per process).
    sample_rate : int
        Waveform rate the model needs (other rates are resampled).
    epoch_size : int, optional
        Clips per epoch over all processes (default: clips in the shards).
    shuffle_buffer : int
        Clips held in the shuffle buffer (per reading slot).
    weighted : bool
        Weighted sampling with the weights stored in the shards.
    seed : int
        Seed of the shard dealing, shuffling and weighted draws.

    Example
    -------
    >>> import soundfile, numpy
    >>> tmp = getfixture("tmpdir")
    >>> rows = "ID,duration,wav,labels\\n"
    >>> for i in range(6):
    ...     wav = tmp.join(f"{i}.wav").strpath
    ...     soundfile.write(wav, numpy.random.rand(800) - 0.5, 16000)
    ...     rows += f"c{i},0.05,{wav},{'ab'[i % 2]}\\n"
    >>> _ = tmp.join("m.csv").write(rows)
    >>> _ = write_shards(tmp.join("m.csv").strpath, tmp.join("s").strpath, ["a", "b"], shard_size=2)
    >>> data = ShardDataset(tmp.join("s").strpath, ["a", "b"], batch_size=2, shuffle_buffer=3)
    >>> batches = list(ShardLoader(data))
    >>> len(batches), batches[0].sig.data.shape, batches[0].targets.data.shape
    (3, torch.Size([2, 800]), torch.Size([2, 2]))
    """

    def __init__(
        self,
        shard_folder,
        classes,
        batch_size,
        sample_rate=16000,
        epoch_size=None,
        shuffle_buffer=1000,
        weighted=False,
        seed=1234,
    ):
        super().__init__()
        with open(os.path.join(shard_folder, INDEX_FILE), encoding="utf-8") as handle:
            index = json.load(handle)
        if list(index["classes"]) != list(classes):
            raise ValueError(
                f"{shard_folder}: shards written for {len(index['classes'])} other "
                f"classes than the {len(classes)} of this run; rewrite them"
            )
        self.folder = shard_folder
        self.classes = list(classes)
        self.class_index = {name: i for i, name in enumerate(self.classes)}
        self.shards = [os.path.join(shard_folder, s["file"]) for s in index["shards"]]
        self.counts = [s["count"] for s in index["shards"]]
        self.offsets = np.cumsum([0] + self.counts[:-1]).tolist()
        self.n_clips = index["n_clips"]
        self.mean_weight = index["weight_sum"] / self.n_clips
        self.batch_size = int(batch_size)
        self.sample_rate = int(sample_rate)
        self.epoch_size = int(epoch_size or self.n_clips)
        self.shuffle_buffer = max(1, int(shuffle_buffer))
        self.weighted = bool(weighted)
        if self.weighted and not index.get("weighted"):
            logger.warning(
                "%s has no sampling weights: sampling is uniform", shard_folder
            )
        self.seed = int(seed)
        self.epoch = 0
        self.rank, self.world_size = 0, 1
        self.resume_epoch, self.resume_batches = None, 0

    def set_epoch(self, epoch):
        """Select the epoch's stream (SpeechBrain calls this before each epoch)."""
        self.epoch = int(epoch)

    def set_distributed(self, rank, world_size):
        """Set this process's rank and the number of processes."""
        self.rank, self.world_size = int(rank), int(world_size)

    def __len__(self):
        """Batches per epoch on each process."""
        return (self.epoch_size // self.world_size) // self.batch_size

    def slot_plan(self, slot, n_slots, epoch):
        """The shards a reading slot reads in an epoch, and which clips it keeps.

        Arguments
        ---------
        slot : int
            ``rank * num_workers + worker``.
        n_slots : int
            ``world_size * num_workers``.
        epoch : int
            The epoch (shards are re-dealt each epoch).

        Returns
        -------
        list of (str, callable or None)
            Shard paths with a ``keep(position)`` filter (None: keep all).
        """
        n_shards = len(self.shards)
        if n_shards >= n_slots:
            order = random.Random(f"{self.seed}/{epoch}/deal").sample(
                range(n_shards), n_shards
            )
            return [(self.shards[i], None) for i in order[slot::n_slots]]
        plan = []
        for path, offset in zip(self.shards, self.offsets):
            plan.append((path, lambda p, o=offset: (o + p) % n_slots == slot))
        return plan

    def slot_clips(self, slot, n_slots, epoch=0):
        """Ids of the clips a reading slot reads in an epoch (for checks)."""
        ids = set()
        for path, keep in self.slot_plan(slot, n_slots, epoch):
            ids.update(
                item["meta"]["id"] for item in read_shard(path, lambda: True, keep)
            )
        return ids

    def item_stream(self, slot, n_slots, epoch, lazy_items=0):
        """Endless stream of one reading slot: shuffled, weighted, repeating.

        Arguments
        ---------
        slot, n_slots, epoch : int
            See ``slot_plan``.
        lazy_items : int
            The first ``lazy_items`` items emitted are for skipping: audio
            read for them is not read from disk (``loc`` instead of bytes).

        Yields
        ------
        dict
            Items of ``read_shard``.
        """
        rng = random.Random(f"{self.seed}/{epoch}/{slot}/{n_slots}")
        plan = self.slot_plan(slot, n_slots, epoch)
        buffer, emitted = [], 0

        def lazy():
            return emitted < lazy_items

        while True:
            rng.shuffle(plan)
            read_any = False
            for path, keep in plan:
                for item in read_shard(path, lazy, keep):
                    read_any = True
                    repeats = 1
                    if self.weighted:
                        ratio = item["meta"]["weight"] / self.mean_weight
                        repeats = int(ratio) + (rng.random() < ratio - int(ratio))
                    buffer.extend([item] * repeats)
                    while len(buffer) >= self.shuffle_buffer:
                        pick = rng.randrange(len(buffer))
                        buffer[pick], buffer[-1] = buffer[-1], buffer[pick]
                        emitted += 1
                        yield buffer.pop()
            if not read_any:
                raise RuntimeError(
                    f"reading slot {slot}/{n_slots} has no clips in {self.folder}"
                )

    def decode(self, item):
        """Turn a stream item into ``{"id", "sig", "targets"}``."""
        meta = item["meta"]
        name = f"{item['shard']}:{item['key']}"
        return {
            "id": meta["id"],
            "sig": decode_audio_bytes(fetch_audio(item), self.sample_rate, name),
            "targets": targets_from_labels(meta["labels"], self.class_index, name),
        }

    def __iter__(self):
        # Read the state now (not lazily in the generator): ShardLoader resets
        # the resume position right after creating its iterator.
        info = get_worker_info()
        workers, worker = (1, 0) if info is None else (info.num_workers, info.id)
        n_batches = len(self)
        resume = self.resume_batches
        if resume and self.resume_epoch not in (None, self.epoch):
            logger.warning(
                "resume position is for epoch %s, not %s: ignored",
                self.resume_epoch,
                self.epoch,
            )
            resume = 0
        resume = min(resume, n_batches)
        # The loader takes batches from workers in turn, starting with worker 0:
        # after ``resume`` batches, worker w must produce the original batches
        # of worker (w + resume) % workers (its "role").
        role = (worker + resume) % workers
        mine = len(range(role, n_batches, workers))
        skip = len(range(role, resume, workers))
        slot = self.rank * workers + role
        n_slots = self.world_size * workers
        stream = self.item_stream(slot, n_slots, self.epoch, skip * self.batch_size)
        return self._batches(stream, mine, skip)

    def _batches(self, stream, n_batches, skip):
        for index in range(n_batches):
            items = [next(stream) for _ in range(self.batch_size)]
            if index >= skip:
                yield PaddedBatch([self.decode(item) for item in items])


@register_checkpoint_hooks
class ShardLoader(DataLoader):
    """``DataLoader`` over a ``ShardDataset``, resumable inside an epoch.

    Register it with the checkpointer (the AudioSet recipe does, as
    ``shard_loader``): intra-epoch checkpoints store the epoch and the
    number of batches consumed; recovery makes the next epoch iteration
    start after them. ``set_epoch`` is forwarded to the dataset, so the
    loader can be the Brain's ``train_sampler``.

    Arguments
    ---------
    dataset : ShardDataset
        The stream.
    num_workers : int
        Loader processes (each reads its own shards).
    pin_memory : bool
        Pin batches (GPU training).
    prefetch_factor : int, optional
        Batches prefetched per worker.
    """

    def __init__(self, dataset, num_workers=0, pin_memory=False, prefetch_factor=None):
        extra = (
            {"prefetch_factor": prefetch_factor}
            if num_workers and prefetch_factor
            else {}
        )
        super().__init__(
            dataset,
            batch_size=None,
            num_workers=num_workers,
            collate_fn=_identity,
            pin_memory=pin_memory,
            **extra,
        )
        self._consumed = 0
        self._update_distributed()

    def _update_distributed(self):
        """Give the dataset this process's rank and the number of processes."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            self.dataset.set_distributed(
                torch.distributed.get_rank(), torch.distributed.get_world_size()
            )

    def set_epoch(self, epoch):
        """Forward the epoch to the dataset."""
        self.dataset.set_epoch(epoch)

    def __iter__(self):
        self._update_distributed()
        start = (
            self.dataset.resume_batches
            if self.dataset.resume_epoch in (None, self.dataset.epoch)
            else 0
        )
        iterator = super().__iter__()  # the dataset state is read here
        self.dataset.resume_epoch, self.dataset.resume_batches = None, 0
        return self._counted(iterator, start)

    def _counted(self, iterator, start):
        self._consumed = start
        for batch in iterator:
            self._consumed += 1
            yield batch

    @mark_as_saver
    def _save(self, path):
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"epoch": self.dataset.epoch, "batches": self._consumed}, handle)

    @mark_as_loader
    def _load(self, path, end_of_epoch):
        if end_of_epoch:
            return
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
        self.dataset.resume_epoch = state["epoch"]
        self.dataset.resume_batches = state["batches"]
