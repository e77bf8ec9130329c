#!/usr/bin/env python3
"""Write the three small-data comparison sets as custom-data CSVs.

Each CSV has ``path,label,split,group`` rows that ``speechbrain-ast train``
(the CustomData recipe) reads as they are, so the split is fixed by this
script and does not change with the training seed:

* ``esc50_fold5.csv``: ESC-50, folds 1-3 train, fold 4 validation (every
  choice is made on it), fold 5 test. The folds keep each source recording
  in one fold, so the split is recording-disjoint.
* ``speech_commands_speakers.csv``: the 35-word Speech Commands subset,
  split by speaker (no speaker in two splits).
* ``spoken_digits_speakers.csv``: the ten digit words (zero ... nine) of the
  same subset, split by speaker.
* ``speech_commands_4speakers.csv`` (a shift test): the 35 words, trained on
  the 4 speakers with the most clips, validated on the 5th, tested on every
  other speaker (none of them heard in training or validation).
* ``esc10_recording_folds.csv`` (a shift test): the ten ESC-10 classes of
  ESC-50, folds 1-2 train, fold 3 validation, fold 4 test (recording-disjoint).
* ``esc10_recording_folds_test{1,2,3,5}.csv`` (the same shift test
  rotated): two consecutive folds train, the next validates, the one after
  tests (test fold 1: folds 3-4 train, fold 5 validation), so over the five
  files every fold is tested once, as in the usual 5-fold ESC protocol; one
  fold of 80 clips cannot tell a 5-point difference from the fold itself.
* ``esc10_trimmed.csv`` (a shift test of clip lengths): the split of
  ``esc10_recording_folds.csv`` with each clip's leading and trailing
  digital silence cut (ESC-50 pads short events to 5 s with zeros), written
  as WAVs under ``esc10_trimmed_audio/``: clips of 0.25-5 s, as in a
  user's own data, where the 5-second sets give every clip the same length.
* ``speech_commands_speakers_trimmed.csv`` (a shift test of clip lengths):
  the speaker split with each clip cut to its word (the 10 ms frames at
  either end more than 30 dB under the loudest dropped), under
  ``speech_commands_trimmed_audio/``: words of different lengths, each
  padded by a different amount, where the 1-second clips mostly fill the
  window.
* ``ssl_pool.csv``: unlabeled audio for ``recipes/SSL`` (a ``path`` column):
  every clip above that is in no test split (ESC-50 folds 1-4, the Speech
  Commands clips of training and validation speakers).

Speakers are assigned in the order of a hash of their id to the split that
is furthest below its share of clips (70 / 15 / 15 %), which keeps the split
independent of the training seed and of the file order::

    python benchmarks/small_data_splits.py ../shared/data --out splits/

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import csv
import hashlib
import os
import sys
from collections import Counter

DIGITS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
SPLIT_SHARES = {"train": 0.70, "valid": 0.15, "test": 0.15}
ESC50_FOLD_SPLITS = {
    "1": "train",
    "2": "train",
    "3": "train",
    "4": "valid",
    "5": "test",
}
ESC10_FOLD_SPLITS = {"1": "train", "2": "train", "3": "valid", "4": "test"}


def rotated_fold_splits(test_fold, n_folds=5):
    """Fold -> split with ``test_fold`` tested, the fold before it validating.

    Arguments
    ---------
    test_fold : int
        The fold to test (1-based).
    n_folds : int
        Folds in the dataset.

    Returns
    -------
    dict
        Two training folds, one validation fold and the test fold.

    Example
    -------
    >>> rotated_fold_splits(4) == ESC10_FOLD_SPLITS
    True
    >>> rotated_fold_splits(1)
    {'3': 'train', '4': 'train', '5': 'valid', '1': 'test'}
    """
    order = ("train", "train", "valid", "test")
    return {
        str((test_fold - 4 + offset) % n_folds + 1): split
        for offset, split in enumerate(order)
    }


ESC10_TEST_FOLDS = (1, 2, 3, 5)  # fold 4 is ``esc10_recording_folds.csv``
TRAIN_SPEAKERS = 4


def esc50_rows(esc50_folder, fold_splits=ESC50_FOLD_SPLITS, esc10_only=False):
    """ESC-50 clips with folds 1-3 / 4 / 5 as train / valid / test.

    Arguments
    ---------
    esc50_folder : str
        Folder with ``meta/esc50.csv`` and ``audio/``.
    fold_splits : dict
        Fold -> split; clips of a fold not in it are left out.
    esc10_only : bool
        Keep only the ESC-10 clips (the ``esc10`` column).

    Returns
    -------
    list of dict
        ``path``, ``label``, ``split``, ``group`` (the source recording).
    """
    meta = os.path.join(esc50_folder, "meta", "esc50.csv")
    audio = os.path.join(esc50_folder, "audio")
    by_stem = {os.path.splitext(name)[0]: name for name in os.listdir(audio)}
    rows = []
    with open(meta, newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            if record["fold"] not in fold_splits:
                continue
            if esc10_only and record["esc10"] != "True":
                continue
            stem = os.path.splitext(record["filename"])[0]
            if stem not in by_stem:
                raise FileNotFoundError(
                    f"{meta}: {record['filename']} is not in {audio}"
                )
            rows.append(
                {
                    "path": os.path.abspath(os.path.join(audio, by_stem[stem])),
                    "label": record["category"],
                    "split": fold_splits[record["fold"]],
                    "group": record["src_file"],
                }
            )
    return rows


def speaker_split(rows):
    """Give every row a split so that each speaker (``group``) is in one split.

    Arguments
    ---------
    rows : list of dict
        Rows with ``group`` (the speaker); changed in place.

    Returns
    -------
    list of dict
        The rows.

    Example
    -------
    >>> rows = [{"group": f"s{i % 20}"} for i in range(100)]
    >>> splits = {row["split"] for row in speaker_split(rows)}
    >>> sorted(splits)
    ['test', 'train', 'valid']
    >>> len({(row["group"], row["split"]) for row in rows})  # one split per speaker
    20
    """
    counts = Counter(row["group"] for row in rows)
    assigned = dict.fromkeys(SPLIT_SHARES, 0)
    split_of = {}
    speakers = sorted(counts, key=lambda s: hashlib.sha1(s.encode()).hexdigest())
    for speaker in speakers:
        total = sum(assigned.values()) + counts[speaker]
        # The split furthest below its share once this speaker is added.
        split = min(
            SPLIT_SHARES,
            key=lambda name: (
                (assigned[name] + counts[speaker]) / total - SPLIT_SHARES[name]
            ),
        )
        split_of[speaker] = split
        assigned[split] += counts[speaker]
    for row in rows:
        row["split"] = split_of[row["group"]]
    return rows


def speech_commands_rows(sc_folder, words=None):
    """Speech Commands subset clips split by speaker.

    Arguments
    ---------
    sc_folder : str
        Folder with ``manifest.csv`` (``path,word,speaker``).
    words : collection of str, optional
        Keep only these words (all when None).

    Returns
    -------
    list of dict
        ``path``, ``label``, ``split``, ``group`` (the speaker).
    """
    manifest = os.path.join(sc_folder, "manifest.csv")
    rows = []
    with open(manifest, newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            if words is not None and record["word"] not in words:
                continue
            rows.append(
                {
                    "path": os.path.abspath(os.path.join(sc_folder, record["path"])),
                    "label": record["word"],
                    "group": record["speaker"],
                }
            )
    return speaker_split(rows)


def few_speaker_split(rows, n_train=TRAIN_SPEAKERS):
    """Train on the ``n_train`` speakers with the most clips, validate on the
    next one, test on all the others.

    Arguments
    ---------
    rows : list of dict
        Rows with ``group`` (the speaker); changed in place.
    n_train : int
        Number of training speakers.

    Returns
    -------
    list of dict
        The rows.

    Example
    -------
    >>> rows = [{"group": g} for g in "aaaabbbcccddeef"]
    >>> [r["split"] for r in few_speaker_split(rows, n_train=2)][::3]
    ['train', 'train', 'train', 'valid', 'test']
    """
    counts = Counter(row["group"] for row in rows)
    # Most clips first; ties broken by the speaker id, not the file order.
    ranked = sorted(counts, key=lambda s: (-counts[s], s))
    split_of = dict.fromkeys(ranked[:n_train], "train")
    split_of[ranked[n_train]] = "valid"
    for row in rows:
        row["split"] = split_of.get(row["group"], "test")
    return rows


def trimmed_rows(rows, audio_dir, silence=1e-4, min_seconds=0.25, top_db=None):
    """Copy each clip without its leading and trailing silence.

    Digital silence (``top_db`` None) or, for recordings with a noise floor,
    every 10 ms frame at either end whose RMS is more than ``top_db`` under
    the clip's loudest frame (the word of a spoken-word clip, as in sets
    whose clips were cut to the word).

    Arguments
    ---------
    rows : list of dict
        ``path,label,split,group`` rows.
    audio_dir : str
        Folder for the trimmed WAVs (created).
    silence : float
        Samples of at most this magnitude at either end are cut.
    min_seconds : float
        A clip left shorter (or silent throughout) is zero-padded to this.
    top_db : float, optional
        Cut quiet frames relative to the loudest instead of digital silence.

    Returns
    -------
    list of dict
        The rows with ``path`` on the trimmed copies.

    Example
    -------
    >>> import numpy as np, soundfile, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> clip = np.zeros(16000, dtype="float32"); clip[4000:12000] = 0.5
    >>> soundfile.write(f"{folder}/a.flac", clip, 16000)
    >>> rows = trimmed_rows([{"path": f"{folder}/a.flac", "label": "x"}], f"{folder}/out")
    >>> soundfile.info(rows[0]["path"]).frames
    8000
    >>> clip[:4000] = clip[12000:] = 0.001  # a noise floor 54 dB down
    >>> soundfile.write(f"{folder}/a.flac", clip, 16000)
    >>> rows = trimmed_rows([{"path": f"{folder}/a.flac", "label": "x"}], f"{folder}/db", top_db=30)
    >>> soundfile.info(rows[0]["path"]).frames
    8000
    """
    import numpy as np
    import soundfile

    os.makedirs(audio_dir, exist_ok=True)
    trimmed = []
    for row in rows:
        audio, rate = soundfile.read(row["path"], dtype="float32")
        if top_db is None:
            loud = np.flatnonzero(np.abs(audio) > silence)
            if len(loud):
                audio = audio[loud[0] : loud[-1] + 1]
        else:
            loud = loud_frames(audio, rate // 100, top_db)
            if len(loud):
                audio = audio[loud[0] * (rate // 100) : (loud[-1] + 1) * (rate // 100)]
        shortest = int(min_seconds * rate)
        if len(loud) == 0 or len(audio) < shortest:
            audio = np.pad(audio[:shortest], (0, shortest - len(audio[:shortest])))
        name = os.path.splitext(os.path.basename(row["path"]))[0] + ".wav"
        # A folder per label: clip names repeat across words (Speech Commands).
        os.makedirs(os.path.join(audio_dir, row["label"]), exist_ok=True)
        out = os.path.join(audio_dir, row["label"], name)
        soundfile.write(out, audio, rate)
        trimmed.append(dict(row, path=out))
    return trimmed


def loud_frames(audio, frame, top_db):
    """Indices of the ``frame``-sample frames within ``top_db`` of the loudest.

    Example
    -------
    >>> import numpy as np
    >>> loud_frames(np.array([0.001, 0.001, 0.5, 0.4, 0.001]), 1, 30).tolist()
    [2, 3]
    """
    import numpy as np

    count = len(audio) // frame
    if count == 0:
        return np.arange(0)
    power = (audio[: count * frame].reshape(count, frame) ** 2).mean(axis=1)
    level = 10 * np.log10(np.maximum(power, 1e-20))
    return (
        np.flatnonzero(level > level.max() - top_db)
        if power.max() > 0
        else np.arange(0)
    )


def write_csv(rows, path):
    """Write ``path,label,split,group`` rows; return a one-line summary."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "split", "group"])
        writer.writeheader()
        writer.writerows(rows)
    sizes = {name: sum(row["split"] == name for row in rows) for name in SPLIT_SHARES}
    labels = {row["label"] for row in rows}
    return f"{path}: {len(labels)} classes, train/valid/test {sizes['train']}/{sizes['valid']}/{sizes['test']}"


