"""Which files are audio: one extension rule, folder walks and manifests.

Every part of speechbrain-ast that looks for sound files uses the rule
here: ``speechbrain-ast stats`` and ``train``, the custom-data and SSL
recipes (``training.clip_checks``) and the prepare scripts of ESC-50, Speech
Commands and AudioSet. A file is audio when its extension is one that
libsndfile (the reader behind ``speechbrain_ast.audio.load_audio``) knows,
and it is not hidden: hidden names are temporary files
(``speechbrain_ast.files.atomic_write``) or system clutter.

``AUDIO_EXTENSIONS`` is in order of preference: where a dataset holds one
clip in several formats (a FLAC copy beside the WAV), prepare scripts take
the first.

Authors
 * speechbrain-ast contributors 2026
"""

import csv
import json
import os

import soundfile

# Lossless first, then the common compressed formats.
PREFERRED_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
# Every format libsndfile reads, plus the extensions it knows by another name.
AUDIO_EXTENSIONS = PREFERRED_EXTENSIONS + tuple(
    sorted(
        (
            {f".{name.lower()}" for name in soundfile.available_formats()}
            | {".aif", ".oga", ".opus"}
        )
        - set(PREFERRED_EXTENSIONS)
    )
)
# Manifest columns (or JSON keys) that may hold the audio path, tried in order.
PATH_COLUMNS = ("wav", "path", "file", "filename", "audio", "filepath")


def is_audio_file(path):
    """Whether ``path`` names an audio file (by extension; hidden names are not).

    Arguments
    ---------
    path : str
        A file name or path.

    Returns
    -------
    bool
        True for a visible file with one of ``AUDIO_EXTENSIONS``.

    Example
    -------
    >>> is_audio_file("dog/bark.WAV"), is_audio_file("notes.txt")
    (True, False)
    >>> is_audio_file(".bark.wav.123.tmp"), is_audio_file(".bark.wav")
    (False, False)
    """
    name = os.path.basename(os.fspath(path))
    return not name.startswith(".") and name.lower().endswith(AUDIO_EXTENSIONS)


def audio_files(folder, skipped=None):
    """Yield the audio files under ``folder``, recursively, in sorted walk order.

    Hidden files and folders are ignored; other files that are not audio (by
    extension) are appended to ``skipped`` when the walk reaches them.

    Arguments
    ---------
    folder : str
        The folder to search.
    skipped : list, optional
        ``(path, reason)`` pairs are appended (default: not recorded).

    Yields
    ------
    str
        Path of each audio file.

    Example
    -------
    >>> root = getfixture("tmpdir")
    >>> _ = root.ensure("a", "x.wav"); _ = root.ensure("notes.txt")
    >>> _ = root.ensure(".cache", "y.wav")
    >>> skipped = []
    >>> [os.path.basename(path) for path in audio_files(root.strpath, skipped)]
    ['x.wav']
    >>> [reason for _, reason in skipped]
    ['not an audio file (extension .txt)']
    """
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = os.path.join(root, name)
            if is_audio_file(name):
                yield path
            elif skipped is not None:
                extension = os.path.splitext(name)[1].lower()
                skipped.append(
                    (path, f"not an audio file (extension {extension or 'none'})")
                )


def list_audio_files(source, column=None, data_root=None):
    """List the audio files of a folder (recursively) or of a manifest.

    Arguments
    ---------
    source : str
        A folder, a CSV manifest (a path column such as ``wav``) or a
        SpeechBrain JSON manifest (``{id: {"wav": path, ...}}``).
    column : str, optional
        Manifest column/key holding the path (default: the first of
        ``PATH_COLUMNS`` present).
    data_root : str, optional
        Replaces ``$data_root`` / ``{data_root}`` in manifest paths
        (default: the manifest's folder). Relative paths are taken relative
        to the manifest's folder.

    Returns
    -------
    list of str
        Audio file paths (sorted for a folder, in manifest order otherwise).

    Raises
    ------
    FileNotFoundError
        ``source`` does not exist.
    ValueError
        A manifest that cannot be read, has no rows or no path column.

    Example
    -------
    >>> tmpdir = getfixture("tmpdir")
    >>> _ = tmpdir.join("a.wav").write("x"), tmpdir.join("notes.txt").write("x")
    >>> [os.path.basename(p) for p in list_audio_files(tmpdir.strpath)]
    ['a.wav']
    >>> manifest = tmpdir.join("train.csv")
    >>> _ = manifest.write("ID,wav\\n1,$data_root/a.wav\\n")
    >>> list_audio_files(manifest.strpath) == [tmpdir.join("a.wav").strpath]
    True
    """
    if os.path.isdir(source):
        return list(audio_files(source))
    if not os.path.isfile(source):
        raise FileNotFoundError(f"{source}: not found")
    base = os.path.dirname(os.path.abspath(source))
    root = base if data_root is None else data_root
    try:
        if source.lower().endswith(".json"):
            with open(source, encoding="utf-8") as handle:
                rows = list(json.load(handle).values())
        else:
            with open(source, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
    except (ValueError, AttributeError, csv.Error, UnicodeDecodeError) as error:
        raise ValueError(f"{source}: not a CSV/JSON manifest ({error})") from None
    if not rows:
        raise ValueError(f"{source}: manifest has no rows")
    keys = rows[0].keys() if isinstance(rows[0], dict) else ()
    key = column or next((name for name in PATH_COLUMNS if name in keys), None)
    if key is None or key not in keys:
        raise ValueError(
            f"{source}: no audio path column (looked for {column or PATH_COLUMNS})"
        )
    paths = []
    for row in rows:
        path = str(row[key]).replace("$data_root", root).replace("{data_root}", root)
        paths.append(path if os.path.isabs(path) else os.path.join(base, path))
    return paths
