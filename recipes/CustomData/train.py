#!/usr/bin/env python3
"""Recipe for training the Audio Spectrogram Transformer (AST) on your own sounds.

``--data_folder`` is either a folder with one sub-folder per class, or a CSV
file with ``path,label`` columns (``;`` between labels makes the task
multi-label; optional ``split`` and ``group`` columns): see
``custom_data_prepare.py``. Nothing else is needed: the split (stratified,
seeded), the number of classes, single- or multi-label, the input length and
the fbank statistics are derived from the data and written to
``<save_folder>/data_config.yaml``; every YAML value set to ``auto`` comes
from there unless given on the command line.

To run this recipe:
> python train.py hparams/ast.yaml --data_folder /path/to/my_sounds
> python train.py hparams/ast_small_scratch.yaml --data_folder my_sounds.csv

Single-label data: softmax scores, cross-entropy, accuracy selects the epoch.
Multi-label data: sigmoid scores, BCE, mAP selects the epoch.

Authors
 * speechbrain-ast contributors 2026
"""

import math
import os
import sys

import torch
import yaml
from custom_data_prepare import prepare_custom_data
from hyperpyyaml import load_hyperpyyaml
from speechbrain_ast.schedules import fit_warmup_to_run, halving_milestones
from speechbrain_ast.training.clip_cache import CachedClipLoader
from speechbrain_ast.training.cpu_memory import keep_freed_memory
from speechbrain_ast.training.dataio import (
    check_manifest_labels,
    load_training_clip,
    read_classes,
    targets_from_labels,
)
from speechbrain_ast.training.distributed import (
    finish_distributed,
    init_distributed,
    world_size,
)
from speechbrain_ast.training.final_evaluation import evaluate_and_export
from speechbrain_ast.training.history import StepTimer
from speechbrain_ast.training.logmel_baseline import run_baseline
from speechbrain_ast.training.metrics import TaggingStats
from speechbrain_ast.training.mixup_partners import mixup_partners
from speechbrain_ast.training.progress import ProgressClock, RunPlan
from speechbrain_ast.training.reports import optional_step
from speechbrain_ast.training.run_options import checked_run_options
from speechbrain_ast.training.run_summary import write_run_summary
from speechbrain_ast.training.settings import (
    data_decided,
    plain_settings,
    read_data_config,
    with_derived_values,
)
from speechbrain_ast.training.sharded_evaluation import ShardedEvaluationBrain
from speechbrain_ast.training.train_loader import without_single_clip_batch

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.logger import get_logger

logger = get_logger(__name__)

# YAML keys that may say ``auto``: their values come from data_config.yaml.
DERIVED_KEYS = (
    "n_classes",
    "multi_label",
    "n_frames",
    "timem",
    "time_roll",
    "norm_mean",
    "norm_std",
)


