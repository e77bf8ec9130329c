"""Long audio: overlapping windows, their scores, and clip-level tags.

A file longer than the model input is cut into overlapping windows
(``window_starts``), scored in batches, and the window scores are
aggregated per class into clip-level tags, with a per-window timeline
(``TaggingResult``). ``WindowTagging`` is the part of ``AudioTagger`` that
does it, for files (``tag_file``, ``tag_files``) and waveforms
(``tag_waveform``); scoring itself is ``score_batch``, whatever the backend.

Input the model cannot say anything about is flagged, not hidden: a silent
clip (peak below ``speechbrain_ast.audio.SILENCE_THRESHOLD``) or one shorter
than a 25 ms analysis window still gets scores, but its ``TaggingResult``
says ``silent`` / ``too_short``, by the same rules that put such clips on
the training skip list.

Authors
 * speechbrain-ast contributors 2026
"""

import dataclasses

import torch

from speechbrain_ast.audio import (
    MIN_SAMPLES,
    SILENCE_THRESHOLD,
    AudioError,
    load_audio,
    mono_waveform,
    too_short_reason,
)
from speechbrain_ast.training.clip_checks import silence_reason

AGGREGATIONS = ("max", "mean")


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
    silent : bool
        The input's peak amplitude is below ``SILENCE_THRESHOLD``: the labels
        say nothing about it (a classifier without a silence class still
        picks one).
    too_short : bool
        The input is shorter than one 25 ms analysis window (it was padded).
    input_problems : list of str
        The reasons behind ``silent`` / ``too_short``, as the training skip
        list words them.

    Example
    -------
    >>> result = TaggingResult("a.wav", 1.0, [("dog", 0.9)], [], torch.ones(1))
    >>> result.to_dict()["labels"]
    [{'label': 'dog', 'score': 0.9}]
    >>> quiet = TaggingResult("b.wav", 1.0, [], [], torch.ones(1), silent=True)
    >>> quiet.to_dict()["silent"], quiet.input_note()
    (True, 'silent input: labels not meaningful')
    """

    path: str
    duration: float
    labels: list
    timeline: list
    scores: torch.Tensor
    window_scores: torch.Tensor = None
    silent: bool = False
    too_short: bool = False
    input_problems: list = dataclasses.field(default_factory=list)

    def input_note(self):
        """``"silent input: labels not meaningful"`` (or too short), else None."""
        kinds = [
            kind
            for kind, flagged in (
                ("silent", self.silent),
                ("too short", self.too_short),
            )
            if flagged
        ]
        if not kinds:
            return None
        return f"{', '.join(kinds)} input: labels not meaningful"

    def input_warning(self):
        """``"<reasons>: labels not meaningful"`` for flagged input, else None."""
        if not self.input_problems:
            return None
        return f"{'; '.join(self.input_problems)}: labels not meaningful"

    def to_dict(self):
        """Return a JSON-serialisable dict (labels as ``{"label", "score"}``).

        ``silent`` and ``too_short`` are always there; ``warning`` (the
        reasons) only for flagged input.
        """

        def pairs(items):
            return [{"label": label, "score": score} for label, score in items]

        document = {
            "file": self.path,
            "duration": self.duration,
            "silent": self.silent,
            "too_short": self.too_short,
            "labels": pairs(self.labels),
            "timeline": [
                {"start": w["start"], "end": w["end"], "labels": pairs(w["labels"])}
                for w in self.timeline
            ],
        }
        if self.input_problems:
            document["warning"] = self.input_warning()
        return document


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


class WindowTagging:
    """``AudioTagger``'s windows, files and waveforms of any length (a mixin).

    It expects ``sample_rate``, ``score_batch`` and ``select``
    (``BatchScoring``) and the ``hparams``/``mods`` of an
    ``EncoderClassifier``.

    Example
    -------
    >>> from speechbrain_ast.tagging.tagger import AudioTagger
    >>> from tests.helpers import tiny_model_folder
    >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
    >>> len(tagger.tag_waveform(torch.randn(48000), sample_rate=16000).timeline)
    4
    """

    @property
    def window_samples(self):
        """Length in samples of one model input: ``(n_frames - 1) * hop + win``."""
        shift, size = self._frame_geometry()
        n_frames = getattr(self.hparams, "n_frames", None)
        if n_frames is None:
            n_frames = self.mods.embedding_model.n_frames
        return (int(n_frames) - 1) * shift + size

    def _frame_geometry(self):
        """Fbank frame shift and length in samples (Kaldi's 10 ms / 25 ms)."""
        features = self.mods.compute_features
        rate = self.sample_rate
        shift = getattr(features, "window_shift", rate // 100)
        size = getattr(features, "window_size", rate * 25 // 1000)
        return shift, size

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
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
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
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
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
        libsndfile format; downmixed and resampled). A clip that gives no
        more fbank frames than the model input (a 5.000 s clip for a model of
        498 frames, 4.995 s) is tagged as one window (padded like in training).
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
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
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
            sample_rate=self.sample_rate,
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
        *,
        sample_rate=None,
    ):
        """Tag an audio array of any length (see ``tag_file``).

        The array is downmixed and resampled to the model's rate as files
        are (``speechbrain_ast.audio.mono_waveform``); its rate must be
        given, never guessed: a 44.1 kHz array read as 16 kHz audio is
        another sound. Silent or sub-frame input is tagged but flagged
        (``TaggingResult.silent`` / ``too_short``).

        Arguments
        ---------
        wav : torch.Tensor, numpy.ndarray or dict
            Samples ``[S]``, or multi-channel ``[C, S]`` / ``[S, C]`` (the
            shorter axis is the channels; they are averaged), or
            HuggingFace's ``{"raw": array, "sampling_rate": rate}`` /
            ``{"array": array, "sampling_rate": rate}``.
        top_k, threshold, hop_seconds, aggregate, batch_size
            As in ``tag_file``.
        path : str
            Name stored in the result.
        window_seconds : float, optional
            As in ``tag_file``.
        sample_rate : int
            Rate of ``wav`` in Hz (required unless ``wav`` is a dict with
            ``sampling_rate``).

        Returns
        -------
        TaggingResult
            Clip-level labels, per-window timeline and scores.

        Raises
        ------
        TypeError
            No sample rate given.

        Example
        -------
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
        >>> result = tagger.tag_waveform(torch.randn(800), sample_rate=16000)
        >>> result.timeline[0]["start"], result.timeline[0]["end"]  # one window
        (0.0, 0.05)
        >>> stereo = {"array": torch.randn(2, 88200), "sampling_rate": 44100}
        >>> tagger.tag_waveform(stereo).duration
        2.0
        >>> tagger.tag_waveform(torch.zeros(64000), sample_rate=16000).silent
        True
        """
        if aggregate not in AGGREGATIONS:
            raise ValueError(
                f"aggregate must be one of {AGGREGATIONS}, got {aggregate!r}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        rate = self.sample_rate
        wav = mono_waveform(wav, sample_rate, rate, name=path)
        # The training skip list's rules, on the samples the model sees.
        silent = silence_reason(float(wav.abs().max()), SILENCE_THRESHOLD)
        too_short = too_short_reason(wav.numel(), rate)
        window, hop = self.window_hop_samples(window_seconds, hop_seconds)
        n_samples = wav.numel()
        starts = window_starts(n_samples, window, hop)
        frame_shift, _ = self._frame_geometry()
        if len(starts) > 1 and n_samples < window + frame_shift:
            # A tail shorter than one frame shift makes no fbank frame: the clip
            # is one model input, as it was in training (a 5.000 s clip and the
            # 4.995 s window of a 498-frame model give the same 498 frames). A
            # second window 5 ms later would score a shifted copy of the clip.
            starts = [0]

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
        ends = [min(start + window, n_samples) for start in starts]
        if len(starts) == 1:
            ends = [n_samples]  # the whole clip, a tail past its last frame too
        timeline = [
            {
                "start": round(start / rate, 4),
                "end": round(end / rate, 4),
                "labels": self.select(scores, top_k, threshold),
            }
            for start, end, scores in zip(starts, ends, window_scores)
        ]
        return TaggingResult(
            path=path,
            duration=n_samples / rate,
            labels=self.select(clip_scores, top_k, threshold),
            timeline=timeline,
            scores=clip_scores,
            window_scores=window_scores,
            silent=silent is not None,
            too_short=too_short is not None,
            input_problems=[reason for reason in (silent, too_short) if reason],
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
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
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
