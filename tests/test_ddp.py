"""Distributed data parallel (DDP) training: 2 CPU processes (gloo) vs 1 process.

``torchrun --standalone --nproc_per_node=2`` runs the Speech Commands recipe
with batch 2 per process; a single process runs it with batch 4. Per-sample
randomness is off (mixup 0, SpecAugment 0, no noise) and seed 0 makes
SpeechBrain's single-process shuffling (``ReproducibleRandomSampler``, seed
``SB_GLOBAL_SEED``) draw the same permutation as the ``DistributedSampler``
DDP uses (seed 0), so both runs see the same batches and, with DDP's gradient
averaging, do the same optimisation steps. Validation batches are the same
size in both (6 clips, one batch) so the per-batch loss average is the same.

Checked: the exported weights, the per-epoch validation loss and accuracy and
the test results agree; validation and test sets are sharded across the ranks
and gathered, so the metrics cover every clip once; the main process alone
writes the manifests, logs, reports and model folder. The same holds for two
torchrun agents joined by a c10d rendezvous (two "nodes" on this machine), and
for a job whose rank is SIGKILLed mid-epoch and restarted by torchrun
(``--max-restarts 1``): it resumes from its last checkpoint and ends with an
uninterrupted run's results and weights. A rank that fails ends the job
promptly, non-zero, with that rank's message. Also checked without processes:
SpeechBrain's ``DistributedSamplerWrapper`` (what ``Brain`` wraps a balanced
sampler with under DDP) gives each rank a disjoint part of one weighted stream.
"""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import torch
import torch.distributed
from speechbrain.dataio.sampler import (
    DistributedSamplerWrapper,
    ReproducibleWeightedRandomSampler,
)

from speechbrain_ast.training.distributed import (
    EvaluationShardSampler,
    all_reduce_mean,
    gather_tagging_stats,
)
from speechbrain_ast.training.metrics import TaggingStats

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DETERMINISTIC = (
    "--init scratch --embed_dim 32 --depth 1 --num_heads 2 --n_classes 3 "
    "--number_of_epochs 2 --num_workers 0 --device cpu --seed 0 "
    "--mixup_prob 0 --freqm 0 --timem 0 --noise_scale 0 --time_roll 0"
).split()
VALID_LOADER = ["--valid_dataloader_options", "{batch_size: 6, num_workers: 0}"]

needs_gloo = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="torch.distributed with the gloo backend is not available",
)


def recipe_args(samples, output_folder, batch_size):
    return [
        os.path.join(REPO, "recipes", "SpeechCommands", "train.py"),
        os.path.join(REPO, "recipes", "SpeechCommands", "hparams", "ast.yaml"),
        "--data_folder",
        str(samples / "speech_commands_v0.02"),
        "--output_folder",
        str(output_folder),
        "--batch_size",
        str(batch_size),
        *DETERMINISTIC,
        *VALID_LOADER,
    ]


def environment(**extra):
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", **extra)
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return env


def start(command, **env):
    return subprocess.Popen(
        command,
        env=environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process):
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, out[-2000:] + err[-4000:]


def torchrun(*options):
    return [sys.executable, "-m", "torch.distributed.run", *options]


def free_port():
    with socket.socket() as handle:
        handle.bind(("127.0.0.1", 0))
        return handle.getsockname()[1]


def assert_same_run(ddp, single):
    """Same weights, per-epoch validation metrics and test results."""
    for name in ("embedding_model", "classifier"):
        a = torch.load(ddp / "model" / f"{name}.ckpt", map_location="cpu")
        b = torch.load(single / "model" / f"{name}.ckpt", map_location="cpu")
        for key in b:
            torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=0)
    history_ddp, history_single = read_history(ddp), read_history(single)
    assert len(history_ddp) == len(history_single) == 2
    for row_ddp, row_single in zip(history_ddp, history_single):
        for key in ("valid_loss", "valid_accuracy"):
            assert float(row_ddp[key]) == pytest.approx(
                float(row_single[key]), abs=1e-5
            )
    results_ddp = json.loads((ddp / "results.json").read_text())
    results_single = json.loads((single / "results.json").read_text())
    for metric, value in results_single["best_valid"].items():
        assert results_ddp["best_valid"][metric] == pytest.approx(value, abs=1e-6)


