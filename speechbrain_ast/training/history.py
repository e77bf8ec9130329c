"""The per-epoch record of a training run: ``results.csv`` and ensemble scores.

``RunHistory`` is a checkpoint recoverable declared in a recipe's YAML, so a
resumed run keeps the rows of its earlier epochs and the running
checkpoint-ensemble scores (the paper's "cum" metrics: the mean of the
scores of every epoch's model so far).

Authors
 * speechbrain-ast contributors 2026
"""

import csv
import time

import torch
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from speechbrain.utils.distributed import if_main_process

from speechbrain_ast.files import atomic_write
from speechbrain_ast.training.averaging import EnsembleScores
from speechbrain_ast.training.metrics import TaggingStats


@register_checkpoint_hooks
class RunHistory:
    """Per-epoch metric rows of a run, and its checkpoint-ensemble scores.

    Arguments
    ---------
    results_csv : str, optional
        Where :meth:`add_epoch` writes every row so far (main process only).

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> history = RunHistory(tmp.join("results.csv").strpath)
    >>> history.add_epoch({"epoch": 1, "valid_accuracy": 0.5})
    >>> print(tmp.join("results.csv").read().strip())
    epoch,valid_accuracy
    1,0.5
    >>> history.save(tmp.join("history.ckpt").strpath)
    >>> restored = RunHistory()
    >>> restored.load(tmp.join("history.ckpt").strpath)
    >>> restored.rows
    [{'epoch': 1, 'valid_accuracy': 0.5}]
    """

    def __init__(self, results_csv=None):
        self.results_csv = results_csv
        self.rows = []
        self.valid_ensemble = EnsembleScores()
        self.test_ensemble = EnsembleScores()

    def add_epoch(self, row):
        """Append one epoch's row and rewrite ``results_csv``.

        Arguments
        ---------
        row : dict
            Column -> value (new columns may appear in later epochs).
        """
        self.rows.append(dict(row))
        if self.results_csv is None or not if_main_process():
            return
        fields = list(dict.fromkeys(key for one in self.rows for key in one))
        with atomic_write(self.results_csv, newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(self.rows)

    @staticmethod
    def ensemble_metric(ensemble, stats, metric):
        """Add this epoch's scores to ``ensemble``; return the ensemble's metric.

        Arguments
        ---------
        ensemble : EnsembleScores
            ``valid_ensemble`` or ``test_ensemble``.
        stats : TaggingStats
            This epoch's scores and targets, same clips in the same order
            every epoch.
        metric : str
            ``"accuracy"`` or ``"mAP"`` (any key of ``TaggingStats.summarize``).

        Returns
        -------
        float
            The metric of the mean scores of every epoch added so far.

        Example
        -------
        >>> stats = TaggingStats()
        >>> stats.append(["a", "b"], torch.tensor([[0.9, 0.1], [0.6, 0.4]]),
        ...              torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        >>> RunHistory.ensemble_metric(EnsembleScores(), stats, "accuracy")
        0.5
        """
        ensemble.add(stats.score_matrix())
        cumulative = TaggingStats()
        cumulative.append(stats.ids, ensemble.mean(), stats.target_matrix())
        return float(cumulative.summarize()[metric])

    @mark_as_saver
    def save(self, path):
        """Write the rows and the ensemble sums to ``path``."""
        state = {"rows": self.rows}
        for name in ("valid_ensemble", "test_ensemble"):
            state[name + "_total"] = getattr(self, name).total
            state[name + "_count"] = getattr(self, name).count
        torch.save(state, path)

    @mark_as_loader
    def load(self, path, end_of_epoch=False):
        """Restore the rows and the ensemble sums from ``path``."""
        del end_of_epoch
        state = torch.load(path, weights_only=True)
        self.rows = state["rows"]
        for name in ("valid_ensemble", "test_ensemble"):
            getattr(self, name).total = state[name + "_total"]
            getattr(self, name).count = state[name + "_count"]


class StepTimer:
    """Time spent waiting for batches against time spent in training steps.

    Call :meth:`step_start` in ``on_fit_batch_start`` and :meth:`step_end`
    in ``on_fit_batch_end``; the gap between one step's end and the next
    step's start is the time the loader kept the model waiting. On a GPU
    the step time is measured up to the (asynchronous) kernel launches.

    Example
    -------
    >>> timer = StepTimer()
    >>> timer.step_start(); timer.step_end(); timer.step_start(); timer.step_end()
    >>> sorted(timer.summary())
    ['data_wait_s', 'step_s']
    """

    def __init__(self):
        self.data_wait = 0.0
        self.step_time = 0.0
        self._last_end = None
        self._start = None

    def step_start(self):
        """Mark the start of a training step."""
        now = time.perf_counter()
        if self._last_end is not None:
            self.data_wait += now - self._last_end
        self._start = now

    def step_end(self):
        """Mark the end of a training step."""
        self._last_end = time.perf_counter()
        self.step_time += self._last_end - self._start

    def summary(self):
        """Seconds waited for data and spent in steps, rounded for the log.

        Returns
        -------
        dict
            ``data_wait_s`` and ``step_s``.
        """
        return {
            "data_wait_s": round(self.data_wait, 2),
            "step_s": round(self.step_time, 2),
        }
