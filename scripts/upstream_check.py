#!/usr/bin/env python3
"""Run SpeechBrain's own recipe checks on this repository's recipes.

Given a SpeechBrain checkout (its public repository; this is not run in CI,
which has no network), it runs, with SpeechBrain's code and configuration:

* ``rows``: every row of our ``tests/recipes/*.csv`` through SpeechBrain's
  runner, ``tests.utils.recipe_tests.run_recipe_tests(do_checks=True)``;
* ``consistency``: the checks of its ``tests/consistency`` that look at
  recipes (``test_recipe_list``, ``test_recipe_files``,
  ``test_mandatory_files``, ``test_README_links``, and
  ``test_yaml_script_consistency``, the YAML-vs-script matcher), run on our
  ``tests/recipes``; in the placed tree also ``pytest tests/consistency``,
  its PR CI step, on the whole tree;
* ``load_yaml``: its pre-release ``load_yaml_test`` (every YAML instantiated
  with only the row's overrides, no ``train.py``);
* ``lint``: its pre-commit linters with its configuration: ruff and ruff format
  (its ``pyproject.toml``), yamllint (its ``.yamllint.yaml``), codespell (its
  ``.dict-speechbrain.txt`` and arguments), and the pre-commit-hooks checks
  it uses (trailing whitespace, final newline, mixed line endings, files over
  1024 KB). The tools are taken from ``--tools`` (a ``bin`` folder), else the
  PATH; ``make upstream-check`` installs SpeechBrain's ``lint-requirements.txt``
  into ``.venv-sblint`` for this.

With ``--placed`` the same checks run in a copy of the checkout after
``scripts/place_in_speechbrain.py`` has written our recipes into it, plus
SpeechBrain's own ESC-50 classification and Speech Commands rows; a row of
theirs that fails there is run again in an untouched copy, so that a failure
of their own (a download on an offline machine) is told apart from one the
placement caused.

Usage::

    python scripts/upstream_check.py --sb PATH/TO/speechbrain [--placed]
        [--checks rows,consistency,load_yaml,lint] [--work DIR] [--json OUT]

Exit code 0 when every check passes.

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
from place_in_speechbrain import place, placement_plan  # noqa: E402

CHECKS = ("rows", "consistency", "load_yaml", "lint")
CONSISTENCY_TESTS = (
    ("tests.consistency.test_recipe", "test_recipe_list"),
    ("tests.consistency.test_recipe", "test_recipe_files"),
    ("tests.consistency.test_recipe", "test_mandatory_files"),
    ("tests.consistency.test_recipe", "test_README_links"),
    ("tests.consistency.test_yaml", "test_yaml_script_consistency"),
)
# SpeechBrain's own rows kept passing after placement: the recipes ours sit beside.
THEIR_ROWS = (
    ("ESC50.csv", "recipes/ESC50/classification/"),
    ("Google-speech-commands.csv", "recipes/Google-speech-commands/"),
)
LARGE_FILE_KB = 1024  # pre-commit's check-added-large-files --maxkb

# Runs inside the tree checked (cwd), with SpeechBrain's ``tests`` package first
# on sys.path (this repository has a ``tests`` package of its own).
DRIVER = r"""
import contextlib, importlib, io, json, os, sys
sb_root, task = sys.argv[1], json.loads(sys.argv[2])
sys.path.insert(0, sb_root)
for name in [m for m in sys.modules if m == "tests" or m.startswith("tests.")]:
    del sys.modules[name]
out = {}
if task["kind"] == "consistency":
    for module, function in task["tests"]:
        log = io.StringIO()
        try:
            with contextlib.redirect_stdout(log):
                getattr(importlib.import_module(module), function)()
            ok = True
        except AssertionError:
            ok = False
        out[function] = {"ok": ok, "log": log.getvalue()[-4000:]}
else:
    from tests.utils import recipe_tests
    here = os.getcwd()
    for hparam in task["hparams"]:
        os.chdir(here)  # load_yaml_test leaves the working folder in the recipe
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            if task["kind"] == "rows":
                ok = recipe_tests.run_recipe_tests(
                    filters_fields=["Hparam_file"], filters=[[hparam]],
                    do_checks=True, output_folder=task["output"], run_opts="--device=cpu",
                )
            else:
                ok = recipe_tests.load_yaml_test(
                    filters_fields=["Hparam_file"], filters=[[hparam]],
                    data_folder=task["output"] + "/yaml_data",
                    output_folder=task["output"] + "/yaml_out",
                    rir_folder=task["output"] + "/rir",
                )
        out[hparam] = {"ok": bool(ok), "log": log.getvalue()[-4000:]}
