"""Mixup partners drawn from the whole training set, as the official loader does.

The official AST loader mixes a clip, with probability ``mixup``, with a
partner drawn uniformly from the whole dataset. ``mixup_waveforms`` by
default takes the partner from the same batch (no extra loading); with
``mixup_partner: dataset`` a recipe draws the partners here instead and
passes them to ``mixup_waveforms(..., partners=...)``. Both forms use the same
``lam ~ Beta(10, 10)`` and label mixing; benchmarks/RESULTS.md ("Mixup
partner") has their accuracies side by side.

Authors
 * speechbrain-ast contributors 2026
"""

import torch
from speechbrain.dataio.batch import PaddedBatch

__all__ = ["DatasetPartners", "mixup_partners"]


class DatasetPartners:
    """Draw one partner per clip uniformly from a map-style training set.

    Arguments
    ---------
    dataset : torch.utils.data.Dataset
        Map-style; items are dicts with ``sig`` (waveform) and ``targets``
        (one- or multi-hot tensor), as the recipes' training sets give.
    seed : int
        Seed of the partner draws (their own generator, so the batch order
        and the other augmentations draw what they drew before).

    Example
    -------
    >>> data = [{"sig": torch.ones(n), "targets": torch.eye(3)[n % 3]} for n in (4, 6, 8)]
    >>> draw = DatasetPartners(data, seed=0)
    >>> wavs, lengths, targets = draw(5, "cpu")
    >>> wavs.shape[0], targets.shape
    (5, torch.Size([5, 3]))
    """

    def __init__(self, dataset, seed=0):
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(
                "mixup_partner: dataset needs a map-style training set (random "
                "access); shards are read in order: use mixup_partner: batch"
            )
        if len(dataset) == 0:
            raise ValueError("mixup_partner: dataset got an empty training set")
        self.dataset = dataset
        self.generator = torch.Generator().manual_seed(int(seed))

    def __call__(self, n, device):
        """``(wavs [n, S], lengths [n], targets [n, C])`` of ``n`` random clips."""
        picks = torch.randint(len(self.dataset), (n,), generator=self.generator)
        items = [self.dataset[int(index)] for index in picks]
        batch = PaddedBatch([{"sig": item["sig"], "targets": item["targets"]} for item in items])
        wavs, lengths = batch.sig
        return wavs.to(device), lengths.to(device), batch.targets.data.to(device)


def mixup_partners(form, dataset, seed=0):
    """The partner source a YAML's ``mixup_partner`` names.

    Arguments
    ---------
    form : str
        ``batch`` (partners from the batch: returns None) or ``dataset``.
    dataset : torch.utils.data.Dataset
        The training set (used by ``dataset``).
    seed : int
        Seed of the draws.

    Returns
    -------
    DatasetPartners or None
        None for ``batch``.

    Example
    -------
    >>> mixup_partners("batch", []) is None
    True
    >>> mixup_partners("whole", [])
    Traceback (most recent call last):
    ...
    ValueError: mixup_partner must be 'batch' or 'dataset', got 'whole'
    """
    if form == "batch":
        return None
    if form != "dataset":
        raise ValueError(f"mixup_partner must be 'batch' or 'dataset', got {form!r}")
    return DatasetPartners(dataset, seed)
