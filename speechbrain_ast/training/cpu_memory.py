"""Keep freed training memory mapped on CPU, so a step does not page-fault it back.

Measured beside the official AST loop (``benchmarks/official_loop.py``, same
model, batch and clips, one thread): our recipe took 7.7-11.7 M minor page
faults and 18-23 s of system time per 200 steps, the official 0.4-0.55 M and
2 s. ``strace -k`` on the running recipe showed where: the activations autograd
saves in the forward pass (the ``(batch, tokens, 4 * width)`` MLP outputs of
``addmm`` and ``gelu``, 5 MB each for DeiT-tiny at batch 12) grow glibc's heap
with ``brk``; when the backward pass frees them the top of the heap is free
and above glibc's trim threshold, so it is handed back to the kernel
(``brk`` down by 80-150 MB), and the next forward pass faults every page in
again. Whether it happens is luck of the heap layout (a long-lived allocation
above the activations pins the heap, as it does in the official process); the
model and the values are the same either way.

:func:`keep_freed_memory` sets glibc's trim threshold high, so the freed top
of the heap stays mapped for the next step. Setting any threshold turns off
glibc's dynamic mmap threshold, so the mmap threshold is set too, to the
largest value glibc accepts (32 MiB): allocations under it come from the
heap, as the dynamic rule would have let them after the first step. The cost:
the process keeps its peak heap instead of returning it between steps, which
a training process reaches on every step anyway.

Authors
 * speechbrain-ast contributors 2026
"""

import ctypes
import ctypes.util
import logging

import torch

__all__ = ["keep_freed_memory"]

logger = logging.getLogger(__name__)

# mallopt parameters of glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc's upper limit for M_MMAP_THRESHOLD on 64-bit (4 * 1024 * 1024 * sizeof(long)).
MAX_MMAP_THRESHOLD = 32 * 1024 * 1024
DEFAULT_TRIM_THRESHOLD = 1024 * 1024 * 1024


def _glibc():
    """glibc's ``mallopt``, or None where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        library = ctypes.CDLL(name)
        if not hasattr(library, "gnu_get_libc_version"):  # only glibc has it
            return None
        mallopt = library.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


def keep_freed_memory(device="cpu", trim_threshold=DEFAULT_TRIM_THRESHOLD):
    """Raise glibc's trim threshold for a CPU training process.

    Arguments
    ---------
    device : str or None
        The run's device; anything but a CPU device leaves the allocator alone
        (tensors live on the accelerator). None is SpeechBrain's default:
        CUDA when there is one, else the CPU.
    trim_threshold : int
        Bytes of free memory at the top of the heap glibc keeps mapped.

    Returns
    -------
    bool
        True when glibc accepted both settings; False on other C libraries,
        on a non-CPU device, or if glibc refused a value.

    Example
    -------
    >>> keep_freed_memory("cuda:0")
    False
    >>> keep_freed_memory("cpu") in (True, False)  # False off glibc
    True
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if not str(device).startswith("cpu"):
        return False
    mallopt = _glibc()
    if mallopt is None:
        return False
    applied = bool(mallopt(M_MMAP_THRESHOLD, MAX_MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, int(trim_threshold))
    )
    if not applied:
        logger.warning("glibc refused the malloc thresholds; CPU steps may page-fault")
    return applied
