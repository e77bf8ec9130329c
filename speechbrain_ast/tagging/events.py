"""Sound event detection: onsets and offsets from a timeline of window scores.

A tagger scores overlapping windows of a long recording. This module turns
those window scores into events, each a ``(label, onset, offset, score)``:

1. **frames**: the recording is cut into frames of ``resolution`` seconds
   (by default the hop between windows); a frame's score per class is the
   mean (or max) of the scores of every window that covers the frame's
   centre, which merges the overlapping windows into one score track;
2. **decisions**: with the ``"threshold"`` rule (multi-label models), a
   class is active in a frame when its score reaches the class's threshold
   (one value for all classes, or one per class); with the ``"top"`` rule
   (single-label models), only the frame's highest-scoring class can be
   active, when it reaches its threshold (default 0: the top class). A
   softmax spreads 1 over all classes, so a fixed 0.5 misses most sounds of
   a single-label model, while its top class is the same decision as its
   clip label (``default_event_rule``). A silent frame (peak below
   ``speechbrain_ast.audio.SILENCE_THRESHOLD``, the rule that flags silent
   files) holds no event; with ``min_level_db``, neither does a frame
   quieter than that (RMS, dB re full scale): a single-label model has no
   "silence" class and calls silence or background noise something, but
   the gate also removes real sounds quieter than the level;
3. **median filter**: the active/inactive decisions of each class are
   smoothed with a running median over ``median_seconds`` (an odd number of
   frames), which removes blips shorter than half the filter and fills gaps
   shorter than half the filter;
4. **events**: each run of active frames of a class becomes one event; its
   score is the highest frame score inside it.

Per-class thresholds can be read from a file (``read_class_thresholds``:
JSON ``{label: T}`` or ``label<TAB>T`` lines). Event lists are read and
written in the DCASE format: a tab-separated file
with the header ``filename  onset  offset  event_label`` (times in seconds),
recordings named by file name (not folder), and a recording without events
written as a row with only its file name, so the list says it was scored.

The module is over 500 lines on purpose: the four steps, the two result
types and the two file formats that feed and keep them (thresholds in,
event lists out) are one pipeline, read top to bottom; every function in it
is short.

Authors
 * speechbrain-ast contributors 2026
"""

import collections
import csv
import dataclasses
import json
import logging
import os

import torch

from speechbrain_ast.audio import SILENCE_THRESHOLD

logger = logging.getLogger(__name__)

FRAME_MERGES = ("mean", "max")
# "threshold": every class on its own (multi-label); "top": at most the
# frame's top class (single-label).
EVENT_RULES = ("threshold", "top")
DCASE_COLUMNS = ("filename", "onset", "offset", "event_label")


