#!/usr/bin/env python3
"""Recipe for training the Audio Spectrogram Transformer (AST) on ESC-50.

ESC-50: 2,000 five-second clips of 50 environmental sound classes in five
folds (K. J. Piczak, ACM MM 2015). One run trains on four folds and tests on
the fifth; the best epoch is selected on a validation split carved from the
training folds by source recording. The test fold's accuracy is also
monitored every epoch, only to report the official protocol's number (the
best epoch of the 5-fold mean), never to choose anything.

To run one fold:
> python train.py hparams/ast.yaml --data_folder /path/to/ESC-50-master --test_fold 5

All five folds with a summary table: ``python run_folds.py hparams/ast.yaml
--data_folder ...``.

Authors
 * speechbrain-ast contributors 2026
"""

import os
import sys

import torch
from esc50_prepare import prepare_esc50
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
    gather_tagging_stats,
    init_distributed,
    world_size,
)
from speechbrain_ast.training.final_evaluation import evaluate_and_export
from speechbrain_ast.training.history import StepTimer
from speechbrain_ast.training.metrics import TaggingStats
from speechbrain_ast.training.mixup_partners import mixup_partners
from speechbrain_ast.training.run_options import checked_run_options
from speechbrain_ast.training.sharded_evaluation import ShardedEvaluationBrain
from speechbrain_ast.training.train_loader import without_single_clip_batch

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main


class ESC50Brain(ShardedEvaluationBrain):
    """AST for single-label sound classification, official ESC-50 pipeline.

    waveform -> [mixup] -> Kaldi fbank -> [SpecAugment] -> (x - mean) / (2 std)
    -> [noise + time roll] -> AST -> head -> logits. Accuracy of the softmax
    scores selects the checkpoint.

    Arguments
    ---------
    *args, **kwargs
        As ``speechbrain.Brain``.
    monitor_set : DynamicItemDataset, optional
        Scored after every validation and reported (the test fold for the
        official protocol's number); it never selects anything.
    """

    def __init__(self, *args, monitor_set=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.monitor_set = monitor_set

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
        if stage == sb.Stage.TRAIN:
            feats = self.hparams.feature_noise(feats)
        # No lengths: the window is n_frames for every clip, all of them count
        # (as in the ONNX graph); SpeechBrain's pooled CNNs would read the
        # batch's relative lengths as a share of that window, so a clip's
        # embedding would depend on the clips beside it.
        embeddings = self.modules.embedding_model(feats)
        logits = self.modules.classifier(embeddings).squeeze(1)
        return logits, targets

    def compute_objectives(self, predictions, batch, stage):
        """Cross-entropy on (mixed) targets; collects softmax scores outside training."""
        logits, targets = predictions
        loss = self.hparams.compute_cost(logits.float(), targets)
        if stage != sb.Stage.TRAIN:
            self.scores.append(
                batch.id, torch.softmax(logits.float(), -1), targets
            )
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
        """Account the step time; move the weight average (if any) on."""
        self.step_timer.step_end()
        if should_step and self.weight_ema is not None:
            self.weight_ema.update(self.optimizer_step)

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
        history = self.hparams.history
        stats = {
            "loss": stage_loss,
            "accuracy": self.scores.summarize("accuracy"),
        }
        if stage == sb.Stage.VALID:
            stats["cum_accuracy"] = history.ensemble_metric(
                history.valid_ensemble, self.scores, "accuracy"
            )
            if self.monitor_set is not None:
                stats.update(self.monitor_test_set())
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
                meta={"epoch": epoch, "accuracy": stats["accuracy"]},
                max_keys=["accuracy"],
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

    @torch.no_grad()
    def monitor_test_set(self):
        """Accuracy of this epoch's model, and of the ensemble of every epoch so far, on the monitored set."""
        loader = self.make_dataloader(
            self.monitor_set,
            sb.Stage.TEST,
            **self.hparams.valid_dataloader_options,
        )
        self.modules.eval()
        scores = TaggingStats()
        for step, batch in enumerate(loader, start=1):
            with self.evaluation_ctx:
                logits, targets = self.compute_forward(batch, sb.Stage.TEST)
            scores.append(batch.id, torch.softmax(logits.float(), -1), targets)
            if self.debug and step >= self.debug_batches:
                break
        scores = gather_tagging_stats(scores)  # each DDP rank scored a share
        history = self.hparams.history
        return {
            "monitored_test_accuracy": scores.summarize("accuracy"),
            "monitored_test_cum_accuracy": history.ensemble_metric(
                history.test_ensemble, scores, "accuracy"
            ),
        }


def dataio_prep(hparams):
    """Datasets of the manifests written by ``prepare_esc50``.

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
    run_on_main(
        prepare_esc50,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "test_fold": hparams["test_fold"],
            "valid_ratio": hparams["valid_ratio"],
            "sample_rate": hparams["sample_rate"],
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

    brain = ESC50Brain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
        monitor_set=datasets["test"] if hparams["monitor_test"] else None,
    )
    brain.mixup_partners = mixup_partners(
        hparams["mixup_partner"] if hparams["mixup_prob"] > 0 else "batch",
        datasets["train"],
        hparams["seed"],
    )
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
    # The paper's "cum" number: ensemble of every epoch's model on the
    # monitored test fold (read before evaluation reloads an older history).
    rows, results = hparams["history"].rows, {}
    if rows and "valid_monitored_test_cum_accuracy" in rows[-1]:
        results["checkpoint_ensemble_all_epochs"] = {
            "accuracy": rows[-1]["valid_monitored_test_cum_accuracy"],
            "epochs": len(rows),
        }
    # Test scores (best-validation, and the weight average after its
    # validation score), results.json, the model folder, then the reports.
    evaluate_and_export(
        brain,
        datasets,
        label_names,
        main_metric="accuracy",
        multi_label=False,
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
        results=results,
    )
    finish_distributed()  # every rank exits cleanly (training/distributed.py)
