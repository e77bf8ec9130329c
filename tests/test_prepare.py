"""Tests of the data preparation scripts (ESC-50, Speech Commands, AudioSet).

Each test copies the bundled samples (tests/samples) to a temporary folder and
damages the copy where needed; the samples themselves are never written.
"""

import csv
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile
from speechbrain.dataio.dataio import load_data_csv

REPO = pathlib.Path(__file__).resolve().parent.parent


def _load(relative_path, name):
    """Import a recipe's prepare script from its file."""
    spec = importlib.util.spec_from_file_location(name, REPO / relative_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


esc50 = _load("recipes/ESC50/esc50_prepare.py", "test_esc50_prepare")
sc = _load("recipes/SpeechCommands/sc_prepare.py", "test_sc_prepare")
audioset = _load("recipes/AudioSet/audioset_prepare.py", "test_audioset_prepare")

MANIFEST_HEADER = "ID,duration,wav,labels"
SPLITS = ("train", "valid", "test")


def read_rows(path):
    """Rows of a manifest as a list of dicts."""
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def header(path):
    """First line of a text file."""
    with open(path, encoding="utf-8") as file:
        return file.readline().rstrip("\n")


def skipped_lines(save):
    """``{path or id: reason}`` from skipped.txt (empty if absent)."""
    path = save / "skipped.txt"
    if not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t", 1) for line in lines)


def snapshot(folder):
    """``{file name: (mtime_ns, bytes)}`` of the files of a folder."""
    return {
        p.name: (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def write_tone(path, sample_rate=16000, seconds=1.0, channels=1):
    """Write a sine tone as 16-bit PCM."""
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    if channels > 1:
        tone = np.stack([tone] * channels, axis=1)
    soundfile.write(str(path), tone, sample_rate, subtype="PCM_16")


def corrupt(path):
    """Replace a file by the first bytes of a wav header (unreadable)."""
    data = path.read_bytes()
    path.write_bytes(data[:20])


@pytest.fixture
def esc_copy(samples, tmp_path):
    """A writable copy of the ESC-50 samples."""
    folder = tmp_path / "ESC-50-master"
    shutil.copytree(samples / "ESC-50-master", folder)
    return folder


@pytest.fixture
def sc_copy(samples, tmp_path):
    """A writable copy of the Speech Commands samples."""
    folder = tmp_path / "speech_commands_v0.02"
    shutil.copytree(samples / "speech_commands_v0.02", folder)
    return folder


@pytest.fixture
def audioset_copy(samples, tmp_path):
    """A writable copy of the AudioSet-format samples."""
    folder = tmp_path / "audioset"
    shutil.copytree(samples / "audioset", folder)
    return folder


# --------------------------------------------------------------------- ESC-50


def test_esc50_samples(esc_copy, tmp_path):
    """Samples: columns, test fold, one held-out recording per class, paths."""
    save = tmp_path / "save"
    result = esc50.prepare_esc50(str(esc_copy), str(save))
    assert result["status"] == "prepared"
    assert result["counts"] == {
        "train": 6,
        "valid": 2,
        "test": 2,
        "classes": 2,
        "skipped": 0,
        "resampled": 0,
    }
    assert result["skipped"] is None and not (save / "skipped.txt").exists()
    assert (save / "classes.txt").read_text() == "dog\nrooster\n"
    rows = {}
    for split in SPLITS:
        assert header(save / f"{split}.csv") == MANIFEST_HEADER + ",fold"
        rows[split] = read_rows(save / f"{split}.csv")
        loaded = load_data_csv(str(save / f"{split}.csv"))
        assert set(loaded) == {row["ID"] for row in rows[split]}
    assert {row["fold"] for row in rows["test"]} == {"5"}
    assert "5" not in {row["fold"] for row in rows["train"] + rows["valid"]}
    # one recording of each class held out
    assert sorted(row["labels"] for row in rows["valid"]) == ["dog", "rooster"]
    ids = [row["ID"] for split in SPLITS for row in rows[split]]
    assert len(ids) == len(set(ids)) == 10
    for row in rows["train"]:
        assert os.path.isabs(row["wav"]) and os.path.isfile(row["wav"])
        assert row["wav"].startswith(str(esc_copy))  # 16 kHz: used in place
        assert float(row["duration"]) == 5.0
        assert row["ID"] == os.path.basename(row["wav"])[:-4]
    assert esc50.esc50_folds(str(esc_copy)) == [1, 2, 3, 4, 5]
    # the parent folder of ESC-50-master is accepted as well
    assert esc50.find_esc50_folder(str(tmp_path)) == str(esc_copy)


def test_esc50_bad_files_and_resampling(esc_copy, tmp_path):
    """Missing/empty/corrupt/non-audio clips and duplicate rows are reported; 44.1 kHz is resampled."""
    audio = esc_copy / "audio"
    (audio / "1-100032-A-0.wav").unlink()  # missing
    (audio / "1-26806-A-1.wav").write_bytes(b"")  # empty
    corrupt(audio / "2-114280-A-0.wav")  # corrupt wav
    (audio / "2-100786-A-1.wav").write_text("not audio at all\n")  # non-audio
    write_tone(audio / "3-136288-A-0.wav", 44100, 5.0, channels=2)  # 44.1k stereo
    meta = esc_copy / "meta" / "esc50.csv"
    lines = meta.read_text().splitlines()
    meta.write_text("\n".join([*lines, lines[-1]]) + "\n")  # duplicate row
    save = tmp_path / "save"
    result = esc50.prepare_esc50(str(esc_copy), str(save), valid_ratio=0.0)
    skipped = skipped_lines(save)
    assert result["counts"]["skipped"] == len(skipped) == 5
    assert result["skipped"] == str(save / "skipped.txt")
    assert skipped[str(audio / "1-100032-A-0.wav")] == "file not found"
    assert "empty" in skipped[str(audio / "1-26806-A-1.wav")]
    assert "not readable" in skipped[str(audio / "2-114280-A-0.wav")]
    assert "not readable" in skipped[str(audio / "2-100786-A-1.wav")]
    assert "duplicate" in skipped["5-194930-A-1.wav"]
    rows = {
        row["ID"]: row for split in SPLITS for row in read_rows(save / f"{split}.csv")
    }
    assert len(rows) == 6 and not read_rows(save / "valid.csv")
    resampled = rows["3-136288-A-0"]
    assert resampled["wav"] == str(save / "audio_16k" / "3-136288-A-0.wav")
    info = soundfile.info(resampled["wav"])
    assert (info.samplerate, info.channels, info.frames) == (16000, 1, 80000)
    assert info.subtype == "PCM_16" and float(resampled["duration"]) == 5.0
    assert result["counts"]["resampled"] == 1
    # a new split reuses the resampled copy instead of writing it again
    before = os.stat(resampled["wav"]).st_mtime_ns
    again = esc50.prepare_esc50(str(esc_copy), str(save), valid_ratio=0.0, seed=7)
    assert again["counts"]["resampled"] == 0
    assert os.stat(resampled["wav"]).st_mtime_ns == before


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda line: line.replace(",dog,", ",wolf,"), "unknown category 'wolf'"),
        (lambda line: line.replace(",0,dog,", ",3,dog,"), "has target 3"),
        (lambda line: line.replace("1,0,dog", "one,0,dog"), "must be integers"),
        (lambda line: line.rsplit(",", 3)[0], "malformed row"),
    ],
)
def test_esc50_metadata_errors(esc_copy, tmp_path, edit, message):
    """A bad metadata row raises an error naming the row."""
    meta = esc_copy / "meta" / "esc50.csv"
    lines = meta.read_text().splitlines()
    lines[1] = edit(lines[1])
    meta.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=message) as error:
        esc50.prepare_esc50(str(esc_copy), str(tmp_path / "save"))
    assert "line 2" in str(error.value)


