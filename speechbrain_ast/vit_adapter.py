"""ImageNet ViT/DeiT weights (timm) -> AST encoder, as the official recipe does.

The official AST (``ast_models.py``, ImageNet branch) starts from a timm
DeiT-distilled model and changes three things:

1. The 3-channel patch projection becomes a 1-channel convolution with stride
   ``(fstride, tstride)``; its weight is the **sum** of the RGB weights (the
   paper says "average"; the code sums), its bias is kept.
2. The positional embedding of the ``hw x hw`` image grid (row-major: rows
   are frequency, columns time) is adapted to the ``f_dim x t_dim`` patch
   grid, time axis first, then frequency: a centre cut
   ``[hw // 2 - n // 2 : hw // 2 - n // 2 + n]`` when the target ``n`` is not
   larger than the grid, bilinear interpolation (``align_corners=False``)
   otherwise. The prefix-token (cls/dist) embeddings are kept unchanged.
3. The transformer blocks and final norm are copied; the ImageNet heads
   (``head``, ``head_dist``) are dropped.

``adapt_pos_embed`` holds rule 2 once; ``speechbrain_ast.checkpoints`` reuses
it to move AudioSet checkpoints to other input lengths (the official
AudioSet-init branch uses the same per-axis rule on the 12 x 101 grid).

Authors
 * speechbrain-ast contributors 2026
"""

import math
import os

import torch
import torch.nn.functional as F

from speechbrain_ast.model import AudioSpectrogramTransformer

# The official ``model_size`` choices and the (modern) timm names of their
# ImageNet backbones. timm 0.4.5 called them ``vit_deit_*``.
MODEL_SIZES = {
    "tiny224": "deit_tiny_distilled_patch16_224",
    "small224": "deit_small_distilled_patch16_224",
    "base224": "deit_base_distilled_patch16_224",
    "base384": "deit_base_distilled_patch16_384",
}

# Attention heads of the standard ViT/DeiT widths (a checkpoint file does not
# store the head count).
HEADS_BY_WIDTH = {192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16}

# Keys of timm's ImageNet classifiers, unused by AST.
_DROPPED_PREFIXES = ("head.", "head_dist.")


def timm_model_name(model_size):
    """Return the timm model name of an official AST ``model_size``.

    Arguments
    ---------
    model_size : str
        One of ``tiny224``, ``small224``, ``base224``, ``base384`` (the
        official ``ASTModel(model_size=...)`` values), or already a timm name
        (returned unchanged; the old ``vit_deit_*`` names are modernised).

    Returns
    -------
    str
        A model name that ``timm.create_model`` knows.

    Example
    -------
    >>> timm_model_name("base384")
    'deit_base_distilled_patch16_384'
    >>> timm_model_name("vit_deit_tiny_distilled_patch16_224")
    'deit_tiny_distilled_patch16_224'
    """
    if model_size in MODEL_SIZES:
        return MODEL_SIZES[model_size]
    if model_size.startswith("vit_deit_"):
        return model_size[len("vit_") :]
    return model_size


