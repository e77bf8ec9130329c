"""Data preparation for ESC-50 (environmental sound classification, 50 classes).

Reads the official repository layout ``ESC-50-master/{audio/*.wav,
meta/esc50.csv}`` (K. J. Piczak, ACM MM 2015) and writes SpeechBrain CSV
manifests for one cross-validation split: the test fold, a validation set
carved from the four other folds, and the training clips.

Outputs in ``save_folder``:

* ``train.csv``, ``valid.csv``, ``test.csv``: columns
  ``ID,duration,wav,labels,fold`` with ``wav`` an absolute path and
  ``labels`` the category name (one per clip).
* ``classes.txt``: the categories found in ``meta/esc50.csv``, ordered by
  ``target`` (the 50 official classes for the full data set).
* ``skipped.txt`` (only when something was skipped): ``<path>\\t<reason>``.
* ``prepare_options.json``: the arguments; a later call with the same
  arguments returns at once.
* ``audio_16k/`` (only for clips not at ``sample_rate``): resampled mono
  16-bit wav copies, which the manifests point to.

The official AST recipe runs five trainings, one per test fold, and averages
the accuracies; :func:`prepare_esc50_folds` writes the five manifests.

Authors
 * speechbrain-ast contributors 2026
"""

import collections
import csv
import logging
import math
import os
import random

import soundfile
from speechbrain_ast import audio_files
from speechbrain_ast.audio import AudioError, load_audio
from speechbrain_ast.files import atomic_write
from speechbrain_ast.training import preparation as prepare_utils

logger = logging.getLogger(__name__)

# The official ESC-50 categories, index = ``target`` column of esc50.csv.
ESC50_CATEGORIES = (
    "dog rooster pig cow frog cat hen insects sheep crow "
    "rain sea_waves crackling_fire crickets chirping_birds water_drops wind "
    "pouring_water toilet_flush thunderstorm crying_baby sneezing clapping "
    "breathing coughing footsteps laughing brushing_teeth snoring "
    "drinking_sipping door_wood_knock mouse_click keyboard_typing "
    "door_wood_creaks can_opening washing_machine vacuum_cleaner clock_alarm "
    "clock_tick glass_breaking helicopter chainsaw siren car_horn engine train "
    "church_bells airplane fireworks hand_saw"
).split()

MANIFEST_FIELDS = ["ID", "duration", "wav", "labels", "fold"]
META_FIELDS = ["filename", "fold", "target", "category", "src_file", "take"]
AUDIO_EXTENSIONS = audio_files.AUDIO_EXTENSIONS  # in order of preference
# Bump when the manifest content changes, so old outputs are rebuilt.
FORMAT_VERSION = 1


