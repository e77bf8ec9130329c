"""Data preparation for your own labelled sounds: a folder per class, or a CSV.

Two inputs are accepted as ``data_folder``:

* a folder with one sub-folder per class (``dog/bark1.wav``, ``dog/x/2.flac``,
  ``cat/...``); audio files in any format soundfile reads (wav, flac, ogg,
  mp3, aiff, ...), any sample rate, mono or stereo; hidden files and folders
  are ignored;
* a CSV file with the columns ``path`` and ``label``: paths absolute or
  relative to the CSV's folder; several labels separated by ``;`` make the
  task multi-label; an optional ``split`` column (``train``/``valid``/
  ``test``) fixes the split; an optional ``group`` column (a speaker, a
  recording session, a source file) keeps clips of one group in one split.

Clips without a ``group`` get one from their file name (``group_regex``,
default ``auto``: ESC-50, UrbanSound8K and Speech Commands names, and
``<name>_<n>`` slices and takes; see
:mod:`speechbrain_ast.training.recording_groups`), so that sibling slices of
one recording never land in training and test. Every preparation logs the
split (clips, groups and classes per split) and a leakage report (held-out
clips sharing a group, or their content, with training clips), and writes it
to ``leakage.json``.

Clips that cannot be used are skipped and listed with the reason in
``skipped.txt``: unreadable, empty, too short for one 25 ms analysis window,
containing NaN, or silent (peak below ``silence_threshold``). A class left
with fewer than two usable clips, a CSV without the needed columns, an empty
label or a class name containing ``;`` stop the preparation with an error
that names the file, before anything is written.

Outputs in ``save_folder`` (written together, so a failure keeps the
previous ones): ``train.csv``, ``valid.csv``, ``test.csv`` (columns
``ID,duration,wav,labels,group``), ``classes.txt``, ``leakage.json``, ``skipped.txt`` (only when
something was skipped), ``prepare_options.json`` and ``data_config.yaml``:
the values derived from the data (``n_classes``, ``multi_label``,
``n_frames``, ``timem``, ``time_roll``, ``norm_mean``, ``norm_std``) that the recipe
uses wherever its YAML says ``auto``.

Without a ``split`` column the split is stratified by label (a clip's rarest
label for multi-label data) and seeded: ``valid_ratio`` and ``test_ratio``
of each class's clips (or groups), at least one of each when a class has
three or more.

Authors
 * speechbrain-ast contributors 2026
"""

import collections
import csv
import hashlib
import json
import logging
import math
import os
import random
from concurrent.futures import ThreadPoolExecutor

import torch
import yaml
from speechbrain_ast.audio import SILENCE_THRESHOLD, too_short_reason
from speechbrain_ast.augment import time_augment_widths
from speechbrain_ast.features import KaldiFbank, clip_norm_stats
from speechbrain_ast.files import atomic_write
from speechbrain_ast.training import (
    clip_checks,
    preparation as prepare_utils,
)
from speechbrain_ast.training.dataio import LABEL_SEPARATOR
from speechbrain_ast.training.recording_groups import assign_groups
from speechbrain_ast.training.settings import read_data_config
from speechbrain_ast.training.split_report import (
    leakage_report,
    log_leakage,
    split_summary,
    write_leakage,
)

logger = logging.getLogger(__name__)

CONFIG_FILE = "data_config.yaml"
LEAKAGE_FILE = "leakage.json"
SPLIT_NAMES = ("train", "valid", "test")
SAMPLE_RATE = 16000
MIN_FRAMES = 16  # one patch
# Bump when the outputs change meaning, so old outputs are rebuilt.
FORMAT_VERSION = 3  # 2: time_roll in data_config.yaml; 3: groups, leakage.json


