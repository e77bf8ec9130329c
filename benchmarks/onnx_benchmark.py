"""ONNX backend benchmark: parity, int8 agreement and CPU speed against PyTorch.

Measures, in one run on CPU:

* parity: logits of the exported fp32 graph (onnxruntime) against the
  PyTorch model folder on real clips of several lengths (max abs difference);
* int8: top-1 agreement of the onnxruntime int8 graph with PyTorch fp32 on
  real clips (each clip tagged over windows, clip score = max over windows),
  and the accuracy of both when the clips' classes are the model's;
* speed: one window scored by ``AudioTagger.score_batch`` (PyTorch fp32:
  fbank + encoder + head) against the same window through the fp32 and the
  int8 graph (fbank inside), for AST-base and the ``make demo`` size, at
  128 / 512 / 1024 frames (the 1 / 5 / 10 s of benchmarks/README.md). Random
  weights: speed does not depend on their values.

Peers run interleaved, in an order that rotates every round; each figure is
the median over rounds and ratios are ratios of medians. With one thread the
clock is the process CPU time (the work itself, whatever else runs on a
shared machine); wall time is recorded as well.

Usage::

    python benchmarks/onnx_benchmark.py --model results/demo/model \\
        --clips ESC-50-master --fold 5 --out benchmarks/RESULTS.md

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import csv
import datetime
import functools
import glob
import json
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time
import warnings

import torch

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from speechbrain_ast.audio import load_audio  # noqa: E402
from speechbrain_ast.model import (  # noqa: E402
    AST_SIZES,
    AudioSpectrogramTransformer,
    ClassificationHead,
)
from speechbrain_ast.model_folder import write_model_folder  # noqa: E402
from speechbrain_ast.tagging.onnx_export import export_tagger, quantize_graph  # noqa: E402
from speechbrain_ast.tagging.onnx_runtime import OnnxScorer  # noqa: E402
from speechbrain_ast.tagging.tagger import AudioTagger  # noqa: E402
from speechbrain_ast.training.settings import plain_settings  # noqa: E402

MARK_BEGIN = "<!-- BEGIN onnx_benchmark.py output: {key} -->"
MARK_END = "<!-- END onnx_benchmark.py output: {key} -->"
# The model settings `make demo` trains (scripts/demo.py runs this YAML).
DEMO_YAML = REPO / "recipes" / "ESC50" / "hparams" / "ast_small_scratch.yaml"
MODEL_KEYS = (
    "embed_dim",
    "depth",
    "num_heads",
    "patch_size",
    "fstride",
    "tstride",
    "pooling",
)
FRAMES = {1: 128, 5: 512, 10: 1024}

warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)


def load_average():
    """The 1-minute load average (shared machine: report it with timings)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def clock(threads):
    """CPU time with one thread (the work itself), wall time otherwise."""
    return time.process_time if threads == 1 else time.perf_counter


def time_peers(peers, repeats, warmup, threads):
    """Interleaved, rotating-order timing; median seconds per peer."""
    now = clock(threads)
    for _ in range(warmup):
        for run in peers.values():
            run()
    times = {name: [] for name in peers}
    walls = {name: [] for name in peers}
    names = list(peers)
    for round_ in range(repeats):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            start, wall = now(), time.perf_counter()
            peers[name]()
            times[name].append(now() - start)
            walls[name].append(time.perf_counter() - wall)
    return {
        name: {
            "median_s": statistics.median(times[name]),
            "wall_median_s": statistics.median(walls[name]),
            "all_s": times[name],
        }
        for name in peers
    }


def model_sizes():
    """Encoder settings of the sizes timed: AST-base (16 x 16 patches, stride
    10) and the model ``make demo`` trains, read from its recipe YAML."""
    embed_dim, depth, heads = AST_SIZES["base"]
    demo = plain_settings(str(DEMO_YAML), {"data_folder": "unused"})
    return {
        "base": {"embed_dim": embed_dim, "depth": depth, "num_heads": heads},
        "demo": {key: demo[key] for key in MODEL_KEYS},
    }


