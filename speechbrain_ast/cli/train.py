"""``speechbrain-ast train``: the custom-data recipe in one command.

``speechbrain-ast train DIR_OR_CSV --output OUT`` runs
``recipes/CustomData/train.py`` with one of its YAML files, exactly as
``python recipes/CustomData/train.py hparams/<name>.yaml --data_folder
DIR_OR_CSV --output_folder OUT`` would; anything after ``--`` is passed to
the recipe as further overrides (``-- --lr 5e-5 --batch_size 16``). The
recipe is the checkout's, else the copy installed with the package
(``speechbrain_ast.recipe_files``).

Authors
 * speechbrain-ast contributors 2026
"""

import os
import pathlib
import subprocess
import sys

from speechbrain_ast.cli.common import EXIT_USAGE, CommandError
from speechbrain_ast.recipe_files import recipe_folder

HPARAMS = {
    "ast": "AST-base from ImageNet (DeiT-B/384), the paper's settings (GPU)",
    "ecapa_small_scratch": "SpeechBrain's ECAPA-TDNN from scratch with a "
    "weight average, no downloads (CPU): higher on validation than the Xvector "
    "on five of eight small sets, new speakers and recordings included, lower "
    "on three (benchmarks/RESULTS.md)",
    "xvector_small_scratch": "SpeechBrain's Xvector TDNN from scratch, same "
    "recipe and size, no downloads (CPU): the default before the ECAPA",
    "ast_small_scratch": "a small AST from scratch, same recipe and size, no "
    "downloads (CPU): 10-13 points under the Xvector on validation on four of those sets",
}

# Recipe YAMLs whose encoder has no pretrained weights to load.
SCRATCH_ONLY = ("xvector_small_scratch", "ecapa_small_scratch")


def add_train_parser(commands, formatter_class):
    """Add the ``train`` subcommand to a ``speechbrain-ast`` subparsers object.

    Arguments
    ---------
    commands : argparse._SubParsersAction
        The subcommands of ``speechbrain-ast``.
    formatter_class : type
        Help formatter shared by the subcommands.

    Returns
    -------
    argparse.ArgumentParser
        The ``train`` parser.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> train = add_train_parser(parser.add_subparsers(), argparse.HelpFormatter)
    >>> args = parser.parse_args(["train", "sounds", "--output", "out"])
    >>> args.data, args.output, args.hparams, args.epochs
    ('sounds', 'out', 'ecapa_small_scratch', None)
    """
    train = commands.add_parser(
        "train",
        usage="speechbrain-ast train DIR_OR_CSV --output OUT [options] [-- RECIPE OVERRIDES]",
        help="train a sound classifier on your own labelled sounds (a folder per class, or a CSV)",
        description="Run the custom-data recipe (recipes/CustomData/train.py): "
        "split, classes, input length and fbank statistics are derived from the "
        "data; the model folder is written to OUTPUT/model. Arguments after -- go "
        "to the recipe as YAML overrides.",
        formatter_class=formatter_class,
    )
    train.add_argument(
        "data",
        metavar="DIR_OR_CSV",
        help="folder with one sub-folder per class, or a CSV with path,label[,split][,group]",
    )
    train.add_argument("--output", required=True, metavar="OUT", help="output folder")
    train.add_argument(
        "--hparams",
        default="ecapa_small_scratch",
        metavar="NAME_OR_FILE",
        help="recipe YAML: "
        + "; ".join(f"{name}: {what}" for name, what in HPARAMS.items())
        + "; or the path of your own YAML (default: ecapa_small_scratch, which "
        "needs no download and beats a log-mel baseline on small data)",
    )
    train.add_argument(
        "--epochs",
        type=int,
        default=None,
        metavar="N",
        help="epochs (default: the YAML's)",
    )
    train.add_argument(
        "--init",
        choices=("scratch", "imagenet", "audioset", "ssl"),
        default=None,
        help="initialisation (default: the YAML's)",
    )
    train.add_argument(
        "--init-source",
        default=None,
        metavar="SRC",
        help="timm name or file (imagenet); official .pth, HF folder or Hub id "
        "(audioset); encoder.ckpt of recipes/SSL (ssl: pass its geometry after "
        "--, see recipes/SSL/README.md) (default: the YAML's)",
    )
    train.add_argument(
        "--group-regex",
        "--group_regex",
        dest="group_regex",
        default=None,
        metavar="REGEX",
        help="recording groups from file names, kept in one split: auto (ESC-50, "
        "UrbanSound8K, Speech Commands and <name>_<n> names), none (one per file) or "
        "a regex whose named group 'group' is the recording (default: auto)",
    )
    train.add_argument(
        "--device", default=None, help="cpu, cuda or cuda:N (default: SpeechBrain's)"
    )
    train.set_defaults(func=run_train, overrides=[])
    return train


