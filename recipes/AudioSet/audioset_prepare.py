"""Data preparation for AudioSet (527-class multi-label audio tagging).

AudioSet (Gemmeke et al., ICASSP 2017) is distributed as segment lists of
YouTube ids; the audio has to be downloaded by the user. This script reads the
official segment CSVs (``balanced_train_segments.csv``,
``unbalanced_train_segments.csv``, ``eval_segments.csv``), the class list
``class_labels_indices.csv`` and a folder of downloaded clips, and writes
SpeechBrain CSV manifests for the clips that are present and readable.

Outputs in ``save_folder``:

* ``train.csv``, ``valid.csv``, ``test.csv``: columns ``ID,duration,wav,labels``
  with ``ID`` the YouTube id, ``wav`` an absolute path and ``labels`` the
  clip's class display names (in class index order) joined with ``;``.
  ``test`` is the evaluation set; ``valid`` is a held-out part of the
  training segments.
* ``classes.txt``: the ``display_name`` column of ``class_labels_indices.csv``
  in index order (the order of AudioSet-trained models' 527 outputs).
* ``train_weights.csv``: ``ID,weight``, the balanced-sampling weights of the
  official AST recipe (``gen_weight_file.py``) for ``train.csv``:
  ``label_weight = 1000 / (count + 0.01)`` with ``count`` the number of
  training clips carrying the label, and a clip's weight is the sum of its
  labels' weights.
* ``skipped.txt`` (only when something was skipped): ``<what>\\t<reason>``.
* ``prepare_options.json``: the arguments; a later call with the same
  arguments returns at once.

The audio is used as found (any rate; the training pipeline resamples).

Authors
 * speechbrain-ast contributors 2026
"""

import collections
import csv
import hashlib
import logging
import math
import os
import re

from speechbrain_ast import audio_files
from speechbrain_ast.training import preparation as prepare_utils

logger = logging.getLogger(__name__)

WEIGHT_FIELDS = ["ID", "weight"]
AUDIO_EXTENSIONS = audio_files.AUDIO_EXTENSIONS  # in order of preference
LABEL_SEPARATOR = ";"
YTID_LENGTH = 11
_YTID = re.compile(r"[A-Za-z0-9_-]{11}")
_TIMES = re.compile(r"(?:_(\d+(?:\.\d+)?)(?:_(\d+(?:\.\d+)?))?)?")
# Bump when the manifest content changes, so old outputs are rebuilt.
FORMAT_VERSION = 1


