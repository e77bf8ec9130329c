"""Event-based and segment-based F1 of detected sound events (DCASE rules).

The two metrics of the DCASE sound event detection challenges (Mesaros,
Heittola, Virtanen, "Metrics for polyphonic sound event detection", Applied
Sciences 2016), written here because the reference package ``sed_eval``
needs ``dcase_util``, which imports ``librosa``/``numba`` and
``pkg_resources`` (no longer in setuptools) at import time:

* **event-based**: an estimated event is a true positive when it has the
  label of a reference event of the same file, its onset is within
  ``t_collar`` seconds of the reference onset and (unless
  ``evaluate_offset=False``, the "onset-only" variant) its offset within
  ``max(t_collar, percentage_of_length * reference length)`` of the
  reference offset. Each reference event matches at most one estimate and
  vice versa; the pairing is a maximum bipartite matching (as ``sed_eval``'s
  default ``event_matching_type="optimal"``).
* **segment-based**: each file is cut into segments of ``time_resolution``
  seconds from 0; a class is active in a segment when any of its events
  overlaps the segment. True positives, false positives and false negatives
  are counted over (segment, class) pairs; the error rate counts, per
  segment, substitutions ``min(FN, FP)``, deletions and insertions.

Both give micro-averaged ("overall") precision, recall and F1 over all
classes and files, and the class-wise macro average of F1 over the classes
that have reference events. The segment error rate is NaN when the
reference has no active segment: it divides by the reference count, and
0.0 would read as a perfect score.

Files are matched by base name, as DCASE event lists name them
(``a.wav`` in one list matches ``audio/street/a.wav`` in the other). Two
files of one list with the same base name are an error (they cannot be told
apart), and a warning says so when none of the estimated names is in the
reference: every estimate would then count as a false positive and every
reference event as missed, an F1 of 0 that says nothing about the model.

``tests/test_event_metrics_reference.py`` scores seeded event lists with
``sed_eval`` 0.2.1 and with these functions: equal to 1e-6 where no time
sits exactly on a collar or segment edge (``sed_eval`` compares float
differences exactly; here 1e-9 of rounding is allowed). By default
``sed_eval`` gives a class with reference events but no estimate an F1 of
NaN (its precision is 0/0) and leaves it out of the class average; here it
is 0 (its recall is 0).

Authors
 * speechbrain-ast contributors 2026
"""

import logging
import math
import os

logger = logging.getLogger(__name__)

__all__ = ["event_based_scores", "segment_based_scores"]


