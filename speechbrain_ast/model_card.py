"""HuggingFace model cards for model folders: ``README.md`` as SpeechBrain's.

SpeechBrain's models on the Hub (``speechbrain/urbansound8k_ecapa``,
``speechbrain/cnn14-esc50``) carry a ``README.md`` that starts with a YAML
metadata block (``language``, ``thumbnail``, ``tags``, ``license``,
``datasets``, ``metrics``), then says what the model recognises, the result
it was measured at, and how to load it with ``EncoderClassifier``.
:func:`write_model_card` writes such a card into a model folder of
``speechbrain_ast.model_folder``.

The result on the card is only ever one that was measured for these weights:

* the folder a training run exported (``<run>/model``, whose
  ``hyperparams.yaml`` header names the run): the test scores in
  ``<run>/results.json`` of the weights the run exported (the weight average
  when there is one, else the best-validation checkpoint), with the result
  lines of ``<run>/summary.md`` when the run wrote one;
* a folder exported from a checkpoint (``speechbrain-ast export CKPT_DIR``):
  those test scores only when the checkpoint is the one the run scored, and
  otherwise the checkpoint's own validation score from its ``CKPT.yaml``,
  labelled as validation;
* anything else (an imported checkpoint, a folder moved away from its run):
  "not measured".

Authors
 * speechbrain-ast contributors 2026
"""

import json
import os
import re
import shutil

import yaml

from speechbrain_ast.files import atomic_write
from speechbrain_ast.model_folder import HEADER

__all__ = ["measured_result", "model_card", "write_model_card"]

CARD_FILE = "README.md"
# Names SpeechBrain's own cards use in ``datasets``, by what the recipe's
# docstring calls the data (the first line of the run's train.py).
RECIPE_DATASETS = {
    "ESC-50": "ESC50",
    "Speech Commands": "SpeechCommands",
    "AudioSet": "AudioSet",
}
ORIGIN = re.compile(HEADER.pattern, re.MULTILINE)
TRAINED = re.compile(r"^trained by (.+), (weight-averaged|best-validation) weights$")


class _TagsAsValuesLoader(yaml.SafeLoader):
    """A safe loader that reads ``!new:``/``!ref`` entries as plain values."""


def _untagged(loader, suffix, node):
    """The value of a tagged node, without building the object it names."""
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_TagsAsValuesLoader.add_multi_constructor("!", _untagged)


def _read_model_folder(model_dir):
    """The plain facts of a model folder: hparams, the header's origin and encoder name."""
    path = os.path.join(model_dir, "hyperparams.yaml")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{model_dir}: not a model folder (no hyperparams.yaml)"
        )
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    hparams = yaml.load(text, Loader=_TagsAsValuesLoader) or {}
    if not isinstance(hparams.get("labels"), list):
        raise ValueError(f"{path}: no label list (not a speechbrain-ast model folder)")
    header = ORIGIN.search(text)
    if header is None:
        return hparams, None, "AST"
    return hparams, header.group(2), header.group(1)


def _read_json(path):
    """The content of a JSON file."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _summary_result_lines(run_dir):
    """The bullet lines under ``## Result`` of ``<run>/summary.md`` (or [])."""
    path = os.path.join(run_dir, "summary.md")
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("## Result", 1)[1] if "## Result" in text else ""
    return [line[2:] for line in section.splitlines() if line.startswith("- ")]


