#!/usr/bin/env python3
"""Recipe for training the Audio Spectrogram Transformer (AST) on AudioSet.

AudioSet (Gemmeke et al., ICASSP 2017): 10-second YouTube clips tagged with
any of 527 sound classes (multi-label). The best epoch is selected by mAP on
a part of the training set held out for validation; the eval set is the test
set; the weight average (WA) of a range of epochs is evaluated too.

To run this recipe (balanced set; ``hparams/ast_full.yaml`` for the full set):
> python train.py hparams/ast.yaml --data_folder /path/to/audioset

The data folder holds the official segment CSVs, ``class_labels_indices.csv``
and an ``audio/`` folder of downloaded clips named by YouTube id (see
``audioset_prepare.py`` for the accepted names). Missing or unreadable clips
are skipped and listed in ``<save_folder>/skipped.txt``.

With ``--data_format shards`` the training clips are packed once into
WebDataset tar shards (``<save_folder>/shards``, FLAC at 16 kHz) and streamed
(shuffle buffer, split by process and loader worker, nominal epochs of
``epoch_size`` clips, balanced sampling by repeat factors, resumable inside an
epoch); validation and test still read the manifests. See docs/scaling.md.

Authors
 * speechbrain-ast contributors 2026
"""

import csv
import os
import sys

import torch
from audioset_prepare import prepare_audioset
from hyperpyyaml import load_hyperpyyaml
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
)
from speechbrain_ast.training.final_evaluation import evaluate_and_export
from speechbrain_ast.training.history import StepTimer
from speechbrain_ast.training.metrics import TaggingStats
from speechbrain_ast.training.mixup_partners import mixup_partners
from speechbrain_ast.training.run_options import checked_run_options
from speechbrain_ast.training.sharded_evaluation import ShardedEvaluationBrain
from speechbrain_ast.training.shards import (
    ShardDataset,
    ShardLoader,
    write_shards,
)

import speechbrain as sb
from speechbrain.dataio.sampler import ReproducibleWeightedRandomSampler
from speechbrain.utils.distributed import run_on_main


class AudioSetBrain(ShardedEvaluationBrain):
    """AST for multi-label audio tagging, official AudioSet pipeline.

    waveform -> [mixup] -> Kaldi fbank -> [SpecAugment] -> (x - mean) / (2 std)
    -> AST -> head -> logits; BCE loss; the mAP of the sigmoid scores selects
    the checkpoint, with mAUC and d' logged beside it.

    Arguments
    ---------
    *args, **kwargs
        As ``speechbrain.Brain``.
    train_sampler : torch.utils.data.Sampler or ShardLoader, optional
        The balanced sampler (or the shard stream) of the training set, so
        that ``fit`` calls its ``set_epoch`` every epoch.
    """

    def __init__(self, *args, train_sampler=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_sampler = train_sampler

    def compute_forward(self, batch, stage):
        """Features, augmentation (training only) and the model; returns logits and targets."""
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        targets = batch.targets.data
        if stage == sb.Stage.TRAIN:
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
        # No lengths: the window is n_frames for every clip, all of them count
        # (as in the ONNX graph); SpeechBrain's pooled CNNs would read the
        # batch's relative lengths as a share of that window, so a clip's
        # embedding would depend on the clips beside it.
        embeddings = self.modules.embedding_model(feats)
        logits = self.modules.classifier(embeddings).squeeze(1)
        return logits, targets

    def compute_objectives(self, predictions, batch, stage):
        """BCE on (mixed) targets; collects sigmoid scores outside training."""
        logits, targets = predictions
        loss = self.hparams.compute_cost(logits.float(), targets)
        if stage != sb.Stage.TRAIN:
            self.scores.append(batch.id, torch.sigmoid(logits.float()), targets)
        return loss

    def on_fit_batch_start(self, batch, should_step):
        """Set this step's learning rate (official warm-up and decay)."""
        self.step_timer.step_start()
        self.current_lr = self.hparams.lr_schedule(
            self.optimizer,
            self.hparams.epoch_counter.current,
            self.optimizer_step,
        )

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Account the step time (data-wait is the gap to the next step)."""
        self.step_timer.step_end()

    def on_stage_start(self, stage, epoch=None):
        """Fresh score accumulator and step timer."""
        self.scores = TaggingStats()
        self.step_timer = StepTimer()
        if stage == sb.Stage.TRAIN:
            self.current_lr = None

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, record the epoch in the run history, checkpoint on validation."""
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss, **self.step_timer.summary()}
            return
        # Under DDP each rank scored a share of the set: gather the whole set.
        self.scores, stage_loss = self.whole_set_scores(self.scores, stage_loss)
        history = self.hparams.history
        summary = self.scores.summarize()
        stats = {
            "loss": stage_loss,
            **{k: summary[k] for k in ("mAP", "mAUC", "d_prime")},
        }
        if stage == sb.Stage.VALID:
            stats["cum_mAP"] = history.ensemble_metric(
                history.valid_ensemble, self.scores, "mAP"
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
                meta={"epoch": epoch, "mAP": stats["mAP"]},
                max_keys=["mAP"],
                num_to_keep=self.hparams.keep_checkpoints,
            )
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"Epoch loaded": self.hparams.epoch_counter.current},
                **{
                    f"{self.evaluation_set}_stats": stats
                },  # test, or valid (WA)
            )
            self.test_stats, self.test_scores = stats, self.scores


