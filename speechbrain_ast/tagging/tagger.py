"""Audio tagging with a trained or imported AST model folder.

``AudioTagger`` is a SpeechBrain ``EncoderClassifier``: everything that works
on ``EncoderClassifier`` (``classify_batch``, ``classify_file``,
``encode_batch``) works here, and it adds what tagging needs:

* scores as probabilities: a sigmoid per class for multi-label models
  (``multi_label: True`` in ``hyperparams.yaml``, e.g. AudioSet), a softmax
  over classes otherwise (ESC-50, Speech Commands);
* top-k and threshold selection of (label, score) pairs per clip;
* long audio: a file longer than the model's input is cut into overlapping
  windows, tagged in batches, and the window scores are aggregated into
  clip-level tags plus a per-window timeline;
* sound events: onsets and offsets per label from that timeline
  (``detect_events``, see ``speechbrain_ast.tagging.events``);
* batched clips of different lengths give the same result as tagging them one
  by one (the features get each clip's true length);
* an onnxruntime backend (``backend="onnx"``, ``int8=True``): the windows
  are scored by the exported graph of ``speechbrain_ast.tagging.onnx_export``, with
  the same windows, aggregation and timeline as the PyTorch backend; the
  inherited ``classify_batch`` / ``classify_file`` use it too, and
  ``encode_batch`` says that embeddings need the PyTorch backend;
* arrays are tagged at their own rate, which must be given
  (``tag_waveform(wav, sample_rate=44100)``, or HuggingFace's
  ``{"raw": array, "sampling_rate": rate}``); silent or sub-frame input is
  flagged in the result (``silent``, ``too_short``).

``AudioTagger`` is put together from one part per responsibility, each a
mixin in its own module that reads on its own:

* ``loading.ModelFolderLoading``: ``from_hparams`` (local folders in place
  and offline, clear errors, the backend chosen at load time);
* ``backend.OnnxBackend``: ``backend``, ``use_onnx``, ``quantize_int8`` and
  the ``logits_batch`` / ``score_batch`` that go to onnxruntime when asked;
* ``detection.EventDetecting``: ``detect_events``;
* ``windows.WindowTagging``: ``window_samples``, ``window_hop_samples``,
  ``load_audio``, ``tag_file``, ``tag_waveform``, ``tag_files`` (with
  ``window_starts`` and ``TaggingResult``);
* ``scoring.BatchScoring``: ``labels``, ``sample_rate``, ``multi_label``,
  ``encode_batch``, ``logits_batch`` and ``score_batch`` (PyTorch),
  ``classify_batch``, ``classify_file``, ``tag_batch``, ``select``.

Authors
 * speechbrain-ast contributors 2026
"""

from speechbrain.inference.classifiers import EncoderClassifier

from speechbrain_ast.tagging.backend import OnnxBackend
from speechbrain_ast.tagging.detection import EventDetecting
from speechbrain_ast.tagging.loading import ModelFolderLoading
from speechbrain_ast.tagging.scoring import BatchScoring
from speechbrain_ast.tagging.windows import TaggingResult, WindowTagging, window_starts

__all__ = ["AudioTagger", "TaggingResult", "window_starts"]


class AudioTagger(
    ModelFolderLoading,
    OnnxBackend,
    EventDetecting,
    WindowTagging,
    BatchScoring,
    EncoderClassifier,
):
    """Tag audio with an AST model folder (top-k, thresholds, long audio).

    Load it like any SpeechBrain interface, e.g.
    ``AudioTagger.from_hparams(source="/path/to/model_folder")``. The folder
    is read in place and offline; the current directory does not matter.

    Scores are probabilities: a sigmoid of each logit when the folder's
    ``multi_label`` is True (independent classes, as AudioSet), a softmax
    over classes otherwise. ``classify_batch``/``classify_file`` keep the
    parent's outputs (raw logits, top-1), from the chosen backend.

    Arguments
    ---------
    See ``speechbrain.inference.interfaces.Pretrained``.

    Example
    -------
    >>> import torch
    >>> from tests.helpers import tiny_model_folder
    >>> folder = tiny_model_folder(getfixture("tmpdir"))  # 1 block, labels a, b, c
    >>> tagger = AudioTagger.from_hparams(source=folder)
    >>> scores, tags = tagger.tag_batch(
    ...     torch.randn(2, 16000), top_k=2, sample_rate=16000
    ... )
    >>> scores.shape, len(tags[0])
    (torch.Size([2, 3]), 2)
    >>> result = tagger.tag_waveform(torch.randn(48000), sample_rate=16000)
    >>> len(result.timeline) > 1
    True
    """