def adapt_pos_embed(grid_pe, f_dim, t_dim):
    """Adapt a grid of positional embeddings to ``f_dim x t_dim`` (official rule).

    Time (width, dim 3) is adapted first, then frequency (height, dim 2).
    On each axis, a target not larger than the source is a centre cut
    ``[n_src // 2 - n // 2 : n_src // 2 - n // 2 + n]``; a larger target is
    bilinear interpolation with ``align_corners=False``. This is the rule of
    both official branches: ImageNet init (24x24 or 14x14 image grid) and
    AudioSet init (12 x 101 grid).

    Arguments
    ---------
    grid_pe : torch.Tensor
        Positional embeddings ``[1, D, H, W]`` (rows: frequency, cols: time).
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
    if f_dim < 1 or t_dim < 1:
        raise ValueError(f"target grid {f_dim}x{t_dim} is empty")
    src_h, src_w = grid_pe.shape[2:]
    if t_dim <= src_w:
        start = src_w // 2 - t_dim // 2
        grid_pe = grid_pe[:, :, :, start : start + t_dim]
    else:
        grid_pe = F.interpolate(
            grid_pe, size=(src_h, t_dim), mode="bilinear", align_corners=False
        )
    if f_dim <= src_h:
        start = src_h // 2 - f_dim // 2
        grid_pe = grid_pe[:, :, start : start + f_dim, :]
    else:
        grid_pe = F.interpolate(
            grid_pe, size=(f_dim, t_dim), mode="bilinear", align_corners=False
        )
    return grid_pe.contiguous()


def adapt_pos_embed_tokens(pos_embed, num_prefix_tokens, src_grid, dst_grid):
    """Adapt token-form positional embeddings ``[1, P + H*W, D]`` to a new grid.

    The ``P`` prefix-token embeddings are kept; the patch part (row-major,
    rows = frequency) goes through ``adapt_pos_embed``.

    Arguments
    ---------
    pos_embed : torch.Tensor
        ``[1, num_prefix_tokens + H * W, D]``.
    num_prefix_tokens : int
        1 (ViT: cls) or 2 (DeiT: cls + dist).
    src_grid : tuple of int
        ``(H, W)`` of the source grid.
    dst_grid : tuple of int
        ``(f_dim, t_dim)`` of the target grid.

    Returns
    -------
    torch.Tensor
        ``[1, num_prefix_tokens + f_dim * t_dim, D]``.

    Example
    -------
    >>> pe = torch.randn(1, 2 + 12 * 101, 8)
    >>> adapt_pos_embed_tokens(pe, 2, (12, 101), (12, 50)).shape
    torch.Size([1, 602, 8])
    """
    src_h, src_w = src_grid
    if pos_embed.ndim != 3 or pos_embed.shape[1] != num_prefix_tokens + src_h * src_w:
        raise ValueError(
            f"pos_embed of shape {list(pos_embed.shape)} does not hold "
            f"{num_prefix_tokens} prefix tokens + a {src_h}x{src_w} grid "
            f"({num_prefix_tokens + src_h * src_w} tokens)"
        )
    dim = pos_embed.shape[2]
    prefix = pos_embed[:, :num_prefix_tokens]
    grid = (
        pos_embed[:, num_prefix_tokens:].transpose(1, 2).reshape(1, dim, src_h, src_w)
    )
    grid = adapt_pos_embed(grid, *dst_grid)
    grid = grid.reshape(1, dim, -1).transpose(1, 2)
    return torch.cat([prefix, grid], dim=1)


def patch_weight_to_mono(weight):
    """Sum a ``[D, C, k, k]`` patch-projection weight over its input channels.

    The official AST sums the RGB weights (it does not average them).

    Arguments
    ---------
    weight : torch.Tensor
        Convolution weight ``[D, C, k, k]``.

    Returns
    -------
    torch.Tensor
        ``[D, 1, k, k]``.

    Example
    -------
    >>> patch_weight_to_mono(torch.ones(4, 3, 16, 16))[0, 0, 0, 0].item()
    3.0
    """
    if weight.ndim != 4:
        raise ValueError(f"expected a [D, C, k, k] weight, got {list(weight.shape)}")
    return weight.sum(dim=1, keepdim=True)


def from_timm(vit, n_frames=1024, fstride=10, tstride=10, n_mels=128, **encoder_kwargs):
    """Build an ``AudioSpectrogramTransformer`` initialised from a timm ViT/DeiT.

    Follows the official ImageNet initialisation exactly (see the module
    docstring): summed patch weights with the original bias, positional
    embeddings cut/interpolated time first then frequency, prefix-token
    embeddings kept, blocks and final norm copied, ImageNet heads dropped.

    Arguments
    ---------
    vit : torch.nn.Module or str
        A timm ``VisionTransformer`` (ViT, one prefix token) or
        ``VisionTransformerDistilled`` (DeiT, cls + dist tokens); or a timm
        model name (downloaded with ``timm.create_model(name,
        pretrained=True)``; the official ``model_size`` names such as
        ``"base384"`` are accepted); or the path of a local timm/DeiT
        checkpoint file (``.pth``/``.bin``/``.safetensors`` state dict,
        possibly inside a ``{"model": ...}`` dict).
    n_frames : int
        Input frames of the AST (1024 AudioSet, 512 ESC-50, 128 Speech
        Commands).
    fstride, tstride : int
        Patch strides along frequency and time.
    n_mels : int
        Mel bins.
    **encoder_kwargs
        Other ``AudioSpectrogramTransformer`` arguments (``drop_path_rate``,
        ``pad_value``, ...). The architecture comes from the ViT; arguments
        contradicting it raise. A checkpoint file does not store the head
        count or LayerNorm epsilon: ``num_heads`` defaults to the standard
        value for the width (192: 3, 384: 6, 768: 12, 1024: 16) and
        ``layer_norm_eps`` to timm's 1e-6.

    Returns
    -------
    AudioSpectrogramTransformer
        The initialised encoder.

    Example
    -------
    >>> import timm
    >>> vit = timm.create_model(
    ...     "deit_tiny_distilled_patch16_224", pretrained=False, depth=1
    ... )
    >>> ast = from_timm(vit, n_frames=128)
    >>> ast.pos_embed.shape  # 2 prefix tokens + 12 x 12 patches
    torch.Size([1, 146, 192])
    >>> ast(torch.randn(1, 128, 128)).shape
    torch.Size([1, 1, 192])
    """
    state, arch, grid, free = _timm_source(vit, encoder_kwargs)
    config = dict(arch)
    for key, value in encoder_kwargs.items():
        if key in arch and key not in free:
            if value != arch[key]:
                raise ValueError(
                    f"{key}={value!r} contradicts the timm model ({key}={arch[key]!r})"
                )
        config[key] = value
    config.update(n_mels=n_mels, n_frames=n_frames, fstride=fstride, tstride=tstride)
    encoder = AudioSpectrogramTransformer(**config)
    target = _adapt_timm_state(state, arch["num_prefix_tokens"], grid, encoder)
    load_state_dict_strict(encoder, target, what="timm ViT")
    return encoder


def load_state_dict_strict(module, state_dict, what="checkpoint"):
    """Load ``state_dict`` into ``module``; on any mismatch raise a ValueError.

    The error lists every missing key, unexpected key and shape mismatch.

    Arguments
    ---------
    module : torch.nn.Module
        Target module.
    state_dict : dict
        Tensors by name.
    what : str
        Name of the source, for the error message.

    Returns
    -------
    torch.nn.Module
        ``module``, loaded.

    Example
    -------
    >>> lin = torch.nn.Linear(2, 3)
    >>> load_state_dict_strict(lin, {"weight": torch.zeros(3, 2)})
    Traceback (most recent call last):
    ...
    ValueError: checkpoint does not fit Linear: missing keys ['bias']
    """
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong = [
        f"{key}: checkpoint {list(state_dict[key].shape)} vs model "
        f"{list(own[key].shape)}"
        for key in sorted(set(own) & set(state_dict))
        if tuple(state_dict[key].shape) != tuple(own[key].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    if wrong:
        problems.append(f"shape mismatches {wrong}")
    if problems:
        raise ValueError(
            f"{what} does not fit {type(module).__name__}: " + "; ".join(problems)
        )
    module.load_state_dict(state_dict, strict=True)
    return module


def load_tensor_file(path):
    """Read a state dict from a ``.safetensors`` or torch file (tensors only).

    A torch file holding ``{"model": sd}`` or ``{"state_dict": sd}`` (DeiT
    and Lightning style) is unwrapped.

    Arguments
    ---------
    path : str
        The file.

    Returns
    -------
    dict
        Tensors by name (on CPU).

    Example
    -------
    >>> path = getfixture("tmpdir").join("w.pth").strpath
    >>> torch.save({"model": {"a": torch.ones(2)}}, path)
    >>> load_tensor_file(path)
    {'a': tensor([1., 1.])}
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: checkpoint file not found")
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path, device="cpu")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"{path}: cannot read it as a tensors-only torch checkpoint ({err})"
        ) from err
    for wrapper in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(
        isinstance(value, torch.Tensor) for value in state.values()
    ):
        raise ValueError(f"{path}: not a state dict of tensors")
    return dict(state)


