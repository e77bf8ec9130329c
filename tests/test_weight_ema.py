"""The moving average of the weights: swaps, checkpoints, and the recipe exports it."""

import os
import pathlib
import subprocess
import sys

import pytest
import torch

from speechbrain_ast.training.weight_ema import WeightEMA

REPO = pathlib.Path(__file__).resolve().parent.parent


def _trained_pair(decay=0.5):
    """A layer, its EMA, and three steps with known weights (1, 2, 4)."""
    layer = torch.nn.Linear(3, 2)
    ema = WeightEMA([layer], decay=decay, warmup_power=100.0)
    for step, value in enumerate((1.0, 2.0, 4.0), start=1):
        with torch.no_grad():
            layer.weight.fill_(value)
            layer.bias.fill_(-value)
        ema.update(step)
    return layer, ema


def test_average_follows_the_decay_and_swaps_back():
    layer, ema = _trained_pair(decay=0.5)
    # Step 1 copies (1), then decay 0.5 (warm-up power 100 reaches it at once):
    # 1 -> 1.5 -> 2.75.
    ema.use_average()
    assert torch.allclose(layer.weight, torch.full((2, 3), 2.75))
    assert torch.allclose(layer.bias, torch.full((2,), -2.75))
    ema.use_average()  # twice is once
    assert torch.allclose(layer.weight, torch.full((2, 3), 2.75))
    ema.use_training()
    assert torch.allclose(layer.weight, torch.full((2, 3), 4.0))
    # The optimizer's parameter objects are the same ones, changed in place.
    assert isinstance(layer.weight, torch.nn.Parameter)


def test_update_refuses_while_the_average_is_live():
    _, ema = _trained_pair()
    ema.use_average()
    with pytest.raises(RuntimeError, match="use_training"):
        ema.update(4)


def test_decay_zero_is_off():
    layer = torch.nn.Linear(2, 2)
    before = layer.weight.detach().clone()
    ema = WeightEMA([layer], decay=0.0)
    ema.update(1)
    with torch.no_grad():
        layer.weight.add_(1.0)
    ema.use_average()
    assert not ema.active
    assert torch.equal(layer.weight, before + 1.0)


@pytest.mark.parametrize("decay", [-0.1, 1.0, 2.0])
def test_a_decay_outside_zero_one_is_refused(decay):
    with pytest.raises(ValueError, match="ema_decay"):
        WeightEMA([torch.nn.Linear(1, 1)], decay=decay)


def test_batch_norm_statistics_are_averaged_and_swapped():
    norm = torch.nn.BatchNorm1d(2)
    ema = WeightEMA([norm], decay=0.5, warmup_power=100.0)
    norm.running_mean.fill_(2.0)
    ema.update(1)
    norm.running_mean.fill_(4.0)
    ema.update(2)
    ema.use_average()
    assert torch.allclose(norm.running_mean, torch.full((2,), 3.0))


def test_a_checkpoint_saved_with_the_average_live_resumes_both(tmp_path):
    layer, ema = _trained_pair()
    ema.use_average()  # as at the end of a validation: the checkpoint is saved
    torch.save(layer.state_dict(), tmp_path / "layer.ckpt")
    ema._save(tmp_path / "ema.ckpt")

    fresh = torch.nn.Linear(3, 2)
    fresh_ema = WeightEMA([fresh], decay=0.5, warmup_power=100.0)
    fresh.load_state_dict(torch.load(tmp_path / "layer.ckpt"))
    fresh_ema._recover(tmp_path / "ema.ckpt")
    # The best checkpoint holds the validated average ...
    assert torch.allclose(fresh.weight, torch.full((2, 3), 2.75))
    # ... and training resumes from the raw weights.
    fresh_ema.use_training()
    assert torch.allclose(fresh.weight, torch.full((2, 3), 4.0))
    fresh_ema.update(4)
    fresh_ema.use_average()
    assert torch.allclose(fresh.weight, torch.full((2, 3), (2.75 + 4.0) / 2))


