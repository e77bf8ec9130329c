"""Data preparation for self-supervised pretraining: any unlabeled audio.

``data_folder`` is one of:

* a folder of audio files, searched recursively (hidden files and folders
  ignored), in any format soundfile reads (wav, flac, ogg, mp3, aiff, ...),
  any sample rate, mono or stereo, any length;
* a CSV file with a ``path`` column (other columns are ignored);
* a text file with one path per line (blank lines and lines starting with
  ``#`` ignored).

Paths in a CSV or text file are absolute or relative to that file's folder.

Files that cannot be used are skipped and listed with the reason in
``skipped.txt``: not an audio file, unreadable, empty, shorter than
``min_duration``, containing NaN or Inf, or silent (peak below
``silence_threshold``). A seeded ``valid_ratio`` share of the clips (at least
one) is held out to monitor the loss.

Outputs in ``save_folder`` (written together, so a failure keeps the
previous ones): ``train.csv`` and ``valid.csv`` (columns ``ID,duration,wav``),
``skipped.txt`` (only when something was skipped), ``prepare_options.json``
and ``data_config.yaml``: ``norm_mean`` and ``norm_std`` of the raw fbank
(over up to 500 training clips, each cut to the model's ``n_frames``), which
the recipe uses wherever its YAML says ``auto``, and informational counts.

Authors
 * speechbrain-ast contributors 2026
"""

import contextlib
import csv
import hashlib
import json
import logging
import os
import random

import yaml
from speechbrain_ast.audio import SILENCE_THRESHOLD
from speechbrain_ast.features import clip_norm_stats
from speechbrain_ast.files import atomic_write
from speechbrain_ast.training import (
    clip_checks,
    preparation as prepare_utils,
)
from speechbrain_ast.training.settings import read_data_config

logger = logging.getLogger(__name__)

MANIFEST_FIELDS = ["ID", "duration", "wav"]
CONFIG_FILE = "data_config.yaml"
SAMPLE_RATE = 16000
BLOCK_SECONDS = 60  # long files are checked a block at a time
# Bump when the outputs change meaning, so old outputs are rebuilt.
FORMAT_VERSION = 1


def prepare_ssl_data(
    data_folder,
    save_folder,
    n_frames=512,
    valid_ratio=0.05,
    seed=1234,
    min_duration=0.1,
    silence_threshold=SILENCE_THRESHOLD,
    skip_prep=False,
):
    """Write the train/valid manifests and fbank statistics of unlabeled audio.

    Arguments
    ---------
    data_folder : str
        A folder of audio files, or a CSV/text file listing them (see the
        module docstring).
    save_folder : str
        Where the outputs go.
    n_frames : int
        The model's input length; the statistics are computed over clips
        cut to it.
    valid_ratio : float
        Share of the clips held out to monitor the loss (at least one clip).
    seed : int
        Seed of the split and of the clips sampled for the statistics.
    min_duration : float
        Clips shorter than this many seconds are skipped.
    silence_threshold : float
        Clips whose peak amplitude is below it are skipped as silent.
    skip_prep : bool
        Do nothing (the outputs exist already).

    Returns
    -------
    dict
        ``status`` ("prepared", "up_to_date", "skip_prep"), output paths,
        ``counts`` and ``config`` (the data_config.yaml values).

    Example
    -------
    >>> import numpy, soundfile
    >>> root = getfixture("tmpdir")
    >>> for index in range(4):
    ...     path = root.join("data", "sub", f"{index}.wav").strpath
    ...     _ = root.join("data", "sub").ensure(dir=True)
    ...     soundfile.write(path, numpy.random.randn(8000) * 0.1, 16000)
    >>> soundfile.write(
    ...     root.join("data", "quiet.wav").strpath, numpy.zeros(8000), 16000
    ... )
    >>> result = prepare_ssl_data(
    ...     root.join("data").strpath, root.join("save").strpath
    ... )
    >>> result["status"], result["counts"]
    ('prepared', {'train': 3, 'valid': 1, 'skipped': 1})
    >>> prepare_ssl_data(root.join("data").strpath, root.join("save").strpath)[
    ...     "status"
    ... ]
    'up_to_date'
    """
    outputs = output_paths(save_folder)
    if skip_prep:
        return {"status": "skip_prep", **outputs}
    data_folder = os.path.abspath(data_folder)
    if os.path.isdir(data_folder):
        paths, skipped = paths_from_folder(data_folder)
    elif os.path.isfile(data_folder):
        paths, skipped = paths_from_list(data_folder)
    else:
        raise ValueError(
            f"{data_folder}: not found; give a folder of audio files, or a CSV "
            "(path column) or text file listing them"
        )
    options = {
        "data_folder": data_folder,
        "listing": listing_fingerprint(paths),
        "n_frames": n_frames,
        "valid_ratio": valid_ratio,
        "seed": seed,
        "min_duration": min_duration,
        "silence_threshold": silence_threshold,
        "format_version": FORMAT_VERSION,
    }
    if prepare_utils.is_prepared(outputs, options):
        logger.info("%s: manifests up to date in %s", data_folder, save_folder)
        config = read_data_config(outputs["config"])
        return {"status": "up_to_date", **outputs, "counts": config["counts"]}

    rows = usable_rows(paths, skipped, min_duration, silence_threshold)
    if len(rows) < 2:
        raise ValueError(
            f"{data_folder}: {len(rows)} usable clip(s); pretraining needs at least "
            f"2 (one to train on, one to validate); "
            f"{prepare_utils.skip_summary(skipped)}"
        )
    splits = split_rows(rows, valid_ratio, seed)
    config = derive_config(splits, n_frames, seed, len(skipped))
    commit_outputs(outputs, splits, skipped, options, config)
    if skipped:
        logger.warning(
            "%s: skipped %d file(s), see %s",
            data_folder,
            len(skipped),
            outputs["skipped"],
        )
    logger.info(
        "SSL manifests written to %s: %s", save_folder, config["counts"]
    )
    return {
        "status": "prepared",
        **outputs,
        "counts": config["counts"],
        "config": config,
    }