def _timm_source(vit, encoder_kwargs):
    """Return ``(state_dict, architecture, (H, W) grid, overridable keys)``."""
    if isinstance(vit, (str, os.PathLike)):
        name = os.fspath(vit)
        if os.path.isfile(name):
            state = load_tensor_file(name)
            arch, grid = _state_dict_architecture(state, name, encoder_kwargs)
            # A file stores neither the LayerNorm eps nor (reliably) the heads.
            return state, arch, grid, {"num_heads", "layer_norm_eps"}
        if os.sep in name or name.endswith((".pth", ".pt", ".bin", ".safetensors")):
            raise FileNotFoundError(f"{name}: timm checkpoint file not found")
        import timm  # lazily: timm (and torchvision) are slow to import

        vit = timm.create_model(timm_model_name(name), pretrained=True)
    if not isinstance(vit, torch.nn.Module):
        raise TypeError(
            f"expected a timm ViT module, model name or checkpoint path, got "
            f"{type(vit).__name__}"
        )
    return (*_module_architecture(vit), set())


def _module_architecture(vit):
    """Read the architecture of a timm VisionTransformer module."""
    for attr in ("patch_embed", "pos_embed", "cls_token", "blocks", "norm"):
        if getattr(vit, attr, None) is None:
            raise ValueError(
                f"{type(vit).__name__} is not a timm ViT/DeiT with a class token "
                f"(no {attr!r})"
            )
    if getattr(vit, "no_embed_class", False):
        raise ValueError("timm models with no_embed_class=True are not supported")
    if getattr(vit, "num_reg_tokens", 0):
        raise ValueError("timm ViTs with register tokens are not supported")
    prefix = getattr(vit, "num_prefix_tokens", None)
    if prefix is None:
        prefix = 2 if getattr(vit, "dist_token", None) is not None else 1
    try:
        block = vit.blocks[0]
        act = block.mlp.act
        dim = vit.cls_token.shape[-1]
        arch = {
            "patch_size": vit.patch_embed.proj.kernel_size[0],
            "embed_dim": dim,
            "depth": len(vit.blocks),
            "num_heads": block.attn.num_heads,
            "mlp_ratio": block.mlp.fc1.out_features / dim,
            "num_prefix_tokens": prefix,
            "layer_norm_eps": vit.norm.eps,
            "qkv_bias": block.attn.qkv.bias is not None,
        }
        grid = tuple(vit.patch_embed.grid_size)
    except (AttributeError, IndexError, TypeError) as err:
        raise ValueError(
            f"{type(vit).__name__} is not a plain timm ViT/DeiT (conv patch "
            f"embedding, fused qkv, pre-norm blocks, final LayerNorm): {err}"
        ) from err
    if not isinstance(act, torch.nn.GELU) or act.approximate != "none":
        raise ValueError(f"AST blocks use exact GELU; this ViT uses {act!r}")
    return vit.state_dict(), arch, grid