def dataio_prep(hparams):
    """Datasets of the manifests written by ``prepare_audioset``.

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


def balanced_sampler(hparams, train_set):
    """Weighted sampler over the training clips (official label-frequency weights).

    Arguments
    ---------
    hparams : dict
        Needs ``save_folder`` and ``seed``.
    train_set : DynamicItemDataset
        The training set of :func:`dataio_prep`.

    Returns
    -------
    ReproducibleWeightedRandomSampler
        Draws ``len(train_set)`` clips per epoch with replacement.
    """
    path = os.path.join(hparams["save_folder"], "train_weights.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        weights = {
            row["ID"]: float(row["weight"]) for row in csv.DictReader(handle)
        }
    ordered = torch.tensor([weights[item_id] for item_id in train_set.data_ids])
    return ReproducibleWeightedRandomSampler(
        ordered,
        num_samples=len(ordered),
        replacement=True,
        seed=hparams["seed"],
    )


def shard_stream(hparams, label_names):
    """Write the training shards once (main process), then stream them.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters (``shard_*``, ``epoch_size``,
        ``shuffle_buffer``, ``balanced_sampling``, ...).
    label_names : list of str
        Class names in output order.

    Returns
    -------
    ShardDataset
        The resumable training stream.
    """
    save = hparams["save_folder"]
    run_on_main(
        write_shards,
        kwargs={
            "manifest": os.path.join(save, "train.csv"),
            "output_folder": hparams["shard_folder"],
            "classes": os.path.join(save, "classes.txt"),
            "weights": os.path.join(save, "train_weights.csv"),
            "shard_size": hparams["shard_size"],
            "sample_rate": hparams["sample_rate"],
            "seed": hparams["seed"],
            "num_workers": hparams["shard_workers"],
        },
    )
    return ShardDataset(
        hparams["shard_folder"],
        label_names,
        batch_size=hparams["batch_size"],
        sample_rate=hparams["sample_rate"],
        epoch_size=hparams["epoch_size"],
        shuffle_buffer=hparams["shuffle_buffer"],
        weighted=hparams["balanced_sampling"],
        seed=hparams["seed"],
    )


if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    init_distributed(run_opts)  # SpeechBrain's group, destroyed at exit
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
    if hparams["data_format"] not in ("csv", "shards"):
        sys.exit(
            f"data_format must be csv or shards, got {hparams['data_format']!r}"
        )
    run_on_main(
        prepare_audioset,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "train_csv": hparams["train_csv"],
            "eval_csv": hparams["eval_csv"],
            "audio_folder": hparams["audio_folder"],
            "labels_csv": hparams["labels_csv"],
            "valid_ratio": hparams["valid_ratio"],
            "seed": hparams["seed"],
            "skip_prep": hparams["skip_prep"],
        },
    )
    datasets, label_names = dataio_prep(hparams)
    if len(label_names) != hparams["n_classes"]:
        sys.exit(
            f"the data has {len(label_names)} classes, the model is built for "
            f"n_classes={hparams['n_classes']}: pass --n_classes {len(label_names)}"
        )

    train_set, train_options, sampler = (
        datasets["train"],
        dict(hparams["train_dataloader_options"]),
        None,
    )
    if hparams["data_format"] == "shards":
        options = hparams["train_dataloader_options"]
        train_set = sampler = ShardLoader(
            shard_stream(hparams, label_names),
            num_workers=options["num_workers"],
            pin_memory=options.get("pin_memory", False),
            prefetch_factor=options.get("prefetch_factor"),
        )
        hparams["checkpointer"].add_recoverable("shard_loader", sampler)
    elif hparams["balanced_sampling"]:
        sampler = balanced_sampler(hparams, train_set)
        train_options.pop("shuffle", None)
        train_options["sampler"] = sampler

    brain = AudioSetBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
        train_sampler=sampler,
    )
    brain.mixup_partners = mixup_partners(
        hparams["mixup_partner"] if hparams["mixup_prob"] > 0 else "batch",
        datasets["train"],
        hparams["seed"],
    )
    brain.fit(
        brain.hparams.epoch_counter,
        train_set,
        datasets["valid"],
        train_loader_kwargs=train_options,
        valid_loader_kwargs=hparams["valid_dataloader_options"],
    )
    # Test scores (best-validation, and the weight average after its
    # validation score), results.json, the model folder, then the reports.
    evaluate_and_export(
        brain,
        datasets,
        label_names,
        main_metric="mAP",
        multi_label=True,
        history=hparams["history"],
        loader_options=hparams["valid_dataloader_options"],
        weight_averaging=hparams["weight_averaging"],
        wa_epochs=(hparams["wa_start"], hparams["wa_end"]),
        modules={
            name: hparams[name] for name in ("embedding_model", "classifier")
        },
        norm_stats=(hparams["norm_mean"], hparams["norm_std"]),
        sample_rate=hparams["sample_rate"],
        output_folder=hparams["output_folder"],
        model_folder=hparams["model_folder"],
    )
    finish_distributed()  # every rank exits cleanly (training/distributed.py)