def output_paths(save_folder):
    """The output files of a preparation.

    Arguments
    ---------
    save_folder : str
        Where the outputs go.

    Returns
    -------
    dict
        ``train``, ``valid``, ``skipped``, ``options``, ``config`` -> path.

    Example
    -------
    >>> sorted(output_paths("save"))
    ['config', 'options', 'skipped', 'train', 'valid']
    """
    save_folder = os.path.abspath(save_folder)
    names = {
        "train": "train.csv",
        "valid": "valid.csv",
        "skipped": prepare_utils.SKIPPED_FILE,
        "options": prepare_utils.OPTIONS_FILE,
        "config": CONFIG_FILE,
    }
    return {key: os.path.join(save_folder, name) for key, name in names.items()}


def paths_from_folder(folder):
    """Audio files under ``folder`` (recursive, hidden entries ignored).

    Arguments
    ---------
    folder : str
        The data folder.

    Returns
    -------
    tuple
        Sorted audio paths, and ``(path, reason)`` for the other files.

    Example
    -------
    >>> root = getfixture("tmpdir")
    >>> _ = root.ensure("a", "x.wav")
    >>> _ = root.ensure("notes.txt")
    >>> _ = root.ensure(".cache", "y.wav")
    >>> paths, skipped = paths_from_folder(root.strpath)
    >>> [os.path.basename(p) for p in paths], [reason for _, reason in skipped]
    (['x.wav'], ['not an audio file (extension .txt)'])
    """
    skipped = []
    paths = sorted(clip_checks.audio_files(folder, skipped))
    return paths, skipped


