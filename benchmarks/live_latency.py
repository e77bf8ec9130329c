#!/usr/bin/env python3
"""Latency of live tagging: ``speechbrain-ast tag -`` fed in real time.

Starts ``speechbrain-ast tag - --json`` as a subprocess and writes a WAV
stream into its standard input at the audio's own pace (one ``--period`` of
samples at a time, as ``arecord`` delivers them; the header announces no
size, as live writers do). A reader thread stamps each output line as it
arrives. A window's latency is the time from writing the period that holds
its last sample to reading its line: everything the user waits for (pipe,
decoding, features, model, printing).

The result is within the live budget when the latency is below one hop:
then each window is done before the next one is complete and the tagger
never falls behind.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/live_latency.py --model MODEL_DIR \\
        --audio FILE [--seconds 30] [--hop 0.25]
"""

import argparse
import io
import json
import os
import queue
import statistics
import struct
import subprocess
import sys
import threading
import time

import soundfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from speechbrain_ast.audio import load_audio  # noqa: E402

RATE = 16000


def live_wav_bytes(wav):
    """16-bit WAV bytes with the 'unknown size' data header of live writers."""
    buffer = io.BytesIO()
    soundfile.write(buffer, wav.numpy(), RATE, format="WAV", subtype="PCM_16")
    data = buffer.getvalue()
    position = data.index(b"data") + 4
    return data[:position] + struct.pack("<I", 0xFFFFFFFF), data[position + 4 :]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, help="model folder")
    parser.add_argument("--audio", required=True, help="audio file to stream")
    parser.add_argument("--seconds", type=float, default=30.0, help="audio streamed")
    parser.add_argument(
        "--hop", type=float, default=None, help="hop (s); default half a window"
    )
    parser.add_argument("--period", type=float, default=0.02, help="seconds per write")
    parser.add_argument("--int8", action="store_true", help="pass --int8")
    parser.add_argument(
        "--startup", type=float, default=20.0, help="seconds to let the model load"
    )
    parser.add_argument("--json", default=None, help="write all latencies here")
    args = parser.parse_args()

    wav = load_audio(args.audio, sample_rate=RATE)
    repeats = int(args.seconds * RATE) // wav.numel() + 1
    wav = wav.repeat(repeats)[: int(args.seconds * RATE)]
    header, samples = live_wav_bytes(wav)
    command = [sys.executable, "-m", "speechbrain_ast.cli", "tag", "-"]
    command += ["--model", args.model, "--json", "--top-k", "3"]
    if args.hop:
        command += ["--hop", str(args.hop)]
    if args.int8:
        command += ["--int8"]
    env = dict(
        os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", "")
    )
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0
    )
    lines = queue.Queue()

    def read_lines():
        for line in proc.stdout:
            lines.put((time.monotonic(), line))

    reader = threading.Thread(target=read_lines, daemon=True)
    reader.start()
    proc.stdin.write(header)
    # the model loads while nothing is streamed yet: a live source starts
    # after the tagger is ready, and the loading time is not latency
    time.sleep(args.startup)
    period_bytes = 2 * int(args.period * RATE)
    written_at = []  # (end sample, time written)
    start = time.monotonic()
    for first in range(0, len(samples), period_bytes):
        # real-time pace: the chunk is written when its last sample "arrives"
        due = start + (first + period_bytes) / 2 / RATE
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        proc.stdin.write(samples[first : first + period_bytes])
        proc.stdin.flush()
        written_at.append(
            (min(first + period_bytes, len(samples)) // 2, time.monotonic())
        )
    proc.stdin.close()
    proc.wait(timeout=600)
    reader.join(timeout=60)

    latencies, hops, ends = [], [], []
    while not lines.empty():
        read_time, line = lines.get()
        window = json.loads(line)
        if window["final"]:
            continue  # added at the end of the stream: not a live window
        last_sample = round(window["end"] * RATE)
        written = next(t for end, t in written_at if end >= last_sample)
        latencies.append(read_time - written)
        ends.append(window["end"])
    hops = [b - a for a, b in zip(ends, ends[1:])]
    hop = statistics.median(hops) if hops else float("nan")
    latencies_ms = sorted(1000 * value for value in latencies)
    load = os.getloadavg()
    summary = {
        "windows": len(latencies_ms),
        "hop_ms": round(1000 * hop, 1),
        "median_ms": round(statistics.median(latencies_ms), 1),
        "p90_ms": round(latencies_ms[int(0.9 * (len(latencies_ms) - 1))], 1),
        "max_ms": round(latencies_ms[-1], 1),
        "within_one_hop": sum(value < 1000 * hop for value in latencies_ms),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_1_5_15": [round(value, 2) for value in load],
        "int8": args.int8,
    }
    print(json.dumps(summary))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({**summary, "latencies_ms": latencies_ms}, handle, indent=2)


if __name__ == "__main__":
    main()