def prepare_audioset(
    data_folder,
    save_folder,
    train_csv="balanced_train_segments.csv",
    eval_csv="eval_segments.csv",
    audio_folder="audio",
    labels_csv="class_labels_indices.csv",
    valid_ratio=0.1,
    seed=1234,
    skip_prep=False,
):
    """Write the train/valid/test manifests and sampling weights of AudioSet.

    Audio files are looked up by YouTube id in ``audio_folder`` and its
    sub-folders (indexed once). Accepted file names, with ``<ext>`` one of
    ``wav``, ``flac``, ``ogg``, ``mp3`` and ``<start>``/``<end>`` in seconds,
    integer or decimal (``30``, ``30.000``)::

        <ytid>.<ext>                  e.g. --PJHxphWEs.wav
        Y<ytid>.<ext>                 e.g. Y--PJHxphWEs.flac
        <ytid>_<start>.<ext>          e.g. --PJHxphWEs_30.wav
        <ytid>_<start>_<end>.<ext>    e.g. --PJHxphWEs_30.000_40.000.wav
        Y<ytid>_<start>_<end>.<ext>   e.g. Y--PJHxphWEs_30_40.wav

    A name that carries a start time is used only when it equals the
    segment's ``start_seconds``. If several files match, ``wav`` is preferred,
    then ``flac``, ``ogg``, ``mp3``.

    Skipped and reported in ``skipped.txt`` (never fatal): segments without an
    audio file, unreadable, empty or too short files, malformed CSV rows,
    repeated YouTube ids (the first row is kept; training rows whose id is in
    the evaluation set are dropped), labels not in ``labels_csv`` (the label
    is dropped, the clip kept if another label remains) and clips left
    without labels.

    Validation: the training clips are ordered by a hash of ``seed`` and the
    id, and the first ``round(valid_ratio * n)`` (at least one) are held out.
    The choice of a clip does not depend on the other clips. With
    ``valid_ratio=0`` ``valid.csv`` is empty (the official recipe validates on
    the evaluation set).

    Arguments
    ---------
    data_folder : str
        Folder of the AudioSet files; relative paths below are read from it.
    save_folder : str
        Where the manifests are written.
    train_csv : str or list of str
        Training segment CSV(s), e.g. ``["balanced_train_segments.csv",
        "unbalanced_train_segments.csv"]`` for the full (2M) setting.
    eval_csv : str or list of str
        Evaluation segment CSV(s): the test set.
    audio_folder : str or list of str
        Folder(s) holding the clips.
    labels_csv : str
        ``class_labels_indices.csv`` (``index,mid,display_name``).
    valid_ratio : float
        Fraction of the training clips held out for validation, in [0, 1).
    seed : int
        Seed of the validation draw.
    skip_prep : bool
        If True, return at once without checking or writing anything.

    Returns
    -------
    dict
        ``status`` ("prepared", "up_to_date" or "skip_prep"), ``counts``
        (rows per split, ``classes``, ``skipped``; None with ``skip_prep``)
        and the paths ``train``, ``valid``, ``test``, ``classes``,
        ``weights`` and ``skipped`` (None when nothing was skipped).

    Raises
    ------
    FileNotFoundError
        A CSV or audio folder does not exist.
    ValueError
        A bad ``labels_csv`` (missing columns, indices not 0..N-1, repeated
        mids or names, a display name containing ``;`` or ``$``), a bad
        ``valid_ratio``, or no usable clip in the training or test set.

    Example
    -------
    >>> result = prepare_audioset(
    ...     "data/audioset", "results/audioset"
    ... )  # doctest: +SKIP
    >>> result["counts"]["classes"]  # doctest: +SKIP
    527
    """
    outputs = prepare_utils.output_paths(
        save_folder, {"weights": "train_weights.csv"}
    )
    if skip_prep:
        return prepare_utils.prepare_result("skip_prep", outputs, None)
    if not 0 <= valid_ratio < 1:
        raise ValueError(f"valid_ratio must be in [0, 1), got {valid_ratio}")
    if not os.path.isdir(data_folder):
        raise FileNotFoundError(f"AudioSet folder not found: {data_folder}")
    train_csvs = _paths_in(data_folder, train_csv)
    eval_csvs = _paths_in(data_folder, eval_csv)
    audio_folders = _paths_in(data_folder, audio_folder)
    labels_path = _paths_in(data_folder, labels_csv)[0]
    options = {
        "format_version": FORMAT_VERSION,
        "train_csv": train_csvs,
        "eval_csv": eval_csvs,
        "audio_folder": audio_folders,
        "labels_csv": labels_path,
        "valid_ratio": float(valid_ratio),
        "seed": int(seed),
    }
    if prepare_utils.is_prepared(outputs, options):
        logger.info("AudioSet manifests in %s are up to date", save_folder)
        return prepare_utils.prepare_result(
            "up_to_date", outputs, prepare_utils.count_outputs(outputs)
        )
    for path in (*train_csvs, *eval_csvs, labels_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"AudioSet file not found: {path}")
    for folder in audio_folders:
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                f"AudioSet audio folder not found: {folder}"
            )

    classes, mid_to_index = read_class_labels(labels_path)
    skipped = []
    test_segments = read_segments(eval_csvs, skipped)
    train_segments = read_segments(train_csvs, skipped)
    in_test = {segment["ytid"] for segment in test_segments}
    kept = []
    for segment in train_segments:
        if segment["ytid"] in in_test:
            skipped.append(
                (
                    segment["ytid"],
                    f"{segment['where']}: also in the evaluation set; dropped from training",
                )
            )
        else:
            kept.append(segment)
    train_segments = kept

    index = index_audio_folders(audio_folders)
    logger.info(
        "AudioSet: %d audio file(s) indexed", sum(map(len, index.values()))
    )
    test = _manifest_rows(test_segments, index, mid_to_index, classes, skipped)
    train = _manifest_rows(
        train_segments, index, mid_to_index, classes, skipped
    )
    valid_ids = _draw_validation([row[0] for row in train], valid_ratio, seed)
    splits = {
        "train": [row for row in train if row[0] not in valid_ids],
        "valid": [row for row in train if row[0] in valid_ids],
        "test": test,
    }
    prepare_utils.require_splits(splits, f"AudioSet in {data_folder}", skipped)
    weights = {
        outputs["weights"]: (WEIGHT_FIELDS, sampling_weights(splits["train"]))
    }
    return prepare_utils.finish_prepare(
        "AudioSet",
        outputs,
        splits,
        classes,
        skipped,
        options,
        extra_tables=weights,
    )


