"""The paper YAMLs train as the official runs do (docs/fidelity.md), and run options are safe.

* docs/fidelity.md's table: every "ours" cell of a row with a YAML key is what
  that YAML says.
* Paper YAMLs never clip the gradient (``max_grad_norm: .inf``) and run in the
  official fp16 on CUDA (``cuda_precision``); the small-data YAMLs clip on
  purpose and say so.
* ``--max_grad_norm -1`` is refused before training (speechbrain 1.1.2 would
  flip the gradient's sign), and ``--optimizer_step_limit 2`` works from the
  command line (speechbrain 1.1.2 passes it on as a string).
"""

import math
import os
import re
import subprocess
import sys

import pytest
import speechbrain as sb
import torch

from speechbrain_ast.training.run_options import checked_run_options
from speechbrain_ast.training.settings import plain_settings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = os.path.join(REPO, "docs", "fidelity.md")
COLUMNS = {
    "ESC-50": "recipes/ESC50/hparams/ast.yaml",
    "Speech Commands": "recipes/SpeechCommands/hparams/ast.yaml",
    "AudioSet bal.": "recipes/AudioSet/hparams/ast.yaml",
    "AudioSet full": "recipes/AudioSet/hparams/ast_full.yaml",
}
PAPER_YAMLS = [
    *COLUMNS.values(),
    "recipes/ESC50/hparams/ast_audioset_init.yaml",
    "recipes/CustomData/hparams/ast.yaml",
]
SMALL_YAMLS = [
    "recipes/ESC50/hparams/ast_small_scratch.yaml",
    "recipes/SpeechCommands/hparams/ast_small_scratch.yaml",
    "recipes/CustomData/hparams/ast_small_scratch.yaml",
]


