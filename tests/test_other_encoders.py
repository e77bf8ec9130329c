"""Encoders other than AST (SpeechBrain's Xvector, ECAPA-TDNN) through YAML, model folder, tagger, ONNX."""

import pathlib

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_ast.model import ClassificationHead
from speechbrain_ast.model_folder import recorded_module, write_model_folder
from speechbrain_ast.tagging.tagger import AudioTagger

ROOT = pathlib.Path(__file__).resolve().parents[1]
XVECTOR_YAML = ROOT / "recipes" / "CustomData" / "hparams" / "xvector_small_scratch.yaml"
LABELS = ["a", "b", "c"]


def _xvector(n_frames=100):
    return recorded_module(
        "speechbrain.lobes.models.Xvector.Xvector",
        128,
        n_frames,
        {"in_channels": 128, "tdnn_channels": [32, 32, 32, 32, 64], "lin_neurons": 16},
    )


def _xvector_folder(tmp_path, **options):
    """A random small Xvector model folder (labels a, b, c) under ``tmp_path``."""
    return write_model_folder(
        str(tmp_path / "model"),
        _xvector(),
        ClassificationHead(16, len(LABELS)),
        LABELS,
        -6.6,
        5.4,
        False,
        **options,
    )


def test_model_folder_rebuilds_the_xvector(tmp_path):
    torch.manual_seed(0)
    encoder, head = _xvector().eval(), ClassificationHead(16, len(LABELS)).eval()
    folder = write_model_folder(
        str(tmp_path / "model"), encoder, head, LABELS, -6.6, 5.4, False
    )
    text = (tmp_path / "model" / "hyperparams.yaml").read_text()
    assert text.startswith("# Xvector model folder")
    assert "!new:speechbrain.lobes.models.Xvector.Xvector" in text
    tagger = AudioTagger.from_hparams(source=folder)
    wavs = torch.randn(2, 16000)
    with torch.no_grad():
        feats = tagger.mods.mean_var_norm(tagger.mods.compute_features(wavs))
        expected = head(encoder(feats, torch.ones(2))).squeeze(1)
    loaded = tagger.mods.embedding_model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in encoder.state_dict().items())
    # Same weights; batch-norm's float32 arithmetic differs by ~1e-4 in logits.
    torch.testing.assert_close(tagger.logits_batch(wavs), expected, atol=1e-3, rtol=0)
    # Windows follow the folder's n_frames: 100 frames = 16,240 samples.
    assert tagger.window_samples == 99 * 160 + 400


def test_unrecorded_encoder_is_refused_before_writing(tmp_path):
    with pytest.raises(ValueError, match="Linear: a model folder can rebuild"):
        write_model_folder(
            str(tmp_path / "model"),
            torch.nn.Linear(128, 16),
            ClassificationHead(16, 3),
            LABELS,
            -6.6,
            5.4,
            False,
        )
    assert not (tmp_path / "model").exists()
    with pytest.raises(ValueError, match="torch.nn.NoSuchLayer: no such class"):
        recorded_module("torch.nn.NoSuchLayer", 128, 100, {})


def test_xvector_yaml_builds_the_same_pipeline_as_the_ast_one():
    """Only the encoder differs: the shared keys have the same values."""
    overrides = {"data_folder": "unused", "norm_mean": -6.0, "norm_std": 5.0}
    with open(XVECTOR_YAML, encoding="utf-8") as handle:
        xvector = load_hyperpyyaml(handle, overrides)
    ast_yaml = XVECTOR_YAML.with_name("ast_small_scratch.yaml")
    with open(ast_yaml, encoding="utf-8") as handle:
        ast = load_hyperpyyaml(handle, overrides)
    assert type(xvector["embedding_model"]).__name__ == "Xvector"
    for key in ("lr", "batch_size", "train_steps", "freqm", "mixup_prob", "normalization"):
        assert xvector[key] == ast[key], key
    feats = torch.randn(2, xvector["n_frames"], 128)
    embeddings = xvector["embedding_model"](feats, torch.ones(2))
    assert xvector["classifier"](embeddings).squeeze(1).shape == (2, 10)


def _sample_windows(samples, window):
    """Real clips of ``tests/samples``: full windows and 3 short (padded) clips."""
    import glob

    from speechbrain_ast.audio import load_audio

    files = sorted(glob.glob(str(samples / "**" / "*.wav"), recursive=True))
    clips = [load_audio(path) for path in files]
    batch = torch.stack([clip[:window] for clip in clips if clip.numel() >= window])
    short = torch.stack([clip[:4000] for clip in clips[:3]])
    return batch, short


