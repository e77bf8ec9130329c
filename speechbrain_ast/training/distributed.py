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

Authors
 * speechbrain-ast contributors 2026
"""

import atexit
import json
import os
import sys
import time
import traceback

import speechbrain as sb
import torch

__all__ = [
    "EvaluationShardSampler",
    "all_reduce_mean",
    "close_distributed",
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
    sb.utils.distributed.ddp_init_group(run_opts)
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return False
    sys.excepthook = _recording_excepthook(sys.excepthook)
    atexit.register(close_distributed)
    return True


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
