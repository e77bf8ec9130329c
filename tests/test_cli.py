"""Tests of the ``speechbrain-ast`` command line (tiny random model folders)."""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch
from speechbrain.inference.classifiers import EncoderClassifier

from speechbrain_ast.audio import load_audio
from speechbrain_ast.audio_files import list_audio_files
from speechbrain_ast.cli import build_parser, main
from speechbrain_ast.features import KaldiFbank, compute_norm_stats
from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead
from speechbrain_ast.model_folder import write_model_folder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABELS = ["dog", "rooster", "rain"]


def _tiny(embed_dim=32, n_classes=len(LABELS)):
    encoder = AudioSpectrogramTransformer(
        n_frames=128, embed_dim=embed_dim, depth=1, num_heads=2
    )
    return encoder, ClassificationHead(embed_dim, n_classes)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    encoder, head = _tiny()
    folder = str(tmp_path_factory.mktemp("cli") / "model")
    return write_model_folder(folder, encoder, head, LABELS, -6.6, 5.4, True)


@pytest.fixture(scope="module")
def wavs(samples):
    return sorted(glob.glob(str(samples / "speech_commands_v0.02" / "*" / "*.wav")))


@pytest.fixture(scope="module")
def long_wav(samples, tmp_path_factory):
    clip = load_audio(str(samples / "ESC-50-master" / "audio" / "1-100032-A-0.wav"))
    path = str(tmp_path_factory.mktemp("long") / "long.wav")
    soundfile.write(path, clip.numpy()[: 4 * 16000], 16000)
    return path


@pytest.fixture(scope="module")
def bad_files(wavs, tmp_path_factory):
    """Every kind of unusable input, by name."""
    root = tmp_path_factory.mktemp("bad")
    with open(wavs[0], "rb") as handle:
        data = handle.read()
    (root / "empty.wav").write_bytes(b"")
    (root / "truncated.wav").write_bytes(data[:20])  # cut inside the header
    (root / "corrupt.wav").write_bytes(b"RIFF" + bytes(range(256)) * 8)
    (root / "text.wav").write_text("this is not audio\n" * 20)
    nan = np.random.default_rng(0).standard_normal(16000).astype("float32")
    nan[123] = np.nan
    soundfile.write(str(root / "nan.wav"), nan, 16000, subtype="FLOAT")
    files = {
        name: str(root / f"{name}.wav")
        for name in ("empty", "truncated", "corrupt", "text", "nan")
    }
    files["missing"] = str(root / "missing.wav")
    return files


def _parse_text(stdout):
    """{file: [(label, score)]} from the plain tag output."""
    tags, current = {}, None
    for line in stdout.splitlines():
        if line.startswith("  "):
            label, score = line.strip().split("\t")
            tags[current].append((label, float(score)))
        else:
            current = line
            tags[current] = []
    return tags


def test_tag_prints_topk(model, wavs, capsys):
    code = main(["tag", wavs[0], wavs[1], "--model", model, "--top-k", "2"])
    out = capsys.readouterr()
    assert code == 0 and out.err == ""
    tags = _parse_text(out.out)
    assert list(tags) == [wavs[0], wavs[1]]
    for pairs in tags.values():
        assert len(pairs) == 2 and pairs[0][1] >= pairs[1][1]
        assert all(label in LABELS and 0 <= score <= 1 for label, score in pairs)

    code = main(["tag", wavs[0], "--model", model, "--threshold", "1.5"])
    assert code == 0 and _parse_text(capsys.readouterr().out) == {wavs[0]: []}


def test_tag_json_has_timeline(model, wavs, long_wav, capsys):
    args = ["tag", long_wav, wavs[0], "--model", model, "--json", "--top-k", "3"]
    code = main(args + ["--hop", "1.0", "--aggregate", "mean", "--int8"])
    out = capsys.readouterr()
    assert code == 0
    doc = json.loads(out.out)
    assert doc["errors"] == [] and doc["aggregate"] == "mean"
    first, second = doc["files"]
    assert first["file"] == long_wav and first["duration"] == pytest.approx(4.0)
    starts = [window["start"] for window in first["timeline"]]
    assert starts[:3] == [0.0, 1.0, 2.0]
    assert first["timeline"][-1]["end"] == pytest.approx(4.0)
    assert len(first["labels"]) == 3
    assert {"label", "score"} <= set(first["timeline"][0]["labels"][0])
    assert len(second["timeline"]) == 1


