#!/usr/bin/env python
"""`make gpu-check`: the prepared measurement of AST-base on one GPU, in one run.

Runs, within ``--budget-s`` seconds (default 450: the script stops itself
before 8 minutes), and writes ``gpu_check.json`` (after every step, so a
killed run keeps what it measured) and ``gpu_check.md`` into ``--out``:

1. correctness: logits of AST-base (random weights, seed 0) on real clips in
   fp32 and bf16 autocast on the GPU against the CPU fp32 reference (max
   abs difference; bf16 top-1 agreement); batched ``KaldiFbank`` on the GPU
   against ``torchaudio.compliance.kaldi.fbank`` on the CPU clip by clip;
   the SDPA backend that actually ran (profiler op names); a 2-step DDP run
   on one GPU with NCCL (a subprocess);
2. throughput against HF ``ASTForAudioClassification`` (sdpa), same weights,
   bf16 autocast, at 1024, 512 and 128 frames (1214, 602, 146 tokens):
   training and inference clips/s, peak memory; the largest training batch
   without activation checkpointing at 1024 frames; batched fbank on the GPU
   against the per-clip CPU loop; patchout (PaSST setting) against none;
3. the ESC-50 recipe (``recipes/ESC50/train.py``, AST-base from scratch,
   fold 5, 512 frames, GPU fbank, bf16) for as many epochs as fit the time
   left (about 4 minutes): clips/s end to end, data-wait share, test
   accuracy.

``--smoke`` runs the same code on the CPU with a tiny model, a few steps and
the bundled ``tests/samples`` clips (``make test`` runs it), so the script
cannot rot before a GPU session comes. ``--record FILE.json`` writes the
Markdown of a finished run into ``benchmarks/RESULTS.md`` (section
``gpu-check``). The data reaches the GPU machine as a bundle written by
``benchmarks/gpu_data.py`` (see ``benchmarks/gpu_check_prepare.sh``).

Usage::

    python benchmarks/gpu_check.py --data .gpu/esc50_vorbis.tar --out results/gpu_check
    python benchmarks/gpu_check.py --smoke --out results/gpu_check_smoke
    python benchmarks/gpu_check.py --record results/gpu_check/gpu_check.json

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import contextlib
import csv
import gc
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from benchmarks import patchout  # noqa: E402
from benchmarks.measure import (  # noqa: E402
    amp,
    interleaved,
    machine_info,
    set_clock,
    sync,
)
from benchmarks.peers import N_CLASSES, SAMPLE_RATE, SIZES, build_models, make_adam  # noqa: E402
from benchmarks.report import fmt_bytes, markdown_table, write_report  # noqa: E402
from speechbrain_ast.features import NORM_STATS, FixedNormalization, KaldiFbank  # noqa: E402
from speechbrain_ast.flops import ast_forward_flops, training_flops  # noqa: E402
from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead  # noqa: E402

SAMPLES_LAYOUT = REPO / "tests" / "samples" / "ESC-50-master"
SECTION = "gpu-check"

# Full run (GPU) and smoke run (CPU): sizes, lengths, batches, repeats.
CONFIGS = {
    "gpu": {
        "size": "base",
        "frames": [1024, 512, 128],
        "batch": {1024: 64, 512: 128, 128: 256},
        "repeats": 10,
        "warmup": 3,
        "clips": 16,
        "fbank_clips": 64,
        "largest_batch_cap": 2048,
        "recipe_seconds": 240,
        "recipe_args": ["--num_workers", "12", "--device", "cuda:0"],
    },
    "smoke": {
        "size": "quick",
        "frames": [128],
        "batch": {128: 2, 512: 2},
        "repeats": 1,
        "warmup": 1,
        "clips": 4,
        "fbank_clips": 4,
        "largest_batch_cap": 8,
        "recipe_seconds": 120,
        "recipe_args": [
            "--embed_dim",
            "32",
            "--depth",
            "1",
            "--num_heads",
            "2",
            "--n_classes",
            "2",
            "--valid_ratio",
            "0.25",
            "--num_workers",
            "0",
            "--device",
            "cpu",
        ],  # fmt: skip
    },
}

# The targets (H100/H200, bf16, AST-base, 1214 tokens).
TARGETS = {
    "train_clips_s": 500.0,
    "infer_clips_s": 1500.0,
    "train_vs_hf": 1.5,
    "largest_batch": 128,
    "fbank_speedup": 20.0,
    "recipe_vs_bare": 0.8,
    "patchout_speedup": 1.8,
    "fbank_max_abs": 1e-3,
}


class Budget:
    """Seconds left of the run's time budget."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.start = time.perf_counter()

    def used(self):
        return time.perf_counter() - self.start

    def left(self):
        return self.seconds - self.used()


