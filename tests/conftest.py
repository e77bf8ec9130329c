"""Shared pytest fixtures: bundled samples, optional shared data, speed settings."""

import os
import pathlib

import pytest
import torch

REPO = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "samples"
# Development data beside the checkout (absent for users and may be absent in CI).
SHARED_DATA = pathlib.Path(
    os.environ.get("SPEECHBRAIN_AST_SHARED_DATA", REPO.parent / "shared" / "data")
)

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def samples():
    """Folder of tiny real clips in official layouts (ESC-50, Speech Commands, AudioSet)."""
    return SAMPLES


@pytest.fixture(scope="session")
def shared_data():
    """The development data folder; tests that need it skip when it is absent."""
    if not (SHARED_DATA / "esc50" / "meta" / "esc50.csv").is_file():
        pytest.skip(f"shared development data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
