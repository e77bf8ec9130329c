#!/usr/bin/env python3
"""Recipe: AST on Speech Commands V2-35 (35-way keyword classification).

To run this recipe:
> python train.py hparams/ast.yaml --data_folder /path/to/speech_commands_v0.02

Selects the epoch with the best validation accuracy and reports its test
accuracy (the paper's protocol), then exports a model folder to
``<output_folder>/model``.

Authors
 * speechbrain-ast contributors 2026
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from sc_prepare import prepare_speech_commands
from speechbrain.utils.distributed import run_on_main

from speechbrain_ast.training import load_datasets, run_experiment

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
        prepare_speech_commands,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "skip_prep": hparams["skip_prep"],
        },
    )
    datasets = load_datasets(hparams)
    run_experiment(hparams, run_opts, datasets)
