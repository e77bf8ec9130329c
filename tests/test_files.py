"""atomic_write: the old file survives any failure; no temporary file is left."""

import contextlib
import os

import pytest
import torch

from speechbrain_ast.files import atomic_write


def test_success_replaces_and_leaves_only_the_file(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text("old\n")
    with atomic_write(path, newline="") as handle:
        handle.write("ID,wav\r\n")
        assert path.read_text() == "old\n"  # not replaced while writing
    assert path.read_bytes() == b"ID,wav\r\n"
    assert os.listdir(tmp_path) == ["manifest.csv"]


def test_failure_keeps_the_old_file(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("dog\n")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(path) as handle:
            handle.write("half")
            raise KeyboardInterrupt  # an interrupt too, not only errors
    assert path.read_text() == "dog\n"
    assert os.listdir(tmp_path) == ["classes.txt"]


def test_binary_torch_checkpoint(tmp_path):
    path = tmp_path / "model.ckpt"
    with atomic_write(path, "wb") as handle:
        torch.save({"w": torch.ones(3)}, handle)
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.ones(3))


def test_several_files_all_or_nothing(tmp_path):
    for name in ("train.csv", "test.csv"):
        (tmp_path / name).write_text("old")
    with pytest.raises(OSError):
        with contextlib.ExitStack() as stack:
            stack.enter_context(atomic_write(tmp_path / "train.csv")).write("new")
            stack.enter_context(atomic_write(tmp_path / "test.csv")).write("new")
            raise OSError("disk full")
    assert {p.read_text() for p in tmp_path.iterdir()} == {"old"}
    assert sorted(os.listdir(tmp_path)) == ["test.csv", "train.csv"]


def test_only_write_modes(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(tmp_path / "x", "a"):
            pass
