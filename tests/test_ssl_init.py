"""``init: ssl``: the SSL recipe's encoder.ckpt loads into the fine-tuning recipes."""

import csv
import os
import pathlib
import shlex
import subprocess
import sys

import pytest
import torch

from speechbrain_ast.model import AudioSpectrogramTransformer
from speechbrain_ast.pretrained import initialize_encoder
from speechbrain_ast.pretrained.geometry import adapt_pos_embed_tokens
from speechbrain_ast.pretrained.ssl_checkpoint import (
    read_ssl_checkpoint,
    write_ssl_checkpoint,
)

REPO = pathlib.Path(__file__).resolve().parent.parent
TINY = {"embed_dim": 32, "depth": 1, "num_heads": 2}
FRAME = {"patch_size": [128, 2], "fstride": 128, "tstride": 2}
PATCH = {"patch_size": 16, "fstride": 16, "tstride": 16}
# Overrides that give a recipe the geometry of each variant.
GEOMETRY_FLAGS = {
    "frame": "--patch_size=[128,2] --fstride 128 --tstride 2",
    "patch": "--patch_size 16 --fstride 16 --tstride 16",
}


def pretrained(tmp_path, n_frames, geometry, name="encoder.ckpt"):
    """A tiny SSL encoder file as the recipe writes it, and its encoder."""
    torch.manual_seed(3)
    encoder = AudioSpectrogramTransformer(n_frames=n_frames, **geometry, **TINY)
    path = tmp_path / name
    write_ssl_checkpoint(str(path), encoder, {"n_frames": n_frames})
    return path, encoder


def test_encoder_file_rebuilds_the_encoder(tmp_path):
    path, source = pretrained(tmp_path, 512, FRAME)
    checkpoint = read_ssl_checkpoint(str(path))
    rebuilt = AudioSpectrogramTransformer(**checkpoint["config"])
    rebuilt.load_state_dict(checkpoint["state_dict"])
    fbank = torch.randn(1, 300, 128)  # shorter: padded with the config's pad_value
    assert torch.equal(rebuilt.eval()(fbank), source.eval()(fbank))
    assert checkpoint["trained_on"] == {"n_frames": 512}


def test_frame_encoder_loads_at_another_length(tmp_path):
    path, source = pretrained(tmp_path, 512, FRAME)
    recipe = AudioSpectrogramTransformer(n_frames=128, **FRAME, **TINY)
    initialize_encoder(recipe, "ssl", str(path), source_format="ignored")
    assert torch.equal(
        recipe.blocks[0].attn.qkv.weight, source.blocks[0].attn.qkv.weight
    )
    assert torch.equal(recipe.cls_token, source.cls_token)
    assert torch.equal(recipe.dist_token, source.dist_token)
    # 1 x 256 -> 1 x 64 grid: the official centre cut, prefix positions kept
    assert torch.equal(recipe.pos_embed[:, :2], source.pos_embed[:, :2])
    assert torch.equal(recipe.pos_embed[:, 2:], source.pos_embed[:, 2 + 96 : 2 + 160])


def test_patch_encoder_positions_are_interpolated_to_a_longer_input(tmp_path):
    path, source = pretrained(tmp_path, 256, PATCH)
    recipe = AudioSpectrogramTransformer(n_frames=512, **PATCH, **TINY)
    initialize_encoder(recipe, "ssl", str(path))
    expected = adapt_pos_embed_tokens(source.pos_embed, 2, (8, 16), (8, 32))
    assert torch.equal(recipe.pos_embed, expected)
    assert torch.equal(recipe.patch_embed.proj.weight, source.patch_embed.proj.weight)


def test_mismatch_lists_every_difference_and_its_override(tmp_path):
    path, _ = pretrained(tmp_path, 512, FRAME)
    recipe = AudioSpectrogramTransformer(
        n_frames=512, embed_dim=64, depth=1, num_heads=2
    )
    with pytest.raises(ValueError) as error:
        initialize_encoder(recipe, "ssl", str(path))
    message = str(error.value)
    assert str(path) in message
    for line in (
        "patch_size: checkpoint [128, 2], recipe [16, 16] (pass --patch_size=[128,2])",
        "fstride: checkpoint 128, recipe 10 (pass --fstride 128)",
        "tstride: checkpoint 2, recipe 10 (pass --tstride 2)",
        "embed_dim: checkpoint 32, recipe 64 (pass --embed_dim 32)",
    ):
        assert line in message
    assert "depth" not in message  # equal keys are not listed


def test_other_files_are_clear_errors(tmp_path):
    recipe = AudioSpectrogramTransformer(n_frames=128, **TINY)
    with pytest.raises(ValueError, match="SSL encoder file not found"):
        initialize_encoder(recipe, "ssl", str(tmp_path / "missing.ckpt"))
    other = tmp_path / "weights.pt"
    torch.save(recipe.state_dict(), other)
    with pytest.raises(ValueError, match="not an SSL encoder file"):
        initialize_encoder(recipe, "ssl", str(other))
    with pytest.raises(ValueError, match="needs a source"):
        initialize_encoder(recipe, "ssl", None)


def first_row(dataset):
    """The first tests/recipes row of ``dataset`` (its debug flags)."""
    with open(
        REPO / "tests" / "recipes" / f"{dataset}.csv", encoding="utf-8"
    ) as handle:
        return next(csv.DictReader(handle))


@pytest.mark.parametrize(
    "dataset, variant, n_frames",
    [
        ("CustomData", "frame", 512),
        ("ESC50", "patch", 256),
        ("SpeechCommands", "frame", 512),
    ],
)
def test_recipe_debug_run_starts_from_the_ssl_encoder(
    dataset, variant, n_frames, tmp_path
):
    geometry = FRAME if variant == "frame" else PATCH
    path, _ = pretrained(tmp_path, n_frames, geometry)
    row = first_row(dataset)
    flags = shlex.split(row["test_debug_flags"].replace("--init scratch", ""))
    output = tmp_path / "output"
    command = [
        sys.executable, row["Script_file"], row["Hparam_file"], *flags,
        "--init", "ssl", "--init_source", str(path),
        *shlex.split(GEOMETRY_FLAGS[variant]),
        "--debug", "--debug_persistently", "--device", "cpu",
        "--output_folder", str(output),
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(
        filter(
            None,
            [str(REPO / os.path.dirname(row["Script_file"])), env.get("PYTHONPATH")],
        )
    )
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    # A debug run makes at most 4 small Adam steps: the fine-tuned encoder is
    # still within 0.01 of the SSL weights (a random one is ~0.1 away).
    tuned = torch.load(output / "model" / "embedding_model.ckpt", weights_only=True)
    ssl = read_ssl_checkpoint(str(path))["state_dict"]
    for key in ("patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "cls_token"):
        assert (tuned[key] - ssl[key]).abs().max() < 0.01, key
