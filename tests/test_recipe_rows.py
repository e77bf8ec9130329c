"""SpeechBrain's recipe tests: every row of ``tests/recipes/<Dataset>.csv`` runs.

The CSV files follow SpeechBrain's schema (``Task,Dataset,Script_file,
Hparam_file,Data_prep_file,Readme_file,Result_url,HF_repo,test_debug_flags,
test_debug_checks,performance``), so the recipes can be proposed upstream
with their rows. Like SpeechBrain's ``tests/utils/recipe_tests.py``, each row
runs ``python <Script_file> <Hparam_file> <test_debug_flags> --debug
--debug_persistently --device cpu --output_folder <tmp>`` from the repository
root, and its ``test_debug_checks`` are verified: ``file_exists=[...]``
(paths in the output folder) and ``performance_check=[file, key, <op><value>,
epoch: N]`` (a value of a train_log.txt line).

Also checked, as SpeechBrain's consistency tests do: every YAML under
``recipes/<Dataset>/hparams`` has a row, the row's files exist, and every
top-level YAML key is used by the script or referenced in the YAML.
"""

import csv
import dataclasses
import operator
import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest
from speechbrain.utils.run_opts import RunOptions

REPO = pathlib.Path(__file__).resolve().parent.parent
HEADER = [
    "Task", "Dataset", "Script_file", "Hparam_file", "Data_prep_file",
    "Readme_file", "Result_url", "HF_repo", "test_debug_flags",
    "test_debug_checks", "performance",
]  # fmt: skip
# Run options and keys read through a reference or by SpeechBrain itself.
# SpeechBrain's check leaves out its run options (they are read by Brain).
RUN_OPTION_KEYS = {field.name for field in dataclasses.fields(RunOptions)} | {
    "__set_seed"
}


def recipe_rows():
    """(row id, row) for every row of every tests/recipes CSV."""
    rows = []
    for path in sorted((REPO / "tests" / "recipes").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            assert reader.fieldnames == HEADER, (
                f"{path.name}: header differs from SpeechBrain's"
            )
            for index, row in enumerate(reader, start=1):
                rows.append((f"{path.stem}_row_{index:02d}", row))
    return rows


ROWS = recipe_rows()


def parse_checks(text):
    """``file_exists=[a,b],performance_check=[f, key, <3, epoch: 2]`` -> dict of lists."""
    checks = {}
    for name, body in re.findall(r"(\w+)=\[([^\]]*)\]", text):
        checks[name] = [item.strip() for item in body.split(",") if item.strip()]
    return checks


def check_performance(output, spec):
    """Check ``[file, key, <op><value>, epoch: N]`` against a train_log line."""
    filename, key, condition, epoch = spec
    ops = {
        "<=": operator.le,
        ">=": operator.ge,
        "<": operator.lt,
        ">": operator.gt,
        "==": operator.eq,
    }
    symbol = next(
        s for s in sorted(ops, key=len, reverse=True) if condition.startswith(s)
    )
    epoch_number = epoch.split(":")[1].strip()
    for line in (output / filename).read_text().splitlines():
        if line.startswith(f"epoch: {epoch_number},"):
            match = re.search(re.escape(key) + r": ([-0-9.e+]+)", line)
            assert match, f"{key} not in {line}"
            value = float(match.group(1))
            assert ops[symbol](value, float(condition[len(symbol) :])), (
                key,
                value,
                condition,
            )
            return
    raise AssertionError(f"no line for epoch {epoch_number} in {filename}")


@pytest.mark.parametrize(
    "row", [row for _, row in ROWS], ids=[name for name, _ in ROWS]
)
def test_recipe_row_runs_in_debug_mode(row, tmp_path):
    output = tmp_path / "output"
    command = [
        sys.executable, row["Script_file"], row["Hparam_file"],
        *shlex.split(row["test_debug_flags"]),
        "--debug", "--debug_persistently", "--device", "cpu",
        "--output_folder", str(output),
    ]  # fmt: skip
    script_folder = str(REPO / os.path.dirname(row["Script_file"]))
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [script_folder, env.get("PYTHONPATH")])
    )
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    checks = parse_checks(row["test_debug_checks"])
    missing = [
        name for name in checks.get("file_exists", []) if not (output / name).exists()
    ]
    assert not missing, f"not written: {missing}"
    if "performance_check" in checks:
        check_performance(output, checks["performance_check"])


def test_every_yaml_has_a_row_and_the_files_exist():
    listed = {row["Hparam_file"] for _, row in ROWS}
    for yaml_path in sorted((REPO / "recipes").glob("*/hparams/*.yaml")):
        assert str(yaml_path.relative_to(REPO)) in listed, (
            f"{yaml_path} has no tests/recipes row"
        )
    for name, row in ROWS:
        assert row["Dataset"] == name.rsplit("_row_", 1)[0]
        for column in ("Script_file", "Hparam_file", "Readme_file"):
            assert (REPO / row[column]).is_file(), (name, column)
        if row["Data_prep_file"]:
            assert (REPO / row["Data_prep_file"]).is_file(), (name, "Data_prep_file")
        recipe = REPO / os.path.dirname(row["Script_file"])
        assert (recipe / "extra_requirements.txt").is_file(), (
            f"{recipe}: extra_requirements.txt"
        )


@pytest.mark.parametrize(
    "row", [row for _, row in ROWS], ids=[name for name, _ in ROWS]
)
def test_every_yaml_key_is_used(row):
    """SpeechBrain's YAML/script consistency rule, exactly: no dead hyperparameter."""
    yaml_text = (REPO / row["Hparam_file"]).read_text()
    script = (REPO / row["Script_file"]).read_text()
    keys = re.findall(r"^([A-Za-z_][A-Za-z0-9_]*):", yaml_text, flags=re.MULTILINE)
    unused = []
    for key in keys:
        if key in RUN_OPTION_KEYS:
            continue
        referenced = f"<{key}>" in yaml_text
        # The forms SpeechBrain's tests/utils/check_yaml.py accepts, and no other.
        used = any(
            form in script
            for form in (
                f'["{key}"]',
                f"hparams.{key}",
                f"modules.{key}",
                f'attr(self.hparams, "{key}',
                f'hparams.get("{key}',
            )
        )
        if not (referenced or used):
            unused.append(key)
    assert not unused, f"{row['Hparam_file']}: keys used nowhere: {unused}"
