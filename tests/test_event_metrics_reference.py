"""Our DCASE event metrics against maintained evaluators (the ``eval`` extra).

``sed_eval`` 0.2.1 (the DCASE reference implementation of event-based and
segment-based metrics) scores the same seeded event lists as
``speechbrain_ast.tagging.event_metrics``; they must agree to 1e-6. The
cases avoid ties: ``sed_eval`` compares float differences with the collar
exactly, where ours allows 1e-9 of rounding. ``sed_scores_eval`` checks
that PSDS of ``speechbrain-ast evaluate`` is computed from the frame scores.
Both packages are heavy (librosa, numba, pandas, a Cython build): install
them with ``pip install -e '.[eval]'``; without them these tests skip.
"""

import sys
import types

import numpy as np
import pytest
import torch

from speechbrain_ast.tagging.event_metrics import (
    event_based_scores,
    segment_based_scores,
)
from speechbrain_ast.tagging.events import Event, EventDetection

LABELS = ("dog", "siren", "speech")
# (t_collar, percentage_of_length, evaluate_offset): DCASE's defaults
# (``evaluate``'s), sed_eval's, and the 1 s collar of benchmarks/EVENTS.md.
EVENT_SETTINGS = [
    (0.2, 0.2, True),
    (0.2, 0.5, True),
    (1.0, 0.5, True),
    (1.0, 0.5, False),
]
TIE = 1e-6
# A class with reference events and no estimate has F1 0 (recall 0) in ours;
# sed_eval's default makes it NaN (precision 0/0), and its class-wise
# average then skips the class.
ZERO_SCORE = "zero_score"


def _sed_eval():
    """Import sed_eval, or skip (nothing is left in sys.modules when it is absent)."""
    import importlib.util

    if importlib.util.find_spec("sed_eval") is None:
        pytest.skip("sed_eval is not installed (pip install -e '.[eval]')")
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        # dcase_util (under sed_eval) imports pkg_resources at import time for
        # helpers the metrics never call; setuptools >= 81 no longer has it.
        # A stand-in, only when sed_eval will be imported: other tests import
        # packages that need the real one to be absent or whole.
        sys.modules["pkg_resources"] = types.ModuleType("pkg_resources")
        try:
            return pytest.importorskip("sed_eval")
        finally:
            del sys.modules["pkg_resources"]
    return pytest.importorskip("sed_eval")


def random_case(seed):
    """Reference and estimated ``{file: [Event]}`` with jittered matches."""
    rng = np.random.default_rng(seed)
    reference, estimated = {}, {}
    for index in range(int(rng.integers(2, 5))):
        name = f"rec{index}.wav"
        refs, ests = [], []
        for _ in range(int(rng.integers(0, 6))):
            onset = float(rng.uniform(0.0, 9.0))
            ref = Event(
                str(rng.choice(LABELS)), onset, onset + float(rng.uniform(0.2, 3.0))
            )
            refs.append(ref)
            if rng.random() < 0.7:  # a detection near it, inside or outside the collars
                # detectors never report times before 0 (sed_eval would index
                # its event roll from the end)
                est_onset = max(0.0, ref.onset + float(rng.normal(0.0, 0.4)))
                est_offset = max(
                    est_onset + 0.05, ref.offset + float(rng.normal(0, 0.6))
                )
                ests.append(Event(ref.label, est_onset, est_offset))
        for _ in range(int(rng.integers(0, 3))):  # false alarms
            onset = float(rng.uniform(0.0, 9.0))
            ests.append(
                Event(
                    str(rng.choice(LABELS)), onset, onset + float(rng.uniform(0.1, 2))
                )
            )
        reference[name] = refs
        estimated[name] = ests
    return reference, estimated


def has_ties(reference, estimated):
    """Whether a comparison of the two metrics' rules sits on a boundary."""
    for name, refs in reference.items():
        for ref in refs:
            for est in estimated.get(name, []):
                for collar, _, _ in EVENT_SETTINGS:
                    onset = abs(abs(est.onset - ref.onset) - collar)
                    for share in (0.2, 0.5):
                        limit = max(collar, share * (ref.offset - ref.onset))
                        if (
                            onset < TIE
                            or abs(abs(est.offset - ref.offset) - limit) < TIE
                        ):
                            return True
    times = [
        t
        for events in (*reference.values(), *estimated.values())
        for e in events
        for t in (e.onset, e.offset)
    ]
    return any(abs(t - round(t)) < TIE and t != 0.0 for t in times)