def prepare_custom_data(
    data_folder,
    save_folder,
    valid_ratio=0.1,
    test_ratio=0.1,
    seed=1234,
    max_frames=1024,
    frames_quantile=0.95,
    silence_threshold=SILENCE_THRESHOLD,
    group_regex="auto",
    check_leakage=True,
    skip_prep=False,
):
    """Write manifests, classes and the data-derived settings of a dataset.

    Arguments
    ---------
    data_folder : str
        A folder with one sub-folder per class, or a CSV file (see the module
        docstring).
    save_folder : str
        Where the outputs go.
    valid_ratio, test_ratio : float
        Share of each class held out for validation and test when the data
        gives no split.
    seed : int
        Seed of the split and of the clips sampled for the statistics.
    max_frames : int
        Cap on the model's input length (1024 frames = 10.24 s).
    frames_quantile : float
        The input length covers this quantile of the clip durations.
    silence_threshold : float
        Clips whose peak amplitude is below it are skipped as silent.
    group_regex : str
        How clips without a ``group`` get one from their file name: ``auto``
        (the common naming conventions,
        :mod:`speechbrain_ast.training.recording_groups`), ``none`` (one group
        per file) or a regular expression with a ``group`` named group.
    check_leakage : bool
        Fingerprint the clips to find held-out near-duplicates of training
        clips (the shared-group count is always reported).
    skip_prep : bool
        Do nothing (the outputs exist already).

    Returns
    -------
    dict
        Output paths, ``status`` ("prepared", "up_to_date", "skip_prep") and
        ``counts``.

    Example
    -------
    >>> import numpy, soundfile
    >>> root = getfixture("tmpdir")
    >>> for name in ("dog", "cat"):
    ...     for index in range(3):
    ...         path = root.join("data", name, f"{index}.wav")
    ...         _ = path.dirpath().ensure(dir=True)
    ...         soundfile.write(
    ...             path.strpath, numpy.random.randn(8000) * 0.1, 16000
    ...         )
    >>> result = prepare_custom_data(
    ...     root.join("data").strpath, root.join("save").strpath
    ... )
    >>> (
    ...     result["status"],
    ...     result["counts"]["train"],
    ...     result["config"]["n_classes"],
    ... )
    ('prepared', 2, 2)
    """
    outputs = prepare_utils.output_paths(
        save_folder, {"config": CONFIG_FILE, "leakage": LEAKAGE_FILE}
    )
    if skip_prep:
        return prepare_utils.prepare_result("skip_prep", outputs, None)
    data_folder = os.path.abspath(data_folder)
    if os.path.isdir(data_folder):
        rows, skipped = rows_from_folder(data_folder)
    elif os.path.isfile(data_folder) and data_folder.lower().endswith(".csv"):
        rows, skipped = rows_from_csv(data_folder)
    else:
        raise ValueError(
            f"{data_folder}: not a folder of class folders nor a .csv file "
            "with path,label columns"
        )
    options = {
        "data_folder": data_folder,
        "group_regex": group_regex,
        "check_leakage": check_leakage,
        "listing": listing_fingerprint(rows),
        "valid_ratio": valid_ratio,
        "test_ratio": test_ratio,
        "seed": seed,
        "max_frames": max_frames,
        "frames_quantile": frames_quantile,
        "silence_threshold": silence_threshold,
        "format_version": FORMAT_VERSION,
    }
    if prepare_utils.is_prepared(outputs, options):
        logger.info("%s: manifests up to date in %s", data_folder, save_folder)
        result = prepare_utils.prepare_result(
            "up_to_date", outputs, prepare_utils.count_outputs(outputs)
        )
        result["config"] = read_data_config(outputs["config"])
        if os.path.isfile(outputs["leakage"]):  # said again on every run
            with open(outputs["leakage"], encoding="utf-8") as handle:
                result["leakage"] = json.load(handle)
            log_leakage(result["leakage"])
        return result

    rows = usable_rows(rows, skipped, silence_threshold)
    group_notes = assign_groups(rows, group_regex)  # of the usable clips
    classes = check_classes(rows, skipped, data_folder)
    splits = split_rows(rows, valid_ratio, test_ratio, seed)
    for split in ("train", "valid"):
        if not splits[split]:
            raise ValueError(
                f"{data_folder}: no clip for the {split} set; give more clips per "
                "class, or a split column with train and valid rows"
            )
    given_split = any(row["split"] for row in rows)
    for note in group_notes:
        logger.info("groups: %s", note)
    logger.info(
        split_summary(
            splits,
            None if given_split else valid_ratio,
            None if given_split else test_ratio,
        )
    )
    leakage = leakage_report(splits, check_content=check_leakage)
    log_leakage(leakage)
    config = derive_config(splits, classes, max_frames, frames_quantile, seed)
    manifests = {
        split: [
            [
                row["id"],
                f"{row['duration']:.3f}",
                row["path"],
                LABEL_SEPARATOR.join(row["labels"]),
                row["group"],
            ]
            for row in splits[split]
        ]
        for split in SPLIT_NAMES
    }
    result = prepare_utils.finish_prepare(
        "custom data",
        outputs,
        manifests,
        classes,
        skipped,
        options,
        header=[*prepare_utils.MANIFEST_FIELDS, "group"],
    )
    write_leakage(leakage, outputs["leakage"])
    result["leakage"] = leakage
    # After the options file: an interruption here leaves the outputs
    # incomplete (no config), so the next call redoes the preparation.
    with atomic_write(outputs["config"]) as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    result["config"] = config
    return result


