"""Weight averaging (WA) of epoch checkpoints and checkpoint-ensemble scores.

The official AST recipes report two kinds of averaging:

* **WA**: the uniform mean of the model weights saved at the end of epochs
  ``wa_start..wa_end`` (AudioSet: 1-5 full, 6-25 balanced), evaluated as one
  model. ``average_checkpoints_by_epoch`` does it from SpeechBrain
  checkpoints (saved with ``meta={"epoch": ...}``), through
  ``speechbrain.utils.checkpoints.average_checkpoints``.
* **Checkpoint ensemble** (``cum_mAP`` / ``cum_acc`` in ``result.csv``): the
  mean of the predictions of the models of epochs 1..e. ``EnsembleScores``
  accumulates those predictions.

Authors
 * speechbrain-ast contributors 2026
"""

import logging

import torch
from speechbrain.utils.checkpoints import average_checkpoints

__all__ = [
    "EnsembleScores",
    "average_checkpoints_by_epoch",
    "average_state_dicts",
]

logger = logging.getLogger(__name__)


def average_state_dicts(state_dicts):
    """Uniform average of state dicts.

    Floating-point tensors are averaged (accumulated in float64, returned in
    their own dtype); integer and boolean tensors (e.g. counters) and
    non-tensor entries are taken from the last state dict. Accepts any
    iterable and keeps only the running sum in memory.

    Arguments
    ---------
    state_dicts : iterable of dict
        State dicts with identical keys and shapes.

    Returns
    -------
    dict
        The averaged state dict.

    Example
    -------
    >>> a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    >>> b = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(5)}
    >>> average_state_dicts([a, b])
    {'w': tensor([2., 4.]), 'n': tensor(5)}
    """
    sums, last, count, keys = {}, None, 0, None
    for state in state_dicts:
        if keys is None:
            keys = list(state.keys())
        elif set(state.keys()) != set(keys):
            missing = set(keys) ^ set(state.keys())
            raise ValueError(
                f"state dict {count} has different keys: {sorted(missing)[:10]}"
            )
        for key, value in state.items():
            if torch.is_tensor(value) and value.is_floating_point():
                if key in sums:
                    if value.shape != sums[key].shape:
                        raise ValueError(
                            f"{key}: shape {list(value.shape)} != {list(sums[key].shape)}"
                        )
                    sums[key] += value.detach().double()
                else:
                    sums[key] = value.detach().double().clone()
        last = state
        count += 1
    if count == 0:
        raise ValueError("no state dicts to average")
    averaged = {}
    for key in keys:
        value = last[key]
        if key in sums:
            averaged[key] = (sums[key] / count).to(value.dtype)
        else:
            averaged[key] = value
    return averaged


def average_checkpoints_by_epoch(checkpointer, first_epoch, last_epoch, module_names):
    """Average the weights saved at the end of epochs ``first..last_epoch``.

    Checkpoints are found with ``checkpointer.find_checkpoints`` by their
    ``meta["epoch"]`` (inclusive range); if several share an epoch the most
    recent is used. Each module is read from ``<ckpt.path>/<name>.ckpt`` on
    the CPU. Missing epochs inside the range are logged as a warning (the
    checkpointer must keep them: save with a large ``num_to_keep`` or a
    ``keep_recent``-free predicate).

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer
        The checkpointer that saved the epochs.
    first_epoch, last_epoch : int
        Inclusive epoch range (official ``wa_start``, ``wa_end``).
    module_names : str or list of str
        Recoverable names to average (e.g. ``["model", "classifier"]``).

    Returns
    -------
    dict
        ``name -> averaged state dict`` (load with ``load_state_dict``).

    Example
    -------
    >>> from speechbrain.utils.checkpoints import Checkpointer
    >>> model = torch.nn.Linear(1, 1, bias=False)
    >>> checkpointer = Checkpointer(getfixture("tmpdir"), {"model": model})
    >>> for epoch in range(1, 5):
    ...     _ = model.weight.data.fill_(float(epoch))
    ...     _ = checkpointer.save_checkpoint(meta={"epoch": epoch})
    >>> avg = average_checkpoints_by_epoch(checkpointer, 2, 4, ["model"])
    >>> avg["model"]["weight"]
    tensor([[3.]])
    """
    if isinstance(module_names, str):
        module_names = [module_names]
    first_epoch, last_epoch = int(first_epoch), int(last_epoch)
    if first_epoch > last_epoch:
        raise ValueError(f"empty epoch range {first_epoch}..{last_epoch}")

    def in_range(ckpt):
        epoch = ckpt.meta.get("epoch")
        return isinstance(epoch, int) and first_epoch <= epoch <= last_epoch

    # find_checkpoints sorts by recency: keep the newest per epoch.
    by_epoch = {}
    for ckpt in checkpointer.find_checkpoints(ckpt_predicate=in_range):
        by_epoch.setdefault(ckpt.meta["epoch"], ckpt)
    if not by_epoch:
        available = sorted(
            {
                c.meta["epoch"]
                for c in checkpointer.list_checkpoints()
                if "epoch" in c.meta
            }
        )
        raise ValueError(
            f"no checkpoint with meta epoch in {first_epoch}..{last_epoch} under "
            f"{checkpointer.checkpoints_dir}; available epochs: {available}"
        )
    missing = sorted(set(range(first_epoch, last_epoch + 1)) - set(by_epoch))
    if missing:
        logger.warning(
            "Averaging epochs %s; no checkpoint for epochs %s",
            sorted(by_epoch),
            missing,
        )
    ckpts = [by_epoch[epoch] for epoch in sorted(by_epoch)]
    result = {}
    for name in module_names:
        for ckpt in ckpts:
            if name not in ckpt.paramfiles:
                raise KeyError(
                    f"checkpoint {ckpt.path} has no {name!r} "
                    f"(it has {sorted(ckpt.paramfiles)})"
                )
        result[name] = average_checkpoints(ckpts, name, averager=average_state_dicts)
    return result


