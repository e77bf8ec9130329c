"""The measuring steps of ``gpu_check.py``; each takes the run and returns a dict.

1. ``correctness``, ``sdpa_backend``, ``ddp`` (with ``ddp_worker``, the
   subprocess side); 2. ``throughput``, ``largest_batch``, ``fbank_speed``,
   ``patchout_speed``; 3. ``recipe`` (and ``read_recipe_run``). ``CONFIGS``
   holds the sizes of the GPU run and of the CPU smoke run. The run object
   (``gpu_check.Check``) gives ``cfg``, ``device``, ``cuda``, ``smoke``,
   ``budget``, ``layout`` (the ESC-50 folder), ``out``, ``work``, ``amp()``,
   ``log()`` and the results so far.
"""

import contextlib
import csv
import gc
import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from benchmarks import patchout
from benchmarks.features import official_fbank
from benchmarks.flops import ast_forward_flops, training_flops
from benchmarks.measure import amp, interleaved, sync
from benchmarks.peers import N_CLASSES, SAMPLE_RATE, SIZES, build_models, make_adam
from speechbrain_ast.features import NORM_STATS, FixedNormalization, KaldiFbank
from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead

REPO = Path(__file__).resolve().parent.parent
GPU_CHECK = REPO / "benchmarks" / "gpu_check.py"

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

    n_frames = 512
    wavs = real_clips(check.layout, check.cfg["clips"], 5.0)
    # Different lengths: the batched fbank must handle each clip's own end.
    lens = torch.linspace(0.6, 1.0, len(wavs))
    counts = (lens * wavs.shape[1]).round().long()
    for i, count in enumerate(counts.tolist()):
        wavs[i, count:] = 0.0
    loop = official_fbank(wavs, counts, n_frames)
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
    command = [
        sys.executable,
        str(GPU_CHECK),
        "--ddp-worker",
        "--device",
        str(check.device),
    ]
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

    n_frames = 1024
    wavs = real_clips(check.layout, check.cfg["fbank_clips"], 10.0)
    lens = torch.linspace(0.6, 1.0, len(wavs))
    counts = (lens * wavs.shape[1]).round().long()
    fbank = KaldiFbank(n_frames=n_frames, check_input=False).to(check.device)

    def loop():
        official_fbank(wavs, counts, n_frames)

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
