"""A DDP process group that lives exactly as long as the recipe.

SpeechBrain's ``ddp_init_group`` creates the process group and nothing ever
destroys it. A process that exits with a gloo (or NCCL) group still alive
tears it down during interpreter finalization, where the backend's worker
threads can still hold finished work objects with tensors in them: freeing
them there aborts the process (``terminate called without an active
exception``, SIGABRT) after the run has done all its work, and torchrun then
reports the whole job failed. :func:`init_distributed` starts the group the
SpeechBrain way and destroys it from an ``atexit`` handler, which runs while
the interpreter is still whole, after a normal end or ``sys.exit``. After
an uncaught exception the group is left alone: the process exits non-zero
anyway, and destroying a gloo group whose peer just failed broke torchrun's
restart of the job (``--max-restarts``: the next attempt's processes could
not connect; measured here). The exception is written to torchrun's error
file instead, so the job's failure summary names the rank and its message
rather than only an exit code.

Restarted attempts (``torchrun --max-restarts``) get a store of their own.
torchrun's c10d rendezvous shares one TCP store, created at the first
rendezvous, with every later attempt (``TORCHELASTIC_USE_AGENT_STORE``), and
``init_process_group`` writes its keys there under the same names each time.
A restarted rank could read the gloo address a rank of the *previous*
attempt had published before the new peer overwrote it, and connect to a
dead process: "Connection refused", or a hang in ``ProcessGroupGloo``'s
creation (both seen in ``tests/test_ddp.py``'s restart test). The group is
built on a ``PrefixStore`` named after ``TORCHELASTIC_RESTART_COUNT``, so
each attempt sees only its own keys.

Authors
 * speechbrain-ast contributors 2026
"""

import atexit
import datetime
import json
import logging
import os
import sys
import time
import traceback

import speechbrain as sb
import torch

__all__ = [
    "EvaluationShardSampler",
    "all_reduce_mean",
    "attempt_store",
    "close_distributed",
    "finish_distributed",
    "gather_tagging_stats",
    "init_distributed",
    "world_size",
]


def init_distributed(run_opts):
    """Start the DDP group when launched by torchrun; close it at exit.

    Arguments
    ---------
    run_opts : dict
        SpeechBrain's run options (``distributed_backend``, ...), as
        returned by ``speechbrain.parse_arguments``.

    Returns
    -------
    bool
        Whether this process is part of a process group.

    Example
    -------
    >>> init_distributed({"distributed_backend": "gloo"})  # no torchrun here
    False
    """
    store = attempt_store()
    if store is None:
        sb.utils.distributed.ddp_init_group(run_opts)
    else:  # SpeechBrain's checks and init, on this attempt's own store
        init_process_group = torch.distributed.init_process_group

        def on_attempt_store(*args, **kwargs):
            kwargs.setdefault("store", store)
            kwargs.setdefault("world_size", int(os.environ["WORLD_SIZE"]))
            return init_process_group(*args, **kwargs)

        torch.distributed.init_process_group = on_attempt_store
        try:
            sb.utils.distributed.ddp_init_group(run_opts)
        finally:
            torch.distributed.init_process_group = init_process_group
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return False
    sys.excepthook = _recording_excepthook(sys.excepthook)
    atexit.register(close_distributed)
    return True


def attempt_store(timeout_s=7200):
    """This restart attempt's part of torchrun's shared store (None if not shared).

    Arguments
    ---------
    timeout_s : float
        Store timeout (SpeechBrain's process-group timeout).

    Returns
    -------
    torch.distributed.PrefixStore or None
        A client of the agent's store, prefixed with the attempt number;
        None outside torchrun or when its agent store is not shared.

    Example
    -------
    >>> attempt_store() is None  # not launched by torchrun
    True
    """
    needed = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True" or not all(
        name in os.environ for name in needed
    ):
        return None
    client = torch.distributed.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        int(os.environ["WORLD_SIZE"]),
        is_master=False,
        timeout=datetime.timedelta(seconds=timeout_s),
    )
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    return torch.distributed.PrefixStore(f"speechbrain_ast/attempt_{attempt}", client)


_FAILED = []  # set by the excepthook: this process ends with an error


def close_distributed():
    """Destroy the default process group, unless the process is failing.

    Safe to call twice, and outside DDP.

    Example
    -------
    >>> close_distributed()  # nothing to close outside torchrun
    """
    if _FAILED:
        return
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _gloo_threads():
    """Names of this process's live gloo threads (Linux ``/proc``; [] elsewhere)."""
    names = []
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/comm", encoding="utf-8") as handle:
                name = handle.read().strip()
            if name.startswith(("pt_gloo", "gloo_")):
                names.append(name)
    except OSError:
        return []
    return names