def measured_result(model_dir, checkpoint_dir=None):
    """What was measured for the weights of a model folder, and where it says so.

    Arguments
    ---------
    model_dir : str
        The model folder.
    checkpoint_dir : str, optional
        The training checkpoint (``<run>/save/CKPT+...``) the folder's
        weights were exported from.

    Returns
    -------
    dict or None
        ``split`` ("test" or "validation"), ``metric`` ("accuracy" or
        "mAP"), ``value``, ``weights`` (which weights were scored),
        ``source`` (the file it was read from), ``chance`` (that split's
        chance level when known) and ``summary`` (result lines of the run's
        ``summary.md``); None when nothing was measured for these weights.

    Example
    -------
    >>> from tests.helpers import tiny_model_folder
    >>> model = tiny_model_folder(getfixture("tmpdir"), multi_label=False)
    >>> measured_result(model) is None  # written by hand, not by a run
    True
    """
    hparams, origin, _ = _read_model_folder(model_dir)
    metric = "mAP" if hparams.get("multi_label") else "accuracy"
    model_dir = os.path.abspath(model_dir)
    if checkpoint_dir is not None:
        return _checkpoint_result(os.path.abspath(checkpoint_dir), metric)
    trained = TRAINED.match(origin or "")
    run_dir = os.path.dirname(model_dir)
    results_path = os.path.join(run_dir, "results.json")
    # Only the folder the run itself exported (<run>/model, its header naming
    # the run) has the run's scores. A checkpoint exported later copies that
    # header: give its checkpoint_dir, or export it elsewhere.
    if os.path.basename(model_dir) != "model" or not trained:
        return None
    if trained.group(1) != os.path.basename(run_dir):
        return None
    if not os.path.isfile(results_path):
        return None
    results = _read_json(results_path)
    averaged = trained.group(2) == "weight-averaged"
    scores = results.get("wa" if averaged else "best_valid") or {}
    if scores.get(metric) is None:
        return None
    epoch = results.get("chosen_epoch")
    weights = (
        "the weight average of the run's epochs"
        if averaged
        else "the checkpoint with the best validation score"
        + (f" (epoch {epoch})" if epoch is not None else "")
    )
    return {
        "split": "test",
        "metric": metric,
        "value": float(scores[metric]),
        "weights": weights,
        "source": results_path,
        "chance": (results.get("chance") or {}).get(
            "majority" if metric == "accuracy" else "mAP"
        ),
        "summary": _summary_result_lines(run_dir),
    }


def _checkpoint_result(checkpoint_dir, metric):
    """The test score of the run if it scored this checkpoint, else its validation score."""
    meta_path = os.path.join(checkpoint_dir, "CKPT.yaml")
    if not os.path.isfile(meta_path):
        return None
    with open(meta_path, encoding="utf-8") as handle:
        meta = yaml.safe_load(handle) or {}
    epoch = meta.get("epoch")
    # An intra-epoch checkpoint carries no score: nothing was measured for it.
    if epoch is None or meta.get("end-of-epoch") is False:
        return None
    run_dir = os.path.dirname(os.path.dirname(checkpoint_dir))  # <run>/save/CKPT+...
    results_path = os.path.join(run_dir, "results.json")
    if os.path.isfile(results_path):
        results = _read_json(results_path)
        scored = (results.get("best_valid") or {}).get(metric)
        # The run scored its best-validation checkpoint, unless it averaged.
        if (
            "wa" not in results
            and scored is not None
            and results.get("chosen_epoch") == epoch
        ):
            return {
                "split": "test",
                "metric": metric,
                "value": float(scored),
                "weights": f"checkpoint {os.path.basename(checkpoint_dir)} (epoch {epoch}), "
                "the one with the best validation score",
                "source": results_path,
                "chance": (results.get("chance") or {}).get(
                    "majority" if metric == "accuracy" else "mAP"
                ),
                "summary": _summary_result_lines(run_dir),
            }
    if meta.get(metric) is None:
        return None
    return {
        "split": "validation",
        "metric": metric,
        "value": float(meta[metric]),
        "weights": f"checkpoint {os.path.basename(checkpoint_dir)} (epoch {epoch})",
        "source": meta_path,
        "chance": None,
        "summary": [],
    }


def _recipe_dataset(run_dir):
    """The dataset name of the recipe that trained a run (from its train.py), or None."""
    path = os.path.join(run_dir, "train.py")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        head = handle.read(2000)
    first = re.search(r'"""(.*)', head)
    for name, dataset in RECIPE_DATASETS.items():
        if first and f"(AST) on {name}" in first.group(1):
            return dataset
    return None


def _format_value(metric, value):
    """A score as the tables show it: mAP to 3 decimals, accuracy in %."""
    return f"{value:.3f}" if metric == "mAP" else f"{100 * value:.1f} %"


