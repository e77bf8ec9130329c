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
``recipes/<Dataset>/hparams`` has a row, the row's files exist, and no
top-level YAML key is unused, by SpeechBrain's own rule (its
``check_yaml_vs_script``, re-implemented here line for line) and, for the
``!apply`` keys it skips, by ours.
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


# SpeechBrain's YAML/script consistency check (tests/consistency/test_yaml.py
# through tests/utils/check_yaml.py:check_yaml_vs_script, SpeechBrain 1.1),
# re-implemented line for line, quirks included: CI has no SpeechBrain
# checkout to import it from, and a key it would call unused fails its PR CI.


def speechbrain_yaml_vars(yaml_text):
    """The top-level YAML keys SpeechBrain's check wants the script to use.

    ``check_yaml.get_yaml_var``: every unindented ``key:`` line, except lines
    with ``!!`` or ``!apply`` and Pretrainer lines; a key is dropped when a
    later ``!ref`` line (comments on it included) names it as ``<key>`` or
    ``<key[...]>``, so a reference above the key's definition does not count.
    """
    var_lst = []
    for line in yaml_text.splitlines(keepends=True):
        if (
            len(line) <= 1
            or line.startswith("#")
            or "speechbrain.utils.parameter_transfer.Pretrainer" in line
        ):
            continue
        line = line.rstrip()
        if line.find(":") != -1 or line.find("!ref") != -1:
            var_name = line[: line.find(":")]
            if not (
                var_name[0] == " "
                or var_name[0] == "\t"
                or "!!" in line
                or "!apply" in line
            ):
                var_lst.append(var_name)
            if line.find("!ref") != -1:
                for subline in line.split("<"):
                    sub_var = subline[: subline.find(">")]
                    dict_pos = sub_var.find("[")
                    if dict_pos != -1:
                        sub_var = sub_var[:dict_pos]
                    if sub_var in var_lst:
                        var_lst.remove(sub_var)
    return var_lst


def speechbrain_script_vars(script_text, var_lst):
    """The keys of ``var_lst`` SpeechBrain's check sees the script use.

    ``check_yaml.detect_script_vars``, line by line: ``["key"]``,
    ``hparams.key``, ``modules.key``, ``attr(self.hparams, "key``,
    ``hparams.get("key``, and its patterns for f-string and ``{}`` keys.
    A key read any other way (``value("key")``, ``settings.get("key")``)
    is not seen.
    """
    var_types = [
        "hparams.",
        "modules.",
        'attr(self.hparams, "',
        'hparams.get("',
    ]
    detected_var = []
    for line in script_text.splitlines(keepends=True):
        for var in var_lst:
            if '["' + var + '"]' in line:
                if var not in detected_var:
                    detected_var.append(var)
                    continue
            re_match = re.search(r"\[f.\{.*\}(.*).\]", line)
            if re_match is None:
                re_match = re.search(r"self\.hparams, f\"\{.*\}(.*)\"", line)
            if re_match is not None:
                if re_match.group(1) in var:
                    if var not in detected_var:
                        detected_var.append(var)
                        continue
            re_match = re.search(r"\[f.(.*)\{.*\}.\]", line)
            if re_match is not None:
                if re_match.group(1) in var:
                    if var not in detected_var:
                        detected_var.append(var)
                        continue
            for var_type in var_types:
                if var_type + var in line:
                    if var not in detected_var:
                        detected_var.append(var)
                        continue
            re_var = re.search(r"\[.(.*){}(.*).\]", line)
            if re_var is not None:
                re_var_pattern = re_var.group(1) + ".*" + re_var.group(2)
                re_pattern = re.search(re_var_pattern, var)
                if re_pattern is not None:
                    if re_pattern.group() == var:
                        detected_var.append(var)
                        continue
    return detected_var


def speechbrain_unused_keys(yaml_text, script_text):
    """The keys ``check_yaml_vs_script`` reports as "not used" (it then fails).

    Arguments
    ---------
    yaml_text : str
        The hparams file.
    script_text : str
        The training script.

    Returns
    -------
    list of str
        Sorted keys; SpeechBrain's run options (read by ``Brain``) never count.

    Example
    -------
    >>> speechbrain_unused_keys("a: 1\\nb: 2\\n", 'x = hparams["a"]\\n')
    ['b']
    """
    var_lst = speechbrain_yaml_vars(yaml_text)
    detected = speechbrain_script_vars(script_text, var_lst)
    run_option_keys = set(RunOptions().as_dict()) | {"rescoring_lm_scale"}
    return sorted(set(var_lst) - set(detected) - run_option_keys)


