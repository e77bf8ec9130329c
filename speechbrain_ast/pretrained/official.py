"""Read the official AST checkpoints (``audioset_10_10_0.4593.pth``, ...).

An official checkpoint is a DataParallel state dict with the encoder under
``module.v.*`` (timm names, which are ours) and the head under
``module.mlp_head.0.*`` (LayerNorm, eps 1e-5) and ``module.mlp_head.1.*``
(Linear). The unused ImageNet heads ``v.head.*``/``v.head_dist.*`` are
dropped. The file does not store the patch strides in a way shapes reveal;
the official file names do (``audioset_12_12_0.4467.pth``: strides 12, 12)
and are used when no strides are given.

Authors
 * speechbrain-ast contributors 2026
"""

import os
import re

from speechbrain_ast.model import patch_grid
from speechbrain_ast.pretrained.weights import HEADS_BY_WIDTH, load_tensor_file

# Input lengths of the official recipes, preferred when a checkpoint's grid
# allows several lengths (all lengths with the same grid give equal outputs:
# frames past the last patch are never seen).
OFFICIAL_N_FRAMES = (1024, 512, 128, 100)
# Strides in official file names such as ``audioset_10_10_0.4593.pth``.
# Strides in official file names such as ``audioset_10_10_0.4593.pth``.
_STRIDES_IN_NAME = re.compile(r"_(\d+)_(\d+)_\d+(?:\.\d+)?\.pth$")


def strides_from_name(path):
    """Return ``(fstride, tstride)`` from an official checkpoint file name, or None.

    Arguments
    ---------
    path : str
        Checkpoint path, e.g. ``.../audioset_12_12_0.4467.pth``.

    Returns
    -------
    tuple of int or None
        The strides, or None if the name does not carry them.

    Example
    -------
    >>> strides_from_name("pretrained/audioset_10_10_0.4593.pth")
    (10, 10)
    >>> strides_from_name("model.ckpt") is None
    True
    """
    match = _STRIDES_IN_NAME.search(os.path.basename(str(path)))
    return (int(match.group(1)), int(match.group(2))) if match else None


