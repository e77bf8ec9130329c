"""The training plan printed before a run, and its time estimates during it.

A run that silently becomes 215 epochs of 14 steps, or trains its first
epochs at learning rate 0, looks like any other until it ends. The plan says
up front what will happen (epochs, steps, warm-up, decay points, weight
averaging); the clock turns the first timed steps into an estimate of the
run's minutes and reports ``epoch k/N`` with the time left after every epoch.

Authors
 * speechbrain-ast contributors 2026
"""

import dataclasses
import time

__all__ = ["RunPlan", "ProgressClock"]

NORMALIZATION_TEXT = {
    "clip": "each clip's own statistics",
    "clip_sound": "each clip's own statistics, digital silence left out",
    "dataset": "the training set's statistics",
}


@dataclasses.dataclass
class RunPlan:
    """What a training run will do, in optimizer steps and epochs.

    Arguments
    ---------
    epochs : int
        Epochs of the run.
    steps_per_epoch : int
        Optimizer steps per epoch (per process under DDP).
    lr : float
        Peak learning rate.
    warmup_steps : int
        Warm-up length in optimizer steps (0: none).
    warmup_every : int
        The warm-up lr changes every this many steps (1: a smooth ramp).
    decay_epochs : list of int
        Epochs after which the learning rate is multiplied by ``decay``.
    decay : float
        The factor at each of them.
    wa_epochs : tuple of int, optional
        First and last epoch of the weight average, None without one.
    normalization : str, optional
        The fbank normalisation (``clip`` or ``dataset``), None: not said.
    ema_decay : float
        Decay of the moving average of the weights that is validated and
        exported (0: none, the raw weights are).
    notes : list of str
        Changes made to the configured schedule, and why.

    Example
    -------
    >>> plan = RunPlan(10, 14, 6e-4, 14, 1, [5, 6, 7], 0.5)
    >>> plan.total_steps
    140
    >>> print(plan.describe())  # doctest: +NORMALIZE_WHITESPACE
    plan: 10 epochs x 14 steps = 140 optimizer steps; lr 0.0006; warm-up 14 steps
    (smooth); lr x0.5 after epochs 5, 6, 7
    >>> print(
    ...     RunPlan(10, 14, 6e-4, 0, 1, [], 0.5, normalization="clip", ema_decay=0.998).describe()
    ... )  # doctest: +NORMALIZE_WHITESPACE
    plan: 10 epochs x 14 steps = 140 optimizer steps; lr 0.0006; no warm-up; fbank
    normalised by each clip's own statistics; validated and exported: the weights'
    moving average (decay 0.998)
    """

    epochs: int
    steps_per_epoch: int
    lr: float
    warmup_steps: int
    warmup_every: int
    decay_epochs: list
    decay: float
    wa_epochs: tuple = None
    normalization: str = None
    ema_decay: float = 0.0
    notes: list = dataclasses.field(default_factory=list)

    @property
    def total_steps(self):
        """Optimizer steps of the whole run."""
        return self.epochs * self.steps_per_epoch

    def describe(self):
        """The plan in one paragraph, then one line per note."""
        parts = [
            f"plan: {self.epochs} epochs x {self.steps_per_epoch} steps = "
            f"{self.total_steps} optimizer steps; lr {self.lr:g}"
        ]
        if self.warmup_steps:
            ramp = "smooth" if self.warmup_every == 1 else f"stepped every {self.warmup_every}"
            parts.append(f"warm-up {self.warmup_steps} steps ({ramp})")
        else:
            parts.append("no warm-up")
        decays = [epoch for epoch in self.decay_epochs if epoch < self.epochs]
        if decays:
            shown = ", ".join(str(epoch) for epoch in decays[:8])
            more = f" (+{len(decays) - 8} more)" if len(decays) > 8 else ""
            parts.append(f"lr x{self.decay:g} after epochs {shown}{more}")
        if self.wa_epochs:
            parts.append(f"weights averaged over epochs {self.wa_epochs[0]}-{self.wa_epochs[1]}")
        if self.normalization:
            parts.append(f"fbank normalised by {NORMALIZATION_TEXT.get(self.normalization, self.normalization)}")
        if self.ema_decay:
            parts.append(f"validated and exported: the weights' moving average (decay {self.ema_decay:g})")
        return "; ".join(parts) + "".join(f"\nnote: {note}" for note in self.notes)


class ProgressClock:
    """Time estimates of a run: after its first timed steps, then per epoch.

    Arguments
    ---------
    plan : RunPlan
        The run.
    first_steps : int
        Steps timed before the first estimate (the very first step, which
        warms caches up, is not counted).
    clock : callable
        Seconds (``time.perf_counter``; a fake in tests).

    Example
    -------
    >>> now = [0.0]
    >>> clock = ProgressClock(RunPlan(4, 10, 1e-3, 0, 50, [], 0.5), first_steps=2,
    ...                       clock=lambda: now[0])
    >>> for _ in range(3):
    ...     now[0] += 1.5
    ...     message = clock.step_done()
    >>> message
    'first 2 steps: 1.50 s each; the 40 training steps take about 1.0 min (validation not counted)'
    >>> now[0] = 30.0
    >>> clock.epoch_done(1)
    'epoch 1/4 done: 0.5 min so far, about 1.5 min left'
    """

    def __init__(self, plan, first_steps=10, clock=time.perf_counter):
        self.plan, self.first_steps, self.clock = plan, first_steps, clock
        self.start = clock()
        self.step_times, self.last_step = [], None
        self.epochs_here = 0
        self.estimated = False

    def step_done(self):
        """Record a step; the estimate once ``first_steps`` are timed, else None."""
        now = self.clock()
        if self.last_step is not None:
            self.step_times.append(now - self.last_step)
        self.last_step = now
        # Once: the first step of the next epoch adds no time (its gap is not
        # a step) and would otherwise find the count still at first_steps.
        if self.estimated or len(self.step_times) != self.first_steps:
            return None
        self.estimated = True
        per_step = sorted(self.step_times)[len(self.step_times) // 2]
        minutes = per_step * self.plan.total_steps / 60
        return (
            f"first {self.first_steps} steps: {per_step:.2f} s each; the "
            f"{self.plan.total_steps} training steps take about {minutes:.1f} min "
            "(validation not counted)"
        )

    def epoch_done(self, epoch):
        """``epoch k/N`` with the time so far and the time left (from this process's epochs)."""
        self.epochs_here += 1
        self.last_step = None  # the gap to the next epoch's first step is not a step
        elapsed = self.clock() - self.start
        left = elapsed / self.epochs_here * max(0, self.plan.epochs - epoch)
        return (
            f"epoch {epoch}/{self.plan.epochs} done: {elapsed / 60:.1f} min so far, "
            f"about {left / 60:.1f} min left"
        )