def read_class_labels(labels_csv):
    """Read ``class_labels_indices.csv`` and check it.

    Arguments
    ---------
    labels_csv : str
        File with columns ``index,mid,display_name``.

    Returns
    -------
    tuple
        (display names in index order, ``{mid: index}``).

    Raises
    ------
    ValueError
        Missing columns, indices that are not 0..N-1, a repeated mid or
        display name, or a display name containing ``;`` (the label
        separator of the manifests) or ``$`` (a placeholder for
        SpeechBrain's CSV reader).

    Example
    -------
    >>> path = getfixture("tmpdir").join("labels.csv")
    >>> _ = path.write(
    ...     'index,mid,display_name\\n0,/m/09x0r,"Speech"\\n'
    ...     '1,/m/05zppz,"Male speech, man speaking"\\n'
    ... )
    >>> read_class_labels(path.strpath)
    (['Speech', 'Male speech, man speaking'], {'/m/09x0r': 0, '/m/05zppz': 1})
    """
    with open(labels_csv, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file, skipinitialspace=True)
        missing = {"index", "mid", "display_name"} - set(
            reader.fieldnames or []
        )
        if missing:
            raise ValueError(
                f"{labels_csv}: missing column(s) {sorted(missing)}"
            )
        entries = []
        for row in reader:
            where = f"{labels_csv} line {reader.line_num}"
            try:
                index = int(row["index"])
                mid, name = row["mid"].strip(), row["display_name"].strip()
            except (TypeError, ValueError, AttributeError):
                raise ValueError(f"{where}: malformed row") from None
            if not mid or not name:
                raise ValueError(f"{where}: empty mid or display_name")
            for character in (LABEL_SEPARATOR, "$"):
                if character in name:
                    raise ValueError(
                        f"{where}: display name {name!r} contains {character!r}, "
                        "which the manifests cannot hold"
                    )
            entries.append((index, mid, name))
    entries.sort()
    if [entry[0] for entry in entries] != list(range(len(entries))):
        raise ValueError(
            f"{labels_csv}: the indices are not 0..{len(entries) - 1}"
        )
    for column, what in ((1, "mid"), (2, "display name")):
        repeated = [
            k
            for k, n in collections.Counter(e[column] for e in entries).items()
            if n > 1
        ]
        if repeated:
            raise ValueError(f"{labels_csv}: repeated {what}(s) {repeated[:5]}")
    if not entries:
        raise ValueError(f"{labels_csv}: no classes")
    return [e[2] for e in entries], {e[1]: e[0] for e in entries}


