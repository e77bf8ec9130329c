"""ONNX export: features inside the graph, parity with PyTorch, int8, backends."""

import glob
import json

import numpy as np
import onnx
import pytest
import soundfile
import torch

from speechbrain_ast.audio import load_audio
from speechbrain_ast.cli import main
from speechbrain_ast.features import KaldiFbank
from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead
from speechbrain_ast.model_folder import write_model_folder
from speechbrain_ast.tagging.onnx_export import (
    OPSET,
    ExportableKaldiFbank,
    export_tagger,
)
from speechbrain_ast.tagging.onnx_runtime import OnnxScorer
from speechbrain_ast.tagging.tagger import AudioTagger

N_FRAMES = 128
WINDOW = (N_FRAMES - 1) * 160 + 400  # 20720 samples, 1.295 s
LABELS = ["dog", "rooster", "audioset", "no", "up", "yes"]
# Real clips cut to: shorter than a window, one window, longer than a window.
LENGTHS = [400, 401, 4000, 11000, WINDOW, 30000]


def _clips(samples):
    files = sorted(glob.glob(str(samples / "**" / "*.wav"), recursive=True))
    return [load_audio(path) for path in files]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A random 2-block AST, 64 wide, single-label (softmax scores)."""
    torch.manual_seed(0)
    encoder = AudioSpectrogramTransformer(
        n_frames=N_FRAMES, embed_dim=64, depth=2, num_heads=4
    )
    head = ClassificationHead(64, len(LABELS))
    root = tmp_path_factory.mktemp("onnx")
    return write_model_folder(
        str(root / "model"), encoder, head, LABELS, -6.6, 5.4, False
    )


@pytest.fixture(scope="module")
def exported(folder, tmp_path_factory):
    """The folder exported twice: fp32 and int8."""
    root = tmp_path_factory.mktemp("graphs")
    tagger = AudioTagger.from_hparams(source=folder)
    return {
        "fp32": export_tagger(tagger, str(root / "fp32.onnx")),
        "int8": export_tagger(tagger, str(root / "int8.onnx"), int8=True),
    }


@pytest.fixture(scope="module")
def torch_tagger(folder):
    return AudioTagger.from_hparams(source=folder)


def _float64_fbank(fbank, wavs):
    """KaldiFbank's steps in float64 (the reference both float32 paths round)."""
    wavs = wavs.double() - wavs.double().mean(dim=1, keepdim=True)
    frames = wavs.unfold(1, fbank.window_size, fbank.window_shift)[:, :N_FRAMES]
    frames = frames - frames.mean(dim=2, keepdim=True)
    previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=2)
    emphasized = (frames - fbank.preemphasis * previous) * fbank.window.double()
    spectrum = torch.fft.rfft(emphasized, n=fbank.n_fft)
    energies = spectrum.abs().square() @ fbank.mel_banks.double()
    feats = energies.clamp_min(torch.finfo(torch.float32).eps).log()
    padding = feats.new_full((feats.shape[0], N_FRAMES, feats.shape[2]), 0.0)
    return torch.cat([feats, padding], dim=1)[:, :N_FRAMES]


def test_exportable_fbank_equals_kaldi_fbank(samples):
    """The graph's features (row framing, folded DFT product) = KaldiFbank."""
    fbank = KaldiFbank(n_frames=N_FRAMES)
    exportable = ExportableKaldiFbank(fbank)
    wavs = _clips(samples)
    for length in LENGTHS:
        batch = torch.stack(
            [
                torch.nn.functional.pad(w, (0, max(length - w.numel(), 0)))[:length]
                for w in wavs
            ]
        )
        ours, reference = exportable(batch), fbank(batch)
        assert ours.shape == reference.shape == (len(wavs), N_FRAMES, 128)
        difference = (ours - reference).abs()
        # Both are float32 DFTs of the same frames: they differ by rounding,
        # largest in the quietest bins (pre-emphasis removes the lowest band).
        assert difference.mean() < 3e-6, (length, difference.mean())
        assert difference.max() < 5e-3, (length, difference.max())
        # The folded product rounds less than KaldiFbank's own float32 steps:
        # measured against float64, on average and in the worst bin.
        exact = _float64_fbank(fbank, batch)
        ours_error, kaldi_error = (ours - exact).abs(), (reference - exact).abs()
        assert ours_error.mean() <= kaldi_error.mean(), length
        assert ours_error.max() <= kaldi_error.max(), length
        # Frames past the clip are the raw pad value, exactly.
        n_valid = (length - 400) // 160 + 1
        if n_valid < N_FRAMES:
            assert torch.all(ours[:, n_valid:] == 0.0)