SIZES = model_sizes()


def random_folder(root, size, n_frames, n_classes=50):
    """A random model folder of ``size`` at ``n_frames`` frames."""
    settings = SIZES[size]
    torch.manual_seed(0)
    encoder = AudioSpectrogramTransformer(n_frames=n_frames, **settings)
    head = ClassificationHead(settings["embed_dim"], n_classes)
    labels = [f"class{i}" for i in range(n_classes)]
    folder = os.path.join(root, f"{size}_{n_frames}")
    return write_model_folder(folder, encoder, head, labels, -6.6, 5.4, False)


def speed(args, work):
    """Time PyTorch fp32, onnxruntime fp32 and int8 on one window per size/length."""
    rows = []
    for size in args.sizes:
        for seconds in args.seconds:
            n_frames = FRAMES[seconds]
            folder = random_folder(work, size, n_frames)
            tagger = AudioTagger.from_hparams(source=folder)
            start = time.perf_counter()
            fp32_path = export_tagger(tagger, os.path.join(work, "s_fp32.onnx"))
            export_s = time.perf_counter() - start
            int8_path = quantize_graph(fp32_path, os.path.join(work, "s_int8.onnx"))
            standard_path = export_tagger(
                tagger, os.path.join(work, "s_std.onnx"), attention="standard"
            )
            fp32 = OnnxScorer(fp32_path, threads=args.threads)
            int8 = OnnxScorer(int8_path, threads=args.threads)
            standard = OnnxScorer(standard_path, threads=args.threads)
            wavs = 0.1 * torch.randn(args.batch, tagger.window_samples)
            difference = (fp32.score_batch(wavs) - tagger.score_batch(wavs)).abs()
            load_before = load_average()
            timings = time_peers(
                {
                    "torch-fp32": functools.partial(tagger.score_batch, wavs),
                    "ort-fp32": functools.partial(fp32.score_batch, wavs),
                    "ort-int8": functools.partial(int8.score_batch, wavs),
                    "ort-fp32-standard": functools.partial(standard.score_batch, wavs),
                },
                args.repeats,
                args.warmup,
                args.threads,
            )
            base = timings["torch-fp32"]["median_s"]
            row = {
                "size": size,
                "seconds": seconds,
                "n_frames": n_frames,
                "batch": args.batch,
                "export_s": round(export_s, 1),
                "max_abs_score_diff_fp32": float(difference.max()),
                "load": [load_before, load_average()],
                "timings": timings,
                "speedup_ort_fp32": base / timings["ort-fp32"]["median_s"],
                "speedup_ort_int8": base / timings["ort-int8"]["median_s"],
                "speedup_ort_fp32_standard": base
                / timings["ort-fp32-standard"]["median_s"],
            }
            rows.append(row)
            print(
                f"[speed] {size} {seconds}s: torch {base * 1e3:.1f} ms, "
                f"ort fp32 x{row['speedup_ort_fp32']:.2f}, "
                f"ort int8 x{row['speedup_ort_int8']:.2f}, "
                f"standard x{row['speedup_ort_fp32_standard']:.2f} (load {row['load']})",
                flush=True,
            )
            for path in (fp32_path, int8_path, standard_path):
                os.remove(path)
    return rows


