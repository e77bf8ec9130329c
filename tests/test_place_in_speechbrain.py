"""scripts/place_in_speechbrain.py on a small stand-in of SpeechBrain's tree:
our recipes land in SpeechBrain's layout, its files stay as they were, our
rows are appended with every path moved, and a second run writes nothing."""

import csv
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
THEIR_ESC50_ROW = (
    "SoundClassification,ESC50,recipes/ESC50/classification/train.py,"
    "recipes/ESC50/classification/hparams/conv2d.yaml,"
    "recipes/ESC50/classification/esc50_prepare.py,"
    "recipes/ESC50/classification/README.md,,,--data_folder tests/samples/ESC50,,"
)
HEADER = (
    "Task,Dataset,Script_file,Hparam_file,Data_prep_file,Readme_file,Result_url,"
    "HF_repo,test_debug_flags,test_debug_checks,performance"
)


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "place_in_speechbrain", REPO / "scripts/place_in_speechbrain.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def their_tree(tmp_path):
    """SpeechBrain's files that ours sit beside (content made up, names real)."""
    root = tmp_path / "speechbrain"
    theirs = {
        "recipes/ESC50/classification/train.py": "# their train\n",
        "recipes/ESC50/classification/esc50_prepare.py": "# their prepare\n",
        "recipes/ESC50/classification/README.md": "their readme\n",
        "recipes/ESC50/classification/hparams/conv2d.yaml": "x: 1\n",
        "recipes/Google-speech-commands/train.py": "# their gsc\n",
        "tests/samples/ESC50/a.wav": "not audio\n",
        "tests/recipes/ESC50.csv": HEADER + "\n" + THEIR_ESC50_ROW,  # no final newline
        "tests/recipes/Google-speech-commands.csv": HEADER + "\n",
    }
    for name, text in theirs.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root, theirs


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, skipinitialspace=True))


def test_places_everything_and_keeps_theirs(their_tree):
    root, theirs = their_tree
    place = _load_script()
    written = place.place(root)

    for name, text in theirs.items():
        if not name.startswith("tests/recipes/"):
            assert (root / name).read_text() == text, f"{name} was changed"
    esc50 = _rows(root / "tests/recipes/ESC50.csv")
    assert esc50[0]["Hparam_file"] == "recipes/ESC50/classification/hparams/conv2d.yaml"
    ours = esc50[1:]
    with open(REPO / "tests/recipes/ESC50.csv", newline="") as f:
        assert len(ours) == len(list(csv.DictReader(f)))
    # Every path of every appended row exists in the placed tree, and the
    # debug flags name the placed samples.
    for name in ("ESC50", "Google-speech-commands", "AudioSet", "CustomData"):
        rows = _rows(root / f"tests/recipes/{name}.csv")
        placed = [r for r in rows if r["Script_file"] not in theirs]
        assert placed, name
        for row in placed:
            assert row["Dataset"] == name
            for field in place.PATH_FIELDS:
                assert (root / row[field]).is_file(), (name, row[field])
            folder = row["test_debug_flags"].split("--data_folder=")[1].split()[0]
            assert folder.startswith("tests/samples/AST/")
            assert (root / folder).exists(), folder
    assert (root / "recipes/ESC50/classification/AST/train.py").read_bytes() == (
        REPO / "recipes/ESC50/train.py"
    ).read_bytes()
    assert (root / "recipes/AudioSet/self-supervised-learning/train.py").is_file()
    assert not (root / "recipes/ESC50/classification/AST/ruff.toml").exists()
    assert all((root / p).exists() for p in written)


def test_second_run_writes_nothing(their_tree):
    root, _ = their_tree
    place = _load_script()
    place.place(root)
    before = (root / "tests/recipes/ESC50.csv").read_text()
    with pytest.raises(FileExistsError, match="already exist, nothing written"):
        place.place(root)
    assert (root / "tests/recipes/ESC50.csv").read_text() == before


def test_one_taken_file_stops_before_writing(their_tree):
    root, _ = their_tree
    place = _load_script()
    taken = root / "recipes/CustomData/README.md"
    taken.parent.mkdir(parents=True)
    taken.write_text("someone else's\n")
    with pytest.raises(FileExistsError, match="recipes/CustomData/README.md"):
        place.place(root)
    assert taken.read_text() == "someone else's\n"
    assert not (root / "recipes/ESC50/classification/AST").exists()
    assert len(_rows(root / "tests/recipes/ESC50.csv")) == 1


def test_not_a_speechbrain_tree(tmp_path, capsys):
    place = _load_script()
    assert place.main([str(tmp_path)]) == 2
    assert "not a SpeechBrain checkout" in capsys.readouterr().err


def test_upstream_check_needs_a_checkout(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "upstream_check", REPO / "scripts/upstream_check.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--sb", str(tmp_path)]) == 2
    assert "not a SpeechBrain checkout" in capsys.readouterr().err
    # The hooks SpeechBrain runs find what they look for.
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1   \ny = 2")
    problems = module.basic_hooks([bad])
    assert any("trailing whitespace" in p for p in problems)
    assert any("no newline at end of file" in p for p in problems)
