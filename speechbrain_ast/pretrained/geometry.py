"""Patch and position-embedding geometry shared by every pretrained source.

The official AST moves positional embeddings between patch grids with one
rule, in both of its branches (ImageNet init: the 24x24 or 14x14 image grid;
AudioSet init: the 12 x 101 grid): time first, then frequency; per axis a
centre cut ``[n_src // 2 - n // 2 : n_src // 2 - n // 2 + n]`` when the
target ``n`` is not larger, bilinear interpolation (``align_corners=False``)
otherwise; prefix-token (cls/dist) embeddings unchanged.

A bilinear resize along one axis leaves the other axis untouched, so the
rule is computed as: centre-cut every axis that shrinks, then resize time,
then frequency, where they grow. Each resize is timm's
``resample_abs_pos_embed`` (bilinear, no antialiasing);
``tests/test_pretrained_geometry.py`` proves the numbers bitwise equal to the
official steps (one 2-D resize of both axes at once would differ in the last
bits). Likewise the official sum of the RGB patch kernels is timm's
``adapt_input_conv(1, ...)``.

Authors
 * speechbrain-ast contributors 2026
"""

import torch

from speechbrain_ast.model import patch_grid


def adapt_pos_embed_tokens(pos_embed, num_prefix_tokens, src_grid, dst_grid):
    """Adapt positional embeddings ``[1, P + H*W, D]`` to a new patch grid.

    The ``P`` prefix-token embeddings are kept; the patch part (row-major,
    rows = frequency) follows the official AST rule (module docstring).

    Arguments
    ---------
    pos_embed : torch.Tensor
        ``[1, num_prefix_tokens + H * W, D]``.
    num_prefix_tokens : int
        0 (a bare grid), 1 (ViT: cls) or 2 (DeiT, AST: cls + dist).
    src_grid : tuple of int
        ``(H, W)`` of the source grid (frequency, time).
    dst_grid : tuple of int
        ``(f_dim, t_dim)`` of the target grid.

    Returns
    -------
    torch.Tensor
        ``[1, num_prefix_tokens + f_dim * t_dim, D]``.

    Example
    -------
    >>> pe = torch.randn(1, 2 + 12 * 101, 8)
    >>> adapt_pos_embed_tokens(pe, 2, (12, 101), (12, 50)).shape  # ESC-50
    torch.Size([1, 602, 8])
    """
    src_h, src_w = src_grid
    f_dim, t_dim = dst_grid
    if pos_embed.ndim != 3 or pos_embed.shape[1] != num_prefix_tokens + src_h * src_w:
        raise ValueError(
            f"pos_embed of shape {list(pos_embed.shape)} does not hold "
            f"{num_prefix_tokens} prefix tokens + a {src_h}x{src_w} grid "
            f"({num_prefix_tokens + src_h * src_w} tokens)"
        )
    if f_dim < 1 or t_dim < 1:
        raise ValueError(f"target grid {f_dim}x{t_dim} is empty")
    dim = pos_embed.shape[2]
    prefix = pos_embed[:, :num_prefix_tokens]
    grid = pos_embed[:, num_prefix_tokens:].reshape(1, src_h, src_w, dim)
    cut_h, cut_w = min(src_h, f_dim), min(src_w, t_dim)
    top, left = src_h // 2 - cut_h // 2, src_w // 2 - cut_w // 2
    grid = grid[:, top : top + cut_h, left : left + cut_w]
    tokens = torch.cat([prefix, grid.reshape(1, cut_h * cut_w, dim)], dim=1)
    # Time first, then frequency, as the official code.
    for old, new in (((cut_h, cut_w), (cut_h, t_dim)), ((cut_h, t_dim), dst_grid)):
        if old != tuple(new):
            # timm is slow to import; only growing grids need it.
            from timm.layers import resample_abs_pos_embed

            tokens = resample_abs_pos_embed(
                tokens,
                new_size=list(new),
                old_size=list(old),
                num_prefix_tokens=num_prefix_tokens,
                interpolation="bilinear",
                antialias=False,  # align_corners=None: False for bilinear
            )
    return tokens.contiguous()