def real_clips(args):
    """(path, class name or None) of the clips for parity and agreement."""
    clips = []
    if args.clips:
        meta = os.path.join(args.clips, "meta", "esc50.csv")
        with open(meta, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if args.fold is None or int(row["fold"]) == args.fold:
                    path = os.path.join(args.clips, "audio", row["filename"])
                    if not os.path.exists(path):  # a FLAC copy keeps .wav names
                        path = os.path.splitext(path)[0] + ".flac"
                    clips.append((path, row["category"]))
    samples = sorted(
        glob.glob(str(REPO / "tests" / "samples" / "**" / "*.wav"), recursive=True)
    )
    clips.extend((path, None) for path in samples)
    return clips[: args.max_clips] if args.max_clips else clips


def quality(args, work):
    """fp32 parity and int8 agreement of a trained model folder on real clips."""
    torch_tagger = AudioTagger.from_hparams(source=args.model)
    fp32 = OnnxScorer(
        export_tagger(torch_tagger, os.path.join(work, "q_fp32.onnx")),
        threads=args.threads,
    )
    int8_path = quantize_graph(fp32.name, os.path.join(work, "q_int8.onnx"))
    clips = real_clips(args)
    waveforms = [load_audio(path) for path, _ in clips]
    window = torch_tagger.window_samples

    # Parity: the graph against the PyTorch modules, clip starts of several lengths.
    lengths = sorted({400, window // 4, window // 2, window, 2 * window})
    parity = {}
    for length in lengths:
        worst = 0.0
        usable = [w[:length] for w in waveforms if w.numel() >= length]
        for first in range(0, len(usable), 16):
            batch = torch.stack(usable[first : first + 16])
            logits = fp32.run(batch)[0]
            with torch.no_grad():
                reference = torch_tagger.mods.classifier(
                    torch_tagger.encode_batch(batch)
                ).flatten(1)
            worst = max(worst, float((logits - reference).abs().max()))
        parity[length] = {"clips": len(usable), "max_abs_logit_diff": worst}
        print(f"[parity] {length} samples: {parity[length]}", flush=True)

    # int8: clip-level top-1 (windows, max over windows) against PyTorch fp32.
    int8_tagger = AudioTagger.from_hparams(
        source=args.model, int8=True, onnx_path=int8_path
    )
    onnx_tagger = AudioTagger.from_hparams(
        source=args.model, backend="onnx", onnx_path=fp32.name
    )
    labels = torch_tagger.labels
    counts = {"clips": 0, "int8_agree": 0, "onnx_agree": 0, "in_labels": 0}
    correct = {"torch": 0, "int8": 0}
    score_diffs = []
    for wav, (_, category) in zip(waveforms, clips):
        reference = torch_tagger.tag_waveform(wav, top_k=1, sample_rate=16000)
        quantised = int8_tagger.tag_waveform(wav, top_k=1, sample_rate=16000)
        exported = onnx_tagger.tag_waveform(wav, top_k=1, sample_rate=16000)
        counts["clips"] += 1
        counts["int8_agree"] += reference.labels[0][0] == quantised.labels[0][0]
        counts["onnx_agree"] += reference.labels[0][0] == exported.labels[0][0]
        score_diffs.append(float((reference.scores - quantised.scores).abs().max()))
        if category in labels:
            counts["in_labels"] += 1
            correct["torch"] += reference.labels[0][0] == category
            correct["int8"] += quantised.labels[0][0] == category
    result = {
        "model": os.path.basename(os.path.normpath(args.model)),
        "window_samples": window,
        "parity": parity,
        "counts": counts,
        "int8_top1_agreement": counts["int8_agree"] / counts["clips"],
        "onnx_fp32_top1_agreement": counts["onnx_agree"] / counts["clips"],
        "int8_max_score_diff": max(score_diffs),
        "int8_mean_max_score_diff": statistics.mean(score_diffs),
        "accuracy_torch": correct["torch"] / max(counts["in_labels"], 1),
        "accuracy_int8": correct["int8"] / max(counts["in_labels"], 1),
    }
    print(f"[int8] {json.dumps({k: v for k, v in result.items() if k != 'parity'})}")
    return result


def machine(args):
    """Describe the machine and library versions."""
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(
                line.split(":", 1)[1].strip()
                for line in handle
                if line.lower().startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "threads": args.threads,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "clock": "process CPU time" if args.threads == 1 else "wall time",
    }


def markdown(info, rows, quality_result):
    """The results as Markdown tables."""
    lines = [
        f"Run {info['date']}: {info['cpu']}, {info['cores']} cores, "
        f"{info['threads']} thread(s) for PyTorch and onnxruntime, torch "
        f"{info['torch']}, onnxruntime {info['onnxruntime']}, clock: {info['clock']}.",
        "",
    ]
    if quality_result:
        q = quality_result
        lines += [
            f"**Parity** (model `{q['model']}`, window {q['window_samples']} samples): "
            "onnxruntime fp32 graph vs PyTorch, max abs logit difference",
            "",
            "| Input samples | Clips | Max abs logit diff |",
            "|---|---|---|",
        ]
        for length, item in q["parity"].items():
            lines.append(
                f"| {length} | {item['clips']} | {item['max_abs_logit_diff']:.2e} |"
            )
        c = q["counts"]
        lines += [
            "",
            f"**int8** ({c['clips']} real clips, windows, clip score = max): top-1 "
            f"agreement with PyTorch fp32 {100 * q['int8_top1_agreement']:.1f} % "
            f"(onnxruntime fp32: {100 * q['onnx_fp32_top1_agreement']:.1f} %); "
            f"max score difference {q['int8_max_score_diff']:.2e} (mean of per-clip "
            f"max {q['int8_mean_max_score_diff']:.2e}); accuracy on the "
            f"{c['in_labels']} clips of the model's classes: PyTorch fp32 "
            f"{100 * q['accuracy_torch']:.1f} %, int8 {100 * q['accuracy_int8']:.1f} %.",
            "",
        ]
    if rows:
        lines += [
            "**Speed** (one window, batch "
            f"{rows[0]['batch']}; median ms; ratio = PyTorch fp32 time / peer time)",
            "",
            "| Model | Input | PyTorch fp32 ms | ORT fp32 ms | ORT fp32 ratio | "
            "ORT int8 ms | ORT int8 ratio | ORT fp32 standard-ops ratio | "
            "Load (1 min, before/after) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            t = row["timings"]
            lines.append(
                f"| {row['size']} | {row['seconds']} s ({row['n_frames']} frames) | "
                f"{1e3 * t['torch-fp32']['median_s']:.1f} | "
                f"{1e3 * t['ort-fp32']['median_s']:.1f} | "
                f"{row['speedup_ort_fp32']:.2f}x | "
                f"{1e3 * t['ort-int8']['median_s']:.1f} | "
                f"{row['speedup_ort_int8']:.2f}x | "
                f"{row['speedup_ort_fp32_standard']:.2f}x | "
                f"{row['load'][0]} / {row['load'][1]} |"
            )
    return "\n".join(lines) + "\n"


def write_section(path, key, text):
    """Replace (or append) the marked section ``key`` of ``path``."""
    begin, end = MARK_BEGIN.format(key=key), MARK_END.format(key=key)
    block = f"{begin}\n{text}{end}\n"
    old = pathlib.Path(path).read_text(encoding="utf-8") if os.path.exists(path) else ""
    if begin in old and end in old:
        new = old[: old.index(begin)] + block + old[old.index(end) + len(end) + 1 :]
    else:
        new = old.rstrip("\n") + "\n\n" + block
    pathlib.Path(path).write_text(new, encoding="utf-8")


def main(argv=None):
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="trained model folder (quality)")
    parser.add_argument("--clips", default=None, help="ESC-50 folder (meta/, audio/)")
    parser.add_argument("--fold", type=int, default=5, help="ESC-50 fold (None: all)")
    parser.add_argument("--max-clips", type=int, default=None)
    parser.add_argument(
        "--sizes", nargs="+", default=["base", "demo"], choices=list(SIZES)
    )
    parser.add_argument(
        "--seconds", nargs="+", type=int, default=[1, 5, 10], choices=list(FRAMES)
    )
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--out", default=None, help="Markdown file to update")
    parser.add_argument("--section", default="cpu")
    parser.add_argument("--json", default=None, help="save raw numbers here")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    info = machine(args)
    print(f"[machine] {info}", flush=True)
    with tempfile.TemporaryDirectory(prefix="onnx-bench-") as work:
        quality_result = quality(args, work) if args.model else None
        rows = [] if args.skip_speed else speed(args, work)
    text = markdown(info, rows, quality_result)
    print(text)
    if args.out:
        write_section(args.out, args.section, text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(
                {"machine": info, "speed": rows, "quality": quality_result},
                handle,
                indent=1,
            )


if __name__ == "__main__":
    main()
