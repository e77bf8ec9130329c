"""Clip-level tagging/classification metrics of the official AST evaluation.

``TaggingStats`` is a SpeechBrain ``MetricStats`` that stores the scores and
the one-hot/multi-hot targets of every evaluated clip and summarises them as
the official ``utilities/stats.py`` does: per-class average precision and
ROC AUC (scikit-learn), their means (mAP, mAUC), ``d' = sqrt(2) * Phi^-1(mAUC)``
and the overall accuracy of argmax(target) vs argmax(score). Classes with no
positive (or no negative) clip in the evaluated data have no AP/AUC; they are
left out of the means and counted (``n_classes_scored``), whereas the official
code would crash or average sklearn's warnings.

Authors
 * speechbrain-ast contributors 2026
"""

import csv
import math
import os

import numpy as np
import torch
from scipy.stats import norm
from sklearn.metrics import average_precision_score, roc_auc_score
from speechbrain.utils.metric_stats import MetricStats

__all__ = ["TaggingStats", "d_prime"]


def d_prime(auc):
    """Sensitivity index ``d' = sqrt(2) * Phi^-1(auc)`` (official AST formula).

    Arguments
    ---------
    auc : float
        Area under the ROC curve.

    Returns
    -------
    float
        ``d'`` (``inf`` for an AUC of 1, NaN for NaN).

    Example
    -------
    >>> round(d_prime(0.9), 4)
    1.8124
    >>> d_prime(0.5)
    0.0
    """
    return float(math.sqrt(2.0) * norm.ppf(auc))


class TaggingStats(MetricStats):
    """Accumulate clip scores and targets; summarise mAP, mAUC, d', accuracy.

    Works for multi-label tagging (AudioSet: multi-hot targets, sigmoid or
    logit scores) and single-label classification (ESC-50, Speech Commands:
    one-hot or index targets). AP and AUC depend only on the ranking of each
    class's scores, so logits, sigmoid or softmax scores give the same values
    (accuracy too). Targets are binarised at 0.5 for AP/AUC.

    Arguments
    ---------
    n_classes : int, optional
        Expected number of classes (checked on append; needed to one-hot
        encode integer targets when no scores have been seen yet).

    Example
    -------
    >>> stats = TaggingStats()
    >>> scores = torch.tensor([[0.9, 0.1, 0.3], [0.2, 0.8, 0.6], [0.7, 0.4, 0.1]])
    >>> targets = torch.tensor([[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    >>> stats.append(["a", "b", "c"], scores, targets)
    >>> summary = stats.summarize()
    >>> summary["mAP"], summary["accuracy"], summary["n_classes_scored"]
    (0.9444444444444443, 0.6666666666666666, 3)
    >>> round(stats.summarize("mAUC"), 4)
    0.8333
    """

    def __init__(self, n_classes=None):
        self.n_classes = n_classes
        self.clear()

    def clear(self):
        """Remove all stored clips and the cached summary."""
        self.ids = []
        self.scores = []
        self.targets = []
        self.summary = {}
        self._cache = None

    def append(self, ids, scores, targets):
        """Store a batch of clips.

        Arguments
        ---------
        ids : list
            Clip ids (length B).
        scores : torch.Tensor
            Scores ``[B, C]`` (or ``[B, 1, C]``, SpeechBrain's classifier
            output shape).
        targets : torch.Tensor
            One-hot/multi-hot targets ``[B, C]`` (or ``[B, 1, C]``), or class
            indices ``[B]`` / ``[B, 1]`` (integer dtype).
        """
        scores = _as_matrix(scores).detach().float().cpu()
        n_classes = scores.shape[1]
        if self.n_classes is not None and n_classes != self.n_classes:
            raise ValueError(f"expected {self.n_classes} classes, got {n_classes}")
        targets = targets.detach()
        is_index = targets.ndim == 1 or (
            targets.ndim == 2 and targets.shape[1] == 1 and n_classes != 1
        )
        if is_index and not targets.is_floating_point():
            targets = torch.nn.functional.one_hot(
                targets.reshape(-1).long().cpu(), n_classes
            )
        targets = _as_matrix(targets).float().cpu()
        if targets.shape != scores.shape:
            raise ValueError(
                f"scores {list(scores.shape)} and targets {list(targets.shape)} differ"
            )
        if len(ids) != scores.shape[0]:
            raise ValueError(f"{len(ids)} ids for a batch of {scores.shape[0]}")
        self.ids.extend(ids)
        self.scores.append(scores)
        self.targets.append(targets)
        self._cache = None

    def score_matrix(self):
        """All stored scores ``[N, C]`` (float32 CPU tensor), in append order."""
        if not self.scores:
            return torch.zeros(0, self.n_classes or 0)
        return torch.cat(self.scores)

    def target_matrix(self):
        """All stored targets ``[N, C]`` (float32 CPU tensor), in append order."""
        if not self.targets:
            return torch.zeros(0, self.n_classes or 0)
        return torch.cat(self.targets)

    def _per_class_arrays(self):
        """Per-class AP, AUC (NaN where undefined) and positive counts."""
        if self._cache is None:
            if not self.scores:
                raise ValueError("no clips appended")
            scores = self.score_matrix().double().numpy()
            positive = (self.target_matrix() > 0.5).numpy()
            n_pos = positive.sum(axis=0)
            scored = (n_pos > 0) & (n_pos < positive.shape[0])
            ap = np.full(positive.shape[1], np.nan)
            auc = np.full(positive.shape[1], np.nan)
            if scored.any():
                ap[scored] = average_precision_score(
                    positive[:, scored], scores[:, scored], average=None
                )
                auc[scored] = roc_auc_score(
                    positive[:, scored], scores[:, scored], average=None
                )
            self._cache = (ap, auc, n_pos, scored)
        return self._cache

    def summarize(self, field=None):
        """Compute the summary statistics.

        Arguments
        ---------
        field : str, optional
            Return only this statistic.

        Returns
        -------
        dict or float
            ``mAP``, ``mAUC``, ``d_prime``, ``accuracy`` (floats; NaN for the
            first three when no class is scorable), ``n_classes_scored``,
            ``n_classes_excluded`` and ``n_clips`` (ints); or the value of
            ``field``.
        """
        ap, auc, _, scored = self._per_class_arrays()
        scores, targets = self.score_matrix(), self.target_matrix()
        accuracy = (scores.argmax(dim=1) == targets.argmax(dim=1)).double().mean()
        m_ap = float(ap[scored].mean()) if scored.any() else float("nan")
        m_auc = float(auc[scored].mean()) if scored.any() else float("nan")
        self.summary = {
            "mAP": m_ap,
            "mAUC": m_auc,
            "d_prime": d_prime(m_auc),
            "accuracy": float(accuracy),
            "n_classes_scored": int(scored.sum()),
            "n_classes_excluded": int((~scored).sum()),
            "n_clips": int(scores.shape[0]),
        }
        if field is not None:
            return self.summary[field]
        return self.summary

    def per_class(self, label_names=None):
        """Per-class results.

        Arguments
        ---------
        label_names : list of str, optional
            Class names in index order (default: the indices as strings).

        Returns
        -------
        list of dict
            One ``{"label", "AP", "AUC", "n_positive"}`` per class, in class
            order; AP/AUC are NaN for classes excluded from the means.

        Example
        -------
        >>> stats = TaggingStats()
        >>> scores = torch.tensor([[0.9, 0.2], [0.6, 0.3], [0.1, 0.8]])
        >>> stats.append(["a", "b", "c"], scores, torch.tensor([0, 0, 0]))
        >>> stats.per_class(["dog", "cat"])
        [{'label': 'dog', 'AP': nan, 'AUC': nan, 'n_positive': 3}, {'label': 'cat', 'AP': nan, 'AUC': nan, 'n_positive': 0}]
        >>> stats.clear()
        >>> stats.append(["a", "b", "c"], scores, torch.tensor([0, 0, 1]))
        >>> stats.per_class(["dog", "cat"])[1]
        {'label': 'cat', 'AP': 1.0, 'AUC': 1.0, 'n_positive': 1}
        """
        ap, auc, n_pos, _ = self._per_class_arrays()
        if label_names is None:
            label_names = [str(i) for i in range(len(ap))]
        if len(label_names) != len(ap):
            raise ValueError(f"{len(label_names)} label names for {len(ap)} classes")
        return [
            {
                "label": name,
                "AP": float(ap[i]),
                "AUC": float(auc[i]),
                "n_positive": int(n_pos[i]),
            }
            for i, name in enumerate(label_names)
        ]

    def write_per_class_csv(self, path, label_names=None):
        """Write ``per_class(label_names)`` as a CSV (label,AP,AUC,n_positive).

        Arguments
        ---------
        path : str or os.PathLike
            Output file (parent folders are created).
        label_names : list of str, optional
            Class names in index order.

        Returns
        -------
        str
            The path written.
        """
        rows = self.per_class(label_names)
        folder = os.path.dirname(os.fspath(path))
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(
                handle, fieldnames=["label", "AP", "AUC", "n_positive"]
            )
            writer.writeheader()
            writer.writerows(rows)
        return os.fspath(path)

    def write_stats(self, filestream, verbose=False):
        """Write the summary to a text stream (SpeechBrain ``MetricStats`` API).

        Arguments
        ---------
        filestream : file-like
            Where to write.
        verbose : bool
            Also print the summary.
        """
        summary = self.summarize()
        message = "".join(f"{key}: {value}\n" for key, value in summary.items())
        filestream.write(message)
        if verbose:
            print(message)


