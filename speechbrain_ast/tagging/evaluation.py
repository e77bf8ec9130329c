"""How well a tagger does on labelled data: clip scores and event scores.

``clip_scores`` compares a tagger's clip-level scores with the true labels:

* single-label models (softmax): accuracy of the top label, the chance
  level (the majority class's share of this data, and ``1 / n_classes``), a
  confusion matrix of counts (rows: true class, columns: predicted);
* multi-label models (sigmoid): mAP (``training.metrics.TaggingStats``, the
  same number the recipes report), and as chance level the mean label
  prevalence, which is the expected AP of scores that ignore the audio;
* both: per-class precision, recall and F1 (multi-label: of the decisions
  ``score >= threshold``; AP too), and their macro average.

The metrics are scikit-learn's. ``event_scores`` compares detected events
with a DCASE reference event list: event-based and segment-based F1 of
``speechbrain_ast.tagging.event_metrics``, and PSDS when ``sed_scores_eval``
is installed (``psds_scores``).

Authors
 * speechbrain-ast contributors 2026
"""

import collections
import math
import os

import numpy as np
import torch
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from speechbrain_ast.tagging.event_metrics import (
    event_based_scores,
    segment_based_scores,
)
from speechbrain_ast.training.metrics import TaggingStats

__all__ = ["clip_scores", "event_scores", "psds_scores", "recordings_of_reference"]


def clip_scores(true_labels, scores, labels, multi_label, threshold=0.5):
    """Accuracy or mAP, chance level and per-class scores of clip predictions.

    Arguments
    ---------
    true_labels : list of list of str
        The true labels of each clip (one each for a single-label model).
    scores : torch.Tensor or numpy.ndarray
        The tagger's clip scores ``[N, C]``, columns in ``labels`` order.
    labels : list of str
        The model's class names.
    multi_label : bool
        Score as multi-label tagging (mAP) or single-label classification.
    threshold : float
        Multi-label only: a class is predicted from this score on (for
        precision, recall and F1).

    Returns
    -------
    dict
        ``task``, ``n_clips``, ``n_classes``, ``per_class`` (one dict per
        class that is true or predicted somewhere: ``label``, ``precision``,
        ``recall``, ``f1``, ``support``, and ``AP`` for multi-label),
        ``macro_f1``; single-label: ``accuracy``, ``n_correct``, ``chance``
        (``majority_class``, ``majority_rate``, ``uniform``) and
        ``confusion`` (``labels``, ``matrix``); multi-label: ``mAP``,
        ``chance_mAP``, ``n_classes_scored``, ``n_classes_excluded``,
        ``threshold``.

    Raises
    ------
    ValueError
        A true label that is not one of ``labels``, several labels on a
        clip for a single-label model, or no clips.

    Example
    -------
    >>> scores = torch.tensor([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1]])
    >>> result = clip_scores([["a"], ["b"], ["b"]], scores, ["a", "b", "c"], False)
    >>> result["accuracy"], result["chance"]["majority_class"], result["confusion"]
    (0.6666666666666666, 'b', {'labels': ['a', 'b'], 'matrix': [[1, 0], [1, 1]]})
    >>> tagged = clip_scores([["a", "b"], ["b"], ["c"]], scores, ["a", "b", "c"], True)
    >>> round(tagged["mAP"], 4), round(tagged["chance_mAP"], 4)  # prevalence 1/3, 2/3, 1/3
    (0.6389, 0.4444)
    """
    scores = torch.as_tensor(scores, dtype=torch.float64).cpu().numpy()
    if len(true_labels) == 0:
        raise ValueError("no clips to score")
    if scores.shape != (len(true_labels), len(labels)):
        raise ValueError(
            f"need scores [{len(true_labels)}, {len(labels)}], got {list(scores.shape)}"
        )
    index = {label: column for column, label in enumerate(labels)}
    unknown = sorted({name for names in true_labels for name in names} - set(index))
    if unknown:
        raise ValueError(f"labels the model does not know: {', '.join(unknown)}")
    result = {
        "task": "multi-label" if multi_label else "single-label",
        "n_clips": len(true_labels),
        "n_classes": len(labels),
    }
    if multi_label:
        result.update(_multi_label_scores(true_labels, scores, labels, threshold))
    else:
        result.update(_single_label_scores(true_labels, scores, labels))
    return result


