"""The paired comparison with the baseline: its interval and its per-clip inputs."""

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import paired_accuracy  # noqa: E402

from speechbrain_ast.training.logmel_baseline import run_baseline  # noqa: E402


def test_interval_holds_the_difference_and_narrows_with_more_clips():
    rng = np.random.default_rng(0)
    base = rng.random(80) < 0.8
    model = base.copy()
    # Six clips the baseline misses are right, three it gets are wrong: +3.75.
    model[np.flatnonzero(~base)[:6]] = True
    model[np.flatnonzero(base)[:3]] = False
    small = paired_accuracy.paired_difference([model], base)
    assert small["difference"] == pytest.approx(3.75)
    assert small["low"] <= small["difference"] <= small["high"]
    assert small["clips"] == 80
    assert small["model"] - small["baseline"] == pytest.approx(3.75)
    # The same gain on five times the clips: a narrower interval, above 0.
    large = paired_accuracy.paired_difference([np.tile(model, 5)], np.tile(base, 5))
    assert large["difference"] == pytest.approx(3.75)
    assert large["high"] - large["low"] < small["high"] - small["low"]
    assert large["low"] > 0 >= small["low"]


def test_seeds_are_averaged_per_clip_before_the_difference():
    base = np.array([1, 0] * 40)
    # Seed 1 gets every clip right, seed 2 none: the mean run is at 50 %,
    # as the baseline, whatever clips each got.
    result = paired_accuracy.paired_difference([np.ones(80), np.zeros(80)], base)
    assert result["difference"] == pytest.approx(0.0)
    assert result["low"] < 0 < result["high"]
    same = paired_accuracy.paired_difference([base, base], base)
    assert (same["low"], same["difference"], same["high"]) == (0.0, 0.0, 0.0)


def test_clip_count_mismatch_is_an_error():
    with pytest.raises(ValueError, match="79 model clips against 80"):
        paired_accuracy.paired_difference([np.ones(79)], np.ones(80))


def _tone_split(folder, rng):
    """A save folder: two classes of tones (low, high) in three splits."""
    folder.mkdir()
    (folder / "classes.txt").write_text("low\nhigh\n")
    t = np.arange(8000) / 16000
    for split, count in (("train", 12), ("valid", 6), ("test", 8)):
        with open(folder / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["ID", "duration", "wav", "labels"])
            for index in range(count):
                label = ("low", "high")[index % 2]
                pitch = (300, 3000)[index % 2] * (1 + 0.1 * rng.random())
                wave = 0.3 * np.sin(2 * np.pi * pitch * t) + 0.05 * rng.standard_normal(
                    t.size
                )
                path = folder / f"{split}_{index}.wav"
                soundfile.write(str(path), wave, 16000)
                writer.writerow([f"{split}_{index}", "0.5", str(path), label])


def test_baseline_predictions_match_its_test_score_and_are_cached(tmp_path, capsys):
    save = tmp_path / "save"
    _tone_split(save, np.random.default_rng(1))
    result = run_baseline(str(save), n_frames=40)
    predicted = result["test_predictions"]
    assert len(predicted) == result["clips"]["test"] == 8
    with open(save / "test.csv", encoding="utf-8") as handle:
        truth = {row["wav"]: row["labels"] for row in csv.DictReader(handle)}
    right = [truth[entry["file"]] == entry["predicted"] for entry in predicted]
    assert np.mean(right) == pytest.approx(result["test"])
    # An older baseline.json without them is refitted (n_frames from the
    # run's data_config.yaml) and rewritten, its numbers kept.
    (save / "data_config.yaml").write_text("n_frames: 40\n")
    older = {key: result[key] for key in ("metric", "C", "valid", "test", "n_frames")}
    (tmp_path / "baseline.json").write_text(json.dumps(older))
    by_file = paired_accuracy.baseline_predictions(str(tmp_path), str(save))
    assert by_file == {
        os.path.abspath(entry["file"]): entry["predicted"] for entry in predicted
    }
    rewritten = json.loads((tmp_path / "baseline.json").read_text())
    assert rewritten["test"] == result["test"] and rewritten["test_predictions"]
    # A refit that disagrees with what was reported keeps the reported score
    # and says so (the per-clip rows then use the refit's predictions).
    (tmp_path / "baseline.json").write_text(json.dumps({**older, "test": 0.125}))
    paired_accuracy.baseline_predictions(str(tmp_path), str(save))
    assert "12.50 % when first fitted" in capsys.readouterr().err
    kept = json.loads((tmp_path / "baseline.json").read_text())
    assert kept["test"] == 0.125 and kept["test_refit"] == result["test"]
    assert kept["test_predictions"] == predicted
