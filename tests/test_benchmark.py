"""The benchmark script runs, and the fast paths it measures equal the exact path.

* ``benchmarks/benchmark.py --quick`` (tiny model) produces its tables, the
  Markdown section and the raw JSON;
* the analytic FLOP count reproduces the AST-base figures (261/116/26 GFLOP);
* ``torch.compile`` of our encoder gives the eager outputs (1e-5);
* activation checkpointing gives the same loss and gradients (dropout and
  stochastic depth on: the RNG state is replayed in the recomputation);
* bf16 autocast on CPU stays within bf16 tolerance of fp32;
* fused Adam gives the parameters of the default Adam after a few steps;
* the patchout section measures both settings, PaSST's share of any grid.
"""

import copy
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from benchmarks.flops import ast_forward_flops, training_flops
from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "benchmarks", "benchmark.py")
TINY = {"n_frames": 128, "embed_dim": 32, "depth": 2, "num_heads": 2}


def load_benchmark_module():
    spec = importlib.util.spec_from_file_location("ast_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------- the script
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """Run ``--quick`` once in a subprocess (a tiny model; < 60 s on 1 core)."""
    out_dir = tmp_path_factory.mktemp("bench")
    out, raw = out_dir / "RESULTS.md", out_dir / "results.json"
    out.write_text("# Results\n\nHand-written text that must survive.\n")
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--quick", "--out", str(out), "--json", str(raw)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, out.read_text(), json.loads(raw.read_text())


def test_quick_run_prints_tables(quick_run):
    stdout, _, _ = quick_run
    for title in (
        "**Targets**",
        "**Encoder inference and training step**",
        "**Features**",
        "**Adam step**",
        "**int8 (dynamic, Linear layers) against fp32**",
        "**Tagging speed**",
        "**Patchout (PaSST, training only)**",
    ):
        assert title in stdout
    for row in ("| quick | 1 s | 146 | ours |", "| quick | 5 s | 602 | hf-sdpa |"):
        assert row in stdout


def test_quick_run_writes_markdown_section(quick_run):
    _, text, _ = quick_run
    assert text.startswith("# Results\n\nHand-written text that must survive.")
    assert "<!-- BEGIN benchmark.py output: cpu-quick -->" in text
    assert "<!-- END benchmark.py output: cpu-quick -->" in text
    assert f"torch {torch.__version__}" in text
    assert "cores" in text and "UTC" in text


def test_quick_run_measures_every_peer(quick_run):
    _, _, results = quick_run
    rows = {(r["seconds"], r["peer"]): r for r in results["encoder"]}
    for seconds in (1, 5):
        for peer in ("ours", "hf-sdpa", "hf-eager"):
            row = rows[(seconds, peer)]
            assert row["infer_clips_s"] > 0 and row["train_clips_s"] > 0
            # Same config and weights: the peers compute the same function.
            assert row["parity_max_abs"] < 1e-4
        assert rows[(seconds, "ours+ckpt")]["train_clips_s"] > 0
    if results["activation_fit"]:  # empty where peak RSS cannot be reset
        assert {r["peer"] for r in results["activation_fit"]} == {
            "ours",
            "ours+ckpt",
            "hf-sdpa",
        }
    peers = {r["peer"] for r in results["features"]}
    assert {"ours batched (KaldiFbank)", "torchaudio per-clip loop"} <= peers
    assert "HF ASTFeatureExtractor" in peers
    for row in results["features"]:
        if row["max_abs_vs_loop"] is not None:  # same features as the official way
            assert row["max_abs_vs_loop"] < 1e-2
    agreement = results["int8"]["agreement"]
    assert agreement["clips"] >= 10 and 0.0 <= agreement["top1_agreement"] <= 1.0
    assert results["int8"]["tagging"][0]["speedup"] > 0
    assert {t["target"] for t in results["targets"]} >= {
        "encoder inference >= 0.95x HF sdpa",
        "batched fbank >= 1.0x per-clip torchaudio loop",
    }
    rows = {r["peer"]: r for r in results["patchout"]}
    assert rows["ours"]["patch_tokens"] == 12 * 50  # --quick: longest input 5 s
    assert rows["ours+patchout"]["patch_tokens"] == 8 * 30  # PaSST share: 4 rows, 20 columns
    assert all(r["train_clips_s"] > 0 for r in rows.values())
    assert "patchout training step >= 1.8x without (PaSST setting)" in {
        t["target"] for t in results["targets"]
    }
    assert results["machine"]["wall_s"] < 120  # about 20 s on one free core


def test_write_report_replaces_only_its_section(tmp_path):
    bench = load_benchmark_module()
    path = str(tmp_path / "RESULTS.md")
    bench.write_report(path, "cpu", "first\n")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("\nanalysis kept\n")
    bench.write_report(path, "cuda", "gpu\n")
    bench.write_report(path, "cpu", "second\n")
    text = open(path, encoding="utf-8").read()
    assert "second" in text and "first" not in text
    assert "analysis kept" in text and "gpu" in text
    assert text.count("BEGIN benchmark.py output: cpu -->") == 1


def test_passt_setting_scales_to_any_grid():
    patchout = load_benchmark_module().patchout
    assert patchout.passt_setting(12, 101) == (4, 40)  # PaSST, 10 s
    assert patchout.passt_setting(12, 50) == (4, 20)
    assert patchout.passt_setting(2, 3) == (1, 1)  # always leaves a token


def test_peak_memory_sees_an_allocation():
    bench = load_benchmark_module()
    with bench.PeakMemory(torch.device("cpu")) as mem:
        block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
        del block
    if mem.peak is None:
        pytest.skip(f"no peak-memory counter here ({mem.method})")
    assert mem.peak >= 32 * 2**20


# ----------------------------------------------------------------- FLOPs
@pytest.mark.parametrize(
    "n_frames, tokens, gflop", [(1024, 1214, 261), (512, 602, 116), (128, 146, 26)]
)
def test_flops_reproduce_ast_base(n_frames, tokens, gflop):
    model = AudioSpectrogramTransformer(
        n_frames=n_frames, embed_dim=8, depth=1, num_heads=1
    )
    assert model.num_patches + 2 == tokens
    flops = ast_forward_flops(n_frames)
    assert abs(flops / 1e9 - gflop) / gflop < 0.03
    assert training_flops(flops) == 3 * flops


# ----------------------------------------------------------------- fast paths
def test_compiled_encoder_matches_eager():
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("torch.compile (inductor) needs a C compiler")
    model = AudioSpectrogramTransformer(**TINY).eval()
    fbank = torch.randn(2, 128, 128)
    with torch.no_grad():
        expected = model.forward_features(fbank)
        try:
            compiled = torch.compile(model.forward_features)
            got = compiled(fbank)
        except Exception as error:  # platform without a working inductor
            pytest.skip(f"torch.compile unavailable: {type(error).__name__}: {error}")
    assert torch.allclose(got, expected, rtol=0, atol=1e-5)


def test_activation_checkpointing_same_loss_and_gradients():
    # Dropout and stochastic depth on: the recomputation must replay the RNG.
    kwargs = dict(TINY, depth=3, drop_rate=0.1, drop_path_rate=0.2)
    plain = AudioSpectrogramTransformer(**kwargs).train()
    ckpt = copy.deepcopy(plain)
    ckpt.activation_checkpointing = True
    head = ClassificationHead(32, 4)
    fbank, target = torch.randn(3, 128, 128), torch.rand(3, 4)
    losses, grads = [], []
    for model in (plain, ckpt):
        model.zero_grad()
        torch.manual_seed(1)
        loss = F.binary_cross_entropy_with_logits(head(model(fbank)).squeeze(1), target)
        loss.backward()
        losses.append(loss.detach())
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    assert torch.equal(losses[0], losses[1])
    for name, grad in grads[0].items():
        assert torch.allclose(grads[1][name], grad, rtol=0, atol=1e-7), name


def test_bf16_autocast_on_cpu_within_tolerance():
    model = AudioSpectrogramTransformer(**TINY).eval()
    fbank = torch.randn(2, 128, 128)
    with torch.no_grad():
        reference = model.forward_features(fbank)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model.forward_features(fbank).float()
    relative = (low - reference).norm() / reference.norm()
    assert relative < 3e-2, float(relative)


def test_fused_adam_matches_default_adam():
    torch.manual_seed(0)
    model = AudioSpectrogramTransformer(**TINY)
    twin = copy.deepcopy(model)
    options = {"lr": 1e-3, "betas": (0.95, 0.999), "weight_decay": 5e-7}
    default = torch.optim.Adam(model.parameters(), **options)
    try:
        fused = torch.optim.Adam(twin.parameters(), fused=True, **options)
    except RuntimeError as error:
        pytest.skip(f"fused Adam unsupported here: {error}")
    for _ in range(4):
        default.zero_grad()
        model(torch.randn(2, 128, 128)).pow(2).mean().backward()
        # Same gradients into both: this compares the optimisers only.
        for p, q in zip(model.parameters(), twin.parameters()):
            q.grad = p.grad.clone()
        default.step()
        fused.step()
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        assert torch.allclose(p, q, rtol=0, atol=1e-6), name
