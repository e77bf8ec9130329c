"""Frame patches (SSAST's 128x2) and patch-token pooling, end to end."""

import pytest
import torch

from benchmarks.flops import ast_forward_flops
from speechbrain_ast.model import (
    AudioSpectrogramTransformer,
    ClassificationHead,
    patch_grid,
)
from speechbrain_ast.model_folder import write_model_folder
from speechbrain_ast.tagging.tagger import AudioTagger


def _frame_model(**kwargs):
    return AudioSpectrogramTransformer(
        n_frames=100,
        patch_size=[128, 2],
        fstride=128,
        tstride=2,
        embed_dim=32,
        depth=1,
        num_heads=2,
        **kwargs,
    )


def test_frame_patches_give_one_token_per_two_frames():
    model = _frame_model().eval()
    assert (model.f_dim, model.t_dim) == (1, 50)
    tokens = model.forward_features(torch.randn(2, 100, 128))
    assert tokens.shape == (2, 2 + 50, 32)
    # A token sees only its own two frames: changing frames 10-11 changes token 5 only.
    x = torch.randn(1, 100, 128)
    changed = x.clone()
    changed[:, 10:12] += 1.0
    embed = model.patch_embed(x.unsqueeze(1).transpose(2, 3))
    embed_changed = model.patch_embed(changed.unsqueeze(1).transpose(2, 3))
    differs = (embed - embed_changed).abs().amax(-1)[0] > 0
    assert differs.nonzero().flatten().tolist() == [5]


def test_rectangular_grid_and_flops():
    assert patch_grid(128, 498, 128, 4, (128, 4)) == (1, 124)
    with pytest.raises(ValueError, match="128x2 patch"):
        patch_grid(64, 100, 128, 2, (128, 2))
    with pytest.raises(ValueError, match="patch_size"):
        patch_grid(128, 100, 10, 10, (16, 0))
    square = ast_forward_flops(128, embed_dim=32, depth=1)
    frames = ast_forward_flops(
        128, embed_dim=32, depth=1, patch_size=(128, 2), fstride=128, tstride=2
    )
    assert frames != square and frames > 0


def test_patch_pooling_is_the_mean_of_patch_outputs():
    torch.manual_seed(0)
    model = _frame_model(pooling="patches").eval()
    x = torch.randn(3, 100, 128)
    tokens = model.forward_features(x)
    pooled = model(x)
    assert torch.allclose(pooled[:, 0], tokens[:, 2:].mean(1), atol=1e-6)
    model.pooling = "prefix"
    assert not torch.allclose(model(x), pooled)
    with pytest.raises(ValueError, match="pooling"):
        _frame_model(pooling="max")


def test_frame_model_folder_round_trip(tmp_path):
    """A model folder rebuilds a frame-patch, patch-pooled model exactly."""
    torch.manual_seed(1)
    encoder = _frame_model(pooling="patches").eval()
    head = ClassificationHead(32, 3).eval()
    folder = write_model_folder(
        str(tmp_path / "model"), encoder, head, ["a", "b", "c"], -6.5, 5.5, False
    )
    tagger = AudioTagger.from_hparams(source=folder, savedir=str(tmp_path / "cache"))
    loaded = tagger.mods.embedding_model
    assert loaded.pooling == "patches" and (loaded.f_dim, loaded.t_dim) == (1, 50)
    x = torch.randn(2, 100, 128)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(x), encoder(x))
