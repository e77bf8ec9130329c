"""The self-supervised encoder file: ``encoder.ckpt`` of the SSL recipe.

``recipes/SSL`` pretrains an encoder with masked patch modelling (SSAST) and
writes one torch file holding plain data only (read with
``weights_only=True``):

* ``format``: ``FORMAT`` and ``version``;
* ``config``: the encoder's constructor arguments (``encoder.config``);
* ``state_dict``: its weights (the mask embedding and the prediction heads
  are not part of the encoder and are left out);
* ``trained_on``: what it saw (patch shape, strides, ``n_frames``, fbank
  statistics, masking, clips and epochs), for the record.

``initialize_encoder(encoder, "ssl", path)`` loads it into a recipe's
encoder with :func:`ssl_state_for`: the structure must be the same (see
``STRUCTURE_KEYS``); only the input length may differ, the positional
embeddings are cut or interpolated along time to the recipe's ``n_frames``.

Authors
 * speechbrain-ast contributors 2026
"""

import os

import torch

from speechbrain_ast.files import atomic_write
from speechbrain_ast.model import patch_shape
from speechbrain_ast.pretrained.geometry import resize_to_n_frames

FORMAT = "speechbrain-ast ssl encoder"
VERSION = 1
# Constructor arguments that decide the weights' shapes and meaning.
STRUCTURE_KEYS = (
    "n_mels",
    "patch_size",
    "fstride",
    "tstride",
    "embed_dim",
    "depth",
    "num_heads",
    "mlp_ratio",
    "num_prefix_tokens",
    "qkv_bias",
)


def write_ssl_checkpoint(path, encoder, trained_on):
    """Write ``encoder`` to ``path`` atomically (see the module docstring).

    Arguments
    ---------
    path : str
        The ``encoder.ckpt`` file.
    encoder : AudioSpectrogramTransformer
        The pretrained encoder.
    trained_on : dict
        Plain values describing the pretraining (data, geometry, statistics).

    Returns
    -------
    str
        ``path``.

    Example
    -------
    >>> from speechbrain_ast.model import AudioSpectrogramTransformer
    >>> enc = AudioSpectrogramTransformer(n_frames=64, embed_dim=32, depth=1, num_heads=2)
    >>> path = getfixture("tmpdir").join("encoder.ckpt").strpath
    >>> _ = write_ssl_checkpoint(path, enc, {"n_frames": 64})
    >>> read_ssl_checkpoint(path)["config"]["embed_dim"]
    32
    """
    checkpoint = {
        "format": FORMAT,
        "version": VERSION,
        "config": plain(encoder.config),
        "state_dict": {
            name: tensor.detach().cpu().clone()
            for name, tensor in encoder.state_dict().items()
        },
        "trained_on": plain(trained_on),
    }
    with atomic_write(path, "wb") as handle:
        torch.save(checkpoint, handle)
    return path


def plain(value):
    """``value`` with tuples as lists and tensors as numbers (safe to load).

    Arguments
    ---------
    value : object
        Nested dicts, lists, tuples, numbers, strings, 0-d tensors.

    Returns
    -------
    object
        The same structure with only plain Python values.

    Example
    -------
    >>> plain({"patch_size": (128, 2), "mean": torch.tensor(1.5)})
    {'patch_size': [128, 2], 'mean': 1.5}
    """
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, torch.Tensor):
        return value.item()
    return value


