"""The ``speechbrain-ast`` command line: tag audio, import, export, statistics.

Subcommands::

    speechbrain-ast tag FILE... --model DIR [--top-k K] [--threshold T]
                    [--hop SECONDS] [--window SECONDS] [--aggregate max|mean]
                    [--timeline] [--events] [--events-csv TSV] [--plot PNG]
                    [--int8] [--json] [--device cpu] [--backend torch|onnx] [--onnx FILE]
    speechbrain-ast tag - --model DIR [--rate HZ] [--json]     (live: stdin)
    speechbrain-ast import --format official|hf SRC OUT_DIR [--labels CSV]
                    [--n-frames N] [--fstride 10] [--tstride 10]
                    [--norm-stats DATASET|MEAN,STD] [--num-heads H]
                    [--multi-label|--single-label]
    speechbrain-ast export CKPT_DIR OUT_DIR --like MODEL_DIR
    speechbrain-ast export-onnx MODEL_DIR OUT.onnx [--int8]
                    [--attention onnxruntime|standard]
    speechbrain-ast stats AUDIO_DIR_OR_MANIFEST [--sample-rate 16000] [--n-mels 128]

``--help`` of every subcommand shows each option's default.
Errors are reported as one line ``error: <file>: <problem>`` on stderr,
never as a Python traceback. ``tag`` keeps going after a bad file and exits
with 1 at the end; a missing or unloadable model folder exits with 2.

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import contextlib
import csv
import json
import os
import shutil
import sys

from speechbrain_ast.cli.train import add_train_parser
from speechbrain_ast.files import atomic_write

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".opus")
PATH_COLUMNS = ("wav", "path", "file", "filename", "audio", "filepath")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that ends every option with its default (or "required").

    Options whose help already says ``(default...`` keep their own words
    (for defaults computed at run time, such as "half a window").

    Example
    -------
    >>> parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    >>> _ = parser.add_argument("--top-k", type=int, default=5, help="labels")
    >>> "labels (default: 5)" in parser.format_help()
    True
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or action.default is argparse.SUPPRESS:
            return text
        if action.required and action.option_strings:
            return f"{text} (required)"
        return super()._get_help_string(action)


class CommandError(Exception):
    """A failure reported as ``error: <message>`` with an exit code.

    Arguments
    ---------
    message : str
        The problem, starting with the file or folder concerned.
    code : int
        Exit code (1: the command failed, 2: bad usage or model folder).

    Example
    -------
    >>> str(CommandError("model/: not found", code=2))
    'model/: not found'
    """

    def __init__(self, message, code=EXIT_FAILED):
        super().__init__(message)
        self.code = code


def build_parser():
    """Build the argument parser of ``speechbrain-ast``.

    Returns
    -------
    argparse.ArgumentParser
        The parser with the ``tag``, ``import``, ``export``, ``export-onnx``,
        ``stats`` and ``train`` subcommands.

    Example
    -------
    >>> args = build_parser().parse_args(["tag", "a.wav", "--model", "m"])
    >>> args.command, args.files, args.top_k, args.aggregate
    ('tag', ['a.wav'], 5, 'max')
    """
    parser = argparse.ArgumentParser(
        prog="speechbrain-ast",
        description="Audio Spectrogram Transformer (AST) for SpeechBrain.",
        formatter_class=HelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    tag = commands.add_parser(
        "tag",
        formatter_class=HelpFormatter,
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
        type=_positive_int,
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
        "--batch-size", type=_positive_int, default=8, help="windows per forward pass"
    )
    tag.add_argument(
        "--timeline",
        action="store_true",
        help="text output: also print the labels of every window",
    )
    events = tag.add_argument_group(
        "sound events",
        "Window scores are averaged where windows overlap (frames of one hop), "
        "thresholded per class, median filtered, and runs of active frames "
        "become events.",
    )
    events.add_argument(
        "--events",
        action="store_true",
        help="print the sound events of each file (JSON: an 'events' list)",
    )
    events.add_argument(
        "--event-threshold",
        type=_probability,
        default=0.5,
        metavar="T",
        help="a class is active in a frame from this score on",
    )
    events.add_argument(
        "--class-thresholds",
        default=None,
        metavar="FILE",
        help="per-class thresholds: JSON {label: T} or lines 'label<TAB>T' "
        "(default: none, --event-threshold for all)",
    )
    events.add_argument(
        "--median",
        type=_non_negative_float,
        default=0.0,
        metavar="SECONDS",
        help="median filter length over active frames (0: none)",
    )
    events.add_argument(
        "--min-level",
        type=float,
        default=None,
        metavar="DB",
        help="frames quieter than this RMS level in dBFS (e.g. -60) hold no event; "
        "single-label models have no silence class (default: no level gate)",
    )
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
        type=_positive_int,
        default=None,
        metavar="HZ",
        help="standard input is raw signed 16-bit little-endian PCM at this rate "
        "(default: none, a WAV stream is expected)",
    )
    live.add_argument(
        "--channels",
        type=_positive_int,
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
    tag.set_defaults(func=_cmd_tag)

    imp = commands.add_parser(
        "import",
        formatter_class=HelpFormatter,
        help="import an official or HuggingFace AST checkpoint",
        description="Write a SpeechBrain model folder from an official AST "
        "checkpoint (.pth) or a HuggingFace ASTForAudioClassification folder "
        "or Hub id (e.g. MIT/ast-finetuned-audioset-10-10-0.4593, downloaded "
        "through huggingface_hub or read from its cache).",
    )
    imp.add_argument(
        "--format",
        required=True,
        choices=("official", "hf"),
        help="official PyTorch checkpoint, or HuggingFace folder or Hub id",
    )
    imp.add_argument(
        "src", metavar="SRC", help="checkpoint file, folder or HF Hub id (ORG/NAME)"
    )
    imp.add_argument("out_dir", metavar="OUT_DIR", help="model folder to write")
    imp.add_argument(
        "--labels",
        metavar="CSV",
        default=None,
        help="class labels CSV index,mid,display_name as AudioSet's (default: the "
        "HF folder's id2label, else class_0, class_1, ...)",
    )
    imp.add_argument(
        "--n-frames",
        type=_positive_int,
        default=None,
        metavar="N",
        help="input length in frames, resizing the position embedding "
        "(default: the checkpoint's)",
    )
    imp.add_argument(
        "--fstride",
        type=_positive_int,
        default=None,
        help="the checkpoint's frequency stride (default: official: from the "
        "file name, else 10; HF: from config.json)",
    )
    imp.add_argument(
        "--tstride",
        type=_positive_int,
        default=None,
        help="the checkpoint's time stride (default: as --fstride)",
    )
    imp.add_argument(
        "--norm-stats",
        default=None,
        metavar="DATASET|MEAN,STD",
        help="fbank statistics: audioset, esc50, speechcommands or 'MEAN,STD' "
        "(default: from the checkpoint or its name)",
    )
    imp.add_argument(
        "--num-heads",
        type=_positive_int,
        default=None,
        help="attention heads of an official file of non-standard width; "
        "official files do not store it (default: from the width, e.g. 12 for "
        "768; HF: from config.json)",
    )
    kind = imp.add_mutually_exclusive_group()
    kind.add_argument(
        "--multi-label",
        dest="multi_label",
        action="store_const",
        const=True,
        default=None,
        help="sigmoid scores (default for 527-class AudioSet models)",
    )
    kind.add_argument(
        "--single-label",
        dest="multi_label",
        action="store_const",
        const=False,
        help="softmax scores (default for other class counts)",
    )
    imp.set_defaults(func=_cmd_import)

    exp = commands.add_parser(
        "export",
        formatter_class=HelpFormatter,
        help="make a model folder from a training checkpoint",
        description="Make a model folder from a SpeechBrain checkpoint folder "
        "(save/CKPT+.../ with embedding_model.ckpt and classifier.ckpt), using "
        "the hyperparams.yaml and label_encoder.txt of an existing model folder.",
    )
    exp.add_argument("ckpt_dir", metavar="CKPT_DIR", help="checkpoint folder")
    exp.add_argument("out_dir", metavar="OUT_DIR", help="model folder to write")
    exp.add_argument(
        "--like",
        required=True,
        metavar="MODEL_DIR",
        help="model folder of the same architecture and labels",
    )
    exp.set_defaults(func=_cmd_export)

    onnx = commands.add_parser(
        "export-onnx",
        help="export a model folder as one ONNX graph (waveform -> scores)",
        description="Write one ONNX graph from a 16 kHz float32 waveform "
        "[batch, samples] to logits and scores [batch, n_classes], with the "
        "Kaldi fbank and normalisation inside; label names, window and hop "
        "in its metadata.",
    )
    onnx.add_argument("model", metavar="MODEL_DIR", help="model folder")
    onnx.add_argument("out", metavar="OUT.onnx", help="ONNX file to write")
    onnx.add_argument(
        "--int8",
        action="store_true",
        help="int8 weights of the encoder and head (onnxruntime dynamic "
        "quantisation; the features stay float32)",
    )
    onnx.add_argument(
        "--attention",
        choices=("onnxruntime", "standard"),
        default="onnxruntime",
        help="onnxruntime: one fused MultiHeadAttention node per block (fast, "
        "onnxruntime only; default); standard: plain ONNX ops for other runtimes",
    )
    onnx.set_defaults(func=_cmd_export_onnx)

    stats = commands.add_parser(
        "stats",
        formatter_class=HelpFormatter,
        help="fbank mean/std of a dataset (for norm_mean / norm_std)",
        description="Print the raw fbank mean and std over all audio files of "
        "a folder (recursively) or of a CSV/JSON manifest.",
    )
    stats.add_argument(
        "source", metavar="AUDIO_DIR_OR_CSV", help="folder or CSV/JSON manifest"
    )
    stats.add_argument(
        "--sample-rate",
        type=_positive_int,
        default=16000,
        help="rate the audio is resampled to",
    )
    stats.add_argument(
        "--n-mels", type=_positive_int, default=128, help="mel bins of the fbank"
    )
    stats.add_argument(
        "--column",
        default=None,
        help=f"manifest column with the audio path (default: first of {PATH_COLUMNS})",
    )
    stats.add_argument(
        "--data-root",
        default=None,
        help="value of $data_root / {data_root} in the manifest "
        "(default: the manifest's folder)",
    )
    stats.set_defaults(func=_cmd_stats)
    add_train_parser(commands, HelpFormatter)
    return parser


def main(argv=None):
    """Run ``speechbrain-ast`` with ``argv`` (default: ``sys.argv[1:]``).

    Arguments
    ---------
    argv : list of str, optional
        Command-line arguments without the program name.

    Returns
    -------
    int
        Exit code: 0 success, 1 some input failed, 2 bad usage or model.

    Example
    -------
    >>> import numpy, soundfile
    >>> from tests.helpers import tiny_model_folder
    >>> tmpdir = getfixture("tmpdir")
    >>> model = tiny_model_folder(tmpdir)
    >>> wav = tmpdir.join("clip.wav").strpath
    >>> soundfile.write(wav, 0.1 * numpy.random.randn(16000), 16000)
    >>> main(["tag", wav, "--model", model, "--top-k", "1"])  # doctest: +ELLIPSIS
    /.../clip.wav
      ...	0...
    0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    # Arguments after "--" are recipe overrides for `train`.
    passthrough = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    args = build_parser().parse_args(argv)
    if passthrough and args.command != "train":
        _report("arguments after -- are only for the train command")
        return EXIT_USAGE
    args.overrides = passthrough
    try:
        return args.func(args)
    except CommandError as error:
        _report(str(error))
        return error.code


