"""Helpers shared by the data preparation scripts of the recipes.

The ESC-50, Speech Commands and AudioSet prepare scripts write the same kind
of outputs in a ``save_folder``: ``train.csv``, ``valid.csv`` and
``test.csv`` manifests, ``classes.txt``, ``skipped.txt`` (only when something
was skipped) and ``prepare_options.json`` (the arguments, so that a later
call with the same arguments returns at once). This module holds what they
share: probing audio files, manifest IDs and listing fingerprints (also used
by the CustomData and SSL scripts), the up-to-date check, the atomic commit
of all outputs and the result dict a prepare call returns. Over 500 lines
because each of those pieces is a few small functions with runnable examples;
splitting them would give every prepare script five imports for one concept
(writing a prepared ``save_folder``).

Authors
 * speechbrain-ast contributors 2026
"""

import contextlib
import csv
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor

import soundfile

from speechbrain_ast.audio import too_short_reason
from speechbrain_ast.files import atomic_write

logger = logging.getLogger(__name__)

MANIFEST_FIELDS = ["ID", "duration", "wav", "labels"]
OPTIONS_FILE = "prepare_options.json"
SKIPPED_FILE = "skipped.txt"
SPLITS = ("train", "valid", "test")
DOLLAR_REASON = "path contains '$', which SpeechBrain's CSV reader substitutes"


def probe_audio(path):
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
    >>> probe_audio(path)
    ((8000, 16000), None)
    >>> probe_audio("missing.wav")
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
    reason = too_short_reason(frames, rate)
    return ((frames, rate), None) if reason is None else (None, reason)


def probe_many(paths):
    """Run :func:`probe_audio` over many files with a few I/O threads.

    Arguments
    ---------
    paths : list of str
        Audio files.

    Returns
    -------
    list of tuple
        One :func:`probe_audio` result per path, in order.

    Example
    -------
    >>> probe_many(["missing.wav"])
    [(None, 'file not found')]
    """
    if len(paths) < 64:
        return [probe_audio(path) for path in paths]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(probe_audio, paths, chunksize=64))


def usable_audio(items, paths, skipped):
    """Yield the usable files of ``paths``; report the others in ``skipped``.

    Files are probed with :func:`probe_many`. A file that is not usable, or
    whose path contains ``$`` (SpeechBrain's CSV reader would substitute it),
    is appended to ``skipped`` as ``(path, reason)`` when the iteration
    reaches it, so reasons the caller appends while handling a yielded file
    keep the order of ``paths``.

    Arguments
    ---------
    items : list
        One object per path (metadata row, key, ...), yielded with it.
    paths : list of str
        Audio files.
    skipped : list
        ``(path, reason)`` pairs are appended for unusable files.

    Yields
    ------
    tuple
        ``(item, path, frames, sample_rate)`` of each usable file, in order.

    Example
    -------
    >>> import numpy
    >>> path = getfixture("tmpdir").join("a.wav").strpath
    >>> soundfile.write(path, numpy.zeros(8000), 16000)
    >>> skipped = []
    >>> list(usable_audio(["a", "b"], [path, "missing.wav"], skipped))[0][2:]
    (8000, 16000)
    >>> skipped
    [('missing.wav', 'file not found')]
    """
    for item, path, (info, reason) in zip(items, paths, probe_many(paths)):
        if reason is None and "$" in path:
            reason = DOLLAR_REASON
        if reason is not None:
            skipped.append((path, reason))
            continue
        frames, rate = info
        yield item, path, frames, rate


def usable_clips(items, paths, checks, skipped):
    """Yield the usable clips with a unique manifest ID; report the others.

    Like :func:`usable_audio`, but the caller checks the files (for example
    by decoding their samples) and gives one ``(duration, reason)`` per path.
    A clip with a reason, or whose path contains ``$``, is appended to
    ``skipped`` as ``(path, reason)``; the others get IDs from
    :func:`unique_id`, in order.

    Arguments
    ---------
    items : list
        One object per path (a row, the path itself, ...), yielded with it.
    paths : list of str
        Audio files.
    checks : iterable of tuple
        ``(duration_seconds, None)`` or ``(None, reason)`` per path; may be
        lazy, each is taken when its clip is reached.
    skipped : list
        ``(path, reason)`` pairs are appended for unusable clips.

    Yields
    ------
    tuple
        ``(item, item_id, duration)`` of each usable clip, in order.

    Example
    -------
    >>> skipped = []
    >>> paths = ["a/x.wav", "b/x.wav", "c/y.wav"]
    >>> checks = [(1.0, None), (2.0, None), (None, "silent")]
    >>> list(usable_clips(paths, paths, checks, skipped))
    [('a/x.wav', 'x', 1.0), ('b/x.wav', 'x_2', 2.0)]
    >>> skipped
    [('c/y.wav', 'silent')]
    """
    ids = set()
    for item, path, (duration, reason) in zip(items, paths, checks):
        if reason is None and "$" in path:
            reason = DOLLAR_REASON
        if reason is not None:
            skipped.append((path, reason))
            continue
        yield item, unique_id(path, ids), duration


