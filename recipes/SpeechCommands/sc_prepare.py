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

import csv
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor

import soundfile

from speechbrain_ast.audio import MIN_SAMPLES

logger = logging.getLogger(__name__)

MANIFEST_FIELDS = ["ID", "duration", "wav", "labels"]
AUDIO_EXTENSIONS = (".wav", ".flac")  # in order of preference
LIST_FILES = {"valid": "validation_list.txt", "test": "testing_list.txt"}
OPTIONS_FILE = "prepare_options.json"
SKIPPED_FILE = "skipped.txt"
SPLITS = ("train", "valid", "test")
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
    >>> result = prepare_speech_commands("data/speech_commands_v0.02", "results/sc")  # doctest: +SKIP
    >>> result["counts"]["classes"]  # doctest: +SKIP
    35
    """
    outputs = _output_paths(save_folder)
    if skip_prep:
        return _result("skip_prep", outputs, None)
    data_folder = find_speech_commands_folder(data_folder)
    options = {"format_version": FORMAT_VERSION, "data_folder": data_folder}
    if _is_prepared(outputs, options):
        logger.info("Speech Commands manifests in %s are up to date", save_folder)
        return _result("up_to_date", outputs, _count_outputs(outputs))

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
    splits = {split: [] for split in SPLITS}
    for key, path, (info, reason) in zip(keys, paths, _probe_many(paths)):
        if reason is None and "$" in path:
            reason = "path contains '$', which SpeechBrain's CSV reader substitutes"
        if reason is not None:
            skipped.append((path, reason))
            continue
        frames, rate = info
        word, stem = key.split("/", 1)
        split = next((s for s in ("test", "valid") if key in listed[s]), "train")
        splits[split].append([f"{word}_{stem}", round(frames / rate, 6), path, word])
    for split in ("train", "test"):
        if not splits[split]:
            raise ValueError(
                f"Speech Commands in {data_folder}: no usable clip for the "
                f"{split} set; {_skip_summary(skipped)}"
            )
    if not splits["valid"]:
        logger.warning("Speech Commands: the validation set is empty")

    tables = {outputs[s]: (MANIFEST_FIELDS, splits[s]) for s in SPLITS}
    _commit(outputs, tables, words, skipped, options)
    if skipped:
        logger.warning(
            "Speech Commands: skipped %d item(s), see %s",
            len(skipped),
            outputs["skipped"],
        )
    counts = {split: len(splits[split]) for split in SPLITS}
    counts.update(classes=len(words), skipped=len(skipped))
    logger.info("Speech Commands manifests written to %s: %s", save_folder, counts)
    return _result("prepared", outputs, counts)


def find_speech_commands_folder(data_folder):
    """Return the absolute folder that holds the split lists.

    Accepts the ``speech_commands_v0.02`` folder itself or its parent.

    Arguments
    ---------
    data_folder : str
        Folder given by the user.

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
    candidates = (data_folder, os.path.join(data_folder, "speech_commands_v0.02"))
    for folder in candidates:
        if all(os.path.isfile(os.path.join(folder, n)) for n in LIST_FILES.values()):
            return os.path.abspath(folder)
    if not os.path.isdir(data_folder):
        raise FileNotFoundError(f"Speech Commands folder not found: {data_folder}")
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
            candidates.sort(key=_extension_rank)
            files[f"{word}/{stem}"] = candidates[0]
            for other in candidates[1:]:
                skipped.append((other, f"same clip as {candidates[0]}; ignored"))
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
    >>> read_split_list(path.strpath, {"yes/a_nohash_0": "/d/yes/a_nohash_0.wav"}, skipped)
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
                    (entry, f"{name} line {number}: no such clip in the word folders")
                )
    return keys


def _extension_rank(path):
    """Sort key preferring the formats earlier in :data:`AUDIO_EXTENSIONS`.

    Arguments
    ---------
    path : str
        Audio file path.

    Returns
    -------
    int
        Position of the extension.

    Example
    -------
    >>> sorted(["a.flac", "a.wav"], key=_extension_rank)
    ['a.wav', 'a.flac']
    """
    return AUDIO_EXTENSIONS.index(os.path.splitext(path)[1].lower())


