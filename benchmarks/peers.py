"""The peers every benchmark compares: our AST and HuggingFace's, same weights.

``build_models`` makes HF ``ASTForAudioClassification`` (sdpa and eager
attention) and our ``AudioSpectrogramTransformer`` + ``ClassificationHead``
with identical weights (HF's random weights copied into ours with
``convert_hf_state_dict``), so any difference between them is the code.
"""

import copy
import os
from pathlib import Path

import torch

from speechbrain_ast.model import (
    AST_SIZES,
    AudioSpectrogramTransformer,
    ClassificationHead,
)
from speechbrain_ast.pretrained.huggingface import convert_hf_state_dict

REPO = Path(__file__).resolve().parent.parent
SIZES = dict(AST_SIZES, quick=(64, 2, 4))
SECONDS_TO_FRAMES = {1: 128, 5: 512, 10: 1024}
SAMPLE_RATE = 16000
N_CLASSES = 50
SHARED_DATA = Path(
    os.environ.get("SPEECHBRAIN_AST_SHARED_DATA", REPO.parent / "shared" / "data")
)


def hf_config(dims, n_frames, n_classes=N_CLASSES):
    """A HF ``ASTConfig`` of the given size (AST defaults otherwise)."""
    import transformers

    dim, depth, heads = dims
    return transformers.ASTConfig(
        hidden_size=dim,
        num_hidden_layers=depth,
        num_attention_heads=heads,
        intermediate_size=4 * dim,
        max_length=n_frames,
        num_mel_bins=128,
        num_labels=n_classes,
    )


def build_models(dims, n_frames, device, seed=0, eager=True):
    """HF sdpa, HF eager (unless ``eager=False``) and our encoder + head, same weights."""
    import transformers

    torch.manual_seed(seed)
    config = hf_config(dims, n_frames)
    hf_sdpa = transformers.AutoModelForAudioClassification.from_config(
        config, attn_implementation="sdpa"
    )
    embeddings = hf_sdpa.audio_spectrogram_transformer.embeddings
    with torch.no_grad():
        # HF initialises these to zero (pooled prefix tokens nearly constant).
        for param in (
            embeddings.cls_token,
            embeddings.distillation_token,
            embeddings.position_embeddings,
        ):
            torch.nn.init.trunc_normal_(param, std=0.02)
    dim, depth, heads = dims
    encoder = AudioSpectrogramTransformer(
        n_frames=n_frames,
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        layer_norm_eps=config.layer_norm_eps,
    )
    head = ClassificationHead(dim, N_CLASSES, layer_norm_eps=config.layer_norm_eps)
    encoder_sd, head_sd = convert_hf_state_dict(hf_sdpa.state_dict())
    encoder.load_state_dict(encoder_sd)
    head.load_state_dict(head_sd)
    models = {"ours": (encoder.to(device), head.to(device))}
    if eager:
        models["hf-eager"] = copy.deepcopy(hf_sdpa)
        models["hf-eager"].set_attn_implementation("eager")
        models["hf-eager"].to(device)
    models["hf-sdpa"] = hf_sdpa.to(device)
    return models


def make_adam(params, **kwargs):
    """Adam as the recipes configure it (official betas and weight decay)."""
    return torch.optim.Adam(
        params, lr=1e-5, betas=(0.95, 0.999), weight_decay=5e-7, **kwargs
    )
