#!/usr/bin/env python3
"""Write this repository's recipes into a SpeechBrain checkout, in SpeechBrain's
layout, clobbering nothing.

Where each recipe goes (SpeechBrain keeps one folder per dataset, the task
below it, and its own ESC-50 and Speech Commands recipes already sit there):

=========================  ==========================================  ==========================
ours                       in SpeechBrain's tree                       rows appended to
=========================  ==========================================  ==========================
recipes/ESC50              recipes/ESC50/classification/AST            tests/recipes/ESC50.csv
recipes/SpeechCommands     recipes/Google-speech-commands/AST          Google-speech-commands.csv
recipes/AudioSet           recipes/AudioSet/tagging                    AudioSet.csv
recipes/SSL                recipes/AudioSet/self-supervised-learning   AudioSet.csv
recipes/CustomData         recipes/CustomData                          CustomData.csv
tests/samples/X            tests/samples/AST/X
=========================  ==========================================  ==========================

The AST recipes keep their own ``train.py`` and prepare scripts in their own
folders, so SpeechBrain's ``recipes/ESC50/classification/esc50_prepare.py``,
``train.py`` and the Speech Commands files stay as they are and SpeechBrain's
rows keep running them. Every path in our rows (script, hparams, prepare,
README, the sample data in the debug flags) is rewritten to the new place.
If any file it would write already exists, it writes nothing and says which.

Usage::

    python scripts/place_in_speechbrain.py PATH/TO/speechbrain [--dry-run]

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import csv
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# (our folder, its place in SpeechBrain's tree, the tests/recipes CSV).
RECIPE_PLACES = (
    ("recipes/ESC50", "recipes/ESC50/classification/AST", "ESC50.csv"),
    (
        "recipes/SpeechCommands",
        "recipes/Google-speech-commands/AST",
        "Google-speech-commands.csv",
    ),
    ("recipes/AudioSet", "recipes/AudioSet/tagging", "AudioSet.csv"),
    ("recipes/SSL", "recipes/AudioSet/self-supervised-learning", "AudioSet.csv"),
    ("recipes/CustomData", "recipes/CustomData", "CustomData.csv"),
)
# Our CSV of rows for each recipe folder.
OUR_CSVS = {
    "recipes/ESC50": "ESC50.csv",
    "recipes/SpeechCommands": "SpeechCommands.csv",
    "recipes/AudioSet": "AudioSet.csv",
    "recipes/SSL": "SSL.csv",
    "recipes/CustomData": "CustomData.csv",
}
SAMPLES = "tests/samples/"
PLACED_SAMPLES = "tests/samples/AST/"
PATH_FIELDS = ("Script_file", "Hparam_file", "Data_prep_file", "Readme_file")
# Files that are ours but are not part of a recipe in SpeechBrain's tree.
SKIPPED_NAMES = {"ruff.toml", "__pycache__", ".pytest_cache"}


def _recipe_files(folder):
    """The files of one recipe folder, without caches and local configs."""
    for path in sorted(folder.rglob("*")):
        parts = set(path.relative_to(folder).parts)
        if path.is_file() and not parts & SKIPPED_NAMES and path.suffix != ".pyc":
            yield path


def placed_path(path):
    """Where a repository path of a recipe or sample goes in SpeechBrain's tree.

    Arguments
    ---------
    path : str
        A path relative to this repository's root.

    Returns
    -------
    str
        The path relative to SpeechBrain's root (unchanged when not ours).

    Example
    -------
    >>> placed_path("recipes/ESC50/hparams/ast.yaml")
    'recipes/ESC50/classification/AST/hparams/ast.yaml'
    >>> placed_path("recipes/SSL/train.py")
    'recipes/AudioSet/self-supervised-learning/train.py'
    >>> placed_path("tests/samples/audioset/eval_segments.csv")
    'tests/samples/AST/audioset/eval_segments.csv'
    """
    for ours, theirs, _ in RECIPE_PLACES:
        if path == ours or path.startswith(ours + "/"):
            return theirs + path[len(ours) :]
    if path.startswith(SAMPLES):
        return PLACED_SAMPLES + path[len(SAMPLES) :]
    return path


def placed_row(row, dataset):
    """One of our tests/recipes rows with every path moved to its new place.

    Arguments
    ---------
    row : dict
        A row of one of our ``tests/recipes/*.csv``.
    dataset : str
        The ``Dataset`` column of SpeechBrain's CSV it is appended to.

    Returns
    -------
    dict
        The row for SpeechBrain's CSV.

    Example
    -------
    >>> row = {"Dataset": "SpeechCommands",
    ...        "Script_file": "recipes/SpeechCommands/train.py",
    ...        "test_debug_flags": "--data_folder=tests/samples/speech_commands_v0.02"}
    >>> placed = placed_row(row, "Google-speech-commands")
    >>> placed["Script_file"], placed["Dataset"]
    ('recipes/Google-speech-commands/AST/train.py', 'Google-speech-commands')
    >>> placed["test_debug_flags"]
    '--data_folder=tests/samples/AST/speech_commands_v0.02'
    """
    placed = dict(row)
    placed["Dataset"] = dataset
    for field in PATH_FIELDS:
        if placed.get(field):
            placed[field] = " ".join(
                placed_path(p) for p in placed[field].split(" ") if p
            )
    if placed.get("test_debug_flags"):
        placed["test_debug_flags"] = placed["test_debug_flags"].replace(
            SAMPLES, PLACED_SAMPLES
        )
    return placed


def placement_plan(repo=REPO):
    """Every file to copy and every CSV row to append.

    Arguments
    ---------
    repo : Path
        This repository's root.

    Returns
    -------
    copies : list of (Path, str)
        Source files and their paths relative to SpeechBrain's root.
    rows : dict
        SpeechBrain CSV name -> list of rows (dicts) to append.

    Example
    -------
    >>> copies, rows = placement_plan()
    >>> sorted(rows)
    ['AudioSet.csv', 'CustomData.csv', 'ESC50.csv', 'Google-speech-commands.csv']
    >>> any(dst == "recipes/ESC50/classification/AST/train.py" for _, dst in copies)
    True
    """
    repo = Path(repo)
    copies, rows = [], {}
    for ours, _, their_csv in RECIPE_PLACES:
        for path in _recipe_files(repo / ours):
            copies.append((path, placed_path(path.relative_to(repo).as_posix())))
        dataset = Path(their_csv).stem
        with open(repo / "tests/recipes" / OUR_CSVS[ours], newline="") as f:
            for row in csv.DictReader(f, skipinitialspace=True):
                rows.setdefault(their_csv, []).append(placed_row(row, dataset))
    for path in _recipe_files(repo / "tests/samples"):
        copies.append((path, placed_path(path.relative_to(repo).as_posix())))
    return copies, rows


def _append_rows(csv_path, rows):
    """Append rows to a SpeechBrain recipe CSV, creating it with our header."""
    if csv_path.exists():
        with open(csv_path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f))
        text = csv_path.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):
            with open(csv_path, "a", encoding="utf-8") as f:
                f.write("\n")
        missing = [k for k in rows[0] if k not in header]
        if missing:
            raise ValueError(f"{csv_path}: has no column(s) {missing} for our rows")
        mode = "a"
    else:
        header, mode = list(rows[0]), "w"
    with open(csv_path, mode, newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        if mode == "w":
            writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in header})


def place(sb_root, repo=REPO, dry_run=False):
    """Copy the recipes, samples and rows into a SpeechBrain checkout.

    Arguments
    ---------
    sb_root : Path
        The root of a SpeechBrain checkout (it has ``tests/recipes``).
    repo : Path
        This repository's root.
    dry_run : bool
        Only check and return the plan.

    Returns
    -------
    list of str
        The paths written, relative to ``sb_root`` (CSV files last).

    Raises
    ------
    FileExistsError
        If a file it would copy is already there (nothing is written then).
    ValueError
        If ``sb_root`` is not a SpeechBrain checkout.
    """
    sb_root = Path(sb_root)
    if not (sb_root / "tests/recipes").is_dir() or not (sb_root / "recipes").is_dir():
        raise ValueError(
            f"{sb_root}: not a SpeechBrain checkout (no recipes/ and tests/recipes/)"
        )
    copies, rows = placement_plan(repo)
    taken = [dst for _, dst in copies if (sb_root / dst).exists()]
    if taken:
        raise FileExistsError(
            f"{sb_root}: {len(taken)} file(s) already exist, nothing written "
            f"(already placed?): {', '.join(taken[:5])}"
        )
    written = [dst for _, dst in copies]
    written += [f"tests/recipes/{name}" for name in rows]
    if dry_run:
        return written
    for src, dst in copies:
        (sb_root / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, sb_root / dst)
    for name, csv_rows in rows.items():
        _append_rows(sb_root / "tests/recipes" / name, csv_rows)
    return written


def main(argv=None):
    """Command line: ``place_in_speechbrain.py SB_ROOT [--dry-run]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sb_root", type=Path, help="a SpeechBrain checkout")
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be written"
    )
    args = parser.parse_args(argv)
    try:
        written = place(args.sb_root, dry_run=args.dry_run)
    except (FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    verb = "would write" if args.dry_run else "wrote"
    csvs = [p for p in written if p.startswith("tests/recipes/")]
    print(
        f"{verb} {len(written) - len(csvs)} files into {args.sb_root} "
        f"and appended rows to {', '.join(csvs)}"
    )
    for ours, theirs, their_csv in RECIPE_PLACES:
        print(f"  {ours:24s} -> {theirs}  (rows in tests/recipes/{their_csv})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
