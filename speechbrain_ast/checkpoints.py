"""Import official and HuggingFace AST checkpoints; move them to other lengths.

Two sources are understood:

* the official PyTorch checkpoints (``audioset_10_10_0.4593.pth``,
  ``speechcommands_10_10_0.9812.pth``, ...): a DataParallel state dict with
  the encoder under ``module.v.*`` (timm names, which are ours) and the head
  under ``module.mlp_head.0.*`` (LayerNorm, eps 1e-5) and
  ``module.mlp_head.1.*`` (Linear). The unused ImageNet heads
  ``v.head.*``/``v.head_dist.*`` are dropped;
* a HuggingFace ``save_pretrained`` folder of ``ASTForAudioClassification``
  (``config.json`` + ``model.safetensors`` or ``pytorch_model.bin``, and
  optionally ``preprocessor_config.json``). HF splits the attention input
  projection into query/key/value (concatenated here into ``qkv``) and uses
  ``config.layer_norm_eps`` (1e-12) in the encoder *and* the head; the
  imported model keeps that eps so that it reproduces the source exactly.

Neither format stores the patch strides in a way shapes reveal; the official
file names do (``audioset_12_12_0.4467.pth``: strides 12, 12) and are used
when no strides are given. Every load is strict: a missing key, an extra key
or a wrong shape raises a ``ValueError`` that lists them.

``resize_to_n_frames`` moves an encoder to another input length (and
optionally other strides) with the official AudioSet-init rule (per axis:
centre cut when the target is not larger, bilinear interpolation otherwise,
via ``vit_adapter.adapt_pos_embed``). Unlike the official code, which keeps
the patch convolution at stride 10 whatever ``fstride``/``tstride`` say
(official issues #73, #124), the encoder is rebuilt with the requested
strides, so every stride works.

Authors
 * speechbrain-ast contributors 2026
"""

import csv
import json
import os
import re

import torch

from speechbrain_ast.features import NORM_STATS
from speechbrain_ast.model import (
    AudioSpectrogramTransformer,
    ClassificationHead,
    patch_grid,
)
from speechbrain_ast.model_folder import write_model_folder
from speechbrain_ast.vit_adapter import (
    HEADS_BY_WIDTH,
    adapt_pos_embed_tokens,
    load_state_dict_strict,
    load_tensor_file,
)

AUDIOSET_CLASSES = 527
# Input lengths of the official recipes, preferred when a checkpoint's grid
# allows several lengths (all lengths with the same grid give equal outputs:
# frames past the last patch are never seen).
OFFICIAL_N_FRAMES = (1024, 512, 128, 100)
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
            "this looks like an ImageNet ViT (use speechbrain_ast.vit_adapter.from_timm)"
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


