#!/usr/bin/env python3
"""Recipe for self-supervised pretraining of the AST encoder (SSAST).

Masked patch modelling (Gong, Lai, Chung, Glass, "SSAST: Self-Supervised
Audio Spectrogram Transformer", AAAI 2022) on unlabeled audio: some patch
positions of each clip are replaced by a learned mask embedding, and the
encoder learns to pick out (InfoNCE) and to reconstruct (MSE) the masked
patches (``speechbrain_ast.masked_patch``).

``--data_folder`` is a folder of audio files (any format, rate, channels and
length; searched recursively) or a CSV (``path`` column) / text file listing
them: see ``ssl_prepare.py``. The fbank statistics are derived from the data
and written to ``<save_folder>/data_config.yaml``; YAML values set to
``auto`` come from there unless given on the command line.

To run this recipe:
> python train.py hparams/ssast_frame.yaml --data_folder /path/to/unlabeled_audio
> python train.py hparams/ssast_patch.yaml --data_folder my_clips.csv

The pretrained encoder is written to ``<output_folder>/encoder.ckpt``; a
fine-tuning recipe loads it with ``--init ssl --init_source
<output_folder>/encoder.ckpt`` and the same patch shape, strides and size
(see README.md).

Authors
 * speechbrain-ast contributors 2026
"""

import math
import os
import sys

import soundfile
import torch
import yaml
from hyperpyyaml import load_hyperpyyaml
from speechbrain_ast.audio import AudioError, checked_mono, unreadable
from speechbrain_ast.pretrained.ssl_checkpoint import write_ssl_checkpoint
from speechbrain_ast.training.cpu_memory import keep_freed_memory
from speechbrain_ast.training.distributed import (
    finish_distributed,
    init_distributed,
)
from speechbrain_ast.training.history import StepTimer
from speechbrain_ast.training.reports import plot_run_history
from speechbrain_ast.training.run_options import checked_run_options
from speechbrain_ast.training.settings import (
    plain_settings,
    read_data_config,
    with_derived_values,
)
from ssl_prepare import prepare_ssl_data

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.logger import get_logger

logger = get_logger(__name__)

# YAML keys that may say ``auto``: their values come from data_config.yaml.
DERIVED_KEYS = ("norm_mean", "norm_std")
# Per-batch quantities averaged over an epoch, and their results.csv names.
EPOCH_METRICS = {
    "info_nce": "nce_loss",
    "mse": "mse_loss",
    "accuracy": "nce_accuracy",
}


