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

The steps live in ``gpu_steps.py``; this file runs them within the budget,
saves and renders the results. ``--smoke`` runs the same code on the CPU with a tiny model, a few steps and
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
import gc
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from benchmarks.gpu_steps import (  # noqa: E402
    CONFIGS,
    correctness,
    ddp,
    ddp_worker,
    fbank_speed,
    largest_batch,
    patchout_speed,
    recipe,
    sdpa_backend,
    throughput,
)
from benchmarks.measure import amp, machine_info, set_clock  # noqa: E402
from benchmarks.report import fmt_bytes, markdown_table, write_report  # noqa: E402

SAMPLES_LAYOUT = REPO / "tests" / "samples" / "ESC-50-master"
SECTION = "gpu-check"

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
# The steps in the order they run: function and the seconds it needs at least.
STEPS = {
    "correctness": (correctness, 20),
    "sdpa": (sdpa_backend, 15),
    "ddp": (ddp, 30),
    "throughput": (throughput, 60),
    "fbank": (fbank_speed, 20),
    "patchout": (patchout_speed, 40),
    "largest_batch": (largest_batch, 90),
    "recipe": (recipe, 75),
}


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
        "--record",
        nargs="+",
        default=None,
        help="gpu_check.json of a run (then of reruns with --only, whose steps "
        "replace the first run's) to write into --results",
    )
    parser.add_argument("--results", default=None, help="RESULTS.md to update (default: none; "
                        "benchmarks/RESULTS.md with --record)")  # fmt: skip
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        choices=list(STEPS),
        help="run only these steps (e.g. a short rerun of the ones that failed)",
    )
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
        results = {}
        for path in args.record:
            results.update(json.loads(Path(path).read_text()))
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
    for name, (fn, min_seconds) in STEPS.items():
        if args.only is None or name in args.only:
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
