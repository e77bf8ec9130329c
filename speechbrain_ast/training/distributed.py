"""A DDP process group that lives exactly as long as the recipe.

SpeechBrain's ``ddp_init_group`` creates the process group and nothing ever
destroys it. A process that exits with a gloo (or NCCL) group still alive
tears it down during interpreter finalization, where the backend's worker
threads can still hold finished work objects with tensors in them: freeing
them there aborts the process (``terminate called without an active
exception``, SIGABRT) after the run has done all its work, and torchrun then
reports the whole job failed. :func:`init_distributed` starts the group the
SpeechBrain way and destroys it from an ``atexit`` handler, which runs while
the interpreter is still whole: after a normal end, ``sys.exit`` and an
uncaught exception alike. An uncaught exception is also written to
torchrun's error file, so the job's failure summary names the rank and its
message instead of only an exit code.

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

__all__ = ["close_distributed", "init_distributed"]


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


def close_distributed():
    """Destroy the default process group if one exists (safe to call twice).

    Example
    -------
    >>> close_distributed()  # nothing to close outside torchrun
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _recording_excepthook(previous):
    """An excepthook that writes the error for torchrun, then calls ``previous``."""

    def hook(kind, value, trace):
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
