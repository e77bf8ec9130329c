"""Read HuggingFace ``ASTForAudioClassification`` checkpoints (folder or Hub id).

A ``save_pretrained`` folder holds ``config.json``, ``model.safetensors`` or
``pytorch_model.bin`` (or their sharded index) and optionally
``preprocessor_config.json``. HF splits the attention input projection into
query/key/value (concatenated here into ``qkv``) and uses
``config.layer_norm_eps`` (1e-12) in the encoder *and* the head; the loaded
model keeps that eps so that it reproduces the source exactly. The files are
read here, so transformers is not needed.

A Hub id such as ``MIT/ast-finetuned-audioset-10-10-0.4593`` is fetched with
``huggingface_hub.snapshot_download`` (the HF cache is reused; with
``HF_HUB_OFFLINE=1`` only the cache is read). When neither the cache nor the
Hub has it, ``HubUnavailableError`` says so at once, naming the id and the
ways out.

Authors
 * speechbrain-ast contributors 2026
"""

import json
import os
import re

import torch

from speechbrain_ast.features import NORM_STATS
from speechbrain_ast.pretrained.weights import load_tensor_file

# A Hub repository id: ORG/NAME (letters, digits, "-", "_", ".").
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class HubUnavailableError(OSError):
    """A Hub id that is neither in the local HF cache nor downloadable now.

    Arguments
    ---------
    repo_id : str
        The Hub id.
    reason : str
        Why the Hub could not be used (offline mode, connection error).
    advice : str, optional
        What to do instead (default: download the repository and pass its
        folder, or bring the cache here).

    Example
    -------
    >>> error = HubUnavailableError("MIT/ast", "HF_HUB_OFFLINE is set")
    >>> str(error).startswith("MIT/ast: not in the local HuggingFace cache")
    True
    """

    def __init__(self, repo_id, reason, advice=None):
        if advice is None:
            advice = (
                f"Download it where there is internet "
                f"(huggingface_hub.snapshot_download('{repo_id}') or `hf download "
                f"{repo_id}`), then either pass the downloaded folder instead of "
                "the id, or copy the cache here and point HF_HOME (or "
                "HF_HUB_CACHE) at it."
            )
        super().__init__(
            f"{repo_id}: not in the local HuggingFace cache, and the Hub cannot "
            f"be reached ({reason}). {advice}"
        )
        self.repo_id = repo_id


def is_hub_id(source):
    """Whether ``source`` names a Hub repository rather than a local path.

    Arguments
    ---------
    source : str
        A folder or an ``ORG/NAME`` Hub id.

    Returns
    -------
    bool
        True for an ``ORG/NAME`` that is not an existing path.

    Example
    -------
    >>> is_hub_id("MIT/ast-finetuned-audioset-10-10-0.4593")
    True
    >>> is_hub_id("./models/ast"), is_hub_id("ast.pth")
    (False, False)
    """
    source = os.fspath(source)
    return bool(_HUB_ID.match(source)) and not os.path.exists(source)


def hf_local_folder(source):
    """Return a local ``save_pretrained`` folder for a folder or a Hub id.

    A Hub id is resolved with ``huggingface_hub.snapshot_download``, which
    reuses the HF cache (``HF_HOME``/``HF_HUB_CACHE``) and only reads it when
    ``HF_HUB_OFFLINE=1``. Only the JSON configs and one weight format
    (safetensors, else ``.bin``) are downloaded.

    Arguments
    ---------
    source : str
        A ``save_pretrained`` folder or a Hub id such as
        ``MIT/ast-finetuned-audioset-10-10-0.4593``.

    Returns
    -------
    str
        The local folder.

    Raises
    ------
    HubUnavailableError
        A Hub id absent from the cache while the Hub cannot be reached
        (offline mode or no connection); raised without retrying.
    FileNotFoundError
        ``source`` is neither a folder nor a Hub id.

    Example
    -------
    >>> folder = getfixture("tmpdir").strpath
    >>> hf_local_folder(folder) == folder
    True
    """
    source = os.fspath(source)
    if os.path.isdir(source):
        return source
    if not is_hub_id(source):
        raise FileNotFoundError(
            f"{source}: neither a save_pretrained folder nor a HuggingFace Hub "
            "id (ORG/NAME)"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import LocalEntryNotFoundError

    try:
        folder = snapshot_download(
            source, allow_patterns=["*.json", "model*.safetensors"]
        )
        if not _has_weights(folder):  # most MIT/ast-* repositories: .bin only
            folder = snapshot_download(
                source, allow_patterns=["*.json", "pytorch_model*.bin"]
            )
    except LocalEntryNotFoundError as error:
        reason = _one_line(error.__cause__ or error)
        if "HF_HUB_OFFLINE" in str(error) or "OfflineMode" in reason:
            reason = "HF_HUB_OFFLINE is set"
        raise HubUnavailableError(source, reason) from None
    return folder


def _has_weights(folder):
    """Whether a folder holds HF weights (single file or sharded index)."""
    return any(
        os.path.isfile(os.path.join(folder, name + suffix))
        for name in _WEIGHT_FILES
        for suffix in ("", ".index.json")
    )


def _one_line(error):
    """An exception as ``Type: message`` on one short line."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= 200 else text[:197] + "..."


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
    for name in _WEIGHT_FILES:
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
