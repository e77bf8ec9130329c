"""Smoke tests for speechbrain_ast.training.plots: PNG files are written."""

import torch

from speechbrain_ast.training.plots import (
    plot_confusion_matrix,
    plot_learning_curves,
    plot_per_class_ap,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    with open(path, "rb") as handle:
        return handle.read(8) == PNG_MAGIC


def test_confusion_matrix_png(tmp_path):
    targets = torch.tensor([0, 1, 2, 2, 1])
    scores = torch.tensor(
        [
            [0.9, 0.1, 0.0],
            [0.2, 0.7, 0.1],
            [0.1, 0.1, 0.8],
            [0.6, 0.2, 0.2],
            [0.1, 0.8, 0.1],
        ]
    )
    path = plot_confusion_matrix(
        targets, scores, ["a", "b", "c"], tmp_path / "x" / "cm.png"
    )
    assert _is_png(path)
    counts = plot_confusion_matrix(
        [0, 1], [1, 1], ["a", "b"], tmp_path / "cm2.png", normalize=False
    )
    assert _is_png(counts)


def test_per_class_ap_png(tmp_path):
    rows = [{"label": f"class{k}", "AP": k / 60, "n_positive": k} for k in range(60)]
    rows.append({"label": "empty", "AP": float("nan"), "n_positive": 0})
    for which in ("best", "worst", "both"):
        assert _is_png(
            plot_per_class_ap(rows, tmp_path / f"ap_{which}.png", top_n=10, which=which)
        )


def test_learning_curves_png(tmp_path):
    rows = [
        {
            "epoch": 1,
            "train_loss": 0.9,
            "valid_loss": 1.0,
            "valid_accuracy": 0.5,
            "valid_mAP": 0.2,
            "lr": 1e-4,
        },
        {
            "epoch": 2,
            "train_loss": 0.6,
            "valid_loss": 0.8,
            "valid_accuracy": 0.7,
            "valid_mAP": 0.3,
            "lr": 5e-5,
        },
        {"epoch": 3, "train_loss": 0.5, "valid_accuracy": 0.75, "note": "text ignored"},
    ]
    assert _is_png(plot_learning_curves(rows, tmp_path / "lc.png"))
    assert _is_png(
        plot_learning_curves([{"epoch": 1, "train_loss": 1.0}], tmp_path / "one.png")
    )
    assert _is_png(plot_learning_curves([], tmp_path / "empty.png"))
