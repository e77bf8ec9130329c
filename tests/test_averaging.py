"""Tests for speechbrain_ast.training.averaging (weight averaging, checkpoint ensembles)."""

import pytest
import torch
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_ast.training.averaging import (
    EnsembleScores,
    average_checkpoints_by_epoch,
    average_state_dicts,
)


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)
        self.norm = torch.nn.BatchNorm1d(2)  # has an integer buffer


def _randomise(module, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in module.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.randn(tensor.shape, generator=gen))
            else:
                tensor.fill_(seed)


def test_average_state_dicts_is_the_mean():
    model = _Tiny()
    states = []
    for seed in range(3):
        _randomise(model, seed)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
    avg = average_state_dicts(iter(states))  # iterators are fine
    for key, value in avg.items():
        if value.is_floating_point():
            expected = torch.stack([s[key] for s in states]).mean(0)
            torch.testing.assert_close(value, expected)
        else:  # integer buffer from the last
            assert torch.equal(value, states[-1][key])
            assert value.dtype == torch.long
    # inputs untouched
    assert not torch.equal(states[0]["linear.weight"], avg["linear.weight"])


def test_average_state_dicts_errors():
    with pytest.raises(ValueError):
        average_state_dicts([])
    with pytest.raises(ValueError):
        average_state_dicts([{"a": torch.zeros(1)}, {"b": torch.zeros(1)}])
    with pytest.raises(ValueError):
        average_state_dicts([{"a": torch.zeros(1)}, {"a": torch.zeros(2)}])


def test_average_checkpoints_by_epoch_selects_range(tmp_path):
    model, head = _Tiny(), torch.nn.Linear(2, 2)
    checkpointer = Checkpointer(tmp_path, {"model": model, "head": head})
    saved = {}
    for epoch in range(1, 6):
        _randomise(model, epoch)
        _randomise(head, 100 + epoch)
        saved[epoch] = {
            "model": {k: v.clone() for k, v in model.state_dict().items()},
            "head": {k: v.clone() for k, v in head.state_dict().items()},
        }
        checkpointer.save_checkpoint(meta={"epoch": epoch, "mAP": 0.1 * epoch})
    # an intra-epoch checkpoint without "epoch" is ignored
    checkpointer.save_checkpoint(meta={"intra": True}, end_of_epoch=False)

    avg = average_checkpoints_by_epoch(checkpointer, 2, 4, ["model", "head"])
    assert set(avg) == {"model", "head"}
    for name in ("model", "head"):
        expected = average_state_dicts([saved[e][name] for e in (2, 3, 4)])
        for key, value in avg[name].items():
            torch.testing.assert_close(value, expected[key])
    fresh = _Tiny()
    fresh.load_state_dict(avg["model"])

    single = average_checkpoints_by_epoch(checkpointer, 5, 5, "head")
    torch.testing.assert_close(single["head"]["weight"], saved[5]["head"]["weight"])

    with pytest.raises(ValueError, match=r"available epochs: \[1, 2, 3, 4, 5\]"):
        average_checkpoints_by_epoch(checkpointer, 7, 9, ["model"])
    with pytest.raises(KeyError):
        average_checkpoints_by_epoch(checkpointer, 1, 2, ["missing"])


def test_ensemble_scores_cumulative_mean():
    ensemble = EnsembleScores()
    with pytest.raises(ValueError):
        ensemble.mean()
    mats = [torch.rand(4, 3) for _ in range(3)]
    for k, mat in enumerate(mats, start=1):
        ensemble.add(mat)
        torch.testing.assert_close(ensemble.mean(), torch.stack(mats[:k]).mean(0))
    assert len(ensemble) == 3
    with pytest.raises(ValueError):
        ensemble.add(torch.rand(5, 3))