def read_segments(csv_paths, skipped):
    r"""Read AudioSet segment CSVs.

    Lines starting with ``#`` are comments. Each row is
    ``YTID, start_seconds, end_seconds, positive_labels`` with the labels a
    quoted, comma-separated list of mids. Malformed rows and repeated ids
    (after the first) are reported in ``skipped``.

    Arguments
    ---------
    csv_paths : list of str
        Segment CSVs, read in order.
    skipped : list
        ``(what, reason)`` pairs are appended for rows not used.

    Returns
    -------
    list of dict
        ``ytid``, ``start`` (float), ``end`` (float), ``mids`` (list) and
        ``where`` (file and line) per segment.

    Example
    -------
    >>> path = getfixture("tmpdir").join("eval_segments.csv")
    >>> _ = path.write(
    ...     "# YTID, start_seconds, end_seconds, positive_labels\n"
    ...     '--4gqARaEJE, 0.000, 10.000, "/m/068hy,/m/07q6cd_"\n'
    ... )
    >>> segment = read_segments([path.strpath], [])[0]
    >>> segment["ytid"], segment["start"], segment["mids"]
    ('--4gqARaEJE', 0.0, ['/m/068hy', '/m/07q6cd_'])
    """
    segments, first_seen = [], {}
    for csv_path in csv_paths:
        name = os.path.basename(csv_path)
        with open(csv_path, newline="", encoding="utf-8") as file:
            lines = ((n, line) for n, line in enumerate(file, 1))
            for number, line in lines:
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                where = f"{name} line {number}"
                fields = next(csv.reader([line], skipinitialspace=True), [])
                segment = _parse_segment(fields)
                if isinstance(segment, str):
                    skipped.append((where, f"{segment}: {line.strip()}"))
                    continue
                segment["where"] = where
                if segment["ytid"] in first_seen:
                    skipped.append(
                        (
                            segment["ytid"],
                            f"{where}: repeated YouTube id (first in {first_seen[segment['ytid']]}); ignored",
                        )
                    )
                    continue
                first_seen[segment["ytid"]] = where
                segments.append(segment)
    return segments


def _parse_segment(fields):
    """Turn the fields of one segment row into a dict, or explain the error.

    Arguments
    ---------
    fields : list of str
        ``[YTID, start_seconds, end_seconds, positive_labels]``.

    Returns
    -------
    dict or str
        The segment (``ytid``, ``start``, ``end``, ``mids``) or a reason.

    Example
    -------
    >>> _parse_segment(["abcdefghijk", "30.000", "40.000", "/m/0a, /m/0b"])[
    ...     "mids"
    ... ]
    ['/m/0a', '/m/0b']
    >>> _parse_segment(["abcdefghijk", "x", "40"])
    'malformed row (expected YTID, start, end, labels)'
    """
    if len(fields) != 4:
        return "malformed row (expected YTID, start, end, labels)"
    ytid, start, end, labels = (field.strip() for field in fields)
    try:
        start, end = float(start), float(end)
    except ValueError:
        return "malformed row (start and end must be numbers)"
    if not ytid:
        return "malformed row (empty YTID)"
    mids = [mid.strip() for mid in labels.split(",") if mid.strip()]
    if not mids:
        return "no labels"
    return {"ytid": ytid, "start": start, "end": end, "mids": mids}


