"""``speechbrain-ast export-onnx``: a model folder as one ONNX graph.

The graph (16 kHz waveform in, logits and scores out) is written by
``speechbrain_ast.tagging.onnx_export.export_tagger``, the export that the
onnxruntime backend of ``AudioTagger`` uses too.

Authors
 * speechbrain-ast contributors 2026
"""

from speechbrain_ast.cli.common import EXIT_OK, CommandError, load_tagger, one_line


def add_export_onnx_parser(commands, formatter_class):
    """Add the ``export-onnx`` subcommand to a ``speechbrain-ast`` subparsers object.

    Arguments
    ---------
    commands : argparse._SubParsersAction
        The subcommands of ``speechbrain-ast``.
    formatter_class : type
        Help formatter shared by the subcommands.

    Returns
    -------
    argparse.ArgumentParser
        The ``export-onnx`` parser.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = add_export_onnx_parser(parser.add_subparsers(), argparse.HelpFormatter)
    >>> args = parser.parse_args(["export-onnx", "model", "m.onnx", "--int8"])
    >>> args.model, args.out, args.int8, args.attention
    ('model', 'm.onnx', True, 'onnxruntime')
    """
    onnx = commands.add_parser(
        "export-onnx",
        formatter_class=formatter_class,
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
    onnx.set_defaults(func=run_export_onnx)
    return onnx


def run_export_onnx(args):
    """Export a model folder as one ONNX graph.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed ``export-onnx`` arguments.

    Returns
    -------
    int
        ``EXIT_OK``; failures raise ``CommandError``.
    """
    tagger = load_tagger(args.model, "cpu", False)  # folder errors: exit 2
    try:
        from speechbrain_ast.tagging.onnx_export import export_tagger

        out = export_tagger(tagger, args.out, int8=args.int8, attention=args.attention)
    except Exception as error:
        raise CommandError(
            f"{args.out}: ONNX export failed ({type(error).__name__}: "
            f"{one_line(error)})"
        ) from None
    print(f"ONNX graph written: {out}{' (int8)' if args.int8 else ''}")
    return EXIT_OK
