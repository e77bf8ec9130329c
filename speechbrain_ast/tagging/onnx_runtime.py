"""Score windows of audio with an exported ONNX tagger graph (onnxruntime, CPU).

``OnnxScorer`` runs a graph written by ``speechbrain_ast.tagging.onnx_export`` and
offers the scoring interface ``AudioTagger`` uses for its windows,
``score_batch(wavs, wav_lens)``: an ``AudioTagger`` loaded with
``backend="onnx"`` (or ``int8=True``) hands its batches to it, so tagging,
long-audio windows and timelines are the same code for both backends. A
tagger gets its scorer from ``AudioTagger.use_onnx`` only (see
``speechbrain_ast.tagging.backend``).

The graph takes equal-length clips; a padded batch with relative lengths is
run as one call per distinct length, each clip cut to its true length, which
gives the same result as the PyTorch features with ``lengths``.

Authors
 * speechbrain-ast contributors 2026
"""

import json
import os

import numpy
import torch


class OnnxScorer:
    """Class scores of waveform batches from an exported tagger graph.

    Arguments
    ---------
    model : str or bytes
        Path of the ``.onnx`` file, or its serialised bytes.
    threads : int, optional
        onnxruntime intra-op threads (default: onnxruntime's choice).
    name : str, optional
        How errors name the model (default: the path).

    Example
    -------
    >>> from tests.helpers import tiny_model_folder
    >>> from speechbrain_ast.tagging.onnx_export import export_tagger
    >>> from speechbrain_ast.tagging.tagger import AudioTagger
    >>> tmpdir = getfixture("tmpdir")
    >>> tagger = AudioTagger.from_hparams(tiny_model_folder(tmpdir))
    >>> path = export_tagger(tagger, tmpdir.join("m.onnx").strpath)
    >>> scorer = OnnxScorer(path, threads=1)
    >>> scorer.labels, scorer.window_samples
    (['a', 'b', 'c'], 20720)
    >>> scorer.score_batch(torch.randn(2, 16000)).shape
    torch.Size([2, 3])
    """

    def __init__(self, model, threads=None, name=None):
        import onnxruntime

        self.name = name or (model if isinstance(model, str) else "<onnx bytes>")
        if isinstance(model, (str, os.PathLike)) and not os.path.isfile(model):
            raise FileNotFoundError(f"{model}: ONNX file not found")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(
                model, options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:
            raise ValueError(
                f"{self.name}: not a loadable ONNX model ({error})"
            ) from None
        meta = self.session.get_modelmeta().custom_metadata_map
        required = ("labels", "sample_rate", "window_samples", "min_samples")
        missing = [key for key in required if key not in meta]
        if missing or [i.name for i in self.session.get_inputs()] != ["waveform"]:
            raise ValueError(
                f"{self.name}: not a speechbrain-ast waveform tagger graph "
                f"(missing metadata {missing} or input 'waveform')"
            )
        self.metadata = dict(meta)
        self.labels = json.loads(meta["labels"])
        self.sample_rate = int(meta["sample_rate"])
        self.window_samples = int(meta["window_samples"])
        self.hop_samples = int(meta.get("hop_samples", self.window_samples // 2))
        self.min_samples = int(meta["min_samples"])
        self.multi_label = json.loads(meta.get("multi_label", "false"))
        self.int8 = json.loads(meta.get("int8", "false"))

    def run(self, wavs, wav_lens=None):
        """Logits and scores of a batch, each ``[B, C]`` (float32 tensors).

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]`` (or ``[S]``) at ``sample_rate``, zero-padded.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]`` (longest 1.0); default all 1.0.

        Returns
        -------
        logits, scores : torch.Tensor
            Raw logits and probabilities.
        """
        wavs = torch.as_tensor(wavs).detach().float().cpu()
        if wavs.ndim == 1:
            wavs = wavs.unsqueeze(0)
        if wavs.ndim != 2:
            raise ValueError(
                f"expected waveforms [batch, samples], got {list(wavs.shape)}"
            )
        total = wavs.shape[1]
        if wav_lens is None:
            n_samples = [total] * wavs.shape[0]
        else:
            n_samples = torch.round(wav_lens.detach().float().cpu() * total)
            n_samples = n_samples.long().tolist()
        bad = (~torch.isfinite(wavs).all(dim=1)).nonzero().flatten().tolist()
        if bad:
            raise ValueError(f"waveform(s) {bad} contain NaN or Inf")
        short = [i for i, n in enumerate(n_samples) if n < self.min_samples]
        if short:
            raise ValueError(
                f"waveform(s) {short} are shorter than one {self.min_samples}-sample "
                f"frame; pad them first"
            )
        logits = [None] * len(n_samples)
        scores = [None] * len(n_samples)
        for length in sorted(set(n_samples)):
            rows = [i for i, n in enumerate(n_samples) if n == length]
            batch = numpy.ascontiguousarray(wavs[rows, :length].numpy())
            out_logits, out_scores = self.session.run(
                ["logits", "scores"], {"waveform": batch}
            )
            for k, row in enumerate(rows):
                logits[row], scores[row] = out_logits[k], out_scores[k]
        return torch.from_numpy(numpy.stack(logits)), torch.from_numpy(
            numpy.stack(scores)
        )

    def score_batch(self, wavs, wav_lens=None):
        """Class probabilities ``[B, C]`` (sigmoid or softmax, as the folder).

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]`` (or ``[S]``) at ``sample_rate``.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.

        Returns
        -------
        torch.Tensor
            Scores ``[B, C]``.
        """
        return self.run(wavs, wav_lens)[1]

    def check_matches(self, labels, sample_rate, window_samples):
        """Raise if the graph is not the model folder's (labels, rate, window).

        Arguments
        ---------
        labels : list of str
            The folder's labels.
        sample_rate : int
            The folder's sample rate.
        window_samples : int
            The folder's window in samples.
        """
        mine = (self.labels, self.sample_rate, self.window_samples)
        theirs = (list(labels), int(sample_rate), int(window_samples))
        if mine != theirs:
            raise ValueError(
                f"{self.name}: ONNX graph does not match the model folder "
                f"(labels/sample rate/window {len(mine[0])}/{mine[1]}/{mine[2]} "
                f"vs {len(theirs[0])}/{theirs[1]}/{theirs[2]})"
            )