class SSLBrain(sb.Brain):
    """Masked patch modelling: waveform -> Kaldi fbank -> (x - mean) / (2 std)
    -> mask -> AST encoder -> discriminative and generative heads -> loss.

    Training draws new masks from the global RNG (saved in checkpoints);
    validation uses the same seeded masks every epoch, so its loss is
    comparable from epoch to epoch.
    """

    def compute_forward(self, batch, stage):
        """Features and the masked model; returns its dict of losses."""
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        feats = self.modules.compute_features(wavs, lens)
        feats = self.modules.mean_var_norm(feats, lens)
        generator = None if stage == sb.Stage.TRAIN else self.valid_masks
        return self.modules.masked_model(feats, generator=generator)

    def compute_objectives(self, predictions, batch, stage):
        """The SSAST loss; accumulates its parts for the epoch summary."""
        size = len(batch.id)
        for name in EPOCH_METRICS:
            self.metric_sums[name] += predictions[name].detach().item() * size
        self.metric_count += size
        return predictions["loss"]

    def on_fit_batch_start(self, batch, should_step):
        """Set this step's learning rate (warm-up and decay)."""
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
        """Fresh metric sums and step timer; the fixed validation masks."""
        self.metric_sums = dict.fromkeys(EPOCH_METRICS, 0.0)
        self.metric_count = 0
        self.step_timer = StepTimer()
        if stage == sb.Stage.TRAIN:
            self.current_lr = None
        else:
            self.valid_masks = torch.Generator().manual_seed(self.hparams.seed)

    def epoch_stats(self, stage_loss):
        """The epoch's mean loss, InfoNCE loss and accuracy, and MSE."""
        count = max(self.metric_count, 1)
        stats = {"loss": stage_loss}
        for name, column in EPOCH_METRICS.items():
            stats[column] = self.metric_sums[name] / count
        return stats

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, record the epoch in the run history, checkpoint on validation."""
        stats = self.epoch_stats(stage_loss)
        if stage == sb.Stage.TRAIN:
            self.train_stats = {**stats, **self.step_timer.summary()}
            return
        self.hparams.train_logger.log_stats(
            stats_meta={"epoch": epoch, "lr": self.current_lr},
            train_stats=self.train_stats,
            valid_stats=stats,
        )
        self.hparams.history.add_epoch(
            {"epoch": epoch, "lr": self.current_lr}
            | {f"train_{key}": value for key, value in self.train_stats.items()}
            | {f"valid_{key}": value for key, value in stats.items()}
        )
        self.checkpointer.save_and_keep_only(
            meta={"epoch": epoch, "loss": stats["loss"]},
            num_to_keep=self.hparams.keep_checkpoints,
        )


def crop_seconds(n_frames, sample_rate):
    """Seconds of audio that give exactly ``n_frames`` Kaldi frames (25/10 ms).

    Arguments
    ---------
    n_frames : int
        Frames of the model input.
    sample_rate : int
        Rate of the features.

    Returns
    -------
    float
        Crop length in seconds.

    Example
    -------
    >>> crop_seconds(512, 16000)
    5.135
    """
    window, shift = sample_rate * 25 // 1000, sample_rate * 10 // 1000
    return ((n_frames - 1) * shift + window) / sample_rate


def read_crop(path, start, seconds, sample_rate):
    """Read ``seconds`` of ``path`` from ``start`` (s), mono at ``sample_rate``.

    Only the crop is decoded, so long recordings cost no more than short ones.

    Arguments
    ---------
    path : str
        Audio file.
    start, seconds : float
        Crop start and length in seconds (a shorter clip gives less).
    sample_rate : int
        Rate of the features; other rates are resampled.

    Returns
    -------
    torch.Tensor
        Waveform ``[samples]``.

    Raises
    ------
    AudioError
        The file is unreadable or the crop is empty (the message names it).

    Example
    -------
    >>> import numpy
    >>> path = getfixture("tmpdir").join("a.wav").strpath
    >>> soundfile.write(path, numpy.random.randn(8000, 2) * 0.1, 8000)
    >>> read_crop(path, 0.5, 0.25, 16000).shape  # stereo 8 kHz -> mono 16 kHz
    torch.Size([4000])
    """
    try:
        with soundfile.SoundFile(path) as audio:
            rate = audio.samplerate
            audio.seek(min(int(start * rate), max(audio.frames - 1, 0)))
            data = audio.read(
                math.ceil(seconds * rate), dtype="float32", always_2d=True
            )
    except Exception as error:  # libsndfile raises several types
        raise unreadable(path, error) from None
    signal = checked_mono(
        torch.from_numpy(data.T.copy()), rate, sample_rate, path
    )
    return signal[: round(seconds * sample_rate)]


def dataio_prep(hparams):
    """Datasets of the manifests written by ``prepare_ssl_data``.

    Training clips are random crops of ``n_frames`` frames (the start drawn
    from the global RNG); validation clips start at 0. Shorter clips are
    padded by the batch and the features.

    Arguments
    ---------
    hparams : dict
        Needs ``save_folder``, ``sample_rate`` and ``n_frames``.

    Returns
    -------
    dict
        ``{"train", "valid"}`` -> ``DynamicItemDataset`` with output keys
        ``id, sig``.
    """
    sample_rate = hparams["sample_rate"]
    seconds = crop_seconds(hparams["n_frames"], sample_rate)

    @sb.utils.data_pipeline.takes("wav", "duration")
    @sb.utils.data_pipeline.provides("sig")
    def random_crop(wav, duration):
        latest = max(0.0, float(duration) - seconds)
        start = torch.rand(1).item() * latest
        return read_crop(wav, start, seconds, sample_rate)

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def first_crop(wav):
        return read_crop(wav, 0.0, seconds, sample_rate)

    datasets = {}
    for split, pipeline in (("train", random_crop), ("valid", first_crop)):
        datasets[split] = sb.dataio.dataset.DynamicItemDataset.from_csv(
            csv_path=os.path.join(hparams["save_folder"], f"{split}.csv"),
            dynamic_items=[pipeline],
            output_keys=["id", "sig"],
        )
    return datasets


def trained_on(hparams, data_config):
    """What the pretraining saw, stored in ``encoder.ckpt`` for the record.

    Arguments
    ---------
    hparams : dict
        The loaded recipe hyperparameters.
    data_config : dict
        From ``data_config.yaml``.

    Returns
    -------
    dict
        Plain values: data, geometry, statistics, masking and epochs.
    """
    keys = (
        "sample_rate",
        "n_mels",
        "n_frames",
        "patch_size",
        "fstride",
        "tstride",
        "norm_mean",
        "norm_std",
        "masking",
        "n_masked",
        "gen_weight",
    )
    return {key: hparams[key] for key in keys} | {
        "data": os.path.basename(os.path.normpath(hparams["data_folder"])),
        "clips": data_config.get("counts", {}),
        "hours": round(
            data_config.get("duration_seconds", {}).get("total", 0) / 3600, 3
        ),
        "epochs": hparams["epoch_counter"].current,
    }


if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    overrides = yaml.safe_load(overrides) or {}
    init_distributed(run_opts)  # SpeechBrain's group, destroyed at exit

    settings = plain_settings(hparams_file, overrides)
    if not settings.get("data_folder"):
        sys.exit(
            "pass --data_folder: a folder of audio files, or a CSV/text file listing them"
        )
    sb.create_experiment_directory(
        experiment_directory=settings["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    try:
        run_on_main(
            prepare_ssl_data,
            kwargs={
                "data_folder": settings["data_folder"],
                "save_folder": settings["save_folder"],
                "n_frames": settings["n_frames"],
                "valid_ratio": settings["valid_ratio"],
                "seed": settings["seed"],
                "min_duration": settings["min_duration"],
                "skip_prep": settings["skip_prep"],
            },
        )
    except (ValueError, AudioError) as error:
        sys.exit(f"data preparation failed: {error}")
    data_config = read_data_config(
        os.path.join(settings["save_folder"], "data_config.yaml")
    )
    overrides = with_derived_values(
        settings, overrides, data_config, DERIVED_KEYS
    )
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    try:  # SpeechBrain's run-option traps: negative max_grad_norm, str ints
        run_opts = checked_run_options(
            run_opts, hparams, hparams.get("cuda_precision")
        )
    except ValueError as error:
        sys.exit(f"error: {error}")
    keep_freed_memory(run_opts.device)  # no page faults per CPU step
    # Rewritten with the derived values, so the run can be reproduced.
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    datasets = dataio_prep(hparams)

    brain = SSLBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=hparams["train_dataloader_options"],
        valid_loader_kwargs=hparams["valid_dataloader_options"],
    )

    # The encoder first; the figure is an optional extra.
    encoder_path = os.path.join(hparams["output_folder"], "encoder.ckpt")
    run_on_main(
        write_ssl_checkpoint,
        kwargs={
            "path": encoder_path,
            "encoder": hparams["encoder"],
            "trained_on": trained_on(hparams, data_config),
        },
    )
    plot_run_history(hparams["history"].rows, hparams["output_folder"])
    logger.info(
        "pretrained encoder written to %s; fine-tune with --init ssl --init_source %s",
        encoder_path,
        encoder_path,
    )
    finish_distributed()  # every rank exits cleanly (training/distributed.py)
