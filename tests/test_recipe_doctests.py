"""The examples in the recipes' ``train.py`` docstrings run and pass.

``make test`` collects doctests with ``--doctest-modules``, but it has to skip
``recipes/*/train.py``: each imports its data-preparation module as a
sibling (``from esc50_prepare import ...``, the SpeechBrain recipe layout),
which only resolves with the recipe folder on ``sys.path``. This test puts it
there, loads each ``train.py`` under a unique module name, and runs its
examples.
"""

import doctest
import importlib.util
import pathlib
import sys

import pytest

RECIPES = pathlib.Path(__file__).resolve().parent.parent / "recipes"
TRAIN_SCRIPTS = sorted(RECIPES.glob("*/train.py"))


@pytest.mark.parametrize(
    "script", TRAIN_SCRIPTS, ids=[path.parent.name for path in TRAIN_SCRIPTS]
)
def test_train_script_examples_pass(script, monkeypatch, tmp_path, request):
    """Every docstring example of the recipe's train.py passes."""
    monkeypatch.syspath_prepend(str(script.parent))
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    name = f"recipe_train_{script.parent.name.lower()}"
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    # Examples may call getfixture("tmpdir"), as in pytest's own doctest runs.
    result = doctest.testmod(
        module,
        extraglobs={"getfixture": request.getfixturevalue},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.failed == 0, f"{script}: {result.failed} example(s) failed"


def test_a_recipe_has_examples():
    """The test above is not vacuous: the CustomData recipe has examples."""
    source = (RECIPES / "CustomData" / "train.py").read_text(encoding="utf-8")
    assert ">>> derived_schedule(" in source
