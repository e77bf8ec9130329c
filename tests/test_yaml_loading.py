"""Every recipe YAML loads the way SpeechBrain's pre-release check loads it.

SpeechBrain's ``tests/utils/recipe_tests.py:load_yaml_test`` reads the
``Hparam_file`` of every ``tests/recipes/*.csv`` row with
``load_hyperpyyaml(fin, {"data_folder": ..., "output_folder": ...})`` and
nothing else, from the script's folder: no train.py, no data, no row flags.
Here the network is blocked as well, so a YAML that downloads weights when
it is loaded fails. What the data decides (``auto``) and what pretrained
weights give is then filled in by the recipe, lazily: the normaliser waits
for its statistics and ``initialize_encoder`` for ``train.py``; both are
tested below.
"""

import csv
import math
import pathlib
import socket

import pytest
import timm
import torch
from hyperpyyaml import load_hyperpyyaml

import speechbrain_ast.pretrained.initialization as initialization
from speechbrain_ast.features import FixedNormalization, normalized_value
from speechbrain_ast.pretrained import from_timm
from speechbrain_ast.training.settings import data_decided, plain_settings

REPO = pathlib.Path(__file__).resolve().parent.parent


def recipe_rows():
    """(row id, Hparam_file) of every tests/recipes row, as SpeechBrain lists them."""
    rows = []
    for path in sorted((REPO / "tests" / "recipes").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            for index, row in enumerate(csv.DictReader(handle), start=1):
                rows.append((f"{path.stem}_row_{index:02d}", row["Hparam_file"]))
    return rows


def load_param(row_id, hparam_file):
    """A parametrize entry: every row's YAML must load."""
    return pytest.param(hparam_file, id=row_id)


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt (a download) raises."""

    def refuse(*args, **kwargs):
        raise OSError("network access while loading a YAML")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def load_like_speechbrain(hparam_file, tmp_path, monkeypatch, **extra):
    """``load_yaml_test``'s load: from the script folder, two overrides only."""
    monkeypatch.chdir(REPO / hparam_file.split("/hparams/")[0])
    overrides = {
        "data_folder": str(tmp_path / "yaml"),
        "output_folder": str(tmp_path / "output"),
        **extra,
    }
    with open(REPO / hparam_file, encoding="utf-8") as fin:
        return load_hyperpyyaml(fin, overrides)


@pytest.mark.parametrize(
    "hparam_file", [load_param(row_id, path) for row_id, path in recipe_rows()]
)
def test_yaml_loads_with_only_the_folders_and_no_network(
    hparam_file, tmp_path, monkeypatch, no_network
):
    hparams = load_like_speechbrain(hparam_file, tmp_path, monkeypatch)
    assert all(isinstance(m, torch.nn.Module) for m in hparams["modules"].values())
    if "initialize_encoder" in hparams:  # declared, not yet called
        assert callable(hparams["initialize_encoder"])


@pytest.mark.parametrize("name", ["ast.yaml", "ast_small_scratch.yaml"])
def test_custom_data_keys_come_from_the_data_unless_given(name):
    """The values written for from_data keys only make the YAML loadable."""
    path = str(REPO / "recipes" / "CustomData" / "hparams" / name)
    overrides = {"data_folder": "unused", "n_frames": 300}
    settings = plain_settings(path, overrides)
    decided = data_decided(settings, settings["from_data"], overrides)
    assert {"n_classes", "n_frames", "norm_mean"} <= set(settings["from_data"])
    for key in settings["from_data"]:
        assert decided[key] == ("auto" if key != "n_frames" else 300), key
    # Keys the data does not decide keep the YAML's value.
    assert decided["batch_size"] == settings["batch_size"]
    with pytest.raises(ValueError, match="from_data must list keys"):
        data_decided(settings, ["no_such_key"], overrides)


# The normaliser: "auto" statistics are waited for, never guessed.


def test_auto_normaliser_refuses_to_run_until_it_has_statistics():
    norm = FixedNormalization(mean="auto", std="auto")
    feats = torch.randn(2, 8, 128)
    with pytest.raises(RuntimeError, match="no statistics yet.*auto"):
        norm(feats)
    with pytest.raises(RuntimeError, match="no statistics yet"):
        norm.normalized(0.0)
    norm.set_statistics(-6.6268077, 5.358466)
    assert torch.equal(norm(feats), FixedNormalization(dataset="esc50")(feats))


def test_auto_normaliser_gets_statistics_from_a_state_dict():
    pending = FixedNormalization(mean="auto", std="auto")
    pending.load_state_dict(FixedNormalization(dataset="audioset").state_dict())
    assert pending.has_statistics
    assert round(pending.normalized(0.0), 3) == 0.467


@pytest.mark.parametrize(
    "mean, std", [("auto", 5.0), (-4.0, "auto"), (-4.0, 0.0), (None, None)]
)
def test_normaliser_refuses_half_auto_or_bad_statistics(mean, std):
    with pytest.raises(ValueError):
        FixedNormalization(mean=mean, std=std)


def test_pad_value_is_a_number_for_a_negative_mean(tmp_path, monkeypatch):
    """A !ref expression left ``(0 - -6.6) / (2 * 5.4)`` as a string."""
    hparams = load_like_speechbrain(
        "recipes/ESC50/hparams/ast_small_scratch.yaml", tmp_path, monkeypatch
    )
    expected = (0.0 - hparams["norm_mean"]) / (2 * hparams["norm_std"])
    assert hparams["embedding_model"].pad_value == pytest.approx(expected)
    assert isinstance(hparams["embedding_model"].pad_value, float)


def test_pad_value_of_auto_statistics_is_nan():
    assert math.isnan(normalized_value(0.0, "auto", "auto"))
    assert normalized_value(1.0, -1.0, 2.0) == 0.5


def test_ssl_yaml_builds_a_waiting_normaliser(tmp_path, monkeypatch, no_network):
    hparams = load_like_speechbrain(
        "recipes/SSL/hparams/ssast_frame.yaml", tmp_path, monkeypatch
    )
    assert not hparams["mean_var_norm"].has_statistics
    # What train.py passes once the preparation derived them.
    hparams = load_like_speechbrain(
        "recipes/SSL/hparams/ssast_frame.yaml",
        tmp_path,
        monkeypatch,
        norm_mean=-5.0,
        norm_std=4.0,
    )
    assert hparams["mean_var_norm"].has_statistics
    assert hparams["encoder"].pad_value == pytest.approx(5.0 / 8.0)


# Pretrained weights: declared in the YAML, read when train.py calls for them.

TINY = {"embed_dim": 192, "depth": 1, "num_heads": 3}  # DeiT-tiny, one block


@pytest.fixture
def fake_timm(monkeypatch):
    """``from_timm`` on a random DeiT-tiny instead of a download; records calls."""
    calls = []
    deit = timm.create_model(
        "deit_tiny_distilled_patch16_224", pretrained=False, depth=1
    )

    def fake(source, **geometry):
        calls.append((source, geometry))
        torch.randn(1000)  # the real one builds a random model first
        return from_timm(deit, **geometry)

    monkeypatch.setattr(initialization, "from_timm", fake)
    return calls, deit


def test_imagenet_weights_are_read_when_the_recipe_asks(
    tmp_path, monkeypatch, no_network, fake_timm
):
    calls, deit = fake_timm
    hparams = load_like_speechbrain(
        "recipes/ESC50/hparams/ast.yaml", tmp_path, monkeypatch, **TINY
    )
    assert calls == []  # loading the YAML read nothing
    encoder = hparams["embedding_model"]
    assert hparams["initialize_encoder"]() is encoder
    assert calls == [
        (
            "deit_base_distilled_patch16_384",
            {"n_frames": 512, "fstride": 10, "tstride": 10, "n_mels": 128},
        )
    ]
    expected = from_timm(deit, n_frames=512).state_dict()
    for key, value in expected.items():
        assert torch.equal(encoder.state_dict()[key], value), key


def test_reading_weights_leaves_the_seeded_random_stream_alone(
    tmp_path, monkeypatch, fake_timm
):
    hparams = load_like_speechbrain(
        "recipes/ESC50/hparams/ast.yaml", tmp_path, monkeypatch, **TINY
    )
    before = torch.random.get_rng_state()
    hparams["initialize_encoder"]()
    assert torch.equal(torch.random.get_rng_state(), before)


def test_audioset_init_without_a_source_fails_when_training_starts(
    tmp_path, monkeypatch, no_network
):
    hparams = load_like_speechbrain(
        "recipes/ESC50/hparams/ast_audioset_init.yaml", tmp_path, monkeypatch, **TINY
    )
    assert hparams["init_source"] is None
    with pytest.raises(ValueError, match="init='audioset' needs a source.*init_source"):
        hparams["initialize_encoder"]()


@pytest.mark.parametrize(
    "hparam_file",
    [
        "recipes/ESC50/hparams/ast_small_scratch.yaml",
        "recipes/ESC50/hparams/xvector_small_scratch.yaml",
        "recipes/ESC50/hparams/ecapa_small_scratch.yaml",
        "recipes/SpeechCommands/hparams/ast_small_scratch.yaml",
    ],
)
@pytest.mark.parametrize("epochs", [1, 2, 5, 6, 25])
def test_small_recipes_derive_a_valid_schedule_for_short_runs(
    hparam_file, epochs, tmp_path, monkeypatch
):
    """``--number_of_epochs`` under 6 once gave ``lr_decay_step`` 0 and a crash."""
    hparams = load_like_speechbrain(
        hparam_file, tmp_path, monkeypatch, number_of_epochs=epochs
    )
    schedule = hparams["lr_schedule"]
    assert schedule.milestones_step >= 1
    # The first epoch trains at the full rate once warm-up is over.
    assert schedule.lr_at(1, hparams["warmup_steps"]) == hparams["lr"]
    assert 1 <= hparams["wa_start"] <= hparams["wa_end"] == epochs
    if epochs >= 6:  # unchanged for the runs the recipes were measured with
        assert hparams["lr_decay_step"] == epochs // 6
        assert hparams["lr_decay_start"] == epochs // 2