def unused_keys(yaml_text, script_text):
    """SpeechBrain's unused keys, and the top-level keys it skips that nothing uses.

    SpeechBrain does not check ``!apply`` and ``!!`` lines; here they too
    must be referenced by a later ``!ref`` line or read by the script.

    Arguments
    ---------
    yaml_text : str
        The hparams file.
    script_text : str
        The training script.

    Returns
    -------
    list of str
        Sorted keys.

    Example
    -------
    >>> unused_keys("n: 1\\nextra: !apply:f [1]\\n", 'hparams["n"]')
    ['extra']
    """
    unused = set(speechbrain_unused_keys(yaml_text, script_text))
    checked = set(speechbrain_yaml_vars(yaml_text)) | RUN_OPTION_KEYS
    keys = re.findall(r"^([A-Za-z_][A-Za-z0-9_]*):", yaml_text, flags=re.MULTILINE)
    for key in keys:
        if key in checked:
            continue
        definition = re.search(rf"^{key}:", yaml_text, flags=re.MULTILINE)
        below = yaml_text[definition.start() :].splitlines()[1:]
        referenced = any(
            "!ref" in line and re.search(rf"<{key}[\[>]", line)
            for line in below
            if not line.startswith("#")
        )
        if not (referenced or speechbrain_script_vars(script_text, [key])):
            unused.add(key)
    return sorted(unused)


@pytest.mark.parametrize(
    "row", [row for _, row in ROWS], ids=[name for name, _ in ROWS]
)
def test_every_yaml_key_is_used(row):
    """No dead hyperparameter, by SpeechBrain's rule and, beyond it, ours."""
    yaml_text = (REPO / row["Hparam_file"]).read_text()
    script = (REPO / row["Script_file"]).read_text()
    unused = speechbrain_unused_keys(yaml_text, script)
    assert not unused, (
        f"{row['Hparam_file']}: SpeechBrain's tests/consistency/test_yaml.py "
        f"sees these keys unused in {row['Script_file']}: {unused} (read them "
        'as hparams["key"] or hparams.key, or reference them in the YAML)'
    )
    unused = unused_keys(yaml_text, script)
    assert not unused, f"{row['Hparam_file']}: keys used nowhere: {unused}"


@pytest.mark.parametrize(
    "yaml_text, script, unused",
    [
        # Read through a helper: SpeechBrain's check does not see it.
        ("steps: 3\n", 'value("steps")\n', ["steps"]),
        ("steps: 3\n", 'settings.get("steps")\n', ["steps"]),
        # The forms it accepts.
        ("steps: 3\n", 'n = hparams["steps"]\n', []),
        ("steps: 3\n", "n = self.hparams.steps\n", []),
        ("steps: 3\n", 'n = hparams.get("steps", 1)\n', []),
        ("steps: 3\n", 'n = getattr(self.hparams, "steps")\n', []),
        ("steps: 3\n", 'n = settings["steps"]\n', []),
        # A reference on a later !ref line counts, in a comment or not ...
        ("a: 1\nb: !ref <a> * 2\n", 'hparams["b"]\n', []),
        ("a: 1\nb: !ref 2  # <a>\n", 'hparams["b"]\n', []),
        ("m: {x: 1}\nb: !ref <m[x]>\n", 'hparams["b"]\n', []),
        # ... one above the definition, or on a comment line, does not.
        ("b: !ref <a>\na: 1\n", 'hparams["b"]\n', ["a"]),
        ("a: 1\n# b: !ref <a>\n", "", ["a"]),
        # !apply lines and SpeechBrain's run options are not checked.
        ("__set_seed: !apply:f [1]\nmax_grad_norm: 5.0\n", "", []),
    ],
)
def test_speechbrain_yaml_check_port(yaml_text, script, unused):
    assert speechbrain_unused_keys(yaml_text, script) == unused


def test_our_rule_also_checks_the_keys_speechbrain_skips():
    yaml_text = "n: 1\nextra: !apply:f [1]\nused: !apply:f [2]\n"
    script = 'hparams["n"], hparams["used"]\n'
    assert speechbrain_unused_keys(yaml_text, script) == []
    assert unused_keys(yaml_text, script) == ["extra"]
    assert unused_keys(yaml_text + "m: !ref <extra>\n", script + 'hparams["m"]') == []
    # SpeechBrain's own findings stay in.
    assert unused_keys("a: 1\n", "") == ["a"]
