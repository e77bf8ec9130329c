"""WebDataset shards: writer, streaming loader, DDP/worker split, weighted sampling, resume.

The shards are written from the AudioSet sample manifests (the recipe's
prepare step on tests/samples/audioset) and from tiny synthetic clips where
a test needs controlled labels.
"""

import csv
import importlib.util
import io
import json
import os
import pathlib
import subprocess
import sys
import tarfile
from collections import Counter

import numpy as np
import pytest
import soundfile
import torch
from speechbrain.utils.checkpoints import Checkpointer

from benchmarks.shard_throughput import measure_throughput
from speechbrain_ast.audio import AudioError, load_audio
from speechbrain_ast.training.dataio import read_classes, targets_from_labels
from speechbrain_ast.training.shards import (
    INDEX_FILE,
    ShardDataset,
    ShardLoader,
    encode_flac,
    read_shard,
    write_shards,
)

REPO = pathlib.Path(__file__).resolve().parent.parent


def _load_prepare():
    path = REPO / "recipes" / "AudioSet" / "audioset_prepare.py"
    spec = importlib.util.spec_from_file_location("shards_test_audioset_prepare", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def audioset(samples, tmp_path_factory):
    """AudioSet sample manifests and their shards (2 clips per shard)."""
    save = tmp_path_factory.mktemp("audioset") / "save"
    _load_prepare().prepare_audioset(
        str(samples / "audioset"), str(save), valid_ratio=0.25
    )
    shards = save / "shards"
    index = write_shards(
        str(save / "train.csv"),
        str(shards),
        str(save / "classes.txt"),
        weights=str(save / "train_weights.csv"),
        shard_size=2,
        num_workers=2,
    )
    return save, shards, index


def read_manifest(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["ID"]: row for row in csv.DictReader(handle)}


def test_writer_stores_every_clip_with_labels_and_weights(audioset):
    save, shards, index = audioset
    rows = read_manifest(save / "train.csv")
    classes = read_classes(str(save / "classes.txt"))
    class_index = {name: i for i, name in enumerate(classes)}
    with open(save / "train_weights.csv", newline="") as handle:
        weights = {row["ID"]: float(row["weight"]) for row in csv.DictReader(handle)}
    assert index["n_clips"] == len(rows) and index["skipped"] == 0
    assert [s["count"] for s in index["shards"]] == [2] * (len(rows) // 2)
    data = ShardDataset(str(shards), classes, batch_size=1)
    seen = set()
    for shard in data.shards:
        for item in read_shard(shard):
            meta = item["meta"]
            seen.add(meta["id"])
            decoded = data.decode(item)
            # 16-bit sources survive 16-bit FLAC exactly.
            assert torch.equal(decoded["sig"], load_audio(rows[meta["id"]]["wav"]))
            expected = targets_from_labels(rows[meta["id"]]["labels"], class_index)
            assert torch.equal(decoded["targets"], expected)
            assert meta["weight"] == pytest.approx(weights[meta["id"]])
    assert seen == set(rows)
    # Same inputs: nothing is rewritten.
    mtimes = {p.name: p.stat().st_mtime_ns for p in shards.iterdir()}
    again = write_shards(
        str(save / "train.csv"),
        str(shards),
        str(save / "classes.txt"),
        weights=str(save / "train_weights.csv"),
        shard_size=2,
    )
    assert again == index
    assert {p.name: p.stat().st_mtime_ns for p in shards.iterdir()} == mtimes


def test_writer_resamples_skips_and_rejects(tmp_path):
    stereo_8k = tmp_path / "stereo.wav"
    soundfile.write(
        stereo_8k, np.random.default_rng(0).uniform(-0.5, 0.5, (4000, 2)), 8000
    )
    (tmp_path / "broken.wav").write_bytes(b"not audio at all")
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "ID,duration,wav,labels\n"
        f"ok,0.5,{stereo_8k},a\n"
        f"gone,0.5,{tmp_path / 'missing.wav'},a\n"
        f"broken,0.5,{tmp_path / 'broken.wav'},b\n"
    )
    index = write_shards(str(manifest), str(tmp_path / "s"), ["a", "b"])
    assert (index["n_clips"], index["skipped"]) == (1, 2)
    skipped = (tmp_path / "s" / "skipped.txt").read_text()
    assert "missing.wav: file not found" in skipped and "broken.wav" in skipped
    item = next(read_shard(str(tmp_path / "s" / index["shards"][0]["file"])))
    data = ShardDataset(str(tmp_path / "s"), ["a", "b"], batch_size=1)
    signal = data.decode(item)["sig"]
    expected = load_audio(str(stereo_8k), 16000)  # mono, resampled as training does
    assert signal.shape == expected.shape == (8000,)
    assert (signal - expected).abs().max() <= 1 / 32768 + 1e-7

    manifest.write_text(f"ID,duration,wav,labels\nx,0.5,{stereo_8k},zebra\n")
    with pytest.raises(ValueError, match="'zebra' is not one of the 2 classes"):
        write_shards(str(manifest), str(tmp_path / "t"), ["a", "b"])
    assert not (tmp_path / "t" / INDEX_FILE).exists()


@pytest.mark.parametrize("n_slots", [2, 3, 4])
def test_slots_read_disjoint_clips_covering_the_data(audioset, n_slots):
    """Ranks x workers: shard-level split (3 shards), item-level when more slots."""
    save, shards, index = audioset
    data = ShardDataset(str(shards), read_classes(str(save / "classes.txt")), 1)
    everything = set(read_manifest(save / "train.csv"))
    for epoch in (1, 2):
        parts = [data.slot_clips(slot, n_slots, epoch) for slot in range(n_slots)]
        assert sum(len(part) for part in parts) == len(everything)
        assert set().union(*parts) == everything


def test_loader_workers_and_ranks_stream_their_own_clips(audioset):
    save, shards, index = audioset
    classes = read_classes(str(save / "classes.txt"))
    world, workers = 2, 2
    for rank in range(world):
        data = ShardDataset(str(shards), classes, batch_size=1, shuffle_buffer=2)
        data.set_distributed(rank, world)
        data.set_epoch(1)
        loader = ShardLoader(data, num_workers=workers)
        ids = [batch.id[0] for batch in loader]
        # Nominal epoch: 6 clips over 2 ranks, batch 1 -> 3 batches per rank.
        assert len(loader) == len(ids) == index["n_clips"] // world
        # Batches alternate between workers; each worker reads its own slot.
        for position, clip in enumerate(ids):
            slot = rank * workers + position % workers
            assert clip in data.slot_clips(slot, world * workers, epoch=1)


def _tiny_clip_folder(tmp_path, labels):
    """One 30 ms clip per label, a manifest and official balanced weights."""
    rows, counts = [], Counter(labels)
    for i, label in enumerate(labels):
        wav = tmp_path / f"{i}.wav"
        soundfile.write(wav, np.full(480, 0.01 * (i % 7)), 16000)
        rows.append(f"c{i},0.03,{wav},{label}")
    (tmp_path / "m.csv").write_text("ID,duration,wav,labels\n" + "\n".join(rows) + "\n")
    weights = [1000 / (counts[label] + 0.01) for label in labels]
    (tmp_path / "w.csv").write_text(
        "ID,weight\n" + "".join(f"c{i},{w}\n" for i, w in enumerate(weights))
    )
    return weights


def test_weighted_sampling_follows_the_weights(tmp_path):
    labels = ["common"] * 36 + ["rare"] * 4
    weights = _tiny_clip_folder(tmp_path, labels)
    write_shards(
        str(tmp_path / "m.csv"),
        str(tmp_path / "s"),
        ["common", "rare"],
        weights=str(tmp_path / "w.csv"),
        shard_size=5,
    )
    draws = 6000

    def stream(weighted, n_slots):
        data = ShardDataset(
            str(tmp_path / "s"),
            ["common", "rare"],
            1,
            shuffle_buffer=50,
            weighted=weighted,
        )
        ids = []
        for slot in range(n_slots):
            items = data.item_stream(slot, n_slots, epoch=1, lazy_items=draws)
            ids += [next(items)["meta"]["id"] for _ in range(draws // n_slots)]
        return Counter(ids)

    for n_slots in (1, 2):  # one process, and two ranks together
        counts = stream(True, n_slots)
        # The official weights give the 4 rare clips half the mass.
        rare = sum(counts[f"c{i}"] for i in range(36, 40)) / draws
        assert rare == pytest.approx(0.5, abs=0.04)
        # Each clip in proportion to its weight (~555 draws vs ~62).
        total = sum(weights)
        for i in (0, 17, 36, 39):
            expected = draws * weights[i] / total
            assert counts[f"c{i}"] == pytest.approx(expected, rel=0.3), i
    uniform = stream(False, 1)
    assert sum(uniform[f"c{i}"] for i in range(36, 40)) / draws == pytest.approx(
        0.1, abs=0.03
    )


@pytest.mark.parametrize("workers", [0, 2])
def test_loader_resumes_inside_an_epoch(audioset, tmp_path, workers):
    save, shards, index = audioset
    classes = read_classes(str(save / "classes.txt"))

    def make_loader():
        data = ShardDataset(
            str(shards),
            classes,
            batch_size=2,
            epoch_size=14,
            shuffle_buffer=3,
            weighted=True,
        )
        loader = ShardLoader(data, num_workers=workers)
        loader.set_epoch(3)
        return loader, Checkpointer(tmp_path / f"ckpt{workers}", {"loader": loader})

    loader, _ = make_loader()
    full = [(batch.id, batch.sig.data) for batch in loader]
    assert len(full) == len(loader) == 7  # nominal epoch: 14 clips, batch 2

    loader, checkpointer = make_loader()
    for step, _batch in enumerate(loader, start=1):
        if step == 3:
            checkpointer.save_checkpoint(end_of_epoch=False)
            break
    loader, checkpointer = make_loader()
    checkpointer.recover_if_possible()
    rest = [(batch.id, batch.sig.data) for batch in loader]
    assert [ids for ids, _ in rest] == [ids for ids, _ in full[3:]]
    for (_, a), (_, b) in zip(rest, full[3:]):
        assert torch.equal(a, b)
    # The next epoch starts from its beginning and differs from this one.
    loader.set_epoch(4)
    assert [batch.id for batch in loader] != [ids for ids, _ in full]


def test_undecodable_audio_in_a_shard_names_shard_and_clip(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    good = encode_flac(torch.zeros(800), 16000)
    with tarfile.open(folder / "train-000000.tar", "w") as tar:
        for key, audio in (("fine", good), ("damaged", good[:40] + b"\x00" * 64)):
            for ext, payload in (
                (
                    "json",
                    json.dumps({"id": key, "labels": "a", "weight": 1.0}).encode(),
                ),
                ("flac", audio),
            ):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    index = {
        "classes": ["a"],
        "shards": [{"file": "train-000000.tar", "count": 2}],
        "n_clips": 2,
        "weight_sum": 2.0,
        "sample_rate": 16000,
    }
    (folder / INDEX_FILE).write_text(json.dumps(index))
    data = ShardDataset(str(folder), ["a"], batch_size=2, shuffle_buffer=1)
    with pytest.raises(
        AudioError, match=r"train-000000\.tar:damaged: not readable as audio"
    ):
        list(ShardLoader(data))


def test_throughput_measure_runs(audioset):
    save, shards, index = audioset
    result = measure_throughput(str(shards), n_clips=4, n_frames=128)
    assert result["clips"] == 4 and result["audio_s_per_clip"] == pytest.approx(2.0)
    assert result["decode_clips_per_s"] > result["decode_fbank_clips_per_s"] > 0


def test_audioset_recipe_trains_from_shards(samples, tmp_path):
    out = tmp_path / "run"
    command = [
        sys.executable,
        str(REPO / "recipes" / "AudioSet" / "train.py"),
        str(REPO / "recipes" / "AudioSet" / "hparams" / "ast.yaml"),
        "--data_folder",
        str(samples / "audioset"),
        "--output_folder",
        str(out),
        "--valid_ratio 0.25 --wa_start 1 --wa_end 2 --keep_checkpoints 2".split(),
        "--init scratch --embed_dim 32 --depth 1 --num_heads 2 --number_of_epochs 2".split(),
        "--batch_size 2 --num_workers 0 --device cpu".split(),
        "--data_format shards --shard_size 2 --shuffle_buffer 3 --epoch_size 8".split(),
        "--balanced_sampling True".split(),
    ]
    command = [
        part for arg in command for part in ([arg] if isinstance(arg, str) else arg)
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads((out / "results.json").read_text())
    facts = {"chosen_epoch", "n_classes", "chance"}
    assert facts <= set(results)
    assert set(results) - facts == {"best_valid", "wa_valid", "wa"}  # WA scored on valid first
    assert 0 <= results["best_valid"]["mAP"] <= 1
    index = json.loads((out / "save" / "shards" / INDEX_FILE).read_text())
    assert index["n_clips"] == 6 and len(index["shards"]) == 3
    # Nominal epochs of 8 clips, batch 2: 4 steps per epoch.
    assert "4/4" in done.stderr
