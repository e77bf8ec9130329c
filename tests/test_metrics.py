"""Tests for speechbrain_ast.training.metrics.TaggingStats."""

import csv
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from speechbrain.utils.metric_stats import MetricStats

from speechbrain_ast.training.metrics import TaggingStats, d_prime


def _random_multilabel(n=60, c=7, seed=0):
    rng = np.random.default_rng(seed)
    targets = (rng.random((n, c)) < 0.3).astype(np.float32)
    targets[:, 5] = 0.0  # no positive: excluded
    targets[:, 6] = 1.0  # no negative: excluded
    scores = rng.random((n, c)).astype(np.float32) + 0.5 * targets
    return torch.from_numpy(scores), torch.from_numpy(targets)


def test_map_mauc_match_sklearn_on_random_data_over_batches():
    scores, targets = _random_multilabel()
    stats = TaggingStats(n_classes=7)
    assert isinstance(stats, MetricStats)
    for start in range(0, 60, 16):  # several appends
        ids = [f"clip{i}" for i in range(start, min(start + 16, 60))]
        stats.append(ids, scores[start : start + 16], targets[start : start + 16])
    summary = stats.summarize()

    s, t = scores.double().numpy(), targets.numpy()
    aps = [average_precision_score(t[:, k], s[:, k]) for k in range(5)]
    aucs = [roc_auc_score(t[:, k], s[:, k]) for k in range(5)]
    assert summary["mAP"] == pytest.approx(np.mean(aps), abs=1e-12)
    assert summary["mAUC"] == pytest.approx(np.mean(aucs), abs=1e-12)
    assert summary["n_classes_scored"] == 5 and summary["n_classes_excluded"] == 2
    assert summary["n_clips"] == 60
    for key in ("mAP", "mAUC", "d_prime", "accuracy"):
        assert type(summary[key]) is float
    assert stats.summarize("mAP") == summary["mAP"]


def test_d_prime_hand_value():
    # Phi^-1(0.8413447) = 1 (one standard deviation), so d' = sqrt(2)
    assert d_prime(0.8413447460685429) == pytest.approx(math.sqrt(2.0), abs=1e-9)
    assert d_prime(0.5) == 0.0
    stats = TaggingStats()
    # one class, AUC 0.75: positives {0.9, 0.4}, negatives {0.5, 0.1}
    stats.append(
        ["a", "b", "c", "d"],
        torch.tensor([[0.9], [0.4], [0.5], [0.1]]),
        torch.tensor([[1.0], [1.0], [0.0], [0.0]]),
    )
    summary = stats.summarize()
    assert summary["mAUC"] == pytest.approx(0.75)
    assert summary["d_prime"] == pytest.approx(
        math.sqrt(2.0) * 0.6744897501960817, abs=1e-9
    )


def test_accuracy_hand_example_with_index_targets():
    stats = TaggingStats()
    scores = torch.tensor(
        [[0.1, 0.7, 0.2], [0.8, 0.1, 0.1], [0.3, 0.3, 0.4], [0.2, 0.5, 0.3]]
    )
    stats.append(["a", "b", "c", "d"], scores, torch.tensor([1, 0, 0, 2]))
    # argmax: 1, 0, 2, 1 vs 1, 0, 0, 2 -> 2 / 4
    assert stats.summarize("accuracy") == 0.5
    # [B, 1, C] scores and [B, 1] index targets are accepted too
    other = TaggingStats()
    other.append(
        ["a", "b", "c", "d"], scores.unsqueeze(1), torch.tensor([[1], [0], [0], [2]])
    )
    assert other.summarize() == stats.summarize()


def test_per_class_rows_and_csv(tmp_path):
    scores, targets = _random_multilabel()
    stats = TaggingStats()
    stats.append([str(i) for i in range(60)], scores, targets)
    names = [f"c{k}" for k in range(7)]
    rows = stats.per_class(names)
    assert [r["label"] for r in rows] == names
    assert rows[0]["AP"] == pytest.approx(
        average_precision_score(targets[:, 0].numpy(), scores[:, 0].double().numpy())
    )
    assert math.isnan(rows[5]["AP"]) and math.isnan(rows[6]["AUC"])
    assert rows[6]["n_positive"] == 60 and rows[5]["n_positive"] == 0
    path = stats.write_per_class_csv(tmp_path / "sub" / "per_class.csv", names)
    with open(path, encoding="utf-8") as handle:
        read = list(csv.DictReader(handle))
    assert len(read) == 7 and read[1]["label"] == "c1"
    assert float(read[1]["AP"]) == pytest.approx(rows[1]["AP"])


def test_clear_and_errors():
    stats = TaggingStats(n_classes=3)
    with pytest.raises(ValueError):
        stats.summarize()
    with pytest.raises(ValueError):
        stats.append(["a"], torch.zeros(1, 4), torch.zeros(1, 4))
    with pytest.raises(ValueError):
        stats.append(["a", "b"], torch.zeros(1, 3), torch.zeros(1, 3))
    stats.append(
        ["a", "b"], torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]), torch.tensor([0, 1])
    )
    assert stats.summarize("accuracy") == 1.0
    stats.clear()
    assert stats.ids == [] and stats.score_matrix().shape == (0, 3)
