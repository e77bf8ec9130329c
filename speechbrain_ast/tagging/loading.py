"""Loading an ``AudioTagger`` from a model folder: local and offline first.

``ModelFolderLoading`` is the part of ``AudioTagger`` that resolves the
source (an existing local folder is read in place by its absolute path,
without network access; anything else that looks local is a clear
``FileNotFoundError``) and picks the scoring backend at load time. A
training run folder (``model/`` inside, or a training ``hyperparams.yaml``
without a ``pretrainer``) is named as such, with the path to load instead.

Authors
 * speechbrain-ast contributors 2026
"""

import os
import re

from speechbrain.utils.fetching import FetchConfig

BACKENDS = ("torch", "onnx")


class ModelFolderLoading:
    """``AudioTagger.from_hparams`` (a mixin placed before ``EncoderClassifier``).

    Example
    -------
    >>> from speechbrain_ast.tagging.tagger import AudioTagger
    >>> from tests.helpers import tiny_model_folder
    >>> folder = tiny_model_folder(getfixture("tmpdir"))
    >>> AudioTagger.from_hparams(source=folder).backend
    'torch'
    """

    @classmethod
    def from_hparams(
        cls,
        source,
        hparams_file="hyperparams.yaml",
        int8=False,
        backend="torch",
        onnx_path=None,
        **kwargs,
    ):
        """Load a model folder (local folder, or a HuggingFace repo id).

        An existing local folder is used by its absolute path, read in place
        (no links or copies unless ``savedir`` is given) and without network
        access, so loading works from any current directory.

        Arguments
        ---------
        source : str
            Model folder (or a HuggingFace repo id ``owner/name``).
        hparams_file : str
            Name of the hyperparameter file in ``source``.
        int8 : bool
            Score with int8 matrix products (onnxruntime dynamic
            quantisation, CPU only; see ``quantize_int8``). Implies
            ``backend="onnx"``.
        backend : str
            ``"torch"`` (default) or ``"onnx"``: score windows with the
            folder exported to ONNX and run by onnxruntime on CPU (needs the
            ``onnx`` extra; ``score_batch``, ``classify_batch``,
            ``classify_file`` and the ``tag_*`` methods use it;
            ``encode_batch`` then raises, the graph has no embeddings).
        onnx_path : str, optional
            With ``backend="onnx"``: a graph exported earlier from this
            folder (``speechbrain-ast export-onnx``), instead of exporting
            it at load time.
        **kwargs : dict
            Passed to ``Pretrained.from_hparams`` (``run_opts``,
            ``savedir``, ``overrides``, ``fetch_config``, ...).

        Returns
        -------
        AudioTagger
            The loaded tagger, parameters frozen, in eval mode.

        Raises
        ------
        FileNotFoundError
            A local-looking ``source`` that is not a folder, or a folder
            without ``hparams_file``.
        ValueError
            ``source`` is a training run folder, not its model folder.

        Example
        -------
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder
        >>> folder = tiny_model_folder(getfixture("tmpdir"), multi_label=False)
        >>> tagger = AudioTagger.from_hparams(source=folder, int8=True)
        >>> tagger.int8
        True
        """
        source = resolve_source(source, hparams_file)
        if os.path.isdir(source):
            kwargs.setdefault("fetch_config", FetchConfig(allow_network=False))
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        tagger = super().from_hparams(source, hparams_file=hparams_file, **kwargs)
        if int8:
            tagger.quantize_int8(onnx_path=onnx_path)
        elif backend == "onnx":
            tagger.use_onnx(onnx_path=onnx_path)
        return tagger


def resolve_source(source, hparams_file="hyperparams.yaml"):
    """Absolute path for a local model folder; clear errors for missing ones.

    A string of the form ``owner/name`` that is not a local path is left as
    it is (a HuggingFace repo id), as are non-path sources such as a
    ``FetchSource``.

    Arguments
    ---------
    source : str or os.PathLike or object
        What ``from_hparams`` was given.
    hparams_file : str
        Name of the hyperparameter file a model folder holds.

    Returns
    -------
    str or object
        The absolute folder path, or ``source`` unchanged.

    Raises
    ------
    FileNotFoundError
        A local-looking source that is not a folder, or a folder without
        ``hparams_file``.
    ValueError
        A training run folder (see ``check_model_folder``).

    Example
    -------
    >>> tmpdir = getfixture("tmpdir")
    >>> resolve_source("MIT/ast-finetuned-audioset-10-10-0.4593")
    'MIT/ast-finetuned-audioset-10-10-0.4593'
    >>> resolve_source(tmpdir.join("nope").strpath)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: .../nope: model folder not found
    """
    if not isinstance(source, (str, os.PathLike)):
        return source  # e.g. a FetchSource
    text = os.fspath(source)
    if os.path.isdir(text):
        check_model_folder(text, hparams_file)
        return os.path.abspath(text)
    looks_local = (
        text.startswith((".", "/", "~", "\\"))
        or os.path.exists(text)
        or text.count("/") != 1
        or os.sep != "/"
        and os.sep in text
    )
    if looks_local and "://" not in text:
        raise FileNotFoundError(f"{text}: model folder not found")
    return text


def check_model_folder(folder, hparams_file="hyperparams.yaml"):
    """Raise a clear error unless ``folder`` looks like a model folder.

    A training run writes its model folder as ``model/`` inside the run
    folder, next to a copy of the training ``hyperparams.yaml``, which has
    no ``pretrainer`` (SpeechBrain's loaders then fail with ``KeyError:
    'pretrainer'``). Either sign gets an error naming the folder to load.

    Arguments
    ---------
    folder : str
        An existing folder.
    hparams_file : str
        Name of the hyperparameter file a model folder holds.

    Raises
    ------
    FileNotFoundError
        No ``hparams_file`` in ``folder`` (nor in ``folder/model``).
    ValueError
        A training run folder, or a ``hparams_file`` without ``pretrainer``.

    Example
    -------
    >>> run = getfixture("tmpdir").mkdir("run")
    >>> _ = run.join("hyperparams.yaml").write("lr: 0.0001\\n")
    >>> _ = run.mkdir("model").join("hyperparams.yaml").write("pretrainer: x\\n")
    >>> check_model_folder(run.strpath)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: .../run: a training run folder, not a model folder; load its model folder .../run/model
    >>> check_model_folder(run.join("model").strpath)  # fine: no error
    """
    hparams = os.path.join(folder, hparams_file)
    inner = os.path.join(folder, "model")
    run_folder = os.path.isfile(os.path.join(inner, hparams_file))
    if run_folder and not _has_pretrainer(hparams):
        raise ValueError(
            f"{folder}: a training run folder, not a model folder; load its "
            f"model folder {inner}"
        )
    if not os.path.isfile(hparams):
        raise FileNotFoundError(
            f"{folder}: not a model folder (no {hparams_file} in it)"
        )
    if not _has_pretrainer(hparams):
        raise ValueError(
            f"{hparams}: no 'pretrainer' in it, so not a model folder's "
            "hyperparameters (a training YAML?); load a folder written by "
            "training (<output_folder>/model), `speechbrain-ast export` or "
            "`speechbrain-ast import`"
        )


def _has_pretrainer(hparams):
    """Whether a YAML file has a top-level ``pretrainer`` key (False if absent)."""
    if not os.path.isfile(hparams):
        return False
    with open(hparams, encoding="utf-8", errors="replace") as handle:
        # A text check: loading the YAML would build every object in it.
        return re.search(r"^pretrainer\s*:", handle.read(), re.MULTILINE) is not None