# ---------------------------------------------------------------- shared helpers
# (the three prepare scripts carry the same small helpers so that each recipe
# folder stays importable on its own)


def _probe_audio(path):
    """Check that a file is usable audio, reading its header and last samples.

    Arguments
    ---------
    path : str
        Audio file.

    Returns
    -------
    tuple
        ``((frames, sample_rate), None)`` when usable, else ``(None, reason)``.

    Example
    -------
    >>> import numpy
    >>> path = getfixture("tmpdir").join("a.wav").strpath
    >>> soundfile.write(path, numpy.zeros(8000), 16000)
    >>> _probe_audio(path)
    ((8000, 16000), None)
    >>> _probe_audio("missing.wav")
    (None, 'file not found')
    """
    if not os.path.isfile(path):
        return None, "file not found"
    if os.path.getsize(path) == 0:
        return None, "file is empty (0 bytes)"
    try:
        with soundfile.SoundFile(path) as file:
            frames, rate = file.frames, file.samplerate
            if frames <= 0:
                return None, "contains no samples"
            file.seek(max(0, frames - 16))
            if len(file.read(16)) == 0:
                return None, "audio data is truncated"
    except Exception as error:  # libsndfile raises several types
        message = str(error).replace(f"Error opening {path!r}: ", "")
        message = " ".join(message.split()) or type(error).__name__
        return None, f"not readable as audio ({message})"
    if frames * 16000 < MIN_SAMPLES * rate:
        return None, f"too short ({frames} samples at {rate} Hz; need 25 ms)"
    return (frames, rate), None


def _probe_many(paths):
    """Run :func:`_probe_audio` over many files with a few I/O threads.

    Arguments
    ---------
    paths : list of str
        Audio files.

    Returns
    -------
    list of tuple
        One :func:`_probe_audio` result per path, in order.

    Example
    -------
    >>> _probe_many(["missing.wav"])
    [(None, 'file not found')]
    """
    if len(paths) < 64:
        return [_probe_audio(path) for path in paths]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(_probe_audio, paths, chunksize=64))


def _output_paths(save_folder, extra=None):
    """Return the output file paths of a prepare call.

    Arguments
    ---------
    save_folder : str
        Where the manifests go.
    extra : dict, optional
        More ``{key: file name}`` outputs.

    Returns
    -------
    dict
        ``train``, ``valid``, ``test``, ``classes``, ``skipped``, ``options``
        and the extra keys, as absolute paths.

    Example
    -------
    >>> sorted(_output_paths("out"))
    ['classes', 'options', 'skipped', 'test', 'train', 'valid']
    """
    names = {split: f"{split}.csv" for split in SPLITS}
    names.update(classes="classes.txt", skipped=SKIPPED_FILE, options=OPTIONS_FILE)
    names.update(extra or {})
    save_folder = os.path.abspath(save_folder)
    return {key: os.path.join(save_folder, name) for key, name in names.items()}


def _is_prepared(outputs, options):
    """Tell whether all outputs exist and were made with ``options``.

    Arguments
    ---------
    outputs : dict
        From :func:`_output_paths`.
    options : dict
        The current arguments (JSON-serialisable).

    Returns
    -------
    bool
        True if nothing needs to be done.

    Example
    -------
    >>> _is_prepared(_output_paths("no/such/folder"), {})
    False
    """
    required = [path for key, path in outputs.items() if key != "skipped"]
    if not all(os.path.isfile(path) for path in required):
        return False
    try:
        with open(outputs["options"], encoding="utf-8") as file:
            saved = json.load(file)
    except (OSError, ValueError):
        return False
    return saved == json.loads(json.dumps(options))


def _count_outputs(outputs):
    """Count the rows of existing outputs (for an up-to-date call).

    Arguments
    ---------
    outputs : dict
        From :func:`_output_paths`.

    Returns
    -------
    dict
        Rows per split, ``classes`` and ``skipped`` (``resampled`` is 0).

    Example
    -------
    >>> _count_outputs(_output_paths("no/such/folder"))["skipped"]
    0
    """
    counts = {}
    for key in (*SPLITS, "classes", "skipped"):
        try:
            with open(outputs[key], encoding="utf-8") as file:
                lines = sum(1 for line in file if line.strip())
        except OSError:
            lines = 0
        counts[key] = max(0, lines - 1) if key in SPLITS else lines
    counts["resampled"] = 0
    return counts


