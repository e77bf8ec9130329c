"""SSAST masked patch modelling: targets, masks, the mask hook and the losses."""

import pytest
import torch

from speechbrain_ast.masked_patch import (
    MaskedPatchModel,
    cluster_mask,
    random_mask,
    unfold_patches,
)
from speechbrain_ast.model import AudioSpectrogramTransformer


def frame_encoder(depth=1, **kwargs):
    """A tiny encoder with SSAST's 128 x 2 frame patches (32 tokens)."""
    return AudioSpectrogramTransformer(
        n_frames=64,
        patch_size=(128, 2),
        fstride=128,
        tstride=2,
        embed_dim=32,
        depth=depth,
        num_heads=2,
        **kwargs,
    )


def patch_encoder(depth=1):
    """A tiny encoder with 16 x 16 patches at stride 16 (8 x 4 tokens)."""
    return AudioSpectrogramTransformer(
        n_frames=64, fstride=16, tstride=16, embed_dim=32, depth=depth, num_heads=2
    )


@pytest.mark.parametrize("make_encoder", [frame_encoder, patch_encoder])
def test_targets_follow_the_encoder_token_order(make_encoder):
    encoder = make_encoder()
    height, width = encoder.patch_embed.proj.kernel_size
    fbank = torch.randn(2, encoder.n_frames, 128)
    targets = unfold_patches(
        fbank, encoder.patch_size, encoder.fstride, encoder.tstride
    )
    assert targets.shape == (2, encoder.num_patches, height * width)
    # A kernel that copies patch value k into channel k: the patch embedding
    # then equals the target patch token by token.
    proj = encoder.patch_embed.proj
    with torch.no_grad():
        proj.weight.zero_()
        proj.bias.zero_()
    copy = torch.nn.Conv2d(1, height * width, (height, width), stride=proj.stride)
    with torch.no_grad():
        copy.weight.copy_(torch.eye(height * width).reshape(-1, 1, height, width))
        copy.bias.zero_()
    embedded = copy(fbank.transpose(1, 2).unsqueeze(1)).flatten(2).transpose(1, 2)
    assert torch.allclose(embedded, targets, atol=1e-5)


def test_random_mask_counts_and_shape():
    mask = random_mask(4, 256, 100)
    assert mask.shape == (4, 256) and mask.dtype == torch.bool
    assert mask.sum(dim=1).tolist() == [100] * 4
    assert not torch.equal(mask[0], mask[1])  # each clip its own positions


def test_cluster_mask_counts_and_neighbours():
    mask = cluster_mask(4, 8, 32, 100)
    assert mask.shape == (4, 256)
    assert mask.sum(dim=1).tolist() == [100] * 4
    grid = mask.reshape(4, 8, 32)
    # In clusters almost every masked patch has a masked time neighbour;
    # 100 random positions of 256 would give about 60 %.
    right = torch.zeros_like(grid)
    right[:, :, :-1] = grid[:, :, 1:]
    left = torch.zeros_like(grid)
    left[:, :, 1:] = grid[:, :, :-1]
    with_neighbour = (grid & (left | right)).sum() / grid.sum()
    assert with_neighbour > 0.9


def test_masks_are_deterministic_with_a_seed():
    model = MaskedPatchModel(patch_encoder(), n_masked=12, masking="cluster")
    torch.manual_seed(5)
    first = model.sample_mask(3)
    torch.manual_seed(5)
    assert torch.equal(model.sample_mask(3), first)
    generator = torch.Generator().manual_seed(5)
    again = torch.Generator().manual_seed(5)
    assert torch.equal(model.sample_mask(3, generator), model.sample_mask(3, again))
    torch.manual_seed(6)
    assert not torch.equal(model.sample_mask(3), first)


def test_same_seed_gives_the_same_loss():
    fbank = torch.randn(2, 64, 128)
    losses = []
    for _ in range(2):
        torch.manual_seed(11)
        model = MaskedPatchModel(frame_encoder(), n_masked=10)
        losses.append(model(fbank)["loss"].item())
    assert losses[0] == losses[1]


def test_masked_positions_are_the_replaced_ones():
    # Without blocks, each output is norm(patch embedding + position): masked
    # positions must show the mask embedding, the others their own patch.
    encoder = frame_encoder(depth=0).eval()
    model = MaskedPatchModel(encoder, n_masked=5)
    fbank = torch.randn(2, 64, 128)
    mask = model.sample_mask(2)
    masked = encoder.forward_features(
        fbank, token_mask=mask, mask_embedding=model.mask_embedding
    )[:, 2:]
    plain = encoder.forward_features(fbank)[:, 2:]
    expected = encoder.norm(model.mask_embedding + encoder.pos_embed[0, 2:])
    same = torch.isclose(masked, plain, atol=1e-6).all(dim=-1)
    assert torch.equal(same, ~mask)
    for clip in range(2):
        assert torch.allclose(masked[clip][mask[clip]], expected[mask[clip]])


def test_mask_hook_leaves_the_unmasked_output_unchanged():
    encoder = frame_encoder().eval()
    fbank = torch.randn(2, 64, 128)
    nothing = torch.zeros(2, encoder.num_patches, dtype=torch.bool)
    assert torch.equal(
        encoder.forward_features(
            fbank, token_mask=nothing, mask_embedding=torch.ones(32)
        ),
        encoder.forward_features(fbank),
    )


def test_loss_decreases_on_a_fixed_batch():
    model = MaskedPatchModel(patch_encoder(), n_masked=12, masking="cluster")
    fbank = torch.randn(4, 64, 128)
    mask = model.sample_mask(4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = model(fbank, token_mask=mask)
    for _ in range(15):
        optimizer.zero_grad()
        model(fbank, token_mask=mask)["loss"].backward()
        optimizer.step()
    last = model(fbank, token_mask=mask)
    assert last["loss"] < 0.8 * first["loss"]
    assert last["mse"] < first["mse"]
    assert 0.0 <= last["accuracy"] <= 1.0


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="n_masked=40 must be in"):
        MaskedPatchModel(frame_encoder(), n_masked=40)
    with pytest.raises(ValueError, match="masking must be one of"):
        MaskedPatchModel(frame_encoder(), n_masked=4, masking="blocks")
    encoder = frame_encoder(patchout_time=2).train()
    with pytest.raises(ValueError, match="cannot be combined with patchout"):
        MaskedPatchModel(encoder, n_masked=4)(torch.randn(1, 64, 128))