def read_history(folder):
    with open(folder / "results.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@needs_gloo
def test_two_gloo_processes_match_one_process(samples, tmp_path):
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    runs = [
        start(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                "--nproc_per_node=2",
                *recipe_args(samples, ddp, batch_size=2),
                "--distributed_backend",
                "gloo",
            ]
        ),
        start([sys.executable, *recipe_args(samples, single, batch_size=4)]),
    ]
    for process in runs:
        finish(process)

    # Same optimisation, validation and test results (sharded and gathered).
    assert_same_run(ddp, single)
    with open(ddp / "test_best_valid_per_class.csv", newline="") as handle:
        assert sum(int(row["n_positive"]) for row in csv.DictReader(handle)) == 6

    # Only the main process wrote manifests, logs and the model folder.
    log = (ddp / "log.txt").read_text()
    assert log.count("manifests written") == 1
    assert log.count("model folder written") == 1
    train_log = (ddp / "train_log.txt").read_text().splitlines()
    assert [line.split(",")[0] for line in train_log] == [
        "epoch: 1",
        "epoch: 2",
        "Epoch loaded: 2 - test loss: "
        + train_log[-1].split("test loss: ")[1].split(",")[0],
    ]
    assert len(list((ddp / "save").glob("CKPT+*"))) == 1


def test_balanced_sampler_under_ddp_gives_disjoint_parts_of_one_weighted_stream():
    weights = torch.tensor([1.0] * 90 + [9.0] * 10)  # 10 rare clips, half the mass
    sampler = ReproducibleWeightedRandomSampler(
        weights, num_samples=100, replacement=True, seed=3
    )
    ranks = [
        DistributedSamplerWrapper(sampler, num_replicas=2, rank=rank, shuffle=False)
        for rank in range(2)
    ]
    streams = {}
    for epoch in (1, 2):
        for wrapper in ranks:
            wrapper.set_epoch(epoch)  # as Brain does; reaches the weighted sampler
        parts = [list(wrapper) for wrapper in ranks]
        sampler.set_epoch(epoch)
        whole = list(sampler)
        # Rank r takes positions r, r + 2, ... of the one weighted draw.
        assert parts[0] == whole[0::2] and parts[1] == whole[1::2]
        assert len(parts[0]) == len(parts[1]) == 50
        streams[epoch] = whole
    assert streams[1] != streams[2]
    rare = sum(index >= 90 for index in streams[1] + streams[2]) / 200
    assert 0.35 < rare < 0.65  # the 10 rare clips get about half the draws


def _sharded_scoring_worker(rank, init_file, scores, targets, out_folder):
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=2
    )
    try:
        mine = TaggingStats()
        indices = list(EvaluationShardSampler(len(scores)))
        for start in range(0, len(indices), 2):  # batches of 2
            batch = indices[start : start + 2]
            mine.append([f"clip{i}" for i in batch], scores[batch], targets[batch])
        whole = gather_tagging_stats(mine)
        loss = all_reduce_mean(float(len(indices)), 1)
        result = {"ids": whole.ids, "summary": whole.summarize(), "loss": loss}
        with open(os.path.join(out_folder, f"rank{rank}.json"), "w") as handle:
            json.dump(result, handle)
    finally:
        torch.distributed.destroy_process_group()


@needs_gloo
@pytest.mark.parametrize("multi_label", [False, True])
def test_sharded_evaluation_scores_each_clip_once_like_one_process(
    tmp_path, multi_label
):
    generator = torch.Generator().manual_seed(1)
    n_clips, n_classes = 7, 4  # uneven shares: 4 and 3 clips
    scores = torch.rand(n_clips, n_classes, generator=generator)
    if multi_label:
        targets = (torch.rand(n_clips, n_classes, generator=generator) > 0.5).float()
        targets[0], targets[1] = 1.0, 0.0  # every class has a positive and a negative
    else:
        targets = torch.nn.functional.one_hot(
            torch.arange(n_clips) % n_classes, n_classes
        ).float()
    torch.multiprocessing.spawn(
        _sharded_scoring_worker,
        args=(str(tmp_path / "init"), scores, targets, str(tmp_path)),
        nprocs=2,
    )
    single = TaggingStats()
    single.append([f"clip{i}" for i in range(n_clips)], scores, targets)
    expected = single.summarize()
    for rank in range(2):
        got = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert got["ids"] == [f"clip{i}" for i in range(n_clips)]  # once, in order
        for metric in ("accuracy", "mAP", "mAUC", "d_prime", "n_clips"):
            assert got["summary"][metric] == pytest.approx(expected[metric], abs=1e-6)
        assert got["loss"] == pytest.approx(7 / 2)  # (4 + 3) / 2 ranks


