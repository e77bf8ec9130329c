#!/usr/bin/env python
"""Accuracy effect of patchout: the ESC-50 recipe with and without, several seeds.

Trains the ``make demo`` configuration (``scripts/demo.py``: the ESC-50
recipe on the bundled ESC-10 clips of ``demo/esc10``, 1 s crops, a small AST
from scratch, 96 wide, 4 blocks, 100 frames, fold 5 tested) once without
patchout and once with it, for every seed. The epoch is chosen on the
validation split (test data selects nothing). The seed also draws the
validation split, so each seed is a pair of runs on the same split. Runs
whose ``results.json`` exists are not run again, so the script can be
resumed (and ``--max-runs 1`` runs one at a time, e.g. under a lock on a
shared machine). The table goes into ``--out`` (section
``patchout-accuracy``). Another ESC-50 layout can be given with
``--data_folder`` (e.g. the full ESC-50-master with ``--n_classes 50``).

Usage::

    python benchmarks/patchout_accuracy.py --seeds 1 2

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import csv
import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.report import markdown_table, write_report  # noqa: E402


def demo_overrides():
    """The recipe overrides of ``make demo`` (read from ``scripts/demo.py``)."""
    spec = importlib.util.spec_from_file_location("demo", REPO / "scripts" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DEMO_OVERRIDES


# PaSST's share for 10 s (4 of 12 rows, 40 of 101 columns) on the demo's
# 12 x 9 grid (100 frames, stride 10): 4 rows and 4 columns.
SETTINGS = {
    "off": [],
    "patchout f4 t4": ["--patchout_freq", "4", "--patchout_time", "4"],
}
GRID = (12, 9)


def run_folder(root, seed, setting):
    """Output folder of one run."""
    return Path(root) / f"seed{seed}_{setting.replace(' ', '_')}"


def train(args, seed, setting):
    """Run the recipe once (a subprocess, as a user would)."""
    recipe = REPO / "recipes" / "ESC50"
    command = [
        sys.executable, str(recipe / "train.py"), str(recipe / "hparams" / "ast.yaml"),
        "--data_folder", args.data_folder,
        "--output_folder", str(run_folder(args.output, seed, setting)),
        "--seed", str(seed), "--number_of_epochs", str(args.epochs),
        *demo_overrides(), *SETTINGS[setting],
    ]  # fmt: skip
    print("==", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=REPO)


def read_run(folder):
    """Test accuracy of the validation-chosen epoch and the per-epoch history."""
    results = json.loads((folder / "results.json").read_text())
    with open(folder / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    valid = [float(r["valid_accuracy"]) for r in rows]
    best = max(range(len(valid)), key=valid.__getitem__)
    step_s = [float(r["train_step_s"]) for r in rows]
    return {
        "test_accuracy": results["best_valid"]["accuracy"],
        "best_valid_accuracy": valid[best],
        "best_epoch": int(rows[best]["epoch"]),
        "epochs": len(rows),
        "train_step_s_per_epoch": statistics.median(step_s),
    }


def render(runs, args):
    """Markdown: one row per run, then the mean per setting."""
    kept = (GRID[0] - 4) * (GRID[1] - 4)
    lines = [
        f"### Patchout accuracy: `make demo` configuration, {args.epochs} epochs",
        "",
        "- Setup: `recipes/ESC50/train.py` with the overrides of `scripts/demo.py` "
        f"on `{os.path.relpath(args.data_folder, REPO)}` (ESC-10: 10 classes, 1 s "
        "crops; AST 96 wide, 4 blocks, 4 heads, 100 frames, stride 10: a 12 x 9 "
        f"patch grid; from scratch), {args.epochs} epochs; test fold 5 (80 clips), "
        "validation 10 % of the recordings of folds 1-4, drawn by the seed. Test "
        "accuracy is that of the epoch with the best validation accuracy.",
        f"- Command: `python benchmarks/patchout_accuracy.py --seeds "
        f"{' '.join(map(str, args.seeds))} --epochs {args.epochs}`.",
        "- Patchout: PaSST's share of the grid for 10 s input (4 of 12 "
        "frequency rows, 40 of 101 time columns) on this grid: 4 rows and 4 "
        f"columns left out, {kept} of {GRID[0] * GRID[1]} patch tokens kept in "
        "training; evaluation sees all tokens.",
        "- Train step s/epoch: median over epochs of the time in training steps "
        "(`train_step_s` of results.csv, wall time) on the shared 2-core CPU VM "
        f"under other jobs' load ({os.environ.get('OMP_NUM_THREADS', 'default')} "
        "thread(s)): a rough figure; the speed ratio is measured properly "
        "(CPU time) in the patchout section of benchmark.py.",
        "",
    ]
    rows = []
    for (seed, setting), r in sorted(runs.items()):
        rows.append(
            [
                seed,
                setting,
                f"{100 * r['test_accuracy']:.2f} %",
                f"{100 * r['best_valid_accuracy']:.1f} %",
                f"{r['best_epoch']} / {r['epochs']}",
                f"{r['train_step_s_per_epoch']:.1f}",
            ]
        )
    lines += markdown_table(
        [
            "seed",
            "patchout",
            "test accuracy",
            "best valid accuracy",
            "first epoch with the best valid",
            "train step s/epoch",
        ],
        rows,
    )
    lines.append("")
    means = []
    for setting in SETTINGS:
        accs = [r["test_accuracy"] for (s, name), r in runs.items() if name == setting]
        speed = [
            r["train_step_s_per_epoch"]
            for (s, name), r in runs.items()
            if name == setting
        ]
        if accs:
            means.append(
                [
                    setting,
                    len(accs),
                    f"{100 * statistics.mean(accs):.2f} %",
                    ", ".join(f"{100 * a:.2f}" for a in accs),
                    f"{statistics.mean(speed):.1f}",
                ]
            )
    lines += markdown_table(
        ["patchout", "seeds", "mean test accuracy", "per seed", "train step s/epoch"],
        means,
    )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_folder", default=str(REPO / "demo" / "esc10"))
    parser.add_argument("--output", default=str(REPO / "results" / "patchout_accuracy"))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--max-runs", type=int, default=None, help="stop after N runs")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "RESULTS.md"))
    args = parser.parse_args(argv)
    done = 0
    runs = {}
    for seed in args.seeds:
        for setting in SETTINGS:
            folder = run_folder(args.output, seed, setting)
            if not (folder / "results.json").is_file():
                if args.max_runs is not None and done >= args.max_runs:
                    continue
                train(args, seed, setting)
                done += 1
            runs[(seed, setting)] = read_run(folder)
    text = render(runs, args)
    print(text)
    if len(runs) == len(args.seeds) * len(SETTINGS):
        write_report(args.out, "patchout-accuracy", text)
    return runs


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    main()
