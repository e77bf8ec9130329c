"""AST checkpoints (official or HuggingFace) as modules or model folders.

``load_checkpoint`` builds the encoder and head of a checkpoint, optionally
moved to another input length (``geometry.resize_to_n_frames``);
``import_checkpoint`` writes them as a SpeechBrain model folder that
reproduces the source model (its LayerNorm eps included). Every load is
strict: a missing key, an extra key or a wrong shape raises a ``ValueError``
that lists them.

Authors
 * speechbrain-ast contributors 2026
"""

import csv
import os

from speechbrain_ast.features import NORM_STATS
from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead
from speechbrain_ast.model_folder import write_model_folder
from speechbrain_ast.pretrained.geometry import resize_to_n_frames
from speechbrain_ast.pretrained.huggingface import (
    hf_local_folder,
    is_hub_id,
    load_hf_folder,
)
from speechbrain_ast.pretrained.official import load_official_state_dict
from speechbrain_ast.pretrained.weights import load_state_dict_strict

AUDIOSET_CLASSES = 527


def load_checkpoint(
    fmt, src, n_frames=None, fstride=None, tstride=None, num_heads=None
):
    """Build the encoder and head of an official or HF AST checkpoint.

    Use this to start a fine-tuning from AudioSet weights (take the encoder,
    make a new head, as the official recipe does), or to import a model.

    Arguments
    ---------
    fmt : str
        ``"official"`` (a ``.pth`` file) or ``"hf"`` (a save_pretrained
        folder or a HuggingFace Hub id).
    src : str
        The checkpoint file, folder or Hub id (``MIT/ast-finetuned-*``;
        downloaded through huggingface_hub, or read from its cache).
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
    >>> import torch
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
        if os.path.isdir(src) or is_hub_id(src):
            raise ValueError(
                f"{src}: a folder or Hub id is a HuggingFace checkpoint; use the "
                "format 'hf' (an official checkpoint is one .pth file)"
            )
        encoder_sd, head_sd, info = load_official_state_dict(
            src, fstride=fstride, tstride=tstride, num_heads=num_heads
        )
    elif fmt == "hf":
        encoder_sd, head_sd, info = load_hf_folder(hf_local_folder(src))
        info["source"] = src  # the Hub id rather than its cache folder
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
        Official ``.pth`` file, HF ``save_pretrained`` folder or HF Hub id.
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
    >>> import torch
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

    where = os.path.abspath(src) if os.path.exists(src) else src  # or a Hub id
    origin = f"imported from the {fmt} checkpoint {where}"
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
