"""``speechbrain-ast evaluate``: score a model folder on labelled data.

``speechbrain-ast evaluate MODEL DIR_OR_CSV`` tags every clip of a dataset
in one of the layouts ``train`` reads (a folder per class, or a CSV
``path,label[,split][,group]``; read by the custom-data recipe's own
readers) and compares the tags with the labels
(``speechbrain_ast.tagging.evaluation.clip_scores``): accuracy and a
confusion matrix for a single-label model, mAP for a multi-label one, both
against their chance level, and per-class precision, recall and F1.

With ``--events REF.tsv`` the data is a folder (or manifest) of recordings
and the reference a DCASE event list (``filename onset offset
event_label``); the recordings named there are found by file name, their
events detected as ``tag --events`` does, and scored with event-based and
segment-based F1 (``speechbrain_ast.tagging.event_metrics``).

Files that cannot be read are skipped and listed, and the exit code is then
1; a label the model does not know stops the command before any tagging
(exit code 2).

Authors
 * speechbrain-ast contributors 2026
"""

import importlib.util
import json
import math
import os
import sys

from speechbrain_ast.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    add_event_options,
    check_window,
    event_options,
    load_tagger,
    non_negative_float,
    positive_int,
    probability,
    problem,
    report,
)
from speechbrain_ast.recipe_files import recipe_folder

SPLITS = ("train", "valid", "test")
PSDS_NEEDS = "--psds needs sed_scores_eval: pip install 'speechbrain-ast[eval]'"
# Names shown per list in the text output; --json has all of them.
MAX_LISTED = 10


