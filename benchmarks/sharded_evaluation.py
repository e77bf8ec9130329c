#!/usr/bin/env python3
"""Evaluation time with the set sharded over 2 gloo processes vs 1 process.

Each process scores its ``EvaluationShardSampler`` share of the same clips
(random 5 s waveforms at 16 kHz, as ESC-50's test fold: 400 clips by
default) with the small AST of ``ast_small_scratch.yaml`` (128 wide, 4 blocks,
128x2 frame patches, Kaldi fbank computed in the process), the scores are
gathered with ``gather_tagging_stats``, and the metrics computed on the whole
set. Prints the wall time of 1 and of 2 processes (1 torch thread each) and
checks that both score every clip once with the same accuracy::

    python benchmarks/sharded_evaluation.py --clips 400

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import json
import os
import sys
import tempfile
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from speechbrain_ast.features import FixedNormalization, KaldiFbank  # noqa: E402
from speechbrain_ast.model import (  # noqa: E402
    AudioSpectrogramTransformer,
    ClassificationHead,
)
from speechbrain_ast.training.distributed import (  # noqa: E402
    EvaluationShardSampler,
    gather_tagging_stats,
)
from speechbrain_ast.training.metrics import TaggingStats  # noqa: E402

N_CLASSES, N_FRAMES, BATCH = 50, 512, 12


def build_model():
    """The demo-size model (``ast_small_scratch``), random weights, seed 0."""
    torch.manual_seed(0)
    encoder = AudioSpectrogramTransformer(
        n_frames=N_FRAMES,
        embed_dim=128,
        depth=4,
        num_heads=4,
        patch_size=(128, 2),
        fstride=128,
        tstride=2,
        pooling="patches",
    )
    norm = FixedNormalization(dataset="esc50")
    return KaldiFbank(n_frames=N_FRAMES), norm, encoder, ClassificationHead(128, N_CLASSES)


def score_share(n_clips, rank, n_ranks):
    """Score this rank's share; return the whole set's stats (gathered)."""
    fbank, norm, encoder, head = build_model()
    encoder.eval()
    generator = torch.Generator().manual_seed(1)
    waves = 0.1 * torch.randn(n_clips, 5 * 16000, generator=generator)
    labels = torch.arange(n_clips) % N_CLASSES
    share = list(EvaluationShardSampler(n_clips, rank=rank, n_ranks=n_ranks))
    stats = TaggingStats()
    with torch.no_grad():
        for start in range(0, len(share), BATCH):
            batch = share[start : start + BATCH]
            logits = head(encoder(norm(fbank(waves[batch])))).squeeze(1)
            stats.append([f"clip{i}" for i in batch], logits.softmax(-1), labels[batch])
    return gather_tagging_stats(stats)


def worker(rank, n_ranks, init_file, out):
    """One process of the timed run."""
    torch.set_num_threads(1)
    if n_ranks > 1:
        torch.distributed.init_process_group(
            "gloo", init_method=f"file://{init_file}", rank=rank, world_size=n_ranks
        )
    try:
        began = time.perf_counter()
        whole = score_share(int(os.environ["SHARD_BENCH_CLIPS"]), rank, n_ranks)
        summary = whole.summarize()
        seconds = time.perf_counter() - began
        if rank == 0:
            with open(out, "w", encoding="utf-8") as handle:
                json.dump(
                    {"seconds": seconds, "clips": summary["n_clips"],
                     "accuracy": summary["accuracy"], "ids": whole.ids == sorted(
                         whole.ids, key=lambda name: int(name[4:]))},
                    handle,
                )
    finally:
        if n_ranks > 1:
            torch.distributed.destroy_process_group()


def main(argv=None):
    """Time 1 and 2 processes; print a small table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=400)
    args = parser.parse_args(argv)
    os.environ["SHARD_BENCH_CLIPS"] = str(args.clips)
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for n_ranks in (1, 2, 1, 2):  # alternated, twice
            out = os.path.join(scratch, f"{n_ranks}.json")
            init = os.path.join(scratch, f"init{n_ranks}{len(results)}")
            torch.multiprocessing.spawn(worker, args=(n_ranks, init, out), nprocs=n_ranks)
            with open(out, encoding="utf-8") as handle:
                run = json.load(handle)
            results.setdefault(n_ranks, []).append(run)
    for n_ranks, runs in results.items():
        seconds = min(run["seconds"] for run in runs)
        print(f"{n_ranks} process(es): {seconds:.2f} s (best of {len(runs)}), "
              f"{runs[0]['clips']} clips scored, accuracy {runs[0]['accuracy']:.4f}, "
              f"dataset order {runs[0]['ids']}")
    one, two = (min(r["seconds"] for r in results[n]) for n in (1, 2))
    print(f"speed-up of 2 processes: {one / two:.2f}x (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
