#!/usr/bin/env python3
"""How sure is "ours - baseline"? A paired bootstrap over the test clips.

On a test split of 80 clips one clip is 1.25 points, so a 3-point gain and
a 5-point target cannot be told apart by the accuracies alone. This script
takes the runs of ``small_data_compare.py`` and the log-mel baseline on the
same split, compares them **clip by clip** and gives the 95 % confidence
interval of the accuracy difference (SciPy's ``bootstrap``, BCa, resampling
test clips; the seeds of a model are averaged per clip first, so the
interval is that of the seed-mean accuracy the tables report)::

    python benchmarks/paired_accuracy.py SPLITS --out results/small_data \\
        --name ecapa_p1 --datasets esc10_recording_folds esc50_fold5 \\
        --pool "ESC-10, five test folds" esc10_recording_folds \\
        esc10_recording_folds_test1 ...

Per clip, the model's prediction comes from ``speechbrain-ast evaluate
RUN/model SPLITS/DATASET.csv --split test --json`` (cached as
``RUN/test_predictions.json``; its accuracy is checked against the run's
own test accuracy), the baseline's from
``speechbrain_ast.training.logmel_baseline.run_baseline`` (cached in the
data set's ``baseline.json``, which is rewritten when an older one lacks the
per-clip predictions). Nothing here chooses anything: it reads test scores
that are already reported and says how far they can be trusted.

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

from small_data_compare import TITLES, model_frames, run_dir  # noqa: E402


def paired_difference(model_correct, baseline_correct, confidence=0.95, seed=0):
    """Accuracy difference model - baseline with a paired bootstrap interval.

    Arguments
    ---------
    model_correct : array-like
        ``[n_seeds, n_clips]``: 1 where a run got the clip right.
    baseline_correct : array-like
        ``[n_clips]``: 1 where the baseline got the clip right.
    confidence : float
        Confidence level of the interval.
    seed : int
        Seed of the resampling (the interval is reproducible).

    Returns
    -------
    dict
        ``difference`` (points, of the seed-mean accuracy), ``low`` and
        ``high`` (points), ``clips``, and the two accuracies compared
        (``model`` and ``baseline``, %).

    Example
    -------
    >>> better = paired_difference([[1, 1, 1, 0] * 20], [1, 0, 1, 0] * 20)
    >>> better["difference"], better["low"] > 0
    (25.0, True)
    """
    from scipy.stats import bootstrap

    model_correct = np.atleast_2d(np.asarray(model_correct, dtype=float))
    baseline_correct = np.asarray(baseline_correct, dtype=float)
    if model_correct.shape[1] != baseline_correct.shape[0]:
        raise ValueError(
            f"{model_correct.shape[1]} model clips against "
            f"{baseline_correct.shape[0]} baseline clips"
        )
    per_clip = model_correct.mean(0) - baseline_correct
    difference = 100 * float(per_clip.mean())
    accuracies = {
        "model": 100 * float(model_correct.mean()),
        "baseline": 100 * float(baseline_correct.mean()),
    }
    if np.all(per_clip == per_clip[0]):  # no spread: the interval is the point
        return {
            "difference": difference,
            "low": difference,
            "high": difference,
            "clips": len(per_clip),
            **accuracies,
        }
    interval = bootstrap(
        (per_clip,),
        np.mean,
        confidence_level=confidence,
        n_resamples=10000,
        method="BCa",
        random_state=np.random.default_rng(seed),
    ).confidence_interval
    return {
        "difference": difference,
        "low": 100 * float(interval.low),
        "high": 100 * float(interval.high),
        "clips": len(per_clip),
        **accuracies,
    }


def run_predictions(run, csv_path):
    """Per-clip predictions of a run's exported model on its test split.

    Returns
    -------
    dict
        Absolute file path -> (true labels, predicted label).
    """
    cache = os.path.join(run, "test_predictions.json")
    if not os.path.isfile(cache):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "speechbrain_ast.cli",
                "evaluate",
                os.path.join(run, "model"),
                csv_path,
                "--split",
                "test",
                "--json",
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONPATH=REPO),
        )
        if done.returncode:
            raise RuntimeError(f"{run}: evaluate failed:\n{done.stderr[-2000:]}")
        with open(cache, "w", encoding="utf-8") as handle:
            handle.write(done.stdout)
    with open(cache, encoding="utf-8") as handle:
        document = json.load(handle)
    with open(os.path.join(run, "results.json"), encoding="utf-8") as handle:
        reported = json.load(handle)["best_valid"]["accuracy"]
    if abs(document["accuracy"] - reported) > 1e-6:
        print(
            f"warning: {run}: evaluate gives {100 * document['accuracy']:.2f} %, "
            f"the run reported {100 * reported:.2f} % on the same clips",
            file=sys.stderr,
        )
    return {
        os.path.abspath(entry["file"]): (entry["labels"], entry["predicted"])
        for entry in document["predictions"]
    }


def baseline_predictions(dataset_folder, save_folder):
    """Per-clip predictions of the log-mel baseline (cached in ``baseline.json``).

    Returns
    -------
    dict
        Absolute file path -> predicted label.
    """
    from speechbrain_ast.training.logmel_baseline import run_baseline

    cache = os.path.join(dataset_folder, "baseline.json")
    cached = {}
    if os.path.isfile(cache):
        with open(cache, encoding="utf-8") as handle:
            cached = json.load(handle)
    if not cached.get("test_predictions"):
        torch.set_num_threads(1)  # as baseline_logmel.py fits it
        result = run_baseline(save_folder, model_frames(save_folder))
        if result["test_predictions"] is None:
            raise ValueError(
                f"{save_folder}: multi-label (mAP): there is no per-clip accuracy "
                "to compare"
            )
        if cached and abs(result["test"] - cached["test"]) > 1e-9:
            # The fbank's float sums, and so a clip near the regression's
            # boundary, depend on the code and thread count of the first fit:
            # keep what was reported, say that the paired row differs.
            print(
                f"warning: {cache}: the baseline refitted scores "
                f"{100 * result['test']:.2f} % on test, {100 * cached['test']:.2f} % "
                "when first fitted; the paired rows use the refit's predictions",
                file=sys.stderr,
            )
            result = {
                "test_predictions": result["test_predictions"],
                "test_refit": result["test"],
            }
        cached = {**cached, **result}
        with open(cache, "w", encoding="utf-8") as handle:
            json.dump(cached, handle, indent=2)
    return {
        os.path.abspath(entry["file"]): entry["predicted"]
        for entry in cached["test_predictions"]
    }


def correctness(splits, out, dataset, name, seeds):
    """``[n_seeds, n_clips]`` model and ``[n_clips]`` baseline correctness."""
    runs = [run_dir(out, dataset, name, seed) for seed in seeds]
    csv_path = os.path.join(splits, f"{dataset}.csv")
    model = [run_predictions(run, csv_path) for run in runs]
    base = baseline_predictions(
        os.path.join(out, dataset), os.path.join(runs[0], "save")
    )
    files = sorted(base)
    for run, predicted in zip(runs, model):
        if sorted(predicted) != files:
            raise RuntimeError(f"{run}: its test clips are not the baseline's")
    model_correct = [
        [predicted[f][1] in predicted[f][0] for f in files] for predicted in model
    ]
    baseline_correct = [base[f] in model[0][f][0] for f in files]
    return np.array(model_correct, dtype=float), np.array(baseline_correct, dtype=float)


def row(title, result, target):
    """One Markdown row."""
    verdict = (
        "above 0"
        if result["low"] > 0
        else "below 0"
        if result["high"] < 0
        else "spans 0"
    )
    if target is not None:
        verdict += (
            f"; above +{target:g}"
            if result["low"] > target
            else f"; below +{target:g}"
            if result["high"] < target
            else f"; +{target:g} inside"
        )
    return (
        f"| {title} | {result['clips']} | {result['model']:.1f} "
        f"| {result['baseline']:.1f} | {result['difference']:+.1f} "
        f"| {result['low']:+.1f} .. {result['high']:+.1f} | {verdict} |"
    )


def main(argv=None):
    """Command line: print the table of paired differences."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("splits", help="folder with the CSVs of small_data_splits.py")
    parser.add_argument("--out", required=True, help="small_data_compare.py's --out")
    parser.add_argument("--name", required=True, help="the runs' --name")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--datasets", nargs="*", default=[])
    parser.add_argument(
        "--pool",
        nargs="+",
        action="append",
        default=[],
        metavar=("TITLE", "DATASET"),
        help="one more row: the test clips of these data sets together",
    )
    parser.add_argument(
        "--target", type=float, default=5.0, help="the gain to test for (points)"
    )
    args = parser.parse_args(argv)
    lines = [
        f"| Test set | Clips | {args.name} test % (mean of {len(args.seeds)} seeds) "
        "| Baseline test % | Difference, points | 95 % interval (paired bootstrap) "
        "| Verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    cache = {}

    def of(dataset):
        if dataset not in cache:
            cache[dataset] = correctness(
                args.splits, args.out, dataset, args.name, args.seeds
            )
        return cache[dataset]

    for dataset in args.datasets:
        result = paired_difference(*of(dataset))
        lines.append(row(TITLES.get(dataset, dataset), result, args.target))
    for title, *datasets in args.pool:
        if not datasets:
            parser.error(f"--pool {title}: name at least one data set")
        parts = [of(dataset) for dataset in datasets]
        model = np.concatenate([part[0] for part in parts], axis=1)
        base = np.concatenate([part[1] for part in parts])
        lines.append(row(title, paired_difference(model, base), args.target))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