def table_rows():
    """(key, {column: cell}) for the rows of docs/fidelity.md with a YAML key."""
    with open(TABLE, encoding="utf-8") as handle:
        lines = [line for line in handle if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip().strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        row = dict(zip(header, cells))
        key = row["YAML key"].strip("`")
        if key:
            rows.append((key, {column: row[column] for column in COLUMNS}))
    return rows


def yaml_value(path, key):
    """The YAML's value of ``key`` as a string ("" when the YAML has no such key)."""
    text = open(os.path.join(REPO, path), encoding="utf-8").read()
    if key == "compute_cost":  # a !name: tag: the function's name
        match = re.search(r"^compute_cost: !name:[\w.]*\.(\w+)", text, re.MULTILINE)
        return match.group(1) if match else ""
    if key == "betas":  # inside opt_class
        match = re.search(r"^\s+betas: (\[[^\]]*\])", text, re.MULTILINE)
        return match.group(1) if match else ""
    settings = plain_settings(os.path.join(REPO, path), {"data_folder": "unused"})
    if key not in settings:
        return ""
    return settings[key]


def same(cell, value):
    """A table cell and a YAML value agree (numbers compared as numbers)."""
    if cell == "" or value == "":
        return cell == "" and value == ""
    if isinstance(value, bool) or cell in ("True", "False"):
        return str(value) == cell
    if isinstance(value, (int, float)):
        expected = math.inf if cell == ".inf" else float(cell)
        return float(value) == pytest.approx(expected)
    return str(value) == cell


@pytest.mark.parametrize("key,cells", table_rows(), ids=[key for key, _ in table_rows()])
def test_fidelity_table_says_what_the_yamls_say(key, cells):
    for column, path in COLUMNS.items():
        value = yaml_value(path, key)
        assert same(cells[column], value), f"{path}: {key} is {value!r}, the table says {cells[column]!r}"


def test_the_table_has_the_settings_the_issue_names():
    keys = {key for key, _ in table_rows()}
    assert {"lr", "warmup_steps", "mixup_prob", "freqm", "timem", "noise_scale",
            "norm_mean", "compute_cost", "betas", "weight_averaging",
            "balanced_sampling", "cuda_precision", "max_grad_norm", "init"} <= keys


@pytest.mark.parametrize("path", PAPER_YAMLS)
def test_paper_yamls_do_not_clip_and_use_the_official_cuda_precision(path):
    overrides = {"data_folder": "unused", "init_source": "unused"}
    settings = plain_settings(os.path.join(REPO, path), overrides)
    assert settings["max_grad_norm"] == math.inf
    assert settings["cuda_precision"] == "fp16"


@pytest.mark.parametrize("path", SMALL_YAMLS)
def test_small_data_yamls_clip_on_purpose_and_say_so(path):
    text = open(os.path.join(REPO, path), encoding="utf-8").read()
    line = re.search(r"^max_grad_norm: .*$", text, re.MULTILINE).group(0)
    assert line.startswith("max_grad_norm: 5.0") and "on purpose" in line


def test_inf_max_grad_norm_leaves_gradients_as_they_are():
    weight = torch.nn.Parameter(torch.zeros(3))
    weight.grad = torch.tensor([300.0, 400.0, 0.0])
    torch.nn.utils.clip_grad_norm_([weight], math.inf)
    assert torch.equal(weight.grad, torch.tensor([300.0, 400.0, 0.0]))


def test_negative_max_grad_norm_is_refused_from_the_command_line_and_the_yaml():
    _, run_opts, _ = sb.parse_arguments(["x.yaml", "--max_grad_norm", "-1"])
    with pytest.raises(ValueError, match="flips the gradient's sign"):
        checked_run_options(run_opts, {})
    _, run_opts, _ = sb.parse_arguments(["x.yaml"])
    with pytest.raises(ValueError, match=r"max_grad_norm=-2.0 \(YAML\)"):
        checked_run_options(run_opts, {"max_grad_norm": -2.0})


def test_integer_run_options_are_cast_and_bad_ones_named():
    _, run_opts, _ = sb.parse_arguments(
        ["x.yaml", "--optimizer_step_limit", "200", "--ckpt_interval_steps", "3"]
    )
    checked = checked_run_options(run_opts, {})
    assert checked.optimizer_step_limit == 200 and checked.ckpt_interval_steps == 3
    _, run_opts, _ = sb.parse_arguments(["x.yaml", "--optimizer_step_limit", "lots"])
    with pytest.raises(ValueError, match="--optimizer_step_limit: expected an integer"):
        checked_run_options(run_opts, {})


def test_cuda_precision_applies_on_cuda_only_and_precision_wins(monkeypatch):
    _, run_opts, _ = sb.parse_arguments(["x.yaml"])
    assert checked_run_options(run_opts, {}, "fp16").precision == "fp32"  # CPU here
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert checked_run_options(run_opts, {}, "fp16").precision == "fp16"
    assert checked_run_options(run_opts, {"device": "cpu"}, "fp16").precision == "fp32"
    assert checked_run_options(run_opts, {"precision": "bf16"}, "fp16").precision == "fp32"
    _, given, _ = sb.parse_arguments(["x.yaml", "--precision", "bf16"])
    assert checked_run_options(given, {}, "fp16").precision == "bf16"


def recipe(samples, output, *extra):
    return [
        sys.executable,
        os.path.join(REPO, "recipes", "SpeechCommands", "train.py"),
        os.path.join(REPO, "recipes", "SpeechCommands", "hparams", "ast.yaml"),
        "--data_folder", str(samples / "speech_commands_v0.02"),
        "--output_folder", str(output),
        "--init", "scratch", "--embed_dim", "32", "--depth", "1", "--num_heads", "2",
        "--n_classes", "3", "--number_of_epochs", "1", "--batch_size", "2",
        "--num_workers", "0", "--device", "cpu",
        *extra,
    ]


def run(command):
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    env.pop("RANK", None)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_recipe_refuses_a_negative_max_grad_norm_before_training(samples, tmp_path):
    done = run(recipe(samples, tmp_path / "out", "--max_grad_norm", "-1"))
    assert done.returncode != 0
    assert "flips the gradient's sign" in done.stderr
    assert not (tmp_path / "out" / "save" / "train.csv").exists()  # before preparation


def test_recipe_takes_optimizer_step_limit_from_the_command_line(samples, tmp_path):
    done = run(recipe(samples, tmp_path / "out", "--optimizer_step_limit", "2"))
    assert done.returncode == 0, done.stderr[-3000:]
    log = (tmp_path / "out" / "log.txt").read_text()
    assert "model folder written" in log
