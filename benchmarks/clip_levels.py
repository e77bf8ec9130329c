#!/usr/bin/env python3
"""How much of a split's input is recording level: per-clip fbank statistics by split.

For every clip of a split CSV (``path,label,split,group``, as
``small_data_splits.py`` writes them) the raw Kaldi fbank's mean over frames
and bins is its level (log-mel units: 1 is 4.3 dB); the spread of those
levels over clips, and their mean per split, say how much a model fed
globally normalised features can learn "who recorded this" instead of
"what this is". Per-clip normalisation (``normalization: clip``) removes the
level; this prints what it removes::

    python benchmarks/clip_levels.py splits/speech_commands_4speakers.csv

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import csv
import statistics
import sys

import torch

from speechbrain_ast.audio import load_audio
from speechbrain_ast.features import KaldiFbank


def clip_levels(rows, fbank):
    """``{split: [level, ...]}``: each clip's mean raw fbank (real frames only)."""
    levels = {}
    with torch.no_grad():
        for row in rows:
            feats = fbank(load_audio(row["path"]).unsqueeze(0))[0]
            real = feats[(feats != 0).any(dim=-1)]
            levels.setdefault(row["split"], []).append(real.mean().item())
    return levels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv", help="a split CSV of small_data_splits.py")
    args = parser.parse_args(argv)
    with open(args.csv, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    levels = clip_levels(rows, KaldiFbank())
    every = [level for split in levels.values() for level in split]
    print(f"{args.csv}: {len(every)} clips, level std over clips {statistics.pstdev(every):.2f}")
    low, high = min(levels["train"]), max(levels["train"])
    for split in ("train", "valid", "test"):
        if split in levels:
            values = levels[split]
            outside = sum(not low <= value <= high for value in values) / len(values)
            print(
                f"  {split}: {len(values)} clips, mean level {statistics.mean(values):.2f}, "
                f"std {statistics.pstdev(values):.2f}, "
                f"{100 * outside:.1f} % outside the training range"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