def _state_dict_architecture(state, name, encoder_kwargs):
    """Infer the architecture of a timm ViT/DeiT state dict from its shapes."""
    for key in (
        "cls_token",
        "pos_embed",
        "patch_embed.proj.weight",
        "blocks.0.mlp.fc1.weight",
    ):
        if key not in state:
            raise ValueError(f"{name}: not a timm ViT/DeiT checkpoint (no {key!r})")
    dim = state["cls_token"].shape[-1]
    prefix = 2 if "dist_token" in state else 1
    n_grid = state["pos_embed"].shape[1] - prefix
    side = math.isqrt(n_grid)
    if side * side != n_grid:
        raise ValueError(
            f"{name}: pos_embed has {n_grid} patch tokens after {prefix} prefix "
            "token(s), not a square image grid"
        )
    depth = len({key.split(".")[1] for key in state if key.startswith("blocks.")})
    if depth == 0:
        raise ValueError(f"{name}: no transformer blocks ('blocks.N.*') found")
    num_heads = encoder_kwargs.get("num_heads", HEADS_BY_WIDTH.get(dim))
    if num_heads is None:
        raise ValueError(
            f"{name}: cannot tell the head count of width {dim}; pass num_heads=..."
        )
    patch = state["patch_embed.proj.weight"]
    if patch.shape[2] != patch.shape[3]:
        raise ValueError(f"{name}: non-square patches {list(patch.shape[2:])}")
    arch = {
        "patch_size": patch.shape[2],
        "embed_dim": dim,
        "depth": depth,
        "num_heads": num_heads,
        "mlp_ratio": state["blocks.0.mlp.fc1.weight"].shape[0] / dim,
        "num_prefix_tokens": prefix,
        "layer_norm_eps": 1e-6,
        "qkv_bias": "blocks.0.attn.qkv.bias" in state,
    }
    return arch, (side, side)


def _adapt_timm_state(state, num_prefix_tokens, grid, encoder):
    """Map a timm ViT state dict onto ``encoder``'s names and shapes."""
    target = {
        key: value
        for key, value in state.items()
        if not key.startswith(_DROPPED_PREFIXES)
    }
    target["patch_embed.proj.weight"] = patch_weight_to_mono(
        state["patch_embed.proj.weight"]
    )
    target["pos_embed"] = adapt_pos_embed_tokens(
        state["pos_embed"], num_prefix_tokens, grid, (encoder.f_dim, encoder.t_dim)
    )
    return target