print("@@RESULT@@" + json.dumps(out))
"""


def run_driver(sb_root, tree, task, timeout=3600):
    """Run SpeechBrain's test code in ``tree`` and return its verdicts.

    Arguments
    ---------
    sb_root : Path
        The SpeechBrain checkout whose ``tests`` package is used.
    tree : Path
        The tree checked (the working directory of SpeechBrain's functions).
    task : dict
        ``kind`` (rows, load_yaml or consistency) and its arguments.
    timeout : float
        Seconds before giving up.

    Returns
    -------
    dict
        Name -> {"ok": bool, "log": str}; a crash of the driver is one entry
        ``driver`` that failed.
    """
    env = dict(os.environ)
    # SpeechBrain's runner starts ``python`` from the PATH: ours, with our package.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(sb_root), json.dumps(task)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("@@RESULT@@"):
            return json.loads(line[len("@@RESULT@@") :])
    return {"driver": {"ok": False, "log": (proc.stdout + proc.stderr)[-4000:]}}


def our_hparams(placed):
    """The Hparam_file of each of our rows, as the tree checked names it."""
    _, rows = placement_plan(REPO)
    if placed:
        hparams = [row["Hparam_file"] for rows_ in rows.values() for row in rows_]
        return list(dict.fromkeys(hparams))
    hparams = []
    for csv_file in sorted((REPO / "tests/recipes").glob("*.csv")):
        with open(csv_file, newline="") as f:
            hparams += [r["Hparam_file"] for r in csv.DictReader(f)]
    # Rows sharing a YAML run together (SpeechBrain's filter is by YAML).
    return list(dict.fromkeys(hparams))


def their_hparams(sb_root):
    """SpeechBrain's own ESC-50 classification and Speech Commands rows.

    Returns
    -------
    dict
        Hparam_file -> the runner's id of the row (its output folder name).
    """
    hparams = {}
    for name, prefix in THEIR_ROWS:
        with open(sb_root / "tests/recipes" / name, newline="") as f:
            for index, row in enumerate(csv.DictReader(f, skipinitialspace=True)):
                if (
                    row["Script_file"].startswith(prefix)
                    and "/AST/" not in row["Script_file"]
                ):
                    # The runner's row id: CSV name and line number.
                    hparams[row["Hparam_file"]] = f"{name[:-4]}_row_{index + 2:02d}"
    return hparams


def last_error(folder):
    """The last line of a row's stderr.txt (why it failed), or ''."""
    path = Path(folder) / "stderr.txt"
    if not path.exists():
        return ""
    lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
    return lines[-1].strip()[:200] if lines else ""


def _tool(tools, name):
    """The path of a linter, from ``tools`` first, else the PATH."""
    if tools and (Path(tools) / name).exists():
        return str(Path(tools) / name)
    return shutil.which(name)


def _version(tool):
    proc = subprocess.run([tool, "--version"], capture_output=True, text=True)
    return (proc.stdout or proc.stderr).strip().splitlines()[0]


def basic_hooks(files):
    """pre-commit-hooks' checks SpeechBrain uses, on text files.

    Arguments
    ---------
    files : list of Path
        The files to check.

    Returns
    -------
    list of str
        One line per problem found.
    """
    problems = []
    for path in files:
        if path.stat().st_size > LARGE_FILE_KB * 1024:
            problems.append(f"{path}: larger than {LARGE_FILE_KB} KB")
        if path.suffix not in {".py", ".yaml", ".md", ".txt", ".csv"}:
            continue
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        for number, line in enumerate(text.split("\n"), 1):
            if line.rstrip("\r") != line.rstrip("\r").rstrip():
                problems.append(f"{path}:{number}: trailing whitespace")
        if path.suffix == ".py" and data and not data.endswith(b"\n"):
            problems.append(f"{path}: no newline at end of file")
        if (
            path.suffix == ".py"
            and b"\r\n" in data
            and b"\n" in data.replace(b"\r\n", b"")
        ):
            problems.append(f"{path}: mixed line endings")
    return problems


def lint(sb_root, tree, paths, tools):
    """SpeechBrain's pre-commit linters on ``paths`` (relative to ``tree``).

    Arguments
    ---------
    sb_root : Path
        The SpeechBrain checkout (its configuration files).
    tree : Path
        The tree in which ``paths`` are.
    paths : list of str
        The files to lint.
    tools : str or None
        A folder with ruff, yamllint and codespell.

    Returns
    -------
    dict
        Linter -> {"ok": bool, "log": str}.
    """
    py = [p for p in paths if p.endswith(".py")]
    yamls = [p for p in paths if p.endswith(".yaml")]
    commands = {
        "ruff check": ["ruff", "check", "--config", str(sb_root / "pyproject.toml")]
        + py,
        "ruff format": [
            "ruff",
            "format",
            "--check",
            "--config",
            str(sb_root / "pyproject.toml"),
        ]
        + py,
        "yamllint": ["yamllint", "-c", str(sb_root / ".yamllint.yaml")] + yamls,
        "codespell": [
            "codespell",
            f"--ignore-words={sb_root / '.dict-speechbrain.txt'}",
            "--skip=*.ipynb",
            "--ignore-regex='base64,.*?=='",
        ]
        + [p for p in paths if not p.endswith(".csv")],
    }
    results = {}
    for name, command in commands.items():
        tool = _tool(tools, command[0])
        if tool is None:
            results[name] = {
                "ok": False,
                "log": f"{command[0]} not found: pip install -r "
                f"{sb_root / 'lint-requirements.txt'} (or give --tools)",
            }
            continue
        proc = subprocess.run(
            [tool] + command[1:], cwd=tree, capture_output=True, text=True
        )
        results[name] = {
            "ok": proc.returncode == 0,
            "version": _version(tool),
            "log": (proc.stdout + proc.stderr)[-4000:],
        }
    problems = basic_hooks([tree / p for p in paths])
    results["pre-commit-hooks"] = {"ok": not problems, "log": "\n".join(problems)}
    return results


def lint_paths(placed):
    """Our recipe files to lint, as the tree checked names them."""
    copies, _ = placement_plan(REPO)
    if placed:
        return [dst for _, dst in copies if dst.startswith("recipes/")]
    return [
        src.relative_to(REPO).as_posix()
        for src, dst in copies
        if dst.startswith("recipes/")
    ]


def copy_tree(src, dst):
    """A copy of a checkout without its git folder and caches."""
    shutil.copytree(
        src,
        dst,
        ignore=shutil.ignore_patterns(".git", "__pycache__", "tests/tmp", "*.pyc"),
        symlinks=True,
    )
    return dst


def run_checks(sb_root, work, checks, placed, tools):
    """Run the checks; return {check: {name: verdict}}."""
    report = {}
    if placed:
        tree = copy_tree(sb_root, work / "speechbrain-placed")
        place(tree)
    else:
        tree = REPO
    # In this repository, linting runs on a copy of recipes/ alone: there our
    # package is not first-party, as in SpeechBrain's tree.
    lint_tree = tree
    if not placed and "lint" in checks:
        lint_tree = work / "lint-copy"
        shutil.copytree(
            REPO / "recipes",
            lint_tree / "recipes",
            ignore=shutil.ignore_patterns("__pycache__", "ruff.toml"),
        )
    hparams = our_hparams(placed)
    output = str(work / "outputs")
    for check in checks:
        start = time.time()
        print(f"== {check} ({'placed' if placed else 'this repository'})", flush=True)
        if check == "lint":
            result = lint(sb_root, lint_tree, lint_paths(placed), tools)
        elif check == "consistency":
            result = run_driver(
                sb_root if not placed else tree,
                tree,
                {"kind": "consistency", "tests": CONSISTENCY_TESTS},
            )
            if placed:
                # SpeechBrain's PR CI step itself, on the whole placed tree.
                proc = subprocess.run(
                    [sys.executable, "-m", "pytest", "tests/consistency", "-q"],
                    cwd=tree,
                    capture_output=True,
                    text=True,
                )
                result["pytest tests/consistency"] = {
                    "ok": proc.returncode == 0,
                    "log": (proc.stdout + proc.stderr)[-4000:],
                }
        else:
            result = run_driver(
                sb_root if not placed else tree,
                tree,
                {"kind": check, "hparams": hparams, "output": output + "/" + check},
            )
        if placed and check == "rows":
            theirs = their_hparams(tree)
            result_theirs = run_driver(
                tree,
                tree,
                {"kind": "rows", "hparams": list(theirs), "output": output + "/theirs"},
            )
            failed = [h for h, v in result_theirs.items() if not v["ok"]]
            untouched = {}
            if failed:
                pristine = copy_tree(sb_root, work / "speechbrain-untouched")
                untouched = run_driver(
                    pristine,
                    pristine,
                    {
                        "kind": "rows",
                        "hparams": failed,
                        "output": output + "/untouched",
                    },
                )
            for hparam, verdict in result_theirs.items():
                before = untouched.get(hparam, verdict)
                # Theirs pass after placement if they pass, or fail untouched too.
                verdict["untouched_ok"] = before["ok"]
                verdict["ok_after_placement"] = verdict["ok"] or not before["ok"]
                result["theirs: " + hparam] = {
                    "ok": verdict["ok_after_placement"],
                    "log": verdict["log"],
                    "note": "passes"
                    if verdict["ok"]
                    else "fails in an untouched SpeechBrain tree too: "
                    + last_error(f"{output}/untouched/{theirs[hparam]}"),
                }
        report[check] = result
        passed = sum(v["ok"] for v in result.values())
        print(
            f"   {passed}/{len(result)} passed ({time.time() - start:.0f} s)",
            flush=True,
        )
        for name, verdict in result.items():
            if not verdict["ok"] or verdict.get("note", "passes") != "passes":
                mark = "ok  " if verdict["ok"] else "FAIL"
                print(f"   {mark} {name} {verdict.get('note', '')}")
                if not verdict["ok"]:
                    print("      " + verdict["log"][-1500:].replace("\n", "\n      "))
    return report


def sb_commit(sb_root):
    """The commit of the SpeechBrain checkout, if it is a git checkout."""
    proc = subprocess.run(
        ["git", "-C", str(sb_root), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip() or "unknown (not a git checkout)"


def main(argv=None):
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sb", type=Path, required=True, help="SpeechBrain checkout")
    parser.add_argument(
        "--placed",
        action="store_true",
        help="check a copy of the checkout after place_in_speechbrain.py",
    )
    parser.add_argument(
        "--checks",
        default=",".join(CHECKS),
        help=f"comma-separated, of {', '.join(CHECKS)} (default: all)",
    )
    parser.add_argument("--tools", help="folder with SpeechBrain's linters")
    parser.add_argument("--work", type=Path, help="scratch folder (default: temporary)")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)
    sb_root = args.sb.resolve()
    if not (sb_root / "tests/utils/recipe_tests.py").exists():
        print(
            f"error: {sb_root}: not a SpeechBrain checkout "
            "(no tests/utils/recipe_tests.py)",
            file=sys.stderr,
        )
        return 2
    checks = [c.strip() for c in args.checks.split(",") if c.strip()]
    unknown = sorted(set(checks) - set(CHECKS))
    if unknown:
        print(
            f"error: unknown check(s) {unknown}; choose from {CHECKS}", file=sys.stderr
        )
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="upstream-check-"))
    work = work.resolve()
    # What an earlier run left in the scratch folder.
    for name in ("speechbrain-placed", "speechbrain-untouched", "lint-copy", "outputs"):
        if (work / name).exists():
            shutil.rmtree(work / name)
    work.mkdir(parents=True, exist_ok=True)
    commit = sb_commit(sb_root)
    print(f"SpeechBrain checkout {sb_root} at {commit}; scratch {work}")
    # The linters run from other folders: a relative --tools must not move.
    tools = str(Path(args.tools).resolve()) if args.tools else None
    report = run_checks(sb_root, work, checks, args.placed, tools)
    ok = all(v["ok"] for result in report.values() for v in result.values())
    summary = {
        "speechbrain_commit": commit,
        "placed": args.placed,
        "ok": ok,
        "checks": {
            check: {
                "passed": sum(v["ok"] for v in result.values()),
                "total": len(result),
                "results": result,
            }
            for check, result in report.items()
        },
    }
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    print("upstream check:", "PASSED" if ok else "FAILED")
    for check, result in summary["checks"].items():
        print(f"  {check:12s} {result['passed']}/{result['total']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
