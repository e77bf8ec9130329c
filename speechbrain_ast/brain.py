"""ASTBrain: the one SpeechBrain ``Brain`` the AST recipes share.

Single-label (softmax cross-entropy on soft targets) and multi-label (BCE)
training, with the official AST pipeline run batched on the training device
inside ``compute_forward``::

    waveform -> [mixup] -> Kaldi fbank (pad/cut) -> [SpecAugment on raw fbank]
    -> (x - mean) / (2 std) -> [noise + time roll] -> AST -> head -> logits

Per epoch it logs the validation metrics (accuracy, mAP, mAUC, d'), the
checkpoint-ensemble ("cum") metrics of the paper, the learning rate, and the
time spent waiting for data against the time spent in training steps. Model
selection uses the validation set only; a test set can be *monitored* each
epoch (ESC-50's official protocol number) but never selects anything.

Hyperparameters read (``self.hparams``): ``multi_label`` (bool: sigmoid
scores and mAP as the main metric, else softmax and accuracy), ``loss``
("bce" or "ce": the official Speech Commands recipe uses BCE with accuracy), ``mixup``
(probability), ``noise`` (bool), ``lr_schedule`` (``OfficialLRSchedule``),
``epoch_counter``, ``train_logger``, ``output_folder``, ``label_names``,
optional ``keep_checkpoints`` (all epochs are kept when weight averaging).
Modules: ``compute_features``, ``mean_var_norm``, ``embedding_model``,
``classifier`` and optional ``spec_augment``.

Authors
 * speechbrain-ast contributors 2026
"""

import csv
import logging
import os
import time

import speechbrain as sb
import torch
import torch.nn.functional as F
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from speechbrain.utils.distributed import if_main_process

from speechbrain_ast.augment import mixup_waveforms, noise_and_roll, soft_cross_entropy
from speechbrain_ast.averaging import EnsembleScores
from speechbrain_ast.metrics import TaggingStats

logger = logging.getLogger(__name__)


@register_checkpoint_hooks
class RunHistory:
    """Per-epoch metric rows and the checkpoint-ensemble scores of a run.

    A checkpoint recoverable, so a resumed run keeps its earlier epochs in
    ``results.csv`` and its ensemble ("cum") metrics.

    Example
    -------
    >>> history = RunHistory()
    >>> history.rows.append({"epoch": 1, "valid_accuracy": 0.5})
    >>> history.ensemble.add(torch.ones(2, 3))
    >>> path = getfixture("tmpdir").join("history.ckpt").strpath
    >>> history.save(path)
    >>> restored = RunHistory()
    >>> restored.load(path)
    >>> restored.rows, len(restored.ensemble)
    ([{'epoch': 1, 'valid_accuracy': 0.5}], 1)
    """

    def __init__(self):
        self.rows = []
        self.ensemble = EnsembleScores()
        self.test_ensemble = EnsembleScores()

    @mark_as_saver
    def save(self, path):
        """Write rows and ensemble sums to ``path``."""
        state = {"rows": self.rows}
        for name in ("ensemble", "test_ensemble"):
            state[name + "_total"] = getattr(self, name).total
            state[name + "_count"] = getattr(self, name).count
        torch.save(state, path)

    @mark_as_loader
    def load(self, path, end_of_epoch=False):
        """Restore rows and ensemble sums from ``path``."""
        state = torch.load(path, weights_only=True)
        self.rows = state["rows"]
        for name in ("ensemble", "test_ensemble"):
            getattr(self, name).total = state.get(name + "_total")
            getattr(self, name).count = state.get(name + "_count", 0)


