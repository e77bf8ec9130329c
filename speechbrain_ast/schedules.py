"""The official AST learning-rate schedule, as a stateless function of time.

The official ``traintest.py`` steps a ``MultiStepLR`` with milestones
``range(start, 1000, step)`` and factor ``decay`` once per epoch, and (for
AudioSet) overwrites the learning rate with a linear warm-up during the first
1000 optimizer steps, only at steps that are multiples of 50
(``lr = step / 1000 * lr0``), so steps 0-49 run at learning rate 0.

``OfficialLRSchedule`` computes the same value from ``(epoch, step)`` alone,
so resuming needs no scheduler state: the Brain passes the current epoch and
the global optimizer step.

Authors
 * speechbrain-ast contributors 2026
"""

import bisect
import math

__all__ = ["OfficialLRSchedule", "fit_warmup_to_run", "halving_milestones"]


class OfficialLRSchedule:
    """Epoch-wise multi-step decay with the official step-wise linear warm-up.

    Epoch ``e`` (1-based) uses ``lr * decay ** k`` where ``k`` is the number
    of milestones ``m`` in ``range(milestones_start, milestones_end,
    milestones_step)`` with ``m <= e - 1`` (``MultiStepLR`` stepped after each
    epoch, the lr logged in the official ``result.csv``). During warm-up
    (global step ``s <= warmup_steps``) that value is multiplied by
    ``(s // warmup_every) * warmup_every / warmup_steps``: with the official
    ``warmup_every=50`` the factor changes every 50 steps and is 0 for steps
    0-49; ``warmup_every=1`` gives a smooth ramp that starts above 0,
    ``(s + 1) / warmup_steps``, so no step trains at learning rate 0.

    The official warm-up sets ``step / 1000 * lr0``, independent of the
    epoch, and ``MultiStepLR`` multiplies the *current* lr at milestones. Both
    agree with the value here whenever the warm-up ends before the first
    milestone epoch starts, which holds for all official recipes (AudioSet:
    1,733+ steps per epoch, first milestone after epoch 2 or 10). In the
    degenerate case where a milestone falls inside the warm-up, the official
    code loses that decay step for good; here it is kept.

    Arguments
    ---------
    lr : float
        Base learning rate ``lr0``.
    milestones_start : int
        First milestone (official ``--lrscheduler_start``).
    milestones_step : int
        Milestone spacing (official ``--lrscheduler_step``).
    decay : float
        Factor per milestone (official ``--lrscheduler_decay``).
    warmup_steps : int
        Warm-up length in optimizer steps (official: 1000 for AudioSet, 0 =
        no warm-up elsewhere).
    warmup_every : int
        The warm-up lr is updated every this many steps (official 50).
    milestones_end : int
        End (exclusive) of the milestone range (official 1000). The released
        Speech Commands log was made with the older hard-coded
        ``range(5, 26)``, i.e. ``milestones_end=26`` (lr frozen after epoch 26).

    Example
    -------
    >>> sched = OfficialLRSchedule(2.5e-4, 5, 1, 0.85)
    >>> [round(sched.lr_at(epoch), 10) for epoch in (1, 5, 6, 10)]
    [0.00025, 0.00025, 0.0002125, 0.0001109263]
    >>> warm = OfficialLRSchedule(5e-5, 10, 5, 0.5, warmup_steps=1000)
    >>> [warm.lr_at(1, step) for step in (0, 49, 50, 999, 1000, 5000)]
    [0.0, 0.0, 2.5e-06, 4.75e-05, 5e-05, 5e-05]
    >>> import torch
    >>> opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> warm(opt, epoch=11, step=5000)
    2.5e-05
    >>> opt.param_groups[0]["lr"]
    2.5e-05
    """

    def __init__(
        self,
        lr,
        milestones_start,
        milestones_step,
        decay,
        warmup_steps=0,
        warmup_every=50,
        milestones_end=1000,
    ):
        if lr < 0:
            raise ValueError(f"lr must be non-negative, got {lr}")
        if milestones_step < 1:
            raise ValueError(f"milestones_step must be >= 1, got {milestones_step}")
        if warmup_steps < 0 or warmup_every < 1:
            raise ValueError("need warmup_steps >= 0 and warmup_every >= 1")
        self.lr = float(lr)
        self.milestones_start = int(milestones_start)
        self.milestones_step = int(milestones_step)
        self.milestones_end = int(milestones_end)
        self.decay = float(decay)
        self.warmup_steps = int(warmup_steps)
        self.warmup_every = int(warmup_every)
        self.milestones = list(
            range(self.milestones_start, self.milestones_end, self.milestones_step)
        )

    def epoch_lr(self, epoch):
        """Learning rate of (1-based) ``epoch`` without warm-up.

        Arguments
        ---------
        epoch : int
            Epoch number, starting at 1.

        Returns
        -------
        float
            ``lr * decay ** (number of milestones <= epoch - 1)``.
        """
        if epoch < 1:
            raise ValueError(f"epochs are 1-based, got {epoch}")
        n_decays = bisect.bisect_right(self.milestones, epoch - 1)
        return self.lr * self.decay**n_decays

    def warmup_factor(self, step):
        """Warm-up multiplier at global optimizer step ``step`` (0-based).

        Arguments
        ---------
        step : int
            Number of optimizer steps already taken.

        Returns
        -------
        float
            ``(step // warmup_every) * warmup_every / warmup_steps`` during
            warm-up (``(step + 1) / warmup_steps`` for the smooth ramp,
            ``warmup_every=1``), else 1.
        """
        if self.warmup_steps == 0 or step >= self.warmup_steps:
            return 1.0
        if step < 0:
            raise ValueError(f"step must be non-negative, got {step}")
        if self.warmup_every == 1:
            return (step + 1) / self.warmup_steps
        return (step // self.warmup_every) * self.warmup_every / self.warmup_steps

    def lr_at(self, epoch, step=None):
        """Learning rate for the optimizer step ``step`` inside ``epoch``.

        Arguments
        ---------
        epoch : int
            Current epoch, 1-based.
        step : int, optional
            Global optimizer step (0-based, counted over all epochs); None
            ignores the warm-up.

        Returns
        -------
        float
            The learning rate.
        """
        lr = self.epoch_lr(epoch)
        if step is not None:
            lr = lr * self.warmup_factor(step)
        return lr

    def __call__(self, optimizer, epoch, step=None):
        """Set the learning rate of every param group and return it.

        Arguments
        ---------
        optimizer : torch.optim.Optimizer
            The optimizer to update.
        epoch : int
            Current epoch, 1-based.
        step : int, optional
            Global optimizer step (0-based) of the step about to be taken.

        Returns
        -------
        float
            The learning rate set.
        """
        lr = self.lr_at(epoch, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr

    def __repr__(self):
        return (
            f"{type(self).__name__}(lr={self.lr}, milestones_start="
            f"{self.milestones_start}, milestones_step={self.milestones_step}, "
            f"decay={self.decay}, warmup_steps={self.warmup_steps}, "
            f"warmup_every={self.warmup_every}, milestones_end={self.milestones_end})"
        )


def halving_milestones(epochs, decay_start=None):
    """The small-model schedule's milestones for a run of ``epochs`` epochs.

    The learning rate is halved every sixth of the run from halfway, and
    weight averaging (when switched on) averages the epochs after the first
    halving. ``ast_small_scratch.yaml`` derives its ``auto`` keys from this,
    and ``make demo`` its shorter run.

    Arguments
    ---------
    epochs : int
        Number of epochs of the run.
    decay_start : int, optional
        The first halving when it is set elsewhere (None: halfway).

    Returns
    -------
    dict
        ``lr_decay_start``, ``lr_decay_step`` and ``wa_start`` (epochs).

    Example
    -------
    >>> halving_milestones(60)
    {'lr_decay_start': 30, 'lr_decay_step': 10, 'wa_start': 31}
    >>> halving_milestones(1)
    {'lr_decay_start': 1, 'lr_decay_step': 1, 'wa_start': 1}
    >>> halving_milestones(60, decay_start=40)["wa_start"]
    41
    """
    start = max(1, epochs // 2) if decay_start is None else int(decay_start)
    return {
        "lr_decay_start": start,
        "lr_decay_step": max(1, epochs // 6),
        "wa_start": min(epochs, start + 1),
    }


def fit_warmup_to_run(warmup_steps, warmup_every, total_steps, steps_per_epoch,
                      share=0.1, max_steps=300):
    """A warm-up that fits the run: never a whole epoch at learning rate 0.

    The official stepped warm-up (300 or 1000 steps, the lr updated every 50)
    is right for AudioSet's 1,733+ steps per epoch; on 200 clips (14 steps an
    epoch) its first 50 steps, three and a half epochs, train at lr 0. Here:

    * ``"auto"``: ``share`` of the run's optimizer steps, at most
      ``max_steps``, as a smooth ramp;
    * a warm-up as long as the run or longer: shortened to ``share`` of it,
      smooth;
    * a stepped warm-up whose first block (``warmup_every`` steps at lr 0)
      lasts an epoch or more: made smooth, same length.

    Arguments
    ---------
    warmup_steps : int or str
        Warm-up length in optimizer steps, or ``"auto"``.
    warmup_every : int
        The warm-up lr is updated every this many steps (1: smooth).
    total_steps : int
        Optimizer steps of the whole run.
    steps_per_epoch : int
        Optimizer steps of one epoch.
    share : float
        Share of the run an ``auto`` or shortened warm-up takes.
    max_steps : int
        Longest ``auto`` warm-up.

    Returns
    -------
    warmup_steps : int
        The warm-up to use.
    warmup_every : int
        Its update interval.
    note : str or None
        What was changed and why (None when nothing was).

    Example
    -------
    >>> fit_warmup_to_run("auto", 1, total_steps=3000, steps_per_epoch=100)
    (300, 1, None)
    >>> fit_warmup_to_run("auto", 1, total_steps=140, steps_per_epoch=14)
    (14, 1, None)
    >>> fit_warmup_to_run(300, 50, total_steps=140, steps_per_epoch=14)[:2]
    (14, 1)
    >>> fit_warmup_to_run(1000, 50, total_steps=100000, steps_per_epoch=1733)
    (1000, 50, None)
    """
    total_steps, steps_per_epoch = max(1, int(total_steps)), max(1, int(steps_per_epoch))
    scaled = max(1, math.ceil(share * total_steps))
    if warmup_steps == "auto":
        return min(int(max_steps), scaled), 1, None
    warmup_steps, warmup_every = int(warmup_steps), int(warmup_every)
    if warmup_steps <= 0:
        return 0, warmup_every, None
    if warmup_steps >= total_steps:
        return scaled, 1, (
            f"warm-up of {warmup_steps} steps is as long as the whole run "
            f"({total_steps} steps): shortened to {scaled} steps "
            f"({share:.0%} of the run), a smooth ramp"
        )
    if warmup_every > 1 and warmup_every >= steps_per_epoch:
        return warmup_steps, 1, (
            f"a warm-up updated every {warmup_every} steps trains its first "
            f"{warmup_every} steps at lr 0, more than an epoch of "
            f"{steps_per_epoch} steps: made a smooth ramp"
        )
    return warmup_steps, warmup_every, None