# ------------------------------------------------------------------- tag
def _cmd_tag(args):
    """Tag each file (or the live stream ``-``); report bad files and go on."""
    from speechbrain_ast.audio import AudioError

    if "-" in args.files:
        return _cmd_tag_stream(args)
    if args.events_csv:
        args.events = True
    if args.plot and len(args.files) != 1:
        raise CommandError(
            f"--plot {args.plot}: give exactly one FILE ({len(args.files)} given)",
            EXIT_USAGE,
        )
    tagger = _load_tagger(args.model, args.device, args.int8, args.backend, args.onnx)
    _check_window(tagger, args)
    event_options = _event_options(args, tagger.labels)
    documents, errors, detections = [], [], []
    for path in args.files:
        try:
            wav = tagger.load_audio(path)
            result = tagger.tag_waveform(
                wav,
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
                    **event_options,
                )
                detections.append(detection)
            if args.plot:
                from speechbrain_ast.training.plots import plot_event_timeline

                plot_event_timeline(detection, args.plot)
        except AudioError as error:
            errors.append({"file": path, "error": _problem(path, error)})
        except Exception as error:  # one bad file must not stop the others
            errors.append(
                {
                    "file": path,
                    "error": f"{type(error).__name__}: {_problem(path, error)}",
                }
            )
        else:
            if args.json:
                document = result.to_dict()
                if args.events:
                    document["events"] = detection.to_dict()["events"]
                documents.append(document)
            else:
                _print_tags(result, detection if args.events else None, args.timeline)
            continue
        _report(f"{errors[-1]['file']}: {errors[-1]['error']}")
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
                key: value
                for key, value in event_options.items()
                if key != "thresholds"
            }
        print(json.dumps(document, indent=2))
    return EXIT_FAILED if errors else EXIT_OK


