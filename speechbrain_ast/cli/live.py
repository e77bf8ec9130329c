"""``speechbrain-ast tag -``: live tagging of standard input.

The stream (a WAV stream, or raw 16-bit PCM with ``--rate``) is cut into
windows as it arrives (``speechbrain_ast.tagging.streaming.tag_stream``) and
one line per window is printed as soon as the window is complete, with its
latency in the JSON form. A silent window (or one shorter than a 25 ms
frame) is flagged as a silent file is: ``(silent)`` at the end of its line,
``"silent": true`` in JSON. The options are those of ``tag``
(``speechbrain_ast.cli.tag``); event detection and its plot need the whole
recording and are refused here.

Authors
 * speechbrain-ast contributors 2026
"""

import json
import os
import sys
import time

from speechbrain_ast.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    check_window,
    load_tagger,
    one_line,
)

# Exit code of a program stopped by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


def run_live(args):
    """Tag standard input window by window; one line per window.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed ``tag`` arguments with FILE ``-``.

    Returns
    -------
    int
        ``EXIT_OK`` at the end of the stream (or when the reader of the
        output went away), ``EXIT_INTERRUPTED`` on Ctrl-C.
    """
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
    tagger = load_tagger(args.model, args.device, args.int8, args.backend, args.onnx)
    check_window(tagger, args)
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
                        "silent": window["silent"],
                        "too_short": window["too_short"],
                        "latency_ms": round(1000 * latency, 1),
                    }
                )
            else:
                pairs = "\t".join(
                    f"{label} {score:.3f}" for label, score in window["labels"]
                )
                line = f"{window['start']:.3f}-{window['end']:.3f}\t{pairs}"
                notes = [
                    note
                    for note, flagged in (
                        ("silent", window["silent"]),
                        ("too short", window["too_short"]),
                    )
                    if flagged
                ]
                if notes:
                    line += f"\t({', '.join(notes)}: labels not meaningful)"
            print(line, flush=True)
    except AudioError as error:
        raise CommandError(one_line(error)) from None
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader of our output went away (e.g. `| head`): stop quietly
        sys.stdout = open(os.devnull, "w")
        return EXIT_OK
    return EXIT_OK
