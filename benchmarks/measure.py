"""Measuring on CPU and GPU: the machine, clocks, interleaved medians, peak memory.

Shared by every benchmark of this folder. ``interleaved`` times several peers
in a rotating order and reports medians; ``PeakMemory`` measures the peak
memory growth of a block (GPU: ``max_memory_allocated``; CPU: the peak
resident set, reset through ``/proc/self/clear_refs``).
"""

import contextlib
import ctypes
import datetime
import gc
import os
import platform
import resource
import statistics
import time

import torch

# Dense bf16 tensor-core peaks (datasheets, TFLOP/s) for MFU on known GPUs.
GPU_BF16_PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 80GB HBM3": 989.0,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10G": 70.0,
    "RTX 4090": 165.0,
}


# --------------------------------------------------------------------- machine
def cpu_model():
    """CPU model name from /proc/cpuinfo (platform fallback)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device):
    """Describe the machine: CPU, cores, threads, torch/transformers, GPU."""
    import transformers

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    info = {
        "cpu": cpu_model(),
        "cores": cores,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "device": str(device),
        "clock": CLOCK["name"],
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info["gpu"] = props.name
        info["gpu_memory_gb"] = round(props.total_memory / 1e9, 1)
    return info


# --------------------------------------------------------------------- timing
def sync(device):
    """Wait for queued GPU work (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# The clock of ``timed``: "wall" (perf_counter) or "cpu" (process CPU time).
# With one thread on CPU, process time is the time the work ran, unaffected
# by other jobs that take the core away; see ``--clock``.
CLOCK = {"name": "wall", "fn": time.perf_counter}


def set_clock(name):
    """Select the clock used by ``timed`` ("wall" or "cpu")."""
    CLOCK["name"] = name
    CLOCK["fn"] = time.process_time if name == "cpu" else time.perf_counter


def timed(fn, device):
    """Seconds of ``fn()`` on the selected clock (GPU work included)."""
    sync(device)
    start = CLOCK["fn"]()
    fn()
    sync(device)
    return CLOCK["fn"]() - start


def _proc_status_kb(field):
    try:
        with open("/proc/self/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def malloc_trim():
    """Give freed heap memory back to the OS (glibc), so RSS ~ live memory."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reset_peak_rss():
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as handle:
            handle.write("5")
        return _proc_status_kb("VmHWM") is not None
    except OSError:
        return False


class PeakMemory:
    """Peak memory growth (bytes) of the code run inside ``with``.

    CUDA: ``max_memory_allocated`` above what was allocated before. CPU: the
    peak resident set (``VmHWM``, reset through ``/proc/self/clear_refs``)
    above the resident set before, after ``malloc_trim``; where the reset is
    not possible, the growth of ``getrusage`` ``ru_maxrss`` (a lower bound,
    0 when an earlier peak was higher). ``peak`` is None when unknown.
    """

    def __init__(self, device):
        self.device = device
        self.peak = None
        self.method = None

    def __enter__(self):
        gc.collect()
        if self.device.type == "cuda":
            sync(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
            self.method = "cuda max_memory_allocated"
        else:
            malloc_trim()
            if _reset_peak_rss():
                self.base = _proc_status_kb("VmRSS") * 1024
                self.method = "peak RSS (VmHWM) growth"
            else:
                self.base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
                self.method = "ru_maxrss growth (lower bound)"
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            return False
        if self.device.type == "cuda":
            sync(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) - self.base
        elif self.method.startswith("peak RSS"):
            self.peak = _proc_status_kb("VmHWM") * 1024 - self.base
        else:
            usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            self.peak = (usage - self.base) or None
        return False


def interleaved(fns, device, repeats, warmup, memory=True):
    """Time several peers interleaved; return ``{name: {"s": median, ...}}``.

    Every peer runs ``warmup`` untimed times, then ``repeats`` timed rounds
    in a rotating order (so no peer always runs first or last), then one
    untimed run under ``PeakMemory`` when ``memory`` is set. A peer that runs
    out of GPU memory in its first run is dropped: ``{"s": None, "oom": True}``.
    """
    names, results = list(fns), {}
    for name in list(names):
        try:
            for _ in range(max(warmup, 1 if device.type == "cuda" else 0)):
                fns[name]()
        except torch.cuda.OutOfMemoryError:
            names.remove(name)
            results[name] = {"s": None, "all_s": [], "oom": True}
            gc.collect()
            torch.cuda.empty_cache()
    times = {name: [] for name in names}
    for repeat in range(repeats):
        shift = repeat % max(len(names), 1)
        for name in names[shift:] + names[:shift]:
            times[name].append(timed(fns[name], device))
    for name in names:
        results[name] = {
            "s": statistics.median(times[name]),
            "all_s": [round(t, 4) for t in times[name]],
        }
        if memory:
            with PeakMemory(device) as mem:
                fns[name]()
            results[name]["peak_bytes"] = mem.peak
            results[name]["memory_method"] = mem.method
    return results


def gemm_peak_flops(device, dtype, repeats=7):
    """Measured FLOP/s of a large square matmul (best of ``repeats``: the peak)."""
    n = 2048 if device.type == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    times = [timed(lambda: a @ b, device) for _ in range(repeats)]
    return 2 * n**3 / min(times)


def gpu_spec_peak(name):
    """Datasheet dense bf16 FLOP/s of a known GPU name, else None."""
    for key, tflops in GPU_BF16_PEAK_TFLOPS.items():
        if key.lower() in name.lower():
            return tflops * 1e12
    return None


def amp(device):
    """bf16 autocast on CUDA, nothing (fp32) on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