def _print_tags(result, detection, timeline):
    """Plain-text output of one file: labels, then timeline and events."""
    print(result.path)
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


def _check_window(tagger, args):
    """``--window`` / ``--hop`` against the model input (exit 2 if wrong)."""
    try:
        tagger.window_hop_samples(args.window, args.hop)
    except ValueError as error:
        option = "--hop" if "hop" in str(error) else "--window"
        text = (
            str(error).replace("hop_seconds", option).replace("window_seconds", option)
        )
        raise CommandError(f"{option}: {text}", EXIT_USAGE) from None


def _event_options(args, labels):
    """Keyword arguments of ``events_from_tagging`` from the options."""
    thresholds = args.event_threshold
    if args.class_thresholds:
        per_class = read_class_thresholds(args.class_thresholds)
        unknown = sorted(set(per_class) - set(labels))
        if unknown:
            raise CommandError(
                f"{args.class_thresholds}: labels not in the model: "
                f"{', '.join(unknown[:5])}",
                EXIT_USAGE,
            )
        thresholds = {label: per_class.get(label, thresholds) for label in labels}
    return {
        "thresholds": thresholds,
        "median_seconds": args.median,
        "min_level_db": args.min_level,
    }


def read_class_thresholds(path):
    """Per-class thresholds from JSON ``{label: T}`` or ``label<TAB>T`` lines.

    In the text form a comma may replace the tab; the label is everything
    before the last separator (AudioSet names contain commas). Blank lines
    and lines starting with ``#`` are skipped.

    Arguments
    ---------
    path : str
        The file.

    Returns
    -------
    dict
        ``{label: threshold}``.

    Raises
    ------
    CommandError
        Missing file, unreadable line, or a threshold outside [0, 1].

    Example
    -------
    >>> path = getfixture("tmpdir").join("t.tsv")
    >>> _ = path.write("# label, threshold\\ndog\\t0.3\\nSpeech, man speaking,0.6\\n")
    >>> read_class_thresholds(path.strpath)
    {'dog': 0.3, 'Speech, man speaking': 0.6}
    """
    if not os.path.isfile(path):
        raise CommandError(f"{path}: class thresholds file not found", EXIT_USAGE)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        if path.lower().endswith(".json"):
            values = {str(key): float(value) for key, value in json.loads(text).items()}
        else:
            values = {}
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                separator = "\t" if "\t" in line else ","
                label, _, value = line.rpartition(separator)
                if not label:
                    raise ValueError(f"line {number}: expected label<TAB>threshold")
                values[label.strip()] = float(value)
    except (ValueError, AttributeError) as error:
        raise CommandError(
            f"{path}: bad class thresholds ({error})", EXIT_USAGE
        ) from None
    bad = [label for label, value in values.items() if not 0.0 <= value <= 1.0]
    if bad:
        raise CommandError(
            f"{path}: threshold of {bad[0]!r} is not in [0, 1]", EXIT_USAGE
        )
    return values