def test_esc50_bad_arguments(esc_copy, tmp_path):
    """Unknown test fold, bad ratio and missing data raise clear errors."""
    with pytest.raises(ValueError, match="test_fold 6"):
        esc50.prepare_esc50(str(esc_copy), str(tmp_path / "a"), test_fold=6)
    with pytest.raises(ValueError, match="valid_ratio"):
        esc50.prepare_esc50(str(esc_copy), str(tmp_path / "a"), valid_ratio=1.0)
    with pytest.raises(FileNotFoundError, match="esc50.csv"):
        esc50.prepare_esc50(str(tmp_path / "nowhere"), str(tmp_path / "a"))


def test_esc50_validation_draw_keeps_recordings_together():
    """Validation takes whole recordings, per class, deterministically."""
    clips = [
        {"ID": f"{c}-{s}-{t}", "src_file": f"{c}{s}", "category": c, "target": i}
        for i, c in enumerate(["dog", "rooster"])
        for s in range(20)
        for t in "ABC"[: 1 + s % 3]
    ]
    valid = esc50._draw_validation(clips, 0.1, 1234)
    assert valid == esc50._draw_validation(clips, 0.1, 1234)
    assert valid != esc50._draw_validation(clips, 0.1, 99)
    chosen = {clip["src_file"] for clip in clips if clip["ID"] in valid}
    # whole recordings: every take of a chosen recording is in validation
    assert valid == {clip["ID"] for clip in clips if clip["src_file"] in chosen}
    assert sorted(src[:3] for src in chosen) == ["dog", "dog", "roo", "roo"]