def test_switching_the_average_on_for_an_old_checkpoint_restarts_it(tmp_path):
    layer = torch.nn.Linear(2, 1)
    WeightEMA([layer], decay=0.0)._save(tmp_path / "off.ckpt")
    ema = WeightEMA([layer], decay=0.9, warmup_power=100.0)
    ema._recover(tmp_path / "off.ckpt")
    with torch.no_grad():
        layer.weight.fill_(5.0)
    ema.update(1000)  # a restart copies, whatever the step count
    with torch.no_grad():
        layer.weight.fill_(0.0)
    ema.use_average()
    assert torch.allclose(layer.weight, torch.full((1, 2), 5.0))


# Each recipe with a weight_ema key: its small YAML and the debug data of its
# tests/recipes row (the ESC-50 one at 2 classes, like that row).
RECIPES_WITH_EMA = {
    "CustomData": [
        f"--data_folder={REPO / 'tests/samples/custom_data/single_label.csv'}",
        "--summary_baseline=False",
        "--check_leakage=False",
        "--number_of_epochs=3",
    ],
    "ESC50": [
        f"--data_folder={REPO / 'tests/samples/ESC-50-master'}",
        "--init=scratch",
        "--number_of_epochs=6",  # its schedule halves every sixth of the run
        "--warmup_steps=4",  # the official warm-up holds lr 0 for 50 steps
        "--n_classes=2",
        "--valid_ratio=0.25",
        "--batch_size=4",
        "--num_workers=0",
    ],
}


@pytest.mark.parametrize("recipe", sorted(RECIPES_WITH_EMA))
def test_the_recipe_validates_and_exports_the_average(tmp_path, recipe):
    """A short recipe run: the exported model is the validated average."""
    output = tmp_path / "run"
    command = [
        sys.executable,
        str(REPO / f"recipes/{recipe}/train.py"),
        str(REPO / f"recipes/{recipe}/hparams/ast_small_scratch.yaml"),
        f"--output_folder={output}",
        "--ema_decay=0.9",
        "--embed_dim=16",
        "--depth=1",
        "--num_heads=2",
        *RECIPES_WITH_EMA[recipe],
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    (checkpoint,) = [
        path for path in (output / "save").iterdir() if path.name.startswith("CKPT+")
    ]
    saved = torch.load(checkpoint / "weight_ema.ckpt", weights_only=True)
    assert saved["average_is_live"] is True
    exported = torch.load(output / "model" / "embedding_model.ckpt", weights_only=True)
    validated = torch.load(checkpoint / "embedding_model.ckpt", weights_only=True)
    raw = saved["state"]
    name = next(key for key in validated if key.endswith("weight"))
    assert torch.equal(exported[name], validated[name])
    # The raw weights the optimizer stepped are kept beside it, and differ.
    # (the average keeps [encoder, head] as one ModuleList: keys "0." and "1.")
    assert not torch.equal(raw["0." + name], validated[name])


@pytest.mark.parametrize("encoder", ["ast", "xvector", "ecapa"])
def test_custom_data_yamls_pass_the_decay_warm_up_to_the_average(encoder):
    """``ema_warmup_power`` reaches timm's decay ramp (it, not ``ema_decay``,
    sets the memory of a 3,000-step run)."""
    from hyperpyyaml import load_hyperpyyaml

    path = REPO / f"recipes/CustomData/hparams/{encoder}_small_scratch.yaml"
    for power in (0.75, 1.0):
        overrides = {"data_folder": "unused", "ema_warmup_power": power}
        with open(path) as handle:
            hparams = load_hyperpyyaml(handle, overrides)
        average = hparams["weight_ema"].average
        assert average.warmup_power == power
        if power == 0.75:  # still under ema_decay at step 3,000
            assert average.get_decay(3000) < hparams["ema_decay"]
        else:  # the plain mean of the steps so far, at ema_decay by step 600
            assert average.get_decay(600) == pytest.approx(hparams["ema_decay"])
    with open(path) as handle:
        shipped = load_hyperpyyaml(handle, {"data_folder": "unused"})
    # The default (ECAPA) ships the longer ramp that its measurements chose.
    expected = 1.0 if encoder == "ecapa" else 0.75
    assert shipped["weight_ema"].average.warmup_power == expected
