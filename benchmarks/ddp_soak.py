#!/usr/bin/env python3
"""Soak: the two-process DDP run of ``tests/test_ddp.py``, N times in a row.

A DDP job that finishes its work and then dies at exit (a rank aborting in
interpreter shutdown) makes torchrun report the whole job failed, so a
cluster scheduler marks a good run as failed and CI turns red at random.
One passing run proves little; this runs the same tiny Speech Commands job
under ``torchrun --standalone --nproc_per_node=2`` (gloo, CPU) ``--runs``
times and reports every exit code, the runs that failed and the last lines
of their output. Not part of ``make test`` (it takes minutes)::

    python benchmarks/ddp_soak.py --runs 20
    python benchmarks/ddp_soak.py --runs 20 --json results/ddp_soak.json
    python benchmarks/ddp_soak.py --runs 20 --busy 2   # beside 2 busy processes

``--busy N`` keeps N CPU-bound processes running beside the job, as
``make test`` does on a 2-core CI machine: the exit crash showed up there
and not on an idle machine.

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = (
    "--init scratch --embed_dim 32 --depth 1 --num_heads 2 --n_classes 3 "
    "--number_of_epochs 2 --num_workers 0 --device cpu --seed 0 --batch_size 2 "
    "--distributed_backend gloo"
).split()


def soak_command(output_folder):
    """The torchrun command of one soak run.

    Arguments
    ---------
    output_folder : str
        Where the run writes.

    Returns
    -------
    list of str
        The command line.

    Example
    -------
    >>> soak_command("out")[1:4]
    ['-m', 'torch.distributed.run', '--standalone']
    """
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        os.path.join(REPO, "recipes", "SpeechCommands", "train.py"),
        os.path.join(REPO, "recipes", "SpeechCommands", "hparams", "ast.yaml"),
        "--data_folder",
        os.path.join(REPO, "tests", "samples", "speech_commands_v0.02"),
        "--output_folder",
        output_folder,
        *TINY,
    ]


def run_once(output_folder, timeout):
    """Run the DDP job once; return its exit code, seconds and output tail."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    start = time.time()
    try:
        done = subprocess.run(
            soak_command(output_folder),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        code = "timeout"
        output = (expired.stdout or b"").decode() + (expired.stderr or b"").decode()
    return code, time.time() - start, output[-3000:]


def soak(n_runs, timeout):
    """Run the DDP job ``n_runs`` times; a list of ``{run, exit, seconds[, tail]}``."""
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(n_runs):
            code, seconds, tail = run_once(os.path.join(scratch, f"run{index}"), timeout)
            runs.append({"run": index + 1, "exit": code, "seconds": round(seconds, 1)})
            if code != 0:
                runs[-1]["tail"] = tail
            print(f"run {index + 1}/{n_runs}: exit {code} ({seconds:.1f} s)", flush=True)
    return runs


def main(argv=None):
    """Run the soak and print (and optionally save) its report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--json", help="also write the report here")
    parser.add_argument(
        "--busy", type=int, default=0, help="CPU-bound neighbour processes"
    )
    args = parser.parse_args(argv)
    burn = "import time\nend = time.time() + 3600\nwhile time.time() < end: pass"
    neighbours = [
        subprocess.Popen([sys.executable, "-c", burn]) for _ in range(args.busy)
    ]
    try:
        runs = soak(args.runs, args.timeout)
    finally:
        for neighbour in neighbours:
            neighbour.kill()

    failed = [run for run in runs if run["exit"] != 0]
    for run in failed:
        print(f"--- run {run['run']} (exit {run['exit']}), last output:\n{run['tail']}")
    print(f"{len(failed)}/{len(runs)} runs failed; exit codes: "
          + " ".join(str(run["exit"]) for run in runs))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"runs": runs, "failed": len(failed)}, handle, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