def test_esc50_folds_share_resampled_copies(esc_copy, tmp_path):
    """The fold runner writes one folder per fold and resamples once."""
    write_tone(esc_copy / "audio" / "3-136288-A-0.wav", 44100, 5.0)
    cv = tmp_path / "cv"
    results = esc50.prepare_esc50_folds(str(esc_copy), str(cv), folds=[1, 2])
    assert sorted(results) == [1, 2]
    assert [results[k]["counts"]["resampled"] for k in (1, 2)] == [1, 0]
    for fold, result in results.items():
        assert result["test"] == str(cv / f"fold{fold}" / "test.csv")
        assert {row["fold"] for row in read_rows(result["test"])} == {str(fold)}
        rows = read_rows(result["train"]) + read_rows(result["valid"])
        wavs = {row["ID"]: row["wav"] for row in rows}
        assert wavs["3-136288-A-0"] == str(cv / "audio_16k" / "3-136288-A-0.wav")


# ------------------------------------------------------------ Speech Commands


def test_speech_commands_samples(sc_copy, tmp_path):
    """Samples: the lists give valid/test, the rest is train; sorted words."""
    save = tmp_path / "save"
    result = sc.prepare_speech_commands(str(sc_copy), str(save))
    assert result["counts"] == {
        "train": 12,
        "valid": 6,
        "test": 6,
        "classes": 3,
        "skipped": 0,
    }
    assert (save / "classes.txt").read_text() == "no\nup\nyes\n"
    rows = {}
    for split in SPLITS:
        assert header(save / f"{split}.csv") == MANIFEST_HEADER
        rows[split] = read_rows(save / f"{split}.csv")
        load_data_csv(str(save / f"{split}.csv"))
    listed = {
        "valid": (sc_copy / "validation_list.txt").read_text().split(),
        "test": (sc_copy / "testing_list.txt").read_text().split(),
    }
    for split, entries in listed.items():
        expected = sorted(str(sc_copy / entry) for entry in entries)
        assert sorted(row["wav"] for row in rows[split]) == expected
    for row in rows["train"]:
        relative = os.path.relpath(row["wav"], sc_copy)
        assert relative not in listed["valid"] + listed["test"]
        word, name = relative.split(os.sep)
        assert row["labels"] == word and row["ID"] == f"{word}_{name[:-4]}"
        assert float(row["duration"]) == 1.0


def test_speech_commands_bad_files(sc_copy, tmp_path):
    """Bad files, stray lines and duplicate clips are reported, not fatal."""
    (sc_copy / "yes" / "03401e93_nohash_0.wav").write_bytes(b"")  # empty, valid list
    corrupt(sc_copy / "no" / "0c40e715_nohash_0.wav")  # corrupt wav
    (sc_copy / "no" / "fake_nohash_0.wav").write_text("text\n")  # non-audio
    (sc_copy / "up" / "notes.txt").write_text("x\n")  # not an audio extension
    write_tone(sc_copy / "up" / "stereo_nohash_0.wav", 44100, 1.0, channels=2)
    write_tone(sc_copy / "up" / "flac_nohash_0.flac", 16000, 1.0)
    shutil.copy(  # the same clip twice: .wav is used
        sc_copy / "up" / "flac_nohash_0.flac", sc_copy / "up" / "0c40e715_nohash_0.flac"
    )
    (sc_copy / "empty_word").mkdir()
    (sc_copy / "_extra").mkdir()
    write_tone(sc_copy / "_extra" / "a_nohash_0.wav")
    with open(sc_copy / "validation_list.txt", "a") as file:
        file.write("yes/gone_nohash_0.wav\n\nyes/1093c8e7_nohash_0.wav\n")
    save = tmp_path / "save"
    result = sc.prepare_speech_commands(str(sc_copy), str(save))
    skipped = skipped_lines(save)
    assert result["counts"]["skipped"] == len(skipped) == 8
    assert "empty" in skipped[str(sc_copy / "yes" / "03401e93_nohash_0.wav")]
    assert "not readable" in skipped[str(sc_copy / "no" / "0c40e715_nohash_0.wav")]
    assert "not readable" in skipped[str(sc_copy / "no" / "fake_nohash_0.wav")]
    assert "not a .wav" in skipped[str(sc_copy / "up" / "notes.txt")]
    assert "same clip" in skipped[str(sc_copy / "up" / "0c40e715_nohash_0.flac")]
    assert "without" in skipped[str(sc_copy / "empty_word")]
    assert "no such clip" in skipped["yes/gone_nohash_0.wav"]
    both = str(sc_copy / "yes" / "1093c8e7_nohash_0.wav")
    assert "kept in test" in skipped[both]
    assert (save / "classes.txt").read_text() == "no\nup\nyes\n"
    rows = {s: {r["ID"]: r for r in read_rows(save / f"{s}.csv")} for s in SPLITS}
    assert "yes_1093c8e7_nohash_0" in rows["test"]
    assert "yes_1093c8e7_nohash_0" not in rows["valid"]
    assert rows["train"]["up_flac_nohash_0"]["wav"].endswith(".flac")
    stereo = rows["train"]["up_stereo_nohash_0"]
    assert stereo["wav"] == str(sc_copy / "up" / "stereo_nohash_0.wav")
    assert float(stereo["duration"]) == 1.0
    assert rows["train"]["up_0c40e715_nohash_0"]["wav"].endswith(".wav")
    assert [len(rows[s]) for s in SPLITS] == [12 - 1 + 2, 6, 6 - 1]


