"""``speechbrain-ast stats``: fbank mean and std of a dataset.

The files are those of ``speechbrain_ast.audio_files.list_audio_files`` (a
folder, walked with the one audio-file rule, or a CSV/JSON manifest); the
statistics are ``speechbrain_ast.features.compute_norm_stats``, the values a
YAML's ``norm_mean`` / ``norm_std`` take.

Authors
 * speechbrain-ast contributors 2026
"""

from speechbrain_ast.audio_files import PATH_COLUMNS
from speechbrain_ast.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    CommandError,
    positive_int,
    problem,
    report,
)


def add_stats_parser(commands, formatter_class):
    """Add the ``stats`` subcommand to a ``speechbrain-ast`` subparsers object.

    Arguments
    ---------
    commands : argparse._SubParsersAction
        The subcommands of ``speechbrain-ast``.
    formatter_class : type
        Help formatter shared by the subcommands.

    Returns
    -------
    argparse.ArgumentParser
        The ``stats`` parser.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = add_stats_parser(parser.add_subparsers(), argparse.HelpFormatter)
    >>> args = parser.parse_args(["stats", "sounds"])
    >>> args.source, args.sample_rate, args.n_mels
    ('sounds', 16000, 128)
    """
    stats = commands.add_parser(
        "stats",
        formatter_class=formatter_class,
        help="fbank mean/std of a dataset (for norm_mean / norm_std)",
        description="Print the raw fbank mean and std over all audio files of "
        "a folder (recursively) or of a CSV/JSON manifest.",
    )
    stats.add_argument(
        "source", metavar="AUDIO_DIR_OR_CSV", help="folder or CSV/JSON manifest"
    )
    stats.add_argument(
        "--sample-rate",
        type=positive_int,
        default=16000,
        help="rate the audio is resampled to",
    )
    stats.add_argument(
        "--n-mels", type=positive_int, default=128, help="mel bins of the fbank"
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
    stats.set_defaults(func=run_stats)
    return stats


def run_stats(args):
    """Print fbank statistics of a dataset for ``FixedNormalization``.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed ``stats`` arguments.

    Returns
    -------
    int
        ``EXIT_OK``, or ``EXIT_FAILED`` if a file could not be used.
    """
    from speechbrain_ast.audio import AudioError, load_audio
    from speechbrain_ast.audio_files import list_audio_files
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
                report(f"{path}: {problem(path, error)}")
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
