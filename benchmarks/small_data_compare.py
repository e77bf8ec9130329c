#!/usr/bin/env python3
"""Small data from scratch: the CustomData recipe against the log-mel baseline.

Runs, as a user would, ``speechbrain-ast train CSV --hparams
ast_small_scratch`` on the CSVs written by ``small_data_splits.py`` (fixed
splits: ESC-50 folds 1-3 / 4 / 5, Speech Commands and spoken digits split by
speaker), for several seeds and for each encoder initialisation asked for
(scratch, or an SSL checkpoint from ``recipes/SSL``), then
``baseline_logmel.py`` on the same split, and writes a Markdown table.
Finished runs (a ``results.json``) are reused, so the command can be rerun
after an interruption or with more seeds::

    python benchmarks/small_data_splits.py ../shared/data --out splits
    python benchmarks/small_data_compare.py splits --out results/small_data --seeds 1 2
    python benchmarks/small_data_compare.py splits --out results/small_data --seeds 1 2 \\
        --name ssl -- --init ssl --init_source results/ssl/encoder.ckpt
    python benchmarks/small_data_compare.py splits --out results/small_data --table

The accuracy of a run is the test accuracy of the epoch with the best
validation accuracy (the model the recipe exports unless weight averaging is
switched on). Nothing here looks at a test score to make a choice.

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASETS = ("esc50_fold5", "speech_commands_speakers", "spoken_digits_speakers")
# Shift tests (issue 18): few training speakers, recording-disjoint folds.
SHIFT_DATASETS = (
    "speech_commands_4speakers",
    "esc10_recording_folds",
    *(f"esc10_recording_folds_test{fold}" for fold in (1, 2, 3, 5)),
)
TITLES = {
    "speech_commands_4speakers": "Shift: 35 words, 4 training speakers, tested on 175 unseen",
    "esc10_recording_folds": "Shift: ESC-10, folds 1-2 train, 3 valid, 4 test",
    "esc10_recording_folds_test1": "Shift: ESC-10, folds 3-4 train, 5 valid, 1 test",
    "esc10_recording_folds_test2": "Shift: ESC-10, folds 4-5 train, 1 valid, 2 test",
    "esc10_recording_folds_test3": "Shift: ESC-10, folds 5, 1 train, 2 valid, 3 test",
    "esc10_recording_folds_test5": "Shift: ESC-10, folds 2-3 train, 4 valid, 5 test",
    "esc50_fold5": "ESC-50 fold 5 (train folds 1-3, valid fold 4)",
    "speech_commands_speakers": "Speech Commands subset, 35 words, split by speaker",
    "spoken_digits_speakers": "Spoken digits (Speech Commands zero-nine), split by speaker",
}


def load_average():
    """The 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def run_dir(out, dataset, name, seed):
    """Output folder of one training run."""
    return os.path.join(out, dataset, name, f"seed{seed}")