WEIGHT_AVERAGE = "weight_average"


def apply_weight_average(checkpointer, first_epoch, last_epoch, modules):
    """Load the mean weights of epochs ``first..last_epoch`` and checkpoint them.

    The averaged weights go into ``modules`` and are saved as the checkpoint
    ``CKPT+weight_average`` whose meta holds ``weight_average: 1.0``, so a
    recipe evaluates them with ``brain.evaluate(test_set,
    max_key=WEIGHT_AVERAGE)`` (the checkpoints of single epochs lack that
    key and are never chosen) and ``speechbrain-ast export`` can export them.

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer
        The recipe's checkpointer, holding one checkpoint per epoch of the range.
    first_epoch, last_epoch : int
        Inclusive epoch range (official ``wa_start``, ``wa_end``).
    modules : dict
        Recoverable name -> module to average (e.g. the encoder and head).

    Returns
    -------
    str
        The meta key of the averaged checkpoint (:data:`WEIGHT_AVERAGE`).

    Example
    -------
    >>> from speechbrain.utils.checkpoints import Checkpointer
    >>> model = torch.nn.Linear(1, 1, bias=False)
    >>> checkpointer = Checkpointer(getfixture("tmpdir"), {"model": model})
    >>> for epoch in (1, 2):
    ...     _ = model.weight.data.fill_(float(epoch))
    ...     _ = checkpointer.save_checkpoint(meta={"epoch": epoch})
    >>> apply_weight_average(checkpointer, 1, 2, {"model": model})
    'weight_average'
    >>> model.weight.item(), checkpointer.find_checkpoint(max_key="weight_average").path.name
    (1.5, 'CKPT+weight_average')
    >>> _ = apply_weight_average(checkpointer, 5, 10, {"model": model})  # ended at 2
    >>> model.weight.item()
    2.0
    """
    trained = [
        ckpt.meta["epoch"]
        for ckpt in checkpointer.list_checkpoints()
        if isinstance(ckpt.meta.get("epoch"), int)
    ]
    if trained and int(last_epoch) > max(trained):
        # A run that stopped early (``--debug``, or fewer epochs than the
        # YAML's range): average the last epochs it has, and say so.
        last_epoch = max(trained)
        first_epoch = min(int(first_epoch), last_epoch)
        logger.warning(
            "the run ended at epoch %d: averaging epochs %d..%d",
            last_epoch,
            first_epoch,
            last_epoch,
        )
    averaged = average_checkpoints_by_epoch(
        checkpointer, first_epoch, last_epoch, list(modules)
    )
    for name, state in averaged.items():
        modules[name].load_state_dict(state)
    checkpointer.save_checkpoint(
        name=WEIGHT_AVERAGE,
        meta={
            WEIGHT_AVERAGE: 1.0,
            "wa_start": int(first_epoch),
            "wa_end": int(last_epoch),
        },
    )
    return WEIGHT_AVERAGE


class EnsembleScores:
    """Running mean of score matrices (checkpoint-ensemble evaluation).

    Add the evaluation predictions of each epoch's model (the official code
    averages sigmoid probabilities for BCE and softmax for CE); ``mean()`` is
    the ensemble of all models added so far, the paper's ``cum_mAP``.

    Example
    -------
    >>> ensemble = EnsembleScores()
    >>> ensemble.add(torch.tensor([[0.2, 0.8]]))
    >>> ensemble.add(torch.tensor([[0.4, 0.4]]))
    >>> ensemble.mean(), len(ensemble)
    (tensor([[0.3000, 0.6000]]), 2)
    """

    def __init__(self):
        self.total = None
        self.count = 0

    def add(self, scores):
        """Add one model's scores.

        Arguments
        ---------
        scores : torch.Tensor
            Scores ``[N, C]``, same clips in the same order every time.
        """
        scores = scores.detach().double().cpu()
        if self.total is None:
            self.total = scores.clone()
        elif scores.shape != self.total.shape:
            raise ValueError(
                f"scores {list(scores.shape)} do not match {list(self.total.shape)}"
            )
        else:
            self.total += scores
        self.count += 1

    def mean(self):
        """Return the ensemble mean ``[N, C]`` (float32) of the added scores.

        Returns
        -------
        torch.Tensor
            Mean of all added score matrices.
        """
        if self.count == 0:
            raise ValueError("no scores added")
        return (self.total / self.count).float()

    def __len__(self):
        return self.count
