"""The event-detection and live-latency benchmark scripts run end to end.

Tiny random model with the two classes of the bundled ESC-50 fold-5 clips;
the numbers are not checked (random weights), the recordings and the output
are.
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch

from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead
from speechbrain_ast.model_folder import write_model_folder
from speechbrain_ast.tagging.events import Event

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _load(name):
    path = os.path.join(REPO, "benchmarks", f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    encoder = AudioSpectrogramTransformer(
        n_frames=100, embed_dim=32, depth=1, num_heads=2
    )
    folder = str(tmp_path_factory.mktemp("bench") / "model")
    labels = ["dog", "rooster"]
    return write_model_folder(
        folder, encoder, ClassificationHead(32, 2), labels, -6.6, 5.4, False
    )


def test_synthetic_recordings_have_known_boundaries(samples):
    bench = _load("event_detection")
    clips = bench.read_fold(str(samples / "ESC-50-master"), 5, "esc10")
    assert sorted(category for _, category in clips) == ["dog", "rooster"]
    recordings = bench.build_recordings(clips, per_recording=5, seed=0)
    assert len(recordings) == 1
    name, wav, events = recordings[0]
    assert sorted(event.label for event in events) == ["dog", "rooster"]
    previous_offset = 0.0
    for event in events:
        gap = event.onset - previous_offset
        assert 1.0 <= gap <= 3.0
        first, stop = round(event.onset * 16000), round(event.offset * 16000)
        inside = wav[first:stop]
        assert inside.abs().max() > 0.01  # the clip is there
        assert wav[round(previous_offset * 16000) : first].abs().max() < 0.02  # gap
        previous_offset = event.offset
    assert wav.numel() / 16000 - events[-1].offset >= 1.0
    # trimming keeps the loud part and drops digital silence
    quiet = torch.cat([torch.zeros(3200), torch.ones(1600), torch.zeros(3200)])
    assert bench.audible_extent(quiet) == (3200, 4800)
    assert isinstance(events[0], Event)


def test_event_benchmark_script(model, samples, tmp_path):
    out = tmp_path / "events.json"
    command = [sys.executable, os.path.join(REPO, "benchmarks", "event_detection.py")]
    command += ["--model", model, "--esc50", str(samples / "ESC-50-master")]
    command += ["--hop", "0.5", "--threshold", "0.5", "--median", "0", "1"]
    command += ["--min-level", "-60", "--out", str(out), "--lists", str(tmp_path)]
    proc = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "| window (s) | hop (s) |" in proc.stdout
    result = json.loads(out.read_text())
    assert result["reference_events"] == 2 and len(result["rows"]) == 4
    row = result["rows"][0]
    assert 0.0 <= row["event_f1"] <= 1.0 and 0.0 <= row["segment_f1"] <= 1.0
    assert (tmp_path / "reference.tsv").read_text().startswith("filename\tonset")
    assert (tmp_path / "estimated_03.tsv").is_file()


def test_live_latency_script(model, samples, tmp_path):
    out = tmp_path / "latency.json"
    audio = samples / "ESC-50-master" / "audio" / "5-203128-A-0.wav"
    command = [sys.executable, os.path.join(REPO, "benchmarks", "live_latency.py")]
    command += ["--model", model, "--audio", str(audio), "--seconds", "3"]
    command += ["--startup", "2", "--json", str(out)]
    proc = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    # 3 s, 1.015 s windows every 0.5075 s: 4 live windows (+ 1 at the end)
    assert result["windows"] == 4 and result["hop_ms"] == pytest.approx(507.5)
    assert len(result["latencies_ms"]) == 4


def test_synthetic_recordings_with_fixed_silent_gaps(samples):
    """``--gap-seconds 1 1 --gap-kind silence``: the six-sounds shape."""
    bench = _load("event_detection")
    clips = bench.read_fold(str(samples / "ESC-50-master"), 5, "esc10")
    ((_, wav, events),) = bench.build_recordings(
        clips, per_recording=6, seed=0, gap_seconds=(1.0, 1.0), gap_kind="silence"
    )
    previous_offset = 0.0
    for event in events:
        assert event.onset - previous_offset == pytest.approx(1.0, abs=1e-4)
        gap = wav[round(previous_offset * 16000) : round(event.onset * 16000)]
        assert gap.abs().max() == 0.0  # digital silence, not noise
        previous_offset = event.offset
