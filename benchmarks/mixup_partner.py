#!/usr/bin/env python3
"""Batch-partner vs dataset-partner mixup, same task, same seeds.

The official AST loader mixes a clip with a partner drawn from the whole
dataset; ``mixup_waveforms`` by default takes another clip of the batch.
This trains the `make demo` configuration (ESC-10 clips of ``demo/esc10``,
folds 1-4 train with 10 % validation, fold 5 test; the small AST from
scratch, 60 epochs, one thread) with ``--mixup_prob`` (0.5) for each partner
form and each seed, runs alternated, and reports per run the best validation
accuracy (which selects the checkpoint) and the test accuracy of that
checkpoint; the log-mel + logistic-regression baseline of
``benchmarks/baseline_logmel.py`` is not rerun here (the demo split is fixed:
its figure is in RESULTS.md).

Usage::

    python benchmarks/mixup_partner.py --out results/mixup_partner --seeds 1 2

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import csv
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
from demo import DATA, DEMO_OVERRIDES, schedule_overrides  # noqa: E402


def run(form, seed, out, epochs, mixup_prob):
    """Train one run; return its scores."""
    folder = out / f"{form}_seed{seed}"
    recipe = REPO / "recipes" / "ESC50"
    command = [
        sys.executable, str(recipe / "train.py"),
        str(recipe / "hparams" / "ast_small_scratch.yaml"),
        "--data_folder", str(DATA), "--output_folder", str(folder),
        *schedule_overrides(epochs), *DEMO_OVERRIDES, "--seed", str(seed),
        "--mixup_prob", str(mixup_prob), "--mixup_partner", form, "--noprogressbar",
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    start = time.time()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{form} seed {seed} failed:\n{done.stderr[-3000:]}")
    with open(folder / "results.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    best = max(rows, key=lambda row: float(row["valid_accuracy"]))
    results = json.loads((folder / "results.json").read_text())
    return {
        "form": form,
        "seed": seed,
        "best_epoch": int(best["epoch"]),
        "valid_accuracy": float(best["valid_accuracy"]),
        "test_accuracy": results["best_valid"]["accuracy"],
        "minutes": (time.time() - start) / 60,
        "load": os.getloadavg()[0],
    }


def main():
    """Alternate the two forms over the seeds; print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--mixup_prob", type=float, default=0.5)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    reports = []
    for seed in args.seeds:
        for form in ("batch", "dataset"):
            report = run(form, seed, args.out, args.epochs, args.mixup_prob)
            reports.append(report)
            print(json.dumps(report), flush=True)
    (args.out / "reports.json").write_text(json.dumps(reports, indent=1))
    print("| Partner | Seed | Best epoch | Valid acc. | Test acc. | Minutes | Load |")
    print("|---|---|---|---|---|---|---|")
    for r in reports:
        print(f"| {r['form']} | {r['seed']} | {r['best_epoch']} | {r['valid_accuracy']:.1%} "
              f"| {r['test_accuracy']:.1%} | {r['minutes']:.1f} | {r['load']:.1f} |")
    for form in ("batch", "dataset"):
        tests = [r["test_accuracy"] for r in reports if r["form"] == form]
        valids = [r["valid_accuracy"] for r in reports if r["form"] == form]
        print(f"{form}: mean valid {statistics.mean(valids):.1%}, "
              f"mean test {statistics.mean(tests):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
