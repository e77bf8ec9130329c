"""SpeechBrain model folders: what training exports and checkpoint import write.

A model folder holds ``hyperparams.yaml``, ``embedding_model.ckpt``,
``classifier.ckpt`` and ``label_encoder.txt``, and loads offline from any
location with ``EncoderClassifier.from_hparams(source=DIR)`` or
``AudioTagger.from_hparams(source=DIR)``. The label list is also written
inside ``hyperparams.yaml``: SpeechBrain resolves an explicit file path in a
Pretrainer against the current directory, so the labels are built from the
YAML itself and the weights are found as ``<source>/<name>.ckpt``.

Authors
 * speechbrain-ast contributors 2026
"""

import contextlib
import logging
import os

import torch
import yaml
from speechbrain.dataio.encoder import CategoricalEncoder

from speechbrain_ast.files import atomic_write

logger = logging.getLogger(__name__)

HPARAMS_TEMPLATE = """\
# AST model folder written by speechbrain-ast ({origin}).
# Load with speechbrain.inference.classifiers.EncoderClassifier.from_hparams(
# source=THIS_FOLDER) or speechbrain_ast.AudioTagger.from_hparams(source=...).

sample_rate: {sample_rate}
n_mels: {n_mels}
n_frames: {n_frames}
norm_mean: {norm_mean!r}
norm_std: {norm_std!r}
# True: independent sigmoid scores (AudioSet); False: one class per clip.
multi_label: {multi_label}

labels: {labels}

compute_features: !new:speechbrain_ast.features.KaldiFbank
    sample_rate: !ref <sample_rate>
    n_mels: !ref <n_mels>
    n_frames: !ref <n_frames>

mean_var_norm: !new:speechbrain_ast.features.FixedNormalization
    mean: !ref <norm_mean>
    std: !ref <norm_std>

embedding_model: !new:speechbrain_ast.model.AudioSpectrogramTransformer
{encoder_args}
classifier: !new:speechbrain_ast.model.ClassificationHead
    embed_dim: {embed_dim}
    n_classes: {n_classes}
    layer_norm_eps: {head_eps!r}

label_encoder: !apply:speechbrain_ast.model_folder.label_encoder_from_list
    - !ref <labels>

modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    classifier: !ref <classifier>

# Weights are read from <source>/<name>.ckpt.
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        classifier: !ref <classifier>
"""


def label_encoder_from_list(labels):
    """Build a ``CategoricalEncoder`` whose index ``i`` is ``labels[i]``.

    Arguments
    ---------
    labels : list of str
        Class names in output order.

    Returns
    -------
    CategoricalEncoder
        The encoder, with its expected length set.

    Example
    -------
    >>> encoder = label_encoder_from_list(["dog", "cat"])
    >>> encoder.decode_ndim([1, 0])
    ['cat', 'dog']
    """
    if len(set(labels)) != len(labels):
        raise ValueError("duplicate label names")
    encoder = CategoricalEncoder()
    encoder.update_from_iterable(labels)
    encoder.expect_len(len(labels))
    return encoder


def write_model_folder(
    out_dir,
    encoder,
    head,
    labels,
    norm_mean,
    norm_std,
    multi_label,
    sample_rate=16000,
    origin="speechbrain-ast",
):
    """Write a model folder that SpeechBrain's inference classes load offline.

    Arguments
    ---------
    out_dir : str
        Folder to create (files in it are replaced).
    encoder : AudioSpectrogramTransformer
        The encoder (its ``config`` rebuilds it).
    head : ClassificationHead
        The classifier.
    labels : list of str
        Class names, in output order.
    norm_mean, norm_std : float
        Raw-fbank statistics used in training.
    multi_label : bool
        Whether outputs are independent (sigmoid) scores.
    sample_rate : int
        Sample rate the features expect.
    origin : str
        A note on where the weights came from, written in the YAML header.

    Returns
    -------
    str
        ``out_dir``.

    Example
    -------
    >>> from speechbrain_ast.model import (
    ...     AudioSpectrogramTransformer,
    ...     ClassificationHead,
    ... )
    >>> enc = AudioSpectrogramTransformer(
    ...     n_frames=128, embed_dim=32, depth=1, num_heads=2
    ... )
    >>> out = getfixture("tmpdir").join("model").strpath
    >>> _ = write_model_folder(
    ...     out, enc, ClassificationHead(32, 2), ["a", "b"], -6.8, 5.6, False
    ... )
    >>> sorted(os.listdir(out))
    ['classifier.ckpt', 'embedding_model.ckpt', 'hyperparams.yaml', 'label_encoder.txt']
    """
    labels = [str(label) for label in labels]
    n_classes = head.linear.out_features
    if len(labels) != n_classes:
        raise ValueError(f"{len(labels)} labels for a {n_classes}-class head")
    config = dict(encoder.config)
    config["pad_value"] = (0.0 - float(norm_mean)) / (2 * float(norm_std))
    # Training-only options: an exported model runs without them.
    for option in (
        "activation_checkpointing",
        "patchout_freq",
        "patchout_time",
        "token_drop",
    ):
        config.pop(option, None)
    encoder_args = "".join(f"    {key}: {value!r}\n" for key, value in config.items())
    text = HPARAMS_TEMPLATE.format(
        origin=origin,
        sample_rate=int(sample_rate),
        n_mels=config["n_mels"],
        n_frames=config["n_frames"],
        norm_mean=float(norm_mean),
        norm_std=float(norm_std),
        multi_label=bool(multi_label),
        labels=yaml.safe_dump(labels, default_flow_style=True, width=1 << 30).strip(),
        encoder_args=encoder_args,
        embed_dim=head.norm.normalized_shape[0],
        n_classes=n_classes,
        head_eps=float(head.norm.eps),
    )
    os.makedirs(out_dir, exist_ok=True)
    weights = {"embedding_model.ckpt": encoder, "classifier.ckpt": head}
    # Nothing is replaced unless every file was written.
    with contextlib.ExitStack() as stack:
        for name, module in weights.items():
            handle = stack.enter_context(
                atomic_write(os.path.join(out_dir, name), "wb")
            )
            state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
            torch.save(state, handle)
        # CategoricalEncoder.save takes a path: the temporary file's.
        path = os.path.join(out_dir, "label_encoder.txt")
        label_encoder_from_list(labels).save(
            stack.enter_context(atomic_write(path)).name
        )
        stack.enter_context(
            atomic_write(os.path.join(out_dir, "hyperparams.yaml"))
        ).write(text)
    logger.info("model folder written to %s", out_dir)
    return out_dir