class Check:
    """The run: options, device, config, results; saved after every step."""

    def __init__(self, args):
        self.args = args
        self.smoke = args.smoke
        self.cfg = CONFIGS["smoke" if args.smoke else "gpu"]
        self.device = torch.device(args.device)
        self.cuda = self.device.type == "cuda"
        self.budget = Budget(args.budget_s)
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.results = {"mode": "smoke (CPU, tiny model)" if self.smoke else "gpu"}
        self.work = Path(tempfile.mkdtemp(prefix="gpu_check_"))

    def log(self, *parts):
        print(f"[{self.budget.used():6.1f} s]", *parts, flush=True)

    def save(self):
        path = self.out / "gpu_check.json"
        with open(path.with_suffix(".tmp"), "w", encoding="utf-8") as handle:
            json.dump(self.results, handle, indent=1, default=str)
        os.replace(path.with_suffix(".tmp"), path)

    def amp(self):
        return amp(self.device)

    def step(self, name, fn, min_seconds):
        """Run one step unless too little time is left; keep errors, go on."""
        if self.budget.left() < min_seconds:
            self.results[name] = {"skipped": f"{self.budget.left():.0f} s left"}
            self.log(f"{name}: skipped ({self.budget.left():.0f} s left)")
            return
        began = time.perf_counter()
        self.log(f"{name} ...")
        try:
            self.results[name] = fn()
        except Exception as error:  # keep measuring the other steps
            traceback.print_exc()
            self.results[name] = {"error": f"{type(error).__name__}: {error}"[:600]}
        self.results[name]["seconds"] = round(time.perf_counter() - began, 1)
        if self.cuda:
            gc.collect()
            torch.cuda.empty_cache()
        self.save()


