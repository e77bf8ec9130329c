"""Data preparation for Speech Commands v0.02 (35 keywords, the V2-35 task).

Reads the official layout of ``speech_commands_v0.02.tar.gz`` (P. Warden,
arXiv:1804.03209): one folder per word holding ``<speaker>_nohash_<n>.wav``
clips, plus ``validation_list.txt`` and ``testing_list.txt``. As in the
official AST recipe (``prep_sc.py``), the training set is every clip of the
word folders that neither list names; ``_background_noise_`` (any folder
whose name starts with ``_``) is not a class, and there is no silence or
unknown class.

Outputs in ``save_folder``:

* ``train.csv``, ``valid.csv``, ``test.csv``: columns ``ID,duration,wav,labels``
  with ``ID`` = ``<word>_<file stem>``, ``wav`` an absolute path and
  ``labels`` the word.
* ``classes.txt``: the word folder names, sorted.
* ``skipped.txt`` (only when something was skipped): ``<path>\\t<reason>``.
* ``prepare_options.json``: the arguments; a later call with the same
  arguments returns at once.

Class order: this script sorts the words alphabetically. The released AST
Speech Commands checkpoint uses another order (0 backward, 1 follow, 2 five,
3 bed, ..., from its ``speechcommands_class_labels_indices.csv``); a model
folder made with ``speechbrain-ast import --labels`` keeps the checkpoint's
order, so map by name, never by index, when comparing the two.

Authors
 * speechbrain-ast contributors 2026
"""

import logging
import os

from speechbrain_ast import audio_files
from speechbrain_ast.training import preparation as prepare_utils

logger = logging.getLogger(__name__)

# The one audio-file rule, restricted to the formats Speech Commands ships in
# (.wav; .flac for a compressed copy), in its order of preference.
AUDIO_EXTENSIONS = tuple(
    ext for ext in audio_files.AUDIO_EXTENSIONS if ext in (".wav", ".flac")
)
LIST_FILES = {"valid": "validation_list.txt", "test": "testing_list.txt"}
# Bump when the manifest content changes, so old outputs are rebuilt.
FORMAT_VERSION = 1


def prepare_speech_commands(data_folder, save_folder, skip_prep=False):
    """Write the train/valid/test manifests of Speech Commands v0.02.

    Validation and test clips are those named in ``validation_list.txt`` and
    ``testing_list.txt`` (paths relative to ``data_folder``, matched with or
    without extension, so a ``.flac`` copy of the data works with the
    official ``.wav`` lists); all other clips of the word folders are the
    training set. Skipped and reported in ``skipped.txt`` (never fatal): list
    lines naming a missing file, clips named by both lists (kept in test),
    empty, unreadable or too short files, files that are not ``.wav`` or
    ``.flac``, a second copy of a clip in another format, and word folders
    without audio.

    Arguments
    ---------
    data_folder : str
        The ``speech_commands_v0.02`` folder (or a folder that contains it).
    save_folder : str
        Where the manifests are written.
    skip_prep : bool
        If True, return at once without checking or writing anything.

    Returns
    -------
    dict
        ``status`` ("prepared", "up_to_date" or "skip_prep"), the paths
        ``train``, ``valid``, ``test``, ``classes``, ``skipped`` (None when
        nothing was skipped), and ``counts`` (rows per split, ``classes``,
        ``skipped``; None with ``skip_prep``).

    Raises
    ------
    FileNotFoundError
        ``data_folder`` lacks ``validation_list.txt`` or ``testing_list.txt``.
    ValueError
        No usable clip in the training or test set.

    Example
    -------
    >>> result = prepare_speech_commands(
    ...     "data/speech_commands_v0.02", "results/sc"
    ... )  # doctest: +SKIP
    >>> result["counts"]["classes"]  # doctest: +SKIP
    35
    """
    outputs = prepare_utils.output_paths(save_folder)
    if skip_prep:
        return prepare_utils.prepare_result("skip_prep", outputs, None)
    data_folder = find_speech_commands_folder(data_folder)
    options = {"format_version": FORMAT_VERSION, "data_folder": data_folder}
    if prepare_utils.is_prepared(outputs, options):
        logger.info(
            "Speech Commands manifests in %s are up to date", save_folder
        )
        return prepare_utils.prepare_result(
            "up_to_date", outputs, prepare_utils.count_outputs(outputs)
        )

    skipped = []
    words, files = scan_word_folders(data_folder, skipped)
    listed = {
        split: read_split_list(os.path.join(data_folder, name), files, skipped)
        for split, name in LIST_FILES.items()
    }
    for key in sorted(listed["valid"] & listed["test"]):
        skipped.append(
            (files[key], "in both validation and testing lists; kept in test")
        )
    listed["valid"] -= listed["test"]

    keys = sorted(files)
    paths = [files[key] for key in keys]
    splits = {split: [] for split in prepare_utils.SPLITS}
    for key, path, frames, rate in prepare_utils.usable_audio(
        keys, paths, skipped
    ):
        word, stem = key.split("/", 1)
        split = next(
            (s for s in ("test", "valid") if key in listed[s]), "train"
        )
        splits[split].append(
            [f"{word}_{stem}", round(frames / rate, 6), path, word]
        )
    prepare_utils.require_splits(
        splits, f"Speech Commands in {data_folder}", skipped
    )
    if not splits["valid"]:
        logger.warning("Speech Commands: the validation set is empty")

    return prepare_utils.finish_prepare(
        "Speech Commands", outputs, splits, words, skipped, options
    )


