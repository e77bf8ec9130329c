"""Speed perturbation in the custom-data recipe: off by default, SpeechBrain's when on."""

import pathlib
import types

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from tests.helpers import load_custom_data_recipe

RECIPE = pathlib.Path(__file__).resolve().parent.parent / "recipes" / "CustomData"


@pytest.fixture(scope="module")
def recipe():
    return load_custom_data_recipe("custom_train_speed")


def _hparams(name, **overrides):
    with open(RECIPE / "hparams" / name, encoding="utf-8") as handle:
        return load_hyperpyyaml(handle, {"data_folder": "unused", **overrides})


@pytest.mark.parametrize(
    "name", ["ast_small_scratch.yaml", "xvector_small_scratch.yaml"]
)
def test_speed_change_resamples_a_training_batch(recipe, name):
    wavs = torch.randn(2, 16000)
    brain = types.SimpleNamespace(hparams=types.SimpleNamespace(**_hparams(name)))
    # Off by default: the very same tensor, no resampling.
    assert recipe.CustomDataBrain.perturb_speed(brain, wavs) is wavs
    hparams = _hparams(name, speed_change=10)
    assert hparams["speed_perturb"].speeds == [90, 100, 110]
    brain = types.SimpleNamespace(hparams=types.SimpleNamespace(**hparams))
    torch.manual_seed(0)
    lengths = {recipe.CustomDataBrain.perturb_speed(brain, wavs).shape[1] for _ in range(30)}
    # 90 % speed lasts longer, 110 % shorter: 17,778, 16,000 and 14,546 samples.
    assert lengths == {17778, 16000, 14546}


def test_a_yaml_without_speed_perturbation_is_left_alone(recipe):
    brain = types.SimpleNamespace(hparams=types.SimpleNamespace())
    wavs = torch.randn(1, 400)
    assert recipe.CustomDataBrain.perturb_speed(brain, wavs) is wavs