def finish_distributed():
    """End a DDP process that has done all its work: every rank exits cleanly.

    Called last in every recipe. The ranks wait for each other (so torchrun
    never has to stop a rank still writing reports), the group is destroyed,
    and if gloo's threads are still alive the process ends here, after
    flushing its logs and streams, without interpreter finalization.

    Why: ``destroy_process_group`` joins gloo's threads only when nothing
    else holds the group, and a model wrapped in ``DistributedDataParallel``
    does (measured: a 2-process gloo job keeps its ``pt_gloo_runloop`` and
    ``gloo_tcp_loop`` threads after ``destroy_process_group``, even after the
    DDP module, its reducer hooks and the model are deleted; without DDP the
    threads are gone). The group is then destroyed during finalization, where
    gloo's threads can abort the rank (``terminate called without an active
    exception``, SIGABRT) after its work is done: the exit crash of
    ``tests/test_ddp.py`` that the ``atexit`` destroy alone did not prevent
    (seen again once in a full test run). Outside DDP this does nothing.

    Example
    -------
    >>> finish_distributed()  # not under torchrun: nothing to finish
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
    if not _gloo_threads():
        return
    logging.shutdown()  # flush and close the log files (atexit would)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


def world_size():
    """Number of processes in the default group (1 outside DDP).

    Example
    -------
    >>> world_size()
    1
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    return 1


def _rank():
    """This process's rank (0 outside DDP)."""
    if world_size() > 1:
        return torch.distributed.get_rank()
    return 0


class EvaluationShardSampler(torch.utils.data.Sampler):
    """This rank's share of an evaluation set: clips ``rank, rank + W, ...``.

    Unlike ``DistributedSampler`` nothing is padded or dropped, so every clip
    is scored exactly once over all ranks (the shares differ by at most one
    clip; evaluation runs no collective per batch, so uneven shares are
    safe). :func:`gather_tagging_stats` puts the scores back in dataset order.

    Arguments
    ---------
    n_items : int
        Size of the dataset.
    rank, n_ranks : int, optional
        This process and the number of processes (default: the DDP group's).

    Example
    -------
    >>> list(EvaluationShardSampler(5, rank=1, n_ranks=2))
    [1, 3]
    >>> len(EvaluationShardSampler(5, rank=0, n_ranks=2))
    3
    """

    def __init__(self, n_items, rank=None, n_ranks=None):
        self.n_items = n_items
        self.rank = _rank() if rank is None else rank
        self.n_ranks = world_size() if n_ranks is None else n_ranks

    def __iter__(self):
        return iter(range(self.rank, self.n_items, self.n_ranks))

    def __len__(self):
        return len(range(self.rank, self.n_items, self.n_ranks))


def all_reduce_mean(total, count):
    """``sum(total) / sum(count)`` over all ranks (``total / count`` alone).

    Arguments
    ---------
    total : float
        This rank's sum (e.g. of batch losses).
    count : int
        This rank's count (e.g. of batches).

    Returns
    -------
    float
        The mean over all ranks (0.0 when nothing was counted).

    Example
    -------
    >>> all_reduce_mean(3.0, 2)
    1.5
    """
    values = torch.tensor([float(total), float(count)], dtype=torch.float64)
    if world_size() > 1:
        torch.distributed.all_reduce(values)
    return float(values[0] / values[1]) if values[1] > 0 else 0.0


def interleave_shards(shards):
    """Dataset order from per-rank shares of :class:`EvaluationShardSampler`.

    Arguments
    ---------
    shards : list of list
        Rank ``r``'s items, in its order (items ``r, r + W, ...``).

    Returns
    -------
    list
        The items in dataset order.

    Example
    -------
    >>> interleave_shards([[0, 2, 4], [1, 3]])
    [0, 1, 2, 3, 4]
    """
    ordered = []
    for position in range(max((len(shard) for shard in shards), default=0)):
        ordered.extend(shard[position] for shard in shards if position < len(shard))
    return ordered


def gather_tagging_stats(stats):
    """Every rank's clips of a sharded evaluation, on every rank, in dataset order.

    Arguments
    ---------
    stats : TaggingStats
        This rank's scores (of an :class:`EvaluationShardSampler` share).

    Returns
    -------
    TaggingStats
        The whole set's scores (``stats`` itself outside DDP).

    Example
    -------
    >>> from speechbrain_ast.training.metrics import TaggingStats
    >>> stats = TaggingStats()
    >>> gather_tagging_stats(stats) is stats  # one process: nothing to gather
    True
    """
    if world_size() == 1:
        return stats
    from speechbrain_ast.training.metrics import TaggingStats

    mine = list(zip(stats.ids, stats.score_matrix(), stats.target_matrix()))
    shards = [None] * world_size()
    torch.distributed.all_gather_object(shards, mine)
    whole = TaggingStats(n_classes=stats.n_classes)
    clips = interleave_shards(shards)
    if clips:
        ids, scores, targets = zip(*clips)
        whole.append(list(ids), torch.stack(scores), torch.stack(targets))
    return whole


def _recording_excepthook(previous):
    """An excepthook that writes the error for torchrun, then calls ``previous``."""

    def hook(kind, value, trace):
        """Record the failure (and the error for torchrun), then report it as before."""
        _FAILED.append(kind)
        path = os.environ.get("TORCHELASTIC_ERROR_FILE")
        if path:
            # torchrun's error-file format: its failure summary prints it.
            message = {
                "message": f"{kind.__name__}: {value}",
                "extraInfo": {
                    "py_callstack": "".join(
                        traceback.format_exception(kind, value, trace)
                    ),
                    "timestamp": str(int(time.time())),
                },
            }
            try:
                with open(path, "w", encoding="utf-8") as handle:
                    json.dump({"message": message}, handle)
            except OSError:  # a courtesy; never mask the real error
                pass
        previous(kind, value, trace)

    return hook