@needs_gloo
def test_two_torchrun_agents_with_c10d_rendezvous_match_one_process(samples, tmp_path):
    """Two "nodes" (one torchrun agent each, one process each) on this machine."""
    nodes, single = tmp_path / "nodes", tmp_path / "single"
    port = free_port()
    rendezvous = [
        "--nnodes=2",
        "--nproc_per_node=1",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint=127.0.0.1:{port}",
        "--rdzv-id=ast-test",
    ]
    recipe = [*recipe_args(samples, nodes, batch_size=2), "--distributed_backend", "gloo"]
    runs = [
        start(torchrun(*rendezvous, *recipe)),
        start(torchrun(*rendezvous, *recipe)),
        start([sys.executable, *recipe_args(samples, single, batch_size=4)]),
    ]
    for process in runs:
        finish(process)
    assert_same_run(nodes, single)
    log = (nodes / "log.txt").read_text()
    assert log.count("model folder written") == 1


def _children(pid):
    """Process ids of the direct children of ``pid`` (from /proc)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as handle:
            found.extend(int(child) for child in handle.read().split())
    return found


def _intra_epoch_checkpoint(save_folder):
    for path in save_folder.glob("CKPT+*"):
        try:
            if "brain_intra_epoch_ckpt: true" in (path / "CKPT.yaml").read_text():
                return path
        except OSError:
            continue
    return None


RESTARTED_GROUP = textwrap.dedent(
    """
    import os
    import sys

    import torch
    import torch.distributed

    from speechbrain_ast.training.distributed import init_distributed

    attempt, rank = os.environ["TORCHELASTIC_RESTART_COUNT"], os.environ["RANK"]
    init_distributed({"distributed_backend": "gloo"})
    total = torch.ones(1)
    torch.distributed.all_reduce(total)
    print(f"attempt {attempt} rank {rank}: {total.item()}", flush=True)
    if attempt == "0" and rank == "1":
        os._exit(3)  # a rank dies; torchrun restarts the group
    if attempt == "0":
        torch.distributed.barrier()  # waits for the dead rank until torchrun stops it
    """
)


@needs_gloo
def test_a_restarted_attempt_does_not_read_the_previous_attempts_addresses(tmp_path):
    """Deterministic form of the restart hang: plain init_process_group fails it.

    With SpeechBrain's ``ddp_init_group`` alone, attempt 1's rank 1 connects
    to the gloo address attempt 0's rank 0 left in torchrun's shared store
    ("Connection refused", the job fails); measured before the fix.
    """
    script = tmp_path / "worker.py"
    script.write_text(RESTARTED_GROUP)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=REPO)
    done = subprocess.run(
        torchrun("--standalone", "--nproc_per_node=2", "--max-restarts=1", str(script)),
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "attempt 1 rank 0: 2.0" in done.stdout
    assert "attempt 1 rank 1: 2.0" in done.stdout


FINISHED_DDP_RANK = textwrap.dedent(
    """
    import logging
    import os
    import sys

    import torch
    import torch.distributed
    from torch.nn.parallel import DistributedDataParallel

    from speechbrain_ast.training.distributed import (
        _gloo_threads, finish_distributed, init_distributed,
    )

    rank, mode = os.environ["RANK"], sys.argv[2]
    logging.basicConfig(filename=sys.argv[1] + f".{rank}.log", level=logging.INFO)
    init_distributed({"distributed_backend": "gloo"})
    model = DistributedDataParallel(torch.nn.Linear(4, 2))
    model(torch.randn(3, 4)).sum().backward()
    logging.info("work done")
    if mode == "probe":
        torch.distributed.destroy_process_group()
        print(f"rank {rank}: gloo threads after destroy_process_group: {len(_gloo_threads())}")
    else:
        finish_distributed()
        print("not reached: the process ended in finish_distributed")
    """
)


@needs_gloo
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc")
def test_a_ddp_rank_that_finished_its_work_ends_without_finalizing_gloo(tmp_path):
    """DDP keeps gloo's threads alive past destroy_process_group: finish_distributed ends the rank.

    Those threads, torn down during interpreter finalization, are what aborted
    a finished rank (SIGABRT, "terminate called without an active exception").
    """
    script = tmp_path / "worker.py"
    script.write_text(FINISHED_DDP_RANK)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=REPO)
    outputs = {}
    for mode in ("probe", "finish"):
        done = subprocess.run(
            torchrun("--standalone", "--nproc_per_node=2", str(script), str(tmp_path / mode), mode),
            env=env, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        outputs[mode] = done.stdout
        for rank in (0, 1):  # logs flushed either way
            assert "work done" in (tmp_path / f"{mode}.{rank}.log").read_text()
    for rank in (0, 1):
        assert f"rank {rank}: gloo threads after destroy_process_group:" in outputs["probe"]
        assert f"rank {rank}: gloo threads after destroy_process_group: 0" not in outputs["probe"]
    assert "not reached" not in outputs["finish"]


# Each attempt builds its group on its own part of torchrun's shared store
# (training/distributed.py: attempt_store); before that, a restarted rank could
# read the previous attempt's gloo addresses and hang or fail to connect.
@needs_gloo
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc")
def test_elastic_restart_after_sigkill_of_one_rank_resumes_to_the_same_results(
    samples, tmp_path
):
    every_step = ["--ckpt_interval_steps", "1", "--ckpt_interval_minutes", "0"]
    killed, reference = tmp_path / "killed", tmp_path / "uninterrupted"

    def job(folder):
        return torchrun(
            "--standalone",
            "--nproc_per_node=2",
            "--max-restarts=1",
            *recipe_args(samples, folder, batch_size=2),
            "--distributed_backend",
            "gloo",
            *every_step,
        )

    uninterrupted = start(job(reference))
    agent = start(job(killed))
    deadline = time.time() + 180
    while _intra_epoch_checkpoint(killed / "save") is None:
        assert agent.poll() is None, "the job ended before an intra-epoch checkpoint"
        assert time.time() < deadline, "no intra-epoch checkpoint after 180 s"
        time.sleep(0.01)
    workers = [pid for pid in _children(agent.pid) if pid != uninterrupted.pid]
    assert len(workers) == 2, workers
    os.kill(workers[1], signal.SIGKILL)  # one rank, in the middle of epoch 1
    finish(agent)  # torchrun restarted the group, which resumed and finished
    finish(uninterrupted)
    log = (killed / "log.txt").read_text()
    assert "Loading a checkpoint from" in log
    assert_same_run(killed, reference)


FAILING_RANK = textwrap.dedent(
    """
    import os

    if os.environ.get("RANK") == "1":
        import speechbrain

        fit_batch = speechbrain.Brain.fit_batch

        def failing_fit_batch(self, batch):
            if self.optimizer_step >= 1:
                raise RuntimeError("injected failure on rank 1")
            return fit_batch(self, batch)

        speechbrain.Brain.fit_batch = failing_fit_batch
    """
)


@needs_gloo
def test_a_failing_rank_ends_the_job_promptly_with_its_message(samples, tmp_path):
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(FAILING_RANK)
    began = time.time()
    process = start(
        torchrun(
            "--standalone",
            "--nproc_per_node=2",
            *recipe_args(samples, tmp_path / "out", batch_size=2),
            "--distributed_backend",
            "gloo",
        ),
        PYTHONPATH=os.pathsep.join([str(inject), os.environ.get("PYTHONPATH", "")]),
    )
    out, err = process.communicate(timeout=240)
    assert process.returncode != 0
    assert time.time() - began < 180  # no hang until the 2-hour DDP timeout
    assert "injected failure on rank 1" in out + err
    # torchrun's failure summary names the rank and the message (error file).
    summary = err[err.find("Root Cause") :]
    assert "rank" in summary and "injected failure on rank 1" in summary, err[-3000:]
