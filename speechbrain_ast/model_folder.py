"""SpeechBrain model folders: what training exports and checkpoint import write.

A model folder holds ``hyperparams.yaml``, ``embedding_model.ckpt``,
``classifier.ckpt`` and ``label_encoder.txt``, and loads offline from any
location with ``EncoderClassifier.from_hparams(source=DIR)`` or
``AudioTagger.from_hparams(source=DIR)``. The label list is also written
inside ``hyperparams.yaml``: SpeechBrain resolves an explicit file path in a
Pretrainer against the current directory, so the labels are built from the
YAML itself and the weights are found as ``<source>/<name>.ckpt``.

Two functions make one: ``write_model_folder`` from modules in memory
(training's export, checkpoint import) and ``export_checkpoint`` from a
training checkpoint folder and a model folder of the same architecture.
Both write through ``write_folder_files``: nothing in the folder is replaced
unless every file was written.

Authors
 * speechbrain-ast contributors 2026
"""

import contextlib
import importlib
import logging
import os
import re
import shutil

import torch
import yaml
from speechbrain.dataio.encoder import CategoricalEncoder

from speechbrain_ast.features import NORMALIZATIONS, normalized_value
from speechbrain_ast.files import atomic_write

logger = logging.getLogger(__name__)

HPARAMS_TEMPLATE = """\
# {model_name} model folder written by speechbrain-ast ({origin}).
# Load with speechbrain.inference.classifiers.EncoderClassifier.from_hparams(
# source=THIS_FOLDER) or speechbrain_ast.AudioTagger.from_hparams(source=...).

sample_rate: {sample_rate}
n_mels: {n_mels}
n_frames: {n_frames}
# dataset: (x - norm_mean) / (2 * norm_std); clip: each clip's own mean and std.
normalization: {normalization}
norm_mean: {norm_mean!r}
norm_std: {norm_std!r}
# True: independent sigmoid scores (AudioSet); False: one class per clip.
multi_label: {multi_label}

labels: {labels}

compute_features: !new:speechbrain_ast.features.KaldiFbank
    sample_rate: !ref <sample_rate>
    n_mels: !ref <n_mels>
    n_frames: !ref <n_frames>

mean_var_norm: !apply:speechbrain_ast.features.fbank_normalization
    kind: !ref <normalization>
    mean: !ref <norm_mean>
    std: !ref <norm_std>

embedding_model: !new:{encoder_class}
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


AST_CLASS = "speechbrain_ast.model.AudioSpectrogramTransformer"
# The template's first line as written: the encoder's name, then the origin.
HEADER = re.compile(r"^# (\S+) model folder written by speechbrain-ast \((.*)\)\.$")


def recorded_module(class_path, n_mels, n_frames, kwargs):
    """Build ``class_path(**kwargs)`` for a YAML, remembering how, for model folders.

    An AST carries its own ``config``; any other encoder a YAML swaps in
    (for example SpeechBrain's ``Xvector`` lobe) is built through this, so
    that the model folder training exports can rebuild it from
    ``hyperparams.yaml``. ``n_mels`` and ``n_frames`` are the input the
    encoder was trained on (the tagger windows audio by ``n_frames``).

    Arguments
    ---------
    class_path : str
        Dotted path of the module's class.
    n_mels, n_frames : int
        Its input: mel bins and frames.
    kwargs : dict
        Constructor arguments (plain YAML values: numbers, strings, lists).

    Returns
    -------
    torch.nn.Module
        The module, with ``recorded_class``, ``recorded_kwargs``, ``n_mels``
        and ``n_frames`` set.

    Example
    -------
    >>> layer = recorded_module("torch.nn.Linear", 128, 100, {"in_features": 128, "out_features": 4})
    >>> layer.recorded_class, layer.recorded_kwargs["out_features"], layer.n_frames
    ('torch.nn.Linear', 4, 100)
    """
    module_name, _, class_name = class_path.rpartition(".")
    try:
        module_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"{class_path}: no such class ({error})") from None
    module = module_class(**kwargs)
    module.recorded_class = class_path
    module.recorded_kwargs = dict(kwargs)
    module.n_mels, module.n_frames = int(n_mels), int(n_frames)
    return module


def _encoder_description(encoder, pad_value):
    """``(class path, constructor arguments)`` that rebuild ``encoder``."""
    recorded = getattr(encoder, "recorded_class", None)
    if recorded is not None:
        return recorded, dict(encoder.recorded_kwargs)
    if not hasattr(encoder, "config"):
        raise ValueError(
            f"{type(encoder).__name__}: a model folder can rebuild an AST or an "
            "encoder built by speechbrain_ast.model_folder.recorded_module"
        )
    config = dict(encoder.config)
    config["pad_value"] = pad_value
    # Training-only options: an exported model runs without them.
    for option in (
        "activation_checkpointing",
        "patchout_freq",
        "patchout_time",
        "token_drop",
    ):
        config.pop(option, None)
    return AST_CLASS, config


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
    normalization="dataset",
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
    normalization : str
        The fbank normalisation the model was trained with: ``"dataset"``
        (``norm_mean``/``norm_std``), ``"clip"`` (``ClipNormalization``) or
        ``"clip_sound"`` (the same, digital silence left out).

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
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"normalization: {normalization!r}; known: {', '.join(NORMALIZATIONS)}"
        )
    labels = [str(label) for label in labels]
    n_classes = head.linear.out_features
    if len(labels) != n_classes:
        raise ValueError(f"{len(labels)} labels for a {n_classes}-class head")
    encoder_class, config = _encoder_description(
        encoder, normalized_value(0.0, norm_mean, norm_std, normalization)
    )
    encoder_args = "".join(f"    {key}: {value!r}\n" for key, value in config.items())
    text = HPARAMS_TEMPLATE.format(
        origin=origin,
        sample_rate=int(sample_rate),
        n_mels=encoder.n_mels,
        n_frames=encoder.n_frames,
        encoder_class=encoder_class,
        model_name="AST" if encoder_class == AST_CLASS else encoder_class.rsplit(".")[-1],
        normalization=normalization,
        norm_mean=float(norm_mean),
        norm_std=float(norm_std),
        multi_label=bool(multi_label),
        labels=yaml.safe_dump(labels, default_flow_style=True, width=1 << 30).strip(),
        encoder_args=encoder_args,
        embed_dim=head.norm.normalized_shape[0],
        n_classes=n_classes,
        head_eps=float(head.norm.eps),
    )
    weights = {"embedding_model.ckpt": encoder, "classifier.ckpt": head}
    files = {
        name: _torch_saver(module.state_dict()) for name, module in weights.items()
    }
    # CategoricalEncoder.save takes a path: the temporary file's.
    files["label_encoder.txt"] = lambda handle: label_encoder_from_list(labels).save(
        handle.name
    )
    files["hyperparams.yaml"] = lambda handle: handle.write(text.encode("utf-8"))
    write_folder_files(out_dir, files)
    logger.info("model folder written to %s", out_dir)
    return out_dir


def export_checkpoint(ckpt_dir, out_dir, like_dir):
    """Make a model folder from a training checkpoint folder.

    The architecture and labels come from ``like_dir`` (an existing model
    folder, e.g. the one training exported for its best epoch); the weights
    of every module the folder's pretrainer loads (``embedding_model``,
    ``classifier``) come from ``<ckpt_dir>/<name>.ckpt``. The weights must
    load strictly (same keys and shapes) before anything is written; no file
    is replaced unless all of them were written.

    Arguments
    ---------
    ckpt_dir : str
        SpeechBrain checkpoint folder (``save/CKPT+.../``).
    out_dir : str
        Model folder to write (created, or its files replaced).
    like_dir : str
        Model folder giving ``hyperparams.yaml`` and ``label_encoder.txt``.

    Returns
    -------
    str
        ``out_dir`` as an absolute path.

    Raises
    ------
    FileNotFoundError
        A missing checkpoint folder, model folder or weight file.
    ValueError
        A model folder that does not build or loads no weights, or weights
        that do not fit its architecture.

    Example
    -------
    >>> from tests.helpers import tiny_model_folder
    >>> tmpdir = getfixture("tmpdir")
    >>> like = tiny_model_folder(tmpdir)
    >>> ckpt = tmpdir.mkdir("CKPT+epoch3").strpath
    >>> for name in ("embedding_model", "classifier"):
    ...     state = torch.load(os.path.join(like, name + ".ckpt"))
    ...     torch.save(state, os.path.join(ckpt, name + ".ckpt"))
    >>> out = export_checkpoint(ckpt, tmpdir.join("epoch3").strpath, like)
    >>> sorted(os.listdir(out))
    ['classifier.ckpt', 'embedding_model.ckpt', 'hyperparams.yaml', 'label_encoder.txt']
    >>> open(os.path.join(out, "hyperparams.yaml")).readline().strip()
    '# AST model folder written by speechbrain-ast (exported from checkpoint CKPT+epoch3).'
    """
    from hyperpyyaml import load_hyperpyyaml

    hparams_path = os.path.join(like_dir, "hyperparams.yaml")
    if not os.path.isdir(ckpt_dir):
        raise FileNotFoundError(f"{ckpt_dir}: checkpoint folder not found")
    if not os.path.isfile(hparams_path):
        raise FileNotFoundError(f"{like_dir}: not a model folder (no hyperparams.yaml)")
    try:
        with open(hparams_path, encoding="utf-8") as handle:
            hparams = load_hyperpyyaml(handle)
    except Exception as error:  # hyperpyyaml raises whatever the YAML builds
        raise ValueError(
            f"{hparams_path}: cannot build the model ({type(error).__name__}: {error})"
        ) from None
    loadables = _pretrainer_loadables(hparams)
    modules = {
        name: obj for name, obj in loadables.items() if isinstance(obj, torch.nn.Module)
    }
    if not modules:
        raise ValueError(f"{like_dir}: the model folder loads no module weights")
    for name in modules:
        path = os.path.join(ckpt_dir, name + ".ckpt")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: not found (needed for {name})")
    files = {}
    for name, module in modules.items():
        path = os.path.join(ckpt_dir, name + ".ckpt")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            module.load_state_dict(state, strict=True)
        except Exception as error:  # unpickling and shape errors alike
            raise ValueError(
                f"{path}: does not fit the model of {like_dir} "
                f"({type(error).__name__}: {error})"
            ) from None
        files[name + ".ckpt"] = _torch_saver(module.state_dict())
    # Files of the model folder that the checkpoint does not replace.
    copies = [name + ".ckpt" for name in loadables if name not in modules]
    copies += ["label_encoder.txt"]
    # The header names where the weights came from: this checkpoint, not the
    # weights of the folder the architecture was copied from.
    origin = f"exported from checkpoint {os.path.basename(os.path.normpath(ckpt_dir))}"
    files["hyperparams.yaml"] = _header_rewriter(hparams_path, origin)
    for filename in copies:
        source = os.path.join(like_dir, filename)
        if os.path.isfile(source):
            files[filename] = _file_copier(source)
    out_dir = os.path.abspath(out_dir)
    write_folder_files(out_dir, files)
    return out_dir


def write_folder_files(out_dir, files):
    """Write the files of a folder together: all of them, or none replaced.

    Arguments
    ---------
    out_dir : str
        The folder (created if missing).
    files : dict
        ``{filename: write}``; ``write(handle)`` writes the content to a
        binary file opened by ``speechbrain_ast.files.atomic_write``.

    Raises
    ------
    NotADirectoryError
        ``out_dir`` exists and is not a folder.

    Example
    -------
    >>> out = getfixture("tmpdir").join("folder").strpath
    >>> def broken(handle):
    ...     raise RuntimeError("disk full")
    >>> try:
    ...     write_folder_files(out, {"a.txt": lambda h: h.write(b"a"), "b.txt": broken})
    ... except RuntimeError:
    ...     pass
    >>> os.listdir(out)
    []
    """
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NotADirectoryError(f"{out_dir}: exists and is not a folder")
    os.makedirs(out_dir, exist_ok=True)
    # Every file stays a temporary one until the last was written.
    with contextlib.ExitStack() as stack:
        for filename, write in files.items():
            path = os.path.join(out_dir, filename)
            write(stack.enter_context(atomic_write(path, "wb")))


def _pretrainer_loadables(hparams):
    """The objects a model folder's pretrainer loads, by name."""
    loadables = dict(getattr(hparams.get("pretrainer"), "loadables", {}))
    if loadables:
        return loadables
    return {
        name: hparams["modules"][name]
        for name in ("embedding_model", "classifier")
        if name in hparams.get("modules", {})
    }


def _torch_saver(state):
    """A ``write(handle)`` saving ``state`` with its tensors on the CPU."""
    cpu = {key: value.detach().cpu() for key, value in state.items()}
    return lambda handle: torch.save(cpu, handle)


def _header_rewriter(source, origin):
    """A ``write(handle)`` copying a model folder's YAML with a new origin line."""
    with open(source, encoding="utf-8") as handle:
        text = handle.read()
    header = HPARAMS_TEMPLATE.splitlines()[0]
    lines = text.splitlines(keepends=True)
    written = HEADER.match(lines[0].rstrip("\n")) if lines else None
    model_name = written.group(1) if written else "AST"
    line = header.format(model_name=model_name, origin=origin) + "\n"
    if written:
        lines[0] = line
    else:  # a folder written by hand: keep it, and say where the weights came from
        lines.insert(0, line)
    content = "".join(lines).encode("utf-8")

    def write(handle):
        handle.write(content)

    return write


def _file_copier(source):
    """A ``write(handle)`` copying the bytes of ``source``."""

    def copy(handle):
        with open(source, "rb") as original:
            shutil.copyfileobj(original, handle)

    return copy