def rows_from_folder(folder):
    """Clips of a folder-per-class dataset.

    Arguments
    ---------
    folder : str
        Holds one sub-folder per class.

    Returns
    -------
    tuple
        Rows (``path``, ``labels``, ``split`` None, ``group``) and the
        ``(path, reason)`` list of files not taken.

    Example
    -------
    >>> root = getfixture("tmpdir")
    >>> _ = root.ensure("dog", "a.wav")
    >>> _ = root.ensure("dog", "notes.txt")
    >>> rows, skipped = rows_from_folder(root.strpath)
    >>> [r["labels"] for r in rows], [reason for _, reason in skipped]
    ([['dog']], ['not an audio file (extension .txt)'])
    """
    rows, skipped = [], []
    entries = sorted(os.listdir(folder))
    for name in entries:
        path = os.path.join(folder, name)
        if name.startswith("."):
            continue
        if not os.path.isdir(path):
            skipped.append((path, "not inside a class folder"))
            continue
        check_label(name, f"{path}: class folder name")
        found = 0
        for file_path in clip_checks.audio_files(path, skipped):
            rows.append(
                {
                    "path": file_path,
                    "labels": [name],
                    "split": None,
                    "group": None,
                }
            )
            found += 1
        if not found:
            logger.warning("%s: no audio files, not used as a class", path)
    return rows, skipped


