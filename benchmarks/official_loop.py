#!/usr/bin/env python3
"""The official AST training loop beside our Speech Commands recipe, on one CPU thread.

Same model geometry (DeiT-tiny: 192 wide, 12 blocks, 3 heads; 146 tokens),
same clips, batch 12, mixup 0.6, SpecAugment 48/48, the official noise and
time roll, lr 2.5e-4, randomly initialised, ``--steps`` optimizer steps
(200), one torch thread, runs alternated (ours, official, ours, official).
Reported per run: clips/s and the median step over the training steps
(validation excluded), and the mean training loss of the last 50 steps.

The official code is **not** in this repository: ``--official`` names a
checkout of its public repository (github.com/YuanGongND/ast). It runs
unchanged except for what is patched here at run time, for today's stack:

* ``timm.__version__`` is reported as 0.4.5 for its version assert, the
  ``vit_deit_*`` names map to timm 1.x's ``deit_*``, ImageNet weights are not
  downloaded (``imagenet_pretrain=False``, as our ``--init scratch``), and
  the patch embedding accepts non-224 inputs (``strict_img_size=False``);
* ``torchaudio.load`` (which needs FFmpeg here) reads with soundfile;
* ``torch.utils.data.DataLoader`` gets ``num_workers=0`` like our CPU runs;
* the ``wget`` module (its AudioSet download, unused here) is a stub.

Usage (speech_commands_v0.02 layout, e.g. from shared/tools/make_layouts.py)::

    git clone https://github.com/YuanGongND/ast official-ast
    python benchmarks/official_loop.py --official official-ast \\
        --data layouts/speech_commands_v0.02 --out results/official_loop

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import types

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH, LR, MIXUP, MASKS = 12, 2.5e-4, 0.6, 48
MEAN, STD, FRAMES = -6.845978, 5.5654526, 128


class StepClock:
    """Times the training steps and keeps their losses; stops after ``limit``."""

    def __init__(self, limit):
        self.limit, self.starts, self.losses, self.epoch_of = limit, [], [], []
        self.epoch = 0

    def step(self):
        """Mark the start of a step; True when the limit is reached."""
        self.starts.append(time.perf_counter())
        self.epoch_of.append(self.epoch)
        return len(self.starts) > self.limit

    def report(self):
        """Clips/s and median step (intervals inside an epoch), last losses."""
        intervals = [
            later - earlier
            for earlier, later, a, b in zip(
                self.starts, self.starts[1:], self.epoch_of, self.epoch_of[1:]
            )
            if a == b
        ]
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "steps": min(len(self.starts), self.limit),
            "minor_faults": usage.ru_minflt,
            "system_s": usage.ru_stime,
            "clips_per_s": BATCH * len(intervals) / sum(intervals),
            "median_step_ms": 1000 * statistics.median(intervals),
            "loss_last_50": statistics.mean(self.losses[-50:]),
        }


def write_official_lists(data, out):
    """Official JSON datafiles and label CSV from a speech_commands_v0.02 layout."""
    words = sorted(
        name
        for name in os.listdir(data)
        if os.path.isdir(os.path.join(data, name)) and not name.startswith("_")
    )
    held_out = set()
    for name in ("validation_list.txt", "testing_list.txt"):
        with open(os.path.join(data, name), encoding="utf-8") as handle:
            held_out |= {line.strip() for line in handle if line.strip()}
    with open(os.path.join(data, "validation_list.txt"), encoding="utf-8") as handle:
        valid = [line.strip() for line in handle if line.strip()]
    train = [
        f"{word}/{name}"
        for word in words
        for name in sorted(os.listdir(os.path.join(data, word)))
        if f"{word}/{name}" not in held_out
    ]
    labels = os.path.join(out, "labels.csv")
    with open(labels, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "mid", "display_name"])
        for index, word in enumerate(words):
            writer.writerow([index, f"/m/spcmd{index:02d}", word])
    mids = {word: f"/m/spcmd{index:02d}" for index, word in enumerate(words)}
    files = {}
    for split, items in (("train", train), ("valid", valid)):
        files[split] = os.path.join(out, f"{split}.json")
        rows = [
            {"wav": os.path.join(data, item), "labels": mids[item.split("/")[0]]}
            for item in items
        ]
        with open(files[split], "w", encoding="utf-8") as handle:
            json.dump({"data": rows}, handle)
    return files["train"], files["valid"], labels, len(words)


def run_official(official, train_json, valid_json, labels, n_class, steps):
    """Run the official loop in this process (patched for timm 1.x); return its report."""
    import soundfile
    import timm
    import torch
    import torchaudio

    torch.set_num_threads(1)
    torch.manual_seed(0)

    def load(path, *args, **kwargs):
        signal, rate = soundfile.read(path, dtype="float32", always_2d=True)
        return torch.from_numpy(signal.T.copy()), rate

    torchaudio.load = load
    create_model = timm.create_model

    def create(name, pretrained=False, **kwargs):
        model = create_model(name.replace("vit_deit_", "deit_"), pretrained=False, **kwargs)
        model.patch_embed.strict_img_size = False
        return model

    timm.create_model = create
    timm.__version__ = "0.4.5"
    loader_class = torch.utils.data.DataLoader

    class Loader(loader_class):
        def __init__(self, *args, **kwargs):
            kwargs["num_workers"], kwargs["pin_memory"] = 0, False
            super().__init__(*args, **kwargs)

    torch.utils.data.DataLoader = Loader
    # Imported by ast_models for its AudioSet download, which is not used here.
    sys.modules.setdefault("wget", types.ModuleType("wget"))
    sys.path.insert(0, os.path.join(official, "src"))
    import dataloader
    import models
    import traintest

    clock = StepClock(steps)

    class Stop(Exception):
        pass

    class ClockedLoader(Loader):
        def __iter__(self):
            clock.epoch += 1
            for batch in super().__iter__():
                if clock.step():
                    raise Stop
                yield batch

    bce_forward = torch.nn.BCEWithLogitsLoss.forward

    def recorded(self, output, target):
        loss = bce_forward(self, output, target)
        if output.requires_grad:
            clock.losses.append(float(loss.detach()))
        return loss

    torch.nn.BCEWithLogitsLoss.forward = recorded
    conf = {
        "num_mel_bins": 128, "target_length": FRAMES, "freqm": MASKS, "timem": MASKS,
        "mixup": MIXUP, "dataset": "speechcommands", "mode": "train", "mean": MEAN,
        "std": STD, "noise": True,
    }
    valid_conf = dict(conf, freqm=0, timem=0, mixup=0, mode="evaluation", noise=False)
    train_loader = ClockedLoader(
        dataloader.AudiosetDataset(train_json, label_csv=labels, audio_conf=conf),
        batch_size=BATCH, shuffle=True,
    )
    valid_loader = Loader(
        dataloader.AudiosetDataset(valid_json, label_csv=labels, audio_conf=valid_conf),
        batch_size=2 * BATCH, shuffle=False,
    )
    model = models.ASTModel(
        label_dim=n_class, fstride=10, tstride=10, input_fdim=128, input_tdim=FRAMES,
        imagenet_pretrain=False, audioset_pretrain=False, model_size="tiny224",
        verbose=False,
    )
    exp = os.path.join(os.path.dirname(train_json), "official_exp")
    os.makedirs(os.path.join(exp, "models"), exist_ok=True)
    args = argparse.Namespace(
        lr=LR, n_epochs=100, dataset="speechcommands", exp_dir=exp, save_model=False,
        n_print_steps=1000, loss="BCE", metrics="acc", warmup=False, lrscheduler_start=5,
        lrscheduler_step=1, lrscheduler_decay=0.85, wa=False, wa_start=1, wa_end=5,
        n_class=n_class, data_val=valid_json, data_eval=None,
    )
    try:
        traintest.train(model, train_loader, valid_loader, args)
    except Stop:
        pass
    return clock.report()


def run_ours(data, out, steps):
    """Our Speech Commands recipe in this process (same settings); return its report."""
    import runpy

    import speechbrain as sb
    import torch

    torch.set_num_threads(1)
    clock = StepClock(steps)
    fit_batch, fit_train = sb.Brain.fit_batch, sb.Brain._fit_train

    def timed_fit_batch(self, batch):
        clock.step()
        loss = fit_batch(self, batch)
        clock.losses.append(float(loss))
        return loss

    def counted_fit_train(self, *args, **kwargs):
        clock.epoch += 1
        return fit_train(self, *args, **kwargs)

    sb.Brain.fit_batch, sb.Brain._fit_train = timed_fit_batch, counted_fit_train
    recipe = os.path.join(REPO, "recipes", "SpeechCommands")
    sys.path.insert(0, recipe)
    sys.argv = [
        "train.py", os.path.join(recipe, "hparams", "ast.yaml"),
        "--data_folder", data, "--output_folder", out, "--init", "scratch",
        "--embed_dim", "192", "--depth", "12", "--num_heads", "3",
        "--batch_size", str(BATCH), "--lr", str(LR), "--mixup_prob", str(MIXUP),
        "--freqm", str(MASKS), "--timem", str(MASKS), "--num_workers", "0",
        "--device", "cpu", "--optimizer_step_limit", str(steps), "--noprogressbar",
    ]
    runpy.run_path(os.path.join(recipe, "train.py"), run_name="__main__")
    return clock.report()


def main(argv=None):
    """Alternate the two loops ``--rounds`` times; print and save a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--official", required=True, help="checkout of YuanGongND/ast")
    parser.add_argument("--data", required=True, help="speech_commands_v0.02 layout")
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", choices=["official", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="run", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.only:  # one run, in a fresh process
        folder = os.path.join(args.out, args.tag)
        os.makedirs(folder, exist_ok=True)
        if args.only == "official":
            lists = write_official_lists(args.data, folder)
            report = run_official(args.official, *lists, args.steps)
        else:
            report = run_ours(args.data, folder, args.steps)
        with open(os.path.join(folder, "report.json"), "w", encoding="utf-8") as handle:
            json.dump(report, handle)
        return 0
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    reports = []
    for round_index in range(args.rounds):
        for loop in ("ours", "official"):
            tag = f"{loop}{round_index + 1}"
            command = [sys.executable, __file__, "--official", args.official, "--data",
                       args.data, "--out", args.out, "--steps", str(args.steps),
                       "--only", loop, "--tag", tag]
            load = os.getloadavg()[0]
            subprocess.run(command, env=env, check=True, capture_output=True)
            with open(os.path.join(args.out, tag, "report.json"), encoding="utf-8") as handle:
                report = dict(json.load(handle), loop=loop, round=round_index + 1, load=load)
            reports.append(report)
            print(json.dumps(report), flush=True)
    with open(os.path.join(args.out, "reports.json"), "w", encoding="utf-8") as handle:
        json.dump(reports, handle, indent=1)
    for report in reports:
        print(f"{report['loop']:13s} round {report['round']}: {report['clips_per_s']:.2f} "
              f"clips/s, median step {report['median_step_ms']:.0f} ms, loss (last 50) "
              f"{report['loss_last_50']:.4f}, load {report['load']:.2f}")
    ours = statistics.median(r["clips_per_s"] for r in reports if r["loop"] == "ours")
    theirs = statistics.median(r["clips_per_s"] for r in reports if r["loop"] == "official")
    print(f"clips/s ours {ours:.2f}, official {theirs:.2f}, ratio {ours / theirs:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