def unique_id(path, used):
    """A manifest ID from the file name, made unique with a counter.

    Arguments
    ---------
    path : str
        Audio file.
    used : set
        IDs taken so far (updated).

    Returns
    -------
    str
        The ID.

    Example
    -------
    >>> used = set()
    >>> unique_id("a/x.wav", used), unique_id("b/x.wav", used)
    ('x', 'x_2')
    """
    stem = os.path.splitext(os.path.basename(path))[0].replace(",", "_") or "clip"
    candidate, count = stem, 1
    while candidate in used:
        count += 1
        candidate = f"{stem}_{count}"
    used.add(candidate)
    return candidate


def file_signature(path):
    """Size and modification time of a file, for a listing's fingerprint.

    A changed, replaced or removed file changes its signature, so a later
    preparation notices it without reading the audio.

    Arguments
    ---------
    path : str
        A listed clip (need not exist).

    Returns
    -------
    str
        ``"size:mtime_ns"``, or ``"missing"`` when it cannot be read.

    Example
    -------
    >>> file_signature("no/such/file.wav")
    'missing'
    """
    try:
        stat = os.stat(path)
    except OSError:
        return "missing"
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def extension_rank(path, extensions):
    """Sort key preferring the audio formats earlier in ``extensions``.

    Arguments
    ---------
    path : str
        Audio file path; its extension (any case) must be in ``extensions``.
    extensions : tuple of str
        Extensions with their dot, most preferred first.

    Returns
    -------
    int
        Position of the extension.

    Example
    -------
    >>> extension_rank("a.MP3", (".wav", ".flac", ".mp3"))
    2
    """
    return extensions.index(os.path.splitext(path)[1].lower())


def find_dataset_folder(data_folder, name, required):
    """Return the data set folder: ``data_folder`` itself or ``data_folder/name``.

    Arguments
    ---------
    data_folder : str
        Folder given by the user: the data set folder or its parent.
    name : str
        Name of the data set folder inside a parent.
    required : iterable of str
        Files (relative paths) the data set folder must hold.

    Returns
    -------
    str or None
        Absolute path of the first candidate holding every required file,
        else None.

    Example
    -------
    >>> parent = getfixture("tmpdir")
    >>> _ = parent.mkdir("set").join("list.txt").write("")
    >>> folder = find_dataset_folder(parent.strpath, "set", ["list.txt"])
    >>> folder == parent.join("set").strpath
    True
    >>> find_dataset_folder(parent.strpath, "set", ["other.txt"]) is None
    True
    """
    required = list(required)
    for folder in (data_folder, os.path.join(data_folder, name)):
        if all(os.path.isfile(os.path.join(folder, path)) for path in required):
            return os.path.abspath(folder)
    return None


def output_paths(save_folder, extra=None):
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
    >>> sorted(output_paths("out"))
    ['classes', 'options', 'skipped', 'test', 'train', 'valid']
    """
    names = {split: f"{split}.csv" for split in SPLITS}
    names.update(classes="classes.txt", skipped=SKIPPED_FILE, options=OPTIONS_FILE)
    names.update(extra or {})
    save_folder = os.path.abspath(save_folder)
    return {key: os.path.join(save_folder, name) for key, name in names.items()}


def is_prepared(outputs, options):
    """Tell whether all outputs exist and were made with ``options``.

    Arguments
    ---------
    outputs : dict
        Output paths, from :func:`output_paths`.
    options : dict
        The current arguments (JSON-serialisable).

    Returns
    -------
    bool
        True if nothing needs to be done.

    Example
    -------
    >>> is_prepared(output_paths("no/such/folder"), {})
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


def count_outputs(outputs):
    """Count the rows of existing outputs (for an up-to-date call).

    Arguments
    ---------
    outputs : dict
        Output paths, from :func:`output_paths`.

    Returns
    -------
    dict
        Rows per split, ``classes`` and ``skipped`` (``resampled`` is 0).

    Example
    -------
    >>> count_outputs(output_paths("no/such/folder"))["skipped"]
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


def prepare_result(status, outputs, counts):
    """Build the dict a prepare call returns.

    Arguments
    ---------
    status : str
        "prepared", "up_to_date" or "skip_prep".
    outputs : dict
        Output paths, from :func:`output_paths`.
    counts : dict or None
        Row counts.

    Returns
    -------
    dict
        Status, paths and counts.

    Example
    -------
    >>> prepare_result("skip_prep", output_paths("out"), None)["skipped"] is None
    True
    """
    result = {k: path for k, path in outputs.items() if k not in ("options", "skipped")}
    has_skipped = counts is not None and counts.get("skipped")
    result["skipped"] = outputs["skipped"] if has_skipped else None
    result["status"] = status
    result["counts"] = counts
    return result


def skip_summary(skipped, limit=3):
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
    >>> skip_summary([("a.wav", "file not found")])
    '1 file(s) skipped, e.g. a.wav: file not found'
    """
    if not skipped:
        return "no file was skipped"
    examples = "; ".join(f"{path}: {reason}" for path, reason in skipped[:limit])
    return f"{len(skipped)} file(s) skipped, e.g. {examples}"


