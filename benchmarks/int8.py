"""CPU int8: ``AudioTagger(int8=True)`` (dynamic int8 Linear layers) against fp32.

Top-1 agreement and score differences on real clips (the shared ESC-50 copy
when present, plus ``tests/samples``), with a trained ``--model`` folder or
random weights; and seconds of audio tagged per second by ``tag_file`` on a
long file made of real clips.
"""

import gc
import glob
import os
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.measure import interleaved
from benchmarks.peers import (
    N_CLASSES,
    REPO,
    SAMPLE_RATE,
    SECONDS_TO_FRAMES,
    SHARED_DATA,
    SIZES,
)
from speechbrain_ast.features import NORM_STATS
from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead


def real_clips(limit=None):
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


def random_model_folder(dims, n_frames, root, name):
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


def run(bench):
    from speechbrain_ast.audio import load_audio
    from speechbrain_ast.tagging.tagger import AudioTagger, window_starts

    args = bench.args
    if bench.cuda:
        bench.results["int8"]["skipped"] = "int8 dynamic quantisation is CPU only"
        return
    with tempfile.TemporaryDirectory() as root:
        # --- accuracy: fp32 against int8 on real clips
        if args.model:
            folder, weights = args.model, f"trained model folder {args.model}"
        else:
            size = args.sizes[-1]
            folder = random_model_folder(SIZES[size], 512, root, "agree")
            weights = (
                f"RANDOM weights (AST-{size}, 512 frames, {N_CLASSES} classes): "
                "no --model given; a weak test (near-uniform scores)"
            )
        bench.log(f"[int8] agreement with {weights}")
        fp32 = AudioTagger.from_hparams(source=folder)
        int8 = AudioTagger.from_hparams(source=folder, int8=True)
        window = fp32.window_samples
        paths = real_clips(args.agreement_clips)
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
            "top1_agreement": float((ref.argmax(1) == quant.argmax(1)).float().mean()),
            "max_abs_score_diff": float(diff.max()),
            "mean_abs_score_diff": float(diff.mean()),
            "mean_top1_score": float(top2[:, 0].mean()),
            "mean_top1_margin": float((top2[:, 0] - top2[:, -1]).mean()),
        }
        bench.results["int8"]["agreement"] = agreement
        del fp32, int8

        # --- speed: seconds of audio tagged per second, tag_file on a long clip
        long_path = os.path.join(root, "long.wav")
        write_long_clip(long_path, args.tag_seconds, load_audio)
        folders = []
        tag_frames = args.tag_frames or [SECONDS_TO_FRAMES[max(args.seconds)]]
        for size in args.sizes:
            for n_frames in tag_frames:
                folders.append(
                    (
                        f"AST-{size} (random weights, {n_frames} frames)",
                        random_model_folder(
                            SIZES[size], n_frames, root, f"speed_{size}_{n_frames}"
                        ),
                        size,
                    )
                )
        if args.model:
            folders.append((f"--model {args.model}", args.model, None))
        bench.results["int8"]["tagging"] = []
        for label, folder, size in folders:
            bench.log(f"[int8] tag_file speed: {label}")
            taggers = {
                "fp32": AudioTagger.from_hparams(source=folder),
                "int8": AudioTagger.from_hparams(source=folder, int8=True),
            }
            for tagger in taggers.values():  # warm-up: one window
                tagger.tag_waveform(
                    torch.zeros(tagger.window_samples), sample_rate=tagger.sample_rate
                )
            res = interleaved(
                {
                    name: (lambda t=t: t.tag_file(long_path, batch_size=args.tag_batch))
                    for name, t in taggers.items()
                },
                bench.device,
                max(1, min(args.repeats, 2)),
                0,
                memory=False,
            )
            window = taggers["fp32"].window_samples
            n_windows = len(
                window_starts(int(args.tag_seconds * SAMPLE_RATE), window, window // 2)
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
            entry["speedup"] = entry["int8_audio_s_per_s"] / entry["fp32_audio_s_per_s"]
            bench.results["int8"]["tagging"].append(entry)
            del taggers
            gc.collect()


def write_long_clip(path, seconds, load_audio):
    """Concatenate real clips (or noise if none) into a ``seconds`` long wav."""
    import soundfile

    target = int(seconds * SAMPLE_RATE)
    pieces, total = [], 0
    for clip in real_clips(0):
        if total >= target:
            break
        wav = load_audio(clip, sample_rate=SAMPLE_RATE)
        pieces.append(wav)
        total += wav.numel()
    if total < target:
        pieces.append(0.05 * torch.randn(target - total))
    wav = torch.cat(pieces)[:target]
    soundfile.write(path, wav.numpy(), SAMPLE_RATE)


def targets(results):
    """The issue's CPU targets: int8 tagging >= 1.8x fp32, agreement >= 95 %."""
    targets = []
    tagging = results["int8"].get("tagging") or []
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
    agreement = results["int8"].get("agreement")
    if agreement:
        targets.append(
            {
                "target": "int8 top-1 agreement >= 95 % on real clips",
                "measured": f"{100 * agreement['top1_agreement']:.1f} % "
                f"({agreement['clips']} clips"
                + (", random weights)" if "RANDOM" in agreement["weights"] else ")"),
                "met": agreement["top1_agreement"] >= 0.95,
            }
        )
    return targets


def render(bench):
    """Markdown lines: int8 agreement and tagging speed."""
    res, lines = bench.results, []
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
    return lines
