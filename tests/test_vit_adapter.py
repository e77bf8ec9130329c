"""timm ViT/DeiT -> AST initialisation follows the official ImageNet rules."""

import pytest
import torch
import torch.nn.functional as F

timm = pytest.importorskip("timm")

from speechbrain_ast.pretrained.geometry import adapt_pos_embed  # noqa: E402
from speechbrain_ast.pretrained.timm_imagenet import (  # noqa: E402
    MODEL_SIZES,
    from_timm,
    timm_model_name,
)

DIM = 64


def tiny_deit(img_size=384, depth=2):
    """A small random DeiT-distilled with the real timm class and key names."""
    return timm.create_model(
        "deit_tiny_distilled_patch16_224",
        pretrained=False,
        img_size=img_size,
        depth=depth,
        embed_dim=DIM,
        num_heads=4,
    ).eval()


def tiny_vit(img_size=224, depth=1):
    """A small random ViT (one prefix token)."""
    return timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        img_size=img_size,
        depth=depth,
        embed_dim=DIM,
        num_heads=4,
    ).eval()


def image_grid(vit):
    """The patch part of a timm pos_embed as ``[1, D, H, W]`` (rows = freq)."""
    side = vit.patch_embed.grid_size[0]
    patches = vit.pos_embed[:, vit.num_prefix_tokens :].detach()
    return patches.transpose(1, 2).reshape(1, DIM, side, side)


def ast_grid(ast):
    """The patch part of an AST pos_embed as ``[1, D, f_dim, t_dim]``."""
    patches = ast.pos_embed[:, ast.num_prefix_tokens :].detach()
    return patches.transpose(1, 2).reshape(1, DIM, ast.f_dim, ast.t_dim)


@pytest.fixture(scope="module")
def deit():
    torch.manual_seed(1)
    return tiny_deit()


def test_speech_commands_is_pure_centre_crop(deit):
    ast = from_timm(deit, n_frames=128)
    assert (ast.f_dim, ast.t_dim) == (12, 12)
    assert torch.equal(ast_grid(ast), image_grid(deit)[:, :, 6:18, 6:18])
    # cls and dist position embeddings kept as they are
    assert torch.equal(ast.pos_embed[:, :2], deit.pos_embed[:, :2])
    assert torch.equal(ast.cls_token, deit.cls_token)
    assert torch.equal(ast.dist_token, deit.dist_token)


def test_patch_weight_is_rgb_sum_and_bias_kept(deit):
    ast = from_timm(deit, n_frames=128, fstride=12, tstride=14)
    expected = deit.patch_embed.proj.weight.sum(dim=1, keepdim=True)
    assert ast.patch_embed.proj.weight.shape == (DIM, 1, 16, 16)
    assert torch.equal(ast.patch_embed.proj.weight, expected)
    assert torch.equal(ast.patch_embed.proj.bias, deit.patch_embed.proj.bias)
    assert ast.patch_embed.proj.stride == (12, 14)


def test_audioset_time_interpolated_then_rows_cut(deit):
    ast = from_timm(deit, n_frames=1024)
    assert (ast.f_dim, ast.t_dim) == (12, 101)
    wide = F.interpolate(
        image_grid(deit), size=(24, 101), mode="bilinear", align_corners=False
    )
    assert torch.equal(ast_grid(ast), wide[:, :, 6:18, :])


def test_frequency_interpolated_when_grid_taller(deit):
    # fstride 4 gives 29 frequency rows (> 24): interpolate; time 12 (<= 24): cut.
    ast = from_timm(deit, n_frames=128, fstride=4)
    assert (ast.f_dim, ast.t_dim) == (29, 12)
    cut = image_grid(deit)[:, :, :, 6:18]
    expected = F.interpolate(cut, size=(29, 12), mode="bilinear", align_corners=False)
    assert torch.allclose(ast_grid(ast), expected, atol=1e-7)


def test_blocks_and_norm_compute_what_timm_computes(deit):
    ast = from_timm(deit, n_frames=128).eval()
    assert ast.norm.eps == deit.norm.eps == 1e-6
    assert not any(key.startswith("head") for key in ast.state_dict())
    tokens = torch.randn(2, 146, DIM)
    with torch.no_grad():
        ours, ref = tokens, tokens
        for ours_block, ref_block in zip(ast.blocks, deit.blocks):
            ours, ref = ours_block(ours), ref_block(ref)
        ours, ref = ast.norm(ours), deit.norm(ref)
    assert torch.allclose(ours, ref, atol=1e-5)


