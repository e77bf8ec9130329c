"""The wheel: built offline, it holds the custom-data recipe, and it trains.

The wheel is built (``pip wheel --no-build-isolation``: no index, no
download) from a copy of the checkout's files (``git ls-files``), so that
build outputs stay out of the checkout and a stale ``build/`` cannot leak
into it. Its contents are checked, then it is installed non-editable into a
folder (``pip install --target``) and run from outside the checkout with only
that folder on ``PYTHONPATH``: ``speechbrain-ast train`` must use the
recipe installed with the package and write a model folder, and
``speechbrain-ast evaluate`` (the recipe's readers, the model folder) must
score it, with the wheel's code.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
RECIPE = REPO / "recipes" / "CustomData"
INSTALLED_RECIPE = "speechbrain_ast/recipes/CustomData"
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
# Runs the console script's function and says which files the code came from.
RUN_ENTRY = (
    "import sys, speechbrain_ast.cli, speechbrain_ast_entry; "
    "print('code:', speechbrain_ast_entry.__file__, speechbrain_ast.cli.__file__, "
    "flush=True); sys.exit(speechbrain_ast_entry.main(sys.argv[1:]))"
)


def copy_sources(destination):
    """Copy the files the next commit would hold (tracked and new, not ignored)."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():  # deleted but still in the index: skip
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel built offline from a copy of the checkout."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("the wheel is built from the files of a git checkout")
    pytest.importorskip("setuptools", minversion="70.1")
    source = tmp_path_factory.mktemp("source")
    copy_sources(source)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        PIP + ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
               "-w", str(out), str(source)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (built,) = out.glob("speechbrain_ast-*.whl")
    return built


def test_the_wheel_holds_the_package_the_entry_module_and_the_recipe(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    recipe_files = {
        f"{INSTALLED_RECIPE}/{path.relative_to(RECIPE).as_posix()}"
        for pattern in ("*.py", "hparams/*.yaml", "README.md")
        for path in RECIPE.glob(pattern)
    }
    expected = recipe_files | {
        "speechbrain_ast_entry.py",
        "speechbrain_ast_fix_wheels.py",
        "speechbrain_ast/recipe_files.py",
        "speechbrain_ast/cli/train.py",
        "speechbrain_ast/tagging/tagger.py",
    }
    assert expected <= names, sorted(expected - names)
    assert f"{INSTALLED_RECIPE}/hparams/ast_small_scratch.yaml" in names
    # The package and its metadata only: no tests, benchmarks, demo data or
    # other recipes (they need a checkout and their datasets).
    allowed = (
        "speechbrain_ast/", "speechbrain_ast_entry.py", "speechbrain_ast_fix_wheels.py",
        "speechbrain_ast-",
    )  # fmt: skip
    assert [name for name in names if not name.startswith(allowed)] == []
    recipes = {
        name.split("/")[2]
        for name in names
        if name.startswith("speechbrain_ast/recipes/")
    }
    assert recipes == {"CustomData"}
    assert not [
        name for name in names if name.endswith((".wav", ".ckpt", ".pyc", ".csv"))
    ]
    (entry_points,) = [name for name in names if name.endswith("entry_points.txt")]
    assert "speechbrain-ast = speechbrain_ast_entry:main" in (
        zipfile.ZipFile(wheel).read(entry_points).decode()
    )


def test_the_installed_wheel_trains_and_evaluates_outside_the_checkout(
    wheel, samples, tmp_path
):
    target = tmp_path / "site"
    done = subprocess.run(
        PIP + ["install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    # Only the installed folder: not the checkout (an inherited PYTHONPATH or
    # the current folder would put it first).
    env = dict(
        os.environ, PYTHONPATH=str(target), OMP_NUM_THREADS="1", MPLBACKEND="Agg"
    )
    work = tmp_path / "work"
    work.mkdir()
    data = samples / "speech_commands_v0.02"
    output = work / "run"
    trained = subprocess.run(
        [str(target / "bin" / "speechbrain-ast"), "train", str(data), "--output", str(output),
         "--epochs", "1", "--device", "cpu",
         "--", "--embed_dim", "16", "--ecapa_width", "16", "--ecapa_attention", "8", "--noprogressbar",
         "--summary_baseline", "False", "--check_leakage", "False"],
        env=env, capture_output=True, text=True, cwd=work,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-3000:]
    running = next(
        line for line in trained.stdout.splitlines() if line.startswith("running:")
    )
    assert running.split()[1] == str(target / INSTALLED_RECIPE / "train.py")
    assert (output / "model" / "hyperparams.yaml").is_file()

    evaluated = subprocess.run(
        [sys.executable, "-c", RUN_ENTRY, "evaluate", str(output / "model"), str(data), "--json"],
        env=env, capture_output=True, text=True, cwd=work,
    )  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    code, document = evaluated.stdout.split("\n", 1)
    entry_file, cli_file = code.split()[1:]
    for path in (entry_file, cli_file):
        assert pathlib.Path(path).is_relative_to(target), path
    scores = json.loads(document)
    assert scores["n_clips"] > 0 and 0.0 <= scores["accuracy"] <= 1.0


def test_extra_requirements_name_only_packages_an_index_has():
    # SpeechBrain's recipe runner pip-installs extra_requirements.txt; no index
    # has speechbrain-ast, so the files say in a comment how to install it.
    for path in REPO.glob("recipes/*/extra_requirements.txt"):
        lines = [line.strip() for line in path.read_text().splitlines()]
        names = [
            re.split(r"[<>=!~;\[ ]", line)[0]
            for line in lines
            if line and not line.startswith("#")
        ]
        assert names and not {"speechbrain-ast", "speechbrain_ast"} & set(names), path
        assert "speechbrain_ast-" in path.read_text(), path  # the wheel's name
