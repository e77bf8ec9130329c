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

Authors
 * speechbrain-ast contributors 2026
"""

import csv
import os
import sys

import speechbrain as sb
import torch
from audioset_prepare import prepare_audioset
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.sampler import ReproducibleWeightedRandomSampler
from speechbrain.utils.distributed import run_on_main

from speechbrain_ast.training import load_datasets, run_experiment


def balanced_sampler(hparams, train_set):
    """Weighted sampler over the training clips (official label-frequency weights)."""
    path = os.path.join(hparams["save_folder"], "train_weights.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        weights = {row["ID"]: float(row["weight"]) for row in csv.DictReader(handle)}
    ordered = torch.tensor([weights[item_id] for item_id in train_set.data_ids])
    return ReproducibleWeightedRandomSampler(
        ordered, num_samples=len(ordered), replacement=True, seed=hparams["seed"]
    )


if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
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
    datasets = load_datasets(hparams)
    sampler = None
    if hparams["balanced_sampling"]:
        sampler = balanced_sampler(hparams, datasets["train"])
    run_experiment(hparams, run_opts, datasets, train_sampler=sampler)