def load_hf_folder(folder):
    """Read a HuggingFace ``ASTForAudioClassification`` folder into our names.

    Reads ``config.json`` and the weights (``model.safetensors``,
    ``pytorch_model.bin`` or their sharded index) itself, so transformers is
    not needed. Both HF key layouts are understood: the saved one
    (``encoder.layer.N.attention.attention.{query,key,value}``, ...) and the
    in-memory one of transformers 5 (``layers.N.attention.{q,k,v}_proj``, ...).

    Arguments
    ---------
    folder : str
        The ``save_pretrained`` folder.

    Returns
    -------
    encoder_sd : dict
        State dict for ``AudioSpectrogramTransformer``.
    head_sd : dict
        State dict for ``ClassificationHead``.
    info : dict
        ``encoder_config``, ``n_classes``, ``head_layer_norm_eps`` (the
        config's eps), ``labels`` (from ``id2label``), ``norm_stats``
        (``(mean, std)`` from ``preprocessor_config.json`` if present, else
        None), ``sample_rate`` and ``source``.

    Example
    -------
    >>> from transformers import ASTConfig, ASTForAudioClassification
    >>> config = ASTConfig(hidden_size=32, num_hidden_layers=1,
    ...     num_attention_heads=2, intermediate_size=64, max_length=100)
    >>> folder = getfixture("tmpdir").join("hf").strpath
    >>> ASTForAudioClassification(config).save_pretrained(folder)
    >>> enc_sd, head_sd, info = load_hf_folder(folder)
    >>> enc_sd["blocks.0.attn.qkv.weight"].shape, info["encoder_config"]["n_frames"]
    (torch.Size([96, 32]), 100)
    """
    config_path = os.path.join(folder, "config.json")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(
            f"{folder}: no config.json (not a save_pretrained folder)"
        )
    with open(config_path, encoding="utf-8") as handle:
        hf = json.load(handle)
    model_type = hf.get("model_type", "audio-spectrogram-transformer")
    if model_type != "audio-spectrogram-transformer":
        raise ValueError(f"{config_path}: model_type {model_type!r} is not an AST")
    if hf.get("hidden_act", "gelu") != "gelu":
        raise ValueError(
            f"{config_path}: hidden_act {hf['hidden_act']!r}; AST blocks use exact 'gelu'"
        )
    dim = hf.get("hidden_size", 768)
    eps = float(hf.get("layer_norm_eps", 1e-12))
    config = {
        "n_mels": hf.get("num_mel_bins", 128),
        "n_frames": hf.get("max_length", 1024),
        "fstride": hf.get("frequency_stride", 10),
        "tstride": hf.get("time_stride", 10),
        "patch_size": hf.get("patch_size", 16),
        "embed_dim": dim,
        "depth": hf.get("num_hidden_layers", 12),
        "num_heads": hf.get("num_attention_heads", 12),
        "mlp_ratio": hf.get("intermediate_size", 3072) / dim,
        "num_prefix_tokens": 2,
        "layer_norm_eps": eps,
        "qkv_bias": bool(hf.get("qkv_bias", True)),
    }
    encoder_sd, head_sd = convert_hf_state_dict(_read_hf_weights(folder), folder)
    if "linear.weight" not in head_sd:
        raise ValueError(
            f"{folder}: no classifier weights (classifier.dense.*); an ASTModel "
            "without ASTForAudioClassification's head cannot be imported"
        )
    n_classes = head_sd["linear.weight"].shape[0]
    id2label = hf.get("id2label") or {}
    labels = None
    if id2label:
        labels = [id2label.get(str(i), id2label.get(i)) for i in range(n_classes)]
        if None in labels or len(id2label) != n_classes:
            raise ValueError(
                f"{config_path}: id2label has {len(id2label)} entries for "
                f"{n_classes} classes (or is not indexed 0..{n_classes - 1})"
            )
    return (
        encoder_sd,
        head_sd,
        {
            "encoder_config": config,
            "n_classes": n_classes,
            "head_layer_norm_eps": eps,
            "labels": labels,
            "norm_stats": _hf_norm_stats(folder, config),
            "sample_rate": _hf_sample_rate(folder),
            "source": folder,
        },
    )


# HF encoder-layer names (saved layout, transformers 5 in-memory layout) -> ours.
_HF_LAYER_NAMES = {
    "attention.attention.query": "q",
    "attention.attention.key": "k",
    "attention.attention.value": "v",
    "attention.q_proj": "q",
    "attention.k_proj": "k",
    "attention.v_proj": "v",
    "attention.output.dense": "attn.proj",
    "attention.o_proj": "attn.proj",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
}
_HF_OTHER_NAMES = {
    "embeddings.cls_token": "cls_token",
    "embeddings.distillation_token": "dist_token",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
}
_HF_LAYER_KEY = re.compile(r"^(?:encoder\.layer|layers)\.(\d+)\.(.+)\.(weight|bias)$")


def convert_hf_state_dict(state, where="HF state dict"):
    """Rename a HF ``ASTForAudioClassification`` state dict to our encoder/head.

    Query, key and value projections are concatenated (in that order) into
    ``qkv``. Unknown keys raise a ``ValueError`` listing them.

    Arguments
    ---------
    state : dict
        HF tensors by name (saved or transformers-5 in-memory layout).
    where : str
        Source name for error messages.

    Returns
    -------
    tuple of dict
        ``(encoder_sd, head_sd)``.

    Example
    -------
    >>> sd = {"classifier.dense.bias": torch.zeros(3)}
    >>> convert_hf_state_dict(sd)
    ({}, {'linear.bias': tensor([0., 0., 0.])})
    """
    encoder_sd, head_sd, qkv, unknown = {}, {}, {}, []
    for key, value in state.items():
        if key.startswith("classifier."):
            short = key[len("classifier.") :]
            part, _, leaf = short.rpartition(".")
            target = {"layernorm": "norm", "dense": "linear"}.get(part)
            if target is None or leaf not in ("weight", "bias"):
                unknown.append(key)
            else:
                head_sd[f"{target}.{leaf}"] = value
            continue
        short = key.split("audio_spectrogram_transformer.", 1)[-1]
        if short in _HF_OTHER_NAMES:
            encoder_sd[_HF_OTHER_NAMES[short]] = value
            continue
        match = _HF_LAYER_KEY.match(short)
        name = _HF_LAYER_NAMES.get(match.group(2)) if match else None
        if name is None:
            unknown.append(key)
        elif name in ("q", "k", "v"):
            qkv.setdefault((match.group(1), match.group(3)), {})[name] = value
        else:
            encoder_sd[f"blocks.{match.group(1)}.{name}.{match.group(3)}"] = value
    if unknown:
        raise ValueError(f"{where}: unexpected HF keys {sorted(unknown)}")
    for (layer, leaf), parts in sorted(qkv.items()):
        if set(parts) != {"q", "k", "v"}:
            raise ValueError(
                f"{where}: layer {layer} {leaf}: only {sorted(parts)} of the "
                "query/key/value projections found"
            )
        encoder_sd[f"blocks.{layer}.attn.qkv.{leaf}"] = torch.cat(
            [parts["q"], parts["k"], parts["v"]], dim=0
        )
    return encoder_sd, head_sd


