#!/usr/bin/env python3
"""How much a clip-by-clip split of sliced recordings overstates accuracy.

ESC-50's file names carry the source recording (``<fold>-<source>-<take>-
<class>``; 788 of its 2,000 clips share a source with another clip). This
lays ESC-50 out as a folder per class, the way users bring their sounds, and
prepares it with the custom-data recipe three ways:

* ``none``: one group per file (the split before recording groups existed);
* ``auto``: recording groups from the file names (the default now);
* ``folds``: ESC-50's own recording-disjoint folds (1-3 train, 4 valid, 5 test).

For each, the leakage report of the preparation and the log-mel + logistic
regression baseline of ``benchmarks/baseline_logmel.py`` (C chosen on
validation, test scored once), with the test accuracy split into clips that
share a recording with a training clip and clips that do not::

    python benchmarks/split_leakage.py ../shared/data/esc50 --out results/split_leakage

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import csv
import importlib.util
import json
import pathlib
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks.baseline_logmel import C_GRID, clip_features  # noqa: E402


def load_prepare():
    """recipes/CustomData/custom_data_prepare.py as a module."""
    path = REPO / "recipes" / "CustomData" / "custom_data_prepare.py"
    spec = importlib.util.spec_from_file_location("custom_data_prepare", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def layouts(esc50, out):
    """A folder per class (links to the clips) and a CSV with the official folds."""
    audio = pathlib.Path(esc50) / "audio"
    folders, table = out / "esc50_by_class", out / "esc50_folds.csv"
    rows = []
    for clip in sorted(audio.iterdir()):
        fold, source, take, target = clip.stem.split("-")
        link = folders / f"class{int(target):02d}" / clip.name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(clip.resolve())
        split = {"4": "valid", "5": "test"}.get(fold, "train")
        rows.append([str(link), f"class{int(target):02d}", split, f"{fold}-{source}"])
    with open(table, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "split", "group"])
        writer.writerows(rows)
    return folders, table


def read_manifest(save, split):
    with open(save / f"{split}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def recording(path):
    """The ESC-50 source recording of a clip (fold and source id)."""
    return "-".join(pathlib.Path(path).stem.split("-")[:2])


def evaluate(save, features, seed):
    """Baseline test accuracy overall, on leaky and on unseen-recording test clips."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = {split: read_manifest(save, split) for split in ("train", "valid", "test")}
    x = {split: np.stack([features[row["wav"]] for row in rows]) for split, rows in data.items()}
    y = {split: np.array([row["labels"] for row in rows]) for split, rows in data.items()}
    models = {
        c: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed))
        .fit(x["train"], y["train"])
        for c in C_GRID
    }
    best = max(C_GRID, key=lambda c: ((models[c].predict(x["valid"]) == y["valid"]).mean(), -c))
    correct = models[best].predict(x["test"]) == y["test"]
    seen = {recording(row["wav"]) for row in data["train"]}
    leaky = np.array([recording(row["wav"]) in seen for row in data["test"]])
    return {
        "C": best,
        "test_clips": int(len(correct)),
        "test_accuracy": float(correct.mean()),
        "leaky_test_clips": int(leaky.sum()),
        "accuracy_leaky": float(correct[leaky].mean()) if leaky.any() else None,
        "accuracy_unseen_recordings": float(correct[~leaky].mean()) if (~leaky).any() else None,
    }


def main():
    """Prepare the three splits, score the baseline on each, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("esc50", help="ESC-50 folder with audio/ (16 kHz copy)")
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    prep = load_prepare()
    folders, table = layouts(args.esc50, args.out)
    paths = sorted(str(path) for path in folders.rglob("*.flac"))
    features = dict(zip(paths, clip_features(paths, None)))
    reports = []
    for seed in args.seeds:
        for scheme in ("none", "auto", "folds"):
            if scheme == "folds" and seed != args.seeds[0]:
                continue  # the official folds do not change with the seed
            save = args.out / f"{scheme}_seed{seed}"
            source = table if scheme == "folds" else folders
            result = prep.prepare_custom_data(
                str(source), str(save), seed=seed,
                group_regex="auto" if scheme == "folds" else scheme,
            )  # fmt: skip
            report = {"scheme": scheme, "seed": seed, "leakage": result["leakage"],
                      **evaluate(save, features, seed)}  # fmt: skip
            reports.append(report)
            print(json.dumps(report), flush=True)
    (args.out / "reports.json").write_text(json.dumps(reports, indent=1))
    print("| Split | Seed | Test clips | sharing a recording with train (report) | "
          "near-duplicates | Test acc. | on shared recordings | on unseen recordings |")
    print("|---|---|---|---|---|---|---|---|")
    for r in reports:
        shared = r["leakage"]["shared_group"]
        duplicates = r["leakage"]["near_duplicate"] or {}
        fmt = lambda v: "-" if v is None else f"{v:.1%}"  # noqa: E731
        print(f"| {r['scheme']} | {r['seed']} | {r['test_clips']} | {r['leaky_test_clips']} "
              f"({shared['test']}) | {duplicates.get('test', '-')} | {fmt(r['test_accuracy'])} "
              f"| {fmt(r['accuracy_leaky'])} | {fmt(r['accuracy_unseen_recordings'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
