"""``speechbrain-ast export ... --card``: the HuggingFace model card of a model folder.

The card's metadata block must parse as YAML with the fields SpeechBrain's
Hub models carry, its result must be the one measured for those weights
(or say that none was), and its Python snippet must run as written: it is
executed here against the tiny folder, offline, from another directory.
"""

import contextlib
import io
import json
import os
import re

import pytest
import torch
import yaml

from speechbrain_ast.cli import main
from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead
from speechbrain_ast.model_folder import write_model_folder
from tests.helpers import tiny_model_folder

LABELS = ["dog", "rooster", "rain"]
RECIPE_DOCSTRING = (
    '"""Recipe for training the Audio Spectrogram Transformer (AST) on ESC-50.\n"""\n'
)


def _tiny():
    encoder = AudioSpectrogramTransformer(
        n_frames=128, embed_dim=32, depth=1, num_heads=2
    )
    return encoder, ClassificationHead(32, len(LABELS))


@pytest.fixture
def run(tmp_path):
    """A finished single-label run: train.py, results.json, summary.md and model/."""
    folder = tmp_path / "esc50_fold5"
    folder.mkdir()
    (folder / "train.py").write_text(RECIPE_DOCSTRING)
    results = {
        "best_valid": {"loss": 0.9, "accuracy": 0.75},
        "chosen_epoch": 3,
        "n_classes": 3,
        "chance": {"majority": 0.4, "uniform": 0.333333},
    }
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "summary.md").write_text(
        "# Run summary: esc50_fold5\n\n## Result\n\n"
        "- chosen epoch: 3 of 4, the best validation accuracy (70.0 %; last epoch 65.0 %)\n"
        "- test accuracy: 75.0 % (chance: 40.0 % always answering the most frequent class)\n"
    )
    encoder, head = _tiny()
    write_model_folder(
        str(folder / "model"), encoder, head, LABELS, -6.6, 5.4, False,
        origin="trained by esc50_fold5, best-validation weights",
    )  # fmt: skip
    return folder


@pytest.fixture
def clip(samples):
    return str(samples / "ESC-50-master" / "audio" / "1-100032-A-0.wav")


def _card(model_dir):
    """(metadata dict, Markdown body) of ``model_dir/README.md``."""
    text = (model_dir / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    _, metadata, body = text.split("---\n", 2)
    return yaml.safe_load(metadata), body


def _run_snippet(body, cwd, monkeypatch):
    """Execute the card's first Python block as a user would; return what it printed."""
    snippet = re.search(r"```python\n(.*?)```", body, flags=re.DOTALL).group(1)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(cwd)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(snippet, "README.md", "exec"), {"__name__": "__main__"})
    return printed.getvalue().strip().splitlines()


def test_card_of_a_trained_run(run, clip, tmp_path, monkeypatch, capsys):
    model = run / "model"
    assert main(["export", str(model), "--card", "--example", clip]) == 0
    assert "model card written" in capsys.readouterr().out
    metadata, body = _card(model)
    assert metadata["language"] == "en"
    assert metadata["license"] == "apache-2.0"
    assert metadata["datasets"] == ["ESC50"]  # from the run's recipe
    assert metadata["metrics"] == ["Accuracy"]
    assert {"speechbrain", "audio-classification"} <= set(metadata["tags"])
    assert metadata["library_name"] == "speechbrain"
    assert metadata["pipeline_tag"] == "audio-classification"
    assert "thumbnail" in metadata
    assert ", ".join(LABELS) in body
    # The run's own test score of the exported weights, with its chance level.
    assert "| test | accuracy | 75.0 % |" in body and "(epoch 3)" in body
    assert "Chance on that split: 40.0 %" in body
    assert "- chosen epoch: 3 of 4" in body
    assert (model / "example.wav").is_file()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    printed = _run_snippet(body, elsewhere, monkeypatch)
    assert printed[-1] in LABELS
    assert os.listdir(elsewhere) == []  # a local folder loads in place


def test_card_of_a_checkpoint_export(run, clip, tmp_path, monkeypatch, capsys):
    torch.manual_seed(2)
    encoder, head = _tiny()
    ckpt = run / "save" / "CKPT+2026-01-01+00-00-00+00"
    ckpt.mkdir(parents=True)
    torch.save(encoder.state_dict(), ckpt / "embedding_model.ckpt")
    torch.save(head.state_dict(), ckpt / "classifier.ckpt")
    (ckpt / "CKPT.yaml").write_text("epoch: 2\naccuracy: 0.6\nend-of-epoch: true\n")
    out = tmp_path / "epoch2"
    like = str(run / "model")
    args = ["export", str(ckpt), str(out), "--like", like, "--card", "--example", clip]
    args += ["--hub-id", "someone/ast-esc50"]

    # Not the checkpoint the run scored on test: only its validation score.
    assert main(args) == 0, capsys.readouterr().err
    metadata, body = _card(out)
    assert metadata["datasets"] == ["ESC50"]
    assert "| validation | accuracy | 60.0 % |" in body
    assert "no test score was measured for these weights" in body
    assert "source='someone/ast-esc50'" in body
    assert "someone/ast-esc50/example.wav" in body

    # The checkpoint the run chose and scored: its test score.
    results = json.loads((run / "results.json").read_text())
    results["chosen_epoch"] = 2
    (run / "results.json").write_text(json.dumps(results))
    assert main(args[:-2]) == 0
    metadata, body = _card(out)
    assert "| test | accuracy | 75.0 % |" in body
    printed = _run_snippet(body, tmp_path, monkeypatch)
    assert printed[-1] in LABELS


def test_card_not_measured(tmp_path, monkeypatch, clip, capsys):
    """An imported or hand-made folder: no result is claimed."""
    model = tiny_model_folder(tmp_path)  # multi-label, labels a, b, c
    assert main(["export", model, "--card", "--language", "en"]) == 0
    metadata, body = _card(tmp_path / "tiny_model")
    assert metadata["metrics"] == ["mAP"] and "multi-label" in metadata["tags"]
    assert "datasets" not in metadata  # nothing says what it was trained on
    assert "Not measured" in body and "| test |" not in body
    assert "classify_file('my_clip.wav')" in body
    body = body.replace("'my_clip.wav'", repr(clip))
    assert _run_snippet(body, tmp_path, monkeypatch)[-1] in ["a", "b", "c"]

    # A folder moved away from its run (or another run's) claims nothing either.
    results = {"best_valid": {"mAP": 0.5}, "chosen_epoch": 1}
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert main(["export", model, "--card"]) == 0
    assert "Not measured" in _card(tmp_path / "tiny_model")[1]
    capsys.readouterr()


def test_export_usage_errors(run, tmp_path, capsys):
    model = str(run / "model")
    assert main(["export", model]) == 2  # neither a card nor an output folder
    assert "MODEL_DIR --card" in capsys.readouterr().err
    assert main(["export", str(tmp_path), str(tmp_path / "out")]) == 2  # no --like
    assert "--like MODEL_DIR is required" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nothing"), "--card"]) == 1
    assert "not a model folder" in capsys.readouterr().err