def _read_hf_weights(folder):
    """Load every tensor of a save_pretrained folder (single file or shards)."""
    for name in ("model.safetensors", "pytorch_model.bin"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return load_tensor_file(path)
        index = path + ".index.json"
        if os.path.isfile(index):
            with open(index, encoding="utf-8") as handle:
                shards = sorted(set(json.load(handle)["weight_map"].values()))
            state = {}
            for shard in shards:
                state.update(load_tensor_file(os.path.join(folder, shard)))
            return state
    raise FileNotFoundError(
        f"{folder}: no model.safetensors or pytorch_model.bin (or their .index.json)"
    )


def _hf_preprocessor(folder):
    """Return the folder's preprocessor_config.json as a dict ({} if absent)."""
    for name in ("preprocessor_config.json", "feature_extractor_config.json"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
    return {}


def _hf_norm_stats(folder, config):
    """``(mean, std)`` of the folder's feature extractor, or None if absent."""
    pre = _hf_preprocessor(folder)
    if not pre:
        return None
    bins = pre.get("num_mel_bins", config["n_mels"])
    if bins != config["n_mels"]:
        raise ValueError(
            f"{folder}: the feature extractor gives {bins} mel bins, the model "
            f"expects {config['n_mels']}"
        )
    if not pre.get("do_normalize", True):
        # The model sees the raw fbank: (x - 0) / (2 * 0.5) is the identity.
        return 0.0, 0.5
    return float(pre.get("mean", NORM_STATS["audioset"][0])), float(
        pre.get("std", NORM_STATS["audioset"][1])
    )


def _hf_sample_rate(folder):
    """Sampling rate of the folder's feature extractor (16000 if absent)."""
    return int(_hf_preprocessor(folder).get("sampling_rate", 16000))


def resize_to_n_frames(encoder_sd, config, n_frames, fstride=None, tstride=None):
    """Move an encoder state dict to another input length (and strides).

    The official AudioSet-init rule on the checkpoint's patch grid (12 x 101
    for AudioSet): time first, then frequency; per axis a centre cut when the
    target is not larger, bilinear interpolation (align_corners=False)
    otherwise; prefix-token embeddings kept. All other weights are unchanged
    (the patch kernel does not depend on the stride). Unlike the official
    code, new strides really change the patch convolution's stride (the
    returned config rebuilds it), so any stride works.

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
    >>> enc = AudioSpectrogramTransformer(embed_dim=32, depth=1, num_heads=2)
    >>> sd, cfg = resize_to_n_frames(enc.state_dict(), enc.config, 512)
    >>> sd["pos_embed"].shape  # 2 + 12 x 50
    torch.Size([1, 602, 32])
    >>> AudioSpectrogramTransformer(**cfg).load_state_dict(sd)
    <All keys matched successfully>
    """
    new_config = dict(config)
    new_config["n_frames"] = n_frames
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


def load_checkpoint(
    fmt, src, n_frames=None, fstride=None, tstride=None, num_heads=None
):
    """Build the encoder and head of an official or HF AST checkpoint.

    Use this to start a fine-tuning from AudioSet weights (take the encoder,
    make a new head, as the official recipe does), or to import a model.

    Arguments
    ---------
    fmt : str
        ``"official"`` (a ``.pth`` file) or ``"hf"`` (a save_pretrained folder).
    src : str
        The checkpoint file or folder.
    n_frames : int, optional
        Input length of the returned encoder; when it differs from the
        checkpoint's, the positional embeddings are resized
        (``resize_to_n_frames``); the head is kept.
    fstride, tstride : int, optional
        The checkpoint's strides. Official: default from the file name, else
        10. HF: read from config.json; a contradicting value raises.
    num_heads : int, optional
        Official files only: attention heads, when the width is not a
        standard one (768: 12; a file does not store the head count).

    Returns
    -------
    tuple
        ``(encoder, head, info)``: ``AudioSpectrogramTransformer``,
        ``ClassificationHead`` and the info dict of the loader (its
        ``encoder_config`` is the returned encoder's).

    Example
    -------
    >>> enc = AudioSpectrogramTransformer(
    ...     n_frames=128, embed_dim=64, depth=1, num_heads=4
    ... )
    >>> sd = {f"module.v.{k}": v for k, v in enc.state_dict().items()}
    >>> sd["module.mlp_head.0.weight"] = torch.ones(64)
    >>> sd["module.mlp_head.0.bias"] = torch.zeros(64)
    >>> sd["module.mlp_head.1.weight"] = torch.zeros(35, 64)
    >>> sd["module.mlp_head.1.bias"] = torch.zeros(35)
    >>> path = getfixture("tmpdir").join("speechcommands_10_10_0.9812.pth").strpath
    >>> torch.save(sd, path)
    >>> encoder, head, info = load_checkpoint(
    ...     "official", path, n_frames=100, num_heads=4
    ... )
    >>> encoder.pos_embed.shape, head.linear.out_features
    (torch.Size([1, 110, 64]), 35)
    """
    if fmt == "official":
        encoder_sd, head_sd, info = load_official_state_dict(
            src, fstride=fstride, tstride=tstride, num_heads=num_heads
        )
    elif fmt == "hf":
        encoder_sd, head_sd, info = load_hf_folder(src)
        given = {"fstride": fstride, "tstride": tstride, "num_heads": num_heads}
        for name, value in given.items():
            have = info["encoder_config"][name]
            if value is not None and value != have:
                raise ValueError(
                    f"{src}: {name}={value} contradicts config.json ({have}); "
                    "a HF folder carries its own geometry"
                )
    else:
        raise ValueError(f"unknown checkpoint format {fmt!r}; use 'official' or 'hf'")
    config = info["encoder_config"]
    if n_frames is not None and n_frames != config["n_frames"]:
        encoder_sd, config = resize_to_n_frames(encoder_sd, config, n_frames)
        info = dict(info, encoder_config=config)
    encoder = AudioSpectrogramTransformer(**config)
    load_state_dict_strict(encoder, encoder_sd, what=f"{src} (encoder)")
    head = ClassificationHead(
        config["embed_dim"],
        info["n_classes"],
        layer_norm_eps=info["head_layer_norm_eps"],
    )
    load_state_dict_strict(head, head_sd, what=f"{src} (classifier)")
    return encoder.eval(), head.eval(), info


def read_labels_csv(path):
    """Read class names from an AudioSet-style ``index,mid,display_name`` CSV.

    Arguments
    ---------
    path : str
        The CSV (``class_labels_indices.csv`` of AudioSet, or the official
        ESC-50/Speech Commands label files).

    Returns
    -------
    list of str
        ``display_name`` ordered by ``index``.

    Example
    -------
    >>> path = getfixture("tmpdir").join("labels.csv").strpath
    >>> with open(path, "w") as f:
    ...     _ = f.write('index,mid,display_name\\n1,/m/b,"Dog, barking"\\n0,/m/a,Cat\\n')
    >>> read_labels_csv(path)
    ['Cat', 'Dog, barking']
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: labels CSV not found")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        if "index" not in columns or "display_name" not in columns:
            raise ValueError(
                f"{path}: expected columns index,mid,display_name; found {columns}"
            )
        rows = {}
        for line, row in enumerate(reader, start=2):
            try:
                index = int(row["index"])
            except (TypeError, ValueError):
                raise ValueError(
                    f"{path}:{line}: index {row['index']!r} is not an integer"
                ) from None
            if index in rows:
                raise ValueError(f"{path}:{line}: index {index} appears twice")
            rows[index] = row["display_name"]
    if sorted(rows) != list(range(len(rows))):
        raise ValueError(f"{path}: indices are not 0..{len(rows) - 1}")
    return [rows[i] for i in range(len(rows))]


def _guess_norm_dataset(src, n_classes):
    """Statistics an official checkpoint was trained with (by name, then size)."""
    name = os.path.basename(str(src)).lower()
    if "speechcommand" in name or "speech_command" in name:
        return "speechcommands"
    if "esc" in name:
        return "esc50"
    return {35: "speechcommands", 50: "esc50"}.get(n_classes, "audioset")


def import_checkpoint(
    fmt,
    src,
    out_dir,
    labels_csv=None,
    n_frames=None,
    fstride=None,
    tstride=None,
    multi_label=None,
    norm_stats=None,
    num_heads=None,
):
    """Import an official or HF AST checkpoint as a SpeechBrain model folder.

    The folder reproduces the source model (its LayerNorm eps included) and
    loads with ``EncoderClassifier.from_hparams(source=out_dir)``. Nothing is
    written unless the checkpoint loads strictly.

    Arguments
    ---------
    fmt : str
        ``"official"`` or ``"hf"``.
    src : str
        Official ``.pth`` file or HF ``save_pretrained`` folder.
    out_dir : str
        Folder to write.
    labels_csv : str, optional
        ``index,mid,display_name`` CSV giving the class names. Default: HF
        ``id2label``, else ``class_0``, ``class_1``, ...
    n_frames : int, optional
        Input length of the written model (default: the checkpoint's); a
        different length resizes the positional embeddings.
    fstride, tstride : int, optional
        The checkpoint's strides (see ``load_checkpoint``).
    multi_label : bool, optional
        Sigmoid multi-label outputs. Default: True for 527-class (AudioSet)
        models, else False.
    norm_stats : str or tuple, optional
        A ``NORM_STATS`` key or ``(mean, std)``. Default: HF's
        ``preprocessor_config.json``; for official files the dataset named in
        the file name (``speechcommands_*``, ``esc*``) or implied by the class
        count (35, 50), else AudioSet.
    num_heads : int, optional
        Official files of a non-standard width only (see ``load_checkpoint``).

    Returns
    -------
    str
        ``out_dir``.

    Example
    -------
    >>> enc = AudioSpectrogramTransformer(
    ...     n_frames=128, embed_dim=32, depth=1, num_heads=2
    ... )
    >>> head = ClassificationHead(32, 2)
    >>> sd = {f"module.v.{k}": v for k, v in enc.state_dict().items()}
    >>> sd["module.mlp_head.0.weight"] = head.norm.weight
    >>> sd["module.mlp_head.0.bias"] = head.norm.bias
    >>> sd["module.mlp_head.1.weight"] = head.linear.weight
    >>> sd["module.mlp_head.1.bias"] = head.linear.bias
    >>> tmp = getfixture("tmpdir")
    >>> torch.save(sd, tmp.join("ast.pth").strpath)
    >>> out = import_checkpoint(
    ...     "official", tmp.join("ast.pth").strpath, tmp.join("model").strpath,
    ...     num_heads=2,
    ... )
    >>> sorted(os.listdir(out))
    ['classifier.ckpt', 'embedding_model.ckpt', 'hyperparams.yaml', 'label_encoder.txt']
    """
    encoder, head, info = load_checkpoint(
        fmt,
        src,
        n_frames=n_frames,
        fstride=fstride,
        tstride=tstride,
        num_heads=num_heads,
    )
    n_classes = info["n_classes"]
    if labels_csv is not None:
        labels = read_labels_csv(labels_csv)
        if len(labels) != n_classes:
            raise ValueError(
                f"{labels_csv}: {len(labels)} labels for a {n_classes}-class model"
            )
    elif info["labels"] is not None:
        labels = info["labels"]
    else:
        labels = [f"class_{i}" for i in range(n_classes)]

    origin = f"imported from the {fmt} checkpoint {os.path.abspath(src)}"
    if norm_stats is None:
        norm_stats = info["norm_stats"]
    if norm_stats is None:
        norm_stats = (
            _guess_norm_dataset(src, n_classes) if fmt == "official" else "audioset"
        )
    if isinstance(norm_stats, str):
        if norm_stats not in NORM_STATS:
            raise ValueError(
                f"unknown norm_stats {norm_stats!r}; known: {sorted(NORM_STATS)}"
            )
        origin += f"; {norm_stats} normalisation statistics"
        norm_stats = NORM_STATS[norm_stats]
    mean, std = (float(v) for v in norm_stats)
    if multi_label is None:
        multi_label = n_classes == AUDIOSET_CLASSES
    return write_model_folder(
        out_dir,
        encoder,
        head,
        labels,
        mean,
        std,
        multi_label,
        sample_rate=info["sample_rate"],
        origin=origin,
    )