class ASTBrain(sb.Brain):
    """Train and evaluate AST with the official recipe's pipeline.

    Batches must provide ``sig`` (padded waveforms and relative lengths) and
    ``targets`` (``[B, C]`` float one-hot or multi-hot). See the module
    docstring for the hyperparameters used.

    Example
    -------
    >>> import torch
    >>> from speechbrain.utils.epoch_loop import EpochCounter
    >>> from speechbrain_ast import (
    ...     AudioSpectrogramTransformer,
    ...     ClassificationHead,
    ...     FixedNormalization,
    ...     KaldiFbank,
    ... )
    >>> from speechbrain_ast.schedules import OfficialLRSchedule
    >>> modules = {
    ...     "compute_features": KaldiFbank(n_frames=128),
    ...     "mean_var_norm": FixedNormalization(dataset="speechcommands"),
    ...     "embedding_model": AudioSpectrogramTransformer(
    ...         n_frames=128, embed_dim=32, depth=1, num_heads=2
    ...     ),
    ...     "classifier": ClassificationHead(32, 3),
    ... }
    >>> hparams = {
    ...     "multi_label": False,
    ...     "loss": "ce",
    ...     "mixup": 0.5,
    ...     "noise": True,
    ...     "lr_schedule": OfficialLRSchedule(1e-3, 5, 1, 0.85),
    ...     "epoch_counter": EpochCounter(1),
    ... }
    >>> brain = ASTBrain(
    ...     modules, lambda p: torch.optim.Adam(p, 1e-3), hparams, {"device": "cpu"}
    ... )
    >>> wavs, lens = torch.randn(4, 16000), torch.ones(4)
    >>> targets = torch.eye(3)[torch.tensor([0, 1, 2, 0])]
    >>> logits, mixed = brain.forward_logits(wavs, lens, targets, sb.Stage.TRAIN)
    >>> logits.shape, round(mixed.sum().item(), 4)
    (torch.Size([4, 3]), 4.0)
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.run_history = RunHistory()
        if self.checkpointer is not None:
            # optional: checkpoints written before it existed still load
            self.checkpointer.add_recoverable(
                "run_history", self.run_history, optional_load=True
            )

    def forward_logits(self, wavs, lens, targets, stage):
        """Run the pipeline on a padded waveform batch.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]``.
        lens : torch.Tensor
            Relative lengths ``[B]``.
        targets : torch.Tensor
            Targets ``[B, C]``.
        stage : sb.Stage
            Augmentation runs only in ``sb.Stage.TRAIN``.

        Returns
        -------
        tuple of torch.Tensor
            Logits ``[B, C]`` and the (mixed, in training) targets.
        """
        train = stage == sb.Stage.TRAIN
        if train and self.hparams.mixup > 0:
            wavs, lens, targets = mixup_waveforms(wavs, lens, targets, self.hparams.mixup)
        feats = self.modules.compute_features(wavs, lens)
        if train and "spec_augment" in self.modules:
            feats = self.modules.spec_augment(feats)
        feats = self.modules.mean_var_norm(feats, lens)
        if train and self.hparams.noise:
            feats = noise_and_roll(feats)
        embedding = self.modules.embedding_model(feats, lens)
        return self.modules.classifier(embedding).squeeze(1), targets

    def compute_forward(self, batch, stage):
        """Features, augmentation and model on one batch; returns (logits, targets)."""
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        targets = batch.targets.data.float()
        return self.forward_logits(wavs, lens, targets, stage)

    def compute_objectives(self, predictions, batch, stage):
        """BCE or soft-target cross-entropy, as ``hparams.loss`` says."""
        logits, targets = predictions
        logits = logits.float()
        if self.hparams.loss == "bce":
            loss = F.binary_cross_entropy_with_logits(logits, targets)
        else:
            loss = soft_cross_entropy(logits, targets)
        if stage != sb.Stage.TRAIN:
            self.stats.append(batch.id, self.scores(logits), targets)
        return loss

    def scores(self, logits):
        """Sigmoid (multi-label) or softmax (single-label) scores."""
        if self.hparams.multi_label:
            return torch.sigmoid(logits.float())
        return torch.softmax(logits.float(), dim=-1)

    def on_fit_batch_start(self, batch, should_step):
        """Set the learning rate for this step; account data-wait time."""
        now = time.perf_counter()
        if self._last_step_end is not None:
            self._data_wait += now - self._last_step_end
        self._step_start = now
        epoch = self.hparams.epoch_counter.current
        self.current_lr = self.hparams.lr_schedule(
            self.optimizer, epoch, self.optimizer_step
        )

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Account step time (the step is timed up to here, asynchronously on GPU)."""
        self._last_step_end = time.perf_counter()
        self._step_time += self._last_step_end - self._step_start

    def on_stage_start(self, stage, epoch=None):
        """Reset metric accumulators and timers."""
        self.stats = TaggingStats()
        self._data_wait, self._step_time = 0.0, 0.0
        self._last_step_end, self._step_start = None, None

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log metrics, keep the history, save checkpoints, write reports."""
        if stage == sb.Stage.TRAIN:
            self.train_stats = {
                "loss": float(stage_loss),
                "data_wait_s": round(self._data_wait, 2),
                "step_s": round(self._step_time, 2),
            }
            return
        stats = {"loss": float(stage_loss), **self.summarize(self.stats)}
        if stage == sb.Stage.VALID:
            ensemble = self.run_history.ensemble
            ensemble.add(self.stats.score_matrix())
            cum = TaggingStats()
            cum.append(self.stats.ids, ensemble.mean(), self.stats.target_matrix())
            stats["cum_" + self.main_metric] = float(cum.summarize()[self.main_metric])
            stats.update(self.monitor_test_set())
            lr = getattr(self, "current_lr", None)
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": lr},
                train_stats=getattr(self, "train_stats", None),
                valid_stats=stats,
            )
            self.run_history.rows.append(
                {"epoch": epoch, "lr": lr, **prefixed("train", self.train_stats)}
                | prefixed("valid", stats)
            )
            self.write_history()
            meta = {"epoch": int(epoch), self.main_metric: stats[self.main_metric]}
            self.checkpointer.save_and_keep_only(
                meta=meta,
                max_keys=[self.main_metric],
                num_to_keep=getattr(self.hparams, "keep_checkpoints", 1),
            )
        else:
            name = getattr(self, "eval_name", "test")
            self.hparams.train_logger.log_stats(
                stats_meta={"evaluated": name}, test_stats=stats
            )
            self.test_results = stats
            self.write_test_reports(name)

    @property
    def main_metric(self):
        """mAP for multi-label tagging, accuracy for single-label classification."""
        return "mAP" if self.hparams.multi_label else "accuracy"

    def summarize(self, stats):
        """The metrics worth logging for this task, as Python floats."""
        summary = stats.summarize()
        keys = ("mAP", "mAUC", "d_prime") if self.hparams.multi_label else ("accuracy",)
        return {key: float(summary[key]) for key in keys if key in summary}

    def monitor_test_set(self):
        """Score ``self.monitor_set`` (the test set) with this epoch's weights.

        Reported only, never used to select: the epoch's main metric and the
        checkpoint ensemble of every epoch so far (uniform mean of their
        scores, the paper's "cum" evaluation; no choice depends on test data).

        Returns
        -------
        dict
            ``monitored_test_<metric>`` and ``monitored_test_cum_<metric>``,
            or an empty dict when no monitor set is given.
        """
        dataset = getattr(self, "monitor_set", None)
        if dataset is None:
            return {}
        stats = self.score_dataset(dataset)
        ensemble = self.run_history.test_ensemble
        ensemble.add(stats.score_matrix())
        cum = TaggingStats()
        cum.append(stats.ids, ensemble.mean(), stats.target_matrix())
        metric = self.main_metric
        return {
            f"monitored_test_{metric}": float(stats.summarize()[metric]),
            f"monitored_test_cum_{metric}": float(cum.summarize()[metric]),
        }

    @torch.no_grad()
    def score_dataset(self, dataset, loader_kwargs=None):
        """Score a dataset with the current weights, outside fit/evaluate.

        Arguments
        ---------
        dataset : DynamicItemDataset
            Items with ``sig`` and ``targets``.
        loader_kwargs : dict, optional
            DataLoader options (default: ``self.eval_loader_kwargs``).

        Returns
        -------
        TaggingStats
            Scores and targets of every item.
        """
        kwargs = dict(loader_kwargs or getattr(self, "eval_loader_kwargs", {}))
        loader = self.make_dataloader(dataset, sb.Stage.TEST, **kwargs)
        was_training = self.modules.training
        self.modules.eval()
        stats = TaggingStats()
        for n_batches, batch in enumerate(loader, start=1):
            with self.evaluation_ctx:
                logits, targets = self.compute_forward(batch, sb.Stage.TEST)
            stats.append(batch.id, self.scores(logits), targets)
            if self.debug and n_batches >= self.debug_batches:
                break
        self.modules.train(was_training)
        return stats

    def on_evaluate_start(self, max_key=None, min_key=None):
        """Recover the selected checkpoint unless weights were set by hand (WA)."""
        if getattr(self, "keep_current_weights", False):
            return
        super().on_evaluate_start(max_key=max_key, min_key=min_key)

    def write_history(self):
        """Write ``results.csv``: one row per epoch (the official result.csv, readable)."""
        rows = self.run_history.rows
        if not if_main_process() or not rows:
            return
        path = os.path.join(self.hparams.output_folder, "results.csv")
        fields = list(dict.fromkeys(key for row in rows for key in row))
        with open(path + ".tmp", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(path + ".tmp", path)

    def write_test_reports(self, name):
        """Per-class CSV and plots for an evaluated set (main process only)."""
        if not if_main_process():
            return
        from speechbrain_ast.plots import (
            plot_confusion_matrix,
            plot_learning_curves,
            plot_per_class_ap,
        )

        folder = self.hparams.output_folder
        if self.run_history.rows:
            plot_learning_curves(
                self.run_history.rows, os.path.join(folder, "learning_curves.png")
            )
        labels = self.hparams.label_names
        self.stats.write_per_class_csv(os.path.join(folder, f"{name}_per_class.csv"), labels)
        if self.hparams.multi_label:
            plot_per_class_ap(
                self.stats.per_class(labels), os.path.join(folder, f"{name}_per_class_ap.png")
            )
        else:
            scores, targets = self.stats.score_matrix(), self.stats.target_matrix()
            plot_confusion_matrix(
                targets.argmax(-1).tolist(),
                scores.argmax(-1).tolist(),
                labels,
                os.path.join(folder, f"{name}_confusion_matrix.png"),
            )


def prefixed(prefix, stats):
    """Return ``stats`` with keys prefixed (``{"loss": 1} -> {"train_loss": 1}``)."""
    return {f"{prefix}_{key}": value for key, value in (stats or {}).items()}
