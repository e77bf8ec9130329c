#!/usr/bin/env python
"""Benchmark speechbrain-ast against HuggingFace's AST, in one reproducible run.

Measures, for 1 s, 5 s and 10 s inputs (128/512/1024 frames; 146/602/1214
tokens), every peer in the same run with the same config and weights:

* encoder inference (clips/s) and a full training step (forward + backward +
  Adam step, clips/s) of our ``AudioSpectrogramTransformer`` (+ head) against
  HuggingFace ``ASTForAudioClassification`` with ``attn_implementation`` "sdpa"
  and "eager"; our model also with activation checkpointing (training);
* peak memory of each (GPU: ``torch.cuda.max_memory_allocated``; CPU: growth of
  the peak resident set, ``VmHWM`` reset through ``/proc/self/clear_refs``,
  in a separate untimed pass);
* model FLOP utilisation (MFU) from the analytic FLOP count
  (``speechbrain_ast.flops``; AST-base: 261/116/26 GFLOP per 10/5/1 s clip,
  training 3x) against the measured GEMM peak of this device (and the
  datasheet bf16 peak of known GPUs);
* features: batched ``KaldiFbank`` against the per-clip torchaudio Kaldi loop
  (official AST and HF way) and HF's ``ASTFeatureExtractor`` (clips/s);
* Adam step: CPU/CUDA default against ``foreach=True`` and ``fused=True``;
* CPU int8: ``AudioTagger(int8=True)`` against fp32: top-1 agreement and score
  differences on real clips, and seconds of audio tagged per second
  (``tag_file`` on a long clip built by concatenating real clips);
* GPU only: the largest batch that fits per GPU memory size at 10 s
  (linear fit of peak memory against batch), with and without checkpointing.

CPU runs in fp32 with a fixed thread count; CUDA in bf16 autocast. Peers are
run interleaved (rotating order) and every figure is the median of the
repeats. Results are printed as Markdown tables and written between markers
into ``--out`` (default ``benchmarks/RESULTS.md``; ``--quick`` writes only
where ``--out`` says), keeping everything outside the markers.

Usage::

    python benchmarks/benchmark.py                        # CPU, AST-base
    python benchmarks/benchmark.py --threads 1 --seconds 1 5 10
    python benchmarks/benchmark.py --device cuda --sizes base small
    python benchmarks/benchmark.py --model results/esc50/model  # int8 accuracy
    python benchmarks/benchmark.py --quick --out quick.md  # < 60 s

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import contextlib
import copy
import ctypes
import datetime
import gc
import glob
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from speechbrain_ast.checkpoints import convert_hf_state_dict  # noqa: E402
from speechbrain_ast.features import NORM_STATS, KaldiFbank  # noqa: E402
from speechbrain_ast.flops import ast_forward_flops, training_flops  # noqa: E402
from speechbrain_ast.model import (  # noqa: E402
    AST_SIZES,
    AudioSpectrogramTransformer,
    ClassificationHead,
    patch_grid,
)

SIZES = dict(AST_SIZES, quick=(64, 2, 4))
SECONDS_TO_FRAMES = {1: 128, 5: 512, 10: 1024}
SAMPLE_RATE = 16000
N_CLASSES = 50
SHARED_DATA = Path(
    os.environ.get("SPEECHBRAIN_AST_SHARED_DATA", REPO.parent / "shared" / "data")
)
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
GPU_MEMORY_SIZES_GB = (16, 24, 40, 48, 80, 94, 141)
MARK_BEGIN = "<!-- BEGIN benchmark.py output: {key} -->"
MARK_END = "<!-- END benchmark.py output: {key} -->"

warnings.filterwarnings("ignore", message=".*quantiz.*")
warnings.filterwarnings("ignore", category=DeprecationWarning)


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


def _malloc_trim():
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
            _malloc_trim()
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


# --------------------------------------------------------------------- models
def hf_config(dims, n_frames, n_classes=N_CLASSES):
    """A HF ``ASTConfig`` of the given size (AST defaults otherwise)."""
    import transformers

    dim, depth, heads = dims
    return transformers.ASTConfig(
        hidden_size=dim,
        num_hidden_layers=depth,
        num_attention_heads=heads,
        intermediate_size=4 * dim,
        max_length=n_frames,
        num_mel_bins=128,
        num_labels=n_classes,
    )


def build_models(dims, n_frames, device, seed=0):
    """HF sdpa, HF eager and our encoder + head, all with the same weights."""
    import transformers

    torch.manual_seed(seed)
    config = hf_config(dims, n_frames)
    hf_sdpa = transformers.AutoModelForAudioClassification.from_config(
        config, attn_implementation="sdpa"
    )
    embeddings = hf_sdpa.audio_spectrogram_transformer.embeddings
    with torch.no_grad():
        # HF initialises these to zero (pooled prefix tokens nearly constant).
        for param in (
            embeddings.cls_token,
            embeddings.distillation_token,
            embeddings.position_embeddings,
        ):
            torch.nn.init.trunc_normal_(param, std=0.02)
    hf_eager = copy.deepcopy(hf_sdpa)
    hf_eager.set_attn_implementation("eager")
    dim, depth, heads = dims
    encoder = AudioSpectrogramTransformer(
        n_frames=n_frames,
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        layer_norm_eps=config.layer_norm_eps,
    )
    head = ClassificationHead(dim, N_CLASSES, layer_norm_eps=config.layer_norm_eps)
    encoder_sd, head_sd = convert_hf_state_dict(hf_sdpa.state_dict())
    encoder.load_state_dict(encoder_sd)
    head.load_state_dict(head_sd)
    return {
        "ours": (encoder.to(device), head.to(device)),
        "hf-sdpa": hf_sdpa.to(device),
        "hf-eager": hf_eager.to(device),
    }


def make_adam(params, **kwargs):
    """Adam as the recipes configure it (official betas and weight decay)."""
    return torch.optim.Adam(
        params, lr=1e-5, betas=(0.95, 0.999), weight_decay=5e-7, **kwargs
    )


class Bench:
    """One benchmark run: options, device, results and the printed tables."""

    def __init__(self, args):
        self.args = args
        self.device = torch.device(args.device)
        self.cuda = self.device.type == "cuda"
        self.results = {
            "encoder": [],
            "features": [],
            "fbank_chunks": [],
            "optimizer": [],
            "memory_fit": [],
            "activation_fit": [],
            "int8": {},
            "notes": [],
        }

    # ------------------------------------------------------------ helpers
    def amp(self):
        """bf16 autocast on CUDA, nothing (fp32) on CPU."""
        if self.cuda:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def log(self, *parts):
        print(*parts, file=sys.stderr, flush=True)

    # ------------------------------------------------------------ peak
    def measure_peak(self):
        if self.cuda:
            measured = gemm_peak_flops(self.device, torch.bfloat16)
            name = torch.cuda.get_device_properties(self.device).name
            spec = gpu_spec_peak(name)
            self.results["peak"] = {
                "measured_flops": measured,
                "spec_flops": spec,
                "mfu_basis": "datasheet bf16" if spec else "measured bf16 GEMM",
                "flops": spec or measured,
            }
        else:
            measured = gemm_peak_flops(self.device, torch.float32)
            self.results["peak"] = {
                "measured_flops": measured,
                "spec_flops": None,
                "mfu_basis": "measured fp32 GEMM (best 2048^3 matmul)",
                "flops": measured,
            }
        self.log(f"GEMM peak: {measured / 1e9:.1f} GFLOP/s")

    # ------------------------------------------------------------ encoder
    def run_encoder(self):
        args = self.args
        for size in args.sizes:
            for seconds in args.seconds:
                self.encoder_case(size, seconds)

    def encoder_case(self, size, seconds):
        args = self.args
        n_frames = SECONDS_TO_FRAMES[seconds]
        dims = SIZES[size]
        f_dim, t_dim = patch_grid(128, n_frames, 10, 10)
        tokens = f_dim * t_dim + 2
        fwd = ast_forward_flops(n_frames, embed_dim=dims[0], depth=dims[1])
        batch = args.batch
        self.log(f"[encoder] {size} {seconds} s ({tokens} tokens), batch {batch}")
        models = build_models(dims, n_frames, self.device)
        encoder, head = models["ours"]
        x = torch.randn(batch, n_frames, 128, device=self.device)
        y = (torch.rand(batch, N_CLASSES, device=self.device) < 0.1).float()

        # Same weights, same input: the peers must agree before being timed.
        with torch.no_grad(), self.amp():
            encoder.eval()
            ref = encoder(x).squeeze(1).float()
            parity = {
                name: float(
                    (models[name].audio_spectrogram_transformer(x).pooler_output - ref)
                    .abs()
                    .max()
                )
                for name in ("hf-sdpa", "hf-eager")
            }

        compiled = None
        if args.compile:
            compiled = torch.compile(encoder)

        def infer(name):
            if name in ("ours", "ours+compile"):
                module = compiled if name == "ours+compile" else encoder
                encoder.eval()

                def run():
                    with torch.no_grad(), self.amp():
                        module(x)

            else:
                model = models[name].eval()

                def run():
                    with torch.no_grad(), self.amp():
                        model.audio_spectrogram_transformer(x)

            return run

        peers = (
            ["ours"] + (["ours+compile"] if compiled else []) + ["hf-sdpa", "hf-eager"]
        )
        rows = {name: {} for name in peers}
        if not args.skip_inference:
            res = interleaved(
                {name: infer(name) for name in peers},
                self.device,
                args.repeats,
                args.warmup,
                memory=not args.no_memory,
            )
            for name in peers:
                rows[name]["infer"] = res[name]

        if not args.skip_train:
            optimizers = {
                "ours": make_adam(list(encoder.parameters()) + list(head.parameters()))
            }
            for name in ("hf-sdpa", "hf-eager"):
                optimizers[name] = make_adam(models[name].parameters())

            def train(name):
                if name.startswith("ours"):
                    ckpt = name == "ours+ckpt"
                    module = compiled if name == "ours+compile" else encoder
                    opt = optimizers["ours"]

                    def step():
                        encoder.train()
                        head.train()
                        encoder.activation_checkpointing = ckpt
                        opt.zero_grad(set_to_none=True)
                        with self.amp():
                            logits = head(module(x)).squeeze(1)
                        F.binary_cross_entropy_with_logits(logits.float(), y).backward()
                        opt.step()
                        encoder.activation_checkpointing = False

                else:
                    model, opt = models[name], optimizers[name]

                    def step():
                        model.train()
                        opt.zero_grad(set_to_none=True)
                        with self.amp():
                            logits = model(input_values=x).logits
                        F.binary_cross_entropy_with_logits(logits.float(), y).backward()
                        opt.step()

                return step

            train_peers = ["ours", "ours+ckpt"] + peers[1:]
            res = interleaved(
                {name: train(name) for name in train_peers},
                self.device,
                args.repeats,
                args.warmup,
                memory=not args.no_memory,
            )
            for name in train_peers:
                rows.setdefault(name, {})["train"] = res[name]
            if seconds == max(args.seconds) and not args.no_memory:
                if self.cuda:
                    self.memory_fit(size, dims, n_frames, models, optimizers)
                else:
                    self.cpu_activation_fit(size, n_frames, models)

        peak = self.results["peak"]["flops"]
        grad_bytes = sum(
            p.numel() * p.element_size()
            for p in list(encoder.parameters()) + list(head.parameters())
        )
        for name, row in rows.items():
            entry = {
                "size": size,
                "seconds": seconds,
                "frames": n_frames,
                "tokens": tokens,
                "batch": batch,
                "peer": name,
                "gflop_fwd": fwd / 1e9,
                "grad_bytes": grad_bytes if name.startswith("ours") else None,
                "parity_max_abs": parity.get(
                    name, 0.0 if name.startswith("ours") else None
                ),
            }
            for kind, flops in (("infer", fwd), ("train", training_flops(fwd))):
                if kind in row and row[kind].get("oom"):
                    self.results["notes"].append(
                        f"{name} {kind} at {seconds} s, batch {batch}: out of GPU memory"
                    )
                elif kind in row:
                    clips = batch / row[kind]["s"]
                    entry[f"{kind}_clips_s"] = clips
                    entry[f"{kind}_s"] = row[kind]["s"]
                    entry[f"{kind}_all_s"] = row[kind]["all_s"]
                    entry[f"{kind}_mfu"] = clips * flops / peak
                    entry[f"{kind}_peak_bytes"] = row[kind].get("peak_bytes")
                    entry["memory_method"] = row[kind].get("memory_method")
            self.results["encoder"].append(entry)
        models.clear()
        gc.collect()
        _malloc_trim()

    def cpu_activation_fit(self, size, n_frames, models, batches=(1, 3)):
        """CPU: memory of forward + backward at two batch sizes -> per-clip cost.

        The slope is the activation memory of one clip (what checkpointing
        saves); the intercept is what does not grow with the batch (the
        gradients, mostly). No optimizer step: its state exists already.
        """
        encoder, head = models["ours"]
        self.log(f"[memory] {size} {n_frames} frames, batches {batches}")
        for name in ("ours", "ours+ckpt", "hf-sdpa"):
            points = []
            for batch in batches:
                x = torch.randn(batch, n_frames, 128)
                y = torch.zeros(batch, N_CLASSES)
                if name.startswith("ours"):
                    encoder.train()
                    encoder.activation_checkpointing = name == "ours+ckpt"
                    params = list(encoder.parameters()) + list(head.parameters())

                    def logits(x=x):
                        return head(encoder(x)).squeeze(1)

                else:
                    model = models[name].train()
                    params = list(model.parameters())

                    def logits(x=x, model=model):
                        return model(input_values=x).logits

                for p in params:
                    p.grad = None
                with PeakMemory(self.device) as mem:
                    F.binary_cross_entropy_with_logits(logits(), y).backward()
                encoder.activation_checkpointing = False
                for p in params:
                    p.grad = None
                points.append((batch, mem.peak))
            if any(m is None for _, m in points):
                continue
            (b1, m1), (b2, m2) = points
            per_clip = (m2 - m1) / (b2 - b1)
            self.results["activation_fit"].append(
                {
                    "size": size,
                    "frames": n_frames,
                    "peer": name,
                    "batches": list(batches),
                    "peak_bytes": [m1, m2],
                    "per_clip_bytes": per_clip,
                    "fixed_bytes": m1 - b1 * per_clip,
                }
            )

    def memory_fit(self, size, dims, n_frames, models, optimizers):
        """GPU: peak training memory against batch -> largest batch per GPU size."""
        encoder, head = models["ours"]
        total = torch.cuda.get_device_properties(self.device).total_memory
        for name in ("ours", "ours+ckpt", "hf-sdpa"):
            points = []
            for batch in (2, 4):
                x = torch.randn(batch, n_frames, 128, device=self.device)
                y = torch.zeros(batch, N_CLASSES, device=self.device)

                def step(name=name, x=x, y=y):
                    if name.startswith("ours"):
                        encoder.train()
                        encoder.activation_checkpointing = name == "ours+ckpt"
                        opt = optimizers["ours"]
                        opt.zero_grad(set_to_none=True)
                        with self.amp():
                            logits = head(encoder(x)).squeeze(1)
                        encoder.activation_checkpointing = False
                    else:
                        model, opt = models[name], optimizers[name]
                        model.train()
                        opt.zero_grad(set_to_none=True)
                        with self.amp():
                            logits = model(input_values=x).logits
                    F.binary_cross_entropy_with_logits(logits.float(), y).backward()
                    opt.step()

                step()
                gc.collect()
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(self.device)
                step()
                sync(self.device)
                points.append((batch, torch.cuda.max_memory_reserved(self.device)))
            (b1, m1), (b2, m2) = points
            per_clip = max((m2 - m1) / (b2 - b1), 1.0)
            fixed = m1 - b1 * per_clip
            sizes = sorted(set(GPU_MEMORY_SIZES_GB) | {round(total / 1e9)})
            largest = {
                gb: max(int((gb * 1e9 * 0.95 - 1e9 - fixed) // per_clip), 0)
                for gb in sizes
            }
            self.results["memory_fit"].append(
                {
                    "size": size,
                    "frames": n_frames,
                    "peer": name,
                    "fixed_gb": fixed / 1e9,
                    "per_clip_gb": per_clip / 1e9,
                    "largest_batch": largest,
                    "this_gpu_gb": round(total / 1e9),
                }
            )
            gc.collect()
            torch.cuda.empty_cache()

    # ------------------------------------------------------------ features
    def run_features(self):
        import transformers

        extractor = transformers.ASTFeatureExtractor(
            max_length=1024,
            mean=NORM_STATS["audioset"][0],
            std=NORM_STATS["audioset"][1],
        )
        for seconds in self.args.seconds:
            self.feature_case(seconds, extractor)

    def feature_case(self, seconds, extractor):
        from torchaudio.compliance import kaldi

        args = self.args
        n_clips = args.feature_clips
        n_frames = SECONDS_TO_FRAMES[seconds]
        self.log(f"[features] {seconds} s, {n_clips} clips")
        torch.manual_seed(0)
        n_samples = seconds * SAMPLE_RATE
        # Lengths from 60 % to 100 % of the longest: padding is realistic.
        counts = (torch.linspace(0.6, 1.0, n_clips) * n_samples).round().long()
        wavs = 0.1 * torch.randn(n_clips, n_samples)
        for i, count in enumerate(counts.tolist()):
            wavs[i, count:] = 0.0
        clips_np = [wavs[i, :c].numpy() for i, c in enumerate(counts.tolist())]
        wavs = wavs.to(self.device)
        lens = (counts.float() / n_samples).to(self.device)
        extractor.max_length = n_frames
        batched = KaldiFbank(n_frames=n_frames).to(self.device)
        one_block = KaldiFbank(n_frames=n_frames, chunk_frames=None).to(self.device)

        def loop():
            # The official AST dataloader (and HF's extractor) way: clip by clip.
            out = []
            for wav, count in zip(wavs, counts.tolist()):
                wav = wav[:count]
                feats = kaldi.fbank(
                    (wav - wav.mean()).unsqueeze(0),
                    htk_compat=True,
                    sample_frequency=SAMPLE_RATE,
                    use_energy=False,
                    window_type="hanning",
                    num_mel_bins=128,
                    dither=0.0,
                    frame_shift=10,
                )
                missing = n_frames - feats.shape[0]
                if missing > 0:
                    feats = F.pad(feats, (0, 0, 0, missing))
                out.append(feats[:n_frames])
            return torch.stack(out)

        def hf():
            return extractor(clips_np, sampling_rate=SAMPLE_RATE, return_tensors="pt")[
                "input_values"
            ]

        fns = {
            "ours batched (KaldiFbank)": lambda: batched(wavs, lens),
            "torchaudio per-clip loop": loop,
            "HF ASTFeatureExtractor": hf,
        }
        if not self.cuda:
            fns["ours batched, one block"] = lambda: one_block(wavs, lens)
        with torch.no_grad():
            diff = float((batched(wavs, lens) - loop()).abs().max())
            res = interleaved(fns, self.device, args.repeats, args.warmup, memory=False)
        for name, row in res.items():
            self.results["features"].append(
                {
                    "seconds": seconds,
                    "clips": n_clips,
                    "peer": name,
                    "device": "cpu" if name.startswith("HF") else str(self.device),
                    "clips_s": n_clips / row["s"],
                    "all_s": row["all_s"],
                    "max_abs_vs_loop": diff if name.startswith("ours") else None,
                }
            )
        if self.cuda or seconds != max(args.seconds):
            return
        chunks = {
            str(chunk): KaldiFbank(n_frames=n_frames, chunk_frames=chunk)
            for chunk in args.fbank_chunks
        }
        with torch.no_grad():
            res = interleaved(
                {name: (lambda m=m: m(wavs, lens)) for name, m in chunks.items()},
                self.device,
                args.repeats,
                args.warmup,
                memory=False,
            )
        for name, row in res.items():
            self.results["fbank_chunks"].append(
                {
                    "seconds": seconds,
                    "chunk_frames": name,
                    "clips_s": n_clips / row["s"],
                }
            )

    # ------------------------------------------------------------ optimizer
    def run_optimizer(self):
        args = self.args
        size = args.sizes[-1]
        dim, depth, heads = SIZES[size]
        self.log(f"[optimizer] Adam on {size} parameters")
        torch.manual_seed(0)
        encoder = AudioSpectrogramTransformer(
            n_frames=128, embed_dim=dim, depth=depth, num_heads=heads
        ).to(self.device)
        base = [p.detach() for p in encoder.parameters()]
        n_params = sum(p.numel() for p in base)
        variants = {
            "default": {},
            "foreach=True": {"foreach": True},
            "fused=True": {"fused": True},
        }
        fns = {}
        for name, kwargs in variants.items():
            params = [torch.nn.Parameter(p.clone()) for p in base]
            for p in params:
                p.grad = torch.randn_like(p) * 1e-3
            try:
                opt = make_adam(params, **kwargs)
                opt.step()
            except (RuntimeError, ValueError) as error:
                self.results["notes"].append(f"Adam {name}: {error}")
                continue
            fns[name] = opt.step
        res = interleaved(
            fns,
            self.device,
            max(args.repeats, 3),
            args.warmup,
            memory=not args.no_memory,
        )
        for name, row in res.items():
            self.results["optimizer"].append(
                {
                    "size": size,
                    "params_m": n_params / 1e6,
                    "variant": name,
                    "step_ms": 1000 * row["s"],
                    "peak_bytes": row.get("peak_bytes"),
                }
            )
        del encoder, base, fns
        gc.collect()

    # ------------------------------------------------------------ int8
    def real_clips(self, limit=None):
        """Real audio paths: shared ESC-50 (spread over classes) and bundled samples.

        With ``limit``, about three quarters come from the shared ESC-50 copy
        when it is present, the rest from ``tests/samples``.
        """
        samples = sorted(
            glob.glob(str(REPO / "tests" / "samples" / "**" / "*.wav"), recursive=True)
        )
        esc = sorted(glob.glob(str(SHARED_DATA / "esc50" / "audio" / "*.flac")))
        if not limit:
            return esc + samples
        n_esc = min(len(esc), max(limit - len(samples), limit * 3 // 4))
        # Every k-th file: ESC-50 names sort by fold, so this spans the classes.
        esc = esc[:: max(len(esc) // max(n_esc, 1), 1)][:n_esc]
        return esc + samples[: limit - len(esc)]

    def random_model_folder(self, dims, n_frames, root, name):
        from speechbrain_ast.model_folder import write_model_folder

        torch.manual_seed(0)
        dim, depth, heads = dims
        encoder = AudioSpectrogramTransformer(
            n_frames=n_frames, embed_dim=dim, depth=depth, num_heads=heads
        )
        head = ClassificationHead(dim, N_CLASSES)
        labels = [f"class_{i}" for i in range(N_CLASSES)]
        mean, std = NORM_STATS["esc50"]
        return write_model_folder(
            os.path.join(root, name),
            encoder,
            head,
            labels,
            mean,
            std,
            False,
            origin="benchmark (random weights)",
        )

    def run_int8(self):
        from speechbrain_ast.audio import load_audio
        from speechbrain_ast.inference import AudioTagger, window_starts

        args = self.args
        if self.cuda:
            self.results["int8"]["skipped"] = "int8 dynamic quantisation is CPU only"
            return
        with tempfile.TemporaryDirectory() as root:
            # --- accuracy: fp32 against int8 on real clips
            if args.model:
                folder, weights = args.model, f"trained model folder {args.model}"
            else:
                size = args.sizes[-1]
                folder = self.random_model_folder(SIZES[size], 512, root, "agree")
                weights = (
                    f"RANDOM weights (AST-{size}, 512 frames, {N_CLASSES} classes): "
                    "no --model given; a weak test (near-uniform scores)"
                )
            self.log(f"[int8] agreement with {weights}")
            fp32 = AudioTagger.from_hparams(source=folder)
            int8 = AudioTagger.from_hparams(source=folder, int8=True)
            window = fp32.window_samples
            paths = self.real_clips(args.agreement_clips)
            wavs = [load_audio(p, sample_rate=fp32.sample_rate)[:window] for p in paths]
            scores = {"fp32": [], "int8": []}
            for first in range(0, len(wavs), 8):
                chunk = wavs[first : first + 8]
                longest = max(w.numel() for w in chunk)
                batch = torch.stack([F.pad(w, (0, longest - w.numel())) for w in chunk])
                lens = torch.tensor([w.numel() / longest for w in chunk])
                for name, tagger in (("fp32", fp32), ("int8", int8)):
                    scores[name].append(tagger.score_batch(batch, lens))
            ref, quant = torch.cat(scores["fp32"]), torch.cat(scores["int8"])
            diff = (ref - quant).abs()
            top2 = ref.topk(min(2, ref.shape[1]), dim=1).values
            agreement = {
                "weights": weights,
                "clips": len(paths),
                "clip_sources": sorted({Path(p).parent.parent.name for p in paths}),
                "top1_agreement": float(
                    (ref.argmax(1) == quant.argmax(1)).float().mean()
                ),
                "max_abs_score_diff": float(diff.max()),
                "mean_abs_score_diff": float(diff.mean()),
                "mean_top1_score": float(top2[:, 0].mean()),
                "mean_top1_margin": float((top2[:, 0] - top2[:, -1]).mean()),
            }
            self.results["int8"]["agreement"] = agreement
            del fp32, int8

            # --- speed: seconds of audio tagged per second, tag_file on a long clip
            long_path = os.path.join(root, "long.wav")
            self.write_long_clip(long_path, args.tag_seconds, load_audio)
            folders = []
            tag_frames = args.tag_frames or [SECONDS_TO_FRAMES[max(args.seconds)]]
            for size in args.sizes:
                for n_frames in tag_frames:
                    folders.append(
                        (
                            f"AST-{size} (random weights, {n_frames} frames)",
                            self.random_model_folder(
                                SIZES[size], n_frames, root, f"speed_{size}_{n_frames}"
                            ),
                            size,
                        )
                    )
            if args.model:
                folders.append((f"--model {args.model}", args.model, None))
            self.results["int8"]["tagging"] = []
            for label, folder, size in folders:
                self.log(f"[int8] tag_file speed: {label}")
                taggers = {
                    "fp32": AudioTagger.from_hparams(source=folder),
                    "int8": AudioTagger.from_hparams(source=folder, int8=True),
                }
                for tagger in taggers.values():  # warm-up: one window
                    tagger.tag_waveform(torch.zeros(tagger.window_samples))
                res = interleaved(
                    {
                        name: (
                            lambda t=t: t.tag_file(long_path, batch_size=args.tag_batch)
                        )
                        for name, t in taggers.items()
                    },
                    self.device,
                    max(1, min(args.repeats, 2)),
                    0,
                    memory=False,
                )
                window = taggers["fp32"].window_samples
                n_windows = len(
                    window_starts(
                        int(args.tag_seconds * SAMPLE_RATE), window, window // 2
                    )
                )
                entry = {
                    "model": label,
                    "size": size,
                    "frames": taggers["fp32"].mods.embedding_model.n_frames,
                    "audio_s": args.tag_seconds,
                    "fp32_audio_s_per_s": args.tag_seconds / res["fp32"]["s"],
                    "int8_audio_s_per_s": args.tag_seconds / res["int8"]["s"],
                    "fp32_all_s": res["fp32"]["all_s"],
                    "int8_all_s": res["int8"]["all_s"],
                    "windows": n_windows,
                }
                entry["speedup"] = (
                    entry["int8_audio_s_per_s"] / entry["fp32_audio_s_per_s"]
                )
                self.results["int8"]["tagging"].append(entry)
                del taggers
                gc.collect()

    def write_long_clip(self, path, seconds, load_audio):
        """Concatenate real clips (or noise if none) into a ``seconds`` long wav."""
        import soundfile

        target = int(seconds * SAMPLE_RATE)
        pieces, total = [], 0
        for clip in self.real_clips(0):
            if total >= target:
                break
            wav = load_audio(clip, sample_rate=SAMPLE_RATE)
            pieces.append(wav)
            total += wav.numel()
        if total < target:
            pieces.append(0.05 * torch.randn(target - total))
        wav = torch.cat(pieces)[:target]
        soundfile.write(path, wav.numpy(), SAMPLE_RATE)

    # ------------------------------------------------------------ targets
    def evaluate_targets(self):
        """Check the issue's CPU fp32 targets against the measured medians."""
        targets = []
        by = {(r["size"], r["seconds"], r["peer"]): r for r in self.results["encoder"]}
        ratios = []
        for (size, seconds, peer), row in by.items():
            ref = by.get((size, seconds, "hf-sdpa"))
            if (
                peer == "ours"
                and "infer_clips_s" in row
                and "infer_clips_s" in (ref or {})
            ):
                ratios.append(
                    (row["infer_clips_s"] / ref["infer_clips_s"], size, seconds)
                )
        if ratios:
            worst = min(ratios)
            targets.append(
                {
                    "target": "encoder inference >= 0.95x HF sdpa",
                    "measured": ", ".join(
                        f"{s} {sec} s: {r:.2f}x" for r, s, sec in ratios
                    ),
                    "met": worst[0] >= 0.95,
                }
            )
        feats = {(r["seconds"], r["peer"]): r for r in self.results["features"]}
        ratios = [
            (
                feats[(sec, "ours batched (KaldiFbank)")]["clips_s"]
                / feats[(sec, "torchaudio per-clip loop")]["clips_s"],
                sec,
            )
            for sec in sorted({k[0] for k in feats})
        ]
        if ratios:
            targets.append(
                {
                    "target": "batched fbank >= 1.0x per-clip torchaudio loop",
                    "measured": ", ".join(f"{sec} s: {r:.2f}x" for r, sec in ratios),
                    "met": min(ratios)[0] >= 1.0,
                }
            )
        tagging = self.results["int8"].get("tagging") or []
        sized = [t for t in tagging if t["size"] is not None]
        if sized:
            targets.append(
                {
                    "target": "int8 tagging >= 1.8x fp32",
                    "measured": ", ".join(
                        f"{t['model'].split(' (')[0]} {t['frames']} frames: "
                        f"{t['speedup']:.3f}x"
                        for t in sized
                    ),
                    "met": min(t["speedup"] for t in sized) >= 1.8,
                }
            )
        agreement = self.results["int8"].get("agreement")
        if agreement:
            targets.append(
                {
                    "target": "int8 top-1 agreement >= 95 % on real clips",
                    "measured": f"{100 * agreement['top1_agreement']:.1f} % "
                    f"({agreement['clips']} clips"
                    + (
                        ", random weights)" if "RANDOM" in agreement["weights"] else ")"
                    ),
                    "met": agreement["top1_agreement"] >= 0.95,
                }
            )
        if self.cuda:
            for target in targets:
                target["met"] = None  # the targets are CPU fp32 targets
        self.results["targets"] = targets

    # ------------------------------------------------------------ report
    def render(self):
        """Markdown report of everything measured."""
        res, args, m = self.results, self.args, self.results["machine"]
        precision = "bf16 autocast" if self.cuda else "fp32"
        lines = [
            f"### {'CUDA' if self.cuda else 'CPU'} ({precision}), {m['date']}",
            "",
            f"- Machine: {m['cpu']}, {m['cores']} cores"
            + (f", GPU {m['gpu']} ({m['gpu_memory_gb']} GB)" if self.cuda else "")
            + f"; {m['threads']} torch thread(s); torch {m['torch']}, "
            f"transformers {m['transformers']}, Python {m['python']}",
            f"- Command: `{m['command']}`",
            f"- Each figure: median of {args.repeats} interleaved repeats after "
            f"{args.warmup} warm-up; batch {args.batch}; random weights, identical "
            "in every peer. Clock: "
            + (
                "process CPU time (1 thread: the time the work ran, whatever "
                "else the machine was doing)"
                if m["clock"] == "cpu"
                else "wall time"
            )
            + f". MFU basis: {res['peak']['mfu_basis']} = "
            f"{res['peak']['flops'] / 1e9:,.0f} GFLOP/s.",
            f"- Wall time of the whole run: {m['wall_s']:.0f} s.",
            "",
        ]
        if res["targets"]:
            lines += ["**Targets**", "", "| target | measured | met |", "|---|---|---|"]
            for t in res["targets"]:
                met = {True: "yes", False: "**no**", None: "n/a (CPU target)"}[t["met"]]
                lines.append(f"| {t['target']} | {t['measured']} | {met} |")
            lines.append("")
        if res["encoder"]:
            lines += [
                "**Encoder inference and training step** (clips/s; x = ratio to "
                "hf-sdpa; memory = peak growth during one call)",
                "",
                "| size | audio | tokens | peer | infer clips/s | x | MFU | infer mem | "
                "train clips/s | x | MFU | train mem | max abs diff |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            ]
            by = {(r["size"], r["seconds"], r["peer"]): r for r in res["encoder"]}
            for r in res["encoder"]:
                ref = by.get((r["size"], r["seconds"], "hf-sdpa"), {})
                cells = [r["size"], f"{r['seconds']} s", str(r["tokens"]), r["peer"]]
                for kind in ("infer", "train"):
                    if f"{kind}_clips_s" in r:
                        ratio = (
                            r[f"{kind}_clips_s"] / ref[f"{kind}_clips_s"]
                            if ref.get(f"{kind}_clips_s")
                            else None
                        )
                        cells += [
                            f"{r[f'{kind}_clips_s']:.3g}",
                            f"{ratio:.2f}" if ratio else "-",
                            f"{100 * r[f'{kind}_mfu']:.0f} %",
                            fmt_bytes(r.get(f"{kind}_peak_bytes")),
                        ]
                    else:
                        cells += ["-", "-", "-", "-"]
                diff = r.get("parity_max_abs")
                cells.append("-" if diff is None else f"{diff:.1e}")
                lines.append("| " + " | ".join(cells) + " |")
            method = next(
                (
                    r.get("memory_method")
                    for r in res["encoder"]
                    if r.get("memory_method")
                ),
                None,
            )
            # pos_embed grows with the input: keep the largest per size.
            grads = {}
            for r in res["encoder"]:
                if r.get("grad_bytes"):
                    grads[r["size"]] = max(grads.get(r["size"], 0), r["grad_bytes"])
            lines += [
                "",
                f"Memory method: {method or 'not measured'}. A training step "
                "peaks when the backward pass has freed some activations and "
                "allocated some fp32 gradients ("
                + ", ".join(f"{fmt_bytes(b)} in all for {s}" for s, b in grads.items())
                + "); the Adam state already exists after the warm-up.",
                "",
            ]
        if res["memory_fit"]:
            sizes = sorted(next(iter(res["memory_fit"]))["largest_batch"])
            lines += [
                "**Largest training batch at 10 s per GPU memory size** (linear fit "
                "of peak reserved memory at batch 2 and 4; 95 % of memory minus 1 GB)",
                "",
                "| size | peer | fixed GB | GB per clip | "
                + " | ".join(f"{gb} GB" for gb in sizes)
                + " |",
                "|---|---|---|---|" + "---|" * len(sizes),
            ]
            for r in res["memory_fit"]:
                lines.append(
                    f"| {r['size']} | {r['peer']} | {r['fixed_gb']:.2f} | "
                    f"{r['per_clip_gb']:.3f} | "
                    + " | ".join(str(r["largest_batch"][gb]) for gb in sizes)
                    + " |"
                )
            lines.append("")
        elif not self.cuda and res["encoder"]:
            lines += [
                "Largest batch per GPU memory size: GPU only (not measured on CPU).",
                "",
            ]
        if res["activation_fit"]:
            r0 = res["activation_fit"][0]
            lines += [
                f"**Forward + backward memory against batch** ({r0['frames']} frames; "
                f"peak RSS growth at batch {r0['batches'][0]} and {r0['batches'][1]}; "
                "per clip = slope = activations of one clip; fixed = intercept, "
                "mostly the gradients)",
                "",
                "| size | peer | "
                + " | ".join(f"batch {b}" for b in r0["batches"])
                + " | per clip | fixed |",
                "|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {r['size']} | {r['peer']} | "
                + " | ".join(fmt_bytes(b) for b in r["peak_bytes"])
                + f" | {fmt_bytes(r['per_clip_bytes'])} | {fmt_bytes(r['fixed_bytes'])} |"
                for r in res["activation_fit"]
            ]
            lines.append("")
        if res["features"]:
            lines += [
                f"**Features** ({res['features'][0]['clips']} clips per call, lengths "
                "60-100 % of the longest; clips/s; x = ratio to the per-clip loop)",
                "",
                "| audio | peer | device | clips/s | x | max abs diff vs loop |",
                "|---|---|---|---|---|---|",
            ]
            by = {(r["seconds"], r["peer"]): r for r in res["features"]}
            for r in res["features"]:
                ref = by[(r["seconds"], "torchaudio per-clip loop")]
                diff = r["max_abs_vs_loop"]
                lines.append(
                    f"| {r['seconds']} s | {r['peer']} | {r['device']} | "
                    f"{r['clips_s']:.1f} | {r['clips_s'] / ref['clips_s']:.2f} | "
                    + ("-" if diff is None else f"{diff:.1e}")
                    + " |"
                )
            lines.append("")
        if res["fbank_chunks"]:
            sec = res["fbank_chunks"][0]["seconds"]
            lines += [
                f"**KaldiFbank `chunk_frames` on CPU** ({sec} s clips)",
                "",
                "| chunk_frames | clips/s |",
                "|---|---|",
            ]
            lines += [
                f"| {r['chunk_frames']} | {r['clips_s']:.1f} |"
                for r in res["fbank_chunks"]
            ]
            lines.append("")
        if res["optimizer"]:
            r0 = res["optimizer"][0]
            lines += [
                f"**Adam step** (AST-{r0['size']} encoder, {r0['params_m']:.1f} M "
                "parameters)",
                "",
                "| variant | ms per step | peak memory growth |",
                "|---|---|---|",
            ]
            lines += [
                f"| {r['variant']} | {r['step_ms']:.1f} | {fmt_bytes(r['peak_bytes'])} |"
                for r in res["optimizer"]
            ]
            lines.append("")
        int8 = res["int8"]
        if int8.get("skipped"):
            lines += [f"int8: {int8['skipped']}.", ""]
        if int8.get("agreement"):
            a = int8["agreement"]
            lines += [
                "**int8 (dynamic, Linear layers) against fp32**",
                "",
                f"- Model: {a['weights']}.",
                f"- {a['clips']} real clips ({', '.join(a['clip_sources'])}): top-1 "
                f"agreement {100 * a['top1_agreement']:.1f} %, score difference max "
                f"{a['max_abs_score_diff']:.2e}, mean {a['mean_abs_score_diff']:.2e} "
                f"(mean top-1 score {a['mean_top1_score']:.3f}, mean top-1 margin "
                f"{a['mean_top1_margin']:.3f}).",
                "",
            ]
        if int8.get("tagging"):
            lines += [
                f"**Tagging speed** (`AudioTagger.tag_file`, {int8['tagging'][0]['audio_s']:g} s "
                "file, half-window hop; seconds of audio per second)",
                "",
                "| model | fp32 | int8 | int8 / fp32 |",
                "|---|---|---|---|",
            ]
            lines += [
                f"| {t['model']} | {t['fp32_audio_s_per_s']:.2f} | "
                f"{t['int8_audio_s_per_s']:.2f} | {t['speedup']:.2f}x |"
                for t in int8["tagging"]
            ]
            lines.append("")
        for note in res["notes"]:
            lines.append(f"- Note: {note}")
        return "\n".join(lines).rstrip() + "\n"


def fmt_bytes(value):
    """Bytes as MB/GB text ("-" when unknown)."""
    if value is None:
        return "-"
    if abs(value) >= 1e9:
        return f"{value / 1e9:.2f} GB"
    return f"{value / 1e6:.0f} MB"


def write_report(path, key, text):
    """Put ``text`` between this key's markers in ``path``, keeping the rest."""
    begin, end = MARK_BEGIN.format(key=key), MARK_END.format(key=key)
    block = f"{begin}\n{text}{end}\n"
    old = ""
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            old = handle.read()
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        if not old:
            old = "# Benchmark results\n\nWritten by `benchmarks/benchmark.py`.\n"
        new = old.rstrip("\n") + "\n\n" + block
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(new)
    os.replace(path + ".tmp", path)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads on CPU (default: torch's default, the physical cores)",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=None,
        choices=sorted(SIZES),
        help="model sizes (default: base)",
    )
    parser.add_argument(
        "--seconds",
        nargs="+",
        type=int,
        default=None,
        choices=sorted(SECONDS_TO_FRAMES),
        help="default: 1 5 10",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="clips per step (default: 1 on CPU, 32 on CUDA)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed repeats per peer (default: 3 on CPU, 10 on CUDA)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed runs first (default: 1 on CPU, 3 on CUDA)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny model, short inputs, few repeats (< 60 s; for tests)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="trained model folder for the int8 accuracy (and speed)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="Markdown file to update (default: benchmarks/RESULTS.md; "
        "none with --quick)",
    )
    parser.add_argument(
        "--section",
        default=None,
        help="name of the section of --out to replace (default: cpu or cuda, "
        "plus -quick with --quick); give partial runs their own",
    )
    parser.add_argument("--json", default=None, help="also write raw results here")
    parser.add_argument(
        "--feature-clips",
        type=int,
        default=None,
        help="clips per feature call (default: 16; 4 with --quick)",
    )
    parser.add_argument(
        "--fbank-chunks",
        nargs="+",
        type=lambda s: None if s == "none" else int(s),
        default=[256, 512, 1024, 2048, 4096, None],
        help="KaldiFbank chunk_frames values to compare on CPU",
    )
    parser.add_argument(
        "--agreement-clips",
        type=int,
        default=None,
        help="real clips for int8 agreement (default: 100; 12 with --quick)",
    )
    parser.add_argument(
        "--tag-seconds",
        type=float,
        default=None,
        help="length of the long file for tag_file (default: 60)",
    )
    parser.add_argument("--tag-batch", type=int, default=8, help="tag_file batch_size")
    parser.add_argument(
        "--tag-frames",
        nargs="+",
        type=int,
        default=None,
        help="model input lengths (frames) for the tagging speed (default: the "
        "longest --seconds, 1024 = 10 s windows)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time our encoder under torch.compile",
    )
    parser.add_argument(
        "--clock",
        choices=("auto", "wall", "cpu"),
        default="auto",
        help="wall time, or process CPU time (auto: CPU time on CPU with 1 thread, "
        "immune to other jobs on a shared machine; wall time otherwise)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip memory passes")
    for part in ("inference", "train", "features", "optimizer", "int8"):
        parser.add_argument(f"--skip-{part}", action="store_true", help=f"skip {part}")
    args = parser.parse_args(argv)

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda but torch.cuda.is_available() is False")
    cuda = args.device.startswith("cuda")
    quick = args.quick
    defaults = {
        "sizes": ["quick"] if quick else ["base"],
        "seconds": [1, 5] if quick else [1, 5, 10],
        "batch": 2 if quick else (32 if cuda else 1),
        "repeats": 2 if quick else (10 if cuda else 3),
        "warmup": 1 if quick or not cuda else 3,
        "feature_clips": 4 if quick else 16,
        # Random weights make agreement a weak test: fewer clips keep the
        # default CPU run short; a trained --model gets 100.
        "agreement_clips": 12 if quick else (100 if args.model else 40),
        "tag_seconds": 12.0 if quick else 60.0,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.out is None and not quick:
        args.out = str(REPO / "benchmarks" / "RESULTS.md")
    return args


def main(argv=None):
    start = time.perf_counter()
    args = parse_args(argv)
    if args.threads is None and args.quick:
        args.threads = 1  # tiny model: threads only add noise
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.clock == "auto":
        single = not args.device.startswith("cuda") and torch.get_num_threads() == 1
        args.clock = "cpu" if single else "wall"
    set_clock(args.clock)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    bench = Bench(args)
    info = machine_info(bench.device)
    info["command"] = "python benchmarks/benchmark.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    bench.results["machine"] = info
    bench.log(f"machine: {info}")
    sections = [("peak", bench.measure_peak, False)] + [
        (name, getattr(bench, f"run_{name}"), skip)
        for name, skip in (
            ("encoder", args.skip_inference and args.skip_train),
            ("features", args.skip_features),
            ("optimizer", args.skip_optimizer),
            ("int8", args.skip_int8),
        )
    ]
    for name, run, skip in sections:
        if not skip:
            began = time.perf_counter()
            run()
            info.setdefault("section_s", {})[name] = round(
                time.perf_counter() - began, 1
            )
            bench.log(f"  {name}: {info['section_s'][name]} s")
    bench.evaluate_targets()
    info["wall_s"] = time.perf_counter() - start
    text = bench.render()
    print(text)
    if args.out:
        key = args.section or (
            ("cuda" if bench.cuda else "cpu") + ("-quick" if args.quick else "")
        )
        write_report(args.out, key, text)
        bench.log(f"wrote {args.out} (section {key})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(bench.results, handle, indent=1, default=str)
    return bench.results


if __name__ == "__main__":
    main()