def _prf(tp, fp, fn):
    """Precision, recall and F1 (0 where undefined)."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return precision, recall, f1


def _summary(counts, extra=None):
    """Overall and class-wise scores from ``{label: [tp, fp, fn]}``."""
    tp = sum(value[0] for value in counts.values())
    fp = sum(value[1] for value in counts.values())
    fn = sum(value[2] for value in counts.values())
    precision, recall, f1 = _prf(tp, fp, fn)
    class_f1 = {
        label: _prf(*value)[2]
        for label, value in sorted(counts.items())
        if value[0] + value[2]
    }
    result = {
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "class_wise_f1": class_f1,
        "macro_f1": sum(class_f1.values()) / len(class_f1) if class_f1 else 0.0,
    }
    result.update(extra or {})
    return result


def _max_matching(candidates, n_left):
    """Size of a maximum bipartite matching (augmenting paths, Kuhn).

    ``candidates[i]`` lists the right-hand nodes that left node ``i`` may
    pair with. Lists per file and class are short, so the simple algorithm
    is fast enough.
    """
    owner = {}

    def augment(left, seen):
        for right in candidates[left]:
            if right in seen:
                continue
            seen.add(right)
            if right not in owner or augment(owner[right], seen):
                owner[right] = left
                return True
        return False

    return sum(augment(left, set()) for left in range(n_left))


def _events_by_file(events, which="events"):
    """``{base name: [Event]}`` from that dict or from ``[(file, Event)]`` rows.

    Raises ``ValueError`` when two files of the list share a base name.
    """
    if isinstance(events, dict):
        items = events.items()
    else:
        grouped = {}
        for filename, event in events:
            grouped.setdefault(filename, []).append(event)
        items = grouped.items()
    by_name, first_path = {}, {}
    for filename, file_events in items:
        name = os.path.basename(os.fspath(filename))
        if name in first_path and first_path[name] != filename:
            raise ValueError(
                f"{which}: {first_path[name]} and {filename} have the same file "
                "name; event lists match recordings by file name"
            )
        first_path[name] = filename
        by_name.setdefault(name, []).extend(file_events)
    return by_name


def _matched_lists(reference, estimated):
    """Both lists keyed by base name; warn when their names never meet."""
    reference = _events_by_file(reference, "reference events")
    estimated = _events_by_file(estimated, "estimated events")
    if reference and estimated and not set(reference) & set(estimated):
        logger.warning(
            "none of the %d estimated file names (e.g. %s) is in the reference "
            "list (e.g. %s): every estimated event counts as a false positive",
            len(estimated),
            sorted(estimated)[0],
            sorted(reference)[0],
        )
    return reference, estimated


def event_based_scores(
    reference,
    estimated,
    t_collar=1.0,
    percentage_of_length=0.5,
    evaluate_offset=True,
):
    """Event-based precision, recall and F1 (see the module doc).

    Arguments
    ---------
    reference : dict
        ``{filename: [Event, ...]}`` true events (files without events may
        map to an empty list); files are matched by base name.
    estimated : dict
        ``{filename: [Event, ...]}`` detected events.
    t_collar : float
        Onset (and minimum offset) tolerance in seconds.
    percentage_of_length : float
        Offset tolerance as a fraction of the reference event's length.
    evaluate_offset : bool
        False: onset-only matching.

    Returns
    -------
    dict
        ``f1``, ``precision``, ``recall``, ``tp``, ``fp``, ``fn`` (overall),
        ``class_wise_f1`` and ``macro_f1``.

    Example
    -------
    >>> from speechbrain_ast.tagging.events import Event
    >>> ref = {"a.wav": [Event("dog", 1.0, 3.0), Event("cat", 4.0, 6.0)]}
    >>> est = {"a.wav": [Event("dog", 1.5, 2.0), Event("cat", 3.5, 6.5)]}
    >>> event_based_scores(ref, est)["f1"]  # dog offset 1 s off: allowed
    1.0
    >>> event_based_scores(ref, est, t_collar=0.2)["f1"]
    0.0
    >>> event_based_scores(ref, {"audio/a.wav": est["a.wav"]})["f1"]  # by file name
    1.0
    """
    reference, estimated = _matched_lists(reference, estimated)
    counts = {}
    for filename in sorted(set(reference) | set(estimated)):
        refs, ests = reference.get(filename, []), estimated.get(filename, [])
        for label in {event.label for event in refs} | {event.label for event in ests}:
            class_refs = [event for event in refs if event.label == label]
            class_ests = [event for event in ests if event.label == label]
            candidates = []
            for ref in class_refs:
                offset_collar = max(
                    t_collar, percentage_of_length * (ref.offset - ref.onset)
                )
                candidates.append(
                    [
                        index
                        for index, est in enumerate(class_ests)
                        if abs(est.onset - ref.onset) <= t_collar + 1e-9
                        and (
                            not evaluate_offset
                            or abs(est.offset - ref.offset) <= offset_collar + 1e-9
                        )
                    ]
                )
            tp = _max_matching(candidates, len(class_refs))
            count = counts.setdefault(label, [0, 0, 0])
            count[0] += tp
            count[1] += len(class_ests) - tp
            count[2] += len(class_refs) - tp
    return _summary(
        counts,
        {
            "t_collar": t_collar,
            "percentage_of_length": percentage_of_length,
            "evaluate_offset": evaluate_offset,
        },
    )


def _activity(events, labels, n_segments, time_resolution):
    """``{label: set of active segment indices}``."""
    active = {label: set() for label in labels}
    for event in events:
        # An onset before 0 (a list shifted by a latency) starts at segment 0.
        first = max(0, int(math.floor(event.onset / time_resolution + 1e-9)))
        stop = int(math.ceil(event.offset / time_resolution - 1e-9))
        stop = min(max(stop, first + 1), n_segments)
        active[event.label].update(range(first, stop))
    return active


def segment_based_scores(reference, estimated, time_resolution=1.0, durations=None):
    """Segment-based precision, recall, F1 and error rate (see the module doc).

    Arguments
    ---------
    reference : dict
        ``{filename: [Event, ...]}`` true events; files are matched by base
        name.
    estimated : dict
        ``{filename: [Event, ...]}`` detected events.
    time_resolution : float
        Segment length in seconds.
    durations : dict, optional
        ``{filename: seconds}``: evaluate each file over its whole length
        (default: up to the last event offset, reference or estimated, as
        ``sed_eval`` does).

    Returns
    -------
    dict
        ``f1``, ``precision``, ``recall``, ``tp``, ``fp``, ``fn``,
        ``error_rate`` (NaN without reference activity), ``class_wise_f1``,
        ``macro_f1``, ``n_segments``.

    Example
    -------
    >>> from speechbrain_ast.tagging.events import Event
    >>> ref = {"a.wav": [Event("dog", 0.0, 2.0)]}
    >>> est = {"a.wav": [Event("dog", 1.2, 3.0)]}  # segments 1, 2 vs 0, 1
    >>> scores = segment_based_scores(ref, est)
    >>> scores["tp"], scores["fp"], scores["fn"], scores["f1"]
    (1, 1, 1, 0.5)
    >>> segment_based_scores({"a.wav": []}, est)["error_rate"]  # nothing to miss
    nan
    """
    if not time_resolution > 0:
        raise ValueError(f"time_resolution must be positive, got {time_resolution}")
    reference, estimated = _matched_lists(reference, estimated)
    durations = {
        os.path.basename(os.fspath(name)): seconds
        for name, seconds in (durations or {}).items()
    }
    counts = {}
    substitutions = deletions = insertions = n_reference = n_segments_total = 0
    for filename in sorted(set(reference) | set(estimated)):
        refs, ests = reference.get(filename, []), estimated.get(filename, [])
        length = durations.get(filename)
        if length is None:
            length = max([event.offset for event in refs + ests], default=0.0)
        n_segments = max(1, int(math.ceil(length / time_resolution - 1e-9)))
        n_segments_total += n_segments
        labels = sorted({event.label for event in refs + ests})
        ref_active = _activity(refs, labels, n_segments, time_resolution)
        est_active = _activity(ests, labels, n_segments, time_resolution)
        for label in labels:
            count = counts.setdefault(label, [0, 0, 0])
            count[0] += len(ref_active[label] & est_active[label])
            count[1] += len(est_active[label] - ref_active[label])
            count[2] += len(ref_active[label] - est_active[label])
        for segment in range(n_segments):
            fn = sum(
                segment in ref_active[label] and segment not in est_active[label]
                for label in labels
            )
            fp = sum(
                segment in est_active[label] and segment not in ref_active[label]
                for label in labels
            )
            substitutions += min(fn, fp)
            deletions += max(0, fn - fp)
            insertions += max(0, fp - fn)
            n_reference += sum(segment in ref_active[label] for label in labels)
    errors = substitutions + deletions + insertions
    return _summary(
        counts,
        {
            "error_rate": errors / n_reference if n_reference else math.nan,
            "n_segments": n_segments_total,
            "time_resolution": time_resolution,
        },
    )
