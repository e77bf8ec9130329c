"""`make gpu-check` cannot rot: its smoke mode runs every step on the CPU.

* ``benchmarks/gpu_check.py --smoke`` (tiny model, a few steps) on a data
  bundle packed from the bundled ESC-50 samples: every step runs without
  error, the correctness checks hold, DDP (gloo) takes two steps, the recipe
  trains an epoch and evaluates, and JSON + Markdown are written;
* ``--record`` puts a run's Markdown into RESULTS.md between its markers;
* the target table reads a GPU run's figures correctly;
* the data bundle decodes to the official layout with nearly the same features.
"""

import importlib
import json
import os
import pathlib
import subprocess
import sys

import pytest
import soundfile
import torch

from speechbrain_ast.features import KaldiFbank

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
SAMPLES = REPO / "tests" / "samples" / "ESC-50-master"


def load(name):
    """A module of ``benchmarks/`` (a package beside the library, not installed)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return importlib.import_module(f"benchmarks.{name}")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """Pack the samples into a bundle and run the smoke mode once (a subprocess)."""
    root = tmp_path_factory.mktemp("gpu_check")
    bundle = root / "esc50.tar"
    load("gpu_data").pack(str(SAMPLES), str(bundle), workers=1)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--data", str(bundle), "--out", str(root / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((root / "out" / "gpu_check.json").read_text())
    return results, (root / "out" / "gpu_check.md").read_text(), proc.stdout


def test_smoke_runs_every_step(smoke_run):
    results, markdown, stdout = smoke_run
    steps = ("correctness", "sdpa", "ddp", "throughput", "fbank", "patchout")
    for step in steps + ("largest_batch", "recipe"):
        assert "error" not in results[step] and "skipped" not in results[step], (
            step,
            results[step],
        )
    assert "SMOKE MODE" in markdown and markdown in stdout
    assert "| training >= 500 clips/s (1214 tokens) | - | not measured |" in markdown
    assert results["wall_s"] < results["budget_s"]


def test_smoke_checks_hold(smoke_run):
    results, _, _ = smoke_run
    correct = results["correctness"]
    assert correct["fbank_max_abs_vs_torchaudio_cpu"] <= 1e-3
    assert correct["fp32_max_abs_logits"] == 0.0  # the device is the CPU here
    assert results["sdpa"]["backends"]["ours"] != "none found"
    ddp = results["ddp"]
    assert ddp["ok"] and ddp["backend"] == "gloo" and len(ddp["losses"]) == 2
    peers = {(r["frames"], r["peer"]) for r in results["throughput"]["rows"]}
    assert peers == {(128, "ours"), (128, "hf-sdpa")}
    assert all(r["train_clips_s"] > 0 for r in results["throughput"]["rows"])
    assert results["largest_batch"]["peers"]["ours"]["largest_batch"] >= 2
    assert results["fbank"]["speedup"] > 0 and results["patchout"]["speedup"] > 0
    recipe = results["recipe"]
    assert recipe["epochs_done"] == 1 and 0.0 <= recipe["test_accuracy"] <= 1.0
    assert 0.0 <= recipe["data_wait_share"] <= 1.0


def test_record_writes_the_section(smoke_run, tmp_path):
    results, markdown, _ = smoke_run
    saved, page = tmp_path / "run.json", tmp_path / "RESULTS.md"
    saved.write_text(json.dumps(results))
    page.write_text("# Results\n\nkept text\n")
    load("gpu_check").main(["--record", str(saved), "--results", str(page)])
    text = page.read_text()
    assert "kept text" in text and "<!-- BEGIN benchmark.py output: gpu-check -->" in text
    assert markdown in text
    # A rerun of one step replaces that step of the first run.
    rerun = tmp_path / "rerun.json"
    rerun.write_text(json.dumps({"recipe": {"error": "RuntimeError: rerun marker"}}))
    load("gpu_check").main(["--record", str(saved), str(rerun), "--results", str(page)])
    text = page.read_text()
    assert "rerun marker" in text and "**Throughput**" in text


def test_targets_read_a_gpu_run():
    gpu_check = load("gpu_check")
    results = {
        "throughput": {
            "rows": [
                {"frames": 1024, "peer": "ours", "train_clips_s": 600.0, "infer_clips_s": 1400.0},
                {"frames": 1024, "peer": "hf-sdpa", "train_clips_s": 300.0},
            ]
        },
        "largest_batch": {"peers": {"ours": {"largest_batch": 256}}},
        "fbank": {"speedup": 25.0},
        "recipe": {"vs_bare": 0.7},
        "correctness": {"fbank_max_abs_vs_torchaudio_cpu": 2e-5},
    }
    met = {t["target"].split(" >=")[0]: t["met"] for t in gpu_check.targets(results)}
    assert met["training"] is True and met["inference"] is False
    assert met["training"] and met["batch"] and met["GPU fbank"]
    assert met["recipe end to end"] is False and met["patchout training"] is None
    assert met["fbank on the device vs torchaudio CPU <= 1e-3"] is True


def test_data_bundle_round_trip(tmp_path):
    gpu_data = load("gpu_data")
    bundle = str(tmp_path / "b.tar")
    assert gpu_data.pack(str(SAMPLES), bundle, limit=2, workers=1) == 2
    layout = gpu_data.unpack(bundle, str(tmp_path / "data"), workers=1)
    assert (layout / "meta" / "esc50.csv").read_text().count("\n") == 3
    fbank = KaldiFbank()
    for name in ("1-100032-A-0.wav", "1-26806-A-1.wav"):
        original, rate = soundfile.read(SAMPLES / "audio" / name, dtype="float32")
        decoded, rate2 = soundfile.read(layout / "audio" / name, dtype="float32")
        assert rate2 == rate == 16000 and len(decoded) == len(original)
        a, b = (fbank(torch.from_numpy(w)[None]) for w in (original, decoded))
        assert (a - b).abs().mean() < 1.0  # lossy, but the same sound
