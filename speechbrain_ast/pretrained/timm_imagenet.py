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

Rules 1 and 2 live in ``speechbrain_ast.pretrained.geometry``, shared with
the AudioSet checkpoints (the official AudioSet-init branch uses the same
per-axis rule on the 12 x 101 grid).

Authors
 * speechbrain-ast contributors 2026
"""

import contextlib
import math
import os
import socket

import torch

from speechbrain_ast.model import AudioSpectrogramTransformer
from speechbrain_ast.pretrained.geometry import (
    adapt_pos_embed_tokens,
    patch_weight_to_mono,
)
from speechbrain_ast.pretrained.huggingface import HubUnavailableError
from speechbrain_ast.pretrained.weights import (
    HEADS_BY_WIDTH,
    load_state_dict_strict,
    load_tensor_file,
)

# The official ``model_size`` choices and the (modern) timm names of their
# ImageNet backbones. timm 0.4.5 called them ``vit_deit_*``.
MODEL_SIZES = {
    "tiny224": "deit_tiny_distilled_patch16_224",
    "small224": "deit_small_distilled_patch16_224",
    "base224": "deit_base_distilled_patch16_224",
    "base384": "deit_base_distilled_patch16_384",
}

# Keys of timm's ImageNet classifiers, unused by AST.
_DROPPED_PREFIXES = ("head.", "head_dist.")
# The weight files of a timm Hub repository, in the order timm reads them.
HUB_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


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
        possibly inside a ``{"model": ...}`` dict); or a folder holding
        timm's Hub files (``model.safetensors`` or ``pytorch_model.bin``,
        what ``hf download timm/<name>.<tag> --local-dir DIR`` writes).
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


def _timm_source(vit, encoder_kwargs):
    """Return ``(state_dict, architecture, (H, W) grid, overridable keys)``."""
    if isinstance(vit, (str, os.PathLike)):
        name = os.fspath(vit)
        if os.path.isdir(name):
            name = _hub_weights_file(name)
        if os.path.isfile(name):
            state = load_tensor_file(name)
            arch, grid = _state_dict_architecture(state, name, encoder_kwargs)
            # A file stores neither the LayerNorm eps nor (reliably) the heads.
            return state, arch, grid, {"num_heads", "layer_norm_eps"}
        if os.sep in name or name.endswith((".pth", ".pt", ".bin", ".safetensors")):
            raise FileNotFoundError(f"{name}: timm checkpoint file not found")
        import timm  # lazily: timm (and torchvision) are slow to import
        from huggingface_hub.utils import LocalEntryNotFoundError

        try:
            with _cache_only_when_offline():
                vit = timm.create_model(timm_model_name(name), pretrained=True)
        except (LocalEntryNotFoundError, ConnectionError) as error:
            raise weights_unavailable(timm_model_name(name), error) from None
    if not isinstance(vit, torch.nn.Module):
        raise TypeError(
            f"expected a timm ViT module, model name or checkpoint path, got "
            f"{type(vit).__name__}"
        )
    return (*_module_architecture(vit), set())


def _hub_weights_file(folder):
    """The weight file in a downloaded timm Hub folder, or a clear error."""
    for filename in HUB_WEIGHT_FILES:
        path = os.path.join(folder, filename)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"{folder}: no timm weights in this folder (expected one of "
        f"{', '.join(HUB_WEIGHT_FILES)}, as `hf download timm/<model>` writes); "
        "pass the checkpoint file itself"
    )


def weights_unavailable(model_name, error):
    """The error for ImageNet weights that timm could not download.

    It names timm's real Hub repository of the weights (``timm/<model>.<tag>``,
    from ``timm.models.get_pretrained_cfg``) and the local forms
    ``from_timm`` accepts instead: the downloaded file, or its folder.

    Arguments
    ---------
    model_name : str
        The timm model name.
    error : Exception
        What the download raised.

    Returns
    -------
    HubUnavailableError
        The error to raise.

    Example
    -------
    >>> error = weights_unavailable("deit_base_distilled_patch16_384", OSError())
    >>> error.repo_id
    'timm/deit_base_distilled_patch16_384.fb_in1k'
    >>> "hf download timm/deit_base_distilled_patch16_384.fb_in1k model.safetensors" in str(error)
    True
    """
    from timm.models import get_pretrained_cfg

    config = get_pretrained_cfg(model_name)
    hub_id = getattr(config, "hf_hub_id", None)
    url = getattr(config, "url", None)
    reason = (
        f"timm could not download the ImageNet weights of {model_name}: "
        f"{type(error).__name__}"
    )
    if hub_id:
        fetch = (
            f"run `hf download {hub_id} model.safetensors --local-dir DIR` (or "
            f"huggingface_hub.hf_hub_download('{hub_id}', 'model.safetensors'))"
        )
        file_name = "DIR/model.safetensors"
        cache = (
            f"; or copy a HuggingFace cache that holds {hub_id} here and point "
            "HF_HOME at it"
        )
    elif url:
        fetch, file_name, cache = f"download {url} to FILE", "FILE", ""
    else:
        fetch, file_name, cache = "get a timm checkpoint FILE of it", "FILE", ""
    advice = (
        f"Where there is internet, {fetch}, then pass {file_name} (or its "
        f"folder) instead of the name: from_timm('{file_name}', ...), or "
        f"init_source: {file_name} in a recipe's YAML{cache}; or train from "
        "scratch (init: scratch)."
    )
    return HubUnavailableError(hub_id or model_name, reason, advice)


@contextlib.contextmanager
def _cache_only_when_offline(timeout=5.0):
    """Use the local HF cache only when the Hub's host cannot be reached.

    huggingface_hub retries a failing download for about a minute; one
    connection attempt first makes an offline machine fail (or load its
    cached weights) at once.
    """
    from urllib.parse import urlparse

    from huggingface_hub import constants

    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
        reachable = True
    except OSError:
        reachable = False
    saved = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = saved or not reachable
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


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