def load_official_state_dict(
    path_or_sd, fstride=None, tstride=None, n_frames=None, n_mels=128, num_heads=None
):
    """Read an official AST checkpoint into our encoder and head names.

    Arguments
    ---------
    path_or_sd : str or dict
        The ``.pth`` file, or its state dict (``module.`` prefix optional).
    fstride, tstride : int, optional
        Patch strides the checkpoint was trained with. Default: from the file
        name (``audioset_10_10_0.4593.pth``), else 10. Checked against the
        number of positional embeddings.
    n_frames : int, optional
        Input frames the checkpoint was trained with. Default: inferred from
        the positional embeddings (1024 for AudioSet, 128 for Speech
        Commands; any length with the same patch grid gives equal outputs).
    n_mels : int
        Mel bins (128 for every released checkpoint).
    num_heads : int, optional
        Attention heads. Default: the standard count for the width (768: 12).

    Returns
    -------
    encoder_sd : dict
        State dict for ``AudioSpectrogramTransformer``.
    head_sd : dict
        State dict for ``ClassificationHead``.
    info : dict
        ``encoder_config`` (constructor arguments of the encoder),
        ``n_classes``, ``head_layer_norm_eps`` (1e-5), ``labels`` (None),
        ``norm_stats`` (None: the file does not say), ``sample_rate`` and
        ``source``.

    Example
    -------
    >>> from speechbrain_ast.model import (
    ...     AudioSpectrogramTransformer,
    ...     ClassificationHead,
    ... )
    >>> enc = AudioSpectrogramTransformer(
    ...     n_frames=128, embed_dim=64, depth=1, num_heads=4
    ... )
    >>> head = ClassificationHead(64, 3)
    >>> sd = {f"module.v.{k}": v for k, v in enc.state_dict().items()}
    >>> sd.update({f"module.mlp_head.{k.replace('norm', '0').replace('linear', '1')}": v
    ...            for k, v in head.state_dict().items()})
    >>> enc_sd, head_sd, info = load_official_state_dict(sd, num_heads=4)
    >>> info["encoder_config"]["n_frames"], info["n_classes"]
    (128, 3)
    """
    name = path_or_sd if isinstance(path_or_sd, (str, os.PathLike)) else None
    state = load_tensor_file(os.fspath(name)) if name else dict(path_or_sd)
    where = os.fspath(name) if name else "official state dict"

    encoder_sd, head_sd, unknown = {}, {}, []
    for key, value in state.items():
        short = key[len("module.") :] if key.startswith("module.") else key
        if short.startswith(("v.head.", "v.head_dist.")):
            continue  # the unused ImageNet heads
        if short.startswith("v."):
            encoder_sd[short[2:]] = value
        elif short.startswith("mlp_head.0."):
            head_sd["norm." + short[len("mlp_head.0.") :]] = value
        elif short.startswith("mlp_head.1."):
            head_sd["linear." + short[len("mlp_head.1.") :]] = value
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(
            f"{where}: keys outside 'module.v.*' and 'module.mlp_head.*': {unknown}"
        )
    for key in (
        "cls_token",
        "pos_embed",
        "patch_embed.proj.weight",
        "blocks.0.mlp.fc1.weight",
    ):
        if key not in encoder_sd:
            raise ValueError(f"{where}: not an official AST checkpoint (no 'v.{key}')")
    if "linear.weight" not in head_sd:
        raise ValueError(f"{where}: no classifier ('mlp_head.1.weight') found")

    patch = encoder_sd["patch_embed.proj.weight"]
    if patch.shape[1] != 1:
        raise ValueError(
            f"{where}: the patch projection has {patch.shape[1]} input channels; "
            "this looks like an ImageNet ViT (use speechbrain_ast.pretrained.from_timm)"
        )
    dim = encoder_sd["cls_token"].shape[-1]
    heads = num_heads or HEADS_BY_WIDTH.get(dim)
    if heads is None:
        raise ValueError(
            f"{where}: cannot tell the head count of width {dim}; pass num_heads"
        )
    prefix = 2 if "dist_token" in encoder_sd else 1
    named = strides_from_name(name) if name else None
    default = named or (10, 10)
    strides = (fstride or default[0], tstride or default[1])
    n_frames = _fit_grid(
        encoder_sd["pos_embed"].shape[1] - prefix,
        n_mels,
        n_frames,
        strides,
        patch.shape[-1],
        where,
        named,
    )
    config = {
        "n_mels": n_mels,
        "n_frames": n_frames,
        "fstride": strides[0],
        "tstride": strides[1],
        "patch_size": patch.shape[-1],
        "embed_dim": dim,
        "depth": len({k.split(".")[1] for k in encoder_sd if k.startswith("blocks.")}),
        "num_heads": heads,
        "mlp_ratio": encoder_sd["blocks.0.mlp.fc1.weight"].shape[0] / dim,
        "num_prefix_tokens": prefix,
        "layer_norm_eps": 1e-6,
        "qkv_bias": "blocks.0.attn.qkv.bias" in encoder_sd,
    }
    info = {
        "encoder_config": config,
        "n_classes": head_sd["linear.weight"].shape[0],
        "head_layer_norm_eps": 1e-5,
        "labels": None,
        "norm_stats": None,
        "sample_rate": 16000,
        "source": where,
    }
    return encoder_sd, head_sd, info


def _fit_grid(n_patches, n_mels, n_frames, strides, patch_size, where, named):
    """Check the patch-token count against the geometry; return ``n_frames``."""
    fstride, tstride = strides
    f_dim = (n_mels - patch_size) // fstride + 1
    hint = (
        f" (the file name says strides {named[0]}, {named[1]})"
        if named and tuple(named) != tuple(strides)
        else " (pass the strides and length used in training)"
    )
    if n_frames is not None:
        expected = patch_grid(n_mels, n_frames, fstride, tstride, patch_size)
        if expected[0] * expected[1] != n_patches:
            raise ValueError(
                f"{where}: expected {expected[0] * expected[1]} patch positions "
                f"({expected[0]}x{expected[1]} for {n_frames} frames x {n_mels} "
                f"mel bins, strides {fstride}, {tstride}), found {n_patches} in "
                f"pos_embed{hint}"
            )
        return n_frames
    if n_patches % f_dim:
        raise ValueError(
            f"{where}: expected a multiple of {f_dim} patch positions ({f_dim} "
            f"frequency rows for {n_mels} mel bins at fstride {fstride}), found "
            f"{n_patches} in pos_embed{hint}"
        )
    t_dim = n_patches // f_dim
    shortest = (t_dim - 1) * tstride + patch_size
    for length in OFFICIAL_N_FRAMES:
        if shortest <= length < shortest + tstride:
            return length
    return shortest
