"""Installable package for speechbrain-ast: the Audio Spectrogram Transformer
(Gong, Chung, Glass, Interspeech 2021) for SpeechBrain."""

from setuptools import find_packages, setup

# `speechbrain-ast train` and `evaluate` run the custom-data recipe, so the
# wheel carries it as speechbrain_ast/recipes/CustomData (found by
# speechbrain_ast.recipe_files); recipes/CustomData stays its only copy.
RECIPE_PACKAGE = "speechbrain_ast.recipes.CustomData"

setup(
    name="speechbrain-ast",
    version="0.1.0",
    description="Audio Spectrogram Transformer (AST) for SpeechBrain",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["speechbrain_ast", "speechbrain_ast.*"])
    + [RECIPE_PACKAGE],
    package_dir={RECIPE_PACKAGE: "recipes/CustomData"},
    package_data={RECIPE_PACKAGE: ["hparams/*.yaml", "README.md"]},
    install_requires=[
        "torch>=2.1",
        "torchaudio>=2.1",
        "speechbrain>=1.0",
        "hyperpyyaml",
        "timm>=0.9",
        "huggingface_hub>=0.23",
        "sentencepiece",
        "scikit-learn",
        "soundfile",
        "matplotlib",
    ],
    extras_require={
        # setuptools >= 70.1 builds wheels without the `wheel` package
        # (tests/test_wheel.py builds one offline).
        "test": ["pytest", "transformers", "ruff", "setuptools>=70.1"],
        "shards": ["webdataset"],
        # ONNX export, the onnxruntime backend and int8 (onnxruntime quantisation).
        "onnx": ["onnx>=1.16", "onnxruntime>=1.17", "onnxscript>=0.2"],
        # Maintained DCASE evaluators: cross-checks of our event metrics, and
        # PSDS in `speechbrain-ast evaluate --psds`. Heavy (librosa, numba,
        # pandas, a Cython build), so not in `test`. sed_scores_eval 0.0.4
        # writes into arrays that pandas >= 3 hands out read-only.
        "eval": ["sed_eval==0.2.1", "sed_scores_eval==0.0.4", "pandas<3"],
    },
    # The console script and the CPU wheel fix live outside the package: they run
    # (and explain) where the torch stack cannot be imported.
    py_modules=["speechbrain_ast_entry", "speechbrain_ast_fix_wheels"],
    entry_points={"console_scripts": ["speechbrain-ast=speechbrain_ast_entry:main"]},
)