class CustomDataBrain(ShardedEvaluationBrain):
    """AST for your own single- or multi-label sound classification task.

    waveform -> [mixup] -> Kaldi fbank -> [SpecAugment] -> (x - mean) / (2 std)
    -> [noise + time roll] -> AST -> head -> logits. ``hparams.multi_label``
    chooses sigmoid scores and mAP, or softmax scores and accuracy.
    """

    def compute_forward(self, batch, stage):
        """Features, augmentation (training only) and the model; returns logits and targets."""
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        targets = batch.targets.data
        if stage == sb.Stage.TRAIN:
            wavs = self.perturb_speed(wavs)
            # Partners from the batch, or drawn from the whole training set.
            draw = getattr(self, "mixup_partners", None)
            partners = draw(len(wavs), self.device) if draw else None
            wavs, lens, targets = self.hparams.mixup(
                wavs, lens, targets, partners=partners
            )
        feats = self.modules.compute_features(wavs, lens)
        if stage == sb.Stage.TRAIN:
            feats = self.modules.spec_augment(feats)
        feats = self.modules.mean_var_norm(feats, lens)
        if stage == sb.Stage.TRAIN:
            feats = self.hparams.feature_noise(feats)
        # No lengths: the window is n_frames for every clip, all of them count
        # (as in the ONNX graph); SpeechBrain's pooled CNNs would read the
        # batch's relative lengths as a share of that window, so a clip's
        # embedding would depend on the clips beside it.
        embeddings = self.modules.embedding_model(feats)
        logits = self.modules.classifier(embeddings).squeeze(1)
        return logits, targets

    def perturb_speed(self, wavs):
        """The YAML's ``speed_perturb`` (if it has one) on a training batch.

        Off (``speed_change: 0``) is skipped, not resampled at ratio 1.
        """
        perturb = getattr(self.hparams, "speed_perturb", None)
        if perturb is None or not self.hparams.speed_change:
            return wavs
        return perturb(wavs)

    def compute_objectives(self, predictions, batch, stage):
        """The task's loss; collects the scores outside training."""
        logits, targets = predictions
        loss = self.hparams.compute_cost(logits.float(), targets)
        if stage != sb.Stage.TRAIN:
            self.scores.append(batch.id, self.probabilities(logits), targets)
        return loss

    def probabilities(self, logits):
        """Sigmoid scores for multi-label data, softmax for single-label."""
        if self.hparams.multi_label:
            return torch.sigmoid(logits.float())
        return torch.softmax(logits.float(), dim=-1)

    @property
    def main_metric(self):
        """mAP selects the epoch for multi-label data, accuracy otherwise."""
        return "mAP" if self.hparams.multi_label else "accuracy"

    def on_fit_batch_start(self, batch, should_step):
        """Set this step's learning rate (warm-up and decay)."""
        self.step_timer.step_start()
        self.current_lr = self.hparams.lr_schedule(
            self.optimizer,
            self.hparams.epoch_counter.current,
            self.optimizer_step,
        )

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Account the step time; move the weight average (if any) on."""
        self.step_timer.step_end()
        if should_step and self.weight_ema is not None:
            self.weight_ema.update(self.optimizer_step)
        if should_step and hasattr(self, "progress"):
            estimate = self.progress.step_done()
            if estimate and sb.utils.distributed.if_main_process():
                logger.info(estimate)

    @property
    def weight_ema(self):
        """The YAML's ``weight_ema`` (a moving average of the weights), or None."""
        return getattr(self.hparams, "weight_ema", None)

    def on_stage_start(self, stage, epoch=None):
        """Fresh score accumulator and step timer; which weights are live.

        Training steps the raw weights; validation and test score (and the
        checkpoints keep) their moving average when the YAML has one.
        """
        self.scores = TaggingStats()
        self.step_timer = StepTimer()
        if stage == sb.Stage.TRAIN:
            self.current_lr = None
        if self.weight_ema is not None:
            self.weight_ema.use_for(training=stage == sb.Stage.TRAIN)

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, record the epoch in the run history, checkpoint on validation."""
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss, **self.step_timer.summary()}
            return
        # Under DDP each rank scored a share of the set: gather the whole set.
        self.scores, stage_loss = self.whole_set_scores(self.scores, stage_loss)
        summary = self.scores.summarize()
        names = (
            ("mAP", "mAUC", "d_prime")
            if self.hparams.multi_label
            else ("accuracy",)
        )
        stats = {"loss": stage_loss, **{name: summary[name] for name in names}}
        if stage == sb.Stage.VALID:
            history = self.hparams.history
            stats[f"cum_{self.main_metric}"] = history.ensemble_metric(
                history.valid_ensemble, self.scores, self.main_metric
            )
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": self.current_lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            history.add_epoch(
                {"epoch": epoch, "lr": self.current_lr}
                | {
                    f"train_{key}": value
                    for key, value in self.train_stats.items()
                }
                | {f"valid_{key}": value for key, value in stats.items()}
            )
            self.checkpointer.save_and_keep_only(
                meta={
                    "epoch": epoch,
                    self.main_metric: stats[self.main_metric],
                },
                max_keys=[self.main_metric],
                num_to_keep=self.hparams.keep_checkpoints,
            )
            if (
                hasattr(self, "progress")
                and sb.utils.distributed.if_main_process()
            ):
                logger.info(self.progress.epoch_done(epoch))
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"Epoch loaded": self.hparams.epoch_counter.current},
                **{
                    f"{self.evaluation_set}_stats": stats
                },  # test, or valid (WA)
            )
            self.test_stats, self.test_scores = stats, self.scores


def dataio_prep(hparams):
    """Datasets of the manifests written by ``prepare_custom_data``.

    Arguments
    ---------
    hparams : dict
        Needs ``save_folder`` and ``sample_rate``; ``audio_cache_mb`` keeps
        decoded clips in memory between epochs (0: off).

    Returns
    -------
    tuple
        ``{"train", "valid", "test"}`` -> ``DynamicItemDataset`` with output
        keys ``id, sig, targets``; and the class names in output order.
    """
    label_names = read_classes(
        os.path.join(hparams["save_folder"], "classes.txt")
    )
    class_index = {name: index for index, name in enumerate(label_names)}
    load_clip = CachedClipLoader(load_training_clip, hparams["audio_cache_mb"])

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav):
        return load_clip(wav, hparams["sample_rate"])

    @sb.utils.data_pipeline.takes("id", "labels")
    @sb.utils.data_pipeline.provides("targets")
    def label_pipeline(item_id, labels):
        return targets_from_labels(labels, class_index, item_id)

    datasets = {}
    for split in ("train", "valid", "test"):
        manifest = os.path.join(hparams["save_folder"], f"{split}.csv")
        check_manifest_labels(manifest, class_index)
        datasets[split] = sb.dataio.dataset.DynamicItemDataset.from_csv(
            csv_path=manifest,
            dynamic_items=[audio_pipeline, label_pipeline],
            output_keys=["id", "sig", "targets"],
        )
    return datasets, label_names


def derived_schedule(settings, overrides, n_train):
    """Epochs and learning-rate milestones for the YAML's ``auto`` schedule keys.

    A small model learns from optimizer steps, not from epochs: 30 epochs of
    168 clips in batches of 12 are 420 steps, far too few, while 30 epochs of
    1,200 clips are 3,000. ``number_of_epochs: auto`` gives about
    ``train_steps`` steps whatever the data size (within ``min_epochs`` and
    ``max_epochs``); ``lr_decay_start: auto`` starts halving the learning rate
    halfway, every sixth of the run (``lr_decay_step: auto``), and
    ``wa_start: auto`` averages the weights of the epochs from there on.

    Arguments
    ---------
    settings : dict
        The YAML's top-level values
        (:func:`speechbrain_ast.training.settings.plain_settings`).
    overrides : dict
        Command-line and data-derived values (they win over ``settings``).
    n_train : int
        Training clips.

    Returns
    -------
    dict
        Values for the schedule keys that are ``auto`` and not overridden.

    Example
    -------
    >>> settings = {
    ...     "number_of_epochs": "auto",
    ...     "train_steps": 3000,
    ...     "batch_size": 12,
    ...     "min_epochs": 30,
    ...     "max_epochs": 300,
    ...     "lr_decay_start": "auto",
    ...     "lr_decay_step": "auto",
    ...     "wa_start": "auto",
    ... }
    >>> derived_schedule(settings, {}, 1200)
    {'number_of_epochs': 30, 'lr_decay_start': 15, 'lr_decay_step': 5, 'wa_start': 16}
    >>> derived_schedule(settings, {"number_of_epochs": 8}, 168)[
    ...     "lr_decay_start"
    ... ]
    4
    """

    # Read as settings["key"], the form SpeechBrain's YAML/script check sees.
    settings = {**settings, **overrides}
    derived = {}
    epochs = settings["number_of_epochs"]
    if epochs == "auto":
        steps_per_epoch = math.ceil(n_train / settings["batch_size"])
        epochs = math.ceil(settings["train_steps"] / steps_per_epoch)
        epochs = min(
            settings["max_epochs"], max(settings["min_epochs"], epochs)
        )
        derived["number_of_epochs"] = epochs
    start = settings["lr_decay_start"]
    # Weight averaging follows the first halving, wherever that was set.
    milestones = halving_milestones(
        int(epochs), None if start == "auto" else start
    )
    for key, milestone in milestones.items():
        if settings[key] == "auto":
            derived[key] = milestone
    return derived


def optimizer_steps_per_epoch(n_train, batch_size):
    """Optimizer steps of one epoch in this process (DDP splits the clips).

    Arguments
    ---------
    n_train : int
        Training clips.
    batch_size : int
        Clips per step and process.

    Returns
    -------
    int
        ``ceil(n_train / (batch_size * world size))``.

    Example
    -------
    >>> optimizer_steps_per_epoch(200, 12)
    17
    """
    return math.ceil(n_train / (batch_size * world_size()))


def derived_warmup(settings, overrides, n_train):
    """A warm-up fitted to the run's length (``warmup_steps: auto`` or too long).

    Arguments
    ---------
    settings : dict
        The YAML's top-level values.
    overrides : dict
        Command-line, data-derived and schedule values (they win).
    n_train : int
        Training clips.

    Returns
    -------
    dict
        ``warmup_steps`` and ``warmup_every`` when they change.
    str or None
        Why they changed (None: as configured, or ``auto``).

    Example
    -------
    >>> settings = {
    ...     "batch_size": 12,
    ...     "warmup_steps": 300,
    ...     "warmup_every": 50,
    ...     "max_warmup_steps": 300,
    ...     "number_of_epochs": 10,
    ... }
    >>> derived_warmup(settings, {}, 168)[0]
    {'warmup_steps': 14, 'warmup_every': 1}
    """
    settings = {**settings, **overrides}
    steps_per_epoch = optimizer_steps_per_epoch(n_train, settings["batch_size"])
    total = int(settings["number_of_epochs"]) * steps_per_epoch
    warmup_steps, warmup_every, note = fit_warmup_to_run(
        settings["warmup_steps"],
        settings["warmup_every"],
        total,
        steps_per_epoch,
        max_steps=settings["max_warmup_steps"],
    )
    derived = {}
    if warmup_steps != settings["warmup_steps"]:
        derived["warmup_steps"] = warmup_steps
    if warmup_every != settings["warmup_every"]:
        derived["warmup_every"] = warmup_every
    return derived, note


def run_plan(hparams, n_train, notes):
    """The :class:`RunPlan` of a loaded recipe, for the log and the clock.

    Arguments
    ---------
    hparams : dict
        The loaded YAML.
    n_train : int
        Training clips.
    notes : list of str
        Changes made to the configured schedule.

    Returns
    -------
    RunPlan
        Epochs, steps, warm-up, decay epochs and weight averaging.
    """
    schedule = hparams["lr_schedule"]
    epochs = int(hparams["number_of_epochs"])
    return RunPlan(
        epochs=epochs,
        steps_per_epoch=optimizer_steps_per_epoch(
            n_train, hparams["batch_size"]
        ),
        lr=schedule.lr,
        warmup_steps=schedule.warmup_steps,
        warmup_every=schedule.warmup_every,
        decay_epochs=[m for m in schedule.milestones if 1 <= m < epochs],
        decay=schedule.decay,
        wa_epochs=(hparams["wa_start"], hparams["wa_end"])
        if hparams["weight_averaging"]
        else None,
        normalization=hparams.get("normalization", "dataset"),
        ema_decay=hparams.get("ema_decay", 0.0),
        notes=[note for note in notes if note],
    )


if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    overrides = yaml.safe_load(overrides) or {}
    init_distributed(run_opts)  # SpeechBrain's group, destroyed at exit

    # The data decides what the YAML leaves to it (``auto``).
    settings = plain_settings(hparams_file, overrides)
    # The keys the preparation measures unless given (the YAML's from_data).
    from_data = settings["from_data"] if "from_data" in settings else []
    settings = data_decided(settings, from_data, overrides)
    if not settings.get("data_folder"):
        sys.exit(
            "pass --data_folder: a folder with one sub-folder per class, or a CSV file"
        )
    # Logging to <output_folder>/log.txt from the preparation on; the
    # hyperparams.yaml written here is rewritten with the derived values below.
    sb.create_experiment_directory(
        experiment_directory=settings["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    run_on_main(
        prepare_custom_data,
        kwargs={
            "data_folder": settings["data_folder"],
            "save_folder": settings["save_folder"],
            "valid_ratio": settings["valid_ratio"],
            "test_ratio": settings["test_ratio"],
            "seed": settings["seed"],
            "max_frames": settings["max_frames"],
            "group_regex": settings["group_regex"],
            "check_leakage": settings["check_leakage"],
            "skip_prep": settings["skip_prep"],
        },
    )
    data_config = read_data_config(
        os.path.join(settings["save_folder"], "data_config.yaml")
    )
    overrides = with_derived_values(
        settings, overrides, data_config, DERIVED_KEYS
    )
    n_train = data_config["clips"]["train"]
    overrides.update(derived_schedule(settings, overrides, n_train))
    warmup, warmup_note = derived_warmup(settings, overrides, n_train)
    overrides.update(warmup)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    try:  # SpeechBrain's run-option traps: negative max_grad_norm, str ints
        run_opts = checked_run_options(
            run_opts, hparams, hparams.get("cuda_precision")
        )
    except ValueError as error:
        sys.exit(f"error: {error}")
    keep_freed_memory(run_opts.device)  # no page faults per CPU step
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    # Pretrained weights now, not when the YAML was loaded (it only declares them).
    hparams["initialize_encoder"]()
    datasets, label_names = dataio_prep(hparams)
    if len(label_names) != hparams["n_classes"]:
        sys.exit(
            f"the data has {len(label_names)} classes, the model is built for "
            f"n_classes={hparams['n_classes']}: pass --n_classes {len(label_names)} or auto"
        )

    brain = CustomDataBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.mixup_partners = mixup_partners(
        hparams["mixup_partner"] if hparams["mixup_prob"] > 0 else "batch",
        datasets["train"],
        hparams["seed"],
    )
    plan = run_plan(hparams, n_train, [warmup_note])
    if sb.utils.distributed.if_main_process():
        logger.info(plan.describe())
    brain.progress = ProgressClock(plan)
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets["valid"],
        # A one-clip last batch breaks the ECAPA's BatchNorm after pooling.
        train_loader_kwargs=without_single_clip_batch(
            hparams["train_dataloader_options"],
            len(datasets["train"]),
            world_size(),
        ),
        valid_loader_kwargs=hparams["valid_dataloader_options"],
    )
    # Test scores (best-validation, and the weight average after its
    # validation score), results.json, the model folder, then the reports.
    results = evaluate_and_export(
        brain,
        datasets,
        label_names,
        main_metric=brain.main_metric,
        multi_label=hparams["multi_label"],
        history=hparams["history"],
        loader_options=hparams["valid_dataloader_options"],
        weight_averaging=hparams["weight_averaging"],
        wa_epochs=(hparams["wa_start"], hparams["wa_end"]),
        modules={
            name: hparams[name] for name in ("embedding_model", "classifier")
        },
        norm_stats=(hparams["norm_mean"], hparams["norm_std"]),
        normalization=hparams.get("normalization", "dataset"),
        sample_rate=hparams["sample_rate"],
        output_folder=hparams["output_folder"],
        model_folder=hparams["model_folder"],
    )
    # summary.md: data, derived settings, chosen epoch, test vs chance, and the
    # log-mel baseline on the same split (optional steps: never lose the run).
    if sb.utils.distributed.if_main_process():
        baseline = None
        if hparams["summary_baseline"]:
            baseline = optional_step(
                "the log-mel baseline",
                run_baseline,
                hparams["save_folder"],
                hparams["n_frames"],
            )
        lines = optional_step(
            "summary.md",
            write_run_summary,
            hparams["output_folder"],
            hparams["save_folder"],
            results,
            hparams["history"].rows,
            brain.main_metric,
            plan.describe(),
            baseline,
        )
        for line in lines or []:
            print(line, flush=True)
    finish_distributed()  # every rank exits cleanly (training/distributed.py)