@dataclasses.dataclass
class Event:
    """One detected (or reference) sound event.

    Arguments
    ---------
    label : str
        Class name.
    onset : float
        Start time in seconds.
    offset : float
        End time in seconds.
    score : float, optional
        Confidence (highest frame score inside the event); None for
        reference events.

    Example
    -------
    >>> Event("dog", 1.0, 2.5, 0.9).to_dict()
    {'label': 'dog', 'onset': 1.0, 'offset': 2.5, 'score': 0.9}
    """

    label: str
    onset: float
    offset: float
    score: float = None

    def to_dict(self):
        """Return a JSON-serialisable dict."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class EventDetection:
    """Events of one recording and the frame scores they came from.

    Arguments
    ---------
    path : str
        The recording.
    duration : float
        Its duration in seconds.
    events : list of Event
        Detected events, sorted by onset (then label).
    frame_times : torch.Tensor
        Start time of each frame in seconds ``[F]``.
    frame_scores : torch.Tensor
        Merged window scores per frame and class ``[F, C]`` (before the
        thresholds).
    labels : list of str
        Class names in column order of ``frame_scores``.

    Example
    -------
    >>> result = EventDetection("a.wav", 2.0, [Event("dog", 0.0, 1.0, 0.8)],
    ...                         torch.tensor([0.0, 1.0]), torch.ones(2, 1), ["dog"])
    >>> result.to_dict()["events"]
    [{'label': 'dog', 'onset': 0.0, 'offset': 1.0, 'score': 0.8}]
    """

    path: str
    duration: float
    events: list
    frame_times: torch.Tensor
    frame_scores: torch.Tensor
    labels: list

    def to_dict(self):
        """Return a JSON-serialisable dict (file, duration, events)."""
        return {
            "file": self.path,
            "duration": self.duration,
            "events": [event.to_dict() for event in self.events],
        }


def frame_scores_from_windows(
    window_starts, window_ends, window_scores, duration, resolution, merge="mean"
):
    """Merge overlapping window scores into one score per frame and class.

    Frame ``i`` spans ``[i * resolution, (i + 1) * resolution)`` (the last one
    is cut at ``duration``). Its score is the mean (or max) of the scores of
    the windows that contain the frame's centre; a frame no window covers
    (only possible when windows leave gaps) takes the nearest window's scores.

    Arguments
    ---------
    window_starts : sequence of float
        Start time of each window in seconds ``[W]``.
    window_ends : sequence of float
        End time of each window in seconds ``[W]``.
    window_scores : torch.Tensor
        Scores of each window ``[W, C]``.
    duration : float
        Length of the recording in seconds.
    resolution : float
        Frame length in seconds.
    merge : str
        ``"mean"`` or ``"max"`` over the windows covering a frame.

    Returns
    -------
    frame_times : torch.Tensor
        Start time of each frame ``[F]``.
    frame_scores : torch.Tensor
        Scores ``[F, C]``.

    Example
    -------
    >>> scores = torch.tensor([[1.0], [0.0]])
    >>> times, frames = frame_scores_from_windows([0.0, 1.0], [2.0, 3.0], scores, 3.0, 1.0)
    >>> times.tolist(), frames[:, 0].tolist()  # middle frame: both windows
    ([0.0, 1.0, 2.0], [1.0, 0.5, 0.0])
    """
    if merge not in FRAME_MERGES:
        raise ValueError(f"merge must be one of {FRAME_MERGES}, got {merge!r}")
    if not resolution > 0:
        raise ValueError(f"resolution must be positive, got {resolution}")
    scores = torch.as_tensor(window_scores, dtype=torch.float32)
    starts = torch.as_tensor(window_starts, dtype=torch.float64)
    ends = torch.as_tensor(window_ends, dtype=torch.float64)
    if scores.ndim != 2 or scores.shape[0] != starts.numel() or starts.numel() == 0:
        raise ValueError(
            f"need window scores [W, C] with W = {starts.numel()} windows (W >= 1), "
            f"got shape {tuple(scores.shape)}"
        )
    n_frames = max(1, int(torch.ceil(torch.tensor(duration / resolution - 1e-9))))
    frame_times = torch.arange(n_frames, dtype=torch.float64) * resolution
    frame_ends = torch.clamp(frame_times + resolution, max=max(float(duration), 0.0))
    centres = (frame_times + torch.maximum(frame_ends, frame_times)) / 2
    # covers[f, w]: window w contains the centre of frame f
    covers = (starts[None, :] <= centres[:, None]) & (centres[:, None] < ends[None, :])
    uncovered = ~covers.any(dim=1)
    if uncovered.any():
        middle = (starts + ends) / 2
        nearest = (centres[uncovered, None] - middle[None, :]).abs().argmin(dim=1)
        covers[uncovered] = torch.nn.functional.one_hot(nearest, starts.numel()).bool()
    weights = covers.float()
    if merge == "mean":
        frames = (weights @ scores) / weights.sum(dim=1, keepdim=True)
    else:
        masked = torch.where(
            covers[:, :, None], scores[None, :, :], torch.tensor(float("-inf"))
        )
        frames = masked.max(dim=1).values
    return frame_times.float(), frames


def default_event_rule(multi_label):
    """The frame rule and threshold that suit a model's kind of scores.

    A multi-label model scores each class on its own (sigmoids): a class is
    present from 0.5 on, several at once. A single-label model's scores are
    a softmax that sums to 1 over the classes: with 10 classes a clear
    winner often has 0.3, with 50 much less, so a fixed threshold misses
    most sounds; its top class, the decision its clip accuracy measures, is
    the event (threshold 0).

    Arguments
    ---------
    multi_label : bool
        The model's scores are per-class sigmoids.

    Returns
    -------
    rule : str
        ``"threshold"`` or ``"top"`` (see ``events_from_frames``).
    threshold : float
        The default threshold for that rule.

    Example
    -------
    >>> default_event_rule(True), default_event_rule(False)
    (('threshold', 0.5), ('top', 0.0))
    """
    return ("threshold", 0.5) if multi_label else ("top", 0.0)


def class_thresholds(thresholds, labels, default=0.5):
    """One threshold per class from a number or a ``{label: threshold}`` dict.

    Arguments
    ---------
    thresholds : float or dict or None
        A threshold for all classes, or per-class thresholds (classes not in
        the dict get ``default``); None gives ``default`` everywhere.
    labels : list of str
        Class names in score order.
    default : float
        Threshold of classes without one.

    Returns
    -------
    torch.Tensor
        Thresholds ``[C]``.

    Raises
    ------
    ValueError
        A label that is not a class of the model, or a threshold outside [0, 1].

    Example
    -------
    >>> class_thresholds({"b": 0.2}, ["a", "b"], default=0.6).tolist()
    [0.6000000238418579, 0.20000000298023224]
    """
    if thresholds is None:
        thresholds = default
    if isinstance(thresholds, dict):
        unknown = sorted(set(thresholds) - set(labels))
        if unknown:
            raise ValueError(f"thresholds for unknown labels: {', '.join(unknown)}")
        values = [float(thresholds.get(label, default)) for label in labels]
    else:
        values = [float(thresholds)] * len(labels)
    bad = [value for value in values if not 0.0 <= value <= 1.0]
    if bad:
        raise ValueError(f"thresholds must be in [0, 1], got {bad[0]}")
    return torch.tensor(values)


def read_class_thresholds(path):
    """Per-class thresholds from JSON ``{label: T}`` or ``label<TAB>T`` lines.

    In the text form a comma may replace the tab; the label is everything
    before the last separator (AudioSet names contain commas). Blank lines
    and lines starting with ``#`` are skipped.

    Arguments
    ---------
    path : str
        The file.

    Returns
    -------
    dict
        ``{label: threshold}``.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        An unreadable line, or a threshold outside [0, 1].

    Example
    -------
    >>> path = getfixture("tmpdir").join("t.tsv")
    >>> _ = path.write("# label, threshold\\ndog\\t0.3\\nSpeech, man speaking,0.6\\n")
    >>> read_class_thresholds(path.strpath)
    {'dog': 0.3, 'Speech, man speaking': 0.6}
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: class thresholds file not found")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        if path.lower().endswith(".json"):
            values = {str(key): float(value) for key, value in json.loads(text).items()}
        else:
            values = {}
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                separator = "\t" if "\t" in line else ","
                label, _, value = line.rpartition(separator)
                if not label:
                    raise ValueError(f"line {number}: expected label<TAB>threshold")
                values[label.strip()] = float(value)
    except (ValueError, AttributeError) as error:
        raise ValueError(f"{path}: bad class thresholds ({error})") from None
    bad = [label for label, value in values.items() if not 0.0 <= value <= 1.0]
    if bad:
        raise ValueError(f"{path}: threshold of {bad[0]!r} is not in [0, 1]")
    return values