def test_xvector_exports_to_onnx_fp32_and_int8(tmp_path, samples):
    """The graph computes the PyTorch tagger's scores, without SpeechBrain's pooling noise."""
    import onnx

    from speechbrain_ast.tagging.onnx_export import WaveformTagger, export_tagger
    from speechbrain_ast.tagging.onnx_runtime import OnnxScorer

    torch.manual_seed(0)
    folder = _xvector_folder(tmp_path, normalization="clip")
    tagger = AudioTagger.from_hparams(source=folder)
    batch, short = _sample_windows(samples, tagger.window_samples)

    fp32 = OnnxScorer(export_tagger(tagger, str(tmp_path / "x.onnx")), threads=1)
    ops = {node.op_type for node in onnx.load(fp32.name).graph.node}
    assert "Conv" in ops and not any(op.startswith("Random") for op in ops)
    noise_free = WaveformTagger.from_tagger(tagger)
    for wavs in (batch, short):
        logits, scores = fp32.run(wavs)
        with torch.no_grad():
            torch.testing.assert_close(logits, noise_free(wavs)[0], atol=1e-5, rtol=0)
        # SpeechBrain adds up to 9e-5 of noise to the pooled mean on every call.
        torch.testing.assert_close(scores, tagger.score_batch(wavs), atol=2e-3, rtol=0)
    # The caller's encoder is untouched: it still pools with noise, as trained.
    assert type(tagger.mods.embedding_model).__name__ == "Xvector"
    # The onnxruntime backend of the tagger exports the same graph itself.
    onnx_tagger = AudioTagger.from_hparams(source=folder, backend="onnx")
    torch.testing.assert_close(
        onnx_tagger.score_batch(batch), fp32.score_batch(batch), atol=1e-5, rtol=0
    )

    int8 = OnnxScorer(export_tagger(tagger, str(tmp_path / "q.onnx"), int8=True))
    assert int8.int8
    assert "MatMulInteger" in {node.op_type for node in onnx.load(int8.name).graph.node}
    difference = (int8.score_batch(batch) - tagger.score_batch(batch)).abs()
    assert 0 < difference.max() < 0.05


def test_model_card_names_the_xvector(tmp_path):
    from speechbrain_ast.model_card import model_card

    folder = _xvector_folder(tmp_path, origin="trained by run1, best-validation weights")
    card = model_card(folder)
    assert "# Xvector: 3 sound classes" in card
    assert "a Xvector encoder on 128-bin Kaldi fbank features of 100 frames" in card
    assert "Audio Spectrogram Transformer" not in card
    assert "Origin: trained by run1, best-validation weights." in card


@pytest.mark.parametrize("init", ["imagenet", "audioset", "ssl"])
def test_pretrained_init_of_the_xvector_is_refused_by_name(init):
    from speechbrain_ast.pretrained import initialize_encoder

    with pytest.raises(ValueError, match=f"init='{init}' loads AST weights.*Xvector"):
        initialize_encoder(_xvector(), init, source="weights.pth")


def test_ecapa_yaml_differs_from_the_xvector_one_in_the_encoder_only():
    """ecapa_small_scratch: same recipe keys as the default, ECAPA_TDNN encoder."""
    overrides = {"data_folder": "unused", "norm_mean": -6.0, "norm_std": 5.0}
    loaded = {}
    for name in ("xvector", "ecapa"):
        path = XVECTOR_YAML.with_name(f"{name}_small_scratch.yaml")
        with open(path, encoding="utf-8") as handle:
            loaded[name] = load_hyperpyyaml(handle, overrides)
    xvector, ecapa = loaded["xvector"], loaded["ecapa"]
    assert type(ecapa["embedding_model"]).__name__ == "ECAPA_TDNN"
    for key in (
        "lr", "batch_size", "train_steps", "freqm", "mixup_prob", "normalization",
        "ema_decay", "weight_decay", "max_grad_norm", "embed_dim", "n_frames",
    ):  # fmt: skip
        assert ecapa[key] == xvector[key], key
    # The size measured in benchmarks/RESULTS.md: 0.60 M parameters, like the Xvector's.
    count = sum(p.numel() for p in ecapa["embedding_model"].parameters())
    assert 0.55e6 < count < 0.65e6, count
    feats = torch.randn(2, ecapa["n_frames"], 128)
    embeddings = ecapa["embedding_model"](feats, torch.ones(2))
    assert ecapa["classifier"](embeddings).squeeze(1).shape == (2, 10)


