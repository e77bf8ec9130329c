"""The small-data comparison scripts: fixed speaker splits, the SSL pool, the table."""

import csv
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import clip_levels  # noqa: E402
import small_data_compare  # noqa: E402
import small_data_splits  # noqa: E402


def _speech_rows(n_speakers=30, words=("yes", "no")):
    return [
        {
            "path": f"/{word}/{speaker}_{take}.flac",
            "label": word,
            "group": f"s{speaker}",
        }
        for speaker in range(n_speakers)
        for word in words
        for take in range(1 + speaker % 3)
    ]


def test_speaker_split_keeps_speakers_apart_and_is_order_independent():
    rows = small_data_splits.speaker_split(_speech_rows())
    split_of = {}
    for row in rows:
        assert split_of.setdefault(row["group"], row["split"]) == row["split"]
    counts = {
        name: sum(row["split"] == name for row in rows)
        for name in ("train", "valid", "test")
    }
    assert counts["train"] > counts["valid"] > 0 and counts["test"] > 0
    shuffled = small_data_splits.speaker_split(list(reversed(_speech_rows())))
    assert {(r["path"], r["split"]) for r in shuffled} == {
        (r["path"], r["split"]) for r in rows
    }


def test_ssl_pool_leaves_out_every_test_clip(tmp_path):
    speech = small_data_splits.speaker_split(_speech_rows())
    esc = [
        {
            "path": f"/esc/{i}.flac",
            "label": "dog",
            "split": ["train", "test"][i % 2],
            "group": str(i),
        }
        for i in range(6)
    ]
    small_data_splits.write_pool([speech, esc], str(tmp_path / "pool.csv"))
    with open(tmp_path / "pool.csv", newline="") as handle:
        pool = {row["path"] for row in csv.DictReader(handle)}
    tested = {row["path"] for row in speech + esc if row["split"] == "test"}
    assert pool and not pool & tested
    assert pool | tested == {row["path"] for row in speech + esc}


