"""``speechbrain-ast import``: a model folder from an official or HF checkpoint.

The conversion is ``speechbrain_ast.pretrained.import_checkpoint``; this
module checks the arguments and reports failures on one line.

Authors
 * speechbrain-ast contributors 2026
"""

import os

from speechbrain_ast.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    one_line,
    positive_int,
)


def add_import_parser(commands, formatter_class):
    """Add the ``import`` subcommand to a ``speechbrain-ast`` subparsers object.

    Arguments
    ---------
    commands : argparse._SubParsersAction
        The subcommands of ``speechbrain-ast``.
    formatter_class : type
        Help formatter shared by the subcommands.

    Returns
    -------
    argparse.ArgumentParser
        The ``import`` parser.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = add_import_parser(parser.add_subparsers(), argparse.HelpFormatter)
    >>> args = parser.parse_args(["import", "--format", "hf", "src", "out"])
    >>> args.format, args.src, args.out_dir, args.multi_label
    ('hf', 'src', 'out', None)
    """
    imp = commands.add_parser(
        "import",
        formatter_class=formatter_class,
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
        type=positive_int,
        default=None,
        metavar="N",
        help="input length in frames, resizing the position embedding "
        "(default: the checkpoint's)",
    )
    imp.add_argument(
        "--fstride",
        type=positive_int,
        default=None,
        help="the checkpoint's frequency stride (default: official: from the "
        "file name, else 10; HF: from config.json)",
    )
    imp.add_argument(
        "--tstride",
        type=positive_int,
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
        type=positive_int,
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
    imp.set_defaults(func=run_import)
    return imp


def run_import(args):
    """Import an official / HuggingFace checkpoint into a model folder.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed ``import`` arguments.

    Returns
    -------
    int
        ``EXIT_OK``; failures raise ``CommandError``.
    """
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
        extra["norm_stats"] = parse_norm_stats(args.norm_stats)
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
            f"{args.src}: import failed ({type(error).__name__}: {one_line(error)})"
        ) from None
    print(f"model folder written: {out if isinstance(out, str) else args.out_dir}")
    return EXIT_OK


def parse_norm_stats(text):
    """``--norm-stats``: a dataset name, or ``MEAN,STD`` as two floats.

    Arguments
    ---------
    text : str
        The option's value.

    Returns
    -------
    str or tuple of float
        The dataset name, or ``(mean, std)``.

    Example
    -------
    >>> parse_norm_stats("esc50"), parse_norm_stats("-4.27,4.57")
    ('esc50', (-4.27, 4.57))
    """
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
