"""The onnxruntime backend of ``AudioTagger``: fp32 or int8 graphs on CPU.

``OnnxBackend`` is the part of ``AudioTagger`` that hands its batches to an
``OnnxScorer`` (``speechbrain_ast.tagging.onnx_runtime``) instead of the
PyTorch modules. ``use_onnx`` is the one way a tagger gets its scorer: from
a graph exported earlier (checked against the folder), or by exporting the
folder with ``speechbrain_ast.tagging.onnx_export.export_tagger``, the one
ONNX export function. Windows, aggregation and timelines stay the same code
for both backends, and every scoring entry point (``logits_batch``,
``score_batch``, hence ``classify_batch``, ``classify_file``, ``tag_*``)
goes to the chosen one. The graph has no embedding output: ``encode_batch``
on an ONNX tagger is an error, not a silent fp32 PyTorch answer.

Authors
 * speechbrain-ast contributors 2026
"""

import os
import tempfile

import torch


class OnnxBackend:
    """``AudioTagger``'s scoring backend: PyTorch, or onnxruntime (a mixin).

    Placed before ``BatchScoring``: its ``score_batch`` goes to onnxruntime
    when a scorer is set, to the PyTorch modules otherwise.

    Example
    -------
    >>> from speechbrain_ast.tagging.tagger import AudioTagger
    >>> from tests.helpers import tiny_model_folder
    >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
    >>> tagger.backend, tagger.int8
    ('torch', False)
    """

    # Until use_onnx: PyTorch scores in float32.
    onnx_scorer = None
    int8 = False

    @property
    def backend(self):
        """``"onnx"`` when windows are scored by onnxruntime, else ``"torch"``."""
        return "torch" if self.onnx_scorer is None else "onnx"

    def use_onnx(self, onnx_path=None, int8=False, threads=None):
        """Score windows with onnxruntime on CPU from now on.

        The folder's fp32 modules are exported to one ONNX graph (waveform ->
        scores, see ``speechbrain_ast.tagging.onnx_export``), or ``onnx_path`` is
        loaded and checked against the folder (labels, rate, window).

        Arguments
        ---------
        onnx_path : str, optional
            A graph exported earlier from this folder.
        int8 : bool
            Export with int8 matrix products (when not given ``onnx_path``).
        threads : int, optional
            onnxruntime intra-op threads (default: onnxruntime's choice).

        Returns
        -------
        AudioTagger
            ``self``.

        Example
        -------
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder
        >>> folder = tiny_model_folder(getfixture("tmpdir"))
        >>> tagger = AudioTagger.from_hparams(source=folder, backend="onnx")
        >>> tagger.backend, tagger.score_batch(torch.randn(2, 16000)).shape
        ('onnx', torch.Size([2, 3]))
        """
        from speechbrain_ast.tagging.onnx_export import export_tagger
        from speechbrain_ast.tagging.onnx_runtime import OnnxScorer

        if torch.device(self.device).type != "cpu":
            raise ValueError(
                f"the ONNX backend runs on CPU only (device is {self.device})"
            )
        if onnx_path is not None:
            scorer = OnnxScorer(os.fspath(onnx_path), threads=threads)
        else:
            # The session keeps the graph in memory; the file can go.
            with tempfile.TemporaryDirectory(prefix="speechbrain-ast-onnx-") as work:
                path = export_tagger(self, os.path.join(work, "model.onnx"), int8=int8)
                with open(path, "rb") as handle:
                    scorer = OnnxScorer(
                        handle.read(), threads=threads, name="exported graph"
                    )
        scorer.check_matches(self.labels, self.sample_rate, self.window_samples)
        self.onnx_scorer = scorer
        self.int8 = bool(scorer.int8)
        return self

    def quantize_int8(self, onnx_path=None, threads=None):
        """Score windows with int8 matrix products (onnxruntime, CPU).

        The folder is exported to ONNX and the weights of the encoder's and
        head's matrix products are quantised to int8, activations on the fly
        (onnxruntime dynamic quantisation; the fbank stays float32). This
        replaces the deprecated ``torch.ao.quantization`` path. Speed and
        agreement with fp32 are in ``benchmarks/RESULTS.md``.

        Arguments
        ---------
        onnx_path : str, optional
            An int8 graph exported earlier from this folder
            (``speechbrain-ast export-onnx --int8``).
        threads : int, optional
            onnxruntime intra-op threads.

        Returns
        -------
        AudioTagger
            ``self``.

        Example
        -------
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder
        >>> folder = tiny_model_folder(getfixture("tmpdir"))
        >>> tagger = AudioTagger.from_hparams(source=folder).quantize_int8()
        >>> tagger.int8, tagger.backend
        (True, 'onnx')
        """
        if torch.device(self.device).type != "cpu":
            raise ValueError(
                f"int8 dynamic quantisation runs on CPU only (device is {self.device})"
            )
        self.use_onnx(onnx_path=onnx_path, int8=True, threads=threads)
        if not self.int8:
            raise ValueError(f"{onnx_path}: not an int8 graph (export with --int8)")
        return self

    def encode_batch(self, wavs, wav_lens=None, normalize=False):
        """Embeddings ``[B, 1, D]`` (PyTorch backend only).

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]`` (or ``[S]``) at ``sample_rate``.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.
        normalize : bool
            As ``BatchScoring.encode_batch``.

        Returns
        -------
        torch.Tensor
            Embeddings (see ``BatchScoring.encode_batch``).

        Raises
        ------
        RuntimeError
            The ONNX backend is on: its graph has no embedding output, and
            the fp32 PyTorch modules are not what the user chose.

        Example
        -------
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder
        >>> folder = tiny_model_folder(getfixture("tmpdir"))
        >>> tagger = AudioTagger.from_hparams(source=folder, backend="onnx")
        >>> tagger.encode_batch(torch.randn(1, 16000))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        RuntimeError: encode_batch: embeddings need the torch backend; ...
        """
        if self.onnx_scorer is not None:
            raise RuntimeError(
                "encode_batch: embeddings need the torch backend; the ONNX graph "
                f"({self.onnx_scorer.name}) outputs only logits and scores. Load "
                "the folder with AudioTagger.from_hparams(source, backend='torch') "
                "(the default) for embeddings."
            )
        return super().encode_batch(wavs, wav_lens, normalize=normalize)

    def logits_batch(self, wavs, wav_lens=None):
        """Raw logits ``[B, C]``, from onnxruntime when the backend is on.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]`` (or ``[S]``) at ``sample_rate``.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.

        Returns
        -------
        torch.Tensor
            Logits ``[B, C]`` (see ``BatchScoring.logits_batch``).

        Example
        -------
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder
        >>> folder = tiny_model_folder(getfixture("tmpdir"))
        >>> tagger = AudioTagger.from_hparams(source=folder)
        >>> wavs = torch.randn(2, 16000)
        >>> torch_logits = tagger.logits_batch(wavs)
        >>> onnx_logits = tagger.use_onnx().logits_batch(wavs)
        >>> torch.allclose(torch_logits, onnx_logits, atol=1e-4)
        True
        """
        if self.onnx_scorer is not None:
            return self.onnx_scorer.run(wavs, wav_lens)[0]
        return super().logits_batch(wavs, wav_lens)

    def score_batch(self, wavs, wav_lens=None):
        """Class probabilities ``[B, C]``, from onnxruntime when the backend is on.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]`` (or ``[S]``) at ``sample_rate``.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.

        Returns
        -------
        torch.Tensor
            Scores ``[B, C]`` in [0, 1] (see ``BatchScoring.score_batch``).

        Example
        -------
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder
        >>> folder = tiny_model_folder(getfixture("tmpdir"))
        >>> tagger = AudioTagger.from_hparams(source=folder)
        >>> wavs = torch.randn(2, 16000)
        >>> torch_scores = tagger.score_batch(wavs)
        >>> onnx_scores = tagger.use_onnx().score_batch(wavs)
        >>> torch.allclose(torch_scores, onnx_scores, atol=1e-4)
        True
        """
        if self.onnx_scorer is not None:
            return self.onnx_scorer.score_batch(wavs, wav_lens)
        return super().score_batch(wavs, wav_lens)