def median_filter(active, width):
    """Running median of binary decisions along time, per class.

    Arguments
    ---------
    active : torch.Tensor
        Decisions ``[F, C]`` (bool or 0/1).
    width : int
        Filter length in frames; even widths are rounded up to the next odd
        one; 1 leaves the decisions unchanged. The ends are padded by
        repeating the first and last frame.

    Returns
    -------
    torch.Tensor
        Filtered decisions ``[F, C]``, bool.

    Example
    -------
    >>> track = torch.tensor([0, 1, 0, 0, 1, 1, 0, 1, 1, 1]).bool()[:, None]
    >>> median_filter(track, 3)[:, 0].int().tolist()
    [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    """
    active = torch.as_tensor(active).bool()
    width = int(width)
    if width < 1:
        raise ValueError(f"median filter width must be >= 1 frame, got {width}")
    if width % 2 == 0:
        width += 1
    if width == 1 or active.shape[0] == 0:
        return active.clone()
    half = width // 2
    padded = torch.cat(
        [active[:1].expand(half, -1), active, active[-1:].expand(half, -1)]
    ).float()
    # the median of 0/1 values is 1 exactly when more than half are 1
    counts = padded.unfold(0, width, 1).sum(dim=-1)
    return counts > half


def events_from_frames(
    frame_times,
    frame_scores,
    labels,
    thresholds,
    median_frames=1,
    duration=None,
    quiet=None,
    rule="threshold",
):
    """Runs of active frames, per class, as events.

    Arguments
    ---------
    frame_times : torch.Tensor
        Frame start times in seconds ``[F]`` (evenly spaced).
    frame_scores : torch.Tensor
        Scores ``[F, C]``.
    labels : list of str
        Class names ``[C]``.
    thresholds : torch.Tensor
        Per-class thresholds ``[C]`` (a class is active at score >= threshold).
    median_frames : int
        Median filter length in frames (1: none).
    duration : float, optional
        Recording length; the last frame ends there (default: one frame
        after the last frame start).
    quiet : torch.Tensor, optional
        Frames ``[F]`` (bool) where no class is active, whatever the scores.
    rule : str
        ``"threshold"``: every class whose score reaches its threshold is
        active (multi-label models: events may overlap); ``"top"``: only
        the frame's highest-scoring class, if it reaches its threshold
        (single-label models: one event at a time, and consecutive frames
        of one class are one event).

    Returns
    -------
    list of Event
        Sorted by onset, then label.

    Example
    -------
    >>> times = torch.arange(6) * 0.5
    >>> scores = torch.tensor([[0.1], [0.9], [0.8], [0.2], [0.7], [0.1]])
    >>> events_from_frames(times, scores, ["dog"], torch.tensor([0.5]))
    [Event(label='dog', onset=0.5, offset=1.5, score=0.9), Event(label='dog', onset=2.0, offset=2.5, score=0.7)]
    >>> softmax = torch.tensor([[0.4, 0.3, 0.3], [0.2, 0.45, 0.35], [0.2, 0.5, 0.3]])
    >>> events_from_frames(torch.arange(3.0), softmax, ["dog", "cat", "bird"],
    ...                    torch.zeros(3), rule="top")
    [Event(label='dog', onset=0.0, offset=1.0, score=0.4), Event(label='cat', onset=1.0, offset=3.0, score=0.5)]
    """
    if rule not in EVENT_RULES:
        raise ValueError(f"rule must be one of {EVENT_RULES}, got {rule!r}")
    frame_times = torch.as_tensor(frame_times, dtype=torch.float64)
    frame_scores = torch.as_tensor(frame_scores, dtype=torch.float32)
    if frame_times.numel() == 0:
        return []
    step = float(frame_times[1] - frame_times[0]) if frame_times.numel() > 1 else None
    if duration is None:
        duration = float(frame_times[-1]) + (step or 0.0)
    active = frame_scores >= thresholds[None, :]
    if rule == "top" and frame_scores.shape[1]:
        top = torch.nn.functional.one_hot(
            frame_scores.argmax(dim=1), frame_scores.shape[1]
        )
        active &= top.bool()
    if quiet is not None:
        active &= ~torch.as_tensor(quiet, dtype=torch.bool)[:, None]
    active = median_filter(active, median_frames)
    frame_ends = torch.cat(
        [frame_times[1:], torch.tensor([float(duration)], dtype=torch.float64)]
    )
    events = []
    for column, label in enumerate(labels):
        track = active[:, column].int()
        # +1 at each onset frame, -1 after each offset frame
        edges = torch.diff(
            torch.cat(
                [
                    torch.zeros(1, dtype=torch.int),
                    track,
                    torch.zeros(1, dtype=torch.int),
                ]
            )
        )
        onsets = torch.nonzero(edges == 1).flatten().tolist()
        offsets = torch.nonzero(edges == -1).flatten().tolist()
        for first, stop in zip(onsets, offsets):
            events.append(
                Event(
                    label=label,
                    onset=round(float(frame_times[first]), 4),
                    offset=round(float(frame_ends[stop - 1]), 4),
                    score=round(float(frame_scores[first:stop, column].max()), 4),
                )
            )
    events.sort(key=lambda event: (event.onset, event.label))
    return events