def model_card(
    model_dir,
    result=None,
    datasets=(),
    license="apache-2.0",
    language="en",
    source=None,
    example=None,
    title=None,
):
    """The text of a HuggingFace model card for a model folder.

    Arguments
    ---------
    model_dir : str
        The model folder.
    result : dict, optional
        :func:`measured_result`'s answer (None: "not measured").
    datasets : sequence of str
        Training data names for the metadata (``ESC50``, ``AudioSet``, ...).
    license : str
        HuggingFace licence identifier of the weights.
    language : str, optional
        Language of the labels (None: no ``language`` entry).
    source : str, optional
        What the snippet loads: a Hub repository id, or the folder path
        (default: the folder's absolute path).
    example : str, optional
        File name of an example clip inside the folder; the snippet
        classifies it (default: a placeholder path).
    title : str, optional
        The card's heading (default: from the labels).

    Returns
    -------
    str
        The card: YAML metadata between ``---`` lines, then Markdown.

    Example
    -------
    >>> from tests.helpers import tiny_model_folder
    >>> model = tiny_model_folder(getfixture("tmpdir"), multi_label=False)
    >>> card = model_card(model, datasets=["ESC50"])
    >>> metadata = yaml.safe_load(card.split("---")[1])
    >>> metadata["tags"][:2], metadata["datasets"], metadata["metrics"]
    (['speechbrain', 'audio-classification'], ['ESC50'], ['Accuracy'])
    >>> "Not measured" in card
    True
    """
    hparams, origin, model_name = _read_model_folder(model_dir)
    labels = [str(label) for label in hparams["labels"]]
    multi_label = bool(hparams.get("multi_label"))
    encoder = hparams.get("embedding_model") or {}
    metric_name = "mAP" if multi_label else "Accuracy"
    is_ast = model_name == "AST"
    tags = ["speechbrain", "audio-classification"]
    tags += ["Audio Spectrogram Transformer", "AST"] if is_ast else [model_name]
    tags += (
        ["audio-tagging", "multi-label"] if multi_label else ["Sound Classification"]
    )
    tags.append("pytorch")
    metadata = {
        "language": language,
        "thumbnail": None,
        "tags": tags,
        "license": license,
    }
    if language is None:
        del metadata["language"]
    if datasets:
        metadata["datasets"] = list(datasets)
    metadata["metrics"] = [metric_name]
    metadata["library_name"] = "speechbrain"
    metadata["pipeline_tag"] = "audio-classification"
    source = source or os.path.abspath(model_dir)
    kind = "tags (multi-label)" if multi_label else "classes"
    lines = [
        "---",
        yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True).strip(),
        "---",
        "",
    ]
    model_title = "Audio Spectrogram Transformer" if is_ast else model_name
    lines += [f"# {title or f'{model_title}: {len(labels)} sound {kind}'}", ""]
    features = (
        f"{hparams.get('n_mels', 128)}-bin Kaldi fbank features of "
        f"{hparams.get('n_frames', '?')} frames (10 ms each) at "
        f"{hparams.get('sample_rate', 16000)} Hz, "
    )
    if is_ast:
        what = (
            "the Audio Spectrogram Transformer (AST; Gong, Chung, Glass, "
            f"Interspeech 2021) on {features}width {encoder.get('embed_dim', '?')}, "
            f"depth {encoder.get('depth', '?')}, "
            f"{encoder.get('num_heads', '?')} attention heads; "
        )
    else:
        what = f"a {model_name} encoder on {features}"
    lines += [
        "A SpeechBrain model folder written by speechbrain-ast: "
        + what
        + (
            "an independent sigmoid score per label."
            if multi_label
            else "one class per clip (softmax)."
        ),
    ]
    if origin:
        lines += ["", f"Origin: {origin}."]
    lines += ["", "## Labels", "", f"{len(labels)} {kind}, in output order:", "", "```"]
    lines += [", ".join(labels), "```", "", "## Result", ""]
    if result is None:
        lines += [
            "Not measured: no test or validation score is recorded for these weights "
            "(no `results.json` of the training run that exported them).",
        ]
    else:
        lines += [
            "| Split | Metric | Value | Weights scored | Read from |",
            "|---|---|---|---|---|",
            f"| {result['split']} | {result['metric']} | "
            f"{_format_value(result['metric'], result['value'])} | {result['weights']} | "
            f"`{os.path.basename(result['source'])}` of the "
            f"{'checkpoint' if result['split'] == 'validation' else 'run'} |",
        ]
        if result.get("chance") is not None:
            said = (
                "always answering the most frequent class"
                if result["metric"] == "accuracy"
                else "random scores"
            )
            lines += [
                "",
                f"Chance on that split: {_format_value(result['metric'], result['chance'])} ({said}).",
            ]
        if result["split"] == "validation":
            lines += [
                "",
                "This is the score on the validation split, which chose the "
                "checkpoints; no test score was measured for these weights.",
            ]
        if result.get("summary"):
            lines += ["", "From the run's `summary.md`:", ""]
            lines += [f"- {line}" for line in result["summary"]]
    clip = f"{source}/{example}" if example else "my_clip.wav"
    comment = (
        "  # an example clip shipped with the model"
        if example
        else "  # any audio file"
    )
    lines += [
        "",
        "## Use",
        "",
        "The folder's `hyperparams.yaml` builds its modules from the "
        "`speechbrain_ast` package, so install it beside SpeechBrain "
        "(`pip install .` in a speechbrain-ast checkout).",
        "",
        "```python",
        "from speechbrain.inference.classifiers import EncoderClassifier",
        "",
        f"classifier = EncoderClassifier.from_hparams(source={source!r})",
        f"out_prob, score, index, text_lab = classifier.classify_file({clip!r}){comment}",
        "print(text_lab[0])",
        "```",
        "",
        "Audio of any sample rate is resampled and downmixed to mono. For the top "
        "labels with scores and for files longer than the model input, use "
        "speechbrain-ast's `AudioTagger` (an `EncoderClassifier`):",
        "",
        "```python",
        "from speechbrain_ast import AudioTagger",
        "",
        f"tagger = AudioTagger.from_hparams(source={source!r})",
        'print(tagger.tag_file("my_clip.wav", top_k=3).labels)  # a local audio file',
        "```",
        "",
        "## Limitations",
        "",
        "The result above holds for the split and data it was measured on; no "
        "warranty is given for other data. The licence above is the one given "
        "when the card was written; the licence of the training data may "
        "restrict the use of the weights.",
        "",
        "## Citing",
        "",
        "```bibtex",
    ]
    if is_ast:
        lines += [
            "@inproceedings{gong2021ast,",
            "  title={{AST: Audio Spectrogram Transformer}},",
            "  author={Gong, Yuan and Chung, Yu-An and Glass, James},",
            "  booktitle={Interspeech},",
            "  year={2021}",
            "}",
        ]
    lines += [
        "@misc{speechbrain,",
        "  title={{SpeechBrain}: A General-Purpose Speech Toolkit},",
        "  author={Ravanelli, Mirco and Parcollet, Titouan and others},",
        "  year={2021},",
        "  eprint={2106.04624},",
        "  archivePrefix={arXiv}",
        "}",
        "```",
        "",
    ]
    return "\n".join(lines)


