"""Splits that do not leak: recording groups from file names, and the leakage report.

Measured before: a folder-per-class set of several slices per recording was
split clip by clip, 15 of its 20 test clips had a sibling slice in training,
and nothing warned. Here the custom-data preparation derives recording groups
from the file names, keeps each group in one split, and reports held-out clips
that share a group or their content with training clips.
"""

import csv
import importlib.util
import json
import logging
import pathlib

import numpy as np
import pytest
import soundfile

from speechbrain_ast.training.recording_groups import (
    AUTO_RULES,
    assign_groups,
    group_of,
)

RECIPE = pathlib.Path(__file__).resolve().parent.parent / "recipes" / "CustomData"


def _load_prepare():
    spec = importlib.util.spec_from_file_location(
        "custom_data_prepare_leakage", RECIPE / "custom_data_prepare.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prep = _load_prepare()


def noise(path, seed, seconds=0.6):
    """Write a distinct noisy clip (its content is its own: seeded noise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    signal = 0.2 * np.random.default_rng(seed).standard_normal(int(16000 * seconds))
    soundfile.write(str(path), signal, 16000)
    return path


def esc50_like(root, classes=2, sources=10, takes=3):
    """``<fold>-<source>-<take>-<class>.wav`` in a folder per class, several takes a source."""
    seed = 0
    for label in range(classes):
        for source in range(sources):
            for take in "ABC"[:takes]:
                seed += 1
                noise(root / f"class{label}" / f"1-{label}{source:03d}-{take}-{label}.wav", seed)
    return root


def manifest(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_naming_conventions():
    assert group_of("1-100032-A-0.wav", AUTO_RULES) == "1-100032"
    assert group_of("100032-3-0-0.wav", AUTO_RULES) == "100032"
    assert group_of("0a7c2a8d_nohash_3.wav", AUTO_RULES) == "0a7c2a8d"
    assert group_of("street_take12.flac", AUTO_RULES) == "street"
    assert group_of("0042.wav", AUTO_RULES) is None


def test_takes_of_one_recording_stay_in_one_split(tmp_path):
    data = esc50_like(tmp_path / "data")
    result = prep.prepare_custom_data(str(data), str(tmp_path / "save"), check_leakage=False)
    groups = {split: {row["group"] for row in manifest(result[split])} for split in ("train", "valid", "test")}
    assert groups["test"] and groups["valid"]
    assert not groups["train"] & groups["test"] and not groups["train"] & groups["valid"]
    for split in ("valid", "test"):  # whole recordings: all 3 takes of each group
        rows = manifest(result[split])
        assert len(rows) == 3 * len(groups[split])
    leakage = json.loads((tmp_path / "save" / "leakage.json").read_text())
    assert leakage["shared_group"] == {"valid": 0, "test": 0}


def test_group_regex_none_splits_clip_by_clip(tmp_path, caplog):
    data = esc50_like(tmp_path / "data")
    with caplog.at_level(logging.WARNING):
        result = prep.prepare_custom_data(
            str(data), str(tmp_path / "save"), group_regex="none", check_leakage=False
        )
    # Each file its own group: the leak is counted against the derived recordings.
    test_rows = manifest(result["test"])
    assert all(row["group"] == row["wav"] for row in test_rows)
    assert len(test_rows) == 6  # 10 % of 30 clips per class, clip by clip


def test_a_given_split_that_cuts_recordings_is_reported_loudly(tmp_path, caplog):
    rows = []
    for index in range(12):
        path = noise(tmp_path / "clips" / f"rec{index // 3}_slice{index % 3}.wav", index)
        split = "test" if index in (2, 5) else "valid" if index == 8 else "train"
        rows.append((str(path), f"c{index % 2}", split))
    table = tmp_path / "data.csv"
    with open(table, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "split"])
        writer.writerows(rows)
    with caplog.at_level(logging.WARNING):
        result = prep.prepare_custom_data(str(table), str(tmp_path / "save"))
    assert result["leakage"]["shared_group"] == {"valid": 1, "test": 2}
    assert "LEAKAGE: 1 valid and 2 test clips share a recording group" in caplog.text
    assert "rec0_slice2.wav" in caplog.text or "rec1_slice2.wav" in caplog.text


def test_a_copy_of_a_training_clip_is_found_by_its_content(tmp_path, caplog):
    data = tmp_path / "data"
    for label in ("a", "b"):
        for index in range(6):
            noise(data / label / f"{label}{index}.wav", 100 * ord(label) + index, seconds=2.0)  # distinct seeds: hash() of a str changes per process
    table = tmp_path / "data.csv"
    clips = sorted(data.rglob("*.wav"))
    copy = tmp_path / "copy" / "renamed.wav"
    copy.parent.mkdir()
    copy.write_bytes(clips[0].read_bytes())  # the same recording under another name
    with open(table, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "split"])
        for path in clips:
            writer.writerow([str(path), path.parent.name, "valid" if path.stem.endswith("5") else "train"])
        writer.writerow([str(copy), clips[0].parent.name, "test"])
    with caplog.at_level(logging.WARNING):
        result = prep.prepare_custom_data(str(table), str(tmp_path / "save"))
    assert result["leakage"]["near_duplicate"] == {"valid": 0, "test": 1}
    assert result["leakage"]["examples"]["near_duplicate"][0][0].endswith("renamed.wav")
    assert "near-duplicates of training clips by content" in caplog.text


def test_counter_names_are_not_taken_as_one_recording():
    rows = [{"path": f"dog/dog_{n}.wav", "labels": ["dog"], "group": None} for n in range(5)]
    rows += [{"path": f"cat/cat_{n}.wav", "labels": ["cat"], "group": None} for n in range(5)]
    notes = assign_groups(rows)
    assert len({row["group"] for row in rows}) == 10
    assert len(notes) == 2 and "counter" in notes[0]


def test_the_split_summary_says_when_groups_make_the_shares_impossible(tmp_path, caplog):
    data = tmp_path / "data"
    for speaker in range(6):  # 6 speakers, 4 words each, in two classes
        for word in range(4):
            label = "yes" if word % 2 else "no"
            noise(data / label / f"{speaker:08x}_nohash_{word}.wav", speaker * 10 + word)
    with caplog.at_level(logging.INFO):
        prep.prepare_custom_data(str(data), str(tmp_path / "save"), check_leakage=False)
    assert "split: train" in caplog.text
    assert "groups cannot give the asked shares" in caplog.text


def test_a_bad_group_regex_is_a_clear_error(tmp_path):
    data = esc50_like(tmp_path / "data", sources=3)
    with pytest.raises(ValueError, match="group_regex '\\(' is not a regular expression"):
        prep.prepare_custom_data(str(data), str(tmp_path / "save"), group_regex="(")
