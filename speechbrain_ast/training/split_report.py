"""What a split holds, and whether its held-out clips leak into training.

Printed and written by the custom-data preparation for every run:

* the split summary: clips, groups and classes per split, and a note when
  the groups made the asked shares impossible (6 speakers split 4/1/1 cannot
  give 10 % / 10 %);
* the leakage report: how many validation and test clips share a recording
  group with a training clip, and how many are near-duplicates of a
  training clip by content (:mod:`speechbrain_ast.training.audio_fingerprint`:
  the same recording saved twice, overlapping slices). Above zero it warns,
  names examples and says how to fix it.

Authors
 * speechbrain-ast contributors 2026
"""

import json
import logging
from concurrent.futures import ThreadPoolExecutor

from speechbrain_ast.audio import AudioError, load_audio
from speechbrain_ast.files import atomic_write
from speechbrain_ast.training.audio_fingerprint import (
    SAMPLE_RATE,
    fingerprint,
    near_duplicates,
)
from speechbrain_ast.training.recording_groups import group_leaks

__all__ = ["leakage_report", "log_leakage", "split_summary", "write_leakage"]

logger = logging.getLogger(__name__)
HELD_OUT = ("valid", "test")


def split_summary(splits, valid_ratio, test_ratio):
    """Clips, groups and classes per split, and whether the asked shares were met.

    Arguments
    ---------
    splits : dict
        ``{"train", "valid", "test"}`` -> rows with ``group`` and ``labels``.
    valid_ratio, test_ratio : float
        The shares asked for (None when the data gave the split).

    Returns
    -------
    str
        One line per split, then a note if a share is off by more than half.

    Example
    -------
    >>> rows = lambda n, g: [{"group": f"{g}{i % 2}", "labels": ["x"]} for i in range(n)]
    >>> print(split_summary({"train": rows(8, "a"), "valid": rows(1, "b"), "test": rows(1, "c")},
    ...                     0.1, 0.1))
    split: train 8 clips, 2 groups, 1 classes; valid 1 clips, 1 groups, 1 classes; test 1 clips, 1 groups, 1 classes
    """
    total = sum(len(rows) for rows in splits.values()) or 1
    parts = []
    for name in ("train", *HELD_OUT):
        rows = splits[name]
        groups = {row["group"] for row in rows}
        classes = {label for row in rows for label in row["labels"]}
        parts.append(f"{name} {len(rows)} clips, {len(groups)} groups, {len(classes)} classes")
    text = "split: " + "; ".join(parts)
    asked = {"valid": valid_ratio, "test": test_ratio}
    off = [
        f"{name} {len(splits[name]) / total:.0%} (asked {asked[name]:.0%})"
        for name in HELD_OUT
        if asked[name] and abs(len(splits[name]) / total - asked[name]) > asked[name] / 2
    ]
    if off:
        n_groups = len({row["group"] for rows in splits.values() for row in rows})
        text += (
            f"\nnote: whole groups go to one split, and {n_groups} groups cannot give the "
            f"asked shares: {', '.join(off)}"
        )
    return text


def _fingerprint_file(path):
    """Sub-fingerprints of an audio file (none if it cannot be read)."""
    try:
        return fingerprint(load_audio(path, sample_rate=SAMPLE_RATE))
    except (AudioError, OSError, RuntimeError, ValueError):
        return {}


def leakage_report(splits, check_content=True, threads=4):
    """Held-out clips that share a group, or their content, with training clips.

    Arguments
    ---------
    splits : dict
        ``{"train", "valid", "test"}`` -> rows with ``path``, ``id`` and ``group``.
    check_content : bool
        Also fingerprint every clip (about 6 ms per 5 s clip) for near-duplicates.
    threads : int
        Files read at once.

    Returns
    -------
    dict
        ``shared_group`` and ``near_duplicate`` counts per held-out split, and
        up to five ``examples`` of each (held-out path, training path).
    """
    report = {"shared_group": group_leaks(splits), "near_duplicate": None, "examples": {}}
    train_groups = {}
    for row in splits["train"]:
        train_groups.setdefault(row["group"], row["path"])
    report["examples"]["shared_group"] = [
        (row["path"], train_groups[row["group"]])
        for name in HELD_OUT
        for row in splits[name]
        if row["group"] in train_groups
    ][:5]
    if not check_content:
        return report
    rows = [row for name in ("train", *HELD_OUT) for row in splits[name]]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        prints = dict(zip((row["path"] for row in rows), pool.map(_fingerprint_file, (row["path"] for row in rows))))
    train = {row["path"]: prints[row["path"]] for row in splits["train"]}
    report["near_duplicate"], examples = {}, []
    for name in HELD_OUT:
        found = near_duplicates(train, {row["path"]: prints[row["path"]] for row in splits[name]})
        report["near_duplicate"][name] = len(found)
        examples += [(path, match) for path, (match, _) in sorted(found.items())]
    report["examples"]["near_duplicate"] = examples[:5]
    return report


def log_leakage(report):
    """Log the report: one info line when clean, loud warnings otherwise.

    Arguments
    ---------
    report : dict
        From :func:`leakage_report`.

    Returns
    -------
    bool
        True when nothing leaks.

    Example
    -------
    >>> log_leakage({"shared_group": {"valid": 0, "test": 0},
    ...              "near_duplicate": {"valid": 0, "test": 0}, "examples": {}})
    True
    """
    groups = report["shared_group"]
    duplicates = report.get("near_duplicate") or {}
    clean = not any(groups.values()) and not any(duplicates.values())
    if clean:
        logger.info("leakage check: no valid or test clip shares a recording group or "
                    "its content with a training clip")
        return True
    if any(groups.values()):
        logger.warning(
            "LEAKAGE: %d valid and %d test clips share a recording group with training "
            "clips (e.g. %s): their scores overstate accuracy on new recordings. Fix: put "
            "whole recordings in one split (a 'group' or 'split' column in a CSV, or "
            "--group_regex for the file names)",
            groups["valid"], groups["test"],
            "; ".join(f"{a} ~ {b}" for a, b in report["examples"].get("shared_group", [])[:2]),
        )  # fmt: skip
    if any(duplicates.values()):
        logger.warning(
            "LEAKAGE: %d valid and %d test clips are near-duplicates of training clips by "
            "content (e.g. %s): the same recording saved twice or overlapping slices. Fix: "
            "remove the copies, or group them (a 'group' column or --group_regex)",
            duplicates["valid"], duplicates["test"],
            "; ".join(f"{a} ~ {b}" for a, b in report["examples"].get("near_duplicate", [])[:2]),
        )  # fmt: skip
    return False


def write_leakage(report, path):
    """Write the report as JSON (the run folder keeps it with the split).

    Arguments
    ---------
    report : dict
        From :func:`leakage_report`.
    path : str
        The file.
    """
    with atomic_write(path) as handle:
        json.dump(report, handle, indent=1)
