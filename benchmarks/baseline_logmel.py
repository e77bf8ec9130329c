#!/usr/bin/env python3
"""A simple baseline on a recipe's own split: log-mel statistics + logistic regression.

Every clip becomes the mean and the standard deviation over time of its
128-bin Kaldi fbank (the AST input features, cut to the same number of
frames as the model sees), 256 numbers; a ``StandardScaler`` and a
``LogisticRegression`` are fitted on the training manifest. The inverse
regularisation ``C`` is chosen on the validation manifest; the test manifest
is scored once, with the chosen ``C``. Multi-label manifests (labels joined
with ``;``) get one-vs-rest regression and mAP.

Any AST claim on a split should stand beside this number on the same split::

    python benchmarks/baseline_logmel.py results/my_run/save --n_frames 498

where the folder holds ``train.csv``, ``valid.csv``, ``test.csv`` and
``classes.txt`` as every recipe's prepare step writes them.

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import json
import sys
import time

import torch

from speechbrain_ast.training.logmel_baseline import (  # noqa: F401 (re-exported)
    C_GRID,
    clip_features,
    run_baseline,
)


def main(argv=None):
    """Command line: print and optionally save the baseline result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "save_folder", help="folder with train/valid/test.csv and classes.txt"
    )
    parser.add_argument(
        "--n_frames", type=int, default=None, help="frames per clip (default: all)"
    )
    parser.add_argument(
        "--output",
        default=None,
        help="write the result as JSON here (with the per-clip test predictions)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.time()
    result = run_baseline(args.save_folder, args.n_frames)
    result["seconds"] = round(time.time() - start, 1)
    # the per-clip predictions go to --output only (paired_accuracy.py reads them)
    shown = {key: value for key, value in result.items() if key != "test_predictions"}
    print(json.dumps(shown, indent=2))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