def prepare_esc50(
    data_folder,
    save_folder,
    test_fold=5,
    valid_ratio=0.1,
    sample_rate=16000,
    skip_prep=False,
    seed=1234,
    resample_folder=None,
):
    """Write the train/valid/test manifests of one ESC-50 cross-validation split.

    The test set is fold ``test_fold``. The validation set takes
    ``valid_ratio`` of the source recordings (``src_file``) of each class from
    the other folds, at least one recording per class when the class has two
    or more; all takes of one recording stay on the same side, so no sound
    leaks between training and validation. The draw is deterministic for a
    given ``seed``. The remaining clips of those folds are the training set.

    Clips that are missing, empty, unreadable or shorter than one 25 ms
    window are skipped, listed in ``skipped.txt`` and counted in the log. A
    file named ``X.wav`` in the metadata may also be stored as ``X.flac``,
    ``X.ogg`` or ``X.mp3``. Clips not at ``sample_rate`` are resampled once
    into ``resample_folder``; clips at the rate are used in place.

    Arguments
    ---------
    data_folder : str
        The ``ESC-50-master`` folder (or a folder that contains it).
    save_folder : str
        Where the manifests are written.
    test_fold : int
        Fold used as the test set (1-5 for the official data).
    valid_ratio : float
        Fraction of the training folds' source recordings, per class, held
        out for validation. 0 writes an empty ``valid.csv``.
    sample_rate : int
        Sample rate the manifests' files must have.
    skip_prep : bool
        If True, return at once without checking or writing anything.
    seed : int
        Seed of the validation draw.
    resample_folder : str, optional
        Folder for resampled copies; default ``<save_folder>/audio_16k``
        (``audio_<rate>`` for other rates). Several splits may share one.

    Returns
    -------
    dict
        ``status`` ("prepared", "up_to_date" or "skip_prep"), the paths
        ``train``, ``valid``, ``test``, ``classes``, ``skipped`` (None when
        nothing was skipped), and ``counts``: rows per split plus
        ``classes``, ``skipped`` and ``resampled`` (None with ``skip_prep``).

    Raises
    ------
    FileNotFoundError
        No ``meta/esc50.csv`` under ``data_folder``.
    ValueError
        Bad arguments, a malformed metadata row, an unknown category or a
        category/target mismatch (the message names the row), or no usable
        clip in the training or test set.

    Example
    -------
    >>> result = prepare_esc50(
    ...     "data/ESC-50-master", "results/esc50/fold5"
    ... )  # doctest: +SKIP
    >>> result["counts"]["test"]  # doctest: +SKIP
    400
    """
    outputs = prepare_utils.output_paths(save_folder)
    if skip_prep:
        return prepare_utils.prepare_result("skip_prep", outputs, None)
    if not 0 <= valid_ratio < 1:
        raise ValueError(f"valid_ratio must be in [0, 1), got {valid_ratio}")
    if int(sample_rate) != sample_rate or sample_rate <= 0:
        raise ValueError(
            f"sample_rate must be a positive integer, got {sample_rate}"
        )
    data_folder = find_esc50_folder(data_folder)
    save_folder = os.path.abspath(save_folder)
    if resample_folder is None:
        resample_folder = os.path.join(
            save_folder, _resample_folder_name(sample_rate)
        )
    resample_folder = os.path.abspath(resample_folder)
    options = {
        "format_version": FORMAT_VERSION,
        "data_folder": data_folder,
        "test_fold": int(test_fold),
        "valid_ratio": float(valid_ratio),
        "sample_rate": int(sample_rate),
        "seed": int(seed),
        "resample_folder": resample_folder,
    }
    if prepare_utils.is_prepared(outputs, options):
        logger.info("ESC-50 manifests in %s are up to date", save_folder)
        return prepare_utils.prepare_result(
            "up_to_date", outputs, prepare_utils.count_outputs(outputs)
        )

    skipped = []
    rows = read_esc50_meta(data_folder, skipped)
    folds = sorted({row["fold"] for row in rows})
    if int(test_fold) not in folds:
        raise ValueError(
            f"test_fold {test_fold} is not one of the folds {folds}"
        )
    classes = _classes_by_target(rows)
    clips, n_resampled = _usable_clips(
        data_folder, rows, int(sample_rate), resample_folder, skipped
    )
    test = [clip for clip in clips if clip["fold"] == int(test_fold)]
    pool = [clip for clip in clips if clip["fold"] != int(test_fold)]
    valid_ids = _draw_validation(pool, valid_ratio, seed)
    splits = {
        "train": [clip for clip in pool if clip["ID"] not in valid_ids],
        "valid": [clip for clip in pool if clip["ID"] in valid_ids],
        "test": test,
    }
    prepare_utils.require_splits(
        splits, f"ESC-50 in {data_folder}", skipped, f" (test fold {test_fold})"
    )
    manifests = {
        split: [
            [c["ID"], c["duration"], c["wav"], c["category"], c["fold"]]
            for c in clips
        ]
        for split, clips in splits.items()
    }
    return prepare_utils.finish_prepare(
        "ESC-50",
        outputs,
        manifests,
        classes,
        skipped,
        options,
        header=MANIFEST_FIELDS,
        resampled=n_resampled,
    )


