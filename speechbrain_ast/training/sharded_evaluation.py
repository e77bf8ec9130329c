"""Validation and test sets scored once over all DDP ranks, not on every rank.

SpeechBrain gives every rank the whole validation and test set, so N GPUs
each spend the time of a whole evaluation. ``ShardedEvaluationBrain`` hands
rank ``r`` the clips ``r, r + N, ...`` (:class:`EvaluationShardSampler`:
every clip scored exactly once, nothing padded or dropped) and
:meth:`ShardedEvaluationBrain.whole_set_scores` gathers the scores back, in
the dataset's order, on every rank, so the metrics (accuracy, mAP, d') are
those of the whole set, equal to a single process's. In one process it
changes nothing.

The recipes' Brain subclasses derive from it and keep their own hooks
(``compute_forward``, ``compute_objectives``, ``on_stage_end``): SpeechBrain
checks each YAML key against the recipe's own script.

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

__all__ = ["ShardedEvaluationBrain"]


class ShardedEvaluationBrain(sb.Brain):
    """A ``speechbrain.Brain`` whose evaluation sets are sharded under DDP.

    Arguments
    ---------
    *args, **kwargs
        As ``speechbrain.Brain``.

    Attributes
    ----------
    evaluation_set : str
        The split a final ``evaluate`` scores ("test", or "valid" for the
        weight average's validation score), for the log line.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.evaluation_set = "test"

    def make_dataloader(self, dataset, stage, ckpt_prefix="dataloader-", **kwargs):
        """SpeechBrain's loader; under DDP an evaluation set is split by rank."""
        if (
            stage != sb.Stage.TRAIN
            and world_size() > 1
            and kwargs.get("sampler") is None
            and hasattr(dataset, "__len__")
        ):
            kwargs = dict(kwargs, shuffle=False)
            kwargs["sampler"] = EvaluationShardSampler(len(dataset))
        return super().make_dataloader(dataset, stage, ckpt_prefix, **kwargs)

    def whole_set_scores(self, scores, stage_loss):
        """The scores and mean batch loss of the whole evaluated set (all ranks).

        Arguments
        ---------
        scores : TaggingStats
            This rank's scores of the stage.
        stage_loss : float
            This rank's mean loss over the batches it appended to ``scores``.

        Returns
        -------
        tuple
            ``(TaggingStats, float)``; unchanged in a single process.
        """
        if world_size() == 1:
            return scores, stage_loss
        # SpeechBrain resets ``self.step`` before ``on_stage_end`` of a
        # validation; the appended batches count the same.
        n_batches = len(scores.scores)
        loss = all_reduce_mean(stage_loss * n_batches, n_batches)
        return gather_tagging_stats(scores), loss