def _single_label_scores(true_labels, scores, labels):
    """Accuracy, chance, per class and confusion of a softmax model."""
    several = [names for names in true_labels if len(names) != 1]
    if several:
        raise ValueError(
            f"a single-label model scores clips with one label each; a clip has "
            f"{len(several[0])} ({', '.join(several[0]) or 'none'})"
        )
    index = {label: column for column, label in enumerate(labels)}
    y_true = np.array([index[names[0]] for names in true_labels])
    y_pred = scores.argmax(axis=1)
    present = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=present, zero_division=0
    )
    counts = collections.Counter(y_true.tolist())
    majority, n_majority = min(counts.items(), key=lambda item: (-item[1], item[0]))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "n_correct": int((y_true == y_pred).sum()),
        "chance": {
            "majority_class": labels[majority],
            "majority_rate": n_majority / len(y_true),
            "uniform": 1.0 / len(labels),
        },
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        ),
        "per_class": _per_class_rows(
            [labels[column] for column in present], precision, recall, f1, support
        ),
        "confusion": {
            "labels": [labels[column] for column in present],
            "matrix": confusion_matrix(y_true, y_pred, labels=present).tolist(),
        },
    }


def _multi_label_scores(true_labels, scores, labels, threshold):
    """mAP, chance mAP and per-class scores of a sigmoid model."""
    index = {label: column for column, label in enumerate(labels)}
    targets = np.zeros(scores.shape, dtype=np.int64)
    for row, names in enumerate(true_labels):
        targets[row, [index[name] for name in names]] = 1
    stats = TaggingStats(len(labels))
    stats.append(
        list(range(len(true_labels))),
        torch.from_numpy(scores),
        torch.from_numpy(targets).float(),
    )
    summary = stats.summarize()
    ap = [row["AP"] for row in stats.per_class(labels)]
    predicted = (scores >= threshold).astype(np.int64)
    present = np.flatnonzero(targets.sum(axis=0) + predicted.sum(axis=0))
    precision, recall, f1, support = precision_recall_fscore_support(
        targets[:, present], predicted[:, present], zero_division=0
    )
    prevalence = targets.mean(axis=0)
    # Classes TaggingStats scores: some positive and some negative clip.
    scored = [not math.isnan(value) for value in ap]
    rows = _per_class_rows(
        [labels[column] for column in present], precision, recall, f1, support
    )
    for row, column in zip(rows, present):
        row["AP"] = ap[column]
    return {
        "mAP": summary["mAP"],
        "chance_mAP": float(prevalence[scored].mean()) if any(scored) else math.nan,
        "n_classes_scored": summary["n_classes_scored"],
        "n_classes_excluded": summary["n_classes_excluded"],
        "threshold": threshold,
        "macro_f1": float(
            f1_score(
                targets[:, present],
                predicted[:, present],
                average="macro",
                zero_division=0,
            )
        )
        if len(present)
        else 0.0,
        "per_class": rows,
    }


def _per_class_rows(names, precision, recall, f1, support):
    """One dict per class from scikit-learn's per-class arrays."""
    return [
        {
            "label": name,
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(s),
        }
        for name, p, r, f, s in zip(names, precision, recall, f1, support)
    ]


def recordings_of_reference(reference, paths):
    """The audio file of each recording a reference event list names.

    DCASE lists name recordings by file name (sometimes with a folder), so
    a recording is the audio file with the same base name.

    Arguments
    ---------
    reference : dict or list
        ``{filename: [Event, ...]}`` (or just the file names).
    paths : list of str
        Audio files, e.g. ``audio_files.list_audio_files(folder)``.

    Returns
    -------
    found : dict
        ``{file name: path}`` of the recordings present, sorted by name.
    missing : list of str
        File names of the reference with no audio file.
    unlisted : list of str
        File names of audio files the reference does not name.

    Raises
    ------
    ValueError
        Several audio files with the file name of one recording.

    Example
    -------
    >>> recordings_of_reference({"audio/a.wav": [], "b.wav": []},
    ...                         ["x/a.wav", "x/c.wav"])
    ({'a.wav': 'x/a.wav'}, ['b.wav'], ['c.wav'])
    """
    by_name = collections.defaultdict(list)
    for path in paths:
        by_name[os.path.basename(path)].append(path)
    wanted = sorted({os.path.basename(name) for name in reference})
    for name in wanted:
        if len(by_name.get(name, [])) > 1:
            raise ValueError(
                f"{len(by_name[name])} audio files are named {name} "
                f"({', '.join(by_name[name][:3])})"
            )
    found = {name: by_name[name][0] for name in wanted if name in by_name}
    missing = [name for name in wanted if name not in by_name]
    unlisted = sorted(set(by_name) - set(wanted))
    return found, missing, unlisted


