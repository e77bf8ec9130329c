"""Schedules that work at any length: no run trains a whole epoch at lr 0.

Measured before the fix: ``speechbrain-ast train DIR --epochs 10`` on 200
clips (14 steps per epoch) trained epochs 1-3 at ``lr 0``: the 300-step
warm-up of the official schedule rises in blocks of 50 steps. The custom-data
recipe (what ``speechbrain-ast train`` runs) now fits the warm-up to the run;
this test walks every step of every epoch over a grid of data sizes, epoch
counts and configured warm-ups of both of its YAMLs.
"""

import math
import pathlib

import pytest

from speechbrain_ast.schedules import OfficialLRSchedule, fit_warmup_to_run
from speechbrain_ast.training.progress import ProgressClock, RunPlan
from speechbrain_ast.training.settings import data_decided, plain_settings
from tests.helpers import load_custom_data_recipe

RECIPE = pathlib.Path(__file__).resolve().parent.parent / "recipes" / "CustomData"


@pytest.fixture(scope="module")
def recipe():
    """recipes/CustomData/train.py as a module."""
    return load_custom_data_recipe("custom_train_short")


def yaml_settings(name):
    """The plain values of a CustomData YAML (tags ignored), as the recipe reads them."""
    settings = plain_settings(str(RECIPE / "hparams" / name), {"data_folder": "unused"})
    return data_decided(settings, settings["from_data"], {})


def epoch_learning_rates(settings, overrides, n_train, recipe):
    """Every step's lr, per epoch, as the recipe would set it."""
    overrides = dict(overrides)
    overrides.update(recipe.derived_schedule(settings, overrides, n_train))
    warmup, _ = recipe.derived_warmup(settings, overrides, n_train)
    merged = {**settings, **overrides, **warmup}
    epochs = int(merged["number_of_epochs"])
    start = merged["lr_decay_start"]
    schedule = OfficialLRSchedule(
        merged["lr"], start, merged["lr_decay_step"], merged["lr_decay"],
        warmup_steps=merged["warmup_steps"], warmup_every=merged["warmup_every"],
    )  # fmt: skip
    steps = math.ceil(n_train / merged["batch_size"])
    return [
        [schedule.lr_at(epoch, (epoch - 1) * steps + index) for index in range(steps)]
        for epoch in range(1, epochs + 1)
    ]


@pytest.mark.parametrize("hparams", ["ast_small_scratch.yaml", "ast.yaml"])
@pytest.mark.parametrize("n_train", [5, 40, 160, 1200])
@pytest.mark.parametrize("epochs", [None, 1, 3, 10])
@pytest.mark.parametrize("warmup", [None, 0, 50, 300, 1000])
def test_no_epoch_trains_at_lr_zero(recipe, hparams, n_train, epochs, warmup):
    settings = yaml_settings(hparams)
    overrides = {}
    if epochs is not None:
        overrides["number_of_epochs"] = epochs
    if warmup is not None:
        overrides["warmup_steps"] = warmup
    per_epoch = epoch_learning_rates(settings, overrides, n_train, recipe)
    for epoch, rates in enumerate(per_epoch, start=1):
        assert max(rates) > 0, f"epoch {epoch} trains at lr 0"


def test_the_measured_trap_is_gone(recipe):
    """200 clips, --epochs 10, the small-data default: lr above 0 from step 1."""
    settings = yaml_settings("ast_small_scratch.yaml")
    rates = epoch_learning_rates(settings, {"number_of_epochs": 10}, 160, recipe)
    assert rates[0][0] > 0
    assert max(rates[0]) == pytest.approx(settings["lr"])  # warm-up within epoch 1


def test_the_official_schedule_is_kept_where_it_fits():
    """AudioSet's 1000-step warm-up in blocks of 50 is not touched."""
    assert fit_warmup_to_run(1000, 50, 50 * 1733, 1733) == (1000, 50, None)


def test_a_too_long_warmup_is_shortened_and_said(recipe):
    settings = yaml_settings("ast.yaml")
    derived, note = recipe.derived_warmup(
        settings, {"number_of_epochs": 2, "warmup_steps": 1000}, 160
    )
    assert derived == {"warmup_steps": 1, "warmup_every": 1}  # 2 epochs x 4 steps of 48
    assert "as long as the whole run" in note


def test_the_plan_names_epochs_steps_warmup_and_decays():
    plan = RunPlan(215, 14, 6e-4, 300, 1, [107, 142, 177], 0.5, notes=["x"])
    text = plan.describe()
    for part in ("215 epochs x 14 steps = 3010", "warm-up 300 steps (smooth)",
                 "after epochs 107, 142, 177", "note: x"):  # fmt: skip
        assert part in text


def test_the_clock_estimates_and_counts_down():
    now = [0.0]
    clock = ProgressClock(RunPlan(10, 5, 1e-3, 0, 50, [], 0.5), first_steps=3,
                          clock=lambda: now[0])  # fmt: skip
    messages = []
    for _ in range(5):
        now[0] += 2.0
        messages.append(clock.step_done())
    assert [m is not None for m in messages] == [False, False, False, True, False]
    assert "about 1.7 min" in messages[3]  # 2 s x 50 steps
    now[0] = 60.0
    assert clock.epoch_done(2) == "epoch 2/10 done: 1.0 min so far, about 8.0 min left"


def test_the_estimate_is_logged_once_when_an_epoch_ends_on_its_last_timed_step():
    """Measured before the fix: 11 steps per epoch logged "first 10 steps" twice."""
    now = [0.0]
    clock = ProgressClock(RunPlan(3, 11, 1e-3, 0, 50, [], 0.5), first_steps=10,
                          clock=lambda: now[0])  # fmt: skip
    messages = []
    for epoch in (1, 2, 3):
        for _ in range(11):
            now[0] += 0.3
            messages.append(clock.step_done())
        clock.epoch_done(epoch)
    assert sum(message is not None for message in messages) == 1
    assert messages[10].startswith("first 10 steps: 0.30 s each; the 33 training steps")
