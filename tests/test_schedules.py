"""Tests for speechbrain_ast.schedules: the official LR schedule against the
official logs, and the small-model halving rule in the recipe YAMLs."""

import pathlib

import pytest
import torch

from speechbrain_ast.schedules import OfficialLRSchedule, halving_milestones
from speechbrain_ast.training.settings import plain_settings

REPO = pathlib.Path(__file__).resolve().parent.parent

# lr column of the released Speech Commands result.csv (epochs 1..30), as
# quoted in the reference facts (3 significant digits).
SPEECH_COMMANDS_LOG = [
    2.5e-4, 2.5e-4, 2.5e-4, 2.5e-4, 2.5e-4, 2.125e-4, 1.806e-4, 1.535e-4,
    1.305e-4, 1.109e-4, 9.43e-5, 8.01e-5, 6.81e-5, 5.79e-5, 4.92e-5, 4.18e-5,
    3.56e-5, 3.02e-5, 2.57e-5, 2.18e-5, 1.86e-5, 1.58e-5, 1.34e-5, 1.14e-5,
    9.69e-6, 8.24e-6, 8.24e-6, 8.24e-6, 8.24e-6, 8.24e-6,
]  # fmt: skip

ESC50_LOG = {
    1: 1e-5,
    5: 1e-5,
    6: 8.5e-6,
    7: 7.23e-6,
    10: 4.44e-6,
    20: 8.74e-7,
    25: 3.88e-7,
}


def test_speech_commands_epochs_1_to_25():
    sched = OfficialLRSchedule(2.5e-4, 5, 1, 0.85)
    assert sched.lr_at(6) == pytest.approx(2.125e-4, rel=1e-12)
    assert sched.lr_at(10) == pytest.approx(1.109e-4, rel=1e-3)
    for epoch, logged in enumerate(SPEECH_COMMANDS_LOG[:25], start=1):
        assert sched.lr_at(epoch) == pytest.approx(logged, rel=3e-3), epoch
    # current code keeps decaying after epoch 25 ...
    assert sched.lr_at(27) < sched.lr_at(26) < 8.3e-6


def test_speech_commands_released_log_old_milestones():
    # ... the released log used the old hard-coded range(5, 26): frozen after 26
    sched = OfficialLRSchedule(2.5e-4, 5, 1, 0.85, milestones_end=26)
    for epoch, logged in enumerate(SPEECH_COMMANDS_LOG, start=1):
        assert sched.lr_at(epoch) == pytest.approx(logged, rel=3e-3), epoch


def test_audioset_balanced_and_full_and_esc50():
    bal = OfficialLRSchedule(5e-5, 10, 5, 0.5, warmup_steps=1000)
    for epochs, lr in (
        (range(1, 11), 5e-5),
        (range(11, 16), 2.5e-5),
        (range(16, 21), 1.25e-5),
        (range(21, 26), 6.25e-6),
    ):
        for epoch in epochs:
            assert bal.lr_at(epoch) == pytest.approx(lr, rel=1e-12)
    full = OfficialLRSchedule(1e-5, 2, 1, 0.5, warmup_steps=1000)
    assert [full.lr_at(e) for e in range(1, 6)] == pytest.approx(
        [1e-5, 1e-5, 5e-6, 2.5e-6, 1.25e-6], rel=1e-12
    )
    esc = OfficialLRSchedule(1e-5, 5, 1, 0.85)
    for epoch, logged in ESC50_LOG.items():
        assert esc.lr_at(epoch) == pytest.approx(logged, rel=3e-3)


def test_official_warmup_every_50_steps():
    sched = OfficialLRSchedule(1e-4, 2, 1, 0.5, warmup_steps=1000)
    assert [sched.lr_at(1, s) for s in (0, 1, 49)] == [0.0, 0.0, 0.0]
    assert sched.lr_at(1, 50) == pytest.approx(5e-6)
    assert sched.lr_at(1, 99) == pytest.approx(5e-6)
    assert sched.lr_at(1, 100) == pytest.approx(1e-5)
    assert sched.lr_at(1, 999) == pytest.approx(9.5e-5)
    assert sched.lr_at(1, 1000) == sched.lr_at(1, 123456) == pytest.approx(1e-4)
    assert sched.lr_at(3, 200000) == pytest.approx(5e-5)  # warm-up over
    smooth = OfficialLRSchedule(1e-4, 2, 1, 0.5, warmup_steps=1000, warmup_every=1)
    assert smooth.lr_at(1, 0) == pytest.approx(1e-7)  # never 0
    assert smooth.lr_at(1, 1) == pytest.approx(2e-7)
    assert smooth.lr_at(1, 999) == pytest.approx(1e-4)
    none = OfficialLRSchedule(1e-4, 2, 1, 0.5)
    assert none.lr_at(1, 0) == 1e-4


def test_call_sets_all_param_groups_and_is_stateless():
    params = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    opt = torch.optim.Adam([{"params": params[:1]}, {"params": params[1:]}], lr=1.0)
    sched = OfficialLRSchedule(2.5e-4, 5, 1, 0.85)
    assert sched(opt, 10, 5000) == sched.lr_at(10)
    assert all(g["lr"] == sched.lr_at(10) for g in opt.param_groups)
    sched(opt, 1, 0)  # going back in time works: no internal state
    assert all(g["lr"] == 2.5e-4 for g in opt.param_groups)


def test_bad_arguments():
    with pytest.raises(ValueError):
        OfficialLRSchedule(1e-4, 5, 0, 0.85)
    with pytest.raises(ValueError):
        OfficialLRSchedule(1e-4, 5, 1, 0.85).lr_at(0)
    with pytest.raises(ValueError):
        OfficialLRSchedule(1e-4, 5, 1, 0.85, warmup_steps=10, warmup_every=0)


@pytest.mark.parametrize("epochs", [None, 1, 2, 5, 6, 25, 60])
@pytest.mark.parametrize(
    "recipe, name",
    [
        ("ESC50", "ast_small_scratch"),
        ("ESC50", "xvector_small_scratch"),
        ("ESC50", "ecapa_small_scratch"),
        ("SpeechCommands", "ast_small_scratch"),
    ],
)
def test_fixed_small_scratch_schedules_follow_the_rule(recipe, name, epochs):
    """The YAMLs write CustomData's rule once, with !ref, for any epoch count."""
    overrides = {"data_folder": "unused"}
    if epochs is not None:
        overrides["number_of_epochs"] = epochs
    settings = plain_settings(
        str(REPO / "recipes" / recipe / "hparams" / f"{name}.yaml"),
        overrides,
    )
    milestones = halving_milestones(settings["number_of_epochs"])
    assert {key: settings[key] for key in milestones} == milestones
