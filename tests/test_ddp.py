"""Distributed data parallel (DDP) training: 2 CPU processes (gloo) vs 1 process.

``torchrun --standalone --nproc_per_node=2`` runs the Speech Commands recipe
with batch 2 per process; a single process runs it with batch 4. Per-sample
randomness is off (mixup 0, SpecAugment 0, no noise) and seed 0 makes
SpeechBrain's single-process shuffling (``ReproducibleRandomSampler``, seed
``SB_GLOBAL_SEED``) draw the same permutation as the ``DistributedSampler``
DDP uses (seed 0), so both runs see the same batches and, with DDP's gradient
averaging, do the same optimisation steps. Validation batches are the same
size in both (6 clips, one batch) so the per-batch loss average is the same.

Checked: the exported weights, the per-epoch validation loss and accuracy and
the test results agree; validation and test cover every clip on the main
process (SpeechBrain does not shard them); the main process alone writes the
manifests, logs, reports and model folder. Also checked without processes:
SpeechBrain's ``DistributedSamplerWrapper`` (what ``Brain`` wraps a balanced
sampler with under DDP) gives each rank a disjoint part of one weighted stream.
"""

import csv
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed
from speechbrain.dataio.sampler import (
    DistributedSamplerWrapper,
    ReproducibleWeightedRandomSampler,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DETERMINISTIC = (
    "--init scratch --embed_dim 32 --depth 1 --num_heads 2 --n_classes 3 "
    "--number_of_epochs 2 --num_workers 0 --device cpu --seed 0 "
    "--mixup_prob 0 --freqm 0 --timem 0 --noise_scale 0 --time_roll 0"
).split()
VALID_LOADER = ["--valid_dataloader_options", "{batch_size: 6, num_workers: 0}"]

needs_gloo = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="torch.distributed with the gloo backend is not available",
)


def recipe_args(samples, output_folder, batch_size):
    return [
        os.path.join(REPO, "recipes", "SpeechCommands", "train.py"),
        os.path.join(REPO, "recipes", "SpeechCommands", "hparams", "ast.yaml"),
        "--data_folder",
        str(samples / "speech_commands_v0.02"),
        "--output_folder",
        str(output_folder),
        "--batch_size",
        str(batch_size),
        *DETERMINISTIC,
        *VALID_LOADER,
    ]


def start(command):
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process):
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, out[-2000:] + err[-4000:]


def read_history(folder):
    with open(folder / "results.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@needs_gloo
def test_two_gloo_processes_match_one_process(samples, tmp_path):
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    runs = [
        start(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                "--nproc_per_node=2",
                *recipe_args(samples, ddp, batch_size=2),
                "--distributed_backend",
                "gloo",
            ]
        ),
        start([sys.executable, *recipe_args(samples, single, batch_size=4)]),
    ]
    for process in runs:
        finish(process)

    # Same optimisation: exported weights agree.
    for name in ("embedding_model", "classifier"):
        a = torch.load(ddp / "model" / f"{name}.ckpt", map_location="cpu")
        b = torch.load(single / "model" / f"{name}.ckpt", map_location="cpu")
        for key in b:
            torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=0)

    # Same validation metrics each epoch, over the whole validation set.
    history_ddp, history_single = read_history(ddp), read_history(single)
    assert len(history_ddp) == len(history_single) == 2
    for row_ddp, row_single in zip(history_ddp, history_single):
        for key in ("valid_loss", "valid_accuracy"):
            assert float(row_ddp[key]) == pytest.approx(
                float(row_single[key]), abs=1e-5
            )

    # Same test results; the main process scored all 6 test clips.
    results_ddp = json.loads((ddp / "results.json").read_text())
    results_single = json.loads((single / "results.json").read_text())
    for metric, value in results_single["best_valid"].items():
        assert results_ddp["best_valid"][metric] == pytest.approx(value, abs=1e-5)
    with open(ddp / "test_best_valid_per_class.csv", newline="") as handle:
        assert sum(int(row["n_positive"]) for row in csv.DictReader(handle)) == 6

    # Only the main process wrote manifests, logs and the model folder.
    log = (ddp / "log.txt").read_text()
    assert log.count("manifests written") == 1
    assert log.count("model folder written") == 1
    train_log = (ddp / "train_log.txt").read_text().splitlines()
    assert [line.split(",")[0] for line in train_log] == [
        "epoch: 1",
        "epoch: 2",
        "Epoch loaded: 2 - test loss: "
        + train_log[-1].split("test loss: ")[1].split(",")[0],
    ]
    assert len(list((ddp / "save").glob("CKPT+*"))) == 1


def test_balanced_sampler_under_ddp_gives_disjoint_parts_of_one_weighted_stream():
    weights = torch.tensor([1.0] * 90 + [9.0] * 10)  # 10 rare clips, half the mass
    sampler = ReproducibleWeightedRandomSampler(
        weights, num_samples=100, replacement=True, seed=3
    )
    ranks = [
        DistributedSamplerWrapper(sampler, num_replicas=2, rank=rank, shuffle=False)
        for rank in range(2)
    ]
    streams = {}
    for epoch in (1, 2):
        for wrapper in ranks:
            wrapper.set_epoch(epoch)  # as Brain does; reaches the weighted sampler
        parts = [list(wrapper) for wrapper in ranks]
        sampler.set_epoch(epoch)
        whole = list(sampler)
        # Rank r takes positions r, r + 2, ... of the one weighted draw.
        assert parts[0] == whole[0::2] and parts[1] == whole[1::2]
        assert len(parts[0]) == len(parts[1]) == 50
        streams[epoch] = whole
    assert streams[1] != streams[2]
    rare = sum(index >= 90 for index in streams[1] + streams[2]) / 200
    assert 0.35 < rare < 0.65  # the 10 rare clips get about half the draws
