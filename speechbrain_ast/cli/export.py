"""``speechbrain-ast export``: a model folder from a training checkpoint.

The folder is written by ``speechbrain_ast.model_folder.export_checkpoint``
(strict weight loading, nothing replaced unless every file was written); its
``ValueError``/``OSError`` become one ``error:`` line in ``main``.

Authors
 * speechbrain-ast contributors 2026
"""

from speechbrain_ast.cli.common import EXIT_OK


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
    """
    exp = commands.add_parser(
        "export",
        formatter_class=formatter_class,
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
    exp.set_defaults(func=run_export)
    return exp


def run_export(args):
    """Export a checkpoint folder as a model folder.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed ``export`` arguments.

    Returns
    -------
    int
        ``EXIT_OK``.
    """
    from speechbrain_ast.model_folder import export_checkpoint

    out = export_checkpoint(args.ckpt_dir, args.out_dir, args.like)
    print(f"model folder written: {out}")
    return EXIT_OK