def rows_from_csv(csv_path):
    """Clips of a ``path,label[,split][,group]`` CSV.

    Arguments
    ---------
    csv_path : str
        The CSV file; relative paths are relative to its folder.

    Returns
    -------
    tuple
        Rows and the ``(path, reason)`` list of rows not taken.

    Raises
    ------
    ValueError
        A missing column, an empty label or an unknown split, naming the
        file and the line.

    Example
    -------
    >>> path = getfixture("tmpdir").join("data.csv")
    >>> _ = path.write("path,label\\na.wav,dog;cat\\n")
    >>> rows, _ = rows_from_csv(path.strpath)
    >>> rows[0]["labels"], os.path.basename(rows[0]["path"])
    (['cat', 'dog'], 'a.wav')
    >>> _ = path.write("file,class\\na.wav,dog\\n")
    >>> rows_from_csv(path.strpath)
    Traceback (most recent call last):
    ...
    ValueError: ...data.csv: needs the columns path and label; it has file, class
    """
    base = os.path.dirname(os.path.abspath(csv_path))
    rows, skipped, seen = [], [], set()
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [name.strip() for name in reader.fieldnames or []]
        reader.fieldnames = columns
        if "path" not in columns or "label" not in columns:
            raise ValueError(
                f"{csv_path}: needs the columns path and label; it has "
                f"{', '.join(columns) or 'no header'}"
            )
        for line, record in enumerate(reader, start=2):
            where = f"{csv_path} line {line}"
            raw_path = (record.get("path") or "").strip()
            if not raw_path:
                raise ValueError(f"{where}: empty path")
            path = os.path.normpath(
                os.path.join(base, os.path.expanduser(raw_path))
            )
            labels = [
                check_label(name.strip(), where)
                for name in (record.get("label") or "").split(LABEL_SEPARATOR)
            ]
            split = (record.get("split") or "").strip().lower() or None
            if "split" in columns and split not in SPLIT_NAMES:
                raise ValueError(
                    f"{where}: split must be train, valid or test, got {record.get('split')!r}"
                )
            if path in seen:
                skipped.append((path, f"listed again at line {line}"))
                continue
            seen.add(path)
            group = (
                record.get("group") or ""
            ).strip() or None  # None: from the name
            rows.append(
                {
                    "path": path,
                    "labels": sorted(set(labels)),
                    "split": split,
                    "group": group,
                }
            )
    return rows, skipped


def check_label(name, where):
    """Return ``name`` if it can be a class name, else raise naming ``where``.

    Arguments
    ---------
    name : str
        Class name.
    where : str
        The file (and line) it comes from, for the message.

    Returns
    -------
    str
        ``name``.

    Example
    -------
    >>> check_label("", "x.csv line 3")
    Traceback (most recent call last):
    ...
    ValueError: x.csv line 3: empty label
    """
    if not name:
        raise ValueError(f"{where}: empty label")
    if LABEL_SEPARATOR in name:
        raise ValueError(
            f"{where}: label {name!r} contains {LABEL_SEPARATOR!r}, the label separator"
        )
    if name != name.strip() or "\n" in name:
        raise ValueError(
            f"{where}: label {name!r} has surrounding spaces or a line break"
        )
    return name


def listing_fingerprint(rows):
    """A digest of the clip list (paths, labels, sizes, modification times).

    A later preparation with the same digest and options reuses the outputs;
    an added, removed, changed or relabelled file redoes the work.

    Arguments
    ---------
    rows : list of dict
        Rows from :func:`rows_from_folder` or :func:`rows_from_csv`.

    Returns
    -------
    str
        Hex digest.

    Example
    -------
    >>> len(
    ...     listing_fingerprint(
    ...         [
    ...             {
    ...                 "path": "a.wav",
    ...                 "labels": ["x"],
    ...                 "split": None,
    ...                 "group": "a",
    ...             }
    ...         ]
    ...     )
    ... )
    40
    """
    digest = hashlib.sha1()
    for row in rows:
        signature = prepare_utils.file_signature(row["path"])
        digest.update(
            f"{row['path']}|{';'.join(row['labels'])}|{row['split']}|{row['group']}|{signature}\n".encode()
        )
    return digest.hexdigest()


def inspect_clip(path, silence_threshold):
    """Duration of a usable clip, or the reason it is not usable.

    Arguments
    ---------
    path : str
        Audio file.
    silence_threshold : float
        Peak amplitude below which a clip counts as silent.

    Returns
    -------
    tuple
        ``(duration_seconds, None)`` or ``(None, reason)``.

    Example
    -------
    >>> import numpy, soundfile
    >>> path = getfixture("tmpdir").join("quiet.wav").strpath
    >>> soundfile.write(path, numpy.zeros(16000), 16000)
    >>> inspect_clip(path, 1e-4)
    (None, 'silent (peak amplitude 0 below 0.0001)')
    """
    info, reason = prepare_utils.probe_audio(path)
    if reason is not None:
        return None, reason
    scan, reason = clip_checks.scan_samples(path)
    if reason is not None:
        return None, reason
    # The decoded length, which may be shorter than the header says.
    frames, rate, peak = scan
    reason = too_short_reason(frames, rate)
    if reason is not None:
        return None, reason
    reason = clip_checks.silence_reason(peak, silence_threshold)
    return (frames / rate, None) if reason is None else (None, reason)


