"""Loading an ``AudioTagger`` from a model folder: local and offline first.

``ModelFolderLoading`` is the part of ``AudioTagger`` that resolves the
source (an existing local folder is read in place by its absolute path,
without network access; anything else that looks local is a clear
``FileNotFoundError``) and picks the scoring backend at load time.

Authors
 * speechbrain-ast contributors 2026
"""

import os

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
            ``onnx`` extra; ``score_batch``, ``tag_batch`` and the ``tag_*``
            methods use it, the embedding methods stay in PyTorch).
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
        if not os.path.isfile(os.path.join(text, hparams_file)):
            raise FileNotFoundError(
                f"{text}: not a model folder (no {hparams_file} in it)"
            )
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
