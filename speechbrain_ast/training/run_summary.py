"""``summary.md``: a run folder that explains itself.

A number without its context misleads: 75 % on a split that leaks, or on ten
classes where one has half the clips, or below what a logistic regression on
log-mel statistics gets. The custom-data recipe ends every run with a short
``summary.md``: the data (clips, classes, groups, skipped files, leakage), the
settings the data decided, the chosen epoch and why, the test score beside
chance, and the log-mel + logistic-regression baseline on the same split
(:mod:`speechbrain_ast.training.logmel_baseline`), and prints its last three
lines.

Authors
 * speechbrain-ast contributors 2026
"""

import csv
import json
import os

import yaml

from speechbrain_ast.files import atomic_write

__all__ = ["run_summary_lines", "write_run_summary"]

SPLITS = ("train", "valid", "test")


def _manifest_counts(save_folder):
    """Clips and groups per split from the manifests."""
    counts = {}
    for split in SPLITS:
        path = os.path.join(save_folder, f"{split}.csv")
        if not os.path.isfile(path):
            continue
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        groups = {row.get("group") or row["wav"] for row in rows}
        counts[split] = (len(rows), len(groups))
    return counts


def _percent(value):
    return "-" if value is None else f"{100 * value:.1f} %"


def run_summary_lines(results, history_rows, main_metric, baseline=None):
    """The three result lines: chosen epoch, test vs chance, baseline.

    Arguments
    ---------
    results : dict
        As written to ``results.json``.
    history_rows : list of dict
        The run's per-epoch rows (``valid_<metric>``).
    main_metric : str
        ``accuracy`` or ``mAP``.
    baseline : dict, optional
        :func:`speechbrain_ast.training.logmel_baseline.run_baseline`'s result.

    Returns
    -------
    list of str
        Three lines.

    Example
    -------
    >>> results = {"best_valid": {"accuracy": 0.8}, "chosen_epoch": 2, "n_classes": 4,
    ...            "chance": {"majority": 0.3, "uniform": 0.25}}
    >>> rows = [{"epoch": 1, "valid_accuracy": 0.5}, {"epoch": 2, "valid_accuracy": 0.7}]
    >>> for line in run_summary_lines(results, rows, "accuracy", {"test": 0.6, "C": 0.1}):
    ...     print(line)
    chosen epoch: 2 of 2, the best validation accuracy (70.0 %; last epoch 70.0 %)
    test accuracy: 80.0 % (chance: 30.0 % always answering the most frequent class, 25.0 % uniform over 4 classes)
    baseline, log-mel + logistic regression on the same split: 60.0 % (C 0.1 chosen on validation)
    """
    key = f"valid_{main_metric}"
    valid = {int(row["epoch"]): float(row[key]) for row in history_rows if row.get(key) not in (None, "")}
    epoch = results.get("chosen_epoch")
    lines = []
    if epoch is not None and valid:
        lines.append(
            f"chosen epoch: {epoch} of {max(valid)}, the best validation {main_metric} "
            f"({_percent(valid.get(epoch))}; last epoch {_percent(valid[max(valid)])})"
        )
    else:
        lines.append("chosen epoch: no test split, the best-validation checkpoint is exported")
    test = (results.get("wa") or results.get("best_valid") or {}).get(main_metric)
    chance = results.get("chance") or {}
    if "majority" in chance:
        said = (f"{_percent(chance['majority'])} always answering the most frequent class, "
                f"{_percent(chance['uniform'])} uniform over {results.get('n_classes')} classes")  # fmt: skip
    elif "mAP" in chance:
        said = f"{_percent(chance['mAP'])} mAP of random scores"
    else:
        said = "not known"
    lines.append(f"test {main_metric}: {_percent(test)} (chance: {said})")
    if baseline and baseline.get("test") is not None:
        lines.append(
            f"baseline, log-mel + logistic regression on the same split: "
            f"{_percent(baseline['test'])} (C {baseline['C']:g} chosen on validation)"
        )
    else:
        lines.append("baseline, log-mel + logistic regression: not computed")
    return lines


def write_run_summary(output_folder, save_folder, results, history_rows, main_metric,
                      plan_text="", baseline=None):  # fmt: skip
    """Write ``<output_folder>/summary.md``; return its three result lines.

    Arguments
    ---------
    output_folder : str
        The run folder.
    save_folder : str
        The preparation's folder (manifests, ``data_config.yaml``,
        ``leakage.json``, ``skipped.txt``).
    results : dict
        As written to ``results.json``.
    history_rows : list of dict
        Per-epoch rows of the run history.
    main_metric : str
        ``accuracy`` or ``mAP``.
    plan_text : str
        The training plan as logged.
    baseline : dict, optional
        The baseline's result on the same split.

    Returns
    -------
    list of str
        The lines of :func:`run_summary_lines`.
    """
    counts = _manifest_counts(save_folder)
    config = {}
    config_path = os.path.join(save_folder, "data_config.yaml")
    if os.path.isfile(config_path):
        with open(config_path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle) or {}
    skipped_path = os.path.join(save_folder, "skipped.txt")
    skipped = 0
    if os.path.isfile(skipped_path):
        with open(skipped_path, encoding="utf-8") as handle:
            skipped = sum(1 for line in handle if line.strip())
    leakage = None
    leakage_path = os.path.join(save_folder, "leakage.json")
    if os.path.isfile(leakage_path):
        with open(leakage_path, encoding="utf-8") as handle:
            leakage = json.load(handle)
    lines = run_summary_lines(results, history_rows, main_metric, baseline)
    data = "; ".join(
        f"{split} {clips} clips in {groups} groups" for split, (clips, groups) in counts.items()
    )
    text = [f"# Run summary: {os.path.basename(os.path.normpath(output_folder))}", "", "## Data", ""]
    text.append(f"- {data}; {results.get('n_classes', config.get('n_classes', '?'))} classes")
    text.append(f"- skipped files: {skipped}" + (" (save/skipped.txt)" if skipped else ""))
    if leakage:
        shared, near = leakage["shared_group"], leakage.get("near_duplicate") or {}
        text.append(
            f"- leakage: {shared['valid']} valid and {shared['test']} test clips share a "
            f"recording group with training clips; {near.get('valid', '-')} and "
            f"{near.get('test', '-')} are near-duplicates by content (save/leakage.json)"
        )
    text += ["", "## Settings the data decided", ""]
    for key in ("multi_label", "n_frames", "timem", "time_roll", "norm_mean", "norm_std"):
        if key in config:
            text.append(f"- {key}: {config[key]}")
    if plan_text:
        text.append(f"- {plan_text.splitlines()[0]}")
        text += [f"- {line}" for line in plan_text.splitlines()[1:]]
    text += ["", "## Result", ""]
    text += [f"- {line}" for line in lines]
    text.append("")
    text.append("`cum_accuracy` / `cum_mAP` in train_log.txt: the score of the mean "
                "of the scores of all epochs so far on validation, not the model's.")  # fmt: skip
    with atomic_write(os.path.join(output_folder, "summary.md")) as handle:
        handle.write("\n".join(text) + "\n")
    return lines