def esc50_folds(data_folder):
    """List the folds of an ESC-50 copy (the test folds of a cross-validation).

    Arguments
    ---------
    data_folder : str
        The ``ESC-50-master`` folder (or a folder that contains it).

    Returns
    -------
    list of int
        Sorted fold numbers found in ``meta/esc50.csv`` ([1, 2, 3, 4, 5]).

    Example
    -------
    >>> esc50_folds("data/ESC-50-master")  # doctest: +SKIP
    [1, 2, 3, 4, 5]
    """
    rows = read_esc50_meta(find_esc50_folder(data_folder))
    return sorted({row["fold"] for row in rows})


def fold_save_folder(save_root, test_fold):
    """Return the save folder of one cross-validation split: ``<root>/fold<k>``.

    Arguments
    ---------
    save_root : str
        Parent folder of the per-fold manifests.
    test_fold : int
        The split's test fold.

    Returns
    -------
    str
        The folder path.

    Example
    -------
    >>> fold_save_folder("results/esc50", 3)
    'results/esc50/fold3'
    """
    return os.path.join(save_root, f"fold{int(test_fold)}")


def prepare_esc50_folds(data_folder, save_root, folds=None, **kwargs):
    """Prepare the manifests of every cross-validation split, one folder each.

    Split ``k`` (test fold ``k``) goes to ``fold_save_folder(save_root, k)``.
    Resampled copies, when needed, are shared in ``<save_root>/audio_16k``.

    Arguments
    ---------
    data_folder : str
        The ``ESC-50-master`` folder (or a folder that contains it).
    save_root : str
        Parent folder of the per-fold save folders.
    folds : list of int, optional
        Test folds to prepare; default all folds of the metadata.
    **kwargs
        Passed to :func:`prepare_esc50` (``valid_ratio``, ``seed``, ...).

    Returns
    -------
    dict
        ``{test_fold: result of prepare_esc50}``.

    Example
    -------
    >>> results = prepare_esc50_folds(
    ...     "data/ESC-50-master", "results/esc50"
    ... )  # doctest: +SKIP
    >>> sorted(results)  # doctest: +SKIP
    [1, 2, 3, 4, 5]
    """
    if folds is None:
        folds = esc50_folds(data_folder)
    sample_rate = kwargs.get("sample_rate", 16000)
    kwargs.setdefault(
        "resample_folder",
        os.path.join(save_root, _resample_folder_name(sample_rate)),
    )
    return {
        int(fold): prepare_esc50(
            data_folder,
            fold_save_folder(save_root, fold),
            test_fold=fold,
            **kwargs,
        )
        for fold in folds
    }


def find_esc50_folder(data_folder):
    """Return the absolute folder that holds ``meta/esc50.csv``.

    Arguments
    ---------
    data_folder : str
        The ``ESC-50-master`` folder itself or its parent.

    Returns
    -------
    str
        Absolute path of the ESC-50 folder.

    Raises
    ------
    FileNotFoundError
        Neither ``data_folder`` nor ``data_folder/ESC-50-master`` has the
        metadata file.

    Example
    -------
    >>> find_esc50_folder("data")  # doctest: +SKIP
    '/home/me/data/ESC-50-master'
    """
    required = [os.path.join("meta", "esc50.csv")]
    folder = prepare_utils.find_dataset_folder(
        data_folder, "ESC-50-master", required
    )
    if folder is not None:
        return folder
    raise FileNotFoundError(
        f"ESC-50 metadata not found: expected {data_folder}/meta/esc50.csv "
        "(the layout of github.com/karolpiczak/ESC-50)"
    )