def _cmd_tag_stream(args):
    """Tag standard input window by window; one line per window."""
    import time

    from speechbrain_ast.audio import AudioError
    from speechbrain_ast.tagging.streaming import tag_stream

    if args.files != ["-"]:
        raise CommandError("'-' (standard input) must be the only FILE", EXIT_USAGE)
    unsupported = [
        option
        for option, value in (
            ("--events", args.events),
            ("--events-csv", args.events_csv),
            ("--plot", args.plot),
        )
        if value
    ]
    if unsupported:
        raise CommandError(
            f"{', '.join(unsupported)}: not available for live input '-' "
            "(save the stream to a file and tag the file)",
            EXIT_USAGE,
        )
    if sys.stdin is None or sys.stdin.isatty():
        raise CommandError(
            "'-': standard input is a terminal, not audio; pipe a WAV stream or raw "
            "PCM in (e.g. arecord -f S16_LE -r 16000 -t wav | speechbrain-ast tag - ...)",
            EXIT_USAGE,
        )
    tagger = _load_tagger(args.model, args.device, args.int8, args.backend, args.onnx)
    _check_window(tagger, args)
    try:
        for window in tag_stream(
            tagger,
            sys.stdin.buffer,
            rate=args.rate,
            channels=args.channels,
            window_seconds=args.window,
            hop_seconds=args.hop,
            top_k=args.top_k,
            threshold=args.threshold,
            on_warning=lambda message: print(
                f"warning: {message}", file=sys.stderr, flush=True
            ),
        ):
            latency = time.monotonic() - window["arrived"]
            if args.json:
                line = json.dumps(
                    {
                        "start": window["start"],
                        "end": window["end"],
                        "labels": [
                            {"label": label, "score": score}
                            for label, score in window["labels"]
                        ],
                        "final": window["final"],
                        "latency_ms": round(1000 * latency, 1),
                    }
                )
            else:
                pairs = "\t".join(
                    f"{label} {score:.3f}" for label, score in window["labels"]
                )
                line = f"{window['start']:.3f}-{window['end']:.3f}\t{pairs}"
            print(line, flush=True)
    except AudioError as error:
        raise CommandError(_one_line(error)) from None
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader of our output went away (e.g. `| head`): stop quietly
        sys.stdout = open(os.devnull, "w")
        return EXIT_OK
    return EXIT_OK


