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

from sc_prepare import prepare_speech_commands
from speechbrain.utils.distributed import run_on_main

from speechbrain_ast.training import load_datasets, run_experiment, setup_experiment

if __name__ == "__main__":
    hparams, run_opts = setup_experiment(sys.argv[1:])
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