def adapt_pos_embed(grid_pe, f_dim, t_dim):
    """Adapt a ``[1, D, H, W]`` grid of positional embeddings (official rule).

    The grid form of ``adapt_pos_embed_tokens`` (rows: frequency, columns:
    time).

    Arguments
    ---------
    grid_pe : torch.Tensor
        Positional embeddings ``[1, D, H, W]``.
    f_dim, t_dim : int
        Target grid height (frequency) and width (time).

    Returns
    -------
    torch.Tensor
        ``[1, D, f_dim, t_dim]``.

    Example
    -------
    >>> grid = torch.arange(24 * 24.0).reshape(1, 1, 24, 24)
    >>> out = adapt_pos_embed(grid, 12, 12)  # Speech Commands: pure crop
    >>> torch.equal(out, grid[:, :, 6:18, 6:18])
    True
    >>> adapt_pos_embed(grid, 12, 101).shape  # AudioSet: time interpolated
    torch.Size([1, 1, 12, 101])
    """
    if grid_pe.ndim != 4:
        raise ValueError(f"expected a [1, D, H, W] grid, got {list(grid_pe.shape)}")
    _, dim, src_h, src_w = grid_pe.shape
    tokens = grid_pe.flatten(2).transpose(1, 2)
    tokens = adapt_pos_embed_tokens(tokens, 0, (src_h, src_w), (f_dim, t_dim))
    return tokens.transpose(1, 2).reshape(1, dim, f_dim, t_dim).contiguous()


def patch_weight_to_mono(weight):
    """Sum a ``[D, C, k, k]`` patch-projection weight over its input channels.

    The official AST sums the RGB weights (the paper says "average"), which
    is what timm's ``adapt_input_conv`` does for one input channel.

    Arguments
    ---------
    weight : torch.Tensor
        Convolution weight ``[D, C, k, k]``, ``C`` at most 3 (RGB).

    Returns
    -------
    torch.Tensor
        ``[D, 1, k, k]``.

    Example
    -------
    >>> patch_weight_to_mono(torch.ones(4, 3, 16, 16))[0, 0, 0, 0].item()
    3.0
    """
    if weight.ndim != 4 or weight.shape[1] > 3:
        raise ValueError(
            f"expected a [D, C, k, k] weight with C <= 3, got {list(weight.shape)}"
        )
    from timm.models import adapt_input_conv

    return adapt_input_conv(1, weight)


def resize_to_n_frames(encoder_sd, config, n_frames, fstride=None, tstride=None):
    """Move an encoder state dict to another input length (and strides).

    The positional embeddings go from the checkpoint's patch grid (12 x 101
    for AudioSet) to the new one with the official rule; all other weights
    are unchanged (the patch kernel does not depend on the stride). Unlike
    the official code, which keeps the patch convolution at stride 10
    whatever ``fstride``/``tstride`` say (official issues #73, #124), the
    returned config rebuilds the encoder with the new strides, so any stride
    works.

    Arguments
    ---------
    encoder_sd : dict
        ``AudioSpectrogramTransformer`` state dict.
    config : dict
        Its constructor arguments (``encoder.config`` or
        ``info["encoder_config"]``).
    n_frames : int
        New input length in frames (e.g. 512 for ESC-50).
    fstride, tstride : int, optional
        New strides (default: unchanged).

    Returns
    -------
    tuple
        ``(new_state_dict, new_config)``.

    Example
    -------
    >>> from speechbrain_ast.model import AudioSpectrogramTransformer
    >>> enc = AudioSpectrogramTransformer(embed_dim=32, depth=1, num_heads=2)
    >>> sd, cfg = resize_to_n_frames(enc.state_dict(), enc.config, 512)
    >>> sd["pos_embed"].shape  # 2 + 12 x 50
    torch.Size([1, 602, 32])
    >>> AudioSpectrogramTransformer(**cfg).load_state_dict(sd)
    <All keys matched successfully>
    """
    new_config = dict(config, n_frames=n_frames)
    if fstride is not None:
        new_config["fstride"] = fstride
    if tstride is not None:
        new_config["tstride"] = tstride

    def grid(cfg):
        return patch_grid(
            cfg.get("n_mels", 128),
            cfg["n_frames"],
            cfg.get("fstride", 10),
            cfg.get("tstride", 10),
            cfg.get("patch_size", 16),
        )

    new_sd = dict(encoder_sd)
    new_sd["pos_embed"] = adapt_pos_embed_tokens(
        encoder_sd["pos_embed"],
        config.get("num_prefix_tokens", 2),
        grid(config),
        grid(new_config),
    )
    return new_sd, new_config
