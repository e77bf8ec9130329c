#!/usr/bin/env python3
"""Sound event detection on synthetic recordings with known boundaries.

Builds recordings by concatenating held-out ESC-50 clips (fold 5, which the
recipe and the demo never train on) of different classes, separated by gaps
of digital silence or quiet white noise, and scores the events that
``AudioTagger.detect_events`` finds with the DCASE metrics of
``speechbrain_ast.tagging.event_metrics``:

* event-based F1, 1 s collar: onset within 1 s and offset within
  max(1 s, 50 % of the event's length) of the reference (``onset+offset``),
  and the onset-only variant;
* segment-based F1 and error rate on 1 s segments.

Reference events: each clip is trimmed to its audible part (from the first
to the last 20 ms frame within 40 dB of the clip's loudest frame; ESC-50
clips are padded with digital silence) and the trimmed clip is one event.
Gaps between clips (and before the first) are 1-3 s long (``--gap-seconds``),
at random either silence or white noise at -50 dBFS RMS (``--gap-kind``).
Each recording holds clips of distinct classes, every fold-5 clip of the
chosen classes is used once.

Every configuration of the grid (window, hop, frame rule, threshold, median
filter, level gate) is reported; none is tuned on these recordings except by
looking at the table, so the best row is an optimistic figure. The defaults
(``--rule auto``, the rule's own threshold) are those of ``tag --events``.

Usage::

    python benchmarks/event_detection.py --model MODEL_DIR \\
        --esc50 ESC-50-master --classes esc10 --hop 0.25 --out results.json

``--esc50`` is a folder with ``meta/esc50.csv`` and ``audio/`` (the official
layout, .wav, or a FLAC copy).
"""

import argparse
import csv
import itertools
import json
import os
import platform
import sys
import time

import numpy
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from speechbrain_ast.audio import load_audio  # noqa: E402
from speechbrain_ast.tagging.event_metrics import (  # noqa: E402
    event_based_scores,
    segment_based_scores,
)
from speechbrain_ast.tagging.events import (  # noqa: E402
    Event,
    default_event_rule,
    events_from_tagging,
)
from speechbrain_ast.tagging.tagger import AudioTagger  # noqa: E402

RATE = 16000