def paths_from_list(list_path):
    """Audio paths listed in a CSV (``path`` column) or a text file.

    Arguments
    ---------
    list_path : str
        A ``.csv`` file with a ``path`` column, or a text file with one path
        per line; relative paths are relative to its folder.

    Returns
    -------
    tuple
        Paths in listed order, and ``(path, reason)`` for repeated ones.

    Raises
    ------
    ValueError
        A CSV without a ``path`` column, or a file that is not text (the
        message names the file).

    Example
    -------
    >>> path = getfixture("tmpdir").join("clips.txt")
    >>> _ = path.write("# my clips\\na.wav\\n\\nsub/b.flac\\na.wav\\n")
    >>> paths, skipped = paths_from_list(path.strpath)
    >>> [os.path.relpath(p, path.dirname) for p in paths], skipped[0][1]
    (['a.wav', 'sub/b.flac'], 'listed again at line 5')
    >>> table = getfixture("tmpdir").join("clips.csv")
    >>> _ = table.write("file\\na.wav\\n")
    >>> paths_from_list(table.strpath)
    Traceback (most recent call last):
    ...
    ValueError: ...clips.csv: needs a path column; it has file
    """
    base = os.path.dirname(os.path.abspath(list_path))
    try:
        with open(list_path, newline="", encoding="utf-8-sig") as handle:
            if list_path.lower().endswith(".csv"):
                entries = csv_entries(handle, list_path)
            else:
                entries = [
                    (line_number, line.strip())
                    for line_number, line in enumerate(handle, start=1)
                    if line.strip() and not line.strip().startswith("#")
                ]
    except UnicodeDecodeError:
        raise ValueError(
            f"{list_path}: not a text file; give a folder of audio files, or a "
            "CSV (path column) or text file listing them"
        ) from None
    paths, skipped, seen = [], [], set()
    for line_number, raw in entries:
        path = os.path.normpath(os.path.join(base, os.path.expanduser(raw)))
        if path in seen:
            skipped.append((path, f"listed again at line {line_number}"))
            continue
        seen.add(path)
        paths.append(path)
    return paths, skipped


def csv_entries(handle, csv_path):
    """``(line, path)`` of each row of a CSV with a ``path`` column.

    Arguments
    ---------
    handle : file object
        The open CSV file.
    csv_path : str
        Its name, for the messages.

    Returns
    -------
    list of tuple
        Line number and path text of each row with a path.
    """
    reader = csv.DictReader(handle)
    columns = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = columns
    if "path" not in columns:
        raise ValueError(
            f"{csv_path}: needs a path column; it has {', '.join(columns) or 'no header'}"
        )
    entries = []
    for line_number, record in enumerate(reader, start=2):
        raw = (record.get("path") or "").strip()
        if not raw:
            raise ValueError(f"{csv_path} line {line_number}: empty path")
        entries.append((line_number, raw))
    return entries


def listing_fingerprint(paths):
    """A digest of the file list (paths, sizes, modification times).

    Arguments
    ---------
    paths : list of str
        Candidate audio files.

    Returns
    -------
    str
        Hex digest; an added, removed or changed file changes it.

    Example
    -------
    >>> len(listing_fingerprint(["a.wav"]))
    40
    """
    digest = hashlib.sha1()
    for path in paths:
        signature = prepare_utils.file_signature(path)
        digest.update(f"{path}|{signature}\n".encode())
    return digest.hexdigest()


def inspect_clip(path, min_duration, silence_threshold):
    """Duration of a usable clip, or the reason it is not usable.

    Long files are read a block at a time, so any length fits in memory.

    Arguments
    ---------
    path : str
        Audio file.
    min_duration : float
        Shortest usable clip in seconds (at least one 25 ms window).
    silence_threshold : float
        Peak amplitude below which a clip counts as silent.

    Returns
    -------
    tuple
        ``(duration_seconds, None)`` or ``(None, reason)``.

    Example
    -------
    >>> import numpy, soundfile
    >>> path = getfixture("tmpdir").join("short.wav").strpath
    >>> soundfile.write(path, numpy.ones(800) * 0.1, 16000)
    >>> inspect_clip(path, 0.1, 1e-4)
    (None, 'too short (0.050 s; need 0.1 s)')
    """
    info, reason = prepare_utils.probe_audio(path)
    if reason is not None:
        return None, reason
    frames, rate = info
    duration = frames / rate
    if duration < min_duration:
        return None, f"too short ({duration:.3f} s; need {min_duration:g} s)"
    scan, reason = clip_checks.scan_samples(path, block_seconds=BLOCK_SECONDS)
    if reason is None:
        reason = clip_checks.silence_reason(scan[2], silence_threshold)
    return (duration, None) if reason is None else (None, reason)