def _load_tagger(model_dir, device, int8, backend="torch", onnx_path=None):
    """Load an ``AudioTagger`` or raise a one-line ``CommandError`` (exit 2)."""
    if not os.path.isdir(model_dir):
        raise CommandError(f"{model_dir}: model folder not found", EXIT_USAGE)
    if not os.path.isfile(os.path.join(model_dir, "hyperparams.yaml")):
        raise CommandError(
            f"{model_dir}: not a model folder (no hyperparams.yaml)", EXIT_USAGE
        )
    if int8 and not str(device).startswith("cpu"):
        raise CommandError(f"--int8 runs on CPU only, not {device}", EXIT_USAGE)
    if backend == "onnx" and not str(device).startswith("cpu"):
        raise CommandError(f"--backend onnx runs on CPU only, not {device}", EXIT_USAGE)
    if onnx_path is not None:
        if not (int8 or backend == "onnx"):
            raise CommandError("--onnx needs --backend onnx (or --int8)", EXIT_USAGE)
        if not os.path.isfile(onnx_path):
            raise CommandError(f"{onnx_path}: ONNX file not found", EXIT_USAGE)
    from speechbrain_ast.tagging.tagger import AudioTagger

    try:
        return AudioTagger.from_hparams(
            source=model_dir,
            int8=int8,
            backend=backend,
            onnx_path=onnx_path,
            run_opts={"device": device},
        )
    except Exception as error:
        raise CommandError(
            f"{model_dir}: cannot load the model ({type(error).__name__}: "
            f"{_one_line(error)})",
            EXIT_USAGE,
        ) from None