def audible_extent(wav, frame=320, range_db=40.0):
    """First and last sample of the part within ``range_db`` of the peak frame."""
    n_frames = max(1, wav.numel() // frame)
    frames = wav[: n_frames * frame].reshape(n_frames, frame)
    level = 10 * torch.log10(frames.pow(2).mean(dim=1) + 1e-12)
    active = torch.nonzero(level >= level.max() - range_db).flatten()
    return int(active[0]) * frame, (int(active[-1]) + 1) * frame


def read_fold(esc50, fold, classes):
    """``[(path, category)]`` of one fold, ESC-10 or all classes."""
    rows = []
    with open(os.path.join(esc50, "meta", "esc50.csv"), newline="") as handle:
        for row in csv.DictReader(handle):
            if int(row["fold"]) != fold:
                continue
            if classes == "esc10" and row["esc10"] != "True":
                continue
            stem = os.path.splitext(row["filename"])[0]
            for extension in (".wav", ".flac"):
                path = os.path.join(esc50, "audio", stem + extension)
                if os.path.isfile(path):
                    rows.append((path, row["category"]))
                    break
            else:
                raise FileNotFoundError(
                    f"{esc50}/audio/{stem}.wav (or .flac) not found"
                )
    return rows


def build_recordings(
    clips, per_recording, seed, label_map=None, gap_seconds=(1.0, 3.0), gap_kind="mixed"
):
    """Concatenate clips of distinct classes with gaps; return recordings.

    Each recording is ``(name, waveform, [Event, ...])``. Gaps last
    ``gap_seconds`` (min, max) and are silence, noise, or either at random
    (``gap_kind`` "silence", "noise", "mixed").
    """
    rng = numpy.random.default_rng(seed)
    pool = [clips[i] for i in rng.permutation(len(clips))]
    recordings = []
    while pool:
        chosen, seen = [], set()
        for item in list(pool):
            if item[1] not in seen:
                chosen.append(item)
                seen.add(item[1])
                pool.remove(item)
            if len(chosen) == per_recording:
                break
        parts, events, position = [], [], 0
        for path, category in chosen:
            gap = int(rng.uniform(*gap_seconds) * RATE)
            noisy = rng.random() >= 0.5
            if gap_kind == "silence" or (gap_kind == "mixed" and not noisy):
                parts.append(torch.zeros(gap))
            else:
                noise = torch.from_numpy(rng.standard_normal(gap)).float()
                parts.append(noise * 10 ** (-50 / 20))
            position += gap
            wav = load_audio(path, sample_rate=RATE)
            first, stop = audible_extent(wav)
            clip = wav[first:stop]
            parts.append(clip)
            label = label_map.get(category, category) if label_map else category
            events.append(
                Event(label, position / RATE, (position + clip.numel()) / RATE)
            )
            position += clip.numel()
        tail = int(rng.uniform(1.0, 3.0) * RATE)
        parts.append(torch.zeros(tail))
        name = f"synthetic_{len(recordings):03d}.wav"
        recordings.append((name, torch.cat(parts), events))
    return recordings


def evaluate(
    tagger,
    recordings,
    windows,
    hops,
    thresholds,
    medians,
    levels,
    batch_size,
    rules,
    silence_gates=(True,),
):
    """Score every configuration of the grid; return one row per configuration.

    ``silence_gates``: True scores with the silence gate of ``tag --events``
    (no event in a frame whose peak is below ``SILENCE_THRESHOLD``), False
    without it (the rule before the gate).

    A threshold of None is the rule's own (``default_event_rule``); rule
    ``"auto"`` is the one that suits the model, as ``tag --events`` picks it.
    """
    reference = {name: events for name, _, events in recordings}
    durations = {name: wav.numel() / RATE for name, wav, _ in recordings}
    rows = []
    for window, hop in itertools.product(windows, hops):
        if hop > (window or tagger.window_samples / RATE):
            continue
        start = time.perf_counter()
        tagged = {
            name: tagger.tag_waveform(
                wav,
                sample_rate=RATE,
                top_k=1,
                hop_seconds=hop,
                window_seconds=window,
                batch_size=batch_size,
                path=name,
            )
            for name, wav, _ in recordings
        }
        seconds = time.perf_counter() - start
        waveforms = {name: wav for name, wav, _ in recordings}
        for rule, threshold, median, level, gate in itertools.product(
            rules, thresholds, medians, levels, silence_gates
        ):
            if rule == "auto":
                rule = default_event_rule(tagger.multi_label)[0]
            if threshold is None:
                threshold = default_event_rule(rule == "threshold")[1]
            estimated = {
                name: events_from_tagging(
                    result,
                    tagger.labels,
                    thresholds=threshold,
                    median_seconds=median,
                    min_level_db=level,
                    # Without the waveform no frame is gated as silent (the old rule).
                    waveform=waveforms[name] if gate else None,
                    sample_rate=RATE,
                    rule=rule,
                ).events
                for name, result in tagged.items()
            }
            full = event_based_scores(reference, estimated, t_collar=1.0)
            onset = event_based_scores(
                reference, estimated, t_collar=1.0, evaluate_offset=False
            )
            segment = segment_based_scores(reference, estimated, 1.0, durations)
            rows.append(
                {
                    "window_s": window or round(tagger.window_samples / RATE, 4),
                    "hop_s": hop,
                    "rule": rule,
                    "threshold": threshold,
                    "median_s": median,
                    "min_level_db": level,
                    "silence_gate": gate,
                    "event_f1": full["f1"],
                    "event_f1_onset_only": onset["f1"],
                    "segment_f1": segment["f1"],
                    "segment_error_rate": segment["error_rate"],
                    "n_estimated": full["tp"] + full["fp"],
                    "tagging_seconds": round(seconds, 2),
                    "estimated": estimated,
                }
            )
    return rows


def markdown(rows, n_events, n_recordings, audio_seconds):
    """The result table."""
    lines = [
        f"{n_recordings} recordings, {n_events} reference events, "
        f"{audio_seconds / 60:.1f} min of audio",
        "",
        "| window (s) | hop (s) | rule | threshold | median (s) | level gate (dBFS) "
        "| silence gate | event F1 (onset+offset) | event F1 (onset only) "
        "| segment F1 | segment ER | events found |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['window_s']:g} | {row['hop_s']:g} | {row['rule']} "
            f"| {row['threshold']:g} "
            f"| {row['median_s']:g} "
            f"| {'-' if row['min_level_db'] is None else format(row['min_level_db'], 'g')} "
            f"| {'on' if row['silence_gate'] else 'off'} "
            f"| {row['event_f1']:.1%} "
            f"| {row['event_f1_onset_only']:.1%} | {row['segment_f1']:.1%} "
            f"| {row['segment_error_rate']:.2f} | {row['n_estimated']} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, help="model folder")
    parser.add_argument(
        "--esc50", required=True, help="ESC-50 folder (meta/esc50.csv, audio/)"
    )
    parser.add_argument("--classes", choices=("esc10", "all"), default="esc10")
    parser.add_argument("--fold", type=int, default=5, help="held-out fold")
    parser.add_argument("--per-recording", type=int, default=5, help="clips each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--window",
        type=float,
        nargs="+",
        default=[0.0],
        help="window lengths in seconds (0: the model input)",
    )
    parser.add_argument("--hop", type=float, nargs="+", default=[0.25])
    parser.add_argument(
        "--rule",
        choices=("auto", "threshold", "top"),
        nargs="+",
        default=["auto"],
        help="frame rules (auto: the model's, as tag --events)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        nargs="+",
        default=[None],
        help="thresholds (default: the rule's own, 0.5 threshold / 0 top)",
    )
    parser.add_argument("--median", type=float, nargs="+", default=[0.0, 1.0])
    parser.add_argument(
        "--min-level",
        type=float,
        nargs="*",
        default=[],
        help="level gates in dBFS to try besides none",
    )
    parser.add_argument(
        "--gap-seconds",
        type=float,
        nargs=2,
        default=[1.0, 3.0],
        metavar=("MIN", "MAX"),
        help="length of the gaps between clips",
    )
    parser.add_argument(
        "--gap-kind", choices=("mixed", "silence", "noise"), default="mixed"
    )
    parser.add_argument(
        "--without-silence-gate",
        action="store_true",
        help="also score every setting without the silence gate (the rule before it)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", default=None, help="JSON file for all results")
    parser.add_argument(
        "--lists",
        default=None,
        help="folder for the reference and estimated DCASE event lists",
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    tagger = AudioTagger.from_hparams(args.model)
    clips = read_fold(args.esc50, args.fold, args.classes)
    unknown = sorted({category for _, category in clips} - set(tagger.labels))
    if unknown:
        sys.exit(f"{args.model}: the model has no class for {', '.join(unknown)}")
    recordings = build_recordings(
        clips,
        args.per_recording,
        args.seed,
        gap_seconds=args.gap_seconds,
        gap_kind=args.gap_kind,
    )
    n_events = sum(len(events) for _, _, events in recordings)
    audio_seconds = sum(wav.numel() for _, wav, _ in recordings) / RATE
    windows = [window or None for window in args.window]
    rows = evaluate(
        tagger,
        recordings,
        windows,
        args.hop,
        args.threshold,
        args.median,
        [None, *args.min_level],
        args.batch_size,
        args.rule,
        silence_gates=[True] + ([False] if args.without_silence_gate else []),
    )
    print(markdown(rows, n_events, len(recordings), audio_seconds))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\nmodel {os.path.basename(os.path.normpath(args.model))}, "
        f"{args.classes} classes of fold {args.fold}, seed {args.seed}, "
        f"{args.threads} torch thread(s), {platform.processor() or platform.machine()}, "
        f"load {load:.2f}"
    )
    if args.lists:
        from speechbrain_ast.tagging.events import EventDetection, write_event_list

        def as_detections(events_by_file):
            return [
                EventDetection(name, 0.0, events, None, None, [])
                for name, events in events_by_file.items()
            ]

        reference = {name: events for name, _, events in recordings}
        write_event_list(
            as_detections(reference), os.path.join(args.lists, "reference.tsv")
        )
        for index, row in enumerate(rows):
            write_event_list(
                as_detections(row["estimated"]),
                os.path.join(args.lists, f"estimated_{index:02d}.tsv"),
            )
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(
                {
                    "model": os.path.abspath(args.model),
                    "classes": args.classes,
                    "fold": args.fold,
                    "seed": args.seed,
                    "recordings": len(recordings),
                    "reference_events": n_events,
                    "audio_seconds": audio_seconds,
                    "rows": [
                        {k: v for k, v in row.items() if k != "estimated"}
                        for row in rows
                    ],
                },
                handle,
                indent=2,
            )


if __name__ == "__main__":
    main()
