"""A training set of ``batch_size * k + 1`` clips must not crash the ECAPA-TDNN."""

import pytest
import torch
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN

from speechbrain_ast.training.train_loader import without_single_clip_batch


def test_the_ecapa_cannot_train_on_one_clip():
    """Why the option exists: BatchNorm after the pooling needs two clips."""
    ecapa = ECAPA_TDNN(16, channels=[8, 8, 8, 8, 24], lin_neurons=4).train()
    ecapa(torch.randn(2, 20, 16))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        ecapa(torch.randn(1, 20, 16))


@pytest.mark.parametrize("n_clips", [2, 12, 13, 25, 289, 290])
def test_no_training_batch_holds_a_single_clip(n_clips):
    """Only a one-clip last batch is dropped; every other size keeps every clip."""
    options = without_single_clip_batch({"batch_size": 12, "shuffle": True}, n_clips)
    loader = torch.utils.data.DataLoader(list(range(n_clips)), **options)
    sizes = [len(batch) for batch in loader]
    assert 1 not in sizes
    expected = n_clips - 1 if n_clips % 12 == 1 else n_clips
    assert sum(sizes) == expected


def test_the_options_of_the_yaml_are_not_changed_in_place():
    options = {"batch_size": 12}
    without_single_clip_batch(options, 13)
    assert options == {"batch_size": 12}


def test_a_distributed_rank_is_checked_on_its_own_share():
    """Two ranks of 13 clips each (26 in all) each end on one clip."""
    assert without_single_clip_batch({"batch_size": 12}, 26, world_size=2)["drop_last"]
    assert "drop_last" not in without_single_clip_batch({"batch_size": 12}, 26)