def main(argv=None):
    """Command line: write the three CSVs into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "data", help="the shared data folder (with esc50/, speech_commands_mini/)"
    )
    parser.add_argument("--out", required=True, help="folder for the CSVs")
    args = parser.parse_args(argv)
    esc50 = os.path.join(args.data, "esc50")
    speech = os.path.join(args.data, "speech_commands_mini")
    for folder in (esc50, speech):
        if not os.path.isdir(folder):
            sys.exit(f"error: {folder} is missing (expected the shared data layout)")
    os.makedirs(args.out, exist_ok=True)
    sets = {
        "esc50_fold5.csv": esc50_rows(esc50),
        "speech_commands_speakers.csv": speech_commands_rows(speech),
        "spoken_digits_speakers.csv": speech_commands_rows(speech, DIGITS),
    }
    shift_sets = {
        "speech_commands_4speakers.csv": few_speaker_split(
            speech_commands_rows(speech)
        ),
        "esc10_recording_folds.csv": esc50_rows(
            esc50, ESC10_FOLD_SPLITS, esc10_only=True
        ),
    }
    shift_sets["esc10_trimmed.csv"] = trimmed_rows(
        shift_sets["esc10_recording_folds.csv"],
        os.path.join(args.out, "esc10_trimmed_audio"),
    )
    shift_sets["speech_commands_speakers_trimmed.csv"] = trimmed_rows(
        sets["speech_commands_speakers.csv"],
        os.path.join(args.out, "speech_commands_trimmed_audio"),
        top_db=30,
    )
    for fold in ESC10_TEST_FOLDS:
        shift_sets[f"esc10_recording_folds_test{fold}.csv"] = esc50_rows(
            esc50, rotated_fold_splits(fold), esc10_only=True
        )
    for name, rows in sets.items():
        print(write_csv(rows, os.path.join(args.out, name)))
    for name, rows in shift_sets.items():
        print(write_csv(rows, os.path.join(args.out, name)))
    # The pool keeps out every test clip of the original sets; the shift sets'
    # test clips are in it (their own SSL runs pretrain on their train split).
    print(write_pool(sets.values(), os.path.join(args.out, "ssl_pool.csv")))


def write_pool(row_sets, path):
    """Write the paths that are in no test split (SSL pretraining pool).

    Arguments
    ---------
    row_sets : iterable of list of dict
        Rows with ``path`` and ``split``.
    path : str
        Output CSV (one ``path`` column).

    Returns
    -------
    str
        A one-line summary.
    """
    row_sets = list(row_sets)
    tested = {
        row["path"] for rows in row_sets for row in rows if row["split"] == "test"
    }
    pool = sorted({row["path"] for rows in row_sets for row in rows} - tested)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path"])
        writer.writerows([item] for item in pool)
    return f"{path}: {len(pool)} unlabeled clips (none of any test split)"


if __name__ == "__main__":
    main()
