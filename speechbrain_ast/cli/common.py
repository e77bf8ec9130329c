"""What the ``speechbrain-ast`` subcommands share: help, errors, exit codes.

``tag`` and ``evaluate`` also share the event detection options
(``add_event_options``, ``event_options``): one definition, one set of
defaults.

Every failure a user can cause is reported as one line ``error: <file>:
<problem>`` on stderr and an exit code: ``EXIT_FAILED`` (1) when an input
failed, ``EXIT_USAGE`` (2) for bad usage or a missing or unloadable model
folder. Subcommands raise ``CommandError`` for their own checks; the library
raises ``ValueError`` / ``OSError`` with messages that start with the file,
and ``main`` turns those into the same one line (``describe``).

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# Longest message part taken from an exception (a state-dict mismatch lists
# every key).
MAX_DETAIL = 400


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


def describe(error):
    """The one-line message of a library error: ``<file>: <problem>``.

    Library errors already start with the file; an ``OSError`` raised by
    the operating system gets its file name put in front.

    Arguments
    ---------
    error : Exception
        A ``ValueError`` or ``OSError``.

    Returns
    -------
    str
        The message on one line.

    Example
    -------
    >>> describe(ValueError("a.csv: manifest has\\nno rows"))
    'a.csv: manifest has no rows'
    >>> describe(PermissionError(13, "Permission denied", "out/model"))
    'out/model: Permission denied'
    """
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return one_line(error)


def load_tagger(model_dir, device, int8, backend="torch", onnx_path=None):
    """Load an ``AudioTagger`` or raise a one-line ``CommandError`` (exit 2).

    Arguments
    ---------
    model_dir : str
        The model folder.
    device : str
        Torch device.
    int8 : bool
        Score with int8 matrix products (onnxruntime, CPU).
    backend : str
        ``"torch"`` or ``"onnx"``.
    onnx_path : str, optional
        A graph exported earlier from the folder.

    Returns
    -------
    AudioTagger
        The loaded tagger.

    Example
    -------
    >>> try:
    ...     load_tagger("no/such/folder", "cpu", False)
    ... except CommandError as error:
    ...     print(error.code, error)
    2 no/such/folder: model folder not found
    """
    if not os.path.isdir(model_dir):
        raise CommandError(f"{model_dir}: model folder not found", EXIT_USAGE)
    from speechbrain_ast.tagging.loading import check_model_folder

    try:  # e.g. a training run folder instead of its model/ folder
        check_model_folder(model_dir)
    except (OSError, ValueError) as error:
        raise CommandError(describe(error), EXIT_USAGE) from None
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
    except Exception as error:  # whatever the folder's YAML builds may raise
        raise CommandError(
            f"{model_dir}: cannot load the model ({type(error).__name__}: "
            f"{one_line(error)})",
            EXIT_USAGE,
        ) from None


def positive_int(text):
    """argparse type: an integer >= 1.

    Arguments
    ---------
    text : str
        The option's value.

    Returns
    -------
    int
        The value.

    Example
    -------
    >>> positive_int("8")
    8
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def probability(text):
    """argparse type: a float in [0, 1].

    Arguments
    ---------
    text : str
        The option's value.

    Returns
    -------
    float
        The value.

    Example
    -------
    >>> probability("0.5")
    0.5
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return value


def non_negative_float(text):
    """argparse type: a float >= 0.

    Arguments
    ---------
    text : str
        The option's value.

    Returns
    -------
    float
        The value.

    Example
    -------
    >>> non_negative_float("0")
    0.0
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def one_line(error):
    """An exception message on one line, at most ``MAX_DETAIL`` characters.

    Arguments
    ---------
    error : Exception or str
        The exception.

    Returns
    -------
    str
        Its message, whitespace runs made single spaces.

    Example
    -------
    >>> one_line(ValueError("two\\nlines"))
    'two lines'
    """
    text = " ".join(str(error).split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


def problem(path, error):
    """The message of ``error`` without a leading ``<path>: ``.

    Arguments
    ---------
    path : str
        The file the error is about.
    error : Exception
        The exception.

    Returns
    -------
    str
        The problem alone, on one line.

    Example
    -------
    >>> problem("a.wav", ValueError("a.wav: file is empty"))
    'file is empty'
    """
    text = one_line(error)
    prefix = f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def report(message):
    """Print ``error: <message>`` on one line of stderr.

    Arguments
    ---------
    message : str
        The problem, starting with the file concerned.

    Example
    -------
    >>> report("a.wav: file is empty")  # written to stderr
    """
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def warn(message):
    """Print ``warning: <message>`` on one line of stderr.

    Arguments
    ---------
    message : str
        What the user should know, starting with the file concerned.

    Example
    -------
    >>> warn("a.wav: silent")  # written to stderr
    """
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def check_window(tagger, args):
    """Check ``--window`` / ``--hop`` against the model input (exit 2 if wrong).

    Arguments
    ---------
    tagger : AudioTagger
        The loaded tagger.
    args : argparse.Namespace
        Parsed ``tag`` arguments (``window``, ``hop``).
    """
    try:
        tagger.window_hop_samples(args.window, args.hop)
    except ValueError as error:
        option = "--hop" if "hop" in str(error) else "--window"
        text = (
            str(error).replace("hop_seconds", option).replace("window_seconds", option)
        )
        raise CommandError(f"{option}: {text}", EXIT_USAGE) from None


def add_event_options(group):
    """Add the event detection options shared by ``tag`` and ``evaluate``.

    One definition, so that ``evaluate --events`` scores the events that
    ``tag --events`` prints, with the same defaults.

    Arguments
    ---------
    group : argparse._ArgumentGroup or argparse.ArgumentParser
        Where the options go (the "sound events" group).

    Example
    -------
    >>> parser = argparse.ArgumentParser()
    >>> add_event_options(parser)
    >>> args = parser.parse_args([])
    >>> args.event_rule, args.event_threshold, args.median, args.min_level
    ('auto', None, 0.0, None)
    """
    group.add_argument(
        "--event-rule",
        choices=("auto", "threshold", "top"),
        default="auto",
        help="which classes can be active in a frame: 'threshold', every class "
        "whose score reaches its threshold (multi-label models: events may "
        "overlap); 'top', only the frame's top class (single-label models: a "
        "softmax spreads 1 over the classes, so a fixed 0.5 misses most "
        "sounds); 'auto', top for single-label models, threshold for "
        "multi-label ones",
    )
    group.add_argument(
        "--event-threshold",
        type=probability,
        default=None,
        metavar="T",
        help="a class is active in a frame from this score on (default: 0.5 "
        "with the threshold rule, 0 with the top rule: the top class of every "
        "frame that is not silent)",
    )
    group.add_argument(
        "--class-thresholds",
        default=None,
        metavar="FILE",
        help="per-class thresholds: JSON {label: T} or lines 'label<TAB>T' "
        "(default: none, --event-threshold for all)",
    )
    group.add_argument(
        "--median",
        type=non_negative_float,
        default=0.0,
        metavar="SECONDS",
        help="median filter length over active frames (0: none)",
    )
    group.add_argument(
        "--min-level",
        type=float,
        default=None,
        metavar="DB",
        help="frames (one hop) whose RMS level is below DB dBFS hold no event, "
        "whatever the scores: a gate for a known noise floor, which also "
        "removes real sounds quieter than DB (a distant siren can be at -75); "
        "silent frames (peak below 1e-4, as silent files) never hold an event "
        "(default: no level gate)",
    )


def event_options(args, tagger):
    """Keyword arguments of ``events_from_tagging`` from the event options.

    ``--event-rule auto`` becomes the rule that suits the model
    (``events.default_event_rule``), and a missing ``--event-threshold`` the
    rule's threshold.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed arguments with the options of ``add_event_options``.
    tagger : AudioTagger
        The model (its labels, and whether it is multi-label).

    Returns
    -------
    dict
        ``thresholds``, ``rule``, ``median_seconds`` and ``min_level_db``.

    Raises
    ------
    CommandError
        An unreadable thresholds file, or one naming labels the model lacks.
    """
    from speechbrain_ast.tagging.events import default_event_rule, read_class_thresholds

    rule, threshold = default_event_rule(tagger.multi_label)
    if args.event_rule != "auto":
        rule, threshold = default_event_rule(args.event_rule == "threshold")
    if args.event_threshold is not None:
        threshold = args.event_threshold
    thresholds = threshold
    if args.class_thresholds:
        try:
            per_class = read_class_thresholds(args.class_thresholds)
        except (ValueError, OSError) as error:
            raise CommandError(describe(error), EXIT_USAGE) from None
        unknown = sorted(set(per_class) - set(tagger.labels))
        if unknown:
            raise CommandError(
                f"{args.class_thresholds}: labels not in the model: "
                f"{', '.join(unknown[:5])}",
                EXIT_USAGE,
            )
        thresholds = {label: per_class.get(label, threshold) for label in tagger.labels}
    return {
        "thresholds": thresholds,
        "rule": rule,
        "median_seconds": args.median,
        "min_level_db": args.min_level,
    }