def cases(n=20):
    """``n`` seeded cases without ties, each with some reference event."""
    found, seed = [], 0
    while len(found) < n:
        reference, estimated = random_case(seed)
        seed += 1
        if any(reference.values()) and not has_ties(reference, estimated):
            found.append((reference, estimated))
    return found


def assert_class_wise(ours, class_wise):
    """Class-wise F1 of the classes with reference events equal."""
    for label, f1 in ours["class_wise_f1"].items():
        assert f1 == pytest.approx(
            class_wise[label]["f_measure"]["f_measure"], abs=1e-6
        )


def rows(name, events):
    return [
        {"filename": name, "onset": e.onset, "offset": e.offset, "event_label": e.label}
        for e in events
    ]


@pytest.mark.parametrize("t_collar, percentage, evaluate_offset", EVENT_SETTINGS)
def test_event_based_equals_sed_eval(t_collar, percentage, evaluate_offset):
    sed_eval = _sed_eval()
    for reference, estimated in cases():
        metric = sed_eval.sound_event.EventBasedMetrics(
            event_label_list=list(LABELS),
            empty_system_output_handling=ZERO_SCORE,
            t_collar=t_collar,
            percentage_of_length=percentage,
            evaluate_offset=evaluate_offset,
        )
        for name in sorted(set(reference) | set(estimated)):
            metric.evaluate(
                rows(name, reference.get(name, [])), rows(name, estimated.get(name, []))
            )
        ours = event_based_scores(
            reference,
            estimated,
            t_collar=t_collar,
            percentage_of_length=percentage,
            evaluate_offset=evaluate_offset,
        )
        overall = metric.results_overall_metrics()["f_measure"]
        assert ours["f1"] == pytest.approx(overall["f_measure"], abs=1e-6)
        assert ours["precision"] == pytest.approx(overall["precision"], abs=1e-6)
        assert ours["recall"] == pytest.approx(overall["recall"], abs=1e-6)
        assert_class_wise(ours, metric.results_class_wise_metrics())


def test_segment_based_equals_sed_eval():
    sed_eval = _sed_eval()
    for reference, estimated in cases():
        metric = sed_eval.sound_event.SegmentBasedMetrics(
            event_label_list=list(LABELS), time_resolution=1.0
        )
        # Its constructor lacks the option that its class-wise F1 reads.
        metric.empty_system_output_handling = ZERO_SCORE
        for name in sorted(set(reference) | set(estimated)):
            metric.evaluate(
                rows(name, reference.get(name, [])), rows(name, estimated.get(name, []))
            )
        ours = segment_based_scores(reference, estimated, time_resolution=1.0)
        overall = metric.results_overall_metrics()
        assert ours["f1"] == pytest.approx(overall["f_measure"]["f_measure"], abs=1e-6)
        assert ours["error_rate"] == pytest.approx(
            overall["error_rate"]["error_rate"], abs=1e-6
        )
        assert_class_wise(ours, metric.results_class_wise_metrics())


def test_psds_of_ideal_scores_is_one():
    pytest.importorskip("sed_scores_eval")
    from speechbrain_ast.tagging.evaluation import psds_scores

    reference = {"a.wav": [Event("dog", 1.0, 3.0), Event("siren", 4.0, 6.0)]}
    times = torch.arange(0, 8.0, 0.5)
    scores = torch.zeros(len(times), 2)
    scores[(times >= 1.0) & (times < 3.0), 0] = 1.0
    scores[(times >= 4.0) & (times < 6.0), 1] = 1.0
    ideal = EventDetection("audio/a.wav", 8.0, [], times, scores, ["dog", "siren"])
    result = psds_scores(reference, [ideal])
    assert result["psds1"] == pytest.approx(1.0) and result["psds2"] == pytest.approx(
        1.0
    )
    # detections only where nothing happens: no PSDS1 operating point has a hit
    inverted = EventDetection(
        "audio/a.wav", 8.0, [], times, 1.0 - scores, ["dog", "siren"]
    )
    assert psds_scores(reference, [inverted])["psds1"] == 0.0