def test_224_models_cut_rows_1_to_13():
    torch.manual_seed(2)
    deit224 = tiny_deit(img_size=224, depth=1)
    ast = from_timm(deit224, n_frames=128)
    assert torch.equal(ast_grid(ast), image_grid(deit224)[:, :, 1:13, 1:13])


def test_vit_with_one_prefix_token():
    torch.manual_seed(3)
    vit = tiny_vit()
    assert vit.num_prefix_tokens == 1
    ast = from_timm(vit, n_frames=128)
    assert ast.num_prefix_tokens == 1 and not hasattr(ast, "dist_token")
    assert ast.pos_embed.shape == (1, 1 + 144, DIM)
    assert torch.equal(ast.pos_embed[:, :1], vit.pos_embed[:, :1])
    assert torch.equal(ast_grid(ast), image_grid(vit)[:, :, 1:13, 1:13])
    assert ast(torch.randn(1, 100, 128)).shape == (1, 1, DIM)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_local_checkpoint_file(deit, tmp_path, suffix):
    path = tmp_path / f"deit{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in deit.state_dict().items()}, path)
    else:
        torch.save({"model": deit.state_dict()}, path)  # DeiT release layout
    from_file = from_timm(str(path), n_frames=1024, num_heads=4)
    from_module = from_timm(deit, n_frames=1024)
    assert from_file.config == from_module.config
    for key, value in from_module.state_dict().items():
        assert torch.equal(from_file.state_dict()[key], value), key


def test_local_checkpoint_needs_heads_for_unusual_width(deit, tmp_path):
    path = tmp_path / "deit.pth"
    torch.save(deit.state_dict(), path)
    with pytest.raises(ValueError, match="num_heads"):
        from_timm(str(path), n_frames=128)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        from_timm(str(tmp_path / "nothing.pth"))


def test_model_name_downloads_through_timm(deit, monkeypatch):
    calls = []

    def fake_create_model(name, pretrained=False, **kwargs):
        calls.append((name, pretrained))
        return deit

    monkeypatch.setattr(timm, "create_model", fake_create_model)
    ast = from_timm("base384", n_frames=128)
    assert calls == [("deit_base_distilled_patch16_384", True)]
    assert ast.num_prefix_tokens == 2
    from_timm("vit_deit_base_distilled_patch16_384", n_frames=128)
    assert calls[-1] == ("deit_base_distilled_patch16_384", True)


def test_model_size_mapping():
    assert MODEL_SIZES == {
        "tiny224": "deit_tiny_distilled_patch16_224",
        "small224": "deit_small_distilled_patch16_224",
        "base224": "deit_base_distilled_patch16_224",
        "base384": "deit_base_distilled_patch16_384",
    }
    assert timm_model_name("vit_base_patch16_224") == "vit_base_patch16_224"


def test_contradicting_architecture_argument_raises(deit):
    with pytest.raises(ValueError, match="embed_dim"):
        from_timm(deit, n_frames=128, embed_dim=128)
    # Non-architecture arguments pass through.
    ast = from_timm(deit, n_frames=128, drop_path_rate=0.1)
    assert ast.config["drop_path_rate"] == 0.1


def test_unsupported_timm_variants_raise():
    torch.manual_seed(4)
    scaled = timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        depth=1,
        embed_dim=DIM,
        num_heads=4,
        init_values=1e-5,  # LayerScale: not part of AST
    )
    with pytest.raises(ValueError, match="ls1.gamma"):
        from_timm(scaled, n_frames=128)
    pooled = timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        depth=1,
        embed_dim=DIM,
        num_heads=4,
        global_pool="avg",  # fc_norm instead of a final norm
    )
    with pytest.raises(ValueError, match="not a plain timm ViT"):
        from_timm(pooled, n_frames=128)


def test_adapt_pos_embed_same_size_is_identity():
    grid = torch.randn(1, 4, 12, 101)
    assert torch.equal(adapt_pos_embed(grid, 12, 101), grid)
