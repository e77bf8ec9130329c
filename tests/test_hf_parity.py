"""An imported HuggingFace AST gives HuggingFace's outputs (random tiny weights).

Hub ids are tested offline: the test writes the model into the cache layout
huggingface_hub reads (``models--ORG--NAME/refs/main`` holding a commit hash,
``snapshots/<hash>/`` holding the files) and runs the commands in a fresh
process, since huggingface_hub reads ``HF_HUB_OFFLINE``/``HF_ENDPOINT`` when
imported.
"""

import glob
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import torch

transformers = pytest.importorskip("transformers")

from speechbrain_ast.audio import load_audio  # noqa: E402
from speechbrain_ast.features import NORM_STATS, KaldiFbank  # noqa: E402
from speechbrain_ast.model import AudioSpectrogramTransformer  # noqa: E402
from speechbrain_ast.pretrained.ast_checkpoints import (  # noqa: E402
    import_checkpoint,
    load_checkpoint,
)
from speechbrain_ast.pretrained.geometry import resize_to_n_frames  # noqa: E402
from speechbrain_ast.pretrained.huggingface import (  # noqa: E402
    convert_hf_state_dict,
    load_hf_folder,
)

MAX_LENGTH = 128
LABELS = ["yes", "no", "up", "down", "left"]
MEAN, STD = NORM_STATS["speechcommands"]
# Measured: 0 from the same features; ~5e-6 end to end from a wav, all of it
# from the clip-mean removal HF's extractor skips (0 without it).
ATOL = 1e-4


def tiny_hf_model():
    config = transformers.ASTConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        max_length=MAX_LENGTH,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    model = transformers.ASTForAudioClassification(config).eval()
    embeddings = model.audio_spectrogram_transformer.embeddings
    with torch.no_grad():
        # HF initialises these to zero, which would make the pooled prefix
        # tokens nearly input independent and the comparison weak.
        for param in (
            embeddings.cls_token,
            embeddings.distillation_token,
            embeddings.position_embeddings,
        ):
            torch.nn.init.trunc_normal_(param, std=0.02)
        # Logits of order 1 instead of 0.02-std ones.
        torch.nn.init.normal_(model.classifier.dense.weight, std=1.0)
    return model


def feature_extractor():
    return transformers.ASTFeatureExtractor(
        max_length=MAX_LENGTH, mean=MEAN, std=STD, do_normalize=True
    )


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    from speechbrain.inference.classifiers import EncoderClassifier

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("hf")
    model = tiny_hf_model()
    model.save_pretrained(root / "hf")
    feature_extractor().save_pretrained(root / "hf")
    out = import_checkpoint("hf", str(root / "hf"), str(root / "sb"))
    classifier = EncoderClassifier.from_hparams(source=out)
    return model, classifier, root


def test_same_logits_from_same_features(imported):
    model, classifier, _ = imported
    feats = torch.randn(3, MAX_LENGTH, 128)
    with torch.no_grad():
        ref = model(input_values=feats).logits
        ours = classifier.mods.classifier(classifier.mods.embedding_model(feats))
    diff = (ref - ours.squeeze(1)).abs().max().item()
    print(f"HF parity, fbank input: max abs logit difference {diff:.3g}")
    assert ref.abs().max() > 0.5  # a meaningful comparison
    assert diff < ATOL


def test_same_logits_from_same_wav(imported, samples):
    model, classifier, _ = imported
    paths = sorted(glob.glob(str(samples / "speech_commands_v0.02/yes/*.wav")))[:2]
    wavs = [load_audio(path) for path in paths]
    extractor = feature_extractor()
    for wav in wavs:
        inputs = extractor(wav.numpy(), sampling_rate=16000, return_tensors="pt")
        with torch.no_grad():
            ref = model(**inputs).logits
            ours = classifier.classify_batch(wav[None])[0]
        diff = (ref - ours).abs().max().item()
        print(f"HF parity, wav input: max abs logit difference {diff:.3g}")
        assert diff < ATOL
        # Without the clip-mean removal the features are HF's up to float
        # rounding (our CPU path computes |X|^2 as re^2 + im^2).
        fbank = KaldiFbank(n_frames=MAX_LENGTH, remove_clip_mean=False)
        with torch.no_grad():
            feats = classifier.mods.mean_var_norm(fbank(wav[None]), None)
            exact = classifier.mods.classifier(classifier.mods.embedding_model(feats))
        diff = (ref - exact.squeeze(1)).abs().max().item()
        print(f"HF parity, wav input, no clip-mean removal: {diff:.3g}")
        assert diff < 1e-5
        assert classifier.classify_batch(wav[None])[3] == [LABELS[int(ref.argmax())]]