def event_scores(
    reference,
    detections,
    t_collar=0.2,
    percentage_of_length=0.2,
    time_resolution=1.0,
):
    """Event-based and segment-based scores of detections against a reference.

    Arguments
    ---------
    reference : dict
        ``{filename: [Event, ...]}``, e.g. from ``events.read_event_list``.
    detections : list of EventDetection
        The detected events of each recording (``detect_events`` or
        ``events_from_tagging``); their durations bound the segments.
    t_collar : float
        Onset collar in seconds (DCASE: 0.2).
    percentage_of_length : float
        Offset collar as a share of the reference event's length (DCASE:
        0.2; at least ``t_collar``).
    time_resolution : float
        Segment length in seconds.

    Returns
    -------
    dict
        ``event_based`` and ``segment_based``, the results of
        ``event_based_scores`` and ``segment_based_scores``.

    Example
    -------
    >>> from speechbrain_ast.tagging.events import Event, EventDetection
    >>> found = EventDetection("rec/a.wav", 4.0, [Event("dog", 1.1, 2.0, 0.9)],
    ...                        torch.zeros(1), torch.zeros(1, 1), ["dog"])
    >>> scores = event_scores({"a.wav": [Event("dog", 1.0, 2.0)]}, [found])
    >>> scores["event_based"]["f1"], scores["segment_based"]["n_segments"]
    (1.0, 4)
    """
    estimated = {detection.path: detection.events for detection in detections}
    durations = {detection.path: detection.duration for detection in detections}
    return {
        "event_based": event_based_scores(
            reference,
            estimated,
            t_collar=t_collar,
            percentage_of_length=percentage_of_length,
        ),
        "segment_based": segment_based_scores(
            reference, estimated, time_resolution, durations
        ),
    }


def psds_scores(reference, detections, settings=None):
    """PSDS 1 and 2 of the DCASE 2021-2023 task 4 (needs ``sed_scores_eval``).

    The frame scores of each detection (``frame_times``, ``frame_scores``)
    are the score input; every threshold is scanned, so PSDS does not
    depend on the detection threshold. Only the classes of the reference
    are scored: a class without reference events has no true positive
    rate, which PSDS averages over classes.

    Arguments
    ---------
    reference : dict
        ``{filename: [Event, ...]}`` true events (matched by file name).
    detections : list of EventDetection
        Detections with their frame scores.
    settings : dict, optional
        ``{name: {dtc_threshold, gtc_threshold, cttc_threshold, alpha_ct,
        alpha_st, max_efpr}}`` (default: PSDS1 and PSDS2 of DCASE task 4).

    Returns
    -------
    dict
        ``{name: psds}``.

    Raises
    ------
    ImportError
        ``sed_scores_eval`` is not installed.
    """
    from sed_scores_eval import intersection_based
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    settings = settings or {
        "psds1": {
            "dtc_threshold": 0.7,
            "gtc_threshold": 0.7,
            "cttc_threshold": None,
            "alpha_ct": 0.0,
            "alpha_st": 1.0,
            "max_efpr": 100.0,
        },
        "psds2": {
            "dtc_threshold": 0.1,
            "gtc_threshold": 0.1,
            "cttc_threshold": 0.3,
            "alpha_ct": 0.5,
            "alpha_st": 1.0,
            "max_efpr": 100.0,
        },
    }
    classes = sorted({event.label for events in reference.values() for event in events})
    scores, durations = {}, {}
    for detection in detections:
        name = os.path.basename(os.fspath(detection.path))
        times = detection.frame_times.double().numpy()
        edges = np.append(times, max(detection.duration, times[-1]))
        columns = [detection.labels.index(label) for label in classes]
        scores[name] = create_score_dataframe(
            detection.frame_scores[:, columns].double().numpy(),
            timestamps=edges,
            event_classes=classes,
        )
        durations[name] = detection.duration
    ground_truth = {
        os.path.basename(filename): [
            (event.onset, event.offset, event.label) for event in events
        ]
        for filename, events in reference.items()
        if os.path.basename(filename) in scores
    }
    return {
        name: float(
            intersection_based.psds(
                scores={key: scores[key] for key in ground_truth},
                ground_truth=ground_truth,
                audio_durations={key: durations[key] for key in ground_truth},
                unit_of_time="hour",
                **options,
            )[0]
        )
        for name, options in settings.items()
    }