def frame_levels(waveform, sample_rate, frame_times, duration):
    """RMS level of each frame in dB re full scale (-inf for digital silence).

    Arguments
    ---------
    waveform : torch.Tensor
        Mono waveform ``[S]``.
    sample_rate : int
        Its rate.
    frame_times : torch.Tensor
        Frame start times ``[F]`` (evenly spaced); the last frame ends at
        ``duration``.
    duration : float
        Recording length in seconds.

    Returns
    -------
    torch.Tensor
        Levels ``[F]`` in dBFS.

    Example
    -------
    >>> wav = torch.cat([torch.zeros(8000), 0.1 * torch.ones(8000)])
    >>> frame_levels(wav, 16000, torch.tensor([0.0, 0.5]), 1.0).tolist()
    [-inf, -20.0]
    """
    levels = [
        10 * torch.log10(part.pow(2).mean() if part.numel() else torch.tensor(0.0))
        for part in _frame_samples(waveform, sample_rate, frame_times, duration)
    ]
    return torch.stack(levels) if levels else torch.zeros(0)


def silent_frames(waveform, sample_rate, frame_times, duration):
    """Frames whose peak is below ``SILENCE_THRESHOLD`` (as silent files are).

    Arguments
    ---------
    waveform : torch.Tensor
        Mono waveform ``[S]``.
    sample_rate : int
        Its rate.
    frame_times : torch.Tensor
        Frame start times ``[F]``; the last frame ends at ``duration``.
    duration : float
        Recording length in seconds.

    Returns
    -------
    torch.Tensor
        ``[F]``, bool.

    Example
    -------
    >>> wav = torch.cat([torch.zeros(8000), 1e-3 * torch.ones(8000)])
    >>> silent_frames(wav, 16000, torch.tensor([0.0, 0.5]), 1.0).tolist()
    [True, False]
    """
    peaks = [
        float(part.abs().max()) if part.numel() else 0.0
        for part in _frame_samples(waveform, sample_rate, frame_times, duration)
    ]
    return torch.tensor(peaks) < SILENCE_THRESHOLD


