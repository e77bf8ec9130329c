"""Live tagging: byte streams (WAV, raw PCM) cut into windows, stdin through the CLI.

Subprocess tests pipe bytes into ``speechbrain-ast tag -`` with a timeout, so a
hang fails the test instead of blocking the run.
"""

import io
import json
import os
import queue
import struct
import subprocess
import sys
import threading

import numpy as np
import pytest
import soundfile
import torch

from speechbrain_ast.audio import AudioError
from speechbrain_ast.cli import main
from speechbrain_ast.tagging.streaming import PcmStream, WindowCutter, tag_stream
from speechbrain_ast.tagging.tagger import AudioTagger, window_starts
from tests.helpers import tiny_model_folder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
TIMEOUT = 120


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    return tiny_model_folder(tmp_path_factory.mktemp("stream"))


@pytest.fixture(scope="module")
def tagger(model):
    return AudioTagger.from_hparams(model)


@pytest.fixture(scope="module")
def signal():
    return (0.1 * np.random.default_rng(0).standard_normal(16000 * 3)).astype("float32")


def _wav_bytes(signal, rate=16000, subtype="PCM_16", channels=1):
    data = signal if channels == 1 else np.stack([signal] * channels, axis=1)
    buffer = io.BytesIO()
    soundfile.write(buffer, data, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


class _Trickle(io.RawIOBase):
    """A stream that returns at most ``size`` bytes per read (like a pipe)."""

    def __init__(self, data, size):
        self.data, self.size, self.position = data, size, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        part = self.data[self.position : self.position + min(len(buffer), self.size)]
        buffer[: len(part)] = part
        self.position += len(part)
        return len(part)


@pytest.mark.parametrize("window, hop", [(4, 2), (5, 5), (7, 3), (8, 1)])
def test_window_cutter_matches_window_starts(window, hop):
    for n_samples in range(1, 30):
        for chunk in (1, 2, 3, 11):
            cutter = WindowCutter(window, hop)
            signal = torch.arange(float(n_samples))
            windows = []
            for first in range(0, n_samples, chunk):
                windows += cutter.push(signal[first : first + chunk])
            windows += cutter.finish()
            assert [start for start, _ in windows] == window_starts(
                n_samples, window, hop
            )
            for start, samples in windows:
                assert samples.tolist() == signal[start : start + window].tolist()
    assert WindowCutter(4, 2).finish() == []
    with pytest.raises(ValueError):
        WindowCutter(4, 5)


def test_stream_equals_file_tagging(tagger, signal):
    wav = _wav_bytes(signal)
    for read_size in (100, 4097, 1 << 16):
        windows = list(tag_stream(tagger, _Trickle(wav, read_size), top_k=None))
        expected = tagger.tag_waveform(
            torch.from_numpy(signal).float(), top_k=None, sample_rate=16000
        )  # PCM_16 rounding: compare with what the stream holds
        assert [(w["start"], w["end"]) for w in windows] == [
            (w["start"], w["end"]) for w in expected.timeline
        ]
        assert [w["final"] for w in windows] == [False] * (len(windows) - 1) + [True]
        for got, want in zip(windows, expected.timeline):
            assert [label for label, _ in got["labels"]] == [
                label for label, _ in want["labels"]
            ]
            assert got["labels"][0][1] == pytest.approx(want["labels"][0][1], abs=2e-3)


def test_raw_pcm_formats_and_resampling(tagger, signal):
    raw = (signal * 32767).astype("<i2")
    mono = list(tag_stream(tagger, io.BytesIO(raw.tobytes()), rate=16000, top_k=1))
    stereo_bytes = np.stack([raw, raw], axis=1).tobytes()
    stereo = list(tag_stream(tagger, io.BytesIO(stereo_bytes), rate=16000, channels=2))
    assert [w["start"] for w in mono] == [w["start"] for w in stereo]
    assert mono[0]["labels"][0][0] == stereo[0]["labels"][0][0]
    # an 8 kHz WAV: same windows in seconds, resampled per window
    slow = list(tag_stream(tagger, io.BytesIO(_wav_bytes(signal[::2], rate=8000))))
    assert [(w["start"], w["end"]) for w in slow] == [
        (w["start"], w["end"]) for w in mono
    ]
    # float, 24-bit and 8-bit WAV decode like soundfile
    for subtype in ("FLOAT", "PCM_24", "PCM_32", "PCM_U8"):
        data = _wav_bytes(signal, subtype=subtype, channels=2)
        pcm = PcmStream.open(io.BytesIO(data))
        decoded = torch.cat([chunk for chunk, _ in pcm.chunks()]).numpy()
        reference = soundfile.read(io.BytesIO(data), dtype="float32")[0].mean(axis=1)
        assert np.allclose(decoded, reference, atol=1e-6), subtype
    short = list(tag_stream(tagger, io.BytesIO(raw[:100].tobytes()), rate=16000))
    assert [(w["start"], w["end"], w["final"]) for w in short] == [(0.0, 0.0063, True)]


def test_bad_streams_raise_clear_errors(tagger, signal):
    wav = _wav_bytes(signal)
    cases = {
        b"": "stream is empty",
        b"just some text, not audio": "not a WAV stream",
        wav[:30]: "header cut short",
        b"RIFF\x00\x00\x00\x00AVI LIST": "RIFF without WAVE",
        wav[:44]: "contains no samples",
        _wav_bytes(signal, subtype="ULAW"): "unsupported WAV sample format",
    }
    for data, message in cases.items():
        with pytest.raises(AudioError, match=message):
            list(tag_stream(tagger, io.BytesIO(data), name="<in>"))
    with pytest.raises(AudioError, match="rate mismatch: --rate 8000"):
        list(tag_stream(tagger, io.BytesIO(wav), rate=8000))
    nan = _wav_bytes(np.full(1000, np.nan, dtype="float32"), subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        list(tag_stream(tagger, io.BytesIO(nan)))
    huge = wav[:12] + b"junk" + struct.pack("<I", 1 << 30)
    with pytest.raises(AudioError, match="chunk b'junk'"):
        list(tag_stream(tagger, io.BytesIO(huge)))


def test_truncated_stream_is_tagged_with_a_warning(tagger, signal):
    wav = _wav_bytes(signal)
    cut = wav[: 44 + 2 * 20000 + 1]  # 1.25 s and half a sample
    warnings = []
    windows = list(tag_stream(tagger, io.BytesIO(cut), on_warning=warnings.append))
    assert [(w["start"], w["end"], w["final"]) for w in windows] == [(0.0, 1.25, True)]
    assert len(warnings) == 2
    assert "inside a sample" in warnings[0] and "truncated" in warnings[1]
    # live writers announce no size: no warning at the end
    live = bytearray(wav)
    live[40:44] = struct.pack("<I", 0xFFFFFFFF)
    warnings.clear()
    list(tag_stream(tagger, io.BytesIO(bytes(live)), on_warning=warnings.append))
    assert warnings == []


def _run_cli(stdin_bytes, *args):
    command = [sys.executable, "-m", "speechbrain_ast.cli", "tag", "-", *args]
    return subprocess.run(
        command, input=stdin_bytes, env=ENV, capture_output=True, timeout=TIMEOUT
    )


def test_cli_stdin_subprocess(model, signal):
    proc = _run_cli(_wav_bytes(signal), "--model", model, "--json", "--top-k", "2")
    assert proc.returncode == 0, proc.stderr.decode()
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [line["start"] for line in lines] == [0.0, 0.6475, 1.295, 1.705]
    assert all(len(line["labels"]) == 2 and line["latency_ms"] >= 0 for line in lines)
    assert lines[-1]["final"] and lines[-1]["end"] == 3.0

    proc = _run_cli(b"plain text, no audio\n" * 50, "--model", model)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and proc.stdout == b"", err
    assert err.splitlines() == [
        "error: <stdin>: not a WAV stream (starts with b'plain text, '); for raw "
        "16-bit PCM give its rate (--rate)"
    ]


def _main_with_stdin(monkeypatch, data, *args):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    return main(["tag", "-", *args])


def test_cli_stdin_in_process(model, signal, monkeypatch, capsys):
    raw = (signal * 32767).astype("<i2").tobytes()
    code = _main_with_stdin(monkeypatch, raw, "--model", model, "--rate", "16000")
    out = capsys.readouterr()
    assert code == 0, out.err
    lines = out.out.splitlines()
    assert len(lines) == 4 and lines[0].startswith("0.000-1.295\t")
    assert len(lines[0].split("\t")) == 1 + 3  # time, then top-k labels (3 classes)

    for data, args, message in [
        (_wav_bytes(signal), ("--rate", "44100"), "rate mismatch"),
        (b"", (), "stream is empty"),
        (_wav_bytes(signal)[:20], (), "header cut short"),
    ]:
        code = _main_with_stdin(monkeypatch, data, "--model", model, *args)
        out = capsys.readouterr()
        assert code == 1 and out.out == "", out.err
        assert out.err.startswith("error: <stdin>: ") and message in out.err

    code = _main_with_stdin(monkeypatch, _wav_bytes(signal)[:30000], "--model", model)
    out = capsys.readouterr()
    assert code == 0 and "warning: <stdin>: stream truncated" in out.err
    assert len(out.out.splitlines()) == 1

    for args, message in [
        (("--model", model, "--events"), "--events: not available for live input"),
        (("--model", model, "--plot", "x.png"), "--plot: not available"),
        (("--model", model, "--hop", "9"), "--hop: "),
    ]:
        assert _main_with_stdin(monkeypatch, b"", *args) == 2
        assert message in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert main(["tag", "-", "other.wav", "--model", model]) == 2
    assert "must be the only FILE" in capsys.readouterr().err

    class Terminal(io.TextIOWrapper):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Terminal(io.BytesIO(b"")))
    assert main(["tag", "-", "--model", model]) == 2
    assert "standard input is a terminal" in capsys.readouterr().err


def test_cli_prints_each_window_before_the_stream_ends(model, signal):
    """Lines come out while stdin is still open (live), not at the end."""
    wav = _wav_bytes(signal)
    header = wav[:44]
    live = header[:40] + struct.pack("<I", 0xFFFFFFFF)  # size unknown, as arecord
    command = [sys.executable, "-m", "speechbrain_ast.cli", "tag", "-"]
    proc = subprocess.Popen(
        command + ["--model", model, "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    lines = queue.Queue()
    reader = threading.Thread(
        target=lambda: [lines.put(line) for line in proc.stdout], daemon=True
    )
    reader.start()
    try:
        # 1.5 windows of audio: exactly one window is complete
        proc.stdin.write(live + wav[44 : 44 + 2 * 24000])
        proc.stdin.flush()
        first = json.loads(lines.get(timeout=TIMEOUT))
        assert (first["start"], first["end"], first["final"]) == (0.0, 1.295, False)
        assert lines.empty()  # the second window is not complete yet
        proc.stdin.write(wav[44 + 2 * 24000 :])
        proc.stdin.close()
        assert proc.wait(timeout=TIMEOUT) == 0, proc.stderr.read().decode()
        reader.join(timeout=TIMEOUT)
        rest = [json.loads(lines.get_nowait()) for _ in range(lines.qsize())]
        assert [line["start"] for line in rest] == [0.6475, 1.295, 1.705]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_live_silent_windows_are_flagged(model, signal, monkeypatch, capsys):
    """A silent stretch of a live stream is flagged as a silent file is."""
    quiet_middle = np.concatenate([signal[:16000], np.zeros(32000, "float32")])
    code = _main_with_stdin(
        monkeypatch, _wav_bytes(quiet_middle), "--model", model, "--json"
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    windows = [json.loads(line) for line in out.out.splitlines()]
    # 1.295 s windows every 0.6475 s: the first holds the noise, the others not
    assert [window["silent"] for window in windows] == [False, False, True, True]
    assert not any(window["too_short"] for window in windows)
    code = _main_with_stdin(monkeypatch, _wav_bytes(quiet_middle), "--model", model)
    lines = capsys.readouterr().out.splitlines()
    assert [line.endswith("\t(silent: labels not meaningful)") for line in lines] == [
        False,
        False,
        True,
        True,
    ]
