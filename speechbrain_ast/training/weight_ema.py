"""An exponential moving average (EMA) of the weights, validated and exported.

A small model trained from scratch on a few hundred clips moves a lot from
one epoch to the next: the validation accuracy of single epochs swings by
10-30 points, so the "best epoch" is partly luck and its validation score
does not predict the test score. The moving average of the weights over the
last few hundred optimizer steps is a smoother model (Polyak averaging). The
recipe validates it, checkpoints it and exports it, while the optimizer
keeps stepping the raw weights.

``WeightEMA`` keeps the average with timm's ``ModelEmaV3`` (its decay warm-up
makes the first steps count fully, so a random initialisation does not linger)
and exchanges it with the live weights in place: ``use_average()`` before
validation and test, ``use_training()`` before a training epoch. It is a
checkpoint recoverable: a checkpoint written while the average is live holds
the average as the model and the raw weights here, with a flag that says so,
so resuming, reloading the best checkpoint and weight averaging of
checkpoints all see the same model that was validated.

Authors
 * speechbrain-ast contributors 2026
"""

import torch
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from timm.utils.model_ema import ModelEmaV3

__all__ = ["WeightEMA"]


@register_checkpoint_hooks
class WeightEMA:
    """A moving average of the weights of ``modules`` that can stand in for them.

    Arguments
    ---------
    modules : list of torch.nn.Module
        The modules averaged together (encoder and head).
    decay : float
        The largest decay per optimizer step (0.998: an average over about
        the last 500 steps, once the warm-up has reached it). 0 switches the
        average off: ``update`` and the swaps do nothing and the raw weights
        are validated and exported.
    warmup_power : float
        timm's decay warm-up, ``1 - (1 + step) ** -warmup_power`` up to
        ``decay``: the average starts as the weights of step 1 and lengthens
        its memory as training goes on (3/4: decay 0.99 at step 460 and
        0.998 at step 3,970; 1: the plain mean of all steps until ``decay``,
        reached at step 500 for 0.998).

    Example
    -------
    >>> layer = torch.nn.Linear(2, 1)
    >>> ema = WeightEMA([layer], decay=0.9)
    >>> with torch.no_grad():
    ...     _ = layer.weight.fill_(1.0)
    >>> ema.update(step=1)  # the first update copies the weights
    >>> with torch.no_grad():
    ...     _ = layer.weight.fill_(3.0)
    >>> ema.update(step=10_000)  # then decay 0.9: 1 + 0.1 * (3 - 1)
    >>> ema.use_average()
    >>> layer.weight
    Parameter containing:
    tensor([[1.2000, 1.2000]], requires_grad=True)
    >>> ema.use_training()
    >>> layer.weight[0, 0].item()
    3.0
    """

    def __init__(self, modules, decay=0.998, warmup_power=0.75):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {decay}")
        self.live = torch.nn.ModuleList(modules)
        self.decay = decay
        self.average = None
        if decay > 0:
            self.average = ModelEmaV3(
                self.live,
                decay=decay,
                use_warmup=True,
                warmup_power=warmup_power,
            )
        self.average_is_live = False
        self.restart = False

    @property
    def active(self):
        """Whether an average is kept (``decay > 0``)."""
        return self.average is not None

    def _follow_device(self):
        """Keep the average where the live weights are (the Brain moves them)."""
        device = next(self.live.parameters()).device
        if next(self.average.module.parameters()).device != device:
            self.average.module.to(device)

    @torch.no_grad()
    def update(self, step):
        """Move the average toward the raw weights after optimizer step ``step``.

        Arguments
        ---------
        step : int
            The optimizer steps taken so far (1 for the first): it sets the
            warmed-up decay.
        """
        if not self.active:
            return
        if self.average_is_live:
            raise RuntimeError(
                "WeightEMA.update while the average is live: call use_training() first"
            )
        self._follow_device()
        # Step 1 of timm's warm-up copies the weights instead of averaging.
        self.average.update(self.live, step=1 if self.restart else step)
        self.restart = False

    @torch.no_grad()
    def _swap(self):
        self._follow_device()
        live = self.live.state_dict(keep_vars=True).values()
        kept = self.average.module.state_dict(keep_vars=True).values()
        for live_value, kept_value in zip(live, kept):
            held = live_value.detach().clone()
            live_value.data.copy_(kept_value.data)
            kept_value.data.copy_(held)
        self.average_is_live = not self.average_is_live

    def use_average(self):
        """Put the averaged weights into the modules (validation, test, export)."""
        if self.active and not self.average_is_live:
            self._swap()

    def use_training(self):
        """Put the raw weights back into the modules (before training steps)."""
        if self.active and self.average_is_live:
            self._swap()

    def use_for(self, training):
        """The raw weights for a training stage, the average for any other.

        Arguments
        ---------
        training : bool
            True before a training epoch, False before validation or test.
        """
        if training:
            self.use_training()
        else:
            self.use_average()

    @mark_as_saver
    def _save(self, path):
        state = None if not self.active else self.average.module.state_dict()
        torch.save(
            {
                "decay": self.decay,
                "average_is_live": self.average_is_live,
                "state": state,
            },
            path,
        )

    @mark_as_loader
    def _recover(self, path, end_of_epoch=True):
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved["state"] is None or not self.active:
            # The average was switched on or off since that checkpoint: the
            # modules hold what was validated, and the next update restarts
            # the average from the weights of that step.
            self.average_is_live = False
            self.restart = self.active
            return
        self._follow_device()
        self.average.module.load_state_dict(saved["state"])
        self.average_is_live = saved["average_is_live"]