def train(csv_path, output, seed, hparams, threads, overrides):
    """Run the CustomData recipe once (skipped when it has finished before).

    Returns
    -------
    dict
        ``wall_s`` and the load before/after, read back from ``run.json``.
    """
    record = os.path.join(output, "run.json")
    if os.path.isfile(os.path.join(output, "results.json")) and os.path.isfile(record):
        with open(record, encoding="utf-8") as handle:
            return json.load(handle)
    command = [
        sys.executable,
        "-m",
        "speechbrain_ast.cli",
        "train",
        csv_path,
        "--output",
        output,
        "--hparams",
        hparams,
        "--",
        "--seed",
        str(seed),
        *overrides,
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=REPO)
    load_before, start = load_average(), time.time()
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, "stdout.log"), "w", encoding="utf-8") as log:
        done = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode:
        raise RuntimeError(f"{output}: training failed (see {output}/stdout.log)")
    info = {
        "wall_s": round(time.time() - start, 1),
        "load_before": load_before,
        "load_after": load_average(),
        "threads": threads,
        "command": " ".join(command[2:]),
    }
    with open(record, "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=2)
    return info


def model_frames(save_folder):
    """The input length (frames) a run's model saw, from its ``data_config.yaml``."""
    with open(os.path.join(save_folder, "data_config.yaml"), encoding="utf-8") as f:
        return next(
            int(line.split(":")[1]) for line in f if line.startswith("n_frames:")
        )


def baseline(save_folder, output):
    """``baseline_logmel.py`` on a run's split (cached in ``output``)."""
    if not os.path.isfile(output):
        n_frames = model_frames(save_folder)
        subprocess.run(
            [
                sys.executable,
                os.path.join(REPO, "benchmarks", "baseline_logmel.py"),
                save_folder,
                "--n_frames",
                str(n_frames),
                "--output",
                output,
            ],
            check=True,
            env=dict(os.environ, PYTHONPATH=REPO),
            stdout=subprocess.DEVNULL,
        )
    with open(output, encoding="utf-8") as handle:
        return json.load(handle)


def run_scores(folder):
    """Validation and test accuracy of the exported model of a finished run.

    Arguments
    ---------
    folder : str
        A run folder with ``results.json`` (and ``run.json``).

    Returns
    -------
    dict
        ``valid``, ``test``, ``model`` ("best epoch"), ``minutes``.
    """
    with open(os.path.join(folder, "results.json"), encoding="utf-8") as handle:
        results = json.load(handle)
    test, model = results["best_valid"], "best epoch"
    valid = {"accuracy": best_valid_accuracy(os.path.join(folder, "results.csv"))}
    minutes = None
    if os.path.isfile(os.path.join(folder, "run.json")):
        with open(os.path.join(folder, "run.json"), encoding="utf-8") as handle:
            minutes = json.load(handle)["wall_s"] / 60
    median_swing, max_swing = validation_swing(os.path.join(folder, "results.csv"))
    return {
        "valid": valid.get("accuracy"),
        "test": test["accuracy"],
        "model": model,
        "minutes": minutes,
        "swing": (median_swing, max_swing),
        "late_valid": late_validation_mean(os.path.join(folder, "results.csv")),
    }


def best_valid_accuracy(results_csv):
    """Highest per-epoch validation accuracy in a recipe's ``results.csv``."""
    import csv

    with open(results_csv, newline="", encoding="utf-8") as handle:
        return max(float(row["valid_accuracy"]) for row in csv.DictReader(handle))


def validation_swing(results_csv):
    """How much validation accuracy moves from one epoch to the next once the
    warm-up is over (the epochs from the first at the peak learning rate).

    Arguments
    ---------
    results_csv : str
        A recipe's ``results.csv`` (``lr`` and ``valid_accuracy`` per epoch).

    Returns
    -------
    tuple
        Median and largest absolute change between consecutive epochs
        (fractions), or ``(None, None)`` with fewer than 2 such epochs.

    Example
    -------
    >>> path = getfixture("tmpdir").join("results.csv")
    >>> _ = path.write("epoch,lr,valid_accuracy\\n1,1e-4,0.1\\n2,6e-4,0.5\\n"
    ...                "3,6e-4,0.3\\n4,3e-4,0.4\\n")
    >>> [round(x, 2) for x in validation_swing(path.strpath)]
    [0.15, 0.2]
    """
    import csv

    with open(results_csv, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    peak = max(float(row["lr"]) for row in rows)
    first = next(i for i, row in enumerate(rows) if float(row["lr"]) >= peak * 0.999)
    accuracy = [float(row["valid_accuracy"]) for row in rows[first:]]
    changes = [abs(b - a) for a, b in zip(accuracy, accuracy[1:])]
    if not changes:
        return None, None
    return statistics.median(changes), max(changes)


def late_validation_mean(results_csv, share=0.25):
    """Mean validation accuracy over the last ``share`` of the epochs.

    It picks no peak, so it says what the run settled at: beside the best
    epoch's score it shows how much of that score was one lucky epoch.

    Arguments
    ---------
    results_csv : str
        A recipe's ``results.csv`` (``valid_accuracy`` per epoch).
    share : float
        The part of the run, from its end (at least one epoch).

    Returns
    -------
    float

    Example
    -------
    >>> path = getfixture("tmpdir").join("results.csv")
    >>> _ = path.write("epoch,lr,valid_accuracy\\n1,1e-4,0.1\\n2,6e-4,0.5\\n"
    ...                "3,6e-4,0.3\\n4,3e-4,0.4\\n")
    >>> round(late_validation_mean(path.strpath), 2), late_validation_mean(path.strpath, 0.5)
    (0.4, 0.35)
    """
    import csv

    with open(results_csv, newline="", encoding="utf-8") as handle:
        accuracy = [float(row["valid_accuracy"]) for row in csv.DictReader(handle)]
    last = max(1, round(len(accuracy) * share))
    return statistics.mean(accuracy[-last:])


def percent(value):
    """``41.2`` style percentage, or a dash."""
    return "-" if value is None else f"{100 * value:.1f}"


def table(out, datasets):
    """Markdown table of every finished run under ``out``.

    Returns
    -------
    str
        The table, one row per dataset and initialisation.
    """
    lines = [
        "| Data | Model | Seeds | Valid acc. % (per seed) | Test acc. % (per seed) "
        "| Test mean % | Baseline test % (valid %) | Ours - baseline "
        "| Valid swing after warm-up, median / max % "
        "| Valid mean, last quarter of epochs % | Best valid - test, points "
        "| Minutes per run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for dataset in datasets:
        root = os.path.join(out, dataset)
        if not os.path.isdir(root):
            continue
        base = os.path.join(root, "baseline.json")
        base = json.load(open(base, encoding="utf-8")) if os.path.isfile(base) else None
        for name in sorted(os.listdir(root)):
            seeds = (
                sorted(
                    entry
                    for entry in os.listdir(os.path.join(root, name))
                    if entry.startswith("seed")
                    and os.path.isfile(os.path.join(root, name, entry, "results.json"))
                )
                if os.path.isdir(os.path.join(root, name))
                else []
            )
            if not seeds:
                continue
            scores = [run_scores(os.path.join(root, name, seed)) for seed in seeds]
            mean = statistics.mean(score["test"] for score in scores)
            gain = f"{100 * (mean - base['test']):+.1f}" if base else "-"
            minutes = [score["minutes"] for score in scores if score["minutes"]]
            gaps = [f"{100 * (s['valid'] - s['test']):.1f}" for s in scores]
            lines.append(
                f"| {TITLES.get(dataset, dataset)} | {name} ({scores[0]['model']}) "
                f"| {', '.join(s[4:] for s in seeds)} "
                f"| {' / '.join(percent(s['valid']) for s in scores)} "
                f"| {' / '.join(percent(s['test']) for s in scores)} | {percent(mean)} "
                f"| {percent(base['test']) if base else '-'} "
                f"({percent(base['valid']) if base else '-'}) "
                f"| {gain} "
                f"| {', '.join(percent(s['swing'][0]) + ' / ' + percent(s['swing'][1]) for s in scores)} "
                f"| {' / '.join(percent(s['late_valid']) for s in scores)} "
                f"| {' / '.join(gaps)} "
                f"| {' / '.join(f'{m:.1f}' for m in minutes) or '-'} |"
            )
    return "\n".join(lines)


def machine():
    """One line about where the runs happened (CPU model, cores, torch)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            names = [
                line.split(":", 1)[1].strip() for line in handle if "model name" in line
            ]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}"


def main(argv=None):
    """Command line: run what is missing, then print the table."""
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("splits", help="folder with the CSVs of small_data_splits.py")
    parser.add_argument(
        "--out", required=True, help="folder for the runs and the table"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=list(DATASETS + SHIFT_DATASETS),
        help="CSV names in SPLITS (default: the three sets and the shift tests)",
    )
    parser.add_argument("--name", default="scratch", help="name of this initialisation")
    parser.add_argument(
        "--hparams",
        default="ast_small_scratch",
        help="the custom-data YAML (default: ast_small_scratch, the rows measured "
        "first; ecapa_small_scratch is the default of speechbrain-ast train)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--table", action="store_true", help="only write the table")
    args = parser.parse_args(argv)
    if not args.table:
        for dataset in args.datasets:
            csv_path = os.path.join(args.splits, f"{dataset}.csv")
            if not os.path.isfile(csv_path):
                sys.exit(f"error: {csv_path} is missing (run small_data_splits.py)")
            for seed in args.seeds:
                output = run_dir(args.out, dataset, args.name, seed)
                info = train(
                    csv_path, output, seed, args.hparams, args.threads, overrides
                )
                print(
                    f"{output}: {run_scores(output)} ({info['wall_s']} s)", flush=True
                )
            first = run_dir(args.out, dataset, args.name, args.seeds[0])
            result = baseline(
                os.path.join(first, "save"),
                os.path.join(args.out, dataset, "baseline.json"),
            )
            print(f"{dataset} baseline: {result}", flush=True)
    text = f"{table(args.out, args.datasets)}\n\nMachine: {machine()}.\n"
    with open(os.path.join(args.out, "table.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
