"""Training loader options that no training set size can break.

An encoder with batch normalisation after its pooling (SpeechBrain's
``ECAPA_TDNN``: one value per channel and clip) cannot train on a batch of
one clip: ``BatchNorm1d`` raises "Expected more than 1 value per channel".
With ``shuffle`` the last batch of every epoch holds ``n % batch_size``
clips, so a training set of ``12 k + 1`` clips crashed at the end of the first
epoch. Only that one-clip batch is dropped (a different clip each epoch);
every other size keeps every clip.

Authors
 * speechbrain-ast contributors 2026
"""

import math


def without_single_clip_batch(loader_options, n_train, world_size=1):
    """Return the loader options, with ``drop_last`` when the last batch would hold one clip.

    Arguments
    ---------
    loader_options : dict
        The YAML's ``train_dataloader_options`` (``batch_size`` read from it,
        1 if absent).
    n_train : int
        Clips in the training set.
    world_size : int
        Processes of a distributed run: each trains on ``ceil(n / world_size)``
        clips (the distributed sampler pads the ranks to equal length).

    Returns
    -------
    dict
        A copy of the options; ``drop_last: True`` added only where the last
        batch of an epoch would hold a single clip.

    Example
    -------
    >>> without_single_clip_batch({"batch_size": 12}, 289)["drop_last"]
    True
    >>> without_single_clip_batch({"batch_size": 12}, 288)
    {'batch_size': 12}
    >>> without_single_clip_batch({"batch_size": 12}, 25, world_size=2)["drop_last"]
    True
    """
    options = dict(loader_options)
    batch_size = options.get("batch_size", 1)
    per_rank = math.ceil(n_train / max(1, world_size))
    if batch_size > 1 and per_rank % batch_size == 1 and per_rank > 1:
        options["drop_last"] = True
    return options
