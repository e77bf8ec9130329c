"""``speechbrain-ast tag``: tag audio files with a model folder.

Each FILE is tagged window by window (``AudioTagger.tag_waveform``); with
``--events`` the sound events are found in the windows
(``speechbrain_ast.tagging.events``). A bad file is reported on one line and
the others are still tagged; the exit code is then 1. A silent file, or one
shorter than a 25 ms frame, is tagged but flagged: a ``warning:`` line on
stderr, a note under its name, ``"silent"`` / ``"too_short"`` in the JSON.
FILE ``-`` is live input from stdin, handled by ``speechbrain_ast.cli.live``.

Authors
 * speechbrain-ast contributors 2026
"""

import json
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
    positive_int,
    problem,
    report,
    warn,
)


def add_tag_parser(commands, formatter_class):
    """Add the ``tag`` subcommand to a ``speechbrain-ast`` subparsers object.

    Arguments
    ---------
    commands : argparse._SubParsersAction
        The subcommands of ``speechbrain-ast``.
    formatter_class : type
        Help formatter shared by the subcommands.

    Returns
    -------
    argparse.ArgumentParser
        The ``tag`` parser.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = add_tag_parser(parser.add_subparsers(), argparse.HelpFormatter)
    >>> args = parser.parse_args(["tag", "a.wav", "--model", "m"])
    >>> args.files, args.top_k, args.aggregate, args.backend
    (['a.wav'], 5, 'max', 'torch')
    """
    tag = commands.add_parser(
        "tag",
        formatter_class=formatter_class,
        help="tag audio files with a model folder",
        description="Tag audio files. Files longer than the model input are cut "
        "into overlapping windows whose scores are aggregated; --timeline shows "
        "the windows, --events the sound events (onset, offset, label) found in "
        "them. FILE '-' tags a live stream from standard input (a WAV stream, or "
        "raw 16-bit little-endian PCM with --rate), one line per window as soon "
        "as it is complete, e.g. arecord -q -f S16_LE -r 16000 -c 1 -t wav | "
        "speechbrain-ast tag - --model DIR",
    )
    tag.add_argument(
        "files", nargs="+", metavar="FILE", help="audio files, or - for standard input"
    )
    tag.add_argument("--model", required=True, metavar="DIR", help="model folder")
    tag.add_argument(
        "--top-k",
        type=positive_int,
        default=5,
        metavar="K",
        help="labels per file and per window",
    )
    tag.add_argument(
        "--threshold",
        type=float,
        default=None,
        metavar="T",
        help="only print labels with a score of at least T (default: no threshold)",
    )
    tag.add_argument(
        "--hop",
        type=float,
        default=None,
        metavar="SECONDS",
        help="hop between windows (default: half a window)",
    )
    tag.add_argument(
        "--window",
        type=float,
        default=None,
        metavar="SECONDS",
        help="window length, down to 0.025 s; shorter windows are padded to the "
        "model input (default: the model input)",
    )
    tag.add_argument(
        "--aggregate",
        choices=("max", "mean"),
        default="max",
        help="how window scores make file scores (max: an event present in any window)",
    )
    tag.add_argument(
        "--batch-size", type=positive_int, default=8, help="windows per forward pass"
    )
    tag.add_argument(
        "--timeline",
        action="store_true",
        help="text output: also print the labels of every window",
    )
    events = tag.add_argument_group(
        "sound events",
        "Window scores are averaged where windows overlap (frames of one hop), "
        "decided per frame (--event-rule), median filtered, and runs of active "
        "frames become events; silent frames hold none. Files only: live input "
        "'-' has no events.",
    )
    events.add_argument(
        "--events",
        action="store_true",
        help="print the sound events of each file (JSON: an 'events' list)",
    )
    add_event_options(events)
    events.add_argument(
        "--events-csv",
        default=None,
        metavar="TSV",
        help="write all events in the DCASE event-list format (tab-separated "
        "filename, onset, offset, event_label); implies --events (default: none)",
    )
    events.add_argument(
        "--plot",
        default=None,
        metavar="PNG",
        help="write a timeline plot (labels x time, score as colour, events "
        "outlined) of the single FILE (default: none)",
    )
    live = tag.add_argument_group("live input (FILE '-')")
    live.add_argument(
        "--rate",
        type=positive_int,
        default=None,
        metavar="HZ",
        help="standard input is raw signed 16-bit little-endian PCM at this rate "
        "(default: none, a WAV stream is expected)",
    )
    live.add_argument(
        "--channels",
        type=positive_int,
        default=1,
        help="channels of raw PCM input (averaged to mono)",
    )
    tag.add_argument(
        "--int8",
        action="store_true",
        help="int8 matrix products (onnxruntime dynamic quantisation, CPU; "
        "implies --backend onnx)",
    )
    tag.add_argument(
        "--backend",
        choices=("torch", "onnx"),
        default="torch",
        help="score windows with PyTorch or with the model exported to ONNX "
        "and run by onnxruntime on CPU (same windows and timeline)",
    )
    tag.add_argument(
        "--onnx",
        default=None,
        metavar="FILE",
        help="with --backend onnx or --int8: a graph from `export-onnx` of the "
        "same model folder (default: export at start-up)",
    )
    tag.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document with timelines (live input: one JSON line "
        "per window)",
    )
    tag.add_argument("--device", default="cpu", help="torch device")
    tag.set_defaults(func=run_tag)
    return tag