# ------------------------------------------------------------------ data
def real_clips(layout, count, seconds):
    """``count`` real clips of ``seconds`` (ESC-50 clips, joined when longer)."""
    import soundfile

    files = sorted((Path(layout) / "audio").glob("*.wav"))
    if not files:
        raise FileNotFoundError(f"no wav clips in {layout}/audio")
    step = max(len(files) // (count * 2), 1)  # spread over the classes
    pool = [soundfile.read(f, dtype="float32")[0] for f in files[::step][: count * 2]]
    need = int(seconds * SAMPLE_RATE)
    clips = []
    for i in range(count):
        parts, total, j = [], 0, i
        while total < need:
            parts.append(torch.from_numpy(pool[j % len(pool)]))
            total += parts[-1].numel()
            j += count
        clips.append(torch.cat(parts)[:need])
    return torch.stack(clips)


def model_dims(check):
    dim, depth, heads = SIZES[check.cfg["size"]]
    return {"embed_dim": dim, "depth": depth, "num_heads": heads}


# ------------------------------------------------------------------ 1. correctness
def correctness(check):
    """Logits on the GPU (fp32, bf16) against CPU fp32; GPU fbank against torchaudio."""
    from torchaudio.compliance import kaldi

    n_frames = 512
    wavs = real_clips(check.layout, check.cfg["clips"], 5.0)
    # Different lengths: the batched fbank must handle each clip's own end.
    lens = torch.linspace(0.6, 1.0, len(wavs))
    counts = (lens * wavs.shape[1]).round().long()
    for i, count in enumerate(counts.tolist()):
        wavs[i, count:] = 0.0
    loop = []
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
        loop.append(F.pad(feats, (0, 0, 0, max(n_frames - len(feats), 0)))[:n_frames])
    loop = torch.stack(loop)
    fbank = KaldiFbank(n_frames=n_frames)
    with torch.no_grad():
        on_device = fbank.to(check.device)(wavs.to(check.device), lens.to(check.device))
    fbank_diff = float((on_device.cpu() - loop).abs().max())

    feats = FixedNormalization(*NORM_STATS["esc50"])(loop)
    torch.manual_seed(0)
    encoder = AudioSpectrogramTransformer(n_frames=n_frames, **model_dims(check))
    head = ClassificationHead(encoder.embed_dim, N_CLASSES)
    encoder.eval()
    head.eval()
    with torch.no_grad():
        reference = head(encoder(feats)).squeeze(1)
        encoder.to(check.device)
        head.to(check.device)
        x = feats.to(check.device)
        with tf32_off():
            fp32 = head(encoder(x)).squeeze(1).float().cpu()
        with check.amp():
            bf16 = head(encoder(x)).squeeze(1).float().cpu()
    top2 = reference.topk(2, dim=1).values
    return {
        "clips": len(wavs),
        "frames": n_frames,
        "weights": "random (seed 0)",
        "fbank_max_abs_vs_torchaudio_cpu": fbank_diff,
        "fp32_max_abs_logits": float((fp32 - reference).abs().max()),
        "bf16_max_abs_logits": float((bf16 - reference).abs().max()),
        "bf16_top1_agreement": float(
            (bf16.argmax(1) == reference.argmax(1)).float().mean()
        ),
        "reference_logit_range": float(reference.max() - reference.min()),
        "reference_mean_top1_margin": float((top2[:, 0] - top2[:, 1]).mean()),
    }


@contextlib.contextmanager
def tf32_off():
    """fp32 means fp32: no TF32 in matmuls and convolutions inside."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


SDPA_OPS = {
    "flash": "aten::_scaled_dot_product_flash_attention",
    "efficient": "aten::_scaled_dot_product_efficient_attention",
    "cudnn": "aten::_scaled_dot_product_cudnn_attention",
    "math": "aten::_scaled_dot_product_attention_math",
}


def sdpa_backend(check):
    """Which SDPA kernel ran, read off the profiler's op names (ours and HF)."""
    from torch.profiler import ProfilerActivity, profile

    n_frames = check.cfg["frames"][0]
    models = build_models(SIZES[check.cfg["size"]], n_frames, check.device, eager=False)
    encoder, _ = models["ours"]
    x = torch.randn(2, n_frames, 128, device=check.device)
    runs = {
        "ours": lambda: encoder.eval()(x),
        "hf-sdpa": lambda: models["hf-sdpa"].eval().audio_spectrogram_transformer(x),
    }
    found = {}
    for name, fn in runs.items():
        with torch.no_grad(), check.amp():
            fn()
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                fn()
                sync(check.device)
        ops = {event.key for event in prof.key_averages()}
        found[name] = sorted(
            backend
            for backend, op in SDPA_OPS.items()
            if any(key.startswith(op) for key in ops)
        ) or ["none found"]
    return {
        "precision": "bf16 autocast" if check.cuda else "fp32",
        "backends": {name: ", ".join(b) for name, b in found.items()},
        "flash_available": bool(
            check.cuda and torch.backends.cuda.is_flash_attention_available()
        ),
    }


def ddp(check):
    """Two DDP training steps on one device (NCCL on GPU, gloo on CPU), a subprocess."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(
        os.environ,
        RANK="0",
        LOCAL_RANK="0",
        WORLD_SIZE="1",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    )
    command = [sys.executable, __file__, "--ddp-worker", "--device", str(check.device)]
    if check.smoke:
        command.append("--smoke")
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        raise RuntimeError(
            f"DDP worker failed ({proc.returncode}): {proc.stderr[-800:]}"
        )
    return json.loads(lines[-1])


def ddp_worker(args):
    """Inside the DDP subprocess: 2 bf16 training steps of a DDP-wrapped AST."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    device = torch.device(args.device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device.index or 0)
    dist.init_process_group(backend)
    try:
        cfg = CONFIGS["smoke" if args.smoke else "gpu"]
        n_frames = cfg["frames"][-1]
        torch.manual_seed(0)
        dim, depth, heads = SIZES[cfg["size"]]
        model = torch.nn.Sequential(
            AudioSpectrogramTransformer(
                n_frames=n_frames, embed_dim=dim, depth=depth, num_heads=heads
            ),
            ClassificationHead(dim, N_CLASSES),
        ).to(device)
        ddp_model = DistributedDataParallel(
            model, device_ids=[device.index or 0] if device.type == "cuda" else None
        )
        optimizer = make_adam(ddp_model.parameters())
        losses = []
        for _ in range(2):
            x = torch.randn(4, n_frames, 128, device=device)
            y = torch.randint(0, N_CLASSES, (4,), device=device)
            optimizer.zero_grad(set_to_none=True)
            with amp(device):
                logits = ddp_model(x).squeeze(1)
            loss = F.cross_entropy(logits.float(), y)
            loss.backward()
            optimizer.step()
            losses.append(float(loss))
        total = torch.ones(1, device=device)
        dist.all_reduce(total)
        print(
            json.dumps(
                {
                    "backend": dist.get_backend(),
                    "world_size": dist.get_world_size(),
                    "losses": losses,
                    "all_reduce": float(total),
                    "ok": all(math.isfinite(v) for v in losses) and float(total) == 1.0,
                }
            ),
            flush=True,
        )
    finally:
        dist.destroy_process_group()


# ------------------------------------------------------------------ 2. throughput
def throughput(check):
    """Ours against HF sdpa, same weights: training and inference clips/s, memory."""
    rows = []
    for n_frames in check.cfg["frames"]:
        rows += throughput_case(check, n_frames)
        gc.collect()
        if check.cuda:
            torch.cuda.empty_cache()
    return {"precision": "bf16 autocast" if check.cuda else "fp32", "rows": rows}


def throughput_case(check, n_frames):
    """One input length: both peers, inference and training."""
    rows = []
    dims = SIZES[check.cfg["size"]]
    batch = check.cfg["batch"][n_frames]
    check.log(f"  throughput {n_frames} frames, batch {batch}")
    models = build_models(dims, n_frames, check.device, eager=False)
    encoder, head = models["ours"]
    hf = models["hf-sdpa"]
    x = torch.randn(batch, n_frames, 128, device=check.device)
    y = (torch.rand(batch, N_CLASSES, device=check.device) < 0.1).float()
    ours_opt = make_adam(list(encoder.parameters()) + list(head.parameters()))
    hf_opt = make_adam(hf.parameters())

    def ours_logits():
        return head(encoder(x)).squeeze(1)

    def hf_logits():
        return hf(input_values=x).logits

    def infer(modules, logits):
        def run():
            for module in modules:
                module.eval()
            with torch.no_grad(), check.amp():
                logits()

        return run

    def train(modules, logits, optimizer):
        def run():
            for module in modules:
                module.train()
            optimizer.zero_grad(set_to_none=True)
            with check.amp():
                out = logits()
            F.binary_cross_entropy_with_logits(out.float(), y).backward()
            optimizer.step()

        return run

    measured = {}
    for kind, fns in (
        ("infer", {"ours": infer((encoder, head), ours_logits),
                   "hf-sdpa": infer((hf,), hf_logits)}),
        ("train", {"ours": train((encoder, head), ours_logits, ours_opt),
                   "hf-sdpa": train((hf,), hf_logits, hf_opt)}),
    ):  # fmt: skip
        measured[kind] = interleaved(
            fns, check.device, check.cfg["repeats"], check.cfg["warmup"]
        )
    fwd = ast_forward_flops(n_frames, embed_dim=dims[0], depth=dims[1])
    for peer in ("ours", "hf-sdpa"):
        row = {
            "frames": n_frames,
            "tokens": encoder.num_patches + encoder.num_prefix_tokens,
            "batch": batch,
            "peer": peer,
        }
        for kind, flops in (("infer", fwd), ("train", training_flops(fwd))):
            res = measured[kind][peer]
            if res.get("oom"):
                row[f"{kind}_oom"] = True
                continue
            row[f"{kind}_clips_s"] = batch / res["s"]
            row[f"{kind}_tflops"] = batch * flops / res["s"] / 1e12
            row[f"{kind}_peak_bytes"] = res.get("peak_bytes")
            row[f"{kind}_all_s"] = res["all_s"]
        rows.append(row)
    return rows


def largest_batch(check):
    """Largest training batch without checkpointing at the longest input: ours, HF."""
    n_frames = check.cfg["frames"][0]
    found = {
        peer: largest_batch_of(check, peer, n_frames) for peer in ("ours", "hf-sdpa")
    }
    total = (
        torch.cuda.get_device_properties(check.device).total_memory
        if check.cuda
        else None
    )
    return {
        "frames": n_frames,
        "cap": check.cfg["largest_batch_cap"],
        "memory_gb": round(total / 1e9, 1) if total else None,
        "peers": found,
    }


def largest_batch_of(check, peer, n_frames):
    """Double the batch until a training step runs out of memory, then bisect."""
    models = build_models(SIZES[check.cfg["size"]], n_frames, check.device, eager=False)
    if peer == "ours":
        encoder, head = models["ours"]
        modules = (encoder.train(), head.train())

        def logits(x):
            return head(encoder(x)).squeeze(1)

    else:
        hf = models["hf-sdpa"].train()
        modules = (hf,)

        def logits(x):
            return hf(input_values=x).logits

    optimizer = make_adam([p for m in modules for p in m.parameters()])

    def fits(batch):
        try:
            x = torch.randn(batch, n_frames, 128, device=check.device)
            y = torch.zeros(batch, N_CLASSES, device=check.device)
            optimizer.zero_grad(set_to_none=True)
            with check.amp():
                out = logits(x)
            F.binary_cross_entropy_with_logits(out.float(), y).backward()
            optimizer.step()
            sync(check.device)
            return True
        except torch.cuda.OutOfMemoryError:
            return False
        finally:
            optimizer.zero_grad(set_to_none=True)
            gc.collect()
            if check.cuda:
                torch.cuda.empty_cache()

    good, bad = 0, None
    batch = check.cfg["batch"][n_frames]
    while batch <= check.cfg["largest_batch_cap"] and check.budget.left() > 60:
        if not fits(batch):
            bad = batch
            break
        good, batch = batch, batch * 2
    # Bisect to a multiple of 8 between the last fit and the first failure.
    while bad and bad - good > 8 and check.budget.left() > 60:
        middle = (good + bad) // 16 * 8
        if fits(middle):
            good = middle
        else:
            bad = middle
    return {"largest_batch": good, "first_failure": bad, "capped": bad is None}


def fbank_speed(check):
    """Batched KaldiFbank on the device (copy in included) against the CPU loop."""
    from torchaudio.compliance import kaldi

    n_frames = 1024
    wavs = real_clips(check.layout, check.cfg["fbank_clips"], 10.0)
    lens = torch.linspace(0.6, 1.0, len(wavs))
    counts = (lens * wavs.shape[1]).round().long()
    fbank = KaldiFbank(n_frames=n_frames, check_input=False).to(check.device)

    def loop():
        for wav, count in zip(wavs, counts.tolist()):
            wav = wav[:count]
            kaldi.fbank(
                (wav - wav.mean()).unsqueeze(0),
                htk_compat=True,
                sample_frequency=SAMPLE_RATE,
                use_energy=False,
                window_type="hanning",
                num_mel_bins=128,
                dither=0.0,
                frame_shift=10,
            )

    def batched():
        fbank(wavs.to(check.device, non_blocking=True), lens.to(check.device))

    with torch.no_grad():
        res = interleaved(
            {
                "gpu batched" if check.cuda else "batched": batched,
                "cpu per-clip loop": loop,
            },
            check.device,
            max(check.cfg["repeats"] // 2, 1),
            1,
            memory=False,
        )
    names = list(res)
    return {
        "clips": len(wavs),
        "seconds_per_clip": 10,
        "cpu_threads": torch.get_num_threads(),
        "clips_s": {name: len(wavs) / res[name]["s"] for name in names},
        "speedup": res["cpu per-clip loop"]["s"] / res[names[0]]["s"],
    }


def patchout_speed(check):
    """Patchout (PaSST setting) against none: training-step clips/s, memory per clip."""
    n_frames = check.cfg["frames"][0]
    seconds = {1024: 10, 512: 5, 128: 1}[n_frames]
    bench = SimpleNamespace(
        args=SimpleNamespace(
            batch=check.cfg["batch"][n_frames],
            repeats=check.cfg["repeats"],
            warmup=check.cfg["warmup"],
            no_memory=False,
        ),
        device=check.device,
        cuda=check.cuda,
        results={"patchout": []},
        amp=check.amp,
        log=check.log,
    )
    patchout.measure(bench, check.cfg["size"], seconds)
    rows = bench.results["patchout"]
    ratio = rows[1]["train_clips_s"] / rows[0]["train_clips_s"]
    return {"rows": rows, "speedup": ratio}


# ------------------------------------------------------------------ 3. recipe
def recipe(check):
    """The ESC-50 recipe end to end, as many epochs as fit the time left."""
    seconds = min(check.cfg["recipe_seconds"], check.budget.left() - 15)
    epochs = 1
    bare = next(
        (
            r
            for r in check.results.get("throughput", {}).get("rows", [])
            if r["peer"] == "ours" and r["frames"] == 512 and "train_clips_s" in r
        ),
        None,
    )
    batch = check.cfg["batch"][512]
    if not check.smoke:
        # Epoch time from the bare model's rates, with margin for the loader,
        # validation and the start (imports, data preparation, model).
        epoch_s = 5.0
        if bare:
            epoch_s = 1445 / bare["train_clips_s"] * 1.5 + 4.0
        epochs = int(max(1, min(100, (seconds - 45) // epoch_s)))
    output = check.work / "recipe"
    command = [
        sys.executable,
        str(REPO / "recipes" / "ESC50" / "train.py"),
        str(REPO / "recipes" / "ESC50" / "hparams" / "ast.yaml"),
        "--data_folder", str(check.layout), "--output_folder", str(output),
        "--number_of_epochs", str(epochs), "--batch_size", str(batch),
        "--init", "scratch", "--n_frames", "512", "--precision", "bf16",
        "--monitor_test", "False", "--noprogressbar",
        *check.cfg["recipe_args"],
    ]  # fmt: skip
    check.log(f"  recipe: {epochs} epochs, batch {batch}, limit {seconds:.0f} s")
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    )
    began = time.perf_counter()
    timed_out, log = False, ""
    try:
        proc = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=max(seconds, 10)
        )
        log = proc.stdout + proc.stderr
        if proc.returncode:
            raise RuntimeError(
                f"recipe failed ({proc.returncode}): {proc.stderr[-1500:]}"
            )
    except subprocess.TimeoutExpired as expired:
        timed_out = True
        log = "".join(
            part.decode(errors="replace") if isinstance(part, bytes) else part or ""
            for part in (expired.stdout, expired.stderr)
        )
    finally:
        (check.out / "recipe_log.txt").write_text(log[-200_000:], encoding="utf-8")
    wall = time.perf_counter() - began
    result = {"command": " ".join(command[1:]), "epochs_asked": epochs, "batch": batch}
    result.update(read_recipe_run(output))
    result["wall_s"] = round(wall, 1)
    result["timed_out"] = timed_out
    if bare and result.get("train_clips_s"):
        result["bare_train_clips_s"] = bare["train_clips_s"]
        result["vs_bare"] = result["train_clips_s"] / bare["train_clips_s"]
    return result


def read_recipe_run(output):
    """Epoch rows, loader wait and test accuracy of a (possibly cut) recipe run."""
    result = {}
    history = output / "results.csv"
    if not history.is_file():
        return {"epochs_done": 0}
    with open(history, newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(output / "save" / "train.csv", newline="") as handle:
        n_train = sum(1 for _ in csv.DictReader(handle))
    # The first epoch holds the warm-up (allocator, kernels, workers).
    steady = rows[1:] or rows
    step = sum(float(r["train_step_s"]) for r in steady)
    wait = sum(float(r["train_data_wait_s"]) for r in steady)
    result.update(
        epochs_done=len(rows),
        train_clips=n_train,
        train_clips_s=n_train * len(steady) / (step + wait) if step + wait else None,
        data_wait_share=wait / (step + wait) if step + wait else None,
        best_valid_accuracy=max(float(r["valid_accuracy"]) for r in rows),
        epochs_timed="2-" + str(len(rows)) if len(rows) > 1 else "1",
    )
    final = output / "results.json"
    if final.is_file():
        result["test_accuracy"] = json.loads(final.read_text())["best_valid"][
            "accuracy"
        ]
    return result


# ------------------------------------------------------------------ report
def targets(results):
    """The issue's targets against what was measured (None: not measured)."""
    rows = results.get("throughput", {}).get("rows", [])
    by = {(r["frames"], r["peer"]): r for r in rows}
    ours, hf = by.get((1024, "ours"), {}), by.get((1024, "hf-sdpa"), {})
    largest = results.get("largest_batch", {}).get("peers", {}).get("ours", {})
    recipe_run = results.get("recipe", {})
    fbank = results.get("fbank", {})
    correct = results.get("correctness", {})
    po = results.get("patchout", {})

    def ratio(a, b):
        return a / b if a and b else None

    checks = [
        ("training >= 500 clips/s (1214 tokens)", ours.get("train_clips_s"), TARGETS["train_clips_s"], "{:.0f} clips/s"),
        ("inference >= 1,500 clips/s (1214 tokens)", ours.get("infer_clips_s"), TARGETS["infer_clips_s"], "{:.0f} clips/s"),
        ("training >= 1.5x HF AST (sdpa)", ratio(ours.get("train_clips_s"), hf.get("train_clips_s")), TARGETS["train_vs_hf"], "{:.2f}x"),
        ("batch >= 128 without checkpointing", largest.get("largest_batch"), TARGETS["largest_batch"], "{}"),
        ("GPU fbank >= 20x the per-clip loop", fbank.get("speedup"), TARGETS["fbank_speedup"], "{:.1f}x"),
        ("recipe end to end >= 80 % of the bare model", recipe_run.get("vs_bare"), TARGETS["recipe_vs_bare"], "{:.0%}"),
        ("patchout training >= 1.8x", po.get("speedup"), TARGETS["patchout_speedup"], "{:.2f}x"),
    ]  # fmt: skip
    out = [
        {
            "target": name,
            "measured": None if value is None else fmt.format(value),
            "met": None if value is None else value >= goal,
        }
        for name, value, goal, fmt in checks
    ]
    diff = correct.get("fbank_max_abs_vs_torchaudio_cpu")
    out.append(
        {
            "target": "fbank on the device vs torchaudio CPU <= 1e-3",
            "measured": None if diff is None else f"{diff:.1e}",
            "met": None if diff is None else diff <= TARGETS["fbank_max_abs"],
        }
    )
    return out


def render(results):
    """The Markdown section of a run (also from a saved JSON)."""
    m = results.get("machine", {})
    smoke = results.get("mode", "").startswith("smoke")
    title = "GPU check" + (
        " (SMOKE MODE on CPU: tiny model, not GPU figures)" if smoke else ""
    )
    lines = [
        f"### {title}, {m.get('date', '?')}",
        "",
        f"- Machine: {m.get('gpu', 'no GPU')}"
        + (f" ({m['gpu_memory_gb']} GB)" if m.get("gpu_memory_gb") else "")
        + f"; CPU {m.get('cpu', '?')}, {m.get('cores', '?')} cores; torch {m.get('torch', '?')}"
        + (f", CUDA {m['cuda']}" if m.get("cuda") else "")
        + f", transformers {m.get('transformers', '?')}, Python {m.get('python', '?')}",
        f"- Command: `{m.get('command', '?')}`; wall time {results.get('wall_s', 0):.0f} s "
        f"of a {results.get('budget_s', 0):.0f} s budget.",
        "",
        "**Targets**",
        "",
    ]
    marks = {True: "yes", False: "**no**", None: "not measured"}
    lines += markdown_table(
        ["target", "measured", "met"],
        [
            [t["target"], t["measured"] or "-", marks[t["met"]]]
            for t in targets(results)
        ],
    )
    lines.append("")
    c = results.get("correctness", {})
    if "fp32_max_abs_logits" in c:
        lines += [
            f"**Correctness** ({c['clips']} real clips, {c['frames']} frames, "
            f"{c['weights']}; reference: CPU fp32)",
            "",
        ]
        lines += markdown_table(
            ["check", "value"],
            [
                ["logits fp32 on device, max abs diff (TF32 off)", f"{c['fp32_max_abs_logits']:.2e}"],
                ["logits bf16 autocast, max abs diff", f"{c['bf16_max_abs_logits']:.2e}"],
                ["bf16 top-1 agreement", f"{100 * c['bf16_top1_agreement']:.1f} % "
                 f"(reference logit range {c['reference_logit_range']:.2f}, "
                 f"mean top-1 margin {c['reference_mean_top1_margin']:.3f})"],
                ["batched fbank on device vs torchaudio CPU, max abs diff",
                 f"{c['fbank_max_abs_vs_torchaudio_cpu']:.1e}"],
            ],
        )  # fmt: skip
        lines.append("")
    s = results.get("sdpa", {})
    if "backends" in s:
        lines.append(
            f"- SDPA kernel that ran ({s['precision']}): "
            + "; ".join(f"{k}: {v}" for k, v in s["backends"].items())
            + f" (flash available: {s['flash_available']})."
        )
    d = results.get("ddp", {})
    if "backend" in d:
        lines.append(
            f"- DDP: backend {d['backend']}, world size {d['world_size']}, 2 steps, "
            f"losses {', '.join(f'{v:.3f}' for v in d['losses'])}, all-reduce "
            f"{d['all_reduce']:.0f}: {'ok' if d['ok'] else '**failed**'}."
        )
    lines.append("")
    t = results.get("throughput", {})
    if t.get("rows"):
        lines += [
            f"**Throughput** ({t['precision']}; clips/s; same weights in both)",
            "",
        ]
        by = {(r["frames"], r["peer"]): r for r in t["rows"]}
        table = []
        for r in t["rows"]:
            ref = by.get((r["frames"], "hf-sdpa"), {})
            cells = [r["frames"], r["tokens"], r["batch"], r["peer"]]
            for kind in ("train", "infer"):
                value = r.get(f"{kind}_clips_s")
                base = ref.get(f"{kind}_clips_s")
                cells += [
                    "OOM"
                    if r.get(f"{kind}_oom")
                    else (f"{value:.1f}" if value else "-"),
                    f"{value / base:.2f}x" if value and base else "-",
                    f"{r[f'{kind}_tflops']:.0f}" if r.get(f"{kind}_tflops") else "-",
                    fmt_bytes(r.get(f"{kind}_peak_bytes")),
                ]
            table.append(cells)
        lines += markdown_table(
            ["frames", "tokens", "batch", "peer", "train clips/s", "x HF", "TFLOP/s",
             "train peak mem", "infer clips/s", "x HF", "TFLOP/s", "infer peak mem"],
            table,
        )  # fmt: skip
        lines.append("")
    b = results.get("largest_batch", {})
    if b.get("peers"):
        lines.append(
            f"- Largest training batch without checkpointing at {b['frames']} frames"
            + (f" on {b['memory_gb']} GB" if b.get("memory_gb") else "")
            + ": "
            + "; ".join(
                f"{peer} {v['largest_batch']}"
                + (
                    f" (cap {b['cap']} reached)"
                    if v["capped"]
                    else f" ({v['first_failure']} failed)"
                )
                for peer, v in b["peers"].items()
            )
            + "."
        )
    f = results.get("fbank", {})
    if f.get("clips_s"):
        lines.append(
            f"- Fbank, {f['clips']} clips of {f['seconds_per_clip']} s: "
            + ", ".join(f"{k} {v:.0f} clips/s" for k, v in f["clips_s"].items())
            + f" ({f['cpu_threads']} CPU threads for the loop): {f['speedup']:.1f}x."
        )
    p = results.get("patchout", {})
    if p.get("rows"):
        r0, r1 = p["rows"]
        lines.append(
            f"- Patchout ({r1['dropped'][0]} rows, {r1['dropped'][1]} columns of "
            f"{r1['grid'][0]} x {r1['grid'][1]} left out, batch {r1['batch']}): "
            f"{r0['train_clips_s']:.1f} -> {r1['train_clips_s']:.1f} training clips/s "
            f"({p['speedup']:.2f}x); memory per clip {fmt_bytes(r0.get('per_clip_bytes'))} "
            f"-> {fmt_bytes(r1.get('per_clip_bytes'))}."
        )
    r = results.get("recipe", {})
    if "epochs_done" in r:
        lines.append(
            f"- Recipe (ESC-50 fold 5, 512 frames, from scratch, batch {r['batch']}): "
            f"{r['epochs_done']} epochs in {r['wall_s']:.0f} s"
            + (" (stopped at the time limit)" if r["timed_out"] else "")
            + (
                f"; {r['train_clips_s']:.0f} training clips/s end to end over epochs "
                f"{r['epochs_timed']}, data wait {100 * r['data_wait_share']:.1f} % "
                if r.get("train_clips_s")
                else ""
            )
            + (
                f"({100 * r['vs_bare']:.0f} % of the bare model's training step)"
                if r.get("vs_bare")
                else ""
            )
            + (
                f"; test accuracy {100 * r['test_accuracy']:.2f} %"
                if "test_accuracy" in r
                else ""
            )
            + f" (best validation {100 * r.get('best_valid_accuracy', 0):.1f} %)."
        )
    for name, value in results.items():
        if isinstance(value, dict) and ("error" in value or "skipped" in value):
            lines.append(
                f"- {name}: {value.get('error') or 'skipped, ' + value['skipped']}"
            )
    return "\n".join(lines).rstrip() + "\n"


# ------------------------------------------------------------------ main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny model (tests)")
    parser.add_argument(
        "--device", default=None, help="default: cuda (cpu with --smoke)"
    )
    parser.add_argument(
        "--data", default=None, help="bundle .tar (gpu_data.py) or ESC-50-master/"
    )
    parser.add_argument("--out", default=str(REPO / "results" / "gpu_check"))
    parser.add_argument(
        "--budget-s", type=float, default=None, help="default 450 (300 smoke)"
    )
    parser.add_argument(
        "--record", default=None, help="gpu_check.json to write into --results"
    )
    parser.add_argument("--results", default=None, help="RESULTS.md to update (default: none; "
                        "benchmarks/RESULTS.md with --record)")  # fmt: skip
    parser.add_argument("--ddp-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.device is None:
        args.device = "cpu" if args.smoke else "cuda"
    if args.budget_s is None:
        args.budget_s = 300.0 if args.smoke else 450.0
    if args.record and args.results is None:
        args.results = str(REPO / "benchmarks" / "RESULTS.md")
    return args


def prepare_data(check):
    """The ESC-50 layout: unpack a bundle, take a folder, or the bundled samples."""
    data = check.args.data
    if data is None:
        if not check.smoke:
            raise SystemExit("--data is needed on the GPU (see gpu_check_prepare.sh)")
        return SAMPLES_LAYOUT
    if os.path.isdir(data):
        return Path(data)
    from benchmarks.gpu_data import unpack

    return unpack(data, check.work / "data")


def main(argv=None):
    args = parse_args(argv)
    if args.ddp_worker:
        return ddp_worker(args)
    if args.record:
        results = json.loads(Path(args.record).read_text())
        text = render(results)
        write_report(args.results, SECTION, text)
        print(text)
        return results
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on a GPU machine, or use --smoke on CPU")
    set_clock("wall")
    check = Check(args)
    info = machine_info(check.device)
    info["command"] = "python benchmarks/gpu_check.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    if check.cuda:
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
    check.results.update(machine=info, budget_s=args.budget_s, config=check.cfg)
    check.log(f"machine: {info}")
    check.layout = prepare_data(check)
    check.log(f"data: {check.layout}")
    steps = (
        ("correctness", correctness, 20),
        ("sdpa", sdpa_backend, 15),
        ("ddp", ddp, 30),
        ("throughput", throughput, 60),
        ("fbank", fbank_speed, 20),
        ("patchout", patchout_speed, 40),
        ("largest_batch", largest_batch, 90),
        ("recipe", recipe, 75),
    )
    for name, fn, min_seconds in steps:
        check.step(name, lambda fn=fn: fn(check), min_seconds)
    check.results["wall_s"] = check.budget.used()
    check.save()
    text = render(check.results)
    (check.out / "gpu_check.md").write_text(text, encoding="utf-8")
    if args.results:
        write_report(args.results, SECTION, text)
    print(text, flush=True)
    return check.results


if __name__ == "__main__":
    main()
