"""Sound events of a file or waveform: ``AudioTagger.detect_events``.

``EventDetecting`` is the part of ``AudioTagger`` that tags audio window by
window and hands the window scores to ``speechbrain_ast.tagging.events``,
which merges them into frames, thresholds, median filters and cuts events.

Authors
 * speechbrain-ast contributors 2026
"""

import os

from speechbrain_ast.audio import mono_waveform


class EventDetecting:
    """``AudioTagger.detect_events`` (a mixin).

    It expects ``load_audio`` and ``tag_waveform`` (``WindowTagging``),
    ``labels`` and ``sample_rate`` (``BatchScoring``).

    Example
    -------
    >>> import torch
    >>> from speechbrain_ast.tagging.tagger import AudioTagger
    >>> from tests.helpers import tiny_model_folder
    >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
    >>> found = tagger.detect_events(torch.randn(16000), 0.0, sample_rate=16000)
    >>> len(found.events)
    3
    """

    def detect_events(
        self,
        source,
        thresholds=None,
        median_seconds=0.0,
        hop_seconds=None,
        window_seconds=None,
        resolution=None,
        merge="mean",
        batch_size=8,
        min_level_db=None,
        *,
        sample_rate=None,
        rule=None,
    ):
        """Sound events (label, onset, offset, score) of a file or waveform.

        The audio is tagged window by window (``tag_waveform``); the window
        scores are merged into frames, decided per frame (a multi-label
        model: each class against its threshold; a single-label one: the
        frame's top class), median filtered and turned into events
        (``speechbrain_ast.tagging.events``); silent frames hold none. Time
        resolution is the hop (or ``resolution``); shorter hops and windows
        locate onsets and offsets more precisely at more compute.

        Arguments
        ---------
        source : str, torch.Tensor, numpy.ndarray or dict
            Audio file, or an array as ``tag_waveform`` takes it (with
            ``sample_rate``, or a HuggingFace dict with ``sampling_rate``).
        thresholds : float or dict, optional
            A class is active in a frame when its score reaches its
            threshold: one for all classes, or ``{label: threshold}``
            (other classes: the rule's default). Default: 0.5 for a
            multi-label model; 0 for a single-label one (its top class).
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
            Frames quieter than this (RMS, dBFS) hold no event, real quiet
            sounds included (default: no level gate; silent frames never
            hold one).
        sample_rate : int, optional
            Rate of an array ``source`` in Hz (required for arrays, unless a
            dict gives it; a file's own rate is read from it).
        rule : str, optional
            ``"threshold"`` or ``"top"`` (``events.events_from_frames``);
            default: ``"threshold"`` for a multi-label model, ``"top"`` for
            a single-label one (``events.default_event_rule``).

        Returns
        -------
        EventDetection
            ``events`` sorted by onset, plus ``frame_times``/``frame_scores``
            (e.g. for ``plots.plot_event_timeline``).

        Example
        -------
        >>> import torch
        >>> from speechbrain_ast.tagging.tagger import AudioTagger
        >>> from tests.helpers import tiny_model_folder
        >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
        >>> result = tagger.detect_events(
        ...     torch.randn(48000), thresholds=0.0, sample_rate=16000
        ... )
        >>> sorted({event.label for event in result.events})  # all always on
        ['a', 'b', 'c']
        >>> result.events[0].onset, result.events[0].offset
        (0.0, 3.0)
        >>> single = AudioTagger.from_hparams(
        ...     tiny_model_folder(getfixture("tmpdir").mkdir("single"), multi_label=False)
        ... )
        >>> found = single.detect_events(torch.randn(48000), sample_rate=16000)
        >>> len({(event.onset, event.offset) for event in found.events}) == len(found.events)
        True
        """
        from speechbrain_ast.tagging.events import (
            default_event_rule,
            events_from_tagging,
        )

        if rule is None:
            rule = default_event_rule(self.multi_label)[0]

        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            wav = self.load_audio(path)
        else:
            path = "<waveform>"
            wav = mono_waveform(source, sample_rate, self.sample_rate, name=path)
        tagged = self.tag_waveform(
            wav,
            sample_rate=self.sample_rate,
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
            rule=rule,
        )