def recipe_command(args, recipe):
    """The recipe command line that ``train`` runs.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed ``train`` arguments.
    recipe : pathlib.Path
        The custom-data recipe's folder.

    Returns
    -------
    list of str
        ``[python, train.py, yaml, overrides...]``.

    Example
    -------
    >>> import argparse
    >>> args = argparse.Namespace(data="d", output="o", hparams="ast_small_scratch",
    ...     epochs=3, init=None, init_source=None, device="cpu", overrides=["--lr", "1e-4"])
    >>> command = recipe_command(args, pathlib.Path("recipes/CustomData"))
    >>> [os.path.basename(part) for part in command[1:]]  # doctest: +NORMALIZE_WHITESPACE
    ['train.py', 'ast_small_scratch.yaml', '--data_folder', 'd', '--output_folder', 'o',
     '--number_of_epochs', '3', '--device', 'cpu', '--lr', '1e-4']
    """
    if args.hparams in HPARAMS:
        hparams = recipe / "hparams" / f"{args.hparams}.yaml"
    else:
        hparams = pathlib.Path(args.hparams)
    command = [
        sys.executable,
        str(recipe / "train.py"),
        str(hparams),
        "--data_folder",
        os.path.abspath(args.data) if os.path.exists(args.data) else args.data,
        "--output_folder",
        os.path.abspath(args.output),
    ]
    if args.epochs is not None:
        command += ["--number_of_epochs", str(args.epochs)]
    if args.init is not None:
        command += ["--init", args.init]
    if args.init_source is not None:
        command += ["--init_source", args.init_source]
    if getattr(args, "group_regex", None) is not None:
        command += ["--group_regex", args.group_regex]
    if args.device is not None:
        command += ["--device", args.device]
    return command + list(args.overrides)


def run_train(args):
    """Run the custom-data recipe; return its exit code.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed ``train`` arguments.

    Returns
    -------
    int
        The recipe's exit code (0 on success).

    Raises
    ------
    CommandError
        No recipe, hparams file or data, or an ``--init`` the YAML's encoder
        cannot load (exit code 2).
    """
    try:
        recipe = recipe_folder()
    except FileNotFoundError as error:
        raise CommandError(str(error), EXIT_USAGE) from None
    problem = None
    command = recipe_command(args, recipe)
    if not os.path.isfile(command[2]):
        problem = f"{command[2]}: no such hparams file"
    elif not os.path.exists(args.data):
        problem = f"{args.data}: no such folder or CSV file"
    elif args.hparams in SCRATCH_ONLY and args.init not in (None, "scratch"):
        # Pretrained and SSL weights exist for the AST only; say so before
        # the data is prepared, not at the first epoch.
        problem = (
            f"--init {args.init}: {args.hparams} trains from scratch only (no "
            "pretrained weights exist for its encoder); use --hparams "
            + ("ast_small_scratch" if args.init == "ssl" else "ast")
            + f" for --init {args.init}"
        )
    if problem is not None:
        raise CommandError(problem, EXIT_USAGE)
    print("running:", " ".join(command[1:]), flush=True)
    # The recipe imports its prepare script from its own folder.
    return subprocess.run(command, cwd=os.getcwd()).returncode