def test_rotated_esc10_splits_test_every_fold_once_and_keep_recordings_apart(tmp_path):
    """The five ESC-10 shift sets: each fold in one split, each fold tested once."""
    (tmp_path / "meta").mkdir()
    (tmp_path / "audio").mkdir()
    records = [
        (f"{fold}-{clip}-A-0.wav", fold, f"{fold}{clip}", category, esc10)
        for fold in range(1, 6)
        for clip in range(4)
        for category, esc10 in (("dog", "True"), ("cow", "False"))
    ]
    with open(tmp_path / "meta" / "esc50.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "fold", "src_file", "category", "esc10"])
        for name, fold, source, category, esc10 in records:
            writer.writerow(
                [f"{category}{name}", fold, source + category, category, esc10]
            )
            (tmp_path / "audio" / f"{category}{name}").touch()
    test_folds = []
    for fold_splits in [small_data_splits.ESC10_FOLD_SPLITS] + [
        small_data_splits.rotated_fold_splits(fold)
        for fold in small_data_splits.ESC10_TEST_FOLDS
    ]:
        rows = small_data_splits.esc50_rows(str(tmp_path), fold_splits, esc10_only=True)
        assert {row["label"] for row in rows} == {"dog"}
        groups = {
            split: {row["group"] for row in rows if row["split"] == split}
            for split in ("train", "valid", "test")
        }
        assert all(groups.values())
        assert not groups["train"] & (groups["valid"] | groups["test"])
        assert not groups["valid"] & groups["test"]
        test_folds.append(
            {Path(row["path"]).name[3] for row in rows if row["split"] == "test"}
        )
    assert test_folds == [{"4"}, {"1"}, {"2"}, {"3"}, {"5"}]


def _finished_run(folder, valid_curve, test_accuracy, wall_s, lrs=None):
    folder.mkdir(parents=True)
    lrs = lrs or [6e-4] * len(valid_curve)
    with open(folder / "results.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "lr", "valid_accuracy"])
        writer.writerows(
            (epoch, lr, acc) for epoch, (lr, acc) in enumerate(zip(lrs, valid_curve), 1)
        )
    (folder / "results.json").write_text(
        json.dumps(
            {"best_valid": {"accuracy": test_accuracy}, "wa": {"accuracy": 0.99}}
        )
    )
    (folder / "run.json").write_text(json.dumps({"wall_s": wall_s}))


def test_table_reports_best_epoch_test_scores_and_gain(tmp_path):
    root = tmp_path / "spoken_digits_speakers"
    _finished_run(
        root / "scratch" / "seed1", [0.2, 0.6, 0.5], 0.70, 120, [1e-4, 6e-4, 6e-4]
    )
    _finished_run(root / "scratch" / "seed2", [0.3, 0.4], 0.80, 180)
    (root / "baseline.json").write_text(json.dumps({"test": 0.40, "valid": 0.5}))
    table = small_data_compare.table(str(tmp_path), ["spoken_digits_speakers"])
    row = table.splitlines()[2]
    # Valid: best epoch per seed; test: the best epoch's (never the WA's 0.99).
    assert "| 60.0 / 40.0 |" in row and "| 70.0 / 80.0 | 75.0 |" in row
    assert "| 40.0 (50.0) | +35.0 |" in row and "2.0 / 3.0" in row
    # The swing leaves out the warm-up epoch (0.2 -> 0.6 would be 40 points).
    assert "| 10.0 / 10.0, 10.0 / 10.0 |" in row
    # What the last quarter settled at, and how far the chosen epoch's valid
    # score is from its test score (60 - 70, 40 - 80).
    assert "| 50.0 / 40.0 | -10.0 / -40.0 |" in row


def test_clip_levels_sees_a_quieter_copy_and_counts_it_outside(
    samples, tmp_path, capsys
):
    import soundfile
    import torch

    from speechbrain_ast.audio import load_audio

    source = sorted(samples.glob("**/*.wav"))[1]
    wav = load_audio(str(source))
    rows = []
    for split, gain in (("train", 1.0), ("test", 0.05)):
        path = tmp_path / f"{split}.wav"
        soundfile.write(str(path), (wav * gain).numpy(), 16000)
        rows.append({"path": str(path), "label": "x", "split": split, "group": split})
    levels = clip_levels.clip_levels(rows, clip_levels.KaldiFbank())
    # 26 dB quieter: the level falls by up to 2 * ln(20) = 6.0 (floored bins move less).
    drop = levels["train"][0] - levels["test"][0]
    assert 1.0 < drop <= 6.0, drop
    table = tmp_path / "split.csv"
    with open(table, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert clip_levels.main([str(table)]) == 0
    test_line = capsys.readouterr().out.splitlines()[-1]
    assert test_line.strip().startswith("test: 1 clips")
    assert test_line.endswith("100.0 % outside the training range")
    assert torch.isfinite(torch.tensor(levels["test"])).all()


def test_word_trim_keeps_the_loud_part_and_same_names_of_two_words(tmp_path):
    import numpy as np
    import soundfile

    rows = []
    for word in ("yes", "no"):
        folder = tmp_path / word
        folder.mkdir()
        rng = np.random.default_rng(0)
        clip = (0.002 * rng.standard_normal(16000)).astype("float32")  # noise floor
        clip[6400:11200] += 0.5 * np.sin(np.arange(4800) * 0.3).astype("float32")
        soundfile.write(str(folder / "spk_nohash_0.flac"), clip, 16000)
        rows.append({"path": str(folder / "spk_nohash_0.flac"), "label": word})
    digital = small_data_splits.trimmed_rows(rows, str(tmp_path / "digital"))
    words = small_data_splits.trimmed_rows(rows, str(tmp_path / "words"), top_db=30)
    # Noise is not digital silence: nothing cut; by level, the 0.3 s tone is left
    # (on the 10 ms frame grid).
    assert soundfile.info(digital[0]["path"]).frames == 16000
    assert soundfile.info(words[0]["path"]).frames == 4800
    assert len({row["path"] for row in words}) == 2  # one clip name, two words


def test_clip_pooled_ecapa_leaves_padding_out_of_its_means():
    import torch
    from clip_pooling import ClipPooledECAPA
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN

    torch.manual_seed(0)
    kwargs = {"channels": [8, 8, 8, 8, 24], "attention_channels": 4}
    kwargs.update(se_channels=4, lin_neurons=4)
    ecapa = ClipPooledECAPA(20, **kwargs).eval()
    clip = torch.randn(1, 40, 20)
    padded = torch.cat([clip, torch.zeros(1, 24, 20)], dim=1)
    # Pooled over the 40 real frames, as SpeechBrain's ECAPA with their length.
    lengths = torch.tensor([39.5 / 64])
    expected = ECAPA_TDNN.forward(ecapa, padded, lengths)
    assert torch.allclose(ecapa(padded), expected, atol=1e-5)
    window = ECAPA_TDNN.forward(ecapa, padded)
    assert not torch.allclose(ecapa(padded), window, atol=1e-3)
    silent = torch.zeros(2, 64, 20)  # no real frame: every frame counts, no NaN
    assert torch.isfinite(ecapa(silent)).all()