def read_esc50_meta(data_folder, skipped=None):
    r"""Read and check ``meta/esc50.csv``.

    Arguments
    ---------
    data_folder : str
        The ESC-50 folder.
    skipped : list, optional
        ``(file, reason)`` pairs are appended for duplicate rows.

    Returns
    -------
    list of dict
        One dict per row with ``filename``, ``fold`` (int), ``target`` (int),
        ``category``, ``src_file``, ``take`` and ``line`` (line number);
        a file listed twice is kept once (the first row).

    Raises
    ------
    ValueError
        Missing columns, a malformed row, an unknown category or a category
        whose ``target`` is not its official index; the message names the row.

    Example
    -------
    >>> folder = getfixture("tmpdir").mkdir("ESC-50-master")
    >>> _ = (
    ...     folder.mkdir("meta")
    ...     .join("esc50.csv")
    ...     .write(
    ...         "filename,fold,target,category,esc10,src_file,take\n"
    ...         "1-100032-A-0.wav,1,0,dog,True,100032,A\n"
    ...     )
    ... )
    >>> rows = read_esc50_meta(folder.strpath)
    >>> rows[0]["category"], rows[0]["target"], rows[0]["fold"]
    ('dog', 0, 1)
    """
    path = os.path.join(data_folder, "meta", "esc50.csv")
    rows, seen = [], set()
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file, skipinitialspace=True)
        missing = [f for f in META_FIELDS if f not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}")
        for row in reader:
            where = f"{path} line {reader.line_num}"
            if None in row or any(row[f] in (None, "") for f in META_FIELDS):
                raise ValueError(f"{where}: malformed row {_row_text(row)}")
            try:
                fold, target = int(row["fold"]), int(row["target"])
            except ValueError:
                raise ValueError(
                    f"{where}: fold and target must be integers in {_row_text(row)}"
                ) from None
            category = row["category"].strip()
            if category not in ESC50_CATEGORIES:
                raise ValueError(
                    f"{where}: unknown category {category!r} (not an ESC-50 class)"
                )
            if ESC50_CATEGORIES.index(category) != target:
                raise ValueError(
                    f"{where}: category {category!r} has target {target}, but "
                    f"its ESC-50 target is {ESC50_CATEGORIES.index(category)}"
                )
            filename = row["filename"].strip()
            if filename in seen:
                if skipped is not None:
                    skipped.append(
                        (filename, f"{where}: duplicate row ignored")
                    )
                continue
            seen.add(filename)
            rows.append(
                {
                    "filename": filename,
                    "fold": fold,
                    "target": target,
                    "category": category,
                    "src_file": row["src_file"].strip(),
                    "take": row["take"].strip(),
                    "line": reader.line_num,
                }
            )
    if not rows:
        raise ValueError(f"{path}: no clips listed")
    return rows


def _classes_by_target(rows):
    """Return the categories present in ``rows``, ordered by target.

    Arguments
    ---------
    rows : list of dict
        Rows from :func:`read_esc50_meta`.

    Returns
    -------
    list of str
        Category names.

    Example
    -------
    >>> _classes_by_target(
    ...     [
    ...         {"category": "rooster", "target": 1},
    ...         {"category": "dog", "target": 0},
    ...     ]
    ... )
    ['dog', 'rooster']
    """
    by_target = {row["target"]: row["category"] for row in rows}
    return [by_target[target] for target in sorted(by_target)]