def test_bad_inputs_one_line_each(model, wavs, bad_files, capsys):
    order = ["missing", "empty", "truncated", "corrupt", "text", "nan"]
    files = [wavs[0]] + [bad_files[name] for name in order] + [wavs[1]]
    code = main(["tag", *files, "--model", model, "--top-k", "1"])
    out = capsys.readouterr()
    assert code == 1
    lines = out.err.strip().splitlines()
    assert len(lines) == len(order), out.err
    for line, name in zip(lines, order):
        assert line.startswith(f"error: {bad_files[name]}: "), line
    assert "Traceback" not in out.err
    assert "not found" in lines[0] and "empty" in lines[1] and "NaN" in lines[5]
    assert list(_parse_text(out.out)) == [wavs[0], wavs[1]]  # good ones tagged


def test_tag_flags_silent_and_too_short_files(model, wavs, tmp_path, capsys):
    """4 s of zeros and a 19 ms clip are tagged, but not as confident labels."""
    silent, short = str(tmp_path / "silent.wav"), str(tmp_path / "short.wav")
    soundfile.write(silent, np.zeros(4 * 16000), 16000)
    noise = 0.1 * np.random.default_rng(0).standard_normal(304)
    soundfile.write(short, noise, 16000)
    files = [silent, short, wavs[0]]
    assert main(["tag", *files, "--model", model, "--top-k", "1"]) == 0
    out = capsys.readouterr()
    assert out.err.splitlines() == [
        f"warning: {silent}: silent (peak amplitude 0 below 0.0001): "
        "labels not meaningful",
        f"warning: {short}: too short (304 samples at 16000 Hz; need 25 ms): "
        "labels not meaningful",
    ]
    lines = out.out.splitlines()
    assert lines[lines.index(silent) + 1] == "  (silent input: labels not meaningful)"
    assert lines[lines.index(short) + 1] == "  (too short input: labels not meaningful)"
    assert not lines[lines.index(wavs[0]) + 1].startswith("  (")
    assert len(lines) == 2 * 3 + 2  # the flagged files keep their labels

    assert main(["tag", *files, "--model", model, "--json"]) == 0
    out = capsys.readouterr()
    documents = json.loads(out.out)["files"]
    flags = [(d["silent"], d["too_short"], "warning" in d) for d in documents]
    assert flags == [(True, False, True), (False, True, True), (False, False, False)]
    assert all(document["labels"] for document in documents)
    assert len(out.err.splitlines()) == 2


def test_subprocess_json_and_errors(model, wavs, bad_files, tmp_path):
    env = dict(
        os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", "")
    )
    command = [sys.executable, "-m", "speechbrain_ast.cli", "tag", wavs[0]]
    command += [bad_files["text"], bad_files["nan"], "--model", model, "--json"]
    proc = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        line for line in proc.stderr.strip().splitlines() if line.startswith("error: ")
    ]
    assert len(proc.stderr.strip().splitlines()) == 2
    doc = json.loads(proc.stdout)
    assert [entry["file"] for entry in doc["files"]] == [wavs[0]]
    assert doc["files"][0]["timeline"]
    assert [entry["file"] for entry in doc["errors"]] == [
        bad_files["text"],
        bad_files["nan"],
    ]


