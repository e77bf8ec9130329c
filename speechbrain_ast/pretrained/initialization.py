"""Encoder initialisation for the recipes: scratch, ImageNet, AudioSet or SSL.

The recipe YAML builds the encoder with the recipe's geometry (``n_frames``,
strides, size); ``initialize_encoder`` then loads weights into it, strictly:

* ``scratch``: keep the random initialisation;
* ``imagenet``: a timm ViT/DeiT (model name, or local timm checkpoint file)
  through ``timm_imagenet.from_timm`` (the official ImageNet rules);
* ``audioset``: an AST checkpoint, official ``.pth``, HuggingFace folder or
  HuggingFace Hub id, adapted to the recipe's length and strides with the
  official AudioSet-init rules (the AudioSet classifier is dropped, as the
  official code does);
* ``ssl``: the ``encoder.ckpt`` written by the self-supervised recipe
  (``recipes/SSL``, SSAST masked patch modelling); the recipe's patch shape,
  strides and size must be those of the pretraining, its input length may
  differ (``pretrained.ssl_checkpoint``). ``source_format`` is ignored.

A recipe YAML declares the call as a ``!name:`` (nothing is read or
downloaded when the YAML is loaded, e.g. by SpeechBrain's
``load_yaml_test``), and ``train.py`` makes it before training::

    embedding_model: !new:speechbrain_ast.model.AudioSpectrogramTransformer
        n_frames: 512
    initialize_encoder: !name:speechbrain_ast.pretrained.initialize_encoder
        encoder: !ref <embedding_model>
        init: audioset
        source: MIT/ast-finetuned-audioset-10-10-0.4593
        source_format: hf

    hparams["initialize_encoder"]()  # in train.py

Loading draws nothing from the global random stream (building the source
model initialises it at random first), so the rest of a seeded run does
not depend on where, or from what, the encoder was initialised.
Checkpoint recovery (resuming a run) happens later in ``Brain.fit`` and
overrides these weights, so initialising a resumed run is harmless.

Authors
 * speechbrain-ast contributors 2026
"""

import logging

import torch

from speechbrain_ast.pretrained.ast_checkpoints import load_checkpoint
from speechbrain_ast.pretrained.geometry import resize_to_n_frames
from speechbrain_ast.pretrained.ssl_checkpoint import read_ssl_checkpoint, ssl_state_for
from speechbrain_ast.pretrained.timm_imagenet import from_timm
from speechbrain_ast.pretrained.weights import load_state_dict_strict

logger = logging.getLogger(__name__)

INIT_CHOICES = ("scratch", "imagenet", "audioset", "ssl")


def initialize_encoder(encoder, init="scratch", source=None, source_format="official"):
    """Load pretrained weights into ``encoder`` (in place).

    Arguments
    ---------
    encoder : AudioSpectrogramTransformer
        The encoder built from the recipe YAML.
    init : str
        "scratch", "imagenet", "audioset" or "ssl".
    source : str
        timm model name or timm checkpoint file (imagenet); official ``.pth``
        file, HuggingFace folder or HuggingFace Hub id (audioset); the
        ``encoder.ckpt`` of ``recipes/SSL`` (ssl).
    source_format : str
        "official" or "hf", for ``init="audioset"`` (ignored otherwise).

    Returns
    -------
    AudioSpectrogramTransformer
        ``encoder``, initialised.

    Example
    -------
    >>> from speechbrain_ast.model import AudioSpectrogramTransformer
    >>> enc = AudioSpectrogramTransformer(
    ...     n_frames=128, embed_dim=32, depth=1, num_heads=2
    ... )
    >>> initialize_encoder(enc, "scratch") is enc
    True
    """
    if init not in INIT_CHOICES:
        raise ValueError(f"init must be one of {INIT_CHOICES}, got {init!r}")
    if init == "scratch":
        return encoder
    if getattr(encoder, "config", None) is None:
        raise ValueError(
            f"init={init!r} loads AST weights, and the encoder "
            f"({type(encoder).__name__}) is not an AST: it trains from scratch "
            "only (init: scratch)"
        )
    if not source:
        raise ValueError(
            f"init={init!r} needs a source: set init_source (in the YAML or "
            "as --init_source)"
        )
    # The source model is built (randomly initialised) before its weights
    # are read: keep that off the run's seeded random stream.
    with torch.random.fork_rng(devices=[]):
        state = _pretrained_state(encoder.config, init, source, source_format)
    load_state_dict_strict(encoder, state, what=f"{source} ({init} init)")
    logger.info("encoder initialised from %s (%s)", source, init)
    return encoder


def _pretrained_state(config, init, source, source_format):
    """The state dict of ``source`` adapted to an encoder built with ``config``."""
    if init == "imagenet":
        adapted = from_timm(
            source,
            n_frames=config["n_frames"],
            fstride=config["fstride"],
            tstride=config["tstride"],
            n_mels=config["n_mels"],
        )
        return adapted.state_dict()
    if init == "ssl":
        return ssl_state_for(read_ssl_checkpoint(source), config, source)
    # Load at the checkpoint's own geometry, then move it to the recipe's.
    pretrained, _, info = load_checkpoint(source_format, source)
    state, _ = resize_to_n_frames(
        pretrained.state_dict(),
        info["encoder_config"],
        config["n_frames"],
        fstride=config["fstride"],
        tstride=config["tstride"],
    )
    return state