def test_fp32_graph_matches_pytorch(folder, exported, torch_tagger, samples):
    """Logits of onnxruntime and PyTorch agree to 1e-4 on real clips."""
    scorer = OnnxScorer(exported["fp32"], threads=1)
    graph = onnx.load(exported["fp32"])
    assert [opset.version for opset in graph.opset_import if opset.domain == ""] == [
        OPSET
    ]
    # Opset 20: each GELU is one exact Gelu node, not five element-wise ops.
    op_types = [node.op_type for node in graph.graph.node]
    assert "Erf" not in op_types and op_types.count("Gelu") >= 1
    wavs = _clips(samples)
    for length in LENGTHS:
        batch = torch.stack([w[:length] for w in wavs if w.numel() >= length])
        logits, scores = scorer.run(batch)
        with torch.no_grad():
            reference = torch_tagger.mods.classifier(
                torch_tagger.encode_batch(batch)
            ).squeeze(1)
        assert logits.shape == (batch.shape[0], len(LABELS))
        torch.testing.assert_close(logits, reference, atol=1e-4, rtol=0)
        torch.testing.assert_close(
            scores, torch_tagger.score_batch(batch), atol=1e-5, rtol=0
        )
    # Dynamic batch: one clip alone gives its row of the batch.
    alone = scorer.run(batch[1:2])[0]
    torch.testing.assert_close(alone[0], logits[1], atol=1e-5, rtol=0)


def test_standard_ops_graph_matches_pytorch(
    folder, exported, torch_tagger, samples, tmp_path
):
    """The portable graph (no onnxruntime-only node) gives the same logits."""
    path = export_tagger(torch_tagger, str(tmp_path / "std.onnx"), attention="standard")
    graph = onnx.load(path).graph
    assert all(node.domain in ("", "ai.onnx") for node in graph.node)
    assert "Softmax" in [node.op_type for node in graph.node]
    batch = torch.stack([w[:WINDOW] for w in _clips(samples) if w.numel() >= WINDOW])
    torch.testing.assert_close(
        OnnxScorer(path).run(batch)[0],
        OnnxScorer(exported["fp32"]).run(batch)[0],
        atol=1e-4,
        rtol=0,
    )
    with torch.no_grad():
        reference = torch_tagger.mods.classifier(torch_tagger.encode_batch(batch))
    torch.testing.assert_close(
        OnnxScorer(path).run(batch)[0], reference.squeeze(1), atol=1e-4, rtol=0
    )