def _result(status, outputs, counts):
    """Build the dict a prepare call returns.

    Arguments
    ---------
    status : str
        "prepared", "up_to_date" or "skip_prep".
    outputs : dict
        From :func:`_output_paths`.
    counts : dict or None
        Row counts.

    Returns
    -------
    dict
        Status, paths and counts.

    Example
    -------
    >>> _result("skip_prep", _output_paths("out"), None)["skipped"] is None
    True
    """
    result = {k: path for k, path in outputs.items() if k not in ("options", "skipped")}
    has_skipped = counts is not None and counts.get("skipped")
    result["skipped"] = outputs["skipped"] if has_skipped else None
    result["status"] = status
    result["counts"] = counts
    return result


def _skip_summary(skipped, limit=3):
    """Summarise skipped files for an error message.

    Arguments
    ---------
    skipped : list of tuple
        ``(path, reason)`` pairs.
    limit : int
        How many to quote.

    Returns
    -------
    str
        A short text.

    Example
    -------
    >>> _skip_summary([("a.wav", "file not found")])
    '1 file(s) skipped, e.g. a.wav: file not found'
    """
    if not skipped:
        return "no file was skipped"
    examples = "; ".join(f"{path}: {reason}" for path, reason in skipped[:limit])
    return f"{len(skipped)} file(s) skipped, e.g. {examples}"


def _commit(outputs, tables, classes, skipped, options):
    """Write all outputs to temporary files, then move them into place.

    A failure while writing leaves the previous outputs untouched. The
    options file is removed before and rewritten after the moves, so an
    interruption between them makes the next call redo the work.

    Arguments
    ---------
    outputs : dict
        From :func:`_output_paths`.
    tables : dict
        ``{csv path: (header, list of rows)}``.
    classes : list of str
        Lines of ``classes.txt``.
    skipped : list of tuple
        ``(path, reason)`` lines of ``skipped.txt``; none removes the file.
    options : dict
        Saved to the options file.

    Returns
    -------
    None

    Example
    -------
    >>> outputs = _output_paths(getfixture("tmpdir").strpath)
    >>> table = (["ID", "duration", "wav", "labels"], [["a", 1.0, "/a.wav", "dog"]])
    >>> _commit(outputs, {outputs["train"]: table}, ["dog"], [], {})
    >>> open(outputs["train"]).read()
    'ID,duration,wav,labels\\na,1.0,/a.wav,dog\\n'
    """
    os.makedirs(os.path.dirname(outputs["options"]), exist_ok=True)
    pending = []
    try:
        for path, (header, rows) in tables.items():
            pending.append(path)
            with open(path + ".tmp", "w", newline="", encoding="utf-8") as file:
                writer = csv.writer(file, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(rows)
        pending.append(outputs["classes"])
        with open(outputs["classes"] + ".tmp", "w", encoding="utf-8") as file:
            file.writelines(f"{name}\n" for name in classes)
        if skipped:
            pending.append(outputs["skipped"])
            with open(outputs["skipped"] + ".tmp", "w", encoding="utf-8") as file:
                for where, reason in skipped:
                    file.write(f"{_one_line(where)}\t{_one_line(reason)}\n")
    except BaseException:
        for path in pending:
            if os.path.exists(path + ".tmp"):
                os.remove(path + ".tmp")
        raise
    if os.path.exists(outputs["options"]):
        os.remove(outputs["options"])
    for path in pending:
        os.replace(path + ".tmp", path)
    if not skipped and os.path.exists(outputs["skipped"]):
        os.remove(outputs["skipped"])
    with open(outputs["options"] + ".tmp", "w", encoding="utf-8") as file:
        json.dump(options, file, indent=2, sort_keys=True)
    os.replace(outputs["options"] + ".tmp", outputs["options"])


def _one_line(text):
    """Flatten tabs and newlines so a field fits one ``skipped.txt`` column.

    Arguments
    ---------
    text : object
        Text to flatten.

    Returns
    -------
    str
        The text on one line without tabs.

    Example
    -------
    >>> _one_line("a\\tb\\nc")
    'a b c'
    """
    return " ".join(str(text).split())