def usable_rows(rows, skipped, silence_threshold):
    """Keep the rows whose audio is usable; list the others in ``skipped``.

    Arguments
    ---------
    rows : list of dict
        Candidate rows.
    skipped : list
        ``(path, reason)`` pairs are appended.
    silence_threshold : float
        See :func:`inspect_clip`.

    Returns
    -------
    list of dict
        Usable rows with ``id`` and ``duration`` added.
    """
    with ThreadPoolExecutor(max_workers=4) as pool:
        checks = list(
            pool.map(
                lambda row: inspect_clip(row["path"], silence_threshold), rows
            )
        )
    paths = [row["path"] for row in rows]
    return [
        dict(row, id=item_id, duration=duration)
        for row, item_id, duration in prepare_utils.usable_clips(
            rows, paths, checks, skipped
        )
    ]


def check_classes(rows, skipped, data_folder):
    """Class names in output order; raise if a class has fewer than 2 clips.

    Arguments
    ---------
    rows : list of dict
        Usable rows.
    skipped : list
        Skipped files, quoted in the error.
    data_folder : str
        For the message.

    Returns
    -------
    list of str
        Sorted class names.
    """
    counts = collections.Counter(
        label for row in rows for label in row["labels"]
    )
    all_labels = {label for row in rows for label in row["labels"]}
    too_few = sorted(name for name in all_labels if counts[name] < 2)
    if too_few:
        details = ", ".join(f"{name} ({counts[name]})" for name in too_few)
        raise ValueError(
            f"{data_folder}: every class needs at least 2 usable clips; too few in: "
            f"{details}; {prepare_utils.skip_summary(skipped)}"
        )
    if len(all_labels) < 2:
        raise ValueError(
            f"{data_folder}: found {len(all_labels)} class(es) ({', '.join(sorted(all_labels)) or 'none'}); "
            f"a classifier needs at least 2; {prepare_utils.skip_summary(skipped)}"
        )
    return sorted(all_labels)


def split_rows(rows, valid_ratio, test_ratio, seed):
    """Train/valid/test rows: the data's own split, or a stratified seeded one.

    Rows with a ``split`` keep it; the others are split by group (a row is
    its own group unless the data groups them), stratified by the group's
    rarest label. When the data gives a split without any validation row,
    validation is carved from its training rows the same way.

    Arguments
    ---------
    rows : list of dict
        Usable rows.
    valid_ratio, test_ratio : float
        Shares held out per class.
    seed : int
        Seed of the shuffle.

    Returns
    -------
    dict
        ``{"train", "valid", "test"}`` -> rows.

    Example
    -------
    >>> rows = [
    ...     {
    ...         "path": f"{i}",
    ...         "labels": ["ab"[i % 2]],
    ...         "split": None,
    ...         "group": f"{i}",
    ...     }
    ...     for i in range(20)
    ... ]
    >>> splits = split_rows(rows, 0.1, 0.1, 0)
    >>> [len(splits[name]) for name in ("train", "valid", "test")]
    [16, 2, 2]
    """
    splits = {
        name: [row for row in rows if row["split"] == name]
        for name in SPLIT_NAMES
    }
    free = [row for row in rows if row["split"] is None]
    if any(splits.values()):  # the data's split (then every row has one)
        if splits["valid"]:
            return splits
        free, splits["train"] = splits["train"], []
        test_ratio = 0.0
    label_counts = collections.Counter(
        label for row in free for label in row["labels"]
    )
    groups = collections.defaultdict(list)
    for row in free:
        groups[row["group"]].append(row)
    strata = collections.defaultdict(list)
    for name, members in groups.items():
        labels = {label for row in members for label in row["labels"]}
        rarest = min(sorted(labels), key=lambda label: label_counts[label])
        strata[rarest].append(name)
    generator = random.Random(seed)
    for label in sorted(strata):
        names = sorted(strata[label])
        generator.shuffle(names)
        n_test, n_valid = held_out_counts(len(names), valid_ratio, test_ratio)
        for index, name in enumerate(names):
            split = (
                "test"
                if index < n_test
                else "valid"
                if index < n_test + n_valid
                else "train"
            )
            splits[split].extend(groups[name])
    for name in SPLIT_NAMES:
        splits[name].sort(key=lambda row: row["path"])
    return splits


