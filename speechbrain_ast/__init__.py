"""speechbrain-ast: the Audio Spectrogram Transformer (AST) for SpeechBrain.

Gong, Chung, Glass, "AST: Audio Spectrogram Transformer", Interspeech 2021.
"""

from speechbrain_ast.features import FixedNormalization, KaldiFbank
from speechbrain_ast.model import (
    AudioSpectrogramTransformer,
    ClassificationHead,
)

__all__ = [
    "AudioSpectrogramTransformer",
    "ClassificationHead",
    "FixedNormalization",
    "KaldiFbank",
    "AudioTagger",
]


def __getattr__(name):
    # AudioTagger imports speechbrain.inference; load it only when asked for.
    if name == "AudioTagger":
        from speechbrain_ast.tagging.tagger import AudioTagger

        return AudioTagger
    raise AttributeError(f"module 'speechbrain_ast' has no attribute {name!r}")
