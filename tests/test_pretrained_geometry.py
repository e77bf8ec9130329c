"""The shared position-embedding rule is the official one, bit for bit.

``pretrained.geometry`` cuts every shrinking axis first and resizes the
growing ones with timm's ``resample_abs_pos_embed``; the official code goes
axis by axis (time, then frequency). These tests pin the two to equal
numbers, and the old import paths to the new objects.
"""

import pytest
import torch
import torch.nn.functional as F

from speechbrain_ast.pretrained import geometry


def official_rule(grid, f_dim, t_dim):
    """The official AST steps, literally: time first, then frequency."""
    src_h, src_w = grid.shape[2:]
    if t_dim <= src_w:
        start = src_w // 2 - t_dim // 2
        grid = grid[:, :, :, start : start + t_dim]
    else:
        grid = F.interpolate(
            grid, size=(src_h, t_dim), mode="bilinear", align_corners=False
        )
    if f_dim <= src_h:
        start = src_h // 2 - f_dim // 2
        grid = grid[:, :, start : start + f_dim, :]
    else:
        grid = F.interpolate(
            grid, size=(f_dim, t_dim), mode="bilinear", align_corners=False
        )
    return grid


@pytest.mark.parametrize(
    "src, dst",
    [
        ((24, 24), (12, 12)),  # ImageNet 384 -> Speech Commands: both cut
        ((24, 24), (12, 101)),  # ImageNet 384 -> AudioSet: time grows
        ((14, 14), (12, 101)),  # ImageNet 224 -> AudioSet
        ((12, 101), (30, 50)),  # frequency grows, time cut
        ((12, 101), (14, 120)),  # both grow
        ((12, 101), (12, 101)),  # unchanged
    ],
)
def test_rule_equals_the_official_two_steps_bitwise(src, dst):
    torch.manual_seed(0)
    grid = torch.randn(1, 16, *src)
    assert torch.equal(geometry.adapt_pos_embed(grid, *dst), official_rule(grid, *dst))
    # token form: prefix tokens kept, patch part row-major (rows = frequency)
    prefix = torch.randn(1, 2, 16)
    tokens = torch.cat([prefix, grid.flatten(2).transpose(1, 2)], dim=1)
    out = geometry.adapt_pos_embed_tokens(tokens, 2, src, dst)
    expected = official_rule(grid, *dst).flatten(2).transpose(1, 2)
    assert torch.equal(out[:, :2], prefix)
    assert torch.equal(out[:, 2:], expected)


def test_patch_kernel_is_the_rgb_sum():
    weight = torch.randn(8, 3, 16, 16)
    mono = geometry.patch_weight_to_mono(weight)
    assert torch.equal(mono, weight.sum(dim=1, keepdim=True))
    with pytest.raises(ValueError, match="C <= 3"):
        geometry.patch_weight_to_mono(torch.randn(8, 4, 16, 16))


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="2 prefix tokens \\+ a 12x101 grid"):
        geometry.adapt_pos_embed_tokens(torch.randn(1, 100, 4), 2, (12, 101), (12, 50))
    with pytest.raises(ValueError, match="empty"):
        geometry.adapt_pos_embed(torch.randn(1, 4, 12, 101), 0, 50)


def test_pretrained_is_the_one_home_of_outside_weights():
    import importlib.util

    from speechbrain_ast import pretrained

    assert pretrained.adapt_pos_embed is geometry.adapt_pos_embed
    assert pretrained.resize_to_n_frames is geometry.resize_to_n_frames
    # The 0.1.0 alias modules are gone: one import path per concept.
    for alias in ("checkpoints", "initialization", "vit_adapter"):
        assert importlib.util.find_spec(f"speechbrain_ast.{alias}") is None