def read_ssl_checkpoint(path):
    """Read an ``encoder.ckpt`` written by :func:`write_ssl_checkpoint`.

    Arguments
    ---------
    path : str
        The file.

    Returns
    -------
    dict
        ``config``, ``state_dict`` and ``trained_on`` (and the format keys).

    Raises
    ------
    ValueError
        Missing file, or not an SSL encoder file (the message names it).

    Example
    -------
    >>> read_ssl_checkpoint("missing/encoder.ckpt")
    Traceback (most recent call last):
    ...
    ValueError: missing/encoder.ckpt: SSL encoder file not found (the encoder.ckpt written by recipes/SSL)
    """
    if not os.path.isfile(path):
        raise ValueError(
            f"{path}: SSL encoder file not found (the encoder.ckpt written by "
            "recipes/SSL)"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle and zip errors of several types
        raise ValueError(
            f"{path}: not readable as an SSL encoder file ({type(error).__name__}: "
            f"{error})"
        ) from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise ValueError(
            f"{path}: not an SSL encoder file (no format {FORMAT!r}); init ssl "
            "needs the encoder.ckpt written by recipes/SSL"
        )
    if checkpoint.get("version", 0) > VERSION:
        raise ValueError(
            f"{path}: SSL encoder file version {checkpoint['version']} is newer "
            f"than this code reads ({VERSION}); update speechbrain-ast"
        )
    return checkpoint


def structure_mismatches(checkpoint_config, recipe_config):
    """Where a checkpoint's structure differs from a recipe encoder's.

    Arguments
    ---------
    checkpoint_config, recipe_config : dict
        Encoder constructor arguments.

    Returns
    -------
    list of str
        One line per differing key, with the override that fixes it.

    Example
    -------
    >>> structure_mismatches({"embed_dim": 128, "patch_size": [128, 2]},
    ...                      {"embed_dim": 96, "patch_size": 16})
    ['patch_size: checkpoint [128, 2], recipe [16, 16] (pass --patch_size=[128,2])', 'embed_dim: checkpoint 128, recipe 96 (pass --embed_dim 128)']
    """
    lines = []
    for key in STRUCTURE_KEYS:
        if key not in checkpoint_config or key not in recipe_config:
            continue
        ours, theirs = checkpoint_config[key], recipe_config[key]
        if key == "patch_size":
            ours, theirs = list(patch_shape(ours)), list(patch_shape(theirs))
            hint = f"--patch_size=[{ours[0]},{ours[1]}]"
        else:
            hint = f"--{key} {ours}"
        if ours != theirs:
            lines.append(f"{key}: checkpoint {ours}, recipe {theirs} (pass {hint})")
    return lines


def ssl_state_for(checkpoint, recipe_config, source="SSL checkpoint"):
    """The checkpoint's encoder weights moved to a recipe encoder's length.

    Arguments
    ---------
    checkpoint : dict
        From :func:`read_ssl_checkpoint`.
    recipe_config : dict
        The recipe encoder's ``config``.
    source : str
        Name of the file, for the error message.

    Returns
    -------
    dict
        State dict for the recipe's encoder: positional embeddings cut or
        interpolated along time to its ``n_frames`` (prefix tokens kept).

    Raises
    ------
    ValueError
        The structure differs; every differing key is listed with the
        override to pass.

    Example
    -------
    >>> from speechbrain_ast.model import AudioSpectrogramTransformer
    >>> frames = dict(patch_size=[128, 2], fstride=128, tstride=2,
    ...               embed_dim=32, depth=1, num_heads=2)
    >>> pretrained = AudioSpectrogramTransformer(n_frames=512, **frames)
    >>> checkpoint = {"config": pretrained.config,
    ...               "state_dict": pretrained.state_dict()}
    >>> recipe = AudioSpectrogramTransformer(n_frames=128, **frames)
    >>> ssl_state_for(checkpoint, recipe.config)["pos_embed"].shape  # 2 + 1 x 64
    torch.Size([1, 66, 32])
    """
    config = checkpoint["config"]
    mismatches = structure_mismatches(config, recipe_config)
    if mismatches:
        raise ValueError(
            f"{source}: the SSL encoder does not fit the recipe's encoder; the "
            "patch shape, strides and size must be the same as in pretraining:\n  "
            + "\n  ".join(mismatches)
        )
    state, _ = resize_to_n_frames(
        checkpoint["state_dict"], config, recipe_config["n_frames"]
    )
    return state
