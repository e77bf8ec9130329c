"""Sound event detection: events from window timelines, DCASE lists, F1 metrics."""

import json
import logging
import math
import os

import pytest
import torch

from speechbrain_ast.tagging.event_metrics import (
    event_based_scores,
    segment_based_scores,
)
from speechbrain_ast.tagging.events import (
    Event,
    class_thresholds,
    detect_events_in_timeline,
    events_from_frames,
    frame_scores_from_windows,
    median_filter,
    read_event_list,
    write_event_list,
)
from speechbrain_ast.tagging.tagger import AudioTagger
from speechbrain_ast.training.plots import plot_event_timeline
from tests.helpers import tiny_model_folder


def _synthetic_timeline(truth, labels, duration, window, hop):
    """Window scores of an ideal tagger: per class, the fraction of the window
    that the class's true events cover."""
    starts = [
        round(k * hop, 6) for k in range(int((duration - window) / hop + 1e-9) + 1)
    ]
    ends = [start + window for start in starts]
    scores = torch.zeros(len(starts), len(labels))
    for row, (start, end) in enumerate(zip(starts, ends)):
        for event in truth:
            overlap = max(0.0, min(end, event.offset) - max(start, event.onset))
            column = labels.index(event.label)
            scores[row, column] = max(scores[row, column], overlap / window)
    return starts, ends, scores


def test_frames_average_overlapping_windows():
    scores = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    times, frames = frame_scores_from_windows(
        [0.0, 1.0, 2.0], [2.0, 3.0, 4.0], scores, 4.0, 1.0
    )
    assert times.tolist() == [0.0, 1.0, 2.0, 3.0]
    expected = [[1.0, 0.0], [0.5, 0.5], [0.25, 0.75], [0.5, 0.5]]
    assert torch.allclose(frames, torch.tensor(expected))
    _, frames = frame_scores_from_windows(
        [0.0, 1.0, 2.0], [2.0, 3.0, 4.0], scores, 4.0, 1.0, merge="max"
    )
    assert frames[1].tolist() == [1.0, 1.0]
    # a gap between windows takes the nearest window; a partial last frame
    _, frames = frame_scores_from_windows(
        [0.0, 3.0], [1.0, 4.0], torch.tensor([[1.0], [0.0]]), 4.0, 1.0
    )
    assert frames[:, 0].tolist() == [1.0, 1.0, 0.0, 0.0]
    times, frames = frame_scores_from_windows([0.0], [2.5], torch.ones(1, 1), 2.5, 1.0)
    assert times.tolist() == [0.0, 1.0, 2.0] and frames.shape == (3, 1)
    with pytest.raises(ValueError, match="window scores"):
        frame_scores_from_windows([0.0], [1.0], torch.ones(2, 1), 1.0, 1.0)
    with pytest.raises(ValueError, match="merge"):
        frame_scores_from_windows([0.0], [1.0], torch.ones(1, 1), 1.0, 1.0, "median")


def test_median_filter_removes_blips_and_fills_gaps():
    track = torch.tensor([0, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0]).bool()
    out = median_filter(track[:, None], 3)[:, 0].int().tolist()
    assert out == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    assert median_filter(track[:, None], 4).equal(median_filter(track[:, None], 5))
    assert median_filter(track[:, None], 1).equal(track[:, None])
    assert median_filter(torch.zeros(0, 2), 3).shape == (0, 2)
    with pytest.raises(ValueError):
        median_filter(track[:, None], 0)


def test_events_from_frames_exact_runs():
    times = torch.arange(8) * 0.5
    scores = torch.zeros(8, 2)
    scores[1:4, 0] = torch.tensor([0.6, 0.9, 0.7])
    scores[6:, 0] = 0.8  # runs to the end of the recording
    scores[2:5, 1] = 0.4  # below the dog threshold, above the cat one
    events = events_from_frames(
        times, scores, ["dog", "cat"], torch.tensor([0.5, 0.3]), duration=3.8
    )
    assert events == [
        Event("dog", 0.5, 2.0, 0.9),
        Event("cat", 1.0, 2.5, 0.4),
        Event("dog", 3.0, 3.8, 0.8),
    ]
    assert (
        events_from_frames(times[:0], scores[:0], ["dog", "cat"], torch.ones(2)) == []
    )


