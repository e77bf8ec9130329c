"""The SSL recipe's data preparation: folders and lists of unlabeled audio, bad input."""

import importlib.util
import pathlib

import numpy as np
import pytest
import soundfile
import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
RECIPE = REPO / "recipes" / "SSL"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, RECIPE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prep = _load("ssl_prepare")


def noise(path, seconds=0.5, rate=16000, channels=1, amplitude=0.3):
    """Write a clip of random noise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (int(seconds * rate), channels) if channels > 1 else int(seconds * rate)
    soundfile.write(path, np.random.default_rng(0).normal(0, amplitude, shape), rate)
    return path


def skipped_reasons(save):
    """``{file name: reason}`` of save/skipped.txt."""
    lines = (save / "skipped.txt").read_text().splitlines()
    return {
        pathlib.Path(line.split("\t")[0]).name: line.split("\t")[1] for line in lines
    }


def test_folder_is_searched_recursively_and_bad_files_are_listed(tmp_path):
    data = tmp_path / "data"
    noise(data / "a.wav")
    noise(data / "deep" / "er" / "b.flac", rate=44100, channels=2)
    noise(data / "c.ogg", seconds=2.0, rate=8000)
    noise(data / ".hidden" / "d.wav")
    noise(data / ".e.wav")
    soundfile.write(data / "silent.wav", np.zeros(8000), 16000)
    soundfile.write(data / "short.wav", np.full(400, 0.1), 16000)
    nan = np.full(8000, 0.1)
    nan[10] = np.nan
    soundfile.write(data / "nan.wav", nan, 16000, subtype="FLOAT")
    (data / "empty.wav").write_bytes(b"")
    (data / "broken.mp3").write_bytes(b"not audio at all")
    (data / "notes.txt").write_text("hello")
    save = tmp_path / "save"

    result = prep.prepare_ssl_data(str(data), str(save), n_frames=64, seed=0)

    assert result["counts"] == {"train": 2, "valid": 1, "skipped": 6}
    reasons = skipped_reasons(save)
    assert set(reasons) == {
        "silent.wav", "short.wav", "nan.wav", "empty.wav", "broken.mp3", "notes.txt",
    }  # fmt: skip
    assert reasons["silent.wav"].startswith("silent")
    assert reasons["short.wav"].startswith("too short")
    assert "NaN" in reasons["nan.wav"]
    assert "empty" in reasons["empty.wav"]
    assert reasons["broken.mp3"].startswith("not readable")
    assert reasons["notes.txt"].startswith("not an audio file")
    listed = (save / "train.csv").read_text() + (save / "valid.csv").read_text()
    for name in ("a.wav", "b.flac", "c.ogg"):
        assert name in listed
    assert "d.wav" not in listed and ".e.wav" not in listed
    config = yaml.safe_load((save / "data_config.yaml").read_text())
    assert config["norm_std"] > 0 and config["n_frames"] == 64


def test_csv_and_text_lists_relative_to_their_folder(tmp_path):
    for name in ("x.wav", "y.wav", "z.wav"):
        noise(tmp_path / "clips" / name)
    table = tmp_path / "lists" / "clips.csv"
    table.parent.mkdir()
    table.write_text(
        "label,path\ndog,../clips/x.wav\ncat,../clips/y.wav\n,../clips/y.wav\n"
    )
    result = prep.prepare_ssl_data(str(table), str(tmp_path / "save_csv"))
    assert result["counts"] == {"train": 1, "valid": 1, "skipped": 1}
    text = tmp_path / "lists" / "clips.txt"
    text.write_text("# unlabeled\n../clips/x.wav\n\n../clips/y.wav\n../clips/z.wav\n")
    result = prep.prepare_ssl_data(str(text), str(tmp_path / "save_txt"))
    assert result["counts"] == {"train": 2, "valid": 1, "skipped": 0}


def test_too_few_clips_is_an_error_and_keeps_the_previous_outputs(tmp_path):
    data = tmp_path / "data"
    noise(data / "a.wav")
    noise(data / "b.wav")
    save = tmp_path / "save"
    prep.prepare_ssl_data(str(data), str(save))
    before = (save / "train.csv").read_text()
    (data / "b.wav").write_bytes(b"")
    with pytest.raises(
        ValueError, match=r"1 usable clip\(s\); pretraining needs at least 2"
    ):
        prep.prepare_ssl_data(str(data), str(save))
    assert (save / "train.csv").read_text() == before


def test_bad_lists_name_the_file(tmp_path):
    table = tmp_path / "clips.csv"
    table.write_text("file\na.wav\n")
    with pytest.raises(ValueError, match="clips.csv: needs a path column"):
        prep.prepare_ssl_data(str(table), str(tmp_path / "save"))
    with pytest.raises(ValueError, match="missing: not found"):
        prep.prepare_ssl_data(str(tmp_path / "missing"), str(tmp_path / "save"))
    binary = tmp_path / "clips.bin"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match="clips.bin: not a text file"):
        prep.prepare_ssl_data(str(binary), str(tmp_path / "save"))