def test_speech_commands_missing_list(sc_copy, tmp_path):
    """A missing split list is an error naming the file."""
    (sc_copy / "testing_list.txt").unlink()
    with pytest.raises(FileNotFoundError, match="testing_list.txt"):
        sc.prepare_speech_commands(str(sc_copy), str(tmp_path / "save"))


# ------------------------------------------------------------------- AudioSet


def test_audioset_samples(audioset_copy, tmp_path):
    """Samples: eval is test, display names joined with ';', official weights."""
    save = tmp_path / "save"
    result = audioset.prepare_audioset(str(audioset_copy), str(save))
    assert result["counts"] == {
        "train": 7,
        "valid": 1,
        "test": 4,
        "classes": 527,
        "skipped": 0,
    }
    with open(audioset_copy / "class_labels_indices.csv", newline="") as file:
        names = [row["display_name"] for row in csv.DictReader(file)]
    assert (save / "classes.txt").read_text().splitlines() == names
    rows = {}
    for split in SPLITS:
        assert header(save / f"{split}.csv") == MANIFEST_HEADER
        rows[split] = read_rows(save / f"{split}.csv")
        load_data_csv(str(save / f"{split}.csv"))
    assert {row["ID"] for row in rows["test"]} == {
        "-q4IDwUWf9s",
        "0GHC57S3ODQ",
        "27J7TjutvBo",
        "2HG82klNiTY",
    }
    test = {row["ID"]: row for row in rows["test"]}
    # labels in class index order, display names joined with ';'
    assert test["-q4IDwUWf9s"]["labels"] == "Crying, sobbing;Baby cry, infant cry"
    assert float(test["-q4IDwUWf9s"]["duration"]) == 2.0
    # weights: 1000 / (count + 0.01) summed over a clip's labels
    train = rows["train"]
    counts = {}
    for row in train:
        for label in row["labels"].split(";"):
            counts[label] = counts.get(label, 0) + 1
    weights = read_rows(save / "train_weights.csv")
    assert header(save / "train_weights.csv") == "ID,weight"
    assert [w["ID"] for w in weights] == [row["ID"] for row in train]
    for row, weight in zip(train, weights):
        expected = sum(1000 / (counts[x] + 0.01) for x in row["labels"].split(";"))
        assert float(weight["weight"]) == pytest.approx(expected)