def test_model_folder_errors(wavs, tmp_path, capsys):
    assert main(["tag", wavs[0], "--model", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model folder not found" in err
    assert main(["tag", wavs[0], "--model", str(tmp_path)]) == 2
    assert "no hyperparams.yaml" in capsys.readouterr().err
    (tmp_path / "hyperparams.yaml").write_text(
        "modules: !new:nowhere.Thing\npretrainer: null\n"
    )
    assert main(["tag", wavs[0], "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path}: cannot load the model")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_training_run_folder_names_its_model_folder(model, wavs, tmp_path, capsys):
    """--model RUN (not RUN/model) used to end in KeyError: 'pretrainer'."""
    from speechbrain_ast.tagging.tagger import AudioTagger

    run = tmp_path / "run"
    shutil.copytree(model, run / "model")
    (run / "hyperparams.yaml").write_text("seed: 1\nlr: 0.0001\n")  # training's copy
    inner = str(run / "model")
    for command in (
        ["tag", wavs[0], "--model", str(run)],
        ["export-onnx", str(run), str(tmp_path / "out.onnx")],
    ):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err == (
            f"error: {run}: a training run folder, not a model folder; load its "
            f"model folder {inner}\n"
        )
    with pytest.raises(ValueError, match="load its model folder .*run/model"):
        AudioTagger.from_hparams(source=str(run))
    assert main(["tag", wavs[0], "--model", inner]) == 0  # the advice works
    assert _parse_text(capsys.readouterr().out)[wavs[0]]

    # A training YAML alone (no model/ beside it) is not a model folder either.
    shutil.rmtree(run / "model")
    assert main(["tag", wavs[0], "--model", str(run)]) == 2
    err = capsys.readouterr().err
    assert "hyperparams.yaml: no 'pretrainer' in it" in err
    assert "KeyError" not in err


def test_argument_parsing():
    parser = build_parser()
    args = parser.parse_args(
        [
            "import",
            "--format",
            "hf",
            "src",
            "out",
            "--n-frames",
            "512",
            "--labels",
            "l.csv",
        ]
    )
    assert (args.format, args.src, args.out_dir, args.n_frames) == (
        "hf",
        "src",
        "out",
        512,
    )
    assert args.labels == "l.csv" and args.fstride is None and args.multi_label is None
    args = parser.parse_args(["export", "ckpt", "out", "--like", "model"])
    assert (args.ckpt_dir, args.out_dir, args.like) == ("ckpt", "out", "model")
    for bad in (
        ["tag", "a.wav"],  # --model is required
        ["tag", "a.wav", "--model", "m", "--aggregate", "median"],
        ["tag", "a.wav", "--model", "m", "--top-k", "0"],
        ["import", "--format", "onnx", "a", "b"],
        [],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(bad)
        assert exit_info.value.code == 2


def test_import_official_checkpoint(tmp_path, wavs, capsys):
    encoder, head = _tiny()
    state = {f"module.v.{k}": v for k, v in encoder.state_dict().items()}
    state["module.mlp_head.0.weight"] = head.norm.weight
    state["module.mlp_head.0.bias"] = head.norm.bias
    state["module.mlp_head.1.weight"] = head.linear.weight
    state["module.mlp_head.1.bias"] = head.linear.bias
    src = str(tmp_path / "ast.pth")
    torch.save(state, src)
    out = str(tmp_path / "imported")
    code = main(
        ["import", "--format", "official", src, out, "--norm-stats", "esc50"]
        + ["--num-heads", "2"]
    )
    assert code == 0, capsys.readouterr().err
    assert main(["tag", wavs[0], "--model", out, "--top-k", "1"]) == 0
    capsys.readouterr()
    assert main(["import", "--format", "official", str(tmp_path / "no.pth"), out]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no.pth: not found" in err


def test_export_checkpoint(model, tmp_path, wavs, capsys):
    torch.manual_seed(1)
    encoder, head = _tiny()
    ckpt = tmp_path / "save" / "CKPT+2026-01-01+00-00-00+00"
    ckpt.mkdir(parents=True)
    torch.save(encoder.state_dict(), ckpt / "embedding_model.ckpt")
    torch.save(head.state_dict(), ckpt / "classifier.ckpt")
    out = str(tmp_path / "epoch_model")
    assert main(["export", str(ckpt), out, "--like", model]) == 0
    assert sorted(os.listdir(out)) == [
        "classifier.ckpt",
        "embedding_model.ckpt",
        "hyperparams.yaml",
        "label_encoder.txt",
    ]
    loaded = EncoderClassifier.from_hparams(source=out)
    torch.testing.assert_close(
        loaded.mods.classifier.linear.weight, head.linear.weight.detach()
    )
    assert loaded.hparams.label_encoder.decode_ndim([0, 1, 2]) == LABELS
    capsys.readouterr()

    # Weights of another architecture: refused, nothing written.
    wrong_encoder, wrong_head = _tiny(embed_dim=16)
    torch.save(wrong_encoder.state_dict(), ckpt / "embedding_model.ckpt")
    torch.save(wrong_head.state_dict(), ckpt / "classifier.ckpt")
    bad_out = tmp_path / "bad_export"
    assert main(["export", str(ckpt), str(bad_out), "--like", model]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not fit the model" in err
    assert not bad_out.exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".export-")]
    os.remove(ckpt / "classifier.ckpt")
    assert main(["export", str(ckpt), str(bad_out), "--like", model]) == 1
    assert "classifier.ckpt: not found" in capsys.readouterr().err


def test_stats_folder_and_manifest(samples, tmp_path, capsys):
    folder = samples / "speech_commands_v0.02" / "yes"
    files = sorted(glob.glob(str(folder / "*.wav")))
    assert main(["stats", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    values = dict(line.split(": ") for line in lines if not line.startswith("#"))
    mean, std = compute_norm_stats([load_audio(f) for f in files], KaldiFbank())
    assert float(values["norm_mean"]) == pytest.approx(mean, abs=1e-5)
    assert float(values["norm_std"]) == pytest.approx(std, abs=1e-5)

    manifest = tmp_path / "train.csv"
    rows = [f"{i},$data_root/{os.path.basename(f)},yes" for i, f in enumerate(files)]
    manifest.write_text("ID,wav,label\n" + "\n".join(rows) + "\n")
    assert list_audio_files(str(manifest), data_root=str(folder)) == files
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    (tmp_path / "extra.csv").write_text(f"ID,wav\n1,{files[0]}\n2,bad.wav\n")
    assert main(["stats", str(tmp_path / "extra.csv")]) == 1
    out = capsys.readouterr()
    assert out.err.startswith(f"error: {tmp_path / 'bad.wav'}: ")
    assert "norm_mean" in out.out
    assert main(["stats", str(tmp_path / "nothing_here")]) == 1


def test_help_shows_every_default():
    """Every option of every subcommand says its default (or that it is required)."""
    from speechbrain_ast.cli import HelpFormatter

    parser = build_parser()
    commands = next(
        action for action in parser._actions if action.dest == "command"
    ).choices
    assert set(commands) >= {"tag", "import", "export", "stats"}
    for name, command in [("", parser), *commands.items()]:
        formatter = HelpFormatter(prog=name)
        for action in command._actions:
            if not action.option_strings or action.dest == "help":
                continue
            text = formatter._expand_help(action)
            assert action.help, f"{name} {action.option_strings[0]}: no help text"
            assert "(default" in text or "(required)" in text, (name, text)
            assert "(default: None)" not in text, (name, text)
        flat = " ".join(command.format_help().split())
        assert name != "export" or "labels (required)" in flat
    tag_help = commands["tag"].format_help()
    for expected in (
        "(default: 5)",
        "(default: half a window)",
        "(default: 0.5 with the threshold rule",
    ):
        assert expected in " ".join(tag_help.split())


def test_tag_timeline_and_events(model, long_wav, wavs, tmp_path, capsys):
    csv_path = tmp_path / "out" / "events.tsv"
    args = ["tag", long_wav, wavs[0], "--model", model, "--top-k", "1", "--timeline"]
    code = main(
        args + ["--hop", "1.0", "--event-threshold", "0", "--events-csv", str(csv_path)]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    lines = out.out.splitlines()
    assert lines[:3] == [long_wav, lines[1], "  timeline:"]
    windows = [
        line for line in lines if line.startswith("    ") and "-" in line.split("\t")[0]
    ]
    assert windows[0].startswith("    0.000-1.295\t") and len(windows) == 4 + 1
    # threshold 0: every class is one event over the sounding part; the
    # clip is digital silence before 2 s and after 3 s, which holds none
    assert "  events: 3" in lines
    events = [line.split("\t") for line in lines if line.count("\t") == 3]
    assert [event[:2] for event in events[:3]] == [["    2.000", "3.000"]] * 3
    rows = open(csv_path).read().splitlines()
    assert rows[0] == "filename\tonset\toffset\tevent_label" and len(rows) == 1 + 6
    # file names, as DCASE reference lists name recordings
    assert rows[1].startswith("long.wav\t2.000\t3.000\t")

    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text(json.dumps({"dog": 0.0, "rain": 1.0, "rooster": 1.0}))
    code = main(
        ["tag", long_wav, "--model", model, "--json", "--events"]
        + ["--class-thresholds", str(thresholds), "--median", "0.5"]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["event_options"] == {
        "rule": "threshold",  # a multi-label model
        "median_seconds": 0.5,
        "min_level_db": None,
    }
    assert doc["files"][0]["events"] == [
        {
            "label": "dog",  # the one sounding frame of the default hop
            "onset": 1.9425,
            "offset": 2.59,
            "score": pytest.approx(doc["files"][0]["events"][0]["score"]),
        }
    ]

    # a level gate: the silent first second holds no event
    quiet_first = tmp_path / "quiet_first.wav"
    noise = 0.1 * np.random.default_rng(0).standard_normal(3 * 16000)
    soundfile.write(str(quiet_first), np.concatenate([np.zeros(16000), noise]), 16000)
    code = main(
        [
            "tag",
            str(quiet_first),
            "--model",
            model,
            "--json",
            "--events",
            "--hop",
            "0.5",
        ]
        + ["--event-threshold", "0", "--min-level", "-60"]
    )
    events = json.loads(capsys.readouterr().out)["files"][0]["events"]
    assert code == 0 and len(events) == 3
    assert all(event["onset"] == 1.0 and event["offset"] == 4.0 for event in events)

    thresholds.write_text(json.dumps({"cat": 0.2}))
    assert (
        main(
            [
                "tag",
                long_wav,
                "--model",
                model,
                "--events",
                "--class-thresholds",
                str(thresholds),
            ]
        )
        == 2
    )
    assert "labels not in the model: cat" in capsys.readouterr().err
    assert (
        main(
            [
                "tag",
                long_wav,
                "--model",
                model,
                "--events",
                "--class-thresholds",
                "nope.tsv",
            ]
        )
        == 2
    )
    assert "nope.tsv: class thresholds file not found" in capsys.readouterr().err
    assert main(["tag", long_wav, "--model", model, "--window", "9"]) == 2
    assert "--window" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tag", long_wav, "--model", model, "--event-threshold", "2"])


def test_tag_plot(model, long_wav, wavs, tmp_path, capsys):
    png = tmp_path / "plots" / "timeline.png"
    code = main(
        ["tag", long_wav, "--model", model, "--plot", str(png), "--window", "0.5"]
    )
    assert code == 0, capsys.readouterr().err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code = main(["tag", long_wav, wavs[0], "--model", model, "--plot", str(png)])
    assert code == 2 and "give exactly one FILE" in capsys.readouterr().err


def test_a_broken_stack_is_one_line_that_says_what_to_run():
    """torchaudio unimportable (CUDA wheel beside CPU torch): no traceback, the fix named."""
    code = (
        "import sys; sys.modules['torchaudio'] = None\n"
        "import speechbrain_ast_entry\n"
        "sys.exit(speechbrain_ast_entry.main(['tag', '--help']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "scripts/setup_env.sh" in lines[0]
    assert "python -m speechbrain_ast_fix_wheels" in lines[0]


def test_tag_and_evaluate_share_event_options():
    """One definition of the event options: same names, defaults and help."""
    parser = build_parser()
    commands = next(
        action
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
    ).choices

    def event_actions(command):
        return {
            action.dest: (action.default, action.help, action.choices)
            for action in commands[command]._actions
            if action.dest
            in (
                "event_rule",
                "event_threshold",
                "class_thresholds",
                "median",
                "min_level",
            )
        }

    tag_options = event_actions("tag")
    assert tag_options == event_actions("evaluate") and len(tag_options) == 5
    # no fixed 0.5: the rule picks the threshold that suits the model
    assert tag_options["event_rule"][0] == "auto"
    assert tag_options["event_threshold"][0] is None


def test_tag_events_default_rule_for_single_label_model(wavs, tmp_path, capsys):
    """A single-label model's events come from its top class per frame."""
    torch.manual_seed(0)
    encoder, head = _tiny()
    single = write_model_folder(
        str(tmp_path / "single"), encoder, head, LABELS, -6.6, 5.4, False
    )
    sound = tmp_path / "sound.wav"
    noise = 0.1 * np.random.default_rng(0).standard_normal(4 * 16000)
    soundfile.write(str(sound), noise, 16000)
    code = main(["tag", str(sound), "--model", single, "--json", "--events"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["event_options"]["rule"] == "top"
    events = doc["files"][0]["events"]
    # every frame holds exactly one event (its top class): events tile the file
    assert events and events[0]["onset"] == 0.0 and events[-1]["offset"] == 4.0
    assert all(a["offset"] == b["onset"] for a, b in zip(events, events[1:]))
    code = main(
        ["tag", str(sound), "--model", single, "--json", "--events"]
        + ["--event-rule", "threshold", "--event-threshold", "0.9"]
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["event_options"]["rule"] == "threshold"
