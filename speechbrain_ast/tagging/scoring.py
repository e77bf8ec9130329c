"""Scores of a batch of clips: the model facts and the PyTorch forward pass.

``BatchScoring`` is the part of ``AudioTagger`` that turns equal-length (or
padded) clips into class probabilities and (label, score) pairs: a sigmoid
per class for multi-label folders (``multi_label: True``, e.g. AudioSet), a
softmax over classes otherwise. The features get each clip's true length,
so a padded batch scores as its clips one by one.

Everything goes through ``logits_batch``, which the ONNX backend replaces,
so ``EncoderClassifier``'s ``classify_batch`` / ``classify_file`` score with
the backend the user chose. The batch methods take waveforms at the model's
``sample_rate``, SpeechBrain's convention for them; ``tag_batch``, the
user-facing one, asks for the rate and resamples.

Authors
 * speechbrain-ast contributors 2026
"""

import torch
import torchaudio

from speechbrain_ast.audio import required_rate


class BatchScoring:
    """``AudioTagger``'s labels, rate and batch scoring (a mixin).

    It expects the attributes of a SpeechBrain ``EncoderClassifier``
    (``hparams``, ``mods``, ``device``, ``inference_ctx``).

    Example
    -------
    >>> from speechbrain_ast.tagging.tagger import AudioTagger
    >>> from tests.helpers import tiny_model_folder
    >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
    >>> tagger.labels, tagger.sample_rate, tagger.multi_label
    (['a', 'b', 'c'], 16000, True)
    """

    @property
    def sample_rate(self):
        """Sample rate the model expects (``sample_rate`` in the hparams)."""
        return int(getattr(self.hparams, "sample_rate", 16000))

    @property
    def multi_label(self):
        """True if classes are independent (sigmoid scores), else softmax."""
        return bool(getattr(self.hparams, "multi_label", False))

    @property
    def labels(self):
        """Class names in output order."""
        encoder = self.hparams.label_encoder
        return [encoder.ind2lab[index] for index in range(len(encoder))]

    def encode_batch(self, wavs, wav_lens=None, normalize=False):
        """Embed a batch of waveforms; padding is ignored through ``wav_lens``.

        Unlike the parent, the features receive the relative lengths, so a
        padded clip gives the same embedding as the clip alone.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]`` (or ``[S]``) at ``sample_rate``, zero-padded.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]`` (longest 1.0); default all 1.0.
        normalize : bool
            Apply ``hparams.mean_var_norm_emb`` to the embeddings.

        Returns
        -------
        torch.Tensor
            Embeddings ``[B, 1, D]``.

        Example
        -------
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
        >>> wavs = torch.randn(2, 16000)
        >>> wavs[1, 8000:] = 0.0  # second clip: 0.5 s, padded
        >>> lens = torch.tensor([1.0, 0.5])
        >>> both = tagger.encode_batch(wavs, lens)
        >>> alone = tagger.encode_batch(wavs[1, :8000])
        >>> both.shape, torch.allclose(both[1], alone[0], atol=1e-5)
        (torch.Size([2, 1, 32]), True)
        """
        if wavs.ndim == 1:
            wavs = wavs.unsqueeze(0)
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0], device=self.device)
        wavs = wavs.to(self.device).float()
        wav_lens = wav_lens.to(self.device).float()
        with torch.no_grad(), self.inference_ctx:
            feats = self.mods.compute_features(wavs, wav_lens)
            feats = self.mods.mean_var_norm(feats, wav_lens)
            # Every frame of the n_frames window counts (see the recipes).
            embeddings = self.mods.embedding_model(feats)
            if normalize:
                embeddings = self.hparams.mean_var_norm_emb(
                    embeddings, torch.ones(embeddings.shape[0], device=self.device)
                )
        return embeddings.float()

    def logits_batch(self, wavs, wav_lens=None):
        """Raw class logits ``[B, C]`` from the PyTorch modules.

        ``OnnxBackend.logits_batch`` runs the ONNX graph instead when that
        backend is on.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]`` (or ``[S]``) at ``sample_rate``.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.

        Returns
        -------
        torch.Tensor
            Logits ``[B, C]``, float32.

        Example
        -------
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
        >>> tagger.logits_batch(torch.randn(2, 16000)).shape
        torch.Size([2, 3])
        """
        embeddings = self.encode_batch(wavs, wav_lens)
        with torch.no_grad():
            logits = self.mods.classifier(embeddings).float()
        return logits.reshape(logits.shape[0], -1)

    def classify_batch(self, wavs, wav_lens=None):
        """``EncoderClassifier.classify_batch`` with the chosen backend.

        As the parent: raw logits and the best class, from ``logits_batch``
        (so an ONNX or int8 tagger answers with its graph, and padded clips
        get their true lengths).

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]`` (or ``[S]``) at ``sample_rate``.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.

        Returns
        -------
        out_prob : torch.Tensor
            Logits ``[B, C]`` (the parent's name for them).
        score : torch.Tensor
            The best logit of each clip ``[B]``.
        index : torch.Tensor
            The best class of each clip ``[B]``.
        text_lab : list of str
            Its label.

        Example
        -------
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
        >>> logits, score, index, text = tagger.classify_batch(torch.randn(2, 16000))
        >>> logits.shape, text[0] in tagger.labels
        (torch.Size([2, 3]), True)
        """
        logits = self.logits_batch(wavs, wav_lens)
        score, index = torch.max(logits, dim=-1)
        return logits, score, index, self.hparams.label_encoder.decode_torch(index)

    def classify_file(self, path, **kwargs):
        """``EncoderClassifier.classify_file`` with the chosen backend.

        The file is read by ``load_audio`` (downmixed, resampled) and scored
        as one clip by ``classify_batch``: the model's window only; use
        ``tag_file`` for the whole of a longer file.

        Arguments
        ---------
        path : str
            Audio file.
        **kwargs : dict
            Passed to ``load_audio``.

        Returns
        -------
        tuple
            As ``classify_batch``, for a batch of one.

        Example
        -------
        >>> tmpdir = getfixture("tmpdir")
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder, noise_file
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(tmpdir))
        >>> tagger.classify_file(noise_file(tmpdir, "n.wav", 1.0))[0].shape
        torch.Size([1, 3])
        """
        waveform = self.load_audio(path, **kwargs)
        return self.classify_batch(waveform.unsqueeze(0), torch.ones(1))

    def score_batch(self, wavs, wav_lens=None):
        """Class probabilities for a batch from the PyTorch modules.

        Sigmoid scores for a multi-label folder, softmax otherwise
        (``OnnxBackend.score_batch`` runs onnxruntime instead when asked).

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]`` (or ``[S]``) at ``sample_rate``.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.

        Returns
        -------
        torch.Tensor
            Scores ``[B, C]`` in [0, 1].

        Example
        -------
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
        >>> tagger.score_batch(torch.randn(2, 16000)).shape
        torch.Size([2, 3])
        """
        logits = self.logits_batch(wavs, wav_lens)
        if self.multi_label:
            return torch.sigmoid(logits)
        return torch.softmax(logits, dim=-1)

    def tag_batch(
        self, wavs, wav_lens=None, top_k=5, threshold=None, *, sample_rate=None
    ):
        """Tag a batch: scores of all classes and the top labels of each clip.

        Arguments
        ---------
        wavs : torch.Tensor
            Mono waveforms ``[B, S]`` (or ``[S]``) at ``sample_rate``,
            zero-padded; resampled to the model's rate.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]`` (longest 1.0).
        top_k : int, optional
            Keep at most this many labels per clip (None: all classes).
        threshold : float, optional
            Keep only labels whose score is at least this.
        sample_rate : int
            Rate of ``wavs`` in Hz (required: a rate is never guessed).

        Returns
        -------
        scores : torch.Tensor
            Probabilities ``[B, C]``.
        tags : list of list of tuple
            Per clip, ``(label, score)`` pairs, best first.

        Example
        -------
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
        >>> wavs = torch.randn(2, 44100)  # 1 s at 44.1 kHz
        >>> scores, tags = tagger.tag_batch(wavs, top_k=2, sample_rate=44100)
        >>> scores.shape, [len(clip) for clip in tags]
        (torch.Size([2, 3]), [2, 2])
        >>> label, score = tags[0][0]
        >>> label in tagger.labels, 0.0 <= score <= 1.0
        (True, True)
        """
        rate = required_rate(sample_rate, self.sample_rate, "tag_batch")
        wavs = torch.as_tensor(wavs)
        if rate != self.sample_rate:
            wavs = torchaudio.functional.resample(wavs.float(), rate, self.sample_rate)
        scores = self.score_batch(wavs, wav_lens)
        return scores, [self.select(row, top_k, threshold) for row in scores]

    def select(self, scores, top_k=5, threshold=None):
        """Turn one clip's scores ``[C]`` into ``(label, score)`` pairs.

        Arguments
        ---------
        scores : torch.Tensor
            Scores of every class ``[C]``.
        top_k : int, optional
            Keep at most this many (None: all).
        threshold : float, optional
            Keep only scores at least this.

        Returns
        -------
        list of tuple
            ``(label, score)`` pairs, best first.

        Example
        -------
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
        >>> tagger.select(torch.tensor([0.1, 0.7, 0.4]), top_k=2)
        [('b', 0.699...), ('c', 0.400...)]
        >>> tagger.select(torch.tensor([0.1, 0.7, 0.4]), threshold=0.5)
        [('b', 0.699...)]
        """
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        scores = scores.detach().float().cpu()
        k = scores.numel() if top_k is None else min(int(top_k), scores.numel())
        values, indices = torch.topk(scores, k)
        labels = self.labels
        pairs = [
            (labels[index], float(value))
            for value, index in zip(values.tolist(), indices.tolist())
        ]
        if threshold is not None:
            pairs = [pair for pair in pairs if pair[1] >= threshold]
        return pairs
