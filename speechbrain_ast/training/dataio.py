"""The pieces of a recipe's ``dataio_prep`` that every AST recipe shares.

Every prepare script writes CSV manifests with columns ``ID, duration, wav,
labels`` (class names joined with ``;``) and a ``classes.txt``. A recipe's
``dataio_prep`` builds SpeechBrain ``DynamicItemDataset`` objects from them
with an audio pipeline (:func:`load_training_clip`) and a label pipeline
(:func:`targets_from_labels`: one-hot or multi-hot float vectors), after
:func:`check_manifest_labels` has checked every label.

Authors
 * speechbrain-ast contributors 2026
"""

import csv

import torch

from speechbrain_ast.audio import MIN_SAMPLES, AudioError, load_audio

LABEL_SEPARATOR = ";"


def read_classes(path):
    """Read ``classes.txt`` (one class name per line, in output order).

    Arguments
    ---------
    path : str
        File written by a prepare script.

    Returns
    -------
    list of str
        Class names.

    Example
    -------
    >>> path = getfixture("tmpdir").join("classes.txt")
    >>> _ = path.write("dog\\nrooster\\n")
    >>> read_classes(path.strpath)
    ['dog', 'rooster']
    """
    with open(path, encoding="utf-8") as handle:
        classes = [line.rstrip("\n") for line in handle if line.strip()]
    if len(set(classes)) != len(classes):
        raise ValueError(f"{path}: duplicate class names")
    return classes


def targets_from_labels(labels, class_index, item_id="?"):
    """Multi-hot float vector for ``;``-joined class names.

    Arguments
    ---------
    labels : str
        Class names joined with ``;``.
    class_index : dict
        Class name -> output index.
    item_id : str
        Item id, for the error message.

    Returns
    -------
    torch.Tensor
        ``[n_classes]`` float vector.

    Example
    -------
    >>> targets_from_labels("b;a", {"a": 0, "b": 1, "c": 2})
    tensor([1., 1., 0.])
    """
    target = torch.zeros(len(class_index))
    names = [name for name in labels.split(LABEL_SEPARATOR) if name]
    if not names:
        raise ValueError(f"item {item_id}: no label")
    for name in names:
        if name not in class_index:
            raise ValueError(
                f"item {item_id}: label {name!r} is not one of the "
                f"{len(class_index)} classes"
            )
        target[class_index[name]] = 1.0
    return target


def load_training_clip(path, sample_rate=16000):
    """Read one manifest clip for training or evaluation (mono, ``sample_rate``).

    Arguments
    ---------
    path : str
        Audio file of a manifest row.
    sample_rate : int
        Rate of the model's features; other rates are resampled.

    Returns
    -------
    torch.Tensor
        Waveform ``[samples]``.

    Raises
    ------
    AudioError
        The file is unreadable, or shorter than one 25 ms analysis window
        (the message names the file).

    Example
    -------
    >>> import soundfile, numpy
    >>> path = getfixture("tmpdir").join("a.wav").strpath
    >>> soundfile.write(path, numpy.zeros(100), 16000)
    >>> load_training_clip(path)
    Traceback (most recent call last):
    ...
    speechbrain_ast.audio.AudioError: ...a.wav: shorter than one 25 ms analysis window
    """
    signal = load_audio(path, sample_rate)
    if len(signal) < MIN_SAMPLES * sample_rate // 16000:
        raise AudioError(f"{path}: shorter than one 25 ms analysis window")
    return signal


def check_manifest_labels(csv_path, class_index):
    """Fail before training when a manifest row has no or an unknown label.

    Arguments
    ---------
    csv_path : str
        Manifest with ``ID`` and ``labels`` columns.
    class_index : dict
        Class name -> output index (from ``classes.txt``).

    Raises
    ------
    ValueError
        Naming the manifest, the item and the label.

    Example
    -------
    >>> path = getfixture("tmpdir").join("m.csv")
    >>> _ = path.write("ID,duration,wav,labels\\nx,1.0,a.wav,bird\\n")
    >>> check_manifest_labels(path.strpath, {"dog": 0})
    Traceback (most recent call last):
    ...
    ValueError: ...m.csv: item x: label 'bird' is not one of the 1 classes
    """
    with open(csv_path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                targets_from_labels(row["labels"], class_index, row["ID"])
            except ValueError as error:
                raise ValueError(f"{csv_path}: {error}") from None
