"""The log-mel + logistic-regression baseline every accuracy stands beside.

Every clip becomes the mean and the standard deviation over time of its
128-bin Kaldi fbank (the AST input features, cut to the same number of
frames as the model sees), 256 numbers; a ``StandardScaler`` and a
``LogisticRegression`` are fitted on the training manifest. The inverse
regularisation ``C`` is chosen on the validation manifest; the test manifest
is scored once, with the chosen ``C``. Multi-label manifests (labels joined
with ``;``) get one-vs-rest regression and mAP. The custom-data recipe runs it
on its own split at the end of every run (``summary.md``);
``benchmarks/baseline_logmel.py`` runs it on any recipe's split.

Authors
 * speechbrain-ast contributors 2026
"""

import csv
import os

import numpy as np
import torch

from speechbrain_ast.features import KaldiFbank
from speechbrain_ast.training.dataio import (
    LABEL_SEPARATOR,
    load_training_clip,
    read_classes,
)

__all__ = ["C_GRID", "clip_features", "run_baseline"]

C_GRID = (0.01, 0.1, 1.0, 10.0)


def clip_features(wav_paths, n_frames, sample_rate=16000):
    """Mean and std over time of the 128-bin fbank of each clip.

    Arguments
    ---------
    wav_paths : list of str
        Audio files.
    n_frames : int or None
        Frames kept from the start of each clip (as the model), None for all.
    sample_rate : int
        Feature sample rate.

    Returns
    -------
    numpy.ndarray
        ``[n_clips, 256]``.

    Example
    -------
    >>> import soundfile
    >>> path = getfixture("tmpdir").join("a.wav").strpath
    >>> soundfile.write(path, np.random.randn(16000) * 0.1, 16000)
    >>> clip_features([path], n_frames=50).shape
    (1, 256)
    """
    fbank = KaldiFbank(sample_rate=sample_rate)
    rows = []
    with torch.no_grad():
        for path in wav_paths:
            feats = fbank(load_training_clip(path, sample_rate).unsqueeze(0))[0]
            if n_frames is not None:
                feats = feats[:n_frames]
            rows.append(torch.cat([feats.mean(0), feats.std(0)]).numpy())
    return np.stack(rows)


def read_split(save_folder, split, class_index):
    """Paths and multi-hot targets of one manifest."""
    paths, targets = [], []
    with open(
        os.path.join(save_folder, f"{split}.csv"), newline="", encoding="utf-8"
    ) as handle:
        for row in csv.DictReader(handle):
            paths.append(row["wav"])
            target = np.zeros(len(class_index))
            for name in row["labels"].split(LABEL_SEPARATOR):
                target[class_index[name]] = 1.0
            targets.append(target)
    return paths, np.array(targets)


def score(model, features, targets, multi_label):
    """Accuracy (single-label) or mAP (multi-label) of a fitted model."""
    from sklearn.metrics import average_precision_score

    if multi_label:
        probabilities = np.stack(
            [est.predict_proba(features)[:, 1] for est in model.estimators_], 1
        )
        present = targets.sum(0) > 0
        return float(
            average_precision_score(
                targets[:, present], probabilities[:, present], average="macro"
            )
        )
    return float((model.predict(features) == targets.argmax(1)).mean())


def run_baseline(save_folder, n_frames=None, seed=0):
    """Fit on train, choose C on valid, score test once.

    Arguments
    ---------
    save_folder : str
        Folder with the recipe's manifests and ``classes.txt``.
    n_frames : int, optional
        Frames per clip, as the model's input (None: the whole clip).
    seed : int
        Seed of the solver.

    Returns
    -------
    dict
        Metric name, chosen ``C``, validation and test scores, clip counts,
        and ``test_predictions`` (single-label: the predicted class of each
        test clip, ``file`` and ``predicted``; None for multi-label).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classes = read_classes(os.path.join(save_folder, "classes.txt"))
    class_index = {name: index for index, name in enumerate(classes)}
    data, split_paths = {}, {}
    for split in ("train", "valid", "test"):
        split_paths[split], targets = read_split(save_folder, split, class_index)
        data[split] = (clip_features(split_paths[split], n_frames), targets)
    multi_label = bool((data["train"][1].sum(1) > 1).any())
    results = {}
    for c in C_GRID:
        regression = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        head = OneVsRestClassifier(regression) if multi_label else regression
        labels = data["train"][1] if multi_label else data["train"][1].argmax(1)
        model = make_pipeline(StandardScaler(), head).fit(data["train"][0], labels)
        results[c] = (
            score(
                model[-1],
                model[0].transform(data["valid"][0]),
                data["valid"][1],
                multi_label,
            ),
            model,
        )
    best_c = max(C_GRID, key=lambda c: (results[c][0], -c))
    valid_score, model = results[best_c]
    test_score, test_predictions = None, None
    if len(data["test"][0]):
        test_features = model[0].transform(data["test"][0])
        test_score = score(model[-1], test_features, data["test"][1], multi_label)
        if not multi_label:
            # per clip, so that a model can be compared with it clip by clip
            # (benchmarks/paired_accuracy.py)
            test_predictions = [
                {"file": path, "predicted": classes[index]}
                for path, index in zip(
                    split_paths["test"], model[-1].predict(test_features)
                )
            ]
    return {
        "metric": "mAP" if multi_label else "accuracy",
        "C": best_c,
        "valid": valid_score,
        "test": test_score,
        "clips": {split: len(data[split][0]) for split in data},
        "n_frames": n_frames,
        "test_predictions": test_predictions,
    }