def _frame_samples(waveform, sample_rate, frame_times, duration):
    """The samples of each frame (at least one sample where the file has it)."""
    wav = torch.as_tensor(waveform).float().flatten()
    times = torch.as_tensor(frame_times, dtype=torch.float64).tolist()
    edges = [round(t * sample_rate) for t in times] + [round(duration * sample_rate)]
    return [wav[first : max(stop, first + 1)] for first, stop in zip(edges, edges[1:])]


def detect_events_in_timeline(
    window_starts,
    window_ends,
    window_scores,
    labels,
    duration,
    thresholds=None,
    median_seconds=0.0,
    resolution=None,
    merge="mean",
    path="<waveform>",
    min_level_db=None,
    waveform=None,
    sample_rate=16000,
    rule="threshold",
):
    """Events of one recording from its window scores (steps 1-4 above).

    Arguments
    ---------
    window_starts, window_ends : sequence of float
        Window times in seconds ``[W]``.
    window_scores : torch.Tensor
        Scores ``[W, C]``.
    labels : list of str
        Class names ``[C]``.
    duration : float
        Recording length in seconds.
    thresholds : float or dict, optional
        One threshold, or ``{label: threshold}`` (others: the rule's
        default); default: the rule's (``default_event_rule``: 0.5 for
        ``"threshold"``, 0 for ``"top"``).
    median_seconds : float
        Median filter length in seconds (0: no filter); rounded to an odd
        number of frames.
    resolution : float, optional
        Frame length in seconds (default: the hop between the first two
        windows, or the window length for a single window).
    merge : str
        ``"mean"`` or ``"max"`` of the windows covering a frame.
    path : str
        Name stored in the result.
    min_level_db : float, optional
        Frames with an RMS level below this (dBFS, e.g. -90) hold no event,
        real quiet sounds included; needs ``waveform``. Default: no level
        gate.
    waveform : torch.Tensor, optional
        The recording ``[S]``: with it, silent frames (peak below
        ``SILENCE_THRESHOLD``) hold no event, and ``min_level_db`` works.
    sample_rate : int
        Rate of ``waveform``.
    rule : str
        ``"threshold"`` (multi-label) or ``"top"`` (single-label); see
        ``events_from_frames``.

    Returns
    -------
    EventDetection
        Events plus the merged frame scores.

    Example
    -------
    >>> scores = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.1, 0.9]])
    >>> result = detect_events_in_timeline([0, 1, 2, 3], [2, 3, 4, 5], scores,
    ...                                    ["dog", "cat"], 5.0)
    >>> [(e.label, e.onset, e.offset) for e in result.events]  # frame 2-3 s: 0.5 each
    [('dog', 0.0, 3.0), ('cat', 2.0, 5.0)]
    >>> softmax = torch.tensor([[0.3, 0.2, 0.5], [0.4, 0.3, 0.3]])
    >>> result = detect_events_in_timeline([0, 1], [1, 2], softmax,
    ...                                    ["dog", "cat", "bird"], 2.0, rule="top")
    >>> [(e.label, e.onset, e.offset) for e in result.events]
    [('bird', 0.0, 1.0), ('dog', 1.0, 2.0)]
    """
    if resolution is None:
        if len(window_starts) > 1:
            resolution = float(window_starts[1]) - float(window_starts[0])
        else:
            resolution = float(window_ends[0]) - float(window_starts[0])
        resolution = resolution if resolution > 0 else max(duration, 1e-3)
    if median_seconds < 0:
        raise ValueError(f"median_seconds must be >= 0, got {median_seconds}")
    frame_times, frame_scores = frame_scores_from_windows(
        window_starts, window_ends, window_scores, duration, resolution, merge
    )
    median_frames = max(1, int(round(median_seconds / resolution)))
    if rule not in EVENT_RULES:
        raise ValueError(f"rule must be one of {EVENT_RULES}, got {rule!r}")
    default = default_event_rule(rule == "threshold")[1]
    quiet = None
    if min_level_db is not None and waveform is None:
        raise ValueError("min_level_db needs the waveform")
    if waveform is not None:
        quiet = silent_frames(waveform, sample_rate, frame_times, duration)
    if min_level_db is not None:
        levels = frame_levels(waveform, sample_rate, frame_times, duration)
        quiet |= levels < float(min_level_db)
    events = events_from_frames(
        frame_times,
        frame_scores,
        labels,
        class_thresholds(thresholds, labels, default=default),
        median_frames,
        duration,
        quiet,
        rule,
    )
    return EventDetection(
        path, duration, events, frame_times, frame_scores, list(labels)
    )


