"""Bad input met during training: every failure names the file (or item).

Policy (docs/scaling.md): prepare scripts skip unreadable clips and list them
in ``skipped.txt``; a clip that goes bad *after* preparation stops training at
the batch that needs it with an ``AudioError`` whose message starts with the
file path (not skipped: skipping would silently change the data, the number of
batches per DDP rank and the exact resumability of the run). A label that is
not in ``classes.txt`` stops the run before training starts.

The runs are in-process: the recipe's YAML, ``dataio_prep`` and Brain, what the
recipe's ``train.py`` runs after its prepare step. From the command line the
same ``AudioError`` ends the process, logged by SpeechBrain's exception hook.
"""

import importlib.util
import pathlib
import shutil
import sys

import numpy as np
import pytest
import soundfile
from hyperpyyaml import load_hyperpyyaml

from speechbrain_ast.audio import AudioError

REPO = pathlib.Path(__file__).resolve().parent.parent
RECIPE = REPO / "recipes" / "SpeechCommands"


def _recipe_module(name):
    """Import a file of the Speech Commands recipe (its folder on sys.path, as
    when ``train.py`` runs)."""
    sys.path.insert(0, str(RECIPE))
    try:
        spec = importlib.util.spec_from_file_location(
            f"bad_input_{name}", RECIPE / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(RECIPE))
    return module


def _prepare_module():
    return _recipe_module("sc_prepare")


@pytest.fixture(scope="module")
def prepared(samples, tmp_path_factory):
    """Speech Commands sample manifests (12 train, 6 valid, 6 test clips)."""
    save = tmp_path_factory.mktemp("sc") / "save"
    _prepare_module().prepare_speech_commands(
        data_folder=str(samples / "speech_commands_v0.02"), save_folder=str(save)
    )
    return save


def experiment(prepared, tmp_path, num_workers=0):
    """Tiny hparams over a private copy of the manifests."""
    output = tmp_path / "run"
    shutil.copytree(prepared, output / "save")
    overrides = {
        "data_folder": "unused",
        "output_folder": str(output),
        "init": "scratch",
        "embed_dim": 32,
        "depth": 1,
        "num_heads": 2,
        "n_classes": 3,
        "number_of_epochs": 1,
        "batch_size": 12,  # every training clip is in the first batch
        "num_workers": num_workers,
    }
    with open(RECIPE / "hparams" / "ast.yaml", encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    return hparams, output / "save"


def replace_wav(manifest, new_wav, row=0):
    """Point a manifest row at another file; return the file it pointed to."""
    lines = manifest.read_text().splitlines()
    fields = lines[row + 1].split(",")
    old, fields[2] = fields[2], str(new_wav)
    lines[row + 1] = ",".join(fields)
    manifest.write_text("\n".join(lines) + "\n")
    return old


def run(hparams):
    """The recipe's data preparation and training, in this process."""
    recipe = _recipe_module("train")
    datasets, _ = recipe.dataio_prep(hparams)
    brain = recipe.SpeechCommandsBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts={"device": "cpu", "noprogressbar": True},
        checkpointer=hparams["checkpointer"],
    )
    brain.fit(
        hparams["epoch_counter"],
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=hparams["train_dataloader_options"],
        valid_loader_kwargs=hparams["valid_dataloader_options"],
    )


def make_missing(folder):
    return folder / "missing.wav"


def make_empty(folder):
    (folder / "empty.wav").write_bytes(b"")
    return folder / "empty.wav"


def make_corrupt(folder):
    (folder / "corrupt.wav").write_bytes(
        b"RIFF\x10\x00\x00\x00WAVEjunk" + b"\x07" * 200
    )
    return folder / "corrupt.wav"


def make_nan(folder):
    samples = np.zeros(16000, dtype=np.float32)
    samples[100] = np.nan
    soundfile.write(folder / "nan.wav", samples, 16000, subtype="FLOAT")
    return folder / "nan.wav"


def make_too_short(folder):
    soundfile.write(folder / "short.wav", np.zeros(100), 16000)
    return folder / "short.wav"


BAD_CLIPS = [
    (make_missing, "file not found"),
    (make_empty, "file is empty"),
    (make_corrupt, "not readable as audio"),
    (make_nan, "contains NaN or Inf samples"),
    (make_too_short, "shorter than one 25 ms analysis window"),
]


@pytest.mark.parametrize(
    ("make", "reason"), BAD_CLIPS, ids=lambda v: getattr(v, "__name__", "")
)
def test_bad_training_clip_stops_the_run_naming_the_file(
    prepared, tmp_path, make, reason
):
    hparams, save = experiment(prepared, tmp_path)
    bad = make(tmp_path)
    replace_wav(save / "train.csv", bad)
    with pytest.raises(AudioError, match=f"^{bad}: {reason}"):
        run(hparams)
    assert not (tmp_path / "run" / "results.json").exists()


def test_bad_clip_is_named_through_loader_workers(prepared, tmp_path):
    hparams, save = experiment(prepared, tmp_path, num_workers=2)
    bad = make_corrupt(tmp_path)
    replace_wav(save / "train.csv", bad, row=5)
    with pytest.raises(AudioError, match=f"{bad}: not readable as audio"):
        run(hparams)


def test_bad_validation_clip_stops_the_run_naming_the_file(prepared, tmp_path):
    hparams, save = experiment(prepared, tmp_path)
    bad = make_nan(tmp_path)
    replace_wav(save / "valid.csv", bad, row=2)
    with pytest.raises(AudioError, match=f"^{bad}: contains NaN"):
        run(hparams)


def test_unknown_label_is_an_error_before_training(prepared, tmp_path):
    hparams, save = experiment(prepared, tmp_path)
    manifest = save / "train.csv"
    lines = manifest.read_text().splitlines()
    item = lines[3].split(",")[0]
    lines[3] = lines[3].rsplit(",", 1)[0] + ",zebra"
    manifest.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        ValueError, match=f"item {item}: label 'zebra' is not one of the 3"
    ):
        _recipe_module("train").dataio_prep(hparams)
