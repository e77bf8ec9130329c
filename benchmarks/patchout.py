"""Patchout (PaSST): training-step throughput and memory with and without it.

Our encoder + head trained on the longest ``--seconds`` input, once with all
patch tokens and once with PaSST's structured patchout (4 of 12 frequency
rows and 40 of 101 time columns left out at 10 s; the same share of the
grid at other lengths), same weights, interleaved medians. Reports clips/s
of a training step (forward + loss + backward + Adam), the ratio, and the
memory of one clip: the slope of the forward + backward peak memory between
two batch sizes.
"""

import gc

import torch
import torch.nn.functional as F

from benchmarks.measure import PeakMemory, interleaved
from benchmarks.peers import N_CLASSES, SECONDS_TO_FRAMES, SIZES, make_adam
from benchmarks.report import fmt_bytes, markdown_table
from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead

# PaSST's setting for 10 s AudioSet clips (a 12 x 101 grid at stride 10).
PASST_FREQ, PASST_TIME, PASST_GRID = 4, 40, (12, 101)


def passt_setting(f_dim, t_dim):
    """Rows and columns to leave out: PaSST's share of a ``f_dim x t_dim`` grid.

    Example
    -------
    >>> passt_setting(12, 101), passt_setting(12, 50), passt_setting(8, 32)
    ((4, 40), (4, 20), (3, 13))
    """
    freq = round(f_dim * PASST_FREQ / PASST_GRID[0])
    time = round(t_dim * PASST_TIME / PASST_GRID[1])
    return min(freq, f_dim - 1), min(time, t_dim - 1)


def build(size, n_frames, device, patchout=(0, 0)):
    """Our encoder + head of a size (random weights, seed 0)."""
    torch.manual_seed(0)
    dim, depth, heads = SIZES[size]
    encoder = AudioSpectrogramTransformer(
        n_frames=n_frames,
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        patchout_freq=patchout[0],
        patchout_time=patchout[1],
    )
    return encoder.to(device), ClassificationHead(dim, N_CLASSES).to(device)


def run(bench):
    """Measure every size at the longest input length."""
    for size in bench.args.sizes:
        measure(bench, size, max(bench.args.seconds))


def measure(bench, size, seconds, memory_batches=None):
    """Training step with and without patchout; memory per clip of each."""
    args, device = bench.args, bench.device
    n_frames = SECONDS_TO_FRAMES[seconds]
    encoder, head = build(size, n_frames, device)
    setting = passt_setting(encoder.f_dim, encoder.t_dim)
    kept = (encoder.f_dim - setting[0]) * (encoder.t_dim - setting[1])
    bench.log(f"[patchout] {size} {seconds} s, drop {setting}, batch {args.batch}")
    optimizer = make_adam(list(encoder.parameters()) + list(head.parameters()))

    def loss_of(batch):
        x = torch.randn(batch, n_frames, 128, device=device)
        y = (torch.rand(batch, N_CLASSES, device=device) < 0.1).float()
        with bench.amp():
            logits = head(encoder(x)).squeeze(1)
        return F.binary_cross_entropy_with_logits(logits.float(), y)

    def use(on):
        encoder.patchout_freq, encoder.patchout_time = setting if on else (0, 0)

    def step(on):
        def run_step():
            use(on)
            encoder.train()
            optimizer.zero_grad(set_to_none=True)
            loss_of(args.batch).backward()
            optimizer.step()

        return run_step

    names = {"ours": False, "ours+patchout": True}
    res = interleaved(
        {name: step(on) for name, on in names.items()},
        device,
        args.repeats,
        args.warmup,
        memory=False,
    )
    batches = memory_batches or ((2, 4) if bench.cuda else (1, 3))
    for name, on in names.items():
        row = {
            "size": size,
            "seconds": seconds,
            "frames": n_frames,
            "batch": args.batch,
            "peer": name,
            "dropped": list(setting) if on else [0, 0],
            "patch_tokens": kept if on else encoder.num_patches,
            "grid": [encoder.f_dim, encoder.t_dim],
        }
        if res[name].get("s"):
            row["train_clips_s"] = args.batch / res[name]["s"]
            row["train_all_s"] = res[name]["all_s"]
        if not args.no_memory:
            peaks = []
            for batch in batches:
                use(on)
                optimizer.zero_grad(set_to_none=True)
                with PeakMemory(device) as mem:
                    loss_of(batch).backward()
                peaks.append(mem.peak)
            optimizer.zero_grad(set_to_none=True)
            if None not in peaks:
                row["peak_bytes"] = peaks
                row["memory_batches"] = list(batches)
                row["per_clip_bytes"] = (peaks[1] - peaks[0]) / (
                    batches[1] - batches[0]
                )
                row["memory_method"] = mem.method
        bench.results["patchout"].append(row)
    use(False)
    gc.collect()


def targets(results):
    """The issue's target: >= 1.8x training-step throughput with patchout."""
    rows = {(r["size"], r["seconds"], r["peer"]): r for r in results["patchout"]}
    ratios = []
    for (size, seconds, peer), row in rows.items():
        ref = rows.get((size, seconds, "ours"), {})
        if (
            peer == "ours+patchout"
            and "train_clips_s" in row
            and "train_clips_s" in ref
        ):
            ratios.append((row["train_clips_s"] / ref["train_clips_s"], size, seconds))
    if not ratios:
        return []
    return [
        {
            "target": "patchout training step >= 1.8x without (PaSST setting)",
            "measured": ", ".join(f"{s} {sec} s: {r:.2f}x" for r, s, sec in ratios),
            "met": min(ratios)[0] >= 1.8,
        }
    ]


def render(bench):
    """Markdown lines: the patchout table."""
    res = bench.results["patchout"]
    if not res:
        return []
    by = {(r["size"], r["seconds"], r["peer"]): r for r in res}
    rows = []
    for r in res:
        ref = by.get((r["size"], r["seconds"], "ours"), {})
        clips = r.get("train_clips_s")
        ratio = (
            clips / ref["train_clips_s"] if clips and ref.get("train_clips_s") else None
        )
        rows.append(
            [
                r["size"],
                f"{r['seconds']} s",
                f"{r['grid'][0]} x {r['grid'][1]}",
                "-"
                if not any(r["dropped"])
                else f"{r['dropped'][0]} rows, {r['dropped'][1]} columns",
                r["patch_tokens"],
                f"{clips:.3g}" if clips else "-",
                f"{ratio:.2f}x" if ratio else "-",
                fmt_bytes(r.get("per_clip_bytes")),
            ]
        )
    first = res[0]
    batches = first.get("memory_batches")
    lines = [
        "**Patchout (PaSST, training only)** (training step: forward + BCE + "
        "backward + Adam, clips/s at batch "
        f"{first['batch']}; memory per clip = slope of the forward + backward "
        + (
            f"peak memory between batch {batches[0]} and {batches[1]})"
            if batches
            else "peak memory (not measured))"
        ),
        "",
    ]
    lines += markdown_table(
        [
            "size",
            "audio",
            "grid",
            "left out",
            "patch tokens",
            "train clips/s",
            "x",
            "memory per clip",
        ],
        rows,
    )
    return lines + [""]