def _usable_clips(data_folder, rows, sample_rate, resample_folder, skipped):
    """Check every clip and resample those at another rate.

    Arguments
    ---------
    data_folder : str
        The ESC-50 folder.
    rows : list of dict
        Rows from :func:`read_esc50_meta`.
    sample_rate : int
        Target sample rate.
    resample_folder : str
        Folder of resampled copies.
    skipped : list
        ``(path, reason)`` pairs are appended for unusable clips.

    Returns
    -------
    tuple
        (list of clip dicts with ``ID``, ``duration``, ``wav``, ``category``,
        ``fold``, ``src_file``, ``target``; number of files resampled now).

    Example
    -------
    >>> import numpy
    >>> folder = getfixture("tmpdir")
    >>> soundfile.write(
    ...     folder.mkdir("audio").join("1-1-A-0.wav").strpath,
    ...     numpy.zeros(8000),
    ...     16000,
    ... )
    >>> rows = [
    ...     {
    ...         "filename": "1-1-A-0.wav",
    ...         "category": "dog",
    ...         "fold": 1,
    ...         "src_file": "1",
    ...         "target": 0,
    ...     }
    ... ]
    >>> clips, n = _usable_clips(folder.strpath, rows, 16000, "unused", [])
    >>> clips[0]["duration"], n
    (0.5, 0)
    """
    audio_folder = os.path.join(data_folder, "audio")
    paths = [_find_audio(audio_folder, row["filename"]) for row in rows]
    clips, n_resampled = [], 0
    for row, path, frames, rate in prepare_utils.usable_audio(
        rows, paths, skipped
    ):
        wav = path
        if rate != sample_rate:
            stem = os.path.splitext(row["filename"])[0]
            wav = os.path.join(resample_folder, stem + ".wav")
            try:
                if _write_resampled(path, wav, frames, rate, sample_rate):
                    n_resampled += 1
            except (AudioError, RuntimeError, OSError) as error:
                skipped.append((path, f"resampling failed: {error}"))
                continue
            frames = _resampled_length(frames, rate, sample_rate)
        clips.append(
            {
                "ID": os.path.splitext(row["filename"])[0],
                "duration": round(frames / sample_rate, 6),
                "wav": wav,
                "category": row["category"],
                "fold": row["fold"],
                "src_file": row["src_file"],
                "target": row["target"],
            }
        )
    return clips, n_resampled


def _find_audio(audio_folder, filename):
    """Return the path of a clip, trying other audio extensions when absent.

    Arguments
    ---------
    audio_folder : str
        The ``audio`` folder.
    filename : str
        File name from the metadata.

    Returns
    -------
    str
        Absolute path of the existing file, or of ``filename`` when no
        variant exists.

    Example
    -------
    >>> folder = getfixture("tmpdir")
    >>> _ = folder.join("a.flac").write("")
    >>> os.path.basename(_find_audio(folder.strpath, "a.wav"))
    'a.flac'
    """
    path = os.path.abspath(os.path.join(audio_folder, filename))
    if os.path.exists(path):
        return path
    stem = os.path.splitext(path)[0]
    for extension in AUDIO_EXTENSIONS:
        if os.path.isfile(stem + extension):
            return stem + extension
    return path


def _resampled_length(frames, rate, sample_rate):
    """Return the number of samples ``torchaudio.functional.resample`` gives.

    Arguments
    ---------
    frames : int
        Input length.
    rate : int
        Input rate.
    sample_rate : int
        Output rate.

    Returns
    -------
    int
        Output length, ``ceil(frames * sample_rate / rate)``.

    Example
    -------
    >>> _resampled_length(220500, 44100, 16000)
    80000
    """
    return math.ceil(frames * sample_rate / rate)


