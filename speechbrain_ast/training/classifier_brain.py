"""The bookkeeping every AST classification recipe shares, as a Brain base.

Each recipe's ``train.py`` keeps its own Brain subclass with the experiment
in it (``compute_forward``: features, augmentation, model; and
``compute_objectives``: the loss, and the scores it collects with
:meth:`ClassifierBrain.collect`). What is the same in all of them lives
here once, as SpeechBrain's own ``speechbrain/utils/interpreter_brain.py``
does for the interpretability recipes:

* the learning rate of every step (``hparams.lr_schedule``) and the step
  timer (data wait vs compute);
* at the end of a validation: the metrics (accuracy, or mAP, mAUC and d'
  for multi-label data), the checkpoint ensemble ("cum"), the log line, the
  run history and the checkpoint kept by the main metric;
* at the end of a test: the log line, ``test_stats`` and ``test_scores``;
* under DDP, validation and test sets **sharded** across the ranks (each
  clip scored once, by one rank), their scores gathered so that every rank
  computes the metrics of the whole set, in the dataset's order.

Authors
 * speechbrain-ast contributors 2026
"""

import speechbrain as sb

from speechbrain_ast.training.distributed import (
    EvaluationShardSampler,
    all_reduce_mean,
    gather_tagging_stats,
    world_size,
)
from speechbrain_ast.training.history import StepTimer
from speechbrain_ast.training.metrics import TaggingStats

__all__ = ["ClassifierBrain"]


class ClassifierBrain(sb.Brain):
    """A ``speechbrain.Brain`` with the shared classification bookkeeping.

    A subclass writes ``compute_forward`` and ``compute_objectives`` and calls
    ``self.collect(ids, scores, targets)`` outside training. ``multi_label``
    (class attribute, or a property) chooses mAP/mAUC/d' (True) or accuracy
    (False) as the metrics; the first of them selects the checkpoint.

    The hparams must provide ``lr_schedule``, ``epoch_counter``, ``history``,
    ``train_logger`` and ``keep_checkpoints``.

    Arguments
    ---------
    *args, **kwargs
        As ``speechbrain.Brain``.
    train_sampler : torch.utils.data.Sampler, optional
        A sampler (or stream) of the training set whose ``set_epoch`` ``fit``
        must call every epoch (a balanced sampler, a shard stream).
    """

    multi_label = False

    def __init__(self, *args, train_sampler=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_sampler = train_sampler
        self.evaluation_set = "test"

    @property
    def metric_names(self):
        """The metrics of a stage, the main one first."""
        return ("mAP", "mAUC", "d_prime") if self.multi_label else ("accuracy",)

    @property
    def main_metric(self):
        """The metric that selects the checkpoint (mAP or accuracy)."""
        return self.metric_names[0]

    def collect(self, ids, scores, targets):
        """Store a batch's scores (probabilities) and targets for the metrics."""
        self.scores.append(ids, scores, targets)

    def make_dataloader(self, dataset, stage, ckpt_prefix="dataloader-", **kwargs):
        """SpeechBrain's loader; under DDP, evaluation sets are sharded by rank."""
        if (
            stage != sb.Stage.TRAIN
            and world_size() > 1
            and kwargs.get("sampler") is None
            and hasattr(dataset, "__len__")
        ):
            kwargs = dict(kwargs, shuffle=False)
            kwargs["sampler"] = EvaluationShardSampler(len(dataset))
        return super().make_dataloader(dataset, stage, ckpt_prefix, **kwargs)

    def on_fit_batch_start(self, batch, should_step):
        """Set this step's learning rate (warm-up and decay)."""
        self.step_timer.step_start()
        self.current_lr = self.hparams.lr_schedule(
            self.optimizer, self.hparams.epoch_counter.current, self.optimizer_step
        )

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Account the step time (data-wait is the gap to the next step)."""
        self.step_timer.step_end()

    def on_stage_start(self, stage, epoch=None):
        """Fresh score accumulator and step timer."""
        self.scores = TaggingStats()
        self.step_timer = StepTimer()
        if stage == sb.Stage.TRAIN:
            self.current_lr = None

    def whole_set_scores(self, scores, stage_loss):
        """The scores and mean batch loss of the whole evaluated set (all ranks).

        Arguments
        ---------
        scores : TaggingStats
            This rank's scores.
        stage_loss : float
            This rank's mean batch loss over ``self.step`` batches.

        Returns
        -------
        tuple
            ``(TaggingStats, float)``: unchanged in a single process.
        """
        if world_size() == 1:
            return scores, stage_loss
        loss = all_reduce_mean(stage_loss * self.step, self.step)
        return gather_tagging_stats(scores), loss

    def extra_valid_stats(self):
        """More validation statistics to log and record (none by default)."""
        return {}

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, record the epoch in the run history, checkpoint on validation."""
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss, **self.step_timer.summary()}
            return
        self.scores, stage_loss = self.whole_set_scores(self.scores, stage_loss)
        summary = self.scores.summarize()
        stats = {"loss": stage_loss, **{name: summary[name] for name in self.metric_names}}
        metric = self.main_metric
        if stage == sb.Stage.VALID:
            history = self.hparams.history
            stats[f"cum_{metric}"] = history.ensemble_metric(
                history.valid_ensemble, self.scores, metric
            )
            stats.update(self.extra_valid_stats())
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": self.current_lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            history.add_epoch(
                {"epoch": epoch, "lr": self.current_lr}
                | {f"train_{key}": value for key, value in self.train_stats.items()}
                | {f"valid_{key}": value for key, value in stats.items()}
            )
            self.checkpointer.save_and_keep_only(
                meta={"epoch": epoch, metric: float(stats[metric])},
                max_keys=[metric],
                num_to_keep=self.hparams.keep_checkpoints,
            )
        else:
            # A final evaluation; ``evaluation_set`` says which split it scored.
            self.hparams.train_logger.log_stats(
                stats_meta={"Epoch loaded": self.hparams.epoch_counter.current},
                **{f"{self.evaluation_set}_stats": stats},
            )
            self.test_stats, self.test_scores = stats, self.scores
