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
  (``benchmarks.flops``; AST-base: 261/116/26 GFLOP per 10/5/1 s clip,
  training 3x) against the measured GEMM peak of this device (and the
  datasheet bf16 peak of known GPUs);
* features: batched ``KaldiFbank`` against the per-clip torchaudio Kaldi loop
  (official AST and HF way) and HF's ``ASTFeatureExtractor`` (clips/s);
* Adam step: CPU/CUDA default against ``foreach=True`` and ``fused=True``;
* CPU int8: ``AudioTagger(int8=True)`` against fp32: top-1 agreement and score
  differences on real clips, and seconds of audio tagged per second
  (``tag_file`` on a long clip built by concatenating real clips);
* GPU only: the largest batch that fits per GPU memory size at 10 s
  (linear fit of peak memory against batch), with and without checkpointing;
* patchout (PaSST): training-step throughput and memory per clip with and
  without it.

One module per comparison: ``encoder.py``, ``features.py``, ``optimizer.py``,
``int8.py``, ``patchout.py``; ``measure.py`` (machine, clocks, interleaved
medians, peak memory), ``peers.py`` (the models, same weights) and
``report.py`` (Markdown sections) are shared. This file is the command line.

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
import json
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from benchmarks import (  # noqa: E402
    encoder,
    features,
    int8,
    optimizer,
    patchout,
)
from benchmarks.measure import (  # noqa: E402, F401 (PeakMemory: used by tests)
    PeakMemory,
    amp,
    gemm_peak_flops,
    gpu_spec_peak,
    machine_info,
    set_clock,
)
from benchmarks.peers import SECONDS_TO_FRAMES, SIZES  # noqa: E402
from benchmarks.report import write_report  # noqa: E402, F401 (used by tests)

warnings.filterwarnings("ignore", message=".*quantiz.*")
warnings.filterwarnings("ignore", category=DeprecationWarning)

# The sections in the order they run and print: (name, module, skip option).
SECTIONS = (
    ("encoder", encoder, ("skip_inference", "skip_train")),
    ("features", features, ("skip_features",)),
    ("optimizer", optimizer, ("skip_optimizer",)),
    ("int8", int8, ("skip_int8",)),
    ("patchout", patchout, ("skip_patchout",)),
)


class Bench:
    """One benchmark run: options, device and results, passed to every section."""

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
            "patchout": [],
            "notes": [],
        }

    def amp(self):
        """bf16 autocast on CUDA, nothing (fp32) on CPU."""
        return amp(self.device)

    def log(self, *parts):
        """Progress on stderr (stdout holds the Markdown)."""
        print(*parts, file=sys.stderr, flush=True)

    def measure_peak(self):
        """The MFU basis: datasheet bf16 peak of a known GPU, else a measured GEMM."""
        if self.cuda:
            measured = gemm_peak_flops(self.device, torch.bfloat16)
            spec = gpu_spec_peak(torch.cuda.get_device_properties(self.device).name)
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

    def evaluate_targets(self):
        """Every section's targets against the measured medians."""
        targets = []
        for _, module, _ in SECTIONS:
            targets += module.targets(self.results)
        if self.cuda:
            for target in targets:
                if not target["target"].startswith("patchout"):
                    target["met"] = None  # CPU fp32 targets
        self.results["targets"] = targets

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
        for _, module, _ in SECTIONS:
            lines += module.render(self)
        for note in res["notes"]:
            lines.append(f"- Note: {note}")
        return "\n".join(lines).rstrip() + "\n"


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
    for part in ("inference", "train", "features", "optimizer", "int8", "patchout"):
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
        (
            name,
            lambda module=module: module.run(bench),
            all(getattr(args, o) for o in skips),
        )
        for name, module, skips in SECTIONS
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