def _ecapa_folder(tmp_path, **options):
    """A random small ECAPA-TDNN model folder: ``(encoder, head, folder)``."""
    torch.manual_seed(0)
    kwargs = {
        "input_size": 128,
        "channels": [16, 16, 16, 16, 48],
        "attention_channels": 8,
        "se_channels": 8,
        "lin_neurons": 16,
    }
    encoder = recorded_module(
        "speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN", 128, 100, kwargs
    ).eval()
    head = ClassificationHead(16, len(LABELS)).eval()
    folder = write_model_folder(
        str(tmp_path / "model"), encoder, head, LABELS, -6.6, 5.4, False, **options
    )
    return encoder, head, folder


def test_model_folder_rebuilds_the_ecapa(tmp_path):
    """A trained ECAPA exports, reloads with the same weights and tags like before."""
    encoder, head, folder = _ecapa_folder(tmp_path)
    text = (tmp_path / "model" / "hyperparams.yaml").read_text()
    assert "!new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN" in text
    tagger = AudioTagger.from_hparams(source=folder)
    loaded = tagger.mods.embedding_model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in encoder.state_dict().items())
    wavs = torch.randn(2, 16000)
    with torch.no_grad():
        feats = tagger.mods.mean_var_norm(tagger.mods.compute_features(wavs))
        expected = head(encoder(feats, torch.ones(2))).squeeze(1)
    torch.testing.assert_close(tagger.logits_batch(wavs), expected, atol=1e-3, rtol=0)


def test_ecapa_exports_to_onnx_fp32_and_int8(tmp_path, samples):
    """The ECAPA graph scores real clips like the PyTorch tagger, at any batch size."""
    import onnx

    from speechbrain_ast.tagging.onnx_export import export_tagger
    from speechbrain_ast.tagging.onnx_runtime import OnnxScorer

    _, _, folder = _ecapa_folder(tmp_path, normalization="clip")
    tagger = AudioTagger.from_hparams(source=folder)
    batch, short = _sample_windows(samples, tagger.window_samples)
    assert len(batch) != 2  # the export traces a batch of 2: the axis must stay dynamic

    fp32 = OnnxScorer(export_tagger(tagger, str(tmp_path / "e.onnx")), threads=1)
    assert "Conv" in {node.op_type for node in onnx.load(fp32.name).graph.node}
    for wavs in (batch, short, batch[:1]):
        logits, scores = fp32.run(wavs)
        torch.testing.assert_close(logits, tagger.logits_batch(wavs), atol=1e-5, rtol=0)
        torch.testing.assert_close(scores, tagger.score_batch(wavs), atol=1e-5, rtol=0)
    assert type(tagger.mods.embedding_model).__name__ == "ECAPA_TDNN"

    int8 = OnnxScorer(export_tagger(tagger, str(tmp_path / "q.onnx"), int8=True))
    assert "MatMulInteger" in {node.op_type for node in onnx.load(int8.name).graph.node}
    difference = (int8.score_batch(batch) - tagger.score_batch(batch)).abs()
    assert 0 < difference.max() < 0.05


@pytest.mark.parametrize("kind", ["xvector", "ecapa"])
def test_a_clip_scores_the_same_alone_and_beside_a_longer_one(tmp_path, kind):
    """The pooled CNNs see the whole n_frames window, whatever else is in the batch.

    Given the batch's relative lengths, SpeechBrain's pooling would read them
    as a share of the fixed window: a 0.125 s clip padded beside a 1 s one
    would pool over an eighth of the window, alone over all of it.
    """
    torch.manual_seed(0)
    if kind == "xvector":
        folder = _xvector_folder(tmp_path, normalization="clip")
    else:
        folder = _ecapa_folder(tmp_path, normalization="clip")[2]
    tagger = AudioTagger.from_hparams(source=folder)
    wavs = torch.zeros(2, 16000)
    wavs[0] = torch.randn(16000)
    wavs[1, :2000] = torch.randn(2000)
    beside = tagger.logits_batch(wavs, torch.tensor([1.0, 0.125]))
    alone = tagger.logits_batch(wavs[1:, :2000])
    # 1e-3: the Xvector's pooling adds noise of up to 9e-5 on every call.
    torch.testing.assert_close(beside[1:], alone, atol=1e-3, rtol=0)
    torch.testing.assert_close(beside[:1], tagger.logits_batch(wavs[:1]), atol=1e-3, rtol=0)
