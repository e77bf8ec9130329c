"""The end of a run: evaluating the chosen epoch does not shorten the run's record.

Measured before the fix: a 273-epoch ``speechbrain-ast train`` run on four
ESC-50 classes chose epoch 265, and its ``summary.md`` said "chosen epoch: 265
of 265 ... last epoch 100.0 %" (the last epoch, 273, scored 90.0 % on
validation): testing the chosen checkpoint reloaded its ``RunHistory``, the
rows of epochs 1-265, and the summary was written from those.
"""

import types

import torch
from speechbrain.utils.epoch_loop import EpochCounter

from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead
from speechbrain_ast.training.final_evaluation import evaluate_and_export
from speechbrain_ast.training.history import RunHistory
from speechbrain_ast.training.metrics import TaggingStats
from speechbrain_ast.training.resumable import ResumableCheckpointer
from speechbrain_ast.training.run_summary import run_summary_lines

LABELS = ["a", "b"]


class ReloadingBrain:
    """What ``evaluate_and_export`` uses of a Brain: ``evaluate`` reloads the best checkpoint."""

    def __init__(self, checkpointer, counter):
        self.checkpointer = checkpointer
        self.hparams = types.SimpleNamespace(epoch_counter=counter)
        self.evaluation_set = "test"

    def evaluate(self, dataset, max_key=None, test_loader_kwargs=None):
        self.checkpointer.recover_if_possible(max_key=max_key)
        stats = TaggingStats()
        stats.append(["x", "y"], torch.tensor([[0.9, 0.1], [0.2, 0.8]]),
                     torch.tensor([[1.0, 0.0], [0.0, 1.0]]))  # fmt: skip
        self.test_stats, self.test_scores = {"loss": 0.1, "accuracy": 1.0}, stats


def test_the_summary_counts_every_epoch_after_the_best_one_is_reloaded(tmp_path):
    encoder = AudioSpectrogramTransformer(
        n_frames=128, embed_dim=32, depth=1, num_heads=2
    )
    head = ClassificationHead(32, len(LABELS))
    counter, history = EpochCounter(3), RunHistory(str(tmp_path / "results.csv"))
    checkpointer = ResumableCheckpointer(
        str(tmp_path / "save"), {"counter": counter, "history": history}
    )
    for epoch, accuracy in zip(counter, (0.5, 0.9, 0.7)):  # epoch 2 is the best
        history.add_epoch({"epoch": epoch, "valid_accuracy": accuracy})
        checkpointer.save_checkpoint(meta={"accuracy": accuracy})

    results = evaluate_and_export(
        ReloadingBrain(checkpointer, counter),
        {"valid": [0, 1], "test": [0, 1]},
        LABELS,
        main_metric="accuracy",
        multi_label=False,
        history=history,
        loader_options={},
        weight_averaging=False,
        wa_epochs=(1, 3),
        modules={"embedding_model": encoder, "classifier": head},
        norm_stats=(-6.0, 5.0),
        sample_rate=16000,
        output_folder=str(tmp_path),
        model_folder=str(tmp_path / "model"),
    )

    assert results["chosen_epoch"] == 2
    assert [row["epoch"] for row in history.rows] == [1, 2, 3]
    first = run_summary_lines(results, history.rows, "accuracy")[0]
    assert first == (
        "chosen epoch: 2 of 3, the best validation accuracy (90.0 %; last epoch 70.0 %)"
    )
