#!/usr/bin/env python
"""Shard throughput: how many clips per second one CPU core feeds to training.

Decoding the FLAC clips of ``speechbrain-ast shards`` (WebDataset shards,
``speechbrain_ast.training.shards``) and computing their fbank is the work
of the data-loading workers. This measures it on one thread, for the clips
of a real shard folder, and says how many cores keep a GPU fed at
``--target`` clips per second (the figures in ``docs/scaling.md``).

Usage (from the repository root)::

    python benchmarks/shard_throughput.py --shards save/shards
    python benchmarks/shard_throughput.py --shards save/shards --n-clips 256 --target 800

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from speechbrain_ast.training.shards import (  # noqa: E402
    INDEX_FILE,
    decode_audio_bytes,
    read_shard,
)


def measure_throughput(shard_folder, n_clips=64, n_frames=1024, n_mels=128):
    """Clips per second on one CPU thread: decode alone, and decode + fbank.

    Arguments
    ---------
    shard_folder : str
        Shards from ``write_shards``.
    n_clips : int
        Clips to time (cycled if the shards hold fewer).
    n_frames, n_mels : int
        Fbank size (AudioSet: 1024 x 128).

    Returns
    -------
    dict
        ``clips`` timed, ``audio_s_per_clip`` (mean clip duration),
        ``decode_clips_per_s`` and ``decode_fbank_clips_per_s``.

    Example
    -------
    >>> measure_throughput("no/such/shards")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...
    """
    from speechbrain_ast.features import KaldiFbank

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with open(os.path.join(shard_folder, INDEX_FILE), encoding="utf-8") as handle:
            index = json.load(handle)
        rate = index["sample_rate"]
        items = []
        while len(items) < n_clips:
            for shard in index["shards"]:
                for item in read_shard(os.path.join(shard_folder, shard["file"])):
                    items.append(item)
            items = items[: max(n_clips, 1)]
        fbank = KaldiFbank(sample_rate=rate, n_mels=n_mels, n_frames=n_frames)
        start = time.perf_counter()
        signals = [decode_audio_bytes(item["flac"], rate) for item in items]
        decode_s = time.perf_counter() - start
        start = time.perf_counter()
        with torch.no_grad():
            for signal in signals:
                fbank(signal[None], torch.ones(1))
        fbank_s = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    return {
        "clips": len(items),
        "audio_s_per_clip": sum(len(s) for s in signals) / rate / len(signals),
        "decode_clips_per_s": len(items) / decode_s,
        "decode_fbank_clips_per_s": len(items) / (decode_s + fbank_s),
    }


def cores_for_target(result, target):
    """Cores needed to feed ``target`` clips per second, for each measure.

    Arguments
    ---------
    result : dict
        The output of ``measure_throughput``.
    target : float
        Clips per second the training consumes.

    Returns
    -------
    dict
        ``decode_cores_for_target`` and ``decode_fbank_cores_for_target``.

    Example
    -------
    >>> cores_for_target(
    ...     {"decode_clips_per_s": 250.0, "decode_fbank_clips_per_s": 90.0}, 500
    ... )
    {'decode_cores_for_target': 2, 'decode_fbank_cores_for_target': 6}
    """
    return {
        key.replace("clips_per_s", "cores_for_target"): math.ceil(target / result[key])
        for key in ("decode_clips_per_s", "decode_fbank_clips_per_s")
    }


def main(argv=None):
    """Measure the shards of ``--shards`` and print the result as JSON.

    Arguments
    ---------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shards", required=True, help="shard folder")
    parser.add_argument("--n-clips", type=int, default=64, help="clips to time")
    parser.add_argument("--target", type=float, default=500.0, help="clips/s to feed")
    args = parser.parse_args(argv)
    result = measure_throughput(args.shards, args.n_clips)
    result.update(cores_for_target(result, args.target))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
