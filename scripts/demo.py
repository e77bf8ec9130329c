#!/usr/bin/env python3
"""`make demo`: train a small classifier on bundled real clips, export it, tag a file.

Runs the ESC-50 recipe (``recipes/ESC50/train.py``) on the 400 bundled ESC-10
clips in ``demo/esc10`` (10 environmental sound classes, CC BY 3.0; the most
energetic 1 s of each clip) with the recipe's small from-scratch ECAPA-TDNN
(``hparams/ecapa_small_scratch.yaml``, the encoder of the default of
``speechbrain-ast train``), on CPU: folds 1-4 train (10 % of the recordings held out for
validation), fold 5 tests. Then

1. prints the test accuracy of the exported model (the epoch chosen on
   validation), against chance (10 %),
2. tags a held-out test clip with ``speechbrain-ast tag`` using the exported
   model folder.

Training uses one CPU thread by default: on a shared or busy machine, two
threads competing with another process for the cores were measured 4x slower
than one (``--threads N`` to change it). A second run reuses the finished
run in the output folder and says so; ``--fresh`` trains again.

``--hparams xvector_small_scratch`` trains SpeechBrain's Xvector TDNN instead
(validation level with the ECAPA's on both seeds measured) and ``--hparams
ast_small_scratch`` the recipe's small AST (same data, features, augmentation
and schedule; its validation was lower on both seeds, benchmarks/RESULTS.md); ``--seed``
sets the recipe's seed (which also draws the validation recordings).

Usage: python scripts/demo.py [--output_folder results/demo] [--epochs N]
                              [--threads N] [--fresh] [--hparams NAME]
                              [--seed N]
"""

import argparse
import csv
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

from speechbrain_ast.augment import time_augment_widths
from speechbrain_ast.schedules import halving_milestones

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA = REPO / "demo" / "esc10"

# The recipe's small from-scratch YAML, at the demo clips' length (1 s).
N_FRAMES = 100
DEMO_OVERRIDES = [
    "--n_classes", "10", "--n_frames", str(N_FRAMES),
    *(token for key, value in time_augment_widths(N_FRAMES).items()
      for token in (f"--{key}", str(value))),
    "--monitor_test", "False", "--num_workers", "0", "--device", "cpu",
]  # fmt: skip


def schedule_overrides(epochs):
    """The YAML's schedule rule (``halving_milestones``) for another epoch count.

    Arguments
    ---------
    epochs : int
        Number of epochs.

    Returns
    -------
    list of str
        Command-line overrides.

    Example
    -------
    >>> schedule_overrides(60)
    ['--number_of_epochs', '60', '--lr_decay_start', '30', '--lr_decay_step', '10', '--wa_start', '31']
    """
    overrides = ["--number_of_epochs", str(epochs)]
    for key, value in halving_milestones(epochs).items():
        overrides += [f"--{key}", str(value)]
    return overrides


def main():
    """Train (or reuse), evaluate, export and tag; exit non-zero if the model did not learn."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output_folder", default=str(REPO / "results" / "demo"))
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU threads for training"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="train again over a finished run"
    )
    parser.add_argument(
        "--hparams",
        default="ecapa_small_scratch",
        choices=["xvector_small_scratch", "ecapa_small_scratch", "ast_small_scratch"],
        help="the ESC-50 recipe's YAML to train",
    )
    parser.add_argument("--seed", type=int, default=None, help="the recipe's seed")
    args = parser.parse_args()

    start = time.time()
    output = pathlib.Path(args.output_folder)
    finished = (output / "results.json").is_file() and (output / "model").is_dir()
    if finished and not args.fresh:
        print(
            f"== reusing the finished demo run in {output} (trained earlier); "
            "run `python scripts/demo.py --fresh` or delete the folder to train again",
            flush=True,
        )
    else:
        if args.fresh and output.exists():
            shutil.rmtree(output)
        recipe = REPO / "recipes" / "ESC50"
        command = [
            sys.executable, str(recipe / "train.py"),
            str(recipe / "hparams" / f"{args.hparams}.yaml"),
            "--data_folder", str(DATA), "--output_folder", str(output),
            *schedule_overrides(args.epochs), *DEMO_OVERRIDES,
        ]  # fmt: skip
        if args.seed is not None:
            command += ["--seed", str(args.seed)]
        model = {"xvector": "an Xvector", "ecapa": "an ECAPA-TDNN"}.get(
            args.hparams.split("_")[0], "a small AST"
        )
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        print(
            f"== training {model} on {DATA.relative_to(REPO)} with {args.threads} "
            f"CPU thread(s), {args.epochs} epochs (2-3 min on a 2-core CPU; "
            "a progress bar per epoch):",
            flush=True,
        )
        print("   " + " ".join(command[1:]), flush=True)
        subprocess.run(command, check=True, env=env)

    results = json.loads((output / "results.json").read_text())
    # The exported model: the weight average when the YAML switches it on.
    accuracy = results.get("wa", results["best_valid"])["accuracy"]
    n_classes = len((output / "save" / "classes.txt").read_text().split())
    print(
        f"\n== test accuracy of the exported model: {accuracy:.1%} "
        f"(chance {1 / n_classes:.0%}, {n_classes} classes, held-out fold 5)"
    )
    with open(output / "save" / "test.csv", newline="") as handle:
        row = next(csv.DictReader(handle))
    held_out = pathlib.Path(row["wav"])
    print(f"\n== speechbrain-ast tag {held_out.name} (true class: {row['labels']})")
    subprocess.run(
        [sys.executable, "-m", "speechbrain_ast.cli", "tag", str(held_out),
         "--model", str(output / "model"), "--top-k", "3"],
        check=True,
    )  # fmt: skip
    print(f"\nmodel folder: {output / 'model'}  ({time.time() - start:.0f} s in total)")
    if accuracy < 2.0 / n_classes:
        sys.exit(f"demo model did not learn: accuracy {accuracy:.1%}")


if __name__ == "__main__":
    main()