def parse_clip_name(name):
    """Return the (YouTube id, start time) readings of an audio file name.

    Arguments
    ---------
    name : str
        File name with extension (see :func:`prepare_audioset` for the
        accepted patterns).

    Returns
    -------
    list of tuple
        ``(ytid, start seconds or None)`` for each way the name can be read;
        empty for other names and extensions.

    Example
    -------
    >>> parse_clip_name("--PJHxphWEs_30.000_40.000.wav")
    [('--PJHxphWEs', 30.0)]
    >>> parse_clip_name("Y--PJHxphWEs.flac")
    [('--PJHxphWEs', None)]
    >>> parse_clip_name("notes.txt")
    []
    """
    stem, extension = os.path.splitext(name)
    if extension.lower() not in AUDIO_EXTENSIONS:
        return []
    readings = []
    for prefix in ("", "Y"):
        if not stem.startswith(prefix):
            continue
        rest = stem[len(prefix) :]
        ytid, tail = rest[:YTID_LENGTH], rest[YTID_LENGTH:]
        times = _TIMES.fullmatch(tail)
        if _YTID.fullmatch(ytid) and times:
            start = times.group(1)
            readings.append((ytid, None if start is None else float(start)))
    return readings


def index_audio_folders(folders):
    """Index the audio files of folders (and sub-folders) by YouTube id.

    Arguments
    ---------
    folders : list of str
        Folders to scan; hidden entries are ignored.

    Returns
    -------
    dict
        ``{ytid: [(start or None, absolute path), ...]}``.

    Example
    -------
    >>> folder = getfixture("tmpdir")
    >>> _ = folder.join("Y--PJHxphWEs_30_40.wav").write("")
    >>> index = index_audio_folders([folder.strpath])
    >>> index["--PJHxphWEs"][0][0]
    30.0
    """
    index = collections.defaultdict(list)
    pending = [os.path.abspath(folder) for folder in folders]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    pending.append(entry.path)
                    continue
                for ytid, start in parse_clip_name(entry.name):
                    index[ytid].append((start, entry.path))
    return index


def _find_clip(segment, index):
    """Choose the audio file of a segment.

    Arguments
    ---------
    segment : dict
        From :func:`read_segments`.
    index : dict
        From :func:`index_audio_folders`.

    Returns
    -------
    tuple
        ``(path, None)`` or ``(None, reason)``.

    Example
    -------
    >>> index = {
    ...     "--PJHxphWEs": [
    ...         (30.0, "/a/--PJHxphWEs_30.flac"),
    ...         (None, "/a/--PJHxphWEs.wav"),
    ...     ]
    ... }
    >>> _find_clip({"ytid": "--PJHxphWEs", "start": 30.0}, index)
    ('/a/--PJHxphWEs.wav', None)
    >>> _find_clip(
    ...     {"ytid": "--PJHxphWEs", "start": 0.0},
    ...     {"--PJHxphWEs": [(30.0, "/a/x.wav")]},
    ... )[1]
    'no audio file with start time 0.0 s (found: x.wav)'
    """
    candidates = index.get(segment["ytid"], [])
    if not candidates:
        return None, "no audio file for this YouTube id"
    matching = [
        path
        for start, path in candidates
        if start is None or abs(start - segment["start"]) < 1e-3
    ]
    if not matching:
        found = ", ".join(
            sorted(os.path.basename(path) for _, path in candidates)
        )
        return (
            None,
            f"no audio file with start time {segment['start']} s (found: {found})",
        )
    best = min(
        matching,
        key=lambda path: (
            prepare_utils.extension_rank(path, AUDIO_EXTENSIONS),
            path,
        ),
    )
    return best, None