# ---------------------------------------------------------------- import
def _cmd_import(args):
    """Import an official / HuggingFace checkpoint into a model folder."""
    from speechbrain_ast.pretrained import HubUnavailableError, import_checkpoint
    from speechbrain_ast.pretrained.huggingface import is_hub_id

    if not os.path.exists(args.src):
        if args.format != "hf":
            raise CommandError(f"{args.src}: not found")
        if not is_hub_id(args.src):
            raise CommandError(
                f"{args.src}: not found (--format hf takes a save_pretrained "
                "folder or a Hub id ORG/NAME)"
            )
    if args.labels is not None and not os.path.isfile(args.labels):
        raise CommandError(f"{args.labels}: labels file not found")
    extra = {}
    if args.multi_label is not None:
        extra["multi_label"] = args.multi_label
    if args.norm_stats is not None:
        extra["norm_stats"] = _parse_norm_stats(args.norm_stats)
    if args.num_heads is not None:
        extra["num_heads"] = args.num_heads
    try:
        out = import_checkpoint(
            args.format,
            args.src,
            args.out_dir,
            labels_csv=args.labels,
            n_frames=args.n_frames,
            fstride=args.fstride,
            tstride=args.tstride,
            **extra,
        )
    except HubUnavailableError as error:
        raise CommandError(str(error)) from None
    except Exception as error:
        raise CommandError(
            f"{args.src}: import failed ({type(error).__name__}: {_one_line(error)})"
        ) from None
    print(f"model folder written: {out if isinstance(out, str) else args.out_dir}")
    return EXIT_OK


# ---------------------------------------------------------------- export
def export_checkpoint(ckpt_dir, out_dir, like_dir):
    """Make a model folder from a training checkpoint folder.

    The architecture and labels come from ``like_dir`` (an existing model
    folder, e.g. the one training exported for its best epoch); the weights
    of every module the folder's pretrainer loads (``embedding_model``,
    ``classifier``) come from ``<ckpt_dir>/<name>.ckpt``. The weights must
    load strictly (same keys and shapes) before anything is written; no file
    is replaced unless all of them were written.

    Arguments
    ---------
    ckpt_dir : str
        SpeechBrain checkpoint folder (``save/CKPT+.../``).
    out_dir : str
        Model folder to write (created, or its files replaced).
    like_dir : str
        Model folder giving ``hyperparams.yaml`` and ``label_encoder.txt``.

    Returns
    -------
    str
        ``out_dir``.

    Raises
    ------
    CommandError
        Missing files, or weights that do not fit the architecture.

    Example
    -------
    >>> import torch
    >>> from tests.helpers import tiny_model_folder
    >>> tmpdir = getfixture("tmpdir")
    >>> like = tiny_model_folder(tmpdir)
    >>> ckpt = tmpdir.mkdir("CKPT+epoch3").strpath
    >>> for name in ("embedding_model", "classifier"):
    ...     state = torch.load(os.path.join(like, name + ".ckpt"))
    ...     torch.save(state, os.path.join(ckpt, name + ".ckpt"))
    >>> out = export_checkpoint(ckpt, tmpdir.join("epoch3").strpath, like)
    >>> sorted(os.listdir(out))
    ['classifier.ckpt', 'embedding_model.ckpt', 'hyperparams.yaml', 'label_encoder.txt']
    """
    import torch
    from hyperpyyaml import load_hyperpyyaml

    hparams_path = os.path.join(like_dir, "hyperparams.yaml")
    if not os.path.isdir(ckpt_dir):
        raise CommandError(f"{ckpt_dir}: checkpoint folder not found")
    if not os.path.isfile(hparams_path):
        raise CommandError(f"{like_dir}: not a model folder (no hyperparams.yaml)")
    try:
        with open(hparams_path, encoding="utf-8") as handle:
            hparams = load_hyperpyyaml(handle)
    except Exception as error:
        raise CommandError(
            f"{hparams_path}: cannot build the model ({type(error).__name__}: "
            f"{_one_line(error)})"
        ) from None
    pretrainer = hparams.get("pretrainer")
    loadables = dict(getattr(pretrainer, "loadables", {}))
    if not loadables:
        loadables = {
            name: hparams["modules"][name]
            for name in ("embedding_model", "classifier")
            if name in hparams.get("modules", {})
        }
    modules = {
        name: obj for name, obj in loadables.items() if isinstance(obj, torch.nn.Module)
    }
    if not modules:
        raise CommandError(f"{like_dir}: the model folder loads no module weights")
    for name in modules:
        path = os.path.join(ckpt_dir, name + ".ckpt")
        if not os.path.isfile(path):
            raise CommandError(f"{path}: not found (needed for {name})")
    states, copies = {}, {}
    for name, obj in loadables.items():
        if name in modules:
            path = os.path.join(ckpt_dir, name + ".ckpt")
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
                obj.load_state_dict(state, strict=True)
            except Exception as error:
                raise CommandError(
                    f"{path}: does not fit the model of {like_dir} "
                    f"({type(error).__name__}: {_one_line(error)})"
                ) from None
            states[name] = obj.state_dict()
        elif os.path.isfile(os.path.join(like_dir, name + ".ckpt")):
            copies[name + ".ckpt"] = os.path.join(like_dir, name + ".ckpt")
    copies["hyperparams.yaml"] = hparams_path
    label_file = os.path.join(like_dir, "label_encoder.txt")
    if os.path.isfile(label_file):
        copies["label_encoder.txt"] = label_file

    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise CommandError(f"{out_dir}: exists and is not a folder")
    os.makedirs(out_dir, exist_ok=True)
    # Nothing is replaced unless every file was written.
    with contextlib.ExitStack() as stack:

        def open_out(filename):
            path = os.path.join(out_dir, filename)
            return stack.enter_context(atomic_write(path, "wb"))

        for name, state in states.items():
            cpu = {key: value.detach().cpu() for key, value in state.items()}
            torch.save(cpu, open_out(name + ".ckpt"))
        for filename, source in copies.items():
            with open(source, "rb") as handle:
                shutil.copyfileobj(handle, open_out(filename))
    return out_dir


