"""``speechbrain-ast export``: a model folder from a checkpoint, and its model card.

``export CKPT_DIR OUT_DIR --like MODEL_DIR`` writes the folder with
``speechbrain_ast.model_folder.export_checkpoint`` (strict weight loading,
nothing replaced unless every file was written). ``--card`` adds a
HuggingFace model card (``README.md``, ``speechbrain_ast.model_card``);
``export MODEL_DIR --card`` writes one into an existing model folder, e.g.
the ``model/`` folder of a training run. Library ``ValueError``/``OSError``
become one ``error:`` line in ``main``.

Authors
 * speechbrain-ast contributors 2026
"""

from speechbrain_ast.cli.common import EXIT_OK, EXIT_USAGE, CommandError


def add_export_parser(commands, formatter_class):
    """Add the ``export`` subcommand to a ``speechbrain-ast`` subparsers object.

    Arguments
    ---------
    commands : argparse._SubParsersAction
        The subcommands of ``speechbrain-ast``.
    formatter_class : type
        Help formatter shared by the subcommands.

    Returns
    -------
    argparse.ArgumentParser
        The ``export`` parser.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = add_export_parser(parser.add_subparsers(), argparse.HelpFormatter)
    >>> args = parser.parse_args(["export", "ckpt", "out", "--like", "model"])
    >>> args.ckpt_dir, args.out_dir, args.like
    ('ckpt', 'out', 'model')
    >>> args = parser.parse_args(["export", "run/model", "--card", "--dataset", "ESC50"])
    >>> args.ckpt_dir, args.out_dir, args.card, args.dataset
    ('run/model', None, True, ['ESC50'])
    """
    exp = commands.add_parser(
        "export",
        formatter_class=formatter_class,
        help="make a model folder from a training checkpoint, or a model card",
        description="Make a model folder from a SpeechBrain checkpoint folder "
        "(save/CKPT+.../ with embedding_model.ckpt and classifier.ckpt), using "
        "the hyperparams.yaml and label_encoder.txt of an existing model folder. "
        "--card also writes a HuggingFace model card (README.md) with the result "
        "measured for those weights; `export MODEL_DIR --card` writes one into an "
        "existing model folder (e.g. a training run's model/).",
    )
    exp.add_argument(
        "ckpt_dir",
        metavar="CKPT_DIR|MODEL_DIR",
        help="checkpoint folder to export; or, with --card alone, a model folder",
    )
    exp.add_argument(
        "out_dir", metavar="OUT_DIR", nargs="?", help="model folder to write"
    )
    exp.add_argument(
        "--like",
        metavar="MODEL_DIR",
        # Not required by argparse: `export MODEL_DIR --card` has no checkpoint.
        help="model folder of the same architecture and labels (required) to "
        "export CKPT_DIR as OUT_DIR (default: none with MODEL_DIR --card)",
    )
    card = exp.add_argument_group("model card (README.md in the model folder)")
    card.add_argument(
        "--card",
        action="store_true",
        help="write a HuggingFace model card with the measured result",
    )
    card.add_argument(
        "--dataset",
        action="append",
        metavar="NAME",
        help="training data for the card's metadata, repeatable "
        "(default: from the recipe that trained the run, else none)",
    )
    card.add_argument(
        "--license", default="apache-2.0", help="HuggingFace licence id of the weights"
    )
    card.add_argument("--language", default="en", help="language of the labels")
    card.add_argument(
        "--hub-id",
        metavar="OWNER/NAME",
        help="Hub repository the snippet loads (default: the folder's path)",
    )
    card.add_argument(
        "--example",
        metavar="AUDIO",
        help="audio file copied into the folder for the snippet to classify "
        "(default: none, a placeholder path)",
    )
    exp.set_defaults(func=run_export)
    return exp


def run_export(args):
    """Export a checkpoint folder as a model folder, and/or write its model card.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed ``export`` arguments.

    Returns
    -------
    int
        ``EXIT_OK``.

    Raises
    ------
    CommandError
        A usage that is neither ``CKPT_DIR OUT_DIR --like MODEL_DIR`` nor
        ``MODEL_DIR --card`` (exit code 2).
    """
    from speechbrain_ast.model_folder import export_checkpoint

    if args.out_dir is None:
        if not args.card or args.like:
            raise CommandError(
                "export: give CKPT_DIR OUT_DIR --like MODEL_DIR [--card], "
                "or MODEL_DIR --card",
                EXIT_USAGE,
            )
        _write_card(args, args.ckpt_dir, checkpoint_dir=None)
        return EXIT_OK
    if not args.like:
        raise CommandError(
            "export: --like MODEL_DIR is required to export a checkpoint", EXIT_USAGE
        )
    out = export_checkpoint(args.ckpt_dir, args.out_dir, args.like)
    print(f"model folder written: {out}")
    if args.card:
        _write_card(args, out, checkpoint_dir=args.ckpt_dir)
    return EXIT_OK


def _write_card(args, model_dir, checkpoint_dir):
    """Write the model card of ``model_dir`` with the card options of ``args``."""
    from speechbrain_ast.model_card import write_model_card

    path = write_model_card(
        model_dir,
        checkpoint_dir=checkpoint_dir,
        datasets=args.dataset,
        license=args.license,
        language=args.language,
        hub_id=args.hub_id,
        example=args.example,
    )
    print(f"model card written: {path}")