def test_folder_settings_follow_the_source(imported):
    _, classifier, _ = imported
    hparams = classifier.hparams
    assert (hparams.norm_mean, hparams.norm_std) == pytest.approx((MEAN, STD))
    assert hparams.labels == LABELS
    assert hparams.multi_label is False
    assert hparams.n_frames == MAX_LENGTH
    # HF's LayerNorm eps everywhere, encoder and head.
    assert classifier.mods.embedding_model.norm.eps == 1e-12
    assert classifier.mods.embedding_model.blocks[0].norm1.eps == 1e-12
    assert classifier.mods.classifier.norm.eps == 1e-12


def test_in_memory_names_convert_like_saved_ones(imported):
    model, _, root = imported
    saved_encoder, saved_head, _ = load_hf_folder(str(root / "hf"))
    encoder_sd, head_sd = convert_hf_state_dict(model.state_dict())
    assert encoder_sd.keys() == saved_encoder.keys()
    assert head_sd.keys() == saved_head.keys()
    for key, value in encoder_sd.items():
        assert torch.equal(value, saved_encoder[key]), key


def test_unnormalised_extractor_and_contradicting_strides(imported, tmp_path):
    model, _, root = imported
    folder = tmp_path / "raw"
    model.save_pretrained(folder)
    transformers.ASTFeatureExtractor(
        max_length=MAX_LENGTH, do_normalize=False
    ).save_pretrained(folder)
    _, _, info = load_hf_folder(str(folder))
    assert info["norm_stats"] == (0.0, 0.5)  # (x - 0) / (2 * 0.5) = x
    with pytest.raises(ValueError, match="fstride=12 contradicts config.json"):
        load_checkpoint("hf", str(folder), fstride=12)
    # Without a preprocessor config: AudioSet statistics (HF's defaults).
    os.remove(folder / "preprocessor_config.json")
    out = import_checkpoint("hf", str(folder), str(tmp_path / "sb"))
    with open(os.path.join(out, "hyperparams.yaml")) as handle:
        assert f"norm_mean: {NORM_STATS['audioset'][0]!r}" in handle.read()


def test_shorter_length_on_import(imported, tmp_path):
    _, _, root = imported
    encoder, head, info = load_checkpoint("hf", str(root / "hf"), n_frames=100)
    assert encoder.pos_embed.shape == (1, 2 + 12 * 9, 64)
    with open(root / "hf" / "config.json") as handle:
        assert json.load(handle)["max_length"] == MAX_LENGTH


# ------------------------------------------------------------ Hub ids, offline
REPO = pathlib.Path(__file__).resolve().parent.parent
REPO_ID = "testorg/tiny-ast"
BIN_REPO_ID = "testorg/tiny-ast-bin"  # pytorch_model.bin only, as most MIT/ast-*
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def hub_env(home, **settings):
    """A child process environment: only the given HF cache, no network."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HF_", "HUGGINGFACE_"))
    }
    env.update(
        PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        HF_HOME=str(home),
        HF_HUB_CACHE=str(home / "hub"),
        HF_HUB_DISABLE_TELEMETRY="1",
        **settings,
    )
    return env


def run_python(code, env, cwd):
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def hub_home(imported):
    """An HF cache holding the imported fixture's folder as REPO_ID and BIN_REPO_ID."""
    from safetensors.torch import load_file

    _, _, root = imported
    home = root / "hf_home"
    for repo_id in (REPO_ID, BIN_REPO_ID):
        repo = home / "hub" / ("models--" + repo_id.replace("/", "--"))
        snapshot = repo / "snapshots" / COMMIT
        shutil.copytree(root / "hf", snapshot)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(COMMIT)
    weights = snapshot / "model.safetensors"
    torch.save(load_file(weights), snapshot / "pytorch_model.bin")
    os.remove(weights)
    return home