def run_tag(args):
    """Tag each file (or the live stream ``-``); report bad files and go on.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed ``tag`` arguments.

    Returns
    -------
    int
        ``EXIT_OK``, or ``EXIT_FAILED`` if a file could not be tagged.
    """
    from speechbrain_ast.audio import AudioError

    if "-" in args.files:
        from speechbrain_ast.cli.live import run_live

        return run_live(args)
    if args.events_csv:
        args.events = True
    if args.plot and len(args.files) != 1:
        raise CommandError(
            f"--plot {args.plot}: give exactly one FILE ({len(args.files)} given)",
            EXIT_USAGE,
        )
    tagger = load_tagger(args.model, args.device, args.int8, args.backend, args.onnx)
    check_window(tagger, args)
    options = event_options(args, tagger)
    documents, errors, detections = [], [], []
    for path in args.files:
        try:
            wav = tagger.load_audio(path)
            result = tagger.tag_waveform(
                wav,
                sample_rate=tagger.sample_rate,
                path=path,
                top_k=args.top_k,
                threshold=args.threshold,
                hop_seconds=args.hop,
                aggregate=args.aggregate,
                batch_size=args.batch_size,
                window_seconds=args.window,
            )
            detection = None
            if args.events or args.plot:
                from speechbrain_ast.tagging.events import events_from_tagging

                detection = events_from_tagging(
                    result,
                    tagger.labels,
                    waveform=wav,
                    sample_rate=tagger.sample_rate,
                    **options,
                )
                detections.append(detection)
            if args.plot:
                from speechbrain_ast.training.plots import plot_event_timeline

                plot_event_timeline(detection, args.plot)
        except AudioError as error:
            errors.append({"file": path, "error": problem(path, error)})
        except Exception as error:  # one bad file must not stop the others
            errors.append(
                {
                    "file": path,
                    "error": f"{type(error).__name__}: {problem(path, error)}",
                }
            )
        else:
            if result.input_warning():
                warn(f"{path}: {result.input_warning()}")
            if args.json:
                document = result.to_dict()
                if args.events:
                    document["events"] = detection.to_dict()["events"]
                documents.append(document)
            else:
                print_tags(result, detection if args.events else None, args.timeline)
            continue
        report(f"{errors[-1]['file']}: {errors[-1]['error']}")
    if args.events_csv:
        from speechbrain_ast.tagging.events import write_event_list

        try:
            write_event_list(detections, args.events_csv)
        except OSError as error:
            raise CommandError(f"{args.events_csv}: cannot write ({error})") from None
    if args.json:
        document = {
            "model": os.path.abspath(args.model),
            "aggregate": args.aggregate,
            "window_seconds": tagger.window_samples / tagger.sample_rate,
            "multi_label": tagger.multi_label,
            "files": documents,
            "errors": errors,
        }
        if args.events:
            document["event_options"] = {
                key: value for key, value in options.items() if key != "thresholds"
            }
        print(json.dumps(document, indent=2))
    return EXIT_FAILED if errors else EXIT_OK


def print_tags(result, detection, timeline):
    """Plain-text output of one file: labels, then timeline and events.

    Arguments
    ---------
    result : TaggingResult
        The file's tags.
    detection : EventDetection or None
        Its events, if asked for.
    timeline : bool
        Print the labels of every window too.

    Example
    -------
    >>> import torch
    >>> from speechbrain_ast.tagging.tagger import TaggingResult
    >>> print_tags(TaggingResult("a.wav", 1.0, [("dog", 0.9)], [], torch.ones(1)),
    ...            None, False)
    a.wav
      dog	0.9000
    >>> quiet = TaggingResult("b.wav", 4.0, [("dog", 0.5)], [], torch.ones(1),
    ...                       silent=True)
    >>> print_tags(quiet, None, False)
    b.wav
      (silent input: labels not meaningful)
      dog	0.5000
    """
    print(result.path)
    if result.input_note():
        print(f"  ({result.input_note()})")
    for label, score in result.labels:
        print(f"  {label}\t{score:.4f}")
    if timeline:
        print("  timeline:")
        for window in result.timeline:
            pairs = ", ".join(
                f"{label} {score:.3f}" for label, score in window["labels"]
            )
            print(f"    {window['start']:.3f}-{window['end']:.3f}\t{pairs}")
    if detection is not None:
        print(f"  events: {len(detection.events)}")
        for event in detection.events:
            print(
                f"    {event.onset:.3f}\t{event.offset:.3f}\t{event.label}\t"
                f"{event.score:.3f}"
            )
    sys.stdout.flush()