def test_class_thresholds():
    assert class_thresholds(0.3, ["a", "b"]).tolist() == pytest.approx([0.3, 0.3])
    assert class_thresholds({"b": 0.1}, ["a", "b"]).tolist() == pytest.approx(
        [0.5, 0.1]
    )
    with pytest.raises(ValueError, match="unknown labels: z"):
        class_thresholds({"z": 0.1}, ["a", "b"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        class_thresholds(1.5, ["a"])


@pytest.mark.parametrize("window, hop", [(1.0, 0.25), (2.0, 0.5), (0.5, 0.125)])
def test_ideal_timeline_recovers_events_within_one_hop(window, hop):
    labels = ["dog", "rain", "siren"]
    truth = [
        Event("dog", 1.0, 3.0),
        Event("rain", 2.5, 6.0),  # overlaps the dog
        Event("siren", 8.0, 9.5),
        Event("dog", 11.0, 12.0),
    ]
    duration = 14.0
    starts, ends, scores = _synthetic_timeline(truth, labels, duration, window, hop)
    # an event fills at least half of a window around its middle
    result = detect_events_in_timeline(
        starts, ends, scores, labels, duration, thresholds=0.25, median_seconds=0.0
    )
    found = sorted(result.events, key=lambda event: (event.label, event.onset))
    expected = sorted(truth, key=lambda event: (event.label, event.onset))
    assert [event.label for event in found] == [event.label for event in expected]
    for got, true in zip(found, expected):
        assert abs(got.onset - true.onset) <= window / 2 + hop
        assert abs(got.offset - true.offset) <= window / 2 + hop
        assert 0.25 <= got.score <= 1.0
    scores_ = event_based_scores({"x": truth}, {"x": result.events}, t_collar=1.0)
    assert scores_["f1"] == 1.0
    assert result.frame_scores.shape == (len(result.frame_times), 3)


def test_median_filter_merges_a_broken_event():
    labels = ["dog"]
    starts = [0.25 * k for k in range(37)]
    ends = [start + 1.0 for start in starts]
    scores = torch.full((37, 1), 0.9)
    scores[16] = 0.1  # one bad window: 4 frames at 0.7 inside a 10 s event
    plain = detect_events_in_timeline(
        starts, ends, scores, labels, 10.0, thresholds=0.75
    )
    smooth = detect_events_in_timeline(
        starts, ends, scores, labels, 10.0, thresholds=0.75, median_seconds=2.25
    )
    assert len(plain.events) == 2
    assert [(e.onset, e.offset) for e in smooth.events] == [(0.0, 10.0)]


def test_event_list_round_trip_and_errors(tmp_path):
    detections = [
        detect_events_in_timeline(
            [0.0], [2.0], torch.tensor([[0.9, 0.1]]), ["a", "b"], 2.0
        ),
        detect_events_in_timeline(
            [0.0], [2.0], torch.tensor([[0.1, 0.1]]), ["a", "b"], 2.0
        ),
    ]
    detections[0].path = os.path.join("street", "loud.wav")
    detections[1].path = os.path.join("street", "quiet.wav")
    path = write_event_list(detections, tmp_path / "sub" / "events.tsv")
    lines = open(path).read().splitlines()
    # file names as DCASE lists have them; a recording without events keeps a row
    assert lines == [
        "filename\tonset\toffset\tevent_label",
        "loud.wav\t0.000\t2.000\ta",
        "quiet.wav",
    ]
    assert read_event_list(path) == {
        "loud.wav": [Event("a", 0.0, 2.0)],
        "quiet.wav": [],
    }
    # names that repeat keep their paths (file names would merge them)
    detections[1].path = os.path.join("park", "loud.wav")
    lines = open(write_event_list(detections, path)).read().splitlines()
    assert lines[1:] == [
        f"{os.path.join('street', 'loud.wav')}\t0.000\t2.000\ta",
        detections[1].path,
    ]
    bad = tmp_path / "bad.tsv"
    bad.write_text("a.wav\t1.0\tx\tdog\n")
    with pytest.raises(ValueError, match=r"bad.tsv: line 1"):
        read_event_list(str(bad))
    bad.write_text("a.wav\t2.0\t1.0\tdog\nb.wav\n")
    with pytest.raises(ValueError, match="offset 1.0 < onset 2.0"):
        read_event_list(str(bad))
    bad.write_text("a.wav\nb.wav\t1\t2\tdog\n")
    assert read_event_list(str(bad)) == {"a.wav": [], "b.wav": [Event("dog", 1.0, 2.0)]}


def test_event_based_f1_definitions():
    ref = {"a": [Event("dog", 1.0, 5.0), Event("cat", 6.0, 7.0)], "b": []}
    # dog: onset 0.9 s late, offset 1.9 s early: within max(1, 50 % of 4 s)
    est = {"a": [Event("dog", 1.9, 3.1), Event("cat", 6.5, 9.0)]}
    full = event_based_scores(ref, est, t_collar=1.0)
    assert (full["tp"], full["fp"], full["fn"]) == (1, 1, 1)
    assert full["f1"] == pytest.approx(0.5)
    assert full["class_wise_f1"] == {"cat": 0.0, "dog": 1.0}
    onset_only = event_based_scores(ref, est, t_collar=1.0, evaluate_offset=False)
    assert onset_only["f1"] == 1.0
    strict = event_based_scores(ref, est, t_collar=0.5)
    assert strict["tp"] == 0 and strict["f1"] == 0.0
    # wrong label or wrong file never matches
    assert event_based_scores(ref, {"a": [Event("cat", 1.0, 5.0)]})["tp"] == 0
    assert event_based_scores(ref, {"b": [Event("dog", 1.0, 5.0)]})["tp"] == 0
    # optimal pairing: a greedy first-fit would pair the first estimate with
    # the first reference and leave the second reference unmatched
    ref2 = {"a": [Event("dog", 0.0, 1.0), Event("dog", 1.5, 2.5)]}
    est2 = {"a": [Event("dog", 0.8, 1.8), Event("dog", -0.5, 0.5)]}
    assert (
        event_based_scores(ref2, est2, t_collar=1.0, evaluate_offset=False)["tp"] == 2
    )
    # duplicates: each reference matches one estimate
    dup = event_based_scores(ref2, {"a": [Event("dog", 0.0, 1.0)] * 3})
    assert (dup["tp"], dup["fp"], dup["fn"]) == (1, 2, 1)


def test_event_lists_match_by_file_name(caplog):
    ref = {"a.wav": [Event("dog", 1.0, 2.0)], "b.wav": []}
    est = {os.path.join("recordings", "a.wav"): [Event("dog", 1.0, 2.0)]}
    assert event_based_scores(ref, est)["f1"] == 1.0
    assert segment_based_scores(ref, est)["f1"] == 1.0
    assert not caplog.records
    # names that never meet: F1 0 with a warning, not silently
    with caplog.at_level(logging.WARNING):
        assert event_based_scores(ref, {"c.wav": est[next(iter(est))]})["f1"] == 0.0
    assert "none of the 1 estimated file names (e.g. c.wav)" in caplog.text
    twice = {"x/a.wav": [], "y/a.wav": []}
    with pytest.raises(ValueError, match="x/a.wav and y/a.wav have the same file name"):
        event_based_scores(ref, twice)


def test_error_rate_without_reference_events_is_undefined():
    scores = segment_based_scores({"a.wav": []}, {"a.wav": [Event("dog", 0.0, 1.0)]})
    assert math.isnan(scores["error_rate"]) and scores["fp"] == 1


def test_segment_based_f1_and_error_rate():
    ref = {"a": [Event("dog", 0.0, 2.0), Event("cat", 2.5, 3.0)]}
    est = {"a": [Event("dog", 0.5, 1.0), Event("rain", 2.2, 2.4)]}
    scores = segment_based_scores(ref, est, time_resolution=1.0)
    # segments: dog 0,1 vs 0; cat 2 vs -; rain - vs 2
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 1, 2)
    assert scores["f1"] == pytest.approx(2 / 5)
    # segment 1: one deletion; segment 2: cat missed + rain inserted = 1 substitution
    assert scores["error_rate"] == pytest.approx(2 / 3)
    assert scores["n_segments"] == 3
    longer = segment_based_scores(ref, est, durations={"a": 10.0})
    assert longer["n_segments"] == 10 and longer["f1"] == scores["f1"]
    perfect = segment_based_scores(ref, ref)
    assert perfect["f1"] == 1.0 and perfect["error_rate"] == 0.0
    with pytest.raises(ValueError):
        segment_based_scores(ref, est, time_resolution=0)


@pytest.fixture(scope="module")
def tagger(tmp_path_factory):
    torch.manual_seed(0)
    return AudioTagger.from_hparams(
        tiny_model_folder(tmp_path_factory.mktemp("events"))
    )


def test_audio_tagger_detect_events(tagger, tmp_path):
    wav = 0.1 * torch.randn(16000 * 4)
    everything = tagger.detect_events(
        wav, thresholds=0.0, hop_seconds=0.5, sample_rate=16000
    )
    assert [(e.label, e.onset, e.offset) for e in everything.events] == [
        ("a", 0.0, 4.0),
        ("b", 0.0, 4.0),
        ("c", 0.0, 4.0),
    ]
    assert everything.frame_times.tolist() == [0.5 * k for k in range(8)]
    assert tagger.detect_events(wav, thresholds=1.0, sample_rate=16000).events == []
    only_b = tagger.detect_events(
        wav, thresholds={"a": 1.0, "b": 0.0, "c": 1.0}, sample_rate=16000
    )
    assert {event.label for event in only_b.events} == {"b"}
    # frame scores are the merged window scores of tag_waveform
    tagged = tagger.tag_waveform(
        wav, hop_seconds=0.5, window_seconds=1.0, top_k=None, sample_rate=16000
    )
    short = tagger.detect_events(
        wav, thresholds=0.0, hop_seconds=0.5, window_seconds=1.0, sample_rate=16000
    )
    assert tagged.window_scores.shape == (7, 3)
    assert [w["end"] - w["start"] for w in tagged.timeline] == [1.0] * 7
    assert torch.allclose(short.frame_scores[0], tagged.window_scores[0])
    assert torch.allclose(short.frame_scores[1], tagged.window_scores[:2].mean(0))
    with pytest.raises(ValueError, match="window_seconds"):
        tagger.detect_events(wav, window_seconds=5.0, sample_rate=16000)
    with pytest.raises(ValueError, match="hop_seconds"):
        tagger.detect_events(
            wav, window_seconds=0.5, hop_seconds=0.6, sample_rate=16000
        )
    gated_wav = wav.clone()
    gated_wav[16000:32000] = 0.0  # second 1-2: digital silence
    gated = tagger.detect_events(
        gated_wav, thresholds=0.0, hop_seconds=0.5, min_level_db=-60, sample_rate=16000
    )
    assert {(e.onset, e.offset) for e in gated.events} == {(0.0, 1.0), (2.0, 4.0)}
    with pytest.raises(ValueError, match="needs the waveform"):
        detect_events_in_timeline(
            [0.0], [1.0], torch.ones(1, 1), ["a"], 1.0, min_level_db=-60
        )
    document = json.loads(json.dumps(everything.to_dict()))
    assert document["events"][0] == {
        "label": "a",
        "onset": 0.0,
        "offset": 4.0,
        "score": pytest.approx(everything.events[0].score),
    }
    png = plot_event_timeline(everything, tmp_path / "plot.png", top_n=1)
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