def add_evaluate_parser(commands, formatter_class):
    """Add the ``evaluate`` subcommand to a ``speechbrain-ast`` subparsers object.

    Arguments
    ---------
    commands : argparse._SubParsersAction
        The subcommands of ``speechbrain-ast``.
    formatter_class : type
        Help formatter shared by the subcommands.

    Returns
    -------
    argparse.ArgumentParser
        The ``evaluate`` parser.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = add_evaluate_parser(parser.add_subparsers(), argparse.HelpFormatter)
    >>> args = parser.parse_args(["evaluate", "model", "sounds"])
    >>> args.model, args.data, args.split, args.threshold, args.events
    ('model', 'sounds', None, 0.5, None)
    """
    evaluate = commands.add_parser(
        "evaluate",
        formatter_class=formatter_class,
        help="score a model folder on labelled sounds (accuracy or mAP, per class)",
        description="Tag every clip of a labelled dataset (the layouts `train` "
        "reads: a folder per class, or a CSV path,label[,split][,group]) and "
        "score the tags: accuracy, chance level and a confusion matrix for a "
        "single-label model; mAP and the chance mAP for a multi-label one; "
        "per-class precision, recall and F1. With --events REF.tsv, DATA holds "
        "recordings and the reference is a DCASE event list: event-based and "
        "segment-based F1.",
    )
    evaluate.add_argument("model", metavar="MODEL", help="model folder")
    evaluate.add_argument(
        "data",
        metavar="DIR_OR_CSV",
        help="folder with one sub-folder per class, or a CSV with path,label "
        "(with --events: a folder or manifest of the recordings)",
    )
    evaluate.add_argument(
        "--split",
        choices=SPLITS,
        default=None,
        help="score only the rows of this split of a CSV with a split column "
        "(default: all rows)",
    )
    evaluate.add_argument(
        "--threshold",
        type=probability,
        default=0.5,
        metavar="T",
        help="multi-label models: a class counts as predicted from this score "
        "on (per-class precision, recall, F1)",
    )
    evaluate.add_argument(
        "--aggregate",
        choices=("max", "mean"),
        default="max",
        help="how window scores of a clip longer than the model input make "
        "its scores (as `tag`)",
    )
    evaluate.add_argument(
        "--hop",
        type=float,
        default=None,
        metavar="SECONDS",
        help="hop between windows (default: half a window)",
    )
    evaluate.add_argument(
        "--window",
        type=float,
        default=None,
        metavar="SECONDS",
        help="window length (default: the model input)",
    )
    evaluate.add_argument(
        "--batch-size", type=positive_int, default=8, help="windows per forward pass"
    )
    events = evaluate.add_argument_group(
        "sound events",
        "Events are detected as `tag --events` does and matched to the "
        "reference by file name.",
    )
    events.add_argument(
        "--events",
        default=None,
        metavar="REF.tsv",
        help="DCASE reference event list (tab-separated filename, onset, "
        "offset, event_label; a row with only a filename: no events) "
        "(default: none, score clip labels)",
    )
    events.add_argument(
        "--t-collar",
        type=non_negative_float,
        default=0.2,
        metavar="SECONDS",
        help="event-based: onset collar, and the least offset collar (DCASE: 0.2)",
    )
    events.add_argument(
        "--percentage-of-length",
        type=probability,
        default=0.2,
        metavar="P",
        help="event-based: offset collar as a share of the reference event's "
        "length (DCASE: 0.2)",
    )
    events.add_argument(
        "--segment",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="segment-based: segment length",
    )
    add_event_options(events)
    events.add_argument(
        "--events-csv",
        default=None,
        metavar="TSV",
        help="also write the detected events as a DCASE event list (default: none)",
    )
    events.add_argument(
        "--psds",
        action="store_true",
        help="also compute PSDS1 and PSDS2 (DCASE task 4; needs sed_scores_eval: "
        "pip install 'speechbrain-ast[eval]')",
    )
    evaluate.add_argument(
        "--int8",
        action="store_true",
        help="int8 matrix products (onnxruntime, CPU; implies --backend onnx)",
    )
    evaluate.add_argument(
        "--backend",
        choices=("torch", "onnx"),
        default="torch",
        help="score windows with PyTorch or with onnxruntime (CPU)",
    )
    evaluate.add_argument(
        "--onnx",
        default=None,
        metavar="FILE",
        help="with --backend onnx or --int8: a graph from `export-onnx` of the "
        "same model folder (default: export at start-up)",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON document")
    evaluate.add_argument("--device", default="cpu", help="torch device")
    evaluate.set_defaults(func=run_evaluate)
    return evaluate


def run_evaluate(args):
    """Score the model on the data; print the scores.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed ``evaluate`` arguments.

    Returns
    -------
    int
        ``EXIT_OK``, or ``EXIT_FAILED`` if a file could not be read.

    Raises
    ------
    CommandError
        Missing data, a label the model does not know (exit code 2), or no
        readable file (exit code 1).
    """
    if not os.path.exists(args.data):
        raise CommandError(f"{args.data}: no such folder or CSV file", EXIT_USAGE)
    if args.events and not os.path.isfile(args.events):
        raise CommandError(f"{args.events}: reference event list not found", EXIT_USAGE)
    if not args.events and (args.events_csv or args.psds):
        option = "--events-csv" if args.events_csv else "--psds"
        raise CommandError(f"{option} needs --events REF.tsv", EXIT_USAGE)
    if args.psds and importlib.util.find_spec("sed_scores_eval") is None:
        raise CommandError(PSDS_NEEDS, EXIT_USAGE)
    if not args.segment > 0:
        raise CommandError(
            f"--segment must be positive, got {args.segment}", EXIT_USAGE
        )
    if args.events:
        return run_event_evaluation(args)
    rows, not_used, note = labelled_clips(args.data, args.split)
    tagger = load_tagger(args.model, args.device, args.int8, args.backend, args.onnx)
    check_window(tagger, args)
    check_labels(rows, tagger, args)
    scored, failed = [], []
    for row in rows:
        try:
            result = tagger.tag_file(
                row["path"],
                top_k=1,
                hop_seconds=args.hop,
                aggregate=args.aggregate,
                batch_size=args.batch_size,
                window_seconds=args.window,
            )
        except Exception as error:  # one bad file must not stop the others
            failed.append(
                {"file": row["path"], "error": file_problem(row["path"], error)}
            )
            report(f"{row['path']}: {failed[-1]['error']}")
            continue
        scored.append((row, result.scores))
    if not scored:
        raise CommandError(f"{args.data}: none of the {len(rows)} clips could be read")
    import torch

    from speechbrain_ast.tagging.evaluation import clip_scores

    scores = torch.stack([clip for _, clip in scored])
    result = clip_scores(
        [row["labels"] for row, _ in scored],
        scores,
        tagger.labels,
        tagger.multi_label,
        args.threshold,
    )
    document = {
        "model": os.path.abspath(args.model),
        "data": os.path.abspath(args.data),
        "split": args.split,
        "note": note,
        **result,
        "predictions": predictions(scored, tagger, args.threshold),
        "skipped": failed,
        "not_used": [{"file": path, "reason": reason} for path, reason in not_used],
    }
    if args.json:
        print(json.dumps(json_safe(document), indent=2))
    else:
        if note:
            print(f"note: {note}")
        print_clip_scores(document)
    return EXIT_FAILED if failed else EXIT_OK


def recipe_readers():
    """The custom-data recipe's prepare module (its folder and CSV readers).

    Returns
    -------
    module
        ``custom_data_prepare.py`` of the custom-data recipe (the checkout's,
        else the copy installed with the package).

    Raises
    ------
    CommandError
        The recipe is in neither place (exit code 2).

    Example
    -------
    >>> recipe_readers().rows_from_folder.__name__
    'rows_from_folder'
    """
    try:
        path = recipe_folder() / "custom_data_prepare.py"
    except FileNotFoundError as error:
        # `evaluate` reads data with the recipe's readers, as `train` does.
        raise CommandError(str(error), EXIT_USAGE) from None
    spec = importlib.util.spec_from_file_location("custom_data_prepare", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def labelled_clips(source, split=None):
    """The clips and labels of a folder-per-class dataset or a CSV.

    Arguments
    ---------
    source : str
        A folder with one sub-folder per class, or a CSV with ``path`` and
        ``label`` columns (as ``train`` takes).
    split : str, optional
        Keep only the rows of this split (a CSV with a ``split`` column).

    Returns
    -------
    tuple
        Rows (dicts with ``path`` and ``labels``), the ``(path, reason)``
        list of files not used, and a note for the user (or None).

    Raises
    ------
    CommandError
        Not a folder nor a .csv, ``split`` without a split column, or no
        clips (exit code 2).

    Example
    -------
    >>> root = getfixture("tmpdir")
    >>> _ = root.ensure("dog", "a.wav"); _ = root.ensure("cat", "b.flac")
    >>> rows, not_used, note = labelled_clips(root.strpath)
    >>> [(os.path.basename(row["path"]), row["labels"]) for row in rows]
    [('b.flac', ['cat']), ('a.wav', ['dog'])]
    """
    readers = recipe_readers()
    note = None
    if os.path.isdir(source):
        if split is not None:
            raise CommandError(
                f"--split {split}: {source} is a folder; only a CSV has a split column",
                EXIT_USAGE,
            )
        rows, not_used = readers.rows_from_folder(source)
    elif os.path.isfile(source) and source.lower().endswith(".csv"):
        rows, not_used = readers.rows_from_csv(source)
        has_split = any(row["split"] for row in rows)
        if split is not None:
            if not has_split:
                raise CommandError(
                    f"{source}: --split {split} needs a split column", EXIT_USAGE
                )
            rows = [row for row in rows if row["split"] == split]
        elif has_split:
            note = (
                f"{source} has a split column; all {len(rows)} rows are scored, "
                "training rows too (--split test scores the test rows only)"
            )
    else:
        raise CommandError(
            f"{source}: not a folder of class folders nor a .csv file with "
            "path,label columns",
            EXIT_USAGE,
        )
    if not rows:
        raise CommandError(
            f"{source}: no clips to score"
            + (f" in the {split} split" if split else ""),
            EXIT_USAGE,
        )
    return rows, not_used, note


def check_labels(rows, tagger, args):
    """Stop (exit code 2) on labels the model lacks or several on one clip.

    Arguments
    ---------
    rows : list of dict
        Clips with ``path`` and ``labels``.
    tagger : AudioTagger
        The loaded model.
    args : argparse.Namespace
        Parsed arguments (``model``, ``data``), for the message.
    """
    known = set(tagger.labels)
    unknown = {}
    for row in rows:
        for label in row["labels"]:
            if label not in known:
                unknown.setdefault(label, row["path"])
    if unknown:
        names = sorted(unknown)
        shown = ", ".join(f"{name!r} (e.g. {unknown[name]})" for name in names[:5])
        classes = ", ".join(tagger.labels[:MAX_LISTED])
        more = ", ..." if len(tagger.labels) > MAX_LISTED else ""
        raise CommandError(
            f"{args.data}: {len(names)} label(s) the model {args.model} does not "
            f"know: {shown}; its {len(tagger.labels)} classes are {classes}{more}",
            EXIT_USAGE,
        )
    if not tagger.multi_label:
        several = [row for row in rows if len(row["labels"]) > 1]
        if several:
            raise CommandError(
                f"{several[0]['path']}: has labels {';'.join(several[0]['labels'])}, "
                f"but {args.model} is a single-label model ({len(several)} such "
                "clips)",
                EXIT_USAGE,
            )


def file_problem(path, error):
    """The one-line problem of a file that could not be tagged.

    Arguments
    ---------
    path : str
        The file.
    error : Exception
        What tagging it raised.

    Returns
    -------
    str
        The problem, with the exception type unless it is an ``AudioError``.

    Example
    -------
    >>> from speechbrain_ast.audio import AudioError
    >>> file_problem("a.wav", AudioError("a.wav: file is empty"))
    'file is empty'
    """
    from speechbrain_ast.audio import AudioError

    if isinstance(error, AudioError):
        return problem(path, error)
    return f"{type(error).__name__}: {problem(path, error)}"


def predictions(scored, tagger, threshold):
    """Per-clip true and predicted labels for the JSON output.

    Arguments
    ---------
    scored : list of tuple
        ``(row, clip scores)`` pairs.
    tagger : AudioTagger
        The model (labels, task).
    threshold : float
        Multi-label decision threshold.

    Returns
    -------
    list of dict
        ``file``, ``labels``, ``predicted`` and ``score`` (single-label: of
        the top label) or ``scores`` (multi-label: of the predicted labels).
    """
    rows = []
    for row, scores in scored:
        entry = {"file": row["path"], "labels": row["labels"]}
        if tagger.multi_label:
            chosen = [
                (label, float(score))
                for label, score in zip(tagger.labels, scores.tolist())
                if score >= threshold
            ]
            entry["predicted"] = [label for label, _ in chosen]
            entry["scores"] = [round(score, 4) for _, score in chosen]
        else:
            best = int(scores.argmax())
            entry["predicted"] = tagger.labels[best]
            entry["score"] = round(float(scores[best]), 4)
        rows.append(entry)
    return rows


def print_clip_scores(document):
    """Text output of a clip evaluation: summary, per class, confusion, skips.

    Arguments
    ---------
    document : dict
        The evaluation (as ``--json`` prints it).

    Example
    -------
    >>> document = {"model": "m", "data": "d", "task": "single-label",
    ...     "n_clips": 2, "n_classes": 2, "accuracy": 0.5, "n_correct": 1,
    ...     "chance": {"majority_class": "a", "majority_rate": 0.5, "uniform": 0.5},
    ...     "macro_f1": 0.3333,
    ...     "per_class": [{"label": "a", "precision": 0.5, "recall": 1.0, "f1": 0.6667,
    ...                    "support": 1},
    ...                   {"label": "b", "precision": 0.0, "recall": 0.0, "f1": 0.0,
    ...                    "support": 1}],
    ...     "confusion": {"labels": ["a", "b"], "matrix": [[1, 0], [1, 0]]},
    ...     "skipped": [], "not_used": []}
    >>> print_clip_scores(document)  # doctest: +NORMALIZE_WHITESPACE
    model: m (single-label, 2 classes)
    data: d: 2 clips scored
    accuracy: 0.5000 (1 of 2)
    chance: 0.5000 (always 'a', the most frequent class here); 1/2 classes = 0.5000
    macro F1: 0.3333
    per class:
      label  precision  recall  f1      support
      a      0.5000     1.0000  0.6667  1
      b      0.0000     0.0000  0.0000  1
    confusion matrix (counts; rows: true class, columns: predicted):
         a  b
      a  1  0
      b  1  0
    """
    multi = document["task"] == "multi-label"
    print(
        f"model: {document['model']} ({document['task']}, "
        f"{document['n_classes']} classes)"
    )
    skipped = len(document["skipped"])
    print(
        f"data: {document['data']}: {document['n_clips']} clips scored"
        + (f", {skipped} skipped (unreadable)" if skipped else "")
    )
    if multi:
        print(
            f"mAP: {document['mAP']:.4f} over the {document['n_classes_scored']} "
            "classes with positive and negative clips here"
            + (
                f" ({document['n_classes_excluded']} classes left out)"
                if document["n_classes_excluded"]
                else ""
            )
        )
        print(
            f"chance mAP: {document['chance_mAP']:.4f} (mean label prevalence: "
            "the AP of scores that ignore the audio)"
        )
        print(
            f"macro F1: {document['macro_f1']:.4f} (score >= {document['threshold']})"
        )
    else:
        chance = document["chance"]
        print(
            f"accuracy: {document['accuracy']:.4f} "
            f"({document['n_correct']} of {document['n_clips']})"
        )
        print(
            f"chance: {chance['majority_rate']:.4f} (always "
            f"{chance['majority_class']!r}, the most frequent class here); "
            f"1/{document['n_classes']} classes = {chance['uniform']:.4f}"
        )
        print(f"macro F1: {document['macro_f1']:.4f}")
    metrics = ["AP"] if multi else []
    columns = ["label", *metrics, "precision", "recall", "f1", "support"]
    table = [columns] + [
        [row["label"]]
        + [
            f"{row[name]:.4f}" if isinstance(row[name], float) else str(row[name])
            for name in columns[1:]
        ]
        for row in document["per_class"]
    ]
    print("per class:")
    print_table(table, "  ")
    if not multi:
        names = document["confusion"]["labels"]
        print("confusion matrix (counts; rows: true class, columns: predicted):")
        print_table(
            [[""] + names]
            + [
                [name] + [str(count) for count in counts]
                for name, counts in zip(names, document["confusion"]["matrix"])
            ],
            "  ",
        )
    print_file_list("skipped (unreadable)", document["skipped"], "error")
    print_file_list("not used", document["not_used"], "reason")
    sys.stdout.flush()


def print_table(rows, indent):
    """Print rows of strings as left-aligned columns.

    Arguments
    ---------
    rows : list of list of str
        The cells, header first.
    indent : str
        Put before each line.

    Example
    -------
    >>> print_table([["label", "f1"], ["dog", "0.5"]], "")
    label  f1
    dog    0.5
    """
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        print(indent + "  ".join(cells).rstrip())


def print_file_list(title, entries, key):
    """Print up to ``MAX_LISTED`` ``file: why`` lines under a title.

    Arguments
    ---------
    title : str
        What the files are.
    entries : list of dict
        ``{"file": ..., key: ...}``.
    key : str
        The entry's reason field.

    Example
    -------
    >>> print_file_list("skipped", [{"file": "a.wav", "error": "file is empty"}], "error")
    skipped: 1
      a.wav: file is empty
    """
    if not entries:
        return
    print(f"{title}: {len(entries)}")
    for entry in entries[:MAX_LISTED]:
        print(f"  {entry['file']}: {entry[key]}")
    if len(entries) > MAX_LISTED:
        print(f"  ... ({len(entries) - MAX_LISTED} more; --json lists all)")


def run_event_evaluation(args):
    """Detect the events of the reference's recordings and score them.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed ``evaluate`` arguments with ``events``.

    Returns
    -------
    int
        ``EXIT_OK``, or ``EXIT_FAILED`` if a recording could not be read.
    """
    from speechbrain_ast.audio_files import list_audio_files
    from speechbrain_ast.tagging.evaluation import event_scores, recordings_of_reference
    from speechbrain_ast.tagging.events import events_from_tagging, read_event_list

    reference = read_event_list(args.events)
    if not reference:
        raise CommandError(f"{args.events}: the reference event list is empty")
    try:
        found, missing, unlisted = recordings_of_reference(
            reference, list_audio_files(args.data)
        )
    except ValueError as error:
        raise CommandError(
            f"{args.data}: {error}; the reference list {args.events} names "
            "recordings by file name",
            EXIT_USAGE,
        ) from None
    if not found:
        raise CommandError(
            f"{args.data}: none of the {len(missing)} recordings of {args.events} "
            f"is here (e.g. {missing[0]})",
            EXIT_USAGE,
        )
    tagger = load_tagger(args.model, args.device, args.int8, args.backend, args.onnx)
    check_window(tagger, args)
    reference_labels = {
        event.label for events in reference.values() for event in events
    }
    unknown = sorted(reference_labels - set(tagger.labels))
    if unknown:
        raise CommandError(
            f"{args.events}: {len(unknown)} event label(s) the model {args.model} "
            f"does not know: {', '.join(map(repr, unknown[:5]))}",
            EXIT_USAGE,
        )
    options = event_options(args, tagger)
    detections, failed = [], []
    for path in found.values():
        try:
            wav = tagger.load_audio(path)
            tagged = tagger.tag_waveform(
                wav,
                sample_rate=tagger.sample_rate,  # load_audio resampled it
                path=path,
                top_k=1,
                hop_seconds=args.hop,
                aggregate=args.aggregate,
                batch_size=args.batch_size,
                window_seconds=args.window,
            )
            detections.append(
                events_from_tagging(
                    tagged,
                    tagger.labels,
                    waveform=wav,
                    sample_rate=tagger.sample_rate,
                    **options,
                )
            )
        except Exception as error:  # one bad file must not stop the others
            failed.append({"file": path, "error": file_problem(path, error)})
            report(f"{path}: {failed[-1]['error']}")
    if not detections:
        raise CommandError(f"{args.data}: none of the recordings could be read")
    scored = {os.path.basename(detection.path) for detection in detections}
    # Only the recordings that were tagged: a missing file is listed, not
    # counted as all its events missed.
    scored_reference = {
        name: events
        for name, events in reference.items()
        if os.path.basename(name) in scored
    }
    scores = event_scores(
        scored_reference,
        detections,
        t_collar=args.t_collar,
        percentage_of_length=args.percentage_of_length,
        time_resolution=args.segment,
    )
    if args.psds:
        scores["psds"] = psds_or_error(scored_reference, detections)
    if args.events_csv:
        from speechbrain_ast.tagging.events import write_event_list

        try:
            write_event_list(detections, args.events_csv)
        except OSError as error:
            raise CommandError(f"{args.events_csv}: cannot write ({error})") from None
    document = {
        "model": os.path.abspath(args.model),
        "data": os.path.abspath(args.data),
        "reference": os.path.abspath(args.events),
        "n_recordings": len(detections),
        "n_reference_events": sum(len(events) for events in scored_reference.values()),
        "n_detected_events": sum(len(detection.events) for detection in detections),
        "event_options": {
            key: value for key, value in options.items() if key != "thresholds"
        },
        **scores,
        "skipped": failed,
        "missing": missing,
        "not_in_reference": unlisted,
    }
    if args.json:
        print(json.dumps(json_safe(document), indent=2))
    else:
        print_event_scores(document)
    return EXIT_FAILED if failed else EXIT_OK


def psds_or_error(reference, detections):
    """PSDS1 and PSDS2, or a one-line error when ``sed_scores_eval`` is missing.

    Arguments
    ---------
    reference : dict
        ``{filename: [Event, ...]}``.
    detections : list of EventDetection
        The detections with their frame scores.

    Returns
    -------
    dict
        ``{"psds1": ..., "psds2": ...}``.
    """
    from speechbrain_ast.tagging.evaluation import psds_scores

    try:
        return psds_scores(reference, detections)
    except ImportError as error:
        raise CommandError(f"{PSDS_NEEDS} ({error})", EXIT_USAGE) from None


def print_event_scores(document):
    """Text output of an event evaluation.

    Arguments
    ---------
    document : dict
        The evaluation (as ``--json`` prints it).
    """
    event, segment = document["event_based"], document["segment_based"]
    print(f"model: {document['model']}")
    print(
        f"reference: {document['reference']}: {document['n_recordings']} recordings "
        f"scored, {document['n_reference_events']} reference events, "
        f"{document['n_detected_events']} detected"
    )
    collar = event["t_collar"]
    print(
        f"event-based F1: {event['f1']:.4f} (precision {event['precision']:.4f}, "
        f"recall {event['recall']:.4f}; tp {event['tp']}, fp {event['fp']}, "
        f"fn {event['fn']}; onset collar {collar:g} s, offset collar "
        f"max({collar:g} s, {event['percentage_of_length']:.0%} of the event))"
    )
    print(f"  class-wise macro F1: {event['macro_f1']:.4f}")
    error_rate = segment["error_rate"]
    print(
        f"segment-based F1: {segment['f1']:.4f} (precision "
        f"{segment['precision']:.4f}, recall {segment['recall']:.4f}; "
        f"{segment['n_segments']} segments of {segment['time_resolution']:g} s); "
        "error rate "
        + (
            "undefined (no reference activity)"
            if math.isnan(error_rate)
            else f"{error_rate:.4f}"
        )
    )
    print(f"  class-wise macro F1: {segment['macro_f1']:.4f}")
    if "psds" in document:
        print(
            "PSDS: "
            + ", ".join(
                f"{name} {value:.4f}" for name, value in document["psds"].items()
            )
        )
    labels = sorted(set(event["class_wise_f1"]) | set(segment["class_wise_f1"]))
    if labels:
        print("class-wise F1 (classes with reference events):")
        print_table(
            [["label", "event", "segment"]]
            + [
                [
                    label,
                    f"{event['class_wise_f1'].get(label, 0.0):.4f}",
                    f"{segment['class_wise_f1'].get(label, 0.0):.4f}",
                ]
                for label in labels
            ],
            "  ",
        )
    print_file_list("skipped (unreadable)", document["skipped"], "error")
    print_file_list(
        "in the reference, not found in the data",
        [{"file": name, "why": "no such file"} for name in document["missing"]],
        "why",
    )
    if document["not_in_reference"]:
        print(
            f"not in the reference, not scored: {len(document['not_in_reference'])} "
            "recordings"
        )
    sys.stdout.flush()


def json_safe(value):
    """``value`` with NaN and infinities as None (JSON has no NaN).

    Arguments
    ---------
    value : object
        Nested dicts, lists and numbers.

    Returns
    -------
    object
        The same structure.

    Example
    -------
    >>> json_safe({"error_rate": float("nan"), "f1": [0.5]})
    {'error_rate': None, 'f1': [0.5]}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value