def find_speech_commands_folder(data_folder):
    """Return the absolute folder that holds the split lists.

    Arguments
    ---------
    data_folder : str
        The ``speech_commands_v0.02`` folder itself or its parent.

    Returns
    -------
    str
        Absolute path of the data set folder.

    Raises
    ------
    FileNotFoundError
        A split list is missing.

    Example
    -------
    >>> find_speech_commands_folder("data")  # doctest: +SKIP
    '/home/me/data/speech_commands_v0.02'
    """
    folder = prepare_utils.find_dataset_folder(
        data_folder, "speech_commands_v0.02", LIST_FILES.values()
    )
    if folder is not None:
        return folder
    if not os.path.isdir(data_folder):
        raise FileNotFoundError(
            f"Speech Commands folder not found: {data_folder}"
        )
    raise FileNotFoundError(
        f"Speech Commands split lists not found: {data_folder} must hold "
        f"{' and '.join(LIST_FILES.values())} (official v0.02 layout)"
    )


def scan_word_folders(data_folder, skipped):
    """List the words and their audio files.

    A word is a sub-folder whose name does not start with ``_`` or ``.`` and
    that holds at least one ``.wav`` or ``.flac`` file. When a clip exists in
    both formats, the ``.wav`` is used.

    Arguments
    ---------
    data_folder : str
        The data set folder.
    skipped : list
        ``(path, reason)`` pairs are appended for ignored files and folders.

    Returns
    -------
    tuple
        (sorted list of words, ``{"<word>/<stem>": absolute path}``).

    Example
    -------
    >>> folder = getfixture("tmpdir")
    >>> _ = folder.mkdir("yes").join("a_nohash_0.wav").write("")
    >>> _ = folder.mkdir("_background_noise_").join("noise.wav").write("")
    >>> words, files = scan_word_folders(folder.strpath, [])
    >>> words, sorted(files)
    (['yes'], ['yes/a_nohash_0'])
    """
    words, files = [], {}
    with os.scandir(data_folder) as entries:
        folders = sorted(e.name for e in entries if e.is_dir())
    for word in folders:
        if word.startswith(("_", ".")):
            continue
        folder = os.path.join(data_folder, word)
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if e.is_file())
        found = {}
        for name in names:
            stem, extension = os.path.splitext(name)
            path = os.path.join(folder, name)
            if name.startswith("."):
                continue
            if extension.lower() not in AUDIO_EXTENSIONS:
                skipped.append((path, "not a .wav or .flac file; ignored"))
                continue
            found.setdefault(stem, []).append(path)
        for stem, candidates in found.items():
            candidates.sort(
                key=lambda path: prepare_utils.extension_rank(
                    path, AUDIO_EXTENSIONS
                )
            )
            files[f"{word}/{stem}"] = candidates[0]
            for other in candidates[1:]:
                skipped.append(
                    (other, f"same clip as {candidates[0]}; ignored")
                )
        if found:
            words.append(word)
        else:
            skipped.append((folder, "word folder without .wav or .flac files"))
    return words, files


def read_split_list(list_path, files, skipped):
    """Read a split list and return the keys of the clips it names.

    Lines are paths relative to the data set folder, e.g.
    ``yes/0a7c2a8d_nohash_0.wav``; blank lines are ignored and the file
    extension need not match the one on disk.

    Arguments
    ---------
    list_path : str
        ``validation_list.txt`` or ``testing_list.txt``.
    files : dict
        ``{"<word>/<stem>": path}`` from :func:`scan_word_folders`.
    skipped : list
        ``(line, reason)`` pairs are appended for lines naming no clip.

    Returns
    -------
    set of str
        Keys of ``files`` named by the list.

    Example
    -------
    >>> path = getfixture("tmpdir").join("testing_list.txt")
    >>> _ = path.write("yes/a_nohash_0.wav\\nno/b_nohash_0.wav\\n")
    >>> skipped = []
    >>> read_split_list(
    ...     path.strpath, {"yes/a_nohash_0": "/d/yes/a_nohash_0.wav"}, skipped
    ... )
    {'yes/a_nohash_0'}
    >>> skipped[0][1]
    'testing_list.txt line 2: no such clip in the word folders'
    """
    name = os.path.basename(list_path)
    keys = set()
    with open(list_path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            entry = line.strip().replace("\\", "/")
            if not entry:
                continue
            while entry.startswith("./"):
                entry = entry[2:]
            key = os.path.splitext(entry)[0]
            if key in files:
                keys.add(key)
            else:
                skipped.append(
                    (
                        entry,
                        f"{name} line {number}: no such clip in the word folders",
                    )
                )
    return keys