def test_metadata_describes_the_model(exported, torch_tagger):
    meta = {p.key: p.value for p in onnx.load(exported["fp32"]).metadata_props}
    assert json.loads(meta["labels"]) == LABELS
    assert int(meta["sample_rate"]) == 16000
    assert int(meta["window_samples"]) == WINDOW == torch_tagger.window_samples
    assert int(meta["hop_samples"]) == WINDOW // 2
    assert json.loads(meta["multi_label"]) is False
    assert json.loads(meta["int8"]) is False
    assert meta["attention"] == "onnxruntime"
    ops = [node.op_type for node in onnx.load(exported["fp32"]).graph.node]
    assert ops.count("MultiHeadAttention") == 2  # one fused node per block
    graph = onnx.load(exported["fp32"]).graph
    assert [i.name for i in graph.input] == ["waveform"]
    assert [o.name for o in graph.output] == ["logits", "scores"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert all(d.dim_param for d in dims)  # batch and samples are dynamic


def test_int8_graph_quantises_encoder_not_features(exported, torch_tagger, samples):
    graph = onnx.load(exported["int8"]).graph
    ops = [node.op_type for node in graph.node]
    assert "MatMulInteger" in ops
    assert "GatherND" not in ops  # frames are reshaped rows, not gathered
    # The DFT basis and the mel banks stay float32 products.
    float_weights = {
        name for node in graph.node if node.op_type == "MatMul" for name in node.input
    }
    assert any("dft_basis" in name for name in float_weights)
    assert any("mel_banks" in name for name in float_weights)
    scorer = OnnxScorer(exported["int8"], threads=1)
    assert scorer.int8
    batch = torch.stack([w[:WINDOW] for w in _clips(samples) if w.numel() >= WINDOW])
    difference = (scorer.score_batch(batch) - torch_tagger.score_batch(batch)).abs()
    assert 0 < difference.max() < 0.05


def test_onnx_backend_same_timeline(folder, exported, torch_tagger, samples, tmp_path):
    """AudioTagger windows, aggregation and timeline do not depend on the backend."""
    wav = torch.cat(_clips(samples)[:4])[: 5 * 16000]
    path = str(tmp_path / "long.wav")
    soundfile.write(path, wav.numpy(), 16000)
    onnx_tagger = AudioTagger.from_hparams(
        source=folder, backend="onnx", onnx_path=exported["fp32"]
    )
    assert onnx_tagger.backend == "onnx" and torch_tagger.backend == "torch"
    for hop in (None, 0.5):
        ours = onnx_tagger.tag_file(path, top_k=3, hop_seconds=hop).to_dict()
        reference = torch_tagger.tag_file(path, top_k=3, hop_seconds=hop).to_dict()
        assert len(ours["timeline"]) > 2
        for window, expected in zip(ours["timeline"], reference["timeline"]):
            assert (window["start"], window["end"]) == (
                expected["start"],
                expected["end"],
            )
            assert [p["label"] for p in window["labels"]] == [
                p["label"] for p in expected["labels"]
            ]
            np.testing.assert_allclose(
                [p["score"] for p in window["labels"]],
                [p["score"] for p in expected["labels"]],
                atol=1e-5,
            )
        assert len(ours["timeline"]) == len(reference["timeline"])
    # A padded batch of clips of different lengths: same as PyTorch.
    clips = [wav[:9000], wav[:WINDOW], wav[3000:8000]]
    batch = torch.nn.utils.rnn.pad_sequence(clips, batch_first=True)
    lens = torch.tensor([c.numel() for c in clips], dtype=torch.float) / batch.shape[1]
    torch.testing.assert_close(
        onnx_tagger.score_batch(batch, lens),
        torch_tagger.score_batch(batch, lens),
        atol=1e-5,
        rtol=0,
    )


def test_int8_tagger_uses_onnxruntime(folder, exported, samples):
    """The int8 path is onnxruntime's quantisation, not torch.ao."""
    tagger = AudioTagger.from_hparams(
        source=folder, int8=True, onnx_path=exported["int8"]
    )
    assert tagger.int8 and tagger.backend == "onnx"
    # The PyTorch modules are left in float32.
    assert type(tagger.mods.classifier.linear) is torch.nn.Linear
    assert tagger.score_batch(_clips(samples)[0][:WINDOW]).shape == (1, len(LABELS))
    with pytest.raises(ValueError, match="not an int8 graph"):
        AudioTagger.from_hparams(source=folder, int8=True, onnx_path=exported["fp32"])


def test_scorer_errors(exported, folder, tmp_path):
    scorer = OnnxScorer(exported["fp32"])
    with pytest.raises(ValueError, match="shorter than one 400-sample frame"):
        scorer.score_batch(torch.randn(2, 300))
    bad = torch.randn(2, 1000)
    bad[1, 5] = float("nan")
    with pytest.raises(ValueError, match=r"\[1\] contain NaN"):
        scorer.score_batch(bad)
    with pytest.raises(FileNotFoundError, match="missing.onnx: ONNX file not found"):
        OnnxScorer(str(tmp_path / "missing.onnx"))
    junk = tmp_path / "junk.onnx"
    junk.write_text("not a graph")
    with pytest.raises(ValueError, match="junk.onnx: not a loadable ONNX model"):
        OnnxScorer(str(junk))
    # A graph of another model folder is refused.
    torch.manual_seed(1)
    other = write_model_folder(
        str(tmp_path / "other"),
        AudioSpectrogramTransformer(
            n_frames=N_FRAMES, embed_dim=32, depth=1, num_heads=2
        ),
        ClassificationHead(32, 2),
        ["x", "y"],
        -6.6,
        5.4,
        False,
    )
    with pytest.raises(ValueError, match="does not match the model folder"):
        AudioTagger.from_hparams(
            source=other, backend="onnx", onnx_path=exported["fp32"]
        )


def test_cli_export_onnx_and_tag_backend(folder, exported, samples, tmp_path, capsys):
    out = str(tmp_path / "cli.onnx")
    assert main(["export-onnx", folder, out]) == 0
    assert "ONNX graph written" in capsys.readouterr().out
    assert OnnxScorer(out).labels == LABELS

    wav = torch.cat(_clips(samples)[:3])[: 3 * 16000]
    path = str(tmp_path / "three.wav")
    soundfile.write(path, wav.numpy(), 16000)
    documents = {}
    for backend in (["--backend", "torch"], ["--backend", "onnx", "--onnx", out]):
        code = main(
            ["tag", path, "--model", folder, "--json", "--top-k", "2"] + backend
        )
        assert code == 0
        documents[backend[1]] = json.loads(capsys.readouterr().out)["files"][0]
    timeline = {
        name: [
            (w["start"], w["end"], [p["label"] for p in w["labels"]])
            for w in doc["timeline"]
        ]
        for name, doc in documents.items()
    }
    assert timeline["onnx"] == timeline["torch"] and len(timeline["onnx"]) > 1

    assert main(["export-onnx", str(tmp_path / "nope"), out]) == 2
    assert "model folder not found" in capsys.readouterr().err
    code = main(["tag", path, "--model", folder, "--onnx", out])
    assert code == 2 and "--onnx needs --backend onnx" in capsys.readouterr().err
    code = main(
        ["tag", path, "--model", folder, "--backend", "onnx", "--onnx", "x.onnx"]
    )
    assert code == 2 and "x.onnx: ONNX file not found" in capsys.readouterr().err


def _counting(function, calls):
    """``function``, appending to ``calls`` each time it runs."""

    def counted(*args, **kwargs):
        calls.append(1)
        return function(*args, **kwargs)

    return counted


def test_encoder_classifier_methods_use_the_chosen_backend(
    folder, exported, torch_tagger, samples, tmp_path, monkeypatch
):
    """classify_batch / classify_file / forward of an ONNX or int8 tagger run
    its graph, never the fp32 PyTorch modules; encode_batch says it cannot."""
    clips = _clips(samples)
    pieces = [clips[0][:9000], clips[1][:WINDOW]]
    batch = torch.nn.utils.rnn.pad_sequence(pieces, batch_first=True)
    lens = torch.tensor([c.numel() for c in pieces], dtype=torch.float) / batch.shape[1]
    path = str(tmp_path / "clip.wav")
    soundfile.write(path, clips[2][:WINDOW].numpy(), 16000, subtype="FLOAT")

    def untouchable(*args, **kwargs):
        raise AssertionError("the fp32 PyTorch modules were used")

    for kwargs in (
        {"backend": "onnx", "onnx_path": exported["fp32"]},
        {"int8": True, "onnx_path": exported["int8"]},
    ):
        tagger = AudioTagger.from_hparams(source=folder, **kwargs)
        scorer = tagger.onnx_scorer
        graph_logits = scorer.run(batch, lens)[0]
        file_logits = scorer.run(load_audio(path)[None])[0]
        calls = []
        monkeypatch.setattr(scorer, "run", _counting(scorer.run, calls))
        for name in ("embedding_model", "classifier"):
            monkeypatch.setattr(tagger.mods[name], "forward", untouchable)

        logits, score, index, text = tagger.classify_batch(batch, lens)
        torch.testing.assert_close(logits, graph_logits)
        assert index.tolist() == graph_logits.argmax(1).tolist()
        assert text == [LABELS[i] for i in index.tolist()]
        torch.testing.assert_close(score, graph_logits.max(1).values)
        torch.testing.assert_close(tagger(batch, lens)[0], graph_logits)
        file_out = tagger.classify_file(path)
        torch.testing.assert_close(file_out[0], file_logits)
        assert file_out[3] == [LABELS[int(file_logits.argmax())]]
        assert len(calls) == 3
        with pytest.raises(RuntimeError, match="embeddings need the torch backend"):
            tagger.encode_batch(batch, lens)

        if not tagger.int8:  # fp32 graph: the same answers as PyTorch
            reference = torch_tagger.classify_batch(batch, lens)
            torch.testing.assert_close(logits, reference[0], atol=1e-4, rtol=0)
            assert text == reference[3]
            reference = torch_tagger.classify_file(path)
            torch.testing.assert_close(file_out[0], reference[0], atol=1e-4, rtol=0)
