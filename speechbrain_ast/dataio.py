"""Datasets for the AST recipes: manifests -> SpeechBrain ``DynamicItemDataset``.

Every prepare script writes CSV manifests with columns ``ID, duration, wav,
labels`` (class names joined with ``;``) and a ``classes.txt``. This module
turns them into datasets that yield ``sig`` (the mono waveform at the model's
sample rate) and ``targets`` (one-hot or multi-hot float vector).

Authors
 * speechbrain-ast contributors 2026
"""

import torch
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.data_pipeline import provides, takes

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


def build_datasets(manifests, classes, sample_rate=16000):
    """Build one ``DynamicItemDataset`` per manifest, yielding sig and targets.

    Labels are checked when the datasets are built, so an unknown label fails
    before training starts; unreadable audio raises an ``AudioError`` naming
    the file when it is loaded.

    Arguments
    ---------
    manifests : dict
        Split name -> CSV manifest path.
    classes : list of str
        Class names in output order.
    sample_rate : int
        Waveforms are resampled to this rate when needed.

    Returns
    -------
    dict
        Split name -> ``DynamicItemDataset`` with output keys
        ``id, sig, targets``.

    Example
    -------
    >>> import soundfile, numpy
    >>> tmp = getfixture("tmpdir")
    >>> wav = tmp.join("a.wav").strpath
    >>> soundfile.write(wav, numpy.zeros(16000), 16000)
    >>> _ = tmp.join("m.csv").write(f"ID,duration,wav,labels\\nx,1.0,{wav},dog\\n")
    >>> sets = build_datasets({"train": tmp.join("m.csv").strpath}, ["cat", "dog"])
    >>> item = sets["train"][0]
    >>> item["sig"].shape, item["targets"].tolist()
    (torch.Size([16000]), [0.0, 1.0])
    """
    class_index = {name: index for index, name in enumerate(classes)}

    @takes("wav")
    @provides("sig")
    def audio_pipeline(wav):
        signal = load_audio(wav, sample_rate)
        if len(signal) < MIN_SAMPLES * sample_rate // 16000:
            raise AudioError(f"{wav}: shorter than one 25 ms analysis window")
        return signal

    @takes("id", "labels")
    @provides("targets")
    def label_pipeline(item_id, labels):
        return targets_from_labels(labels, class_index, item_id)

    datasets = {}
    for split, path in manifests.items():
        dataset = DynamicItemDataset.from_csv(
            csv_path=path,
            dynamic_items=[audio_pipeline, label_pipeline],
            output_keys=["id", "sig", "targets"],
        )
        with dataset.output_keys_as(["id", "labels"]):
            for item in dataset:
                targets_from_labels(item["labels"], class_index, item["id"])
        datasets[split] = dataset
    return datasets
