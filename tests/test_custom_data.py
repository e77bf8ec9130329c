"""The custom-data recipe: your own folder or CSV, bad input, one command.

Preparation is tested in-process on small generated datasets (every bad-input
case of the recipe README); training runs once through ``speechbrain-ast
train`` on the bundled Speech Commands clips (a folder per class), and its
model folder is loaded by ``speechbrain-ast tag`` and SpeechBrain's
``EncoderClassifier``.
"""

import csv
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import yaml
from speechbrain.inference.classifiers import EncoderClassifier

REPO = pathlib.Path(__file__).resolve().parent.parent
RECIPE = REPO / "recipes" / "CustomData"


def _load_prepare():
    spec = importlib.util.spec_from_file_location(
        "custom_data_prepare", RECIPE / "custom_data_prepare.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prep = _load_prepare()


def tone(path, seconds=0.5, rate=16000, channels=1, amplitude=0.3, subtype=None):
    """Write a noisy tone (any rate, channels and format soundfile writes)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * rate)
    signal = amplitude * np.sin(np.linspace(0, 440 * 2 * np.pi * seconds, n))
    signal = signal + 0.01 * np.random.default_rng(len(str(path))).standard_normal(n)
    if channels > 1:
        signal = np.stack([signal] * channels, axis=1)
    soundfile.write(str(path), signal, rate, subtype=subtype)
    return path


def class_folder(root, counts):
    """A folder-per-class dataset with ``counts[class]`` usable clips."""
    for name, count in counts.items():
        for index in range(count):
            tone(root / name / f"{name}_{index}.wav")
    return root


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_any_format_rate_and_channels_are_usable(tmp_path):
    data = class_folder(tmp_path / "data", {"dog": 3})
    tone(data / "cat" / "a.flac", rate=44100, channels=2)
    tone(data / "cat" / "nested" / "b.ogg", rate=22050, subtype="VORBIS")
    tone(data / "cat" / "c.wav", rate=8000, seconds=2.0)
    result = prep.prepare_custom_data(str(data), str(tmp_path / "save"))
    rows = [
        row for split in ("train", "valid", "test") for row in read_rows(result[split])
    ]
    cat = {
        os.path.basename(row["wav"]): float(row["duration"])
        for row in rows
        if row["labels"] == "cat"
    }
    assert cat == pytest.approx({"a.flac": 0.5, "b.ogg": 0.5, "c.wav": 2.0}, abs=1e-3)
    config = yaml.safe_load((tmp_path / "save" / "data_config.yaml").read_text())
    assert config["n_classes"] == 2 and config["multi_label"] is False
    assert (tmp_path / "save" / "classes.txt").read_text().split() == ["cat", "dog"]


def test_bad_files_are_skipped_and_listed_with_the_reason(tmp_path):
    data = class_folder(tmp_path / "data", {"dog": 3, "cat": 3})
    (data / "dog" / "empty.wav").write_bytes(b"")
    (data / "dog" / "corrupt.wav").write_bytes(
        b"RIFF\x10\x00\x00\x00WAVEjunk" + b"\x07" * 64
    )
    soundfile.write(str(data / "cat" / "silent.wav"), np.zeros(8000), 16000)
    tone(data / "cat" / "short.wav", seconds=0.01)
    nan = np.zeros(16000, dtype=np.float32)
    nan[10] = np.nan
    soundfile.write(str(data / "cat" / "nan.wav"), nan, 16000, subtype="FLOAT")
    (data / "cat" / "notes.txt").write_text("not audio")
    result = prep.prepare_custom_data(str(data), str(tmp_path / "save"))
    assert result["counts"]["skipped"] == 6
    reasons = dict(
        line.split("\t")
        for line in (tmp_path / "save" / "skipped.txt").read_text().splitlines()
    )
    by_name = {os.path.basename(path): reason for path, reason in reasons.items()}
    assert by_name["empty.wav"].startswith("file is empty")
    assert by_name["corrupt.wav"].startswith("not readable as audio")
    assert by_name["silent.wav"].startswith("silent")
    assert by_name["short.wav"].startswith("too short")
    assert by_name["nan.wav"].startswith("contains NaN")
    assert by_name["notes.txt"].startswith("not an audio file")
    kept = [
        row["wav"]
        for split in ("train", "valid", "test")
        for row in read_rows(result[split])
    ]
    assert len(kept) == 6 and not any(
        "empty" in path or "silent" in path for path in kept
    )


def test_a_class_with_fewer_than_two_usable_clips_stops_before_writing(tmp_path):
    data = class_folder(tmp_path / "data", {"dog": 3, "cat": 1})
    (data / "cat" / "broken.wav").write_bytes(b"")
    with pytest.raises(
        ValueError, match=r"at least 2 usable clips; too few in: cat \(1\).*broken.wav"
    ):
        prep.prepare_custom_data(str(data), str(tmp_path / "save"))
    assert not (tmp_path / "save" / "train.csv").exists()


def test_a_failed_rerun_keeps_the_previous_outputs(tmp_path):
    data = class_folder(tmp_path / "data", {"dog": 3, "cat": 3})
    save = tmp_path / "save"
    first = prep.prepare_custom_data(str(data), str(save))
    manifest = (save / "train.csv").read_text()
    assert prep.prepare_custom_data(str(data), str(save))["status"] == "up_to_date"
    for path in (data / "cat").iterdir():
        if path.name != "cat_0.wav":
            path.unlink()
    with pytest.raises(ValueError, match="too few in: cat"):
        prep.prepare_custom_data(str(data), str(save))
    assert (save / "train.csv").read_text() == manifest
    assert first["status"] == "prepared"


def test_a_changed_folder_is_prepared_again(tmp_path):
    data = class_folder(tmp_path / "data", {"dog": 3, "cat": 3})
    prep.prepare_custom_data(str(data), str(tmp_path / "save"))
    tone(data / "bird" / "a.wav")
    tone(data / "bird" / "b.wav")
    again = prep.prepare_custom_data(str(data), str(tmp_path / "save"))
    assert again["status"] == "prepared" and again["config"]["n_classes"] == 3


@pytest.mark.parametrize(
    ("header", "line", "message"),
    [
        (
            "file,class",
            "a.wav,dog",
            "needs the columns path and label; it has file, class",
        ),
        ("path,label", "a.wav,", "line 2: empty label"),
        ("path,label", "a.wav,dog;;cat", "line 2: empty label"),
        (
            "path,label,split",
            "a.wav,dog,dev",
            "line 2: split must be train, valid or test",
        ),
    ],
)
def test_csv_errors_name_the_file_and_line(tmp_path, header, line, message):
    table = tmp_path / "data.csv"
    table.write_text(f"{header}\n{line}\n")
    with pytest.raises(ValueError, match=f"data.csv.*{message}"):
        prep.prepare_custom_data(str(table), str(tmp_path / "save"))


def test_a_class_folder_name_with_the_separator_is_an_error(tmp_path):
    data = class_folder(tmp_path / "data", {"dog;cat": 2, "bird": 2})
    with pytest.raises(ValueError, match="dog;cat.*contains ';'"):
        prep.prepare_custom_data(str(data), str(tmp_path / "save"))


def test_csv_split_group_and_multi_label(tmp_path):
    clips = tmp_path / "clips"
    rows = ["path,label,group"]
    for speaker in range(6):
        for take in range(2):
            tone(clips / f"s{speaker}_{take}.wav")
            label = "speech;male" if speaker % 2 else "speech;female"
            rows.append(f"clips/s{speaker}_{take}.wav,{label},speaker{speaker}")
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    result = prep.prepare_custom_data(
        str(tmp_path / "data.csv"), str(tmp_path / "save")
    )
    assert result["config"]["multi_label"] is True
    speakers = {}
    for split in ("train", "valid", "test"):
        for row in read_rows(result[split]):
            speakers.setdefault(os.path.basename(row["wav"]).split("_")[0], set()).add(
                split
            )
    assert all(
        len(splits) == 1 for splits in speakers.values()
    )  # a group stays together
    assert {split for splits in speakers.values() for split in splits} == {
        "train",
        "valid",
        "test",
    }


def test_a_given_split_is_kept(tmp_path):
    rows = ["path,label,split"]
    for index, split in enumerate(["train", "train", "valid", "test"] * 2):
        tone(tmp_path / f"{index}.wav")
        rows.append(f"{index}.wav,{'ab'[index // 4]},{split}")
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    result = prep.prepare_custom_data(
        str(tmp_path / "data.csv"), str(tmp_path / "save")
    )
    assert [result["counts"][split] for split in ("train", "valid", "test")] == [
        4,
        2,
        2,
    ]


def test_the_train_command_trains_exports_and_the_model_tags(samples, tmp_path):
    """`speechbrain-ast train FOLDER` (its default YAML) end to end, then `tag` and EncoderClassifier."""
    output = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    command = [
        sys.executable, "-m", "speechbrain_ast.cli", "train",
        str(samples / "speech_commands_v0.02"), "--output", str(output),
        "--epochs", "1", "--device", "cpu",
        "--", "--embed_dim", "16", "--ecapa_width", "16", "--ecapa_attention", "8", "--noprogressbar",
    ]  # fmt: skip
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((output / "results.json").read_text())
    assert "accuracy" in results["best_valid"]
    assert results["chosen_epoch"] == 1 and results["n_classes"] == 3
    assert "ECAPA_TDNN" in (output / "model" / "hyperparams.yaml").read_text()
    assert results["chance"]["uniform"] == pytest.approx(1 / 3, abs=1e-6)
    # The run explains itself: plan and ETA in the log, summary.md, its last lines printed.
    log = (output / "log.txt").read_text()
    assert "plan: 1 epochs x" in log and "epoch 1/1 done" in log
    assert "split: train" in log and "leakage check" in log
    summary = (output / "summary.md").read_text()
    for part in ("## Data", "chosen epoch: 1 of 1", "(chance: ", "log-mel + logistic regression"):
        assert part in summary, part
    assert "baseline, log-mel + logistic regression on the same split:" in done.stdout
    skipped = (output / "save" / "skipped.txt").read_text()
    assert "README.md" in skipped  # the _background_noise_ folder's text file
    clip = next((samples / "speech_commands_v0.02" / "yes").glob("*.wav"))
    tagged = subprocess.run(
        [sys.executable, "-m", "speechbrain_ast.cli", "tag", str(clip), "--model", str(output / "model"), "--json"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert tagged.returncode == 0, tagged.stderr
    document = json.loads(tagged.stdout)["files"][0]
    labels = [entry["label"] for entry in document["labels"]]
    assert set(labels) <= {"no", "up", "yes"}
    classifier = EncoderClassifier.from_hparams(source=str(output / "model"))
    _, _, _, predicted = classifier.classify_file(str(clip))
    assert predicted[0] in {"no", "up", "yes"}

    # The same command again: prepared data reused, the run not trained again.
    again = subprocess.run(
        command, env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr[-3000:]
    log = (output / "log.txt").read_text()
    assert "manifests up to date" in log
    assert (output / "train_log.txt").read_text().count("epoch: 1,") == 1


def test_the_train_command_reports_a_missing_folder(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "speechbrain_ast.cli", "train", str(tmp_path / "nope"), "--output", str(tmp_path / "o")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert (
        done.stderr.strip() == f"error: {tmp_path / 'nope'}: no such folder or CSV file"
    )


@pytest.mark.parametrize("init", ["audioset", "ssl"])
def test_the_train_command_refuses_pretrained_weights_for_the_default_cnn(tmp_path, init):
    """The default YAML's encoder has no pretrained weights: a clear error before any preparation."""
    done = subprocess.run(
        [sys.executable, "-m", "speechbrain_ast.cli", "train", str(tmp_path), "--output", str(tmp_path / "o"), "--init", init],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    expected = "ast_small_scratch" if init == "ssl" else "ast"
    assert done.stderr.strip().startswith(f"error: --init {init}: ecapa_small_scratch")
    assert f"use --hparams {expected} for --init {init}" in done.stderr
    assert not (tmp_path / "o").exists()