def held_out_counts(n, valid_ratio, test_ratio):
    """How many of ``n`` items of a class go to test and to validation.

    At least one of each when ``n >= 3`` (and the ratio is not 0), one for
    validation when ``n == 2``, and always at least one for training.

    Arguments
    ---------
    n : int
        Items (clips or groups) of the class.
    valid_ratio, test_ratio : float
        Target shares.

    Returns
    -------
    tuple of int
        ``(n_test, n_valid)``.

    Example
    -------
    >>> (
    ...     held_out_counts(40, 0.1, 0.1),
    ...     held_out_counts(3, 0.1, 0.1),
    ...     held_out_counts(2, 0.1, 0.1),
    ... )
    ((4, 4), (1, 1), (0, 1))
    """
    n_test = round(n * test_ratio)
    n_valid = round(n * valid_ratio)
    if n >= 3:
        n_test = max(n_test, 1 if test_ratio > 0 else 0)
        n_valid = max(n_valid, 1 if valid_ratio > 0 else 0)
    elif n == 2:
        n_test, n_valid = 0, 1 if valid_ratio > 0 else 0
    else:
        n_test = n_valid = 0
    while n_test + n_valid >= n and n_test + n_valid > 0:
        if n_test >= n_valid and n_test > 0:
            n_test -= 1
        else:
            n_valid -= 1
    return n_test, n_valid


def derive_config(splits, classes, max_frames, frames_quantile, seed):
    """The settings the data decides: classes, task, length, fbank statistics.

    Arguments
    ---------
    splits : dict
        Split name -> rows.
    classes : list of str
        Class names.
    max_frames : int
        Cap on the input length.
    frames_quantile : float
        The input length covers this quantile of the clip durations.
    seed : int
        Seed of the clips sampled for the statistics.

    Returns
    -------
    dict
        ``n_classes``, ``multi_label``, ``n_frames``, ``timem``, ``time_roll``,
        ``norm_mean``, ``norm_std`` and informational counts.
    """
    rows = [row for split in SPLIT_NAMES for row in splits[split]]
    durations = sorted(row["duration"] for row in rows)
    quantile = durations[
        min(
            len(durations) - 1,
            int(math.ceil(frames_quantile * len(durations))) - 1,
        )
    ]
    fbank = KaldiFbank(sample_rate=SAMPLE_RATE)
    quantile_frames = int(
        fbank.frame_counts(torch.tensor(round(quantile * SAMPLE_RATE)))
    )
    n_frames = min(max_frames, max(MIN_FRAMES, quantile_frames))
    norm_mean, norm_std = clip_norm_stats(
        [row["path"] for row in splits["train"]],
        n_frames,
        seed,
        sample_rate=SAMPLE_RATE,
    )
    return {
        "n_classes": len(classes),
        "multi_label": any(len(row["labels"]) > 1 for row in rows),
        "n_frames": n_frames,
        **time_augment_widths(n_frames),
        "norm_mean": round(float(norm_mean), 6),
        "norm_std": round(float(norm_std), 6),
        "clips": {name: len(splits[name]) for name in SPLIT_NAMES},
        "duration_seconds": {
            "min": round(durations[0], 3),
            "median": round(durations[len(durations) // 2], 3),
            "max": round(durations[-1], 3),
        },
    }
