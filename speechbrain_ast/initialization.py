"""Encoder initialisation for the recipes: scratch, ImageNet or AudioSet.

The recipe YAML builds the encoder with the recipe's geometry (``n_frames``,
strides, size); ``initialize_encoder`` then loads weights into it, strictly:

* ``scratch``: keep the random initialisation;
* ``imagenet``: a timm ViT/DeiT (model name, or local timm checkpoint file)
  through ``vit_adapter.from_timm`` (the official ImageNet rules);
* ``audioset``: an AST checkpoint, official ``.pth`` or HuggingFace folder,
  adapted to the recipe's length with the official AudioSet-init rules
  (the AudioSet classifier is dropped, as the official code does).

Checkpoint recovery (resuming a run) happens later in ``Brain.fit`` and
overrides these weights, so initialising a resumed run is harmless.

Authors
 * speechbrain-ast contributors 2026
"""

import logging

logger = logging.getLogger(__name__)

INIT_CHOICES = ("scratch", "imagenet", "audioset")


def initialize_encoder(encoder, init="scratch", source=None, source_format="official"):
    """Load pretrained weights into ``encoder`` (in place).

    Arguments
    ---------
    encoder : AudioSpectrogramTransformer
        The encoder built from the recipe YAML.
    init : str
        "scratch", "imagenet" or "audioset".
    source : str
        timm model name or timm checkpoint file (imagenet); official ``.pth``
        file or HuggingFace folder (audioset).
    source_format : str
        "official" or "hf", for ``init="audioset"``.

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
    if not source:
        raise ValueError(f"init={init!r} needs a source (init_source in the YAML)")
    config = encoder.config
    if init == "imagenet":
        from speechbrain_ast.vit_adapter import from_timm

        adapted = from_timm(
            source,
            n_frames=config["n_frames"],
            fstride=config["fstride"],
            tstride=config["tstride"],
            n_mels=config["n_mels"],
        )
        state = adapted.state_dict()
    else:
        from speechbrain_ast.checkpoints import load_checkpoint, resize_to_n_frames

        # Load at the checkpoint's own geometry, then move it to the recipe's.
        pretrained, _, info = load_checkpoint(source_format, source)
        state, _ = resize_to_n_frames(
            pretrained.state_dict(),
            info["encoder_config"],
            config["n_frames"],
            fstride=config["fstride"],
            tstride=config["tstride"],
        )
    encoder.load_state_dict(state, strict=True)
    logger.info("encoder initialised from %s (%s)", source, init)
    return encoder