def test_hub_id_imports_offline_with_the_same_logits(imported, hub_home, tmp_path):
    from speechbrain.inference.classifiers import EncoderClassifier

    model, _, root = imported
    out = tmp_path / "model"
    code = (
        "import sys, torch\n"
        "from speechbrain_ast.cli import main\n"
        "from speechbrain_ast.model import AudioSpectrogramTransformer\n"
        "from speechbrain_ast.pretrained import initialize_encoder\n"
        f"code = main(['import', '--format', 'hf', '{REPO_ID}', {str(out)!r}])\n"
        f"code += main(['import', '--format', 'hf', '{BIN_REPO_ID}', "
        f"{str(tmp_path / 'bin')!r}])\n"
        "encoder = AudioSpectrogramTransformer(\n"
        "    n_frames=64, embed_dim=64, depth=2, num_heads=4)\n"
        f"initialize_encoder(encoder, 'audioset', '{REPO_ID}', 'hf')\n"
        f"torch.save(encoder.state_dict(), {str(tmp_path / 'init.pt')!r})\n"
        "sys.exit(code)\n"
    )
    proc = run_python(code, hub_env(hub_home, HF_HUB_OFFLINE="1"), tmp_path)
    assert proc.returncode == 0, proc.stderr

    feats = torch.randn(2, MAX_LENGTH, 128)
    with torch.no_grad():
        ref = model(input_values=feats).logits
    assert ref.abs().max() > 0.5  # a meaningful comparison
    for folder, repo_id in ((out, REPO_ID), (tmp_path / "bin", BIN_REPO_ID)):
        classifier = EncoderClassifier.from_hparams(source=str(folder))
        with torch.no_grad():
            ours = classifier.mods.classifier(classifier.mods.embedding_model(feats))
        assert (ref - ours.squeeze(1)).abs().max() < ATOL
        assert classifier.hparams.labels == LABELS
        header = (folder / "hyperparams.yaml").read_text()
        assert f"hf checkpoint {repo_id}" in header

    # The Hub id also initialises a recipe's encoder at the data's length.
    encoder_sd, _, info = load_hf_folder(str(root / "hf"))
    expected, config = resize_to_n_frames(encoder_sd, info["encoder_config"], 64)
    initialised = torch.load(tmp_path / "init.pt", weights_only=True)
    assert initialised["pos_embed"].shape == (1, 2 + 12 * 5, 64)
    assert AudioSpectrogramTransformer(**config).pos_embed.shape == (1, 62, 64)
    for key, value in expected.items():
        assert torch.equal(initialised[key], value), key


MISSING_ID_CODE = """
import json, time
from speechbrain_ast.cli import main
from speechbrain_ast.pretrained import HubUnavailableError, hf_local_folder

start = time.monotonic()
try:
    hf_local_folder("testorg/not-cached")
    error = None
except HubUnavailableError as exc:
    error = str(exc)
code = main(["import", "--format", "hf", "testorg/not-cached", "out"])
print(json.dumps({"seconds": time.monotonic() - start, "error": error, "code": code}))
"""


@pytest.mark.parametrize(
    "network",
    [
        {"HF_HUB_OFFLINE": "1"},
        # online mode against an endpoint that refuses connections
        {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"},
    ],
    ids=["HF_HUB_OFFLINE", "unreachable-endpoint"],
)
def test_missing_hub_id_fails_fast_and_clearly(hub_home, tmp_path, network):
    proc = run_python(MISSING_ID_CODE, hub_env(hub_home, **network), tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # Both lookups together, after the imports: a retry loop takes minutes.
    assert result["seconds"] < 20
    error = result["error"]
    assert error.startswith("testorg/not-cached: not in the local HuggingFace cache")
    assert "pass the downloaded folder" in error and "HF_HOME" in error
    if network["HF_HUB_OFFLINE"] == "1":
        assert "HF_HUB_OFFLINE is set" in error
    assert result["code"] == 1
    assert (
        "error: testorg/not-cached: not in the local HuggingFace cache" in proc.stderr
    )
    assert not (tmp_path / "out").exists()


def test_a_path_that_is_no_hub_id_is_not_found(tmp_path, capsys):
    from speechbrain_ast.cli import main

    assert main(["import", "--format", "hf", str(tmp_path / "nope"), "out"]) == 1
    assert "save_pretrained folder or a Hub id" in capsys.readouterr().err
