"""``speechbrain-ast shards``: pack a training manifest into WebDataset shards.

The shards are written by ``speechbrain_ast.training.shards.write_shards``,
the function the AudioSet recipe calls before training (it returns at once
when the shards are up to date). Writing them beforehand, with many reading
threads, takes that work out of the training job::

    speechbrain-ast shards --manifest save/train.csv --classes save/classes.txt \\
        --weights save/train_weights.csv --output save/shards \\
        --shard-size 1000 --num-workers 16

Authors
 * speechbrain-ast contributors 2026
"""

import logging
import os

from speechbrain_ast.cli.common import EXIT_OK, positive_int


def add_shards_parser(commands, formatter_class):
    """Add the ``shards`` subcommand to a ``speechbrain-ast`` subparsers object.

    Arguments
    ---------
    commands : argparse._SubParsersAction
        The subcommands of ``speechbrain-ast``.
    formatter_class : type
        Help formatter shared by the subcommands.

    Returns
    -------
    argparse.ArgumentParser
        The ``shards`` parser.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = add_shards_parser(parser.add_subparsers(), argparse.HelpFormatter)
    >>> args = parser.parse_args(["shards", "--manifest", "train.csv",
    ...     "--classes", "classes.txt", "--output", "shards"])
    >>> args.manifest, args.shard_size, args.weights
    ('train.csv', 1000, None)
    """
    shards = commands.add_parser(
        "shards",
        formatter_class=formatter_class,
        help="pack a training manifest into WebDataset tar shards",
        description="Write the WebDataset shards that the AudioSet recipe "
        "streams (see docs/scaling.md): each clip read, resampled and stored "
        "as FLAC with its labels and sampling weight, rows shuffled, an "
        "index.json and a skipped.txt of unreadable clips. Shards already up "
        "to date are kept.",
    )
    shards.add_argument(
        "--manifest",
        required=True,
        metavar="CSV",
        help="training manifest of a prepare script (ID,duration,wav,labels)",
    )
    shards.add_argument(
        "--classes", required=True, metavar="TXT", help="classes.txt of the manifest"
    )
    shards.add_argument("--output", required=True, metavar="DIR", help="shard folder")
    shards.add_argument(
        "--weights",
        default=None,
        metavar="CSV",
        help="train_weights.csv (ID,weight) for balanced sampling "
        "(default: none, every clip weighs 1)",
    )
    shards.add_argument(
        "--shard-size", type=positive_int, default=1000, help="clips per shard"
    )
    shards.add_argument(
        "--sample-rate",
        type=positive_int,
        default=16000,
        help="rate the clips are stored at",
    )
    shards.add_argument(
        "--seed", type=int, default=1234, help="seed of the shuffle of the rows"
    )
    shards.add_argument(
        "--num-workers",
        type=positive_int,
        default=os.cpu_count() or 1,
        help="threads reading, resampling and encoding clips",
    )
    shards.add_argument(
        "--prefix", default="train", help="shard names are PREFIX-000000.tar, ..."
    )
    shards.set_defaults(func=run_shards)
    return shards


def run_shards(args):
    """Write the shards of a manifest and say how many clips they hold.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed ``shards`` arguments.

    Returns
    -------
    int
        ``EXIT_OK``; library errors are reported by ``main``.
    """
    from speechbrain_ast.training.shards import write_shards

    # write_shards reports its progress through logging.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    index = write_shards(
        args.manifest,
        args.output,
        args.classes,
        weights=args.weights,
        shard_size=args.shard_size,
        sample_rate=args.sample_rate,
        seed=args.seed,
        num_workers=args.num_workers,
        prefix=args.prefix,
    )
    print(
        f"{index['n_clips']} clips in {len(index['shards'])} shards, "
        f"{index['skipped']} skipped -> {args.output}"
    )
    return EXIT_OK