def _write_resampled(source, target, frames, rate, sample_rate):
    """Write a mono 16-bit wav copy of ``source`` at ``sample_rate``.

    An existing copy that is newer than the source and has the expected
    length is kept. Samples beyond full scale after resampling are clipped.

    Arguments
    ---------
    source : str
        Original file.
    target : str
        Copy to write (atomically).
    frames : int
        Length of the source.
    rate : int
        Rate of the source.
    sample_rate : int
        Rate of the copy.

    Returns
    -------
    bool
        True if the copy was written, False if a valid copy existed.

    Example
    -------
    >>> import numpy
    >>> folder = getfixture("tmpdir").strpath
    >>> soundfile.write(folder + "/a.wav", numpy.zeros(4410), 44100)
    >>> _write_resampled(
    ...     folder + "/a.wav", folder + "/b.wav", 4410, 44100, 16000
    ... )
    True
    >>> soundfile.info(folder + "/b.wav").frames
    1600
    """
    expected = _resampled_length(frames, rate, sample_rate)
    if os.path.isfile(target) and os.path.getmtime(target) >= os.path.getmtime(
        source
    ):
        try:
            info = soundfile.info(target)
            if (info.samplerate, info.channels, info.frames) == (
                sample_rate,
                1,
                expected,
            ):
                return False
        except RuntimeError:
            pass
    signal = load_audio(source, sample_rate).clamp(-1.0, 32767 / 32768)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with atomic_write(target, "wb") as handle:
        soundfile.write(
            handle, signal.numpy(), sample_rate, subtype="PCM_16", format="WAV"
        )
    return True


def _draw_validation(clips, valid_ratio, seed):
    """Choose the validation clips: whole source recordings, per class.

    Each ``src_file`` group is assigned to its most frequent class (ties: the
    lowest target). Per class, the groups are sorted, shuffled with a
    generator seeded by ``seed`` and the class name, and the first
    ``max(1, round(valid_ratio * n_groups))`` go to validation (none when
    ``valid_ratio`` is 0 or the class has a single group).

    Arguments
    ---------
    clips : list of dict
        Candidate clips with ``ID``, ``src_file``, ``category``, ``target``.
    valid_ratio : float
        Fraction of groups per class.
    seed : int
        Seed of the draw.

    Returns
    -------
    set of str
        IDs of the validation clips.

    Example
    -------
    >>> clips = [
    ...     {
    ...         "ID": str(i),
    ...         "src_file": str(i // 2),
    ...         "category": "dog",
    ...         "target": 0,
    ...     }
    ...     for i in range(8)
    ... ]
    >>> valid = _draw_validation(clips, 0.25, 1234)
    >>> len(valid), len({int(i) // 2 for i in valid})
    (2, 1)
    """
    if valid_ratio <= 0:
        return set()
    groups = collections.defaultdict(list)
    for clip in clips:
        groups[clip["src_file"]].append(clip)
    by_class = collections.defaultdict(list)
    for src_file, members in groups.items():
        counts = collections.Counter(
            (c["target"], c["category"]) for c in members
        )
        target, category = min(counts, key=lambda key: (-counts[key], key[0]))
        by_class[category].append(src_file)
    valid = set()
    for category in sorted(by_class):
        sources = sorted(by_class[category])
        if len(sources) < 2:
            continue
        random.Random(f"{seed}:{category}").shuffle(sources)
        n_valid = max(1, math.floor(valid_ratio * len(sources) + 0.5))
        for src_file in sources[:n_valid]:
            valid.update(clip["ID"] for clip in groups[src_file])
    return valid


def _resample_folder_name(sample_rate):
    """Return the folder name of resampled copies (``audio_16k`` at 16 kHz).

    Arguments
    ---------
    sample_rate : int
        Target rate.

    Returns
    -------
    str
        ``audio_<k>k`` for whole kHz, else ``audio_<rate>hz``.

    Example
    -------
    >>> _resample_folder_name(16000), _resample_folder_name(22050)
    ('audio_16k', 'audio_22050hz')
    """
    sample_rate = int(sample_rate)
    if sample_rate % 1000 == 0:
        return f"audio_{sample_rate // 1000}k"
    return f"audio_{sample_rate}hz"


def _row_text(row):
    """Render a csv row for an error message.

    Arguments
    ---------
    row : dict
        Row from ``csv.DictReader``.

    Returns
    -------
    str
        Comma-joined values.

    Example
    -------
    >>> _row_text({"a": "1", "b": None})
    '1,'
    """
    values = []
    for value in row.values():
        if isinstance(value, list):
            values.extend(value)
        else:
            values.append("" if value is None else value)
    return ",".join(values)