def _cmd_export(args):
    """Export a checkpoint folder as a model folder."""
    out = export_checkpoint(args.ckpt_dir, args.out_dir, args.like)
    print(f"model folder written: {out}")
    return EXIT_OK


# ----------------------------------------------------------- export-onnx
def _cmd_export_onnx(args):
    """Export a model folder as one ONNX graph."""
    tagger = _load_tagger(args.model, "cpu", False)  # folder errors: exit 2
    try:
        from speechbrain_ast.tagging.onnx_export import export_tagger

        out = export_tagger(tagger, args.out, int8=args.int8, attention=args.attention)
    except Exception as error:
        raise CommandError(
            f"{args.out}: ONNX export failed ({type(error).__name__}: "
            f"{_one_line(error)})"
        ) from None
    print(f"ONNX graph written: {out}{' (int8)' if args.int8 else ''}")
    return EXIT_OK


# ----------------------------------------------------------------- stats
def list_audio_files(source, column=None, data_root=None):
    """List the audio files of a folder (recursively) or of a manifest.

    Arguments
    ---------
    source : str
        A folder, a CSV manifest (a path column such as ``wav``) or a
        SpeechBrain JSON manifest (``{id: {"wav": path, ...}}``).
    column : str, optional
        Manifest column/key holding the path (default: the first of
        ``PATH_COLUMNS`` present).
    data_root : str, optional
        Replaces ``$data_root`` / ``{data_root}`` in manifest paths
        (default: the manifest's folder). Relative paths are taken relative
        to the manifest's folder.

    Returns
    -------
    list of str
        Audio file paths (sorted for a folder, in manifest order otherwise).

    Example
    -------
    >>> tmpdir = getfixture("tmpdir")
    >>> _ = tmpdir.join("a.wav").write("x"), tmpdir.join("notes.txt").write("x")
    >>> [os.path.basename(p) for p in list_audio_files(tmpdir.strpath)]
    ['a.wav']
    >>> manifest = tmpdir.join("train.csv")
    >>> _ = manifest.write("ID,wav\\n1,$data_root/a.wav\\n")
    >>> list_audio_files(manifest.strpath) == [tmpdir.join("a.wav").strpath]
    True
    """
    if os.path.isdir(source):
        found = []
        for root, _, files in os.walk(source):
            found.extend(
                os.path.join(root, name)
                for name in files
                if name.lower().endswith(AUDIO_EXTENSIONS)
            )
        return sorted(found)
    if not os.path.isfile(source):
        raise CommandError(f"{source}: not found")
    base = os.path.dirname(os.path.abspath(source))
    root = base if data_root is None else data_root
    try:
        if source.lower().endswith(".json"):
            with open(source, encoding="utf-8") as handle:
                rows = list(json.load(handle).values())
        else:
            with open(source, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
    except (ValueError, AttributeError, csv.Error, UnicodeDecodeError) as error:
        raise CommandError(f"{source}: not a CSV/JSON manifest ({error})") from None
    if not rows:
        raise CommandError(f"{source}: manifest has no rows")
    keys = rows[0].keys() if isinstance(rows[0], dict) else ()
    key = column or next((name for name in PATH_COLUMNS if name in keys), None)
    if key is None or key not in keys:
        raise CommandError(
            f"{source}: no audio path column (looked for {column or PATH_COLUMNS})"
        )
    paths = []
    for row in rows:
        path = str(row[key]).replace("$data_root", root).replace("{data_root}", root)
        paths.append(path if os.path.isabs(path) else os.path.join(base, path))
    return paths


def _cmd_stats(args):
    """Print fbank statistics of a dataset for ``FixedNormalization``."""
    from speechbrain_ast.audio import AudioError, load_audio
    from speechbrain_ast.features import KaldiFbank, compute_norm_stats

    paths = list_audio_files(args.source, args.column, args.data_root)
    if not paths:
        raise CommandError(f"{args.source}: no audio files found")
    fbank = KaldiFbank(sample_rate=args.sample_rate, n_mels=args.n_mels)
    used, failed = [], []

    def waveforms():
        for path in paths:
            try:
                wav = load_audio(path, sample_rate=args.sample_rate)
                if wav.numel() < fbank.window_size:
                    raise AudioError(f"{path}: shorter than one 25 ms frame")
            except AudioError as error:
                failed.append(path)
                _report(f"{path}: {_problem(path, error)}")
                continue
            used.append(path)
            yield wav

    try:
        mean, std = compute_norm_stats(waveforms(), fbank)
    except ValueError:
        raise CommandError(f"{args.source}: no usable audio files") from None
    print(
        f"# raw fbank statistics of {len(used)} files "
        f"({args.n_mels} mel bins, {args.sample_rate} Hz)"
    )
    print(f"norm_mean: {mean:.6f}")
    print(f"norm_std: {std:.6f}")
    return EXIT_FAILED if failed else EXIT_OK


# --------------------------------------------------------------- helpers
def _positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _probability(text):
    """argparse type: a float in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return value


def _non_negative_float(text):
    """argparse type: a float >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _parse_norm_stats(text):
    """``--norm-stats``: a dataset name, or ``MEAN,STD`` as two floats."""
    if "," not in text:
        return text
    try:
        mean, std = (float(value) for value in text.split(","))
    except ValueError:
        raise CommandError(
            f"--norm-stats {text}: give a dataset name or MEAN,STD", EXIT_USAGE
        ) from None
    if std <= 0:
        raise CommandError(f"--norm-stats {text}: STD must be positive", EXIT_USAGE)
    return mean, std


def _one_line(error):
    """An exception message on one line."""
    text = " ".join(str(error).split())
    return text if len(text) <= 400 else text[:397] + "..."


def _problem(path, error):
    """The message of ``error`` without a leading ``<path>: ``."""
    text = _one_line(error)
    prefix = f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _report(message):
    """Print ``error: <message>`` on stderr."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)

