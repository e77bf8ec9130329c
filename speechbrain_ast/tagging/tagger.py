"""Audio tagging with a trained or imported AST model folder.

``AudioTagger`` is a SpeechBrain ``EncoderClassifier``: everything that works
on ``EncoderClassifier`` (``classify_batch``, ``classify_file``,
``encode_batch``) works here, and it adds what tagging needs:

* scores as probabilities: a sigmoid per class for multi-label models
  (``multi_label: True`` in ``hyperparams.yaml``, e.g. AudioSet), a softmax
  over classes otherwise (ESC-50, Speech Commands);
* top-k and threshold selection of (label, score) pairs per clip;
* long audio: a file longer than the model's input is cut into overlapping
  windows, tagged in batches, and the window scores are aggregated into
  clip-level tags plus a per-window timeline;
* sound events: onsets and offsets per label from that timeline
  (``detect_events``, see ``speechbrain_ast.tagging.events``);
* batched clips of different lengths give the same result as tagging them one
  by one (the features get each clip's true length);
* an onnxruntime backend (``backend="onnx"``, ``int8=True``): the windows
  are scored by the exported graph of ``speechbrain_ast.tagging.onnx_export``, with
  the same windows, aggregation and timeline as the PyTorch backend.

Authors
 * speechbrain-ast contributors 2026
"""

import dataclasses
import os

import torch
from speechbrain.inference.classifiers import EncoderClassifier
from speechbrain.utils.fetching import FetchConfig

from speechbrain_ast.audio import MIN_SAMPLES, AudioError, load_audio

AGGREGATIONS = ("max", "mean")
BACKENDS = ("torch", "onnx")


@dataclasses.dataclass
class TaggingResult:
    """Tags of one audio file: clip-level labels and a per-window timeline.

    Arguments
    ---------
    path : str
        The file that was tagged.
    duration : float
        Its duration in seconds (after resampling).
    labels : list of tuple
        Clip-level ``(label, score)`` pairs, best first (scores aggregated
        over windows).
    timeline : list of dict
        One entry per window: ``{"start": s, "end": s, "labels": [(label,
        score), ...]}`` with times in seconds.
    scores : torch.Tensor
        Clip-level scores of every class ``[C]`` (aggregated over windows).
    window_scores : torch.Tensor, optional
        Scores of every class in every window ``[W, C]`` (the timeline's
        windows, in order), for event detection.

    Example
    -------
    >>> result = TaggingResult("a.wav", 1.0, [("dog", 0.9)], [], torch.ones(1))
    >>> result.to_dict()["labels"]
    [{'label': 'dog', 'score': 0.9}]
    """

    path: str
    duration: float
    labels: list
    timeline: list
    scores: torch.Tensor
    window_scores: torch.Tensor = None

    def to_dict(self):
        """Return a JSON-serialisable dict (labels as ``{"label", "score"}``)."""

        def pairs(items):
            return [{"label": label, "score": score} for label, score in items]

        return {
            "file": self.path,
            "duration": self.duration,
            "labels": pairs(self.labels),
            "timeline": [
                {"start": w["start"], "end": w["end"], "labels": pairs(w["labels"])}
                for w in self.timeline
            ],
        }


def window_starts(n_samples, window, hop):
    """Start samples of overlapping windows that cover ``n_samples``.

    Windows start every ``hop`` samples; the last window is aligned to the
    end of the signal so that all audio is covered. A signal no longer than
    one window gives a single window starting at 0.

    Arguments
    ---------
    n_samples : int
        Signal length in samples.
    window : int
        Window length in samples.
    hop : int
        Hop between window starts, ``0 < hop <= window``.

    Returns
    -------
    list of int
        Start sample of each window, increasing.

    Example
    -------
    >>> window_starts(100, 40, 20)
    [0, 20, 40, 60]
    >>> window_starts(105, 40, 20)  # last window ends at the end of the signal
    [0, 20, 40, 60, 65]
    >>> window_starts(10, 40, 20)
    [0]
    """
    if not 0 < hop <= window:
        raise ValueError(f"hop ({hop}) must be in (0, window={window}]")
    if n_samples <= window:
        return [0]
    starts = list(range(0, n_samples - window + 1, hop))
    if starts[-1] + window < n_samples:
        starts.append(n_samples - window)
    return starts