def events_from_tagging(result, labels, **options):
    """Events of a ``TaggingResult`` (its windows and ``window_scores``).

    Arguments
    ---------
    result : speechbrain_ast.tagging.tagger.TaggingResult
        A result of ``AudioTagger.tag_file``/``tag_waveform``.
    labels : list of str
        The tagger's class names (``AudioTagger.labels``).
    **options : dict
        ``thresholds``, ``median_seconds``, ``resolution``, ``merge``,
        ``min_level_db``, ``waveform``, ``sample_rate``, ``rule`` of
        ``detect_events_in_timeline``.

    Returns
    -------
    EventDetection
        The events of ``result.path``.

    Example
    -------
    >>> from speechbrain_ast.tagging.tagger import TaggingResult
    >>> timeline = [{"start": 0.0, "end": 1.0, "labels": []},
    ...             {"start": 1.0, "end": 2.0, "labels": []}]
    >>> scores = torch.tensor([[0.9], [0.2]])
    >>> result = TaggingResult("a.wav", 2.0, [], timeline, scores[0], scores)
    >>> events_from_tagging(result, ["dog"]).events
    [Event(label='dog', onset=0.0, offset=1.0, score=0.9)]
    """
    if result.window_scores is None:
        raise ValueError(f"{result.path}: the tagging result has no window scores")
    return detect_events_in_timeline(
        [window["start"] for window in result.timeline],
        [window["end"] for window in result.timeline],
        result.window_scores,
        labels,
        result.duration,
        path=result.path,
        **options,
    )


