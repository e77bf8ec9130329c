#!/usr/bin/env python3
"""ESC-50 5-fold cross-validation: run ``train.py`` once per test fold, summarise.

To run:
> python run_folds.py hparams/ast.yaml --data_folder /path/to/ESC-50-master [overrides]
> python run_folds.py hparams/ast.yaml --data_folder ... --folds 1 2 --summary_only

Every extra argument is passed to ``train.py`` unchanged; fold ``k`` is
written to ``<results_folder>/fold<k>``. The summary
(``<results_folder>/cv_summary.md`` and ``cv_summary.json``) holds per fold:

* ``accuracy``: test accuracy of the epoch selected on the validation split
  carved from the training folds (honest protocol: the test fold selects
  nothing);
* the **official protocol** number, labelled as such: the per-epoch test
  accuracies (monitored, never used for selection by us) averaged over the
  folds, maximum over epochs, as ``get_esc_result.py`` of the official code.

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def summarize(fold_folders):
    """Collect per-fold results into a summary dict.

    Arguments
    ---------
    fold_folders : dict
        Fold number -> output folder of its run.

    Returns
    -------
    dict
        Per-fold accuracies, mean/std, and the official-protocol number.
    """
    folds, curves = {}, {}
    for fold, folder in sorted(fold_folders.items()):
        with open(
            os.path.join(folder, "results.json"), encoding="utf-8"
        ) as handle:
            folds[fold] = json.load(handle)["best_valid"]["accuracy"]
        with open(os.path.join(folder, "results.csv"), newline="") as handle:
            rows = list(csv.DictReader(handle))
        key = "valid_monitored_test_accuracy"
        if rows and key in rows[0]:
            curves[fold] = [float(row[key]) for row in rows]
    accuracies = list(folds.values())
    summary = {
        "folds": folds,
        "mean_accuracy": statistics.mean(accuracies),
        "std_accuracy": statistics.pstdev(accuracies)
        if len(accuracies) > 1
        else 0.0,
    }
    if curves and len(curves) == len(folds):
        n_epochs = min(len(curve) for curve in curves.values())
        mean_curve = [
            statistics.mean(curve[epoch] for curve in curves.values())
            for epoch in range(n_epochs)
        ]
        best = max(range(n_epochs), key=mean_curve.__getitem__)
        summary["official_protocol"] = {
            "note": "best epoch of the 5-fold mean test accuracy (test data selects the epoch)",
            "epoch": best + 1,
            "mean_accuracy": mean_curve[best],
            "folds": {fold: curve[best] for fold, curve in curves.items()},
        }
    return summary


def write_summary(summary, folder):
    """Write ``cv_summary.json`` and a Markdown table ``cv_summary.md``."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "cv_summary.json"), "w") as handle:
        json.dump(summary, handle, indent=2)
    folds = summary["folds"]
    lines = [
        "| " + " | ".join(f"Fold {f}" for f in folds) + " | Mean | Std |",
        "|" + "---|" * (len(folds) + 2),
        "| "
        + " | ".join(f"{acc:.4f}" for acc in folds.values())
        + f" | **{summary['mean_accuracy']:.4f}** | {summary['std_accuracy']:.4f} |",
    ]
    official = summary.get("official_protocol")
    if official:
        lines += [
            "",
            f"Official protocol (epoch {official['epoch']} chosen on the test folds): "
            f"{official['mean_accuracy']:.4f}",
        ]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(folder, "cv_summary.md"), "w") as handle:
        handle.write(text)
    return text


def main(argv=None):
    """Run the folds (unless ``--summary_only``) and print the summary table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--results_folder", default="results/ast_esc50_cv")
    parser.add_argument("--summary_only", action="store_true")
    args, train_args = parser.parse_known_args(argv)
    if not train_args:
        parser.error("give the hparams file and train.py arguments")
    fold_folders = {
        fold: os.path.join(args.results_folder, f"fold{fold}")
        for fold in args.folds
    }
    for fold, folder in fold_folders.items():
        if not args.summary_only:
            fold_args = ["--test_fold", str(fold), "--output_folder", folder]
            subprocess.run(
                [
                    sys.executable,
                    os.path.join(HERE, "train.py"),
                    *train_args,
                    *fold_args,
                ],
                check=True,
            )
    print(write_summary(summarize(fold_folders), args.results_folder))


if __name__ == "__main__":
    main()
