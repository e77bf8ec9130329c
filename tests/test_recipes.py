"""Each recipe trains end to end on tiny real clips, and its export loads and tags.

Runs ``train.py`` as a user would (subprocess, the YAML of the recipe, a tiny
model from scratch), then checks the experiment files, the results, and that
the exported model folder loads with SpeechBrain's ``EncoderClassifier`` and
with ``AudioTagger`` and tags a clip.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest
import torch
from speechbrain.inference.classifiers import EncoderClassifier

from speechbrain_ast import AudioTagger

REPO = pathlib.Path(__file__).resolve().parent.parent
TINY = [
    "--init", "scratch", "--embed_dim", "32", "--depth", "1", "--num_heads", "2",
    "--number_of_epochs", "2", "--batch_size", "4", "--num_workers", "0",
    "--device", "cpu",
]  # fmt: skip

RECIPES = {
    "SpeechCommands": (
        "speech_commands_v0.02",
        ["--n_classes", "3"],
        "speech_commands_v0.02/yes",
    ),
    "ESC50": ("ESC-50-master", ["--n_classes", "2", "--valid_ratio", "0.25"], "ESC-50-master/audio"),
    "AudioSet": (
        "audioset",
        ["--valid_ratio", "0.25", "--wa_start", "1", "--wa_end", "2", "--keep_checkpoints", "2"],
        "audioset/audio",
    ),
    "CustomData": ("custom_data/multi_label.csv", [], "ESC-50-master/audio"),
}


def run_recipe(name, samples, out_dir, extra=()):
    """Run ``recipes/<name>/train.py`` on the bundled samples; return the output folder."""
    data, flags, _ = RECIPES[name]
    recipe = REPO / "recipes" / name
    command = [
        sys.executable, str(recipe / "train.py"), str(recipe / "hparams" / "ast.yaml"),
        "--data_folder", str(samples / data), "--output_folder", str(out_dir),
        *TINY, *flags, *extra,
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=out_dir.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    return out_dir


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_trains_exports_and_tags(name, samples, tmp_path):
    out = run_recipe(name, samples, tmp_path / "run")
    for produced in ("train_log.txt", "log.txt", "env.log", "hyperparams.yaml", "results.csv"):
        assert (out / produced).is_file(), produced
    history = (out / "results.csv").read_text().splitlines()
    assert len(history) == 3  # header + 2 epochs
    results = json.loads((out / "results.json").read_text())
    multi_label = name in ("AudioSet", "CustomData")
    metric = "mAP" if multi_label else "accuracy"
    assert 0.0 <= results["best_valid"][metric] <= 1.0
    if name == "AudioSet":
        assert "wa" in results  # weight averaging evaluated
    if multi_label:
        assert (out / "test_best_valid_per_class_ap.png").is_file()
    else:
        assert (out / "test_best_valid_confusion_matrix.png").is_file()

    model = out / "model"
    _, _, clip_folder = RECIPES[name]
    clip = next((samples / clip_folder).glob("*.wav"))
    classifier = EncoderClassifier.from_hparams(source=str(model))
    wav = classifier.load_audio(str(clip))
    logits, _, _, labels = classifier.classify_batch(wav.unsqueeze(0))
    n_classes = {"SpeechCommands": 3, "ESC50": 2, "AudioSet": 527, "CustomData": 6}[name]
    assert logits.shape == (1, n_classes)
    assert labels[0] in (model / "label_encoder.txt").read_text()

    tagger = AudioTagger.from_hparams(source=str(model))
    tags = tagger.tag_file(str(clip), top_k=2)
    assert len(tags.labels) == 2
    scores, _ = tagger.tag_batch(wav.unsqueeze(0), top_k=2, sample_rate=16000)
    expected = torch.sigmoid(logits) if multi_label else torch.softmax(logits, -1)
    assert torch.allclose(scores, expected, atol=1e-5)


def test_esc50_fold_runner_summarizes(samples, tmp_path):
    """run_folds.py runs two folds and writes the summary with the official-protocol row."""
    data, flags, _ = RECIPES["ESC50"]
    recipe = REPO / "recipes" / "ESC50"
    results = tmp_path / "cv"
    command = [
        sys.executable, str(recipe / "run_folds.py"), "--folds", "4", "5",
        "--results_folder", str(results), str(recipe / "hparams" / "ast.yaml"),
        "--data_folder", str(samples / data), *TINY, *flags,
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((results / "cv_summary.json").read_text())
    assert set(summary["folds"]) == {"4", "5"}
    assert "official_protocol" in summary
    assert "Official protocol" in (results / "cv_summary.md").read_text()