def write_event_list(detections, path):
    """Write events in the DCASE event-list format (tab-separated, header).

    The ``filename`` column holds each recording's file name, as DCASE
    reference lists do, so the list scores against one
    (``event_metrics``). A recording without events gets a row with only
    its file name. Recordings whose file names repeat (``dog/1.wav``,
    ``cat/1.wav``) keep their paths as given, with a warning: file names
    alone would merge them.

    Arguments
    ---------
    detections : list of EventDetection
        One entry per recording (its ``path`` gives the ``filename``).
    path : str
        File to write (its folder is created).

    Returns
    -------
    str
        ``path``.

    Example
    -------
    >>> detection = EventDetection("street/a.wav", 3.0, [Event("dog", 0.5, 1.5, 0.9)],
    ...                            torch.zeros(1), torch.zeros(1, 1), ["dog"])
    >>> quiet = EventDetection("street/b.wav", 3.0, [], torch.zeros(1),
    ...                        torch.zeros(1, 1), ["dog"])
    >>> out = write_event_list([detection, quiet], getfixture("tmpdir").join("e.tsv").strpath)
    >>> print(open(out).read().strip())
    filename	onset	offset	event_label
    a.wav	0.500	1.500	dog
    b.wav
    """
    path = os.fspath(path)
    names = [os.path.basename(os.fspath(detection.path)) for detection in detections]
    paths_of = collections.defaultdict(set)
    for detection, name in zip(detections, names):
        paths_of[name].add(os.fspath(detection.path))
    repeated = {name for name, paths in paths_of.items() if len(paths) > 1}
    if repeated:
        logger.warning(
            "%s: file names repeat (%s); those recordings are written with their "
            "paths as given, which a DCASE reference list will not match",
            path,
            ", ".join(sorted(repeated)[:3]),
        )
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(DCASE_COLUMNS)
        for detection, name in zip(detections, names):
            filename = detection.path if name in repeated else name
            if not detection.events:
                writer.writerow([filename])
            for event in detection.events:
                writer.writerow(
                    [
                        filename,
                        f"{event.onset:.3f}",
                        f"{event.offset:.3f}",
                        event.label,
                    ]
                )
    return path


def read_event_list(path):
    """Read a DCASE event list (tab-separated; header optional).

    Arguments
    ---------
    path : str
        Event list with columns ``filename, onset, offset, event_label``.
        Rows with only a filename (a recording without events) are allowed.

    Returns
    -------
    dict
        ``{filename: [Event, ...]}`` in file order.

    Raises
    ------
    ValueError
        A row with unreadable times or an offset before its onset; the
        message names the file and line.

    Example
    -------
    >>> path = getfixture("tmpdir").join("ref.tsv")
    >>> _ = path.write("filename\\tonset\\toffset\\tevent_label\\na.wav\\t0.5\\t1.5\\tdog\\n")
    >>> read_event_list(path.strpath)
    {'a.wav': [Event(label='dog', onset=0.5, offset=1.5, score=None)]}
    """
    events = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (number == 1 and row[0] == DCASE_COLUMNS[0]):
                continue
            items = events.setdefault(row[0], [])
            if len(row) == 1:
                continue
            try:
                onset, offset, label = float(row[1]), float(row[2]), row[3]
            except (ValueError, IndexError):
                raise ValueError(
                    f"{path}: line {number}: expected filename, onset, offset, "
                    f"event_label separated by tabs, got {row!r}"
                ) from None
            if offset < onset:
                raise ValueError(
                    f"{path}: line {number}: offset {offset} < onset {onset}"
                )
            items.append(Event(label, onset, offset))
    return events
