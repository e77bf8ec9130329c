"""Test helpers that doctests of the library can import too.

``python -m pytest`` (``make test``) runs from the repository root with
``pythonpath = .`` (pytest.ini), so ``from tests.helpers import ...`` works in
the library's docstring examples without shipping fixtures in the package.

Authors
 * speechbrain-ast contributors 2026
"""

import os


def tiny_model_folder(tmpdir, multi_label=True):
    """Write a random 1-block AST model folder (labels a, b, c) for examples."""
    from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead
    from speechbrain_ast.model_folder import write_model_folder

    folder = os.path.join(str(tmpdir), "tiny_model")
    encoder = AudioSpectrogramTransformer(
        n_frames=128, embed_dim=32, depth=1, num_heads=2
    )
    head = ClassificationHead(32, 3)
    labels = ["a", "b", "c"]
    return write_model_folder(
        folder, encoder, head, labels, -6.8, 5.6, multi_label, origin="example"
    )


def noise_file(tmpdir, name, seconds, rate=16000, channels=1):
    """Write ``seconds`` of quiet noise to ``tmpdir/name`` and return its path."""
    import numpy
    import soundfile

    path = os.path.join(str(tmpdir), name)
    signal = 0.1 * numpy.random.randn(int(seconds * rate), channels)
    soundfile.write(path, signal[:, 0] if channels == 1 else signal, rate)
    return path


def load_custom_data_recipe(module_name):
    """``recipes/CustomData/train.py`` as a module (its prepare module is a sibling)."""
    import importlib.util
    import pathlib
    import sys

    recipe = pathlib.Path(__file__).resolve().parent.parent / "recipes" / "CustomData"
    sys.path.insert(0, str(recipe))
    try:
        spec = importlib.util.spec_from_file_location(module_name, recipe / "train.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(recipe))
    return module
