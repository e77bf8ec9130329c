"""Encoder inference and training step: ours against HF (sdpa, eager), same weights.

For each size and input length: clips/s of inference and of a full training
step (forward + BCE + backward + Adam step), MFU against the measured (CPU)
or datasheet (GPU) peak, peak memory growth, and the largest output
difference to ours. Also our model with activation checkpointing (training)
and, with ``--compile``, under ``torch.compile``. The memory against batch
is fitted too: on CUDA the largest training batch per GPU memory size, on
CPU the activation memory of one clip.
"""

import gc

import torch
import torch.nn.functional as F

from benchmarks.flops import ast_forward_flops, training_flops
from benchmarks.measure import PeakMemory, interleaved, malloc_trim, sync
from benchmarks.peers import (
    N_CLASSES,
    SECONDS_TO_FRAMES,
    SIZES,
    build_models,
    make_adam,
)
from benchmarks.report import fmt_bytes
from speechbrain_ast.model import patch_grid

GPU_MEMORY_SIZES_GB = (16, 24, 40, 48, 80, 94, 141)


def run(bench):
    args = bench.args
    for size in args.sizes:
        for seconds in args.seconds:
            encoder_case(bench, size, seconds)


def encoder_case(bench, size, seconds):
    args = bench.args
    n_frames = SECONDS_TO_FRAMES[seconds]
    dims = SIZES[size]
    f_dim, t_dim = patch_grid(128, n_frames, 10, 10)
    tokens = f_dim * t_dim + 2
    fwd = ast_forward_flops(n_frames, embed_dim=dims[0], depth=dims[1])
    batch = args.batch
    bench.log(f"[encoder] {size} {seconds} s ({tokens} tokens), batch {batch}")
    models = build_models(dims, n_frames, bench.device)
    encoder, head = models["ours"]
    x = torch.randn(batch, n_frames, 128, device=bench.device)
    y = (torch.rand(batch, N_CLASSES, device=bench.device) < 0.1).float()

    # Same weights, same input: the peers must agree before being timed.
    with torch.no_grad(), bench.amp():
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
                with torch.no_grad(), bench.amp():
                    module(x)

        else:
            model = models[name].eval()

            def run():
                with torch.no_grad(), bench.amp():
                    model.audio_spectrogram_transformer(x)

        return run

    peers = ["ours"] + (["ours+compile"] if compiled else []) + ["hf-sdpa", "hf-eager"]
    rows = {name: {} for name in peers}
    if not args.skip_inference:
        res = interleaved(
            {name: infer(name) for name in peers},
            bench.device,
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
                    with bench.amp():
                        logits = head(module(x)).squeeze(1)
                    F.binary_cross_entropy_with_logits(logits.float(), y).backward()
                    opt.step()
                    encoder.activation_checkpointing = False

            else:
                model, opt = models[name], optimizers[name]

                def step():
                    model.train()
                    opt.zero_grad(set_to_none=True)
                    with bench.amp():
                        logits = model(input_values=x).logits
                    F.binary_cross_entropy_with_logits(logits.float(), y).backward()
                    opt.step()

            return step

        train_peers = ["ours", "ours+ckpt"] + peers[1:]
        res = interleaved(
            {name: train(name) for name in train_peers},
            bench.device,
            args.repeats,
            args.warmup,
            memory=not args.no_memory,
        )
        for name in train_peers:
            rows.setdefault(name, {})["train"] = res[name]
        if seconds == max(args.seconds) and not args.no_memory:
            if bench.cuda:
                memory_fit(bench, size, dims, n_frames, models, optimizers)
            else:
                cpu_activation_fit(bench, size, n_frames, models)

    peak = bench.results["peak"]["flops"]
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
                bench.results["notes"].append(
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
        bench.results["encoder"].append(entry)
    models.clear()
    gc.collect()
    malloc_trim()


def cpu_activation_fit(bench, size, n_frames, models, batches=(1, 3)):
    """CPU: memory of forward + backward at two batch sizes -> per-clip cost.

    The slope is the activation memory of one clip (what checkpointing
    saves); the intercept is what does not grow with the batch (the
    gradients, mostly). No optimizer step: its state exists already.
    """
    encoder, head = models["ours"]
    bench.log(f"[memory] {size} {n_frames} frames, batches {batches}")
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
            with PeakMemory(bench.device) as mem:
                F.binary_cross_entropy_with_logits(logits(), y).backward()
            encoder.activation_checkpointing = False
            for p in params:
                p.grad = None
            points.append((batch, mem.peak))
        if any(m is None for _, m in points):
            continue
        (b1, m1), (b2, m2) = points
        per_clip = (m2 - m1) / (b2 - b1)
        bench.results["activation_fit"].append(
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


def memory_fit(bench, size, dims, n_frames, models, optimizers):
    """GPU: peak training memory against batch -> largest batch per GPU size."""
    encoder, head = models["ours"]
    total = torch.cuda.get_device_properties(bench.device).total_memory
    for name in ("ours", "ours+ckpt", "hf-sdpa"):
        points = []
        for batch in (2, 4):
            x = torch.randn(batch, n_frames, 128, device=bench.device)
            y = torch.zeros(batch, N_CLASSES, device=bench.device)

            def step(name=name, x=x, y=y):
                if name.startswith("ours"):
                    encoder.train()
                    encoder.activation_checkpointing = name == "ours+ckpt"
                    opt = optimizers["ours"]
                    opt.zero_grad(set_to_none=True)
                    with bench.amp():
                        logits = head(encoder(x)).squeeze(1)
                    encoder.activation_checkpointing = False
                else:
                    model, opt = models[name], optimizers[name]
                    model.train()
                    opt.zero_grad(set_to_none=True)
                    with bench.amp():
                        logits = model(input_values=x).logits
                F.binary_cross_entropy_with_logits(logits.float(), y).backward()
                opt.step()

            step()
            gc.collect()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(bench.device)
            step()
            sync(bench.device)
            points.append((batch, torch.cuda.max_memory_reserved(bench.device)))
        (b1, m1), (b2, m2) = points
        per_clip = max((m2 - m1) / (b2 - b1), 1.0)
        fixed = m1 - b1 * per_clip
        sizes = sorted(set(GPU_MEMORY_SIZES_GB) | {round(total / 1e9)})
        largest = {
            gb: max(int((gb * 1e9 * 0.95 - 1e9 - fixed) // per_clip), 0) for gb in sizes
        }
        bench.results["memory_fit"].append(
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


def targets(results):
    """The issue's CPU target: inference >= 0.95x HF sdpa."""
    by = {(r["size"], r["seconds"], r["peer"]): r for r in results["encoder"]}
    ratios = []
    for (size, seconds, peer), row in by.items():
        ref = by.get((size, seconds, "hf-sdpa"), {})
        if peer == "ours" and "infer_clips_s" in row and "infer_clips_s" in ref:
            ratios.append((row["infer_clips_s"] / ref["infer_clips_s"], size, seconds))
    if not ratios:
        return []
    return [
        {
            "target": "encoder inference >= 0.95x HF sdpa",
            "measured": ", ".join(f"{s} {sec} s: {r:.2f}x" for r, s, sec in ratios),
            "met": min(ratios)[0] >= 0.95,
        }
    ]


def render(bench):
    """Markdown lines: encoder table, largest batch (GPU), memory against batch (CPU)."""
    res, lines = bench.results, []
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
            (r.get("memory_method") for r in res["encoder"] if r.get("memory_method")),
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
    elif not bench.cuda and res["encoder"]:
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
    return lines
