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


# Six sounds, 3 s each, 1 s of digital silence around each one; each sound is a
# sine whose frequency names its class, so a scorer can give known scores.
TONES = {"a": 250.0, "b": 500.0, "c": 1000.0}
SIX_SOUNDS = ["a", "b", "c", "a", "b", "c"]


def _six_sounds(levels_db=None, rate=16000):
    """The waveform and its reference events (a sound every 4 s from 1 s)."""
    parts, truth, position = [torch.zeros(rate)], [], 1.0
    t = torch.arange(3 * rate) / rate
    for index, label in enumerate(SIX_SOUNDS):
        level = (levels_db or {}).get(index, -20.0)
        # a sine's RMS is its amplitude / sqrt(2)
        amplitude = math.sqrt(2) * 10 ** (level / 20)
        parts += [amplitude * torch.sin(2 * math.pi * TONES[label] * t)]
        parts += [torch.zeros(rate)]
        truth.append(Event(label, position, position + 3.0))
        position += 4.0
    return torch.cat(parts), truth


def _tone_scorer(multi_label):
    """``score_batch`` that knows each window's tone: its class scores highest.

    Single-label: a softmax-like row whose top is 0.45 (below the old fixed
    0.5, as a softmax over many classes is); multi-label: sigmoid-like, 0.9
    for the tone's class. Silent windows: flat, nothing stands out.
    """

    def score_batch(self, wavs, wav_lens=None):
        wavs = wavs.reshape(-1, wavs.shape[-1])
        rows = []
        for wav in wavs:
            if wav.abs().max() < 1e-6:
                rows.append([0.1] * 3 if multi_label else [1 / 3] * 3)
                continue
            peak_hz = float(torch.fft.rfft(wav).abs().argmax()) * 16000 / wav.numel()
            top = min(TONES, key=lambda label: abs(TONES[label] - peak_hz))
            high, low = (0.9, 0.1) if multi_label else (0.45, 0.275)
            rows.append([high if label == top else low for label in TONES])
        return torch.tensor(rows)

    return score_batch


@pytest.mark.parametrize("multi_label", [False, True])
def test_default_events_find_six_sounds_single_and_multi_label(
    tmp_path, monkeypatch, multi_label
):
    """The measured trap: on six sounds with 1 s of silence between them, the
    old default (any class from 0.5) found nothing in softmax scores."""
    from speechbrain_ast.tagging.scoring import BatchScoring

    monkeypatch.setattr(BatchScoring, "score_batch", _tone_scorer(multi_label))
    tagger = AudioTagger.from_hparams(tiny_model_folder(tmp_path, multi_label))
    wav, truth = _six_sounds()
    found = tagger.detect_events(wav, sample_rate=16000).events
    assert [event.label for event in found] == SIX_SOUNDS
    # boundaries within one window (1.295 s): a window blurs them by half
    scores = event_based_scores({"x": truth}, {"x": found}, t_collar=1.295)
    assert scores["f1"] == 1.0, found
    # the silent first and last frames hold no event
    assert found[0].onset > 0.6 and found[-1].offset < wav.numel() / 16000 - 0.3


def test_quiet_sound_kept_by_default_removed_by_a_level_gate(tmp_path, monkeypatch):
    """A real sound at -75 dBFS RMS (a distant siren) is an event by default;
    ``min_level_db=-60`` (the README's former example) removes it."""
    from speechbrain_ast.tagging.scoring import BatchScoring

    monkeypatch.setattr(BatchScoring, "score_batch", _tone_scorer(False))
    tagger = AudioTagger.from_hparams(tiny_model_folder(tmp_path, False))
    wav, truth = _six_sounds(levels_db={2: -75.0})
    default = tagger.detect_events(wav, sample_rate=16000).events
    assert [event.label for event in default] == SIX_SOUNDS
    gated = tagger.detect_events(wav, sample_rate=16000, min_level_db=-60).events
    assert [event.label for event in gated] == ["a", "b", "a", "b", "c"]


def test_top_rule_on_softmax_scores():
    """Single-label scores: the top class per frame, consecutive frames of
    one class merged; the threshold rule at 0.5 finds nothing in them."""
    labels = [f"class{index}" for index in range(50)]
    scores = torch.full((8, 50), 0.8 / 49)
    scores[:3, 7] = scores[3:, 20] = 0.2  # a softmax over 50 classes
    times = torch.arange(8) * 0.5
    top = events_from_frames(times, scores, labels, torch.zeros(50), rule="top")
    assert [(e.label, e.onset, e.offset) for e in top] == [
        ("class7", 0.0, 1.5),
        ("class20", 1.5, 4.0),
    ]
    assert events_from_frames(times, scores, labels, torch.full((50,), 0.5)) == []
    # per-class thresholds still apply to the top class
    strict = class_thresholds({"class20": 0.3}, labels, default=0.0)
    assert [
        e.label for e in events_from_frames(times, scores, labels, strict, rule="top")
    ] == ["class7"]
    with pytest.raises(ValueError, match="rule"):
        events_from_frames(times, scores, labels, torch.zeros(50), rule="max")


def test_silent_frames_hold_no_event():
    """Frames whose peak is below SILENCE_THRESHOLD (the rule that flags a
    silent file) hold no event, with any threshold; quiet sound is kept."""
    wav = torch.cat([torch.zeros(16000), 2e-4 * torch.ones(16000), torch.zeros(16000)])
    result = detect_events_in_timeline(
        [0.0, 1.0, 2.0], [1.0, 2.0, 3.0], torch.ones(3, 1), ["a"], 3.0,
        thresholds=0.0, waveform=wav,
    )  # fmt: skip
    assert [(e.onset, e.offset) for e in result.events] == [(1.0, 2.0)]
    no_waveform = detect_events_in_timeline(
        [0.0, 1.0, 2.0], [1.0, 2.0, 3.0], torch.ones(3, 1), ["a"], 3.0, thresholds=0.0
    )
    assert [(e.onset, e.offset) for e in no_waveform.events] == [(0.0, 3.0)]
