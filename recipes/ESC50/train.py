#!/usr/bin/env python3
"""Recipe: AST on ESC-50 (50-way environmental sound classification), one fold.

To run one fold:
> python train.py hparams/ast.yaml --data_folder /path/to/ESC-50-master --test_fold 5

All five folds with a summary table: ``python run_folds.py hparams/ast.yaml
--data_folder ...``. The best epoch is selected on a validation split carved
from the training folds; the test fold is only monitored (official protocol
number) and evaluated.

Authors
 * speechbrain-ast contributors 2026
"""

import sys

from esc50_prepare import prepare_esc50
from speechbrain.utils.distributed import run_on_main

from speechbrain_ast.training import load_datasets, run_experiment, setup_experiment

if __name__ == "__main__":
    hparams, run_opts = setup_experiment(sys.argv[1:])
    run_on_main(
        prepare_esc50,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "test_fold": hparams["test_fold"],
            "valid_ratio": hparams["valid_ratio"],
            "sample_rate": hparams["sample_rate"],
            "seed": hparams["seed"],
            "skip_prep": hparams["skip_prep"],
        },
    )
    datasets = load_datasets(hparams)
    run_experiment(hparams, run_opts, datasets)
