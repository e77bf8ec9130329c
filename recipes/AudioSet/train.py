#!/usr/bin/env python3
"""Recipe: AST on AudioSet (527-class multi-label tagging).

To run this recipe (balanced set; ``hparams/ast_full.yaml`` for the full set):
> python train.py hparams/ast.yaml --data_folder /path/to/audioset

The data folder holds the official segment CSVs, ``class_labels_indices.csv``
and an ``audio/`` folder of downloaded clips named by YouTube id (see
``audioset_prepare.py`` for the accepted names). Missing or unreadable clips
are skipped and listed in ``<save_folder>/skipped.txt``. The best epoch is
selected by mAP on a held-out part of the training set; the eval set is the
test set; weight averaging (WA) of a range of epochs is evaluated too.

With ``--data_format shards`` the training clips are packed once into
WebDataset tar shards (``<save_folder>/shards``, FLAC at 16 kHz) and streamed
(shuffle buffer, split by process and loader worker, nominal epochs of
``epoch_size`` clips, balanced sampling by repeat factors, resumable inside an
epoch); validation and test still read the manifests. See docs/scaling.md.

Authors
 * speechbrain-ast contributors 2026
"""

import csv
import os
import sys

import torch
from audioset_prepare import prepare_audioset
from speechbrain.dataio.sampler import ReproducibleWeightedRandomSampler
from speechbrain.utils.distributed import run_on_main

from speechbrain_ast.dataio import read_classes
from speechbrain_ast.shards import ShardDataset, write_shards
from speechbrain_ast.training import load_datasets, run_experiment, setup_experiment

DATA_FORMATS = ("csv", "shards")


def balanced_sampler(hparams, train_set):
    """Weighted sampler over the training clips (official label-frequency weights)."""
    path = os.path.join(hparams["save_folder"], "train_weights.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        weights = {row["ID"]: float(row["weight"]) for row in csv.DictReader(handle)}
    ordered = torch.tensor([weights[item_id] for item_id in train_set.data_ids])
    return ReproducibleWeightedRandomSampler(
        ordered, num_samples=len(ordered), replacement=True, seed=hparams["seed"]
    )


def shard_train_set(hparams):
    """Write the training shards once (main process), then stream them."""
    save = hparams["save_folder"]
    run_on_main(
        write_shards,
        kwargs={
            "manifest": os.path.join(save, "train.csv"),
            "output_folder": hparams["shard_folder"],
            "classes": os.path.join(save, "classes.txt"),
            "weights": os.path.join(save, "train_weights.csv"),
            "shard_size": hparams["shard_size"],
            "sample_rate": hparams["sample_rate"],
            "seed": hparams["seed"],
            "num_workers": hparams["shard_workers"],
        },
    )
    return ShardDataset(
        hparams["shard_folder"],
        read_classes(os.path.join(save, "classes.txt")),
        batch_size=hparams["batch_size"],
        sample_rate=hparams["sample_rate"],
        epoch_size=hparams["epoch_size"],
        shuffle_buffer=hparams["shuffle_buffer"],
        weighted=hparams["balanced_sampling"],
        seed=hparams["seed"],
    )


if __name__ == "__main__":
    hparams, run_opts = setup_experiment(sys.argv[1:])
    run_on_main(
        prepare_audioset,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "train_csv": hparams["train_csv"],
            "eval_csv": hparams["eval_csv"],
            "audio_folder": hparams["audio_folder"],
            "labels_csv": hparams["labels_csv"],
            "valid_ratio": hparams["valid_ratio"],
            "seed": hparams["seed"],
            "skip_prep": hparams["skip_prep"],
        },
    )
    sampler = None
    if hparams["data_format"] not in DATA_FORMATS:
        raise ValueError(f"data_format must be one of {DATA_FORMATS}")
    if hparams["data_format"] == "shards":
        datasets = load_datasets(hparams, splits=("valid", "test"))
        datasets["train"] = shard_train_set(hparams)
    else:
        datasets = load_datasets(hparams)
        if hparams["balanced_sampling"]:
            sampler = balanced_sampler(hparams, datasets["train"])
    run_experiment(hparams, run_opts, datasets, train_sampler=sampler)