def usable_rows(paths, skipped, min_duration, silence_threshold):
    """Manifest rows of the usable files; the others are added to ``skipped``.

    Arguments
    ---------
    paths : list of str
        Candidate audio files.
    skipped : list
        ``(path, reason)`` pairs are appended.
    min_duration, silence_threshold : float
        See :func:`inspect_clip`.

    Returns
    -------
    list of dict
        ``id``, ``duration`` and ``path`` of each usable file.
    """
    checks = (
        inspect_clip(path, min_duration, silence_threshold) for path in paths
    )
    return [
        {"id": item_id, "duration": duration, "path": path}
        for path, item_id, duration in prepare_utils.usable_clips(
            paths, paths, checks, skipped
        )
    ]


def split_rows(rows, valid_ratio, seed):
    """A seeded train/valid split; at least one clip in each.

    Arguments
    ---------
    rows : list of dict
        Usable rows (two or more).
    valid_ratio : float
        Share held out for validation.
    seed : int
        Seed of the shuffle.

    Returns
    -------
    dict
        ``{"train", "valid"}`` -> rows, each sorted by path.

    Example
    -------
    >>> rows = [{"path": str(i)} for i in range(40)]
    >>> [len(split) for split in split_rows(rows, 0.05, 0).values()]
    [38, 2]
    """
    order = list(rows)
    random.Random(seed).shuffle(order)
    n_valid = min(len(order) - 1, max(1, round(valid_ratio * len(order))))
    splits = {"train": order[n_valid:], "valid": order[:n_valid]}
    for split in splits.values():
        split.sort(key=lambda row: row["path"])
    return splits


def derive_config(splits, n_frames, seed, n_skipped):
    """The fbank statistics and counts written to ``data_config.yaml``.

    Arguments
    ---------
    splits : dict
        ``{"train", "valid"}`` -> rows.
    n_frames : int
        The model's input length; each clip is cut to it.
    seed : int
        Seed of the clips sampled for the statistics.
    n_skipped : int
        Files skipped.

    Returns
    -------
    dict
        ``norm_mean``, ``norm_std``, ``n_frames``, ``counts`` and
        ``duration_seconds``.
    """
    norm_mean, norm_std = clip_norm_stats(
        [row["path"] for row in splits["train"]],
        n_frames,
        seed,
        sample_rate=SAMPLE_RATE,
    )
    durations = sorted(
        row["duration"] for split in splits.values() for row in split
    )
    return {
        "norm_mean": round(float(norm_mean), 6),
        "norm_std": round(float(norm_std), 6),
        "n_frames": n_frames,
        "counts": {
            "train": len(splits["train"]),
            "valid": len(splits["valid"]),
            "skipped": n_skipped,
        },
        "duration_seconds": {
            "min": round(durations[0], 3),
            "median": round(durations[len(durations) // 2], 3),
            "max": round(durations[-1], 3),
            "total": round(sum(durations), 1),
        },
    }


def commit_outputs(outputs, splits, skipped, options, config):
    """Write every output to temporary files, then move them into place.

    The options file is removed before and rewritten after the moves, so an
    interruption in between makes the next call redo the preparation.

    Arguments
    ---------
    outputs : dict
        From :func:`output_paths`.
    splits : dict
        ``{"train", "valid"}`` -> rows.
    skipped : list of tuple
        ``(path, reason)``; none removes an old ``skipped.txt``.
    options : dict
        Saved to the options file.
    config : dict
        Saved to ``data_config.yaml``.
    """
    os.makedirs(os.path.dirname(outputs["options"]), exist_ok=True)
    with contextlib.ExitStack() as stack:
        for split, rows in splits.items():
            handle = stack.enter_context(
                atomic_write(outputs[split], newline="")
            )
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(MANIFEST_FIELDS)
            writer.writerows(
                [row["id"], f"{row['duration']:.3f}", row["path"]]
                for row in rows
            )
        handle = stack.enter_context(atomic_write(outputs["config"]))
        yaml.safe_dump(config, handle, sort_keys=False)
        if skipped:
            handle = stack.enter_context(atomic_write(outputs["skipped"]))
            for where, reason in skipped:
                handle.write(
                    f"{prepare_utils.one_line(where)}\t{prepare_utils.one_line(reason)}\n"
                )
        if os.path.exists(outputs["options"]):
            os.remove(outputs["options"])
    if not skipped and os.path.exists(outputs["skipped"]):
        os.remove(outputs["skipped"])
    with atomic_write(outputs["options"]) as handle:
        json.dump(options, handle, indent=2, sort_keys=True)
