"""Where a recipe's files are: the source checkout, else the installed package.

``speechbrain-ast train`` runs the custom-data recipe and ``speechbrain-ast
evaluate`` reads data with its prepare script. In a source checkout (and an
editable install) the recipe is ``recipes/CustomData/`` beside the package.
A wheel carries the same files as ``speechbrain_ast/recipes/CustomData/``
(``setup.py`` maps the folder there; the repository keeps one copy), so the
commands also work after a plain ``pip install``. Only the custom-data
recipe is installed: the paper's recipes need their datasets, and a checkout.

Authors
 * speechbrain-ast contributors 2026
"""

import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent
CHECKOUT_RECIPES = PACKAGE.parent / "recipes"
INSTALLED_RECIPES = PACKAGE / "recipes"
DEFAULT_RECIPE = "CustomData"


def recipe_folder(name=DEFAULT_RECIPE):
    """The folder of recipe ``name``: the checkout's, else the installed copy.

    The checkout comes first so that, in a clone, the recipe being edited is
    the one that runs.

    Arguments
    ---------
    name : str
        The recipe's folder name under ``recipes/`` (default: CustomData).

    Returns
    -------
    pathlib.Path
        The folder holding the recipe's ``train.py``, prepare script and
        ``hparams/``.

    Raises
    ------
    FileNotFoundError
        Neither the checkout nor the installed package has the recipe.

    Example
    -------
    >>> folder = recipe_folder()
    >>> folder.name, (folder / "hparams" / "ast_small_scratch.yaml").is_file()
    ('CustomData', True)
    >>> recipe_folder("NoSuchRecipe")
    Traceback (most recent call last):
    ...
    FileNotFoundError: recipe NoSuchRecipe: not in .../recipes (a source checkout) nor in .../speechbrain_ast/recipes (installed with the package); recipes found: ...CustomData...
    """
    roots = (CHECKOUT_RECIPES, INSTALLED_RECIPES)
    for root in roots:
        if (root / name / "train.py").is_file():
            return root / name
    found = sorted(
        {path.parent.name for root in roots for path in root.glob("*/train.py")}
    )
    raise FileNotFoundError(
        f"recipe {name}: not in {CHECKOUT_RECIPES} (a source checkout) nor in "
        f"{INSTALLED_RECIPES} (installed with the package); recipes found: "
        + (", ".join(found) or "none, reinstall speechbrain-ast")
    )