def require_splits(splits, what, skipped, note=""):
    """Raise if the training or the test set has no clip.

    Arguments
    ---------
    splits : dict
        ``{split: list of rows}`` with at least ``train`` and ``test``.
    what : str
        Start of the message, e.g. ``"AudioSet in /data/audioset"``.
    skipped : list of tuple
        ``(path, reason)`` pairs, summarised in the message.
    note : str
        Text put right after the split name, e.g. ``" (test fold 5)"``.

    Returns
    -------
    None

    Raises
    ------
    ValueError
        ``train`` or ``test`` is empty.

    Example
    -------
    >>> require_splits({"train": [["a"]], "test": []}, "X in /d", [])
    Traceback (most recent call last):
    ...
    ValueError: X in /d: no usable clip for the test set; no file was skipped
    """
    for split in ("train", "test"):
        if not splits[split]:
            raise ValueError(
                f"{what}: no usable clip for the {split} set{note}; "
                f"{skip_summary(skipped)}"
            )


def commit_outputs(outputs, tables, classes, skipped, options):
    """Write all outputs to temporary files, then move them into place.

    A failure while writing leaves the previous outputs untouched. The
    options file is removed before and rewritten after the moves, so an
    interruption between them makes the next call redo the work.

    Arguments
    ---------
    outputs : dict
        Output paths, from :func:`output_paths`.
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
    >>> outputs = output_paths(getfixture("tmpdir").strpath)
    >>> table = (["ID", "duration", "wav", "labels"], [["a", 1.0, "/a.wav", "dog"]])
    >>> commit_outputs(outputs, {outputs["train"]: table}, ["dog"], [], {})
    >>> open(outputs["train"]).read()
    'ID,duration,wav,labels\\na,1.0,/a.wav,dog\\n'
    """
    os.makedirs(os.path.dirname(outputs["options"]), exist_ok=True)
    with contextlib.ExitStack() as stack:
        for path, (header, rows) in tables.items():
            file = stack.enter_context(atomic_write(path, newline=""))
            writer = csv.writer(file, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        file = stack.enter_context(atomic_write(outputs["classes"]))
        file.writelines(f"{name}\n" for name in classes)
        if skipped:
            file = stack.enter_context(atomic_write(outputs["skipped"]))
            for where, reason in skipped:
                file.write(f"{one_line(where)}\t{one_line(reason)}\n")
        # Everything is written; the moves happen when the stack closes.
        if os.path.exists(outputs["options"]):
            os.remove(outputs["options"])
    if not skipped and os.path.exists(outputs["skipped"]):
        os.remove(outputs["skipped"])
    with atomic_write(outputs["options"]) as file:
        json.dump(options, file, indent=2, sort_keys=True)


def finish_prepare(
    dataset,
    outputs,
    splits,
    classes,
    skipped,
    options,
    header=MANIFEST_FIELDS,
    extra_tables=None,
    **extra_counts,
):
    """Commit the outputs, log what was done and return the prepare result.

    Arguments
    ---------
    dataset : str
        Data set name for the log, e.g. ``"ESC-50"``.
    outputs : dict
        Output paths, from :func:`output_paths`.
    splits : dict
        ``{split: list of rows}`` for every split of :data:`SPLITS`.
    classes : list of str
        Lines of ``classes.txt``.
    skipped : list of tuple
        ``(path, reason)`` pairs.
    options : dict
        Saved to the options file.
    header : list of str
        Columns of the split manifests.
    extra_tables : dict, optional
        More CSV files, ``{csv path: (header, list of rows)}``, written after
        the manifests.
    **extra_counts : int
        More counts, e.g. ``resampled=3``.

    Returns
    -------
    dict
        :func:`prepare_result` with status "prepared" and ``counts``: rows
        per split, ``classes``, ``skipped`` and the extra counts.

    Example
    -------
    >>> outputs = output_paths(getfixture("tmpdir").strpath)
    >>> splits = {"train": [["a", 1.0, "/a.wav", "dog"]], "valid": [], "test": []}
    >>> result = finish_prepare("X", outputs, splits, ["dog"], [], {})
    >>> result["status"], result["counts"]
    ('prepared', {'train': 1, 'valid': 0, 'test': 0, 'classes': 1, 'skipped': 0})
    """
    tables = {outputs[split]: (header, splits[split]) for split in SPLITS}
    tables.update(extra_tables or {})
    commit_outputs(outputs, tables, classes, skipped, options)
    if skipped:
        logger.warning(
            "%s: skipped %d item(s), see %s", dataset, len(skipped), outputs["skipped"]
        )
    counts = {split: len(splits[split]) for split in SPLITS}
    counts.update(classes=len(classes), skipped=len(skipped), **extra_counts)
    save_folder = os.path.dirname(outputs["options"])
    logger.info("%s manifests written to %s: %s", dataset, save_folder, counts)
    return prepare_result("prepared", outputs, counts)


def one_line(text):
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
    >>> one_line("a\\tb\\nc")
    'a b c'
    """
    return " ".join(str(text).split())
