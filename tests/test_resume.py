"""Resumption after a failure: SIGKILL mid-epoch, and SIGKILL while a checkpoint is written.

* A Speech Commands run with the recipe's augmentation on (mixup, SpecAugment,
  noise: the RNG matters) and a checkpoint after every step is killed with
  SIGKILL after its first intra-epoch checkpoint; the same command then
  resumes it, and its ``results.json`` and exported weights equal those of
  an uninterrupted run.
* A process killed inside ``Checkpointer.save_checkpoint`` leaves, with
  SpeechBrain's ``Checkpointer``, a half-written ``CKPT+...`` folder that the
  next run picks and fails on; with ``ResumableCheckpointer`` only a hidden
  staging folder, which is ignored and cleaned, and the previous checkpoint
  is recovered.
"""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_ast.training.resumable import (
    STAGING_PREFIX,
    ResumableCheckpointer,
    RNGState,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = (
    "--init scratch --embed_dim 32 --depth 1 --num_heads 2 --n_classes 3 "
    "--number_of_epochs 2 --batch_size 2 --num_workers 0 --device cpu "
    "--ckpt_interval_steps 1 --ckpt_interval_minutes 0"
).split()


def recipe_command(samples, output_folder):
    """The Speech Commands recipe, tiny, a checkpoint after every step."""
    return [
        sys.executable,
        os.path.join(REPO, "recipes", "SpeechCommands", "train.py"),
        os.path.join(REPO, "recipes", "SpeechCommands", "hparams", "ast.yaml"),
        "--data_folder",
        str(samples / "speech_commands_v0.02"),
        "--output_folder",
        str(output_folder),
        *TINY,
    ]


def environment():
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    env.pop("RANK", None)
    return env


def intra_epoch_checkpoints(save_folder):
    """Published checkpoint folders whose meta marks them intra-epoch."""
    found = []
    if not save_folder.is_dir():
        return found
    for path in save_folder.glob("CKPT+*"):
        try:
            meta = (path / "CKPT.yaml").read_text()
        except OSError:
            continue
        if "brain_intra_epoch_ckpt: true" in meta:
            found.append(path)
    return found


def load_weights(folder):
    return {
        name: torch.load(folder / "model" / f"{name}.ckpt", map_location="cpu")
        for name in ("embedding_model", "classifier")
    }


def test_sigkill_mid_epoch_resumes_to_same_results(samples, tmp_path):
    env = environment()
    reference = tmp_path / "uninterrupted"
    uninterrupted = subprocess.Popen(  # runs beside the run that gets killed
        recipe_command(samples, reference),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    killed = tmp_path / "killed"
    command = recipe_command(samples, killed)
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while not intra_epoch_checkpoints(killed / "save"):
        assert process.poll() is None, (
            "run ended before its first intra-epoch checkpoint"
        )
        assert time.time() < deadline, "no intra-epoch checkpoint after 120 s"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (killed / "results.json").exists()
    # Every published checkpoint is complete; the newest one is intra-epoch.
    published = sorted((killed / "save").glob("CKPT+*"), key=os.path.getmtime)
    assert published and published[-1] in intra_epoch_checkpoints(killed / "save")
    for path in published:
        assert (path / "rng_state.ckpt").is_file() and (
            path / "optimizer.ckpt"
        ).is_file()

    resumed = subprocess.run(command, env=env, capture_output=True, text=True)
    _, errors = uninterrupted.communicate(timeout=300)
    assert uninterrupted.returncode == 0, errors[-3000:]
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = (killed / "log.txt").read_text()
    assert "Loading a checkpoint from" in log

    expected = json.loads((reference / "results.json").read_text())
    got = json.loads((killed / "results.json").read_text())
    assert got.keys() == expected.keys()
    for name in expected:
        if not isinstance(expected[name], dict):  # chosen_epoch, n_classes
            assert got[name] == expected[name], name
            continue
        for metric, value in expected[name].items():
            assert got[name][metric] == pytest.approx(value, abs=1e-6), (name, metric)
    a, b = load_weights(reference), load_weights(killed)
    for module in a:
        for key in a[module]:
            torch.testing.assert_close(
                b[module][key], a[module][key], atol=1e-6, rtol=0
            )


class _KillWhileSaving:
    """Custom save hook: writes half a file, then SIGKILLs its own process."""

    armed = False

    def __call__(self, module, path):
        if not self.armed:
            torch.save(module.state_dict(), path)
            return
        with open(path, "wb") as handle:
            handle.write(b"PK\x03\x04 half a checkpoint")
            handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def _save_then_die(checkpointer_class, folder):
    torch.manual_seed(0)
    hook = _KillWhileSaving()
    checkpointer = checkpointer_class(folder)
    checkpointer.add_recoverable("model", torch.nn.Linear(2, 2))
    checkpointer.add_recoverable("head", torch.nn.Linear(2, 1), custom_save_hook=hook)
    checkpointer.save_checkpoint(meta={"epoch": 1})
    time.sleep(1.1)  # the second checkpoint gets a later name
    hook.armed = True
    checkpointer.save_checkpoint(meta={"epoch": 2})
    os._exit(0)  # not reached


def _killed_while_saving(checkpointer_class, folder):
    process = multiprocessing.get_context("fork").Process(
        target=_save_then_die, args=(checkpointer_class, str(folder))
    )
    process.start()
    process.join(60)
    assert process.exitcode == -signal.SIGKILL


def _fresh_checkpointer(folder):
    checkpointer = Checkpointer(folder)
    checkpointer.add_recoverable("model", torch.nn.Linear(2, 2))
    checkpointer.add_recoverable("head", torch.nn.Linear(2, 1))
    return checkpointer


def test_speechbrain_checkpointer_leaves_a_half_written_checkpoint(tmp_path):
    """Why ResumableCheckpointer exists (SpeechBrain 1.1.2 behaviour)."""
    _killed_while_saving(Checkpointer, tmp_path)
    checkpointer = _fresh_checkpointer(tmp_path)
    assert sorted(c.meta["epoch"] for c in checkpointer.list_checkpoints()) == [1, 2]
    with pytest.raises(Exception):  # noqa: B017 (torch.load on a truncated file)
        checkpointer.recover_if_possible()


def test_kill_while_saving_leaves_only_complete_checkpoints(tmp_path):
    _killed_while_saving(ResumableCheckpointer, tmp_path)
    leftovers = [
        p.name for p in tmp_path.iterdir() if p.name.startswith(STAGING_PREFIX)
    ]
    assert len(leftovers) == 1
    checkpointer = ResumableCheckpointer(tmp_path)  # removes the leftovers
    checkpointer.add_recoverable("model", torch.nn.Linear(2, 2))
    checkpointer.add_recoverable("head", torch.nn.Linear(2, 1))
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())
    assert [c.meta["epoch"] for c in checkpointer.list_checkpoints()] == [1]
    recovered = checkpointer.recover_if_possible()
    assert recovered.meta["epoch"] == 1
    torch.manual_seed(0)
    expected = torch.nn.Linear(2, 2).state_dict()
    torch.testing.assert_close(
        checkpointer.recoverables["model"].state_dict(), expected, atol=0, rtol=0
    )


def test_atomic_delete_and_rng_state_roundtrip(tmp_path):
    checkpointer = ResumableCheckpointer(
        tmp_path, {"model": torch.nn.Linear(2, 2), "rng_state": RNGState()}
    )
    for epoch in (1, 2, 3):
        checkpointer.save_and_keep_only(meta={"epoch": epoch}, num_to_keep=1)
        state_after_save = torch.get_rng_state()
        torch.rand(10)  # advance the RNG after the checkpoint
    assert [c.meta["epoch"] for c in checkpointer.list_checkpoints()] == [3]
    assert sorted(p.name.startswith("CKPT+") for p in tmp_path.iterdir()) == [True]
    checkpointer.recover_if_possible()
    assert torch.equal(torch.get_rng_state(), state_after_save)