def _as_matrix(tensor):
    """``[B, C]`` view of a ``[B, C]`` or ``[B, 1, C]`` tensor."""
    if tensor.ndim == 3 and tensor.shape[1] == 1:
        tensor = tensor.squeeze(1)
    if tensor.ndim != 2:
        raise ValueError(f"expected [batch, classes], got {list(tensor.shape)}")
    return tensor


def chance_level(targets, multi_label):
    """The score a model without information gets on these targets.

    Arguments
    ---------
    targets : torch.Tensor
        ``[N, C]`` one- or multi-hot targets of the scored set.
    multi_label : bool
        mAP (multi-label) or accuracy (single-label).

    Returns
    -------
    dict
        Single-label: ``majority`` (always answering the set's most frequent
        class) and ``uniform`` (1 / C). Multi-label: ``mAP``, the mean class
        prevalence over the classes present (the mAP of random scores).

    Example
    -------
    >>> chance_level(torch.eye(4)[[0, 0, 0, 1]], multi_label=False)
    {'majority': 0.75, 'uniform': 0.25}
    >>> chance_level(torch.tensor([[1.0, 0.0], [1.0, 1.0]]), multi_label=True)
    {'mAP': 0.75}
    """
    targets = targets.float()
    if len(targets) == 0:
        return {}
    if multi_label:
        prevalence = targets.mean(0)
        return {"mAP": round(float(prevalence[prevalence > 0].mean()), 6)}
    counts = targets.argmax(1).bincount(minlength=targets.shape[1])
    return {
        "majority": round(float(counts.max()) / len(targets), 6),
        "uniform": round(1.0 / targets.shape[1], 6),
    }
