"""The ``speechbrain-ast`` command line: tag, evaluate, import, export, statistics.

Subcommands, one module each::

    speechbrain-ast tag FILE... --model DIR [--top-k K] [--threshold T]     (tag)
                    [--hop SECONDS] [--window SECONDS] [--aggregate max|mean]
                    [--timeline] [--events] [--events-csv TSV] [--plot PNG]
                    [--int8] [--json] [--device cpu] [--backend torch|onnx] [--onnx FILE]
    speechbrain-ast tag - --model DIR [--rate HZ] [--json]     (live: stdin)
    speechbrain-ast evaluate MODEL DIR_OR_CSV [--split test] [--json]  (evaluate)
                    [--events REF.tsv] [--t-collar 0.2] [--segment 1.0] [--psds]
    speechbrain-ast import --format official|hf SRC OUT_DIR [--labels CSV]
                    [--n-frames N] [--fstride 10] [--tstride 10]   (import_checkpoint)
                    [--norm-stats DATASET|MEAN,STD] [--num-heads H]
                    [--multi-label|--single-label]
    speechbrain-ast export CKPT_DIR OUT_DIR --like MODEL_DIR [--card] (export)
    speechbrain-ast export MODEL_DIR --card [--hub-id ID] [--example AUDIO]
    speechbrain-ast export-onnx MODEL_DIR OUT.onnx [--int8]         (export_onnx)
                    [--attention onnxruntime|standard]
    speechbrain-ast stats AUDIO_DIR_OR_MANIFEST [--sample-rate 16000] [--n-mels 128]
    speechbrain-ast shards --manifest CSV --classes TXT --output DIR  (shards)
    speechbrain-ast train DIR_OR_CSV --output OUT [-- RECIPE OVERRIDES]  (train)

Each module has an ``add_<command>_parser(commands, formatter_class)`` and a
``run_<command>(args)``; the work itself is library code. ``--help`` of
every subcommand shows each option's default. Errors are reported as one
line ``error: <file>: <problem>`` on stderr, never as a Python traceback:
a subcommand's ``CommandError`` with its exit code, and a library
``ValueError`` or ``OSError`` with exit code 1. ``tag`` keeps going after a
bad file and exits with 1 at the end; a missing or unloadable model folder
exits with 2.

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import sys

from speechbrain_ast.cli.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    CommandError,
    HelpFormatter,
    describe,
    report,
)
from speechbrain_ast.cli.evaluate import add_evaluate_parser
from speechbrain_ast.cli.export import add_export_parser
from speechbrain_ast.cli.export_onnx import add_export_onnx_parser
from speechbrain_ast.cli.import_checkpoint import add_import_parser
from speechbrain_ast.cli.shards import add_shards_parser
from speechbrain_ast.cli.stats import add_stats_parser
from speechbrain_ast.cli.tag import add_tag_parser
from speechbrain_ast.cli.train import add_train_parser

__all__ = ["CommandError", "HelpFormatter", "build_parser", "main"]

SUBCOMMANDS = (
    add_tag_parser,
    add_evaluate_parser,
    add_import_parser,
    add_export_parser,
    add_export_onnx_parser,
    add_stats_parser,
    add_shards_parser,
    add_train_parser,
)


def build_parser():
    """Build the argument parser of ``speechbrain-ast``.

    Returns
    -------
    argparse.ArgumentParser
        The parser with the ``tag``, ``evaluate``, ``import``, ``export``,
        ``export-onnx``, ``stats``, ``shards`` and ``train`` subcommands.

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
    for add_parser in SUBCOMMANDS:
        add_parser(commands, HelpFormatter)
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
        report("arguments after -- are only for the train command")
        return EXIT_USAGE
    args.overrides = passthrough
    try:
        return args.func(args)
    except CommandError as error:
        report(str(error))
        return error.code
    except (ValueError, OSError) as error:  # library errors name their file
        report(describe(error))
        return EXIT_FAILED