def _manifest_rows(segments, index, mid_to_index, classes, skipped):
    """Build the manifest rows of the segments that have usable audio.

    Arguments
    ---------
    segments : list of dict
        From :func:`read_segments`.
    index : dict
        From :func:`index_audio_folders`.
    mid_to_index : dict
        ``{mid: class index}``.
    classes : list of str
        Display names in index order.
    skipped : list
        ``(what, reason)`` pairs are appended for dropped labels and clips.

    Returns
    -------
    list of list
        ``[ID, duration, wav, labels]`` rows.

    Example
    -------
    >>> _manifest_rows(
    ...     [
    ...         {
    ...             "ytid": "abcdefghijk",
    ...             "start": 0.0,
    ...             "mids": ["/m/0"],
    ...             "where": "x.csv line 4",
    ...         }
    ...     ],
    ...     {},
    ...     {"/m/0": 0},
    ...     ["Speech"],
    ...     [],
    ... )
    []
    """
    labelled = []
    for segment in segments:
        known = sorted(
            {mid_to_index[m] for m in segment["mids"] if m in mid_to_index}
        )
        unknown = [m for m in segment["mids"] if m not in mid_to_index]
        if unknown:
            action = (
                "dropped"
                if known
                else "dropped; no known label left, clip skipped"
            )
            skipped.append(
                (
                    segment["ytid"],
                    f"{segment['where']}: label(s) not in the class list {' '.join(unknown)} {action}",
                )
            )
        if known:
            labelled.append((segment, known))
    located, paths = [], []
    for segment, known in labelled:
        path, reason = _find_clip(segment, index)
        if reason is not None:
            skipped.append((segment["ytid"], f"{segment['where']}: {reason}"))
        else:
            located.append((segment, known))
            paths.append(path)
    rows = []
    usable = prepare_utils.usable_audio(located, paths, skipped)
    for (segment, known), path, frames, rate in usable:
        labels = LABEL_SEPARATOR.join(classes[i] for i in known)
        rows.append([segment["ytid"], round(frames / rate, 6), path, labels])
    return rows


def sampling_weights(rows):
    """Compute the official balanced-sampling weight of each training clip.

    ``label_weight = 1000 / (count + 0.01)`` where ``count`` is the number of
    clips carrying the label; a clip's weight is the sum over its labels
    (``egs/audioset/gen_weight_file.py`` of the AST code).

    Arguments
    ---------
    rows : list of list
        Manifest rows ``[ID, duration, wav, labels]``.

    Returns
    -------
    list of list
        ``[ID, weight]`` rows in the same order.

    Example
    -------
    >>> sampling_weights(
    ...     [
    ...         ["a", 1.0, "/a.wav", "Speech"],
    ...         ["b", 1.0, "/b.wav", "Speech;Music"],
    ...     ]
    ... )
    [['a', 497.51...], ['b', 1487.6...]]
    """
    label_sets = [row[3].split(LABEL_SEPARATOR) for row in rows]
    counts = collections.Counter(
        label for labels in label_sets for label in labels
    )
    weight = {label: 1000.0 / (count + 0.01) for label, count in counts.items()}
    return [
        [row[0], sum(weight[label] for label in labels)]
        for row, labels in zip(rows, label_sets)
    ]


def _draw_validation(ids, valid_ratio, seed):
    """Choose the validation ids: the lowest hashes of ``seed`` and the id.

    Arguments
    ---------
    ids : list of str
        Training clip ids.
    valid_ratio : float
        Fraction to hold out; at least one clip when positive and there are
        two or more clips.
    seed : int
        Seed of the draw.

    Returns
    -------
    set of str
        Validation ids.

    Example
    -------
    >>> len(_draw_validation([str(i) for i in range(100)], 0.1, 1234))
    10
    """
    if valid_ratio <= 0 or len(ids) < 2:
        return set()
    n_valid = max(1, math.floor(valid_ratio * len(ids) + 0.5))
    ranked = sorted(
        ids, key=lambda i: hashlib.sha1(f"{seed}:{i}".encode()).digest()
    )
    return set(ranked[:n_valid])


def _paths_in(data_folder, names):
    """Resolve one or several paths relative to the data folder.

    Arguments
    ---------
    data_folder : str
        Base folder.
    names : str or list of str
        Relative (or absolute) paths.

    Returns
    -------
    list of str
        Absolute paths.

    Example
    -------
    >>> _paths_in("/data", ["a.csv", "/b.csv"])
    ['/data/a.csv', '/b.csv']
    """
    if isinstance(names, (str, os.PathLike)):
        names = [names]
    return [os.path.abspath(os.path.join(data_folder, name)) for name in names]
