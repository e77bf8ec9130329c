"""HuggingFace Hub ids, offline: a local hub cache built here, never the network.

The test writes a random tiny ``ASTForAudioClassification`` into the cache
layout huggingface_hub reads (``models--ORG--NAME/refs/main`` holding a commit
hash, ``snapshots/<hash>/`` holding the files) and runs the commands in a
fresh process with ``HF_HUB_OFFLINE=1`` (huggingface_hub reads its settings
when imported). A missing id must fail at once with a message naming the id
and the way out, also when the endpoint refuses connections.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest
import torch

transformers = pytest.importorskip("transformers")

from speechbrain_ast.pretrained.geometry import resize_to_n_frames  # noqa: E402
from speechbrain_ast.pretrained.huggingface import load_hf_folder  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
REPO_ID = "testorg/tiny-ast"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
MAX_LENGTH = 128
LABELS = ["yes", "no", "up"]


def hub_env(home, **extra):
    """Environment of a child process: only the given hub cache, no network."""
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
    )
    env.update(extra)
    return env


def run_python(code, env, cwd):
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A hub cache holding REPO_ID, and the HF model it holds."""
    torch.manual_seed(0)
    config = transformers.ASTConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_length=MAX_LENGTH,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    model = transformers.ASTForAudioClassification(config).eval()
    with torch.no_grad():  # HF zero-initialises these; make the test sensitive
        embeddings = model.audio_spectrogram_transformer.embeddings
        torch.nn.init.normal_(embeddings.position_embeddings, std=0.02)
        torch.nn.init.normal_(model.classifier.dense.weight, std=1.0)
    home = tmp_path_factory.mktemp("hf_home")
    repo = home / "hub" / ("models--" + REPO_ID.replace("/", "--"))
    snapshot = repo / "snapshots" / COMMIT
    model.save_pretrained(snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return home, model, snapshot


def test_hub_id_imports_offline_with_the_same_logits(hub, tmp_path):
    from speechbrain.inference.classifiers import EncoderClassifier

    home, model, snapshot = hub
    out = tmp_path / "model"
    code = (
        "import sys, torch\n"
        "from speechbrain_ast.cli import main\n"
        "from speechbrain_ast.model import AudioSpectrogramTransformer\n"
        "from speechbrain_ast.pretrained import initialize_encoder\n"
        f"code = main(['import', '--format', 'hf', '{REPO_ID}', {str(out)!r}])\n"
        "encoder = AudioSpectrogramTransformer(\n"
        "    n_frames=64, embed_dim=32, depth=1, num_heads=2, mlp_ratio=2.0)\n"
        f"initialize_encoder(encoder, 'audioset', '{REPO_ID}', 'hf')\n"
        f"torch.save(encoder.state_dict(), {str(tmp_path / 'init.pt')!r})\n"
        "sys.exit(code)\n"
    )
    proc = run_python(code, hub_env(home, HF_HUB_OFFLINE="1"), tmp_path)
    assert proc.returncode == 0, proc.stderr

    classifier = EncoderClassifier.from_hparams(source=str(out))
    feats = torch.randn(2, MAX_LENGTH, 128)
    with torch.no_grad():
        ref = model(input_values=feats).logits
        ours = classifier.mods.classifier(classifier.mods.embedding_model(feats))
    assert ref.abs().max() > 0.5  # a meaningful comparison
    assert (ref - ours.squeeze(1)).abs().max() < 1e-4
    assert classifier.hparams.labels == LABELS
    header = (out / "hyperparams.yaml").read_text()
    assert f"hf checkpoint {REPO_ID}" in header

    # The Hub id also initialises a recipe's encoder at the data's length.
    encoder_sd, _, info = load_hf_folder(str(snapshot))
    expected, _ = resize_to_n_frames(encoder_sd, info["encoder_config"], 64)
    initialised = torch.load(tmp_path / "init.pt", weights_only=True)
    assert initialised["pos_embed"].shape == (1, 2 + 12 * 5, 32)
    for key, value in expected.items():
        assert torch.equal(initialised[key], value), key


MISSING_ID_CODE = """
import json, sys, time
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
def test_missing_hub_id_fails_fast_and_clearly(hub, tmp_path, network):
    home, _, _ = hub
    proc = run_python(MISSING_ID_CODE, hub_env(home, **network), tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # Both lookups together, after imports: a retry loop would take minutes.
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