def test_audioset_names_and_bad_rows(audioset_copy, tmp_path):
    """File naming patterns, bad rows, unknown labels and bad clips."""
    audio = audioset_copy / "audio"
    renames = {
        "-D61Cy47Sog.wav": "Y-D61Cy47Sog.wav",
        "-dy_3hsDsuE.wav": "-dy_3hsDsuE_0.wav",
        "-qIHnTjTnzE.wav": "sub/-qIHnTjTnzE_0.000_5.000.flac",
        "033fIqeCc7c.wav": "Y033fIqeCc7c_0_5.wav",
        "0KnWS354HFI.wav": "0KnWS354HFI_30.wav",  # wrong start time
    }
    for old, new in renames.items():
        (audio / new).parent.mkdir(exist_ok=True)
        data, rate = soundfile.read(str(audio / old))
        soundfile.write(str(audio / new), data, rate)
        (audio / old).unlink()
    (audio / "0QQ5v4_M47M.wav").write_bytes(b"")  # empty
    corrupt(audio / "0cllMpBZC-c.wav")  # corrupt
    (audio / "README.txt").write_text("not a clip\n")
    write_tone(audio / "extraextra1.wav")  # kept, labels partly unknown
    write_tone(audio / "extraextra2.wav")  # only unknown labels
    write_tone(audio / "extraextra3.wav", 44100, 1.0, channels=2)  # used as is
    train_csv = audioset_copy / "balanced_train_segments.csv"
    with open(train_csv, "a") as file:
        file.write('-D61Cy47Sog, 0.000, 5.000, "/m/09x0r"\n')  # duplicate id
        file.write("broken row without labels\n")  # malformed
        file.write('missingclip, 0.000, 5.000, "/m/09x0r"\n')  # no audio
        file.write('27J7TjutvBo, 0.000, 5.000, "/m/09x0r"\n')  # also in eval
    (audioset_copy / "more_segments.csv").write_text(
        "# YTID, start_seconds, end_seconds, positive_labels\n"
        'extraextra1, 0.000, 10.000, "/m/nope,/m/09x0r, /m/05zppz"\n'
        'extraextra2, 0.000, 10.000, "/m/nope"\n'
        'extraextra3, 0.000, 10.000, "/m/09x0r"\n'
    )
    save = tmp_path / "save"
    result = audioset.prepare_audioset(
        str(audioset_copy),
        str(save),
        train_csv=["balanced_train_segments.csv", "more_segments.csv"],
        valid_ratio=0.0,
    )
    skipped = skipped_lines(save)
    assert result["counts"]["skipped"] == len(skipped) == 9
    assert result["counts"]["train"] == 7 and result["counts"]["valid"] == 0
    assert "repeated YouTube id" in skipped["-D61Cy47Sog"]
    assert "malformed" in skipped["balanced_train_segments.csv line 13"]
    assert "no audio file" in skipped["missingclip"]
    assert "evaluation set" in skipped["27J7TjutvBo"]
    assert "start time 0.0" in skipped["0KnWS354HFI"]
    assert "empty" in skipped[str(audio / "0QQ5v4_M47M.wav")]
    assert "not readable" in skipped[str(audio / "0cllMpBZC-c.wav")]
    assert "/m/nope dropped" in skipped["extraextra1"]
    assert "clip skipped" in skipped["extraextra2"]
    train = {row["ID"]: row for row in read_rows(save / "train.csv")}
    assert set(train) == {
        "-D61Cy47Sog",
        "-dy_3hsDsuE",
        "-qIHnTjTnzE",
        "033fIqeCc7c",
        "0Qs9piqfswQ",
        "extraextra1",
        "extraextra3",
    }
    assert train["-D61Cy47Sog"]["wav"] == str(audio / "Y-D61Cy47Sog.wav")
    assert train["-qIHnTjTnzE"]["wav"].endswith("sub/-qIHnTjTnzE_0.000_5.000.flac")
    assert train["extraextra1"]["labels"] == "Speech;Male speech, man speaking"
    assert float(train["extraextra3"]["duration"]) == 1.0
    assert len(read_rows(save / "train_weights.csv")) == 7


def test_audioset_label_list_checks(audioset_copy, tmp_path):
    """A class list that the manifests cannot hold is rejected."""
    labels = audioset_copy / "class_labels_indices.csv"
    text = labels.read_text()
    labels.write_text(text.replace('"Speech"', '"Speech;talk"'))
    with pytest.raises(ValueError, match="contains ';'"):
        audioset.prepare_audioset(str(audioset_copy), str(tmp_path / "a"))
    labels.write_text(text.replace('"Male speech, man speaking"', '"Speech"'))
    with pytest.raises(ValueError, match="repeated display name"):
        audioset.prepare_audioset(str(audioset_copy), str(tmp_path / "a"))
    labels.write_text(text)
    with pytest.raises(FileNotFoundError, match="nothere"):
        audioset.prepare_audioset(
            str(audioset_copy), str(tmp_path / "a"), audio_folder="nothere"
        )