class AudioTagger(EncoderClassifier):
    """Tag audio with an AST model folder (top-k, thresholds, long audio).

    Load it like any SpeechBrain interface, e.g.
    ``AudioTagger.from_hparams(source="/path/to/model_folder")``. The folder
    is read in place and offline; the current directory does not matter.

    Scores are probabilities: a sigmoid of each logit when the folder's
    ``multi_label`` is True (independent classes, as AudioSet), a softmax
    over classes otherwise. ``classify_batch``/``classify_file`` keep the
    parent's behaviour (raw logits, top-1).

    Arguments
    ---------
    See ``speechbrain.inference.interfaces.Pretrained``.

    Example
    -------
    >>> from tests.helpers import tiny_model_folder
    >>> folder = tiny_model_folder(getfixture("tmpdir"))  # 1 block, labels a, b, c
    >>> tagger = AudioTagger.from_hparams(source=folder)
    >>> scores, tags = tagger.tag_batch(torch.randn(2, 16000), top_k=2)
    >>> scores.shape, len(tags[0])
    (torch.Size([2, 3]), 2)
    >>> result = tagger.tag_waveform(torch.randn(48000))
    >>> len(result.timeline) > 1
    True
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
        >>> from tests.helpers import tiny_model_folder
        >>> folder = tiny_model_folder(getfixture("tmpdir"), multi_label=False)
        >>> tagger = AudioTagger.from_hparams(source=folder, int8=True)
        >>> tagger.int8
        True
        """
        source = _resolve_source(source, hparams_file)
        if os.path.isdir(source):
            kwargs.setdefault("fetch_config", FetchConfig(allow_network=False))
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        tagger = super().from_hparams(source, hparams_file=hparams_file, **kwargs)
        tagger.int8 = False
        tagger.onnx_scorer = None
        if int8:
            tagger.quantize_int8(onnx_path=onnx_path)
        elif backend == "onnx":
            tagger.use_onnx(onnx_path=onnx_path)
        return tagger

    # ------------------------------------------------------------------ info
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

    @property
    def window_samples(self):
        """Length in samples of one model input: ``(n_frames - 1) * hop + win``."""
        features = self.mods.compute_features
        rate = self.sample_rate
        shift = getattr(features, "window_shift", rate // 100)
        size = getattr(features, "window_size", rate * 25 // 1000)
        n_frames = getattr(self.hparams, "n_frames", None)
        if n_frames is None:
            n_frames = self.mods.embedding_model.n_frames
        return (int(n_frames) - 1) * shift + size

    def window_hop_samples(self, window_seconds=None, hop_seconds=None):
        """Analysis window and hop in samples, checked.

        Arguments
        ---------
        window_seconds : float, optional
            Window length, from one 25 ms frame up to the model input
            (default: the model input, ``window_samples``). Shorter windows
            are padded to the model input like short clips in training:
            finer time resolution for events, less context per decision.
        hop_seconds : float, optional
            Hop between window starts, ``0 < hop <= window`` (default: half
            a window).

        Returns
        -------
        window : int
            Window length in samples.
        hop : int
            Hop in samples.

        Example
        -------
        >>> from tests.helpers import tiny_model_folder
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
        >>> tagger.window_hop_samples(), tagger.window_hop_samples(0.5, 0.125)
        ((20720, 10360), (8000, 2000))
        """
        rate = self.sample_rate
        model_window = self.window_samples
        window = model_window
        if window_seconds is not None:
            window = int(round(float(window_seconds) * rate))
            shortest = getattr(
                self.mods.compute_features, "window_size", MIN_SAMPLES * rate // 16000
            )
            if not shortest <= window <= model_window:
                raise ValueError(
                    f"window_seconds must be in [{shortest / rate:g}, "
                    f"{model_window / rate:g}] (one 25 ms frame to one model input), "
                    f"got {window_seconds}"
                )
        if hop_seconds is None:
            return window, max(window // 2, 1)
        hop = int(round(float(hop_seconds) * rate))
        if not 0 < hop <= window:
            raise ValueError(
                f"hop_seconds must be in (0, {window / rate:g}] (one window), "
                f"got {hop_seconds}"
            )
        return window, hop

    # ------------------------------------------------------- ONNX and int8
    @property
    def backend(self):
        """``"onnx"`` when windows are scored by onnxruntime, else ``"torch"``."""
        return "onnx" if getattr(self, "onnx_scorer", None) is not None else "torch"

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
        >>> from tests.helpers import tiny_model_folder
        >>> folder = tiny_model_folder(getfixture("tmpdir"))
        >>> tagger = AudioTagger.from_hparams(source=folder, backend="onnx")
        >>> tagger.backend, tagger.score_batch(torch.randn(2, 16000)).shape
        ('onnx', torch.Size([2, 3]))
        """
        from speechbrain_ast.tagging.onnx_runtime import scorer_for_tagger

        if torch.device(self.device).type != "cpu":
            raise ValueError(
                f"the ONNX backend runs on CPU only (device is {self.device})"
            )
        self.onnx_scorer = scorer_for_tagger(
            self, int8=int8, onnx_path=onnx_path, threads=threads
        )
        self.int8 = bool(self.onnx_scorer.int8)
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

    # ------------------------------------------------------------- batches
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
            embeddings = self.mods.embedding_model(feats, wav_lens)
            if normalize:
                embeddings = self.hparams.mean_var_norm_emb(
                    embeddings, torch.ones(embeddings.shape[0], device=self.device)
                )
        return embeddings.float()

    def score_batch(self, wavs, wav_lens=None):
        """Class probabilities for a batch (sigmoid or softmax, see class doc).

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
        >>> from tests.helpers import tiny_model_folder
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
        >>> tagger.score_batch(torch.randn(2, 16000)).shape
        torch.Size([2, 3])
        """
        if getattr(self, "onnx_scorer", None) is not None:
            return self.onnx_scorer.score_batch(wavs, wav_lens)
        embeddings = self.encode_batch(wavs, wav_lens)
        with torch.no_grad():
            logits = self.mods.classifier(embeddings).float()
            logits = logits.reshape(logits.shape[0], -1)
            if self.multi_label:
                return torch.sigmoid(logits)
            return torch.softmax(logits, dim=-1)

    def tag_batch(self, wavs, wav_lens=None, top_k=5, threshold=None):
        """Tag a batch: scores of all classes and the top labels of each clip.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]`` (or ``[S]``) at ``sample_rate``, zero-padded.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]`` (longest 1.0).
        top_k : int, optional
            Keep at most this many labels per clip (None: all classes).
        threshold : float, optional
            Keep only labels whose score is at least this.

        Returns
        -------
        scores : torch.Tensor
            Probabilities ``[B, C]``.
        tags : list of list of tuple
            Per clip, ``(label, score)`` pairs, best first.

        Example
        -------
        >>> from tests.helpers import tiny_model_folder
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
        >>> scores, tags = tagger.tag_batch(torch.randn(2, 16000), top_k=2)
        >>> scores.shape, [len(clip) for clip in tags]
        (torch.Size([2, 3]), [2, 2])
        >>> label, score = tags[0][0]
        >>> label in tagger.labels, 0.0 <= score <= 1.0
        (True, True)
        """
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

    # ---------------------------------------------------------- long audio
    def load_audio(self, path, savedir=None):
        """Read a file as a mono waveform at the model's rate.

        Local files go through ``speechbrain_ast.audio.load_audio``
        (downmix, resample, errors that name the file); URLs and hub paths
        through the parent's fetching loader.

        Arguments
        ---------
        path : str
            Audio file.
        savedir : str, optional
            Where the parent puts fetched remote files.

        Returns
        -------
        torch.Tensor
            Waveform ``[S]``.

        Example
        -------
        >>> tmpdir = getfixture("tmpdir")
        >>> from tests.helpers import tiny_model_folder, noise_file
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(tmpdir))
        >>> path = noise_file(tmpdir, "stereo.wav", 1.0, rate=44100, channels=2)
        >>> tagger.load_audio(path).shape
        torch.Size([16000])
        """
        if "://" in str(path):
            return super().load_audio(path, savedir=savedir)
        return load_audio(str(path), sample_rate=self.sample_rate)

    def tag_file(
        self,
        path,
        top_k=5,
        threshold=None,
        hop_seconds=None,
        aggregate="max",
        batch_size=8,
        window_seconds=None,
    ):
        """Tag an audio file of any length.

        The file is read with ``speechbrain_ast.audio.load_audio`` (any
        libsndfile format; downmixed and resampled). A clip no longer than
        the model input is tagged as one window (padded like in training).
        Longer audio is cut into windows of the model's length that overlap
        (hop: half a window by default), the last one aligned to the end of
        the file so all audio is covered; windows run in batches.

        Clip-level scores aggregate the window scores per class: ``"max"``
        (default, the usual choice for tagging: an event counts if it is
        present in any window) or ``"mean"`` (favours sounds that last the
        whole file).

        Arguments
        ---------
        path : str
            Audio file.
        top_k : int, optional
            Labels kept per clip and per window (None: all).
        threshold : float, optional
            Keep only labels with at least this score.
        hop_seconds : float, optional
            Hop between windows in seconds (default: half a window).
        aggregate : str
            ``"max"`` or ``"mean"``.
        batch_size : int
            Windows per forward pass.
        window_seconds : float, optional
            Window length (default: the model input; see
            ``window_hop_samples``).

        Returns
        -------
        TaggingResult
            ``labels`` (clip level), ``timeline`` (per window), ``scores``,
            ``window_scores``.

        Raises
        ------
        AudioError
            The file is missing, empty, not audio or has NaN/Inf samples.

        Example
        -------
        >>> tmpdir = getfixture("tmpdir")
        >>> from tests.helpers import tiny_model_folder, noise_file
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(tmpdir))
        >>> result = tagger.tag_file(noise_file(tmpdir, "noise.wav", 3.0), top_k=2)
        >>> [(w["start"], w["end"]) for w in result.timeline]
        [(0.0, 1.295), (0.6475, 1.9425), (1.295, 2.59), (1.705, 3.0)]
        >>> len(result.labels)
        2
        """
        wav = self.load_audio(path)
        return self.tag_waveform(
            wav,
            top_k=top_k,
            threshold=threshold,
            hop_seconds=hop_seconds,
            aggregate=aggregate,
            batch_size=batch_size,
            path=str(path),
            window_seconds=window_seconds,
        )

    def tag_waveform(
        self,
        wav,
        top_k=5,
        threshold=None,
        hop_seconds=None,
        aggregate="max",
        batch_size=8,
        path="<waveform>",
        window_seconds=None,
    ):
        """Tag a mono waveform of any length (see ``tag_file``).

        Arguments
        ---------
        wav : torch.Tensor
            Mono waveform ``[S]`` at ``sample_rate``.
        top_k, threshold, hop_seconds, aggregate, batch_size
            As in ``tag_file``.
        path : str
            Name stored in the result.
        window_seconds : float, optional
            As in ``tag_file``.

        Returns
        -------
        TaggingResult
            Clip-level labels, per-window timeline and scores.

        Example
        -------
        >>> from tests.helpers import tiny_model_folder
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
        >>> result = tagger.tag_waveform(torch.randn(800))  # 50 ms: one window
        >>> result.timeline[0]["start"], result.timeline[0]["end"]
        (0.0, 0.05)
        """
        if aggregate not in AGGREGATIONS:
            raise ValueError(
                f"aggregate must be one of {AGGREGATIONS}, got {aggregate!r}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        wav = torch.as_tensor(wav).float().flatten()
        if wav.numel() == 0:
            raise AudioError(f"{path}: contains no samples")
        rate = self.sample_rate
        window, hop = self.window_hop_samples(window_seconds, hop_seconds)
        n_samples = wav.numel()
        starts = window_starts(n_samples, window, hop)

        if len(starts) == 1:
            # One (possibly short) window: the features pad it to the model
            # length as in training; only sub-frame clips need zero samples.
            clip = wav[:window]
            one_frame = getattr(
                self.mods.compute_features, "window_size", MIN_SAMPLES * rate // 16000
            )
            if clip.numel() < one_frame:
                clip = torch.nn.functional.pad(clip, (0, one_frame - clip.numel()))
            window_scores = self.score_batch(clip.unsqueeze(0))
        else:
            chunks = []
            for first in range(0, len(starts), batch_size):
                batch = torch.stack(
                    [wav[s : s + window] for s in starts[first : first + batch_size]]
                )
                chunks.append(self.score_batch(batch))
            window_scores = torch.cat(chunks)
        window_scores = window_scores.cpu()

        if aggregate == "max":
            clip_scores = window_scores.max(dim=0).values
        else:
            clip_scores = window_scores.mean(dim=0)
        timeline = [
            {
                "start": round(start / rate, 4),
                "end": round(min(start + window, n_samples) / rate, 4),
                "labels": self.select(scores, top_k, threshold),
            }
            for start, scores in zip(starts, window_scores)
        ]
        return TaggingResult(
            path=path,
            duration=n_samples / rate,
            labels=self.select(clip_scores, top_k, threshold),
            timeline=timeline,
            scores=clip_scores,
            window_scores=window_scores,
        )

    def detect_events(
        self,
        source,
        thresholds=0.5,
        median_seconds=0.0,
        hop_seconds=None,
        window_seconds=None,
        resolution=None,
        merge="mean",
        batch_size=8,
        min_level_db=None,
    ):
        """Sound events (label, onset, offset, score) of a file or waveform.

        The audio is tagged window by window (``tag_waveform``); the window
        scores are merged into frames, thresholded per class, median
        filtered and turned into events (``speechbrain_ast.tagging.events``). Time
        resolution is the hop (or ``resolution``); shorter hops and windows
        locate onsets and offsets more precisely at more compute.

        Arguments
        ---------
        source : str or torch.Tensor
            Audio file, or a mono waveform ``[S]`` at ``sample_rate``.
        thresholds : float or dict
            A class is active in a frame when its score reaches its
            threshold: one for all classes, or ``{label: threshold}``
            (other classes 0.5).
        median_seconds : float
            Median filter over the active frames of each class (0: none).
        hop_seconds : float, optional
            Hop between windows (default: half a window).
        window_seconds : float, optional
            Window length (default: the model input).
        resolution : float, optional
            Frame length in seconds (default: the hop).
        merge : str
            ``"mean"`` or ``"max"`` of the windows that cover a frame.
        batch_size : int
            Windows per forward pass.
        min_level_db : float, optional
            Frames quieter than this (RMS, dBFS; e.g. -60) hold no event
            (default: no level gate).

        Returns
        -------
        EventDetection
            ``events`` sorted by onset, plus ``frame_times``/``frame_scores``
            (e.g. for ``plots.plot_event_timeline``).

        Example
        -------
        >>> from tests.helpers import tiny_model_folder
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
        >>> result = tagger.detect_events(torch.randn(48000), thresholds=0.0)
        >>> sorted({event.label for event in result.events})  # all always on
        ['a', 'b', 'c']
        >>> result.events[0].onset, result.events[0].offset
        (0.0, 3.0)
        """
        from speechbrain_ast.tagging.events import events_from_tagging

        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            wav = self.load_audio(path)
        else:
            path, wav = "<waveform>", source
        tagged = self.tag_waveform(
            wav,
            top_k=1,
            hop_seconds=hop_seconds,
            window_seconds=window_seconds,
            batch_size=batch_size,
            path=path,
        )
        return events_from_tagging(
            tagged,
            self.labels,
            thresholds=thresholds,
            median_seconds=median_seconds,
            resolution=resolution,
            merge=merge,
            min_level_db=min_level_db,
            waveform=wav,
            sample_rate=self.sample_rate,
        )

    def tag_files(self, paths, errors="raise", **kwargs):
        """Tag several files (each as ``tag_file``).

        Arguments
        ---------
        paths : list of str
            Audio files.
        errors : str
            ``"raise"``: stop at the first unusable file (``AudioError``);
            ``"return"``: put the ``AudioError`` in that file's place and go on.
        **kwargs : dict
            Passed to ``tag_file`` (``top_k``, ``threshold``, ``hop_seconds``,
            ``aggregate``, ``batch_size``).

        Returns
        -------
        list
            One ``TaggingResult`` (or ``AudioError``) per path, in order.

        Example
        -------
        >>> tmpdir = getfixture("tmpdir")
        >>> from tests.helpers import tiny_model_folder, noise_file
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(tmpdir))
        >>> good = noise_file(tmpdir, "good.wav", 1.0)
        >>> results = tagger.tag_files([good, "missing.wav"], errors="return")
        >>> type(results[0]).__name__, str(results[1])
        ('TaggingResult', 'missing.wav: file not found')
        """
        if errors not in ("raise", "return"):
            raise ValueError(f"errors must be 'raise' or 'return', got {errors!r}")
        results = []
        for path in paths:
            try:
                results.append(self.tag_file(path, **kwargs))
            except AudioError as error:
                if errors == "raise":
                    raise
                results.append(error)
        return results


def export_onnx(
    model_folder, out_path, int8=False, attention="onnxruntime", opset=None
):
    """Export a model folder as one ONNX graph: waveform -> logits, scores.

    Arguments
    ---------
    model_folder : str
        A model folder (``AudioTagger.from_hparams`` loads it).
    out_path : str
        The ``.onnx`` file to write (replaced atomically).
    int8 : bool
        Quantise the encoder's and head's matrix-product weights to int8
        (onnxruntime dynamic quantisation; features stay float32).
    attention : str
        ``"onnxruntime"`` (fused attention nodes, default) or ``"standard"``
        (plain ONNX ops for other runtimes), see ``WaveformTagger``.
    opset : int
        ONNX opset (default: ``onnx_export.OPSET``, 20).

    Returns
    -------
    str
        ``out_path``.

    Example
    -------
    >>> tmpdir = getfixture("tmpdir")
    >>> from tests.helpers import tiny_model_folder
    >>> path = export_onnx(tiny_model_folder(tmpdir), tmpdir.join("m.onnx").strpath)
    >>> import onnx
    >>> [i.name for i in onnx.load(path).graph.input]
    ['waveform']
    """
    from speechbrain_ast.tagging.onnx_export import OPSET, export_tagger

    tagger = AudioTagger.from_hparams(source=model_folder)
    opset = OPSET if opset is None else opset
    return export_tagger(tagger, out_path, int8=int8, attention=attention, opset=opset)


def _resolve_source(source, hparams_file):
    """Absolute path for a local model folder; clear errors for missing ones."""
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