def write_model_card(
    model_dir,
    checkpoint_dir=None,
    datasets=None,
    license="apache-2.0",
    language="en",
    hub_id=None,
    example=None,
):
    """Write ``<model_dir>/README.md``, a HuggingFace model card.

    Arguments
    ---------
    model_dir : str
        The model folder.
    checkpoint_dir : str, optional
        The checkpoint its weights were exported from
        (``speechbrain-ast export CKPT_DIR OUT_DIR --card``).
    datasets : list of str, optional
        Training data names (default: from the recipe that trained the
        run, when it is one of ours; else none).
    license : str
        HuggingFace licence identifier.
    language : str, optional
        Language of the labels.
    hub_id : str, optional
        The Hub repository the folder will be uploaded to; the snippet
        loads it (default: the folder's absolute path).
    example : str, optional
        An audio file copied into the folder as ``example<ext>``; the
        snippet classifies it.

    Returns
    -------
    str
        The card's path.

    Example
    -------
    >>> from tests.helpers import tiny_model_folder
    >>> model = tiny_model_folder(getfixture("tmpdir"))
    >>> path = write_model_card(model, datasets=["AudioSet"])
    >>> open(path, encoding="utf-8").read().startswith("---\\nlanguage: en\\n")
    True
    """
    result = measured_result(model_dir, checkpoint_dir)
    if datasets is None:
        run_dir = (
            os.path.dirname(os.path.dirname(os.path.abspath(checkpoint_dir)))
            if checkpoint_dir
            else os.path.dirname(os.path.abspath(model_dir))
        )
        dataset = _recipe_dataset(run_dir)
        datasets = [dataset] if dataset else []
    example_name = None
    if example is not None:
        if not os.path.isfile(example):
            raise FileNotFoundError(f"{example}: example audio file not found")
        example_name = "example" + os.path.splitext(example)[1].lower()
        target = os.path.join(model_dir, example_name)
        if not (os.path.exists(target) and os.path.samefile(example, target)):
            shutil.copyfile(example, target)
    text = model_card(
        model_dir,
        result=result,
        datasets=datasets,
        license=license,
        language=language,
        source=hub_id,
        example=example_name,
    )
    path = os.path.join(model_dir, CARD_FILE)
    with atomic_write(path) as handle:
        handle.write(text)
    return path