def test_audioset_clip_names():
    """Readings of clip file names."""
    assert audioset.parse_clip_name("Y-D61Cy47Sog_30.000_40.000.mp3") == [
        ("-D61Cy47Sog", 30.0)
    ]
    assert audioset.parse_clip_name("-D61Cy47Sog_30.ogg") == [("-D61Cy47Sog", 30.0)]
    assert audioset.parse_clip_name("-D61Cy47Sog.WAV") == [("-D61Cy47Sog", None)]
    assert audioset.parse_clip_name("short.wav") == []
    assert audioset.parse_clip_name("-D61Cy47Sog_x.wav") == []
    assert audioset.parse_clip_name("-D61Cy47Sog.txt") == []


# ----------------------------------------------- idempotence, failing re-runs

CASES = {
    "esc50": (esc50.prepare_esc50, "esc_copy", {"valid_ratio": 0.5}),
    "speech_commands": (sc.prepare_speech_commands, "sc_copy", None),
    "audioset": (audioset.prepare_audioset, "audioset_copy", {"valid_ratio": 0.3}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_idempotent_and_rerun_on_new_options(case, request, tmp_path):
    """Same options: nothing rewritten; new options: rebuilt."""
    prepare, fixture, changed = CASES[case]
    data = request.getfixturevalue(fixture)
    save = tmp_path / "save"
    first = prepare(str(data), str(save))
    assert first["status"] == "prepared"
    before = snapshot(save)
    assert "prepare_options.json" in before
    second = prepare(str(data), str(save))
    assert second["status"] == "up_to_date"
    assert second["counts"]["train"] == first["counts"]["train"]
    assert snapshot(save) == before
    assert prepare(str(data), str(save), skip_prep=True)["status"] == "skip_prep"
    if changed is None:  # Speech Commands has no option but the data folder
        moved = tmp_path / "moved"
        shutil.copytree(data, moved)
        third = prepare(str(moved), str(save))
    else:
        third = prepare(str(data), str(save), **changed)
    assert third["status"] == "prepared"
    after = snapshot(save)
    assert after["train.csv"] != before["train.csv"]
    assert not [name for name in os.listdir(save) if name.endswith(".tmp")]


@pytest.mark.parametrize("case", sorted(CASES))
def test_failing_rerun_keeps_previous_outputs(case, request, tmp_path):
    """A re-run that fails leaves the previous outputs as they were."""
    prepare, fixture, changed = CASES[case]
    data = request.getfixturevalue(fixture)
    save = tmp_path / "save"
    prepare(str(data), str(save))
    before = snapshot(save)
    shutil.rmtree(data)
    with pytest.raises(FileNotFoundError):
        prepare(str(data), str(save), **(changed or {}))
    assert snapshot(save) == before


def test_crash_while_writing_keeps_previous_outputs(esc_copy, tmp_path, monkeypatch):
    """A crash while writing the manifests leaves the old ones intact."""
    save = tmp_path / "save"
    esc50.prepare_esc50(str(esc_copy), str(save))
    before = snapshot(save)
    real_writer = csv.writer
    calls = []

    def failing_writer(*args, **kwargs):
        """Fail on the second manifest."""
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_writer(*args, **kwargs)

    monkeypatch.setattr(esc50.csv, "writer", failing_writer)
    with pytest.raises(OSError, match="disk full"):
        esc50.prepare_esc50(str(esc_copy), str(save), valid_ratio=0.5)
    monkeypatch.undo()
    assert snapshot(save) == before
    assert esc50.prepare_esc50(str(esc_copy), str(save))["status"] == "up_to_date"


# ------------------------------------------------------------- shared data


def test_speech_commands_full_mini_layout(shared_data, tmp_path):
    """The full mini Speech Commands layout made by make_layouts.py."""
    tool = shared_data.parent / "tools" / "make_layouts.py"
    subprocess.run(
        [sys.executable, str(tool), "--out", str(tmp_path), "--only", "speechcommands"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    data = tmp_path / "speech_commands_v0.02"
    result = sc.prepare_speech_commands(str(data), str(tmp_path / "save"))
    counts = result["counts"]
    n_valid = len((data / "validation_list.txt").read_text().split())
    n_test = len((data / "testing_list.txt").read_text().split())
    assert counts["classes"] == 35 and counts["skipped"] == 0
    assert (counts["valid"], counts["test"]) == (n_valid, n_test)
    assert counts["train"] + n_valid + n_test == 716
    for split in SPLITS:
        words = {row["labels"] for row in read_rows(result[split])}
        assert len(words) == 35  # every word in every split
